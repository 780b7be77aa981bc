"""Audit logs as pyarrow tables: one row per intent, per order (attempt) or per booked fill.

Decimals stay exact: a column is ``decimal128(38, s)`` with the largest scale its values have,
or text when some value needs more than 38 digits.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Dict, List, Optional

import pyarrow as pa

TERMINAL = {"RECONCILED", "FAILED", "FAILED_FINAL"}
NAMES = ("intents", "orders", "fills")


def _lines(audit: bytes):
    for raw in audit.splitlines():
        if raw.strip():
            try:
                yield json.loads(raw, parse_float=Decimal)
            except ValueError:
                continue  # a torn or damaged line: check_audit reports it


def _dec(v: Any) -> Optional[Decimal]:
    if v is None:
        return None
    return v if isinstance(v, Decimal) else Decimal(v)


def _decimal_column(values: List[Optional[Decimal]]) -> pa.Array:
    present = [v for v in values if v is not None]
    scale = max((max(0, -v.as_tuple().exponent) for v in present), default=0)
    whole = max((len(v.as_tuple().digits) + v.as_tuple().exponent for v in present), default=1)
    if scale + max(whole, 1) <= 38:
        return pa.array(values, type=pa.decimal128(38, scale))
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _table(columns: Dict[str, list], decimals: set) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        arrays[name] = _decimal_column(values) if name in decimals else pa.array(values)
    return pa.table(arrays)


def intents(audit: bytes) -> pa.Table:
    rows: Dict[str, Dict[str, Any]] = {}
    for l in _lines(audit):
        i = l["intent_id"]
        r = rows.get(i)
        if r is None:
            r = rows[i] = {
                "intent_id": i, "symbol": l.get("symbol"), "side": l.get("side"),
                "qty": _dec(l.get("qty")), "ref_price": _dec(l.get("ref_price")),
                "created_ms": l["t_ms"], "final_state": None, "end_ms": None, "orders": 0,
                "duplicates": 0, "filled_qty": Decimal(0), "avg_price": None,
                "fee": Decimal(0), "fee_asset": None,
            }
        event = l.get("event")
        if event == "duplicate_ignored":
            r["duplicates"] += 1
        if event is not None:
            continue
        state = l["state"]
        if state == "SENT":
            r["orders"] += 1
        if state == "RECONCILED":
            r["filled_qty"] = _dec(l.get("filled_qty"))
            r["avg_price"] = _dec(l.get("avg_price"))
            r["fee"] = _dec(l.get("fee"))
            r["fee_asset"] = l.get("fee_asset") or _quote(r["symbol"])
        if state in TERMINAL:
            r["final_state"] = state
            r["end_ms"] = l["t_ms"]
    cols = _columns(list(rows.values()), [
        "intent_id", "symbol", "side", "qty", "ref_price", "created_ms", "final_state",
        "end_ms", "orders", "duplicates", "filled_qty", "avg_price", "fee", "fee_asset"])
    return _table(cols, {"qty", "ref_price", "filled_qty", "avg_price", "fee"})


def orders(audit: bytes) -> pa.Table:
    rows: Dict[str, Dict[str, Any]] = {}
    symbols: Dict[str, tuple] = {}
    for l in _lines(audit):
        if l["state"] == "NEW" and l.get("event") is None:
            symbols[l["intent_id"]] = (l.get("symbol"), l.get("side"))
        coid = l.get("client_order_id")
        if coid is None:
            continue
        if l["state"] == "SENT" and l.get("event") is None:
            sym, side = symbols.get(l["intent_id"], (None, None))
            rows[coid] = {
                "intent_id": l["intent_id"], "client_order_id": coid,
                "attempt": l.get("attempt"), "sent_ms": l["t_ms"], "symbol": sym, "side": side,
                "qty": _dec(l.get("qty")), "limit_price": _dec(l.get("limit_price")),
                "tif": l.get("tif"), "state": "SENT", "order_id": None,
                "filled_qty": Decimal(0), "avg_price": None, "error": None, "last_ms": l["t_ms"],
            }
            continue
        r = rows.get(coid)
        if r is None or l.get("event") is not None:
            continue
        r["state"] = l["state"]
        r["last_ms"] = l["t_ms"]
        if "order_id" in l:
            r["order_id"] = l["order_id"]
            r["filled_qty"] = _dec(l.get("filled_qty"))
            r["avg_price"] = _dec(l.get("avg_price"))
        if "error" in l:
            r["error"] = l["error"]
        elif "cause" in l:
            r["error"] = l["cause"]
    cols = _columns(list(rows.values()), [
        "intent_id", "client_order_id", "attempt", "sent_ms", "symbol", "side", "qty",
        "limit_price", "tif", "state", "order_id", "filled_qty", "avg_price", "error", "last_ms"])
    return _table(cols, {"qty", "limit_price", "filled_qty", "avg_price"})


def fills(audit: bytes) -> pa.Table:
    """One row per intent that executed: its venue trades summed at ``RECONCILED``."""
    out = []
    symbols: Dict[str, tuple] = {}
    for l in _lines(audit):
        if l.get("event") is not None:
            continue
        if l["state"] == "NEW":
            symbols[l["intent_id"]] = (l.get("symbol"), l.get("side"))
        if l["state"] == "RECONCILED" and _dec(l.get("filled_qty")):
            sym, side = symbols.get(l["intent_id"], (None, None))
            out.append({
                "intent_id": l["intent_id"], "t_ms": l["t_ms"], "symbol": sym, "side": side,
                "qty": _dec(l.get("filled_qty")), "price": _dec(l.get("avg_price")),
                "fee": _dec(l.get("fee")), "fee_asset": l.get("fee_asset") or _quote(sym),
                "trades": l.get("fills_count"),
            })
    cols = _columns(out, ["intent_id", "t_ms", "symbol", "side", "qty", "price", "fee",
                          "fee_asset", "trades"])
    return _table(cols, {"qty", "price", "fee"})


def _quote(symbol: Optional[str]) -> Optional[str]:
    # Fees are charged in the quote asset unless the line names another.
    return symbol.split("/", 1)[1] if symbol and "/" in symbol else None


def _columns(rows: List[Dict[str, Any]], names: List[str]) -> Dict[str, list]:
    return {n: [r[n] for r in rows] for n in names}


def table(audit: bytes, name: str) -> pa.Table:
    if name == "intents":
        return intents(audit)
    if name == "orders":
        return orders(audit)
    if name == "fills":
        return fills(audit)
    from ._native import ConfigError

    raise ConfigError(f"table: {name!r} is not one of {', '.join(NAMES)}")

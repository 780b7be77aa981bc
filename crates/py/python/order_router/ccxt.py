"""Route intents through any synchronous ccxt exchange object, exactly once, with a journal.

``route(exchange, intents, journal)`` is ``order-router live`` in Python on top of ``Router``:
every audit line is appended to the journal and fsynced before the commands it describes go
out; a rerun on the same journal recovers from it, asks the venue about every order that may
be out (by client order id) and never sends again what was sent. Answers are classified as
``live`` does: a network failure or timeout is an *unknown outcome* the router resolves by
querying the client order id; an invalid order or missing funds is a refusal; a rate limit
holds every request back.

Safe only where client order ids behave at least as Binance spot's do (an id is unique among
the *open* orders, an order can be fetched and cancelled by it, and its trades fetched by the
venue's order id): see docs/python.md. Other exchanges are refused unless
``allow_exchange=True``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from decimal import Decimal
from typing import Any, Callable, Dict, Iterable, Optional

import ccxt  # the optional dependency: pip install 'order-router-py[ccxt]'

from ._native import ConfigError, InputError, Router

#: Exchanges whose client-order-id semantics the router's exactly-once rule is known to hold
#: on, by ccxt id. Binance spot's (unique among open orders only) is the weakest the router
#: assumes; Binance.US serves the same API.
SAFE_EXCHANGES = {"binance": "Binance spot", "binanceus": "Binance.US spot"}

TERMINAL = {"RECONCILED", "FAILED", "FAILED_FINAL"}
_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')


def _num(v: Any) -> Any:
    """A ccxt number (float, int, str or None) as the router reads it: exact text."""
    if v is None:
        return None
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _quote(symbol: str) -> str:
    return symbol.split("/", 1)[1].split(":", 1)[0]


def _order(o: Dict[str, Any], cmd: Dict[str, Any]) -> Dict[str, Any]:
    fee = o.get("fee") or {}
    amount = o.get("amount")
    filled = o.get("filled") or 0
    remaining = o.get("remaining")
    if remaining is None and amount is not None:
        remaining = Decimal(_num(amount)) - Decimal(_num(filled))
    average = o.get("average") if filled else None
    return {"order": {
        "order_id": str(o["id"]),
        "client_order_id": o.get("clientOrderId") or cmd["client_order_id"],
        "symbol": o.get("symbol") or cmd["symbol"],
        "side": o.get("side") or cmd.get("side"),
        "price": _num(o.get("price") if o.get("price") is not None else cmd.get("price", 0)),
        "amount": _num(amount),
        "filled": _num(filled),
        "remaining": _num(remaining),
        "average": _num(average),
        "status": o.get("status"),
        "fee": _num(fee.get("cost") or 0),
        "fee_asset": fee.get("currency") or _quote(cmd["symbol"]),
    }}


def _trades(ts: Iterable[Dict[str, Any]], cmd: Dict[str, Any]) -> Dict[str, Any]:
    out = []
    for t in ts:
        fee = t.get("fee") or {}
        out.append({
            "trade_id": str(t["id"]),
            "order_id": str(t["order"]),
            "symbol": t.get("symbol") or cmd["symbol"],
            "side": t["side"],
            "price": _num(t["price"]),
            "qty": _num(t["amount"]),
            "fee": _num(fee.get("cost") or 0),
            "fee_asset": fee.get("currency") or _quote(cmd["symbol"]),
            "t_ms": int(t["timestamp"]),
        })
    return {"trades": out}


def classify(exchange: Any, e: Exception) -> Dict[str, Any]:
    """A ccxt exception as the router's answer: what it tells about execution."""
    if isinstance(e, ccxt.OrderNotFound):
        return {"error": "not_found"}
    if isinstance(e, ccxt.DuplicateOrderId):
        return {"error": "duplicate"}
    if isinstance(e, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        headers = getattr(exchange, "last_response_headers", None) or {}
        after = headers.get("Retry-After") or headers.get("retry-after")
        try:
            ms = int(float(after) * 1000) if after is not None else None
        except ValueError:
            ms = None
        return {"error": "rate_limited", "retry_after_ms": ms}
    if isinstance(e, ccxt.InvalidNonce):
        return {"error": "recv_window"}
    if isinstance(e, ccxt.RequestTimeout):
        return {"error": "timeout"}
    if isinstance(e, (ccxt.NetworkError, ccxt.ExchangeNotAvailable)):
        return {"error": "server_error", "message": str(e)[:200]}
    if isinstance(e, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)):
        raise e  # a key problem: stop; a rerun on the journal resumes once it is fixed
    if isinstance(e, (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadSymbol, ccxt.BadRequest)):
        m = _CODE.search(str(e))
        return {"error": "rejected", "code": int(m.group(1)) if m else -1, "message": str(e)[:200]}
    if isinstance(e, ccxt.ExchangeError):
        # Not known to be a refusal: the order may be out; the router asks.
        return {"error": "server_error", "message": str(e)[:200]}
    raise e


def execute(exchange: Any, cmd: Dict[str, Any]) -> Dict[str, Any]:
    """Runs one router command on a ccxt exchange and returns the router's answer."""
    kind, symbol = cmd["kind"], cmd["symbol"]
    try:
        if kind == "place":
            o = exchange.create_order(
                symbol, "limit", cmd["side"], float(cmd["qty"]), float(cmd["price"]),
                {"clientOrderId": cmd["client_order_id"], "timeInForce": cmd["tif"]},
            )
            return _order(o, cmd)
        if kind == "fetch_order":
            o = exchange.fetch_order(None, symbol, {"clientOrderId": cmd["client_order_id"]})
            return _order(o, cmd)
        if kind == "cancel":
            o = exchange.cancel_order(None, symbol, {"clientOrderId": cmd["client_order_id"]})
            return _order(o, cmd)
        if kind == "fetch_trades":
            ts = exchange.fetch_my_trades(symbol, None, None, {"orderId": cmd["order_id"]})
            return _trades([t for t in ts if str(t.get("order")) == cmd["order_id"]], cmd)
    except ccxt.BaseError as e:
        return classify(exchange, e)
    raise InputError(f"unknown command kind {kind!r}")


def _fsync_write(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _free_balances(exchange: Any, intents: list) -> Dict[str, str]:
    assets = set()
    for i in intents:
        base, quote = i["symbol"].split("/", 1)
        assets.update((base, quote))
    free = exchange.fetch_balance().get("free", {})
    return {a: _num(free.get(a) or 0) for a in sorted(assets)}


def route(
    exchange: Any,
    intents: Iterable[Dict[str, Any]],
    journal: str,
    *,
    config: Optional[Dict[str, Any]] = None,
    balances: Optional[Dict[str, Any]] = None,
    allow_exchange: bool = False,
    deadline_s: float = 300.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_command: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> Dict[str, Any]:
    """Routes ``intents`` (dicts as ``order-router live`` reads them) through ``exchange``.

    The journal (``journal``, plus ``journal + ".funding"`` holding the starting balances and
    settings) makes it exactly-once across crashes: run it again with the same journal and it
    resumes. ``balances`` caps what the router may spend (default: the account's free
    balances of the intents' assets, read once, on the journal's first run). Returns a summary
    dict: intents, states, resumed, orders_sent, requests, journal, unfinished.
    """
    if getattr(exchange, "id", None) not in SAFE_EXCHANGES and not allow_exchange:
        raise ConfigError(
            f"ccxt.route: exchange {getattr(exchange, 'id', exchange)!r} is not known to keep "
            f"client order ids as Binance spot does ({', '.join(sorted(SAFE_EXCHANGES))}); "
            "pass allow_exchange=True only if it does (docs/python.md)"
        )
    intents = list(intents)
    seen: Dict[str, Dict[str, Any]] = {}
    for i in intents:
        prev = seen.setdefault(i.get("intent_id"), i)
        if prev is not i and prev != i:
            raise InputError(f"intent_id {i.get('intent_id')} is used for two different intents")
    # One process per journal, as `live` keeps it: two would place every order twice. The
    # kernel drops the lock when the holder dies, however it dies.
    lock = open(journal + ".lock", "a+")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ConfigError(f"{journal}: in use by another process (its lock {journal}.lock is held)") from None
    try:
        return _route(exchange, intents, journal, config, balances, deadline_s, clock, sleep, on_command)
    finally:
        lock.close()


def _route(exchange, intents, journal, config, balances, deadline_s, clock, sleep, on_command):
    last = [0]

    def now() -> int:
        last[0] = max(last[0], int(clock() * 1000))
        return last[0]

    funding_path = journal + ".funding"
    resumed = 0
    if os.path.exists(funding_path):
        with open(funding_path) as f:
            funding = json.load(f)
        if balances is not None and {k: str(v) for k, v in balances.items()} != funding["balances"]:
            raise ConfigError(f"{funding_path}: the journal was funded with {funding['balances']}; start a new journal to change the funding")
        data = b""
        if os.path.exists(journal):
            with open(journal, "rb") as f:
                data = f.read()
        router = Router.recover(data, funding["config"], funding["balances"], now())
        valid = router.recovery["valid_len"]
        if valid < len(data):
            with open(journal, "r+b") as f:
                f.truncate(valid)
                os.fsync(f.fileno())
        resumed = len(router.recovery["resumed"])
    else:
        if balances is None:
            balances = _free_balances(exchange, intents)
        funding = {"config": config or {}, "balances": {k: str(v) for k, v in balances.items()}}
        router = Router(funding["config"], funding["balances"])
        _fsync_write(funding_path, json.dumps(funding, sort_keys=True).encode())
    orders_sent = requests = 0
    with open(journal, "ab") as log:

        def write_ahead() -> None:
            data = router.drain_audit()
            if data:
                log.write(data)
                log.flush()
                os.fsync(log.fileno())
                router.journal_durable(router.undurable())
            while router.poll_event() is not None:
                pass

        for i in intents:
            router.deliver(now(), i)
        end = clock() + deadline_s
        while True:
            write_ahead()
            cmd = router.poll_command()
            if cmd is not None:
                if on_command is not None:
                    on_command(cmd)
                requests += 1
                orders_sent += cmd["kind"] == "place"
                router.reply(now(), cmd["request_id"], execute(exchange, cmd))
                continue
            if all(router.state_of(i["intent_id"]) in TERMINAL for i in intents):
                break
            due = router.poll_timeout()
            if due is None or clock() > end:
                break
            wait = (due - now()) / 1000.0
            if wait > 0:
                sleep(min(wait, max(0.0, end - clock())))
            router.handle_timeout(now())
        write_ahead()
    states: Dict[str, int] = {}
    unfinished = []
    for i in intents:
        s = router.state_of(i["intent_id"]) or "NEW"
        states[s] = states.get(s, 0) + 1
        if s not in TERMINAL:
            unfinished.append(i["intent_id"])
    return {
        "intents": len(intents),
        "states": states,
        "resumed": resumed,
        "orders_sent": orders_sent,
        "requests": requests,
        "journal": journal,
        "unfinished": unfinished,
    }

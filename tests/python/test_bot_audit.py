"""`order_router.bot_audit`: the venue's record in, what the bot lost track of out, the same
findings as `order-router bot-audit RECORD --json`."""

import json
import os
import subprocess

import pytest

import order_router

BIN = os.environ.get("ORDER_ROUTER_BIN", "target/debug/order-router")


def line(seq, t_ms, method, path, params, **over):
    base = {
        "seq": seq, "t_ms": t_ms, "client": "127.0.0.1", "api_key": "k", "method": method,
        "path": path, "params": dict(params, timestamp="1"), "status": 200, "code": None,
        "faults": [], "delivery": "now", "order": None, "trades": [],
    }
    base.update(over)
    return json.dumps(base)


def lost_buy(seq, t_ms, coid):
    """A buy that executed while its answer was lost on the way back."""
    return line(
        seq, t_ms, "POST", "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC",
         "quantity": "0.001", "price": "50100", "newClientOrderId": coid},
        faults=["response_lost"], delivery="dropped",
        order={"orderId": seq, "clientOrderId": coid, "symbol": "BTCUSDT", "side": "BUY",
               "status": "FILLED", "origQty": "0.001", "executedQty": "0.001"},
        trades=[{"id": seq, "orderId": seq, "symbol": "BTCUSDT", "side": "BUY", "price": "50000",
                 "qty": "0.001", "commission": "0", "time": t_ms}],
    )


def test_a_lost_answer_then_a_fresh_id_is_an_orphan_and_a_double(tmp_path):
    record = "\n".join([lost_buy(1, 1000, "a1"), lost_buy(2, 6000, "a2")]) + "\n"
    path = tmp_path / "venue.jsonl"
    path.write_text(record)
    page = tmp_path / "audit.html"
    audit = order_router.bot_audit(path, html=page)
    kinds = sorted(f["kind"] for f in audit["clients"][0]["findings"])
    assert "orphan" in kinds and "double_order" in kinds
    assert audit["clean"] is False
    assert page.read_text().startswith("<!")
    # The same audit from bytes, and the CLI's JSON, finding for finding.
    assert order_router.bot_audit(record.encode()) == audit
    cli = subprocess.run([BIN, "bot-audit", str(path), "--json"], capture_output=True, text=True)
    assert cli.returncode == 1, cli.stderr
    assert json.loads(cli.stdout)["clients"] == audit["clients"]


def test_a_client_that_asked_is_clean():
    ask = line(2, 2000, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "a1"})
    audit = order_router.bot_audit((lost_buy(1, 1000, "a1") + "\n" + ask + "\n").encode())
    assert audit["clean"] is True
    assert audit["clients"][0]["findings"] == []


def test_an_unreadable_record_raises_the_clis_error():
    with pytest.raises(order_router.AuditError):
        order_router.bot_audit(b"not json\n")
    with pytest.raises(TypeError):
        order_router.bot_audit(42)

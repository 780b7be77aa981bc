"""The Router for a Python driver: the documented drive loop, exact decimals, refusals."""

import re
from decimal import Decimal

import pytest

import order_router
from conftest import ROOT

NOW = 1_700_000_000_000


def intent(i="i-1", qty="0.002", **kw):
    d = {"intent_id": i, "ts_ms": NOW, "symbol": "BTC/USDT", "side": "buy", "qty": qty, "ref_price": 50000}
    d.update(kw)
    return d


def drive_loop_source():
    text = (ROOT / "docs" / "python.md").read_text()
    m = re.search(r"<!-- drive-loop -->\n```python\n(.*?)```", text, re.S)
    assert m, "docs/python.md has no drive-loop block"
    return m.group(1)


# rule: write_ahead
def test_the_documented_drive_loop_runs_to_reconciled(capsys):
    env = {}
    exec(compile(drive_loop_source(), "docs/python.md", "exec"), env)
    router = env["router"]
    assert router.state_of("demo-1") == "RECONCILED"
    journal = open(env["journal_path"], "rb").read()
    assert order_router.check_audit(journal) == []
    states = [l["state"] for l in map(__import__("json").loads, journal.splitlines())]
    assert states == ["NEW", "RESERVED", "SENT", "FILLED", "RECONCILED"]
    # Bought 0.002 BTC at the cap (50000 + 20 bps = 50100), paid 0.1% fee: all exact.
    b = router.balances()
    assert b["BTC"]["total"] == Decimal("0.002")
    assert b["USDT"]["total"] == Decimal(1000) - Decimal("100.2") - Decimal("0.1002")
    assert b["USDT"]["reserved"] == 0
    out = capsys.readouterr().out
    assert "fill_booked demo-1" in out and "finished demo-1" in out


# rule: write_ahead
def test_commands_wait_for_the_journal():
    r = order_router.Router(balances={"USDT": 1000})
    r.deliver(NOW, intent())
    assert r.poll_command() is None  # RESERVED and SENT are not durable yet
    lines = []
    while (l := r.poll_audit()) is not None:
        lines.append(l)
    assert [l["state"] for l in lines] == ["NEW", "RESERVED", "SENT"]
    assert [l["seq"] for l in lines] == [0, 1, 2]
    assert r.poll_command() is None
    with pytest.raises(order_router.RouterContractError):
        r.journal_durable(3)  # never handed out
    r.journal_durable(1)
    assert r.poll_command() is None  # the SENT line is still not durable
    r.journal_durable(r.undurable())
    cmd = r.poll_command()
    assert cmd["kind"] == "place" and cmd["client_order_id"] == lines[2]["client_order_id"]
    assert cmd["qty"] == Decimal("0.002") and cmd["price"] == Decimal("50100") and cmd["tif"] == "IOC"


def durable(r):
    r.drain_audit()
    if r.undurable() is not None:
        r.journal_durable(r.undurable())


def next_command(r):
    """The next command, firing the router's timers as they fall due."""
    for _ in range(10):
        durable(r)
        cmd = r.poll_command()
        if cmd is not None:
            return cmd
        due = r.poll_timeout()
        assert due is not None, "the router waits for nothing"
        r.handle_timeout(due)
    raise AssertionError("no command")


def test_decimals_are_exact_from_floats_ints_and_decimals():
    r = order_router.Router(balances={"USDT": 100000}, events=False)
    r.deliver(NOW, intent("f", qty=0.3, ref_price=100.1))
    r.deliver(NOW, intent("d", qty=Decimal("0.30000"), ref_price=Decimal("100.10")))
    r.deliver(NOW, intent("n", qty=1, ref_price=100))
    lines = [r.poll_audit() for _ in range(9)]
    new = {l["intent_id"]: l for l in lines if l["state"] == "NEW"}
    assert new["f"]["qty"] == Decimal("0.3") and str(new["f"]["ref_price"]) == "100.1"
    assert new["d"]["qty"] == Decimal("0.3")
    assert new["n"]["qty"] == 1


@pytest.mark.parametrize("bad", [
    {"qty": float("nan")}, {"qty": -1}, {"qty": 0}, {"qty": True}, {"qty": "abc"},
    {"qty": [1]}, {"ref_price": float("inf")}, {"side": "long"}, {"symbol": "BTCUSDT"},
    {"extra": 1}, {"ts_ms": -5}, {"ts_ms": 1.5},
])
def test_bad_intents_raise_and_change_nothing(bad):
    r = order_router.Router(balances={"USDT": 1000})
    with pytest.raises(order_router.InputError):
        r.deliver(NOW, intent(**bad))
    assert r.poll_audit() is None and r.in_flight == 0
    with pytest.raises(order_router.InputError):
        r.deliver(NOW, "not a dict")


def test_bad_config_and_balances_raise():
    with pytest.raises(order_router.ConfigError, match="max_retries"):
        order_router.Router(config={"max_retries": 1000})
    with pytest.raises(order_router.ConfigError, match="unknown key"):
        order_router.Router(config={"retries": 1})
    with pytest.raises(order_router.ConfigError):
        order_router.Router(balances={"USDT": -1})
    with pytest.raises(order_router.ConfigError):
        order_router.Router(config={"tif": "FOK"})
    r = order_router.Router(config={"markets": {"ETH/USDT": {"tick_size": "0.1", "step_size": "0.001"}}, "tif": "GTC"})
    assert r.in_flight == 0


def test_answers_map_to_the_router_outcomes():
    r = order_router.Router(config={"backoff_ms": 100}, balances={"USDT": 1000}, events=False)
    r.deliver(NOW, intent())
    durable(r)
    place = r.poll_command()
    # A timeout: the outcome is unknown; the router asks by client order id, never re-places.
    r.reply(NOW + 10, place["request_id"], {"error": "timeout"})
    assert r.state_of("i-1") == "UNKNOWN"
    ask = next_command(r)
    assert ask["kind"] == "fetch_order" and ask["client_order_id"] == place["client_order_id"]
    now = r.poll_timeout() or NOW + 20
    with pytest.raises(order_router.RouterContractError):
        r.reply(now, place["request_id"], {"error": "timeout"})  # answered already
    with pytest.raises(order_router.InputError):
        r.reply(now, ask["request_id"], {"trades": []})  # a fetch_order gets an order
    with pytest.raises(order_router.InputError):
        r.reply(now, ask["request_id"], {"error": "gone"})
    with pytest.raises(order_router.InputError):
        r.reply(now, ask["request_id"], {"error": "rejected", "code": -2010})
    order = {"order_id": 7, "client_order_id": place["client_order_id"], "symbol": "BTC/USDT",
             "side": "buy", "price": "50100", "amount": "0.002", "filled": "0.002", "remaining": 0,
             "average": "50000", "status": "closed", "fee": "0.1", "fee_asset": "USDT"}
    r.reply(now, ask["request_id"], {"order": order})
    trades = next_command(r)
    assert trades["kind"] == "fetch_trades" and trades["order_id"] == "7"
    assert trades["client_order_id"] == place["client_order_id"]
    r.reply(now + 10, trades["request_id"], {"trades": [{
        "trade_id": 1, "order_id": "7", "symbol": "BTC/USDT", "side": "buy", "price": "50000",
        "qty": "0.002", "fee": "0.1", "fee_asset": "USDT", "t_ms": NOW + 15}]})
    assert r.state_of("i-1") == "RECONCILED"
    with pytest.raises(order_router.RouterContractError):
        r.handle_timeout(now)  # time went backwards


def test_refusal_then_retry_and_rate_limit_hold():
    r = order_router.Router(config={"backoff_ms": 100, "max_retries": 1}, balances={"USDT": 1000}, events=False)
    r.deliver(NOW, intent())
    durable(r)
    first = r.poll_command()
    r.reply(NOW, first["request_id"], {"error": "rejected", "code": -1013, "message": "Filter failure"})
    durable(r)
    assert r.poll_command() is None and r.state_of("i-1") == "RETRY"
    assert r.poll_timeout() == NOW + 100
    r.handle_timeout(NOW + 100)
    durable(r)
    second = r.poll_command()
    assert second["kind"] == "place" and second["client_order_id"] != first["client_order_id"]
    r.reply(NOW + 100, second["request_id"], {"error": "rate_limited", "retry_after_ms": 5000})
    durable(r)
    assert r.state_of("i-1") in ("FAILED_FINAL", "RETRY", "ERROR")


def test_events_are_typed():
    env = {}
    src = drive_loop_source().replace('print(event["kind"], event["intent_id"])',
                                      'events.append((event["kind"], event["intent_id"]))')
    exec(compile(src, "docs", "exec"),
         {"events": (events := []), **env})
    kinds = [e[0] for e in events]
    assert kinds.count("finished") == 1 and kinds.count("fill_booked") == 1


# rule: recovery
def test_recover_after_a_crash_asks_instead_of_placing_again():
    r = order_router.Router(balances={"USDT": 1000})
    r.deliver(NOW, intent())
    journal = r.drain_audit()
    r.journal_durable(r.undurable())
    place = r.poll_command()
    assert place["kind"] == "place"
    # The process dies with the placement out; a torn half line at the journal's end.
    torn = journal + b'{"seq":3,"t_ms":1'
    back = order_router.Router.recover(torn, None, {"USDT": 1000}, NOW + 5000)
    assert back.recovery["valid_len"] == len(journal)
    assert [x["intent_id"] for x in back.recovery["resumed"]] == ["i-1"]
    cmd = next_command(back)
    assert cmd["kind"] == "fetch_order" and cmd["client_order_id"] == place["client_order_id"]
    # A repeat delivery of the intent is recognised, not placed again.
    back.deliver(back.poll_timeout() or NOW + 6000, intent())
    lines = back.drain_audit()
    assert b'"event":"duplicate_ignored"' in lines
    with pytest.raises(order_router.AuditError):
        order_router.Router.recover(journal.replace(b'"SENT"', b'"SENX"'), None, {"USDT": 1000})

"""A Python strategy stepping the simulator over the recorded Binance tape."""

from decimal import Decimal

import pytest

import order_router

TAPE = "binance_spot_btcusdt_trades_20210108.csv"


def test_strategy_sees_its_own_fills_and_never_the_future(market, tmp_path):
    seen = []

    def strategy(event, ctx):
        seen.append((event["t_ms"], len(ctx.fills), ctx.open_intents))
        assert event["kind"] == "trade" and event["symbol"] == "BTC/USDT"
        assert ctx.t_ms == event["t_ms"]
        # Fills reach the strategy only after they happened.
        assert all(f["t_ms"] <= event["t_ms"] for f in ctx.fills)
        if ctx.open_intents:
            return None
        if len(ctx.fills) < 3 and len(ctx.fills) % 2 == 0:
            return {"side": "buy", "qty": "0.001"}
        if len(ctx.fills) < 3:
            return [{"side": "sell", "qty": Decimal("0.001"), "intent_id": f"exit-{len(ctx.fills)}"}]
        return None

    r = order_router.backtest(str(market / TAPE), strategy, seed=3)
    s = r.summary
    assert s["records"] == 2001 and len(seen) == 2001
    assert [t for t, _, _ in seen] == sorted(t for t, _, _ in seen)
    assert s["violations"] == [] and s["checks"] > 0
    fills = r.table("fills")
    assert fills.num_rows == 3 == s["intents"]
    assert fills.column("side").to_pylist() == ["buy", "sell", "buy"]
    assert "exit-1" in fills.column("intent_id").to_pylist()
    # The strategy waited for each fill before the next intent: it saw them as they happened.
    assert max(n for _, n, _ in seen) == 3
    assert order_router.check_audit(r.audit_jsonl) == []
    # Seeded: the same run again is the same log.
    again = order_router.backtest(str(market / TAPE), strategy, seed=3)
    assert again.audit_jsonl == r.audit_jsonl
    page = tmp_path / "bt.html"
    r.report(page)
    assert "<svg" in page.read_text()


def test_strategy_errors_and_bad_intents_raise(market, tmp_path):
    with pytest.raises(ZeroDivisionError):
        order_router.backtest(market / TAPE, lambda e, c: 1 / 0)
    with pytest.raises(order_router.InputError, match="qty"):
        order_router.backtest(market / TAPE, lambda e, c: {"side": "buy", "qty": float("nan")})
    with pytest.raises(order_router.InputError):
        order_router.backtest(market / TAPE, lambda e, c: {"side": "buy", "qty": "-1"})
    with pytest.raises(order_router.InputError):
        order_router.backtest(market / TAPE, lambda e, c: 42)
    with pytest.raises(TypeError):
        order_router.backtest(market / TAPE, "not callable")
    bad = tmp_path / "bad.csv"
    bad.write_text("time_ms,price,qty\n1000,100,1\n2000,abc,1\n")
    with pytest.raises(order_router.ScenarioError, match="bad.csv:3"):
        order_router.backtest(bad, lambda e, c: None)


def test_quotes_tape_events(market):
    kinds = set()

    def strategy(event, ctx):
        kinds.add(event["kind"])
        assert event["spread_bps"] is not None

    r = order_router.backtest(market / "binance_spot_btcusdt_quotes_20210108.csv", strategy)
    assert kinds == {"quote"} and r.summary["records"] == 451

"""The cost of the Python boundary (docs/python.md): run_scenario calls and Router intent round
trips per second, to compare with crates/py/examples/boundary_baseline.rs (the same work in
Rust). Not a test. Run: target/py-venv/bin/python tests/python/bench_boundary.py
"""

import pathlib

import time
import timeit

import order_router

SCENARIO = pathlib.Path(__file__).resolve().parents[2] / "scenarios" / "basic_buy.csv"

n = 5000
t = time.perf_counter()
for _ in range(n):
    order_router.run_scenario(str(SCENARIO), seed=1)
print(f"run_scenario basic_buy: {(time.perf_counter() - t) * 1e6 / n:.1f} us/run")

r = order_router.Router(balances={"USDT": 10**12}, events=False)
n = 50000
now = 1_700_000_000_000
t = time.perf_counter()
for k in range(n):
    now += 1
    r.deliver(now, {"intent_id": f"i-{k}", "ts_ms": now, "symbol": "BTC/USDT", "side": "buy", "qty": "0.002", "ref_price": 50000})
    while True:
        if r.drain_audit():
            r.journal_durable(r.undurable())
        cmd = r.poll_command()
        if cmd is None:
            due = r.poll_timeout()
            if due is None:
                break
            now = max(now, due)
            r.handle_timeout(now)
            continue
        if cmd["kind"] == "place":
            out = {"order": {"order_id": str(k + 1), "client_order_id": cmd["client_order_id"], "symbol": "BTC/USDT", "side": "buy", "price": cmd["price"], "amount": cmd["qty"], "filled": cmd["qty"], "remaining": 0, "average": cmd["price"], "status": "closed", "fee": 0, "fee_asset": "USDT"}}
        else:
            out = {"trades": [{"trade_id": str(k + 1), "order_id": cmd["order_id"], "symbol": "BTC/USDT", "side": "buy", "price": 50100, "qty": "0.002", "fee": 0, "fee_asset": "USDT", "t_ms": now}]}
        r.reply(now, cmd["request_id"], out)
print(f"router intent round trip (deliver, place, fetch_trades, journal lines as JSONL): {(time.perf_counter() - t) * 1e6 / n:.2f} us/intent")
assert r.state_of(f"i-{n-1}") == "RECONCILED" and r.in_flight == 0
for stmt in ["r.poll_command()", "r.state_of('i-0')", "r.poll_timeout()"]:
    n = 200000
    t = timeit.timeit(stmt, globals={"r": r}, number=n)
    print(f"{stmt}: {t / n * 1e9:.0f} ns/call")

"""run_scenario, fuzz and check_audit against the command line they stand for."""

import decimal
import re

import pyarrow as pa
import pytest

import order_router
from conftest import ROOT

SCENARIOS = ["basic_buy.csv", "partial_fills.csv", "ambiguous_timeouts.csv", "crash_torn.csv"]


def test_version_is_the_crate_version():
    cargo = (ROOT / "Cargo.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', cargo, re.M).group(1)
    assert order_router.__version__ == version


@pytest.mark.parametrize("name", SCENARIOS)
def test_run_scenario_audit_is_byte_identical_to_the_cli(cli, name):
    path = ROOT / "scenarios" / name
    expected = cli("run", path, "--seed", "1", "--audit", "-").stdout
    r = order_router.run_scenario(str(path), seed=1)
    assert len(expected) > 0
    assert r.audit_jsonl == expected
    # Another seed is another run (the seed is really passed on).
    if name == "ambiguous_timeouts.csv":
        other = order_router.run_scenario(path, seed=2)
        assert other.audit_jsonl == cli("run", path, "--seed", "2", "--audit", "-").stdout


def test_summary_counts_are_the_cli_json_summary(cli):
    import json

    path = ROOT / "scenarios" / "partial_fills.csv"
    j = json.loads(cli("run", path, "--seed", "3", "--json").stdout)
    s = order_router.run_scenario(path, seed=3).summary
    for k in ("intents", "orders", "fills", "retries", "deliveries", "steps", "audit_lines"):
        assert s[k] == j[k], k
    assert s["checks"] == j["invariant_checks"]
    assert s["expects_total"] == j["expects"]
    assert s["expects_held"] == j["expects"] - len(j["failed_expects"])
    assert s["violations"] == [] and s["passed"] is True
    assert s["final_states"] == j["final_states"]


def test_text_scenario_and_tables():
    text = (ROOT / "scenarios" / "round_trip.csv").read_text()
    r = order_router.run_scenario(text=text, seed=5)
    assert r.audit_jsonl == order_router.run_scenario(ROOT / "scenarios" / "round_trip.csv", seed=5).audit_jsonl
    intents = r.table("intents")
    assert isinstance(intents, pa.Table)
    assert intents.num_rows == r.summary["intents"]
    assert set(intents.column("final_state").to_pylist()) <= {"RECONCILED", "FAILED", "FAILED_FINAL"}
    orders = r.table("orders")
    assert orders.num_rows == r.summary["orders"]
    fills = r.table("fills")
    for col in ("intent_id", "price", "qty", "fee", "fee_asset"):
        assert col in fills.column_names
    # Exact decimals: the fills' quantities are the RECONCILED lines' digits.
    assert pa.types.is_decimal(fills.schema.field("qty").type)
    reconciled = [l for l in r.audit_jsonl.splitlines() if b'"state":"RECONCILED"' in l and b'"filled_qty":0,' not in l]
    assert fills.num_rows == len(reconciled) > 0
    assert all(isinstance(q, decimal.Decimal) for q in fills.column("qty").to_pylist())
    assert set(fills.column("fee_asset").to_pylist()) == {"USDT"}
    with pytest.raises(order_router.ConfigError):
        r.table("nope")


def test_report_writes_the_html_page(tmp_path):
    r = order_router.run_scenario(ROOT / "scenarios" / "basic_buy.csv", seed=1)
    out = tmp_path / "run.html"
    r.report(out)
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "basic_buy.csv" in html and "<svg" in html


def test_bad_scenarios_raise_with_the_cli_message(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("t_ms,action,symbol,side,qty,price,params\n0,intent,BTC/USDT,buy,-1,50000,\n")
    message = cli("run", bad, check=False).stderr.decode().strip().removeprefix("error: ")
    with pytest.raises(order_router.ScenarioError) as e:
        order_router.run_scenario(bad)
    assert str(e.value) == message
    with pytest.raises(order_router.ScenarioError):
        order_router.run_scenario(tmp_path / "missing.csv")
    with pytest.raises(order_router.ScenarioError):
        order_router.run_scenario(text="this is not,a scenario\n\x00")
    with pytest.raises(order_router.ConfigError):
        order_router.run_scenario()
    with pytest.raises(TypeError):
        order_router.run_scenario(ROOT / "scenarios" / "basic_buy.csv", seed="one")
    with pytest.raises((OverflowError, TypeError)):
        order_router.run_scenario(ROOT / "scenarios" / "basic_buy.csv", seed=-1)
    assert issubclass(order_router.ScenarioError, order_router.OrderRouterError)


def test_fuzz_counts_what_the_cli_counts(cli):
    out = cli("fuzz", "--seeds", "0..24", "--jobs", "2").stdout.decode()
    m = re.search(r"ran\s+(\d+) seeds, (\d+) events, (\d+) invariant checks", out)
    f = order_router.fuzz(0, 24, jobs=2)
    assert (f["seeds"], f["events"], f["checks"]) == tuple(map(int, m.groups()))
    assert f["violations"] == []
    assert f["seeds"] == 24 and f["events"] > 0
    with pytest.raises(order_router.ConfigError):
        order_router.fuzz(5, 5)
    with pytest.raises(order_router.ConfigError):
        order_router.fuzz(0, 5, faults="stormy")


def test_check_audit_clean_damaged_and_not_a_log(tmp_path, cli):
    log = order_router.run_scenario(ROOT / "scenarios" / "basic_buy.csv", seed=1).audit_jsonl
    assert order_router.check_audit(log) == []
    p = tmp_path / "a.jsonl"
    p.write_bytes(log)
    assert order_router.check_audit(str(p)) == []
    assert order_router.check_audit(p) == []
    # Drop the RECONCILED line: the intent's fills end without booking.
    lines = log.splitlines(keepends=True)
    cut = b"".join(l for l in lines if b"RECONCILED" not in l)
    problems = order_router.check_audit(cut)
    assert problems and all({"line", "intent", "check", "message"} <= set(x) for x in problems)
    assert "audit_complete" in {x["check"] for x in problems}
    # The CLI finds the same problems.
    q = tmp_path / "cut.jsonl"
    q.write_bytes(cut)
    out = cli("check-audit", q).stdout.decode()
    assert f"{len(problems)} problem" in out
    with pytest.raises(order_router.AuditError):
        order_router.check_audit(b"hello\nworld\n" * 100)
    with pytest.raises(order_router.AuditError):
        order_router.check_audit(tmp_path / "missing.jsonl")
    with pytest.raises(TypeError):
        order_router.check_audit(42)


def test_run_scenario_with_a_recorded_market_is_the_cli_run(cli, market):
    tape = market / "binance_spot_btcusdt_trades_20210108.csv"
    path = ROOT / "scenarios" / "replay_signals.csv"
    expected = cli("run", path, "--seed", "4", "--market", tape, "--audit", "-").stdout
    r = order_router.run_scenario(path, seed=4, market=tape)
    assert expected and r.audit_jsonl == expected
    with pytest.raises(order_router.ScenarioError, match="never trades or prices ETH/USDT"):
        order_router.run_scenario(path, market=tape, market_symbol="ETH/USDT")
    assert isinstance(r.summary["warnings"], list)

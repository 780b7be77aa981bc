"""order_router.ccxt.route against `order-router venue --faults rough`, killed and rerun."""

import collections
import json
import os
import subprocess
import sys
import tempfile

import pytest

ccxt = pytest.importorskip("ccxt")
import order_router  # noqa: E402
import order_router.ccxt  # noqa: E402
from conftest import BIN, ROOT  # noqa: E402

CHILD = os.path.join(os.path.dirname(__file__), "ccxt_child.py")


class Venue:
    def __init__(self, *args):
        self.dir = tempfile.TemporaryDirectory()
        self.record = os.path.join(self.dir.name, "record.jsonl")
        env = dict(os.environ, ORDER_ROUTER_API_KEY="py-test-key", ORDER_ROUTER_API_SECRET="py-test-secret")
        self.proc = subprocess.Popen(
            [str(BIN), "venue", "--listen", "127.0.0.1:0", "--record", self.record, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("venue listening on "), line + self.proc.stderr.read()
        self.url = line.split()[3]

    def placements(self):
        with open(self.record) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        return [l for l in lines if l["method"] == "POST" and l["path"] == "/api/v3/order"]

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.dir.cleanup()


@pytest.fixture
def venue():
    v = Venue("--faults", "rough", "--seed", "11")
    yield v
    v.close()


def child(venue, journal, n):
    return subprocess.Popen([sys.executable, CHILD, venue.url, journal, str(n)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


# rule: no_duplicate_orders, recovery
def test_route_killed_mid_run_and_rerun_places_no_client_id_twice(venue, tmp_path):
    journal = str(tmp_path / "bot.jsonl")
    n = 8
    first = child(venue, journal, n)
    sent = []
    for line in first.stdout:
        sent.append(line.split())
        if sum(1 for k, _ in sent if k == "place") >= 3:
            break
    first.kill()  # SIGKILL, mid-run: no chance to clean up
    first.wait()
    first.stdout.close()
    first.stderr.close()
    assert sum(1 for k, _ in sent if k == "place") >= 3
    second = child(venue, journal, n)
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["unfinished"] == [] and summary["intents"] == n
    assert summary["resumed"] >= 1
    assert set(summary["states"]) <= {"RECONCILED", "FAILED_FINAL"}
    # The venue saw each client order id placed at most once, across both processes.
    ids = collections.Counter(p["params"].get("newClientOrderId") for p in venue.placements())
    assert ids and max(ids.values()) == 1, ids
    # The rerun sent nothing the first process had sent.
    rerun = [cid for line in out.splitlines()[:-1] for k, cid in [line.split()] if k == "place"]
    assert not set(rerun) & {cid for k, cid in sent if k == "place"}
    # The journal is one clean audit log, and a third run sends nothing at all.
    assert order_router.check_audit(journal) == []
    third = child(venue, journal, n)
    out3, err3 = third.communicate(timeout=60)
    assert third.returncode == 0, err3
    assert json.loads(out3.strip().splitlines()[-1])["orders_sent"] == 0


def test_route_refuses_exchanges_with_unknown_client_id_semantics(tmp_path):
    ex = ccxt.kraken()
    with pytest.raises(order_router.ConfigError, match="client order ids"):
        order_router.ccxt.route(ex, [], str(tmp_path / "j.jsonl"))
    assert not os.path.exists(tmp_path / "j.jsonl.funding")


def test_a_second_process_on_the_same_journal_is_refused(tmp_path):
    import fcntl

    journal = str(tmp_path / "j.jsonl")
    with open(journal + ".lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(order_router.ConfigError, match="in use by another process"):
            order_router.ccxt.route(ccxt.binance(), [], journal, balances={"USDT": 1})
    assert not os.path.exists(journal + ".funding")


def test_ccxt_errors_are_classified_as_live_does():
    ex = ccxt.binance()
    c = order_router.ccxt.classify
    assert c(ex, ccxt.RequestTimeout("t")) == {"error": "timeout"}
    assert c(ex, ccxt.NetworkError("n"))["error"] == "server_error"
    assert c(ex, ccxt.ExchangeNotAvailable("n"))["error"] == "server_error"
    assert c(ex, ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure"}')) == {
        "error": "rejected", "code": -1013, "message": 'binance {"code":-1013,"msg":"Filter failure"}'}
    assert c(ex, ccxt.InsufficientFunds("f"))["error"] == "rejected"
    assert c(ex, ccxt.RateLimitExceeded("r"))["error"] == "rate_limited"
    assert c(ex, ccxt.DDoSProtection("r"))["error"] == "rate_limited"
    assert c(ex, ccxt.OrderNotFound("o")) == {"error": "not_found"}
    with pytest.raises(ccxt.AuthenticationError):
        c(ex, ccxt.AuthenticationError("a"))

"""The bot audit on real client code: a naive CCXT bot against a venue whose faults are
scheduled (a lost reply, an "execution unknown" 503, a 429, in that order, on BTC/USDT's
trading requests) and a fresh account must earn each finding its mistakes deserve; a careful
bot under the same faults must get a clean audit.

Run by tests/ccxt/run after test_venue.py.
"""

import json
import os
import subprocess
import sys
import unittest

from bots import CarefulBot, NaiveBot
from test_venue import BIN, Venue

# The seed makes the 503's placement execute (the venue draws that), so the naive bot's
# retry under the same client id becomes a second fill.
SEED = "1"

SCENARIO = "\n".join([
    "t_ms,action,symbol,side,qty,price,params",
    "0,config,,,,,fee_bps=10;venue_min_notional=5;account=fresh",
    "0,balance,USDT,,100000,,",
    # A cushion a fresh account does not have: dropped by account=fresh.
    "0,balance,BTC,,1,,",
    "0,price,BTC/USDT,,,50000,spread_bps=2;depth=1",
    "0,fault,BTC/USDT,,,,kind=response_lost;count=1",
    "0,fault,BTC/USDT,,,,kind=server_error;count=1",
    "0,fault,BTC/USDT,,,,kind=rate_limited;count=1",
]) + "\n"


def audit(record):
    out = subprocess.run([BIN, "bot-audit", "--json", record], capture_output=True, text=True)
    return out.returncode, json.loads(out.stdout)


def kinds(report):
    return {f["kind"] for c in report["clients"] for f in c["findings"]}


class BotAudit(unittest.TestCase):
    def run_bot(self, bot_class, *venue_args):
        venue = Venue("--seed", SEED, "--stall-ms", "300", *venue_args, scenario=SCENARIO)
        self.addCleanup(venue.close)
        ex = venue.client(timeout_ms=2000)
        bot_class(ex, lambda m: print("  %s: %s" % (bot_class.__name__, m), file=sys.stderr)).run()
        return venue

    def test_the_naive_bot_earns_each_finding(self):
        venue = self.run_bot(NaiveBot)
        code, report = audit(venue.record)
        self.assertEqual(code, 1, report)
        found = kinds(report)
        for k in ["orphan", "double_order", "same_id_retry", "ignored_retry_after",
                  "repeated_balance_refusal", "cancel_of_final", "clock_drift"]:
            self.assertIn(k, found, json.dumps(report, indent=1))
        [client] = [c for c in report["clients"] if c["client"] == "ccxt-test-key"]
        s = client["summary"]
        self.assertGreaterEqual(s["orphaned"], 1)
        self.assertGreaterEqual(s["doubled"], 1)
        # The lost buy filled at the ask: its notional is money at risk.
        [risk] = s["at_risk"]
        self.assertEqual(risk["symbol"], "BTCUSDT")
        self.assertGreater(float(risk["notional"]), 100)
        # Every finding names the requests that prove it, by seq, with the client order id.
        for f in client["findings"]:
            self.assertTrue(f["evidence"], f)
            self.assertTrue(all(e["seq"] >= 1 for e in f["evidence"]))
        orphan = next(f for f in client["findings"] if f["kind"] == "orphan")
        self.assertEqual(orphan["client_order_id"], "naive-1")
        # The fresh account has no BTC cushion: the oversized sell was refused, not filled.
        refused = [l for l in venue.lines() if l["code"] == -2010]
        self.assertGreaterEqual(len(refused), 2)

    def test_the_careful_bot_gets_a_clean_audit(self):
        venue = self.run_bot(CarefulBot)
        code, report = audit(venue.record)
        self.assertEqual(code, 0, json.dumps(report, indent=1))
        self.assertTrue(report["clean"])
        # The faults did hit it: a lost reply, a 503 and a 429 are in its record.
        faults = {f for l in venue.lines() for f in l["faults"]}
        self.assertTrue({"response_lost", "server_error", "rate_limited"} <= faults, faults)

    def test_the_venue_writes_the_audit_when_it_stops(self):
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "target",
                           "bot-audit-at-stop-%d.json" % os.getpid())
        venue = self.run_bot(NaiveBot, "--bot-audit", out)
        self.addCleanup(lambda: os.path.exists(out) and os.remove(out))
        venue.proc.terminate()
        venue.proc.wait(10)
        with open(out) as f:
            at_stop = json.load(f)
        _, report = audit(venue.record)
        self.assertEqual(kinds(at_stop), kinds(report))
        self.assertEqual(at_stop["clients"], report["clients"])


if __name__ == "__main__":
    unittest.main()

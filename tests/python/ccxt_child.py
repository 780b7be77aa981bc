"""Runs order_router.ccxt.route against a venue: the process the ccxt test kills and reruns.

Usage: ccxt_child.py URL JOURNAL N. Prints one line per command it sends, flushed, so the
test can kill it mid-run; the summary as JSON on the last line.
"""

import json
import sys

import ccxt

import order_router.ccxt

url, journal, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ex = ccxt.binance({
    "apiKey": "py-test-key", "secret": "py-test-secret", "enableRateLimit": False, "timeout": 1500,
    "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
})
ex.urls["api"]["public"] = url + "/api/v3"
ex.urls["api"]["private"] = url + "/api/v3"
intents = [
    {"intent_id": f"py-{k}", "ts_ms": 1_700_000_000_000 + k, "symbol": "BTC/USDT",
     "side": "buy" if k % 2 == 0 else "sell", "qty": "0.002", "ref_price": 50000}
    for k in range(n)
]


def said(cmd):
    print(cmd["kind"], cmd["client_order_id"], flush=True)


summary = order_router.ccxt.route(
    ex, intents, journal, config={"request_timeout_ms": 2000, "backoff_ms": 100},
    balances={"USDT": 50000, "BTC": 1}, deadline_s=120, on_command=said)
print(json.dumps(summary), flush=True)

"""CCXT, a client nobody here wrote, against `order-router venue`.

Each test starts its own venue (the binary from ORDER_ROUTER_BIN) on a free loopback port and
points ccxt.binance at it. Run by tests/ccxt/run, which installs the pinned CCXT first.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import ccxt

BIN = os.environ.get("ORDER_ROUTER_BIN", "target/debug/order-router")
KEY = "ccxt-test-key"
SECRET = "ccxt-test-secret"
SYMBOL = "BTC/USDT"


class Venue:
    """One `order-router venue` process and its record file."""

    def __init__(self, *args, scenario=None):
        self.dir = tempfile.TemporaryDirectory()
        self.record = os.path.join(self.dir.name, "record.jsonl")
        cmd = [BIN, "venue", "--listen", "127.0.0.1:0", "--record", self.record, *args]
        if scenario is not None:
            path = os.path.join(self.dir.name, "scenario.csv")
            with open(path, "w") as f:
                f.write(scenario)
            cmd += ["--scenario", path]
        env = dict(os.environ, ORDER_ROUTER_API_KEY=KEY, ORDER_ROUTER_API_SECRET=SECRET)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("venue listening on "):
            self.proc.kill()
            raise RuntimeError("venue did not start: " + line + self.proc.stderr.read())
        self.url = line.split()[3]

    def client(self, key=KEY, secret=SECRET, timeout_ms=3000, **options):
        ex = ccxt.binance({
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
                **options,
            },
        })
        ex.urls["api"]["public"] = self.url + "/api/v3"
        ex.urls["api"]["private"] = self.url + "/api/v3"
        return ex

    def lines(self):
        with open(self.record) as f:
            return [json.loads(line) for line in f if line.strip()]

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.dir.cleanup()


def scenario(*rows):
    """The default market with extra rows (faults, say)."""
    head = [
        "t_ms,action,symbol,side,qty,price,params",
        "0,config,,,,,seed=5;fee_bps=10;venue_min_notional=5",
        "0,balance,USDT,,100000,,",
        "0,balance,BTC,,1,,",
        "0,price,BTC/USDT,,,50000,spread_bps=2;depth=1",
    ]
    return "\n".join(head + list(rows)) + "\n"


class WithVenue(unittest.TestCase):
    venue_args = ()
    venue_scenario = None

    def setUp(self):
        self.venue = Venue(*self.venue_args, scenario=self.venue_scenario)
        self.ex = self.venue.client()

    def tearDown(self):
        self.venue.close()


class TradingFlow(WithVenue):
    """Every call a bot makes, each reply parsed by CCXT without error."""

    def test_markets_balance_and_market_data(self):
        markets = self.ex.load_markets()
        self.assertIn(SYMBOL, markets)
        m = markets[SYMBOL]
        self.assertEqual(m["precision"]["amount"], 0.00001)
        self.assertEqual(m["precision"]["price"], 0.01)
        self.assertEqual(m["limits"]["cost"]["min"], 5.0)
        self.assertTrue(m["spot"])
        balance = self.ex.fetch_balance()
        self.assertEqual(balance["USDT"]["free"], 100000.0)
        self.assertEqual(balance["BTC"]["total"], 1.0)
        ticker = self.ex.fetch_ticker(SYMBOL)
        self.assertEqual(ticker["bid"], 49995.0)
        self.assertEqual(ticker["ask"], 50005.0)
        book = self.ex.fetch_order_book(SYMBOL, 5)
        self.assertEqual(len(book["bids"]), 5)
        self.assertEqual(book["asks"][0], [50005.0, 1.0])
        candles = self.ex.fetch_ohlcv(SYMBOL, "1m", limit=3)
        self.assertGreaterEqual(len(candles), 1)
        self.assertEqual(candles[-1][4], 50000.0)
        self.assertAlmostEqual(self.ex.fetch_time() / 1000, time.time(), delta=60)
        tickers = self.ex.fetch_tickers([SYMBOL])
        self.assertIn(SYMBOL, tickers)

    def test_orders_of_every_kind_with_client_ids(self):
        self.ex.load_markets()
        ioc = self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 50100,
                                   {"timeInForce": "IOC", "clientOrderId": "ccxt-ioc-1"})
        self.assertEqual(ioc["status"], "closed")
        self.assertEqual(ioc["clientOrderId"], "ccxt-ioc-1")
        self.assertEqual(ioc["filled"], 0.001)
        self.assertEqual(ioc["average"], 50005.0)
        # Binance charges a buy's fee in the asset it receives.
        self.assertEqual(ioc["fee"]["currency"], "BTC")

        gtc = self.ex.create_order(SYMBOL, "limit", "buy", 0.002, 49000,
                                   {"timeInForce": "GTC", "clientOrderId": "ccxt-gtc-1"})
        self.assertEqual(gtc["status"], "open")
        self.assertEqual(gtc["remaining"], 0.002)
        open_orders = self.ex.fetch_open_orders(SYMBOL)
        self.assertEqual([o["clientOrderId"] for o in open_orders], ["ccxt-gtc-1"])
        by_id = self.ex.fetch_order(gtc["id"], SYMBOL)
        by_client = self.ex.fetch_order(None, SYMBOL, {"clientOrderId": "ccxt-gtc-1"})
        self.assertEqual(by_id["id"], by_client["id"])
        self.assertEqual(by_client["status"], "open")
        canceled = self.ex.cancel_order(gtc["id"], SYMBOL)
        self.assertEqual(canceled["status"], "canceled")
        self.assertEqual(self.ex.fetch_order(gtc["id"], SYMBOL)["status"], "canceled")
        self.assertEqual(self.ex.fetch_open_orders(SYMBOL), [])

        market = self.ex.create_order(SYMBOL, "market", "sell", 0.003, None, {"clientOrderId": "ccxt-mkt-1"})
        self.assertEqual(market["status"], "closed")
        self.assertEqual(market["filled"], 0.003)
        self.assertEqual(market["type"], "market")
        by_cost = self.ex.create_market_buy_order_with_cost(SYMBOL, 100)
        self.assertEqual(by_cost["status"], "closed")
        self.assertLessEqual(by_cost["cost"], 100.0)
        self.assertGreater(by_cost["cost"], 99.0)

        orders = self.ex.fetch_orders(SYMBOL)
        self.assertEqual(len(orders), 4)
        closed = self.ex.fetch_closed_orders(SYMBOL)
        self.assertEqual(len(closed), 3)
        trades = self.ex.fetch_my_trades(SYMBOL)
        self.assertEqual(len(trades), 3)
        self.assertEqual({t["side"] for t in trades}, {"buy", "sell"})
        for t in trades:
            self.assertEqual(t["fee"]["currency"], "BTC" if t["side"] == "buy" else "USDT")
            self.assertEqual(t["takerOrMaker"], "taker")
        public = self.ex.fetch_trades(SYMBOL)
        self.assertEqual(sorted(t["id"] for t in public), sorted(t["id"] for t in trades))
        # Balances moved by exactly what the trades say.
        balance = self.ex.fetch_balance()
        bought = sum(t["amount"] for t in trades if t["side"] == "buy")
        sold = sum(t["amount"] for t in trades if t["side"] == "sell")
        # A buy's fee came out of the BTC it bought.
        btc_fees = sum(t["fee"]["cost"] for t in trades if t["fee"]["currency"] == "BTC")
        self.assertAlmostEqual(balance["BTC"]["total"], 1 + bought - sold - btc_fees, places=8)
        # The record holds every request, and the trades the venue executed.
        lines = self.venue.lines()
        recorded = [t for line in lines for t in line["trades"]]
        self.assertEqual(sorted(t["id"] for t in recorded), sorted(int(t["id"]) for t in trades))
        placed = [l for l in lines if l["method"] == "POST" and l["status"] == 200]
        self.assertEqual(len(placed), 4)
        self.assertIn("ccxt-ioc-1", [l["params"].get("newClientOrderId") for l in placed])

    def test_refusals_raise_the_right_exceptions(self):
        self.ex.load_markets()
        with self.assertRaises(ccxt.InsufficientFunds):
            self.ex.create_order(SYMBOL, "limit", "buy", 10, 50000, {"timeInForce": "GTC"})
        with self.assertRaises(ccxt.InvalidOrder):
            self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 2000000000, {"timeInForce": "GTC"})
        with self.assertRaises(ccxt.InvalidOrder):
            # Post-only at a price that would take: Binance's LIMIT_MAKER refusal.
            self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 50010, {"postOnly": True})
        with self.assertRaises(ccxt.BadRequest):
            self.ex.create_order(SYMBOL, "limit", "buy", 0.00001, 50000, {"timeInForce": "GTC"})
        with self.assertRaises(ccxt.OrderNotFound):
            self.ex.fetch_order("999999", SYMBOL)
        with self.assertRaises(ccxt.OrderNotFound):
            self.ex.cancel_order("999999", SYMBOL)
        self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 40000, {"timeInForce": "GTC", "clientOrderId": "twice"})
        with self.assertRaises(ccxt.InvalidOrder):
            self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 40000, {"timeInForce": "GTC", "clientOrderId": "twice"})
        with self.assertRaises(ccxt.AuthenticationError):
            self.venue.client(secret="wrong-secret").fetch_balance()
        with self.assertRaises(ccxt.AuthenticationError):
            self.venue.client(key="wrong-key").fetch_balance()
        with self.assertRaises(ccxt.InvalidNonce):
            # A clock two minutes behind: outside the receive window.
            self.venue.client(timeDifference=120000).fetch_balance()


class LostReply(WithVenue):
    venue_args = ("--stall-ms", "1500")
    venue_scenario = scenario("0,fault,BTC/USDT,,,,kind=response_lost;count=1")

    def test_the_order_executed_although_no_reply_came(self):
        self.ex.load_markets()
        with self.assertRaises(ccxt.NetworkError):
            self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 50100,
                                 {"timeInForce": "IOC", "clientOrderId": "lost-1"})
        order = self.ex.fetch_order(None, SYMBOL, {"clientOrderId": "lost-1"})
        self.assertEqual(order["status"], "closed")
        self.assertEqual(order["filled"], 0.001)


class LostRequest(WithVenue):
    venue_args = ("--stall-ms", "1500")
    venue_scenario = scenario("0,fault,BTC/USDT,,,,kind=request_lost;count=1")

    def test_the_order_never_arrived(self):
        self.ex.load_markets()
        with self.assertRaises(ccxt.NetworkError):
            self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 50100,
                                 {"timeInForce": "IOC", "clientOrderId": "never-1"})
        with self.assertRaises(ccxt.OrderNotFound):
            self.ex.fetch_order(None, SYMBOL, {"clientOrderId": "never-1"})


class ServerError(WithVenue):
    venue_scenario = scenario("0,fault,BTC/USDT,,,,kind=server_error;count=1")

    def test_execution_status_unknown_is_a_request_timeout(self):
        self.ex.load_markets()
        with self.assertRaises(ccxt.RequestTimeout):
            self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 50100, {"timeInForce": "IOC"})


class RateLimits(WithVenue):
    venue_args = ("--weight-limit", "40", "--ban-secs", "5")
    venue_scenario = scenario("0,fault,BTC/USDT,,,,kind=rate_limited;count=1")

    def test_429_then_418_for_a_client_that_keeps_going(self):
        self.ex.load_markets()  # weight 20
        # The scheduled rate-limit fault hits the first trading request.
        with self.assertRaises((ccxt.RateLimitExceeded, ccxt.DDoSProtection)) as first:
            self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 50100, {"timeInForce": "IOC"})
        self.assertIn("429", str(first.exception))
        statuses = []
        for _ in range(30):
            try:
                self.ex.fetch_ticker(SYMBOL)  # weight 2
                statuses.append(200)
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as e:
                statuses.append(418 if " 418 " in str(e) else 429)
        self.assertIn(429, statuses)
        self.assertEqual(statuses[-1], 418)
        self.assertLess(statuses.index(429), statuses.index(418))


class PartialFill(WithVenue):
    venue_scenario = scenario("0,fault,BTC/USDT,,,,kind=partial;ratio=0.5;count=1")

    def test_an_ioc_fills_half_and_expires(self):
        self.ex.load_markets()
        o = self.ex.create_order(SYMBOL, "limit", "buy", 0.002, 50100, {"timeInForce": "IOC"})
        self.assertEqual(o["status"], "expired")
        self.assertEqual(o["filled"], 0.001)


class RoughVenue(WithVenue):
    venue_args = ("--faults", "rough", "--seed", "3", "--stall-ms", "300")

    def test_every_failure_is_a_ccxt_exception_a_bot_can_handle(self):
        self.ex = self.venue.client(timeout_ms=1000)
        self.ex.load_markets()
        seen = {}
        for i in range(60):
            try:
                self.ex.create_order(SYMBOL, "limit", "buy", 0.001, 50100,
                                     {"timeInForce": "IOC", "clientOrderId": "rough-%d" % i})
                kind = "ok"
            except (ccxt.NetworkError, ccxt.InvalidOrder) as e:
                kind = type(e).__name__
            seen[kind] = seen.get(kind, 0) + 1
        print("rough venue, 60 placements:", seen, file=sys.stderr)
        self.assertIn("ok", seen)
        self.assertGreaterEqual(len(seen), 3, seen)
        # What the bot could not see, the record shows: every execution, each exactly once.
        executed = [l["order"] for l in self.venue.lines() if l["order"]]
        ids = [o["clientOrderId"] for o in executed]
        self.assertEqual(len(ids), len(set(ids)))


class FeeAssets(WithVenue):
    """Fees in the asset received, as Binance charges them: a bot that sells everything a buy
    filled is refused, as it would be on Binance."""

    venue_scenario = "\n".join([
        "t_ms,action,symbol,side,qty,price,params",
        "0,config,,,,,seed=5;fee_bps=10;venue_min_notional=5",
        "0,balance,USDT,,100000,,",
        "0,price,BTC/USDT,,,50000,spread_bps=2;depth=1",
    ]) + "\n"

    def test_a_buy_pays_in_btc_and_only_what_is_held_can_be_sold(self):
        self.ex.load_markets()
        buy = self.ex.create_order(SYMBOL, "market", "buy", 0.01)
        self.assertEqual(buy["filled"], 0.01)
        trades = self.ex.fetch_my_trades(SYMBOL)
        self.assertEqual(len(trades), 1)
        fee = trades[0]["fee"]
        self.assertEqual(fee["currency"], "BTC")
        self.assertEqual(fee["cost"], 0.00001)
        self.assertEqual(self.ex.fetch_balance()["BTC"]["free"], 0.00999)
        with self.assertRaises(ccxt.InsufficientFunds):
            self.ex.create_order(SYMBOL, "market", "sell", 0.01)
        sell = self.ex.create_order(SYMBOL, "market", "sell", 0.01 - fee["cost"])
        self.assertEqual(sell["status"], "closed")
        self.assertEqual(sell["filled"], 0.00999)
        self.assertEqual(sell["fee"]["currency"], "USDT")
        self.assertEqual(self.ex.fetch_balance()["BTC"]["total"], 0.0)


class BnbFees(WithVenue):
    """`--bnb-fees`: the built-in market's account holds BNB and pays its fees with it."""

    venue_args = ("--bnb-fees",)

    def test_fees_are_paid_in_bnb(self):
        self.ex.load_markets()
        self.assertEqual(self.ex.fetch_balance()["BNB"]["free"], 1.0)
        self.ex.create_order(SYMBOL, "market", "buy", 0.01)
        fee = self.ex.fetch_my_trades(SYMBOL)[0]["fee"]
        self.assertEqual(fee["currency"], "BNB")
        # 500.05 USDT at 0.1%, 25% off, at 600 USDT a BNB: 0.000625063 rounded half up.
        self.assertEqual(fee["cost"], 0.00062506)
        balance = self.ex.fetch_balance()
        self.assertEqual(balance["BTC"]["total"], 1.01)
        self.assertAlmostEqual(balance["BNB"]["total"], 1 - 0.00062506, places=8)


class DefaultOptions(WithVenue):
    """CCXT as a bot builds it for Binance: default options, only the URLs changed."""

    def test_load_markets_with_default_options_and_only_the_urls_changed(self):
        ex = ccxt.binance({"apiKey": KEY, "secret": SECRET})
        for name, url in ex.urls["api"].items():
            ex.urls["api"][name] = self.venue.url + urllib.parse.urlsplit(url).path
        markets = ex.load_markets()
        self.assertIn(SYMBOL, markets)
        self.assertTrue(all(m["spot"] for m in markets.values()))
        assets = {a for m in markets.values() for a in (m["base"], m["quote"])}
        # From the venue's coin list (CCXT adds a few of its own).
        for a in assets:
            self.assertEqual(ex.currencies[a]["info"]["coin"], a)
        fees = ex.fetch_trading_fees()
        self.assertEqual(fees[SYMBOL]["maker"], 0.001)
        self.assertEqual(fees[SYMBOL]["taker"], 0.001)
        paths = {line["path"] for line in self.venue.lines()}
        for path in ["/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo",
                     "/sapi/v1/capital/config/getall", "/sapi/v1/asset/tradeFee"]:
            self.assertIn(path, paths)
        ex.create_order(SYMBOL, "limit", "buy", 0.001, 49000, {"clientOrderId": "ccxt-default-1"})
        self.assertEqual(ex.fetch_open_orders(SYMBOL)[0]["clientOrderId"], "ccxt-default-1")


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""CCXT against `order-router venue` with its default, living market: other traders trade, a
resting order fills by their trades, candles agree with the public trades, and large `limit`
values are capped as Binance caps them. Run by tests/ccxt/run.

Each test starts its own venue (test_venue.Venue) with a fixed seed; `--market-speed` runs the
market faster than the recorded pace so that fills come within a few seconds of wall time.
"""

import time
import unittest
from decimal import Decimal

from test_venue import SYMBOL, Venue

# Polls of a resting order before the test gives up: at 0.1 s apart, ten seconds of wall time,
# which at --market-speed 20 is over three minutes of market time.
MAX_POLLS = 100


class LivingMarket(unittest.TestCase):
    speed = "20"

    def setUp(self):
        self.venue = Venue("--seed", "7", "--market-speed", self.speed)
        self.ex = self.venue.client()
        self.ex.load_markets()

    def tearDown(self):
        self.venue.close()

    def test_a_resting_buy_at_the_best_bid_is_filled_by_the_market(self):
        # A buy at the best bid rests, unless the market moved onto it between the two
        # requests (then it filled at once as a taker): try again with a fresh book.
        for attempt in range(5):
            bid = self.ex.fetch_order_book(SYMBOL, 5)["bids"][0][0]
            order = self.ex.create_order(SYMBOL, "limit", "buy", 0.001, bid, {
                "timeInForce": "GTC", "clientOrderId": f"market-maker-{attempt}"})
            if order["status"] == "open":
                break
        self.assertEqual(order["status"], "open")
        polls = 0
        while order["status"] == "open" and polls < MAX_POLLS:
            time.sleep(0.1)
            order = self.ex.fetch_order(order["id"], SYMBOL)
            polls += 1
        self.assertEqual(order["status"], "closed", f"still open after {polls} polls: {order}")
        self.assertEqual(order["filled"], 0.001)
        self.assertEqual(order["average"], bid, "a maker fills at its own limit")
        mine = [t for t in self.ex.fetch_my_trades(SYMBOL) if t["order"] == order["id"]]
        self.assertGreaterEqual(len(mine), 1)
        self.assertTrue(all(t["takerOrMaker"] == "maker" for t in mine))

    def test_large_limits_are_capped_as_binance_caps_them(self):
        time.sleep(1.0)
        trades = self.ex.fetch_trades(SYMBOL, limit=5000)
        self.assertGreater(len(trades), 0)
        self.assertLessEqual(len(trades), 1000)
        candles = self.ex.fetch_ohlcv(SYMBOL, "1s", limit=5000)
        self.assertGreater(len(candles), 0)
        self.assertLessEqual(len(candles), 1000)
        # Binance answers a depth limit above 5,000 with 5,000 levels at most, not an error:
        # here every level the book has.
        book = self.ex.fetch_order_book(SYMBOL, 5000)
        self.assertGreater(len(book["bids"]), 0)
        self.assertLessEqual(len(book["bids"]), 5000)
        deep = self.ex.publicGetDepth({"symbol": "BTCUSDT", "limit": 6000})
        self.assertEqual(len(deep["bids"]), len(book["bids"]))


class Candles(unittest.TestCase):
    """At twice the recorded pace a second holds about a hundred trades."""

    def setUp(self):
        self.venue = Venue("--seed", "11", "--market-speed", "2")
        self.ex = self.venue.client()
        self.ex.load_markets()

    def tearDown(self):
        self.venue.close()

    def test_every_candle_matches_the_trades_in_its_interval(self):
        time.sleep(4.0)
        trades = self.ex.fetch_trades(SYMBOL, limit=1000)
        klines = self.ex.publicGetKlines({"symbol": "BTCUSDT", "interval": "1s", "limit": 1000})
        first, last = trades[0]["timestamp"], trades[-1]["timestamp"]
        checked = 0
        for k in klines:
            start = int(k[0])
            end = start + 1000
            # Only seconds the fetched trades cover whole: after the first one's millisecond
            # (others may share it) and ended by the last one.
            if start <= first or end > last:
                continue
            inside = [t for t in trades if start <= t["timestamp"] < end]
            if not inside:
                continue
            prices = [Decimal(t["info"]["p"]) for t in inside]
            qty = sum(Decimal(t["info"]["q"]) for t in inside)
            quote = sum(Decimal(t["info"]["p"]) * Decimal(t["info"]["q"]) for t in inside)
            o, h, l, c = (Decimal(x) for x in k[1:5])
            self.assertEqual((o, h, l, c), (prices[0], max(prices), min(prices), prices[-1]), k)
            self.assertEqual(Decimal(k[5]), qty, k)
            self.assertEqual(int(k[8]), len(inside), k)
            volume, quote_volume = Decimal(k[5]), Decimal(k[7])
            self.assertEqual(quote_volume, quote, k)
            self.assertTrue(l <= quote_volume / volume <= h, k)
            checked += 1
        self.assertGreaterEqual(checked, 2, "the trades cover at least two whole seconds")


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""python-binance (pinned in requirements.txt), unmodified, against `order-router venue` with
its default, living market. The only change a bot makes is the URL (docs/venue.md):

    Client.API_URL = "http://127.0.0.1:PORT/api"   # before the client is made
    client = Client(api_key, api_secret)

Run by tests/ccxt/run.
"""

import time
import unittest
from decimal import Decimal

from binance.client import Client
from binance.exceptions import BinanceAPIException

from test_venue import KEY, SECRET, Venue

# Polls of a resting order: at 0.1 s apart, ten seconds of wall time (minutes of market time
# at --market-speed 20).
MAX_POLLS = 100


class PythonBinance(unittest.TestCase):
    def setUp(self):
        self.venue = Venue("--seed", "7", "--market-speed", "20")
        self.saved = Client.API_URL
        # The one change: the REST base URL. The client pings it as it is made.
        Client.API_URL = self.venue.url + "/api"
        self.client = Client(KEY, SECRET)

    def tearDown(self):
        Client.API_URL = self.saved
        self.client.close_connection()
        self.venue.close()

    def test_a_bot_trades_against_the_living_market(self):
        c = self.client
        price = Decimal(c.get_symbol_ticker(symbol="BTCUSDT")["price"])
        self.assertGreater(price, 0)
        book = c.get_order_book(symbol="BTCUSDT", limit=5)
        bid, ask = Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])
        self.assertLess(bid, ask)
        account = c.get_account()
        free = {b["asset"]: Decimal(b["free"]) for b in account["balances"]}
        self.assertEqual(free["USDT"], Decimal(100000))

        # A buy at the best bid rests, unless the market moved onto it between the two
        # requests (then it filled at once as a taker): try again with a fresh book.
        for _ in range(5):
            order = c.order_limit_buy(symbol="BTCUSDT", quantity="0.001", price=str(bid))
            if order["status"] == "NEW":
                break
            book = c.get_order_book(symbol="BTCUSDT", limit=5)
            bid = Decimal(book["bids"][0][0])
        self.assertEqual(order["status"], "NEW")
        bid = Decimal(order["price"])
        polls = 0
        while order["status"] != "FILLED" and polls < MAX_POLLS:
            time.sleep(0.1)
            order = c.get_order(symbol="BTCUSDT", orderId=order["orderId"])
            polls += 1
        self.assertEqual(order["status"], "FILLED", f"after {polls} polls: {order}")
        self.assertEqual(Decimal(order["executedQty"]), Decimal("0.001"))

        trades = [t for t in c.get_my_trades(symbol="BTCUSDT") if t["orderId"] == order["orderId"]]
        self.assertGreaterEqual(len(trades), 1)
        self.assertTrue(all(Decimal(t["price"]) == bid for t in trades))
        self.assertTrue(all(t["isMaker"] for t in trades), "filled by the market: a maker")
        # Binance charges a buy's commission in the base asset it receives.
        self.assertTrue(all(t["commissionAsset"] == "BTC" for t in trades))
        bought = sum(Decimal(t["qty"]) - Decimal(t["commission"]) for t in trades)
        taker = sum(
            Decimal(t["qty"]) - Decimal(t["commission"])
            for t in c.get_my_trades(symbol="BTCUSDT")
            if t["orderId"] != order["orderId"]
        )
        after = {b["asset"]: Decimal(b["free"]) for b in c.get_account()["balances"]}
        self.assertEqual(after["BTC"], free["BTC"] + bought + taker)

        klines = c.get_klines(symbol="BTCUSDT", interval=Client.KLINE_INTERVAL_1MINUTE, limit=5)
        self.assertGreaterEqual(len(klines), 1)
        for k in klines:
            o, h, l, cl = (Decimal(x) for x in k[1:5])
            self.assertTrue(l <= min(o, cl) and max(o, cl) <= h, k)

    def test_insufficient_balance_is_a_binance_api_exception_with_code_2010(self):
        bid = self.client.get_order_book(symbol="BTCUSDT", limit=5)["bids"][0][0]
        with self.assertRaises(BinanceAPIException) as caught:
            self.client.order_limit_buy(symbol="BTCUSDT", quantity="100", price=bid)
        self.assertEqual(caught.exception.code, -2010)


if __name__ == "__main__":
    unittest.main(verbosity=2)

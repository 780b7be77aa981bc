"""Two small bots on CCXT for the bot audit's tests: one that makes the usual mistakes, one
that does not. Each buys, sells and tidies up on BTC/USDT against `order-router venue`.
"""

import time

import ccxt

SYMBOL = "BTC/USDT"
PRICE_BUY = 50100
PRICE_SELL = 49900


class NaiveBot:
    """Retries a failed placement with a fresh client id, resends the same one on a timeout,
    waits a fixed 0.55 s after a rate limit whatever Retry-After said, repeats refused orders,
    cancels without checking, and never syncs its clock."""

    def __init__(self, ex, log):
        self.ex = ex
        self.log = log
        self.n = 0

    def new_id(self):
        self.n += 1
        return "naive-%d" % self.n

    def place(self, side, qty, price, cid=None, tries=4):
        cid = cid or self.new_id()
        for _ in range(tries):
            try:
                return self.ex.create_order(SYMBOL, "limit", side, qty, price,
                                            {"timeInForce": "IOC", "clientOrderId": cid})
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection):
                self.log("rate limited; trying again in a moment")
                time.sleep(0.55)
            except ccxt.RequestTimeout:
                self.log("timeout; sending %s again" % cid)
            except ccxt.NetworkError:
                self.log("could not place %s order" % side)
                time.sleep(0.2)
                cid = self.new_id()
            except ccxt.ExchangeError as e:
                self.log("refused: %s" % e)
                cid = self.new_id()
        return None

    def run(self):
        self.ex.load_markets()
        self.place("buy", 0.002, PRICE_BUY)
        sold = self.place("sell", 0.002, PRICE_SELL)
        # Sell "the rest" it believes it has, over and over.
        self.place("sell", 0.01, PRICE_SELL, tries=3)
        # Tidy up: cancel the sell, whatever became of it.
        if sold is not None:
            try:
                self.ex.cancel_order(None, SYMBOL, {"origClientOrderId": sold["clientOrderId"]})
            except ccxt.OrderNotFound:
                self.log("nothing to cancel")
        # Its clock runs five seconds ahead, and it never asks the venue for the time.
        self.ex.options["timeDifference"] = -5000
        for _ in range(3):
            try:
                self.ex.fetch_balance()
            except ccxt.InvalidNonce:
                self.log("timestamp refused")
        self.ex.options["timeDifference"] = 0


class CarefulBot:
    """Asks by client order id before placing again, keeps the id across retries, honours
    Retry-After, sells only what the balance shows, and cancels only what is open."""

    def __init__(self, ex, log):
        self.ex = ex
        self.log = log
        self.n = 0

    def wait_out(self):
        headers = {k.lower(): v for k, v in (self.ex.last_response_headers or {}).items()}
        secs = float(headers.get("retry-after", "1"))
        self.log("rate limited; waiting %.0f s as told" % secs)
        time.sleep(secs + 0.05)

    def call(self, fn, *args):
        """A query, repeated until it gets an answer."""
        while True:
            try:
                return fn(*args)
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection):
                self.wait_out()
            except ccxt.OrderNotFound:
                raise
            except ccxt.NetworkError:
                time.sleep(0.2)

    def place(self, side, qty, price):
        self.n += 1
        cid = "careful-%d" % self.n
        while True:
            try:
                return self.ex.create_order(SYMBOL, "limit", side, qty, price,
                                            {"timeInForce": "IOC", "clientOrderId": cid})
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection):
                self.wait_out()
            except ccxt.NetworkError:
                self.log("no answer for %s; asking the venue" % cid)
                try:
                    return self.call(self.ex.fetch_order, None, SYMBOL, {"clientOrderId": cid})
                except ccxt.OrderNotFound:
                    self.log("%s never arrived; sending it again under the same id" % cid)

    def run(self):
        self.ex.load_markets()
        self.place("buy", 0.002, PRICE_BUY)
        free = self.call(self.ex.fetch_balance)["BTC"]["free"] or 0
        want = min(0.01, free)
        if want > 0:
            sold = self.place("sell", want, PRICE_SELL)
            if sold["status"] == "open":
                self.call(self.ex.cancel_order, sold["id"], SYMBOL)

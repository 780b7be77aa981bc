"""ccxt.pro (the pinned ccxt's WebSocket side), a client nobody here wrote, against the
WebSocket streams and WebSocket API of `order-router venue`.

Each test class starts its own venue (the living market of the default scenario) and points
ccxt.pro.binance at it: the REST urls at http://HOST/api/v3, urls['api']['ws']['spot'] at
ws://HOST/ws and urls['api']['ws']['ws-api']['spot'] at ws://HOST/ws-api/v3. The same tests run
again with stream faults (`--ws-faults rough`): the client must come through dropped
connections, silent streams, lost, repeated, late and reordered events by retrying as a bot
would. Run by tests/ccxt/run.
"""

import asyncio
import os
import sys
import unittest

import ccxt
import ccxt.pro

sys.path.insert(0, os.path.dirname(__file__))
from test_venue import KEY, SECRET, SYMBOL, Venue  # noqa: E402

# What a retry is for: the connection went, a depth gap was found, or an order placement met
# a lost answer. Anything else is a failure.
RETRY = (ccxt.NetworkError, ccxt.ChecksumError, ccxt.ExchangeNotAvailable, asyncio.TimeoutError)


def pro_client(venue):
    ex = ccxt.pro.binance({
        "apiKey": KEY,
        "secret": SECRET,
        "enableRateLimit": False,
        "timeout": 5000,
        "options": {
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
    })
    http = venue.url
    ws = "ws://" + http.split("://", 1)[1]
    ex.urls["api"]["public"] = http + "/api/v3"
    ex.urls["api"]["private"] = http + "/api/v3"
    ex.urls["api"]["ws"]["spot"] = ws + "/ws"
    ex.urls["api"]["ws"]["ws-api"]["spot"] = ws + "/ws-api/v3"
    return ex


async def retrying(call, ok=lambda r: True, seconds=30):
    """`call()` until its result is `ok`, retrying what a bot retries, within `seconds`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    last = None
    while loop.time() < end:
        try:
            r = await asyncio.wait_for(call(), max(0.1, end - loop.time()))
            if ok(r):
                return r
        except RETRY as e:
            last = e
            await asyncio.sleep(0.2)
    raise AssertionError("no good answer in %ss (last error: %r)" % (seconds, last))


class Streams(unittest.IsolatedAsyncioTestCase):
    venue_args = ()

    async def asyncSetUp(self):
        # unittest runs the loop in debug mode, which reports every slow callback.
        asyncio.get_running_loop().set_debug(False)
        self.venue = Venue(*self.venue_args)
        self.ex = pro_client(self.venue)
        await self.ex.load_markets()

    async def asyncTearDown(self):
        await self.ex.close()
        self.venue.close()

    def faults_hit(self):
        return [l for l in self.venue.lines() if "ws" in l and "fault" in l]

    async def test_watch_ticker(self):
        t = await retrying(lambda: self.ex.watch_ticker(SYMBOL), lambda t: t["last"])
        self.assertEqual(t["symbol"], SYMBOL)
        self.assertGreater(t["last"], 1000)
        self.assertLessEqual(t["low"], t["last"])
        self.assertGreaterEqual(t["high"], t["last"])

    async def test_watch_trades(self):
        seen = {}
        async def more():
            for t in await self.ex.watch_trades(SYMBOL):
                seen[t["id"]] = t
            return len(seen)
        await retrying(more, lambda n: n >= 20)
        for t in seen.values():
            self.assertEqual(t["symbol"], SYMBOL)
            self.assertGreater(t["price"], 1000)
            self.assertGreater(t["amount"], 0)
            self.assertIn(t["side"], ("buy", "sell"))

    async def test_watch_order_book(self):
        # ccxt.pro buffers the diff stream, fetches the REST snapshot and applies the diffs by
        # Binance's U/u rules, raising ChecksumError at any gap; the nonce only grows.
        nonces = []
        async def update():
            ob = await self.ex.watch_order_book(SYMBOL)
            nonces.append(ob["nonce"])
            return ob
        for _ in range(10):
            ob = await retrying(update)
            self.assertTrue(ob["bids"] and ob["asks"])
            self.assertLess(ob["bids"][0][0], ob["asks"][0][0], "crossed local book")
            self.assertEqual([b[0] for b in ob["bids"]], sorted((b[0] for b in ob["bids"]), reverse=True))
            self.assertEqual([a[0] for a in ob["asks"]], sorted(a[0] for a in ob["asks"]))
        self.assertGreater(nonces[-1], nonces[0])

    async def place(self, *args, **kw):
        """create_order_ws with a client order id; after a lost answer, the order is looked up
        by that id (a bot's recovery)."""
        cid = kw.pop("cid")
        try:
            return await self.ex.create_order_ws(*args, params={"newClientOrderId": cid})
        except RETRY:
            await asyncio.sleep(0.5)
            return await retrying(lambda: self.ex.fetch_order(None, SYMBOL, {"origClientOrderId": cid}))

    async def test_create_order_ws_and_watch_orders(self):
        book = await self.ex.fetch_order_book(SYMBOL, 5)
        price = round(book["bids"][0][0] * 0.9, 2)
        seen = {}
        async def orders():
            for o in await self.ex.watch_orders(SYMBOL):
                seen[o["clientOrderId"]] = o
            return seen
        watching = asyncio.ensure_future(retrying(orders, lambda s: "ws-gtc-1" in s))
        await asyncio.sleep(0.5)
        placed = await self.place(SYMBOL, "limit", "buy", 0.001, price, cid="ws-gtc-1")
        self.assertEqual(placed["status"], "open")
        self.assertEqual(placed["clientOrderId"], "ws-gtc-1")
        if not self.venue_args:
            got = (await watching)["ws-gtc-1"]
            self.assertEqual(got["id"], placed["id"])
            self.assertEqual(got["status"], "open")
            self.assertEqual(got["price"], price)
            self.assertEqual(got["amount"], 0.001)
        else:
            # A dropped connection loses the events it carried (Binance does not replay them):
            # the bot asks the REST API instead.
            try:
                await asyncio.wait_for(watching, 10)
            except AssertionError:
                pass
        canceled = await retrying(lambda: self.ex.cancel_order_ws(placed["id"], SYMBOL))
        self.assertEqual(canceled["status"], "canceled")
        status = await self.ex.fetch_order(placed["id"], SYMBOL)
        self.assertEqual(status["status"], "canceled")

    async def test_a_fill_by_the_market_reaches_watch_orders(self):
        seen = {}
        async def orders():
            for o in await self.ex.watch_orders(SYMBOL):
                seen[o["clientOrderId"]] = o
            o = seen.get("ws-rest-1")
            return o is not None and o["filled"] > 0
        watching = asyncio.ensure_future(retrying(orders, lambda done: done, seconds=60))
        await asyncio.sleep(0.5)
        book = await self.ex.fetch_order_book(SYMBOL, 5)
        # One cent under the best ask: the next seller of the living market fills it.
        price = round(book["asks"][0][0] - 0.01, 2)
        placed = await self.place(SYMBOL, "limit", "buy", 0.001, price, cid="ws-rest-1")
        if not self.venue_args:
            await watching
            o = seen["ws-rest-1"]
            self.assertEqual(o["id"], placed["id"])
            self.assertGreater(o["filled"], 0)
        else:
            try:
                await asyncio.wait_for(watching, 60)
            except AssertionError:
                pass
        done = await retrying(lambda: self.ex.fetch_order(placed["id"], SYMBOL),
                              lambda o: o["filled"] > 0, seconds=60)
        self.assertEqual(done["price"], price)

    async def test_watch_my_trades_and_watch_balance(self):
        trades = asyncio.ensure_future(retrying(lambda: self.ex.watch_my_trades(SYMBOL)))
        balance = asyncio.ensure_future(retrying(lambda: self.ex.watch_balance()))
        await asyncio.sleep(0.5)
        placed = await self.place(SYMBOL, "market", "buy", 0.002, cid="ws-mkt-1")
        self.assertEqual(placed["status"], "closed")
        if self.venue_args:
            for f in (trades, balance):
                try:
                    await asyncio.wait_for(f, 10)
                except (AssertionError, asyncio.TimeoutError):
                    pass
            return
        mine = await trades
        self.assertEqual(mine[-1]["order"], placed["id"])
        self.assertEqual(mine[-1]["side"], "buy")
        self.assertEqual(mine[-1]["fee"]["currency"], "BTC")
        self.assertAlmostEqual(sum(t["amount"] for t in mine), 0.002)
        b = await balance
        self.assertGreater(b["BTC"]["total"], 1.0)
        self.assertLess(b["USDT"]["total"], 100000.0)


class StreamsWithFaults(Streams):
    """The same, through dropped connections, silences, lost, repeated, late and reordered
    events (within Binance's guarantees)."""

    venue_args = ("--ws-faults", "rough", "--seed", "11")

    async def test_stream_faults_hit_and_are_recorded(self):
        async def many():
            await self.ex.watch_trades(SYMBOL)
            return len(self.faults_hit())
        await retrying(many, lambda n: n >= 3, seconds=60)
        kinds = {l["fault"] for l in self.faults_hit()}
        self.assertTrue(kinds <= {"event_lost", "duplicated", "reordered", "silent", "lagged",
                                  "connection_dropped"}, kinds)


if __name__ == "__main__":
    unittest.main(verbosity=2)

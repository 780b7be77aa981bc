"""Stop orders, order lists and cancel-replace against `order-router venue`, through two clients
nobody here wrote: python-binance (its OCO, order-list and cancel-replace calls) and CCXT (its
stop orders, edit_order and the raw order-list endpoint).

Run by tests/ccxt/run after test_venue.py, with the same pinned environment.
"""

import unittest

import ccxt
from binance.client import Client
from binance.exceptions import BinanceAPIException

from test_venue import KEY, SECRET, SYMBOL, Venue, scenario


def binance_client(venue):
    """python-binance pointed at the venue: only the base URL changes."""
    client = Client(KEY, SECRET, ping=False)
    client.API_URL = venue.url + "/api"
    return client


class WithClients(unittest.TestCase):
    def setUp(self):
        self.venue = Venue(scenario=scenario())
        self.pb = binance_client(self.venue)
        self.ex = self.venue.client()

    def tearDown(self):
        self.pb.close_connection()
        self.venue.close()

    def list_lines(self):
        return [line for line in self.venue.lines() if line.get("list")]


class PythonBinance(WithClients):
    def test_create_oco_order_then_query_and_cancel_the_list(self):
        placed = self.pb.create_oco_order(
            symbol="BTCUSDT", side="SELL", quantity="0.5",
            aboveType="LIMIT_MAKER", abovePrice="50200",
            belowType="STOP_LOSS_LIMIT", belowStopPrice="49800", belowPrice="49700",
            belowTimeInForce="GTC",
        )
        self.assertEqual(placed["contingencyType"], "OCO")
        self.assertEqual(placed["listOrderStatus"], "EXECUTING")
        # python-binance makes up the list's client id itself.
        self.assertTrue(placed["listClientOrderId"].startswith("x-HNA2TXFJ"))
        reports = placed["orderReports"]
        self.assertEqual([r["type"] for r in reports], ["STOP_LOSS_LIMIT", "LIMIT_MAKER"])
        self.assertEqual(reports[0]["stopPrice"], "49800.00000000")
        list_id = placed["orderListId"]

        self.assertEqual(len(self.pb.get_open_oco_orders()), 1)
        got = self.pb.v3_get_order_list(orderListId=list_id)
        self.assertEqual([o["orderId"] for o in got["orders"]],
                         [o["orderId"] for o in placed["orders"]])
        balance = self.ex.fetch_balance()
        self.assertEqual(balance["BTC"]["used"], 0.5)

        cancelled = self.pb.v3_delete_order_list(symbol="BTCUSDT", orderListId=list_id)
        self.assertEqual(cancelled["listOrderStatus"], "ALL_DONE")
        self.assertEqual({r["status"] for r in cancelled["orderReports"]}, {"CANCELED"})
        self.assertEqual(self.pb.get_open_oco_orders(), [])
        self.assertEqual(len(self.pb.v3_get_all_order_list()), 1)
        # The record shows the list placed, then cancelled, with both legs.
        lines = self.list_lines()
        self.assertEqual([line["path"] for line in lines],
                         ["/api/v3/orderList/oco", "/api/v3/orderList"])
        self.assertEqual([leg["status"] for leg in lines[-1]["list"]["orders"]],
                         ["CANCELED", "CANCELED"])

    def test_the_price_relationship_is_refused_with_binances_code(self):
        with self.assertRaises(BinanceAPIException) as e:
            self.pb.create_oco_order(
                symbol="BTCUSDT", side="SELL", quantity="0.5",
                aboveType="LIMIT_MAKER", abovePrice="49990",
                belowType="STOP_LOSS", belowStopPrice="49800",
            )
        self.assertEqual(e.exception.code, -2010)
        self.assertEqual(e.exception.message,
                         "The relationship of the prices for the orders is not correct.")

    def test_oto_and_otoco_place_pending_legs(self):
        oto = self.pb.v3_post_order_list_oto(
            symbol="BTCUSDT",
            workingType="LIMIT", workingSide="BUY", workingPrice="50100",
            workingQuantity="0.01", workingTimeInForce="GTC",
            pendingType="LIMIT", pendingSide="SELL", pendingPrice="50300",
            pendingQuantity="0.01", pendingTimeInForce="GTC",
        )
        self.assertEqual(oto["contingencyType"], "OTO")
        self.assertEqual([r["status"] for r in oto["orderReports"]], ["FILLED", "PENDING_NEW"])
        pending = self.pb.get_order(symbol="BTCUSDT", orderId=oto["orders"][1]["orderId"])
        self.assertEqual(pending["status"], "NEW")

        otoco = self.pb.v3_post_order_list_otoco(
            symbol="BTCUSDT",
            workingType="LIMIT", workingSide="BUY", workingPrice="49000",
            workingQuantity="0.01", workingTimeInForce="GTC",
            pendingSide="SELL", pendingQuantity="0.01",
            pendingAboveType="LIMIT_MAKER", pendingAbovePrice="51000",
            pendingBelowType="STOP_LOSS", pendingBelowStopPrice="48000",
        )
        self.assertEqual(len(otoco["orderReports"]), 3)
        self.assertEqual([r["status"] for r in otoco["orderReports"]],
                         ["NEW", "PENDING_NEW", "PENDING_NEW"])

    def test_cancel_replace_order_both_outcomes(self):
        order = self.pb.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                     timeInForce="GTC", quantity="0.01", price="49000")
        replaced = self.pb.cancel_replace_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
            quantity="0.01", price="49100", cancelReplaceMode="STOP_ON_FAILURE",
            cancelOrderId=order["orderId"],
        )
        self.assertEqual((replaced["cancelResult"], replaced["newOrderResult"]),
                         ("SUCCESS", "SUCCESS"))
        self.assertEqual(replaced["cancelResponse"]["status"], "CANCELED")
        self.assertEqual(replaced["newOrderResponse"]["price"], "49100.00000000")
        with self.assertRaises(BinanceAPIException) as e:
            self.pb.cancel_replace_order(
                symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                quantity="0.01", price="49200", cancelReplaceMode="STOP_ON_FAILURE",
                cancelOrderId=order["orderId"],
            )
        self.assertEqual((e.exception.status_code, e.exception.code), (400, -2022))
        data = e.exception.response.json()["data"]
        self.assertEqual(data["newOrderResult"], "NOT_ATTEMPTED")
        self.assertEqual(data["cancelResponse"]["code"], -2011)

    def test_a_stop_loss_limit_order_waits(self):
        placed = self.pb.create_order(symbol="BTCUSDT", side="SELL", type="STOP_LOSS_LIMIT",
                                      timeInForce="GTC", quantity="0.1", price="49000",
                                      stopPrice="49500")
        got = self.pb.get_order(symbol="BTCUSDT", orderId=placed["orderId"])
        self.assertEqual((got["type"], got["status"], got["isWorking"]),
                         ("STOP_LOSS_LIMIT", "NEW", False))
        self.assertEqual(got["stopPrice"], "49500.00000000")


class Ccxt(WithClients):
    def test_a_stop_loss_limit_order_and_its_trigger_price(self):
        order = self.ex.create_order(SYMBOL, "limit", "sell", 0.1, 49000,
                                     {"stopLossPrice": 49500})
        got = self.ex.fetch_order(order["id"], SYMBOL)
        self.assertEqual(got["status"], "open")
        self.assertEqual(got["triggerPrice"], 49500.0)
        self.assertEqual(got["info"]["type"], "STOP_LOSS_LIMIT")
        # Already reached: refused as Binance refuses it.
        with self.assertRaises(ccxt.InvalidOrder):
            self.ex.create_order(SYMBOL, "limit", "sell", 0.1, 50000, {"triggerPrice": 50500})

    def test_edit_order_is_a_cancel_replace(self):
        order = self.ex.create_order(SYMBOL, "limit", "buy", 0.01, 49000)
        edited = self.ex.edit_order(order["id"], SYMBOL, "limit", "buy", 0.01, 49100)
        self.assertEqual(edited["price"], 49100.0)
        self.assertEqual(edited["status"], "open")
        self.assertEqual(self.ex.fetch_order(order["id"], SYMBOL)["status"], "canceled")
        paths = [line["path"] for line in self.venue.lines()]
        self.assertIn("/api/v3/order/cancelReplace", paths)

    def test_raw_order_list_oco(self):
        placed = self.ex.private_post_orderlist_oco({
            "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.5",
            "aboveType": "LIMIT_MAKER", "abovePrice": "50200",
            "belowType": "STOP_LOSS", "belowStopPrice": "49800",
        })
        self.assertEqual(placed["contingencyType"], "OCO")
        open_orders = self.ex.fetch_open_orders(SYMBOL)
        self.assertEqual(len(open_orders), 2)
        self.assertEqual(sorted(o["info"]["type"] for o in open_orders),
                         ["LIMIT_MAKER", "STOP_LOSS"])


if __name__ == "__main__":
    unittest.main()

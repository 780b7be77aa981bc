//! Stop orders, order lists (OCO, OTO, OTOCO) and cancel-replace in Binance spot's dialect:
//! the shapes of the answers, the error codes, faults and the record.

use super::*;

fn post(v: &mut Venue, t: u64, path: &str, params: &str) -> Reply {
    signed(v, t, Method::Post, path, params)
}

fn ok(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    json(r)
}

const SELL_OCO: &str = "symbol=BTCUSDT&side=SELL&quantity=0.5&listClientOrderId=oco-1\
&aboveType=LIMIT_MAKER&abovePrice=50200&aboveClientOrderId=tp-1\
&belowType=STOP_LOSS_LIMIT&belowStopPrice=49800&belowPrice=49700&belowTimeInForce=GTC\
&belowClientOrderId=sl-1";

fn free_locked(v: &mut Venue, t: u64, asset: &str) -> (String, String) {
    let acct = ok(&signed(v, t, Method::Get, "/api/v3/account", ""));
    let b = acct["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == asset)
        .cloned()
        .unwrap();
    (
        b["free"].as_str().unwrap().to_string(),
        b["locked"].as_str().unwrap().to_string(),
    )
}

// rule: order_lists
#[test]
fn an_oco_answers_as_binance_lists_do_and_cancels_whole() {
    let mut v = venue();
    let t = T0 + 10;
    let placed = ok(&post(&mut v, t, "/api/v3/orderList/oco", SELL_OCO));
    assert_eq!(
        keys(&placed),
        [
            "contingencyType",
            "listClientOrderId",
            "listOrderStatus",
            "listStatusType",
            "orderListId",
            "orderReports",
            "orders",
            "symbol",
            "transactionTime"
        ]
    );
    assert_eq!(placed["contingencyType"], "OCO");
    assert_eq!(placed["listStatusType"], "EXEC_STARTED");
    assert_eq!(placed["listOrderStatus"], "EXECUTING");
    assert_eq!(placed["listClientOrderId"], "oco-1");
    assert_eq!(placed["transactionTime"], t);
    let id = placed["orderListId"].as_u64().unwrap();
    // The stop leg first, waiting (workingTime -1); the limit maker working.
    let r = &placed["orderReports"];
    assert_eq!(r[0]["clientOrderId"], "sl-1");
    assert_eq!(r[0]["type"], "STOP_LOSS_LIMIT");
    assert_eq!(r[0]["stopPrice"], "49800.00000000");
    assert_eq!(r[0]["workingTime"], -1);
    assert_eq!(r[0]["orderListId"], id);
    assert_eq!(r[1]["type"], "LIMIT_MAKER");
    assert_eq!(r[1]["workingTime"], t);
    assert!(r[1].get("stopPrice").is_none());
    assert_eq!(placed["orders"][1]["clientOrderId"], "tp-1");
    // One lock of 0.5 BTC for both legs.
    assert_eq!(
        free_locked(&mut v, t, "BTC"),
        ("1.50000000".into(), "0.50000000".into())
    );

    let open = ok(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/openOrders",
        "symbol=BTCUSDT",
    ));
    assert_eq!(open.as_array().unwrap().len(), 2);
    assert_eq!(open[0]["isWorking"], false);
    assert_eq!(open[0]["orderListId"], id);
    let q = ok(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/orderList",
        &format!("orderListId={id}"),
    ));
    assert!(q.get("orderReports").is_none());
    assert_eq!(q["orders"].as_array().unwrap().len(), 2);
    let by_client = ok(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/orderList",
        "origClientOrderId=oco-1",
    ));
    assert_eq!(by_client, q);
    let lists = ok(&signed(&mut v, t, Method::Get, "/api/v3/openOrderList", ""));
    assert_eq!(lists.as_array().unwrap().len(), 1);

    let c = ok(&signed(
        &mut v,
        t + 1,
        Method::Delete,
        "/api/v3/orderList",
        "symbol=BTCUSDT&listClientOrderId=oco-1",
    ));
    assert_eq!(c["listStatusType"], "ALL_DONE");
    assert_eq!(c["listOrderStatus"], "ALL_DONE");
    assert_eq!(c["orderReports"][0]["status"], "CANCELED");
    assert_eq!(c["orderReports"][1]["status"], "CANCELED");
    assert_eq!(c["orderReports"][1]["origClientOrderId"], "tp-1");
    assert_eq!(
        free_locked(&mut v, t + 1, "BTC"),
        ("2.00000000".into(), "0.00000000".into())
    );
    let lists = ok(&signed(
        &mut v,
        t + 1,
        Method::Get,
        "/api/v3/openOrderList",
        "",
    ));
    assert_eq!(lists, serde_json::json!([]));
    let all = ok(&signed(
        &mut v,
        t + 1,
        Method::Get,
        "/api/v3/allOrderList",
        "",
    ));
    assert_eq!(all[0]["listStatusType"], "ALL_DONE");
    // A finished list cannot be cancelled again.
    let again = signed(
        &mut v,
        t + 2,
        Method::Delete,
        "/api/v3/orderList",
        &format!("symbol=BTCUSDT&orderListId={id}"),
    );
    assert_eq!(error(&again), (400, -2011));
}

// rule: order_lists
#[test]
fn cancelling_one_leg_by_the_order_endpoint_cancels_the_list() {
    let mut v = venue();
    let t = T0 + 10;
    ok(&post(&mut v, t, "/api/v3/orderList/oco", SELL_OCO));
    let c = ok(&signed(
        &mut v,
        t,
        Method::Delete,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=tp-1",
    ));
    assert_eq!(c["status"], "CANCELED");
    assert_eq!(c["orderListId"], 0);
    let sl = ok(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=sl-1",
    ));
    assert_eq!(sl["status"], "CANCELED");
}

// rule: order_lists
#[test]
fn oco_errors_carry_binances_codes() {
    let mut v = venue();
    let t = T0 + 10;
    let base = "symbol=BTCUSDT&quantity=0.5";
    let cases: [(&str, i64, &str); 6] = [
        // The limit maker is not above the last price (50000).
        (
            "side=SELL&aboveType=LIMIT_MAKER&abovePrice=49990&belowType=STOP_LOSS&belowStopPrice=49800",
            -2010,
            "The relationship of the prices for the orders is not correct.",
        ),
        (
            "side=SELL&aboveType=STOP_LOSS&aboveStopPrice=49800&belowType=LIMIT_MAKER&belowPrice=50200",
            -1197,
            "A stop loss order in a sell OCO must be below.",
        ),
        (
            "side=BUY&aboveType=LIMIT_MAKER&abovePrice=49800&belowType=STOP_LOSS&belowStopPrice=50200",
            -1196,
            "A stop loss order in a buy OCO must be above.",
        ),
        (
            "side=BUY&aboveType=TAKE_PROFIT&aboveStopPrice=50200&belowType=LIMIT_MAKER&belowPrice=49800",
            -1198,
            "A take profit order in a buy OCO must be below.",
        ),
        (
            "side=SELL&aboveType=LIMIT&abovePrice=50200&aboveTimeInForce=GTC&belowType=STOP_LOSS&belowStopPrice=49800",
            -1158,
            "Order type not supported in OCO.",
        ),
        (
            "side=SELL&aboveType=LIMIT_MAKER&abovePrice=50200&belowType=STOP_LOSS_LIMIT&belowStopPrice=49800&belowPrice=49700",
            -1102,
            "Mandatory parameter 'belowTimeInForce' was not sent, was empty/null, or malformed.",
        ),
    ];
    for (params, code, msg) in cases {
        let r = post(
            &mut v,
            t,
            "/api/v3/orderList/oco",
            &format!("{base}&{params}"),
        );
        assert_eq!(error(&r), (400, code), "{params}");
        assert_eq!(json(&r)["msg"], msg, "{params}");
    }
    // Nothing placed by any of them.
    let open = ok(&signed(&mut v, t, Method::Get, "/api/v3/openOrders", ""));
    assert_eq!(open, serde_json::json!([]));
    // A list client id is unique among open lists.
    ok(&post(&mut v, t, "/api/v3/orderList/oco", SELL_OCO));
    let dup = SELL_OCO
        .replace("tp-1", "tp-2")
        .replace("sl-1", "sl-2")
        .replace("quantity=0.5", "quantity=0.1");
    let r = post(&mut v, t, "/api/v3/orderList/oco", &dup);
    assert_eq!(error(&r), (400, -2010));
    assert_eq!(json(&r)["msg"], "Duplicate order sent.");
    let r = signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/orderList",
        "orderListId=99",
    );
    assert_eq!(error(&r), (400, -2013));
}

// rule: order_lists
#[test]
fn an_oto_shows_its_pending_leg_pending_new_even_when_the_working_leg_filled_at_once() {
    let mut v = venue();
    let t = T0 + 10;
    let placed = ok(&post(
        &mut v,
        t,
        "/api/v3/orderList/oto",
        "symbol=BTCUSDT&listClientOrderId=oto-1\
&workingType=LIMIT&workingSide=BUY&workingPrice=50100&workingQuantity=0.01&workingTimeInForce=GTC\
&workingClientOrderId=w-1&pendingType=LIMIT&pendingSide=SELL&pendingPrice=50300\
&pendingQuantity=0.004&pendingTimeInForce=GTC&pendingClientOrderId=p-1",
    ));
    assert_eq!(placed["contingencyType"], "OTO");
    let r = &placed["orderReports"];
    assert_eq!(r[0]["status"], "FILLED");
    assert_eq!(r[1]["status"], "PENDING_NEW");
    assert_eq!(r[1]["workingTime"], -1);
    // Asked again, the pending leg is on the book, with its own quantity.
    let p = ok(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=p-1",
    ));
    assert_eq!(p["status"], "NEW");
    assert_eq!(p["origQty"], "0.00400000");
    assert_eq!(p["isWorking"], true);
}

// rule: order_lists
#[test]
fn an_otoco_keeps_its_pair_pending_until_the_working_leg_fills() {
    let mut v = venue();
    let t = T0 + 10;
    let placed = ok(&post(
        &mut v,
        t,
        "/api/v3/orderList/otoco",
        "symbol=BTCUSDT&workingType=LIMIT&workingSide=BUY&workingPrice=49000\
&workingQuantity=0.01&workingTimeInForce=GTC&pendingSide=SELL&pendingQuantity=0.01\
&pendingAboveType=LIMIT_MAKER&pendingAbovePrice=51000\
&pendingBelowType=STOP_LOSS&pendingBelowStopPrice=48000&newOrderRespType=ACK",
    ));
    assert_eq!(placed["contingencyType"], "OTO");
    let r = placed["orderReports"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(
        keys(&r[0]),
        [
            "clientOrderId",
            "orderId",
            "orderListId",
            "symbol",
            "transactTime"
        ]
    );
    let open = ok(&signed(&mut v, t, Method::Get, "/api/v3/openOrders", ""));
    let statuses: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["NEW", "PENDING_NEW", "PENDING_NEW"]);
    // Only the working buy locks anything.
    assert_eq!(free_locked(&mut v, t, "USDT").1, "490.00000000");
    assert_eq!(free_locked(&mut v, t, "BTC").1, "0.00000000");
}

// rule: stop_orders
#[test]
fn stop_orders_on_the_order_endpoint_wait_and_trigger_on_the_price() {
    let mut v = venue();
    let t = T0 + 10;
    // A take-profit sell above the last price (50000): the price row at 60 s (50100)
    // reaches it.
    let placed = ok(&post(
        &mut v,
        t,
        "/api/v3/order",
        "symbol=BTCUSDT&side=SELL&type=TAKE_PROFIT&quantity=0.1&stopPrice=50050&newClientOrderId=tp",
    ));
    assert_eq!(
        keys(&placed),
        [
            "clientOrderId",
            "orderId",
            "orderListId",
            "symbol",
            "transactTime"
        ],
        "stop orders answer ACK by default"
    );
    let q = ok(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=tp",
    ));
    assert_eq!(
        (
            &q["type"],
            &q["status"],
            &q["stopPrice"],
            &q["isWorking"],
            &q["price"]
        ),
        (
            &Value::from("TAKE_PROFIT"),
            &Value::from("NEW"),
            &Value::from("50050.00000000"),
            &Value::from(false),
            &Value::from("0.00000000")
        )
    );
    let q = ok(&signed(
        &mut v,
        T0 + 60_001,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=tp",
    ));
    assert_eq!(q["status"], "FILLED");
    assert_eq!(q["isWorking"], true);
    // Triggered when the venue reached the price row: at or after it.
    assert!(q["workingTime"].as_u64().unwrap() >= T0 + 60_000);

    let cases: [(&str, i64); 3] = [
        // Already reached: a sell stop-loss above the last price.
        (
            "side=SELL&type=STOP_LOSS&quantity=0.1&stopPrice=51000",
            -2010,
        ),
        ("side=SELL&type=STOP_LOSS&quantity=0.1", -1102),
        (
            "side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.1&price=51000&stopPrice=50000",
            -1106,
        ),
    ];
    for (params, code) in cases {
        let r = post(
            &mut v,
            T0 + 60_002,
            "/api/v3/order",
            &format!("symbol=BTCUSDT&{params}"),
        );
        assert_eq!(error(&r), (400, code), "{params}");
    }
    let r = post(
        &mut v,
        T0 + 60_002,
        "/api/v3/order",
        "symbol=BTCUSDT&side=SELL&type=STOP_LOSS&quantity=0.1&stopPrice=51000",
    );
    assert_eq!(json(&r)["msg"], "Order would trigger immediately.");
}

fn cancel_replace(v: &mut Venue, t: u64, mode: &str, cancel: &str, new: &str) -> Reply {
    post(
        v,
        t,
        "/api/v3/order/cancelReplace",
        &format!("symbol=BTCUSDT&cancelReplaceMode={mode}&{cancel}&{new}"),
    )
}

const REST: &str =
    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=49000&newClientOrderId=r1";
const NEW_OK: &str = "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=49100";
/// A limit maker that would take: refused (-2010).
const NEW_BAD: &str = "side=BUY&type=LIMIT_MAKER&quantity=0.01&price=50100";

// rule: cancel_replace
#[test]
fn cancel_replace_answers_each_outcome_as_binance_does() {
    let mut v = venue();
    let t = T0 + 10;
    ok(&post(&mut v, t, "/api/v3/order", REST));
    let both = cancel_replace(
        &mut v,
        t,
        "STOP_ON_FAILURE",
        "cancelOrigClientOrderId=r1",
        &format!("{NEW_OK}&newClientOrderId=r2"),
    );
    let body = String::from_utf8_lossy(&both.body).to_string();
    assert!(
        body.starts_with("{\"cancelResult\":\"SUCCESS\",\"newOrderResult\":\"SUCCESS\","),
        "{body}"
    );
    let b = ok(&both);
    assert_eq!(b["cancelResponse"]["status"], "CANCELED");
    assert_eq!(b["newOrderResponse"]["status"], "NEW");
    assert_eq!(b["newOrderResponse"]["clientOrderId"], "r2");

    // The cancel fails: STOP_ON_FAILURE attempts nothing.
    let r = cancel_replace(
        &mut v,
        t,
        "STOP_ON_FAILURE",
        "cancelOrigClientOrderId=r1",
        NEW_OK,
    );
    assert_eq!(error(&r), (400, -2022));
    let e = json(&r);
    assert_eq!(e["msg"], "Order cancel-replace failed.");
    assert_eq!(e["data"]["cancelResult"], "FAILURE");
    assert_eq!(e["data"]["newOrderResult"], "NOT_ATTEMPTED");
    assert_eq!(e["data"]["cancelResponse"]["code"], -2011);
    assert_eq!(e["data"]["newOrderResponse"], Value::Null);

    // ALLOW_FAILURE places anyway.
    let r = cancel_replace(
        &mut v,
        t,
        "ALLOW_FAILURE",
        "cancelOrigClientOrderId=r1",
        NEW_OK,
    );
    assert_eq!(error(&r), (409, -2021));
    let e = json(&r);
    assert_eq!(e["msg"], "Order cancel-replace partially failed.");
    assert_eq!(e["data"]["cancelResult"], "FAILURE");
    assert_eq!(e["data"]["newOrderResult"], "SUCCESS");
    assert_eq!(e["data"]["newOrderResponse"]["status"], "NEW");

    // The cancel succeeds, the new order is refused.
    let r = cancel_replace(
        &mut v,
        t,
        "STOP_ON_FAILURE",
        "cancelOrigClientOrderId=r2",
        NEW_BAD,
    );
    assert_eq!(error(&r), (409, -2021));
    let e = json(&r);
    assert_eq!(e["data"]["cancelResult"], "SUCCESS");
    assert_eq!(e["data"]["cancelResponse"]["status"], "CANCELED");
    assert_eq!(e["data"]["newOrderResult"], "FAILURE");
    assert_eq!(e["data"]["newOrderResponse"]["code"], -2010);
    assert_eq!(
        e["data"]["newOrderResponse"]["msg"],
        "Order would immediately match and take."
    );

    // Both fail.
    let r = cancel_replace(
        &mut v,
        t,
        "ALLOW_FAILURE",
        "cancelOrigClientOrderId=r2",
        NEW_BAD,
    );
    assert_eq!(error(&r), (400, -2022));
    assert_eq!(json(&r)["data"]["newOrderResult"], "FAILURE");

    // An id that does not match the order named by cancelOrderId is a failed cancel.
    let open = ok(&signed(&mut v, t, Method::Get, "/api/v3/openOrders", ""));
    let id = open[0]["orderId"].as_u64().unwrap();
    let r = cancel_replace(
        &mut v,
        t,
        "STOP_ON_FAILURE",
        &format!("cancelOrderId={id}&cancelOrigClientOrderId=nope"),
        NEW_OK,
    );
    assert_eq!(error(&r), (400, -2022));
    let r = cancel_replace(&mut v, t, "SOMETIMES", "cancelOrderId=1", NEW_OK);
    assert_eq!(error(&r), (400, -1100));
}

// rule: order_lists
#[test]
fn the_deprecated_oco_endpoint_still_places_a_list() {
    let mut v = venue();
    let t = T0 + 10;
    let placed = ok(&post(
        &mut v,
        t,
        "/api/v3/order/oco",
        "symbol=BTCUSDT&side=SELL&quantity=0.2&price=50300&stopPrice=49700\
&stopLimitPrice=49600&stopLimitTimeInForce=GTC",
    ));
    assert_eq!(placed["contingencyType"], "OCO");
    let r = &placed["orderReports"];
    assert_eq!(r[0]["type"], "STOP_LOSS_LIMIT");
    assert_eq!(r[0]["price"], "49600.00000000");
    assert_eq!(r[1]["type"], "LIMIT_MAKER");
    assert_eq!(r[1]["price"], "50300.00000000");
}

// rule: order_lists
#[test]
fn list_requests_suffer_faults_and_the_record_shows_the_list() {
    let csv = format!("{SCENARIO}0,fault,,,,,kind=response_lost;count=1\n");
    let mut v = venue_with(&csv, "none");
    let t = T0 + 10;
    let r = post(&mut v, t, "/api/v3/orderList/oco", SELL_OCO);
    assert!(matches!(r.delivery, Delivery::Drop | Delivery::Stall(_)));
    let rec: Value = serde_json::from_str(r.record.as_deref().unwrap()).unwrap();
    assert_eq!(rec["faults"], serde_json::json!(["response_lost"]));
    assert_eq!(rec["list"]["listClientOrderId"], "oco-1");
    assert_eq!(rec["list"]["contingencyType"], "OCO");
    assert_eq!(rec["list"]["orders"].as_array().unwrap().len(), 2);
    assert_eq!(rec["list"]["orders"][1]["clientOrderId"], "tp-1");
    // It was placed: the lost answer hid it, a query finds it.
    let lists = ok(&signed(
        &mut v,
        t + 1,
        Method::Get,
        "/api/v3/openOrderList",
        "",
    ));
    assert_eq!(lists[0]["listClientOrderId"], "oco-1");
}

// rule: order_lists
#[test]
fn exchange_info_lists_the_new_types_and_list_filters() {
    let mut v = venue();
    let info = json(&public(&mut v, T0, "/api/v3/exchangeInfo", ""));
    let s = &info["symbols"][0];
    assert_eq!(s["ocoAllowed"], true);
    assert_eq!(s["otoAllowed"], true);
    assert_eq!(s["cancelReplaceAllowed"], true);
    let types: Vec<&str> = s["orderTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in [
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    ] {
        assert!(types.contains(&t), "{t}");
    }
    let filters: Vec<&str> = s["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filterType"].as_str().unwrap())
        .collect();
    for f in [
        "MAX_NUM_ORDERS",
        "MAX_NUM_ALGO_ORDERS",
        "MAX_NUM_ORDER_LISTS",
    ] {
        assert!(filters.contains(&f), "{f}");
    }
}

// rule: order_lists
#[test]
fn the_user_data_stream_reports_a_list_as_it_starts_and_as_it_ends() {
    let mut v = venue();
    let t = T0 + 10;
    let _ = v.user_events(t);
    let placed = ok(&post(&mut v, t, "/api/v3/orderList/oco", SELL_OCO));
    let id = placed["orderListId"].as_u64().unwrap();
    let events: Vec<Value> = v
        .user_events(t)
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["e"].as_str().unwrap()).collect();
    // Each leg's report, then the list, then the balances (Binance's order of events).
    assert_eq!(
        kinds,
        [
            "executionReport",
            "executionReport",
            "listStatus",
            "outboundAccountPosition"
        ]
    );
    let list = &events[2];
    assert_eq!(list["g"], id);
    assert_eq!(list["c"], "OCO");
    assert_eq!(list["l"], "EXEC_STARTED");
    assert_eq!(list["L"], "EXECUTING");
    assert_eq!(list["C"], "oco-1");
    let legs: Vec<&str> = list["O"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["c"].as_str().unwrap())
        .collect();
    assert_eq!(legs, ["sl-1", "tp-1"]);
    // Nothing changed: no event.
    assert!(v.user_events(t + 1).is_empty());
    let t = t + 2;
    ok(&signed(
        &mut v,
        t,
        Method::Delete,
        "/api/v3/orderList",
        &format!("symbol=BTCUSDT&orderListId={id}"),
    ));
    let ended: Vec<Value> = v
        .user_events(t)
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .filter(|e: &Value| e["e"] == "listStatus")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["l"], "ALL_DONE");
    assert_eq!(ended[0]["L"], "ALL_DONE");
    assert_eq!(ended[0]["g"], id);
}

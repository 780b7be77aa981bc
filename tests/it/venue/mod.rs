//! The venue's Binance dialect, driven through its sans-IO core: shapes against recorded
//! Binance answers, security, parameter errors, limits, faults and the record.

mod dialect;
mod faults;
mod fees;
mod fuzz;

use order_router::sim::scenario::parse;
use order_router::venue::{
    self, Credentials, Delivery, Limits, Method, Reply, Request, Setup, Venue,
};
use serde_json::Value;

const KEY: &str = "test-key";
const SECRET: &str = "test-secret";
/// Wall-clock start of every test venue.
const T0: u64 = 1_700_000_000_000;

const SCENARIO: &str = "t_ms,action,symbol,side,qty,price,params
0,config,,,,,seed=7;venue_min_notional=5
0,balance,USDT,,10000,,
0,balance,BTC,,2,,
0,price,BTC/USDT,,,50000,spread_bps=2;depth=1
60000,price,BTC/USDT,,,50100,spread_bps=2;depth=1
";

fn setup(csv: &str, profile: &str, limits: Limits) -> Setup {
    Setup {
        scenario: parse("test.csv", csv.as_bytes()).expect("scenario"),
        credentials: Credentials::new(KEY, SECRET).expect("key"),
        seed: 7,
        profile: venue::profile(profile).expect("profile"),
        limits,
        speed: 1,
        stall_ms: 1_000,
    }
}

fn venue_with(csv: &str, profile: &str) -> Venue {
    let mut v = Venue::new(setup(csv, profile, Limits::default()), T0);
    v.record();
    v
}

fn venue() -> Venue {
    venue_with(SCENARIO, "none")
}

fn public(v: &mut Venue, now: u64, path: &str, query: &str) -> Reply {
    v.handle(
        now,
        &Request {
            method: Method::Get,
            path,
            query,
            body: b"",
            api_key: None,
            client: "127.0.0.1",
        },
    )
}

/// A SIGNED request as a client builds it: `timestamp` added, the query signed.
fn signed(v: &mut Venue, now: u64, method: Method, path: &str, params: &str) -> Reply {
    let sep = if params.is_empty() { "" } else { "&" };
    let q = format!("{params}{sep}timestamp={now}");
    let sig = Credentials::new(KEY, SECRET).unwrap().sign(q.as_bytes());
    let query = format!("{q}&signature={sig}");
    v.handle(
        now,
        &Request {
            method,
            path,
            query: &query,
            body: b"",
            api_key: Some(KEY),
            client: "127.0.0.1",
        },
    )
}

fn json(r: &Reply) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)))
}

/// `(status, code)` of an error reply.
fn error(r: &Reply) -> (u16, i64) {
    let v = json(r);
    (
        r.status,
        v["code"].as_i64().unwrap_or_else(|| panic!("no code: {v}")),
    )
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

/// The recorded real Binance answers (CCXT's test fixtures).
fn recorded(method: &str) -> Value {
    let text = std::fs::read_to_string("../shared/data/exchange/binance_spot_responses_ccxt.json")
        .expect("recorded Binance responses");
    let all: Value = serde_json::from_str(&text).expect("json");
    all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == method)
        .unwrap_or_else(|| panic!("no recorded {method}"))["httpResponse"]
        .clone()
}

fn first(v: Value) -> Value {
    v.as_array().and_then(|a| a.first().cloned()).unwrap_or(v)
}

#[test]
fn answers_have_the_fields_of_recorded_binance_answers() {
    let mut v = venue();
    let t = T0 + 10;
    let placed = signed(&mut v, t, Method::Post, "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=49000&newClientOrderId=rest-1");
    assert_eq!(
        placed.status,
        200,
        "{}",
        String::from_utf8_lossy(&placed.body)
    );
    let mut want = recorded("createOrder");
    // Conditional fields of the recorded order (an iceberg) that a plain order lacks.
    want.as_object_mut().unwrap().remove("icebergQty");
    assert_eq!(keys(&json(&placed)), keys(&want));
    assert_eq!(json(&placed)["status"], "NEW");

    let q = signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=rest-1",
    );
    assert_eq!(keys(&json(&q)), keys(&recorded("fetchOrder")));
    let open = signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/openOrders",
        "symbol=BTCUSDT",
    );
    assert_eq!(
        keys(&first(json(&open))),
        keys(&first(recorded("fetchOpenOrders")))
    );
    let all = signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/allOrders",
        "symbol=BTCUSDT",
    );
    assert_eq!(
        keys(&first(json(&all))),
        keys(&first(recorded("fetchOrders")))
    );

    let taker = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.002&newClientOrderId=rest-2",
    );
    assert_eq!(json(&taker)["status"], "FILLED");
    let trades = signed(&mut v, t, Method::Get, "/api/v3/myTrades", "symbol=BTCUSDT");
    let mut want = first(recorded("fetchMyTrades"));
    want.as_object_mut().unwrap().remove("orderListId");
    let mut got = first(json(&trades));
    got.as_object_mut().unwrap().remove("orderListId");
    assert_eq!(keys(&got), keys(&want));
    let account = signed(&mut v, t, Method::Get, "/api/v3/account", "");
    assert_eq!(keys(&json(&account)), keys(&recorded("fetchBalance")));

    let depth = public(&mut v, t, "/api/v3/depth", "symbol=BTCUSDT&limit=2");
    assert_eq!(keys(&json(&depth)), keys(&recorded("fetchOrderBook")));
    assert_eq!(json(&depth)["asks"].as_array().unwrap().len(), 2);
    let ticker = public(&mut v, t, "/api/v3/ticker/24hr", "symbol=BTCUSDT");
    assert_eq!(keys(&json(&ticker)), keys(&recorded("fetchTicker")));
    let klines = public(&mut v, t, "/api/v3/klines", "symbol=BTCUSDT&interval=1m");
    let want = first(recorded("fetchOHLCV"));
    assert_eq!(
        first(json(&klines)).as_array().unwrap().len(),
        want.as_array().unwrap().len()
    );
}

#[test]
fn a_market_sell_fills_across_levels_and_the_account_shows_it() {
    let mut v = venue();
    let t = T0 + 5;
    let r = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=1.5&newOrderRespType=FULL",
    );
    let o = json(&r);
    assert_eq!(o["status"], "FILLED", "{o}");
    assert_eq!(o["type"], "MARKET");
    assert_eq!(o["price"], "0.00000000");
    let fills = o["fills"].as_array().unwrap();
    assert_eq!(fills.len(), 2, "two levels of depth 1: {o}");
    assert_eq!(fills[0]["price"], "49995.00000000");
    assert_eq!(fills[1]["qty"], "0.50000000");
    let a = json(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/account",
        "omitZeroBalances=true",
    ));
    let btc = a["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == "BTC")
        .unwrap();
    assert_eq!(btc["free"], "0.50000000", "{a}");
    // A market buy by what it spends.
    let r = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=1000&newOrderRespType=RESULT",
    );
    let o = json(&r);
    assert_eq!(o["status"], "FILLED", "{o}");
    assert_eq!(o["origQuoteOrderQty"], "1000.00000000");
    assert!(o.get("fills").is_none(), "RESULT has no fills");
    let spent: f64 = o["cummulativeQuoteQty"].as_str().unwrap().parse().unwrap();
    assert!(spent <= 1000.0 && spent > 999.0, "{o}");
}

#[test]
fn a_resting_order_fills_when_the_market_moves_and_is_a_maker_trade() {
    let mut v = venue();
    let r = signed(&mut v, T0 + 1, Method::Post, "/api/v3/order",
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50090&newClientOrderId=rest");
    assert_eq!(json(&r)["status"], "NEW");
    // One minute later the scenario moves the mid to 50,100: the bid crosses the order.
    let q = signed(
        &mut v,
        T0 + 60_001,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=rest",
    );
    let o = json(&q);
    assert_eq!(o["status"], "FILLED", "{o}");
    assert!(o["updateTime"].as_u64().unwrap() > o["time"].as_u64().unwrap());
    let t = json(&signed(
        &mut v,
        T0 + 60_002,
        Method::Get,
        "/api/v3/myTrades",
        "symbol=BTCUSDT",
    ));
    assert_eq!(t[0]["isMaker"], true, "{t}");
    assert_eq!(t[0]["isBuyer"], false);
    // The public tape shows it too: the buyer (the book) took the resting sell.
    let tape = json(&public(
        &mut v,
        T0 + 60_002,
        "/api/v3/aggTrades",
        "symbol=BTCUSDT",
    ));
    assert_eq!(tape[0]["m"], false, "{tape}");
    assert_eq!(tape[0]["p"], "50094.99000000", "the book level it met");
    let recent = json(&public(
        &mut v,
        T0 + 60_002,
        "/api/v3/trades",
        "symbol=BTCUSDT&limit=1",
    ));
    assert_eq!(recent.as_array().unwrap().len(), 1);
    assert_eq!(recent[0]["qty"], "0.01000000");
    // Cancelling a filled order is Binance's -2011.
    let c = signed(
        &mut v,
        T0 + 60_003,
        Method::Delete,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=rest",
    );
    assert_eq!(error(&c), (400, -2011));
}

#[test]
fn fill_or_kill_fills_whole_or_not_at_all() {
    let mut v = venue();
    let t = T0 + 1;
    // Three levels of depth 1 within 50,015: 1.5 fills whole...
    let o = json(&signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=FOK&quantity=0.15&price=50015",
    ));
    assert_eq!(
        (o["status"].as_str(), o["timeInForce"].as_str()),
        (Some("FILLED"), Some("FOK")),
        "{o}"
    );
    // ...but not more than the levels within the limit hold: nothing fills.
    let o = json(&signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=FOK&quantity=1.5&price=49995",
    ));
    assert_eq!(o["status"], "EXPIRED", "{o}");
    assert_eq!(o["executedQty"], "0.00000000");
    assert!(o["fills"].as_array().unwrap().is_empty());
}

#[test]
fn open_orders_are_cancelled_and_their_funds_released() {
    let mut v = venue();
    let t = T0 + 1;
    for id in ["a", "b"] {
        let r = signed(&mut v, t, Method::Post, "/api/v3/order",
            &format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000&newClientOrderId={id}"));
        assert_eq!(r.status, 200);
    }
    let a = json(&signed(&mut v, t, Method::Get, "/api/v3/account", ""));
    let usdt = |a: &Value, f: &str| -> f64 {
        a["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["asset"] == "USDT")
            .unwrap()[f]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    // Two buys of 0.01 at 40000 lock their price only: the fee will be paid in BTC.
    assert_eq!(usdt(&a, "locked"), 800.0, "{a}");
    // The same client id again while it is open: Binance's duplicate.
    let dup = signed(&mut v, t, Method::Post, "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000&newClientOrderId=a");
    assert_eq!(error(&dup), (400, -2010));
    assert_eq!(json(&dup)["msg"], "Duplicate order sent.");
    let c = json(&signed(
        &mut v,
        t,
        Method::Delete,
        "/api/v3/order",
        "symbol=BTCUSDT&orderId=1&newClientOrderId=my-cancel",
    ));
    assert_eq!(c["status"], "CANCELED");
    assert_eq!(c["origClientOrderId"], "a");
    assert_eq!(c["clientOrderId"], "my-cancel");
    let all = json(&signed(
        &mut v,
        t,
        Method::Delete,
        "/api/v3/openOrders",
        "symbol=BTCUSDT",
    ));
    assert_eq!(all.as_array().unwrap().len(), 1);
    let a = json(&signed(&mut v, t, Method::Get, "/api/v3/account", ""));
    assert_eq!(usdt(&a, "locked"), 0.0);
    assert_eq!(usdt(&a, "free"), 10_000.0);
    assert_eq!(
        error(&signed(
            &mut v,
            t,
            Method::Delete,
            "/api/v3/openOrders",
            "symbol=BTCUSDT"
        )),
        (400, -2011)
    );
    assert_eq!(
        error(&signed(
            &mut v,
            t,
            Method::Get,
            "/api/v3/order",
            "symbol=BTCUSDT&orderId=99"
        )),
        (400, -2013)
    );
}

#[test]
fn bad_requests_get_binance_errors() {
    let mut v = venue();
    let t = T0 + 1;
    let order = "/api/v3/order";
    let cases: &[(&str, u16, i64)] = &[
        ("symbol=NOPE&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1", 400, -1121),
        ("symbol=BTCUSDT&side=UP&type=LIMIT&timeInForce=GTC&quantity=1&price=1", 400, -1117),
        ("symbol=BTCUSDT&side=BUY&type=STOP&quantity=1", 400, -1116),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTD&quantity=1&price=1", 400, -1115),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=1", 400, -1102),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=1", 400, -1102),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1e3&price=1", 400, -1100),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000000001&price=1", 400, -1111),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=50000&color=red", 400, -1104),
        ("symbol=BTCUSDT&symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1", 400, -1101),
        ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&price=5", 400, -1106),
        ("symbol=BTCUSDT&side=BUY&type=MARKET", 400, -1102),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000015&price=50000", 400, -1013),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=50000.000000001", 400, -1111),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=50000.005", 400, -1013),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00001&price=50000", 400, -1013),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=50000", 400, -2010),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.001&price=50010", 400, -2010),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=50000&newOrderRespType=ALL", 400, -1136),
    ];
    for (params, status, code) in cases {
        let r = signed(&mut v, t, Method::Post, order, params);
        assert_eq!(
            error(&r),
            (*status, *code),
            "{params}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let msg = |r: &Reply| json(r)["msg"].as_str().unwrap().to_string();
    let r = signed(
        &mut v,
        t,
        Method::Post,
        order,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00001&price=50000",
    );
    assert_eq!(msg(&r), "Filter failure: NOTIONAL");
    let r = signed(
        &mut v,
        t,
        Method::Post,
        order,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=50000",
    );
    assert_eq!(
        msg(&r),
        "Account has insufficient balance for requested action."
    );
    assert_eq!(
        error(&public(
            &mut v,
            t,
            "/api/v3/klines",
            "symbol=BTCUSDT&interval=2m"
        )),
        (400, -1120)
    );
    assert_eq!(
        error(&public(&mut v, t, "/api/v3/nothing", "")),
        (404, -1000)
    );
    assert_eq!(
        error(&signed(
            &mut v,
            t,
            Method::Get,
            "/api/v3/order",
            "symbol=BTCUSDT"
        )),
        (400, -1102)
    );
    // Nothing above executed: no order exists.
    assert_eq!(v.exchange().order_count(), 0);
}

#[test]
fn security_keys_signatures_and_the_receive_window() {
    let mut v = venue();
    let t = T0 + 1;
    let req = |query: &str, key: Option<&'static str>| -> (String, Option<&'static str>) {
        (query.to_string(), key)
    };
    let c = Credentials::new(KEY, SECRET).unwrap();
    let good = |ts: u64, extra: &str| {
        let q = format!("{extra}timestamp={ts}");
        format!("{q}&signature={}", c.sign(q.as_bytes()))
    };
    let cases = [
        (req(&good(t, ""), None), 401, -2014),
        (req(&good(t, ""), Some("wrong-key")), 401, -2015),
        (
            req(
                &format!("timestamp={t}&signature={}", "00".repeat(32)),
                Some(KEY),
            ),
            400,
            -1022,
        ),
        (
            req(&format!("timestamp={t}&signature=zz"), Some(KEY)),
            400,
            -1022,
        ),
        (req(&format!("timestamp={t}"), Some(KEY)), 400, -1102),
        (req(&good(t - 5_001, ""), Some(KEY)), 400, -1021),
        (req(&good(t + 1_000, ""), Some(KEY)), 400, -1021),
        (req(&good(t, "recvWindow=60001&"), Some(KEY)), 400, -1131),
    ];
    for ((query, key), status, code) in cases {
        let r = v.handle(
            t,
            &Request {
                method: Method::Get,
                path: "/api/v3/account",
                query: &query,
                body: b"",
                api_key: key,
                client: "127.0.0.1",
            },
        );
        assert_eq!(error(&r), (status, code), "{query} {key:?}");
    }
    // A wider window, a timestamp in microseconds, and the signature in upper case pass.
    for query in [good(t - 9_000, "recvWindow=10000&"), good(t * 1_000, "")] {
        let r = v.handle(
            t,
            &Request {
                method: Method::Get,
                path: "/api/v3/account",
                query: &query,
                body: b"",
                api_key: Some(KEY),
                client: "127.0.0.1",
            },
        );
        assert_eq!(r.status, 200, "{query}");
    }
    // Signed in the body, as CCXT sends a POST.
    let q = format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=50010&timestamp={t}&recvWindow=10000");
    let body = format!("{q}&signature={}", c.sign(q.as_bytes()).to_uppercase());
    let r = v.handle(
        t,
        &Request {
            method: Method::Post,
            path: "/api/v3/order",
            query: "",
            body: body.as_bytes(),
            api_key: Some(KEY),
            client: "127.0.0.1",
        },
    );
    assert_eq!(json(&r)["status"], "FILLED");
}

#[test]
fn klines_and_tickers_follow_the_scenario_market() {
    let mut v = venue();
    let t = T0 + 90_000;
    let k = json(&public(
        &mut v,
        t,
        "/api/v3/klines",
        "symbol=BTCUSDT&interval=1m&limit=500",
    ));
    let rows = k.as_array().unwrap();
    assert!(rows.len() >= 2, "{k}");
    let last = rows.last().unwrap();
    assert_eq!(last[4], "50100.00000000", "{k}");
    assert_eq!(rows[0][1], "50000.00000000");
    let p = json(&public(&mut v, t, "/api/v3/ticker/price", ""));
    assert_eq!(p.as_array().unwrap().len(), 1, "all markets: an array");
    let p = json(&public(&mut v, t, "/api/v3/ticker/price", "symbol=BTCUSDT"));
    assert_eq!(p["price"], "50100.00000000");
    let b = json(&public(
        &mut v,
        t,
        "/api/v3/ticker/bookTicker",
        "symbols=%5B%22BTCUSDT%22%5D",
    ));
    assert_eq!(b[0]["bidPrice"], "50094.99000000", "{b}");
    // Five minutes: 60 s at 50,000 and 30 s at 50,100.
    let avg = json(&public(&mut v, t, "/api/v3/avgPrice", "symbol=BTCUSDT"));
    assert_eq!(avg["price"], "50033.33333333", "{avg}");
    // A test order is checked like a real one and executes nothing.
    let bad = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order/test",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=1",
    );
    assert_eq!(error(&bad), (400, -1102));
    let ok = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order/test",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=50000",
    );
    assert_eq!(json(&ok), serde_json::json!({}));
    assert_eq!(v.exchange().order_count(), 0);
    let info = json(&public(&mut v, t, "/api/v3/exchangeInfo", ""));
    let filters = &info["symbols"][0]["filters"];
    let f = |name: &str| {
        filters
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["filterType"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(f("PRICE_FILTER")["tickSize"], "0.01000000");
    assert_eq!(f("LOT_SIZE")["stepSize"], "0.00001000");
    assert_eq!(f("NOTIONAL")["minNotional"], "5.00000000");
}

#[test]
fn a_recorded_binance_tape_drives_the_book_and_the_klines() {
    let tape = order_router::sim::market::load(std::path::Path::new(
        "../shared/data/market/binance_spot_btcusdt_trades_20210108.csv",
    ))
    .expect("the recorded trades");
    let mut s = setup(SCENARIO, "none", Limits::default());
    let btc = order_router::model::Symbol::parse("BTC/USDT").unwrap();
    s.scenario.replay_market(&btc, &tape);
    let span = tape.last().unwrap().t_ms;
    let mut v = Venue::new(s, T0);
    let t = T0 + span + 1;
    let k = json(&public(
        &mut v,
        t,
        "/api/v3/klines",
        "symbol=BTCUSDT&interval=1s&limit=1000",
    ));
    let rows = k.as_array().unwrap();
    assert!(rows.len() > 10, "{} candles", rows.len());
    let price = |x: &Value| x.as_str().unwrap().parse::<f64>().unwrap();
    let (lo, hi) = tape.iter().fold((f64::MAX, 0f64), |(lo, hi), t| {
        let m: f64 = t.mid.to_string().parse().unwrap();
        (lo.min(m), hi.max(m))
    });
    for r in rows {
        assert!(price(&r[2]) <= hi && price(&r[3]) >= lo, "{r}");
    }
    let last: f64 = tape.last().unwrap().mid.to_string().parse().unwrap();
    assert_eq!(price(&rows.last().unwrap()[4]), last);
    // The book stands around the tape's last price.
    let b = json(&public(
        &mut v,
        t,
        "/api/v3/ticker/bookTicker",
        "symbol=BTCUSDT",
    ));
    assert!(
        price(&b["bidPrice"]) < last && price(&b["askPrice"]) > last,
        "{b}"
    );
}

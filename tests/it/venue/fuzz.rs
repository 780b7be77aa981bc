//! Any request, well-formed or not, gets a JSON answer (a Binance error code and message when it
//! fails) and a record line; signed requests leave no balance negative.

use super::*;
use proptest::prelude::*;

const PATHS: &[&str] = &[
    "/api/v3/ping",
    "/api/v3/time",
    "/api/v3/exchangeInfo",
    "/api/v3/depth",
    "/api/v3/ticker/24hr",
    "/api/v3/ticker/price",
    "/api/v3/ticker/bookTicker",
    "/api/v3/klines",
    "/api/v3/order",
    "/api/v3/openOrders",
    "/api/v3/allOrders",
    "/api/v3/myTrades",
    "/api/v3/account",
    "/api/v3/",
    "/",
];
const NAMES: &[&str] = &[
    "symbol",
    "symbols",
    "side",
    "type",
    "timeInForce",
    "quantity",
    "quoteOrderQty",
    "price",
    "newClientOrderId",
    "origClientOrderId",
    "orderId",
    "newOrderRespType",
    "limit",
    "startTime",
    "endTime",
    "fromId",
    "interval",
    "recvWindow",
    "omitZeroBalances",
    "selfTradePreventionMode",
    "cancelRestrictions",
    "timeZone",
    "type",
];
const VALUES: &[&str] = &[
    "BTCUSDT",
    "ETHUSDT",
    "BUY",
    "SELL",
    "LIMIT",
    "MARKET",
    "LIMIT_MAKER",
    "GTC",
    "IOC",
    "0",
    "1",
    "0.001",
    "50000",
    "49990.5",
    "1e9",
    "-1",
    "99999999999999999999999",
    "0.000000001",
    "",
    "[\"BTCUSDT\"]",
    "[",
    "1m",
    "1w",
    "ACK",
    "RESULT",
    "FULL",
    "18446744073709551616",
    "5000",
    "60000",
    "true",
    "x",
    "\u{7f}",
    "%",
    "1.",
];

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Get),
        Just(Method::Post),
        Just(Method::Delete),
        Just(Method::Put),
        Just(Method::Other)
    ]
}

fn check(r: &Reply) {
    let v: Value = serde_json::from_slice(&r.body).expect("every answer is JSON");
    if r.status != 200 {
        assert!(v["code"].is_i64(), "{v}");
        assert!(v["msg"].is_string(), "{v}");
        assert!((400..600).contains(&r.status), "{}", r.status);
    }
    let _: Value =
        serde_json::from_str(r.record.as_deref().unwrap()).expect("the record line is JSON");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    /// Raw bytes anywhere: never a panic, always Binance's error shape.
    #[test]
    // rule: reservation_non_negative
    fn raw_requests(m in method(), path in prop::sample::select(PATHS),
                    query in "[a-zA-Z0-9=&%._\\-\\[\\]\"]{0,80}",
                    body in prop::collection::vec(any::<u8>(), 0..80),
                    key in prop::option::of(prop_oneof![Just(KEY), Just("x y"), Just("other")])) {
        let mut v = venue_with(SCENARIO, "rough");
        let r = v.handle(T0 + 1, &Request {
            method: m, path, query: &query, body: &body, api_key: key, client: "c",
        });
        check(&r);
    }

    /// Well-signed requests with every parameter the venue knows, valid or not.
    #[test]
    // rule: reservation_non_negative
    fn signed_requests(m in method(), path in prop::sample::select(PATHS),
                       params in prop::collection::vec(
                           (prop::sample::select(NAMES), prop::sample::select(VALUES)), 0..8),
                       dt in 0u64..120_000) {
        let mut v = venue_with(SCENARIO, "rough");
        let query: Vec<String> = params.iter()
            .map(|(k, val)| format!("{k}={}", val.replace('%', "%25").replace('"', "%22")))
            .collect();
        let r = signed(&mut v, T0 + dt, m, path, &query.join("&"));
        check(&r);
        // Whatever happened, the venue's books still balance: nothing negative.
        for (_, f) in v.exchange().assets() {
            prop_assert!(f.free >= rust_decimal::Decimal::ZERO && f.locked >= rust_decimal::Decimal::ZERO);
        }
    }
}

//! Where the venue's dialect must match Binance spot's: caps, ticker types, the record's
//! naming of faults, and what faults may do to a resting order.

use super::*;

#[test]
fn a_limit_above_the_maximum_is_capped_not_refused() {
    let mut v = venue();
    // Over half an hour of 1s candles: more than 1,000 exist.
    let t = T0 + 2_000_000;
    for (path, query, max) in [
        ("/api/v3/klines", "symbol=BTCUSDT&interval=1s&limit=", 1_000),
        (
            "/api/v3/uiKlines",
            "symbol=BTCUSDT&interval=1s&limit=",
            1_000,
        ),
        ("/api/v3/trades", "symbol=BTCUSDT&limit=", 1_000),
        ("/api/v3/aggTrades", "symbol=BTCUSDT&limit=", 1_000),
        ("/api/v3/depth", "symbol=BTCUSDT&limit=", 5_000),
    ] {
        let over = public(&mut v, t, path, &format!("{query}{}", max * 5));
        assert_eq!(
            over.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&over.body)
        );
        let at_max = public(&mut v, t, path, &format!("{query}{max}"));
        assert_eq!(over.body, at_max.body, "{path}: capped at {max}");
        for bad in ["0", "abc", "-1"] {
            let r = public(&mut v, t, path, &format!("{query}{bad}"));
            if path == "/api/v3/depth" && bad == "0" {
                continue;
            }
            assert_eq!(error(&r), (400, -1100), "{path} limit={bad}");
        }
    }
    let k = json(&public(
        &mut v,
        t,
        "/api/v3/klines",
        "symbol=BTCUSDT&interval=1s&limit=99999",
    ));
    assert_eq!(k.as_array().unwrap().len(), 1_000);
}

#[test]
fn ticker_24hr_type_mini_is_answered_not_refused() {
    let mut v = venue();
    let t = T0 + 90_000;
    let full = json(&public(&mut v, t, "/api/v3/ticker/24hr", "symbol=BTCUSDT"));
    let mini = json(&public(
        &mut v,
        t,
        "/api/v3/ticker/24hr",
        "symbol=BTCUSDT&type=MINI",
    ));
    let mut want = vec![
        "symbol",
        "openPrice",
        "highPrice",
        "lowPrice",
        "lastPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    ];
    want.sort_unstable();
    assert_eq!(keys(&mini), want, "{mini}");
    for k in &want {
        assert_eq!(mini[k], full[k], "{k}");
    }
    assert_eq!(mini["lastPrice"], "50100.00000000");
    let all = json(&public(&mut v, t, "/api/v3/ticker/24hr", "type=MINI"));
    assert_eq!(all[0], mini, "all markets: an array of the same");
    let same = json(&public(
        &mut v,
        t,
        "/api/v3/ticker/24hr",
        "symbol=BTCUSDT&type=FULL",
    ));
    assert_eq!(same, full);
    let bad = public(&mut v, t, "/api/v3/ticker/24hr", "symbol=BTCUSDT&type=TINY");
    assert_eq!(error(&bad), (400, -1100));
    assert!(json(&bad)["msg"].as_str().unwrap().contains("FULL|MINI"));
}

fn record_of(r: &Reply) -> Value {
    serde_json::from_str(r.record.as_deref().expect("recording")).unwrap()
}

#[test]
fn the_record_names_reject_partial_and_requote_faults_not_null() {
    let csv = format!(
        "{SCENARIO}0,fault,,,,,kind=reject;count=1\n0,fault,,,,,kind=partial;ratio=0.5;count=1\n0,fault,,,,,kind=requote;bps=5;count=1\n"
    );
    let mut v = venue_with(&csv, "none");
    let t = T0 + 2;
    let mut seen = Vec::new();
    for i in 0..3 {
        let r = signed(&mut v, t, Method::Post, "/api/v3/order",
            &format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.002&price=50100&newClientOrderId=f{i}"));
        let rec = record_of(&r);
        let faults = rec["faults"].as_array().unwrap_or_else(|| panic!("{rec}"));
        assert_eq!(faults.len(), 1, "{rec}");
        seen.push(faults[0].as_str().unwrap().to_string());
    }
    seen.sort();
    assert_eq!(seen, ["partial", "reject", "requote"]);
    // A clean request names none.
    let q = signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=f2",
    );
    assert_eq!(record_of(&q)["faults"], serde_json::json!([]));
}

#[test]
fn a_lost_request_is_recorded_as_never_answered_not_as_a_503() {
    let csv = format!("{SCENARIO}0,fault,,,,,kind=request_lost;count=1\n");
    let mut v = venue_with(&csv, "none");
    let r = signed(&mut v, T0 + 2, Method::Post, "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=50100&newClientOrderId=gone");
    assert!(matches!(r.delivery, Delivery::Drop | Delivery::Stall(_)));
    let rec = record_of(&r);
    assert!(rec["status"].is_null(), "{rec}");
    assert!(rec["code"].is_null(), "{rec}");
    assert_eq!(rec["faults"], serde_json::json!(["request_lost"]));
    assert!(
        rec["delivery"] == "dropped" || rec["delivery"]["stalled_ms"].is_u64(),
        "{rec}"
    );
    assert!(rec["order"].is_null());
}

#[test]
fn a_gtc_order_that_does_not_cross_stays_new_under_partial_and_requote_faults() {
    let csv = format!(
        "{SCENARIO}0,fault,,,,,kind=partial;ratio=0.5;count=1\n0,fault,,,,,kind=requote;bps=50;count=1\n"
    );
    let mut v = venue_with(&csv, "none");
    let t = T0 + 2;
    for (i, (side, price)) in [("BUY", 49_000), ("SELL", 51_000), ("BUY", 49_500)]
        .into_iter()
        .enumerate()
    {
        let r = signed(&mut v, t, Method::Post, "/api/v3/order",
            &format!("symbol=BTCUSDT&side={side}&type=LIMIT&timeInForce=GTC&quantity=0.002&price={price}&newClientOrderId=g{i}"));
        let body = json(&r);
        assert_eq!(body["status"], "NEW", "{side} at {price}: {body}");
        assert_eq!(body["executedQty"], "0.00000000");
    }
    let open = json(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/openOrders",
        "symbol=BTCUSDT",
    ));
    assert_eq!(open.as_array().unwrap().len(), 3, "{open}");
    let maker = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.002&price=49000&newClientOrderId=m",
    );
    assert_eq!(json(&maker)["status"], "NEW");
}

#[test]
fn a_partly_filled_gtc_order_rests_rather_than_expires() {
    let csv = format!("{SCENARIO}0,fault,,,,,kind=partial;ratio=0.5;count=2\n");
    let mut v = venue_with(&csv, "none");
    let t = T0 + 2;
    let r = signed(&mut v, t, Method::Post, "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=50100&newClientOrderId=half");
    let body = json(&r);
    assert_eq!(body["status"], "PARTIALLY_FILLED", "{body}");
    assert_eq!(body["executedQty"], "0.00100000");
    assert_eq!(record_of(&r)["faults"], serde_json::json!(["partial"]));
    let open = json(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/openOrders",
        "symbol=BTCUSDT",
    ));
    assert_eq!(open[0]["clientOrderId"], "half", "{open}");
    // An immediate-or-cancel order still has the rest expire.
    let r = signed(&mut v, t, Method::Post, "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.002&price=50100&newClientOrderId=ioc");
    let body = json(&r);
    assert_eq!(
        (body["status"].as_str(), body["executedQty"].as_str()),
        (Some("EXPIRED"), Some("0.00100000")),
        "{body}"
    );
}

#[test]
fn the_startup_calls_of_ccxt_default_options_are_answered_not_unknown() {
    let mut v = venue();
    let t = T0 + 2;
    let coins = json(&signed(
        &mut v,
        t,
        Method::Get,
        "/sapi/v1/capital/config/getall",
        "",
    ));
    let names: Vec<&str> = coins
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["coin"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["BTC", "USDT"], "{coins}");
    assert_eq!(coins[1]["free"], "10000.00000000");
    assert_eq!(coins[0]["networkList"][0]["network"], "BTC");
    let fee = json(&signed(
        &mut v,
        t,
        Method::Get,
        "/sapi/v1/asset/tradeFee",
        "symbol=BTCUSDT",
    ));
    assert_eq!(fee[0]["symbol"], "BTCUSDT", "{fee}");
    assert!(fee[0]["makerCommission"].is_string());
    assert_eq!(fee[0]["makerCommission"], fee[0]["takerCommission"]);
    // Unsigned, it is refused as every SIGNED endpoint is.
    let r = public(&mut v, t, "/sapi/v1/asset/tradeFee", "");
    assert_ne!(r.status, 200);
    for (path, list) in [
        ("/fapi/v1/exchangeInfo", "symbols"),
        ("/dapi/v1/exchangeInfo", "symbols"),
        ("/eapi/v1/exchangeInfo", "optionSymbols"),
    ] {
        let info = json(&public(&mut v, t, path, ""));
        assert_eq!(info[list], serde_json::json!([]), "{path}: {info}");
    }
    let pairs = json(&signed(
        &mut v,
        t,
        Method::Get,
        "/sapi/v1/margin/allPairs",
        "",
    ));
    assert_eq!(pairs, serde_json::json!([]));
}

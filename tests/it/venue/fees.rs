//! Fees as Binance charges them, as the dialect shows them: a buy's commission in the base it
//! receives, a sell's in the quote, BNB at a discount while the account holds enough.

use super::*;

/// The free amount of `asset` in `/api/v3/account`, as a string.
fn free(v: &mut Venue, now: u64, asset: &str) -> String {
    let a = json(&signed(v, now, Method::Get, "/api/v3/account", ""));
    a["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["asset"] == asset)
        .map_or_else(
            || "0".to_string(),
            |b| b["free"].as_str().unwrap_or("").to_string(),
        )
}

#[test]
// rule: balances_match
fn a_market_buy_pays_its_commission_in_btc_and_the_account_holds_the_rest() {
    let csv = "t_ms,action,symbol,side,qty,price,params
0,balance,USDT,,10000,,
0,price,BTC/USDT,,,50000,spread_bps=2;depth=1
";
    let mut v = venue_with(csv, "none");
    let t = T0 + 1;
    let r = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newOrderRespType=FULL",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let o = json(&r);
    let fills = o["fills"].as_array().expect("fills");
    assert_eq!(fills.len(), 1, "{o}");
    assert_eq!(fills[0]["commissionAsset"], "BTC", "{o}");
    // 0.01 at 10 bps, on Binance's 8 decimals.
    assert_eq!(fills[0]["commission"], "0.00001000", "{o}");
    assert_eq!(o["executedQty"], "0.01000000");
    // The account holds the filled quantity less the commission: selling all of it fails.
    assert_eq!(free(&mut v, t, "BTC"), "0.00999000");
    let all = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.01",
    );
    assert_eq!(error(&all), (400, -2010));
    // myTrades says the same; the sell of what is held pays in USDT.
    let trades = json(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/myTrades",
        "symbol=BTCUSDT",
    ));
    assert_eq!(trades[0]["commissionAsset"], "BTC", "{trades}");
    assert_eq!(trades[0]["isBuyer"], true);
    let held = json(&signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.00999&newOrderRespType=FULL",
    ));
    assert_eq!(held["status"], "FILLED", "{held}");
    assert_eq!(held["fills"][0]["commissionAsset"], "USDT", "{held}");
    assert_eq!(free(&mut v, t, "BTC"), "0.00000000");
}

#[test]
// rule: balances_match
fn with_bnb_fees_the_commission_is_bnb_until_it_runs_out() {
    let csv = "t_ms,action,symbol,side,qty,price,params
0,config,,,,,fee_asset_mode=bnb;bnb_price=500
0,balance,USDT,,10000,,
0,balance,BNB,,0.001,,
0,price,BTC/USDT,,,50000,spread_bps=2;depth=1
";
    let mut v = venue_with(csv, "none");
    let t = T0 + 1;
    let buy = |v: &mut Venue, id: &str| {
        json(&signed(
            v,
            t,
            Method::Post,
            "/api/v3/order",
            &format!("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId={id}&newOrderRespType=FULL"),
        ))
    };
    // 500.05 USDT at 10 bps, 25% off, at 500 USDT a BNB: 0.000750075, rounded half up.
    let first = buy(&mut v, "b1");
    assert_eq!(first["fills"][0]["commissionAsset"], "BNB", "{first}");
    assert_eq!(first["fills"][0]["commission"], "0.00075008", "{first}");
    assert_eq!(free(&mut v, t, "BNB"), "0.00024992");
    assert_eq!(free(&mut v, t, "BTC"), "0.01000000");
    // What is left does not cover the next fee: the BTC received pays, at the full rate.
    let second = buy(&mut v, "b2");
    assert_eq!(second["fills"][0]["commissionAsset"], "BTC", "{second}");
    assert_eq!(second["fills"][0]["commission"], "0.00001000", "{second}");
    assert_eq!(free(&mut v, t, "BTC"), "0.01999000");
    assert_eq!(free(&mut v, t, "BNB"), "0.00024992");
}

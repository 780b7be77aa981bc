//! Weight limits and bans, seeded faults, and the record that proves what executed.

use super::*;

#[test]
// rule: rate_limit_hold
fn a_client_over_the_weight_limit_gets_429_then_a_418_ban() {
    let limits = Limits {
        weight_per_minute: 10,
        ban_ms: 120_000,
        ..Limits::default()
    };
    let mut v = Venue::new(setup(SCENARIO, "none", limits), T0);
    let t = T0 + 1;
    for _ in 0..10 {
        assert_eq!(public(&mut v, t, "/api/v3/ping", "").status, 200);
    }
    let r = public(&mut v, t, "/api/v3/ping", "");
    assert_eq!(error(&r), (429, -1003));
    let retry: u64 = r
        .headers
        .iter()
        .find(|h| h.0 == "Retry-After")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert!(r
        .headers
        .iter()
        .any(|h| h.0 == "X-MBX-USED-WEIGHT-1M" && h.1 == "11"));
    let mut last = r;
    for _ in 0..3 {
        last = public(&mut v, t + 1, "/api/v3/ping", "");
    }
    assert_eq!(error(&last), (418, -1003));
    assert!(json(&last)["msg"]
        .as_str()
        .unwrap()
        .contains("IP banned until"));
}

/// What a run of requests leaves: every reply and record line, with the clock fixed.
fn transcript(profile: &str, seed: u64) -> Vec<String> {
    let mut s = setup(SCENARIO, profile, Limits::default());
    s.seed = seed;
    let mut v = Venue::new(s, T0);
    v.record();
    let mut out = Vec::new();
    for i in 0..200u64 {
        let t = T0 + 1 + i * 700;
        let side = if i % 2 == 0 { "BUY" } else { "SELL" };
        let r = signed(&mut v, t, Method::Post, "/api/v3/order",
            &format!("symbol=BTCUSDT&side={side}&type=LIMIT&timeInForce=IOC&quantity=0.001&price={}&newClientOrderId=c{i}",
                if side == "BUY" { 50_200 } else { 49_800 }));
        out.push(format!(
            "{} {:?} {}",
            r.status,
            r.delivery,
            String::from_utf8_lossy(&r.body)
        ));
        out.push(r.record.unwrap());
        let q = signed(
            &mut v,
            t,
            Method::Get,
            "/api/v3/order",
            &format!("symbol=BTCUSDT&origClientOrderId=c{i}"),
        );
        out.push(format!(
            "{} {:?} {}",
            q.status,
            q.delivery,
            String::from_utf8_lossy(&q.body)
        ));
    }
    out
}

#[test]
fn faults_are_seeded_same_seed_same_outcomes() {
    let a = transcript("rough", 11);
    assert_eq!(a, transcript("rough", 11));
    assert_ne!(a, transcript("rough", 12));
    let all = a.join("\n");
    for fault in [
        "response_lost",
        "request_lost",
        "server_error",
        "rate_limited",
        "latency",
        "reject",
        "partial",
        "requote",
    ] {
        assert!(
            all.contains(&format!("\"{fault}\"")),
            "no {fault} in 200 rough placements"
        );
    }
    assert!(all.contains("-1007"), "execution status unknown");
    assert!(
        all.contains("EXPIRED"),
        "a partial fill expires the rest of an IOC"
    );
    let clean = transcript("none", 11).join("\n");
    assert!(clean.contains("\"faults\":[]"));
    assert!(!clean.contains("\"faults\":[\""));
}

#[test]
fn a_lost_reply_executes_and_the_record_proves_it() {
    let csv = format!(
        "{SCENARIO}0,fault,,,,,kind=response_lost;count=1\n1,fault,,,,,kind=request_lost;count=1\n"
    );
    let mut v = venue_with(&csv, "none");
    let t = T0 + 2;
    let p = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=50010&newClientOrderId=lost";
    let r = signed(&mut v, t, Method::Post, "/api/v3/order", p);
    assert!(matches!(r.delivery, Delivery::Drop | Delivery::Stall(_)));
    let rec: Value = serde_json::from_str(r.record.as_deref().unwrap()).unwrap();
    assert_eq!(rec["faults"], serde_json::json!(["response_lost"]), "{rec}");
    assert_eq!(rec["order"]["status"], "FILLED", "{rec}");
    assert_eq!(rec["trades"].as_array().unwrap().len(), 1);
    assert_eq!(rec["params"]["newClientOrderId"], "lost");
    assert!(rec["params"].get("signature").is_none());
    // A lost request never executes.
    let r = signed(
        &mut v,
        t,
        Method::Post,
        "/api/v3/order",
        &p.replace("=lost", "=never"),
    );
    let rec: Value = serde_json::from_str(r.record.as_deref().unwrap()).unwrap();
    assert_eq!(rec["faults"], serde_json::json!(["request_lost"]));
    assert!(rec["order"].is_null());
    // The bot asks: the first order is there, the second is not.
    let q = json(&signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=lost",
    ));
    assert_eq!(q["status"], "FILLED");
    let q = signed(
        &mut v,
        t,
        Method::Get,
        "/api/v3/order",
        "symbol=BTCUSDT&origClientOrderId=never",
    );
    assert_eq!(error(&q), (400, -2013));
}

//! The venue's WebSocket side through its sans-IO core: the diff-depth stream against the
//! REST snapshot (Binance's sync procedure), account events for fills the market causes, the
//! WebSocket API envelope and signature, stream limits and seeded stream faults.

use std::collections::{BTreeMap, BTreeSet};

use order_router::venue::stream::{Kind, MarketEvent, Out, Session, StreamFaults, WsConfig};
use order_router::venue::{Credentials, Faults, Method, Venue};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{public, setup, signed, KEY, SECRET, T0};

const LIVE: &str = "t_ms,action,symbol,side,qty,price,params
0,config,,,,,seed=7;venue_min_notional=5;market=live;fee_bps=10
0,balance,USDT,,100000,,
0,balance,BTC,,2,,
0,price,BTC/USDT,,,50000,spread_bps=2;depth=1
";

fn live() -> Venue {
    Venue::new(setup(LIVE, "none", Default::default()), T0)
}

fn wanted(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).expect("JSON")
}

type Side = BTreeMap<Decimal, Decimal>;

fn levels(v: &Value) -> Side {
    v.as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                l[0].as_str().unwrap().parse().unwrap(),
                l[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn snapshot(v: &mut Venue, now: u64) -> (u64, Side, Side) {
    let r = public(v, now, "/api/v3/depth", "symbol=BTCUSDT&limit=5000");
    assert_eq!(r.status, 200);
    let b = json_of(std::str::from_utf8(&r.body).unwrap());
    (
        b["lastUpdateId"].as_u64().unwrap(),
        levels(&b["bids"]),
        levels(&b["asks"]),
    )
}

fn apply(book: &mut Side, changes: &Value) {
    for (p, q) in levels(changes) {
        if q.is_zero() {
            book.remove(&p);
        } else {
            book.insert(p, q);
        }
    }
}

// rule: venue_streams
#[test]
fn diffs_applied_to_the_rest_snapshot_give_the_book_binance_style() {
    let mut v = live();
    let w = wanted(&["btcusdt@depth@100ms"]);
    let mut diffs: Vec<Value> = Vec::new();
    let mut t = T0;
    // The stream is opened first and buffered; the snapshot comes a little later.
    for _ in 0..5 {
        t += 100;
        diffs.extend(v.tick(t, &w).iter().map(|e| json_of(&e.data)));
    }
    let (last, mut bids, mut asks) = snapshot(&mut v, t + 50);
    for _ in 0..100 {
        t += 100;
        diffs.extend(v.tick(t, &w).iter().map(|e| json_of(&e.data)));
    }
    assert!(
        diffs.len() > 20,
        "a living market's book changes: {}",
        diffs.len()
    );
    // Binance's procedure: drop u <= lastUpdateId; the first kept has U <= L+1 <= u; every
    // later one starts right after the previous.
    let kept: Vec<&Value> = diffs
        .iter()
        .filter(|d| d["u"].as_u64().unwrap() > last)
        .collect();
    let first = kept.first().expect("diffs after the snapshot");
    assert!(first["U"].as_u64().unwrap() <= last + 1);
    let mut id = last;
    for d in &kept {
        let (big_u, u) = (d["U"].as_u64().unwrap(), d["u"].as_u64().unwrap());
        assert!(big_u <= id + 1 && u > id, "gap: U {big_u} after {id}");
        assert_eq!(d["e"], "depthUpdate");
        assert_eq!(d["s"], "BTCUSDT");
        apply(&mut bids, &d["b"]);
        apply(&mut asks, &d["a"]);
        id = u;
    }
    // The local book is the venue's: a fresh snapshot at the last id shows the same levels.
    let (now_id, now_bids, now_asks) = snapshot(&mut v, t);
    assert_eq!(now_id, id, "nothing changed since the last tick");
    assert_eq!(bids, now_bids);
    assert_eq!(asks, now_asks);
}

// rule: venue_streams
#[test]
fn partial_depth_and_book_ticker_carry_the_update_id() {
    let mut v = live();
    let w = wanted(&[
        "btcusdt@depth5@100ms",
        "btcusdt@bookTicker",
        "btcusdt@trade",
    ]);
    let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for k in 1..=30 {
        for e in v.tick(T0 + k * 100, &w) {
            seen.entry(e.stream).or_default().push(json_of(&e.data));
        }
    }
    let partial = &seen["btcusdt@depth5@100ms"];
    assert!(partial
        .iter()
        .all(|p| p["bids"].as_array().unwrap().len() <= 5));
    let ids: Vec<u64> = partial
        .iter()
        .map(|p| p["lastUpdateId"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] <= w[1]));
    let tickers = &seen["btcusdt@bookTicker"];
    assert!(tickers
        .iter()
        .all(|t| t["b"].as_str().unwrap() < t["a"].as_str().unwrap()));
    let trades = &seen["btcusdt@trade"];
    let tids: Vec<u64> = trades.iter().map(|t| t["t"].as_u64().unwrap()).collect();
    assert!(!tids.is_empty());
    assert!(
        tids.windows(2).all(|w| w[0] < w[1]),
        "trades in id order, each once"
    );
}

fn api_session(v: &Venue, faults: StreamFaults) -> Session {
    let cfg = WsConfig {
        faults,
        seed: 9,
        ..WsConfig::default()
    };
    Session::new(Kind::Api, 1, T0, &cfg, &[], v)
}

/// A signed WebSocket API request as a client builds it.
fn signed_request(id: u64, method: &str, params: &[(&str, &str)], now: u64) -> String {
    let mut all: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.push(("apiKey".into(), KEY.into()));
    all.push(("timestamp".into(), now.to_string()));
    all.sort();
    let payload: Vec<String> = all.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let sig = Credentials::new(KEY, SECRET)
        .unwrap()
        .sign(payload.join("&").as_bytes());
    let mut p = serde_json::Map::new();
    for (k, v) in all {
        p.insert(k, json!(v));
    }
    p.insert("signature".into(), json!(sig));
    json!({"id": id, "method": method, "params": p}).to_string()
}

fn texts(outs: &[Out]) -> Vec<Value> {
    outs.iter()
        .filter_map(|o| match o {
            Out::Text { text, .. } => Some(json_of(text)),
            _ => None,
        })
        .collect()
}

fn answer(s: &mut Session, v: &mut Venue, now: u64, frame: &str) -> Value {
    let (outs, _) = s.on_text(now, frame, v, "127.0.0.1");
    texts(&outs).pop().expect("an answer")
}

// rule: venue_streams
#[test]
fn ws_api_requests_run_the_rest_checks_and_answer_in_binances_envelope() {
    let mut v = live();
    let mut s = api_session(&v, StreamFaults::default());
    let now = T0 + 10;
    let time = answer(&mut s, &mut v, now, r#"{"id":"t","method":"time"}"#);
    assert_eq!(time["status"], 200);
    assert_eq!(time["result"]["serverTime"], now);
    assert!(time["rateLimits"][0]["count"].is_u64());
    let place = signed_request(
        2,
        "order.place",
        &[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01"),
            ("price", "40000"),
        ],
        now,
    );
    let placed = answer(&mut s, &mut v, now, &place);
    assert_eq!(placed["id"], 2);
    assert_eq!(placed["status"], 200, "{placed}");
    assert_eq!(placed["result"]["status"], "NEW");
    // The same request with one byte changed: the signature no longer matches.
    let tampered = place.replace("40000", "40001");
    let refused = answer(&mut s, &mut v, now, &tampered);
    assert_eq!(refused["status"], 400);
    assert_eq!(refused["error"]["code"], -1022);
    // REST's own errors, under the same codes: an unknown order.
    let q = signed_request(
        3,
        "order.status",
        &[("symbol", "BTCUSDT"), ("orderId", "999")],
        now,
    );
    assert_eq!(answer(&mut s, &mut v, now, &q)["error"]["code"], -2013);
    let unknown = answer(&mut s, &mut v, now, r#"{"id":4,"method":"order.explode"}"#);
    assert_eq!(unknown["status"], 400);
    assert_eq!(unknown["id"], 4);
    let bad = answer(&mut s, &mut v, now, "[1,2");
    assert_eq!(bad["error"]["code"], -1135);
}

// rule: venue_streams
#[test]
fn a_resting_order_filled_by_the_market_reports_on_the_user_stream() {
    let mut v = live();
    let mut s = api_session(&v, StreamFaults::default());
    let mut now = T0 + 10;
    let sub = signed_request(1, "userDataStream.subscribe.signature", &[], now);
    let subscribed = answer(&mut s, &mut v, now, &sub);
    assert_eq!(subscribed["result"]["subscriptionId"], 0);
    let again = answer(&mut s, &mut v, now, &sub);
    assert_eq!(again["error"]["code"], -2035);
    // A buy resting one tick under the best ask: the next sell taker fills it.
    let book = public(&mut v, now, "/api/v3/ticker/bookTicker", "symbol=BTCUSDT");
    let ask: Decimal = json_of(std::str::from_utf8(&book.body).unwrap())["askPrice"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let price = (ask - Decimal::new(1, 2)).to_string();
    let r = signed(
        &mut v,
        now,
        Method::Post,
        "/api/v3/order",
        &format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price={price}&newClientOrderId=rest1"),
    );
    assert_eq!(r.status, 200);
    let mut events: Vec<Value> = Vec::new();
    let empty = BTreeSet::new();
    for _ in 0..1_200 {
        let evs = v.user_events(now);
        for o in s.on_user(now, &evs) {
            if let Out::Text { text, .. } = o {
                let m = json_of(&text);
                assert_eq!(m["subscriptionId"], 0);
                events.push(m["event"].clone());
            }
        }
        if events.iter().any(|e| e["x"] == "TRADE") {
            break;
        }
        now += 100;
        v.tick(now, &empty);
    }
    let reports: Vec<&Value> = events
        .iter()
        .filter(|e| e["e"] == "executionReport")
        .collect();
    assert_eq!(reports[0]["x"], "NEW");
    assert_eq!(reports[0]["c"], "rest1");
    assert_eq!(reports[0]["X"], "NEW");
    let trade = reports
        .iter()
        .find(|e| e["x"] == "TRADE")
        .expect("the market filled the resting buy");
    assert_eq!(trade["m"], true, "a resting order fills as the maker");
    assert_eq!(trade["i"], reports[0]["i"]);
    assert_eq!(trade["S"], "BUY");
    assert!(trade["t"].as_i64().unwrap() > 0);
    assert_eq!(
        trade["L"],
        json!(format!("{:.8}", price.parse::<Decimal>().unwrap()))
    );
    assert!(matches!(
        trade["X"].as_str(),
        Some("FILLED" | "PARTIALLY_FILLED")
    ));
    for key in [
        "E", "s", "o", "f", "q", "p", "l", "z", "n", "N", "T", "Z", "O",
    ] {
        assert!(!trade[key].is_null(), "{key} missing");
    }
    assert!(events.iter().any(|e| e["e"] == "outboundAccountPosition"));
    // Nothing is reported twice.
    assert!(v.user_events(now).iter().all(|e| !e.contains("\"TRADE\"")));
}

fn market_session(v: &Venue, conn: u64, faults: StreamFaults) -> Session {
    let cfg = WsConfig {
        faults,
        seed: 3,
        ..WsConfig::default()
    };
    Session::new(Kind::Market { combined: true }, conn, T0, &cfg, &[], v)
}

// rule: venue_streams
#[test]
fn subscriptions_are_checked_and_a_flood_closes_the_connection() {
    let mut v = live();
    let mut s = market_session(&v, 1, StreamFaults::default());
    let sub = r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@depth"],"id":1}"#;
    assert_eq!(
        answer(&mut s, &mut v, T0, sub),
        json!({"result": null, "id": 1})
    );
    let bad = r#"{"method":"SUBSCRIBE","params":["btcusdt@nonsense"],"id":2}"#;
    assert_eq!(answer(&mut s, &mut v, T0 + 300, bad)["error"]["code"], 2);
    let list = answer(
        &mut s,
        &mut v,
        T0 + 600,
        r#"{"method":"LIST_SUBSCRIPTIONS","id":3}"#,
    );
    assert_eq!(list["result"], json!(["btcusdt@depth", "btcusdt@trade"]));
    // Five messages a second are allowed; the sixth within the second closes.
    let mut s = market_session(&v, 2, StreamFaults::default());
    for k in 0..5 {
        let (outs, _) = s.on_text(
            T0 + k,
            r#"{"method":"LIST_SUBSCRIPTIONS","id":1}"#,
            &mut v,
            "x",
        );
        assert!(matches!(outs[0], Out::Text { .. }));
    }
    let (outs, _) = s.on_text(
        T0 + 6,
        r#"{"method":"LIST_SUBSCRIPTIONS","id":1}"#,
        &mut v,
        "x",
    );
    assert!(matches!(outs[0], Out::Close { code: 1008, .. }));
    // A second later the rate is fine again.
    let mut s = market_session(&v, 3, StreamFaults::default());
    for k in 0..10 {
        let (outs, _) = s.on_text(
            T0 + k * 250,
            r#"{"method":"LIST_SUBSCRIPTIONS","id":1}"#,
            &mut v,
            "x",
        );
        assert!(matches!(outs[0], Out::Text { .. }), "message {k}");
    }
}

fn diff_events(from: u64, n: u64) -> Vec<MarketEvent> {
    let mut out = Vec::new();
    for k in from..from + n {
        out.push(MarketEvent {
            stream: "btcusdt@depth@100ms".into(),
            data: json!({"e": "depthUpdate", "U": 2 * k + 1, "u": 2 * k + 2, "b": [], "a": []})
                .to_string(),
        });
        out.push(MarketEvent {
            stream: "btcusdt@trade".into(),
            data: json!({"e": "trade", "t": k}).to_string(),
        });
    }
    out
}

// rule: venue_streams
#[test]
fn stream_faults_are_seeded_and_keep_binances_guarantees() {
    let v = live();
    let rough = StreamFaults {
        drop_bps: 0,
        ..StreamFaults::of(Faults::Rough)
    };
    let run = |conn: u64| {
        let mut s = market_session(&v, conn, rough);
        let mut v2 = live();
        let sub =
            r#"{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms","btcusdt@trade"],"id":1}"#;
        let _ = s.on_text(T0, sub, &mut v2, "x");
        let mut outs = Vec::new();
        for k in 0..400u64 {
            outs.extend(s.on_market(T0 + 1_000 * k, &diff_events(k * 8, 8)));
        }
        (outs, s.take_noted())
    };
    let (a, noted) = run(1);
    let (b, _) = run(1);
    assert_eq!(a, b, "same seed and connection: the same stream");
    assert_ne!(a, run(2).0, "another connection draws its own faults");
    let kinds: BTreeSet<String> = noted
        .iter()
        .map(|n| n["fault"].as_str().unwrap().into())
        .collect();
    for k in ["event_lost", "duplicated", "reordered", "silent", "lagged"] {
        assert!(kinds.contains(k), "{k} never hit: {kinds:?}");
    }
    // A stream's own events stay in order (a repeat is the same event again); a lost or
    // silenced diff shows as a gap in U/u, which Binance's procedure detects.
    let firsts: Vec<u64> = a
        .iter()
        .filter_map(|o| match o {
            Out::Text { text, .. } => Some(json_of(text)),
            _ => None,
        })
        .filter(|m| m["stream"] == "btcusdt@depth@100ms")
        .map(|m| m["data"]["U"].as_u64().unwrap())
        .collect();
    assert!(
        firsts.windows(2).all(|w| w[0] <= w[1]),
        "depth diffs out of order"
    );
    assert!(
        firsts.windows(2).any(|w| w[1] > w[0] + 2),
        "no gap from a lost diff"
    );
    assert!(firsts.windows(2).any(|w| w[1] == w[0]), "no repeated diff");
    // Account events: never lost or repeated while the connection stands.
    let mut s = api_session(&v, rough);
    let mut v2 = live();
    let sub = signed_request(1, "userDataStream.subscribe.signature", &[], T0 + 1);
    let _ = s.on_text(T0 + 1, &sub, &mut v2, "x");
    let events: Vec<String> = (0..2_000)
        .map(|k| json!({"e": "x", "n": k}).to_string())
        .collect();
    let outs = s.on_user(T0 + 2, &events);
    let got: Vec<u64> = texts(&outs)
        .iter()
        .map(|m| m["event"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(got, (0..2_000).collect::<Vec<u64>>());
}

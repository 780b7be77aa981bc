//! Each rule on hand-made record lines: the case it flags, and the close cases it must not
//! (a client that did ask, waited, synced its clock or changed something).

use serde_json::{json, Value};

use super::{audit, Error, Kind};

/// One record line, built field by field.
struct L(Value);

impl L {
    fn new(seq: u64, t_ms: u64, method: &str, path: &str) -> L {
        L(json!({
            "seq": seq, "t_ms": t_ms, "client": "127.0.0.1", "api_key": "k",
            "method": method, "path": path, "params": {"timestamp": "1"},
            "status": 200, "code": null, "faults": [], "delivery": "now",
            "order": null, "trades": [],
        }))
    }
    fn place(seq: u64, t_ms: u64, side: &str, qty: &str, coid: &str) -> L {
        L::new(seq, t_ms, "POST", "/api/v3/order").params(&[
            ("symbol", "BTCUSDT"),
            ("side", side),
            ("type", "LIMIT"),
            ("timeInForce", "IOC"),
            ("quantity", qty),
            ("price", "50100"),
            ("newClientOrderId", coid),
        ])
    }
    fn query(seq: u64, t_ms: u64, path: &str, params: &[(&str, &str)]) -> L {
        L::new(seq, t_ms, "GET", path).params(params)
    }
    fn params(mut self, p: &[(&str, &str)]) -> L {
        for (k, v) in p {
            self.0["params"][*k] = json!(v);
        }
        self
    }
    fn answer(mut self, status: Option<u16>, code: Option<i64>) -> L {
        self.0["status"] = json!(status);
        self.0["code"] = json!(code);
        self
    }
    fn delivery(mut self, d: Value) -> L {
        self.0["delivery"] = d;
        self
    }
    fn set(mut self, k: &str, v: Value) -> L {
        self.0[k] = v;
        self
    }
    /// The order the venue holds after the request, with its fill in this line's trades.
    fn order(
        mut self,
        id: u64,
        coid: &str,
        side: &str,
        status: &str,
        qty: &str,
        filled: &str,
    ) -> L {
        self.0["order"] = json!({
            "orderId": id, "clientOrderId": coid, "symbol": "BTCUSDT", "side": side,
            "status": status, "origQty": qty, "executedQty": filled,
        });
        if filled != "0" {
            self = self.trade(id, "50000", filled);
        }
        self
    }
    fn trade(mut self, order: u64, price: &str, qty: &str) -> L {
        let list = self.0["trades"].as_array_mut().unwrap();
        list.push(json!({
            "id": list.len() + 1, "orderId": order, "symbol": "BTCUSDT", "side": "BUY",
            "price": price, "qty": qty, "commission": "0", "time": 0,
        }));
        self
    }
}

fn record(lines: Vec<L>) -> Vec<u8> {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.0.to_string());
        s.push('\n');
    }
    s.into_bytes()
}

fn kinds(lines: Vec<L>) -> Vec<Kind> {
    let a = audit(&record(lines)).unwrap();
    let mut k: Vec<Kind> = a
        .clients
        .iter()
        .flat_map(|c| c.findings.iter().map(|f| f.kind))
        .collect();
    k.sort();
    k
}

/// A buy whose answer was dropped although it filled.
fn lost_fill(seq: u64, t: u64, coid: &str) -> L {
    L::place(seq, t, "BUY", "0.001", coid)
        .faults(&["response_lost"])
        .delivery(json!("dropped"))
        .order(seq, coid, "BUY", "FILLED", "0.001", "0.001")
}

impl L {
    fn faults(mut self, f: &[&str]) -> L {
        self.0["faults"] = json!(f);
        self
    }
}

#[test]
// rule: bot_audit_orphan
fn an_execution_the_client_never_learned_of_is_an_orphan_with_its_money() {
    let a = audit(&record(vec![lost_fill(1, 1_000, "a1")])).unwrap();
    let c = &a.clients[0];
    assert_eq!(c.client, "k");
    assert_eq!(c.findings.len(), 1);
    let f = &c.findings[0];
    assert_eq!(f.kind, Kind::Orphan);
    assert_eq!(f.evidence[0].seq, 1);
    assert_eq!(f.evidence[0].client_order_id.as_deref(), Some("a1"));
    assert_eq!((c.summary.orphaned, c.summary.executed), (1, 1));
    assert_eq!(c.summary.at_risk[0].notional, "50");
    assert!(!a.clean);
}

#[test]
// rule: bot_audit_orphan
fn an_order_the_client_asked_about_is_not_an_orphan() {
    for ask in [
        L::query(
            2,
            2_000,
            "/api/v3/order",
            &[("symbol", "BTCUSDT"), ("origClientOrderId", "a1")],
        ),
        L::query(
            2,
            2_000,
            "/api/v3/order",
            &[("symbol", "BTCUSDT"), ("orderId", "1")],
        ),
        L::query(2, 2_000, "/api/v3/allOrders", &[("symbol", "BTCUSDT")]),
        L::query(2, 2_000, "/api/v3/myTrades", &[("symbol", "BTCUSDT")]),
    ] {
        let a = audit(&record(vec![lost_fill(1, 1_000, "a1"), ask])).unwrap();
        assert!(a.clean, "{:?}", a.clients[0].findings);
    }
}

#[test]
// rule: bot_audit_orphan
fn open_orders_only_covers_an_order_while_it_is_open_and_a_lost_query_covers_nothing() {
    let open_orders = L::query(2, 2_000, "/api/v3/openOrders", &[("symbol", "BTCUSDT")]);
    assert_eq!(
        kinds(vec![lost_fill(1, 1_000, "a1"), open_orders]),
        [Kind::Orphan]
    );
    let lost_query = L::query(
        2,
        2_000,
        "/api/v3/order",
        &[("symbol", "BTCUSDT"), ("origClientOrderId", "a1")],
    )
    .delivery(json!({"stalled_ms": 300}));
    assert_eq!(
        kinds(vec![lost_fill(1, 1_000, "a1"), lost_query]),
        [Kind::Orphan]
    );
    // Another client's query tells this one nothing.
    let other = L::query(2, 2_000, "/api/v3/allOrders", &[("symbol", "BTCUSDT")])
        .set("api_key", json!("other"));
    assert_eq!(
        kinds(vec![lost_fill(1, 1_000, "a1"), other]),
        [Kind::Orphan]
    );
    // A resting order open orders shows is known.
    let resting = L::place(1, 1_000, "BUY", "0.001", "a1")
        .delivery(json!("dropped"))
        .order(1, "a1", "BUY", "NEW", "0.001", "0");
    let open_orders = L::query(2, 2_000, "/api/v3/openOrders", &[("symbol", "BTCUSDT")]);
    let fill = L::new(3, 3_000, "GET", "/api/v3/ping").trade(1, "50000", "0.001");
    assert!(kinds(vec![resting, open_orders, fill]).is_empty());
}

#[test]
// rule: bot_audit_unknown_open_order
fn a_resting_order_the_client_never_heard_of_is_flagged() {
    let resting = L::place(1, 1_000, "BUY", "0.001", "a1")
        .answer(Some(503), Some(-1007))
        .order(1, "a1", "BUY", "NEW", "0.001", "0");
    assert_eq!(kinds(vec![resting]), [Kind::UnknownOpenOrder]);
}

#[test]
// rule: bot_audit_double_order
fn the_same_order_again_under_a_new_id_without_asking_is_a_double() {
    let again =
        L::place(2, 6_000, "BUY", "0.001", "a2").order(2, "a2", "BUY", "FILLED", "0.001", "0.001");
    let a = audit(&record(vec![lost_fill(1, 1_000, "a1"), again])).unwrap();
    let c = &a.clients[0];
    let k: Vec<Kind> = c.findings.iter().map(|f| f.kind).collect();
    assert_eq!(k, [Kind::Orphan, Kind::DoubleOrder]);
    let d = &c.findings[1];
    assert_eq!(d.notional.as_deref(), Some("50"));
    assert_eq!(d.evidence.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        (c.summary.doubled, c.summary.placements, c.summary.orders),
        (1, 2, 2)
    );
    // Counted once at risk though two findings name it.
    assert_eq!(c.summary.at_risk[0].notional, "50");
}

#[test]
// rule: bot_audit_double_order
fn a_request_that_never_arrived_retried_blind_is_a_double_without_money() {
    let lost = L::place(1, 1_000, "SELL", "0.002", "s1")
        .answer(None, None)
        .faults(&["request_lost"])
        .delivery(json!("dropped"));
    let again = L::place(2, 2_000, "SELL", "0.002", "s2");
    let a = audit(&record(vec![lost, again])).unwrap();
    let f = &a.clients[0].findings;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, Kind::DoubleOrder);
    assert_eq!(f[0].notional, None);
}

#[test]
// rule: bot_audit_double_order
fn no_double_when_the_client_asked_or_the_order_differs() {
    let asked = L::query(
        2,
        2_000,
        "/api/v3/order",
        &[("symbol", "BTCUSDT"), ("origClientOrderId", "a1")],
    )
    .answer(Some(400), Some(-2013));
    let again = L::place(3, 3_000, "BUY", "0.001", "a2");
    // (Answered "does not exist" although it does: the venue never says so; the query is what counts.)
    assert!(kinds(vec![lost_fill(1, 1_000, "a1"), asked, again]).is_empty());
    // Asked only later: the client tracks the first, the second may be an order of its own.
    let again = L::place(2, 2_000, "BUY", "0.001", "a2");
    let later = L::query(
        3,
        3_000,
        "/api/v3/order",
        &[("symbol", "BTCUSDT"), ("origClientOrderId", "a1")],
    );
    assert!(kinds(vec![lost_fill(1, 1_000, "a1"), again, later]).is_empty());
    // 5% more, the other side, or the same client id: not the same order again.
    for other in [
        L::place(2, 2_000, "BUY", "0.00105", "a2"),
        L::place(2, 2_000, "SELL", "0.001", "a2"),
        L::place(2, 2_000, "BUY", "0.001", "a1").answer(Some(400), Some(-2010)),
    ] {
        assert_eq!(
            kinds(vec![lost_fill(1, 1_000, "a1"), other]),
            [Kind::Orphan]
        );
    }
}

#[test]
// rule: bot_audit_same_id_retry
fn a_client_id_placed_again_after_its_order_executed_is_a_second_fill() {
    let first = L::place(1, 1_000, "BUY", "0.001", "c1")
        .answer(Some(503), Some(-1007))
        .faults(&["server_error"])
        .order(1, "c1", "BUY", "FILLED", "0.001", "0.001");
    let retry =
        L::place(2, 1_500, "BUY", "0.001", "c1").order(2, "c1", "BUY", "FILLED", "0.001", "0.001");
    let k = kinds(vec![first, retry]);
    assert!(k.contains(&Kind::SameIdRetry), "{k:?}");
    assert!(k.contains(&Kind::Orphan), "{k:?}");
    assert!(!k.contains(&Kind::DoubleOrder), "{k:?}");
    // Reusing the id of an order cancelled unfilled is allowed.
    let first = L::place(1, 1_000, "BUY", "0.001", "c1").order(1, "c1", "BUY", "NEW", "0.001", "0");
    let cancel = L::new(2, 1_200, "DELETE", "/api/v3/order")
        .params(&[("symbol", "BTCUSDT"), ("origClientOrderId", "c1")])
        .order(1, "c1", "BUY", "CANCELED", "0.001", "0");
    let again =
        L::place(3, 1_500, "BUY", "0.001", "c1").order(2, "c1", "BUY", "FILLED", "0.001", "0.001");
    assert!(kinds(vec![first, cancel, again]).is_empty());
}

/// A 429 the client got at `t`: wait until `t + 1000`.
fn told_to_wait(seq: u64, t: u64) -> L {
    L::place(seq, t, "BUY", "0.001", "w1")
        .answer(Some(429), Some(-1003))
        .set("retry_after_s", json!(1))
        .set("hold_until_ms", json!(t + 1_000))
}

#[test]
// rule: bot_audit_retry_after
fn requests_during_a_retry_after_are_flagged_but_not_those_already_in_flight() {
    let in_flight = L::query(2, 10_100, "/api/v3/account", &[]);
    let after = L::query(3, 11_000, "/api/v3/account", &[]);
    assert!(kinds(vec![told_to_wait(1, 10_000), in_flight, after]).is_empty());
    let early = L::query(2, 10_600, "/api/v3/account", &[]);
    let a = audit(&record(vec![told_to_wait(1, 10_000), early])).unwrap();
    let f = &a.clients[0].findings;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, Kind::IgnoredRetryAfter);
    assert_eq!(
        f[0].evidence.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    // A public request from the address is another limiter's.
    let public = L::query(2, 10_600, "/api/v3/depth", &[])
        .set("api_key", Value::Null)
        .set("params", json!({}));
    assert!(kinds(vec![told_to_wait(1, 10_000), public]).is_empty());
}

#[test]
// rule: bot_audit_retry_after
fn a_ban_earned_by_ignoring_a_wait_and_requests_during_the_ban() {
    let wait = L::query(1, 60_000, "/api/v3/account", &[])
        .answer(Some(429), Some(-1003))
        .set("retry_after_s", json!(60))
        .set("hold_until_ms", json!(120_000));
    let s2 = L::query(2, 61_000, "/api/v3/account", &[]).answer(Some(429), Some(-1003));
    let ban = L::query(3, 62_000, "/api/v3/account", &[])
        .answer(Some(418), Some(-1003))
        .set("retry_after_s", json!(120))
        .set("hold_until_ms", json!(182_000));
    assert_eq!(kinds(vec![wait, s2, ban]), [Kind::Banned]);
    let ban = L::query(1, 60_000, "/api/v3/account", &[])
        .answer(Some(418), Some(-1003))
        .set("retry_after_s", json!(120))
        .set("hold_until_ms", json!(180_000));
    let during = L::query(2, 100_000, "/api/v3/account", &[]).answer(Some(418), Some(-1003));
    let after = L::query(3, 180_000, "/api/v3/account", &[]);
    assert_eq!(kinds(vec![ban, during, after]), [Kind::IgnoredBan]);
}

#[test]
fn an_older_record_without_the_hold_reads_retry_after() {
    let wait = L::query(1, 10_000, "/api/v3/account", &[])
        .answer(Some(429), Some(-1003))
        .set("retry_after_s", json!(5));
    let early = L::query(2, 12_000, "/api/v3/account", &[]);
    assert_eq!(kinds(vec![wait, early]), [Kind::IgnoredRetryAfter]);
}

fn drifted(seq: u64, t: u64) -> L {
    L::query(seq, t, "/api/v3/account", &[]).answer(Some(400), Some(-1021))
}

#[test]
// rule: bot_audit_clock_drift
fn three_timestamp_refusals_in_a_minute_without_a_sync_are_drift() {
    assert_eq!(
        kinds(vec![
            drifted(1, 1_000),
            drifted(2, 2_000),
            drifted(3, 50_000)
        ]),
        [Kind::ClockDrift]
    );
    let sync = L::new(2, 1_500, "GET", "/api/v3/time")
        .set("api_key", Value::Null)
        .set("params", json!({}));
    assert!(kinds(vec![
        drifted(1, 1_000),
        sync,
        drifted(3, 2_000),
        drifted(4, 3_000)
    ])
    .is_empty());
    let accepted = L::query(2, 1_500, "/api/v3/account", &[]);
    assert!(kinds(vec![
        drifted(1, 1_000),
        accepted,
        drifted(3, 2_000),
        drifted(4, 3_000)
    ])
    .is_empty());
    assert!(kinds(vec![drifted(1, 0), drifted(2, 40_000), drifted(3, 80_000)]).is_empty());
}

fn broke(seq: u64, t: u64, coid: &str) -> L {
    L::place(seq, t, "SELL", "0.01", coid).answer(Some(400), Some(-2010))
}

#[test]
// rule: bot_audit_balance_refusal
fn a_balance_refusal_sent_again_unchanged_is_flagged() {
    let a = audit(&record(vec![
        broke(1, 1_000, "b1"),
        broke(2, 2_000, "b2"),
        broke(3, 3_000, "b3"),
    ]))
    .unwrap();
    let f = &a.clients[0].findings;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, Kind::RepeatedBalanceRefusal);
    assert_eq!(f[0].evidence.len(), 3);
    // A fill in between may have changed the balance.
    let fill = L::new(2, 1_500, "GET", "/api/v3/ping")
        .order(9, "x", "BUY", "FILLED", "0.01", "0")
        .trade(9, "50000", "0.01");
    assert!(kinds(vec![broke(1, 1_000, "b1"), fill, broke(3, 2_000, "b2")]).is_empty());
    // A refused duplicate client id and a drawn reject are not about the balance.
    let open = L::place(1, 500, "BUY", "0.001", "d1").order(1, "d1", "BUY", "NEW", "0.001", "0");
    assert!(kinds(vec![open, broke(2, 1_000, "d1"), broke(3, 2_000, "d1")]).is_empty());
    let r1 = broke(1, 1_000, "b1").faults(&["reject"]);
    let r2 = broke(2, 2_000, "b2").faults(&["reject"]);
    assert!(kinds(vec![r1, r2]).is_empty());
}

#[test]
// rule: bot_audit_cancel_of_final
fn cancelling_an_order_the_client_was_told_had_filled() {
    let filled =
        L::place(1, 1_000, "BUY", "0.001", "f1").order(1, "f1", "BUY", "FILLED", "0.001", "0.001");
    let cancel = || {
        L::new(2, 2_000, "DELETE", "/api/v3/order")
            .params(&[("symbol", "BTCUSDT"), ("origClientOrderId", "f1")])
            .answer(Some(400), Some(-2011))
    };
    assert_eq!(kinds(vec![filled, cancel()]), [Kind::CancelOfFinal]);
    // Filled by the market while the client still thought it open: a race, not a mistake.
    let resting =
        L::place(1, 1_000, "BUY", "0.001", "f1").order(1, "f1", "BUY", "NEW", "0.001", "0");
    let fill = L::new(2, 1_500, "GET", "/api/v3/ping").trade(1, "50000", "0.001");
    assert!(kinds(vec![resting, fill, cancel().set("seq", json!(3))]).is_empty());
}

#[test]
fn runs_are_audited_apart_and_a_record_without_keys_is_per_address() {
    // Run 2 reuses order id 1; its query does not cover run 1's orphan.
    let run2 = L::query(
        1,
        9_000,
        "/api/v3/order",
        &[("symbol", "BTCUSDT"), ("orderId", "1")],
    );
    let a = audit(&record(vec![lost_fill(1, 1_000, "a1"), run2])).unwrap();
    assert_eq!(a.runs, 2);
    assert_eq!(a.kinds().into_iter().collect::<Vec<_>>(), [Kind::Orphan]);
    let old = lost_fill(1, 1_000, "a1").set("api_key", Value::Null);
    let a = audit(&record(vec![old])).unwrap();
    assert_eq!(a.clients[0].client, "127.0.0.1");
}

#[test]
fn unreadable_lines_name_the_line_and_field_and_a_torn_end_is_left_out() {
    let mut bytes = record(vec![lost_fill(1, 1_000, "a1")]);
    bytes.extend_from_slice(b"{\"seq\": 2, \"t_ms\"");
    let a = audit(&bytes).unwrap();
    assert!(a.torn_last_line);
    assert_eq!(a.lines, 1);
    let mut bad = record(vec![lost_fill(1, 1_000, "a1")]);
    bad.extend_from_slice(b"not json\n");
    assert!(matches!(audit(&bad), Err(Error::Line { line: 2, .. })));
    let no_seq = b"{\"t_ms\":1,\"client\":\"a\",\"method\":\"GET\",\"path\":\"/\"}\n";
    let e = audit(no_seq).unwrap_err();
    assert_eq!(e.to_string(), "line 1: seq: missing");
    let bad_qty = L::place(1, 1, "BUY", "1", "x").order(1, "x", "BUY", "NEW", "lots", "0");
    let e = audit(&record(vec![bad_qty])).unwrap_err();
    assert!(e.to_string().starts_with("line 1: order.origQty:"), "{e}");
    assert!(audit(b"").unwrap().clean);
}

#[test]
fn json_and_page_name_every_finding() {
    let again = L::place(2, 6_000, "BUY", "0.001", "a2");
    let a = audit(&record(vec![lost_fill(1, 1_000, "a1"), again])).unwrap();
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["clients"][0]["findings"][0]["kind"], "orphan");
    assert_eq!(v["clients"][0]["findings"][1]["kind"], "double_order");
    assert_eq!(
        v["clients"][0]["summary"]["at_risk"][0]["symbol"],
        "BTCUSDT"
    );
    assert!(v.get("records").is_none());
    let page = super::html::page("venue.jsonl", &a);
    assert!(page.contains("Orphaned order") && page.contains("Probable double order"));
    assert!(
        page.contains("id=\"r1-1\" class=\"hit\""),
        "the proving row is marked"
    );
    assert_eq!(page, super::html::page("venue.jsonl", &a), "same bytes");
    for k in Kind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.name());
    }
}

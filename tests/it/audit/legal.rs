//! The checker accepts every legal log: each shape an intent can take, interleaved intents,
//! what the writer writes.

use super::*;

#[test]
// rule: audit_complete
fn complete_legal_log_has_no_problems() {
    let text = concat!(
        r#"{"seq":0,"t_ms":0,"intent_id":"i1","state":"NEW","symbol":"BTC/USDT","side":"buy","qty":0.001}"#,
        "\n",
        r#"{"seq":1,"t_ms":0,"intent_id":"i1","state":"RESERVED","reserved_qty":0.001,"reserved_price":50100}"#,
        "\n",
        r#"{"seq":2,"t_ms":0,"intent_id":"i1","state":"SENT","client_order_id":"c1","attempt":1,"limit_price":50100}"#,
        "\n",
        r#"{"seq":3,"t_ms":7,"intent_id":"i1","state":"FILLED","client_order_id":"c1","order_id":"17","filled_qty":0.001,"avg_price":50005}"#,
        "\n",
        r#"{"seq":4,"t_ms":9,"intent_id":"i1","state":"RECONCILED","fills_count":1}"#,
        "\n",
    );
    assert_eq!(check(text), []);
}

#[test]
// rule: audit_complete
fn checker_accepts_what_the_writer_writes() {
    let c = coid("c-1");
    let lines = [
        (
            State::New,
            Detail::New {
                symbol: Symbol::parse("BTC/USDT").unwrap(),
                side: Side::Buy,
                qty: d("0.001"),
                ref_price: d("50000"),
            },
        ),
        (
            State::Reserved,
            Detail::Reserved {
                reserved_qty: d("0.001"),
                reserved_price: d("50100"),
                asset: Asset::new("USDT").unwrap(),
                amount: d("50.1501"),
            },
        ),
        (
            State::Sent,
            Detail::Sent {
                client_order_id: c.clone(),
                attempt: 1,
                qty: d("0.001"),
                limit_price: d("50100"),
                tif: Tif::Ioc,
            },
        ),
        (
            State::Filled,
            Detail::Order {
                client_order_id: c,
                order_id: oid("1"),
                filled_qty: d("0.001"),
                avg_price: Some(d("50005")),
            },
        ),
        (
            State::Reconciled,
            Detail::Reconciled {
                fills_count: 1,
                filled_qty: d("0.001"),
                avg_price: d("50005"),
                fee: d("0.050005"),
                fee_asset: Some(asset("USDT")),
                released: d("0.095"),
                booked: vec![(asset("BTC"), d("0.001")), (asset("USDT"), d("-50.055005"))]
                    .into_boxed_slice(),
            },
        ),
        (State::Reconciled, Detail::DuplicateIgnored),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (s, det))| line(i as u64, i as u64, s, det))
    .collect::<Vec<_>>();
    assert_eq!(check_bytes(&written(&lines)), []);
    // Records made without text check the same.
    let mut c = Checker::new();
    for l in &lines {
        c.observe(&Record::from_line(l));
    }
    assert_eq!(c.intents(), 1);
    assert_eq!(c.finish(), []);
}

/// Every shape a legal intent can take, each as `(state, extra fields)` of one intent.
fn legal_paths() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        // Refused before any order.
        vec![("NEW", Q), ("FAILED", r#""reason":"reserve_failed""#)],
        vec![
            ("NEW", Q),
            ("FAILED", ""),
            ("FAILED", r#""event":"duplicate_ignored""#),
        ],
        // Unknown outcome, resolved by a query.
        vec![
            ("NEW", Q),
            ("RESERVED", ""),
            ("SENT", r#""client_order_id":"c1""#),
            ("UNKNOWN", r#""client_order_id":"c1""#),
            (
                "UNKNOWN",
                r#""event":"query_pending","client_order_id":"c1""#,
            ),
            ("FILLED", r#""client_order_id":"c1","filled_qty":0.001"#),
            ("RECONCILED", ""),
        ],
        // Unknown, confirmed never placed: a new attempt.
        vec![
            ("NEW", Q),
            ("RESERVED", ""),
            ("SENT", r#""client_order_id":"c1""#),
            ("UNKNOWN", r#""client_order_id":"c1""#),
            ("RETRY", ""),
            ("SENT", r#""client_order_id":"c2""#),
            ("FILLED", r#""client_order_id":"c2","filled_qty":0.001"#),
            ("RECONCILED", ""),
        ],
        // Partial fill, the rest retried and filled: exactly the qty in total.
        vec![
            ("NEW", Q),
            ("RESERVED", ""),
            ("SENT", r#""client_order_id":"c1""#),
            ("PARTIAL", r#""client_order_id":"c1","filled_qty":0.0004"#),
            ("RETRY", ""),
            ("SENT", r#""client_order_id":"c2""#),
            ("FILLED", r#""client_order_id":"c2","filled_qty":0.0006"#),
            ("RECONCILED", ""),
            ("RECONCILED", r#""event":"duplicate_ignored""#),
        ],
        // Refused, retried, cancelled with nothing filled, given up.
        vec![
            ("NEW", Q),
            ("RESERVED", ""),
            ("SENT", r#""client_order_id":"c1""#),
            ("ERROR", r#""client_order_id":"c1""#),
            ("RETRY", ""),
            ("SENT", r#""client_order_id":"c2""#),
            ("CANCELED", r#""client_order_id":"c2","filled_qty":0"#),
            ("FAILED_FINAL", ""),
            ("FAILED_FINAL", r#""event":"duplicate_ignored""#),
        ],
        // A resting GTC order: fills grow, cancelled after its timeout, the rest released.
        vec![
            ("NEW", Q),
            ("RESERVED", ""),
            (
                "RESERVED",
                r#""event":"slippage_guard_applied","limit_price":1"#,
            ),
            ("SENT", r#""client_order_id":"c1""#),
            ("PARTIAL", r#""client_order_id":"c1","filled_qty":0.0002"#),
            ("PARTIAL", r#""client_order_id":"c1","filled_qty":0.0007"#),
            (
                "PARTIAL",
                r#""event":"cancel_requested","client_order_id":"c1""#,
            ),
            ("CANCELED", r#""client_order_id":"c1","filled_qty":0.0007"#),
            ("PARTIAL_SUCCESS", r#""filled_qty":0.0007"#),
            (
                "PARTIAL_SUCCESS",
                r#""event":"trades_pending","cause":"network""#,
            ),
            ("RECONCILED", ""),
        ],
        // Cumulative fills of one order are not summed: 0.0004, 0.0008, then 0.001 in total.
        vec![
            ("NEW", Q),
            ("RESERVED", ""),
            ("SENT", r#""client_order_id":"c1""#),
            ("PARTIAL", r#""client_order_id":"c1","filled_qty":0.0004"#),
            ("PARTIAL", r#""client_order_id":"c1","filled_qty":0.0008"#),
            ("FILLED", r#""client_order_id":"c1","filled_qty":0.001"#),
            ("RECONCILED", ""),
        ],
        // An IOC remainder expired after max retries: stop with what filled.
        vec![
            ("NEW", Q),
            ("RESERVED", ""),
            ("SENT", r#""client_order_id":"c1""#),
            ("PARTIAL", r#""client_order_id":"c1","filled_qty":0.0004"#),
            ("PARTIAL_SUCCESS", ""),
            ("RECONCILED", ""),
        ],
        // Unknown, then found with nothing filled (cancelled); an error ends it without fills.
        vec![
            ("NEW", Q),
            ("RESERVED", ""),
            ("SENT", r#""client_order_id":"c1""#),
            ("UNKNOWN", r#""client_order_id":"c1""#),
            ("CANCELED", r#""client_order_id":"c1","filled_qty":0"#),
            ("RETRY", ""),
            ("SENT", r#""client_order_id":"c2""#),
            ("ERROR", r#""client_order_id":"c2""#),
            ("FAILED_FINAL", ""),
        ],
    ]
}

#[test]
// rule: audit_complete
fn every_legal_path_shape_has_no_problems() {
    for (n, path) in legal_paths().into_iter().enumerate() {
        let id = format!("p{n}");
        let lines: Vec<(&str, &str, &str)> = path
            .iter()
            .map(|(state, extra)| (id.as_str(), *state, *extra))
            .collect();
        let text = log(&lines);
        assert_eq!(check(&text), [], "path {n}:\n{text}");
    }
}

#[test]
// rule: audit_complete
fn every_legal_path_is_legal_in_the_one_table_too() {
    for path in legal_paths() {
        let mut from = None;
        for (state, extra) in path {
            let to = State::parse(state).unwrap();
            if extra.contains("\"event\"") {
                assert_eq!(from, Some(to));
                continue;
            }
            assert!(is_legal(from, to), "{from:?} -> {to}");
            from = Some(to);
        }
    }
}

/// Round-robin interleaving of several intents' lines, with one global seq and clock.
fn interleave(paths: &[(String, Vec<(&'static str, &'static str)>)]) -> String {
    let mut queues: Vec<(String, VecDeque<(&str, &str)>)> = paths
        .iter()
        .map(|(id, p)| (id.clone(), p.iter().copied().collect()))
        .collect();
    let mut owned: Vec<(String, &str, &str)> = Vec::new();
    while queues.iter().any(|(_, q)| !q.is_empty()) {
        for (id, q) in &mut queues {
            if let Some((s, e)) = q.pop_front() {
                owned.push((id.clone(), s, e));
            }
        }
    }
    let lines: Vec<(&str, &str, &str)> =
        owned.iter().map(|(i, s, e)| (i.as_str(), *s, *e)).collect();
    log(&lines)
}

#[test]
fn interleaved_legal_intents_are_tracked_separately() {
    let paths: Vec<(String, Vec<(&str, &str)>)> = legal_paths()
        .into_iter()
        .enumerate()
        .map(|(n, p)| (format!("p{n}"), p))
        .collect();
    let text = interleave(&paths);
    assert_eq!(check(&text), [], "{text}");
    let mut c = Checker::new();
    for r in read(text.as_bytes()) {
        c.observe(&r.unwrap());
    }
    assert_eq!(c.intents(), paths.len());
}

#[test]
fn interleaved_intents_do_not_share_state() {
    // a is SENT; b is NEW. FILLED would be legal for a but is not for b.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("b", "NEW", Q),
        ("a", "SENT", r#""client_order_id":"ca""#),
        (
            "b",
            "FILLED",
            r#""client_order_id":"cb","filled_qty":0.001"#,
        ),
        (
            "a",
            "FILLED",
            r#""client_order_id":"ca","filled_qty":0.001"#,
        ),
        ("a", "RECONCILED", ""),
        ("b", "RECONCILED", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            5,
            "b",
            ProblemKind::IllegalTransition {
                from: Some(State::New),
                to: State::Filled
            }
        )]
    );
    // Fills are per intent too: two intents filling their own qty is not an overfill.
    let text = log(&[
        ("a", "NEW", Q),
        ("b", "NEW", Q),
        ("a", "RESERVED", ""),
        ("b", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("b", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c1","filled_qty":0.001"#,
        ),
        (
            "b",
            "FILLED",
            r#""client_order_id":"c1","filled_qty":0.001"#,
        ),
        ("a", "RECONCILED", ""),
        ("b", "RECONCILED", ""),
    ]);
    assert_eq!(check(&text), []);
}

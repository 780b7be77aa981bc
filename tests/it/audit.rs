//! The audit log: exact JSONL bytes, lossless decimals, a reader that never panics and tells a
//! truncated tail from garbage, and a checker that finds every broken rule at its line.

use std::collections::VecDeque;

use order_router::audit::{
    read, write_line, AuditLine, Checker, Detail, Problem, ProblemKind, ReadError, Record,
};
use order_router::model::{Asset, ClientOrderId, IntentId, OrderId, Side, Symbol, Tif};
use order_router::router::{is_legal, State};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;

const ID: &str = "1697040000000-BTCUSDT-00ff";

fn d(s: &str) -> Decimal {
    s.parse().expect("test decimal")
}
fn iid(s: &str) -> IntentId {
    IntentId::new(s).expect("intent id")
}
fn coid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).expect("client order id")
}
fn asset(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn oid(s: &str) -> OrderId {
    OrderId::new(s).expect("order id")
}

fn line(seq: u64, t_ms: u64, state: State, detail: Detail) -> AuditLine {
    AuditLine {
        seq,
        t_ms,
        intent_id: iid(ID),
        state,
        detail,
    }
}

fn written(lines: &[AuditLine]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        write_line(&mut out, l);
    }
    out
}

fn written_str(l: &AuditLine) -> String {
    String::from_utf8(written(std::slice::from_ref(l))).expect("writer emits UTF-8")
}

/// A writer's output without its checksum fields, after checking each one: the exact-bytes
/// tests below compare the fields themselves.
fn unsealed(text: &str) -> String {
    text.lines()
        .map(|l| {
            assert_eq!(
                order_router::audit::checksum_ok(l.as_bytes()),
                Some(true),
                "{l}"
            );
            let at = l.rfind(",\"crc\":\"").expect("a checksum field");
            format!("{}}}\n", &l[..at])
        })
        .collect()
}

/// Reads a log and feeds every line (record or error) to a fresh checker.
fn check(text: &str) -> Vec<Problem> {
    check_bytes(text.as_bytes())
}

fn check_bytes(bytes: &[u8]) -> Vec<Problem> {
    let mut c = Checker::new();
    for r in read(bytes) {
        match r {
            Ok(rec) => c.observe(&rec),
            Err(e) => c.unreadable(e),
        }
    }
    c.finish()
}

/// A hand-written log: one line per `(intent, state, extra fields)`; `seq` is the index and
/// `t_ms` ten times it, so only the transitions matter.
fn log(lines: &[(&str, &str, &str)]) -> String {
    lines
        .iter()
        .enumerate()
        .map(|(i, (id, state, extra))| raw(i as u64, i as u64 * 10, id, state, extra))
        .collect()
}

fn raw(seq: u64, t_ms: u64, id: &str, state: &str, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    format!("{{\"seq\":{seq},\"t_ms\":{t_ms},\"intent_id\":\"{id}\",\"state\":\"{state}\"{sep}{extra}}}\n")
}

fn problem(line: usize, id: &str, kind: ProblemKind) -> Problem {
    Problem {
        line,
        intent_id: Some(id.to_string()),
        kind,
    }
}

/// One line of every `Detail` variant, in a legal-looking order (seq 0.., t_ms rising).
fn every_variant() -> Vec<AuditLine> {
    let c1 = coid("or-1d9185916e83de47-1");
    let c2 = coid("or-1d9185916e83de47-2");
    let details: Vec<(State, Detail)> = vec![
        (
            State::New,
            Detail::New {
                symbol: Symbol::parse("BTC/USDT").unwrap(),
                side: Side::Buy,
                qty: d("0.00100"),
                ref_price: d("50000.00"),
            },
        ),
        (State::New, Detail::DuplicateIgnored),
        (
            State::Failed,
            Detail::Failed {
                reason: "reserve_failed",
                detail: "min_notional",
            },
        ),
        (
            State::Reserved,
            Detail::Reserved {
                reserved_qty: d("0.001"),
                reserved_price: d("50100.00"),
                asset: Asset::new("USDT").unwrap(),
                amount: d("50.1501"),
            },
        ),
        (
            State::Reserved,
            Detail::SlippageGuardApplied {
                market_price: d("50250.5"),
                limit_price: d("50100"),
            },
        ),
        (
            State::Sent,
            Detail::Sent {
                client_order_id: c1.clone(),
                attempt: 1,
                qty: d("0.001"),
                limit_price: d("50100"),
                tif: Tif::Ioc,
            },
        ),
        (
            State::Unknown,
            Detail::Unknown {
                client_order_id: c1.clone(),
                cause: "timeout",
            },
        ),
        (
            State::Unknown,
            Detail::QueryPending {
                client_order_id: c1.clone(),
                cause: "rate_limited",
                next_ms: 1_234,
            },
        ),
        (
            State::Partial,
            Detail::Order {
                client_order_id: c1.clone(),
                order_id: oid("7"),
                filled_qty: d("0.0004"),
                avg_price: Some(d("50005.5")),
            },
        ),
        (
            State::Partial,
            Detail::CancelRequested {
                client_order_id: c1.clone(),
            },
        ),
        (
            State::Canceled,
            Detail::Order {
                client_order_id: c1.clone(),
                order_id: oid("7"),
                filled_qty: d("0"),
                avg_price: None,
            },
        ),
        (
            State::Error,
            Detail::Error {
                client_order_id: c2.clone(),
                error: "insufficient_balance",
                rejection: Some(Box::new((
                    -2010,
                    "Account has insufficient balance for requested action.".into(),
                ))),
            },
        ),
        (
            State::Retry,
            Detail::Retry {
                attempt: 2,
                remaining_qty: d("0.0006"),
                backoff_ms: 400,
            },
        ),
        (
            State::Filled,
            Detail::Order {
                client_order_id: c2,
                order_id: oid("8"),
                filled_qty: d("0.0006"),
                avg_price: Some(d("50001")),
            },
        ),
        (
            State::Filled,
            Detail::TradesPending {
                cause: "network",
                next_ms: 99,
            },
        ),
        (
            State::FailedFinal,
            Detail::FailedFinal {
                attempts: 4,
                released: d("50.1501"),
            },
        ),
        (
            State::PartialSuccess,
            Detail::PartialSuccess {
                filled_qty: d("0.0004"),
                released: d("30.09006"),
            },
        ),
        (
            State::Reconciled,
            Detail::Reconciled {
                fills_count: 2,
                filled_qty: d("0.001"),
                avg_price: d("50002.8"),
                fee: d("0.0500028"),
                released: d("0.0500972"),
                booked: vec![
                    (asset("BTC"), d("0.001")),
                    (asset("USDT"), d("-50.0528028")),
                ]
                .into_boxed_slice(),
            },
        ),
        (State::Sent, Detail::Recovered),
    ];
    details
        .into_iter()
        .enumerate()
        .map(|(i, (state, detail))| line(i as u64, 3 * i as u64, state, detail))
        .collect()
}

/// Exhaustive on purpose: a new `Detail` variant fails to compile here until it is covered.
fn variant_index(detail: &Detail) -> usize {
    match detail {
        Detail::New { .. } => 0,
        Detail::Failed { .. } => 1,
        Detail::Reserved { .. } => 2,
        Detail::Sent { .. } => 3,
        Detail::Order { .. } => 4,
        Detail::Error { .. } => 5,
        Detail::Unknown { .. } => 6,
        Detail::Retry { .. } => 7,
        Detail::FailedFinal { .. } => 8,
        Detail::PartialSuccess { .. } => 9,
        Detail::Reconciled { .. } => 10,
        Detail::DuplicateIgnored => 11,
        Detail::SlippageGuardApplied { .. } => 12,
        Detail::QueryPending { .. } => 13,
        Detail::CancelRequested { .. } => 14,
        Detail::TradesPending { .. } => 15,
        Detail::Recovered => 16,
    }
}
const VARIANTS: usize = 17;

// ---------------------------------------------------------------------------------------------
// 1. Writer
// ---------------------------------------------------------------------------------------------

#[test]
fn writer_new_and_reserved_lines_are_exact_bytes() {
    let lines = [
        line(
            0,
            0,
            State::New,
            Detail::New {
                symbol: Symbol::parse("BTC/USDT").unwrap(),
                side: Side::Buy,
                qty: d("0.001"),
                ref_price: d("50000"),
            },
        ),
        line(
            1,
            0,
            State::Reserved,
            Detail::Reserved {
                reserved_qty: d("0.00100"),
                reserved_price: d("50100.00"),
                asset: Asset::new("USDT").unwrap(),
                amount: d("50.15010"),
            },
        ),
    ];
    let expected = concat!(
        r#"{"seq":0,"t_ms":0,"intent_id":"1697040000000-BTCUSDT-00ff","state":"NEW","symbol":"BTC/USDT","side":"buy","qty":0.001,"ref_price":50000}"#,
        "\n",
        r#"{"seq":1,"t_ms":0,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RESERVED","reserved_qty":0.001,"reserved_price":50100,"asset":"USDT","amount":50.1501}"#,
        "\n",
    );
    assert_eq!(
        unsealed(&String::from_utf8(written(&lines)).unwrap()),
        expected
    );
}

#[test]
fn writer_order_lifecycle_lines_are_exact_bytes() {
    let c = coid("or-1d9185916e83de47-1");
    let cases = [
        (
            line(
                2,
                5,
                State::Sent,
                Detail::Sent {
                    client_order_id: c.clone(),
                    attempt: 1,
                    qty: d("0.001"),
                    limit_price: d("50100.00"),
                    tif: Tif::Gtc,
                },
            ),
            r#"{"seq":2,"t_ms":5,"intent_id":"1697040000000-BTCUSDT-00ff","state":"SENT","client_order_id":"or-1d9185916e83de47-1","attempt":1,"qty":0.001,"limit_price":50100,"tif":"GTC"}"#,
        ),
        (
            line(
                3,
                7,
                State::Filled,
                Detail::Order {
                    client_order_id: c.clone(),
                    order_id: oid("12345"),
                    filled_qty: d("0.001"),
                    avg_price: Some(d("50005.0")),
                },
            ),
            r#"{"seq":3,"t_ms":7,"intent_id":"1697040000000-BTCUSDT-00ff","state":"FILLED","client_order_id":"or-1d9185916e83de47-1","order_id":"12345","filled_qty":0.001,"avg_price":50005}"#,
        ),
        // No average price (nothing filled): the field is left out, not written as null.
        (
            line(
                3,
                7,
                State::Canceled,
                Detail::Order {
                    client_order_id: c.clone(),
                    order_id: oid("12345"),
                    filled_qty: d("0.000"),
                    avg_price: None,
                },
            ),
            r#"{"seq":3,"t_ms":7,"intent_id":"1697040000000-BTCUSDT-00ff","state":"CANCELED","client_order_id":"or-1d9185916e83de47-1","order_id":"12345","filled_qty":0}"#,
        ),
        (
            line(
                4,
                400,
                State::Retry,
                Detail::Retry {
                    attempt: 2,
                    remaining_qty: d("0.0006"),
                    backoff_ms: 800,
                },
            ),
            r#"{"seq":4,"t_ms":400,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RETRY","attempt":2,"remaining_qty":0.0006,"backoff_ms":800}"#,
        ),
        (
            line(
                5,
                9,
                State::Reconciled,
                Detail::Reconciled {
                    fills_count: 1,
                    filled_qty: d("0.001"),
                    avg_price: d("50005"),
                    fee: d("0.0500050"),
                    released: d("0.0950"),
                    booked: vec![(asset("BTC"), d("0.001")), (asset("USDT"), d("-50.055005"))]
                        .into_boxed_slice(),
                },
            ),
            r#"{"seq":5,"t_ms":9,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RECONCILED","fills_count":1,"filled_qty":0.001,"avg_price":50005,"fee":0.050005,"released":0.095,"booked":{"BTC":0.001,"USDT":-50.055005}}"#,
        ),
        (
            line(
                u64::MAX,
                u64::MAX,
                State::FailedFinal,
                Detail::FailedFinal {
                    attempts: u32::MAX,
                    released: d("-0.5"),
                },
            ),
            r#"{"seq":18446744073709551615,"t_ms":18446744073709551615,"intent_id":"1697040000000-BTCUSDT-00ff","state":"FAILED_FINAL","attempts":4294967295,"released":-0.5}"#,
        ),
    ];
    for (l, expected) in cases {
        assert_eq!(unsealed(&written_str(&l)), format!("{expected}\n"), "{l:?}");
    }
}

#[test]
fn writer_event_lines_carry_event_name_and_unchanged_state() {
    let dup = line(6, 10, State::Reconciled, Detail::DuplicateIgnored);
    assert_eq!(
        unsealed(&written_str(&dup)),
        concat!(
            r#"{"seq":6,"t_ms":10,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RECONCILED","event":"duplicate_ignored"}"#,
            "\n"
        )
    );
    let guard = line(
        2,
        0,
        State::Reserved,
        Detail::SlippageGuardApplied {
            market_price: d("50200.10"),
            limit_price: d("50100.00"),
        },
    );
    assert_eq!(
        unsealed(&written_str(&guard)),
        concat!(
            r#"{"seq":2,"t_ms":0,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RESERVED","event":"slippage_guard_applied","market_price":50200.1,"limit_price":50100}"#,
            "\n"
        )
    );
    let names: Vec<(Option<&str>, usize)> = every_variant()
        .iter()
        .map(|l| (l.detail.event(), variant_index(&l.detail)))
        .collect();
    for (event, v) in names {
        let expected = match v {
            11 => Some("duplicate_ignored"),
            12 => Some("slippage_guard_applied"),
            13 => Some("query_pending"),
            14 => Some("cancel_requested"),
            15 => Some("trades_pending"),
            16 => Some("recovered"),
            _ => None,
        };
        assert_eq!(event, expected, "variant {v}");
    }
    // Transition lines carry no `event` key at all.
    for l in every_variant() {
        let text = written_str(&l);
        assert_eq!(
            text.contains("\"event\":"),
            l.detail.event().is_some(),
            "{text}"
        );
    }
}

#[test]
fn writer_escapes_quotes_backslashes_and_control_characters() {
    const NASTY: &str = "say \"hi\" C:\\tmp\\x\nnext\tline\r\u{0}\u{1}\u{1f}\u{7f} é € 😀 \u{2028}";
    let l = line(
        0,
        0,
        State::Failed,
        Detail::Failed {
            reason: "reserve_failed",
            detail: NASTY,
        },
    );
    let text = written_str(&l);
    // Exactly one line: the newline inside the string is escaped.
    assert_eq!(text.matches('\n').count(), 1, "{text:?}");
    assert!(text.ends_with("}\n"));
    assert!(
        !text[..text.len() - 1].chars().any(|c| (c as u32) < 0x20),
        "raw control character in {text:?}"
    );
    assert!(text.contains(r#"say \"hi\" C:\\tmp\\x"#), "{text}");
    assert!(text.contains(r"\u000a") || text.contains(r"\n"), "{text}");
    assert!(text.contains(r"\u0000"), "{text}");
    assert!(text.contains(r"\u001f"), "{text}");

    let v: Value = serde_json::from_str(text.trim_end()).expect("valid JSON");
    assert_eq!(v["detail"], Value::String(NASTY.to_string()));
    assert_eq!(v["reason"], "reserve_failed");
    assert_eq!(v["state"], "FAILED");
    // And our own reader accepts it.
    let recs = read(text.as_bytes());
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].as_ref().unwrap().state, State::Failed);
}

#[test]
fn writer_every_line_is_one_json_object_with_the_common_fields_first() {
    for l in every_variant() {
        let text = written_str(&l);
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let prefix = format!(
            "{{\"seq\":{},\"t_ms\":{},\"intent_id\":\"{}\",\"state\":\"{}\"",
            l.seq,
            l.t_ms,
            l.intent_id.as_str(),
            l.state.as_str()
        );
        assert!(
            text.starts_with(&prefix),
            "{text} should start with {prefix}"
        );
        let v: Value = serde_json::from_str(text.trim_end()).expect("valid JSON");
        let obj = v.as_object().expect("an object");
        // No duplicate keys: the number of `":` separators equals the key count (with the keys
        // of a nested object such as `booked`).
        let nested: usize = obj
            .values()
            .filter_map(Value::as_object)
            .map(|o| o.len())
            .sum();
        assert_eq!(text.matches("\":").count(), obj.len() + nested, "{text}");
        if let Some(e) = l.detail.event() {
            assert_eq!(obj["event"], e);
        }
    }
}

#[test]
fn writer_appends_without_touching_existing_bytes() {
    let mut out = b"previous\n".to_vec();
    write_line(&mut out, &line(0, 0, State::New, Detail::DuplicateIgnored));
    assert!(out.starts_with(b"previous\n{\"seq\":0,"));
    assert!(out.ends_with(b"}\n"));
}

// ---------------------------------------------------------------------------------------------
// 2. Exactness of decimals
// ---------------------------------------------------------------------------------------------

fn new_line_with_qty(qty: Decimal) -> AuditLine {
    line(
        0,
        0,
        State::New,
        Detail::New {
            symbol: Symbol::parse("BTC/USDT").unwrap(),
            side: Side::Sell,
            qty,
            ref_price: d("1"),
        },
    )
}

fn read_one(bytes: &[u8]) -> Record {
    let mut recs = read(bytes);
    assert_eq!(recs.len(), 1, "{}", String::from_utf8_lossy(bytes));
    recs.remove(0).expect("readable")
}

#[test]
fn decimal_with_many_significant_digits_survives_write_and_read() {
    for text in [
        "0.12345678901234567890123",
        "12345678901234567890.12345678",
        "79228162514264337593543950335",
        "-79228162514264337593543950335",
        "0.0000000000000000000000000001",
        "1234567.8901234567890123456",
    ] {
        let qty = d(text);
        let bytes = written(&[new_line_with_qty(qty)]);
        let s = String::from_utf8(bytes.clone()).unwrap();
        assert!(s.contains(&format!("\"qty\":{text},")), "{s}");
        let rec = read_one(&bytes);
        assert_eq!(rec.qty, Some(qty), "{text}");
        assert_eq!(rec.qty.unwrap().to_string(), text);
    }
}

#[test]
fn decimals_are_not_rounded_through_floats() {
    // 0.1 + 0.2 in binary floating point is 0.30000000000000004.
    let sum = d("0.1") + d("0.2");
    let text = written_str(&new_line_with_qty(sum));
    assert!(text.contains("\"qty\":0.3,"), "{text}");
    assert!(!text.contains("0.30000000000000004"), "{text}");
    assert_eq!(read_one(text.as_bytes()).qty, Some(d("0.3")));

    // Read: digits written by someone else are taken as written, not via f64.
    let other = raw(0, 0, "a", "NEW", r#""qty":0.30000000000000004"#);
    let rec = read_one(other.as_bytes());
    assert_eq!(rec.qty, Some(d("0.30000000000000004")));
    assert_ne!(rec.qty, Some(d("0.3")));
    // 2^53 + 1 is not representable as f64.
    let fill = raw(
        1,
        0,
        "a",
        "FILLED",
        r#""client_order_id":"c","filled_qty":9007199254740993"#,
    );
    assert_eq!(
        read_one(fill.as_bytes()).filled_qty,
        Some(d("9007199254740993"))
    );
}

#[test]
fn reader_accepts_exponent_notation_and_rejects_out_of_range_decimals() {
    let rec = read_one(raw(0, 0, "a", "NEW", r#""qty":1.5E-3"#).as_bytes());
    assert_eq!(rec.qty, Some(d("0.0015")));
    for bad in [r#""qty":1e400"#, r#""qty":79228162514264337593543950336"#] {
        let recs = read(raw(0, 0, "a", "NEW", bad).as_bytes());
        assert!(
            matches!(
                &recs[..],
                [Err(ReadError::Field {
                    line: 1,
                    field: "qty",
                    ..
                })]
            ),
            "{bad}: {recs:?}"
        );
    }
}

fn any_decimal() -> impl Strategy<Value = Decimal> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        0u32..=28,
    )
        .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale))
}

proptest! {
    #[test]
    fn any_decimal_round_trips_exactly(qty in any_decimal(), filled in any_decimal()) {
        let l = line(
            7,
            8,
            State::Partial,
            Detail::Order {
                client_order_id: coid("c-1"),
                order_id: oid("1"),
                filled_qty: filled,
                avg_price: Some(qty),
            },
        );
        let rec = read_one(&written(std::slice::from_ref(&l)));
        prop_assert_eq!(rec.filled_qty, Some(filled));
        let rec = read_one(&written(&[new_line_with_qty(qty)]));
        prop_assert_eq!(rec.qty, Some(qty));
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Round trip
// ---------------------------------------------------------------------------------------------

#[test]
fn round_trip_covers_every_detail_variant() {
    let lines = every_variant();
    let mut covered = [false; VARIANTS];
    for l in &lines {
        covered[variant_index(&l.detail)] = true;
    }
    assert!(covered.iter().all(|&c| c), "not covered: {covered:?}");

    let bytes = written(&lines);
    let recs = read(&bytes);
    assert_eq!(recs.len(), lines.len());
    for (i, (l, r)) in lines.iter().zip(&recs).enumerate() {
        let r = r.as_ref().unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let expected = Record {
            line: i + 1,
            ..Record::from_line(l)
        };
        // `qty` is compared on NEW lines and `filled_qty` on order reports only: the reader
        // also picks them up elsewhere (see the ignored test below).
        let is_order = matches!(l.detail, Detail::Order { .. });
        let got = Record {
            qty: if l.state == State::New { r.qty } else { None },
            filled_qty: if is_order { r.filled_qty } else { None },
            ..r.clone()
        };
        assert_eq!(got, expected);
    }
}

#[test]
fn round_trip_is_exact_for_every_field_of_every_variant() {
    let lines = every_variant();
    let recs = read(&written(&lines));
    for (i, (l, r)) in lines.iter().zip(&recs).enumerate() {
        let expected = Record {
            line: i + 1,
            ..Record::from_line(l)
        };
        assert_eq!(r.as_ref(), Ok(&expected));
    }
}

#[test]
fn record_from_line_takes_the_fields_checking_needs() {
    let lines = every_variant();
    let r = Record::from_line(&lines[0]);
    assert_eq!(r.line, 0);
    assert_eq!(r.intent_id, ID);
    assert_eq!(r.state, State::New);
    assert_eq!(r.qty, Some(d("0.001")));
    assert_eq!(r.event, None);
    assert_eq!(r.client_order_id, None);
    let partial = lines
        .iter()
        .find(|l| l.state == State::Partial && l.detail.event().is_none())
        .unwrap();
    let r = Record::from_line(partial);
    assert_eq!(r.client_order_id.as_deref(), Some("or-1d9185916e83de47-1"));
    assert_eq!(r.filled_qty, Some(d("0.0004")));
    assert_eq!(r.qty, None);
    let dup = Record::from_line(&lines[1]);
    assert_eq!(dup.event.as_deref(), Some("duplicate_ignored"));
    // Only order reports carry a fill: PARTIAL_SUCCESS and RECONCILED summaries do not count.
    for l in &lines {
        let r = Record::from_line(l);
        assert_eq!(
            r.filled_qty.is_some(),
            matches!(l.detail, Detail::Order { .. }),
            "{l:?}"
        );
    }
}

proptest! {
    #[test]
    fn round_trip_of_arbitrary_seq_time_and_state(
        seq in any::<u64>(),
        t_ms in any::<u64>(),
        state in proptest::sample::select(State::ALL.to_vec()),
        qty in any_decimal(),
    ) {
        let l = AuditLine {
            seq,
            t_ms,
            intent_id: iid("x.y_z:1/2-3"),
            state,
            detail: Detail::New {
                symbol: Symbol::parse("ETH/BTC").unwrap(),
                side: Side::Buy,
                qty,
                ref_price: qty,
            },
        };
        let rec = read_one(&written(std::slice::from_ref(&l)));
        // A SENT line's `qty` is its attempt's quantity.
        let order_qty = (state == State::Sent).then_some(qty);
        prop_assert_eq!(rec, Record { line: 1, order_qty, ..Record::from_line(&l) });
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Reader
// ---------------------------------------------------------------------------------------------

const L0: &str = r#"{"seq":0,"t_ms":0,"intent_id":"a","state":"NEW","qty":0.001}"#;
const L1: &str = r#"{"seq":1,"t_ms":0,"intent_id":"a","state":"FAILED","reason":"reserve_failed"}"#;
const L2: &str =
    r#"{"seq":2,"t_ms":0,"intent_id":"a","state":"FAILED","event":"duplicate_ignored"}"#;

fn lines_of(recs: &[Result<Record, ReadError>]) -> Vec<usize> {
    recs.iter()
        .map(|r| match r {
            Ok(r) => r.line,
            Err(e) => e.line(),
        })
        .collect()
}

#[test]
fn truncated_last_line_is_reported_as_truncated_with_its_line_number() {
    let text = format!("{L0}\n{L1}\n{{\"seq\":2,\"t_ms\":0,\"intent_id\":\"a\",\"sta");
    let recs = read(text.as_bytes());
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert!(recs[0].is_ok() && recs[1].is_ok());
    assert_eq!(recs[2], Err(ReadError::Truncated { line: 3 }));
    assert!(ReadError::Truncated { line: 3 }
        .to_string()
        .contains("line 3"));
}

#[test]
fn garbage_line_in_the_middle_is_a_json_error_not_truncated() {
    for tail in ["\n", ""] {
        let text = format!("{L0}\nthis is not json {{\n{L1}{tail}");
        let recs = read(text.as_bytes());
        assert_eq!(recs.len(), 3, "{recs:?}");
        assert!(
            matches!(&recs[1], Err(ReadError::Json { line: 2, .. })),
            "{recs:?}"
        );
        assert_eq!(recs[2].as_ref().unwrap().line, 3);
    }
    // A broken last line that did end with its newline, and has no checksum, was written
    // whole: not torn.
    let text = format!("{L0}\n{{\"seq\":1,\n");
    let recs = read(text.as_bytes());
    assert!(
        matches!(&recs[..], [Ok(_), Err(ReadError::Json { line: 2, .. })]),
        "{recs:?}"
    );
}

#[test]
fn complete_last_line_without_trailing_newline_parses() {
    let text = format!("{L0}\n{L1}");
    let recs = read(text.as_bytes());
    assert_eq!(recs.len(), 2);
    let r = recs[1].as_ref().expect("complete line");
    assert_eq!((r.line, r.seq, r.state), (2, 1, State::Failed));
    // A single line, no newline at all.
    assert_eq!(read_one(L0.as_bytes()).line, 1);
}

#[test]
fn crlf_line_endings_are_accepted() {
    let text = format!("{L0}\r\n{L1}\r\n");
    let recs = read(text.as_bytes());
    assert_eq!(lines_of(&recs), [1, 2]);
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
}

#[test]
fn empty_and_blank_only_input_yields_nothing() {
    for text in ["", "\n", "\n\n\n", "  \t \n\r\n   "] {
        assert!(read(text.as_bytes()).is_empty(), "{text:?}");
    }
    assert!(check("").is_empty());
}

#[test]
fn leading_and_trailing_blank_lines_are_skipped_with_line_numbers_kept() {
    let text = format!("\n  \n{L0}\n{L1}\n");
    let recs = read(text.as_bytes());
    assert_eq!(lines_of(&recs), [3, 4]);
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
}

#[test]
fn blank_lines_in_the_middle_are_skipped_with_line_numbers_kept() {
    // Lines: 1 L0, 2 blank, 3 whitespace, 4 L1, 5 blank, 6 L2.
    let text = format!("{L0}\n\n \t \n{L1}\n\n{L2}\n");
    let recs = read(text.as_bytes());
    assert_eq!(lines_of(&recs), [1, 4, 6], "{recs:?}");
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
    // Also when the file does not end with a newline.
    let text = format!("{L0}\n\n{L1}");
    assert_eq!(lines_of(&read(text.as_bytes())), [1, 3]);
}

#[test]
fn a_blank_line_cannot_hide_later_violations() {
    // A complete legal intent, a blank line, then a second intent that starts mid-way.
    let text = format!(
        "{}\n{}",
        log(&[("a", "NEW", r#""qty":1"#), ("a", "FAILED", "")]),
        raw(2, 20, "b", "SENT", "")
    );
    let problems = check(&text);
    assert_eq!(
        problems,
        [
            problem(
                4,
                "b",
                ProblemKind::IllegalTransition {
                    from: None,
                    to: State::Sent
                }
            ),
            problem(0, "b", ProblemKind::NotTerminal { state: State::Sent }),
        ]
    );
}

#[test]
fn last_line_cut_inside_a_utf8_character_is_truncated() {
    let full = "{\"seq\":0,\"t_ms\":0,\"intent_id\":\"a\",\"state\":\"FAILED\",\"detail\":\"€";
    let bytes = &full.as_bytes()[..full.len() - 1];
    assert_eq!(read(bytes), [Err(ReadError::Truncated { line: 1 })]);
}

#[test]
fn invalid_utf8_is_not_utf8_with_its_line() {
    let mut bytes = format!("{L0}\n").into_bytes();
    bytes.extend_from_slice(
        b"{\"seq\":1,\"t_ms\":0,\"intent_id\":\"\xff\xfe\",\"state\":\"NEW\"}\n",
    );
    bytes.extend_from_slice(format!("{L1}\n").as_bytes());
    let recs = read(&bytes);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1], Err(ReadError::NotUtf8 { line: 2 }));
    assert!(recs[2].is_ok());
}

#[test]
fn missing_required_fields_are_named() {
    for (text, field) in [
        (r#"{"t_ms":0,"intent_id":"a","state":"NEW"}"#, "seq"),
        (r#"{"seq":0,"intent_id":"a","state":"NEW"}"#, "t_ms"),
        (r#"{"seq":0,"t_ms":0,"state":"NEW"}"#, "intent_id"),
        (r#"{"seq":0,"t_ms":0,"intent_id":"a"}"#, "state"),
        (
            r#"{"seq":0,"t_ms":0,"intent_id":null,"state":"NEW"}"#,
            "intent_id",
        ),
        (
            r#"{"seq":0,"t_ms":0,"intent_id":"a","state":null}"#,
            "state",
        ),
    ] {
        let recs = read(format!("{text}\n").as_bytes());
        assert_eq!(recs, [Err(ReadError::Missing { line: 1, field })], "{text}");
        let msg = recs[0].as_ref().unwrap_err().to_string();
        assert!(msg.contains("line 1") && msg.contains(field), "{msg}");
    }
}

#[test]
fn unknown_state_name_is_a_field_error() {
    for state in ["DONE", "new", "Filled", "", "NEW "] {
        let text = raw(0, 0, "a", state, "");
        let recs = read(text.as_bytes());
        assert!(
            matches!(
                &recs[..],
                [Err(ReadError::Field {
                    line: 1,
                    field: "state",
                    ..
                })]
            ),
            "{state:?}: {recs:?}"
        );
    }
    let recs = read(br#"{"seq":0,"t_ms":0,"intent_id":"a","state":3}"#);
    assert!(
        matches!(&recs[..], [Err(ReadError::Field { field: "state", .. })]),
        "{recs:?}"
    );
}

#[test]
fn seq_and_t_ms_must_be_non_negative_integers() {
    for value in [
        "-1",
        "1.5",
        "1.0",
        "1e2",
        "\"1\"",
        "null",
        "true",
        "18446744073709551616",
        "[1]",
    ] {
        for field in ["seq", "t_ms"] {
            let (seq, t) = if field == "seq" {
                (value, "0")
            } else {
                ("0", value)
            };
            let text =
                format!("{{\"seq\":{seq},\"t_ms\":{t},\"intent_id\":\"a\",\"state\":\"NEW\"}}\n");
            let recs = read(text.as_bytes());
            assert!(
                matches!(&recs[..], [Err(ReadError::Field { line: 1, field: f, .. })] if *f == field),
                "{text}: {recs:?}"
            );
        }
    }
    // The largest u64 is fine.
    let rec = read_one(raw(u64::MAX, u64::MAX, "a", "NEW", "").as_bytes());
    assert_eq!((rec.seq, rec.t_ms), (u64::MAX, u64::MAX));
}

#[test]
fn optional_fields_of_the_wrong_type_are_field_errors() {
    for (state, extra, field) in [
        ("NEW", r#""qty":"0.001""#, "qty"),
        ("FILLED", r#""filled_qty":true"#, "filled_qty"),
        ("NEW", r#""event":1"#, "event"),
        ("NEW", r#""client_order_id":{}"#, "client_order_id"),
    ] {
        let recs = read(raw(0, 0, "a", state, extra).as_bytes());
        assert!(
            matches!(&recs[..], [Err(ReadError::Field { line: 1, field: f, .. })] if *f == field),
            "{extra}: {recs:?}"
        );
    }
}

#[test]
fn non_object_json_is_a_json_error() {
    for text in ["[1,2]", "42", "\"NEW\"", "null", "{} {}"] {
        let recs = read(format!("{text}\n").as_bytes());
        assert!(
            matches!(&recs[..], [Err(ReadError::Json { line: 1, .. })]),
            "{text}: {recs:?}"
        );
    }
}

#[test]
fn extra_fields_and_any_key_order_are_accepted() {
    let text = r#"{"state":"SENT","vendor":{"x":[1,2,{"y":null}]},"intent_id":"a","t_ms":5,"note":"hi","seq":3,"client_order_id":"c1","qty":0.5,"filled_qty":null}"#;
    let rec = read_one(text.as_bytes());
    assert_eq!(
        rec,
        Record {
            line: 1,
            seq: 3,
            t_ms: 5,
            intent_id: "a".into(),
            state: State::Sent,
            event: None,
            // `qty` counts only on NEW lines; a SENT line's is the attempt's.
            qty: None,
            client_order_id: Some("c1".into()),
            filled_qty: None,
            symbol: None,
            side: None,
            price: None,
            order_qty: Some("0.5".parse().unwrap()),
            attempt: None,
            backoff_ms: None,
            next_ms: None,
            cause: None,
        }
    );
}

#[test]
fn errors_do_not_stop_reading_and_every_line_gets_a_result() {
    let text = format!("{L0}\nnope\n{{\"seq\":1}}\n\u{0}\n{L1}\n{L2}");
    let recs = read(text.as_bytes());
    assert_eq!(lines_of(&recs), [1, 2, 3, 4, 5, 6], "{recs:?}");
    assert!(recs[0].is_ok() && recs[4].is_ok() && recs[5].is_ok());
    assert!(matches!(recs[1], Err(ReadError::Json { line: 2, .. })));
    assert!(matches!(recs[2], Err(ReadError::Missing { line: 3, .. })));
    assert!(matches!(recs[3], Err(ReadError::Json { line: 4, .. })));
}

proptest! {
    #[test]
    fn read_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let recs = read(&bytes);
        let lines = lines_of(&recs);
        let total = bytes.split(|&b| b == b'\n').count();
        prop_assert!(lines.windows(2).all(|w| w[0] < w[1]), "{:?}", lines);
        prop_assert!(lines.iter().all(|&n| n >= 1 && n <= total), "{:?}", lines);
        // Only the last line can be truncated.
        for r in &recs {
            if let Err(ReadError::Truncated { line }) = r {
                prop_assert_eq!(*line, total);
                prop_assert!(bytes.last() != Some(&b'\n'));
            }
        }
        let _ = check_bytes(&bytes);
    }

    #[test]
    fn read_never_panics_on_json_like_text(
        text in "[{}\\[\\]\":,0-9a-zA-Z_.eE+\\\\ \t\r\n-]{0,200}"
    ) {
        let recs = read(text.as_bytes());
        prop_assert!(recs.len() <= text.split('\n').count());
        let _ = check(&text);
    }

    #[test]
    fn read_never_panics_on_mangled_valid_lines(
        picks in proptest::collection::vec((0usize..18, any::<u8>(), any::<usize>()), 0..8)
    ) {
        // Real lines with one byte overwritten each: the reader must answer, not panic.
        let lines = every_variant();
        let mut bytes = Vec::new();
        for (i, b, pos) in picks {
            let mut one = written(std::slice::from_ref(&lines[i % lines.len()]));
            let at = pos % one.len();
            one[at] = b;
            bytes.extend(one);
        }
        let _ = read(&bytes);
        let _ = check_bytes(&bytes);
    }

    #[test]
    fn a_log_cut_anywhere_reads_its_whole_lines_and_flags_the_rest_as_truncated(
        cut in any::<proptest::sample::Index>()
    ) {
        let bytes = written(&every_variant());
        let k = cut.index(bytes.len() + 1);
        let prefix = &bytes[..k];
        let recs = read(prefix);
        let whole = prefix.iter().filter(|&&b| b == b'\n').count();
        let start = prefix.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let partial = &prefix[start..];
        let full_line_len = bytes[start..].iter().position(|&b| b == b'\n').unwrap_or(0);
        for (i, r) in recs.iter().take(whole).enumerate() {
            prop_assert_eq!(r.as_ref().map(|r| r.line), Ok(i + 1));
        }
        if partial.is_empty() {
            prop_assert_eq!(recs.len(), whole);
        } else if partial.len() == full_line_len {
            // Cut exactly before the newline: a complete line.
            prop_assert_eq!(recs.len(), whole + 1);
            prop_assert!(recs[whole].is_ok());
        } else {
            prop_assert_eq!(recs.len(), whole + 1);
            prop_assert_eq!(&recs[whole], &Err(ReadError::Truncated { line: whole + 1 }));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Checker
// ---------------------------------------------------------------------------------------------

const Q: &str = r#""qty":0.001"#;

#[test]
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

#[test]
fn first_line_of_an_intent_must_be_new() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "FAILED", ""),
        ("b", "RESERVED", ""),
        ("b", "SENT", ""),
        ("b", "ERROR", ""),
        ("b", "FAILED_FINAL", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            3,
            "b",
            ProblemKind::IllegalTransition {
                from: None,
                to: State::Reserved
            }
        )]
    );
    // An event line cannot start an intent either.
    let text = log(&[("a", "NEW", r#""event":"duplicate_ignored""#)]);
    let problems = check(&text);
    assert_eq!(
        problems,
        [
            problem(
                1,
                "a",
                ProblemKind::IllegalTransition {
                    from: None,
                    to: State::New
                }
            ),
            problem(0, "a", ProblemKind::NotTerminal { state: State::New }),
        ]
    );
}

#[test]
fn blind_retry_of_a_sent_order_is_illegal() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "RETRY", ""),
        ("a", "SENT", r#""client_order_id":"c2""#),
        ("a", "ERROR", ""),
        ("a", "FAILED_FINAL", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            4,
            "a",
            ProblemKind::IllegalTransition {
                from: Some(State::Sent),
                to: State::Retry
            }
        )]
    );
}

#[test]
fn unknown_found_resting_goes_back_to_sent_under_the_same_client_order_id_only() {
    // The query found the order live: SENT again, same client order id. Legal.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "UNKNOWN", r#""client_order_id":"c1""#),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c1","filled_qty":0.001"#,
        ),
        ("a", "RECONCILED", ""),
    ]);
    assert_eq!(check(&text), []);
    // A new client order id while the first is unresolved is a blind re-placement.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "UNKNOWN", r#""client_order_id":"c1""#),
        ("a", "SENT", r#""client_order_id":"c2""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c2","filled_qty":0.001"#,
        ),
        ("a", "RECONCILED", ""),
    ]);
    let problems = check(&text);
    assert_eq!(
        problems,
        [problem(
            5,
            "a",
            ProblemKind::ResentWhileUnknown {
                was: "c1".into(),
                got: Some("c2".into())
            }
        )]
    );
    let shown = problems[0].to_string();
    assert!(
        shown.contains("line 5") && shown.contains("intent a") && shown.contains("c1"),
        "{shown}"
    );
    // So is a SENT that names no client order id at all.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "UNKNOWN", r#""client_order_id":"c1""#),
        ("a", "SENT", ""),
        ("a", "ERROR", ""),
        ("a", "FAILED_FINAL", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            5,
            "a",
            ProblemKind::ResentWhileUnknown {
                was: "c1".into(),
                got: None
            }
        )]
    );
    // After RETRY a new client order id is the normal case.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "UNKNOWN", r#""client_order_id":"c1""#),
        ("a", "RETRY", ""),
        ("a", "SENT", r#""client_order_id":"c2""#),
        ("a", "UNKNOWN", r#""client_order_id":"c2""#),
        ("a", "SENT", r#""client_order_id":"c2""#),
        ("a", "CANCELED", r#""client_order_id":"c2","filled_qty":0"#),
        ("a", "FAILED_FINAL", ""),
    ]);
    assert_eq!(check(&text), []);
}

#[test]
fn a_second_new_for_a_known_intent_is_illegal() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "NEW", Q),
        ("a", "FAILED", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            3,
            "a",
            ProblemKind::IllegalTransition {
                from: Some(State::Reserved),
                to: State::New
            }
        )]
    );
}

#[test]
fn checker_agrees_with_the_table_for_every_pair_of_states() {
    // Shortest legal path from NEW to each state.
    let mut paths: Vec<(State, Vec<State>)> = vec![(State::New, vec![State::New])];
    let mut i = 0;
    while i < paths.len() {
        let (at, path) = paths[i].clone();
        for to in State::ALL {
            if is_legal(Some(at), to) && !paths.iter().any(|(s, _)| *s == to) {
                let mut p = path.clone();
                p.push(to);
                paths.push((to, p));
            }
        }
        i += 1;
    }
    assert_eq!(paths.len(), State::ALL.len(), "every state is reachable");
    for (from, path) in &paths {
        for to in State::ALL {
            let mut lines: Vec<(&str, &str, &str)> =
                path.iter().map(|s| ("a", s.as_str(), "")).collect();
            lines.push(("a", to.as_str(), ""));
            let problems = check(&log(&lines));
            let illegal: Vec<&Problem> = problems
                .iter()
                .filter(|p| matches!(p.kind, ProblemKind::IllegalTransition { .. }))
                .collect();
            if is_legal(Some(*from), to) {
                assert!(illegal.is_empty(), "{from} -> {to}: {problems:?}");
            } else {
                assert_eq!(
                    illegal,
                    [&problem(
                        lines.len(),
                        "a",
                        ProblemKind::IllegalTransition {
                            from: Some(*from),
                            to
                        }
                    )],
                    "{from} -> {to}"
                );
            }
            // Whatever else, an unfinished intent is reported at the end.
            let not_terminal = problems
                .iter()
                .any(|p| matches!(p.kind, ProblemKind::NotTerminal { .. }));
            assert_eq!(not_terminal, !to.is_terminal(), "{from} -> {to}");
        }
    }
}

#[test]
fn seq_must_increase() {
    let lines = [
        raw(0, 0, "a", "NEW", Q),
        raw(1, 0, "a", "RESERVED", ""),
        raw(1, 0, "a", "SENT", ""),
        raw(0, 0, "a", "ERROR", ""),
        raw(7, 0, "a", "FAILED_FINAL", ""),
    ];
    assert_eq!(
        check(&lines.concat()),
        [
            problem(3, "a", ProblemKind::SeqNotIncreasing { prev: 1, got: 1 }),
            problem(4, "a", ProblemKind::SeqNotIncreasing { prev: 1, got: 0 }),
        ]
    );
    // Across intents too: seq is per log, not per intent.
    let lines = [
        raw(5, 0, "a", "NEW", Q),
        raw(6, 0, "b", "NEW", Q),
        raw(6, 0, "a", "FAILED", ""),
        raw(7, 0, "b", "FAILED", ""),
    ];
    assert_eq!(
        check(&lines.concat()),
        [problem(
            3,
            "a",
            ProblemKind::SeqNotIncreasing { prev: 6, got: 6 }
        )]
    );
}

#[test]
fn time_must_not_go_back() {
    let lines = [
        raw(0, 10, "a", "NEW", Q),
        raw(1, 10, "b", "NEW", Q),
        raw(2, 15, "a", "RESERVED", ""),
        raw(3, 12, "b", "FAILED", ""),
        raw(4, 15, "a", "SENT", ""),
        raw(5, 16, "a", "ERROR", ""),
        raw(6, 16, "a", "FAILED_FINAL", ""),
    ];
    assert_eq!(
        check(&lines.concat()),
        [problem(
            4,
            "b",
            ProblemKind::TimeWentBack { prev: 15, got: 12 }
        )]
    );
}

#[test]
fn an_event_line_must_claim_the_current_state() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""event":"duplicate_ignored""#),
        ("a", "SENT", ""),
        ("a", "ERROR", ""),
        ("a", "FAILED_FINAL", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            3,
            "a",
            ProblemKind::EventStateMismatch {
                current: State::Reserved,
                got: State::Sent
            }
        )]
    );
}

#[test]
fn fills_that_end_in_failed_final_are_not_reconciled() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "PARTIAL",
            r#""client_order_id":"c1","filled_qty":0.0004"#,
        ),
        (
            "a",
            "CANCELED",
            r#""client_order_id":"c1","filled_qty":0.0004"#,
        ),
        ("a", "FAILED_FINAL", ""),
        ("a", "FAILED_FINAL", r#""event":"duplicate_ignored""#),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            6,
            "a",
            ProblemKind::FillsNotReconciled {
                terminal: State::FailedFinal
            }
        )]
    );
}

#[test]
fn two_orders_filling_more_than_the_qty_overfill() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "PARTIAL",
            r#""client_order_id":"c1","filled_qty":0.0006"#,
        ),
        ("a", "RETRY", ""),
        ("a", "SENT", r#""client_order_id":"c2""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c2","filled_qty":0.0006"#,
        ),
        ("a", "RECONCILED", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            7,
            "a",
            ProblemKind::Overfilled {
                filled: d("0.0012"),
                qty: d("0.001")
            }
        )]
    );
    // One order alone reporting more than the qty is an overfill as well.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c1","filled_qty":0.0010001"#,
        ),
        ("a", "RECONCILED", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            4,
            "a",
            ProblemKind::Overfilled {
                filled: d("0.0010001"),
                qty: d("0.001")
            }
        )]
    );
}

#[test]
fn log_ending_mid_flight_is_not_terminal() {
    let text = log(&[
        ("a", "NEW", Q),
        ("b", "NEW", Q),
        ("a", "RESERVED", ""),
        ("b", "FAILED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
    ]);
    let problems = check(&text);
    assert_eq!(
        problems,
        [problem(
            0,
            "a",
            ProblemKind::NotTerminal { state: State::Sent }
        )]
    );
    let shown = problems[0].to_string();
    assert!(
        shown.contains("intent a") && shown.contains("SENT"),
        "{shown}"
    );
    assert!(
        !shown.contains("line"),
        "whole-log problem has no line: {shown}"
    );
}

#[test]
fn a_transition_after_reconciled_is_illegal() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c1","filled_qty":0.001"#,
        ),
        ("a", "RECONCILED", ""),
        ("a", "SENT", r#""client_order_id":"c2""#),
    ]);
    assert_eq!(
        check(&text),
        [
            problem(
                6,
                "a",
                ProblemKind::IllegalTransition {
                    from: Some(State::Reconciled),
                    to: State::Sent
                }
            ),
            // The checker follows the log, so the intent ends SENT.
            problem(0, "a", ProblemKind::NotTerminal { state: State::Sent }),
        ]
    );
}

#[test]
fn unreadable_lines_are_problems_at_their_line() {
    let text = format!(
        "{}garbage\n{}{{\"seq\":3,\"t_ms\":30,\"int",
        log(&[("a", "NEW", Q)]),
        raw(2, 20, "a", "FAILED", "")
    );
    let problems = check(&text);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(matches!(
        &problems[0],
        Problem {
            line: 2,
            intent_id: None,
            kind: ProblemKind::Unreadable(ReadError::Json { line: 2, .. })
        }
    ));
    assert_eq!(
        problems[1],
        Problem {
            line: 4,
            intent_id: None,
            kind: ProblemKind::Unreadable(ReadError::Truncated { line: 4 })
        }
    );
    assert!(problems[1].to_string().contains("line 4"));
}

#[test]
fn problem_display_names_line_and_intent() {
    let cases = [
        problem(
            3,
            "intent-x",
            ProblemKind::IllegalTransition {
                from: None,
                to: State::Reserved,
            },
        ),
        problem(
            4,
            "intent-x",
            ProblemKind::IllegalTransition {
                from: Some(State::Sent),
                to: State::Retry,
            },
        ),
        problem(
            5,
            "intent-x",
            ProblemKind::SeqNotIncreasing { prev: 9, got: 2 },
        ),
        problem(
            6,
            "intent-x",
            ProblemKind::TimeWentBack { prev: 90, got: 20 },
        ),
        problem(
            7,
            "intent-x",
            ProblemKind::EventStateMismatch {
                current: State::Reserved,
                got: State::Sent,
            },
        ),
        problem(
            8,
            "intent-x",
            ProblemKind::FillsNotReconciled {
                terminal: State::FailedFinal,
            },
        ),
        problem(
            9,
            "intent-x",
            ProblemKind::Overfilled {
                filled: d("0.0012"),
                qty: d("0.001"),
            },
        ),
    ];
    for p in &cases {
        let s = p.to_string();
        assert!(s.contains(&format!("line {}", p.line)), "{s}");
        assert!(s.contains("intent-x"), "{s}");
    }
    let details = [
        ("RESERVED", 0),
        ("SENT", 1),
        ("RETRY", 1),
        ("9", 2),
        ("2", 2),
        ("90", 3),
        ("20", 3),
        ("RESERVED", 4),
        ("SENT", 4),
        ("FAILED_FINAL", 5),
        ("0.0012", 6),
        ("0.001", 6),
    ];
    for (needle, i) in details {
        let s = cases[i].to_string();
        assert!(s.contains(needle), "{s} should mention {needle}");
    }
    // Found by the checker, not built by hand: the same holds.
    let text = log(&[("abc-1", "NEW", Q), ("abc-1", "SENT", "")]);
    let shown: Vec<String> = check(&text).iter().map(ToString::to_string).collect();
    assert!(
        shown[0].contains("line 2") && shown[0].contains("abc-1"),
        "{shown:?}"
    );
    assert!(
        shown[0].contains("NEW") && shown[0].contains("SENT"),
        "{shown:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Checksums: every line carries its CRC-32C, so a damaged line is never read as data.

#[test]
fn every_line_the_writer_makes_carries_a_valid_checksum() {
    for l in every_variant() {
        let text = written_str(&l);
        let line = text.strip_suffix('\n').expect("one line");
        assert_eq!(
            order_router::audit::checksum_ok(line.as_bytes()),
            Some(true),
            "{line}"
        );
        assert!(
            line.ends_with("\"}") && line.contains(",\"crc\":\""),
            "{line}"
        );
    }
}

#[test]
fn a_damaged_line_is_corruption_in_the_middle_and_a_torn_tail_at_the_end() {
    let log = written(&every_variant()[..4]);
    let text = String::from_utf8(log).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    // One digit changed in the second line: still valid JSON, no longer its checksum.
    let damaged = lines[1].replacen("\"seq\":1", "\"seq\":7", 1);
    assert_ne!(damaged, lines[1]);
    let middle = format!("{}\n{damaged}\n{}\n{}\n", lines[0], lines[2], lines[3]);
    let recs = read(middle.as_bytes());
    assert_eq!(recs[1], Err(ReadError::Checksum { line: 2 }), "{recs:?}");
    assert!(recs[0].is_ok() && recs[2].is_ok() && recs[3].is_ok());
    let end = format!("{}\n{}\n{damaged}\n", lines[0], lines[2]);
    let recs = read(end.as_bytes());
    assert_eq!(recs[2], Err(ReadError::Truncated { line: 3 }), "{recs:?}");
    // The same through the streaming reader, which only knows the last line at the end.
    let mut streamed = Vec::new();
    order_router::audit::read_stream(end.as_bytes(), |r| {
        streamed.push(r);
        std::ops::ControlFlow::Continue(())
    })
    .expect("read");
    assert_eq!(streamed, recs);
}

#[test]
fn logs_written_without_checksums_still_read_and_check() {
    assert_eq!(order_router::audit::checksum_ok(L0.as_bytes()), None);
    let recs = read(format!("{L0}\n{L1}\n").as_bytes());
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
}

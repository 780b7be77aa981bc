//! The audit log: exact JSONL bytes, lossless decimals, a reader that never panics and tells a
//! truncated tail from garbage, and a checker that finds every broken rule at its line.

mod checksums;
mod decimals;
mod illegal;
mod legal;
mod reader;
mod round_trip;
mod writer;

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
                fee: d("0.000001"),
                fee_asset: Some(asset("BTC")),
                released: d("0.0500972"),
                booked: vec![
                    (asset("BTC"), d("0.001")),
                    (asset("USDT"), d("-50.0528028")),
                ]
                .into_boxed_slice(),
            },
        ),
        (State::Sent, Detail::Recovered),
        (
            State::Retry,
            Detail::Held {
                cause: "rate_limit",
                next_ms: 7_000,
            },
        ),
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
        Detail::Held { .. } => 17,
    }
}
const VARIANTS: usize = 18;

/// The one record of a one-line log.
fn read_one(bytes: &[u8]) -> Record {
    let mut recs = read(bytes);
    assert_eq!(recs.len(), 1, "{}", String::from_utf8_lossy(bytes));
    recs.remove(0).expect("readable")
}

/// Any `Decimal`: every mantissa, sign and scale.
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

/// The qty field of a `NEW` line, for hand-written logs.
const Q: &str = r#""qty":0.001"#;
/// Three readable lines of one intent, for the reader's tests.
const L0: &str = r#"{"seq":0,"t_ms":0,"intent_id":"a","state":"NEW","qty":0.001}"#;
const L1: &str = r#"{"seq":1,"t_ms":0,"intent_id":"a","state":"FAILED","reason":"reserve_failed"}"#;
const L2: &str =
    r#"{"seq":2,"t_ms":0,"intent_id":"a","state":"FAILED","event":"duplicate_ignored"}"#;

//! The checks of what must happen, not only of what must never happen: the retry policy, the
//! limit at the cap, the venue's truth about each order, liveness in a calm market and the
//! assembler's identity. Each is proved twice: the real router passes a scenario, and a router
//! with the matching deliberate bug is caught by that check, on that scenario. The log-only
//! checks are also shown on hand-written logs, as `check-audit` reads any implementation's.

use order_router::audit::{read, Checker, Policy, Problem, ProblemKind};
use order_router::exchange::sim::{SimExchange, VenueConfig};
use order_router::portfolio::Portfolio;
use order_router::router::{Router, RouterConfig};
use order_router::sim::invariants::Invariants;

use crate::world::{d, usdt};

/// Runs `scenario` with the real router (it must pass) and with `mutant` (it must be caught by
/// `invariant`, with `detail` in the report).
fn caught(scenario: &str, mutant: &str, invariant: &str, detail: &str) {
    let path = format!("scenarios/{scenario}");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_order-router"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", &path])
            .args(extra)
            .output()
            .expect("run the binary");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&[]);
    assert_eq!(code, Some(0), "the real router fails {scenario}:\n{out}");
    // That check on its own: the lockstep model (`model_agrees`) sees some of these bugs first.
    let (code, out) = run(&["--mutant", mutant, "--no-model"]);
    assert_eq!(code, Some(1), "{mutant} survived {scenario}:\n{out}");
    assert!(
        out.contains(&format!("VIOLATION {invariant} violated")) && out.contains(detail),
        "{mutant} on {scenario}: expected {invariant} with {detail:?}:\n{out}"
    );
}

/// rate_limit_hold: after a 429 nothing is sent until its `Retry-After` ends.
#[test]
// rule: rate_limit_hold
fn requests_during_a_rate_limit_hold_break_rate_limit_hold() {
    caught(
        "rate_limit_hold.csv",
        "ignore-rate-limit-hold",
        "rate_limit_hold",
        "place sent at 100 ms, during the venue's rate-limit hold until 1023 ms",
    );
}

/// rate_limit_hold: a wait is not an attempt, so no retry is spent on it.
#[test]
// rule: rate_limit_hold
fn a_retry_spent_on_a_rate_limit_wait_breaks_rate_limit_hold() {
    caught(
        "rate_limit_hold.csv",
        "hold-spends-retry",
        "rate_limit_hold",
        "logged as rate limited, but the venue never refused it",
    );
}

#[test]
// rule: retry_policy
fn stopping_while_retries_are_left_breaks_the_retry_policy() {
    caught(
        "retries_exhausted.csv",
        "stop-retrying-early",
        "retry_policy",
        "ended FAILED_FINAL after 3 attempts with 0.001 still placeable and retries left",
    );
}

#[test]
// rule: retry_policy
fn a_backoff_that_does_not_double_breaks_the_retry_policy() {
    caught(
        "retries_exhausted.csv",
        "linear-backoff",
        "retry_policy",
        "backoff 1200 ms, expected 1600 ms",
    );
}

#[test]
// rule: limit_at_cap
fn an_attempt_inside_the_cap_breaks_limit_at_cap() {
    // The market sits exactly at the cap: one tick inside it, the order never fills.
    caught(
        "fee_at_cap.csv",
        "limit-inside-cap",
        "limit_at_cap",
        "placed at 50099.99, not at the cap 50100.00",
    );
}

#[test]
// rule: order_truth
fn a_partial_fill_taken_for_a_whole_one_breaks_order_truth() {
    caught(
        "partial_fills.csv",
        "partial-as-filled",
        "order_truth",
        "FILLED with 0.004 of the attempt's 0.01",
    );
}

#[test]
// rule: order_truth, audit_complete
fn a_trade_answer_booked_whole_is_caught() {
    // A split answer, a repeated trade and another order's trade: booked without the filter and
    // the de-duplication, the fills cannot be paid from the reservation and the intent sticks.
    caught(
        "trade_answers.csv",
        "book-whole-answer",
        "audit_complete",
        "not terminal at quiescence: FILLED",
    );
}

#[test]
// rule: liveness
fn refusing_a_budget_that_fits_breaks_liveness() {
    caught(
        "fee_reserved.csv",
        "refuse-exact-budget",
        "liveness",
        "refused (insufficient_balance) although it needs 50.1501 USDT and 50.1501 is available",
    );
}

#[test]
// rule: liveness
fn refusing_an_intent_for_a_reason_that_does_not_hold_breaks_liveness() {
    // The market is beyond the cap at delivery; the specification places at the cap anyway.
    caught(
        "gtc_rest_then_fill.csv",
        "refuse-beyond-cap",
        "liveness",
        "refused (price)",
    );
}

#[test]
// rule: intent_identity
fn signals_that_differ_but_give_one_intent_break_intent_identity() {
    caught(
        "signal_pairs.csv",
        "assembler-ignores-qty",
        "intent_identity",
        "differ but gave the same intent",
    );
}

#[test]
// rule: write_ahead
fn a_placement_sent_before_its_line_is_durable_breaks_write_ahead() {
    caught(
        "basic_buy.csv",
        "send-before-durable",
        "write_ahead",
        "place went out before its line was durable",
    );
}

/// Without reporting the journal durable, a driver gets no command at all.
#[test]
// rule: write_ahead
fn commands_wait_for_the_journal() {
    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt(), d("1000")).unwrap();
    let mut router = Router::new(RouterConfig::default(), portfolio).unwrap();
    router
        .handle(0, crate::world::buy("w", "0.001", "50000"))
        .unwrap();
    let mut last = 0;
    while let Some(line) = router.poll_audit() {
        last = line.seq;
    }
    assert_eq!(last, 2, "NEW, RESERVED, SENT");
    assert!(router.poll_command().is_none());
    // Durable through RESERVED only: the placement's SENT line is not, so it still waits.
    router.journal_durable(1).unwrap();
    assert!(router.poll_command().is_none());
    router.journal_durable(2).unwrap();
    assert_eq!(
        router.poll_command().expect("released").action.name(),
        "place"
    );
}

/// The problems `check-audit` finds in a log, with or without the router's settings.
fn problems(log: &str, policy: Option<Policy>) -> Vec<Problem> {
    let mut c = policy.map_or_else(Checker::new, Checker::with_policy);
    for r in read(log.as_bytes()) {
        c.observe(&r.expect("readable"));
    }
    c.finish()
}

const NEW: &str = r#"{"seq":0,"t_ms":0,"intent_id":"i","state":"NEW","symbol":"BTC/USDT","side":"buy","qty":0.002,"ref_price":50000}
{"seq":1,"t_ms":0,"intent_id":"i","state":"RESERVED","reserved_qty":0.002,"reserved_price":50100,"asset":"USDT","amount":100.3002}
"#;

fn sent(seq: u64, t: u64, attempt: u32, qty: &str, limit: &str) -> String {
    format!(
        r#"{{"seq":{seq},"t_ms":{t},"intent_id":"i","state":"SENT","client_order_id":"c{attempt}","attempt":{attempt},"qty":{qty},"limit_price":{limit},"tif":"IOC"}}
"#
    )
}

fn canceled(seq: u64, t: u64, attempt: u32) -> String {
    format!(
        r#"{{"seq":{seq},"t_ms":{t},"intent_id":"i","state":"CANCELED","client_order_id":"c{attempt}","order_id":"{attempt}","filled_qty":0,"avg_price":null}}
"#
    )
}

fn retry(seq: u64, t: u64, next: u32, backoff: u64) -> String {
    format!(
        r#"{{"seq":{seq},"t_ms":{t},"intent_id":"i","state":"RETRY","attempt":{next},"remaining_qty":0.002,"backoff_ms":{backoff}}}
"#
    )
}

fn failed_final(seq: u64, t: u64, attempts: u32) -> String {
    format!(
        r#"{{"seq":{seq},"t_ms":{t},"intent_id":"i","state":"FAILED_FINAL","attempts":{attempts},"released":100.3002}}
"#
    )
}

fn kinds(p: &[Problem]) -> Vec<&'static str> {
    p.iter().map(|p| p.kind.check()).collect()
}

#[test]
// rule: retry_policy, limit_at_cap, order_truth
fn a_well_kept_log_passes_the_policy_checks_with_and_without_settings() {
    let log = [
        NEW.to_string(),
        sent(2, 0, 1, "0.002", "50100"),
        canceled(3, 10, 1),
        retry(4, 10, 2, 400),
        sent(5, 410, 2, "0.002", "50100"),
        canceled(6, 420, 2),
        failed_final(7, 420, 2),
    ]
    .concat();
    assert_eq!(problems(&log, None), vec![]);
    let cfg = RouterConfig {
        max_retries: 1,
        ..RouterConfig::default()
    };
    assert_eq!(problems(&log, Some(Policy::of(&cfg))), vec![]);
    // With one more retry allowed, ending there is stopping early.
    let p = problems(&log, Some(Policy::of(&RouterConfig::default())));
    assert_eq!(kinds(&p), ["retry_policy"], "{p:?}");
    assert!(matches!(
        p[0].kind,
        ProblemKind::StoppedEarly { attempts: 2, .. }
    ));
}

#[test]
// rule: retry_policy, limit_at_cap
fn log_only_checks_catch_a_limit_off_the_cap_a_skipped_attempt_and_a_hasty_retry() {
    let log = [
        NEW.to_string(),
        sent(2, 0, 1, "0.002", "50099.99"),
        canceled(3, 10, 1),
        retry(4, 10, 2, 400),
        // Too soon, and numbered 3.
        sent(5, 300, 3, "0.002", "50100"),
        canceled(6, 310, 3),
        // Backoff halves instead of doubling.
        retry(7, 310, 4, 200),
        sent(8, 510, 4, "0.002", "50100"),
        canceled(9, 520, 4),
        failed_final(10, 520, 4),
    ]
    .concat();
    let p = problems(&log, None);
    let text: Vec<String> = p.iter().map(ToString::to_string).collect();
    assert_eq!(
        kinds(&p),
        [
            "limit_at_cap",
            "retry_policy",
            "retry_policy",
            "retry_policy"
        ],
        "{text:#?}"
    );
    assert!(text[0].contains("attempt placed at 50099.99, not at the cap 50100"));
    assert!(text[1].contains("SENT says attempt 3, expected 2"));
    assert!(text[2].contains("next attempt sent at t_ms 300, expected no earlier than 410"));
    assert!(text[3].contains("backoff 200 ms, expected 400 to 800 ms"));
}

#[test]
// rule: order_truth
fn a_filled_report_short_of_the_attempt_is_caught_from_the_log_alone() {
    let log = [
        NEW.to_string(),
        sent(2, 0, 1, "0.002", "50100"),
        r#"{"seq":3,"t_ms":10,"intent_id":"i","state":"FILLED","client_order_id":"c1","order_id":"1","filled_qty":0.001,"avg_price":50000}
"#
        .to_string(),
    ]
    .concat();
    let p = problems(&log, None);
    assert!(
        p.iter()
            .any(|p| matches!(p.kind, ProblemKind::FilledShort { .. })
                && p.kind.check() == "order_truth"),
        "{p:?}"
    );
}

/// The balance check keeps its own copy of what it last checked: a portfolio change the venue
/// did not see is caught on a step in which the venue did nothing.
#[test]
// rule: reservation_non_negative, balances_match
fn the_balance_check_takes_nothing_on_trust() {
    let venue = {
        let mut v = SimExchange::new(VenueConfig::default());
        v.deposit(&usdt(), d("100"));
        v
    };
    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt(), d("100")).unwrap();
    let mut router = Router::new(RouterConfig::default(), portfolio).unwrap();
    let mut inv = Invariants::new(&RouterConfig::default(), &VenueConfig::default());
    assert_eq!(inv.after_step(&router, &venue, true), None);
    assert_eq!(inv.after_step(&router, &venue, false), None);
    // Money the venue never received: the router now believes it can spend 150.
    router.deposit(&usdt(), d("50")).unwrap();
    let v = inv
        .after_step(&router, &venue, false)
        .expect("caught without the venue moving");
    // The portfolio books more than the venue holds: `balances_match` speaks first.
    assert_eq!(v.invariant, "balances_match");
    assert!(
        v.detail
            .contains("USDT: the portfolio books 150 but the venue holds 100"),
        "{}",
        v.detail
    );
}

/// A journal that cannot be made durable stops the drive before any command goes out.
#[test]
// rule: write_ahead
fn no_command_leaves_while_the_journal_is_not_durable() {
    use order_router::audit::AuditLine;
    use order_router::driver::{drive, AuditSink};
    use order_router::exchange::memory::MemoryExchange;

    struct Broken(u64);
    impl AuditSink for Broken {
        fn line(&mut self, _: AuditLine) {
            self.0 += 1;
        }
        fn jsonl(&mut self, _: &[u8], lines: u64) {
            self.0 += lines;
        }
        fn make_durable(&mut self) -> bool {
            false
        }
    }
    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt(), d("1000")).unwrap();
    let mut router = Router::new(RouterConfig::default(), portfolio).unwrap();
    let mut venue = MemoryExchange::new();
    venue.deposit(&usdt(), d("1000"));
    venue.set_price(&crate::world::btc_usdt(), d("50000"));
    let mut sink = Broken(0);
    let end = drive(
        &mut router,
        &mut venue,
        0,
        vec![crate::world::buy("j", "0.001", "50000")],
        &mut sink,
    );
    assert_eq!((end.commands, end.idle), (0, false));
    assert_eq!(sink.0, 3, "NEW, RESERVED, SENT were written");
    assert_eq!(venue.orders().len(), 0, "and nothing was placed");
}

/// The journal file of the library: a drive through it leaves a log that reads back whole.
#[test]
// rule: write_ahead
fn a_drive_through_a_file_journal_leaves_a_whole_log() {
    use order_router::driver::drive;
    use order_router::exchange::memory::MemoryExchange;
    use order_router::journal::{FileJournal, SyncPolicy};

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("journal.jsonl");
    let mut journal = FileJournal::append(&path, SyncPolicy::Batch).expect("open");
    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt(), d("1000")).unwrap();
    let mut router = Router::new(RouterConfig::default(), portfolio).unwrap();
    let mut venue = MemoryExchange::new();
    venue.deposit(&usdt(), d("1000"));
    venue.set_price(&crate::world::btc_usdt(), d("50000"));
    let end = drive(
        &mut router,
        &mut venue,
        0,
        vec![crate::world::buy("j", "0.001", "50000")],
        &mut journal,
    );
    assert!(end.idle && journal.error().is_none());
    assert!(
        journal.syncs >= 2,
        "a sync before the placement and one before the trade query"
    );
    drop(journal);
    let problems = problems(&std::fs::read_to_string(&path).expect("read"), None);
    assert_eq!(problems, vec![]);
}

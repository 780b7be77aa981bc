//! The simulator: every scenario file replays clean, the same seed gives the same bytes, random
//! fault mixes never break an invariant, and every invariant catches a router built to break it.

use std::path::{Path, PathBuf};

use crate::common::cli;
use order_router::sim::scenario::{load, Scenario};
use order_router::sim::{run, FaultProfile, Report, RunOptions, FAULT_KINDS, INVARIANTS};

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    files
}

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn replay(s: &Scenario, seed: u64, profile: FaultProfile) -> Report {
    run(
        s,
        &RunOptions {
            seed,
            profile: Some(profile),
            ..RunOptions::default()
        },
    )
}

/// Every kind at once, often enough that most seeds see several.
fn rough_profile() -> FaultProfile {
    FaultProfile {
        request_lost_bps: 800,
        response_lost_bps: 800,
        server_error_bps: 600,
        rate_limited_bps: 600,
        latency_bps: 500,
        latency_spike_ms: 7_000,
        reject_bps: 500,
        partial_bps: 1_500,
        requote_bps: 500,
        requote_move_bps: 15,
        trades_repeat_bps: 1_000,
        trades_foreign_bps: 1_000,
        trades_split_bps: 1_000,
        trades_phantom_bps: 500,
        order_foreign_bps: 300,
        rejected_status_bps: 300,
        duplicate_delivery_bps: 3_000,
        late_delivery_bps: 1_000,
        crash_bps: 300,
    }
}

#[test]
fn every_scenario_file_replays_with_all_invariants_and_expectations_holding() {
    let files = scenarios();
    assert!(files.len() >= 15, "only {} scenarios", files.len());
    for f in files {
        let s = load(&f).unwrap_or_else(|e| panic!("{e}"));
        let r = replay(&s, s.seed.unwrap_or(0), FaultProfile::default());
        assert!(
            r.passed(),
            "{}: {:?} {:?}\n{}",
            f.display(),
            r.violation,
            r.failed_expects,
            String::from_utf8_lossy(&r.audit)
        );
        assert!(r.expects > 0, "{} has no expect rows", f.display());
        assert!(r.checks > 0);
    }
}

#[test]
fn the_scenario_files_inject_every_fault_kind() {
    let mut seen = [0u64; FAULT_KINDS.len()];
    for f in scenarios() {
        let s = load(&f).unwrap_or_else(|e| panic!("{e}"));
        let r = replay(&s, s.seed.unwrap_or(0), FaultProfile::default());
        for (a, b) in seen.iter_mut().zip(r.faults) {
            *a += b;
        }
    }
    // The last two are bus faults, scripted by `deliveries` rows rather than injected.
    for (kind, n) in FAULT_KINDS.iter().zip(seen).take(8) {
        assert!(n > 0, "no scenario injects {kind}");
    }
}

#[test]
fn same_scenario_and_seed_give_byte_identical_audit_logs() {
    let s = scenario("showcase.csv");
    for seed in [0, 7, 12345] {
        let a = replay(&s, seed, rough_profile());
        let b = replay(&s, seed, rough_profile());
        assert!(!a.audit.is_empty());
        assert_eq!(a.audit, b.audit, "seed {seed}");
        assert_eq!((a.steps, a.checks, a.faults), (b.steps, b.checks, b.faults));
    }
    let a = replay(&s, 1, rough_profile());
    let b = replay(&s, 2, rough_profile());
    assert_ne!(a.audit, b.audit, "the seed must matter");
}

#[test]
fn random_fault_mixes_never_break_an_invariant() {
    let mut injected = [0u64; FAULT_KINDS.len()];
    for name in [
        "showcase.csv",
        "multi_symbol.csv",
        "partial_fills.csv",
        "gtc_rest_then_fill.csv",
        "round_trip.csv",
    ] {
        let s = scenario(name);
        let n: u64 = std::env::var("SIM_SEEDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        for seed in 0..n {
            let r = replay(&s, seed, rough_profile());
            for (a, b) in injected.iter_mut().zip(r.faults) {
                *a += b;
            }
            assert!(
                r.violation.is_none(),
                "{name} seed {seed}: {}\n{}",
                r.violation
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                String::from_utf8_lossy(&r.audit)
            );
        }
    }
    for (kind, n) in FAULT_KINDS.iter().zip(injected) {
        assert!(n > 0, "the profile never injected {kind}");
    }
}

/// For every invariant, a router with a deliberate bug makes `run` exit 1 naming it, with the
/// command that replays the violation. (`single_router` cannot be broken from outside the
/// router at all; its check is shown in the router's unit tests.)
#[test]
// rule: single_router, ids_present, audit_complete, reservation_non_negative
// rule: no_duplicate_orders, slippage_cap, min_notional, reconciled, write_ahead, recovery
// rule: retry_policy, limit_at_cap, order_truth, liveness, intent_identity, input_guards
// rule: rate_limit_hold, balances_match
fn each_invariant_catches_a_router_built_to_break_it() {
    let cases = [
        ("ids_present", "anonymous-order", "basic_buy.csv"),
        ("audit_complete", "double-apply-fills", "basic_buy.csv"),
        ("audit_complete", "ignore-dedup", "duplicate_deliveries.csv"),
        (
            "reservation_non_negative",
            "release-before-reconcile",
            "reconcile_delayed.csv",
        ),
        ("reservation_non_negative", "forget-fee", "fee_at_cap.csv"),
        // The fill it abandoned is at the venue, never in the portfolio.
        (
            "balances_match",
            "abandon-unknown",
            "unknown_last_attempt.csv",
        ),
        (
            "no_duplicate_orders",
            "fresh-id-after-timeout",
            "lost_reply_long.csv",
        ),
        (
            "slippage_cap",
            "no-slippage-cap-on-retry",
            "market_runs_away.csv",
        ),
        ("min_notional", "no-lot-rounding", "multi_symbol.csv"),
        ("reconciled", "leak-reservation", "basic_buy.csv"),
        (
            "retry_policy",
            "stop-retrying-early",
            "retries_exhausted.csv",
        ),
        ("retry_policy", "linear-backoff", "retries_exhausted.csv"),
        ("limit_at_cap", "limit-inside-cap", "fee_at_cap.csv"),
        ("order_truth", "partial-as-filled", "partial_fills.csv"),
        ("audit_complete", "book-whole-answer", "trade_answers.csv"),
        ("liveness", "refuse-exact-budget", "fee_reserved.csv"),
        ("liveness", "refuse-beyond-cap", "gtc_rest_then_fill.csv"),
        (
            "intent_identity",
            "assembler-ignores-qty",
            "signal_pairs.csv",
        ),
        ("write_ahead", "send-before-durable", "basic_buy.csv"),
        (
            "recovery",
            "release-in-flight-on-restart",
            "crash_dropped.csv",
        ),
        ("input_guards", "loose-settings", "basic_buy.csv"),
        ("order_truth", "rejected-as-canceled", "venue_oddities.csv"),
        ("order_truth", "avg-price-unweighted", "venue_oddities.csv"),
        ("order_truth", "trades-asked-twice", "basic_buy.csv"),
        ("retry_policy", "query-at-timeout", "lost_reply_long.csv"),
        ("recovery", "admit-during-doubt", "crash_in_doubt.csv"),
        (
            "recovery",
            "snapshot-forgets-fills",
            "crash_after_partial.csv",
        ),
        ("recovery", "cut-damaged-middle", "crash_dropped.csv"),
        (
            "order_truth",
            "ignore-trade-errors",
            "reconcile_delayed.csv",
        ),
        (
            "rate_limit_hold",
            "ignore-rate-limit-hold",
            "rate_limit_hold.csv",
        ),
        ("reconciled", "fee-in-quote-always", "fee_assets.csv"),
        (
            "balances_match",
            "buy-position-ignores-fee",
            "fee_assets.csv",
        ),
        ("model_agrees", "late-poll", "gtc_timeout_cancel.csv"),
        ("model_agrees", "late-cancel", "gtc_timeout_cancel.csv"),
    ];
    for (invariant, mutant, file) in cases {
        let path = format!("scenarios/{file}");
        // The other checks on their own: the lockstep model sees many of these bugs first.
        let model = if invariant == "model_agrees" {
            None
        } else {
            Some("--no-model")
        };
        let mut args = vec!["run", &path, "--mutant", mutant];
        args.extend(model);
        let (code, out, _) = cli(&args);
        assert_eq!(code, Some(1), "{mutant} on {file} was not caught:\n{out}");
        assert!(
            out.contains(&format!("VIOLATION {invariant} violated at step ")),
            "{mutant} on {file}: expected {invariant}:\n{out}"
        );
        assert!(
            out.contains(&format!(
                "reproduce: order-router run {path} --seed 0 --mutant {mutant}"
            )),
            "{out}"
        );
        // The unbroken router passes the same scenario.
        let (code, out, _) = cli(&["run", &path]);
        assert_eq!(code, Some(0), "{out}");
    }
    let named: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.0).collect();
    for inv in INVARIANTS {
        assert!(
            inv == "single_router" || named.contains(inv),
            "{inv} has no breaking router"
        );
    }
}

#[test]
fn run_prints_a_summary_and_writes_the_audit_log_whole() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let audit = tmp.path().join("run.jsonl");
    let audit_s = audit.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["run", "scenarios/showcase.csv", "--audit", &audit_s]);
    assert_eq!(code, Some(0), "{out}{err}");
    for needle in [
        "seed 7",
        "intents   5",
        "faults    response_lost 1",
        "invariants all held",
        "expects   6 of 6 held",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    let (code, check, _) = cli(&["check-audit", &audit_s]);
    assert_eq!(code, Some(0), "{check}");
    // Same scenario, same seed: the same summary and log, byte for byte.
    let first = std::fs::read(&audit).expect("audit");
    let (_, again, _) = cli(&["run", "scenarios/showcase.csv", "--audit", &audit_s]);
    assert_eq!(out, again);
    assert_eq!(first, std::fs::read(&audit).expect("audit"));
    // --seed overrides the scenario's seed.
    let (_, other, _) = cli(&["run", "scenarios/showcase.csv", "--seed", "8"]);
    assert!(other.contains("seed 8"), "{other}");
}

#[test]
fn bad_scenario_input_exits_2_naming_file_line_and_field() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let header = b"t_ms,action,symbol,side,qty,price,params\n".to_vec();
    let rows: [(&[u8], &str); 15] = [
        (b"0,buyy,,,,,\n", ":2: action:"),
        (b"0,fault,,,,,kind=partial;ratoi=0.5\n", ":2: params:"),
        (b"0,config,,,,,max_retriez=3\n", ":2: params:"),
        (b"0,intent,BTC/USDT,buy,-1,50000,id=x\n", ":2: qty:"),
        (b"0,intent,BTC/USDT,buy,0.001,-50000,id=x\n", ":2: price:"),
        (b"0,intent,BTC/USDT,buy,NaN,50000,id=x\n", ":2: qty:"),
        (b"0,intent,BTC/USDT,buy,0.0.1,50000,id=x\n", ":2: qty:"),
        (b"0,intent,BTC/USDT,buy,0.001,1e40,id=x\n", ":2: price:"),
        (
            b"0,intent,BTC/USDT,buy,0.001,99999999999999999999999999999999,id=x\n",
            ":2: price:",
        ),
        (b"0,intent,BTC/USDT,hold,0.001,50000,id=x\n", ":2: side:"),
        (b"0,intent,BTC/USDT,buy,0.001,50000\n", ":2: columns:"),
        (b"0,balance,USDT,,1000,,\n0,balance,US\xffDT,,1,,\n", ":3:"),
        (b"x,balance,USDT,,1000,,\n", ":2: t_ms:"),
        (
            b"0,price,BTC/USDT,,,50000,spread_bps=-1\n",
            ":2: spread_bps:",
        ),
        (
            b"0,expect,,,,,intent=a;final_state=DONE\n",
            ":2: final_state:",
        ),
    ];
    let mut cases: Vec<(Vec<u8>, &str)> = rows
        .iter()
        .map(|(row, want)| ([header.as_slice(), row].concat(), *want))
        .collect();
    cases.push((b"t_ms,action\n".to_vec(), ":1: header:"));
    cases.push((Vec::new(), ":1: header:"));
    for (i, (bytes, needle)) in cases.iter().enumerate() {
        let f = dir.join(format!("bad{i}.csv"));
        std::fs::write(&f, bytes).expect("write");
        let audit = dir.join(format!("bad{i}.jsonl"));
        let (code, out, err) = cli(&[
            "run",
            &f.to_string_lossy(),
            "--audit",
            &audit.to_string_lossy(),
        ]);
        let text = String::from_utf8_lossy(bytes);
        assert_eq!(code, Some(2), "{text:?}: {out}{err}");
        assert!(
            err.contains(&format!("bad{i}.csv{needle}")),
            "{text:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one clear line: {err}");
        assert!(out.is_empty(), "no half summary: {out}");
        assert!(!audit.exists(), "nothing half-done is written");
    }
    let (code, _, err) = cli(&["run", "scenarios/none-such.csv"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("none-such.csv"), "{err}");
    let (code, _, err) = cli(&["run", "scenarios/basic_buy.csv", "--seed", "abc"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--seed"), "{err}");
}

const TRADES: &str = "../shared/data/market/binance_spot_btcusdt_trades_20210108.csv";
const QUOTES: &str = "../shared/data/market/binance_spot_btcusdt_quotes_20210108.csv";

#[test]
fn signals_run_against_a_recorded_binance_tape() {
    for tape in [TRADES, QUOTES] {
        let (code, out, err) = cli(&[
            "run",
            "scenarios/replay_signals.csv",
            "--market",
            tape,
            "--json",
        ]);
        assert_eq!(code, Some(0), "{out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
        assert_eq!(v["passed"], true);
        assert_eq!(v["final_states"]["RECONCILED"], 3);
        // Hundreds of recorded price changes drove the book.
        assert!(v["steps"].as_u64().unwrap() > 300, "{v}");
    }
    // A broken tape is bad input: exit 2, file and line named.
    let tmp = tempfile::tempdir().expect("temp dir");
    let bad = tmp.path().join("tape.csv");
    std::fs::write(&bad, "timestamp,price,qty\n1,100,1\n2,abc,1\n").expect("write");
    let (code, _, err) = cli(&[
        "run",
        "scenarios/replay_signals.csv",
        "--market",
        &bad.to_string_lossy(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains(":3: price:"), "{err}");
    let (code, _, err) = cli(&["run", "scenarios/multi_symbol.csv", "--market", TRADES]);
    assert_eq!(code, Some(2), "two priced symbols need --market-symbol");
    assert!(err.contains("--market-symbol"), "{err}");
}

#[test]
fn json_summaries_are_single_objects_for_scripts() {
    let (code, out, _) = cli(&["run", "scenarios/market_runs_away.csv", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["final_states"]["FAILED_FINAL"], 1);
    assert_eq!(v["faults"]["requote"], 1);
    assert_eq!(v["violation"], serde_json::Value::Null);
    let (code, out, _) = cli(&[
        "run",
        "scenarios/market_runs_away.csv",
        "--json",
        "--mutant",
        "no-slippage-cap-on-retry",
    ]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["violation"]["invariant"], "slippage_cap");
    assert_eq!(v["violation"]["intent"], "runaway");
    assert!(v["reproduce"]
        .as_str()
        .unwrap()
        .contains("--mutant no-slippage-cap-on-retry"));
}

/// A summary line's numbers, by its label (`tape`, `intents`, ...).
fn summary_numbers(out: &str, label: &str) -> Vec<u64> {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in {out}"));
    // After the file name, if the line names one.
    let line = line.rsplit_once(".csv").map_or(line, |(_, rest)| rest);
    line.split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn an_hour_grown_from_the_recorded_tape_replays_with_the_router_in_the_loop() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let tape = tmp.path().join("hour.csv");
    let tape_s = tape.to_string_lossy().to_string();
    let (code, out, err) = cli(&[
        "tape", TRADES, "--hours", "1", "--seed", "3", "--out", &tape_s,
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let text = std::fs::read_to_string(&tape).expect("the tape");
    let trades = text.lines().count() as u64 - 1;
    assert_eq!(summary_numbers(&out, "tape")[0], trades, "{out}");
    // About 43 trades a second, as recorded.
    assert!((100_000..200_000).contains(&trades), "{trades}");
    // The same seed writes the same tape.
    let again = tmp.path().join("again.csv");
    let (code, _, _) = cli(&[
        "tape",
        TRADES,
        "--hours",
        "1",
        "--seed",
        "3",
        "--out",
        &again.to_string_lossy(),
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());

    let audit = tmp.path().join("audit.jsonl");
    let (code, out, err) = cli(&[
        "replay",
        &tape_s,
        "--every-ms",
        "2000",
        "--audit",
        &audit.to_string_lossy(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("invariants all held"), "{out}");
    // Every record was read; one intent every two seconds of the hour.
    assert_eq!(summary_numbers(&out, "tape")[0], trades, "{out}");
    let intents = summary_numbers(&out, "intents")[0];
    assert!((1_790..=1_800).contains(&intents), "{out}");
    let log = std::fs::read_to_string(&audit).expect("the audit log");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains(r#""state":"NEW""#))
            .count() as u64,
        intents
    );
    let (code, out, _) = cli(&["check-audit", &audit.to_string_lossy()]);
    assert_eq!(code, Some(0), "{out}");

    // Another market's tape, on its own grid.
    let (code, out, err) = cli(&[
        "replay",
        "../shared/data/market/xrpeth_trades_20191011.csv",
        "--symbol",
        "XRP/ETH",
        "--tick-size",
        "0.00000001",
        "--step-size",
        "1",
        "--min-notional",
        "0.01",
        "--every-ms",
        "60000",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(summary_numbers(&out, "tape")[0], 12_477, "{out}");
}

#[test]
fn a_bad_tape_or_setting_is_refused_and_leaves_no_audit() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let tape = tmp.path().join("bad.csv");
    let mut text = String::from("time_ms,price,qty\n");
    for i in 0..1000 {
        text.push_str(&format!("{},{},1\n", 1000 + i * 10, 50_000 + i % 7));
    }
    text.push_str("99999,oops,1\n");
    std::fs::write(&tape, text).unwrap();
    let audit = tmp.path().join("audit.jsonl");
    let (code, out, err) = cli(&[
        "replay",
        &tape.to_string_lossy(),
        "--audit",
        &audit.to_string_lossy(),
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("bad.csv:1002: price:"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!audit.exists(), "nothing half-done is written");
    for (args, field) in [
        (vec!["replay", TRADES, "--every-ms", "0"], "--every-ms"),
        (vec!["replay", TRADES, "--symbol", "BTCUSDT"], "--symbol"),
        (vec!["replay", TRADES, "--tick-size", "0"], "--tick-size"),
        (vec!["replay", "none-such.csv"], "none-such.csv"),
        (
            vec!["tape", TRADES, "--hours", "0", "--out", "x.csv"],
            "--hours",
        ),
        (
            vec!["tape", QUOTES, "--out", "-"],
            "needs a quantity column",
        ),
    ] {
        let (code, _, err) = cli(&args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(err.contains(field), "{args:?}: {err}");
    }
    assert!(!Path::new("x.csv").exists());
}

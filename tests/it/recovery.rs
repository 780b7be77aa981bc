//! Crash and restart: recovery from the journal (and a snapshot), the deliberate recovery bugs,
//! and the `recover` and `run --crash-everywhere` commands.

use crate::common::cli_joined as cli;
use order_router::audit::read;
use order_router::journal::snapshot;
use order_router::model::Asset;
use order_router::portfolio::Portfolio;
use order_router::router::{scan, RecoverError, Replay, Resume, Router, RouterConfig, State};
use order_router::sim::scenario::load as load_scenario;
use order_router::sim::{run, RunOptions};

/// The journal a crash-free run of a scenario writes.
pub(crate) fn journal_of(file: &str) -> Vec<u8> {
    let scenario = load_scenario(std::path::Path::new(file)).expect("scenario");
    let report = run(&scenario, &RunOptions::default());
    assert!(report.passed(), "{file}");
    report.audit
}

/// The first `n` lines of a journal.
pub(crate) fn first_lines(journal: &[u8], n: usize) -> Vec<u8> {
    let mut end = 0;
    for _ in 0..n {
        end += journal[end..].iter().position(|&b| b == b'\n').unwrap() + 1;
    }
    journal[..end].to_vec()
}

pub(crate) fn funded() -> Portfolio {
    let mut p = Portfolio::new();
    p.deposit(&Asset::new("USDT").unwrap(), "1000".parse().unwrap())
        .unwrap();
    p
}

#[test]
// rule: recovery
fn each_recovery_bug_is_caught_on_its_crash_scenario() {
    let cases = [
        (
            "forget-finished-on-restart",
            "crash_dropped.csv",
            "recovery",
        ),
        // Caught at the restart itself: it does not carry out the plan `recover` shows (a
        // query for an order that may be out); left alone, it doubles the order.
        (
            "replace-in-flight-on-restart",
            "crash_dropped.csv",
            "recovery",
        ),
        (
            "release-in-flight-on-restart",
            "crash_written.csv",
            "recovery",
        ),
        ("read-torn-tail", "crash_torn.csv", "recovery"),
    ];
    for (mutant, file, invariant) in cases {
        let path = format!("scenarios/{file}");
        let (code, out) = cli(&["run", &path, "--mutant", mutant]);
        assert_eq!(code, Some(1), "{mutant} on {file}:\n{out}");
        assert!(
            out.contains(&format!("VIOLATION {invariant} violated")),
            "{mutant} on {file}: expected {invariant}:\n{out}"
        );
        let (code, out) = cli(&["run", &path]);
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains("crash "),
            "{file} must crash the router:\n{out}"
        );
    }
}

#[test]
// rule: recovery, no_duplicate_orders
fn a_restart_after_sent_queries_the_order_and_never_places_it_again() {
    let journal = journal_of("scenarios/basic_buy.csv");
    // NEW, RESERVED, SENT: the order may be out.
    let cut = first_lines(&journal, 3);
    let rec = Router::recover(
        RouterConfig::default(),
        funded(),
        Replay::default(),
        &cut,
        10_000,
    )
    .expect("recovers");
    assert_eq!(rec.scan.lines, 3);
    assert_eq!(rec.resumed.len(), 1);
    assert_eq!(rec.resumed[0].1, State::Sent);
    assert_eq!(rec.resumed[0].2, Resume::Query);
    let mut router = rec.router;
    // The reservation is held again, exactly.
    assert_eq!(
        router.portfolio().reserved_total(),
        "50.1501".parse().unwrap()
    );
    // Its lines continue the journal's seq: the recovered event, then UNKNOWN (restart).
    let lines: Vec<_> = std::iter::from_fn(|| router.poll_audit()).collect();
    assert_eq!(lines[0].seq, 3);
    assert_eq!(lines[1].state, State::Unknown);
    router.journal_durable(lines.last().unwrap().seq).unwrap();
    router.handle_timeout(10_000).unwrap();
    let cmd = router.poll_command().expect("a query");
    assert_eq!(cmd.action.name(), "fetch_order");
}

#[test]
// rule: recovery, journal_damage
fn a_torn_last_line_is_cut_off_and_a_damaged_middle_line_refused() {
    let journal = journal_of("scenarios/basic_buy.csv");
    let whole = first_lines(&journal, 3);
    // Torn: the third line cut short.
    let torn = &whole[..whole.len() - 20];
    let mut replay = Replay::default();
    let s = scan(&mut replay, torn, &RouterConfig::default()).expect("a torn tail is normal");
    let two = first_lines(&journal, 2).len();
    assert_eq!(
        (s.lines, s.valid_len, s.torn_tail.map(|t| t.line)),
        (2, two, Some(3))
    );
    assert_eq!(replay.open().next().map(|o| o.state), Some(State::Reserved));
    // The same damage in the middle: corruption, refused.
    let mut middle = torn.to_vec();
    middle.push(b'\n');
    middle.extend_from_slice(&journal[whole.len()..]);
    let err = scan(&mut Replay::default(), &middle, &RouterConfig::default()).unwrap_err();
    assert!(matches!(err, RecoverError::Corrupt(_)), "{err}");
    // A garbled digit keeps the length but breaks the checksum: without its newline a tear,
    // with it damage (see tests/it/damage.rs).
    let mut garbled = whole.clone();
    let at = garbled.len() - 40;
    garbled[at] = if garbled[at] == b'1' { b'2' } else { b'1' };
    let s = scan(
        &mut Replay::default(),
        &garbled[..garbled.len() - 1],
        &RouterConfig::default(),
    )
    .unwrap();
    assert_eq!(s.torn_tail.map(|t| t.line), Some(3));
    let err = scan(&mut Replay::default(), &garbled, &RouterConfig::default()).unwrap_err();
    assert!(matches!(err, RecoverError::Damaged(_)), "{err}");
}

#[test]
// rule: recovery
fn a_line_the_state_cannot_explain_stops_recovery() {
    let journal = journal_of("scenarios/basic_buy.csv");
    // Drop the NEW line: RESERVED names an intent never begun.
    let first = first_lines(&journal, 1).len();
    let err = scan(
        &mut Replay::default(),
        &journal[first..],
        &RouterConfig::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("snapshot"), "{err}");
    // The same journal twice: NEW of a known intent.
    let mut twice = journal.clone();
    twice.extend_from_slice(&journal);
    let err = scan(&mut Replay::default(), &twice, &RouterConfig::default()).unwrap_err();
    assert!(matches!(err, RecoverError::Disagree { .. }), "{err}");
}

#[test]
// rule: recovery
fn a_snapshot_plus_the_journal_since_rebuilds_what_the_whole_journal_does() {
    let journal = journal_of("scenarios/partial_fills.csv");
    let mut whole = Replay::default();
    scan(&mut whole, &journal, &RouterConfig::default()).unwrap();
    let lines = read(&journal).len();
    for k in 1..lines {
        let head = first_lines(&journal, k);
        let mut at_k = Replay::default();
        scan(&mut at_k, &head, &RouterConfig::default()).unwrap();
        let file = snapshot::encode(&at_k);
        let mut from_snapshot = snapshot::decode(&file).expect("decodes");
        // The journal may still hold the covered lines (rotation comes after the snapshot),
        // or only the lines since.
        for tail in [&journal[..], &journal[head.len()..]] {
            let mut r = from_snapshot.clone();
            scan(&mut r, tail, &RouterConfig::default()).expect("continues");
            assert!(r.open().eq(whole.open()), "at line {k}");
            assert_eq!(
                (r.next_seq(), &r.booked, r.stats, r.finished().len()),
                (
                    whole.next_seq(),
                    &whole.booked,
                    whole.stats,
                    whole.finished().len()
                )
            );
        }
        // Another journal's snapshot is refused.
        let other = journal_of("scenarios/basic_buy.csv");
        if from_snapshot.next_seq() <= 5 {
            let err = scan(&mut from_snapshot, &other, &RouterConfig::default()).unwrap_err();
            assert!(err.to_string().contains("another journal"), "{err}");
        }
    }
}

#[test]
// rule: recovery
fn a_damaged_or_foreign_snapshot_is_refused() {
    let mut replay = Replay::default();
    scan(
        &mut replay,
        &journal_of("scenarios/basic_buy.csv"),
        &RouterConfig::default(),
    )
    .unwrap();
    let good = snapshot::encode(&replay);
    assert!(snapshot::decode(&good).is_ok());
    let mut damaged = good.clone();
    let last = damaged.len() - 9;
    damaged[last] ^= 1;
    let e = snapshot::decode(&damaged).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
    let newer = String::from_utf8_lossy(&good).replacen("\"version\":1", "\"version\":9", 1);
    let e = snapshot::decode(newer.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("unknown format version 9"), "{e}");
    let e = snapshot::decode(b"{\"seq\":0}\n1234")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an order-router snapshot"), "{e}");
}

#[test]
// rule: recovery, journal_damage
fn recover_prints_what_a_restart_rebuilds_and_refuses_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_of("scenarios/ambiguous_timeouts.csv");
    let path = dir.path().join("journal.jsonl");
    // Everything up to the second intent's SENT, plus half a line.
    let head = first_lines(&journal, 10);
    let mut cut = head.clone();
    cut.extend_from_slice(&journal[head.len()..head.len() + 30]);
    std::fs::write(&path, &cut).unwrap();
    let p = path.to_str().unwrap();
    let (code, out) = cli(&["recover", p]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("torn tail line 11"), "{out}");
    assert!(out.contains("open      1 intents"), "{out}");
    assert!(out.contains("-> query or-"), "{out}");
    // A damaged line in the middle: exit 2, one line.
    let mut bad = journal.clone();
    let at = first_lines(&journal, 2).len() - 30;
    bad[at] = b'#';
    std::fs::write(&path, &bad).unwrap();
    let (code, out) = cli(&["recover", p]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.starts_with("error: ") && out.lines().count() == 1,
        "{out}"
    );
    // A snapshot that is not one.
    std::fs::write(&path, &journal).unwrap();
    let (code, out) = cli(&["recover", p, "--snapshot", p]);
    assert_eq!(code, Some(2), "{out}");
}

#[test]
// rule: recovery
fn crash_everywhere_holds_on_a_scenario_and_names_the_failing_point_of_a_bug() {
    let (code, out) = cli(&["run", "scenarios/crash_written.csv", "--crash-everywhere"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("33 crash points held"), "{out}");
    let (code, out) = cli(&[
        "run",
        "scenarios/basic_buy.csv",
        "--crash-everywhere",
        "--mutant",
        "release-in-flight-on-restart",
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("--crash-at "), "{out}");
}

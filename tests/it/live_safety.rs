//! The live driver's safety rules end to end, against `order-router venue`: one process per
//! journal, rate limits that cost no retries, and a damaged journal that stops a restart.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::common::{bin, spawn_venue};
use crate::live::{check, intents, lines, live_cmd, run_to_end, venue, VenueProc, KEY, SECRET};

/// One process per journal: a second `live` on a journal in use is refused at once, naming
/// the holder, and sends nothing; a holder killed with SIGKILL leaves no stale lock.
#[test]
// rule: journal_lock
fn a_second_live_on_the_same_journal_is_refused_and_a_killed_one_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().unwrap();
    let v = venue(dir.path(), "none", 7);
    let journal = dir.path().join("journal.jsonl");
    let stdin_live = || {
        let mut c = bin();
        c.args(["live", "--venue", &v.url, "--json", "--intents", "-"])
            .arg("--journal")
            .arg(&journal)
            .env("ORDER_ROUTER_API_KEY", KEY)
            .env("ORDER_ROUTER_API_SECRET", SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let mut first = stdin_live();
    // The first holds the lock once its funding file exists.
    let funding = dir.path().join("journal.jsonl.funding");
    for _ in 0..200 {
        if funding.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(funding.exists(), "the first live never started");
    let posts_before = lines(&v.record)
        .iter()
        .filter(|l| l["method"] == "POST")
        .count();
    let (file, _) = intents(dir.path(), 3, 1);
    let out = live_cmd(&v.url, &file, &journal).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is in use by another process"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let posts_after = lines(&v.record)
        .iter()
        .filter(|l| l["method"] == "POST")
        .count();
    assert_eq!(posts_before, posts_after, "the refused process sent orders");
    // SIGKILL: the kernel drops the lock with the process.
    first.kill().unwrap();
    first.wait().unwrap();
    let summary = run_to_end(&v.url, &file, &journal);
    assert_eq!(summary["intents"], 3, "{summary}");
}

/// Rate limits cost no retries: placements are paced under the venue's order limit (from
/// `exchangeInfo`), so a run of more orders than one window allows draws no 429 at all.
#[test]
// rule: rate_limit_hold
fn placements_are_paced_under_the_venues_order_limit_and_draw_no_429() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("venue.jsonl");
    let (child, url) = spawn_venue(
        &[
            "--faults",
            "none",
            "--order-limit",
            "4",
            "--record",
            record.to_str().unwrap(),
        ],
        &[
            ("ORDER_ROUTER_API_KEY", KEY),
            ("ORDER_ROUTER_API_SECRET", SECRET),
        ],
    );
    let v = VenueProc { child, url, record };
    let (file, qty) = intents(dir.path(), 7, 3);
    let journal = dir.path().join("journal.jsonl");
    let summary = run_to_end(&v.url, &file, &journal);
    assert_eq!(summary["intents"], 7, "{summary}");
    let rec = lines(&v.record);
    let limited: Vec<&Value> = rec
        .iter()
        .filter(|l| l["status"] == 429 || l["status"] == 418)
        .collect();
    assert!(limited.is_empty(), "{limited:?}");
    let held = lines(&journal)
        .iter()
        .filter(|l| l["event"] == "held" && l["cause"] == "order_limit")
        .count();
    assert!(held > 0, "nothing was paced: {summary}");
    check(&journal, &v.record, &qty, &summary);
}

#[test]
// rule: journal_damage
fn a_damaged_journal_stops_live_until_truncate_damaged_cuts_it_into_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let v = venue(dir.path(), "none", 11);
    let (file, qty) = intents(dir.path(), 2, 11);
    let journal = dir.path().join("journal.jsonl");
    let summary = run_to_end(&v.url, &file, &journal);
    // Its last line again, one digit changed, newline intact: damage, not a crash's tear.
    let whole = std::fs::read(&journal).unwrap();
    let n = whole.iter().filter(|&&b| b == b'\n').count();
    let start = whole[..whole.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let mut extra = whole[start..].to_vec();
    let d = extra.iter().position(u8::is_ascii_digit).unwrap();
    extra[d] = if extra[d] == b'9' { b'0' } else { extra[d] + 1 };
    let mut damaged = whole.clone();
    damaged.extend_from_slice(&extra);
    std::fs::write(&journal, &damaged).unwrap();
    let out = live_cmd(&v.url, &file, &journal).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.lines().count() == 1
            && err.contains(&journal.display().to_string())
            && err.contains(&format!("damaged line {}", n + 1)),
        "{err}"
    );
    assert_eq!(std::fs::read(&journal).unwrap(), damaged, "journal touched");
    let side = dir.path().join("journal.jsonl.broken");
    assert!(!side.exists());
    // Asked to: the damage is cut into the side file, said, and the run goes on.
    let out = live_cmd(&v.url, &file, &journal)
        .arg("--truncate-damaged")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("kept in {}", side.display())),
        "{stdout}"
    );
    assert_eq!(std::fs::read(&side).unwrap(), extra);
    let again: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(again["orders_sent"], summary["orders_sent"], "{again}");
    assert!(std::fs::read(&journal).unwrap().starts_with(&whole));
    check(&journal, &v.record, &qty, &again);
}

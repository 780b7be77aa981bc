//! The command line: exit codes 0 / 1 / 2 and what it prints.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_order-router"))
}

/// A fresh temporary directory, removed when the test ends.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn demo_succeeds_and_its_audit_log_passes_check_audit() {
    let dir = scratch();
    let audit = dir.path().join("demo.jsonl");
    let out = bin()
        .args(["demo", "--audit"])
        .arg(&audit)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("audit check: 0 problems"), "{text}");
    assert!(text.contains("duplicates ignored: 2"), "{text}");
    let out = bin().arg("check-audit").arg(&audit).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!audit.with_extension("jsonl.partial").exists());
}

#[test]
fn demo_output_is_identical_on_every_run() {
    let a = bin().arg("demo").output().expect("run").stdout;
    let b = bin().arg("demo").output().expect("run").stdout;
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn check_audit_reports_each_problem_with_its_line_and_exits_1() {
    let dir = scratch();
    let log = dir.path().join("bad.jsonl");
    std::fs::write(
        &log,
        concat!(
            "{\"seq\":0,\"t_ms\":0,\"intent_id\":\"i1\",\"state\":\"NEW\",\"qty\":1}\n",
            "{\"seq\":1,\"t_ms\":0,\"intent_id\":\"i1\",\"state\":\"RESERVED\"}\n",
            "{\"seq\":2,\"t_ms\":0,\"intent_id\":\"i1\",\"state\":\"SENT\",\"client_order_id\":\"c1\"}\n",
            "{\"seq\":3,\"t_ms\":9,\"intent_id\":\"i1\",\"state\":\"RETRY\"}\n",
            "{\"seq\":4,\"t_ms\":9,\"intent_id\":\"i1\",\"sta"
        ),
    )
    .expect("write");
    let out = bin().arg("check-audit").arg(&log).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("line 4: intent i1: illegal transition SENT -> RETRY"),
        "{text}"
    );
    assert!(text.contains("line 5: torn last line"), "{text}");
    assert!(
        text.contains("intent i1: log ends with the intent in RETRY"),
        "{text}"
    );
}

#[test]
fn missing_file_and_bad_usage_exit_2() {
    let out = bin()
        .args(["check-audit", "/nonexistent/audit.jsonl"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/audit.jsonl"));
    let out = bin().arg("no-such-command").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = bin().output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

/// The value after `label` on the line that starts with `head` in `bench`'s report.
fn bench_field(report: &str, head: &str, label: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(head))
        .unwrap_or_else(|| panic!("no `{head}` line in {report}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.trim_end_matches(',') == label)
        .unwrap_or_else(|| panic!("no `{label}` in `{line}`"));
    words[at - 1].parse().expect("a count")
}

#[test]
fn bench_reports_every_rate_and_streams_a_valid_deterministic_audit_log() {
    let dir = scratch();
    let (a, b) = (
        dir.path().join("bench-a.jsonl"),
        dir.path().join("bench-b.jsonl"),
    );
    let mut reports = Vec::new();
    for path in [&a, &b] {
        let out = bin()
            .args(["bench", "--intents", "1500", "--audit"])
            .arg(path)
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.code(), Some(0), "{text}");
        for head in [
            "workload", "time", "intents", "events", "checks", "audit", "memory",
        ] {
            assert!(text.lines().any(|l| l.starts_with(head)), "{head}: {text}");
        }
        assert!(text.contains("invariants all held"), "{text}");
        reports.push(text);
    }
    let bytes = std::fs::read(&a).expect("audit log");
    assert_eq!(
        bench_field(&reports[0], "audit", "bytes"),
        bytes.len() as u64
    );
    let lines = bytes.iter().filter(|&&c| c == b'\n').count() as u64;
    assert_eq!(bench_field(&reports[0], "audit", "lines"), lines);
    assert_eq!(
        bytes,
        std::fs::read(&b).expect("audit log"),
        "same workload, same bytes"
    );
    assert!(!a.with_extension("jsonl.partial").exists());
    let check = bin().arg("check-audit").arg(&a).output().expect("run");
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn bench_refuses_zero_intents_in_one_line_and_writes_nothing() {
    let dir = scratch();
    let audit = dir.path().join("bench-zero.jsonl");
    let out = bin()
        .args(["bench", "--intents", "0", "--audit"])
        .arg(&audit)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--intents"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!audit.exists() && !audit.with_extension("jsonl.partial").exists());
}

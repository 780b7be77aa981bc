//! Bounds on every input: times and gaps of market files, the size of a grown tape, the
//! length of a line, the length of a value quoted in an error, a crash point past the run,
//! rules that refuse every order, and a closed pipe under a fuzz campaign. Each test fails
//! without its bound (a replay for ages, a tape of gigabytes, a line held whole).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use order_router::input::MAX_LINE_BYTES;

use crate::common::{bin, cli};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p.to_string_lossy().into_owned()
}

/// A line of `MAX_LINE_BYTES + 1` bytes: past the bound by one.
fn over_long(prefix: &str) -> Vec<u8> {
    let mut line = prefix.as_bytes().to_vec();
    line.resize(MAX_LINE_BYTES + 1, b'7');
    line
}

fn one_error_line(code: Option<i32>, err: &str, want: &[&str]) {
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for w in want {
        assert!(err.contains(w), "{w:?} not in {err}");
    }
}

#[test]
fn replay_refuses_a_market_time_past_the_year_2200() {
    let dir = tempfile::tempdir().unwrap();
    let tape = write(
        dir.path(),
        "far.csv",
        b"time_ms,price,qty\n1610064000278,100,1\n1000000000000000000,101,1\n",
    );
    let audit = dir.path().join("audit.jsonl");
    let (code, _, err) = cli(&["replay", &tape, "--audit", audit.to_str().unwrap()]);
    one_error_line(code, &err, &["far.csv:3: time:", "2200"]);
    assert!(!audit.exists(), "nothing half-done is written");
}

#[test]
fn replay_refuses_a_gap_of_more_than_a_week_between_records() {
    let dir = tempfile::tempdir().unwrap();
    let tape = write(
        dir.path(),
        "gap.csv",
        b"time_ms,price,qty\n1610064000278,100,1\n1610064000279,101,1\n1620064000279,102,1\n",
    );
    let (code, _, err) = cli(&["replay", &tape]);
    one_error_line(code, &err, &["gap.csv:4: time:", "7 days"]);
}

#[test]
fn tape_refuses_to_grow_gigabytes_without_allow_large() {
    let dir = tempfile::tempdir().unwrap();
    // Two trades a millisecond apart: 86.4 million trades a day.
    let from = write(
        dir.path(),
        "two.csv",
        b"time_ms,price,qty\n1000,100,1\n1001,101,1\n",
    );
    let out = dir.path().join("day.csv");
    let (code, _, err) = cli(&["tape", &from, "--out", out.to_str().unwrap()]);
    one_error_line(
        code,
        &err,
        &["two.csv:", "86400001 trades", "--allow-large"],
    );
    assert!(!out.exists(), "refused before writing");
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "only the recording is left");
    // An hour of it is within the bounds.
    let (code, _, err) = cli(&[
        "tape",
        &from,
        "--hours",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn crash_at_past_the_runs_last_append_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("a.jsonl");
    let (code, _, err) = cli(&[
        "run",
        "scenarios/basic_buy.csv",
        "--crash-at",
        "999",
        "--audit",
        audit.to_str().unwrap(),
    ]);
    one_error_line(
        code,
        &err,
        &["--crash-at 999", "only 5 journal appends", "1..=5"],
    );
    assert!(!audit.exists());
    let (code, out, _) = cli(&["run", "scenarios/basic_buy.csv", "--crash-at", "5"]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn fuzz_stops_when_its_standard_output_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    // Ten million seeds run for hours; `timeout` ends a campaign that does not stop by itself.
    let mut child = std::process::Command::new("timeout")
        .arg("300")
        .arg(env!("CARGO_BIN_EXE_order-router"))
        .args(["fuzz", "--seeds", "0..10000000", "--jobs", "1", "--out"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fuzz");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    // The reader (`head -1`) has its line and goes away.
    assert!(first.starts_with("fuzz seeds 0..10000000"), "{first:?}");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(141),
        "stopped as a closed pipe stops a command, not by timeout (124)"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("error"), "quietly: {err}");
}

#[test]
fn a_scenario_line_longer_than_the_bound_is_refused_by_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,1,,\n".to_vec();
    bytes.extend(over_long("0,price,BTC/USDT,,,1,"));
    bytes.push(b'\n');
    let file = write(dir.path(), "long.csv", &bytes);
    let (code, _, err) = cli(&["run", &file]);
    one_error_line(
        code,
        &err,
        &["long.csv:3: file:", "longer than 1048576 bytes"],
    );
}

#[test]
fn a_market_line_longer_than_the_bound_is_refused_by_run_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"time_ms,price,qty\n1610064000278,50000,1\n".to_vec();
    bytes.extend(over_long("1610064000279,50001,"));
    let market = write(dir.path(), "m.csv", &bytes);
    let (code, _, err) = cli(&["replay", &market]);
    one_error_line(code, &err, &["m.csv:3: file:", "longer than"]);
    let (code, _, err) = cli(&["run", "scenarios/basic_buy.csv", "--market", &market]);
    one_error_line(code, &err, &["m.csv:3: file:", "longer than"]);
}

#[test]
fn an_intents_line_longer_than_the_bound_is_refused_by_live() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"\n".to_vec();
    bytes.extend(over_long("{\"intent_id\":\""));
    let intents = write(dir.path(), "i.jsonl", &bytes);
    let journal = dir.path().join("j.jsonl");
    let out = bin()
        .args([
            "live",
            "--venue",
            "http://127.0.0.1:9",
            "--intents",
            &intents,
        ])
        .arg("--journal")
        .arg(&journal)
        .env("ORDER_ROUTER_API_KEY", "k")
        .env("ORDER_ROUTER_API_SECRET", "s")
        .output()
        .expect("run live");
    let err = String::from_utf8_lossy(&out.stderr);
    one_error_line(out.status.code(), &err, &["i.jsonl:2:", "longer than"]);
    assert!(!journal.exists());
}

#[test]
fn an_audit_line_longer_than_the_bound_is_refused_by_check_audit_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"{\"seq\":0,\"t_ms\":0,\"intent_id\":\"a\",\"state\":\"NEW\"}\n".to_vec();
    bytes.extend(over_long("{\"seq\":1,\"t_ms\":0,\"intent_id\":\""));
    let log = write(dir.path(), "a.jsonl", &bytes);
    let (code, _, err) = cli(&["check-audit", &log]);
    one_error_line(code, &err, &["a.jsonl: line 2:", "longer than"]);
    let page = dir.path().join("r.html");
    let (code, _, err) = cli(&["report", &log, "-o", page.to_str().unwrap()]);
    one_error_line(code, &err, &["a.jsonl: line 2:", "longer than"]);
    assert!(!page.exists());
}

#[test]
fn a_huge_value_is_quoted_cut_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let price = "9".repeat(500_000) + "x";
    let tape = write(
        dir.path(),
        "m.csv",
        format!("time_ms,price\n1610064000278,{price}\n").as_bytes(),
    );
    let (code, _, err) = cli(&["replay", &tape]);
    one_error_line(code, &err, &["m.csv:2: price:", "…"]);
    assert!(err.len() < 300, "{} bytes of error", err.len());
}

#[test]
fn a_scenario_whose_rules_refuse_every_order_is_said_by_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "step.csv",
        b"t_ms,action,symbol,side,qty,price,params\n0,config,BTC/USDT,,,,step_size=1\n\
          0,balance,USDT,,100000,,\n0,price,BTC/USDT,,,50000,\n\
          10,intent,BTC/USDT,buy,0.5,50000,id=a\n",
    );
    // It runs (a scenario may test that very refusal, and minimised fuzz cases often do), but
    // not silently: one warning names the rule's line and key.
    let (code, out, err) = cli(&["run", &file]);
    assert_eq!(code, Some(0), "{out}{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("step.csv:2: step_size:")
            && warnings[0].contains("every order on BTC/USDT"),
        "{err}"
    );
    // The shipped scenario that tests a refusal of min_notional is not warned of.
    let (code, out, err) = cli(&["run", "scenarios/min_notional.csv"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!err.contains("warning"), "{err}");
}

//! Bad input, hostile output paths, closed pipes and runaway numbers: each case here broke the
//! tool once (a loop until memory ran out, a device replaced by a file, a panic in a pipe, a
//! silent mistake), and each test fails without its fix.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use order_router::prelude::*;
use order_router::router::limits;

use crate::common::{bin, cli};
use crate::world::{btc_usdt, d, usdt};

fn scenario_file(dir: &Path, name: &str, rows: &str) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!("t_ms,action,symbol,side,qty,price,params\n{rows}"),
    )
    .expect("write");
    p.to_string_lossy().into_owned()
}

#[test]
// rule: input_guards
fn settings_past_their_bounds_are_refused_by_the_library() {
    let cases: [(&str, RouterConfig); 5] = [
        (
            "backoff_ms",
            RouterConfig {
                backoff_ms: u64::MAX,
                backoff_max_ms: u64::MAX,
                ..RouterConfig::default()
            },
        ),
        (
            "recv_window_ms",
            RouterConfig {
                recv_window_ms: u64::MAX,
                ..RouterConfig::default()
            },
        ),
        (
            "max_retries",
            RouterConfig {
                max_retries: limits::MAX_RETRIES + 1,
                ..RouterConfig::default()
            },
        ),
        (
            "order_timeout_ms",
            RouterConfig {
                order_timeout_ms: u64::MAX,
                ..RouterConfig::default()
            },
        ),
        (
            "min_notional",
            RouterConfig {
                min_notional: limits::MAX_AMOUNT + rust_decimal::Decimal::ONE,
                ..RouterConfig::default()
            },
        ),
    ];
    for (field, cfg) in cases {
        let e = Router::new(cfg, Portfolio::new()).expect_err(field);
        assert_eq!(e.field, field, "{e}");
    }
}

#[test]
fn the_router_ends_every_call_even_at_the_end_of_time() {
    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt(), d("1000")).unwrap();
    let mut router = Router::new(RouterConfig::default(), portfolio).unwrap();
    router
        .handle(u64::MAX - 1, crate::world::buy("late", "0.001", "50000"))
        .unwrap();
    // The venue never answers: the router times out, asks, times out... at u64::MAX its
    // timers used to saturate there and fire again forever.
    let mut lines = 0;
    for _ in 0..5 {
        while router.poll_audit().is_some() {
            lines += 1;
        }
        if let Some(seq) = router.undurable() {
            router.journal_durable(seq).unwrap();
        }
        while router.poll_command().is_some() {}
        router.handle_timeout(u64::MAX).unwrap();
    }
    assert!(lines < 50, "{lines} audit lines");
    assert!(router
        .poll_timeout()
        .is_some_and(|t| t > limits::MAX_TIME_MS));
    let _ = btc_usdt();
}

#[test]
fn scenario_numbers_past_their_bounds_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("18446744073709551615,balance,USDT,,1,,\n", ":2: t_ms:"),
        (
            "0,config,,,,,backoff_ms=18446744073709551615\n",
            ":2: backoff_ms:",
        ),
        (
            "0,config,,,,,recv_window_ms=18446744073709551615\n",
            ":2: recv_window_ms:",
        ),
        (
            "0,price,BTC/USDT,,,50000,\n0,intent,BTC/USDT,buy,0.001,50000,id=a;deliveries=1000000000\n",
            ":3: deliveries:",
        ),
        ("0,fault,,,,,kind=latency;ms=18446744073709551615\n", ":2: ms:"),
        ("0,config,,,,,latency_ms=86400000\n", ":2: latency_ms:"),
        ("0,balance,USDT,,1e30,,\n", ":2: qty:"),
        ("0,config,,,,,slippage_bps=10000\n", ":2: slippage_bps:"),
    ];
    for (i, (rows, want)) in cases.iter().enumerate() {
        let f = scenario_file(dir.path(), &format!("b{i}.csv"), rows);
        let (code, out, err) = cli(&["run", &f]);
        assert_eq!(code, Some(2), "{rows}: {out}{err}");
        assert!(err.contains(want), "{rows}: want {want}, got {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn fuzz_refuses_absurd_jobs_and_intents() {
    for args in [
        ["--jobs", "100000"],
        ["--jobs", "0"],
        ["--intents", "100000000"],
    ] {
        let (code, _, err) = cli(&["fuzz", "--seeds", "0..2", args[0], args[1]]);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(args[0]), "{err}");
    }
}

#[test]
fn a_dash_writes_the_log_to_stdout_and_the_summary_to_stderr() {
    let (code, out, err) = cli(&["run", "scenarios/showcase.csv", "--audit", "-"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("invariants all held"), "{err}");
    assert!(out.lines().all(|l| l.starts_with("{\"seq\":")), "{out}");
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("from-stdout.jsonl");
    std::fs::write(&log, &out).expect("write");
    let (code, check, _) = cli(&["check-audit", &log.to_string_lossy()]);
    assert_eq!(code, Some(0), "{check}");
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("-").exists());
}

#[test]
fn an_input_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let original = std::fs::read_to_string("scenarios/basic_buy.csv").expect("read");
    let f = dir.path().join("x.csv");
    std::fs::write(&f, &original).expect("write");
    let f = f.to_string_lossy().into_owned();
    // Another spelling of the same path is still the same file.
    let other = format!("{}/./x.csv", dir.path().display());
    for target in [&f, &other] {
        let (code, _, err) = cli(&["run", &f, "--audit", target]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("refusing to write over it"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&f).expect("read"), original);
}

#[test]
fn devices_stay_devices_and_links_stay_links() {
    use std::os::unix::fs::FileTypeExt;
    let (code, _, err) = cli(&["run", "scenarios/basic_buy.csv", "--audit", "/dev/null"]);
    assert_eq!(code, Some(0), "{err}");
    let meta = std::fs::metadata("/dev/null").expect("meta");
    assert!(meta.file_type().is_char_device());

    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("real.jsonl");
    std::fs::write(&target, "old").expect("write");
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let (code, _, err) = cli(&[
        "run",
        "scenarios/basic_buy.csv",
        "--audit",
        &link.to_string_lossy(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(std::fs::symlink_metadata(&link)
        .expect("meta")
        .file_type()
        .is_symlink());
    let log = std::fs::read_to_string(&target).expect("read");
    assert!(log.starts_with("{\"seq\":0,"), "{log}");
}

#[test]
fn a_failed_write_names_the_users_path_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-dir").join("out.jsonl");
    let (code, out, err) = cli(&[
        "run",
        "scenarios/basic_buy.csv",
        "--audit",
        &missing.to_string_lossy(),
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains(&*missing.to_string_lossy()), "{err}");
    assert!(!err.contains(".partial"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    // A directory is not replaced either.
    let (code, _, err) = cli(&[
        "run",
        "scenarios/basic_buy.csv",
        "--audit",
        &dir.path().to_string_lossy(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn sigterm_removes_the_half_written_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("big.jsonl");
    let mut child = bin()
        .args(["bench", "--intents", "50000000", "--audit"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until the temporary file exists (the run is under way), then stop the process.
    let partial = || {
        std::fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".partial"))
    };
    let mut seen = false;
    for _ in 0..600 {
        if partial() {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let status = child.wait().expect("wait");
    assert!(seen && killed.success());
    assert_eq!(status.code(), Some(130));
    assert!(!partial(), "the temporary file is left behind");
    assert!(!out.exists());
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let mut child = bin()
        .args(["bench", "--intents", "20000", "--audit", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        let mut first = String::new();
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        reader.read_line(&mut first).expect("read");
        assert!(first.starts_with("{\"seq\":0,"), "{first}");
        // The reader goes away, as `| head -1` does.
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_file_that_is_not_an_audit_log_is_bad_input() {
    let (code, out, err) = cli(&["check-audit", "scenarios/showcase.csv"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("not an audit log"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, out, _) = cli(&["check-audit", "scenarios/showcase.csv", "--json"]);
    assert_eq!(code, Some(2));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert!(
        v["error"].as_str().unwrap().contains("not an audit log"),
        "{v}"
    );
}

#[test]
fn check_audit_lists_a_hundred_problems_and_counts_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = String::new();
    for i in 0..250 {
        log += &format!(
            "{{\"seq\":{},\"t_ms\":0,\"intent_id\":\"i{i}\",\"state\":\"NEW\",\"qty\":1}}\n",
            2 * i
        );
        log += &format!(
            "{{\"seq\":{},\"t_ms\":0,\"intent_id\":\"i{i}\",\"state\":\"RECONCILED\"}}\n",
            2 * i + 1
        );
    }
    let f = dir.path().join("many.jsonl");
    std::fs::write(&f, log).expect("write");
    let f = f.to_string_lossy().into_owned();
    let (code, out, _) = cli(&["check-audit", &f]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out.matches("illegal transition NEW -> RECONCILED").count(),
        100
    );
    assert!(out.contains("... and 150 more problems"), "{out}");
    assert!(
        out.contains("500 lines, 250 intents, 250 problems"),
        "{out}"
    );
    // One problem is one problem, and a read error names its line once.
    std::fs::write(dir.path().join("one.jsonl"), "{\"seq\":0}\n").expect("write");
    let (_, out, err) = cli(&[
        "check-audit",
        &dir.path().join("one.jsonl").to_string_lossy(),
    ]);
    assert!(!out.contains("line 1: line 1"), "{out}{err}");
}

#[test]
fn json_errors_and_failed_expectations_are_objects() {
    let (code, out, _) = cli(&["run", "no/such.csv", "--json"]);
    assert_eq!(code, Some(2));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert!(v["error"].as_str().unwrap().contains("no/such.csv"), "{v}");
    let dir = tempfile::tempdir().expect("temp dir");
    let f = scenario_file(
        dir.path(),
        "e.csv",
        "0,balance,USDT,,1000,,\n0,price,BTC/USDT,,,50000,\n1,intent,BTC/USDT,buy,0.001,50000,id=a\n0,expect,,,,,intent=a;orders=2\n",
    );
    let (code, out, _) = cli(&["run", &f, "--json"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["failed_expects"][0]["line"], 5, "{v}");
    assert_eq!(
        v["failed_expects"][0]["message"],
        "intent a: orders 2 expected, got 1"
    );
}

#[test]
fn silent_scenario_mistakes_are_errors_or_warnings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = "0,balance,USDT,,1000,,\n0,price,BTC/USDT,,,50000,\n";
    let errors = [
        (
            format!("{base}1,intent,BTC/USDT,buy,0.001,50000,id=a\n2,intent,BTC/USDT,sell,0.001,50000,id=a\n"),
            "a repeated id must repeat the same intent",
        ),
        (
            format!("{base}1,intent,btc/usdt,buy,0.001,50000,id=a\n"),
            "must be upper case",
        ),
        (
            format!("{base}1,intent,ETH/USDT,buy,0.1,3000,id=a\n"),
            "ETH/USDT has no price row",
        ),
    ];
    for (i, (rows, want)) in errors.iter().enumerate() {
        let f = scenario_file(dir.path(), &format!("m{i}.csv"), rows);
        let (code, out, err) = cli(&["run", &f]);
        assert_eq!(code, Some(2), "{rows}: {out}{err}");
        assert!(err.contains(want), "want {want}: {err}");
    }
    // The same intent repeated is a redelivery, not a mistake.
    let f = scenario_file(
        dir.path(),
        "redelivery.csv",
        &format!("{base}1,intent,BTC/USDT,buy,0.001,50000,id=a\n9,intent,BTC/USDT,buy,0.0010,50000.0,id=a\n"),
    );
    let (code, out, err) = cli(&["run", &f]);
    assert_eq!(code, Some(0), "{out}{err}");

    let tape = "../shared/data/market/binance_spot_btcusdt_trades_20210108.csv";
    if Path::new(env!("CARGO_MANIFEST_DIR")).join(tape).exists() {
        let (code, _, err) = cli(&[
            "run",
            "scenarios/replay_signals.csv",
            "--market",
            tape,
            "--market-symbol",
            "ETH/USDT",
        ]);
        assert_eq!(code, Some(2));
        assert!(err.contains("never trades or prices ETH/USDT"), "{err}");
        // A tape three orders of magnitude off the scenario's prices.
        let cheap = scenario_file(
            dir.path(),
            "cheap.csv",
            "0,balance,USDT,,1000,,\n0,price,BTC/USDT,,,30,\n1,intent,BTC/USDT,buy,1,30,id=a\n",
        );
        let (code, _, err) = cli(&["run", &cheap, "--market", tape]);
        assert_eq!(code, Some(2));
        assert!(
            err.contains("times off the scenario's BTC/USDT price 30"),
            "{err}"
        );
    }
    // Trading a market on the default BTC/USDT rules runs, with a warning.
    let f = scenario_file(
        dir.path(),
        "eth.csv",
        "0,balance,USDT,,10000,,\n0,price,ETH/USDT,,,3000,\n1,intent,ETH/USDT,buy,0.1,3000,id=a\n",
    );
    let (code, out, err) = cli(&["run", &f]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.contains("warning:") && err.contains("ETH/USDT has no rules of its own"),
        "{err}"
    );
}

#[test]
fn small_lies_are_gone() {
    let (code, out, _) = cli(&["bench", "--intents", "200", "--no-check"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("invariants not checked"), "{out}");
    assert!(!out.contains("all held"), "{out}");

    let (_, out, _) = cli(&["run", "scenarios/showcase.csv"]);
    assert!(out.contains("unknown outcomes 1 (resolved 1)"), "{out}");

    // Cut off by the step limit: a livelock, named as such, with its replay command.
    let (code, out, _) = cli(&["run", "scenarios/lost_reply_long.csv", "--max-steps", "20"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("LIVELOCK at step 21"), "{out}");
    assert!(!out.contains("audit_complete"), "{out}");
    assert!(out.contains("--max-steps 20"), "{out}");

    // A venue's rejection keeps its code and message in the log.
    let (code, log, err) = cli(&["run", "scenarios/retries_exhausted.csv", "--audit", "-"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        log.contains(
            r#""error":"rejected","code":-1013,"msg":"Filter failure: PERCENT_PRICE_BY_SIDE""#
        ),
        "{log}"
    );
}

#[test]
fn fuzz_creates_its_output_directory_and_reports_progress_in_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("new").join("sub");
    let output = bin()
        .args(["fuzz", "--seeds", "0..200", "--out"])
        .arg(&out)
        .env("ORDER_ROUTER_PROGRESS_MS", "0")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    assert!(out.is_dir());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("fuzz: ") && err.contains("seeds of 200"),
        "{err}"
    );
    // An --out that cannot be a directory is refused before any seed runs.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let (code, stdout, err) = cli(&[
        "fuzz",
        "--seeds",
        "0..200",
        "--out",
        &file.join("sub").to_string_lossy(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--out"), "{err}");
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
// rule: write_ahead
fn bench_syncs_the_journal_per_batch_when_asked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("journal.jsonl");
    let (code, out, err) = cli(&[
        "bench",
        "--intents",
        "200",
        "--audit",
        &log.to_string_lossy(),
        "--sync",
        "batch",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let syncs: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("journal   "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a journal line");
    assert!(syncs >= 200, "{out}");
    let (code, check, _) = cli(&["check-audit", &log.to_string_lossy()]);
    assert_eq!(code, Some(0), "{check}");
    // Not left private like the temporary file it was written to.
    let mode = std::fs::metadata(&log).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    let (code, _, err) = cli(&["bench", "--intents", "10", "--sync", "always"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--sync"), "{err}");
}

#[test]
fn a_value_outside_a_flags_choices_is_one_line_naming_flag_and_choices() {
    for (args, flag, choices) in [
        (&["bench", "--sync", "always"][..], "--sync", "batch, none"),
        (
            &[
                "run",
                "scenarios/basic_buy.csv",
                "--crash-at",
                "1",
                "--crash-mode",
                "gone",
            ],
            "--crash-mode",
            "written, dropped, torn",
        ),
        (
            &["fuzz", "--faults", "wild"],
            "--faults",
            "none, light, rough, swarm",
        ),
        (
            &["venue", "--faults", "wild"],
            "--faults",
            "none, light, rough",
        ),
    ] {
        let (code, out, err) = cli(args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(flag) && err.contains(choices),
            "{args:?}: {err}"
        );
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}

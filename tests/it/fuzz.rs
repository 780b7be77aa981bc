//! `order-router fuzz`: proof of power. Every deliberate bug is found, minimised to a scenario
//! that replays to the same violation; the canary is caught on every run; the real router
//! survives a sweep with every seed run twice.

use crate::common::cli_joined as cli;
use order_router::router::Mutant;

/// A fresh temporary directory for failing cases, removed when the test ends.
fn out_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn every_mutant_is_caught_and_minimised_to_a_replayable_scenario() {
    for m in Mutant::ALL {
        let tmp = out_dir();
        let dir = tmp.path().to_string_lossy().into_owned();
        let (code, out) = cli(&[
            "fuzz",
            "--seeds",
            "0..200",
            "--mutant",
            m.name(),
            "--out",
            &dir,
        ]);
        assert_eq!(code, Some(1), "{} survived 200 seeds:\n{out}", m.name());
        let line = out
            .lines()
            .find(|l| l.starts_with("VIOLATION seed "))
            .expect("violation line");
        let seed: String = line["VIOLATION seed ".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let invariant = line
            .split(": ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .expect("invariant");
        assert!(out.contains("replays to the same violation"), "{out}");
        let file = format!("{dir}/fuzz-failure-{seed}.csv");
        // Its run report is written beside it, and shows the broken rules when the log does.
        let page = std::fs::read_to_string(format!("{dir}/fuzz-failure-{seed}.html"))
            .expect("the minimised case's report");
        assert!(page.contains("id=\"check\""), "{}", m.name());
        assert!(
            page.matches("<svg").count() >= 9,
            "every chart but maybe the price"
        );
        let (code, replay) = cli(&["run", &file, "--seed", &seed, "--mutant", m.name()]);
        assert_eq!(code, Some(1), "{replay}");
        assert!(
            replay.contains(&format!("VIOLATION {invariant} violated")),
            "{}: {replay}",
            m.name()
        );
        // The real router passes the minimised scenario.
        let (code, clean) = cli(&["run", &file, "--seed", &seed]);
        assert_eq!(code, Some(0), "{clean}");
    }
}

#[test]
fn the_canary_is_caught_on_every_run() {
    let tmp = out_dir();
    let dir = tmp.path().to_string_lossy().into_owned();
    for start in [0u64, 17, 999, 123_456, 987_654_321] {
        let seeds = format!("{start}..{}", start + 1);
        let (code, out) = cli(&[
            "fuzz",
            "--seeds",
            &seeds,
            "--mutant",
            "ignore-dedup",
            "--out",
            &dir,
        ]);
        assert_eq!(code, Some(1), "seed {start}:\n{out}");
    }
}

#[test]
fn the_real_router_survives_a_sweep_run_twice_per_seed() {
    let (code, out) = cli(&["fuzz", "--seeds", "0..300", "--check-determinism"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ran       300 seeds"), "{out}");
    assert!(out.contains("invariants all held"), "{out}");
    assert!(!out.contains("NONDETERMINISM"), "{out}");
    assert!(
        out.contains("30 of 30 legal edges reached"),
        "blind spots:\n{out}"
    );
    assert!(!out.contains("never injected"), "{out}");
}

#[test]
fn shards_cover_the_range_between_them() {
    let count = |shard: &str| {
        let (code, out) = cli(&[
            "fuzz", "--seeds", "100..160", "--shard", shard, "--jobs", "1",
        ]);
        assert_eq!(code, Some(0), "{out}");
        let line = out
            .lines()
            .find(|l| l.starts_with("ran"))
            .expect("ran line");
        line.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .expect("count")
    };
    assert_eq!(count("0/3") + count("1/3") + count("2/3"), 60);
}

#[test]
fn bad_fuzz_arguments_exit_2() {
    for args in [
        &["fuzz", "--seeds", "5..3"][..],
        &["fuzz", "--seeds", "x"],
        &["fuzz", "--shard", "2/2"],
        &["fuzz", "--faults", "wild"],
        &["fuzz", "--intents", "0"],
    ] {
        let (code, out) = cli(args);
        assert_eq!(code, Some(2), "{args:?}: {out}");
        assert!(out.contains(args[1]), "{args:?} names the flag: {out}");
    }
}

#[test]
// rule: stack_fuzz
fn the_stack_mode_catches_each_adapter_mutant_and_its_replay_command_reproduces_it() {
    use order_router::live::mutant::AdapterMutant;
    for m in AdapterMutant::ALL {
        let tmp = out_dir();
        let dir = tmp.path().to_string_lossy().into_owned();
        let args = ["fuzz", "--stack", "--seeds", "0..100", "--out", &dir];
        let (code, out) = cli(&[&args[..], &["--adapter-mutant", m.name()]].concat());
        assert_eq!(code, Some(1), "{} survived 100 seeds:\n{out}", m.name());
        let line = out
            .lines()
            .find(|l| l.starts_with("VIOLATION seed ") && l.contains("(stack)"))
            .expect("violation line");
        let replay = out
            .lines()
            .find_map(|l| l.strip_prefix("reproduce: order-router "))
            .expect("reproduce line");
        assert!(
            replay.contains(&format!("--adapter-mutant {}", m.name())),
            "{replay}"
        );
        let replay_args: Vec<&str> = replay.split(' ').chain(["--out", &dir]).collect();
        let (code, again) = cli(&replay_args);
        assert_eq!(code, Some(1), "{again}");
        assert!(again.contains(line), "{line}\n{again}");
        // The correct adapter passes the same seed.
        let clean: Vec<&str> = replay_args
            .iter()
            .copied()
            .filter(|a| *a != "--adapter-mutant" && *a != m.name())
            .collect();
        let (code, out) = cli(&clean);
        assert_eq!(code, Some(0), "{out}");
    }
}

#[test]
// rule: stack_fuzz
fn the_default_campaign_runs_every_eighth_seed_through_the_live_adapter() {
    let tmp = out_dir();
    let dir = tmp.path().to_string_lossy().into_owned();
    let (code, out) = cli(&["fuzz", "--seeds", "0..40", "--out", &dir]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("stack     5 seeds through the live adapter"),
        "{out}"
    );
    let (code, out) = cli(&[
        "fuzz",
        "--seeds",
        "0..40",
        "--stack-every",
        "0",
        "--out",
        &dir,
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("stack "), "{out}");
}

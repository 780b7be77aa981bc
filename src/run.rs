//! `order-router run`: replay one scenario through the simulator and report.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use order_router::router::RouterConfig;
use order_router::sim::scenario::load;
use order_router::sim::{run, Report, RunOptions, FAULT_KINDS};

/// A change to the scenario's router settings (switches a deliberate bug on).
pub type Tweak = Box<dyn Fn(&mut RouterConfig)>;

/// Options of `run` beyond the scenario file.
pub struct Args<'a> {
    pub file: &'a Path,
    pub seed: Option<u64>,
    pub audit: Option<&'a Path>,
    /// A deliberate bug switched on (test builds only), echoed in the replay command.
    pub mutant: Option<&'a str>,
    /// Changes the scenario's router settings before the run (switches the bug on).
    pub tweak: Option<Tweak>,
}

pub fn main(args: Args<'_>) -> ExitCode {
    let scenario = match load(args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = args.seed.or(scenario.seed).unwrap_or(0);
    let mut opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    if let Some(tweak) = &args.tweak {
        let mut cfg = scenario.router.clone();
        tweak(&mut cfg);
        opts.router_override = Some(cfg);
    }
    let report = run(&scenario, &opts);
    if let Some(path) = args.audit {
        if let Err(e) = crate::write_atomically(path, &report.audit) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    print!("{}", summary(args.file, &args, &report));
    ExitCode::from(if report.passed() { 0 } else { 1 })
}

fn replay_command(file: &Path, seed: u64, mutant: Option<&str>) -> String {
    let mut cmd = format!("order-router run {} --seed {seed}", file.display());
    if let Some(m) = mutant {
        let _ = write!(cmd, " --mutant {m}");
    }
    cmd
}

/// The human summary: short, and the same bytes for the same scenario and seed.
pub fn summary(file: &Path, args: &Args<'_>, r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scenario {}  seed {}", file.display(), r.seed);
    let states: Vec<String> = r
        .final_states
        .iter()
        .map(|(st, n)| format!("{st} {n}"))
        .collect();
    let _ = writeln!(
        s,
        "intents   {} ({})  deliveries {}  duplicates ignored {}  signals vetoed {}",
        r.intents,
        if states.is_empty() {
            "none".into()
        } else {
            states.join(", ")
        },
        r.deliveries,
        r.duplicates_ignored,
        r.signals_vetoed
    );
    let _ = writeln!(
        s,
        "orders    {}  fills {}  retries {}  unknown outcomes resolved {}",
        r.orders, r.fills, r.retries, r.unknown_outcomes
    );
    let faults: Vec<String> = FAULT_KINDS
        .iter()
        .zip(r.faults.iter())
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        s,
        "faults    {}",
        if faults.is_empty() {
            "none".into()
        } else {
            faults.join(", ")
        }
    );
    let _ = writeln!(
        s,
        "checked   {} invariant checks over {} steps, {} audit lines, sim time {} ms",
        r.checks, r.steps, r.audit_lines, r.end_ms
    );
    match &r.violation {
        Some(v) => {
            let _ = writeln!(s, "VIOLATION {v}");
        }
        None => {
            let _ = writeln!(s, "invariants all held");
        }
    }
    let held = r.expects - r.failed_expects.len();
    let _ = writeln!(s, "expects   {held} of {} held", r.expects);
    for f in &r.failed_expects {
        let _ = writeln!(s, "EXPECT FAILED {}: {f}", file.display());
    }
    if !r.passed() {
        let _ = writeln!(
            s,
            "reproduce: {}",
            replay_command(file, r.seed, args.mutant)
        );
    }
    s
}

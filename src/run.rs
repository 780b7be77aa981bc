//! `order-router run`: replay one scenario through the simulator and report.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use order_router::model::Symbol;
use order_router::router::RouterConfig;
use order_router::sim::market;
use order_router::sim::scenario::load;
use order_router::sim::{run, Report, RunOptions, FAULT_KINDS};

/// A change to the scenario's router settings (switches a deliberate bug on).
pub type Tweak = Box<dyn Fn(&mut RouterConfig)>;

/// Options of `run` beyond the scenario file.
pub struct Args<'a> {
    pub file: &'a Path,
    pub seed: Option<u64>,
    pub audit: Option<&'a Path>,
    /// A recorded price path replacing the scenario's price rows of one symbol.
    pub market: Option<&'a Path>,
    pub market_symbol: Option<&'a str>,
    /// Print the summary as one JSON object.
    pub json: bool,
    /// A deliberate bug switched on (test builds only), echoed in the replay command.
    pub mutant: Option<&'a str>,
    /// Changes the scenario's router settings before the run (switches the bug on).
    pub tweak: Option<Tweak>,
}

pub fn main(args: Args<'_>) -> ExitCode {
    let mut scenario = match load(args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = args.market {
        let named = match args.market_symbol.map(Symbol::parse).transpose() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: --market-symbol: {e}");
                return ExitCode::from(2);
            }
        };
        let symbol = match scenario.market_symbol(named.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}: {e}", args.file.display());
                return ExitCode::from(2);
            }
        };
        match market::load(path) {
            Ok(ticks) => scenario.replay_market(&symbol, &ticks),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
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
    if args.json {
        println!("{}", summary_json(args.file, &args, &report));
    } else {
        print!("{}", summary(args.file, &args, &report));
    }
    ExitCode::from(if report.passed() { 0 } else { 1 })
}

fn replay_command(args: &Args<'_>, seed: u64) -> String {
    let mut cmd = format!("order-router run {} --seed {seed}", args.file.display());
    if let Some(m) = args.market {
        let _ = write!(cmd, " --market {}", m.display());
    }
    if let Some(s) = args.market_symbol {
        let _ = write!(cmd, " --market-symbol {s}");
    }
    let mutant = args.mutant;
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
        let _ = writeln!(s, "reproduce: {}", replay_command(args, r.seed));
    }
    s
}

/// The same summary as one JSON object, for scripts.
pub fn summary_json(file: &Path, args: &Args<'_>, r: &Report) -> String {
    let states: serde_json::Map<String, serde_json::Value> = r
        .final_states
        .iter()
        .map(|(st, n)| (st.to_string(), (*n).into()))
        .collect();
    let faults: serde_json::Map<String, serde_json::Value> = FAULT_KINDS
        .iter()
        .zip(r.faults.iter())
        .map(|(k, n)| (k.to_string(), (*n).into()))
        .collect();
    let violation = r.violation.as_ref().map(|v| {
        serde_json::json!({
            "invariant": v.invariant,
            "step": v.step,
            "t_ms": v.t_ms,
            "intent": v.intent,
            "detail": v.detail,
        })
    });
    serde_json::json!({
        "scenario": file.display().to_string(),
        "seed": r.seed,
        "passed": r.passed(),
        "intents": r.intents,
        "final_states": states,
        "deliveries": r.deliveries,
        "duplicates_ignored": r.duplicates_ignored,
        "signals_vetoed": r.signals_vetoed,
        "orders": r.orders,
        "fills": r.fills,
        "retries": r.retries,
        "unknown_outcomes": r.unknown_outcomes,
        "faults": faults,
        "invariant_checks": r.checks,
        "steps": r.steps,
        "audit_lines": r.audit_lines,
        "sim_time_ms": r.end_ms,
        "violation": violation,
        "expects": r.expects,
        "failed_expects": r.failed_expects,
        "reproduce": (!r.passed()).then(|| replay_command(args, r.seed)),
    })
    .to_string()
}

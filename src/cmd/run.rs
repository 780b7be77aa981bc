//! `order-router run`: replay one scenario through the simulator and report.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use order_router::model::Symbol;
use order_router::router::RouterConfig;
use order_router::sim::market;
use order_router::sim::scenario::load;
use order_router::sim::{
    run, run_observed, CrashMode, Report, RunOptions, Scenario, FAULT_KINDS, LIVELOCK,
};

use crate::output::Output;

/// The largest `--max-steps`.
pub const MAX_STEPS: u64 = 1_000_000_000_000;

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
    /// Run the lockstep model of the router (`model_agrees`).
    pub model: bool,
    /// The step limit: a run still going after it is a livelock.
    pub max_steps: u64,
    /// Crash the router after this journal append, leaving the unsynced lines so.
    pub crash_at: Option<(u64, CrashMode)>,
    /// Replay once per append point and crash mode.
    pub crash_everywhere: bool,
    /// Write the HTML run report here.
    pub report: Option<&'a Path>,
    /// A deliberate bug switched on (test builds only), echoed in the replay command.
    pub mutant: Option<&'a str>,
    /// Changes the scenario's router settings before the run (switches the bug on).
    pub tweak: Option<Tweak>,
}

/// Refuses bad input: one line on standard error (and, with `--json`, one JSON object on
/// standard output), exit 2.
fn bad_input(json: bool, message: &str) -> ExitCode {
    errln!("error: {message}");
    if json {
        outln!("{}", serde_json::json!({ "error": message }));
    }
    ExitCode::from(2)
}

pub fn main(args: Args<'_>) -> ExitCode {
    let fail = |m: &str| bad_input(args.json, m);
    let mut scenario = match load(args.file) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    for w in &scenario.warnings {
        errln!("warning: {w}");
    }
    let file = args.file.display();
    if let Some(path) = args.market {
        let named = match args.market_symbol.map(Symbol::parse).transpose() {
            Ok(s) => s,
            Err(e) => return fail(&format!("--market-symbol: {e}")),
        };
        let symbol = match scenario.market_symbol(named.as_ref()) {
            Ok(s) => s,
            Err(e) => return fail(&format!("{file}: {e}")),
        };
        let ticks = match market::load(path) {
            Ok(t) => t,
            Err(e) => return fail(&e.to_string()),
        };
        if let Err(e) = scenario.check_market_scale(&symbol, &ticks) {
            return fail(&format!("{}: {e}", path.display()));
        }
        scenario.replay_market(&symbol, &ticks);
    }
    if let Err(e) = scenario.check_priced() {
        return fail(&format!("{file}: {e}"));
    }
    if args.max_steps == 0 || args.max_steps > MAX_STEPS {
        return fail(&format!("--max-steps: must be in 1..={MAX_STEPS}"));
    }
    // Opened before the run, so a bad path costs nothing and loses nothing.
    let inputs: Vec<&Path> = std::iter::once(args.file).chain(args.market).collect();
    let audit = match args.audit.map(|p| Output::create(p, &inputs)).transpose() {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let page = match args.report.map(|p| Output::create(p, &inputs)).transpose() {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    for w in scenario.warnings() {
        errln!("warning: {file}: {w}");
    }
    let seed = args.seed.or(scenario.seed).unwrap_or(0);
    let mut opts = RunOptions {
        seed,
        max_steps: args.max_steps,
        keep_audit: audit.is_some() || page.is_some(),
        crash_at: args.crash_at,
        model: args.model,
        ..RunOptions::default()
    };
    if let Some(tweak) = &args.tweak {
        let mut cfg = scenario.router.clone();
        tweak(&mut cfg);
        opts.router_override = Some(cfg);
    }
    if args.crash_everywhere {
        return crash_everywhere(&args, &scenario, opts);
    }
    let mut progress = crate::progress::Reporter::new("run", "steps");
    let mut tell = |steps: u64, t_ms: u64| progress.tell(steps, &format!("sim time {t_ms} ms"));
    // The log goes to the audit file and, for the report, to memory as well.
    let mut log = Vec::new();
    let mut tee = Tee {
        file: audit,
        copy: page.is_some().then_some(&mut log),
    };
    let rows = Box::new(scenario.rows.iter().cloned());
    let report = run_observed(&scenario, rows, &opts, &mut tee, Some(&mut tell));
    // A crash point past the run's last append never strikes: a run that silently did not
    // crash would pass for one that survived the crash. Nothing is written.
    if let Some((n, _)) = args.crash_at.filter(|(n, _)| *n > report.audit_lines) {
        return fail(&format!(
            "--crash-at {n}: the run makes only {} journal appends, so it never crashes; pick N in 1..={}",
            report.audit_lines, report.audit_lines
        ));
    }
    let to_stdout = tee.file.as_ref().is_some_and(Output::is_stdout);
    if let Some(out) = tee.file.take() {
        if let Err(e) = out.commit() {
            return fail(&e);
        }
    }
    if let Some(mut page) = page {
        let name = args.file.display().to_string();
        let html = order_router::report::build(order_router::report::Inputs {
            name: &name,
            audit: &log,
            market: None,
            scenario: Some(&scenario),
        });
        let written = match html {
            Ok(html) => page
                .write_all(html.as_bytes())
                .map_err(|e| e.to_string())
                .and_then(|()| page.commit()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = written {
            return fail(&format!("--report: {e}"));
        }
    }
    if to_stdout {
        // The log owns standard output; the summary goes to standard error.
        errln!("{}", summary(args.file, &args, &report).trim_end());
        return exit_code(&report);
    }
    if args.json {
        outln!("{}", summary_json(args.file, &args, &report));
    } else {
        out!("{}", summary(args.file, &args, &report));
    }
    exit_code(&report)
}

/// Writes the log to the audit file (if any) and keeps a copy (for the report).
struct Tee<'a> {
    file: Option<Output>,
    copy: Option<&'a mut Vec<u8>>,
}

impl std::io::Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(buf)?;
        }
        if let Some(c) = self.copy.as_mut() {
            c.extend_from_slice(buf);
        }
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// One run per journal append point and crash mode: every one must pass.
fn crash_everywhere(args: &Args<'_>, scenario: &Scenario, mut opts: RunOptions) -> ExitCode {
    let base = run(scenario, &opts);
    if !base.passed() {
        out!("{}", summary(args.file, args, &base));
        errln!("the scenario fails without a crash; fix that first");
        return exit_code(&base);
    }
    let points = base.audit_lines;
    let mut held = 0u64;
    // A restart takes time, so an `expect` about timing may not hold; only the checks judge.
    let mut expects_missed = 0u64;
    let mut progress = crate::progress::Reporter::new("crash-everywhere", "runs");
    for n in 1..=points {
        for mode in CrashMode::ALL {
            opts.crash_at = Some((n, mode));
            let r = run(scenario, &opts);
            progress.tell(held, &format!("append {n} of {points}"));
            if r.violation.is_none() && !r.failed_expects.is_empty() {
                expects_missed += 1;
            }
            if r.violation.is_some() {
                let one = Args {
                    crash_at: Some((n, mode)),
                    crash_everywhere: false,
                    tweak: None,
                    ..*args
                };
                out!("{}", summary(args.file, &one, &r));
                outln!(
                    "crash-everywhere: {held} crash points held; the crash after append {n} ({}) did not",
                    mode.name()
                );
                return ExitCode::from(1);
            }
            held += 1;
        }
    }
    outln!(
        "crash-everywhere {}: {held} crash points held ({points} journal appends x written, dropped, torn), seed {}",
        args.file.display(),
        opts.seed
    );
    if expects_missed > 0 {
        outln!("          {expects_missed} of them missed an expect row (a restart moves timing; every check held)");
    }
    ExitCode::SUCCESS
}

fn exit_code(r: &Report) -> ExitCode {
    ExitCode::from(if r.passed() { 0 } else { 1 })
}

fn replay_command(args: &Args<'_>, seed: u64) -> String {
    let mut cmd = format!("order-router run {} --seed {seed}", args.file.display());
    if let Some(m) = args.market {
        let _ = write!(cmd, " --market {}", m.display());
    }
    if let Some(s) = args.market_symbol {
        let _ = write!(cmd, " --market-symbol {s}");
    }
    if args.max_steps != RunOptions::default().max_steps {
        let _ = write!(cmd, " --max-steps {}", args.max_steps);
    }
    if let Some((n, mode)) = args.crash_at {
        let _ = write!(cmd, " --crash-at {n} --crash-mode {}", mode.name());
    }
    let mutant = args.mutant;
    if let Some(m) = mutant {
        let _ = write!(cmd, " --mutant {m}");
    }
    if !args.model {
        cmd.push_str(" --no-model");
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
        "orders    {}  fills {}  retries {}  unknown outcomes {} (resolved {})",
        r.orders, r.fills, r.retries, r.unknown_outcomes, r.unknown_resolved
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
    if !r.balances.is_empty() {
        let books: Vec<String> = r
            .balances
            .iter()
            .map(|b| {
                if b.dust.is_zero() {
                    format!("{} {}", b.asset, b.total.normalize())
                } else {
                    format!(
                        "{} {} (dust {})",
                        b.asset,
                        b.total.normalize(),
                        b.dust.normalize()
                    )
                }
            })
            .collect();
        let _ = writeln!(s, "balances  {}", books.join(", "));
    }
    match &r.violation {
        Some(v) if v.invariant == LIVELOCK => {
            let _ = writeln!(
                s,
                "LIVELOCK at step {}, t_ms {}: {}",
                v.step, v.t_ms, v.detail
            );
        }
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
    let balances: serde_json::Map<String, serde_json::Value> = r
        .balances
        .iter()
        .map(|b| {
            (
                b.asset.to_string(),
                serde_json::json!({
                    "total": b.total.normalize().to_string(),
                    "dust": b.dust.normalize().to_string(),
                }),
            )
        })
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
        "unknown_resolved": r.unknown_resolved,
        "faults": faults,
        "invariant_checks": r.checks,
        "steps": r.steps,
        "audit_lines": r.audit_lines,
        "sim_time_ms": r.end_ms,
        "balances": balances,
        "violation": violation,
        "expects": r.expects,
        "failed_expects": r.failed_expects,
        "reproduce": (!r.passed()).then(|| replay_command(args, r.seed)),
    })
    .to_string()
}

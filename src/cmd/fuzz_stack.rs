//! The stack mode of `order-router fuzz`: seeds run through the live adapter (driver, Binance
//! client, journal on a crashing simulated disk) against the venue's request handler, in
//! parallel on the campaign's thread pool.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::fuzz::Args;
use order_router::stack::{run_seed, StackOptions, StackRun, StackViolation};
use rayon::prelude::*;

/// What a stack campaign found.
#[derive(Debug, Default)]
pub struct Totals {
    pub seeds: u64,
    pub requests: u64,
    pub crashes: u64,
    pub torn: u64,
    pub faults: u64,
    /// The lowest failing seed and its run.
    pub failure: Option<StackRun>,
    /// The lowest seed whose two runs wrote different bytes.
    pub divergence: Option<u64>,
}

/// Runs `seeds` in the stack mode on the current rayon pool; `done` after each seed, and
/// `closed` stops the campaign early.
pub fn campaign(
    seeds: &[u64],
    opts: &StackOptions,
    check_determinism: bool,
    closed: &AtomicBool,
    done: impl Fn() + Sync,
) -> Totals {
    let requests = AtomicU64::new(0);
    let crashes = AtomicU64::new(0);
    let torn = AtomicU64::new(0);
    let faults = AtomicU64::new(0);
    let ran = AtomicU64::new(0);
    let outcomes: Vec<(u64, Option<StackRun>, bool)> = seeds
        .par_iter()
        .filter_map(|&seed| {
            if closed.load(Ordering::Relaxed) {
                return None;
            }
            let r = run_seed(seed, opts);
            let diverged = check_determinism && {
                let again = run_seed(seed, opts);
                again.journal != r.journal || again.record != r.record
            };
            ran.fetch_add(1, Ordering::Relaxed);
            requests.fetch_add(r.requests, Ordering::Relaxed);
            crashes.fetch_add(u64::from(r.crashes), Ordering::Relaxed);
            torn.fetch_add(u64::from(r.torn), Ordering::Relaxed);
            faults.fetch_add(r.faults.values().sum(), Ordering::Relaxed);
            done();
            Some((seed, r.violation.is_some().then_some(r), diverged))
        })
        .collect();
    let mut t = Totals {
        seeds: ran.into_inner(),
        requests: requests.into_inner(),
        crashes: crashes.into_inner(),
        torn: torn.into_inner(),
        faults: faults.into_inner(),
        ..Totals::default()
    };
    // The campaign's order is the seeds': the lowest failure wins, whatever finished first.
    for (seed, failed, diverged) in outcomes {
        if t.failure.is_none() {
            t.failure = failed;
        }
        if diverged && t.divergence.is_none() {
            t.divergence = Some(seed);
        }
    }
    t
}

/// Prints the stack campaign's summary, and its first failure with the command that replays
/// it (the failing journal is written to `out`); `true` when something failed.
pub fn report(t: &Totals, secs: f64, args: &Args<'_>) -> bool {
    outln!(
        "stack     {} seeds through the live adapter: {} requests, {} faults, {} crashes ({} torn) in {secs:.2} s",
        t.seeds,
        t.requests,
        t.faults,
        t.crashes,
        t.torn
    );
    if let Some(seed) = t.divergence {
        outln!("NONDETERMINISM seed {seed} (stack): two runs wrote different bytes");
    }
    let Some(run) = &t.failure else {
        return t.divergence.is_some();
    };
    let StackViolation { check, detail } = run.violation.clone().unwrap_or(StackViolation {
        check: "unknown",
        detail: String::new(),
    });
    outln!("VIOLATION seed {} (stack): {check}: {detail}", run.seed);
    let path = args
        .out
        .join(format!("fuzz-failure-{}-stack.jsonl", run.seed));
    match crate::output::write_whole(&path, &[], &run.journal) {
        Ok(()) => outln!("journal   {}", path.display()),
        Err(e) => errln!("warning: the failing run's journal: {e}"),
    }
    let mut flags = format!(" --intents {}", args.intents);
    if let Some((_, name)) = args.mutant {
        flags.push_str(&format!(" --mutant {name}"));
    }
    if let Some(m) = args.adapter_mutant {
        flags.push_str(&format!(" --adapter-mutant {}", m.name()));
    }
    outln!(
        "reproduce: order-router fuzz --seeds {}..{} --stack{flags}",
        run.seed,
        run.seed + 1
    );
    true
}

//! `order-router fuzz`: seed sweeps over generated scenarios, in parallel.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use std::sync::atomic::Ordering;

use crate::progress::{Reporter, Watch};

/// The most worker threads `--jobs` takes.
pub const MAX_JOBS: usize = 256;
/// The most intents `--intents` puts in one generated scenario.
pub const MAX_INTENTS: u32 = 10_000;
/// The stack mode runs on every this-many-th seed of a campaign by default (see
/// docs/fuzzing.md for what it costs).
pub const STACK_EVERY: u64 = 8;
use order_router::live::mutant::AdapterMutant;
use order_router::router::Mutant;
use order_router::sim::fuzz::{campaign_until, minimise, run_csv, unreached_edges, FuzzOptions};
use order_router::sim::gen::{generate, FaultMix};
use order_router::sim::{COVERAGE, FAULT_KINDS, LIVELOCK};
use order_router::stack::StackOptions;

pub struct Args<'a> {
    pub seeds: &'a str,
    pub jobs: Option<usize>,
    pub shard: Option<&'a str>,
    pub intents: u32,
    pub faults: FaultMix,
    pub check_determinism: bool,
    pub require_coverage: bool,
    /// Run the lockstep model (`model_agrees`).
    pub model: bool,
    pub out: &'a Path,
    pub mutant: Option<(Mutant, &'a str)>,
    /// Only the stack mode, on every seed.
    pub stack: bool,
    /// Also the stack mode on every K-th seed (0: never).
    pub stack_every: u64,
    pub adapter_mutant: Option<AdapterMutant>,
}

fn usage(msg: String) -> ExitCode {
    errln!("error: {msg}");
    ExitCode::from(2)
}

fn parse_range(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once("..")?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a < b).then_some((a, b))
}

fn parse_shard(s: &str) -> Option<(u64, u64)> {
    let (i, n) = s.split_once('/')?;
    let (i, n): (u64, u64) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
    (n > 0 && i < n).then_some((i, n))
}

/// One summary line of named counters, and a second naming those at zero (when `flag_zero`).
fn counters(label: &str, zero: &str, names: &[&str], counts: &[u64], flag_zero: bool) {
    let all: Vec<String> = names
        .iter()
        .zip(counts)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    outln!("{label:<9} {}", all.join(", "));
    let never: Vec<&str> = names
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    if flag_zero && !never.is_empty() {
        outln!("          {zero}: {}", never.join(", "));
    }
}

pub fn main(args: Args<'_>) -> ExitCode {
    let Some((start, end)) = parse_range(args.seeds) else {
        return usage(format!("--seeds: `{}` is not A..B with A < B", args.seeds));
    };
    let (shard_index, shard_count) = match args.shard {
        None => (0, 1),
        Some(s) => match parse_shard(s) {
            Some(v) => v,
            None => return usage(format!("--shard: `{s}` is not I/N with I < N")),
        },
    };
    let mix = args.faults;
    if args.intents == 0 || args.intents > MAX_INTENTS {
        return usage(format!("--intents: must be in 1..={MAX_INTENTS}"));
    }
    if args.jobs.is_some_and(|j| j == 0 || j > MAX_JOBS) {
        return usage(format!("--jobs: must be in 1..={MAX_JOBS}"));
    }
    // Checked before the campaign: a violation found after hours must have somewhere to go.
    if let Err(e) = crate::output::ensure_dir(args.out) {
        return usage(format!("--out: {e}"));
    }
    let opts = FuzzOptions {
        start,
        end,
        shard_index,
        shard_count,
        intents: args.intents,
        mix,
        check_determinism: args.check_determinism,
        mutant: args.mutant.map(|m| m.0),
        model: args.model,
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = args.jobs {
        pool = pool.num_threads(j);
    }
    let pool = match pool.build() {
        Ok(p) => p,
        Err(e) => return usage(format!("--jobs: {e}")),
    };
    let stack_opts = StackOptions {
        intents: args.intents,
        mutant: opts.mutant,
        adapter_mutant: args.adapter_mutant,
    };
    if args.stack {
        return stack_only(&args, &opts, &stack_opts, &pool);
    }
    let total = opts.seeds().count() as u64;
    let shard = if shard_count > 1 {
        format!(" (shard {shard_index}/{shard_count})")
    } else {
        String::new()
    };
    // Said first: a reader that wants only this line (`| head -1`) gets it at once, and its
    // going away stops the campaign (checked after every seed) instead of running it for nobody.
    outln!(
        "fuzz seeds {start}..{end}{shard}, {} intents each, faults {}",
        args.intents,
        mix.name()
    );
    let closed = std::sync::atomic::AtomicBool::new(false);
    let watch = Watch::new();
    // Wall-clock throughput for the user; nothing simulated reads it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let c = std::thread::scope(|scope| {
        scope.spawn(|| watch.report(Reporter::new("fuzz", "seeds").with_total(total)));
        let c = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| {
                campaign_until(&opts, &closed, || {
                    if crate::output::stdout_closed() {
                        closed.store(true, Ordering::Relaxed);
                    }
                    watch.done.fetch_add(1, Ordering::Relaxed);
                })
            })
        }));
        // The progress thread must stop even if a run panicked, or the scope never ends.
        watch.finish();
        c.unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    if closed.load(Ordering::Relaxed) {
        crate::output::exit_broken_pipe();
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);

    outln!(
        "ran       {} seeds, {} events, {} invariant checks in {secs:.2} s: {:.0} seeds/s, {:.0} events/s",
        c.seeds,
        c.steps,
        c.checks,
        c.seeds as f64 / secs,
        c.steps as f64 / secs
    );
    let reached: usize = c.edges.iter().flatten().filter(|&&n| n > 0).count();
    let missing = unreached_edges(&c.edges);
    outln!(
        "edges     {reached} of {} legal edges reached",
        reached + missing.len()
    );
    if !missing.is_empty() {
        outln!("          never reached: {}", missing.join(", "));
    }
    counters(
        "faults",
        "never injected",
        &FAULT_KINDS,
        &c.faults,
        mix != FaultMix::None,
    );
    counters("coverage", "never reached", &COVERAGE, &c.coverage, true);
    outln!(
        "model     {} intents predicted, {} abstained",
        c.model.predicted,
        c.model.abstained
    );
    if let Some((seed, d)) = &c.divergence {
        outln!("NONDETERMINISM seed {seed}: two runs diverge at {d}");
    }
    let mutant_flag = args
        .mutant
        .map(|m| format!(" --mutant {}", m.1))
        .unwrap_or_default();
    if let Some((seed, v)) = &c.failure {
        if v.invariant == LIVELOCK {
            outln!(
                "LIVELOCK seed {seed}: at step {}, t_ms {}: {}",
                v.step,
                v.t_ms,
                v.detail
            );
        } else {
            outln!("VIOLATION seed {seed}: {v}");
        }
        let csv = generate(*seed, args.intents, mix);
        let small = minimise(&csv, *seed, opts.mutant, v.invariant, 400);
        let rows = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count() - 1;
        let path: PathBuf = args.out.join(format!("fuzz-failure-{seed}.csv"));
        let text = format!(
            "# minimised from fuzz seed {seed}: {} violated\n{small}",
            v.invariant
        );
        if let Err(e) = crate::output::write_whole(&path, &[], text.as_bytes()) {
            // The case must not be lost: it goes to standard output instead.
            errln!("error: {e}; the minimised case follows on standard output");
            out!("{text}");
            outln!(
                "reproduce: order-router fuzz --seeds {seed}..{}{mutant_flag}",
                seed + 1
            );
            return ExitCode::from(1);
        }
        let replay = run_csv(&text, *seed, opts.mutant);
        let same = replay
            .violation
            .as_ref()
            .is_some_and(|r| r.invariant == v.invariant);
        // The minimised case's run report, beside it.
        let page = path.with_extension("html");
        let scenario = order_router::sim::scenario::parse("case", text.as_bytes()).ok();
        let name = path.display().to_string();
        let html = order_router::report::build(order_router::report::Inputs {
            name: &name,
            audit: &replay.audit,
            market: None,
            scenario: scenario.as_ref(),
        });
        match html
            .map_err(|e| e.to_string())
            .and_then(|h| crate::output::write_whole(&page, &[path.as_path()], h.as_bytes()))
        {
            Ok(()) => outln!("report    {}", page.display()),
            Err(e) => errln!("warning: the report of the minimised case: {e}"),
        }
        outln!(
            "minimised {} ({} of {} rows){}",
            path.display(),
            rows(&small),
            rows(&csv),
            if same {
                "; replays to the same violation"
            } else {
                ""
            }
        );
        outln!(
            "reproduce: order-router run {} --seed {seed}{mutant_flag}",
            path.display()
        );
        return ExitCode::from(1);
    }
    if c.divergence.is_some() {
        return ExitCode::from(1);
    }
    if args.stack_every > 0 {
        let seeds: Vec<u64> = opts.seeds().filter(|s| s % args.stack_every == 0).collect();
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now();
        let t = pool.install(|| {
            super::fuzz_stack::campaign(
                &seeds,
                &stack_opts,
                args.check_determinism,
                &closed,
                || {
                    if crate::output::stdout_closed() {
                        closed.store(true, Ordering::Relaxed);
                    }
                },
            )
        });
        if closed.load(Ordering::Relaxed) {
            crate::output::exit_broken_pipe();
        }
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        if super::fuzz_stack::report(&t, secs, &args) {
            return ExitCode::from(1);
        }
    }
    outln!("invariants all held");
    let gaps = c.gaps(mix != FaultMix::None);
    if args.require_coverage && !gaps.is_empty() {
        outln!("COVERAGE GAP never reached: {}", gaps.join(", "));
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `--stack`: every seed of the shard through the live adapter, nothing else.
fn stack_only(
    args: &Args<'_>,
    opts: &FuzzOptions,
    stack: &StackOptions,
    pool: &rayon::ThreadPool,
) -> ExitCode {
    let seeds: Vec<u64> = opts.seeds().collect();
    outln!(
        "fuzz seeds {}..{}, {} intents each, stack mode",
        opts.start,
        opts.end,
        args.intents
    );
    let closed = std::sync::atomic::AtomicBool::new(false);
    let watch = Watch::new();
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let t = std::thread::scope(|scope| {
        scope.spawn(|| watch.report(Reporter::new("fuzz", "seeds").with_total(seeds.len() as u64)));
        let t = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| {
                super::fuzz_stack::campaign(&seeds, stack, args.check_determinism, &closed, || {
                    if crate::output::stdout_closed() {
                        closed.store(true, Ordering::Relaxed);
                    }
                    watch.done.fetch_add(1, Ordering::Relaxed);
                })
            })
        }));
        watch.finish();
        t.unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    if closed.load(Ordering::Relaxed) {
        crate::output::exit_broken_pipe();
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    if super::fuzz_stack::report(&t, secs, args) {
        return ExitCode::from(1);
    }
    outln!("invariants all held");
    ExitCode::SUCCESS
}

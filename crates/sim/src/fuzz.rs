//! Fuzz campaigns: one generated scenario per seed, in parallel, with coverage counters, an
//! optional determinism check, and minimisation of the first failure to a replayable CSV.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use super::faults::KINDS;
use super::gen::{generate, FaultMix};
use super::invariants::{Violation, COVERAGE};
use super::scenario::{parse, Scenario, ScenarioError};
use super::world::{run, Report, RunOptions};
use crate::router::{is_legal, Mutant, State};

/// The name a generated case that does not parse, or whose settings the router refuses, is
/// reported under.
pub const INVALID_SCENARIO: &str = "invalid_scenario";
/// The name under which a panic of the router or the harness in a run is reported: the seed
/// fails (and is minimised) like any other, instead of taking the campaign down.
pub const PANICKED: &str = "panicked";
/// The name a generated case whose `expect` row does not hold is reported under.
pub const FAILED_EXPECT: &str = "failed_expect";

/// What a campaign runs.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Seeds `start..end`.
    pub start: u64,
    pub end: u64,
    /// This machine's share: seeds with `(seed - start) % count == index`.
    pub shard_index: u64,
    pub shard_count: u64,
    pub intents: u32,
    pub mix: FaultMix,
    /// Run every seed twice and compare the audit logs byte for byte.
    pub check_determinism: bool,
    /// A deliberate bug to hunt (honoured only with the `mutants` feature).
    pub mutant: Option<Mutant>,
    /// Run the lockstep model of the router beside it (`model_agrees`).
    pub model: bool,
}

impl FuzzOptions {
    /// The seeds of this shard, in order.
    pub fn seeds(&self) -> impl Iterator<Item = u64> + '_ {
        (self.start..self.end)
            .filter(move |s| (s - self.start) % self.shard_count.max(1) == self.shard_index)
    }
}

/// One seed's outcome.
#[derive(Debug, Clone)]
pub struct SeedRun {
    pub seed: u64,
    pub report: Report,
    /// With the determinism check: where the second run's log first differs.
    pub divergence: Option<String>,
}

/// A whole campaign's totals.
#[derive(Debug, Clone, Default)]
pub struct Campaign {
    pub seeds: u64,
    pub steps: u64,
    pub checks: u64,
    pub edges: [[u64; 13]; 14],
    pub faults: [u64; KINDS.len()],
    /// How often each situation of [`COVERAGE`] was reached.
    pub coverage: [u64; COVERAGE.len()],
    /// Intents the lockstep model predicted and abstained on (`model_agrees`).
    pub model: crate::oracle::OracleStats,
    /// The lowest failing seed and what it broke.
    pub failure: Option<(u64, Violation)>,
    /// The lowest seed whose two runs differ, and where.
    pub divergence: Option<(u64, String)>,
}

/// Runs one generated scenario. The report keeps no audit log: with the determinism check
/// the two logs are compared here and dropped.
pub fn run_seed(seed: u64, opts: &FuzzOptions) -> SeedRun {
    let csv = generate(seed, opts.intents, opts.mix);
    // Read once: the determinism check runs the same scenario again, not the parser again.
    let scenario = parse("generated.csv", csv.as_bytes());
    let model = opts.model && model_samples(seed);
    let mut report = run_parsed(&scenario, seed, opts.mutant, model);
    let divergence = opts.check_determinism.then(|| {
        let again = run_parsed(&scenario, seed, opts.mutant, model);
        first_difference(&report.audit, &again.audit)
    });
    report.audit = Vec::new();
    SeedRun {
        seed,
        report,
        divergence: divergence.flatten(),
    }
}

/// Whether a fuzz campaign runs the lockstep model on `seed`: three seeds in four (all but
/// `seed % 4 == 3`), which keeps the campaign above half its speed without the model (see
/// docs/fuzzing.md). A scenario run and a failure's replay always run it.
pub fn model_samples(seed: u64) -> bool {
    seed % 4 != 3
}

/// Replays scenario text with a seed (and maybe a deliberate bug).
pub fn run_csv(csv: &str, seed: u64, mutant: Option<Mutant>) -> Report {
    run_parsed(&parse("generated.csv", csv.as_bytes()), seed, mutant, true)
}

/// [`run_csv`] of scenario text already read.
fn run_parsed(
    scenario: &Result<Scenario, ScenarioError>,
    seed: u64,
    mutant: Option<Mutant>,
    model: bool,
) -> Report {
    let scenario = match scenario {
        Ok(s) => s,
        // A case that is not a scenario tests nothing: that is a failure, not a pass.
        Err(e) => {
            return Report {
                seed,
                violation: Some(Violation {
                    invariant: INVALID_SCENARIO,
                    step: 0,
                    t_ms: 0,
                    intent: None,
                    detail: e.to_string(),
                }),
                ..Report::default()
            }
        }
    };
    let mut opts = RunOptions {
        seed,
        json_bus: true,
        model,
        ..RunOptions::default()
    };
    if let Some(m) = mutant {
        let mut cfg = scenario.router.clone();
        cfg.set_mutant(m);
        opts.router_override = Some(cfg);
    }
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(scenario, &opts)));
    let mut report = match ran {
        Ok(r) => r,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            return Report {
                seed,
                violation: Some(Violation {
                    invariant: PANICKED,
                    step: 0,
                    t_ms: 0,
                    intent: None,
                    detail: what,
                }),
                ..Report::default()
            };
        }
    };
    // A failed expectation is a failure like any other: the generator's `reserved=0`, or a
    // router that refused the generated settings (line 0) and so tested nothing.
    if report.violation.is_none() {
        if let Some(f) = report.failed_expects.first() {
            report.violation = Some(Violation {
                invariant: if f.line == 0 {
                    INVALID_SCENARIO
                } else {
                    FAILED_EXPECT
                },
                step: report.steps,
                t_ms: report.end_ms,
                intent: None,
                detail: f.to_string(),
            });
        }
    }
    report
}

/// The first line where two audit logs differ, as `line N: <a> / <b>`.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<String> {
    if a == b {
        return None;
    }
    let (la, lb): (Vec<&[u8]>, Vec<&[u8]>) = (
        a.split(|&c| c == b'\n').collect(),
        b.split(|&c| c == b'\n').collect(),
    );
    let i = la
        .iter()
        .zip(lb.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(la.len().min(lb.len()));
    let show = |v: &Vec<&[u8]>| {
        v.get(i).map_or("(end of log)".into(), |l| {
            String::from_utf8_lossy(l).into_owned()
        })
    };
    Some(format!(
        "audit line {}: {} | {}",
        i + 1,
        show(&la),
        show(&lb)
    ))
}

impl From<SeedRun> for Campaign {
    fn from(r: SeedRun) -> Campaign {
        Campaign {
            seeds: 1,
            steps: r.report.steps,
            checks: r.report.checks,
            edges: r.report.edges,
            faults: r.report.faults,
            coverage: r.report.coverage,
            model: r.report.model,
            failure: r.report.violation.map(|v| (r.seed, v)),
            divergence: r.divergence.map(|d| (r.seed, d)),
        }
    }
}

impl Campaign {
    fn keep_failure(&mut self, seed: u64, v: Violation) {
        if self.failure.as_ref().is_none_or(|(s, _)| seed < *s) {
            self.failure = Some((seed, v));
        }
    }

    fn keep_divergence(&mut self, seed: u64, d: String) {
        if self.divergence.as_ref().is_none_or(|(s, _)| seed < *s) {
            self.divergence = Some((seed, d));
        }
    }

    /// Two partial campaigns as one: seeds fold in as they finish, so memory stays flat
    /// however many a campaign runs.
    fn merge(mut self, other: Campaign) -> Campaign {
        self.seeds += other.seeds;
        self.steps += other.steps;
        self.checks += other.checks;
        for (row, src) in self.edges.iter_mut().zip(other.edges.iter()) {
            for (a, b) in row.iter_mut().zip(src.iter()) {
                *a += b;
            }
        }
        for (a, b) in self.faults.iter_mut().zip(other.faults.iter()) {
            *a += b;
        }
        for (a, b) in self.coverage.iter_mut().zip(other.coverage.iter()) {
            *a += b;
        }
        self.model.predicted += other.model.predicted;
        self.model.abstained += other.model.abstained;
        if let Some((seed, v)) = other.failure {
            self.keep_failure(seed, v);
        }
        if let Some((seed, d)) = other.divergence {
            self.keep_divergence(seed, d);
        }
        self
    }
}

/// Runs the campaign in parallel, folding each seed into the totals as it finishes. Once a
/// seed fails, seeds above it are skipped, so the reported failure is the lowest failing seed
/// whatever the scheduling.
pub fn campaign(opts: &FuzzOptions, on_seed: impl Fn() + Sync) -> Campaign {
    campaign_until(opts, &AtomicBool::new(false), on_seed)
}

/// [`campaign`], skipping every seed not yet started once `stop` is set (the reader of the
/// results went away): the runs under way finish, the rest never start.
pub fn campaign_until(
    opts: &FuzzOptions,
    stop: &AtomicBool,
    on_seed: impl Fn() + Sync,
) -> Campaign {
    let lowest_fail = AtomicU64::new(u64::MAX);
    let shards = opts.shard_count.max(1);
    (opts.start..opts.end)
        .into_par_iter()
        .filter(|s| (s - opts.start) % shards == opts.shard_index)
        .fold(Campaign::default, |mut c, seed| {
            if seed <= lowest_fail.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                let r = run_seed(seed, opts);
                if r.report.violation.is_some() || r.divergence.is_some() {
                    lowest_fail.fetch_min(seed, Ordering::Relaxed);
                }
                c = c.merge(Campaign::from(r));
            }
            on_seed();
            c
        })
        .reduce(Campaign::default, Campaign::merge)
}

impl Campaign {
    /// What the campaign never reached: legal edges of the transition table, fault kinds
    /// (when faults were on) and situations of [`COVERAGE`], each as `kind:name`. A harness
    /// that never reaches a place cannot find a bug there; and a table that allows an edge no
    /// run can take is wider than the router it describes.
    pub fn gaps(&self, faults_on: bool) -> Vec<String> {
        let mut out: Vec<String> = unreached_edges(&self.edges)
            .into_iter()
            .map(|e| format!("edge:{e}"))
            .collect();
        // And the other way round: an edge the runs took that the table does not allow.
        for (row, from) in std::iter::once(None)
            .chain(State::ALL.into_iter().map(Some))
            .enumerate()
        {
            for to in State::ALL {
                if self.edges[row][to.index()] > 0 && !is_legal(from, to) {
                    let from = from.map_or("start".to_string(), |f| f.to_string());
                    out.push(format!("edge-not-in-table:{from}->{to}"));
                }
            }
        }
        let never = |kind: &str, names: &[&str], counts: &[u64]| {
            names
                .iter()
                .zip(counts)
                .filter(|(_, n)| **n == 0)
                .map(|(k, _)| format!("{kind}:{k}"))
                .collect::<Vec<_>>()
        };
        if faults_on {
            out.extend(never("fault", &KINDS, &self.faults));
        }
        out.extend(never("coverage", &COVERAGE, &self.coverage));
        out
    }
}

/// Legal edges of the table never taken in a campaign: the generator's blind spots.
pub fn unreached_edges(edges: &[[u64; 13]; 14]) -> Vec<String> {
    let mut out = Vec::new();
    for (row, from) in std::iter::once(None)
        .chain(State::ALL.into_iter().map(Some))
        .enumerate()
    {
        for to in State::ALL {
            if is_legal(from, to) && edges[row][to.index()] == 0 {
                out.push(format!(
                    "{}->{to}",
                    from.map_or("start".to_string(), |f| f.to_string())
                ));
            }
        }
    }
    out
}

/// Shrinks a failing scenario: drops rows and fault settings one at a time while the same
/// invariant still breaks, at most `budget` replays. Returns the smaller CSV.
pub fn minimise(
    csv: &str,
    seed: u64,
    mutant: Option<Mutant>,
    invariant: &str,
    budget: usize,
) -> String {
    // A smaller case must still be a scenario `run` accepts (no intent left without a price).
    let still_fails = |text: &str| {
        parse("minimised.csv", text.as_bytes()).is_ok_and(|s| s.check_priced().is_ok())
            && run_csv(text, seed, mutant)
                .violation
                .is_some_and(|v| v.invariant == invariant)
    };
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let mut tries = 0;
    let mut changed = true;
    while changed && tries < budget {
        changed = false;
        // Rows from the end: intents, faults, prices (never the header, config or balances).
        let mut i = lines.len();
        while i > 1 && tries < budget {
            i -= 1;
            let action = lines[i].split(',').nth(1).unwrap_or("");
            if !matches!(action, "intent" | "fault" | "price" | "signal") {
                continue;
            }
            let mut candidate = lines.clone();
            candidate.remove(i);
            tries += 1;
            if still_fails(&candidate.join("\n")) {
                lines = candidate;
                changed = true;
            }
        }
        // Fault probabilities in the config row, one at a time.
        if let Some(ci) = lines
            .iter()
            .position(|l| l.split(',').nth(1) == Some("config"))
        {
            let keys: Vec<String> = lines[ci]
                .split(';')
                .filter(|kv| kv.starts_with("p_") || kv.contains(",p_"))
                .map(|kv| kv.rsplit(',').next().unwrap_or(kv).to_string())
                .collect();
            for kv in keys {
                if tries >= budget {
                    break;
                }
                let mut candidate = lines.clone();
                candidate[ci] = candidate[ci].replace(&format!(";{kv}"), "");
                tries += 1;
                if candidate[ci] != lines[ci] && still_fails(&candidate.join("\n")) {
                    lines = candidate;
                    changed = true;
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(start: u64, end: u64) -> FuzzOptions {
        FuzzOptions {
            start,
            end,
            shard_index: 0,
            shard_count: 1,
            intents: 6,
            mix: FaultMix::Swarm,
            check_determinism: false,
            mutant: None,
            model: true,
        }
    }

    #[test]
    fn shards_split_the_range_without_overlap_or_gaps() {
        let mut all: Vec<u64> = (0..3)
            .flat_map(|i| {
                let o = FuzzOptions {
                    shard_index: i,
                    shard_count: 3,
                    ..opts(10, 30)
                };
                o.seeds().collect::<Vec<_>>()
            })
            .collect();
        all.sort_unstable();
        assert_eq!(all, (10..30).collect::<Vec<_>>());
    }

    #[test]
    fn the_real_router_survives_a_sweep_and_every_run_is_repeatable() {
        let o = FuzzOptions {
            check_determinism: true,
            ..opts(0, 40)
        };
        let c = campaign(&o, || {});
        assert_eq!(c.seeds, 40);
        assert!(c.failure.is_none(), "{:?}", c.failure);
        assert!(c.divergence.is_none(), "{:?}", c.divergence);
        assert!(c.checks > 0 && c.steps > 0);
    }

    #[test]
    fn a_campaign_of_five_hundred_seeds_reaches_every_boundary_on_purpose() {
        let c = campaign(
            &FuzzOptions {
                intents: 8,
                ..opts(0, 500)
            },
            || {},
        );
        assert!(c.failure.is_none(), "{:?}", c.failure);
        let gaps = c.gaps(true);
        for name in [
            "min_notional_exact",
            "min_notional_lot_below",
            "min_notional_lot_above",
            "balance_exact",
            "balance_unit_short",
            "last_retry",
            "cap_on_tick",
            "placement_at_recv_window_end",
            "order_timeout_exact",
        ] {
            assert!(COVERAGE.contains(&name), "{name}");
            assert!(
                !gaps.contains(&format!("coverage:{name}")),
                "{name}: {gaps:?}"
            );
        }
    }

    #[test]
    fn a_case_that_tests_nothing_or_misses_an_expectation_fails() {
        let v = run_csv("not a scenario", 1, None).violation.expect("fails");
        assert_eq!(v.invariant, INVALID_SCENARIO);
        let csv = "t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,10,,\n0,expect,,,,,asset=USDT;balance=11\n";
        let v = run_csv(csv, 1, None).violation.expect("fails");
        assert_eq!(v.invariant, FAILED_EXPECT);
        assert!(
            v.detail.contains("USDT: balance 11 expected, got 10"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn first_difference_names_the_line() {
        assert_eq!(first_difference(b"a\nb\n", b"a\nb\n"), None);
        let d = first_difference(b"a\nb\nc\n", b"a\nx\nc\n").unwrap();
        assert!(d.starts_with("audit line 2: b | x"), "{d}");
    }
}

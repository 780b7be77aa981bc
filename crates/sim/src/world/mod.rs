//! The simulated world: one seeded RNG, one clock, one event queue, the real router, the
//! simulated venue and a network between them that loses, delays and garbles requests.
//!
//! The drive loop is the router's own: apply one input (an event, or the router's timer),
//! drain its commands and audit lines, check the invariants. Everything random comes from a
//! ChaCha RNG seeded by the scenario seed, so the same scenario and seed give the same bytes.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

mod crash;
mod expect;
mod network;
mod report;
mod requests;
mod rows;

pub use report::{Balance, FailedExpect, Report, LIVELOCK};

use super::faults::{Fate, FaultPlan, FaultProfile, Net, Request, KINDS, RETRY_AFTER_MS};
use super::invariants::{Coverage, Invariants, Violation};
use super::queue::Queue;
use super::scenario::{CrashMode, FaultKind, Row, RowKind, Scenario, Spec};
use smallvec::SmallVec;

use crate::audit::{write_line, AuditLine, Detail};
use crate::decision::{assemble, Guards, Intent, Risk, Signal};
use crate::driver::{next_command, AuditSink, Step};
use crate::exchange::sim::{PlacementFault, SimExchange, TradesFault};
use crate::exchange::ExchangeError;
use crate::model::{floor_to, ClientOrderId, IntentId, Side, TimeMs};
use crate::router::{Action, Command, ContractError, Input, Reply, Router, RouterConfig};

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: u64,
    /// Random faults instead of the scenario's own profile (its `p_<kind>` settings).
    pub profile: Option<FaultProfile>,
    /// Off only to measure what checking costs.
    pub check_invariants: bool,
    /// A run that has not reached quiescence after this many steps is a livelock.
    pub max_steps: u64,
    /// Keep audit lines (the CLI writes them out); off for pure speed.
    pub keep_audit: bool,
    /// Replace the scenario's router settings (e.g. to switch on a deliberate bug).
    pub router_override: Option<RouterConfig>,
    /// Carry every delivery through the bus as JSON (`Intent::to_json`, then
    /// `Intent::from_json`), as a bus between processes would; the fuzzer does.
    pub json_bus: bool,
    /// Make the audit log durable before each batch's commands go out: the buffered lines are
    /// written to the sink and the sink flushed (a journal file syncs there). Off, lines go
    /// out in large chunks.
    pub durable_audit: bool,
    /// Crash the router after this many journal appends (counted from the run's start),
    /// leaving the unsynced lines as the mode says: one point of `run --crash-everywhere`.
    pub crash_at: Option<(u64, CrashMode)>,
    /// Run the lockstep model of the router beside it (`model_agrees`; with the checks on).
    pub model: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 0,
            profile: None,
            check_invariants: true,
            max_steps: 10_000_000,
            keep_audit: true,
            router_override: None,
            json_bus: false,
            durable_audit: false,
            crash_at: None,
            model: true,
        }
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        intent: Intent,
        spec: Spec,
        original: bool,
    },
    /// `gen`: the router process that sent it; a reply to a process that died is lost.
    Arrive {
        cmd: Command,
        fate: Fate,
        gen: u32,
    },
    Reply(Reply, u32),
    /// A crashed router comes back.
    Restart,
}

struct World<'a> {
    scenario: &'a Scenario,
    /// Scenario rows in time order, read lazily so a huge workload never sits in memory.
    rows: std::iter::Peekable<Box<dyn Iterator<Item = Row> + 'a>>,
    /// Serialised audit lines not yet handed to the sink.
    audit_buf: Vec<u8>,
    sink: &'a mut dyn std::io::Write,
    sink_error: Option<std::io::Error>,
    opts: &'a RunOptions,
    rng: ChaCha8Rng,
    queue: Queue<Event>,
    router: Router,
    venue: SimExchange,
    plan: FaultPlan,
    inv: Invariants,
    now: TimeMs,
    labels: BTreeMap<String, IntentId>,
    /// The venue ran a request or moved its market in this step.
    venue_touched: bool,
    /// A `calm` row was reached: no more faults.
    calm: bool,
    /// The previous signal row, to count pairs that differ in one input.
    last_signal: Option<SignalKey>,
    /// What the world saw of each intent's requests and their replies.
    requests: requests::Requests,
    /// Crash simulation, when the scenario, its profile or the options can crash the router.
    crashes: Option<Box<crash::Crashes>>,
    /// The audit lines of one drain, before they are written.
    batch: Vec<AuditLine>,
    /// The rate-limit hold the venue's answers imposed: nothing may leave before it ends.
    hold_until: TimeMs,
    /// Placements the venue refused as rate limited, by client order id: the only
    /// `rate_limited` ERROR lines the router may write.
    rate_limited_answers: BTreeMap<ClientOrderId, u32>,
    /// Told `(steps, t_ms)` every [`PROGRESS_EVERY`] + 1 steps.
    progress: Option<&'a mut dyn FnMut(u64, TimeMs)>,
    /// The first contract the world broke in this step (a simulator bug).
    contract: Option<ContractError>,
    /// The independent model of the router, run in lockstep (with the checks on).
    oracle: Option<Box<crate::oracle::Oracle>>,
    report: Report,
}

/// How often a run reports progress: every 2^20 steps (a fraction of a second).
const PROGRESS_EVERY: u64 = (1 << 20) - 1;

/// A signal's inputs, normalised: equal keys must give one intent, different keys different
/// intents (the `intent_identity` check).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SignalKey {
    ts_ms: TimeMs,
    symbol: String,
    side: Side,
    ref_price: Decimal,
    risk_qty: Decimal,
}

impl SignalKey {
    fn text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.ts_ms, self.symbol, self.side, self.ref_price, self.risk_qty
        )
    }

    /// How many of symbol, side, reference and size differ (at the same time).
    fn differences(&self, other: &SignalKey) -> Option<u32> {
        (self.ts_ms == other.ts_ms).then(|| {
            u32::from(self.symbol != other.symbol)
                + u32::from(self.side != other.side)
                + u32::from(self.ref_price != other.ref_price)
                + u32::from(self.risk_qty != other.risk_qty)
        })
    }
}

/// The wait a rate-limited answer asks for.
fn retry_after(reply: &Reply) -> Option<u64> {
    use crate::router::ReplyOutcome;
    match &reply.outcome {
        ReplyOutcome::Order(Err(ExchangeError::RateLimited { retry_after_ms }))
        | ReplyOutcome::Trades(Err(ExchangeError::RateLimited { retry_after_ms })) => {
            Some(*retry_after_ms)
        }
        _ => None,
    }
}

fn fault_index(name: &str) -> usize {
    KINDS.iter().position(|k| *k == name).unwrap_or(0)
}

/// Runs a scenario to quiescence (or to the first violation); the audit log ends up in
/// [`Report::audit`].
pub fn run(scenario: &Scenario, opts: &RunOptions) -> Report {
    let mut log = Vec::new();
    let mut report = run_with(
        scenario,
        Box::new(scenario.rows.iter().cloned()),
        opts,
        &mut log,
    );
    report.audit = log;
    report
}

/// Like [`run`], with the rows from an iterator (in time order) and the audit log streamed to
/// `sink` in chunks: memory stays flat however long the run.
pub fn run_with<'a>(
    scenario: &'a Scenario,
    rows: Box<dyn Iterator<Item = Row> + 'a>,
    opts: &'a RunOptions,
    sink: &'a mut dyn std::io::Write,
) -> Report {
    run_observed(scenario, rows, opts, sink, None)
}

/// Like [`run_with`], telling `progress` the steps taken and the sim time now and then, so a
/// long run can report how far it got (the simulator itself reads no clock).
pub fn run_observed<'a>(
    scenario: &'a Scenario,
    rows: Box<dyn Iterator<Item = Row> + 'a>,
    opts: &'a RunOptions,
    sink: &'a mut dyn std::io::Write,
    progress: Option<&'a mut dyn FnMut(u64, TimeMs)>,
) -> Report {
    let router_cfg = opts
        .router_override
        .clone()
        .unwrap_or_else(|| scenario.router.clone());
    let mut report = Report {
        seed: opts.seed,
        ..Report::default()
    };
    let router = match Router::new(router_cfg.clone(), crate::portfolio::Portfolio::new()) {
        Ok(r) => r,
        Err(e) => {
            report.failed_expects.push(FailedExpect {
                line: 0,
                message: format!("router config: {e}"),
            });
            return report;
        }
    };
    if let Some(detail) = crate::invariants::guards::probe(opts.seed, &router_cfg) {
        report.violation = Some(Violation {
            invariant: "input_guards",
            step: 0,
            t_ms: 0,
            intent: None,
            detail,
        });
        return report;
    }
    let mut w = World {
        scenario,
        rows: rows.peekable(),
        audit_buf: Vec::with_capacity(AUDIT_CHUNK + 4096),
        sink,
        sink_error: None,
        opts,
        rng: ChaCha8Rng::seed_from_u64(opts.seed),
        queue: Queue::default(),
        router,
        venue: SimExchange::new(scenario.venue.clone()),
        plan: FaultPlan::new(opts.profile.unwrap_or(scenario.profile)),
        inv: Invariants::new(&router_cfg, &scenario.venue),
        now: 0,
        labels: BTreeMap::new(),
        venue_touched: true,
        calm: false,
        last_signal: None,
        requests: requests::Requests::default(),
        crashes: crash::Crashes::wanted(scenario, opts),
        batch: Vec::new(),
        hold_until: 0,
        rate_limited_answers: BTreeMap::new(),
        progress,
        contract: None,
        oracle: (opts.check_invariants && opts.model)
            .then(|| Box::new(crate::oracle::Oracle::new(&router_cfg))),
        report,
    };
    w.report.coverage[Coverage::MarketRules as usize] = scenario.venue.markets.len() as u64;
    if scenario.venue.market.live {
        w.venue.go_live(opts.seed, 0, false);
    }
    w.drive();
    w.finish()
}

/// Audit bytes gathered before they go to the sink.
const AUDIT_CHUNK: usize = 1 << 16;

/// The world's journal as the write-ahead step sees it: lines gathered into a batch the world
/// checks ([`Step::Lines`]), and made durable by writing the buffered lines out and flushing.
struct WorldSink<'a, 'b> {
    batch: &'a mut Vec<AuditLine>,
    audit_buf: &'a mut Vec<u8>,
    sink: &'a mut (dyn std::io::Write + 'b),
    sink_error: &'a mut Option<std::io::Error>,
    report: &'a mut Report,
    /// `RunOptions::durable_audit` with the lines kept.
    sync: bool,
}

impl AuditSink for WorldSink<'_, '_> {
    fn line(&mut self, line: AuditLine) {
        self.batch.push(line);
    }

    fn jsonl(&mut self, _: &[u8], _: u64) {}

    fn make_durable(&mut self) -> bool {
        if self.sync {
            flush_audit(self.audit_buf, self.sink, self.sink_error, self.report);
            if self.sink_error.is_none() {
                if let Err(e) = self.sink.flush() {
                    *self.sink_error = Some(e);
                }
            }
            self.report.syncs += 1;
        }
        true
    }

    fn pause_after_lines(&self) -> bool {
        true
    }
}

/// The buffered audit bytes to the sink; the first write error is kept.
fn flush_audit(
    buf: &mut Vec<u8>,
    sink: &mut dyn std::io::Write,
    error: &mut Option<std::io::Error>,
    report: &mut Report,
) {
    report.audit_bytes += buf.len() as u64;
    if error.is_none() {
        if let Err(e) = sink.write_all(buf) {
            *error = Some(e);
        }
    }
    buf.clear();
}

impl World<'_> {
    fn drive(&mut self) {
        let mut step: u64 = 0;
        loop {
            // Rows before queued events at the same time, the router's timer only when earlier.
            let next_row = self.rows.peek().map(|r| r.t_ms);
            let next_queued = self.queue.peek_time();
            let row_first = match (next_row, next_queued) {
                (Some(r), Some(q)) => r <= q,
                (r, _) => r.is_some(),
            };
            let next_event = if row_first { next_row } else { next_queued };
            let next_timer = if self.is_down() {
                None
            } else {
                self.router.poll_timeout()
            };
            let timer_first = match (next_event, next_timer) {
                (None, None) => break,
                (Some(e), Some(t)) => t < e,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            step += 1;
            if step > self.opts.max_steps {
                let in_flight = self.router.in_flight();
                self.report.violation = Some(Violation {
                    invariant: LIVELOCK,
                    step,
                    t_ms: self.now,
                    intent: None,
                    detail: format!(
                        "no quiescence after {} steps; {in_flight} intents still in flight",
                        self.opts.max_steps
                    ),
                });
                break;
            }
            if step & PROGRESS_EVERY == 0 {
                if let Some(p) = self.progress.as_mut() {
                    p(step, self.now);
                }
            }
            if timer_first {
                self.now = self.now.max(next_timer.unwrap_or(self.now));
                self.inv.begin_step(step, self.now);
                if let Some(o) = self.oracle.as_mut() {
                    o.timeout(self.now);
                }
                let told = self.router.handle_timeout(self.now);
                self.told(told);
            } else if row_first {
                if let Some(row) = self.rows.next() {
                    self.now = self.now.max(row.t_ms);
                    self.inv.begin_step(step, self.now);
                    if let Some(v) = self.row(row) {
                        self.report.violation = Some(v);
                    }
                }
            } else if let Some((t, ev)) = self.queue.pop() {
                self.now = self.now.max(t);
                self.inv.begin_step(step, self.now);
                if let Some(v) = self.event(ev) {
                    self.report.violation = Some(v);
                }
            }
            // The living market catches up with the clock (nothing on a static one).
            if self.venue.advance_market(self.now) {
                self.venue_touched = true;
            }
            if let Some(v) = self.drain() {
                self.report.violation.get_or_insert(v);
            }
            if let Some(e) = self.contract.take() {
                let v = self.inv.report(
                    "input_guards",
                    None,
                    format!("the simulator broke the router's contract: {e}"),
                );
                self.report.violation.get_or_insert(v);
            }
            if self.opts.check_invariants && self.report.violation.is_none() && !self.is_down() {
                let touched = std::mem::take(&mut self.venue_touched);
                self.report.violation = self.after_restart();
                if self.report.violation.is_none() {
                    self.report.violation = self.inv.after_step(&self.router, &self.venue, touched);
                }
                if self.report.violation.is_none() {
                    self.report.violation = self.model_agrees(false);
                }
                if self.report.violation.is_none() {
                    self.report.violation = self.take_snapshot();
                }
            }
            if self.report.violation.is_some() {
                break;
            }
        }
        self.report.steps = step;
        if self.report.violation.is_none() && self.opts.check_invariants {
            self.inv.begin_step(step, self.now);
            self.report.violation = self.inv.at_quiescence(&self.router, &self.venue);
            if self.report.violation.is_none() {
                self.report.violation = self.model_agrees(true);
            }
        }
        if let Some(v) = self.finish_crashes() {
            self.report.violation.get_or_insert(v);
        }
    }

    /// The `model_agrees` check: the model's predictions for this step (or, at the end, its
    /// timers) against what the router did.
    fn model_agrees(&mut self, at_end: bool) -> Option<Violation> {
        let o = self.oracle.as_mut()?;
        let found = if at_end {
            o.at_end()
        } else {
            o.end_step(self.router.poll_timeout())
        };
        found.map(|(intent, detail)| self.inv.report("model_agrees", intent.as_deref(), detail))
    }

    /// The router's answer to an input: a contract error is the simulator's own bug, reported
    /// after the step.
    fn told(&mut self, r: Result<(), ContractError>) {
        if let Err(e) = r {
            self.contract.get_or_insert(e);
        }
    }

    fn latency(&mut self) -> u64 {
        let base = self.scenario.latency_ms;
        base + self.rng.random_range(0..=base / 2)
    }

    fn event(&mut self, ev: Event) -> Option<Violation> {
        match ev {
            Event::Deliver {
                intent,
                spec,
                original,
            } => {
                if let Some(at) = self.down_until() {
                    // The bus holds it until the router is back.
                    self.queue.push(
                        at,
                        Event::Deliver {
                            intent,
                            spec,
                            original,
                        },
                    );
                    return None;
                }
                self.report.deliveries += 1;
                let calm = original && self.calm;
                // Through the bus once per intent: a redelivery is the same message again.
                let intent = if self.opts.json_bus && original {
                    match self.through_bus(intent) {
                        Ok(i) => i,
                        Err(v) => return Some(v),
                    }
                } else {
                    intent
                };
                if self.opts.check_invariants {
                    self.inv.on_deliver(&intent, &spec, calm);
                }
                if let Some(c) = self.crashes.as_mut() {
                    c.delivered(&intent, &spec);
                }
                if original {
                    self.count_grid(&intent);
                }
                if calm {
                    self.report.coverage[Coverage::CalmIntent as usize] += 1;
                }
                if original {
                    let (dup, late) = self.plan.redeliveries(&mut self.rng);
                    if dup {
                        self.report.faults[fault_index("duplicate_delivery")] += 1;
                        let at = self.now + self.rng.random_range(0..=50u64);
                        self.queue.push(
                            at,
                            Event::Deliver {
                                intent: intent.clone(),
                                spec: spec.clone(),
                                original: false,
                            },
                        );
                    }
                    if late {
                        self.report.faults[fault_index("late_delivery")] += 1;
                        let at = self.now + 60_000 + self.rng.random_range(0..=60_000u64);
                        self.queue.push(
                            at,
                            Event::Deliver {
                                intent: intent.clone(),
                                spec,
                                original: false,
                            },
                        );
                    }
                }
                if let Some(o) = self.oracle.as_mut() {
                    o.deliver(self.now, &intent);
                }
                let told = self.router.handle(self.now, Input::Deliver(intent));
                self.told(told);
                None
            }
            Event::Arrive { cmd, fate, gen } => self.arrive(cmd, fate, gen),
            Event::Restart => self.restart(),
            Event::Reply(_, gen) if gen != self.gen() => None,
            Event::Reply(reply, _) => {
                let timeout = self.router.config().request_timeout_ms;
                self.requests
                    .on_reply(&reply, &self.venue, self.now, timeout);
                let order_timeout = self.router.config().order_timeout_ms;
                if self
                    .requests
                    .at_order_timeout(&reply, self.now, order_timeout)
                {
                    self.report.coverage[Coverage::OrderTimeoutExact as usize] += 1;
                }
                if let Some(ms) = retry_after(&reply) {
                    self.hold_until = self.hold_until.max(self.now.saturating_add(ms));
                }
                if let Some(o) = self.oracle.as_mut() {
                    o.reply(self.now, &reply);
                }
                let told = self.router.handle(self.now, Input::Reply(reply));
                self.told(told);
                None
            }
        }
    }

    /// Audit lines into the journal, then (once they are durable) commands on the wire: the
    /// shared write-ahead step ([`crate::driver::next_command`]), each line and command checked
    /// on the way. A crash in the middle of the batch stops it there.
    fn drain(&mut self) -> Option<Violation> {
        if self.is_down() {
            return None;
        }
        let mut found = None;
        // Client order ids whose SENT or cancel_requested line is not durable yet.
        let mut pending: SmallVec<[ClientOrderId; 4]> = SmallVec::new();
        loop {
            let step = {
                let mut sink = WorldSink {
                    batch: &mut self.batch,
                    audit_buf: &mut self.audit_buf,
                    sink: &mut *self.sink,
                    sink_error: &mut self.sink_error,
                    report: &mut self.report,
                    sync: self.opts.durable_audit && self.opts.keep_audit,
                };
                next_command(&mut self.router, &mut sink)
            };
            match step {
                Step::Lines => {
                    if self.take_batch(&mut found, &mut pending) {
                        return found;
                    }
                }
                Step::Send(cmd) => {
                    if self.opts.check_invariants && found.is_none() {
                        found = self.check_released(&cmd, &pending);
                    }
                    if let Some(o) = self.oracle.as_mut() {
                        o.on_command(&cmd);
                    }
                    self.dispatch(cmd);
                }
                Step::Idle | Step::Failed => break,
            }
        }
        if let Some(id) = self.requests.end_step() {
            if self.opts.check_invariants && found.is_none() {
                found = Some(self.inv.report(
                    "order_truth",
                    Some(id.as_str()),
                    "a trade query was answered with an error, and the router logged nothing (it must say when it asks again)".into(),
                ));
            }
        }
        found
    }

    /// The step's batch of lines into the journal, each checked, unless the router crashes
    /// in its middle: then `true`, and nothing of the batch goes out.
    fn take_batch(
        &mut self,
        found: &mut Option<Violation>,
        pending: &mut SmallVec<[ClientOrderId; 4]>,
    ) -> bool {
        let mut last = None;
        let mut batch = std::mem::take(&mut self.batch);
        let cut = self.crash_cut(batch.len());
        let keep = match cut {
            None => batch.len(),
            Some((k, CrashMode::Written)) => k + 1,
            Some((k, _)) => k,
        };
        let mut torn = None;
        for (i, line) in batch.drain(..).enumerate() {
            if i < keep {
                self.take_line(line, found, &mut last, pending);
            } else if i == keep && matches!(cut, Some((_, CrashMode::Torn))) {
                torn = Some(line);
            }
        }
        self.batch = batch;
        if cut.is_some() {
            self.crash(torn.as_ref());
            return true;
        }
        false
    }

    /// A command the router released: a placement or cancel whose line is not durable yet
    /// breaks write-ahead; any other is checked on its own.
    fn check_released(
        &mut self,
        cmd: &Command,
        pending: &SmallVec<[ClientOrderId; 4]>,
    ) -> Option<Violation> {
        let coid = match &cmd.action {
            Action::Place(r) => Some(r.client_order_id()),
            Action::Cancel {
                client_order_id, ..
            } => Some(client_order_id),
            _ => None,
        };
        match self.router.undurable() {
            Some(seq) if coid.is_some_and(|c| pending.contains(c)) => Some(self.inv.report(
                "write_ahead",
                Some(cmd.intent_id.as_str()),
                format!(
                    "{} went out before its line was durable (journal durable before seq {seq})",
                    cmd.action.name()
                ),
            )),
            _ => self.check_command(cmd),
        }
    }

    /// One audit line into the journal, checked.
    fn take_line(
        &mut self,
        line: AuditLine,
        found: &mut Option<Violation>,
        last: &mut Option<u64>,
        pending: &mut SmallVec<[ClientOrderId; 4]>,
    ) {
        *last = Some(line.seq);
        match &line.detail {
            Detail::Sent {
                client_order_id, ..
            }
            | Detail::CancelRequested { client_order_id } => pending.push(client_order_id.clone()),
            _ => {}
        }
        self.report.audit_lines += 1;
        if let Some(o) = self.oracle.as_mut() {
            o.on_line(&line);
        }
        if let Some(c) = self.crashes.as_mut() {
            if let Some(v) = c.append(&line) {
                found.get_or_insert(
                    self.inv
                        .report("recovery", Some(line.intent_id.as_str()), v),
                );
            }
        } else if self.opts.keep_audit {
            write_line(&mut self.audit_buf, &line);
            if self.audit_buf.len() >= AUDIT_CHUNK {
                self.flush_audit();
            }
        }
        if self.opts.check_invariants && found.is_none() {
            *found = self.inv.on_audit(&line, &self.venue);
            if found.is_none() {
                *found = self.answered_yet_timed_out(&line);
            }
            if found.is_none() {
                *found = self.spent_on_hold(&line);
            }
        }
        if line.state.is_terminal() && line.detail.event().is_none() {
            *self.report.final_states.entry(line.state).or_default() += 1;
            // The router's answer about an intent is what its log says.
            let told = self.router.state_of(&line.intent_id);
            if self.opts.check_invariants && found.is_none() && told != Some(line.state) {
                *found = Some(self.inv.report(
                    "audit_complete",
                    Some(line.intent_id.as_str()),
                    format!("logged {} but state_of says {told:?}", line.state),
                ));
            }
        }
    }

    fn flush_audit(&mut self) {
        flush_audit(
            &mut self.audit_buf,
            &mut *self.sink,
            &mut self.sink_error,
            &mut self.report,
        );
    }

    fn finish(mut self) -> Report {
        self.flush_audit();
        if let Some(e) = self.sink_error.take() {
            self.report.failed_expects.push(FailedExpect {
                line: 0,
                message: format!("audit log: {e}"),
            });
        }
        let stats = self.router.stats();
        let r = &mut self.report;
        r.end_ms = self.now;
        r.intents = stats.intents;
        r.duplicates_ignored = stats.duplicates_ignored;
        r.orders = self.venue.order_count() as u64;
        r.fills = self.venue.trade_count() as u64;
        r.retries = stats.retries;
        r.unknown_outcomes = stats.unknown_outcomes;
        r.unknown_resolved = stats.unknown_resolved;
        r.checks = self.inv.checks();
        if let Some(o) = &self.oracle {
            r.model = o.stats();
            r.model_diverged = o.diverged()
                || r.violation
                    .as_ref()
                    .is_some_and(|v| v.invariant == "model_agrees");
        }
        self.inv.add_coverage(&mut r.coverage);
        // Intents left in flight (a violation stopped the run).
        for s in self.router.states_in_flight() {
            *r.final_states.entry(s).or_default() += 1;
        }
        r.edges = *self.router.edges();
        for (asset, b) in self.router.portfolio().balances() {
            // The lot of the first market trading it as its base (markets in symbol order).
            let step = self
                .venue
                .symbols()
                .find(|s| s.base() == asset)
                .map(|s| self.venue.rules(s).step_size);
            let dust = step
                .and_then(|step| floor_to(b.total, step))
                .map_or(Decimal::ZERO, |lots| b.total - lots);
            r.balances.push(report::Balance {
                asset: asset.clone(),
                total: b.total,
                dust,
            });
        }
        let expects = &self.scenario.expects;
        r.expects = expects.len();
        for e in expects {
            if let Some(message) = expect::check(&self.router, &self.venue, &self.labels, &e.check)
            {
                r.failed_expects.push(FailedExpect {
                    line: e.line,
                    message,
                });
            }
        }
        self.report
    }
}

//! The order router: a sans-IO finite state machine per intent.
//!
//! The router never reads a clock, draws a random number or touches the network. A driver feeds
//! it inputs with the current time and drains everything it wants done through one call,
//! [`Router::poll_output`], which yields in write-ahead order:
//!
//! ```text
//! loop {
//!     router.handle(now, input)?       // an intent delivery, a venue reply, market data
//!     router.handle_timeout(now)?      // once now >= router.poll_timeout()
//!     match router.poll_output() {
//!         Line(line) | Jsonl { .. }  => append to the journal (the JSONL log)
//!         Event(event)               => tell the bot (after router.emit_events())
//!         Command(cmd)               => execute at the venue, later feed the Reply
//!         None => if let Some(seq) = router.undurable() {
//!                     make the journal durable (fdatasync), then router.journal_durable(seq)?
//!                 } else { wait for an input or the timer }
//!     }
//! }
//! ```
//!
//! That loop is written once, in [`crate::driver::next_command`]: the synchronous driver, the
//! simulator and the live driver all run it and differ only in what they do with a command.
//!
//! Write-ahead: a command is released only once the driver has reported durable every audit
//! line the router wrote before it (the `RESERVED` and `SENT` of a placement, the
//! `cancel_requested` of a cancel). A driver that forgets to report gets no command at all, so
//! none can get the order wrong: after a crash the journal always shows every order that may
//! be out.
//!
//! The driver's side of the contract is checked, never assumed: a `now` earlier than the last
//! one is applied at the last one and answered with [`ContractError::TimeWentBackwards`], and
//! `journal_durable` of a line not handed out yet is refused with
//! [`ContractError::NotEmitted`] (nothing is released).
//!
//! Every transition is checked against the one table in [`state`]. An order whose placement
//! outcome is unknown is only ever resolved by asking the venue for its `client_order_id`; it is
//! never retried blindly, released or abandoned.

mod config;
mod intent;
mod io;
pub mod mutant;
mod output;
mod recover;
pub mod state;
mod stream;

pub use config::{backoff_jitter, limits, ConfigError, MarketRules, OrderLimit, RouterConfig};
pub use intent::Resume;
pub use io::{Action, Command, Input, ListRequest, OrderRequest, Reply, ReplyOutcome, RequestId};
pub use mutant::Mutant;
pub use output::{ContractError, Event, Output};
pub use recover::{
    scan, scan_with, JournalScan, LastLine, OnDamage, OpenIntent, RecoverError, Recovery, Replay,
    TornTail,
};
pub use state::{is_legal, EdgeCounts, Finished, State, STATE_COUNT};
pub use stream::{status_word, OrderUpdate};

use intent::{Active, Cx, Phase};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::FxHashMap as HashMap;

use rust_decimal::Decimal;

use crate::audit::{write_line, AuditLine, Detail};
use crate::decision::{CancelIntent, Intent};
use crate::exchange::ExchangeError;
use crate::model::{fnv1a64, Asset, IntentId, TimeMs};
use crate::portfolio::{Portfolio, PortfolioError};

/// Counters a driver can report; they cost an increment each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterStats {
    pub intents: u64,
    pub duplicates_ignored: u64,
    pub orders_sent: u64,
    pub retries: u64,
    /// Placements whose outcome became unknown, and how many of those a query resolved.
    pub unknown_outcomes: u64,
    pub unknown_resolved: u64,
}

/// Outputs and bookkeeping shared by all intents.
#[derive(Debug, Default)]
struct Outputs {
    /// Commands, each with the number of audit lines that must be durable before it goes out.
    commands: VecDeque<(u64, Command)>,
    audit: VecDeque<AuditLine>,
    /// When set, lines are written here as JSONL when they are made, instead of queued.
    jsonl: Option<Jsonl>,
    seq: u64,
    /// Audit lines with `seq` below this are durable, as the driver reported.
    durable: u64,
    /// `(due, intent key)`, earliest first. Setting a timer only pushes; an entry is live while
    /// its intent's `timer` still says that time, and stale ones are dropped when they surface.
    /// A heap push is far cheaper than a B-tree insert and remove per request.
    timers: BinaryHeap<Reverse<(TimeMs, u64)>>,
    stats: RouterStats,
    /// Transitions taken: `edges[from][to]`, `from` 0 for an intent's start and
    /// `1 + State::index()` otherwise.
    edges: EdgeCounts,
    /// The last line written: a snapshot names it.
    last: Option<LastLine>,
    /// How bookings moved each asset's total, summed: a snapshot holds it.
    booked: Vec<(Asset, Decimal)>,
    /// Nothing is sent before this time: the venue's rate-limit hold.
    hold_until: TimeMs,
    /// When the latest placements went out (as many as the largest order limit counts), for
    /// pacing under the venue's order limits.
    placed: VecDeque<TimeMs>,
    /// Lines with `seq` below this were handed to the driver: only those can be durable.
    handed: u64,
    /// The latest `now` the driver gave: time must not go backwards.
    last_now: TimeMs,
    /// Typed events, when a driver asked for them ([`Router::emit_events`]).
    events: Option<VecDeque<Event>>,
}

/// Audit lines written as they are made: the bytes, and how many lines they hold.
#[derive(Debug, Default)]
struct Jsonl {
    bytes: Vec<u8>,
    lines: u64,
    /// The bytes were handed out by [`Router::poll_output`]: they go before the next line.
    handed: bool,
}

impl Jsonl {
    fn forget_handed(&mut self) {
        if self.handed {
            self.bytes.clear();
            self.lines = 0;
            self.handed = false;
        }
    }
}

impl Outputs {
    /// Queues an event when a driver asked for them; `make` runs only then.
    #[inline]
    fn event(&mut self, make: impl FnOnce() -> Event) {
        if let Some(q) = &mut self.events {
            q.push_back(make());
        }
    }

    /// The next audit line: the snapshot's last line, queued as a value or written at once.
    fn emit(&mut self, now: TimeMs, intent: (&IntentId, u64), state: State, detail: Detail) {
        let (intent_id, fp) = intent;
        self.last = Some(LastLine {
            seq: self.seq,
            t_ms: now,
            intent: fp,
            state,
        });
        let line = AuditLine {
            seq: self.seq,
            t_ms: now,
            intent_id: intent_id.clone(),
            state,
            detail,
        };
        self.seq += 1;
        match &mut self.jsonl {
            Some(j) => {
                j.forget_handed();
                write_line(&mut j.bytes, &line);
                j.lines += 1;
            }
            None => self.audit.push_back(line),
        }
    }
}

/// The router. See the module documentation for the drive loop.
#[derive(Debug)]
pub struct Router {
    config: RouterConfig,
    /// From the config, worked out once: see `Cx::cap_factors`.
    cap_factors: (Decimal, Decimal),
    portfolio: Portfolio,
    /// Intents in flight, by a 64-bit FNV-1a hash of their id.
    in_flight: HashMap<u64, u64>,
    /// Every intent that ended, in 8 bytes: idempotency costs little memory however long the
    /// router runs. Two ids with the same hash would make the later one look like a duplicate
    /// and be ignored: a missed trade, never a double order (about n^2 / 2^63: 1e-5 for ten
    /// million intents).
    finished: Finished,
    /// Intents in flight, in a slab whose keys are `(serial << 32) | slot`: a slot is reused
    /// once its intent ends, and the serial tells a late reply for the old one apart.
    active: Slab,
    out: Outputs,
    next_key: u64,
    /// Intents rebuilt after a restart whose order may be out and is not yet answered for;
    /// new intents wait in `held` until none is left.
    in_doubt: usize,
    held: VecDeque<Held>,
}

/// A delivery that waits for a restart's open orders to be answered for.
#[derive(Debug)]
enum Held {
    Order(Intent),
    Cancel(CancelIntent),
}

impl Held {
    fn id(&self) -> &IntentId {
        match self {
            Held::Order(i) => i.intent_id(),
            Held::Cancel(c) => c.intent_id(),
        }
    }
}

impl Router {
    /// A router over `portfolio`, which it owns from now on: only the router reserves.
    pub fn new(config: RouterConfig, portfolio: Portfolio) -> Result<Router, ConfigError> {
        config.validate()?;
        Ok(Router {
            cap_factors: {
                let slip = config.slippage_bps * crate::model::bps_fraction();
                (Decimal::ONE + slip, Decimal::ONE - slip)
            },
            config,
            portfolio,
            in_flight: HashMap::with_capacity_and_hasher(64, Default::default()),
            finished: Finished::default(),
            active: Slab::default(),
            out: Outputs::default(),
            next_key: 0,
            in_doubt: 0,
            held: VecDeque::new(),
        })
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// Money arriving from outside the router (a starting balance, a transfer in).
    pub fn deposit(&mut self, asset: &Asset, amount: Decimal) -> Result<(), PortfolioError> {
        self.portfolio.deposit(asset, amount)
    }

    pub fn stats(&self) -> RouterStats {
        self.out.stats
    }

    /// How often each edge of the transition table was taken: `edges[from][to]`, where `from`
    /// is 0 for an intent's start and `1 + State::index()` otherwise. A coverage counter.
    pub fn edges(&self) -> &EdgeCounts {
        &self.out.edges
    }

    /// The states of the intents in flight, in no particular order.
    pub fn states_in_flight(&self) -> impl Iterator<Item = State> + '_ {
        self.active.slots.iter().flatten().map(|a| a.state)
    }

    /// Intents not yet in a terminal state.
    pub fn in_flight(&self) -> usize {
        self.active.len
    }

    /// The state of an intent, if the router has seen it.
    pub fn state_of(&self, id: &IntentId) -> Option<State> {
        let fp = fingerprint(id);
        match self.in_flight.get(&fp) {
            Some(k) => self.active.get(*k).map(|a| a.state),
            None => self.finished.get(fp),
        }
    }

    /// The earliest time at which [`Router::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<TimeMs> {
        self.out.timers.peek().map(|&Reverse((t, _))| t)
    }

    /// The router's next output: its audit lines first (values, or JSONL bytes after
    /// [`Router::write_audit_jsonl`]), then the events they describe (after
    /// [`Router::emit_events`]), then the next command whose lines are durable. `None`: nothing
    /// more until the driver reports lines durable ([`Router::undurable`]) or feeds an input.
    pub fn poll_output(&mut self) -> Option<Output<'_>> {
        if let Some(line) = self.poll_audit() {
            return Some(Output::Line(line));
        }
        let fresh = self.out.jsonl.as_mut().is_some_and(|j| {
            j.forget_handed();
            j.lines > 0
        });
        if fresh {
            self.out.handed = self.out.seq;
            let last_seq = self.out.seq - 1;
            let j = self.out.jsonl.get_or_insert_with(Jsonl::default);
            j.handed = true;
            return Some(Output::Jsonl {
                bytes: &j.bytes,
                lines: j.lines,
                last_seq,
            });
        }
        if let Some(e) = self.out.events.as_mut().and_then(VecDeque::pop_front) {
            return Some(Output::Event(e));
        }
        self.poll_command().map(Output::Command)
    }

    /// Audit lines wait to be handed out by [`Router::poll_output`].
    pub fn has_lines(&self) -> bool {
        !self.out.audit.is_empty()
            || self
                .out
                .jsonl
                .as_ref()
                .is_some_and(|j| !j.handed && j.lines > 0)
    }

    /// Events wait to be handed out by [`Router::poll_output`].
    pub fn has_events(&self) -> bool {
        self.out.events.as_ref().is_some_and(|q| !q.is_empty())
    }

    /// The `seq` of the last line handed out that the driver has not reported durable yet.
    pub fn undurable(&self) -> Option<u64> {
        (self.out.handed > self.out.durable).then(|| self.out.handed - 1)
    }

    /// From now on [`Router::poll_output`] also yields typed [`Event`]s. Off, they cost a
    /// branch each.
    pub fn emit_events(&mut self) {
        self.out.events.get_or_insert_with(VecDeque::new);
    }

    /// The next command whose audit lines are durable (see [`Router::journal_durable`]); what
    /// [`Router::poll_output`] yields once lines and events are drained.
    pub fn poll_command(&mut self) -> Option<Command> {
        let ready = self.out.commands.front().is_some_and(|(needs, _)| {
            *needs <= self.out.durable || self.config.has(Mutant::SendBeforeDurable)
        });
        if ready {
            self.out.commands.pop_front().map(|(_, c)| c)
        } else {
            None
        }
    }

    /// The driver made the audit lines up to and including `seq` durable: the commands they
    /// describe may go out now. A line not handed out yet cannot be durable: that is refused
    /// with [`ContractError::NotEmitted`] and nothing is released.
    pub fn journal_durable(&mut self, seq: u64) -> Result<(), ContractError> {
        if seq >= self.out.handed {
            return Err(ContractError::NotEmitted {
                seq,
                next: self.out.handed,
            });
        }
        self.out.durable = self.out.durable.max(seq + 1);
        Ok(())
    }

    /// The next queued audit line; what [`Router::poll_output`] yields first.
    pub fn poll_audit(&mut self) -> Option<AuditLine> {
        let line = self.out.audit.pop_front()?;
        self.out.handed = line.seq + 1;
        Some(line)
    }

    /// From now on the router writes each audit line as JSONL into its own buffer the moment
    /// it makes it, instead of queueing the line as a value: for a driver that only journals
    /// the lines (a simulator that checks them needs the values). Lines queued before stay
    /// queued.
    pub fn write_audit_jsonl(&mut self) {
        self.out.jsonl.get_or_insert_with(Jsonl::default);
    }

    /// Hands the JSONL written since the last call to `sink` (the bytes and the number of
    /// lines), then forgets it; the `seq` of the last line, or `None` when there was none.
    pub fn take_audit_jsonl(&mut self, sink: impl FnOnce(&[u8], u64)) -> Option<u64> {
        let j = self.out.jsonl.as_mut()?;
        j.forget_handed();
        if j.lines == 0 {
            return None;
        }
        sink(&j.bytes, j.lines);
        j.bytes.clear();
        j.lines = 0;
        self.out.handed = self.out.seq;
        self.out.seq.checked_sub(1)
    }

    /// `now`, checked: at most [`limits::MAX_TIME_MS`], and never earlier than the last one
    /// (the router goes on at the last one and says so).
    fn clock(&mut self, now: TimeMs) -> (TimeMs, Result<(), ContractError>) {
        let now = now.min(limits::MAX_TIME_MS);
        let last = self.out.last_now;
        if now < last {
            return (last, Err(ContractError::TimeWentBackwards { now, last }));
        }
        self.out.last_now = now;
        (now, Ok(()))
    }

    /// Applies one input at `now`. Time must not go backwards between calls: an earlier `now`
    /// is applied at the last one and answered with [`ContractError::TimeWentBackwards`] (the
    /// input is not lost). A `now` beyond [`limits::MAX_TIME_MS`] counts as that bound.
    pub fn handle(&mut self, now: TimeMs, input: Input) -> Result<(), ContractError> {
        let (now, checked) = self.clock(now);
        match input {
            Input::Deliver(intent) => self.deliver(now, intent),
            Input::Cancel(cancel) => self.cancel(now, cancel),
            Input::Reply(reply) => self.reply(now, reply),
            Input::Market { symbol, price } => self.portfolio.set_last_price(&symbol, price),
            Input::Hold { until_ms } => self.hold(now, until_ms),
            Input::Stream(update) => self.stream_update(now, update),
            Input::StreamConnected => self.stream_connected(now),
        }
        self.admit_held(now);
        self.drop_stale_timers();
        checked
    }

    /// Fires every timer due at or before `now` (at most [`limits::MAX_TIME_MS`]; time going
    /// backwards as for [`Router::handle`]). A timer that fires at `now` ends its wait or
    /// sends a request timed out strictly later (timeouts are at least 1 ms and bounded), so
    /// this ends.
    pub fn handle_timeout(&mut self, now: TimeMs) -> Result<(), ContractError> {
        let (now, checked) = self.clock(now);
        while let Some(&Reverse((t, key))) = self.out.timers.peek() {
            if t > now {
                break;
            }
            self.out.timers.pop();
            self.with_active(key, now, |a, cx| {
                if a.timer == Some(t) {
                    a.timer = None;
                    a.on_timer(cx);
                }
            });
        }
        self.admit_held(now);
        self.drop_stale_timers();
        checked
    }

    /// New intents that waited for a restart's open orders to be answered for go in now.
    fn admit_held(&mut self, now: TimeMs) {
        while self.in_doubt == 0 {
            match self.held.pop_front() {
                None => break,
                Some(Held::Order(intent)) => self.deliver(now, intent),
                Some(Held::Cancel(cancel)) => self.cancel(now, cancel),
            }
        }
    }

    /// Intents delivered after a restart that wait until its open orders are answered for
    /// (cancel intents among them).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Of [`Router::held`], the cancel intents.
    pub fn held_cancels(&self) -> usize {
        self.held
            .iter()
            .filter(|h| matches!(h, Held::Cancel(_)))
            .count()
    }

    /// The `seq` of the next audit line.
    pub fn next_seq(&self) -> u64 {
        self.out.seq
    }

    /// Everything a restart needs, as of the last audit line written (drain the audit lines
    /// first, with `poll_audit` or `take_audit_jsonl`): what replaying the journal up to that
    /// line gives. A snapshot file holds it.
    pub fn snapshot(&self) -> Replay {
        let mut open: Vec<(u64, OpenIntent)> = self
            .active
            .slots
            .iter()
            .flatten()
            .map(|a| (a.key >> 32, a.export(&self.config)))
            .collect();
        open.sort_unstable_by_key(|(serial, _)| *serial);
        let stats = self.out.stats;
        Replay::from_parts(
            open.into_iter().map(|(_, o)| o).collect(),
            self.finished.clone(),
            self.out.booked.clone(),
            stats,
            self.out.edges,
            self.out.last,
        )
    }

    /// Pops timers that were replaced or whose intent ended, so [`Router::poll_timeout`] (which
    /// cannot mutate) always sees a live one.
    fn drop_stale_timers(&mut self) {
        while let Some(&Reverse((t, key))) = self.out.timers.peek() {
            if self.active.get(key).is_some_and(|a| a.timer == Some(t)) {
                break;
            }
            self.out.timers.pop();
        }
    }

    fn deliver(&mut self, now: TimeMs, intent: Intent) {
        let dedup = !self.config.has(Mutant::IgnoreDedup);
        let fp = fingerprint(intent.intent_id());
        let known = match self.in_flight.get(&fp) {
            Some(k) => Some(self.active.get(*k).map_or(State::New, |a| a.state)),
            None => self.finished.get(fp),
        };
        let known = known
            .filter(|_| dedup)
            .filter(|s| !mutant::redoes(&self.config, *s));
        if known.is_none() && self.in_doubt > 0 && !self.config.has(Mutant::AdmitDuringDoubt) {
            if !self.held.iter().any(|i| i.id() == intent.intent_id()) {
                self.held.push_back(Held::Order(intent));
            }
            return;
        }
        if let Some(state) = known {
            self.out.stats.duplicates_ignored += 1;
            let id = (intent.intent_id(), fp);
            self.out.emit(now, id, state, Detail::DuplicateIgnored);
            return;
        }
        let serial = self.next_key;
        self.next_key += 1;
        self.out.stats.intents += 1;
        let rules = self.config.rules(intent.symbol());
        let key = self.active.insert(serial, Active::new(intent, rules, fp));
        self.in_flight.insert(fp, key);
        self.with_active(key, now, |a, cx| a.start(cx));
    }

    /// A cancel intent: one `DONE` line saying what it found. A live target's open order is
    /// cancelled and it places nothing more (its fills are reconciled as usual); a target that
    /// ended, or is booking its fills, is `already_final`; an id never seen is `unknown_target`.
    fn cancel(&mut self, now: TimeMs, cancel: CancelIntent) {
        let fp = fingerprint(cancel.intent_id());
        let known = match self.in_flight.get(&fp) {
            Some(k) => Some(self.active.get(*k).map_or(State::New, |a| a.state)),
            None => self.finished.get(fp),
        };
        if let Some(state) = known {
            self.out.stats.duplicates_ignored += 1;
            let id = (cancel.intent_id(), fp);
            self.out.emit(now, id, state, Detail::DuplicateIgnored);
            return;
        }
        if self.in_doubt > 0 && !self.config.has(Mutant::AdmitDuringDoubt) {
            if !self.held.iter().any(|i| i.id() == cancel.intent_id()) {
                self.held.push_back(Held::Cancel(cancel));
            }
            return;
        }
        let target = fingerprint(cancel.target());
        let outcome = match self.in_flight.get(&target) {
            Some(&key) if self.active.get(key).is_some_and(Active::cancellable) => "cancelled",
            Some(_) => "already_final",
            None if self.finished.get(target).is_some() => "already_final",
            None => "unknown_target",
        };
        self.out.stats.intents += 1;
        self.out.edges[0][State::Done.index()] += 1;
        let id = (cancel.intent_id(), fp);
        self.out.emit(
            now,
            id,
            State::Done,
            Detail::CancelIntent {
                target: cancel.target().clone(),
                outcome,
            },
        );
        self.finished.insert(fp, State::Done);
        self.out.event(|| Event::IntentFinished {
            intent_id: cancel.intent_id().clone(),
            state: State::Done,
        });
        if outcome == "cancelled" {
            if let Some(&key) = self.in_flight.get(&target) {
                self.with_active(key, now, |a, cx| a.cancel(cx));
            }
        }
    }

    /// Holds every request back until `until` (at most [`limits::MAX_HOLD_MS`] from now).
    fn hold(&mut self, now: TimeMs, until: TimeMs) {
        let until = until.min(now.saturating_add(limits::MAX_HOLD_MS));
        self.out.hold_until = self.out.hold_until.max(until);
    }

    /// Until when the venue's rate-limit hold lasts (a time in the past: no hold).
    pub fn hold_until(&self) -> TimeMs {
        self.out.hold_until
    }

    fn reply(&mut self, now: TimeMs, reply: Reply) {
        // A rate limit holds everything back, whichever request drew it and whether or not
        // that request is still awaited.
        if let ReplyOutcome::Order(Err(ExchangeError::RateLimited { retry_after_ms }))
        | ReplyOutcome::Trades(Err(ExchangeError::RateLimited { retry_after_ms }))
        | ReplyOutcome::List(Err(ExchangeError::RateLimited { retry_after_ms })) = &reply.outcome
        {
            if !self.config.has(Mutant::IgnoreRateLimitHold) {
                self.hold(now, now.saturating_add(*retry_after_ms));
            }
        }
        let key = reply.request_id.intent;
        let awaited = self
            .active
            .get(key)
            .is_some_and(|a| a.awaiting == Some(reply.request_id.n));
        if !awaited {
            return;
        }
        self.with_active(key, now, |a, cx| {
            a.awaiting = None;
            a.on_reply(cx, reply.outcome);
        });
    }

    /// Runs `f` on one active intent with the shared context, then retires it if it ended.
    fn with_active(&mut self, key: u64, now: TimeMs, f: impl FnOnce(&mut Active, &mut Cx<'_>)) {
        let Some(a) = self.active.get_mut(key) else {
            return;
        };
        let mut cx = Cx {
            cfg: &self.config,
            cap_factors: self.cap_factors,
            portfolio: &mut self.portfolio,
            out: &mut self.out,
            now,
            key,
        };
        let was_in_doubt = a.in_doubt;
        f(a, &mut cx);
        if a.in_doubt != was_in_doubt {
            if a.in_doubt {
                self.in_doubt += 1;
            } else {
                self.in_doubt -= 1;
            }
        }
        // An intent's phase is Done exactly when its state is terminal.
        if matches!(a.phase, Phase::Done) {
            debug_assert!(a.state.is_terminal());
            let state = a.state;
            let id = a.fp;
            if a.in_doubt {
                self.in_doubt -= 1;
            }
            self.active.remove(key);
            self.in_flight.remove(&id);
            self.finished.insert(id, state);
        }
    }
}

fn fingerprint(id: &IntentId) -> u64 {
    fnv1a64(id.as_str().as_bytes())
}

/// Slots of intents in flight; the slot is the low 32 bits of a key, the serial the high ones.
#[derive(Debug, Default)]
struct Slab {
    slots: Vec<Option<Active>>,
    free: Vec<u32>,
    len: usize,
}

impl Slab {
    fn insert(&mut self, serial: u64, mut a: Active) -> u64 {
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let key = (serial << 32) + u64::from(slot);
        a.key = key;
        self.slots[slot as usize] = Some(a);
        self.len += 1;
        key
    }

    fn get(&self, key: u64) -> Option<&Active> {
        self.slots
            .get((key & 0xffff_ffff) as usize)?
            .as_ref()
            .filter(|a| a.key == key)
    }

    fn get_mut(&mut self, key: u64) -> Option<&mut Active> {
        self.slots
            .get_mut((key & 0xffff_ffff) as usize)?
            .as_mut()
            .filter(|a| a.key == key)
    }

    fn remove(&mut self, key: u64) {
        let slot = (key & 0xffff_ffff) as usize;
        if self.get(key).is_some() {
            self.slots[slot] = None;
            self.free.push(slot as u32);
            self.len -= 1;
        }
    }
}

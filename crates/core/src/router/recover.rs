//! Recovery: the router rebuilt from its journal (and a snapshot) after a crash or a restart.
//!
//! The write-ahead rule guarantees the journal holds the `SENT` line of every order that may be
//! out, so replaying it (a [`Replay`]) rebuilds every intent's state, reservation and attempt,
//! the set of finished intents, the counters and how bookings moved the balances. Each open
//! intent then resumes from its last durable line:
//!
//! | last state | on restart |
//! | --- | --- |
//! | `NEW` | reserve and place (nothing was held or sent) |
//! | `RESERVED` | place attempt 1 (its `SENT` was not durable, so nothing went out) |
//! | `SENT` | `UNKNOWN` (cause `restart`), then a query by `client_order_id` |
//! | `UNKNOWN` | a query by `client_order_id` |
//! | `PARTIAL` | a poll of the order by `client_order_id` |
//! | `CANCELED`, `ERROR` | the attempt's end: retry or stop |
//! | `RETRY` | the next attempt when the backoff ends |
//! | `FILLED`, `PARTIAL_SUCCESS` | fetch the trades and book them (booking is atomic with `RECONCILED`, so fills are booked once) |
//!
//! Until every order that may be out has been answered for, new intents wait (duplicates of
//! known ones are still recognised). Recovery fails closed: a journal line the state cannot
//! explain, a snapshot of another journal, or balances that cannot hold the reservations stop
//! it with a [`RecoverError`], and no router is built.

use rust_decimal::Decimal;
use smallvec::SmallVec;

use rustc_hash::FxHashMap as HashMap;

use super::intent::{Active, Resume};
use super::{
    fingerprint, is_legal, limits, EdgeCounts, Finished, Mutant, Router, RouterConfig, RouterStats,
    State,
};
use crate::audit::{
    parse_audit_line, read_line_with, AuditLine, Damage, Detail, EndWatch, LogEnd, ReadError,
};
use crate::decision::Intent;
use crate::model::{Asset, ClientOrderId, IntentId, OrderId, TimeMs};
use crate::portfolio::{Portfolio, PortfolioError};

/// Why a router could not be rebuilt. Nothing trades on a state that could not be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoverError {
    /// A damaged line with whole lines after it (cutting it off would cut them too), or a line
    /// that is not this product's.
    #[error("corrupt journal: {0}")]
    Corrupt(ReadError),
    /// The journal ends in damage, not in a torn write: nothing after its last good line may be
    /// taken for a crash's leftovers (a damaged `SENT` is an order that may be out).
    #[error("{0}")]
    Damaged(Damage),
    /// A line the state so far cannot explain.
    #[error("journal line {line} (seq {seq}, intent {intent}): {message}")]
    Disagree {
        line: usize,
        seq: u64,
        intent: String,
        message: String,
    },
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// The funding plus what the journal booked cannot hold what it reserved.
    #[error("balances: {0}")]
    Balances(PortfolioError),
    #[error("router config: {0}")]
    Config(#[from] super::ConfigError),
    /// An open intent's qty, cap or fill beyond its market's integers.
    #[error("intent {intent}: {source}")]
    Grid {
        intent: String,
        source: crate::grid::GridError,
    },
}

/// One intent not yet terminal, as the journal leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIntent {
    pub intent: Intent,
    pub state: State,
    /// What its `RESERVED` line holds, less what was released or spent since.
    pub reserved: Option<(Asset, Decimal)>,
    /// The intent's qty on the lot grid and its cap (from `RESERVED`).
    pub qty: Decimal,
    pub cap: Decimal,
    pub attempt: u32,
    /// Orders that filled something: client order id, venue order id, cumulative fill.
    pub orders: SmallVec<[(ClientOrderId, OrderId, Decimal); 1]>,
    /// The current attempt's order and when it was sent.
    pub order: Option<(ClientOrderId, TimeMs)>,
    /// When the backoff of a `RETRY` ends.
    pub retry_at: TimeMs,
    /// A cancel intent stopped it (`DONE` with `cancelled`): it places nothing more.
    pub cancelled: bool,
}

/// The last line a replay applied: a snapshot names it, so it can only be paired with the
/// journal that holds that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastLine {
    pub seq: u64,
    pub t_ms: TimeMs,
    pub intent: u64,
    pub state: State,
}

impl OpenIntent {
    /// States in which the current attempt's order may be out, so it is remembered.
    pub(super) fn has_order(state: State) -> bool {
        matches!(state, State::Sent | State::Unknown | State::Partial)
    }
}

impl LastLine {
    fn of(l: &AuditLine) -> LastLine {
        LastLine {
            seq: l.seq,
            t_ms: l.t_ms,
            intent: fingerprint(&l.intent_id),
            state: l.state,
        }
    }
}

/// The journal folded into state: what a restart rebuilds, and what a snapshot holds.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Open intents, in the order their `NEW` lines came; `None` once finished.
    pub(super) open: Vec<Option<OpenIntent>>,
    index: HashMap<u64, usize>,
    pub(super) finished: Finished,
    /// How bookings moved each asset's total, summed.
    pub booked: Vec<(Asset, Decimal)>,
    pub stats: RouterStats,
    pub edges: EdgeCounts,
    pub last: Option<LastLine>,
}

impl Replay {
    /// The `seq` the next line must carry.
    pub fn next_seq(&self) -> u64 {
        self.last.map_or(0, |l| l.seq + 1)
    }

    /// Open intents, oldest first.
    pub fn open(&self) -> impl Iterator<Item = &OpenIntent> {
        self.open.iter().flatten()
    }

    pub fn finished(&self) -> &Finished {
        &self.finished
    }

    /// A replay from its parts (what a snapshot file holds).
    pub fn from_parts(
        open: Vec<OpenIntent>,
        finished: Finished,
        booked: Vec<(Asset, Decimal)>,
        stats: RouterStats,
        edges: EdgeCounts,
        last: Option<LastLine>,
    ) -> Replay {
        let index = open
            .iter()
            .enumerate()
            .map(|(i, o)| (fingerprint(o.intent.intent_id()), i))
            .collect();
        Replay {
            open: open.into_iter().map(Some).collect(),
            index,
            finished,
            booked,
            stats,
            edges,
            last,
        }
    }

    /// Folds one line in. `n` is its line number in the journal, for errors.
    pub fn apply(&mut self, n: usize, l: &AuditLine) -> Result<(), RecoverError> {
        let disagree = |message: String| RecoverError::Disagree {
            line: n,
            seq: l.seq,
            intent: l.intent_id.to_string(),
            message,
        };
        if let Some(last) = self.last {
            if l.seq <= last.seq {
                return Err(disagree(format!("seq does not follow {}", last.seq)));
            }
        }
        self.last = Some(LastLine::of(l));
        let fp = fingerprint(&l.intent_id);
        if let Some(event) = l.detail.event() {
            let known = self.index.contains_key(&fp) || self.finished.get(fp).is_some();
            if !known {
                return Err(disagree(format!(
                    "event `{event}` for an intent never seen"
                )));
            }
            if matches!(l.detail, Detail::DuplicateIgnored) {
                self.stats.duplicates_ignored += 1;
            }
            // A retry held back by the venue's rate limits goes out when the hold ends.
            if let Detail::Held { next_ms, .. } = &l.detail {
                let open = self.index.get(&fp).and_then(|&i| self.open[i].as_mut());
                if let Some(o) = open.filter(|o| o.state == State::Retry) {
                    o.retry_at = *next_ms;
                }
            }
            return Ok(());
        }
        if let Detail::New {
            symbol,
            side,
            qty,
            ref_price,
        } = &l.detail
        {
            if self.index.contains_key(&fp) || self.finished.get(fp).is_some() {
                return Err(disagree("NEW for an intent already known".into()));
            }
            let intent = Intent::new(
                l.intent_id.clone(),
                l.t_ms,
                symbol.clone(),
                *side,
                *qty,
                *ref_price,
            )
            .map_err(|e| disagree(e.to_string()))?;
            self.stats.intents += 1;
            self.edges[0][State::New.index()] += 1;
            self.index.insert(fp, self.open.len());
            self.open.push(Some(OpenIntent {
                intent,
                state: State::New,
                reserved: None,
                qty: Decimal::ZERO,
                cap: Decimal::ZERO,
                attempt: 0,
                orders: SmallVec::new(),
                order: None,
                retry_at: 0,
                cancelled: false,
            }));
            return Ok(());
        }
        if let Detail::CancelIntent { target, outcome } = &l.detail {
            if self.index.contains_key(&fp) || self.finished.get(fp).is_some() {
                return Err(disagree("a cancel intent already known".into()));
            }
            if !is_legal(None, l.state) {
                return Err(disagree(format!("a cancel intent in {}", l.state)));
            }
            self.stats.intents += 1;
            self.edges[0][l.state.index()] += 1;
            self.finished.insert(fp, l.state);
            if *outcome == "cancelled" {
                let i = self.index.get(&fingerprint(target)).copied();
                match i.and_then(|i| self.open[i].as_mut()) {
                    Some(o) => o.cancelled = true,
                    None => return Err(disagree(format!("cancels {target}, which is not open"))),
                }
            }
            return Ok(());
        }
        let Some(&i) = self.index.get(&fp) else {
            return Err(disagree(format!(
                "{} for an intent that is not open",
                l.state
            )));
        };
        let Some(o) = self.open[i].as_mut() else {
            return Err(disagree("line for a finished intent".into()));
        };
        let from = o.state;
        if !is_legal(Some(from), l.state) {
            return Err(disagree(format!("transition {from} -> {}", l.state)));
        }
        self.edges[1 + from.index()][l.state.index()] += 1;
        if from == State::Unknown && l.state != State::Unknown {
            self.stats.unknown_resolved += 1;
        }
        o.state = l.state;
        if l.state != State::Retry {
            o.retry_at = 0;
        }
        let release = |o: &mut OpenIntent, amount: Decimal| -> Result<(), RecoverError> {
            // Every release follows the intent's RESERVED line in a journal this router wrote.
            match o.reserved.as_mut() {
                Some((_, held)) if amount <= *held => {
                    *held -= amount;
                    Ok(())
                }
                _ => Err(disagree(format!("releases {amount}, more than it holds"))),
            }
        };
        match &l.detail {
            Detail::Reserved {
                reserved_qty,
                reserved_price,
                asset,
                amount,
            } => {
                o.reserved = Some((asset.clone(), *amount));
                o.qty = *reserved_qty;
                o.cap = *reserved_price;
            }
            Detail::Sent {
                client_order_id,
                attempt,
                ..
            } => {
                if from == State::Unknown {
                    // Found resting: the same order, sent when it was first sent.
                    if o.order.as_ref().map(|(c, _)| c) != Some(client_order_id) {
                        return Err(disagree("SENT after UNKNOWN names another order".into()));
                    }
                } else {
                    self.stats.orders_sent += 1;
                    o.order = Some((client_order_id.clone(), l.t_ms));
                }
                o.attempt = *attempt;
            }
            Detail::Unknown { .. } => self.stats.unknown_outcomes += 1,
            Detail::Order {
                client_order_id,
                order_id,
                filled_qty,
                ..
            } => match o.orders.iter_mut().find(|f| &f.0 == client_order_id) {
                Some(f) => {
                    f.1 = *order_id;
                    f.2 = f.2.max(*filled_qty);
                }
                None if *filled_qty > Decimal::ZERO => {
                    o.orders
                        .push((client_order_id.clone(), *order_id, *filled_qty))
                }
                None => {}
            },
            Detail::Retry { backoff_ms, .. } => {
                self.stats.retries += 1;
                o.retry_at = l.t_ms.saturating_add(*backoff_ms);
            }
            Detail::PartialSuccess { released, .. } => release(o, *released)?,
            Detail::FailedFinal { released, .. } => release(o, *released)?,
            Detail::Reconciled {
                released, booked, ..
            } => {
                let spent = match &o.reserved {
                    Some((asset, _)) => booked
                        .iter()
                        .find(|(a, _)| a == asset)
                        .map_or(Decimal::ZERO, |(_, d)| -(*d).min(Decimal::ZERO)),
                    None => Decimal::ZERO,
                };
                release(o, spent)?;
                release(o, *released)?;
                for (asset, delta) in booked.iter() {
                    add_booked(&mut self.booked, asset, *delta)
                        .ok_or_else(|| disagree("booked amounts overflow".into()))?;
                }
            }
            _ => {}
        }
        if !OpenIntent::has_order(l.state) {
            o.order = None;
        }
        if l.state.is_terminal() {
            if let Some((asset, held)) = &o.reserved {
                if !held.is_zero() {
                    return Err(disagree(format!("ends still holding {held} {asset}")));
                }
            }
            self.open[i] = None;
            self.index.remove(&fp);
            self.finished.insert(fp, l.state);
        }
        Ok(())
    }
}

/// Adds a booking's move of `asset` to a sum kept in asset order; `None` on overflow.
pub(super) fn add_booked(
    sum: &mut Vec<(Asset, Decimal)>,
    asset: &Asset,
    delta: Decimal,
) -> Option<()> {
    match sum.binary_search_by(|(a, _)| a.as_str().cmp(asset.as_str())) {
        Ok(i) => sum[i].1 = sum[i].1.checked_add(delta)?,
        Err(i) => sum.insert(i, (asset.clone(), delta)),
    }
    Some(())
}

/// A torn last line: it lacks its newline, so the writer stopped in it. It is not data; a
/// journal continues after the bytes before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Its line number (from 1) and where it starts in the journal's bytes.
    pub line: usize,
    pub offset: usize,
}

/// What recovery does with a journal that ends in damage ([`LogEnd::Damaged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDamage {
    /// Refuse it ([`RecoverError::Damaged`]): the operator decides.
    #[default]
    Stop,
    /// Cut it off like a torn tail (the caller keeps the cut bytes): `--truncate-damaged`.
    Cut,
}

/// What reading a journal found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalScan {
    /// Lines applied (lines a snapshot already covered are skipped, not counted).
    pub lines: u64,
    pub torn_tail: Option<TornTail>,
    /// Damage at the end, cut off as [`OnDamage::Cut`] asked (a torn line after it is part of it).
    pub damaged: Option<Damage>,
    /// The journal's bytes up to what is cut off (all of them if nothing is): where writing
    /// goes on.
    pub valid_len: usize,
}

impl JournalScan {
    /// How the journal ends, as `report` and `check-audit` say it.
    pub fn end(&self) -> LogEnd {
        match (&self.damaged, self.torn_tail) {
            (Some(d), _) => LogEnd::Damaged(d.clone()),
            (None, Some(t)) => LogEnd::Torn {
                line: t.line,
                offset: t.offset as u64,
            },
            (None, None) => LogEnd::Whole,
        }
    }
}

/// Reads a journal's bytes into `replay`, refusing one that ends in damage (see [`scan_with`]).
pub fn scan(
    replay: &mut Replay,
    journal: &[u8],
    cfg: &RouterConfig,
) -> Result<JournalScan, RecoverError> {
    scan_with(replay, journal, cfg, OnDamage::Stop)
}

/// Reads a journal's bytes into `replay`. Lines the replay already covers (a snapshot's) must
/// match it where they overlap; a gap between them is refused. Lines are read by the rule every
/// command shares ([`read_line_with`], [`EndWatch`]): a torn last line is cut off; a damaged
/// line with whole lines after it is refused; damage at the end is refused or cut, as
/// `on_damage` says.
pub fn scan_with(
    replay: &mut Replay,
    journal: &[u8],
    cfg: &RouterConfig,
    on_damage: OnDamage,
) -> Result<JournalScan, RecoverError> {
    let mut out = JournalScan {
        valid_len: journal.len(),
        ..JournalScan::default()
    };
    let covered = replay.last;
    // The highest `seq` the journal holds, applied or skipped.
    let mut reached: Option<u64> = None;
    let mut first = true;
    let mut start = 0;
    let mut n = 0;
    let mut watch = EndWatch::default();
    let mut cut_early = false;
    while start < journal.len() {
        let end = memchr::memchr(b'\n', &journal[start..]).map_or(journal.len(), |p| start + p);
        let raw = &journal[start..end];
        let line_start = start;
        start = end + 1;
        n += 1;
        let unterminated = end == journal.len();
        let Some(mut parsed) = read_line_with(n, raw, unterminated, parse_audit_line) else {
            continue;
        };
        if matches!(parsed, Err(ReadError::Truncated { .. }))
            && super::mutant::reads_torn_tail(cfg, true)
        {
            if let Ok(l) = parse_audit_line(n, raw.strip_suffix(b"\r").unwrap_or(raw)) {
                parsed = Ok(l);
            }
        }
        if matches!(parsed, Err(ReadError::Checksum { .. }))
            && !unterminated
            && start < journal.len()
            && cfg.has(Mutant::ChecksumOnLastLineOnly)
        {
            if let Ok(l) = parse_audit_line(n, raw.strip_suffix(b"\r").unwrap_or(raw)) {
                parsed = Ok(l);
            }
        }
        let line = match parsed {
            Ok(l) => {
                if let Some(e) = watch.note(line_start as u64, Ok(())) {
                    return Err(RecoverError::Corrupt(e));
                }
                l
            }
            Err(e) if cfg.has(Mutant::CutDamagedMiddle) => {
                out.torn_tail = Some(TornTail {
                    line: e.line(),
                    offset: line_start,
                });
                out.valid_len = line_start;
                cut_early = true;
                break;
            }
            Err(e) => {
                // Whether more whole lines follow decides what it is: read on, apply nothing.
                watch.note(line_start as u64, Err(&e));
                continue;
            }
        };
        reached = reached.max(Some(line.seq));
        if let Some(c) = covered {
            if first && line.seq > c.seq + 1 {
                return Err(RecoverError::Snapshot(format!(
                    "the journal starts at seq {} but the snapshot ends at seq {}: lines are missing between them",
                    line.seq, c.seq
                )));
            }
            first = false;
            if line.seq < c.seq {
                continue;
            }
            if line.seq == c.seq {
                if LastLine::of(&line) != c {
                    return Err(RecoverError::Snapshot(format!(
                        "journal line {n} (seq {}) is not the line the snapshot ends with: the snapshot is from another journal",
                        line.seq
                    )));
                }
                continue;
            }
        } else if first && line.seq != 0 {
            return Err(RecoverError::Snapshot(format!(
                "the journal starts at seq {}: the snapshot that covers the lines before it is needed",
                line.seq
            )));
        }
        first = false;
        replay.apply(n, &line)?;
        out.lines += 1;
    }
    if !cut_early {
        match watch.end() {
            LogEnd::Whole => {}
            LogEnd::Torn { line, offset } => {
                out.torn_tail = Some(TornTail {
                    line,
                    offset: offset as usize,
                });
                out.valid_len = offset as usize;
            }
            LogEnd::Damaged(d) => match on_damage {
                OnDamage::Stop => return Err(RecoverError::Damaged(d)),
                OnDamage::Cut => {
                    out.valid_len = d.offset as usize;
                    out.damaged = Some(d);
                }
            },
        }
    }
    // A journal that stops before the snapshot's last line lost lines the snapshot holds (an
    // empty one is a journal started afresh after the snapshot).
    if let (Some(c), Some(reached)) = (covered, reached) {
        if reached < c.seq {
            return Err(RecoverError::Snapshot(format!(
                "the snapshot ends at seq {} but the journal only reaches seq {reached}",
                c.seq
            )));
        }
    }
    Ok(out)
}

/// What a restart rebuilt and what it does next.
#[derive(Debug)]
pub struct Recovery {
    pub router: Router,
    pub scan: JournalScan,
    /// Each intent that was open, with its state in the journal and what the restart does.
    pub resumed: Vec<(IntentId, State, Resume)>,
}

impl Router {
    /// Rebuilds a router from a replay (a snapshot's, or empty) and the journal's bytes since,
    /// at `now`, and resumes every open intent (see the module documentation). `funding` is what
    /// the router was given from outside (starting balances and deposits): the journal records
    /// only what the router itself did with it.
    pub fn recover(
        config: RouterConfig,
        funding: Portfolio,
        replay: Replay,
        journal: &[u8],
        now: TimeMs,
    ) -> Result<Recovery, RecoverError> {
        Router::recover_with(config, funding, replay, journal, now, OnDamage::Stop)
    }

    /// [`Router::recover`], with damage at the journal's end cut off if `on_damage` says so.
    pub fn recover_with(
        config: RouterConfig,
        funding: Portfolio,
        mut replay: Replay,
        journal: &[u8],
        now: TimeMs,
        on_damage: OnDamage,
    ) -> Result<Recovery, RecoverError> {
        let scan = scan_with(&mut replay, journal, &config, on_damage)?;
        let router = Router::resume(config, funding, replay, now)?;
        let (router, resumed) = router;
        Ok(Recovery {
            router,
            scan,
            resumed,
        })
    }

    /// A router from a finished replay: balances rebuilt, reservations held again, every open
    /// intent resumed.
    #[allow(clippy::type_complexity)]
    pub fn resume(
        config: RouterConfig,
        funding: Portfolio,
        replay: Replay,
        now: TimeMs,
    ) -> Result<(Router, Vec<(IntentId, State, Resume)>), RecoverError> {
        let mut portfolio = funding;
        for (asset, delta) in &replay.booked {
            portfolio
                .rebook(asset, *delta)
                .map_err(RecoverError::Balances)?;
        }
        let hold = !config.has(Mutant::ReleaseInFlightOnRestart);
        let forget = config.has(Mutant::ForgetFinishedOnRestart);
        let mut router = Router::new(config, Portfolio::new())?;
        router.portfolio = portfolio;
        let next = replay.next_seq();
        router.out.seq = next;
        router.out.durable = next;
        router.out.handed = next;
        router.out.last_now = now.min(limits::MAX_TIME_MS);
        router.out.stats = replay.stats;
        router.out.edges = replay.edges;
        router.out.booked = replay.booked;
        // A snapshot taken before the next line must still name the journal's last one.
        router.out.last = replay.last;
        if !forget {
            router.finished = replay.finished;
        }
        let mut resumed = Vec::new();
        for o in replay.open.into_iter().flatten() {
            let reservation = match (&o.reserved, hold) {
                (Some((asset, amount)), true) if !amount.is_zero() => Some(
                    router
                        .portfolio
                        .reserve(asset, *amount)
                        .map_err(RecoverError::Balances)?,
                ),
                _ => None,
            };
            let id = o.intent.intent_id().clone();
            let state = o.state;
            let rules = router.config.rules(o.intent.symbol());
            let serial = router.next_key;
            router.next_key += 1;
            let fp = fingerprint(&id);
            let active = Active::recovered(o, rules, reservation, fp).map_err(|source| {
                RecoverError::Grid {
                    intent: id.to_string(),
                    source,
                }
            })?;
            let key = router.active.insert(serial, active);
            router.in_flight.insert(fp, key);
            let mut action = Resume::Wait;
            router.with_active(key, now, |a, cx| action = a.resume(cx));
            resumed.push((id, state, action));
        }
        Ok((router, resumed))
    }
}

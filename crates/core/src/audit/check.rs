//! Validation of an audit log against the transition table and the completeness rules.

use rustc_hash::FxHashMap as HashMap;
use std::collections::hash_map::Entry;

use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::line::{AuditLine, Detail};
use super::problem::{Problem, ProblemKind};
use super::read::{ReadError, Record};
use crate::model::fnv1a64;
use crate::router::{is_legal, Finished, State};

/// The router settings a log was written under, for the checks that need them (attempt count,
/// exact backoff schedule, whether a remainder could still be placed). Without a policy the
/// checker runs the checks any log allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub max_retries: u32,
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    /// The smallest notional an order may have: the larger of the router's and the market's.
    pub min_notional: Decimal,
    /// Per symbol (`BASE/QUOTE`), where a market's own rule differs.
    pub min_notional_by_symbol: Vec<(String, Decimal)>,
    /// The retry backoff's jitter and its seed (`router::backoff_jitter`).
    pub backoff_jitter_bps: u32,
    pub backoff_seed: u64,
}

impl Policy {
    /// The policy of a router configuration.
    pub fn of(cfg: &crate::router::RouterConfig) -> Policy {
        Policy {
            max_retries: cfg.max_retries,
            backoff_ms: cfg.backoff_ms,
            backoff_max_ms: cfg.backoff_max_ms,
            min_notional: cfg.min_notional.max(cfg.default_rules.min_notional),
            min_notional_by_symbol: cfg
                .markets
                .iter()
                .map(|(s, r)| (s.to_string(), cfg.min_notional.max(r.min_notional)))
                .collect(),
            backoff_jitter_bps: cfg.backoff_jitter_bps,
            backoff_seed: cfg.backoff_seed,
        }
    }

    fn min_notional(&self, symbol: Option<&str>) -> Decimal {
        symbol
            .and_then(|s| self.min_notional_by_symbol.iter().find(|(m, _)| m == s))
            .map_or(self.min_notional, |(_, n)| *n)
    }

    /// The backoff before attempt `next` (2 or later), before jitter.
    pub fn backoff(&self, next: u32) -> u64 {
        let shift = next.saturating_sub(2).min(62);
        self.backoff_ms
            .saturating_mul(1u64 << shift)
            .min(self.backoff_max_ms)
    }

    /// The backoff before attempt `next` of `intent_id`, jitter included.
    pub fn backoff_of(&self, intent_id: &str, next: u32) -> u64 {
        crate::router::backoff_jitter(
            self.backoff(next),
            self.backoff_jitter_bps,
            self.backoff_seed,
            intent_id,
            next,
        )
    }
}

#[derive(Debug)]
struct Track {
    id: String,
    /// Order of first appearance, so reports are deterministic.
    first: u64,
    state: State,
    qty: Option<Decimal>,
    /// Client order id of the latest `SENT` (when `sent`); the buffer outlives the intent.
    sent_coid: String,
    sent: bool,
    /// Latest cumulative fill per client order id (by its 64-bit hash: an intent has a few);
    /// their sum is the intent's fill.
    fills: SmallVec<[(u64, Decimal); 2]>,
    filled: Decimal,
    overfill_reported: bool,
    /// Retry bookkeeping: see [`Attempts`].
    attempts: Attempts,
    /// A cancel intent found it live (`cancelled`): it may stop without using its retries,
    /// and must place nothing more.
    cancelled: bool,
}

/// What the retry and cap checks remember of one intent.
#[derive(Debug, Clone, Copy, Default)]
struct Attempts {
    /// From `RESERVED`: the cap and the quantity on the lot grid.
    cap: Option<Decimal>,
    reserved_qty: Option<Decimal>,
    /// The smallest notional the intent's market allows (with a policy).
    min_notional: Option<Decimal>,
    /// From `NEW`: whether it buys (`None` when the line did not say).
    buy: Option<bool>,
    /// The latest attempt number sent (0 before the first).
    last: u32,
    /// The quantity of the latest `SENT`.
    sent_qty: Option<Decimal>,
    /// The pending `RETRY`: (next attempt, backoff, its t_ms).
    retry: Option<(u32, u64, u64)>,
    /// The previous `RETRY`'s backoff.
    last_backoff: Option<u64>,
    /// A restart came between the pending `RETRY` and its attempt: the attempt may be late.
    restarted: bool,
}

impl Track {
    /// A track for a new intent, reusing a finished one's buffers when there is one.
    fn new(
        spare: &mut Vec<Track>,
        id: &str,
        first: u64,
        state: State,
        qty: Option<Decimal>,
    ) -> Track {
        let mut t = spare.pop().unwrap_or_else(|| Track {
            id: String::new(),
            first,
            state,
            qty,
            sent_coid: String::new(),
            sent: false,
            fills: SmallVec::new(),
            filled: Decimal::ZERO,
            overfill_reported: false,
            attempts: Attempts::default(),
            cancelled: false,
        });
        t.id.clear();
        t.id.push_str(id);
        t.first = first;
        t.state = state;
        t.qty = qty;
        t.sent = false;
        t.fills.clear();
        t.filled = Decimal::ZERO;
        t.overfill_reported = false;
        t.attempts = Attempts::default();
        t.cancelled = false;
        t
    }

    fn sent_coid(&self) -> Option<&str> {
        self.sent.then_some(self.sent_coid.as_str())
    }

    fn set_sent_coid(&mut self, coid: Option<&str>) {
        self.sent = coid.is_some();
        self.sent_coid.clear();
        self.sent_coid.push_str(coid.unwrap_or_default());
    }
}

/// What the checker reads of a line: borrowed, so checking the router's own lines allocates
/// nothing per line.
#[derive(Debug, Clone, Copy)]
pub struct LineView<'a> {
    pub line: usize,
    pub seq: u64,
    pub t_ms: u64,
    pub intent_id: &'a str,
    pub state: State,
    pub is_event: bool,
    /// The `recovered` event: the router restarted here, so timing may stretch.
    pub recovered: bool,
    pub qty: Option<Decimal>,
    pub client_order_id: Option<&'a str>,
    pub filled_qty: Option<Decimal>,
    /// `symbol` and `side` of a `NEW` line.
    pub symbol: Option<&'a str>,
    pub side: Option<&'a str>,
    /// `reserved_price` of `RESERVED`, `limit_price` of `SENT`.
    pub price: Option<Decimal>,
    /// `reserved_qty` of `RESERVED`, `qty` of `SENT`.
    pub order_qty: Option<Decimal>,
    /// `attempt` of `SENT` and `RETRY`, `attempts` of `FAILED_FINAL`.
    pub attempt: Option<u32>,
    /// `backoff_ms` of `RETRY`.
    pub backoff_ms: Option<u64>,
    /// `next_ms` and `cause` of the `query_pending` and `trades_pending` events.
    pub next_ms: Option<u64>,
    pub cause: Option<&'a str>,
    /// `target` and `outcome` of a cancel intent's `DONE` line.
    pub target: Option<&'a str>,
    pub outcome: Option<&'a str>,
}

impl<'a> From<&'a Record> for LineView<'a> {
    fn from(r: &'a Record) -> Self {
        LineView {
            line: r.line,
            seq: r.seq,
            t_ms: r.t_ms,
            intent_id: &r.intent_id,
            state: r.state,
            is_event: r.event.is_some(),
            recovered: r.event.as_deref() == Some("recovered"),
            qty: r.qty,
            client_order_id: r.client_order_id.as_deref(),
            filled_qty: r.filled_qty,
            symbol: r.symbol.as_deref(),
            side: r.side.as_deref(),
            price: r.price,
            order_qty: r.order_qty,
            attempt: r.attempt,
            backoff_ms: r.backoff_ms,
            next_ms: r.next_ms,
            cause: r.cause.as_deref(),
            target: r.target.as_deref(),
            outcome: r.outcome.as_deref(),
        }
    }
}

impl<'a> From<&'a AuditLine> for LineView<'a> {
    fn from(l: &'a AuditLine) -> Self {
        let mut v = LineView {
            line: 0,
            seq: l.seq,
            t_ms: l.t_ms,
            intent_id: l.intent_id.as_str(),
            state: l.state,
            is_event: l.detail.event().is_some(),
            recovered: matches!(l.detail, Detail::Recovered),
            qty: None,
            client_order_id: None,
            filled_qty: None,
            symbol: None,
            side: None,
            price: None,
            order_qty: None,
            attempt: None,
            backoff_ms: None,
            next_ms: None,
            cause: None,
            target: None,
            outcome: None,
        };
        match &l.detail {
            Detail::New {
                qty, symbol, side, ..
            } if l.state == State::New => {
                v.qty = Some(*qty);
                v.symbol = Some(symbol.as_str());
                v.side = Some(side.as_str());
            }
            Detail::Reserved {
                reserved_qty,
                reserved_price,
                ..
            } => {
                v.order_qty = Some(*reserved_qty);
                v.price = Some(*reserved_price);
            }
            Detail::Sent {
                client_order_id,
                attempt,
                qty,
                limit_price,
                ..
            } => {
                v.client_order_id = Some(client_order_id.as_str());
                v.attempt = Some(*attempt);
                v.order_qty = Some(*qty);
                v.price = Some(*limit_price);
            }
            Detail::QueryPending {
                client_order_id,
                cause,
                next_ms,
            } => {
                v.client_order_id = Some(client_order_id.as_str());
                v.cause = Some(cause);
                v.next_ms = Some(*next_ms);
            }
            Detail::TradesPending { cause, next_ms } | Detail::Held { cause, next_ms } => {
                v.cause = Some(cause);
                v.next_ms = Some(*next_ms);
            }
            Detail::Error {
                client_order_id, ..
            }
            | Detail::Unknown {
                client_order_id, ..
            }
            | Detail::CancelRequested { client_order_id } => {
                v.client_order_id = Some(client_order_id.as_str());
            }
            Detail::Order {
                client_order_id,
                filled_qty,
                ..
            } => {
                let fill = matches!(l.state, State::Filled | State::Partial | State::Canceled);
                v.client_order_id = Some(client_order_id.as_str());
                v.filled_qty = fill.then_some(*filled_qty);
            }
            Detail::Retry {
                attempt,
                backoff_ms,
                ..
            } => {
                v.attempt = Some(*attempt);
                v.backoff_ms = Some(*backoff_ms);
            }
            Detail::FailedFinal { attempts, .. } => v.attempt = Some(*attempts),
            Detail::CancelIntent { target, outcome } => {
                v.target = Some(target.as_str());
                v.outcome = Some(outcome);
            }
            // Events of the user data stream name their order; only transitions report fills.
            Detail::StreamUpdate {
                client_order_id, ..
            }
            | Detail::StaleReportIgnored {
                client_order_id, ..
            } => {
                v.client_order_id = Some(client_order_id.as_str());
            }
            _ => {}
        }
        v
    }
}

/// The cap, attempt-numbering, backoff and fill-report rules for one transition line of `t`
/// (still in its previous state).
fn attempt_rules(
    t: &mut Track,
    r: &LineView<'_>,
    policy: Option<&Policy>,
    found: &mut Vec<ProblemKind>,
) {
    let a = &mut t.attempts;
    match r.state {
        State::Reserved => {
            a.cap = r.price;
            a.reserved_qty = r.order_qty;
        }
        State::Sent => {
            if t.cancelled && t.state != State::Unknown {
                found.push(ProblemKind::PlacedAfterCancel);
            }
            if let (Some(limit), Some(cap)) = (r.price, a.cap) {
                if limit != cap {
                    let beyond = match a.buy {
                        Some(true) => limit > cap,
                        Some(false) => limit < cap,
                        None => false,
                    };
                    found.push(ProblemKind::LimitNotCap { limit, cap, beyond });
                }
            }
            let expected = match t.state {
                State::Unknown => a.last,
                State::Retry => a.retry.map_or(a.last + 1, |(n, _, _)| n),
                _ => a.last + 1,
            };
            if let Some(got) = r.attempt {
                if got != expected {
                    found.push(ProblemKind::AttemptOutOfOrder {
                        what: "SENT",
                        expected,
                        got,
                    });
                }
                if let Some(p) = policy {
                    if got > p.max_retries.saturating_add(1) {
                        found.push(ProblemKind::TooManyAttempts {
                            attempt: got,
                            max_retries: p.max_retries,
                        });
                    }
                }
                a.last = got;
            } else {
                a.last = expected;
            }
            if let (State::Retry, Some((_, backoff, at))) = (t.state, a.retry.take()) {
                let due = at.saturating_add(backoff);
                let exact = policy.is_some() && !std::mem::take(&mut a.restarted);
                if r.t_ms < due || (exact && r.t_ms != due) {
                    found.push(ProblemKind::RetryTiming {
                        due,
                        got: r.t_ms,
                        exact,
                    });
                }
            }
            a.sent_qty = r.order_qty;
        }
        State::Retry => {
            let expected = a.last + 1;
            let next = r.attempt.unwrap_or(expected);
            if next != expected {
                found.push(ProblemKind::AttemptOutOfOrder {
                    what: "RETRY",
                    expected,
                    got: next,
                });
            }
            if let Some(b) = r.backoff_ms {
                match (policy, a.last_backoff) {
                    (Some(p), _) if b != p.backoff_of(&t.id, next) => {
                        found.push(ProblemKind::BackoffOffSchedule {
                            expected: format!("{} ms", p.backoff_of(&t.id, next)),
                            got: b,
                        });
                    }
                    (None, Some(prev)) if b < prev || b > prev.saturating_mul(2) => {
                        found.push(ProblemKind::BackoffOffSchedule {
                            expected: format!("{prev} to {} ms", prev.saturating_mul(2)),
                            got: b,
                        });
                    }
                    _ => {}
                }
                a.last_backoff = Some(b);
                a.retry = Some((next, b, r.t_ms));
            }
        }
        State::Filled | State::Partial | State::Canceled => {
            let (Some(filled), Some(coid)) = (r.filled_qty, r.client_order_id) else {
                return;
            };
            let key = fnv1a64(coid.as_bytes());
            let before = t
                .fills
                .iter()
                .find(|(c, _)| *c == key)
                .map_or(Decimal::ZERO, |(_, f)| *f);
            let whole = a.sent_qty.is_some_and(|q| filled == q);
            let report = match r.state {
                State::Filled => a
                    .sent_qty
                    .filter(|q| filled != *q)
                    .map(|qty| ProblemKind::FilledShort { filled, qty }),
                // A report of a new fill is PARTIAL (or FILLED once whole); CANCELED ends an
                // order with what was reported before, or, for one already PARTIAL, with what
                // it filled since.
                State::Partial if whole || filled <= before => Some(ProblemKind::FillMisreported {
                    state: r.state,
                    filled,
                    before,
                }),
                State::Canceled if whole || (filled > before && t.state != State::Partial) => {
                    Some(ProblemKind::FillMisreported {
                        state: r.state,
                        filled,
                        before,
                    })
                }
                _ => None,
            };
            found.extend(report);
        }
        State::FailedFinal | State::PartialSuccess => {
            if matches!(t.state, State::Reserved | State::Retry) && !t.cancelled {
                found.push(ProblemKind::StoppedWithoutCancel { from: t.state });
            }
            if r.state == State::FailedFinal {
                if let Some(got) = r.attempt.filter(|&n| n != a.last) {
                    found.push(ProblemKind::AttemptOutOfOrder {
                        what: "FAILED_FINAL",
                        expected: a.last,
                        got,
                    });
                }
            }
            // Only an attempt that ended may end the intent; the table says which states.
            if let (Some(p), Some(qty), Some(cap), Some(min)) =
                (policy, a.reserved_qty, a.cap, a.min_notional)
            {
                let remaining = qty - t.filled;
                let placeable = remaining > Decimal::ZERO
                    && remaining.checked_mul(cap).is_some_and(|n| n >= min);
                if a.last <= p.max_retries && placeable && !t.cancelled {
                    found.push(ProblemKind::StoppedEarly {
                        terminal: r.state,
                        attempts: a.last,
                        remaining,
                    });
                }
            }
        }
        _ => {}
    }
}

/// Checks lines one at a time (amortised O(1) each); [`Checker::finish`] adds the
/// end-of-log rules. Intents that reached a terminal state shrink to that state.
#[derive(Debug, Default)]
pub struct Checker {
    // Keyed by a 64-bit hash of the intent id; lookups only, never iterated for output.
    live: HashMap<u64, Track>,
    /// Tracks of finished intents, kept for their buffers (a few: one per intent in flight).
    spare: Vec<Track>,
    done: Finished,
    intents: u64,
    last_seq: Option<u64>,
    last_t: u64,
    problems: Vec<Problem>,
    policy: Option<Policy>,
}

impl Checker {
    pub fn new() -> Self {
        Checker {
            live: HashMap::with_capacity_and_hasher(64, Default::default()),
            ..Self::default()
        }
    }

    /// A checker that also holds the log to the router settings it was written under.
    pub fn with_policy(policy: Policy) -> Self {
        Checker {
            policy: Some(policy),
            ..Checker::new()
        }
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    pub fn unreadable(&mut self, e: ReadError) {
        self.problems.push(Problem {
            line: e.line(),
            intent_id: None,
            kind: ProblemKind::Unreadable(e),
        });
    }

    pub fn observe(&mut self, r: &Record) {
        self.observe_view(LineView::from(r));
    }

    /// A line as the router emitted it.
    pub fn observe_line(&mut self, l: &AuditLine) {
        self.observe_view(LineView::from(l));
    }

    pub fn observe_view(&mut self, r: LineView<'_>) {
        let report = |kind| Problem {
            line: r.line,
            intent_id: Some(r.intent_id.to_string()),
            kind,
        };
        if let Some(prev) = self.last_seq {
            if r.seq <= prev {
                self.problems
                    .push(report(ProblemKind::SeqNotIncreasing { prev, got: r.seq }));
            }
        }
        if r.t_ms < self.last_t {
            self.problems.push(report(ProblemKind::TimeWentBack {
                prev: self.last_t,
                got: r.t_ms,
            }));
        }
        self.last_seq = Some(r.seq);
        self.last_t = self.last_t.max(r.t_ms);

        let key = fnv1a64(r.intent_id.as_bytes());
        // A cancel intent's one line: judged against its target before it is tracked.
        if r.state == State::Done
            && !r.is_event
            && !self.live.contains_key(&key)
            && self.done.get(key).is_none()
        {
            self.cancel_outcome(&r);
        }
        // One lookup for a live intent: the common case.
        let t = match self.live.entry(key) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(slot) => match self.done.get(key) {
                None => {
                    // An intent's first line.
                    if !is_legal(None, r.state) || r.is_event {
                        self.problems.push(report(ProblemKind::IllegalTransition {
                            from: None,
                            to: r.state,
                        }));
                    }
                    self.intents += 1;
                    let mut t =
                        Track::new(&mut self.spare, r.intent_id, self.intents, r.state, r.qty);
                    if let Some(p) = &self.policy {
                        t.attempts.min_notional = Some(p.min_notional(r.symbol));
                    }
                    t.attempts.buy = r.side.map(|s| s == "buy");
                    // Kept whole while live; a terminal one shrinks to its state.
                    if t.state.is_terminal() {
                        self.done.insert(key, t.state);
                        self.spare.push(t);
                    } else {
                        slot.insert(t);
                    }
                    return;
                }
                Some(current) if r.is_event => {
                    if r.state != current {
                        self.problems.push(report(ProblemKind::EventStateMismatch {
                            current,
                            got: r.state,
                        }));
                    }
                    return;
                }
                Some(current) => {
                    // A line after the end brings the intent back to life, so one bad line is
                    // one problem.
                    self.done.remove(key);
                    slot.insert(Track::new(
                        &mut self.spare,
                        r.intent_id,
                        self.intents,
                        current,
                        None,
                    ))
                }
            },
        };
        if r.recovered {
            t.attempts.restarted = true;
        }
        if r.is_event {
            if r.state != t.state {
                self.problems.push(report(ProblemKind::EventStateMismatch {
                    current: t.state,
                    got: r.state,
                }));
            }
            // A placement held back by the venue's rate limits goes out when the hold ends: a
            // pending retry is due then instead.
            // It goes out no sooner than the line says (later, when it has to wait again).
            if let (Some("rate_limit" | "order_limit"), Some(next)) = (r.cause, r.next_ms) {
                if let Some((_, backoff, at)) = t.attempts.retry.as_mut() {
                    *backoff = next.saturating_sub(*at).max(*backoff);
                }
                t.attempts.restarted = true;
                return;
            }
            // Asking again waits a backoff (not the receive window's end, which has its own).
            if let (Some(p), Some(next)) = (&self.policy, r.next_ms) {
                let (low, high) = (
                    p.backoff_ms.max(1).min(p.backoff_max_ms.max(1)),
                    p.backoff_max_ms.max(1),
                );
                let wait = next.saturating_sub(r.t_ms);
                let paced = !matches!(
                    r.cause,
                    Some("not_found_within_recv_window" | "booking_refused")
                );
                if paced && (wait < low || wait > high) {
                    self.problems.push(report(ProblemKind::BackoffOffSchedule {
                        expected: format!("{low} to {high} ms before asking again"),
                        got: wait,
                    }));
                }
            }
            return;
        }
        let mut found: Vec<ProblemKind> = Vec::new();
        if is_legal(Some(t.state), r.state) {
            if t.state == State::Unknown
                && r.state == State::Sent
                && t.sent
                && r.client_order_id != t.sent_coid()
            {
                found.push(ProblemKind::ResentWhileUnknown {
                    was: t.sent_coid.clone(),
                    got: r.client_order_id.map(str::to_string),
                });
            }
        } else {
            found.push(ProblemKind::IllegalTransition {
                from: Some(t.state),
                to: r.state,
            });
        }
        attempt_rules(t, &r, self.policy.as_ref(), &mut found);
        t.state = r.state;
        if r.state == State::Sent && t.sent_coid() != r.client_order_id {
            t.set_sent_coid(r.client_order_id);
        }
        if let (Some(coid), Some(f)) = (r.client_order_id, r.filled_qty) {
            let coid = fnv1a64(coid.as_bytes());
            let prev = match t.fills.iter_mut().find(|(c, _)| *c == coid) {
                Some((_, v)) => std::mem::replace(v, f),
                None => {
                    t.fills.push((coid, f));
                    Decimal::ZERO
                }
            };
            t.filled = t.filled - prev + f;
            if let Some(q) = t.qty {
                if t.filled > q && !t.overfill_reported {
                    t.overfill_reported = true;
                    found.push(ProblemKind::Overfilled {
                        filled: t.filled,
                        qty: q,
                    });
                }
            }
        }
        let terminal = t.state.is_terminal().then_some(t.state);
        if t.state.is_terminal() && t.state != State::Reconciled && t.filled > Decimal::ZERO {
            found.push(ProblemKind::FillsNotReconciled { terminal: t.state });
        }
        self.problems.extend(found.into_iter().map(report));
        // A finished intent shrinks to its state.
        if let Some(state) = terminal {
            if let Some(t) = self.live.remove(&key) {
                self.spare.push(t);
            }
            self.done.insert(key, state);
        }
    }

    /// A cancel intent's `DONE` line: its outcome must agree with what the log says of the
    /// target so far; a target found live is marked cancelled.
    fn cancel_outcome(&mut self, r: &LineView<'_>) {
        let Some(target) = r.target else {
            return;
        };
        let key = fnv1a64(target.as_bytes());
        let live = self.live.get_mut(&key);
        let known = self.done.get(key).is_some();
        let agrees = match r.outcome {
            Some("cancelled") => live.is_some_and(|t| {
                t.cancelled = true;
                true
            }),
            Some("already_final") => known || self.live.contains_key(&key),
            Some("unknown_target") => !known && !self.live.contains_key(&key),
            _ => false,
        };
        if !agrees {
            self.problems.push(Problem {
                line: r.line,
                intent_id: Some(r.intent_id.to_string()),
                kind: ProblemKind::CancelOutcomeWrong {
                    target: target.to_string(),
                    outcome: r.outcome.unwrap_or_default().to_string(),
                },
            });
        }
    }

    /// Intents still in flight at the end of the log are reported here, in order of their
    /// first line.
    pub fn finish(mut self) -> Vec<Problem> {
        let mut live: Vec<Track> = self.live.into_values().collect();
        live.sort_by_key(|t| t.first);
        for t in live {
            self.problems.push(Problem {
                line: 0,
                intent_id: Some(t.id),
                kind: ProblemKind::NotTerminal { state: t.state },
            });
        }
        self.problems
    }

    /// Number of distinct intents seen.
    pub fn intents(&self) -> usize {
        self.intents as usize
    }

    /// Whether the log ended this intent already (it reached a terminal state).
    pub fn finished(&self, intent_id: &str) -> bool {
        self.done.get(fnv1a64(intent_id.as_bytes())).is_some()
    }

    /// How many intents the log ended.
    pub fn finished_count(&self) -> usize {
        self.done.len()
    }

    /// The terminal state the log gave an intent that ended.
    pub fn finished_state(&self, intent_id: &str) -> Option<State> {
        self.done.get(fnv1a64(intent_id.as_bytes()))
    }
}

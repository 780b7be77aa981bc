//! Validation of an audit log against the transition table and the completeness rules.

use rustc_hash::FxHashMap as HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::line::{AuditLine, Detail};
use super::read::{ReadError, Record};
use crate::model::fnv1a64;
use crate::router::{is_legal, Finished, State};

/// What is wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The line could not be read at all.
    Unreadable(ReadError),
    /// `seq` did not increase.
    SeqNotIncreasing { prev: u64, got: u64 },
    /// `t_ms` went backwards.
    TimeWentBack { prev: u64, got: u64 },
    /// A transition the table does not allow (`from` is `None` at an intent's first line).
    IllegalTransition { from: Option<State>, to: State },
    /// `UNKNOWN -> SENT` under another client order id: a blind re-placement, not a found order.
    ResentWhileUnknown { was: String, got: Option<String> },
    /// An event line claimed a state the intent is not in.
    EventStateMismatch { current: State, got: State },
    /// Fills were reported but the intent ended without `RECONCILED`.
    FillsNotReconciled { terminal: State },
    /// The orders of an intent filled more than its quantity.
    Overfilled { filled: Decimal, qty: Decimal },
    /// At the end of the log the intent is not in a terminal state.
    NotTerminal { state: State },
}

/// One problem, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, or 0 for problems of the log as a whole.
    pub line: usize,
    pub intent_id: Option<String>,
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        if let Some(id) = &self.intent_id {
            write!(f, "intent {id}: ")?;
        }
        match &self.kind {
            ProblemKind::Unreadable(e) => write!(f, "{e}"),
            ProblemKind::SeqNotIncreasing { prev, got } => {
                write!(f, "seq {got} does not follow {prev}")
            }
            ProblemKind::TimeWentBack { prev, got } => {
                write!(f, "t_ms {got} is before the previous line's {prev}")
            }
            ProblemKind::IllegalTransition { from: None, to } => {
                write!(f, "first line is {to}, expected NEW")
            }
            ProblemKind::IllegalTransition { from: Some(a), to } => {
                write!(f, "illegal transition {a} -> {to}")
            }
            ProblemKind::ResentWhileUnknown { was, got } => write!(
                f,
                "UNKNOWN -> SENT under client_order_id {} while {was} is unresolved",
                got.as_deref().unwrap_or("(none)")
            ),
            ProblemKind::EventStateMismatch { current, got } => {
                write!(f, "event line says {got} but the intent is {current}")
            }
            ProblemKind::FillsNotReconciled { terminal } => {
                write!(
                    f,
                    "ended in {terminal} although orders filled; expected RECONCILED"
                )
            }
            ProblemKind::Overfilled { filled, qty } => {
                write!(
                    f,
                    "orders filled {filled}, more than the intent's qty {qty}"
                )
            }
            ProblemKind::NotTerminal { state } => {
                write!(
                    f,
                    "log ends with the intent in {state}, not a terminal state"
                )
            }
        }
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
    pub qty: Option<Decimal>,
    pub client_order_id: Option<&'a str>,
    pub filled_qty: Option<Decimal>,
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
            qty: r.qty,
            client_order_id: r.client_order_id.as_deref(),
            filled_qty: r.filled_qty,
        }
    }
}

impl<'a> From<&'a AuditLine> for LineView<'a> {
    fn from(l: &'a AuditLine) -> Self {
        let (qty, client_order_id, filled_qty) = match &l.detail {
            Detail::New { qty, .. } if l.state == State::New => (Some(*qty), None, None),
            Detail::Sent {
                client_order_id, ..
            }
            | Detail::Error {
                client_order_id, ..
            }
            | Detail::Unknown {
                client_order_id, ..
            }
            | Detail::QueryPending {
                client_order_id, ..
            }
            | Detail::CancelRequested { client_order_id } => {
                (None, Some(client_order_id.as_str()), None)
            }
            Detail::Order {
                client_order_id,
                filled_qty,
                ..
            } => {
                let fill = matches!(l.state, State::Filled | State::Partial | State::Canceled);
                (
                    None,
                    Some(client_order_id.as_str()),
                    fill.then_some(*filled_qty),
                )
            }
            _ => (None, None, None),
        };
        LineView {
            line: 0,
            seq: l.seq,
            t_ms: l.t_ms,
            intent_id: l.intent_id.as_str(),
            state: l.state,
            is_event: l.detail.event().is_some(),
            qty,
            client_order_id,
            filled_qty,
        }
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
}

impl Checker {
    pub fn new() -> Self {
        Checker {
            live: HashMap::with_capacity_and_hasher(64, Default::default()),
            ..Self::default()
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
        // One lookup for a live intent: the common case.
        let t = match self.live.entry(key) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(slot) => match self.done.get(key) {
                None => {
                    // An intent's first line.
                    if r.state != State::New || r.is_event {
                        self.problems.push(report(ProblemKind::IllegalTransition {
                            from: None,
                            to: r.state,
                        }));
                    }
                    self.intents += 1;
                    let t = Track::new(&mut self.spare, r.intent_id, self.intents, r.state, r.qty);
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
        if r.is_event {
            if r.state != t.state {
                self.problems.push(report(ProblemKind::EventStateMismatch {
                    current: t.state,
                    got: r.state,
                }));
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
}

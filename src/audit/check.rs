//! Validation of an audit log against the transition table and the completeness rules.

use std::collections::HashMap;
use std::fmt;

use rust_decimal::Decimal;

use super::read::{ReadError, Record};
use crate::router::{is_legal, State};

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
    state: State,
    qty: Option<Decimal>,
    /// Client order id of the latest `SENT`.
    sent_coid: Option<String>,
    /// Latest cumulative fill per client order id; their sum is the intent's fill.
    fills: Vec<(String, Decimal)>,
    filled: Decimal,
    overfill_reported: bool,
}

/// Checks records one at a time (amortised O(1) each); [`Checker::finish`] adds the
/// end-of-log rules.
#[derive(Debug, Default)]
pub struct Checker {
    index: HashMap<String, usize>,
    // First-seen order, so reports are deterministic.
    tracks: Vec<Track>,
    last_seq: Option<u64>,
    last_t: u64,
    problems: Vec<Problem>,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
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
        let report = |kind| Problem {
            line: r.line,
            intent_id: Some(r.intent_id.clone()),
            kind,
        };
        let mut found = Vec::new();
        if let Some(prev) = self.last_seq {
            if r.seq <= prev {
                found.push(report(ProblemKind::SeqNotIncreasing { prev, got: r.seq }));
            }
        }
        if r.t_ms < self.last_t {
            found.push(report(ProblemKind::TimeWentBack {
                prev: self.last_t,
                got: r.t_ms,
            }));
        }
        self.last_seq = Some(r.seq);
        self.last_t = self.last_t.max(r.t_ms);

        match self.index.get(&r.intent_id) {
            None => {
                if r.state != State::New || r.event.is_some() {
                    found.push(report(ProblemKind::IllegalTransition {
                        from: None,
                        to: r.state,
                    }));
                }
                self.index.insert(r.intent_id.clone(), self.tracks.len());
                self.tracks.push(Track {
                    id: r.intent_id.clone(),
                    state: r.state,
                    qty: r.qty,
                    sent_coid: None,
                    fills: Vec::new(),
                    filled: Decimal::ZERO,
                    overfill_reported: false,
                });
            }
            Some(&i) => {
                let t = &mut self.tracks[i];
                if r.event.is_some() {
                    if r.state != t.state {
                        found.push(report(ProblemKind::EventStateMismatch {
                            current: t.state,
                            got: r.state,
                        }));
                    }
                } else if is_legal(Some(t.state), r.state) {
                    if t.state == State::Unknown
                        && r.state == State::Sent
                        && t.sent_coid.is_some()
                        && r.client_order_id != t.sent_coid
                    {
                        found.push(report(ProblemKind::ResentWhileUnknown {
                            was: t.sent_coid.clone().unwrap_or_default(),
                            got: r.client_order_id.clone(),
                        }));
                    }
                    t.state = r.state;
                } else {
                    found.push(report(ProblemKind::IllegalTransition {
                        from: Some(t.state),
                        to: r.state,
                    }));
                    // Follow the log anyway so one bad line yields one problem.
                    t.state = r.state;
                }
                if r.state == State::Sent && r.event.is_none() {
                    t.sent_coid.clone_from(&r.client_order_id);
                }
                if let (Some(coid), Some(f)) = (&r.client_order_id, r.filled_qty) {
                    let prev = match t.fills.iter_mut().find(|(c, _)| c == coid) {
                        Some((_, v)) => std::mem::replace(v, f),
                        None => {
                            t.fills.push((coid.clone(), f));
                            Decimal::ZERO
                        }
                    };
                    t.filled = t.filled - prev + f;
                    if let Some(q) = t.qty {
                        if t.filled > q && !t.overfill_reported {
                            t.overfill_reported = true;
                            found.push(report(ProblemKind::Overfilled {
                                filled: t.filled,
                                qty: q,
                            }));
                        }
                    }
                }
                if t.state.is_terminal()
                    && t.state != State::Reconciled
                    && t.filled > Decimal::ZERO
                    && r.event.is_none()
                {
                    found.push(report(ProblemKind::FillsNotReconciled {
                        terminal: t.state,
                    }));
                }
            }
        }
        self.problems.extend(found);
    }

    /// Intents still in flight at the end of the log are reported here.
    pub fn finish(mut self) -> Vec<Problem> {
        for t in &self.tracks {
            if !t.state.is_terminal() {
                self.problems.push(Problem {
                    line: 0,
                    intent_id: Some(t.id.clone()),
                    kind: ProblemKind::NotTerminal { state: t.state },
                });
            }
        }
        self.problems
    }

    /// Number of distinct intents seen.
    pub fn intents(&self) -> usize {
        self.tracks.len()
    }
}

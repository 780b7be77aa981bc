//! What is wrong with a log: each problem's kind, the check it belongs to, and its one-line
//! description with the line and intent it was found at.

use std::fmt;

use rust_decimal::Decimal;

use super::read::ReadError;
use crate::router::State;

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
    /// An attempt's limit price is not the cap the intent reserved at (`beyond`: on the side
    /// where it can fill worse than the cap).
    LimitNotCap {
        limit: Decimal,
        cap: Decimal,
        beyond: bool,
    },
    /// Attempts are not numbered 1, 2, 3... (`what` says which line broke the count).
    AttemptOutOfOrder {
        what: &'static str,
        expected: u32,
        got: u32,
    },
    /// A backoff that does not follow the schedule: with a policy, `backoff_ms * 2^(k-1)`
    /// capped; without one, each backoff at least the previous one and at most twice it.
    BackoffOffSchedule { expected: String, got: u64 },
    /// The next attempt went out at another time than its backoff said.
    RetryTiming { due: u64, got: u64, exact: bool },
    /// More attempts than `max_retries` allows.
    TooManyAttempts { attempt: u32, max_retries: u32 },
    /// The intent stopped although retries were left and the remainder could be placed.
    StoppedEarly {
        terminal: State,
        attempts: u32,
        remaining: Decimal,
    },
    /// A new attempt after a cancel intent found the intent live and cancelled it.
    PlacedAfterCancel,
    /// An intent that waited (`RESERVED` or `RETRY`) ended without a cancel intent naming it.
    StoppedWithoutCancel { from: State },
    /// A cancel intent's outcome the log before it contradicts (`cancelled` of an intent not
    /// live, `unknown_target` of one seen, `already_final` of one never seen).
    CancelOutcomeWrong { target: String, outcome: String },
    /// `FILLED` with less than the attempt's quantity: a partial fill taken for a whole one.
    FilledShort { filled: Decimal, qty: Decimal },
    /// A `PARTIAL` that reports no new fill (or a whole one), or a `CANCELED` that reports a
    /// fill not reported before (or a whole one).
    FillMisreported {
        state: State,
        filled: Decimal,
        before: Decimal,
    },
}

impl ProblemKind {
    /// The name of the check this problem breaks, as the simulator reports it.
    pub fn check(&self) -> &'static str {
        match self {
            ProblemKind::LimitNotCap { beyond: true, .. } => "slippage_cap",
            ProblemKind::LimitNotCap { .. } => "limit_at_cap",
            ProblemKind::AttemptOutOfOrder { .. }
            | ProblemKind::BackoffOffSchedule { .. }
            | ProblemKind::RetryTiming { .. }
            | ProblemKind::TooManyAttempts { .. }
            | ProblemKind::StoppedEarly { .. } => "retry_policy",
            ProblemKind::FilledShort { .. } | ProblemKind::FillMisreported { .. } => "order_truth",
            ProblemKind::PlacedAfterCancel
            | ProblemKind::StoppedWithoutCancel { .. }
            | ProblemKind::CancelOutcomeWrong { .. } => "cancel_honoured",
            _ => "audit_complete",
        }
    }
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
        // A read error names its line itself.
        if self.line > 0 && !matches!(self.kind, ProblemKind::Unreadable(_)) {
            write!(f, "line {}: ", self.line)?;
        }
        if let Some(id) = &self.intent_id {
            write!(f, "intent {id}: ")?;
        }
        match &self.kind {
            ProblemKind::Unreadable(e) => write!(f, "{e}"),
            ProblemKind::SeqNotIncreasing { prev, got } => {
                write!(f, "seq {got} is not above the previous line's seq {prev}")
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
            ProblemKind::LimitNotCap { limit, cap, .. } => {
                write!(f, "attempt placed at {limit}, not at the cap {cap}")
            }
            ProblemKind::AttemptOutOfOrder {
                what,
                expected,
                got,
            } => write!(f, "{what} says attempt {got}, expected {expected}"),
            ProblemKind::BackoffOffSchedule { expected, got } => {
                write!(f, "backoff {got} ms, expected {expected}")
            }
            ProblemKind::RetryTiming { due, got, exact } => {
                let rule = if *exact { "at" } else { "no earlier than" };
                write!(
                    f,
                    "next attempt sent at t_ms {got}, expected {rule} {due} (after its backoff)"
                )
            }
            ProblemKind::TooManyAttempts {
                attempt,
                max_retries,
            } => write!(
                f,
                "attempt {attempt} is beyond max_retries {max_retries} (at most {} attempts)",
                max_retries.saturating_add(1)
            ),
            ProblemKind::StoppedEarly {
                terminal,
                attempts,
                remaining,
            } => write!(
                f,
                "ended {terminal} after {attempts} attempts with {remaining} still placeable and retries left"
            ),
            ProblemKind::PlacedAfterCancel => {
                write!(f, "a new attempt after a cancel intent cancelled the intent")
            }
            ProblemKind::StoppedWithoutCancel { from } => {
                write!(f, "ended from {from} although no cancel intent named it")
            }
            ProblemKind::CancelOutcomeWrong { target, outcome } => write!(
                f,
                "cancel of {target} says `{outcome}`, which the log before it contradicts"
            ),
            ProblemKind::FilledShort { filled, qty } => {
                write!(f, "FILLED with {filled} of the attempt's {qty}")
            }
            ProblemKind::FillMisreported {
                state,
                filled,
                before,
            } => write!(
                f,
                "{state} reports {filled} filled after {before}: a new fill is PARTIAL, a whole one FILLED"
            ),
        }
    }
}

//! What the router hands its driver through [`super::Router::poll_output`], and the contract
//! errors it answers a driver's broken promise with.

use rust_decimal::Decimal;

use super::{Command, State};
use crate::audit::AuditLine;
use crate::model::{Asset, IntentId, TimeMs};

/// One output of the router, in the order the write-ahead rule needs: audit lines first, then
/// the typed events they describe, then the commands whose lines were reported durable.
#[derive(Debug)]
pub enum Output<'a> {
    /// An audit line to append to the journal.
    Line(AuditLine),
    /// Audit lines the router wrote as JSONL itself ([`super::Router::write_audit_jsonl`]):
    /// `lines` whole lines, each ending in a newline, the last one `last_seq`. The bytes are
    /// the router's until the next call that can make a line.
    Jsonl {
        bytes: &'a [u8],
        lines: u64,
        last_seq: u64,
    },
    /// What happened to an intent, typed, when asked for ([`super::Router::emit_events`]).
    Event(Event),
    /// A command for the venue: every line written before it is durable.
    Command(Command),
}

/// What happened, for a bot that would otherwise parse audit lines. Each follows the audit
/// line that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A transition of the state table; `from` is `None` for an intent's start (`NEW`).
    IntentStateChanged {
        intent_id: IntentId,
        from: Option<State>,
        to: State,
    },
    /// The intent's trades were fetched and booked (once per intent, at `RECONCILED`): the
    /// venue's amounts summed over its `fills` trades, and how each asset's total moved.
    FillBooked {
        intent_id: IntentId,
        fills: u32,
        qty: Decimal,
        avg_price: Decimal,
        /// The fees charged in `fee_asset` (as on `RECONCILED`); `booked` has every asset's move.
        fee: Decimal,
        fee_asset: Option<Asset>,
        booked: Box<[(Asset, Decimal)]>,
    },
    /// The intent reached a terminal state: exactly once per intent and router process.
    IntentFinished { intent_id: IntentId, state: State },
}

/// A call that broke the driver's side of the contract. The router never panics on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// `now` was earlier than the last `now`; the router went on at `last` instead.
    #[error("time went backwards: {now} ms after {last} ms (the router went on at {last} ms)")]
    TimeWentBackwards { now: TimeMs, last: TimeMs },
    /// `journal_durable(seq)` of a line not handed out yet; nothing was released.
    #[error("journal_durable({seq}): that line was not handed out yet (the next is {next})")]
    NotEmitted { seq: u64, next: u64 },
}

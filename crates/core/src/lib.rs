//! # order-router-core
//!
//! The sans-IO core of order-router: everything a bot needs to execute intents safely, and
//! nothing that does I/O on its own (the file journal aside, which a driver chooses to use).
//!
//! ```text
//! Decision -> Intent -> OrderRouter (FSM) -> Reconcile -> Position
//! ```
//!
//! * [`decision`]: signals, guards and risk become an immutable [`Intent`] with a
//!   deterministic id.
//! * [`bus`]: at-least-once delivery of intents; duplicates are normal.
//! * [`router`]: the only place that places orders. A sans-IO state machine per intent,
//!   idempotent by `intent_id`, that reserves before it sends, never abandons an order whose
//!   outcome is unknown, retries with backoff, and reconciles fills.
//! * [`grid`]: quantities and prices as checked integers on a market's lot and tick grid, the
//!   router's own arithmetic.
//! * [`portfolio`]: balances and reservations that can never go negative.
//! * [`exchange`]: the unified order and trade types a venue answers with.
//! * [`audit`]: the JSONL audit trail, its reader and its checker.
//! * [`driver`]: the write-ahead step every drive loop shares.
//! * [`journal`]: the audit log on disk, synced before the commands it describes go out, and
//!   the lock that keeps it to one process.
//! * [`input`]: the bounds every reader of a user's file shares.

pub mod audit;
pub mod bus;
pub mod decision;
pub mod driver;
pub mod exchange;
pub mod grid;
pub mod input;
pub mod journal;
pub mod model;
pub mod portfolio;
pub mod router;

pub use decision::Intent;

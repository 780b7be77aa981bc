//! What a run reports: its counts, its first violation, the expectations that failed.

use std::collections::BTreeMap;

use crate::faults::KINDS;
use crate::invariants::{Violation, COVERAGE};
use rust_decimal::Decimal;

use crate::model::{Asset, TimeMs};
use crate::router::State;

/// What a run did and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub seed: u64,
    pub steps: u64,
    pub end_ms: TimeMs,
    /// The first broken invariant, or a livelock (`invariant` is [`LIVELOCK`]).
    pub violation: Option<Violation>,
    /// Expectations that did not hold, one line each.
    pub failed_expects: Vec<FailedExpect>,
    pub expects: usize,
    /// Intents by final state, in state order.
    pub final_states: BTreeMap<State, u64>,
    pub intents: u64,
    pub deliveries: u64,
    pub duplicates_ignored: u64,
    pub signals_vetoed: u64,
    pub orders: u64,
    pub fills: u64,
    pub retries: u64,
    /// Placements whose outcome became unknown, and how many a query resolved.
    pub unknown_outcomes: u64,
    pub unknown_resolved: u64,
    /// Faults injected per kind, in the order of [`KINDS`].
    pub faults: [u64; KINDS.len()],
    pub checks: u64,
    /// The audit log, from [`run`] (empty from [`run_with`], which streams it).
    pub audit: Vec<u8>,
    pub audit_lines: u64,
    pub audit_bytes: u64,
    /// How often each edge of the transition table was taken: `edges[from][to]`, where `from`
    /// is 0 for an intent's start and `1 + State::index()` otherwise.
    pub edges: [[u64; 13]; 14],
    /// How often the run reached each situation of [`COVERAGE`], in that order.
    pub coverage: [u64; COVERAGE.len()],
    /// Batches made durable (with [`RunOptions::durable_audit`]).
    pub syncs: u64,
    /// Times the router was rebuilt from its journal after a crash.
    pub restarts: u64,
    /// The router's books at the end, in asset order: each asset's total and its dust, the
    /// part of a base asset below one lot step of its market (what fees in the base leave
    /// behind and no sell can take).
    pub balances: Vec<Balance>,
    /// Intents the lockstep model predicted, and those it abstained on (`model_agrees`).
    pub model: crate::oracle::OracleStats,
    /// The model disagreed with the router no later than the step of the reported violation
    /// (which another check may have reported first).
    pub model_diverged: bool,
}

/// One asset of the router's portfolio at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub asset: Asset,
    pub total: Decimal,
    pub dust: Decimal,
}

/// The name a run that never reaches quiescence is reported under. It is not an invariant of
/// the table: the run was cut off after [`RunOptions::max_steps`] steps.
pub const LIVELOCK: &str = "livelock";

/// An `expect` row that did not hold (line 0: a problem of the run itself, such as its audit
/// sink failing).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedExpect {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for FailedExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        f.write_str(&self.message)
    }
}

impl Report {
    /// Every invariant and every expectation held.
    pub fn passed(&self) -> bool {
        self.violation.is_none() && self.failed_expects.is_empty()
    }
}

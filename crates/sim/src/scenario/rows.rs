//! What a scenario is made of: its timed rows (balances, prices, signals, intents, faults,
//! calm, crashes) and its expectations, as the simulator and the venue read them.

use rust_decimal::Decimal;

use crate::decision::{CancelIntent, Intent};
use crate::model::{Asset, Side, Symbol, TimeMs};
use crate::router::State;

/// A timed row of the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The physical line it was read from.
    pub line: usize,
    pub t_ms: TimeMs,
    pub kind: RowKind,
}

/// What a timed row does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    /// A starting balance of `asset`.
    Balance { asset: Asset, amount: Decimal },
    /// The market's mid price from now on; `spread_bps` default 2, `depth` (qty per price level)
    /// default 1.
    Price {
        symbol: Symbol,
        mid: Decimal,
        spread_bps: Decimal,
        depth: Decimal,
    },
    /// A decision input for the assembler. Without `ref_price` the simulator uses the market mid
    /// at that time. `label` names the resulting intent in `expect` rows.
    Signal {
        symbol: Symbol,
        side: Side,
        ref_price: Option<Decimal>,
        risk_qty: Decimal,
        guards_pass: bool,
        label: Option<String>,
    },
    /// An intent delivered `deliveries` times (default 1), `gap_ms` apart (default 0). `spec`
    /// is what the row said, kept apart from the `Intent` under test for the checks.
    Intent {
        intent: Intent,
        spec: Spec,
        deliveries: u32,
        gap_ms: u64,
    },
    /// A cancel intent delivered `deliveries` times, `gap_ms` apart: stops the intent it names.
    Cancel {
        cancel: CancelIntent,
        deliveries: u32,
        gap_ms: u64,
    },
    /// The next `count` requests (default 1) that `kind` can affect, on `symbol` or any market.
    Fault {
        symbol: Option<Symbol>,
        kind: FaultKind,
        count: u32,
    },
    /// The calm phase begins: no more faults, scheduled or random. Intents first delivered from
    /// now on must execute (the `liveness` check).
    Calm,
    /// The router's process dies after `after` more journal appends (0: now, with every line
    /// durable), leaving its unsynced lines as `mode` says; it restarts `restart_ms` later.
    Crash { after: u64, mode: CrashMode },
}

/// What a crash leaves of the journal lines not yet synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum CrashMode {
    /// All of them reached the disk.
    Written,
    /// None of them did.
    Dropped,
    /// Those before the last did; the last is torn (cut short, or a byte garbled), without its
    /// newline.
    Torn,
}

impl CrashMode {
    pub const ALL: [CrashMode; 3] = [CrashMode::Written, CrashMode::Dropped, CrashMode::Torn];

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<CrashMode> {
        s.parse().ok()
    }
}

/// What a scenario says an intent is: symbol, side, quantity and reference price, as written
/// (normalised). The invariants judge the router by this, not by the `Intent` it was handed,
/// so a bug in the intent type itself cannot hide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub ref_price: Decimal,
}

/// An injected exchange fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum FaultKind {
    /// The request never reaches the exchange.
    RequestLost,
    /// Executed, but the reply is lost: ambiguous.
    ResponseLost,
    /// Status unknown: ambiguous.
    ServerError,
    RateLimited,
    /// The request takes `ms` longer.
    Latency {
        ms: u64,
    },
    /// Placements only: refused.
    Reject,
    /// Placements only: `ratio` of the order's qty fills, the rest expires.
    Partial {
        ratio: Decimal,
    },
    /// Placements only: the market moves `bps` against the order before it matches, and stays.
    Requote {
        bps: Decimal,
    },
    /// Trade queries only: the answer holds one of the order's trades twice.
    TradesRepeat,
    /// Trade queries only: the answer also holds a trade of another order.
    TradesForeign,
    /// Trade queries only: the answer holds only the first part of the order's trades (the rest
    /// is not visible yet); the next answer holds them all.
    TradesSplit,
    /// Trade queries only: the answer holds one trade more than the order filled.
    TradesPhantom,
    /// Order queries and cancels: the answer is another order's report.
    OrderForeign,
    /// Placements only: taken, then refused by the engine; the answer is an order in status
    /// `REJECTED` with nothing executed.
    RejectedStatus,
}

impl FaultKind {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// Whether only order placements can suffer it.
    pub fn placements_only(&self) -> bool {
        matches!(
            self,
            FaultKind::Reject
                | FaultKind::Partial { .. }
                | FaultKind::Requote { .. }
                | FaultKind::RejectedStatus
        )
    }
}

/// An expectation checked at quiescence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub line: usize,
    pub check: Check,
}

/// What an `expect` row checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `id` is an intent row's id, a signal's label, or an assembled intent's id. At least one
    /// of the three checks is given.
    Intent {
        id: String,
        final_state: Option<State>,
        orders: Option<u32>,
        filled_qty: Option<Decimal>,
    },
    /// The portfolio's balance of `asset`.
    Balance { asset: Asset, balance: Decimal },
    /// No reservation is left.
    ReservedZero,
}

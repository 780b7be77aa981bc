//! The scenario's market on the wall clock: its `price`, `balance`, `fault` and `calm` rows
//! take effect when their time since the venue started has come (faster with a `speed`
//! above 1), and the prices that took effect are kept for klines and 24-hour tickers.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::exchange::sim::SimExchange;
use crate::model::{Symbol, TimeMs};
use crate::sim::faults::FaultPlan;
use crate::sim::scenario::{Row, RowKind};

/// Prices kept per symbol for klines and tickers, at most.
const MAX_HISTORY: usize = 1_000_000;

/// The scenario's timed rows, applied as wall-clock time passes.
#[derive(Debug)]
pub struct Timeline {
    rows: Vec<Row>,
    next: usize,
    start_ms: TimeMs,
    speed: u64,
    /// Per symbol: `(time, mid)` of every price that took effect, in time order.
    history: BTreeMap<Symbol, Vec<(TimeMs, Decimal)>>,
    /// Price changes so far: part of the order book's update id.
    pub changes: u64,
}

impl Timeline {
    /// `rows` in time order; only `price`, `balance`, `fault` and `calm` rows act.
    pub fn new(rows: Vec<Row>, start_ms: TimeMs, speed: u64) -> Timeline {
        Timeline {
            rows,
            next: 0,
            start_ms,
            speed: speed.max(1),
            history: BTreeMap::new(),
            changes: 0,
        }
    }

    /// The wall-clock time at which a row of scenario time `t_ms` takes effect.
    fn at(&self, t_ms: TimeMs) -> TimeMs {
        self.start_ms.saturating_add(t_ms / self.speed)
    }

    /// Applies every row whose time has come by `now`.
    pub fn advance(&mut self, now: TimeMs, ex: &mut SimExchange, plan: &mut FaultPlan) {
        while let Some(row) = self.rows.get(self.next) {
            let at = self.at(row.t_ms);
            if at > now {
                break;
            }
            match &row.kind {
                RowKind::Balance { asset, amount } => ex.deposit(asset, *amount),
                RowKind::Price {
                    symbol,
                    mid,
                    spread_bps,
                    depth,
                } => {
                    ex.set_market(now, symbol, *mid, *spread_bps, *depth);
                    self.changes += 1;
                    let h = self.history.entry(symbol.clone()).or_default();
                    if h.len() >= MAX_HISTORY {
                        h.drain(..MAX_HISTORY / 2);
                    }
                    h.push((at, *mid));
                }
                RowKind::Fault {
                    symbol,
                    kind,
                    count,
                } => plan.schedule(symbol.clone(), *kind, *count),
                RowKind::Calm => plan.calm(),
                RowKind::Signal { .. }
                | RowKind::Intent { .. }
                | RowKind::Cancel { .. }
                | RowKind::Crash { .. } => {}
            }
            self.next += 1;
        }
    }

    /// The prices of `symbol` that took effect, oldest first.
    pub fn history(&self, symbol: &Symbol) -> &[(TimeMs, Decimal)] {
        self.history.get(symbol).map_or(&[], |h| h.as_slice())
    }

    /// The mid in force at `t` (the first known one before any).
    pub fn mid_at(&self, symbol: &Symbol, t: TimeMs) -> Option<Decimal> {
        let h = self.history(symbol);
        let i = h.partition_point(|p| p.0 <= t);
        h.get(i.saturating_sub(1)).map(|p| p.1)
    }
}

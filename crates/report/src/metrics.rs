//! The execution-quality numbers of a run, from the folded log.

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::fold::{Fold, IntentFacts};
use crate::model::Side;

/// Slippage of a fill at `avg` against `reference`, in bps; positive is worse for the side.
pub fn slippage_bps(side: Side, avg: Decimal, reference: Decimal) -> Option<f64> {
    if reference.is_zero() {
        return None;
    }
    let d = match side {
        Side::Buy => avg - reference,
        Side::Sell => reference - avg,
    };
    (d / reference * Decimal::from(10_000)).to_f64()
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Everything the metrics table and the distribution charts show.
#[derive(Debug, Default)]
pub struct Metrics {
    pub by_state: BTreeMap<&'static str, u64>,
    pub qty: Decimal,
    pub filled: Decimal,
    /// Per filled intent, sorted.
    pub slip_ref: Vec<f64>,
    pub slip_cap: Vec<f64>,
    /// Milliseconds, sorted.
    pub to_first_reply: Vec<f64>,
    pub to_fill: Vec<f64>,
    pub orders_per_intent: BTreeMap<u32, u64>,
    pub retries_per_intent: BTreeMap<u32, u64>,
    pub orders: u64,
    pub retries: u64,
    /// Fees paid per asset (a buy's in the base, a sell's in the quote, or BNB).
    pub fees: BTreeMap<String, Decimal>,
    pub notional: Decimal,
    /// Marked to the market's last price per symbol, when a market is given.
    pub pnl: Option<Decimal>,
    /// Each asset the run booked, in asset order (filled in with the scenario, when given).
    pub positions: Vec<Position>,
}

/// One asset at the end of the run, as the log's bookings and the scenario's balances say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub asset: String,
    /// How the run's bookings moved it.
    pub booked: Decimal,
    /// Starting balances (the scenario's `balance` rows) plus `booked`; `None` without them.
    pub end: Option<Decimal>,
    /// The part of `end` below one lot step of the market trading it as its base: what a
    /// buy's fee in the base leaves and no sell can take.
    pub dust: Decimal,
}

impl Metrics {
    pub fn of(fold: &Fold, last_price: &BTreeMap<String, Decimal>) -> Metrics {
        let mut m = Metrics::default();
        let (mut slip_ref, mut slip_cap, mut reply, mut fill) = (vec![], vec![], vec![], vec![]);
        let mut pnl = Decimal::ZERO;
        let mut marked = !last_price.is_empty();
        for i in &fold.intents {
            *m.by_state.entry(i.state.as_str()).or_default() += 1;
            m.qty += i.qty;
            m.filled += i.filled;
            m.orders += u64::from(i.orders);
            m.retries += u64::from(i.retries);
            *m.orders_per_intent.entry(i.orders).or_default() += 1;
            *m.retries_per_intent.entry(i.retries).or_default() += 1;
            let quote = || {
                let s = &fold.symbols[i.symbol as usize];
                s.split_once('/').map_or(s.as_str(), |(_, q)| q).to_string()
            };
            let fee_asset = i.fee_asset.clone().unwrap_or_else(quote);
            if !i.fee.is_zero() {
                *m.fees.entry(fee_asset.clone()).or_default() += i.fee;
            }
            if let Some(ms) = i.first_reply_ms {
                reply.push(ms as f64);
            }
            if let Some(t) = i.fill_t {
                fill.push(t.saturating_sub(i.new_t) as f64);
            }
            if let Some(avg) = i.avg_price.filter(|_| !i.filled.is_zero()) {
                m.notional += avg * i.filled;
                slip_ref.extend(slippage_bps(i.side, avg, i.ref_price));
                if let Some(cap) = i.cap {
                    slip_cap.extend(slippage_bps(i.side, avg, cap));
                }
                if marked {
                    let symbol = &fold.symbols[i.symbol as usize];
                    let in_quote = match symbol.split_once('/') {
                        _ if i.fee.is_zero() => Some(Decimal::ZERO),
                        Some((_, q)) if q == fee_asset => Some(i.fee),
                        Some((b, _)) if b == fee_asset => last_price.get(symbol).map(|l| i.fee * l),
                        // A fee in BNB has no price here.
                        _ => None,
                    };
                    match (last_price.get(symbol), in_quote) {
                        (Some(last), Some(fee)) => pnl += mark(i, avg, *last) - fee,
                        _ => marked = false,
                    }
                }
            }
        }
        m.slip_ref = sorted(slip_ref);
        m.slip_cap = sorted(slip_cap);
        m.to_first_reply = sorted(reply);
        m.to_fill = sorted(fill);
        m.pnl = marked.then_some(pnl);
        m.positions = fold
            .booked
            .iter()
            .map(|(asset, booked)| Position {
                asset: asset.clone(),
                booked: *booked,
                ..Position::default()
            })
            .collect();
        m
    }

    pub fn fill_ratio(&self) -> Option<f64> {
        (!self.qty.is_zero()).then(|| (self.filled / self.qty).to_f64().unwrap_or(0.0))
    }

    pub fn intents(&self) -> u64 {
        self.by_state.values().sum()
    }
}

/// What a filled intent made against `last`, before fees.
fn mark(i: &IntentFacts, avg: Decimal, last: Decimal) -> Decimal {
    match i.side {
        Side::Buy => (last - avg) * i.filled,
        Side::Sell => (avg - last) * i.filled,
    }
}

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
    pub fees: Decimal,
    pub notional: Decimal,
    /// Marked to the market's last price per symbol, when a market is given.
    pub pnl: Option<Decimal>,
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
            m.fees += i.fee;
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
                    match last_price.get(&fold.symbols[i.symbol as usize]) {
                        Some(last) => pnl += mark(i, avg, *last),
                        None => marked = false,
                    }
                }
            }
        }
        m.slip_ref = sorted(slip_ref);
        m.slip_cap = sorted(slip_cap);
        m.to_first_reply = sorted(reply);
        m.to_fill = sorted(fill);
        m.pnl = marked.then_some(pnl);
        m
    }

    pub fn fill_ratio(&self) -> Option<f64> {
        (!self.qty.is_zero()).then(|| (self.filled / self.qty).to_f64().unwrap_or(0.0))
    }

    pub fn intents(&self) -> u64 {
        self.by_state.values().sum()
    }
}

/// What a filled intent made against `last`, fees paid in the quote asset.
fn mark(i: &IntentFacts, avg: Decimal, last: Decimal) -> Decimal {
    let gain = match i.side {
        Side::Buy => (last - avg) * i.filled,
        Side::Sell => (avg - last) * i.filled,
    };
    gain - i.fee
}

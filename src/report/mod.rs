//! The run report: one self-contained HTML page from an audit log (simulated, live or
//! recovered), with charts of the execution and its quality metrics.
//!
//! * [`fold`]: one pass over the log: per-intent facts, the checker's problems, compact events.
//! * [`metrics`]: fill ratio, slippage, latencies, unknown outcomes, fees, P&L.
//! * [`charts`]: the charts, drawn by `plotters` as SVG, aggregated so a million intents stay
//!   a page of a few megabytes.
//! * [`html`]: the page.

pub mod charts;
pub mod fold;
pub mod html;
pub mod metrics;

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::model::{Symbol, TimeMs};
use crate::sim::market::Tick;
use crate::sim::scenario::{RowKind, Scenario};
use fold::Fold;
use metrics::Metrics;

/// Why no report could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("not an audit log: its lines are not JSON objects with seq, t_ms, intent_id and state ({0})")]
    NotALog(String),
    #[error("--market: {0}")]
    Market(String),
}

/// What a report is made from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The log's name, shown on the page.
    pub name: &'a str,
    pub audit: &'a [u8],
    /// A recorded market for one symbol (its times relative to the run's start, as `run
    /// --market` replays it).
    pub market: Option<(&'a Symbol, &'a [Tick])>,
    /// The scenario the run replayed: its price rows are the price path.
    pub scenario: Option<&'a Scenario>,
}

/// The page for `inputs`.
pub fn build(inputs: Inputs<'_>) -> Result<String, ReportError> {
    render(Fold::of(inputs.audit), inputs)
}

/// The page for a log already folded (streamed from a file, say); `inputs.audit` is unused.
pub fn render(fold: Fold, inputs: Inputs<'_>) -> Result<String, ReportError> {
    if fold.lines > 0 && fold.intents.is_empty() && fold.bad * 2 >= fold.lines.min(100) {
        return Err(ReportError::NotALog(
            fold.unreadable.first().cloned().unwrap_or_default(),
        ));
    }
    if fold.bad_early * 2 > fold.lines.min(100) {
        return Err(ReportError::NotALog(
            fold.unreadable.first().cloned().unwrap_or_default(),
        ));
    }
    let mut paths: BTreeMap<String, Vec<(TimeMs, f64)>> = BTreeMap::new();
    if let Some(s) = inputs.scenario {
        for r in &s.rows {
            if let RowKind::Price { symbol, mid, .. } = &r.kind {
                paths
                    .entry(symbol.as_str().to_string())
                    .or_default()
                    .push((r.t_ms, mid.to_f64().unwrap_or(0.0)));
            }
        }
    }
    if let Some((symbol, ticks)) = inputs.market {
        let (Some(first), Some(last)) = (ticks.first(), ticks.last()) else {
            return Err(ReportError::Market("the market file has no prices".into()));
        };
        // The market must be known from the run's start to its last order.
        if let Some(t0) = fold.t_min {
            let last_order = fold.sent.iter().map(|m| m.t).max().unwrap_or(t0);
            if first.t_ms > t0 || last.t_ms < last_order {
                return Err(ReportError::Market(format!(
                    "it covers t {}..{} ms, but the run places orders from t {t0} to t {last_order} ms: not this run's market",
                    first.t_ms, last.t_ms
                )));
            }
        }
        paths.insert(
            symbol.as_str().to_string(),
            ticks
                .iter()
                .map(|t| (t.t_ms, t.mid.to_f64().unwrap_or(0.0)))
                .collect(),
        );
    }
    let last_price: BTreeMap<String, Decimal> = paths
        .iter()
        .filter_map(|(s, p)| {
            let last = p.iter().rev().find(|x| x.0 <= fold.t_max).or(p.first())?;
            Some((s.clone(), Decimal::from_f64_retain(last.1)?))
        })
        .collect();
    let m = Metrics::of(&fold, &last_price);

    // The symbols with the most orders first; at most three price charts.
    let mut by_orders: Vec<(u16, usize)> = (0..fold.symbols.len() as u16)
        .map(|s| (s, fold.sent.iter().filter(|x| x.symbol == s).count()))
        .collect();
    by_orders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut charts = Vec::new();
    for (s, _) in by_orders.into_iter().take(3) {
        let name = &fold.symbols[s as usize];
        let path = paths.get(name).cloned().unwrap_or_default();
        let source = if inputs.market.is_some_and(|(m, _)| m.as_str() == name) {
            "the market file"
        } else if path.is_empty() {
            "no market given: only the router's own prices"
        } else {
            "the scenario's price rows"
        };
        charts.push((
            format!("price-{}", name.replace('/', "")),
            format!("Price of {name} ({source}); triangles: orders at their limit, dots: fills at their average price, crosses: unknown outcomes."),
            charts::price(&fold, s, &path),
        ));
    }
    charts.push((
        "states".to_string(),
        "How many intents were in each phase of the state machine over time (one bar per intent when there are few).".to_string(),
        charts::states(&fold),
    ));
    charts.push((
        "slippage-cap".to_string(),
        "Slippage of each filled intent's average price against its cap, in basis points (0 or below: inside the cap, as the router guarantees).".to_string(),
        charts::histogram("Slippage against the cap", "bps (positive: worse than the cap)", &m.slip_cap),
    ));
    charts.push((
        "slippage-ref".to_string(),
        "Slippage against the intent's reference price, in basis points.".to_string(),
        charts::histogram(
            "Slippage against the intent's price",
            "bps (positive: worse)",
            &m.slip_ref,
        ),
    ));
    charts.push((
        "first-reply".to_string(),
        "Time from an intent's first order to the venue's first answer about it.".to_string(),
        charts::histogram("Time to first reply", "ms", &m.to_first_reply),
    ));
    charts.push((
        "time-to-fill".to_string(),
        "Time from an intent's acceptance to its first fill.".to_string(),
        charts::histogram("Time to fill", "ms", &m.to_fill),
    ));
    charts.push((
        "orders".to_string(),
        "Orders placed per intent (1: the first attempt did it).".to_string(),
        charts::counts("Orders per intent", "orders", &m.orders_per_intent),
    ));
    charts.push((
        "retries".to_string(),
        "Retries per intent.".to_string(),
        charts::counts("Retries per intent", "retries", &m.retries_per_intent),
    ));
    charts.push((
        "faults".to_string(),
        "What the router met over time: timeouts and server errors (unknown outcomes), rate limits, refusals.".to_string(),
        charts::trouble(&fold),
    ));
    charts.push((
        "reserved".to_string(),
        "Budget held in reservations over time, per asset.".to_string(),
        charts::reserved(&fold),
    ));
    Ok(html::page(inputs.name, &fold, &m, &charts))
}

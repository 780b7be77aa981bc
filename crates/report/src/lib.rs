//! The run report: one self-contained HTML page from an audit log (simulated, live or
//! recovered), with charts of the execution and its quality metrics.
//!
//! * [`fold`]: one pass over the log: per-intent facts, the checker's problems, compact events.
//! * [`metrics`]: fill ratio, slippage, latencies, unknown outcomes, fees, P&L.
//! * [`charts`]: the charts, drawn by `plotters` as SVG, aggregated so a million intents stay
//!   a page of a few megabytes.
//! * [`html`]: the page.

// The core's and the harness's modules, under the names the report has always used.
use order_router_core::{audit, input, model, router};
use order_router_sim as sim;

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

/// A recorded market as the report uses it: its time span, at most `2 * BUCKETS` points of its
/// path (each bucket's first and last), and its price at the run's end. Built from the whole
/// path in memory ([`MarketPath::of`]), or from a file read twice, one record at a time
/// ([`MarketPath::stream`]): the same path gives the same page either way.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketPath {
    first_ms: TimeMs,
    last_ms: TimeMs,
    points: Vec<(TimeMs, f64)>,
    /// The last price at or before the run's end (else the first).
    end_price: f64,
}

impl MarketPath {
    /// From the whole path; `until` is the run's last time.
    pub fn of(ticks: &[Tick], until: TimeMs) -> Option<MarketPath> {
        let count = ticks.len();
        Self::stream(count, ticks.iter().map(|t| Ok::<_, ()>(*t)), until)
            .ok()
            .flatten()
    }

    /// From `count` ticks read in order (a first pass counted them), keeping only what the page
    /// draws; `None` for an empty path.
    pub fn stream<E>(
        count: usize,
        ticks: impl Iterator<Item = Result<Tick, E>>,
        until: TimeMs,
    ) -> Result<Option<MarketPath>, E> {
        // The chunks of `charts::downsample`: the first and last tick of each.
        let step = if count <= charts::BUCKETS * 2 {
            1
        } else {
            count.div_ceil(charts::BUCKETS)
        };
        let mut path: Option<MarketPath> = None;
        for (n, t) in ticks.enumerate() {
            let t = t?;
            let point = (t.t_ms, t.mid.to_f64().unwrap_or(0.0));
            let p = path.get_or_insert(MarketPath {
                first_ms: t.t_ms,
                last_ms: t.t_ms,
                points: Vec::with_capacity(charts::BUCKETS * 2 + 1),
                end_price: point.1,
            });
            p.last_ms = t.t_ms;
            if t.t_ms <= until {
                p.end_price = point.1;
            }
            // Each chunk's first and last tick; a last chunk cut short ends with the last tick.
            let at = n % step;
            if at == 0 || at == step - 1 || n + 1 == count {
                p.points.push(point);
            }
        }
        Ok(path)
    }
}

/// The page for `inputs`.
pub fn build(inputs: Inputs<'_>) -> Result<String, ReportError> {
    render(Fold::of(inputs.audit), inputs)
}

/// The page for a log already folded (streamed from a file, say); `inputs.audit` is unused.
pub fn render(fold: Fold, inputs: Inputs<'_>) -> Result<String, ReportError> {
    let until = fold.t_max;
    let market = match inputs.market {
        Some((symbol, ticks)) => Some((
            symbol,
            MarketPath::of(ticks, until)
                .ok_or_else(|| ReportError::Market("the market file has no prices".into()))?,
        )),
        None => None,
    };
    render_with(fold, inputs, market.as_ref().map(|(s, p)| (*s, p)))
}

/// [`render`] with the market already reduced to what the page draws; `inputs.market` is
/// unused.
pub fn render_with(
    fold: Fold,
    inputs: Inputs<'_>,
    market: Option<(&Symbol, &MarketPath)>,
) -> Result<String, ReportError> {
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
    let mut market_end: Option<(String, f64)> = None;
    if let Some((symbol, m)) = market {
        // The market must be known from the run's start to its last order.
        if let Some(t0) = fold.t_min {
            let last_order = fold.sent.iter().map(|m| m.t).max().unwrap_or(t0);
            if m.first_ms > t0 || m.last_ms < last_order {
                return Err(ReportError::Market(format!(
                    "it covers t {}..{} ms, but the run places orders from t {t0} to t {last_order} ms: not this run's market",
                    m.first_ms, m.last_ms
                )));
            }
        }
        paths.insert(symbol.as_str().to_string(), m.points.clone());
        market_end = Some((symbol.as_str().to_string(), m.end_price));
    }
    let last_price: BTreeMap<String, Decimal> = paths
        .iter()
        .filter_map(|(s, p)| {
            let last = match &market_end {
                Some((m, end)) if m == s => *end,
                _ => p.iter().rev().find(|x| x.0 <= fold.t_max).or(p.first())?.1,
            };
            Some((s.clone(), Decimal::from_f64_retain(last)?))
        })
        .collect();
    let mut m = Metrics::of(&fold, &last_price);
    if let Some(s) = inputs.scenario {
        positions_from(&mut m, s);
    }

    // The symbols with the most orders first; at most three price charts.
    let mut by_orders: Vec<(u16, usize)> = (0..fold.symbols.len() as u16)
        .map(|s| (s, fold.sent.iter().filter(|x| x.symbol == s).count()))
        .collect();
    by_orders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut charts = Vec::new();
    for (s, _) in by_orders.into_iter().take(3) {
        let name = &fold.symbols[s as usize];
        let path = paths.get(name).cloned().unwrap_or_default();
        let source = if market.is_some_and(|(m, _)| m.as_str() == name) {
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

/// The end balance of each booked asset (the scenario's `balance` rows plus what the run
/// booked) and its dust below one lot of the market trading it as its base.
fn positions_from(m: &mut Metrics, s: &Scenario) {
    for p in &mut m.positions {
        let start: Decimal = s
            .rows
            .iter()
            .filter_map(|r| match &r.kind {
                RowKind::Balance { asset, amount } if asset.as_str() == p.asset => Some(*amount),
                _ => None,
            })
            .sum();
        let end = start + p.booked;
        p.end = Some(end);
        let step = s
            .rows
            .iter()
            .find_map(|r| match &r.kind {
                RowKind::Price { symbol, .. } if symbol.base().as_str() == p.asset => Some(symbol),
                _ => None,
            })
            .map(|sym| {
                s.venue
                    .markets
                    .get(sym)
                    .map_or(s.venue.default_rules.step_size, |r| r.step_size)
            });
        if let Some(lots) = step.and_then(|st| crate::model::floor_to(end, st)) {
            p.dust = end - lots;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_market_keeps_what_the_chart_draws_of_the_whole_path() {
        for n in [
            1usize, 2, 3, 799, 800, 801, 802, 1000, 1201, 1234, 4001, 100_003,
        ] {
            let ticks: Vec<Tick> = (0..n)
                .map(|i| Tick {
                    t_ms: i as u64 * 10,
                    mid: Decimal::from(1000 + (i * 7919 % 113) as i64),
                    spread_bps: None,
                })
                .collect();
            let until = (n as u64 * 10) / 2;
            let m = MarketPath::of(&ticks, until).unwrap();
            let full: Vec<(TimeMs, f64)> = ticks
                .iter()
                .map(|t| (t.t_ms, t.mid.to_f64().unwrap()))
                .collect();
            assert_eq!(m.points, charts::downsample(&full), "{n} ticks");
            assert_eq!(
                charts::downsample(&m.points),
                m.points,
                "{n}: drawn as kept"
            );
            assert_eq!((m.first_ms, m.last_ms), (0, (n as u64 - 1) * 10));
            let end = full.iter().rev().find(|x| x.0 <= until).unwrap_or(&full[0]);
            assert_eq!(m.end_price, end.1, "{n}");
        }
        assert_eq!(MarketPath::of(&[], 0), None);
    }
}

//! Long market histories: a day-long trade tape grown from a short recording, and the
//! replay of any tape with the router in the loop, streamed in constant memory.
//!
//! A recorded tape of a minute says little about a day. [`synthesize`] grows one by
//! resampling the recording in blocks (a block bootstrap): each block keeps the recorded
//! spacing of trades, their quantities and the tick-by-tick price moves, played up or down at
//! random so the day has no drift of its own. [`replay_rows`] turns any tape, read one record
//! at a time ([`super::market::Records`]), into simulator rows: the tape's price changes, and
//! one intent every `every_ms` at the tape's current price.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::market::Record;
use super::scenario::{Row, RowKind, Scenario, ScenarioError};
use super::workload::{balance, intent_row, with_light_mix};
use crate::exchange::sim::VenueConfig;
use crate::model::{IntentId, Side, Symbol, TimeMs};
use crate::router::{MarketRules, RouterConfig};

/// Trades per resampled block: long enough to keep the recording's short-range structure
/// (bursts, bid-ask bounce), short enough that a day mixes thousands of them.
const BLOCK: usize = 64;

/// The longest tape [`synthesize`] writes: a week.
pub const MAX_HOURS: u64 = 24 * 7;

/// The most trades a tape grows to unless the user confirms a larger one: a busy day of
/// Binance BTC/USDT is a few million.
pub const MAX_TRADES: u64 = 50_000_000;

/// The most bytes a tape grows to unless the user confirms a larger one: 2 GiB.
pub const MAX_BYTES: u64 = 2 << 30;

/// What [`synthesize`] would write, known before writing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub trades: u64,
    pub bytes: u64,
}

impl Estimate {
    /// Whether the tape is beyond [`MAX_TRADES`] or [`MAX_BYTES`].
    pub fn is_large(self) -> bool {
        self.trades > MAX_TRADES || self.bytes > MAX_BYTES
    }
}

/// The size of a tape of `hours` grown from `recorded`: the trades per millisecond of the
/// resampled blocks (each start equally likely, as [`synthesize`] draws them) over the hours,
/// times the length of a line. `None` when the recording spans no time (then [`synthesize`]
/// refuses it anyway).
pub fn estimate(recorded: &[Record], hours: u64) -> Option<Estimate> {
    let first = recorded.first()?;
    // Prefix sums of the gaps between trades: every block's span in one subtraction.
    let mut at = vec![0u128];
    for w in recorded.windows(2) {
        let last = at.last().copied().unwrap_or(0);
        at.push(last + u128::from(w[1].ts.saturating_sub(w[0].ts)));
    }
    let steps = at.len() - 1;
    let (mut count, mut ms) = (0u128, 0u128);
    for from in 0..steps {
        let end = (from + BLOCK).min(steps);
        count += (end - from) as u128;
        ms += at[end] - at[from];
    }
    if ms == 0 {
        return None;
    }
    let span = u128::from(hours.min(MAX_HOURS) * 3_600_000);
    let trades = u64::try_from(span * count / ms + 1).unwrap_or(u64::MAX);
    let digits = |n: u64| u64::from(n.checked_ilog10().unwrap_or(0) + 1);
    let widest = |f: &dyn Fn(&Record) -> usize| recorded.iter().map(f).max().unwrap_or(0) as u64;
    let price = widest(&|r| r.tick.mid.normalize().to_string().len());
    let qty = widest(&|r| r.qty.map_or(1, |q| q.to_string().len()));
    // trade_id,time_ms,price,qty,is_buyer_maker and four commas and a newline.
    let line = digits(trades) + digits(first.ts.saturating_add(span as u64)) + price + qty + 5 + 5;
    Some(Estimate {
        trades,
        bytes: trades.saturating_mul(line),
    })
}

/// What [`synthesize`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grown {
    pub trades: u64,
    /// Market time covered, first trade to last.
    pub span_ms: TimeMs,
    /// The recording's price grid (`10^-places`).
    pub places: u32,
    pub low: i64,
    pub high: i64,
}

/// Why a tape cannot be grown.
#[derive(Debug, thiserror::Error)]
pub enum GrowError {
    #[error("{0}")]
    Input(#[from] ScenarioError),
    #[error(
        "{file}: a trade tape needs a quantity column (qty or amount) and at least two trades"
    )]
    NotTrades { file: String },
    #[error("{file}: prices have more than 18 decimal places")]
    TooFine { file: String },
    #[error("{file}: every trade has the same time, so the recording spans no time to resample")]
    NoTime { file: String },
    #[error("writing the tape: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes a trade tape of `hours` of market time, grown from `recorded` (a trade recording,
/// whole in memory: it is short), as CSV `trade_id,time_ms,price,qty,is_buyer_maker`. The
/// same `recorded` and `seed` give the same bytes.
pub fn synthesize(
    file: &str,
    recorded: &[Record],
    hours: u64,
    seed: u64,
    out: &mut dyn Write,
) -> Result<Grown, GrowError> {
    let not_trades = || GrowError::NotTrades {
        file: file.to_string(),
    };
    if recorded.len() < 2 || recorded.iter().any(|r| r.qty.is_none()) {
        return Err(not_trades());
    }
    let places = recorded
        .iter()
        .map(|r| r.tick.mid.normalize().scale())
        .max()
        .unwrap_or(0);
    if places > 18 {
        return Err(GrowError::TooFine {
            file: file.to_string(),
        });
    }
    let unit = Decimal::from_i128_with_scale(10i128.pow(places), 0);
    let ticks = |d: Decimal| -> Option<i64> {
        use rust_decimal::prelude::ToPrimitive;
        d.checked_mul(unit)?.to_i64()
    };
    // The recording as steps: time since the previous trade, price move in ticks, quantity.
    let mut steps: Vec<(TimeMs, i64, Decimal)> = Vec::with_capacity(recorded.len() - 1);
    for w in recorded.windows(2) {
        let (Some(a), Some(b)) = (ticks(w[0].tick.mid), ticks(w[1].tick.mid)) else {
            return Err(GrowError::TooFine {
                file: file.to_string(),
            });
        };
        let qty = w[1].qty.ok_or_else(not_trades)?;
        steps.push((w[1].ts - w[0].ts, b - a, qty));
    }
    if steps.iter().all(|s| s.0 == 0) {
        return Err(GrowError::NoTime {
            file: file.to_string(),
        });
    }
    let first = recorded[0];
    let start = ticks(first.tick.mid).ok_or_else(not_trades)?;
    let span = hours.min(MAX_HOURS) * 3_600_000;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut grown = Grown {
        trades: 0,
        span_ms: 0,
        places,
        low: start,
        high: start,
    };
    let mut line = Vec::with_capacity(96);
    out.write_all(b"trade_id,time_ms,price,qty,is_buyer_maker\n")?;
    let (mut t, mut price) = (first.ts, start);
    let mut emit = |t: TimeMs, price: i64, qty: Decimal, up: bool, g: &mut Grown| {
        g.trades += 1;
        line.clear();
        let _ = write!(line, "{},{t},", g.trades);
        write_ticks(&mut line, price, places);
        let _ = writeln!(line, ",{qty},{}", !up);
        out.write_all(&line)
    };
    emit(
        t,
        price,
        first.qty.unwrap_or(Decimal::ONE),
        true,
        &mut grown,
    )?;
    while t - first.ts < span {
        let from = rng.random_range(0..steps.len());
        let sign = if rng.random_bool(0.5) { 1 } else { -1 };
        for &(dt, dp, qty) in steps[from..].iter().take(BLOCK) {
            t += dt;
            // A move that would take the price to zero or below goes the other way.
            let moved = price + sign * dp;
            price = if moved >= 1 { moved } else { price - sign * dp };
            grown.low = grown.low.min(price);
            grown.high = grown.high.max(price);
            emit(t, price, qty, sign * dp >= 0, &mut grown)?;
            if t - first.ts >= span {
                break;
            }
        }
    }
    grown.span_ms = t - first.ts;
    out.flush()?;
    Ok(grown)
}

/// `ticks` on a grid of `places` decimal places, as a decimal string.
fn write_ticks(out: &mut Vec<u8>, ticks: i64, places: u32) {
    let unit = 10u64.pow(places);
    let (int, frac) = (ticks.unsigned_abs() / unit, ticks.unsigned_abs() % unit);
    let _ = write!(out, "{int}");
    if places > 0 {
        let _ = write!(out, ".{frac:0width$}", width = places as usize);
    }
}

/// A grid price as a decimal, for messages.
pub fn ticks_to_decimal(ticks: i64, places: u32) -> Decimal {
    Decimal::new(ticks, places)
}

/// What a tape replay has read so far (shared with the caller, which reads it after the run).
#[derive(Debug, Default)]
pub struct TapeProgress {
    /// Records read from the tape.
    pub records: u64,
    /// Records that changed the price: each is a simulator event.
    pub price_changes: u64,
    /// The tape's market time at the last record.
    pub t_ms: TimeMs,
    /// The first bad record, which ended the stream.
    pub error: Option<ScenarioError>,
}

/// The settings of a tape replay: one market with `rules`, the bench workload's light fault
/// mix, and a venue that forgets orders two minutes after they ended (memory stays flat over
/// a day).
pub fn replay_scenario(symbol: &Symbol, rules: MarketRules, seed: u64) -> Scenario {
    let mut venue = VenueConfig {
        levels: 5,
        order_retention_ms: Some(120_000),
        ..VenueConfig::default()
    };
    venue.default_rules = rules;
    venue.markets.insert(symbol.clone(), rules);
    let mut router = RouterConfig {
        default_rules: rules,
        ..RouterConfig::default()
    };
    router.markets.insert(symbol.clone(), rules);
    let mut s = with_light_mix(router, venue);
    s.seed = Some(seed);
    s
}

/// The rows of a tape replay: ample balances, the tape's price changes on `symbol`, and one
/// intent every `every_ms` of market time (buys and sells of 2 to 20 times the minimum
/// notional, at the current price) until the tape ends. Reads `records` lazily; a bad record
/// ends the rows and is left in `progress`.
pub fn replay_rows<I>(
    records: I,
    symbol: Symbol,
    rules: MarketRules,
    every_ms: TimeMs,
    seed: u64,
    progress: Rc<RefCell<TapeProgress>>,
) -> impl Iterator<Item = Row>
where
    I: Iterator<Item = Result<Record, ScenarioError>>,
{
    let big = Decimal::from(1_000_000_000_000i64);
    let start = vec![balance(symbol.quote(), big), balance(symbol.base(), big)];
    let mut records = records.peekable();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a9e_0000);
    let every = every_ms.max(1);
    let mut next_intent: TimeMs = every;
    let mut mid: Option<Decimal> = None;
    let mut n: u64 = 0;
    let step_places = rules.step_size.normalize().scale();
    let spread = Decimal::TWO;
    let depth = Decimal::from(1_000_000);
    start.into_iter().chain(std::iter::from_fn(move || loop {
        let next_t = match records.peek() {
            Some(Ok(r)) => r.tick.t_ms,
            Some(Err(_)) => {
                if let Some(Err(e)) = records.next() {
                    progress.borrow_mut().error = Some(e);
                }
                return None;
            }
            None => return None,
        };
        match mid {
            Some(m) if next_intent < next_t => {
                let t = next_intent;
                next_intent += every;
                let side = if rng.random_bool(0.5) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let notional = rules.min_notional * Decimal::from(rng.random_range(2..=20u32));
                let qty = (notional / m)
                    .round_dp(step_places)
                    .max(rules.step_size)
                    .normalize();
                n += 1;
                let id = IntentId::numbered("t", n);
                return intent_row(id, t, &symbol, side, qty, m);
            }
            _ => {
                let Some(Ok(r)) = records.next() else {
                    return None;
                };
                let mut p = progress.borrow_mut();
                p.records += 1;
                p.t_ms = r.tick.t_ms;
                if mid == Some(r.tick.mid) {
                    continue;
                }
                p.price_changes += 1;
                mid = Some(r.tick.mid);
                return Some(Row {
                    line: r.line,
                    t_ms: r.tick.t_ms,
                    kind: RowKind::Price {
                        symbol: symbol.clone(),
                        mid: r.tick.mid,
                        spread_bps: r.tick.spread_bps.unwrap_or(spread),
                        depth,
                    },
                });
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::Records;

    const RECORDED: &str = "trade_id,time_ms,price,qty\n\
        1,1000,100.50,0.1\n2,1010,100.52,0.2\n3,1010,100.49,0.3\n4,1500,100.51,0.1\n";

    fn read(file: &str, text: &str) -> Vec<Record> {
        Records::new(file, text.as_bytes())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn recorded() -> Vec<Record> {
        read("r.csv", RECORDED)
    }

    #[test]
    fn a_grown_tape_reads_back_on_the_recorded_grid_and_spans_the_hours() {
        let mut out = Vec::new();
        let g = synthesize("r.csv", &recorded(), 1, 7, &mut out).unwrap();
        assert_eq!(g.places, 2);
        assert!(
            g.span_ms >= 3_600_000 && g.span_ms < 3_600_000 + 500,
            "{g:?}"
        );
        let back = read("g.csv", std::str::from_utf8(&out).unwrap());
        assert_eq!(back.len() as u64, g.trades);
        assert!(
            g.trades > 7_000,
            "about 3 trades every 500 ms: {}",
            g.trades
        );
        assert_eq!(back[0].tick.mid, Decimal::new(10050, 2));
        for w in back.windows(2) {
            // Time never goes back; every move is one the recording made, either way.
            assert!(w[1].ts >= w[0].ts);
            let dp = (w[1].tick.mid - w[0].tick.mid).abs();
            assert!(
                [0, 1, 2, 3].iter().any(|&k| dp == Decimal::new(k, 2)),
                "{dp}"
            );
        }
        // The same seed, the same bytes; another seed, another day.
        let mut again = Vec::new();
        synthesize("r.csv", &recorded(), 1, 7, &mut again).unwrap();
        assert_eq!(out, again);
        let mut other = Vec::new();
        synthesize("r.csv", &recorded(), 1, 8, &mut other).unwrap();
        assert_ne!(out, other);
    }

    #[test]
    fn the_estimate_of_a_tape_is_close_to_what_is_written() {
        let mut out = Vec::new();
        let g = synthesize("r.csv", &recorded(), 1, 7, &mut out).unwrap();
        let e = estimate(&recorded(), 1).unwrap();
        let near = |a: u64, b: u64| a.abs_diff(b) * 10 < b;
        assert!(near(e.trades, g.trades), "{e:?} vs {}", g.trades);
        assert!(
            e.bytes >= out.len() as u64 && near(e.bytes, out.len() as u64),
            "{e:?} vs {}",
            out.len()
        );
        assert!(!e.is_large());
        // Two trades a millisecond apart grow 86.4 million trades a day: large.
        let two = read("t.csv", "time_ms,price,qty\n1000,100,1\n1001,101,1\n");
        let e = estimate(&two, 24).unwrap();
        assert_eq!(e.trades, 86_400_001);
        assert!(e.is_large());
    }

    #[test]
    fn only_trade_recordings_grow() {
        let quotes = "time_ms,bid_price,ask_price\n1,99,101\n2,99,102\n";
        let r = read("q.csv", quotes);
        let e = synthesize("q.csv", &r, 1, 0, &mut Vec::new()).unwrap_err();
        assert!(
            e.to_string().starts_with("q.csv: a trade tape needs"),
            "{e}"
        );
        let one = &recorded()[..1];
        assert!(synthesize("r.csv", one, 1, 0, &mut Vec::new()).is_err());
        // A recording of one instant would never reach the hours asked for.
        let instant = "time_ms,price,qty\n5,100,1\n5,101,1\n5,100,2\n";
        let r = read("i.csv", instant);
        let e = synthesize("i.csv", &r, 1, 0, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("spans no time"), "{e}");
    }

    #[test]
    fn replay_rows_interleave_price_changes_and_intents_in_time_order() {
        let symbol = Symbol::parse("BTC/USDT").unwrap();
        let rules = MarketRules::default();
        let progress = Rc::new(RefCell::new(TapeProgress::default()));
        let records = Records::new("r.csv", RECORDED.as_bytes()).unwrap();
        let rows: Vec<Row> =
            replay_rows(records, symbol, rules, 100, 1, progress.clone()).collect();
        let p = progress.borrow();
        assert_eq!((p.records, p.price_changes, p.t_ms), (4, 4, 500));
        let intents = rows
            .iter()
            .filter(|r| matches!(r.kind, RowKind::Intent { .. }))
            .count();
        assert_eq!(
            intents, 4,
            "at 100, 200, 300 and 400 ms, before the tape's end"
        );
        assert!(rows.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
        // A bad record ends the rows and is reported.
        let bad = "time_ms,price\n1,100\n2,x\n3,101\n";
        let progress = Rc::new(RefCell::new(TapeProgress::default()));
        let records = Records::new("b.csv", bad.as_bytes()).unwrap();
        let n = replay_rows(
            records,
            Symbol::parse("BTC/USDT").unwrap(),
            rules,
            1,
            1,
            progress.clone(),
        )
        .count();
        assert_eq!(n, 3, "two balances and the first price");
        let e = progress.borrow().error.clone().unwrap().to_string();
        assert!(e.starts_with("b.csv:3: price:"), "{e}");
    }
}

//! A recorded tape as the living market's source, in place of the seeded flow: the recorded
//! trades become the market's public trades and reach resting orders through the fill model;
//! recorded best quotes set the best bid and ask and their sizes (the queue an order joins).
//!
//! A trades tape says nothing of the book, so the book is drawn from the trade: the side the
//! taker hit has its best level at the trade's price, the other side starts one tick away, and
//! each side has `levels` levels one tick apart, each of the scenario's `depth` (its first
//! `price` row for the market). A quotes tape sets the best levels as recorded, with deeper
//! levels the same way. When the tape ends it plays again from its start (the recorded gap
//! between its last and first record being the tape's median gap), so a venue serving it
//! keeps trading.

use std::path::Path;
use std::sync::Arc;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::{Grid, Ladder, Level, Print};
use crate::market::Records;
use crate::model::{Side, TimeMs};
use crate::scenario::ScenarioError;

/// One record of a tape, in the recording's own units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapeEvent {
    /// A trade: `taker_sold` is Binance's `is_buyer_maker`.
    Trade {
        t_ms: TimeMs,
        price: Decimal,
        qty: Decimal,
        taker_sold: bool,
    },
    /// The best quotes and their sizes.
    Quote {
        t_ms: TimeMs,
        bid: Decimal,
        bid_qty: Decimal,
        ask: Decimal,
        ask_qty: Decimal,
    },
}

impl TapeEvent {
    /// Milliseconds since the tape's first record.
    pub fn t_ms(&self) -> TimeMs {
        match self {
            TapeEvent::Trade { t_ms, .. } | TapeEvent::Quote { t_ms, .. } => *t_ms,
        }
    }
}

/// A tape read whole, shared by the venues and runs that play it.
pub type Tape = Arc<[TapeEvent]>;

/// Reads a tape for the living market: trades with a quantity and a taker side
/// (`is_buyer_maker` or `taker_side`), or best quotes with `bid_qty` and `ask_qty`. `Ok(None)`
/// for a file that has neither (klines, a trades file without sides): it can only drive the
/// price ([`crate::market::load`]).
pub fn load(path: &Path) -> Result<Option<Tape>, ScenarioError> {
    read(Records::open(path)?)
}

/// [`load`] from bytes in memory (`file` names it in errors).
pub fn parse(file: &str, bytes: &[u8]) -> Result<Option<Tape>, ScenarioError> {
    read(Records::new(file, bytes)?)
}

fn read<R: std::io::BufRead>(records: Records<R>) -> Result<Option<Tape>, ScenarioError> {
    let mut out = Vec::new();
    for r in records {
        let r = r?;
        let t_ms = r.tick.t_ms;
        let event = match (r.quote, r.qty, r.taker_sold) {
            (Some(q), _, _) => {
                let Some((bid_qty, ask_qty)) = q.sizes else {
                    return Ok(None);
                };
                TapeEvent::Quote {
                    t_ms,
                    bid: q.bid,
                    bid_qty,
                    ask: q.ask,
                    ask_qty,
                }
            }
            (None, Some(qty), Some(taker_sold)) => TapeEvent::Trade {
                t_ms,
                price: r.tick.mid,
                qty,
                taker_sold,
            },
            _ => return Ok(None),
        };
        out.push(event);
    }
    Ok((!out.is_empty()).then(|| out.into()))
}

/// A tape playing on one market: what the flow is for a seeded market.
#[derive(Debug, Clone)]
pub struct Player {
    tape: Tape,
    grid: Grid,
    levels: usize,
    /// The size of each level the tape does not record, in lots.
    depth: i64,
    /// The next record, and when its pass over the tape began.
    next: usize,
    base: TimeMs,
    speed: u64,
    /// How long after its last record the tape starts again.
    wrap_ms: u64,
}

impl Player {
    /// Plays `tape` (not empty) from `start`, `speed` times its recorded pace, on a market of
    /// `grid` whose unrecorded levels hold `depth` lots each.
    pub fn new(
        tape: Tape,
        grid: Grid,
        levels: usize,
        depth: i64,
        start: TimeMs,
        speed: u64,
    ) -> Player {
        let mut gaps: Vec<u64> = tape
            .windows(2)
            .map(|w| w[1].t_ms().saturating_sub(w[0].t_ms()))
            .collect();
        gaps.sort_unstable();
        let wrap_ms = gaps.get(gaps.len() / 2).copied().unwrap_or(1).max(1);
        Player {
            tape,
            grid,
            levels: levels.max(1),
            depth: depth.max(1),
            next: 0,
            base: start,
            speed: speed.max(1),
            wrap_ms,
        }
    }

    /// When the next record plays.
    pub fn next_time(&self) -> TimeMs {
        let t = self.tape.get(self.next).map_or(0, TapeEvent::t_ms);
        self.base.saturating_add(t / self.speed)
    }

    fn ticks(&self, x: Decimal) -> Option<i64> {
        x.checked_div(self.grid.tick)?.round().to_i64()
    }

    /// Whole lots of `x`, rounded down (a trade below one lot consumes no queue).
    fn lots(&self, x: Decimal) -> i64 {
        x.checked_div(self.grid.step)
            .and_then(|l| l.floor().to_i64())
            .unwrap_or(0)
            .max(0)
    }

    /// `levels` levels from `best` outward (`dir` -1 for bids, +1 for asks), the first of
    /// `first` lots, the others of the tape's depth.
    fn side(&self, best: i64, first: i64, dir: i64) -> Vec<Level> {
        (0..self.levels as i64)
            .map(|k| Level {
                px: best + dir * k,
                qty: if k == 0 { first } else { self.depth },
            })
            .take_while(|l| l.px >= 1)
            .collect()
    }

    /// Plays the next record: the book as it shows, and its trade appended to `out` (its lots
    /// are what reaches the queue) with the recorded quantity in `exact` (what the public
    /// trade shows).
    pub fn step(&mut self, book: &mut Ladder, out: &mut Vec<Print>, exact: &mut Vec<Decimal>) {
        let t = self.next_time();
        let Some(&event) = self.tape.get(self.next) else {
            return;
        };
        self.next += 1;
        if self.next == self.tape.len() {
            let last = event.t_ms();
            self.base = self
                .base
                .saturating_add(last.saturating_add(self.wrap_ms) / self.speed)
                .max(t.saturating_add(1));
            self.next = 0;
        }
        match event {
            TapeEvent::Trade {
                price,
                qty,
                taker_sold,
                ..
            } => {
                let Some(px) = self.ticks(price) else { return };
                let (taker, bid, ask) = if taker_sold {
                    (Side::Sell, px, px + 1)
                } else {
                    (Side::Buy, px - 1, px)
                };
                book.bids = self.side(bid, self.depth, -1);
                book.asks = self.side(ask, self.depth, 1);
                let lots = self.lots(qty);
                out.push(Print {
                    t,
                    px,
                    qty: lots,
                    taker,
                });
                exact.push(qty);
            }
            TapeEvent::Quote {
                bid,
                bid_qty,
                ask,
                ask_qty,
                ..
            } => {
                let (Some(b), Some(a)) = (self.ticks(bid), self.ticks(ask)) else {
                    return;
                };
                book.bids = self.side(b, self.lots(bid_qty).max(1), -1);
                book.asks = self.side(a.max(b + 1), self.lots(ask_qty).max(1), 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid {
            tick: Decimal::new(1, 2),
            step: Decimal::new(1, 3),
        }
    }

    #[test]
    fn trades_with_a_side_and_quotes_with_sizes_read_as_a_tape() {
        let trades = "trade_id,time_ms,price,qty,is_buyer_maker\n1,1000,100.00,0.5,true\n2,1010,100.01,0.25,false\n";
        let tape = parse("t.csv", trades.as_bytes()).unwrap().unwrap();
        assert_eq!(tape.len(), 2);
        assert_eq!(
            tape[1],
            TapeEvent::Trade {
                t_ms: 10,
                price: Decimal::new(10001, 2),
                qty: Decimal::new(25, 2),
                taker_sold: false
            }
        );
        let quotes = "time_ms,bid_price,bid_qty,ask_price,ask_qty\n5,99.99,2,100.01,3\n";
        let tape = parse("q.csv", quotes.as_bytes()).unwrap().unwrap();
        assert!(matches!(tape[0], TapeEvent::Quote { t_ms: 0, .. }));
        // Without a taker side, or without sizes, a file drives only the price.
        let bare = "timestamp,price,qty\n1,100,1\n";
        assert_eq!(parse("b.csv", bare.as_bytes()).unwrap(), None);
        let bad = "time_ms,price,qty,is_buyer_maker\n1,100,1,maybe\n";
        let e = parse("x.csv", bad.as_bytes()).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "is_buyer_maker"));
    }

    #[test]
    fn a_trade_sets_the_book_at_its_price_and_prints_it() {
        let trades =
            "time_ms,price,qty,is_buyer_maker\n0,100.00,0.5,true\n20,100.02,0.0005,false\n";
        let tape = parse("t.csv", trades.as_bytes()).unwrap().unwrap();
        let mut p = Player::new(tape, grid(), 3, 7, 1_000, 1);
        let (mut book, mut out, mut exact) = (Ladder::default(), Vec::new(), Vec::new());
        assert_eq!(p.next_time(), 1_000);
        p.step(&mut book, &mut out, &mut exact);
        assert_eq!(
            (book.best_bid(), book.best_ask()),
            (Some(10_000), Some(10_001))
        );
        assert_eq!(book.bids.len(), 3);
        assert_eq!(book.shown(Side::Buy, 10_000), Some(7));
        assert_eq!(out[0].qty, 500);
        assert_eq!(out[0].taker, Side::Sell);
        assert_eq!(p.next_time(), 1_020);
        p.step(&mut book, &mut out, &mut exact);
        // A buy below one lot: no lots for the queue, the exact quantity for the tape.
        assert_eq!((out[1].px, out[1].qty), (10_002, 0));
        assert_eq!(exact[1], Decimal::new(5, 4));
        assert_eq!(book.best_ask(), Some(10_002));
        // Played again from the start after the median gap.
        assert_eq!(p.next_time(), 1_040);
    }

    #[test]
    fn a_quote_sets_the_best_levels_and_their_sizes() {
        let quotes = "time_ms,bid_price,bid_qty,ask_price,ask_qty\n0,99.99,2,100.01,3\n";
        let tape = parse("q.csv", quotes.as_bytes()).unwrap().unwrap();
        let mut p = Player::new(tape, grid(), 2, 9, 0, 1);
        let (mut book, mut out, mut exact) = (Ladder::default(), Vec::new(), Vec::new());
        p.step(&mut book, &mut out, &mut exact);
        assert!(out.is_empty());
        assert_eq!(book.shown(Side::Buy, 9_999), Some(2_000));
        assert_eq!(book.shown(Side::Sell, 10_001), Some(3_000));
        assert_eq!(book.shown(Side::Buy, 9_998), Some(9));
    }
}

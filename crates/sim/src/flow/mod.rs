//! A living market: other traders' orders, seeded, trading against the book, refilling it and
//! moving its price; and the public trades they print. Sans-IO: the caller hands in the book
//! and asks for the next event; time is the flow's own (the time of its next event), which
//! the caller compares with its `now`.
//!
//! Each event is one taker order of another trader, at a gap drawn from the recorded gaps
//! between trades ([`params`]): a buy with the recorded share of buys, of a notional drawn
//! from the recorded trade sizes. It takes the opposite side of the book level by level,
//! printing one trade per level. A level it empties is gone; when the best level goes the
//! other side steps up to a spread drawn from the recorded spreads (the price moves with the
//! trades), and deeper levels are added at drawn gaps with drawn sizes (depth refills).
//! Before a trade, at the recorded rate of quote moves, the quotes move (the book is redrawn
//! around a mid shifted by a drawn move), drawn toward the anchor price (the scenario's or the
//! tape's) so that a long run does not drift away from it.
//!
//! Prices are in ticks and quantities in lots of the market: integers.

pub mod params;
pub mod queue;
pub mod tape;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::model::{Side, TimeMs};
use params::{Params, QUANTILES};

/// One price level: `qty` lots at `px` ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub px: i64,
    pub qty: i64,
}

/// Both sides of a book, best level first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ladder {
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

impl Ladder {
    pub fn best_bid(&self) -> Option<i64> {
        self.bids.first().map(|l| l.px)
    }

    pub fn best_ask(&self) -> Option<i64> {
        self.asks.first().map(|l| l.px)
    }

    /// What the book shows at `px` to a resting order of `side`: `Some(0)` when `px` is
    /// better than that side's best (nobody can be ahead), the level's size when it is one of
    /// the levels, `None` when it falls between levels (nothing is learnt).
    pub fn shown(&self, side: Side, px: i64) -> Option<i64> {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        let better = |best: i64| match side {
            Side::Buy => px > best,
            Side::Sell => px < best,
        };
        match levels.first() {
            None => Some(0),
            Some(best) if better(best.px) => Some(0),
            _ => levels.iter().find(|l| l.px == px).map(|l| l.qty),
        }
    }

    /// Whether the other side has reached `px` for a resting order of `side` (an ask at or
    /// below a bid's price, a bid at or above an ask's).
    pub fn crossed(&self, side: Side, px: i64) -> bool {
        match side {
            Side::Buy => self.best_ask().is_some_and(|a| a <= px),
            Side::Sell => self.best_bid().is_some_and(|b| b >= px),
        }
    }

    /// The mid in ticks, rounded down; `None` when a side is empty.
    pub fn mid(&self) -> Option<i64> {
        Some((self.best_bid()? + self.best_ask()?).div_euclid(2))
    }
}

/// One public trade: `qty` lots at `px` ticks, at `t`, the taker on side `taker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Print {
    pub t: TimeMs,
    pub px: i64,
    pub qty: i64,
    pub taker: Side,
}

/// The grid of the market the flow trades: what one tick and one lot are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub tick: Decimal,
    pub step: Decimal,
}

/// The seeded flow of other traders' orders on one market.
#[derive(Debug, Clone)]
pub struct Flow {
    rng: ChaCha8Rng,
    p: Params,
    grid: Grid,
    /// Levels kept per side.
    levels: usize,
    /// The time of the next event.
    next_t: TimeMs,
    /// Event times are divided by this (a faster market for a demonstration).
    speed: u64,
    /// The mid of the last book, to rebuild an emptied one around.
    last_mid: i64,
    /// One lot at one tick, in cents, as `mantissa / 10^scale`: sizes are worked out in
    /// integers (the flow draws one or more per event).
    lot_cents: (i128, u32),
}

impl Flow {
    /// A flow on a market of `grid`, keeping `levels` per side, whose first event comes at
    /// `start` plus a drawn gap; `speed` divides every gap (1: the recorded pace).
    pub fn new(seed: u64, grid: Grid, levels: usize, start: TimeMs, speed: u64) -> Flow {
        let mut f = Flow {
            rng: ChaCha8Rng::seed_from_u64(seed),
            p: params::BUILT_IN,
            grid,
            levels: levels.max(1),
            next_t: start,
            speed: speed.max(1),
            last_mid: 0,
            lot_cents: {
                let v = grid
                    .tick
                    .checked_mul(grid.step)
                    .and_then(|v| v.checked_mul(Decimal::ONE_HUNDRED))
                    .unwrap_or(Decimal::ZERO)
                    .normalize();
                (v.mantissa(), v.scale())
            },
        };
        f.next_t = start.saturating_add(f.gap());
        f
    }

    /// When the next event happens.
    pub fn next_time(&self) -> TimeMs {
        self.next_t
    }

    fn draw(&mut self, q: [u64; QUANTILES]) -> u64 {
        q[self.rng.random_range(0..QUANTILES)]
    }

    /// The gap to the next event. Gaps of zero are kept (trades share milliseconds), but a
    /// faster flow rounds the sum so it never stops.
    fn gap(&mut self) -> u64 {
        let g = self.draw(self.p.trade_gap_ms);
        g / self.speed + u64::from(self.rng.random_range(0..self.speed) < g % self.speed)
    }

    /// `e8` (a fraction of the price times 10^8) in ticks at `px`, at least one.
    fn ticks(px: i64, e8: u64) -> i64 {
        let t = i128::from(px) * i128::from(e8) / 100_000_000;
        i64::try_from(t).unwrap_or(i64::MAX).max(1)
    }

    /// A notional of `cents` in lots at `px`, at least one.
    fn lots(&self, px: i64, cents: u64) -> i64 {
        // cents / (px * m / 10^s) = cents * 10^s / (px * m), in integers when they fit.
        let (m, scale) = self.lot_cents;
        let exact = 10i128
            .checked_pow(scale)
            .and_then(|p| i128::from(cents).checked_mul(p))
            .zip(i128::from(px.max(1)).checked_mul(m).filter(|d| *d > 0))
            .map(|(n, d)| n / d);
        if let Some(l) = exact {
            return i64::try_from(l).unwrap_or(i64::MAX).max(1);
        }
        let value = Decimal::from(px.max(1))
            .checked_mul(self.grid.tick)
            .and_then(|p| p.checked_mul(self.grid.step))
            .and_then(|v| v.checked_mul(Decimal::ONE_HUNDRED));
        value
            .and_then(|v| Decimal::from(cents).checked_div(v))
            .and_then(|l| l.floor().to_i64())
            .unwrap_or(1)
            .max(1)
    }

    fn size(&mut self, px: i64) -> i64 {
        let cents = self.draw(self.p.top_notional_cents);
        self.lots(px, cents)
    }

    fn level_gap(&mut self, px: i64) -> i64 {
        let e8 = self.draw(self.p.level_gap_e8);
        Self::ticks(px, e8)
    }

    /// Redraws the whole book around `mid` (ticks): spread, gaps and sizes.
    pub fn rebuild(&mut self, book: &mut Ladder, mid: i64) {
        let mid = mid.max(2);
        let e8 = self.draw(self.p.spread_e8);
        let spread = Self::ticks(mid, e8);
        let bid = (mid - spread / 2).max(1);
        let ask = bid + spread;
        book.bids.clear();
        book.asks.clear();
        let q = self.size(bid);
        book.bids.push(Level { px: bid, qty: q });
        let q = self.size(ask);
        book.asks.push(Level { px: ask, qty: q });
        self.refill(book);
        self.last_mid = mid;
    }

    /// Adds levels behind the last of each side until it has `levels`, and cuts longer sides.
    fn refill(&mut self, book: &mut Ladder) {
        book.bids.truncate(self.levels);
        book.asks.truncate(self.levels);
        while book.bids.len() < self.levels {
            let Some(last) = book.bids.last().map(|l| l.px) else {
                break;
            };
            let px = last - self.level_gap(last);
            if px < 1 {
                break;
            }
            let qty = self.size(px);
            book.bids.push(Level { px, qty });
        }
        while book.asks.len() < self.levels {
            let Some(last) = book.asks.last().map(|l| l.px) else {
                break;
            };
            let px = last.saturating_add(self.level_gap(last));
            let qty = self.size(px);
            book.asks.push(Level { px, qty });
        }
    }

    /// The next event, at [`Flow::next_time`]: maybe a move of the quotes, then one taker
    /// order; its trades are appended to `out`. `anchor` (ticks) is the price moves are drawn
    /// toward; an empty side is rebuilt first.
    pub fn step(&mut self, book: &mut Ladder, anchor: i64, out: &mut Vec<Print>) {
        let t = self.next_t;
        let gap = self.gap();
        self.next_t = t.saturating_add(gap);
        match book.mid() {
            Some(m) => self.last_mid = m,
            None => {
                let mid = if self.last_mid > 0 {
                    self.last_mid
                } else {
                    anchor
                };
                self.rebuild(book, mid);
            }
        }
        if self.rng.random_range(0..10_000) < self.p.moves_per_10k_trades {
            self.shift(book, anchor);
        }
        let taker = if self.rng.random_range(0..10_000) < self.p.buy_bps {
            Side::Buy
        } else {
            Side::Sell
        };
        let cents = self.draw(self.p.trade_notional_cents);
        let mut left = self.lots(self.last_mid, cents);
        let levels = match taker {
            Side::Buy => &mut book.asks,
            Side::Sell => &mut book.bids,
        };
        let mut emptied = false;
        while left > 0 {
            let Some(l) = levels.first_mut() else { break };
            let q = l.qty.min(left);
            l.qty -= q;
            left -= q;
            out.push(Print {
                t,
                px: l.px,
                qty: q,
                taker,
            });
            if l.qty == 0 {
                levels.remove(0);
                emptied = true;
            }
        }
        if emptied {
            self.step_up(book, taker);
        }
        if book.bids.is_empty() || book.asks.is_empty() {
            let mid = out.last().map_or(self.last_mid, |p| p.px);
            self.rebuild(book, mid);
        }
        self.refill(book);
    }

    /// Skips every event up to `now` at once, for a market nobody watches trade by trade:
    /// the quotes move once, as a move does, and the next event comes after `now`.
    pub fn skip_to(&mut self, book: &mut Ladder, anchor: i64, now: TimeMs) {
        if book.mid().is_none() {
            let mid = if self.last_mid > 0 {
                self.last_mid
            } else {
                anchor
            };
            self.rebuild(book, mid);
        }
        self.shift(book, anchor);
        let gap = self.gap();
        self.next_t = now.saturating_add(gap).max(self.next_t);
    }

    /// After a taker emptied the best level of one side, the other side steps up to a drawn
    /// spread, when the spread is now wider than that.
    fn step_up(&mut self, book: &mut Ladder, taker: Side) {
        let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else {
            return;
        };
        let e8 = self.draw(self.p.spread_e8);
        let target = Self::ticks(ask, e8);
        if ask - bid <= target {
            return;
        }
        match taker {
            Side::Buy => {
                let px = ask - target;
                let qty = self.size(px);
                book.bids.insert(0, Level { px, qty });
            }
            Side::Sell => {
                let px = bid + target;
                let qty = self.size(px);
                book.asks.insert(0, Level { px, qty });
            }
        }
    }

    /// Moves the quotes: the book redrawn around a mid moved by a drawn distance, up or down,
    /// more likely toward `anchor` the further from it (three in four at 1 % away).
    fn shift(&mut self, book: &mut Ladder, anchor: i64) {
        let Some(mid) = book.mid() else { return };
        let e8 = self.draw(self.p.move_e8);
        let by = Self::ticks(mid, e8);
        let away_bps = if anchor > 0 {
            (i128::from(mid - anchor) * 10_000 / i128::from(anchor)).clamp(-100, 100) as i64
        } else {
            0
        };
        let up_bps = 5_000 - away_bps * 25;
        let up = self.rng.random_range(0..10_000) < up_bps;
        self.rebuild(book, if up { mid + by } else { (mid - by).max(2) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid {
            tick: Decimal::new(1, 2),
            step: Decimal::new(1, 5),
        }
    }

    fn run(seed: u64, events: usize) -> (Ladder, Vec<Print>) {
        let mut f = Flow::new(seed, grid(), 10, 0, 1);
        let mut book = Ladder::default();
        let anchor = 5_000_000; // 50,000.00
        f.rebuild(&mut book, anchor);
        let mut out = Vec::new();
        for _ in 0..events {
            f.step(&mut book, anchor, &mut out);
        }
        (book, out)
    }

    #[test]
    fn the_same_seed_gives_the_same_market() {
        assert_eq!(run(3, 2_000), run(3, 2_000));
        assert_ne!(run(3, 2_000).1, run(4, 2_000).1);
    }

    #[test]
    fn the_flow_trades_moves_the_price_and_keeps_a_book() {
        let (book, out) = run(1, 20_000);
        assert!(out.len() >= 20_000, "{}", out.len());
        // Both sides, never crossed, ten levels each, sorted from the best.
        assert_eq!((book.bids.len(), book.asks.len()), (10, 10));
        assert!(book.best_bid() < book.best_ask());
        assert!(book.bids.windows(2).all(|w| w[0].px > w[1].px));
        assert!(book.asks.windows(2).all(|w| w[0].px < w[1].px));
        let buys = out.iter().filter(|p| p.taker == Side::Buy).count();
        let share = buys * 100 / out.len();
        assert!((45..=65).contains(&share), "{share}% buys");
        let prices: std::collections::BTreeSet<i64> = out.iter().map(|p| p.px).collect();
        assert!(
            prices.len() > 100,
            "the price moves: {} prices",
            prices.len()
        );
        // Drawn toward the anchor: still within 2 % of it.
        let last = out.last().unwrap().px;
        assert!((last - 5_000_000).abs() < 100_000, "{last}");
        // The recorded pace: about 20 ms a trade on average, 20,000 events in minutes.
        let span = out.last().unwrap().t;
        assert!((200_000..=800_000).contains(&span), "{span} ms");
        assert!(out.windows(2).all(|w| w[0].t <= w[1].t));
    }

    #[test]
    fn a_faster_flow_divides_the_gaps() {
        let mut f = Flow::new(1, grid(), 10, 0, 10);
        let mut book = Ladder::default();
        f.rebuild(&mut book, 5_000_000);
        let mut out = Vec::new();
        for _ in 0..2_000 {
            f.step(&mut book, 5_000_000, &mut out);
        }
        let span = out.last().unwrap().t;
        assert!(span < 10_000, "{span}");
    }

    #[test]
    fn what_the_book_shows_a_resting_order() {
        let book = Ladder {
            bids: vec![Level { px: 100, qty: 3 }, Level { px: 98, qty: 5 }],
            asks: vec![Level { px: 102, qty: 4 }],
        };
        assert_eq!(book.shown(Side::Buy, 100), Some(3));
        assert_eq!(book.shown(Side::Buy, 101), Some(0));
        assert_eq!(book.shown(Side::Buy, 99), None);
        assert_eq!(book.shown(Side::Buy, 98), Some(5));
        assert_eq!(book.shown(Side::Sell, 101), Some(0));
        assert!(book.crossed(Side::Buy, 102) && !book.crossed(Side::Buy, 101));
        assert!(book.crossed(Side::Sell, 100) && !book.crossed(Side::Sell, 101));
        assert_eq!(book.mid(), Some(101));
    }
}

//! The synthetic order book of each market: price levels around a mid, rebuilt at every price
//! of the scenario (or requote), and what taking from it would give. Orders and funds are the
//! parent module's; matching an order walks the levels built here.
//!
//! Levels are integers on the market's grid (ticks' places for prices, the lot's for
//! quantities): building a book and walking it are integer additions and comparisons. The
//! mid, the spread and what a level is read as stay decimals.

use rust_decimal::Decimal;

use super::SimExchange;
use crate::exchange::OrderStatus;
use crate::grid::{Grid, Price, Qty};
use crate::model::{bps_fraction, ceil_to, floor_to, Side, Symbol, TimeMs};
use crate::router::MarketRules;

/// One price level of the synthetic book, as decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookLevel {
    pub price: Decimal,
    /// What is left at this price until the next `set_market`.
    pub qty: Decimal,
}

/// One price level on the market's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Level {
    pub(super) price: Price,
    pub(super) qty: Qty,
}

#[derive(Debug, Clone)]
pub(super) struct Book {
    pub(super) mid: Decimal,
    spread_bps: Decimal,
    depth: Decimal,
    /// The units of the levels.
    pub(super) grid: Grid,
    /// Best (highest) first.
    pub(super) bids: Vec<Level>,
    /// Best (lowest) first.
    pub(super) asks: Vec<Level>,
}

impl Book {
    pub(super) fn new(mid: Decimal, spread_bps: Decimal, depth: Decimal, cap: usize) -> Book {
        Book {
            mid,
            spread_bps,
            depth,
            grid: Grid::new(Decimal::ONE, Decimal::ONE),
            bids: Vec::with_capacity(cap),
            asks: Vec::with_capacity(cap),
        }
    }

    fn levels(&self, side: Side) -> &[Level] {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// A level as decimals.
    pub(super) fn decimal(&self, l: &Level) -> BookLevel {
        BookLevel {
            price: self.grid.price_decimal(l.price),
            qty: self.grid.qty_decimal(l.qty),
        }
    }
}

pub(super) fn crosses<P: PartialOrd>(side: Side, limit: P, level: P) -> bool {
    match side {
        Side::Buy => level <= limit,
        Side::Sell => level >= limit,
    }
}

/// Rebuilds `book` around `mid` in place (its level vectors are reused). `None`, with `book`
/// untouched, when the numbers overflow or `mid` or the tick is not positive.
pub(super) fn build_book(
    book: &mut Book,
    rules: &MarketRules,
    levels: u32,
    mid: Decimal,
    spread_bps: Decimal,
    depth: Decimal,
) -> Option<()> {
    let tick = rules.tick_size;
    if tick <= Decimal::ZERO || mid <= Decimal::ZERO {
        return None;
    }
    let spread_bps = spread_bps.max(Decimal::ZERO);
    // Resting orders are on the lot grid, so what a level holds is too.
    let depth = floor_to(depth.max(Decimal::ZERO), rules.step_size)?;
    let half = spread_bps.checked_div(Decimal::from(20_000))?;
    let mut best_ask = ceil_to(mid.checked_mul(Decimal::ONE.checked_add(half)?)?, tick)?;
    let best_bid = floor_to(mid.checked_mul(Decimal::ONE.checked_sub(half)?)?, tick)?;
    if best_bid >= best_ask {
        best_ask = best_bid.checked_add(tick)?;
    }
    let spacing = floor_to(mid.checked_mul(bps_fraction())?, tick)?.max(tick);
    // Every price above is a multiple of the tick and the depth one of the step: on the grid.
    let grid = Grid::new(rules.step_size, tick);
    let (best_ask, best_bid, spacing, depth_units) = (
        grid.price(best_ask).ok()?,
        grid.price(best_bid).ok()?,
        grid.price(spacing).ok()?,
        grid.qty(depth).ok()?,
    );
    book.mid = mid;
    book.spread_bps = spread_bps;
    book.depth = depth;
    book.grid = grid;
    book.asks.clear();
    book.bids.clear();
    let (mut ask, mut bid) = (Some(best_ask), Some(best_bid));
    for _ in 0..levels {
        let bid_ok = bid.filter(|b| b.is_positive());
        if ask.is_none() && bid_ok.is_none() {
            break;
        }
        if let Some(price) = ask {
            book.asks.push(Level {
                price,
                qty: depth_units,
            });
        }
        if let Some(price) = bid_ok {
            book.bids.push(Level {
                price,
                qty: depth_units,
            });
        }
        ask = ask.and_then(|a| a.checked_add(spacing));
        bid = bid_ok.and_then(|b| b.checked_sub(spacing));
    }
    Some(())
}

impl SimExchange {
    /// Rebuilds the book of `symbol` around `mid` (replenishing all depth) and matches resting
    /// GTC orders against it, oldest first. Ignored (the old book stays) when `mid` is not
    /// positive, the symbol's tick size is not positive or the numbers overflow. A negative
    /// spread or depth counts as zero.
    pub fn set_market(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        mid: Decimal,
        spread_bps: Decimal,
        depth: Decimal,
    ) {
        let rules = self.rules(symbol);
        let levels = self.cfg.levels;
        let built = match self.books.get_mut(symbol) {
            Some(book) => build_book(book, &rules, levels, mid, spread_bps, depth),
            None => {
                let mut book = Book::new(mid, spread_bps, depth, levels.min(64) as usize);
                let built = build_book(&mut book, &rules, levels, mid, spread_bps, depth);
                if built.is_some() {
                    self.books.insert(symbol, book);
                }
                built
            }
        };
        if built.is_none() {
            return;
        }
        let resting: Vec<usize> = self
            .open_by_symbol
            .get(symbol)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for i in resting {
            let o = self.order(i);
            if o.status == OrderStatus::Open {
                let left = o.remaining;
                self.match_order(i, now, left);
            }
        }
    }

    /// The symbols the venue has a book of, in symbol order.
    pub fn symbols(&self) -> impl Iterator<Item = &Symbol> {
        self.books.iter().map(|(s, _)| s)
    }

    /// The mid the book of `symbol` was last built around.
    pub fn mid(&self, symbol: &Symbol) -> Option<Decimal> {
        self.books.get(symbol).map(|b| b.mid)
    }

    /// The best bid and ask that still hold liquidity; `None` without a book or when a side
    /// is exhausted.
    pub fn best_bid_ask(&self, symbol: &Symbol) -> Option<(Decimal, Decimal)> {
        let book = self.books.get(symbol)?;
        let live = |levels: &[Level]| {
            levels
                .iter()
                .find(|l| l.qty.is_positive())
                .map(|l| book.grid.price_decimal(l.price))
        };
        Some((live(&book.bids)?, live(&book.asks)?))
    }

    /// The levels of one side of `symbol`'s book (`Buy`: the bids), best first, with what is
    /// left at each (possibly zero).
    fn side(&self, symbol: &Symbol, side: Side) -> Vec<BookLevel> {
        self.books.get(symbol).map_or_else(Vec::new, |b| {
            b.levels(side).iter().map(|l| b.decimal(l)).collect()
        })
    }

    /// The bid levels of `symbol`, best first, with what is left at each (possibly zero).
    pub fn bids(&self, symbol: &Symbol) -> Vec<BookLevel> {
        self.side(symbol, Side::Buy)
    }

    /// The ask levels of `symbol`, best first, with what is left at each (possibly zero).
    pub fn asks(&self, symbol: &Symbol) -> Vec<BookLevel> {
        self.side(symbol, Side::Sell)
    }

    /// Moves the market of `symbol` `bps` against an order of `side` and rebuilds its book
    /// with the same spread and depth (resting orders match against it as on any move).
    pub(super) fn requote(&mut self, now: TimeMs, symbol: &Symbol, side: Side, bps: Decimal) {
        let Some(book) = self.books.get(symbol) else {
            return;
        };
        let (mid, spread_bps, depth) = (book.mid, book.spread_bps, book.depth);
        let Some(shift) = bps.checked_mul(bps_fraction()) else {
            return;
        };
        let factor = match side {
            Side::Buy => Decimal::ONE.checked_add(shift),
            Side::Sell => Decimal::ONE.checked_sub(shift),
        };
        if let Some(new_mid) = factor.and_then(|f| mid.checked_mul(f)) {
            self.set_market(now, symbol, new_mid, spread_bps, depth);
        }
    }

    /// The far end of the book side an order of `side` takes from: the limit of a market order.
    pub(super) fn market_limit(&self, symbol: &Symbol, side: Side) -> Option<Decimal> {
        let book = self.books.get(symbol)?;
        match side {
            Side::Buy => book.asks.last(),
            Side::Sell => book.bids.last(),
        }
        .map(|l| book.grid.price_decimal(l.price))
    }

    /// The most of `symbol` that trading `quote` worth of the quote asset against the book
    /// would take now, rounded down to the lot step: what a market order's `quoteOrderQty`
    /// means. Zero without a book.
    pub fn qty_for_quote(&self, symbol: &Symbol, side: Side, quote: Decimal) -> Decimal {
        let levels = match side {
            Side::Buy => self.asks(symbol),
            Side::Sell => self.bids(symbol),
        };
        let (mut left, mut qty) = (quote, Decimal::ZERO);
        for l in &levels {
            if left <= Decimal::ZERO || l.price <= Decimal::ZERO {
                break;
            }
            let Some(cost) = l.price.checked_mul(l.qty) else {
                break;
            };
            if cost <= left {
                left -= cost;
                qty = qty.saturating_add(l.qty);
            } else {
                qty = qty.saturating_add(left.checked_div(l.price).unwrap_or(Decimal::ZERO));
                break;
            }
        }
        floor_to(qty, self.rules(symbol).step_size).unwrap_or(Decimal::ZERO)
    }
}

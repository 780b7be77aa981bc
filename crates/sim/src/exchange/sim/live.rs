//! The venue with a living market: each market's book is traded, refilled and moved by
//! [`crate::flow::Flow`], its public trades are kept for the tape, klines and tickers, and
//! resting orders fill through the fill model ([`crate::flow::queue`]) as the market's trades
//! reach their price. Off by default: a static book only moves with `set_market`.
//!
//! The flow advances lazily to the `now` of each call that asks for it (the world's step, the
//! venue server's request): the same seed and the same calls give the same market. An order
//! reaches the queue `order_latency_ms` after it was placed; a cancel lands that long after it
//! was asked for, so the market is first run that far (a fill may slip in before it).

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::book::Level as BookLevelUnits;
use super::SimExchange;
use crate::exchange::OrderStatus;
use crate::flow::queue::{FillModel, Resting};
use crate::flow::tape::Player;
use crate::flow::{Flow, Grid as FlowGrid, Ladder, Level, Print};
use crate::model::{Side, Symbol, TimeMs};

/// A simulator's market with none of the account's orders resting on it runs no gap longer
/// than this event by event: it skips to the caller's time ([`Flow::skip_to`]). Nobody sees
/// its trades (the simulator keeps no public tape), and a run's long quiet stretches (minutes
/// before a late delivery) would otherwise cost thousands of events each.
pub const IDLE_SKIP_MS: u64 = 2_000;

/// Public trades kept per venue (the oldest go first): about 80 minutes of the recorded pace.
pub const MAX_PRINTS: usize = 200_000;

/// How the venue's market behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketConfig {
    /// Other traders trade, refill and move the book ([`crate::flow`]); off: the book moves
    /// only with `set_market`.
    pub live: bool,
    pub fill_model: FillModel,
    /// From a placement (or a cancel) to the book.
    pub order_latency_ms: u64,
    /// How far behind the book the public data is (depth, best quotes, trades, klines).
    pub feed_latency_ms: u64,
    /// The flow's events come this many times faster than recorded.
    pub speed: u64,
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            live: false,
            fill_model: FillModel::Queue,
            order_latency_ms: 0,
            feed_latency_ms: 0,
            speed: 1,
        }
    }
}

/// One trade of the market, as the public endpoints show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicTrade {
    /// 1, 2, ...: the venue's public trade ids.
    pub id: u64,
    pub symbol: Symbol,
    pub t_ms: TimeMs,
    pub price: Decimal,
    pub qty: Decimal,
    /// The taker sold (Binance's `isBuyerMaker`).
    pub buyer_maker: bool,
}

/// What moves a living market: the seeded flow, or a recorded tape.
#[derive(Debug, Clone)]
enum Source {
    Flow(Box<Flow>),
    Tape(Player),
}

impl Source {
    fn next_time(&self) -> TimeMs {
        match self {
            Source::Flow(f) => f.next_time(),
            Source::Tape(p) => p.next_time(),
        }
    }

    /// The next event: its trades into `out`, and a tape's quantities as recorded into
    /// `exact` (the flow's are whole lots).
    fn step(
        &mut self,
        book: &mut Ladder,
        anchor: i64,
        out: &mut Vec<Print>,
        exact: &mut Vec<Decimal>,
    ) {
        match self {
            Source::Flow(f) => f.step(book, anchor, out),
            Source::Tape(p) => p.step(book, out, exact),
        }
    }
}

/// One market's living book.
#[derive(Debug, Clone)]
struct LiveBook {
    source: Source,
    ladder: Ladder,
    grid: FlowGrid,
    /// The mid the scenario last set (ticks): moves are drawn toward it.
    anchor: i64,
    /// The decimal mid of the book the scenario last built, to notice a new `price` row.
    set_mid: Decimal,
    /// `(time, ladder)` of the last states, for a feed that lags.
    past: VecDeque<(TimeMs, Ladder)>,
}

/// The living market of every symbol.
#[derive(Debug, Clone)]
pub(super) struct Live {
    seed: u64,
    books: BTreeMap<Symbol, LiveBook>,
    /// Resting orders by absolute index (order of placement).
    resting: BTreeMap<usize, Resting>,
    prints: VecDeque<PublicTrade>,
    next_print: u64,
    keep_prints: bool,
    /// The market has run to here.
    t: TimeMs,
    /// Fills of the account's resting orders by the market's trades, and how many of those
    /// (in the queue model) filled part of an order and left the rest queued.
    counts: MarketCounts,
}

/// What the market's trades did to the account's resting orders, counted over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarketCounts {
    pub fills_by_flow: u64,
    pub queue_partials: u64,
}

impl Live {
    /// The time the market has run to.
    #[cfg(test)]
    pub(super) fn time(&self) -> TimeMs {
        self.t
    }
}

/// A seed per symbol: the venue's seed mixed with the symbol's name (FNV-1a).
fn symbol_seed(seed: u64, s: &Symbol) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    seed ^ h
}

fn units(x: Decimal, unit: Decimal) -> Option<i64> {
    x.checked_div(unit)?.to_i64()
}

impl SimExchange {
    /// Makes the market live from `now` on (see [`MarketConfig::live`]), the flow seeded
    /// from `seed`; `keep_prints` keeps the public trades (the venue server shows them; the
    /// simulator needs only the fills).
    pub fn go_live(&mut self, seed: u64, now: TimeMs, keep_prints: bool) {
        self.live = Some(Box::new(Live {
            seed,
            books: BTreeMap::new(),
            resting: BTreeMap::new(),
            prints: VecDeque::new(),
            next_print: 1,
            keep_prints,
            t: now,
            counts: MarketCounts::default(),
        }));
    }

    /// Whether the market is live.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// What the market's trades did to the account's resting orders so far (zero on a static
    /// market).
    pub fn market_counts(&self) -> MarketCounts {
        self.live
            .as_ref()
            .map_or_else(MarketCounts::default, |l| l.counts)
    }

    /// The public trades kept, oldest first (empty on a static market).
    pub fn public_trades(&self) -> impl DoubleEndedIterator<Item = &PublicTrade> {
        self.live.iter().flat_map(|l| l.prints.iter())
    }

    /// The book's levels as ticks and lots.
    fn ladder_of(&self, symbol: &Symbol, g: FlowGrid) -> Ladder {
        let side = |levels: &[BookLevelUnits], book: &super::book::Book| {
            levels
                .iter()
                .filter(|l| l.qty.is_positive())
                .filter_map(|l| {
                    let d = book.decimal(l);
                    Some(Level {
                        px: units(d.price, g.tick)?,
                        qty: units(d.qty, g.step)?,
                    })
                })
                .collect()
        };
        self.books
            .get(symbol)
            .map_or_else(Ladder::default, |b| Ladder {
                bids: side(&b.bids, b),
                asks: side(&b.asks, b),
            })
    }

    /// Writes `ladder` into the book of `symbol`.
    fn set_ladder(&mut self, symbol: &Symbol, g: FlowGrid, ladder: &Ladder) {
        let Some(book) = self.books.get_mut(symbol) else {
            return;
        };
        let grid = book.grid;
        let conv = |l: &Level| {
            let px = g.tick.checked_mul(Decimal::from(l.px))?;
            let qty = g.step.checked_mul(Decimal::from(l.qty))?;
            Some(BookLevelUnits {
                price: grid.price(px).ok()?,
                qty: grid.qty(qty).ok()?,
            })
        };
        book.bids.clear();
        book.bids.extend(ladder.bids.iter().filter_map(conv));
        book.asks.clear();
        book.asks.extend(ladder.asks.iter().filter_map(conv));
        if let Some(mid) = ladder.mid() {
            if let Some(m) = g.tick.checked_mul(Decimal::from(mid)) {
                book.mid = m;
            }
        }
    }

    /// Runs the living market to `now`: every flow event up to it, the fills they cause.
    /// Nothing on a static market or when `now` is not later than the market's time.
    /// Returns whether any of the account's orders filled.
    pub fn advance_market(&mut self, now: TimeMs) -> bool {
        let Some(live) = self.live.as_ref() else {
            return false;
        };
        if now < live.t {
            return false;
        }
        let symbols: Vec<Symbol> = self.books.iter().map(|(s, _)| s.clone()).collect();
        let mut filled = false;
        for s in symbols {
            filled |= self.advance_symbol(&s, now);
        }
        if let Some(l) = self.live.as_mut() {
            l.t = now;
        }
        // Stop orders the market's trades reached trigger now, with the market restored.
        self.settle(now);
        filled
    }

    fn advance_symbol(&mut self, symbol: &Symbol, now: TimeMs) -> bool {
        let rules = self.rules(symbol);
        let g = FlowGrid {
            tick: rules.tick_size,
            step: rules.step_size,
        };
        let Some((set_mid, depth)) = self.books.get(symbol).map(|b| (b.mid, b.depth())) else {
            return false;
        };
        let tape = self.cfg.tapes.get(symbol).cloned();
        let levels = self.cfg.levels.clamp(1, 64) as usize;
        let speed = self.cfg.market.speed;
        let Some(mut live) = self.live.take() else {
            return false;
        };
        let start = live.t;
        let mut lb = match live.books.remove(symbol) {
            Some(mut lb) if lb.set_mid == set_mid => {
                // Whatever the account's orders took since is gone from the book.
                lb.ladder = self.ladder_of(symbol, g);
                lb
            }
            Some(lb) if matches!(lb.source, Source::Tape(_)) => {
                // A tape sets the book itself; a price row changes nothing of it.
                let mut lb = lb;
                lb.ladder = self.ladder_of(symbol, g);
                lb
            }
            old => {
                // A new market, or the scenario set a new price: the flow starts over there.
                let anchor = units(set_mid, g.tick).unwrap_or(0);
                let mut ladder = Ladder::default();
                let source = match (old, tape) {
                    (Some(o), _) => o.source,
                    (None, Some(tape)) => {
                        ladder = self.ladder_of(symbol, g);
                        let lots = units(depth, g.step).unwrap_or(1);
                        Source::Tape(Player::new(tape, g, levels, lots, start, speed))
                    }
                    (None, None) => Source::Flow(Box::new(Flow::new(
                        symbol_seed(live.seed, symbol),
                        g,
                        levels,
                        start,
                        speed,
                    ))),
                };
                let mut source = source;
                if let Source::Flow(flow) = &mut source {
                    flow.rebuild(&mut ladder, anchor);
                }
                LiveBook {
                    source,
                    ladder,
                    grid: g,
                    anchor,
                    set_mid,
                    past: VecDeque::new(),
                }
            }
        };
        let mut filled = false;
        let mut prints = Vec::new();
        let mut exact = Vec::new();
        let model = self.cfg.market.fill_model;
        let lag = self.cfg.market.feed_latency_ms;
        if !live.keep_prints
            && now.saturating_sub(lb.source.next_time()) > IDLE_SKIP_MS
            && !live.resting.keys().any(|&i| self.is_open_on(i, symbol))
        {
            if let Source::Flow(f) = &mut lb.source {
                f.skip_to(&mut lb.ladder, lb.anchor, now);
                if lag > 0 {
                    lb.past.clear();
                    lb.past.push_back((now, lb.ladder.clone()));
                }
            }
        }
        while lb.source.next_time() <= now {
            let t = lb.source.next_time();
            self.show_book(&mut live, symbol, &lb, t);
            prints.clear();
            exact.clear();
            lb.source
                .step(&mut lb.ladder, lb.anchor, &mut prints, &mut exact);
            if matches!(lb.source, Source::Tape(_)) {
                // A tape's trade shows the level it hit as it set the book: an order at that
                // price joins behind it before the trade reaches the queue.
                self.show_book(&mut live, symbol, &lb, t);
            }
            for (k, p) in prints.iter().enumerate() {
                self.note_trade(symbol, g.tick * Decimal::from(p.px));
                filled |= self.trade_reaches(&mut live, symbol, g, model, p);
                if live.keep_prints {
                    let id = live.next_print;
                    live.next_print += 1;
                    live.prints.push_back(PublicTrade {
                        id,
                        symbol: symbol.clone(),
                        t_ms: p.t,
                        price: g.tick * Decimal::from(p.px),
                        qty: exact
                            .get(k)
                            .copied()
                            .unwrap_or_else(|| g.step * Decimal::from(p.qty)),
                        buyer_maker: p.taker == Side::Sell,
                    });
                }
            }
            filled |= self.crossed_through(&mut live, symbol, g, &lb.ladder, t);
            self.show_book(&mut live, symbol, &lb, t);
            if lag > 0 {
                lb.past.push_back((t, lb.ladder.clone()));
                while lb.past.len() > 1 && lb.past[1].0.saturating_add(lag) <= t {
                    lb.past.pop_front();
                }
            }
        }
        while live.prints.len() > MAX_PRINTS {
            live.prints.pop_front();
        }
        self.set_ladder(symbol, g, &lb.ladder);
        if let Some(b) = self.books.get(symbol) {
            lb.set_mid = b.mid;
        }
        live.books.insert(symbol.clone(), lb);
        self.live = Some(live);
        filled
    }

    /// Every resting order of `symbol` learns what the book shows at its price at `t`.
    fn show_book(&self, live: &mut Live, symbol: &Symbol, lb: &LiveBook, t: TimeMs) {
        for (&i, r) in live.resting.iter_mut() {
            if self.is_open_on(i, symbol) {
                r.on_book(t, lb.ladder.shown(r.side, r.px));
            }
        }
    }

    fn is_open_on(&self, i: usize, symbol: &Symbol) -> bool {
        i >= self.order_base
            && self.open.contains(&i)
            && &self.order(i).symbol == symbol
            && self.order(i).status == OrderStatus::Open
    }

    /// A trade of the market meets the resting orders of `symbol`, oldest first.
    fn trade_reaches(
        &mut self,
        live: &mut Live,
        symbol: &Symbol,
        g: FlowGrid,
        model: FillModel,
        p: &Print,
    ) -> bool {
        let mut fills = Vec::new();
        for (&i, r) in live.resting.iter_mut() {
            if self.is_open_on(i, symbol) {
                let lots = r.on_trade(model, p);
                if lots > 0 {
                    fills.push((i, r.px, lots));
                    live.counts.fills_by_flow += 1;
                    if model == FillModel::Queue && r.left > 0 && p.px == r.px {
                        live.counts.queue_partials += 1;
                    }
                }
            }
        }
        self.apply_fills(live, g, fills, p.t)
    }

    /// The book moved through a resting order's price: it filled in full at its limit.
    fn crossed_through(
        &mut self,
        live: &mut Live,
        symbol: &Symbol,
        g: FlowGrid,
        ladder: &Ladder,
        t: TimeMs,
    ) -> bool {
        let mut fills = Vec::new();
        for (&i, r) in live.resting.iter_mut() {
            if self.is_open_on(i, symbol) && r.live_at(t) && ladder.crossed(r.side, r.px) {
                fills.push((i, r.px, r.left));
                r.left = 0;
            }
        }
        self.apply_fills(live, g, fills, t)
    }

    fn apply_fills(
        &mut self,
        live: &mut Live,
        g: FlowGrid,
        fills: Vec<(usize, i64, i64)>,
        t: TimeMs,
    ) -> bool {
        let any = !fills.is_empty();
        for (i, px, lots) in fills {
            // An OCO leg expired by its pair's earlier fill in the same batch.
            if self.order(i).status != OrderStatus::Open {
                live.resting.remove(&i);
                continue;
            }
            let price = g.tick * Decimal::from(px);
            let qty = (g.step * Decimal::from(lots)).min(self.order(i).remaining);
            if qty > Decimal::ZERO {
                self.fill(i, price, qty, t);
            }
            if self.order(i).status != OrderStatus::Open {
                live.resting.remove(&i);
            }
        }
        any
    }

    /// Order `i` rests on the book from now: the fill model follows it from when it arrives.
    pub(super) fn rest(&mut self, i: usize, now: TimeMs) {
        let latency = self.cfg.market.order_latency_ms;
        let o = self.order(i);
        let rules = self.rules(&o.symbol);
        let (Some(px), Some(lots)) = (
            units(o.price, rules.tick_size),
            units(o.remaining, rules.step_size),
        ) else {
            return;
        };
        let side = o.side;
        if let Some(live) = self.live.as_mut() {
            live.resting
                .insert(i, Resting::new(side, px, lots, now, latency));
        }
    }

    /// Before a cancel lands: the market runs on for the order latency, and the order leaves
    /// the fill model.
    pub(super) fn before_cancel(&mut self, now: TimeMs) {
        let latency = self.cfg.market.order_latency_ms;
        if latency > 0 {
            self.advance_market(now.saturating_add(latency));
        }
    }

    /// The account's own trades from absolute index `from` on, printed on the public tape as
    /// a taker's.
    pub(super) fn print_own(&mut self, from: usize) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if !live.keep_prints {
            return;
        }
        let k = from.saturating_sub(self.trade_base);
        for (_, t) in self.trades.range(k.min(self.trades.len())..) {
            let id = live.next_print;
            live.next_print += 1;
            live.prints.push_back(PublicTrade {
                id,
                symbol: t.symbol.clone(),
                t_ms: t.t_ms,
                price: t.price,
                qty: t.qty,
                buyer_maker: t.side == Side::Sell,
            });
        }
    }

    /// The levels of `symbol` as the feed shows them at `now` (the book `feed_latency_ms`
    /// ago), bids and asks best first, as decimals.
    pub fn seen_book(
        &self,
        symbol: &Symbol,
        now: TimeMs,
    ) -> (Vec<super::BookLevel>, Vec<super::BookLevel>) {
        let lag = self.cfg.market.feed_latency_ms;
        let past = self
            .live
            .as_ref()
            .filter(|_| lag > 0)
            .and_then(|l| l.books.get(symbol))
            .and_then(|lb| {
                let at = now.saturating_sub(lag);
                let k = lb.past.partition_point(|p| p.0 <= at);
                lb.past.get(k.checked_sub(1)?).map(|p| (lb.grid, &p.1))
            });
        match past {
            Some((g, ladder)) => {
                let conv = |l: &Level| super::BookLevel {
                    price: g.tick * Decimal::from(l.px),
                    qty: g.step * Decimal::from(l.qty),
                };
                (
                    ladder.bids.iter().map(conv).collect(),
                    ladder.asks.iter().map(conv).collect(),
                )
            }
            None => (self.bids(symbol), self.asks(symbol)),
        }
    }

    /// How far behind the book the public data is.
    pub fn feed_latency_ms(&self) -> u64 {
        self.cfg.market.feed_latency_ms
    }

    /// The mid as the feed shows it at `now`.
    pub fn seen_mid(&self, symbol: &Symbol, now: TimeMs) -> Option<Decimal> {
        if !self.is_live() {
            return self.mid(symbol);
        }
        let (b, a) = self.seen_book(symbol, now);
        match (b.first(), a.first()) {
            (Some(b), Some(a)) => Some((b.price + a.price) / Decimal::TWO),
            _ => self.mid(symbol),
        }
    }
}

//! The simulated venue: Binance spot's rules over a synthetic order book.
//!
//! It is the ground truth for money in the deterministic simulator, so it holds no randomness
//! and reads no clock: the simulator decides faults and passes them in with [`SimExchange::arm`],
//! and every call carries its `now`. Nothing it iterates lives in a `HashMap`; hash maps serve
//! lookups only, so their order can never reach an output.
//!
//! The book of a symbol is rebuilt around a mid price by [`SimExchange::set_market`]: `levels`
//! price levels per side, each holding `depth`. Fills consume that depth until the next
//! `set_market` of the symbol. Resting (GTC) orders are not part of that book; they fill when a
//! later `set_market` (or a requote) moves the book across their limit.
//!
//! Like Binance spot, a `client_order_id` is by default unique only among *open* orders
//! ([`Dedup::OpenOnly`]), so a blind resend of a finished order's id creates a second order.

use crate::model::SmallMap;
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rustc_hash::FxHashMap as HashMap;

use rust_decimal::Decimal;

use super::{Exchange, ExchangeError, Order, OrderStatus, Trade};
use crate::model::{
    bps_fraction, ceil_to, floor_to, on_grid, Asset, ClientOrderId, OrderId, Side, Symbol, Tif,
    TimeMs, TradeId,
};
use crate::router::{MarketRules, OrderRequest};

/// How the venue treats a placement whose `client_order_id` was used before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dedup {
    /// Binance spot: a duplicate only while an order with that id is open.
    #[default]
    OpenOnly,
    /// The friendlier option: an id can be used once, ever.
    Always,
}

/// The venue's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueConfig {
    /// Rules of markets not listed in `markets`.
    pub default_rules: MarketRules,
    pub markets: BTreeMap<Symbol, MarketRules>,
    /// A placement reaching the venue later than this after it was sent is refused.
    pub recv_window_ms: u64,
    pub dedup: Dedup,
    /// Price levels per book side.
    pub levels: u32,
    /// How long a finished order (and its trades) stays queryable after it ended; `None` (the
    /// default) keeps every order forever.
    ///
    /// A real venue keeps finished orders queryable for a long time, and a router may still
    /// query an order whose reply was lost (it keeps asking, with backoff, until it learns the
    /// outcome), so retention must be far longer than any query the router can still make:
    /// minutes, not seconds. An order forgotten too early answers `NotFound`, which a router
    /// reads as "never placed" once the receive window has passed. With [`Dedup::Always`] a
    /// forgotten client id can be used again.
    pub order_retention_ms: Option<u64>,
}

impl Default for VenueConfig {
    /// Binance spot BTC/USDT with its minimum notional of 5.
    fn default() -> Self {
        VenueConfig {
            default_rules: MarketRules {
                min_notional: Decimal::from(5),
                ..MarketRules::default()
            },
            markets: BTreeMap::new(),
            recv_window_ms: 5_000,
            dedup: Dedup::OpenOnly,
            levels: 10,
            order_retention_ms: None,
        }
    }
}

/// A scripted outcome for the next placement only (the simulator draws it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementFault {
    /// Refused by the venue (-1013), nothing executed.
    Reject,
    /// At most `ratio` of the quantity (rounded down to the step) fills; the rest expires,
    /// whatever the time in force.
    Partial { ratio: Decimal },
    /// Before the order matches, the market moves `bps` against it, and stays there.
    Requote { bps: Decimal },
}

/// A scripted oddity of the next trade query's answer only (the simulator draws it). Real
/// venues answer trade queries from an eventually consistent store, by symbol rather than by
/// order, and across pages: a router must take each answer for what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradesFault {
    /// One of the order's trades appears twice.
    Repeat,
    /// A trade of another order (the latest one the venue holds) comes along.
    Foreign,
    /// Only the first half of the order's trades (rounded down) is visible yet.
    Split,
}

/// One asset of the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Funds {
    /// Spendable.
    pub free: Decimal,
    /// Held by open orders.
    pub locked: Decimal,
}

impl Funds {
    /// What the account owns of the asset.
    pub fn total(&self) -> Decimal {
        self.free.saturating_add(self.locked)
    }
}

/// One price level of the synthetic book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookLevel {
    pub price: Decimal,
    /// What is left at this price until the next `set_market`.
    pub qty: Decimal,
}

#[derive(Debug, Clone)]
struct Book {
    mid: Decimal,
    spread_bps: Decimal,
    depth: Decimal,
    /// Best (highest) first.
    bids: Vec<BookLevel>,
    /// Best (lowest) first.
    asks: Vec<BookLevel>,
}

/// What the venue keeps about an order beyond the public snapshot.
#[derive(Debug, Clone)]
struct Meta {
    tif: Tif,
    fee_rate: Decimal,
    /// Still locked for this order (quote for a buy, base for a sell).
    lock_left: Decimal,
    /// Sum of the fills' notionals, for the average price.
    cost: Decimal,
    /// When the order became final (the `now` of the call that ended it); `None` while open.
    final_ms: Option<TimeMs>,
}

/// The simulated venue.
#[derive(Debug, Clone)]
pub struct SimExchange {
    cfg: VenueConfig,
    books: SmallMap<Symbol, Book>,
    funds: SmallMap<Asset, Funds>,
    /// The retained orders, oldest first; `orders[k]` has the absolute index `order_base + k`.
    /// Every index below (in the maps and sets) is absolute and never changes.
    orders: VecDeque<Order>,
    /// Parallel to `orders`.
    meta: VecDeque<Meta>,
    /// Orders forgotten so far (the absolute index of `orders[0]`).
    order_base: usize,
    /// The retained trades in execution order, each with its order's absolute index;
    /// `trades[k]` has the absolute index `trade_base + k`.
    trades: VecDeque<(usize, Trade)>,
    /// Trades forgotten so far.
    trade_base: usize,
    // Lookups only (never iterated), so their order cannot reach any output.
    /// The latest order of a client id, any symbol (for `Dedup::Always`).
    latest_by_coid: HashMap<ClientOrderId, usize>,
    /// The latest order of a client id on a symbol (for `fetch_order`).
    latest_by_symbol_coid: HashMap<(Symbol, ClientOrderId), usize>,
    /// The open order of a client id; dedup keeps it at most one.
    open_by_coid: HashMap<ClientOrderId, usize>,
    trades_by_order: HashMap<OrderId, SmallVec<[usize; 2]>>,
    /// Open orders, oldest first.
    open: BTreeSet<usize>,
    open_by_symbol: BTreeMap<Symbol, BTreeSet<usize>>,
    armed: Option<PlacementFault>,
    armed_trades: Option<TradesFault>,
}

const INSUFFICIENT_BALANCE: &str = "Account has insufficient balance for requested action.";

fn rejected(code: i32, message: &str) -> ExchangeError {
    ExchangeError::Rejected {
        code,
        message: message.to_string(),
    }
}

fn filter_failure(filter: &str) -> ExchangeError {
    rejected(-1013, &format!("Filter failure: {filter}"))
}

/// `a - b`, but never below zero (only reachable through rounding at the edge of `Decimal`).
fn sub_floor0(a: Decimal, b: Decimal) -> Decimal {
    a.checked_sub(b)
        .map_or(Decimal::ZERO, |x| x.max(Decimal::ZERO))
}

fn crosses(side: Side, limit: Decimal, level: Decimal) -> bool {
    match side {
        Side::Buy => level <= limit,
        Side::Sell => level >= limit,
    }
}

/// What an order of `qty` at `limit` locks: quote for price and fee, or the base it sells.
fn lock_for(side: Side, qty: Decimal, limit: Decimal, fee_rate: Decimal) -> Option<Decimal> {
    match side {
        Side::Buy => qty
            .checked_mul(limit)?
            .checked_mul(Decimal::ONE.checked_add(fee_rate)?),
        Side::Sell => Some(qty),
    }
}

/// The most a `Partial { ratio }` lets an order of `qty` fill.
fn partial_cap(qty: Decimal, ratio: Decimal, step: Decimal) -> Decimal {
    if ratio <= Decimal::ZERO {
        Decimal::ZERO
    } else if ratio >= Decimal::ONE {
        qty
    } else {
        qty.checked_mul(ratio)
            .and_then(|q| floor_to(q, step))
            .unwrap_or(Decimal::ZERO)
            .clamp(Decimal::ZERO, qty)
    }
}

/// Rebuilds `book` around `mid` in place (its level vectors are reused). `None`, with `book`
/// untouched, when the numbers overflow or `mid` or the tick is not positive.
fn build_book(
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
    book.mid = mid;
    book.spread_bps = spread_bps;
    book.depth = depth;
    book.asks.clear();
    book.bids.clear();
    let (mut ask, mut bid) = (Some(best_ask), Some(best_bid));
    for _ in 0..levels {
        let bid_ok = bid.filter(|&b| b > Decimal::ZERO);
        if ask.is_none() && bid_ok.is_none() {
            break;
        }
        if let Some(price) = ask {
            book.asks.push(BookLevel { price, qty: depth });
        }
        if let Some(price) = bid_ok {
            book.bids.push(BookLevel { price, qty: depth });
        }
        ask = ask.and_then(|a| a.checked_add(spacing));
        bid = bid_ok.and_then(|b| b.checked_sub(spacing));
    }
    Some(())
}

impl SimExchange {
    pub fn new(cfg: VenueConfig) -> Self {
        SimExchange {
            cfg,
            books: SmallMap::default(),
            funds: SmallMap::default(),
            orders: VecDeque::with_capacity(64),
            meta: VecDeque::with_capacity(64),
            order_base: 0,
            trades: VecDeque::with_capacity(64),
            trade_base: 0,
            // Sized for a small run up front: growing from nothing rehashes several times.
            latest_by_coid: HashMap::with_capacity_and_hasher(64, Default::default()),
            latest_by_symbol_coid: HashMap::with_capacity_and_hasher(64, Default::default()),
            open_by_coid: HashMap::with_capacity_and_hasher(64, Default::default()),
            trades_by_order: HashMap::with_capacity_and_hasher(64, Default::default()),
            open: BTreeSet::new(),
            open_by_symbol: BTreeMap::new(),
            armed: None,
            armed_trades: None,
        }
    }

    pub fn config(&self) -> &VenueConfig {
        &self.cfg
    }

    /// The trading rules of `symbol`.
    pub fn rules(&self, symbol: &Symbol) -> MarketRules {
        self.cfg
            .markets
            .get(symbol)
            .copied()
            .unwrap_or(self.cfg.default_rules)
    }

    /// Credits `amount` as free funds. A non-positive amount is ignored (funds never go
    /// negative); a sum beyond `Decimal::MAX` saturates.
    pub fn deposit(&mut self, asset: &Asset, amount: Decimal) {
        if amount <= Decimal::ZERO {
            return;
        }
        let f = self.funds.get_or_insert_with(asset, Funds::default);
        f.free = f.free.saturating_add(amount);
    }

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
                let cap = levels.min(64) as usize;
                let mut book = Book {
                    mid,
                    spread_bps,
                    depth,
                    bids: Vec::with_capacity(cap),
                    asks: Vec::with_capacity(cap),
                };
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

    /// The mid the book of `symbol` was last built around.
    pub fn mid(&self, symbol: &Symbol) -> Option<Decimal> {
        self.books.get(symbol).map(|b| b.mid)
    }

    /// The best bid and ask that still hold liquidity; `None` without a book or when a side
    /// is exhausted.
    pub fn best_bid_ask(&self, symbol: &Symbol) -> Option<(Decimal, Decimal)> {
        let book = self.books.get(symbol)?;
        let live = |levels: &[BookLevel]| {
            levels
                .iter()
                .find(|l| l.qty > Decimal::ZERO)
                .map(|l| l.price)
        };
        Some((live(&book.bids)?, live(&book.asks)?))
    }

    /// The bid levels of `symbol`, best first, with what is left at each (possibly zero).
    pub fn bids(&self, symbol: &Symbol) -> &[BookLevel] {
        self.books.get(symbol).map_or(&[], |b| &b.bids)
    }

    /// The ask levels of `symbol`, best first, with what is left at each (possibly zero).
    pub fn asks(&self, symbol: &Symbol) -> &[BookLevel] {
        self.books.get(symbol).map_or(&[], |b| &b.asks)
    }

    /// The next call to `place` (only) suffers this fault; cleared by that call whatever
    /// happens. Arming again replaces a fault not yet used.
    pub fn arm(&mut self, fault: PlacementFault) {
        self.armed = Some(fault);
    }

    /// Scripts the answer of the next trade query.
    pub fn arm_trades(&mut self, fault: TradesFault) {
        self.armed_trades = Some(fault);
    }

    /// The latest order of `client_order_id` on `symbol`, as the venue holds it now.
    pub fn order_by_coid(
        &self,
        symbol: &Symbol,
        client_order_id: &ClientOrderId,
    ) -> Option<&Order> {
        self.latest_by_symbol_coid
            .get(&(symbol.clone(), client_order_id.clone()))
            .map(|&i| self.order(i))
    }

    /// The fault the next placement will suffer, if any.
    pub fn armed(&self) -> Option<PlacementFault> {
        self.armed
    }

    pub fn funds(&self, asset: &Asset) -> Funds {
        self.funds.get(asset).copied().unwrap_or_default()
    }

    /// Every asset the account ever held, in asset order.
    pub fn assets(&self) -> impl Iterator<Item = (&Asset, Funds)> {
        self.funds.iter().map(|(a, f)| (a, *f))
    }

    /// How many orders were ever created, forgotten ones included; the next order's absolute
    /// index.
    pub fn order_count(&self) -> usize {
        self.order_base + self.orders.len()
    }

    /// How many trades ever executed, forgotten ones included.
    pub fn trade_count(&self) -> usize {
        self.trade_base + self.trades.len()
    }

    /// The absolute index of the oldest retained order (`order_count()` when none is): every
    /// order below it was forgotten. Always 0 without retention.
    pub fn first_retained_order(&self) -> usize {
        self.order_base
    }

    /// The absolute index of the oldest retained trade (`trade_count()` when none is).
    pub fn first_retained_trade(&self) -> usize {
        self.trade_base
    }

    /// The retained orders, in creation order: every order ever created without retention.
    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.iter()
    }

    /// The retained trades, in execution order: every trade ever executed without retention.
    pub fn trades(&self) -> impl Iterator<Item = &Trade> {
        self.trades.iter().map(|(_, t)| t)
    }

    /// The retained orders whose absolute index is at least `n`, in creation order (from the
    /// oldest retained one when `n` was already forgotten).
    pub fn orders_from(&self, n: usize) -> impl Iterator<Item = &Order> {
        let k = n.saturating_sub(self.order_base).min(self.orders.len());
        self.orders.range(k..)
    }

    /// The retained trades whose absolute index is at least `n`, in execution order (from the
    /// oldest retained one when `n` was already forgotten).
    pub fn trades_from(&self, n: usize) -> impl Iterator<Item = &Trade> {
        let k = n.saturating_sub(self.trade_base).min(self.trades.len());
        self.trades.range(k..).map(|(_, t)| t)
    }

    /// The orders currently open, oldest first.
    pub fn open_orders(&self) -> impl Iterator<Item = &Order> {
        self.open.iter().map(|&i| self.order(i))
    }

    /// The order of absolute index `i`, which must be retained (open orders always are).
    fn order(&self, i: usize) -> &Order {
        &self.orders[i - self.order_base]
    }

    /// Forgets the oldest orders that ended at least `order_retention_ms` before `now`, with
    /// their trades; nothing without retention. It stops at the first order still open or
    /// too young, so an old resting order holds back the later ones until it ends: simple, and
    /// amortised O(1) per order.
    pub fn forget_before(&mut self, now: TimeMs) {
        let Some(retention) = self.cfg.order_retention_ms else {
            return;
        };
        while let Some(meta) = self.meta.front() {
            match meta.final_ms {
                Some(t) if t.saturating_add(retention) <= now => {}
                _ => break,
            }
            let i = self.order_base;
            self.meta.pop_front();
            let Some(o) = self.orders.pop_front() else {
                break;
            };
            self.order_base += 1;
            if self.latest_by_coid.get(&o.client_order_id) == Some(&i) {
                self.latest_by_coid.remove(&o.client_order_id);
            }
            let key = (o.symbol, o.client_order_id);
            if self.latest_by_symbol_coid.get(&key) == Some(&i) {
                self.latest_by_symbol_coid.remove(&key);
            }
            self.trades_by_order.remove(&o.order_id);
        }
        // Trades are in execution order; an old resting order's late fills may hold back the
        // trades of orders already forgotten until it goes as well.
        while self
            .trades
            .front()
            .is_some_and(|&(i, _)| i < self.order_base)
        {
            self.trades.pop_front();
            self.trade_base += 1;
        }
    }

    /// Walks the opposite side of the book for order `i`, filling at most `max_fill`.
    fn match_order(&mut self, i: usize, now: TimeMs, max_fill: Decimal) {
        let k = i - self.order_base;
        let (symbol, side, limit) = {
            let o = &self.orders[k];
            (o.symbol.clone(), o.side, o.price)
        };
        let fee_rate = self.meta[k].fee_rate;
        let mut left = self.orders[k].remaining.min(max_fill);
        let Some(book) = self.books.get_mut(&symbol) else {
            return;
        };
        let levels = match side {
            Side::Buy => &mut book.asks,
            Side::Sell => &mut book.bids,
        };
        let mut fills = Vec::new();
        for level in levels.iter_mut() {
            if left <= Decimal::ZERO || !crosses(side, limit, level.price) {
                break;
            }
            let q = level.qty.min(left);
            if q <= Decimal::ZERO {
                continue;
            }
            // A fill whose money cannot be computed does not happen.
            let computable = level
                .price
                .checked_mul(q)
                .and_then(|n| n.checked_mul(fee_rate))
                .is_some();
            if !computable {
                break;
            }
            level.qty -= q;
            left -= q;
            fills.push((level.price, q));
        }
        for (price, qty) in fills {
            self.fill(i, price, qty, now);
        }
    }

    /// One trade of order `i`: `qty` at `price`. The caller made sure the money computes.
    fn fill(&mut self, i: usize, price: Decimal, qty: Decimal, now: TimeMs) {
        let k = i - self.order_base;
        let t = self.trade_count();
        let meta = &mut self.meta[k];
        let o = &mut self.orders[k];
        let notional = price.checked_mul(qty).unwrap_or(Decimal::ZERO);
        let fee = notional.checked_mul(meta.fee_rate).unwrap_or(Decimal::ZERO);
        let release = match o.side {
            Side::Buy => lock_for(Side::Buy, qty, o.price, meta.fee_rate)
                .unwrap_or(meta.lock_left)
                .min(meta.lock_left),
            Side::Sell => qty.min(meta.lock_left),
        };
        meta.lock_left -= release;
        meta.cost = meta.cost.saturating_add(notional);
        o.filled = o.filled.saturating_add(qty);
        o.remaining = sub_floor0(o.remaining, qty);
        o.average = meta.cost.checked_div(o.filled);
        o.fee = o.fee.saturating_add(fee);
        let (base, quote) = (o.symbol.base().clone(), o.symbol.quote().clone());
        let side = o.side;
        let trade = Trade {
            trade_id: TradeId::numbered("T", t as u64 + 1),
            order_id: o.order_id.clone(),
            symbol: o.symbol.clone(),
            side,
            price,
            qty,
            fee,
            fee_asset: quote.clone(),
            t_ms: now,
        };
        let done = o.remaining.is_zero();
        self.trades_by_order
            .entry(trade.order_id.clone())
            .or_default()
            .push(t);
        self.trades.push_back((i, trade));
        match side {
            Side::Buy => {
                let q = self.funds.get_or_insert_with(&quote, Funds::default);
                q.locked = sub_floor0(q.locked, release);
                let cost = notional.saturating_add(fee);
                q.free = sub_floor0(q.free.saturating_add(release), cost);
                let b = self.funds.get_or_insert_with(&base, Funds::default);
                b.free = b.free.saturating_add(qty);
            }
            Side::Sell => {
                let b = self.funds.get_or_insert_with(&base, Funds::default);
                b.locked = sub_floor0(b.locked, release);
                let q = self.funds.get_or_insert_with(&quote, Funds::default);
                q.free = q.free.saturating_add(sub_floor0(notional, fee));
            }
        }
        if done {
            self.finish(i, OrderStatus::Closed, now);
        }
    }

    /// Ends order `i` with `status` at `now`: what is still locked for it returns to free, and
    /// it leaves the open lists.
    fn finish(&mut self, i: usize, status: OrderStatus, now: TimeMs) {
        let k = i - self.order_base;
        if self.orders[k].status.is_final() {
            return;
        }
        let o = &mut self.orders[k];
        o.status = status;
        let asset = match o.side {
            Side::Buy => o.symbol.quote().clone(),
            Side::Sell => o.symbol.base().clone(),
        };
        let meta = &mut self.meta[k];
        meta.final_ms = Some(now);
        let amount = std::mem::take(&mut meta.lock_left);
        let f = self.funds.get_or_insert_with(&asset, Funds::default);
        f.locked = sub_floor0(f.locked, amount);
        f.free = f.free.saturating_add(amount);
        let o = &self.orders[k];
        self.open.remove(&i);
        if let Some(set) = self.open_by_symbol.get_mut(&o.symbol) {
            set.remove(&i);
            if set.is_empty() {
                self.open_by_symbol.remove(&o.symbol);
            }
        }
        if self.open_by_coid.get(&o.client_order_id) == Some(&i) {
            self.open_by_coid.remove(&o.client_order_id);
        }
    }

    /// Moves the market of `symbol` `bps` against an order of `side` and rebuilds its book
    /// with the same spread and depth (resting orders match against it as on any move).
    fn requote(&mut self, now: TimeMs, symbol: &Symbol, side: Side, bps: Decimal) {
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

    /// Checks (4) and (5) of a placement: returns the lock and the fee rate.
    fn admit(&self, r: &OrderRequest) -> Result<(Asset, Decimal, Decimal), ExchangeError> {
        if self.books.get(r.symbol()).is_none() {
            return Err(rejected(-1121, "Invalid symbol."));
        }
        let rules = self.rules(r.symbol());
        if rules.fee_bps < Decimal::ZERO || rules.fee_bps >= Decimal::from(10_000) {
            return Err(rejected(-1013, "Invalid market rules: fee_bps."));
        }
        let (qty, limit) = (r.qty(), r.limit_price());
        if limit <= Decimal::ZERO || !on_grid(limit, rules.tick_size) {
            return Err(filter_failure("PRICE_FILTER"));
        }
        if qty <= Decimal::ZERO || !on_grid(qty, rules.step_size) {
            return Err(filter_failure("LOT_SIZE"));
        }
        let notional = qty
            .checked_mul(limit)
            .ok_or_else(|| filter_failure("NOTIONAL"))?;
        if notional < rules.min_notional {
            return Err(filter_failure("MIN_NOTIONAL"));
        }
        let fee_rate = rules
            .fee_bps
            .checked_mul(bps_fraction())
            .ok_or_else(|| filter_failure("NOTIONAL"))?;
        let lock =
            lock_for(r.side(), qty, limit, fee_rate).ok_or_else(|| filter_failure("NOTIONAL"))?;
        let asset = match r.side() {
            Side::Buy => r.symbol().quote().clone(),
            Side::Sell => r.symbol().base().clone(),
        };
        if self.funds(&asset).free < lock {
            return Err(rejected(-2010, INSUFFICIENT_BALANCE));
        }
        Ok((asset, lock, fee_rate))
    }
}

impl Exchange for SimExchange {
    fn place(&mut self, now: TimeMs, r: &OrderRequest) -> Result<Order, ExchangeError> {
        self.forget_before(now);
        let fault = self.armed.take();
        if now > r.sent_ms().saturating_add(self.cfg.recv_window_ms) {
            return Err(ExchangeError::RecvWindowExpired);
        }
        if fault == Some(PlacementFault::Reject) {
            return Err(filter_failure("PERCENT_PRICE_BY_SIDE"));
        }
        let coid = r.client_order_id();
        let duplicate = match self.cfg.dedup {
            Dedup::OpenOnly => self.open_by_coid.contains_key(coid),
            Dedup::Always => self.latest_by_coid.contains_key(coid),
        };
        if duplicate {
            return Err(ExchangeError::DuplicateClientOrderId(coid.clone()));
        }
        let (asset, lock, fee_rate) = self.admit(r)?;
        let f = self.funds.get_or_insert_with(&asset, Funds::default);
        f.free -= lock; // admit checked lock <= free
        f.locked = f.locked.saturating_add(lock);
        if let Some(PlacementFault::Requote { bps }) = fault {
            self.requote(now, r.symbol(), r.side(), bps);
        }
        let i = self.order_count();
        self.orders
            .push_back(Order::accepted(OrderId::numbered("", i as u64 + 1), r));
        self.meta.push_back(Meta {
            tif: r.tif(),
            fee_rate,
            lock_left: lock,
            cost: Decimal::ZERO,
            final_ms: None,
        });
        self.latest_by_coid.insert(coid.clone(), i);
        self.latest_by_symbol_coid
            .insert((r.symbol().clone(), coid.clone()), i);
        let partial = match fault {
            Some(PlacementFault::Partial { ratio }) => Some(partial_cap(
                r.qty(),
                ratio,
                self.rules(r.symbol()).step_size,
            )),
            _ => None,
        };
        self.match_order(i, now, partial.unwrap_or(r.qty()));
        let k = i - self.order_base;
        if self.orders[k].status == OrderStatus::Open {
            if partial.is_some() || self.meta[k].tif == Tif::Ioc {
                self.finish(i, OrderStatus::Expired, now);
            } else {
                self.open.insert(i);
                self.open_by_symbol
                    .entry(r.symbol().clone())
                    .or_default()
                    .insert(i);
                self.open_by_coid.insert(coid.clone(), i);
            }
        }
        Ok(self.orders[k].clone())
    }

    fn fetch_order(
        &mut self,
        _now: TimeMs,
        symbol: &Symbol,
        client_order_id: &ClientOrderId,
    ) -> Result<Order, ExchangeError> {
        self.latest_by_symbol_coid
            .get(&(symbol.clone(), client_order_id.clone()))
            .map(|&i| self.order(i).clone())
            .ok_or(ExchangeError::NotFound)
    }

    fn fetch_trades(
        &mut self,
        _now: TimeMs,
        symbol: &Symbol,
        order_id: &OrderId,
    ) -> Result<Vec<Trade>, ExchangeError> {
        let mut answer: Vec<Trade> = self
            .trades_by_order
            .get(order_id)
            .into_iter()
            .flatten()
            .map(|&i| &self.trades[i - self.trade_base].1)
            .filter(|t| &t.symbol == symbol)
            .cloned()
            .collect();
        match self.armed_trades.take() {
            Some(TradesFault::Repeat) => {
                if let Some(t) = answer.first().cloned() {
                    answer.push(t);
                }
            }
            Some(TradesFault::Foreign) => {
                let other = self
                    .trades
                    .iter()
                    .rev()
                    .find(|(_, t)| &t.order_id != order_id);
                if let Some((_, t)) = other {
                    answer.insert(0, t.clone());
                }
            }
            Some(TradesFault::Split) => answer.truncate(answer.len() / 2),
            None => {}
        }
        Ok(answer)
    }

    fn cancel(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        client_order_id: &ClientOrderId,
    ) -> Result<Order, ExchangeError> {
        let i = self
            .open_by_coid
            .get(client_order_id)
            .copied()
            .filter(|&i| &self.order(i).symbol == symbol)
            .ok_or(ExchangeError::NotFound)?;
        self.finish(i, OrderStatus::Canceled, now);
        Ok(self.order(i).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Intent;
    use crate::model::IntentId;
    use crate::portfolio::Portfolio;
    use crate::router::{Action, Input, Router, RouterConfig};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }
    fn btc_usdt() -> Symbol {
        Symbol::parse("BTC/USDT").unwrap()
    }
    fn usdt() -> Asset {
        Asset::new("USDT").unwrap()
    }
    fn btc() -> Asset {
        Asset::new("BTC").unwrap()
    }
    fn coid(id: &str) -> ClientOrderId {
        ClientOrderId::for_attempt(&IntentId::new(id).unwrap(), 1)
    }

    /// An `OrderRequest` exactly as given. Only the router can make one, so this drives a
    /// router whose own rules are finer than any venue's and whose budget is unlimited; the
    /// client id is `coid(id)`.
    fn request(
        id: &str,
        symbol: &Symbol,
        side: Side,
        qty: &str,
        limit: &str,
        tif: Tif,
        sent_ms: TimeMs,
    ) -> OrderRequest {
        let fine = MarketRules {
            tick_size: d("0.00000001"),
            step_size: d("0.00000001"),
            min_notional: Decimal::ZERO,
            fee_bps: Decimal::ZERO,
        };
        let cfg = RouterConfig {
            tif,
            slippage_bps: Decimal::ZERO,
            min_notional: Decimal::ZERO,
            default_rules: fine,
            ..RouterConfig::default()
        };
        let mut portfolio = Portfolio::new();
        for a in [symbol.base(), symbol.quote()] {
            portfolio.deposit(a, d("1000000000000000")).unwrap();
        }
        let mut router = Router::new(cfg, portfolio).unwrap();
        let intent = Intent::new(
            IntentId::new(id).unwrap(),
            sent_ms,
            symbol.clone(),
            side,
            d(qty),
            d(limit),
        )
        .unwrap();
        router.handle(sent_ms, Input::Deliver(intent));
        router.journal_durable(u64::MAX);
        while let Some(cmd) = router.poll_command() {
            if let Action::Place(r) = cmd.action {
                assert_eq!(r.client_order_id(), &coid(id));
                assert_eq!((r.qty(), r.limit_price()), (d(qty), d(limit)));
                return r;
            }
        }
        panic!("the router placed nothing for {id}");
    }

    fn buy(id: &str, qty: &str, limit: &str, tif: Tif) -> OrderRequest {
        request(id, &btc_usdt(), Side::Buy, qty, limit, tif, 0)
    }
    fn sell(id: &str, qty: &str, limit: &str, tif: Tif) -> OrderRequest {
        request(id, &btc_usdt(), Side::Sell, qty, limit, tif, 0)
    }

    /// Default venue, BTC/USDT at 50000 (bid 49995, ask 50005, levels 5 apart), `depth` each.
    fn venue(cfg: VenueConfig, usdt_amount: &str, btc_amount: &str, depth: &str) -> SimExchange {
        let mut x = SimExchange::new(cfg);
        x.deposit(&usdt(), d(usdt_amount));
        x.deposit(&btc(), d(btc_amount));
        x.set_market(0, &btc_usdt(), d("50000"), d("2"), d(depth));
        x
    }

    fn rejected_with(r: Result<Order, ExchangeError>) -> (i32, String) {
        match r {
            Err(ExchangeError::Rejected { code, message }) => (code, message),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn book_is_built_from_mid_spread_and_depth_on_the_tick_grid() {
        let mut x = venue(VenueConfig::default(), "0", "0", "0.5");
        let s = btc_usdt();
        assert_eq!(x.best_bid_ask(&s), Some((d("49995"), d("50005"))));
        assert_eq!(x.mid(&s), Some(d("50000")));
        let (asks, bids) = (x.asks(&s), x.bids(&s));
        assert_eq!((asks.len(), bids.len()), (10, 10));
        // Spacing: 50000 * 0.0001 = 5.
        assert_eq!(asks[1].price, d("50010"));
        assert_eq!(asks[9].price, d("50050"));
        assert_eq!(bids[9].price, d("49950"));
        assert!(asks.iter().chain(bids).all(|l| l.qty == d("0.5")));

        // Ask rounds up, bid rounds down; spacing never below one tick.
        x.set_market(1, &s, d("100.003"), d("1"), d("2"));
        assert_eq!(x.best_bid_ask(&s), Some((d("99.99"), d("100.01"))));
        assert_eq!(x.asks(&s)[1].price, d("100.02"));
        assert_eq!(x.bids(&s)[1].price, d("99.98"));
        // Touching quotes are separated by one tick.
        x.set_market(2, &s, d("100"), d("0"), d("2"));
        assert_eq!(x.best_bid_ask(&s), Some((d("100"), d("100.01"))));
        // Bids at or below zero do not exist.
        x.set_market(3, &s, d("0.015"), d("0"), d("2"));
        assert_eq!(x.best_bid_ask(&s), Some((d("0.01"), d("0.02"))));
        assert_eq!(x.bids(&s).len(), 1);
        assert_eq!(x.asks(&s).len(), 10);
        // A non-positive mid is ignored: the book stays.
        x.set_market(4, &s, d("0"), d("2"), d("2"));
        assert_eq!(x.mid(&s), Some(d("0.015")));
        // No market yet: no book, and placements are refused as an invalid symbol.
        let eth = Symbol::parse("ETH/USDT").unwrap();
        assert_eq!(x.mid(&eth), None);
        assert_eq!(x.best_bid_ask(&eth), None);
        x.deposit(&usdt(), d("100000"));
        let r = request("e1", &eth, Side::Buy, "1", "3000", Tif::Ioc, 0);
        assert_eq!(
            rejected_with(x.place(0, &r)),
            (-1121, "Invalid symbol.".to_string())
        );
        assert!(x.orders().next().is_none());
    }

    #[test]
    fn ioc_buy_walks_levels_with_one_trade_each_and_exact_money() {
        let mut x = venue(VenueConfig::default(), "10000", "0", "0.01");
        let s = btc_usdt();
        let o = x.place(3, &buy("i1", "0.025", "50020", Tif::Ioc)).unwrap();
        assert_eq!(o.order_id.as_str(), "1");
        assert_eq!(o.status, OrderStatus::Closed);
        assert_eq!((o.filled, o.remaining), (d("0.025"), d("0")));
        assert_eq!(o.average, Some(d("50009")));
        assert_eq!(o.fee, d("1.250225"));
        assert_eq!(o.fee_asset, usdt());
        let trades = x.fetch_trades(4, &s, &o.order_id).unwrap();
        let got: Vec<_> = trades.iter().map(|t| (t.price, t.qty, t.fee)).collect();
        assert_eq!(
            got,
            vec![
                (d("50005"), d("0.01"), d("0.50005")),
                (d("50010"), d("0.01"), d("0.5001")),
                (d("50015"), d("0.005"), d("0.250075")),
            ]
        );
        assert!(trades.iter().all(|t| t.t_ms == 3 && t.fee_asset == usdt()));
        let ids: Vec<_> = trades.iter().map(|t| t.trade_id.as_str()).collect();
        assert_eq!(ids, ["T1", "T2", "T3"]);
        // 10000 - 1250.225 notional - 1.250225 fee.
        assert_eq!(
            x.funds(&usdt()),
            Funds {
                free: d("8748.524775"),
                locked: d("0")
            }
        );
        assert_eq!(x.funds(&btc()).free, d("0.025"));
        // Consumed depth stays consumed.
        assert_eq!(x.asks(&s)[2].qty, d("0.005"));
        assert_eq!(x.best_bid_ask(&s), Some((d("49995"), d("50015"))));

        // The rest of an IOC beyond the limit expires and its lock comes back.
        let o = x.place(5, &buy("i2", "0.04", "50015", Tif::Ioc)).unwrap();
        assert_eq!(o.status, OrderStatus::Expired);
        assert_eq!((o.filled, o.remaining), (d("0.005"), d("0.035")));
        assert_eq!(o.average, Some(d("50015")));
        assert_eq!(
            x.funds(&usdt()),
            Funds {
                free: d("8498.1997"),
                locked: d("0")
            }
        );
        assert_eq!(x.funds(&btc()).total(), d("0.03"));
        assert_eq!(x.open_orders().count(), 0);
        // An unknown order has no trades; another symbol's trades are not this one's.
        let eth = Symbol::parse("ETH/USDT").unwrap();
        assert!(x.fetch_trades(6, &eth, &o.order_id).unwrap().is_empty());
        let none = OrderId::new("99").unwrap();
        assert!(x.fetch_trades(6, &s, &none).unwrap().is_empty());
    }

    #[test]
    fn sell_walks_bids_down_and_is_paid_notional_minus_fee() {
        let mut x = venue(VenueConfig::default(), "0", "1", "0.01");
        let o = x.place(0, &sell("s1", "0.015", "49990", Tif::Gtc)).unwrap();
        assert_eq!(o.status, OrderStatus::Closed);
        assert_eq!(o.average, Some(d("749.9") / d("0.015")));
        // 499.95 + 249.95 = 749.9; fee 0.7499.
        assert_eq!(o.fee, d("0.7499"));
        assert_eq!(x.funds(&usdt()).free, d("749.1501"));
        assert_eq!(
            x.funds(&btc()),
            Funds {
                free: d("0.985"),
                locked: d("0")
            }
        );
    }

    #[test]
    fn partial_fault_fills_the_ratio_and_expires_the_rest_even_for_gtc() {
        let mut x = venue(VenueConfig::default(), "10000", "0", "1");
        x.arm(PlacementFault::Partial { ratio: d("0.333") });
        let o = x.place(0, &buy("p1", "0.01", "50100", Tif::Gtc)).unwrap();
        assert_eq!(x.armed(), None);
        assert_eq!(o.status, OrderStatus::Expired);
        // 0.01 * 0.333 = 0.00333, already on the step grid.
        assert_eq!((o.filled, o.remaining), (d("0.00333"), d("0.00667")));
        assert_eq!(x.trades().count(), 1);
        assert_eq!(x.open_orders().count(), 0);
        // Notional 166.51665, fee 0.16651665; nothing stays locked.
        assert_eq!(
            x.funds(&usdt()),
            Funds {
                free: d("9833.31683335"),
                locked: d("0")
            }
        );
        // Rounded down to the step: 0.01 * 0.3333 = 0.003333 -> 0.00333; a sell as well.
        x.deposit(&btc(), d("1"));
        x.arm(PlacementFault::Partial { ratio: d("0.3333") });
        let o = x.place(0, &sell("p2", "0.01", "49000", Tif::Ioc)).unwrap();
        assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0.00333")));
        assert_eq!(x.funds(&btc()).locked, d("0"));
        assert_eq!(x.funds(&btc()).total(), d("1.00333") - d("0.00333"));
        // The fault was for one placement only.
        let o = x.place(0, &buy("p3", "0.01", "50100", Tif::Gtc)).unwrap();
        assert_eq!(o.status, OrderStatus::Closed);
    }

    #[test]
    fn requote_moves_the_market_against_the_order_and_it_stays_there() {
        let mut x = venue(VenueConfig::default(), "10000", "1", "1");
        let s = btc_usdt();
        // A resting sell below the new bid fills when the market moves up.
        let resting = x.place(0, &sell("r0", "0.01", "50100", Tif::Gtc)).unwrap();
        assert_eq!(resting.status, OrderStatus::Open);
        x.arm(PlacementFault::Requote { bps: d("50") });
        let o = x.place(1, &buy("r1", "0.01", "50100", Tif::Ioc)).unwrap();
        // 50000 * 1.005 = 50250; ask 50255.025 -> 50255.03 is above the buyer's cap.
        assert_eq!(x.mid(&s), Some(d("50250")));
        assert_eq!(x.best_bid_ask(&s), Some((d("50244.97"), d("50255.03"))));
        assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0")));
        assert_eq!(x.funds(&usdt()).locked, d("0"));
        let r = x.fetch_order(1, &s, &coid("r0")).unwrap();
        assert_eq!(
            (r.status, r.average),
            (OrderStatus::Closed, Some(d("50244.97")))
        );
        assert_eq!(x.trades().count(), 1);
        assert_eq!(x.trades().next().unwrap().t_ms, 1);
        // It stays moved: the same cap still does not fill without any fault.
        let o = x.place(2, &buy("r2", "0.01", "50100", Tif::Ioc)).unwrap();
        assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0")));
        // Against a sell it moves down: 50250 * 0.995 = 49998.75, bid 49993.750125 -> 49993.75.
        x.arm(PlacementFault::Requote { bps: d("50") });
        let o = x.place(3, &sell("r3", "0.01", "50000", Tif::Ioc)).unwrap();
        assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0")));
        assert_eq!(x.mid(&s), Some(d("49998.75")));
        assert_eq!(x.best_bid_ask(&s).map(|b| b.0), Some(d("49993.75")));
        // A refused placement does not move the market, and the fault is used up.
        x.arm(PlacementFault::Requote { bps: d("50") });
        let bad = x.place(4, &buy("r4", "0.01", "50100.001", Tif::Ioc));
        assert!(bad.is_err());
        assert_eq!((x.mid(&s), x.armed()), (Some(d("49998.75")), None));
    }

    #[test]
    fn recv_window_refuses_late_placements_and_still_uses_the_fault() {
        let mut x = venue(VenueConfig::default(), "10000", "0", "1");
        x.arm(PlacementFault::Reject);
        let late = request("w1", &btc_usdt(), Side::Buy, "0.01", "50100", Tif::Ioc, 100);
        assert_eq!(x.place(5_101, &late), Err(ExchangeError::RecvWindowExpired));
        assert!(x.orders().next().is_none() && x.trades().next().is_none());
        assert_eq!(x.funds(&usdt()).free, d("10000"));
        assert_eq!(x.armed(), None);
        assert_eq!(
            x.fetch_order(5_101, &btc_usdt(), &coid("w1")),
            Err(ExchangeError::NotFound)
        );
        // At the edge of the window it executes; the reject was used up by the late one.
        let o = x.place(5_100, &late).unwrap();
        assert_eq!(o.status, OrderStatus::Closed);
    }

    #[test]
    fn armed_reject_refuses_without_any_effect() {
        let mut x = venue(VenueConfig::default(), "10000", "0", "1");
        x.arm(PlacementFault::Reject);
        let (code, _) = rejected_with(x.place(0, &buy("j1", "0.01", "50100", Tif::Ioc)));
        assert_eq!(code, -1013);
        assert!(x.orders().next().is_none());
        assert_eq!(x.funds(&usdt()).free, d("10000"));
        assert!(x.place(0, &buy("j1", "0.01", "50100", Tif::Ioc)).is_ok());
    }

    #[test]
    fn open_only_dedup_lets_a_blind_resend_of_a_finished_id_create_a_second_order() {
        let mut x = venue(VenueConfig::default(), "100000", "0", "1");
        let s = btc_usdt();
        let resting = x.place(0, &buy("a", "0.01", "49000", Tif::Gtc)).unwrap();
        assert_eq!(resting.status, OrderStatus::Open);
        let again = x.place(1, &buy("a", "0.01", "50100", Tif::Ioc));
        assert_eq!(again, Err(ExchangeError::DuplicateClientOrderId(coid("a"))));
        assert_eq!(x.orders().count(), 1);
        x.cancel(2, &s, &coid("a")).unwrap();
        // Not open any more: the same id is a new order.
        let second = x.place(3, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
        assert_eq!(second.order_id.as_str(), "2");
        assert_eq!(second.status, OrderStatus::Closed);
        // The trap: resending a filled order's id buys again.
        let third = x.place(4, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
        assert_eq!(third.order_id.as_str(), "3");
        assert_eq!(x.funds(&btc()).free, d("0.02"));
        assert_eq!(x.orders().count(), 3);
        // A query by client id answers with the latest order.
        assert_eq!(x.fetch_order(5, &s, &coid("a")).unwrap(), third);
        let eth = Symbol::parse("ETH/USDT").unwrap();
        assert_eq!(
            x.fetch_order(5, &eth, &coid("a")),
            Err(ExchangeError::NotFound)
        );
    }

    #[test]
    fn always_dedup_refuses_any_repeat() {
        let cfg = VenueConfig {
            dedup: Dedup::Always,
            ..VenueConfig::default()
        };
        let mut x = venue(cfg, "100000", "0", "1");
        let o = x.place(0, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
        assert_eq!(o.status, OrderStatus::Closed);
        let again = x.place(1, &buy("a", "0.01", "50100", Tif::Ioc));
        assert_eq!(again, Err(ExchangeError::DuplicateClientOrderId(coid("a"))));
        // An IOC that filled nothing counts as well.
        x.place(2, &buy("b", "0.01", "40000", Tif::Ioc)).unwrap();
        assert!(x.place(3, &buy("b", "0.01", "40000", Tif::Ioc)).is_err());
        assert_eq!(x.orders().count(), 2);
        assert_eq!(x.funds(&btc()).free, d("0.01"));
    }

    #[test]
    fn rules_refuse_off_grid_prices_and_quantities_and_small_notionals() {
        let eth = Symbol::parse("ETH/USDT").unwrap();
        let mut cfg = VenueConfig::default();
        cfg.markets.insert(
            eth.clone(),
            MarketRules {
                tick_size: d("0.1"),
                step_size: d("0.001"),
                min_notional: d("10"),
                fee_bps: d("10"),
            },
        );
        let mut x = venue(cfg, "100000", "0", "1");
        x.set_market(0, &eth, d("3000"), d("2"), d("10"));
        let filter = |r| rejected_with(r).1;
        assert_eq!(
            filter(x.place(0, &buy("f1", "0.01", "50000.005", Tif::Ioc))),
            "Filter failure: PRICE_FILTER"
        );
        assert_eq!(
            filter(x.place(0, &buy("f2", "0.000015", "50000", Tif::Ioc))),
            "Filter failure: LOT_SIZE"
        );
        // 0.0001 * 49999.99 = 4.999999 < 5.
        assert_eq!(
            filter(x.place(0, &buy("f3", "0.0001", "49999.99", Tif::Ioc))),
            "Filter failure: MIN_NOTIONAL"
        );
        let (code, _) = rejected_with(x.place(0, &buy("f3", "0.0001", "40000", Tif::Ioc)));
        assert_eq!(code, -1013);
        // Exactly the minimum is enough.
        assert!(x.place(0, &buy("f4", "0.0001", "50000", Tif::Gtc)).is_ok());
        // Per-market rules: ETH's tick is 0.1 and its minimum notional 10.
        let eth_buy = |id, qty, px| request(id, &eth, Side::Buy, qty, px, Tif::Ioc, 0);
        assert_eq!(
            filter(x.place(0, &eth_buy("f5", "1", "3000.05"))),
            "Filter failure: PRICE_FILTER"
        );
        assert_eq!(
            filter(x.place(0, &eth_buy("f6", "0.0001", "3000.1"))),
            "Filter failure: LOT_SIZE"
        );
        assert_eq!(
            filter(x.place(0, &eth_buy("f7", "0.003", "3000.1"))),
            "Filter failure: MIN_NOTIONAL"
        );
        assert!(x.place(0, &eth_buy("f8", "0.004", "3000.1")).is_ok());
        assert_eq!(x.orders().count(), 2);
    }

    #[test]
    fn insufficient_balance_counts_the_fee_for_buys_and_the_base_for_sells() {
        let mut x = venue(VenueConfig::default(), "5004.99", "0.09999", "1");
        let insufficient = (-2010, INSUFFICIENT_BALANCE.to_string());
        // 0.1 * 50000 * 1.001 = 5005.
        let r = buy("b1", "0.1", "50000", Tif::Gtc);
        assert_eq!(rejected_with(x.place(0, &r)), insufficient);
        x.deposit(&usdt(), d("0.01"));
        let o = x.place(0, &r).unwrap();
        assert_eq!(o.status, OrderStatus::Open);
        assert_eq!(
            x.funds(&usdt()),
            Funds {
                free: d("0"),
                locked: d("5005")
            }
        );
        // Locked funds are not free for the next order.
        let r2 = buy("b2", "0.0001", "50000", Tif::Gtc);
        assert_eq!(rejected_with(x.place(0, &r2)), insufficient);
        let s = sell("s1", "0.1", "60000", Tif::Gtc);
        assert_eq!(rejected_with(x.place(0, &s)), insufficient);
        x.deposit(&btc(), d("0.00001"));
        assert_eq!(x.place(0, &s).unwrap().status, OrderStatus::Open);
        assert_eq!(
            x.funds(&btc()),
            Funds {
                free: d("0"),
                locked: d("0.1")
            }
        );
        assert_eq!(x.orders().count(), 2);
    }

    #[test]
    fn gtc_rests_locks_and_fills_on_a_later_market_move_unlocking_the_difference() {
        let mut x = venue(VenueConfig::default(), "10000", "0", "1");
        let s = btc_usdt();
        let o = x.place(0, &buy("g1", "0.1", "49900", Tif::Gtc)).unwrap();
        assert_eq!(o.status, OrderStatus::Open);
        assert!(x.trades().next().is_none());
        // 0.1 * 49900 * 1.001.
        assert_eq!(
            x.funds(&usdt()),
            Funds {
                free: d("5005.01"),
                locked: d("4994.99")
            }
        );
        assert_eq!(x.open_orders().count(), 1);
        // A move that does not reach it changes nothing.
        x.set_market(5, &s, d("49950"), d("2"), d("1"));
        assert_eq!(
            x.fetch_order(5, &s, &coid("g1")).unwrap().status,
            OrderStatus::Open
        );
        // Ask 49800 * 1.0001 = 49804.98 <= 49900: fills at the book's price, not the limit.
        x.set_market(7, &s, d("49800"), d("2"), d("1"));
        let o = x.fetch_order(8, &s, &coid("g1")).unwrap();
        assert_eq!(o.status, OrderStatus::Closed);
        assert_eq!(o.average, Some(d("49804.98")));
        assert_eq!(o.fee, d("4.980498"));
        assert_eq!(x.trades().next().unwrap().t_ms, 7);
        assert_eq!(
            x.funds(&usdt()),
            Funds {
                free: d("5014.521502"),
                locked: d("0")
            }
        );
        assert_eq!(x.funds(&btc()).free, d("0.1"));
        assert_eq!(x.open_orders().count(), 0);
        assert_eq!(x.asks(&s)[0].qty, d("0.9"));
    }

    #[test]
    fn resting_orders_fill_oldest_first_against_limited_depth() {
        let cfg = VenueConfig {
            levels: 1,
            ..VenueConfig::default()
        };
        let mut x = venue(cfg, "10000", "0", "1");
        let s = btc_usdt();
        x.place(0, &buy("o1", "0.01", "49900", Tif::Gtc)).unwrap();
        x.place(0, &buy("o2", "0.01", "49950", Tif::Gtc)).unwrap();
        x.set_market(3, &s, d("49800"), d("2"), d("0.015"));
        let first = x.fetch_order(3, &s, &coid("o1")).unwrap();
        let second = x.fetch_order(3, &s, &coid("o2")).unwrap();
        assert_eq!(first.status, OrderStatus::Closed);
        assert_eq!(
            (second.status, second.filled),
            (OrderStatus::Open, d("0.005"))
        );
        let open: Vec<_> = x.open_orders().map(|o| o.order_id.as_str()).collect();
        assert_eq!(open, ["2"]);
        // The partly filled resting buy still locks exactly its remaining qty at its limit.
        assert_eq!(
            x.funds(&usdt()).locked,
            d("0.005") * d("49950") * d("1.001")
        );
    }

    #[test]
    fn cancel_releases_the_lock_and_a_second_cancel_is_not_found() {
        let mut x = venue(VenueConfig::default(), "10000", "1", "1");
        let s = btc_usdt();
        x.place(0, &buy("c1", "0.1", "49900", Tif::Gtc)).unwrap();
        x.place(0, &sell("c2", "0.5", "51000", Tif::Gtc)).unwrap();
        assert_eq!(x.funds(&btc()).locked, d("0.5"));
        let eth = Symbol::parse("ETH/USDT").unwrap();
        assert_eq!(x.cancel(1, &eth, &coid("c1")), Err(ExchangeError::NotFound));
        let o = x.cancel(1, &s, &coid("c1")).unwrap();
        assert_eq!(
            (o.status, o.filled, o.remaining),
            (OrderStatus::Canceled, d("0"), d("0.1"))
        );
        assert_eq!(
            x.funds(&usdt()),
            Funds {
                free: d("10000"),
                locked: d("0")
            }
        );
        assert_eq!(x.cancel(2, &s, &coid("c1")), Err(ExchangeError::NotFound));
        assert_eq!(
            x.fetch_order(2, &s, &coid("c1")).unwrap().status,
            OrderStatus::Canceled
        );
        // A canceled order never fills, whatever the market does.
        x.set_market(3, &s, d("40000"), d("2"), d("1"));
        assert!(x.trades().next().is_none());
        x.cancel(4, &s, &coid("c2")).unwrap();
        assert_eq!(
            x.funds(&btc()),
            Funds {
                free: d("1"),
                locked: d("0")
            }
        );
        assert_eq!(x.open_orders().count(), 0);
        assert_eq!(
            x.cancel(5, &s, &coid("never")),
            Err(ExchangeError::NotFound)
        );
    }

    #[test]
    fn consumed_depth_is_replenished_by_set_market() {
        let mut x = venue(VenueConfig::default(), "100000", "0", "0.5");
        let s = btc_usdt();
        x.place(0, &buy("d1", "0.5", "50005", Tif::Ioc)).unwrap();
        assert_eq!(x.asks(&s)[0].qty, d("0"));
        assert_eq!(x.best_bid_ask(&s), Some((d("49995"), d("50010"))));
        // Nothing left at 50005 until the book is rebuilt.
        let o = x.place(1, &buy("d2", "0.1", "50005", Tif::Ioc)).unwrap();
        assert_eq!(o.filled, d("0"));
        x.set_market(2, &s, d("50000"), d("2"), d("0.5"));
        assert_eq!(x.asks(&s)[0].qty, d("0.5"));
        assert_eq!(x.best_bid_ask(&s), Some((d("49995"), d("50005"))));
        let o = x.place(3, &buy("d3", "0.1", "50005", Tif::Ioc)).unwrap();
        assert_eq!(o.filled, d("0.1"));
    }

    /// A BTC/USDT request sent at `now`, for placements beyond the receive window of 0.
    fn at(now: TimeMs, side: Side, id: &str, qty: &str, limit: &str, tif: Tif) -> OrderRequest {
        request(id, &btc_usdt(), side, qty, limit, tif, now)
    }

    fn retaining(ms: Option<u64>) -> VenueConfig {
        VenueConfig {
            order_retention_ms: ms,
            ..VenueConfig::default()
        }
    }

    fn coids(x: &SimExchange) -> Vec<String> {
        x.orders()
            .map(|o| o.client_order_id.as_str().to_string())
            .collect()
    }

    #[test]
    fn retention_forgets_orders_finished_long_ago_with_their_trades() {
        let mut x = venue(retaining(Some(1000)), "100000", "0", "1");
        let s = btc_usdt();
        let a = x.place(0, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
        assert_eq!(a.status, OrderStatus::Closed);
        let b = x.place(500, &buy("b", "0.01", "50100", Tif::Ioc)).unwrap();
        // 999 ms after `a` ended: still kept.
        x.place(999, &buy("c", "0.01", "50100", Tif::Ioc)).unwrap();
        assert_eq!(x.order_count(), 3);
        assert_eq!(x.orders().count(), 3);
        assert_eq!(x.fetch_order(999, &s, &coid("a")).unwrap(), a);
        // 1000 ms after: forgotten by the next placement, with its trade.
        let fourth = x
            .place(1_000, &buy("d", "0.01", "50100", Tif::Ioc))
            .unwrap();
        assert_eq!(fourth.order_id.as_str(), "4");
        assert_eq!(x.order_count(), 4);
        assert_eq!(x.first_retained_order(), 1);
        assert_eq!(
            coids(&x),
            [coid("b"), coid("c"), coid("d")].map(|c| c.to_string())
        );
        assert_eq!(
            x.fetch_order(1_000, &s, &coid("a")),
            Err(ExchangeError::NotFound)
        );
        assert!(x.fetch_trades(1_000, &s, &a.order_id).unwrap().is_empty());
        assert_eq!((x.trade_count(), x.trades().count()), (4, 3));
        assert_eq!(x.first_retained_trade(), 1);
        let ids: Vec<_> = x.trades().map(|t| t.trade_id.as_str()).collect();
        assert_eq!(ids, ["T2", "T3", "T4"]);
        // Lookups of what is kept still work.
        assert_eq!(x.fetch_order(1_000, &s, &coid("b")).unwrap(), b);
        let tb = x.fetch_trades(1_000, &s, &b.order_id).unwrap();
        assert_eq!(
            tb.iter().map(|t| t.trade_id.as_str()).collect::<Vec<_>>(),
            ["T2"]
        );
        // Absolute cursors: from a forgotten index, from the oldest kept; past the end, nothing.
        assert_eq!(x.orders_from(0).count(), 3);
        let from2: Vec<_> = x.orders_from(2).map(|o| o.order_id.as_str()).collect();
        assert_eq!(from2, ["3", "4"]);
        assert_eq!(x.orders_from(4).count(), 0);
        assert_eq!(x.orders_from(99).count(), 0);
        let t3: Vec<_> = x.trades_from(3).map(|t| t.trade_id.as_str()).collect();
        assert_eq!(t3, ["T4"]);
        assert_eq!(x.trades_from(0).count(), 3);
        // Numbering goes on from what was ever created.
        let e = x
            .place(1_200, &buy("e", "0.01", "50100", Tif::Ioc))
            .unwrap();
        assert_eq!(e.order_id.as_str(), "5");
        assert_eq!(x.trades().last().unwrap().trade_id.as_str(), "T5");
        // Much later, everything finished is gone; the counts stay.
        x.place(
            10_000,
            &at(10_000, Side::Buy, "f", "0.01", "50100", Tif::Ioc),
        )
        .unwrap();
        assert_eq!(coids(&x), [coid("f").to_string()]);
        assert_eq!((x.order_count(), x.trade_count()), (6, 6));
        assert_eq!(x.trades().count(), 1);
        assert_eq!(x.funds(&btc()).free, d("0.06"));
    }

    #[test]
    fn a_forgotten_order_leaves_a_newer_one_of_the_same_client_id_in_place() {
        let mut x = venue(retaining(Some(1000)), "100000", "0", "1");
        let s = btc_usdt();
        x.place(0, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
        // OpenOnly: a finished id is a new order.
        let again = x.place(500, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
        x.place(1_000, &buy("z", "0.01", "50100", Tif::Ioc))
            .unwrap();
        assert_eq!(x.first_retained_order(), 1);
        assert_eq!(x.fetch_order(1_000, &s, &coid("a")).unwrap(), again);
        x.place(1_500, &buy("y", "0.01", "50100", Tif::Ioc))
            .unwrap();
        assert_eq!(
            x.fetch_order(1_500, &s, &coid("a")),
            Err(ExchangeError::NotFound)
        );
    }

    #[test]
    fn an_open_order_at_the_front_holds_back_later_ones_until_it_ends() {
        let mut x = venue(retaining(Some(1000)), "100000", "1", "0.01");
        let s = btc_usdt();
        // g rests; a fills at once; j sells 0.01 at once and rests the rest.
        x.place(0, &buy("g", "0.01", "49900", Tif::Gtc)).unwrap();
        let a = x.place(0, &buy("a", "0.01", "50005", Tif::Ioc)).unwrap();
        assert_eq!(a.status, OrderStatus::Closed);
        let j = x.place(0, &sell("j", "0.05", "49995", Tif::Gtc)).unwrap();
        assert_eq!((j.status, j.filled), (OrderStatus::Open, d("0.01")));
        // Long after `a` ended, the open `g` in front keeps it.
        x.place(5_000, &buy("b", "0.01", "50010", Tif::Ioc))
            .unwrap();
        assert_eq!(x.orders().count(), 4);
        assert_eq!(x.fetch_order(5_000, &s, &coid("a")).unwrap(), a);
        assert_eq!(x.fetch_trades(5_000, &s, &a.order_id).unwrap().len(), 1);
        // g fills on a move down at 6000 (the resting sell j at 49995 does not).
        x.set_market(6_000, &s, d("49800"), d("2"), d("1"));
        let g = x.fetch_order(6_000, &s, &coid("g")).unwrap();
        assert_eq!(g.status, OrderStatus::Closed);
        let ids: Vec<_> = x.trades().map(|t| t.trade_id.as_str()).collect();
        assert_eq!(ids, ["T1", "T2", "T3", "T4"]);
        // 6999: g ended 999 ms ago, nothing goes.
        x.place(6_999, &at(6_999, Side::Buy, "c", "0.01", "50000", Tif::Ioc))
            .unwrap();
        assert_eq!(x.first_retained_order(), 0);
        // 7000: g and a go; the open j stops the walk (b ended long ago but comes after it).
        x.place(7_000, &at(7_000, Side::Buy, "e", "0.01", "50000", Tif::Ioc))
            .unwrap();
        assert_eq!(x.first_retained_order(), 2);
        assert_eq!(coids(&x), ["j", "b", "c", "e"].map(|c| coid(c).to_string()));
        for gone in ["g", "a"] {
            assert_eq!(
                x.fetch_order(7_000, &s, &coid(gone)),
                Err(ExchangeError::NotFound)
            );
        }
        // a's trade T1 went; j's T2 (kept) now holds back g's T4 (forgotten order, unreachable).
        let ids: Vec<_> = x.trades().map(|t| t.trade_id.as_str()).collect();
        assert_eq!(ids[..3], ["T2", "T3", "T4"]);
        assert!(x.fetch_trades(7_000, &s, &g.order_id).unwrap().is_empty());
        // The kept orders still work by their absolute indices: j fills on a move up, then
        // b is found, and a cancel finds j after the compaction.
        let fills = x.fetch_trades(7_000, &s, &j.order_id).unwrap();
        assert_eq!(fills.len(), 1);
        assert_eq!(
            x.fetch_order(7_000, &s, &coid("b")).unwrap().status,
            OrderStatus::Closed
        );
        x.set_market(7_100, &s, d("50000"), d("2"), d("0.02"));
        let j_now = x.fetch_order(7_100, &s, &coid("j")).unwrap();
        assert_eq!((j_now.status, j_now.filled), (OrderStatus::Open, d("0.03")));
        assert_eq!(x.fetch_trades(7_100, &s, &j.order_id).unwrap().len(), 2);
        assert_eq!(x.open_orders().count(), 1);
        let canceled = x.cancel(7_200, &s, &coid("j")).unwrap();
        assert_eq!(canceled.status, OrderStatus::Canceled);
        assert_eq!(x.funds(&btc()).locked, d("0"));
        // Once j is old enough, everything before the newest goes, trades included.
        x.place(8_200, &at(8_200, Side::Buy, "h", "0.01", "50005", Tif::Ioc))
            .unwrap();
        assert_eq!(coids(&x), [coid("h").to_string()]);
        assert!(x.trades().all(|t| t.order_id.as_str() == "7"));
        assert_eq!((x.order_count(), x.trades().count()), (7, 1));
    }

    #[test]
    fn without_retention_nothing_is_ever_forgotten() {
        let mut x = venue(retaining(None), "100000", "1", "1");
        let s = btc_usdt();
        let a = x.place(0, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
        x.place(0, &sell("b", "0.01", "60000", Tif::Gtc)).unwrap();
        x.cancel(1, &s, &coid("b")).unwrap();
        let late = crate::router::limits::MAX_TIME_MS;
        x.forget_before(late);
        x.place(late, &at(late, Side::Buy, "c", "0.01", "50100", Tif::Ioc))
            .unwrap();
        assert_eq!((x.first_retained_order(), x.first_retained_trade()), (0, 0));
        assert_eq!(x.orders().count(), 3);
        assert_eq!(x.trades().count(), 2);
        assert_eq!(x.fetch_order(late, &s, &coid("a")).unwrap(), a);
        assert_eq!(x.fetch_trades(late, &s, &a.order_id).unwrap().len(), 1);
        assert_eq!(
            x.fetch_order(late, &s, &coid("b")).unwrap().status,
            OrderStatus::Canceled
        );
    }

    /// Random placements, faults, market moves and cancels from a fixed-seed generator; after
    /// every step funds are non-negative, locks match the open orders, and both assets'
    /// totals equal the deposits moved by the trades, minus their fees.
    #[test]
    fn funds_stay_non_negative_and_are_conserved_except_fees() {
        let mut seed: u64 = 0x5eed;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let s = btc_usdt();
        let mut x = venue(VenueConfig::default(), "100000", "2", "0.05");
        let fee_rate = d("0.001");
        for step in 0..400u64 {
            let now = step * 10;
            match next(10) {
                0 | 1 => {
                    let mid =
                        Decimal::from(45_000 + next(10_000)) + Decimal::new(next(100) as i64, 2);
                    let spread = Decimal::from(next(10));
                    let depth = Decimal::new(next(100) as i64, 3);
                    x.set_market(now, &s, mid, spread, depth);
                }
                2 => {
                    let id = format!("k{}", next(8));
                    let _ = x.cancel(now, &s, &coid(&id));
                }
                _ => {
                    match next(6) {
                        0 => x.arm(PlacementFault::Reject),
                        1 => x.arm(PlacementFault::Partial {
                            ratio: Decimal::new(next(100) as i64, 2),
                        }),
                        2 => x.arm(PlacementFault::Requote {
                            bps: Decimal::from(next(30)),
                        }),
                        _ => {}
                    }
                    let mid = x.mid(&s).unwrap_or(Decimal::from(50_000));
                    let offset = Decimal::from(next(200)) - Decimal::from(100);
                    let limit = (mid * (Decimal::ONE + offset * bps_fraction())).round_dp(2);
                    let qty = Decimal::new(1 + next(30_000) as i64, 5);
                    let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
                    let tif = if next(2) == 0 { Tif::Ioc } else { Tif::Gtc };
                    let id = format!("k{}", next(8));
                    let sent = now.saturating_sub(next(6_000));
                    let r = request(
                        &id,
                        &s,
                        side,
                        &qty.to_string(),
                        &limit.to_string(),
                        tif,
                        sent,
                    );
                    let _ = x.place(now, &r);
                }
            }
            for (_, f) in x.assets() {
                assert!(
                    f.free >= Decimal::ZERO && f.locked >= Decimal::ZERO,
                    "step {step}"
                );
            }
            let (mut quote, mut base) = (d("100000"), d("2"));
            for t in x.trades() {
                let notional = t.price * t.qty;
                assert_eq!(t.fee, notional * fee_rate);
                match t.side {
                    Side::Buy => {
                        quote -= notional + t.fee;
                        base += t.qty;
                    }
                    Side::Sell => {
                        quote += notional - t.fee;
                        base -= t.qty;
                    }
                }
            }
            assert_eq!(x.funds(&usdt()).total(), quote, "step {step}");
            assert_eq!(x.funds(&btc()).total(), base, "step {step}");
            let (mut quote_locked, mut base_locked) = (Decimal::ZERO, Decimal::ZERO);
            for o in x.open_orders() {
                assert_eq!(o.status, OrderStatus::Open);
                match o.side {
                    Side::Buy => quote_locked += o.remaining * o.price * (Decimal::ONE + fee_rate),
                    Side::Sell => base_locked += o.remaining,
                }
            }
            assert_eq!(x.funds(&usdt()).locked, quote_locked, "step {step}");
            assert_eq!(x.funds(&btc()).locked, base_locked, "step {step}");
            let open = x.orders().filter(|o| o.status == OrderStatus::Open);
            assert_eq!(open.count(), x.open_orders().count());
            for o in x.orders().cloned().collect::<Vec<_>>() {
                assert_eq!(o.filled + o.remaining, o.amount);
                let filled: Decimal = x
                    .fetch_trades(now, &s, &o.order_id)
                    .unwrap()
                    .iter()
                    .map(|t| t.qty)
                    .sum();
                assert_eq!(filled, o.filled);
            }
        }
        // The loop did exercise the venue.
        assert!(x.trades().count() > 20, "{}", x.trades().count());
        assert!(x.orders().any(|o| o.status == OrderStatus::Canceled));
        assert!(x
            .orders()
            .any(|o| o.status == OrderStatus::Expired && o.filled > Decimal::ZERO));
    }
}

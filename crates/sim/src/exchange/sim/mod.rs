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

mod book;
mod live;
mod matching;

use crate::model::SmallMap;
pub use book::BookLevel;
use book::{crosses, Book};
pub use live::{MarketConfig, PublicTrade, MAX_PRINTS};
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rustc_hash::FxHashMap as HashMap;

use rust_decimal::Decimal;

use super::fees::{self, FeeSettings};
use super::{Exchange, ExchangeError, Order, OrderStatus, Trade};
use crate::model::{
    bps_fraction, floor_to, on_grid, Asset, ClientOrderId, OrderId, Side, Symbol, Tif, TimeMs,
    TradeId,
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
    /// A living market and the fill model of resting orders (static by default).
    pub market: MarketConfig,
    /// Which asset the account pays commissions in, and the BNB price ([`FeeSettings`]): the
    /// received asset by default.
    pub fees: FeeSettings,
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
            market: MarketConfig::default(),
            fees: FeeSettings::default(),
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
    /// At most `ratio` of the quantity fills now; a good-till-cancel remainder rests on the
    /// book, as Binance leaves a partly filled GTC order (the venue's partial fill), and only
    /// an immediate-or-cancel one expires.
    PartialThenRest { ratio: Decimal },
    /// Before the order matches, the market moves `bps` against it, and stays there.
    Requote { bps: Decimal },
    /// Taken, then refused by the matching engine: the answer is an order in status
    /// `REJECTED` with nothing executed (Binance documents the status; most refusals come as
    /// errors instead).
    RejectedStatus,
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
    /// One trade more than the order filled (a copy of its first under a new trade id): a
    /// store out of step, or a trade the venue later busts.
    Phantom,
}

/// An order as it reaches the venue: what any client may send. A router's placement arrives as
/// one through [`Exchange::place`]; the venue server builds them from REST parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub client_order_id: ClientOrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    /// Ignored for a market order, which may take every level of the book.
    pub limit_price: Decimal,
    /// A market order is always immediate-or-cancel.
    pub tif: Tif,
    pub market: bool,
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
    /// Absolute indices of its trades, in execution order. Kept beside the order (its id is
    /// its index plus one) rather than in a table: nothing to look up or remove by hash.
    trades: SmallVec<[usize; 2]>,
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
    /// Open orders, oldest first.
    open: BTreeSet<usize>,
    open_by_symbol: BTreeMap<Symbol, BTreeSet<usize>>,
    armed: Option<PlacementFault>,
    armed_trades: Option<TradesFault>,
    /// The next order answer (query or cancel) carries another order's report.
    armed_foreign_report: bool,
    /// The living market, when the venue went live.
    live: Option<Box<live::Live>>,
    /// The asset of discounted fees ([`fees::BNB`]).
    bnb: Option<Asset>,
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

/// What an order of `qty` at `limit` locks: quote for the price, or the base it sells. The
/// fee is never locked: it comes out of what the fill brings in (or out of BNB), as on Binance.
fn lock_for(side: Side, qty: Decimal, limit: Decimal) -> Option<Decimal> {
    match side {
        Side::Buy => qty.checked_mul(limit),
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
            open: BTreeSet::new(),
            open_by_symbol: BTreeMap::new(),
            armed: None,
            armed_trades: None,
            armed_foreign_report: false,
            live: None,
            bnb: Asset::new(fees::BNB).ok(),
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

    /// The next call to `place` (only) suffers this fault; cleared by that call whatever
    /// happens. Arming again replaces a fault not yet used.
    pub fn arm(&mut self, fault: PlacementFault) {
        self.armed = Some(fault);
    }

    /// Scripts the answer of the next trade query.
    pub fn arm_trades(&mut self, fault: TradesFault) {
        self.armed_trades = Some(fault);
    }

    /// The next order answer (a query or a cancel) is the report of another order, the latest
    /// the venue holds on the symbol: replies crossed in a proxy, or a stream of every order's
    /// reports read carelessly. The request itself executes as asked.
    pub fn arm_foreign_report(&mut self) {
        self.armed_foreign_report = true;
    }

    /// Another order's report in place of `answer`, when armed and the venue holds one.
    fn crossed(&mut self, answer: Order) -> Order {
        if !std::mem::take(&mut self.armed_foreign_report) {
            return answer;
        }
        self.another_order(&answer).cloned().unwrap_or(answer)
    }

    /// The latest order on `o`'s symbol under another client order id.
    pub fn another_order(&self, o: &Order) -> Option<&Order> {
        self.orders
            .iter()
            .rev()
            .find(|x| x.symbol == o.symbol && x.client_order_id != o.client_order_id)
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
    pub fn trades(&self) -> impl DoubleEndedIterator<Item = &Trade> {
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

    /// Checks (4) and (5) of a placement: returns the lock and the fee rate. A market order's
    /// limit is the far end of the book, and its notional is judged at the mid.
    fn admit(&self, r: &NewOrder) -> Result<(Asset, Decimal, Decimal), ExchangeError> {
        let Some(book) = self.books.get(&r.symbol) else {
            return Err(rejected(-1121, "Invalid symbol."));
        };
        let rules = self.rules(&r.symbol);
        if rules.fee_bps < Decimal::ZERO || rules.fee_bps >= Decimal::from(10_000) {
            return Err(rejected(-1013, "Invalid market rules: fee_bps."));
        }
        let (qty, limit) = (r.qty, r.limit_price);
        if !r.market && (limit <= Decimal::ZERO || !on_grid(limit, rules.tick_size)) {
            return Err(filter_failure("PRICE_FILTER"));
        }
        if qty <= Decimal::ZERO || !on_grid(qty, rules.step_size) {
            return Err(filter_failure("LOT_SIZE"));
        }
        let notional = qty
            .checked_mul(if r.market { book.mid } else { limit })
            .ok_or_else(|| filter_failure("NOTIONAL"))?;
        if notional < rules.min_notional {
            return Err(filter_failure("NOTIONAL"));
        }
        let fee_rate = rules
            .fee_bps
            .checked_mul(bps_fraction())
            .ok_or_else(|| filter_failure("NOTIONAL"))?;
        let lock = lock_for(r.side, qty, limit).ok_or_else(|| filter_failure("NOTIONAL"))?;
        let asset = match r.side {
            Side::Buy => r.symbol.quote().clone(),
            Side::Sell => r.symbol.base().clone(),
        };
        if self.funds(&asset).free < lock {
            return Err(rejected(-2010, INSUFFICIENT_BALANCE));
        }
        Ok((asset, lock, fee_rate))
    }

    /// The retained order with venue id `id`.
    pub fn order_by_id(&self, id: &OrderId) -> Option<&Order> {
        let i = self.index_of(id)?;
        Some(self.order(i))
    }

    fn index_of(&self, id: &OrderId) -> Option<usize> {
        let n = usize::try_from(id.get()).ok()?;
        let i = n.checked_sub(1)?;
        (i >= self.order_base && i < self.order_count() && &self.order(i).order_id == id)
            .then_some(i)
    }

    /// When the order with venue id `id` ended; `None` while it is open (or not retained).
    pub fn final_ms(&self, id: &OrderId) -> Option<TimeMs> {
        let i = self.index_of(id)?;
        self.meta[i - self.order_base].final_ms
    }

    /// The trades of order `id` (retained), in execution order, without any scripted fault.
    pub fn trades_of(&self, id: &OrderId) -> impl Iterator<Item = &Trade> {
        self.trade_indices(id)
            .iter()
            .map(|&i| &self.trades[i - self.trade_base].1)
    }

    /// The absolute indices of the trades of order `id`; none when it is not retained.
    fn trade_indices(&self, id: &OrderId) -> &[usize] {
        self.index_of(id)
            .map_or(&[], |i| &self.meta[i - self.order_base].trades)
    }

    /// Cancels the open order with venue id `id` on `symbol`.
    pub fn cancel_by_id(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        id: &OrderId,
    ) -> Result<Order, ExchangeError> {
        let i = self
            .index_of(id)
            .filter(|&i| self.open.contains(&i) && &self.order(i).symbol == symbol)
            .ok_or(ExchangeError::NotFound)?;
        self.before_cancel(now);
        if !self.open.contains(&i) {
            return Err(ExchangeError::NotFound);
        }
        self.finish(i, OrderStatus::Canceled, now);
        Ok(self.order(i).clone())
    }

    /// Places `r` as the venue receives it, whoever sent it; the receive window is the
    /// caller's to check.
    pub fn submit(&mut self, now: TimeMs, mut r: NewOrder) -> Result<Order, ExchangeError> {
        self.advance_market(now);
        self.forget_before(now);
        let fault = self.armed.take();
        if fault == Some(PlacementFault::Reject) {
            return Err(filter_failure("PERCENT_PRICE_BY_SIDE"));
        }
        let duplicate = match self.cfg.dedup {
            Dedup::OpenOnly => self.open_by_coid.contains_key(&r.client_order_id),
            Dedup::Always => self.latest_by_coid.contains_key(&r.client_order_id),
        };
        if duplicate {
            return Err(ExchangeError::DuplicateClientOrderId(r.client_order_id));
        }
        if r.market {
            let Some(limit) = self.market_limit(&r.symbol, r.side) else {
                return Err(rejected(-1121, "Invalid symbol."));
            };
            r.limit_price = limit;
            r.tif = Tif::Ioc;
        }
        let (asset, lock, fee_rate) = self.admit(&r)?;
        let f = self.funds.get_or_insert_with(&asset, Funds::default);
        f.free -= lock; // admit checked lock <= free
        f.locked = f.locked.saturating_add(lock);
        if let Some(PlacementFault::Requote { bps }) = fault {
            self.requote(now, &r.symbol, r.side, bps);
        }
        let i = self.order_count();
        self.latest_by_coid.insert(r.client_order_id.clone(), i);
        self.latest_by_symbol_coid
            .insert((r.symbol.clone(), r.client_order_id.clone()), i);
        let partial = match fault {
            Some(PlacementFault::Partial { ratio } | PlacementFault::PartialThenRest { ratio }) => {
                Some(partial_cap(r.qty, ratio, self.rules(&r.symbol).step_size))
            }
            _ => None,
        };
        self.meta.push_back(Meta {
            tif: r.tif,
            fee_rate,
            lock_left: lock,
            cost: Decimal::ZERO,
            final_ms: None,
            trades: SmallVec::new(),
        });
        let qty = r.qty;
        // Until a fill says otherwise, the asset the order receives.
        let fee_asset = match r.side {
            Side::Buy => r.symbol.base().clone(),
            Side::Sell => r.symbol.quote().clone(),
        };
        self.orders.push_back(Order {
            order_id: OrderId::numbered(i as u64 + 1),
            client_order_id: r.client_order_id,
            symbol: r.symbol,
            side: r.side,
            price: r.limit_price,
            amount: qty,
            filled: Decimal::ZERO,
            remaining: qty,
            average: None,
            status: OrderStatus::Open,
            fee: Decimal::ZERO,
            fee_asset,
        });
        let k = i - self.order_base;
        if fault == Some(PlacementFault::RejectedStatus) {
            self.finish(i, OrderStatus::Rejected, now);
            return Ok(self.orders[k].clone());
        }
        let trades_before = self.trade_count();
        self.match_order(i, now, partial.unwrap_or(qty));
        self.print_own(trades_before);
        if self.orders[k].status == OrderStatus::Open {
            let cut_short = matches!(fault, Some(PlacementFault::Partial { .. }));
            if cut_short || self.meta[k].tif == Tif::Ioc {
                self.finish(i, OrderStatus::Expired, now);
            } else {
                let o = &self.orders[k];
                let (symbol, coid) = (o.symbol.clone(), o.client_order_id.clone());
                self.open.insert(i);
                self.open_by_symbol.entry(symbol).or_default().insert(i);
                self.open_by_coid.insert(coid, i);
                self.rest(i, now);
            }
        }
        Ok(self.orders[k].clone())
    }
}

impl Exchange for SimExchange {
    fn place(&mut self, now: TimeMs, r: &OrderRequest) -> Result<Order, ExchangeError> {
        if now > r.sent_ms().saturating_add(self.cfg.recv_window_ms) {
            self.forget_before(now);
            self.armed = None;
            return Err(ExchangeError::RecvWindowExpired);
        }
        self.submit(
            now,
            NewOrder {
                client_order_id: r.client_order_id().clone(),
                symbol: r.symbol().clone(),
                side: r.side(),
                qty: r.qty(),
                limit_price: r.limit_price(),
                tif: r.tif(),
                market: false,
            },
        )
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
            .map(|o| self.crossed(o))
    }

    fn fetch_trades(
        &mut self,
        _now: TimeMs,
        symbol: &Symbol,
        order_id: &OrderId,
    ) -> Result<Vec<Trade>, ExchangeError> {
        let mut answer: Vec<Trade> = self
            .trade_indices(order_id)
            .iter()
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
            Some(TradesFault::Phantom) => {
                if let Some(t) = answer.first().cloned() {
                    // Far above every real trade's id, so it never meets one.
                    let n = (1u64 << 40) + (self.trades.len() + self.trade_base) as u64;
                    answer.push(Trade {
                        trade_id: TradeId::numbered(n),
                        ..t
                    });
                }
            }
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
        self.before_cancel(now);
        let i = self
            .open_by_coid
            .get(client_order_id)
            .copied()
            .filter(|&i| &self.order(i).symbol == symbol)
            .ok_or(ExchangeError::NotFound)?;
        self.finish(i, OrderStatus::Canceled, now);
        let answer = self.order(i).clone();
        Ok(self.crossed(answer))
    }
}

#[cfg(test)]
mod tests;

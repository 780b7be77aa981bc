//! Stop orders and order lists, as Binance spot runs them.
//!
//! A stop order (`STOP_LOSS`, `TAKE_PROFIT` and their `_LIMIT` forms) waits off the book,
//! its funds locked, until a trade prints at or through its stop price: the market's trades
//! (the living market's prints; on a static market each new price the scenario sets) and the
//! account's own fills. Then it becomes a market order (the plain forms) or a limit order at
//! its price (the `_LIMIT` forms) and matches like any other.
//!
//! An order list ties legs together: an OCO's two legs (one stop-loss leg, one limit-maker or
//! take-profit leg) share one lock, and the first of them to fill or trigger expires the other
//! (`OCO_TRIGGER`); an OTO's pending leg (an OTOCO's pending OCO pair) waits in `PENDING_NEW`,
//! locking nothing, until the working leg has filled completely, and is then placed with the
//! quantity it was given. Cancelling any leg cancels the list; a working leg that expires
//! expires its pending legs.
//!
//! Triggers are settled at the end of every call that may have traded ([`SimExchange::settle`]):
//! trades are noted on a small tape as they happen, and each waiting order looks only at the
//! trades that came after it began to wait.

use std::collections::{BTreeSet, VecDeque};

use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::{filter_failure, rejected, NewOrder, SimExchange, INSUFFICIENT_BALANCE};
use crate::exchange::{ExchangeError, Order, OrderStatus};
use crate::model::{on_grid, ClientOrderId, OrderId, Side, SmallMap, Symbol, TimeMs};

/// Which way a stop order's price is crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// `STOP_LOSS`: a sell when the price falls to the stop, a buy when it rises to it.
    StopLoss,
    /// `TAKE_PROFIT`: a sell when the price rises to the stop, a buy when it falls to it.
    TakeProfit,
}

/// The trigger of a stop order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    pub kind: StopKind,
    pub price: Decimal,
}

impl Stop {
    /// Whether a trade at `last` reaches the stop of an order of `side`.
    pub fn reached(&self, side: Side, last: Decimal) -> bool {
        let above = matches!(
            (self.kind, side),
            (StopKind::StopLoss, Side::Buy) | (StopKind::TakeProfit, Side::Sell)
        );
        if above {
            last >= self.price
        } else {
            last <= self.price
        }
    }
}

/// Why the venue ended an order (Binance's `expiryReason`), for the list rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryReason {
    /// The other leg of its OCO filled or triggered.
    OcoTrigger,
    /// The working leg of its OTO ended without filling completely.
    OtoPhaseOneExpired,
    /// A pending leg could not be placed: its funds were not there.
    InsufficientBalance,
    /// A limit-maker leg placed later would have taken liquidity.
    WouldTake,
}

impl ExpiryReason {
    pub fn name(self) -> &'static str {
        match self {
            ExpiryReason::OcoTrigger => "OCO_TRIGGER",
            ExpiryReason::OtoPhaseOneExpired => "OTO_PHASE_ONE_EXPIRED",
            ExpiryReason::InsufficientBalance => "INSUFFICIENT_BALANCE",
            ExpiryReason::WouldTake => "EXCHANGE_CANCELED",
        }
    }
}

/// Where an order is in its life beyond its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Stage {
    /// On the book (or matched at once).
    #[default]
    Working,
    /// A stop order waiting for its trigger.
    Waiting,
    /// A pending leg of an OTO, waiting for the working leg to fill (`PENDING_NEW`).
    Pending,
}

/// What the venue keeps about an order's stop and list.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ext {
    pub(super) stop: Option<Stop>,
    pub(super) stage: Stage,
    /// Becomes a market order when it triggers (`STOP_LOSS`, `TAKE_PROFIT`).
    pub(super) market: bool,
    /// Refused (or expired, when placed later) if it would take (`LIMIT_MAKER`).
    pub(super) maker_only: bool,
    pub(super) list: Option<usize>,
    /// When it went on the book; `None` while it waits.
    pub(super) working_ms: Option<TimeMs>,
    pub(super) expiry: Option<ExpiryReason>,
    /// The first tape entry that can trigger it.
    pub(super) since: u64,
}

/// An order's stop and list, as the venue's answers show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderExtras {
    pub stop: Option<Stop>,
    /// A pending leg not yet placed (`PENDING_NEW`).
    pub pending: bool,
    /// A stop order not yet triggered.
    pub waiting: bool,
    pub list_id: Option<u64>,
    pub working_ms: Option<TimeMs>,
    pub expiry: Option<ExpiryReason>,
}

/// The per-symbol limits of open orders (Binance's `MAX_NUM_*` filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLimits {
    pub max_orders: usize,
    /// Stop orders (`STOP_LOSS`, `TAKE_PROFIT` and their limit forms).
    pub max_algo_orders: usize,
    pub max_order_lists: usize,
}

impl Default for OrderLimits {
    /// Binance spot's usual values.
    fn default() -> Self {
        OrderLimits {
            max_orders: 200,
            max_algo_orders: 5,
            max_order_lists: 20,
        }
    }
}

/// One leg of a list as sent: the order, its stop, whether it must not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub order: NewOrder,
    pub stop: Option<Stop>,
    pub maker_only: bool,
}

/// The legs of a list by role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListShape {
    Oco {
        above: Leg,
        below: Leg,
    },
    Oto {
        working: Leg,
        pending: Leg,
    },
    Otoco {
        working: Leg,
        above: Leg,
        below: Leg,
    },
}

/// An order list as it reaches the venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewList {
    pub list_client_id: ClientOrderId,
    pub symbol: Symbol,
    pub shape: ListShape,
}

/// Binance's `contingencyType` (an OTOCO is an `OTO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contingency {
    Oco,
    Oto,
}

impl Contingency {
    pub fn name(self) -> &'static str {
        match self {
            Contingency::Oco => "OCO",
            Contingency::Oto => "OTO",
        }
    }
}

/// An order list the venue holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderList {
    /// 0, 1, ...: Binance's `orderListId`.
    pub id: u64,
    pub list_client_id: ClientOrderId,
    pub symbol: Symbol,
    pub contingency: Contingency,
    /// The legs' venue ids, in order of their ids (the stop-loss leg of a pair first).
    pub orders: SmallVec<[OrderId; 3]>,
    /// The working leg of an OTO or OTOCO.
    pub working: Option<OrderId>,
    pub t_ms: TimeMs,
    /// The OCO pair has been decided (one leg filled or triggered).
    pub(super) resolved: bool,
}

/// The state of stop orders and lists.
#[derive(Debug, Clone, Default)]
pub(super) struct Lists {
    pub(super) lists: Vec<OrderList>,
    /// Lists with a leg still open, by index.
    pub(super) open: BTreeSet<usize>,
    /// Stop orders waiting for their trigger, oldest first.
    pub(super) waiting: BTreeSet<usize>,
    /// Trades since the last settle that may trigger waiting orders: symbol, price.
    pub(super) tape: Vec<(Symbol, Decimal)>,
    /// Sequence number of `tape[0]`.
    pub(super) tape_base: u64,
    /// The last trade price of each symbol.
    pub(super) last: SmallMap<Symbol, Decimal>,
    /// Lists whose working leg filled completely: their pending legs go on.
    pub(super) todo: VecDeque<usize>,
}

fn would_trigger() -> ExchangeError {
    rejected(-2010, "Order would trigger immediately.")
}

fn bad_relationship() -> ExchangeError {
    rejected(
        -2010,
        "The relationship of the prices for the orders is not correct.",
    )
}

fn is_stop_loss(l: &Leg) -> bool {
    l.stop.is_some_and(|s| s.kind == StopKind::StopLoss)
}

/// The price an OCO's limit-maker or take-profit leg is judged by against the last price.
fn limit_side_price(l: &Leg) -> Decimal {
    match l.stop {
        Some(s) if l.order.market => s.price,
        _ => l.order.limit_price,
    }
}

/// Binance's placement rules of an OCO pair on `side` (the legs' roles and the prices
/// around the last trade price `last`).
fn check_pair(side: Side, above: &Leg, below: &Leg, last: Decimal) -> Result<(), ExchangeError> {
    let tp = |l: &Leg| l.stop.is_some_and(|s| s.kind == StopKind::TakeProfit);
    match side {
        Side::Sell => {
            if is_stop_loss(above) {
                return Err(rejected(
                    -1197,
                    "A stop loss order in a sell OCO must be below.",
                ));
            }
            if tp(below) {
                return Err(rejected(
                    -1199,
                    "A take profit order in a sell OCO must be above.",
                ));
            }
            if !is_stop_loss(below) {
                return Err(rejected(
                    -1166,
                    "A limit order in a sell OCO must be above.",
                ));
            }
        }
        Side::Buy => {
            if is_stop_loss(below) {
                return Err(rejected(
                    -1196,
                    "A stop loss order in a buy OCO must be above.",
                ));
            }
            if tp(above) {
                return Err(rejected(
                    -1198,
                    "A take profit order in a buy OCO must be below.",
                ));
            }
            if !is_stop_loss(above) {
                return Err(rejected(-1165, "A limit order in a buy OCO must be below."));
            }
        }
    }
    let (limit_leg, stop_leg) = match side {
        Side::Sell => (above, below),
        Side::Buy => (below, above),
    };
    let stop = stop_leg.stop.map_or(Decimal::ZERO, |s| s.price);
    let lim = limit_side_price(limit_leg);
    let ok = match side {
        Side::Sell => lim > last && last > stop,
        Side::Buy => lim < last && last < stop,
    };
    if !ok {
        return Err(bad_relationship());
    }
    Ok(())
}

impl SimExchange {
    /// The last trade price of `symbol`; the mid before any trade.
    pub fn last_price(&self, symbol: &Symbol) -> Option<Decimal> {
        self.lists
            .last
            .get(symbol)
            .copied()
            .or_else(|| self.mid(symbol))
    }

    /// The stop, list and stage of the retained order `id`.
    pub fn extras(&self, id: &OrderId) -> Option<OrderExtras> {
        let i = self.index_of(id)?;
        let e = self.meta[i - self.order_base].ext;
        let open = !self.order(i).status.is_final();
        Some(OrderExtras {
            stop: e.stop,
            pending: open && e.stage == Stage::Pending,
            waiting: open && e.stage == Stage::Waiting,
            list_id: e.list.map(|l| l as u64),
            working_ms: e.working_ms,
            expiry: e.expiry,
        })
    }

    /// Every order list, oldest first.
    pub fn order_lists(&self) -> impl Iterator<Item = &OrderList> {
        self.lists.lists.iter()
    }

    /// The list of id `id`.
    pub fn order_list(&self, id: u64) -> Option<&OrderList> {
        self.lists.lists.get(usize::try_from(id).ok()?)
    }

    /// The open list (a leg still open) of client id `list_client_id`, else the latest one.
    pub fn order_list_by_client(&self, list_client_id: &str) -> Option<&OrderList> {
        let mut found = None;
        for l in self.lists.lists.iter().rev() {
            if l.list_client_id.as_str() == list_client_id {
                if self.lists.open.contains(&(l.id as usize)) {
                    return Some(l);
                }
                found = found.or(Some(l));
            }
        }
        found
    }

    /// Whether list `id` still has an open leg.
    pub fn list_open(&self, id: u64) -> bool {
        usize::try_from(id).is_ok_and(|i| self.lists.open.contains(&i))
    }

    /// The open lists, oldest first.
    pub fn open_order_lists(&self) -> impl Iterator<Item = &OrderList> {
        self.lists.open.iter().map(|&i| &self.lists.lists[i])
    }

    /// A trade of `symbol` at `price` happened: the last price moves, and waiting stop orders
    /// will look at it when the call settles.
    pub(super) fn note_trade(&mut self, symbol: &Symbol, price: Decimal) {
        self.lists.last.insert(symbol, price);
        if self.lists.waiting.is_empty() {
            self.lists.tape_base += 1;
        } else {
            self.lists.tape.push((symbol.clone(), price));
        }
    }

    /// Whether order `i` is on the book (not a waiting stop, not a pending leg).
    pub(super) fn is_working(&self, i: usize) -> bool {
        self.meta[i - self.order_base].ext.stage == Stage::Working
    }

    pub(super) fn lists_waiting_insert(&mut self, i: usize) {
        self.lists.waiting.insert(i);
    }

    pub(super) fn tape_next(&self) -> u64 {
        self.lists.tape_base + self.lists.tape.len() as u64
    }

    /// Refuses a placement of `orders` more orders (`algo` of them stop orders, `lists` more
    /// lists) on `symbol` beyond the symbol's limits.
    pub(super) fn check_room(
        &self,
        symbol: &Symbol,
        orders: usize,
        algo: usize,
        lists: usize,
    ) -> Result<(), ExchangeError> {
        let lim = self.cfg.limits;
        let open = self.open_by_symbol.get(symbol);
        let n = open.map_or(0, |s| s.len());
        if n + orders > lim.max_orders {
            return Err(filter_failure("MAX_NUM_ORDERS"));
        }
        if algo > 0 {
            let a = open
                .into_iter()
                .flatten()
                .filter(|&&i| self.meta[i - self.order_base].ext.stop.is_some());
            if a.count() + algo > lim.max_algo_orders {
                return Err(filter_failure("MAX_NUM_ALGO_ORDERS"));
            }
        }
        if lists > 0 {
            let l = self
                .lists
                .open
                .iter()
                .filter(|&&l| &self.lists.lists[l].symbol == symbol)
                .count();
            if l + lists > lim.max_order_lists {
                return Err(filter_failure("MAX_NUM_ORDER_LISTS"));
            }
        }
        Ok(())
    }

    /// The stop price's own filter: positive and on the tick.
    fn check_stop(&self, symbol: &Symbol, stop: &Stop) -> Result<(), ExchangeError> {
        let tick = self.rules(symbol).tick_size;
        if stop.price <= Decimal::ZERO || !on_grid(stop.price, tick) {
            return Err(filter_failure("PRICE_FILTER"));
        }
        Ok(())
    }

    /// Places a stop order: it waits, its funds locked, until a trade reaches `stop`
    /// (refused when the last trade already has: "Order would trigger immediately."). A
    /// market form (`r.market`) locks, for a buy, its quantity at the stop price, and tops the
    /// lock up from free funds when it triggers.
    pub fn submit_stop(
        &mut self,
        now: TimeMs,
        mut r: NewOrder,
        stop: Stop,
    ) -> Result<Order, ExchangeError> {
        self.advance_market(now);
        self.forget_before(now);
        let fault = self.armed.take();
        if fault == Some(super::PlacementFault::Reject) {
            return Err(filter_failure("PERCENT_PRICE_BY_SIDE"));
        }
        self.check_stop(&r.symbol, &stop)?;
        if r.market {
            r.limit_price = stop.price;
        }
        self.check_room(&r.symbol, 1, 1, 0)?;
        let last = self
            .last_price(&r.symbol)
            .ok_or_else(|| rejected(-1121, "Invalid symbol."))?;
        if stop.reached(r.side, last) {
            return Err(would_trigger());
        }
        let ext = Ext {
            stop: Some(stop),
            stage: Stage::Waiting,
            market: r.market,
            since: self.tape_next(),
            ..Ext::default()
        };
        let i = self.create(now, r, ext, None, None)?;
        self.start(i, now, None);
        self.settle(now);
        Ok(self.order(i).clone())
    }

    /// Places an order list (OCO, OTO, OTOCO) whole or not at all. Returns its id.
    pub fn submit_list(&mut self, now: TimeMs, list: NewList) -> Result<u64, ExchangeError> {
        self.advance_market(now);
        self.forget_before(now);
        let fault = self.armed.take();
        if fault == Some(super::PlacementFault::Reject) {
            return Err(filter_failure("PERCENT_PRICE_BY_SIDE"));
        }
        let NewList {
            list_client_id,
            symbol,
            shape,
        } = list;
        let open_dup = self
            .lists
            .open
            .iter()
            .any(|&l| self.lists.lists[l].list_client_id == list_client_id);
        if open_dup {
            return Err(ExchangeError::DuplicateClientOrderId(list_client_id));
        }
        let last = self
            .last_price(&symbol)
            .ok_or_else(|| rejected(-1121, "Invalid symbol."))?;
        // The legs in order of their ids (the stop-loss leg of a pair first), with the role
        // of each: (leg, pending, in the OCO pair).
        let (working, pair): (Option<Leg>, Option<(Leg, Leg)>) = match shape {
            ListShape::Oco { above, below } => {
                check_pair(above.order.side, &above, &below, last)?;
                (None, Some((above, below)))
            }
            ListShape::Oto { working, pending } => {
                let legs = vec![(working, false), (pending, true)];
                return self.place_list(now, list_client_id, symbol, legs, false, last);
            }
            ListShape::Otoco {
                working,
                above,
                below,
            } => {
                // The pair is judged when it is placed, against the price then.
                if above.order.side != below.order.side {
                    return Err(bad_relationship());
                }
                (Some(working), Some((above, below)))
            }
        };
        let mut legs = Vec::new();
        let pending = working.is_some();
        if let Some(w) = working {
            legs.push((w, false));
        }
        if let Some((above, below)) = pair {
            if pending {
                // Roles only: the prices meet the market when the pair is placed.
                check_roles(above.order.side, &above, &below)?;
            }
            let (first, second) = if is_stop_loss(&below) {
                (below, above)
            } else {
                (above, below)
            };
            legs.push((first, pending));
            legs.push((second, pending));
        }
        self.place_list(now, list_client_id, symbol, legs, true, last)
    }

    /// Creates the legs of a list (`pair`: the last two legs are an OCO pair) and starts
    /// the ones not pending.
    fn place_list(
        &mut self,
        now: TimeMs,
        list_client_id: ClientOrderId,
        symbol: Symbol,
        legs: Vec<(Leg, bool)>,
        pair: bool,
        last: Decimal,
    ) -> Result<u64, ExchangeError> {
        let algo = legs.iter().filter(|(l, _)| l.stop.is_some()).count();
        self.check_room(&symbol, legs.len(), algo, 1)?;
        // Every leg passes its filters, ids are distinct, the working legs' funds are there.
        let mut seen: Vec<&ClientOrderId> = Vec::new();
        let mut locks = Vec::with_capacity(legs.len());
        for (leg, pending) in &legs {
            let r = &leg.order;
            if r.symbol != symbol {
                return Err(rejected(-1121, "Invalid symbol."));
            }
            if seen.contains(&&r.client_order_id) || self.is_duplicate(&r.client_order_id) {
                return Err(ExchangeError::DuplicateClientOrderId(
                    r.client_order_id.clone(),
                ));
            }
            seen.push(&r.client_order_id);
            if let Some(s) = &leg.stop {
                self.check_stop(&symbol, s)?;
                if !pending && s.reached(r.side, last) && !pair {
                    return Err(would_trigger());
                }
            }
            let mut probe = r.clone();
            if leg.stop.is_some() && r.market {
                probe.limit_price = leg.stop.map_or(Decimal::ZERO, |s| s.price);
            }
            let (asset, need, _) = self.admit(&probe, r.market && leg.stop.is_none())?;
            if leg.maker_only && !pending && self.takes(&probe) {
                return Err(rejected(-2010, "Order would immediately match and take."));
            }
            locks.push((asset, if *pending { Decimal::ZERO } else { need }));
        }
        // An OCO pair (placed now) locks once: the larger of its legs' needs, held by the
        // first leg.
        if pair && !legs[legs.len() - 1].1 {
            let n = locks.len();
            let shared = locks[n - 2].1.max(locks[n - 1].1);
            locks[n - 2].1 = shared;
            locks[n - 1].1 = Decimal::ZERO;
        }
        let mut need: SmallMap<crate::model::Asset, Decimal> = SmallMap::default();
        for (a, l) in &locks {
            let e = need.get_or_insert_with(a, || Decimal::ZERO);
            *e = e.saturating_add(*l);
        }
        for (a, l) in need.iter() {
            if self.funds(a).free < *l {
                return Err(rejected(-2010, INSUFFICIENT_BALANCE));
            }
        }
        let id = self.lists.lists.len();
        let mut indices: SmallVec<[usize; 3]> = SmallVec::new();
        let has_working = !pair || legs.iter().any(|(_, p)| *p);
        for ((leg, pending), (_, lock)) in legs.into_iter().zip(locks) {
            let Leg {
                mut order,
                stop,
                maker_only,
            } = leg;
            let stage = if pending {
                Stage::Pending
            } else if stop.is_some() {
                Stage::Waiting
            } else {
                Stage::Working
            };
            if let (Some(s), true) = (stop, order.market) {
                order.limit_price = s.price;
            }
            let ext = Ext {
                stop,
                stage,
                market: order.market,
                maker_only,
                list: Some(id),
                since: self.tape_next(),
                ..Ext::default()
            };
            let i = self.create(now, order, ext, Some(lock), None)?;
            indices.push(i);
        }
        let orders = indices.iter().map(|&i| self.order(i).order_id).collect();
        let working = has_working.then(|| self.order(indices[0]).order_id);
        self.lists.lists.push(OrderList {
            id: id as u64,
            list_client_id,
            symbol,
            contingency: if has_working {
                Contingency::Oto
            } else {
                Contingency::Oco
            },
            orders,
            working,
            t_ms: now,
            resolved: false,
        });
        self.lists.open.insert(id);
        for &i in &indices {
            if self.order(i).status == OrderStatus::Open {
                self.start(i, now, None);
            }
        }
        self.settle(now);
        Ok(id as u64)
    }

    /// Cancels every open leg of list `id` on `symbol`; `NotFound` when it has none.
    pub fn cancel_list(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        id: u64,
    ) -> Result<&OrderList, ExchangeError> {
        let l = usize::try_from(id).map_err(|_| ExchangeError::NotFound)?;
        if !self.lists.open.contains(&l) || &self.lists.lists[l].symbol != symbol {
            return Err(ExchangeError::NotFound);
        }
        self.before_cancel(now);
        let legs: SmallVec<[OrderId; 3]> = self.lists.lists[l].orders.clone();
        for o in legs {
            if let Some(i) = self.index_of(&o) {
                self.finish(i, OrderStatus::Canceled, now);
            }
        }
        Ok(&self.lists.lists[l])
    }

    /// Whether an order with `coid` would be a duplicate now.
    pub(super) fn is_duplicate(&self, coid: &ClientOrderId) -> bool {
        match self.cfg.dedup {
            super::Dedup::OpenOnly => self.open_by_coid.contains_key(coid),
            super::Dedup::Always => self.latest_by_coid.contains_key(coid),
        }
    }

    /// Whether a limit order would take liquidity at once.
    pub(super) fn takes(&self, r: &NewOrder) -> bool {
        match self.best_bid_ask(&r.symbol) {
            Some((bid, ask)) => match r.side {
                Side::Buy => r.limit_price >= ask,
                Side::Sell => r.limit_price <= bid,
            },
            None => false,
        }
    }
}

/// The roles of an OCO pair on `side`, without the prices (an OTOCO's pending pair meets the
/// market only when it is placed).
fn check_roles(side: Side, above: &Leg, below: &Leg) -> Result<(), ExchangeError> {
    let last = match side {
        Side::Sell => limit_side_price(above)
            .checked_add(below.stop.map_or(Decimal::ZERO, |s| s.price))
            .map(|s| s / Decimal::TWO),
        Side::Buy => limit_side_price(below)
            .checked_add(above.stop.map_or(Decimal::ZERO, |s| s.price))
            .map(|s| s / Decimal::TWO),
    };
    match check_pair(side, above, below, last.unwrap_or(Decimal::ZERO)) {
        Err(ExchangeError::Rejected { code: -2010, .. }) => Err(bad_relationship()),
        other => other,
    }
}

//! A small in-memory venue with Binance spot's rules, for examples, tests and benchmarks.
//!
//! It fills a limit order completely at the market price when the limit crosses it (no book
//! depth), rests GTC orders that do not cross, charges the fee as Binance does (in the asset
//! received, or in BNB: [`super::fees`]), enforces
//! tick, lot and minimum notional, and keeps client ids unique only among open orders. Faults
//! can be scripted per request so tests can lose replies, refuse requests or fill partially.

use rustc_hash::FxHashMap as HashMap;
use std::collections::VecDeque;

use rust_decimal::Decimal;

use super::fees::{self, FeeSettings};
use super::{Exchange, ExchangeError, Order, OrderStatus, Trade};
use crate::model::{
    bps_fraction, on_grid, Asset, ClientOrderId, OrderId, Side, SmallMap, Symbol, Tif, TimeMs,
    TradeId,
};
use crate::router::{MarketRules, OrderRequest};

/// A scripted fault for the next request(s) of the kinds it affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Any request: no fault. Lets a script skip requests.
    Pass,
    /// Any request: never reaches the venue; the caller sees a timeout.
    RequestLost,
    /// Any request: executed, but the reply is lost (a timeout).
    ResponseLost,
    /// Any request: executed, then answered with a server error (status unknown).
    ServerError,
    /// Any request: refused with HTTP 429.
    RateLimited,
    /// Placements: refused by the venue.
    Reject,
    /// Placements: only `ratio` of the quantity fills, the rest expires (IOC) or rests (GTC).
    Partial(Decimal),
}

impl Fault {
    fn hits_any_request(self) -> bool {
        !matches!(self, Fault::Reject | Fault::Partial(_))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Funds {
    free: Decimal,
    locked: Decimal,
}

/// The market's rules, with the fee as a fraction worked out once.
#[derive(Debug, Clone, Copy)]
struct Rules {
    market: MarketRules,
    fee_rate: Decimal,
}

impl From<MarketRules> for Rules {
    fn from(market: MarketRules) -> Self {
        Rules {
            market,
            fee_rate: market.fee_bps * bps_fraction(),
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        MarketRules::default().into()
    }
}

/// The in-memory venue.
#[derive(Debug, Default)]
pub struct MemoryExchange {
    rules: Rules,
    prices: SmallMap<Symbol, Decimal>,
    funds: SmallMap<Asset, Funds>,
    /// Orders by index (order id minus one) from `order_base` on; older ones were forgotten.
    orders: VecDeque<Order>,
    order_base: usize,
    /// Per order: its first and last trade (trade indices).
    trade_chain: VecDeque<(Option<usize>, Option<usize>)>,
    /// Trades by index from `trade_base` on, each with its order's index and the next trade
    /// of that order.
    trades: VecDeque<Trade>,
    trade_links: VecDeque<(usize, Option<usize>)>,
    trade_base: usize,
    /// Finished orders kept at most (with their trades); `None` keeps everything.
    history: Option<usize>,
    // Lookups only (never iterated), so their order cannot reach any output.
    latest_by_coid: HashMap<ClientOrderId, usize>,
    /// Indices of open orders, oldest first.
    open: Vec<usize>,
    /// Faults for the coming requests, in order.
    faults: VecDeque<Fault>,
    /// Market moves due at a time, applied when the first request at or after it arrives.
    scheduled: VecDeque<(TimeMs, Symbol, Decimal, Option<Decimal>)>,
    requests: u64,
    fees: FeeSettings,
    /// The asset of discounted fees ([`fees::BNB`]).
    bnb: Option<Asset>,
}

fn reject(message: &str) -> ExchangeError {
    ExchangeError::Rejected {
        code: -1013,
        message: message.to_string(),
    }
}

impl MemoryExchange {
    pub fn new() -> Self {
        MemoryExchange {
            bnb: Asset::new(fees::BNB).ok(),
            ..Self::default()
        }
    }

    pub fn with_rules(rules: MarketRules) -> Self {
        MemoryExchange {
            rules: rules.into(),
            ..Self::new()
        }
    }

    /// Which asset commissions are paid in (the received asset unless set).
    pub fn with_fees(mut self, fees: FeeSettings) -> Self {
        self.fees = fees;
        self
    }

    /// Keeps only the latest `orders` orders once they are finished (and their trades), as a
    /// long-running process would; older ones are no longer found by queries. Without it the
    /// venue remembers everything, which tests inspect.
    pub fn with_history(mut self, orders: usize) -> Self {
        self.history = Some(orders);
        self
    }

    fn order(&self, i: usize) -> &Order {
        &self.orders[i - self.order_base]
    }

    fn order_mut(&mut self, i: usize) -> &mut Order {
        &mut self.orders[i - self.order_base]
    }

    /// The order with this index, if it is still remembered.
    fn find(&self, i: usize) -> Option<&Order> {
        self.orders.get(i.checked_sub(self.order_base)?)
    }

    /// Forgets the oldest finished orders beyond the history limit, and trades of forgotten
    /// orders.
    fn forget(&mut self) {
        let Some(keep) = self.history else {
            return;
        };
        while self.orders.len() > keep && self.orders.front().is_some_and(|o| o.status.is_final()) {
            if let Some(o) = self.orders.pop_front() {
                if self.latest_by_coid.get(&o.client_order_id) == Some(&self.order_base) {
                    self.latest_by_coid.remove(&o.client_order_id);
                }
            }
            self.trade_chain.pop_front();
            self.order_base += 1;
        }
        while self
            .trade_links
            .front()
            .is_some_and(|&(order, _)| order < self.order_base)
        {
            self.trades.pop_front();
            self.trade_links.pop_front();
            self.trade_base += 1;
        }
    }

    pub fn deposit(&mut self, asset: &Asset, amount: Decimal) {
        self.funds_mut(asset).free += amount;
    }

    /// The account's total (free + locked) of an asset: the ground truth the portfolio must match.
    pub fn balance(&self, asset: &Asset) -> Decimal {
        self.funds_of(asset)
            .map_or(Decimal::ZERO, |f| f.free + f.locked)
    }

    /// Every asset's total, in asset order.
    pub fn balances(&self) -> impl Iterator<Item = (&Asset, Decimal)> {
        self.funds.iter().map(|(a, f)| (a, f.free + f.locked))
    }

    /// What is not locked in open orders.
    pub fn free(&self, asset: &Asset) -> Decimal {
        self.funds_of(asset).map_or(Decimal::ZERO, |f| f.free)
    }

    fn funds_of(&self, asset: &Asset) -> Option<&Funds> {
        self.funds.get(asset)
    }

    fn funds_mut(&mut self, asset: &Asset) -> &mut Funds {
        self.funds.get_or_insert_with(asset, Funds::default)
    }

    /// Moves the market; resting GTC orders that now cross fill completely.
    pub fn set_price(&mut self, symbol: &Symbol, price: Decimal) {
        self.prices.insert(symbol, price);
        self.trade(symbol, price, None);
    }

    /// A trade of at most `qty` (unlimited for `None`) at `price` against resting orders that
    /// cross it, oldest first. The market price itself is unchanged.
    pub fn trade(&mut self, symbol: &Symbol, price: Decimal, qty: Option<Decimal>) {
        let mut left = qty;
        for i in self.open.clone() {
            let o = self.order(i);
            if o.status == OrderStatus::Open
                && &o.symbol == symbol
                && crosses(o.side, o.price, price)
            {
                let q = left.map_or(o.remaining, |l| l.min(o.remaining));
                if q <= Decimal::ZERO {
                    break;
                }
                self.fill(i, q, price, 0);
                left = left.map(|l| l - q);
            }
        }
    }

    /// At `at_ms`, the market moves to `price` (`qty: None`), or a trade of `qty` at `price`
    /// hits resting orders without moving it. Calls must come in time order.
    pub fn schedule(
        &mut self,
        at_ms: TimeMs,
        symbol: &Symbol,
        price: Decimal,
        qty: Option<Decimal>,
    ) {
        self.scheduled
            .push_back((at_ms, symbol.clone(), price, qty));
    }

    fn catch_up(&mut self, now: TimeMs) {
        while self.scheduled.front().is_some_and(|e| e.0 <= now) {
            if let Some((_, symbol, price, qty)) = self.scheduled.pop_front() {
                match qty {
                    None => self.set_price(&symbol, price),
                    Some(_) => self.trade(&symbol, price, qty),
                }
            }
        }
    }

    /// Scripts faults for the coming requests, consumed in order.
    pub fn push_fault(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    /// Every order created (all that are remembered, see [`MemoryExchange::with_history`]),
    /// in creation order.
    pub fn orders(&self) -> &VecDeque<Order> {
        &self.orders
    }

    /// Every trade (of the remembered orders), in execution order.
    pub fn trades(&self) -> &VecDeque<Trade> {
        &self.trades
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The fault for a non-placement request: the next fault if it is a network one.
    fn take_fault(&mut self) -> Option<Fault> {
        let f = *self.faults.front()?;
        if f.hits_any_request() {
            self.faults.pop_front();
            Some(f)
        } else {
            None
        }
    }

    /// A placement takes the next fault; a network fault may be followed by a venue fault for
    /// the same placement, so "reply lost, partial fill" is scripted as those two in order.
    fn take_placement_faults(&mut self) -> (Option<Fault>, Option<Fault>) {
        let mut net = None;
        if let Some(f) = self
            .faults
            .front()
            .copied()
            .filter(|f| f.hits_any_request())
        {
            self.faults.pop_front();
            net = Some(f);
        }
        let venue = self
            .faults
            .front()
            .copied()
            .filter(|f| !f.hits_any_request());
        if venue.is_some() {
            self.faults.pop_front();
        }
        (net, venue)
    }

    /// Runs `exec` unless a network fault says otherwise, and shapes its reply by the fault.
    fn request<T>(
        &mut self,
        fault: Option<Fault>,
        exec: impl FnOnce(&mut Self) -> Result<T, ExchangeError>,
    ) -> Result<T, ExchangeError> {
        self.requests += 1;
        match fault {
            Some(Fault::RequestLost) => Err(ExchangeError::Timeout),
            Some(Fault::RateLimited) => Err(ExchangeError::RateLimited {
                retry_after_ms: 1_000,
            }),
            Some(Fault::ResponseLost) => exec(self).and(Err(ExchangeError::Timeout)),
            Some(Fault::ServerError) => {
                exec(self).and(Err(ExchangeError::ServerError("-1007".into())))
            }
            _ => exec(self),
        }
    }

    fn fill(&mut self, i: usize, qty: Decimal, price: Decimal, now: TimeMs) {
        let fee_rate = self.rules.fee_rate;
        let bnb_free = self.bnb.as_ref().map_or(Decimal::ZERO, |b| self.free(b));
        let (symbol, side) = {
            let o = self.order(i);
            (o.symbol.clone(), o.side)
        };
        let (base, quote) = (symbol.base(), symbol.quote());
        let (fee_asset, fee) = fees::charge(
            self.fees,
            self.bnb.as_ref(),
            bnb_free,
            &symbol,
            side,
            qty,
            price,
            fee_rate,
        )
        .map_or_else(
            || match side {
                Side::Buy => (base.clone(), Decimal::ZERO),
                Side::Sell => (quote.clone(), Decimal::ZERO),
            },
            |c| (c.asset, c.amount),
        );
        let o = &mut self.orders[i - self.order_base];
        let notional = qty * price;
        let locked_for_qty = match o.side {
            Side::Buy => qty * o.price,
            Side::Sell => qty,
        };
        let prev = o.filled;
        o.filled += qty;
        o.remaining -= qty;
        o.average = Some(match o.average {
            Some(avg) if !prev.is_zero() => ((avg * prev) + notional) / o.filled,
            _ => price,
        });
        // The order's fee is in its first fill's fee asset; others show in their trades.
        if prev.is_zero() {
            o.fee_asset = fee_asset.clone();
        }
        if o.fee_asset == fee_asset {
            o.fee += fee;
        }
        if o.remaining.is_zero() {
            o.status = OrderStatus::Closed;
            self.open.retain(|&j| j != i);
        }
        let trade = Trade {
            trade_id: TradeId::numbered((self.trade_base + self.trades.len()) as u64 + 1),
            order_id: o.order_id,
            symbol: o.symbol.clone(),
            side: o.side,
            price,
            qty,
            fee,
            fee_asset: fee_asset.clone(),
            t_ms: now,
        };
        let t = self.trade_base + self.trades.len();
        self.trades.push_back(trade);
        self.trade_links.push_back((i, None));
        let chain = &mut self.trade_chain[i - self.order_base];
        let last = chain.1.replace(t);
        if last.is_none() {
            chain.0 = Some(t);
        }
        // The previous trade of an order is never forgotten before the order itself.
        if let Some(link) = last.and_then(|l| self.trade_links.get_mut(l - self.trade_base)) {
            link.1 = Some(t);
        }
        let (got, amount_in) = match side {
            Side::Buy => {
                let q = self.funds_mut(quote);
                q.locked -= locked_for_qty;
                q.free += locked_for_qty - notional;
                (base, qty)
            }
            Side::Sell => {
                self.funds_mut(base).locked -= qty;
                (quote, notional)
            }
        };
        self.funds_mut(got).free += amount_in;
        self.funds_mut(&fee_asset).free -= fee;
    }

    fn unlock_rest(&mut self, i: usize) {
        let o = self.order(i);
        let (asset, amount) = match o.side {
            Side::Buy => (o.symbol.quote().clone(), o.remaining * o.price),
            Side::Sell => (o.symbol.base().clone(), o.remaining),
        };
        let f = self.funds_mut(&asset);
        f.locked -= amount;
        f.free += amount;
    }

    fn do_place(
        &mut self,
        now: TimeMs,
        r: &OrderRequest,
        partial: Option<Decimal>,
    ) -> Result<Order, ExchangeError> {
        let rules = self.rules.market;
        if !on_grid(r.limit_price(), rules.tick_size) {
            return Err(reject("Filter failure: PRICE_FILTER"));
        }
        if !on_grid(r.qty(), rules.step_size) || r.qty() <= Decimal::ZERO {
            return Err(reject("Filter failure: LOT_SIZE"));
        }
        if r.qty() * r.limit_price() < rules.min_notional {
            return Err(reject("Filter failure: NOTIONAL"));
        }
        let open_twin = self
            .latest_by_coid
            .get(r.client_order_id())
            .is_some_and(|&i| self.find(i).is_some_and(|o| o.status == OrderStatus::Open));
        if open_twin {
            return Err(ExchangeError::DuplicateClientOrderId(
                r.client_order_id().clone(),
            ));
        }
        let Some(&market) = self.prices.get(r.symbol()) else {
            return Err(reject("Invalid symbol."));
        };
        let (asset, lock) = match r.side() {
            Side::Buy => (r.symbol().quote().clone(), r.qty() * r.limit_price()),
            Side::Sell => (r.symbol().base().clone(), r.qty()),
        };
        let funds = self.funds_mut(&asset);
        if funds.free < lock {
            return Err(ExchangeError::Rejected {
                code: -2010,
                message: "Account has insufficient balance for requested action.".into(),
            });
        }
        funds.free -= lock;
        funds.locked += lock;
        let i = self.order_base + self.orders.len();
        self.latest_by_coid.insert(r.client_order_id().clone(), i);
        self.open.push(i);
        self.trade_chain.push_back((None, None));
        self.orders
            .push_back(Order::accepted(OrderId::numbered(i as u64 + 1), r));
        if crosses(r.side(), r.limit_price(), market) {
            let qty = match partial {
                Some(ratio) => {
                    let q = r.qty() * ratio;
                    (q / rules.step_size).floor() * rules.step_size
                }
                None => r.qty(),
            };
            if qty > Decimal::ZERO {
                self.fill(i, qty, market, now);
            }
        }
        if r.tif() == Tif::Ioc && self.order(i).status == OrderStatus::Open {
            self.unlock_rest(i);
            self.order_mut(i).status = OrderStatus::Expired;
            self.open.retain(|&j| j != i);
        }
        let placed = self.order(i).clone();
        self.forget();
        Ok(placed)
    }
}

fn crosses(side: Side, limit: Decimal, market: Decimal) -> bool {
    match side {
        Side::Buy => limit >= market,
        Side::Sell => limit <= market,
    }
}

impl Exchange for MemoryExchange {
    fn place(&mut self, now: TimeMs, request: &OrderRequest) -> Result<Order, ExchangeError> {
        self.catch_up(now);
        let (net, venue) = self.take_placement_faults();
        self.request(net, |x| match venue {
            Some(Fault::Reject) => Err(reject("scripted reject")),
            Some(Fault::Partial(ratio)) => x.do_place(now, request, Some(ratio)),
            _ => x.do_place(now, request, None),
        })
    }

    fn fetch_order(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        client_order_id: &ClientOrderId,
    ) -> Result<Order, ExchangeError> {
        self.catch_up(now);
        let fault = self.take_fault();
        self.request(fault, |x| {
            x.latest_by_coid
                .get(client_order_id)
                .and_then(|&i| x.find(i))
                .filter(|o| &o.symbol == symbol)
                .cloned()
                .ok_or(ExchangeError::NotFound)
        })
    }

    fn fetch_trades(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        order_id: &OrderId,
    ) -> Result<Vec<Trade>, ExchangeError> {
        self.catch_up(now);
        let fault = self.take_fault();
        self.request(fault, |x| {
            // This venue numbers its orders 1, 2, ...: the id is the index plus one.
            let index = usize::try_from(order_id.get())
                .ok()
                .and_then(|n| n.checked_sub(1))
                .filter(|&i| x.find(i).is_some_and(|o| &o.order_id == order_id));
            let mut trades = Vec::new();
            let mut next = index.and_then(|i| x.trade_chain[i - x.order_base].0);
            while let Some(t) = next {
                let k = t - x.trade_base;
                if x.trades[k].symbol == *symbol {
                    trades.push(x.trades[k].clone());
                }
                next = x.trade_links[k].1;
            }
            Ok(trades)
        })
    }

    fn cancel(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        client_order_id: &ClientOrderId,
    ) -> Result<Order, ExchangeError> {
        self.catch_up(now);
        let fault = self.take_fault();
        self.request(fault, |x| {
            let i = x
                .latest_by_coid
                .get(client_order_id)
                .copied()
                .filter(|&i| {
                    x.find(i)
                        .is_some_and(|o| o.status == OrderStatus::Open && &o.symbol == symbol)
                })
                .ok_or(ExchangeError::NotFound)?;
            x.unlock_rest(i);
            x.order_mut(i).status = OrderStatus::Canceled;
            x.open.retain(|&j| j != i);
            Ok(x.order(i).clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }
    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    /// A venue at 50000 with 10 bps fees and the given funds.
    fn venue(fees: FeeSettings, funds: &[(&str, &str)]) -> (MemoryExchange, Symbol) {
        let btc = Symbol::parse("BTC/USDT").unwrap();
        let mut x = MemoryExchange::new().with_fees(fees);
        for (asset, amount) in funds {
            x.deposit(&a(asset), d(amount));
        }
        x.set_price(&btc, d("50000"));
        (x, btc)
    }

    fn order(id: &str, symbol: &Symbol, side: Side, qty: &str) -> OrderRequest {
        let limit = if side == Side::Buy { "50100" } else { "49900" };
        OrderRequest::forged(
            ClientOrderId::generated(id),
            symbol.clone(),
            side,
            d(qty),
            d(limit),
        )
    }

    #[test]
    // rule: balances_match
    fn buys_pay_in_base_sells_in_quote() {
        let (mut x, btc) = venue(FeeSettings::default(), &[("USDT", "1000")]);
        let o = x.place(0, &order("b", &btc, Side::Buy, "0.01")).unwrap();
        assert_eq!((o.fee, o.fee_asset.as_str()), (d("0.00001"), "BTC"));
        assert_eq!(x.balance(&a("BTC")), d("0.00999"));
        assert_eq!(x.balance(&a("USDT")), d("500"));
        // The whole fill is not held: refused as Binance refuses it.
        assert!(x.place(0, &order("s", &btc, Side::Sell, "0.01")).is_err());
        let o = x
            .place(0, &order("s2", &btc, Side::Sell, "0.00999"))
            .unwrap();
        assert_eq!((o.fee, o.fee_asset.as_str()), (d("0.4995"), "USDT"));
        assert_eq!(x.balance(&a("USDT")), d("500") + d("499.5") - d("0.4995"));
        assert_eq!(x.balance(&a("BTC")), Decimal::ZERO);
    }

    #[test]
    // rule: balances_match
    fn bnb_pays_until_it_runs_out() {
        let fees = FeeSettings {
            mode: fees::FeeMode::Bnb,
            bnb_price: d("500"),
        };
        // 500 USDT * 0.001 * 0.75 / 500 = 0.00075 BNB a buy: enough for one.
        let (mut x, btc) = venue(fees, &[("USDT", "2000"), ("BNB", "0.001")]);
        let o = x.place(0, &order("b1", &btc, Side::Buy, "0.01")).unwrap();
        assert_eq!((o.fee, o.fee_asset.as_str()), (d("0.00075"), "BNB"));
        assert_eq!(x.balance(&a("BTC")), d("0.01"));
        let o = x.place(0, &order("b2", &btc, Side::Buy, "0.01")).unwrap();
        assert_eq!((o.fee, o.fee_asset.as_str()), (d("0.00001"), "BTC"));
        assert_eq!(x.balance(&a("BTC")), d("0.01999"));
        assert_eq!(x.balance(&a("BNB")), d("0.00025"));
    }
}

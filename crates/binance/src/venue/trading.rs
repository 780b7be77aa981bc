//! The SIGNED trading endpoints: orders, open and all orders, my trades, the account.

use rust_decimal::Decimal;
use serde::Serialize;

use super::error::ApiError;
use super::params::Params;
use super::public::{MAX_PRICE, MAX_QTY};
use super::shapes::{
    order_id_num, trade_id_num, Account, Ack, Balance, Canceled, CommissionRates, Dec, Fill,
    MyTrade, OrderInfo, OrderType, Placed, Queried, Shown,
};
use super::{Call, Op as VenueOp, Outcome, Venue};
use crate::exchange::sim::{NewOrder, PlacementFault, Stop, StopKind, TradesFault};
use crate::exchange::{Exchange, ExchangeError, Order};
use crate::model::{bps_fraction, ClientOrderId, OrderId, Side, Symbol, Tif, TimeMs};
use crate::sim::faults::Request as FaultRequest;
use crate::sim::scenario::FaultKind;

pub const ORDER_PATH: &str = "/api/v3/order";
/// Binance's `newClientOrderId` length limit.
const MAX_CLIENT_ID: usize = 36;

/// How much a placement answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resp {
    Ack,
    Result,
    Full,
}

/// An order named by the venue's id or by the client's.
#[derive(Debug, Clone)]
pub enum By {
    Id(u64),
    Client(ClientOrderId),
}

#[derive(Debug, Clone)]
pub struct Placement {
    order: NewOrder,
    kind: OrderType,
    tif: &'static str,
    /// A market order sized by what it spends (or receives) in the quote asset.
    quote_qty: Option<Decimal>,
    resp: Resp,
    /// The trigger of a stop form.
    stop: Option<Stop>,
}

/// A time window and page size of a listing.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub(super) start: Option<TimeMs>,
    pub(super) end: Option<TimeMs>,
    pub(super) limit: usize,
}

#[derive(Debug, Clone)]
pub enum Op {
    Place(Box<Placement>),
    /// `order/test`: checked like a placement, never executed.
    Test,
    Query {
        symbol: Symbol,
        by: By,
    },
    Cancel {
        symbol: Symbol,
        by: By,
        cancel_id: Option<String>,
    },
    CancelAll {
        symbol: Symbol,
    },
    Open {
        symbol: Option<Symbol>,
    },
    All {
        symbol: Symbol,
        from_id: Option<u64>,
        page: Page,
    },
    Trades {
        symbol: Symbol,
        order_id: Option<u64>,
        from_id: Option<u64>,
        page: Page,
    },
    Account {
        omit_zero: bool,
    },
    /// Order lists and cancel-replace ([`super::orderlist`]).
    List(Box<super::orderlist::Op>),
}

impl Op {
    /// Which faults the call can suffer.
    pub(super) fn fault_request(&self) -> FaultRequest {
        match self {
            Op::Place(_) => FaultRequest::Place,
            Op::List(op) if op.places() => FaultRequest::Place,
            Op::Trades {
                order_id: Some(_), ..
            } => FaultRequest::FetchTrades,
            _ => FaultRequest::Other,
        }
    }
}

pub(super) fn call(op: Op, symbol: Option<Symbol>) -> Result<Call, ApiError> {
    Ok(Call {
        op: VenueOp::Trading(op),
        symbol,
    })
}

pub(super) fn symbol(v: &Venue, p: &Params) -> Result<Symbol, ApiError> {
    v.symbol(p.required("symbol", |p, n| p.ident(n, 20))?)
}

pub(super) fn client_id(p: &Params, name: &str) -> Result<Option<ClientOrderId>, ApiError> {
    p.ident(name, MAX_CLIENT_ID)?
        .map(|s| ClientOrderId::new(s).map_err(|_| ApiError::illegal_chars(name)))
        .transpose()
}

/// `orderId` or `origClientOrderId` (`orderId` wins when both are sent).
fn by(p: &Params) -> Result<By, ApiError> {
    let id = p.uint("orderId")?;
    let client = client_id(p, "origClientOrderId")?;
    match (id, client) {
        (Some(id), _) => Ok(By::Id(id)),
        (None, Some(c)) => Ok(By::Client(c)),
        (None, None) => Err(ApiError::one_of("orderId", "origClientOrderId")),
    }
}

pub(super) fn page(p: &Params) -> Result<Page, ApiError> {
    let start = p.uint("startTime")?;
    let end = p.uint("endTime")?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(ApiError::bad_combination());
        }
        if e - s > 86_400_000 {
            return Err(ApiError::bad_limit());
        }
    }
    Ok(Page {
        start,
        end,
        limit: p.limit("limit", 500, 1_000)? as usize,
    })
}

pub(super) fn new_order(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let side = match p.required("side", |p, n| Ok(p.raw(n)))? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::invalid_side()),
    };
    let kind = OrderType::parse(p.required("type", |p, n| Ok(p.raw(n)))?)
        .ok_or_else(ApiError::invalid_order_type)?;
    let stop_price = p.decimal("stopPrice")?;
    let stop = match (kind, stop_price) {
        (OrderType::StopLoss | OrderType::StopLossLimit, Some(price)) => Some(Stop {
            kind: StopKind::StopLoss,
            price,
        }),
        (OrderType::TakeProfit | OrderType::TakeProfitLimit, Some(price)) => Some(Stop {
            kind: StopKind::TakeProfit,
            price,
        }),
        (k, None) if k.is_stop() => return Err(ApiError::mandatory("stopPrice")),
        (_, Some(_)) => return Err(ApiError::not_required("stopPrice")),
        (_, None) => None,
    };
    if stop.is_some_and(|s| s.price > MAX_PRICE) {
        return Err(ApiError::filter("Filter failure: PRICE_FILTER".into()));
    }
    let tif = p.raw("timeInForce");
    let qty = p.decimal("quantity")?;
    let quote_qty = p.decimal("quoteOrderQty")?;
    let price = p.decimal("price")?;
    let resp = match p.raw("newOrderRespType") {
        // Binance answers the stop forms with ACK unless asked otherwise.
        None if kind.is_stop() => Resp::Ack,
        None | Some("FULL") => Resp::Full,
        Some("RESULT") => Resp::Result,
        Some("ACK") => Resp::Ack,
        Some(_) => return Err(ApiError::invalid_resp_type()),
    };
    match p.raw("selfTradePreventionMode") {
        None | Some("NONE" | "EXPIRE_MAKER" | "EXPIRE_TAKER" | "EXPIRE_BOTH") => {}
        Some(_) => return Err(ApiError::illegal_chars("selfTradePreventionMode")),
    }
    let client = client_id(p, "newClientOrderId")?;
    let (tif, tif_name, limit_price, qty) = match kind {
        OrderType::Limit | OrderType::StopLossLimit | OrderType::TakeProfitLimit => {
            let (tif, name) = match tif {
                None => return Err(ApiError::mandatory("timeInForce")),
                Some("GTC") => (Tif::Gtc, "GTC"),
                Some("IOC") => (Tif::Ioc, "IOC"),
                // Fill-or-kill: immediate, and whole or not at all (see `place`).
                Some("FOK") => (Tif::Ioc, "FOK"),
                Some(_) => return Err(ApiError::invalid_tif()),
            };
            if quote_qty.is_some() {
                return Err(ApiError::not_required("quoteOrderQty"));
            }
            let price = price.ok_or_else(|| ApiError::mandatory("price"))?;
            let qty = qty.ok_or_else(|| ApiError::mandatory("quantity"))?;
            (tif, name, price, qty)
        }
        OrderType::LimitMaker => {
            if tif.is_some() {
                return Err(ApiError::not_required("timeInForce"));
            }
            if quote_qty.is_some() {
                return Err(ApiError::not_required("quoteOrderQty"));
            }
            let price = price.ok_or_else(|| ApiError::mandatory("price"))?;
            let qty = qty.ok_or_else(|| ApiError::mandatory("quantity"))?;
            (Tif::Gtc, "GTC", price, qty)
        }
        OrderType::StopLoss | OrderType::TakeProfit => {
            if tif.is_some() {
                return Err(ApiError::not_required("timeInForce"));
            }
            if price.is_some() {
                return Err(ApiError::not_required("price"));
            }
            if quote_qty.is_some() {
                return Err(ApiError::not_required("quoteOrderQty"));
            }
            let qty = qty.ok_or_else(|| ApiError::mandatory("quantity"))?;
            (Tif::Ioc, "GTC", Decimal::ZERO, qty)
        }
        OrderType::Market => {
            if tif.is_some() {
                return Err(ApiError::not_required("timeInForce"));
            }
            if price.is_some() {
                return Err(ApiError::not_required("price"));
            }
            let qty = match (qty, quote_qty) {
                (Some(_), Some(_)) => return Err(ApiError::bad_combination()),
                (None, None) => return Err(ApiError::one_of("quantity", "quoteOrderQty")),
                (Some(q), None) => q,
                (None, Some(_)) => Decimal::ZERO,
            };
            (Tif::Ioc, "GTC", Decimal::ZERO, qty)
        }
    };
    let rules = v.ex.rules(&symbol);
    if !kind.is_market() && limit_price > MAX_PRICE {
        return Err(ApiError::filter("Filter failure: PRICE_FILTER".into()));
    }
    if qty > MAX_QTY {
        return Err(ApiError::filter("Filter failure: LOT_SIZE".into()));
    }
    if quote_qty.is_some_and(|q| q > MAX_QTY * MAX_PRICE) {
        return Err(ApiError::filter("Filter failure: NOTIONAL".into()));
    }
    let _ = rules;
    let client_order_id = match client {
        Some(c) => c,
        None => ClientOrderId::new(&format!("venue-{}", v.anonymous + 1))
            .map_err(|_| ApiError::mandatory("newClientOrderId"))?,
    };
    call(
        Op::Place(Box::new(Placement {
            order: NewOrder {
                client_order_id,
                symbol: symbol.clone(),
                side,
                qty,
                limit_price,
                tif,
                market: kind.is_market(),
            },
            kind,
            tif: tif_name,
            quote_qty,
            resp,
            stop,
        })),
        Some(symbol),
    )
}

pub(super) fn test_order(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let _ = p.raw("computeCommissionRates");
    let call = new_order(v, p)?;
    Ok(Call {
        op: VenueOp::Trading(Op::Test),
        symbol: call.symbol,
    })
}

pub(super) fn query_order(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let by = by(p)?;
    call(
        Op::Query {
            symbol: symbol.clone(),
            by,
        },
        Some(symbol),
    )
}

pub(super) fn cancel_order(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let by = by(p)?;
    let cancel_id = client_id(p, "newClientOrderId")?.map(|c| c.as_str().to_string());
    match p.raw("cancelRestrictions") {
        None | Some("ONLY_NEW" | "ONLY_PARTIALLY_FILLED") => {}
        Some(_) => return Err(ApiError::illegal_chars("cancelRestrictions")),
    }
    call(
        Op::Cancel {
            symbol: symbol.clone(),
            by,
            cancel_id,
        },
        Some(symbol),
    )
}

pub(super) fn cancel_all(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    call(
        Op::CancelAll {
            symbol: symbol.clone(),
        },
        Some(symbol),
    )
}

pub(super) fn open_orders(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = match p.ident("symbol", 20)? {
        Some(s) => Some(v.symbol(s)?),
        None => None,
    };
    call(
        Op::Open {
            symbol: symbol.clone(),
        },
        symbol,
    )
}

pub(super) fn all_orders(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let from_id = p.uint("orderId")?;
    let page = page(p)?;
    call(
        Op::All {
            symbol: symbol.clone(),
            from_id,
            page,
        },
        Some(symbol),
    )
}

pub(super) fn my_trades(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let order_id = p.uint("orderId")?;
    let from_id = p.uint("fromId")?;
    let page = page(p)?;
    if from_id.is_some() && (page.start.is_some() || page.end.is_some()) {
        return Err(ApiError::bad_combination());
    }
    call(
        Op::Trades {
            symbol: symbol.clone(),
            order_id,
            from_id,
            page,
        },
        Some(symbol),
    )
}

pub(super) fn account(_: &Venue, p: &Params) -> Result<Call, ApiError> {
    let omit_zero = match p.raw("omitZeroBalances") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::illegal_chars("omitZeroBalances")),
    };
    call(Op::Account { omit_zero }, None)
}

pub(super) fn to_body(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|_| ApiError::unknown_endpoint())
}

/// `BTC/USDT` as Binance names it: `BTCUSDT`.
pub(super) fn binance_name(s: &Symbol) -> String {
    format!("{}{}", s.base(), s.quote())
}

/// A placement refused by the simulated exchange, in Binance's words.
pub(super) fn placement_error(e: ExchangeError) -> ApiError {
    match e {
        ExchangeError::Rejected {
            code: -1013,
            message,
        } => ApiError::filter(message),
        ExchangeError::Rejected { code: -1121, .. } => ApiError::invalid_symbol(),
        ExchangeError::Rejected {
            code: -2010,
            message,
        } => ApiError::new_order_rejected(&message),
        ExchangeError::Rejected { code, message } => ApiError::rejected_with(code, message),
        ExchangeError::DuplicateClientOrderId(_) => ApiError::duplicate_order(),
        _ => ApiError::execution_unknown(),
    }
}

impl Venue {
    /// Whether the account's side of trade `t` was the maker: the trade came after its order's
    /// placement had returned (a resting order filled by a later price).
    pub(super) fn is_maker(&self, t: &crate::exchange::Trade) -> bool {
        let order = usize::try_from(t.order_id.get()).unwrap_or(0);
        let taker_end = order
            .checked_sub(1)
            .and_then(|i| self.taker_end.get(i))
            .copied()
            .unwrap_or(0);
        trade_id_num(t) as usize > taker_end
    }

    pub(in crate::venue) fn info(&self, o: &Order) -> OrderInfo {
        self.infos
            .get(order_id_num(o).wrapping_sub(1) as usize)
            .copied()
            .unwrap_or(OrderInfo {
                kind: OrderType::Limit,
                tif: "GTC",
                time: 0,
                orig_quote_qty: Decimal::ZERO,
            })
    }

    /// When the order last changed: it ended, or its last fill, or its placement.
    fn update_time(&self, o: &Order) -> TimeMs {
        let info = self.info(o);
        self.ex
            .final_ms(&o.order_id)
            .or_else(|| self.ex.trades_of(&o.order_id).map(|t| t.t_ms).max())
            .unwrap_or(info.time)
            .max(info.time)
    }

    fn queried<'a>(&self, name: &'a str, o: &'a Order) -> Queried<'a> {
        Queried::new(name, o, &self.info(o), self.update_time(o)).shown(&self.shown(o))
    }

    /// The order's list, stop and stage as its answers show them.
    pub(super) fn shown(&self, o: &Order) -> Shown {
        Shown::of(o, self.ex.extras(&o.order_id).as_ref(), self.info(o).time)
    }

    /// Keeps what the answers need of an order the exchange just created.
    pub(super) fn remember(&mut self, o: &Order, info: OrderInfo) {
        let index = order_id_num(o).saturating_sub(1) as usize;
        if self.infos.len() <= index {
            self.infos.resize(index + 1, info);
            self.taker_end.resize(index + 1, 0);
        }
        self.infos[index] = info;
        self.taker_end[index] = self.ex.trade_count();
    }

    pub(super) fn find(&self, symbol: &Symbol, by: &By) -> Option<&Order> {
        let o = match by {
            By::Id(n) => self.ex.order_by_id(&OrderId::from_u64(*n).ok()?)?,
            By::Client(c) => self.ex.order_by_coid(symbol, c)?,
        };
        (&o.symbol == symbol).then_some(o)
    }
}

/// Runs a checked call. `fault` is a venue fault drawn for it (a placement's reject, partial
/// fill or requote; a trade query's odd answer).
pub(super) fn execute(
    v: &mut Venue,
    now: TimeMs,
    op: Op,
    fault: Option<FaultKind>,
    out: &mut Outcome,
) -> Result<Vec<u8>, ApiError> {
    match op {
        Op::Place(p) => place(v, now, *p, fault, out),
        Op::List(op) => super::orderlist::execute(v, now, *op, fault, out),
        Op::Test => Ok(b"{}".to_vec()),
        Op::Query { symbol, by } => {
            let o = v.find(&symbol, &by).ok_or_else(ApiError::no_such_order)?;
            let o = match fault {
                Some(FaultKind::OrderForeign) => match v.ex.another_order(o) {
                    Some(other) => {
                        out.faults.push("order_foreign");
                        other
                    }
                    None => o,
                },
                _ => o,
            };
            let n = binance_name(&symbol);
            to_body(&v.queried(&n, o))
        }
        Op::Cancel {
            symbol,
            by,
            cancel_id,
        } => {
            let id = v
                .find(&symbol, &by)
                .map(|o| o.order_id)
                .ok_or_else(ApiError::cancel_rejected)?;
            let o =
                v.ex.cancel_by_id(now, &symbol, &id)
                    .map_err(|_| ApiError::cancel_rejected())?;
            out.executed = Some(o.clone());
            let cancel_id = cancel_id.unwrap_or_else(|| format!("cancel-{}", order_id_num(&o)));
            v.cancel_ids.insert(order_id_num(&o), cancel_id.clone());
            let n = binance_name(&symbol);
            to_body(&Canceled::new(&n, &o, &v.info(&o), &cancel_id, now).shown(&v.shown(&o)))
        }
        Op::CancelAll { symbol } => {
            let ids: Vec<OrderId> =
                v.ex.open_orders()
                    .filter(|o| o.symbol == symbol)
                    .map(|o| o.order_id)
                    .collect();
            if ids.is_empty() {
                return Err(ApiError::cancel_rejected());
            }
            let n = binance_name(&symbol);
            let mut done = Vec::new();
            for id in ids {
                if let Ok(o) = v.ex.cancel_by_id(now, &symbol, &id) {
                    done.push(o);
                }
            }
            let cancel_ids: Vec<String> = done
                .iter()
                .map(|o| format!("cancel-{}", order_id_num(o)))
                .collect();
            let body: Vec<Canceled> = done
                .iter()
                .zip(&cancel_ids)
                .map(|(o, c)| Canceled::new(&n, o, &v.info(o), c, now).shown(&v.shown(o)))
                .collect();
            to_body(&body)
        }
        Op::Open { symbol } => {
            let orders: Vec<(String, &Order)> =
                v.ex.open_orders()
                    .filter(|o| symbol.as_ref().is_none_or(|s| &o.symbol == s))
                    .map(|o| (binance_name(&o.symbol), o))
                    .collect();
            let body: Vec<Queried> = orders.iter().map(|(n, o)| v.queried(n, o)).collect();
            to_body(&body)
        }
        Op::All {
            symbol,
            from_id,
            page,
        } => {
            let n = binance_name(&symbol);
            let picked: Vec<&Order> =
                v.ex.orders()
                    .filter(|o| o.symbol == symbol)
                    .filter(|o| from_id.is_none_or(|f| order_id_num(o) >= f))
                    .filter(|o| in_page(&page, v.info(o).time))
                    .collect();
            let picked = paged(picked, &page, from_id.is_some());
            let body: Vec<Queried> = picked.into_iter().map(|o| v.queried(&n, o)).collect();
            to_body(&body)
        }
        Op::Trades {
            symbol,
            order_id,
            from_id,
            page,
        } => {
            let n = binance_name(&symbol);
            let trades: Vec<crate::exchange::Trade> = match order_id {
                Some(id) => {
                    let armed = match fault {
                        Some(FaultKind::TradesRepeat) => Some(TradesFault::Repeat),
                        Some(FaultKind::TradesForeign) => Some(TradesFault::Foreign),
                        Some(FaultKind::TradesSplit) => Some(TradesFault::Split),
                        Some(FaultKind::TradesPhantom) => Some(TradesFault::Phantom),
                        _ => None,
                    };
                    if let (Some(a), Some(f)) = (armed, fault) {
                        v.ex.arm_trades(a);
                        out.faults.push(f.name());
                    }
                    let oid =
                        OrderId::from_u64(id).map_err(|_| ApiError::illegal_chars("orderId"))?;
                    v.ex.fetch_trades(now, &symbol, &oid).unwrap_or_default()
                }
                None => {
                    v.ex.trades()
                        .filter(|t| t.symbol == symbol)
                        .cloned()
                        .collect()
                }
            };
            let picked: Vec<&crate::exchange::Trade> = trades
                .iter()
                .filter(|t| from_id.is_none_or(|f| trade_id_num(t) >= f))
                .filter(|t| in_page(&page, t.t_ms))
                .collect();
            let picked = paged(picked, &page, from_id.is_some());
            let body: Vec<MyTrade> = picked
                .into_iter()
                .map(|t| MyTrade::new(&n, t, v.is_maker(t)))
                .collect();
            to_body(&body)
        }
        Op::Account { omit_zero } => {
            let r = v.ex.config().default_rules;
            let fee = r.fee_bps;
            let rate = fee.checked_mul(bps_fraction()).unwrap_or(Decimal::ZERO);
            let bps = fee.trunc().try_into().unwrap_or(0u32);
            let balances: Vec<Balance> =
                v.ex.assets()
                    .filter(|(_, f)| !omit_zero || !f.total().is_zero())
                    .map(|(a, f)| Balance {
                        asset: a.as_str(),
                        free: Dec(f.free),
                        locked: Dec(f.locked),
                    })
                    .collect();
            to_body(&Account {
                maker_commission: bps,
                taker_commission: bps,
                buyer_commission: 0,
                seller_commission: 0,
                commission_rates: CommissionRates {
                    maker: Dec(rate),
                    taker: Dec(rate),
                    buyer: Dec(Decimal::ZERO),
                    seller: Dec(Decimal::ZERO),
                },
                can_trade: true,
                can_withdraw: false,
                can_deposit: false,
                brokered: false,
                require_self_trade_prevention: false,
                prevent_sor: false,
                update_time: now,
                account_type: "SPOT",
                balances,
                permissions: ["SPOT"],
                uid: 1,
            })
        }
    }
}

pub(super) fn in_page(page: &Page, t: TimeMs) -> bool {
    page.start.is_none_or(|s| t >= s) && page.end.is_none_or(|e| t <= e)
}

/// Binance's paging: from the start (with `startTime` or a from-id) the oldest `limit`,
/// otherwise the newest `limit`; oldest first either way.
pub(super) fn paged<T>(mut items: Vec<T>, page: &Page, from: bool) -> Vec<T> {
    if from || page.start.is_some() {
        items.truncate(page.limit);
    } else if items.len() > page.limit {
        items.drain(..items.len() - page.limit);
    }
    items
}

/// Whether `order` would take liquidity if it met the book now.
fn crosses(v: &Venue, order: &NewOrder) -> bool {
    let Some((bid, ask)) = v.ex.best_bid_ask(&order.symbol) else {
        return false;
    };
    order.market
        || match order.side {
            Side::Buy => order.limit_price >= ask,
            Side::Sell => order.limit_price <= bid,
        }
}

pub(super) fn place(
    v: &mut Venue,
    now: TimeMs,
    p: Placement,
    fault: Option<FaultKind>,
    out: &mut Outcome,
) -> Result<Vec<u8>, ApiError> {
    let Placement {
        mut order,
        kind,
        tif,
        quote_qty,
        resp,
        stop,
    } = p;
    if order.client_order_id.as_str().starts_with("venue-") {
        v.anonymous += 1;
    }
    if let Some(q) = quote_qty {
        order.qty = v.ex.qty_for_quote(&order.symbol, order.side, q);
    }
    if kind == OrderType::LimitMaker {
        if let Some((bid, ask)) = v.ex.best_bid_ask(&order.symbol) {
            let takes = match order.side {
                Side::Buy => order.limit_price >= ask,
                Side::Sell => order.limit_price <= bid,
            };
            if takes {
                return Err(ApiError::new_order_rejected(
                    "Order would immediately match and take.",
                ));
            }
        }
    }
    let armed = match fault {
        Some(FaultKind::Reject) => Some(PlacementFault::Reject),
        // A stop order does not match when placed: only a refusal can hit it.
        _ if stop.is_some() => None,
        // A fill-or-kill never fills in part: those faults pass it by.
        Some(FaultKind::Partial { .. } | FaultKind::Requote { .. }) if tif == "FOK" => None,
        // Nothing would fill now, so there is nothing to cut short: a resting order is not
        // expired by it.
        Some(FaultKind::Partial { .. }) if !crosses(v, &order) => None,
        // Binance leaves a partly filled GTC order on the book.
        Some(FaultKind::Partial { ratio }) if order.tif == Tif::Gtc => {
            Some(PlacementFault::PartialThenRest { ratio })
        }
        Some(FaultKind::Partial { ratio }) => Some(PlacementFault::Partial { ratio }),
        Some(FaultKind::Requote { bps }) => Some(PlacementFault::Requote { bps }),
        Some(FaultKind::RejectedStatus) => Some(PlacementFault::RejectedStatus),
        _ => None,
    };
    if let (Some(a), Some(f)) = (armed, fault) {
        v.ex.arm(a);
        out.faults.push(f.name());
    }
    if tif == "FOK" && stop.is_none() && fault != Some(FaultKind::Reject) {
        let levels = match order.side {
            Side::Buy => v.ex.asks(&order.symbol),
            Side::Sell => v.ex.bids(&order.symbol),
        };
        let available = levels
            .iter()
            .filter(|l| match order.side {
                Side::Buy => l.price <= order.limit_price,
                Side::Sell => l.price >= order.limit_price,
            })
            .fold(Decimal::ZERO, |a, l| a.saturating_add(l.qty));
        if available < order.qty {
            // Not all of it can fill now: it expires having filled nothing.
            v.ex.arm(PlacementFault::Partial {
                ratio: Decimal::ZERO,
            });
        }
    }
    let o = match stop {
        Some(stop) => v.ex.submit_stop(now, order, stop),
        None => v.ex.submit(now, order),
    }
    .map_err(placement_error)?;
    let info = OrderInfo {
        kind,
        tif,
        time: now,
        orig_quote_qty: quote_qty.unwrap_or(Decimal::ZERO),
    };
    v.remember(&o, info);
    out.executed = Some(o.clone());
    let n = binance_name(&o.symbol);
    match resp {
        Resp::Ack => to_body(&Ack {
            symbol: &n,
            order_id: order_id_num(&o),
            order_list_id: v.shown(&o).list_id,
            client_order_id: o.client_order_id.as_str(),
            transact_time: now,
        }),
        Resp::Result => to_body(&Placed::new(&n, &o, &info, now, None).shown(&v.shown(&o))),
        Resp::Full => {
            let fills: Vec<Fill> = v.ex.trades_of(&o.order_id).map(Fill::new).collect();
            to_body(&Placed::new(&n, &o, &info, now, Some(fills)).shown(&v.shown(&o)))
        }
    }
}

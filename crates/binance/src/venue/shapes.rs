//! The JSON shapes of Binance spot's REST answers, field for field and in Binance's order:
//! decimals as strings with eight places, ids and times as numbers.

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::exchange::{Order, OrderStatus, Trade};
use crate::model::{Side, TimeMs};

/// A decimal as Binance writes it: a string with eight places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dec(pub Decimal);

impl Serialize for Dec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:.8}", self.0))
    }
}

/// A decimal as Binance writes it in `exchangeInfo` filters (also eight places).
pub fn dec(d: Decimal) -> Dec {
    Dec(d)
}

/// The order type as a client sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderType {
    Limit,
    Market,
    LimitMaker,
    StopLoss,
    StopLossLimit,
    TakeProfit,
    TakeProfitLimit,
}

impl OrderType {
    /// Every type the venue takes, as `exchangeInfo` lists them.
    pub const NAMES: [&'static str; 7] = [
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    ];

    pub fn parse(name: &str) -> Option<OrderType> {
        Some(match name {
            "LIMIT" => OrderType::Limit,
            "MARKET" => OrderType::Market,
            "LIMIT_MAKER" => OrderType::LimitMaker,
            "STOP_LOSS" => OrderType::StopLoss,
            "STOP_LOSS_LIMIT" => OrderType::StopLossLimit,
            "TAKE_PROFIT" => OrderType::TakeProfit,
            "TAKE_PROFIT_LIMIT" => OrderType::TakeProfitLimit,
            _ => return None,
        })
    }

    /// Executes as a market order (when it triggers, for the stop forms): no price.
    pub fn is_market(self) -> bool {
        matches!(
            self,
            OrderType::Market | OrderType::StopLoss | OrderType::TakeProfit
        )
    }

    /// A stop form: it has a `stopPrice` and waits for it.
    pub fn is_stop(self) -> bool {
        matches!(
            self,
            OrderType::StopLoss
                | OrderType::StopLossLimit
                | OrderType::TakeProfit
                | OrderType::TakeProfitLimit
        )
    }
}

/// What an order's answers show beyond the exchange's public record: its list, its stop,
/// whether it waits (`workingTime` -1) or is a pending leg (`PENDING_NEW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub list_id: i64,
    pub status: &'static str,
    pub stop: Option<Decimal>,
    /// `-1` while the order waits for its trigger or its list.
    pub working_time: i64,
}

impl Shown {
    pub fn of(o: &Order, x: Option<&crate::exchange::sim::OrderExtras>, time: TimeMs) -> Shown {
        let waiting = x.is_some_and(|x| x.waiting || x.pending);
        Shown {
            list_id: x.and_then(|x| x.list_id).map_or(-1, |l| l as i64),
            status: if x.is_some_and(|x| x.pending) {
                "PENDING_NEW"
            } else {
                status_name(o)
            },
            stop: x.and_then(|x| x.stop).map(|s| s.price),
            working_time: if waiting {
                -1
            } else {
                x.and_then(|x| x.working_ms).unwrap_or(time) as i64
            },
        }
    }
}

pub fn status_name(o: &Order) -> &'static str {
    match o.status {
        OrderStatus::Open if o.filled > Decimal::ZERO => "PARTIALLY_FILLED",
        OrderStatus::Open => "NEW",
        OrderStatus::Closed => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
        OrderStatus::Rejected => "REJECTED",
    }
}

pub fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// What the venue remembers of an order beyond the simulated exchange's own record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderInfo {
    pub kind: OrderType,
    /// `GTC`, `IOC` (a market order reports `GTC`, as Binance does).
    pub tif: &'static str,
    pub time: TimeMs,
    pub orig_quote_qty: Decimal,
}

/// The venue's numeric order id (the simulated exchange numbers orders from 1).
pub fn order_id_num(o: &Order) -> u64 {
    o.order_id.get()
}

/// The venue's numeric trade id.
pub fn trade_id_num(t: &Trade) -> u64 {
    t.trade_id.get()
}

fn quote_qty(o: &Order) -> Decimal {
    o.average
        .and_then(|a| a.checked_mul(o.filled))
        .unwrap_or(Decimal::ZERO)
}

fn shown_price(o: &Order, info: &OrderInfo) -> Decimal {
    if info.kind.is_market() {
        Decimal::ZERO
    } else {
        o.price
    }
}

/// `POST /api/v3/order` with `newOrderRespType=ACK`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ack<'a> {
    pub symbol: &'a str,
    pub order_id: u64,
    pub order_list_id: i64,
    pub client_order_id: &'a str,
    pub transact_time: TimeMs,
}

/// `POST /api/v3/order` with `RESULT` or `FULL` (then with `fills`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placed<'a> {
    pub symbol: &'a str,
    pub order_id: u64,
    pub order_list_id: i64,
    pub client_order_id: &'a str,
    pub transact_time: TimeMs,
    pub price: Dec,
    pub orig_qty: Dec,
    pub executed_qty: Dec,
    pub orig_quote_order_qty: Dec,
    pub cummulative_quote_qty: Dec,
    pub status: &'static str,
    pub time_in_force: &'static str,
    #[serde(rename = "type")]
    pub kind: OrderType,
    pub side: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Dec>,
    pub working_time: i64,
    pub self_trade_prevention_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fills: Option<Vec<Fill<'a>>>,
}

/// One fill of a `FULL` placement answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fill<'a> {
    pub price: Dec,
    pub qty: Dec,
    pub commission: Dec,
    pub commission_asset: &'a str,
    pub trade_id: u64,
}

impl<'a> Placed<'a> {
    pub fn new(
        symbol: &'a str,
        o: &'a Order,
        info: &OrderInfo,
        now: TimeMs,
        fills: Option<Vec<Fill<'a>>>,
    ) -> Self {
        Placed {
            symbol,
            order_id: order_id_num(o),
            order_list_id: -1,
            client_order_id: o.client_order_id.as_str(),
            transact_time: now,
            price: Dec(shown_price(o, info)),
            orig_qty: Dec(o.amount),
            executed_qty: Dec(o.filled),
            orig_quote_order_qty: Dec(info.orig_quote_qty),
            cummulative_quote_qty: Dec(quote_qty(o)),
            status: status_name(o),
            time_in_force: info.tif,
            kind: info.kind,
            side: side_name(o.side),
            stop_price: None,
            working_time: info.time as i64,
            self_trade_prevention_mode: "EXPIRE_MAKER",
            fills,
        }
    }

    /// With its list, stop and stage.
    pub fn shown(mut self, s: &Shown) -> Self {
        self.order_list_id = s.list_id;
        self.status = s.status;
        self.stop_price = s.stop.map(Dec);
        self.working_time = s.working_time;
        self
    }
}

impl<'a> Fill<'a> {
    pub fn new(t: &'a Trade) -> Self {
        Fill {
            price: Dec(t.price),
            qty: Dec(t.qty),
            commission: Dec(t.fee),
            commission_asset: t.fee_asset.as_str(),
            trade_id: trade_id_num(t),
        }
    }
}

/// An order as `GET /api/v3/order`, `openOrders` and `allOrders` show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Queried<'a> {
    pub symbol: &'a str,
    pub order_id: u64,
    pub order_list_id: i64,
    pub client_order_id: &'a str,
    pub price: Dec,
    pub orig_qty: Dec,
    pub executed_qty: Dec,
    pub cummulative_quote_qty: Dec,
    pub status: &'static str,
    pub time_in_force: &'static str,
    #[serde(rename = "type")]
    pub kind: OrderType,
    pub side: &'static str,
    pub stop_price: Dec,
    pub iceberg_qty: Dec,
    pub time: TimeMs,
    pub update_time: TimeMs,
    pub is_working: bool,
    pub working_time: i64,
    pub orig_quote_order_qty: Dec,
    pub self_trade_prevention_mode: &'static str,
}

impl<'a> Queried<'a> {
    pub fn new(symbol: &'a str, o: &'a Order, info: &OrderInfo, update_time: TimeMs) -> Self {
        Queried {
            symbol,
            order_id: order_id_num(o),
            order_list_id: -1,
            client_order_id: o.client_order_id.as_str(),
            price: Dec(shown_price(o, info)),
            orig_qty: Dec(o.amount),
            executed_qty: Dec(o.filled),
            cummulative_quote_qty: Dec(quote_qty(o)),
            status: status_name(o),
            time_in_force: info.tif,
            kind: info.kind,
            side: side_name(o.side),
            stop_price: Dec(Decimal::ZERO),
            iceberg_qty: Dec(Decimal::ZERO),
            time: info.time,
            update_time,
            is_working: true,
            working_time: info.time as i64,
            orig_quote_order_qty: Dec(info.orig_quote_qty),
            self_trade_prevention_mode: "EXPIRE_MAKER",
        }
    }

    /// With its list, stop and stage.
    pub fn shown(mut self, s: &Shown) -> Self {
        self.order_list_id = s.list_id;
        self.status = s.status;
        self.stop_price = Dec(s.stop.unwrap_or(Decimal::ZERO));
        self.is_working = s.working_time >= 0;
        self.working_time = s.working_time;
        self
    }
}

/// `DELETE /api/v3/order`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Canceled<'a> {
    pub symbol: &'a str,
    pub orig_client_order_id: &'a str,
    pub order_id: u64,
    pub order_list_id: i64,
    pub client_order_id: &'a str,
    pub transact_time: TimeMs,
    pub price: Dec,
    pub orig_qty: Dec,
    pub executed_qty: Dec,
    pub orig_quote_order_qty: Dec,
    pub cummulative_quote_qty: Dec,
    pub status: &'static str,
    pub time_in_force: &'static str,
    #[serde(rename = "type")]
    pub kind: OrderType,
    pub side: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Dec>,
    pub self_trade_prevention_mode: &'static str,
}

impl<'a> Canceled<'a> {
    /// With its list and stop.
    pub fn shown(mut self, s: &Shown) -> Self {
        self.order_list_id = s.list_id;
        self.stop_price = s.stop.map(Dec);
        self
    }

    pub fn new(
        symbol: &'a str,
        o: &'a Order,
        info: &OrderInfo,
        cancel_id: &'a str,
        now: TimeMs,
    ) -> Self {
        Canceled {
            symbol,
            orig_client_order_id: o.client_order_id.as_str(),
            order_id: order_id_num(o),
            order_list_id: -1,
            client_order_id: cancel_id,
            transact_time: now,
            price: Dec(shown_price(o, info)),
            orig_qty: Dec(o.amount),
            executed_qty: Dec(o.filled),
            orig_quote_order_qty: Dec(info.orig_quote_qty),
            cummulative_quote_qty: Dec(quote_qty(o)),
            status: status_name(o),
            time_in_force: info.tif,
            kind: info.kind,
            side: side_name(o.side),
            stop_price: None,
            self_trade_prevention_mode: "EXPIRE_MAKER",
        }
    }
}

/// One trade of `GET /api/v3/myTrades`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MyTrade<'a> {
    pub symbol: &'a str,
    pub id: u64,
    pub order_id: u64,
    pub order_list_id: i64,
    pub price: Dec,
    pub qty: Dec,
    pub quote_qty: Dec,
    pub commission: Dec,
    pub commission_asset: &'a str,
    pub time: TimeMs,
    pub is_buyer: bool,
    pub is_maker: bool,
    pub is_best_match: bool,
}

impl<'a> MyTrade<'a> {
    pub fn new(symbol: &'a str, t: &'a Trade, is_maker: bool) -> Self {
        MyTrade {
            symbol,
            id: trade_id_num(t),
            order_id: t.order_id.get(),
            order_list_id: -1,
            price: Dec(t.price),
            qty: Dec(t.qty),
            quote_qty: Dec(t.price.checked_mul(t.qty).unwrap_or(Decimal::ZERO)),
            commission: Dec(t.fee),
            commission_asset: t.fee_asset.as_str(),
            time: t.t_ms,
            is_buyer: t.side == Side::Buy,
            is_maker,
            is_best_match: true,
        }
    }
}

/// One balance of `GET /api/v3/account`.
#[derive(Debug, Serialize)]
pub struct Balance<'a> {
    pub asset: &'a str,
    pub free: Dec,
    pub locked: Dec,
}

#[derive(Debug, Serialize)]
pub struct CommissionRates {
    pub maker: Dec,
    pub taker: Dec,
    pub buyer: Dec,
    pub seller: Dec,
}

/// `GET /api/v3/account`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account<'a> {
    pub maker_commission: u32,
    pub taker_commission: u32,
    pub buyer_commission: u32,
    pub seller_commission: u32,
    pub commission_rates: CommissionRates,
    pub can_trade: bool,
    pub can_withdraw: bool,
    pub can_deposit: bool,
    pub brokered: bool,
    pub require_self_trade_prevention: bool,
    pub prevent_sor: bool,
    pub update_time: TimeMs,
    pub account_type: &'static str,
    pub balances: Vec<Balance<'a>>,
    pub permissions: [&'static str; 1],
    pub uid: u64,
}

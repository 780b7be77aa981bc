//! What a venue answers, in unified (CCXT-style) types: orders, trades and the errors that say
//! whether a request may have executed.
//!
//! The router never calls a venue itself: it hands out [`Command`](crate::router::Command)s,
//! an adapter executes them and hands the [`Reply`](crate::router::Reply) back. Nothing here
//! promises more than Binance spot does: a `client_order_id` is unique only among *open*
//! orders, so a repeated placement of a finished order's id creates a second order, and "not
//! found" can mean "still in flight". The router's own bookkeeping, not the venue, makes one
//! order per attempt.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Asset, ClientOrderId, OrderId, Side, Symbol, TimeMs, TradeId};
use crate::router::OrderRequest;

/// Unified order status, in the spirit of CCXT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Resting on the book; more fills may come.
    Open,
    /// Completely filled.
    Closed,
    /// Cancelled on request; `filled` may be positive.
    Canceled,
    /// Ended by the venue (an IOC remainder, a timeout); `filled` may be positive.
    Expired,
    /// Refused without executing.
    Rejected,
}

impl OrderStatus {
    /// No further fills can happen.
    pub fn is_final(self) -> bool {
        !matches!(self, OrderStatus::Open)
    }
}

/// A venue's view of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: OrderId,
    pub client_order_id: ClientOrderId,
    pub symbol: Symbol,
    pub side: Side,
    /// Limit price.
    pub price: Decimal,
    /// Ordered quantity (base asset).
    pub amount: Decimal,
    pub filled: Decimal,
    pub remaining: Decimal,
    /// Average fill price; `None` while nothing filled.
    pub average: Option<Decimal>,
    pub status: OrderStatus,
    /// Fee charged so far in `fee_asset`: the asset the order receives (base for a buy, quote
    /// for a sell) or BNB, as its first fill was charged. A later fill charged in another
    /// asset (the account's BNB ran out) shows in its trade only: the trades, not this sum,
    /// are what gets booked.
    pub fee: Decimal,
    pub fee_asset: Asset,
}

impl Order {
    /// A placement the venue just accepted under `order_id`: open, nothing filled yet, fees
    /// to be charged in the asset it receives (base for a buy, quote for a sell).
    pub fn accepted(order_id: OrderId, r: &OrderRequest) -> Order {
        Order {
            order_id,
            client_order_id: r.client_order_id().clone(),
            symbol: r.symbol().clone(),
            side: r.side(),
            price: r.limit_price(),
            amount: r.qty(),
            filled: Decimal::ZERO,
            remaining: r.qty(),
            average: None,
            status: OrderStatus::Open,
            fee: Decimal::ZERO,
            fee_asset: match r.side() {
                Side::Buy => r.symbol().base().clone(),
                Side::Sell => r.symbol().quote().clone(),
            },
        }
    }
}

/// One fill of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub trade_id: TradeId,
    pub order_id: OrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub price: Decimal,
    pub qty: Decimal,
    pub fee: Decimal,
    pub fee_asset: Asset,
    pub t_ms: TimeMs,
}

/// Whether a failed request may still have been executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The venue refused it; nothing happened.
    NotExecuted,
    /// It may or may not have been executed; only a query can tell.
    Unknown,
}

/// A failed exchange request, classified by what it tells about execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// Refused by the venue's rules (filters, balance, unknown symbol): not executed.
    #[error("rejected ({code}): {message}")]
    Rejected { code: i32, message: String },
    /// Too many requests (HTTP 429, or a 418 ban): refused, not executed. Nothing may be sent
    /// for `retry_after_ms` (the venue's `Retry-After`): the router holds every request back
    /// until then, and spends no retry on the wait.
    #[error("rate limited for {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// Arrived after the receive window: refused, not executed.
    #[error("outside the receive window")]
    RecvWindowExpired,
    /// An *open* order already holds this client id (Binance -2010). Something was placed.
    #[error("duplicate client order id {0}")]
    DuplicateClientOrderId(ClientOrderId),
    /// No such order (Binance -2013/-2011). Final only once the receive window has passed.
    #[error("order not found")]
    NotFound,
    /// No reply in time: the request may have been executed.
    #[error("timed out")]
    Timeout,
    /// The venue failed (HTTP 5xx, Binance -1007): execution status unknown.
    #[error("server error: {0}")]
    ServerError(String),
}

impl ExchangeError {
    pub fn outcome(&self) -> Outcome {
        match self {
            ExchangeError::Rejected { .. }
            | ExchangeError::RateLimited { .. }
            | ExchangeError::RecvWindowExpired
            | ExchangeError::NotFound => Outcome::NotExecuted,
            ExchangeError::DuplicateClientOrderId(_)
            | ExchangeError::Timeout
            | ExchangeError::ServerError(_) => Outcome::Unknown,
        }
    }

    /// A short stable name for audit lines.
    pub fn kind(&self) -> &'static str {
        match self {
            ExchangeError::Rejected { .. } => "rejected",
            ExchangeError::RateLimited { .. } => "rate_limited",
            ExchangeError::RecvWindowExpired => "recv_window_expired",
            ExchangeError::DuplicateClientOrderId(_) => "duplicate_client_order_id",
            ExchangeError::NotFound => "not_found",
            ExchangeError::Timeout => "timeout",
            ExchangeError::ServerError(_) => "server_error",
        }
    }
}

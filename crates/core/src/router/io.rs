//! What goes in and out of the router: inputs, commands for the venue, and their replies.

use std::fmt;

use rust_decimal::Decimal;

use super::stream::OrderUpdate;
use crate::decision::Intent;
use crate::exchange::{ExchangeError, Order, Trade};
use crate::model::{ClientOrderId, IntentId, OrderId, Side, Symbol, Tif, TimeMs};

/// A limit order the router decided to place.
///
/// Its fields are private and its constructor is private to the router, so an order request
/// cannot be made anywhere else: "no order outside the router" is checked by the compiler.
///
/// ```compile_fail
/// use order_router::router::OrderRequest;
/// let forged = OrderRequest { client_order_id: todo!(), symbol: todo!(), side: todo!(),
///     qty: todo!(), limit_price: todo!(), tif: todo!(), sent_ms: 0 };
/// ```
/// ```compile_fail
/// use order_router::router::OrderRequest;
/// let forged = OrderRequest::new(todo!(), todo!(), todo!(), todo!(), todo!(), todo!(), 0);
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct OrderRequest {
    client_order_id: ClientOrderId,
    symbol: Symbol,
    side: Side,
    qty: Decimal,
    limit_price: Decimal,
    tif: Tif,
    sent_ms: TimeMs,
}

impl OrderRequest {
    pub(super) fn new(
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        limit_price: Decimal,
        tif: Tif,
        sent_ms: TimeMs,
    ) -> Self {
        OrderRequest {
            client_order_id,
            symbol,
            side,
            qty,
            limit_price,
            tif,
            sent_ms,
        }
    }
    /// A request that did not come from the router, compiled only with the deliberate bugs:
    /// the proof that the simulator's `single_router` check catches an order that bypassed it.
    #[cfg(feature = "mutants")]
    #[doc(hidden)]
    pub fn forged(
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        limit_price: Decimal,
    ) -> Self {
        OrderRequest::new(client_order_id, symbol, side, qty, limit_price, Tif::Ioc, 0)
    }

    pub fn client_order_id(&self) -> &ClientOrderId {
        &self.client_order_id
    }
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    pub fn side(&self) -> Side {
        self.side
    }
    pub fn qty(&self) -> Decimal {
        self.qty
    }
    pub fn limit_price(&self) -> Decimal {
        self.limit_price
    }
    pub fn tif(&self) -> Tif {
        self.tif
    }
    /// When the router sent it: the request's `timestamp`, which the venue's receive window
    /// is measured from.
    pub fn sent_ms(&self) -> TimeMs {
        self.sent_ms
    }
}

/// Correlates a reply with the command it answers. Replies to anything but the request an
/// intent is waiting for (late, duplicated, superseded) are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    pub(super) intent: u64,
    pub(super) n: u32,
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.intent, self.n)
    }
}

/// Something the router wants done at the venue.
#[derive(Debug, PartialEq, Eq)]
pub struct Command {
    pub request_id: RequestId,
    pub intent_id: IntentId,
    pub action: Action,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Place(OrderRequest),
    FetchOrder {
        symbol: Symbol,
        client_order_id: ClientOrderId,
    },
    FetchTrades {
        symbol: Symbol,
        order_id: OrderId,
    },
    Cancel {
        symbol: Symbol,
        client_order_id: ClientOrderId,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Place(_) => "place",
            Action::FetchOrder { .. } => "fetch_order",
            Action::FetchTrades { .. } => "fetch_trades",
            Action::Cancel { .. } => "cancel",
        }
    }
}

/// The venue's answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub request_id: RequestId,
    pub outcome: ReplyOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// Answer to `Place`, `FetchOrder` or `Cancel`.
    Order(Result<Order, ExchangeError>),
    /// Answer to `FetchTrades`.
    Trades(Result<Vec<Trade>, ExchangeError>),
}

impl Command {
    /// The reply a driver hands back when the request or its answer was lost in transit.
    pub fn lost(&self, error: ExchangeError) -> Reply {
        let outcome = match self.action {
            Action::FetchTrades { .. } => ReplyOutcome::Trades(Err(error)),
            _ => ReplyOutcome::Order(Err(error)),
        };
        Reply {
            request_id: self.request_id,
            outcome,
        }
    }
}

/// An input to the router besides replies and timers.
#[derive(Debug, Clone)]
pub enum Input {
    /// A delivery of an intent by the bus (duplicates are normal).
    Deliver(Intent),
    /// A reply to one of the router's commands.
    Reply(Reply),
    /// Market data: the last traded price of a symbol.
    Market { symbol: Symbol, price: Decimal },
    /// The venue asked for nothing to be sent before `until_ms` (a `Retry-After` the driver
    /// read, a ban, or the minute's request weight nearly spent). The router holds every
    /// request back until then: a wait, not an attempt.
    Hold { until_ms: TimeMs },
    /// An order update from the venue's user data stream (Binance's `executionReport`),
    /// believed as far as a REST report of the same order would be ([`super::stream`]).
    Stream(OrderUpdate),
    /// The user data stream is connected again (or for the first time): what it sent while
    /// it was down is lost, so the router asks for every resting order by REST at once.
    StreamConnected,
}

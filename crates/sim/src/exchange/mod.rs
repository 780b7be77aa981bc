//! Venues that answer at once, in memory: the trait they share, the one place a command meets
//! it ([`execute`]), the small in-memory venue ([`memory`]) and the simulated Binance-like one
//! ([`sim`]). The unified order and trade types are the core's, re-exported here.

pub mod fees;
pub mod memory;
pub mod sim;

pub use order_router_core::exchange::*;

use crate::model::{ClientOrderId, OrderId, Symbol, TimeMs};
use crate::router::{Action, Command, ListRequest, OrderRequest, Reply, ReplyOutcome};

/// A venue, live or simulated. `now` is the time the request reaches the venue.
///
/// A placement takes an [`OrderRequest`], which only the router can construct, so no code path
/// outside the router can place an order.
pub trait Exchange {
    fn place(&mut self, now: TimeMs, request: &OrderRequest) -> Result<Order, ExchangeError>;
    fn fetch_order(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        client_order_id: &ClientOrderId,
    ) -> Result<Order, ExchangeError>;
    fn fetch_trades(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        order_id: &OrderId,
    ) -> Result<Vec<Trade>, ExchangeError>;
    fn cancel(
        &mut self,
        now: TimeMs,
        symbol: &Symbol,
        client_order_id: &ClientOrderId,
    ) -> Result<Order, ExchangeError>;

    /// Places an order list (an OCO exit, or an OTOCO bracket) whole or refuses it whole, with
    /// Binance spot's rules ([`ListRequest`] states them): the exit pair shares one lock of the
    /// quantity; a fill of either exit leg or the stop's trigger expires the other; cancelling
    /// a leg ends the list; an OTOCO's exit legs are placed, for the entry's quantity, only once
    /// the entry has filled completely. A repeated `list_client_order_id` of an open list is
    /// refused like a repeated client order id. A venue without lists refuses them (the
    /// default): the router then treats the exit as not placed.
    fn place_list(
        &mut self,
        _now: TimeMs,
        request: &ListRequest,
    ) -> Result<OrderList, ExchangeError> {
        let _ = request;
        Err(lists_unsupported())
    }

    /// The list by its client id, every leg with its fill and status; `NotFound` when the venue
    /// never saw it (as for an order, only after the receive window does that mean "never
    /// placed").
    fn fetch_list(
        &mut self,
        _now: TimeMs,
        _symbol: &Symbol,
        _list_client_order_id: &ClientOrderId,
    ) -> Result<OrderList, ExchangeError> {
        Err(ExchangeError::NotFound)
    }

    /// Cancels every open leg of the list; the list as it ended. `NotFound` when it has no open
    /// leg (already over, or never placed).
    fn cancel_list(
        &mut self,
        _now: TimeMs,
        _symbol: &Symbol,
        _list_client_order_id: &ClientOrderId,
    ) -> Result<OrderList, ExchangeError> {
        Err(ExchangeError::NotFound)
    }
}

/// The refusal of a venue that has no order lists (Binance's code for an unsupported order
/// combination).
pub fn lists_unsupported() -> ExchangeError {
    ExchangeError::Rejected {
        code: -1014,
        message: "Unsupported order combination.".into(),
    }
}

/// Runs `cmd` against `exchange` at `now` (the time it reaches the venue) and returns the reply
/// to hand back to the router.
pub fn execute<E: Exchange + ?Sized>(cmd: &Command, exchange: &mut E, now: TimeMs) -> Reply {
    let outcome = match &cmd.action {
        Action::Place(req) => ReplyOutcome::Order(exchange.place(now, req)),
        Action::FetchOrder {
            symbol,
            client_order_id,
        } => ReplyOutcome::Order(exchange.fetch_order(now, symbol, client_order_id)),
        Action::FetchTrades { symbol, order_id } => {
            ReplyOutcome::Trades(exchange.fetch_trades(now, symbol, order_id))
        }
        Action::Cancel {
            symbol,
            client_order_id,
        } => ReplyOutcome::Order(exchange.cancel(now, symbol, client_order_id)),
        Action::PlaceList(req) => ReplyOutcome::List(exchange.place_list(now, req)),
        Action::FetchList {
            symbol,
            list_client_order_id,
        } => ReplyOutcome::List(exchange.fetch_list(now, symbol, list_client_order_id)),
        Action::CancelList {
            symbol,
            list_client_order_id,
        } => ReplyOutcome::List(exchange.cancel_list(now, symbol, list_client_order_id)),
    };
    Reply {
        request_id: cmd.request_id,
        outcome,
    }
}

//! Venues that answer at once, in memory: the trait they share, the one place a command meets
//! it ([`execute`]), the small in-memory venue ([`memory`]) and the simulated Binance-like one
//! ([`sim`]). The unified order and trade types are the core's, re-exported here.

pub mod fees;
pub mod memory;
pub mod sim;

pub use order_router_core::exchange::*;

use crate::model::{ClientOrderId, OrderId, Symbol, TimeMs};
use crate::router::{Action, Command, OrderRequest, Reply, ReplyOutcome};

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
    };
    Reply {
        request_id: cmd.request_id,
        outcome,
    }
}

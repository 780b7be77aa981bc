//! The user data stream as an input: the venue's own reports of the router's orders
//! (Binance's `executionReport`), pushed as they happen instead of asked for.
//!
//! A stream event is believed exactly as far as a REST report of the same order would be: it
//! must name the order the intent is waiting on (its current attempt's `client_order_id`), its
//! fill is checked against the lot grid and the order's quantity, and a cumulative fill never
//! goes backwards, whichever of the stream and REST said it first. The stream only moves an
//! intent sooner; it is never the only witness of a fill: trades are still fetched by REST and
//! de-duplicated by trade id before anything is booked, resting orders are still polled, and
//! after every (re)connect every resting order is asked for at once (the gap fill), because
//! events sent while the connection was down are lost. See docs/router.md.

use rust_decimal::Decimal;

use super::Router;
use crate::exchange::{Order, OrderStatus, Trade};
use crate::model::{Asset, ClientOrderId, OrderId, Side, Symbol, TimeMs, TradeId};

/// What one `executionReport` says about an order, in the router's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    pub symbol: Symbol,
    pub side: Side,
    pub client_order_id: ClientOrderId,
    pub order_id: OrderId,
    pub status: OrderStatus,
    /// The order's limit price and quantity.
    pub price: Decimal,
    pub qty: Decimal,
    /// Cumulative filled quantity, and the cumulative quote spent on it (for the average).
    pub filled: Decimal,
    pub filled_quote: Decimal,
    /// The fill this event reports, if it reports one (`x = TRADE`).
    pub last_qty: Decimal,
    pub last_price: Decimal,
    pub fee: Decimal,
    pub fee_asset: Option<Asset>,
    pub trade_id: Option<TradeId>,
    /// The venue's time of the event (`E`).
    pub event_ms: TimeMs,
}

impl OrderUpdate {
    /// The order as a REST query would have reported it at the event's time.
    pub fn as_order(&self) -> Order {
        Order {
            order_id: self.order_id,
            client_order_id: self.client_order_id.clone(),
            symbol: self.symbol.clone(),
            side: self.side,
            price: self.price,
            amount: self.qty,
            filled: self.filled,
            remaining: self.qty - self.filled.min(self.qty),
            average: if self.filled.is_zero() {
                None
            } else {
                self.filled_quote.checked_div(self.filled)
            },
            status: self.status,
            fee: Decimal::ZERO,
            fee_asset: self
                .fee_asset
                .clone()
                .unwrap_or_else(|| self.symbol.quote().clone()),
        }
    }

    /// The fill this event reports, as the trade a REST trade query would list.
    pub fn trade(&self) -> Option<Trade> {
        let trade_id = self.trade_id?;
        (self.last_qty > Decimal::ZERO).then(|| Trade {
            trade_id,
            order_id: self.order_id,
            symbol: self.symbol.clone(),
            side: self.side,
            price: self.last_price,
            qty: self.last_qty,
            fee: self.fee,
            fee_asset: self
                .fee_asset
                .clone()
                .unwrap_or_else(|| self.symbol.quote().clone()),
            t_ms: self.event_ms,
        })
    }
}

/// The status word a `stream_update` line writes.
pub fn status_word(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Open => "open",
        OrderStatus::Closed => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Expired => "expired",
        OrderStatus::Rejected => "rejected",
    }
}

/// The intent's fingerprint a client order id `or-<16 hex>-<attempt>` carries.
fn fingerprint_of(coid: &ClientOrderId) -> Option<u64> {
    let hex = coid.as_str().strip_prefix("or-")?.get(..16)?;
    u64::from_str_radix(hex, 16).ok()
}

impl Router {
    /// An order update from the user data stream: applied to the intent whose current order
    /// it names, as a report of that order; anything else is ignored without a line.
    pub(super) fn stream_update(&mut self, now: TimeMs, update: OrderUpdate) {
        let Some(key) = fingerprint_of(&update.client_order_id)
            .and_then(|fp| self.in_flight.get(&fp))
            .copied()
        else {
            return;
        };
        self.with_active(key, now, |a, cx| a.on_stream(cx, &update));
    }

    /// The user data stream is (again) connected: events sent while it was down are lost, so
    /// every resting order is asked for by REST at once.
    pub(super) fn stream_connected(&mut self, now: TimeMs) {
        let keys: Vec<u64> = self.active.slots.iter().flatten().map(|a| a.key).collect();
        for key in keys {
            self.with_active(key, now, |a, cx| a.on_stream_connected(cx));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_order_id_names_its_intents_fingerprint() {
        let id = crate::model::IntentId::generated("1000-BTCUSDT-abc");
        let coid = ClientOrderId::for_attempt(&id, 3);
        assert_eq!(
            fingerprint_of(&coid),
            Some(crate::model::fnv1a64(id.as_str().as_bytes()))
        );
        assert_eq!(fingerprint_of(&ClientOrderId::generated("web_abc")), None);
    }
}

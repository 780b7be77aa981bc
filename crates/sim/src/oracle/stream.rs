//! The model's reading of the user data stream (docs/router.md, "The user data stream"): an
//! update of the order an intent waits on is logged as `stream_update` and then read as a
//! report of that order; a reconnect makes every resting order's poll due at once.

use rust_decimal::Decimal;

use super::intent::{IntentModel, Step};
use super::{Kind, Oracle};
use crate::audit::Detail;
use crate::exchange::{Order, OrderStatus};
use crate::model::TimeMs;
use crate::router::OrderUpdate;

fn word(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Open => "open",
        OrderStatus::Closed => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Expired => "expired",
        OrderStatus::Rejected => "rejected",
    }
}

impl IntentModel {
    fn on_stream(&mut self, s: &mut Step<'_>, u: &OrderUpdate) {
        if self.waiting_on() != Some(u.client_order_id.as_str()) {
            return;
        }
        s.out.push(super::intent::Out::Line(
            self.state,
            Detail::StreamUpdate {
                client_order_id: u.client_order_id.clone(),
                order_id: u.order_id,
                status: word(u.status),
                filled_qty: u.filled,
                last_qty: u.last_qty,
                last_price: u.last_price,
                fee: u.fee,
                fee_asset: u.fee_asset.clone(),
                trade_id: u.trade_id,
                event_ms: u.event_ms,
            },
        ));
        let remaining = if u.filled > u.qty {
            Decimal::ZERO
        } else {
            u.qty - u.filled
        };
        let order = Order {
            order_id: u.order_id,
            client_order_id: u.client_order_id.clone(),
            symbol: u.symbol.clone(),
            side: u.side,
            price: u.price,
            amount: u.qty,
            filled: u.filled,
            remaining,
            average: if u.filled.is_zero() {
                None
            } else {
                u.filled_quote.checked_div(u.filled)
            },
            status: u.status,
            fee: Decimal::ZERO,
            fee_asset: u.symbol.quote().clone(),
        };
        self.from_stream = true;
        self.on_order(s, &order);
        self.from_stream = false;
        if self.waiting_on().is_none() {
            self.awaiting = None;
        }
    }
}

impl Oracle {
    /// An update from the user data stream handed to the router.
    pub fn stream(&mut self, now: TimeMs, u: &OrderUpdate) {
        self.advance(now);
        let coid = u.client_order_id.as_str();
        let who = self.open_entries().find_map(|(id, e)| match &e.kind {
            Kind::Predicted(m) if m.waiting_on() == Some(coid) => Some(id.clone()),
            _ => None,
        });
        if let Some(id) = who {
            self.run(&id, |m, s| m.on_stream(s, u));
        }
        self.admit();
    }

    /// The stream connected (again): every resting order's poll is due now.
    pub fn stream_connected(&mut self, now: TimeMs) {
        self.advance(now);
        let ids: Vec<String> = self
            .open_entries()
            .filter(|(_, e)| matches!(&e.kind, Kind::Predicted(m) if m.resting()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.run(&id, |m, _| m.timer = Some(now));
        }
    }
}

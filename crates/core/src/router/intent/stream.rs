//! One intent's side of the user data stream: an update of its current order, applied as a
//! report of that order, and the gap fill after a (re)connect.

use super::*;
use crate::router::stream::{status_word, OrderUpdate};

impl Active {
    /// An update naming this intent. Applied only while the intent waits on an order (placing,
    /// unknown, resting) and only to that order; then exactly as a REST report of it, except
    /// that a report showing less filled than known is ignored ([`Active::stale_report`]). If
    /// the update ends the wait, a request still out for the order is no longer awaited: its
    /// answer, older than what the stream said, is dropped like any other late reply.
    pub(in crate::router) fn on_stream(&mut self, cx: &mut Cx<'_>, u: &OrderUpdate) {
        let coid = match &self.phase {
            Phase::Placing { coid, .. }
            | Phase::Unknown { coid, .. }
            | Phase::Working { coid, .. } => coid,
            _ => return,
        };
        if *coid != u.client_order_id {
            return;
        }
        self.event(
            cx,
            Detail::StreamUpdate {
                client_order_id: u.client_order_id.clone(),
                order_id: u.order_id,
                status: status_word(u.status),
                filled_qty: u.filled,
                last_qty: u.last_qty,
                last_price: u.last_price,
                fee: u.fee,
                fee_asset: u.fee_asset.clone(),
                trade_id: u.trade_id,
                event_ms: u.event_ms,
            },
        );
        if let Some(t) = u.trade() {
            if !self.stream_trades.iter().any(|k| k.trade_id == t.trade_id) {
                self.stream_trades.push(t);
            }
        }
        self.from_stream = true;
        self.on_order(cx, u.as_order());
        self.from_stream = false;
        if !matches!(
            self.phase,
            Phase::Placing { .. } | Phase::Unknown { .. } | Phase::Working { .. }
        ) {
            self.awaiting = None;
        }
    }

    /// A report of the current order (REST or stream) showing `reported` filled where `known`
    /// was already reported: an older snapshot. It is ignored and logged; the fill stands.
    pub(super) fn stale_report(
        &self,
        cx: &mut Cx<'_>,
        coid: &ClientOrderId,
        reported: Qty,
        known: Qty,
    ) {
        self.event(
            cx,
            Detail::StaleReportIgnored {
                client_order_id: coid.clone(),
                source: if self.from_stream { "stream" } else { "rest" },
                filled_qty: self.grid.qty_decimal(reported),
                known_qty: self.grid.qty_decimal(known),
            },
        );
    }

    /// The stream is (again) connected: a resting order is polled now rather than at its next
    /// poll, because the events of the gap are lost. The poll goes through the timer, so a
    /// rate-limit hold still holds it and an expired order gets its cancel as usual.
    pub(in crate::router) fn on_stream_connected(&mut self, cx: &mut Cx<'_>) {
        if cx.cfg.has(Mutant::NoGapFillAfterReconnect) {
            return;
        }
        if matches!(self.phase, Phase::Working { .. }) {
            let now = cx.now;
            self.set_timer(cx, now);
        }
    }
}

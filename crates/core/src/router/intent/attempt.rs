//! The end of an attempt: the venue's report of the current order, and what an ended attempt
//! leaves (a retry, a cancel, a release of what did not fill, or reconciliation).

use super::*;

impl Active {
    /// The venue's report of the current attempt's order, from any reply.
    pub(super) fn on_order(&mut self, cx: &mut Cx<'_>, o: Order) {
        let (coid, sent_ms) = match &self.phase {
            Phase::Placing { coid, sent_ms }
            | Phase::Unknown { coid, sent_ms, .. }
            | Phase::Working { coid, sent_ms, .. } => (coid.clone(), *sent_ms),
            _ => return,
        };
        let on_grid = (self.grid.qty(o.filled), self.grid.qty(o.amount));
        let (Ok(reported), Ok(amount)) = on_grid else {
            // A fraction of a lot: no venue fills one. Wait for a proper answer.
            return self.set_timer_in(cx, cx.cfg.poll_interval_ms);
        };
        if o.client_order_id != coid || reported < Qty::ZERO || reported > amount {
            // Not this attempt's order, or nonsense: wait for a proper answer.
            return self.set_timer_in(cx, cx.cfg.poll_interval_ms);
        }
        self.in_doubt = false;
        // Fills only grow; an older snapshot cannot take one back.
        let prev = match self.orders.iter_mut().find(|f| f.client_order_id == coid) {
            Some(f) => {
                let prev = f.filled;
                f.filled = f.filled.max(reported);
                f.order_id = o.order_id;
                prev
            }
            None => {
                if reported.is_positive() {
                    self.orders.push(OrderFill {
                        client_order_id: coid.clone(),
                        order_id: o.order_id,
                        filled: reported,
                    });
                }
                Qty::ZERO
            }
        };
        let filled = prev.max(reported);
        let grid = self.grid;
        let report = |filled| Detail::Order {
            client_order_id: coid.clone(),
            order_id: o.order_id,
            filled_qty: grid.qty_decimal(filled),
            avg_price: o.average,
        };
        let partial_as_filled = mutant::partial_as_filled(cx.cfg, o.status.is_final(), self.state);
        if (filled >= amount || partial_as_filled) && filled.is_positive() {
            self.transition(cx, State::Filled, report(filled));
            return self.begin_reconcile(cx);
        }
        match mutant::status_seen(cx.cfg, o.status) {
            OrderStatus::Open => {
                if filled > prev {
                    self.transition(cx, State::Partial, report(filled));
                } else if self.state == State::Unknown {
                    // Found resting with nothing filled: as if the placement reply had come.
                    self.sent(cx, &coid, o.amount, o.price);
                }
                let cancel_next = matches!(
                    self.phase,
                    Phase::Working {
                        cancel_next: true,
                        ..
                    }
                );
                self.phase = Phase::Working {
                    coid,
                    sent_ms,
                    cancel_next,
                };
                let deadline = sent_ms.saturating_add(cx.cfg.order_timeout_ms);
                let at = cx
                    .now
                    .saturating_add(mutant::poll_interval(cx.cfg))
                    .min(deadline.max(cx.now));
                self.set_timer(cx, at);
            }
            OrderStatus::Rejected if filled == Qty::ZERO => {
                if self.state == State::Sent {
                    self.transition(
                        cx,
                        State::Error,
                        Detail::Error {
                            client_order_id: coid,
                            error: "rejected",
                            rejection: None,
                        },
                    );
                }
                self.phase = Phase::Idle;
                self.end_attempt(cx);
            }
            _ => {
                let to = if self.state != State::Partial && filled.is_positive() {
                    State::Partial
                } else {
                    State::Canceled
                };
                self.transition(cx, to, report(filled));
                self.phase = Phase::Idle;
                self.end_attempt(cx);
            }
        }
    }

    fn set_timer_in(&mut self, cx: &mut Cx<'_>, ms: u64) {
        let at = cx.now.saturating_add(ms);
        self.set_timer(cx, at);
    }

    /// The attempt is over and no order of it is live: retry the rest, or stop.
    pub(super) fn end_attempt(&mut self, cx: &mut Cx<'_>) {
        let filled = self.filled();
        let remaining = self.remaining();
        let placeable =
            remaining.is_positive() && self.reaches_min_notional(cx, remaining) == Some(true);
        let retries_left = if cx.cfg.has(Mutant::StopRetryingEarly) {
            mutant::retries_left_early(self.attempt, cx.cfg.max_retries)
        } else {
            self.attempt <= cx.cfg.max_retries
        };
        if retries_left && placeable {
            let shift = self.attempt.saturating_sub(1).min(62);
            let factor = if cx.cfg.has(Mutant::LinearBackoff) {
                u64::from(self.attempt)
            } else {
                1u64 << shift
            };
            let backoff = cx
                .cfg
                .backoff_ms
                .saturating_mul(factor)
                .min(cx.cfg.backoff_max_ms);
            cx.out.stats.retries += 1;
            self.transition(
                cx,
                State::Retry,
                Detail::Retry {
                    attempt: self.attempt + 1,
                    remaining_qty: self.grid.qty_decimal(remaining),
                    backoff_ms: backoff,
                },
            );
            self.phase = Phase::Backoff;
            self.set_timer_in(cx, backoff);
        } else if filled.is_positive() {
            let released = self.release_unfilled(cx, self.grid.qty_decimal(remaining));
            self.transition(
                cx,
                State::PartialSuccess,
                Detail::PartialSuccess {
                    filled_qty: self.grid.qty_decimal(filled),
                    released,
                },
            );
            self.begin_reconcile(cx);
        } else {
            let released = self
                .reservation
                .take()
                .map_or(Decimal::ZERO, |r| cx.portfolio.release_all(r));
            #[cfg(feature = "mutants")]
            if cx.cfg.has(Mutant::ReleaseTwice) {
                let i = &self.intent;
                let asset = match i.side() {
                    Side::Buy => i.symbol().quote(),
                    Side::Sell => i.symbol().base(),
                };
                cx.portfolio.release_unchecked(asset, released);
            }
            self.transition(
                cx,
                State::FailedFinal,
                Detail::FailedFinal {
                    attempts: self.attempt,
                    released,
                },
            );
            self.phase = Phase::Done;
        }
    }

    /// Returns the reservation of the part that will never fill; the filled part stays held
    /// until its trades are booked.
    fn release_unfilled(&mut self, cx: &mut Cx<'_>, unfilled: Decimal) -> Decimal {
        let i = &self.intent;
        let cap = self.grid.price_decimal(self.cap);
        let need = reservation_need(i.symbol(), i.side(), unfilled, cap, self.fee_rate(cx))
            .map_or(Decimal::ZERO, |(_, n)| n);
        let Some(r) = self.reservation.as_mut() else {
            return Decimal::ZERO;
        };
        let amount = need.min(r.amount());
        match cx.portfolio.release(r, amount) {
            Ok(()) => amount,
            Err(_) => Decimal::ZERO,
        }
    }
}

//! Reconciliation: the intent's trades fetched, checked against its orders' reports and booked
//! into the portfolio in one step.

use super::*;

impl Active {
    pub(super) fn begin_reconcile(&mut self, cx: &mut Cx<'_>) {
        if cx.cfg.has(Mutant::ReleaseBeforeReconcile) {
            if let Some(r) = self.reservation.take() {
                cx.portfolio.release_all(r);
            }
        }
        self.phase = Phase::Reconciling {
            next: 0,
            trades: Vec::new(),
        };
        self.query_backoff_ms = mutant::first_query_backoff(cx.cfg);
        let now = cx.now;
        self.set_timer(cx, now);
    }

    /// Trades of `orders[next]`: gathered across answers (an answer may repeat a trade, carry
    /// another order's, or hold only part of them) and accepted once they add up to the order's
    /// fill.
    pub(super) fn on_trades(&mut self, cx: &mut Cx<'_>, got: Vec<Trade>) {
        let whole_answer = cx.cfg.has(Mutant::BookWholeAnswer);
        let Phase::Reconciling { next, trades } = &mut self.phase else {
            return;
        };
        let Some(order) = self.orders.get(*next) else {
            return;
        };
        // Trades are the venue's decimals (the edge); the order's fill meets them there.
        let order_filled = self.grid.qty_decimal(order.filled);
        // `trades` holds the booked orders' trades, then what is known so far of this one's.
        let mut sum: Decimal = trades
            .iter()
            .filter(|t| t.order_id == order.order_id)
            .map(|t| t.qty)
            .sum();
        let first_answer = sum.is_zero();
        // Only this order's trades, each once: venues repeat trades across answers and may
        // include other orders' trades.
        // The answer is appended (a first answer keeps its own allocation), then what does not
        // belong is moved out of it in place.
        let from = trades.len();
        if from == 0 {
            *trades = got;
        } else {
            trades.extend(got);
        }
        let mut kept = from;
        for k in from..trades.len() {
            let t = &trades[k];
            let known = trades[..kept].iter().any(|x| x.trade_id == t.trade_id);
            if whole_answer || (t.order_id == order.order_id && !known) {
                sum += t.qty;
                trades.swap(kept, k);
                kept += 1;
            }
        }
        trades.truncate(kept);
        if whole_answer {
            sum = mutant::whole_answer_sum(sum, order_filled);
        }
        if first_answer && cx.cfg.has(Mutant::TradesAskedTwice) {
            return self.trades_later(cx, "incomplete");
        }
        if sum != order_filled {
            if sum > order_filled {
                // More than the order filled: nothing of this order's answers can be trusted.
                let id = order.order_id;
                trades.retain(|t| t.order_id != id);
            }
            return self.trades_later(cx, "incomplete");
        }
        *next += 1;
        if *next < self.orders.len() {
            self.query_backoff_ms = cx.cfg.backoff_ms;
            let now = cx.now;
            return self.set_timer(cx, now);
        }
        let Phase::Reconciling { trades, .. } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return;
        };
        self.finish_reconcile(cx, trades);
    }

    fn finish_reconcile(&mut self, cx: &mut Cx<'_>, mut trades: Vec<Trade>) {
        if cx.cfg.has(Mutant::DoubleApplyFills) {
            trades.extend_from_within(..);
        }
        let misread;
        let to_book: &[Trade] =
            if cx.cfg.has(Mutant::FeeInQuoteAlways) || cx.cfg.has(Mutant::BuyPositionIgnoresFee) {
                misread = mutant::misread_fees(cx.cfg, self.intent.symbol(), &trades);
                &misread
            } else {
                &trades
            };
        if cx.cfg.has(Mutant::ReleaseBeforeReconcile) && self.reservation.is_none() {
            // Re-reserve just what the trades cost, now that the budget was handed out.
            let i = &self.intent;
            let asset = match i.side() {
                Side::Buy => i.symbol().quote(),
                Side::Sell => i.symbol().base(),
            };
            let amount = mutant::reserve_again(i.side(), &trades);
            self.reservation = cx.portfolio.reserve(asset, amount).ok();
        }
        let Some(mut r) = self.reservation.take() else {
            self.phase = Phase::Stuck;
            return;
        };
        let Ok(booked) = cx
            .portfolio
            .apply_fills(&mut r, self.intent.symbol(), to_book)
        else {
            // The reservation cannot pay for the fills: a bug or a venue out of step. Stay
            // visibly unfinished rather than pretend.
            self.reservation = Some(r);
            self.phase = Phase::Stuck;
            return self.event(
                cx,
                Detail::TradesPending {
                    cause: "booking_refused",
                    next_ms: cx.now,
                },
            );
        };
        for (asset, delta) in &booked {
            // Totals of at most 10^15 each cannot overflow a decimal's 28 digits.
            let _ = crate::router::recover::add_booked(&mut cx.out.booked, asset, *delta);
        }
        let released = if cx.cfg.has(Mutant::LeakReservation) {
            let _leaked = r;
            Decimal::ZERO
        } else {
            cx.portfolio.release_all(r)
        };
        let qty: Decimal = trades.iter().map(|t| t.qty).sum();
        let notional: Decimal = trades.iter().map(|t| t.qty * t.price).sum();
        // The fee in the asset the first trade paid it in; any other asset's fee (BNB ran out
        // part way) is in `booked`.
        let fee_asset = trades.first().map(|t| t.fee_asset.clone());
        let fee: Decimal = trades
            .iter()
            .filter(|t| Some(&t.fee_asset) == fee_asset.as_ref())
            .map(|t| t.fee)
            .sum();
        let avg_price = if cx.cfg.has(Mutant::AvgPriceUnweighted) {
            mutant::unweighted_avg(&trades)
        } else {
            notional.checked_div(qty).unwrap_or_default()
        };
        let fills = u32::try_from(trades.len()).unwrap_or(u32::MAX);
        let booked: Box<[(crate::model::Asset, Decimal)]> = {
            let mut b = booked;
            b.sort_unstable_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
            // One allocation of the exact size (a vector would be shrunk after).
            b.into_iter().collect()
        };
        let id = self.intent.intent_id();
        cx.out.event(|| Event::FillBooked {
            intent_id: id.clone(),
            fills,
            qty,
            avg_price,
            fee,
            fee_asset: fee_asset.clone(),
            booked: booked.clone(),
        });
        self.transition(
            cx,
            State::Reconciled,
            Detail::Reconciled {
                fills_count: fills,
                filled_qty: qty,
                avg_price,
                fee,
                fee_asset,
                released,
                booked,
            },
        );
        self.phase = Phase::Done;
    }
}

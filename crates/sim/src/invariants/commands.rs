//! The router's commands and the venue's orders and trades: ids, grids, the minimum notional,
//! one live order per intent, fills within the cap and within the intent.

use super::*;

impl Invariants {
    /// A command the router emitted: placements must carry ids and respect the grids and the
    /// minimum notional.
    pub fn on_command(&mut self, cmd: &Command) -> Option<Violation> {
        let Action::Place(req) = &cmd.action else {
            return None;
        };
        self.checks += 2;
        let id = cmd.intent_id.as_str();
        let Some(&i) = self.by_intent.get(&cmd.intent_id) else {
            if self.audit.finished(id) {
                return Some(self.violation(
                    "audit_complete",
                    Some(id),
                    format!(
                        "order {} for an intent the log already ended",
                        req.client_order_id()
                    ),
                ));
            }
            return Some(self.violation(
                "ids_present",
                Some(id),
                format!(
                    "order {} names an intent never delivered",
                    req.client_order_id()
                ),
            ));
        };
        self.by_coid.insert(req.client_order_id().clone(), i);
        let mut cap = None;
        if let Some(t) = self.intents[i].as_mut() {
            t.coids.push(req.client_order_id().clone());
            cap = Some(t.cap);
        }
        self.checks += 1;
        if let Some(cap) = cap.filter(|c| *c != req.limit_price()) {
            // Beyond the cap the order can fill where it must not: that is the safety rule.
            // Inside it, the order is safe but fills less than the specification asks.
            let beyond = match req.side() {
                Side::Buy => req.limit_price() > cap,
                Side::Sell => req.limit_price() < cap,
            };
            return Some(self.violation(
                if beyond {
                    "slippage_cap"
                } else {
                    "limit_at_cap"
                },
                Some(id),
                format!(
                    "order {} placed at {}, not at the cap {cap}",
                    req.client_order_id(),
                    req.limit_price()
                ),
            ));
        }
        let rules = self
            .venue_cfg
            .markets
            .get(req.symbol())
            .copied()
            .unwrap_or(self.venue_cfg.default_rules);
        let min = self.router_cfg.min_notional.max(rules.min_notional);
        let notional = req.qty().checked_mul(req.limit_price());
        let on_grid = |x: Decimal, step: Decimal| step > Decimal::ZERO && (x % step).is_zero();
        if !on_grid(req.qty(), rules.step_size) || !on_grid(req.limit_price(), rules.tick_size) {
            return Some(self.violation(
                "min_notional",
                Some(id),
                format!(
                    "order {} @ {} is off the lot/tick grid",
                    req.qty(),
                    req.limit_price()
                ),
            ));
        }
        if notional.is_none_or(|n| n < min) {
            return Some(self.violation(
                "min_notional",
                Some(id),
                format!(
                    "order {} @ {} is below min notional {min}",
                    req.qty(),
                    req.limit_price()
                ),
            ));
        }
        None
    }

    /// What changed at the venue since the last call: new orders and new trades.
    ///
    /// Called after every venue call that can create an order or a trade, so the venue never
    /// forgets one (it keeps finished orders for minutes) before it was seen here; should that
    /// happen anyway, the cursor skips what is gone rather than looking at anything twice.
    pub fn after_venue(&mut self, venue: &SimExchange) -> Option<Violation> {
        self.orders_seen = self.orders_seen.max(venue.first_retained_order());
        for o in venue.orders_from(self.orders_seen) {
            self.orders_seen += 1;
            self.checks += 3;
            let Some(&i) = self.by_coid.get(&o.client_order_id) else {
                return Some(self.violation(
                    "single_router",
                    None,
                    format!(
                        "venue order {} ({}) was not placed by the router",
                        o.order_id, o.client_order_id
                    ),
                ));
            };
            let Some(track) = self.intents[i].as_mut() else {
                continue;
            };
            let id = track.id.clone();
            track.orders += 1;
            track.order_ids.push(o.order_id);
            if o.client_order_id.as_str().is_empty() {
                return Some(self.violation(
                    "ids_present",
                    Some(id.as_str()),
                    format!("venue order {} has no client order id", o.order_id),
                ));
            }
            if !self
                .venue_coids
                .insert(fnv1a64(o.client_order_id.as_str().as_bytes()))
            {
                return Some(self.violation(
                    "no_duplicate_orders",
                    Some(id.as_str()),
                    format!(
                        "a second venue order {} under client id {}",
                        o.order_id, o.client_order_id
                    ),
                ));
            }
            self.by_order.insert(o.order_id, i);
        }
        // An intent never has two live orders (open orders are few: resting GTCs).
        let mut open: Vec<usize> = venue
            .open_orders()
            .filter_map(|o| self.by_coid.get(&o.client_order_id).copied())
            .collect();
        self.checks += 1;
        open.sort_unstable();
        if let Some(w) = open.windows(2).find(|w| w[0] == w[1]) {
            let id = self.intents[w[0]].as_ref().map(|t| t.id.clone());
            return Some(self.violation(
                "no_duplicate_orders",
                id.as_ref().map(IntentId::as_str),
                "two live orders at once".into(),
            ));
        }
        self.trades_seen = self.trades_seen.max(venue.first_retained_trade());
        for t in venue.trades_from(self.trades_seen) {
            self.trades_seen += 1;
            self.checks += 2;
            let Some(&i) = self.by_order.get(&t.order_id) else {
                continue; // reported as single_router above
            };
            let Some(track) = self.intents[i].as_mut() else {
                continue;
            };
            track.filled += t.qty;
            let first = track.fee_asset.get_or_insert_with(|| t.fee_asset.clone());
            if *first == t.fee_asset {
                track.fee += t.fee;
            }
            track.notional += t.qty * t.price;
            track.last_trade = Some(t.price);
            track.trades += 1;
            let notional = t.price * t.qty;
            let (base, quote) = (t.symbol.base(), t.symbol.quote());
            if t.fee_asset.as_str() == fees::BNB {
                self.coverage[Coverage::FeeInBnb as usize] += 1;
                if &t.fee_asset != base && &t.fee_asset != quote {
                    track.fees_owed += t.fee;
                    self.fees_owed += t.fee;
                }
            } else if self.venue_cfg.fees.mode == FeeMode::Bnb
                && t.fee.is_sign_positive()
                && !t.fee.is_zero()
            {
                self.coverage[Coverage::BnbRanOut as usize] += 1;
            }
            if t.side == Side::Buy && &t.fee_asset == base && !t.fee.is_zero() {
                self.coverage[Coverage::FeeInBase as usize] += 1;
            }
            // The fee comes out of whichever asset the venue charged it in.
            let moves = match t.side {
                Side::Buy => [(quote, -notional), (base, t.qty), (&t.fee_asset, -t.fee)],
                Side::Sell => [(base, -t.qty), (quote, notional), (&t.fee_asset, -t.fee)],
            };
            for (asset, delta) in moves {
                match track.unbooked.iter_mut().find(|(a, _)| a == asset) {
                    Some((_, d)) => *d += delta,
                    None => track.unbooked.push((asset.clone(), delta)),
                }
            }
            let (filled, qty, cap, side) = (track.filled, track.qty, track.cap, track.side);
            let id = track.id.clone();
            for (asset, delta) in moves {
                let m = self.money_mut(asset);
                m.2 += delta;
            }
            if filled > qty {
                return Some(self.violation(
                    "no_duplicate_orders",
                    Some(id.as_str()),
                    format!("venue filled {filled}, more than the intent's qty {qty}"),
                ));
            }
            let worse = match side {
                Side::Buy => t.price > cap,
                Side::Sell => t.price < cap,
            };
            if worse {
                return Some(self.violation(
                    "slippage_cap",
                    Some(id.as_str()),
                    format!("fill {} at {} is beyond the cap {cap}", t.trade_id, t.price),
                ));
            }
        }
        None
    }
}

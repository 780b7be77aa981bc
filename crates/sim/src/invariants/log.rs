//! The checks of each audit line as the router writes it: the table and the policy (through
//! the audit checker), the venue's records, the checker's own money model, the slippage guard
//! event, and the router's own counters.

use rust_decimal::Decimal;

use super::{grid_floor, Coverage, Invariants, Violation};
use crate::audit::{AuditLine, Detail};
use crate::exchange::sim::SimExchange;
use crate::exchange::OrderStatus;
use crate::model::{bps_fraction, Asset, Side};
use crate::router::State;

impl Invariants {
    /// Audit lines as the router writes them: they must follow the table from NEW, keep to the
    /// retry policy and the cap, tell the venue's truth, and end an intent only for a reason the
    /// specification allows. An intent that reached a terminal state leaves the lookups.
    pub fn on_audit(&mut self, line: &AuditLine, venue: &SimExchange) -> Option<Violation> {
        self.checks += 1;
        self.next_seq = Some(line.seq + 1);
        // One lookup of the intent's slot serves every check of the line.
        let slot = self.by_intent.get(&line.intent_id).copied();
        if !self.in_doubt.is_empty() {
            if let Some(v) = self.held_after_restart(line) {
                return Some(v);
            }
        }
        if let Some(v) = self.slippage_guard(line, slot) {
            return Some(v);
        }
        self.count(line, slot);
        self.audit.observe_line(line);
        let problems = self.audit.problems();
        if problems.len() > self.audit_problems {
            self.audit_problems = problems.len();
            let p = &problems[problems.len() - 1];
            return Some(self.violation(
                p.kind.check(),
                p.intent_id.as_deref(),
                format!("seq {}: {p}", line.seq),
            ));
        }
        let found = slot.and_then(|i| self.against_venue(line, i, venue));
        if line.state.is_terminal() && line.detail.event().is_none() {
            self.retire(&line.intent_id);
        }
        found
    }

    /// Counts the line's transition (or ignored duplicate), as the router must count it.
    fn count(&mut self, line: &AuditLine, slot: Option<usize>) {
        match line.detail.event() {
            Some("duplicate_ignored") => self.log_duplicates += 1,
            Some(_) => {}
            None => {
                let t = slot.and_then(|i| self.intents.get_mut(i)?.as_mut());
                let from = match (line.state, &t) {
                    (State::New, _) | (_, None) => 0,
                    (_, Some(t)) => 1 + t.state.index(),
                };
                self.log_edges[from][line.state.index()] += 1;
                if let Some(t) = t {
                    t.state = line.state;
                    t.begun = true;
                }
            }
        }
    }

    /// The slippage guard event comes exactly before an attempt placed while the market the
    /// router was told of is beyond the cap, and names that market.
    fn slippage_guard(&mut self, line: &AuditLine, slot: Option<usize>) -> Option<Violation> {
        let id = line.intent_id.as_str();
        let t = self.intents.get(slot?)?.as_ref()?;
        let market = self
            .last_mid
            .iter()
            .find(|(s, _)| *s == t.symbol)
            .map(|(_, m)| *m);
        let beyond = market.is_some_and(|m| match t.side {
            Side::Buy => m > t.cap,
            Side::Sell => m < t.cap,
        });
        match (&line.detail, line.state) {
            (Detail::SlippageGuardApplied { market_price, .. }, _) => {
                if !beyond || Some(*market_price) != market {
                    return Some(self.violation(
                        "limit_at_cap",
                        Some(id),
                        format!(
                            "slippage guard at market {market_price}, but the market is {market:?} against the cap {}",
                            t.cap
                        ),
                    ));
                }
                self.guarded.push(line.intent_id.clone());
            }
            (Detail::Sent { .. }, State::Sent) if t.state != State::Unknown => {
                let announced = match self.guarded.iter().position(|g| g == &line.intent_id) {
                    Some(k) => {
                        self.guarded.swap_remove(k);
                        true
                    }
                    None => false,
                };
                if beyond != announced {
                    return Some(self.violation(
                        "limit_at_cap",
                        Some(id),
                        format!(
                            "attempt placed with the market at {market:?} and the cap {}, {} a slippage guard event",
                            t.cap,
                            if announced { "after" } else { "without" }
                        ),
                    ));
                }
            }
            _ => {}
        }
        None
    }

    /// The checks of one line against the venue's records and the checker's money model.
    fn against_venue(
        &mut self,
        line: &AuditLine,
        i: usize,
        venue: &SimExchange,
    ) -> Option<Violation> {
        if matches!(line.detail, Detail::Reserved { .. } | Detail::Failed { .. }) {
            self.fit_sell(i, venue);
        }
        let t = self.intents.get(i)?.as_ref()?;
        let id = line.intent_id.as_str();
        self.checks += 1;
        match &line.detail {
            Detail::Reserved {
                reserved_qty,
                reserved_price,
                asset,
                amount,
            } => {
                let (qty_grid, cap, need) = (t.qty_grid, t.cap, t.need);
                if *reserved_qty != qty_grid || *reserved_price != cap || *amount != need {
                    // Named by the rule the mismatch endangers: off the lot grid, a cap beyond
                    // the specified one, a budget short of its need (it can be overbooked);
                    // anything else is a policy breach.
                    let step = self.rules(&t.symbol).step_size;
                    let beyond = match t.side {
                        Side::Buy => *reserved_price > cap,
                        Side::Sell => *reserved_price < cap,
                    };
                    let rule = if grid_floor(*reserved_qty, step) != *reserved_qty {
                        "min_notional"
                    } else if beyond {
                        "slippage_cap"
                    } else if *amount < need {
                        "reservation_non_negative"
                    } else {
                        "limit_at_cap"
                    };
                    return Some(self.violation(
                        rule,
                        Some(id),
                        format!(
                            "reserved {amount} {asset} for {reserved_qty} at {reserved_price}; the cap {cap} asks {need} {asset} for {qty_grid}"
                        ),
                    ));
                }
                self.count_tight(asset, *amount, venue);
                if self.available(asset, venue) == *amount {
                    self.coverage[Coverage::BalanceExact as usize] += 1;
                }
                self.count_min_notional(i, true);
                self.money_mut(asset).1 += *amount;
                if let Some(t) = self.intents[i].as_mut() {
                    t.reserved = Some((asset.clone(), *amount));
                }
            }
            Detail::Failed { detail, .. } => return self.refusal(i, detail, venue),
            Detail::Sent { attempt, .. }
                if *attempt > 1 && *attempt == self.router_cfg.max_retries.saturating_add(1) =>
            {
                self.coverage[Coverage::LastRetry as usize] += 1;
            }
            Detail::PartialSuccess { released, .. } => {
                // The unfilled part's share of the reservation, and no more, goes back.
                let released = *released;
                let rules = self.rules(&t.symbol);
                let unfilled = t.qty_grid - t.filled;
                let share = match t.side {
                    Side::Buy => {
                        let n = unfilled * t.cap;
                        n + n * (rules.fee_bps / Decimal::from(10_000))
                    }
                    Side::Sell => unfilled,
                };
                let left = t.reserved.as_ref().map_or(Decimal::ZERO, |r| r.1);
                if released != share.min(left) {
                    return Some(self.violation(
                        "reconciled",
                        Some(id),
                        format!(
                            "released {released} at PARTIAL_SUCCESS; the unfilled {unfilled}'s share is {}",
                            share.min(left).normalize()
                        ),
                    ));
                }
                if let Some((asset, left)) =
                    self.intents[i].as_mut().and_then(|t| t.reserved.as_mut())
                {
                    *left -= released;
                    let asset = asset.clone();
                    self.money_mut(&asset).1 -= released;
                }
            }
            Detail::Order {
                client_order_id,
                order_id,
                filled_qty,
                ..
            } => {
                let Some(o) = venue.order_by_coid(&t.symbol, client_order_id) else {
                    return None; // forgotten by a venue with retention: nothing to compare
                };
                let truthful = &o.order_id == order_id
                    && match line.state {
                        State::Filled => o.filled == *filled_qty && o.amount == *filled_qty,
                        // A refused order did not end as cancelled: that is an ERROR.
                        State::Canceled => {
                            o.status.is_final()
                                && o.status != OrderStatus::Rejected
                                && o.filled == *filled_qty
                        }
                        _ => *filled_qty <= o.filled,
                    };
                if !truthful {
                    return Some(self.violation(
                        "order_truth",
                        Some(id),
                        format!(
                            "{} reports order {order_id} ({client_order_id}) filled {filled_qty}; the venue holds {} ({}) with {} of {} filled, {:?}",
                            line.state, o.order_id, o.client_order_id, o.filled, o.amount, o.status
                        ),
                    ));
                }
            }
            Detail::Reconciled {
                fills_count,
                filled_qty,
                avg_price,
                fee,
                fee_asset,
                released,
                ..
            } => {
                // What is left of the reservation once the trades are paid goes back.
                if let Some((asset, left)) = &t.reserved {
                    let paid = t
                        .unbooked
                        .iter()
                        .find(|(a, _)| a == asset)
                        .map_or(Decimal::ZERO, |(_, d)| *d);
                    let rest = *left + paid;
                    if *released != rest {
                        return Some(self.violation(
                            "reconciled",
                            Some(id),
                            format!(
                                "released {released} {asset} at RECONCILED; {} is left once the trades are paid",
                                rest.normalize()
                            ),
                        ));
                    }
                }
                let avg = t.notional.checked_div(t.filled).unwrap_or_default();
                if *avg_price != avg {
                    return Some(self.violation(
                        "order_truth",
                        Some(id),
                        format!(
                            "reconciled at an average price of {avg_price}; the venue's trades average {avg}"
                        ),
                    ));
                }
                if *filled_qty != t.filled
                    || *fee != t.fee
                    || *fee_asset != t.fee_asset
                    || *fills_count != t.trades
                {
                    return Some(self.violation(
                        "order_truth",
                        Some(id),
                        format!(
                            "reconciled {fills_count} fills of {filled_qty} with fee {fee} {fee_asset:?}; the venue traded {} fills of {} with fee {} {:?}",
                            t.trades, t.filled, t.fee, t.fee_asset
                        ),
                    ));
                }
                let t = self.intents.get(i).and_then(Option::as_ref)?;
                if t.calm && t.filled != t.qty_grid {
                    return Some(self.violation(
                        "liveness",
                        Some(id),
                        format!(
                            "delivered in a calm market but filled only {} of {}",
                            t.filled, t.qty_grid
                        ),
                    ));
                }
            }
            Detail::FailedFinal { .. } if t.calm => {
                return Some(self.violation(
                    "liveness",
                    Some(id),
                    "delivered in a calm market but ended FAILED_FINAL without a fill".into(),
                ));
            }
            _ => {}
        }
        if line.state.is_terminal() && line.detail.event().is_none() {
            self.book(i);
        }
        None
    }

    /// An intent ended: what it still held and what its trades moved leave the money model
    /// (booked, or released).
    fn book(&mut self, i: usize) {
        let Some(t) = self.intents[i].as_mut() else {
            return;
        };
        let reserved = t.reserved.take();
        let unbooked = std::mem::take(&mut t.unbooked);
        self.fees_owed -= std::mem::take(&mut t.fees_owed);
        if let Some((asset, left)) = reserved {
            self.money_mut(&asset).1 -= left;
        }
        for (asset, delta) in unbooked {
            self.money_mut(&asset).2 -= delta;
        }
    }

    /// A `FAILED` intent: the reason must be true, worked out here from the intent, the market
    /// rules and the money model.
    fn refusal(&mut self, i: usize, reason: &str, venue: &SimExchange) -> Option<Violation> {
        let t = self.intents[i].as_ref()?;
        let rules = self.rules(&t.symbol);
        let min = self.router_cfg.min_notional.max(rules.min_notional);
        let asset = match t.side {
            Side::Buy => t.symbol.quote(),
            Side::Sell => t.symbol.base(),
        }
        .clone();
        let available = self.available(&asset, venue);
        let (need, id) = (t.need, t.id.clone());
        let fits_grid = t.qty_grid > Decimal::ZERO;
        let notional = t.qty_grid.checked_mul(t.cap);
        let priced = t.cap > Decimal::ZERO;
        let holds = match reason {
            "lot_size" => !fits_grid,
            "price" => !priced,
            "min_notional" => {
                self.count_min_notional(i, false);
                notional.is_none_or(|n| n < min)
            }
            "insufficient_balance" => {
                self.count_tight(&asset, need, venue);
                let unit = Decimal::new(1, need.normalize().scale());
                if need - available == unit {
                    self.coverage[Coverage::BalanceUnitShort as usize] += 1;
                }
                need > available
            }
            // Or, as the router counts, in the market's units (a very fine lot and tick).
            "overflow" => {
                notional.is_none() || {
                    let g = crate::grid::Grid::new(rules.step_size, rules.tick_size);
                    let units = g.qty(t.qty_grid).ok().zip(g.price(t.cap).ok());
                    units.and_then(|(q, p)| g.notional(q, p)).is_none()
                        || g.notional_at_least(min).is_none()
                }
            }
            _ => false,
        };
        if holds {
            return None;
        }
        let fact = match reason {
            "insufficient_balance" => {
                format!("it needs {need} {asset} and {available} is available")
            }
            _ => format!(
                "{} on the lot grid at the cap {} is a notional of {} (minimum {min})",
                self.intents[i]
                    .as_ref()
                    .map_or(Decimal::ZERO, |t| t.qty_grid),
                self.intents[i].as_ref().map_or(Decimal::ZERO, |t| t.cap),
                notional.unwrap_or(Decimal::MAX)
            ),
        };
        Some(self.violation(
            "liveness",
            Some(id.as_str()),
            format!("refused ({reason}) although {fact}"),
        ))
    }

    /// A sell short of the available base by at most its fee (the dust a buy's base fee
    /// leaves) is cut to the available base on the lot grid (docs/router.md): what the intent
    /// may then reserve and must fill, worked out from the checker's own money model. Only
    /// at the line that reserves or refuses it.
    fn fit_sell(&mut self, i: usize, venue: &SimExchange) {
        let Some(t) = self.intents.get(i).and_then(Option::as_ref) else {
            return;
        };
        if t.side != Side::Sell || t.reserved.is_some() || t.orders > 0 {
            return;
        }
        let rules = self.rules(&t.symbol);
        let available = self.available(t.symbol.base(), venue);
        let margin = t.qty_grid * rules.fee_bps * bps_fraction();
        if t.qty_grid <= available || t.qty_grid - available > margin {
            return;
        }
        let cut = grid_floor(available.max(Decimal::ZERO), rules.step_size).normalize();
        if let Some(t) = self.intents.get_mut(i).and_then(Option::as_mut) {
            t.qty_grid = cut;
            t.need = cut;
        }
        self.coverage[Coverage::SellCutToHoldings as usize] += 1;
    }

    /// Coverage: a notional decided exactly at the minimum, or one lot either side of it
    /// (`reserved`: accepted; otherwise refused for the minimum).
    fn count_min_notional(&mut self, i: usize, reserved: bool) {
        let Some(t) = self.intents.get(i).and_then(Option::as_ref) else {
            return;
        };
        let rules = self.rules(&t.symbol);
        let min = self.router_cfg.min_notional.max(rules.min_notional);
        let at = |q: Decimal| min > Decimal::ZERO && q.checked_mul(t.cap) == Some(min);
        let c = if reserved && at(t.qty_grid) {
            Coverage::MinNotionalExact
        } else if reserved && at(t.qty_grid - rules.step_size) {
            Coverage::MinNotionalLotAbove
        } else if !reserved && at(t.qty_grid + rules.step_size) {
            Coverage::MinNotionalLotBelow
        } else {
            return;
        };
        self.coverage[c as usize] += 1;
    }

    /// Coverage: a reservation decided within the fee (or a cent) of what was available.
    fn count_tight(&mut self, asset: &Asset, need: Decimal, venue: &SimExchange) {
        let available = self.available(asset, venue);
        let margin = (need * Decimal::new(2, 3)).max(Decimal::new(1, 2));
        if (available - need).abs() <= margin {
            self.coverage[Coverage::TightBudget as usize] += 1;
        }
    }
}

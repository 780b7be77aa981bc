//! What happens after trades: stop orders the last trades reached trigger, a decided OCO pair
//! expires its other leg, a filled OTO working leg sends its pending legs on, and an ended
//! leg ends its list ([`super::lists`] has the types and the placements).

use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::lists::{ExpiryReason, Stage};
use super::{lock_for, Funds, NewOrder, SimExchange};
use crate::exchange::OrderStatus;
use crate::model::{Side, Tif, TimeMs};

impl SimExchange {
    /// Order `i` fills or triggers: if it is a leg of an undecided OCO pair, the pair is
    /// decided: the other leg expires (`OCO_TRIGGER`) and hands over the shared lock, what
    /// this leg does not need returning to free.
    pub(super) fn oco_activate(&mut self, i: usize, now: TimeMs) {
        let k = i - self.order_base;
        let Some(l) = self.meta[k].ext.list else {
            return;
        };
        let list = &self.lists.lists[l];
        if list.resolved {
            return;
        }
        let n = list.orders.len();
        let pair_from = if list.working.is_some() { 1 } else { 0 };
        if n < pair_from + 2 {
            return;
        }
        let pair: SmallVec<[usize; 2]> = list.orders[pair_from..]
            .iter()
            .filter_map(|o| self.index_of(o))
            .collect();
        if !pair.contains(&i) {
            return;
        }
        self.lists.lists[l].resolved = true;
        for j in pair {
            if j == i || self.order(j).status.is_final() {
                continue;
            }
            let kj = j - self.order_base;
            let total = self.meta[k]
                .lock_left
                .saturating_add(self.meta[kj].lock_left);
            let o = self.order(i);
            let own = lock_for(o.side, o.remaining, o.price).unwrap_or(total);
            let keep = own.min(total);
            self.meta[k].lock_left = keep;
            self.meta[kj].lock_left = total - keep;
            self.meta[kj].ext.expiry = Some(ExpiryReason::OcoTrigger);
            self.finish(j, OrderStatus::Expired, now);
        }
    }

    /// Order `i` just ended with `status`: the list rules. A working leg that filled
    /// completely sends its pending legs on (at the next settle); any other end of an
    /// undecided list's leg ends its other open legs the same way.
    pub(super) fn list_finished(&mut self, i: usize, status: OrderStatus, now: TimeMs) {
        let k = i - self.order_base;
        self.lists.waiting.remove(&i);
        let Some(l) = self.meta[k].ext.list else {
            return;
        };
        let list = &self.lists.lists[l];
        let id = self.order(i).order_id;
        let is_working = list.working == Some(id);
        if status == OrderStatus::Closed && is_working {
            self.lists.todo.push_back(l);
        } else if !list.resolved || status == OrderStatus::Canceled {
            let others: SmallVec<[usize; 3]> = list
                .orders
                .iter()
                .filter(|o| **o != id)
                .filter_map(|o| self.index_of(o))
                .collect();
            for j in others {
                if self.order(j).status.is_final() {
                    continue;
                }
                let kj = j - self.order_base;
                let st = match status {
                    OrderStatus::Canceled => OrderStatus::Canceled,
                    _ => OrderStatus::Expired,
                };
                if st == OrderStatus::Expired && is_working {
                    self.meta[kj].ext.expiry = Some(ExpiryReason::OtoPhaseOneExpired);
                }
                self.finish(j, st, now);
            }
        }
        let done = self.lists.lists[l].orders.iter().all(|o| {
            self.index_of(o)
                .is_none_or(|j| self.order(j).status.is_final())
        });
        if done {
            self.lists.open.remove(&l);
        }
    }

    /// Runs the consequences of the trades of a call until nothing more happens: pending
    /// legs whose working leg filled go on, waiting stop orders that a trade reached
    /// trigger (oldest first), and their fills may trigger more.
    pub(super) fn settle(&mut self, now: TimeMs) {
        loop {
            let mut acted = false;
            while let Some(l) = self.lists.todo.pop_front() {
                self.go_pending(l, now);
                acted = true;
            }
            let tape = std::mem::take(&mut self.lists.tape);
            let base = self.lists.tape_base;
            self.lists.tape_base += tape.len() as u64;
            if !tape.is_empty() && !self.lists.waiting.is_empty() {
                let waiting: Vec<usize> = self.lists.waiting.iter().copied().collect();
                for i in waiting {
                    if !self.lists.waiting.contains(&i) {
                        continue;
                    }
                    let k = i - self.order_base;
                    let (ext, side, symbol) = {
                        let o = &self.orders[k];
                        (self.meta[k].ext, o.side, o.symbol.clone())
                    };
                    let Some(stop) = ext.stop else { continue };
                    let hit = tape.iter().enumerate().any(|(n, (s, p))| {
                        base + n as u64 >= ext.since && s == &symbol && stop.reached(side, *p)
                    });
                    if hit {
                        self.trigger(i, now);
                        acted = true;
                    }
                }
            }
            if !acted {
                break;
            }
        }
    }

    /// Waiting stop order `i` triggers: it becomes a market order (its buy lock topped up to
    /// the far end of the book) or a limit order at its price, and matches.
    fn trigger(&mut self, i: usize, now: TimeMs) {
        self.lists.waiting.remove(&i);
        let k = i - self.order_base;
        self.meta[k].ext.stage = Stage::Working;
        self.oco_activate(i, now);
        if self.orders[k].status.is_final() {
            return;
        }
        if self.meta[k].ext.market {
            let (symbol, side, remaining) = {
                let o = &self.orders[k];
                (o.symbol.clone(), o.side, o.remaining)
            };
            let Some(limit) = self.market_limit(&symbol, side) else {
                self.finish(i, OrderStatus::Expired, now);
                return;
            };
            if side == Side::Buy {
                let need = remaining.checked_mul(limit).unwrap_or(Decimal::MAX);
                let extra = need - self.meta[k].lock_left.min(need);
                let quote = symbol.quote().clone();
                if self.funds(&quote).free < extra {
                    self.meta[k].ext.expiry = Some(ExpiryReason::InsufficientBalance);
                    self.finish(i, OrderStatus::Expired, now);
                    return;
                }
                let f = self.funds.get_or_insert_with(&quote, Funds::default);
                f.free -= extra;
                f.locked = f.locked.saturating_add(extra);
                self.meta[k].lock_left = self.meta[k].lock_left.saturating_add(extra);
            }
            self.orders[k].price = limit;
            self.meta[k].tif = Tif::Ioc;
        }
        self.start(i, now, None);
    }

    /// The working leg of list `l` filled completely: its pending legs go on, locking their
    /// funds now (an OCO pair once), or expire when the funds are not there.
    fn go_pending(&mut self, l: usize, now: TimeMs) {
        let pending: SmallVec<[usize; 2]> = self.lists.lists[l]
            .orders
            .iter()
            .filter_map(|o| self.index_of(o))
            .filter(|&j| {
                self.meta[j - self.order_base].ext.stage == Stage::Pending
                    && !self.order(j).status.is_final()
            })
            .collect();
        let mut needs = SmallVec::<[(crate::model::Asset, Decimal); 2]>::new();
        for &j in &pending {
            let o = self.order(j);
            let asset = match o.side {
                Side::Buy => o.symbol.quote().clone(),
                Side::Sell => o.symbol.base().clone(),
            };
            let limit = if self.meta[j - self.order_base].ext.market && o.side == Side::Buy {
                self.market_limit(&o.symbol, o.side).unwrap_or(o.price)
            } else {
                o.price
            };
            needs.push((
                asset,
                lock_for(o.side, o.remaining, limit).unwrap_or(Decimal::MAX),
            ));
        }
        let shared = needs.len() == 2;
        let total = if shared {
            needs[0].1.max(needs[1].1)
        } else {
            needs.first().map_or(Decimal::ZERO, |n| n.1)
        };
        let asset = needs.first().map(|n| n.0.clone());
        let enough = asset.as_ref().is_none_or(|a| self.funds(a).free >= total);
        if !enough {
            for &j in &pending {
                self.meta[j - self.order_base].ext.expiry = Some(ExpiryReason::InsufficientBalance);
            }
            self.lists.lists[l].resolved = true;
            for &j in &pending {
                self.finish(j, OrderStatus::Expired, now);
            }
            return;
        }
        if let Some(a) = &asset {
            let f = self.funds.get_or_insert_with(a, Funds::default);
            f.free -= total;
            f.locked = f.locked.saturating_add(total);
        }
        for (n, &j) in pending.iter().enumerate() {
            let kj = j - self.order_base;
            self.meta[kj].lock_left = if n == 0 { total } else { Decimal::ZERO };
            let has_stop = self.meta[kj].ext.stop.is_some();
            self.meta[kj].ext.since = self.tape_next();
            self.meta[kj].ext.stage = if has_stop {
                Stage::Waiting
            } else {
                Stage::Working
            };
        }
        for &j in &pending {
            if self.order(j).status.is_final() {
                continue;
            }
            let kj = j - self.order_base;
            let ext = self.meta[kj].ext;
            if ext.maker_only {
                let o = self.order(j);
                let probe = NewOrder {
                    client_order_id: o.client_order_id.clone(),
                    symbol: o.symbol.clone(),
                    side: o.side,
                    qty: o.remaining,
                    limit_price: o.price,
                    tif: Tif::Gtc,
                    market: false,
                };
                if self.takes(&probe) {
                    self.meta[kj].ext.expiry = Some(ExpiryReason::WouldTake);
                    self.finish(j, OrderStatus::Expired, now);
                    continue;
                }
            }
            match ext.stop {
                Some(stop) => {
                    self.lists.waiting.insert(j);
                    let o = self.order(j);
                    let reached = self
                        .last_price(&o.symbol)
                        .is_some_and(|p| stop.reached(o.side, p));
                    if reached {
                        self.trigger(j, now);
                    }
                }
                None => {
                    if ext.market {
                        let o = self.order(j);
                        if let Some(limit) = self.market_limit(&o.symbol, o.side) {
                            self.orders[kj].price = limit;
                        }
                        self.meta[kj].tif = Tif::Ioc;
                    }
                    self.start(j, now, None);
                }
            }
        }
    }
}

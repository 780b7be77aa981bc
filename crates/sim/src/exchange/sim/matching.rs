//! Matching: an order walks the opposite side of the book up to its limit; each fill moves
//! funds and records a trade; a finished order unlocks what it no longer needs.

use super::*;

impl SimExchange {
    /// Walks the opposite side of the book for order `i`, filling at most `max_fill`.
    pub(super) fn match_order(&mut self, i: usize, now: TimeMs, max_fill: Decimal) {
        let k = i - self.order_base;
        let (symbol, side, limit) = {
            let o = &self.orders[k];
            (o.symbol.clone(), o.side, o.price)
        };
        let fee_rate = self.meta[k].fee_rate;
        let left = self.orders[k].remaining.min(max_fill);
        let Some(book) = self.books.get_mut(&symbol) else {
            return;
        };
        // An admitted order's limit is on the tick and what it may still fill on the lot (a
        // market order's limit is the book's own far end): on the book's grid.
        let grid = book.grid;
        let (Ok(limit), Ok(mut left)) = (grid.price(limit), grid.qty(left)) else {
            return;
        };
        let levels = match side {
            Side::Buy => &mut book.asks,
            Side::Sell => &mut book.bids,
        };
        let mut fills = Vec::new();
        for level in levels.iter_mut() {
            if !left.is_positive() || !crosses(side, limit, level.price) {
                break;
            }
            let q = level.qty.min(left);
            if !q.is_positive() {
                continue;
            }
            let (price, qty) = (grid.price_decimal(level.price), grid.qty_decimal(q));
            // A fill whose money cannot be computed does not happen.
            let computable = price
                .checked_mul(qty)
                .and_then(|n| n.checked_mul(fee_rate))
                .and_then(|n| n.checked_mul(Decimal::ONE_HUNDRED))
                .is_some();
            let (Some(rest), Some(after)) = (level.qty.checked_sub(q), left.checked_sub(q)) else {
                break;
            };
            if !computable {
                break;
            }
            (level.qty, left) = (rest, after);
            fills.push((price, qty));
        }
        for (price, qty) in fills {
            self.fill(i, price, qty, now);
        }
    }

    /// One trade of order `i`: `qty` at `price`. The caller made sure the money computes.
    /// The commission comes out of what the fill brings in, or out of free BNB
    /// ([`fees::charge`]).
    pub(super) fn fill(&mut self, i: usize, price: Decimal, qty: Decimal, now: TimeMs) {
        let k = i - self.order_base;
        let t = self.trade_count();
        let bnb_free = self
            .bnb
            .as_ref()
            .map_or(Decimal::ZERO, |b| self.funds(b).free);
        let (symbol, side) = (self.orders[k].symbol.clone(), self.orders[k].side);
        let charge = fees::charge(
            self.cfg.fees,
            self.bnb.as_ref(),
            bnb_free,
            &symbol,
            side,
            qty,
            price,
            self.meta[k].fee_rate,
        );
        let (fee_asset, fee) = match charge {
            Some(c) => (c.asset, c.amount),
            None => match side {
                Side::Buy => (symbol.base().clone(), Decimal::ZERO),
                Side::Sell => (symbol.quote().clone(), Decimal::ZERO),
            },
        };
        let meta = &mut self.meta[k];
        let o = &mut self.orders[k];
        let notional = price.checked_mul(qty).unwrap_or(Decimal::ZERO);
        let release = match o.side {
            Side::Buy => lock_for(Side::Buy, qty, o.price)
                .unwrap_or(meta.lock_left)
                .min(meta.lock_left),
            Side::Sell => qty.min(meta.lock_left),
        };
        meta.lock_left -= release;
        meta.cost = meta.cost.saturating_add(notional);
        let first_fill = o.filled.is_zero();
        o.filled = o.filled.saturating_add(qty);
        o.remaining = sub_floor0(o.remaining, qty);
        o.average = meta.cost.checked_div(o.filled);
        // The order's fee is in the asset of its first fill's fee; a later fill charged in
        // another asset (BNB ran out) shows in its trade only.
        if first_fill {
            o.fee_asset = fee_asset.clone();
        }
        if o.fee_asset == fee_asset {
            o.fee = o.fee.saturating_add(fee);
        }
        let (base, quote) = (symbol.base(), symbol.quote());
        let trade = Trade {
            trade_id: TradeId::numbered(t as u64 + 1),
            order_id: o.order_id,
            symbol: o.symbol.clone(),
            side,
            price,
            qty,
            fee,
            fee_asset: fee_asset.clone(),
            t_ms: now,
        };
        let done = o.remaining.is_zero();
        meta.trades.push(t);
        self.trades.push_back((i, trade));
        let (spent, got, amount_in) = match side {
            Side::Buy => (quote, base, qty),
            Side::Sell => (base, quote, notional),
        };
        // What the order locked for this fill leaves the account; the price improvement of a
        // buy (locked at its limit, filled at `price`) returns to free.
        let s = self.funds.get_or_insert_with(spent, Funds::default);
        s.locked = sub_floor0(s.locked, release);
        if side == Side::Buy {
            s.free = s.free.saturating_add(sub_floor0(release, notional));
        }
        let g = self.funds.get_or_insert_with(got, Funds::default);
        if &fee_asset == got {
            g.free = g.free.saturating_add(sub_floor0(amount_in, fee));
        } else {
            g.free = g.free.saturating_add(amount_in);
            // A BNB fee: `charge` made sure the free BNB covers it.
            let b = self.funds.get_or_insert_with(&fee_asset, Funds::default);
            b.free = sub_floor0(b.free, fee);
        }
        if done {
            self.finish(i, OrderStatus::Closed, now);
        }
    }

    /// Ends order `i` with `status` at `now`: what is still locked for it returns to free, and
    /// it leaves the open lists.
    pub(super) fn finish(&mut self, i: usize, status: OrderStatus, now: TimeMs) {
        let k = i - self.order_base;
        if self.orders[k].status.is_final() {
            return;
        }
        let o = &mut self.orders[k];
        o.status = status;
        let asset = match o.side {
            Side::Buy => o.symbol.quote().clone(),
            Side::Sell => o.symbol.base().clone(),
        };
        let meta = &mut self.meta[k];
        meta.final_ms = Some(now);
        let amount = std::mem::take(&mut meta.lock_left);
        let f = self.funds.get_or_insert_with(&asset, Funds::default);
        f.locked = sub_floor0(f.locked, amount);
        f.free = f.free.saturating_add(amount);
        let o = &self.orders[k];
        self.open.remove(&i);
        if let Some(set) = self.open_by_symbol.get_mut(&o.symbol) {
            set.remove(&i);
            if set.is_empty() {
                self.open_by_symbol.remove(&o.symbol);
            }
        }
        if self.open_by_coid.get(&o.client_order_id) == Some(&i) {
            self.open_by_coid.remove(&o.client_order_id);
        }
    }
}

//! The fill model of a resting order: where it stands in the queue of its price level, and
//! what of the market's trades reaches it. One model for the simulator, `replay` and the
//! venue (docs/market.md).
//!
//! With best quotes and trades only (no order-by-order book), the queue ahead of an order is
//! not observable; the model is hftbacktest's risk-averse one:
//!
//! * an order joins behind everything displayed at its price when it reaches the book, or,
//!   when the book does not show its price then, when it first does;
//! * the queue ahead shrinks only by trades at its price, never by cancellations;
//! * when the displayed size at its price falls below the queue ahead, the queue is clamped
//!   to it (what is not displayed cannot be ahead); a price better than the best quote has
//!   nobody ahead;
//! * a trade at its price fills it only with what is left after the queue ahead; a trade
//!   beyond its price (through the level) fills all of it.
//!
//! The touch model fills an order in full at the first trade at or through its price: the
//! optimistic bound. Order latency delays the moment an order joins (trades before it do not
//! count) and the moment a cancel lands (trades before it still fill).
//!
//! Prices are in ticks and quantities in lots of the market: integers.

use crate::model::{Side, TimeMs};

use super::Print;

/// How a resting order is filled by the market's trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum FillModel {
    /// FIFO behind the queue displayed when the order arrived (risk-averse).
    #[default]
    Queue,
    /// Filled in full at the first trade at or through its price.
    Touch,
}

impl FillModel {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One resting order as the fill model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resting {
    pub side: Side,
    /// Its limit, in ticks.
    pub px: i64,
    /// Lots still open.
    pub left: i64,
    /// Lots ahead of it at its price; `None` until it reaches the book.
    pub ahead: Option<i64>,
    /// When it reaches the book.
    pub active_from: TimeMs,
    /// When its cancel lands, if one was sent.
    pub cancel_at: Option<TimeMs>,
}

impl Resting {
    /// An order of `lots` at `px` sent at `now`, reaching the book `latency_ms` later.
    pub fn new(side: Side, px: i64, lots: i64, now: TimeMs, latency_ms: u64) -> Resting {
        Resting {
            side,
            px,
            left: lots,
            ahead: None,
            active_from: now.saturating_add(latency_ms),
            cancel_at: None,
        }
    }

    /// Whether it is on the book at `t`.
    pub fn live_at(&self, t: TimeMs) -> bool {
        t >= self.active_from && self.cancel_at.is_none_or(|c| t < c) && self.left > 0
    }

    /// Whether `px` is better than this order's price from its own side (a higher bid, a
    /// lower ask).
    fn beyond(&self, px: i64) -> bool {
        match self.side {
            Side::Buy => px < self.px,
            Side::Sell => px > self.px,
        }
    }

    /// The book at `t` displays `shown` lots at this order's price (`Some(0)`: nothing, the
    /// price being inside the spread; `None`: the price is not a level the book shows, so
    /// nothing is learnt). An order on the book joins behind `shown` the first time its price
    /// is shown; a queue already joined is clamped to it.
    pub fn on_book(&mut self, t: TimeMs, shown: Option<i64>) {
        if !self.live_at(t) {
            return;
        }
        match (self.ahead, shown) {
            // Not joined until the book shows its price: an order below the displayed levels
            // joins behind what is displayed there when the price comes to it.
            (None, Some(s)) => self.ahead = Some(s.max(0)),
            (Some(a), Some(s)) if s < a => self.ahead = Some(s.max(0)),
            _ => {}
        }
    }

    /// A trade of the market: how many lots of this order it fills (its price is the order's
    /// limit). A trade at the order's price consumes the queue ahead first; one through it
    /// fills everything left.
    pub fn on_trade(&mut self, model: FillModel, p: &Print) -> i64 {
        if !self.live_at(p.t) {
            return 0;
        }
        // Only a taker on the other side trades against a resting order.
        if p.taker == self.side {
            return 0;
        }
        let at = p.px == self.px;
        let through = self.beyond(p.px);
        if !at && !through {
            return 0;
        }
        let fill = match model {
            FillModel::Touch => self.left,
            FillModel::Queue if through => self.left,
            FillModel::Queue => {
                let ahead = self.ahead.unwrap_or(0);
                let past = p.qty.saturating_sub(ahead);
                self.ahead = Some(ahead.saturating_sub(p.qty).max(0));
                past.clamp(0, self.left)
            }
        };
        self.left -= fill;
        fill
    }
}

/// Replays a hand-made tape against `orders`: at each step the book shown at each order's
/// price (as [`Resting::on_book`] takes it), then the trade, if any. Returns the lots each
/// order filled at each step, for tests and for explaining the model.
pub fn replay(
    model: FillModel,
    orders: &mut [Resting],
    tape: &[(TimeMs, Option<i64>, Option<Print>)],
) -> Vec<Vec<i64>> {
    tape.iter()
        .map(|(t, shown, print)| {
            orders
                .iter_mut()
                .map(|o| {
                    o.on_book(*t, *shown);
                    print.as_ref().map_or(0, |p| o.on_trade(model, p))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A taker sell of `qty` lots at `px`: it trades against resting bids.
    fn sell(t: TimeMs, px: i64, qty: i64) -> Option<Print> {
        Some(Print {
            t,
            px,
            qty,
            taker: Side::Sell,
        })
    }

    #[test]
    fn joining_behind_three_lots_fills_only_at_the_third_lot_traded() {
        let mut o = [Resting::new(Side::Buy, 100, 1, 0, 0)];
        let tape = [
            (0, Some(3), None),
            (1, Some(2), sell(1, 100, 1)),
            (2, Some(1), sell(2, 100, 1)),
            (3, Some(1), sell(3, 100, 1)),
        ];
        let fills = replay(FillModel::Queue, &mut o, &tape);
        assert_eq!(fills, vec![vec![0], vec![0], vec![0], vec![1]]);
        // The touch model fills it at the first trade at its price.
        let mut o = [Resting::new(Side::Buy, 100, 1, 0, 0)];
        let fills = replay(FillModel::Touch, &mut o, &tape);
        assert_eq!(fills, vec![vec![0], vec![1], vec![0], vec![0]]);
    }

    #[test]
    fn a_trade_through_the_level_fills_everything_left() {
        let mut o = [Resting::new(Side::Buy, 100, 5, 0, 0)];
        let tape = [(0, Some(10), None), (1, Some(10), sell(1, 99, 1))];
        assert_eq!(replay(FillModel::Queue, &mut o, &tape)[1], vec![5]);
        assert_eq!(o[0].left, 0);
        // A sell order is filled by a buy through it, not by a sell.
        let mut s = Resting::new(Side::Sell, 100, 2, 0, 0);
        s.on_book(0, Some(0));
        assert_eq!(s.on_trade(FillModel::Queue, &sell(1, 101, 1).unwrap()), 0);
        let buy = Print {
            t: 1,
            px: 101,
            qty: 1,
            taker: Side::Buy,
        };
        assert_eq!(s.on_trade(FillModel::Queue, &buy), 2);
    }

    #[test]
    fn a_trade_at_the_level_fills_only_what_passes_the_queue() {
        let mut o = [Resting::new(Side::Buy, 100, 4, 0, 0)];
        let tape = [(0, Some(3), None), (1, Some(3), sell(1, 100, 5))];
        assert_eq!(replay(FillModel::Queue, &mut o, &tape)[1], vec![2]);
        assert_eq!((o[0].left, o[0].ahead), (2, Some(0)));
    }

    #[test]
    fn cancellations_ahead_do_not_move_the_queue_but_a_smaller_display_clamps_it() {
        let mut o = Resting::new(Side::Buy, 100, 1, 0, 0);
        o.on_book(0, Some(5));
        // More shown later (others joined behind): the queue ahead stays.
        o.on_book(1, Some(8));
        assert_eq!(o.ahead, Some(5));
        // The level now shows 2: at most 2 can be ahead.
        o.on_book(2, Some(2));
        assert_eq!(o.ahead, Some(2));
        // A level the book does not show says nothing.
        o.on_book(3, None);
        assert_eq!(o.ahead, Some(2));
        // Inside the spread: nobody ahead, the next sell at the price fills it.
        o.on_book(4, Some(0));
        assert_eq!(o.on_trade(FillModel::Queue, &sell(5, 100, 1).unwrap()), 1);
    }

    #[test]
    fn entry_latency_keeps_trades_before_arrival_out() {
        // Sent at 0, on the book at 50: the trade at 10 happens before it is there.
        let mut o = [Resting::new(Side::Buy, 100, 1, 0, 50)];
        let tape = [
            (0, Some(0), None),
            (10, Some(0), sell(10, 100, 1)),
            (50, Some(2), None),
            (60, Some(2), sell(60, 100, 2)),
            (70, Some(1), sell(70, 100, 1)),
        ];
        let fills = replay(FillModel::Queue, &mut o, &tape);
        assert_eq!(fills, vec![vec![0], vec![0], vec![0], vec![0], vec![1]]);
        // Without latency it joins at 0 with nobody ahead and the trade at 10 fills it.
        let mut o = [Resting::new(Side::Buy, 100, 1, 0, 0)];
        assert_eq!(replay(FillModel::Queue, &mut o, &tape)[1], vec![1]);
    }

    #[test]
    fn cancel_latency_lets_a_fill_in_before_the_cancel_lands() {
        let mut o = Resting::new(Side::Buy, 100, 1, 0, 0);
        o.on_book(0, Some(0));
        // Cancel sent at 20 with 30 ms latency: it lands at 50.
        o.cancel_at = Some(20 + 30);
        assert_eq!(o.on_trade(FillModel::Queue, &sell(40, 100, 1).unwrap()), 1);
        let mut o = Resting::new(Side::Buy, 100, 1, 0, 0);
        o.on_book(0, Some(0));
        o.cancel_at = Some(50);
        // After it landed nothing fills.
        assert_eq!(o.on_trade(FillModel::Queue, &sell(50, 100, 1).unwrap()), 0);
        assert_eq!(o.left, 1);
    }

    #[test]
    fn fill_models_are_named() {
        assert_eq!("queue".parse::<FillModel>(), Ok(FillModel::Queue));
        assert_eq!(FillModel::Touch.name(), "touch");
        assert!("fifo".parse::<FillModel>().is_err());
    }
}

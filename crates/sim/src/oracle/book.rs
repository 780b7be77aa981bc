//! Money as the log tells it: the balances the model believes in (deposits, then what each
//! durable line reserved, released and booked), and the booking of an intent's trades.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::audit::Detail;
use crate::exchange::Trade;
use crate::model::{Asset, Side, Symbol};

/// Balances from deposits and the lines of each intent, never from the router's portfolio.
/// The model keeps two: one from the lines it predicts as it predicts them, and one from the
/// lines the journal holds, which is all a restarted router knows.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    totals: BTreeMap<String, Decimal>,
    reserved: BTreeMap<String, Decimal>,
    /// Per intent: the asset its reservation holds and how much is still held.
    held: BTreeMap<String, (String, Decimal)>,
}

impl Ledger {
    pub fn deposit(&mut self, asset: &Asset, amount: Decimal) {
        *self.totals.entry(asset.as_str().to_string()).or_default() += amount;
    }

    pub fn total(&self, asset: &Asset) -> Decimal {
        self.totals.get(asset.as_str()).copied().unwrap_or_default()
    }

    pub fn reserved(&self, asset: &Asset) -> Decimal {
        self.reserved
            .get(asset.as_str())
            .copied()
            .unwrap_or_default()
    }

    pub fn available(&self, asset: &Asset) -> Decimal {
        self.total(asset) - self.reserved(asset)
    }

    fn hold_less(&mut self, asset: &str, amount: Decimal) {
        if let Some(r) = self.reserved.get_mut(asset) {
            *r -= amount.min(*r);
        }
    }

    /// What one line of intent `id` moved.
    pub fn apply(&mut self, id: &str, detail: &Detail) {
        match detail {
            Detail::Reserved { asset, amount, .. } => {
                *self.reserved.entry(asset.as_str().to_string()).or_default() += *amount;
                self.held
                    .insert(id.to_string(), (asset.as_str().to_string(), *amount));
            }
            Detail::PartialSuccess { released, .. } | Detail::FailedFinal { released, .. } => {
                if let Some((asset, held)) = self.held.get_mut(id) {
                    *held -= *released;
                    let asset = asset.clone();
                    self.hold_less(&asset, *released);
                }
            }
            Detail::Reconciled {
                booked, released, ..
            } => {
                for (a, d) in booked.iter() {
                    *self.totals.entry(a.as_str().to_string()).or_default() += *d;
                }
                if let Some((asset, _)) = self.held.remove(id) {
                    let spent = booked
                        .iter()
                        .find(|(a, _)| a.as_str() == asset)
                        .map_or(Decimal::ZERO, |(_, d)| -*d);
                    self.hold_less(&asset, spent + *released);
                }
            }
            _ => {}
        }
    }
}

/// What booking an intent's trades gives.
#[derive(Debug)]
pub struct Booking {
    pub qty: Decimal,
    pub avg_price: Decimal,
    pub fee: Decimal,
    /// The first trade's fee asset.
    pub fee_asset: Option<Asset>,
    /// What is left of the reservation: released.
    pub left: Decimal,
    /// How each asset's total moves, by asset name.
    pub moves: Vec<(Asset, Decimal)>,
}

fn add(moves: &mut Vec<(Asset, Decimal)>, asset: &Asset, delta: Decimal) {
    match moves.iter_mut().find(|(a, _)| a == asset) {
        Some((_, d)) => *d += delta,
        None => moves.push((asset.clone(), delta)),
    }
}

/// The trades paid out of a reservation of `held` `asset`: a buy spends the quote (and a fee in
/// it), a sell the base; what comes in is added, a fee in another asset taken from it. `None`
/// when the reservation cannot pay, a trade is another market's, or a total would fall below
/// what is reserved of it.
pub fn booking(
    symbol: &Symbol,
    asset: &Asset,
    held: Decimal,
    trades: &[Trade],
    ledger: &Ledger,
) -> Option<Booking> {
    let mut left = held;
    let mut moves: Vec<(Asset, Decimal)> = Vec::new();
    let (mut qty, mut notional, mut fee) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    // The fee logged is the one in the first trade's fee asset; others show only in `moves`.
    let fee_asset = trades.first().map(|t| t.fee_asset.clone());
    for t in trades {
        if &t.symbol != symbol {
            return None;
        }
        let value = t.qty.checked_mul(t.price)?;
        let (out, out_amount, into, in_amount) = match t.side {
            Side::Buy => (symbol.quote(), value, symbol.base(), t.qty),
            Side::Sell => (symbol.base(), t.qty, symbol.quote(), value),
        };
        let spend = if &t.fee_asset == out {
            out_amount + t.fee
        } else {
            out_amount
        };
        if out != asset || spend > left {
            return None;
        }
        left -= spend;
        add(&mut moves, into, in_amount);
        if &t.fee_asset != out && !t.fee.is_zero() {
            add(&mut moves, &t.fee_asset, -t.fee);
        }
        qty += t.qty;
        notional += value;
        if Some(&t.fee_asset) == fee_asset.as_ref() {
            fee += t.fee;
        }
    }
    for (a, d) in &moves {
        if ledger.total(a) + *d < ledger.reserved(a) {
            return None;
        }
    }
    let spent = held - left;
    if !spent.is_zero() {
        moves.push((asset.clone(), -spent));
    }
    moves.sort_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
    Some(Booking {
        qty,
        avg_price: notional.checked_div(qty).unwrap_or_default(),
        fee,
        fee_asset,
        left,
        moves,
    })
}

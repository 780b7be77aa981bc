//! Balances per asset, and the reservations that stop two intents from spending the same money.
//!
//! A [`Reservation`] can only be made by [`Portfolio::reserve`] and only shrinks through this
//! module, so budget held for an intent is a value the type system tracks, not a convention.
//! Every operation checks before it mutates: an error leaves the portfolio unchanged, and no
//! balance or reservation can go negative.

use rust_decimal::Decimal;
use smallvec::SmallVec;

use crate::exchange::Trade;
use crate::model::{Asset, Side, SmallMap, Symbol};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortfolioError {
    #[error("{asset}: {wanted} wanted but only {available} available")]
    Insufficient {
        asset: Asset,
        wanted: Decimal,
        available: Decimal,
    },
    #[error("{asset}: amount {amount} must be positive")]
    NonPositive { asset: Asset, amount: Decimal },
    #[error("{asset}: {wanted} exceeds the {held} the reservation holds")]
    ExceedsReservation {
        asset: Asset,
        wanted: Decimal,
        held: Decimal,
    },
    #[error("trade {trade} is for {got}, not {expected}")]
    WrongSymbol {
        trade: String,
        expected: Symbol,
        got: Symbol,
    },
    #[error("arithmetic overflow on {0}")]
    Overflow(Asset),
}

/// One asset's balance: `total` owned, of which `reserved` is held for intents in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    pub total: Decimal,
    pub reserved: Decimal,
}

impl Balance {
    pub fn available(&self) -> Decimal {
        self.total - self.reserved
    }
}

/// Budget held for one intent. Not `Clone`: it exists exactly once, and releasing it consumes it.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a dropped reservation is budget that is never released"]
pub struct Reservation {
    asset: Asset,
    amount: Decimal,
}

impl Reservation {
    pub fn asset(&self) -> &Asset {
        &self.asset
    }
    /// What is still held.
    pub fn amount(&self) -> Decimal {
        self.amount
    }
}

/// How a booking moved each asset's total, the reservation's asset first.
pub type Booked = SmallVec<[(Asset, Decimal); 3]>;

/// The router's book of what it owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Portfolio {
    balances: SmallMap<Asset, Balance>,
    last_prices: SmallMap<Symbol, Decimal>,
}

fn add_move<'a>(
    moves: &mut SmallVec<[(&'a Asset, Decimal); 3]>,
    asset: &'a Asset,
    delta: Decimal,
) -> Option<()> {
    match moves.iter_mut().find(|(a, _)| *a == asset) {
        Some((_, d)) => *d = d.checked_add(delta)?,
        None => moves.push((asset, delta)),
    }
    Some(())
}

/// What a buy or sell of `qty` at `price` must hold: a buy holds quote for the price and the
/// fee (charged in quote), a sell holds the base it gives away.
pub fn reservation_need(
    symbol: &Symbol,
    side: Side,
    qty: Decimal,
    price: Decimal,
    fee_rate: Decimal,
) -> Option<(Asset, Decimal)> {
    match side {
        Side::Buy => {
            let notional = qty.checked_mul(price)?;
            let with_fee = notional.checked_add(notional.checked_mul(fee_rate)?)?;
            Some((symbol.quote().clone(), with_fee))
        }
        Side::Sell => Some((symbol.base().clone(), qty)),
    }
}

impl Portfolio {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds funds (a starting balance, a transfer in).
    pub fn deposit(&mut self, asset: &Asset, amount: Decimal) -> Result<(), PortfolioError> {
        if amount <= Decimal::ZERO {
            return Err(PortfolioError::NonPositive {
                asset: asset.clone(),
                amount,
            });
        }
        let b = self.balances.get_or_insert_with(asset, Balance::default);
        b.total = b
            .total
            .checked_add(amount)
            .ok_or_else(|| PortfolioError::Overflow(asset.clone()))?;
        Ok(())
    }

    pub fn balance(&self, asset: &Asset) -> Balance {
        self.balances.get(asset).copied().unwrap_or_default()
    }

    /// Every asset with its balance, in asset order.
    pub fn balances(&self) -> impl Iterator<Item = (&Asset, &Balance)> {
        self.balances.iter()
    }

    /// Sum of all reservations, over all assets (zero when nothing is in flight).
    pub fn reserved_total(&self) -> Decimal {
        self.balances.values().map(|b| b.reserved).sum()
    }

    /// Holds `amount` of `asset`, or refuses when it does not fit the available balance.
    pub fn reserve(
        &mut self,
        asset: &Asset,
        amount: Decimal,
    ) -> Result<Reservation, PortfolioError> {
        if amount <= Decimal::ZERO {
            return Err(PortfolioError::NonPositive {
                asset: asset.clone(),
                amount,
            });
        }
        let available = self.balance(asset).available();
        if amount > available {
            return Err(PortfolioError::Insufficient {
                asset: asset.clone(),
                wanted: amount,
                available,
            });
        }
        let b = self.balances.get_or_insert_with(asset, Balance::default);
        b.reserved += amount; // cannot overflow: reserved + amount <= total
        Ok(Reservation {
            asset: asset.clone(),
            amount,
        })
    }

    /// Returns part of a reservation to the available balance.
    pub fn release(&mut self, r: &mut Reservation, amount: Decimal) -> Result<(), PortfolioError> {
        if amount < Decimal::ZERO {
            return Err(PortfolioError::NonPositive {
                asset: r.asset.clone(),
                amount,
            });
        }
        if amount > r.amount {
            return Err(PortfolioError::ExceedsReservation {
                asset: r.asset.clone(),
                wanted: amount,
                held: r.amount,
            });
        }
        self.hold_less(&r.asset, amount);
        r.amount -= amount;
        Ok(())
    }

    /// Returns all that is left of a reservation; the reservation is gone afterwards.
    pub fn release_all(&mut self, r: Reservation) -> Decimal {
        self.hold_less(&r.asset, r.amount);
        r.amount
    }

    /// Lowers a reservation without a `Reservation` to show for it: the double release that
    /// the type makes impossible elsewhere. Only for the deliberate bugs.
    #[cfg(feature = "mutants")]
    pub(crate) fn release_unchecked(&mut self, asset: &Asset, amount: Decimal) {
        if let Some(b) = self.balances.get_mut(asset) {
            b.reserved -= amount;
        }
    }

    fn hold_less(&mut self, asset: &Asset, amount: Decimal) {
        if let Some(b) = self.balances.get_mut(asset) {
            // A reservation's amount is always part of its asset's `reserved`.
            b.reserved -= amount.min(b.reserved);
        }
    }

    /// Books the trades of one intent: what they spend comes out of its reservation, what they
    /// bring in is added, fees come out of their asset (out of the reservation when it holds it).
    /// All or nothing: everything is checked before anything is booked. Returns how each
    /// asset's total moved (the reservation's asset first): the journal records it, so a
    /// restart can rebuild the balances without the trades.
    pub fn apply_fills(
        &mut self,
        r: &mut Reservation,
        symbol: &Symbol,
        trades: &[Trade],
    ) -> Result<Booked, PortfolioError> {
        // Pass 1: check every trade and total what it moves. Fees in a third asset are rare
        // (a Binance BNB discount); at most a few assets are touched.
        let mut held = r.amount;
        let mut moves: SmallVec<[(&Asset, Decimal); 3]> = SmallVec::new();
        let overflow = |a: &Asset| PortfolioError::Overflow(a.clone());
        for t in trades {
            if &t.symbol != symbol {
                return Err(PortfolioError::WrongSymbol {
                    trade: t.trade_id.to_string(),
                    expected: symbol.clone(),
                    got: t.symbol.clone(),
                });
            }
            let notional = t
                .qty
                .checked_mul(t.price)
                .ok_or_else(|| overflow(symbol.quote()))?;
            let (out_asset, out_amount, in_asset, in_amount) = match t.side {
                Side::Buy => (symbol.quote(), notional, symbol.base(), t.qty),
                Side::Sell => (symbol.base(), t.qty, symbol.quote(), notional),
            };
            let mut spend = out_amount;
            if &t.fee_asset == out_asset {
                spend = spend
                    .checked_add(t.fee)
                    .ok_or_else(|| overflow(out_asset))?;
            }
            if out_asset != &r.asset || spend > held {
                return Err(PortfolioError::ExceedsReservation {
                    asset: out_asset.clone(),
                    wanted: spend,
                    held,
                });
            }
            held -= spend;
            add_move(&mut moves, in_asset, in_amount).ok_or_else(|| overflow(in_asset))?;
            if &t.fee_asset != out_asset && !t.fee.is_zero() {
                add_move(&mut moves, &t.fee_asset, -t.fee).ok_or_else(|| overflow(&t.fee_asset))?;
            }
        }
        let spent = r.amount - held;
        // `moves` never holds the reservation's asset: every trade spends it (checked above),
        // a market's two assets differ, and a fee in it is part of the spend.
        for (asset, delta) in &moves {
            debug_assert!(*asset != &r.asset);
            let b = self.balance(asset);
            let total = b.total.checked_add(*delta).ok_or_else(|| overflow(asset))?;
            if total < b.reserved {
                return Err(PortfolioError::Insufficient {
                    asset: (*asset).clone(),
                    wanted: -*delta,
                    available: b.available(),
                });
            }
        }
        // Pass 2: book it.
        let mut booked = Booked::new();
        if let Some(b) = self.balances.get_mut(&r.asset) {
            b.total -= spent;
            b.reserved -= spent;
        }
        if !spent.is_zero() {
            booked.push((r.asset.clone(), -spent));
        }
        for (asset, delta) in moves {
            let b = self.balances.get_or_insert_with(asset, Balance::default);
            b.total += delta;
            booked.push((asset.clone(), delta));
        }
        r.amount = held;
        Ok(booked)
    }

    /// Moves a total by what the journal says a booking moved it (recovery): checked, and the
    /// total may not fall below zero (recovery rebooks before it holds any reservation again,
    /// which then must fit what is available).
    pub fn rebook(&mut self, asset: &Asset, delta: Decimal) -> Result<(), PortfolioError> {
        let b = self.balances.get_or_insert_with(asset, Balance::default);
        let total = b
            .total
            .checked_add(delta)
            .ok_or_else(|| PortfolioError::Overflow(asset.clone()))?;
        if total < Decimal::ZERO {
            return Err(PortfolioError::Insufficient {
                asset: asset.clone(),
                wanted: -delta,
                available: b.total,
            });
        }
        b.total = total;
        Ok(())
    }

    /// The last price market data gave for a symbol. Own fills do not set it: they are booked
    /// when reconciled, which can be long after they happened (after a restart, say), and an
    /// old trade must not pass for the market now.
    pub fn last_price(&self, symbol: &Symbol) -> Option<Decimal> {
        self.last_prices.get(symbol).copied()
    }

    pub fn set_last_price(&mut self, symbol: &Symbol, price: Decimal) {
        self.last_prices.insert(symbol, price);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OrderId, TradeId};
    use rust_decimal_macros_free::d;

    mod rust_decimal_macros_free {
        pub fn d(s: &str) -> rust_decimal::Decimal {
            s.parse().unwrap()
        }
    }

    fn btc() -> Symbol {
        Symbol::parse("BTC/USDT").unwrap()
    }
    fn usdt() -> Asset {
        Asset::new("USDT").unwrap()
    }
    fn trade(side: Side, price: &str, qty: &str, fee: &str) -> Trade {
        Trade {
            trade_id: TradeId::new("1").unwrap(),
            order_id: OrderId::new("1").unwrap(),
            symbol: btc(),
            side,
            price: d(price),
            qty: d(qty),
            fee: d(fee),
            fee_asset: usdt(),
            t_ms: 0,
        }
    }

    #[test]
    // rule: reservation_non_negative, input_guards
    fn reserve_refuses_what_does_not_fit_and_changes_nothing() {
        let mut p = Portfolio::new();
        p.deposit(&usdt(), d("100")).unwrap();
        let r = p.reserve(&usdt(), d("60")).unwrap();
        let before = p.clone();
        let err = p.reserve(&usdt(), d("40.01")).unwrap_err();
        assert!(matches!(err, PortfolioError::Insufficient { .. }));
        assert_eq!(p, before);
        assert_eq!(p.balance(&usdt()).available(), d("40"));
        assert_eq!(p.release_all(r), d("60"));
        assert_eq!(p.balance(&usdt()).reserved, Decimal::ZERO);
    }

    #[test]
    // rule: reservation_non_negative, input_guards
    fn reserve_refuses_zero_and_negative() {
        let mut p = Portfolio::new();
        p.deposit(&usdt(), d("100")).unwrap();
        assert!(p.reserve(&usdt(), Decimal::ZERO).is_err());
        assert!(p.reserve(&usdt(), d("-1")).is_err());
        assert!(p.deposit(&usdt(), d("-1")).is_err());
    }

    #[test]
    // rule: reservation_non_negative, input_guards
    fn release_more_than_held_is_refused() {
        let mut p = Portfolio::new();
        p.deposit(&usdt(), d("100")).unwrap();
        let mut r = p.reserve(&usdt(), d("10")).unwrap();
        assert!(p.release(&mut r, d("10.5")).is_err());
        p.release(&mut r, d("4")).unwrap();
        assert_eq!(r.amount(), d("6"));
        assert_eq!(p.balance(&usdt()).reserved, d("6"));
        let _ = p.release_all(r);
        assert_eq!(p.balance(&usdt()).reserved, Decimal::ZERO);
    }

    #[test]
    fn buy_fill_spends_price_and_fee_from_the_reservation() {
        let mut p = Portfolio::new();
        p.deposit(&usdt(), d("1000")).unwrap();
        let (asset, need) =
            reservation_need(&btc(), Side::Buy, d("0.01"), d("50100"), d("0.001")).unwrap();
        assert_eq!(need, d("501.501"));
        let mut r = p.reserve(&asset, need).unwrap();
        let booked = p
            .apply_fills(&mut r, &btc(), &[trade(Side::Buy, "50000", "0.01", "0.5")])
            .unwrap();
        assert_eq!(r.amount(), d("1.001"));
        assert_eq!(p.balance(&usdt()).total, d("499.5"));
        assert_eq!(p.balance(&Asset::new("BTC").unwrap()).total, d("0.01"));
        // What the journal records of the booking: each total's move.
        assert_eq!(
            booked.as_slice(),
            &[
                (usdt(), d("-500.5")),
                (Asset::new("BTC").unwrap(), d("0.01"))
            ]
        );
        // A booked trade is not market data.
        assert_eq!(p.last_price(&btc()), None);
        let _ = p.release_all(r);
        assert_eq!(p.reserved_total(), Decimal::ZERO);
    }

    #[test]
    // rule: reservation_non_negative, input_guards
    fn a_fill_beyond_the_reservation_is_refused_whole() {
        // A reservation that forgot the fee cannot pay for the fill: caught, nothing booked.
        let mut p = Portfolio::new();
        p.deposit(&usdt(), d("1000")).unwrap();
        let mut r = p.reserve(&usdt(), d("500")).unwrap();
        let before = p.clone();
        let err = p
            .apply_fills(&mut r, &btc(), &[trade(Side::Buy, "50000", "0.01", "0.5")])
            .unwrap_err();
        assert!(matches!(err, PortfolioError::ExceedsReservation { .. }));
        assert_eq!(p, before);
        assert_eq!(r.amount(), d("500"));
        let _ = p.release_all(r);
    }

    #[test]
    fn sell_fill_spends_base_and_credits_quote_minus_fee() {
        let mut p = Portfolio::new();
        let base = Asset::new("BTC").unwrap();
        p.deposit(&base, d("0.02")).unwrap();
        let mut r = p.reserve(&base, d("0.01")).unwrap();
        p.apply_fills(&mut r, &btc(), &[trade(Side::Sell, "50000", "0.01", "0.5")])
            .unwrap();
        assert_eq!(r.amount(), Decimal::ZERO);
        assert_eq!(p.balance(&base).total, d("0.01"));
        assert_eq!(p.balance(&usdt()).total, d("499.5"));
        let _ = p.release_all(r);
    }

    #[test]
    // rule: balances_match
    fn a_fee_in_base_or_bnb_comes_out_of_its_own_asset() {
        let (btc_a, bnb) = (Asset::new("BTC").unwrap(), Asset::new("BNB").unwrap());
        let mut p = Portfolio::new();
        p.deposit(&usdt(), d("1100")).unwrap();
        p.deposit(&bnb, d("0.001")).unwrap();
        let (asset, need) =
            reservation_need(&btc(), Side::Buy, d("0.02"), d("50100"), d("0.001")).unwrap();
        let mut r = p.reserve(&asset, need).unwrap();
        // One fill paid in BTC, one in BNB.
        let in_base = Trade {
            fee: d("0.00001"),
            fee_asset: btc_a.clone(),
            ..trade(Side::Buy, "50000", "0.01", "0")
        };
        let in_bnb = Trade {
            trade_id: TradeId::new("2").unwrap(),
            fee: d("0.000625"),
            fee_asset: bnb.clone(),
            ..trade(Side::Buy, "50000", "0.01", "0")
        };
        let booked = p.apply_fills(&mut r, &btc(), &[in_base, in_bnb]).unwrap();
        // The position is what filled less the fee taken from it; BNB pays its own.
        assert_eq!(p.balance(&btc_a).total, d("0.01999"));
        assert_eq!(p.balance(&bnb).total, d("0.000375"));
        // The quote pays the price only; the reserved fee is still held, to be released.
        assert_eq!(p.balance(&usdt()).total, d("100"));
        assert_eq!(r.amount(), need - d("1000"));
        assert_eq!(
            booked.as_slice(),
            &[
                (usdt(), d("-1000")),
                (btc_a, d("0.01999")),
                (bnb, d("-0.000625"))
            ]
        );
        let _ = p.release_all(r);
        assert_eq!(p.reserved_total(), Decimal::ZERO);
    }
}

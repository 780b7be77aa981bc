//! Which asset a fill's commission is charged in, and how much: as Binance spot charges it.
//!
//! Binance takes the commission out of what the account *receives*: a buy pays in the base
//! asset (a BTC/USDT buy of 0.01 BTC credits 0.01 BTC less the fee), a sell in the quote asset.
//! An account with "pay fees with BNB" on pays in BNB instead, 25% cheaper, converted at the
//! BNB price, for as long as its free BNB covers a fill's fee; a fill whose BNB fee does not fit
//! falls back to the received asset. Commissions are shown with 8 decimals: every fee here is
//! rounded half up (away from zero) to 8 decimal places, so it is exact on that grid.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::model::{Asset, Side, Symbol};

/// The asset of the discounted fees.
pub const BNB: &str = "BNB";

/// Decimal places of every commission (Binance shows 8).
pub const FEE_DECIMALS: u32 = 8;

/// The BNB price used when none is configured, in each market's quote asset.
pub fn default_bnb_price() -> Decimal {
    Decimal::from(600)
}

/// Which asset the account pays its commissions in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeeMode {
    /// The asset the fill brings in: base for a buy, quote for a sell (Binance's default).
    #[default]
    Received,
    /// BNB at 75% of the rate, converted at the BNB price (in the market's quote asset),
    /// while the free BNB covers a fill's fee; otherwise the received asset.
    Bnb,
}

impl FeeMode {
    /// The name scenario files and the venue's flags use (`received` or `bnb`).
    pub fn name(self) -> &'static str {
        match self {
            FeeMode::Received => "received",
            FeeMode::Bnb => "bnb",
        }
    }

    pub fn parse(s: &str) -> Option<FeeMode> {
        match s {
            "received" => Some(FeeMode::Received),
            "bnb" => Some(FeeMode::Bnb),
            _ => None,
        }
    }
}

/// How the account pays commissions: the mode, and the BNB price in each market's quote asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSettings {
    pub mode: FeeMode,
    pub bnb_price: Decimal,
}

impl Default for FeeSettings {
    fn default() -> Self {
        FeeSettings {
            mode: FeeMode::Received,
            bnb_price: default_bnb_price(),
        }
    }
}

/// One fill's commission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub asset: Asset,
    pub amount: Decimal,
    /// The account pays in BNB but its free BNB did not cover this fill's fee.
    pub bnb_ran_out: bool,
}

/// `x` rounded half up to the commission grid.
pub fn round_fee(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(FEE_DECIMALS, RoundingStrategy::MidpointAwayFromZero)
}

/// The fee in BNB of a fill worth `notional` in quote: 75% of the rate, at `bnb_price`.
pub fn bnb_fee(notional: Decimal, fee_rate: Decimal, bnb_price: Decimal) -> Option<Decimal> {
    let discounted = notional
        .checked_mul(fee_rate)?
        .checked_mul(Decimal::new(75, 2))?;
    Some(round_fee(discounted.checked_div(bnb_price)?))
}

/// The commission of a fill of `qty` at `price` on `symbol`, given the account's free BNB
/// (`bnb` is the BNB asset, `None` only if it could not be named). `None` when the money does
/// not compute (overflow).
#[allow(clippy::too_many_arguments)]
pub fn charge(
    fees: FeeSettings,
    bnb: Option<&Asset>,
    bnb_free: Decimal,
    symbol: &Symbol,
    side: Side,
    qty: Decimal,
    price: Decimal,
    fee_rate: Decimal,
) -> Option<Charge> {
    let notional = qty.checked_mul(price)?;
    let received = || -> Option<(Asset, Decimal)> {
        Some(match side {
            Side::Buy => (symbol.base().clone(), round_fee(qty.checked_mul(fee_rate)?)),
            Side::Sell => (
                symbol.quote().clone(),
                round_fee(notional.checked_mul(fee_rate)?),
            ),
        })
    };
    if let (FeeMode::Bnb, Some(bnb)) = (fees.mode, bnb) {
        if !fee_rate.is_zero() {
            if let Some(fee) = bnb_fee(notional, fee_rate, fees.bnb_price) {
                if fee <= bnb_free {
                    return Some(Charge {
                        asset: bnb.clone(),
                        amount: fee,
                        bnb_ran_out: false,
                    });
                }
            }
            let (asset, amount) = received()?;
            return Some(Charge {
                asset,
                amount,
                bnb_ran_out: true,
            });
        }
    }
    let (asset, amount) = received()?;
    Some(Charge {
        asset,
        amount,
        bnb_ran_out: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }
    fn btc() -> Symbol {
        Symbol::parse("BTC/USDT").unwrap()
    }
    fn bnb() -> Asset {
        Asset::new(BNB).unwrap()
    }

    #[test]
    fn a_buy_pays_in_base_and_a_sell_in_quote() {
        let rate = d("0.001");
        let c = charge(
            FeeSettings::default(),
            Some(&bnb()),
            d("100"),
            &btc(),
            Side::Buy,
            d("0.01"),
            d("50000"),
            rate,
        )
        .unwrap();
        assert_eq!((c.asset.as_str(), c.amount), ("BTC", d("0.00001")));
        let c = charge(
            FeeSettings::default(),
            None,
            Decimal::ZERO,
            &btc(),
            Side::Sell,
            d("0.01"),
            d("50000"),
            rate,
        )
        .unwrap();
        assert_eq!((c.asset.as_str(), c.amount), ("USDT", d("0.5")));
        assert!(!c.bnb_ran_out);
    }

    #[test]
    fn bnb_pays_three_quarters_at_the_bnb_price_then_falls_back() {
        let mode = FeeSettings {
            mode: FeeMode::Bnb,
            bnb_price: d("600"),
        };
        // 500 USDT * 0.001 * 0.75 = 0.375 USDT = 0.000625 BNB.
        let c = charge(
            mode,
            Some(&bnb()),
            d("0.000625"),
            &btc(),
            Side::Buy,
            d("0.01"),
            d("50000"),
            d("0.001"),
        )
        .unwrap();
        assert_eq!((c.asset.as_str(), c.amount), ("BNB", d("0.000625")));
        // One unit short of the fee: the received asset pays, at the full rate.
        let c = charge(
            mode,
            Some(&bnb()),
            d("0.00062499"),
            &btc(),
            Side::Buy,
            d("0.01"),
            d("50000"),
            d("0.001"),
        )
        .unwrap();
        assert_eq!((c.asset.as_str(), c.amount), ("BTC", d("0.00001")));
        assert!(c.bnb_ran_out);
    }

    #[test]
    fn fees_round_half_up_to_eight_decimals() {
        assert_eq!(round_fee(d("0.000000005")), d("0.00000001"));
        assert_eq!(round_fee(d("0.0000000049")), Decimal::ZERO);
        // 0.00123 BTC at 10 bps is 0.00000123: already on the grid.
        assert_eq!(round_fee(d("0.00123") * d("0.001")), d("0.00000123"));
        // A quote fee with more places: 0.00001 * 50000.01 * 0.001 = 0.0005000001.
        assert_eq!(
            round_fee(d("0.00001") * d("50000.01") * d("0.001")),
            d("0.0005")
        );
        // 1/3 BNB-worth rounds to 8 places.
        assert_eq!(
            bnb_fee(d("100"), d("0.001"), d("300")),
            Some(d("0.00025000"))
        );
        assert_eq!(bnb_fee(d("1"), d("0.001"), d("7")), Some(d("0.00010714")));
    }
}

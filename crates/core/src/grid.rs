//! Quantities and prices as integers on a market's grid.
//!
//! A market's lot step and tick fix how many decimal places its quantities and prices can have
//! (Binance: `stepSize` 0.00001 is five, `tickSize` 0.01 two). The router counts an intent's
//! quantity, fills and price cap in those units, and the simulated venue its book's levels:
//! sums and comparisons are integer operations, and a notional (quantity times price) is exact
//! at the two grids' places added. Every operation is checked; an overflow is `None` or a
//! [`GridError`], never a wrap. `Decimal` stays at the seams: intents in, venue reports in,
//! order requests and audit lines out.

use rust_decimal::Decimal;

/// A value the grid cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error("{value} has more than {places} decimal places")]
    OffGrid { value: Decimal, places: u32 },
    #[error("{0} is beyond the grid's integers")]
    Overflow(Decimal),
}

/// The decimal places of one market's quantities and prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    qty_dp: u32,
    px_dp: u32,
}

/// A quantity in units of the grid's quantity places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qty(i128);

/// A price in units of the grid's price places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(i128);

/// Quantity times price, at the two grids' places added: exact, never rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Notional(i128);

/// The decimal places of `x` once its trailing zeros go: 0.00100 has 3, 0.5 has 1, 50 has 0.
pub fn places(x: Decimal) -> u32 {
    x.normalize().scale()
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// `10^k` for `k` in `0..=19`: a rescale is one multiplication (also the audit writer's table).
pub(crate) const POW10: [u64; 20] = {
    let mut p = [1u64; 20];
    let mut k = 1;
    while k < 20 {
        p[k] = p[k - 1] * 10;
        k += 1;
    }
    p
};

/// `x` as an integer count of `10^-dp`; `Err` when it has more places or does not fit.
#[inline]
fn to_units(x: Decimal, dp: u32) -> Result<i128, GridError> {
    let (m, s) = (x.mantissa(), x.scale());
    // Almost every value: a mantissa of 64 bits, a few places apart. A 64-bit number times a
    // 64-bit power of ten always fits an `i128`, and a 64-bit remainder is one instruction.
    if let Ok(m64) = i64::try_from(m) {
        if s <= dp {
            if let Some(&p) = POW10.get((dp - s) as usize) {
                return Ok(i128::from(m64) * i128::from(p));
            }
        } else if let Some(&p) = POW10.get((s - dp) as usize) {
            let abs = m64.unsigned_abs();
            return if abs % p == 0 {
                let q = i128::from(abs / p);
                Ok(if m64 < 0 { -q } else { q })
            } else {
                Err(GridError::OffGrid {
                    value: x,
                    places: dp,
                })
            };
        }
    }
    to_units_wide(x, dp)
}

/// [`to_units`] for any mantissa and any distance of places.
fn to_units_wide(x: Decimal, dp: u32) -> Result<i128, GridError> {
    let (m, s) = (x.mantissa(), x.scale());
    if s <= dp {
        return pow10(dp - s)
            .and_then(|p| m.checked_mul(p))
            .ok_or(GridError::Overflow(x));
    }
    let p = pow10(s - dp).ok_or(GridError::OffGrid {
        value: x,
        places: dp,
    })?;
    if m % p != 0 {
        return Err(GridError::OffGrid {
            value: x,
            places: dp,
        });
    }
    Ok(m / p)
}

/// `units * 10^-dp` without trailing zeros (0.004, not 0.00400: what a message shows),
/// saturating at `Decimal`'s bounds (sums of values read from decimals stay far inside them).
#[inline]
fn to_decimal(units: i128, dp: u32) -> Decimal {
    if let Ok(mut v) = i64::try_from(units) {
        let mut s = if v == 0 { 0 } else { dp };
        while s > 0 && v != 0 && v % 10 == 0 {
            v /= 10;
            s -= 1;
        }
        if let Ok(x) = Decimal::try_new(v, s) {
            return x;
        }
    }
    match Decimal::try_from_i128_with_scale(units, dp) {
        Ok(x) => x.normalize(),
        Err(_) if units < 0 => Decimal::MIN,
        Err(_) => Decimal::MAX,
    }
}

impl Grid {
    /// The grid of a market with lot step `step` and tick `tick`.
    pub fn new(step: Decimal, tick: Decimal) -> Grid {
        Grid {
            qty_dp: places(step),
            px_dp: places(tick),
        }
    }

    /// This grid with at least as many quantity places as `qty` needs: a finer grid holds
    /// every value of the coarser one.
    pub fn fitting_qty(self, qty: Decimal) -> Grid {
        Grid {
            qty_dp: self.qty_dp.max(places(qty)),
            ..self
        }
    }

    /// This grid with at least as many price places as `price` needs.
    pub fn fitting_price(self, price: Decimal) -> Grid {
        Grid {
            px_dp: self.px_dp.max(places(price)),
            ..self
        }
    }

    pub fn qty(self, x: Decimal) -> Result<Qty, GridError> {
        to_units(x, self.qty_dp).map(Qty)
    }

    pub fn price(self, x: Decimal) -> Result<Price, GridError> {
        to_units(x, self.px_dp).map(Price)
    }

    pub fn qty_decimal(self, q: Qty) -> Decimal {
        to_decimal(q.0, self.qty_dp)
    }

    pub fn price_decimal(self, p: Price) -> Decimal {
        to_decimal(p.0, self.px_dp)
    }

    pub fn notional(self, q: Qty, p: Price) -> Option<Notional> {
        // Two 64-bit factors (every real order) cannot overflow 128 bits: one multiplication.
        if let (Ok(a), Ok(b)) = (i64::try_from(q.0), i64::try_from(p.0)) {
            return Some(Notional(i128::from(a) * i128::from(b)));
        }
        q.0.checked_mul(p.0).map(Notional)
    }

    /// The least notional of this grid that is at least `x`: `n >= x` exactly when
    /// `n >= notional_at_least(x)`. `None` when it does not fit.
    pub fn notional_at_least(self, x: Decimal) -> Option<Notional> {
        let dp = self.qty_dp.checked_add(self.px_dp)?;
        match to_units(x, dp) {
            Ok(n) => return Some(Notional(n)),
            Err(GridError::Overflow(_)) => return None,
            // More places than the grid's (so `x` is not a whole number of units): rounded up.
            Err(GridError::OffGrid { .. }) => {}
        }
        let p = pow10(x.scale().checked_sub(dp)?)?;
        Some(Notional(x.mantissa().div_euclid(p) + 1))
    }
}

/// The checked arithmetic of a value on one grid (a sum or difference stays on it).
macro_rules! grid_ops {
    ($($t:ident),*) => {$(
        impl $t {
            pub const ZERO: $t = $t(0);

            pub fn checked_add(self, o: $t) -> Option<$t> {
                self.0.checked_add(o.0).map($t)
            }

            pub fn checked_sub(self, o: $t) -> Option<$t> {
                self.0.checked_sub(o.0).map($t)
            }

            pub fn is_positive(self) -> bool {
                self.0 > 0
            }
        }
    )*};
}
grid_ops!(Qty, Price);

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn places_ignore_trailing_zeros() {
        for (x, n) in [
            ("0.00100", 3),
            ("0.5", 1),
            ("50", 0),
            ("0", 0),
            ("0.000", 0),
            ("-1.25", 2),
            ("0.0000000000000000000000000001", 28),
        ] {
            assert_eq!(places(d(x)), n, "{x}");
        }
    }

    #[test]
    fn values_on_the_grid_round_trip_and_others_are_refused() {
        let g = Grid::new(d("0.00001"), d("0.01"));
        for x in [
            "0.0015", "0.00150", "12", "0", "-3.00001", "0.00001", "120.000", "0.000",
        ] {
            let q = g.qty(d(x)).unwrap();
            assert_eq!(g.qty_decimal(q), d(x), "{x}");
            // Written without trailing zeros.
            assert_eq!(g.qty_decimal(q).to_string(), d(x).normalize().to_string());
        }
        assert_eq!(
            g.qty(d("0.000015")),
            Err(GridError::OffGrid {
                value: d("0.000015"),
                places: 5
            })
        );
        assert_eq!(
            g.price(d("40000.125")).map(|p| p.0),
            Err(GridError::OffGrid {
                value: d("40000.125"),
                places: 2
            })
        );
        assert_eq!(g.price(d("40000.120")).unwrap().0, 4_000_012);
        // A finer grid holds the coarser one's values.
        let fine = g.fitting_qty(d("0.000015")).fitting_price(d("0.001"));
        assert_eq!(
            fine.qty_decimal(fine.qty(d("0.000015")).unwrap()),
            d("0.000015")
        );
        assert_eq!(fine.price(d("1.5")).unwrap().0, 1_500);
        assert_eq!(fine.fitting_qty(d("1")), fine);
    }

    #[test]
    fn the_fast_conversion_agrees_with_the_wide_one() {
        let mantissas = [
            0i128,
            1,
            -7,
            10,
            120,
            1_500,
            -4_000_012,
            i64::MAX as i128,
            i64::MIN as i128,
            (i64::MAX as i128) * 10,
            79_228_162_514_264_337_593_543_950_335,
        ];
        for m in mantissas {
            for scale in 0..=28 {
                let x = Decimal::from_i128_with_scale(m, scale);
                for dp in 0..=28 {
                    assert_eq!(to_units(x, dp), to_units_wide(x, dp), "{x} at {dp}");
                }
            }
        }
    }

    #[test]
    // rule: input_guards
    fn overflow_is_an_error_never_a_wrap() {
        let g = Grid::new(
            d("0.0000000000000000000000000001"),
            d("0.0000000000000000000000000001"),
        );
        let big = Decimal::MAX;
        assert_eq!(g.qty(big), Err(GridError::Overflow(big)));
        let q = g.qty(d("1000")).unwrap();
        let p = g.price(d("1000000")).unwrap();
        assert_eq!(g.notional(q, p), None);
        assert_eq!(Qty(i128::MAX).checked_add(Qty(1)), None);
        assert_eq!(Qty(i128::MIN).checked_sub(Qty(1)), None);
        assert_eq!(g.notional_at_least(d("1")), None);
        assert_eq!(to_decimal(i128::MAX, 0), Decimal::MAX);
        assert_eq!(to_decimal(i128::MIN, 3), Decimal::MIN);
    }

    #[test]
    // rule: min_notional
    fn notional_comparisons_agree_with_decimal_arithmetic() {
        let grids = [
            Grid::new(d("0.00001"), d("0.01")),
            Grid::new(d("0.5"), d("0.05")),
            Grid::new(d("1"), d("10")),
        ];
        let mins = ["5", "10.000001", "0", "0.0000000000001", "7.5", "-2", "100"];
        for g in grids {
            for qm in [0i64, 1, 3, 7, 150, 99_999, 1_000_001] {
                for pm in [1i64, 5, 40_000, 4_000_012] {
                    let q = Decimal::new(qm, g.qty_dp);
                    let p = Decimal::new(pm, g.px_dp);
                    let n = g.notional(g.qty(q).unwrap(), g.price(p).unwrap()).unwrap();
                    for m in mins {
                        let want = q * p >= d(m);
                        let got = n >= g.notional_at_least(d(m)).unwrap();
                        assert_eq!(got, want, "{q} * {p} >= {m}");
                    }
                }
            }
        }
    }
}

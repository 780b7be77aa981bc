//! Router settings and per-market trading rules.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::model::{Symbol, Tif};

/// Upper bounds of the settings and inputs. Past them a router would wait for ages, retry
/// without end or run its timers into the end of time; [`RouterConfig::validate`] refuses
/// settings beyond them, and the router treats a `now` beyond [`MAX_TIME_MS`] as that bound.
pub mod limits {
    use rust_decimal::Decimal;

    /// `max_retries`.
    pub const MAX_RETRIES: u32 = 100;
    /// `backoff_ms`, `backoff_max_ms`, `request_timeout_ms`, `poll_interval_ms`: one day.
    pub const MAX_WAIT_MS: u64 = 86_400_000;
    /// `recv_window_ms`: Binance's largest `recvWindow` (60 s) plus a minute of clock skew.
    pub const MAX_RECV_WINDOW_MS: u64 = 120_000;
    /// `order_timeout_ms`: a week.
    pub const MAX_ORDER_TIMEOUT_MS: u64 = 604_800_000;
    /// Times: about 31,700 years of milliseconds, far from where `u64` arithmetic saturates.
    pub const MAX_TIME_MS: u64 = 1_000_000_000_000_000;
    /// Amounts, prices, quantities, grid sizes and minimum notionals: 10^15.
    pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);
    /// Order-rate limits: how many, and the most placements one may count.
    pub const MAX_ORDER_LIMITS: usize = 8;
    /// `backoff_jitter_bps`: at most the whole backoff (10000 basis points).
    pub const MAX_JITTER_BPS: u64 = 10_000;
    pub const MAX_ORDER_LIMIT_COUNT: u32 = 1_000_000;
    /// The longest a venue's rate-limit hold is believed: Binance bans last three days at most.
    pub const MAX_HOLD_MS: u64 = 3 * 86_400_000;
    /// Slippage and fees, in basis points: below 100%.
    pub const MAX_BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);
}

/// A venue's trading rules for one market, as published by e.g. Binance's `exchangeInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketRules {
    /// Price grid (PRICE_FILTER tickSize).
    pub tick_size: Decimal,
    /// Quantity grid (LOT_SIZE stepSize).
    pub step_size: Decimal,
    /// The venue's own minimum notional; the router uses the larger of this and its own.
    pub min_notional: Decimal,
    /// Taker fee in basis points, charged in the quote asset; reserved with the price.
    pub fee_bps: Decimal,
}

impl Default for MarketRules {
    /// Binance spot BTC/USDT.
    fn default() -> Self {
        MarketRules {
            tick_size: Decimal::new(1, 2),
            step_size: Decimal::new(1, 5),
            min_notional: Decimal::ZERO,
            fee_bps: Decimal::TEN,
        }
    }
}

/// A venue's limit on new orders: at most `count` placements in any `window_ms` (Binance's
/// `ORDERS` rate limits in `exchangeInfo`). The router paces its placements under every one it
/// is given, so a well-behaved run never draws a 429 for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLimit {
    pub count: u32,
    pub window_ms: u64,
}

/// The router's configuration. Defaults are the design note's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubles each retry up to `backoff_max_ms`.
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    pub tif: Tif,
    /// Limit price cap from the intent's reference price.
    pub slippage_bps: Decimal,
    /// Minimum `qty * price` in the quote asset.
    pub min_notional: Decimal,
    /// A request without reply after this long is treated as lost (its outcome unknown).
    pub request_timeout_ms: u64,
    /// The venue's receive window plus clock skew: a placement sent at `t` can no longer
    /// execute after `t + recv_window_ms`, so only then does "not found" mean "never placed".
    pub recv_window_ms: u64,
    /// How often a resting GTC order is polled.
    pub poll_interval_ms: u64,
    /// A GTC order still open this long after it was sent is cancelled.
    pub order_timeout_ms: u64,
    /// Rules for markets not listed in `markets`.
    pub default_rules: MarketRules,
    pub markets: BTreeMap<Symbol, MarketRules>,
    /// The venue's order-rate limits to pace placements under (none: no pacing).
    pub order_limits: Vec<OrderLimit>,
    /// Jitter of a retry's backoff, in basis points of it (0, the default: none). The backoff
    /// before attempt `k + 1` is shortened by up to this share, by a draw of the seeded
    /// generator [`backoff_jitter`] describes, so many intents refused together (a rate limit,
    /// a venue outage) do not all come back in the same millisecond.
    pub backoff_jitter_bps: u32,
    /// The jitter generator's seed: jitter is a pure function of it, the intent id and the
    /// attempt, so it is the same on every replay and after a restart.
    pub backoff_seed: u64,
    /// A deliberate bug, for proving that the checks catch it.
    #[cfg(feature = "mutants")]
    pub mutant: Option<super::mutant::Mutant>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            max_retries: 3,
            backoff_ms: 400,
            backoff_max_ms: 30_000,
            tif: Tif::Ioc,
            slippage_bps: Decimal::from(20),
            min_notional: Decimal::from(5),
            request_timeout_ms: 2_000,
            recv_window_ms: 5_000,
            poll_interval_ms: 1_000,
            order_timeout_ms: 30_000,
            default_rules: MarketRules::default(),
            markets: BTreeMap::new(),
            order_limits: Vec::new(),
            backoff_jitter_bps: 0,
            backoff_seed: 0,
            #[cfg(feature = "mutants")]
            mutant: None,
        }
    }
}

/// A setting that would make the router unsafe or stuck.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config `{field}`: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

/// The backoff before attempt `next` (2 or later) of the intent `intent_id`: `base` (the
/// doubling schedule's value) less its jitter. With `jitter_bps` 0 it is `base`. Otherwise a
/// 64-bit draw `x = splitmix64(seed ^ fnv1a64(intent_id) ^ next * 0x9E3779B97F4A7C15)` picks
/// `u = x % 10001` (0 to 10000), and the backoff is `base - floor(base * jitter_bps * u /
/// 10^8)`: between `base * (1 - jitter_bps / 10^4)` and `base`, never more than the plain
/// schedule. A pure function (no state, no order of draws), so the router, a restart, the audit
/// checker and an independent model all get the same value.
pub fn backoff_jitter(base: u64, jitter_bps: u32, seed: u64, intent_id: &str, next: u32) -> u64 {
    if jitter_bps == 0 || base == 0 {
        return base;
    }
    let mut z = seed
        ^ crate::model::fnv1a64(intent_id.as_bytes())
        ^ u64::from(next).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64's output step.
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = u128::from(z % 10_001);
    let cut = u128::from(base) * u128::from(jitter_bps) * u / 100_000_000;
    base - u64::try_from(cut).unwrap_or(base).min(base)
}

impl RouterConfig {
    pub fn rules(&self, symbol: &Symbol) -> MarketRules {
        self.markets
            .get(symbol)
            .copied()
            .unwrap_or(self.default_rules)
    }

    /// Refuses settings that would make the router unsafe, stuck, or wait without bound (see
    /// [`limits`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        use limits::*;
        let err = |field, message: String| Err(ConfigError { field, message });
        let within = |field, v: u64, min: u64, max: u64| {
            if v < min || v > max {
                err(field, format!("{v} is outside {min}..={max}"))
            } else {
                Ok(())
            }
        };
        let amount = |field, v: Decimal, positive: bool| {
            if v < Decimal::ZERO || (positive && v.is_zero()) || v > MAX_AMOUNT {
                let low = if positive { "above 0" } else { "at least 0" };
                err(field, format!("{v} must be {low} and at most {MAX_AMOUNT}"))
            } else {
                Ok(())
            }
        };
        let bps = |field, v: Decimal| {
            if v < Decimal::ZERO || v >= MAX_BPS {
                err(field, format!("{v} must be in 0..10000 (basis points)"))
            } else {
                Ok(())
            }
        };
        let max_retries = super::mutant::max_retries_bound(self);
        if self.max_retries > max_retries {
            return err(
                "max_retries",
                format!("{} is above {max_retries}", self.max_retries),
            );
        }
        within("backoff_ms", self.backoff_ms, 0, MAX_WAIT_MS)?;
        within("backoff_max_ms", self.backoff_max_ms, 0, MAX_WAIT_MS)?;
        within(
            "request_timeout_ms",
            self.request_timeout_ms,
            1,
            MAX_WAIT_MS,
        )?;
        within("poll_interval_ms", self.poll_interval_ms, 1, MAX_WAIT_MS)?;
        within("recv_window_ms", self.recv_window_ms, 0, MAX_RECV_WINDOW_MS)?;
        within(
            "order_timeout_ms",
            self.order_timeout_ms,
            0,
            MAX_ORDER_TIMEOUT_MS,
        )?;
        if self.backoff_max_ms < self.backoff_ms {
            return err(
                "backoff_max_ms",
                format!(
                    "{} must be at least backoff_ms {}",
                    self.backoff_max_ms, self.backoff_ms
                ),
            );
        }
        bps("slippage_bps", self.slippage_bps)?;
        within(
            "backoff_jitter_bps",
            u64::from(self.backoff_jitter_bps),
            0,
            MAX_JITTER_BPS,
        )?;
        if self.order_limits.len() > MAX_ORDER_LIMITS {
            return err(
                "order_limits",
                format!(
                    "{} limits; at most {MAX_ORDER_LIMITS}",
                    self.order_limits.len()
                ),
            );
        }
        for l in &self.order_limits {
            within(
                "order_limits",
                u64::from(l.count),
                1,
                u64::from(MAX_ORDER_LIMIT_COUNT),
            )?;
            within("order_limits", l.window_ms, 1, MAX_WAIT_MS)?;
        }
        amount("min_notional", self.min_notional, false)?;
        for r in std::iter::once(&self.default_rules).chain(self.markets.values()) {
            amount("tick_size", r.tick_size, true)?;
            amount("step_size", r.step_size, true)?;
            amount("min_notional", r.min_notional, false)?;
            bps("fee_bps", r.fee_bps)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod jitter_tests {
    use super::backoff_jitter;

    #[test]
    // rule: retry_policy
    fn jitter_shortens_within_its_share_and_is_a_pure_function() {
        assert_eq!(backoff_jitter(800, 0, 1, "a", 2), 800);
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..200u32 {
            let id = format!("i{k}");
            let b = backoff_jitter(800, 2_500, 9, &id, 2);
            // At most a quarter off, never longer than the plain schedule.
            assert!((600..=800).contains(&b), "{b}");
            assert_eq!(b, backoff_jitter(800, 2_500, 9, &id, 2));
            seen.insert(b);
        }
        // Intents spread out: many distinct waits, not one.
        assert!(seen.len() > 100, "{}", seen.len());
        // Another seed or attempt draws anew.
        assert_ne!(
            (0..20)
                .map(|k| backoff_jitter(800, 10_000, 1, &format!("i{k}"), 2))
                .collect::<Vec<_>>(),
            (0..20)
                .map(|k| backoff_jitter(800, 10_000, 2, &format!("i{k}"), 2))
                .collect::<Vec<_>>()
        );
        // The largest backoff does not overflow: at most all of it is cut.
        let _ = backoff_jitter(u64::MAX, 10_000, 3, "x", 9);
    }
}

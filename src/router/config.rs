//! Router settings (SPEC section 2) and per-market trading rules.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::model::{Symbol, Tif};

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

impl RouterConfig {
    pub fn rules(&self, symbol: &Symbol) -> MarketRules {
        self.markets
            .get(symbol)
            .copied()
            .unwrap_or(self.default_rules)
    }

    /// Whether the deliberate bug `m` is switched on; always false without the feature.
    #[cfg(feature = "mutants")]
    pub(crate) fn has(&self, m: super::mutant::Mutant) -> bool {
        self.mutant == Some(m)
    }
    #[cfg(not(feature = "mutants"))]
    #[inline(always)]
    pub(crate) fn has(&self, _: super::mutant::Mutant) -> bool {
        false
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, message: &str| {
            Err(ConfigError {
                field,
                message: message.to_string(),
            })
        };
        if self.slippage_bps < Decimal::ZERO || self.slippage_bps >= Decimal::from(10_000) {
            return err("slippage_bps", "must be in 0..10000");
        }
        if self.min_notional < Decimal::ZERO {
            return err("min_notional", "must not be negative");
        }
        if self.request_timeout_ms == 0 || self.poll_interval_ms == 0 {
            return err(
                "request_timeout_ms",
                "timeouts and poll interval must be positive",
            );
        }
        if self.backoff_max_ms < self.backoff_ms {
            return err("backoff_max_ms", "must be at least backoff_ms");
        }
        for r in std::iter::once(&self.default_rules).chain(self.markets.values()) {
            if r.tick_size <= Decimal::ZERO {
                return err("tick_size", "must be positive");
            }
            if r.step_size <= Decimal::ZERO {
                return err("step_size", "must be positive");
            }
            if r.fee_bps < Decimal::ZERO || r.fee_bps >= Decimal::from(10_000) {
                return err("fee_bps", "must be in 0..10000");
            }
            if r.min_notional < Decimal::ZERO {
                return err("min_notional", "must not be negative");
            }
        }
        Ok(())
    }
}

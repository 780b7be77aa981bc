//! The arithmetic of docs/router.md, written out plainly: caps, lots, notionals, reservations,
//! backoffs and client order ids. Nothing here calls the router's grid, rounding or backoff code;
//! every value is a `Decimal` or an integer computed the obvious way.

use rust_decimal::Decimal;

use crate::model::{Asset, Side, Symbol};
use crate::router::{MarketRules, RouterConfig};

/// The router's settings the rules read, copied once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_retries: u32,
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    pub tif: crate::model::Tif,
    pub slippage_bps: Decimal,
    pub min_notional: Decimal,
    pub request_timeout_ms: u64,
    pub recv_window_ms: u64,
    pub poll_interval_ms: u64,
    pub order_timeout_ms: u64,
    pub default_rules: MarketRules,
    pub markets: Vec<(Symbol, MarketRules)>,
}

impl Settings {
    pub fn from_config(cfg: &RouterConfig) -> Settings {
        Settings {
            max_retries: cfg.max_retries,
            backoff_ms: cfg.backoff_ms,
            backoff_max_ms: cfg.backoff_max_ms,
            tif: cfg.tif,
            slippage_bps: cfg.slippage_bps,
            min_notional: cfg.min_notional,
            request_timeout_ms: cfg.request_timeout_ms,
            recv_window_ms: cfg.recv_window_ms,
            poll_interval_ms: cfg.poll_interval_ms,
            order_timeout_ms: cfg.order_timeout_ms,
            default_rules: cfg.default_rules,
            markets: cfg.markets.iter().map(|(s, r)| (s.clone(), *r)).collect(),
        }
    }

    /// A market's rules: its own, else the default ones.
    pub fn rules(&self, symbol: &Symbol) -> MarketRules {
        self.markets
            .iter()
            .find(|(s, _)| s == symbol)
            .map_or(self.default_rules, |(_, r)| *r)
    }

    /// The larger of the router's and the market's minimum notional.
    pub fn min_notional(&self, rules: &MarketRules) -> Decimal {
        if rules.min_notional > self.min_notional {
            rules.min_notional
        } else {
            self.min_notional
        }
    }

    /// The wait before attempt `attempt + 1`: `backoff_ms * 2^(attempt-1)`, capped. Doubled one
    /// step at a time in a loop, so no shift or power helper is involved.
    pub fn backoff_before_next(&self, attempt: u32) -> u64 {
        let mut wait = self.backoff_ms;
        let mut k = 1;
        while k < attempt && wait < self.backoff_max_ms {
            wait = wait.saturating_mul(2);
            k += 1;
        }
        wait.min(self.backoff_max_ms)
    }
}

/// `x` rounded down to a multiple of `step` (positive `x` and `step`).
pub fn round_down(x: Decimal, step: Decimal) -> Decimal {
    x - x % step
}

/// `x` rounded up to a multiple of `step`.
pub fn round_up(x: Decimal, step: Decimal) -> Decimal {
    let r = x % step;
    if r.is_zero() {
        x
    } else {
        x - r + step
    }
}

/// One basis point as a fraction.
fn bps(n: Decimal) -> Option<Decimal> {
    n.checked_div(Decimal::from(10_000))
}

/// The slippage cap of docs/router.md: buy `ref * (1 + s)` rounded down to the tick, sell
/// `ref * (1 - s)` rounded up. `None` when the product overflows.
pub fn cap(
    side: Side,
    ref_price: Decimal,
    slippage_bps: Decimal,
    tick: Decimal,
) -> Option<Decimal> {
    let s = bps(slippage_bps)?;
    match side {
        Side::Buy => Some(round_down(ref_price.checked_mul(Decimal::ONE + s)?, tick)),
        Side::Sell => Some(round_up(ref_price.checked_mul(Decimal::ONE - s)?, tick)),
    }
}

/// The fee as a fraction of the notional.
pub fn fee_rate(rules: &MarketRules) -> Decimal {
    bps(rules.fee_bps).unwrap_or_default()
}

/// What `qty` at `price` holds: a buy the quote for the notional and its fee, a sell the base.
pub fn need(
    symbol: &Symbol,
    side: Side,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
) -> Option<(Asset, Decimal)> {
    match side {
        Side::Buy => {
            let notional = qty.checked_mul(price)?;
            let amount = notional.checked_add(notional.checked_mul(fee)?)?;
            Some((symbol.quote().clone(), amount))
        }
        Side::Sell => Some((symbol.base().clone(), qty)),
    }
}

/// Whether `x` has no more decimal places than `step` (a venue report on the lot's places).
pub fn on_places(x: Decimal, step: Decimal) -> bool {
    x.normalize().scale() <= step.normalize().scale()
}

/// `or-<16 hex of FNV-1a 64 of the intent id>-<attempt>` (docs/audit-log.md).
pub fn client_order_id(intent_id: &str, attempt: u32) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in intent_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("or-{h:016x}-{attempt}")
}

//! The fixed workload of `order-router bench`, so users can measure on their own hardware.
//!
//! Four markets (BTC, ETH, SOL, XRP against USDT, with Binance-like ticks and lots) with books
//! 5 levels deep, each moving a little
//! every 100 ms; one intent every millisecond, round robin over the markets, 60% buys and 40%
//! sells of 20 to 200 USDT at the current mid; and a realistic fault mix per request: 0.5% lost
//! requests, 0.5% lost replies, 0.3% server errors, 0.5% rate limits, 1% latency spikes of
//! 300 ms, 1% rejects, 3% partial fills, 1% requotes of 5 bps, 2% duplicate and 0.2% late
//! deliveries. Rows are generated lazily: the workload itself takes no memory.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::faults::FaultProfile;
use super::scenario::{Row, RowKind, Scenario, Spec};
use crate::decision::Intent;
use crate::exchange::sim::VenueConfig;
use crate::model::{Asset, IntentId, Interner, Side, Symbol};
use crate::router::RouterConfig;

/// Symbol, base asset, starting mid, and Binance-like tick and lot step (as decimal places).
const MARKETS: [(&str, &str, i64, u32, u32); 4] = [
    ("BTC/USDT", "BTC", 50_000, 2, 5),
    ("ETH/USDT", "ETH", 3_000, 2, 4),
    ("SOL/USDT", "SOL", 150, 2, 3),
    ("XRP/USDT", "XRP", 1, 4, 1),
];

/// The workload's markets, one shared allocation each (with their assets) for settings and
/// rows alike, so lookups by symbol or asset compare pointers.
fn markets() -> &'static [Symbol] {
    static MARKET_SYMBOLS: std::sync::OnceLock<Vec<Symbol>> = std::sync::OnceLock::new();
    MARKET_SYMBOLS.get_or_init(|| {
        let mut names = Interner::default();
        MARKETS
            .iter()
            .filter_map(|(s, _, _, _, _)| Symbol::parse(s).ok())
            .map(|s| names.symbol(&s))
            .collect()
    })
}

/// Settings of the workload (its rows come from [`rows`]).
pub fn scenario() -> Scenario {
    let mut venue = VenueConfig {
        levels: 5,
        // The workload's intents finish within seconds (IOC orders, a few retries and queries
        // with backoff), so two minutes of history is far beyond any query the router can
        // still make; keeping every order instead would grow the venue with the run.
        order_retention_ms: Some(120_000),
        ..VenueConfig::default()
    };
    let mut router = RouterConfig::default();
    router.default_rules.min_notional = venue.default_rules.min_notional;
    for (s, (_, _, _, tick_dp, step_dp)) in markets().iter().zip(MARKETS) {
        let mut rules = venue.default_rules;
        rules.tick_size = Decimal::new(1, tick_dp);
        rules.step_size = Decimal::new(1, step_dp);
        venue.markets.insert(s.clone(), rules);
        router.markets.insert(s.clone(), rules);
    }
    with_light_mix(router, venue)
}

/// A scenario of these settings with the workload's light fault mix and no rows.
pub(crate) fn with_light_mix(router: RouterConfig, venue: VenueConfig) -> Scenario {
    Scenario {
        router,
        venue,
        latency_ms: 5,
        restart_ms: super::scenario::DEFAULT_RESTART_MS,
        seed: Some(1),
        stream: Default::default(),
        profile: FaultProfile {
            request_lost_bps: 50,
            response_lost_bps: 50,
            server_error_bps: 30,
            rate_limited_bps: 50,
            latency_bps: 100,
            latency_spike_ms: 300,
            reject_bps: 100,
            partial_bps: 300,
            requote_bps: 100,
            requote_move_bps: 5,
            duplicate_delivery_bps: 200,
            late_delivery_bps: 20,
            ..FaultProfile::default()
        },
        rows: Vec::new(),
        expects: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The workload's rows for `intents` intents, in time order.
pub fn rows(intents: u64) -> impl Iterator<Item = Row> {
    let symbols = markets();
    let mut mids: Vec<Decimal> = MARKETS.iter().map(|m| Decimal::from(m.2)).collect();
    let steps: Vec<u32> = MARKETS.iter().map(|m| m.4).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0xbe7c_4000);
    let big = Decimal::from(1_000_000_000_000i64);
    let mut start: Vec<Row> = symbols[..1]
        .iter()
        .map(|s| balance(s.quote(), big))
        .collect();
    for s in symbols {
        start.push(balance(s.base(), Decimal::from(1_000_000_000i64)));
    }
    for (i, s) in symbols.iter().enumerate() {
        start.push(price(0, s, mids[i]));
    }
    let mut n: u64 = 0;
    let mut t: u64 = 0;
    let mut pending: Vec<Row> = Vec::new();
    start.into_iter().chain(std::iter::from_fn(move || {
        if let Some(r) = pending.pop() {
            return Some(r);
        }
        if n >= intents {
            return None;
        }
        t += 1;
        if t.is_multiple_of(100) {
            // Every market moves up to 2 bps.
            for (i, s) in symbols.iter().enumerate() {
                let bps = rng.random_range(-2..=2i64);
                mids[i] = (mids[i] * (Decimal::ONE + Decimal::new(bps, 4))).round_dp(4);
                pending.push(price(t, s, mids[i]));
            }
        }
        let i = (n % symbols.len() as u64) as usize;
        let side = if rng.random_bool(0.6) {
            Side::Buy
        } else {
            Side::Sell
        };
        let notional = Decimal::from(rng.random_range(20..=200u32));
        let qty = (notional / mids[i])
            .round_dp(steps[i])
            .max(Decimal::new(1, steps[i]));
        let id = IntentId::new(&format!("w{n}")).ok()?;
        n += 1;
        pending.push(intent_row(id, t, &symbols[i], side, qty, mids[i])?);
        pending.reverse();
        pending.pop()
    }))
}

pub(crate) fn balance(asset: &Asset, amount: Decimal) -> Row {
    Row {
        line: 0,
        t_ms: 0,
        kind: RowKind::Balance {
            asset: asset.clone(),
            amount,
        },
    }
}

/// A row delivering one intent once, at `t`.
pub(crate) fn intent_row(
    id: IntentId,
    t: u64,
    symbol: &Symbol,
    side: Side,
    qty: Decimal,
    ref_price: Decimal,
) -> Option<Row> {
    let intent = Intent::new(id, t, symbol.clone(), side, qty, ref_price).ok()?;
    let spec = Spec {
        symbol: symbol.clone(),
        side,
        qty: qty.normalize(),
        ref_price: ref_price.normalize(),
    };
    Some(Row {
        line: 0,
        t_ms: t,
        kind: RowKind::Intent {
            intent,
            spec,
            deliveries: 1,
            gap_ms: 0,
        },
    })
}

fn price(t: u64, symbol: &Symbol, mid: Decimal) -> Row {
    Row {
        line: 0,
        t_ms: t,
        kind: RowKind::Price {
            symbol: symbol.clone(),
            mid,
            spread_bps: Decimal::TWO,
            depth: Decimal::from(1_000_000),
        },
    }
}

/// The hot-path workload of `benches/router.rs` and `examples/hot_path.rs`: a router over a
/// large USDT balance and the always-filling in-memory venue with BTC/USDT at 50,000, which
/// remembers its latest 1,000 finished orders.
pub fn hot_path() -> (
    crate::router::Router,
    crate::exchange::memory::MemoryExchange,
    Symbol,
) {
    let symbol = Symbol::parse("BTC/USDT").expect("a valid symbol literal");
    // The symbol's own quote asset: lookups by it compare pointers, not names.
    let usdt = symbol.quote().clone();
    let big = Decimal::from(1_000_000_000_000i64);
    let mut portfolio = crate::portfolio::Portfolio::new();
    portfolio
        .deposit(&usdt, big)
        .expect("a positive deposit into an empty portfolio");
    // A long-running venue forgets old finished orders; one that kept all of them would make
    // the measurement about its own growing tables.
    let mut venue = crate::exchange::memory::MemoryExchange::new().with_history(1_000);
    venue.deposit(&usdt, big);
    venue.set_price(&symbol, Decimal::from(50_000));
    let router = crate::router::Router::new(RouterConfig::default(), portfolio)
        .expect("the default config is valid");
    (router, venue, symbol)
}

/// The `n`th intent of the hot-path workload: a buy of 0.001 BTC at 50,000, filled at once.
pub fn hot_path_intent(symbol: &Symbol, n: u64) -> Intent {
    let id = IntentId::numbered("bench-", n);
    Intent::new(
        id,
        n,
        symbol.clone(),
        Side::Buy,
        Decimal::new(1, 3),
        Decimal::from(50_000),
    )
    .expect("a valid intent")
}

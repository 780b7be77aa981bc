//! Random scenarios for fuzzing, written as scenario CSV so any of them can be replayed, edited
//! and kept as a regression.
//!
//! Swarm testing: besides the market and the intents, each seed draws which fault kinds are on
//! at all and how likely each is, so rare mixes (only lost replies, only requotes with partial
//! fills...) get explored instead of every run seeing the same average blend.

use std::fmt::Write as _;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::faults::KINDS;

/// How faults are drawn for generated scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMix {
    /// No faults at all.
    None,
    /// Every kind on, rarely.
    Light,
    /// Every kind on, often.
    Rough,
    /// Per seed: each kind on or off, at its own probability.
    Swarm,
}

impl FaultMix {
    pub fn parse(s: &str) -> Option<FaultMix> {
        match s {
            "none" => Some(FaultMix::None),
            "light" => Some(FaultMix::Light),
            "rough" => Some(FaultMix::Rough),
            "swarm" => Some(FaultMix::Swarm),
            _ => None,
        }
    }
}

/// Fault kinds that `fault` rows can schedule: every kind but the bus's own.
const ROW_KINDS: &[&str] = KINDS.split_at(8).0;

struct Market {
    symbol: &'static str,
    base: &'static str,
    mid: Decimal,
    /// Typical depth per level, in base units.
    depth: Decimal,
}

/// A scenario for `seed` with `intents` intents, as CSV text.
pub fn generate(seed: u64, intents: u32, mix: FaultMix) -> String {
    // A stream of its own: the scenario must not shift when the simulator draws differently.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_5ce7_a410);
    let mut out = String::from("t_ms,action,symbol,side,qty,price,params\n");
    let _ = writeln!(
        out,
        "# generated: seed {seed}, {intents} intents, faults {mix:?}"
    );

    let tif = if rng.random_bool(0.35) { "GTC" } else { "IOC" };
    let _ = write!(
        out,
        "0,config,,,,,seed={seed};tif={tif};max_retries={};backoff_ms={};slippage_bps={};latency_ms={};order_timeout_ms={};poll_interval_ms={}",
        rng.random_range(0..=4u32),
        rng.random_range(50..=800u32),
        rng.random_range(5..=60u32),
        rng.random_range(1..=30u32),
        rng.random_range(1_000..=20_000u32),
        rng.random_range(200..=2_000u32),
    );
    for (i, kind) in KINDS.iter().enumerate() {
        let bps = match mix {
            FaultMix::None => 0,
            FaultMix::Light => 100,
            FaultMix::Rough => [800, 800, 600, 600, 500, 500, 1_500, 500, 3_000, 1_000][i],
            FaultMix::Swarm => {
                if rng.random_bool(0.5) {
                    rng.random_range(50..=2_500u32)
                } else {
                    0
                }
            }
        };
        if bps > 0 {
            let _ = write!(out, ";p_{kind}={bps}");
        }
    }
    if mix != FaultMix::None {
        let _ = write!(
            out,
            ";latency_spike_ms={};requote_move_bps={}",
            rng.random_range(100..=9_000u32),
            rng.random_range(1..=80u32)
        );
    }
    out.push('\n');

    let mut markets = vec![Market {
        symbol: "BTC/USDT",
        base: "BTC",
        mid: Decimal::from(rng.random_range(20_000..=60_000u32)),
        // Thin books on half the seeds, so GTC orders rest half-filled.
        depth: if rng.random_bool(0.5) {
            Decimal::new(rng.random_range(1..=50i64), 4)
        } else {
            Decimal::new(rng.random_range(10..=2_000i64), 4)
        },
    }];
    if rng.random_bool(0.5) {
        markets.push(Market {
            symbol: "ETH/USDT",
            base: "ETH",
            mid: Decimal::from(rng.random_range(1_000..=4_000u32)),
            depth: Decimal::new(rng.random_range(20..=400_000i64), 5),
        });
    }
    let _ = writeln!(
        out,
        "0,balance,USDT,,{},,",
        rng.random_range(200..=50_000u32)
    );
    for m in &markets {
        if rng.random_bool(0.7) {
            let _ = writeln!(
                out,
                "0,balance,{},,{},,",
                m.base,
                Decimal::new(rng.random_range(1..=20_000i64), 3)
            );
        }
        let _ = writeln!(
            out,
            "0,price,{},,,{},spread_bps={};depth={}",
            m.symbol,
            m.mid,
            rng.random_range(1..=10u32),
            m.depth
        );
    }

    // Time line: price moves and intents interleaved over the horizon.
    let horizon: u64 = 2_000 + u64::from(intents) * rng.random_range(200..=2_000u64);
    let mut t = 0u64;
    let mut events: Vec<(u64, String)> = Vec::new();
    while t < horizon {
        t += rng.random_range(300..=5_000u64);
        let i = rng.random_range(0..markets.len());
        let m = &mut markets[i];
        let step_bps = rng.random_range(-60..=60i64);
        let moved = m.mid * (Decimal::ONE + Decimal::new(step_bps, 4));
        m.mid = moved.round_dp(2).max(Decimal::ONE);
        events.push((
            t,
            format!(
                "{t},price,{},,,{},spread_bps={};depth={}",
                m.symbol,
                m.mid,
                rng.random_range(1..=10u32),
                m.depth
            ),
        ));
    }
    // Intents take a reference near the market level, sometimes off the lot grid.
    for n in 0..intents {
        let at = rng.random_range(0..=horizon);
        let m = &markets[rng.random_range(0..markets.len())];
        let side = if rng.random_bool(0.65) { "buy" } else { "sell" };
        let notional = Decimal::from(rng.random_range(2..=600u32));
        let mut qty = (notional / m.mid).round_dp(5);
        if rng.random_bool(0.2) {
            qty += Decimal::new(rng.random_range(1..=9i64), 8); // off the lot grid
        }
        if qty.is_zero() {
            qty = Decimal::new(1, 5);
        }
        let drift = Decimal::new(rng.random_range(-40..=40i64), 4);
        let reference = (m.mid * (Decimal::ONE + drift))
            .round_dp(2)
            .max(Decimal::ONE);
        let mut params = format!("id=i{n}");
        if rng.random_bool(0.3) {
            let _ = write!(
                params,
                ";deliveries={};gap_ms={}",
                rng.random_range(2..=4u32),
                rng.random_range(0..=300u32)
            );
        }
        events.push((
            at,
            format!("{at},intent,{},{side},{qty},{reference},{params}", m.symbol),
        ));
        if mix != FaultMix::None && rng.random_bool(0.25) {
            let kind = ROW_KINDS[rng.random_range(0..ROW_KINDS.len())];
            let extra = match kind {
                "latency" => format!(";ms={}", rng.random_range(100..=9_000u32)),
                "partial" => format!(";ratio=0.{}", rng.random_range(1..=9u32)),
                "requote" => format!(";bps={}", rng.random_range(1..=80u32)),
                _ => String::new(),
            };
            events.push((
                at,
                format!(
                    "{at},fault,,,,,kind={kind};count={}{extra}",
                    rng.random_range(1..=3u32)
                ),
            ));
        }
    }
    events.sort_by_key(|e| e.0);
    for (_, row) in events {
        out.push_str(&row);
        out.push('\n');
    }
    // The canary's trap: one intent is always delivered again long after everything ended.
    if intents > 0 {
        out.push_str(&late_duplicate(&out, horizon));
    }
    out.push_str("0,expect,,,,,reserved=0\n");
    out
}

/// A copy of the first intent row, delivered two minutes after the horizon.
fn late_duplicate(csv: &str, horizon: u64) -> String {
    csv.lines()
        .find(|l| l.split(',').nth(1) == Some("intent"))
        .and_then(|l| l.split_once(','))
        .map(|(_, rest)| format!("{},{rest}\n", horizon + 120_000))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::parse;

    #[test]
    fn every_generated_scenario_parses_and_is_a_pure_function_of_the_seed() {
        for seed in 0..200 {
            for mix in [FaultMix::None, FaultMix::Swarm, FaultMix::Rough] {
                let csv = generate(seed, 8, mix);
                assert_eq!(csv, generate(seed, 8, mix));
                let s = parse("gen.csv", csv.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{csv}"));
                assert_eq!(s.seed, Some(seed));
            }
        }
        assert_ne!(
            generate(1, 8, FaultMix::Swarm),
            generate(2, 8, FaultMix::Swarm)
        );
    }

    #[test]
    fn swarm_seeds_switch_fault_kinds_on_and_off() {
        let mut on = [0u32; KINDS.len()];
        for seed in 0..100 {
            let csv = generate(seed, 4, FaultMix::Swarm);
            for (i, k) in KINDS.iter().enumerate() {
                if csv.contains(&format!("p_{k}=")) {
                    on[i] += 1;
                }
            }
        }
        // Each kind is on for some seeds and off for others.
        assert!(on.iter().all(|&n| n > 10 && n < 90), "{on:?}");
    }
}

//! Plain exponential backoff against the adaptive pieces (jitter, pacing under the venue's
//! order limits), on rate-limited venues: requests the venue refused (wasted) and time to fill.
//! `cargo run --release --example backoff_compare`; docs/router.md has the table it printed.
//!
//! Two workloads: a burst of intents against a venue that allows `LIMIT` orders per `WINDOW_MS`
//! (a 429 with `Retry-After` until the window frees), through the synchronous drive loop; and
//! the simulator on `scenarios/rate_limit_hold.csv` and on generated seeds with the rate-limit
//! fault raised, where the 429s are random faults rather than load.

use std::collections::{BTreeMap, VecDeque};

use order_router::audit::read;
use order_router::driver::drive_timed;
use order_router::exchange::memory::MemoryExchange;
use order_router::exchange::{Exchange, ExchangeError, Order, Trade};
use order_router::model::{Asset, ClientOrderId, IntentId, OrderId, Side, Symbol, TimeMs};
use order_router::portfolio::Portfolio;
use order_router::router::{Input, OrderLimit, OrderRequest, Router, RouterConfig, State};
use order_router::sim::gen::{generate, FaultMix};
use order_router::sim::scenario::{parse, Scenario};
use order_router::sim::{run, RunOptions};
use order_router::Intent;
use rust_decimal::Decimal;

const LIMIT: u32 = 10;
const WINDOW_MS: u64 = 1_000;
const BURST: u32 = 40;

/// A venue that refuses placements beyond `LIMIT` per `WINDOW_MS` with HTTP 429.
struct Limited {
    inner: MemoryExchange,
    placed: VecDeque<TimeMs>,
    refused: u64,
}

impl Exchange for Limited {
    fn place(&mut self, now: TimeMs, r: &OrderRequest) -> Result<Order, ExchangeError> {
        while self.placed.front().is_some_and(|t| t + WINDOW_MS <= now) {
            self.placed.pop_front();
        }
        if self.placed.len() >= LIMIT as usize {
            self.refused += 1;
            let free_at = self.placed[0] + WINDOW_MS;
            return Err(ExchangeError::RateLimited {
                retry_after_ms: free_at - now,
            });
        }
        self.placed.push_back(now);
        self.inner.place(now, r)
    }
    fn fetch_order(
        &mut self,
        now: TimeMs,
        s: &Symbol,
        c: &ClientOrderId,
    ) -> Result<Order, ExchangeError> {
        self.inner.fetch_order(now, s, c)
    }
    fn fetch_trades(
        &mut self,
        now: TimeMs,
        s: &Symbol,
        o: &OrderId,
    ) -> Result<Vec<Trade>, ExchangeError> {
        self.inner.fetch_trades(now, s, o)
    }
    fn cancel(
        &mut self,
        now: TimeMs,
        s: &Symbol,
        c: &ClientOrderId,
    ) -> Result<Order, ExchangeError> {
        self.inner.cancel(now, s, c)
    }
}

/// Mean and largest time from `NEW` to `FILLED`, and how many intents filled, in a log.
fn fill_times(log: &[u8]) -> (f64, u64, usize) {
    let mut start = BTreeMap::new();
    let mut times = Vec::new();
    for r in read(log).into_iter().flatten() {
        if r.event.is_some() {
            continue;
        }
        match r.state {
            State::New => {
                start.insert(r.intent_id.clone(), r.t_ms);
            }
            State::Filled => {
                if let Some(t0) = start.get(&r.intent_id) {
                    times.push(r.t_ms - t0);
                }
            }
            _ => {}
        }
    }
    let n = times.len();
    let mean = if n == 0 {
        0.0
    } else {
        times.iter().sum::<u64>() as f64 / n as f64
    };
    (mean, times.iter().copied().max().unwrap_or(0), n)
}

fn burst(name: &str, jitter_bps: u32, pace: bool) {
    let symbol = Symbol::parse("BTC/USDT").expect("symbol");
    let usdt = Asset::new("USDT").expect("asset");
    let cfg = RouterConfig {
        max_retries: 10,
        backoff_jitter_bps: jitter_bps,
        backoff_seed: 7,
        order_limits: if pace {
            vec![OrderLimit {
                count: LIMIT,
                window_ms: WINDOW_MS,
            }]
        } else {
            Vec::new()
        },
        ..RouterConfig::default()
    };
    let mut portfolio = Portfolio::new();
    portfolio
        .deposit(&usdt, Decimal::from(1_000_000))
        .expect("deposit");
    let mut inner = MemoryExchange::with_rules(cfg.default_rules);
    inner.deposit(&usdt, Decimal::from(1_000_000));
    inner.set_price(&symbol, Decimal::from(50_000));
    let mut venue = Limited {
        inner,
        placed: VecDeque::new(),
        refused: 0,
    };
    let mut router = Router::new(cfg, portfolio).expect("config");
    let inputs = (0..BURST).map(|k| {
        let id = IntentId::new(&format!("b{k}")).expect("id");
        let i = Intent::new(
            id,
            0,
            symbol.clone(),
            Side::Buy,
            Decimal::new(1, 3),
            Decimal::from(50_000),
        )
        .expect("intent");
        (0, Input::Deliver(i))
    });
    let mut log = Vec::new();
    drive_timed(&mut router, &mut venue, inputs, &mut log);
    let (mean, max, filled) = fill_times(&log);
    let failed = read(&log)
        .into_iter()
        .flatten()
        .filter(|r| r.state == State::FailedFinal && r.event.is_none())
        .count();
    println!(
        "| burst of {BURST}, venue {LIMIT} orders / {WINDOW_MS} ms | {name} | {} | {} of {BURST} ({failed} failed) | {mean:.0} / {max} |",
        venue.refused,
        filled
    );
}

fn simulated(name: &str, label: &str, scenarios: &[(u64, Scenario)], jitter_bps: u32) {
    let (mut refused, mut sum, mut n, mut max) = (0u64, 0f64, 0usize, 0u64);
    let mut intents = 0;
    for (seed, s) in scenarios {
        let mut s = s.clone();
        s.router.backoff_jitter_bps = jitter_bps;
        s.router.backoff_seed = *seed;
        let report = run(
            &s,
            &RunOptions {
                seed: *seed,
                keep_audit: true,
                ..RunOptions::default()
            },
        );
        assert!(
            report.violation.is_none(),
            "seed {seed}: {:?}",
            report.violation
        );
        let k = order_router::sim::FAULT_KINDS
            .iter()
            .position(|k| *k == "rate_limited")
            .expect("a fault kind");
        refused += report.faults[k];
        let (mean, m, filled) = fill_times(&report.audit);
        sum += mean * filled as f64;
        n += filled;
        max = max.max(m);
        intents += report.intents;
    }
    let mean = if n == 0 { 0.0 } else { sum / n as f64 };
    println!("| {label} | {name} | {refused} | {n} of {intents} | {mean:.0} / {max} |");
}

fn main() {
    println!("| workload | backoff | requests refused (429) | intents filled | time to fill, ms (mean / max) |");
    println!("| --- | --- | --- | --- | --- |");
    burst("exponential", 0, false);
    burst("exponential + jitter 100%", 10_000, false);
    burst("paced to the limits + jitter 100%", 10_000, true);
    let hold = std::fs::read("scenarios/rate_limit_hold.csv").expect("run from the repository");
    let hold = vec![(0, parse("rate_limit_hold.csv", &hold).expect("parses"))];
    simulated("exponential", "scenarios/rate_limit_hold.csv", &hold, 0);
    simulated(
        "exponential + jitter 100%",
        "scenarios/rate_limit_hold.csv",
        &hold,
        10_000,
    );
    let generated: Vec<(u64, Scenario)> = (0..300)
        .map(|seed| {
            let csv = generate(seed, 8, FaultMix::Swarm) + "0,config,,,,,p_rate_limited=2000\n";
            (seed, parse("gen.csv", csv.as_bytes()).expect("parses"))
        })
        .collect();
    let label = "fuzz seeds 0..300, rate-limit faults at 20%";
    simulated("exponential", label, &generated, 0);
    simulated("exponential + jitter 100%", label, &generated, 10_000);
}

//! The stack fuzz mode: the whole live path under simulation. One seed runs the real live
//! driver ([`crate::live::driver::run_on`]) with the real Binance client (request building,
//! signing, the error table, response parsing, rate-limit holds) against the real venue's
//! sans-IO handler ([`Venue::handle`]) with its seeded faults, on tokio's paused clock, over a
//! simulated disk ([`disk`]) that crashes at seeded points, tearing the journal's last line;
//! after each crash the driver restarts on the same journal. No sockets, no wall clock: the
//! same seed gives the same journal and venue record, byte for byte.
//!
//! After the last run it checks what must hold: every intent ended, no client order id was
//! placed twice, every venue order is one the journal sent, the venue's balances equal the
//! portfolio the journal recovers, and no trading request went out during a `Retry-After`
//! hold the venue announced.

pub mod disk;
pub mod net;

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use tokio::sync::mpsc;

use crate::decision::{Delivery, Intent};
use crate::live::client::Client;
use crate::live::driver::{self, DriverError, LiveConfig, LiveEnd};
use crate::live::mutant::AdapterMutant;
use crate::model::{Asset, IntentId, Side, Symbol, TimeMs};
use crate::portfolio::Portfolio;
use crate::router::{Mutant, Replay, Router, RouterConfig};
use crate::venue::{fault_profile, Credentials, Faults, Limits, Setup, Venue};
use disk::{SimDisk, SimStore};
use net::{SimClock, SimTransport, Wire};

/// Where simulated time starts (Unix milliseconds).
pub const START_MS: TimeMs = 1_700_000_000_000;
/// The most simulated time one run may take before it is a livelock.
pub const RUN_LIMIT_MS: u64 = 3_600_000;
/// How often a driver may fail its setup calls on a faulty venue (and be started again).
const MAX_SETUP_FAILURES: u32 = 20;

/// What one stack seed runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StackOptions {
    pub intents: u32,
    /// A deliberate bug of the router (honoured only with the `mutants` feature).
    pub mutant: Option<Mutant>,
    /// A deliberate bug of the adapter (honoured only with the `mutants` feature).
    pub adapter_mutant: Option<AdapterMutant>,
}

/// A check that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackViolation {
    pub check: &'static str,
    pub detail: String,
}

impl std::fmt::Display for StackViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.check, self.detail)
    }
}

/// One stack seed's outcome.
#[derive(Debug, Clone, Default)]
pub struct StackRun {
    pub seed: u64,
    pub violation: Option<StackViolation>,
    /// The journal as the last run left it.
    pub journal: Vec<u8>,
    /// The venue's record: one line per request it handled.
    pub record: Vec<u8>,
    /// Driver runs (1 + restarts), crashes, and crashes that left a torn last line.
    pub runs: u32,
    pub crashes: u32,
    pub torn: u32,
    /// Requests the venue handled, and faults it injected by kind.
    pub requests: u64,
    pub faults: BTreeMap<String, u64>,
}

/// The checks, by name.
pub const INTENT_OPEN: &str = "stack_intent_open";
pub const PLACED_TWICE: &str = "stack_placed_twice";
pub const UNJOURNALED: &str = "stack_order_not_journaled";
pub const BALANCES: &str = "stack_balances_disagree";
pub const DRIVER_ERROR: &str = "stack_driver_error";
pub const LIVELOCK: &str = "stack_livelock";
pub const FILTER_REFUSED: &str = "stack_filter_refused";

fn violation(check: &'static str, detail: impl Into<String>) -> StackViolation {
    StackViolation {
        check,
        detail: detail.into(),
    }
}

/// Runs one seed of the stack mode.
pub fn run_seed(seed: u64, opts: &StackOptions) -> StackRun {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build();
    match runtime {
        Ok(rt) => rt.block_on(run(seed, opts)),
        Err(e) => StackRun {
            seed,
            violation: Some(violation(DRIVER_ERROR, format!("no runtime: {e}"))),
            ..StackRun::default()
        },
    }
}

fn symbol(s: &str) -> Option<Symbol> {
    Symbol::parse(s).ok()
}

/// The intents of a seed: small buys and sells of the default venue's two markets, priced
/// around their mid (some beyond reach), delivered over the first seconds.
fn intents(seed: u64, n: u32, rng: &mut ChaCha8Rng) -> Vec<(u64, Intent)> {
    // Quantities finer than any lot the seed draws, some below any minimum notional: the
    // router must round them to the lot and refuse what is too small, as the rules it read say.
    let markets = [("BTC/USDT", 50_000i64, 5u32), ("ETH/USDT", 3_000, 4)];
    let mut at = 0;
    (0..n)
        .filter_map(|i| {
            let (name, mid, scale) = markets[rng.random_range(0..markets.len())];
            let side = if rng.random_bool(0.5) {
                Side::Buy
            } else {
                Side::Sell
            };
            let qty = Decimal::new(rng.random_range(10..=2_000), scale);
            // Within 0.3% of the mid, either way: some caps are out of the market's reach.
            let bps = rng.random_range(-30i64..=30);
            let price = Decimal::from(mid) * Decimal::new(10_000 + bps, 4);
            at += rng.random_range(0..1_500);
            let id = IntentId::new(&format!("stack-{seed}-{i}")).ok()?;
            let intent = Intent::new(id, START_MS + at, symbol(name)?, side, qty, price).ok()?;
            Some((at, intent))
        })
        .collect()
}

/// Per-market rules drawn from the seed (a stream of its own): ticks, lots, minimum notionals
/// and fees other than the default market's, as `config` rows.
fn seeded_rules(seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0511_1e5e_ed0f_0001);
    let mut pick = |options: &[&'static str]| options[rng.random_range(0..options.len())];
    let btc = format!(
        "0,config,BTC/USDT,,,,tick_size={};step_size={};venue_min_notional={};fee_bps={}\n",
        pick(&["0.01", "0.1", "1"]),
        pick(&["0.00001", "0.0001", "0.001"]),
        pick(&["5", "10", "12.5"]),
        pick(&["10", "7.5", "2"]),
    );
    let eth = format!(
        "0,config,ETH/USDT,,,,tick_size={};step_size={};venue_min_notional={};fee_bps={}\n",
        pick(&["0.01", "0.05"]),
        pick(&["0.0001", "0.001", "0.01"]),
        pick(&["5", "7"]),
        pick(&["10", "7.5"]),
    );
    btc + &eth
}

/// How one driver run is to end.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Crash in the `n`-th journal sync of the run.
    AtSync(u64),
    /// Crash after this much simulated time.
    After(u64),
    /// Run to the end.
    ToEnd,
}

async fn run(seed: u64, opts: &StackOptions) -> StackRun {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x57ac_4f00_d5ee_d000);
    let faults = match rng.random_range(0..8) {
        0 => Faults::None,
        1..=3 => Faults::Light,
        _ => Faults::Rough,
    };
    let mut out = StackRun {
        seed,
        ..StackRun::default()
    };
    // Market rules of the seed's own, unlike the parser's defaults: an adapter that misreads a
    // filter of exchangeInfo places orders the venue refuses (`FILTER_REFUSED`).
    let text = format!("{}{}", crate::venue::DEFAULT_SCENARIO, seeded_rules(seed));
    let scenario = match crate::sim::scenario::parse("venue", text.as_bytes()) {
        Ok(s) => s,
        Err(e) => {
            out.violation = Some(violation(DRIVER_ERROR, e.to_string()));
            return out;
        }
    };
    let (key, secret) = ("stack-key", "stack-secret");
    let credentials = |out: &mut StackRun| match Credentials::new(key, secret) {
        Ok(c) => Some(c),
        Err(e) => {
            out.violation = Some(violation(DRIVER_ERROR, e.to_string()));
            None
        }
    };
    let Some(venue_keys) = credentials(&mut out) else {
        return out;
    };
    // A third of the seeds run under a weight limit small enough to be reached: the venue's
    // own 429s, with a `Retry-After` to the end of its minute, and its bans.
    let limits = match rng.random_range(0..3) {
        0 => Limits {
            weight_per_minute: rng.random_range(60..=150),
            ..Limits::default()
        },
        _ => Limits::default(),
    };
    let clock = Arc::new(SimClock::new(START_MS));
    let venue = Venue::new(
        Setup {
            scenario,
            credentials: venue_keys,
            seed,
            profile: fault_profile(faults),
            limits,
            speed: 1,
            stall_ms: 3_000,
        },
        START_MS,
    );
    let wire = Wire::new(venue);
    let intents = Arc::new(intents(seed, opts.intents.max(1), &mut rng));
    let mut router = RouterConfig {
        request_timeout_ms: 1_000,
        ..RouterConfig::default()
    };
    if let Some(m) = opts.mutant {
        router.set_mutant(m);
    }
    let cfg = LiveConfig {
        journal: "sim/journal.jsonl".into(),
        observe: false,
        budget: Vec::new(),
        router,
        needs: Vec::new(),
        truncate_damaged: false,
    };
    let disk = SimDisk::default();
    let crashes = rng.random_range(0..=3u32);
    let mut plans: std::collections::VecDeque<Plan> = (0..crashes)
        .map(|_| match rng.random_bool(0.5) {
            true => Plan::AtSync(rng.random_range(1..=12)),
            false => Plan::After(rng.random_range(20..4_000)),
        })
        .collect();
    plans.push_back(Plan::ToEnd);
    let latency_ms = rng.random_range(1..=40);
    let mut end: Option<LiveEnd> = None;
    let mut gave_up = 0;
    while let Some(plan) = plans.pop_front() {
        out.runs += 1;
        let Some(keys) = credentials(&mut out) else {
            return out;
        };
        let transport = SimTransport::new(wire.clone(), clock.clone(), latency_ms, 1_000);
        let mut client = Client::over(
            "sim://venue",
            keys,
            cfg.router.recv_window_ms,
            Arc::new(transport),
            clock.clone(),
        );
        if let Some(m) = opts.adapter_mutant {
            client.set_mutant(m);
        }
        let client = Arc::new(client);
        let (tx, rx) = mpsc::channel::<Delivery>(1024);
        // The upstream delivers every intent again after a restart (it knows nothing of the
        // journal): the router's intake must take each once.
        let feed = intents.clone();
        let feed_clock = clock.clone();
        let feeder = tokio::spawn(async move {
            for (at, intent) in feed.iter() {
                let due = START_MS + at;
                let now = crate::live::transport::Clock::now_ms(&*feed_clock);
                if due > now {
                    tokio::time::sleep(Duration::from_millis(due - now)).await;
                }
                if tx.send(Delivery::Intent(intent.clone())).await.is_err() {
                    return;
                }
            }
        });
        disk.crash_at_sync(match plan {
            Plan::AtSync(n) => Some(n),
            _ => None,
        });
        let limit = match plan {
            Plan::After(ms) => ms,
            _ => RUN_LIMIT_MS,
        };
        let store = SimStore::new(disk.clone());
        let run = driver::run_on(
            client,
            cfg.clone(),
            store,
            rx,
            std::future::pending(),
            |_| {},
            |_| {},
        );
        let ended = tokio::time::timeout(Duration::from_millis(limit), run).await;
        feeder.abort();
        let crashed = match (ended, plan) {
            (Ok(Ok(e)), _) => {
                end = Some(e);
                false
            }
            (Ok(Err(DriverError::Journal { .. })), _) if disk.is_down() => true,
            // The venue failed the setup calls too often (rough faults lose them): the
            // operator starts the driver again.
            (Ok(Err(DriverError::Venue(_))), _) if gave_up < MAX_SETUP_FAILURES => {
                gave_up += 1;
                plans.push_front(plan);
                // As an operator would, after a minute: a rate-limit window or a ban ends.
                tokio::time::sleep(Duration::from_millis(60_000)).await;
                continue;
            }
            (Ok(Err(e)), _) => {
                out.violation = Some(violation(DRIVER_ERROR, e.to_string()));
                break;
            }
            (Err(_), Plan::After(_)) => true,
            (Err(_), _) => {
                out.violation = Some(violation(
                    LIVELOCK,
                    format!("a run went on for {RUN_LIMIT_MS} ms of simulated time"),
                ));
                break;
            }
        };
        if crashed {
            out.crashes += 1;
            if disk.crash(&mut rng).torn {
                out.torn += 1;
            }
            // The process takes a while to come back; requests it left in flight land meanwhile.
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..3_000))).await;
            end = None;
        }
    }
    // Stray requests of crashed runs land before the venue is read.
    tokio::time::sleep(Duration::from_millis(10_000)).await;
    out.journal = disk.journal();
    out.record = wire
        .record
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    count_record(&mut out);
    if out.violation.is_none() {
        out.violation = check(&wire, &disk, &cfg.router, intents.len(), end.as_ref());
    }
    out
}

/// Requests and injected faults, from the venue's record; and the first placement the venue
/// refused for its filters or precision without a fault asking it to: the router rounds to the
/// rules the adapter read from exchangeInfo, so such a refusal means the adapter misread them.
fn count_record(out: &mut StackRun) {
    for line in out.record.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        out.requests += 1;
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let code = v.get("code").and_then(|c| c.as_i64());
        let faulted = v
            .get("faults")
            .and_then(|f| f.as_array())
            .is_some_and(|f| !f.is_empty());
        if out.violation.is_none()
            && matches!(code, Some(-1013 | -1111))
            && !faulted
            && v.get("path").and_then(|p| p.as_str()) == Some("/api/v3/order")
        {
            out.violation = Some(violation(
                FILTER_REFUSED,
                format!(
                    "the venue refused a placement ({}) for the market's rules: {}",
                    code.unwrap_or_default(),
                    String::from_utf8_lossy(line)
                ),
            ));
        }
        for f in v
            .get("faults")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(name) = f.as_str() {
                *out.faults.entry(name.to_string()).or_default() += 1;
            }
        }
    }
}

/// The funding the journal started with, as the driver wrote it.
fn funding(bytes: &[u8]) -> Result<Portfolio, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut p = Portfolio::new();
    for (asset, amount) in v
        .get("balances")
        .and_then(|b| b.as_object())
        .into_iter()
        .flatten()
    {
        let asset = Asset::new(asset).map_err(|e| e.to_string())?;
        let amount: Decimal = amount
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|e: rust_decimal::Error| e.to_string())?;
        p.deposit(&asset, amount).map_err(|e| e.to_string())?;
    }
    Ok(p)
}

fn check(
    wire: &Wire,
    disk: &SimDisk,
    config: &RouterConfig,
    intents: usize,
    end: Option<&LiveEnd>,
) -> Option<StackViolation> {
    if let Some((name, detail)) = wire
        .violations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .first()
    {
        return Some(violation(name, detail.clone()));
    }
    let Some(end) = end else {
        return Some(violation(DRIVER_ERROR, "the last run did not end"));
    };
    let ended: u64 = end.states.values().sum();
    if ended != intents as u64 || end.stopped {
        return Some(violation(
            INTENT_OPEN,
            format!(
                "{ended} of {intents} intents known at the end: {:?}",
                end.states
            ),
        ));
    }
    // What the journal says, read back as a restart would read it.
    let journal = disk.journal();
    let mut sent = std::collections::BTreeSet::new();
    for line in journal.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if v.get("state").and_then(|s| s.as_str()) == Some("SENT") && v.get("event").is_none() {
            if let Some(c) = v.get("client_order_id").and_then(|c| c.as_str()) {
                sent.insert(c.to_string());
            }
        }
    }
    let store = SimStore::new(disk.clone());
    let funding = match crate::live::store::Store::read_funding(&store)
        .map_err(|e| e.to_string())
        .and_then(|b| funding(&b))
    {
        Ok(f) => f,
        Err(e) => return Some(violation(DRIVER_ERROR, format!("funding: {e}"))),
    };
    let rec = match Router::recover(
        config.clone(),
        funding,
        Replay::default(),
        &journal,
        START_MS,
    ) {
        Ok(r) => r,
        Err(e) => return Some(violation(DRIVER_ERROR, format!("recovery: {e}"))),
    };
    if !rec.resumed.is_empty() {
        return Some(violation(
            INTENT_OPEN,
            format!("the journal leaves {} intents open", rec.resumed.len()),
        ));
    }
    let venue = wire.venue.lock().unwrap_or_else(PoisonError::into_inner);
    let ex = venue.exchange();
    let mut placed: BTreeMap<&str, u32> = BTreeMap::new();
    for o in ex.orders() {
        let coid = o.client_order_id.as_str();
        let n = placed.entry(coid).or_default();
        *n += 1;
        if *n > 1 {
            return Some(violation(
                PLACED_TWICE,
                format!("client order id {coid} placed {n} times at the venue"),
            ));
        }
        if !sent.contains(coid) {
            return Some(violation(
                UNJOURNALED,
                format!("venue order {coid} is not in the journal as SENT"),
            ));
        }
    }
    let portfolio = rec.router.portfolio();
    let mut assets: Vec<Asset> = ex.assets().map(|(a, _)| a.clone()).collect();
    for (a, _) in portfolio.balances() {
        if !assets.contains(a) {
            assets.push(a.clone());
        }
    }
    assets.sort();
    // Binance states amounts to 8 decimals: each trade's fee the journal booked may be off the
    // venue's exact one by up to 1e-8. A fill or fee lost or booked twice is far more.
    let slack = Decimal::new(i64::try_from(ex.trade_count()).unwrap_or(i64::MAX) + 1, 8);
    for a in &assets {
        let at_venue = ex.funds(a).total();
        let journal = portfolio.balance(a).total;
        if (at_venue - journal).abs() > slack {
            return Some(violation(
                BALANCES,
                format!("{a}: the venue holds {at_venue}, the journal's portfolio {journal}"),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests;

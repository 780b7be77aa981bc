//! The live drive loop: the router on the wall clock against a real venue.
//!
//! The loop owns the router and the journal. Each turn it writes the router's audit lines and
//! syncs them (write-ahead: a command goes out only once the lines describing it are on disk),
//! then hands each released command to a task of its own, so requests are in flight
//! concurrently; replies, intents, the router's timers and a stop request come back through
//! one `select!`. On a stop it sends nothing more, waits for the requests in flight and journals
//! their answers: the journal then says exactly what is out, and a restart with the same
//! journal resumes from it (its open orders are asked about before new intents are taken).
//!
//! The router's funding (what it may spend) is the venue account's free balances when the
//! journal starts, capped by `--budget`; it is kept beside the journal (`JOURNAL.funding`),
//! because after a restart the account already holds what the journal's fills moved.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::binance::Markets;
use super::client::{Client, LiveError};
use super::mutant::AdapterMutant;
use super::store::{FsStore, JournalFile, Store};
use crate::decision::Intent;
use crate::driver::{next_command, write_ahead, Step};
use crate::exchange::memory::MemoryExchange;
use crate::journal::lock::LockError;
use crate::model::{Asset, Side, TimeMs};
use crate::portfolio::Portfolio;
use crate::router::{
    Action, Input, MarketRules, Replay, Reply, ReplyOutcome, Router, RouterConfig,
};

/// What the live driver needs besides the intents.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub journal: PathBuf,
    /// Log what would be placed and place nothing: the venue is only read.
    pub observe: bool,
    /// Caps on what the router may spend of an asset (the account's free balance otherwise).
    pub budget: Vec<(Asset, Decimal)>,
    /// The router's settings; its markets come from the venue.
    pub router: RouterConfig,
    /// Markets the intents are known to need (`(where, symbol)`), checked against the venue
    /// before anything is routed.
    pub needs: Vec<(String, crate::model::Symbol)>,
    /// On resuming, cut damage at the journal's end off (kept in `JOURNAL.broken`) instead of
    /// refusing to start.
    pub truncate_damaged: bool,
}

/// Why the driver could not run.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Venue(#[from] LiveError),
    #[error("{0}")]
    Setup(String),
    #[error("journal {path}: {detail}")]
    Journal { path: String, detail: String },
    #[error(transparent)]
    Locked(#[from] LockError),
}

/// How a live run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveEnd {
    /// Intents by final (or, when stopped, current) state.
    pub states: BTreeMap<&'static str, u64>,
    /// Intents restored from the journal at the start, still open then.
    pub resumed: usize,
    pub orders_sent: u64,
    pub requests: u64,
    pub reserved: Decimal,
    /// Stopped on request with intents still open.
    pub stopped: bool,
    /// Intents refused at intake (a market the venue does not trade).
    pub refused: Vec<String>,
}

/// The funding kept beside the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Funding {
    format: String,
    version: u32,
    /// `live` or `observe`: a journal of one mode is never resumed in the other.
    mode: String,
    venue: String,
    balances: BTreeMap<String, String>,
}

const FUNDING_FORMAT: &str = "order-router funding";

/// `JOURNAL.funding`.
pub fn funding_path(journal: &Path) -> PathBuf {
    let mut p = journal.as_os_str().to_owned();
    p.push(".funding");
    PathBuf::from(p)
}

fn setup(msg: impl Into<String>) -> DriverError {
    DriverError::Setup(msg.into())
}

fn journal_err(path: &Path, e: impl std::fmt::Display) -> DriverError {
    DriverError::Journal {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// A resumed journal keeps the funding it started with; a `--budget` may restate a cap it
/// keeps to, but not ask for less than the journal was funded with (that would be ignored).
fn check_budget_on_resume(
    funding: &Portfolio,
    budget: &[(Asset, Decimal)],
    path: &Path,
) -> Result<(), DriverError> {
    for (asset, cap) in budget {
        let funded = funding.balance(asset).total;
        if funded > *cap {
            return Err(setup(format!(
                "--budget {asset}={cap}: this journal was funded with {asset} {funded} when it started ({}); a resumed journal keeps its funding. Start a new --journal to change it",
                path.display()
            )));
        }
    }
    Ok(())
}

fn read_funding(store: &impl Store, mode: &str) -> Result<Portfolio, DriverError> {
    let path = &store.funding_path();
    let bytes = store.read_funding().map_err(|e| journal_err(path, e))?;
    let f: Funding = serde_json::from_slice(&bytes)
        .map_err(|e| journal_err(path, format!("not a funding file: {e}")))?;
    if f.format != FUNDING_FORMAT || f.version != 1 {
        return Err(journal_err(path, "not a funding file of this version"));
    }
    if f.mode != mode {
        return Err(journal_err(
            path,
            format!(
                "this journal was written in {} mode; it cannot go on in {mode} mode",
                f.mode
            ),
        ));
    }
    let mut p = Portfolio::new();
    for (a, amount) in &f.balances {
        let asset = Asset::new(a).map_err(|e| journal_err(path, e))?;
        let amount: Decimal = amount.parse().map_err(|e| journal_err(path, e))?;
        p.deposit(&asset, amount)
            .map_err(|e| journal_err(path, e))?;
    }
    Ok(p)
}

/// Rules fine enough for any real market: the paper venue of observe mode checks nothing the
/// router has not rounded already.
fn paper_rules(fee_bps: Decimal) -> MarketRules {
    MarketRules {
        tick_size: Decimal::new(1, 12),
        step_size: Decimal::new(1, 12),
        min_notional: Decimal::ZERO,
        fee_bps,
    }
}

/// Setup calls a busy or flaky venue may fail: tried again with backoff (0.2 s doubling) when
/// rate limited, failing on its side or losing answers (eight tries, about 25 s) or
/// unreachable, nothing listening (three tries,
/// about 1 s: a venue that is not there should be said at once); a refusal of the request
/// itself (a bad key) fails at once.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, LiveError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, LiveError>>,
{
    let (mut wait, mut unreachable, mut busy) = (200, 0, 0);
    loop {
        match call().await {
            Err(e @ LiveError::Unreachable { .. }) => {
                unreachable += 1;
                if unreachable >= 3 {
                    return Err(e);
                }
            }
            Err(e @ LiveError::NoAnswer { .. }) => {
                busy += 1;
                if busy >= 8 {
                    return Err(e);
                }
            }
            Err(e @ LiveError::Refused { status, .. })
                if status >= 500 || status == 429 || status == 418 =>
            {
                busy += 1;
                if busy >= 8 {
                    return Err(e);
                }
            }
            other => return other,
        }
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        wait = (wait * 2).min(5_000);
    }
}

/// How often, at most, the driver says it is waiting on the venue.
const STATUS_EVERY_MS: u64 = 10_000;

/// Runs the router against the venue behind `client` until every intent from `intents` is
/// terminal (the channel closed), or `stop` completes. `observe` lines, and the line saying what
/// a restart cut off the journal, go to `on_observe`; what the driver waits for (a rate-limit
/// hold, a ban, a venue that does not answer) goes to `on_status` as it happens, so a long
/// silence is never unexplained.
///
/// The journal is locked for the whole run ([`JournalLock`]): a second process on the same
/// journal is refused before it talks to the venue.
pub async fn run(
    client: Arc<Client>,
    cfg: LiveConfig,
    intents: mpsc::Receiver<Intent>,
    stop: impl Future<Output = ()>,
    on_observe: impl Fn(String) + Send + Sync + 'static,
    on_status: impl Fn(String),
) -> Result<LiveEnd, DriverError> {
    let store = FsStore::new(&cfg.journal);
    run_on(client, cfg, store, intents, stop, on_observe, on_status).await
}

/// [`run`] with the journal, its funding and its lock in `store` (`cfg.journal` is not read):
/// the stack fuzz mode runs the driver on a simulated disk that crashes.
pub async fn run_on<S: Store>(
    client: Arc<Client>,
    cfg: LiveConfig,
    mut store: S,
    mut intents: mpsc::Receiver<Intent>,
    stop: impl Future<Output = ()>,
    on_observe: impl Fn(String) + Send + Sync + 'static,
    on_status: impl Fn(String),
) -> Result<LiveEnd, DriverError> {
    let mode = if cfg.observe { "observe" } else { "live" };
    let journal_path = store.journal_path().to_path_buf();
    let _lock = store.lock(&format!("order-router {mode} --venue {}", client.base()))?;
    retrying(|| client.sync_time()).await?;
    let (balances, fee_bps) = retrying(|| client.account()).await?;
    let markets = retrying(|| client.markets(fee_bps)).await?;
    for (place, symbol) in &cfg.needs {
        if markets.symbol(&Markets::name(symbol)).is_none() {
            return Err(setup(format!(
                "{place}: {symbol} is not traded on the venue"
            )));
        }
    }
    let mut config = cfg.router.clone();
    config.markets = markets.rules.clone();
    config.default_rules.fee_bps = fee_bps;
    // Placements are paced under the venue's order limits, so a well-behaved run draws no 429.
    config.order_limits = client.order_limits();
    let funding_file = store.funding_path();
    let existing = store.journal_len();
    let now0 = client.now_ms();
    let mut last_now = now0;
    let (mut router, mut journal, resumed) = if existing > 0 || store.funding_exists() {
        if !store.funding_exists() {
            return Err(journal_err(
                &journal_path,
                format!(
                    "it holds lines but its funding file {} is missing",
                    funding_file.display()
                ),
            ));
        }
        let funding = read_funding(&store, mode)?;
        check_budget_on_resume(&funding, &cfg.budget, &funding_file)?;
        let bytes = store.read_journal().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                journal_err(
                    &journal_path,
                    format!(
                        "it is missing, but its funding file {} is there: restore the journal, or remove the funding file to start a new one",
                        funding_file.display()
                    ),
                )
            } else {
                journal_err(&journal_path, e)
            }
        })?;
        let on_damage = match cfg.truncate_damaged {
            true => crate::router::OnDamage::Cut,
            false => crate::router::OnDamage::Stop,
        };
        let bytes = match client.has(AdapterMutant::RestartResendsBlind) {
            true => super::mutant::drop_line_before_torn_tail(&bytes).to_vec(),
            false => bytes,
        };
        let rec = Router::recover_with(config, funding, Replay::default(), &bytes, now0, on_damage)
            .map_err(|e| journal_err(&journal_path, e))?;
        // A torn tail or (as asked) damage is cut off, and said in one line.
        if let Some(cut) = store
            .cut_end(&bytes, &rec.scan)
            .map_err(|e| journal_err(&journal_path, e))?
        {
            on_observe(cut.to_string());
        }
        let journal = store
            .resume(rec.scan.valid_len as u64)
            .map_err(|e| journal_err(&journal_path, e))?;
        (rec.router, journal, rec.resumed.len())
    } else {
        let caps: BTreeMap<&Asset, Decimal> = cfg.budget.iter().map(|(a, d)| (a, *d)).collect();
        let mut funded = BTreeMap::new();
        for (asset, free) in &balances {
            let amount = caps.get(asset).map_or(*free, |c| (*c).min(*free));
            if amount > Decimal::ZERO {
                funded.insert(asset.to_string(), amount.normalize().to_string());
            }
        }
        for (asset, cap) in &cfg.budget {
            if !balances
                .iter()
                .any(|(a, f)| a == asset && *f > Decimal::ZERO)
                && *cap > Decimal::ZERO
            {
                return Err(setup(format!(
                    "--budget {asset}: the account holds no {asset}"
                )));
            }
        }
        let f = Funding {
            format: FUNDING_FORMAT.into(),
            version: 1,
            mode: mode.into(),
            venue: client.base().to_string(),
            balances: funded,
        };
        let bytes = serde_json::to_vec_pretty(&f).map_err(|e| setup(e.to_string()))?;
        store
            .write_funding(&bytes)
            .map_err(|e| journal_err(&funding_file, e))?;
        let funding = read_funding(&store, mode)?;
        let router = Router::new(config, funding).map_err(|e| setup(e.to_string()))?;
        let journal = store.create().map_err(|e| journal_err(&journal_path, e))?;
        (router, journal, 0)
    };

    // The journal is all the live loop does with its lines: the router writes them as JSONL.
    router.write_audit_jsonl();
    let paper = cfg.observe.then(|| {
        let mut m = MemoryExchange::with_rules(paper_rules(fee_bps));
        for (asset, b) in router.portfolio().balances() {
            m.deposit(asset, b.total);
        }
        Arc::new(Mutex::new(m))
    });
    let on_observe = Arc::new(on_observe);
    let (reply_tx, mut replies) = mpsc::channel::<Reply>(1024);
    let mut outstanding = 0usize;
    let mut source_done = false;
    let mut stopping = false;
    let mut refused = Vec::new();
    // What the driver last said it waits for, and since when the venue has not answered.
    let mut told_hold: TimeMs = 0;
    let mut silent_since: Option<TimeMs> = None;
    let mut told_silent: TimeMs = 0;
    tokio::pin!(stop);
    loop {
        // A hold the client learned (a 429's or 418's `Retry-After`, the minute's weight nearly
        // spent) holds the router's requests back too: a wait, not an attempt.
        let hold = client.not_before();
        if hold > router.hold_until() && hold > last_now {
            router
                .handle(last_now, Input::Hold { until_ms: hold })
                .map_err(|e| setup(e.to_string()))?;
        }
        if hold > told_hold && hold > last_now {
            told_hold = hold;
            let secs = (hold - last_now).div_ceil(1_000);
            on_status(if client.banned_until() >= hold {
                format!(
                    "banned by the venue (HTTP 418) until {} ({secs} s): nothing is sent until then",
                    utc(hold)
                )
            } else {
                format!(
                    "rate limited by the venue until {} ({secs} s): nothing is sent until then; no retry is spent on the wait",
                    utc(hold)
                )
            });
        }
        if let Some(since) = silent_since {
            let waited = last_now.saturating_sub(since);
            if waited >= STATUS_EVERY_MS && last_now >= told_silent + STATUS_EVERY_MS {
                told_silent = last_now;
                on_status(format!(
                    "no answer from the venue {} for {} s; {} intents open, {} requests waiting; still trying",
                    client.base(),
                    waited / 1_000,
                    router.in_flight(),
                    outstanding
                ));
            }
        }
        // The write-ahead step; stopping, the lines are still made durable but nothing is sent.
        loop {
            let step = if stopping {
                if write_ahead(&mut router, &mut journal) {
                    Step::Idle
                } else {
                    Step::Failed
                }
            } else {
                next_command(&mut router, &mut journal)
            };
            let cmd = match step {
                Step::Send(cmd) => cmd,
                Step::Lines => continue,
                Step::Idle => break,
                Step::Failed => {
                    let detail = journal
                        .failure()
                        .unwrap_or_else(|| "write failed".to_string());
                    return Err(journal_err(&journal_path, detail));
                }
            };
            {
                outstanding += 1;
                let tx = reply_tx.clone();
                let client = client.clone();
                let paper = paper.clone();
                let on_observe = on_observe.clone();
                tokio::spawn(async move {
                    let now = client.now_ms();
                    let reply = match paper {
                        None => client.execute(&cmd, now).await,
                        Some(paper) => {
                            if let Action::Place(r) = &cmd.action {
                                let (bid, ask) =
                                    client.book_ticker(r.symbol()).await.unwrap_or_default();
                                on_observe(
                                    serde_json::json!({
                                        "observe": "place",
                                        "intent_id": cmd.intent_id.as_str(),
                                        "client_order_id": r.client_order_id().as_str(),
                                        "symbol": r.symbol().as_str(),
                                        "side": if r.side() == Side::Buy { "buy" } else { "sell" },
                                        "qty": r.qty().normalize().to_string(),
                                        "limit_price": r.limit_price().normalize().to_string(),
                                        "tif": format!("{:?}", r.tif()).to_uppercase(),
                                        "bid": bid.to_string(),
                                        "ask": ask.to_string(),
                                    })
                                    .to_string(),
                                );
                                let mut m = paper.lock().unwrap_or_else(PoisonError::into_inner);
                                let price = if r.side() == Side::Buy { ask } else { bid };
                                if price > Decimal::ZERO {
                                    m.set_price(r.symbol(), price);
                                }
                                crate::exchange::execute(&cmd, &mut *m, now)
                            } else {
                                let mut m = paper.lock().unwrap_or_else(PoisonError::into_inner);
                                crate::exchange::execute(&cmd, &mut *m, now)
                            }
                        }
                    };
                    let _ = tx.send(reply).await;
                });
            }
        }
        let idle = router.in_flight() == 0 && router.held() == 0 && outstanding == 0;
        if (source_done && idle) || (stopping && outstanding == 0) {
            break;
        }
        let timer = router.poll_timeout();
        let wait = timer.map(|t| t.saturating_sub(client.now_ms()));
        // Biased: the branches are polled in this order, so the same inputs at the same
        // (simulated) times make the same run; a random pick would not.
        tokio::select! {
            biased;
            _ = &mut stop, if !stopping => {
                stopping = true;
            }
            Some(reply) = replies.recv() => {
                outstanding -= 1;
                last_now = last_now.max(client.now_ms());
                if answered(&reply) {
                    silent_since = None;
                } else {
                    silent_since.get_or_insert(last_now);
                }
                router.handle(last_now, Input::Reply(reply)).map_err(|e| setup(e.to_string()))?;
            }
            intent = intents.recv(), if !source_done && !stopping => {
                last_now = last_now.max(client.now_ms());
                match intent {
                    Some(i) if markets.symbol(&Markets::name(i.symbol())).is_some() => {
                        router.handle(last_now, Input::Deliver(i)).map_err(|e| setup(e.to_string()))?;
                    }
                    Some(i) => refused.push(format!(
                        "intent {}: {} is not traded on the venue",
                        i.intent_id(),
                        i.symbol()
                    )),
                    None => source_done = true,
                }
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(wait.unwrap_or(STATUS_EVERY_MS).min(STATUS_EVERY_MS))), if (wait.is_some() || silent_since.is_some()) && !stopping => {
                last_now = last_now.max(client.now_ms());
                router.handle_timeout(last_now).map_err(|e| setup(e.to_string()))?;
            }
        }
    }
    if !write_ahead(&mut router, &mut journal) {
        return Err(journal_err(&journal_path, "write failed"));
    }
    let mut states: BTreeMap<&'static str, u64> = BTreeMap::new();
    for s in router.states_in_flight() {
        *states.entry(s.as_str()).or_default() += 1;
    }
    let snapshot = router.snapshot();
    for (s, n) in snapshot.finished().by_state() {
        if n > 0 {
            *states.entry(s.as_str()).or_default() += n as u64;
        }
    }
    Ok(LiveEnd {
        states,
        resumed,
        orders_sent: router.stats().orders_sent,
        requests: client.sent.load(std::sync::atomic::Ordering::Relaxed),
        reserved: router.portfolio().reserved_total(),
        stopped: stopping && router.in_flight() > 0,
        refused,
    })
}

/// Whether the venue answered (anything but a timeout or a lost connection).
fn answered(reply: &Reply) -> bool {
    use crate::exchange::ExchangeError;
    !matches!(
        &reply.outcome,
        ReplyOutcome::Order(Err(ExchangeError::Timeout))
            | ReplyOutcome::Trades(Err(ExchangeError::Timeout))
    )
}

/// A wall-clock time for people: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn utc(ms: TimeMs) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

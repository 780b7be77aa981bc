//! `order-router live`: route intents to a Binance-compatible venue with the journal, or only
//! log what would be placed (`--observe`). Keys come from the environment only.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use order_router::decision::Delivery;
use order_router::live::client::Client;
use order_router::live::driver::{self, LiveConfig, LiveEnd};
use order_router::model::Asset;
use order_router::router::RouterConfig;
use order_router::venue::Credentials;
use rust_decimal::Decimal;
use tokio::sync::mpsc;

pub struct Args<'a> {
    pub venue: &'a str,
    pub intents: &'a str,
    pub journal: &'a Path,
    pub observe: bool,
    pub budget: &'a [String],
    pub request_timeout_ms: u64,
    pub json: bool,
    pub truncate_damaged: bool,
}

fn bad(message: &str) -> ExitCode {
    errln!("error: {message}");
    ExitCode::from(2)
}

/// One intent line: JSON as `Intent` serialises, checked as `Intent::new` checks; or a cancel
/// intent, `{"intent_id":..,"ts_ms":..,"cancel":"ID"}`.
fn parse_line(line: &str) -> Result<Delivery, String> {
    Delivery::from_json(line).map_err(|e| order_router::input::cut(&e.to_string()).into_owned())
}

/// The next intents line, read within [`order_router::input::MAX_LINE_BYTES`]: `None` at
/// the end; a line that is too long or not UTF-8 is an error (and, too long, left unread).
fn next_line(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> Option<Result<String, String>> {
    match order_router::input::read_line(input, buf) {
        Ok(false) => None,
        Ok(true) => Some(
            std::str::from_utf8(buf)
                .map(|t| t.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|_| "not valid UTF-8".to_string()),
        ),
        Err(e) => Some(Err(e.to_string())),
    }
}

/// The intents taken so far, by id: an id used again for a different intent is refused (the
/// router would take it for a duplicate delivery of the first and ignore it silently).
#[derive(Default)]
struct Seen(std::collections::HashMap<String, (String, Delivery)>);

impl Seen {
    /// `Ok(true)` for a new intent, `Ok(false)` for a repeat of one taken at the same id.
    fn take(&mut self, place: String, delivery: &Delivery) -> Result<bool, String> {
        match self.0.get(delivery.intent_id().as_str()) {
            None => {
                self.0
                    .insert(delivery.intent_id().to_string(), (place, delivery.clone()));
                Ok(true)
            }
            Some((_, first)) if first == delivery => Ok(false),
            Some((first_place, first)) => Err(format!(
                "intent_id {} was used at {first_place} for another intent ({}); this one is {}",
                delivery.intent_id(),
                describe(first),
                describe(delivery)
            )),
        }
    }
}

/// An intent as an error message names it.
fn describe(d: &Delivery) -> String {
    match d {
        Delivery::Intent(i) => format!(
            "{} {} {} at {}",
            i.side(),
            i.qty(),
            i.symbol(),
            i.ref_price()
        ),
        Delivery::Cancel(c) => format!("a cancel of {}", c.target()),
    }
}

fn parse_budget(specs: &[String]) -> Result<Vec<(Asset, Decimal)>, String> {
    specs
        .iter()
        .map(|s| {
            let (a, v) = s
                .split_once('=')
                .ok_or_else(|| format!("--budget {s}: expected ASSET=AMOUNT, e.g. USDT=1000"))?;
            let asset = Asset::new(a).map_err(|e| format!("--budget {s}: {e}"))?;
            let amount: Decimal = v
                .parse()
                .map_err(|_| format!("--budget {s}: {v:?} is not a decimal"))?;
            if amount < Decimal::ZERO || amount > Decimal::from(1_000_000_000_000_000u64) {
                return Err(format!("--budget {s}: the amount must be in 0..=10^15"));
            }
            Ok((asset, amount))
        })
        .collect()
}

fn summary(end: &LiveEnd, journal: &Path, json: bool) {
    let total: u64 = end.states.values().sum();
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "intents": total,
                "states": end.states,
                "resumed": end.resumed,
                "orders_sent": end.orders_sent,
                "requests": end.requests,
                "reserved": end.reserved.normalize().to_string(),
                "stopped": end.stopped,
                "refused": end.refused,
                "journal": journal.display().to_string(),
            })
        );
        return;
    }
    let states: Vec<String> = end.states.iter().map(|(s, n)| format!("{s} {n}")).collect();
    outln!(
        "live      {total} intents{}{}",
        if states.is_empty() {
            String::new()
        } else {
            format!(" ({})", states.join(", "))
        },
        if end.resumed > 0 {
            format!(", {} resumed from the journal", end.resumed)
        } else {
            String::new()
        }
    );
    outln!(
        "venue     {} orders sent, {} requests",
        end.orders_sent,
        end.requests
    );
    outln!(
        "reserved  {}   journal {}",
        end.reserved.normalize(),
        journal.display()
    );
    if end.stopped {
        outln!("stopped   with intents open: run again with the same --journal to resume");
    }
}

pub fn main(args: Args<'_>) -> ExitCode {
    if !(args.venue.starts_with("http://") || args.venue.starts_with("https://")) {
        return bad(&format!(
            "--venue: `{}` is not an http:// or https:// URL",
            args.venue
        ));
    }
    let (Ok(key), Ok(secret)) = (
        std::env::var("ORDER_ROUTER_API_KEY"),
        std::env::var("ORDER_ROUTER_API_SECRET"),
    ) else {
        return bad("no API key: set ORDER_ROUTER_API_KEY and ORDER_ROUTER_API_SECRET");
    };
    let credentials = match Credentials::new(&key, &secret) {
        Ok(c) => c,
        Err(e) => return bad(&format!("ORDER_ROUTER_API_KEY/SECRET: {e}")),
    };
    let budget = match parse_budget(args.budget) {
        Ok(b) => b,
        Err(e) => return bad(&e),
    };
    if !(100..=600_000).contains(&args.request_timeout_ms) {
        return bad(&format!(
            "--request-timeout-ms: {} is outside 100..=600000",
            args.request_timeout_ms
        ));
    }
    if args.journal.is_dir() {
        return bad(&format!(
            "--journal: {} is a directory",
            args.journal.display()
        ));
    }
    // A file is read and checked whole before anything is routed.
    let mut from_file = None;
    let mut seen = Seen::default();
    if args.intents != "-" {
        let mut input = match std::fs::File::open(args.intents) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) => return bad(&format!("{}: {e}", args.intents)),
        };
        let (mut list, mut buf, mut i) = (Vec::new(), Vec::new(), 0);
        while let Some(line) = next_line(&mut input, &mut buf) {
            i += 1;
            let parsed = line.and_then(|line| {
                (!line.trim().is_empty())
                    .then(|| parse_line(&line))
                    .transpose()
            });
            match parsed {
                Ok(Some(intent)) => {
                    if let Err(e) = seen.take(format!("line {i}"), &intent) {
                        return bad(&format!("{}:{i}: {e}", args.intents));
                    }
                    list.push((i, intent))
                }
                Ok(None) => {}
                Err(e) => return bad(&format!("{}:{i}: {e}", args.intents)),
            }
        }
        from_file = Some(list);
    }
    let router = RouterConfig {
        request_timeout_ms: args.request_timeout_ms,
        ..RouterConfig::default()
    };
    let needs = from_file
        .iter()
        .flatten()
        .filter_map(|(n, d)| match d {
            Delivery::Intent(i) => Some((format!("{}:{n}", args.intents), i.symbol().clone())),
            Delivery::Cancel(_) => None,
        })
        .collect();
    let cfg = LiveConfig {
        journal: args.journal.to_path_buf(),
        observe: args.observe,
        budget,
        router,
        needs,
        truncate_damaged: args.truncate_damaged,
    };
    let runtime = match crate::output::runtime() {
        Ok(r) => r,
        Err(e) => return bad(&format!("cannot start the runtime: {e}")),
    };
    let client = match Client::new(
        args.venue,
        credentials,
        args.request_timeout_ms,
        cfg.router.recv_window_ms,
    ) {
        Ok(c) => Arc::new(c),
        Err(e) => return bad(&e.to_string()),
    };
    let (tx, rx) = mpsc::channel::<Delivery>(1024);
    let rejected = Arc::new(std::sync::atomic::AtomicU64::new(0));
    match from_file {
        Some(list) => {
            runtime.spawn(async move {
                for (_, intent) in list {
                    if tx.send(intent).await.is_err() {
                        return;
                    }
                }
            });
        }
        None => {
            let rejected = rejected.clone();
            std::thread::spawn(move || {
                let stdin = std::io::stdin();
                let (mut input, mut buf, mut i) = (stdin.lock(), Vec::new(), 0);
                while let Some(line) = next_line(&mut input, &mut buf) {
                    i += 1;
                    let line = match line {
                        Ok(line) => line,
                        Err(e) => {
                            rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            errln!("error: stdin:{i}: {e}; line skipped");
                            // What is left of a line too long to read; a read error ends it.
                            if !buf.ends_with(b"\n")
                                && !matches!(order_router::input::skip_line(&mut input), Ok(true))
                            {
                                break;
                            }
                            continue;
                        }
                    };
                    if line.trim().is_empty() {
                        continue;
                    }
                    match parse_line(&line)
                        .and_then(|intent| seen.take(format!("stdin:{i}"), &intent).map(|_| intent))
                    {
                        Ok(intent) => {
                            if tx.blocking_send(intent).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            errln!("error: stdin:{i}: {e}; line skipped");
                        }
                    }
                }
            });
        }
    }
    let journal = args.journal.to_path_buf();
    let result = runtime.block_on(async move {
        // Registered before anything else runs, so a signal during recovery also stops
        // cleanly instead of killing the process mid-write.
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        let stop = async move {
            tokio::select! {
                _ = received(int) => {}
                _ = received(term) => {}
            }
        };
        driver::run(
            client,
            cfg,
            rx,
            stop,
            |line| outln!("{line}"),
            |status| errln!("live: {status}"),
        )
        .await
    });
    // Stdin may still be blocked in a read; the process ends regardless.
    runtime.shutdown_background();
    match result {
        Ok(end) => {
            for r in &end.refused {
                errln!("error: {r}");
            }
            summary(&end, &journal, args.json);
            let failed: u64 = ["FAILED", "FAILED_FINAL"]
                .iter()
                .filter_map(|s| end.states.get(s))
                .sum();
            if end.stopped {
                ExitCode::from(130)
            } else if !end.refused.is_empty()
                || rejected.load(std::sync::atomic::Ordering::Relaxed) > 0
            {
                ExitCode::from(2)
            } else if failed > 0 {
                errln!("live: {failed} intents ended without executing (FAILED or FAILED_FINAL): see the journal's lines for why");
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => bad(&e.to_string()),
    }
}

/// Completes when `signal` arrives; never, if it could not be registered.
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

//! `order-router venue`: serve the simulated exchange over HTTP in Binance spot's REST dialect.
//! Everything is checked before the server starts: a bad flag, scenario or key is one line and
//! exit 2, and nothing is bound or written.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use order_router::model::Symbol;
use order_router::sim::flow::tape;
use order_router::sim::{market, scenario, Scenario};
use order_router::venue::server::{wall_clock_ms, Record, Server, ServerLimits};
use order_router::venue::stream::{StreamFaults, WsConfig};
use order_router::venue::{self, Credentials, Limits, Setup, Venue};

/// The default scenario's file, relative to the crate (the binary embeds its text).
const BUILTIN_SCENARIO: &str = "scenarios/venue/default.csv";

/// Options of `venue`.
pub struct Args<'a> {
    pub listen: &'a str,
    pub allow_remote: bool,
    pub scenario: Option<&'a Path>,
    pub market: Option<&'a Path>,
    pub market_symbol: Option<&'a str>,
    pub market_speed: Option<u64>,
    pub faults: Option<venue::Faults>,
    pub seed: Option<u64>,
    pub record: Option<&'a Path>,
    pub api_key: Option<&'a str>,
    pub api_secret: Option<&'a str>,
    pub weight_limit: u32,
    pub order_limit: u32,
    pub ban_secs: u64,
    pub max_connections: usize,
    pub speed: u64,
    pub stall_ms: u64,
    /// How long a WebSocket connection lives.
    pub ws_expiry_ms: u64,
    /// Stream faults, when not those of `faults`.
    pub ws_faults: Option<venue::Faults>,
    /// Commissions in BNB (`fee_asset_mode=bnb`), whatever the scenario says.
    pub bnb_fees: bool,
    /// Drop the scenario's base-asset balances: a fresh exchange account.
    pub fresh_account: bool,
    /// Write the bot audit of this run here when the venue stops.
    pub bot_audit: Option<&'a Path>,
}

/// The record's lines go to the file (when there is one) and, for `--bot-audit`, are kept
/// in memory too: the audit reads this run's lines only, not an earlier run's in the same file.
struct Tee {
    file: Option<File>,
    kept: Arc<Mutex<Vec<u8>>>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = match self.file.as_mut() {
            Some(f) => f.write(buf)?,
            None => buf.len(),
        };
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

fn bad(message: &str) -> ExitCode {
    errln!("error: {message}");
    ExitCode::from(2)
}

/// `--market live` or `--market static`: the market's mode rather than a file.
fn market_mode(args: &Args<'_>) -> Option<bool> {
    match args.market.and_then(Path::to_str) {
        Some("live") => Some(true),
        Some("static") => Some(false),
        _ => None,
    }
}

fn load_scenario(args: &Args<'_>) -> Result<Scenario, String> {
    let mut s = match args.scenario {
        Some(p) => {
            let s = scenario::load(p).map_err(|e| e.to_string())?;
            for w in &s.warnings {
                errln!("warning: {w}");
            }
            s
        }
        None => scenario::parse(
            "(built-in venue scenario)",
            venue::DEFAULT_SCENARIO.as_bytes(),
        )
        .map_err(|e| e.to_string())?,
    };
    if args.bnb_fees {
        s.venue.fees.mode = order_router::exchange::fees::FeeMode::Bnb;
    }
    // The built-in market is live unless told otherwise; a scenario's is as it says.
    if args.scenario.is_none() {
        s.venue.market.live = true;
    }
    if let Some(live) = market_mode(args) {
        s.venue.market.live = live;
    } else if let Some(path) = args.market {
        let named = args
            .market_symbol
            .map(Symbol::parse)
            .transpose()
            .map_err(|e| format!("--market-symbol: {e}"))?;
        let symbol = s.market_symbol(named.as_ref())?;
        let ticks = market::load(path).map_err(|e| e.to_string())?;
        s.check_market_scale(&symbol, &ticks)?;
        match tape::load(path).map_err(|e| e.to_string())? {
            // Recorded trades (with their taker side) or quotes (with sizes) are the market.
            Some(t) => s.play_tape(&symbol, &ticks, t),
            // Klines, or trades without sides: the price follows the file, nothing else trades.
            None => {
                s.venue.market.live = false;
                s.replay_market(&symbol, &ticks);
            }
        }
    }
    Ok(s)
}

/// The record, open for appending and locked for as long as the venue runs.
struct OpenRecord<'a> {
    path: &'a Path,
    file: File,
    /// Whether opening it created it.
    created: bool,
}

/// Opens `--record` for appending. Never one of the inputs (the same file however reached:
/// another spelling, a link), the built-in scenario included; never a record another venue
/// is writing (an exclusive lock held until the process ends, so two venues cannot interleave
/// lines). A last line left unfinished by an earlier run is ended, so the new lines stay whole.
fn open_record<'a>(path: &'a Path, args: &Args<'_>) -> Result<OpenRecord<'a>, String> {
    let shown = path.display();
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join(BUILTIN_SCENARIO);
    let inputs = [
        ("the scenario", args.scenario),
        (
            "the market file",
            args.market.filter(|_| market_mode(args).is_none()),
        ),
        ("the built-in scenario", Some(builtin.as_path())),
        ("the built-in scenario", Some(Path::new(BUILTIN_SCENARIO))),
    ];
    let created = matches!(std::fs::metadata(path), Err(e) if e.kind() == ErrorKind::NotFound);
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("--record: {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("--record: {shown}: {e}"))?;
    let same = |m: &std::fs::Metadata| (m.dev(), m.ino()) == (meta.dev(), meta.ino());
    for (what, input) in inputs {
        let Some(input) = input else { continue };
        if std::fs::metadata(input).is_ok_and(|m| same(&m)) {
            return Err(format!(
                "--record: {shown} is {what} {}; the record is never written into an input",
                input.display()
            ));
        }
    }
    // Devices and pipes (/dev/null, a FIFO) are written as they are, unlocked.
    if !meta.is_file() {
        return Ok(OpenRecord {
            path,
            file,
            created,
        });
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(format!(
            "--record: {shown} is being written by another venue; give each venue its own record"
        ))
        }
        Err(TryLockError::Error(e)) => {
            return Err(format!("--record: {shown}: cannot lock it: {e}"))
        }
    }
    let len = file
        .metadata()
        .map_err(|e| format!("--record: {shown}: {e}"))?
        .len();
    let unfinished = len > 0
        && File::open(path)
            .and_then(|f| {
                let mut last = [0u8];
                f.read_exact_at(&mut last, len - 1)?;
                Ok(same(&f.metadata()?) && last[0] != b'\n')
            })
            .unwrap_or(false);
    if unfinished {
        (&file)
            .write_all(b"\n")
            .map_err(|e| format!("--record: {shown}: {e}"))?;
        errln!("warning: --record: {shown} ended in an unfinished line; it is ended before this run's lines");
    }
    Ok(OpenRecord {
        path,
        file,
        created,
    })
}

/// `--bot-audit` is written when the venue stops: refused now if it is one of the inputs or
/// the record, or if its directory cannot be written, so a run never ends with its audit lost.
fn check_audit_out(out: &Path, args: &Args<'_>) -> Result<(), String> {
    let same = |a: &Path, b: &Path| match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => a == b,
    };
    for (what, input) in [
        ("the scenario", args.scenario),
        ("the record", args.record),
        (
            "the market file",
            args.market.filter(|_| market_mode(args).is_none()),
        ),
    ] {
        if input.is_some_and(|p| same(p, out)) {
            return Err(format!(
                "--bot-audit: {} is {what}; the audit is written to a file of its own",
                out.display()
            ));
        }
    }
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::output::ensure_dir(dir).map_err(|e| format!("--bot-audit: {e}"))
}

pub fn main(args: Args<'_>) -> ExitCode {
    let listen: SocketAddr = match args.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            return bad(&format!(
                "--listen: `{}` is not an address such as 127.0.0.1:8900",
                args.listen
            ))
        }
    };
    if !listen.ip().is_loopback() && !args.allow_remote {
        return bad(&format!(
            "--listen: {listen} is reachable from other machines; the venue has no TLS and one key. Add --allow-remote if that is what you want"
        ));
    }
    let (Some(key), Some(secret)) = (args.api_key, args.api_secret) else {
        return bad("no API key: pass --api-key and --api-secret, or set ORDER_ROUTER_API_KEY and ORDER_ROUTER_API_SECRET");
    };
    let credentials = match Credentials::new(key, secret) {
        Ok(c) => c,
        Err(e) => return bad(&format!("--api-key/--api-secret: {e}")),
    };
    let checks: [(&str, u64, u64, u64); 8] = [
        (
            "--weight-limit",
            u64::from(args.weight_limit),
            1,
            1_000_000_000,
        ),
        (
            "--order-limit",
            u64::from(args.order_limit),
            1,
            1_000_000_000,
        ),
        ("--ban-secs", args.ban_secs, 1, 259_200),
        ("--max-connections", args.max_connections as u64, 1, 100_000),
        ("--speed", args.speed, 1, 1_000_000),
        ("--stall-ms", args.stall_ms, 0, 600_000),
        ("--ws-expiry-ms", args.ws_expiry_ms, 1, 86_400_000),
        ("--market-speed", args.market_speed.unwrap_or(1), 1, 1_000),
    ];
    for (flag, value, lo, hi) in checks {
        if !(lo..=hi).contains(&value) {
            return bad(&format!("{flag}: {value} is outside {lo}..={hi}"));
        }
    }
    let mut scenario = match load_scenario(&args) {
        Ok(s) => s,
        Err(e) => return bad(&e),
    };
    if let Some(speed) = args.market_speed {
        scenario.venue.market.speed = speed;
    }
    if args.fresh_account {
        scenario.make_account_fresh();
    }
    if let Some(out) = args.bot_audit {
        if let Err(e) = check_audit_out(out, &args) {
            return bad(&e);
        }
    }
    let market = if !scenario.venue.tapes.is_empty() {
        "recorded"
    } else if scenario.venue.market.live {
        "live"
    } else {
        "static"
    };
    let profile = args.faults.map_or(scenario.profile, venue::fault_profile);
    let record = match args.record.map(|p| open_record(p, &args)).transpose() {
        Ok(r) => r,
        Err(e) => return bad(&e),
    };
    let ignored = scenario
        .rows
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                scenario::RowKind::Intent { .. }
                    | scenario::RowKind::Signal { .. }
                    | scenario::RowKind::Crash { .. }
            )
        })
        .count()
        + scenario.expects.len();
    if ignored > 0 {
        errln!(
            "warning: {}: {ignored} intent, signal, crash and expect rows are the router's; the venue ignores them",
            args.scenario.map_or("(scenario)".into(), |p| p.display().to_string())
        );
    }
    let seed = args.seed.or(scenario.seed).unwrap_or(0);
    let ws = WsConfig {
        expiry_ms: args.ws_expiry_ms,
        faults: args
            .ws_faults
            .or(args.faults)
            .map_or_else(StreamFaults::default, StreamFaults::of),
        seed,
        ..WsConfig::default()
    };
    let setup = Setup {
        scenario,
        credentials,
        seed,
        profile,
        limits: Limits {
            weight_per_minute: args.weight_limit,
            orders_per_10s: args.order_limit,
            ban_ms: args.ban_secs * 1_000,
            ..Limits::default()
        },
        speed: args.speed,
        stall_ms: args.stall_ms,
    };
    let runtime = match crate::output::runtime() {
        Ok(r) => r,
        Err(e) => return bad(&format!("cannot start the server runtime: {e}")),
    };
    let faults = args.faults.map_or("scenario", venue::Faults::name);
    runtime.block_on(async move {
        let v = Venue::new(setup, wall_clock_ms());
        let markets: Vec<String> = v.symbols().map(str::to_string).collect();
        let limits = ServerLimits {
            max_connections: args.max_connections,
            ..ServerLimits::default()
        };
        let created = record.as_ref().filter(|r| r.created).map(|r| r.path);
        let kept = Arc::new(Mutex::new(Vec::new()));
        let record = match (record, args.bot_audit.is_some()) {
            (Some(r), false) => Some(Record {
                out: Box::new(r.file),
                name: r.path.display().to_string(),
            }),
            (r, true) => Some(Record {
                name: r.as_ref().map_or("(kept for --bot-audit)".into(), |r| {
                    r.path.display().to_string()
                }),
                out: Box::new(Tee {
                    file: r.map(|r| r.file),
                    kept: kept.clone(),
                }),
            }),
            (None, false) => None,
        };
        let server = match Server::bind(listen, v, record, limits).await {
            Ok(s) => s,
            Err(e) => {
                // Nothing half-done: a record this attempt created goes again.
                if let Some(path) = created {
                    let _ = std::fs::remove_file(path);
                }
                return bad(&format!("--listen {listen}: {e}"));
            }
        };
        let server = server.with_ws(ws);
        let addr = server.local_addr().unwrap_or(listen);
        outln!(
            "venue listening on http://{addr} (markets {}; {market} market; faults {faults}; seed {seed}{})",
            markets.join(", "),
            if args.fresh_account { "; fresh account" } else { "" }
        );
        let Some(out) = args.bot_audit else {
            return match server.run(std::future::pending()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    errln!("error: venue: {e}");
                    ExitCode::from(1)
                }
            };
        };
        let served = server.run(stop_signal()).await;
        let bytes = std::mem::take(&mut *kept.lock().unwrap_or_else(PoisonError::into_inner));
        let inputs: Vec<&Path> = args.scenario.into_iter().chain(args.record).collect();
        let written = crate::cmd::bot_audit::write_at_stop(&bytes, out, &inputs);
        if let Err(e) = &written {
            errln!("error: {e}");
        }
        match served {
            Ok(()) if written.is_ok() => ExitCode::SUCCESS,
            Ok(()) => ExitCode::from(1),
            Err(e) => {
                errln!("error: venue: {e}");
                ExitCode::from(1)
            }
        }
    })
}

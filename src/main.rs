//! The `order-router` command line: parse arguments, call the library, print, exit 0/1/2.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use order_router::journal::SyncPolicy;
use order_router::live::mutant::AdapterMutant;
use order_router::router::Mutant;
use order_router::sim::gen::FaultMix;
use order_router::sim::CrashMode;
use order_router::venue::Faults as VenueFaults;

#[macro_use]
mod output;
mod cmd;
mod measure;
mod progress;

use cmd::{
    bench, bot_audit, check_audit, demo, fuzz, live as live_cmd, recover, report as report_cmd,
    run, tape as tape_cmd, venue as serve_venue,
};

/// Deterministic order execution for crypto spot bots, and the harness that proves it safe.
#[derive(Parser)]
#[command(name = "order-router", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive the real router against the in-memory venue through a lost reply, a duplicate
    /// delivery, a partial fill, a refusal and a sell; print the audit log and a summary.
    Demo {
        /// Write the audit log here (JSONL) instead of printing it.
        #[arg(long, value_name = "OUT.jsonl")]
        audit: Option<PathBuf>,
    },
    /// Replay a scenario CSV through the simulator: the real router against the simulated
    /// venue, faults injected, every invariant checked after every step.
    Run {
        /// The scenario file (docs/scenario-format.md).
        #[arg(value_name = "SCENARIO.csv")]
        file: PathBuf,
        /// Seed of every random choice (default: the scenario's `seed`, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the audit log here (JSONL), whole or not at all.
        #[arg(long, value_name = "OUT.jsonl")]
        audit: Option<PathBuf>,
        /// Replay a recorded price path (trades, klines or quotes CSV) as the market.
        #[arg(long, value_name = "FILE.csv")]
        market: Option<PathBuf>,
        /// The symbol the market file drives (default: the scenario's only priced symbol).
        #[arg(long, value_name = "BASE/QUOTE", requires = "market")]
        market_symbol: Option<String>,
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
        /// Run without the lockstep model of the router (`model_agrees`).
        #[arg(long)]
        no_model: bool,
        /// A run not quiescent after this many simulator steps is reported as a livelock.
        #[arg(long, default_value_t = 10_000_000, value_name = "N")]
        max_steps: u64,
        /// Crash the router after the Nth journal append (from 1), then restart it.
        #[arg(long, value_name = "N")]
        crash_at: Option<u64>,
        /// With --crash-at: what the crash leaves of the unsynced lines: written, dropped, torn.
        #[arg(
            long,
            value_enum,
            default_value_t = CrashMode::Dropped,
            value_name = "MODE",
            requires = "crash_at"
        )]
        crash_mode: CrashMode,
        /// Replay the scenario once per journal append point and crash mode; report how many
        /// held, or the first that did not with the command that replays it.
        #[arg(long, conflicts_with_all = ["crash_at", "audit", "report"])]
        crash_everywhere: bool,
        /// Write the run report (one HTML page with charts and metrics) here.
        #[arg(long, value_name = "REPORT.html")]
        report: Option<PathBuf>,
        /// Switch on a deliberate bug in the router (needs a build with `--features mutants`).
        #[arg(long, value_enum, hide = true)]
        mutant: Option<Mutant>,
    },
    /// Print what a restart would rebuild from a journal (and snapshot): open intents and
    /// their states, reservations, the orders it must query, a torn tail. Exit 2 on a journal
    /// or snapshot it cannot rebuild from (damage at its end too, unless --truncate-damaged).
    Recover {
        /// The journal (the router's JSONL audit log).
        #[arg(value_name = "JOURNAL.jsonl")]
        journal: PathBuf,
        /// The snapshot the journal continues from.
        #[arg(long, value_name = "FILE")]
        snapshot: Option<PathBuf>,
        /// Cut damage at the journal's end off (kept in JOURNAL.broken) instead of stopping.
        #[arg(long)]
        truncate_damaged: bool,
    },
    /// Run one generated scenario per seed, in parallel, with swarm-drawn fault mixes; on the
    /// first violation write the minimised scenario and exit 1.
    Fuzz {
        /// Seeds A..B (B excluded).
        #[arg(long, default_value = "0..1000", value_name = "A..B")]
        seeds: String,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard I of N: seeds with (seed - A) % N == I.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Intents per generated scenario.
        #[arg(long, default_value_t = 8)]
        intents: u32,
        /// none, light, rough, or swarm (each seed draws its own mix).
        #[arg(long, value_enum, default_value_t = FaultMix::Swarm, value_name = "PROFILE")]
        faults: FaultMix,
        /// Run each seed twice and report the first step where the runs diverge.
        #[arg(long)]
        check_determinism: bool,
        /// Exit 1 if the campaign never reached a legal edge of the transition table, a fault
        /// kind or a coverage situation.
        #[arg(long)]
        require_coverage: bool,
        /// Run without the lockstep model of the router (`model_agrees`): to measure what it
        /// costs, or to see what the other checks catch alone.
        #[arg(long)]
        no_model: bool,
        /// Where the minimised failing scenario is written.
        #[arg(long, default_value = ".", value_name = "DIR")]
        out: PathBuf,
        /// Hunt a deliberate bug in the router (test builds only).
        #[arg(long, value_enum, hide = true)]
        mutant: Option<Mutant>,
        /// Run only the stack mode, on every seed: the live driver and Binance client against
        /// the venue's request handler, on simulated time, with crashes and restarts.
        #[arg(long)]
        stack: bool,
        /// Without --stack: also run the stack mode on every K-th seed (0: never).
        #[arg(long, default_value_t = fuzz::STACK_EVERY, value_name = "K")]
        stack_every: u64,
        /// Hunt a deliberate bug in the live adapter with the stack mode (test builds only).
        #[arg(long, value_enum, hide = true)]
        adapter_mutant: Option<AdapterMutant>,
    },
    /// Measure the fixed workload: intents/s, simulator events/s, invariant checks/s, audit
    /// bytes/s and peak memory.
    Bench {
        /// How many intents the workload runs.
        #[arg(long, default_value_t = 100_000)]
        intents: u64,
        /// Switch invariant checking off, to see what it costs.
        #[arg(long)]
        no_check: bool,
        /// Stream the audit log to this file.
        #[arg(long, value_name = "OUT.jsonl")]
        audit: Option<PathBuf>,
        /// With --audit: `batch` syncs the log to disk (fdatasync) before each batch's
        /// commands go out (the journal's group commit); `none` leaves it to the system.
        #[arg(long, value_enum, default_value_t = SyncPolicy::Never, value_name = "POLICY")]
        sync: SyncPolicy,
        /// Measure a restart instead: --intents finished intents behind a snapshot, and
        /// --open intents in flight.
        #[arg(long)]
        recovery: bool,
        /// With --recovery: intents in flight at the restart.
        #[arg(long, default_value_t = 1_000, requires = "recovery")]
        open: u64,
    },
    /// Grow a trade tape of many hours from a short trade recording (a seeded block
    /// bootstrap of its spacing, quantities and tick moves), for `replay`.
    Tape {
        /// The recorded trades (CSV with a time, price and qty or amount column).
        #[arg(value_name = "RECORDED.csv")]
        from: PathBuf,
        /// Hours of market time to grow (at most a week).
        #[arg(long, default_value_t = 24)]
        hours: u64,
        /// Seed of the resampling: the same seed, the same tape.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the tape goes (CSV; `-` for standard output).
        #[arg(long, value_name = "OUT.csv")]
        out: PathBuf,
        /// Write a tape of more than 50 million trades or 2 GiB (refused without it).
        #[arg(long)]
        allow_large: bool,
    },
    /// Replay a market tape of any length (trades, quotes or klines CSV) with the router in
    /// the loop: one intent every --every-ms of market time at the tape's price, the light
    /// fault mix, every invariant checked; the tape is streamed, so memory stays flat.
    Replay {
        /// The tape (e.g. from `order-router tape`, or a recorded file).
        #[arg(value_name = "TAPE.csv")]
        tape: PathBuf,
        /// The market the tape is.
        #[arg(long, default_value = "BTC/USDT", value_name = "BASE/QUOTE")]
        symbol: String,
        /// Market milliseconds between intents.
        #[arg(long, default_value_t = 1_000)]
        every_ms: u64,
        /// The market's price grid (default: Binance BTC/USDT's, 0.01).
        #[arg(long)]
        tick_size: Option<rust_decimal::Decimal>,
        /// The market's quantity grid (default 0.00001).
        #[arg(long)]
        step_size: Option<rust_decimal::Decimal>,
        /// The market's minimum notional (default 5); intents are 2 to 20 times it.
        #[arg(long)]
        min_notional: Option<rust_decimal::Decimal>,
        /// Seed of the faults and of the intents' sides and sizes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Switch invariant checking off, to see what it costs.
        #[arg(long)]
        no_check: bool,
        /// Stream the audit log to this file.
        #[arg(long, value_name = "OUT.jsonl")]
        audit: Option<PathBuf>,
    },
    /// Route intents (JSON lines) to a Binance-compatible venue with the durable journal;
    /// resume from the journal after a stop or crash (docs/live.md). Keys come from
    /// ORDER_ROUTER_API_KEY and ORDER_ROUTER_API_SECRET.
    Live {
        /// The venue's base URL: http://127.0.0.1:8900 (order-router venue),
        /// https://testnet.binance.vision, https://api.binance.com.
        #[arg(long, visible_alias = "base-url", value_name = "URL")]
        venue: String,
        /// Intents, one JSON object per line; `-` reads standard input until it closes.
        #[arg(long, value_name = "FILE|-")]
        intents: String,
        /// The journal: created on the first run, resumed from on every later one.
        #[arg(long, value_name = "FILE")]
        journal: PathBuf,
        /// Log what would be placed (JSON lines on standard output) and place nothing.
        #[arg(long)]
        observe: bool,
        /// Cap what may be spent of an asset (default: the account's free balance).
        #[arg(long, value_name = "ASSET=AMOUNT")]
        budget: Vec<String>,
        /// A request without an answer after this long is an unknown outcome.
        #[arg(long, default_value_t = 2_000, value_name = "MS")]
        request_timeout_ms: u64,
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
        /// On restart, cut damage at the journal's end off (kept in JOURNAL.broken) instead of
        /// stopping.
        #[arg(long)]
        truncate_damaged: bool,
    },
    /// Serve the simulated exchange over HTTP in Binance spot's REST dialect, with seeded
    /// faults, for any bot to be tested against (docs/venue.md).
    Venue {
        /// Address to listen on; port 0 picks a free one (printed on start).
        #[arg(long, default_value = "127.0.0.1:8900", value_name = "ADDR:PORT")]
        listen: String,
        /// Allow an address other machines can reach.
        #[arg(long)]
        allow_remote: bool,
        /// Markets, rules, balances, prices over time and fault rows (default: the built-in
        /// scenarios/venue/default.csv).
        #[arg(long, value_name = "FILE.csv")]
        scenario: Option<PathBuf>,
        /// The market: `live` (other traders trade, refill and move the book; the default),
        /// `static` (a fixed book that moves only with the scenario's prices), or a recorded
        /// price path (trades, klines or quotes CSV) replayed as the market (docs/market.md).
        #[arg(long, value_name = "live|static|FILE.csv")]
        market: Option<PathBuf>,
        /// The symbol the market file drives (default: the scenario's only priced symbol).
        #[arg(long, value_name = "BASE/QUOTE", requires = "market")]
        market_symbol: Option<String>,
        /// The living market's pace: this many times the recorded rate of trades (default:
        /// the scenario's `market_speed`, else 1).
        #[arg(long, value_name = "N")]
        market_speed: Option<u64>,
        /// Random faults: none, light or rough (default: the scenario's p_* settings).
        #[arg(long, value_enum, value_name = "PROFILE")]
        faults: Option<VenueFaults>,
        /// Seed of every fault draw (default: the scenario's seed, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Append one JSON line per request: what was asked and what the venue executed.
        #[arg(long, value_name = "OUT.jsonl")]
        record: Option<PathBuf>,
        /// The API key clients must send in X-MBX-APIKEY.
        #[arg(long, env = "ORDER_ROUTER_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// The secret requests are signed with (HMAC-SHA256).
        #[arg(long, env = "ORDER_ROUTER_API_SECRET", hide_env_values = true)]
        api_secret: Option<String>,
        /// Request weight per minute and client before HTTP 429.
        #[arg(long, default_value_t = 6_000, value_name = "N")]
        weight_limit: u32,
        /// New orders per 10 seconds and client before HTTP 429.
        #[arg(long, default_value_t = 100, value_name = "N")]
        order_limit: u32,
        /// Length of the first ban (HTTP 418) for a client that ignores 429s; later bans double.
        #[arg(long, default_value_t = 120, value_name = "SECONDS")]
        ban_secs: u64,
        /// Connections open at once.
        #[arg(long, default_value_t = 256, value_name = "N")]
        max_connections: usize,
        /// Scenario milliseconds per wall-clock millisecond (replay a market faster).
        #[arg(long, default_value_t = 1, value_name = "N")]
        speed: u64,
        /// How long a connection whose reply was lost is held before it is closed.
        #[arg(long, default_value_t = 30_000, value_name = "MS")]
        stall_ms: u64,
        /// How long a WebSocket connection lives before the venue closes it (Binance: 24 hours).
        #[arg(long, default_value_t = 86_400_000, value_name = "MS")]
        ws_expiry_ms: u64,
        /// Random faults on the WebSocket streams only: none, light or rough (default: as
        /// --faults, else none).
        #[arg(long, value_enum, value_name = "PROFILE")]
        ws_faults: Option<VenueFaults>,
        /// Pay fees with BNB: commissions in BNB at a 25% discount (at the scenario's
        /// `bnb_price`, 600 by default) while the account's free BNB covers them, as the scenario
        /// key `fee_asset_mode=bnb` does.
        #[arg(long)]
        bnb_fees: bool,
        /// The account starts as a fresh exchange account's: only the quote currency, none of
        /// the assets the markets sell (the scenario's base-asset balances are dropped).
        #[arg(long)]
        fresh_account: bool,
        /// When the venue stops (Ctrl-C, SIGTERM), write the bot audit of this run's requests
        /// here: an HTML page, or JSON for a name ending in .json (docs/venue.md, "Bot audit").
        #[arg(long, value_name = "FILE")]
        bot_audit: Option<PathBuf>,
    },
    /// What each client of the venue lost track of, read from the venue's --record: orphaned
    /// and doubled orders, reused client ids, ignored waits and bans, clock drift, repeated
    /// refusals (docs/venue.md, "Bot audit"). Exit 0 clean, 1 findings, 2 unreadable.
    BotAudit {
        /// The venue's record (`venue --record`).
        #[arg(value_name = "RECORD.jsonl")]
        file: PathBuf,
        /// Print the audit as one JSON object.
        #[arg(long)]
        json: bool,
        /// Also write the audit here: an HTML page (JSON for a name ending in .json).
        #[arg(short = 'o', long = "out", value_name = "REPORT.html")]
        out: Option<PathBuf>,
    },
    /// Make the run report of an audit log: one self-contained HTML page with charts of the
    /// execution and its quality metrics (docs/report.md).
    Report {
        /// The audit log (a run's `--audit`, or a live journal).
        #[arg(value_name = "AUDIT.jsonl")]
        file: PathBuf,
        /// The recorded market of the run (trades, klines or quotes CSV).
        #[arg(long, value_name = "FILE.csv")]
        market: Option<PathBuf>,
        /// The symbol the market file is (default: the log's only symbol).
        #[arg(long, value_name = "BASE/QUOTE", requires = "market")]
        market_symbol: Option<String>,
        /// The scenario the run replayed: its price rows are the price path.
        #[arg(long, value_name = "FILE.csv")]
        scenario: Option<PathBuf>,
        /// Where the page goes.
        #[arg(short = 'o', long = "out", value_name = "REPORT.html")]
        out: PathBuf,
    },
    /// Check an audit log against the transition table and completeness rules.
    CheckAudit {
        /// The JSONL audit log.
        #[arg(value_name = "AUDIT.jsonl")]
        file: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A bad value is one line, as the commands report every other bad input.
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidValue => {
            let text = e.render().to_string();
            let parts: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            errln!("{}", parts.join(" "));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // `live` stops cleanly on Ctrl-C itself: it finishes the requests in flight first.
    // A venue that writes its bot audit on stop waits for the signal itself.
    if !matches!(
        cli.command,
        Command::Live { .. }
            | Command::Venue {
                bot_audit: Some(_),
                ..
            }
    ) {
        output::on_interrupt_clean_up();
    }
    match cli.command {
        Command::Demo { audit } => demo::run(audit.as_deref()),
        Command::CheckAudit { file, json } => check_audit::main(&file, json),
        Command::BotAudit { file, json, out } => bot_audit::main(&file, json, out.as_deref()),
        Command::Report {
            file,
            market,
            market_symbol,
            scenario,
            out,
        } => report_cmd::main(report_cmd::Args {
            file: &file,
            market: market.as_deref(),
            market_symbol: market_symbol.as_deref(),
            scenario: scenario.as_deref(),
            out: &out,
        }),
        Command::Live {
            venue,
            intents,
            journal,
            observe,
            budget,
            request_timeout_ms,
            json,
            truncate_damaged,
        } => live_cmd::main(live_cmd::Args {
            venue: &venue,
            intents: &intents,
            journal: &journal,
            observe,
            budget: &budget,
            request_timeout_ms,
            json,
            truncate_damaged,
        }),
        Command::Venue {
            listen,
            allow_remote,
            scenario,
            market,
            market_symbol,
            market_speed,
            faults,
            seed,
            record,
            api_key,
            api_secret,
            weight_limit,
            order_limit,
            ban_secs,
            max_connections,
            speed,
            stall_ms,
            ws_expiry_ms,
            ws_faults,
            fresh_account,
            bot_audit,
            bnb_fees,
        } => serve_venue::main(serve_venue::Args {
            listen: &listen,
            allow_remote,
            scenario: scenario.as_deref(),
            market: market.as_deref(),
            market_symbol: market_symbol.as_deref(),
            market_speed,
            faults,
            seed,
            record: record.as_deref(),
            api_key: api_key.as_deref(),
            api_secret: api_secret.as_deref(),
            weight_limit,
            order_limit,
            ban_secs,
            max_connections,
            speed,
            stall_ms,
            ws_expiry_ms,
            ws_faults,
            fresh_account,
            bot_audit: bot_audit.as_deref(),
            bnb_fees,
        }),
        Command::Recover {
            journal,
            snapshot,
            truncate_damaged,
        } => recover::main(&journal, snapshot.as_deref(), truncate_damaged),
        Command::Bench {
            intents,
            recovery: true,
            open,
            ..
        } => bench::recovery(intents, open),
        Command::Bench {
            intents,
            no_check,
            audit,
            sync,
            ..
        } => bench::main(intents, !no_check, audit.as_deref(), sync),
        Command::Tape {
            from,
            hours,
            seed,
            out,
            allow_large,
        } => tape_cmd::grow(&from, hours, seed, &out, allow_large),
        Command::Replay {
            tape,
            symbol,
            every_ms,
            tick_size,
            step_size,
            min_notional,
            seed,
            no_check,
            audit,
        } => tape_cmd::replay(tape_cmd::ReplayArgs {
            tape: &tape,
            symbol: &symbol,
            every_ms,
            tick_size,
            step_size,
            min_notional,
            seed,
            check: !no_check,
            audit: audit.as_deref(),
        }),
        Command::Fuzz {
            seeds,
            jobs,
            shard,
            intents,
            faults,
            check_determinism,
            require_coverage,
            no_model,
            out,
            mutant,
            stack,
            stack_every,
            adapter_mutant,
        } => {
            let mutant = match mutant.map(available).transpose() {
                Ok(m) => m,
                Err(code) => return code,
            };
            if adapter_mutant.is_some() && !AdapterMutant::AVAILABLE {
                errln!("error: --adapter-mutant: this build has no deliberate bugs (build with `--features mutants`)");
                return ExitCode::from(2);
            }
            fuzz::main(fuzz::Args {
                seeds: &seeds,
                jobs,
                shard: shard.as_deref(),
                intents,
                faults,
                check_determinism,
                require_coverage,
                model: !no_model,
                out: &out,
                mutant,
                stack,
                stack_every,
                adapter_mutant,
            })
        }
        Command::Run {
            file,
            seed,
            audit,
            market,
            market_symbol,
            json,
            no_model,
            max_steps,
            crash_at,
            crash_mode,
            crash_everywhere,
            report,
            mutant,
        } => {
            let (mutant_name, tweak) = match mutant.map(available).transpose() {
                Ok(None) => (None, None),
                Ok(Some((m, name))) => {
                    let tweak: run::Tweak = Box::new(move |c| {
                        c.set_mutant(m);
                    });
                    (Some(name), Some(tweak))
                }
                Err(code) => return code,
            };
            run::main(run::Args {
                file: &file,
                seed,
                audit: audit.as_deref(),
                market: market.as_deref(),
                market_symbol: market_symbol.as_deref(),
                json,
                model: !no_model,
                max_steps,
                crash_at: crash_at.map(|n| (n, crash_mode)),
                crash_everywhere,
                report: report.as_deref(),
                mutant: mutant_name,
                tweak,
            })
        }
    }
}

/// A deliberate bug, in a build that has them (the test builds), with its name.
fn available(m: Mutant) -> Result<(Mutant, &'static str), ExitCode> {
    if !Mutant::AVAILABLE {
        errln!(
            "error: --mutant: this build has no deliberate bugs (build with `--features mutants`)"
        );
        return Err(ExitCode::from(2));
    }
    Ok((m, m.name()))
}

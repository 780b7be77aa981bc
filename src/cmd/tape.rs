//! `order-router tape` (grow a day-long trade tape from a short recording) and
//! `order-router replay` (a tape of any length through the simulator with the router in the
//! loop, streamed in constant memory).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use order_router::model::Symbol;
use order_router::router::MarketRules;
use order_router::sim::market::{Record, Records};
use order_router::sim::tape::{self, TapeProgress};
use order_router::sim::{run_observed, RunOptions};
use rust_decimal::Decimal;

use crate::measure::Counter;
use crate::output::Output;
use crate::progress::Reporter;

fn bad(message: &str) -> ExitCode {
    errln!("error: {message}");
    ExitCode::from(2)
}

/// The longest recording `tape` reads into memory.
const MAX_RECORDED: usize = 10_000_000;

pub fn grow(from: &Path, hours: u64, seed: u64, out: &Path, allow_large: bool) -> ExitCode {
    if hours == 0 || hours > tape::MAX_HOURS {
        return bad(&format!("--hours: must be in 1..={}", tape::MAX_HOURS));
    }
    let file = from.display().to_string();
    let records = match Records::open(from) {
        Ok(r) => r,
        Err(e) => return bad(&e.to_string()),
    };
    let mut recorded: Vec<Record> = Vec::new();
    for r in records {
        match r {
            Ok(r) if recorded.len() < MAX_RECORDED => recorded.push(r),
            Ok(r) => {
                return bad(&format!(
                    "{file}:{}: file: a recording of more than {MAX_RECORDED} trades; take a part of it",
                    r.line
                ))
            }
            Err(e) => return bad(&e.to_string()),
        }
    }
    // Checked before anything is written: a tape of gigabytes must be asked for.
    if let Some(e) = tape::estimate(&recorded, hours).filter(|e| e.is_large()) {
        if !allow_large {
            return bad(&format!(
                "{file}: {hours} h grown from this recording would be about {} trades ({:.1} GiB), more than {} trades or {} GiB; pass --allow-large to write it anyway, or ask for fewer --hours",
                e.trades,
                e.bytes as f64 / f64::from(1u32 << 30),
                tape::MAX_TRADES,
                tape::MAX_BYTES >> 30,
            ));
        }
    }
    // The tape is written to a temporary file and renamed when whole.
    let mut output = match Output::create(out, &[from]) {
        Ok(o) => o,
        Err(e) => return bad(&e),
    };
    let to_stdout = output.is_stdout();
    let grown = match tape::synthesize(&file, &recorded, hours, seed, &mut output) {
        Ok(g) => g,
        Err(e) => return bad(&e.to_string()),
    };
    if let Err(e) = output.commit() {
        return bad(&e);
    }
    let price = |t: i64| tape::ticks_to_decimal(t, grown.places);
    let summary = format!(
        "tape      {} trades over {:.1} h of market time, grown from {} recorded (seed {seed})\nprices    {} to {}, tick {}",
        grown.trades,
        grown.span_ms as f64 / 3_600_000.0,
        recorded.len(),
        price(grown.low),
        price(grown.high),
        Decimal::new(1, grown.places),
    );
    if to_stdout {
        errln!("{summary}");
    } else {
        outln!("{summary}");
    }
    ExitCode::SUCCESS
}

/// Options of `replay`.
pub struct ReplayArgs<'a> {
    pub tape: &'a Path,
    pub symbol: &'a str,
    pub every_ms: u64,
    pub tick_size: Option<Decimal>,
    pub step_size: Option<Decimal>,
    pub min_notional: Option<Decimal>,
    pub seed: u64,
    pub check: bool,
    pub audit: Option<&'a Path>,
}

/// The most an intent interval can be: a day.
const MAX_EVERY_MS: u64 = 86_400_000;

pub fn replay(a: ReplayArgs<'_>) -> ExitCode {
    let symbol = match Symbol::parse(a.symbol) {
        Ok(s) => s,
        Err(e) => return bad(&format!("--symbol: {e}")),
    };
    if a.every_ms == 0 || a.every_ms > MAX_EVERY_MS {
        return bad(&format!("--every-ms: must be in 1..={MAX_EVERY_MS}"));
    }
    let mut rules: MarketRules = order_router::exchange::sim::VenueConfig::default().default_rules;
    let limit = order_router::router::limits::MAX_AMOUNT;
    for (name, v, slot) in [
        ("--tick-size", a.tick_size, &mut rules.tick_size),
        ("--step-size", a.step_size, &mut rules.step_size),
        ("--min-notional", a.min_notional, &mut rules.min_notional),
    ] {
        if let Some(v) = v {
            if v <= Decimal::ZERO || v > limit {
                return bad(&format!("{name}: must be positive and at most 10^15"));
            }
            *slot = v;
        }
    }
    let file = a.tape.display().to_string();
    let records = match Records::open(a.tape) {
        Ok(r) => r,
        Err(e) => return bad(&e.to_string()),
    };
    let scenario = tape::replay_scenario(&symbol, rules, a.seed);
    let opts = RunOptions {
        seed: a.seed,
        check_invariants: a.check,
        max_steps: u64::MAX,
        keep_audit: a.audit.is_some(),
        // Throughput over hundreds of thousands of intents: the lockstep model's cost grows with
        // the intents open at once, so it runs in `run` and `fuzz` (every scenario, every seed),
        // not here.
        model: false,
        ..RunOptions::default()
    };
    let out = match a.audit.map(|p| Output::create(p, &[a.tape])).transpose() {
        Ok(o) => o,
        Err(e) => return bad(&e),
    };
    let to_stdout = out.as_ref().is_some_and(Output::is_stdout);
    let progress = Rc::new(RefCell::new(TapeProgress::default()));
    let rows = tape::replay_rows(
        records,
        symbol.clone(),
        rules,
        a.every_ms,
        a.seed,
        progress.clone(),
    );
    let mut sink = Counter(0, out);
    let mut reporter = Reporter::new("replay", "steps");
    let mut tell = |steps: u64, t_ms: u64| {
        reporter.tell(steps, &format!("market time {:.1} h", t_ms as f64 / 3.6e6))
    };
    // Wall-clock throughput for the user; nothing simulated reads it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let r = run_observed(&scenario, Box::new(rows), &opts, &mut sink, Some(&mut tell));
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let p = progress.borrow();
    if let Some(e) = &p.error {
        // The audit's temporary file is dropped with `sink`: nothing half-done is left.
        return bad(&e.to_string());
    }
    if p.records == 0 {
        return bad(&format!("{file}:1: file: no price records"));
    }
    let written = sink.0;
    if let Some(out) = sink.1 {
        if let Err(e) = out.commit() {
            return bad(&e);
        }
    }
    if let Some(f) = r.failed_expects.first() {
        return bad(&f.to_string());
    }
    let per = |n: u64| n as f64 / secs;
    let mut s = String::new();
    macro_rules! say {
        ($($t:tt)*) => {{
            let _ = writeln!(s, $($t)*);
        }};
    }
    say!(
        "tape      {file}: {} records, {} price changes, {:.1} h of market time on {symbol}",
        p.records,
        p.price_changes,
        p.t_ms as f64 / 3_600_000.0
    );
    say!(
        "time      {secs:.2} s, {:.0} market records/s, {:.0} market hours per wall second",
        per(p.records),
        p.t_ms as f64 / 3_600_000.0 / secs
    );
    say!(
        "intents   {} (one every {} ms), {:.0}/s",
        r.intents,
        a.every_ms,
        per(r.intents)
    );
    crate::measure::steps_and_checks(&mut s, &r, secs);
    say!("audit     {} lines, {} bytes", r.audit_lines, written);
    crate::measure::finish(s, &r, a.check, to_stdout)
}

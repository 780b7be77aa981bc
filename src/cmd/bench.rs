//! `order-router bench`: the fixed workload of `sim::workload`, measured.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use order_router::journal::SyncPolicy;
use order_router::sim::{run_observed, workload, RunOptions};

use crate::measure::{finish, peak_rss_kib, steps_and_checks, Counter};
use crate::output::Output;
use crate::progress::Reporter;

/// The most intents `--intents` runs.
pub const MAX_INTENTS: u64 = 1_000_000_000;

pub fn main(intents: u64, check: bool, audit: Option<&Path>, sync: SyncPolicy) -> ExitCode {
    if intents == 0 || intents > MAX_INTENTS {
        errln!("error: --intents: must be in 1..={MAX_INTENTS}");
        return ExitCode::from(2);
    }
    let scenario = workload::scenario();
    let opts = RunOptions {
        seed: 1,
        check_invariants: check,
        max_steps: u64::MAX,
        keep_audit: audit.is_some(),
        // With a journal file: written and synced per batch, before the batch's commands.
        durable_audit: audit.is_some() && sync == SyncPolicy::Batch,
        // Throughput over hundreds of thousands of intents: the lockstep model's cost grows with
        // the intents open at once, so it runs in `run` and `fuzz` (every scenario, every seed),
        // not here.
        model: false,
        ..RunOptions::default()
    };
    // The audit log is streamed into a temporary file, renamed when complete (removed if the
    // run fails or is interrupted).
    let out = match audit
        .map(|p| Output::create(p, &[]).map(|o| o.syncing(sync == SyncPolicy::Batch)))
        .transpose()
    {
        Ok(o) => o,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let to_stdout = out.as_ref().is_some_and(Output::is_stdout);
    let mut sink = Counter(0, out);
    let mut progress = Reporter::new("bench", "steps");
    let mut tell = |steps: u64, t_ms: u64| progress.tell(steps, &format!("sim time {t_ms} ms"));
    // Wall-clock throughput for the user; nothing simulated reads it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let r = run_observed(
        &scenario,
        Box::new(workload::rows(intents)),
        &opts,
        &mut sink,
        Some(&mut tell),
    );
    let written = sink.0;
    if let Some(out) = sink.1 {
        if let Err(e) = out.commit() {
            errln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(f) = r.failed_expects.first() {
        errln!("error: {f}");
        return ExitCode::from(2);
    }
    // With the log on standard output, the summary goes to standard error.
    let mut summary = String::new();
    macro_rules! say {
        ($($t:tt)*) => {{
            let _ = writeln!(summary, $($t)*);
        }};
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let per = |n: u64| n as f64 / secs;
    say!(
        "workload  {intents} intents over 4 markets, light fault mix, invariants {}",
        if check { "checked" } else { "off" }
    );
    say!("time      {secs:.2} s (sim time {} ms)", r.end_ms);
    say!("intents   {:.0}/s", per(r.intents));
    steps_and_checks(&mut summary, &r, secs);
    say!(
        "audit     {} lines, {} bytes, {:.1} MB/s, {:.0} lines/s",
        r.audit_lines,
        written,
        per(written) / 1e6,
        per(r.audit_lines)
    );
    if audit.is_some() {
        say!(
            "journal   {}",
            match sync {
                SyncPolicy::Batch => format!(
                    "{} syncs (fdatasync per batch), {:.0}/s",
                    r.syncs,
                    per(r.syncs)
                ),
                SyncPolicy::Never => "not synced (--sync none)".to_string(),
            }
        );
    }
    finish(summary, &r, check, to_stdout)
}

/// `bench --recovery`: the cost of a restart with `finished` intents behind a snapshot and
/// `open` in flight (half in the snapshot, half in the journal written since). Builds the
/// files, then measures reading them back into a running router: time and peak memory (the
/// peak counter is reset between the two).
pub fn recovery(finished: u64, open: u64) -> ExitCode {
    use order_router::journal::snapshot;
    use order_router::model::{fnv1a64, Asset, IntentId, Side, Symbol};
    use order_router::portfolio::Portfolio;
    use order_router::router::{Finished, Input, Replay, Router, RouterConfig, State};
    use rust_decimal::Decimal;

    if finished > MAX_INTENTS || open == 0 || open > 1_000_000 {
        errln!("error: --intents must be at most {MAX_INTENTS}, --open in 1..=1000000");
        return ExitCode::from(2);
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            errln!("error: a temporary directory: {e}");
            return ExitCode::from(2);
        }
    };
    let usdt = Asset::new("USDT").expect("an asset name");
    let mut funding = Portfolio::new();
    let _ = funding.deposit(&usdt, Decimal::from(1_000_000_000u64));
    let btc = Symbol::parse("BTC/USDT").expect("a symbol");
    let cfg = RouterConfig::default();
    let Ok(mut router) = Router::new(cfg.clone(), funding.clone()) else {
        return ExitCode::from(2);
    };
    // Open intents: placed, never answered. Their lines are the journal.
    let mut journal = Vec::new();
    let deliver = |router: &mut Router, from: u64, to: u64, journal: &mut Vec<u8>| {
        for i in from..to {
            let id = IntentId::new(&format!("open-{i}")).expect("an id");
            let intent = order_router::Intent::new(
                id,
                i,
                btc.clone(),
                Side::Buy,
                Decimal::new(1, 3),
                Decimal::from(50_000),
            )
            .expect("an intent");
            router
                .handle(i, Input::Deliver(intent))
                .expect("time goes forward");
            while let Some(l) = router.poll_audit() {
                order_router::audit::write_line(journal, &l);
            }
        }
    };
    let half = open / 2;
    deliver(&mut router, 0, half, &mut journal);
    let snap = router.snapshot();
    let mut done = Finished::with_capacity(finished as usize);
    for i in 0..finished {
        done.insert(fnv1a64(format!("done-{i}").as_bytes()), State::Reconciled);
    }
    let replay = Replay::from_parts(
        snap.open().cloned().collect(),
        done,
        snap.booked.clone(),
        snap.stats,
        snap.edges,
        snap.last,
    );
    drop(snap);
    // The journal since the snapshot: the rest of the open intents (the rotated segment).
    journal.clear();
    deliver(&mut router, half, open, &mut journal);
    drop(router);
    let snap_path = dir.path().join("snapshot");
    let journal_path = dir.path().join("journal.jsonl");
    // A benchmark measures wall time; the router and simulator never read it.
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    let bytes = snapshot::encode(&replay);
    drop(replay);
    if let Err(e) = snapshot::write_atomic(&snap_path, &bytes)
        .and_then(|()| std::fs::write(&journal_path, &journal))
    {
        errln!("error: writing the files: {e}");
        return ExitCode::from(2);
    }
    let write_s = t.elapsed().as_secs_f64();
    let (snap_len, journal_len) = (bytes.len(), journal.len());
    drop(bytes);
    drop(journal);
    // Reset the peak-memory counter: what follows is the restart alone.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    let restarted = snapshot::read(&snap_path).and_then(|r| {
        let journal = std::fs::read(&journal_path)
            .map_err(|e| order_router::router::RecoverError::Snapshot(e.to_string()))?;
        Router::recover(cfg, funding, r, &journal, open)
    });
    let recover_s = t.elapsed().as_secs_f64();
    let rec = match restarted {
        Ok(r) => r,
        Err(e) => {
            errln!("error: recovery failed: {e}");
            return ExitCode::from(1);
        }
    };
    outln!("recovery  {finished} finished intents, {open} open ({half} in the snapshot, {} in the journal since)", open - half);
    outln!(
        "files     snapshot {:.1} MiB, journal {:.1} KiB, written in {write_s:.2} s (fsync and rename included)",
        snap_len as f64 / 1_048_576.0,
        journal_len as f64 / 1024.0
    );
    outln!(
        "restart   {recover_s:.2} s to a router with {} intents in flight ({} lines replayed)",
        rec.router.in_flight(),
        rec.scan.lines
    );
    match peak_rss_kib() {
        Some(k) => outln!(
            "memory    peak {:.1} MiB resident during the restart",
            k as f64 / 1024.0
        ),
        None => outln!("memory    peak unknown on this system"),
    }
    ExitCode::SUCCESS
}

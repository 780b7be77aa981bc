//! `order-router bench`: the fixed workload of `sim::workload`, measured.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use order_router::journal::SyncPolicy;
use order_router::sim::{run_observed, workload, RunOptions};

use crate::output::Output;
use crate::progress::Reporter;

/// Counts what it is given and passes it on (to an output, or nowhere).
struct Counter(u64, Option<Output>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = match &mut self.1 {
            Some(o) => o.write(buf)?,
            None => buf.len(),
        };
        self.0 += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.1 {
            Some(o) => o.flush(),
            None => Ok(()),
        }
    }
}

/// Peak resident memory of this process, from the kernel (Linux); `None` elsewhere.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

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
    say!(
        "events    {} simulator steps, {:.0}/s",
        r.steps,
        per(r.steps)
    );
    say!(
        "checks    {} invariant checks, {:.0}/s",
        r.checks,
        per(r.checks)
    );
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
    match peak_rss_kib() {
        Some(k) => say!("memory    peak {:.1} MiB resident", k as f64 / 1024.0),
        None => say!("memory    peak unknown on this system"),
    }
    let states: Vec<String> = r
        .final_states
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    say!("outcome   {}", states.join(", "));
    let code = match &r.violation {
        Some(v) => {
            say!("VIOLATION {v}");
            ExitCode::from(1)
        }
        None if !check => {
            say!("invariants not checked (--no-check)");
            ExitCode::SUCCESS
        }
        None => {
            say!("invariants all held");
            ExitCode::SUCCESS
        }
    };
    if to_stdout {
        errln!("{}", summary.trim_end());
    } else {
        out!("{summary}");
    }
    code
}

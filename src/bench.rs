//! `order-router bench`: the fixed workload of `sim::workload`, measured.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use order_router::sim::{run_with, workload, RunOptions};

/// Counts what it is given and keeps nothing: the audit log is serialised, then dropped.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Peak resident memory of this process, from the kernel (Linux); `None` elsewhere.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn main(intents: u64, check: bool) -> ExitCode {
    if intents == 0 {
        eprintln!("error: --intents: must be at least 1");
        return ExitCode::from(2);
    }
    let scenario = workload::scenario();
    let opts = RunOptions {
        seed: 1,
        check_invariants: check,
        max_steps: u64::MAX,
        ..RunOptions::default()
    };
    let mut sink = Counter(0);
    let started = Instant::now();
    let r = run_with(
        &scenario,
        Box::new(workload::rows(intents)),
        &opts,
        &mut sink,
    );
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let per = |n: u64| n as f64 / secs;
    println!(
        "workload  {intents} intents over 4 markets, light fault mix, invariants {}",
        if check { "checked" } else { "off" }
    );
    println!("time      {secs:.2} s (sim time {} ms)", r.end_ms);
    println!("intents   {:.0}/s", per(r.intents));
    println!(
        "events    {} simulator steps, {:.0}/s",
        r.steps,
        per(r.steps)
    );
    println!(
        "checks    {} invariant checks, {:.0}/s",
        r.checks,
        per(r.checks)
    );
    println!(
        "audit     {} lines, {} bytes, {:.1} MB/s",
        r.audit_lines,
        sink.0,
        per(sink.0) / 1e6
    );
    match peak_rss_kib() {
        Some(k) => println!("memory    peak {:.1} MiB resident", k as f64 / 1024.0),
        None => println!("memory    peak unknown on this system"),
    }
    let states: Vec<String> = r
        .final_states
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    println!("outcome   {}", states.join(", "));
    match &r.violation {
        Some(v) => {
            println!("VIOLATION {v}");
            ExitCode::from(1)
        }
        None => {
            println!("invariants all held");
            ExitCode::SUCCESS
        }
    }
}

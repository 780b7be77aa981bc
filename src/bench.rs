//! `order-router bench`: the fixed workload of `sim::workload`, measured.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use order_router::sim::{run_with, workload, RunOptions};

/// Counts what it is given and passes it on (to a file, or nowhere).
struct Counter<W>(u64, W);

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.1.write(buf)?;
        self.0 += n as u64;
        Ok(n)
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

pub fn main(intents: u64, check: bool, audit: Option<&Path>) -> ExitCode {
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
    // The audit log is streamed: to a file beside its final name, renamed when complete.
    let partial = audit.map(|p| {
        let mut s = p.as_os_str().to_owned();
        s.push(".partial");
        PathBuf::from(s)
    });
    let out: Box<dyn Write> = match &partial {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(BufWriter::with_capacity(1 << 20, f)),
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => Box::new(std::io::sink()),
    };
    let mut sink = Counter(0, out);
    // Wall-clock throughput for the user; nothing simulated reads it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let r = run_with(
        &scenario,
        Box::new(workload::rows(intents)),
        &opts,
        &mut sink,
    );
    if let (Some(tmp), Some(path)) = (&partial, audit) {
        let done = sink.flush().and_then(|()| std::fs::rename(tmp, path));
        if let Err(e) = done {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
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

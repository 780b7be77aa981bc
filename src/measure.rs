//! What the workload commands (`bench`, `replay`) share: counting the audit bytes, peak memory
//! and the summary's common lines.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use crate::output::Output;

/// Counts what it is given and passes it on (to an output, or nowhere).
pub struct Counter(pub u64, pub Option<Output>);

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
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The simulator's steps and checks, and their rates, as workload summaries give them.
pub fn steps_and_checks(summary: &mut String, r: &order_router::sim::Report, secs: f64) {
    let per = |n: u64| n as f64 / secs;
    let _ = writeln!(
        summary,
        "events    {} simulator steps, {:.0}/s",
        r.steps,
        per(r.steps)
    );
    let _ = writeln!(
        summary,
        "checks    {} invariant checks, {:.0}/s",
        r.checks,
        per(r.checks)
    );
}

/// The end every workload summary shares (`bench`, `replay`): peak memory, final states and
/// the verdict; printed to standard output, or to standard error when the log goes there.
pub fn finish(
    mut summary: String,
    r: &order_router::sim::Report,
    check: bool,
    to_stdout: bool,
) -> ExitCode {
    macro_rules! say {
        ($($t:tt)*) => {{
            let _ = writeln!(summary, $($t)*);
        }};
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

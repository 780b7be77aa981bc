//! Progress of long work, on standard error: a line every few seconds (on a terminal or not,
//! so CI logs show a campaign moving). The simulator reads no clock; the command line does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often a progress line is printed: every 5 s, or every `ORDER_ROUTER_PROGRESS_MS`.
fn every() -> Duration {
    std::env::var("ORDER_ROUTER_PROGRESS_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(5), Duration::from_millis)
}

/// Prints `what: N units, R units/s[, eta E s][, extra]` at most every few seconds.
pub struct Reporter {
    what: &'static str,
    unit: &'static str,
    total: Option<u64>,
    every: Duration,
    started: Instant,
    last: Instant,
}

impl Reporter {
    pub fn new(what: &'static str, unit: &'static str) -> Reporter {
        // Wall-clock progress for the user; nothing simulated reads it.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        Reporter {
            what,
            unit,
            total: None,
            every: every(),
            started: now,
            last: now,
        }
    }

    /// With a known total, lines carry the share done and an estimate of the time left.
    pub fn with_total(mut self, total: u64) -> Reporter {
        self.total = Some(total);
        self
    }

    /// Reports `done` if the last line is old enough.
    pub fn tell(&mut self, done: u64, extra: &str) {
        if self.last.elapsed() < self.every {
            return;
        }
        self.last += self.last.elapsed();
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = done as f64 / secs;
        let mut line = format!("{}: {done} {}", self.what, self.unit);
        if let Some(total) = self.total {
            let eta = total.saturating_sub(done) as f64 / rate.max(1e-9);
            line += &format!(" of {total}, {rate:.0}/s, eta {eta:.0} s");
        } else {
            line += &format!(", {rate:.0}/s");
        }
        if !extra.is_empty() {
            line += ", ";
            line += extra;
        }
        errln!("{line}");
    }
}

/// A counter many threads bump, reported by a watcher thread until [`Watch::finish`].
pub struct Watch {
    pub done: AtomicU64,
    stop: AtomicBool,
}

impl Watch {
    pub fn new() -> Watch {
        Watch {
            done: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    /// Runs in its own thread: a line every few seconds until `finish`.
    pub fn report(&self, mut reporter: Reporter) {
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            reporter.tell(self.done.load(Ordering::Relaxed), "");
        }
    }

    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

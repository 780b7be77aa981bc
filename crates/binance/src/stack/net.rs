//! The simulated wire between the live client and the venue: requests go to the venue's
//! sans-IO handler in process, and its answers come back delivered as the HTTP server would
//! deliver them (at once, late, or never: a dropped or stalled connection), on tokio's paused
//! clock. The transport also watches the client keep the holds the venue announced.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::live::transport::{Clock, NoAnswer, Sending, Transport, WireAnswer, WireRequest};
use crate::model::TimeMs;
use crate::venue::{Delivery, Method, Request, Venue};

/// Simulated time: Unix milliseconds that start at `start_ms` when the clock is made and run
/// with tokio's (paused, auto-advancing) clock. Made inside the runtime.
#[derive(Debug)]
pub struct SimClock {
    origin: tokio::time::Instant,
    start_ms: TimeMs,
}

impl SimClock {
    pub fn new(start_ms: TimeMs) -> SimClock {
        SimClock {
            origin: tokio::time::Instant::now(),
            start_ms,
        }
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> TimeMs {
        let elapsed = tokio::time::Instant::now().duration_since(self.origin);
        self.start_ms
            .saturating_add(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The venue and what the wire saw, shared by every client of one run (a restarted driver
/// gets a new client and transport on the same venue).
#[derive(Debug)]
pub struct Wire {
    pub venue: Mutex<Venue>,
    /// The venue's record lines, in the order the venue handled the requests.
    pub record: Mutex<Vec<u8>>,
    /// Rule breaks the wire saw (a request sent during a hold).
    pub violations: Mutex<Vec<(&'static str, String)>>,
}

impl Wire {
    pub fn new(mut venue: Venue) -> Arc<Wire> {
        venue.record();
        Arc::new(Wire {
            venue: Mutex::new(venue),
            record: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
        })
    }

    fn violation(&self, name: &'static str, detail: String) {
        self.violations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name, detail));
    }
}

/// The name under which a request sent while a `Retry-After` hold was on is reported.
pub const SENT_DURING_HOLD: &str = "sent_during_hold";

/// One client's connection to the venue: `latency_ms` each way, answers cut off after
/// `timeout_ms` as reqwest's timeout does.
#[derive(Debug)]
pub struct SimTransport {
    wire: Arc<Wire>,
    clock: Arc<SimClock>,
    latency_ms: u64,
    timeout_ms: u64,
    /// The `Retry-After` hold the venue last told this client of: until when (local time).
    hold_until: Mutex<TimeMs>,
}

impl SimTransport {
    pub fn new(wire: Arc<Wire>, clock: Arc<SimClock>, latency_ms: u64, timeout_ms: u64) -> Self {
        SimTransport {
            wire,
            clock,
            latency_ms,
            timeout_ms,
            hold_until: Mutex::new(0),
        }
    }

    async fn exchange(&self, req: WireRequest) -> Result<WireAnswer, NoAnswer> {
        let started = self.clock.now_ms();
        let deadline = started.saturating_add(self.timeout_ms);
        // Trading requests only: setup calls retry on their own schedule, and a restarted
        // process cannot know the hold its predecessor was told of.
        let trading = req.path == "/api/v3/order" || req.path == "/api/v3/myTrades";
        let held = *self
            .hold_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if trading && started < held {
            self.wire.violation(
                SENT_DURING_HOLD,
                format!(
                    "{} {} sent at {started}, {} ms before the venue's Retry-After hold ended",
                    req.method,
                    req.path,
                    held - started
                ),
            );
        }
        let timed_out = || NoAnswer::lost("operation timed out");
        if self.latency_ms >= self.timeout_ms {
            tokio::time::sleep(Duration::from_millis(self.timeout_ms)).await;
            return Err(timed_out());
        }
        tokio::time::sleep(Duration::from_millis(self.latency_ms)).await;
        let now = self.clock.now_ms();
        let reply = {
            let mut venue = self
                .wire
                .venue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let request = Request {
                method: Method::parse(req.method.as_str()),
                path: &req.path,
                query: &req.query,
                body: b"",
                api_key: req.api_key.as_deref(),
                client: "127.0.0.1",
            };
            let reply = venue.handle(now, &request);
            if let Some(line) = &reply.record {
                let mut record = self
                    .wire
                    .record
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                record.extend_from_slice(line.as_bytes());
                record.push(b'\n');
            }
            reply
        };
        // What the answer still needs to arrive, and whether it arrives at all.
        let (wait, arrives) = match reply.delivery {
            Delivery::Now => (self.latency_ms, true),
            Delivery::After(ms) => (ms.saturating_add(self.latency_ms), true),
            Delivery::Drop => (self.latency_ms, false),
            Delivery::Stall(ms) => (ms, false),
        };
        let left = deadline.saturating_sub(self.clock.now_ms());
        if wait >= left {
            tokio::time::sleep(Duration::from_millis(left)).await;
            return Err(timed_out());
        }
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if !arrives {
            return Err(NoAnswer::lost("connection closed before message completed"));
        }
        let answer = WireAnswer {
            status: reply.status,
            headers: reply
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            body: reply.body,
        };
        if answer.status == 429 || answer.status == 418 {
            let secs = answer
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let until = self
                .clock
                .now_ms()
                .saturating_add(secs.saturating_mul(1_000));
            let mut held = self
                .hold_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *held = (*held).max(until);
        }
        Ok(answer)
    }
}

impl Transport for SimTransport {
    fn send(&self, req: WireRequest) -> Sending<'_> {
        Box::pin(self.exchange(req))
    }
}

//! The write-ahead step every drive loop shares, written once: the router's audit lines into
//! the journal, made durable and reported so, and only then the commands they describe.
//!
//! [`next_command`] is the whole step. The synchronous driver, the simulator and the live
//! driver all call it; they differ only in what they do with the command it returns (execute
//! it at once, put it on a simulated network, spawn a request) and in their [`AuditSink`].

use crate::audit::{write_line, AuditLine};
use crate::router::{Command, Event, Output, Router};

/// Where a drive loop puts the router's outputs: audit lines into the journal, events to
/// whoever wants them.
pub trait AuditSink {
    fn line(&mut self, line: AuditLine);
    /// Lines the router wrote as JSONL itself ([`Router::write_audit_jsonl`]): `lines` whole
    /// lines, each ending in a newline.
    fn jsonl(&mut self, bytes: &[u8], lines: u64);
    /// Makes every line so far durable (a file sink syncs here); the commands those lines
    /// describe go out only after it returned `true`. On `false` the drive stops: nothing is
    /// sent that the journal may not show.
    fn make_durable(&mut self) -> bool {
        true
    }
    /// A typed event ([`Router::emit_events`]); it follows the line that records it.
    fn event(&mut self, _event: Event) {}
    /// `true` to have [`next_command`] stop with [`Step::Lines`] after a run of lines, before
    /// anything else happens: a sink that checks a whole batch (or crashes in its middle).
    fn pause_after_lines(&self) -> bool {
        false
    }
}

/// JSONL, appended.
impl AuditSink for Vec<u8> {
    fn line(&mut self, line: AuditLine) {
        write_line(self, &line);
    }

    fn jsonl(&mut self, bytes: &[u8], _lines: u64) {
        self.extend_from_slice(bytes);
    }
}

/// Drops every line unformatted (for measuring the router without its log).
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl AuditSink for Discard {
    fn line(&mut self, _: AuditLine) {}

    fn jsonl(&mut self, _: &[u8], _: u64) {}
}

/// What one [`next_command`] ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// A command to send: every line before it is durable.
    Send(Command),
    /// A run of lines went to a sink that asked to look at them ([`AuditSink::pause_after_lines`]);
    /// call again to go on.
    Lines,
    /// Every line is durable and no command may go out: feed the router an input or a timer.
    Idle,
    /// The sink could not make the lines durable: nothing more may be sent.
    Failed,
}

/// The write-ahead step: hands the router's lines and events to `log` and returns the next
/// command the router releases. When the next command waits on lines `log` holds, they are
/// made durable and reported (`journal_durable`) first; a command that needs none of them goes
/// out without waiting for the sync.
pub fn next_command(router: &mut Router, log: &mut impl AuditSink) -> Step {
    step(router, log, true)
}

/// Like [`next_command`] without releasing a command: every line so far into `log`, made
/// durable and reported (a driver that stops sending, or a last flush). `false` when the sink
/// failed.
pub fn write_ahead(router: &mut Router, log: &mut impl AuditSink) -> bool {
    loop {
        match step(router, log, false) {
            Step::Failed => return false,
            Step::Lines => continue,
            Step::Idle | Step::Send(_) => return true,
        }
    }
}

fn step(router: &mut Router, log: &mut impl AuditSink, release: bool) -> Step {
    let mut lines = false;
    loop {
        if lines && log.pause_after_lines() && !router.has_lines() {
            return Step::Lines;
        }
        let out = if release || router.has_lines() || router.has_events() {
            router.poll_output()
        } else {
            None
        };
        match out {
            Some(Output::Line(l)) => {
                lines = true;
                log.line(l);
            }
            Some(Output::Jsonl {
                bytes, lines: n, ..
            }) => {
                lines = true;
                log.jsonl(bytes, n);
            }
            Some(Output::Event(e)) => log.event(e),
            Some(Output::Command(c)) => return Step::Send(c),
            None => {
                let Some(seq) = router.undurable() else {
                    return Step::Idle;
                };
                // `seq` was handed out just now, so the router cannot refuse it.
                if !log.make_durable() || router.journal_durable(seq).is_err() {
                    return Step::Failed;
                }
            }
        }
    }
}

//! The write-ahead step every drive loop shares: the router's audit lines into the journal,
//! made durable, and only then the commands they describe.

use crate::audit::{write_line, AuditLine};
use crate::router::Router;

/// Where a drive loop puts the router's audit lines: the journal.
pub trait AuditSink {
    fn line(&mut self, line: &AuditLine);
    /// Lines the router wrote as JSONL itself ([`Router::write_audit_jsonl`]): `lines` whole
    /// lines, each ending in a newline.
    fn jsonl(&mut self, bytes: &[u8], lines: u64);
    /// Makes every line so far durable (a file sink syncs here); the commands those lines
    /// describe go out only after it returned `true`. On `false` the drive stops: nothing is
    /// sent that the journal may not show.
    fn make_durable(&mut self) -> bool {
        true
    }
}

/// JSONL, appended.
impl AuditSink for Vec<u8> {
    fn line(&mut self, line: &AuditLine) {
        write_line(self, line);
    }

    fn jsonl(&mut self, bytes: &[u8], _lines: u64) {
        self.extend_from_slice(bytes);
    }
}

/// Drops every line unformatted (for measuring the router without its log).
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl AuditSink for Discard {
    fn line(&mut self, _: &AuditLine) {}

    fn jsonl(&mut self, _: &[u8], _: u64) {}
}

/// Write-ahead: hands the router's pending audit lines to `log`, makes them durable and tells
/// the router so; only then does it release the commands those lines describe. `false` when
/// the sink failed: nothing more may be sent.
pub fn write_ahead(router: &mut Router, log: &mut impl AuditSink) -> bool {
    let mut last = None;
    while let Some(line) = router.poll_audit() {
        log.line(&line);
        last = Some(line.seq);
    }
    // Lines the router wrote itself come after any it had queued.
    if let Some(seq) = router.take_audit_jsonl(|bytes, lines| log.jsonl(bytes, lines)) {
        last = Some(seq);
    }
    if let Some(seq) = last {
        if !log.make_durable() {
            return false;
        }
        router.journal_durable(seq);
    }
    true
}

//! The drive loop for a venue that answers at once (the in-memory venue, or a blocking client).
//!
//! Time is virtual: when nothing is left to do now, the clock jumps to the router's next timer.
//! A live driver runs the same loop with the wall clock and real waits; the simulator runs it
//! with latency and faults between command and reply.

use crate::driver::{next_command, AuditSink, Step};
use crate::exchange::{execute, Exchange};
use crate::model::TimeMs;
use crate::router::{Input, Router};

/// How a [`drive`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveEnd {
    /// The clock when the router went idle (or the step limit hit).
    pub end_ms: TimeMs,
    /// Commands executed.
    pub commands: u64,
    /// False when the step limit stopped a router that still had work (a venue that never
    /// answers keeps an unknown order unresolved forever, by design).
    pub idle: bool,
}

/// Most commands one [`drive`] executes before it gives up on reaching idle.
pub const MAX_COMMANDS: u64 = 1_000_000;

/// Feeds `inputs` (in time order) to the router, executes its commands against `venue` with
/// zero latency, hands audit lines to `log` (JSONL into a `Vec<u8>`, or [`Discard`]), and advances time until the router is idle.
pub fn drive<E: Exchange + ?Sized>(
    router: &mut Router,
    venue: &mut E,
    start_ms: TimeMs,
    inputs: impl IntoIterator<Item = Input>,
    log: &mut impl AuditSink,
) -> DriveEnd {
    drive_timed(
        router,
        venue,
        inputs.into_iter().map(|i| (start_ms, i)),
        log,
    )
}

/// Like [`drive`], with each input at its own time (non-decreasing).
pub fn drive_timed<E: Exchange + ?Sized>(
    router: &mut Router,
    venue: &mut E,
    inputs: impl IntoIterator<Item = (TimeMs, Input)>,
    log: &mut impl AuditSink,
) -> DriveEnd {
    drive_observed(router, venue, inputs, log, |_, _, _| {})
}

/// Like [`drive_timed`], calling `observe(router, venue, now)` after every step (each input,
/// reply and timer), so a test can check invariants where they could break.
pub fn drive_observed<E: Exchange + ?Sized>(
    router: &mut Router,
    venue: &mut E,
    inputs: impl IntoIterator<Item = (TimeMs, Input)>,
    log: &mut impl AuditSink,
    mut observe: impl FnMut(&Router, &E, TimeMs),
) -> DriveEnd {
    let mut inputs = inputs.into_iter().peekable();
    let mut now: TimeMs = inputs.peek().map_or(0, |(t, _)| *t);
    let mut commands = 0u64;
    loop {
        match next_command(router, log) {
            Step::Failed => {
                return DriveEnd {
                    end_ms: now,
                    commands,
                    idle: false,
                }
            }
            Step::Lines => continue,
            Step::Send(cmd) => {
                commands += 1;
                let reply = execute(&cmd, venue, now);
                // `now` never goes backwards here, so the router has no contract to refuse.
                let _ = router.handle(now, Input::Reply(reply));
                observe(router, venue, now);
                if commands < MAX_COMMANDS {
                    continue;
                }
            }
            Step::Idle => {}
        }
        if commands >= MAX_COMMANDS {
            return DriveEnd {
                end_ms: now,
                commands,
                idle: false,
            };
        }
        let timer = router.poll_timeout();
        let next_input = inputs.peek().map(|(t, _)| *t);
        match (timer, next_input) {
            (None, None) => {
                return DriveEnd {
                    end_ms: now,
                    commands,
                    idle: true,
                }
            }
            (Some(t), i) if i.is_none_or(|i| t < i) => {
                now = now.max(t);
                let _ = router.handle_timeout(now);
                observe(router, venue, now);
            }
            _ => {
                if let Some((t, input)) = inputs.next() {
                    now = now.max(t);
                    let _ = router.handle(now, input);
                    observe(router, venue, now);
                }
            }
        }
    }
}

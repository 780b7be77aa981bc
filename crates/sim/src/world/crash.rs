//! Crashes of the router's process, and its restart from the journal.
//!
//! The journal is a byte vector standing for the file: every drain syncs it (group commit), so
//! a crash can only catch the lines of the batch being written. A crash after the Nth append
//! leaves that batch's lines all written, all dropped, or the last one torn (cut short, or a
//! byte garbled and its newline missing), as SQLite's crash tests model a disk. Replies to the dead process are lost;
//! the venue keeps working; deliveries wait on the bus. After `restart_ms` the router is
//! rebuilt by [`Router::recover`] from the journal's bytes alone (plus the funding the scenario
//! gave it), the bus delivers again every intent whose `NEW` line is not durable (and, as an
//! at-least-once bus does, the last one delivered), and the `recovery` checks compare what was
//! rebuilt with what the durable log says.

use rand::Rng;
use rustc_hash::FxHashSet;

use super::{fault_index, Event, World};
use crate::audit::{write_line, AuditLine};
use crate::decision::Intent;
use crate::invariants::recovery::{replay_differs, RestartProbe};
use crate::invariants::Violation;
use crate::portfolio::Portfolio;
use crate::router::{Replay, Resume, Router};
use crate::scenario::{CrashMode, RowKind, Scenario, Spec};

#[derive(Debug, Default)]
pub(super) struct Crashes {
    /// The journal as on disk.
    journal: Vec<u8>,
    /// Lines appended to the journal so far, over the whole run.
    appends: u64,
    /// Crashes waiting for their append: (append number, mode).
    armed: Vec<(u64, CrashMode)>,
    /// What the scenario deposited: the funding a restart starts from.
    pub(super) funding: Portfolio,
    /// Every intent delivered, in order, once.
    delivered: Vec<(Intent, Spec)>,
    seen: FxHashSet<crate::model::IntentId>,
    /// The router's generation (one per restart), and until when it is down.
    gen: u32,
    down_until: Option<u64>,
    /// The `seq` of the last durable line; the first line after a restart must follow it.
    last_seq: Option<u64>,
    expect_seq: Option<u64>,
    /// A restart happened; its checks run after the step that rebuilt the router.
    check_restart: bool,
    pub(super) restarts: u64,
    /// The router's snapshot taken between steps, with the journal's length then: restarts
    /// also rebuild from it and the journal, as a deployment that writes snapshot files does.
    snapshot: Option<(Replay, usize)>,
    /// The append count at which the next snapshot is taken (spaced ever wider, so a long run
    /// spends little on them).
    next_snapshot: u64,
    /// The harness's own replay of the journal, line by line as each is appended: what a
    /// snapshot must equal.
    replay: Replay,
    /// Lines in the journal.
    lines: usize,
    /// The restart probes ran (once a run: each reads the whole journal several times).
    probed: bool,
}

impl Crashes {
    /// Crash simulation for this run, if anything in it can crash the router.
    pub(super) fn wanted(scenario: &Scenario, opts: &super::RunOptions) -> Option<Box<Crashes>> {
        let profile = opts.profile.unwrap_or(scenario.profile);
        let rows = scenario
            .rows
            .iter()
            .any(|r| matches!(r.kind, RowKind::Crash { .. }));
        (rows || profile.crash_bps > 0 || opts.crash_at.is_some()).then(|| {
            let mut c = Box::<Crashes>::default();
            if let Some((n, mode)) = opts.crash_at {
                c.armed.push((n, mode));
            }
            c
        })
    }

    pub(super) fn delivered(&mut self, intent: &Intent, spec: &Spec) {
        if self.seen.insert(intent.intent_id().clone()) {
            self.delivered.push((intent.clone(), spec.clone()));
        }
    }

    /// Appends one durable line; after a restart the first must continue the durable `seq`.
    pub(super) fn append(&mut self, line: &AuditLine) -> Option<String> {
        write_line(&mut self.journal, line);
        self.last_seq = Some(line.seq);
        self.lines += 1;
        if let Err(e) = self.replay.apply(self.lines, line) {
            return Some(format!("the journal does not replay: {e}"));
        }
        let expected = self.expect_seq.take()?;
        (line.seq != expected).then(|| {
            format!(
                "the restarted router's first line has seq {}, the journal's next is {expected}",
                line.seq
            )
        })
    }
}

impl World<'_> {
    pub(super) fn gen(&self) -> u32 {
        self.crashes.as_ref().map_or(0, |c| c.gen)
    }

    pub(super) fn down_until(&self) -> Option<u64> {
        self.crashes.as_ref().and_then(|c| c.down_until)
    }

    pub(super) fn is_down(&self) -> bool {
        self.down_until().is_some()
    }

    /// Where in a batch of `n` lines a crash strikes, if one does: (index, mode).
    pub(super) fn crash_cut(&mut self, n: usize) -> Option<(usize, CrashMode)> {
        let crash_bps = if self.calm {
            0
        } else {
            self.opts.profile.unwrap_or(self.scenario.profile).crash_bps
        };
        let c = self.crashes.as_mut()?;
        let first = c.appends + 1;
        c.appends += n as u64;
        let armed = c
            .armed
            .iter()
            .enumerate()
            .filter(|(_, (at, _))| (first..=c.appends).contains(at))
            .min_by_key(|(_, (at, _))| *at)
            .map(|(i, &(at, mode))| (i, at, mode));
        if let Some((i, at, mode)) = armed {
            c.armed.swap_remove(i);
            // Appends after the crash never happened.
            c.appends = at;
            return Some(((at - first) as usize, mode));
        }
        if n > 0 && crash_bps > 0 && self.rng.random_range(0..10_000u32) < crash_bps {
            let k = self.rng.random_range(0..n);
            let mode = CrashMode::ALL[self.rng.random_range(0..3usize)];
            if let Some(c) = self.crashes.as_mut() {
                c.appends = c.appends - n as u64 + k as u64 + 1;
            }
            return Some((k, mode));
        }
        None
    }

    /// A `crash` row: the process dies now (every line is durable between steps), or after
    /// `after` more appends.
    pub(super) fn crash_row(&mut self, after: u64, mode: CrashMode) -> Option<Violation> {
        let down = self.is_down();
        let c = self.crashes.as_mut()?;
        if after == 0 {
            if !down {
                self.crash(None);
            }
        } else {
            c.armed.push((c.appends + after, mode));
        }
        None
    }

    /// The router's process dies. `torn` is the line it was writing when a torn crash struck.
    pub(super) fn crash(&mut self, torn: Option<&AuditLine>) {
        let restart_at = self.now.saturating_add(self.scenario.restart_ms);
        // A restarted process has not seen the answers that imposed the hold.
        self.hold_until = 0;
        if let Some(line) = torn {
            let mut bytes = Vec::new();
            write_line(&mut bytes, line);
            // Cut short somewhere inside, or all there but its newline with one digit garbled.
            // Either way it lacks its newline: a line that has one was written whole, and
            // damage to it is no crash's doing (recovery refuses it).
            let digits: Vec<usize> = (0..bytes.len())
                .filter(|&i| bytes[i].is_ascii_digit())
                .collect();
            if self.rng.random_bool(0.5) && !digits.is_empty() {
                let at = digits[self.rng.random_range(0..digits.len())];
                bytes[at] = b'0' + (bytes[at] - b'0' + 1 + self.rng.random_range(0..9u8)) % 10;
                bytes.pop();
            } else {
                let cut = self.rng.random_range(1..bytes.len() - 1);
                bytes.truncate(cut);
            }
            if let Some(c) = self.crashes.as_mut() {
                c.journal.extend_from_slice(&bytes);
            }
        }
        // Whatever the dead process still held is gone with it.
        while self.router.poll_audit().is_some() {}
        while self.router.poll_command().is_some() {}
        self.report.faults[fault_index("crash")] += 1;
        self.requests = Default::default();
        if self.opts.check_invariants {
            self.inv.on_crash();
        }
        if let Some(o) = self.oracle.as_mut() {
            o.crash();
        }
        if let Some(c) = self.crashes.as_mut() {
            c.gen += 1;
            c.down_until = Some(restart_at);
        }
        self.queue.push(restart_at, Event::Restart);
    }

    /// The router comes back, rebuilt from the journal's bytes.
    pub(super) fn restart(&mut self) -> Option<Violation> {
        let config = self.router.config().clone();
        let c = self.crashes.as_mut()?;
        c.down_until = None;
        c.restarts += 1;
        let recovered = Router::recover(
            config.clone(),
            c.funding.clone(),
            Replay::default(),
            &c.journal,
            self.now,
        );
        let rec = match recovered {
            Ok(r) => r,
            Err(e) => {
                // Recovery refused a journal this router wrote: the run cannot go on.
                return Some(
                    self.inv
                        .report("recovery", None, format!("restart refused: {e}")),
                );
            }
        };
        // A torn tail is cut off, as a journal file is on reopening.
        c.journal.truncate(rec.scan.valid_len);
        if self.opts.check_invariants {
            self.inv.on_restart();
            // What `recover` reports as read must be every whole line of the journal.
            if rec.scan.lines != c.lines as u64 {
                let v = format!(
                    "recovery says it read {} journal lines; the journal holds {}",
                    rec.scan.lines, c.lines
                );
                return Some(self.inv.report("recovery", None, v));
            }
            // `order-router recover` shows the plan; the restart must carry out that plan.
            let unplanned = rec
                .resumed
                .iter()
                .find(|(_, state, did)| *did != Resume::planned(*state));
            if let Some((id, state, did)) = unplanned {
                let v = format!(
                    "resumed an intent left in {state} with `{}`; the plan says `{}`",
                    did.as_str(),
                    Resume::planned(*state).as_str()
                );
                return Some(self.inv.report("recovery", Some(id.as_str()), v));
            }
            // On one run in four (by seed): each probe reads the whole journal.
            if !c.probed && self.opts.seed.is_multiple_of(4) {
                c.probed = true;
                let probe = RestartProbe {
                    cfg: &config,
                    funding: &c.funding,
                    journal: &c.journal,
                    now: self.now,
                    snapshot: c.snapshot.as_ref().map(|(r, at)| (r, *at)),
                };
                if let Some(v) = probe
                    .snapshot_restarts(&rec.router)
                    .or_else(|| probe.refusals())
                {
                    return Some(self.inv.report("recovery", None, v));
                }
            }
        }
        c.expect_seq = Some(c.last_seq.map_or(0, |s| s + 1));
        c.check_restart = true;
        self.router = rec.router;
        if let Some(o) = self.oracle.as_mut() {
            o.restart(self.now);
        }
        let mut again: Vec<(Intent, Spec)> = c
            .delivered
            .iter()
            .filter(|(i, _)| self.router.state_of(i.intent_id()).is_none())
            .cloned()
            .collect();
        if let Some(last) = c.delivered.last() {
            if !again.iter().any(|(i, _)| i == &last.0) {
                again.push(last.clone());
            }
        }
        for (intent, spec) in again {
            self.queue.push(
                self.now,
                Event::Deliver {
                    intent,
                    spec,
                    original: false,
                },
            );
        }
        None
    }

    /// Between steps, now and then: the router's snapshot, which must be what replaying the
    /// journal so far gives, with as many open and finished intents as the log says.
    pub(super) fn take_snapshot(&mut self) -> Option<Violation> {
        let c = self.crashes.as_mut()?;
        if c.down_until.is_some() || c.appends < c.next_snapshot {
            return None;
        }
        c.next_snapshot = c.appends + (c.appends / 4).max(16);
        let snap = self.router.snapshot();
        let (open, finished) = self.inv.open_and_finished();
        let differs = replay_differs(&snap, &c.replay).or_else(|| {
            (snap.open().count() != open || snap.finished().len() != finished).then(|| {
                format!(
                    "it holds {} open and {} finished intents, the log {open} and {finished}",
                    snap.open().count(),
                    snap.finished().len()
                )
            })
        });
        c.snapshot = Some((snap, c.journal.len()));
        differs.map(|d| {
            self.inv.report(
                "recovery",
                None,
                format!("the router's snapshot is not what its journal replays to: {d}"),
            )
        })
    }

    /// After the step that rebuilt the router: the `recovery` checks.
    pub(super) fn after_restart(&mut self) -> Option<Violation> {
        let c = self.crashes.as_mut()?;
        if !std::mem::take(&mut c.check_restart) {
            return None;
        }
        self.inv
            .after_restart(&self.router, c.delivered.iter().map(|(i, _)| i))
    }

    /// At the end: the journal is the audit log; and the router's own snapshot must be what
    /// replaying its journal gives (what a restart from a snapshot would rebuild).
    pub(super) fn finish_crashes(&mut self) -> Option<Violation> {
        let c = self.crashes.take()?;
        self.report.restarts = c.restarts;
        let mut replay = Replay::default();
        let scanned = crate::router::scan(
            &mut replay,
            &c.journal,
            &crate::router::RouterConfig::default(),
        );
        if self.opts.keep_audit {
            self.audit_buf = c.journal;
        }
        if !self.opts.check_invariants || self.report.violation.is_some() {
            return None;
        }
        let theirs = self.router.snapshot();
        let differs = match scanned {
            Err(e) => Some(format!("the journal does not replay: {e}")),
            Ok(_) => replay_differs(&theirs, &replay),
        };
        differs.map(|d| {
            self.inv.report(
                "recovery",
                None,
                format!("the router's snapshot is not what its journal replays to: {d}"),
            )
        })
    }
}

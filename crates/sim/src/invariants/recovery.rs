//! The checks of a crash and a restart: what the log made durable is exactly what the router
//! rebuilds (states, finished intents, reservations), nothing more and nothing less.

use rust_decimal::Decimal;

use super::{Invariants, Violation};
use crate::audit::{parse_audit_line, write_line, AuditLine, Detail, ReadError, CRC_KEY};
use crate::decision::Intent;
use crate::model::TimeMs;
use crate::portfolio::Portfolio;
use crate::router::{OpenIntent, RecoverError, Replay, Router, RouterConfig, State};

impl Invariants {
    /// The router's process died. Intents it was handed but never logged are forgotten with it:
    /// the bus delivers them again.
    pub fn on_crash(&mut self) {
        let unlogged: Vec<_> = self
            .intents
            .iter()
            .flatten()
            .filter(|t| !t.begun)
            .map(|t| t.id.clone())
            .collect();
        for id in unlogged {
            self.retire(&id);
        }
        // A guard event whose attempt never became durable announced nothing: the restarted
        // router places that attempt afresh, against the market then.
        self.guarded.clear();
    }

    /// The restarted router is about to resume: the intents whose orders may be out, by the
    /// durable log, are in doubt until their next line says otherwise.
    pub fn on_restart(&mut self) {
        self.in_doubt = self
            .intents
            .iter()
            .flatten()
            .filter(|t| t.begun && matches!(t.state, State::Sent | State::Unknown))
            .map(|t| t.id.clone())
            .collect();
    }

    /// No new intent begins while an order of the restart may still be out: what the venue
    /// did with it is not known, so neither is the budget.
    pub(super) fn held_after_restart(&mut self, line: &AuditLine) -> Option<Violation> {
        self.checks += 1;
        if matches!(line.detail, Detail::New { .. }) {
            let waiting = self.in_doubt[0].clone();
            return Some(self.violation(
                "recovery",
                Some(line.intent_id.as_str()),
                format!(
                    "began while the restart's order of {waiting} may still be out (new intents wait until every one is answered for)"
                ),
            ));
        }
        if line.detail.event().is_none() && line.state != State::Unknown {
            self.in_doubt.retain(|id| *id != line.intent_id);
        }
        None
    }

    /// Intents the durable log has begun and not ended, and intents it ended.
    pub fn open_and_finished(&self) -> (usize, usize) {
        let open = self.intents.iter().flatten().filter(|t| t.begun).count();
        (open, self.audit.finished_count())
    }

    /// What the durable log says of an intent: its state, or its terminal state once it ended.
    pub fn logged_state(&self, id: &crate::model::IntentId) -> Option<State> {
        match self.by_intent.get(id) {
            Some(&i) => self.intents[i]
                .as_ref()
                .filter(|t| t.begun)
                .map(|t| t.state),
            None => self.audit.finished_state(id.as_str()),
        }
    }

    /// After a restart (once its first lines are checked): every intent ever delivered is where
    /// the durable log left it, and every asset holds exactly what the log's open intents
    /// reserved.
    pub fn after_restart<'a>(
        &mut self,
        router: &Router,
        delivered: impl Iterator<Item = &'a Intent>,
    ) -> Option<Violation> {
        for intent in delivered {
            self.checks += 1;
            let id = intent.intent_id();
            let logged = self.logged_state(id);
            let rebuilt = router.state_of(id);
            if logged != rebuilt {
                return Some(self.violation(
                    "recovery",
                    Some(id.as_str()),
                    format!("the durable log says {logged:?}, the restarted router {rebuilt:?}"),
                ));
            }
        }
        let portfolio = router.portfolio();
        for i in 0..self.money.len() {
            self.checks += 1;
            let (asset, reserved, _) = &self.money[i];
            let held = portfolio.balance(asset).reserved;
            if held != *reserved {
                let detail = format!(
                    "{asset}: the log's open intents reserve {reserved}, the restarted router holds {held}"
                );
                return Some(self.violation("recovery", None, detail));
            }
        }
        let logged: rust_decimal::Decimal = self.money.iter().map(|m| m.1).sum();
        if portfolio.reserved_total() != logged {
            let detail = format!(
                "the restarted router holds {} in all, the log's open intents {logged}",
                portfolio.reserved_total()
            );
            return Some(self.violation("recovery", None, detail));
        }
        None
    }
}

/// Where two replays of one journal differ (a snapshot against a replay, or two rebuilt
/// routers), if they do. Every field is compared by value, none through a count.
pub fn replay_differs(ours: &Replay, theirs: &Replay) -> Option<String> {
    let same = ours.open().count() == theirs.open().count()
        && ours.open().zip(theirs.open()).all(|(a, b)| same_open(a, b));
    if !same {
        Some(format!(
            "open intents {:?} vs {:?}",
            ours.open().collect::<Vec<_>>(),
            theirs.open().collect::<Vec<_>>()
        ))
    } else if ours.booked != theirs.booked {
        Some(format!("booked {:?} vs {:?}", ours.booked, theirs.booked))
    } else if ours.stats != theirs.stats {
        Some(format!("counters {:?} vs {:?}", ours.stats, theirs.stats))
    } else if ours.edges != theirs.edges {
        Some("transition counts differ".to_string())
    } else if ours.last != theirs.last {
        Some(format!("last line {:?} vs {:?}", ours.last, theirs.last))
    } else if ours.finished().len() != theirs.finished().len()
        || ours
            .finished()
            .raw()
            .any(|raw| ours.finished().get(raw >> 2) != theirs.finished().get(raw >> 2))
    {
        Some(format!(
            "{} finished intents vs {}",
            ours.finished().len(),
            theirs.finished().len()
        ))
    } else {
        None
    }
}

/// Two open intents are the same in all the router reads: the journal's `NEW` line does not
/// carry the decision's own timestamp, which the router never reads.
fn same_open(a: &OpenIntent, b: &OpenIntent) -> bool {
    let (i, j) = (&a.intent, &b.intent);
    (i.intent_id(), i.symbol(), i.side(), i.qty(), i.ref_price())
        == (j.intent_id(), j.symbol(), j.side(), j.qty(), j.ref_price())
        && a.state == b.state
        && a.reserved == b.reserved
        && a.qty == b.qty
        && a.cap == b.cap
        && a.attempt == b.attempt
        && a.orders == b.orders
        && a.order == b.order
        && a.retry_at == b.retry_at
}

/// A restart's journal, and the snapshot taken earlier with the journal's length then.
pub struct RestartProbe<'a> {
    pub cfg: &'a RouterConfig,
    pub funding: &'a Portfolio,
    /// The journal as the restart found it, its torn tail cut off.
    pub journal: &'a [u8],
    pub now: TimeMs,
    pub snapshot: Option<(&'a Replay, usize)>,
}

impl RestartProbe<'_> {
    fn recover(&self, replay: Replay, journal: &[u8]) -> Result<Router, RecoverError> {
        Router::recover(
            self.cfg.clone(),
            self.funding.clone(),
            replay,
            journal,
            self.now,
        )
        .map(|r| r.router)
    }

    /// A restart from the snapshot and the journal (whole, from the snapshot on, or from the
    /// snapshot's own last line) must rebuild `run`, the router rebuilt from the journal alone.
    pub fn snapshot_restarts(&self, run: &Router) -> Option<String> {
        let (snap, offset) = self.snapshot?;
        let lines = line_starts(self.journal);
        let own_line = lines.iter().rev().find(|&&s| s < offset).copied();
        let mut pieces = vec![("the whole journal", 0), ("the journal after it", offset)];
        if let Some(s) = own_line {
            pieces.push(("the journal from its last line", s));
        }
        let theirs = run.snapshot();
        for (what, from) in pieces {
            let Some(piece) = self.journal.get(from..) else {
                continue;
            };
            match self.recover(snap.clone(), piece) {
                Err(e) => return Some(format!("a snapshot and {what} were refused: {e}")),
                Ok(r) => {
                    if let Some(d) = replay_differs(&r.snapshot(), &theirs) {
                        return Some(format!(
                            "a snapshot and {what} rebuild another router than the journal alone: {d}"
                        ));
                    }
                    if r.portfolio() != run.portfolio() {
                        return Some(format!(
                            "a snapshot and {what} rebuild other balances than the journal alone"
                        ));
                    }
                }
            }
        }
        None
    }

    /// A bit of one line's content flipped (a line and byte drawn from the journal's hash) must
    /// be refused as damage at exactly that line: the line's own checksum finds it.
    fn flipped_byte_is_damage(&self, lines: &[usize]) -> Option<String> {
        let journal = self.journal;
        let h = crate::model::fnv1a64(journal);
        let k = (h % lines.len().max(1) as u64) as usize;
        let start = *lines.get(k)?;
        let end = lines.get(k + 1).copied().unwrap_or(journal.len());
        // The content the checksum covers: up to the checksum's own key.
        let body = &journal[start..end];
        let covered = memchr::memmem::find(body, CRC_KEY).unwrap_or(0);
        if covered == 0 || !body.ends_with(b"\n") {
            return None;
        }
        let at = start + ((h >> 17) as usize % covered);
        let mut bytes = journal.to_vec();
        let mut flipped = bytes[at] ^ (1 << ((h >> 41) % 7));
        if flipped == b'\n' {
            flipped ^= 0x40;
        }
        bytes[at] = flipped;
        let by_checksum =
            |e: &ReadError| matches!(e, ReadError::Checksum { line } if *line == k + 1);
        match self.recover(Replay::default(), &bytes) {
            Err(RecoverError::Damaged(d)) if by_checksum(&d.error) => None,
            Err(RecoverError::Corrupt(e)) if by_checksum(&e) => None,
            Err(e) => Some(format!(
                "a bit flipped in line {} (byte {}) was refused for another reason: {e}",
                k + 1,
                at - start
            )),
            Ok(_) => Some(format!(
                "recovery took line {} with a bit flipped (byte {}) as whole",
                k + 1,
                at - start
            )),
        }
    }

    /// The last line cut short at a length drawn from the journal's hash: a torn write, cut off
    /// at the line's start, and nothing refused.
    fn torn_tail_of_any_length(&self, lines: &[usize]) -> Option<String> {
        let journal = self.journal;
        let start = *lines.last()?;
        let len = journal.len() - start;
        // Cut before its last byte of content at least: a line that lacks only its newline is
        // whole, and kept.
        if len < 3 || !journal.ends_with(b"\n") {
            return None;
        }
        let h = crate::model::fnv1a64(journal);
        let cut = start + 1 + ((h >> 7) as usize % (len - 2));
        let torn = &journal[..cut];
        match Router::recover(
            self.cfg.clone(),
            self.funding.clone(),
            Replay::default(),
            torn,
            self.now,
        ) {
            Ok(r) if r.scan.valid_len == start && r.scan.torn_tail.is_some() => None,
            Ok(r) => Some(format!(
                "a last line torn after {} of its {len} bytes was kept up to byte {} of {}",
                cut - start,
                r.scan.valid_len,
                torn.len()
            )),
            Err(e) => Some(format!(
                "a last line torn after {} of its {len} bytes was refused: {e}",
                cut - start
            )),
        }
    }

    /// Journals that say something impossible, or that do not fit the snapshot, must be refused
    /// (and a refusal must name the line): the name of the first one that was not.
    pub fn refusals(&self) -> Option<String> {
        let journal = self.journal;
        let lines = line_starts(journal);
        let line = |i: usize| -> &[u8] {
            let start = lines.get(i).copied().unwrap_or(journal.len());
            let end = lines.get(i + 1).copied().unwrap_or(journal.len());
            &journal[start..end]
        };
        let parsed = |i: usize| parse_audit_line(i + 1, line(i).trim_ascii_end()).ok();
        let refused = |replay: Replay, bytes: &[u8], what: &str| -> Option<String> {
            self.recover(replay, bytes)
                .is_ok()
                .then(|| format!("recovery accepted {what}"))
        };
        // A line damaged before the last one is corruption, not a torn tail.
        if lines.len() >= 2 {
            let k = (lines.len() - 1) / 2;
            let mut bytes = journal.to_vec();
            let end = lines[k + 1];
            if let Some(d) = (lines[k]..end).find(|&i| bytes[i].is_ascii_digit()) {
                bytes[d] = if bytes[d] == b'9' { b'0' } else { bytes[d] + 1 };
                let v = refused(Replay::default(), &bytes, "a journal damaged in its middle");
                if v.is_some() {
                    return v;
                }
            }
        }
        // The last line damaged with its newline intact: damage, not a torn write (taking it
        // for one would forget a SENT and place the order again), so refused unless cut.
        if let Some(&s) = lines.last() {
            let mut bytes = journal.to_vec();
            if bytes.last() == Some(&b'\n') {
                if let Some(d) = (s..bytes.len()).find(|&i| bytes[i].is_ascii_digit()) {
                    bytes[d] = if bytes[d] == b'9' { b'0' } else { bytes[d] + 1 };
                    match self.recover(Replay::default(), &bytes) {
                        Err(RecoverError::Damaged(dmg)) if dmg.line == lines.len() => {}
                        Err(e) => {
                            return Some(format!(
                                "recovery refused a journal damaged in its last line for another reason: {e}"
                            ))
                        }
                        Ok(_) => {
                            return Some(
                                "recovery took a damaged last line (its newline intact) for a torn one"
                                    .into(),
                            )
                        }
                    }
                }
            }
        }
        // Any byte of any line's content, one bit flipped: that line's checksum is what must
        // refuse it, whichever line and byte (the place is drawn from the journal's own bytes,
        // so a run is repeatable).
        if let Some(v) = self.flipped_byte_is_damage(&lines) {
            return Some(v);
        }
        // A torn last line, cut at any length: a tear, cut off; the lines before it stand.
        if let Some(v) = self.torn_tail_of_any_length(&lines) {
            return Some(v);
        }
        // An intent started twice.
        if let (Some(first), Some(last)) = (parsed(0), lines.len().checked_sub(1).and_then(parsed))
        {
            if matches!(first.detail, Detail::New { .. }) {
                let mut bytes = journal.to_vec();
                write_line(
                    &mut bytes,
                    &AuditLine {
                        seq: last.seq + 1,
                        ..first
                    },
                );
                let v = refused(Replay::default(), &bytes, "an intent started twice");
                if v.is_some() {
                    return v;
                }
            }
        }
        // An end that releases more than the intent holds (cut after that line, so nothing later
        // can refuse it instead).
        let over = (0..lines.len())
            .filter_map(|i| Some((i, parsed(i)?)))
            .filter(|(_, l)| released_mut(&mut l.clone()).is_some())
            .min_by_key(|(_, l)| !matches!(l.detail, Detail::PartialSuccess { .. }));
        if let Some((i, mut l)) = over {
            // More than the whole reservation: beyond what it holds, whatever it spent.
            let reserved = (0..i)
                .filter_map(parsed)
                .find_map(|r| match r.detail {
                    Detail::Reserved { amount, .. } if r.intent_id == l.intent_id => Some(amount),
                    _ => None,
                })
                .unwrap_or_default();
            if let Some(r) = released_mut(&mut l) {
                *r = reserved + Decimal::ONE;
            }
            let mut bytes = journal[..lines[i]].to_vec();
            write_line(&mut bytes, &l);
            match self.recover(Replay::default(), &bytes) {
                Err(RecoverError::Disagree { line, .. }) if line == i + 1 => {}
                Err(e) => {
                    return Some(format!(
                        "recovery refused a release beyond the reservation on line {} for another reason: {e}",
                        i + 1
                    ))
                }
                Ok(_) => return Some("recovery accepted a release beyond the reservation".into()),
            }
        }
        let (snap, offset) = self.snapshot?;
        let last = snap.last?;
        let after: Vec<usize> = lines.iter().copied().filter(|&s| s >= offset).collect();
        let own_line = lines.iter().rev().find(|&&s| s < offset).copied();
        let mut probes: Vec<(Replay, Vec<u8>, &str)> = Vec::new();
        if after.len() >= 2 {
            probes.push((
                snap.clone(),
                journal[after[1]..].to_vec(),
                "a journal with a gap after the snapshot",
            ));
        }
        if let Some(s) = own_line.filter(|&s| s > 0) {
            probes.push((
                snap.clone(),
                journal[..s].to_vec(),
                "a journal that stops before the snapshot's last line",
            ));
        }
        if own_line.is_some() {
            let mut other = snap.clone();
            other.last = Some(crate::router::LastLine {
                t_ms: last.t_ms + 1,
                ..last
            });
            probes.push((other, journal.to_vec(), "a snapshot of another journal"));
        }
        if let Some(&a) = after.first() {
            probes.push((
                Replay::default(),
                journal[a..].to_vec(),
                "a journal that starts after a snapshot, without the snapshot",
            ));
        }
        probes
            .into_iter()
            .find_map(|(replay, bytes, what)| refused(replay, &bytes, what))
    }
}

/// Where each line of a journal starts.
fn line_starts(journal: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at < journal.len() {
        starts.push(at);
        at = memchr::memchr(b'\n', &journal[at..]).map_or(journal.len(), |p| at + p + 1);
    }
    starts
}

/// The amount a line releases, for the lines that release one.
fn released_mut(l: &mut AuditLine) -> Option<&mut Decimal> {
    match &mut l.detail {
        Detail::PartialSuccess { released, .. }
        | Detail::FailedFinal { released, .. }
        | Detail::Reconciled { released, .. } => Some(released),
        _ => None,
    }
}

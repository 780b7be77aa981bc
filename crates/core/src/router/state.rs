//! The FSM's states and its one transition table, shared by the router and the audit checker.

use std::fmt;

/// A state of an intent, as written in the audit log (names exactly as in the specification).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    New,
    Reserved,
    Sent,
    Unknown,
    Partial,
    Filled,
    Canceled,
    Error,
    Retry,
    Failed,
    FailedFinal,
    PartialSuccess,
    Reconciled,
    /// A cancel intent's one line: it places nothing of its own, so it starts and ends here,
    /// its outcome (`cancelled`, `already_final`, `unknown_target`) in the line.
    Done,
}

/// How many states there are: the size of counters indexed by state.
pub const STATE_COUNT: usize = 14;

/// Transitions taken: `[from][to]`, `from` 0 for an intent's start and `1 + State::index()`
/// otherwise.
pub type EdgeCounts = [[u64; STATE_COUNT]; STATE_COUNT + 1];

impl State {
    pub const ALL: [State; STATE_COUNT] = [
        State::New,
        State::Reserved,
        State::Sent,
        State::Unknown,
        State::Partial,
        State::Filled,
        State::Canceled,
        State::Error,
        State::Retry,
        State::Failed,
        State::FailedFinal,
        State::PartialSuccess,
        State::Reconciled,
        State::Done,
    ];

    /// The name in the audit log (a `&'static str` from one derived match: the audit line's
    /// hot path pays nothing for it).
    #[inline]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Position in [`State::ALL`], for counters indexed by state.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn parse(s: &str) -> Option<State> {
        s.parse().ok()
    }

    /// No transition leaves it; later lines of the intent may only record events.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Reconciled | State::Failed | State::FailedFinal | State::Done
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one transition table. `from = None` is the start of an intent.
///
/// The router asserts every transition it makes against this function, and `check-audit`
/// validates any log with it, so the two can never disagree.
pub fn is_legal(from: Option<State>, to: State) -> bool {
    use State::*;
    match (from, to) {
        (None, New) => true,
        // A cancel intent is one line: it finds its target live (and cancels it), already
        // final, or unknown, and ends.
        (None, Done) => true,
        // Reserve, or refuse before any order: min notional, lot size, budget.
        (Some(New), Reserved | Failed) => true,
        (Some(Reserved), Sent) => true,
        // A placement reply, or no reply at all (UNKNOWN: timeout, lost reply, server error).
        (Some(Sent), Filled | Partial | Canceled | Error | Unknown) => true,
        // Only a query by client_order_id leaves UNKNOWN: the order was found in some state, or it
        // is confirmed never placed (after the receive window), which ends the attempt like an
        // ERROR: retry, or give up with or without earlier fills.
        (Some(Unknown), Filled | Partial | Canceled | Retry | FailedFinal | PartialSuccess) => true,
        // The query found the order resting with nothing filled: live, as if the placement
        // reply had come. Same client_order_id and attempt (the checker enforces it).
        (Some(Unknown), Sent) => true,
        // A resting GTC order fills more (PARTIAL again), completes, or is cancelled; an IOC
        // remainder expired, so the attempt ends: retry the rest or stop with what filled.
        (Some(Partial), Partial | Filled | Canceled | Retry | PartialSuccess) => true,
        // An attempt ended with no live order: try again, or stop (with or without fills).
        (Some(Canceled | Error), Retry | FailedFinal | PartialSuccess) => true,
        (Some(Retry), Sent) => true,
        // A cancel intent stops an intent that waits (before its first attempt, or between
        // attempts) with no order live: it ends with what filled, the rest released. The
        // checker allows these only after a cancel intent named it (`cancelled`).
        (Some(Reserved), FailedFinal) => true,
        (Some(Retry), FailedFinal | PartialSuccess) => true,
        // Fills are fetched and booked before the intent ends.
        (Some(Filled | PartialSuccess), Reconciled) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_states_are_every_state_in_order() {
        use strum::VariantArray;
        // Counters are indexed by `State::index`, so `ALL` must be the declaration order.
        assert_eq!(State::ALL.as_slice(), State::VARIANTS);
        let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "NEW",
                "RESERVED",
                "SENT",
                "UNKNOWN",
                "PARTIAL",
                "FILLED",
                "CANCELED",
                "ERROR",
                "RETRY",
                "FAILED",
                "FAILED_FINAL",
                "PARTIAL_SUCCESS",
                "RECONCILED",
                "DONE"
            ]
        );
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("FINISHED"), None);
    }

    #[test]
    // rule: audit_complete
    fn terminal_states_have_no_outgoing_edge() {
        for from in State::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in State::ALL {
                assert!(!is_legal(Some(from), to), "{from} -> {to}");
            }
        }
    }

    #[test]
    // rule: audit_complete, liveness
    fn every_non_terminal_state_can_reach_a_terminal_one() {
        for start in State::ALL {
            let mut seen = vec![start];
            let mut i = 0;
            while i < seen.len() {
                for to in State::ALL {
                    if is_legal(Some(seen[i]), to) && !seen.contains(&to) {
                        seen.push(to);
                    }
                }
                i += 1;
            }
            assert!(seen.iter().any(|s| s.is_terminal()), "{start} is a trap");
        }
    }

    #[test]
    // rule: audit_complete
    fn spec_edges_are_legal_and_shortcuts_are_not() {
        assert!(is_legal(None, State::New));
        assert!(!is_legal(None, State::Sent));
        // Releasing or retrying an unknown order blindly needs an edge that does not exist.
        assert!(!is_legal(Some(State::Sent), State::Retry));
        assert!(!is_legal(Some(State::Sent), State::FailedFinal));
        assert!(!is_legal(Some(State::Unknown), State::Error));
        // Fills are never left unreconciled.
        assert!(!is_legal(Some(State::Filled), State::FailedFinal));
        assert!(!is_legal(Some(State::Reserved), State::Filled));
    }
}

/// Intents that reached a terminal state, in 8 bytes each: a 62-bit hash of the intent id with
/// the terminal state in the low two bits. Idempotency must outlive every intent, so this is
/// what a long-running router (or audit checker) keeps per finished intent.
#[derive(Debug, Default, Clone)]
pub struct Finished(rustc_hash::FxHashSet<Entry>);

/// A finished intent: hashed and compared by its 62 fingerprint bits only, so one probe finds
/// it whatever its state (the set is far larger than the caches; each probe is a miss).
#[derive(Debug, Clone, Copy)]
struct Entry(u64);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0 >> 2 == other.0 >> 2
    }
}

impl Eq for Entry {}

impl std::hash::Hash for Entry {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0 >> 2);
    }
}

impl Finished {
    const TERMINAL: [State; 4] = [
        State::Reconciled,
        State::Failed,
        State::FailedFinal,
        State::Done,
    ];

    fn entry(fingerprint: u64, code: usize) -> Entry {
        Entry((fingerprint << 2) | code as u64)
    }

    fn state(e: Entry) -> Option<State> {
        Self::TERMINAL.get((e.0 & 3) as usize).copied()
    }

    /// Records `state` (terminal) for the intent with this 64-bit fingerprint.
    pub fn insert(&mut self, fingerprint: u64, state: State) {
        if let Some(code) = Self::TERMINAL.iter().position(|s| *s == state) {
            self.0.replace(Self::entry(fingerprint, code));
        }
    }

    pub fn get(&self, fingerprint: u64) -> Option<State> {
        self.0
            .get(&Self::entry(fingerprint, 0))
            .and_then(|&e| Self::state(e))
    }

    pub fn remove(&mut self, fingerprint: u64) -> Option<State> {
        self.0
            .take(&Self::entry(fingerprint, 0))
            .and_then(Self::state)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The entries as stored (fingerprint and state in 64 bits), for a snapshot file.
    pub fn raw(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().map(|e| e.0)
    }

    /// Adds an entry as [`Finished::raw`] gave it; `false` if its state bits are not a state.
    pub fn insert_raw(&mut self, raw: u64) -> bool {
        let e = Entry(raw);
        Self::state(e).is_some() && {
            self.0.replace(e);
            true
        }
    }

    pub fn with_capacity(n: usize) -> Finished {
        Finished(rustc_hash::FxHashSet::with_capacity_and_hasher(
            n,
            Default::default(),
        ))
    }

    /// How many ended in each terminal state: `RECONCILED`, `FAILED`, `FAILED_FINAL`, `DONE`.
    pub fn by_state(&self) -> [(State, usize); 4] {
        let mut n = [0usize; 4];
        for e in &self.0 {
            n[(e.0 & 3) as usize] += 1;
        }
        [
            (Self::TERMINAL[0], n[0]),
            (Self::TERMINAL[1], n[1]),
            (Self::TERMINAL[2], n[2]),
            (Self::TERMINAL[3], n[3]),
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod finished_tests {
    use super::*;

    #[test]
    // rule: no_duplicate_orders
    fn remembers_each_terminal_state_and_nothing_else() {
        let mut f = Finished::default();
        f.insert(1, State::Reconciled);
        f.insert(2, State::Failed);
        f.insert(3, State::FailedFinal);
        f.insert(4, State::Sent); // not terminal: ignored
        f.insert(5, State::Done);
        assert_eq!(f.get(5), Some(State::Done));
        assert_eq!(f.remove(5), Some(State::Done));
        assert_eq!(f.get(1), Some(State::Reconciled));
        assert_eq!(f.get(2), Some(State::Failed));
        assert_eq!(f.get(3), Some(State::FailedFinal));
        assert_eq!(f.get(4), None);
        assert_eq!(f.remove(2), Some(State::Failed));
        assert_eq!(f.get(2), None);
        assert_eq!(f.len(), 2);
        // A later terminal state of the same intent replaces the earlier one.
        f.insert(1, State::FailedFinal);
        assert_eq!((f.get(1), f.len()), (Some(State::FailedFinal), 2));
    }
}

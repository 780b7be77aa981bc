//! Liveness, once nothing is left to happen: every intent terminal, the router's counters equal
//! to its log, no reservation left, the portfolio equal to the venue's account.

use super::*;

impl Invariants {
    /// Liveness, once nothing is left to happen: every intent terminal, no reservation left,
    /// the portfolio equal to the venue's account.
    pub fn at_quiescence(&mut self, router: &Router, venue: &SimExchange) -> Option<Violation> {
        let audit = std::mem::take(&mut self.audit);
        let problems = audit.finish();
        self.checks += 1;
        if let Some(p) = problems.get(self.audit_problems) {
            let detail = match &p.kind {
                ProblemKind::NotTerminal { state } => {
                    format!("not terminal at quiescence: {state}")
                }
                _ => p.to_string(),
            };
            return Some(self.violation("audit_complete", p.intent_id.as_deref(), detail));
        }
        self.checks += 1;
        // Every intent delivered reached a terminal line: a router that logs nothing, or
        // handles nothing, is not quiet but broken.
        if let Some(t) = self.intents.iter().flatten().next() {
            return Some(self.violation(
                "audit_complete",
                Some(t.id.as_str()),
                format!(
                    "delivered, but the log never ended it (last logged state {})",
                    t.state
                ),
            ));
        }
        if router.in_flight() != 0 || router.states_in_flight().next().is_some() {
            return Some(self.violation(
                "audit_complete",
                None,
                format!(
                    "the router still counts {} intents in flight",
                    router.in_flight()
                ),
            ));
        }
        // The router's counters say what its log says.
        let stats = router.stats();
        let edges = &self.log_edges;
        let into = |to: State| edges.iter().map(|row| row[to.index()]).sum::<u64>();
        let sent = edges[1 + State::Reserved.index()][State::Sent.index()]
            + edges[1 + State::Retry.index()][State::Sent.index()];
        let out_of_unknown: u64 = edges[1 + State::Unknown.index()]
            .iter()
            .enumerate()
            .filter(|(to, _)| *to != State::Unknown.index())
            .map(|(_, n)| n)
            .sum();
        let counted = [
            ("edges", router.edges() == edges),
            (
                "intents",
                stats.intents == edges[0][State::New.index()] + edges[0][State::Done.index()],
            ),
            (
                "duplicates_ignored",
                stats.duplicates_ignored == self.log_duplicates,
            ),
            ("orders_sent", stats.orders_sent == sent),
            ("retries", stats.retries == into(State::Retry)),
            (
                "unknown_outcomes",
                stats.unknown_outcomes == into(State::Unknown),
            ),
            ("unknown_resolved", stats.unknown_resolved == out_of_unknown),
        ];
        if let Some((name, _)) = counted.iter().find(|(_, ok)| !ok) {
            return Some(self.violation(
                "audit_complete",
                None,
                format!("the router's count of {name} is not what its log shows ({stats:?})"),
            ));
        }
        let p = router.portfolio();
        self.checks += 1;
        let held = venue
            .assets()
            .map(|(a, _)| p.balance(a))
            .chain(p.balances().map(|(_, b)| *b))
            .find(|b| !b.reserved.is_zero());
        if let Some(b) = held {
            return Some(self.violation(
                "reconciled",
                None,
                format!("reservation left at quiescence: {}", b.reserved),
            ));
        }
        for (asset, f) in venue.assets() {
            self.checks += 1;
            let mine = p.balance(asset).total;
            if mine != f.total() {
                return Some(self.violation(
                    "reconciled",
                    None,
                    format!("{asset}: portfolio {mine} != venue {}", f.total()),
                ));
            }
        }
        for (asset, b) in p.balances() {
            self.checks += 1;
            if b.total != venue.funds(asset).total() {
                return Some(self.violation(
                    "reconciled",
                    None,
                    format!(
                        "{asset}: portfolio {} != venue {}",
                        b.total,
                        venue.funds(asset).total()
                    ),
                ));
            }
        }
        None
    }
}

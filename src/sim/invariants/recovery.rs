//! The checks of a crash and a restart: what the log made durable is exactly what the router
//! rebuilds (states, finished intents, reservations), nothing more and nothing less.

use super::{Invariants, Violation};
use crate::decision::Intent;
use crate::router::{Router, State};

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

//! An intent rebuilt from the journal after a restart, and how it goes on (see `recover`).

use super::{Active, OrderFill, Phase};
use crate::audit::Detail;
use crate::grid::GridError;
use crate::portfolio::Reservation;
use crate::router::recover::OpenIntent;
use crate::router::{MarketRules, Mutant, RouterConfig, State};

use super::Cx;

/// What a restart does with an intent it rebuilt (see `recover`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Reserve and place: nothing was held or sent.
    Reserve,
    /// Place the next attempt: its `SENT` never became durable, so nothing went out.
    Place,
    /// Ask the venue for the order by its client order id.
    Query,
    /// Poll the resting order by its client order id.
    Poll,
    /// End the attempt: retry or stop.
    EndAttempt,
    /// Wait out the backoff, then place the next attempt.
    Backoff,
    /// Fetch the trades and book them.
    Reconcile,
    /// Nothing to do.
    Wait,
}

impl Resume {
    /// What a restart does with an intent the journal left in `state` (see `recover`).
    pub fn planned(state: State) -> Resume {
        match state {
            State::New => Resume::Reserve,
            State::Reserved => Resume::Place,
            State::Sent | State::Unknown => Resume::Query,
            State::Partial => Resume::Poll,
            State::Canceled | State::Error => Resume::EndAttempt,
            State::Retry => Resume::Backoff,
            State::Filled | State::PartialSuccess => Resume::Reconcile,
            _ => Resume::Wait,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resume::Reserve => "reserve",
            Resume::Place => "place",
            Resume::Query => "query",
            Resume::Poll => "poll",
            Resume::EndAttempt => "end_attempt",
            Resume::Backoff => "backoff",
            Resume::Reconcile => "reconcile",
            Resume::Wait => "wait",
        }
    }
}

impl Active {
    /// An intent rebuilt from the journal, holding `reservation` again.
    pub(in crate::router) fn recovered(
        o: OpenIntent,
        rules: MarketRules,
        reservation: Option<Reservation>,
        fp: u64,
    ) -> Result<Active, GridError> {
        let mut a = Active::new(o.intent, rules, fp);
        // The market's grid, refined where the journal holds finer values (a router that
        // skipped the lot rounding wrote some): a finer grid holds the coarser one's values.
        let grid = o
            .orders
            .iter()
            .fold(a.grid.fitting_qty(o.qty), |g, f| g.fitting_qty(f.2))
            .fitting_price(o.cap);
        a.grid = grid;
        a.state = o.state;
        a.reservation = reservation;
        a.qty = grid.qty(o.qty)?;
        a.cap = grid.price(o.cap)?;
        a.attempt = o.attempt;
        a.cancelled = o.cancelled;
        a.orders = o
            .orders
            .into_iter()
            .map(|(client_order_id, order_id, filled)| {
                Ok(OrderFill {
                    client_order_id,
                    order_id,
                    filled: grid.qty(filled)?,
                })
            })
            .collect::<Result<_, GridError>>()?;
        if let Some((coid, sent_ms)) = o.order {
            a.phase = Phase::Placing { coid, sent_ms };
        }
        if o.state == State::Retry {
            a.timer = Some(o.retry_at);
        }
        Ok(a)
    }

    /// The intent as the journal so far describes it (what a snapshot holds).
    pub(in crate::router) fn export(&self, cfg: &RouterConfig) -> OpenIntent {
        let order = match &self.phase {
            Phase::Placing { coid, sent_ms }
            | Phase::Unknown { coid, sent_ms, .. }
            | Phase::Working { coid, sent_ms, .. } => Some((coid.clone(), *sent_ms)),
            _ => None,
        };
        OpenIntent {
            intent: self.intent.clone(),
            state: self.state,
            reserved: self
                .reservation
                .as_ref()
                .map(|r| (r.asset().clone(), r.amount())),
            qty: self.grid.qty_decimal(self.qty),
            cap: self.grid.price_decimal(self.cap),
            attempt: self.attempt,
            orders: self
                .orders
                .iter()
                .filter(|_| !cfg.has(Mutant::SnapshotForgetsFills))
                .map(|f| {
                    let filled = self.grid.qty_decimal(f.filled);
                    (f.client_order_id.clone(), f.order_id, filled)
                })
                .collect(),
            order: order.filter(|_| OpenIntent::has_order(self.state)),
            retry_at: match (self.state, &self.phase) {
                (State::Retry, Phase::Backoff) => self.held.or(self.timer).unwrap_or(0),
                _ => 0,
            },
            cancelled: self.cancelled,
        }
    }

    /// Goes on after a restart from the state the journal left (see `recover`).
    pub(in crate::router) fn resume(&mut self, cx: &mut Cx<'_>) -> Resume {
        self.event(cx, Detail::Recovered);
        let order = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Placing { coid, sent_ms } => Some((coid, sent_ms)),
            _ => None,
        };
        let replace = cx.cfg.has(Mutant::ReplaceInFlightOnRestart);
        match (self.state, order) {
            (State::New, _) => {
                self.reserve_and_place(cx);
                Resume::Reserve
            }
            (State::Reserved, _) => {
                self.place(cx);
                Resume::Place
            }
            (State::Sent, Some((coid, sent_ms))) if replace => {
                self.become_unknown(cx, coid, sent_ms, "restart");
                self.phase = Phase::Idle;
                self.end_attempt(cx);
                Resume::EndAttempt
            }
            (State::Unknown, Some(_)) if replace => {
                self.end_attempt(cx);
                Resume::EndAttempt
            }
            (State::Sent, Some((coid, sent_ms))) => {
                self.become_unknown(cx, coid, sent_ms, "restart");
                self.in_doubt = true;
                Resume::Query
            }
            (State::Unknown, Some((coid, sent_ms))) => {
                self.phase = Phase::Unknown {
                    coid,
                    sent_ms,
                    query_sent_ms: None,
                };
                self.query_backoff_ms = cx.cfg.backoff_ms;
                self.in_doubt = true;
                let now = cx.now;
                self.set_timer(cx, now);
                Resume::Query
            }
            (State::Partial, Some((coid, sent_ms))) => {
                self.phase = Phase::Working {
                    coid,
                    sent_ms,
                    cancel_next: false,
                };
                self.in_doubt = true;
                let now = cx.now;
                self.set_timer(cx, now);
                Resume::Poll
            }
            (State::Canceled | State::Error, _) => {
                self.end_attempt(cx);
                Resume::EndAttempt
            }
            (State::Retry, _) => {
                self.phase = Phase::Backoff;
                // When the journal says the backoff ends, even if that has passed: it fires at
                // once, and a snapshot says what the journal says.
                let at = self.timer.take().unwrap_or(cx.now);
                self.set_timer(cx, at);
                Resume::Backoff
            }
            (State::Filled | State::PartialSuccess, _) => {
                self.begin_reconcile(cx);
                Resume::Reconcile
            }
            _ => Resume::Wait,
        }
    }
}

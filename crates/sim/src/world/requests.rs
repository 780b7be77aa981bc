//! What the world saw of each intent's requests and their replies, and the checks that need
//! it: a timeout logged for an answered request, a refusal logged with another code, and a
//! query asked again at the very moment the one before it timed out.

use rustc_hash::FxHashMap;

use super::World;
use crate::audit::{AuditLine, Detail};
use crate::exchange::sim::SimExchange;
use crate::exchange::ExchangeError;
use crate::exchange::OrderStatus;
use crate::invariants::Violation;
use crate::model::{ClientOrderId, IntentId, OrderId, TimeMs, TradeId};
use crate::router::{Action, Command, Reply, ReplyOutcome, RequestId, State};

#[derive(Debug, Default)]
pub(super) struct Requests {
    /// Each intent's latest request.
    last: FxHashMap<IntentId, Last>,
    /// The intent of each such request.
    intent: FxHashMap<RequestId, IntentId>,
    /// The venue's error code of a refusal handed to the router, until its ERROR line.
    rejected: FxHashMap<IntentId, i32>,
    /// An intent handed, in this step, a trade answer that holds exactly the venue's trades of
    /// the order it asked about.
    complete_answer: Option<IntentId>,
    /// An intent handed, in this step, an error in answer to its trade query: it must log when
    /// it asks again (`trades_pending` with the error's cause).
    failed_trades: Option<IntentId>,
    /// When each placement left the router, by client order id (for the timeout boundary).
    placed: FxHashMap<ClientOrderId, TimeMs>,
}

#[derive(Debug)]
struct Last {
    id: RequestId,
    /// Its reply reached the router.
    answered: bool,
    sent_ms: TimeMs,
    /// A query whose timeout the router must answer with a backoff: an order query while the
    /// outcome is unknown, or a trade query.
    backs_off: bool,
    /// The order a trade query asked about.
    trades_of: Option<OrderId>,
    /// What it asked ([`Action::name`]).
    action: &'static str,
}

impl Requests {
    pub(super) fn on_dispatch(&mut self, cmd: &Command, now: TimeMs, backs_off: bool) {
        let old = self.last.insert(
            cmd.intent_id.clone(),
            Last {
                id: cmd.request_id,
                answered: false,
                sent_ms: now,
                backs_off,
                action: cmd.action.name(),
                trades_of: match &cmd.action {
                    Action::FetchTrades { order_id, .. } => Some(*order_id),
                    _ => None,
                },
            },
        );
        if let Some(old) = old {
            self.intent.remove(&old.id);
        }
        self.intent.insert(cmd.request_id, cmd.intent_id.clone());
        if let Action::Place(r) = &cmd.action {
            self.placed.insert(r.client_order_id().clone(), r.sent_ms());
        }
    }

    /// A reply that shows a placement still resting at exactly its `order_timeout_ms`: the
    /// moment the router must switch from polling to cancelling.
    pub(super) fn at_order_timeout(
        &self,
        reply: &Reply,
        now: TimeMs,
        order_timeout_ms: u64,
    ) -> bool {
        match &reply.outcome {
            ReplyOutcome::Order(Ok(o)) if o.status == OrderStatus::Open => self
                .placed
                .get(&o.client_order_id)
                .is_some_and(|sent| sent.saturating_add(order_timeout_ms) == now),
            _ => false,
        }
    }

    /// A reply reaches the router. A trade answer that holds exactly the venue's trades of the
    /// order asked about (each once, no other) is marked complete.
    pub(super) fn on_reply(
        &mut self,
        reply: &Reply,
        venue: &SimExchange,
        now: TimeMs,
        request_timeout_ms: u64,
    ) {
        let Some(id) = self.intent.get(&reply.request_id) else {
            return;
        };
        let Some(last) = self.last.get_mut(id) else {
            return;
        };
        if last.id != reply.request_id {
            return;
        }
        last.answered = true;
        match (&reply.outcome, &last.trades_of) {
            // The venue's refusal, as the router must log it.
            (ReplyOutcome::Order(Err(ExchangeError::Rejected { code, .. })), _) => {
                self.rejected.insert(id.clone(), *code);
            }
            // Only while the router still waits for it: after the request's timeout a late
            // answer is rightly let pass.
            // (An order answer to a trade query is an error the router must not overlook either.)
            (ReplyOutcome::Trades(Err(_)) | ReplyOutcome::Order(_), Some(_))
                if now < last.sent_ms + request_timeout_ms =>
            {
                self.failed_trades = Some(id.clone());
            }
            (ReplyOutcome::Trades(Ok(got)), Some(order)) => {
                let mut answered: Vec<&TradeId> = got
                    .iter()
                    .filter(|t| &t.order_id == order)
                    .map(|t| &t.trade_id)
                    .collect();
                answered.sort_unstable();
                answered.dedup();
                let mut truth: Vec<&TradeId> =
                    venue.trades_of(order).map(|t| &t.trade_id).collect();
                truth.sort_unstable();
                if !truth.is_empty() && answered == truth {
                    self.complete_answer = Some(id.clone());
                }
            }
            _ => {}
        }
    }

    /// The step is over: an error answer to a trade query that the router let pass without a
    /// word, if any.
    pub(super) fn end_step(&mut self) -> Option<IntentId> {
        self.complete_answer = None;
        self.failed_trades.take()
    }
}

impl World<'_> {
    /// A command on its way out, checked: by the invariants, and for when it goes.
    pub(super) fn check_command(&mut self, cmd: &Command) -> Option<Violation> {
        self.inv
            .on_command(cmd)
            .or_else(|| self.query_too_soon(cmd))
            .or_else(|| self.sent_during_hold(cmd))
    }

    /// After a 429 nothing goes out until its `Retry-After` ends: a client that keeps sending
    /// is banned (Binance: for minutes, doubling up to three days).
    fn sent_during_hold(&self, cmd: &Command) -> Option<Violation> {
        (self.now < self.hold_until).then(|| {
            self.inv.report(
                "rate_limit_hold",
                Some(cmd.intent_id.as_str()),
                format!(
                    "{} sent at {} ms, during the venue's rate-limit hold until {} ms",
                    cmd.action.name(),
                    self.now,
                    self.hold_until
                ),
            )
        })
    }

    /// A `rate_limited` ERROR ends an attempt the venue refused; a wait the router imposed on
    /// itself is not an attempt, and spends no retry.
    pub(super) fn spent_on_hold(&mut self, line: &AuditLine) -> Option<Violation> {
        let Detail::Error {
            client_order_id,
            error: "rate_limited",
            ..
        } = &line.detail
        else {
            return None;
        };
        match self.rate_limited_answers.get_mut(client_order_id) {
            Some(n) if *n > 0 => {
                *n -= 1;
                None
            }
            _ => Some(self.inv.report(
                "rate_limit_hold",
                Some(line.intent_id.as_str()),
                format!(
                    "{client_order_id} logged as rate limited, but the venue never refused it: a retry spent on a wait"
                ),
            )),
        }
    }

    /// Whether a query is one whose timeout the router answers with a backoff.
    pub(super) fn backs_off(&self, cmd: &Command) -> bool {
        match cmd.action {
            Action::FetchTrades { .. } => true,
            Action::FetchOrder { .. } => {
                self.inv.logged_state(&cmd.intent_id) == Some(State::Unknown)
            }
            _ => false,
        }
    }

    /// A query that timed out unanswered is asked again after a backoff, not the moment the
    /// timeout fires: a venue that does not answer is often one that is overloaded.
    fn query_too_soon(&mut self, cmd: &Command) -> Option<Violation> {
        if !self.backs_off(cmd) {
            return None;
        }
        let last = self.requests.last.get(&cmd.intent_id)?;
        if !last.backs_off || last.answered {
            return None;
        }
        let cfg = self.router.config();
        // Still inside its timeout, or another question: not the same question asked again
        // (a stream update moved the intent on while the last query was out or backing off).
        if self.now < last.sent_ms.saturating_add(cfg.request_timeout_ms)
            || last.action != cmd.action.name()
        {
            return None;
        }
        let earliest = last
            .sent_ms
            .saturating_add(cfg.request_timeout_ms)
            .saturating_add(cfg.backoff_ms.max(1));
        (self.now < earliest).then(|| {
            self.inv.report(
                "retry_policy",
                Some(cmd.intent_id.as_str()),
                format!(
                    "asked {} again at {} ms; the one sent at {} ms timed out unanswered, so not before {earliest} ms (request timeout, then a backoff)",
                    cmd.action.name(),
                    self.now,
                    last.sent_ms
                ),
            )
        })
    }

    /// A timeout logged for a request whose reply the router was handed: an answer ignored (it
    /// may still end well, by asking again, but the router believed less than it was told).
    pub(super) fn answered_yet_timed_out(&mut self, line: &AuditLine) -> Option<Violation> {
        let timeout = matches!(
            &line.detail,
            Detail::Unknown {
                cause: "timeout",
                ..
            } | Detail::QueryPending {
                cause: "timeout",
                ..
            } | Detail::TradesPending {
                cause: "timeout",
                ..
            }
        );
        if line.state.is_terminal() && line.detail.event().is_none() {
            if let Some(last) = self.requests.last.remove(&line.intent_id) {
                self.requests.intent.remove(&last.id);
            }
        }
        if line.detail.event().is_none() && line.state != State::Error {
            // Any other transition: a refusal not logged as ERROR was not the placement's.
            self.requests.rejected.remove(&line.intent_id);
        }
        if let Detail::Error { rejection, .. } = &line.detail {
            let told = self.requests.rejected.remove(&line.intent_id);
            let logged = rejection.as_ref().map(|r| r.0);
            if told.is_some() && logged != told {
                return Some(self.inv.report(
                    "order_truth",
                    Some(line.intent_id.as_str()),
                    format!("the venue refused with {told:?}, the ERROR line says {logged:?}"),
                ));
            }
        }
        if matches!(line.detail, Detail::TradesPending { .. })
            && self.requests.failed_trades.as_ref() == Some(&line.intent_id)
        {
            self.requests.failed_trades = None;
        }
        if matches!(
            line.detail,
            Detail::TradesPending {
                cause: "incomplete",
                ..
            }
        ) && self.requests.complete_answer.as_ref() == Some(&line.intent_id)
        {
            return Some(self.inv.report(
                "order_truth",
                Some(line.intent_id.as_str()),
                "called a trade answer incomplete that held every trade of the order, each once"
                    .into(),
            ));
        }
        let answered = self
            .requests
            .last
            .get(&line.intent_id)
            .is_some_and(|l| l.answered);
        (timeout && answered).then(|| {
            self.inv.report(
                "order_truth",
                Some(line.intent_id.as_str()),
                "logged a timeout for a request whose reply it was handed".into(),
            )
        })
    }
}

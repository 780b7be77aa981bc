//! One intent's state machine: from NEW to a terminal state, one input at a time.
//!
//! Each [`Phase`] holds only what its step needs; every transition is checked against the one
//! table in [`super::state`]. The router (`mod.rs`) owns the intents and routes inputs to them.
//! [`resume`] holds what a restart does with an intent rebuilt from the journal.

mod resume;

pub use resume::Resume;

use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::io::{Action, Command, OrderRequest, ReplyOutcome, RequestId};
use super::{is_legal, mutant, MarketRules, Mutant, Outputs, RouterConfig, State};
use crate::audit::Detail;
use crate::decision::Intent;
use crate::exchange::{ExchangeError, Order, OrderStatus, Outcome, Trade};
use crate::grid::{Grid, Price, Qty};
use crate::model::{
    bps_fraction, ceil_to, floor_to, ClientOrderId, IntentId, OrderId, Side, TimeMs,
};
use crate::portfolio::{reservation_need, Portfolio, Reservation};

/// What one intent's step may touch.
pub(super) struct Cx<'a> {
    pub(super) cfg: &'a RouterConfig,
    /// `1 + slippage` and `1 - slippage` as factors: the cap over a buy's and a sell's price.
    pub(super) cap_factors: (Decimal, Decimal),
    pub(super) portfolio: &'a mut Portfolio,
    pub(super) out: &'a mut Outputs,
    pub(super) now: TimeMs,
    pub(super) key: u64,
}

/// An order of the intent that filled something; reconciliation fetches its trades.
#[derive(Debug)]
struct OrderFill {
    client_order_id: ClientOrderId,
    order_id: OrderId,
    filled: Qty,
}

/// Where an intent is between audit states; each phase holds only what it needs.
#[derive(Debug)]
pub(super) enum Phase {
    /// Before the first transition, and between a transition and the next phase.
    Idle,
    /// A placement is out; its reply (or its timeout) decides.
    Placing {
        coid: ClientOrderId,
        sent_ms: TimeMs,
    },
    /// The placement's outcome is unknown; queries by `coid` until the venue answers.
    Unknown {
        coid: ClientOrderId,
        sent_ms: TimeMs,
        query_sent_ms: Option<TimeMs>,
    },
    /// A resting order: polled, and cancelled once it outlives the order timeout.
    Working {
        coid: ClientOrderId,
        sent_ms: TimeMs,
        cancel_next: bool,
    },
    /// Waiting out the backoff before the next attempt.
    Backoff,
    /// Fetching the trades of `orders[next]`.
    Reconciling {
        next: usize,
        trades: Vec<Trade>,
    },
    /// The trades could not be booked; the intent stays visible as not terminal.
    Stuck,
    Done,
}

#[derive(Debug)]
pub(super) struct Active {
    /// Its key in the slab.
    pub(super) key: u64,
    pub(super) intent: Intent,
    pub(super) state: State,
    pub(super) phase: Phase,
    reservation: Option<Reservation>,
    rules: MarketRules,
    /// The units of `qty`, `cap` and the fills: the market's lot and tick places.
    grid: Grid,
    /// The intent's qty on the lot grid.
    qty: Qty,
    /// The slippage cap on the tick grid: every limit price, and the reserved price.
    cap: Price,
    /// Attempts made so far.
    attempt: u32,
    /// Orders that filled something; almost always one.
    orders: SmallVec<[OrderFill; 1]>,
    pub(super) timer: Option<TimeMs>,
    /// The request this intent waits for; any other reply is stale.
    pub(super) awaiting: Option<u32>,
    next_request: u32,
    /// Current backoff for repeated queries (unknown order, trades).
    query_backoff_ms: u64,
    /// Its id's fingerprint: the router's key for idempotency.
    pub(super) fp: u64,
    /// Rebuilt after a restart with an order that may be out, not yet answered for.
    pub(super) in_doubt: bool,
}

impl Active {
    pub(super) fn new(intent: Intent, rules: MarketRules, fp: u64) -> Active {
        Active {
            fp,
            in_doubt: false,
            key: 0,
            intent,
            state: State::New,
            phase: Phase::Idle,
            reservation: None,
            grid: Grid::new(rules.step_size, rules.tick_size),
            rules,
            qty: Qty::ZERO,
            cap: Price::ZERO,
            attempt: 0,
            orders: SmallVec::new(),
            timer: None,
            awaiting: None,
            next_request: 0,
            query_backoff_ms: 0,
        }
    }

    fn id(&self) -> &IntentId {
        self.intent.intent_id()
    }

    /// What the orders filled. A sum beyond the grid's integers (reports of absurd fills)
    /// counts as the whole qty: nothing more is placed.
    fn filled(&self) -> Qty {
        self.orders
            .iter()
            .try_fold(Qty::ZERO, |sum, o| sum.checked_add(o.filled))
            .unwrap_or(self.qty)
    }

    /// What is left to place: the qty less the fills (negative when a venue filled more).
    fn remaining(&self) -> Qty {
        self.qty.checked_sub(self.filled()).unwrap_or(Qty::ZERO)
    }

    /// Whether `qty` at the cap reaches the minimum notional.
    fn reaches_min_notional(&self, cx: &Cx<'_>, qty: Qty) -> bool {
        let g = self.grid;
        match (
            g.notional(qty, self.cap),
            g.notional_at_least(self.min_notional(cx)),
        ) {
            (Some(n), Some(min)) => n >= min,
            _ => false,
        }
    }

    fn fee_rate(&self, cx: &Cx<'_>) -> Decimal {
        if cx.cfg.has(Mutant::ForgetFee) {
            return Decimal::ZERO;
        }
        self.rules.fee_bps * bps_fraction()
    }

    fn min_notional(&self, cx: &Cx<'_>) -> Decimal {
        cx.cfg.min_notional.max(self.rules.min_notional)
    }

    fn line(&self, cx: &mut Cx<'_>, state: State, detail: Detail) {
        cx.out
            .emit(cx.now, (self.intent.intent_id(), self.fp), state, detail);
    }

    fn transition(&mut self, cx: &mut Cx<'_>, to: State, detail: Detail) {
        debug_assert!(
            is_legal(Some(self.state), to),
            "illegal transition {} -> {}",
            self.state,
            to
        );
        cx.out.edges[1 + self.state.index()][to.index()] += 1;
        if self.state == State::Unknown && to != State::Unknown {
            cx.out.stats.unknown_resolved += 1;
        }
        self.state = to;
        self.line(cx, to, detail);
    }

    fn event(&self, cx: &mut Cx<'_>, detail: Detail) {
        self.line(cx, self.state, detail);
    }

    fn set_timer(&mut self, cx: &mut Cx<'_>, at: TimeMs) {
        if self.timer.replace(at) != Some(at) {
            cx.out.timers.push(std::cmp::Reverse((at, cx.key)));
        }
    }

    /// Sends a command and waits for its reply until the request timeout.
    fn send(&mut self, cx: &mut Cx<'_>, action: Action) {
        let n = self.next_request;
        self.next_request += 1;
        self.awaiting = Some(n);
        // Every line written so far must be durable before this command goes out.
        let needs = cx.out.seq;
        cx.out.commands.push_back((
            needs,
            Command {
                request_id: RequestId { intent: cx.key, n },
                intent_id: self.id().clone(),
                action,
            },
        ));
        let at = cx.now.saturating_add(cx.cfg.request_timeout_ms);
        self.set_timer(cx, at);
    }

    fn fail(&mut self, cx: &mut Cx<'_>, detail: &'static str) {
        self.transition(
            cx,
            State::Failed,
            Detail::Failed {
                reason: "reserve_failed",
                detail,
            },
        );
        self.phase = Phase::Done;
    }

    /// NEW, then RESERVED and the first attempt, or FAILED before any order.
    pub(super) fn start(&mut self, cx: &mut Cx<'_>) {
        let i = &self.intent;
        cx.out.edges[0][State::New.index()] += 1;
        self.line(
            cx,
            State::New,
            Detail::New {
                symbol: i.symbol().clone(),
                side: i.side(),
                qty: i.qty(),
                ref_price: i.ref_price(),
            },
        );
        self.reserve_and_place(cx);
    }

    /// RESERVED and the first attempt, or FAILED before any order.
    fn reserve_and_place(&mut self, cx: &mut Cx<'_>) {
        let i = &self.intent;
        let (buy_factor, sell_factor) = cx.cap_factors;
        let lot = if cx.cfg.has(Mutant::NoLotRounding) {
            Decimal::new(1, 28)
        } else {
            self.rules.step_size
        };
        let (qty, cap) = match i.side() {
            Side::Buy => (
                floor_to(i.qty(), lot),
                buy_factor
                    .checked_mul(i.ref_price())
                    .and_then(|p| floor_to(p, self.rules.tick_size)),
            ),
            Side::Sell => (
                floor_to(i.qty(), lot),
                sell_factor
                    .checked_mul(i.ref_price())
                    .and_then(|p| ceil_to(p, self.rules.tick_size)),
            ),
        };
        let (Some(qty), Some(cap)) = (qty, cap) else {
            return self.fail(cx, "overflow");
        };
        if qty <= Decimal::ZERO {
            return self.fail(cx, "lot_size");
        }
        if cap <= Decimal::ZERO {
            return self.fail(cx, "price");
        }
        // From here on the intent counts in its market's units (the lot's places are the
        // deliberate bug's when it skips the rounding).
        let grid = Grid::new(lot, self.rules.tick_size);
        let (Ok(units), Ok(cap_units)) = (grid.qty(qty), grid.price(cap)) else {
            return self.fail(cx, "overflow");
        };
        (self.grid, self.cap) = (grid, cap_units);
        if !self.reaches_min_notional(cx, units) {
            return self.fail(cx, "min_notional");
        }
        let Some((asset, amount)) =
            reservation_need(i.symbol(), i.side(), qty, cap, self.fee_rate(cx))
        else {
            return self.fail(cx, "overflow");
        };
        if mutant::refuses_exact_fit(cx.cfg, cx.portfolio.balance(&asset).available(), amount) {
            return self.fail(cx, "insufficient_balance");
        }
        let market = cx.portfolio.last_price(i.symbol());
        if mutant::refuses_beyond_cap(cx.cfg, i.side(), market, cap) {
            return self.fail(cx, "price");
        }
        let Ok(reservation) = cx.portfolio.reserve(&asset, amount) else {
            return self.fail(cx, "insufficient_balance");
        };
        self.reservation = Some(reservation);
        self.qty = units;
        self.transition(
            cx,
            State::Reserved,
            Detail::Reserved {
                reserved_qty: qty,
                reserved_price: cap,
                asset,
                amount,
            },
        );
        self.place(cx);
    }

    /// SENT: the next attempt, for what is still unfilled, at the cap.
    fn place(&mut self, cx: &mut Cx<'_>) {
        self.attempt += 1;
        let remaining = self.grid.qty_decimal(self.remaining());
        let cap = self.grid.price_decimal(self.cap);
        let coid = ClientOrderId::for_attempt(self.id(), self.attempt);
        if let Some(market) = cx.portfolio.last_price(self.intent.symbol()) {
            let beyond = match self.intent.side() {
                Side::Buy => market > cap,
                Side::Sell => market < cap,
            };
            if beyond {
                self.event(
                    cx,
                    Detail::SlippageGuardApplied {
                        market_price: market,
                        limit_price: cap,
                    },
                );
            }
        }
        let tif = cx.cfg.tif;
        let limit_price = mutant::limit_price(
            cx.cfg,
            self.intent.side(),
            self.attempt,
            cap,
            self.rules.tick_size,
            || cx.portfolio.last_price(self.intent.symbol()),
            cx.cap_factors.0,
        );
        self.transition(
            cx,
            State::Sent,
            Detail::Sent {
                client_order_id: coid.clone(),
                attempt: self.attempt,
                qty: remaining,
                limit_price,
                tif,
            },
        );
        let request = OrderRequest::new(
            coid.clone(),
            self.intent.symbol().clone(),
            self.intent.side(),
            remaining,
            limit_price,
            tif,
            cx.now,
        );
        cx.out.stats.orders_sent += 1;
        self.phase = Phase::Placing {
            coid,
            sent_ms: cx.now,
        };
        self.send(cx, Action::Place(request));
        if cx.cfg.has(Mutant::AnonymousOrder) {
            if let Some((_, cmd)) = cx.out.commands.back_mut() {
                cmd.intent_id = IntentId::generated("anonymous");
            }
        }
    }

    // A deliberate bug's switch stays out of the match guards: there, a guard replaced by `true`
    // would be a mutant no test can tell from the real router.
    #[allow(clippy::collapsible_match)]
    pub(super) fn on_reply(&mut self, cx: &mut Cx<'_>, outcome: ReplyOutcome) {
        match (&self.phase, outcome) {
            (Phase::Placing { .. }, ReplyOutcome::Order(Ok(order))) => self.on_order(cx, order),
            (Phase::Placing { coid, sent_ms }, ReplyOutcome::Order(Err(e))) => {
                let (coid, sent_ms) = (coid.clone(), *sent_ms);
                let mut outcome = e.outcome();
                if cx.cfg.has(Mutant::UnknownAsNotPlaced) {
                    outcome = Outcome::NotExecuted;
                }
                match outcome {
                    Outcome::NotExecuted => {
                        self.transition(
                            cx,
                            State::Error,
                            Detail::Error {
                                client_order_id: coid,
                                error: e.kind(),
                                rejection: match e {
                                    ExchangeError::Rejected { code, message } => {
                                        Some(Box::new((code, message)))
                                    }
                                    _ => None,
                                },
                            },
                        );
                        self.end_attempt(cx);
                    }
                    Outcome::Unknown => self.become_unknown(cx, coid, sent_ms, e.kind()),
                }
            }
            (Phase::Unknown { .. }, ReplyOutcome::Order(Ok(order))) => self.on_order(cx, order),
            (
                Phase::Unknown {
                    coid,
                    sent_ms,
                    query_sent_ms,
                },
                ReplyOutcome::Order(Err(e)),
            ) => {
                let coid = coid.clone();
                let window_end = sent_ms.saturating_add(cx.cfg.recv_window_ms);
                let asked_after_window = query_sent_ms.is_some_and(|q| q > window_end);
                if e == ExchangeError::NotFound && asked_after_window {
                    // The placement can no longer arrive: it was never executed.
                    self.in_doubt = false;
                    self.phase = Phase::Idle;
                    self.end_attempt(cx);
                } else if e == ExchangeError::NotFound {
                    // Maybe still in flight: ask again once the receive window has closed.
                    let next = window_end.saturating_add(1).max(cx.now);
                    self.event(
                        cx,
                        Detail::QueryPending {
                            client_order_id: coid,
                            cause: "not_found_within_recv_window",
                            next_ms: next,
                        },
                    );
                    self.set_timer(cx, next);
                } else {
                    self.query_later(cx, coid, e.kind());
                }
            }
            (Phase::Working { .. }, ReplyOutcome::Order(Ok(order))) => self.on_order(cx, order),
            (Phase::Working { .. }, ReplyOutcome::Order(Err(_))) => {
                // The order is known to exist; a failed poll or cancel is simply asked again.
                let at = cx.now.saturating_add(cx.cfg.poll_interval_ms);
                self.set_timer(cx, at);
            }
            (Phase::Reconciling { .. }, ReplyOutcome::Trades(Ok(trades))) => {
                self.on_trades(cx, trades)
            }
            (Phase::Reconciling { .. }, ReplyOutcome::Trades(Err(e))) => {
                if !cx.cfg.has(Mutant::IgnoreTradeErrors) {
                    self.trades_later(cx, e.kind())
                }
            }
            // A reply to a request this phase no longer waits for: nothing to do.
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, cx: &mut Cx<'_>) {
        let timed_out = self.awaiting.take().is_some();
        match &mut self.phase {
            Phase::Placing { coid, sent_ms } => {
                let (coid, sent_ms) = (coid.clone(), *sent_ms);
                self.become_unknown(cx, coid, sent_ms, "timeout");
            }
            Phase::Unknown { coid, .. } if timed_out && !cx.cfg.has(Mutant::QueryAtTimeout) => {
                let coid = coid.clone();
                self.query_later(cx, coid, "timeout");
            }
            Phase::Unknown {
                coid,
                query_sent_ms,
                ..
            } => {
                *query_sent_ms = Some(cx.now);
                let action = Action::FetchOrder {
                    symbol: self.intent.symbol().clone(),
                    client_order_id: coid.clone(),
                };
                self.send(cx, action);
            }
            Phase::Working {
                coid,
                sent_ms,
                cancel_next,
            } => {
                let expired = cx.now >= sent_ms.saturating_add(cx.cfg.order_timeout_ms);
                let coid = coid.clone();
                let symbol = self.intent.symbol().clone();
                if expired && *cancel_next {
                    *cancel_next = false;
                    self.event(
                        cx,
                        Detail::CancelRequested {
                            client_order_id: coid.clone(),
                        },
                    );
                    self.send(
                        cx,
                        Action::Cancel {
                            symbol,
                            client_order_id: coid,
                        },
                    );
                } else {
                    // After the timeout, polls and cancels alternate until the order is final.
                    *cancel_next = expired;
                    self.send(
                        cx,
                        Action::FetchOrder {
                            symbol,
                            client_order_id: coid,
                        },
                    );
                }
            }
            Phase::Backoff => self.place(cx),
            Phase::Reconciling { .. } if timed_out => self.trades_later(cx, "timeout"),
            Phase::Reconciling { next, .. } => {
                let next = *next;
                if let Some(o) = self.orders.get(next) {
                    let action = Action::FetchTrades {
                        symbol: self.intent.symbol().clone(),
                        order_id: o.order_id,
                    };
                    self.send(cx, action);
                }
            }
            Phase::Idle | Phase::Stuck | Phase::Done => {}
        }
    }

    /// UNKNOWN: from now on only a query by client order id can move the intent.
    fn become_unknown(
        &mut self,
        cx: &mut Cx<'_>,
        coid: ClientOrderId,
        sent_ms: TimeMs,
        cause: &'static str,
    ) {
        cx.out.stats.unknown_outcomes += 1;
        self.transition(
            cx,
            State::Unknown,
            Detail::Unknown {
                client_order_id: coid.clone(),
                cause,
            },
        );
        if mutant::abandons_unknown(cx.cfg, self.attempt) {
            self.phase = Phase::Idle;
            return self.end_attempt(cx);
        }
        self.phase = Phase::Unknown {
            coid,
            sent_ms,
            query_sent_ms: None,
        };
        self.query_backoff_ms = cx.cfg.backoff_ms;
        let now = cx.now;
        self.set_timer(cx, now);
    }

    fn next_query_backoff(&mut self, cx: &Cx<'_>) -> u64 {
        let b = self.query_backoff_ms.max(cx.cfg.backoff_ms.max(1));
        self.query_backoff_ms = b.saturating_mul(2).min(cx.cfg.backoff_max_ms.max(1));
        b.min(cx.cfg.backoff_max_ms.max(1))
    }

    fn query_later(&mut self, cx: &mut Cx<'_>, coid: ClientOrderId, cause: &'static str) {
        let next = cx.now.saturating_add(self.next_query_backoff(cx));
        self.event(
            cx,
            Detail::QueryPending {
                client_order_id: coid,
                cause,
                next_ms: next,
            },
        );
        self.set_timer(cx, next);
    }

    fn trades_later(&mut self, cx: &mut Cx<'_>, cause: &'static str) {
        let next = cx.now.saturating_add(self.next_query_backoff(cx));
        self.event(
            cx,
            Detail::TradesPending {
                cause,
                next_ms: next,
            },
        );
        self.set_timer(cx, next);
    }

    /// The venue's report of the current attempt's order, from any reply.
    fn on_order(&mut self, cx: &mut Cx<'_>, o: Order) {
        let (coid, sent_ms) = match &self.phase {
            Phase::Placing { coid, sent_ms }
            | Phase::Unknown { coid, sent_ms, .. }
            | Phase::Working { coid, sent_ms, .. } => (coid.clone(), *sent_ms),
            _ => return,
        };
        let on_grid = (self.grid.qty(o.filled), self.grid.qty(o.amount));
        let (Ok(reported), Ok(amount)) = on_grid else {
            // A fraction of a lot: no venue fills one. Wait for a proper answer.
            return self.set_timer_in(cx, cx.cfg.poll_interval_ms);
        };
        if o.client_order_id != coid || reported < Qty::ZERO || reported > amount {
            // Not this attempt's order, or nonsense: wait for a proper answer.
            return self.set_timer_in(cx, cx.cfg.poll_interval_ms);
        }
        self.in_doubt = false;
        // Fills only grow; an older snapshot cannot take one back.
        let prev = match self.orders.iter_mut().find(|f| f.client_order_id == coid) {
            Some(f) => {
                let prev = f.filled;
                f.filled = f.filled.max(reported);
                f.order_id = o.order_id;
                prev
            }
            None => {
                if reported.is_positive() {
                    self.orders.push(OrderFill {
                        client_order_id: coid.clone(),
                        order_id: o.order_id,
                        filled: reported,
                    });
                }
                Qty::ZERO
            }
        };
        let filled = prev.max(reported);
        let grid = self.grid;
        let report = |filled| Detail::Order {
            client_order_id: coid.clone(),
            order_id: o.order_id,
            filled_qty: grid.qty_decimal(filled),
            avg_price: o.average,
        };
        let partial_as_filled = mutant::partial_as_filled(cx.cfg, o.status.is_final(), self.state);
        if (filled >= amount || partial_as_filled) && filled.is_positive() {
            self.transition(cx, State::Filled, report(filled));
            return self.begin_reconcile(cx);
        }
        match mutant::status_seen(cx.cfg, o.status) {
            OrderStatus::Open => {
                if filled > prev {
                    self.transition(cx, State::Partial, report(filled));
                } else if self.state == State::Unknown {
                    // Found resting with nothing filled: as if the placement reply had come.
                    self.transition(
                        cx,
                        State::Sent,
                        Detail::Sent {
                            client_order_id: coid.clone(),
                            attempt: self.attempt,
                            qty: o.amount,
                            limit_price: o.price,
                            tif: cx.cfg.tif,
                        },
                    );
                }
                let cancel_next = matches!(
                    self.phase,
                    Phase::Working {
                        cancel_next: true,
                        ..
                    }
                );
                self.phase = Phase::Working {
                    coid,
                    sent_ms,
                    cancel_next,
                };
                let deadline = sent_ms.saturating_add(cx.cfg.order_timeout_ms);
                let at = cx
                    .now
                    .saturating_add(cx.cfg.poll_interval_ms)
                    .min(deadline.max(cx.now));
                self.set_timer(cx, at);
            }
            OrderStatus::Rejected if filled == Qty::ZERO => {
                if self.state == State::Sent {
                    self.transition(
                        cx,
                        State::Error,
                        Detail::Error {
                            client_order_id: coid,
                            error: "rejected",
                            rejection: None,
                        },
                    );
                }
                self.phase = Phase::Idle;
                self.end_attempt(cx);
            }
            _ => {
                let to = if self.state != State::Partial && filled.is_positive() {
                    State::Partial
                } else {
                    State::Canceled
                };
                self.transition(cx, to, report(filled));
                self.phase = Phase::Idle;
                self.end_attempt(cx);
            }
        }
    }

    fn set_timer_in(&mut self, cx: &mut Cx<'_>, ms: u64) {
        let at = cx.now.saturating_add(ms);
        self.set_timer(cx, at);
    }

    /// The attempt is over and no order of it is live: retry the rest, or stop.
    fn end_attempt(&mut self, cx: &mut Cx<'_>) {
        let filled = self.filled();
        let remaining = self.remaining();
        let placeable = remaining.is_positive() && self.reaches_min_notional(cx, remaining);
        let retries_left = if cx.cfg.has(Mutant::StopRetryingEarly) {
            mutant::retries_left_early(self.attempt, cx.cfg.max_retries)
        } else {
            self.attempt <= cx.cfg.max_retries
        };
        if retries_left && placeable {
            let shift = self.attempt.saturating_sub(1).min(62);
            let factor = if cx.cfg.has(Mutant::LinearBackoff) {
                u64::from(self.attempt)
            } else {
                1u64 << shift
            };
            let backoff = cx
                .cfg
                .backoff_ms
                .saturating_mul(factor)
                .min(cx.cfg.backoff_max_ms);
            cx.out.stats.retries += 1;
            self.transition(
                cx,
                State::Retry,
                Detail::Retry {
                    attempt: self.attempt + 1,
                    remaining_qty: self.grid.qty_decimal(remaining),
                    backoff_ms: backoff,
                },
            );
            self.phase = Phase::Backoff;
            self.set_timer_in(cx, backoff);
        } else if filled.is_positive() {
            let released = self.release_unfilled(cx, self.grid.qty_decimal(remaining));
            self.transition(
                cx,
                State::PartialSuccess,
                Detail::PartialSuccess {
                    filled_qty: self.grid.qty_decimal(filled),
                    released,
                },
            );
            self.begin_reconcile(cx);
        } else {
            let released = self
                .reservation
                .take()
                .map_or(Decimal::ZERO, |r| cx.portfolio.release_all(r));
            #[cfg(feature = "mutants")]
            if cx.cfg.has(Mutant::ReleaseTwice) {
                let i = &self.intent;
                let asset = match i.side() {
                    Side::Buy => i.symbol().quote(),
                    Side::Sell => i.symbol().base(),
                };
                cx.portfolio.release_unchecked(asset, released);
            }
            self.transition(
                cx,
                State::FailedFinal,
                Detail::FailedFinal {
                    attempts: self.attempt,
                    released,
                },
            );
            self.phase = Phase::Done;
        }
    }

    /// Returns the reservation of the part that will never fill; the filled part stays held
    /// until its trades are booked.
    fn release_unfilled(&mut self, cx: &mut Cx<'_>, unfilled: Decimal) -> Decimal {
        let i = &self.intent;
        let cap = self.grid.price_decimal(self.cap);
        let need = reservation_need(i.symbol(), i.side(), unfilled, cap, self.fee_rate(cx))
            .map_or(Decimal::ZERO, |(_, n)| n);
        let Some(r) = self.reservation.as_mut() else {
            return Decimal::ZERO;
        };
        let amount = need.min(r.amount());
        match cx.portfolio.release(r, amount) {
            Ok(()) => amount,
            Err(_) => Decimal::ZERO,
        }
    }

    fn begin_reconcile(&mut self, cx: &mut Cx<'_>) {
        if cx.cfg.has(Mutant::ReleaseBeforeReconcile) {
            if let Some(r) = self.reservation.take() {
                cx.portfolio.release_all(r);
            }
        }
        self.phase = Phase::Reconciling {
            next: 0,
            trades: Vec::new(),
        };
        self.query_backoff_ms = cx.cfg.backoff_ms;
        let now = cx.now;
        self.set_timer(cx, now);
    }

    /// Trades of `orders[next]`: gathered across answers (an answer may repeat a trade, carry
    /// another order's, or hold only part of them) and accepted once they add up to the order's
    /// fill.
    fn on_trades(&mut self, cx: &mut Cx<'_>, got: Vec<Trade>) {
        let whole_answer = cx.cfg.has(Mutant::BookWholeAnswer);
        let Phase::Reconciling { next, trades } = &mut self.phase else {
            return;
        };
        let Some(order) = self.orders.get(*next) else {
            return;
        };
        // Trades are the venue's decimals (the edge); the order's fill meets them there.
        let order_filled = self.grid.qty_decimal(order.filled);
        // `trades` holds the booked orders' trades, then what is known so far of this one's.
        let mut sum: Decimal = trades
            .iter()
            .filter(|t| t.order_id == order.order_id)
            .map(|t| t.qty)
            .sum();
        let first_answer = sum.is_zero();
        // Only this order's trades, each once: venues repeat trades across answers and may
        // include other orders' trades.
        // The answer is appended (a first answer keeps its own allocation), then what does not
        // belong is moved out of it in place.
        let from = trades.len();
        if from == 0 {
            *trades = got;
        } else {
            trades.extend(got);
        }
        let mut kept = from;
        for k in from..trades.len() {
            let t = &trades[k];
            let known = trades[..kept].iter().any(|x| x.trade_id == t.trade_id);
            if whole_answer || (t.order_id == order.order_id && !known) {
                sum += t.qty;
                trades.swap(kept, k);
                kept += 1;
            }
        }
        trades.truncate(kept);
        if whole_answer {
            sum = mutant::whole_answer_sum(sum, order_filled);
        }
        if first_answer && cx.cfg.has(Mutant::TradesAskedTwice) {
            return self.trades_later(cx, "incomplete");
        }
        if sum != order_filled {
            if sum > order_filled {
                // More than the order filled: nothing of this order's answers can be trusted.
                let id = order.order_id;
                trades.retain(|t| t.order_id != id);
            }
            return self.trades_later(cx, "incomplete");
        }
        *next += 1;
        if *next < self.orders.len() {
            self.query_backoff_ms = cx.cfg.backoff_ms;
            let now = cx.now;
            return self.set_timer(cx, now);
        }
        let Phase::Reconciling { trades, .. } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return;
        };
        self.finish_reconcile(cx, trades);
    }

    fn finish_reconcile(&mut self, cx: &mut Cx<'_>, mut trades: Vec<Trade>) {
        if cx.cfg.has(Mutant::DoubleApplyFills) {
            trades.extend_from_within(..);
        }
        if cx.cfg.has(Mutant::ReleaseBeforeReconcile) && self.reservation.is_none() {
            // Re-reserve just what the trades cost, now that the budget was handed out.
            let i = &self.intent;
            let asset = match i.side() {
                Side::Buy => i.symbol().quote(),
                Side::Sell => i.symbol().base(),
            };
            let amount = mutant::reserve_again(i.side(), &trades);
            self.reservation = cx.portfolio.reserve(asset, amount).ok();
        }
        let Some(mut r) = self.reservation.take() else {
            self.phase = Phase::Stuck;
            return;
        };
        let Ok(booked) = cx
            .portfolio
            .apply_fills(&mut r, self.intent.symbol(), &trades)
        else {
            // The reservation cannot pay for the fills: a bug or a venue out of step. Stay
            // visibly unfinished rather than pretend.
            self.reservation = Some(r);
            self.phase = Phase::Stuck;
            return self.event(
                cx,
                Detail::TradesPending {
                    cause: "booking_refused",
                    next_ms: cx.now,
                },
            );
        };
        for (asset, delta) in &booked {
            // Totals of at most 10^15 each cannot overflow a decimal's 28 digits.
            let _ = super::recover::add_booked(&mut cx.out.booked, asset, *delta);
        }
        let released = if cx.cfg.has(Mutant::LeakReservation) {
            let _leaked = r;
            Decimal::ZERO
        } else {
            cx.portfolio.release_all(r)
        };
        let qty: Decimal = trades.iter().map(|t| t.qty).sum();
        let notional: Decimal = trades.iter().map(|t| t.qty * t.price).sum();
        let fee: Decimal = trades.iter().map(|t| t.fee).sum();
        let avg_price = if cx.cfg.has(Mutant::AvgPriceUnweighted) {
            mutant::unweighted_avg(&trades)
        } else {
            notional.checked_div(qty).unwrap_or_default()
        };
        self.transition(
            cx,
            State::Reconciled,
            Detail::Reconciled {
                fills_count: u32::try_from(trades.len()).unwrap_or(u32::MAX),
                filled_qty: qty,
                avg_price,
                fee,
                released,
                booked: {
                    let mut b = booked;
                    b.sort_unstable_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
                    // One allocation of the exact size (a vector would be shrunk after).
                    b.into_iter().collect()
                },
            },
        );
        self.phase = Phase::Done;
    }
}

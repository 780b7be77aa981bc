//! One intent's state machine: from NEW to a terminal state, one input at a time.
//!
//! Each [`Phase`] holds only what its step needs; every transition is checked against the one
//! table in [`super::state`]. The router (`mod.rs`) owns the intents and routes inputs to them.
//! `attempt` holds the end of an attempt (the order's report, a retry or a release),
//! `reconcile` the booking of its trades, and [`resume`] what a restart does with an intent
//! rebuilt from the journal.

mod attempt;
mod reconcile;
mod resume;

pub use resume::Resume;

use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::io::{Action, Command, OrderRequest, ReplyOutcome, RequestId};
use super::{is_legal, mutant, Event, MarketRules, Mutant, Outputs, RouterConfig, State};
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

impl Cx<'_> {
    /// When a request may go out, if not now: the end of the venue's rate-limit hold, or, for
    /// a placement, the moment the pacing under the venue's order limits allows one more.
    fn wait_until(&self, place: bool) -> Option<(TimeMs, &'static str)> {
        if self.out.hold_until > self.now && !self.cfg.has(Mutant::IgnoreRateLimitHold) {
            return Some((self.out.hold_until, "rate_limit"));
        }
        if !place {
            return None;
        }
        let placed = &self.out.placed;
        let at = self
            .cfg
            .order_limits
            .iter()
            .filter_map(|l| {
                let n = l.count as usize;
                let i = placed.len().checked_sub(n)?;
                Some(placed[i].saturating_add(l.window_ms))
            })
            .max()?;
        (at > self.now).then_some((at, "order_limit"))
    }

    /// Counts a placement going out now, for the pacing.
    fn count_placement(&mut self) {
        let Some(keep) = self.cfg.order_limits.iter().map(|l| l.count as usize).max() else {
            return;
        };
        let placed = &mut self.out.placed;
        placed.push_back(self.now);
        while placed.len() > keep {
            placed.pop_front();
        }
    }
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
    /// The next placement waits out the venue's rate limits: the `next_ms` its `held` line
    /// logged (what a snapshot says, as the journal does, even when it waits again).
    pub(super) held: Option<TimeMs>,
}

impl Active {
    pub(super) fn new(intent: Intent, rules: MarketRules, fp: u64) -> Active {
        Active {
            fp,
            in_doubt: false,
            held: None,
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

    /// Whether `qty` at the cap reaches the minimum notional; `None` when either notional
    /// overflows the grid's integers (a failure of its own, not a small order).
    fn reaches_min_notional(&self, cx: &Cx<'_>, qty: Qty) -> Option<bool> {
        let g = self.grid;
        let (n, min) = (
            g.notional(qty, self.cap)?,
            g.notional_at_least(self.min_notional(cx))?,
        );
        Some(n >= min)
    }

    fn fee_rate(&self, cx: &Cx<'_>) -> Decimal {
        if cx.cfg.has(Mutant::ForgetFee) {
            return Decimal::ZERO;
        }
        self.rules.fee_bps * bps_fraction()
    }

    /// A sell never asks for more than is held. A buy's fee comes out of the base it buys, so
    /// selling what a buy filled can be short by that fee ("fee dust"): a sell whose qty exceeds
    /// the available base by at most `qty * fee rate` is cut to the available base, rounded
    /// down to the lot. A larger shortfall is left alone (the reservation refuses it,
    /// `insufficient_balance`). `None` on overflow.
    fn sell_within_holdings(&self, cx: &Cx<'_>, qty: Decimal, lot: Decimal) -> Option<Decimal> {
        let i = &self.intent;
        if i.side() != Side::Sell {
            return Some(qty);
        }
        let available = cx.portfolio.balance(i.symbol().base()).available();
        if qty <= available {
            return Some(qty);
        }
        let margin = qty.checked_mul(self.rules.fee_bps.checked_mul(bps_fraction())?)?;
        if qty.checked_sub(available)? > margin {
            return Some(qty);
        }
        floor_to(available.max(Decimal::ZERO), lot)
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
        let from = self.state;
        self.state = to;
        self.line(cx, to, detail);
        let id = self.intent.intent_id();
        cx.out.event(|| Event::IntentStateChanged {
            intent_id: id.clone(),
            from: Some(from),
            to,
        });
        if to.is_terminal() {
            cx.out.event(|| Event::IntentFinished {
                intent_id: id.clone(),
                state: to,
            });
        }
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
        cx.out.event(|| Event::IntentStateChanged {
            intent_id: i.intent_id().clone(),
            from: None,
            to: State::New,
        });
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
        let Some(qty) = self.sell_within_holdings(cx, qty, lot) else {
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
        match self.reaches_min_notional(cx, units) {
            None => return self.fail(cx, "overflow"),
            Some(false) => return self.fail(cx, "min_notional"),
            Some(true) => {}
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

    /// SENT: the next attempt, for what is still unfilled, at the cap; or, while the venue's
    /// rate limits say wait, the same step again when the wait is over (a wait is not an
    /// attempt: no retry is spent on it). The first wait of an attempt is logged as `held`;
    /// one that must wait again (many placements queued for one order window) is not logged
    /// again, so the log grows with the placements, not with how often they waited.
    fn place(&mut self, cx: &mut Cx<'_>) {
        if let Some((until, cause)) = cx.wait_until(true) {
            if cx.cfg.has(Mutant::HoldSpendsRetry) {
                return self.spend_attempt_on_hold(cx);
            }
            if self.held.is_none() {
                self.held = Some(until);
                self.event(
                    cx,
                    Detail::Held {
                        cause,
                        next_ms: until,
                    },
                );
            }
            self.phase = Phase::Backoff;
            return self.set_timer(cx, until);
        }
        self.held = None;
        cx.count_placement();
        self.attempt += 1;
        let remaining = self.grid.qty_decimal(self.remaining());
        let cap = self.grid.price_decimal(self.cap);
        let coid = ClientOrderId::for_attempt(self.id(), self.attempt);
        self.guard_if_beyond(cx, cap);
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
        self.sent(cx, &coid, remaining, limit_price);
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

    /// SENT for the current attempt's order `coid`, of `qty` at `limit_price`.
    fn sent(&mut self, cx: &mut Cx<'_>, coid: &ClientOrderId, qty: Decimal, limit_price: Decimal) {
        let tif = cx.cfg.tif;
        self.transition(
            cx,
            State::Sent,
            Detail::Sent {
                client_order_id: coid.clone(),
                attempt: self.attempt,
                qty,
                limit_price,
                tif,
            },
        );
    }

    /// `HoldSpendsRetry`: the attempt is logged as sent and refused as rate limited, without
    /// going out, as a client that refuses requests itself during a hold reports them.
    fn spend_attempt_on_hold(&mut self, cx: &mut Cx<'_>) {
        self.attempt += 1;
        let coid = ClientOrderId::for_attempt(self.id(), self.attempt);
        let qty = self.grid.qty_decimal(self.remaining());
        let limit_price = self.grid.price_decimal(self.cap);
        self.guard_if_beyond(cx, limit_price);
        self.sent(cx, &coid, qty, limit_price);
        cx.out.stats.orders_sent += 1;
        self.transition(
            cx,
            State::Error,
            Detail::Error {
                client_order_id: coid,
                error: "rate_limited",
                rejection: None,
            },
        );
        self.phase = Phase::Idle;
        self.end_attempt(cx);
    }

    /// The `slippage_guard_applied` event, when the market is beyond the cap an attempt goes
    /// out at.
    fn guard_if_beyond(&self, cx: &mut Cx<'_>, cap: Decimal) {
        let Some(market) = cx.portfolio.last_price(self.intent.symbol()) else {
            return;
        };
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
                    let next = window_end
                        .saturating_add(mutant::after_window(cx.cfg))
                        .max(cx.now);
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
        // A query, poll, cancel or trade fetch due during a rate-limit hold waits it out. (A
        // timed-out query or trade fetch only schedules the next one; a resting order's poll
        // that timed out is followed by the next at once.)
        let sends = match self.phase {
            Phase::Unknown { .. } | Phase::Reconciling { .. } => self.awaiting.is_none(),
            Phase::Working { .. } => true,
            _ => false,
        };
        if sends {
            if let Some((until, _)) = cx.wait_until(false) {
                return self.set_timer(cx, until);
            }
        }
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
                let expired = mutant::expired(cx.cfg, cx.now, *sent_ms);
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
        self.query_backoff_ms = mutant::first_query_backoff(cx.cfg);
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
}

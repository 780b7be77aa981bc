//! One intent as docs/router.md describes it: reserve, place at the cap, read the venue's
//! answers, ask about unknown outcomes, poll and cancel resting orders, retry with backoff,
//! release what did not fill. Each step pushes the audit lines and commands it predicts.

use rust_decimal::Decimal;

use super::rules::{self, Settings};
use super::Ledger;
use crate::audit::Detail;
use crate::decision::Intent;
use crate::exchange::{ExchangeError, Order, OrderStatus, Trade};
use crate::model::{Asset, ClientOrderId, OrderId, Side, Symbol, TimeMs};
use crate::router::{MarketRules, State};

/// A command the model expects the router to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    Place {
        coid: String,
        qty: Decimal,
        price: Decimal,
    },
    Query {
        coid: String,
    },
    Cancel {
        coid: String,
    },
    Trades {
        order_id: OrderId,
    },
}

/// What the model predicts, in order.
#[derive(Debug, Clone)]
pub enum Out {
    Line(State, Detail),
    /// A command, and the number of the request it is (replies are matched by it).
    Cmd(Want, u32),
}

/// What one step of an intent may read and write.
pub struct Step<'a> {
    pub cfg: &'a Settings,
    pub now: TimeMs,
    pub hold_until: TimeMs,
    pub market: Option<Decimal>,
    pub ledger: &'a Ledger,
    pub out: &'a mut Vec<Out>,
}

#[derive(Debug)]
pub(super) enum Phase {
    Idle,
    Placing {
        coid: String,
        sent: TimeMs,
    },
    Unknown {
        coid: String,
        sent: TimeMs,
        asked: Option<TimeMs>,
    },
    Working {
        coid: String,
        sent: TimeMs,
        cancel_next: bool,
    },
    Backoff,
    Reconciling {
        next: usize,
        kept: Vec<Trade>,
    },
    Stuck,
    Done,
}

#[derive(Debug)]
pub(super) struct Fill {
    pub(super) coid: String,
    pub(super) order_id: OrderId,
    pub(super) filled: Decimal,
}

/// The model of one intent.
#[derive(Debug)]
pub struct IntentModel {
    pub(super) id: String,
    pub(super) symbol: Symbol,
    pub(super) side: Side,
    pub(super) rules: MarketRules,
    pub(super) state: State,
    pub(super) phase: Phase,
    pub(super) qty: Decimal,
    pub(super) cap: Decimal,
    pub(super) attempt: u32,
    pub(super) fills: Vec<Fill>,
    pub(super) timer: Option<TimeMs>,
    pub(super) awaiting: Option<u32>,
    pub(super) requests: u32,
    /// The next wait between queries (unknown order, trades).
    pub(super) query_wait: u64,
    /// A `held` line was written for the placement now waiting.
    pub(super) held_logged: bool,
    /// What the reservation still holds, and of which asset.
    pub(super) held: Decimal,
    /// Rebuilt after a restart with an order that may be out, not yet answered for: new
    /// intents wait until no intent is.
    pub(super) in_doubt: bool,
    pub(super) asset: Option<Asset>,
}

impl IntentModel {
    pub fn new(intent: &Intent, cfg: &Settings) -> IntentModel {
        IntentModel::blank(
            intent.intent_id().as_str(),
            intent.symbol(),
            intent.side(),
            cfg,
        )
    }

    /// An intent of `symbol` and `side` that has done nothing yet.
    pub fn blank(id: &str, symbol: &Symbol, side: Side, cfg: &Settings) -> IntentModel {
        IntentModel {
            id: id.to_string(),
            symbol: symbol.clone(),
            side,
            rules: cfg.rules(symbol),
            state: State::New,
            phase: Phase::Idle,
            qty: Decimal::ZERO,
            cap: Decimal::ZERO,
            attempt: 0,
            fills: Vec::new(),
            timer: None,
            awaiting: None,
            requests: 0,
            query_wait: 0,
            held_logged: false,
            held: Decimal::ZERO,
            asset: None,
            in_doubt: false,
        }
    }

    pub fn done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    fn coid(&self, attempt: u32) -> ClientOrderId {
        let s = rules::client_order_id(&self.id, attempt);
        ClientOrderId::new(&s).unwrap_or_else(|_| ClientOrderId::generated("or-"))
    }

    fn go(&mut self, s: &mut Step<'_>, to: State, detail: Detail) {
        self.state = to;
        s.out.push(Out::Line(to, detail));
    }

    fn event(&self, s: &mut Step<'_>, detail: Detail) {
        s.out.push(Out::Line(self.state, detail));
    }

    fn send(&mut self, s: &mut Step<'_>, want: Want) {
        let n = self.requests;
        self.requests += 1;
        self.awaiting = Some(n);
        s.out.push(Out::Cmd(want, n));
        self.timer = Some(s.now + s.cfg.request_timeout_ms);
    }

    fn filled(&self) -> Decimal {
        self.fills.iter().map(|f| f.filled).sum()
    }

    fn min_notional_met(&self, s: &Step<'_>, qty: Decimal) -> bool {
        match qty.checked_mul(self.cap) {
            Some(n) => n >= s.cfg.min_notional(&self.rules),
            None => false,
        }
    }

    fn fail(&mut self, s: &mut Step<'_>, why: &'static str) {
        self.go(
            s,
            State::Failed,
            Detail::Failed {
                reason: "reserve_failed",
                detail: why,
            },
        );
        self.phase = Phase::Done;
    }

    /// First delivery: `NEW`, then `RESERVED` and the first attempt, or `FAILED`.
    pub fn start(&mut self, intent: &Intent, s: &mut Step<'_>) {
        s.out.push(Out::Line(
            State::New,
            Detail::New {
                symbol: intent.symbol().clone(),
                side: intent.side(),
                qty: intent.qty(),
                ref_price: intent.ref_price(),
            },
        ));
        self.reserve_and_place(s, intent.qty(), intent.ref_price());
    }

    /// `RESERVED` and the first attempt, or `FAILED` before any order.
    pub(super) fn reserve_and_place(&mut self, s: &mut Step<'_>, qty: Decimal, ref_price: Decimal) {
        let qty = rules::round_down(qty, self.rules.step_size);
        let Some(cap) = rules::cap(
            self.side,
            ref_price,
            s.cfg.slippage_bps,
            self.rules.tick_size,
        ) else {
            return self.fail(s, "overflow");
        };
        // A sell short of the held base by no more than its fee's worth (what a buy's fee in
        // the base leaves behind) sells what is held, on the lot grid.
        let qty = if self.side == Side::Sell {
            let held = s.ledger.available(self.symbol.base());
            let dust = qty * rules::fee_rate(&self.rules);
            if qty > held && qty - held <= dust {
                rules::round_down(held.max(Decimal::ZERO), self.rules.step_size)
            } else {
                qty
            }
        } else {
            qty
        };
        if qty <= Decimal::ZERO {
            return self.fail(s, "lot_size");
        }
        if cap <= Decimal::ZERO {
            return self.fail(s, "price");
        }
        self.cap = cap;
        if !self.min_notional_met(s, qty) {
            return self.fail(s, "min_notional");
        }
        let fee = rules::fee_rate(&self.rules);
        let Some((asset, amount)) = rules::need(&self.symbol, self.side, qty, cap, fee) else {
            return self.fail(s, "overflow");
        };
        if amount > s.ledger.available(&asset) {
            return self.fail(s, "insufficient_balance");
        }
        self.qty = qty;
        self.held = amount;
        self.asset = Some(asset.clone());
        self.go(
            s,
            State::Reserved,
            Detail::Reserved {
                reserved_qty: qty,
                reserved_price: cap,
                asset,
                amount,
            },
        );
        self.place(s);
    }

    /// The next attempt at the cap for what is unfilled, or a wait for the rate-limit hold.
    pub(super) fn place(&mut self, s: &mut Step<'_>) {
        if s.hold_until > s.now {
            if !self.held_logged {
                self.held_logged = true;
                self.event(
                    s,
                    Detail::Held {
                        cause: "rate_limit",
                        next_ms: s.hold_until,
                    },
                );
            }
            self.phase = Phase::Backoff;
            self.timer = Some(s.hold_until);
            return;
        }
        self.held_logged = false;
        self.attempt += 1;
        let qty = self.qty - self.filled();
        let coid = self.coid(self.attempt);
        if let Some(m) = s.market {
            let beyond = match self.side {
                Side::Buy => m > self.cap,
                Side::Sell => m < self.cap,
            };
            if beyond {
                self.event(
                    s,
                    Detail::SlippageGuardApplied {
                        market_price: m,
                        limit_price: self.cap,
                    },
                );
            }
        }
        self.go(
            s,
            State::Sent,
            Detail::Sent {
                client_order_id: coid.clone(),
                attempt: self.attempt,
                qty,
                limit_price: self.cap,
                tif: s.cfg.tif,
            },
        );
        let coid = coid.as_str().to_string();
        self.phase = Phase::Placing {
            coid: coid.clone(),
            sent: s.now,
        };
        let price = self.cap;
        self.send(s, Want::Place { coid, qty, price });
    }

    /// The reply to the request this intent waits for.
    pub fn on_order_reply(&mut self, s: &mut Step<'_>, r: &Result<Order, ExchangeError>) {
        match (&self.phase, r) {
            (Phase::Placing { .. } | Phase::Unknown { .. } | Phase::Working { .. }, Ok(o)) => {
                self.on_order(s, o)
            }
            (Phase::Placing { coid, sent }, Err(e)) => {
                let (coid, sent) = (coid.clone(), *sent);
                match not_executed(e) {
                    Some(kind) => {
                        let rejection = match e {
                            ExchangeError::Rejected { code, message } => {
                                Some(Box::new((*code, message.clone())))
                            }
                            _ => None,
                        };
                        self.go(
                            s,
                            State::Error,
                            Detail::Error {
                                client_order_id: self.named(&coid),
                                error: kind,
                                rejection,
                            },
                        );
                        self.end_attempt(s);
                    }
                    None => self.unknown(s, coid, sent, error_name(e)),
                }
            }
            (Phase::Unknown { coid, sent, asked }, Err(e)) => {
                let window_end = sent + s.cfg.recv_window_ms;
                let late = asked.is_some_and(|q| q > window_end);
                let coid = coid.clone();
                if *e == ExchangeError::NotFound && late {
                    self.in_doubt = false;
                    self.phase = Phase::Idle;
                    self.end_attempt(s);
                } else if *e == ExchangeError::NotFound {
                    let next = (window_end + 1).max(s.now);
                    self.event(
                        s,
                        Detail::QueryPending {
                            client_order_id: self.named(&coid),
                            cause: "not_found_within_recv_window",
                            next_ms: next,
                        },
                    );
                    self.timer = Some(next);
                } else {
                    self.query_later(s, &coid, error_name(e));
                }
            }
            (Phase::Working { .. }, Err(_)) => {
                self.timer = Some(s.now + s.cfg.poll_interval_ms);
            }
            _ => {}
        }
    }

    pub(super) fn named(&self, coid: &str) -> ClientOrderId {
        ClientOrderId::new(coid).unwrap_or_else(|_| ClientOrderId::generated("or-"))
    }

    /// `UNKNOWN`: only a query by client order id settles it; the first goes out at once.
    pub(super) fn unknown(
        &mut self,
        s: &mut Step<'_>,
        coid: String,
        sent: TimeMs,
        cause: &'static str,
    ) {
        self.go(
            s,
            State::Unknown,
            Detail::Unknown {
                client_order_id: self.named(&coid),
                cause,
            },
        );
        self.phase = Phase::Unknown {
            coid,
            sent,
            asked: None,
        };
        self.query_wait = s.cfg.backoff_ms.max(1);
        self.timer = Some(s.now);
    }

    /// The wait before the next query: the backoff, doubling, capped.
    fn next_query_wait(&mut self, s: &Step<'_>) -> u64 {
        let cap = s.cfg.backoff_max_ms.max(1);
        let wait = self.query_wait.max(s.cfg.backoff_ms.max(1)).min(cap);
        self.query_wait = (wait * 2).min(cap);
        wait
    }

    fn query_later(&mut self, s: &mut Step<'_>, coid: &str, cause: &'static str) {
        let next = s.now + self.next_query_wait(s);
        self.event(
            s,
            Detail::QueryPending {
                client_order_id: self.named(coid),
                cause,
                next_ms: next,
            },
        );
        self.timer = Some(next);
    }

    pub(super) fn trades_later(&mut self, s: &mut Step<'_>, cause: &'static str) {
        let next = s.now + self.next_query_wait(s);
        self.event(
            s,
            Detail::TradesPending {
                cause,
                next_ms: next,
            },
        );
        self.timer = Some(next);
    }

    /// The venue's report of the current attempt's order.
    fn on_order(&mut self, s: &mut Step<'_>, o: &Order) {
        let (coid, sent) = match &self.phase {
            Phase::Placing { coid, sent }
            | Phase::Unknown { coid, sent, .. }
            | Phase::Working { coid, sent, .. } => (coid.clone(), *sent),
            _ => return,
        };
        let step = self.rules.step_size;
        let believable = on_places(o.filled, step)
            && on_places(o.amount, step)
            && o.client_order_id.as_str() == coid
            && o.filled >= Decimal::ZERO
            && o.filled <= o.amount;
        if !believable {
            self.timer = Some(s.now + s.cfg.poll_interval_ms);
            return;
        }
        self.in_doubt = false;
        let prev = match self.fills.iter_mut().find(|f| f.coid == coid) {
            Some(f) => {
                let prev = f.filled;
                if o.filled > f.filled {
                    f.filled = o.filled;
                }
                f.order_id = o.order_id;
                prev
            }
            None => {
                if o.filled > Decimal::ZERO {
                    self.fills.push(Fill {
                        coid: coid.clone(),
                        order_id: o.order_id,
                        filled: o.filled,
                    });
                }
                Decimal::ZERO
            }
        };
        let filled = if o.filled > prev { o.filled } else { prev };
        let report = Detail::Order {
            client_order_id: self.named(&coid),
            order_id: o.order_id,
            filled_qty: filled,
            avg_price: o.average,
        };
        if filled >= o.amount && filled > Decimal::ZERO {
            self.go(s, State::Filled, report);
            return self.begin_reconcile(s);
        }
        match o.status {
            OrderStatus::Open => {
                if filled > prev {
                    self.go(s, State::Partial, report);
                } else if self.state == State::Unknown {
                    // Found resting with nothing filled: the placement's answer after all.
                    self.go(
                        s,
                        State::Sent,
                        Detail::Sent {
                            client_order_id: self.named(&coid),
                            attempt: self.attempt,
                            qty: o.amount,
                            limit_price: o.price,
                            tif: s.cfg.tif,
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
                    sent,
                    cancel_next,
                };
                let deadline = (sent + s.cfg.order_timeout_ms).max(s.now);
                self.timer = Some((s.now + s.cfg.poll_interval_ms).min(deadline));
            }
            OrderStatus::Rejected if filled.is_zero() => {
                if self.state == State::Sent {
                    self.go(
                        s,
                        State::Error,
                        Detail::Error {
                            client_order_id: self.named(&coid),
                            error: "rejected",
                            rejection: None,
                        },
                    );
                }
                self.phase = Phase::Idle;
                self.end_attempt(s);
            }
            _ => {
                let to = if self.state != State::Partial && filled > Decimal::ZERO {
                    State::Partial
                } else {
                    State::Canceled
                };
                self.go(s, to, report);
                self.phase = Phase::Idle;
                self.end_attempt(s);
            }
        }
    }

    /// The attempt ended with no live order: retry the rest, stop with what filled, or fail.
    pub(super) fn end_attempt(&mut self, s: &mut Step<'_>) {
        let filled = self.filled();
        let remaining = self.qty - filled;
        let placeable = remaining > Decimal::ZERO && self.min_notional_met(s, remaining);
        if placeable && self.attempt <= s.cfg.max_retries {
            let backoff = s.cfg.backoff_before_next(self.attempt);
            self.go(
                s,
                State::Retry,
                Detail::Retry {
                    attempt: self.attempt + 1,
                    remaining_qty: remaining,
                    backoff_ms: backoff,
                },
            );
            self.phase = Phase::Backoff;
            self.timer = Some(s.now + backoff);
        } else if filled > Decimal::ZERO {
            let fee = rules::fee_rate(&self.rules);
            let need = rules::need(&self.symbol, self.side, remaining, self.cap, fee)
                .map_or(Decimal::ZERO, |(_, n)| n);
            let released = if need < Decimal::ZERO {
                Decimal::ZERO
            } else if need > self.held {
                self.held
            } else {
                need
            };
            self.held -= released;
            self.go(
                s,
                State::PartialSuccess,
                Detail::PartialSuccess {
                    filled_qty: filled,
                    released,
                },
            );
            self.begin_reconcile(s);
        } else {
            let released = std::mem::take(&mut self.held);
            self.go(
                s,
                State::FailedFinal,
                Detail::FailedFinal {
                    attempts: self.attempt,
                    released,
                },
            );
            self.phase = Phase::Done;
        }
    }

    pub(super) fn begin_reconcile(&mut self, s: &mut Step<'_>) {
        self.phase = Phase::Reconciling {
            next: 0,
            kept: Vec::new(),
        };
        self.query_wait = s.cfg.backoff_ms.max(1);
        self.timer = Some(s.now);
    }

    /// The intent's timer fired.
    pub fn on_timer(&mut self, s: &mut Step<'_>) {
        self.timer = None;
        let sends = match self.phase {
            Phase::Unknown { .. } | Phase::Reconciling { .. } => self.awaiting.is_none(),
            Phase::Working { .. } => true,
            _ => false,
        };
        if sends && s.hold_until > s.now {
            self.timer = Some(s.hold_until);
            return;
        }
        let timed_out = self.awaiting.take().is_some();
        match &mut self.phase {
            Phase::Placing { coid, sent } => {
                let (coid, sent) = (coid.clone(), *sent);
                self.unknown(s, coid, sent, "timeout");
            }
            Phase::Unknown { coid, .. } if timed_out => {
                let coid = coid.clone();
                self.query_later(s, &coid, "timeout");
            }
            Phase::Unknown { coid, asked, .. } => {
                *asked = Some(s.now);
                let coid = coid.clone();
                self.send(s, Want::Query { coid });
            }
            Phase::Working {
                coid,
                sent,
                cancel_next,
            } => {
                let expired = s.now >= *sent + s.cfg.order_timeout_ms;
                let coid = coid.clone();
                if expired && *cancel_next {
                    *cancel_next = false;
                    self.event(
                        s,
                        Detail::CancelRequested {
                            client_order_id: self.named(&coid),
                        },
                    );
                    self.send(s, Want::Cancel { coid });
                } else {
                    *cancel_next = expired;
                    self.send(s, Want::Query { coid });
                }
            }
            Phase::Backoff => self.place(s),
            Phase::Reconciling { .. } if timed_out => self.trades_later(s, "timeout"),
            Phase::Reconciling { next, .. } => {
                if let Some(f) = self.fills.get(*next) {
                    let order_id = f.order_id;
                    self.send(s, Want::Trades { order_id });
                }
            }
            Phase::Idle | Phase::Stuck | Phase::Done => {}
        }
    }

    /// A trade answer while reconciling: this order's trades, each once, until they add up to
    /// its fill; then the next order, or the booking.
    pub fn on_trades(&mut self, s: &mut Step<'_>, got: &[Trade]) {
        let Phase::Reconciling { next, kept } = &mut self.phase else {
            return;
        };
        let Some(order) = self.fills.get(*next) else {
            return;
        };
        let mut sum: Decimal = kept
            .iter()
            .filter(|t| t.order_id == order.order_id)
            .map(|t| t.qty)
            .sum();
        for t in got {
            if t.order_id == order.order_id && !kept.iter().any(|k| k.trade_id == t.trade_id) {
                sum += t.qty;
                kept.push(t.clone());
            }
        }
        if sum != order.filled {
            if sum > order.filled {
                let id = order.order_id;
                kept.retain(|t| t.order_id != id);
            }
            return self.trades_later(s, "incomplete");
        }
        *next += 1;
        if *next < self.fills.len() {
            self.query_wait = s.cfg.backoff_ms.max(1);
            self.timer = Some(s.now);
            return;
        }
        let Phase::Reconciling { kept, .. } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return;
        };
        self.book(s, &kept);
    }

    /// `RECONCILED`: the trades booked against the reservation, the rest released; or stuck
    /// when the reservation cannot pay for them.
    fn book(&mut self, s: &mut Step<'_>, trades: &[Trade]) {
        let Some(asset) = self.asset.clone() else {
            self.phase = Phase::Stuck;
            return;
        };
        match super::book::booking(&self.symbol, &asset, self.held, trades, s.ledger) {
            Some(b) => {
                self.go(
                    s,
                    State::Reconciled,
                    Detail::Reconciled {
                        fills_count: trades.len() as u32,
                        filled_qty: b.qty,
                        avg_price: b.avg_price,
                        fee: b.fee,
                        fee_asset: b.fee_asset,
                        released: b.left,
                        booked: b.moves.into_boxed_slice(),
                    },
                );
                self.held = Decimal::ZERO;
                self.phase = Phase::Done;
            }
            None => {
                self.phase = Phase::Stuck;
                self.event(
                    s,
                    Detail::TradesPending {
                        cause: "booking_refused",
                        next_ms: s.now,
                    },
                );
            }
        }
    }
}

/// The kinds of error that say the placement was definitely not executed (docs: `ERROR` only
/// then), by their log name.
fn not_executed(e: &ExchangeError) -> Option<&'static str> {
    match e {
        ExchangeError::Rejected { .. } => Some("rejected"),
        ExchangeError::RateLimited { .. } => Some("rate_limited"),
        ExchangeError::RecvWindowExpired => Some("recv_window_expired"),
        ExchangeError::NotFound => Some("not_found"),
        _ => None,
    }
}

/// An error's name in the log.
fn error_name(e: &ExchangeError) -> &'static str {
    match e {
        ExchangeError::Rejected { .. } => "rejected",
        ExchangeError::RateLimited { .. } => "rate_limited",
        ExchangeError::RecvWindowExpired => "recv_window_expired",
        ExchangeError::DuplicateClientOrderId(_) => "duplicate_client_order_id",
        ExchangeError::NotFound => "not_found",
        ExchangeError::Timeout => "timeout",
        ExchangeError::ServerError(_) => "server_error",
    }
}

fn on_places(x: Decimal, step: Decimal) -> bool {
    rules::on_places(x, step)
}

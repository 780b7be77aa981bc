//! The user data stream: the simulated venue's reports of the router's orders (Binance's
//! `executionReport`), on a channel of their own beside the request network, with its own
//! faults and its own seeded RNG (turning the stream on shifts no other random draw).
//!
//! The venue publishes an event whenever an order changes: accepted (`open`, nothing filled),
//! each fill (with its trade), and its end (`canceled`, `expired`, `rejected`; a complete fill
//! is its last trade's `filled`). One connection keeps Binance's order: every event arrives
//! after the one before it. Its faults: the connection drops (that event and every event
//! until the reconnect are lost), goes silent (the same, for longer: the client notices only
//! when a ping goes unanswered), loses or repeats an event, or slows down as a whole. Events
//! of a dropped connection still on the way are lost. The router's process dying ends its
//! connection; the restarted process connects anew. Every (re)connect is handed to the router
//! as `Input::StreamConnected`, whose REST gap fill must find what the gap hid.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::exchange::{OrderStatus, Trade};
use crate::faults::StreamProfile;
use crate::model::{OrderId, TradeId};
use crate::router::OrderUpdate;

/// An order the stream reported open.
#[derive(Debug)]
struct Tracked {
    update: OrderUpdate,
}

#[derive(Debug)]
pub(super) struct Stream {
    profile: StreamProfile,
    rng: ChaCha8Rng,
    /// The connection's number: events of an earlier one are lost.
    conn: u32,
    up: bool,
    /// No event of a connection arrives before the one sent before it.
    last_at: TimeMs,
    /// The connection's extra delay, from a `delay` fault on.
    extra_ms: u64,
    orders_seen: usize,
    trades_seen: usize,
    tracked: BTreeMap<OrderId, Tracked>,
    /// Orders an event of which never reached the router: the REST side must resolve them.
    missed: BTreeSet<ClientOrderId>,
    /// Intents a fill of which reached the router on the stream.
    stream_fills: BTreeSet<IntentId>,
    /// Each intent's orders, by client order id, from its `SENT` lines.
    coids: BTreeMap<IntentId, Vec<ClientOrderId>>,
    /// The last fill the router logged for each order.
    logged: BTreeMap<ClientOrderId, Decimal>,
}

/// A message on the stream channel.
#[derive(Debug)]
pub(super) enum StreamMsg {
    Update(Box<OrderUpdate>),
    /// The connection is up again.
    Up,
}

impl Stream {
    pub(super) fn new(profile: StreamProfile, seed: u64) -> Option<Box<Stream>> {
        profile.on.then(|| {
            Box::new(Stream {
                profile,
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0057_4ea3_0da7_a5e1),
                conn: 0,
                up: false,
                last_at: 0,
                extra_ms: 0,
                orders_seen: 0,
                trades_seen: 0,
                tracked: BTreeMap::new(),
                missed: BTreeSet::new(),
                stream_fills: BTreeSet::new(),
                coids: BTreeMap::new(),
                logged: BTreeMap::new(),
            })
        })
    }

    fn roll(&mut self, bps: u32) -> bool {
        bps > 0 && self.rng.random_range(0..10_000u32) < bps
    }
}

fn update_of(o: &crate::exchange::Order, now: TimeMs) -> OrderUpdate {
    OrderUpdate {
        symbol: o.symbol.clone(),
        side: o.side,
        client_order_id: o.client_order_id.clone(),
        order_id: o.order_id,
        status: OrderStatus::Open,
        price: o.price,
        qty: o.amount,
        filled: Decimal::ZERO,
        filled_quote: Decimal::ZERO,
        last_qty: Decimal::ZERO,
        last_price: Decimal::ZERO,
        fee: Decimal::ZERO,
        fee_asset: None,
        trade_id: None,
        event_ms: now,
    }
}

impl World<'_> {
    /// The first connection, at the start of the run.
    pub(super) fn stream_start(&mut self) {
        let gen = self.gen();
        if let Some(st) = self.stream.as_mut() {
            self.queue
                .push(0, Event::Stream(StreamMsg::Up, st.conn, gen));
        }
    }

    /// The restarted router connects anew.
    pub(super) fn stream_restart(&mut self) {
        let gen = self.gen();
        let now = self.now;
        if let Some(st) = self.stream.as_mut() {
            st.conn += 1;
            st.up = false;
            st.extra_ms = 0;
            let at = now + st.profile.latency_ms;
            self.queue
                .push(at, Event::Stream(StreamMsg::Up, st.conn, gen));
        }
    }

    /// What the venue changed since the last call, published as events.
    pub(super) fn stream_publish(&mut self) {
        let Some(st) = self.stream.as_mut() else {
            return;
        };
        let now = self.now;
        let mut out: Vec<OrderUpdate> = Vec::new();
        for o in self.venue.orders_from(st.orders_seen) {
            let mut u = update_of(o, now);
            if o.status == OrderStatus::Rejected {
                u.status = OrderStatus::Rejected;
                out.push(u);
                continue;
            }
            out.push(u.clone());
            st.tracked.insert(o.order_id, Tracked { update: u });
        }
        st.orders_seen = self.venue.order_count();
        for t in self.venue.trades_from(st.trades_seen) {
            let Some(k) = st.tracked.get_mut(&t.order_id) else {
                continue;
            };
            let u = &mut k.update;
            u.filled += t.qty;
            u.filled_quote += t.qty * t.price;
            u.status = if u.filled >= u.qty {
                OrderStatus::Closed
            } else {
                OrderStatus::Open
            };
            fill(u, t);
            out.push(u.clone());
        }
        st.trades_seen = self.venue.trade_count();
        for (id, k) in st.tracked.iter_mut() {
            if k.update.status.is_final() {
                continue;
            }
            let Some(o) = self.venue.order_by_id(id) else {
                continue;
            };
            if o.status.is_final() {
                let u = &mut k.update;
                u.status = o.status;
                u.last_qty = Decimal::ZERO;
                u.last_price = Decimal::ZERO;
                u.fee = Decimal::ZERO;
                u.fee_asset = None;
                u.trade_id = None;
                u.event_ms = now;
                out.push(u.clone());
            }
        }
        st.tracked.retain(|_, k| !k.update.status.is_final());
        for u in out {
            self.stream_send(u);
        }
    }

    /// With the stream on, an order query is now and then answered from a lagging replica
    /// (`p_stream_delay`, as Binance's REST may serve an order from a database a moment
    /// behind the matching engine): the order as it was before its latest fills. The stream
    /// has said more by then; the router must not go back on it.
    pub(super) fn stale_answer(&mut self, reply: &mut Reply) {
        use crate::router::ReplyOutcome;
        let Some(st) = self.stream.as_mut() else {
            return;
        };
        let ReplyOutcome::Order(Ok(o)) = &mut reply.outcome else {
            return;
        };
        let p = st.profile;
        if o.filled.is_zero() || !st.roll(p.delay_bps.saturating_mul(4)) {
            return;
        }
        // Long enough, now and then, to predate fills of a few polls ago.
        let poll = self.scenario.router.poll_interval_ms;
        let lag = st
            .rng
            .random_range(1..=p.gap_ms.max(1).saturating_add(poll.saturating_mul(2)));
        let since = self.now.saturating_sub(lag);
        let (mut qty, mut cost) = (Decimal::ZERO, Decimal::ZERO);
        for t in self
            .venue
            .trades_of(&o.order_id)
            .filter(|t| t.t_ms <= since)
        {
            qty += t.qty;
            cost += t.qty * t.price;
        }
        if qty >= o.filled {
            return;
        }
        o.filled = qty;
        o.remaining = o.amount - qty;
        o.average = cost.checked_div(qty);
        o.status = OrderStatus::Open;
    }

    /// One event onto the channel, through its faults.
    fn stream_send(&mut self, u: OrderUpdate) {
        let down = self.is_down();
        let gen = self.gen();
        let now = self.now;
        let Some(st) = self.stream.as_mut() else {
            return;
        };
        if down || !st.up {
            st.missed.insert(u.client_order_id.clone());
            return;
        }
        let p = st.profile;
        let gap = if st.roll(p.drop_bps) {
            Some(p.gap_ms.max(1))
        } else if st.roll(p.silence_bps) {
            Some(p.gap_ms.max(1) * 4)
        } else {
            None
        };
        if let Some(gap) = gap {
            st.up = false;
            st.conn += 1;
            st.missed.insert(u.client_order_id.clone());
            self.report.coverage[Coverage::StreamDrop as usize] += 1;
            self.queue
                .push(now + gap, Event::Stream(StreamMsg::Up, st.conn, gen));
            return;
        }
        if st.roll(p.lost_bps) {
            st.missed.insert(u.client_order_id.clone());
            return;
        }
        if st.roll(p.delay_bps) {
            st.extra_ms = st.rng.random_range(0..=p.gap_ms.max(1));
        }
        let at = (now + p.latency_ms + st.extra_ms).max(st.last_at);
        st.last_at = at;
        let twice = st.roll(p.duplicate_bps);
        if twice {
            self.queue.push(
                at,
                Event::Stream(StreamMsg::Update(Box::new(u.clone())), st.conn, gen),
            );
        }
        self.queue.push(
            at,
            Event::Stream(StreamMsg::Update(Box::new(u)), st.conn, gen),
        );
    }

    /// A message of the channel reaches the router (or is lost with its connection).
    pub(super) fn stream_arrive(&mut self, msg: StreamMsg, conn: u32, gen: u32) {
        if gen != self.gen() {
            return;
        }
        let Some(st) = self.stream.as_mut() else {
            return;
        };
        if conn != st.conn {
            if let StreamMsg::Update(u) = msg {
                st.missed.insert(u.client_order_id.clone());
            }
            return;
        }
        match msg {
            StreamMsg::Up => {
                st.up = true;
                st.last_at = self.now;
                if let Some(o) = self.oracle.as_mut() {
                    o.stream_connected(self.now);
                }
                let told = self.router.handle(self.now, Input::StreamConnected);
                self.told(told);
            }
            StreamMsg::Update(u) => {
                if u.trade_id.is_some() {
                    self.report.coverage[Coverage::StreamFill as usize] += 1;
                    if let Some(id) = self.inv_intent_of(&u.client_order_id) {
                        if let Some(st) = self.stream.as_mut() {
                            st.stream_fills.insert(id);
                        }
                    }
                }
                if let Some(o) = self.oracle.as_mut() {
                    o.stream(self.now, &u);
                }
                let told = self.router.handle(self.now, Input::Stream(*u));
                self.told(told);
            }
        }
    }

    /// The intent a client order id was sent under, from the `SENT` lines.
    fn inv_intent_of(&self, coid: &ClientOrderId) -> Option<IntentId> {
        let st = self.stream.as_ref()?;
        st.coids
            .iter()
            .find(|(_, v)| v.contains(coid))
            .map(|(id, _)| id.clone())
    }

    /// A line of the journal, for the stream's checks: `stream_fill_booked_once` at a
    /// `RECONCILED`, `stream_gap_resolved` at any terminal line.
    pub(super) fn stream_line(&mut self, line: &AuditLine) -> Option<Violation> {
        let st = self.stream.as_mut()?;
        match &line.detail {
            Detail::Sent {
                client_order_id, ..
            } => {
                let v = st.coids.entry(line.intent_id.clone()).or_default();
                if !v.contains(client_order_id) {
                    v.push(client_order_id.clone());
                }
            }
            Detail::Order {
                client_order_id,
                filled_qty,
                ..
            } => {
                st.logged.insert(client_order_id.clone(), *filled_qty);
            }
            Detail::StaleReportIgnored { .. } => {
                self.report.coverage[Coverage::StaleReportIgnored as usize] += 1;
            }
            // The venue here is never out of step: a booking the reservation cannot pay for
            // books more than the venue's trades, a fill counted twice.
            Detail::TradesPending {
                cause: "booking_refused",
                ..
            } if st.stream_fills.contains(&line.intent_id) => {
                return Some(self.inv.report(
                    "stream_fill_booked_once",
                    Some(line.intent_id.as_str()),
                    "booking refused: the fills to book exceed what the intent reserved for the venue's trades (a fill seen on the stream and by REST counted twice?)".into(),
                ));
            }
            _ => {}
        }
        if !line.state.is_terminal() || line.detail.event().is_some() {
            return None;
        }
        let st = self.stream.as_mut()?;
        let coids = st.coids.remove(&line.intent_id).unwrap_or_default();
        let symbols: Vec<_> = self.venue.symbols().cloned().collect();
        let mut venue_trades: Vec<&Trade> = Vec::new();
        for coid in &coids {
            let Some(o) = symbols
                .iter()
                .find_map(|s| self.venue.order_by_coid(s, coid))
            else {
                continue;
            };
            let logged = st.logged.remove(coid).unwrap_or(Decimal::ZERO);
            if st.missed.remove(coid) && o.filled != logged {
                return Some(self.inv.report(
                    "stream_gap_resolved",
                    Some(line.intent_id.as_str()),
                    format!(
                        "the stream missed an event of {coid}, which filled {} at the venue; the router ended {} with {logged} logged for it",
                        o.filled, line.state
                    ),
                ));
            }
            venue_trades.extend(self.venue.trades_of(&o.order_id));
        }
        let streamed = st.stream_fills.remove(&line.intent_id);
        if let (
            true,
            Detail::Reconciled {
                fills_count,
                filled_qty,
                ..
            },
        ) = (streamed, &line.detail)
        {
            let mut ids: Vec<&TradeId> = venue_trades.iter().map(|t| &t.trade_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let qty: Decimal = venue_trades.iter().map(|t| t.qty).sum();
            if !ids.is_empty() && (*fills_count as usize != ids.len() || *filled_qty != qty) {
                return Some(self.inv.report(
                    "stream_fill_booked_once",
                    Some(line.intent_id.as_str()),
                    format!(
                        "booked {fills_count} fills of {filled_qty}; the venue's trades of its orders are {} of {qty}, some seen on the stream too",
                        ids.len()
                    ),
                ));
            }
        }
        None
    }
}

/// The fill of trade `t` onto the update of its order.
fn fill(u: &mut OrderUpdate, t: &Trade) {
    u.last_qty = t.qty;
    u.last_price = t.price;
    u.fee = t.fee;
    u.fee_asset = Some(t.fee_asset.clone());
    u.trade_id = Some(t.trade_id);
    u.event_ms = t.t_ms;
}

//! The invariants of SPEC section 4, checked after every simulator step.
//!
//! They look at the venue (the ground truth for money and orders) and at the audit lines, never
//! at the router's own bookkeeping alone, so a router that lies to itself is still caught. Each
//! check costs amortised O(1) per step: running totals and "what is new since the last step",
//! never a rescan of history. The slippage cap is recomputed here on purpose, independently of
//! the router's code, so a bug there cannot hide itself.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt;

use rust_decimal::Decimal;
use smallvec::SmallVec;

use crate::audit::{AuditLine, Checker, ProblemKind};
use crate::decision::Intent;
use crate::exchange::sim::{SimExchange, VenueConfig};
use crate::model::{bps_fraction, fnv1a64, ClientOrderId, IntentId, OrderId, Side, TimeMs};
use crate::router::{Action, Command, Router, RouterConfig};

/// The stable invariant names, as violation reports print them.
pub const NAMES: [&str; 8] = [
    "single_router",
    "ids_present",
    "audit_complete",
    "reservation_non_negative",
    "no_duplicate_orders",
    "slippage_cap",
    "min_notional",
    "reconciled",
];

/// A broken invariant, where and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub step: u64,
    pub t_ms: TimeMs,
    pub intent: Option<String>,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at step {}, t_ms {}",
            self.invariant, self.step, self.t_ms
        )?;
        if let Some(i) = &self.intent {
            write!(f, ", intent {i}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

#[derive(Debug)]
struct Track {
    id: IntentId,
    side: Side,
    qty: Decimal,
    cap: Decimal,
    filled: Decimal,
    orders: u32,
    /// Its client order ids and venue order ids, to drop from the lookups when it ends.
    coids: Coids,
    order_ids: OrderIds,
}

/// An intent's client order ids and venue order ids: one or two, kept inline.
type Coids = SmallVec<[ClientOrderId; 2]>;
type OrderIds = SmallVec<[OrderId; 2]>;

/// Running state of every check.
#[derive(Debug)]
pub struct Invariants {
    router_cfg: RouterConfig,
    venue_cfg: VenueConfig,
    step: u64,
    t_ms: TimeMs,
    checks: u64,
    audit: Checker,
    audit_problems: usize,
    /// Intents in flight (a slab: finished ones leave, their slots are reused), so memory
    /// follows what is in flight, not the length of the run.
    intents: Vec<Option<Track>>,
    free: Vec<usize>,
    /// Emptied id lists of finished intents, reused by the next ones.
    spare_ids: Vec<(Coids, OrderIds)>,
    // Lookups only; never iterated.
    by_intent: HashMap<IntentId, usize>,
    by_coid: HashMap<ClientOrderId, usize>,
    by_order: HashMap<OrderId, usize>,
    /// Every client order id the venue ever held, as a 64-bit hash: a repeat is a second order.
    venue_coids: HashSet<u64>,
    /// Absolute indices (see [`SimExchange::order_count`]) of the next venue order and trade
    /// to look at.
    orders_seen: usize,
    trades_seen: usize,
    portfolio_changes: u64,
    /// Each portfolio asset's (total, reserved, venue free) as last checked, bit for bit.
    balance_bits: Vec<[u128; 3]>,
}

impl Invariants {
    pub fn new(router_cfg: &RouterConfig, venue_cfg: &VenueConfig) -> Self {
        Invariants {
            router_cfg: router_cfg.clone(),
            venue_cfg: venue_cfg.clone(),
            step: 0,
            t_ms: 0,
            checks: 0,
            audit: Checker::new(),
            audit_problems: 0,
            intents: Vec::with_capacity(64),
            free: Vec::new(),
            spare_ids: Vec::new(),
            // Sized for a small run up front: growing from nothing rehashes several times.
            by_intent: HashMap::with_capacity_and_hasher(64, Default::default()),
            by_coid: HashMap::with_capacity_and_hasher(64, Default::default()),
            by_order: HashMap::with_capacity_and_hasher(64, Default::default()),
            venue_coids: HashSet::with_capacity_and_hasher(64, Default::default()),
            orders_seen: 0,
            trades_seen: 0,
            portfolio_changes: u64::MAX,
            balance_bits: Vec::new(),
        }
    }

    /// Checks performed so far.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    pub fn begin_step(&mut self, step: u64, t_ms: TimeMs) {
        self.step = step;
        self.t_ms = t_ms;
    }

    fn violation(
        &self,
        invariant: &'static str,
        intent: Option<&str>,
        detail: String,
    ) -> Violation {
        Violation {
            invariant,
            step: self.step,
            t_ms: self.t_ms,
            intent: intent.map(str::to_string),
            detail,
        }
    }

    /// The worst price a fill of this intent may have: SPEC section 2, on the tick grid.
    fn cap(&self, intent: &Intent) -> Decimal {
        let tick = self
            .venue_cfg
            .markets
            .get(intent.symbol())
            .map_or(self.venue_cfg.default_rules.tick_size, |r| r.tick_size);
        let slip = self.router_cfg.slippage_bps * bps_fraction();
        let raw = match intent.side() {
            Side::Buy => intent.ref_price() * (Decimal::ONE + slip),
            Side::Sell => intent.ref_price() * (Decimal::ONE - slip),
        };
        match (intent.side(), raw.checked_div(tick)) {
            (Side::Buy, Some(n)) => n.floor() * tick,
            (Side::Sell, Some(n)) => n.ceil() * tick,
            _ => raw,
        }
    }

    /// An intent handed to the router (any delivery; the first one registers it).
    pub fn on_deliver(&mut self, intent: &Intent) {
        if self.by_intent.contains_key(intent.intent_id()) {
            return;
        }
        let cap = self.cap(intent);
        let (coids, order_ids) = self.spare_ids.pop().unwrap_or_default();
        let track = Track {
            id: intent.intent_id().clone(),
            side: intent.side(),
            qty: intent.qty(),
            cap,
            filled: Decimal::ZERO,
            orders: 0,
            coids,
            order_ids,
        };
        let slot = match self.free.pop() {
            Some(i) => {
                self.intents[i] = Some(track);
                i
            }
            None => {
                self.intents.push(Some(track));
                self.intents.len() - 1
            }
        };
        self.by_intent.insert(intent.intent_id().clone(), slot);
    }

    /// A command the router emitted: placements must carry ids and respect the grids and the
    /// minimum notional.
    pub fn on_command(&mut self, cmd: &Command) -> Option<Violation> {
        let Action::Place(req) = &cmd.action else {
            return None;
        };
        self.checks += 2;
        let id = cmd.intent_id.as_str();
        let Some(&i) = self.by_intent.get(&cmd.intent_id) else {
            return Some(self.violation(
                "ids_present",
                Some(id),
                format!(
                    "order {} names an intent never delivered",
                    req.client_order_id()
                ),
            ));
        };
        self.by_coid.insert(req.client_order_id().clone(), i);
        if let Some(t) = self.intents[i].as_mut() {
            t.coids.push(req.client_order_id().clone());
        }
        let rules = self
            .venue_cfg
            .markets
            .get(req.symbol())
            .copied()
            .unwrap_or(self.venue_cfg.default_rules);
        let min = self.router_cfg.min_notional.max(rules.min_notional);
        let notional = req.qty().checked_mul(req.limit_price());
        let on_grid = |x: Decimal, step: Decimal| step > Decimal::ZERO && (x % step).is_zero();
        if !on_grid(req.qty(), rules.step_size) || !on_grid(req.limit_price(), rules.tick_size) {
            return Some(self.violation(
                "min_notional",
                Some(id),
                format!(
                    "order {} @ {} is off the lot/tick grid",
                    req.qty(),
                    req.limit_price()
                ),
            ));
        }
        if notional.is_none_or(|n| n < min) {
            return Some(self.violation(
                "min_notional",
                Some(id),
                format!(
                    "order {} @ {} is below min notional {min}",
                    req.qty(),
                    req.limit_price()
                ),
            ));
        }
        None
    }

    /// What changed at the venue since the last call: new orders and new trades.
    ///
    /// Called after every venue call that can create an order or a trade, so the venue never
    /// forgets one (it keeps finished orders for minutes) before it was seen here; should that
    /// happen anyway, the cursor skips what is gone rather than looking at anything twice.
    pub fn after_venue(&mut self, venue: &SimExchange) -> Option<Violation> {
        self.orders_seen = self.orders_seen.max(venue.first_retained_order());
        for o in venue.orders_from(self.orders_seen) {
            self.orders_seen += 1;
            self.checks += 3;
            let Some(&i) = self.by_coid.get(&o.client_order_id) else {
                return Some(self.violation(
                    "single_router",
                    None,
                    format!(
                        "venue order {} ({}) was not placed by the router",
                        o.order_id, o.client_order_id
                    ),
                ));
            };
            let Some(track) = self.intents[i].as_mut() else {
                continue;
            };
            let id = track.id.clone();
            track.orders += 1;
            track.order_ids.push(o.order_id.clone());
            if o.client_order_id.as_str().is_empty() {
                return Some(self.violation(
                    "ids_present",
                    Some(id.as_str()),
                    format!("venue order {} has no client order id", o.order_id),
                ));
            }
            if !self
                .venue_coids
                .insert(fnv1a64(o.client_order_id.as_str().as_bytes()))
            {
                return Some(self.violation(
                    "no_duplicate_orders",
                    Some(id.as_str()),
                    format!(
                        "a second venue order {} under client id {}",
                        o.order_id, o.client_order_id
                    ),
                ));
            }
            self.by_order.insert(o.order_id.clone(), i);
        }
        // An intent never has two live orders (open orders are few: resting GTCs).
        let mut open: Vec<usize> = venue
            .open_orders()
            .filter_map(|o| self.by_coid.get(&o.client_order_id).copied())
            .collect();
        self.checks += 1;
        open.sort_unstable();
        if let Some(w) = open.windows(2).find(|w| w[0] == w[1]) {
            let id = self.intents[w[0]].as_ref().map(|t| t.id.clone());
            return Some(self.violation(
                "no_duplicate_orders",
                id.as_ref().map(IntentId::as_str),
                "two live orders at once".into(),
            ));
        }
        self.trades_seen = self.trades_seen.max(venue.first_retained_trade());
        for t in venue.trades_from(self.trades_seen) {
            self.trades_seen += 1;
            self.checks += 2;
            let Some(&i) = self.by_order.get(&t.order_id) else {
                continue; // reported as single_router above
            };
            let Some(track) = self.intents[i].as_mut() else {
                continue;
            };
            track.filled += t.qty;
            let (filled, qty, cap, side) = (track.filled, track.qty, track.cap, track.side);
            let id = track.id.clone();
            if filled > qty {
                return Some(self.violation(
                    "no_duplicate_orders",
                    Some(id.as_str()),
                    format!("venue filled {filled}, more than the intent's qty {qty}"),
                ));
            }
            let worse = match side {
                Side::Buy => t.price > cap,
                Side::Sell => t.price < cap,
            };
            if worse {
                return Some(self.violation(
                    "slippage_cap",
                    Some(id.as_str()),
                    format!("fill {} at {} is beyond the cap {cap}", t.trade_id, t.price),
                ));
            }
        }
        None
    }

    /// Audit lines as the router writes them: they must follow the table from NEW. An intent
    /// that reached a terminal state leaves the lookups.
    pub fn on_audit(&mut self, line: &AuditLine) -> Option<Violation> {
        self.checks += 1;
        if line.state.is_terminal() && line.detail.event().is_none() {
            self.retire(&line.intent_id);
        }
        self.audit.observe_line(line);
        let problems = self.audit.problems();
        if problems.len() > self.audit_problems {
            self.audit_problems = problems.len();
            let p = &problems[problems.len() - 1];
            return Some(self.violation(
                "audit_complete",
                p.intent_id.as_deref(),
                format!("seq {}: {p}", line.seq),
            ));
        }
        None
    }

    fn retire(&mut self, id: &IntentId) {
        let Some(i) = self.by_intent.remove(id) else {
            return;
        };
        if let Some(mut t) = self.intents.get_mut(i).and_then(Option::take) {
            for c in t.coids.drain(..) {
                self.by_coid.remove(&c);
            }
            for o in t.order_ids.drain(..) {
                self.by_order.remove(&o);
            }
            self.spare_ids.push((t.coids, t.order_ids));
            self.free.push(i);
        }
    }

    /// Balances and reservations, after every step that changed any (`venue_changed`, or a
    /// change the portfolio counted): a step that moved no money cannot break them.
    pub fn after_step(
        &mut self,
        router: &Router,
        venue: &SimExchange,
        venue_changed: bool,
    ) -> Option<Violation> {
        let changes = router.portfolio().changes();
        if !venue_changed && changes == self.portfolio_changes {
            return None;
        }
        self.portfolio_changes = changes;
        // Both sides list their assets in order: walk them together instead of looking each up.
        let mut venue_assets = venue.assets().peekable();
        for (row, (asset, b)) in router.portfolio().balances().enumerate() {
            self.checks += 1;
            while venue_assets.next_if(|(a, _)| *a < asset).is_some() {}
            let free = match venue_assets.peek() {
                Some((a, f)) if *a == asset => f.free,
                _ => Decimal::ZERO,
            };
            // The same bits as at the last check passed then and pass now: skip the arithmetic.
            let bits = [
                u128::from_ne_bytes(b.total.serialize()),
                u128::from_ne_bytes(b.reserved.serialize()),
                u128::from_ne_bytes(free.serialize()),
            ];
            if self.balance_bits.get(row) == Some(&bits) {
                continue;
            }
            if b.reserved < Decimal::ZERO || b.reserved > b.total {
                return Some(self.violation(
                    "reservation_non_negative",
                    None,
                    format!("{asset}: reserved {} of total {}", b.reserved, b.total),
                ));
            }
            // The router must never believe it can spend more than the venue holds free: that
            // is a reservation released (or never made) while the venue still owes for it.
            let available = b.total - b.reserved;
            if available > free {
                return Some(self.violation(
                    "reservation_non_negative",
                    None,
                    format!("{asset}: {available} available to the router but only {free} free at the venue"),
                ));
            }
            match self.balance_bits.get_mut(row) {
                Some(slot) => *slot = bits,
                None => self.balance_bits.push(bits),
            }
        }
        // Venue funds only move at the venue.
        for (asset, f) in venue.assets().filter(|_| venue_changed) {
            self.checks += 1;
            if f.free.is_sign_negative() && !f.free.is_zero()
                || f.locked.is_sign_negative() && !f.locked.is_zero()
            {
                return Some(self.violation(
                    "reservation_non_negative",
                    None,
                    format!("venue {asset}: free {} locked {}", f.free, f.locked),
                ));
            }
        }
        None
    }

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
        let p = router.portfolio();
        self.checks += 1;
        if p.reserved_total() != Decimal::ZERO {
            return Some(self.violation(
                "reconciled",
                None,
                format!("reservation left at quiescence: {}", p.reserved_total()),
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

    /// Venue orders placed for an intent, and what they filled.
    pub fn orders_of(&self, id: &IntentId) -> Option<(u32, Decimal)> {
        let t = self.intents.get(*self.by_intent.get(id)?)?.as_ref()?;
        Some((t.orders, t.filled))
    }
}

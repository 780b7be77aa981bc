//! The checks of docs/checks.md, made after every simulator step.
//!
//! They look at the venue (the ground truth for money and orders) and at the audit lines, never
//! at the router's own bookkeeping alone, so a router that lies to itself is still caught. Each
//! check costs amortised O(1) per step: running totals and "what is new since the last step",
//! never a rescan of history. The slippage cap is recomputed here on purpose, independently of
//! the router's code, so a bug there cannot hide itself.

mod commands;
pub(crate) mod guards;
mod log;
mod quiescence;
pub(crate) mod recovery;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt;

use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::scenario::Spec;
use crate::audit::{Checker, Policy, ProblemKind};
use crate::decision::Intent;
use crate::exchange::fees::{self, FeeMode};
use crate::exchange::sim::{SimExchange, VenueConfig};
use crate::model::{
    bps_fraction, fnv1a64, Asset, ClientOrderId, IntentId, OrderId, Side, Symbol, TimeMs,
};
use crate::router::{Action, Command, MarketRules, Router, RouterConfig, State};

/// The stable invariant names, as violation reports print them. The first ten say what must
/// never happen; the rest say what must happen (policy and liveness).
pub const NAMES: [&str; 19] = [
    "single_router",
    "ids_present",
    "audit_complete",
    "reservation_non_negative",
    "no_duplicate_orders",
    "slippage_cap",
    "min_notional",
    "reconciled",
    "write_ahead",
    "recovery",
    "retry_policy",
    "limit_at_cap",
    "order_truth",
    "liveness",
    "intent_identity",
    "input_guards",
    "rate_limit_hold",
    "balances_match",
    "model_agrees",
];

/// Situations a fuzz campaign should reach, counted per run (see [`Coverage`]).
pub const COVERAGE: [&str; 25] = [
    "signal",
    "signal_equal",
    "signal_one_input",
    "market_rules",
    "qty_on_grid",
    "qty_below_grid",
    "qty_above_grid",
    "market_at_cap",
    "market_tick_inside_cap",
    "market_tick_beyond_cap",
    "tight_budget",
    "calm_intent",
    "min_notional_exact",
    "min_notional_lot_below",
    "min_notional_lot_above",
    "balance_exact",
    "balance_unit_short",
    "last_retry",
    "cap_on_tick",
    "placement_at_recv_window_end",
    "order_timeout_exact",
    "fee_in_base",
    "fee_in_bnb",
    "bnb_ran_out",
    "sell_cut_to_holdings",
];

/// Indices into [`COVERAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// A signal assembled into an intent.
    Signal,
    /// A signal equal to the one before it (one intent for both).
    SignalEqual,
    /// A signal that differs from the one before it in exactly one input.
    SignalOneInput,
    /// A market with rules of its own (tick, lot, fee, minimum notional).
    MarketRules,
    /// An intent's quantity on its lot grid, just below a grid point, or just above one.
    QtyOnGrid,
    QtyBelowGrid,
    QtyAboveGrid,
    /// A placement arriving with the best opposite price at its limit, one tick inside it (it
    /// fills) or one tick beyond it (it does not).
    MarketAtCap,
    MarketTickInsideCap,
    MarketTickBeyondCap,
    /// A reservation made or refused within the fee (or a cent) of what was available.
    TightBudget,
    /// An intent first delivered in the calm phase.
    CalmIntent,
    /// A decision with the notional (qty on the lot grid times the cap) exactly at the minimum
    /// (reserved), one lot below it (refused `min_notional`) or one lot above it (reserved).
    MinNotionalExact,
    MinNotionalLotBelow,
    MinNotionalLotAbove,
    /// A reservation of exactly what was available, and a refusal (`insufficient_balance`) one
    /// unit, in the need's last decimal place, short of it.
    BalanceExact,
    BalanceUnitShort,
    /// The last attempt the retry policy allows (`max_retries + 1`, a retry) was sent.
    LastRetry,
    /// A reference whose cap, before rounding, already sits on the tick grid.
    CapOnTick,
    /// A placement arriving at the venue at the last millisecond of its receive window
    /// (`sent + recv_window_ms`): still executed.
    PlacementAtRecvWindowEnd,
    /// A reply showing a placement still resting, reaching the router at exactly its
    /// `sent + order_timeout_ms`: the router must cancel now, not one poll later.
    OrderTimeoutExact,
    /// A buy's fill whose commission the venue took out of the base asset it bought.
    FeeInBase,
    /// A fill whose commission was paid in BNB.
    FeeInBnb,
    /// An account paying in BNB whose free BNB did not cover a fill's fee: charged in the
    /// received asset instead.
    BnbRanOut,
    /// A sell short of the available base by at most its fee, cut to what is held.
    SellCutToHoldings,
}

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
    symbol: Symbol,
    side: Side,
    qty: Decimal,
    /// The intent's qty on the lot grid, and the cap: both worked out here, not by the router.
    qty_grid: Decimal,
    cap: Decimal,
    /// What the intent must reserve at the cap (price and fee, or the base it sells).
    need: Decimal,
    /// Venue truth: what its orders filled, the fees (in the asset of its first trade's fee,
    /// as `RECONCILED` states them) and the number of trades.
    filled: Decimal,
    fee: Decimal,
    fee_asset: Option<Asset>,
    /// Sum of price times quantity over the venue's trades: their average price's numerator.
    notional: Decimal,
    trades: u32,
    orders: u32,
    /// First delivered in the calm phase: it must execute.
    calm: bool,
    /// Its state as the log last said (before the line being checked), and whether the log
    /// has any line of it yet.
    state: State,
    begun: bool,
    /// The price of its latest trade at the venue.
    last_trade: Option<Decimal>,
    /// Its reservation as the log states it (asset, what is left).
    reserved: Option<(Asset, Decimal)>,
    /// What its trades moved at the venue that the router has not booked yet.
    unbooked: SmallVec<[(Asset, Decimal); 3]>,
    /// Of that, fees paid in BNB (an asset of neither side of its market): no reservation
    /// holds them, so until they are booked the router may count them as still available.
    fees_owed: Decimal,
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
    /// What the log says the router did, counted here to hold the router's own counters to:
    /// transitions `edges[from][to]` (as [`Router::edges`]) and duplicate deliveries ignored.
    log_edges: [[u64; 13]; 14],
    log_duplicates: u64,
    /// The last `price` row's mid per symbol (what the router was told), for the slippage
    /// guard event; and intents whose next `SENT` that event announced.
    last_mid: Vec<(Symbol, Decimal)>,
    guarded: Vec<IntentId>,
    /// Emptied id lists of finished intents, reused by the next ones.
    spare_ids: Vec<(Coids, OrderIds)>,
    // Lookups only; never iterated.
    by_intent: HashMap<IntentId, usize>,
    by_coid: HashMap<ClientOrderId, usize>,
    by_order: HashMap<OrderId, usize>,
    /// The client order ids of intents in flight that the venue holds an order under, as
    /// 64-bit hashes: a repeat is a second order.
    venue_coids: HashSet<u64>,
    /// Absolute indices (see [`SimExchange::order_count`]) of the next venue order and trade
    /// to look at.
    orders_seen: usize,
    trades_seen: usize,
    /// Each portfolio asset's (total, reserved, venue free) as last checked, bit for bit: the
    /// checker's own copy, so a step that changed none of them can be skipped without taking
    /// the portfolio's word for it.
    balance_bits: Vec<[u128; 3]>,
    /// The checker's own money model per asset: (reserved by live intents as logged, moved at
    /// the venue by their trades but not yet booked). Available to the router is the venue's
    /// total less both.
    money: Vec<(Asset, Decimal, Decimal)>,
    /// BNB fees of intents in flight that the router has not booked yet.
    fees_owed: Decimal,
    /// Signals by their normalised inputs, and the intents they gave (the identity check).
    signals: HashMap<String, IntentId>,
    signal_ids: HashMap<IntentId, String>,
    coverage: [u64; COVERAGE.len()],
    /// The `seq` the router's next line must carry, once it wrote one.
    next_seq: Option<u64>,
    /// After a restart: intents whose order may be out (durably `SENT` or `UNKNOWN`) and not
    /// answered for yet. No new intent may begin while one is.
    in_doubt: Vec<IntentId>,
}

impl Invariants {
    pub fn new(router_cfg: &RouterConfig, venue_cfg: &VenueConfig) -> Self {
        Invariants {
            router_cfg: router_cfg.clone(),
            venue_cfg: venue_cfg.clone(),
            step: 0,
            t_ms: 0,
            checks: 0,
            audit: Checker::with_policy(Policy::of(router_cfg)),
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
            balance_bits: Vec::new(),
            log_edges: [[0; 13]; 14],
            log_duplicates: 0,
            last_mid: Vec::new(),
            guarded: Vec::new(),
            money: Vec::new(),
            fees_owed: Decimal::ZERO,
            signals: HashMap::default(),
            signal_ids: HashMap::default(),
            coverage: [0; COVERAGE.len()],
            next_seq: None,
            in_doubt: Vec::new(),
        }
    }

    /// Adds what the checks counted to a run's coverage counters.
    pub fn add_coverage(&self, into: &mut [u64; COVERAGE.len()]) {
        for (a, b) in into.iter_mut().zip(self.coverage.iter()) {
            *a += b;
        }
    }

    fn rules(&self, symbol: &Symbol) -> MarketRules {
        self.venue_cfg
            .markets
            .get(symbol)
            .copied()
            .unwrap_or(self.venue_cfg.default_rules)
    }

    /// The model's (reserved, unbooked) of `asset`.
    fn money_mut(&mut self, asset: &Asset) -> &mut (Asset, Decimal, Decimal) {
        let i = match self.money.iter().position(|(a, _, _)| a == asset) {
            Some(i) => i,
            None => {
                self.money
                    .push((asset.clone(), Decimal::ZERO, Decimal::ZERO));
                self.money.len() - 1
            }
        };
        &mut self.money[i]
    }

    /// What the router should have available of `asset`: the venue's total, less what live
    /// intents reserved and less what their trades moved that is not booked yet.
    fn available(&self, asset: &Asset, venue: &SimExchange) -> Decimal {
        let (reserved, unbooked) = self
            .money
            .iter()
            .find(|(a, _, _)| a == asset)
            .map_or((Decimal::ZERO, Decimal::ZERO), |(_, r, u)| (*r, *u));
        venue.funds(asset).total() - unbooked - reserved
    }

    /// A signal assembled into `id`: equal inputs must give the same intent, different inputs
    /// different ones.
    pub fn on_signal(&mut self, key: String, id: &IntentId) -> Option<Violation> {
        self.checks += 1;
        if let Some(prev) = self.signals.get(&key) {
            if prev != id {
                return Some(self.violation(
                    "intent_identity",
                    Some(id.as_str()),
                    format!("signal [{key}] gave intent {id}, an equal one gave {prev}"),
                ));
            }
            return None;
        }
        if let Some(other) = self.signal_ids.get(id) {
            return Some(self.violation(
                "intent_identity",
                Some(id.as_str()),
                format!("signals [{key}] and [{other}] differ but gave the same intent {id}"),
            ));
        }
        self.signals.insert(key.clone(), id.clone());
        self.signal_ids.insert(id.clone(), key);
        None
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

    /// The worst price a fill of this intent may have, on the tick grid; and whether it was on
    /// the grid before rounding.
    fn cap(&self, spec: &Spec) -> (Decimal, bool) {
        let tick = self
            .venue_cfg
            .markets
            .get(&spec.symbol)
            .map_or(self.venue_cfg.default_rules.tick_size, |r| r.tick_size);
        let slip = self.router_cfg.slippage_bps * bps_fraction();
        let raw = match spec.side {
            Side::Buy => spec.ref_price * (Decimal::ONE + slip),
            Side::Sell => spec.ref_price * (Decimal::ONE - slip),
        };
        let cap = match (spec.side, raw.checked_div(tick)) {
            (Side::Buy, Some(n)) => n.floor() * tick,
            (Side::Sell, Some(n)) => n.ceil() * tick,
            _ => raw,
        };
        (cap, cap == raw)
    }

    /// A violation of `invariant` at the current step, for checks made outside this type.
    pub fn report(
        &self,
        invariant: &'static str,
        intent: Option<&str>,
        detail: String,
    ) -> Violation {
        self.violation(invariant, intent, detail)
    }

    /// The assembler's answer to a signal whose inputs were `spec` at `ts_ms`: an intent of
    /// exactly those inputs when the guards pass, none when they fail; its id
    /// `<ts>-<BASE><QUOTE>-<16 hex digits>`.
    pub fn on_assembled(
        &mut self,
        spec: &Spec,
        ts_ms: TimeMs,
        guards_pass: bool,
        got: Option<&Intent>,
    ) -> Option<Violation> {
        self.checks += 1;
        let Some(i) = got else {
            return guards_pass.then(|| {
                self.violation(
                    "intent_identity",
                    None,
                    format!("a signal whose guards pass gave no intent: {spec:?}"),
                )
            });
        };
        let id = i.intent_id().as_str();
        let bad = |what: String| Some(self.violation("intent_identity", Some(id), what));
        if !guards_pass {
            return bad("a signal whose guards fail gave an intent".into());
        }
        if i.symbol() != &spec.symbol
            || i.side() != spec.side
            || i.qty() != spec.qty
            || i.ref_price() != spec.ref_price
            || i.ts_ms() != ts_ms
        {
            return bad(format!(
                "the intent {i:?} is not the signal's {spec:?} at {ts_ms}"
            ));
        }
        let pair: String = [spec.symbol.base().as_str(), spec.symbol.quote().as_str()].concat();
        let prefix = format!("{ts_ms}-{pair}-");
        let well_formed = id.len() == prefix.len() + 16
            && id.starts_with(&prefix)
            && id[prefix.len()..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        // Ids of very long symbols are shortened; the generator's never are.
        if !well_formed && prefix.len() + 16 <= 128 {
            return bad(format!("intent id {id} is not {prefix}<16 hex digits>"));
        }
        None
    }

    /// A `price` row: the router is told the market's mid. (Booking its own trades tells it
    /// the latest one's price too: see `against_venue`.)
    pub fn on_market(&mut self, symbol: &Symbol, mid: Decimal) {
        match self.last_mid.iter_mut().find(|(s, _)| s == symbol) {
            Some((_, m)) => *m = mid,
            None => self.last_mid.push((symbol.clone(), mid)),
        }
    }

    /// An intent handed to the router (any delivery; the first one registers it) as the
    /// scenario specified it. `calm`: its first delivery came in the calm phase. A delivery of
    /// an intent the log already ended is a redelivery and registers nothing.
    pub fn on_deliver(&mut self, intent: &Intent, spec: &Spec, calm: bool) {
        if self.by_intent.contains_key(intent.intent_id())
            || self.audit.finished(intent.intent_id().as_str())
        {
            return;
        }
        let (cap, on_tick) = self.cap(spec);
        if on_tick {
            self.coverage[Coverage::CapOnTick as usize] += 1;
        }
        let rules = self.rules(&spec.symbol);
        let qty_grid = grid_floor(spec.qty, rules.step_size).normalize();
        let need = match spec.side {
            Side::Buy => {
                let notional = qty_grid.checked_mul(cap).unwrap_or(Decimal::MAX);
                let fee = notional
                    .checked_mul(rules.fee_bps / Decimal::from(10_000))
                    .unwrap_or(Decimal::ZERO);
                notional.saturating_add(fee)
            }
            Side::Sell => qty_grid,
        }
        .normalize();
        let (coids, order_ids) = self.spare_ids.pop().unwrap_or_default();
        let track = Track {
            id: intent.intent_id().clone(),
            symbol: spec.symbol.clone(),
            side: spec.side,
            qty: spec.qty,
            qty_grid,
            cap,
            need,
            filled: Decimal::ZERO,
            fee: Decimal::ZERO,
            fee_asset: None,
            notional: Decimal::ZERO,
            trades: 0,
            orders: 0,
            calm,
            state: State::New,
            begun: false,
            last_trade: None,
            reserved: None,
            unbooked: SmallVec::new(),
            fees_owed: Decimal::ZERO,
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

    fn retire(&mut self, id: &IntentId) {
        let Some(i) = self.by_intent.remove(id) else {
            return;
        };
        if let Some(mut t) = self.intents.get_mut(i).and_then(Option::take) {
            for c in t.coids.drain(..) {
                self.by_coid.remove(&c);
                // A venue order under a finished intent's client id fails `single_router`
                // (the id is no longer known) before this set is asked: it need only hold the
                // ids of intents in flight, so it does not grow with the run.
                self.venue_coids.remove(&fnv1a64(c.as_str().as_bytes()));
            }
            for o in t.order_ids.drain(..) {
                self.by_order.remove(&o);
            }
            self.spare_ids.push((t.coids, t.order_ids));
            self.free.push(i);
        }
    }

    /// Balances and reservations after every step. Each asset is compared with the checker's
    /// own copy of what it last checked, bit for bit: only numbers that moved are checked
    /// again. Nothing here takes the portfolio's word that it did not change.
    pub fn after_step(
        &mut self,
        router: &Router,
        venue: &SimExchange,
        venue_changed: bool,
    ) -> Option<Violation> {
        // The router counts in flight exactly the intents the log has begun and not ended.
        // (Intents held back after a restart are delivered but not begun.)
        self.checks += 1;
        if router.in_flight() + router.held() != self.by_intent.len() {
            return Some(self.violation(
                "audit_complete",
                None,
                format!(
                    "the router counts {} intents in flight and {} held, its log {}",
                    router.in_flight(),
                    router.held(),
                    self.by_intent.len()
                ),
            ));
        }
        if let Some(seq) = self.next_seq.filter(|&s| s != router.next_seq()) {
            return Some(self.violation(
                "audit_complete",
                None,
                format!(
                    "the router says its next line is seq {}, its log {seq}",
                    router.next_seq()
                ),
            ));
        }
        // The router's own listing of its intents' states says what the log says. Only while
        // few are in flight (every fuzz case), so a long benchmark does not pay for it per step.
        if router.held() == 0 && self.by_intent.len() <= 64 {
            self.checks += 1;
            let mut logged = [0u32; State::ALL.len()];
            for t in self
                .by_intent
                .values()
                .filter_map(|&i| self.intents[i].as_ref())
            {
                logged[t.state.index()] += 1;
            }
            let mut listed = [0u32; State::ALL.len()];
            for s in router.states_in_flight() {
                listed[s.index()] += 1;
            }
            if logged != listed {
                return Some(self.violation(
                    "audit_complete",
                    None,
                    format!(
                        "the router lists its intents in flight in states {listed:?} (by state \
                         index), its log {logged:?}"
                    ),
                ));
            }
        }
        // Every asset the venue holds, as the portfolio books it (looked up, not listed by the
        // portfolio: a portfolio that hides an asset from its own listing is still checked).
        let portfolio = router.portfolio();
        for (row, (asset, f)) in venue.assets().enumerate() {
            self.checks += 1;
            let b = portfolio.balance(asset);
            // balances_match: what the router booked of each asset is what the venue moved,
            // less the trades of intents it has not reconciled yet; fees included, in the
            // asset the venue charged them in.
            let unbooked = self
                .money
                .iter()
                .find(|(a, _, _)| a == asset)
                .map_or(Decimal::ZERO, |(_, _, u)| *u);
            if b.total != f.total() - unbooked {
                return Some(self.violation(
                    "balances_match",
                    None,
                    format!(
                        "{asset}: the portfolio books {} but the venue holds {} of which {} \
                         is not reconciled yet",
                        b.total.normalize(),
                        f.total().normalize(),
                        unbooked.normalize()
                    ),
                ));
            }
            let free = f.free;
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
            // A fee the venue took in BNB is unknown to the router until it books the trade:
            // Binance locks nothing for it, and neither can a router.
            let owed = if asset.as_str() == fees::BNB {
                self.fees_owed
            } else {
                Decimal::ZERO
            };
            let available = b.total - b.reserved;
            if available - owed > free {
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

    /// Venue orders placed for an intent, and what they filled.
    pub fn orders_of(&self, id: &IntentId) -> Option<(u32, Decimal)> {
        let t = self.intents.get(*self.by_intent.get(id)?)?.as_ref()?;
        Some((t.orders, t.filled))
    }
}

/// `x` rounded down to a multiple of `step`, by division: independent of the router's rounding.
fn grid_floor(x: Decimal, step: Decimal) -> Decimal {
    match x.checked_div(step) {
        Some(n) if step > Decimal::ZERO => n.floor() * step,
        _ => x,
    }
}

#[cfg(test)]
mod bypass_tests {
    use super::*;
    use crate::exchange::sim::{SimExchange, VenueConfig};
    use crate::exchange::Exchange;
    use crate::router::OrderRequest;
    use rust_decimal::Decimal;

    /// single_router: only the router can build an `OrderRequest` (a compile error anywhere
    /// else), so an order that bypassed it needs the deliberate bugs' forging door. The
    /// `single_router` check must catch exactly that.
    #[test]
    // rule: single_router
    fn an_order_that_bypassed_the_router_violates_single_router() {
        let btc = Symbol::parse("BTC/USDT").unwrap();
        let mut venue = SimExchange::new(VenueConfig::default());
        venue.deposit(&Asset::new("USDT").unwrap(), Decimal::from(1_000));
        venue.set_market(
            0,
            &btc,
            Decimal::from(50_000),
            Decimal::from(2),
            Decimal::ONE,
        );
        let mut inv = Invariants::new(&RouterConfig::default(), &VenueConfig::default());
        assert_eq!(inv.after_venue(&venue), None);
        let forged = OrderRequest::forged(
            ClientOrderId::generated("manual-1"),
            btc,
            Side::Buy,
            Decimal::new(1, 3),
            Decimal::from(50_100),
        );
        assert!(venue.place(0, &forged).is_ok());
        let v = inv.after_venue(&venue).expect("caught");
        assert_eq!(v.invariant, "single_router");
        assert!(v.detail.contains("manual-1"), "{}", v.detail);
    }
}

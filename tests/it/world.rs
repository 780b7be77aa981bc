//! A router wired to the in-memory venue, with the invariants checked after every step and at
//! quiescence. Checks are independent of the router's own bookkeeping: they look at the venue.

use order_router::audit::{read, Record};
use order_router::driver::{drive_observed, DriveEnd};
use order_router::exchange::memory::{Fault, MemoryExchange};
use order_router::model::{Asset, ClientOrderId, IntentId, Side, Symbol, TimeMs};
use order_router::portfolio::Portfolio;
use order_router::router::{Input, MarketRules, Router, RouterConfig, State};
use order_router::Intent;
use rust_decimal::Decimal;

pub fn d(s: &str) -> Decimal {
    s.parse().expect("test decimal")
}
pub fn btc_usdt() -> Symbol {
    Symbol::parse("BTC/USDT").expect("symbol")
}
pub fn usdt() -> Asset {
    Asset::new("USDT").expect("asset")
}
pub fn btc() -> Asset {
    Asset::new("BTC").expect("asset")
}

pub fn intent(id: &str, side: Side, qty: &str, ref_price: &str) -> Intent {
    Intent::new(
        IntentId::new(id).expect("id"),
        0,
        btc_usdt(),
        side,
        d(qty),
        d(ref_price),
    )
    .expect("intent")
}

pub fn buy(id: &str, qty: &str, ref_price: &str) -> Input {
    Input::Deliver(intent(id, Side::Buy, qty, ref_price))
}
/// A cancel intent `id` for the intent `target`.
pub fn cancel(id: &str, target: &str) -> Input {
    Input::Cancel(order_router::decision::CancelIntent::new(
        IntentId::new(id).expect("id"),
        0,
        IntentId::new(target).expect("id"),
    ))
}
pub fn sell(id: &str, qty: &str, ref_price: &str) -> Input {
    Input::Deliver(intent(id, Side::Sell, qty, ref_price))
}

pub struct World {
    pub router: Router,
    pub venue: MemoryExchange,
    pub log: Vec<u8>,
    /// Violations seen after any step.
    pub step_violations: Vec<String>,
    intents: Vec<Intent>,
    slippage_bps: Decimal,
    min_notional: Decimal,
    rules: MarketRules,
}

impl World {
    /// Equal starting balances on both sides, the market at `price`.
    pub fn new(cfg: RouterConfig, usdt_amount: &str, btc_amount: &str, price: &str) -> World {
        let mut portfolio = Portfolio::new();
        let mut venue = MemoryExchange::with_rules(cfg.default_rules);
        for (asset, amount) in [(usdt(), usdt_amount), (btc(), btc_amount)] {
            if d(amount) > Decimal::ZERO {
                portfolio.deposit(&asset, d(amount)).expect("deposit");
                venue.deposit(&asset, d(amount));
            }
        }
        venue.set_price(&btc_usdt(), d(price));
        let slippage_bps = cfg.slippage_bps;
        let min_notional = cfg.min_notional.max(cfg.default_rules.min_notional);
        let rules = cfg.default_rules;
        World {
            router: Router::new(cfg, portfolio).expect("config"),
            venue,
            log: Vec::new(),
            step_violations: Vec::new(),
            intents: Vec::new(),
            slippage_bps,
            min_notional,
            rules,
        }
    }

    pub fn default_at(price: &str) -> World {
        World::new(RouterConfig::default(), "10000", "1", price)
    }

    pub fn fault(&mut self, f: Fault) -> &mut Self {
        self.venue.push_fault(f);
        self
    }

    /// Runs inputs at their times until the router is idle.
    pub fn run(&mut self, inputs: Vec<(TimeMs, Input)>) -> DriveEnd {
        for (_, i) in &inputs {
            if let Input::Deliver(it) = i {
                if !self.intents.iter().any(|x| x.intent_id() == it.intent_id()) {
                    self.intents.push(it.clone());
                }
            }
        }
        let mut found = Vec::new();
        let end = drive_observed(
            &mut self.router,
            &mut self.venue,
            inputs,
            &mut self.log,
            |router, venue, now| {
                // The router must never believe it has more to spend than the venue holds.
                for (asset, b) in router.portfolio().balances() {
                    if b.available() > venue.free(asset) {
                        found.push(format!(
                            "t={now}: {asset} available {} in the portfolio but only {} free at the venue",
                            b.available(),
                            venue.free(asset)
                        ));
                    }
                    if b.reserved < Decimal::ZERO || b.reserved > b.total {
                        found.push(format!(
                            "t={now}: {asset} reservation {} out of 0..={}",
                            b.reserved, b.total
                        ));
                    }
                }
            },
        );
        self.step_violations.extend(found);
        end
    }

    pub fn run_at0(&mut self, inputs: Vec<Input>) -> DriveEnd {
        self.run(inputs.into_iter().map(|i| (0, i)).collect())
    }

    pub fn records(&self) -> Vec<Record> {
        read(&self.log)
            .into_iter()
            .map(|r| r.expect("our own log reads back"))
            .collect()
    }

    /// Transition lines of one intent, events left out.
    pub fn path(&self, id: &str) -> Vec<State> {
        self.records()
            .into_iter()
            .filter(|r| r.intent_id == id && r.event.is_none())
            .map(|r| r.state)
            .collect()
    }

    pub fn lines_all(&self) -> Vec<serde_json::Value> {
        String::from_utf8(self.log.clone())
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
            .collect()
    }

    pub fn lines_of(&self, id: &str) -> Vec<serde_json::Value> {
        String::from_utf8(self.log.clone())
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
            .filter(|v| v["intent_id"] == id)
            .collect()
    }

    pub fn state(&self, id: &str) -> Option<State> {
        self.router.state_of(&IntentId::new(id).expect("id"))
    }

    /// Venue orders placed for an intent (any attempt).
    pub fn orders_of(&self, id: &str) -> Vec<&order_router::exchange::Order> {
        let prefix = ClientOrderId::for_attempt(&IntentId::new(id).expect("id"), 1)
            .as_str()
            .trim_end_matches("-1")
            .to_string()
            + "-";
        self.venue
            .orders()
            .iter()
            .filter(|o| o.client_order_id.as_str().starts_with(&prefix))
            .collect()
    }

    fn cap(&self, it: &Intent) -> Decimal {
        let slip = self.slippage_bps / Decimal::from(10_000);
        let tick = self.rules.tick_size;
        match it.side() {
            Side::Buy => (it.ref_price() * (Decimal::ONE + slip) / tick).floor() * tick,
            Side::Sell => (it.ref_price() * (Decimal::ONE - slip) / tick).ceil() * tick,
        }
    }

    /// Every invariant, after the run: step violations plus the quiescence rules.
    pub fn violations(&self) -> Vec<String> {
        let mut v = self.step_violations.clone();
        if self.router.in_flight() > 0 {
            v.push(format!(
                "{} intents not terminal at quiescence",
                self.router.in_flight()
            ));
        }
        let p = self.router.portfolio();
        if p.reserved_total() != Decimal::ZERO {
            v.push(format!("reservation left: {}", p.reserved_total()));
        }
        for asset in [usdt(), btc()] {
            if p.balance(&asset).total != self.venue.balance(&asset) {
                v.push(format!(
                    "{asset}: portfolio {} != venue {}",
                    p.balance(&asset).total,
                    self.venue.balance(&asset)
                ));
            }
        }
        let mut ids: Vec<&str> = self
            .venue
            .orders()
            .iter()
            .map(|o| o.client_order_id.as_str())
            .collect();
        ids.sort_unstable();
        for w in ids.windows(2) {
            if w[0] == w[1] {
                v.push(format!("two venue orders under client id {}", w[0]));
            }
        }
        for it in &self.intents {
            let id = it.intent_id().as_str();
            let orders = self.orders_of(id);
            let filled: Decimal = orders.iter().map(|o| o.filled).sum::<Decimal>().normalize();
            if filled > it.qty() {
                v.push(format!(
                    "{id}: venue filled {filled} > intent qty {}",
                    it.qty()
                ));
            }
            let cap = self.cap(it);
            for t in self.venue.trades() {
                if orders.iter().any(|o| o.order_id == t.order_id) {
                    let worse = match it.side() {
                        Side::Buy => t.price > cap,
                        Side::Sell => t.price < cap,
                    };
                    if worse {
                        v.push(format!("{id}: fill at {} beyond the cap {cap}", t.price));
                    }
                }
            }
            for o in &orders {
                if !(o.amount % self.rules.step_size).is_zero() {
                    v.push(format!("{id}: order qty {} off the lot grid", o.amount));
                }
            }
        }
        // Every order sent is on the grids and above the minimum notional.
        for r in read(&self.log).into_iter().flatten() {
            if r.state != State::Sent || r.event.is_some() {
                continue;
            }
            let line = &self.lines_all()[r.line - 1];
            let qty: Decimal = line["qty"].to_string().parse().unwrap_or_default();
            let price: Decimal = line["limit_price"].to_string().parse().unwrap_or_default();
            if !(qty % self.rules.step_size).is_zero() || !(price % self.rules.tick_size).is_zero()
            {
                v.push(format!(
                    "{}: sent {qty} @ {price} off the lot/tick grid",
                    r.intent_id
                ));
            }
            if qty * price < self.min_notional {
                v.push(format!(
                    "{}: sent {qty} @ {price} below min notional",
                    r.intent_id
                ));
            }
        }
        let mut checker = order_router::audit::Checker::new();
        for r in self.records() {
            checker.observe(&r);
        }
        for p in checker.finish() {
            v.push(format!("audit: {p}"));
        }
        v
    }

    pub fn assert_clean(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "violations: {v:#?}\nlog:\n{}",
            String::from_utf8_lossy(&self.log)
        );
    }
}

//! At-least-once intent delivery from the decision side to the router.
//!
//! Real message buses redeliver: after a consumer crash, a lost acknowledgement or a broker
//! failover, the same intent arrives again, possibly long after the first copy. The bus therefore
//! promises only that every published intent is delivered *at least* once; duplicates and late
//! redeliveries are normal traffic, which is why the router is idempotent by `intent_id`.
//!
//! Sans-IO: no threads, no clock, no locks. Delivery order is fully determined by the order of
//! calls (subscription order across subscribers, FIFO within one), so simulations replay exactly.

use std::collections::VecDeque;

use crate::decision::Intent;

/// A handle returned by [`Bus::subscribe`]; only meaningful for the bus that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriberId(usize);

/// Per-subscriber FIFO queues of intents.
#[derive(Debug, Default)]
pub struct Bus {
    /// Indexed by `SubscriberId`; a Vec keeps fan-out in subscription order.
    queues: Vec<VecDeque<Intent>>,
}

impl Bus {
    pub fn new() -> Bus {
        Bus::default()
    }

    /// A new subscriber sees only what is published from now on, like a fresh consumer of a
    /// topic without replay.
    pub fn subscribe(&mut self) -> SubscriberId {
        self.queues.push(VecDeque::new());
        SubscriberId(self.queues.len() - 1)
    }

    /// Enqueues a copy for every current subscriber, in subscription order.
    pub fn publish(&mut self, intent: &Intent) {
        for queue in &mut self.queues {
            queue.push_back(intent.clone());
        }
    }

    /// The at-least-once duplicate path: delivers `intent` again exactly like [`Bus::publish`].
    /// Simulators call it to inject duplicate and late deliveries; a live broker adapter calls it
    /// for the broker's own redeliveries. Kept separate so call sites say which one they mean.
    pub fn redeliver(&mut self, intent: &Intent) {
        self.publish(intent);
    }

    /// The oldest undelivered intent of `sub`; `None` when it has none or `sub` is unknown.
    pub fn poll(&mut self, sub: SubscriberId) -> Option<Intent> {
        self.queues.get_mut(sub.0)?.pop_front()
    }

    /// Intents waiting for `sub`; 0 for an unknown subscriber.
    pub fn pending(&self, sub: SubscriberId) -> usize {
        self.queues.get(sub.0).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IntentId, Side, Symbol};
    use rust_decimal::Decimal;

    fn intent(id: &str) -> Intent {
        Intent::new(
            IntentId::new(id).unwrap(),
            0,
            Symbol::parse("BTC/USDT").unwrap(),
            Side::Buy,
            Decimal::new(1, 3),
            Decimal::new(50_000, 0),
        )
        .unwrap()
    }

    fn drain(bus: &mut Bus, sub: SubscriberId) -> Vec<String> {
        std::iter::from_fn(|| bus.poll(sub))
            .map(|i| i.intent_id().to_string())
            .collect()
    }

    #[test]
    fn every_subscriber_sees_every_publish_in_order() {
        let mut bus = Bus::new();
        let a = bus.subscribe();
        let b = bus.subscribe();
        assert_ne!(a, b);
        for id in ["i1", "i2", "i3"] {
            bus.publish(&intent(id));
        }
        assert_eq!(bus.pending(a), 3);
        assert_eq!(bus.pending(b), 3);
        assert_eq!(drain(&mut bus, a), ["i1", "i2", "i3"]);
        assert_eq!(bus.pending(a), 0);
        assert_eq!(
            bus.pending(b),
            3,
            "polling one subscriber must not consume another's copy"
        );
        assert_eq!(drain(&mut bus, b), ["i1", "i2", "i3"]);
    }

    #[test]
    fn a_redelivery_yields_the_same_intent_twice() {
        let mut bus = Bus::new();
        let sub = bus.subscribe();
        let i = intent("i1");
        bus.publish(&i);
        bus.publish(&intent("i2"));
        bus.redeliver(&i);
        let first = bus.poll(sub).unwrap();
        let _ = bus.poll(sub);
        let late = bus.poll(sub).unwrap();
        assert_eq!(first, i);
        assert_eq!(late, i);
        assert_eq!(first.intent_id(), late.intent_id());
        assert_eq!(bus.poll(sub), None);
    }

    #[test]
    fn a_late_subscriber_does_not_see_earlier_messages() {
        let mut bus = Bus::new();
        let early = bus.subscribe();
        bus.publish(&intent("before"));
        let late = bus.subscribe();
        bus.publish(&intent("after"));
        assert_eq!(drain(&mut bus, late), ["after"]);
        assert_eq!(drain(&mut bus, early), ["before", "after"]);
    }

    #[test]
    fn unknown_or_empty_subscribers_get_nothing() {
        let mut bus = Bus::new();
        let mut other = Bus::new();
        let foreign = {
            other.subscribe();
            other.subscribe()
        };
        assert_eq!(bus.poll(foreign), None);
        assert_eq!(bus.pending(foreign), 0);
        let sub = bus.subscribe();
        assert_eq!(bus.poll(sub), None);
        bus.publish(&intent("i1"));
        assert_eq!(bus.poll(foreign), None);
        assert_eq!(bus.pending(foreign), 0);
    }
}

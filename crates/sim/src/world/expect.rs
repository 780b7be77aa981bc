//! `expect` rows, checked against the world's final state.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::exchange::sim::SimExchange;
use crate::model::{ClientOrderId, IntentId};
use crate::router::Router;
use crate::scenario::Check;

/// One `expect` row against the final state of the world.
pub(super) fn check(
    router: &Router,
    venue: &SimExchange,
    labels: &BTreeMap<String, IntentId>,
    c: &Check,
) -> Option<String> {
    match c {
        Check::Intent {
            id,
            final_state,
            orders,
            filled_qty,
        } => {
            let intent = labels.get(id).cloned().or_else(|| IntentId::new(id).ok())?;
            let state = router.state_of(&intent);
            if let Some(want) = final_state {
                if state != Some(*want) {
                    let got = state.map_or("never seen".to_string(), |s| s.to_string());
                    return Some(format!(
                        "intent {id}: final_state {want} expected, got {got}"
                    ));
                }
            }
            // The venue's retained orders: all of them, unless the scenario sets a retention
            // (an intent's orders are then only counted while the venue still keeps them).
            let prefix = ClientOrderId::intent_prefix(&intent);
            let mine: Vec<_> = venue
                .orders()
                .filter(|o| o.client_order_id.as_str().starts_with(&prefix))
                .collect();
            if let Some(n) = orders {
                if mine.len() != *n as usize {
                    return Some(format!(
                        "intent {id}: orders {n} expected, got {}",
                        mine.len()
                    ));
                }
            }
            if let Some(q) = filled_qty {
                let filled: Decimal = mine.iter().map(|o| o.filled).sum();
                if filled != *q {
                    return Some(format!(
                        "intent {id}: filled_qty {q} expected, got {}",
                        filled.normalize()
                    ));
                }
            }
            None
        }
        Check::Balance { asset, balance } => {
            let got = router.portfolio().balance(asset).total;
            (got != *balance).then(|| {
                format!(
                    "{asset}: balance {balance} expected, got {}",
                    got.normalize()
                )
            })
        }
        Check::ReservedZero => {
            let got = router.portfolio().reserved_total();
            (!got.is_zero()).then(|| format!("reserved 0 expected, got {}", got.normalize()))
        }
    }
}

//! What the journal says of one intent (docs/durability.md), and how a restart goes on from
//! it: the model's own reading of the durable lines, never the router's replay.

use rust_decimal::Decimal;

use super::intent::{Fill, IntentModel, Phase, Step};
use super::rules::Settings;
use crate::audit::{AuditLine, Detail};
use crate::model::{Asset, OrderId, Side, Symbol, TimeMs};
use crate::router::State;

/// One intent as its durable lines describe it.
#[derive(Debug, Clone)]
pub struct View {
    /// The `seq` of its `NEW` line: restarts resume intents in journal order.
    pub first_seq: u64,
    pub symbol: Symbol,
    pub side: Side,
    pub qty_asked: Decimal,
    pub ref_price: Decimal,
    pub state: State,
    pub reserved: Option<(Asset, Decimal)>,
    pub qty: Decimal,
    pub cap: Decimal,
    pub attempt: u32,
    pub fills: Vec<(String, OrderId, Decimal)>,
    /// The current attempt's order and when it was first sent.
    pub order: Option<(String, TimeMs)>,
    pub retry_at: TimeMs,
}

impl View {
    /// The view a `NEW` line starts; `None` for any other line.
    pub fn begin(line: &AuditLine) -> Option<View> {
        let Detail::New {
            symbol,
            side,
            qty,
            ref_price,
        } = &line.detail
        else {
            return None;
        };
        Some(View {
            first_seq: line.seq,
            symbol: symbol.clone(),
            side: *side,
            qty_asked: *qty,
            ref_price: *ref_price,
            state: State::New,
            reserved: None,
            qty: Decimal::ZERO,
            cap: Decimal::ZERO,
            attempt: 0,
            fills: Vec::new(),
            order: None,
            retry_at: 0,
        })
    }

    /// One more durable line of this intent.
    pub fn apply(&mut self, line: &AuditLine) {
        if line.detail.event().is_some() {
            if let (Detail::Held { next_ms, .. }, State::Retry) = (&line.detail, self.state) {
                self.retry_at = *next_ms;
            }
            return;
        }
        let from = self.state;
        self.state = line.state;
        let release = |r: &mut Option<(Asset, Decimal)>, amount: Decimal| {
            if let Some((_, held)) = r {
                *held -= amount;
            }
        };
        match &line.detail {
            Detail::Reserved {
                reserved_qty,
                reserved_price,
                asset,
                amount,
            } => {
                self.reserved = Some((asset.clone(), *amount));
                self.qty = *reserved_qty;
                self.cap = *reserved_price;
            }
            Detail::Sent {
                client_order_id,
                attempt,
                ..
            } => {
                if from != State::Unknown {
                    self.order = Some((client_order_id.as_str().to_string(), line.t_ms));
                }
                self.attempt = *attempt;
            }
            Detail::Order {
                client_order_id,
                order_id,
                filled_qty,
                ..
            } => {
                let coid = client_order_id.as_str();
                match self.fills.iter_mut().find(|f| f.0 == coid) {
                    Some(f) => {
                        f.1 = *order_id;
                        if *filled_qty > f.2 {
                            f.2 = *filled_qty;
                        }
                    }
                    None if *filled_qty > Decimal::ZERO => {
                        self.fills.push((coid.to_string(), *order_id, *filled_qty))
                    }
                    None => {}
                }
            }
            Detail::Retry { backoff_ms, .. } => self.retry_at = line.t_ms + *backoff_ms,
            Detail::PartialSuccess { released, .. } | Detail::FailedFinal { released, .. } => {
                release(&mut self.reserved, *released)
            }
            _ => {}
        }
        if !matches!(self.state, State::Sent | State::Unknown | State::Partial) {
            self.order = None;
        }
    }
}

impl IntentModel {
    /// The intent a restart rebuilds from `view`, going on as docs/durability.md's table says:
    /// a `recovered` line, then reserve, place, ask, poll, end the attempt, wait out the
    /// backoff or reconcile.
    pub fn resume(id: &str, view: &View, cfg: &Settings, s: &mut Step<'_>) -> IntentModel {
        let mut m = IntentModel::blank(id, &view.symbol, view.side, cfg);
        m.state = view.state;
        m.qty = view.qty;
        m.cap = view.cap;
        m.attempt = view.attempt;
        if let Some((asset, held)) = &view.reserved {
            m.asset = Some(asset.clone());
            m.held = *held;
        }
        m.fills = view
            .fills
            .iter()
            .map(|(coid, order_id, filled)| Fill {
                coid: coid.clone(),
                order_id: *order_id,
                filled: *filled,
            })
            .collect();
        s.out
            .push(super::intent::Out::Line(m.state, Detail::Recovered));
        let order = view.order.clone();
        match (m.state, order) {
            (State::New, _) => m.reserve_and_place(s, view.qty_asked, view.ref_price),
            (State::Reserved, _) => m.place(s),
            (State::Sent, Some((coid, sent))) => {
                m.unknown(s, coid, sent, "restart");
                m.in_doubt = true;
            }
            (State::Unknown, Some((coid, sent))) => {
                m.phase = Phase::Unknown {
                    coid,
                    sent,
                    asked: None,
                };
                m.query_wait = cfg.backoff_ms.max(1);
                m.in_doubt = true;
                m.timer = Some(s.now);
            }
            (State::Partial, Some((coid, sent))) => {
                m.phase = Phase::Working {
                    coid,
                    sent,
                    cancel_next: false,
                };
                m.in_doubt = true;
                m.timer = Some(s.now);
            }
            (State::Canceled | State::Error, _) => m.end_attempt(s),
            (State::Retry, _) => {
                m.phase = Phase::Backoff;
                m.timer = Some(view.retry_at);
            }
            (State::Filled | State::PartialSuccess, _) => m.begin_reconcile(s),
            _ => {}
        }
        m
    }
}

//! The user data stream, sans-IO: what happened to the account's orders and balances since the
//! last look, as Binance's `executionReport`, `listStatus`, `outboundAccountPosition` and
//! `balanceUpdate` events. The venue compares the exchange with what it last reported, so every change is
//! reported once whatever caused it: a REST or WebSocket request, or the living market filling
//! a resting order.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::exchange::sim::OrderList;
use crate::exchange::{Order, OrderStatus, Trade};
use crate::model::{OrderId, TimeMs};
use crate::venue::shapes::{order_id_num, side_name, trade_id_num, Dec, OrderType};
use crate::venue::trading::binance_name;
use crate::venue::Venue;

/// What was last reported of an order that has not ended.
#[derive(Debug, Clone, Copy, Default)]
struct Reported {
    filled: Decimal,
    quote: Decimal,
}

/// What the user data stream has reported so far.
#[derive(Debug, Default)]
pub struct UserTracker {
    /// Orders announced (`NEW`), as an absolute index.
    orders_seen: usize,
    /// Trades reported, as an absolute index.
    trades_seen: usize,
    /// Announced orders that have not ended, by id.
    open: BTreeMap<u64, Reported>,
    /// Each asset's free and locked as last reported.
    funds: BTreeMap<String, (Decimal, Decimal)>,
    /// Execution ids given out (`I`).
    executions: u64,
    /// Order lists announced, oldest first, and those announced while still executing.
    lists_seen: usize,
    lists_open: std::collections::BTreeSet<u64>,
}

impl UserTracker {
    /// Starts from the venue as it is: only later changes are events.
    pub fn start(v: &Venue) -> UserTracker {
        UserTracker {
            orders_seen: v.ex.order_count(),
            trades_seen: v.ex.trade_count(),
            open: v
                .ex
                .open_orders()
                .map(|o| {
                    (
                        order_id_num(o),
                        Reported {
                            filled: o.filled,
                            quote: quote(o),
                        },
                    )
                })
                .collect(),
            funds: v
                .ex
                .assets()
                .map(|(a, f)| (a.as_str().to_string(), (f.free, f.locked)))
                .collect(),
            executions: 0,
            lists_seen: v.ex.order_lists().count(),
            lists_open: v.ex.open_order_lists().map(|l| l.id).collect(),
        }
    }
}

/// A list's `listStatus` event: its legs, and whether it still executes.
fn list_status(v: &Venue, now: TimeMs, l: &OrderList, open: bool) -> Value {
    let name = binance_name(&l.symbol);
    let legs: Vec<Value> = l
        .orders
        .iter()
        .filter_map(|id| v.ex.order_by_id(id))
        .map(|o| json!({"s": name, "i": order_id_num(o), "c": o.client_order_id.as_str()}))
        .collect();
    json!({
        "e": "listStatus",
        "E": now,
        "s": name,
        "g": l.id,
        "c": l.contingency.name(),
        "l": if open { "EXEC_STARTED" } else { "ALL_DONE" },
        "L": if open { "EXECUTING" } else { "ALL_DONE" },
        "r": "NONE",
        "C": l.list_client_id.as_str(),
        "T": now,
        "O": legs,
    })
}

fn quote(o: &Order) -> Decimal {
    o.average
        .and_then(|a| a.checked_mul(o.filled))
        .unwrap_or(Decimal::ZERO)
}

/// One execution of an order, as the report shows it.
struct Exec<'a> {
    kind: &'static str,
    status: &'static str,
    trade: Option<&'a Trade>,
    maker: bool,
    filled: Decimal,
    quote: Decimal,
    /// The cancel request's client id, for `CANCELED`.
    cancel_id: Option<String>,
}

fn report(v: &Venue, now: TimeMs, o: &Order, e: Exec<'_>, id: u64) -> Value {
    let info = v.info(o);
    let (c, orig) = match &e.cancel_id {
        Some(c) => (c.clone(), o.client_order_id.as_str().to_string()),
        None => (o.client_order_id.as_str().to_string(), String::new()),
    };
    let price = if info.kind == OrderType::Market {
        Decimal::ZERO
    } else {
        o.price
    };
    let (l, lp, n, asset, t_id, t_ms) = match e.trade {
        Some(t) => (
            t.qty,
            t.price,
            t.fee,
            Value::String(t.fee_asset.as_str().to_string()),
            trade_id_num(t) as i64,
            t.t_ms,
        ),
        None => (
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
            Value::Null,
            -1,
            now,
        ),
    };
    let working = matches!(e.status, "NEW" | "PARTIALLY_FILLED") && info.kind != OrderType::Market;
    json!({
        "e": "executionReport",
        "E": now,
        "s": binance_name(&o.symbol),
        "c": c,
        "S": side_name(o.side),
        "o": info.kind,
        "f": info.tif,
        "q": Dec(o.amount),
        "p": Dec(price),
        "P": Dec(Decimal::ZERO),
        "F": Dec(Decimal::ZERO),
        "g": -1,
        "C": orig,
        "x": e.kind,
        "X": e.status,
        "r": "NONE",
        "i": order_id_num(o),
        "l": Dec(l),
        "z": Dec(e.filled),
        "L": Dec(lp),
        "n": Dec(n),
        "N": asset,
        "T": t_ms,
        "t": t_id,
        "I": id,
        "w": working,
        "m": e.maker,
        "M": false,
        "O": info.time,
        "Z": Dec(e.quote),
        "Y": Dec(lp.checked_mul(l).unwrap_or(Decimal::ZERO)),
        "Q": Dec(info.orig_quote_qty),
        "W": info.time,
        "V": "EXPIRE_MAKER",
    })
}

/// The account's events since the last call, oldest first, as JSON objects (the `event` of
/// Binance's `{"subscriptionId","event"}` envelope).
pub fn events(v: &mut Venue, now: TimeMs) -> Vec<String> {
    let mut tracker = std::mem::take(&mut v.user);
    let mut out: Vec<Value> = Vec::new();
    let next_id = |t: &mut UserTracker| {
        t.executions += 1;
        t.executions
    };
    // Orders placed since: NEW (a refused placement is no order).
    let fresh: Vec<Order> = v.ex.orders_from(tracker.orders_seen).cloned().collect();
    tracker.orders_seen = v.ex.order_count();
    for o in &fresh {
        if o.status == OrderStatus::Rejected {
            continue;
        }
        tracker.open.insert(order_id_num(o), Reported::default());
        let id = next_id(&mut tracker);
        out.push(report(
            v,
            now,
            o,
            Exec {
                kind: "NEW",
                status: "NEW",
                trade: None,
                maker: false,
                filled: Decimal::ZERO,
                quote: Decimal::ZERO,
                cancel_id: None,
            },
            id,
        ));
    }
    // Fills since: TRADE, the order's cumulative amounts as of each fill.
    let trades: Vec<Trade> = v.ex.trades_from(tracker.trades_seen).cloned().collect();
    tracker.trades_seen = v.ex.trade_count();
    for t in &trades {
        let Some(o) = v.ex.order_by_id(&t.order_id).cloned() else {
            continue;
        };
        let r = tracker.open.entry(order_id_num(&o)).or_default();
        r.filled = r.filled.saturating_add(t.qty);
        r.quote = r
            .quote
            .saturating_add(t.price.checked_mul(t.qty).unwrap_or(Decimal::ZERO));
        let (filled, quote) = (r.filled, r.quote);
        let status = if filled >= o.amount {
            "FILLED"
        } else {
            "PARTIALLY_FILLED"
        };
        let id = next_id(&mut tracker);
        out.push(report(
            v,
            now,
            &o,
            Exec {
                kind: "TRADE",
                status,
                trade: Some(t),
                maker: v.is_maker(t),
                filled,
                quote,
                cancel_id: None,
            },
            id,
        ));
    }
    // Orders that ended without a fill to say so: CANCELED, EXPIRED, REJECTED.
    let tracked: Vec<(u64, Reported)> = tracker.open.iter().map(|(k, r)| (*k, *r)).collect();
    for (n, r) in tracked {
        let Some(o) = OrderId::from_u64(n)
            .ok()
            .and_then(|id| v.ex.order_by_id(&id))
            .cloned()
        else {
            tracker.open.remove(&n);
            continue;
        };
        let (kind, status) = match o.status {
            OrderStatus::Open => continue,
            OrderStatus::Closed => {
                tracker.open.remove(&n);
                continue;
            }
            OrderStatus::Canceled => ("CANCELED", "CANCELED"),
            OrderStatus::Expired => ("EXPIRED", "EXPIRED"),
            OrderStatus::Rejected => ("REJECTED", "REJECTED"),
        };
        tracker.open.remove(&n);
        let cancel_id = (kind == "CANCELED").then(|| {
            v.cancel_ids
                .get(&n)
                .cloned()
                .unwrap_or_else(|| format!("cancel-{n}"))
        });
        let id = next_id(&mut tracker);
        out.push(report(
            v,
            now,
            &o,
            Exec {
                kind,
                status,
                trade: None,
                maker: false,
                filled: r.filled,
                quote: r.quote,
                cancel_id,
            },
            id,
        ));
    }
    // Order lists placed since, and lists that stopped executing: listStatus.
    let fresh: Vec<OrderList> =
        v.ex.order_lists()
            .skip(tracker.lists_seen)
            .cloned()
            .collect();
    tracker.lists_seen += fresh.len();
    for l in &fresh {
        let open = v.ex.list_open(l.id);
        if open {
            tracker.lists_open.insert(l.id);
        }
        out.push(list_status(v, now, l, open));
    }
    let executing: Vec<u64> = tracker.lists_open.iter().copied().collect();
    for id in executing {
        if v.ex.list_open(id) {
            continue;
        }
        tracker.lists_open.remove(&id);
        if let Some(l) = v.ex.order_list(id).cloned() {
            out.push(list_status(v, now, &l, false));
        }
    }
    // Balances that moved: outboundAccountPosition; moved with no order event, a deposit or
    // withdrawal: balanceUpdate first.
    let mut changed = Vec::new();
    for (a, f) in v.ex.assets() {
        let was = tracker.funds.get(a.as_str()).copied();
        if was != Some((f.free, f.locked)) {
            let (wf, wl) = was.unwrap_or((Decimal::ZERO, Decimal::ZERO));
            let delta = (f.free + f.locked) - (wf + wl);
            changed.push((a.as_str().to_string(), f.free, f.locked, delta));
            tracker
                .funds
                .insert(a.as_str().to_string(), (f.free, f.locked));
        }
    }
    if !changed.is_empty() {
        if out.is_empty() {
            for (a, _, _, d) in &changed {
                out.push(json!({"e": "balanceUpdate", "E": now, "a": a, "d": Dec(*d), "T": now}));
            }
        }
        let balances: Vec<Value> = changed
            .iter()
            .map(|(a, f, l, _)| json!({"a": a, "f": Dec(*f), "l": Dec(*l)}))
            .collect();
        out.push(json!({"e": "outboundAccountPosition", "E": now, "u": now, "B": balances}));
    }
    v.user = tracker;
    out.into_iter().map(|e| e.to_string()).collect()
}

//! The `--record` line of one request: what was asked, what was answered, which fault hit it,
//! and what the venue executed (the order it placed or cancelled, and every trade since the
//! previous line, whatever caused it), so a test can prove what a bot did.

use serde_json::{json, Map, Value};

use super::shapes::{order_id_num, side_name, status_name, trade_id_num, Dec};
use super::{Delivery, Outcome, Request, Venue};
use crate::model::TimeMs;

/// Longer `X-MBX-APIKEY` values are recorded cut to this many characters.
const MAX_KEY_CHARS: usize = 128;

pub(super) fn line(
    v: &mut Venue,
    now: TimeMs,
    req: &Request<'_>,
    status: u16,
    code: Option<i32>,
    out: &Outcome,
) -> String {
    let params: Map<String, Value> = out
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let delivery = match out.delivery {
        Delivery::Now => json!("now"),
        Delivery::After(ms) => json!({ "after_ms": ms }),
        Delivery::Drop => json!("dropped"),
        Delivery::Stall(ms) => json!({ "stalled_ms": ms }),
    };
    let order = out.executed.as_ref().map(|o| {
        json!({
            "orderId": order_id_num(o),
            "clientOrderId": o.client_order_id.as_str(),
            "symbol": super::trading::binance_name(&o.symbol),
            "side": side_name(o.side),
            "status": status_name(o),
            "origQty": Dec(o.amount),
            "executedQty": Dec(o.filled),
        })
    });
    // A list call: the list and each leg as the venue holds it afterwards.
    let list = out.list.and_then(|id| v.ex.order_list(id)).map(|l| {
        let legs: Vec<Value> = l
            .orders
            .iter()
            .filter_map(|id| v.ex.order_by_id(id))
            .map(|o| {
                json!({
                    "orderId": order_id_num(o),
                    "clientOrderId": o.client_order_id.as_str(),
                    "side": side_name(o.side),
                    "status": v.shown(o).status,
                    "origQty": Dec(o.amount),
                    "executedQty": Dec(o.filled),
                })
            })
            .collect();
        let open = v.ex.list_open(l.id);
        json!({
            "orderListId": l.id,
            "listClientOrderId": l.list_client_id.as_str(),
            "contingencyType": l.contingency.name(),
            "listOrderStatus": if open { "EXECUTING" } else { "ALL_DONE" },
            "orders": legs,
        })
    });
    let trades: Vec<Value> =
        v.ex.trades_from(v.recorded_trades)
            .map(|t| {
                json!({
                    "id": trade_id_num(t),
                    "orderId": t.order_id.get(),
                    "symbol": super::trading::binance_name(&t.symbol),
                    "side": side_name(t.side),
                    "price": Dec(t.price),
                    "qty": Dec(t.qty),
                    "commission": Dec(t.fee),
                    "time": t.t_ms,
                })
            })
            .collect();
    v.recorded_trades = v.ex.trade_count();
    // A request lost on the way was never answered: no status to show.
    let (status, code) = if out.not_received {
        (None, None)
    } else {
        (Some(status), code)
    };
    let mut line = json!({
        "seq": v.seq,
        "t_ms": now,
        "client": req.client,
        "method": req.method.name(),
        "path": req.path,
        "params": params,
        "status": status,
        "code": code,
        "faults": out.faults,
        "delivery": delivery,
        "order": order,
        "list": list,
        "trades": trades,
    });
    // Added only when there is something to say, so older records read the same.
    if let Some(o) = line.as_object_mut() {
        // The key names the client (a bot's, among several); the secret is never sent.
        if let Some(k) = req.api_key {
            let k: String = k.chars().take(MAX_KEY_CHARS).collect();
            o.insert("api_key".into(), json!(k));
        }
        if let Some(s) = out.retry_after_s {
            o.insert("retry_after_s".into(), json!(s));
        }
        if let Some(t) = out.hold_until {
            o.insert("hold_until_ms".into(), json!(t));
        }
    }
    line.to_string()
}

//! `POST /api/v3/order/cancelReplace`: cancel an order and place another in one request,
//! answering each outcome as Binance does (200, or `-2021` / `-2022` with a `data` object
//! telling what each half did).

use serde::Serialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use super::orderlist::{list_call, null, value, Op};
use super::params::Params;
use super::shapes::{order_id_num, Canceled};
use super::trading::{binance_name, client_id, to_body, By, Op as TradingOp, Placement};
use super::{Call, Outcome, Venue};
use crate::model::{ClientOrderId, Symbol, TimeMs};
use crate::sim::scenario::FaultKind;

#[derive(Debug, Clone)]
pub struct CancelReplace {
    pub(super) symbol: Symbol,
    by: By,
    /// The client id the order must have when `cancelOrderId` names it too.
    check: Option<ClientOrderId>,
    cancel_id: Option<String>,
    allow_failure: bool,
    placement: Placement,
}

/// `POST /api/v3/order/cancelReplace`: the new order's parameters are a placement's.
pub(super) fn parse(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let allow_failure = match p.required("cancelReplaceMode", |p, n| Ok(p.raw(n)))? {
        "STOP_ON_FAILURE" => false,
        "ALLOW_FAILURE" => true,
        _ => return Err(ApiError::illegal_chars("cancelReplaceMode")),
    };
    let id = p.uint("cancelOrderId")?;
    let orig = client_id(p, "cancelOrigClientOrderId")?;
    let (by, check) = match (id, orig) {
        (Some(id), c) => (By::Id(id), c),
        (None, Some(c)) => (By::Client(c), None),
        (None, None) => return Err(ApiError::one_of("cancelOrderId", "cancelOrigClientOrderId")),
    };
    let cancel_id = client_id(p, "cancelNewClientOrderId")?.map(|c| c.as_str().to_string());
    match p.raw("cancelRestrictions") {
        None | Some("ONLY_NEW" | "ONLY_PARTIALLY_FILLED") => {}
        Some(_) => return Err(ApiError::illegal_chars("cancelRestrictions")),
    }
    match p.raw("orderRateLimitExceededMode") {
        None | Some("DO_NOTHING" | "CANCEL_ONLY") => {}
        Some(_) => return Err(ApiError::illegal_chars("orderRateLimitExceededMode")),
    }
    let placed = super::trading::new_order(v, p)?;
    let (super::Op::Trading(TradingOp::Place(placement)), Some(symbol)) =
        (placed.op, placed.symbol)
    else {
        return Err(ApiError::unknown_endpoint());
    };
    list_call(
        Op::CancelReplace(Box::new(CancelReplace {
            symbol: symbol.clone(),
            by,
            check,
            cancel_id,
            allow_failure,
            placement: *placement,
        })),
        Some(symbol),
    )
}

/// What each half of a cancel-replace did, in Binance's order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Halves {
    cancel_result: &'static str,
    new_order_result: &'static str,
    cancel_response: Box<RawValue>,
    new_order_response: Option<Box<RawValue>>,
}

fn error_value(e: &ApiError) -> Box<RawValue> {
    value(e)
}

/// Cancels, then (unless the cancel failed under `STOP_ON_FAILURE`) places; answers 200 when
/// both succeeded, `-2021` (409) when one did, `-2022` (400) when neither did.
pub(super) fn run(
    v: &mut Venue,
    now: TimeMs,
    cr: CancelReplace,
    fault: Option<FaultKind>,
    out: &mut Outcome,
) -> Result<Vec<u8>, ApiError> {
    let CancelReplace {
        symbol,
        by,
        check,
        cancel_id,
        allow_failure,
        placement,
    } = cr;
    let n = binance_name(&symbol);
    let found = v
        .find(&symbol, &by)
        .filter(|o| check.as_ref().is_none_or(|c| c == &o.client_order_id))
        .map(|o| o.order_id);
    let cancelled = found.ok_or_else(ApiError::cancel_rejected).and_then(|id| {
        v.ex.cancel_by_id(now, &symbol, &id)
            .map_err(|_| ApiError::cancel_rejected())
    });
    let cancel_report = match &cancelled {
        Ok(o) => {
            let cid = cancel_id.unwrap_or_else(|| format!("cancel-{}", order_id_num(o)));
            value(&Canceled::new(&n, o, &v.info(o), &cid, now).shown(&v.shown(o)))
        }
        Err(e) => error_value(e),
    };
    let cancel_ok = cancelled.is_ok();
    if let Ok(o) = &cancelled {
        out.executed = Some(o.clone());
    }
    if !cancel_ok && !allow_failure {
        return Err(ApiError::cancel_replace_failed(&value(&Halves {
            cancel_result: "FAILURE",
            new_order_result: "NOT_ATTEMPTED",
            cancel_response: cancel_report,
            new_order_response: None,
        })));
    }
    let placed = super::trading::place(v, now, placement, fault, out);
    let new_report = match &placed {
        Ok(body) => String::from_utf8(body.clone())
            .ok()
            .and_then(|s| RawValue::from_string(s).ok())
            .unwrap_or_else(null),
        Err(e) => error_value(e),
    };
    let result = |ok: bool| if ok { "SUCCESS" } else { "FAILURE" };
    let halves = Halves {
        cancel_result: result(cancel_ok),
        new_order_result: result(placed.is_ok()),
        cancel_response: cancel_report,
        new_order_response: Some(new_report),
    };
    let data = value(&halves);
    match (cancel_ok, placed.is_ok()) {
        (true, true) => to_body(&halves),
        (false, false) => Err(ApiError::cancel_replace_failed(&data)),
        _ => Err(ApiError::cancel_replace_partial(&data)),
    }
}

//! Order lists (OCO, OTO, OTOCO: place, cancel, query) in Binance spot's REST dialect, over the simulated exchange's lists ([`crate::exchange::sim::NewList`]).

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use super::params::Params;
use super::public::MAX_PRICE;
use super::shapes::{order_id_num, Ack, Canceled, Fill, OrderInfo, OrderType, Placed};
use super::trading::{
    binance_name, call, client_id, in_page, page, paged, placement_error, symbol, to_body,
    Op as TradingOp, Page, Resp,
};
use super::{Call, Outcome, Venue};
use crate::exchange::sim::{
    Leg, ListShape, NewList, NewOrder, OrderList, PlacementFault, Stop, StopKind,
};
use crate::exchange::Order;
use crate::model::{ClientOrderId, Side, Symbol, Tif, TimeMs};
use crate::sim::scenario::FaultKind;

/// A list named by its id or its client id.
#[derive(Debug, Clone)]
pub enum ListBy {
    Id(u64),
    Client(String),
}

#[derive(Debug, Clone)]
pub enum Op {
    Place {
        list: Box<NewList>,
        /// Type and time in force of each leg, by client id.
        kinds: Vec<(ClientOrderId, OrderType, &'static str)>,
        resp: Resp,
        /// Client ids the venue made up (the legs' and the list's).
        generated: u64,
    },
    Cancel {
        symbol: Symbol,
        by: ListBy,
        cancel_id: Option<String>,
    },
    Query {
        by: ListBy,
    },
    Open,
    All {
        from_id: Option<u64>,
        page: Page,
    },
    CancelReplace(Box<super::replace::CancelReplace>),
}

impl Op {
    /// Whether the call places orders (and so can be refused by a venue fault).
    pub(super) fn places(&self) -> bool {
        matches!(self, Op::Place { .. } | Op::CancelReplace(_))
    }
}

pub(super) fn list_call(op: Op, symbol: Option<Symbol>) -> Result<Call, ApiError> {
    call(TradingOp::List(Box::new(op)), symbol)
}

fn side(p: &Params, name: &str) -> Result<Side, ApiError> {
    match p.required(name, |p, n| Ok(p.raw(n)))? {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(ApiError::invalid_side()),
    }
}

fn resp(p: &Params) -> Result<Resp, ApiError> {
    match p.raw("newOrderRespType") {
        // The examples Binance gives of list answers are `RESULT`.
        None | Some("RESULT") => Ok(Resp::Result),
        Some("FULL") => Ok(Resp::Full),
        Some("ACK") => Ok(Resp::Ack),
        Some(_) => Err(ApiError::invalid_resp_type()),
    }
}

fn stp(p: &Params) -> Result<(), ApiError> {
    match p.raw("selfTradePreventionMode") {
        None | Some("NONE" | "EXPIRE_MAKER" | "EXPIRE_TAKER" | "EXPIRE_BOTH") => Ok(()),
        Some(_) => Err(ApiError::illegal_chars("selfTradePreventionMode")),
    }
}

/// Makes up client ids the way a placement does, counting them.
struct Ids<'v> {
    v: &'v Venue,
    made: u64,
}

impl Ids<'_> {
    fn pick(&mut self, sent: Option<ClientOrderId>) -> Result<ClientOrderId, ApiError> {
        match sent {
            Some(c) => Ok(c),
            None => {
                self.made += 1;
                ClientOrderId::new(&format!("venue-{}", self.v.anonymous + self.made))
                    .map_err(|_| ApiError::mandatory("newClientOrderId"))
            }
        }
    }
}

/// One leg from the parameters `<prefix>Type`, `<prefix>Price`, `<prefix>StopPrice`,
/// `<prefix>TimeInForce`, `<prefix>ClientOrderId`.
#[allow(clippy::too_many_arguments)]
fn leg(
    p: &Params,
    ids: &mut Ids<'_>,
    prefix: &str,
    symbol: &Symbol,
    side: Side,
    qty: Decimal,
    kind: OrderType,
) -> Result<(Leg, OrderType, &'static str), ApiError> {
    let name = |n: &str| format!("{prefix}{n}");
    let price = p.decimal(&name("Price"))?;
    let stop_price = p.decimal(&name("StopPrice"))?;
    let tif = p.raw(&name("TimeInForce"));
    let coid = ids.pick(client_id(p, &name("ClientOrderId"))?)?;
    if price.is_some_and(|x| x > MAX_PRICE) || stop_price.is_some_and(|x| x > MAX_PRICE) {
        return Err(ApiError::filter("Filter failure: PRICE_FILTER".into()));
    }
    let stop = match kind {
        OrderType::StopLoss | OrderType::StopLossLimit => Some(StopKind::StopLoss),
        OrderType::TakeProfit | OrderType::TakeProfitLimit => Some(StopKind::TakeProfit),
        _ => None,
    }
    .map(|k| {
        stop_price
            .map(|price| Stop { kind: k, price })
            .ok_or_else(|| ApiError::mandatory(&name("StopPrice")))
    })
    .transpose()?;
    if stop.is_none() && stop_price.is_some() {
        return Err(ApiError::not_required(&name("StopPrice")));
    }
    let needs_tif = matches!(
        kind,
        OrderType::Limit | OrderType::StopLossLimit | OrderType::TakeProfitLimit
    );
    let (tif, tif_name) = match (needs_tif, tif) {
        (true, None) => return Err(ApiError::mandatory(&name("TimeInForce"))),
        (true, Some("GTC")) => (Tif::Gtc, "GTC"),
        (true, Some("IOC")) => (Tif::Ioc, "IOC"),
        (true, Some("FOK")) => (Tif::Ioc, "FOK"),
        (true, Some(_)) => return Err(ApiError::invalid_tif()),
        (false, Some(_)) => return Err(ApiError::not_required(&name("TimeInForce"))),
        (false, None) => (Tif::Gtc, "GTC"),
    };
    let market = kind.is_market();
    let limit_price = if market {
        if price.is_some() {
            return Err(ApiError::not_required(&name("Price")));
        }
        Decimal::ZERO
    } else {
        price.ok_or_else(|| ApiError::mandatory(&name("Price")))?
    };
    let order = NewOrder {
        client_order_id: coid,
        symbol: symbol.clone(),
        side,
        qty,
        limit_price,
        tif: if market { Tif::Ioc } else { tif },
        market,
    };
    Ok((
        Leg {
            order,
            stop,
            maker_only: kind == OrderType::LimitMaker,
        },
        kind,
        tif_name,
    ))
}

fn leg_type(p: &Params, name: &str, allowed: &[OrderType]) -> Result<OrderType, ApiError> {
    let kind = OrderType::parse(p.required(name, |p, n| Ok(p.raw(n)))?)
        .ok_or_else(ApiError::invalid_order_type)?;
    if allowed.contains(&kind) {
        Ok(kind)
    } else {
        Err(ApiError::oco_order_type())
    }
}

const PAIR_TYPES: [OrderType; 5] = [
    OrderType::StopLossLimit,
    OrderType::StopLoss,
    OrderType::LimitMaker,
    OrderType::TakeProfit,
    OrderType::TakeProfitLimit,
];

fn list_client_id(p: &Params, ids: &mut Ids<'_>) -> Result<ClientOrderId, ApiError> {
    match client_id(p, "listClientOrderId")? {
        Some(c) => Ok(c),
        None => {
            let n = ids.v.ex.order_lists().count() + 1;
            ClientOrderId::new(&format!("venue-list-{n}"))
                .map_err(|_| ApiError::mandatory("listClientOrderId"))
        }
    }
}

fn placed(
    list: NewList,
    kinds: Vec<(ClientOrderId, OrderType, &'static str)>,
    resp: Resp,
    ids: Ids<'_>,
) -> Result<Call, ApiError> {
    let symbol = list.symbol.clone();
    list_call(
        Op::Place {
            list: Box::new(list),
            kinds,
            resp,
            generated: ids.made,
        },
        Some(symbol),
    )
}

/// `POST /api/v3/orderList/oco`.
pub(super) fn oco(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let mut ids = Ids { v, made: 0 };
    let list_id = list_client_id(p, &mut ids)?;
    let side = side(p, "side")?;
    let qty = p.required("quantity", |p, n| p.decimal(n))?;
    let above_kind = leg_type(p, "aboveType", &PAIR_TYPES)?;
    let below_kind = leg_type(p, "belowType", &PAIR_TYPES)?;
    let (above, ak, at) = leg(p, &mut ids, "above", &symbol, side, qty, above_kind)?;
    let (below, bk, bt) = leg(p, &mut ids, "below", &symbol, side, qty, below_kind)?;
    let resp = resp(p)?;
    stp(p)?;
    let kinds = vec![
        (above.order.client_order_id.clone(), ak, at),
        (below.order.client_order_id.clone(), bk, bt),
    ];
    let list = NewList {
        list_client_id: list_id,
        symbol,
        shape: ListShape::Oco { above, below },
    };
    placed(list, kinds, resp, ids)
}

/// `POST /api/v3/order/oco` (deprecated, still served): a limit maker at `price` and a stop
/// at `stopPrice` (a stop-limit with `stopLimitPrice`).
pub(super) fn oco_deprecated(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let mut ids = Ids { v, made: 0 };
    let list_id = list_client_id(p, &mut ids)?;
    let side = side(p, "side")?;
    let qty = p.required("quantity", |p, n| p.decimal(n))?;
    let price = p.required("price", |p, n| p.decimal(n))?;
    let stop_price = p.required("stopPrice", |p, n| p.decimal(n))?;
    let stop_limit = p.decimal("stopLimitPrice")?;
    let stop_tif = p.raw("stopLimitTimeInForce");
    let limit_id = ids.pick(client_id(p, "limitClientOrderId")?)?;
    let stop_id = ids.pick(client_id(p, "stopClientOrderId")?)?;
    let resp = resp(p)?;
    stp(p)?;
    if price > MAX_PRICE || stop_price > MAX_PRICE || stop_limit.is_some_and(|x| x > MAX_PRICE) {
        return Err(ApiError::filter("Filter failure: PRICE_FILTER".into()));
    }
    let (stop_kind, tif, tif_name) = match (stop_limit, stop_tif) {
        (Some(_), None) => return Err(ApiError::mandatory("stopLimitTimeInForce")),
        (None, Some(_)) => return Err(ApiError::not_required("stopLimitTimeInForce")),
        (None, None) => (OrderType::StopLoss, Tif::Ioc, "GTC"),
        (Some(_), Some("GTC")) => (OrderType::StopLossLimit, Tif::Gtc, "GTC"),
        (Some(_), Some("IOC")) => (OrderType::StopLossLimit, Tif::Ioc, "IOC"),
        (Some(_), Some("FOK")) => (OrderType::StopLossLimit, Tif::Ioc, "FOK"),
        (Some(_), Some(_)) => return Err(ApiError::invalid_tif()),
    };
    let limit = Leg {
        order: NewOrder {
            client_order_id: limit_id.clone(),
            symbol: symbol.clone(),
            side,
            qty,
            limit_price: price,
            tif: Tif::Gtc,
            market: false,
        },
        stop: None,
        maker_only: true,
    };
    let stop = Leg {
        order: NewOrder {
            client_order_id: stop_id.clone(),
            symbol: symbol.clone(),
            side,
            qty,
            limit_price: stop_limit.unwrap_or(Decimal::ZERO),
            tif,
            market: stop_limit.is_none(),
        },
        stop: Some(Stop {
            kind: StopKind::StopLoss,
            price: stop_price,
        }),
        maker_only: false,
    };
    let kinds = vec![
        (limit_id, OrderType::LimitMaker, "GTC"),
        (stop_id, stop_kind, tif_name),
    ];
    let (above, below) = match side {
        Side::Sell => (limit, stop),
        Side::Buy => (stop, limit),
    };
    let list = NewList {
        list_client_id: list_id,
        symbol,
        shape: ListShape::Oco { above, below },
    };
    placed(list, kinds, resp, ids)
}

const WORKING_TYPES: [OrderType; 2] = [OrderType::Limit, OrderType::LimitMaker];

/// The working leg of an OTO or OTOCO.
fn working(
    p: &Params,
    ids: &mut Ids<'_>,
    symbol: &Symbol,
) -> Result<(Leg, OrderType, &'static str), ApiError> {
    let kind = OrderType::parse(p.required("workingType", |p, n| Ok(p.raw(n)))?)
        .filter(|k| WORKING_TYPES.contains(k))
        .ok_or_else(ApiError::invalid_order_type)?;
    let side = side(p, "workingSide")?;
    let qty = p.required("workingQuantity", |p, n| p.decimal(n))?;
    leg(p, ids, "working", symbol, side, qty, kind)
}

/// `POST /api/v3/orderList/oto`.
pub(super) fn oto(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let mut ids = Ids { v, made: 0 };
    let list_id = list_client_id(p, &mut ids)?;
    let (w, wk, wt) = working(p, &mut ids, &symbol)?;
    let pending_kind = OrderType::parse(p.required("pendingType", |p, n| Ok(p.raw(n)))?)
        .ok_or_else(ApiError::invalid_order_type)?;
    let pending_side = side(p, "pendingSide")?;
    let pending_qty = p.required("pendingQuantity", |p, n| p.decimal(n))?;
    let (pl, pk, pt) = leg(
        p,
        &mut ids,
        "pending",
        &symbol,
        pending_side,
        pending_qty,
        pending_kind,
    )?;
    let resp = resp(p)?;
    stp(p)?;
    let kinds = vec![
        (w.order.client_order_id.clone(), wk, wt),
        (pl.order.client_order_id.clone(), pk, pt),
    ];
    let list = NewList {
        list_client_id: list_id,
        symbol,
        shape: ListShape::Oto {
            working: w,
            pending: pl,
        },
    };
    placed(list, kinds, resp, ids)
}

/// `POST /api/v3/orderList/otoco`.
pub(super) fn otoco(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let mut ids = Ids { v, made: 0 };
    let list_id = list_client_id(p, &mut ids)?;
    let (w, wk, wt) = working(p, &mut ids, &symbol)?;
    let side = side(p, "pendingSide")?;
    let qty = p.required("pendingQuantity", |p, n| p.decimal(n))?;
    let ak = leg_type(p, "pendingAboveType", &PAIR_TYPES)?;
    let bk = leg_type(p, "pendingBelowType", &PAIR_TYPES)?;
    let (above, _, at) = leg(p, &mut ids, "pendingAbove", &symbol, side, qty, ak)?;
    let (below, _, bt) = leg(p, &mut ids, "pendingBelow", &symbol, side, qty, bk)?;
    let resp = resp(p)?;
    stp(p)?;
    let kinds = vec![
        (w.order.client_order_id.clone(), wk, wt),
        (above.order.client_order_id.clone(), ak, at),
        (below.order.client_order_id.clone(), bk, bt),
    ];
    let list = NewList {
        list_client_id: list_id,
        symbol,
        shape: ListShape::Otoco {
            working: w,
            above,
            below,
        },
    };
    placed(list, kinds, resp, ids)
}

fn list_by(p: &Params, client_name: &str) -> Result<ListBy, ApiError> {
    let id = p.uint("orderListId")?;
    let client = p.ident(client_name, 36)?;
    match (id, client) {
        (Some(id), _) => Ok(ListBy::Id(id)),
        (None, Some(c)) => Ok(ListBy::Client(c.to_string())),
        (None, None) => Err(ApiError::one_of("orderListId", client_name)),
    }
}

/// `DELETE /api/v3/orderList`.
pub(super) fn cancel(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = symbol(v, p)?;
    let by = list_by(p, "listClientOrderId")?;
    let cancel_id = client_id(p, "newClientOrderId")?.map(|c| c.as_str().to_string());
    list_call(
        Op::Cancel {
            symbol: symbol.clone(),
            by,
            cancel_id,
        },
        Some(symbol),
    )
}

/// `GET /api/v3/orderList` (the client id is sent as `origClientOrderId`).
pub(super) fn query(_: &Venue, p: &Params) -> Result<Call, ApiError> {
    let by = list_by(p, "origClientOrderId")?;
    list_call(Op::Query { by }, None)
}

/// `GET /api/v3/openOrderList`.
pub(super) fn open(_: &Venue, _: &Params) -> Result<Call, ApiError> {
    list_call(Op::Open, None)
}

/// `GET /api/v3/allOrderList`.
pub(super) fn all(_: &Venue, p: &Params) -> Result<Call, ApiError> {
    let from_id = p.uint("fromId")?;
    let page = page(p)?;
    if from_id.is_some() && (page.start.is_some() || page.end.is_some()) {
        return Err(ApiError::bad_combination());
    }
    list_call(Op::All { from_id, page }, None)
}

/// One order of a list, as `orders` names it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    symbol: String,
    order_id: u64,
    client_order_id: String,
}

/// A list as Binance's list answers show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListStatus<'a> {
    order_list_id: u64,
    contingency_type: &'static str,
    list_status_type: &'static str,
    list_order_status: &'static str,
    list_client_order_id: &'a str,
    transaction_time: TimeMs,
    symbol: String,
    orders: Vec<Member>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_reports: Option<Vec<Box<RawValue>>>,
}

impl Venue {
    fn list_orders(&self, l: &OrderList) -> Vec<Order> {
        l.orders
            .iter()
            .filter_map(|id| self.ex.order_by_id(id).cloned())
            .collect()
    }

    fn list_status<'a>(
        &self,
        l: &'a OrderList,
        time: TimeMs,
        reports: Option<Vec<Box<RawValue>>>,
    ) -> ListStatus<'a> {
        let open = self.ex.list_open(l.id);
        let name = binance_name(&l.symbol);
        ListStatus {
            order_list_id: l.id,
            contingency_type: l.contingency.name(),
            list_status_type: if open { "EXEC_STARTED" } else { "ALL_DONE" },
            list_order_status: if open { "EXECUTING" } else { "ALL_DONE" },
            list_client_order_id: l.list_client_id.as_str(),
            transaction_time: time,
            symbol: name.clone(),
            orders: self
                .list_orders(l)
                .iter()
                .map(|o| Member {
                    symbol: name.clone(),
                    order_id: order_id_num(o),
                    client_order_id: o.client_order_id.as_str().to_string(),
                })
                .collect(),
            order_reports: reports,
        }
    }

    fn find_list(&self, by: &ListBy) -> Option<&OrderList> {
        match by {
            ListBy::Id(id) => self.ex.order_list(*id),
            ListBy::Client(c) => self.ex.order_list_by_client(c),
        }
    }
}

/// A body serialized once, its fields kept in their order.
pub(super) fn value(body: &impl Serialize) -> Box<RawValue> {
    serde_json::to_string(body)
        .ok()
        .and_then(|s| RawValue::from_string(s).ok())
        .unwrap_or_else(null)
}

pub(super) fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_string()).unwrap_or_default()
}

/// The report of a list's leg as its placement answer shows it: a pending leg is
/// `PENDING_NEW` there even when its working leg filled at once.
fn placement_report(v: &Venue, o: &Order, pending: bool, now: TimeMs, resp: Resp) -> Box<RawValue> {
    let n = binance_name(&o.symbol);
    let info = v.info(o);
    let mut shown = v.shown(o);
    if pending {
        shown.status = "PENDING_NEW";
        shown.working_time = -1;
    }
    match resp {
        Resp::Ack => value(&Ack {
            symbol: &n,
            order_id: order_id_num(o),
            order_list_id: shown.list_id,
            client_order_id: o.client_order_id.as_str(),
            transact_time: now,
        }),
        Resp::Result => value(&Placed::new(&n, o, &info, now, None).shown(&shown)),
        Resp::Full => {
            let fills: Vec<Fill> = if pending {
                Vec::new()
            } else {
                v.ex.trades_of(&o.order_id).map(Fill::new).collect()
            };
            value(&Placed::new(&n, o, &info, now, Some(fills)).shown(&shown))
        }
    }
}

/// Runs a checked list call or cancel-replace.
pub(super) fn execute(
    v: &mut Venue,
    now: TimeMs,
    op: Op,
    fault: Option<FaultKind>,
    out: &mut Outcome,
) -> Result<Vec<u8>, ApiError> {
    match op {
        Op::Place {
            list,
            kinds,
            resp,
            generated,
        } => {
            v.anonymous += generated;
            if fault == Some(FaultKind::Reject) {
                v.ex.arm(PlacementFault::Reject);
                out.faults.push("reject");
            }
            let id = v.ex.submit_list(now, *list).map_err(placement_error)?;
            let l =
                v.ex.order_list(id)
                    .cloned()
                    .ok_or_else(ApiError::internal)?;
            let orders = v.list_orders(&l);
            for o in &orders {
                let (kind, tif) = kinds
                    .iter()
                    .find(|(c, _, _)| c == &o.client_order_id)
                    .map_or((OrderType::Limit, "GTC"), |(_, k, t)| (*k, *t));
                let info = OrderInfo {
                    kind,
                    tif,
                    time: now,
                    orig_quote_qty: Decimal::ZERO,
                };
                v.remember(o, info);
            }
            out.list = Some(id);
            out.executed = orders.first().cloned();
            let reports = orders
                .iter()
                .map(|o| {
                    let pending = l.working.is_some_and(|w| w != o.order_id);
                    placement_report(v, o, pending, now, resp)
                })
                .collect();
            to_body(&v.list_status(&l, now, Some(reports)))
        }
        Op::Cancel {
            symbol,
            by,
            cancel_id,
        } => {
            let l = v
                .find_list(&by)
                .filter(|l| l.symbol == symbol)
                .cloned()
                .ok_or_else(ApiError::cancel_rejected)?;
            v.ex.cancel_list(now, &symbol, l.id)
                .map_err(|_| ApiError::cancel_rejected())?;
            out.list = Some(l.id);
            let cancel_id = cancel_id.unwrap_or_else(|| format!("cancel-list-{}", l.id));
            let n = binance_name(&symbol);
            let orders = v.list_orders(&l);
            let reports = orders
                .iter()
                .map(|o| {
                    value(&Canceled::new(&n, o, &v.info(o), &cancel_id, now).shown(&v.shown(o)))
                })
                .collect();
            to_body(&v.list_status(&l, now, Some(reports)))
        }
        Op::Query { by } => {
            let l = v.find_list(&by).ok_or_else(ApiError::no_such_order)?;
            to_body(&v.list_status(l, l.t_ms, None))
        }
        Op::Open => {
            let body: Vec<ListStatus> =
                v.ex.open_order_lists()
                    .map(|l| v.list_status(l, l.t_ms, None))
                    .collect();
            to_body(&body)
        }
        Op::All { from_id, page } => {
            let picked: Vec<&OrderList> =
                v.ex.order_lists()
                    .filter(|l| from_id.is_none_or(|f| l.id >= f))
                    .filter(|l| in_page(&page, l.t_ms))
                    .collect();
            let picked = paged(picked, &page, from_id.is_some());
            let body: Vec<ListStatus> = picked
                .into_iter()
                .map(|l| v.list_status(l, l.t_ms, None))
                .collect();
            to_body(&body)
        }
        Op::CancelReplace(cr) => super::replace::run(v, now, *cr, fault, out),
    }
}

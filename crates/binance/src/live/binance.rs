//! Binance spot's REST protocol as the live adapter speaks it, without I/O: the request for each
//! router command, the parsers of Binance's answers, and the one table that says what each
//! HTTP status and error code means for the router.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::exchange::{ExchangeError, Order, OrderStatus, Trade};
use crate::model::{Asset, ClientOrderId, OrderId, Side, Symbol, Tif, TimeMs, TradeId};
use crate::router::{Action, MarketRules};

/// An answer that is not what Binance sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected answer from the venue: {0}")]
pub struct ParseError(pub String);

pub(crate) fn bad(what: impl Into<String>) -> ParseError {
    ParseError(what.into())
}

/// What a failed request tells the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Refused; nothing executed. The router may retry under a new attempt.
    Rejected,
    /// Refused for the rate; nothing executed.
    RateLimited,
    /// Arrived outside the receive window; nothing executed.
    RecvWindow,
    /// No such order (final only once the receive window has passed).
    NotFound,
    /// An open order already holds the client id: something was placed.
    Duplicate,
    /// It may or may not have executed: the router asks, never resends.
    Unknown,
}

/// The one table: Binance's error codes and what each means for the router. Codes not listed
/// follow the HTTP status: 5xx is [`Meaning::Unknown`], 429 and 418 [`Meaning::RateLimited`],
/// any other 4xx [`Meaning::Rejected`] ("the issue is on the sender's side").
pub const CODES: &[(i32, Meaning, &str)] = &[
    (
        -1000,
        Meaning::Unknown,
        "unknown error while processing the request",
    ),
    (-1001, Meaning::Unknown, "internal error"),
    (
        -1003,
        Meaning::RateLimited,
        "too much request weight; or banned (418)",
    ),
    (
        -1006,
        Meaning::Unknown,
        "unexpected response from the backend; execution status unknown",
    ),
    (
        -1007,
        Meaning::Unknown,
        "timeout waiting for the backend; execution status unknown",
    ),
    (-1008, Meaning::Unknown, "server overloaded"),
    (
        -1013,
        Meaning::Rejected,
        "filter failure (PRICE_FILTER, LOT_SIZE, NOTIONAL, ...)",
    ),
    (-1015, Meaning::RateLimited, "too many new orders"),
    (
        -1021,
        Meaning::RecvWindow,
        "timestamp outside the receive window",
    ),
    (-1022, Meaning::Rejected, "signature not valid"),
    (
        -1100,
        Meaning::Rejected,
        "illegal characters in a parameter",
    ),
    (-1102, Meaning::Rejected, "mandatory parameter missing"),
    (-1111, Meaning::Rejected, "too much precision"),
    (-1121, Meaning::Rejected, "invalid symbol"),
    (
        -2010,
        Meaning::Rejected,
        "new order rejected (balance, market closed, ...); \"Duplicate order sent.\" is Duplicate",
    ),
    (-2011, Meaning::NotFound, "cancel rejected: unknown order"),
    (-2013, Meaning::NotFound, "order does not exist"),
    (-2014, Meaning::Rejected, "API key format invalid"),
    (
        -2015,
        Meaning::Rejected,
        "invalid API key, IP or permissions",
    ),
];

/// The wait after a 429 or 418 that names no `Retry-After`: a second, Binance's shortest
/// rate-limit window. The client replaces it with the header's value when there is one.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;

/// Binance's answer to a refused order whose client id an open order holds.
const DUPLICATE: &str = "Duplicate order sent.";

/// What an HTTP answer with a status other than 200 means: the table above, then the status.
pub fn meaning(status: u16, code: Option<i32>, msg: &str) -> Meaning {
    if status >= 500 {
        return Meaning::Unknown;
    }
    if status == 429 || status == 418 {
        return Meaning::RateLimited;
    }
    if code == Some(-2010) && msg == DUPLICATE {
        return Meaning::Duplicate;
    }
    if let Some(c) = code {
        if let Some((_, m, _)) = CODES.iter().find(|(k, _, _)| *k == c) {
            return *m;
        }
    }
    Meaning::Rejected
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i32>,
    msg: Option<String>,
}

/// The router's error for a failed HTTP answer to `action`.
pub fn classify(status: u16, body: &[u8], action: &Action) -> ExchangeError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code);
    let msg = parsed
        .and_then(|b| b.msg)
        .unwrap_or_else(|| format!("HTTP {status}"));
    match meaning(status, code, &msg) {
        Meaning::Rejected => ExchangeError::Rejected {
            code: code.unwrap_or(-i32::from(status)),
            message: msg,
        },
        Meaning::RateLimited => ExchangeError::RateLimited {
            retry_after_ms: DEFAULT_RETRY_AFTER_MS,
        },
        Meaning::RecvWindow => ExchangeError::RecvWindowExpired,
        Meaning::NotFound => ExchangeError::NotFound,
        Meaning::Duplicate => match action {
            Action::Place(r) => ExchangeError::DuplicateClientOrderId(r.client_order_id().clone()),
            _ => ExchangeError::ServerError(msg),
        },
        Meaning::Unknown => ExchangeError::ServerError(msg),
    }
}

/// Binance names of the markets the adapter knows (`BTCUSDT` for `BTC/USDT`), both ways.
#[derive(Debug, Clone, Default)]
pub struct Markets {
    by_name: BTreeMap<String, Symbol>,
    pub rules: BTreeMap<Symbol, MarketRules>,
}

impl Markets {
    pub fn symbol(&self, name: &str) -> Option<&Symbol> {
        self.by_name.get(name)
    }

    pub fn name(symbol: &Symbol) -> String {
        format!("{}{}", symbol.base(), symbol.quote())
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

pub(crate) fn dec(v: &serde_json::Value, field: &str) -> Result<Decimal, ParseError> {
    let s = match v.get(field) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(bad(format!("`{field}` missing or not a decimal"))),
    };
    Decimal::from_str(&s)
        .or_else(|_| Decimal::from_scientific(&s))
        .map(|d| d.normalize())
        .map_err(|_| {
            bad(format!(
                "`{field}`: {} is not a decimal",
                crate::input::show(&s)
            ))
        })
}

pub(crate) fn text<'a>(v: &'a serde_json::Value, field: &str) -> Result<&'a str, ParseError> {
    v.get(field)
        .and_then(|x| x.as_str())
        .ok_or_else(|| bad(format!("`{field}` missing or not a string")))
}

/// An id Binance sends as a number (or, in some recordings, a string).
pub(crate) fn id_text(v: &serde_json::Value, field: &str) -> Result<String, ParseError> {
    match v.get(field) {
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        _ => Err(bad(format!("`{field}` missing"))),
    }
}

pub(crate) fn int(v: &serde_json::Value, field: &str) -> Result<u64, ParseError> {
    id_text(v, field)?
        .parse()
        .map_err(|_| bad(format!("`{field}` is not a whole number")))
}

pub(crate) fn json(body: &[u8]) -> Result<serde_json::Value, ParseError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))
}

/// The `REQUEST_WEIGHT` per minute an `exchangeInfo` announces.
pub fn parse_weight_limit(body: &[u8]) -> Option<u32> {
    let v = json(body).ok()?;
    v.get("rateLimits")?.as_array()?.iter().find_map(|l| {
        (l.get("rateLimitType")?.as_str()? == "REQUEST_WEIGHT"
            && l.get("interval")?.as_str()? == "MINUTE"
            && l.get("intervalNum")?.as_u64()? == 1)
            .then(|| l.get("limit")?.as_u64())
            .flatten()
            .and_then(|n| u32::try_from(n).ok())
    })
}

/// The `ORDERS` rate limits an `exchangeInfo` announces (Binance spot: 100 per 10 seconds and
/// 200,000 a day), as the router paces by them; malformed or unknown entries are skipped.
pub fn parse_order_limits(body: &[u8]) -> Vec<crate::router::OrderLimit> {
    use crate::router::{limits, OrderLimit};
    let Ok(v) = json(body) else {
        return Vec::new();
    };
    let Some(list) = v.get("rateLimits").and_then(|l| l.as_array()) else {
        return Vec::new();
    };
    let mut out: Vec<OrderLimit> = list
        .iter()
        .filter_map(|l| {
            if l.get("rateLimitType")?.as_str()? != "ORDERS" {
                return None;
            }
            let unit_ms: u64 = match l.get("interval")?.as_str()? {
                "SECOND" => 1_000,
                "MINUTE" => 60_000,
                "HOUR" => 3_600_000,
                "DAY" => 86_400_000,
                _ => return None,
            };
            let window_ms = unit_ms.checked_mul(l.get("intervalNum")?.as_u64()?)?;
            let count = u32::try_from(l.get("limit")?.as_u64()?).ok()?;
            let ok = (1..=limits::MAX_ORDER_LIMIT_COUNT).contains(&count)
                && (1..=limits::MAX_WAIT_MS).contains(&window_ms);
            ok.then_some(OrderLimit { count, window_ms })
        })
        .collect();
    out.truncate(limits::MAX_ORDER_LIMITS);
    out
}

/// `exchangeInfo` as market rules: `PRICE_FILTER.tickSize`, `LOT_SIZE.stepSize`, and the
/// minimum notional of `NOTIONAL` (or the older `MIN_NOTIONAL`); `fee_bps` for every market.
/// Markets not `TRADING` are left out.
pub fn parse_exchange_info(body: &[u8], fee_bps: Decimal) -> Result<Markets, ParseError> {
    let v = json(body)?;
    let symbols = v
        .get("symbols")
        .and_then(|s| s.as_array())
        .ok_or_else(|| bad("`symbols` missing"))?;
    let mut out = Markets::default();
    for s in symbols {
        if s.get("status")
            .and_then(|x| x.as_str())
            .is_some_and(|st| st != "TRADING")
        {
            continue;
        }
        let name = text(s, "symbol")?;
        let (Ok(base), Ok(quote)) = (
            Asset::new(text(s, "baseAsset")?),
            Asset::new(text(s, "quoteAsset")?),
        ) else {
            continue;
        };
        let Ok(symbol) = Symbol::parse(&format!("{base}/{quote}")) else {
            continue;
        };
        let mut rules = MarketRules {
            fee_bps,
            ..MarketRules::default()
        };
        for f in s
            .get("filters")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
        {
            match f.get("filterType").and_then(|t| t.as_str()) {
                Some("PRICE_FILTER") => rules.tick_size = dec(f, "tickSize")?,
                Some("LOT_SIZE") => rules.step_size = dec(f, "stepSize")?,
                Some("NOTIONAL" | "MIN_NOTIONAL") => {
                    rules.min_notional = rules.min_notional.max(dec(f, "minNotional")?)
                }
                _ => {}
            }
        }
        if rules.tick_size <= Decimal::ZERO || rules.step_size <= Decimal::ZERO {
            continue;
        }
        out.by_name.insert(name.to_string(), symbol.clone());
        out.rules.insert(symbol, rules);
    }
    Ok(out)
}

/// `account`: the free balance of every asset, and the taker fee in basis points.
pub fn parse_account(body: &[u8]) -> Result<(Vec<(Asset, Decimal)>, Decimal), ParseError> {
    let v = json(body)?;
    let fee_bps = match v.get("commissionRates") {
        Some(r) => dec(r, "taker")? * Decimal::from(10_000),
        None => dec(&v, "takerCommission")?,
    };
    let mut out = Vec::new();
    for b in v
        .get("balances")
        .and_then(|b| b.as_array())
        .ok_or_else(|| bad("`balances` missing"))?
    {
        let Ok(asset) = Asset::new(text(b, "asset")?) else {
            continue;
        };
        out.push((asset, dec(b, "free")?));
    }
    Ok((out, fee_bps.normalize()))
}

/// `serverTime` of `GET /api/v3/time`.
pub fn parse_time(body: &[u8]) -> Result<TimeMs, ParseError> {
    int(&json(body)?, "serverTime")
}

/// Best bid and ask of `ticker/bookTicker`.
pub fn parse_book_ticker(body: &[u8]) -> Result<(Decimal, Decimal), ParseError> {
    let v = json(body)?;
    Ok((dec(&v, "bidPrice")?, dec(&v, "askPrice")?))
}

pub(crate) fn status(s: &str) -> Result<OrderStatus, ParseError> {
    Ok(match s {
        "NEW" | "PARTIALLY_FILLED" | "PENDING_NEW" | "PENDING_CANCEL" => OrderStatus::Open,
        "FILLED" => OrderStatus::Closed,
        "CANCELED" => OrderStatus::Canceled,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderStatus::Expired,
        "REJECTED" => OrderStatus::Rejected,
        other => return Err(bad(format!("unknown order status {other:?}"))),
    })
}

/// An order as `POST`, `GET` or `DELETE /api/v3/order` answer it (`RESULT` or `FULL` for a
/// placement), for an order on `symbol`.
pub fn parse_order(body: &[u8], symbol: &Symbol) -> Result<Order, ParseError> {
    let v = json(body)?;
    if text(&v, "symbol")? != Markets::name(symbol) {
        return Err(bad("an order of another symbol"));
    }
    let amount = dec(&v, "origQty")?;
    let filled = dec(&v, "executedQty")?;
    let cost = dec(&v, "cummulativeQuoteQty")?;
    let side = match text(&v, "side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        s => return Err(bad(format!("unknown side {s:?}"))),
    };
    let (mut fee, mut fee_asset) = (Decimal::ZERO, symbol.quote().clone());
    for f in v
        .get("fills")
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
    {
        fee = fee.saturating_add(dec(f, "commission")?);
        if let Ok(a) = Asset::new(text(f, "commissionAsset")?) {
            fee_asset = a;
        }
    }
    let client = text(&v, "clientOrderId")?;
    Ok(Order {
        order_id: OrderId::new(&id_text(&v, "orderId")?).map_err(|e| bad(e.to_string()))?,
        client_order_id: ClientOrderId::new(client).map_err(|e| bad(e.to_string()))?,
        symbol: symbol.clone(),
        side,
        price: dec(&v, "price")?,
        amount,
        filled,
        remaining: (amount - filled).max(Decimal::ZERO),
        average: (!filled.is_zero()).then(|| (cost / filled).normalize()),
        status: status(text(&v, "status")?)?,
        fee,
        fee_asset,
    })
}

/// `myTrades`, for trades on `symbol`.
pub fn parse_trades(body: &[u8], symbol: &Symbol) -> Result<Vec<Trade>, ParseError> {
    let v = json(body)?;
    let list = v.as_array().ok_or_else(|| bad("not a list of trades"))?;
    let name = Markets::name(symbol);
    list.iter()
        .map(|t| {
            if text(t, "symbol")? != name {
                return Err(bad("a trade of another symbol"));
            }
            let is_buyer = t
                .get("isBuyer")
                .and_then(|b| b.as_bool())
                .ok_or_else(|| bad("`isBuyer` missing"))?;
            Ok(Trade {
                trade_id: TradeId::new(&id_text(t, "id")?).map_err(|e| bad(e.to_string()))?,
                order_id: OrderId::new(&id_text(t, "orderId")?).map_err(|e| bad(e.to_string()))?,
                symbol: symbol.clone(),
                side: if is_buyer { Side::Buy } else { Side::Sell },
                price: dec(t, "price")?,
                qty: dec(t, "qty")?,
                fee: dec(t, "commission")?,
                fee_asset: Asset::new(text(t, "commissionAsset")?)
                    .map_err(|e| bad(e.to_string()))?,
                t_ms: int(t, "time")?,
            })
        })
        .collect()
}

/// One REST call: method, path, parameters (without `timestamp` and `signature`), weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: reqwest::Method,
    pub path: &'static str,
    pub params: String,
    pub weight: u32,
}

/// The request for a router command.
pub fn call_for(action: &Action) -> Call {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let (method, path, weight) = match action {
        Action::Place(r) => {
            q.append_pair("symbol", &Markets::name(r.symbol()))
                .append_pair("side", if r.side() == Side::Buy { "BUY" } else { "SELL" })
                .append_pair("type", "LIMIT")
                .append_pair(
                    "timeInForce",
                    if r.tif() == Tif::Gtc { "GTC" } else { "IOC" },
                )
                .append_pair("quantity", &r.qty().normalize().to_string())
                .append_pair("price", &r.limit_price().normalize().to_string())
                .append_pair("newClientOrderId", r.client_order_id().as_str())
                .append_pair("newOrderRespType", "RESULT");
            (reqwest::Method::POST, "/api/v3/order", 1)
        }
        Action::FetchOrder {
            symbol,
            client_order_id,
        } => {
            q.append_pair("symbol", &Markets::name(symbol))
                .append_pair("origClientOrderId", client_order_id.as_str());
            (reqwest::Method::GET, "/api/v3/order", 4)
        }
        Action::Cancel {
            symbol,
            client_order_id,
        } => {
            q.append_pair("symbol", &Markets::name(symbol))
                .append_pair("origClientOrderId", client_order_id.as_str());
            (reqwest::Method::DELETE, "/api/v3/order", 1)
        }
        Action::FetchTrades { symbol, order_id } => {
            q.append_pair("symbol", &Markets::name(symbol))
                .append_pair("orderId", &order_id.to_string());
            (reqwest::Method::GET, "/api/v3/myTrades", 5)
        }
        // Order lists: the endpoints Binance spot has for them. The live client does not send
        // them yet (`Client::execute` refuses lists before a request is made).
        Action::PlaceList(r) => {
            q.append_pair("symbol", &Markets::name(r.symbol()))
                .append_pair("listClientOrderId", r.list_client_order_id().as_str());
            let path = if r.entry().is_some() {
                "/api/v3/orderList/otoco"
            } else {
                "/api/v3/orderList/oco"
            };
            (reqwest::Method::POST, path, 1)
        }
        Action::FetchList {
            list_client_order_id,
            ..
        } => {
            q.append_pair("origClientOrderId", list_client_order_id.as_str());
            (reqwest::Method::GET, "/api/v3/orderList", 4)
        }
        Action::CancelList {
            symbol,
            list_client_order_id,
        } => {
            q.append_pair("symbol", &Markets::name(symbol))
                .append_pair("listClientOrderId", list_client_order_id.as_str());
            (reqwest::Method::DELETE, "/api/v3/orderList", 1)
        }
    };
    Call {
        method,
        path,
        params: q.finish(),
        weight,
    }
}

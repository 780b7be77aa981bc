//! Reading the venue's `--record` lines (docs/venue.md, "The record") into typed lines. The
//! fields added later (`api_key`, `retry_after_s`, `hold_until_ms`) are optional, so records
//! written before them read the same; a line that is not a record line is an error naming the
//! line and the field.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::Error;

/// How the answer reached the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Now,
    /// Late, by this many milliseconds.
    After(u64),
    /// Never: the connection was closed without an answer.
    Dropped,
    /// Never: held this long, then closed without an answer.
    Stalled(u64),
}

/// The order a placement or cancel touched, as the venue held it after the request.
#[derive(Debug, Clone)]
pub struct OrderSnap {
    pub order_id: u64,
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    pub status: String,
    pub orig_qty: Decimal,
}

/// One trade the venue executed.
#[derive(Debug, Clone)]
pub struct TradeSnap {
    pub order_id: u64,
    pub price: Decimal,
    pub qty: Decimal,
}

/// One record line.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line of the file.
    pub line: usize,
    /// 1-based run of the venue (a line with a `seq` not above the previous one starts a run).
    pub run: u32,
    pub seq: u64,
    pub t_ms: u64,
    /// The client's address.
    pub client: String,
    pub api_key: Option<String>,
    pub method: String,
    pub path: String,
    pub params: BTreeMap<String, String>,
    pub status: Option<u16>,
    pub code: Option<i64>,
    pub faults: Vec<String>,
    pub delivery: Delivery,
    pub order: Option<OrderSnap>,
    pub trades: Vec<TradeSnap>,
    pub retry_after_s: Option<u64>,
    pub hold_until_ms: Option<u64>,
}

pub const ORDER: &str = "/api/v3/order";

impl Line {
    /// Whom the line is about: the API key, or the address of a request sent without one.
    pub fn who(&self) -> &str {
        self.api_key.as_deref().unwrap_or(&self.client)
    }

    /// Whom the venue's limiter counted the request against: the key for a signed request
    /// (one with a `timestamp`), the address otherwise.
    pub fn limited_as(&self) -> &str {
        match &self.api_key {
            Some(k) if self.params.contains_key("timestamp") => k,
            _ => &self.client,
        }
    }

    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }

    pub fn is_placement(&self) -> bool {
        self.is("POST", ORDER)
    }

    pub fn param(&self, k: &str) -> Option<&str> {
        self.params.get(k).map(String::as_str)
    }

    pub fn param_dec(&self, k: &str) -> Option<Decimal> {
        self.param(k).and_then(|v| Decimal::from_str(v).ok())
    }

    /// Whether the client got an answer at all.
    pub fn answered(&self) -> bool {
        self.status.is_some() && !matches!(self.delivery, Delivery::Dropped | Delivery::Stalled(_))
    }

    /// Whether what the client got leaves the outcome open: no answer, a 5xx, or `-1007`.
    pub fn outcome_unknown(&self) -> bool {
        !self.answered() || self.status.is_some_and(|s| s >= 500) || self.code == Some(-1007)
    }

    /// When the answer reached the client (for one that did).
    pub fn answered_at(&self) -> u64 {
        match self.delivery {
            Delivery::After(ms) => self.t_ms.saturating_add(ms),
            _ => self.t_ms,
        }
    }

    /// The hold the answer told of: a 429's or 418's wait, until when.
    pub fn hold(&self) -> Option<u64> {
        if !matches!(self.status, Some(429 | 418)) || !self.answered() {
            return None;
        }
        self.hold_until_ms.or_else(|| {
            self.retry_after_s
                .map(|s| self.t_ms.saturating_add(s.saturating_mul(1_000)))
        })
    }
}

/// Every line of a record, in order; blank lines skipped. An unfinished last line (a venue
/// stopped mid-write) is left out; any other unreadable line is an error.
pub fn read(bytes: &[u8]) -> Result<(Vec<Line>, bool), Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        Error::Line {
            line,
            field: "(line)".into(),
            message: "not UTF-8".into(),
        }
    })?;
    let ends_whole = text.is_empty() || text.ends_with('\n');
    let raw: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let (mut run, mut last_seq) = (0u32, None::<u64>);
    let mut torn = false;
    for (i, l) in raw.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let last = i + 1 == raw.len();
        let mut line = match parse(i + 1, l) {
            Ok(line) => line,
            Err(_) if last && !ends_whole => {
                torn = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        if last_seq.is_none_or(|s| line.seq <= s) {
            run += 1;
        }
        last_seq = Some(line.seq);
        line.run = run;
        out.push(line);
    }
    Ok((out, torn))
}

fn err(line: usize, field: &str, message: impl Into<String>) -> Error {
    Error::Line {
        line,
        field: field.into(),
        message: message.into(),
    }
}

fn parse(n: usize, text: &str) -> Result<Line, Error> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| err(n, "(line)", format!("not a JSON object: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| err(n, "(line)", "not a JSON object"))?;
    let u64_of = |k: &str| -> Result<Option<u64>, Error> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| err(n, k, "not a whole number")),
        }
    };
    let need = |k: &str| -> Result<u64, Error> { u64_of(k)?.ok_or_else(|| err(n, k, "missing")) };
    let str_of = |k: &str| -> Result<String, Error> {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| err(n, k, "missing or not a string"))
    };
    let params = match o.get("params") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Ok((k.clone(), other.to_string())),
            })
            .collect::<Result<_, Error>>()?,
        Some(_) => return Err(err(n, "params", "not an object")),
    };
    let status = u64_of("status")?
        .map(|s| u16::try_from(s).map_err(|_| err(n, "status", "not an HTTP status")))
        .transpose()?;
    let code = match o.get("code") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| err(n, "code", "not a number"))?),
    };
    let faults = match o.get("faults") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| {
                f.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(n, "faults", "not a list of names"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(n, "faults", "not a list")),
    };
    let delivery = match o.get("delivery") {
        None | Some(Value::Null) => Delivery::Now,
        Some(Value::String(s)) if s == "now" => Delivery::Now,
        Some(Value::String(s)) if s == "dropped" => Delivery::Dropped,
        Some(Value::Object(m)) if m.contains_key("after_ms") => {
            Delivery::After(ms(n, m, "after_ms")?)
        }
        Some(Value::Object(m)) if m.contains_key("stalled_ms") => {
            Delivery::Stalled(ms(n, m, "stalled_ms")?)
        }
        Some(_) => {
            return Err(err(
                n,
                "delivery",
                "neither \"now\", \"dropped\", {\"after_ms\"} nor {\"stalled_ms\"}",
            ))
        }
    };
    let order = match o.get("order") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(order(n, m)?),
        Some(_) => return Err(err(n, "order", "not an object")),
    };
    let trades = match o.get("trades") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(|t| trade(n, t)).collect::<Result<_, _>>()?,
        Some(_) => return Err(err(n, "trades", "not a list")),
    };
    let api_key = match o.get("api_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(err(n, "api_key", "not a string")),
    };
    Ok(Line {
        line: n,
        run: 0,
        seq: need("seq")?,
        t_ms: need("t_ms")?,
        client: str_of("client")?,
        api_key,
        method: str_of("method")?,
        path: str_of("path")?,
        params,
        status,
        code,
        faults,
        delivery,
        order,
        trades,
        retry_after_s: u64_of("retry_after_s")?,
        hold_until_ms: u64_of("hold_until_ms")?,
    })
}

fn ms(n: usize, m: &Map<String, Value>, k: &str) -> Result<u64, Error> {
    m.get(k)
        .and_then(Value::as_u64)
        .ok_or_else(|| err(n, &format!("delivery.{k}"), "not a whole number"))
}

fn dec_of(n: usize, v: Option<&Value>, field: &str) -> Result<Decimal, Error> {
    let s = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(x)) => x.to_string(),
        _ => return Err(err(n, field, "missing or not a decimal")),
    };
    Decimal::from_str(&s).map_err(|_| err(n, field, format!("`{s}` is not a decimal")))
}

fn order(n: usize, m: &Map<String, Value>) -> Result<OrderSnap, Error> {
    let s = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| err(n, &format!("order.{k}"), "missing or not a string"))
    };
    Ok(OrderSnap {
        order_id: m
            .get("orderId")
            .and_then(Value::as_u64)
            .ok_or_else(|| err(n, "order.orderId", "missing or not a whole number"))?,
        client_order_id: s("clientOrderId")?,
        symbol: s("symbol")?,
        side: s("side")?,
        status: s("status")?,
        orig_qty: dec_of(n, m.get("origQty"), "order.origQty")?,
    })
}

fn trade(n: usize, t: &Value) -> Result<TradeSnap, Error> {
    let m = t
        .as_object()
        .ok_or_else(|| err(n, "trades", "a trade is not an object"))?;
    Ok(TradeSnap {
        order_id: m
            .get("orderId")
            .and_then(Value::as_u64)
            .ok_or_else(|| err(n, "trades.orderId", "missing or not a whole number"))?,
        price: dec_of(n, m.get("price"), "trades.price")?,
        qty: dec_of(n, m.get("qty"), "trades.qty")?,
    })
}

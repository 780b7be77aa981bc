//! Python values to the router's exact types and back: decimals are never floats inside.
//!
//! A Python `int` converts exactly, a `float` through its `repr` (the shortest text that reads
//! back as the same float, so `0.1` is `0.1`), a `decimal.Decimal` or a `str` through its text.
//! `bool`, NaN, infinities and anything else are refused.

use std::collections::BTreeMap;
use std::str::FromStr;

use order_router_core::model::{Asset, Symbol};
use order_router_core::portfolio::Portfolio;
use order_router_core::router::{MarketRules, OrderLimit, RouterConfig};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};
use rust_decimal::Decimal;

use crate::{ConfigError, InputError};

static DECIMAL: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

/// `decimal.Decimal(text)`.
pub fn to_py_decimal(py: Python<'_>, d: Decimal) -> PyResult<PyObject> {
    let class = DECIMAL.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("decimal")?.getattr("Decimal")?.unbind())
    })?;
    Ok(class.bind(py).call1((d.normalize().to_string(),))?.unbind())
}

/// The text of a decimal-like Python value, or `None` for a value of another type.
fn decimal_text(v: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if v.is_instance_of::<PyBool>() {
        return Ok(None);
    }
    if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyString>() {
        return Ok(Some(v.str()?.to_string()));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(Some(v.repr()?.to_string()));
    }
    let class = DECIMAL.get_or_try_init(v.py(), || -> PyResult<Py<PyAny>> {
        Ok(v.py().import("decimal")?.getattr("Decimal")?.unbind())
    })?;
    if v.is_instance(class.bind(v.py()))? {
        return Ok(Some(v.str()?.to_string()));
    }
    Ok(None)
}

/// A decimal from Python, exactly; `what` names the field in the error.
pub fn decimal(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Decimal> {
    let Some(text) = decimal_text(v)? else {
        return Err(InputError::new_err(format!(
            "{what}: expected a decimal (int, float, str or decimal.Decimal), got {}",
            v.get_type().name()?
        )));
    };
    let t = text.trim();
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| {
            InputError::new_err(format!(
                "{what}: {} is not a finite decimal in range",
                order_router_core::input::show(t)
            ))
        })
}

/// A JSON number with exactly the decimal's digits (serde_json keeps them: arbitrary precision).
pub fn json_number(d: Decimal) -> serde_json::Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(serde_json::Value::Null)
}

/// A whole number of milliseconds (or a count) from Python.
pub fn whole(v: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(InputError::new_err(format!(
            "{what}: expected a non-negative int, got {}",
            v.get_type().name()?
        )));
    }
    v.extract::<u64>().map_err(|_| {
        InputError::new_err(format!(
            "{what}: {} is not in 0..2^64",
            v.str().map(|s| s.to_string()).unwrap_or_default()
        ))
    })
}

/// A string from Python.
pub fn text(v: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    v.downcast::<PyString>()
        .map(|s| s.to_string())
        .map_err(|_| {
            InputError::new_err(format!(
                "{what}: expected a str, got {}",
                v.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })
}

/// A Python dict's entries with str keys, in the dict's order.
pub fn entries<'py>(
    v: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let d = v.downcast::<PyDict>().map_err(|_| {
        InputError::new_err(format!(
            "{what}: expected a dict, got {}",
            v.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    d.iter()
        .map(|(k, v)| Ok((text(&k, &format!("{what} key"))?, v)))
        .collect()
}

/// An intent dict (the fields `order-router live` reads) as `Intent::from_json` takes it.
pub fn intent(v: &Bound<'_, PyAny>) -> PyResult<order_router_core::Intent> {
    let mut obj = serde_json::Map::new();
    for (k, val) in entries(v, "intent")? {
        let json = match k.as_str() {
            "qty" | "ref_price" => json_number(decimal(&val, &format!("intent field `{k}`"))?),
            "ts_ms" => serde_json::Value::from(whole(&val, "intent field `ts_ms`")?),
            _ => serde_json::Value::String(text(&val, &format!("intent field `{k}`"))?),
        };
        obj.insert(k, json);
    }
    let json = serde_json::Value::Object(obj).to_string();
    order_router_core::Intent::from_json(&json).map_err(|e| {
        InputError::new_err(order_router_core::input::cut(&e.to_string()).into_owned())
    })
}

fn config_err(message: String) -> PyErr {
    ConfigError::new_err(message)
}

fn rules(v: &Bound<'_, PyAny>, base: MarketRules, what: &str) -> PyResult<MarketRules> {
    let mut r = base;
    for (k, val) in entries(v, what)? {
        let d = decimal(&val, &format!("{what}.{k}")).map_err(|e| config_err(e.to_string()))?;
        match k.as_str() {
            "tick_size" => r.tick_size = d,
            "step_size" => r.step_size = d,
            "min_notional" => r.min_notional = d,
            "fee_bps" => r.fee_bps = d,
            _ => {
                return Err(config_err(format!(
                    "{what}: unknown key `{k}` (tick_size, step_size, min_notional, fee_bps)"
                )))
            }
        }
    }
    Ok(r)
}

/// The keys a config dict may have.
pub const CONFIG_KEYS: &str = "max_retries, backoff_ms, backoff_max_ms, tif, slippage_bps, min_notional, request_timeout_ms, recv_window_ms, poll_interval_ms, order_timeout_ms, default_rules, markets, order_limits";

/// A router config from a dict (missing keys keep the defaults), checked by
/// `RouterConfig::validate`.
pub fn config(v: Option<&Bound<'_, PyAny>>) -> PyResult<RouterConfig> {
    let mut c = RouterConfig::default();
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(c);
    };
    let ms = |val: &Bound<'_, PyAny>, k: &str| {
        whole(val, &format!("config `{k}`")).map_err(|e| config_err(e.to_string()))
    };
    let dec = |val: &Bound<'_, PyAny>, k: &str| {
        decimal(val, &format!("config `{k}`")).map_err(|e| config_err(e.to_string()))
    };
    for (k, val) in entries(v, "config").map_err(|e| config_err(e.to_string()))? {
        match k.as_str() {
            "max_retries" => {
                c.max_retries = u32::try_from(ms(&val, &k)?)
                    .map_err(|_| config_err("config `max_retries`: too large".into()))?
            }
            "backoff_ms" => c.backoff_ms = ms(&val, &k)?,
            "backoff_max_ms" => c.backoff_max_ms = ms(&val, &k)?,
            "request_timeout_ms" => c.request_timeout_ms = ms(&val, &k)?,
            "recv_window_ms" => c.recv_window_ms = ms(&val, &k)?,
            "poll_interval_ms" => c.poll_interval_ms = ms(&val, &k)?,
            "order_timeout_ms" => c.order_timeout_ms = ms(&val, &k)?,
            "slippage_bps" => c.slippage_bps = dec(&val, &k)?,
            "min_notional" => c.min_notional = dec(&val, &k)?,
            "tif" => {
                let t = text(&val, "config `tif`").map_err(|e| config_err(e.to_string()))?;
                c.tif = t
                    .parse()
                    .map_err(|_| config_err(format!("config `tif`: {t:?} is not IOC or GTC")))?;
            }
            "default_rules" => {
                c.default_rules = rules(&val, c.default_rules, "config `default_rules`")?
            }
            "markets" => {
                let mut markets = BTreeMap::new();
                for (s, r) in
                    entries(&val, "config `markets`").map_err(|e| config_err(e.to_string()))?
                {
                    let symbol = Symbol::parse(&s)
                        .map_err(|e| config_err(format!("config `markets`: {e}")))?;
                    let what = format!("config `markets.{s}`");
                    markets.insert(symbol, rules(&r, c.default_rules, &what)?);
                }
                c.markets = markets;
            }
            "order_limits" => {
                let mut limits = Vec::new();
                for item in val.try_iter().map_err(|_| {
                    config_err(
                        "config `order_limits`: expected a list of {count, window_ms}".into(),
                    )
                })? {
                    let item = item?;
                    let mut l = OrderLimit {
                        count: 0,
                        window_ms: 0,
                    };
                    for (lk, lv) in entries(&item, "config `order_limits` item")
                        .map_err(|e| config_err(e.to_string()))?
                    {
                        let n = ms(&lv, &format!("order_limits.{lk}"))?;
                        match lk.as_str() {
                            "count" => l.count = u32::try_from(n).unwrap_or(u32::MAX),
                            "window_ms" => l.window_ms = n,
                            _ => {
                                return Err(config_err(format!(
                                    "config `order_limits`: unknown key `{lk}` (count, window_ms)"
                                )))
                            }
                        }
                    }
                    limits.push(l);
                }
                c.order_limits = limits;
            }
            _ => {
                return Err(config_err(format!(
                    "config: unknown key `{k}` ({CONFIG_KEYS})"
                )))
            }
        }
    }
    c.validate().map_err(|e| config_err(e.to_string()))?;
    Ok(c)
}

/// Starting balances `{asset: amount}` as a portfolio.
pub fn balances(v: Option<&Bound<'_, PyAny>>) -> PyResult<Portfolio> {
    let mut p = Portfolio::new();
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(p);
    };
    for (a, amount) in entries(v, "balances").map_err(|e| config_err(e.to_string()))? {
        let asset = Asset::new(&a).map_err(|e| config_err(format!("balances: {e}")))?;
        let d =
            decimal(&amount, &format!("balances `{a}`")).map_err(|e| config_err(e.to_string()))?;
        if d < Decimal::ZERO || d > order_router_core::router::limits::MAX_AMOUNT {
            return Err(config_err(format!(
                "balances `{a}`: {d} must be in 0..=10^15"
            )));
        }
        p.deposit(&asset, d)
            .map_err(|e| config_err(format!("balances `{a}`: {e}")))?;
    }
    Ok(p)
}

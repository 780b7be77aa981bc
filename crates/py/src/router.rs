//! `Router`: the sans-IO router for a Python driver. The driver delivers intents, takes the
//! audit lines (journals them, reports them durable), executes the commands the router then
//! releases and hands back the venue's answers; time is whatever `now_ms` it passes.

use std::collections::{BTreeMap, VecDeque};

use order_router_core::audit::{parse_audit_line, write_line, AuditLine, Detail};
use order_router_core::exchange::{ExchangeError, Order, Trade};
use order_router_core::model::{ClientOrderId, IntentId, Symbol};
use order_router_core::router::{
    Action, Command, ContractError, Event, Input, Output, Reply, ReplyOutcome, RequestId,
    Router as Core,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::convert::{self, decimal, entries, json_number, text, to_py_decimal, whole};
use crate::{AuditError, ConfigError, InputError, RouterContractError};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Router>()
}

/// Binance's shortest wait after a 429 that names no `Retry-After`, as `live` takes it.
const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;

/// A command handed out and not answered yet.
struct Pending {
    id: RequestId,
    trades: bool,
    client_order_id: Option<ClientOrderId>,
}

/// The router (one per journal). See docs/python.md for the drive loop.
#[pyclass(module = "order_router._native")]
pub struct Router {
    core: Core,
    lines: VecDeque<AuditLine>,
    events: VecDeque<Event>,
    /// Commands the router released while lines or events were being collected.
    commands: VecDeque<Command>,
    pending: BTreeMap<String, Pending>,
    /// The venue order id of each order seen, to name its client id in `fetch_trades`.
    order_ids: BTreeMap<String, ClientOrderId>,
    /// The last line handed to the driver, and the last it reported durable.
    handed: Option<u64>,
    durable: Option<u64>,
    recovery: Option<Py<PyDict>>,
}

fn contract(e: ContractError) -> PyErr {
    RouterContractError::new_err(e.to_string())
}

impl Router {
    fn wrap(core: Core, events: bool) -> Router {
        let mut core = core;
        if events {
            core.emit_events();
        }
        Router {
            core,
            lines: VecDeque::new(),
            events: VecDeque::new(),
            commands: VecDeque::new(),
            pending: BTreeMap::new(),
            order_ids: BTreeMap::new(),
            handed: None,
            durable: None,
            recovery: None,
        }
    }

    /// Moves the router's lines and events into the queues the driver polls.
    fn pump(&mut self) {
        while self.core.has_lines() || self.core.has_events() {
            match self.core.poll_output() {
                Some(Output::Line(l)) => self.lines.push_back(l),
                Some(Output::Event(e)) => self.events.push_back(e),
                Some(Output::Command(c)) => self.commands.push_back(c),
                Some(Output::Jsonl { .. }) | None => break,
            }
        }
    }

    fn next_line(&mut self) -> Option<AuditLine> {
        self.pump();
        let l = self.lines.pop_front()?;
        self.handed = Some(l.seq);
        Some(l)
    }

    fn remember(&mut self, line: &AuditLine) {
        if let Detail::Order {
            client_order_id,
            order_id,
            ..
        } = &line.detail
        {
            self.order_ids
                .insert(order_id.to_string(), client_order_id.clone());
        }
    }

    fn command_dict<'py>(&mut self, py: Python<'py>, c: Command) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let rid = c.request_id.to_string();
        d.set_item("kind", c.action.name())?;
        d.set_item("request_id", &rid)?;
        d.set_item("intent_id", c.intent_id.as_str())?;
        let (trades, coid) = match &c.action {
            Action::Place(o) => {
                d.set_item("symbol", o.symbol().as_str())?;
                d.set_item("client_order_id", o.client_order_id().as_str())?;
                d.set_item("side", o.side().as_str())?;
                d.set_item("qty", to_py_decimal(py, o.qty())?)?;
                d.set_item("price", to_py_decimal(py, o.limit_price())?)?;
                d.set_item("tif", o.tif().as_str())?;
                d.set_item("sent_ms", o.sent_ms())?;
                (false, Some(o.client_order_id().clone()))
            }
            Action::FetchOrder {
                symbol,
                client_order_id,
            }
            | Action::Cancel {
                symbol,
                client_order_id,
            } => {
                d.set_item("symbol", symbol.as_str())?;
                d.set_item("client_order_id", client_order_id.as_str())?;
                (false, Some(client_order_id.clone()))
            }
            Action::FetchTrades { symbol, order_id } => {
                d.set_item("symbol", symbol.as_str())?;
                d.set_item("order_id", order_id.to_string())?;
                let coid = self.order_ids.get(&order_id.to_string()).cloned();
                d.set_item("client_order_id", coid.as_ref().map(|c| c.as_str()))?;
                (true, coid)
            }
        };
        self.pending.insert(
            rid,
            Pending {
                id: c.request_id,
                trades,
                client_order_id: coid,
            },
        );
        Ok(d)
    }
}

/// A JSON object from a dict whose decimal fields are exact numbers and the rest as given.
fn json_object(
    v: &Bound<'_, PyAny>,
    what: &str,
    decimals: &[&str],
    optional_decimals: &[&str],
    ints: &[&str],
    strings: &[&str],
) -> PyResult<serde_json::Value> {
    let mut obj = serde_json::Map::new();
    for (k, val) in entries(v, what)? {
        let field = format!("{what} field `{k}`");
        let json = if decimals.contains(&k.as_str()) {
            json_number(decimal(&val, &field)?)
        } else if optional_decimals.contains(&k.as_str()) {
            if val.is_none() {
                serde_json::Value::Null
            } else {
                json_number(decimal(&val, &field)?)
            }
        } else if ints.contains(&k.as_str()) {
            serde_json::Value::from(whole(&val, &field)?)
        } else if strings.contains(&k.as_str()) {
            // Venue ids may come as numbers (ccxt gives strings, a hand-written dict ints).
            if val.is_instance_of::<pyo3::types::PyInt>() {
                serde_json::Value::String(val.str()?.to_string())
            } else {
                serde_json::Value::String(text(&val, &field)?)
            }
        } else {
            let all: Vec<&str> = decimals
                .iter()
                .chain(optional_decimals)
                .chain(ints)
                .chain(strings)
                .copied()
                .collect();
            return Err(InputError::new_err(format!(
                "{what}: unknown field `{k}` ({})",
                all.join(", ")
            )));
        };
        obj.insert(k, json);
    }
    Ok(serde_json::Value::Object(obj))
}

fn order(v: &Bound<'_, PyAny>) -> PyResult<Order> {
    let json = json_object(
        v,
        "order",
        &["price", "amount", "filled", "remaining", "fee"],
        &["average"],
        &[],
        &[
            "order_id",
            "client_order_id",
            "symbol",
            "side",
            "status",
            "fee_asset",
        ],
    )?;
    let mut json = json;
    if let Some(o) = json.as_object_mut() {
        o.entry("average").or_insert(serde_json::Value::Null);
    }
    serde_json::from_value(json).map_err(|e| {
        InputError::new_err(format!(
            "order: {}",
            order_router_core::input::cut(&e.to_string())
        ))
    })
}

fn trades(v: &Bound<'_, PyAny>) -> PyResult<Vec<Trade>> {
    let mut out = Vec::new();
    let items = v
        .try_iter()
        .map_err(|_| InputError::new_err("trades: expected a list of trade dicts"))?;
    for (i, t) in items.enumerate() {
        let json = json_object(
            &t?,
            &format!("trades[{i}]"),
            &["price", "qty", "fee"],
            &[],
            &["t_ms"],
            &["trade_id", "order_id", "symbol", "side", "fee_asset"],
        )?;
        out.push(serde_json::from_value(json).map_err(|e| {
            InputError::new_err(format!(
                "trades[{i}]: {}",
                order_router_core::input::cut(&e.to_string())
            ))
        })?);
    }
    Ok(out)
}

/// The error kinds an answer may name, as `{"error": KIND}`.
const ERROR_KINDS: &str =
    "timeout, server_error, not_found, rate_limited, rejected, recv_window, duplicate";

fn exchange_error(v: &Bound<'_, PyDict>, p: &Pending) -> PyResult<ExchangeError> {
    let get = |k: &str| v.get_item(k).ok().flatten();
    let kind = match get("error") {
        Some(k) => text(&k, "outcome `error`")?,
        None => return Err(InputError::new_err("outcome: no `error`")),
    };
    for (k, _) in entries(v.as_any(), "outcome")? {
        let allowed = match kind.as_str() {
            "rejected" => ["error", "code", "message"].contains(&k.as_str()),
            "rate_limited" => ["error", "retry_after_ms"].contains(&k.as_str()),
            "server_error" => ["error", "message"].contains(&k.as_str()),
            _ => k == "error",
        };
        if !allowed {
            return Err(InputError::new_err(format!(
                "outcome: field `{k}` does not go with error `{kind}`"
            )));
        }
    }
    Ok(match kind.as_str() {
        "timeout" => ExchangeError::Timeout,
        "server_error" => ExchangeError::ServerError(match get("message") {
            Some(m) => text(&m, "outcome `message`")?,
            None => String::new(),
        }),
        "not_found" => ExchangeError::NotFound,
        "rate_limited" => ExchangeError::RateLimited {
            retry_after_ms: match get("retry_after_ms") {
                Some(ms) if !ms.is_none() => whole(&ms, "outcome `retry_after_ms`")?,
                _ => DEFAULT_RETRY_AFTER_MS,
            },
        },
        "rejected" => {
            let code = get("code")
                .ok_or_else(|| InputError::new_err("outcome: error `rejected` needs `code`"))?;
            let code: i32 = code
                .extract()
                .map_err(|_| InputError::new_err("outcome `code`: expected an int in i32"))?;
            let message = get("message")
                .ok_or_else(|| InputError::new_err("outcome: error `rejected` needs `message`"))?;
            ExchangeError::Rejected {
                code,
                message: text(&message, "outcome `message`")?,
            }
        }
        "recv_window" => ExchangeError::RecvWindowExpired,
        "duplicate" => {
            ExchangeError::DuplicateClientOrderId(p.client_order_id.clone().ok_or_else(|| {
                InputError::new_err("outcome: `duplicate` answers a request with a client order id")
            })?)
        }
        other => {
            return Err(InputError::new_err(format!(
                "outcome: error {other:?} is not one of {ERROR_KINDS}"
            )))
        }
    })
}

fn outcome_for_pending(v: &Bound<'_, PyAny>, p: &Pending) -> PyResult<ReplyOutcome> {
    let d = v.downcast::<PyDict>().map_err(|_| {
        InputError::new_err("outcome: expected a dict with `order`, `trades` or `error`")
    })?;
    if d.contains("error")? {
        let e = exchange_error(d, p)?;
        return Ok(if p.trades {
            ReplyOutcome::Trades(Err(e))
        } else {
            ReplyOutcome::Order(Err(e))
        });
    }
    if d.len() != 1 {
        return Err(InputError::new_err(
            "outcome: expected exactly one of `order`, `trades` or `error`",
        ));
    }
    match (d.get_item("order")?, d.get_item("trades")?) {
        (Some(o), None) if !p.trades => Ok(ReplyOutcome::Order(Ok(order(&o)?))),
        (None, Some(t)) if p.trades => Ok(ReplyOutcome::Trades(Ok(trades(&t)?))),
        (Some(_), None) => Err(InputError::new_err(
            "outcome: a fetch_trades request is answered with `trades` or `error`",
        )),
        (None, Some(_)) => Err(InputError::new_err(
            "outcome: only a fetch_trades request is answered with `trades`",
        )),
        _ => Err(InputError::new_err(
            "outcome: expected exactly one of `order`, `trades` or `error`",
        )),
    }
}

fn line_bytes(l: &AuditLine) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_line(&mut out, l);
    out
}

fn event_dict<'py>(py: Python<'py>, e: Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match e {
        Event::IntentStateChanged {
            intent_id,
            from,
            to,
        } => {
            d.set_item("kind", "state_changed")?;
            d.set_item("intent_id", intent_id.as_str())?;
            d.set_item("from", from.map(|s| s.to_string()))?;
            d.set_item("to", to.to_string())?;
        }
        Event::FillBooked {
            intent_id,
            fills,
            qty,
            avg_price,
            fee,
            fee_asset,
            booked,
        } => {
            d.set_item("kind", "fill_booked")?;
            d.set_item("intent_id", intent_id.as_str())?;
            d.set_item("fills", fills)?;
            d.set_item("qty", to_py_decimal(py, qty)?)?;
            d.set_item("avg_price", to_py_decimal(py, avg_price)?)?;
            d.set_item("fee", to_py_decimal(py, fee)?)?;
            d.set_item("fee_asset", fee_asset.as_ref().map(|a| a.as_str()))?;
            let b = PyDict::new(py);
            for (asset, delta) in booked.iter() {
                b.set_item(asset.as_str(), to_py_decimal(py, *delta)?)?;
            }
            d.set_item("booked", b)?;
        }
        Event::IntentFinished { intent_id, state } => {
            d.set_item("kind", "finished")?;
            d.set_item("intent_id", intent_id.as_str())?;
            d.set_item("state", state.to_string())?;
        }
    }
    Ok(d)
}

/// A line as a dict: the JSON read back with exact decimals (`decimal.Decimal`).
fn line_dict<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let json = py.import("json")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("parse_float", py.import("decimal")?.getattr("Decimal")?)?;
    json.call_method("loads", (PyBytes::new(py, bytes),), Some(&kwargs))
}

#[pymethods]
impl Router {
    /// A router with `config` (a dict of `RouterConfig` fields; missing ones keep the
    /// defaults) over starting `balances` (`{asset: amount}`). With `events`, typed events
    /// are queued for `poll_event()` (poll them, or pass `events=False`).
    #[new]
    #[pyo3(signature = (config=None, balances=None, *, events=true))]
    fn new(
        config: Option<&Bound<'_, PyAny>>,
        balances: Option<&Bound<'_, PyAny>>,
        events: bool,
    ) -> PyResult<Router> {
        let cfg = convert::config(config)?;
        let funding = convert::balances(balances)?;
        let core = Core::new(cfg, funding).map_err(|e| ConfigError::new_err(e.to_string()))?;
        Ok(Router::wrap(core, events))
    }

    /// Rebuilds the router from its journal (the audit JSONL it wrote, as bytes) with the same
    /// `config` and the same starting `balances` as the first run, at `now_ms`. Each intent
    /// the journal left open resumes; orders that may be out are asked about first.
    /// `recovery` then says what was found; truncate the journal file to
    /// `recovery["valid_len"]` before appending to it.
    #[staticmethod]
    #[pyo3(signature = (journal, config=None, balances=None, now_ms=0, *, events=true, truncate_damaged=false))]
    fn recover(
        py: Python<'_>,
        journal: &[u8],
        config: Option<&Bound<'_, PyAny>>,
        balances: Option<&Bound<'_, PyAny>>,
        now_ms: u64,
        events: bool,
        truncate_damaged: bool,
    ) -> PyResult<Router> {
        use order_router_core::router::{OnDamage, Replay};
        let cfg = convert::config(config)?;
        let funding = convert::balances(balances)?;
        let on_damage = if truncate_damaged {
            OnDamage::Cut
        } else {
            OnDamage::Stop
        };
        let rec = Core::recover_with(cfg, funding, Replay::default(), journal, now_ms, on_damage)
            .map_err(|e| AuditError::new_err(format!("journal: {e}")))?;
        let info = PyDict::new(py);
        info.set_item("lines", rec.scan.lines)?;
        info.set_item("valid_len", rec.scan.valid_len)?;
        info.set_item("end", rec.scan.end().to_string())?;
        let resumed = PyList::empty(py);
        for (id, state, action) in &rec.resumed {
            let r = PyDict::new(py);
            r.set_item("intent_id", id.as_str())?;
            r.set_item("state", state.to_string())?;
            r.set_item("resume", format!("{action:?}").to_lowercase())?;
            resumed.append(r)?;
        }
        info.set_item("resumed", resumed)?;
        let mut router = Router::wrap(rec.router, events);
        let valid = &journal[..rec.scan.valid_len.min(journal.len())];
        for (n, raw) in valid.split(|b| *b == b'\n').enumerate() {
            if let Ok(l) = parse_audit_line(n + 1, raw) {
                router.remember(&l);
                router.handed = Some(l.seq);
                router.durable = Some(l.seq);
            }
        }
        router.recovery = Some(info.unbind());
        Ok(router)
    }

    /// What `recover` found (lines, valid_len, end, resumed), or None for a new router.
    #[getter]
    fn recovery(&self, py: Python<'_>) -> Option<Py<PyDict>> {
        self.recovery.as_ref().map(|r| r.clone_ref(py))
    }

    /// Delivers an intent (a dict: intent_id, ts_ms, symbol, side, qty, ref_price) at
    /// `now_ms`. A second delivery of a known intent is recognised and ignored.
    fn deliver(&mut self, now_ms: u64, intent: &Bound<'_, PyAny>) -> PyResult<()> {
        let i = convert::intent(intent)?;
        self.core
            .handle(now_ms, Input::Deliver(i))
            .map_err(contract)
    }

    /// The last traded price of a symbol (the slippage guard compares with it).
    fn market_price(
        &mut self,
        now_ms: u64,
        symbol: &str,
        price: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let symbol =
            Symbol::parse(symbol).map_err(|e| InputError::new_err(format!("symbol: {e}")))?;
        let price = decimal(price, "price")?;
        self.core
            .handle(now_ms, Input::Market { symbol, price })
            .map_err(contract)
    }

    /// The venue asked for nothing to be sent before `until_ms` (a Retry-After read elsewhere).
    fn hold(&mut self, now_ms: u64, until_ms: u64) -> PyResult<()> {
        self.core
            .handle(now_ms, Input::Hold { until_ms })
            .map_err(contract)
    }

    /// The next audit line as a dict (with `seq`; decimals as `decimal.Decimal`), or None.
    /// Append it to the journal, make it durable, then call `journal_durable(seq)`.
    fn poll_audit<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.next_line() {
            Some(l) => {
                self.remember(&l);
                Ok(Some(line_dict(py, &line_bytes(&l))?))
            }
            None => Ok(None),
        }
    }

    /// The next audit line as the JSONL bytes to append to the journal (newline included),
    /// or None. The same queue as `poll_audit`.
    fn poll_audit_bytes<'py>(&mut self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let l = self.next_line()?;
        self.remember(&l);
        Some(PyBytes::new(py, &line_bytes(&l)))
    }

    /// Every audit line waiting, as JSONL bytes (empty when none): one call per batch.
    fn drain_audit<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let mut out = Vec::new();
        while let Some(l) = self.next_line() {
            self.remember(&l);
            write_line(&mut out, &l);
        }
        PyBytes::new(py, &out)
    }

    /// The journal holds every line up to and including `seq` durably: the commands they
    /// describe may go out now.
    fn journal_durable(&mut self, seq: u64) -> PyResult<()> {
        if self.handed.is_none_or(|h| seq > h) {
            let next = self.handed.map_or(0, |h| h + 1);
            return Err(contract(ContractError::NotEmitted { seq, next }));
        }
        self.core.journal_durable(seq).map_err(contract)?;
        self.durable = Some(self.durable.map_or(seq, |d| d.max(seq)));
        Ok(())
    }

    /// The `seq` of the last line handed out and not yet reported durable, or None.
    fn undurable(&self) -> Option<u64> {
        self.handed.filter(|h| self.durable.is_none_or(|d| *h > d))
    }

    /// The next typed event as a dict (`kind`: state_changed, fill_booked, finished), or None.
    fn poll_event<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.pump();
        match self.events.pop_front() {
            Some(e) => Ok(Some(event_dict(py, e)?)),
            None => Ok(None),
        }
    }

    /// The next command for the venue (a dict with `kind`: place, fetch_order, fetch_trades,
    /// cancel; `request_id`, `symbol`, `client_order_id`, and for a placement `side`, `qty`,
    /// `price`, `tif`), or None. Only commands whose audit lines are durable come out.
    fn poll_command<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.pump();
        let next = match self.commands.pop_front() {
            Some(c) => Some(c),
            None if self.lines.is_empty() => self.core.poll_command(),
            None => None,
        };
        match next {
            Some(c) => Ok(Some(self.command_dict(py, c)?)),
            None => Ok(None),
        }
    }

    /// The venue's answer to the command `request_id`, at `now_ms`: `{"order": {...}}`,
    /// `{"trades": [...]}` or `{"error": KIND, ...}` (see docs/python.md).
    fn reply(&mut self, now_ms: u64, request_id: &str, outcome: &Bound<'_, PyAny>) -> PyResult<()> {
        let Some(p) = self.pending.get(request_id) else {
            return Err(RouterContractError::new_err(format!(
                "reply: request_id {request_id:?} is not awaiting an answer (answered already, or never handed out)"
            )));
        };
        let out = outcome_for_pending(outcome, p)?;
        let Some(p) = self.pending.remove(request_id) else {
            return Ok(());
        };
        if let ReplyOutcome::Order(Ok(o)) = &out {
            self.order_ids
                .insert(o.order_id.to_string(), o.client_order_id.clone());
        }
        self.core
            .handle(
                now_ms,
                Input::Reply(Reply {
                    request_id: p.id,
                    outcome: out,
                }),
            )
            .map_err(contract)
    }

    /// When `handle_timeout` next has work to do (ms), or None.
    fn poll_timeout(&self) -> Option<u64> {
        self.core.poll_timeout()
    }

    /// Fires every timer due at or before `now_ms`.
    fn handle_timeout(&mut self, now_ms: u64) -> PyResult<()> {
        self.core.handle_timeout(now_ms).map_err(contract)
    }

    /// The state of an intent (`NEW`, `SENT`, ..., `RECONCILED`), or None if never seen.
    fn state_of(&self, intent_id: &str) -> PyResult<Option<String>> {
        let id = IntentId::new(intent_id).map_err(|e| InputError::new_err(e.to_string()))?;
        Ok(self.core.state_of(&id).map(|s| s.to_string()))
    }

    /// Intents not yet in a terminal state.
    #[getter]
    fn in_flight(&self) -> usize {
        self.core.in_flight()
    }

    /// Commands handed out and not answered yet, by request id.
    #[getter]
    fn awaiting(&self) -> Vec<String> {
        self.pending.keys().cloned().collect()
    }

    /// The router's counters: intents, duplicates_ignored, orders_sent, retries,
    /// unknown_outcomes, unknown_resolved.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.core.stats();
        let d = PyDict::new(py);
        d.set_item("intents", s.intents)?;
        d.set_item("duplicates_ignored", s.duplicates_ignored)?;
        d.set_item("orders_sent", s.orders_sent)?;
        d.set_item("retries", s.retries)?;
        d.set_item("unknown_outcomes", s.unknown_outcomes)?;
        d.set_item("unknown_resolved", s.unknown_resolved)?;
        Ok(d)
    }

    /// Each asset's balance: `{asset: {"total": Decimal, "reserved": Decimal}}`.
    fn balances<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (a, b) in self.core.portfolio().balances() {
            let e = PyDict::new(py);
            e.set_item("total", to_py_decimal(py, b.total)?)?;
            e.set_item("reserved", to_py_decimal(py, b.reserved)?)?;
            d.set_item(a.as_str(), e)?;
        }
        Ok(d)
    }
}

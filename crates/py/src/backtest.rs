//! `backtest`: a Python strategy stepping the simulator over a market tape.
//!
//! The tape (trades, quotes or klines, as `order-router replay` reads them) becomes the
//! simulated venue's market, one price row per record, and the strategy is called once per
//! record *after* the simulator has processed everything up to that record's time: it sees the
//! router's audit lines so far (its fills, states and balances, through the context object)
//! and returns intents stamped with the record's time. The rows are pulled lazily by the
//! simulator, so the strategy never sees the future. Faults (the light mix) and every
//! invariant are on, as in `replay`.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::BufRead;
use std::path::PathBuf;
use std::rc::Rc;

use order_router_core::audit::{parse_audit_line, Detail};
use order_router_core::model::{Asset, IntentId, Side, Symbol, TimeMs};
use order_router_core::router::{MarketRules, State};
use order_router_core::Intent;
use order_router_sim::market::{Record, Records, Tick};
use order_router_sim::scenario::{Row, RowKind, ScenarioError as SimScenarioError, Spec};
use order_router_sim::{run_observed, RunOptions};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rust_decimal::Decimal;

use crate::convert::{decimal, entries, text, to_py_decimal, whole};
use crate::run::{PricePath, RunResult};
use crate::{ConfigError, InputError, ScenarioError};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BacktestContext>()?;
    m.add_function(wrap_pyfunction!(backtest, m)?)
}

/// One booked execution: an intent's trades, summed, at its `RECONCILED` line.
#[derive(Clone)]
struct Fill {
    intent_id: String,
    t_ms: TimeMs,
    symbol: String,
    side: String,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_asset: String,
    fills: u32,
}

/// What the strategy can see of its own execution: read from the router's audit lines up to
/// the current record.
#[pyclass(module = "order_router._native", unsendable)]
pub struct BacktestContext {
    t_ms: TimeMs,
    fills: Vec<Fill>,
    states: BTreeMap<String, State>,
    symbols: BTreeMap<String, (String, String)>,
    start: BTreeMap<String, Decimal>,
    booked: BTreeMap<String, Decimal>,
    open: usize,
    lines: u64,
}

impl BacktestContext {
    fn observe(&mut self, raw: &[u8]) {
        let Ok(l) = parse_audit_line(0, raw) else {
            return;
        };
        self.lines += 1;
        let id = l.intent_id.to_string();
        if let Detail::New { symbol, side, .. } = &l.detail {
            self.symbols
                .insert(id.clone(), (symbol.to_string(), side.as_str().to_string()));
        }
        if let Detail::Reconciled {
            fills_count,
            filled_qty,
            avg_price,
            fee,
            booked,
            ..
        } = &l.detail
        {
            for (a, d) in booked.iter() {
                *self.booked.entry(a.to_string()).or_default() += *d;
            }
            if !filled_qty.is_zero() {
                let (symbol, side) = self.symbols.get(&id).cloned().unwrap_or_default();
                // Fees are charged in the quote asset (`MarketRules::fee_bps`).
                let fee_asset = Symbol::parse(&symbol)
                    .map(|s| s.quote().to_string())
                    .unwrap_or_default();
                self.fills.push(Fill {
                    intent_id: id.clone(),
                    t_ms: l.t_ms,
                    symbol,
                    side,
                    qty: *filled_qty,
                    price: *avg_price,
                    fee: *fee,
                    fee_asset,
                    fills: *fills_count,
                });
            }
        }
        if l.detail.event().is_none() {
            let was = self.states.insert(id, l.state);
            let was_open = was.is_some_and(|s| !s.is_terminal());
            match (was_open, l.state.is_terminal()) {
                (false, false) => self.open += 1,
                (true, true) => self.open -= 1,
                _ => {}
            }
        }
    }
}

#[pymethods]
impl BacktestContext {
    /// The current record's time (ms since the tape's first record).
    #[getter]
    fn t_ms(&self) -> TimeMs {
        self.t_ms
    }

    /// Every execution booked so far: dicts with intent_id, t_ms, symbol, side, qty, price
    /// (the average), fee, fee_asset, fills (the number of venue trades).
    #[getter]
    fn fills<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for f in &self.fills {
            let d = PyDict::new(py);
            d.set_item("intent_id", &f.intent_id)?;
            d.set_item("t_ms", f.t_ms)?;
            d.set_item("symbol", &f.symbol)?;
            d.set_item("side", &f.side)?;
            d.set_item("qty", to_py_decimal(py, f.qty)?)?;
            d.set_item("price", to_py_decimal(py, f.price)?)?;
            d.set_item("fee", to_py_decimal(py, f.fee)?)?;
            d.set_item("fee_asset", &f.fee_asset)?;
            d.set_item("fills", f.fills)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// An intent's state as the audit log says so far, or None.
    fn state_of(&self, intent_id: &str) -> Option<String> {
        self.states.get(intent_id).map(|s| s.to_string())
    }

    /// The starting balance of `asset` plus everything booked since.
    fn balance(&self, py: Python<'_>, asset: &str) -> PyResult<PyObject> {
        let d = self.start.get(asset).copied().unwrap_or_default()
            + self.booked.get(asset).copied().unwrap_or_default();
        to_py_decimal(py, d)
    }

    /// Every asset's balance (starting plus booked).
    #[getter]
    fn balances<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let assets: std::collections::BTreeSet<&String> =
            self.start.keys().chain(self.booked.keys()).collect();
        for a in assets {
            d.set_item(a, self.balance(py, a)?)?;
        }
        Ok(d)
    }

    /// Intents delivered and not yet terminal.
    #[getter]
    fn open_intents(&self) -> usize {
        self.open
    }

    /// Audit lines read so far.
    #[getter]
    fn audit_lines(&self) -> u64 {
        self.lines
    }
}

/// The audit log as the simulator writes it, shared with the rows the strategy makes.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What kind of record a tape holds, from its first line.
fn kind_of(path: &std::path::Path) -> &'static str {
    let first = std::fs::File::open(path)
        .ok()
        .and_then(|f| std::io::BufReader::new(f).lines().next())
        .and_then(Result::ok)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if first.contains("bid") {
        "quote"
    } else if first.contains("close")
        || first
            .split(',')
            .next()
            .is_some_and(|c| c.trim().parse::<u64>().is_ok())
    {
        "bar"
    } else {
        "trade"
    }
}

struct Stepper<'py, I> {
    py: Python<'py>,
    records: I,
    kind: &'static str,
    symbol: Symbol,
    strategy: Bound<'py, PyAny>,
    ctx: Bound<'py, BacktestContext>,
    audit: Shared,
    read: usize,
    queue: VecDeque<Row>,
    /// The record whose price row went out and whose strategy call is due.
    due: Option<Record>,
    ticks: Rc<RefCell<Vec<Tick>>>,
    error: Rc<RefCell<Option<PyErr>>>,
    tape_error: Rc<RefCell<Option<SimScenarioError>>>,
    records_read: Rc<RefCell<u64>>,
    intents: u64,
}

impl<'py, I: Iterator<Item = Result<Record, SimScenarioError>>> Stepper<'py, I> {
    /// Reads the audit lines written since the last call into the context.
    fn catch_up(&mut self) {
        let log = self.audit.0.borrow();
        let mut ctx = self.ctx.borrow_mut();
        while let Some(nl) = memchr(b'\n', &log[self.read..]) {
            ctx.observe(&log[self.read..self.read + nl]);
            self.read += nl + 1;
        }
    }

    fn event(&self, r: &Record) -> PyResult<Bound<'py, PyDict>> {
        let py = self.py;
        let d = PyDict::new(py);
        d.set_item("kind", self.kind)?;
        d.set_item("symbol", self.symbol.as_str())?;
        d.set_item("t_ms", r.tick.t_ms)?;
        d.set_item("ts_ms", r.ts)?;
        d.set_item("price", to_py_decimal(py, r.tick.mid)?)?;
        d.set_item("qty", r.qty.map(|q| to_py_decimal(py, q)).transpose()?)?;
        d.set_item(
            "spread_bps",
            r.tick
                .spread_bps
                .map(|s| to_py_decimal(py, s))
                .transpose()?,
        )?;
        d.set_item("line", r.line)?;
        Ok(d)
    }

    /// One intent row from what the strategy returned.
    fn intent_row(&mut self, r: &Record, v: &Bound<'py, PyAny>) -> PyResult<Row> {
        let what = format!("strategy intent at tape line {}", r.line);
        let (mut id, mut symbol, mut side, mut qty, mut ref_price) =
            (None, self.symbol.clone(), None, None, r.tick.mid);
        for (k, val) in entries(v, &what)? {
            let field = format!("{what}: `{k}`");
            match k.as_str() {
                "intent_id" => {
                    let t = text(&val, &field)?;
                    id = Some(
                        IntentId::new(&t)
                            .map_err(|e| InputError::new_err(format!("{field}: {e}")))?,
                    );
                }
                "symbol" => {
                    let t = text(&val, &field)?;
                    symbol = Symbol::parse(&t)
                        .map_err(|e| InputError::new_err(format!("{field}: {e}")))?;
                }
                "side" => {
                    let t = text(&val, &field)?;
                    side = Some(
                        Side::parse(&t)
                            .map_err(|e| InputError::new_err(format!("{field}: {e}")))?,
                    );
                }
                "qty" => qty = Some(decimal(&val, &field)?),
                "ref_price" => ref_price = decimal(&val, &field)?,
                "ts_ms" => {
                    let t = whole(&val, &field)?;
                    if t != r.tick.t_ms {
                        return Err(InputError::new_err(format!(
                            "{field}: {t} is not the event's time {} (a strategy decides at the event it sees)",
                            r.tick.t_ms
                        )));
                    }
                }
                _ => {
                    return Err(InputError::new_err(format!(
                    "{what}: unknown field `{k}` (intent_id, symbol, side, qty, ref_price, ts_ms)"
                )))
                }
            }
        }
        if symbol != self.symbol {
            return Err(InputError::new_err(format!(
                "{what}: symbol {symbol}: the tape is {}",
                self.symbol
            )));
        }
        let side = side.ok_or_else(|| InputError::new_err(format!("{what}: `side` is missing")))?;
        let qty = qty.ok_or_else(|| InputError::new_err(format!("{what}: `qty` is missing")))?;
        self.intents += 1;
        let id = match id {
            Some(id) => id,
            None => IntentId::numbered("bt", self.intents),
        };
        let t = r.tick.t_ms;
        let intent = Intent::new(id, t, symbol.clone(), side, qty, ref_price)
            .map_err(|e| InputError::new_err(format!("{what}: {e}")))?;
        let spec = Spec {
            symbol,
            side,
            qty: qty.normalize(),
            ref_price: ref_price.normalize(),
        };
        Ok(Row {
            line: r.line,
            t_ms: t,
            kind: RowKind::Intent {
                intent,
                spec,
                deliveries: 1,
                gap_ms: 0,
            },
        })
    }

    /// Calls the strategy for the record whose price is now the market's.
    fn decide(&mut self, r: Record) -> PyResult<()> {
        self.catch_up();
        self.ctx.borrow_mut().t_ms = r.tick.t_ms;
        let event = self.event(&r)?;
        let out = self.strategy.call1((event, self.ctx.clone()))?;
        if out.is_none() {
            return Ok(());
        }
        if out.is_instance_of::<PyDict>() {
            let row = self.intent_row(&r, &out)?;
            self.queue.push_back(row);
            return Ok(());
        }
        let items = out.try_iter().map_err(|_| {
            InputError::new_err(format!(
                "strategy at tape line {}: return None, an intent dict or a list of them",
                r.line
            ))
        })?;
        for item in items {
            let row = self.intent_row(&r, &item?)?;
            self.queue.push_back(row);
        }
        Ok(())
    }
}

impl<I: Iterator<Item = Result<Record, SimScenarioError>>> Iterator for Stepper<'_, I> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        loop {
            if let Some(row) = self.queue.pop_front() {
                return Some(row);
            }
            if self.error.borrow().is_some() {
                return None;
            }
            if let Some(r) = self.due.take() {
                if let Err(e) = self.decide(r) {
                    *self.error.borrow_mut() = Some(e);
                    return None;
                }
                continue;
            }
            match self.records.next()? {
                Err(e) => {
                    *self.tape_error.borrow_mut() = Some(e);
                    return None;
                }
                Ok(r) => {
                    *self.records_read.borrow_mut() += 1;
                    let mut ticks = self.ticks.borrow_mut();
                    if ticks
                        .last()
                        .is_none_or(|t| t.mid != r.tick.mid || t.spread_bps != r.tick.spread_bps)
                    {
                        ticks.push(r.tick);
                    }
                    drop(ticks);
                    self.due = Some(r);
                    // Every record is a price row, unchanged prices too: the strategy's call
                    // comes once the simulator has reached the record's time.
                    return Some(Row {
                        line: r.line,
                        t_ms: r.tick.t_ms,
                        kind: RowKind::Price {
                            symbol: self.symbol.clone(),
                            mid: r.tick.mid,
                            spread_bps: r.tick.spread_bps.unwrap_or(Decimal::TWO),
                            depth: Decimal::from(1_000_000),
                        },
                    });
                }
            }
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

/// Backtests `strategy` over a market tape (trades, quotes or klines CSV): the strategy is
/// called as `strategy(event, ctx)` for every record, in time order, once the simulator has
/// reached the record's time, and returns None, an intent dict (`side`, `qty`; optional
/// `ref_price`, default the record's price, and `intent_id`) or a list of them. `ctx` shows the
/// strategy its own execution so far (fills, states, balances). The router runs against the
/// simulated venue with the light fault mix, every invariant checked. Holds the GIL (the
/// strategy is Python).
#[pyfunction]
#[pyo3(signature = (tape, strategy, *, symbol="BTC/USDT", seed=1, balances=None, tick_size=None, step_size=None, min_notional=None))]
#[allow(clippy::too_many_arguments)]
fn backtest<'py>(
    py: Python<'py>,
    tape: PathBuf,
    strategy: Bound<'py, PyAny>,
    symbol: &str,
    seed: u64,
    balances: Option<&Bound<'py, PyAny>>,
    tick_size: Option<&Bound<'py, PyAny>>,
    step_size: Option<&Bound<'py, PyAny>>,
    min_notional: Option<&Bound<'py, PyAny>>,
) -> PyResult<RunResult> {
    if !strategy.is_callable() {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "backtest: strategy must be callable as strategy(event, ctx)",
        ));
    }
    let symbol = Symbol::parse(symbol).map_err(|e| ConfigError::new_err(format!("symbol: {e}")))?;
    let mut rules: MarketRules =
        order_router_sim::exchange::sim::VenueConfig::default().default_rules;
    let limit = order_router_core::router::limits::MAX_AMOUNT;
    for (name, v, slot) in [
        ("tick_size", tick_size, &mut rules.tick_size),
        ("step_size", step_size, &mut rules.step_size),
        ("min_notional", min_notional, &mut rules.min_notional),
    ] {
        if let Some(v) = v.filter(|v| !v.is_none()) {
            let d = decimal(v, name).map_err(|e| ConfigError::new_err(e.to_string()))?;
            if d <= Decimal::ZERO || d > limit {
                return Err(ConfigError::new_err(format!(
                    "{name}: must be positive and at most 10^15"
                )));
            }
            *slot = d;
        }
    }
    // Ample balances unless given: a strategy's own sizing is what is tested.
    let big = Decimal::from(1_000_000_000_000i64);
    let mut start: BTreeMap<String, Decimal> = BTreeMap::new();
    match balances.filter(|b| !b.is_none()) {
        Some(b) => {
            for (a, v) in entries(b, "balances").map_err(|e| ConfigError::new_err(e.to_string()))? {
                Asset::new(&a).map_err(|e| ConfigError::new_err(format!("balances: {e}")))?;
                let d = decimal(&v, &format!("balances `{a}`"))
                    .map_err(|e| ConfigError::new_err(e.to_string()))?;
                if d < Decimal::ZERO || d > limit {
                    return Err(ConfigError::new_err(format!(
                        "balances `{a}`: {d} must be in 0..=10^15"
                    )));
                }
                start.insert(a, d);
            }
        }
        None => {
            start.insert(symbol.quote().to_string(), big);
            start.insert(symbol.base().to_string(), big);
        }
    }
    let file = tape.display().to_string();
    let records = Records::open(&tape).map_err(|e| ScenarioError::new_err(e.to_string()))?;
    let scenario = order_router_sim::tape::replay_scenario(&symbol, rules, seed);
    let opts = RunOptions {
        seed,
        max_steps: u64::MAX,
        keep_audit: true,
        // Every step's lines reach the log before the next row is read: the strategy sees them.
        durable_audit: true,
        ..RunOptions::default()
    };
    let ctx = Bound::new(
        py,
        BacktestContext {
            t_ms: 0,
            fills: Vec::new(),
            states: BTreeMap::new(),
            symbols: BTreeMap::new(),
            start: start.clone(),
            booked: BTreeMap::new(),
            open: 0,
            lines: 0,
        },
    )?;
    let audit = Shared::default();
    let ticks = Rc::new(RefCell::new(Vec::new()));
    let error = Rc::new(RefCell::new(None));
    let tape_error = Rc::new(RefCell::new(None));
    let records_read = Rc::new(RefCell::new(0u64));
    let mut balance_rows = Vec::new();
    for (a, d) in &start {
        let asset = Asset::new(a).map_err(|e| ConfigError::new_err(format!("balances: {e}")))?;
        balance_rows.push(Row {
            line: 0,
            t_ms: 0,
            kind: RowKind::Balance { asset, amount: *d },
        });
    }
    let stepper = Stepper {
        py,
        records,
        kind: kind_of(&tape),
        symbol: symbol.clone(),
        strategy,
        ctx: ctx.clone(),
        audit: audit.clone(),
        read: 0,
        queue: balance_rows.into(),
        due: None,
        ticks: ticks.clone(),
        error: error.clone(),
        tape_error: tape_error.clone(),
        records_read: records_read.clone(),
        intents: 0,
    };
    let mut sink = audit.clone();
    let report = run_observed(&scenario, Box::new(stepper), &opts, &mut sink, None);
    if let Some(e) = error.borrow_mut().take() {
        return Err(e);
    }
    if let Some(e) = tape_error.borrow_mut().take() {
        return Err(ScenarioError::new_err(e.to_string()));
    }
    let records = *records_read.borrow();
    if records == 0 {
        return Err(ScenarioError::new_err(format!(
            "{file}:1: file: no price records"
        )));
    }
    if let Some(f) = report.failed_expects.first() {
        return Err(ScenarioError::new_err(f.to_string()));
    }
    let log = audit.0.borrow().clone();
    let path = PricePath::Market(symbol, ticks.borrow().clone());
    let result = RunResult::new(py, file, &log, &report, path)?;
    let s = result.summary_dict(py);
    s.set_item("records", records)?;
    Ok(result)
}

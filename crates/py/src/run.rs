//! `run_scenario`, `fuzz` and `check_audit`: the `run`, `fuzz` and `check-audit` commands as
//! functions, through the same library calls, so a scenario's audit bytes are the CLI's.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use order_router_core::audit::check_stream;
use order_router_core::model::Symbol;
use order_router_sim::fuzz::{campaign_until, unreached_edges, FuzzOptions};
use order_router_sim::gen::FaultMix;
use order_router_sim::market::Tick;
use order_router_sim::scenario::{load, parse};
use order_router_sim::{
    run_observed, Report, RunOptions, Scenario, Violation, COVERAGE, FAULT_KINDS,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::{AuditError, ConfigError, ScenarioError};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RunResult>()?;
    m.add_function(wrap_pyfunction!(run_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(fuzz, m)?)?;
    m.add_function(wrap_pyfunction!(check_audit, m)?)?;
    m.add_function(wrap_pyfunction!(bot_audit, m)?)?;
    Ok(())
}

/// Audits a bot from the venue's record (bytes, or a path to `order-router venue --record`'s
/// file) as `order-router bot-audit RECORD --json` does: per API key, what the bot lost track of,
/// each finding with the requests that prove it. Returns that JSON as a dict (`clients`, each
/// with its `findings` and `summary`); with `html=PATH` also writes the audit page. Raises
/// `AuditError` for a record that cannot be read.
#[pyfunction]
#[pyo3(signature = (record, html=None))]
fn bot_audit<'py>(
    py: Python<'py>,
    record: &Bound<'py, PyAny>,
    html: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let (bytes, name) = bytes_or_path(record, "bot_audit")?;
    let audit = py
        .allow_threads(|| order_router_binance::bot_audit::audit(&bytes))
        .map_err(|e| AuditError::new_err(format!("{name}: {e}")))?;
    if let Some(out) = html {
        let page = order_router_binance::bot_audit::html::page(&name, &audit);
        std::fs::write(&out, page)
            .map_err(|e| AuditError::new_err(format!("{}: {e}", out.display())))?;
    }
    let text =
        serde_json::to_string(&audit).map_err(|e| AuditError::new_err(format!("{name}: {e}")))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// What the run report draws the price path from.
pub enum PricePath {
    Scenario(Box<Scenario>),
    Market(Symbol, Vec<Tick>),
}

/// The result of a simulated run: its audit log, its summary, its tables and its report.
#[pyclass(frozen, module = "order_router._native")]
pub struct RunResult {
    audit: Py<PyBytes>,
    summary: Py<PyDict>,
    name: String,
    path: PricePath,
}

impl RunResult {
    pub fn new(
        py: Python<'_>,
        name: String,
        audit: &[u8],
        r: &Report,
        path: PricePath,
    ) -> PyResult<Self> {
        Ok(RunResult {
            audit: PyBytes::new(py, audit).unbind(),
            summary: summary(py, r)?.unbind(),
            name,
            path,
        })
    }

    /// The summary dict itself, for a caller that adds its own counts.
    pub fn summary_dict<'py>(&self, py: Python<'py>) -> Bound<'py, PyDict> {
        self.summary.bind(py).clone()
    }
}

#[pymethods]
impl RunResult {
    /// The audit log, JSONL: the bytes `order-router run PATH --seed S --audit -` writes.
    #[getter]
    fn audit_jsonl(&self, py: Python<'_>) -> Py<PyBytes> {
        self.audit.clone_ref(py)
    }

    /// The run's counts: intents, orders, fills, checks, violations, expects_held, ...
    #[getter]
    fn summary(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        Ok(self.summary.bind(py).copy()?.unbind())
    }

    /// `"intents"`, `"orders"` or `"fills"` as a `pyarrow.Table`.
    fn table(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
        let tables = py.import("order_router._tables")?;
        Ok(tables
            .call_method1("table", (self.audit.bind(py), name))?
            .unbind())
    }

    /// Writes the HTML run report (`order-router report`'s page) to `path`.
    fn report(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let audit = self.audit.bind(py).as_bytes();
        let (scenario, market) = match &self.path {
            PricePath::Scenario(s) => (Some(s.as_ref()), None),
            PricePath::Market(symbol, ticks) => (None, Some((symbol, ticks.as_slice()))),
        };
        let html = order_router_report::build(order_router_report::Inputs {
            name: &self.name,
            audit,
            market,
            scenario,
        })
        .map_err(|e| AuditError::new_err(format!("report: {e}")))?;
        std::fs::write(&path, html)
            .map_err(|e| ConfigError::new_err(format!("report: {}: {e}", path.display())))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let s = self.summary.bind(py);
        let get = |k: &str| {
            s.get_item(k)
                .ok()
                .flatten()
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        format!(
            "<RunResult {}: intents {}, orders {}, fills {}, passed {}>",
            self.name,
            get("intents"),
            get("orders"),
            get("fills"),
            get("passed")
        )
    }
}

fn violation<'py>(
    py: Python<'py>,
    v: &Violation,
    seed: Option<u64>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    if let Some(s) = seed {
        d.set_item("seed", s)?;
    }
    d.set_item("invariant", v.invariant)?;
    d.set_item("step", v.step)?;
    d.set_item("t_ms", v.t_ms)?;
    d.set_item("intent", v.intent.as_deref())?;
    d.set_item("detail", &v.detail)?;
    d.set_item("message", v.to_string())?;
    Ok(d)
}

/// The summary `run --json` prints, with the names the Python API promises.
pub fn summary<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("seed", r.seed)?;
    d.set_item("passed", r.passed())?;
    d.set_item("intents", r.intents)?;
    let states = PyDict::new(py);
    for (s, n) in &r.final_states {
        states.set_item(s.to_string(), n)?;
    }
    d.set_item("final_states", states)?;
    d.set_item("deliveries", r.deliveries)?;
    d.set_item("duplicates_ignored", r.duplicates_ignored)?;
    d.set_item("signals_vetoed", r.signals_vetoed)?;
    d.set_item("orders", r.orders)?;
    d.set_item("fills", r.fills)?;
    d.set_item("retries", r.retries)?;
    d.set_item("unknown_outcomes", r.unknown_outcomes)?;
    d.set_item("unknown_resolved", r.unknown_resolved)?;
    let faults = PyDict::new(py);
    for (k, n) in FAULT_KINDS.iter().zip(r.faults.iter()) {
        faults.set_item(*k, n)?;
    }
    d.set_item("faults", faults)?;
    d.set_item("checks", r.checks)?;
    d.set_item("steps", r.steps)?;
    d.set_item("audit_lines", r.audit_lines)?;
    d.set_item("sim_time_ms", r.end_ms)?;
    let violations = PyList::empty(py);
    if let Some(v) = &r.violation {
        violations.append(violation(py, v, None)?)?;
    }
    d.set_item("violations", violations)?;
    d.set_item("expects_total", r.expects)?;
    d.set_item(
        "expects_held",
        r.expects - r.failed_expects.len().min(r.expects),
    )?;
    let failed: Vec<String> = r.failed_expects.iter().map(|f| f.to_string()).collect();
    d.set_item("failed_expects", failed)?;
    d.set_item("restarts", r.restarts)?;
    Ok(d)
}

fn scenario_err(e: impl std::fmt::Display) -> PyErr {
    ScenarioError::new_err(e.to_string())
}

/// Runs one scenario through the simulator, as `order-router run` does: the real router
/// against the simulated venue with the scenario's faults, every invariant checked.
///
/// Give a path, or the scenario itself as `text`. `seed` overrides the scenario's own
/// (`config` row `seed=`), else 0. `market` replays a recorded price path (`run --market`).
/// The simulation runs without the GIL.
#[pyfunction]
#[pyo3(signature = (path=None, seed=None, *, text=None, market=None, market_symbol=None, max_steps=None))]
fn run_scenario(
    py: Python<'_>,
    path: Option<PathBuf>,
    seed: Option<u64>,
    text: Option<&str>,
    market: Option<PathBuf>,
    market_symbol: Option<&str>,
    max_steps: Option<u64>,
) -> PyResult<RunResult> {
    let (mut scenario, name) = match (&path, text) {
        (Some(p), None) => (load(p).map_err(scenario_err)?, p.display().to_string()),
        (None, Some(t)) => (
            parse("<text>", t.as_bytes()).map_err(scenario_err)?,
            "<text>".to_string(),
        ),
        _ => {
            return Err(ConfigError::new_err(
                "run_scenario: give a path or text=, not both or neither",
            ))
        }
    };
    if let Some(m) = &market {
        let named = market_symbol
            .map(Symbol::parse)
            .transpose()
            .map_err(|e| ConfigError::new_err(format!("market_symbol: {e}")))?;
        let symbol = scenario
            .market_symbol(named.as_ref())
            .map_err(|e| scenario_err(format!("{name}: {e}")))?;
        let ticks = order_router_sim::market::load(m).map_err(scenario_err)?;
        scenario
            .check_market_scale(&symbol, &ticks)
            .map_err(|e| scenario_err(format!("{}: {e}", m.display())))?;
        scenario.replay_market(&symbol, &ticks);
    }
    scenario
        .check_priced()
        .map_err(|e| scenario_err(format!("{name}: {e}")))?;
    let max = max_steps.unwrap_or(RunOptions::default().max_steps);
    if max == 0 || max > 1_000_000_000_000 {
        return Err(ConfigError::new_err(
            "max_steps: must be in 1..=1000000000000",
        ));
    }
    let opts = RunOptions {
        seed: seed.or(scenario.seed).unwrap_or(0),
        max_steps: max,
        keep_audit: true,
        ..RunOptions::default()
    };
    let warnings: Vec<String> = scenario
        .warnings
        .iter()
        .map(|w| w.to_string())
        .chain(
            scenario
                .warnings()
                .into_iter()
                .map(|w| format!("{name}: {w}")),
        )
        .collect();
    let (report, log) = py.allow_threads(|| {
        let mut log = Vec::new();
        let rows = Box::new(scenario.rows.iter().cloned());
        let report = run_observed(&scenario, rows, &opts, &mut log, None);
        (report, log)
    });
    let result = RunResult::new(
        py,
        name,
        &log,
        &report,
        PricePath::Scenario(Box::new(scenario)),
    )?;
    result.summary_dict(py).set_item("warnings", warnings)?;
    Ok(result)
}

/// A fuzz campaign over seeds `start..end`, as `order-router fuzz --seeds START..END`: one
/// generated scenario per seed, in parallel on `jobs` threads (default: all cores), without
/// the GIL. `violations` lists the lowest failing seed's violation (empty when all held).
#[pyfunction]
#[pyo3(signature = (start, end, jobs=None, *, intents=8, faults="swarm", check_determinism=false))]
fn fuzz<'py>(
    py: Python<'py>,
    start: u64,
    end: u64,
    jobs: Option<usize>,
    intents: u32,
    faults: &str,
    check_determinism: bool,
) -> PyResult<Bound<'py, PyDict>> {
    if start >= end {
        return Err(ConfigError::new_err(format!(
            "--seeds: `{start}..{end}` is not A..B with A < B"
        )));
    }
    if intents == 0 || intents > 10_000 {
        return Err(ConfigError::new_err("--intents: must be in 1..=10000"));
    }
    if jobs.is_some_and(|j| j == 0 || j > 256) {
        return Err(ConfigError::new_err("--jobs: must be in 1..=256"));
    }
    let mix = FaultMix::parse(faults).ok_or_else(|| {
        ConfigError::new_err(format!(
            "--faults: `{faults}` is not none, light, rough or swarm"
        ))
    })?;
    let opts = FuzzOptions {
        start,
        end,
        shard_index: 0,
        shard_count: 1,
        intents,
        mix,
        check_determinism,
        mutant: None,
        model: true,
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = jobs {
        pool = pool.num_threads(j);
    }
    let pool = pool
        .build()
        .map_err(|e| ConfigError::new_err(format!("--jobs: {e}")))?;
    let c = py.allow_threads(|| {
        let stop = AtomicBool::new(false);
        pool.install(|| campaign_until(&opts, &stop, || {}))
    });
    let d = PyDict::new(py);
    d.set_item("seeds", c.seeds)?;
    d.set_item("events", c.steps)?;
    d.set_item("checks", c.checks)?;
    let violations = PyList::empty(py);
    if let Some((seed, v)) = &c.failure {
        violations.append(violation(py, v, Some(*seed))?)?;
    }
    d.set_item("violations", violations)?;
    let divergence = c.divergence.as_ref().map(|(seed, at)| (seed, at.as_str()));
    d.set_item("divergence", divergence)?;
    let missing = unreached_edges(&c.edges);
    let reached = c.edges.iter().flatten().filter(|&&n| n > 0).count();
    d.set_item("edges_reached", reached)?;
    d.set_item("edges_missing", missing)?;
    let faults = PyDict::new(py);
    for (k, n) in FAULT_KINDS.iter().zip(c.faults.iter()) {
        faults.set_item(*k, n)?;
    }
    d.set_item("faults", faults)?;
    let coverage = PyDict::new(py);
    for (k, n) in COVERAGE.iter().zip(c.coverage.iter()) {
        coverage.set_item(*k, n)?;
    }
    d.set_item("coverage", coverage)?;
    Ok(d)
}

/// The bytes of `data`, a `bytes` object or a path, and the name errors give it.
fn bytes_or_path(data: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<u8>, String)> {
    if let Ok(b) = data.downcast::<PyBytes>() {
        Ok((b.as_bytes().to_vec(), "<bytes>".into()))
    } else if data.is_instance_of::<PyString>() || data.hasattr("__fspath__")? {
        let p: PathBuf = data.extract()?;
        let b =
            std::fs::read(&p).map_err(|e| AuditError::new_err(format!("{}: {e}", p.display())))?;
        Ok((b, p.display().to_string()))
    } else {
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{what}: expected bytes or a path"
        )))
    }
}

/// Checks an audit log (bytes, or a path) as `order-router check-audit` does: the transition
/// table, completeness and the policy checks a log alone allows. Returns the problems (dicts
/// with `line`, `intent`, `check`, `message`), empty when the log is clean; raises
/// `AuditError` for input that is not an audit log at all.
#[pyfunction]
fn check_audit<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let (bytes, name) = bytes_or_path(data, "check_audit")?;
    let problems = py
        .allow_threads(|| check_stream(bytes.as_slice()))
        .map_err(|e| AuditError::new_err(format!("{name}: {e}")))?
        .problems;
    let out = PyList::empty(py);
    for p in &problems {
        let d = PyDict::new(py);
        d.set_item("line", p.line)?;
        d.set_item("intent", p.intent_id.as_deref())?;
        d.set_item("check", p.kind.check())?;
        d.set_item("message", p.to_string())?;
        out.append(d)?;
    }
    Ok(out)
}

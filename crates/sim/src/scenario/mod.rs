//! Scenario files (docs/scenario-format.md): a CSV replayed by the simulator.
//!
//! ```text
//! t_ms,action,symbol,side,qty,price,params
//! # lines whose first character is '#' are comments; blank lines are skipped
//! 0,config,,,,,max_retries=3;backoff_ms=400;tif=IOC
//! 0,balance,USDT,,10000,,
//! 0,price,BTC/USDT,,,50000,spread_bps=2;depth=0.5
//! 10,intent,BTC/USDT,buy,0.001,50000,id=i1;deliveries=3
//! 10,fault,BTC/USDT,,,,kind=response_lost;count=2
//! 0,expect,,,,,intent=i1;final_state=RECONCILED;orders=1
//! ```
//!
//! Format rules, as [`parse`] applies them:
//!
//! * The first record that is neither a comment nor blank must be exactly the header above. A
//!   UTF-8 byte order mark before it is allowed. Surrounding whitespace of every cell is ignored.
//! * A line whose *first* character is `#` is a comment (the CSV reader's comment character);
//!   a `#` anywhere else is data. Blank lines, and lines whose cells are all blank, are skipped.
//!   Line numbers in errors are the physical 1-based lines of the file, comments included.
//! * Every other record has exactly 7 cells (quote a cell that holds commas).
//! * `params` is `key=value` pairs separated by `;`; empty pieces (a trailing `;`) are ignored;
//!   a repeated key, a key the action does not know, or a piece without `=` is an error.
//! * A column an action does not use must be empty, so that a value in the wrong column is
//!   reported instead of ignored.
//! * Decimals are plain (`0.001`, `-1`, `.5`) or scientific (`1e-3`) and must be exact: a value
//!   with more than 28 fractional digits or beyond the `Decimal` range is an error, never
//!   rounded. Integers are unsigned decimal digits.
//! * `t_ms` is required except on `config` and `expect` rows, which apply before the run and at
//!   quiescence whatever their time.
//!
//! Actions (see [`RowKind`], [`Check`] and the `config` keys in [`CONFIG_KEYS`]):
//!
//! | action | columns | params |
//! | --- | --- | --- |
//! | `config` | `symbol` optional | any of [`CONFIG_KEYS`]; with a symbol only [`MARKET_KEYS`] |
//! | `balance` | `symbol` = asset, `qty` = amount > 0 | none |
//! | `price` | `symbol`, `price` = mid > 0 | `spread_bps` >= 0 (2), `depth` > 0 (1) |
//! | `signal` | `symbol`, `side`, `price` optional reference | `risk_qty` > 0 (required), `guards` = `pass`/`fail`, `id` label |
//! | `intent` | `symbol`, `side`, `qty` > 0, `price` > 0 | `id` (required), `deliveries` >= 1 (1), `gap_ms` (0) |
//! | `fault` | `symbol` optional | `kind` (required), `count` >= 1 (1), `ms` (latency), `ratio` in (0, 1] (partial), `bps` >= 0 (requote) |
//! | `expect` | none | `intent=<id>` with any of `final_state`, `orders`, `filled_qty`; or `asset` and `balance`; or `reserved=0` |
//!
//! Configuration: symbol-less `config` rows apply first, in file order, then those with a symbol,
//! whose market rules start from the defaults as they stand then. `recv_window_ms` sets both the
//! router's and the venue's window; `fee_bps`, `tick_size` and `step_size` set both sides' rules;
//! `venue_min_notional` (default 5) sets the venue's minimum notional and the router's copy of the
//! venue's rules, while `min_notional` is the router's own minimum. The router configuration is
//! validated after all config rows; its error is reported at the last config row.
//! `fee_asset_mode` (`received`, the default, or `bnb`) and `bnb_price` (in each market's quote
//! asset, default 600) say which asset the venue charges commissions in
//! ([`crate::exchange::fees`]).

use std::collections::BTreeSet;
use std::path::Path;

use rust_decimal::Decimal;

use crate::decision::{CancelIntent, Intent};
use crate::exchange::sim::VenueConfig;
use crate::faults::FaultProfile;
use crate::model::{Asset, Interner, Side, Symbol};
use crate::router::{limits, RouterConfig, State};

mod cells;
mod config;
mod csv;
mod placeable;
mod rows;

pub use rows::{Check, CrashMode, Expect, FaultKind, Row, RowKind, Spec};

use cells::{
    decimal_syntax, error, int_in, parse_symbol, show, At, Bound, Cells, ACTION, PRICE, QTY, SIDE,
    SYMBOL, T_MS,
};
use config::{ConfigRow, Setting};
use csv::{check_header, CsvRecords, LineCounter};

/// The header every scenario file starts with.
pub const HEADER: [&str; 7] = ["t_ms", "action", "symbol", "side", "qty", "price", "params"];

/// Keys of a `config` row without a symbol.
pub const CONFIG_KEYS: [&str; 56] = [
    "max_retries",
    "backoff_ms",
    "backoff_max_ms",
    "backoff_jitter_bps",
    "backoff_seed",
    "tif",
    "slippage_bps",
    "min_notional",
    "request_timeout_ms",
    "recv_window_ms",
    "poll_interval_ms",
    "order_timeout_ms",
    "fee_bps",
    "tick_size",
    "step_size",
    "venue_min_notional",
    "latency_ms",
    "dedup",
    "fee_asset_mode",
    "bnb_price",
    "levels",
    "seed",
    "p_request_lost",
    "p_response_lost",
    "p_server_error",
    "p_rate_limited",
    "p_latency",
    "p_reject",
    "p_partial",
    "p_requote",
    "p_trades_repeat",
    "p_trades_foreign",
    "p_trades_split",
    "p_trades_phantom",
    "p_order_foreign",
    "p_rejected_status",
    "p_duplicate_delivery",
    "p_late_delivery",
    "latency_spike_ms",
    "requote_move_bps",
    "p_crash",
    "restart_ms",
    "market",
    "fill_model",
    "order_latency_ms",
    "feed_latency_ms",
    "market_speed",
    "stream",
    "stream_latency_ms",
    "stream_gap_ms",
    "p_stream_lost",
    "p_stream_duplicate",
    "p_stream_drop",
    "p_stream_silence",
    "p_stream_delay",
    "account",
];

/// Keys of a `config` row with a symbol: that market's rules.
pub const MARKET_KEYS: [&str; 4] = ["fee_bps", "tick_size", "step_size", "venue_min_notional"];

/// The actions a row may name.
pub const ACTIONS: [&str; 10] = [
    "config", "balance", "price", "signal", "intent", "cancel", "fault", "calm", "crash", "expect",
];

/// How long a crashed router stays down when no `restart_ms` is configured.
pub const DEFAULT_RESTART_MS: u64 = 1_000;

/// `after` of a `crash` row: at most a million journal appends.
pub const MAX_CRASH_AFTER: u64 = 1_000_000;

/// One-way request latency when no `latency_ms` is configured.
pub const DEFAULT_LATENCY_MS: u64 = 5;

/// Bounds of a scenario's numbers (documented in docs/scenario-format.md); the router's own
/// settings are bounded by [`limits`].
pub const MAX_TIME_MS: u64 = limits::MAX_TIME_MS;
/// `deliveries` of one `intent` row.
pub const MAX_DELIVERIES: u64 = 1_000;
/// `count` of one `fault` row.
pub const MAX_FAULT_COUNT: u64 = 1_000_000;
/// `gap_ms`, a latency fault's `ms`, `latency_spike_ms`: one day.
pub const MAX_WAIT_MS: u64 = limits::MAX_WAIT_MS;
/// `latency_ms`: a minute each way.
pub const MAX_LATENCY_MS: u64 = 60_000;
/// `levels` of a book side.
pub const MAX_LEVELS: u32 = 1_000;

/// A bad scenario file: where, which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct ScenarioError {
    pub file: String,
    /// 1-based physical line; 0 when the file could not be read at all.
    pub line: usize,
    /// A column (`qty`), a params key (`ratio`), a config key, or `header`, `columns`, `file`.
    pub field: String,
    pub message: String,
}

/// A parsed scenario, ready for the simulator.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub router: RouterConfig,
    pub venue: VenueConfig,
    /// One-way request latency, default [`DEFAULT_LATENCY_MS`].
    pub latency_ms: u64,
    /// How long a crashed router stays down, default [`DEFAULT_RESTART_MS`].
    pub restart_ms: u64,
    pub seed: Option<u64>,
    /// Random faults on top of the `fault` rows (`p_<kind>` keys, basis points per request or
    /// delivery); all zero unless configured.
    pub profile: FaultProfile,
    /// The user data stream and its faults (`stream=on`, `p_stream_*`): off by default.
    pub stream: crate::faults::StreamProfile,
    /// Every row except `config` and `expect`, sorted by `t_ms`, stable for equal times.
    pub rows: Vec<Row>,
    /// In file order.
    pub expects: Vec<Expect>,
    /// What [`load`] found suspicious but runs anyway: market rules under which no order of
    /// the scenario can be valid (a scenario may test exactly that refusal, and a minimised
    /// fuzz case often does). The command line prints each as a warning.
    pub warnings: Vec<ScenarioError>,
}

/// The kinds a `fault` row may name: every kind but the bus's own.
const FAULT_KINDS: &[&str] = crate::faults::SCHEDULABLE;

/// Reads and parses a scenario file; see [`parse`]. The file is read a line at a time, so a
/// line beyond [`crate::input::MAX_LINE_BYTES`] is refused before it is held whole.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let fail = |line, message: String| ScenarioError {
        file: file.clone(),
        line,
        field: "file".to_string(),
        message,
    };
    let f = std::fs::File::open(path).map_err(|e| fail(0, format!("cannot read: {e}")))?;
    let mut input = std::io::BufReader::new(f);
    let (mut bytes, mut line, mut n) = (Vec::new(), Vec::new(), 0);
    loop {
        match crate::input::read_line(&mut input, &mut line) {
            Ok(true) => bytes.extend_from_slice(&line),
            Ok(false) => break,
            Err(e) => return Err(fail(n + 1, e.to_string())),
        }
        n += 1;
    }
    read(&file, &bytes, true)
}

/// Parses a scenario from `bytes`; `file` only names it in errors. Never panics. Unlike
/// [`load`], it does not judge whether market rules make every order on a market invalid
/// (generated cases may draw one).
pub fn parse(file: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    read(file, bytes, false)
}

/// [`parse`], and with `placeable` the check that each market's rules let some order of the
/// scenario be valid ([`Builder::check_placeable`]).
fn read(file: &str, bytes: &[u8], placeable: bool) -> Result<Scenario, ScenarioError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = CsvRecords::new(bytes);
    let mut lines = LineCounter::new(bytes);
    let mut builder = Builder::new();
    let mut header_seen = false;
    while let Some(start) = reader.next_record() {
        let record = reader.fields();
        let line = lines.line_at(start as u64);
        let at = At { file, line };
        if record.iter().all(|cell| cell.trim_ascii().is_empty()) {
            continue;
        }
        if !header_seen {
            check_header(at, &record)?;
            header_seen = true;
            continue;
        }
        if record.len() != HEADER.len() {
            return Err(at.err(
                "columns",
                format!("expected {} columns, found {}", HEADER.len(), record.len()),
            ));
        }
        let mut cells: [&str; 7] = [""; 7];
        for (i, raw) in record.iter().enumerate() {
            let text = std::str::from_utf8(raw)
                .map_err(|e| at.err(HEADER[i], format!("invalid UTF-8: {e}")))?;
            cells[i] = text.trim();
        }
        builder.row(at, &cells)?;
    }
    if !header_seen {
        return Err(error(
            file,
            1,
            "header",
            format!("empty file: expected the header {}", HEADER.join(",")),
        ));
    }
    builder.finish(file, placeable)
}

/// What an intent row says beyond its id and time: symbol, side, qty, reference price.
type IntentContent = (Symbol, Side, Decimal, Decimal);

/// Collects rows in file order; config applies at the end.
struct Builder {
    configs: Vec<ConfigRow>,
    last_config_line: Option<usize>,
    rows: Vec<Row>,
    expects: Vec<Expect>,
    /// Signal labels with their lines, and intent row ids: a label must name one intent.
    labels: Vec<(String, usize)>,
    intent_ids: BTreeSet<String>,
    /// The first row of each intent id, and what it said.
    intent_rows: std::collections::BTreeMap<String, (usize, IntentContent)>,
}

impl Scenario {
    /// Shares one allocation per asset and symbol name across rows and market settings, so the
    /// run compares them by pointer.
    fn intern(&mut self) {
        let mut names = Interner::default();
        for row in &mut self.rows {
            match &mut row.kind {
                RowKind::Balance { asset, .. } => *asset = names.asset(asset),
                RowKind::Price { symbol, .. } | RowKind::Signal { symbol, .. } => {
                    *symbol = names.symbol(symbol)
                }
                RowKind::Fault {
                    symbol: Some(symbol),
                    ..
                } => *symbol = names.symbol(symbol),
                RowKind::Intent { intent, spec, .. } => {
                    let symbol = names.symbol(intent.symbol());
                    spec.symbol = symbol.clone();
                    intent.share_symbol(symbol);
                }
                RowKind::Fault { symbol: None, .. }
                | RowKind::Calm
                | RowKind::Crash { .. }
                | RowKind::Cancel { .. } => {}
            }
        }
        for markets in [&mut self.router.markets, &mut self.venue.markets] {
            *markets = std::mem::take(markets)
                .into_iter()
                .map(|(s, r)| (names.symbol(&s), r))
                .collect();
        }
    }
}

impl Builder {
    fn new() -> Builder {
        Builder {
            configs: Vec::new(),
            last_config_line: None,
            rows: Vec::new(),
            expects: Vec::new(),
            labels: Vec::new(),
            intent_ids: BTreeSet::new(),
            intent_rows: std::collections::BTreeMap::new(),
        }
    }

    fn row(&mut self, at: At<'_>, cells: &[&str; 7]) -> Result<(), ScenarioError> {
        let action = cells[ACTION];
        if action.is_empty() {
            return Err(at.err(
                "action",
                format!("missing (expected one of {})", ACTIONS.join(", ")),
            ));
        }
        if !ACTIONS.contains(&action) {
            return Err(at.err(
                "action",
                format!(
                    "unknown action {} (expected one of {})",
                    show(action),
                    ACTIONS.join(", ")
                ),
            ));
        }
        let c = Cells { at, cells, action };
        let t_ms = match c.get(T_MS) {
            Some(text) => Some(int_in(at, "t_ms", text, 0, MAX_TIME_MS)?),
            None if matches!(action, "config" | "expect") => None,
            None => return Err(at.err("t_ms", format!("required for {action}"))),
        };
        let t_ms = t_ms.unwrap_or(0);
        let kind = match action {
            "config" => return self.config(&c),
            "expect" => return self.expect(&c),
            "balance" => {
                c.unused(&[SIDE, PRICE])?;
                let text = c.require(SYMBOL)?;
                let asset = Asset::new(text).map_err(|_| {
                    at.err(
                        "symbol",
                        format!(
                            "{} is not an asset (the symbol column of balance holds one, e.g. USDT)",
                            show(text)
                        ),
                    )
                })?;
                let amount = c.decimal(QTY, Bound::Positive)?;
                c.params(&[])?;
                RowKind::Balance { asset, amount }
            }
            "price" => {
                c.unused(&[SIDE, QTY])?;
                let symbol = c.symbol()?;
                let mid = c.decimal(PRICE, Bound::Positive)?;
                let p = c.params(&["spread_bps", "depth"])?;
                RowKind::Price {
                    symbol,
                    mid,
                    spread_bps: p.decimal("spread_bps", Bound::Bps)?.unwrap_or(Decimal::TWO),
                    depth: p.decimal("depth", Bound::Positive)?.unwrap_or(Decimal::ONE),
                }
            }
            "signal" => {
                c.unused(&[QTY])?;
                let symbol = c.symbol()?;
                let side = c.side()?;
                let ref_price = match c.get(PRICE) {
                    Some(_) => Some(c.decimal(PRICE, Bound::Positive)?),
                    None => None,
                };
                let p = c.params(&["risk_qty", "guards", "id"])?;
                p.require("risk_qty", "signal")?;
                let risk_qty = p
                    .decimal("risk_qty", Bound::Positive)?
                    .unwrap_or(Decimal::ZERO);
                let guards_pass = match p.get("guards")? {
                    None | Some("pass") => true,
                    Some("fail") => false,
                    Some(other) => {
                        return Err(at.err(
                            "guards",
                            format!("{} is neither pass nor fail", show(other)),
                        ))
                    }
                };
                let label = match p.id("id")? {
                    None => None,
                    Some(id) => {
                        let label = id.as_str().to_string();
                        self.claim_label(at, "id", &label)?;
                        Some(label)
                    }
                };
                RowKind::Signal {
                    symbol,
                    side,
                    ref_price,
                    risk_qty,
                    guards_pass,
                    label,
                }
            }
            "intent" => {
                let symbol = c.symbol()?;
                let side = c.side()?;
                let qty = c.decimal(QTY, Bound::Positive)?;
                let price = c.decimal(PRICE, Bound::Positive)?;
                let p = c.params(&["id", "deliveries", "gap_ms"])?;
                p.require("id", "intent")?;
                let Some(id) = p.id("id")? else {
                    return Err(at.err("params", "intent needs id=..."));
                };
                if let Some(&(_, line)) = self.labels.iter().find(|(l, _)| l == id.as_str()) {
                    return Err(at.err(
                        "id",
                        format!(
                            "{} is already a signal's label (line {line})",
                            show(id.as_str())
                        ),
                    ));
                }
                // A repeated id is a redelivery of the same intent: anything else under it is
                // a mistake the router would silently ignore as a duplicate.
                let content = (symbol.clone(), side, qty.normalize(), price.normalize());
                match self.intent_rows.get(id.as_str()) {
                    Some((line, first)) if *first != content => {
                        return Err(at.err(
                            "id",
                            format!(
                                "{} was an intent of {} {} {} at {} on line {line}; a repeated id must repeat the same intent",
                                show(id.as_str()),
                                first.1,
                                first.2,
                                first.0,
                                first.3
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.intent_rows
                            .insert(id.as_str().to_string(), (at.line, content));
                    }
                }
                self.intent_ids.insert(id.as_str().to_string());
                let deliveries = p.int("deliveries", 1, MAX_DELIVERIES)?.unwrap_or(1) as u32;
                let gap_ms = p.int("gap_ms", 0, MAX_WAIT_MS)?.unwrap_or(0);
                let spec = Spec {
                    symbol: symbol.clone(),
                    side,
                    qty: qty.normalize(),
                    ref_price: price.normalize(),
                };
                let intent = Intent::new(id, t_ms, symbol, side, qty, price)
                    .map_err(|e| at.err("qty", e.to_string()))?;
                RowKind::Intent {
                    intent,
                    spec,
                    deliveries,
                    gap_ms,
                }
            }
            "cancel" => {
                c.unused(&[SYMBOL, SIDE, QTY, PRICE])?;
                let p = c.params(&["id", "target", "deliveries", "gap_ms"])?;
                p.require("id", "cancel")?;
                p.require("target", "cancel")?;
                let (Some(id), Some(target)) = (p.id("id")?, p.id("target")?) else {
                    return Err(at.err("params", "cancel needs id=... and target=..."));
                };
                if self.intent_rows.contains_key(id.as_str()) {
                    return Err(at.err(
                        "id",
                        format!("{} is already an intent's id", show(id.as_str())),
                    ));
                }
                self.intent_ids.insert(id.as_str().to_string());
                let deliveries = p.int("deliveries", 1, MAX_DELIVERIES)?.unwrap_or(1) as u32;
                let gap_ms = p.int("gap_ms", 0, MAX_WAIT_MS)?.unwrap_or(0);
                RowKind::Cancel {
                    cancel: CancelIntent::new(id, t_ms, target),
                    deliveries,
                    gap_ms,
                }
            }
            "calm" => {
                c.unused(&[SYMBOL, SIDE, QTY, PRICE])?;
                c.params(&[])?;
                RowKind::Calm
            }
            "crash" => {
                c.unused(&[SYMBOL, SIDE, QTY, PRICE])?;
                let p = c.params(&["after", "mode"])?;
                let after = p.int("after", 0, MAX_CRASH_AFTER)?.unwrap_or(0);
                let mode = match p.get("mode")? {
                    None => CrashMode::Dropped,
                    Some(m) => CrashMode::parse(m).ok_or_else(|| {
                        at.err(
                            "mode",
                            format!("{} is not written, dropped or torn", show(m)),
                        )
                    })?,
                };
                RowKind::Crash { after, mode }
            }
            "fault" => {
                c.unused(&[SIDE, QTY, PRICE])?;
                let symbol = match c.get(SYMBOL) {
                    Some(text) => Some(parse_symbol(at, text)?),
                    None => None,
                };
                let p = c.params(&["kind", "count", "ms", "ratio", "bps"])?;
                let kind_text = p.require("kind", "fault")?;
                let extra = |key: &str, kind: &str| -> Result<(), ScenarioError> {
                    if p.has(key) && kind_text != kind {
                        return Err(
                            at.err("params", format!("{key} is only allowed with kind={kind}"))
                        );
                    }
                    Ok(())
                };
                extra("ms", "latency")?;
                extra("ratio", "partial")?;
                extra("bps", "requote")?;
                let kind = match kind_text {
                    "request_lost" => FaultKind::RequestLost,
                    "response_lost" => FaultKind::ResponseLost,
                    "server_error" => FaultKind::ServerError,
                    "rate_limited" => FaultKind::RateLimited,
                    "reject" => FaultKind::Reject,
                    "trades_repeat" => FaultKind::TradesRepeat,
                    "trades_foreign" => FaultKind::TradesForeign,
                    "trades_split" => FaultKind::TradesSplit,
                    "trades_phantom" => FaultKind::TradesPhantom,
                    "order_foreign" => FaultKind::OrderForeign,
                    "rejected_status" => FaultKind::RejectedStatus,
                    "latency" => {
                        p.require("ms", "kind=latency")?;
                        FaultKind::Latency {
                            ms: p.int("ms", 0, MAX_WAIT_MS)?.unwrap_or(0),
                        }
                    }
                    "partial" => {
                        p.require("ratio", "kind=partial")?;
                        FaultKind::Partial {
                            ratio: p.decimal("ratio", Bound::Ratio)?.unwrap_or(Decimal::ONE),
                        }
                    }
                    "requote" => {
                        p.require("bps", "kind=requote")?;
                        FaultKind::Requote {
                            bps: p.decimal("bps", Bound::Bps)?.unwrap_or(Decimal::ZERO),
                        }
                    }
                    other => {
                        return Err(at.err(
                            "kind",
                            format!(
                                "unknown fault kind {} (expected one of {})",
                                show(other),
                                FAULT_KINDS.join(", ")
                            ),
                        ))
                    }
                };
                let count = p.int("count", 1, MAX_FAULT_COUNT)?.unwrap_or(1) as u32;
                RowKind::Fault {
                    symbol,
                    kind,
                    count,
                }
            }
            // ACTIONS was checked above; keep the error rather than a panic.
            other => return Err(at.err("action", format!("unknown action {}", show(other)))),
        };
        self.rows.push(Row {
            line: at.line,
            t_ms,
            kind,
        });
        Ok(())
    }

    /// Labels name one intent each: unique among signals and distinct from intent row ids.
    fn claim_label(&mut self, at: At<'_>, field: &str, label: &str) -> Result<(), ScenarioError> {
        if let Some(&(_, line)) = self.labels.iter().find(|(l, _)| l == label) {
            return Err(at.err(
                field,
                format!("label {} is already used on line {line}", show(label)),
            ));
        }
        if self.intent_ids.contains(label) {
            return Err(at.err(
                field,
                format!("label {} is already an intent row's id", show(label)),
            ));
        }
        self.labels.push((label.to_string(), at.line));
        Ok(())
    }

    fn config(&mut self, c: &Cells<'_>) -> Result<(), ScenarioError> {
        c.unused(&[SIDE, QTY, PRICE])?;
        let symbol = match c.get(SYMBOL) {
            Some(text) => Some(parse_symbol(c.at, text)?),
            None => None,
        };
        let p = c.params(&CONFIG_KEYS)?;
        let mut settings = Vec::with_capacity(p.entries.len());
        for &(key, value) in &p.entries {
            if symbol.is_some() && !MARKET_KEYS.contains(&key) {
                return Err(c.at.err(
                    "params",
                    format!(
                        "key {} is not allowed in a config row with a symbol (expected one of {})",
                        show(key),
                        MARKET_KEYS.join(", ")
                    ),
                ));
            }
            if value.is_empty() {
                return Err(c.at.err(key, "missing value after ="));
            }
            settings.push(Setting::parse(c.at, key, value)?);
        }
        self.configs.push(ConfigRow {
            line: c.at.line,
            symbol,
            settings,
        });
        self.last_config_line = Some(c.at.line);
        Ok(())
    }

    fn expect(&mut self, c: &Cells<'_>) -> Result<(), ScenarioError> {
        c.unused(&[SYMBOL, SIDE, QTY, PRICE])?;
        let at = c.at;
        let p = c.params(&[
            "intent",
            "final_state",
            "orders",
            "filled_qty",
            "asset",
            "balance",
            "reserved",
        ])?;
        let (lead, allowed): (&str, &[&str]) = if p.has("intent") {
            ("intent", &["intent", "final_state", "orders", "filled_qty"])
        } else if p.has("asset") {
            ("asset", &["asset", "balance"])
        } else if p.has("balance") {
            ("balance", &["asset", "balance"])
        } else if p.has("reserved") {
            ("reserved", &["reserved"])
        } else {
            return Err(at.err(
                "params",
                "expect needs intent=<id> (with final_state, orders or filled_qty), \
                 asset=<asset>;balance=<decimal>, or reserved=0",
            ));
        };
        if let Some(&(key, _)) = p.entries.iter().find(|(k, _)| !allowed.contains(k)) {
            return Err(at.err(
                "params",
                format!("{key} cannot be combined with {lead} in an expect row"),
            ));
        }
        let check = match lead {
            "intent" => {
                let id = p.id("intent")?.map(|id| id.as_str().to_string());
                let final_state = match p.get("final_state")? {
                    None => None,
                    Some(text) => Some(State::parse(text).ok_or_else(|| {
                        let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
                        at.err(
                            "final_state",
                            format!(
                                "unknown state {} (expected one of {})",
                                show(text),
                                names.join(", ")
                            ),
                        )
                    })?),
                };
                let orders = p.int32("orders", 0)?;
                let filled_qty = p.decimal("filled_qty", Bound::NonNegative)?;
                if final_state.is_none() && orders.is_none() && filled_qty.is_none() {
                    return Err(at.err(
                        "params",
                        "expect intent=<id> needs at least one of final_state, orders, filled_qty",
                    ));
                }
                Check::Intent {
                    id: id.unwrap_or_default(),
                    final_state,
                    orders,
                    filled_qty,
                }
            }
            "asset" | "balance" => {
                let asset_text = p.require("asset", "expect balance=...")?;
                let asset = Asset::new(asset_text).map_err(|_| {
                    at.err("asset", format!("{} is not an asset", show(asset_text)))
                })?;
                p.require("balance", "expect asset=...")?;
                let balance = p
                    .decimal("balance", Bound::NonNegative)?
                    .unwrap_or(Decimal::ZERO);
                Check::Balance { asset, balance }
            }
            _ => {
                let text = p.require("reserved", "expect")?;
                let zero = decimal_syntax(text)
                    && Decimal::from_str_exact(text).is_ok_and(|d| d.is_zero());
                if !zero {
                    return Err(at.err(
                        "reserved",
                        format!("{} is not 0 (only reserved=0 can be checked)", show(text)),
                    ));
                }
                Check::ReservedZero
            }
        };
        self.expects.push(Expect {
            line: at.line,
            check,
        });
        Ok(())
    }

    fn finish(self, file: &str, placeable: bool) -> Result<Scenario, ScenarioError> {
        let mut router = RouterConfig::default();
        // The venue's default minimum notional, which the router knows as one of its filters.
        router.default_rules.min_notional = Decimal::from(5);
        let venue = VenueConfig {
            default_rules: router.default_rules,
            recv_window_ms: router.recv_window_ms,
            ..VenueConfig::default()
        };
        let mut s = Scenario {
            router,
            venue,
            latency_ms: DEFAULT_LATENCY_MS,
            restart_ms: DEFAULT_RESTART_MS,
            profile: FaultProfile::default(),
            stream: crate::faults::StreamProfile::default(),
            seed: None,
            rows: self.rows,
            expects: self.expects,
            warnings: Vec::new(),
        };
        for cfg in self.configs.iter().filter(|c| c.symbol.is_none()) {
            for &setting in &cfg.settings {
                setting.apply(&mut s);
            }
        }
        for cfg in &self.configs {
            let Some(symbol) = &cfg.symbol else { continue };
            let router_rules = s
                .router
                .markets
                .entry(symbol.clone())
                .or_insert(s.router.default_rules);
            for &setting in &cfg.settings {
                setting.apply_rules(router_rules);
            }
            let venue_rules = s
                .venue
                .markets
                .entry(symbol.clone())
                .or_insert(s.venue.default_rules);
            for &setting in &cfg.settings {
                setting.apply_rules(venue_rules);
            }
        }
        s.router
            .validate()
            .map_err(|e| error(file, self.last_config_line.unwrap_or(0), e.field, e.message))?;
        if placeable {
            if let Err(w) = Self::check_placeable(&self.configs, file, &s) {
                s.warnings.push(w);
            }
        }
        let fresh = self
            .configs
            .iter()
            .rev()
            .flat_map(|c| c.settings.iter())
            .find_map(|s| match s {
                Setting::FreshAccount(f) => Some(*f),
                _ => None,
            });
        if fresh == Some(true) {
            s.make_account_fresh();
        }
        s.rows.sort_by_key(|r| r.t_ms);
        s.intern();
        Ok(s)
    }
}

impl Scenario {
    /// Makes the account a fresh exchange account's: every `balance` row of an asset some
    /// market sells (a base asset) is dropped, so only the quote currency is left (and assets
    /// no market trades, such as BNB kept for fees). A bot that
    /// sells twice then gets refused for its balance (`-2010`) instead of quietly selling
    /// a cushion it never bought.
    pub fn make_account_fresh(&mut self) {
        let bases: Vec<crate::model::Asset> = self
            .symbols()
            .into_iter()
            .chain(self.venue.markets.keys())
            .map(|s| s.base().clone())
            .collect();
        self.rows.retain(|r| match &r.kind {
            RowKind::Balance { asset, .. } => !bases.contains(asset),
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests;

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

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use rust_decimal::Decimal;

use crate::decision::Intent;
use crate::exchange::sim::{Dedup, VenueConfig};
use crate::model::{Asset, IntentId, Interner, Side, Symbol, Tif, TimeMs};
use crate::router::{limits, MarketRules, RouterConfig, State};
use crate::sim::faults::FaultProfile;

/// The header every scenario file starts with.
pub const HEADER: [&str; 7] = ["t_ms", "action", "symbol", "side", "qty", "price", "params"];

/// Keys of a `config` row without a symbol.
pub const CONFIG_KEYS: [&str; 33] = [
    "max_retries",
    "backoff_ms",
    "backoff_max_ms",
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
    "p_duplicate_delivery",
    "p_late_delivery",
    "latency_spike_ms",
    "requote_move_bps",
];

/// Keys of a `config` row with a symbol: that market's rules.
pub const MARKET_KEYS: [&str; 4] = ["fee_bps", "tick_size", "step_size", "venue_min_notional"];

/// The actions a row may name.
pub const ACTIONS: [&str; 8] = [
    "config", "balance", "price", "signal", "intent", "fault", "calm", "expect",
];

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
    pub seed: Option<u64>,
    /// Random faults on top of the `fault` rows (`p_<kind>` keys, basis points per request or
    /// delivery); all zero unless configured.
    pub profile: FaultProfile,
    /// Every row except `config` and `expect`, sorted by `t_ms`, stable for equal times.
    pub rows: Vec<Row>,
    /// In file order.
    pub expects: Vec<Expect>,
}

/// A timed row of the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The physical line it was read from.
    pub line: usize,
    pub t_ms: TimeMs,
    pub kind: RowKind,
}

/// What a timed row does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    /// A starting balance of `asset`.
    Balance { asset: Asset, amount: Decimal },
    /// The market's mid price from now on; `spread_bps` default 2, `depth` (qty per price level)
    /// default 1.
    Price {
        symbol: Symbol,
        mid: Decimal,
        spread_bps: Decimal,
        depth: Decimal,
    },
    /// A decision input for the assembler. Without `ref_price` the simulator uses the market mid
    /// at that time. `label` names the resulting intent in `expect` rows.
    Signal {
        symbol: Symbol,
        side: Side,
        ref_price: Option<Decimal>,
        risk_qty: Decimal,
        guards_pass: bool,
        label: Option<String>,
    },
    /// An intent delivered `deliveries` times (default 1), `gap_ms` apart (default 0). `spec`
    /// is what the row said, kept apart from the `Intent` under test for the checks.
    Intent {
        intent: Intent,
        spec: Spec,
        deliveries: u32,
        gap_ms: u64,
    },
    /// The next `count` requests (default 1) that `kind` can affect, on `symbol` or any market.
    Fault {
        symbol: Option<Symbol>,
        kind: FaultKind,
        count: u32,
    },
    /// The calm phase begins: no more faults, scheduled or random. Intents first delivered from
    /// now on must execute (the `liveness` check).
    Calm,
}

/// What a scenario says an intent is: symbol, side, quantity and reference price, as written
/// (normalised). The invariants judge the router by this, not by the `Intent` it was handed,
/// so a bug in the intent type itself cannot hide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub ref_price: Decimal,
}

/// An injected exchange fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The request never reaches the exchange.
    RequestLost,
    /// Executed, but the reply is lost: ambiguous.
    ResponseLost,
    /// Status unknown: ambiguous.
    ServerError,
    RateLimited,
    /// The request takes `ms` longer.
    Latency {
        ms: u64,
    },
    /// Placements only: refused.
    Reject,
    /// Placements only: `ratio` of the order's qty fills, the rest expires.
    Partial {
        ratio: Decimal,
    },
    /// Placements only: the market moves `bps` against the order before it matches, and stays.
    Requote {
        bps: Decimal,
    },
    /// Trade queries only: the answer holds one of the order's trades twice.
    TradesRepeat,
    /// Trade queries only: the answer also holds a trade of another order.
    TradesForeign,
    /// Trade queries only: the answer holds only the first part of the order's trades (the rest
    /// is not visible yet); the next answer holds them all.
    TradesSplit,
}

impl FaultKind {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::RequestLost => "request_lost",
            FaultKind::ResponseLost => "response_lost",
            FaultKind::ServerError => "server_error",
            FaultKind::RateLimited => "rate_limited",
            FaultKind::Latency { .. } => "latency",
            FaultKind::Reject => "reject",
            FaultKind::Partial { .. } => "partial",
            FaultKind::Requote { .. } => "requote",
            FaultKind::TradesRepeat => "trades_repeat",
            FaultKind::TradesForeign => "trades_foreign",
            FaultKind::TradesSplit => "trades_split",
        }
    }

    /// Whether only order placements can suffer it.
    pub fn placements_only(&self) -> bool {
        matches!(
            self,
            FaultKind::Reject | FaultKind::Partial { .. } | FaultKind::Requote { .. }
        )
    }
}

/// The kinds a `fault` row may name: every kind but the bus's own.
const FAULT_KINDS: &[&str] = crate::sim::faults::SCHEDULABLE;

/// An expectation checked at quiescence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub line: usize,
    pub check: Check,
}

/// What an `expect` row checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `id` is an intent row's id, a signal's label, or an assembled intent's id. At least one
    /// of the three checks is given.
    Intent {
        id: String,
        final_state: Option<State>,
        orders: Option<u32>,
        filled_qty: Option<Decimal>,
    },
    /// The portfolio's balance of `asset`.
    Balance { asset: Asset, balance: Decimal },
    /// No reservation is left.
    ReservedZero,
}

/// Reads and parses a scenario file; see [`parse`].
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => parse(&file, &bytes),
        Err(e) => Err(ScenarioError {
            file,
            line: 0,
            field: "file".to_string(),
            message: format!("cannot read: {e}"),
        }),
    }
}

/// Parses a scenario from `bytes`; `file` only names it in errors. Never panics.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let mut lines = LineCounter::new(bytes);
    let mut builder = Builder::new();
    let mut header_seen = false;
    let mut record = csv::ByteRecord::new();
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| {
            let line = e.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
            error(file, line, "columns", format!("unreadable CSV: {e}"))
        })?;
        if !more {
            break;
        }
        let start = record.position().map(|p| p.byte()).unwrap_or(0);
        let line = lines.line_at(start);
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
    builder.finish(file)
}

fn error(file: &str, line: usize, field: &str, message: String) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message,
    }
}

/// Where a record is: the context of its errors.
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'a str,
    line: usize,
}

impl At<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        error(self.file, self.line, field, message.into())
    }
}

/// Physical line numbers of byte offsets.
///
/// The CSV reader positions a record where the previous one ended, before the blank and comment
/// lines it skips, so its own line number can be too small. This skips them the same way (at the
/// start of a record: line terminators are discarded and `#` discards up to the next `\n`) and
/// counts the `\n`s before the record's first byte.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first byte of the record the reader positioned at `start`. Offsets
    /// must not decrease between calls (smaller ones count from the last).
    fn line_at(&mut self, start: u64) -> usize {
        let mut at = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        loop {
            match self.bytes.get(at) {
                Some(b'\r' | b'\n') => at += 1,
                Some(b'#') => {
                    at = match self.bytes[at..].iter().position(|&b| b == b'\n') {
                        Some(nl) => at + nl + 1,
                        None => self.bytes.len(),
                    }
                }
                _ => break,
            }
        }
        if at > self.offset {
            let newlines = self.bytes[self.offset..at]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines;
            self.offset = at;
        }
        self.line
    }
}

fn check_header(at: At<'_>, record: &csv::ByteRecord) -> Result<(), ScenarioError> {
    let cells: Vec<String> = record
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_string())
        .collect();
    if cells.iter().map(String::as_str).eq(HEADER) {
        return Ok(());
    }
    Err(at.err(
        "header",
        format!(
            "expected {}, found {}",
            HEADER.join(","),
            show(&cells.join(","))
        ),
    ))
}

/// A cell's text for a message: quoted, escaped and cut to a readable length.
fn show(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut:?}...")
    } else {
        format!("{text:?}")
    }
}

const T_MS: usize = 0;
const ACTION: usize = 1;
const SYMBOL: usize = 2;
const SIDE: usize = 3;
const QTY: usize = 4;
const PRICE: usize = 5;
const PARAMS: usize = 6;

/// One record's trimmed cells and their location.
struct Cells<'a> {
    at: At<'a>,
    cells: &'a [&'a str; 7],
    action: &'a str,
}

impl<'a> Cells<'a> {
    fn get(&self, col: usize) -> Option<&'a str> {
        let c: &'a str = self.cells[col];
        (!c.is_empty()).then_some(c)
    }

    fn require(&self, col: usize) -> Result<&'a str, ScenarioError> {
        self.get(col).ok_or_else(|| {
            self.at
                .err(HEADER[col], format!("required for {}", self.action))
        })
    }

    fn unused(&self, cols: &[usize]) -> Result<(), ScenarioError> {
        for &col in cols {
            if let Some(c) = self.get(col) {
                return Err(self.at.err(
                    HEADER[col],
                    format!("must be empty for {} (found {})", self.action, show(c)),
                ));
            }
        }
        Ok(())
    }

    fn symbol(&self) -> Result<Symbol, ScenarioError> {
        let text = self.require(SYMBOL)?;
        parse_symbol(self.at, text)
    }

    fn side(&self) -> Result<Side, ScenarioError> {
        let text = self.require(SIDE)?;
        Side::parse(text).map_err(|_| {
            self.at
                .err("side", format!("{} is neither buy nor sell", show(text)))
        })
    }

    fn decimal(&self, col: usize, bound: Bound) -> Result<Decimal, ScenarioError> {
        let text = self.require(col)?;
        decimal_in(self.at, HEADER[col], text, bound)
    }

    fn params(&self, allowed: &[&str]) -> Result<Params<'a>, ScenarioError> {
        Params::parse(self.at, self.cells[PARAMS], self.action, allowed)
    }
}

fn parse_symbol(at: At<'_>, text: &str) -> Result<Symbol, ScenarioError> {
    let symbol = Symbol::parse(text).map_err(|_| {
        at.err(
            "symbol",
            format!(
                "{} is not a market BASE/QUOTE of two different assets of [A-Z0-9._:-]",
                show(text)
            ),
        )
    })?;
    // Venues list markets in upper case; `btc/usdt` would be a market of its own here.
    if text.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(at.err(
            "symbol",
            format!(
                "{} must be upper case, as venues list it: {}",
                show(text),
                text.to_ascii_uppercase()
            ),
        ));
    }
    Ok(symbol)
}

/// The `key=value` pairs of a params cell, keys checked against the action's.
struct Params<'a> {
    at: At<'a>,
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> Params<'a> {
    fn parse(
        at: At<'a>,
        text: &'a str,
        action: &str,
        allowed: &[&str],
    ) -> Result<Params<'a>, ScenarioError> {
        let mut entries: Vec<(&'a str, &'a str)> = Vec::new();
        for piece in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = piece.split_once('=') else {
                return Err(at.err("params", format!("{} is not key=value", show(piece))));
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(at.err("params", format!("{} has no key", show(piece))));
            }
            if !allowed.contains(&key) {
                let message = if allowed.is_empty() {
                    format!(
                        "unknown key {} for {action} (it takes no params)",
                        show(key)
                    )
                } else {
                    format!(
                        "unknown key {} for {action} (expected one of {})",
                        show(key),
                        allowed.join(", ")
                    )
                };
                return Err(at.err("params", message));
            }
            if entries.iter().any(|&(k, _)| k == key) {
                return Err(at.err("params", format!("duplicate key {}", show(key))));
            }
            entries.push((key, value));
        }
        Ok(Params { at, entries })
    }

    fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|&(k, _)| k == key)
    }

    /// The value of `key` when given; an empty value is an error.
    fn get(&self, key: &str) -> Result<Option<&'a str>, ScenarioError> {
        match self.entries.iter().find(|&&(k, _)| k == key) {
            None => Ok(None),
            Some((_, "")) => Err(self.at.err(key, "missing value after =")),
            Some(&(_, v)) => Ok(Some(v)),
        }
    }

    fn require(&self, key: &str, what: &str) -> Result<&'a str, ScenarioError> {
        self.get(key)?
            .ok_or_else(|| self.at.err("params", format!("{what} needs {key}=...")))
    }

    fn decimal(&self, key: &str, bound: Bound) -> Result<Option<Decimal>, ScenarioError> {
        match self.get(key)? {
            None => Ok(None),
            Some(text) => decimal_in(self.at, key, text, bound).map(Some),
        }
    }

    fn int(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ScenarioError> {
        match self.get(key)? {
            None => Ok(None),
            Some(text) => int_in(self.at, key, text, min, max).map(Some),
        }
    }

    fn int32(&self, key: &str, min: u32) -> Result<Option<u32>, ScenarioError> {
        match self.int(key, u64::from(min), u64::from(u32::MAX))? {
            None => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| self.at.err(key, format!("{v} is too large"))),
        }
    }

    /// A valid identifier (intent id, label).
    fn id(&self, key: &str) -> Result<Option<IntentId>, ScenarioError> {
        match self.get(key)? {
            None => Ok(None),
            Some(text) => IntentId::new(text).map(Some).map_err(|_| {
                self.at.err(
                    key,
                    format!(
                        "{} is not a valid id (1 to 128 characters of [A-Za-z0-9._:/-])",
                        show(text)
                    ),
                )
            }),
        }
    }
}

/// What an intent row says beyond its id and time: symbol, side, qty, reference price.
type IntentContent = (Symbol, Side, Decimal, Decimal);

/// What a decimal value must satisfy. Every one is also at most [`limits::MAX_AMOUNT`].
#[derive(Clone, Copy)]
enum Bound {
    Positive,
    NonNegative,
    /// In (0, 1].
    Ratio,
    /// Basis points in [0, 10000).
    Bps,
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bound::Positive => "a positive decimal",
            Bound::NonNegative => "a non-negative decimal",
            Bound::Ratio => "a decimal in (0, 1]",
            Bound::Bps => "a decimal in [0, 10000) (basis points)",
        })
    }
}

fn decimal_in(at: At<'_>, field: &str, text: &str, bound: Bound) -> Result<Decimal, ScenarioError> {
    if text.is_empty() {
        return Err(at.err(field, format!("missing value, expected {bound}")));
    }
    if !decimal_syntax(text) {
        return Err(at.err(
            field,
            format!("{} is not a decimal number (expected {bound})", show(text)),
        ));
    }
    let parsed = match text.split_once(['e', 'E']) {
        // from_scientific rounds an over-long mantissa; check it is exact first.
        Some((mantissa, _)) => {
            Decimal::from_str_exact(mantissa).and_then(|_| Decimal::from_scientific(text))
        }
        None => Decimal::from_str_exact(text),
    };
    let value = parsed.map_err(|_| {
        at.err(
            field,
            format!(
                "{} is out of the decimal range (at most 28 fractional digits, magnitude below 7.9e28)",
                show(text)
            ),
        )
    })?;
    let ok = match bound {
        Bound::Positive => value > Decimal::ZERO,
        Bound::NonNegative => value >= Decimal::ZERO,
        Bound::Ratio => value > Decimal::ZERO && value <= Decimal::ONE,
        Bound::Bps => value >= Decimal::ZERO && value < limits::MAX_BPS,
    };
    if value > limits::MAX_AMOUNT {
        return Err(at.err(
            field,
            format!(
                "{} is too large (at most {})",
                show(text),
                limits::MAX_AMOUNT
            ),
        ));
    }
    if ok {
        Ok(value)
    } else {
        Err(at.err(field, format!("{} must be {bound}", show(text))))
    }
}

/// `[+-]digits[.digits][(e|E)[+-]digits]`, with at least one mantissa digit (`.5`, `5.` too).
/// Rules out `NaN`, `inf`, `1_000` and other spellings `Decimal`'s parsers would take.
fn decimal_syntax(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn int_in(at: At<'_>, field: &str, text: &str, min: u64, max: u64) -> Result<u64, ScenarioError> {
    if text.is_empty() {
        return Err(at.err(field, "missing value, expected a whole number"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(at.err(
            field,
            format!("{} is not a whole number (digits only)", show(text)),
        ));
    }
    let value = text
        .parse::<u64>()
        .ok()
        .filter(|&v| v <= max)
        .ok_or_else(|| {
            at.err(
                field,
                format!("{} is too large (at most {max})", show(text)),
            )
        })?;
    if value < min {
        return Err(at.err(field, format!("{} must be at least {min}", show(text))));
    }
    Ok(value)
}

/// One `config` key's value, parsed where it was written and applied after all rows.
#[derive(Clone, Copy)]
enum Setting {
    MaxRetries(u32),
    BackoffMs(u64),
    BackoffMaxMs(u64),
    Tif(Tif),
    SlippageBps(Decimal),
    MinNotional(Decimal),
    RequestTimeoutMs(u64),
    RecvWindowMs(u64),
    PollIntervalMs(u64),
    OrderTimeoutMs(u64),
    FeeBps(Decimal),
    TickSize(Decimal),
    StepSize(Decimal),
    VenueMinNotional(Decimal),
    LatencyMs(u64),
    DedupAlways(bool),
    Levels(u32),
    Seed(u64),
    /// A `p_<kind>` probability (bps) or a drawn fault's size.
    Profile(&'static str, u64),
}

impl Setting {
    fn parse(at: At<'_>, key: &str, value: &str) -> Result<Setting, ScenarioError> {
        let u64_ = |min, max| int_in(at, key, value, min, max);
        let u32_ = |min, max: u32| {
            int_in(at, key, value, min, u64::from(max)).map(|v| u32::try_from(v).unwrap_or(max))
        };
        let dec = |bound| decimal_in(at, key, value, bound);
        Ok(match key {
            "max_retries" => Setting::MaxRetries(u32_(0, limits::MAX_RETRIES)?),
            "backoff_ms" => Setting::BackoffMs(u64_(0, MAX_WAIT_MS)?),
            "backoff_max_ms" => Setting::BackoffMaxMs(u64_(0, MAX_WAIT_MS)?),
            "tif" => Setting::Tif(
                Tif::parse(value)
                    .map_err(|_| at.err(key, format!("{} is neither IOC nor GTC", show(value))))?,
            ),
            "slippage_bps" => Setting::SlippageBps(dec(Bound::Bps)?),
            "min_notional" => Setting::MinNotional(dec(Bound::NonNegative)?),
            "request_timeout_ms" => Setting::RequestTimeoutMs(u64_(1, MAX_WAIT_MS)?),
            "recv_window_ms" => Setting::RecvWindowMs(u64_(0, limits::MAX_RECV_WINDOW_MS)?),
            "poll_interval_ms" => Setting::PollIntervalMs(u64_(1, MAX_WAIT_MS)?),
            "order_timeout_ms" => Setting::OrderTimeoutMs(u64_(0, limits::MAX_ORDER_TIMEOUT_MS)?),
            "fee_bps" => Setting::FeeBps(dec(Bound::Bps)?),
            "tick_size" => Setting::TickSize(dec(Bound::Positive)?),
            "step_size" => Setting::StepSize(dec(Bound::Positive)?),
            "venue_min_notional" => Setting::VenueMinNotional(dec(Bound::NonNegative)?),
            "latency_ms" => Setting::LatencyMs(u64_(0, MAX_LATENCY_MS)?),
            "dedup" => Setting::DedupAlways(match value {
                "open_only" => false,
                "always" => true,
                _ => {
                    return Err(at.err(
                        key,
                        format!("{} is neither open_only nor always", show(value)),
                    ))
                }
            }),
            "levels" => Setting::Levels(u32_(1, MAX_LEVELS)?),
            "seed" => Setting::Seed(u64_(0, u64::MAX)?),
            "latency_spike_ms" => Setting::Profile("latency_spike_ms", u64_(0, MAX_WAIT_MS)?),
            "requote_move_bps" => {
                Setting::Profile("requote_move_bps", int_in(at, key, value, 0, 10_000)?)
            }
            k if k.starts_with("p_") => {
                let name = CONFIG_KEYS
                    .iter()
                    .find(|c| **c == k)
                    .copied()
                    .unwrap_or("p_");
                Setting::Profile(name, int_in(at, key, value, 0, 10_000)?)
            }
            // Params::parse only lets CONFIG_KEYS through.
            _ => return Err(at.err("params", format!("unknown key {} for config", show(key)))),
        })
    }

    /// Applies a symbol-less setting.
    fn apply(self, s: &mut Scenario) {
        let r = &mut s.router;
        match self {
            Setting::MaxRetries(v) => r.max_retries = v,
            Setting::BackoffMs(v) => r.backoff_ms = v,
            Setting::BackoffMaxMs(v) => r.backoff_max_ms = v,
            Setting::Tif(v) => r.tif = v,
            Setting::SlippageBps(v) => r.slippage_bps = v,
            Setting::MinNotional(v) => r.min_notional = v,
            Setting::RequestTimeoutMs(v) => r.request_timeout_ms = v,
            Setting::RecvWindowMs(v) => {
                r.recv_window_ms = v;
                s.venue.recv_window_ms = v;
            }
            Setting::PollIntervalMs(v) => r.poll_interval_ms = v,
            Setting::OrderTimeoutMs(v) => r.order_timeout_ms = v,
            Setting::FeeBps(_)
            | Setting::TickSize(_)
            | Setting::StepSize(_)
            | Setting::VenueMinNotional(_) => {
                self.apply_rules(&mut r.default_rules);
                self.apply_rules(&mut s.venue.default_rules);
            }
            Setting::LatencyMs(v) => s.latency_ms = v,
            Setting::DedupAlways(always) => {
                s.venue.dedup = if always {
                    Dedup::Always
                } else {
                    Dedup::OpenOnly
                }
            }
            Setting::Levels(v) => s.venue.levels = v,
            Setting::Seed(v) => s.seed = Some(v),
            Setting::Profile(key, v) => {
                let p = &mut s.profile;
                let bps = u32::try_from(v).unwrap_or(10_000);
                match key {
                    "p_request_lost" => p.request_lost_bps = bps,
                    "p_response_lost" => p.response_lost_bps = bps,
                    "p_server_error" => p.server_error_bps = bps,
                    "p_rate_limited" => p.rate_limited_bps = bps,
                    "p_latency" => p.latency_bps = bps,
                    "p_reject" => p.reject_bps = bps,
                    "p_partial" => p.partial_bps = bps,
                    "p_requote" => p.requote_bps = bps,
                    "p_trades_repeat" => p.trades_repeat_bps = bps,
                    "p_trades_foreign" => p.trades_foreign_bps = bps,
                    "p_trades_split" => p.trades_split_bps = bps,
                    "p_duplicate_delivery" => p.duplicate_delivery_bps = bps,
                    "p_late_delivery" => p.late_delivery_bps = bps,
                    "latency_spike_ms" => p.latency_spike_ms = v,
                    "requote_move_bps" => p.requote_move_bps = bps,
                    _ => {}
                }
            }
        }
    }

    /// Applies a market-rules setting to one side's rules; other settings do nothing.
    fn apply_rules(self, rules: &mut MarketRules) {
        match self {
            Setting::FeeBps(v) => rules.fee_bps = v,
            Setting::TickSize(v) => rules.tick_size = v,
            Setting::StepSize(v) => rules.step_size = v,
            Setting::VenueMinNotional(v) => rules.min_notional = v,
            _ => {}
        }
    }
}

struct ConfigRow {
    symbol: Option<Symbol>,
    settings: Vec<Setting>,
}

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
                RowKind::Fault { symbol: None, .. } | RowKind::Calm => {}
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
            "calm" => {
                c.unused(&[SYMBOL, SIDE, QTY, PRICE])?;
                c.params(&[])?;
                RowKind::Calm
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
        self.configs.push(ConfigRow { symbol, settings });
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

    fn finish(self, file: &str) -> Result<Scenario, ScenarioError> {
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
            profile: FaultProfile::default(),
            seed: None,
            rows: self.rows,
            expects: self.expects,
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
        s.rows.sort_by_key(|r| r.t_ms);
        s.intern();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    /// Every action and every key, in an order that needs sorting.
    const FULL: &str = "\u{feff}t_ms,action,symbol,side,qty,price,params
# a comment: line 2
0,config,,,,,max_retries=5;backoff_ms=100;backoff_max_ms=900;tif=GTC;slippage_bps=30
0,config,,,,,min_notional=7;request_timeout_ms=1500;recv_window_ms=3000;poll_interval_ms=250
, config , ETH/USDT ,,,, fee_bps = 7 ; tick_size=0.1 ;
99,config,,,,,order_timeout_ms=20000;fee_bps=8;tick_size=0.05;step_size=0.001;venue_min_notional=10
0,config,,,,,latency_ms=12;dedup=always;levels=4;seed=42;

0,balance,USDT,,10000,,
0,price,BTC/USDT,,,50000,spread_bps=3;depth=0.5
20,intent,BTC/USDT,buy,0.0010,50000.00,id=i1;deliveries=3;gap_ms=7
10,signal,BTC/USDT,sell,,,risk_qty=0.002;guards=fail;id=s1
10,signal,ETH/USDT,BUY,,3000,risk_qty=1e-2
5,fault,BTC/USDT,,,,kind=response_lost;count=2
5,fault,,,,,kind=request_lost
5,fault,,,,,kind=server_error
5,fault,,,,,kind=rate_limited
5,fault,,,,,kind=latency;ms=250
5,fault,,,,,kind=reject
5,fault,,,,,kind=partial;ratio=0.25
5,fault,,,,,kind=requote;bps=15
0,price,ETH/USDT,,,3000,
,expect,,,,,intent=i1;final_state=RECONCILED;orders=1;filled_qty=0.001
0,expect,,,,,intent=s1;final_state=FAILED
0,expect,,,,,asset=USDT;balance=9949.95
0,expect,,,,,reserved=0
0,config,BTC/USDT,,,,venue_min_notional=6
";

    fn full() -> Scenario {
        parse("full.csv", FULL.as_bytes()).unwrap()
    }

    #[test]
    fn full_scenario_parses_to_the_expected_values() {
        let s = full();
        let r = &s.router;
        assert_eq!(r.max_retries, 5);
        assert_eq!(r.backoff_ms, 100);
        assert_eq!(r.backoff_max_ms, 900);
        assert_eq!(r.tif, Tif::Gtc);
        assert_eq!(r.slippage_bps, dec("30"));
        assert_eq!(r.min_notional, dec("7"));
        assert_eq!(r.request_timeout_ms, 1500);
        assert_eq!(r.poll_interval_ms, 250);
        assert_eq!(r.order_timeout_ms, 20000);
        assert_eq!(s.latency_ms, 12);
        assert_eq!(s.seed, Some(42));
        assert!(matches!(s.venue.dedup, Dedup::Always));
        assert_eq!(s.venue.levels, 4);

        let lines: Vec<(usize, TimeMs)> = s.rows.iter().map(|r| (r.line, r.t_ms)).collect();
        assert_eq!(
            lines,
            vec![
                (9, 0),
                (10, 0),
                (22, 0),
                (14, 5),
                (15, 5),
                (16, 5),
                (17, 5),
                (18, 5),
                (19, 5),
                (20, 5),
                (21, 5),
                (12, 10),
                (13, 10),
                (11, 20),
            ]
        );
        let kind = |line: usize| &s.rows.iter().find(|r| r.line == line).unwrap().kind;
        assert_eq!(
            kind(9),
            &RowKind::Balance {
                asset: Asset::new("USDT").unwrap(),
                amount: dec("10000")
            }
        );
        assert_eq!(
            kind(10),
            &RowKind::Price {
                symbol: sym("BTC/USDT"),
                mid: dec("50000"),
                spread_bps: dec("3"),
                depth: dec("0.5")
            }
        );
        assert_eq!(
            kind(22),
            &RowKind::Price {
                symbol: sym("ETH/USDT"),
                mid: dec("3000"),
                spread_bps: dec("2"),
                depth: dec("1")
            }
        );
        let RowKind::Intent {
            intent,
            spec,
            deliveries,
            gap_ms,
        } = kind(11)
        else {
            panic!("{:?}", kind(11))
        };
        assert_eq!(
            spec,
            &Spec {
                symbol: sym("BTC/USDT"),
                side: Side::Buy,
                qty: dec("0.001"),
                ref_price: dec("50000")
            }
        );
        assert_eq!(
            intent,
            &Intent::new(
                IntentId::new("i1").unwrap(),
                20,
                sym("BTC/USDT"),
                Side::Buy,
                dec("0.001"),
                dec("50000")
            )
            .unwrap()
        );
        assert_eq!((*deliveries, *gap_ms), (3, 7));
        assert_eq!(
            kind(12),
            &RowKind::Signal {
                symbol: sym("BTC/USDT"),
                side: Side::Sell,
                ref_price: None,
                risk_qty: dec("0.002"),
                guards_pass: false,
                label: Some("s1".to_string())
            }
        );
        assert_eq!(
            kind(13),
            &RowKind::Signal {
                symbol: sym("ETH/USDT"),
                side: Side::Buy,
                ref_price: Some(dec("3000")),
                risk_qty: dec("0.01"),
                guards_pass: true,
                label: None
            }
        );
        assert_eq!(
            kind(14),
            &RowKind::Fault {
                symbol: Some(sym("BTC/USDT")),
                kind: FaultKind::ResponseLost,
                count: 2
            }
        );
        let faults: Vec<(FaultKind, u32, Option<Symbol>)> = (15..=21)
            .map(|l| match kind(l) {
                RowKind::Fault {
                    symbol,
                    kind,
                    count,
                } => (*kind, *count, symbol.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            faults,
            vec![
                (FaultKind::RequestLost, 1, None),
                (FaultKind::ServerError, 1, None),
                (FaultKind::RateLimited, 1, None),
                (FaultKind::Latency { ms: 250 }, 1, None),
                (FaultKind::Reject, 1, None),
                (FaultKind::Partial { ratio: dec("0.25") }, 1, None),
                (FaultKind::Requote { bps: dec("15") }, 1, None),
            ]
        );
        assert_eq!(
            s.expects,
            vec![
                Expect {
                    line: 23,
                    check: Check::Intent {
                        id: "i1".to_string(),
                        final_state: Some(State::Reconciled),
                        orders: Some(1),
                        filled_qty: Some(dec("0.001"))
                    }
                },
                Expect {
                    line: 24,
                    check: Check::Intent {
                        id: "s1".to_string(),
                        final_state: Some(State::Failed),
                        orders: None,
                        filled_qty: None
                    }
                },
                Expect {
                    line: 25,
                    check: Check::Balance {
                        asset: Asset::new("USDT").unwrap(),
                        balance: dec("9949.95")
                    }
                },
                Expect {
                    line: 26,
                    check: Check::ReservedZero
                },
            ]
        );
    }

    #[test]
    fn config_keys_land_in_the_right_structs() {
        let s = full();
        // recv_window_ms: both sides.
        assert_eq!(s.router.recv_window_ms, 3000);
        assert_eq!(s.venue.recv_window_ms, 3000);
        // Default market rules on both sides; venue_min_notional is the router's copy of the
        // venue's filter, min_notional the router's own.
        let defaults = MarketRules {
            tick_size: dec("0.05"),
            step_size: dec("0.001"),
            min_notional: dec("10"),
            fee_bps: dec("8"),
        };
        assert_eq!(s.router.default_rules, defaults);
        assert_eq!(s.venue.default_rules, defaults);
        assert_eq!(s.router.min_notional, dec("7"));
        // Symbol rows start from the defaults after all symbol-less rows, whatever their order.
        let eth = MarketRules {
            fee_bps: dec("7"),
            tick_size: dec("0.1"),
            ..defaults
        };
        let btc = MarketRules {
            min_notional: dec("6"),
            ..defaults
        };
        for markets in [&s.router.markets, &s.venue.markets] {
            assert_eq!(markets.len(), 2);
            assert_eq!(markets.get(&sym("ETH/USDT")), Some(&eth));
            assert_eq!(markets.get(&sym("BTC/USDT")), Some(&btc));
        }
    }

    #[test]
    fn defaults_without_config() {
        let s = parse("d.csv", b"t_ms,action,symbol,side,qty,price,params\n").unwrap();
        assert_eq!(s.latency_ms, 5);
        assert_eq!(s.seed, None);
        assert!(matches!(s.venue.dedup, Dedup::OpenOnly));
        assert_eq!(s.router.default_rules.min_notional, dec("5"));
        assert_eq!(s.venue.default_rules.min_notional, dec("5"));
        assert_eq!(s.venue.default_rules.fee_bps, dec("10"));
        assert_eq!(s.venue.default_rules.tick_size, dec("0.01"));
        assert_eq!(s.venue.default_rules.step_size, dec("0.00001"));
        assert_eq!(s.venue.recv_window_ms, 5000);
        assert_eq!(s.router.max_retries, 3);
        assert!(s.router.markets.is_empty() && s.venue.markets.is_empty());
        assert!(s.rows.is_empty() && s.expects.is_empty());
    }

    #[test]
    fn equal_times_keep_file_order() {
        let mut csv = String::from("t_ms,action,symbol,side,qty,price,params\n");
        for (i, t) in [3, 1, 3, 1, 2, 3, 1].iter().enumerate() {
            csv.push_str(&format!("{t},balance,A{i},,1,,\n"));
        }
        let s = parse("o.csv", csv.as_bytes()).unwrap();
        let order: Vec<(TimeMs, usize)> = s.rows.iter().map(|r| (r.t_ms, r.line)).collect();
        assert_eq!(
            order,
            vec![(1, 3), (1, 5), (1, 8), (2, 6), (3, 2), (3, 4), (3, 7)]
        );
    }

    #[test]
    fn comments_and_blank_lines_keep_line_numbers() {
        let csv = "# leading comment\n\n   \nt_ms,action,symbol,side,qty,price,params\n\
                   # c\n\n#\n,,,,,,\n\r\n1,balance,USDT,,1,,\n\n# x,y\n2,\"balance\",\"BTC\",,\"2\",,\n\
                   \"3\",price,BTC/USDT,,,\"5\nx\",\n";
        let err = parse("c.csv", csv.as_bytes()).unwrap_err();
        // The quoted price spans lines 14-15; the record starts at 14.
        assert_eq!(
            err.to_string(),
            "c.csv:14: price: \"5\\nx\" is not a decimal number (expected a positive decimal)"
        );
        let ok = csv.replace("5\nx", "5");
        let s = parse("c.csv", ok.as_bytes()).unwrap();
        let lines: Vec<usize> = s.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![10, 13, 14]);
        // CRLF files count the same lines.
        let s = parse("c.csv", ok.replace('\n', "\r\n").as_bytes()).unwrap();
        let lines: Vec<usize> = s.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![10, 13, 14]);
    }

    /// Parses a header plus `body` (starting on line 2) and returns the error text.
    fn err_of(body: &str) -> String {
        let csv = format!("t_ms,action,symbol,side,qty,price,params\n{body}");
        match parse("x.csv", csv.as_bytes()) {
            Ok(s) => panic!("accepted {body:?}: {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[track_caller]
    fn assert_err(body: &str, prefix: &str) {
        let e = err_of(body);
        assert!(
            e.starts_with(prefix),
            "{body:?}\n  got  {e}\n  want {prefix}"
        );
    }

    #[test]
    fn row_errors_name_file_line_and_field() {
        let ok = "0,balance,USDT,,1,,\n";
        let cases: &[(&str, &str)] = &[
            ("3,buyy,,,,,", "x.csv:3: action: unknown action \"buyy\""),
            ("3,,,,,,x=1", "x.csv:3: action: missing"),
            (
                "3,fault,,,,,kind=partial;ratoi=0.5",
                "x.csv:3: params: unknown key \"ratoi\" for fault",
            ),
            (
                "3,fault,,,,,kind=reject;count=1;count=2",
                "x.csv:3: params: duplicate key \"count\"",
            ),
            (
                "3,fault,,,,,kind=reject;count",
                "x.csv:3: params: \"count\" is not key=value",
            ),
            ("3,fault,,,,,=5", "x.csv:3: params: \"=5\" has no key"),
            (
                "3,intent,BTC/USDT,byu,1,1,id=a",
                "x.csv:3: side: \"byu\" is neither buy nor sell",
            ),
            (
                "3,intent,BTC/USDT,buy,-1,1,id=a",
                "x.csv:3: qty: \"-1\" must be a positive decimal",
            ),
            (
                "3,intent,BTC/USDT,buy,0,1,id=a",
                "x.csv:3: qty: \"0\" must be a positive decimal",
            ),
            (
                "3,intent,BTC/USDT,buy,NaN,1,id=a",
                "x.csv:3: qty: \"NaN\" is not a decimal number",
            ),
            (
                "3,intent,BTC/USDT,buy,inf,1,id=a",
                "x.csv:3: qty: \"inf\" is not a decimal number",
            ),
            (
                "3,intent,BTC/USDT,buy,1_000,1,id=a",
                "x.csv:3: qty: \"1_000\" is not a decimal number",
            ),
            (
                "3,intent,BTC/USDT,buy,1,1e40,id=a",
                "x.csv:3: price: \"1e40\" is out of the decimal range",
            ),
            (
                "3,intent,BTC/USDT,buy,1,99999999999999999999999999999999,id=a",
                "x.csv:3: price: \"99999999999999999999999999999999\" is out of the decimal range",
            ),
            (
                "3,intent,BTC/USDT,buy,0.00000000000000000000000000001,1,id=a",
                "x.csv:3: qty: \"0.00000000000000000000000000001\" is out of the decimal range",
            ),
            (
                "3,intent,BTC/USDT,buy,1,,id=a",
                "x.csv:3: price: required for intent",
            ),
            (
                "3,intent,BTCUSDT,buy,1,1,id=a",
                "x.csv:3: symbol: \"BTCUSDT\" is not a market",
            ),
            (
                "3,intent,BTC/USDT,buy,1,1,id=bad id!",
                "x.csv:3: id: \"bad id!\" is not a valid id",
            ),
            (
                "3,intent,BTC/USDT,buy,1,1,deliveries=2",
                "x.csv:3: params: intent needs id=...",
            ),
            (
                "3,intent,BTC/USDT,buy,1,1,id=a;deliveries=0",
                "x.csv:3: deliveries: \"0\" must be at least 1",
            ),
            (
                "3,intent,BTC/USDT,buy,1,1,id=a;gap_ms=-1",
                "x.csv:3: gap_ms: \"-1\" is not a whole number",
            ),
            (
                "3,intent,BTC/USDT,buy,1,1,id=",
                "x.csv:3: id: missing value",
            ),
            (
                "3,balance,USDT,,1,,,",
                "x.csv:3: columns: expected 7 columns, found 8",
            ),
            (
                "3,balance,USDT,,1",
                "x.csv:3: columns: expected 7 columns, found 5",
            ),
            (
                "3,balance,USDT,buy,1,,",
                "x.csv:3: side: must be empty for balance (found \"buy\")",
            ),
            (
                "3,balance,USDT,,1,,x=1",
                "x.csv:3: params: unknown key \"x\" for balance",
            ),
            (
                "3,price,BTC/USDT,,1,50000,",
                "x.csv:3: qty: must be empty for price",
            ),
            (
                "3,price,BTC/USDT,,,50000,spread_bps=-1",
                "x.csv:3: spread_bps: \"-1\" must be a decimal in [0, 10000) (basis points)",
            ),
            (
                "3,signal,BTC/USDT,buy,,,guards=pass",
                "x.csv:3: params: signal needs risk_qty=...",
            ),
            (
                "3,signal,BTC/USDT,buy,,,risk_qty=1;guards=maybe",
                "x.csv:3: guards: \"maybe\" is neither pass nor fail",
            ),
            (
                "3,signal,BTC/USDT,buy,1,,risk_qty=1",
                "x.csv:3: qty: must be empty for signal",
            ),
            (
                "x,balance,USDT,,1,,",
                "x.csv:3: t_ms: \"x\" is not a whole number",
            ),
            (",balance,USDT,,1,,", "x.csv:3: t_ms: required for balance"),
            (
                "99999999999999999999,balance,USDT,,1,,",
                "x.csv:3: t_ms: \"99999999999999999999\" is too large",
            ),
            (
                "3,fault,,,,,count=2",
                "x.csv:3: params: fault needs kind=...",
            ),
            (
                "3,fault,,,,,kind=boom",
                "x.csv:3: kind: unknown fault kind \"boom\"",
            ),
            (
                "3,fault,,,,,kind=latency",
                "x.csv:3: params: kind=latency needs ms=...",
            ),
            (
                "3,fault,,,,,kind=reject;ms=5",
                "x.csv:3: params: ms is only allowed with kind=latency",
            ),
            (
                "3,fault,,,,,kind=partial",
                "x.csv:3: params: kind=partial needs ratio=...",
            ),
            (
                "3,fault,,,,,kind=partial;ratio=0",
                "x.csv:3: ratio: \"0\" must be a decimal in (0, 1]",
            ),
            (
                "3,fault,,,,,kind=partial;ratio=1.5",
                "x.csv:3: ratio: \"1.5\" must be a decimal in (0, 1]",
            ),
            (
                "3,fault,,,,,kind=latency;ratio=0.5;ms=1",
                "x.csv:3: params: ratio is only allowed with kind=partial",
            ),
            (
                "3,fault,,,,,kind=requote",
                "x.csv:3: params: kind=requote needs bps=...",
            ),
            (
                "3,fault,,,,,kind=requote;bps=-1",
                "x.csv:3: bps: \"-1\" must be a decimal in [0, 10000) (basis points)",
            ),
            (
                "3,fault,,,,,kind=reject;count=0",
                "x.csv:3: count: \"0\" must be at least 1",
            ),
            (
                "3,fault,,,,,kind=reject;count=4294967296",
                "x.csv:3: count: \"4294967296\" is too large",
            ),
            (
                "3,config,,,,,tif=FOK",
                "x.csv:3: tif: \"FOK\" is neither IOC nor GTC",
            ),
            (
                "3,config,,,,,dedup=never",
                "x.csv:3: dedup: \"never\" is neither open_only nor always",
            ),
            (
                "3,config,,,,,max_retries=-1",
                "x.csv:3: max_retries: \"-1\" is not a whole number",
            ),
            (
                "3,config,,,,,tick_size=0",
                "x.csv:3: tick_size: \"0\" must be a positive decimal",
            ),
            (
                "3,config,,,,,levels=0",
                "x.csv:3: levels: \"0\" must be at least 1",
            ),
            (
                "3,config,,,,,colour=red",
                "x.csv:3: params: unknown key \"colour\" for config",
            ),
            (
                "3,config,BTC/USDT,,,,max_retries=1",
                "x.csv:3: params: key \"max_retries\" is not allowed in a config row with a symbol",
            ),
            ("3,config,,,,,seed=", "x.csv:3: seed: missing value"),
            ("3,expect,,,,,", "x.csv:3: params: expect needs"),
            (
                "3,expect,,,,,final_state=FILLED",
                "x.csv:3: params: expect needs",
            ),
            (
                "3,expect,,,,,intent=i1",
                "x.csv:3: params: expect intent=<id> needs at least one of",
            ),
            (
                "3,expect,,,,,intent=i1;asset=USDT",
                "x.csv:3: params: asset cannot be combined with intent",
            ),
            (
                "3,expect,,,,,asset=USDT",
                "x.csv:3: params: expect asset=... needs balance=...",
            ),
            (
                "3,expect,,,,,balance=5",
                "x.csv:3: params: expect balance=... needs asset=...",
            ),
            (
                "3,expect,,,,,reserved=0;balance=5",
                "x.csv:3: params: reserved cannot be combined with balance",
            ),
            (
                "3,expect,,,,,reserved=1",
                "x.csv:3: reserved: \"1\" is not 0",
            ),
            (
                "3,expect,,,,,intent=i1;final_state=DONE",
                "x.csv:3: final_state: unknown state \"DONE\"",
            ),
            (
                "3,expect,,,,,intent=i1;orders=x",
                "x.csv:3: orders: \"x\" is not a whole number",
            ),
            (
                "3,expect,,,,,intent=i1;filled_qty=-1",
                "x.csv:3: filled_qty: \"-1\" must be a non-negative decimal",
            ),
            (
                "3,expect,,,,,asset=US DT;balance=1",
                "x.csv:3: asset: \"US DT\" is not an asset",
            ),
            (
                "3,expect,BTC/USDT,,,,reserved=0",
                "x.csv:3: symbol: must be empty for expect",
            ),
            (
                "3,signal,BTC/USDT,buy,,,risk_qty=1;id=s\n4,signal,BTC/USDT,buy,,,risk_qty=1;id=s",
                "x.csv:4: id: label \"s\" is already used on line 3",
            ),
        ];
        for (row, prefix) in cases {
            assert_err(&format!("{ok}{row}\n"), prefix);
        }
    }

    #[test]
    fn header_and_file_errors() {
        let e = parse("h.csv", b"t_ms,action,symbol,side,qty,price\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "h.csv:1: header: expected t_ms,action,symbol,side,qty,price,params, found \"t_ms,action,symbol,side,qty,price\""
        );
        let e = parse(
            "h.csv",
            b"# c\n\nt_ms,action,symbol,side,qty,prize,params\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("h.csv:3: header: expected t_ms,action,"),
            "{e}"
        );
        // Surrounding whitespace is fine; no header at all is not.
        assert!(parse("h.csv", b" t_ms , action,symbol,side,qty,price,params \n").is_ok());
        for empty in [&b""[..], b"\n\n", b"# only a comment\n", b"\xEF\xBB\xBF"] {
            let e = parse("e.csv", empty).unwrap_err();
            assert_eq!((e.line, e.field.as_str()), (1, "header"), "{e}");
            assert!(
                e.to_string().starts_with("e.csv:1: header: empty file"),
                "{e}"
            );
        }
        let e = load(Path::new("/nonexistent/dir/s.csv")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (0, "file"));
        assert!(
            e.to_string()
                .starts_with("/nonexistent/dir/s.csv:0: file: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn non_utf8_bytes_name_their_line_and_column() {
        let mut bytes = b"t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,1,,\n# \xff ok in a comment\n".to_vec();
        bytes.extend_from_slice(b"5,balance,US\xffDT,,1,,\n");
        let e = parse("u.csv", &bytes).unwrap_err();
        assert!(
            e.to_string().starts_with("u.csv:4: symbol: invalid UTF-8"),
            "{e}"
        );
        let e = parse("u.csv", b"t_ms,act\xc3ion,symbol,side,qty,price,params\n").unwrap_err();
        assert!(
            e.to_string().starts_with("u.csv:1: header: expected"),
            "{e}"
        );
    }

    #[test]
    fn config_validation_is_reported_at_the_last_config_row() {
        let e = err_of("0,config,,,,,backoff_ms=500\n0,balance,USDT,,1,,\n0,config,,,,,backoff_max_ms=100\n0,balance,BTC,,1,,\n");
        assert_eq!(
            e,
            "x.csv:4: backoff_max_ms: 100 must be at least backoff_ms 500"
        );
        // Caught where it is parsed now; the router's own validation backs it up.
        let e = err_of("0,config,,,,,fee_bps=10000\n");
        assert_eq!(
            e,
            "x.csv:2: fee_bps: \"10000\" must be a decimal in [0, 10000) (basis points)"
        );
    }

    #[test]
    fn scientific_and_signed_decimals() {
        let s = parse(
            "s.csv",
            b"t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,1.5E+3,,\n0,balance,BTC,,+.5,,\n0,balance,ETH,,2.,,\n",
        )
        .unwrap();
        let amounts: Vec<Decimal> = s
            .rows
            .iter()
            .map(|r| match &r.kind {
                RowKind::Balance { amount, .. } => *amount,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(amounts, vec![dec("1500"), dec("0.5"), dec("2")]);
        // A mantissa that would be rounded is refused, not rounded.
        assert_err(
            "0,balance,USDT,,1.00000000000000000000000000001e1,,\n",
            "x.csv:2: qty: \"1.00000000000000000000000000001e1\" is out of the decimal range",
        );
        assert_err(
            "0,balance,USDT,,1e,,\n",
            "x.csv:2: qty: \"1e\" is not a decimal number",
        );
    }

    #[test]
    fn fault_kind_names_and_placement_scope() {
        let all = [
            FaultKind::RequestLost,
            FaultKind::ResponseLost,
            FaultKind::ServerError,
            FaultKind::RateLimited,
            FaultKind::Latency { ms: 1 },
            FaultKind::Reject,
            FaultKind::Partial {
                ratio: Decimal::ONE,
            },
            FaultKind::Requote { bps: Decimal::ONE },
            FaultKind::TradesRepeat,
            FaultKind::TradesForeign,
            FaultKind::TradesSplit,
        ];
        let names: Vec<&str> = all.iter().map(FaultKind::name).collect();
        assert_eq!(names, FAULT_KINDS);
        let placements: Vec<&str> = all
            .iter()
            .filter(|k| k.placements_only())
            .map(FaultKind::name)
            .collect();
        assert_eq!(placements, ["reject", "partial", "requote"]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse("p.csv", &bytes);
        }

        #[test]
        fn arbitrary_csv_like_text_never_panics(
            body in "([0-9a-z_,;=/.#\"eE+ -]{0,40}\n){0,12}"
        ) {
            let csv = format!("t_ms,action,symbol,side,qty,price,params\n{body}");
            let _ = parse("p.csv", csv.as_bytes());
        }

        #[test]
        fn mutated_valid_file_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
        ) {
            let mut bytes = FULL.as_bytes().to_vec();
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            if let Err(e) = parse("m.csv", &bytes) {
                // Every error names a line inside the file.
                let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
                prop_assert!(e.line >= 1 && e.line <= lines, "{e}");
            }
        }
    }
}

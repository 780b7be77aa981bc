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
pub const CONFIG_KEYS: [&str; 35] = [
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
    "p_crash",
    "restart_ms",
];

/// Keys of a `config` row with a symbol: that market's rules.
pub const MARKET_KEYS: [&str; 4] = ["fee_bps", "tick_size", "step_size", "venue_min_notional"];

/// The actions a row may name.
pub const ACTIONS: [&str; 9] = [
    "config", "balance", "price", "signal", "intent", "fault", "calm", "crash", "expect",
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
    /// The router's process dies after `after` more journal appends (0: now, with every line
    /// durable), leaving its unsynced lines as `mode` says; it restarts `restart_ms` later.
    Crash { after: u64, mode: CrashMode },
}

/// What a crash leaves of the journal lines not yet synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// All of them reached the disk.
    Written,
    /// None of them did.
    Dropped,
    /// Those before the last did; the last is torn (cut short, or a byte garbled).
    Torn,
}

impl CrashMode {
    pub const ALL: [CrashMode; 3] = [CrashMode::Written, CrashMode::Dropped, CrashMode::Torn];

    pub fn name(self) -> &'static str {
        match self {
            CrashMode::Written => "written",
            CrashMode::Dropped => "dropped",
            CrashMode::Torn => "torn",
        }
    }

    pub fn parse(s: &str) -> Option<CrashMode> {
        CrashMode::ALL.into_iter().find(|m| m.name() == s)
    }
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
    RestartMs(u64),
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
            "restart_ms" => Setting::RestartMs(u64_(0, MAX_WAIT_MS)?),
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
            Setting::RestartMs(v) => s.restart_ms = v,
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
                    "p_crash" => p.crash_bps = bps,
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
                RowKind::Fault { symbol: None, .. } | RowKind::Calm | RowKind::Crash { .. } => {}
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
            restart_ms: DEFAULT_RESTART_MS,
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
mod tests;

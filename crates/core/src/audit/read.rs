//! Reading audit logs: ours, or any other implementation's with the same line format.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::check::LineView;
use super::line::AuditLine;
use super::parse::Fast;
use crate::router::State;

/// The fields of one audit line that checking needs; everything else is ignored, so logs with
/// extra fields from other implementations are read as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line number in the file (0 for lines that never were in a file).
    pub line: usize,
    pub seq: u64,
    pub t_ms: u64,
    pub intent_id: String,
    pub state: State,
    pub event: Option<String>,
    /// `qty` of a `NEW` line.
    pub qty: Option<Decimal>,
    pub client_order_id: Option<String>,
    /// `filled_qty` of an order report (`FILLED`, `PARTIAL`, `CANCELED`).
    pub filled_qty: Option<Decimal>,
    /// `symbol` and `side` of a `NEW` line.
    pub symbol: Option<String>,
    pub side: Option<String>,
    /// `reserved_price` of `RESERVED`, `limit_price` of `SENT`.
    pub price: Option<Decimal>,
    /// `reserved_qty` of `RESERVED`, `qty` of `SENT`.
    pub order_qty: Option<Decimal>,
    /// `attempt` of `SENT` and `RETRY`, `attempts` of `FAILED_FINAL`.
    pub attempt: Option<u32>,
    /// `backoff_ms` of `RETRY`.
    pub backoff_ms: Option<u64>,
    /// `next_ms` and `cause` of the `query_pending` and `trades_pending` events.
    pub next_ms: Option<u64>,
    pub cause: Option<String>,
    /// `target` and `outcome` of a cancel intent's `DONE` line.
    pub target: Option<String>,
    pub outcome: Option<String>,
}

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("line {line}: torn last line (incomplete or garbled): the writer stopped mid-line")]
    Truncated { line: usize },
    /// The line does not match its checksum: garbled after it was written.
    #[error("line {line}: checksum mismatch: the line was damaged after it was written")]
    Checksum { line: usize },
    #[error("line {line}: not valid UTF-8")]
    NotUtf8 { line: usize },
    #[error("line {line}: not a JSON object: {message}")]
    Json { line: usize, message: String },
    #[error("line {line}: field `{field}` is missing")]
    Missing { line: usize, field: &'static str },
    #[error("line {line}: field `{field}`: {message}")]
    Field {
        line: usize,
        field: &'static str,
        message: String,
    },
}

impl ReadError {
    pub fn line(&self) -> usize {
        match self {
            ReadError::Truncated { line }
            | ReadError::Checksum { line }
            | ReadError::NotUtf8 { line }
            | ReadError::Json { line, .. }
            | ReadError::Missing { line, .. }
            | ReadError::Field { line, .. } => *line,
        }
    }
}

/// Parses a whole log. Blank lines are skipped; every other line yields a record or an error.
/// A last line without its newline that does not read is reported as truncated (torn): the
/// writer stopped mid-line. See [`read_line_with`].
pub fn read(bytes: &[u8]) -> Vec<Result<Record, ReadError>> {
    let ends_with_newline = bytes.last() == Some(&b'\n');
    // As `split` on newlines, found 32 bytes at a time.
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    for nl in memchr::memchr_iter(b'\n', bytes) {
        pieces.push(&bytes[at..nl]);
        at = nl + 1;
    }
    pieces.push(&bytes[at..]);
    let last = pieces.len().saturating_sub(1);
    pieces
        .into_iter()
        .enumerate()
        .filter_map(|(idx, raw)| read_line(idx + 1, raw, idx == last && !ends_with_newline))
        .collect()
}

/// Parses one line (`n` from 1; `raw` without its newline); `None` for a blank line.
/// `unterminated`: the last line of the log, with no newline after it.
pub fn read_line(n: usize, raw: &[u8], unterminated: bool) -> Option<Result<Record, ReadError>> {
    read_line_with(n, raw, unterminated, |n, raw| {
        match std::str::from_utf8(raw) {
            Ok(text) => parse_line(n, text),
            Err(_) => Err(ReadError::NotUtf8 { line: n }),
        }
    })
}

/// The one rule for a line, whatever reads its fields (`parse`): recovery, `live`, `report` and
/// `check-audit` all read lines through it. A blank line is skipped (`None`). A line that fails
/// its checksum or that `parse` refuses is *torn* ([`ReadError::Truncated`]) only when it is the
/// last one and lacks its newline (`unterminated`): the writer stopped in it. With its newline
/// it was written whole, so it was *damaged* afterwards, and the error says how.
pub fn read_line_with<T>(
    n: usize,
    raw: &[u8],
    unterminated: bool,
    parse: impl FnOnce(usize, &[u8]) -> Result<T, ReadError>,
) -> Option<Result<T, ReadError>> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let read = if super::line::checksum_ok(raw) == Some(false) {
        Err(ReadError::Checksum { line: n })
    } else {
        parse(n, raw)
    };
    Some(read.map_err(|e| {
        if unterminated {
            ReadError::Truncated { line: n }
        } else {
            e
        }
    }))
}

/// A damaged end of a log: from a line that ends with its newline but does not read, to the
/// end of the file, with no readable line after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The first damaged line's number (from 1) and where it starts in the file's bytes.
    pub line: usize,
    pub offset: u64,
    pub error: ReadError,
}

impl Damage {
    /// What is wrong with the line, without its number.
    pub fn reason(&self) -> String {
        let e = self.error.to_string();
        match e.strip_prefix(&format!("line {}: ", self.line)) {
            Some(why) => why.to_string(),
            None => e,
        }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "damaged line {} (byte {}): {}; it ends with its newline, so no crash left it \
             this way: a restart stops here unless --truncate-damaged cuts it off",
            self.line,
            self.offset,
            self.reason()
        )
    }
}

/// How a log ends after its last readable line: the one verdict every command gives a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LogEnd {
    /// Nothing unreadable after the last readable line.
    #[default]
    Whole,
    /// The last line lacks its newline and does not read: the writer stopped in it, so nothing
    /// it describes was made durable. A restart cuts it off and goes on.
    Torn { line: usize, offset: u64 },
    /// Damage after it was written, at the end: a restart stops on it.
    Damaged(Damage),
}

impl std::fmt::Display for LogEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogEnd::Whole => write!(f, "whole: every line after the last readable one reads"),
            LogEnd::Torn { line, offset } => write!(
                f,
                "torn tail line {line} (byte {offset}): no newline, so the writer stopped in it; a restart cuts it off"
            ),
            LogEnd::Damaged(d) => d.fmt(f),
        }
    }
}

/// Follows a log line by line (blank lines left out) to its [`LogEnd`].
#[derive(Debug, Default)]
pub struct EndWatch {
    end: LogEnd,
}

impl EndWatch {
    /// Notes how the line starting at byte `offset` read. A readable line after a damaged one
    /// gives that damage back: it is in the middle, and cutting it off would cut whole lines.
    pub fn note(&mut self, offset: u64, read: Result<(), &ReadError>) -> Option<ReadError> {
        match read {
            Ok(()) => match std::mem::take(&mut self.end) {
                LogEnd::Damaged(d) => Some(d.error),
                _ => None,
            },
            Err(e) => {
                if !matches!(self.end, LogEnd::Damaged(_)) {
                    self.end = match *e {
                        ReadError::Truncated { line } => LogEnd::Torn { line, offset },
                        _ => LogEnd::Damaged(Damage {
                            line: e.line(),
                            offset,
                            error: e.clone(),
                        }),
                    };
                }
                None
            }
        }
    }

    pub fn end(self) -> LogEnd {
        self.end
    }
}

/// How a whole log in memory ends (see [`LogEnd`]).
pub fn log_end(bytes: &[u8]) -> LogEnd {
    let mut watch = EndWatch::default();
    let mut at = 0;
    let mut n = 0;
    while at < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |p| at + p);
        n += 1;
        if let Some(r) = read_line(n, &bytes[at..end], end == bytes.len()) {
            watch.note(at as u64, r.as_ref().map(|_| ()));
        }
        at = end + 1;
    }
    watch.end()
}

/// Among the first lines, more unreadable ones than half of this make the input "not an audit
/// log" (some other file) rather than a log with a few bad lines.
const SNIFF_LINES: usize = 100;

/// A whole log checked ([`check_stream`]): what `check-audit` reports.
#[derive(Debug)]
pub struct CheckedLog {
    pub lines: usize,
    pub intents: usize,
    pub problems: Vec<super::Problem>,
    pub end: LogEnd,
}

/// Why a log could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Its lines are mostly not the router's: some other file.
    #[error("not an audit log: its lines are not JSON objects with seq, t_ms, intent_id and state{}", .0.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    NotALog(Option<ReadError>),
}

/// Checks a log read from `input` one line at a time (the transition table, completeness, the
/// policy checks a log alone allows), in constant memory.
pub fn check_stream(input: impl std::io::BufRead) -> Result<CheckedLog, CheckError> {
    let mut checker = super::Checker::new();
    let (mut lines, mut readable) = (0usize, 0usize);
    let mut first_error: Option<ReadError> = None;
    let mut garbage = false;
    let end = read_stream(input, |r| {
        lines += 1;
        match r {
            Ok(rec) => {
                readable += 1;
                checker.observe(&rec);
            }
            Err(e) => {
                first_error.get_or_insert_with(|| e.clone());
                checker.unreadable(e);
            }
        }
        if lines <= SNIFF_LINES && lines - readable > SNIFF_LINES / 2 {
            garbage = true;
            return std::ops::ControlFlow::Break(());
        }
        std::ops::ControlFlow::Continue(())
    })?;
    if garbage || (lines > 0 && readable == 0) {
        return Err(CheckError::NotALog(first_error));
    }
    let intents = checker.intents();
    Ok(CheckedLog {
        lines,
        intents,
        problems: checker.finish(),
        end,
    })
}

/// Reads a log from `input` one line at a time, in constant memory: the records and errors
/// [`read`] would give, or an I/O error; then how the log ends.
pub fn read_stream(
    mut input: impl std::io::BufRead,
    mut each: impl FnMut(Result<Record, ReadError>) -> std::ops::ControlFlow<()>,
) -> std::io::Result<LogEnd> {
    let mut buf = Vec::with_capacity(512);
    let mut n = 0;
    let mut offset = 0u64;
    let mut watch = EndWatch::default();
    loop {
        if !crate::input::read_line_io(&mut input, &mut buf, n + 1)? {
            return Ok(watch.end());
        }
        n += 1;
        let at = offset;
        offset += buf.len() as u64;
        let terminated = buf.last() == Some(&b'\n');
        let raw = if terminated {
            &buf[..buf.len() - 1]
        } else {
            &buf[..]
        };
        if let Some(r) = read_line(n, raw, !terminated) {
            watch.note(at, r.as_ref().map(|_| ()));
            if each(r).is_break() {
                return Ok(watch.end());
            }
        }
    }
}

pub(crate) fn parse_line(line: usize, text: &str) -> Result<Record, ReadError> {
    // Lines without escapes or nulls (every line this router writes) are read borrowing from
    // the text; anything else, and every error, by the exact reader over a JSON value.
    if !text.contains('\\') && !text.contains("null") {
        if let Some(fast) = Fast::read(text) {
            if let Ok(r) = record(&fast, line) {
                return Ok(r);
            }
        }
    }
    parse_line_exact(line, text)
}

/// Whether `text` takes the borrowing path (for the tests that hold it to the exact one).
#[cfg(test)]
pub(crate) fn reads_borrowed(text: &str) -> bool {
    !text.contains('\\')
        && !text.contains("null")
        && Fast::read(text).is_some_and(|b| record(&b, 1).is_ok())
}

pub(crate) fn parse_line_exact(line: usize, text: &str) -> Result<Record, ReadError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ReadError::Json {
        line,
        message: crate::input::cut(&e.to_string()).into_owned(),
    })?;
    let Value::Object(obj) = value else {
        return Err(ReadError::Json {
            line,
            message: "expected an object".into(),
        });
    };
    record(&obj, line)
}

/// What [`record`] reads of a line.
trait Source {
    fn opt_str(&self, line: usize, field: &'static str) -> Result<Option<&str>, ReadError>;
    fn opt_dec(&self, line: usize, field: &'static str) -> Result<Option<Decimal>, ReadError>;
    fn req_u64(&self, line: usize, field: &'static str) -> Result<u64, ReadError>;
    fn opt_u64(&self, line: usize, field: &'static str) -> Result<Option<u64>, ReadError>;
    fn opt_u32(&self, line: usize, field: &'static str) -> Result<Option<u32>, ReadError>;
    fn has(&self, field: &'static str) -> bool;

    fn req_str(&self, line: usize, field: &'static str) -> Result<&str, ReadError> {
        self.opt_str(line, field)?
            .ok_or(ReadError::Missing { line, field })
    }
}

impl Source for Map<String, Value> {
    fn opt_str(&self, line: usize, field: &'static str) -> Result<Option<&str>, ReadError> {
        opt_str(self, line, field)
    }
    fn opt_dec(&self, line: usize, field: &'static str) -> Result<Option<Decimal>, ReadError> {
        opt_dec(self, line, field)
    }
    fn req_u64(&self, line: usize, field: &'static str) -> Result<u64, ReadError> {
        req_u64(self, line, field)
    }
    fn opt_u64(&self, line: usize, field: &'static str) -> Result<Option<u64>, ReadError> {
        opt_u64(self, line, field)
    }
    fn opt_u32(&self, line: usize, field: &'static str) -> Result<Option<u32>, ReadError> {
        opt_u32(self, line, field)
    }
    fn has(&self, field: &'static str) -> bool {
        self.contains_key(field)
    }
}

impl Source for Fast<'_> {
    fn opt_str(&self, line: usize, field: &'static str) -> Result<Option<&str>, ReadError> {
        Ok(match field {
            "state" => Some(self.state),
            "intent_id" => Some(self.intent_id),
            "event" => self.event,
            "client_order_id" => self.client_order_id,
            "symbol" => self.symbol,
            "side" => self.side,
            "cause" => self.cause,
            "target" => self.target,
            "outcome" => self.outcome,
            _ => return Err(ReadError::Missing { line, field }),
        })
    }
    fn opt_dec(&self, line: usize, field: &'static str) -> Result<Option<Decimal>, ReadError> {
        let n = match field {
            "qty" => &self.qty,
            "filled_qty" => &self.filled_qty,
            "reserved_price" => &self.reserved_price,
            "limit_price" => &self.limit_price,
            "reserved_qty" => &self.reserved_qty,
            _ => return Err(ReadError::Missing { line, field }),
        };
        match n {
            None => Ok(None),
            Some(n) => n.dec().map(Some).ok_or(ReadError::Missing { line, field }),
        }
    }
    fn req_u64(&self, line: usize, field: &'static str) -> Result<u64, ReadError> {
        match field {
            "seq" => Ok(self.seq),
            "t_ms" => Ok(self.t_ms),
            _ => Err(ReadError::Missing { line, field }),
        }
    }
    fn opt_u64(&self, line: usize, field: &'static str) -> Result<Option<u64>, ReadError> {
        match field {
            "backoff_ms" => Ok(self.backoff_ms),
            "next_ms" => Ok(self.next_ms),
            _ => Err(ReadError::Missing { line, field }),
        }
    }
    fn opt_u32(&self, line: usize, field: &'static str) -> Result<Option<u32>, ReadError> {
        match field {
            "attempt" => Ok(self.attempt),
            "attempts" => Ok(self.attempts),
            _ => Err(ReadError::Missing { line, field }),
        }
    }
    fn has(&self, field: &'static str) -> bool {
        field == "event" && self.event.is_some()
    }
}

fn record(obj: &impl Source, line: usize) -> Result<Record, ReadError> {
    let state_text = obj.req_str(line, "state")?;
    let state = State::parse(state_text).ok_or_else(|| ReadError::Field {
        line,
        field: "state",
        message: format!("unknown state {}", crate::input::show(state_text)),
    })?;
    Ok(Record {
        line,
        seq: obj.req_u64(line, "seq")?,
        t_ms: obj.req_u64(line, "t_ms")?,
        intent_id: obj.req_str(line, "intent_id")?.to_string(),
        state,
        event: obj.opt_str(line, "event")?.map(str::to_string),
        qty: match state {
            State::New => obj.opt_dec(line, "qty")?,
            _ => None,
        },
        client_order_id: obj.opt_str(line, "client_order_id")?.map(str::to_string),
        // Only an order report carries a fill; an event line's `filled_qty` (a stream update,
        // a stale report) is what someone said, not a transition.
        filled_qty: match state {
            State::Filled | State::Partial | State::Canceled if !obj.has("event") => {
                obj.opt_dec(line, "filled_qty")?
            }
            _ => None,
        },
        symbol: match state {
            State::New => obj.opt_str(line, "symbol")?.map(str::to_string),
            _ => None,
        },
        side: match state {
            State::New => obj.opt_str(line, "side")?.map(str::to_string),
            _ => None,
        },
        price: match state {
            State::Reserved => obj.opt_dec(line, "reserved_price")?,
            State::Sent => obj.opt_dec(line, "limit_price")?,
            _ => None,
        },
        order_qty: match state {
            State::Reserved => obj.opt_dec(line, "reserved_qty")?,
            State::Sent => obj.opt_dec(line, "qty")?,
            _ => None,
        },
        attempt: match state {
            State::Sent | State::Retry => obj.opt_u32(line, "attempt")?,
            State::FailedFinal => obj.opt_u32(line, "attempts")?,
            _ => None,
        },
        backoff_ms: match state {
            State::Retry => obj.opt_u64(line, "backoff_ms")?,
            _ => None,
        },
        next_ms: match obj.has("event") {
            true => obj.opt_u64(line, "next_ms")?,
            false => None,
        },
        cause: match obj.has("event") {
            true => obj.opt_str(line, "cause")?.map(str::to_string),
            false => None,
        },
        target: match state {
            State::Done => obj.opt_str(line, "target")?.map(str::to_string),
            _ => None,
        },
        outcome: match state {
            State::Done => obj.opt_str(line, "outcome")?.map(str::to_string),
            _ => None,
        },
    })
}

pub(crate) fn opt_u64(
    obj: &Map<String, Value>,
    line: usize,
    field: &'static str,
) -> Result<Option<u64>, ReadError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => req_u64(obj, line, field).map(Some),
    }
}

pub(crate) fn opt_u32(
    obj: &Map<String, Value>,
    line: usize,
    field: &'static str,
) -> Result<Option<u32>, ReadError> {
    match opt_u64(obj, line, field)? {
        None => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| ReadError::Field {
            line,
            field,
            message: format!("{n} is beyond {}", u32::MAX),
        }),
    }
}

pub(crate) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    line: usize,
    field: &'static str,
) -> Result<Option<&'a str>, ReadError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ReadError::Field {
            line,
            field,
            message: "expected a string".into(),
        }),
    }
}

pub(crate) fn req_u64(
    obj: &Map<String, Value>,
    line: usize,
    field: &'static str,
) -> Result<u64, ReadError> {
    match obj.get(field) {
        None => Err(ReadError::Missing { line, field }),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| ReadError::Field {
            line,
            field,
            message: format!(
                "expected a non-negative integer, got {}",
                crate::input::show(&n.to_string())
            ),
        }),
        Some(_) => Err(ReadError::Field {
            line,
            field,
            message: "expected a number".into(),
        }),
    }
}

pub(crate) fn opt_dec(
    obj: &Map<String, Value>,
    line: usize,
    field: &'static str,
) -> Result<Option<Decimal>, ReadError> {
    let bad = |message: String| ReadError::Field {
        line,
        field,
        message,
    };
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            // arbitrary_precision keeps the digits as written, so nothing is rounded here.
            let text = n.to_string();
            Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .map(Some)
                .map_err(|_| {
                    bad(format!(
                        "{} is not a decimal in range",
                        crate::input::show(&text)
                    ))
                })
        }
        Some(_) => Err(bad("expected a number".into())),
    }
}

impl Record {
    /// The record of a line the router emitted, without a round trip through text.
    pub fn from_line(l: &AuditLine) -> Record {
        let v = LineView::from(l);
        Record {
            line: 0,
            seq: l.seq,
            t_ms: l.t_ms,
            intent_id: l.intent_id.to_string(),
            state: l.state,
            event: l.detail.event().map(str::to_string),
            qty: v.qty,
            client_order_id: v.client_order_id.map(str::to_string),
            filled_qty: v.filled_qty,
            symbol: v.symbol.map(str::to_string),
            side: v.side.map(str::to_string),
            price: v.price,
            order_qty: v.order_qty,
            attempt: v.attempt,
            backoff_ms: v.backoff_ms,
            next_ms: v.next_ms,
            cause: v.cause.map(str::to_string),
            target: v.target.map(str::to_string),
            outcome: v.outcome.map(str::to_string),
        }
    }
}

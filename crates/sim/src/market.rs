//! Recorded market data as the market of a scenario (`run --market FILE.csv`).
//!
//! Reads a CSV of trades (`timestamp,price,qty`, or any header with a time column and `price`),
//! of klines (`open_time,open,high,low,close,volume`, with or without a header: Binance's public
//! kline files have none and twelve columns), or of best bid/ask quotes (`bid_price`,
//! `ask_price`). Each change of price becomes a `price` row of the scenario, at the recorded
//! time relative to the first record.

use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::scenario::{Row, RowKind, Scenario, ScenarioError};
use crate::csv::{Read, RecordReader};
use crate::input::{read_line, show, MAX_LINE_BYTES};
use crate::model::{Symbol, TimeMs};

/// The latest time a record may have: 2200-01-01T00:00:00Z in epoch milliseconds. A later one
/// is a corrupt or mis-scaled value, which would make a replay run for ages of market time.
pub const MAX_EPOCH_MS: u64 = 7_258_118_400_000;

/// The longest gap between consecutive records: 7 days. Exchanges pause for hours, not weeks;
/// a longer gap is a spliced or corrupt file, which a replay would otherwise fill with intents.
pub const MAX_GAP_MS: u64 = 7 * 24 * 3_600_000;

/// One point of the recorded path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Milliseconds since the first record.
    pub t_ms: TimeMs,
    pub mid: Decimal,
    /// From quotes only; trades and klines keep the scenario's spread.
    pub spread_bps: Option<Decimal>,
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    Price { time: usize, price: usize },
    Quotes { time: usize, bid: usize, ask: usize },
}

/// The optional columns a recorded tape brings for the living market ([`crate::flow::tape`]):
/// who took (`is_buyer_maker` or `taker_side`) and the best quotes' sizes.
#[derive(Debug, Clone, Copy, Default)]
struct Extra {
    buyer_maker: Option<usize>,
    taker_side: Option<usize>,
    bid_qty: Option<usize>,
    ask_qty: Option<usize>,
}

/// The best quotes of a quote record, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub bid: Decimal,
    pub ask: Decimal,
    /// `bid_qty` and `ask_qty`, when the file has them.
    pub sizes: Option<(Decimal, Decimal)>,
}

fn err(file: &str, line: usize, field: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message: message.into(),
    }
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&h.as_str()))
}

fn layout(header: &[String]) -> Option<Layout> {
    let time = find(
        header,
        &[
            "timestamp",
            "time_ms",
            "time",
            "ts",
            "open_time",
            "open_time_ms",
        ],
    )?;
    if let (Some(bid), Some(ask)) = (
        find(header, &["bid_price", "bid"]),
        find(header, &["ask_price", "ask"]),
    ) {
        return Some(Layout::Quotes { time, bid, ask });
    }
    let price = find(header, &["price", "close"])?;
    Some(Layout::Price { time, price })
}

/// Reads and validates a market file, streamed (only the price changes are held); errors
/// name file, line and field.
pub fn load(path: &Path) -> Result<Vec<Tick>, ScenarioError> {
    let records = Records::open(path)?;
    let file = records.file.clone();
    collect(&file, records)
}

/// The whole path of a market file in memory, unchanged prices dropped.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Vec<Tick>, ScenarioError> {
    collect(file, Records::new(file, bytes)?)
}

fn collect<R: std::io::BufRead>(
    file: &str,
    records: Records<R>,
) -> Result<Vec<Tick>, ScenarioError> {
    let ticks = changes(records).collect::<Result<Vec<Tick>, _>>()?;
    if ticks.is_empty() {
        return Err(err(file, 1, "file", "no price records"));
    }
    Ok(ticks)
}

/// The path of a market file as it is read: each record that changes the price (or the
/// spread), in order; the first error ends it.
pub fn changes<R: std::io::BufRead>(
    records: Records<R>,
) -> impl Iterator<Item = Result<Tick, ScenarioError>> {
    let mut last: Option<Tick> = None;
    records.filter_map(move |r| match r {
        Err(e) => Some(Err(e)),
        Ok(r) => {
            let tick = r.tick;
            let changed = last.is_none_or(|p| p.mid != tick.mid || p.spread_bps != tick.spread_bps);
            last = Some(tick);
            changed.then_some(Ok(tick))
        }
    })
}

/// One record of a market file as read, before unchanged prices are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub tick: Tick,
    /// The file's own time of the record (milliseconds).
    pub ts: TimeMs,
    /// The traded quantity of a trade record; `None` for quotes and klines, or when absent.
    pub qty: Option<Decimal>,
    /// Whether the taker of a trade record sold (`is_buyer_maker`, or `taker_side` `sell`);
    /// `None` when the file does not say.
    pub taker_sold: Option<bool>,
    /// The best quotes of a quote record.
    pub quote: Option<Quote>,
    /// 1-based line number in the file.
    pub line: usize,
}

/// A market file read one record at a time, in constant memory: a day of trades streams
/// through the simulator without being held. Each record is validated as it is read; the
/// first error names file, line and field and ends the stream.
pub struct Records<R> {
    file: String,
    input: R,
    layout: Layout,
    qty: Option<usize>,
    extra: Extra,
    /// A headerless kline file's first record (the reader's current one), read to detect the
    /// layout, still to be used: its line.
    first: Option<usize>,
    line_no: usize,
    buf: Vec<u8>,
    /// The CSV reader the scenario file's is (quoting as RFC 4180 says), fed line by line.
    csv: RecordReader,
    start: Option<u64>,
    last_ts: u64,
    done: bool,
}

impl Records<std::io::BufReader<std::fs::File>> {
    /// Opens a market file for reading record by record; errors name the file as [`load`]'s do.
    pub fn open(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let f = std::fs::File::open(path)
            .map_err(|e| err(&file, 0, "file", format!("cannot read: {e}")))?;
        Records::new(&file, std::io::BufReader::with_capacity(1 << 16, f))
    }
}

/// Reads the next record of `input` into `csv`, a physical line at a time (each within the
/// line bound); lines blank outside a record are skipped. Returns the record's first line, or
/// `None` at the end of the file.
fn next_fields<R: std::io::BufRead>(
    file: &str,
    input: &mut R,
    buf: &mut Vec<u8>,
    csv: &mut RecordReader,
    line_no: &mut usize,
) -> Option<Result<usize, ScenarioError>> {
    let mut first = None;
    let mut bytes = 0usize;
    loop {
        let more = match read_line(input, buf) {
            Ok(more) => more,
            Err(e) => return Some(Err(err(file, *line_no + 1, "file", e.to_string()))),
        };
        if more {
            *line_no += 1;
            let Ok(text) = std::str::from_utf8(buf) else {
                return Some(Err(err(file, *line_no, "file", "not valid UTF-8")));
            };
            if first.is_none() && text.trim().is_empty() {
                continue;
            }
            // A quoted field may hold line breaks, but a record is bounded like a line.
            bytes += buf.len();
            if bytes > MAX_LINE_BYTES + 2 {
                return Some(Err(err(
                    file,
                    *line_no,
                    "file",
                    format!("a record is longer than {MAX_LINE_BYTES} bytes"),
                )));
            }
            first.get_or_insert(*line_no);
        }
        // An empty feed is the end of the file: it ends a record that has no line break.
        let feed: &[u8] = if more { buf } else { &[] };
        match csv.read(feed).0 {
            Read::Record => return first.map(Ok),
            Read::NeedInput => {}
            Read::End => return None,
        }
    }
}

/// Field `i` of the record in `csv` as text, trimmed (its line was checked to be UTF-8).
fn cell(csv: &RecordReader, i: usize) -> Option<&str> {
    csv.field(i)
        .and_then(|f| std::str::from_utf8(f).ok())
        .map(str::trim)
}

impl<R: std::io::BufRead> Records<R> {
    /// Reads the header (or, for headerless klines, the first record) and the layout.
    pub fn new(file: &str, mut input: R) -> Result<Self, ScenarioError> {
        let mut line_no = 0;
        let mut buf = Vec::new();
        let mut csv = RecordReader::new(csv_core::Reader::new());
        let line_no_first = match next_fields(file, &mut input, &mut buf, &mut csv, &mut line_no) {
            Some(r) => r?,
            None => return Err(err(file, 1, "header", "the file is empty")),
        };
        let first_cells: Vec<&str> = (0..csv.len())
            .map(|i| cell(&csv, i).unwrap_or(""))
            .collect();
        // A headerless Binance kline file starts with a number: open_time, ..., close at 4.
        let headerless = first_cells
            .first()
            .is_some_and(|c| c.parse::<u64>().is_ok());
        let mut extra = Extra::default();
        let (layout, qty) = if headerless {
            if first_cells.len() < 5 {
                return Err(err(
                    file,
                    line_no_first,
                    "columns",
                    "a kline row needs at least 5 columns",
                ));
            }
            (Layout::Price { time: 0, price: 4 }, None)
        } else {
            let header: Vec<String> = first_cells.iter().map(|c| c.to_ascii_lowercase()).collect();
            let layout = layout(&header).ok_or_else(|| {
                err(
                    file,
                    line_no_first,
                    "header",
                    "expected a time column (timestamp, time_ms, open_time) and price, close, or bid_price and ask_price",
                )
            })?;
            let qty = match layout {
                Layout::Price { .. } => find(&header, &["qty", "amount", "quantity"]),
                Layout::Quotes { .. } => None,
            };
            extra = Extra {
                buyer_maker: find(&header, &["is_buyer_maker"]),
                taker_side: find(&header, &["taker_side", "side"]),
                bid_qty: find(&header, &["bid_qty", "bid_size"]),
                ask_qty: find(&header, &["ask_qty", "ask_size"]),
            };
            (layout, qty)
        };
        Ok(Records {
            file: file.to_string(),
            input,
            layout,
            qty,
            extra,
            first: headerless.then_some(line_no_first),
            line_no,
            buf,
            csv,
            start: None,
            last_ts: 0,
            done: false,
        })
    }

    /// The record the CSV reader holds, which began on `line`.
    fn record(&mut self, line: usize) -> Result<Record, ScenarioError> {
        let file = self.file.as_str();
        let csv = &self.csv;
        let get = |i: usize, name: &str| -> Result<&str, ScenarioError> {
            cell(csv, i).ok_or_else(|| err(file, line, name, "missing column"))
        };
        let dec = |i: usize, name: &str| -> Result<Decimal, ScenarioError> {
            let s = get(i, name)?;
            match Decimal::from_str(s).or_else(|_| Decimal::from_scientific(s)) {
                Ok(d) if d > Decimal::ZERO => Ok(d),
                _ => Err(err(
                    file,
                    line,
                    name,
                    format!("{} must be a positive decimal", show(s)),
                )),
            }
        };
        let mut quote = None;
        let (time_i, mid, spread) = match self.layout {
            Layout::Price { time, price } => (time, dec(price, "price")?, None),
            Layout::Quotes { time, bid, ask } => {
                let (b, a) = (dec(bid, "bid_price")?, dec(ask, "ask_price")?);
                if a < b {
                    return Err(err(
                        file,
                        line,
                        "ask_price",
                        "the quote is crossed (ask below bid)",
                    ));
                }
                let sizes = match (self.extra.bid_qty, self.extra.ask_qty) {
                    (Some(bq), Some(aq)) => Some((dec(bq, "bid_qty")?, dec(aq, "ask_qty")?)),
                    _ => None,
                };
                quote = Some(Quote {
                    bid: b,
                    ask: a,
                    sizes,
                });
                let mid = (a + b) / Decimal::TWO;
                let spread = (a - b) / mid * Decimal::from(10_000);
                (time, mid, Some(spread.round_dp(4)))
            }
        };
        let qty = match self.qty {
            Some(i) => Some(dec(i, "qty")?),
            None => None,
        };
        let taker_sold = match (self.extra.buyer_maker, self.extra.taker_side) {
            (Some(i), _) => Some(match get(i, "is_buyer_maker")? {
                v if v.eq_ignore_ascii_case("true") => true,
                v if v.eq_ignore_ascii_case("false") => false,
                v => {
                    return Err(err(
                        file,
                        line,
                        "is_buyer_maker",
                        format!("{} is neither true nor false", show(v)),
                    ))
                }
            }),
            (None, Some(i)) => Some(match get(i, "taker_side")? {
                v if v.eq_ignore_ascii_case("sell") => true,
                v if v.eq_ignore_ascii_case("buy") => false,
                v => {
                    return Err(err(
                        file,
                        line,
                        "taker_side",
                        format!("{} is neither buy nor sell", show(v)),
                    ))
                }
            }),
            _ => None,
        };
        let raw = get(time_i, "time")?;
        let mut ts: u64 = raw.parse().map_err(|_| {
            err(
                file,
                line,
                "time",
                format!("{} is not a whole number of milliseconds", show(raw)),
            )
        })?;
        if ts > 100_000_000_000_000 {
            ts /= 1000; // microseconds, as in Binance's newer files
        }
        if ts > MAX_EPOCH_MS {
            return Err(err(
                file,
                line,
                "time",
                format!(
                    "{} is after the year 2200 (at most {MAX_EPOCH_MS} ms, or that in microseconds)",
                    show(raw)
                ),
            ));
        }
        if ts < self.last_ts {
            return Err(err(
                file,
                line,
                "time",
                format!("{ts} goes back before {}", self.last_ts),
            ));
        }
        if self.start.is_some() && ts - self.last_ts > MAX_GAP_MS {
            return Err(err(
                file,
                line,
                "time",
                format!(
                    "{ts} is {} ms after the record before it ({}); at most 7 days ({MAX_GAP_MS} ms) may separate two records",
                    ts - self.last_ts,
                    self.last_ts
                ),
            ));
        }
        self.last_ts = ts;
        let t0 = *self.start.get_or_insert(ts);
        Ok(Record {
            tick: Tick {
                t_ms: ts - t0,
                mid,
                spread_bps: spread,
            },
            ts,
            qty,
            taker_sold,
            quote,
            line,
        })
    }
}

impl<R: std::io::BufRead> Iterator for Records<R> {
    type Item = Result<Record, ScenarioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match self.first.take() {
            Some(line) => self.record(line),
            None => match next_fields(
                &self.file,
                &mut self.input,
                &mut self.buf,
                &mut self.csv,
                &mut self.line_no,
            ) {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => Err(e),
                Some(Ok(line)) => self.record(line),
            },
        };
        self.done = r.is_err();
        Some(r)
    }
}

impl Scenario {
    /// The market symbol a `--market` file drives: `named`, or the only symbol with `price` rows.
    pub fn market_symbol(&self, named: Option<&Symbol>) -> Result<Symbol, String> {
        if let Some(s) = named {
            if !self.symbols().contains(&s) {
                return Err(format!(
                    "--market-symbol {s}: the scenario never trades or prices {s}"
                ));
            }
            return Ok(s.clone());
        }
        let mut found: Vec<&Symbol> = Vec::new();
        for r in &self.rows {
            if let RowKind::Price { symbol, .. } = &r.kind {
                if !found.contains(&symbol) {
                    found.push(symbol);
                }
            }
        }
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => {
                Err("the scenario has no price rows; name the market with --market-symbol".into())
            }
            _ => Err("the scenario prices several symbols; name one with --market-symbol".into()),
        }
    }

    /// Every symbol the scenario's rows name, in order of first appearance.
    pub fn symbols(&self) -> Vec<&Symbol> {
        let mut found: Vec<&Symbol> = Vec::new();
        for r in &self.rows {
            let symbol = match &r.kind {
                RowKind::Price { symbol, .. } | RowKind::Signal { symbol, .. } => symbol,
                RowKind::Intent { intent, .. } => intent.symbol(),
                RowKind::Fault {
                    symbol: Some(symbol),
                    ..
                } => symbol,
                _ => continue,
            };
            if !found.contains(&symbol) {
                found.push(symbol);
            }
        }
        found
    }

    /// Refuses a recorded market whose prices are more than ten times off the scenario's own
    /// for `symbol` (its first price row, else its first reference price): most likely the
    /// tape of another market.
    pub fn check_market_scale(&self, symbol: &Symbol, ticks: &[Tick]) -> Result<(), String> {
        let own = self.rows.iter().find_map(|r| match &r.kind {
            RowKind::Price { symbol: s, mid, .. } if s == symbol => Some(*mid),
            RowKind::Intent { intent, .. } if intent.symbol() == symbol => Some(intent.ref_price()),
            RowKind::Signal {
                symbol: s,
                ref_price: Some(p),
                ..
            } if s == symbol => Some(*p),
            _ => None,
        });
        let (Some(own), Some(first)) = (own, ticks.first().map(|t| t.mid)) else {
            return Ok(());
        };
        let ratio = (own / first).max(first / own);
        if ratio > Decimal::TEN {
            return Err(format!(
                "the market file starts at {first}, {} times off the scenario's {symbol} price {own}: is it another market's tape?",
                ratio.round()
            ));
        }
        Ok(())
    }

    /// The first intent or signal on a symbol that no `price` row (or recorded market) prices:
    /// it could never trade.
    pub fn check_priced(&self) -> Result<(), String> {
        let priced: Vec<&Symbol> = self
            .rows
            .iter()
            .filter_map(|r| match &r.kind {
                RowKind::Price { symbol, .. } => Some(symbol),
                _ => None,
            })
            .collect();
        for r in &self.rows {
            let symbol = match &r.kind {
                RowKind::Intent { intent, .. } => intent.symbol(),
                RowKind::Signal { symbol, .. } => symbol,
                _ => continue,
            };
            if !priced.contains(&symbol) {
                return Err(format!(
                    "line {}: {symbol} has no price row (nor a --market file), so nothing on it can trade",
                    r.line
                ));
            }
        }
        Ok(())
    }

    /// Things that run but are likely not what the author meant, one line each.
    pub fn warnings(&self) -> Vec<String> {
        let defaults = crate::exchange::sim::VenueConfig::default().default_rules;
        let r = self.venue.default_rules;
        let mut out = Vec::new();
        if r != defaults {
            return out;
        }
        for symbol in self.symbols() {
            if symbol.as_str() != "BTC/USDT" && !self.venue.markets.contains_key(symbol) {
                out.push(format!(
                    "{symbol} has no rules of its own (a config row with symbol {symbol}), so it trades on Binance BTC/USDT's: tick {}, step {}, min notional {}, fee {} bps",
                    r.tick_size, r.step_size, r.min_notional, r.fee_bps
                ));
            }
        }
        out
    }

    /// Makes a recorded tape drive the living market of `symbol` ([`crate::flow::tape`]): its
    /// trades are the market's trades and its quotes the best levels. The `price` rows of
    /// `symbol` give way to one at 0, at the tape's first price (spread and depth from the
    /// scenario's first row), which places the book before the tape's first record plays.
    pub fn play_tape(&mut self, symbol: &Symbol, ticks: &[Tick], tape: crate::flow::tape::Tape) {
        self.replay_market(symbol, &ticks[..ticks.len().min(1)]);
        self.venue.market.live = true;
        self.venue.tapes.insert(symbol.clone(), tape);
    }

    /// Replaces the `price` rows of `symbol` with the recorded path. The scenario's first
    /// price row for the symbol still gives the spread and depth of the book.
    pub fn replay_market(&mut self, symbol: &Symbol, ticks: &[Tick]) {
        let (mut spread, mut depth) = (Decimal::TWO, Decimal::ONE);
        if let Some(RowKind::Price {
            spread_bps,
            depth: d,
            ..
        }) = self
            .rows
            .iter()
            .map(|r| &r.kind)
            .find(|k| matches!(k, RowKind::Price { symbol: s, .. } if s == symbol))
        {
            spread = *spread_bps;
            depth = *d;
        }
        self.rows
            .retain(|r| !matches!(&r.kind, RowKind::Price { symbol: s, .. } if s == symbol));
        for t in ticks {
            self.rows.push(Row {
                line: 0,
                t_ms: t.t_ms,
                kind: RowKind::Price {
                    symbol: symbol.clone(),
                    mid: t.mid,
                    spread_bps: t.spread_bps.unwrap_or(spread),
                    depth,
                },
            });
        }
        self.rows.sort_by_key(|r| r.t_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn trades_become_price_changes_relative_to_the_first_record() {
        let csv = "timestamp,price,qty\n1000,100.5,1\n1005,100.5,2\n1010,101,1\n";
        let t = parse("m.csv", csv.as_bytes()).unwrap();
        assert_eq!(t.len(), 2, "an unchanged price is no event");
        assert_eq!((t[0].t_ms, t[0].mid), (0, d("100.5")));
        assert_eq!((t[1].t_ms, t[1].mid), (10, d("101")));
    }

    #[test]
    fn headerless_binance_klines_use_open_time_and_close() {
        let csv = "1570752000000,0.001,0.002,0.0005,0.0015,10,1570752059999,1,1,1,1,0\n\
                   1570752060000000,0.0015,0.002,0.001,0.0012,10,1570752119999,1,1,1,1,0\n";
        let t = parse("k.csv", csv.as_bytes()).unwrap();
        assert_eq!(t[0].mid, d("0.0015"));
        assert_eq!(
            (t[1].t_ms, t[1].mid),
            (60_000, d("0.0012")),
            "microseconds scaled"
        );
    }

    #[test]
    fn quotes_give_mid_and_spread() {
        let csv = "time_ms,time_utc,bid_price,bid_qty,ask_price,ask_qty\n5,x,99,1,101,1\n";
        let t = parse("q.csv", csv.as_bytes()).unwrap();
        assert_eq!(t[0].mid, d("100"));
        assert_eq!(t[0].spread_bps, Some(d("200")));
    }

    #[test]
    fn bad_records_name_file_line_and_field() {
        let cases = [
            ("", "m.csv:1: header:"),
            ("a,b\n1,2\n", "m.csv:1: header:"),
            ("timestamp,price\n1,x\n", "m.csv:2: price:"),
            ("timestamp,price\n1,-5\n", "m.csv:2: price:"),
            ("timestamp,price\n\n5,1\n3,1\n", "m.csv:4: time:"),
            ("timestamp,price\nabc,1\n", "m.csv:2: time:"),
            ("timestamp,price\n1\n", "m.csv:2: price:"),
            (
                "time_ms,bid_price,ask_price\n1,101,99\n",
                "m.csv:2: ask_price:",
            ),
        ];
        for (csv, want) in cases {
            let e = parse("m.csv", csv.as_bytes()).unwrap_err().to_string();
            assert!(e.starts_with(want), "{csv:?}: {e}");
        }
        let e = parse("m.csv", b"timestamp,price\n1,\xff\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.csv:2: file:"), "{e}");
    }

    #[test]
    fn a_time_past_the_year_2200_or_a_week_long_gap_is_refused() {
        // The second trade at 10^18 ms made a replay run for ages of market time.
        let e = parse(
            "m.csv",
            b"time_ms,price\n1610064000278,1\n1000000000000000000,2\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("m.csv:3: time:") && e.contains("2200"), "{e}");
        let e = parse("m.csv", b"time_ms,price\n7258118400001,1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.csv:2: time:"), "{e}");
        let week = MAX_GAP_MS;
        let ok = format!("time_ms,price\n5,1\n{},2\n", 5 + week);
        assert_eq!(parse("m.csv", ok.as_bytes()).unwrap()[1].t_ms, week);
        let gap = format!("time_ms,price\n5,1\n6,2\n{},3\n", 7 + week);
        let e = parse("m.csv", gap.as_bytes()).unwrap_err().to_string();
        assert!(
            e.starts_with("m.csv:4: time:") && e.contains("7 days"),
            "{e}"
        );
    }

    #[test]
    fn a_line_longer_than_the_bound_is_refused_naming_its_line() {
        let mut csv = b"time_ms,price\n5,1\n6,".to_vec();
        csv.extend(std::iter::repeat_n(b'1', crate::input::MAX_LINE_BYTES));
        csv.extend_from_slice(b"\n7,2\n");
        let e = parse("m.csv", &csv).unwrap_err().to_string();
        assert!(
            e.starts_with("m.csv:3: file:") && e.contains("longer than"),
            "{e}"
        );
        // A header of a megabyte too.
        let mut csv = vec![b'a'; crate::input::MAX_LINE_BYTES + 1];
        csv.extend_from_slice(b"\n1,2\n");
        let e = parse("m.csv", &csv).unwrap_err().to_string();
        assert!(e.starts_with("m.csv:1: file:"), "{e}");
    }

    #[test]
    fn a_quoted_market_cell_reads_as_the_unquoted_one() {
        let plain = "time_ms,price,qty,note\n1610064000278,31000.5,1,x\n1610064000300,31001,2,y\n";
        let quoted =
            "\"time_ms\",\"price\",qty,note\n\"1610064000278\",\"31000.5\",\"1\",\"a, b\"\n\
                      1610064000300,\" 31001\",2,\"two\nlines, \"\"quoted\"\"\"\n";
        let read = |csv: &str| {
            Records::new("m.csv", csv.as_bytes())
                .unwrap()
                .collect::<Result<Vec<Record>, _>>()
                .unwrap()
        };
        let (p, q) = (read(plain), read(quoted));
        assert_eq!(p.len(), 2);
        assert_eq!(
            p.iter().map(|r| (r.tick, r.ts, r.qty)).collect::<Vec<_>>(),
            q.iter().map(|r| (r.tick, r.ts, r.qty)).collect::<Vec<_>>()
        );
        assert_eq!(p[1].tick.mid, d("31001"));
        // A record's line is where it begins, also after a quoted line break.
        let e = parse("m.csv", b"time_ms,price,note\n5,1,\"a\nb\"\n6,x,c\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.csv:4: price:"), "{e}");
    }

    #[test]
    fn a_huge_value_is_quoted_cut_in_the_error() {
        let csv = format!("time_ms,price\n5,{}\n", "9x".repeat(50_000));
        let e = parse("m.csv", csv.as_bytes()).unwrap_err().to_string();
        assert!(e.len() < 200 && e.contains('…'), "{} bytes", e.len());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse("m.csv", &bytes);
        }

        #[test]
        fn mangled_records_never_panic(cut in 0usize..80, byte in proptest::prelude::any::<u8>()) {
            let mut b = b"timestamp,price,qty\n1000,100.5,1\n1005,100.7,2\n".to_vec();
            let i = cut % b.len();
            b[i] = byte;
            let _ = parse("m.csv", &b);
        }
    }

    #[test]
    fn the_shared_binance_trades_file_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/market/binance_spot_btcusdt_trades_20210108.csv");
        // The data lives beside the repository (shared/), not in it.
        assert!(path.exists(), "{} is missing", path.display());
        let t = load(&path).unwrap();
        assert!(t.len() > 100);
        assert_eq!(t[0].t_ms, 0);
        assert_eq!(t[0].mid, d("39432.48"));
        assert!(t
            .iter()
            .all(|x| x.mid >= d("39430.30") && x.mid <= d("39550.00")));
    }
}

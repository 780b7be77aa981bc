//! One pass over an audit log: per-intent facts, the checker's problems, and compact event
//! lists for the charts, with nothing kept per line beyond a few bytes.

use std::collections::BTreeMap;
use std::io::BufRead;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap as HashMap;

use crate::audit::{
    parse_audit_line, read_line_with, AuditLine, Checker, Detail, EndWatch, LineView, LogEnd,
    Problem, ReadError,
};
use crate::model::{Side, TimeMs};
use crate::router::State;

/// A price event for the price chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub t: TimeMs,
    pub price: f64,
    pub symbol: u16,
}

/// What the log says of one intent.
#[derive(Debug, Clone)]
pub struct IntentFacts {
    pub new_t: TimeMs,
    pub symbol: u16,
    pub side: Side,
    pub qty: Decimal,
    pub ref_price: Decimal,
    pub cap: Option<Decimal>,
    pub first_reply_ms: Option<u64>,
    pub fill_t: Option<TimeMs>,
    pub end_t: Option<TimeMs>,
    pub state: State,
    pub orders: u32,
    pub retries: u32,
    pub filled: Decimal,
    pub avg_price: Option<Decimal>,
    /// The fees `RECONCILED` states, in `fee_asset` (the quote asset in a log that names none).
    pub fee: Decimal,
    pub fee_asset: Option<String>,
}

/// How an unknown outcome ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnknownEnd {
    /// A query found the order (filled, partly filled or cancelled).
    Found,
    /// The order was never placed: the router went on to its next attempt or gave up.
    NeverPlaced,
    /// Still unknown when the log ends.
    Open,
}

/// The folded log.
#[derive(Debug, Default)]
pub struct Fold {
    pub lines: usize,
    pub symbols: Vec<String>,
    pub intents: Vec<IntentFacts>,
    index: HashMap<String, usize>,
    /// Per client order id still waiting for its first reply: (sent at, limit, symbol).
    pending: HashMap<String, (TimeMs, f64, u16)>,
    /// Per intent index, the unknown outcome being resolved (since when).
    unknown: HashMap<usize, TimeMs>,
    pub unknown_ends: BTreeMap<UnknownEnd, u64>,
    pub unknown_causes: BTreeMap<String, u64>,
    pub sent: Vec<Mark>,
    pub fills: Vec<Mark>,
    pub cancels: Vec<Mark>,
    pub unknowns: Vec<Mark>,
    /// Every state change: (t, intent, its previous state, new state); an intent's start is
    /// `NEW -> NEW`.
    pub changes: Vec<(TimeMs, u32, State, State)>,
    /// Trouble seen over time: (t, kind index into [`TROUBLE`]).
    pub trouble: Vec<(TimeMs, u8)>,
    /// Reservations taken and given back: (t, asset, signed amount).
    pub reserved: Vec<(TimeMs, u16, f64)>,
    pub assets: Vec<String>,
    /// How the run's bookings moved each asset (the sum of `RECONCILED`'s `booked`).
    pub booked: BTreeMap<String, Decimal>,
    /// Per intent: its reservation (asset, amount), to give back when it ends.
    holding: HashMap<usize, (u16, f64)>,
    pub t_min: Option<TimeMs>,
    pub t_max: TimeMs,
    pub torn: Option<usize>,
    /// How the log ends: whole, torn or damaged, as recovery would judge it.
    pub end: LogEnd,
    watch: EndWatch,
    /// Lines that could not be read (a torn tail not counted), and the first hundred reasons.
    pub bad: usize,
    pub unreadable: Vec<String>,
    /// Of the first hundred lines, how many could not be read.
    pub bad_early: usize,
    checker: Checker,
    pub problems: Vec<Problem>,
    /// Raw text of lines with problems, by line number (filled in a second look).
    pub problem_lines: BTreeMap<usize, String>,
}

/// The kinds of trouble the log shows, in chart order.
pub const TROUBLE: [&str; 6] = [
    "timeout",
    "server_error",
    "rate_limited",
    "rejected",
    "duplicate_client_order_id",
    "other",
];

fn trouble_kind(s: &str) -> u8 {
    TROUBLE
        .iter()
        .position(|k| *k == s)
        .unwrap_or(TROUBLE.len() - 1) as u8
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn idx(list: &mut Vec<String>, name: &str) -> u16 {
    match list.iter().position(|s| s == name) {
        Some(i) => i as u16,
        None => {
            list.push(name.to_string());
            (list.len() - 1) as u16
        }
    }
}

impl Fold {
    /// Reads a whole log from memory.
    pub fn of(bytes: &[u8]) -> Fold {
        let mut fold = Fold::default();
        // Reading from memory cannot fail.
        let _ = fold.read(bytes);
        let _ = fold.finish(bytes);
        fold
    }

    /// Reads a log one line at a time from `input`, then looks up the lines with problems in
    /// `again` (the same log from its start): memory stays at what the charts keep, however
    /// long the log.
    pub fn stream(
        input: impl BufRead,
        again: impl FnOnce() -> std::io::Result<Box<dyn BufRead>>,
    ) -> std::io::Result<Fold> {
        let mut fold = Fold::default();
        fold.read(input)?;
        // Only the lines up to the last one with a problem are read again, if any.
        fold.finish(again()?)?;
        Ok(fold)
    }

    fn read(&mut self, mut input: impl BufRead) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(512);
        let mut n = 0;
        let mut offset = 0u64;
        loop {
            if !crate::input::read_line_io(&mut input, &mut buf, n + 1)? {
                self.end = std::mem::take(&mut self.watch).end();
                return Ok(());
            }
            n += 1;
            let terminated = buf.last() == Some(&b'\n');
            let line = if terminated {
                &buf[..buf.len() - 1]
            } else {
                &buf[..]
            };
            // Only the last line can lack its newline.
            self.line(n, offset, line, !terminated);
            offset += buf.len() as u64;
        }
    }

    fn line(&mut self, n: usize, offset: u64, raw: &[u8], unterminated: bool) {
        let Some(parsed) = read_line_with(n, raw, unterminated, parse_audit_line) else {
            return;
        };
        self.lines += 1;
        self.watch.note(offset, parsed.as_ref().map(|_| ()));
        match parsed {
            Ok(l) => {
                let mut v = LineView::from(&l);
                v.line = n;
                self.checker.observe_view(v);
                self.observe(&l);
            }
            Err(e) => {
                if matches!(e, ReadError::Truncated { .. }) {
                    self.torn = Some(n);
                } else {
                    self.bad += 1;
                    if self.lines <= 100 {
                        self.bad_early += 1;
                    }
                    if self.unreadable.len() < 100 {
                        self.unreadable.push(e.to_string());
                    }
                }
                self.checker.unreadable(e);
            }
        }
    }

    fn finish(&mut self, mut again: impl BufRead) -> std::io::Result<()> {
        let checker = std::mem::take(&mut self.checker);
        self.problems = checker.finish();
        let wanted: std::collections::BTreeSet<usize> = self
            .problems
            .iter()
            .take(100)
            .map(|p| p.line)
            .filter(|&l| l > 0)
            .collect();
        if let Some(&last) = wanted.last() {
            let mut buf = Vec::with_capacity(512);
            for n in 1..=last {
                if !crate::input::read_line_io(&mut again, &mut buf, n)? {
                    break;
                }
                if wanted.contains(&n) {
                    let text = String::from_utf8_lossy(buf.strip_suffix(b"\n").unwrap_or(&buf));
                    self.problem_lines
                        .insert(n, text.chars().take(400).collect());
                }
            }
        }
        let open = std::mem::take(&mut self.unknown).len() as u64;
        if open > 0 {
            *self.unknown_ends.entry(UnknownEnd::Open).or_default() += open;
        }
        Ok(())
    }

    fn observe(&mut self, l: &AuditLine) {
        let t = l.t_ms;
        self.t_min = Some(self.t_min.map_or(t, |m| m.min(t)));
        self.t_max = self.t_max.max(t);
        if let Detail::New {
            symbol,
            side,
            qty,
            ref_price,
        } = &l.detail
        {
            if !self.index.contains_key(l.intent_id.as_str()) {
                let s = idx(&mut self.symbols, symbol.as_str());
                self.index
                    .insert(l.intent_id.as_str().to_string(), self.intents.len());
                self.intents.push(IntentFacts {
                    new_t: t,
                    symbol: s,
                    side: *side,
                    qty: *qty,
                    ref_price: *ref_price,
                    cap: None,
                    first_reply_ms: None,
                    fill_t: None,
                    end_t: None,
                    state: State::New,
                    orders: 0,
                    retries: 0,
                    filled: Decimal::ZERO,
                    avg_price: None,
                    fee: Decimal::ZERO,
                    fee_asset: None,
                });
                self.changes
                    .push((t, (self.intents.len() - 1) as u32, State::New, State::New));
            }
            return;
        }
        let Some(&i) = self.index.get(l.intent_id.as_str()) else {
            return;
        };
        let sym = self.intents[i].symbol;
        let transition = !matches!(
            l.detail,
            Detail::DuplicateIgnored
                | Detail::SlippageGuardApplied { .. }
                | Detail::QueryPending { .. }
                | Detail::CancelRequested { .. }
                | Detail::TradesPending { .. }
                | Detail::Recovered
        );
        if transition && l.state != self.intents[i].state {
            let from = self.intents[i].state;
            self.changes.push((t, i as u32, from, l.state));
            self.intents[i].state = l.state;
            if self.unknown.contains_key(&i) {
                let end = match l.state {
                    State::Filled | State::Partial | State::Canceled => Some(UnknownEnd::Found),
                    State::Retry | State::FailedFinal | State::Error => {
                        Some(UnknownEnd::NeverPlaced)
                    }
                    _ => None,
                };
                if let Some(e) = end {
                    self.unknown.remove(&i);
                    *self.unknown_ends.entry(e).or_default() += 1;
                }
            }
        }
        let first_reply = |fold: &mut Fold, coid: &str| {
            if let Some((sent_t, _, _)) = fold.pending.remove(coid) {
                let facts = &mut fold.intents[i];
                if facts.first_reply_ms.is_none() {
                    facts.first_reply_ms = Some(t.saturating_sub(sent_t));
                }
            }
        };
        match &l.detail {
            Detail::Reserved {
                reserved_price,
                asset,
                amount,
                ..
            } => {
                self.intents[i].cap = Some(*reserved_price);
                let a = idx(&mut self.assets, asset.as_str());
                let amount = f(*amount);
                self.reserved.push((t, a, amount));
                self.holding.insert(i, (a, amount));
            }
            Detail::Sent {
                client_order_id,
                limit_price,
                ..
            } => {
                self.intents[i].orders += 1;
                let price = f(*limit_price);
                self.pending
                    .insert(client_order_id.as_str().to_string(), (t, price, sym));
                self.sent.push(Mark {
                    t,
                    price,
                    symbol: sym,
                });
            }
            Detail::Order {
                client_order_id,
                filled_qty,
                avg_price,
                ..
            } => {
                let coid = client_order_id.as_str().to_string();
                let limit = self.pending.get(&coid).map(|p| p.1);
                first_reply(self, &coid);
                let price = avg_price.map(f).or(limit).unwrap_or(0.0);
                let mark = Mark {
                    t,
                    price,
                    symbol: sym,
                };
                if l.state == State::Canceled {
                    self.cancels.push(mark);
                } else if *filled_qty > Decimal::ZERO {
                    self.fills.push(mark);
                    let facts = &mut self.intents[i];
                    facts.fill_t.get_or_insert(t);
                }
            }
            Detail::Error {
                client_order_id,
                error,
                ..
            } => {
                first_reply(self, client_order_id.as_str());
                self.trouble.push((t, trouble_kind(error)));
            }
            Detail::Unknown {
                client_order_id,
                cause,
            } => {
                let limit = self.pending.get(client_order_id.as_str()).map(|p| p.1);
                first_reply(self, client_order_id.as_str());
                self.trouble.push((t, trouble_kind(cause)));
                *self.unknown_causes.entry(cause.to_string()).or_default() += 1;
                if let Some(price) = limit {
                    self.unknowns.push(Mark {
                        t,
                        price,
                        symbol: sym,
                    });
                }
                self.unknown.insert(i, t);
            }
            Detail::Retry { .. } => self.intents[i].retries += 1,
            Detail::FailedFinal { .. } | Detail::Failed { .. } => self.end(i, t),
            Detail::PartialSuccess { filled_qty, .. } => {
                self.intents[i].filled = *filled_qty;
                self.end(i, t);
            }
            Detail::Reconciled {
                filled_qty,
                avg_price,
                fee,
                fee_asset,
                booked,
                ..
            } => {
                for (asset, delta) in booked.iter() {
                    *self.booked.entry(asset.to_string()).or_default() += *delta;
                }
                let facts = &mut self.intents[i];
                facts.filled = *filled_qty;
                facts.avg_price = Some(*avg_price);
                facts.fee = *fee;
                facts.fee_asset = fee_asset.as_ref().map(|a| a.to_string());
                self.end(i, t);
            }
            _ => {}
        }
    }

    /// Per intent, its states after `NEW` with when each began, in log order.
    pub fn trails(&self) -> Vec<Vec<(TimeMs, State)>> {
        let mut out = vec![Vec::new(); self.intents.len()];
        for &(t, i, from, to) in &self.changes {
            if from != to {
                out[i as usize].push((t, to));
            }
        }
        out
    }

    fn end(&mut self, i: usize, t: TimeMs) {
        self.intents[i].end_t = Some(t);
        if let Some((a, amount)) = self.holding.remove(&i) {
            self.reserved.push((t, a, -amount));
        }
    }
}

//! The bot audit: what a client of the venue lost track of, proved from the venue's
//! `--record` (docs/venue.md, "Bot audit"). Sans-IO: [`audit`] takes the record's bytes and
//! returns, per client (API key, or address for requests sent without one), each finding with
//! the requests that prove it, and a summary with the money at risk.
//!
//! Every rule only flags what the record proves: an order the client asked about, however
//! late, is never an orphan; when the record cannot tell, the client gets the benefit.

pub mod html;
mod hygiene;
mod orders;
pub mod record;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::Serialize;

use record::{Delivery, Line};

/// A record that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("line {line}: {field}: {message}")]
    Line {
        line: usize,
        field: String,
        message: String,
    },
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Executed although the client never got an answer that said so, and never asked.
    Orphan,
    /// Placed again under a new client id after a placement whose outcome was unknown and
    /// that the client never asked about.
    DoubleOrder,
    /// A client id used again after its first order had executed: a second fill.
    SameIdRetry,
    /// Resting on the book although the client never got the answer and never asked.
    UnknownOpenOrder,
    /// Requests sent while a 429's `Retry-After` ran.
    IgnoredRetryAfter,
    /// Requests sent during a 429's wait that earned a ban (418).
    Banned,
    /// Requests sent while banned (418).
    IgnoredBan,
    /// Three or more `-1021` within a minute with no correction between.
    ClockDrift,
    /// The same order sent again after a refusal for the balance (`-2010`), nothing changed.
    RepeatedBalanceRefusal,
    /// A cancel (`-2011`) of an order the client had been told was final.
    CancelOfFinal,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Orphan,
        Kind::DoubleOrder,
        Kind::SameIdRetry,
        Kind::UnknownOpenOrder,
        Kind::IgnoredRetryAfter,
        Kind::Banned,
        Kind::IgnoredBan,
        Kind::ClockDrift,
        Kind::RepeatedBalanceRefusal,
        Kind::CancelOfFinal,
    ];

    /// The name in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Orphan => "orphan",
            Kind::DoubleOrder => "double_order",
            Kind::SameIdRetry => "same_id_retry",
            Kind::UnknownOpenOrder => "unknown_open_order",
            Kind::IgnoredRetryAfter => "ignored_retry_after",
            Kind::Banned => "banned",
            Kind::IgnoredBan => "ignored_ban",
            Kind::ClockDrift => "clock_drift",
            Kind::RepeatedBalanceRefusal => "repeated_balance_refusal",
            Kind::CancelOfFinal => "cancel_of_final",
        }
    }

    /// A heading for people.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Orphan => "Orphaned order",
            Kind::DoubleOrder => "Probable double order",
            Kind::SameIdRetry => "Client id reused after a fill",
            Kind::UnknownOpenOrder => "Order resting unseen",
            Kind::IgnoredRetryAfter => "Retry-After ignored",
            Kind::Banned => "Ban earned",
            Kind::IgnoredBan => "Sent while banned",
            Kind::ClockDrift => "Clock drift not corrected",
            Kind::RepeatedBalanceRefusal => "Balance refusal repeated",
            Kind::CancelOfFinal => "Cancel of a finished order",
        }
    }
}

/// One request a finding rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The venue run (1 for the first) and the request's `seq` in it.
    pub run: u32,
    pub seq: u64,
    pub t_ms: u64,
    /// The line of the record file.
    pub line: usize,
    pub method: String,
    pub path: String,
    pub client_order_id: Option<String>,
    /// What the request asked and what the client got.
    pub note: String,
}

/// One thing the client got wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub symbol: Option<String>,
    pub client_order_id: Option<String>,
    /// Price × quantity of the executions this finding puts at risk (quote currency).
    pub notional: Option<String>,
    /// Why it matters, in one sentence.
    pub why: String,
    pub evidence: Vec<Evidence>,
}

/// Money at risk on one market: executions the client does not know it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AtRisk {
    pub symbol: String,
    pub notional: String,
}

/// One client's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub requests: u64,
    /// Placement requests sent.
    pub placements: u64,
    /// Orders the venue created for them.
    pub orders: u64,
    /// Orders with any execution.
    pub executed: u64,
    pub orphaned: u64,
    pub doubled: u64,
    pub findings: u64,
    pub at_risk: Vec<AtRisk>,
}

/// One client's audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientAudit {
    /// The API key; the address for requests sent without one.
    pub client: String,
    pub summary: Summary,
    /// In the order of their first request.
    pub findings: Vec<Finding>,
}

/// The audit of one record.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// Record lines read.
    pub lines: usize,
    /// Venue runs in the record.
    pub runs: u32,
    /// The record ended in an unfinished line, left out.
    pub torn_last_line: bool,
    /// No finding for any client.
    pub clean: bool,
    pub clients: Vec<ClientAudit>,
    /// The lines themselves, for the page's timeline.
    #[serde(skip)]
    pub records: Vec<Line>,
}

impl Audit {
    /// Every finding's kind, once each, in order.
    pub fn kinds(&self) -> BTreeSet<Kind> {
        self.clients
            .iter()
            .flat_map(|c| c.findings.iter().map(|f| f.kind))
            .collect()
    }
}

/// What the rules collect while reading one run.
#[derive(Default)]
pub(crate) struct Out {
    findings: Vec<(String, Finding)>,
    stats: BTreeMap<String, Stats>,
}

#[derive(Default)]
struct Stats {
    summary: Summary,
    /// Orders counted at risk, by run and order id, each once.
    risked: BTreeSet<(u32, u64)>,
    at_risk: BTreeMap<String, Decimal>,
}

impl Out {
    fn stats(&mut self, who: &str) -> &mut Summary {
        &mut self.stats.entry(who.to_string()).or_default().summary
    }

    /// Counts an order's executions as money at risk (once per order).
    fn risk(&mut self, who: &str, run: u32, order: u64, symbol: &str, notional: Decimal) {
        let s = self.stats.entry(who.to_string()).or_default();
        if notional > Decimal::ZERO && s.risked.insert((run, order)) {
            let sum = s.at_risk.entry(symbol.to_string()).or_default();
            *sum = sum.checked_add(notional).unwrap_or(Decimal::MAX);
        }
    }

    fn push(&mut self, who: &str, f: Finding) {
        self.findings.push((who.to_string(), f));
    }
}

/// Audits a record (the bytes of a `--record` file).
pub fn audit(bytes: &[u8]) -> Result<Audit, Error> {
    let (lines, torn) = record::read(bytes)?;
    let mut out = Out::default();
    let mut start = 0;
    while start < lines.len() {
        let run = lines[start].run;
        let end = lines[start..]
            .iter()
            .position(|l| l.run != run)
            .map_or(lines.len(), |n| start + n);
        let slice = &lines[start..end];
        for l in slice {
            out.stats(l.who()).requests += 1;
        }
        orders::audit_run(slice, &mut out);
        hygiene::audit_run(slice, &mut out);
        start = end;
    }
    let Out {
        mut findings,
        mut stats,
    } = out;
    findings.sort_by_key(|(who, f)| {
        let first = f.evidence.first().map_or((0, 0), |e| (e.run, e.seq));
        (who.clone(), first, f.kind)
    });
    let mut clients: BTreeMap<String, ClientAudit> = BTreeMap::new();
    for (who, s) in std::mem::take(&mut stats) {
        let mut summary = s.summary;
        summary.at_risk = s
            .at_risk
            .into_iter()
            .map(|(symbol, n)| AtRisk {
                symbol,
                notional: n.normalize().to_string(),
            })
            .collect();
        clients.insert(
            who.clone(),
            ClientAudit {
                client: who,
                summary,
                findings: Vec::new(),
            },
        );
    }
    for (who, f) in findings {
        let c = clients.entry(who.clone()).or_insert_with(|| ClientAudit {
            client: who,
            summary: Summary::default(),
            findings: Vec::new(),
        });
        c.summary.findings += 1;
        c.findings.push(f);
    }
    let clients: Vec<ClientAudit> = clients.into_values().collect();
    Ok(Audit {
        lines: lines.len(),
        runs: lines.last().map_or(0, |l| l.run),
        torn_last_line: torn,
        clean: clients.iter().all(|c| c.findings.is_empty()),
        clients,
        records: lines,
    })
}

/// The client order id a request names: the new one of a placement, the original of a query
/// or cancel, else the order's.
fn coid_of(l: &Line) -> Option<String> {
    l.param("newClientOrderId")
        .or_else(|| l.param("origClientOrderId"))
        .map(str::to_string)
        .or_else(|| l.order.as_ref().map(|o| o.client_order_id.clone()))
}

/// A request as evidence.
fn evidence(l: &Line) -> Evidence {
    Evidence {
        run: l.run,
        seq: l.seq,
        t_ms: l.t_ms,
        line: l.line,
        method: l.method.clone(),
        path: l.path.clone(),
        client_order_id: coid_of(l),
        note: note(l),
    }
}

/// What was asked, what the client got, what the venue did.
pub fn note(l: &Line) -> String {
    let mut s = request(l);
    if !s.is_empty() {
        s.push_str("; ");
    }
    s.push_str(&answer(l));
    if let Some(o) = &l.order {
        s.push_str(&format!("; venue: order {} {}", o.order_id, o.status));
    }
    if !l.faults.is_empty() {
        s.push_str(&format!(" [faults: {}]", l.faults.join(", ")));
    }
    s
}

/// What was asked: a placement's order, the market and order a query names.
pub fn request(l: &Line) -> String {
    let mut s = String::new();
    if l.is_placement() {
        let qty = l
            .param("quantity")
            .map(str::to_string)
            .or_else(|| l.param("quoteOrderQty").map(|q| format!("{q} (quote)")))
            .unwrap_or_default();
        s.push_str(&format!(
            "{} {} {} {}",
            l.param("side").unwrap_or("?"),
            qty,
            l.param("symbol").unwrap_or("?"),
            l.param("type").unwrap_or("?")
        ));
        if let Some(p) = l.param("price") {
            s.push_str(&format!(" @ {p}"));
        }
    } else if let Some(sym) = l.param("symbol") {
        s.push_str(sym);
        if let Some(id) = l.param("orderId") {
            s.push_str(&format!(" orderId {id}"));
        } else if let Some(c) = l.param("origClientOrderId") {
            s.push_str(&format!(" {c}"));
        }
    }
    s
}

/// What the client got, in words.
pub fn answer(l: &Line) -> String {
    let Some(status) = l.status else {
        return "lost on the way: no answer".into();
    };
    let code = l.code.map(|c| format!(" {c}")).unwrap_or_default();
    match l.delivery {
        Delivery::Dropped => format!("HTTP {status}{code} never delivered: connection closed"),
        Delivery::Stalled(ms) => {
            format!("HTTP {status}{code} never delivered: held {ms} ms, then closed")
        }
        Delivery::After(ms) => format!("HTTP {status}{code}, {ms} ms late"),
        Delivery::Now => format!("HTTP {status}{code}"),
    }
}

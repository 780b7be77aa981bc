//! The audit as one self-contained HTML page, in the run report's style: per client, the
//! summary, each finding with the requests that prove it, and the timeline of the client's
//! requests with the faults that hit them and the findings marked. No script; the same record
//! gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use order_router_report::html::{escape, STYLE};

use super::record::Line;
use super::{answer, request, Audit, ClientAudit};

/// Timeline rows shown per client before only the rows near a finding are kept.
pub const MAX_ROWS: usize = 5_000;
/// Rows kept either side of a finding's request in a long timeline.
const CONTEXT: usize = 3;

const EXTRA: &str = "tr.hit td{background:#fde2e2}td.t{white-space:nowrap;font-size:12px}\
.tl td{font-size:12px}.badge{display:inline-block;background:#c0392b;color:#fff;border-radius:3px;padding:0 5px;margin:1px;font-size:11px;text-decoration:none}\
.fault{color:#a15c00}";

/// `HH:MM:SS.mmm` (UTC) of Unix milliseconds.
fn clock(t_ms: u64) -> String {
    let ms = t_ms % 1_000;
    let s = t_ms / 1_000 % 86_400;
    format!("{:02}:{:02}:{:02}.{ms:03}", s / 3_600, s / 60 % 60, s % 60)
}

fn anchor(run: u32, seq: u64) -> String {
    format!("r{run}-{seq}")
}

/// The whole page for `audit`; `name` is the record's name.
pub fn page(name: &str, audit: &Audit) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bot audit: {}</title><style>{STYLE}{EXTRA}</style></head><body>",
        escape(name)
    );
    let _ = write!(
        o,
        "<h1>Bot audit: {}</h1><p>{} record lines, {} venue run(s), {} client(s).</p>",
        escape(name),
        audit.lines,
        audit.runs,
        audit.clients.len()
    );
    if audit.torn_last_line {
        o.push_str("<p class=\"warn\">The record ends in an unfinished line (the venue stopped mid-write); it is left out.</p>");
    }
    if audit.clean {
        o.push_str("<p class=\"ok\">No finding: every order the record shows, each client either knew of or asked about, and no client ignored a wait, a ban or a refusal.</p>");
    }
    for (k, c) in audit.clients.iter().enumerate() {
        client(&mut o, k, c, &audit.records);
    }
    o.push_str("</body></html>\n");
    o
}

/// One client's section; `k` numbers it for the finding anchors (a key may hold any character).
fn client(o: &mut String, k: usize, c: &ClientAudit, records: &[Line]) {
    let s = &c.summary;
    let _ = write!(o, "<h2>Client {}</h2>", escape(&c.client));
    o.push_str("<table>");
    for (k, v) in [
        ("requests", s.requests),
        ("placements sent", s.placements),
        ("orders created", s.orders),
        ("orders executed", s.executed),
        ("orphaned", s.orphaned),
        ("doubled", s.doubled),
        ("findings", s.findings),
    ] {
        let _ = write!(o, "<tr><th>{k}</th><td class=\"n\">{v}</td></tr>");
    }
    for r in &s.at_risk {
        let _ = write!(
            o,
            "<tr><th>money at risk, {}</th><td class=\"n\">{}</td></tr>",
            escape(&r.symbol),
            escape(&r.notional)
        );
    }
    o.push_str("</table>");
    // Which findings each request proves, by anchor.
    let mut marks: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    if c.findings.is_empty() {
        o.push_str("<p class=\"ok\">No finding for this client.</p>");
    }
    for (n, f) in c.findings.iter().enumerate() {
        let _ = write!(
            o,
            "<div class=\"warn\" id=\"f{k}-{n}\"><b>{} {}</b>",
            n + 1,
            f.kind.title()
        );
        if let Some(sym) = &f.symbol {
            let _ = write!(o, " on {}", escape(sym));
        }
        if let Some(id) = &f.client_order_id {
            let _ = write!(o, ", client order id <code>{}</code>", escape(id));
        }
        if let Some(n) = &f.notional {
            let _ = write!(o, ", notional {}", escape(n));
        }
        let _ = write!(o, "<br>{}<ul>", escape(&f.why));
        for e in &f.evidence {
            let a = anchor(e.run, e.seq);
            marks.entry(a.clone()).or_default().push(n);
            let _ = write!(
                o,
                "<li><a href=\"#{a}\">run {} seq {}</a> {} {} {}: {}</li>",
                e.run,
                e.seq,
                clock(e.t_ms),
                escape(&e.method),
                escape(&e.path),
                escape(&e.note)
            );
        }
        o.push_str("</ul></div>");
    }
    timeline(o, k, c, records, &marks);
}

fn timeline(
    o: &mut String,
    k: usize,
    c: &ClientAudit,
    records: &[Line],
    marks: &BTreeMap<String, Vec<usize>>,
) {
    let mine: Vec<&Line> = records
        .iter()
        .filter(|l| l.who() == c.client || l.limited_as() == c.client)
        .collect();
    let shown: BTreeSet<usize> = if mine.len() <= MAX_ROWS {
        (0..mine.len()).collect()
    } else {
        let mut keep = BTreeSet::new();
        for (i, l) in mine.iter().enumerate() {
            if marks.contains_key(&anchor(l.run, l.seq)) {
                keep.extend(i.saturating_sub(CONTEXT)..(i + CONTEXT + 1).min(mine.len()));
            }
        }
        keep
    };
    let _ = write!(
        o,
        "<h3>Timeline</h3><p>{} request(s){}. Rows in red prove a finding; the badges link to it.</p>",
        mine.len(),
        if shown.len() < mine.len() {
            format!(", {} shown (those near a finding)", shown.len())
        } else {
            String::new()
        }
    );
    o.push_str("<table class=\"tl\"><tr><th>run:seq</th><th>time (UTC)</th><th>request</th><th>answer</th><th>faults</th><th>venue</th><th>findings</th></tr>");
    let mut last = None;
    for &i in &shown {
        if last.is_some_and(|p: usize| p + 1 != i) {
            o.push_str("<tr><td colspan=\"7\">…</td></tr>");
        }
        last = Some(i);
        let l = mine[i];
        let a = anchor(l.run, l.seq);
        let hit = marks.get(&a);
        let badges: String = hit
            .map(|v| {
                v.iter()
                    .map(|n| format!("<a class=\"badge\" href=\"#f{k}-{n}\">{}</a>", n + 1))
                    .collect()
            })
            .unwrap_or_default();
        let venue = match &l.order {
            Some(ord) => format!("order {} {}", ord.order_id, ord.status),
            None => String::new(),
        };
        let trades = if l.trades.is_empty() {
            String::new()
        } else {
            format!(" ({} trade(s))", l.trades.len())
        };
        let request = request(l);
        let _ = write!(
            o,
            "<tr id=\"{a}\"{}><td>{}:{}</td><td class=\"t\">{}</td><td>{} {}<br>{}</td><td>{}</td><td class=\"fault\">{}</td><td>{}{}</td><td>{badges}</td></tr>",
            if hit.is_some() { " class=\"hit\"" } else { "" },
            l.run,
            l.seq,
            clock(l.t_ms),
            escape(&l.method),
            escape(&l.path),
            escape(&request),
            escape(&answer(l)),
            escape(&l.faults.join(", ")),
            escape(&venue),
            trades
        );
    }
    o.push_str("</table>");
}

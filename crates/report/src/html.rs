//! The page: one HTML file with its style inline and its charts as inline SVG, so it opens
//! offline, with no script, and the same log gives the same bytes.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::fold::{Fold, UnknownEnd};
use super::metrics::{percentile, Metrics};

/// `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page style, shared with the other pages the tools write (the bot audit).
pub const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:960px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.warn{background:#fff3cd;border:1px solid #e0c060;padding:8px 12px;margin:12px 0}\
.ok{background:#e7f5e7;border:1px solid #8c8;padding:8px 12px}\
figure{margin:16px 0}figcaption{font-size:13px;color:#555}\
pre{background:#f6f6f6;padding:6px;overflow-x:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}";

fn fmt_opt(v: Option<f64>, digits: usize, unit: &str) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}{unit}"))
}

/// `p50 / p99` of sorted values.
fn p50_p99(sorted: &[f64], digits: usize, unit: &str) -> String {
    format!(
        "{} / {}",
        fmt_opt(percentile(sorted, 50.0), digits, unit),
        fmt_opt(percentile(sorted, 99.0), digits, unit)
    )
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn row(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        out,
        "<tr><th>{}</th><td class=\"n\">{}</td></tr>",
        escape(name),
        escape(value)
    );
}

fn dec(d: Decimal) -> String {
    d.round_dp(8).normalize().to_string()
}

/// The whole page.
pub fn page(name: &str, fold: &Fold, m: &Metrics, charts: &[(String, String, String)]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>order-router report: {}</title><style>{STYLE}</style></head><body>",
        escape(name)
    );
    let span = fold
        .t_min
        .map_or(0.0, |t0| fold.t_max.saturating_sub(t0) as f64 / 1000.0);
    let _ = writeln!(
        out,
        "<h1>order-router run report</h1><p>{} &middot; {} lines &middot; {} intents &middot; {:.3} s from the first line to the last</p>",
        escape(name),
        fold.lines,
        m.intents(),
        span
    );
    // The verdict recovery gives the same file (a torn line after damage is part of the damage).
    match &fold.end {
        crate::audit::LogEnd::Torn { line, .. } => {
            let _ = writeln!(
                out,
                "<div class=\"warn\" id=\"torn\">Torn last line (line {line}): the writer stopped in the middle of it. It is not counted here; a restart from this journal cuts it off.</div>\n"
            );
        }
        crate::audit::LogEnd::Damaged(d) => {
            let _ = writeln!(
                out,
                "<div class=\"warn\" id=\"damaged\">Journal {}.</div>\n",
                escape(&d.to_string())
            );
        }
        crate::audit::LogEnd::Whole => {}
    }
    if fold.bad > 0 {
        let _ = write!(
            out,
            "<div class=\"warn\" id=\"unreadable\">{} line(s) could not be read: {}</div>",
            fold.bad,
            escape(&fold.unreadable.first().cloned().unwrap_or_default())
        );
    }

    out.push_str("<h2>Metrics</h2><table id=\"metrics\">");
    let states: Vec<String> = m.by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
    row(&mut out, "intents by final state", &states.join(", "));
    row(
        &mut out,
        "fill ratio (filled qty / intent qty)",
        &fmt_opt(m.fill_ratio().map(|r| r * 100.0), 2, " %"),
    );
    row(
        &mut out,
        "slippage vs the intent's price, mean / p50 / p99",
        &format!(
            "{} / {}",
            fmt_opt(mean(&m.slip_ref), 2, " bps"),
            p50_p99(&m.slip_ref, 2, " bps")
        ),
    );
    row(
        &mut out,
        "slippage vs the cap, mean / p50 / p99 (≤ 0: inside the cap)",
        &format!(
            "{} / {}",
            fmt_opt(mean(&m.slip_cap), 2, " bps"),
            p50_p99(&m.slip_cap, 2, " bps")
        ),
    );
    row(
        &mut out,
        "time to first reply, p50 / p99",
        &p50_p99(&m.to_first_reply, 0, " ms"),
    );
    row(
        &mut out,
        "time to fill (intent to first fill), p50 / p99",
        &p50_p99(&m.to_fill, 0, " ms"),
    );
    let causes: Vec<String> = fold
        .unknown_causes
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    let ends: Vec<String> = fold
        .unknown_ends
        .iter()
        .map(|(e, n)| {
            let what = match e {
                UnknownEnd::Found => "found by a query",
                UnknownEnd::NeverPlaced => "never placed",
                UnknownEnd::Open => "still unknown at the end",
            };
            format!("{what} {n}")
        })
        .collect();
    row(
        &mut out,
        "unknown outcomes (cause)",
        &if causes.is_empty() {
            "none".into()
        } else {
            causes.join(", ")
        },
    );
    row(
        &mut out,
        "unknown outcomes (how each ended)",
        &if ends.is_empty() {
            "none".into()
        } else {
            ends.join(", ")
        },
    );
    let n = m.intents().max(1) as f64;
    row(
        &mut out,
        "orders per intent (mean)",
        &format!("{:.3}", m.orders as f64 / n),
    );
    row(
        &mut out,
        "retries per intent (mean)",
        &format!("{:.3}", m.retries as f64 / n),
    );
    let fees: Vec<String> = m
        .fees
        .iter()
        .map(|(a, f)| format!("{} {a}", dec(*f)))
        .collect();
    row(
        &mut out,
        "fees paid",
        &if fees.is_empty() {
            "0".to_string()
        } else {
            fees.join(", ")
        },
    );
    for b in &m.positions {
        let value = match b.end {
            None => format!("{} booked by the run", dec(b.booked)),
            Some(end) if b.dust.is_zero() => format!("{} (booked {})", dec(end), dec(b.booked)),
            Some(end) => format!(
                "{} (booked {}; dust below one lot: {})",
                dec(end),
                dec(b.booked),
                dec(b.dust)
            ),
        };
        row(&mut out, &format!("{} at the end", b.asset), &value);
    }
    row(&mut out, "traded notional", &dec(m.notional));
    row(
        &mut out,
        "P&L marked to the market's last price (fees included)",
        &m.pnl
            .map_or_else(|| "– (give --market or --scenario)".to_string(), dec),
    );
    out.push_str("</table>\n<h2>Charts</h2>\n");
    for (id, caption, svg) in charts {
        let _ = writeln!(
            out,
            "<figure id=\"{}\" data-chart=\"{}\">{}<figcaption>{}</figcaption></figure>",
            escape(id),
            if id.starts_with("price-") {
                "price"
            } else {
                id.as_str()
            },
            svg,
            escape(caption)
        );
    }
    out.push_str("<h2>Audit check</h2>\n");
    if fold.problems.is_empty() {
        out.push_str("<p class=\"ok\" id=\"check\">check-audit finds no problems: every transition is in the table, every intent ended, retries follow the policy.</p>\n");
    } else {
        let _ = write!(
            out,
            "<div class=\"warn\" id=\"check\">check-audit finds {} problem(s){}:</div><ol>",
            fold.problems.len(),
            if fold.problems.len() > 100 {
                "; the first 100"
            } else {
                ""
            }
        );
        for p in fold.problems.iter().take(100) {
            let _ = write!(out, "<li>[{}] {}", p.kind.check(), escape(&p.to_string()));
            if let Some(text) = fold.problem_lines.get(&p.line) {
                let _ = write!(out, "<pre>{}</pre>", escape(text));
            }
            out.push_str("</li>");
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</body></html>\n");
    out
}

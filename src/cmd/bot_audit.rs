//! `order-router bot-audit`: what each client of the venue lost track of, read from the
//! venue's `--record` (docs/venue.md, "Bot audit"). Also writes the audit `venue --bot-audit`
//! leaves when the venue stops.

use std::path::Path;
use std::process::ExitCode;

use order_router::bot_audit::{self, html, Audit};

use super::check_audit::plural;

fn bad_input(file: &Path, json: bool, message: &str) -> ExitCode {
    let message = format!("{}: {message}", file.display());
    errln!("error: {message}");
    if json {
        outln!("{}", serde_json::json!({ "error": message }));
    }
    ExitCode::from(2)
}

/// The audit as the file `out` asks for: JSON when its name ends in `.json`, else the page.
pub fn rendered(name: &str, audit: &Audit, out: &Path) -> Result<Vec<u8>, String> {
    if out.extension().is_some_and(|e| e == "json") {
        let mut v =
            serde_json::to_vec_pretty(audit).map_err(|e| format!("{}: {e}", out.display()))?;
        v.push(b'\n');
        Ok(v)
    } else {
        Ok(html::page(name, audit).into_bytes())
    }
}

/// `N findings` per kind, in words.
fn tally(audit: &Audit) -> String {
    let n: usize = audit.clients.iter().map(|c| c.findings.len()).sum();
    format!(
        "{} {}, {n} {}",
        audit.clients.len(),
        plural(audit.clients.len(), "client"),
        plural(n, "finding")
    )
}

pub fn main(file: &Path, json: bool, out: Option<&Path>) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return bad_input(file, json, &e.to_string()),
    };
    let audit = match bot_audit::audit(&bytes) {
        Ok(a) => a,
        Err(e) => return bad_input(file, json, &format!("not a venue record: {e}")),
    };
    let name = file.display().to_string();
    if let Some(out) = out {
        let written =
            rendered(&name, &audit, out).and_then(|b| crate::output::write_whole(out, &[file], &b));
        if let Err(e) = written {
            errln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if json {
        match serde_json::to_string(&audit) {
            Ok(s) => outln!("{s}"),
            Err(e) => return bad_input(file, json, &e.to_string()),
        }
    } else {
        print_text(&name, &audit);
        if let Some(out) = out {
            outln!("{name}: audit written to {}", out.display());
        }
    }
    ExitCode::from(if audit.clean { 0 } else { 1 })
}

fn print_text(name: &str, audit: &Audit) {
    if audit.torn_last_line {
        outln!("{name}: the last line is unfinished (the venue stopped mid-write); left out");
    }
    for c in &audit.clients {
        let s = &c.summary;
        let risk: Vec<String> = s
            .at_risk
            .iter()
            .map(|r| format!("{} {}", r.symbol, r.notional))
            .collect();
        outln!(
            "{name}: client {}: {} {}, {} {}, {} {}, {} executed, {} orphaned, {} doubled{}",
            c.client,
            s.requests,
            plural(s.requests as usize, "request"),
            s.placements,
            plural(s.placements as usize, "placement"),
            s.orders,
            plural(s.orders as usize, "order"),
            s.executed,
            s.orphaned,
            s.doubled,
            if risk.is_empty() {
                String::new()
            } else {
                format!("; at risk {}", risk.join(", "))
            }
        );
        for f in &c.findings {
            let at: Vec<String> = f
                .evidence
                .iter()
                .map(|e| {
                    let id = e
                        .client_order_id
                        .as_deref()
                        .map(|c| format!(" {c}"))
                        .unwrap_or_default();
                    format!("run {} seq {} {} {}{id}", e.run, e.seq, e.method, e.path)
                })
                .collect();
            outln!(
                "{name}: client {}: {}: {} [{}]",
                c.client,
                f.kind.name(),
                f.why,
                at.join("; ")
            );
        }
    }
    outln!("{name}: {} lines, {}", audit.lines, tally(audit));
}

/// Writes the audit of the record lines `bytes` to `out` (the venue's `--bot-audit`), and
/// says so in one line on standard error.
pub fn write_at_stop(bytes: &[u8], out: &Path, inputs: &[&Path]) -> Result<(), String> {
    let audit = bot_audit::audit(bytes).map_err(|e| format!("--bot-audit: the record: {e}"))?;
    let b = rendered("the venue's record", &audit, out)?;
    crate::output::write_whole(out, inputs, &b)?;
    // On standard error: standard output may be a pipe closed long ago (a script read the
    // first line and went away).
    errln!("bot audit {}: {}", out.display(), tally(&audit));
    Ok(())
}

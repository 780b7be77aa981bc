//! `order-router check-audit`: any implementation's audit log against the transition table,
//! the completeness rules and the policy checks a log alone allows. It reads the log one line
//! at a time, so memory stays flat however long the log.

use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;

use order_router::audit::{check_stream, CheckedLog, LogEnd, Problem};

/// Problems listed; past this, only their number.
pub const SHOWN: usize = 100;

fn bad_input(file: &Path, json: bool, message: &str) -> ExitCode {
    let message = format!("{}: {message}", file.display());
    errln!("error: {message}");
    if json {
        outln!("{}", serde_json::json!({ "error": message }));
    }
    ExitCode::from(2)
}

pub fn main(file: &Path, json: bool) -> ExitCode {
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => return bad_input(file, json, &e.to_string()),
    };
    let checked = match check_stream(BufReader::with_capacity(1 << 16, f)) {
        Ok(c) => c,
        Err(e) => return bad_input(file, json, &e.to_string()),
    };
    let CheckedLog {
        lines,
        intents,
        problems,
        end,
    } = checked;
    let more = problems.len().saturating_sub(SHOWN);
    let shown = &problems[..problems.len() - more];
    if json {
        let list: Vec<serde_json::Value> = shown.iter().map(problem_json).collect();
        outln!(
            "{}",
            serde_json::json!({
                "file": file.display().to_string(),
                "lines": lines,
                "intents": intents,
                "ok": problems.is_empty(),
                "problem_count": problems.len(),
                "problems": list,
                "more_problems": more,
                "end": end_json(&end),
            })
        );
    } else {
        for p in shown {
            outln!("{}: {p}", file.display());
        }
        if more > 0 {
            outln!(
                "{}: ... and {more} more {}",
                file.display(),
                plural(more, "problem")
            );
        }
        // The verdict `recover` gives the same file.
        if end != LogEnd::Whole {
            outln!("{}: {end}", file.display());
        }
        outln!(
            "{}: {lines} {}, {intents} {}, {} {}",
            file.display(),
            plural(lines, "line"),
            plural(intents, "intent"),
            problems.len(),
            plural(problems.len(), "problem")
        );
    }
    ExitCode::from(if problems.is_empty() { 0 } else { 1 })
}

fn problem_json(p: &Problem) -> serde_json::Value {
    serde_json::json!({
        "line": p.line,
        "intent": p.intent_id,
        "check": p.kind.check(),
        "message": p.to_string(),
    })
}

/// How the log ends, as `recover` judges it: `whole`, `torn` or `damaged`, with the line.
fn end_json(end: &LogEnd) -> serde_json::Value {
    match end {
        LogEnd::Whole => serde_json::json!({ "kind": "whole" }),
        LogEnd::Torn { line, offset } => serde_json::json!({
            "kind": "torn", "line": line, "offset": offset, "message": end.to_string(),
        }),
        LogEnd::Damaged(d) => serde_json::json!({
            "kind": "damaged", "line": d.line, "offset": d.offset, "message": end.to_string(),
        }),
    }
}

/// `word` or `words`, as `n` asks.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

//! `order-router recover`: what a restart would rebuild from a journal (and a snapshot),
//! without trading. The same replay the router recovers with. It writes nothing, except that
//! with `--truncate-damaged` it cuts damage off the journal's end as a restart with the flag
//! would (the cut bytes kept in `JOURNAL.broken`).

use std::path::Path;
use std::process::ExitCode;

use order_router::journal::{cut_end, snapshot};
use order_router::router::{scan_with, OnDamage, Replay, Resume, RouterConfig};

pub fn main(journal: &Path, snapshot_path: Option<&Path>, truncate_damaged: bool) -> ExitCode {
    let fail = |m: String| {
        errln!("error: {m}");
        ExitCode::from(2)
    };
    let bytes = match std::fs::read(journal) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", journal.display())),
    };
    let mut replay = match snapshot_path {
        Some(p) => match snapshot::read(p) {
            Ok(r) => r,
            Err(e) => return fail(format!("{}: {e}", p.display())),
        },
        None => Replay::default(),
    };
    let covered = replay.last;
    let on_damage = if truncate_damaged {
        OnDamage::Cut
    } else {
        OnDamage::Stop
    };
    let found = match scan_with(&mut replay, &bytes, &RouterConfig::default(), on_damage) {
        Ok(s) => s,
        Err(e) => return fail(format!("{}: {e}; refusing to rebuild", journal.display())),
    };
    // Only damage is cut here (a torn tail is left to the restart): the flag asked for that.
    let cut = match found.damaged {
        Some(_) => match cut_end(journal, &bytes, &found) {
            Ok(c) => c,
            Err(e) => {
                return fail(format!(
                    "{}: cutting the damage off: {e}",
                    journal.display()
                ))
            }
        },
        None => None,
    };
    outln!(
        "journal   {}: {} lines replayed, next seq {}",
        journal.display(),
        found.lines,
        replay.next_seq()
    );
    if let (Some(p), Some(c)) = (snapshot_path, covered) {
        outln!("snapshot  {}: covers seq 0..={}", p.display(), c.seq);
    }
    match (&cut, found.torn_tail) {
        (Some(c), _) => outln!("{c}"),
        (None, Some(_)) => outln!("{}", found.end()),
        (None, None) => outln!("torn tail none"),
    }
    let done: Vec<String> = replay
        .finished()
        .by_state()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    outln!(
        "finished  {} intents{}",
        replay.finished().len(),
        if done.is_empty() {
            String::new()
        } else {
            format!(" ({})", done.join(", "))
        }
    );
    let booked: Vec<String> = replay
        .booked
        .iter()
        .map(|(a, d)| format!("{a} {d:+}"))
        .collect();
    outln!(
        "booked    {}",
        if booked.is_empty() {
            "nothing".to_string()
        } else {
            booked.join(", ")
        }
    );
    let open: Vec<_> = replay.open().collect();
    outln!("open      {} intents", open.len());
    let mut reserved: Vec<(String, rust_decimal::Decimal)> = Vec::new();
    for o in &open {
        let action = Resume::planned(o.state);
        let held = match &o.reserved {
            Some((a, x)) => {
                match reserved.iter_mut().find(|(name, _)| name == a.as_str()) {
                    Some((_, sum)) => *sum += *x,
                    None => reserved.push((a.to_string(), *x)),
                }
                format!("reserved {x} {a}")
            }
            None => "nothing reserved".to_string(),
        };
        let order = match (&o.order, action) {
            (Some((coid, _)), Resume::Query | Resume::Poll) => format!(" {coid}"),
            _ => String::new(),
        };
        outln!(
            "  {}  {}  attempt {}  {held}  -> {}{order}",
            o.intent.intent_id(),
            o.state,
            o.attempt,
            action.as_str()
        );
    }
    let reserved: Vec<String> = reserved.iter().map(|(a, x)| format!("{a} {x}")).collect();
    outln!(
        "reserved  {}",
        if reserved.is_empty() {
            "nothing".to_string()
        } else {
            reserved.join(", ")
        }
    );
    let queries = open
        .iter()
        .filter(|o| matches!(Resume::planned(o.state), Resume::Query | Resume::Poll))
        .count();
    outln!("to query  {queries} orders by client_order_id before new intents are taken");
    ExitCode::SUCCESS
}

//! `order-router demo`: the library end to end, until scenario replay lands.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use order_router::audit::{read, Checker};
use order_router::driver::drive_timed;
use order_router::exchange::memory::{Fault, MemoryExchange};
use order_router::prelude::*;
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

pub fn run(audit: Option<&Path>) -> ExitCode {
    let symbol = match Symbol::parse("BTC/USDT") {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let (Ok(usdt), Ok(btc)) = (Asset::new("USDT"), Asset::new("BTC")) else {
        return fail("bad asset");
    };
    let signal = |ts_ms, side, qty: &str| {
        let s = Signal {
            ts_ms,
            symbol: symbol.clone(),
            side,
            ref_price: Decimal::from(50_000),
        };
        assemble(&s, &Guards::pass(), &Risk { qty: dec(qty) })
    };
    let (Some(a), Some(b), Some(c), Some(s)) = (
        signal(1_000, Side::Buy, "0.001"),
        signal(1_001, Side::Buy, "0.002"),
        signal(1_002, Side::Buy, "0.00001"),
        signal(20_000, Side::Sell, "0.002"),
    ) else {
        return fail("assembler refused a demo signal");
    };

    let mut portfolio = Portfolio::new();
    let mut venue = MemoryExchange::new();
    if let Err(e) = portfolio.deposit(&usdt, dec("1000")) {
        return fail(&e.to_string());
    }
    venue.deposit(&usdt, dec("1000"));
    venue.set_price(&symbol, dec("50005"));
    // Intent a: its first placement half fills and the reply is lost; the rest fills on retry.
    venue.push_fault(Fault::ResponseLost);
    venue.push_fault(Fault::Partial(dec("0.5")));
    let mut router = match Router::new(RouterConfig::default(), portfolio) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    let inputs = vec![
        (1_000, Input::Deliver(a.clone())),
        (1_000, Input::Deliver(a.clone())), // at-least-once: a duplicate
        (1_001, Input::Deliver(b)),
        (1_002, Input::Deliver(c)), // below min notional
        (20_000, Input::Deliver(s)),
        (25_000, Input::Deliver(a)), // a late duplicate
    ];
    let mut log = Vec::new();
    let end = drive_timed(&mut router, &mut venue, inputs, &mut log);

    let out = match audit {
        Some(path) => {
            if let Err(e) = crate::output::write_whole(path, &[], &log) {
                return fail(&e);
            }
            String::new()
        }
        None => String::from_utf8_lossy(&log).into_owned(),
    };
    let mut checker = Checker::new();
    let mut states: Vec<(String, State)> = Vec::new();
    for r in read(&log).into_iter().flatten() {
        checker.observe(&r);
        match states.iter_mut().find(|(id, _)| *id == r.intent_id) {
            Some(e) => e.1 = r.state,
            None => states.push((r.intent_id.clone(), r.state)),
        }
    }
    let problems = checker.finish();
    let stats = router.stats();
    let mut text = out;
    text.push_str(&format!(
        "\nintents: {}  duplicates ignored: {}  orders sent: {}  retries: {}  unknown outcomes resolved: {}  commands: {}  end: t={} ms\n",
        stats.intents, stats.duplicates_ignored, stats.orders_sent, stats.retries, stats.unknown_outcomes, end.commands, end.end_ms
    ));
    for (id, st) in &states {
        text.push_str(&format!("  {id}  {st}\n"));
    }
    for asset in [&usdt, &btc] {
        let p = router.portfolio().balance(asset);
        text.push_str(&format!(
            "  {asset}: portfolio {} (reserved {})  venue {}\n",
            p.total.normalize(),
            p.reserved.normalize(),
            venue.balance(asset).normalize()
        ));
    }
    text.push_str(&format!("audit check: {} problems\n", problems.len()));
    let _ = std::io::stdout().write_all(text.as_bytes());
    let matches = [&usdt, &btc]
        .iter()
        .all(|a| router.portfolio().balance(a).total == venue.balance(a));
    ExitCode::from(if problems.is_empty() && matches && end.idle {
        0
    } else {
        1
    })
}

fn fail(msg: &str) -> ExitCode {
    errln!("error: {msg}");
    ExitCode::from(2)
}

//! The criterion hot path (`benches/router.rs`) as a plain loop, for profilers:
//! `valgrind --tool=callgrind target/release/examples/hot_path 20000 [--no-audit]`.

use order_router::driver::{drive, Discard};
use order_router::prelude::*;
use order_router::sim::workload::{hot_path, hot_path_intent};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let audit = args.next().as_deref() != Some("--no-audit");
    let (mut router, mut venue, symbol) = hot_path();
    if audit {
        // As a journaling driver runs it: each line written as JSONL when it is made.
        router.write_audit_jsonl();
    }
    let intents: Vec<Intent> = (1..=n).map(|i| hot_path_intent(&symbol, i)).collect();
    let mut log = Vec::with_capacity(1 << 20);
    let mut bytes = 0;
    for intent in intents {
        let input = [Input::Deliver(intent)];
        if audit {
            log.clear();
            drive(&mut router, &mut venue, 0, input, &mut log);
            bytes += log.len();
        } else {
            drive(&mut router, &mut venue, 0, input, &mut Discard);
        }
    }
    println!("{n} intents, {bytes} audit bytes");
}

//! Hot path: one intent from delivery to RECONCILED against the always-filling in-memory venue.
//!
//! Workload: a buy of 0.001 BTC/USDT at 50,000 that fills at once; the router's commands run
//! with zero latency through [`drive`]. Two variants: audit lines serialised into a reused
//! buffer, and audit lines dropped unformatted ([`Discard`]). Intents are built outside the timed section;
//! the router, portfolio and venue live across iterations, as in a long-running process.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use order_router::driver::{drive, Discard};
use order_router::prelude::*;
use order_router::sim::workload::{hot_path as setup, hot_path_intent};

fn intent_maker(symbol: Symbol) -> impl FnMut() -> Intent {
    let mut n: u64 = 0;
    move || {
        n += 1;
        hot_path_intent(&symbol, n)
    }
}

fn hot_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("hot_path");
    g.bench_function("intent_to_reconciled_with_audit", |b| {
        let (mut router, mut venue, symbol) = setup();
        // As a journaling driver runs it: each line written as JSONL when it is made.
        router.write_audit_jsonl();
        let mut next = intent_maker(symbol);
        let mut log = Vec::with_capacity(1 << 20);
        b.iter_batched(
            &mut next,
            |intent| {
                log.clear();
                drive(
                    &mut router,
                    &mut venue,
                    0,
                    [Input::Deliver(intent)],
                    &mut log,
                );
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("intent_to_reconciled_no_audit", |b| {
        let (mut router, mut venue, symbol) = setup();
        let mut next = intent_maker(symbol);
        b.iter_batched(
            &mut next,
            |intent| {
                drive(
                    &mut router,
                    &mut venue,
                    0,
                    [Input::Deliver(intent)],
                    &mut Discard,
                );
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);

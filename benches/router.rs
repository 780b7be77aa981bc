//! Hot path: one intent from delivery to RECONCILED against the always-filling in-memory venue.
//!
//! Workload: a buy of 0.001 BTC/USDT at 50,000 that fills at once; the router's commands run
//! with zero latency through [`drive`]. Two variants: audit lines serialised into a reused
//! buffer, and audit lines dropped unformatted. Intents are built outside the timed section;
//! the router, portfolio and venue live across iterations, as in a long-running process.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use order_router::driver::drive;
use order_router::prelude::*;
use rust_decimal::Decimal;

fn setup() -> (Router, MemoryExchange, Symbol) {
    let symbol = Symbol::parse("BTC/USDT").expect("symbol");
    let usdt = Asset::new("USDT").expect("asset");
    let big = Decimal::from(1_000_000_000_000i64);
    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt, big).expect("deposit");
    let mut venue = MemoryExchange::new();
    venue.deposit(&usdt, big);
    venue.set_price(&symbol, Decimal::from(50_000));
    let router = Router::new(RouterConfig::default(), portfolio).expect("router");
    (router, venue, symbol)
}

fn intent_maker(symbol: Symbol) -> impl FnMut() -> Intent {
    let mut n: u64 = 0;
    move || {
        n += 1;
        let id = IntentId::new(&format!("bench-{n}")).expect("id");
        Intent::new(
            id,
            n,
            symbol.clone(),
            Side::Buy,
            Decimal::new(1, 3),
            Decimal::from(50_000),
        )
        .expect("intent")
    }
}

fn hot_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("hot_path");
    g.bench_function("intent_to_reconciled_with_audit", |b| {
        let (mut router, mut venue, symbol) = setup();
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
                router.handle(0, Input::Deliver(intent));
                while let Some(cmd) = router.poll_command() {
                    let reply = cmd.execute(&mut venue, 0);
                    router.handle(0, Input::Reply(reply));
                    while let Some(t) = router.poll_timeout() {
                        router.handle_timeout(t);
                        if let Some(cmd) = router.poll_command() {
                            let reply = cmd.execute(&mut venue, 0);
                            router.handle(0, Input::Reply(reply));
                        }
                    }
                }
                while router.poll_audit().is_some() {}
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);

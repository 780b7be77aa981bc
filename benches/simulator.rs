//! Simulator throughput, audit serialisation and scenario parsing.
//!
//! Workloads:
//! * `sim/steps_checked`, `sim/steps_unchecked`: one generated scenario per iteration
//!   (`sim::gen`, seed 7, 8 intents, the rough fault mix) run to quiescence, with every
//!   invariant checked after every step and with checking off; throughput in simulator steps.
//! * `audit/write_line`: one `SENT` line serialised into a reused buffer.
//! * `scenario/parse_row`: a 1,000-row scenario parsed; throughput in rows.
//!
//! Parsing and generation happen outside the timed sections.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use order_router::audit::{write_line, AuditLine, Detail};
use order_router::model::{ClientOrderId, IntentId, Tif};
use order_router::router::State;
use order_router::sim::gen::{generate, FaultMix};
use order_router::sim::scenario::parse;
use order_router::sim::{run, RunOptions};
use rust_decimal::Decimal;

fn simulator(c: &mut Criterion) {
    let csv = generate(7, 8, FaultMix::Rough);
    let scenario = parse("bench.csv", csv.as_bytes()).expect("generated scenario parses");
    let checked = RunOptions {
        seed: 7,
        keep_audit: false,
        ..RunOptions::default()
    };
    let unchecked = RunOptions {
        check_invariants: false,
        ..checked.clone()
    };
    let steps = run(&scenario, &checked).steps;
    let mut g = c.benchmark_group("sim");
    g.throughput(Throughput::Elements(steps));
    g.bench_function("steps_checked", |b| b.iter(|| run(&scenario, &checked)));
    g.bench_function("steps_unchecked", |b| b.iter(|| run(&scenario, &unchecked)));
    g.finish();
}

fn audit(c: &mut Criterion) {
    let id = IntentId::new("1697040000000-BTCUSDT-93f0c1f92b03a79a").expect("id");
    let line = AuditLine {
        seq: 123_456,
        t_ms: 1_697_040_000_123,
        intent_id: id.clone(),
        state: State::Sent,
        detail: Detail::Sent {
            client_order_id: ClientOrderId::for_attempt(&id, 2),
            attempt: 2,
            qty: Decimal::new(123, 5),
            limit_price: Decimal::new(5_010_000, 2),
            tif: Tif::Ioc,
        },
    };
    let mut buf = Vec::with_capacity(1 << 16);
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(1));
    g.bench_function("write_line", |b| {
        b.iter(|| {
            if buf.len() > 60_000 {
                buf.clear();
            }
            write_line(&mut buf, &line);
        })
    });
    g.finish();
}

fn scenario_parse(c: &mut Criterion) {
    let mut csv =
        String::from("t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,100000,,\n");
    for i in 0..1_000 {
        csv.push_str(&format!(
            "{i},intent,BTC/USDT,buy,0.001,50000,id=i{i};deliveries=2;gap_ms=5\n"
        ));
    }
    let mut g = c.benchmark_group("scenario");
    g.throughput(Throughput::Elements(1_001));
    g.bench_function("parse_row", |b| {
        b.iter(|| parse("bench.csv", csv.as_bytes()).expect("parses"))
    });
    g.finish();
}

criterion_group!(benches, simulator, audit, scenario_parse);
criterion_main!(benches);

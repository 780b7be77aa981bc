//! The Rust side of the Python boundary's cost (docs/python.md): the same work as
//! `tests/python/bench_boundary.py` through the library directly. Wall-clock timing for the
//! reader only. Run: `cargo run --release -p order-router-py --example boundary_baseline`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use order_router_core::exchange::{Order, OrderStatus, Trade};
use order_router_core::model::*;
use order_router_core::portfolio::Portfolio;
use order_router_core::router::*;
use order_router_core::Intent;
use order_router_sim::{run_observed, RunOptions};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::time::Instant;

fn main() {
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/basic_buy.csv"
    ));
    let n = 20000;
    let t = Instant::now();
    for _ in 0..n {
        let s = order_router_sim::scenario::load(path).unwrap();
        let opts = RunOptions {
            seed: 1,
            keep_audit: true,
            ..RunOptions::default()
        };
        let mut log = Vec::new();
        let rows = Box::new(s.rows.iter().cloned());
        let _ = run_observed(&s, rows, &opts, &mut log, None);
    }
    println!(
        "run_scenario basic_buy: {:.1} us/run",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let n = 200000u64;
    let mut p = Portfolio::new();
    p.deposit(
        &Asset::new("USDT").unwrap(),
        Decimal::from(1_000_000_000_000i64),
    )
    .unwrap();
    let mut r = Router::new(RouterConfig::default(), p).unwrap();
    let sym = Symbol::parse("BTC/USDT").unwrap();
    let t = Instant::now();
    let mut now = 1_700_000_000_000u64;
    let mut log = Vec::new();
    for k in 0..n {
        now += 1;
        let i = Intent::new(
            IntentId::numbered("i", k),
            now,
            sym.clone(),
            Side::Buy,
            Decimal::from_str("0.002").unwrap(),
            Decimal::from(50000),
        )
        .unwrap();
        r.handle(now, Input::Deliver(i)).unwrap();
        loop {
            log.clear();
            let cmd = match order_router_core::driver::next_command(&mut r, &mut log) {
                order_router_core::driver::Step::Send(c) => c,
                _ => match r.poll_timeout() {
                    Some(due) => {
                        now = now.max(due);
                        r.handle_timeout(now).unwrap();
                        continue;
                    }
                    None => break,
                },
            };
            let outcome = match &cmd.action {
                Action::Place(o) => ReplyOutcome::Order(Ok(Order {
                    order_id: OrderId::new(&(k + 1).to_string()).unwrap(),
                    client_order_id: o.client_order_id().clone(),
                    symbol: sym.clone(),
                    side: Side::Buy,
                    price: o.limit_price(),
                    amount: o.qty(),
                    filled: o.qty(),
                    remaining: Decimal::ZERO,
                    average: Some(o.limit_price()),
                    status: OrderStatus::Closed,
                    fee: Decimal::ZERO,
                    fee_asset: Asset::new("USDT").unwrap(),
                })),
                Action::FetchTrades { order_id, .. } => ReplyOutcome::Trades(Ok(vec![Trade {
                    trade_id: TradeId::new(&(k + 1).to_string()).unwrap(),
                    order_id: *order_id,
                    symbol: sym.clone(),
                    side: Side::Buy,
                    price: Decimal::from(50100),
                    qty: Decimal::from_str("0.002").unwrap(),
                    fee: Decimal::ZERO,
                    fee_asset: Asset::new("USDT").unwrap(),
                    t_ms: now,
                }])),
                _ => panic!(),
            };
            r.handle(
                now,
                Input::Reply(Reply {
                    request_id: cmd.request_id,
                    outcome,
                }),
            )
            .unwrap();
        }
    }
    assert_eq!(r.in_flight(), 0);
    println!("router intent round trip (deliver, place, fetch_trades, journal lines as JSONL): {:.2} us/intent", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}

//! The venue's sans-IO core: what one request costs, without HTTP.
//!
//! A signed IOC placement that fills against the book (signature checked, order matched,
//! answer and record line written), an order query, and a public depth request. Requests are
//! built and signed outside the timed section; the clock is fixed, so every timestamp is
//! fresh. The venue lives across iterations, as in a long-running server.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use order_router::sim::scenario::parse;
use order_router::venue::{self, Credentials, Limits, Method, Request, Setup, Venue};

const T0: u64 = 1_700_000_000_000;

fn venue() -> Venue {
    let csv = "t_ms,action,symbol,side,qty,price,params
0,balance,USDT,,1000000000,,
0,price,BTC/USDT,,,50000,spread_bps=2;depth=1000000
";
    Venue::new(
        Setup {
            scenario: parse("bench.csv", csv.as_bytes()).expect("scenario"),
            credentials: Credentials::new("key", "secret").expect("key"),
            seed: 1,
            profile: venue::profile("none").expect("profile"),
            limits: Limits {
                weight_per_minute: u32::MAX,
                orders_per_10s: u32::MAX,
                ..Limits::default()
            },
            speed: 1,
            stall_ms: 0,
        },
        T0,
    )
}

fn signed(params: &str) -> String {
    let q = format!("{params}&timestamp={T0}&recvWindow=10000");
    let sig = Credentials::new("key", "secret")
        .unwrap()
        .sign(q.as_bytes());
    format!("{q}&signature={sig}")
}

fn requests(c: &mut Criterion) {
    let mut g = c.benchmark_group("venue");
    g.bench_function("signed_ioc_placement_filled", |b| {
        let mut v = venue();
        let mut n = 0u64;
        b.iter_batched(
            || {
                n += 1;
                signed(&format!(
                    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=50010&newClientOrderId=b{n}"
                ))
            },
            |body| {
                let r = v.handle(
                    T0,
                    &Request {
                        method: Method::Post,
                        path: "/api/v3/order",
                        query: "",
                        body: body.as_bytes(),
                        api_key: Some("key"),
                        client: "127.0.0.1",
                    },
                );
                assert_eq!(r.status, 200);
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("signed_order_query", |b| {
        let mut v = venue();
        let place = signed("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=50010&newClientOrderId=q");
        let req = |query: &'static str| Request {
            method: Method::Get,
            path: "/api/v3/order",
            query,
            body: b"",
            api_key: Some("key"),
            client: "127.0.0.1",
        };
        let mut p = req("");
        p.method = Method::Post;
        p.body = place.as_bytes();
        assert_eq!(v.handle(T0, &p).status, 200);
        let query: &'static str =
            Box::leak(signed("symbol=BTCUSDT&origClientOrderId=q").into_boxed_str());
        b.iter(|| {
            let r = v.handle(T0, &req(query));
            assert_eq!(r.status, 200);
            r
        })
    });
    g.bench_function("public_depth_20", |b| {
        let mut v = venue();
        b.iter(|| {
            v.handle(
                T0,
                &Request {
                    method: Method::Get,
                    path: "/api/v3/depth",
                    query: "symbol=BTCUSDT&limit=20",
                    body: b"",
                    api_key: None,
                    client: "127.0.0.1",
                },
            )
        })
    });
    g.finish();
}

criterion_group!(benches, requests);
criterion_main!(benches);

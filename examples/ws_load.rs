//! How many stream events the venue pushes to many subscribers: `cargo run --release
//! --example ws_load [SUBSCRIBERS] [SECONDS] [MARKET_SPEED]` (defaults 100, 10, 10). Starts the
//! venue in-process on the built-in living market (run MARKET_SPEED times the recorded pace),
//! connects SUBSCRIBERS tokio-tungstenite clients to
//! `/stream?streams=btcusdt@trade/btcusdt@aggTrade/btcusdt@bookTicker/btcusdt@depth@100ms/
//! btcusdt@depth20@100ms`, and counts the frames they receive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use order_router::sim::scenario::parse;
use order_router::venue::server::{wall_clock_ms, Server, ServerLimits};
use order_router::venue::stream::WsConfig;
use order_router::venue::{self, Credentials, Limits, Setup, Venue, DEFAULT_SCENARIO};

const STREAMS: &str =
    "btcusdt@trade/btcusdt@aggTrade/btcusdt@bookTicker/btcusdt@depth@100ms/btcusdt@depth20@100ms";

fn main() {
    let mut args = std::env::args().skip(1);
    let subscribers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let speed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut scenario = parse("default.csv", DEFAULT_SCENARIO.as_bytes()).expect("scenario");
        scenario.venue.market.live = true;
        scenario.venue.market.speed = speed;
        let setup = Setup {
            scenario,
            credentials: Credentials::new("load-key", "load-secret").expect("key"),
            seed: 1,
            profile: venue::profile("none").expect("profile"),
            limits: Limits::default(),
            speed: 1,
            stall_ms: 1_000,
        };
        let v = Venue::new(setup, wall_clock_ms());
        let limits = ServerLimits {
            max_connections: subscribers + 16,
            ..ServerLimits::default()
        };
        let server = Server::bind("127.0.0.1:0".parse().expect("addr"), v, None, limits)
            .await
            .expect("bind")
            .with_ws(WsConfig::default());
        let addr = server.local_addr().expect("addr");
        tokio::spawn(server.run(std::future::pending()));
        let frames = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        // Subscribers the venue dropped (a consumer too slow for its queue is dropped).
        let dropped = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::new();
        for _ in 0..subscribers {
            let url = format!("ws://{addr}/stream?streams={STREAMS}");
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
            let (frames, bytes, dropped) = (frames.clone(), bytes.clone(), dropped.clone());
            clients.push(tokio::spawn(async move {
                while let Some(Ok(m)) = ws.next().await {
                    frames.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(m.len() as u64, Ordering::Relaxed);
                }
                dropped.fetch_add(1, Ordering::Relaxed);
            }));
        }
        // Warm up a second, then count.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (f0, b0) = (frames.load(Ordering::Relaxed), bytes.load(Ordering::Relaxed));
        let start = wall_clock_ms();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let secs = wall_clock_ms().saturating_sub(start).max(1) as f64 / 1_000.0;
        let f = frames.load(Ordering::Relaxed) - f0;
        let b = bytes.load(Ordering::Relaxed) - b0;
        println!(
            "{subscribers} subscribers, market speed {speed}: {:.0} events/s in all ({:.0} per subscriber), {:.1} MB/s; {} dropped as too slow",
            f as f64 / secs,
            f as f64 / secs / subscribers as f64,
            b as f64 / secs / 1e6,
            dropped.load(Ordering::Relaxed)
        );
        for c in clients {
            c.abort();
        }
    });
}

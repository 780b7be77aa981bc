//! The venue's WebSocket side over real sockets, with tokio-tungstenite as the client: the
//! upgrade on the HTTP port, combined streams, the WebSocket API, bounds and expiry.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use order_router::sim::scenario::parse;
use order_router::venue::server::{wall_clock_ms, Server, ServerLimits};
use order_router::venue::stream::WsConfig;
use order_router::venue::{self, Credentials, Limits, Setup, Venue};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const LIVE: &str = "t_ms,action,symbol,side,qty,price,params
0,config,,,,,seed=3;venue_min_notional=5;market=live
0,balance,USDT,,10000,,
0,price,BTC/USDT,,,50000,spread_bps=2;depth=1
";

async fn serve(expiry_ms: u64) -> SocketAddr {
    let setup = Setup {
        scenario: parse("ws.csv", LIVE.as_bytes()).expect("scenario"),
        credentials: Credentials::new("ws-key", "ws-secret").unwrap(),
        seed: 1,
        profile: venue::profile("none").unwrap(),
        limits: Limits::default(),
        speed: 1,
        stall_ms: 200,
    };
    let v = Venue::new(setup, wall_clock_ms());
    let server = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        v,
        None,
        ServerLimits::default(),
    )
    .await
    .unwrap()
    .with_ws(WsConfig {
        expiry_ms,
        ..WsConfig::default()
    });
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run(std::future::pending()));
    addr
}

/// The next text frame, within ten seconds.
async fn next_text<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a frame");
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).expect("JSON");
        }
    }
}

// rule: venue_streams
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn combined_streams_carry_depth_diffs_and_trades_from_the_living_market() {
    let addr = serve(86_400_000).await;
    let url = format!("ws://{addr}/stream?streams=btcusdt@depth@100ms/btcusdt@trade");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut streams = std::collections::BTreeSet::new();
    let mut last_u = 0;
    while streams.len() < 2 {
        let m = next_text(&mut ws).await;
        let stream = m["stream"].as_str().unwrap().to_string();
        if stream == "btcusdt@depth@100ms" {
            assert_eq!(m["data"]["e"], "depthUpdate");
            let (big_u, u) = (
                m["data"]["U"].as_u64().unwrap(),
                m["data"]["u"].as_u64().unwrap(),
            );
            assert!(last_u == 0 || big_u == last_u + 1, "contiguous diffs");
            last_u = u;
        } else {
            assert_eq!(m["data"]["e"], "trade");
        }
        streams.insert(stream);
    }
    // LIST_SUBSCRIPTIONS answers amid the events.
    ws.send(Message::Text(
        r#"{"method":"LIST_SUBSCRIPTIONS","id":7}"#.into(),
    ))
    .await
    .unwrap();
    loop {
        let m = next_text(&mut ws).await;
        if m["id"] == 7 {
            assert_eq!(m["result"].as_array().unwrap().len(), 2);
            break;
        }
    }
}

// rule: venue_streams
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ws_api_answers_and_bad_or_oversized_frames_never_crash_it() {
    let addr = serve(86_400_000).await;
    let url = format!("ws://{addr}/ws-api/v3");
    let (mut ws, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
    ws.send(Message::Text(r#"{"id":1,"method":"time"}"#.into()))
        .await
        .unwrap();
    let t = next_text(&mut ws).await;
    assert_eq!(t["status"], 200);
    assert!(t["result"]["serverTime"].as_u64().unwrap() > 1_600_000_000_000);
    ws.send(Message::Text("{\"id\":".into())).await.unwrap();
    assert_eq!(next_text(&mut ws).await["error"]["code"], -1135);
    ws.send(Message::Binary(vec![0, 1, 2].into()))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await["error"]["code"], -1135);
    // A message over 64 KiB closes the connection (1009, message too big).
    let big = format!(
        r#"{{"id":2,"method":"ping","params":{{"x":"{}"}}}}"#,
        "a".repeat(70_000)
    );
    let _ = ws.send(Message::Text(big.into())).await;
    let mut closed = false;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        match m {
            Ok(Message::Close(frame)) => {
                if let Some(f) = frame {
                    assert_eq!(u16::from(f.code), 1009);
                }
                closed = true;
                break;
            }
            Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(closed, "an oversized message ends the connection");
    // The server is still there for the next client.
    let (mut again, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    again
        .send(Message::Text(r#"{"id":3,"method":"ping"}"#.into()))
        .await
        .unwrap();
    assert_eq!(next_text(&mut again).await["status"], 200);
    // A plain GET on a WebSocket path is refused with a JSON body, not upgraded.
    order_router::live::client::install_tls();
    let plain = reqwest::get(format!("http://{addr}/ws/btcusdt@trade"))
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 400);
    let body: Value = plain.json().await.unwrap();
    assert!(body["code"].is_i64());
}

// rule: venue_streams
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_closed_when_it_expires() {
    let addr = serve(300).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/btcusdt@trade"))
        .await
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(f)) => return f.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("closed in time");
    assert_eq!(end, Some(1000));
}

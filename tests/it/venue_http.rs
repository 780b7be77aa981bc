//! The venue over real HTTP: the server adapter in-process, and `order-router venue` as a
//! process, with reqwest as the client.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use order_router::sim::scenario::parse;
use order_router::venue::server::{wall_clock_ms, Record, Server, ServerLimits};
use order_router::venue::{self, Credentials, Limits, Setup, Venue};
use serde_json::Value;

use crate::common::{cli, spawn_venue};

pub const KEY: &str = "http-key";
pub const SECRET: &str = "http-secret";

/// Serves `csv` on a free loopback port from a thread of its own; returns the address and
/// the record file.
fn serve(csv: &str) -> (SocketAddr, tempfile::NamedTempFile) {
    serve_with(
        csv,
        ServerLimits {
            max_body_bytes: 4096,
            ..ServerLimits::default()
        },
    )
}

fn serve_with(csv: &str, limits: ServerLimits) -> (SocketAddr, tempfile::NamedTempFile) {
    let record = tempfile::NamedTempFile::new().unwrap();
    let out = Box::new(record.reopen().unwrap());
    (serve_into(csv, limits, out), record)
}

/// Serves `csv` on a free loopback port from a thread of its own, its record lines going to
/// `out`; returns the address.
pub fn serve_into(csv: &str, limits: ServerLimits, out: Box<dyn Write + Send>) -> SocketAddr {
    let setup = Setup {
        scenario: parse("http.csv", csv.as_bytes()).expect("scenario"),
        credentials: Credentials::new(KEY, SECRET).unwrap(),
        seed: 1,
        profile: venue::profile("none").unwrap(),
        limits: Limits::default(),
        speed: 1,
        stall_ms: 200,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let v = Venue::new(setup, wall_clock_ms());
            let record = Record {
                out,
                name: "record.jsonl".into(),
            };
            let server = Server::bind("127.0.0.1:0".parse().unwrap(), v, Some(record), limits)
                .await
                .unwrap();
            tx.send(server.local_addr().unwrap()).unwrap();
            let _ = server.run(std::future::pending()).await;
        });
    });
    rx.recv().unwrap()
}

pub const MARKET: &str = "t_ms,action,symbol,side,qty,price,params
0,balance,USDT,,10000,,
0,price,BTC/USDT,,,50000,spread_bps=2;depth=1
";

pub fn client() -> reqwest::blocking::Client {
    order_router::live::client::install_tls();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub fn signed_body(params: &str) -> String {
    let q = format!("{params}&timestamp={}", wall_clock_ms());
    format!(
        "{q}&signature={}",
        Credentials::new(KEY, SECRET).unwrap().sign(q.as_bytes())
    )
}

#[test]
fn public_and_signed_requests_over_http() {
    let (addr, record) = serve(MARKET);
    let c = client();
    let r = c
        .get(format!("http://{addr}/api/v3/depth?symbol=BTCUSDT&limit=1"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    assert_eq!(r.headers()["x-mbx-used-weight-1m"], "5");
    let v: Value = r.json().unwrap();
    assert_eq!(v["bids"][0][0], "49995.00000000");
    let body = signed_body("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=50010&newClientOrderId=h1");
    let r = c
        .post(format!("http://{addr}/api/v3/order"))
        .header("X-MBX-APIKEY", KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-mbx-order-count-10s"], "1");
    let v: Value = r.json().unwrap();
    assert_eq!(v["status"], "FILLED");
    // Too large a body: refused, never read whole.
    let r = c
        .post(format!("http://{addr}/api/v3/order"))
        .header("X-MBX-APIKEY", KEY)
        .body(vec![b'a'; 100_000])
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().unwrap();
    assert!(v["code"].is_i64());
    let lines = std::fs::read_to_string(record.path()).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
}

#[test]
fn a_lost_reply_closes_the_connection_after_the_order_executed() {
    let (addr, record) = serve(&format!("{MARKET}0,fault,,,,,kind=response_lost;count=1\n"));
    let c = client();
    let body = signed_body("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=50010&newClientOrderId=lost");
    let err = c
        .post(format!("http://{addr}/api/v3/order"))
        .header("X-MBX-APIKEY", KEY)
        .body(body)
        .send()
        .expect_err("no reply");
    assert!(!err.is_status(), "{err}");
    let q = signed_body("symbol=BTCUSDT&origClientOrderId=lost");
    let v: Value = c
        .get(format!("http://{addr}/api/v3/order?{q}"))
        .header("X-MBX-APIKEY", KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["status"], "FILLED");
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(record.path())
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["faults"], serde_json::json!(["response_lost"]));
}

#[test]
fn the_command_serves_and_refuses_bad_setups_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn_venue(&["--api-key", KEY, "--api-secret", SECRET], &[]);
    let v: Value = client()
        .get(format!("{url}/api/v3/exchangeInfo"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let names: Vec<&str> = v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["BTCUSDT", "ETHUSDT"]);
    child.kill().unwrap();
    let _ = child.wait();

    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(
        &bad_csv,
        "t_ms,action,symbol,side,qty,price,params\n0,price,BTC/USDT,,,abc,\n",
    )
    .unwrap();
    let bad = bad_csv.to_str().unwrap();
    let good_csv = dir.path().join("good.csv");
    std::fs::copy("scenarios/venue/default.csv", &good_csv).unwrap();
    let good = good_csv.to_str().unwrap();
    let k = ["--api-key", KEY, "--api-secret", SECRET];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["venue", "--listen", "127.0.0.1:0"],
            "ORDER_ROUTER_API_KEY",
        ),
        (
            [&["venue", "--listen", "0.0.0.0:0"][..], &k].concat(),
            "--allow-remote",
        ),
        (
            [&["venue", "--listen", "nowhere"][..], &k].concat(),
            "--listen",
        ),
        (
            [&["venue", "--faults", "wild"][..], &k].concat(),
            "--faults",
        ),
        (
            [&["venue", "--weight-limit", "0"][..], &k].concat(),
            "--weight-limit",
        ),
        (
            [&["venue", "--scenario", bad][..], &k].concat(),
            "bad.csv:2: price",
        ),
        (
            [&["venue", "--scenario", good, "--record", good][..], &k].concat(),
            "--record",
        ),
        (
            [&["venue", "--api-key", "a b", "--api-secret", "s"][..]].concat(),
            "--api-key",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = cli(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: nothing started: {out}");
    }
    // The inputs it refused are untouched.
    assert!(std::fs::read_to_string(&bad_csv).unwrap().contains("abc"));
    assert_eq!(
        std::fs::read(&good_csv).unwrap(),
        std::fs::read("scenarios/venue/default.csv").unwrap()
    );
}

#[test]
fn connections_beyond_the_limit_wait_until_one_closes() {
    let (addr, _record) = serve_with(
        MARKET,
        ServerLimits {
            max_connections: 1,
            ..ServerLimits::default()
        },
    );
    // An idle client holds the one connection the server will serve.
    let idle = std::net::TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // A second client gets into the kernel's backlog but no answer.
    let mut waiting = std::net::TcpStream::connect(addr).unwrap();
    waiting
        .write_all(b"GET /api/v3/ping HTTP/1.1\r\nHost: venue\r\n\r\n")
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0u8; 64];
    match waiting.read(&mut buf) {
        Ok(n) => panic!("served beyond the connection limit: {n} bytes"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
    // Both close; the server then serves a fresh client.
    drop(waiting);
    drop(idle);
    let r = client()
        .get(format!("http://{addr}/api/v3/ping"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Sends `raw` on a fresh connection and reads one answer: its status and JSON body. An
/// answer that never comes fails the test after 10 seconds.
fn exchange(addr: SocketAddr, raw: &[u8]) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no content-length: {head}"));
            if got.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                let body = serde_json::from_slice(&got[end + 4..end + 4 + len])
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {head}"));
                return (status, body);
            }
        }
        let n = s.read(&mut buf).expect("an answer within 10 s");
        assert!(n > 0, "closed without an answer: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn half_sent_requests_cannot_hold_every_connection() {
    let (addr, _record) = serve_with(
        MARKET,
        ServerLimits {
            max_connections: 8,
            header_timeout_ms: 300,
            ..ServerLimits::default()
        },
    );
    // Six times the connection limit, each stuck in the middle of its headers.
    let stuck: Vec<std::net::TcpStream> = (0..50)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /api/v3/ping HTTP/1.1\r\nHost: venue\r\n")
                .unwrap();
            s
        })
        .collect();
    // They are closed as their header time runs out, and a normal client is served.
    let r = client()
        .get(format!("http://{addr}/api/v3/ping"))
        .send()
        .expect("served despite the stuck connections");
    assert_eq!(r.status(), 200);
    drop(stuck);
}

#[test]
fn a_declared_body_over_the_limit_is_refused_before_it_arrives() {
    let (addr, record) = serve(MARKET);
    // Nothing of the announced body is ever sent: only an answer from the headers can come.
    let (status, v) = exchange(
        addr,
        b"POST /api/v3/order HTTP/1.1\r\nHost: venue\r\nContent-Length: 99999999999999\r\n\r\n",
    );
    assert_eq!(status, 413);
    assert_eq!(v["code"], -1000, "{v}");
    assert_eq!(std::fs::read_to_string(record.path()).unwrap(), "");
}

#[test]
fn protocol_errors_are_answered_with_binance_json() {
    let (addr, _record) = serve_with(
        MARKET,
        ServerLimits {
            read_timeout_ms: 200,
            ..ServerLimits::default()
        },
    );
    let long_path = format!(
        "GET /{} HTTP/1.1\r\nHost: venue\r\n\r\n",
        "a".repeat(70_000)
    );
    let cases: [(&[u8], u16, i64); 7] = [
        (
            b"G@T /api/v3/ping HTTP/1.1\r\nHost: venue\r\n\r\n",
            400,
            -1000,
        ),
        (b"not http at all\r\n\r\n", 400, -1000),
        (
            b"GET /api/v3/ping HTTP/1.1\r\nno colon here\r\n\r\n",
            400,
            -1000,
        ),
        (long_path.as_bytes(), 414, -1000),
        (
            b"GET /api/v3/nothing HTTP/1.1\r\nHost: venue\r\n\r\n",
            404,
            -1000,
        ),
        (
            b"PATCH /api/v3/ping HTTP/1.1\r\nHost: venue\r\n\r\n",
            405,
            -1000,
        ),
        (
            b"GET /api/v3/depth?symbol=%ZZ HTTP/1.1\r\nHost: venue\r\n\r\n",
            400,
            -1100,
        ),
    ];
    for (raw, want_status, want_code) in cases {
        let shown = String::from_utf8_lossy(&raw[..raw.len().min(40)]).into_owned();
        let (status, v) = exchange(addr, raw);
        assert_eq!(status, want_status, "{shown}: {v}");
        assert_eq!(v["code"], want_code, "{shown}: {v}");
        assert!(v["msg"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    // A body that stops short of its length is answered once the read time is up.
    let (status, v) = exchange(
        addr,
        b"POST /api/v3/order HTTP/1.1\r\nHost: venue\r\nContent-Length: 10\r\n\r\nabc",
    );
    assert_eq!(status, 408);
    assert_eq!(v["code"], -1000, "{v}");
}

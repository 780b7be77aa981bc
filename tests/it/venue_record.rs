//! The venue's `--record`: appended to, never an input, one venue at a time, and a venue
//! that can no longer record stops trading.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use order_router::venue::server::ServerLimits;
use serde_json::Value;

use crate::common::{bin, cli, spawn_venue};
use crate::venue_http::{client, serve_into, signed_body, KEY, MARKET, SECRET};

const KEYS: [&str; 4] = ["--api-key", KEY, "--api-secret", SECRET];

/// A record that takes `left` writes, then fails as a full disk does.
struct FillsUp {
    kept: Arc<Mutex<Vec<u8>>>,
    left: usize,
}

impl Write for FillsUp {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        self.left -= 1;
        self.kept.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn place(url: &str, id: &str) -> (u16, Value) {
    let body = signed_body(&format!(
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=50010&newClientOrderId={id}"
    ));
    let r = client()
        .post(format!("{url}/api/v3/order"))
        .header("X-MBX-APIKEY", KEY)
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

fn get(url: &str, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{url}{path}"))
        .header("X-MBX-APIKEY", KEY)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

#[test]
fn a_record_that_cannot_be_written_stops_trading() {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let out = FillsUp {
        kept: kept.clone(),
        left: 1,
    };
    let addr = serve_into(MARKET, ServerLimits::default(), Box::new(out));
    let url = format!("http://{addr}");
    let (status, v) = place(&url, "recorded");
    assert_eq!((status, &v["status"]), (200, &Value::from("FILLED")), "{v}");
    // This request's line is the one that cannot be written.
    assert_eq!(get(&url, "/api/v3/ping").0, 200);
    let (status, v) = place(&url, "unrecorded");
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["code"], -1001, "{v}");
    let account = signed_body("omitZeroBalances=true");
    let (status, v) = get(&url, &format!("/api/v3/account?{account}"));
    assert_eq!((status, &v["code"]), (503, &Value::from(-1001)), "{v}");
    // Market data is still served, and it shows the one recorded trade only.
    let (status, trades) = get(&url, "/api/v3/trades?symbol=BTCUSDT");
    assert_eq!(status, 200);
    assert_eq!(trades.as_array().unwrap().len(), 1, "{trades}");
    let kept = String::from_utf8(kept.lock().unwrap().clone()).unwrap();
    assert_eq!(kept.lines().count(), 1, "{kept}");
    assert!(kept.contains("\"clientOrderId\":\"recorded\""), "{kept}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_under_the_record_stops_trading_and_says_so() {
    let mut child = bin()
        .args(["venue", "--listen", "127.0.0.1:0", "--record", "/dev/full"])
        .args(KEYS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.split_whitespace().nth(3).unwrap().to_string();
    assert_eq!(get(&url, "/api/v3/ping").0, 200);
    let (status, v) = place(&url, "never");
    child.kill().unwrap();
    let _ = child.wait();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!((status, &v["code"]), (503, &Value::from(-1001)), "{v}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("/dev/full") && err.contains("os error 28"),
        "{err}"
    );
}

/// Runs a venue on `record`, sends it one ping, and stops it.
fn one_ping_into(record: &str) {
    let (mut child, url) = spawn_venue(&[&KEYS[..], &["--record", record]].concat(), &[]);
    assert_eq!(get(&url, "/api/v3/ping").0, 200);
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn the_record_is_appended_to_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.jsonl");
    let record = path.to_str().unwrap();
    let old = "{\"seq\":1,\"path\":\"/api/v3/time\"}\n{\"seq\":2,\"path\":\"/api/v3/ping\"}\n";
    std::fs::write(&path, old).unwrap();
    one_ping_into(record);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(old), "{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[2]["seq"], 1, "a run's lines start again at 1");
    // A last line an earlier run left unfinished stays as it was; the next run's lines are
    // whole lines after it.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"seq\":4,\"pa")
        .unwrap();
    one_ping_into(record);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[3], "{\"seq\":4,\"pa");
    let last: Value = serde_json::from_str(lines[4]).unwrap();
    assert_eq!(last["path"], "/api/v3/ping");
}

#[test]
fn a_record_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.csv");
    std::fs::copy("scenarios/venue/default.csv", &scenario).unwrap();
    let hard = dir.path().join("hard.csv");
    std::fs::hard_link(&scenario, &hard).unwrap();
    let soft = dir.path().join("soft.csv");
    std::os::unix::fs::symlink(&scenario, &soft).unwrap();
    let market = dir.path().join("m.csv");
    std::fs::write(&market, "timestamp,price,qty\n1,50000,1\n2,50010,1\n").unwrap();
    let market_again = dir.path().join(".").join("m.csv");
    let [s, h, l, m, m2] =
        [&scenario, &hard, &soft, &market, &market_again].map(|p| p.to_str().unwrap());
    let builtin = "scenarios/venue/default.csv";
    let cases: [(&[&str], &str); 5] = [
        (&["--record", builtin], "the built-in scenario"),
        (
            &["--record", "./scenarios/../scenarios/venue/default.csv"],
            "the built-in scenario",
        ),
        (&["--scenario", s, "--record", h], "the scenario"),
        (&["--scenario", s, "--record", l], "the scenario"),
        (
            &["--market", m, "--market-symbol", "BTC/USDT", "--record", m2],
            "the market file",
        ),
    ];
    let before: Vec<Vec<u8>> = [builtin, s, m]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // An address already taken: a venue that wrongly accepted its record could not start
    // either, so the test ends whatever the outcome.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    for (flags, want) in cases {
        let args = [&["venue", "--listen", &listen][..], &KEYS, flags].concat();
        let (code, out, err) = cli(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("--record") && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(out.is_empty(), "{args:?}: nothing bound: {out}");
    }
    let after: Vec<Vec<u8>> = [builtin, s, m]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(before == after, "an input changed");
}

#[test]
fn a_second_venue_on_a_record_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.jsonl");
    let record = path.to_str().unwrap();
    let (mut first, url) = spawn_venue(&[&KEYS[..], &["--record", record]].concat(), &[]);
    assert_eq!(get(&url, "/api/v3/ping").0, 200);
    let before = std::fs::read(&path).unwrap();
    // The first venue's own address: a second venue that wrongly took the record could not
    // start either, so the test ends whatever the outcome.
    let listen = url.trim_start_matches("http://");
    let args = [
        &["venue", "--listen", listen][..],
        &KEYS,
        &["--record", record],
    ]
    .concat();
    let (code, out, err) = cli(&args);
    assert_eq!(code, Some(2), "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("another venue"), "{err}");
    assert!(out.is_empty(), "nothing bound: {out}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // The first venue records on.
    assert_eq!(get(&url, "/api/v3/ping").0, 200);
    first.kill().unwrap();
    let _ = first.wait();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
}

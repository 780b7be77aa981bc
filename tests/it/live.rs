//! The live path: the Binance adapter's parsers on recorded real answers, its error table on
//! recorded real error payloads, and `order-router live` end to end against `order-router
//! venue` on loopback, under each fault profile and real SIGKILLs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use order_router::exchange::{ExchangeError, OrderStatus};
use order_router::live::binance::{self, Meaning};
use order_router::model::{ClientOrderId, IntentId, Side, Symbol};
use order_router::router::Action;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::common::{bin, cli, output_within, spawn_venue};

pub(crate) const KEY: &str = "live-key";
pub(crate) const SECRET: &str = "live-secret";

fn recorded(file: &str) -> Value {
    let text =
        std::fs::read_to_string(format!("../shared/data/exchange/{file}")).expect("recorded data");
    serde_json::from_str(&text).expect("json")
}

fn response(method: &str) -> Vec<u8> {
    let all = recorded("binance_spot_responses_ccxt.json");
    let e = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == method)
        .unwrap();
    serde_json::to_vec(&e["httpResponse"]).unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

#[test]
fn parsers_read_recorded_binance_answers() {
    let o = binance::parse_order(&response("createOrder"), &sym("SOL/USDT")).unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    assert_eq!(o.amount, Decimal::new(5, 2));
    assert_eq!(o.order_id.get(), 9780331417);
    let o = binance::parse_order(&response("fetchOrder"), &sym("LTC/USDT")).unwrap();
    assert_eq!(o.status, OrderStatus::Closed);
    assert_eq!(o.average, Some("90.8".parse().unwrap()));
    assert!(
        binance::parse_order(&response("fetchOrder"), &sym("BTC/USDT")).is_err(),
        "another symbol"
    );
    let t = binance::parse_trades(&response("fetchMyTrades"), &sym("LTC/USDT")).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].side, Side::Sell);
    assert_eq!(t[0].fee, "0.013926".parse().unwrap());
    assert_eq!(t[0].fee_asset.as_str(), "USDT");
    let (balances, fee) = binance::parse_account(&response("fetchBalance")).unwrap();
    assert_eq!(fee, Decimal::TEN);
    assert!(balances
        .iter()
        .any(|(a, f)| a.as_str() == "LTC" && *f == "0.919741".parse().unwrap()));
    let info =
        std::fs::read("../shared/data/exchange/binance_spot_exchange_info_btcusdt_20211022.json")
            .unwrap();
    let m = binance::parse_exchange_info(&info, Decimal::TEN).unwrap();
    let r = m.rules[&sym("BTC/USDT")];
    assert_eq!(
        (r.tick_size, r.step_size, r.min_notional),
        (
            "0.01".parse().unwrap(),
            "0.00001".parse().unwrap(),
            Decimal::TEN
        )
    );
    assert_eq!(m.symbol("BTCUSDT"), Some(&sym("BTC/USDT")));
    assert_eq!(binance::parse_weight_limit(&info), Some(1200));
    // Garbage is an error, never a panic.
    for body in [
        &b""[..],
        b"{}",
        b"[1]",
        b"{\"symbol\":\"BTCUSDT\"}",
        b"\xff",
    ] {
        assert!(binance::parse_order(body, &sym("BTC/USDT")).is_err());
        assert!(binance::parse_trades(body, &sym("BTC/USDT")).is_err());
    }
}

fn place_action() -> Action {
    // A placement as the router makes one: through a router, the only maker of requests.
    let mut router =
        order_router::router::Router::new(order_router::router::RouterConfig::default(), {
            let mut p = order_router::portfolio::Portfolio::new();
            p.deposit(
                &order_router::model::Asset::new("USDT").unwrap(),
                Decimal::from(1_000),
            )
            .unwrap();
            p
        })
        .unwrap();
    let intent = order_router::Intent::new(
        IntentId::new("t-1").unwrap(),
        0,
        sym("BTC/USDT"),
        Side::Buy,
        "0.001".parse().unwrap(),
        Decimal::from(50_000),
    )
    .unwrap();
    router
        .handle(0, order_router::router::Input::Deliver(intent))
        .unwrap();
    while let Some(l) = router.poll_audit() {
        router.journal_durable(l.seq).unwrap();
    }
    router.poll_command().expect("a placement").action
}

#[test]
// rule: no_duplicate_orders
fn every_recorded_binance_error_maps_to_a_router_outcome() {
    let all = recorded("binance_error_payloads_ccxt.json");
    let place = place_action();
    let mut seen = 0;
    for e in all["entries"].as_array().unwrap() {
        let body = serde_json::to_vec(&e["payload"]).unwrap();
        let code = e["payload"]["code"].as_i64().unwrap() as i32;
        let err = binance::classify(400, &body, &place);
        let want = match code {
            -1003 | -1015 => ExchangeError::RateLimited {
                retry_after_ms: binance::DEFAULT_RETRY_AFTER_MS,
            },
            -1021 => ExchangeError::RecvWindowExpired,
            -2011 | -2013 => ExchangeError::NotFound,
            -1000 | -1001 | -1006 | -1007 | -1008 => {
                assert!(
                    matches!(err, ExchangeError::ServerError(_)),
                    "{code}: {err:?}"
                );
                seen += 1;
                continue;
            }
            _ => {
                assert!(
                    matches!(err, ExchangeError::Rejected { code: c, .. } if c == code),
                    "{code}: {err:?}"
                );
                seen += 1;
                continue;
            }
        };
        assert_eq!(err, want, "{code}");
        seen += 1;
    }
    assert!(seen > 60);
    // Whatever the code, a 5xx is unknown, 429 and 418 are rate limits.
    let body = br#"{"code":-2010,"msg":"Account has insufficient balance for requested action."}"#;
    assert!(matches!(
        binance::classify(503, body, &place),
        ExchangeError::ServerError(_)
    ));
    assert!(matches!(
        binance::classify(429, body, &place),
        ExchangeError::RateLimited { .. }
    ));
    assert!(matches!(
        binance::classify(418, b"", &place),
        ExchangeError::RateLimited { .. }
    ));
    assert!(matches!(
        binance::classify(502, b"<html>", &place),
        ExchangeError::ServerError(_)
    ));
    assert!(matches!(
        binance::classify(400, body, &place),
        ExchangeError::Rejected { code: -2010, .. }
    ));
    let dup = br#"{"code":-2010,"msg":"Duplicate order sent."}"#;
    assert!(matches!(
        binance::classify(400, dup, &place),
        ExchangeError::DuplicateClientOrderId(_)
    ));
    assert_eq!(binance::meaning(400, Some(-1007), ""), Meaning::Unknown);
    // The outcomes agree with the router's reading of them.
    for (code, m, _) in binance::CODES {
        let e = binance::classify(
            400,
            format!("{{\"code\":{code},\"msg\":\"x\"}}").as_bytes(),
            &place,
        );
        let unknown = e.outcome() == order_router::exchange::Outcome::Unknown;
        assert_eq!(
            unknown,
            matches!(m, Meaning::Unknown | Meaning::Duplicate),
            "{code}"
        );
    }
}

#[test]
// rule: rate_limit_hold
fn the_client_holds_back_after_429_418_and_near_the_weight_limit() {
    use order_router::live::client::hold_until;
    let now = 1_000_000;
    // A 429 or 418: wait what Retry-After says (one second without one).
    assert_eq!(
        hold_until(now, now, 429, Some(7), None, 6_000),
        Some(now + 7_000)
    );
    assert_eq!(
        hold_until(now, now, 418, Some(120), None, 6_000),
        Some(now + 120_000)
    );
    assert_eq!(
        hold_until(now, now, 429, None, None, 6_000),
        Some(now + 1_000)
    );
    // 90% of the minute's weight used: wait for the venue's next minute.
    let venue_now = 60_000 * 5 + 15_000;
    assert_eq!(
        hold_until(now, venue_now, 200, None, Some(5_400), 6_000),
        Some(now + 45_000)
    );
    assert_eq!(
        hold_until(now, venue_now, 200, None, Some(5_399), 6_000),
        None
    );
    assert_eq!(
        hold_until(now, venue_now, 200, None, Some(5_999), 0),
        None,
        "limit unknown"
    );
    assert_eq!(hold_until(now, now, 200, None, None, 6_000), None);
}

/// A venue process on a free port: the child, its URL and its record.
pub(crate) struct VenueProc {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) record: std::path::PathBuf,
}

impl Drop for VenueProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn venue(dir: &Path, faults: &str, seed: u64) -> VenueProc {
    let record = dir.join("venue.jsonl");
    let seed = seed.to_string();
    let (child, url) = spawn_venue(
        &[
            "--faults",
            faults,
            "--seed",
            &seed,
            "--stall-ms",
            "300",
            "--record",
            record.to_str().unwrap(),
        ],
        &[
            ("ORDER_ROUTER_API_KEY", KEY),
            ("ORDER_ROUTER_API_SECRET", SECRET),
        ],
    );
    VenueProc { child, url, record }
}

/// `n` intents, buys and sells of BTC/USDT, as JSON lines.
pub(crate) fn intents(
    dir: &Path,
    n: usize,
    seed: u64,
) -> (std::path::PathBuf, BTreeMap<String, Decimal>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::new();
    let mut qty = BTreeMap::new();
    for i in 0..n {
        let side = if rng.random_bool(0.6) { "buy" } else { "sell" };
        let q = Decimal::new(rng.random_range(1..=4), 3);
        let id = format!("live-{seed}-{i}");
        text.push_str(&format!(
            "{{\"intent_id\":\"{id}\",\"ts_ms\":{},\"symbol\":\"BTC/USDT\",\"side\":\"{side}\",\"qty\":{q},\"ref_price\":50000}}\n",
            1_700_000_000_000u64 + i as u64
        ));
        qty.insert(id, q);
    }
    let p = dir.join("intents.jsonl");
    std::fs::write(&p, text).unwrap();
    (p, qty)
}

pub(crate) fn live_cmd(url: &str, intents: &Path, journal: &Path) -> std::process::Command {
    let mut c = bin();
    c.args([
        "live",
        "--venue",
        url,
        "--request-timeout-ms",
        "800",
        "--json",
        "--intents",
    ])
    .arg(intents)
    .arg("--journal")
    .arg(journal)
    .env("ORDER_ROUTER_API_KEY", KEY)
    .env("ORDER_ROUTER_API_SECRET", SECRET);
    c
}

pub(crate) fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

pub(crate) fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.to_string().parse().unwrap(),
        _ => Decimal::ZERO,
    }
}

/// What must hold after the live router finished: the journal passes `check-audit`, every
/// intent ended, nothing stays reserved, no client id holds two venue orders, every venue order
/// is one the journal sent, and per intent the venue's trades and the journal's reconciled fills
/// agree and stay within the intent's quantity.
pub(crate) fn check(
    journal: &Path,
    record: &Path,
    qty: &BTreeMap<String, Decimal>,
    summary: &Value,
) {
    let (code, out, err) = cli(&["check-audit", journal.to_str().unwrap()]);
    assert_eq!(code, Some(0), "check-audit: {out}{err}");
    assert_eq!(summary["reserved"], "0", "{summary}");
    assert_eq!(summary["stopped"], false);
    let j = lines(journal);
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let mut sent: BTreeSet<String> = BTreeSet::new();
    let mut journal_filled: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in &j {
        let id = l["intent_id"].as_str().unwrap().to_string();
        last.insert(id.clone(), l["state"].as_str().unwrap().to_string());
        if l["state"] == "SENT" && l.get("event").is_none() {
            sent.insert(l["client_order_id"].as_str().unwrap().to_string());
        }
        if (l["state"] == "RECONCILED" || l["state"] == "PARTIAL_SUCCESS")
            && l.get("event").is_none()
        {
            journal_filled.insert(id, dec(&l["filled_qty"]));
        }
    }
    assert_eq!(last.len(), qty.len(), "every intent in the journal");
    for (id, s) in &last {
        assert!(
            ["RECONCILED", "FAILED_FINAL", "FAILED", "PARTIAL_SUCCESS"].contains(&s.as_str()),
            "{id} ended {s}"
        );
    }
    let rec = lines(record);
    // rate_limit_hold: a wait is not an attempt. Every placement the journal ended as rate
    // limited is one the venue refused with a 429 or 418, not one held back on this side.
    let refused_429: BTreeSet<&str> = rec
        .iter()
        .filter(|l| l["method"] == "POST" && (l["status"] == 429 || l["status"] == 418))
        .filter_map(|l| l["params"]["newClientOrderId"].as_str())
        .collect();
    for l in &j {
        if l["state"] == "ERROR" && l["error"] == "rate_limited" {
            let coid = l["client_order_id"].as_str().unwrap();
            assert!(
                refused_429.contains(coid),
                "{coid} logged as rate limited, but the venue never refused it: {l}"
            );
        }
    }
    let mut coid_of: BTreeMap<u64, String> = BTreeMap::new();
    for l in &rec {
        if let Some(o) = l["order"].as_object() {
            let coid = o["clientOrderId"].as_str().unwrap().to_string();
            let oid = o["orderId"].as_u64().unwrap();
            if l["method"] == "POST" {
                assert!(
                    !coid_of.values().any(|c| *c == coid),
                    "client id {coid} placed twice"
                );
                assert!(
                    sent.contains(&coid),
                    "venue order {coid} not in the journal"
                );
            }
            coid_of.insert(oid, coid);
        }
    }
    let mut venue_filled: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in &rec {
        for t in l["trades"].as_array().unwrap() {
            let coid = &coid_of[&t["orderId"].as_u64().unwrap()];
            let intent = qty
                .keys()
                .find(|id| {
                    coid.starts_with(&ClientOrderId::intent_prefix(&IntentId::new(id).unwrap()))
                })
                .unwrap_or_else(|| panic!("a trade of an order no intent placed: {coid}"));
            *venue_filled.entry(intent.clone()).or_default() += dec(&t["qty"]);
        }
    }
    for (id, q) in qty {
        let v = venue_filled.get(id).copied().unwrap_or_default();
        let jf = journal_filled.get(id).copied().unwrap_or_default();
        assert!(v <= *q, "{id}: venue filled {v} of {q}");
        let mine: Vec<String> = j
            .iter()
            .filter(|l| l["intent_id"] == id.as_str())
            .map(|l| l.to_string())
            .collect();
        assert_eq!(
            v,
            jf,
            "{id}: venue filled {v}, journal reconciled {jf}\n{}",
            mine.join("\n")
        );
    }
}

pub(crate) fn run_to_end(url: &str, intents: &Path, journal: &Path) -> Value {
    let child = live_cmd(url, intents, journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, 180);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no summary: {}", String::from_utf8_lossy(&out.stderr)));
    let summary: Value = serde_json::from_str(last).unwrap();
    assert_exit_says_whether_intents_failed(&out, &summary);
    summary
}

/// `live` exits 0 when every intent executed, 1 when some ended without executing
/// (`FAILED`, `FAILED_FINAL`), and says so.
pub(crate) fn assert_exit_says_whether_intents_failed(out: &std::process::Output, summary: &Value) {
    let failed = ["FAILED", "FAILED_FINAL"]
        .iter()
        .filter_map(|s| summary["states"][s].as_u64())
        .sum::<u64>();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = if failed > 0 { 1 } else { 0 };
    assert_eq!(out.status.code(), Some(want), "{summary}\n{stderr}");
    assert_eq!(
        stderr.contains("intents ended without executing"),
        failed > 0,
        "{stderr}"
    );
}

#[test]
fn live_against_the_venue_under_each_fault_profile() {
    for (k, faults) in ["none", "light", "rough"].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let v = venue(dir.path(), faults, 40 + k as u64);
        let (file, qty) = intents(dir.path(), 16, k as u64);
        let journal = dir.path().join("journal.jsonl");
        let summary = run_to_end(&v.url, &file, &journal);
        assert_eq!(summary["intents"], 16, "{summary}");
        check(&journal, &v.record, &qty, &summary);
        // Run again with the same journal and intents: every one is recognised, nothing sent.
        let again = run_to_end(&v.url, &file, &journal);
        assert_eq!(again["orders_sent"], summary["orders_sent"], "{again}");
        check(&journal, &v.record, &qty, &again);
    }
}

#[test]
// rule: recovery, write_ahead, no_duplicate_orders
fn sigkill_at_random_moments_then_restart() {
    let dir = tempfile::tempdir().unwrap();
    let v = venue(dir.path(), "rough", 7);
    let (file, qty) = intents(dir.path(), 24, 99);
    let journal = dir.path().join("journal.jsonl");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut killed = 0;
    for _ in 0..8 {
        let mut child = live_cmd(&v.url, &file, &journal)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(20..700)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        let _ = child.wait();
    }
    assert!(killed >= 4, "only {killed} runs were killed mid-way");
    let summary = run_to_end(&v.url, &file, &journal);
    check(&journal, &v.record, &qty, &summary);
}

#[test]
// rule: recovery
fn ctrl_c_stops_cleanly_and_a_restart_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let v = venue(dir.path(), "rough", 3);
    let (file, qty) = intents(dir.path(), 20, 3);
    let journal = dir.path().join("journal.jsonl");
    let child = live_cmd(&v.url, &file, &journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Interrupted once it has started work: its journal exists.
    for _ in 0..200 {
        if journal.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 130)),
        "{:?}",
        out.status
    );
    // A clean stop leaves a journal whose every line is whole.
    let (code, text, _) = cli(&["recover", journal.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("torn tail none"), "{text}");
    let summary = run_to_end(&v.url, &file, &journal);
    check(&journal, &v.record, &qty, &summary);
}

#[test]
fn observe_mode_places_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let v = venue(dir.path(), "none", 1);
    let (file, _) = intents(dir.path(), 5, 8);
    let journal = dir.path().join("observe.jsonl");
    let out = live_cmd(&v.url, &file, &journal)
        .arg("--observe")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let would: Vec<Value> = stdout
        .lines()
        .filter(|l| l.contains("\"observe\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(would.len(), 5, "{stdout}");
    assert!(would
        .iter()
        .all(|w| w["limit_price"].is_string() && w["client_order_id"].is_string()));
    let placed = lines(&v.record)
        .iter()
        .filter(|l| l["method"] == "POST")
        .count();
    assert_eq!(placed, 0, "observe mode placed an order");
    // An observe journal is not resumed by a live run.
    let out = live_cmd(&v.url, &file, &journal).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("observe mode"));
}

#[test]
// rule: cancel_honoured
fn cancel_lines_are_routed_as_cancel_intents() {
    let dir = tempfile::tempdir().unwrap();
    let v = venue(dir.path(), "none", 3);
    let journal = dir.path().join("j.jsonl");
    let file = dir.path().join("intents.jsonl");
    let good = "{\"intent_id\":\"a\",\"ts_ms\":1,\"symbol\":\"BTC/USDT\",\"side\":\"buy\",\"qty\":0.001,\"ref_price\":50000}";
    std::fs::write(
        &file,
        format!(
            "{good}\n{{\"intent_id\":\"ca\",\"ts_ms\":2,\"cancel\":\"a\"}}\n{{\"intent_id\":\"cn\",\"ts_ms\":3,\"cancel\":\"nobody\"}}\n"
        ),
    )
    .unwrap();
    let summary = run_to_end(&v.url, &file, &journal);
    assert_eq!(summary["intents"], 3, "{summary}");
    assert_eq!(summary["states"]["DONE"], 2, "{summary}");
    let done = |id: &str| {
        lines(&journal)
            .into_iter()
            .find(|l| l["intent_id"] == id && l["state"] == "DONE")
            .unwrap_or_else(|| panic!("no DONE for {id}"))
    };
    assert_eq!(done("cn")["outcome"], "unknown_target");
    // The cancel comes right after the buy: it finds it live or already ended, never unknown.
    let o = done("ca")["outcome"].clone();
    assert!(o == "cancelled" || o == "already_final", "{o}");
    let out = bin().args(["check-audit"]).arg(&journal).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn bad_input_is_one_line_and_nothing_is_routed() {
    let dir = tempfile::tempdir().unwrap();
    let v = venue(dir.path(), "none", 1);
    let journal = dir.path().join("j.jsonl");
    let bad = dir.path().join("bad.jsonl");
    let good = "{\"intent_id\":\"a\",\"ts_ms\":1,\"symbol\":\"BTC/USDT\",\"side\":\"buy\",\"qty\":0.001,\"ref_price\":50000}";
    let cases: Vec<(String, &str)> = vec![
        (format!("{good}\nnot json\n"), "bad.jsonl:2"),
        (
            format!("{good}\n{}\n", good.replace("0.001", "-1")),
            "bad.jsonl:2",
        ),
        (
            format!("{}\n", good.replace("BTC/USDT", "DOGE/EUR")),
            "not traded on the venue",
        ),
        (
            format!("{good}\n{{\"intent_id\":\"c\",\"ts_ms\":2,\"cancel\":\"a\",\"qty\":1}}\n"),
            "bad.jsonl:2",
        ),
        (
            format!("{good}\n{{\"intent_id\":\"a\",\"ts_ms\":2,\"cancel\":\"b\"}}\n"),
            "used at line 1",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&bad, text).unwrap();
        let out = live_cmd(&v.url, &bad, &journal).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err}");
        let _ = std::fs::remove_file(&journal);
        let _ = std::fs::remove_file(order_router::live::driver::funding_path(&journal));
    }
    assert_eq!(
        lines(&v.record)
            .iter()
            .filter(|l| l["method"] == "POST")
            .count(),
        0
    );
    // No key; an unreachable venue: one line, and no journal started.
    std::fs::write(&bad, format!("{good}\n")).unwrap();
    let out = live_cmd(&v.url, &bad, &journal)
        .env_remove("ORDER_ROUTER_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ORDER_ROUTER_API_KEY"));
    let out = live_cmd("http://127.0.0.1:1", &bad, &journal)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(!journal.exists());
}

#[test]
// rule: no_duplicate_orders, liveness
fn a_venue_that_goes_away_and_comes_back_loses_no_intent() {
    let dir = tempfile::tempdir().unwrap();
    // A free port, for the venue to come back on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let start = |record: &str| {
        let record = dir.path().join(record);
        bin()
            .args([
                "venue",
                "--listen",
                &listen,
                "--stall-ms",
                "200",
                "--record",
            ])
            .arg(&record)
            .env("ORDER_ROUTER_API_KEY", KEY)
            .env("ORDER_ROUTER_API_SECRET", SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = start("first.jsonl");
    std::thread::sleep(Duration::from_millis(300));
    let (file, qty) = intents(dir.path(), 30, 17);
    let journal = dir.path().join("journal.jsonl");
    let url = format!("http://{listen}");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines_in: Vec<&str> = text.lines().collect();
    let mut live = live_cmd(&url, Path::new("-"), &journal)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = live.stdin.take().unwrap();
    use std::io::Write as _;
    for l in &lines_in[..10] {
        writeln!(stdin, "{l}").unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    first.kill().unwrap();
    let _ = first.wait();
    // Gone for a while: these intents' requests fail, their outcomes are unknown, and the
    // router keeps asking.
    for l in &lines_in[10..] {
        writeln!(stdin, "{l}").unwrap();
    }
    std::thread::sleep(Duration::from_millis(1_500));
    let mut second = start("second.jsonl");
    drop(stdin);
    let out = output_within(live, 180);
    let _ = second.kill();
    let _ = second.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_exit_says_whether_intents_failed(&out, &summary);
    assert_eq!(summary["intents"], 30, "{summary}");
    assert_eq!(summary["reserved"], "0");
    let (code, text, _) = cli(&["check-audit", journal.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    let placed_after = lines(&dir.path().join("second.jsonl"))
        .iter()
        .filter(|l| l["method"] == "POST" && l["status"] == 200)
        .count();
    assert!(
        placed_after > 0,
        "intents of the outage were placed once the venue was back"
    );
    // Every intent ended, none beyond its quantity across both venues' trades.
    let mut filled: BTreeMap<String, Decimal> = BTreeMap::new();
    for rec in ["first.jsonl", "second.jsonl"] {
        let rec = lines(&dir.path().join(rec));
        let mut coid_of: BTreeMap<u64, String> = BTreeMap::new();
        for l in &rec {
            if let Some(o) = l["order"].as_object() {
                coid_of.insert(
                    o["orderId"].as_u64().unwrap(),
                    o["clientOrderId"].as_str().unwrap().to_string(),
                );
            }
        }
        for l in &rec {
            for t in l["trades"].as_array().unwrap() {
                let coid = &coid_of[&t["orderId"].as_u64().unwrap()];
                *filled
                    .entry(coid[..coid.rfind('-').unwrap()].to_string())
                    .or_default() += dec(&t["qty"]);
            }
        }
    }
    for (id, q) in &qty {
        let prefix = ClientOrderId::intent_prefix(&IntentId::new(id).unwrap());
        let f = filled
            .get(prefix.trim_end_matches('-'))
            .copied()
            .unwrap_or_default();
        assert!(f <= *q, "{id}: filled {f} of {q}");
    }
}

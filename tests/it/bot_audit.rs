//! `order-router bot-audit` end to end: the live router, which asks about every order it could
//! not see and waits out every hold, gets a clean audit under each fault profile; a record the
//! audit cannot read is one line naming the file, line and field, exit 2, nothing written.

use serde_json::Value;

use crate::common::cli;
use crate::live::{intents, run_to_end, venue};

fn audit_json(record: &std::path::Path) -> (Option<i32>, Value) {
    let (code, out, err) = cli(&["bot-audit", "--json", record.to_str().unwrap()]);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, v)
}

#[test]
// rule: bot_audit_live_clean
fn the_live_router_gets_a_clean_audit_under_every_fault_profile() {
    for (k, faults) in ["light", "rough", "rough"].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let v = venue(dir.path(), faults, 70 + k as u64);
        let (file, _) = intents(dir.path(), 16, 100 + k as u64);
        let journal = dir.path().join("journal.jsonl");
        let summary = run_to_end(&v.url, &file, &journal);
        assert_eq!(summary["intents"], 16, "{summary}");
        let (code, report) = audit_json(&v.record);
        assert_eq!(code, Some(0), "{faults}: {report:#}");
        assert_eq!(report["clean"], true);
        let client = report["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client"] == crate::live::KEY)
            .unwrap_or_else(|| panic!("the live key audited: {report}"));
        let placed = client["summary"]["placements"].as_u64().unwrap();
        assert!(placed >= 16, "{report}");
        if faults == "rough" {
            // The faults did hit placements the router then had to ask about.
            let rec = std::fs::read_to_string(&v.record).unwrap();
            assert!(
                rec.contains("response_lost") || rec.contains("server_error"),
                "no lost answer in a rough run"
            );
        }
    }
}

#[test]
fn an_unreadable_record_is_one_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("venue.jsonl");
    std::fs::write(
        &record,
        "{\"seq\":1,\"t_ms\":5,\"client\":\"a\",\"method\":\"GET\",\"path\":\"/api/v3/ping\"}\n{\"seq\":2,\"client\":\"a\"}\n",
    )
    .unwrap();
    let page = dir.path().join("audit.html");
    let (code, out, err) = cli(&[
        "bot-audit",
        record.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("venue.jsonl: not a venue record: line 2: t_ms: missing"),
        "{err}"
    );
    assert!(!page.exists());
    let (code, _, err) = cli(&["bot-audit", dir.path().join("none.jsonl").to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("none.jsonl"), "{err}");
}

#[test]
fn a_clean_record_exits_0_and_the_page_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("venue.jsonl");
    std::fs::write(
        &record,
        "{\"seq\":1,\"t_ms\":5,\"client\":\"a\",\"api_key\":\"k\",\"method\":\"GET\",\"path\":\"/api/v3/account\",\"params\":{\"timestamp\":\"5\"},\"status\":200,\"code\":null,\"faults\":[],\"delivery\":\"now\",\"order\":null,\"trades\":[]}\n",
    )
    .unwrap();
    let page = dir.path().join("audit.html");
    let (code, out, _) = cli(&[
        "bot-audit",
        record.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 client, 0 findings"), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("No finding"));
}

#[test]
// rule: bot_audit_balance_refusal
fn a_fresh_account_refuses_a_sell_and_the_venue_writes_its_audit_on_sigterm() {
    use crate::venue_http::{client, signed_body, KEY, SECRET};
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("venue.jsonl");
    let out = dir.path().join("audit.json");
    let (mut child, url) = crate::common::spawn_venue(
        &[
            "--fresh-account",
            "--record",
            record.to_str().unwrap(),
            "--bot-audit",
            out.to_str().unwrap(),
        ],
        &[
            ("ORDER_ROUTER_API_KEY", KEY),
            ("ORDER_ROUTER_API_SECRET", SECRET),
        ],
    );
    let c = client();
    let account: Value = c
        .get(format!(
            "{url}/api/v3/account?{}",
            signed_body("omitZeroBalances=true")
        ))
        .header("X-MBX-APIKEY", KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let assets: Vec<&str> = account["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["asset"].as_str().unwrap())
        .collect();
    // No base asset of any market: USDT, and the BNB the default account keeps for fees.
    assert_eq!(assets, ["BNB", "USDT"], "{account}");
    for _ in 0..2 {
        let sell = signed_body("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.001");
        let r = c
            .post(format!("{url}/api/v3/order"))
            .header("X-MBX-APIKEY", KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(sell)
            .send()
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().unwrap();
        assert_eq!(v["code"], -2010, "{v}");
    }
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let audit: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let me = audit["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == KEY)
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(me["summary"]["placements"], 2);
    assert_eq!(me["findings"][0]["kind"], "repeated_balance_refusal");
    // The record names the key, and the audit of the file agrees with the one at stop.
    let (code, from_file) = audit_json(&record);
    assert_eq!(code, Some(1));
    assert_eq!(from_file["clients"], audit["clients"]);
}

#[test]
fn a_bot_audit_file_that_is_the_record_is_refused_before_the_venue_starts() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("venue.jsonl");
    let (code, out, err) = cli(&[
        "venue",
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        "k",
        "--api-secret",
        "s",
        "--record",
        record.to_str().unwrap(),
        "--bot-audit",
        record.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("--bot-audit") && err.contains("is the record"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

//! The run report: what the page holds, that the same log gives the same bytes, bad input, and
//! the page as a person sees it, rendered by headless Chromium.

use std::path::Path;
use std::process::Command;

use order_router::report::{build, Inputs};
use order_router::sim::scenario::load;
use order_router::sim::{run, RunOptions};

use crate::common::cli;

/// The showcase scenario's audit log.
fn showcase_log() -> Vec<u8> {
    let s = load(Path::new("scenarios/showcase.csv")).expect("scenario");
    let r = run(
        &s,
        &RunOptions {
            seed: s.seed.unwrap_or(0),
            ..RunOptions::default()
        },
    );
    assert!(r.passed());
    r.audit
}

fn page(log: &[u8]) -> String {
    let s = load(Path::new("scenarios/showcase.csv")).unwrap();
    build(Inputs {
        name: "showcase",
        audit: log,
        market: None,
        scenario: Some(&s),
    })
    .expect("a page")
}

const CHARTS: [&str; 11] = [
    "price-BTCUSDT",
    "price-ETHUSDT",
    "states",
    "slippage-cap",
    "slippage-ref",
    "first-reply",
    "time-to-fill",
    "orders",
    "retries",
    "faults",
    "reserved",
];

#[test]
fn the_page_holds_every_chart_and_the_metrics_and_is_a_pure_function_of_the_log() {
    let log = showcase_log();
    let html = page(&log);
    assert!(html == page(&log), "same log, same bytes");
    for id in CHARTS {
        let at = html
            .find(&format!("<figure id=\"{id}\""))
            .unwrap_or_else(|| panic!("no chart {id}"));
        let fig = &html[at..at + html[at..].find("</figure>").unwrap()];
        assert!(fig.contains("<svg"), "{id}");
        assert!(fig.contains("<text"), "{id}: no labels");
    }
    assert!(html.contains("FAILED_FINAL 1, RECONCILED 4"));
    assert!(
        html.contains("found by a query 1"),
        "the unknown outcome and how it ended"
    );
    assert!(html.contains("check-audit finds no problems"));
    assert!(!html.contains("<script"), "no script needed, none included");
    for fetch in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(fetch), "nothing fetched: {fetch}");
    }
    // Another run, another page.
    let mut other = log.clone();
    other.truncate(log.len() / 2);
    assert_ne!(page(&other), html);
}

#[test]
fn a_torn_tail_and_broken_rules_are_shown_on_the_page() {
    let log = showcase_log();
    // Cut inside the last line: a torn tail.
    let torn = &log[..log.len() - 10];
    let html = page(torn);
    assert!(html.contains("id=\"torn\""), "torn tail reported");
    // Drop a line from the middle: the checker sees an illegal transition, and the page shows
    // the lines that break the rules.
    let lines: Vec<&[u8]> = log.split(|&b| b == b'\n').collect();
    let sent = lines
        .iter()
        .position(|l| String::from_utf8_lossy(l).contains("\"state\":\"SENT\""))
        .unwrap();
    let mut holed = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i != sent && !l.is_empty() {
            holed.extend_from_slice(l);
            holed.push(b'\n');
        }
    }
    let html = page(&holed);
    assert!(html.contains("check-audit finds"), "problems listed");
    let check = &html[html.find("<h2>Audit check").unwrap()..];
    assert!(
        check.contains("<pre>{&quot;seq&quot;"),
        "with the offending line: {}",
        &check[..check.len().min(1500)]
    );
}

#[test]
fn the_command_writes_the_page_and_refuses_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("run.jsonl");
    let out = dir.path().join("run.html");
    let (code, text, err) = cli(&[
        "run",
        "scenarios/showcase.csv",
        "--audit",
        audit.to_str().unwrap(),
        "--report",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{text}{err}");
    let from_run = std::fs::read(&out).unwrap();
    // The same page from the command, named the same.
    let again = dir.path().join("again.html");
    let (code, _, err) = cli(&[
        "report",
        audit.to_str().unwrap(),
        "--scenario",
        "scenarios/showcase.csv",
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let a = String::from_utf8(from_run).unwrap();
    let b = std::fs::read_to_string(&again).unwrap();
    let (a, b) = (
        a.replace("scenarios/showcase.csv", "NAME"),
        b.replace(audit.to_str().unwrap(), "NAME"),
    );
    let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y);
    assert!(
        a == b,
        "differ at {at:?}: {:?} vs {:?}",
        at.map(|i| &a[i.saturating_sub(80)..i + 40]),
        at.map(|i| &b[i.saturating_sub(80)..i + 40])
    );
    // Not a log; a market that does not cover the run; a missing file.
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "hello\nworld\n").unwrap();
    let market = dir.path().join("late.csv");
    std::fs::write(
        &market,
        "timestamp,price,qty\n1000000000,50000,1\n1000001000,50010,1\n",
    )
    .unwrap();
    let x = dir.path().join("x.html");
    let x = x.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["report", junk.to_str().unwrap(), "-o", x],
            "not an audit log",
        ),
        (
            vec![
                "report",
                audit.to_str().unwrap(),
                "--market",
                market.to_str().unwrap(),
                "--market-symbol",
                "BTC/USDT",
                "-o",
                x,
            ],
            "late.csv",
        ),
        (
            vec!["report", "none-such.jsonl", "-o", x],
            "none-such.jsonl",
        ),
        (
            vec![
                "report",
                audit.to_str().unwrap(),
                "-o",
                audit.to_str().unwrap(),
            ],
            "input",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = cli(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert!(!Path::new(x).exists(), "nothing written on bad input");
}

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| b.to_string())
        })
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1000,5200",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Rendered by a real browser: every chart is in the DOM with its labels and marks, and the
/// screenshot shows the charts' colours. Without Chromium the test says so and passes, unless
/// `ORDER_ROUTER_REQUIRE_BROWSER` is set (as `.ci/run` does, having installed it).
#[test]
fn headless_chromium_renders_the_charts() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("ORDER_ROUTER_REQUIRE_BROWSER").is_none(),
            "no Chromium, but one is required"
        );
        eprintln!("headless_chromium_renders_the_charts: no Chromium here; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, page(&showcase_log())).unwrap();
    let url = format!("file://{}", file.display());
    let dom = headless(&browser, &dir.path().join("p1"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in CHARTS {
        let at = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} not rendered"));
        let fig = &dom[at..at + dom[at..].find("</figure>").unwrap()];
        assert!(fig.contains("<svg"), "{id}");
        let marks = fig.matches("<rect").count()
            + fig.matches("<circle").count()
            + fig.matches("<polyline").count()
            + fig.matches("<polygon").count();
        assert!(marks > 3, "{id}: empty chart");
    }
    for label in [
        "time (s)",
        "intents",
        "price",
        "bps (positive: worse than the cap)",
        "Orders per intent",
    ] {
        assert!(dom.contains(label), "label {label:?} not rendered");
    }
    let shot = dir.path().join("shot.png");
    let status = headless(&browser, &dir.path().join("p2"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let (mut blue, mut green, mut ink) = (0usize, 0usize, 0usize);
    for p in buf[..info.buffer_size()].chunks(px) {
        let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
        if (r - 31).abs() < 12 && (g - 119).abs() < 12 && (b - 180).abs() < 12 {
            blue += 1;
        }
        if (r - 44).abs() < 12 && (g - 160).abs() < 12 && (b - 44).abs() < 12 {
            green += 1;
        }
        if r + g + b < 200 {
            ink += 1;
        }
    }
    assert!(
        blue > 500,
        "the histograms' bars are drawn ({blue} blue pixels)"
    );
    assert!(green > 20, "fills and green series are drawn ({green})");
    assert!(ink > 5_000, "text and axes are drawn ({ink} dark pixels)");
}

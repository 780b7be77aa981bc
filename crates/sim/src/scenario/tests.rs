//! Tests of the scenario module, kept beside it.

use super::*;
use crate::exchange::sim::Dedup;
use crate::model::{IntentId, Tif, TimeMs};
use crate::router::MarketRules;
use proptest::prelude::*;

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

/// Every action and every key, in an order that needs sorting.
const FULL: &str = "\u{feff}t_ms,action,symbol,side,qty,price,params
# a comment: line 2
0,config,,,,,max_retries=5;backoff_ms=100;backoff_max_ms=900;tif=GTC;slippage_bps=30
0,config,,,,,min_notional=7;request_timeout_ms=1500;recv_window_ms=3000;poll_interval_ms=250
, config , ETH/USDT ,,,, fee_bps = 7 ; tick_size=0.1 ;
99,config,,,,,order_timeout_ms=20000;fee_bps=8;tick_size=0.05;step_size=0.001;venue_min_notional=10
0,config,,,,,latency_ms=12;dedup=always;levels=4;seed=42;

0,balance,USDT,,10000,,
0,price,BTC/USDT,,,50000,spread_bps=3;depth=0.5
20,intent,BTC/USDT,buy,0.0010,50000.00,id=i1;deliveries=3;gap_ms=7
10,signal,BTC/USDT,sell,,,risk_qty=0.002;guards=fail;id=s1
10,signal,ETH/USDT,BUY,,3000,risk_qty=1e-2
5,fault,BTC/USDT,,,,kind=response_lost;count=2
5,fault,,,,,kind=request_lost
5,fault,,,,,kind=server_error
5,fault,,,,,kind=rate_limited
5,fault,,,,,kind=latency;ms=250
5,fault,,,,,kind=reject
5,fault,,,,,kind=partial;ratio=0.25
5,fault,,,,,kind=requote;bps=15
0,price,ETH/USDT,,,3000,
,expect,,,,,intent=i1;final_state=RECONCILED;orders=1;filled_qty=0.001
0,expect,,,,,intent=s1;final_state=FAILED
0,expect,,,,,asset=USDT;balance=9949.95
0,expect,,,,,reserved=0
0,config,BTC/USDT,,,,venue_min_notional=6
";

fn full() -> Scenario {
    parse("full.csv", FULL.as_bytes()).unwrap()
}

#[test]
fn full_scenario_parses_to_the_expected_values() {
    let s = full();
    let r = &s.router;
    assert_eq!(r.max_retries, 5);
    assert_eq!(r.backoff_ms, 100);
    assert_eq!(r.backoff_max_ms, 900);
    assert_eq!(r.tif, Tif::Gtc);
    assert_eq!(r.slippage_bps, dec("30"));
    assert_eq!(r.min_notional, dec("7"));
    assert_eq!(r.request_timeout_ms, 1500);
    assert_eq!(r.poll_interval_ms, 250);
    assert_eq!(r.order_timeout_ms, 20000);
    assert_eq!(s.latency_ms, 12);
    assert_eq!(s.seed, Some(42));
    assert!(matches!(s.venue.dedup, Dedup::Always));
    assert_eq!(s.venue.levels, 4);

    let lines: Vec<(usize, TimeMs)> = s.rows.iter().map(|r| (r.line, r.t_ms)).collect();
    assert_eq!(
        lines,
        vec![
            (9, 0),
            (10, 0),
            (22, 0),
            (14, 5),
            (15, 5),
            (16, 5),
            (17, 5),
            (18, 5),
            (19, 5),
            (20, 5),
            (21, 5),
            (12, 10),
            (13, 10),
            (11, 20),
        ]
    );
    let kind = |line: usize| &s.rows.iter().find(|r| r.line == line).unwrap().kind;
    assert_eq!(
        kind(9),
        &RowKind::Balance {
            asset: Asset::new("USDT").unwrap(),
            amount: dec("10000")
        }
    );
    assert_eq!(
        kind(10),
        &RowKind::Price {
            symbol: sym("BTC/USDT"),
            mid: dec("50000"),
            spread_bps: dec("3"),
            depth: dec("0.5")
        }
    );
    assert_eq!(
        kind(22),
        &RowKind::Price {
            symbol: sym("ETH/USDT"),
            mid: dec("3000"),
            spread_bps: dec("2"),
            depth: dec("1")
        }
    );
    let RowKind::Intent {
        intent,
        spec,
        deliveries,
        gap_ms,
    } = kind(11)
    else {
        panic!("{:?}", kind(11))
    };
    assert_eq!(
        spec,
        &Spec {
            symbol: sym("BTC/USDT"),
            side: Side::Buy,
            qty: dec("0.001"),
            ref_price: dec("50000")
        }
    );
    assert_eq!(
        intent,
        &Intent::new(
            IntentId::new("i1").unwrap(),
            20,
            sym("BTC/USDT"),
            Side::Buy,
            dec("0.001"),
            dec("50000")
        )
        .unwrap()
    );
    assert_eq!((*deliveries, *gap_ms), (3, 7));
    assert_eq!(
        kind(12),
        &RowKind::Signal {
            symbol: sym("BTC/USDT"),
            side: Side::Sell,
            ref_price: None,
            risk_qty: dec("0.002"),
            guards_pass: false,
            label: Some("s1".to_string())
        }
    );
    assert_eq!(
        kind(13),
        &RowKind::Signal {
            symbol: sym("ETH/USDT"),
            side: Side::Buy,
            ref_price: Some(dec("3000")),
            risk_qty: dec("0.01"),
            guards_pass: true,
            label: None
        }
    );
    assert_eq!(
        kind(14),
        &RowKind::Fault {
            symbol: Some(sym("BTC/USDT")),
            kind: FaultKind::ResponseLost,
            count: 2
        }
    );
    let faults: Vec<(FaultKind, u32, Option<Symbol>)> = (15..=21)
        .map(|l| match kind(l) {
            RowKind::Fault {
                symbol,
                kind,
                count,
            } => (*kind, *count, symbol.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        faults,
        vec![
            (FaultKind::RequestLost, 1, None),
            (FaultKind::ServerError, 1, None),
            (FaultKind::RateLimited, 1, None),
            (FaultKind::Latency { ms: 250 }, 1, None),
            (FaultKind::Reject, 1, None),
            (FaultKind::Partial { ratio: dec("0.25") }, 1, None),
            (FaultKind::Requote { bps: dec("15") }, 1, None),
        ]
    );
    assert_eq!(
        s.expects,
        vec![
            Expect {
                line: 23,
                check: Check::Intent {
                    id: "i1".to_string(),
                    final_state: Some(State::Reconciled),
                    orders: Some(1),
                    filled_qty: Some(dec("0.001"))
                }
            },
            Expect {
                line: 24,
                check: Check::Intent {
                    id: "s1".to_string(),
                    final_state: Some(State::Failed),
                    orders: None,
                    filled_qty: None
                }
            },
            Expect {
                line: 25,
                check: Check::Balance {
                    asset: Asset::new("USDT").unwrap(),
                    balance: dec("9949.95")
                }
            },
            Expect {
                line: 26,
                check: Check::ReservedZero
            },
        ]
    );
}

#[test]
fn config_keys_land_in_the_right_structs() {
    let s = full();
    // recv_window_ms: both sides.
    assert_eq!(s.router.recv_window_ms, 3000);
    assert_eq!(s.venue.recv_window_ms, 3000);
    // Default market rules on both sides; venue_min_notional is the router's copy of the
    // venue's filter, min_notional the router's own.
    let defaults = MarketRules {
        tick_size: dec("0.05"),
        step_size: dec("0.001"),
        min_notional: dec("10"),
        fee_bps: dec("8"),
    };
    assert_eq!(s.router.default_rules, defaults);
    assert_eq!(s.venue.default_rules, defaults);
    assert_eq!(s.router.min_notional, dec("7"));
    // Symbol rows start from the defaults after all symbol-less rows, whatever their order.
    let eth = MarketRules {
        fee_bps: dec("7"),
        tick_size: dec("0.1"),
        ..defaults
    };
    let btc = MarketRules {
        min_notional: dec("6"),
        ..defaults
    };
    for markets in [&s.router.markets, &s.venue.markets] {
        assert_eq!(markets.len(), 2);
        assert_eq!(markets.get(&sym("ETH/USDT")), Some(&eth));
        assert_eq!(markets.get(&sym("BTC/USDT")), Some(&btc));
    }
}

#[test]
fn defaults_without_config() {
    let s = parse("d.csv", b"t_ms,action,symbol,side,qty,price,params\n").unwrap();
    assert_eq!(s.latency_ms, 5);
    assert_eq!(s.seed, None);
    assert!(matches!(s.venue.dedup, Dedup::OpenOnly));
    assert_eq!(s.router.default_rules.min_notional, dec("5"));
    assert_eq!(s.venue.default_rules.min_notional, dec("5"));
    assert_eq!(s.venue.default_rules.fee_bps, dec("10"));
    assert_eq!(s.venue.default_rules.tick_size, dec("0.01"));
    assert_eq!(s.venue.default_rules.step_size, dec("0.00001"));
    assert_eq!(s.venue.recv_window_ms, 5000);
    assert_eq!(s.router.max_retries, 3);
    assert!(s.router.markets.is_empty() && s.venue.markets.is_empty());
    assert!(s.rows.is_empty() && s.expects.is_empty());
}

#[test]
fn equal_times_keep_file_order() {
    let mut csv = String::from("t_ms,action,symbol,side,qty,price,params\n");
    for (i, t) in [3, 1, 3, 1, 2, 3, 1].iter().enumerate() {
        csv.push_str(&format!("{t},balance,A{i},,1,,\n"));
    }
    let s = parse("o.csv", csv.as_bytes()).unwrap();
    let order: Vec<(TimeMs, usize)> = s.rows.iter().map(|r| (r.t_ms, r.line)).collect();
    assert_eq!(
        order,
        vec![(1, 3), (1, 5), (1, 8), (2, 6), (3, 2), (3, 4), (3, 7)]
    );
}

#[test]
fn comments_and_blank_lines_keep_line_numbers() {
    let csv = "# leading comment\n\n   \nt_ms,action,symbol,side,qty,price,params\n\
               # c\n\n#\n,,,,,,\n\r\n1,balance,USDT,,1,,\n\n# x,y\n2,\"balance\",\"BTC\",,\"2\",,\n\
               \"3\",price,BTC/USDT,,,\"5\nx\",\n";
    let err = parse("c.csv", csv.as_bytes()).unwrap_err();
    // The quoted price spans lines 14-15; the record starts at 14.
    assert_eq!(
        err.to_string(),
        "c.csv:14: price: \"5\\nx\" is not a decimal number (expected a positive decimal)"
    );
    let ok = csv.replace("5\nx", "5");
    let s = parse("c.csv", ok.as_bytes()).unwrap();
    let lines: Vec<usize> = s.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![10, 13, 14]);
    // CRLF files count the same lines.
    let s = parse("c.csv", ok.replace('\n', "\r\n").as_bytes()).unwrap();
    let lines: Vec<usize> = s.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![10, 13, 14]);
}

#[test]
fn long_cells_and_many_columns_read_whole() {
    // A cell longer than the reader's first buffer (empty params pieces are skipped), quoted
    // over two lines; then a row of 40 columns (more than its first table of field ends).
    let long = format!("{}\nid=long1;deliveries=2", ";".repeat(3000));
    let head = format!(
        "t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,100000,,\n\
         0,price,BTC/USDT,,,50000,\n1,intent,BTC/USDT,buy,0.001,50000,\"{long}\"\n"
    );
    let s = parse("l.csv", head.as_bytes()).unwrap();
    let RowKind::Intent {
        intent, deliveries, ..
    } = &s.rows[2].kind
    else {
        panic!("{:?}", s.rows[2]);
    };
    assert_eq!((intent.intent_id().as_str(), *deliveries), ("long1", 2));
    assert_eq!(s.rows[2].line, 4);
    let wide = format!("{head}{}\n", vec!["9"; 40].join(","));
    let e = parse("l.csv", wide.as_bytes()).unwrap_err().to_string();
    assert_eq!(e, "l.csv:6: columns: expected 7 columns, found 40");
}

/// Parses a header plus `body` (starting on line 2) and returns the error text.
fn err_of(body: &str) -> String {
    let csv = format!("t_ms,action,symbol,side,qty,price,params\n{body}");
    match parse("x.csv", csv.as_bytes()) {
        Ok(s) => panic!("accepted {body:?}: {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn assert_err(body: &str, prefix: &str) {
    let e = err_of(body);
    assert!(
        e.starts_with(prefix),
        "{body:?}\n  got  {e}\n  want {prefix}"
    );
}

#[test]
fn row_errors_name_file_line_and_field() {
    let ok = "0,balance,USDT,,1,,\n";
    let cases: &[(&str, &str)] = &[
        ("3,buyy,,,,,", "x.csv:3: action: unknown action \"buyy\""),
        ("3,,,,,,x=1", "x.csv:3: action: missing"),
        (
            "3,fault,,,,,kind=partial;ratoi=0.5",
            "x.csv:3: params: unknown key \"ratoi\" for fault",
        ),
        (
            "3,fault,,,,,kind=reject;count=1;count=2",
            "x.csv:3: params: duplicate key \"count\"",
        ),
        (
            "3,fault,,,,,kind=reject;count",
            "x.csv:3: params: \"count\" is not key=value",
        ),
        ("3,fault,,,,,=5", "x.csv:3: params: \"=5\" has no key"),
        (
            "3,intent,BTC/USDT,byu,1,1,id=a",
            "x.csv:3: side: \"byu\" is neither buy nor sell",
        ),
        (
            "3,intent,BTC/USDT,buy,-1,1,id=a",
            "x.csv:3: qty: \"-1\" must be a positive decimal",
        ),
        (
            "3,intent,BTC/USDT,buy,0,1,id=a",
            "x.csv:3: qty: \"0\" must be a positive decimal",
        ),
        (
            "3,intent,BTC/USDT,buy,NaN,1,id=a",
            "x.csv:3: qty: \"NaN\" is not a decimal number",
        ),
        (
            "3,intent,BTC/USDT,buy,inf,1,id=a",
            "x.csv:3: qty: \"inf\" is not a decimal number",
        ),
        (
            "3,intent,BTC/USDT,buy,1_000,1,id=a",
            "x.csv:3: qty: \"1_000\" is not a decimal number",
        ),
        (
            "3,intent,BTC/USDT,buy,1,1e40,id=a",
            "x.csv:3: price: \"1e40\" is out of the decimal range",
        ),
        (
            "3,intent,BTC/USDT,buy,1,99999999999999999999999999999999,id=a",
            "x.csv:3: price: \"99999999999999999999999999999999\" is out of the decimal range",
        ),
        (
            "3,intent,BTC/USDT,buy,0.00000000000000000000000000001,1,id=a",
            "x.csv:3: qty: \"0.00000000000000000000000000001\" is out of the decimal range",
        ),
        (
            "3,intent,BTC/USDT,buy,1,,id=a",
            "x.csv:3: price: required for intent",
        ),
        (
            "3,intent,BTCUSDT,buy,1,1,id=a",
            "x.csv:3: symbol: \"BTCUSDT\" is not a market",
        ),
        (
            "3,intent,BTC/USDT,buy,1,1,id=bad id!",
            "x.csv:3: id: \"bad id!\" is not a valid id",
        ),
        (
            "3,intent,BTC/USDT,buy,1,1,deliveries=2",
            "x.csv:3: params: intent needs id=...",
        ),
        (
            "3,intent,BTC/USDT,buy,1,1,id=a;deliveries=0",
            "x.csv:3: deliveries: \"0\" must be at least 1",
        ),
        (
            "3,intent,BTC/USDT,buy,1,1,id=a;gap_ms=-1",
            "x.csv:3: gap_ms: \"-1\" is not a whole number",
        ),
        (
            "3,intent,BTC/USDT,buy,1,1,id=",
            "x.csv:3: id: missing value",
        ),
        (
            "3,balance,USDT,,1,,,",
            "x.csv:3: columns: expected 7 columns, found 8",
        ),
        (
            "3,balance,USDT,,1",
            "x.csv:3: columns: expected 7 columns, found 5",
        ),
        (
            "3,balance,USDT,buy,1,,",
            "x.csv:3: side: must be empty for balance (found \"buy\")",
        ),
        (
            "3,balance,USDT,,1,,x=1",
            "x.csv:3: params: unknown key \"x\" for balance",
        ),
        (
            "3,price,BTC/USDT,,1,50000,",
            "x.csv:3: qty: must be empty for price",
        ),
        (
            "3,price,BTC/USDT,,,50000,spread_bps=-1",
            "x.csv:3: spread_bps: \"-1\" must be a decimal in [0, 10000) (basis points)",
        ),
        (
            "3,signal,BTC/USDT,buy,,,guards=pass",
            "x.csv:3: params: signal needs risk_qty=...",
        ),
        (
            "3,signal,BTC/USDT,buy,,,risk_qty=1;guards=maybe",
            "x.csv:3: guards: \"maybe\" is neither pass nor fail",
        ),
        (
            "3,signal,BTC/USDT,buy,1,,risk_qty=1",
            "x.csv:3: qty: must be empty for signal",
        ),
        (
            "x,balance,USDT,,1,,",
            "x.csv:3: t_ms: \"x\" is not a whole number",
        ),
        (",balance,USDT,,1,,", "x.csv:3: t_ms: required for balance"),
        (
            "99999999999999999999,balance,USDT,,1,,",
            "x.csv:3: t_ms: \"99999999999999999999\" is too large",
        ),
        (
            "3,fault,,,,,count=2",
            "x.csv:3: params: fault needs kind=...",
        ),
        (
            "3,fault,,,,,kind=boom",
            "x.csv:3: kind: unknown fault kind \"boom\"",
        ),
        (
            "3,fault,,,,,kind=latency",
            "x.csv:3: params: kind=latency needs ms=...",
        ),
        (
            "3,fault,,,,,kind=reject;ms=5",
            "x.csv:3: params: ms is only allowed with kind=latency",
        ),
        (
            "3,fault,,,,,kind=partial",
            "x.csv:3: params: kind=partial needs ratio=...",
        ),
        (
            "3,fault,,,,,kind=partial;ratio=0",
            "x.csv:3: ratio: \"0\" must be a decimal in (0, 1]",
        ),
        (
            "3,fault,,,,,kind=partial;ratio=1.5",
            "x.csv:3: ratio: \"1.5\" must be a decimal in (0, 1]",
        ),
        (
            "3,fault,,,,,kind=latency;ratio=0.5;ms=1",
            "x.csv:3: params: ratio is only allowed with kind=partial",
        ),
        (
            "3,fault,,,,,kind=requote",
            "x.csv:3: params: kind=requote needs bps=...",
        ),
        (
            "3,fault,,,,,kind=requote;bps=-1",
            "x.csv:3: bps: \"-1\" must be a decimal in [0, 10000) (basis points)",
        ),
        (
            "3,fault,,,,,kind=reject;count=0",
            "x.csv:3: count: \"0\" must be at least 1",
        ),
        (
            "3,fault,,,,,kind=reject;count=4294967296",
            "x.csv:3: count: \"4294967296\" is too large",
        ),
        (
            "3,config,,,,,tif=FOK",
            "x.csv:3: tif: \"FOK\" is neither IOC nor GTC",
        ),
        (
            "3,config,,,,,dedup=never",
            "x.csv:3: dedup: \"never\" is neither open_only nor always",
        ),
        (
            "3,config,,,,,max_retries=-1",
            "x.csv:3: max_retries: \"-1\" is not a whole number",
        ),
        (
            "3,config,,,,,tick_size=0",
            "x.csv:3: tick_size: \"0\" must be a positive decimal",
        ),
        (
            "3,config,,,,,levels=0",
            "x.csv:3: levels: \"0\" must be at least 1",
        ),
        (
            "3,config,,,,,colour=red",
            "x.csv:3: params: unknown key \"colour\" for config",
        ),
        (
            "3,config,BTC/USDT,,,,max_retries=1",
            "x.csv:3: params: key \"max_retries\" is not allowed in a config row with a symbol",
        ),
        ("3,config,,,,,seed=", "x.csv:3: seed: missing value"),
        ("3,expect,,,,,", "x.csv:3: params: expect needs"),
        (
            "3,expect,,,,,final_state=FILLED",
            "x.csv:3: params: expect needs",
        ),
        (
            "3,expect,,,,,intent=i1",
            "x.csv:3: params: expect intent=<id> needs at least one of",
        ),
        (
            "3,expect,,,,,intent=i1;asset=USDT",
            "x.csv:3: params: asset cannot be combined with intent",
        ),
        (
            "3,expect,,,,,asset=USDT",
            "x.csv:3: params: expect asset=... needs balance=...",
        ),
        (
            "3,expect,,,,,balance=5",
            "x.csv:3: params: expect balance=... needs asset=...",
        ),
        (
            "3,expect,,,,,reserved=0;balance=5",
            "x.csv:3: params: reserved cannot be combined with balance",
        ),
        (
            "3,expect,,,,,reserved=1",
            "x.csv:3: reserved: \"1\" is not 0",
        ),
        (
            "3,expect,,,,,intent=i1;final_state=FINISHED",
            "x.csv:3: final_state: unknown state \"FINISHED\"",
        ),
        (
            "3,expect,,,,,intent=i1;orders=x",
            "x.csv:3: orders: \"x\" is not a whole number",
        ),
        (
            "3,expect,,,,,intent=i1;filled_qty=-1",
            "x.csv:3: filled_qty: \"-1\" must be a non-negative decimal",
        ),
        (
            "3,expect,,,,,asset=US DT;balance=1",
            "x.csv:3: asset: \"US DT\" is not an asset",
        ),
        (
            "3,expect,BTC/USDT,,,,reserved=0",
            "x.csv:3: symbol: must be empty for expect",
        ),
        (
            "3,signal,BTC/USDT,buy,,,risk_qty=1;id=s\n4,signal,BTC/USDT,buy,,,risk_qty=1;id=s",
            "x.csv:4: id: label \"s\" is already used on line 3",
        ),
    ];
    for (row, prefix) in cases {
        assert_err(&format!("{ok}{row}\n"), prefix);
    }
}

#[test]
fn header_and_file_errors() {
    let e = parse("h.csv", b"t_ms,action,symbol,side,qty,price\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "h.csv:1: header: expected t_ms,action,symbol,side,qty,price,params, found \"t_ms,action,symbol,side,qty,price\""
    );
    let e = parse(
        "h.csv",
        b"# c\n\nt_ms,action,symbol,side,qty,prize,params\n",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("h.csv:3: header: expected t_ms,action,"),
        "{e}"
    );
    // Surrounding whitespace is fine; no header at all is not.
    assert!(parse("h.csv", b" t_ms , action,symbol,side,qty,price,params \n").is_ok());
    for empty in [&b""[..], b"\n\n", b"# only a comment\n", b"\xEF\xBB\xBF"] {
        let e = parse("e.csv", empty).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "header"), "{e}");
        assert!(
            e.to_string().starts_with("e.csv:1: header: empty file"),
            "{e}"
        );
    }
    let e = load(Path::new("/nonexistent/dir/s.csv")).unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (0, "file"));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/dir/s.csv:0: file: cannot read"),
        "{e}"
    );
}

#[test]
fn non_utf8_bytes_name_their_line_and_column() {
    let mut bytes =
        b"t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,1,,\n# \xff ok in a comment\n"
            .to_vec();
    bytes.extend_from_slice(b"5,balance,US\xffDT,,1,,\n");
    let e = parse("u.csv", &bytes).unwrap_err();
    assert!(
        e.to_string().starts_with("u.csv:4: symbol: invalid UTF-8"),
        "{e}"
    );
    let e = parse("u.csv", b"t_ms,act\xc3ion,symbol,side,qty,price,params\n").unwrap_err();
    assert!(
        e.to_string().starts_with("u.csv:1: header: expected"),
        "{e}"
    );
}

#[test]
fn config_validation_is_reported_at_the_last_config_row() {
    let e = err_of("0,config,,,,,backoff_ms=500\n0,balance,USDT,,1,,\n0,config,,,,,backoff_max_ms=100\n0,balance,BTC,,1,,\n");
    assert_eq!(
        e,
        "x.csv:4: backoff_max_ms: 100 must be at least backoff_ms 500"
    );
    // Caught where it is parsed now; the router's own validation backs it up.
    let e = err_of("0,config,,,,,fee_bps=10000\n");
    assert_eq!(
        e,
        "x.csv:2: fee_bps: \"10000\" must be a decimal in [0, 10000) (basis points)"
    );
}

#[test]
fn scientific_and_signed_decimals() {
    let s = parse(
        "s.csv",
        b"t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,1.5E+3,,\n0,balance,BTC,,+.5,,\n0,balance,ETH,,2.,,\n",
    )
    .unwrap();
    let amounts: Vec<Decimal> = s
        .rows
        .iter()
        .map(|r| match &r.kind {
            RowKind::Balance { amount, .. } => *amount,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(amounts, vec![dec("1500"), dec("0.5"), dec("2")]);
    // A mantissa that would be rounded is refused, not rounded.
    assert_err(
        "0,balance,USDT,,1.00000000000000000000000000001e1,,\n",
        "x.csv:2: qty: \"1.00000000000000000000000000001e1\" is out of the decimal range",
    );
    assert_err(
        "0,balance,USDT,,1e,,\n",
        "x.csv:2: qty: \"1e\" is not a decimal number",
    );
}

#[test]
fn fault_kind_names_and_placement_scope() {
    let all = [
        FaultKind::RequestLost,
        FaultKind::ResponseLost,
        FaultKind::ServerError,
        FaultKind::RateLimited,
        FaultKind::Latency { ms: 1 },
        FaultKind::Reject,
        FaultKind::Partial {
            ratio: Decimal::ONE,
        },
        FaultKind::Requote { bps: Decimal::ONE },
        FaultKind::TradesRepeat,
        FaultKind::TradesForeign,
        FaultKind::TradesSplit,
        FaultKind::TradesPhantom,
        FaultKind::OrderForeign,
        FaultKind::RejectedStatus,
    ];
    let names: Vec<&str> = all.iter().map(FaultKind::name).collect();
    assert_eq!(names, FAULT_KINDS);
    let placements: Vec<&str> = all
        .iter()
        .filter(|k| k.placements_only())
        .map(FaultKind::name)
        .collect();
    assert_eq!(
        placements,
        ["reject", "partial", "requote", "rejected_status"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse("p.csv", &bytes);
    }

    #[test]
    fn arbitrary_csv_like_text_never_panics(
        body in "([0-9a-z_,;=/.#\"eE+ -]{0,40}\n){0,12}"
    ) {
        let csv = format!("t_ms,action,symbol,side,qty,price,params\n{body}");
        let _ = parse("p.csv", csv.as_bytes());
    }

    #[test]
    fn mutated_valid_file_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
    ) {
        let mut bytes = FULL.as_bytes().to_vec();
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        if let Err(e) = parse("m.csv", &bytes) {
            // Every error names a line inside the file.
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            prop_assert!(e.line >= 1 && e.line <= lines, "{e}");
        }
    }
}

#[test]
fn a_scenario_line_longer_than_the_bound_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.csv");
    let mut bytes = b"t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,1,,\n".to_vec();
    bytes.extend_from_slice(b"0,price,BTC/USDT,,,1,\"");
    bytes.extend(std::iter::repeat_n(b'x', crate::input::MAX_LINE_BYTES));
    bytes.extend_from_slice(b"\"\n");
    std::fs::write(&path, &bytes).unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(
        e.contains("long.csv:3: file:") && e.contains("longer than"),
        "{e}"
    );
    // A huge cell under the bound is quoted cut.
    let cell = "y".repeat(100_000);
    let body = format!("t_ms,action,symbol,side,qty,price,params\n0,price,BTC/USDT,{cell},,1,\n");
    std::fs::write(&path, body).unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(e.len() < 300 && e.contains('…'), "{} bytes", e.len());
}

#[test]
fn a_fresh_account_keeps_only_what_no_market_sells() {
    let csv = "t_ms,action,symbol,side,qty,price,params\n\
        0,config,,,,,account=fresh\n\
        0,config,ETH/BTC,,,,tick_size=0.00001\n\
        0,balance,USDT,,1000,,\n\
        0,balance,BTC,,1,,\n\
        0,balance,ETH,,10,,\n\
        0,price,BTC/USDT,,,50000,\n";
    let s = parse("f.csv", csv.as_bytes()).unwrap();
    let kept: Vec<&str> = s
        .rows
        .iter()
        .filter_map(|r| match &r.kind {
            RowKind::Balance { asset, .. } => Some(asset.as_str()),
            _ => None,
        })
        .collect();
    // BTC is sold on BTC/USDT, ETH on ETH/BTC (a market only configured): only USDT stays.
    assert_eq!(kept, ["USDT"]);
    let funded = parse(
        "f.csv",
        csv.replace("account=fresh", "account=funded").as_bytes(),
    )
    .unwrap();
    assert_eq!(
        funded
            .rows
            .iter()
            .filter(|r| matches!(r.kind, RowKind::Balance { .. }))
            .count(),
        3
    );
    assert!(err_of("0,config,,,,,account=empty").contains("neither fresh nor funded"));
}

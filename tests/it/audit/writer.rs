//! The writer: exact bytes of every line kind, escaping, the common fields first, appends.

use super::*;

#[test]
fn writer_new_and_reserved_lines_are_exact_bytes() {
    let lines = [
        line(
            0,
            0,
            State::New,
            Detail::New {
                symbol: Symbol::parse("BTC/USDT").unwrap(),
                side: Side::Buy,
                qty: d("0.001"),
                ref_price: d("50000"),
            },
        ),
        line(
            1,
            0,
            State::Reserved,
            Detail::Reserved {
                reserved_qty: d("0.00100"),
                reserved_price: d("50100.00"),
                asset: Asset::new("USDT").unwrap(),
                amount: d("50.15010"),
            },
        ),
    ];
    let expected = concat!(
        r#"{"seq":0,"t_ms":0,"intent_id":"1697040000000-BTCUSDT-00ff","state":"NEW","symbol":"BTC/USDT","side":"buy","qty":0.001,"ref_price":50000}"#,
        "\n",
        r#"{"seq":1,"t_ms":0,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RESERVED","reserved_qty":0.001,"reserved_price":50100,"asset":"USDT","amount":50.1501}"#,
        "\n",
    );
    assert_eq!(
        unsealed(&String::from_utf8(written(&lines)).unwrap()),
        expected
    );
}

#[test]
fn writer_order_lifecycle_lines_are_exact_bytes() {
    let c = coid("or-1d9185916e83de47-1");
    let cases = [
        (
            line(
                2,
                5,
                State::Sent,
                Detail::Sent {
                    client_order_id: c.clone(),
                    attempt: 1,
                    qty: d("0.001"),
                    limit_price: d("50100.00"),
                    tif: Tif::Gtc,
                },
            ),
            r#"{"seq":2,"t_ms":5,"intent_id":"1697040000000-BTCUSDT-00ff","state":"SENT","client_order_id":"or-1d9185916e83de47-1","attempt":1,"qty":0.001,"limit_price":50100,"tif":"GTC"}"#,
        ),
        (
            line(
                3,
                7,
                State::Filled,
                Detail::Order {
                    client_order_id: c.clone(),
                    order_id: oid("12345"),
                    filled_qty: d("0.001"),
                    avg_price: Some(d("50005.0")),
                },
            ),
            r#"{"seq":3,"t_ms":7,"intent_id":"1697040000000-BTCUSDT-00ff","state":"FILLED","client_order_id":"or-1d9185916e83de47-1","order_id":"12345","filled_qty":0.001,"avg_price":50005}"#,
        ),
        // No average price (nothing filled): the field is left out, not written as null.
        (
            line(
                3,
                7,
                State::Canceled,
                Detail::Order {
                    client_order_id: c.clone(),
                    order_id: oid("12345"),
                    filled_qty: d("0.000"),
                    avg_price: None,
                },
            ),
            r#"{"seq":3,"t_ms":7,"intent_id":"1697040000000-BTCUSDT-00ff","state":"CANCELED","client_order_id":"or-1d9185916e83de47-1","order_id":"12345","filled_qty":0}"#,
        ),
        (
            line(
                4,
                400,
                State::Retry,
                Detail::Retry {
                    attempt: 2,
                    remaining_qty: d("0.0006"),
                    backoff_ms: 800,
                },
            ),
            r#"{"seq":4,"t_ms":400,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RETRY","attempt":2,"remaining_qty":0.0006,"backoff_ms":800}"#,
        ),
        (
            line(
                5,
                9,
                State::Reconciled,
                Detail::Reconciled {
                    fills_count: 1,
                    filled_qty: d("0.001"),
                    avg_price: d("50005"),
                    fee: d("0.0500050"),
                    // A line as logs before `fee_asset` wrote it: still read.
                    fee_asset: None,
                    released: d("0.0950"),
                    booked: vec![(asset("BTC"), d("0.001")), (asset("USDT"), d("-50.055005"))]
                        .into_boxed_slice(),
                },
            ),
            r#"{"seq":5,"t_ms":9,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RECONCILED","fills_count":1,"filled_qty":0.001,"avg_price":50005,"fee":0.050005,"released":0.095,"booked":{"BTC":0.001,"USDT":-50.055005}}"#,
        ),
        (
            line(
                6,
                10,
                State::Reconciled,
                Detail::Reconciled {
                    fills_count: 1,
                    filled_qty: d("0.001"),
                    avg_price: d("50005"),
                    fee: d("0.000001"),
                    fee_asset: Some(asset("BTC")),
                    released: d("0.1450"),
                    booked: vec![(asset("BTC"), d("0.000999")), (asset("USDT"), d("-50.005"))]
                        .into_boxed_slice(),
                },
            ),
            r#"{"seq":6,"t_ms":10,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RECONCILED","fills_count":1,"filled_qty":0.001,"avg_price":50005,"fee":0.000001,"fee_asset":"BTC","released":0.145,"booked":{"BTC":0.000999,"USDT":-50.005}}"#,
        ),
        (
            line(
                u64::MAX,
                u64::MAX,
                State::FailedFinal,
                Detail::FailedFinal {
                    attempts: u32::MAX,
                    released: d("-0.5"),
                },
            ),
            r#"{"seq":18446744073709551615,"t_ms":18446744073709551615,"intent_id":"1697040000000-BTCUSDT-00ff","state":"FAILED_FINAL","attempts":4294967295,"released":-0.5}"#,
        ),
    ];
    for (l, expected) in cases {
        assert_eq!(unsealed(&written_str(&l)), format!("{expected}\n"), "{l:?}");
    }
}

#[test]
fn writer_event_lines_carry_event_name_and_unchanged_state() {
    let dup = line(6, 10, State::Reconciled, Detail::DuplicateIgnored);
    assert_eq!(
        unsealed(&written_str(&dup)),
        concat!(
            r#"{"seq":6,"t_ms":10,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RECONCILED","event":"duplicate_ignored"}"#,
            "\n"
        )
    );
    let guard = line(
        2,
        0,
        State::Reserved,
        Detail::SlippageGuardApplied {
            market_price: d("50200.10"),
            limit_price: d("50100.00"),
        },
    );
    assert_eq!(
        unsealed(&written_str(&guard)),
        concat!(
            r#"{"seq":2,"t_ms":0,"intent_id":"1697040000000-BTCUSDT-00ff","state":"RESERVED","event":"slippage_guard_applied","market_price":50200.1,"limit_price":50100}"#,
            "\n"
        )
    );
    let names: Vec<(Option<&str>, usize)> = every_variant()
        .iter()
        .map(|l| (l.detail.event(), variant_index(&l.detail)))
        .collect();
    for (event, v) in names {
        let expected = match v {
            11 => Some("duplicate_ignored"),
            12 => Some("slippage_guard_applied"),
            13 => Some("query_pending"),
            14 => Some("cancel_requested"),
            15 => Some("trades_pending"),
            16 => Some("recovered"),
            17 => Some("held"),
            _ => None,
        };
        assert_eq!(event, expected, "variant {v}");
    }
    // Transition lines carry no `event` key at all.
    for l in every_variant() {
        let text = written_str(&l);
        assert_eq!(
            text.contains("\"event\":"),
            l.detail.event().is_some(),
            "{text}"
        );
    }
}

#[test]
fn writer_escapes_quotes_backslashes_and_control_characters() {
    const NASTY: &str = "say \"hi\" C:\\tmp\\x\nnext\tline\r\u{0}\u{1}\u{1f}\u{7f} é € 😀 \u{2028}";
    let l = line(
        0,
        0,
        State::Failed,
        Detail::Failed {
            reason: "reserve_failed",
            detail: NASTY,
        },
    );
    let text = written_str(&l);
    // Exactly one line: the newline inside the string is escaped.
    assert_eq!(text.matches('\n').count(), 1, "{text:?}");
    assert!(text.ends_with("}\n"));
    assert!(
        !text[..text.len() - 1].chars().any(|c| (c as u32) < 0x20),
        "raw control character in {text:?}"
    );
    assert!(text.contains(r#"say \"hi\" C:\\tmp\\x"#), "{text}");
    assert!(text.contains(r"\u000a") || text.contains(r"\n"), "{text}");
    assert!(text.contains(r"\u0000"), "{text}");
    assert!(text.contains(r"\u001f"), "{text}");

    let v: Value = serde_json::from_str(text.trim_end()).expect("valid JSON");
    assert_eq!(v["detail"], Value::String(NASTY.to_string()));
    assert_eq!(v["reason"], "reserve_failed");
    assert_eq!(v["state"], "FAILED");
    // And our own reader accepts it.
    let recs = read(text.as_bytes());
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].as_ref().unwrap().state, State::Failed);
}

#[test]
fn writer_every_line_is_one_json_object_with_the_common_fields_first() {
    for l in every_variant() {
        let text = written_str(&l);
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let prefix = format!(
            "{{\"seq\":{},\"t_ms\":{},\"intent_id\":\"{}\",\"state\":\"{}\"",
            l.seq,
            l.t_ms,
            l.intent_id.as_str(),
            l.state.as_str()
        );
        assert!(
            text.starts_with(&prefix),
            "{text} should start with {prefix}"
        );
        let v: Value = serde_json::from_str(text.trim_end()).expect("valid JSON");
        let obj = v.as_object().expect("an object");
        // No duplicate keys: the number of `":` separators equals the key count (with the keys
        // of a nested object such as `booked`).
        let nested: usize = obj
            .values()
            .filter_map(Value::as_object)
            .map(|o| o.len())
            .sum();
        assert_eq!(text.matches("\":").count(), obj.len() + nested, "{text}");
        if let Some(e) = l.detail.event() {
            assert_eq!(obj["event"], e);
        }
    }
}

#[test]
fn writer_appends_without_touching_existing_bytes() {
    let mut out = b"previous\n".to_vec();
    write_line(&mut out, &line(0, 0, State::New, Detail::DuplicateIgnored));
    assert!(out.starts_with(b"previous\n{\"seq\":0,"));
    assert!(out.ends_with(b"}\n"));
}

//! Decimals survive writing and reading exactly: never rounded through floats.

use super::*;

fn new_line_with_qty(qty: Decimal) -> AuditLine {
    line(
        0,
        0,
        State::New,
        Detail::New {
            symbol: Symbol::parse("BTC/USDT").unwrap(),
            side: Side::Sell,
            qty,
            ref_price: d("1"),
        },
    )
}

#[test]
fn decimal_with_many_significant_digits_survives_write_and_read() {
    for text in [
        "0.12345678901234567890123",
        "12345678901234567890.12345678",
        "79228162514264337593543950335",
        "-79228162514264337593543950335",
        "0.0000000000000000000000000001",
        "1234567.8901234567890123456",
    ] {
        let qty = d(text);
        let bytes = written(&[new_line_with_qty(qty)]);
        let s = String::from_utf8(bytes.clone()).unwrap();
        assert!(s.contains(&format!("\"qty\":{text},")), "{s}");
        let rec = read_one(&bytes);
        assert_eq!(rec.qty, Some(qty), "{text}");
        assert_eq!(rec.qty.unwrap().to_string(), text);
    }
}

#[test]
fn decimals_are_not_rounded_through_floats() {
    // 0.1 + 0.2 in binary floating point is 0.30000000000000004.
    let sum = d("0.1") + d("0.2");
    let text = written_str(&new_line_with_qty(sum));
    assert!(text.contains("\"qty\":0.3,"), "{text}");
    assert!(!text.contains("0.30000000000000004"), "{text}");
    assert_eq!(read_one(text.as_bytes()).qty, Some(d("0.3")));

    // Read: digits written by someone else are taken as written, not via f64.
    let other = raw(0, 0, "a", "NEW", r#""qty":0.30000000000000004"#);
    let rec = read_one(other.as_bytes());
    assert_eq!(rec.qty, Some(d("0.30000000000000004")));
    assert_ne!(rec.qty, Some(d("0.3")));
    // 2^53 + 1 is not representable as f64.
    let fill = raw(
        1,
        0,
        "a",
        "FILLED",
        r#""client_order_id":"c","filled_qty":9007199254740993"#,
    );
    assert_eq!(
        read_one(fill.as_bytes()).filled_qty,
        Some(d("9007199254740993"))
    );
}

#[test]
fn reader_accepts_exponent_notation_and_rejects_out_of_range_decimals() {
    let rec = read_one(raw(0, 0, "a", "NEW", r#""qty":1.5E-3"#).as_bytes());
    assert_eq!(rec.qty, Some(d("0.0015")));
    for bad in [r#""qty":1e400"#, r#""qty":79228162514264337593543950336"#] {
        let recs = read(raw(0, 0, "a", "NEW", bad).as_bytes());
        assert!(
            matches!(
                &recs[..],
                [Err(ReadError::Field {
                    line: 1,
                    field: "qty",
                    ..
                })]
            ),
            "{bad}: {recs:?}"
        );
    }
}

proptest! {
    #[test]
    fn any_decimal_round_trips_exactly(qty in any_decimal(), filled in any_decimal()) {
        let l = line(
            7,
            8,
            State::Partial,
            Detail::Order {
                client_order_id: coid("c-1"),
                order_id: oid("1"),
                filled_qty: filled,
                avg_price: Some(qty),
            },
        );
        let rec = read_one(&written(std::slice::from_ref(&l)));
        prop_assert_eq!(rec.filled_qty, Some(filled));
        let rec = read_one(&written(&[new_line_with_qty(qty)]));
        prop_assert_eq!(rec.qty, Some(qty));
    }
}

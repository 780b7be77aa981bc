//! The reader: line numbers, truncated tails told from garbage, every field error named,
//! reading on past errors.

use super::*;

fn lines_of(recs: &[Result<Record, ReadError>]) -> Vec<usize> {
    recs.iter()
        .map(|r| match r {
            Ok(r) => r.line,
            Err(e) => e.line(),
        })
        .collect()
}

#[test]
// rule: journal_damage
fn truncated_last_line_is_reported_as_truncated_with_its_line_number() {
    let text = format!("{L0}\n{L1}\n{{\"seq\":2,\"t_ms\":0,\"intent_id\":\"a\",\"sta");
    let recs = read(text.as_bytes());
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert!(recs[0].is_ok() && recs[1].is_ok());
    assert_eq!(recs[2], Err(ReadError::Truncated { line: 3 }));
    assert!(ReadError::Truncated { line: 3 }
        .to_string()
        .contains("line 3"));
}

#[test]
// rule: journal_damage
fn garbage_line_in_the_middle_is_a_json_error_not_truncated() {
    for tail in ["\n", ""] {
        let text = format!("{L0}\nthis is not json {{\n{L1}{tail}");
        let recs = read(text.as_bytes());
        assert_eq!(recs.len(), 3, "{recs:?}");
        assert!(
            matches!(&recs[1], Err(ReadError::Json { line: 2, .. })),
            "{recs:?}"
        );
        assert_eq!(recs[2].as_ref().unwrap().line, 3);
    }
    // A broken last line that did end with its newline, and has no checksum, was written
    // whole: not torn.
    let text = format!("{L0}\n{{\"seq\":1,\n");
    let recs = read(text.as_bytes());
    assert!(
        matches!(&recs[..], [Ok(_), Err(ReadError::Json { line: 2, .. })]),
        "{recs:?}"
    );
}

#[test]
fn complete_last_line_without_trailing_newline_parses() {
    let text = format!("{L0}\n{L1}");
    let recs = read(text.as_bytes());
    assert_eq!(recs.len(), 2);
    let r = recs[1].as_ref().expect("complete line");
    assert_eq!((r.line, r.seq, r.state), (2, 1, State::Failed));
    // A single line, no newline at all.
    assert_eq!(read_one(L0.as_bytes()).line, 1);
}

#[test]
fn crlf_line_endings_are_accepted() {
    let text = format!("{L0}\r\n{L1}\r\n");
    let recs = read(text.as_bytes());
    assert_eq!(lines_of(&recs), [1, 2]);
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
}

#[test]
fn empty_and_blank_only_input_yields_nothing() {
    for text in ["", "\n", "\n\n\n", "  \t \n\r\n   "] {
        assert!(read(text.as_bytes()).is_empty(), "{text:?}");
    }
    assert!(check("").is_empty());
}

#[test]
fn leading_and_trailing_blank_lines_are_skipped_with_line_numbers_kept() {
    let text = format!("\n  \n{L0}\n{L1}\n");
    let recs = read(text.as_bytes());
    assert_eq!(lines_of(&recs), [3, 4]);
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
}

#[test]
fn blank_lines_in_the_middle_are_skipped_with_line_numbers_kept() {
    // Lines: 1 L0, 2 blank, 3 whitespace, 4 L1, 5 blank, 6 L2.
    let text = format!("{L0}\n\n \t \n{L1}\n\n{L2}\n");
    let recs = read(text.as_bytes());
    assert_eq!(lines_of(&recs), [1, 4, 6], "{recs:?}");
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
    // Also when the file does not end with a newline.
    let text = format!("{L0}\n\n{L1}");
    assert_eq!(lines_of(&read(text.as_bytes())), [1, 3]);
}

#[test]
fn a_blank_line_cannot_hide_later_violations() {
    // A complete legal intent, a blank line, then a second intent that starts mid-way.
    let text = format!(
        "{}\n{}",
        log(&[("a", "NEW", r#""qty":1"#), ("a", "FAILED", "")]),
        raw(2, 20, "b", "SENT", "")
    );
    let problems = check(&text);
    assert_eq!(
        problems,
        [
            problem(
                4,
                "b",
                ProblemKind::IllegalTransition {
                    from: None,
                    to: State::Sent
                }
            ),
            problem(0, "b", ProblemKind::NotTerminal { state: State::Sent }),
        ]
    );
}

#[test]
// rule: journal_damage
fn last_line_cut_inside_a_utf8_character_is_truncated() {
    let full = "{\"seq\":0,\"t_ms\":0,\"intent_id\":\"a\",\"state\":\"FAILED\",\"detail\":\"€";
    let bytes = &full.as_bytes()[..full.len() - 1];
    assert_eq!(read(bytes), [Err(ReadError::Truncated { line: 1 })]);
}

#[test]
fn invalid_utf8_is_not_utf8_with_its_line() {
    let mut bytes = format!("{L0}\n").into_bytes();
    bytes.extend_from_slice(
        b"{\"seq\":1,\"t_ms\":0,\"intent_id\":\"\xff\xfe\",\"state\":\"NEW\"}\n",
    );
    bytes.extend_from_slice(format!("{L1}\n").as_bytes());
    let recs = read(&bytes);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1], Err(ReadError::NotUtf8 { line: 2 }));
    assert!(recs[2].is_ok());
}

#[test]
fn missing_required_fields_are_named() {
    for (text, field) in [
        (r#"{"t_ms":0,"intent_id":"a","state":"NEW"}"#, "seq"),
        (r#"{"seq":0,"intent_id":"a","state":"NEW"}"#, "t_ms"),
        (r#"{"seq":0,"t_ms":0,"state":"NEW"}"#, "intent_id"),
        (r#"{"seq":0,"t_ms":0,"intent_id":"a"}"#, "state"),
        (
            r#"{"seq":0,"t_ms":0,"intent_id":null,"state":"NEW"}"#,
            "intent_id",
        ),
        (
            r#"{"seq":0,"t_ms":0,"intent_id":"a","state":null}"#,
            "state",
        ),
    ] {
        let recs = read(format!("{text}\n").as_bytes());
        assert_eq!(recs, [Err(ReadError::Missing { line: 1, field })], "{text}");
        let msg = recs[0].as_ref().unwrap_err().to_string();
        assert!(msg.contains("line 1") && msg.contains(field), "{msg}");
    }
}

#[test]
fn unknown_state_name_is_a_field_error() {
    for state in ["FINISHED", "new", "Filled", "", "NEW "] {
        let text = raw(0, 0, "a", state, "");
        let recs = read(text.as_bytes());
        assert!(
            matches!(
                &recs[..],
                [Err(ReadError::Field {
                    line: 1,
                    field: "state",
                    ..
                })]
            ),
            "{state:?}: {recs:?}"
        );
    }
    // With its newline: without one, a last line that does not read is a torn one.
    let recs = read(b"{\"seq\":0,\"t_ms\":0,\"intent_id\":\"a\",\"state\":3}\n");
    assert!(
        matches!(&recs[..], [Err(ReadError::Field { field: "state", .. })]),
        "{recs:?}"
    );
}

#[test]
fn seq_and_t_ms_must_be_non_negative_integers() {
    for value in [
        "-1",
        "1.5",
        "1.0",
        "1e2",
        "\"1\"",
        "null",
        "true",
        "18446744073709551616",
        "[1]",
    ] {
        for field in ["seq", "t_ms"] {
            let (seq, t) = if field == "seq" {
                (value, "0")
            } else {
                ("0", value)
            };
            let text =
                format!("{{\"seq\":{seq},\"t_ms\":{t},\"intent_id\":\"a\",\"state\":\"NEW\"}}\n");
            let recs = read(text.as_bytes());
            assert!(
                matches!(&recs[..], [Err(ReadError::Field { line: 1, field: f, .. })] if *f == field),
                "{text}: {recs:?}"
            );
        }
    }
    // The largest u64 is fine.
    let rec = read_one(raw(u64::MAX, u64::MAX, "a", "NEW", "").as_bytes());
    assert_eq!((rec.seq, rec.t_ms), (u64::MAX, u64::MAX));
}

#[test]
fn optional_fields_of_the_wrong_type_are_field_errors() {
    for (state, extra, field) in [
        ("NEW", r#""qty":"0.001""#, "qty"),
        ("FILLED", r#""filled_qty":true"#, "filled_qty"),
        ("NEW", r#""event":1"#, "event"),
        ("NEW", r#""client_order_id":{}"#, "client_order_id"),
    ] {
        let recs = read(raw(0, 0, "a", state, extra).as_bytes());
        assert!(
            matches!(&recs[..], [Err(ReadError::Field { line: 1, field: f, .. })] if *f == field),
            "{extra}: {recs:?}"
        );
    }
}

#[test]
fn non_object_json_is_a_json_error() {
    for text in ["[1,2]", "42", "\"NEW\"", "null", "{} {}"] {
        let recs = read(format!("{text}\n").as_bytes());
        assert!(
            matches!(&recs[..], [Err(ReadError::Json { line: 1, .. })]),
            "{text}: {recs:?}"
        );
    }
}

#[test]
fn extra_fields_and_any_key_order_are_accepted() {
    let text = r#"{"state":"SENT","vendor":{"x":[1,2,{"y":null}]},"intent_id":"a","t_ms":5,"note":"hi","seq":3,"client_order_id":"c1","qty":0.5,"filled_qty":null}"#;
    let rec = read_one(text.as_bytes());
    assert_eq!(
        rec,
        Record {
            line: 1,
            seq: 3,
            t_ms: 5,
            intent_id: "a".into(),
            state: State::Sent,
            event: None,
            // `qty` counts only on NEW lines; a SENT line's is the attempt's.
            qty: None,
            client_order_id: Some("c1".into()),
            filled_qty: None,
            symbol: None,
            side: None,
            price: None,
            order_qty: Some("0.5".parse().unwrap()),
            attempt: None,
            backoff_ms: None,
            next_ms: None,
            cause: None,
            target: None,
            outcome: None,
        }
    );
}

#[test]
fn errors_do_not_stop_reading_and_every_line_gets_a_result() {
    let text = format!("{L0}\nnope\n{{\"seq\":1}}\n\u{0}\n{L1}\n{L2}");
    let recs = read(text.as_bytes());
    assert_eq!(lines_of(&recs), [1, 2, 3, 4, 5, 6], "{recs:?}");
    assert!(recs[0].is_ok() && recs[4].is_ok() && recs[5].is_ok());
    assert!(matches!(recs[1], Err(ReadError::Json { line: 2, .. })));
    assert!(matches!(recs[2], Err(ReadError::Missing { line: 3, .. })));
    assert!(matches!(recs[3], Err(ReadError::Json { line: 4, .. })));
}

proptest! {
    #[test]
    fn read_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let recs = read(&bytes);
        let lines = lines_of(&recs);
        let total = bytes.split(|&b| b == b'\n').count();
        prop_assert!(lines.windows(2).all(|w| w[0] < w[1]), "{:?}", lines);
        prop_assert!(lines.iter().all(|&n| n >= 1 && n <= total), "{:?}", lines);
        // Only the last line can be truncated.
        for r in &recs {
            if let Err(ReadError::Truncated { line }) = r {
                prop_assert_eq!(*line, total);
                prop_assert!(bytes.last() != Some(&b'\n'));
            }
        }
        let _ = check_bytes(&bytes);
    }

    #[test]
    fn read_never_panics_on_json_like_text(
        text in "[{}\\[\\]\":,0-9a-zA-Z_.eE+\\\\ \t\r\n-]{0,200}"
    ) {
        let recs = read(text.as_bytes());
        prop_assert!(recs.len() <= text.split('\n').count());
        let _ = check(&text);
    }

    #[test]
    fn read_never_panics_on_mangled_valid_lines(
        picks in proptest::collection::vec((0usize..18, any::<u8>(), any::<usize>()), 0..8)
    ) {
        // Real lines with one byte overwritten each: the reader must answer, not panic.
        let lines = every_variant();
        let mut bytes = Vec::new();
        for (i, b, pos) in picks {
            let mut one = written(std::slice::from_ref(&lines[i % lines.len()]));
            let at = pos % one.len();
            one[at] = b;
            bytes.extend(one);
        }
        let _ = read(&bytes);
        let _ = check_bytes(&bytes);
    }

    #[test]
    // rule: journal_damage
    fn a_log_cut_anywhere_reads_its_whole_lines_and_flags_the_rest_as_truncated(
        cut in any::<proptest::sample::Index>()
    ) {
        let bytes = written(&every_variant());
        let k = cut.index(bytes.len() + 1);
        let prefix = &bytes[..k];
        let recs = read(prefix);
        let whole = prefix.iter().filter(|&&b| b == b'\n').count();
        let start = prefix.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let partial = &prefix[start..];
        let full_line_len = bytes[start..].iter().position(|&b| b == b'\n').unwrap_or(0);
        for (i, r) in recs.iter().take(whole).enumerate() {
            prop_assert_eq!(r.as_ref().map(|r| r.line), Ok(i + 1));
        }
        if partial.is_empty() {
            prop_assert_eq!(recs.len(), whole);
        } else if partial.len() == full_line_len {
            // Cut exactly before the newline: a complete line.
            prop_assert_eq!(recs.len(), whole + 1);
            prop_assert!(recs[whole].is_ok());
        } else {
            prop_assert_eq!(recs.len(), whole + 1);
            prop_assert_eq!(&recs[whole], &Err(ReadError::Truncated { line: whole + 1 }));
        }
    }
}

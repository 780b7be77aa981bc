//! The checker finds every broken rule at its line: illegal transitions, seq and time, blind
//! retries, overfills, logs that end mid-flight.

use super::*;

#[test]
// rule: audit_complete
fn first_line_of_an_intent_must_be_new() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "FAILED", ""),
        ("b", "RESERVED", ""),
        ("b", "SENT", ""),
        ("b", "ERROR", ""),
        ("b", "FAILED_FINAL", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            3,
            "b",
            ProblemKind::IllegalTransition {
                from: None,
                to: State::Reserved
            }
        )]
    );
    // An event line cannot start an intent either.
    let text = log(&[("a", "NEW", r#""event":"duplicate_ignored""#)]);
    let problems = check(&text);
    assert_eq!(
        problems,
        [
            problem(
                1,
                "a",
                ProblemKind::IllegalTransition {
                    from: None,
                    to: State::New
                }
            ),
            problem(0, "a", ProblemKind::NotTerminal { state: State::New }),
        ]
    );
}

#[test]
// rule: audit_complete
fn blind_retry_of_a_sent_order_is_illegal() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "RETRY", ""),
        ("a", "SENT", r#""client_order_id":"c2""#),
        ("a", "ERROR", ""),
        ("a", "FAILED_FINAL", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            4,
            "a",
            ProblemKind::IllegalTransition {
                from: Some(State::Sent),
                to: State::Retry
            }
        )]
    );
}

#[test]
// rule: audit_complete
fn unknown_found_resting_goes_back_to_sent_under_the_same_client_order_id_only() {
    // The query found the order live: SENT again, same client order id. Legal.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "UNKNOWN", r#""client_order_id":"c1""#),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c1","filled_qty":0.001"#,
        ),
        ("a", "RECONCILED", ""),
    ]);
    assert_eq!(check(&text), []);
    // A new client order id while the first is unresolved is a blind re-placement.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "UNKNOWN", r#""client_order_id":"c1""#),
        ("a", "SENT", r#""client_order_id":"c2""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c2","filled_qty":0.001"#,
        ),
        ("a", "RECONCILED", ""),
    ]);
    let problems = check(&text);
    assert_eq!(
        problems,
        [problem(
            5,
            "a",
            ProblemKind::ResentWhileUnknown {
                was: "c1".into(),
                got: Some("c2".into())
            }
        )]
    );
    let shown = problems[0].to_string();
    assert!(
        shown.contains("line 5") && shown.contains("intent a") && shown.contains("c1"),
        "{shown}"
    );
    // So is a SENT that names no client order id at all.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "UNKNOWN", r#""client_order_id":"c1""#),
        ("a", "SENT", ""),
        ("a", "ERROR", ""),
        ("a", "FAILED_FINAL", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            5,
            "a",
            ProblemKind::ResentWhileUnknown {
                was: "c1".into(),
                got: None
            }
        )]
    );
    // After RETRY a new client order id is the normal case.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        ("a", "UNKNOWN", r#""client_order_id":"c1""#),
        ("a", "RETRY", ""),
        ("a", "SENT", r#""client_order_id":"c2""#),
        ("a", "UNKNOWN", r#""client_order_id":"c2""#),
        ("a", "SENT", r#""client_order_id":"c2""#),
        ("a", "CANCELED", r#""client_order_id":"c2","filled_qty":0"#),
        ("a", "FAILED_FINAL", ""),
    ]);
    assert_eq!(check(&text), []);
}

#[test]
// rule: audit_complete
fn a_second_new_for_a_known_intent_is_illegal() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "NEW", Q),
        ("a", "FAILED", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            3,
            "a",
            ProblemKind::IllegalTransition {
                from: Some(State::Reserved),
                to: State::New
            }
        )]
    );
}

#[test]
// rule: audit_complete
fn checker_agrees_with_the_table_for_every_pair_of_states() {
    // Shortest legal path from NEW to each state.
    let mut paths: Vec<(State, Vec<State>)> = vec![(State::New, vec![State::New])];
    let mut i = 0;
    while i < paths.len() {
        let (at, path) = paths[i].clone();
        for to in State::ALL {
            if is_legal(Some(at), to) && !paths.iter().any(|(s, _)| *s == to) {
                let mut p = path.clone();
                p.push(to);
                paths.push((to, p));
            }
        }
        i += 1;
    }
    // Every state but DONE, which only a cancel intent's first (and only) line holds.
    assert_eq!(
        paths.len(),
        State::ALL.len() - 1,
        "every state is reachable"
    );
    assert!(!paths.iter().any(|(s, _)| *s == State::Done));
    assert!(is_legal(None, State::Done));
    for (from, path) in &paths {
        for to in State::ALL {
            let mut lines: Vec<(&str, &str, &str)> =
                path.iter().map(|s| ("a", s.as_str(), "")).collect();
            lines.push(("a", to.as_str(), ""));
            let problems = check(&log(&lines));
            let illegal: Vec<&Problem> = problems
                .iter()
                .filter(|p| matches!(p.kind, ProblemKind::IllegalTransition { .. }))
                .collect();
            if is_legal(Some(*from), to) {
                assert!(illegal.is_empty(), "{from} -> {to}: {problems:?}");
            } else {
                assert_eq!(
                    illegal,
                    [&problem(
                        lines.len(),
                        "a",
                        ProblemKind::IllegalTransition {
                            from: Some(*from),
                            to
                        }
                    )],
                    "{from} -> {to}"
                );
            }
            // Whatever else, an unfinished intent is reported at the end.
            let not_terminal = problems
                .iter()
                .any(|p| matches!(p.kind, ProblemKind::NotTerminal { .. }));
            assert_eq!(not_terminal, !to.is_terminal(), "{from} -> {to}");
        }
    }
}

#[test]
// rule: audit_complete
fn seq_must_increase() {
    let lines = [
        raw(0, 0, "a", "NEW", Q),
        raw(1, 0, "a", "RESERVED", ""),
        raw(1, 0, "a", "SENT", ""),
        raw(0, 0, "a", "ERROR", ""),
        raw(7, 0, "a", "FAILED_FINAL", ""),
    ];
    assert_eq!(
        check(&lines.concat()),
        [
            problem(3, "a", ProblemKind::SeqNotIncreasing { prev: 1, got: 1 }),
            problem(4, "a", ProblemKind::SeqNotIncreasing { prev: 1, got: 0 }),
        ]
    );
    // Across intents too: seq is per log, not per intent.
    let lines = [
        raw(5, 0, "a", "NEW", Q),
        raw(6, 0, "b", "NEW", Q),
        raw(6, 0, "a", "FAILED", ""),
        raw(7, 0, "b", "FAILED", ""),
    ];
    assert_eq!(
        check(&lines.concat()),
        [problem(
            3,
            "a",
            ProblemKind::SeqNotIncreasing { prev: 6, got: 6 }
        )]
    );
}

#[test]
// rule: audit_complete
fn time_must_not_go_back() {
    let lines = [
        raw(0, 10, "a", "NEW", Q),
        raw(1, 10, "b", "NEW", Q),
        raw(2, 15, "a", "RESERVED", ""),
        raw(3, 12, "b", "FAILED", ""),
        raw(4, 15, "a", "SENT", ""),
        raw(5, 16, "a", "ERROR", ""),
        raw(6, 16, "a", "FAILED_FINAL", ""),
    ];
    assert_eq!(
        check(&lines.concat()),
        [problem(
            4,
            "b",
            ProblemKind::TimeWentBack { prev: 15, got: 12 }
        )]
    );
}

#[test]
// rule: audit_complete
fn an_event_line_must_claim_the_current_state() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""event":"duplicate_ignored""#),
        ("a", "SENT", ""),
        ("a", "ERROR", ""),
        ("a", "FAILED_FINAL", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            3,
            "a",
            ProblemKind::EventStateMismatch {
                current: State::Reserved,
                got: State::Sent
            }
        )]
    );
}

#[test]
// rule: audit_complete
fn fills_that_end_in_failed_final_are_not_reconciled() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "PARTIAL",
            r#""client_order_id":"c1","filled_qty":0.0004"#,
        ),
        (
            "a",
            "CANCELED",
            r#""client_order_id":"c1","filled_qty":0.0004"#,
        ),
        ("a", "FAILED_FINAL", ""),
        ("a", "FAILED_FINAL", r#""event":"duplicate_ignored""#),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            6,
            "a",
            ProblemKind::FillsNotReconciled {
                terminal: State::FailedFinal
            }
        )]
    );
}

#[test]
// rule: audit_complete
fn two_orders_filling_more_than_the_qty_overfill() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "PARTIAL",
            r#""client_order_id":"c1","filled_qty":0.0006"#,
        ),
        ("a", "RETRY", ""),
        ("a", "SENT", r#""client_order_id":"c2""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c2","filled_qty":0.0006"#,
        ),
        ("a", "RECONCILED", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            7,
            "a",
            ProblemKind::Overfilled {
                filled: d("0.0012"),
                qty: d("0.001")
            }
        )]
    );
    // One order alone reporting more than the qty is an overfill as well.
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c1","filled_qty":0.0010001"#,
        ),
        ("a", "RECONCILED", ""),
    ]);
    assert_eq!(
        check(&text),
        [problem(
            4,
            "a",
            ProblemKind::Overfilled {
                filled: d("0.0010001"),
                qty: d("0.001")
            }
        )]
    );
}

#[test]
// rule: audit_complete
fn log_ending_mid_flight_is_not_terminal() {
    let text = log(&[
        ("a", "NEW", Q),
        ("b", "NEW", Q),
        ("a", "RESERVED", ""),
        ("b", "FAILED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
    ]);
    let problems = check(&text);
    assert_eq!(
        problems,
        [problem(
            0,
            "a",
            ProblemKind::NotTerminal { state: State::Sent }
        )]
    );
    let shown = problems[0].to_string();
    assert!(
        shown.contains("intent a") && shown.contains("SENT"),
        "{shown}"
    );
    assert!(
        !shown.contains("line"),
        "whole-log problem has no line: {shown}"
    );
}

#[test]
// rule: audit_complete
fn a_transition_after_reconciled_is_illegal() {
    let text = log(&[
        ("a", "NEW", Q),
        ("a", "RESERVED", ""),
        ("a", "SENT", r#""client_order_id":"c1""#),
        (
            "a",
            "FILLED",
            r#""client_order_id":"c1","filled_qty":0.001"#,
        ),
        ("a", "RECONCILED", ""),
        ("a", "SENT", r#""client_order_id":"c2""#),
    ]);
    assert_eq!(
        check(&text),
        [
            problem(
                6,
                "a",
                ProblemKind::IllegalTransition {
                    from: Some(State::Reconciled),
                    to: State::Sent
                }
            ),
            // The checker follows the log, so the intent ends SENT.
            problem(0, "a", ProblemKind::NotTerminal { state: State::Sent }),
        ]
    );
}

#[test]
// rule: audit_complete
fn unreadable_lines_are_problems_at_their_line() {
    let text = format!(
        "{}garbage\n{}{{\"seq\":3,\"t_ms\":30,\"int",
        log(&[("a", "NEW", Q)]),
        raw(2, 20, "a", "FAILED", "")
    );
    let problems = check(&text);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(matches!(
        &problems[0],
        Problem {
            line: 2,
            intent_id: None,
            kind: ProblemKind::Unreadable(ReadError::Json { line: 2, .. })
        }
    ));
    assert_eq!(
        problems[1],
        Problem {
            line: 4,
            intent_id: None,
            kind: ProblemKind::Unreadable(ReadError::Truncated { line: 4 })
        }
    );
    assert!(problems[1].to_string().contains("line 4"));
}

#[test]
fn problem_display_names_line_and_intent() {
    let cases = [
        problem(
            3,
            "intent-x",
            ProblemKind::IllegalTransition {
                from: None,
                to: State::Reserved,
            },
        ),
        problem(
            4,
            "intent-x",
            ProblemKind::IllegalTransition {
                from: Some(State::Sent),
                to: State::Retry,
            },
        ),
        problem(
            5,
            "intent-x",
            ProblemKind::SeqNotIncreasing { prev: 9, got: 2 },
        ),
        problem(
            6,
            "intent-x",
            ProblemKind::TimeWentBack { prev: 90, got: 20 },
        ),
        problem(
            7,
            "intent-x",
            ProblemKind::EventStateMismatch {
                current: State::Reserved,
                got: State::Sent,
            },
        ),
        problem(
            8,
            "intent-x",
            ProblemKind::FillsNotReconciled {
                terminal: State::FailedFinal,
            },
        ),
        problem(
            9,
            "intent-x",
            ProblemKind::Overfilled {
                filled: d("0.0012"),
                qty: d("0.001"),
            },
        ),
    ];
    for p in &cases {
        let s = p.to_string();
        assert!(s.contains(&format!("line {}", p.line)), "{s}");
        assert!(s.contains("intent-x"), "{s}");
    }
    let details = [
        ("RESERVED", 0),
        ("SENT", 1),
        ("RETRY", 1),
        ("9", 2),
        ("2", 2),
        ("90", 3),
        ("20", 3),
        ("RESERVED", 4),
        ("SENT", 4),
        ("FAILED_FINAL", 5),
        ("0.0012", 6),
        ("0.001", 6),
    ];
    for (needle, i) in details {
        let s = cases[i].to_string();
        assert!(s.contains(needle), "{s} should mention {needle}");
    }
    // Found by the checker, not built by hand: the same holds.
    let text = log(&[("abc-1", "NEW", Q), ("abc-1", "SENT", "")]);
    let shown: Vec<String> = check(&text).iter().map(ToString::to_string).collect();
    assert!(
        shown[0].contains("line 2") && shown[0].contains("abc-1"),
        "{shown:?}"
    );
    assert!(
        shown[0].contains("NEW") && shown[0].contains("SENT"),
        "{shown:?}"
    );
}

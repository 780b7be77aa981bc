//! The router's one output API: lines before the commands they describe, typed events, and
//! the contract errors a driver's broken promise is answered with.

use std::collections::BTreeMap;

use order_router::audit::AuditLine;
use order_router::driver::{drive, next_command, AuditSink, Discard, Step};
use order_router::router::{ContractError, Event, Output, State};

use super::router_and_venue;
use crate::world::*;

/// Lines into a log, events kept.
#[derive(Default)]
struct Events {
    log: Vec<u8>,
    events: Vec<Event>,
}

impl AuditSink for Events {
    fn line(&mut self, line: AuditLine) {
        order_router::audit::write_line(&mut self.log, &line);
    }
    fn jsonl(&mut self, bytes: &[u8], _: u64) {
        self.log.extend_from_slice(bytes);
    }
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
}

#[test]
fn a_fill_is_booked_in_exactly_one_event_with_the_venues_amounts() {
    let (mut router, mut venue) = router_and_venue();
    router.emit_events();
    let mut sink = Events::default();
    drive(
        &mut router,
        &mut venue,
        0,
        [buy("x", "0.001", "50000")],
        &mut sink,
    );
    let trades: Vec<_> = venue.trades().iter().cloned().collect();
    assert_eq!(trades.len(), 1, "the venue filled the order once");
    let booked: Vec<_> = sink
        .events
        .iter()
        .filter_map(|e| match e {
            Event::FillBooked {
                fills,
                qty,
                avg_price,
                fee,
                ..
            } => Some((*fills, *qty, *avg_price, *fee)),
            _ => None,
        })
        .collect();
    let t = &trades[0];
    assert_eq!(booked, [(1, t.qty, t.price, t.fee)]);
}

#[test]
fn every_intent_finishes_exactly_once_in_the_events() {
    let (mut router, mut venue) = router_and_venue();
    router.emit_events();
    let mut sink = Events::default();
    let inputs = [
        buy("a", "0.001", "50000"),
        buy("a", "0.001", "50000"),
        buy("b", "0.002", "50000"),
        // More than the budget holds: refused before any order.
        buy("c", "1", "50000"),
    ];
    drive(&mut router, &mut venue, 0, inputs, &mut sink);
    let mut finished: BTreeMap<String, Vec<State>> = BTreeMap::new();
    let mut last: BTreeMap<String, State> = BTreeMap::new();
    for e in &sink.events {
        match e {
            Event::IntentFinished { intent_id, state } => finished
                .entry(intent_id.to_string())
                .or_default()
                .push(*state),
            Event::IntentStateChanged {
                intent_id,
                from,
                to,
            } => {
                // Each change starts where the last one ended.
                assert_eq!(*from, last.get(intent_id.as_str()).copied(), "{e:?}");
                last.insert(intent_id.to_string(), *to);
            }
            Event::FillBooked { .. } => {}
        }
    }
    assert_eq!(finished.len(), 3, "{finished:?}");
    for (id, states) in &finished {
        let told = router.state_of(&order_router::model::IntentId::new(id).unwrap());
        assert_eq!(states.len(), 1, "{id}: {states:?}");
        assert_eq!(Some(states[0]), told, "{id}");
        assert_eq!(last.get(id), Some(&states[0]), "{id}");
    }
    assert_eq!(finished["c"], [State::Failed]);
}

#[test]
fn no_event_is_made_unless_asked_for() {
    let (mut router, _venue) = router_and_venue();
    router.handle(0, buy("x", "0.001", "50000")).unwrap();
    let mut sink = Events::default();
    while let Step::Send(_) = next_command(&mut router, &mut sink) {}
    assert!(!sink.log.is_empty());
    assert!(sink.events.is_empty(), "{:?}", sink.events);
}

// write_ahead
#[test]
fn poll_output_yields_the_lines_before_the_command_they_describe() {
    for jsonl in [false, true] {
        let (mut router, _venue) = router_and_venue();
        if jsonl {
            router.write_audit_jsonl();
        }
        router.emit_events();
        router.handle(0, buy("x", "0.001", "50000")).unwrap();
        let mut kinds = Vec::new();
        while let Some(out) = router.poll_output() {
            kinds.push(match out {
                Output::Line(_) => "line",
                Output::Jsonl {
                    lines, last_seq, ..
                } => {
                    assert_eq!((lines, last_seq), (3, 2));
                    "line"
                }
                Output::Event(_) => "event",
                Output::Command(_) => "command",
            });
        }
        assert!(kinds.starts_with(&["line"]), "{kinds:?}");
        assert!(
            !kinds.contains(&"command"),
            "no command before the lines are durable"
        );
        assert_eq!(router.undurable(), Some(2));
        router.journal_durable(2).unwrap();
        assert!(matches!(router.poll_output(), Some(Output::Command(_))));
        assert_eq!(router.undurable(), None);
    }
}

#[test]
fn time_going_backwards_is_a_contract_error() {
    let (mut router, _venue) = router_and_venue();
    router.handle(10_000, buy("x", "0.001", "50000")).unwrap();
    assert_eq!(
        router.handle(5_000, buy("y", "0.001", "50000")),
        Err(ContractError::TimeWentBackwards {
            now: 5_000,
            last: 10_000
        })
    );
    // The input is not lost: it was applied at the last time.
    assert_eq!(
        router.state_of(&order_router::model::IntentId::new("y").unwrap()),
        Some(State::Sent)
    );
    assert_eq!(
        router.handle_timeout(9_999),
        Err(ContractError::TimeWentBackwards {
            now: 9_999,
            last: 10_000
        })
    );
    assert_eq!(router.handle_timeout(10_000), Ok(()));
}

// write_ahead
#[test]
fn journal_durable_of_an_unemitted_seq_is_refused() {
    let (mut router, _venue) = router_and_venue();
    router.handle(0, buy("x", "0.001", "50000")).unwrap();
    // Lines made but not handed out yet cannot be durable.
    assert_eq!(
        router.journal_durable(2),
        Err(ContractError::NotEmitted { seq: 2, next: 0 })
    );
    assert_eq!(
        router.journal_durable(u64::MAX),
        Err(ContractError::NotEmitted {
            seq: u64::MAX,
            next: 0
        })
    );
    assert!(router.poll_command().is_none(), "nothing released");
    let seqs: Vec<u64> = std::iter::from_fn(|| router.poll_audit())
        .map(|l| l.seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(
        router.journal_durable(3),
        Err(ContractError::NotEmitted { seq: 3, next: 3 })
    );
    assert!(router.poll_command().is_none(), "nothing released");
    router.journal_durable(2).unwrap();
    assert_eq!(
        router.poll_command().expect("released").action.name(),
        "place"
    );
}

// write_ahead
#[test]
fn the_shared_step_releases_nothing_when_the_journal_fails() {
    struct Failing(u64);
    impl AuditSink for Failing {
        fn line(&mut self, _: AuditLine) {
            self.0 += 1;
        }
        fn jsonl(&mut self, _: &[u8], lines: u64) {
            self.0 += lines;
        }
        fn make_durable(&mut self) -> bool {
            false
        }
    }
    let (mut router, _venue) = router_and_venue();
    router.handle(0, buy("x", "0.001", "50000")).unwrap();
    let mut sink = Failing(0);
    assert_eq!(next_command(&mut router, &mut sink), Step::Failed);
    assert_eq!(sink.0, 3);
    assert!(router.poll_command().is_none());
    // A working journal then gets the placement.
    assert!(matches!(
        next_command(&mut router, &mut Discard),
        Step::Send(_)
    ));
}

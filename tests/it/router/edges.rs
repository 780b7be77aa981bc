//! Every edge of the transition table, taken by at least one scenario against the in-memory
//! venue.

use super::*;

/// Scenarios that together walk every edge of the transition table.
fn edge_scenarios() -> Vec<World> {
    let mut out = Vec::new();
    let run = |out: &mut Vec<World>, mut w: World, faults: &[Fault], inputs: Vec<(u64, Input)>| {
        for f in faults {
            w.fault(*f);
        }
        w.run(inputs);
        w.assert_clean();
        out.push(w);
    };
    let at0 = |i: Input| vec![(0, i)];
    // SENT -> FILLED -> RECONCILED
    run(
        &mut out,
        World::default_at("50000"),
        &[],
        at0(buy("plain", "0.001", "50000")),
    );
    // NEW -> FAILED
    run(
        &mut out,
        World::default_at("50000"),
        &[],
        at0(buy("tiny", "0.00001", "50000")),
    );
    // SENT -> PARTIAL -> RETRY -> SENT -> FILLED
    run(
        &mut out,
        World::default_at("50000"),
        &[Fault::Partial(d("0.5"))],
        at0(buy("partial", "0.002", "50000")),
    );
    // PARTIAL -> PARTIAL_SUCCESS (no retries left)
    run(
        &mut out,
        World::new(cfg(|c| c.max_retries = 0), "10000", "1", "50000"),
        &[Fault::Partial(d("0.5"))],
        at0(buy("partial-last", "0.002", "50000")),
    );
    // SENT -> CANCELED -> RETRY ... -> CANCELED -> FAILED_FINAL (market above the cap)
    run(
        &mut out,
        World::default_at("60000"),
        &[],
        at0(buy("nocross", "0.001", "50000")),
    );
    // SENT -> ERROR -> RETRY -> SENT -> FILLED; ERROR -> FAILED_FINAL
    run(
        &mut out,
        World::default_at("50000"),
        &[Fault::Reject],
        at0(buy("reject-once", "0.001", "50000")),
    );
    run(
        &mut out,
        World::new(cfg(|c| c.max_retries = 0), "10000", "1", "50000"),
        &[Fault::Reject],
        at0(buy("reject-final", "0.001", "50000")),
    );
    // ERROR -> PARTIAL_SUCCESS: attempt 1 half fills, attempt 2 is refused, no retries left.
    run(
        &mut out,
        World::new(cfg(|c| c.max_retries = 1), "10000", "1", "50000"),
        &[Fault::Partial(d("0.5")), Fault::Reject],
        at0(buy("partial-then-reject", "0.002", "50000")),
    );
    // SENT -> UNKNOWN -> FILLED (reply lost)
    run(
        &mut out,
        World::default_at("50000"),
        &[Fault::ResponseLost],
        at0(buy("lost-reply", "0.001", "50000")),
    );
    // UNKNOWN -> PARTIAL (partial fill, reply lost)
    run(
        &mut out,
        World::default_at("50000"),
        &[Fault::ResponseLost, Fault::Partial(d("0.5"))],
        at0(buy("lost-partial", "0.002", "50000")),
    );
    // UNKNOWN -> CANCELED (IOC expired unfilled, reply lost)
    run(
        &mut out,
        World::default_at("60000"),
        &[Fault::ResponseLost],
        at0(buy("lost-expired", "0.001", "50000")),
    );
    // UNKNOWN -> RETRY (request lost: not found after the receive window)
    run(
        &mut out,
        World::default_at("50000"),
        &[Fault::RequestLost],
        at0(buy("lost-request", "0.001", "50000")),
    );
    // UNKNOWN -> FAILED_FINAL (request lost, no retries left)
    run(
        &mut out,
        World::new(cfg(|c| c.max_retries = 0), "10000", "1", "50000"),
        &[Fault::RequestLost],
        at0(buy("lost-request-final", "0.001", "50000")),
    );
    // UNKNOWN -> PARTIAL_SUCCESS (half filled, then the last attempt's request is lost)
    run(
        &mut out,
        World::new(cfg(|c| c.max_retries = 1), "10000", "1", "50000"),
        &[Fault::Partial(d("0.5")), Fault::RequestLost],
        at0(buy("partial-then-lost", "0.002", "50000")),
    );
    // GTC: UNKNOWN -> SENT (found resting), then PARTIAL -> PARTIAL -> FILLED by trades.
    let mut w = World::new(gtc(), "10000", "1", "60000");
    w.fault(Fault::ResponseLost);
    w.venue
        .schedule(3_000, &btc_usdt(), d("50000"), Some(d("0.001")));
    w.venue
        .schedule(6_000, &btc_usdt(), d("50000"), Some(d("0.001")));
    w.venue.schedule(9_000, &btc_usdt(), d("50000"), None);
    w.run(vec![(0, buy("gtc-rest", "0.004", "50000"))]);
    w.assert_clean();
    assert_eq!(
        w.path("gtc-rest"),
        [
            State::New,
            State::Reserved,
            State::Sent,
            State::Unknown,
            State::Sent,
            State::Partial,
            State::Partial,
            State::Filled,
            State::Reconciled
        ]
    );
    out.push(w);
    // GTC: PARTIAL -> CANCELED -> PARTIAL_SUCCESS (partial, then the order times out).
    run(
        &mut out,
        World::new(
            cfg(|c| {
                c.tif = Tif::Gtc;
                c.max_retries = 0;
            }),
            "10000",
            "1",
            "50000",
        ),
        &[Fault::Partial(d("0.5"))],
        at0(buy("gtc-partial-timeout", "0.002", "50000")),
    );
    // start -> DONE, RETRY -> PARTIAL_SUCCESS: a partial fill, then a cancel intent while
    // the retry waits out its backoff.
    run(
        &mut out,
        World::default_at("50000"),
        &[Fault::Partial(d("0.5"))],
        vec![
            (0, buy("cancel-after-partial", "0.002", "50000")),
            (1, cancel("k-after-partial", "cancel-after-partial")),
        ],
    );
    // RETRY -> FAILED_FINAL: refused, then cancelled during the backoff.
    run(
        &mut out,
        World::default_at("50000"),
        &[Fault::Reject],
        vec![
            (0, buy("cancel-after-reject", "0.001", "50000")),
            (1, cancel("k-after-reject", "cancel-after-reject")),
        ],
    );
    // RESERVED -> FAILED_FINAL: the first placement waits out a rate-limit hold when the
    // cancel comes.
    run(
        &mut out,
        World::default_at("50000"),
        &[],
        vec![
            (0, Input::Hold { until_ms: 5_000 }),
            (0, buy("cancel-while-held", "0.001", "50000")),
            (1, cancel("k-while-held", "cancel-while-held")),
        ],
    );
    out
}

#[test]
// rule: audit_complete
fn every_edge_of_the_transition_table_is_exercised() {
    let mut seen = BTreeSet::new();
    for w in edge_scenarios() {
        let mut last = std::collections::BTreeMap::new();
        for r in w.records().into_iter().filter(|r| r.event.is_none()) {
            let from = last.insert(r.intent_id.clone(), r.state);
            assert!(
                is_legal(from, r.state),
                "{from:?} -> {} in {}",
                r.state,
                r.intent_id
            );
            seen.insert((from, r.state));
        }
    }
    let mut missing = Vec::new();
    for from in std::iter::once(None).chain(State::ALL.into_iter().map(Some)) {
        for to in State::ALL {
            if is_legal(from, to) && !seen.contains(&(from, to)) {
                missing.push(format!("{from:?} -> {to}"));
            }
        }
    }
    assert!(missing.is_empty(), "edges never taken: {missing:?}");
}

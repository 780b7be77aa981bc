//! The living market and the fill model as a user meets them: a maker order fills later in
//! the queue than on touch, and a recorded tape drives the market.

use std::path::Path;

use order_router::sim::flow::queue::FillModel;
use order_router::sim::scenario::{load, Scenario};
use order_router::sim::{run, Report, RunOptions};

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn replay(s: &Scenario, seed: u64) -> Report {
    run(
        s,
        &RunOptions {
            seed,
            ..RunOptions::default()
        },
    )
}

/// The `t_ms` of the first `FILLED` line of the audit log.
fn filled_at(r: &Report) -> Option<u64> {
    String::from_utf8_lossy(&r.audit)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["state"] == "FILLED")
        .and_then(|v| v["t_ms"].as_u64())
}

/// The scenario under one fill model, its expectations and invariants holding.
fn under(model: FillModel, seed: u64) -> Report {
    let mut s = scenario("queue_vs_touch.csv");
    s.venue.market.fill_model = model;
    let r = replay(&s, seed);
    assert!(
        r.passed(),
        "{} seed {seed}: {:?} {:?}",
        model.name(),
        r.violation,
        r.failed_expects
    );
    r
}

// rule: fill_model
#[test]
fn a_maker_at_the_best_bid_fills_later_in_the_queue_than_on_touch() {
    let seed = scenario("queue_vs_touch.csv")
        .seed
        .expect("the file's seed");
    let queue = filled_at(&under(FillModel::Queue, seed)).expect("filled in the queue");
    let touch = filled_at(&under(FillModel::Touch, seed)).expect("filled on touch");
    // Touch: the first sell at its price, within a poll or two of placing it at 1 s. Queue:
    // only once the displayed size ahead has traded, or the market traded through it.
    assert!(touch < 2_000, "touch filled at {touch} ms");
    assert!(queue > touch + 10_000, "queue {queue} ms, touch {touch} ms");
    // Under other seeds the queue never fills before touch (the same market runs in both).
    for seed in 0..12 {
        let q = filled_at(&under(FillModel::Queue, seed));
        let t = filled_at(&under(FillModel::Touch, seed)).expect("touch fills");
        assert!(
            q.is_none_or(|q| q >= t),
            "seed {seed}: queue {q:?}, touch {t}"
        );
    }
}

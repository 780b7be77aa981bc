//! A fuzz campaign as a test: the test cargo-mutants runs against every mutant of the router,
//! the portfolio, the assembler and the rounding code (see `.cargo/mutants.toml` and
//! `docs/mutation.md`). It is ignored by a plain `cargo test`, which already runs shorter
//! sweeps; run it with
//!
//! ```sh
//! cargo test --release --test fuzz_campaign -- --include-ignored
//! ```
//!
//! `OR_FUZZ_SEEDS=A..B` changes the seed range (default `0..10000`).

use order_router::sim::fuzz::{campaign, FuzzOptions};
use order_router::sim::gen::FaultMix;

#[test]
#[ignore = "a long campaign, for mutation testing; run with --include-ignored"]
fn a_fuzz_campaign_finds_no_violation() {
    let range = std::env::var("OR_FUZZ_SEEDS").unwrap_or_else(|_| "0..10000".into());
    let (start, end) = range
        .split_once("..")
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .expect("OR_FUZZ_SEEDS is A..B");
    let opts = FuzzOptions {
        start,
        end,
        shard_index: 0,
        shard_count: 1,
        intents: 8,
        mix: FaultMix::Swarm,
        check_determinism: false,
        mutant: None,
        model: true,
    };
    let c = campaign(&opts, || {});
    if let Some((seed, v)) = &c.failure {
        panic!(
            "seed {seed}: {v}\nreplay: order-router fuzz --seeds {seed}..{}",
            seed + 1
        );
    }
    assert_eq!(c.seeds, end - start);
    // A campaign that never takes an edge of the table, injects a fault kind or reaches a
    // situation it was built to reach tested less than it claims.
    let gaps = c.gaps(true);
    assert!(gaps.is_empty(), "never reached: {}", gaps.join(", "));
}

//! The criterion simulator workload as a plain loop, for profilers: `valgrind --tool=callgrind
//! target/release/examples/sim_steps 300 [--no-check]`.

use order_router::sim::gen::{generate, FaultMix};
use order_router::sim::scenario::parse;
use order_router::sim::{run, RunOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let check = args.next().as_deref() != Some("--no-check");
    let csv = generate(7, 8, FaultMix::Rough);
    let scenario = parse("bench.csv", csv.as_bytes()).expect("generated scenario parses");
    let options = RunOptions {
        seed: 7,
        keep_audit: false,
        check_invariants: check,
        ..RunOptions::default()
    };
    let mut steps = 0;
    for _ in 0..n {
        steps += run(&scenario, &options).steps;
    }
    println!("{n} runs, {steps} steps");
}

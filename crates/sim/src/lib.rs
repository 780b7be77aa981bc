//! # order-router-sim
//!
//! The simulation harness: a seeded discrete-event world that drives the real router against
//! the simulated venue, injects faults, and checks the invariants after every step; scenario
//! replay, the generator and fuzzing. [`exchange`] holds the venues that answer at once (the
//! in-memory one and the simulated Binance-like one) and [`drive`] the loop for them.

// The core's modules, under the names the harness has always used for them.
use order_router_core::{audit, decision, driver, grid, input, model, portfolio, router};

mod csv;
pub mod drive;
pub mod exchange;
pub mod faults;
pub mod flow;
pub mod fuzz;
pub mod gen;
pub mod invariants;
pub mod market;
pub mod oracle;
pub mod queue;
pub mod scenario;
pub mod tape;
pub mod workload;
pub mod world;

pub use faults::{FaultProfile, KINDS as FAULT_KINDS};
pub use invariants::{Violation, COVERAGE, NAMES as INVARIANTS};
pub use scenario::{CrashMode, Scenario};
pub use world::{run, run_observed, run_with, FailedExpect, Report, RunOptions, LIVELOCK};

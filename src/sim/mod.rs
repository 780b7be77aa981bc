//! The simulation harness: a seeded discrete-event world that drives the real router against
//! the simulated venue, injects faults, and checks the invariants after every step.

pub mod faults;
pub mod fuzz;
pub mod gen;
pub mod invariants;
pub mod market;
pub mod queue;
pub mod scenario;
pub mod tape;
pub mod workload;
pub mod world;

pub use faults::{FaultProfile, KINDS as FAULT_KINDS};
pub use invariants::{Violation, COVERAGE, NAMES as INVARIANTS};
pub use scenario::{CrashMode, Scenario};
pub use world::{run, run_observed, run_with, FailedExpect, Report, RunOptions, LIVELOCK};

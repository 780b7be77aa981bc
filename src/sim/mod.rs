//! The simulation harness: a seeded discrete-event world that drives the real router against
//! the simulated venue, injects faults, and checks the invariants after every step.

pub mod scenario;

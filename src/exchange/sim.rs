//! The simulated venue (being written).

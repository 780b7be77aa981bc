//! Live trading: the same sans-IO router against a real Binance-compatible venue.
//!
//! * [`binance`]: the protocol without I/O: requests, parsers, and the one table of what each
//!   status and error code means for the router.
//! * [`client`]: the HTTP client (reqwest on tokio): signing, the server-time offset, the
//!   rate-limit headers.
//! * [`driver`]: the drive loop on the wall clock, with requests in flight concurrently, the
//!   durable journal, restarts from it, observe mode and a clean stop.

pub mod binance;
pub mod client;
pub mod driver;
pub mod mutant;
pub mod store;
pub mod transport;

//! # order-router
//!
//! Separates trading *decisions* from order *execution* for crypto spot bots:
//!
//! ```text
//! Decision -> Intent -> OrderRouter (FSM) -> Reconcile -> Position
//! ```
//!
//! * [`decision`]: signals, guards and risk become an immutable [`Intent`] with a
//!   deterministic id.
//! * [`bus`]: at-least-once delivery of intents; duplicates are normal.
//! * [`router`]: the only place that places orders. A sans-IO state machine per intent,
//!   idempotent by `intent_id`, that reserves before it sends, never abandons an order whose
//!   outcome is unknown, retries with backoff, and reconciles fills.
//! * [`grid`]: quantities and prices as checked integers on a market's lot and tick grid, the
//!   router's own arithmetic.
//! * [`portfolio`]: balances and reservations that can never go negative.
//! * [`exchange`]: the venue trait and unified order/trade types; [`exchange::memory`] is a
//!   small in-memory venue for examples, tests and benchmarks.
//! * [`audit`]: the JSONL audit trail, its reader and its checker.
//! * [`driver`]: the drive loop that connects a router to a synchronous venue.
//! * [`journal`]: the audit log on disk, synced before the commands it describes go out.
//! * [`venue`]: the simulated venue in Binance spot's REST dialect (sans-IO), and its HTTP
//!   server ([`venue::server`]), for testing any bot against seeded faults.
//! * [`live`]: the same router against a real Binance-compatible venue: the protocol
//!   ([`live::binance`]), its HTTP client, and the live drive loop with journal and restart.
//! * [`report`]: the run report, one HTML page of charts and execution metrics from a log.
//!
//! ```
//! use order_router::prelude::*;
//! use rust_decimal::Decimal;
//!
//! // A decision becomes an intent (or nothing, when a guard fails).
//! let signal = Signal {
//!     ts_ms: 1_697_040_000_000,
//!     symbol: Symbol::parse("BTC/USDT").unwrap(),
//!     side: Side::Buy,
//!     ref_price: Decimal::from(50_000),
//! };
//! let intent = assemble(&signal, &Guards::pass(), &Risk { qty: "0.001".parse().unwrap() })
//!     .expect("guards pass");
//!
//! // The router owns the portfolio; the venue fills at 50,005.
//! let usdt = Asset::new("USDT").unwrap();
//! let mut portfolio = Portfolio::new();
//! portfolio.deposit(&usdt, Decimal::from(1_000)).unwrap();
//! let mut venue = MemoryExchange::new();
//! venue.deposit(&usdt, Decimal::from(1_000));
//! venue.set_price(&signal.symbol, Decimal::from(50_005));
//! let mut router = Router::new(RouterConfig::default(), portfolio).unwrap();
//!
//! let mut log = Vec::new();
//! let end = drive(&mut router, &mut venue, 0, vec![Input::Deliver(intent.clone())], &mut log);
//! assert_eq!(router.state_of(intent.intent_id()), Some(State::Reconciled));
//! assert_eq!(router.portfolio().reserved_total(), Decimal::ZERO);
//! print!("{}", String::from_utf8(log).unwrap());
//! # let _ = end;
//! ```

pub mod audit;
pub mod bus;
pub mod decision;
pub mod driver;
pub mod exchange;
pub mod grid;
pub mod input;
pub mod journal;
#[cfg(feature = "adapters")]
pub mod live;
pub mod model;
pub mod portfolio;
#[cfg(feature = "adapters")]
pub mod report;
pub mod router;
pub mod sim;
#[cfg(feature = "adapters")]
pub mod venue;

pub use decision::Intent;

/// The names a typical user of the library needs.
pub mod prelude {
    pub use crate::audit::{write_line, AuditLine, Checker};
    pub use crate::bus::Bus;
    pub use crate::decision::{assemble, Guards, Intent, Risk, Signal};
    pub use crate::driver::drive;
    pub use crate::exchange::memory::MemoryExchange;
    pub use crate::exchange::{Exchange, ExchangeError, Order, OrderStatus, Trade};
    pub use crate::model::{Asset, IntentId, Side, Symbol, Tif, TimeMs};
    pub use crate::portfolio::Portfolio;
    pub use crate::router::{Input, Router, RouterConfig, State};
}

/// The README's Rust example runs as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

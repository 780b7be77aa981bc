//! # order-router
//!
//! Separates trading *decisions* from order *execution* for crypto spot bots:
//!
//! ```text
//! Decision -> Intent -> OrderRouter (FSM) -> Reconcile -> Position
//! ```
//!
//! This crate is the facade: it re-exports the workspace's layers under one name.
//!
//! * [`order_router_core`] (always): [`model`], [`grid`], [`decision`], [`bus`],
//!   [`portfolio`], [`router`], [`audit`], [`journal`], [`driver`], [`input`] and the unified
//!   types of [`exchange`]. Sans-IO; no async, network or randomness.
//! * [`order_router_sim`] (feature `sim`, default): the simulated venues
//!   ([`exchange::memory`], [`exchange::sim`]), the synchronous drive loop
//!   ([`driver::drive`]) and the harness ([`sim`]).
//! * `order_router_binance` and `order_router_report` (feature `adapters`, default): the
//!   venue server (`venue`), the live adapter (`live`) and the run report (`report`).
//!
//! `order-router = { version = "0.1", default-features = false }` is the core alone.
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

pub use order_router_core;
pub use order_router_core::{
    audit, bus, decision, grid, input, journal, model, portfolio, router, Intent,
};

#[cfg(feature = "sim")]
pub use order_router_sim;
#[cfg(feature = "sim")]
pub use order_router_sim as sim;

/// The unified order and trade types; with `sim`, also the venues that answer at once.
pub mod exchange {
    pub use order_router_core::exchange::*;
    #[cfg(feature = "sim")]
    pub use order_router_sim::exchange::{execute, fees, memory, sim, Exchange};
}

/// The write-ahead step; with `sim`, also the drive loop for a venue that answers at once.
pub mod driver {
    pub use order_router_core::driver::*;
    #[cfg(feature = "sim")]
    pub use order_router_sim::drive::*;
}

#[cfg(feature = "adapters")]
pub use order_router_binance::{bot_audit, live, stack, venue};
#[cfg(feature = "adapters")]
pub use order_router_report as report;

/// The names a typical user of the library needs.
pub mod prelude {
    pub use crate::audit::{write_line, AuditLine, Checker};
    pub use crate::bus::Bus;
    pub use crate::decision::{assemble, Guards, Intent, Risk, Signal};
    #[cfg(feature = "sim")]
    pub use crate::driver::drive;
    #[cfg(feature = "sim")]
    pub use crate::exchange::memory::MemoryExchange;
    #[cfg(feature = "sim")]
    pub use crate::exchange::{execute, Exchange};
    pub use crate::exchange::{ExchangeError, Order, OrderStatus, Trade};
    pub use crate::model::{Asset, IntentId, Side, Symbol, Tif, TimeMs};
    pub use crate::portfolio::Portfolio;
    pub use crate::router::{Event, Input, Output, Router, RouterConfig, State};
}

/// The README's Rust example runs as a doctest, so it cannot rot.
#[cfg(all(doctest, feature = "sim"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! # order-router-binance
//!
//! Binance spot's dialect, on both sides of the wire: [`venue`] is the simulated exchange served
//! over HTTP in Binance's REST dialect (sans-IO `Venue::handle`, and its axum/hyper server),
//! [`live`] the adapter that drives the real router against a Binance-compatible venue (the
//! protocol, its reqwest client, and the live drive loop with journal and restart). The request
//! signing and the error table are shared by both. [`stack`] runs the live adapter against the
//! venue's handler in process, on simulated time and a crashing simulated disk: the stack fuzz
//! mode. [`bot_audit`] reads the venue's record and tells a bot's author what the bot lost
//! track of.

use order_router_core::{audit, decision, driver, input, journal, model, portfolio, router};
use order_router_sim as sim;
use order_router_sim::exchange;

pub mod bot_audit;
pub mod live;
pub mod stack;
pub mod venue;

//! The venue's WebSocket side in Binance spot's dialect, sans-IO: market streams
//! ([`feed`], [`names`]), the user data stream ([`user`]), the WebSocket API envelope
//! ([`api`]) and each connection's protocol state and stream faults ([`session`]). The async
//! socket code is [`crate::venue::ws`].

pub mod api;
pub mod feed;
pub mod names;
pub mod session;
pub mod user;

pub use feed::MarketEvent;
pub use session::{Kind, Out, Session, StreamFaults, WsConfig};

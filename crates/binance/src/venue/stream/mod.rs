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

use std::collections::BTreeSet;

use crate::model::TimeMs;
use crate::venue::params::Params;
use crate::venue::{ApiError, Method, Reply, Request, Venue};

/// The venue's WebSocket entry points: the same handler, limits and record as REST.
impl Venue {
    /// Handles one WebSocket API request standing for the REST call `method path`: the same
    /// checks, limits, faults and record as over HTTP, the signature checked over `req`'s
    /// sorted parameters (`apiKey` included) instead of a query string.
    pub fn handle_ws(
        &mut self,
        now: TimeMs,
        method: Method,
        path: &str,
        req: &api::ApiRequest,
        signed: bool,
        client: &str,
    ) -> Reply {
        let query = req.query();
        let payload = signed.then(|| req.signed_payload());
        let request = Request {
            method,
            path,
            query: &query,
            body: b"",
            api_key: req.param("apiKey"),
            client,
        };
        self.handle_signed(now, &request, payload.as_deref())
    }

    /// `userDataStream.subscribe.signature`: the key, timestamp and signature checked as for
    /// any SIGNED request (weight 2); nothing executes.
    pub fn authorize_user_stream(
        &mut self,
        now: TimeMs,
        req: &api::ApiRequest,
        client: &str,
    ) -> Result<(), ApiError> {
        self.catch_up(now);
        let key = req.param("apiKey");
        let who = match key {
            Some(k) if self.credentials.check_key(Some(k)).is_ok() => k,
            _ => client,
        };
        self.limiter
            .admit(who, now, 2, false)
            .map_err(|r| r.error)?;
        let params = Params::parse(&req.query(), b"")?;
        self.credentials.check_key(key)?;
        self.credentials
            .check_signed_payload(&params, &req.signed_payload(), now)?;
        params.all_read()
    }

    /// The request-weight limit per minute and the order limit per ten seconds.
    pub fn rate_limit_settings(&self) -> (u32, u32) {
        let l = self.limiter.limits();
        (l.weight_per_minute, l.orders_per_10s)
    }

    /// Runs the market to `now` and returns the events of the streams in `wanted` since the
    /// last tick (see [`feed::tick`]).
    pub fn tick(&mut self, now: TimeMs, wanted: &BTreeSet<String>) -> Vec<MarketEvent> {
        feed::tick(self, now, wanted)
    }

    /// The account's events since the last call (see [`user::events`]).
    pub fn user_events(&mut self, now: TimeMs) -> Vec<String> {
        user::events(self, now)
    }
}

//! The simulated venue in Binance spot's REST dialect, sans-IO.
//!
//! [`Venue::handle`] takes one HTTP request (method, path, raw query string, raw body, API-key
//! header, the client's address) and the wall-clock time, and returns the reply: status,
//! headers, JSON body, how to deliver it (now, later, never: a stalled or dropped connection)
//! and the line to record. It reads no clock and does no I/O; [`server`] is the HTTP adapter
//! around it. Behind the dialect is the same [`SimExchange`] the simulator uses, with the same
//! seeded fault machinery: the same seed and the same sequence of requests give the same
//! outcomes.

pub mod auth;
pub mod error;
pub mod limits;
mod orderlist;
pub mod params;
mod public;
mod record;
mod replace;
pub mod server;
pub mod shapes;
mod startup;
pub mod stream;
mod timeline;
mod trading;
pub mod ws;

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use auth::Credentials;
pub use error::ApiError;
pub use limits::Limits;

use crate::exchange::sim::{SimExchange, VenueConfig};
use crate::model::{Symbol, TimeMs};
use crate::sim::faults::{FaultPlan, FaultProfile, Net};
use crate::sim::Scenario;
use params::Params;
use shapes::OrderInfo;
use timeline::Timeline;

/// The default market of `order-router venue` when no scenario is given.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../../scenarios/venue/default.csv");

/// An HTTP method, as far as the venue cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Other,
}

impl Method {
    pub fn parse(m: &str) -> Method {
        match m {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Other => "OTHER",
        }
    }
}

/// One request as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// The raw body (`application/x-www-form-urlencoded`).
    pub body: &'a [u8],
    /// The `X-MBX-APIKEY` header.
    pub api_key: Option<&'a str>,
    /// The client's address: whom public requests count against.
    pub client: &'a str,
}

/// How the adapter delivers a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    #[default]
    Now,
    /// After this many milliseconds (a latency spike).
    After(u64),
    /// Never: the connection is closed without an answer.
    Drop,
    /// Never: the connection is held this long, then closed without an answer.
    Stall(u64),
}

/// What the adapter sends back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// `Retry-After`, `X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S`.
    pub headers: Vec<(&'static str, String)>,
    pub delivery: Delivery,
    /// One JSON line for `--record` (when the venue records): the request and what the venue
    /// executed.
    pub record: Option<String>,
}

/// How to set a venue up.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Markets, rules, balances, prices over time, fault rows (its intents are ignored).
    pub scenario: Scenario,
    pub credentials: Credentials,
    /// Seed of every fault draw (default: the scenario's, else 0).
    pub seed: u64,
    /// Random faults (default: the scenario's `p_*` settings).
    pub profile: FaultProfile,
    pub limits: Limits,
    /// Scenario milliseconds per wall-clock millisecond.
    pub speed: u64,
    /// How long a stalled connection is held before it is closed.
    pub stall_ms: u64,
}

/// The venue's named fault profiles (`--faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Faults {
    /// No random faults.
    None,
    /// Each fault about 1 request in 100.
    Light,
    /// Each fault about 1 request in 12.
    Rough,
}

impl Faults {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A fault profile by name: `none`, `light` or `rough` (see [`Faults`]).
pub fn profile(name: &str) -> Option<FaultProfile> {
    name.parse().ok().map(fault_profile)
}

/// The random faults of a named profile.
pub fn fault_profile(faults: Faults) -> FaultProfile {
    let bps = match faults {
        Faults::None => return FaultProfile::default(),
        Faults::Light => 100,
        Faults::Rough => 800,
    };
    FaultProfile {
        request_lost_bps: bps,
        response_lost_bps: bps,
        server_error_bps: bps,
        rate_limited_bps: bps,
        latency_bps: bps,
        latency_spike_ms: 300,
        reject_bps: bps,
        partial_bps: bps,
        requote_bps: bps,
        requote_move_bps: 10,
        trades_repeat_bps: 0,
        trades_foreign_bps: 0,
        trades_split_bps: 0,
        trades_phantom_bps: 0,
        order_foreign_bps: 0,
        rejected_status_bps: 0,
        duplicate_delivery_bps: 0,
        late_delivery_bps: 0,
        crash_bps: 0,
    }
}

/// Everything a call needs, parsed and checked before anything executes.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub op: Op,
    /// The market the call is about, for fault rows that name one.
    pub symbol: Option<Symbol>,
}

pub(crate) use public::Op as PublicOp;
pub(crate) use trading::Op as TradingOp;

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Public(PublicOp),
    Trading(TradingOp),
    /// Signed, but no trading: faults do not hit it.
    Startup(startup::Op),
}

/// One route: method, path, whether it is SIGNED, its weight and its parser.
struct Route {
    method: Method,
    path: &'static str,
    signed: bool,
    /// Request weight, from the parameters (some endpoints cost more without a symbol).
    weight: fn(&Params) -> u32,
    parse: fn(&Venue, &Params) -> Result<Call, ApiError>,
}

const fn w1(_: &Params) -> u32 {
    1
}

/// The simulated venue behind Binance's REST dialect.
#[derive(Debug)]
pub struct Venue {
    ex: SimExchange,
    timeline: Timeline,
    plan: FaultPlan,
    rng: ChaCha8Rng,
    credentials: Credentials,
    limiter: limits::Limiter,
    stall_ms: u64,
    /// `BTCUSDT` to `BTC/USDT`, for every market of the scenario.
    symbols: BTreeMap<String, Symbol>,
    /// Parallel to the exchange's orders (order id `n` is `infos[n - 1]`).
    infos: Vec<OrderInfo>,
    /// Trades ever executed when each order's placement returned: later ones are maker fills.
    taker_end: Vec<usize>,
    /// Requests handled so far.
    seq: u64,
    /// Whether replies carry a record line.
    recording: bool,
    /// Trades already written to the record.
    recorded_trades: usize,
    /// Placements that came without a client order id so far (their ids are made up).
    anonymous: u64,
    /// Signed requests are refused: what they would execute could not be recorded.
    stopped: bool,
    /// The market streams' books and cursors.
    feed: stream::feed::Feed,
    /// What the user data stream has reported.
    user: stream::user::UserTracker,
    /// The client id of each cancel request, by order id, for the `CANCELED` report's `c`.
    cancel_ids: BTreeMap<u64, String>,
}

impl Venue {
    /// A venue whose clock started at `start_ms` (wall-clock milliseconds).
    pub fn new(setup: Setup, start_ms: TimeMs) -> Venue {
        let Setup {
            scenario,
            credentials,
            seed,
            profile,
            limits,
            speed,
            stall_ms,
        } = setup;
        let mut symbols = BTreeMap::new();
        for s in scenario
            .symbols()
            .into_iter()
            .chain(scenario.venue.markets.keys())
        {
            symbols.insert(format!("{}{}", s.base(), s.quote()), s.clone());
        }
        let venue: VenueConfig = scenario.venue.clone();
        let live = venue.market.live;
        let mut v = Venue {
            ex: SimExchange::new(venue),
            timeline: Timeline::new(scenario.rows, start_ms, speed),
            plan: FaultPlan::new(profile),
            rng: ChaCha8Rng::seed_from_u64(seed),
            credentials,
            limiter: limits::Limiter::new(limits),
            stall_ms,
            symbols,
            infos: Vec::new(),
            taker_end: Vec::new(),
            seq: 0,
            recording: false,
            recorded_trades: 0,
            anonymous: 0,
            stopped: false,
            feed: stream::feed::Feed::default(),
            user: stream::user::UserTracker::default(),
            cancel_ids: BTreeMap::new(),
        };
        v.timeline.advance(start_ms, &mut v.ex, &mut v.plan);
        if live {
            v.ex.go_live(seed, start_ms, true);
            v.ex.advance_market(start_ms);
        }
        v.user = stream::user::UserTracker::start(&v);
        v
    }

    /// Makes every reply carry its record line from now on.
    pub fn record(&mut self) {
        self.recording = true;
        self.recorded_trades = self.ex.trade_count();
    }

    /// Refuses every later SIGNED request with HTTP 503 `-1001`, executing nothing: the
    /// adapter calls it when the record can no longer be written, so that nothing executes
    /// unrecorded. Public market data is still answered.
    pub fn stop_trading(&mut self) {
        self.stopped = true;
    }

    /// The simulated exchange behind the dialect: balances, orders and trades as executed.
    pub fn exchange(&self) -> &SimExchange {
        &self.ex
    }

    /// The Binance names of the markets served, in order.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.symbols.keys().map(|s| s.as_str())
    }

    fn symbol(&self, name: &str) -> Result<Symbol, ApiError> {
        self.symbols
            .get(name)
            .cloned()
            .ok_or_else(ApiError::invalid_symbol)
    }

    fn routes() -> &'static [Route] {
        &ROUTES
    }

    /// Handles one request at wall-clock time `now`.
    pub fn handle(&mut self, now: TimeMs, req: &Request<'_>) -> Reply {
        self.handle_signed(now, req, None)
    }

    /// Runs the scenario's price rows and the living market up to `now`.
    pub(crate) fn catch_up(&mut self, now: TimeMs) {
        self.timeline.advance(now, &mut self.ex, &mut self.plan);
        // The living market catches up with the wall clock (nothing on a static one).
        self.ex.advance_market(now);
    }

    pub(crate) fn handle_signed(
        &mut self,
        now: TimeMs,
        req: &Request<'_>,
        payload: Option<&[u8]>,
    ) -> Reply {
        self.seq += 1;
        self.catch_up(now);
        let mut out = Outcome::default();
        let (status, body, code) = match self.dispatch(now, req, payload, &mut out) {
            Ok(body) => (200, body, None),
            Err(e) => (e.status, e.body(), Some(e.code)),
        };
        let mut headers = Vec::new();
        if let Some(s) = out.retry_after_s {
            headers.push(("Retry-After", s.to_string()));
        }
        if let Some(u) = out.usage {
            headers.push(("X-MBX-USED-WEIGHT-1M", u.weight_1m.to_string()));
            if out.order {
                headers.push(("X-MBX-ORDER-COUNT-10S", u.orders_10s.to_string()));
            }
        }
        let record = self
            .recording
            .then(|| record::line(self, now, req, status, code, &out));
        Reply {
            status,
            body,
            headers,
            delivery: out.delivery,
            record,
        }
    }

    fn dispatch(
        &mut self,
        now: TimeMs,
        req: &Request<'_>,
        payload: Option<&[u8]>,
        out: &mut Outcome,
    ) -> Result<Vec<u8>, ApiError> {
        let mut on_path = Self::routes()
            .iter()
            .filter(|r| r.path == req.path)
            .peekable();
        if on_path.peek().is_none() {
            return Err(ApiError::unknown_endpoint());
        }
        let Some(route) = on_path.find(|r| r.method == req.method) else {
            return Err(ApiError::method_not_allowed());
        };
        if route.signed && self.stopped {
            return Err(ApiError::internal());
        }
        let params = Params::parse(req.query, req.body);
        let weight = params.as_ref().map_or(1, |p| (route.weight)(p));
        let who = match req.api_key {
            Some(k) if route.signed && self.credentials.check_key(Some(k)).is_ok() => k,
            _ => req.client,
        };
        let is_order = route.method == Method::Post
            && (route.path == trading::ORDER_PATH
                || route.path.starts_with("/api/v3/orderList/")
                || route.path == "/api/v3/order/oco"
                || route.path == "/api/v3/order/cancelReplace");
        out.order = is_order;
        match self.limiter.admit(who, now, weight, is_order) {
            Ok(u) => out.usage = Some(u),
            Err(r) => {
                out.usage = Some(r.usage);
                out.retry_after_s = Some(r.retry_after_s);
                out.hold_until = Some(r.until);
                return Err(r.error);
            }
        }
        let params = params?;
        if self.recording {
            out.params = params
                .iter()
                .filter(|(k, _)| *k != "signature")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        }
        if route.signed {
            self.credentials.check_key(req.api_key)?;
            match payload {
                Some(p) => self.credentials.check_signed_payload(&params, p, now)?,
                None => self
                    .credentials
                    .check_signed(&params, req.query, req.body, now)?,
            }
        }
        let call = (route.parse)(self, &params)?;
        params.all_read()?;
        let Call { op, symbol } = call;
        match op {
            Op::Public(op) => public::execute(self, now, op),
            Op::Startup(op) => startup::execute(self, now, op),
            Op::Trading(op) => self.with_faults(now, symbol.as_ref(), op, out),
        }
    }

    /// Runs a trading call through the fault machinery: the call may never arrive, arrive
    /// and lose its answer, fail with execution unknown, be rate limited or answer late.
    fn with_faults(
        &mut self,
        now: TimeMs,
        symbol: Option<&Symbol>,
        op: TradingOp,
        out: &mut Outcome,
    ) -> Result<Vec<u8>, ApiError> {
        let kind = op.fault_request();
        let fate = self.plan.fate(&mut self.rng, symbol, kind);
        if fate.extra_latency_ms > 0 {
            out.delivery = Delivery::After(fate.extra_latency_ms);
            out.faults.push("latency");
        }
        let lost = |v: &mut Venue| {
            if v.rng.random_bool(0.5) {
                Delivery::Stall(v.stall_ms)
            } else {
                Delivery::Drop
            }
        };
        match fate.net {
            Net::Clean => {}
            Net::RequestLost => {
                out.faults.push("request_lost");
                out.not_received = true;
                out.delivery = lost(self);
                return Err(ApiError::execution_unknown());
            }
            Net::RateLimited => {
                out.faults.push("rate_limited");
                out.retry_after_s = Some(1);
                out.hold_until = Some(now.saturating_add(1_000));
                return Err(ApiError::too_much_weight(
                    self.limiter.limits().weight_per_minute,
                ));
            }
            Net::ResponseLost => {
                out.faults.push("response_lost");
                let answer = trading::execute(self, now, op, fate.venue, out);
                out.delivery = lost(self);
                return answer;
            }
            Net::ServerError => {
                out.faults.push("server_error");
                if self.rng.random_bool(0.5) {
                    // Executed, but the client is told only that nobody knows.
                    let _ = trading::execute(self, now, op, fate.venue, out);
                }
                return Err(ApiError::execution_unknown());
            }
        }
        trading::execute(self, now, op, fate.venue, out)
    }
}

/// What happened while handling one request, beyond its answer.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub delivery: Delivery,
    pub retry_after_s: Option<u64>,
    /// With `retry_after_s`: when the wait the client was told of ends.
    pub hold_until: Option<TimeMs>,
    pub usage: Option<limits::Usage>,
    pub order: bool,
    /// Every fault that touched the request, in the order they hit: latency, the network's,
    /// then the venue's (a placement's reject, partial fill or requote, an odd answer).
    pub faults: Vec<&'static str>,
    /// The request was lost on the way: the venue never saw it, so nothing answered it.
    pub not_received: bool,
    /// The parameters sent, without the signature, for the record.
    pub params: Vec<(String, String)>,
    /// The order a placement or cancel touched, as the venue holds it afterwards.
    pub executed: Option<crate::exchange::Order>,
    /// The order list a list call placed or cancelled.
    pub list: Option<u64>,
}

static ROUTES: [Route; 37] = [
    Route {
        method: Method::Get,
        path: "/api/v3/ping",
        signed: false,
        weight: w1,
        parse: public::ping,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/time",
        signed: false,
        weight: w1,
        parse: public::time,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/exchangeInfo",
        signed: false,
        weight: |_| 20,
        parse: public::exchange_info,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/depth",
        signed: false,
        weight: public::depth_weight,
        parse: public::depth,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/ticker/24hr",
        signed: false,
        weight: |p| if p.peek("symbol") { 2 } else { 80 },
        parse: public::ticker_24hr,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/ticker/price",
        signed: false,
        weight: |p| if p.peek("symbol") { 2 } else { 4 },
        parse: public::ticker_price,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/ticker/bookTicker",
        signed: false,
        weight: |p| if p.peek("symbol") { 2 } else { 4 },
        parse: public::book_ticker,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/trades",
        signed: false,
        weight: |_| 25,
        parse: public::trades,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/aggTrades",
        signed: false,
        weight: |_| 4,
        parse: public::agg_trades,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/uiKlines",
        signed: false,
        weight: |_| 2,
        parse: public::klines,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/avgPrice",
        signed: false,
        weight: |_| 2,
        parse: public::avg_price,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/klines",
        signed: false,
        weight: |_| 2,
        parse: public::klines,
    },
    Route {
        method: Method::Post,
        path: trading::ORDER_PATH,
        signed: true,
        weight: w1,
        parse: trading::new_order,
    },
    Route {
        method: Method::Post,
        path: "/api/v3/order/test",
        signed: true,
        weight: w1,
        parse: trading::test_order,
    },
    Route {
        method: Method::Get,
        path: trading::ORDER_PATH,
        signed: true,
        weight: |_| 4,
        parse: trading::query_order,
    },
    Route {
        method: Method::Delete,
        path: trading::ORDER_PATH,
        signed: true,
        weight: w1,
        parse: trading::cancel_order,
    },
    Route {
        method: Method::Post,
        path: "/api/v3/order/cancelReplace",
        signed: true,
        weight: w1,
        parse: replace::parse,
    },
    Route {
        method: Method::Post,
        path: "/api/v3/orderList/oco",
        signed: true,
        weight: w1,
        parse: orderlist::oco,
    },
    Route {
        method: Method::Post,
        path: "/api/v3/orderList/oto",
        signed: true,
        weight: w1,
        parse: orderlist::oto,
    },
    Route {
        method: Method::Post,
        path: "/api/v3/orderList/otoco",
        signed: true,
        weight: w1,
        parse: orderlist::otoco,
    },
    Route {
        method: Method::Post,
        path: "/api/v3/order/oco",
        signed: true,
        weight: w1,
        parse: orderlist::oco_deprecated,
    },
    Route {
        method: Method::Delete,
        path: "/api/v3/orderList",
        signed: true,
        weight: w1,
        parse: orderlist::cancel,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/orderList",
        signed: true,
        weight: |_| 4,
        parse: orderlist::query,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/openOrderList",
        signed: true,
        weight: |_| 6,
        parse: orderlist::open,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/allOrderList",
        signed: true,
        weight: |_| 20,
        parse: orderlist::all,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/openOrders",
        signed: true,
        weight: |p| if p.peek("symbol") { 6 } else { 80 },
        parse: trading::open_orders,
    },
    Route {
        method: Method::Delete,
        path: "/api/v3/openOrders",
        signed: true,
        weight: w1,
        parse: trading::cancel_all,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/allOrders",
        signed: true,
        weight: |_| 20,
        parse: trading::all_orders,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/myTrades",
        signed: true,
        weight: |p| if p.peek("orderId") { 5 } else { 20 },
        parse: trading::my_trades,
    },
    Route {
        method: Method::Get,
        path: "/api/v3/account",
        signed: true,
        weight: |_| 20,
        parse: trading::account,
    },
    Route {
        method: Method::Get,
        path: "/sapi/v1/capital/config/getall",
        signed: true,
        weight: |_| 10,
        parse: startup::coins,
    },
    Route {
        method: Method::Get,
        path: "/sapi/v1/asset/tradeFee",
        signed: true,
        weight: w1,
        parse: startup::trade_fee,
    },
    Route {
        method: Method::Get,
        path: "/sapi/v1/margin/allPairs",
        signed: true,
        weight: w1,
        parse: startup::margin_pairs,
    },
    Route {
        method: Method::Get,
        path: "/sapi/v1/margin/isolated/allPairs",
        signed: true,
        weight: |_| 10,
        parse: startup::margin_pairs,
    },
    Route {
        method: Method::Get,
        path: "/fapi/v1/exchangeInfo",
        signed: false,
        weight: w1,
        parse: startup::futures_info,
    },
    Route {
        method: Method::Get,
        path: "/dapi/v1/exchangeInfo",
        signed: false,
        weight: w1,
        parse: startup::futures_info,
    },
    Route {
        method: Method::Get,
        path: "/eapi/v1/exchangeInfo",
        signed: false,
        weight: w1,
        parse: startup::options_info,
    },
];

/// The endpoints served, as `METHOD path`, for documentation and tests.
pub fn endpoints() -> impl Iterator<Item = (&'static str, &'static str, bool)> {
    ROUTES.iter().map(|r| (r.method.name(), r.path, r.signed))
}

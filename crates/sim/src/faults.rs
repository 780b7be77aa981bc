//! Which faults hit which request: scheduled by scenario rows, or drawn from a profile.
//!
//! A request can suffer at most one network outcome (lost request, lost reply, server error,
//! rate limit), one latency spike and one venue fault: for placements a reject, partial fill,
//! requote or an answer in status `REJECTED`; for trade queries a repeated trade, another
//! order's trade, an answer that holds only part of the order's trades or one trade too many;
//! for order queries and cancels another order's report. Scheduled faults are taken first, in the order their rows activated them; a profile
//! then draws each still-free slot with the seeded RNG, as integer basis points.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::scenario::FaultKind;
use crate::model::Symbol;

/// The `Retry-After` of a rate-limited answer: a second, Binance's shortest window.
pub const RETRY_AFTER_MS: u64 = 1_000;

/// Every fault kind by name, for counters and reports.
pub const KINDS: [&str; 17] = [
    "request_lost",
    "response_lost",
    "server_error",
    "rate_limited",
    "latency",
    "reject",
    "partial",
    "requote",
    "trades_repeat",
    "trades_foreign",
    "trades_split",
    "trades_phantom",
    "order_foreign",
    "rejected_status",
    "duplicate_delivery",
    "late_delivery",
    "crash",
];

/// The kinds a `fault` row can schedule: every kind but the bus's own and crashes (the last
/// three).
pub const SCHEDULABLE: &[&str] = KINDS.split_at(KINDS.len() - 3).0;

/// What a request does at the venue, for the faults that only some requests can suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Place,
    FetchTrades,
    /// Order queries and cancels.
    Other,
}

/// What happens on the wire to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Clean,
    /// Never reaches the venue.
    RequestLost,
    /// Executed; the reply never comes.
    ResponseLost,
    /// The venue answers 5xx; it may or may not have executed (the RNG decides).
    ServerError,
    /// Refused, not executed.
    RateLimited,
}

/// The faults decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fate {
    pub net: Net,
    pub extra_latency_ms: u64,
    /// Reject, partial or requote for placements; a trade-answer fault for trade queries.
    pub venue: Option<FaultKind>,
}

/// Probabilities per fault kind in basis points (0..=10000), for random fault injection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultProfile {
    pub request_lost_bps: u32,
    pub response_lost_bps: u32,
    pub server_error_bps: u32,
    pub rate_limited_bps: u32,
    pub latency_bps: u32,
    /// Size of a drawn latency spike.
    pub latency_spike_ms: u64,
    pub reject_bps: u32,
    pub partial_bps: u32,
    pub requote_bps: u32,
    /// How far a drawn requote moves the market, in bps.
    pub requote_move_bps: u32,
    pub trades_repeat_bps: u32,
    pub trades_foreign_bps: u32,
    pub trades_split_bps: u32,
    pub trades_phantom_bps: u32,
    pub order_foreign_bps: u32,
    pub rejected_status_bps: u32,
    pub duplicate_delivery_bps: u32,
    pub late_delivery_bps: u32,
    /// The router's process dies, per journal batch (see the `crash` row).
    pub crash_bps: u32,
}

#[derive(Debug, Clone)]
struct Active {
    symbol: Option<Symbol>,
    kind: FaultKind,
    left: u32,
}

/// Scheduled faults still to be used, plus the random profile.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    active: Vec<Active>,
    pub profile: FaultProfile,
}

fn draw(rng: &mut ChaCha8Rng, bps: u32) -> bool {
    bps > 0 && rng.random_range(0..10_000u32) < bps
}

impl FaultPlan {
    pub fn new(profile: FaultProfile) -> Self {
        FaultPlan {
            active: Vec::new(),
            profile,
        }
    }

    /// A fault row: from now on the next `count` requests it can affect suffer it.
    pub fn schedule(&mut self, symbol: Option<Symbol>, kind: FaultKind, count: u32) {
        if count > 0 {
            self.active.push(Active {
                symbol,
                kind,
                left: count,
            });
        }
    }

    /// Faults off from now on: scheduled ones are dropped and none are drawn (the calm phase).
    pub fn calm(&mut self) {
        self.active.clear();
        self.profile = FaultProfile::default();
    }

    /// Decides the fate of one request for `symbol` (`None`: a request on no one market, which
    /// only faults scheduled for any market can hit).
    pub fn fate(
        &mut self,
        rng: &mut ChaCha8Rng,
        symbol: Option<&Symbol>,
        request: Request,
    ) -> Fate {
        let placement = request == Request::Place;
        let trades = request == Request::FetchTrades;
        let other = request == Request::Other;
        let mut fate = Fate {
            net: Net::Clean,
            extra_latency_ms: 0,
            venue: None,
        };
        let (mut net_set, mut lat_set) = (false, false);
        for a in self.active.iter_mut() {
            if a.left == 0 || a.symbol.as_ref().is_some_and(|s| Some(s) != symbol) {
                continue;
            }
            let used = match a.kind {
                FaultKind::RequestLost if !net_set => Some(Net::RequestLost),
                FaultKind::ResponseLost if !net_set => Some(Net::ResponseLost),
                FaultKind::ServerError if !net_set => Some(Net::ServerError),
                FaultKind::RateLimited if !net_set => Some(Net::RateLimited),
                _ => None,
            };
            if let Some(n) = used {
                fate.net = n;
                net_set = true;
                a.left -= 1;
                continue;
            }
            match a.kind {
                FaultKind::Latency { ms } if !lat_set => {
                    fate.extra_latency_ms = ms;
                    lat_set = true;
                    a.left -= 1;
                }
                k @ (FaultKind::Reject
                | FaultKind::Partial { .. }
                | FaultKind::Requote { .. }
                | FaultKind::RejectedStatus)
                    if placement && fate.venue.is_none() =>
                {
                    fate.venue = Some(k);
                    a.left -= 1;
                }
                k @ (FaultKind::TradesRepeat
                | FaultKind::TradesForeign
                | FaultKind::TradesSplit
                | FaultKind::TradesPhantom)
                    if trades && fate.venue.is_none() =>
                {
                    fate.venue = Some(k);
                    a.left -= 1;
                }
                FaultKind::OrderForeign if other && fate.venue.is_none() => {
                    fate.venue = Some(FaultKind::OrderForeign);
                    a.left -= 1;
                }
                _ => {}
            }
        }
        self.active.retain(|a| a.left > 0);

        let p = self.profile;
        if !net_set {
            fate.net = if draw(rng, p.request_lost_bps) {
                Net::RequestLost
            } else if draw(rng, p.response_lost_bps) {
                Net::ResponseLost
            } else if draw(rng, p.server_error_bps) {
                Net::ServerError
            } else if draw(rng, p.rate_limited_bps) {
                Net::RateLimited
            } else {
                Net::Clean
            };
        }
        if !lat_set && draw(rng, p.latency_bps) {
            fate.extra_latency_ms = p.latency_spike_ms;
        }
        if placement && fate.venue.is_none() {
            if draw(rng, p.reject_bps) {
                fate.venue = Some(FaultKind::Reject);
            } else if draw(rng, p.partial_bps) {
                // A ratio in 10%..90% of the order, in whole percent.
                let pct = rng.random_range(10..=90u32);
                fate.venue = Some(FaultKind::Partial {
                    ratio: Decimal::new(i64::from(pct), 2),
                });
            } else if draw(rng, p.requote_bps) {
                fate.venue = Some(FaultKind::Requote {
                    bps: Decimal::from(p.requote_move_bps),
                });
            } else if draw(rng, p.rejected_status_bps) {
                fate.venue = Some(FaultKind::RejectedStatus);
            }
        }
        if trades && fate.venue.is_none() {
            if draw(rng, p.trades_repeat_bps) {
                fate.venue = Some(FaultKind::TradesRepeat);
            } else if draw(rng, p.trades_foreign_bps) {
                fate.venue = Some(FaultKind::TradesForeign);
            } else if draw(rng, p.trades_split_bps) {
                fate.venue = Some(FaultKind::TradesSplit);
            } else if draw(rng, p.trades_phantom_bps) {
                fate.venue = Some(FaultKind::TradesPhantom);
            }
        }
        if other && fate.venue.is_none() && draw(rng, p.order_foreign_bps) {
            fate.venue = Some(FaultKind::OrderForeign);
        }
        fate
    }

    /// Whether a bus delivery is followed by a duplicate (soon) or a late one (much later).
    pub fn redeliveries(&self, rng: &mut ChaCha8Rng) -> (bool, bool) {
        let p = self.profile;
        (
            draw(rng, p.duplicate_delivery_bps),
            draw(rng, p.late_delivery_bps),
        )
    }
}

/// The user data stream between the simulated venue and the router, and its faults: off unless
/// a scenario says `stream=on`. Probabilities in basis points per event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamProfile {
    pub on: bool,
    /// One-way delay of every event on a healthy connection.
    pub latency_ms: u64,
    /// An event lost on an open connection (Binance keeps per-connection order and does not
    /// lose events; a lost one stands for a bug or a proxy in between).
    pub lost_bps: u32,
    /// An event delivered twice in a row.
    pub duplicate_bps: u32,
    /// The connection drops at an event: it and every event until the reconnect are lost.
    pub drop_bps: u32,
    /// The connection goes silent at an event: nothing arrives until the client notices (no
    /// pong) and reconnects, a longer gap than a drop.
    pub silence_bps: u32,
    /// Extra delay of the whole connection from an event on (order kept).
    pub delay_bps: u32,
    /// How long a dropped connection stays down; a silence lasts four times as long.
    pub gap_ms: u64,
}

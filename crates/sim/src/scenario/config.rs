//! `config` rows: each key's value, read and bounded where it is written, and applied to the
//! router's and the venue's settings once every row is read.

use rust_decimal::Decimal;

use super::cells::{decimal_in, int_in, show, At, Bound};
use super::{Scenario, ScenarioError, CONFIG_KEYS, MAX_LATENCY_MS, MAX_LEVELS, MAX_WAIT_MS};
use crate::exchange::fees::FeeMode;
use crate::exchange::sim::Dedup;
use crate::flow::queue::FillModel;
use crate::model::{Symbol, Tif};
use crate::router::{limits, MarketRules};

/// One `config` key's value, parsed where it was written and applied after all rows.
#[derive(Clone, Copy)]
pub(super) enum Setting {
    MaxRetries(u32),
    BackoffMs(u64),
    BackoffMaxMs(u64),
    BackoffJitterBps(u32),
    BackoffSeed(u64),
    Tif(Tif),
    SlippageBps(Decimal),
    MinNotional(Decimal),
    RequestTimeoutMs(u64),
    RecvWindowMs(u64),
    PollIntervalMs(u64),
    OrderTimeoutMs(u64),
    FeeBps(Decimal),
    TickSize(Decimal),
    StepSize(Decimal),
    VenueMinNotional(Decimal),
    LatencyMs(u64),
    RestartMs(u64),
    DedupAlways(bool),
    FeeAssetMode(FeeMode),
    BnbPrice(Decimal),
    Levels(u32),
    Seed(u64),
    /// `market = live` (or `static`).
    Live(bool),
    FillModel(FillModel),
    OrderLatencyMs(u64),
    FeedLatencyMs(u64),
    MarketSpeed(u64),
    /// `account = fresh` (or `funded`, the default): see [`Scenario::make_account_fresh`].
    FreshAccount(bool),
    /// A `p_<kind>` probability (bps) or a drawn fault's size.
    Profile(&'static str, u64),
    /// `stream = on` (or `off`).
    Stream(bool),
    /// A `stream_*` delay or `p_stream_*` probability (bps).
    StreamProfile(&'static str, u64),
}

impl Setting {
    pub(super) fn parse(at: At<'_>, key: &str, value: &str) -> Result<Setting, ScenarioError> {
        let u64_ = |min, max| int_in(at, key, value, min, max);
        let u32_ = |min, max: u32| {
            int_in(at, key, value, min, u64::from(max)).map(|v| u32::try_from(v).unwrap_or(max))
        };
        let dec = |bound| decimal_in(at, key, value, bound);
        Ok(match key {
            "max_retries" => Setting::MaxRetries(u32_(0, limits::MAX_RETRIES)?),
            "backoff_ms" => Setting::BackoffMs(u64_(0, MAX_WAIT_MS)?),
            "backoff_max_ms" => Setting::BackoffMaxMs(u64_(0, MAX_WAIT_MS)?),
            "backoff_jitter_bps" => Setting::BackoffJitterBps(u32_(0, 10_000)?),
            "backoff_seed" => Setting::BackoffSeed(u64_(0, u64::MAX)?),
            "tif" => Setting::Tif(
                Tif::parse(value)
                    .map_err(|_| at.err(key, format!("{} is neither IOC nor GTC", show(value))))?,
            ),
            "slippage_bps" => Setting::SlippageBps(dec(Bound::Bps)?),
            "min_notional" => Setting::MinNotional(dec(Bound::NonNegative)?),
            "request_timeout_ms" => Setting::RequestTimeoutMs(u64_(1, MAX_WAIT_MS)?),
            "recv_window_ms" => Setting::RecvWindowMs(u64_(0, limits::MAX_RECV_WINDOW_MS)?),
            "poll_interval_ms" => Setting::PollIntervalMs(u64_(1, MAX_WAIT_MS)?),
            "order_timeout_ms" => Setting::OrderTimeoutMs(u64_(0, limits::MAX_ORDER_TIMEOUT_MS)?),
            "fee_bps" => Setting::FeeBps(dec(Bound::Bps)?),
            "tick_size" => Setting::TickSize(dec(Bound::Positive)?),
            "step_size" => Setting::StepSize(dec(Bound::Positive)?),
            "venue_min_notional" => Setting::VenueMinNotional(dec(Bound::NonNegative)?),
            "latency_ms" => Setting::LatencyMs(u64_(0, MAX_LATENCY_MS)?),
            "stream" => Setting::Stream(match value {
                "on" => true,
                "off" => false,
                _ => return Err(at.err(key, format!("{} is neither on nor off", show(value)))),
            }),
            "stream_latency_ms" => {
                Setting::StreamProfile("stream_latency_ms", u64_(0, MAX_LATENCY_MS)?)
            }
            "stream_gap_ms" => Setting::StreamProfile("stream_gap_ms", u64_(0, MAX_WAIT_MS)?),
            "p_stream_lost" | "p_stream_duplicate" | "p_stream_drop" | "p_stream_silence"
            | "p_stream_delay" => {
                let name = super::CONFIG_KEYS
                    .iter()
                    .copied()
                    .find(|k| *k == key)
                    .unwrap_or("p_stream_lost");
                Setting::StreamProfile(name, int_in(at, key, value, 0, 10_000)?)
            }
            "dedup" => Setting::DedupAlways(match value {
                "open_only" => false,
                "always" => true,
                _ => {
                    return Err(at.err(
                        key,
                        format!("{} is neither open_only nor always", show(value)),
                    ))
                }
            }),
            "fee_asset_mode" => Setting::FeeAssetMode(FeeMode::parse(value).ok_or_else(|| {
                at.err(key, format!("{} is neither received nor bnb", show(value)))
            })?),
            "bnb_price" => Setting::BnbPrice(dec(Bound::Positive)?),
            "levels" => Setting::Levels(u32_(1, MAX_LEVELS)?),
            "seed" => Setting::Seed(u64_(0, u64::MAX)?),
            "market" => Setting::Live(match value {
                "live" => true,
                "static" => false,
                _ => return Err(at.err(key, format!("{} is neither live nor static", show(value)))),
            }),
            "fill_model" => {
                Setting::FillModel(value.parse().map_err(|_| {
                    at.err(key, format!("{} is neither queue nor touch", show(value)))
                })?)
            }
            "order_latency_ms" => Setting::OrderLatencyMs(u64_(0, MAX_LATENCY_MS)?),
            "feed_latency_ms" => Setting::FeedLatencyMs(u64_(0, MAX_LATENCY_MS)?),
            "market_speed" => Setting::MarketSpeed(u64_(1, 1_000)?),
            "account" => Setting::FreshAccount(match value {
                "fresh" => true,
                "funded" => false,
                _ => {
                    return Err(at.err(key, format!("{} is neither fresh nor funded", show(value))))
                }
            }),
            "latency_spike_ms" => Setting::Profile("latency_spike_ms", u64_(0, MAX_WAIT_MS)?),
            "restart_ms" => Setting::RestartMs(u64_(0, MAX_WAIT_MS)?),
            "requote_move_bps" => {
                Setting::Profile("requote_move_bps", int_in(at, key, value, 0, 10_000)?)
            }
            k if k.starts_with("p_") => {
                let name = CONFIG_KEYS
                    .iter()
                    .find(|c| **c == k)
                    .copied()
                    .unwrap_or("p_");
                Setting::Profile(name, int_in(at, key, value, 0, 10_000)?)
            }
            // Params::parse only lets CONFIG_KEYS through.
            _ => return Err(at.err("params", format!("unknown key {} for config", show(key)))),
        })
    }

    /// Applies a symbol-less setting.
    pub(super) fn apply(self, s: &mut Scenario) {
        let r = &mut s.router;
        match self {
            Setting::MaxRetries(v) => r.max_retries = v,
            Setting::BackoffMs(v) => r.backoff_ms = v,
            Setting::BackoffMaxMs(v) => r.backoff_max_ms = v,
            Setting::BackoffJitterBps(v) => r.backoff_jitter_bps = v,
            Setting::BackoffSeed(v) => r.backoff_seed = v,
            Setting::Tif(v) => r.tif = v,
            Setting::SlippageBps(v) => r.slippage_bps = v,
            Setting::MinNotional(v) => r.min_notional = v,
            Setting::RequestTimeoutMs(v) => r.request_timeout_ms = v,
            Setting::RecvWindowMs(v) => {
                r.recv_window_ms = v;
                s.venue.recv_window_ms = v;
            }
            Setting::PollIntervalMs(v) => r.poll_interval_ms = v,
            Setting::OrderTimeoutMs(v) => r.order_timeout_ms = v,
            Setting::FeeBps(_)
            | Setting::TickSize(_)
            | Setting::StepSize(_)
            | Setting::VenueMinNotional(_) => {
                self.apply_rules(&mut r.default_rules);
                self.apply_rules(&mut s.venue.default_rules);
            }
            Setting::LatencyMs(v) => s.latency_ms = v,
            Setting::RestartMs(v) => s.restart_ms = v,
            Setting::DedupAlways(always) => {
                s.venue.dedup = if always {
                    Dedup::Always
                } else {
                    Dedup::OpenOnly
                }
            }
            Setting::FeeAssetMode(m) => s.venue.fees.mode = m,
            Setting::BnbPrice(v) => s.venue.fees.bnb_price = v,
            Setting::Levels(v) => s.venue.levels = v,
            Setting::Seed(v) => s.seed = Some(v),
            Setting::Live(v) => s.venue.market.live = v,
            Setting::FillModel(v) => s.venue.market.fill_model = v,
            Setting::OrderLatencyMs(v) => s.venue.market.order_latency_ms = v,
            Setting::FeedLatencyMs(v) => s.venue.market.feed_latency_ms = v,
            Setting::MarketSpeed(v) => s.venue.market.speed = v,
            Setting::Stream(on) => s.stream.on = on,
            Setting::StreamProfile(key, v) => {
                let p = &mut s.stream;
                let bps = u32::try_from(v).unwrap_or(10_000);
                match key {
                    "stream_latency_ms" => p.latency_ms = v,
                    "stream_gap_ms" => p.gap_ms = v,
                    "p_stream_lost" => p.lost_bps = bps,
                    "p_stream_duplicate" => p.duplicate_bps = bps,
                    "p_stream_drop" => p.drop_bps = bps,
                    "p_stream_silence" => p.silence_bps = bps,
                    _ => p.delay_bps = bps,
                }
            }
            // Applied once every market is known (`finish`).
            Setting::FreshAccount(_) => {}
            Setting::Profile(key, v) => {
                let p = &mut s.profile;
                let bps = u32::try_from(v).unwrap_or(10_000);
                match key {
                    "p_request_lost" => p.request_lost_bps = bps,
                    "p_response_lost" => p.response_lost_bps = bps,
                    "p_server_error" => p.server_error_bps = bps,
                    "p_rate_limited" => p.rate_limited_bps = bps,
                    "p_latency" => p.latency_bps = bps,
                    "p_reject" => p.reject_bps = bps,
                    "p_partial" => p.partial_bps = bps,
                    "p_requote" => p.requote_bps = bps,
                    "p_trades_repeat" => p.trades_repeat_bps = bps,
                    "p_trades_foreign" => p.trades_foreign_bps = bps,
                    "p_trades_split" => p.trades_split_bps = bps,
                    "p_trades_phantom" => p.trades_phantom_bps = bps,
                    "p_order_foreign" => p.order_foreign_bps = bps,
                    "p_rejected_status" => p.rejected_status_bps = bps,
                    "p_duplicate_delivery" => p.duplicate_delivery_bps = bps,
                    "p_late_delivery" => p.late_delivery_bps = bps,
                    "p_crash" => p.crash_bps = bps,
                    "latency_spike_ms" => p.latency_spike_ms = v,
                    "requote_move_bps" => p.requote_move_bps = bps,
                    _ => {}
                }
            }
        }
    }

    /// Applies a market-rules setting to one side's rules; other settings do nothing.
    pub(super) fn apply_rules(self, rules: &mut MarketRules) {
        match self {
            Setting::FeeBps(v) => rules.fee_bps = v,
            Setting::TickSize(v) => rules.tick_size = v,
            Setting::StepSize(v) => rules.step_size = v,
            Setting::VenueMinNotional(v) => rules.min_notional = v,
            _ => {}
        }
    }
}

pub(super) struct ConfigRow {
    pub(super) line: usize,
    pub(super) symbol: Option<Symbol>,
    pub(super) settings: Vec<Setting>,
}

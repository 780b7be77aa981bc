//! The public market-data endpoints: ping, time, exchangeInfo, depth, tickers and klines.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;

use super::error::ApiError;
use super::params::Params;
use super::shapes::{dec, trade_id_num, Dec};
use super::{Call, Op as VenueOp, Venue};
use crate::model::{Side, Symbol, TimeMs};

/// The largest quantity and price an order may carry (LOT_SIZE `maxQty`, PRICE_FILTER
/// `maxPrice`): bounds that keep every notional far inside `Decimal`.
pub const MAX_QTY: Decimal = Decimal::from_parts(9_000_000, 0, 0, false, 0);
pub const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

const DAY_MS: u64 = 86_400_000;
/// The window of `avgPrice`.
const AVG_WINDOW_MS: u64 = 300_000;

/// Which markets a ticker call asks for.
#[derive(Debug, Clone)]
pub enum Many {
    One(Symbol),
    List(Vec<Symbol>),
    All,
}

#[derive(Debug, Clone)]
pub enum Op {
    Ping,
    Time,
    ExchangeInfo(Many),
    Depth {
        symbol: Symbol,
        limit: usize,
    },
    /// `mini`: `type=MINI`, without the fields that need the book or the change.
    Ticker24 {
        many: Many,
        mini: bool,
    },
    TickerPrice(Many),
    BookTicker(Many),
    AvgPrice(Symbol),
    /// `trades` (recent) or `aggTrades` (with `fromId`, a time window).
    Trades {
        symbol: Symbol,
        aggregated: bool,
        from_id: Option<u64>,
        start: Option<TimeMs>,
        end: Option<TimeMs>,
        limit: usize,
    },
    Klines {
        symbol: Symbol,
        interval_ms: u64,
        start: Option<TimeMs>,
        end: Option<TimeMs>,
        limit: usize,
    },
}

fn call(op: Op, symbol: Option<Symbol>) -> Result<Call, ApiError> {
    Ok(Call {
        op: VenueOp::Public(op),
        symbol,
    })
}

pub(super) fn ping(_: &Venue, _: &Params) -> Result<Call, ApiError> {
    call(Op::Ping, None)
}

pub(super) fn time(_: &Venue, _: &Params) -> Result<Call, ApiError> {
    call(Op::Time, None)
}

/// `symbol=X`, or `symbols=["X","Y"]`, or neither.
fn many(v: &Venue, p: &Params) -> Result<Many, ApiError> {
    match (p.ident("symbol", 20)?, p.raw("symbols")) {
        (Some(_), Some(_)) => Err(ApiError::bad_combination()),
        (Some(s), None) => Ok(Many::One(v.symbol(s)?)),
        (None, Some(list)) => {
            let names: Vec<String> =
                serde_json::from_str(list).map_err(|_| ApiError::illegal_chars("symbols"))?;
            if names.is_empty() || names.len() > 100 {
                return Err(ApiError::illegal_chars("symbols"));
            }
            let symbols = names
                .iter()
                .map(|n| v.symbol(n))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Many::List(symbols))
        }
        (None, None) => Ok(Many::All),
    }
}

pub(super) fn exchange_info(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    // Accepted and ignored: every market here is spot and trading.
    for name in ["permissions", "showPermissionSets", "symbolStatus"] {
        let _ = p.raw(name);
    }
    call(Op::ExchangeInfo(many(v, p)?), None)
}

pub(super) fn depth_weight(p: &Params) -> u32 {
    let limit = p
        .iter()
        .find(|(k, _)| *k == "limit")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(100);
    match limit {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
    }
}

pub(super) fn depth(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = v.symbol(p.required("symbol", |p, n| p.ident(n, 20))?)?;
    // Binance caps a larger limit at 5,000 rather than refusing it.
    let limit = p.uint("limit")?.unwrap_or(100).clamp(1, 5_000) as usize;
    call(
        Op::Depth {
            symbol: symbol.clone(),
            limit,
        },
        Some(symbol),
    )
}

pub(super) fn ticker_24hr(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let mini = match p.raw("type") {
        None | Some("FULL") => false,
        Some("MINI") => true,
        Some(_) => return Err(ApiError::illegal_chars("type")),
    };
    call(
        Op::Ticker24 {
            many: many(v, p)?,
            mini,
        },
        None,
    )
}

pub(super) fn ticker_price(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    call(Op::TickerPrice(many(v, p)?), None)
}

pub(super) fn book_ticker(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    call(Op::BookTicker(many(v, p)?), None)
}

pub(super) fn avg_price(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = v.symbol(p.required("symbol", |p, n| p.ident(n, 20))?)?;
    call(Op::AvgPrice(symbol.clone()), Some(symbol))
}

/// `GET /api/v3/trades`: the newest trades of the market (here: this venue's own).
pub(super) fn trades(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = v.symbol(p.required("symbol", |p, n| p.ident(n, 20))?)?;
    let limit = p.capped_limit("limit", 500, 1_000)? as usize;
    call(
        Op::Trades {
            symbol: symbol.clone(),
            aggregated: false,
            from_id: None,
            start: None,
            end: None,
            limit,
        },
        Some(symbol),
    )
}

/// `GET /api/v3/aggTrades`: each of this venue's trades is its own aggregate.
pub(super) fn agg_trades(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = v.symbol(p.required("symbol", |p, n| p.ident(n, 20))?)?;
    let from_id = p.uint("fromId")?;
    let start = p.uint("startTime")?;
    let end = p.uint("endTime")?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e || e - s > 3_600_000 {
            return Err(ApiError::bad_combination());
        }
    }
    if from_id.is_some() && (start.is_some() || end.is_some()) {
        return Err(ApiError::bad_combination());
    }
    let limit = p.capped_limit("limit", 500, 1_000)? as usize;
    call(
        Op::Trades {
            symbol: symbol.clone(),
            aggregated: true,
            from_id,
            start,
            end,
            limit,
        },
        Some(symbol),
    )
}

/// The length of a kline interval; `1M` (calendar months) is not served.
fn interval_ms(s: &str) -> Option<u64> {
    const M: u64 = 60_000;
    Some(match s {
        "1s" => 1_000,
        "1m" => M,
        "3m" => 3 * M,
        "5m" => 5 * M,
        "15m" => 15 * M,
        "30m" => 30 * M,
        "1h" => 60 * M,
        "2h" => 120 * M,
        "4h" => 240 * M,
        "6h" => 360 * M,
        "8h" => 480 * M,
        "12h" => 720 * M,
        "1d" => DAY_MS,
        "3d" => 3 * DAY_MS,
        "1w" => 7 * DAY_MS,
        _ => return None,
    })
}

pub(super) fn klines(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = v.symbol(p.required("symbol", |p, n| p.ident(n, 20))?)?;
    let interval = p.required("interval", |p, n| Ok(p.raw(n)))?;
    let interval_ms = interval_ms(interval).ok_or_else(ApiError::invalid_interval)?;
    let start = p.uint("startTime")?;
    let end = p.uint("endTime")?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(ApiError::bad_combination());
        }
    }
    if let Some(tz) = p.raw("timeZone") {
        if tz != "0" && tz != "+00:00" && tz != "0:00" {
            return Err(ApiError::illegal_chars("timeZone"));
        }
    }
    let limit = p.capped_limit("limit", 500, 1_000)? as usize;
    call(
        Op::Klines {
            symbol: symbol.clone(),
            interval_ms,
            start,
            end,
            limit,
        },
        Some(symbol),
    )
}

fn to_body(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|_| ApiError::unknown_endpoint())
}

/// The markets `many` names, in name order for `All`.
fn markets(v: &Venue, many: Many) -> Vec<(String, Symbol)> {
    let name = |s: &Symbol| format!("{}{}", s.base(), s.quote());
    match many {
        Many::One(s) => vec![(name(&s), s)],
        Many::List(l) => l.into_iter().map(|s| (name(&s), s)).collect(),
        Many::All => v
            .symbols
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect(),
    }
}

/// `each` market's answer: one object for `symbol=`, an array otherwise.
fn per_market(
    v: &Venue,
    many: Many,
    each: impl Fn(&Venue, &str, &Symbol) -> serde_json::Value,
) -> Result<Vec<u8>, ApiError> {
    let single = matches!(many, Many::One(_));
    let items: Vec<serde_json::Value> = markets(v, many)
        .into_iter()
        .map(|(name, s)| each(v, &name, &s))
        .collect();
    match items.as_slice() {
        [one] if single => to_body(one),
        _ => to_body(&items),
    }
}

pub(super) fn execute(v: &mut Venue, now: TimeMs, op: Op) -> Result<Vec<u8>, ApiError> {
    match op {
        Op::Ping => Ok(b"{}".to_vec()),
        Op::Time => to_body(&json!({ "serverTime": now })),
        Op::ExchangeInfo(many) => exchange_info_body(v, now, many),
        Op::Depth { symbol, limit } => {
            let side = |levels: &[crate::exchange::sim::BookLevel]| -> Vec<[Dec; 2]> {
                levels
                    .iter()
                    .filter(|l| l.qty > Decimal::ZERO)
                    .take(limit)
                    .map(|l| [dec(l.price), dec(l.qty)])
                    .collect()
            };
            // The diff streams' last update id: the snapshot is the book after it.
            let update_id = super::stream::feed::sync_book(v, &symbol, now);
            let (bids, asks) = v.ex.seen_book(&symbol, v.feed_clock());
            to_body(&json!({
                "lastUpdateId": update_id,
                "bids": side(&bids),
                "asks": side(&asks),
            }))
        }
        Op::Ticker24 { many, mini } => per_market(v, many, |v, name, s| {
            let full = ticker_24h(v, now, name, s);
            if !mini {
                return full;
            }
            let mut m = serde_json::Map::new();
            for k in MINI_FIELDS {
                m.insert(k.to_string(), full[k].clone());
            }
            serde_json::Value::Object(m)
        }),
        Op::TickerPrice(many) => per_market(
            v,
            many,
            |v, name, s| json!({ "symbol": name, "price": dec(last_price(v, s)) }),
        ),
        Op::BookTicker(many) => per_market(v, many, |v, name, s| {
            let (bid, ask) = best(v, s, now);
            json!({
                "symbol": name,
                "bidPrice": dec(bid.0), "bidQty": dec(bid.1),
                "askPrice": dec(ask.0), "askQty": dec(ask.1),
            })
        }),
        Op::AvgPrice(symbol) => {
            // The mean of the mid over the last five minutes, weighted by how long each held.
            let h = v.timeline.history(&symbol);
            let first = h.first().map_or(now, |p| p.0);
            let from = now.saturating_sub(AVG_WINDOW_MS).max(first).min(now);
            let mut t = from;
            let mut mid = v.timeline.mid_at(&symbol, from).unwrap_or(Decimal::ZERO);
            let mut sum = Decimal::ZERO;
            for &(at, m) in &h[h.partition_point(|p| p.0 <= from)..] {
                if at > now {
                    break;
                }
                sum = sum.saturating_add(mid * Decimal::from(at - t));
                (t, mid) = (at, m);
            }
            sum = sum.saturating_add(mid * Decimal::from(now - t));
            let avg = if now > from {
                sum / Decimal::from(now - from)
            } else {
                mid
            };
            to_body(&json!({ "mins": 5, "price": dec(avg.round_dp(8)), "closeTime": now }))
        }
        Op::Trades {
            symbol,
            aggregated,
            from_id,
            start,
            end,
            limit,
        } => {
            let all: Vec<Tape> = tape(v, &symbol, now)
                .into_iter()
                .filter(|t| from_id.is_none_or(|f| t.id >= f))
                .filter(|t| start.is_none_or(|s| t.t >= s) && end.is_none_or(|e| t.t <= e))
                .collect();
            // From a start: the oldest `limit`; otherwise the newest.
            let picked: &[Tape] = if from_id.is_some() || start.is_some() {
                &all[..all.len().min(limit)]
            } else {
                &all[all.len().saturating_sub(limit)..]
            };
            let rows: Vec<serde_json::Value> = picked
                .iter()
                .map(|t| {
                    let buyer_maker = if t.maker { t.buy } else { !t.buy };
                    if aggregated {
                        json!({
                            "a": t.id, "p": dec(t.price), "q": dec(t.qty), "f": t.id, "l": t.id,
                            "T": t.t, "m": buyer_maker, "M": true,
                        })
                    } else {
                        json!({
                            "id": t.id, "price": dec(t.price), "qty": dec(t.qty),
                            "quoteQty": dec(t.price.checked_mul(t.qty).unwrap_or(Decimal::ZERO)),
                            "time": t.t, "isBuyerMaker": buyer_maker, "isBestMatch": true,
                        })
                    }
                })
                .collect();
            to_body(&rows)
        }
        Op::Klines {
            symbol,
            interval_ms,
            start,
            end,
            limit,
        } => to_body(&klines_body(
            v,
            now,
            &symbol,
            interval_ms,
            start,
            end,
            limit,
        )),
    }
}

/// Best bid and ask with what they hold, as the feed shows them; zeros without a book.
fn best(v: &Venue, s: &Symbol, now: TimeMs) -> ((Decimal, Decimal), (Decimal, Decimal)) {
    let first = |levels: &[crate::exchange::sim::BookLevel]| {
        levels
            .iter()
            .find(|l| l.qty > Decimal::ZERO)
            .map_or((Decimal::ZERO, Decimal::ZERO), |l| (l.price, l.qty))
    };
    let (bids, asks) = v.ex.seen_book(s, now);
    (first(&bids), first(&asks))
}

/// The last trade's price on `s`, else the mid.
fn last_price(v: &Venue, s: &Symbol) -> Decimal {
    if v.ex.is_live() {
        if let Some(t) = v.ex.public_trades().rev().find(|t| &t.symbol == s) {
            return t.price;
        }
    }
    v.ex.trades()
        .rev()
        .find(|t| &t.symbol == s)
        .map(|t| t.price)
        .or_else(|| v.ex.mid(s))
        .unwrap_or(Decimal::ZERO)
}

fn exchange_info_body(v: &Venue, now: TimeMs, many: Many) -> Result<Vec<u8>, ApiError> {
    let l = v.limiter.limits();
    let symbols: Vec<_> = markets(v, many)
        .into_iter()
        .map(|(name, s)| {
            let r = v.ex.rules(&s);
            let lim = v.ex.config().limits;
            json!({
                "symbol": name,
                "status": "TRADING",
                "baseAsset": s.base().as_str(),
                "baseAssetPrecision": 8,
                "quoteAsset": s.quote().as_str(),
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": super::shapes::OrderType::NAMES,
                "icebergAllowed": false,
                "ocoAllowed": true,
                "otoAllowed": true,
                "quoteOrderQtyMarketAllowed": true,
                "allowTrailingStop": false,
                "cancelReplaceAllowed": true,
                "isSpotTradingAllowed": true,
                "isMarginTradingAllowed": false,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": dec(r.tick_size),
                     "maxPrice": dec(MAX_PRICE), "tickSize": dec(r.tick_size)},
                    {"filterType": "LOT_SIZE", "minQty": dec(r.step_size),
                     "maxQty": dec(MAX_QTY), "stepSize": dec(r.step_size)},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": dec(Decimal::ZERO),
                     "maxQty": dec(MAX_QTY), "stepSize": dec(Decimal::ZERO)},
                    {"filterType": "NOTIONAL", "minNotional": dec(r.min_notional),
                     "applyMinToMarket": true, "maxNotional": dec(MAX_QTY * MAX_PRICE),
                     "applyMaxToMarket": false, "avgPriceMins": 0},
                    {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": lim.max_orders},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": lim.max_algo_orders},
                    {"filterType": "MAX_NUM_ORDER_LISTS", "maxNumOrderLists": lim.max_order_lists},
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
            })
        })
        .collect();
    to_body(&json!({
        "timezone": "UTC",
        "serverTime": now,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": l.weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
             "limit": l.orders_per_10s},
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }))
}

/// A trade of one market, as the tickers and klines need it.
#[derive(Clone)]
pub(in crate::venue) struct Tape {
    pub(in crate::venue) t: TimeMs,
    pub(in crate::venue) id: u64,
    price: Decimal,
    qty: Decimal,
    buy: bool,
    /// The account's order rested on the book (filled after it was placed).
    maker: bool,
}

/// The market's trades of `s` as the public sees them at `now`: on a live market every
/// trade printed (the account's own takers among them) up to the feed's lag; on a static
/// one this venue's own trades.
pub(in crate::venue) fn tape(v: &Venue, s: &Symbol, now: TimeMs) -> Vec<Tape> {
    if v.ex.is_live() {
        let seen = now.saturating_sub(v.ex.feed_latency_ms());
        return v
            .ex
            .public_trades()
            .filter(|t| &t.symbol == s && t.t_ms <= seen)
            .map(|t| Tape {
                t: t.t_ms,
                id: t.id,
                price: t.price,
                qty: t.qty,
                buy: !t.buyer_maker,
                maker: false,
            })
            .collect();
    }
    v.ex.trades()
        .filter(|t| &t.symbol == s)
        .map(|t| Tape {
            t: t.t_ms,
            id: trade_id_num(t),
            price: t.price,
            qty: t.qty,
            buy: t.side == Side::Buy,
            maker: v.is_maker(t),
        })
        .collect()
}

/// The fields of Binance's `type=MINI` 24-hour ticker, in its order.
const MINI_FIELDS: [&str; 12] = [
    "symbol",
    "openPrice",
    "highPrice",
    "lowPrice",
    "lastPrice",
    "volume",
    "quoteVolume",
    "openTime",
    "closeTime",
    "firstId",
    "lastId",
    "count",
];

pub(in crate::venue) fn ticker_24h(
    v: &Venue,
    now: TimeMs,
    name: &str,
    s: &Symbol,
) -> serde_json::Value {
    let from = now.saturating_sub(DAY_MS);
    let last = last_price(v, s);
    let mut open = v
        .timeline
        .mid_at(s, from)
        .or_else(|| v.timeline.history(s).first().map(|p| p.1))
        .unwrap_or(last);
    let (mut high, mut low) = (open.max(last), open.min(last));
    for &(t, mid) in v.timeline.history(s) {
        if t >= from {
            high = high.max(mid);
            low = low.min(mid);
        }
    }
    let all = tape(v, s, now);
    let trades: Vec<Tape> = all.iter().filter(|t| t.t >= from).cloned().collect();
    if v.ex.is_live() {
        // Every number from the trades: open the last price before the window (else the first
        // in it), high and low over the trades only.
        let before = all.iter().rev().find(|t| t.t < from).or(trades.first());
        open = before.map_or(last, |t| t.price);
        (high, low) = (open.max(last), open.min(last));
    }
    let (mut volume, mut quote) = (Decimal::ZERO, Decimal::ZERO);
    for t in &trades {
        volume = volume.saturating_add(t.qty);
        quote = quote.saturating_add(t.price.checked_mul(t.qty).unwrap_or(Decimal::ZERO));
        high = high.max(t.price);
        low = low.min(t.price);
    }
    let change = last - open;
    let pct = if open.is_zero() {
        Decimal::ZERO
    } else {
        (change * Decimal::ONE_HUNDRED / open).round_dp(3)
    };
    let (bid, ask) = best(v, s, now);
    let id = |t: Option<&Tape>| t.map_or(-1, |t| t.id as i64);
    json!({
        "symbol": name,
        "priceChange": dec(change),
        "priceChangePercent": pct.to_string(),
        "weightedAvgPrice": dec(quote.checked_div(volume).unwrap_or(last)),
        "prevClosePrice": dec(open),
        "lastPrice": dec(last),
        "lastQty": dec(trades.last().map_or(Decimal::ZERO, |t| t.qty)),
        "bidPrice": dec(bid.0), "bidQty": dec(bid.1),
        "askPrice": dec(ask.0), "askQty": dec(ask.1),
        "openPrice": dec(open),
        "highPrice": dec(high),
        "lowPrice": dec(low),
        "volume": dec(volume),
        "quoteVolume": dec(quote),
        "openTime": from,
        "closeTime": now,
        "firstId": id(trades.first()),
        "lastId": id(trades.last()),
        "count": trades.len(),
    })
}

/// Candles of the mid-price path (open, high, low, close) with this venue's own trades as
/// volume; none before the market's first price.
pub(in crate::venue) fn klines_body(
    v: &Venue,
    now: TimeMs,
    s: &Symbol,
    iv: u64,
    start: Option<TimeMs>,
    end: Option<TimeMs>,
    limit: usize,
) -> Vec<serde_json::Value> {
    if v.ex.is_live() {
        return live_klines(v, now, s, iv, start, end, limit);
    }
    let history = v.timeline.history(s);
    let Some(&(first_t, _)) = history.first() else {
        return Vec::new();
    };
    let trades = tape(v, s, now);
    kline_opens(now, first_t, iv, start, end, limit)
        .into_iter()
        .filter_map(|open_t| {
            let close_t = open_t + iv - 1;
            let open = v.timeline.mid_at(s, open_t)?;
            let lo = history.partition_point(|p| p.0 < open_t);
            let hi = history.partition_point(|p| p.0 <= close_t);
            let inside = &history[lo..hi];
            let (mut high, mut low) = (open, open);
            for &(_, m) in inside {
                high = high.max(m);
                low = low.min(m);
            }
            let close = inside.last().map_or(open, |p| p.1);
            let a = trades.partition_point(|t| t.t < open_t);
            let b = trades.partition_point(|t| t.t <= close_t);
            Some(kline_row(
                open_t,
                close_t,
                [open, high, low, close],
                &trades[a..b],
            ))
        })
        .collect()
}

/// One candle in Binance's array form: its prices, and the volumes of the trades inside it.
fn kline_row(
    open_t: TimeMs,
    close_t: TimeMs,
    [open, high, low, close]: [Decimal; 4],
    inside: &[Tape],
) -> serde_json::Value {
    let (mut vol, mut qv, mut bv, mut bq) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for t in inside {
        let n = t.price.checked_mul(t.qty).unwrap_or(Decimal::ZERO);
        vol = vol.saturating_add(t.qty);
        qv = qv.saturating_add(n);
        if t.buy {
            bv = bv.saturating_add(t.qty);
            bq = bq.saturating_add(n);
        }
    }
    json!([
        open_t,
        dec(open),
        dec(high),
        dec(low),
        dec(close),
        dec(vol),
        close_t,
        dec(qv),
        inside.len(),
        dec(bv),
        dec(bq),
        "0"
    ])
}

/// The open times of the candles asked for, the first no earlier than `first_t`'s.
fn kline_opens(
    now: TimeMs,
    first_t: TimeMs,
    iv: u64,
    start: Option<TimeMs>,
    end: Option<TimeMs>,
    limit: usize,
) -> Vec<TimeMs> {
    // Weeks start on Monday, as Binance's do (the epoch was a Thursday).
    let offset = if iv == 7 * DAY_MS { 4 * DAY_MS } else { 0 };
    let align = |t: TimeMs| t.saturating_sub(offset) / iv * iv + offset;
    let last_open = align(end.unwrap_or(now).min(now));
    let first_open = align(first_t).max(start.map_or(0, |s| align(s.saturating_add(iv - 1))));
    if first_open > last_open {
        return Vec::new();
    }
    let count = ((last_open - first_open) / iv + 1) as usize;
    let n = count.min(limit) as u64;
    if start.is_some() {
        (0..n).map(|k| first_open + k * iv).collect()
    } else {
        (0..n).map(|k| last_open - (n - 1 - k) * iv).collect()
    }
}

/// Candles of a live market, every number from its public trades: open, high, low and close
/// of the trades in the candle (a candle without trades stays at the last price, volume 0),
/// so a candle's quote volume over its volume always lies between its low and its high.
fn live_klines(
    v: &Venue,
    now: TimeMs,
    s: &Symbol,
    iv: u64,
    start: Option<TimeMs>,
    end: Option<TimeMs>,
    limit: usize,
) -> Vec<serde_json::Value> {
    let trades = tape(v, s, now);
    let Some(first) = trades.first() else {
        return Vec::new();
    };
    kline_opens(now, first.t, iv, start, end, limit)
        .into_iter()
        .map(|open_t| {
            let close_t = open_t + iv - 1;
            let a = trades.partition_point(|t| t.t < open_t);
            let b = trades.partition_point(|t| t.t <= close_t);
            let inside = &trades[a..b];
            let prev = trades[..a].last().map_or(first.price, |t| t.price);
            let open = inside.first().map_or(prev, |t| t.price);
            let close = inside.last().map_or(prev, |t| t.price);
            let (mut high, mut low) = (open, open);
            for t in inside {
                high = high.max(t.price);
                low = low.min(t.price);
            }
            kline_row(open_t, close_t, [open, high, low, close], inside)
        })
        .collect()
}

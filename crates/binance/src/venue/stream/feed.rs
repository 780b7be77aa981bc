//! The market streams, sans-IO: what the venue's market did since the last tick, as Binance's
//! stream events. The server calls [`tick`] with the wall clock (every 100 ms) and the stream
//! names somebody listens to; the REST depth snapshot calls [`sync_book`] first, so its
//! `lastUpdateId` is the last id the diff stream has given (or will give) out.
//!
//! Update ids: every change of one price level of the book (as the public feed shows it) takes
//! the next id of its market, so diffs are contiguous (`U` of one is `u + 1` of the previous)
//! and a snapshot with `lastUpdateId = L` equals the book after every diff up to `L`.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::names::{self, Kind};
use crate::model::{Symbol, TimeMs};
use crate::venue::public;
use crate::venue::shapes::{dec, trade_id_num, Dec};
use crate::venue::Venue;

/// One event of one stream: its name and its JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketEvent {
    pub stream: String,
    pub data: String,
}

/// Levels changed since a diff was last sent: ids `first..=last`, the latest size per price.
#[derive(Debug, Default)]
struct Pending {
    first: Option<u64>,
    last: u64,
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
}

impl Pending {
    fn take(&mut self) -> Option<(u64, u64, Value, Value)> {
        let first = self.first.take()?;
        let side = |m: &mut BTreeMap<Decimal, Decimal>, rev: bool| {
            let mut rows: Vec<[Dec; 2]> = m.iter().map(|(p, q)| [dec(*p), dec(*q)]).collect();
            if rev {
                rows.reverse();
            }
            m.clear();
            json!(rows)
        };
        let bids = side(&mut self.bids, true);
        let asks = side(&mut self.asks, false);
        Some((first, self.last, bids, asks))
    }
}

/// One market's book as last given out.
#[derive(Debug, Default)]
struct Book {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    update_id: u64,
    fast: Pending,
    slow: Pending,
    best: Option<[Decimal; 4]>,
}

/// The streams' memory between ticks.
#[derive(Debug, Default)]
pub struct Feed {
    books: BTreeMap<String, Book>,
    /// The latest time seen: ticks and snapshots never go back.
    clock: TimeMs,
    last_tick: Option<TimeMs>,
    /// Public trades given out (live market: the last id; static: the account's trade count).
    trades_sent: u64,
    /// The open time of the candle each kline stream last showed.
    candles: BTreeMap<String, TimeMs>,
}

fn ladder(levels: &[crate::exchange::sim::BookLevel]) -> BTreeMap<Decimal, Decimal> {
    levels
        .iter()
        .filter(|l| l.qty > Decimal::ZERO)
        .map(|l| (l.price, l.qty))
        .collect()
}

/// Records every change of `old` into `new` under fresh ids.
fn diff(
    old: &mut BTreeMap<Decimal, Decimal>,
    new: BTreeMap<Decimal, Decimal>,
    id: &mut u64,
    mut note: impl FnMut(u64, Decimal, Decimal),
) {
    let prices: BTreeSet<Decimal> = old.keys().chain(new.keys()).copied().collect();
    for p in prices {
        let was = old.get(&p).copied().unwrap_or(Decimal::ZERO);
        let now = new.get(&p).copied().unwrap_or(Decimal::ZERO);
        if was != now {
            *id += 1;
            note(*id, p, now);
        }
    }
    *old = new;
}

impl Venue {
    /// The latest time the streams have seen (never earlier than any `now` given them).
    pub(in crate::venue) fn feed_clock(&self) -> TimeMs {
        self.feed.clock
    }
}

/// Brings the book of `symbol` up to what the feed shows at `now` and returns its last update
/// id: the snapshot's `lastUpdateId`, with the book the caller then reads at `now`.
pub fn sync_book(v: &mut Venue, symbol: &Symbol, now: TimeMs) -> u64 {
    let now = now.max(v.feed.clock);
    v.feed.clock = now;
    let (bids, asks) = v.ex.seen_book(symbol, now);
    let name = crate::venue::trading::binance_name(symbol);
    let book = v.feed.books.entry(name).or_default();
    let mut id = book.update_id;
    let Book {
        bids: old_b,
        asks: old_a,
        fast,
        slow,
        ..
    } = book;
    for (old, new, is_bid) in [(old_b, ladder(&bids), true), (old_a, ladder(&asks), false)] {
        diff(old, new, &mut id, |id, p, q| {
            for pending in [&mut *fast, &mut *slow] {
                pending.first.get_or_insert(id);
                pending.last = id;
                let side = if is_bid {
                    &mut pending.bids
                } else {
                    &mut pending.asks
                };
                side.insert(p, q);
            }
        });
    }
    book.update_id = id;
    id
}

/// The top `n` levels of each side as last synced, best first.
fn top(book: &Book, n: usize) -> (Value, Value) {
    let bids: Vec<[Dec; 2]> = book
        .bids
        .iter()
        .rev()
        .take(n)
        .map(|(p, q)| [dec(*p), dec(*q)])
        .collect();
    let asks: Vec<[Dec; 2]> = book
        .asks
        .iter()
        .take(n)
        .map(|(p, q)| [dec(*p), dec(*q)])
        .collect();
    (json!(bids), json!(asks))
}

fn event(stream: String, data: &Value) -> MarketEvent {
    MarketEvent {
        stream,
        data: data.to_string(),
    }
}

/// Runs the venue to `now` and returns the events of the streams in `wanted` since the last
/// tick, each stream's in order. The books and trade cursors move on whether or not anybody
/// listens, so a later subscriber starts from the present.
pub fn tick(v: &mut Venue, now: TimeMs, wanted: &BTreeSet<String>) -> Vec<MarketEvent> {
    v.catch_up(now);
    let now = now.max(v.feed.clock);
    let prev = v.feed.last_tick.replace(now).unwrap_or(now);
    let due = |period: u64| now / period != prev / period;
    let mut out = Vec::new();
    let markets: Vec<(String, Symbol)> = v
        .symbols
        .iter()
        .map(|(n, s)| (n.clone(), s.clone()))
        .collect();
    let trades = new_trades(v, now);
    for (name, symbol) in &markets {
        let lower = name.to_ascii_lowercase();
        sync_book(v, symbol, now);
        for t in trades.iter().filter(|t| &t.0 == name) {
            let (_, id, t_ms, price, qty, buyer_maker) = t;
            let s = format!("{lower}@trade");
            if wanted.contains(&s) {
                out.push(event(
                    s,
                    &json!({"e": "trade", "E": now, "s": name, "t": id, "p": dec(*price),
                            "q": dec(*qty), "T": t_ms, "m": buyer_maker, "M": true}),
                ));
            }
            let s = format!("{lower}@aggTrade");
            if wanted.contains(&s) {
                out.push(event(
                    s,
                    &json!({"e": "aggTrade", "E": now, "s": name, "a": id, "p": dec(*price),
                            "q": dec(*qty), "f": id, "l": id, "T": t_ms, "m": buyer_maker,
                            "M": true}),
                ));
            }
        }
        let Some(book) = v.feed.books.get_mut(name) else {
            continue;
        };
        let best = [
            book.bids.keys().next_back(),
            book.bids.values().next_back(),
            book.asks.keys().next(),
            book.asks.values().next(),
        ]
        .map(|x| x.copied().unwrap_or(Decimal::ZERO));
        if book.best != Some(best) {
            book.best = Some(best);
            let s = format!("{lower}@bookTicker");
            if wanted.contains(&s) {
                out.push(event(
                    s,
                    &json!({"u": book.update_id, "s": name, "b": dec(best[0]), "B": dec(best[1]),
                            "a": dec(best[2]), "A": dec(best[3])}),
                ));
            }
        }
        let diff_event = |s: String, p: &mut Pending, out: &mut Vec<MarketEvent>| {
            let Some((first, last, b, a)) = p.take() else {
                return;
            };
            if wanted.contains(&s) {
                out.push(event(
                    s,
                    &json!({"e": "depthUpdate", "E": now, "s": name, "U": first, "u": last,
                            "b": b, "a": a}),
                ));
            }
        };
        diff_event(format!("{lower}@depth@100ms"), &mut book.fast, &mut out);
        if due(1_000) {
            diff_event(format!("{lower}@depth"), &mut book.slow, &mut out);
        }
    }
    for s in wanted {
        let Some(parsed) = names::parse(s, |n| v.symbols.contains_key(n)) else {
            continue;
        };
        let Some(symbol) = v.symbols.get(&parsed.symbol).cloned() else {
            continue;
        };
        let name = parsed.symbol.as_str();
        match parsed.kind {
            Kind::Partial { levels, ms } if due(ms) => {
                if let Some(book) = v.feed.books.get(name) {
                    let (bids, asks) = top(book, levels);
                    out.push(event(
                        s.clone(),
                        &json!({"lastUpdateId": book.update_id, "bids": bids, "asks": asks}),
                    ));
                }
            }
            Kind::Kline { ms } if due(names::kline_period_ms(ms)) => {
                let iv = parsed.interval.unwrap_or("1m");
                let open_now = now / ms * ms;
                let shown = v.feed.candles.insert(s.clone(), open_now);
                if let Some(prev_open) = shown.filter(|&o| o < open_now) {
                    if let Some(k) = kline(v, now, &symbol, name, iv, ms, prev_open, true) {
                        out.push(event(s.clone(), &k));
                    }
                }
                if let Some(k) = kline(v, now, &symbol, name, iv, ms, open_now, false) {
                    out.push(event(s.clone(), &k));
                }
            }
            Kind::Ticker | Kind::MiniTicker if due(1_000) => {
                let t = public::ticker_24h(v, now, name, &symbol);
                let f = |k: &str| t.get(k).cloned().unwrap_or(Value::Null);
                let data = if parsed.kind == Kind::Ticker {
                    json!({"e": "24hrTicker", "E": now, "s": name, "p": f("priceChange"),
                           "P": f("priceChangePercent"), "w": f("weightedAvgPrice"),
                           "x": f("prevClosePrice"), "c": f("lastPrice"), "Q": f("lastQty"),
                           "b": f("bidPrice"), "B": f("bidQty"), "a": f("askPrice"),
                           "A": f("askQty"), "o": f("openPrice"), "h": f("highPrice"),
                           "l": f("lowPrice"), "v": f("volume"), "q": f("quoteVolume"),
                           "O": f("openTime"), "C": f("closeTime"), "F": f("firstId"),
                           "L": f("lastId"), "n": f("count")})
                } else {
                    json!({"e": "24hrMiniTicker", "E": now, "s": name, "c": f("lastPrice"),
                           "o": f("openPrice"), "h": f("highPrice"), "l": f("lowPrice"),
                           "v": f("volume"), "q": f("quoteVolume")})
                };
                out.push(event(s.clone(), &data));
            }
            _ => {}
        }
    }
    out
}

/// The trades printed since the last tick, as the public sees them at `now`: (market, id,
/// time, price, qty, buyer is maker).
type Print = (String, u64, TimeMs, Decimal, Decimal, bool);

fn new_trades(v: &mut Venue, now: TimeMs) -> Vec<Print> {
    let name = crate::venue::trading::binance_name;
    let mut out = Vec::new();
    if v.ex.is_live() {
        let seen = now.saturating_sub(v.ex.feed_latency_ms());
        let from = v.feed.trades_sent;
        let mut fresh: Vec<Print> =
            v.ex.public_trades()
                .rev()
                .take_while(|t| t.id > from)
                .filter(|t| t.t_ms <= seen)
                .map(|t| (name(&t.symbol), t.id, t.t_ms, t.price, t.qty, t.buyer_maker))
                .collect();
        fresh.reverse();
        // Prints are in time order: the newest seen one is the cursor.
        if let Some(last) = fresh.last() {
            v.feed.trades_sent = last.1;
        }
        out = fresh;
    } else {
        let from = v.feed.trades_sent as usize;
        for t in v.ex.trades_from(from) {
            let maker = v.is_maker(t);
            let buy = t.side == crate::model::Side::Buy;
            let buyer_maker = if maker { buy } else { !buy };
            out.push((
                name(&t.symbol),
                trade_id_num(t),
                t.t_ms,
                t.price,
                t.qty,
                buyer_maker,
            ));
        }
        v.feed.trades_sent = v.ex.trade_count() as u64;
    }
    out
}

/// The `kline` event of the candle opening at `open`.
#[allow(clippy::too_many_arguments)]
fn kline(
    v: &Venue,
    now: TimeMs,
    symbol: &Symbol,
    name: &str,
    iv: &str,
    ms: u64,
    open: TimeMs,
    closed: bool,
) -> Option<Value> {
    let rows = public::klines_body(v, now, symbol, ms, Some(open), Some(open), 1);
    let row = rows.first()?.as_array()?.clone();
    let at = |i: usize| row.get(i).cloned().unwrap_or(Value::Null);
    let tape = public::tape(v, symbol, now);
    let close = open + ms - 1;
    let inside: Vec<u64> = tape
        .iter()
        .filter(|t| t.t >= open && t.t <= close)
        .map(|t| t.id)
        .collect();
    let first = inside.first().map_or(-1, |&i| i as i64);
    let last = inside.last().map_or(-1, |&i| i as i64);
    Some(json!({"e": "kline", "E": now, "s": name, "k": {
        "t": at(0), "T": at(6), "s": name, "i": iv, "f": first, "L": last,
        "o": at(1), "c": at(4), "h": at(2), "l": at(3), "v": at(5), "n": at(8),
        "x": closed, "q": at(7), "V": at(9), "Q": at(10), "B": "0"}}))
}

//! Binance's market stream names: `<symbol>@trade`, `@aggTrade`, `@bookTicker`, `@depth`,
//! `@depth@100ms`, `@depth5/10/20` (optionally `@100ms`), `@kline_<interval>`, `@ticker`,
//! `@miniTicker`. Symbols are lowercase in names, as Binance requires.

/// What a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Trade,
    AggTrade,
    BookTicker,
    /// Diff depth, every `ms` (100 or 1,000).
    Depth {
        ms: u64,
    },
    /// The top `levels` (5, 10 or 20) of the book, every `ms`.
    Partial {
        levels: usize,
        ms: u64,
    },
    /// The current candle of an interval of `ms`.
    Kline {
        ms: u64,
    },
    Ticker,
    MiniTicker,
}

/// A stream name taken apart: the symbol as Binance names it (`BTCUSDT`) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub symbol: String,
    pub kind: Kind,
    /// The kline interval as written (`1m`), for the event's `i`.
    pub interval: Option<&'static str>,
}

/// Kline intervals served by the streams (as the REST klines, without `1M`).
pub const INTERVALS: [(&str, u64); 15] = [
    ("1s", 1_000),
    ("1m", 60_000),
    ("3m", 180_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("2h", 7_200_000),
    ("4h", 14_400_000),
    ("6h", 21_600_000),
    ("8h", 28_800_000),
    ("12h", 43_200_000),
    ("1d", 86_400_000),
    ("3d", 259_200_000),
    ("1w", 604_800_000),
];

/// Parses `name`; `None` unless it is a stream this venue serves for a known symbol.
/// `known` tells whether an uppercase symbol is one of the venue's markets.
pub fn parse(name: &str, known: impl Fn(&str) -> bool) -> Option<Stream> {
    let (sym, rest) = name.split_once('@')?;
    if sym.is_empty()
        || sym
            .bytes()
            .any(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit()))
    {
        return None;
    }
    let symbol = sym.to_ascii_uppercase();
    if !known(&symbol) {
        return None;
    }
    let mut interval = None;
    let kind = match rest {
        "trade" => Kind::Trade,
        "aggTrade" => Kind::AggTrade,
        "bookTicker" => Kind::BookTicker,
        "ticker" => Kind::Ticker,
        "miniTicker" => Kind::MiniTicker,
        "depth" | "depth@1000ms" => Kind::Depth { ms: 1_000 },
        "depth@100ms" => Kind::Depth { ms: 100 },
        _ => {
            if let Some(iv) = rest.strip_prefix("kline_") {
                let &(name, ms) = INTERVALS.iter().find(|(n, _)| *n == iv)?;
                interval = Some(name);
                Kind::Kline { ms }
            } else {
                let depth = rest.strip_prefix("depth")?;
                let (levels, speed) = match depth.split_once('@') {
                    Some((l, s)) => (l, Some(s)),
                    None => (depth, None),
                };
                let levels = match levels {
                    "5" => 5,
                    "10" => 10,
                    "20" => 20,
                    _ => return None,
                };
                let ms = match speed {
                    None | Some("1000ms") => 1_000,
                    Some("100ms") => 100,
                    Some(_) => return None,
                };
                Kind::Partial { levels, ms }
            }
        }
    };
    Some(Stream {
        symbol,
        kind,
        interval,
    })
}

/// How often a kline stream pushes: every second for `1s`, every two for the others.
pub fn kline_period_ms(interval_ms: u64) -> u64 {
    if interval_ms == 1_000 {
        1_000
    } else {
        2_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(s: &str) -> bool {
        s == "BTCUSDT"
    }

    // rule: venue_streams
    #[test]
    fn names_parse_as_binance_writes_them() {
        let p = |n| parse(n, known).map(|s| s.kind);
        assert_eq!(p("btcusdt@trade"), Some(Kind::Trade));
        assert_eq!(p("btcusdt@depth"), Some(Kind::Depth { ms: 1_000 }));
        assert_eq!(p("btcusdt@depth@100ms"), Some(Kind::Depth { ms: 100 }));
        assert_eq!(
            p("btcusdt@depth20@100ms"),
            Some(Kind::Partial {
                levels: 20,
                ms: 100
            })
        );
        assert_eq!(p("btcusdt@kline_1m"), Some(Kind::Kline { ms: 60_000 }));
        // Uppercase symbols, unknown markets, levels and intervals are not streams.
        assert_eq!(p("BTCUSDT@trade"), None);
        assert_eq!(p("ethusdt@trade"), None);
        assert_eq!(p("btcusdt@depth7"), None);
        assert_eq!(p("btcusdt@kline_1M"), None);
        assert_eq!(p("btcusdt@depth@250ms"), None);
        assert_eq!(p("btcusdt"), None);
    }
}

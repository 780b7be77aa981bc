//! The living market's parameters, derived from 46 seconds of recorded Binance spot BTC/USDT
//! trades and best quotes (2021-01-08, `shared/data/market`; docs/market.md).
//!
//! The data is not in the repository: the constants below are what [`calibrate`] computes from
//! it, and a test recomputes them from the files when they are beside the repository, so the
//! derivation is reproducible. Sizes are notionals and price distances fractions of the price,
//! so one calibration serves a market of any price and grid.
//!
//! Every distribution is kept as [`QUANTILES`] empirical quantiles at the midpoints
//! `(2k + 1) / 2N`: a draw picks one of them uniformly, which reproduces the body of the
//! recorded distribution and cuts its extreme tail.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Quantiles kept per distribution.
pub const QUANTILES: usize = 16;

/// Milliseconds between consecutive trades (many trades share a millisecond).
pub const TRADE_GAP_MS: [u64; QUANTILES] = [0, 0, 0, 0, 0, 1, 4, 6, 8, 11, 14, 19, 27, 40, 64, 121];

/// A trade's notional in hundredths of the quote asset (cents of USDT).
pub const TRADE_NOTIONAL_CENTS: [u64; QUANTILES] = [
    1000, 1472, 2277, 3553, 5131, 8696, 12_241, 17_969, 24_978, 35_851, 54_392, 89_876, 147_147,
    221_954, 380_202, 988_735,
];

/// Of 10,000 trades, how many were taker buys (`is_buyer_maker` false).
pub const BUY_BPS: u32 = 5432;

/// The displayed size of the best bid or ask, as a notional in cents.
pub const TOP_NOTIONAL_CENTS: [u64; QUANTILES] = [
    1148, 12_241, 25_161, 54_392, 162_002, 277_322, 370_037, 570_371, 813_851, 1_337_921,
    1_582_859, 2_033_674, 4_339_177, 7_460_798, 8_559_926, 13_380_621,
];

/// The spread (ask minus bid) as a fraction of the price, times 10^8.
pub const SPREAD_E8: [u64; QUANTILES] = [
    25, 25, 25, 25, 25, 25, 25, 25, 227, 2326, 4756, 7014, 9723, 13_550, 19_277, 34_989,
];

/// The distance between consecutive price levels of the book: the non-zero moves between
/// consecutive trade prices, as a fraction of the price times 10^8.
pub const LEVEL_GAP_E8: [u64; QUANTILES] = [
    25, 25, 25, 25, 50, 177, 404, 658, 1214, 1823, 3241, 4838, 6410, 8762, 15_040, 28_681,
];

/// A move of the quotes' mid, when it moves, as a fraction of the price times 10^8.
pub const MOVE_E8: [u64; QUANTILES] = [
    12, 75, 671, 1113, 1658, 1921, 2495, 2895, 3616, 4541, 5697, 6723, 7556, 10_130, 13_010, 20_606,
];

/// Moves of the quotes' mid per 10,000 trades: the rate of price moves that are not trades.
pub const MOVES_PER_10K_TRADES: u32 = 1539;

/// Every parameter, as [`calibrate`] returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub trade_gap_ms: [u64; QUANTILES],
    pub trade_notional_cents: [u64; QUANTILES],
    pub buy_bps: u32,
    pub top_notional_cents: [u64; QUANTILES],
    pub spread_e8: [u64; QUANTILES],
    pub level_gap_e8: [u64; QUANTILES],
    pub move_e8: [u64; QUANTILES],
    pub moves_per_10k_trades: u32,
}

/// The parameters built in.
pub const BUILT_IN: Params = Params {
    trade_gap_ms: TRADE_GAP_MS,
    trade_notional_cents: TRADE_NOTIONAL_CENTS,
    buy_bps: BUY_BPS,
    top_notional_cents: TOP_NOTIONAL_CENTS,
    spread_e8: SPREAD_E8,
    level_gap_e8: LEVEL_GAP_E8,
    move_e8: MOVE_E8,
    moves_per_10k_trades: MOVES_PER_10K_TRADES,
};

/// Why a recording cannot be calibrated from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct CalibrationError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// The [`QUANTILES`] midpoint quantiles of `v` (sorted here); zeros for an empty `v`.
pub fn quantiles(mut v: Vec<u64>) -> [u64; QUANTILES] {
    v.sort_unstable();
    let mut q = [0; QUANTILES];
    let n = v.len();
    if n == 0 {
        return q;
    }
    for (k, slot) in q.iter_mut().enumerate() {
        *slot = v[((2 * k + 1) * n / (2 * QUANTILES)).min(n - 1)];
    }
    q
}

/// `x` as a fraction of `of`, times 10^8, rounded down.
fn e8(x: Decimal, of: Decimal) -> Option<u64> {
    x.checked_mul(Decimal::from(100_000_000))?
        .checked_div(of)?
        .floor()
        .to_u64()
}

/// The named columns of a CSV text with a header, one row at a time.
fn rows<'a>(
    file: &'a str,
    text: &'a str,
    names: &[&str],
) -> Result<Vec<(usize, Vec<&'a str>)>, CalibrationError> {
    let bad = |line, message: String| CalibrationError {
        file: file.to_string(),
        line,
        message,
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h.trim() == *n)
                .ok_or_else(|| bad(1, format!("no column {n}")))
        })
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        let picked = idx
            .iter()
            .map(|&k| cells.get(k).map(|c| c.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(i + 2, "too few columns".into()))?;
        out.push((i + 2, picked));
    }
    Ok(out)
}

/// Derives every parameter from a recording of trades (`time_ms`, `price`, `qty`,
/// `is_buyer_maker`) and one of best quotes (`time_ms`, `bid_price`, `bid_qty`, `ask_price`,
/// `ask_qty`), both CSV with a header, as `shared/data/market` holds them.
pub fn calibrate(
    trades_file: &str,
    trades: &str,
    quotes_file: &str,
    quotes: &str,
) -> Result<Params, CalibrationError> {
    let num = |file: &str, line: usize, s: &str| {
        s.parse::<Decimal>().map_err(|_| CalibrationError {
            file: file.to_string(),
            line,
            message: format!("{s:?} is not a number"),
        })
    };
    let (mut times, mut notionals, mut prices, mut buys) =
        (Vec::new(), Vec::new(), Vec::new(), 0u64);
    for (line, r) in rows(
        trades_file,
        trades,
        &["time_ms", "price", "qty", "is_buyer_maker"],
    )? {
        let t = num(trades_file, line, r[0])?;
        let (price, qty) = (num(trades_file, line, r[1])?, num(trades_file, line, r[2])?);
        times.push(t);
        let cents = price
            .checked_mul(qty)
            .and_then(|n| n.checked_mul(Decimal::ONE_HUNDRED))
            .unwrap_or(Decimal::ZERO);
        notionals.push(cents.floor().to_u64().unwrap_or(0));
        prices.push(price);
        buys += u64::from(r[3] == "false");
    }
    let n = times.len() as u64;
    if n < 2 {
        return Err(CalibrationError {
            file: trades_file.to_string(),
            line: 0,
            message: "fewer than two trades".into(),
        });
    }
    let gaps = times
        .windows(2)
        .map(|w| (w[1] - w[0]).to_u64().unwrap_or(0))
        .collect();
    let level_gaps = prices
        .windows(2)
        .filter(|w| w[0] != w[1])
        .filter_map(|w| e8((w[1] - w[0]).abs(), w[0]))
        .collect();
    let (mut tops, mut spreads, mut moves) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_mid: Option<Decimal> = None;
    for (line, r) in rows(
        quotes_file,
        quotes,
        &["bid_price", "bid_qty", "ask_price", "ask_qty"],
    )? {
        let v = r
            .iter()
            .map(|s| num(quotes_file, line, s))
            .collect::<Result<Vec<_>, _>>()?;
        let (bid, bid_qty, ask, ask_qty) = (v[0], v[1], v[2], v[3]);
        for (p, q) in [(bid, bid_qty), (ask, ask_qty)] {
            let cents = p
                .checked_mul(q)
                .and_then(|n| n.checked_mul(Decimal::ONE_HUNDRED));
            tops.push(cents.and_then(|c| c.floor().to_u64()).unwrap_or(0));
        }
        let mid = (bid + ask) / Decimal::TWO;
        spreads.extend(e8(ask - bid, mid));
        if let Some(m) = last_mid.filter(|m| *m != mid) {
            moves.extend(e8((mid - m).abs(), m));
        }
        last_mid = Some(mid);
    }
    let moves_n = moves.len() as u64;
    Ok(Params {
        trade_gap_ms: quantiles(gaps),
        trade_notional_cents: quantiles(notionals),
        buy_bps: u32::try_from(buys * 10_000 / n).unwrap_or(10_000),
        top_notional_cents: quantiles(tops),
        spread_e8: quantiles(spreads),
        level_gap_e8: quantiles(level_gaps),
        move_e8: quantiles(moves),
        moves_per_10k_trades: u32::try_from(moves_n * 10_000 / n).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "../../../shared/data/market";

    #[test]
    fn the_built_in_parameters_are_what_the_recording_gives() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR);
        let trades = dir.join("binance_spot_btcusdt_trades_20210108.csv");
        let quotes = dir.join("binance_spot_btcusdt_quotes_20210108.csv");
        let (Ok(t), Ok(q)) = (
            std::fs::read_to_string(&trades),
            std::fs::read_to_string(&quotes),
        ) else {
            eprintln!(
                "skipped: the recording is not at {} (the shared data sits beside the repository)",
                dir.display()
            );
            return;
        };
        let p = calibrate("trades", &t, "quotes", &q).unwrap();
        assert_eq!(p, BUILT_IN, "recalibrated: {p:#?}");
    }

    #[test]
    fn calibration_reads_a_small_recording() {
        let trades = "trade_id,time_ms,price,qty,is_buyer_maker\n\
            1,1000,100.00,1,true\n2,1010,100.01,2,false\n3,1030,100.01,1,false\n";
        let quotes = "time_ms,bid_price,bid_qty,ask_price,ask_qty\n\
            1000,99.99,1,100.01,2\n1010,100.00,1,100.02,1\n";
        let p = calibrate("t", trades, "q", quotes).unwrap();
        assert_eq!(p.buy_bps, 6_666);
        assert_eq!(p.trade_gap_ms[0], 10);
        assert_eq!(p.trade_gap_ms[QUANTILES - 1], 20);
        assert_eq!(p.trade_notional_cents[0], 10_000);
        // 0.02 on 100.00 and on 100.01; one move of 0.01 on 100.00: 10,000 e8.
        assert_eq!(p.spread_e8[..8], [19_998; 8]);
        assert_eq!(p.spread_e8[8..], [20_000; 8]);
        assert_eq!(p.move_e8, [10_000; QUANTILES]);
        assert_eq!(p.moves_per_10k_trades, 3_333);
        let e = calibrate("t", "time_ms,price\n", "q", quotes).unwrap_err();
        assert_eq!(e.to_string(), "t:1: no column qty");
    }
}

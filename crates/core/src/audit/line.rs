//! Typed audit lines and their JSONL rendering.

use rust_decimal::Decimal;

use crate::model::{Asset, ClientOrderId, IntentId, OrderId, Side, Symbol, Tif, TimeMs};
use crate::router::State;

/// One line of the audit log. `state` is the intent's state after the line; event lines
/// (see [`Detail::event`]) leave it unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    pub seq: u64,
    pub t_ms: TimeMs,
    pub intent_id: IntentId,
    pub state: State,
    pub detail: Detail,
}

/// What a line records beyond `seq`, `t_ms`, `intent_id` and `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// `NEW`: the intent was accepted for execution.
    New {
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        ref_price: Decimal,
    },
    /// `FAILED`: refused before any order; `reason` is `reserve_failed`, `detail` says why.
    Failed {
        reason: &'static str,
        detail: &'static str,
    },
    /// `RESERVED`: `reserved_qty` at `reserved_price` (the slippage cap), holding `amount` of
    /// `asset` (price and fee for a buy, the base for a sell).
    Reserved {
        reserved_qty: Decimal,
        reserved_price: Decimal,
        asset: Asset,
        amount: Decimal,
    },
    /// `SENT`: one attempt placed under its own client order id.
    Sent {
        client_order_id: ClientOrderId,
        attempt: u32,
        qty: Decimal,
        limit_price: Decimal,
        tif: Tif,
    },
    /// `FILLED`, `PARTIAL` or `CANCELED`: the venue's report of the attempt's order
    /// (`filled_qty` is that order's cumulative fill).
    Order {
        client_order_id: ClientOrderId,
        order_id: OrderId,
        filled_qty: Decimal,
        avg_price: Option<Decimal>,
    },
    /// `ERROR`: the venue refused the placement; nothing was executed. `rejection` is the
    /// venue's own error code and message, where it gave them.
    Error {
        client_order_id: ClientOrderId,
        error: &'static str,
        rejection: Option<Box<(i32, String)>>,
    },
    /// `UNKNOWN`: the placement's outcome is not known; `cause` is the error kind.
    Unknown {
        client_order_id: ClientOrderId,
        cause: &'static str,
    },
    /// `RETRY`: the next attempt goes out after `backoff_ms`.
    Retry {
        attempt: u32,
        remaining_qty: Decimal,
        backoff_ms: u64,
    },
    /// `FAILED_FINAL`: nothing filled; the whole reservation was released.
    FailedFinal { attempts: u32, released: Decimal },
    /// `PARTIAL_SUCCESS`: `filled_qty` of the intent filled; the unfilled part's reservation
    /// (`released`) was returned.
    PartialSuccess {
        filled_qty: Decimal,
        released: Decimal,
    },
    /// `RECONCILED`: the trades were fetched and booked; the rest of the reservation released.
    /// `booked` is how each asset's total moved: what a restart replays.
    Reconciled {
        fills_count: u32,
        filled_qty: Decimal,
        avg_price: Decimal,
        /// The fees charged in `fee_asset`.
        fee: Decimal,
        /// The asset the first trade's fee was charged in (base for a buy and quote for a sell
        /// on Binance, or BNB). A later trade charged in another asset (the account's BNB ran
        /// out) is in `fee` only through `booked`. `None`: a log written before fees had an
        /// asset of their own, whose fees were all in the quote asset.
        fee_asset: Option<Asset>,
        released: Decimal,
        booked: Box<[(Asset, Decimal)]>,
    },
    /// Event: a repeated delivery of a known intent was ignored.
    DuplicateIgnored,
    /// Event: the market is beyond the slippage cap; the order goes out at the cap anyway.
    SlippageGuardApplied {
        market_price: Decimal,
        limit_price: Decimal,
    },
    /// Event: a query could not settle an unknown order yet; it is asked again at `next_ms`.
    QueryPending {
        client_order_id: ClientOrderId,
        cause: &'static str,
        next_ms: TimeMs,
    },
    /// Event: a resting order outlived its timeout and a cancel was sent.
    CancelRequested { client_order_id: ClientOrderId },
    /// Event: fetching trades failed or came back short; asked again at `next_ms`.
    TradesPending {
        cause: &'static str,
        next_ms: TimeMs,
    },
    /// Event: the router restarted and rebuilt this intent from its journal; it goes on from
    /// the state the line names.
    Recovered,
    /// Event: the next placement waits until `next_ms`: the venue's rate-limit hold
    /// (`rate_limit`) or the pacing under its order limits (`order_limit`). Not an attempt.
    Held {
        cause: &'static str,
        next_ms: TimeMs,
    },
}

impl Detail {
    /// The `event` name of lines that record something without a transition.
    pub fn event(&self) -> Option<&'static str> {
        match self {
            Detail::DuplicateIgnored => Some("duplicate_ignored"),
            Detail::SlippageGuardApplied { .. } => Some("slippage_guard_applied"),
            Detail::QueryPending { .. } => Some("query_pending"),
            Detail::CancelRequested { .. } => Some("cancel_requested"),
            Detail::TradesPending { .. } => Some("trades_pending"),
            Detail::Recovered => Some("recovered"),
            Detail::Held { .. } => Some("held"),
            _ => None,
        }
    }
}

/// `,"key":` as one literal, so a field costs one fixed-size copy before its value.
macro_rules! k {
    ($key:literal) => {
        concat!(",\"", $key, "\":").as_bytes()
    };
}

/// `,"key":"`: the same, opening a string value.
macro_rules! ks {
    ($key:literal) => {
        concat!(",\"", $key, "\":\"").as_bytes()
    };
}

/// Appends one JSON line (with its `\n`) to `out`. Decimals are written as JSON numbers with
/// their exact digits (normalised: `50100`, not `50100.00`).
pub fn write_line(out: &mut Vec<u8>, line: &AuditLine) {
    // One reservation per line, so the appends below never reallocate mid-line.
    out.reserve(400);
    let start = out.len();
    let mut w = Obj(out);
    w.num_u64(b"{\"seq\":", line.seq);
    w.num_u64(k!("t_ms"), line.t_ms);
    w.id(ks!("intent_id"), line.intent_id.as_str());
    w.id(ks!("state"), line.state.as_str());
    if let Some(e) = line.detail.event() {
        w.id(ks!("event"), e);
    }
    match &line.detail {
        Detail::New {
            symbol,
            side,
            qty,
            ref_price,
        } => {
            w.id(ks!("symbol"), symbol.as_str());
            w.id(ks!("side"), side.as_str());
            w.dec(k!("qty"), *qty);
            w.dec(k!("ref_price"), *ref_price);
        }
        Detail::Failed { reason, detail } => {
            w.str(ks!("reason"), reason);
            w.str(ks!("detail"), detail);
        }
        Detail::Reserved {
            reserved_qty,
            reserved_price,
            asset,
            amount,
        } => {
            w.dec(k!("reserved_qty"), *reserved_qty);
            w.dec(k!("reserved_price"), *reserved_price);
            w.id(ks!("asset"), asset.as_str());
            w.dec(k!("amount"), *amount);
        }
        Detail::Sent {
            client_order_id,
            attempt,
            qty,
            limit_price,
            tif,
        } => {
            w.id(ks!("client_order_id"), client_order_id.as_str());
            w.num_u64(k!("attempt"), u64::from(*attempt));
            w.dec(k!("qty"), *qty);
            w.dec(k!("limit_price"), *limit_price);
            w.id(ks!("tif"), tif.as_str());
        }
        Detail::Order {
            client_order_id,
            order_id,
            filled_qty,
            avg_price,
        } => {
            w.id(ks!("client_order_id"), client_order_id.as_str());
            w.num_id(ks!("order_id"), order_id.get());
            w.dec(k!("filled_qty"), *filled_qty);
            if let Some(p) = avg_price {
                w.dec(k!("avg_price"), *p);
            }
        }
        Detail::Error {
            client_order_id,
            error,
            rejection,
        } => {
            w.id(ks!("client_order_id"), client_order_id.as_str());
            w.str(ks!("error"), error);
            if let Some(r) = rejection {
                w.num_i64(k!("code"), i64::from(r.0));
                w.str(ks!("msg"), &r.1);
            }
        }
        Detail::Unknown {
            client_order_id,
            cause,
        } => {
            w.id(ks!("client_order_id"), client_order_id.as_str());
            w.str(ks!("cause"), cause);
        }
        Detail::Retry {
            attempt,
            remaining_qty,
            backoff_ms,
        } => {
            w.num_u64(k!("attempt"), u64::from(*attempt));
            w.dec(k!("remaining_qty"), *remaining_qty);
            w.num_u64(k!("backoff_ms"), *backoff_ms);
        }
        Detail::FailedFinal { attempts, released } => {
            w.num_u64(k!("attempts"), u64::from(*attempts));
            w.dec(k!("released"), *released);
        }
        Detail::PartialSuccess {
            filled_qty,
            released,
        } => {
            w.dec(k!("filled_qty"), *filled_qty);
            w.dec(k!("released"), *released);
        }
        Detail::Reconciled {
            fills_count,
            filled_qty,
            avg_price,
            fee,
            fee_asset,
            released,
            booked,
        } => {
            w.num_u64(k!("fills_count"), u64::from(*fills_count));
            w.dec(k!("filled_qty"), *filled_qty);
            w.dec(k!("avg_price"), *avg_price);
            w.dec(k!("fee"), *fee);
            if let Some(a) = fee_asset {
                w.id(ks!("fee_asset"), a.as_str());
            }
            w.dec(k!("released"), *released);
            w.0.extend_from_slice(b",\"booked\":{");
            for (i, (asset, delta)) in booked.iter().enumerate() {
                if i > 0 {
                    w.0.push(b',');
                }
                w.0.push(b'"');
                w.0.extend_from_slice(asset.as_str().as_bytes());
                w.0.extend_from_slice(b"\":");
                push_decimal(w.0, *delta);
            }
            w.0.push(b'}');
        }
        Detail::DuplicateIgnored | Detail::Recovered => {}
        Detail::SlippageGuardApplied {
            market_price,
            limit_price,
        } => {
            w.dec(k!("market_price"), *market_price);
            w.dec(k!("limit_price"), *limit_price);
        }
        Detail::QueryPending {
            client_order_id,
            cause,
            next_ms,
        } => {
            w.id(ks!("client_order_id"), client_order_id.as_str());
            w.str(ks!("cause"), cause);
            w.num_u64(k!("next_ms"), *next_ms);
        }
        Detail::CancelRequested { client_order_id } => {
            w.id(ks!("client_order_id"), client_order_id.as_str());
        }
        Detail::TradesPending { cause, next_ms } => {
            w.str(ks!("cause"), cause);
            w.num_u64(k!("next_ms"), *next_ms);
        }
        Detail::Held { cause, next_ms } => {
            w.str(ks!("cause"), cause);
            w.num_u64(k!("next_ms"), *next_ms);
        }
    }
    seal(w.0, start);
}

/// The key of the checksum field, which ends every line the writer makes.
pub const CRC_KEY: &[u8] = b",\"crc\":\"";

/// Ends the line begun at `start`: its CRC-32C, over every byte of it so far, as the last field
/// (eight lower-case hex digits), then `}` and the newline. A torn or garbled line no longer
/// matches its checksum.
fn seal(out: &mut Vec<u8>, start: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let crc = crc32c::crc32c(&out[start..]);
    // The whole tail in one buffer and one append.
    let mut tail = [0u8; CRC_KEY.len() + 11];
    tail[..CRC_KEY.len()].copy_from_slice(CRC_KEY);
    for (i, shift) in (0..8).rev().enumerate() {
        tail[CRC_KEY.len() + i] = HEX[((crc >> (shift * 4)) & 0xf) as usize];
    }
    tail[CRC_KEY.len() + 8..].copy_from_slice(b"\"}\n");
    out.extend_from_slice(&tail);
}

/// Whether a line (without its newline) carries a valid checksum: `Some(true)` or
/// `Some(false)`, or `None` for a line written without one.
pub fn checksum_ok(line: &[u8]) -> Option<bool> {
    // As the writer ends a line: the key, eight lower-case hex digits, `"}`. Hex digits hold
    // no comma, so no later key can follow; anything else is searched for as before.
    let end = CRC_KEY.len() + 10;
    if let Some(at) = line.len().checked_sub(end) {
        let (key, tail) = line[at..].split_at(CRC_KEY.len());
        if key == CRC_KEY && tail.ends_with(b"\"}") {
            if let Some(parsed) = crc_hex(&tail[..8]) {
                return Some(parsed == crc32c::crc32c(&line[..at]));
            }
        }
    }
    checksum_searched(line)
}

/// [`checksum_ok`] for any line: the last checksum key wherever it is.
fn checksum_searched(line: &[u8]) -> Option<bool> {
    let at = line.windows(CRC_KEY.len()).rposition(|w| w == CRC_KEY)?;
    let tail = &line[at + CRC_KEY.len()..];
    let hex = tail.strip_suffix(b"\"}")?;
    Some(crc_hex(hex) == Some(crc32c::crc32c(&line[..at])))
}

/// A checksum's value: exactly eight lower-case hex digits, as the writer writes them.
fn crc_hex(hex: &[u8]) -> Option<u32> {
    if hex.len() != 8 {
        return None;
    }
    hex.iter().try_fold(0u32, |n, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(n << 4 | u32::from(digit))
    })
}

/// Two digits at a time.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the digits of `v` to the end of `buf`; returns where they start. Hand-written for a
/// measured reason: a decimal's mantissa digits go straight into the buffer its point and sign
/// are placed in, where `itoa` would format into its own buffer first (3.8% more instructions
/// on the hot path, `examples/hot_path` under callgrind).
pub(crate) fn digits_u64(buf: &mut [u8], mut v: u64) -> usize {
    let mut i = buf.len();
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    i
}

/// Digits of `v`, without the formatting machinery (this is the audit hot path).
#[inline]
fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// The exact digits of a decimal, trailing zeros dropped (`50100.00` -> `50100`), built in one
/// stack buffer and appended at once.
pub(crate) fn push_decimal(out: &mut Vec<u8>, v: Decimal) {
    let Ok(mut m) = u64::try_from(v.mantissa().unsigned_abs()) else {
        return push_decimal_wide(out, v);
    };
    if m == 0 {
        out.push(b'0');
        return;
    }
    let mut scale = v.scale() as usize;
    while scale > 0 && m % 10 == 0 {
        m /= 10;
        scale -= 1;
    }
    let mut buf = [0u8; 48];
    let mut start = if scale == 0 {
        digits_u64(&mut buf, m)
    } else {
        // Beyond 19 places a u64 mantissa has no integer part.
        let (int, frac) = match crate::grid::POW10.get(scale) {
            Some(&p) => (m / p, m % p),
            None => (0, m),
        };
        let frac_start = digits_u64(&mut buf, frac);
        let point = buf.len() - scale - 1;
        buf[point + 1..frac_start].fill(b'0');
        buf[point] = b'.';
        digits_u64(&mut buf[..point], int)
    };
    if v.is_sign_negative() {
        start -= 1;
        buf[start] = b'-';
    }
    out.extend_from_slice(&buf[start..]);
}

/// [`push_decimal`] for mantissas beyond 64 bits (at most 29 digits).
fn push_decimal_wide(out: &mut Vec<u8>, v: Decimal) {
    let mut scale = v.scale() as usize;
    let abs = v.mantissa().unsigned_abs();
    let mut buf = [0u8; 40];
    // One u128 division splits the digits into two u64 halves.
    const E19: u128 = 10_000_000_000_000_000_000;
    const SPLIT: usize = 40 - 19;
    let (hi, lo) = ((abs / E19) as u64, (abs % E19) as u64);
    let low_start = digits_u64(&mut buf, lo);
    buf[SPLIT..low_start].fill(b'0');
    let i = digits_u64(&mut buf[..SPLIT], hi);
    let mut end = buf.len();
    while scale > 0 && buf[end - 1] == b'0' {
        end -= 1;
        scale -= 1;
    }
    let digits = &buf[i..end];
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    }
}

/// A JSON object under construction; keys are trusted literals that carry their own comma and
/// colon (see `k!` and `ks!`).
struct Obj<'a>(&'a mut Vec<u8>);

impl Obj<'_> {
    #[inline(always)]
    fn num_u64(&mut self, key: &[u8], v: u64) {
        self.0.extend_from_slice(key);
        push_u64(self.0, v);
    }

    fn num_i64(&mut self, key: &[u8], v: i64) {
        self.0.extend_from_slice(key);
        self.0
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    #[inline(always)]
    fn dec(&mut self, key: &[u8], v: Decimal) {
        self.0.extend_from_slice(key);
        push_decimal(self.0, v);
    }

    /// A value that needs no escaping: ids are validated to `[A-Za-z0-9._:/-]` when made, and
    /// state, side, tif and event names are this crate's own literals. `key` comes from `ks!`.
    #[inline(always)]
    fn id(&mut self, key: &[u8], v: &str) {
        debug_assert!(
            v.bytes().all(|b| b > 0x20 && b != b'"' && b != b'\\'),
            "{v}"
        );
        self.0.extend_from_slice(key);
        self.0.extend_from_slice(v.as_bytes());
        self.0.push(b'"');
    }

    /// A venue's numeric id, as a string of digits (`key` comes from `ks!` and opens the quote).
    #[inline(always)]
    fn num_id(&mut self, key: &[u8], v: u64) {
        self.0.extend_from_slice(key);
        push_u64(self.0, v);
        self.0.push(b'"');
    }

    /// Any text, escaped as JSON requires. `key` comes from `ks!`.
    fn str(&mut self, key: &[u8], v: &str) {
        self.0.extend_from_slice(key);
        // Ids are plain ASCII in practice: copy them whole.
        if v.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.0.extend_from_slice(v.as_bytes());
            self.0.push(b'"');
            return;
        }
        for c in v.chars() {
            match c {
                '"' => self.0.extend_from_slice(b"\\\""),
                '\\' => self.0.extend_from_slice(b"\\\\"),
                c if (c as u32) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let n = c as usize;
                    self.0.extend_from_slice(b"\\u00");
                    self.0.push(HEX[n >> 4]);
                    self.0.push(HEX[n & 15]);
                }
                c => {
                    let mut buf = [0u8; 4];
                    self.0.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        self.0.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_keep_their_digits_at_every_magnitude() {
        for v in [
            0u64,
            7,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = [b'x'; 24];
            let i = digits_u64(&mut buf, v);
            assert_eq!(&buf[i..], v.to_string().as_bytes());
            assert!(
                buf[..i].iter().all(|&b| b == b'x'),
                "{v}: wrote before its digits"
            );
        }
        for v in [0i64, -1, 42, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            Obj(&mut out).num_i64(b"", v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }

    #[test]
    // rule: journal_damage
    fn the_checksum_at_the_end_reads_as_a_search_for_it_does() {
        let mut line = Vec::new();
        let l = AuditLine {
            seq: 7,
            t_ms: 12,
            intent_id: crate::model::IntentId::new("i-1").unwrap(),
            state: crate::router::State::New,
            detail: Detail::DuplicateIgnored,
        };
        write_line(&mut line, &l);
        line.pop(); // the newline
        assert_eq!(checksum_ok(&line), Some(true));
        let n = line.len();
        let mut tried = 0;
        for at in n.saturating_sub(40)..n {
            for b in [
                b',', b'"', b':', b'}', b'0', b'9', b'a', b'f', b'A', b'g', b' ',
            ] {
                let mut x = line.clone();
                x[at] = b;
                assert_eq!(
                    checksum_ok(&x),
                    checksum_searched(&x),
                    "{:?}",
                    String::from_utf8_lossy(&x)
                );
                tried += 1;
            }
            let cut = &line[..at];
            assert_eq!(checksum_ok(cut), checksum_searched(cut));
        }
        // A second key after the first, and a line with two checksums.
        let mut twice = line.clone();
        twice.truncate(n - 2);
        twice.extend_from_slice(b"\",\"crc\":\"00000000\"}");
        assert_eq!(checksum_ok(&twice), checksum_searched(&twice));
        assert!(tried > 400);
    }

    #[test]
    fn decimals_match_the_normalised_display_across_scales_and_signs() {
        let mantissas = [
            1i128,
            7,
            10,
            1_000,
            123_456_789,
            50_100_000,
            u64::MAX as i128,
            u64::MAX as i128 + 1,
            10i128.pow(19),
            10i128.pow(20) + 5,
            79_228_162_514_264_337_593_543_950_335,
        ];
        for m in mantissas {
            for scale in 0..=28 {
                for sign in [1, -1] {
                    let v = Decimal::from_i128_with_scale(sign * m, scale);
                    let mut out = Vec::new();
                    push_decimal(&mut out, v);
                    assert_eq!(String::from_utf8(out).unwrap(), v.normalize().to_string());
                }
            }
        }
    }

    #[test]
    fn decimals_are_written_with_their_exact_digits() {
        for (input, want) in [
            ("0", "0"),
            ("18446744073709551616", "18446744073709551616"),
            ("1000000000000000000005", "1000000000000000000005"),
            (
                "-100000000000000000000.00050",
                "-100000000000000000000.0005",
            ),
            ("50100.00", "50100"),
            ("0.001", "0.001"),
            ("-0.0005", "-0.0005"),
            ("123.4500", "123.45"),
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
            (
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
            ),
            (
                "-7.9228162514264337593543950335",
                "-7.9228162514264337593543950335",
            ),
        ] {
            let mut out = Vec::new();
            push_decimal(&mut out, input.parse().unwrap());
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }
}

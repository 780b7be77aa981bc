//! A byte scanner for audit lines exactly as the router writes them: one flat JSON object of
//! escape-free strings and numbers (and the `booked` object), no whitespace, each field once.
//!
//! Recovery, `report` and `check-audit` read millions of such lines; a general JSON parser
//! spends most of its time on what they never contain. Anything this scanner does not
//! recognise (whitespace, escapes, `null`, a repeated field, a number where a string belongs)
//! makes it answer `None`, and the caller hands the line to `serde_json` instead: the scanner
//! only ever accepts lines that the general reader reads the same way, a property the tests
//! check on damaged lines.

use std::collections::BTreeMap;

use serde_json::Value;

use super::parse::{Fast, Num};

/// The number of a field of [`Fast`] (one bit each in a "seen" mask); 35 is the checksum,
/// which is on every line but verified before. Length and first two bytes tell the names
/// apart; one comparison confirms.
fn field(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    let (k, name) = match (b.len(), *b.first()?, *b.get(1)?) {
        (3, b's', b'e') => (0, "seq"),
        (4, b't', b'_') => (1, "t_ms"),
        (9, b'i', b'n') => (2, "intent_id"),
        (5, b's', b't') => (3, "state"),
        (5, b'e', b'v') => (4, "event"),
        (6, b's', b'y') => (5, "symbol"),
        (4, b's', b'i') => (6, "side"),
        (6, b'r', b'e') => (7, "reason"),
        (6, b'd', b'e') => (8, "detail"),
        (5, b'a', b's') => (9, "asset"),
        (15, b'c', b'l') => (10, "client_order_id"),
        (3, b't', b'i') => (11, "tif"),
        (8, b'o', b'r') => (12, "order_id"),
        (5, b'e', b'r') => (13, "error"),
        (3, b'm', b's') => (14, "msg"),
        (5, b'c', b'a') => (15, "cause"),
        (3, b'q', b't') => (16, "qty"),
        (9, b'r', b'e') => (17, "ref_price"),
        (12, b'r', b'e') => (18, "reserved_qty"),
        (14, b'r', b'e') => (19, "reserved_price"),
        (6, b'a', b'm') => (20, "amount"),
        (11, b'l', b'i') => (21, "limit_price"),
        (10, b'f', b'i') => (22, "filled_qty"),
        (9, b'a', b'v') => (23, "avg_price"),
        (13, b'r', b'e') => (24, "remaining_qty"),
        (8, b'r', b'e') => (25, "released"),
        (3, b'f', b'e') => (26, "fee"),
        (12, b'm', b'a') => (27, "market_price"),
        (10, b'b', b'a') => (28, "backoff_ms"),
        (7, b'n', b'e') => (29, "next_ms"),
        (7, b'a', b't') => (30, "attempt"),
        (8, b'a', b't') => (31, "attempts"),
        (11, b'f', b'i') => (32, "fills_count"),
        (4, b'c', b'o') => (33, "code"),
        (6, b'b', b'o') => (34, "booked"),
        (3, b'c', b'r') => (35, "crc"),
        (9, b'f', b'e') => (36, "fee_asset"),
        _ => return None,
    };
    (key == name).then_some(k)
}

/// `seq`, `t_ms`, `intent_id` and `state`: a line without any of them is not the router's.
const REQUIRED: u64 = 0b1111;

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.byte()? == b).then(|| self.at += 1)
    }

    /// A string (the line holds no escapes or control characters: [`scan`] checked).
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let end = start + memchr::memchr(b'"', &self.text.as_bytes()[start..])?;
        self.at = end + 1;
        // Quotes are ASCII, so both ends are character boundaries.
        self.text.get(start..end)
    }

    /// A number as JSON's grammar has it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return None,
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.at = i;
        self.text.get(start..i)
    }

    /// A whole number in `u64`, as serde reads one: digits without a leading zero (or `0`),
    /// no fraction, exponent or sign, no overflow.
    fn u64(&mut self) -> Option<u64> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut n: u64 = 0;
        let mut i = start;
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            i += 1;
        }
        let digits = i - start;
        let leading_zero = digits > 1 && bytes[start] == b'0';
        if digits == 0 || leading_zero || matches!(bytes.get(i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at = i;
        Some(n)
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u64()?).ok()
    }

    /// `{"ASSET":number,...}`; a repeated asset keeps its last value, as a map does.
    fn booked(&mut self) -> Option<BTreeMap<&'a str, Num<'a>>> {
        self.eat(b'{')?;
        let mut out = BTreeMap::new();
        if self.eat(b'}').is_some() {
            return Some(out);
        }
        loop {
            let asset = self.string()?;
            self.eat(b':')?;
            out.insert(asset, Num::of(self.number()?));
            match self.byte()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }
}

/// Reads `text` if it is a line as the router writes it; `None` sends it to the general reader.
pub(super) fn scan(text: &str) -> Option<Fast<'_>> {
    // One pass over the line (vectorised) instead of a check per string byte.
    // (A fold without an early exit, so the compiler can take 32 bytes at a time.)
    if text
        .bytes()
        .fold(false, |bad, b| bad | (b < 0x20) | (b == b'\\'))
    {
        return None;
    }
    let mut c = Cursor { text, at: 0 };
    let mut f = Fast::default();
    let mut seen: u64 = 0;
    c.eat(b'{')?;
    loop {
        let key = c.string()?;
        c.eat(b':')?;
        let Some(k) = field(key) else {
            // Another field: a string or a number is passed over, anything else is not ours.
            if c.byte()? == b'"' {
                c.string()?;
            } else {
                c.number()?;
            }
            match c.byte()? {
                b',' => {
                    c.at += 1;
                    continue;
                }
                b'}' => break,
                _ => return None,
            }
        };
        if k < 35 {
            if seen & (1 << k) != 0 {
                return None;
            }
            seen |= 1 << k;
        }
        match k {
            0 => f.seq = c.u64()?,
            1 => f.t_ms = c.u64()?,
            2 => f.intent_id = c.string()?,
            3 => f.state = c.string()?,
            4 => f.event = Some(c.string()?),
            5 => f.symbol = Some(c.string()?),
            6 => f.side = Some(c.string()?),
            7 => f.reason = Some(c.string()?),
            8 => f.detail = Some(c.string()?),
            9 => f.asset = Some(c.string()?),
            10 => f.client_order_id = Some(c.string()?),
            11 => f.tif = Some(c.string()?),
            12 => f.order_id = Some(c.string()?),
            13 => f.error = Some(c.string()?),
            14 => f.msg = Some(c.string()?),
            15 => f.cause = Some(c.string()?),
            16..=27 => {
                let n = Some(Num::of(c.number()?));
                match k {
                    16 => f.qty = n,
                    17 => f.ref_price = n,
                    18 => f.reserved_qty = n,
                    19 => f.reserved_price = n,
                    20 => f.amount = n,
                    21 => f.limit_price = n,
                    22 => f.filled_qty = n,
                    23 => f.avg_price = n,
                    24 => f.remaining_qty = n,
                    25 => f.released = n,
                    26 => f.fee = n,
                    _ => f.market_price = n,
                }
            }
            28 => f.backoff_ms = Some(c.u64()?),
            29 => f.next_ms = Some(c.u64()?),
            30 => f.attempt = Some(c.u32()?),
            31 => f.attempts = Some(c.u32()?),
            32 => f.fills_count = Some(c.u32()?),
            33 => {
                let n = c.number()?;
                f.code = Some(Value::from(n.parse::<i64>().ok()?));
            }
            34 => f.booked = Some(c.booked()?),
            36 => f.fee_asset = Some(c.string()?),
            _ => {
                c.string()?;
            }
        }
        match c.byte()? {
            b',' => c.at += 1,
            b'}' => break,
            _ => return None,
        }
    }
    c.at += 1;
    (c.at == text.len() && seen & REQUIRED == REQUIRED).then_some(f)
}

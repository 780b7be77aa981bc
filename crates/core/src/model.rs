//! Value types shared by every stage of the pipeline.
//!
//! Identifiers are cheap to clone (`Arc<str>`) because the router copies them into commands and
//! audit lines on the hot path.

use std::fmt;
use std::sync::Arc;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Simulated or venue time in milliseconds. The router never reads a clock; callers pass it in.
pub type TimeMs = u64;

/// A malformed identifier, symbol, side or time-in-force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("symbol `{0}` is not of the form BASE/QUOTE")]
    BadSymbol(String),
    #[error("side `{0}` is neither `buy` nor `sell`")]
    BadSide(String),
    #[error("time in force `{0}` is neither `IOC` nor `GTC`")]
    BadTif(String),
    #[error("identifier `{0}` is empty or holds characters outside [A-Za-z0-9._:/-]")]
    BadId(String),
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Eq)]
        pub struct $name(Arc<str>);

        /// By name, as equality compares.
        impl std::hash::Hash for $name {
            #[inline]
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state)
            }
        }

        /// By name, clones of one allocation without reading it: `Arc<str>`'s own equality
        /// always compares the bytes (its pointer shortcut needs a sized type), and ids are
        /// compared on every table lookup. Names that differ mostly differ in length or in
        /// their last byte (`BTC`, `ETH`; `sig-17`, `sig-18`): both are looked at before the
        /// bytes are compared in a library call.
        impl PartialEq for $name {
            #[inline]
            fn eq(&self, other: &Self) -> bool {
                let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
                Arc::ptr_eq(&self.0, &other.0)
                    || (a.len() == b.len() && a.last() == b.last() && a == b)
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        /// By name; a shared allocation (see [`Interner`]) is equal without a string compare.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                if Arc::ptr_eq(&self.0, &other.0) {
                    return std::cmp::Ordering::Equal;
                }
                self.0.cmp(&other.0)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// For ids the crate makes itself from known-good characters: one allocation.
            #[allow(dead_code)]
            pub fn generated(s: &str) -> Self {
                debug_assert!(valid_id(s), "{s}");
                $name(Arc::from(s))
            }

            /// `prefix` followed by the decimal digits of `n` (venue order and trade ids).
            #[allow(dead_code)]
            pub fn numbered(prefix: &str, n: u64) -> Self {
                let mut buf = [0u8; 48];
                let p = prefix.len().min(28);
                buf[..p].copy_from_slice(&prefix.as_bytes()[..p]);
                let mut digits = [0u8; 20];
                let start = crate::audit::digits_u64(&mut digits, n);
                let end = p + digits.len() - start;
                buf[p..end].copy_from_slice(&digits[start..]);
                Self::generated(std::str::from_utf8(&buf[..end]).unwrap_or("0"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

string_id!(
    /// An asset such as `BTC` or `USDT`.
    Asset
);
string_id!(
    /// The deterministic id of an intent: the key of the router's idempotency.
    IntentId
);
string_id!(
    /// The id under which the router places one attempt of an intent; a pure function of
    /// `(intent_id, attempt)`, so replays are identical.
    ClientOrderId
);
/// A venue's numeric id. Held as the number and formatted only where it is written: no
/// allocation per order or trade, and a copy instead of a reference count.
macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl $name {
            /// The decimal digits of a number below 2^63 (Binance's ids are signed 64-bit);
            /// anything else is [`ModelError::BadId`].
            pub fn new(s: &str) -> Result<Self, ModelError> {
                let n = (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| s.parse::<u64>().ok())
                    .flatten()
                    .filter(|&n| n <= i64::MAX as u64);
                n.map($name).ok_or_else(|| ModelError::BadId(s.to_string()))
            }

            /// The id numbered `n`; at most `i64::MAX`, as on Binance.
            pub fn from_u64(n: u64) -> Result<Self, ModelError> {
                if n <= i64::MAX as u64 {
                    Ok($name(n))
                } else {
                    Err(ModelError::BadId(n.to_string()))
                }
            }

            pub fn get(self) -> u64 {
                self.0
            }

            /// For numbers the crate makes itself (counters from 1).
            pub fn numbered(n: u64) -> Self {
                $name(n)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        /// As a string of digits, as the audit log and snapshots have always carried it.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }

        /// From a string of digits or a JSON number.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = serde_json::Value::deserialize(d)?;
                let text = match &v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    other => other.to_string(),
                };
                $name::new(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

numeric_id!(
    /// The venue's own id of an order: a number, as on Binance (`orderId`).
    OrderId
);
numeric_id!(
    /// The venue's id of one trade (fill), a number as on Binance; reconciliation
    /// de-duplicates by it.
    TradeId
);

/// Venue ids must survive a round trip through a REST query string, so the router accepts the
/// same characters Binance accepts in a `newClientOrderId`.
fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'))
}

macro_rules! checked_id {
    ($name:ident) => {
        impl $name {
            /// Validates the characters; see [`ModelError::BadId`].
            pub fn new(s: &str) -> Result<Self, ModelError> {
                if valid_id(s) {
                    Ok($name(Arc::from(s)))
                } else {
                    Err(ModelError::BadId(s.to_string()))
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
checked_id!(Asset);
checked_id!(IntentId);
checked_id!(ClientOrderId);

impl ClientOrderId {
    /// `or-<16 hex of FNV-1a(intent_id)>-<attempt>`: at most 36 characters of Binance's
    /// `newClientOrderId` alphabet, equal on every run and machine.
    pub fn for_attempt(intent: &IntentId, attempt: u32) -> ClientOrderId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let h = fnv1a64(intent.as_str().as_bytes());
        // Built on the stack: one allocation, no formatting machinery on the hot path.
        let mut buf = [0u8; 32];
        buf[..3].copy_from_slice(b"or-");
        for (i, shift) in (0..16).rev().enumerate() {
            buf[3 + i] = HEX[((h >> (shift * 4)) & 15) as usize];
        }
        buf[19] = b'-';
        let mut digits = [0u8; 20];
        let start = crate::audit::digits_u64(&mut digits, u64::from(attempt));
        let end = 20 + digits.len() - start;
        buf[20..end].copy_from_slice(&digits[start..]);
        ClientOrderId::generated(std::str::from_utf8(&buf[..end]).unwrap_or("or-"))
    }

    /// What every attempt's id of `intent` starts with: `or-<hash>-`.
    pub fn intent_prefix(intent: &IntentId) -> String {
        format!("or-{:016x}-", fnv1a64(intent.as_str().as_bytes()))
    }
}

/// FNV-1a, 64 bit: a hash fixed by its definition, unlike `std`'s `DefaultHasher`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A spot market `BASE/QUOTE`, e.g. `BTC/USDT`. One shared allocation: cloning it (into every
/// command and audit line) is a single reference count.
#[derive(Clone)]
pub struct Symbol(Arc<SymbolParts>);

struct SymbolParts {
    name: Box<str>,
    base: Asset,
    quote: Asset,
}

impl Symbol {
    pub fn parse(s: &str) -> Result<Symbol, ModelError> {
        let bad = || ModelError::BadSymbol(s.to_string());
        let (b, q) = s.split_once('/').ok_or_else(bad)?;
        let base = Asset::new(b).map_err(|_| bad())?;
        let quote = Asset::new(q).map_err(|_| bad())?;
        if q.contains('/') || base == quote {
            return Err(bad());
        }
        Ok(Symbol(Arc::new(SymbolParts {
            name: Box::from(s),
            base,
            quote,
        })))
    }
    pub fn as_str(&self) -> &str {
        &self.0.name
    }
    pub fn base(&self) -> &Asset {
        &self.0.base
    }
    pub fn quote(&self) -> &Asset {
        &self.0.quote
    }
}

impl PartialEq for Symbol {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.name == other.0.name
    }
}

impl Eq for Symbol {}

impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Symbol {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.0.name.cmp(&other.0.name)
    }
}

impl std::hash::Hash for Symbol {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({:?})", self.as_str())
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Symbol::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Order side.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    #[strum(to_string = "buy", serialize = "BUY")]
    Buy,
    #[strum(to_string = "sell", serialize = "SELL")]
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    /// `buy` or `sell`, in lower or upper case (Binance writes `BUY`).
    pub fn parse(s: &str) -> Result<Side, ModelError> {
        s.parse().map_err(|_| ModelError::BadSide(s.to_string()))
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Time in force of the router's limit orders.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
)]
pub enum Tif {
    /// Immediate or cancel: the placement reply is final.
    #[serde(rename = "IOC")]
    #[strum(to_string = "IOC", serialize = "ioc")]
    Ioc,
    /// Good till cancelled: polled until final, cancelled after the order timeout.
    #[serde(rename = "GTC")]
    #[strum(to_string = "GTC", serialize = "gtc")]
    Gtc,
}

impl Tif {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    /// `IOC` or `GTC`, in upper or lower case.
    pub fn parse(s: &str) -> Result<Tif, ModelError> {
        s.parse().map_err(|_| ModelError::BadTif(s.to_string()))
    }
}

/// One basis point as a fraction (`0.0001`): `bps * bps_fraction()` is a rate.
pub fn bps_fraction() -> Decimal {
    Decimal::new(1, 4)
}

/// `step` as a number of decimal places when it is a power of ten (0.01, 0.00001, 1): then
/// rounding is a rescale, not a division.
fn decimal_places(step: Decimal) -> Option<u32> {
    (step.mantissa() == 1).then(|| step.scale())
}

/// `x` rounded down to a multiple of `step`; `None` on overflow or a zero step.
pub fn floor_to(x: Decimal, step: Decimal) -> Option<Decimal> {
    if let Some(dp) = decimal_places(step) {
        return Some(x.round_dp_with_strategy(dp, RoundingStrategy::ToNegativeInfinity));
    }
    x.checked_div(step)?.floor().checked_mul(step)
}

/// `x` rounded up to a multiple of `step`; `None` on overflow or a zero step.
pub fn ceil_to(x: Decimal, step: Decimal) -> Option<Decimal> {
    if let Some(dp) = decimal_places(step) {
        return Some(x.round_dp_with_strategy(dp, RoundingStrategy::ToPositiveInfinity));
    }
    x.checked_div(step)?.ceil().checked_mul(step)
}

/// Whether `x` is a whole multiple of `step` (a positive step). A power-of-ten step (0.01,
/// 1) is a digit check on the mantissa instead of a decimal division.
pub fn on_grid(x: Decimal, step: Decimal) -> bool {
    if step <= Decimal::ZERO {
        return false;
    }
    if let Some(dp) = decimal_places(step) {
        let extra = x.scale().saturating_sub(dp);
        return extra == 0
            || x.mantissa()
                .unsigned_abs()
                .is_multiple_of(10u128.pow(extra));
    }
    x.checked_rem(step).is_some_and(|r| r.is_zero())
}

/// One shared allocation per distinct asset and symbol name. `Arc` equality compares pointers
/// before bytes, so once a scenario's names are interned, the portfolio's and the venues'
/// lookups by asset and symbol are pointer compares instead of string compares.
#[derive(Debug, Default)]
pub struct Interner {
    assets: std::collections::BTreeSet<Asset>,
    symbols: std::collections::BTreeSet<Symbol>,
}

impl Interner {
    pub fn asset(&mut self, a: &Asset) -> Asset {
        if let Some(x) = self.assets.get(a) {
            return x.clone();
        }
        self.assets.insert(a.clone());
        a.clone()
    }

    /// The shared copy of `s`, whose base and quote are the shared assets.
    pub fn symbol(&mut self, s: &Symbol) -> Symbol {
        if let Some(x) = self.symbols.get(s) {
            return x.clone();
        }
        let interned = Symbol(Arc::new(SymbolParts {
            name: s.0.name.clone(),
            base: self.asset(s.base()),
            quote: self.asset(s.quote()),
        }));
        self.symbols.insert(interned.clone());
        interned
    }
}

/// A map for a handful of keys (the assets and symbols of one account), as a vector in key
/// order: a lookup is a short scan of equality checks (a pointer compare when both sides share
/// the allocation), and an existing key is never cloned, unlike `BTreeMap::entry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap(Vec::new())
    }
}

impl<K: Ord + Clone, V> SmallMap<K, V> {
    pub fn get(&self, key: &K) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key`, inserted (in order) from `make` when missing.
    pub fn get_or_insert_with(&mut self, key: &K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.0.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                let at = self.0.partition_point(|(k, _)| k < key);
                self.0.insert(at, (key.clone(), make()));
                at
            }
        };
        &mut self.0[i].1
    }

    pub fn insert(&mut self, key: &K, value: V) {
        match self.get_mut(key) {
            Some(v) => *v = value,
            None => {
                self.get_or_insert_with(key, || value);
            }
        }
    }

    /// In key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_ids_are_numbers_below_two_to_the_63_written_as_digits() {
        let id = OrderId::new("9780331417").unwrap();
        assert_eq!(
            (id.get(), id.to_string()),
            (9_780_331_417, "9780331417".to_string())
        );
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""9780331417""#);
        for json in [r#""42""#, "42"] {
            let t: TradeId = serde_json::from_str(json).unwrap();
            assert_eq!(t, TradeId::numbered(42));
        }
        assert_eq!(
            OrderId::new("9223372036854775807").unwrap().get(),
            i64::MAX as u64
        );
        for bad in [
            "",
            "o1",
            "-1",
            "+1",
            "1.0",
            " 1",
            "9223372036854775808",
            "99999999999999999999",
        ] {
            assert_eq!(
                OrderId::new(bad),
                Err(ModelError::BadId(bad.to_string())),
                "{bad}"
            );
        }
        assert!(TradeId::from_u64(1 << 63).is_err());
        assert!(serde_json::from_str::<OrderId>("true").is_err());
        // Ordered as numbers, not as text.
        assert!(OrderId::numbered(9) < OrderId::numbered(10));
    }

    #[test]
    fn interned_names_share_one_allocation_and_compare_as_before() {
        let mut names = Interner::default();
        let usdt = names.asset(&Asset::new("USDT").unwrap());
        let btc = names.symbol(&Symbol::parse("BTC/USDT").unwrap());
        let again = names.symbol(&Symbol::parse("BTC/USDT").unwrap());
        assert!(Arc::ptr_eq(&btc.0, &again.0));
        assert!(Arc::ptr_eq(&usdt.0, &btc.quote().0));
        assert_eq!(btc, Symbol::parse("BTC/USDT").unwrap());
        assert_eq!(btc.as_str(), "BTC/USDT");
        let eth = names.symbol(&Symbol::parse("ETH/USDT").unwrap());
        assert!(Arc::ptr_eq(&eth.quote().0, &usdt.0));
        assert!(btc < eth && btc.cmp(&again).is_eq());
        assert!(usdt > Asset::new("BTC").unwrap() && usdt.cmp(&usdt.clone()).is_eq());
    }

    #[test]
    // rule: input_guards, min_notional
    fn on_grid_agrees_with_the_remainder_for_power_of_ten_and_other_steps() {
        let steps = [
            "1", "0.1", "0.01", "0.00001", "0.5", "0.25", "5", "10", "0", "-0.01",
        ];
        for step in steps {
            let step: Decimal = step.parse().unwrap();
            for m in -1_050i64..1_050 {
                for scale in 0..7 {
                    let x = Decimal::new(m, scale);
                    let want =
                        step > Decimal::ZERO && x.checked_rem(step).is_some_and(|r| r.is_zero());
                    assert_eq!(on_grid(x, step), want, "{x} on {step}");
                }
            }
        }
        let big = Decimal::from_i128_with_scale(79_228_162_514_264_337_593_543_950_000, 4);
        assert!(on_grid(big, "0.1".parse().unwrap()));
        assert!(!on_grid(
            big,
            "0.0001".parse::<Decimal>().unwrap() * Decimal::from(3)
        ));
    }

    #[test]
    // rule: ids_present, no_duplicate_orders
    fn client_order_id_is_a_pure_function_of_intent_and_attempt() {
        let id = IntentId::new("1697040000000-BTCUSDT-00ff").unwrap();
        let a = ClientOrderId::for_attempt(&id, 1);
        assert_eq!(a, ClientOrderId::for_attempt(&id, 1));
        assert_ne!(a, ClientOrderId::for_attempt(&id, 2));
        // Pinned: a change of hash or format would break replays of recorded logs.
        assert_eq!(a.as_str(), "or-1d9185916e83de47-1");
        assert!(
            ClientOrderId::for_attempt(&id, 4_000_000_000)
                .as_str()
                .len()
                <= 36
        );
    }

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn symbol_parse_rejects_malformed() {
        let s = Symbol::parse("BTC/USDT").unwrap();
        assert_eq!(s.base().as_str(), "BTC");
        assert_eq!(s.quote().as_str(), "USDT");
        for bad in [
            "BTCUSDT",
            "/USDT",
            "BTC/",
            "BTC/USDT/X",
            "BTC/BTC",
            "B C/USDT",
        ] {
            assert!(Symbol::parse(bad).is_err(), "{bad}");
        }
    }
}

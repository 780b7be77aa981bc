//! The assembler: a signal, its guards and a risk sizing become an immutable [`Intent`], or nothing.
//!
//! Decisions are separated from execution so that the router only ever sees finished, validated
//! intents it cannot alter. The `intent_id` is a pure function of every input of the decision, so
//! the same decision delivered twice (a retry upstream, a replayed log, a duplicate on the bus)
//! carries the same id, and the router's idempotency by `intent_id` turns it into one order.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{fnv1a64, IntentId, Side, Symbol, TimeMs};

/// A trading decision's trigger: what to trade, which way, and the market it was decided in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub ts_ms: TimeMs,
    pub symbol: Symbol,
    pub side: Side,
    /// The market price the decision was made at; the router caps its limit price from it.
    pub ref_price: Decimal,
}

/// Named pre-trade checks and their outcomes. They are part of the id's inputs, so a decision
/// taken under different checks is a different decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guards {
    pub checks: Vec<(String, bool)>,
}

impl Guards {
    /// No checks at all: nothing can veto the decision.
    pub fn pass() -> Guards {
        Guards { checks: Vec::new() }
    }

    /// Keeps the checks in the given order; the order is part of the id's inputs.
    pub fn from_checks<S: Into<String>>(checks: impl IntoIterator<Item = (S, bool)>) -> Guards {
        checks.into_iter().collect()
    }

    /// A single failed check vetoes the decision.
    pub fn all_pass(&self) -> bool {
        self.checks.iter().all(|&(_, ok)| ok)
    }
}

impl<S: Into<String>> FromIterator<(S, bool)> for Guards {
    fn from_iter<I: IntoIterator<Item = (S, bool)>>(iter: I) -> Guards {
        Guards {
            checks: iter.into_iter().map(|(n, ok)| (n.into(), ok)).collect(),
        }
    }
}

/// The outcome of position sizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Risk {
    /// Quantity in the base asset (BTC of BTC/USDT).
    pub qty: Decimal,
}

/// Turns a decision into an intent; `None` when a guard failed or the sizing or price is not
/// positive, because then there is nothing to execute.
///
/// `intent_id` is `<ts_ms>-<BASE><QUOTE>-<16 hex digits>`, the hex digits being FNV-1a 64 of a
/// canonical byte encoding of *all* inputs: ts, symbol, side, qty, ref_price and every guard's
/// name and outcome. Decimals are normalized first, so `0.0010` and `0.001` give the same id.
/// FNV-1a and the encoding are fixed by their definition, so the id is equal across runs,
/// machines and compiler versions; changing either breaks replays of recorded logs. `<BASE><QUOTE>`
/// is shortened when the id would exceed 128 characters; the hash still covers the whole symbol.
pub fn assemble(signal: &Signal, guards: &Guards, risk: &Risk) -> Option<Intent> {
    assemble_hashing(signal, guards, risk, risk)
}

/// The assembler with the deliberate bug `assembler-ignores-qty`: the id is hashed as if the
/// risk quantity were always 1. Only a simulator hunting that bug calls it.
#[doc(hidden)]
pub fn assemble_ignoring_qty(signal: &Signal, guards: &Guards, risk: &Risk) -> Option<Intent> {
    assemble_hashing(signal, guards, risk, &Risk { qty: Decimal::ONE })
}

/// Assembles an intent of `risk`, its id hashed over `hashed` (the same risk, but for a
/// deliberate bug).
fn assemble_hashing(
    signal: &Signal,
    guards: &Guards,
    risk: &Risk,
    hashed: &Risk,
) -> Option<Intent> {
    // A size or price that is not positive is refused by `Intent::new` below.
    if !guards.all_pass() {
        return None;
    }
    let hash = fnv1a64(&canonical_bytes(signal, guards, hashed));
    let ts = signal.ts_ms.to_string();
    let mut pair = format!("{}{}", signal.symbol.base(), signal.symbol.quote());
    // IntentId holds at most 128 characters; the hash covers the full symbol, so cutting the
    // human-readable part keeps ids distinct. Asset names are ASCII, so any byte index is a
    // char boundary.
    pair.truncate(MAX_ID_LEN - ts.len() - 2 - 16);
    let id = IntentId::new(&format!("{ts}-{pair}-{hash:016x}")).ok()?;
    Intent::new(
        id,
        signal.ts_ms,
        signal.symbol.clone(),
        signal.side,
        risk.qty,
        signal.ref_price,
    )
    .ok()
}

/// The longest id [`IntentId::new`] accepts.
const MAX_ID_LEN: usize = 128;

/// Field separator: a control character that none of the fixed-format fields (digits, symbol
/// alphabet, `buy`/`sell`) can hold. Guard names are arbitrary text, so they are length-prefixed
/// instead of trusted not to contain it.
const SEP: u8 = 0x1f;

/// The hash input: a version tag, then ts, symbol, side, normalized qty, normalized ref_price and
/// each guard as `<name length>SEP<name>SEP<1|0>`, every field followed by `SEP`.
fn canonical_bytes(signal: &Signal, guards: &Guards, risk: &Risk) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    let mut field = |bytes: &[u8]| {
        out.extend_from_slice(bytes);
        out.push(SEP);
    };
    field(b"intent/v1");
    field(signal.ts_ms.to_string().as_bytes());
    field(signal.symbol.as_str().as_bytes());
    field(signal.side.as_str().as_bytes());
    field(risk.qty.normalize().to_string().as_bytes());
    field(signal.ref_price.normalize().to_string().as_bytes());
    for (name, ok) in &guards.checks {
        field(name.len().to_string().as_bytes());
        field(name.as_bytes());
        field(if *ok { b"1" } else { b"0" });
    }
    out
}

/// A validated order request that nothing downstream can change: the unit of the router's
/// idempotency. Decimals are held normalized, so equal intents serialize to equal bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "IntentRepr", into = "IntentRepr")]
pub struct Intent {
    intent_id: IntentId,
    ts_ms: TimeMs,
    symbol: Symbol,
    side: Side,
    qty: Decimal,
    ref_price: Decimal,
}

impl Intent {
    /// Swaps in an equal symbol (an interned copy of it).
    pub fn share_symbol(&mut self, symbol: Symbol) {
        debug_assert!(symbol == self.symbol);
        self.symbol = symbol;
    }

    /// For intents that arrive already identified (scenario rows, another process); the
    /// assembler is the way to derive an id. Rejects a non-positive `qty` or `ref_price`.
    pub fn new(
        intent_id: IntentId,
        ts_ms: TimeMs,
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        ref_price: Decimal,
    ) -> Result<Intent, IntentError> {
        positive("qty", qty)?;
        positive("ref_price", ref_price)?;
        Ok(Intent {
            intent_id,
            ts_ms,
            symbol,
            side,
            qty: qty.normalize(),
            ref_price: ref_price.normalize(),
        })
    }

    pub fn intent_id(&self) -> &IntentId {
        &self.intent_id
    }
    pub fn ts_ms(&self) -> TimeMs {
        self.ts_ms
    }
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    pub fn side(&self) -> Side {
        self.side
    }
    /// Positive, in the base asset.
    pub fn qty(&self) -> Decimal {
        self.qty
    }
    /// Positive, in the quote asset per unit of base.
    pub fn ref_price(&self) -> Decimal {
        self.ref_price
    }

    /// One JSON object with keys `intent_id, ts_ms, symbol, side, qty, ref_price`; decimals are
    /// JSON numbers with their exact digits, e.g. `"qty":0.001`.
    pub fn to_json(&self) -> String {
        // Only strings, an integer and finite decimals are written: serde_json cannot fail on them.
        serde_json::to_string(self).expect("an Intent always serializes to JSON")
    }

    /// The inverse of [`Intent::to_json`], with the checks of [`Intent::new`]; unknown keys,
    /// decimals given as strings and decimals that do not fit a `Decimal` exactly are errors.
    pub fn from_json(json: &str) -> Result<Intent, IntentError> {
        let repr: IntentRepr =
            serde_json::from_str(json).map_err(|e| IntentError::Json(e.to_string()))?;
        Intent::try_from(repr)
    }
}

/// A cancel intent: stop the intent `target` (by its id). It places nothing of its own: the
/// target's open order is cancelled, the target makes no further attempt and reconciles what
/// filled before the cancel landed (a fill is never lost), and the cancel intent ends at once
/// in one `DONE` line saying what it found (`cancelled`, `already_final`, `unknown_target`).
/// Its own id makes it idempotent like any intent: a redelivery is a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelIntent {
    intent_id: IntentId,
    ts_ms: TimeMs,
    target: IntentId,
}

impl CancelIntent {
    pub fn new(intent_id: IntentId, ts_ms: TimeMs, target: IntentId) -> CancelIntent {
        CancelIntent {
            intent_id,
            ts_ms,
            target,
        }
    }

    /// A cancel decided at `ts_ms`, its id `<ts>-CANCEL-<fnv1a64 of ts and target>`: equal for
    /// equal inputs, as an assembled intent's.
    pub fn assemble(ts_ms: TimeMs, target: &IntentId) -> Option<CancelIntent> {
        let mut bytes = Vec::with_capacity(64);
        for field in [
            b"cancel/v1".as_slice(),
            ts_ms.to_string().as_bytes(),
            target.as_str().as_bytes(),
        ] {
            bytes.extend_from_slice(field);
            bytes.push(SEP);
        }
        let id = IntentId::new(&format!("{ts_ms}-CANCEL-{:016x}", fnv1a64(&bytes))).ok()?;
        Some(CancelIntent::new(id, ts_ms, target.clone()))
    }

    pub fn intent_id(&self) -> &IntentId {
        &self.intent_id
    }
    pub fn ts_ms(&self) -> TimeMs {
        self.ts_ms
    }
    /// The intent to stop.
    pub fn target(&self) -> &IntentId {
        &self.target
    }
}

/// What an upstream hands the router: an intent to execute, or a cancel intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Intent(Intent),
    Cancel(CancelIntent),
}

impl Delivery {
    pub fn intent_id(&self) -> &IntentId {
        match self {
            Delivery::Intent(i) => i.intent_id(),
            Delivery::Cancel(c) => c.intent_id(),
        }
    }

    /// The router's input for it.
    pub fn into_input(self) -> crate::router::Input {
        match self {
            Delivery::Intent(i) => crate::router::Input::Deliver(i),
            Delivery::Cancel(c) => crate::router::Input::Cancel(c),
        }
    }

    /// One JSON line: an intent as [`Intent::to_json`] writes it, or a cancel intent
    /// `{"intent_id":"c1","ts_ms":1700000000000,"cancel":"ID"}` (`cancel`: the id of the
    /// intent to stop). Unknown keys are refused in both.
    pub fn from_json(json: &str) -> Result<Delivery, IntentError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| IntentError::Json(e.to_string()))?;
        if value.get("cancel").is_some() {
            let c: CancelRepr =
                serde_json::from_value(value).map_err(|e| IntentError::Json(e.to_string()))?;
            return Ok(Delivery::Cancel(CancelIntent::new(
                c.intent_id,
                c.ts_ms,
                c.cancel,
            )));
        }
        Intent::from_json(json).map(Delivery::Intent)
    }
}

/// A cancel intent's wire form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelRepr {
    intent_id: IntentId,
    ts_ms: TimeMs,
    cancel: IntentId,
}

fn positive(field: &'static str, value: Decimal) -> Result<(), IntentError> {
    if value > Decimal::ZERO {
        Ok(())
    } else {
        Err(IntentError::NonPositive { field, value })
    }
}

/// A rejected intent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntentError {
    #[error("intent field `{field}` must be positive, got {value}")]
    NonPositive { field: &'static str, value: Decimal },
    /// serde_json's message, with line and column.
    #[error("intent JSON: {0}")]
    Json(String),
}

/// The wire form. Kept apart from [`Intent`] so that deserializing cannot bypass
/// [`Intent::new`]'s checks.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentRepr {
    intent_id: IntentId,
    ts_ms: TimeMs,
    symbol: Symbol,
    side: Side,
    #[serde(
        serialize_with = "rust_decimal::serde::arbitrary_precision::serialize",
        deserialize_with = "qty_from_json"
    )]
    qty: Decimal,
    #[serde(
        serialize_with = "rust_decimal::serde::arbitrary_precision::serialize",
        deserialize_with = "ref_price_from_json"
    )]
    ref_price: Decimal,
}

impl From<Intent> for IntentRepr {
    fn from(i: Intent) -> IntentRepr {
        IntentRepr {
            intent_id: i.intent_id,
            ts_ms: i.ts_ms,
            symbol: i.symbol,
            side: i.side,
            qty: i.qty,
            ref_price: i.ref_price,
        }
    }
}

impl TryFrom<IntentRepr> for Intent {
    type Error = IntentError;
    fn try_from(r: IntentRepr) -> Result<Intent, IntentError> {
        Intent::new(r.intent_id, r.ts_ms, r.symbol, r.side, r.qty, r.ref_price)
    }
}

/// Decimals are read as JSON numbers without rounding: an order quantity silently cut to 28
/// fractional digits would be a different order than the one decided.
fn exact_decimal<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<Decimal, D::Error> {
    // With `arbitrary_precision`, a Number keeps the digits as written.
    let number = serde_json::Number::deserialize(d)?;
    let text = number.as_str();
    let parsed = match text.split_once(['e', 'E']) {
        Some((mantissa, _)) => {
            Decimal::from_str_exact(mantissa).and_then(|_| Decimal::from_scientific(text))
        }
        None => Decimal::from_str_exact(text),
    };
    parsed.map_err(|e| {
        serde::de::Error::custom(format_args!(
            "`{field}`: number {} is not an exact decimal: {e}",
            crate::input::show(text)
        ))
    })
}

fn qty_from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    exact_decimal(d, "qty")
}

fn ref_price_from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    exact_decimal(d, "ref_price")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn signal() -> Signal {
        Signal {
            ts_ms: 1_697_040_000_000,
            symbol: Symbol::parse("BTC/USDT").unwrap(),
            side: Side::Buy,
            ref_price: dec("50000"),
        }
    }

    fn risk(qty: &str) -> Risk {
        Risk { qty: dec(qty) }
    }

    fn id_of(s: &Signal, g: &Guards, r: &Risk) -> String {
        assemble(s, g, r).unwrap().intent_id().to_string()
    }

    #[test]
    // rule: intent_identity
    fn intent_id_is_deterministic_and_pinned() {
        let a = assemble(&signal(), &Guards::pass(), &risk("0.001")).unwrap();
        let b = assemble(&signal(), &Guards::pass(), &risk("0.001")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.intent_id(), b.intent_id());
        // Pinned: a change of hash, encoding or format breaks replays of recorded logs.
        assert_eq!(
            a.intent_id().as_str(),
            "1697040000000-BTCUSDT-93f0c1f92b03a79a"
        );
    }

    #[test]
    // rule: intent_identity
    fn normalized_decimals_give_the_same_id() {
        let mut s = signal();
        let base = id_of(&s, &Guards::pass(), &risk("0.001"));
        assert_eq!(base, id_of(&s, &Guards::pass(), &risk("0.0010")));
        s.ref_price = dec("50000.000");
        assert_eq!(base, id_of(&s, &Guards::pass(), &risk("0.001")));
    }

    #[test]
    // rule: intent_identity
    fn id_differs_when_any_single_input_differs() {
        let g = Guards::from_checks([("spread_ok", true)]);
        let base = id_of(&signal(), &g, &risk("0.001"));
        let mut variants = Vec::new();

        let mut s = signal();
        s.ts_ms += 1;
        variants.push(("ts", id_of(&s, &g, &risk("0.001"))));
        let mut s = signal();
        s.symbol = Symbol::parse("ETH/USDT").unwrap();
        variants.push(("symbol", id_of(&s, &g, &risk("0.001"))));
        let mut s = signal();
        s.side = Side::Sell;
        variants.push(("side", id_of(&s, &g, &risk("0.001"))));
        variants.push(("qty", id_of(&signal(), &g, &risk("0.002"))));
        let mut s = signal();
        s.ref_price = dec("50000.01");
        variants.push(("price", id_of(&s, &g, &risk("0.001"))));
        variants.push((
            "no guard",
            id_of(&signal(), &Guards::pass(), &risk("0.001")),
        ));
        let renamed = Guards::from_checks([("spread_ok2", true)]);
        variants.push(("guard name", id_of(&signal(), &renamed, &risk("0.001"))));
        let extra = Guards::from_checks([("spread_ok", true), ("budget_ok", true)]);
        variants.push(("extra guard", id_of(&signal(), &extra, &risk("0.001"))));

        for (what, id) in &variants {
            assert_ne!(&base, id, "changing {what} must change the id");
        }
        // Only the hash may differ between these two; the readable prefix is equal.
        assert_eq!(variants[1].1.split('-').nth(1), Some("ETHUSDT"));
    }

    #[test]
    // rule: intent_identity
    fn guard_names_cannot_collide_through_the_separator() {
        let one = Guards::from_checks([("a\u{1f}1\u{1f}b", true)]);
        let two = Guards::from_checks([("a", true), ("b", true)]);
        assert_ne!(
            id_of(&signal(), &one, &risk("0.001")),
            id_of(&signal(), &two, &risk("0.001"))
        );
    }

    #[test]
    // rule: input_guards
    fn a_failed_guard_yields_no_intent() {
        let g = Guards::from_checks([("spread_ok", true), ("cooldown_ok", false)]);
        assert!(!g.all_pass());
        assert_eq!(assemble(&signal(), &g, &risk("0.001")), None);
        assert!(Guards::pass().all_pass());
    }

    #[test]
    // rule: input_guards
    fn non_positive_qty_or_price_yields_no_intent() {
        for q in ["0", "-0.001", "0.000"] {
            assert_eq!(assemble(&signal(), &Guards::pass(), &risk(q)), None, "{q}");
        }
        let mut s = signal();
        s.ref_price = Decimal::ZERO;
        assert_eq!(assemble(&s, &Guards::pass(), &risk("0.001")), None);
    }

    #[test]
    // rule: intent_identity, ids_present
    fn long_symbols_still_give_a_valid_id() {
        let long = format!("{}/{}", "B".repeat(128), "Q".repeat(128));
        let mut s = signal();
        s.ts_ms = u64::MAX;
        s.symbol = Symbol::parse(&long).unwrap();
        let id = id_of(&s, &Guards::pass(), &risk("1"));
        assert_eq!(id.len(), MAX_ID_LEN);
    }

    #[test]
    // rule: input_guards
    fn new_rejects_non_positive_fields() {
        let make = |q: &str, p: &str| {
            Intent::new(
                IntentId::new("i1").unwrap(),
                0,
                Symbol::parse("BTC/USDT").unwrap(),
                Side::Sell,
                dec(q),
                dec(p),
            )
        };
        assert!(make("0.5", "1").is_ok());
        assert_eq!(
            make("0", "1"),
            Err(IntentError::NonPositive {
                field: "qty",
                value: Decimal::ZERO
            })
        );
        assert!(matches!(
            make("1", "-2"),
            Err(IntentError::NonPositive {
                field: "ref_price",
                ..
            })
        ));
    }

    #[test]
    fn json_has_the_documented_shape() {
        let i = Intent::new(
            IntentId::new("i1").unwrap(),
            10,
            Symbol::parse("BTC/USDT").unwrap(),
            Side::Buy,
            dec("0.0010"),
            dec("50000.00"),
        )
        .unwrap();
        assert_eq!(
            i.to_json(),
            r#"{"intent_id":"i1","ts_ms":10,"symbol":"BTC/USDT","side":"buy","qty":0.001,"ref_price":50000}"#
        );
    }

    #[test]
    fn json_round_trips_with_exact_digits() {
        let mut s = signal();
        s.ref_price = dec("27123.456789012345678");
        let i = assemble(&s, &Guards::pass(), &risk("0.00012345678901234567")).unwrap();
        let json = i.to_json();
        assert!(json.contains(r#""qty":0.00012345678901234567"#), "{json}");
        assert!(
            json.contains(r#""ref_price":27123.456789012345678"#),
            "{json}"
        );
        let back = Intent::from_json(&json).unwrap();
        assert_eq!(back, i);
        assert_eq!(back.qty().to_string(), "0.00012345678901234567");
        // Through serde directly, too (the path other modules' structs take).
        let via_serde: Intent = serde_json::from_str(&json).unwrap();
        assert_eq!(via_serde, i);
        assert_eq!(serde_json::to_string(&via_serde).unwrap(), json);
        let via_value: Intent = serde_json::from_value(serde_json::to_value(&i).unwrap()).unwrap();
        assert_eq!(via_value, i);
    }

    #[test]
    fn from_json_accepts_scientific_notation() {
        let j = r#"{"intent_id":"i1","ts_ms":1,"symbol":"BTC/USDT","side":"sell","qty":1e-3,"ref_price":5E4}"#;
        let i = Intent::from_json(j).unwrap();
        assert_eq!(i.qty(), dec("0.001"));
        assert_eq!(i.ref_price(), dec("50000"));
    }

    const GOOD: &str = r#"{"intent_id":"i1","ts_ms":10,"symbol":"BTC/USDT","side":"buy","qty":0.001,"ref_price":50000}"#;

    #[test]
    fn a_delivery_line_is_an_intent_or_a_cancel_and_nothing_else() {
        assert!(matches!(Delivery::from_json(GOOD), Ok(Delivery::Intent(_))));
        let c = Delivery::from_json(r#"{"intent_id":"c1","ts_ms":11,"cancel":"i1"}"#).unwrap();
        let Delivery::Cancel(c) = c else {
            panic!("a cancel")
        };
        assert_eq!(
            (c.intent_id().as_str(), c.ts_ms(), c.target().as_str()),
            ("c1", 11, "i1")
        );
        // A cancel carries nothing else; a cancel without its own id is refused.
        for bad in [
            r#"{"intent_id":"c1","ts_ms":11,"cancel":"i1","qty":1}"#,
            r#"{"ts_ms":11,"cancel":"i1"}"#,
            r#"{"intent_id":"c1","ts_ms":11,"cancel":""}"#,
        ] {
            assert!(
                matches!(Delivery::from_json(bad), Err(IntentError::Json(_))),
                "{bad}"
            );
        }
        // Equal inputs, equal assembled cancel ids.
        let target = IntentId::new("i1").unwrap();
        assert_eq!(
            CancelIntent::assemble(5, &target),
            CancelIntent::assemble(5, &target)
        );
        assert_ne!(
            CancelIntent::assemble(5, &target),
            CancelIntent::assemble(6, &target)
        );
    }

    fn json_err(j: &str) -> String {
        match Intent::from_json(j) {
            Err(IntentError::Json(m)) => m,
            other => panic!("expected a JSON error for {j}, got {other:?}"),
        }
    }

    #[test]
    fn from_json_rejects_bad_input_with_a_clear_message() {
        assert!(Intent::from_json(GOOD).is_ok());

        let missing = GOOD.replace(r#","ref_price":50000"#, "");
        assert!(json_err(&missing).contains("missing field `ref_price`"));
        let unknown = GOOD.replace(r#""ts_ms""#, r#""fee":1,"ts_ms""#);
        assert!(json_err(&unknown).contains("unknown field `fee`"));
        let side = GOOD.replace(r#""buy""#, r#""hold""#);
        assert!(json_err(&side).contains("hold"));
        let symbol = GOOD.replace("BTC/USDT", "BTCUSDT");
        assert!(json_err(&symbol).contains("BTCUSDT"));
        let id = GOOD.replace(r#""i1""#, r#""i 1""#);
        assert!(json_err(&id).contains("i 1"));
        let as_string = GOOD.replace("0.001", r#""0.001""#);
        assert!(json_err(&as_string).contains("line 1 column"));
        let too_fine = GOOD.replace("0.001", "0.12345678901234567890123456789");
        assert!(json_err(&too_fine).contains(r#"`qty`: number "0.12345678901234567890123456789""#));
        let huge = GOOD.replace("50000", "1e400");
        assert!(json_err(&huge).contains("`ref_price`"));
        let neg_ts = GOOD.replace(":10,", ":-10,");
        assert!(json_err(&neg_ts).contains("line 1"));

        let negative = GOOD.replace("0.001", "-0.001");
        assert!(matches!(
            Intent::from_json(&negative),
            Err(IntentError::NonPositive { field: "qty", .. })
        ));
        assert!(Intent::from_json(&GOOD.replace("50000", "0")).is_err());
    }

    #[test]
    fn from_json_never_panics_on_garbage() {
        let nested = "[".repeat(10_000);
        let garbage = [
            "",
            "null",
            "{",
            "[]",
            "\u{0}\u{ff}\u{fffd}",
            "{\"qty\":}",
            nested.as_str(),
            "{\"qty\":{\"$serde_json::private::Number\":\"x\"}}",
        ];
        for g in garbage {
            assert!(Intent::from_json(g).is_err(), "{g:?}");
        }
        // Every prefix of a valid object, and every single-byte corruption of it.
        for cut in 0..GOOD.len() {
            assert!(Intent::from_json(&GOOD[..cut]).is_err());
        }
        for at in 0..GOOD.len() {
            for b in [b'"', b'}', b'-', b'9', b'e', b' '] {
                let mut bytes = GOOD.as_bytes().to_vec();
                bytes[at] = b;
                if let Ok(s) = std::str::from_utf8(&bytes) {
                    let _ = Intent::from_json(s);
                }
            }
        }
    }
}

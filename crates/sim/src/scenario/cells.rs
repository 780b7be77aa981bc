//! The syntax of one record: its cells and `params`, and the bounds of every value in them.
//! Errors name the file, line and field. What a row means is the parent module's.

use std::fmt;

use rust_decimal::Decimal;

use super::{ScenarioError, HEADER};
use crate::model::{IntentId, Side, Symbol};
use crate::router::limits;

pub(super) fn error(file: &str, line: usize, field: &str, message: String) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message,
    }
}

/// Where a record is: the context of its errors.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    pub(super) file: &'a str,
    pub(super) line: usize,
}

impl At<'_> {
    pub(super) fn err(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        error(self.file, self.line, field, message.into())
    }
}

pub(super) use crate::input::show;

pub(super) const T_MS: usize = 0;
pub(super) const ACTION: usize = 1;
pub(super) const SYMBOL: usize = 2;
pub(super) const SIDE: usize = 3;
pub(super) const QTY: usize = 4;
pub(super) const PRICE: usize = 5;
pub(super) const PARAMS: usize = 6;

/// One record's trimmed cells and their location.
pub(super) struct Cells<'a> {
    pub(super) at: At<'a>,
    pub(super) cells: &'a [&'a str; 7],
    pub(super) action: &'a str,
}

impl<'a> Cells<'a> {
    pub(super) fn get(&self, col: usize) -> Option<&'a str> {
        let c: &'a str = self.cells[col];
        (!c.is_empty()).then_some(c)
    }

    pub(super) fn require(&self, col: usize) -> Result<&'a str, ScenarioError> {
        self.get(col).ok_or_else(|| {
            self.at
                .err(HEADER[col], format!("required for {}", self.action))
        })
    }

    pub(super) fn unused(&self, cols: &[usize]) -> Result<(), ScenarioError> {
        for &col in cols {
            if let Some(c) = self.get(col) {
                return Err(self.at.err(
                    HEADER[col],
                    format!("must be empty for {} (found {})", self.action, show(c)),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn symbol(&self) -> Result<Symbol, ScenarioError> {
        let text = self.require(SYMBOL)?;
        parse_symbol(self.at, text)
    }

    pub(super) fn side(&self) -> Result<Side, ScenarioError> {
        let text = self.require(SIDE)?;
        Side::parse(text).map_err(|_| {
            self.at
                .err("side", format!("{} is neither buy nor sell", show(text)))
        })
    }

    pub(super) fn decimal(&self, col: usize, bound: Bound) -> Result<Decimal, ScenarioError> {
        let text = self.require(col)?;
        decimal_in(self.at, HEADER[col], text, bound)
    }

    pub(super) fn params(&self, allowed: &[&str]) -> Result<Params<'a>, ScenarioError> {
        Params::parse(self.at, self.cells[PARAMS], self.action, allowed)
    }
}

pub(super) fn parse_symbol(at: At<'_>, text: &str) -> Result<Symbol, ScenarioError> {
    let symbol = Symbol::parse(text).map_err(|_| {
        at.err(
            "symbol",
            format!(
                "{} is not a market BASE/QUOTE of two different assets of [A-Z0-9._:-]",
                show(text)
            ),
        )
    })?;
    // Venues list markets in upper case; `btc/usdt` would be a market of its own here.
    if text.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(at.err(
            "symbol",
            format!(
                "{} must be upper case, as venues list it: {}",
                show(text),
                text.to_ascii_uppercase()
            ),
        ));
    }
    Ok(symbol)
}

/// The `key=value` pairs of a params cell, keys checked against the action's.
pub(super) struct Params<'a> {
    pub(super) at: At<'a>,
    pub(super) entries: Vec<(&'a str, &'a str)>,
}

impl<'a> Params<'a> {
    pub(super) fn parse(
        at: At<'a>,
        text: &'a str,
        action: &str,
        allowed: &[&str],
    ) -> Result<Params<'a>, ScenarioError> {
        let mut entries: Vec<(&'a str, &'a str)> = Vec::new();
        for piece in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = piece.split_once('=') else {
                return Err(at.err("params", format!("{} is not key=value", show(piece))));
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(at.err("params", format!("{} has no key", show(piece))));
            }
            if !allowed.contains(&key) {
                let message = if allowed.is_empty() {
                    format!(
                        "unknown key {} for {action} (it takes no params)",
                        show(key)
                    )
                } else {
                    format!(
                        "unknown key {} for {action} (expected one of {})",
                        show(key),
                        allowed.join(", ")
                    )
                };
                return Err(at.err("params", message));
            }
            if entries.iter().any(|&(k, _)| k == key) {
                return Err(at.err("params", format!("duplicate key {}", show(key))));
            }
            entries.push((key, value));
        }
        Ok(Params { at, entries })
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|&(k, _)| k == key)
    }

    /// The value of `key` when given; an empty value is an error.
    pub(super) fn get(&self, key: &str) -> Result<Option<&'a str>, ScenarioError> {
        match self.entries.iter().find(|&&(k, _)| k == key) {
            None => Ok(None),
            Some((_, "")) => Err(self.at.err(key, "missing value after =")),
            Some(&(_, v)) => Ok(Some(v)),
        }
    }

    pub(super) fn require(&self, key: &str, what: &str) -> Result<&'a str, ScenarioError> {
        self.get(key)?
            .ok_or_else(|| self.at.err("params", format!("{what} needs {key}=...")))
    }

    pub(super) fn decimal(
        &self,
        key: &str,
        bound: Bound,
    ) -> Result<Option<Decimal>, ScenarioError> {
        match self.get(key)? {
            None => Ok(None),
            Some(text) => decimal_in(self.at, key, text, bound).map(Some),
        }
    }

    pub(super) fn int(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ScenarioError> {
        match self.get(key)? {
            None => Ok(None),
            Some(text) => int_in(self.at, key, text, min, max).map(Some),
        }
    }

    pub(super) fn int32(&self, key: &str, min: u32) -> Result<Option<u32>, ScenarioError> {
        match self.int(key, u64::from(min), u64::from(u32::MAX))? {
            None => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| self.at.err(key, format!("{v} is too large"))),
        }
    }

    /// A valid identifier (intent id, label).
    pub(super) fn id(&self, key: &str) -> Result<Option<IntentId>, ScenarioError> {
        match self.get(key)? {
            None => Ok(None),
            Some(text) => IntentId::new(text).map(Some).map_err(|_| {
                self.at.err(
                    key,
                    format!(
                        "{} is not a valid id (1 to 128 characters of [A-Za-z0-9._:/-])",
                        show(text)
                    ),
                )
            }),
        }
    }
}

/// What a decimal value must satisfy. Every one is also at most [`limits::MAX_AMOUNT`].
#[derive(Clone, Copy)]
pub(super) enum Bound {
    Positive,
    NonNegative,
    /// In (0, 1].
    Ratio,
    /// Basis points in [0, 10000).
    Bps,
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bound::Positive => "a positive decimal",
            Bound::NonNegative => "a non-negative decimal",
            Bound::Ratio => "a decimal in (0, 1]",
            Bound::Bps => "a decimal in [0, 10000) (basis points)",
        })
    }
}

pub(super) fn decimal_in(
    at: At<'_>,
    field: &str,
    text: &str,
    bound: Bound,
) -> Result<Decimal, ScenarioError> {
    if text.is_empty() {
        return Err(at.err(field, format!("missing value, expected {bound}")));
    }
    if !decimal_syntax(text) {
        return Err(at.err(
            field,
            format!("{} is not a decimal number (expected {bound})", show(text)),
        ));
    }
    let parsed = match text.split_once(['e', 'E']) {
        // from_scientific rounds an over-long mantissa; check it is exact first.
        Some((mantissa, _)) => {
            Decimal::from_str_exact(mantissa).and_then(|_| Decimal::from_scientific(text))
        }
        None => Decimal::from_str_exact(text),
    };
    let value = parsed.map_err(|_| {
        at.err(
            field,
            format!(
                "{} is out of the decimal range (at most 28 fractional digits, magnitude below 7.9e28)",
                show(text)
            ),
        )
    })?;
    let ok = match bound {
        Bound::Positive => value > Decimal::ZERO,
        Bound::NonNegative => value >= Decimal::ZERO,
        Bound::Ratio => value > Decimal::ZERO && value <= Decimal::ONE,
        Bound::Bps => value >= Decimal::ZERO && value < limits::MAX_BPS,
    };
    if value > limits::MAX_AMOUNT {
        return Err(at.err(
            field,
            format!(
                "{} is too large (at most {})",
                show(text),
                limits::MAX_AMOUNT
            ),
        ));
    }
    if ok {
        Ok(value)
    } else {
        Err(at.err(field, format!("{} must be {bound}", show(text))))
    }
}

/// `[+-]digits[.digits][(e|E)[+-]digits]`, with at least one mantissa digit (`.5`, `5.` too).
/// Rules out `NaN`, `inf`, `1_000` and other spellings `Decimal`'s parsers would take.
pub(super) fn decimal_syntax(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

pub(super) fn int_in(
    at: At<'_>,
    field: &str,
    text: &str,
    min: u64,
    max: u64,
) -> Result<u64, ScenarioError> {
    if text.is_empty() {
        return Err(at.err(field, "missing value, expected a whole number"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(at.err(
            field,
            format!("{} is not a whole number (digits only)", show(text)),
        ));
    }
    let value = text
        .parse::<u64>()
        .ok()
        .filter(|&v| v <= max)
        .ok_or_else(|| {
            at.err(
                field,
                format!("{} is too large (at most {max})", show(text)),
            )
        })?;
    if value < min {
        return Err(at.err(field, format!("{} must be at least {min}", show(text))));
    }
    Ok(value)
}

//! Request parameters, read the way Binance reads them: from the query string and the
//! form-encoded body together, each name at most once, every value checked against its legal
//! characters and bounds, and every parameter sent also read (`-1104` otherwise).

use std::cell::Cell;

use rust_decimal::Decimal;

use super::error::ApiError;

/// At most this many parameters in one request.
pub const MAX_PARAMS: usize = 64;
/// Digits Binance accepts before and after the point of a decimal parameter.
const MAX_INT_DIGITS: usize = 20;
/// The venue's asset precision: more decimals than this are refused (`-1111`).
pub const PRECISION: u32 = 8;

/// The parameters of one request.
#[derive(Debug)]
pub struct Params {
    items: Vec<(String, String)>,
    read: Vec<Cell<bool>>,
}

impl Params {
    /// Decodes `query` and `body` (both `application/x-www-form-urlencoded`). A name sent
    /// twice in one of them is `-1101`; a name in both takes the query string's value, as
    /// Binance does. More than [`MAX_PARAMS`] parameters is `-1101` too.
    pub fn parse(query: &str, body: &[u8]) -> Result<Params, ApiError> {
        let mut items: Vec<(String, String)> = Vec::new();
        for (part, raw) in [query.as_bytes(), body].into_iter().enumerate() {
            let first_of_part = items.len();
            for (k, v) in form_urlencoded::parse(raw) {
                if k.is_empty() && v.is_empty() {
                    continue;
                }
                if items.len() >= MAX_PARAMS {
                    return Err(ApiError::too_many_params());
                }
                if let Some(i) = items.iter().position(|(n, _)| *n == k) {
                    if part == 1 && i < first_of_part {
                        continue;
                    }
                    return Err(ApiError::duplicate_param());
                }
                items.push((k.into_owned(), v.into_owned()));
            }
        }
        let read = items.iter().map(|_| Cell::new(false)).collect();
        Ok(Params { items, read })
    }

    /// Whether `name` was sent with a value, without counting it as read (for weights).
    pub fn peek(&self, name: &str) -> bool {
        self.items.iter().any(|(k, v)| k == name && !v.is_empty())
    }

    /// The value of `name`, marked as read; `None` when absent or empty.
    pub fn raw(&self, name: &str) -> Option<&str> {
        let i = self.items.iter().position(|(k, _)| k == name)?;
        self.read[i].set(true);
        let v = self.items[i].1.as_str();
        (!v.is_empty()).then_some(v)
    }

    /// Whether `name` was sent at all (even empty).
    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// `-1104` unless every parameter sent was read.
    pub fn all_read(&self) -> Result<(), ApiError> {
        let read = self.read.iter().filter(|c| c.get()).count();
        if read == self.items.len() {
            Ok(())
        } else {
            Err(ApiError::unread_params(read, self.items.len()))
        }
    }

    /// Every parameter, in the order sent, for the record.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn required<'a, T>(
        &'a self,
        name: &str,
        get: impl FnOnce(&'a Self, &str) -> Result<Option<T>, ApiError>,
    ) -> Result<T, ApiError> {
        get(self, name)?.ok_or_else(|| ApiError::mandatory(name))
    }

    /// A non-negative decimal: at most 20 digits before the point, at most
    /// [`PRECISION`] significant decimals after it.
    pub fn decimal(&self, name: &str) -> Result<Option<Decimal>, ApiError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty()
            || int.len() > MAX_INT_DIGITS
            || frac.len() > MAX_INT_DIGITS
            || !digits(int)
            || !digits(frac)
            || (v.contains('.') && frac.is_empty())
        {
            return Err(ApiError::illegal_chars(name));
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > PRECISION as usize {
            return Err(ApiError::too_much_precision(name));
        }
        let text = if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        };
        text.parse::<Decimal>()
            .map(Some)
            .map_err(|_| ApiError::illegal_chars(name))
    }

    /// A whole number in `0..=u64::MAX` (times, ids, windows).
    pub fn uint(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        if v.len() > MAX_INT_DIGITS || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::illegal_chars(name));
        }
        v.parse()
            .map(Some)
            .map_err(|_| ApiError::illegal_chars(name))
    }

    /// A whole number in `1..=max`; `default` when absent.
    pub fn limit(&self, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
        match self.uint(name)? {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::illegal_chars(name)),
        }
    }

    /// A market-data `limit`: a whole number from 1, capped at `max` as Binance caps it
    /// (a larger one is not an error); `default` when absent. Zero and non-numbers are
    /// refused (`-1100`).
    pub fn capped_limit(&self, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
        match self.uint(name)? {
            None => Ok(default),
            Some(0) => Err(ApiError::illegal_chars(name)),
            Some(n) => Ok(n.min(max)),
        }
    }

    /// An identifier of Binance's alphabet (`A-Z a-z 0-9 . : / _ -`), 1 to `max` characters.
    pub fn ident(&self, name: &str, max: usize) -> Result<Option<&str>, ApiError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let ok = v.len() <= max
            && v.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'/' | b'_' | b'-')
            });
        if ok {
            Ok(Some(v))
        } else {
            Err(ApiError::illegal_chars(name))
        }
    }
}

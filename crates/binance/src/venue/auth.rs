//! Binance's SIGNED security: an API key in the `X-MBX-APIKEY` header, and an HMAC-SHA256
//! `signature` (hex) over the query string followed by the body, both without the `signature`
//! parameter itself; a `timestamp` that must fall within `recvWindow` of the venue's clock.

use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::params::Params;
use crate::model::TimeMs;

/// The longest receive window a request may ask for.
pub const MAX_RECV_WINDOW_MS: u64 = 60_000;
/// The window when the request names none.
pub const DEFAULT_RECV_WINDOW_MS: u64 = 5_000;
/// A `timestamp` this large is in microseconds (Binance takes either).
const MICROS_FROM: u64 = 100_000_000_000_000;
/// How far a request's `timestamp` may run ahead of the venue's clock.
const AHEAD_MS: u64 = 1_000;

/// The one API key pair the venue accepts.
#[derive(Clone)]
pub struct Credentials {
    key: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Why a key pair cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("the API key must be 1 to 128 printable ASCII characters without spaces")]
    Key,
    #[error("the API secret must be 1 to 512 bytes")]
    Secret,
}

impl Credentials {
    pub fn new(key: &str, secret: &str) -> Result<Credentials, CredentialsError> {
        if !valid_key(key) {
            return Err(CredentialsError::Key);
        }
        if secret.is_empty() || secret.len() > 512 {
            return Err(CredentialsError::Secret);
        }
        Ok(Credentials {
            key: key.to_string(),
            secret: secret.as_bytes().to_vec(),
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The hex signature of `payload` under this secret (what a client computes).
    pub fn sign(&self, payload: &[u8]) -> String {
        hex::encode(self.mac(payload).finalize().into_bytes())
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(payload);
        mac
    }

    /// `-2014`/`-2015` unless `header` is this key; compared in constant time.
    pub fn check_key(&self, header: Option<&str>) -> Result<(), ApiError> {
        let Some(got) = header else {
            return Err(ApiError::bad_api_key_format());
        };
        if !valid_key(got) {
            return Err(ApiError::bad_api_key_format());
        }
        if bool::from(got.as_bytes().ct_eq(self.key.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::rejected_api_key())
        }
    }

    /// Checks a SIGNED request whose key already passed: `timestamp` and `recvWindow` against
    /// `now`, then the signature over `query` and `body` (`-1022`), in constant time.
    pub fn check_signed(
        &self,
        params: &Params,
        query: &str,
        body: &[u8],
        now: TimeMs,
    ) -> Result<(), ApiError> {
        let mut timestamp = params.required("timestamp", Params::uint)?;
        if timestamp >= MICROS_FROM {
            timestamp /= 1_000;
        }
        // Milliseconds, with up to three decimals; the fraction cannot matter to a clock that
        // counts whole milliseconds.
        let window = match params.decimal("recvWindow")? {
            None => DEFAULT_RECV_WINDOW_MS,
            Some(w) if w > Decimal::from(MAX_RECV_WINDOW_MS) => {
                return Err(ApiError::bad_recv_window())
            }
            Some(w) => w.trunc().to_u64().unwrap_or(0),
        };
        let signature = params
            .raw("signature")
            .ok_or_else(|| ApiError::mandatory("signature"))?;
        if timestamp >= now.saturating_add(AHEAD_MS) {
            return Err(ApiError::timestamp_ahead());
        }
        if now.saturating_sub(timestamp) > window {
            return Err(ApiError::outside_recv_window());
        }
        let Ok(sig) = hex::decode(signature) else {
            return Err(ApiError::bad_signature());
        };
        let mut mac = self.mac(&without_signature(query.as_bytes()));
        mac.update(&without_signature(body));
        mac.verify_slice(&sig)
            .map_err(|_| ApiError::bad_signature())
    }

    /// Checks a SIGNED WebSocket API request: the same `timestamp` and `recvWindow` rules,
    /// the signature over `payload` (the sorted parameters, as the client signed them).
    pub fn check_signed_payload(
        &self,
        params: &Params,
        payload: &[u8],
        now: TimeMs,
    ) -> Result<(), ApiError> {
        self.check_signed(params, "", payload, now)
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic())
}

/// `raw` (`a=1&b=2&signature=..`) without its `signature=` parameter(s), byte for byte
/// otherwise: what the client signed.
fn without_signature(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for part in raw.split(|&b| b == b'&') {
        if part.starts_with(b"signature=") || part == b"signature" {
            continue;
        }
        if !out.is_empty() {
            out.push(b'&');
        }
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Binance's API documentation (SIGNED endpoint security).
    const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn the_documented_examples_verify() {
        let c = Credentials::new(KEY, SECRET).unwrap();
        let q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let want = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        assert_eq!(c.sign(q.as_bytes()), want);
        let now = 1_499_827_319_559 + 100;
        // All in the query string.
        let query = format!("{q}&signature={want}");
        let p = Params::parse(&query, b"").unwrap();
        c.check_signed(&p, &query, b"", now).unwrap();
        // All in the body.
        let body = format!("{q}&signature={want}");
        let p = Params::parse("", body.as_bytes()).unwrap();
        c.check_signed(&p, "", body.as_bytes(), now).unwrap();
        // Mixed: query string first, then the body, concatenated without a separator.
        let (qs, b) = (
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
            "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
        );
        let mixed = c.sign(format!("{qs}{b}").as_bytes());
        assert_eq!(
            mixed,
            "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
        );
        let query = format!("{qs}&signature={mixed}");
        let p = Params::parse(&query, b.as_bytes()).unwrap();
        c.check_signed(&p, &query, b.as_bytes(), now).unwrap();
    }

    #[test]
    fn a_changed_byte_a_stale_timestamp_or_another_key_is_refused() {
        let c = Credentials::new(KEY, SECRET).unwrap();
        let q = "symbol=LTCBTC&quantity=1&timestamp=1000";
        let sig = c.sign(q.as_bytes());
        let tampered = format!("symbol=LTCBTC&quantity=2&timestamp=1000&signature={sig}");
        let p = Params::parse(&tampered, b"").unwrap();
        assert_eq!(
            c.check_signed(&p, &tampered, b"", 1_500).unwrap_err().code,
            -1022
        );
        let good = format!("{q}&signature={sig}");
        let p = Params::parse(&good, b"").unwrap();
        assert!(c.check_signed(&p, &good, b"", 1_500).is_ok());
        // 5,001 ms late, and 1,000 ms early.
        assert_eq!(
            c.check_signed(&p, &good, b"", 6_001).unwrap_err().code,
            -1021
        );
        assert_eq!(c.check_signed(&p, &good, b"", 0).unwrap_err().code, -1021);
        assert_eq!(c.check_key(Some("other")).unwrap_err().code, -2015);
        assert_eq!(c.check_key(None).unwrap_err().code, -2014);
        assert!(c.check_key(Some(KEY)).is_ok());
    }
}

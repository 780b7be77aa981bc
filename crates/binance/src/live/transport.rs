//! The live client's two seams: how a request reaches the venue ([`Transport`]) and what time
//! it is ([`Clock`]). Production sends over reqwest and reads the wall clock; the stack fuzz
//! mode ([`crate::stack`]) hands the same bytes to the venue's sans-IO handler in process, on
//! tokio's paused clock, so the client's signing, parsing, error table and rate-limit holds
//! run exactly as they do against a real venue.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::model::TimeMs;

/// One HTTP request as the client built it: everything the venue sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    pub method: reqwest::Method,
    /// `/api/v3/order`.
    pub path: String,
    /// The query string without `?` (signed requests carry `timestamp` and `signature` here).
    pub query: String,
    /// The `X-MBX-APIKEY` header.
    pub api_key: Option<String>,
}

/// One HTTP answer: status, headers (names in lower case) and body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WireAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireAnswer {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The request got no answer: timed out, reset, refused. It may or may not have reached the
/// venue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct NoAnswer {
    pub detail: String,
    /// No connection could be made: nothing listens there. A dropped or timed-out
    /// connection is not this: the venue is there and lost one answer.
    pub connect: bool,
}

impl NoAnswer {
    /// An answer lost on an established connection.
    pub fn lost(detail: impl Into<String>) -> NoAnswer {
        NoAnswer {
            detail: detail.into(),
            connect: false,
        }
    }
}

/// A boxed future, so the trait stays object safe.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<WireAnswer, NoAnswer>> + Send + 'a>>;

/// How a request reaches the venue and its answer comes back.
pub trait Transport: Send + Sync + std::fmt::Debug {
    fn send(&self, req: WireRequest) -> Sending<'_>;
}

/// Where the client and the driver read the time, in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> TimeMs;
}

/// The wall clock: the production [`Clock`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ms(&self) -> TimeMs {
        super::client::wall_clock_ms()
    }
}

/// The production [`Transport`]: reqwest over HTTP(S) to `base`.
#[derive(Debug)]
pub struct HttpTransport {
    http: reqwest::Client,
    base: String,
}

impl HttpTransport {
    /// A client of the venue at `base` with `timeout_ms` per request.
    pub fn new(base: &str, timeout_ms: u64) -> Result<HttpTransport, reqwest::Error> {
        super::client::install_tls();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .connect_timeout(Duration::from_millis(timeout_ms.min(5_000)))
            .build()?;
        Ok(HttpTransport {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }
}

impl Transport for HttpTransport {
    fn send(&self, req: WireRequest) -> Sending<'_> {
        Box::pin(async move {
            let url = if req.query.is_empty() {
                format!("{}{}", self.base, req.path)
            } else {
                format!("{}{}?{}", self.base, req.path, req.query)
            };
            let mut rb = self.http.request(req.method, url);
            if let Some(k) = req.api_key {
                rb = rb.header("X-MBX-APIKEY", k);
            }
            let failed = |e: reqwest::Error| NoAnswer {
                detail: super::client::error_chain(&e),
                connect: e.is_connect(),
            };
            let resp = rb.send().await.map_err(failed)?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let body = resp.bytes().await.map_err(failed)?.to_vec();
            Ok(WireAnswer {
                status,
                headers,
                body,
            })
        })
    }
}

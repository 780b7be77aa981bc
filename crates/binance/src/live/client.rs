//! The live adapter's HTTP side: reqwest on tokio. Signs requests as Binance wants them, keeps
//! the offset between the local clock and the venue's, and honours the rate-limit headers: after
//! a 429 or 418 (`Retry-After`), or once the minute's weight is nearly spent, nothing is sent
//! until the wait is over. The driver tells the router of the hold, so it makes no new
//! requests meanwhile; a command that left the router before it knew waits here, unsent, and
//! goes out when the hold ends (a wait is not an attempt).

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;

use super::binance::{self, Call, Markets, ParseError};
use super::mutant::AdapterMutant;
use super::transport::{
    Clock, HttpTransport, NoAnswer, Transport, WallClock, WireAnswer, WireRequest,
};
use crate::exchange::ExchangeError;
use crate::model::{Asset, Symbol, TimeMs};
use crate::router::{Action, Command, Reply, ReplyOutcome};
use crate::venue::Credentials;

/// Why the venue could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("venue {url} unreachable: {detail}")]
    Unreachable { url: String, detail: String },
    /// The venue is there (a connection was made) but this answer was lost.
    #[error("venue {url} did not answer: {detail}")]
    NoAnswer { url: String, detail: String },
    #[error("venue {url} refused {what}: HTTP {status} {body}")]
    Refused {
        url: String,
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("venue {url}: {0}", url = .1)]
    Parse(ParseError, String),
}

/// Installs the process-wide TLS provider (ring) that reqwest's rustls needs before any client
/// is built; a second call does nothing.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The wall clock in Unix milliseconds: the live driver's one clock.
#[allow(clippy::disallowed_methods)]
pub fn wall_clock_ms() -> TimeMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as TimeMs)
}

/// A Binance spot REST client.
#[derive(Debug)]
pub struct Client {
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    base: String,
    credentials: Credentials,
    recv_window_ms: u64,
    /// Venue clock minus local clock.
    offset_ms: AtomicI64,
    /// Local wall-clock time before which nothing is sent.
    not_before: AtomicU64,
    /// Until when the venue has banned this client (HTTP 418), local time; 0 when never.
    banned_until: AtomicU64,
    /// The venue's request weight per minute (0: unknown).
    weight_limit: AtomicU32,
    /// The venue's `ORDERS` rate limits, from `exchangeInfo`.
    order_limits: std::sync::Mutex<Vec<crate::router::OrderLimit>>,
    /// Requests sent.
    pub sent: AtomicU64,
    /// A deliberate bug of the adapter (only ever set in builds with the `mutants` feature).
    mutant: Option<AdapterMutant>,
}

impl Client {
    /// A client of the venue at `base` (`http://127.0.0.1:8900`, `https://testnet.binance.vision`),
    /// with `timeout_ms` per request.
    pub fn new(
        base: &str,
        credentials: Credentials,
        timeout_ms: u64,
        recv_window_ms: u64,
    ) -> Result<Client, LiveError> {
        let http = HttpTransport::new(base, timeout_ms).map_err(|e| LiveError::Unreachable {
            url: base.to_string(),
            detail: e.to_string(),
        })?;
        Ok(Client::over(
            base,
            credentials,
            recv_window_ms,
            Arc::new(http),
            Arc::new(WallClock),
        ))
    }

    /// A client that sends through `transport` and reads `clock`: the seam the stack fuzz mode
    /// puts the venue's handler and simulated time behind. `base` only names the venue.
    pub fn over(
        base: &str,
        credentials: Credentials,
        recv_window_ms: u64,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
    ) -> Client {
        Client {
            transport,
            clock,
            base: base.trim_end_matches('/').to_string(),
            credentials,
            recv_window_ms,
            offset_ms: AtomicI64::new(0),
            not_before: AtomicU64::new(0),
            banned_until: AtomicU64::new(0),
            weight_limit: AtomicU32::new(0),
            order_limits: std::sync::Mutex::new(Vec::new()),
            sent: AtomicU64::new(0),
            mutant: None,
        }
    }

    /// Switches on the adapter's deliberate bug `m`: `false`, and nothing changed, in a build
    /// without them.
    pub fn set_mutant(&mut self, m: AdapterMutant) -> bool {
        self.mutant = AdapterMutant::AVAILABLE.then_some(m);
        self.mutant.is_some()
    }

    /// Whether the deliberate bug `m` is on.
    pub(crate) fn has(&self, m: AdapterMutant) -> bool {
        AdapterMutant::AVAILABLE && self.mutant == Some(m)
    }

    /// The clock the client (and its driver) reads.
    pub fn now_ms(&self) -> TimeMs {
        self.clock.now_ms()
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Local time before which nothing is sent (in the past when there is no hold).
    pub fn not_before(&self) -> TimeMs {
        self.not_before.load(Ordering::Relaxed)
    }

    /// Until when the venue banned this client (HTTP 418), local time; 0 when it never did.
    pub fn banned_until(&self) -> TimeMs {
        self.banned_until.load(Ordering::Relaxed)
    }

    /// The venue's order-rate limits, for the router's pacing.
    pub fn order_limits(&self) -> Vec<crate::router::OrderLimit> {
        self.order_limits
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Sleeps until the rate-limit hold is over (it may grow while waiting).
    async fn wait_out_hold(&self) {
        loop {
            let now = self.clock.now_ms();
            let until = self.not_before();
            if now >= until {
                return;
            }
            tokio::time::sleep(Duration::from_millis(until - now)).await;
        }
    }

    fn venue_time(&self, local: TimeMs) -> TimeMs {
        local.saturating_add_signed(self.offset_ms.load(Ordering::Relaxed))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &str,
        signed_at: Option<TimeMs>,
    ) -> Result<WireAnswer, NoAnswer> {
        let mut query = params.to_string();
        let mut req_key = None;
        if let Some(local) = signed_at {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!(
                "recvWindow={}&timestamp={}",
                self.recv_window_ms,
                self.venue_time(local)
            ));
            let sig = self.credentials.sign(query.as_bytes());
            query.push_str("&signature=");
            query.push_str(&sig);
            req_key = Some(self.credentials.key());
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .transport
            .send(WireRequest {
                method,
                path: path.to_string(),
                query,
                api_key: req_key.map(str::to_string),
            })
            .await?;
        self.honour_limits(&answer);
        Ok(answer)
    }

    /// `Retry-After` on 429/418, and the weight used this minute.
    fn honour_limits(&self, answer: &WireAnswer) {
        let status = answer.status;
        let header = |name: &str| {
            if name == "retry-after" && self.has(AdapterMutant::AdapterIgnoresRetryAfter) {
                return None;
            }
            answer
                .header(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let now = self.clock.now_ms();
        let wait = hold_until(
            now,
            self.venue_time(now),
            status,
            header("retry-after"),
            header("x-mbx-used-weight-1m"),
            self.weight_limit.load(Ordering::Relaxed),
        );
        if let Some(t) = wait {
            self.not_before.fetch_max(t, Ordering::Relaxed);
            if status == 418 {
                self.banned_until.fetch_max(t, Ordering::Relaxed);
            }
        }
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> LiveError {
        LiveError::Unreachable {
            url: self.base.clone(),
            detail: e.to_string(),
        }
    }

    async fn setup_call(
        &self,
        what: &'static str,
        path: &str,
        params: &str,
        signed: bool,
    ) -> Result<Vec<u8>, LiveError> {
        let at = signed.then(|| self.clock.now_ms());
        let a = self
            .send(reqwest::Method::GET, path, params, at)
            .await
            .map_err(|e| {
                if e.connect {
                    self.unreachable(e)
                } else {
                    LiveError::NoAnswer {
                        url: self.base.clone(),
                        detail: e.detail,
                    }
                }
            })?;
        if a.status != 200 {
            return Err(LiveError::Refused {
                url: self.base.clone(),
                what,
                status: a.status,
                body: String::from_utf8_lossy(&a.body).chars().take(300).collect(),
            });
        }
        Ok(a.body)
    }

    fn parsed<T>(&self, r: Result<T, ParseError>) -> Result<T, LiveError> {
        r.map_err(|e| LiveError::Parse(e, self.base.clone()))
    }

    /// Measures the venue clock's offset from the local one (half the round trip counted).
    pub async fn sync_time(&self) -> Result<i64, LiveError> {
        let t0 = self.clock.now_ms();
        let body = self
            .setup_call("the time", "/api/v3/time", "", false)
            .await?;
        let t1 = self.clock.now_ms();
        let server = self.parsed(binance::parse_time(&body))?;
        let offset = server as i64 - ((t0 + t1) / 2) as i64;
        self.offset_ms.store(offset, Ordering::Relaxed);
        Ok(offset)
    }

    /// The account's free balances and taker fee (bps).
    pub async fn account(&self) -> Result<(Vec<(Asset, Decimal)>, Decimal), LiveError> {
        let body = self
            .setup_call("the account", "/api/v3/account", "", true)
            .await?;
        self.parsed(binance::parse_account(&body))
    }

    /// Every market's rules; also learns the weight limit.
    pub async fn markets(&self, fee_bps: Decimal) -> Result<Markets, LiveError> {
        let body = self
            .setup_call("the markets", "/api/v3/exchangeInfo", "", false)
            .await?;
        if let Some(limit) = binance::parse_weight_limit(&body) {
            self.weight_limit.store(limit, Ordering::Relaxed);
        }
        if let Ok(mut l) = self.order_limits.lock() {
            *l = binance::parse_order_limits(&body);
        }
        self.parsed(binance::parse_exchange_info(&body, fee_bps))
    }

    /// Best bid and ask of `symbol`.
    pub async fn book_ticker(&self, symbol: &Symbol) -> Result<(Decimal, Decimal), LiveError> {
        let q = format!("symbol={}", Markets::name(symbol));
        let body = self
            .setup_call("the book ticker", "/api/v3/ticker/bookTicker", &q, false)
            .await?;
        self.parsed(binance::parse_book_ticker(&body))
    }

    /// Runs one router command at local time `now` and returns the router's reply. Every way
    /// a request can fail becomes one of the router's outcomes: see [`binance::CODES`].
    pub async fn execute(&self, cmd: &Command, now: TimeMs) -> Reply {
        self.wait_out_hold().await;
        let Call {
            method,
            path,
            params,
            ..
        } = binance::call_for(&cmd.action);
        // A placement is signed with the time the router sent it: the receive window the
        // router reasons about is measured from there.
        let at = match &cmd.action {
            Action::Place(r) => r.sent_ms(),
            _ => now,
        };
        let answer = match self.send(method, path, &params, Some(at)).await {
            Ok(a) => a,
            // Timed out, reset, refused: the request may have reached the venue (or, refused,
            // it did not; the router finds out by asking either way).
            Err(_) => return cmd.lost(ExchangeError::Timeout),
        };
        if answer.status != 200 {
            let mut error = binance::classify(answer.status, &answer.body, &cmd.action);
            if self.has(AdapterMutant::AdapterUnknownAsRefused) {
                error = super::mutant::unknown_as_refused(error, answer.status);
            }
            if error == ExchangeError::RecvWindowExpired {
                let _ = self.sync_time().await;
            }
            if let ExchangeError::RateLimited { retry_after_ms } = &mut error {
                let left = self.not_before().saturating_sub(self.clock.now_ms());
                if left > 0 {
                    *retry_after_ms = left;
                }
            }
            return cmd.lost(error);
        }
        let outcome = match &cmd.action {
            Action::FetchTrades { symbol, .. } => ReplyOutcome::Trades(
                binance::parse_trades(&answer.body, symbol)
                    .map_err(|e| ExchangeError::ServerError(e.to_string())),
            ),
            Action::Place(r) => ReplyOutcome::Order(
                binance::parse_order(&answer.body, r.symbol())
                    .map_err(|e| ExchangeError::ServerError(e.to_string())),
            ),
            Action::FetchOrder { symbol, .. } | Action::Cancel { symbol, .. } => {
                ReplyOutcome::Order(
                    binance::parse_order(&answer.body, symbol)
                        .map_err(|e| ExchangeError::ServerError(e.to_string())),
                )
            }
        };
        Reply {
            request_id: cmd.request_id,
            outcome,
        }
    }
}

/// Until when (local time) nothing may be sent after an answer with `status`, its
/// `Retry-After` (seconds) and the weight used this minute, given the venue's weight limit per
/// minute (0: unknown); `None` when the client may go on.
pub fn hold_until(
    now: TimeMs,
    venue_now: TimeMs,
    status: u16,
    retry_after_s: Option<u64>,
    used_weight: Option<u64>,
    weight_limit: u32,
) -> Option<TimeMs> {
    let mut until = None;
    if status == 429 || status == 418 {
        let secs = retry_after_s.unwrap_or(1).min(3 * 86_400);
        until = Some(now.saturating_add(secs * 1_000));
    }
    let limit = u64::from(weight_limit);
    // Keep a tenth of the minute's weight in hand: queries must still get through.
    if let Some(used) = used_weight {
        if limit > 0 && used * 10 >= limit * 9 {
            let next_minute = (venue_now / 60_000 + 1) * 60_000;
            let t = now.saturating_add(next_minute.saturating_sub(venue_now));
            until = Some(until.map_or(t, |u: TimeMs| u.max(t)));
        }
    }
    until
}

/// An error with its causes: reqwest's own message hides "connection refused".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

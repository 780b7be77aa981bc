//! One WebSocket connection's protocol state, sans-IO: its subscriptions, its limits, and the
//! seeded stream faults that hit what it is sent. The server adapter feeds it frames, market
//! events and account events with the time, and carries out the [`Out`]s it returns.
//!
//! Guarantees kept under faults (Binance's own): each stream's events stay in order (only
//! events of different streams swap places); a depth diff that is lost or silenced leaves a gap
//! in `U`/`u` a client detects; account events are never lost, repeated or reordered while the
//! connection stands, and are not replayed after it drops.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::api::{self, Action};
use super::feed::MarketEvent;
use super::names;
use crate::model::TimeMs;
use crate::venue::{Delivery, Faults, Venue};

/// Streams one connection may listen to (Binance: 1,024).
pub const MAX_STREAMS: usize = 1_024;
/// Incoming messages per second a market-stream connection may send (Binance: 5).
pub const MAX_INCOMING_PER_S: usize = 5;
/// Connection attempts per IP in five minutes (Binance: 300).
pub const MAX_ATTEMPTS_PER_5_MIN: usize = 300;
/// A connection lives this long (Binance: 24 hours).
pub const DEFAULT_EXPIRY_MS: u64 = 86_400_000;

/// Random faults on what connections are sent, each per message in basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamFaults {
    /// A market event is lost.
    pub lost_bps: u32,
    /// A market event arrives twice.
    pub duplicate_bps: u32,
    /// Two adjacent market events of different streams swap places.
    pub reorder_bps: u32,
    /// From this message on, for `lag_ms`, everything arrives `lag_ms` late (in order).
    pub lag_bps: u32,
    pub lag_ms: u64,
    /// The market streams go silent for `silence_ms` (nothing sent, nothing replayed).
    pub silence_bps: u32,
    pub silence_ms: u64,
    /// The connection drops, without a close frame.
    pub drop_bps: u32,
}

impl StreamFaults {
    /// The stream faults of a named profile (`--faults`).
    pub fn of(faults: Faults) -> StreamFaults {
        let k = match faults {
            Faults::None => return StreamFaults::default(),
            Faults::Light => 1,
            Faults::Rough => 4,
        };
        StreamFaults {
            lost_bps: 50 * k,
            duplicate_bps: 50 * k,
            reorder_bps: 100 * k,
            lag_bps: 10 * k,
            lag_ms: 300,
            silence_bps: 5 * k,
            silence_ms: 2_000,
            drop_bps: 2 * k,
        }
    }
}

/// Settings of every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsConfig {
    pub expiry_ms: u64,
    pub faults: StreamFaults,
    /// Seed of the stream faults (connection `n` draws from `seed` and `n`).
    pub seed: u64,
    /// Messages a connection's outgoing queue holds; a consumer that lets it fill is dropped.
    pub queue: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            expiry_ms: DEFAULT_EXPIRY_MS,
            faults: StreamFaults::default(),
            seed: 0,
            queue: 4_096,
        }
    }
}

/// What a connection serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/ws/...` (raw payloads) or `/stream?streams=...` (`{"stream","data"}`).
    Market { combined: bool },
    /// `/ws-api/v3`.
    Api,
}

/// What the adapter does for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Sends a text frame after `delay_ms` (delays never reorder a connection's frames).
    Text { delay_ms: u64, text: String },
    /// Sends a close frame and closes.
    Close { code: u16, reason: &'static str },
    /// Cuts the connection after `delay_ms`, without a close frame.
    Cut { delay_ms: u64 },
}

/// One connection.
#[derive(Debug)]
pub struct Session {
    pub kind: Kind,
    /// The connection's number, from 1 in order of opening.
    pub conn: u64,
    subs: BTreeSet<String>,
    user_sub: Option<u64>,
    next_sub: u64,
    incoming: VecDeque<TimeMs>,
    pub expires_at: TimeMs,
    lag_until: TimeMs,
    silent_until: TimeMs,
    faults: StreamFaults,
    rng: ChaCha8Rng,
    /// Stream faults that hit, for the record.
    noted: Vec<Value>,
}

fn conn_seed(seed: u64, conn: u64) -> u64 {
    seed ^ conn.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5753_5354_5245_414d
}

/// The answer of the market-stream control methods.
fn control(id: &Value, result: Value) -> String {
    json!({"result": result, "id": id}).to_string()
}

fn control_error(id: &Value, code: i32, msg: &str) -> String {
    json!({"error": {"code": code, "msg": msg}, "id": id}).to_string()
}

impl Session {
    /// A new connection; `streams` are those named in its URL (unknown names are ignored).
    pub fn new(
        kind: Kind,
        conn: u64,
        now: TimeMs,
        cfg: &WsConfig,
        streams: &[&str],
        v: &Venue,
    ) -> Session {
        let subs = streams
            .iter()
            .filter(|s| names::parse(s, |n| v.symbols.contains_key(n)).is_some())
            .take(MAX_STREAMS)
            .map(|s| s.to_string())
            .collect();
        Session {
            kind,
            conn,
            subs,
            user_sub: None,
            next_sub: 0,
            incoming: VecDeque::new(),
            expires_at: now.saturating_add(cfg.expiry_ms),
            lag_until: 0,
            silent_until: 0,
            faults: cfg.faults,
            rng: ChaCha8Rng::seed_from_u64(conn_seed(cfg.seed, conn)),
            noted: Vec::new(),
        }
    }

    /// The market streams listened to.
    pub fn streams(&self) -> &BTreeSet<String> {
        &self.subs
    }

    /// Whether account events go to this connection.
    pub fn wants_user(&self) -> bool {
        self.user_sub.is_some()
    }

    /// The stream faults that hit since the last call, as record lines' fields.
    pub fn take_noted(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.noted)
    }

    fn roll(&mut self, bps: u32) -> bool {
        bps > 0 && self.rng.random_range(0..10_000u32) < bps
    }

    fn note(&mut self, now: TimeMs, fault: &str, stream: Option<&str>) {
        self.noted.push(json!({
            "t_ms": now, "ws": self.conn, "fault": fault, "stream": stream,
        }));
    }

    /// A ping or pong frame came in: it counts against the message rate of market streams.
    pub fn on_control_frame(&mut self, now: TimeMs) -> Vec<Out> {
        if self.kind == Kind::Api || self.admit(now) {
            Vec::new()
        } else {
            vec![Out::Close {
                code: 1008,
                reason: "too many messages",
            }]
        }
    }

    fn admit(&mut self, now: TimeMs) -> bool {
        while self
            .incoming
            .front()
            .is_some_and(|&t| t.saturating_add(1_000) <= now)
        {
            self.incoming.pop_front();
        }
        self.incoming.push_back(now);
        self.incoming.len() <= MAX_INCOMING_PER_S
    }

    /// A text frame came in. Returns what to send and the record lines of the requests it ran.
    pub fn on_text(
        &mut self,
        now: TimeMs,
        text: &str,
        v: &mut Venue,
        client: &str,
    ) -> (Vec<Out>, Vec<String>) {
        match self.kind {
            Kind::Market { .. } => {
                if !self.admit(now) {
                    return (
                        vec![Out::Close {
                            code: 1008,
                            reason: "too many messages",
                        }],
                        Vec::new(),
                    );
                }
                let answer = self.control_request(text, v);
                (self.reply(answer), Vec::new())
            }
            Kind::Api => self.api_request(now, text, v, client),
        }
    }

    fn reply(&mut self, text: String) -> Vec<Out> {
        vec![Out::Text { delay_ms: 0, text }]
    }

    /// `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`.
    fn control_request(&mut self, text: &str, v: &Venue) -> String {
        let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) else {
            return control_error(&Value::Null, 3, "Invalid JSON: expected value");
        };
        let id = m.get("id").cloned().unwrap_or(Value::Null);
        let id_ok = match &id {
            Value::Null => true,
            Value::Number(n) => n.is_i64() || n.is_u64(),
            Value::String(s) => s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric()),
            _ => false,
        };
        if !id_ok {
            return control_error(
                &Value::Null,
                2,
                "Invalid request: request ID must be an unsigned integer",
            );
        }
        let Some(method) = m.get("method").and_then(Value::as_str) else {
            return control_error(&id, 2, "Invalid request: missing field `method`");
        };
        let params = m.get("params").cloned().unwrap_or(Value::Array(Vec::new()));
        match method {
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                let Some(list) = params.as_array() else {
                    return control_error(&id, 2, "Invalid request: params must be an array");
                };
                let mut names_sent = Vec::new();
                for s in list {
                    let Some(s) = s.as_str() else {
                        return control_error(&id, 2, "Invalid request: invalid stream");
                    };
                    if names::parse(s, |n| v.symbols.contains_key(n)).is_none() {
                        return control_error(&id, 2, "Invalid request: invalid stream");
                    }
                    names_sent.push(s.to_string());
                }
                if method == "SUBSCRIBE" {
                    let fresh: BTreeSet<&String> =
                        names_sent.iter().filter(|s| !self.subs.contains(*s)).collect();
                    if self.subs.len() + fresh.len() > MAX_STREAMS {
                        return control_error(&id, 2, "Invalid request: too many streams");
                    }
                    self.subs.extend(names_sent);
                } else {
                    for s in &names_sent {
                        self.subs.remove(s);
                    }
                }
                control(&id, Value::Null)
            }
            "LIST_SUBSCRIPTIONS" => control(&id, json!(self.subs.iter().collect::<Vec<_>>())),
            "SET_PROPERTY" | "GET_PROPERTY" => {
                let name = params.get(0).and_then(Value::as_str);
                if name != Some("combined") {
                    return control_error(&id, 0, "Unknown property");
                }
                let Kind::Market { combined } = &mut self.kind else {
                    return control_error(&id, 0, "Unknown property");
                };
                if method == "GET_PROPERTY" {
                    return control(&id, json!(*combined));
                }
                match params.get(1).and_then(Value::as_bool) {
                    Some(b) => {
                        *combined = b;
                        control(&id, Value::Null)
                    }
                    None => control_error(&id, 1, "Invalid value type: expected Boolean"),
                }
            }
            _ => control_error(
                &id,
                2,
                "Invalid request: unknown variant, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
            ),
        }
    }

    fn api_request(
        &mut self,
        now: TimeMs,
        text: &str,
        v: &mut Venue,
        client: &str,
    ) -> (Vec<Out>, Vec<String>) {
        let req = match api::parse(text) {
            Ok(r) => r,
            Err(answer) => return (self.reply(answer), Vec::new()),
        };
        let (weight, orders) = v.rate_limit_settings();
        let answer = match api::action(&req.method) {
            None => api::error(&req.id, &api::unknown_method(), None),
            Some(Action::Rest {
                method,
                path,
                signed,
            }) => {
                let reply = v.handle_ws(now, method, path, &req, signed, client);
                let limits = req
                    .wants_rate_limits()
                    .then(|| api::rate_limits(&reply, weight, orders));
                let text = api::from_reply(&req.id, &reply, limits);
                let records: Vec<String> = reply.record.iter().cloned().collect();
                let outs = match reply.delivery {
                    Delivery::Now => vec![Out::Text { delay_ms: 0, text }],
                    Delivery::After(ms) => vec![Out::Text { delay_ms: ms, text }],
                    // The answer is lost with the connection.
                    Delivery::Drop => vec![Out::Cut { delay_ms: 0 }],
                    Delivery::Stall(ms) => vec![Out::Cut { delay_ms: ms }],
                };
                return (outs, records);
            }
            Some(Action::Subscribe) => match v.authorize_user_stream(now, &req, client) {
                Err(e) => api::error(&req.id, &e, None),
                Ok(_) if self.user_sub.is_some() => {
                    api::error(&req.id, &api::subscription_active(), None)
                }
                Ok(_) => {
                    let id = self.next_sub;
                    self.next_sub += 1;
                    self.user_sub = Some(id);
                    api::ok(&req.id, json!({ "subscriptionId": id }), None)
                }
            },
            Some(Action::Unsubscribe) => {
                let wanted = req.param("subscriptionId").map(|s| s.parse::<u64>().ok());
                match (wanted, self.user_sub) {
                    (_, None) => api::error(&req.id, &api::subscription_inactive(), None),
                    (Some(Some(w)), Some(id)) if w != id => {
                        api::error(&req.id, &api::subscription_inactive(), None)
                    }
                    (Some(None), _) => api::error(
                        &req.id,
                        &crate::venue::ApiError::illegal_chars("subscriptionId"),
                        None,
                    ),
                    _ => {
                        self.user_sub = None;
                        api::ok(&req.id, json!({}), None)
                    }
                }
            }
            Some(Action::Subscriptions) => {
                let list: Vec<Value> = self
                    .user_sub
                    .iter()
                    .map(|id| json!({ "subscriptionId": id }))
                    .collect();
                api::ok(&req.id, json!(list), None)
            }
        };
        (self.reply(answer), Vec::new())
    }

    /// The market events this connection listens to, through the stream faults.
    pub fn on_market(&mut self, now: TimeMs, events: &[MarketEvent]) -> Vec<Out> {
        let Kind::Market { combined } = self.kind else {
            return Vec::new();
        };
        let mut mine: Vec<(&str, String)> = events
            .iter()
            .filter(|e| self.subs.contains(&e.stream))
            .map(|e| {
                let text = if combined {
                    format!(r#"{{"stream":"{}","data":{}}}"#, e.stream, e.data)
                } else {
                    e.data.clone()
                };
                (e.stream.as_str(), text)
            })
            .collect();
        if mine.is_empty() {
            return Vec::new();
        }
        if now < self.silent_until {
            return Vec::new();
        }
        // Events of different streams may swap places; a stream's own never do.
        for i in 1..mine.len() {
            if mine[i - 1].0 != mine[i].0 && self.roll(self.faults.reorder_bps) {
                mine.swap(i - 1, i);
                let s = mine[i].0.to_string();
                self.note(now, "reordered", Some(&s));
            }
        }
        let mut out = Vec::new();
        for (stream, text) in mine {
            if self.roll(self.faults.drop_bps) {
                self.note(now, "connection_dropped", Some(stream));
                out.push(Out::Cut { delay_ms: 0 });
                return out;
            }
            if self.roll(self.faults.silence_bps) {
                self.silent_until = now.saturating_add(self.faults.silence_ms);
                self.note(now, "silent", Some(stream));
                return out;
            }
            if self.roll(self.faults.lost_bps) {
                self.note(now, "event_lost", Some(stream));
                continue;
            }
            let delay_ms = self.delay(now, Some(stream));
            let twice = self.roll(self.faults.duplicate_bps);
            if twice {
                self.note(now, "duplicated", Some(stream));
                out.push(Out::Text {
                    delay_ms,
                    text: text.clone(),
                });
            }
            out.push(Out::Text { delay_ms, text });
        }
        out
    }

    /// How late a message goes out: a lag, once drawn, holds every later message too.
    fn delay(&mut self, now: TimeMs, stream: Option<&str>) -> u64 {
        if self.roll(self.faults.lag_bps) {
            self.lag_until = now.saturating_add(self.faults.lag_ms);
            self.note(now, "lagged", stream);
        }
        self.lag_until.saturating_sub(now)
    }

    /// The account's events, when this connection subscribed to them: never lost, repeated or
    /// reordered, but late with a lag and gone with a dropped connection.
    pub fn on_user(&mut self, now: TimeMs, events: &[String]) -> Vec<Out> {
        let Some(id) = self.user_sub else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in events {
            if self.roll(self.faults.drop_bps) {
                self.note(now, "connection_dropped", Some("userData"));
                out.push(Out::Cut { delay_ms: 0 });
                return out;
            }
            let delay_ms = self.delay(now, Some("userData"));
            out.push(Out::Text {
                delay_ms,
                text: format!(r#"{{"subscriptionId":{id},"event":{e}}}"#),
            });
        }
        out
    }

    /// Whether the connection has outlived its expiry.
    pub fn expired(&self, now: TimeMs) -> bool {
        now >= self.expires_at
    }
}

/// Connection attempts per IP over five minutes (Binance: 300); more are refused.
#[derive(Debug, Default)]
pub struct Attempts {
    by_ip: BTreeMap<String, VecDeque<TimeMs>>,
}

impl Attempts {
    pub fn admit(&mut self, ip: &str, now: TimeMs) -> bool {
        const WINDOW: u64 = 300_000;
        self.by_ip.retain(|_, q| {
            while q.front().is_some_and(|&t| t.saturating_add(WINDOW) <= now) {
                q.pop_front();
            }
            !q.is_empty()
        });
        let q = self.by_ip.entry(ip.to_string()).or_default();
        if q.len() >= MAX_ATTEMPTS_PER_5_MIN {
            return false;
        }
        q.push_back(now);
        true
    }
}

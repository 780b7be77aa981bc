//! The WebSocket adapter of the venue, on the HTTP server's port: axum's upgrade (tokio-
//! tungstenite underneath) on `/ws/<stream>`, `/stream?streams=a/b` and `/ws-api/v3`. Each
//! connection's protocol is a sans-IO [`Session`]; this module reads frames into it, writes
//! what it returns, runs the 100 ms market tick, pushes account events after every request,
//! pings every 20 s, and closes connections that expire, go quiet, or read too slowly.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::FromRequestParts;
use axum::http::Request as HttpRequest;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use tokio::sync::{mpsc, watch};

use super::server::{json_response, wall_clock_ms, Core, Shared};
use super::stream::session::Attempts;
use super::stream::{Kind, Out, Session, WsConfig};
use super::ApiError;
use crate::model::TimeMs;

/// The largest message a client may send; a larger one closes the connection (1009).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// How often the server pings, and how long it waits for any frame before closing.
const PING_EVERY: Duration = Duration::from_secs(20);
const QUIET_LIMIT_MS: u64 = 60_000;
/// How often the market streams are brought up to date.
pub const TICK_MS: u64 = 100;

/// One open connection as the hub holds it.
struct Conn {
    session: Session,
    tx: mpsc::Sender<Out>,
    /// Set to end the connection at once (its queue overflowed, or the server stops).
    kill: watch::Sender<bool>,
}

impl Conn {
    /// Queues `outs`; a full queue (a consumer that does not read) ends the connection.
    fn push(&mut self, outs: Vec<Out>) -> bool {
        for o in outs {
            if self.tx.try_send(o).is_err() {
                let _ = self.kill.send(true);
                return false;
            }
        }
        true
    }
}

/// Every open WebSocket connection, and the settings they share.
pub struct Hub {
    conns: Mutex<BTreeMap<u64, Conn>>,
    next: AtomicU64,
    attempts: Mutex<Attempts>,
    pub(super) cfg: WsConfig,
}

impl Hub {
    pub fn new(cfg: WsConfig) -> Hub {
        Hub {
            conns: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(1),
            attempts: Mutex::new(Attempts::default()),
            cfg,
        }
    }

    fn conns(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Conn>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends every connection (the server stops).
    pub fn close_all(&self) {
        for c in self.conns().values() {
            let _ = c.kill.send(true);
        }
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.conns().len()
    }
}

/// Which WebSocket endpoint a path is, with the streams it names.
pub fn route(path: &str, query: Option<&str>) -> Option<(Kind, Vec<String>)> {
    if path == "/ws-api/v3" {
        return Some((Kind::Api, Vec::new()));
    }
    if path == "/ws" || path == "/ws/" {
        return Some((Kind::Market { combined: false }, Vec::new()));
    }
    if let Some(rest) = path.strip_prefix("/ws/") {
        let streams = rest.split('/').map(str::to_string).collect();
        return Some((Kind::Market { combined: false }, streams));
    }
    if path == "/stream" || path == "/stream/" {
        let streams = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "streams")
            .map(|(_, v)| v.split('/').map(str::to_string).collect())
            .unwrap_or_default();
        return Some((Kind::Market { combined: true }, streams));
    }
    None
}

/// Upgrades a request on a WebSocket path, or answers why not.
pub(super) async fn upgrade(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: HttpRequest<Incoming>,
    kind: Kind,
    streams: Vec<String>,
) -> Response {
    let (mut parts, _body) = req.into_parts();
    let now = wall_clock_ms();
    let ip = peer.ip().to_string();
    let admitted = shared
        .hub
        .attempts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .admit(&ip, now);
    if !admitted {
        let e = ApiError::too_many_connections();
        return json_response(e.status, e.body());
    }
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(_) => {
            let e = ApiError::protocol(400);
            return json_response(e.status, e.body());
        }
    };
    let conn = shared.hub.next.fetch_add(1, Ordering::Relaxed);
    let session = {
        let core = shared.core.lock().unwrap_or_else(PoisonError::into_inner);
        let names: Vec<&str> = streams.iter().map(String::as_str).collect();
        Session::new(kind, conn, now, &shared.hub.cfg, &names, &core.venue)
    };
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(|_| ())
        .on_upgrade(move |socket| serve(shared, conn, session, socket, ip))
}

/// Runs one connection until either side ends it.
async fn serve(shared: Arc<Shared>, conn: u64, session: Session, socket: WebSocket, ip: String) {
    let (tx, mut rx) = mpsc::channel::<Out>(shared.hub.cfg.queue.max(1));
    let (kill, mut killed) = watch::channel(false);
    let expires_at = session.expires_at;
    shared.hub.conns().insert(conn, Conn { session, tx, kill });
    let last_heard = Arc::new(AtomicU64::new(wall_clock_ms()));
    let (mut sink, mut stream) = socket.split();
    let heard = last_heard.clone();
    let writer = async move {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let expiry = tokio::time::sleep(Duration::from_millis(
            expires_at.saturating_sub(wall_clock_ms()),
        ));
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(Out::Text { delay_ms, text }) => {
                        if delay_ms > 0 {
                            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                        }
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    Some(Out::Close { code, reason }) => {
                        let frame = CloseFrame { code, reason: reason.into() };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        break;
                    }
                    Some(Out::Cut { delay_ms }) => {
                        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                        break;
                    }
                    None => break,
                },
                _ = killed.changed() => break,
                () = &mut expiry => {
                    let frame = CloseFrame { code: 1000, reason: "connection expired".into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
                _ = ping.tick() => {
                    if wall_clock_ms().saturating_sub(heard.load(Ordering::Relaxed)) > QUIET_LIMIT_MS {
                        let frame = CloseFrame { code: 1008, reason: "pong timeout".into() };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        break;
                    }
                    if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let reader = async {
        while let Some(frame) = stream.next().await {
            last_heard.store(wall_clock_ms(), Ordering::Relaxed);
            let Ok(frame) = frame else {
                // A broken frame or an oversized message: tungstenite already closed it.
                break;
            };
            match frame {
                Message::Text(t) => on_text(&shared, conn, t.as_str(), &ip),
                // Requests are JSON text; a binary frame is answered as malformed JSON.
                Message::Binary(_) => on_text(&shared, conn, "\u{0}", &ip),
                Message::Ping(_) | Message::Pong(_) => on_control(&shared, conn),
                Message::Close(_) => break,
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
    }
    shared.hub.conns().remove(&conn);
}

fn lock_core(shared: &Shared) -> std::sync::MutexGuard<'_, Core> {
    shared.core.lock().unwrap_or_else(PoisonError::into_inner)
}

fn on_text(shared: &Shared, conn: u64, text: &str, ip: &str) {
    let now = wall_clock_ms();
    let mut core = lock_core(shared);
    let mut conns = shared.hub.conns();
    let Some(c) = conns.get_mut(&conn) else {
        return;
    };
    let (outs, records) = c.session.on_text(now, text, &mut core.venue, ip);
    for r in &records {
        core.write(r);
    }
    c.push(outs);
    push_user(now, &mut core, &mut conns);
}

fn on_control(shared: &Shared, conn: u64) {
    let now = wall_clock_ms();
    let mut conns = shared.hub.conns();
    if let Some(c) = conns.get_mut(&conn) {
        let outs = c.session.on_control_frame(now);
        c.push(outs);
    }
}

/// Sends the account's new events to every subscribed connection (and consumes them when
/// nobody listens, so a later subscriber starts from the present).
fn push_user(now: TimeMs, core: &mut Core, conns: &mut BTreeMap<u64, Conn>) {
    let events = core.venue.user_events(now);
    if events.is_empty() {
        return;
    }
    for c in conns.values_mut().filter(|c| c.session.wants_user()) {
        let outs = c.session.on_user(now, &events);
        c.push(outs);
    }
    write_notes(core, conns);
}

fn write_notes(core: &mut Core, conns: &mut BTreeMap<u64, Conn>) {
    if !core.recording() {
        return;
    }
    for c in conns.values_mut() {
        for n in c.session.take_noted() {
            core.write(&n.to_string());
        }
    }
}

/// After a REST request: its account events go out at once.
pub(super) fn after_request(shared: &Shared, core: &mut Core) {
    let now = wall_clock_ms();
    let mut conns = shared.hub.conns();
    push_user(now, core, &mut conns);
}

/// The market tick: every [`TICK_MS`], the streams' events since the last tick go out.
pub(super) async fn ticker(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(Duration::from_millis(TICK_MS));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let now = wall_clock_ms();
        let mut core = lock_core(&shared);
        let mut conns = shared.hub.conns();
        let wanted: BTreeSet<String> = conns
            .values()
            .flat_map(|c| c.session.streams().iter().cloned())
            .collect();
        let events = core.venue.tick(now, &wanted);
        if !events.is_empty() {
            for c in conns.values_mut() {
                let outs = c.session.on_market(now, &events);
                c.push(outs);
            }
        }
        push_user(now, &mut core, &mut conns);
        write_notes(&mut core, &mut conns);
    }
}

//! The HTTP adapter of the venue: hyper on tokio, with axum's body types. It reads the wall
//! clock, serialises requests into the sans-IO [`Venue`], delivers each reply as told (now,
//! late, or never: a stalled or dropped connection), appends the record, and bounds what a
//! client can make it hold: connections, body size, time to send a request's headers and
//! body. Served by hyper's HTTP/1 builder directly (not `axum::serve`), which takes the header
//! timeout.

use std::convert::Infallible;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody as _};
use axum::http::{HeaderValue, Request as HttpRequest, StatusCode};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::stream::WsConfig;
use super::ws::{self, Hub};
use super::{ApiError, Delivery, Method, Request, Venue};
use crate::model::TimeMs;

/// Limits of the HTTP side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Largest request body; a larger `Content-Length` is answered 413 before any body is read.
    pub max_body_bytes: usize,
    /// A client must send its whole body within this time.
    pub read_timeout_ms: u64,
    /// A connection must deliver a request's headers within this time of opening, or of its
    /// previous answer, or it is closed: idle and half-sent connections cannot hold the
    /// connection limit forever.
    pub header_timeout_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 256,
            max_body_bytes: 64 * 1024,
            read_timeout_ms: 10_000,
            header_timeout_ms: 10_000,
        }
    }
}

/// Where record lines go, and the name a failed write is reported under.
pub struct Record {
    pub out: Box<dyn Write + Send>,
    pub name: String,
}

/// The wall clock, in Unix milliseconds: the one place the venue learns the time.
#[allow(clippy::disallowed_methods)]
pub fn wall_clock_ms() -> TimeMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as TimeMs)
}

/// The venue and its record, under one lock: a line is written before the next request
/// executes, so lines are in `seq` order and a failed write stops trading before anything
/// else executes.
pub(super) struct Core {
    pub(super) venue: Venue,
    record: Option<Recorder>,
}

struct Recorder {
    out: BufWriter<Box<dyn Write + Send>>,
    name: String,
    failed: bool,
}

impl Core {
    /// Whether lines are being recorded.
    pub(super) fn recording(&self) -> bool {
        self.record.as_ref().is_some_and(|r| !r.failed)
    }

    /// Appends `line`; on the first failure, says so once and stops trading.
    pub(super) fn write(&mut self, line: &str) {
        let Some(r) = self.record.as_mut().filter(|r| !r.failed) else {
            return;
        };
        if let Err(e) = writeln!(r.out, "{line}").and_then(|()| r.out.flush()) {
            r.failed = true;
            self.venue.stop_trading();
            eprintln!(
                "error: --record {}: {e}; the venue stops trading (signed requests get HTTP 503, -1001)",
                r.name
            );
        }
    }
}

pub(super) struct Shared {
    pub(super) core: Mutex<Core>,
    limits: ServerLimits,
    pub(super) hub: Hub,
}

/// A TCP listener that holds at most `max_connections` connections open.
struct Limited {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

/// A connection and its place among the allowed ones.
struct Permitted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    /// hyper's own answer to a request it could not parse, with a JSON body added: the bytes,
    /// and how many of them are written.
    rewritten: Option<(Vec<u8>, usize)>,
}

impl AsyncRead for Permitted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Permitted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.rewritten.is_none() {
            match with_json_body(buf) {
                Some(answer) => this.rewritten = Some((answer, 0)),
                None => return Pin::new(&mut this.stream).poll_write(cx, buf),
            }
        }
        // The rewritten answer goes out whole before hyper's bytes count as written; hyper
        // offers the same bytes again after a `Pending`.
        while let Some((answer, done)) = this.rewritten.as_mut() {
            if *done >= answer.len() {
                this.rewritten = None;
                break;
            }
            match ready!(Pin::new(&mut this.stream).poll_write(cx, &answer[*done..])) {
                Ok(0) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                Ok(n) => *done += n,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// hyper answers a request it cannot parse itself (400, 414, 431) with an empty body and
/// `connection: close`, and offers no hook to change it. Every answer of the venue has a
/// JSON body, so an error head with `content-length: 0` and nothing after it is hyper's:
/// it gets Binance's `{"code","msg"}` body, its other headers kept.
fn with_json_body(buf: &[u8]) -> Option<Vec<u8>> {
    let head = buf.strip_prefix(b"HTTP/1.1 ")?.strip_suffix(b"\r\n\r\n")?;
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let reason = lines.next()?;
    let status: u16 = reason.get(..3)?.parse().ok()?;
    if !(400..600).contains(&status) {
        return None;
    }
    let mut empty = false;
    let mut kept = String::new();
    for line in lines {
        if line.eq_ignore_ascii_case("content-length: 0") {
            empty = true;
        } else if line.contains(':') {
            kept.push_str(line);
            kept.push_str("\r\n");
        } else {
            return None;
        }
    }
    if !empty {
        return None;
    }
    let body = ApiError::protocol(status).body();
    let mut out = format!(
        "HTTP/1.1 {reason}\r\ncontent-type: application/json;charset=UTF-8\r\ncontent-length: {}\r\n{kept}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl Limited {
    async fn accept(&mut self) -> (Permitted, SocketAddr) {
        loop {
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                // The semaphore is never closed; wait and try again if it ever is.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        Permitted {
                            stream,
                            _permit: permit,
                            rewritten: None,
                        },
                        addr,
                    );
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

/// A bound venue server, ready to [`run`](Server::run).
pub struct Server {
    listener: Limited,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `listen`. `record`, when given, receives one JSON line per request; once a line
    /// cannot be written, the venue stops trading ([`Venue::stop_trading`]).
    pub async fn bind(
        listen: SocketAddr,
        mut venue: Venue,
        record: Option<Record>,
        limits: ServerLimits,
    ) -> std::io::Result<Server> {
        let inner = TcpListener::bind(listen).await?;
        if record.is_some() {
            venue.record();
        }
        Ok(Server {
            listener: Limited {
                inner,
                permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            },
            shared: Arc::new(Shared {
                core: Mutex::new(Core {
                    venue,
                    record: record.map(|r| Recorder {
                        out: BufWriter::new(r.out),
                        name: r.name,
                        failed: false,
                    }),
                }),
                limits,
                hub: Hub::new(WsConfig::default()),
            }),
        })
    }

    /// Sets how WebSocket connections are served: expiry, stream faults and their seed,
    /// queue length.
    pub fn with_ws(mut self, cfg: WsConfig) -> Server {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.hub = Hub::new(cfg);
        }
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.inner.local_addr()
    }

    /// Serves until `shutdown` completes, then lets the connections finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Server {
            mut listener,
            shared,
        } = self;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_millis(
                shared.limits.header_timeout_ms.max(1),
            ));
        // hyper-util's graceful shutdown does not take connections that can upgrade: each
        // connection watches `stop` itself, and the server waits until every one has let go.
        let (stop, _) = tokio::sync::watch::channel(false);
        let ticker = tokio::spawn(ws::ticker(shared.clone()));
        tokio::pin!(shutdown);
        loop {
            let (io, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            let shared = shared.clone();
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, peer, req).await) }
            });
            let conn = http
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            let mut stopping = stop.subscribe();
            tokio::spawn(async move {
                tokio::pin!(conn);
                // A client that goes away, or breaks the protocol, ends its own connection only.
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = stopping.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
        drop(listener);
        ticker.abort();
        shared.hub.close_all();
        let _ = stop.send(true);
        stop.closed().await;
        let mut core = shared.core.lock().unwrap_or_else(PoisonError::into_inner);
        match core.record.as_mut() {
            Some(r) if !r.failed => r.out.flush(),
            _ => Ok(()),
        }
    }
}

pub(super) fn json_response(status: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.status, e.body())
}

/// A response whose body fails before its first byte: the connection is closed with no
/// answer, as when a reply is lost on the way.
fn dropped() -> Response {
    let failing = futures_once_error();
    Response::new(Body::from_stream(failing))
}

fn futures_once_error() -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    struct Fail(bool);
    impl futures_core::Stream for Fail {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if self.0 {
                Poll::Ready(None)
            } else {
                self.0 = true;
                Poll::Ready(Some(Err(std::io::Error::other("reply lost"))))
            }
        }
    }
    Fail(false)
}

async fn handle(shared: Arc<Shared>, peer: SocketAddr, req: HttpRequest<Incoming>) -> Response {
    if let Some((kind, streams)) = ws::route(req.uri().path(), req.uri().query()) {
        return ws::upgrade(shared, peer, req, kind, streams).await;
    }
    let (parts, body) = req.into_parts();
    let limit = shared.limits.max_body_bytes;
    // A declared length over the limit is refused before a byte of it is read.
    if body.size_hint().lower() > limit as u64 {
        return error_response(&ApiError::payload_too_large());
    }
    let read = tokio::time::timeout(
        Duration::from_millis(shared.limits.read_timeout_ms),
        axum::body::to_bytes(Body::new(body), limit),
    )
    .await;
    let body = match read {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return error_response(&ApiError::payload_too_large()),
        Err(_) => return error_response(&ApiError::body_timeout()),
    };
    let api_key = parts
        .headers
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok());
    let client = peer.ip().to_string();
    let request = Request {
        method: Method::parse(parts.method.as_str()),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        body: &body,
        api_key,
        client: &client,
    };
    let now = wall_clock_ms();
    let reply = {
        let mut core = shared.core.lock().unwrap_or_else(PoisonError::into_inner);
        let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            core.venue.handle(now, &request)
        }));
        if let Ok(Some(line)) = reply.as_ref().map(|r| r.record.as_deref()) {
            core.write(line);
        }
        ws::after_request(&shared, &mut core);
        reply
    };
    let Ok(reply) = reply else {
        let e = ApiError::unknown_endpoint();
        return json_response(500, e.body());
    };
    match reply.delivery {
        Delivery::Now => {}
        Delivery::After(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Delivery::Drop => return dropped(),
        Delivery::Stall(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            return dropped();
        }
    }
    let mut response = json_response(reply.status, reply.body);
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

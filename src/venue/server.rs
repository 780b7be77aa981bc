//! The HTTP adapter of the venue: axum on tokio. It reads the wall clock, serialises requests
//! into the sans-IO [`Venue`], delivers each reply as told (now, late, or never: a stalled or
//! dropped connection), appends the record, and bounds what a client can make it hold:
//! connections, body size, time to send a request.

use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Request as HttpRequest, StatusCode};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, Delivery, Method, Request, Venue};
use crate::model::TimeMs;

/// Limits of the HTTP side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// A client must send its whole body within this time.
    pub read_timeout_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 256,
            max_body_bytes: 64 * 1024,
            read_timeout_ms: 10_000,
        }
    }
}

/// The wall clock, in Unix milliseconds: the one place the venue learns the time.
#[allow(clippy::disallowed_methods)]
pub fn wall_clock_ms() -> TimeMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as TimeMs)
}

struct Shared {
    venue: Mutex<Venue>,
    record: Option<Mutex<BufWriter<File>>>,
    limits: ServerLimits,
}

/// A TCP listener that holds at most `max_connections` connections open.
pub struct Limited {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

/// A connection and its place among the allowed ones.
pub struct Permitted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
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
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl Listener for Limited {
    type Io = Permitted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
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
                        },
                        addr,
                    );
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The client's address.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

impl Connected<IncomingStream<'_, Limited>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Limited>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A bound venue server, ready to [`run`](Server::run).
pub struct Server {
    listener: Limited,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `listen`. `record`, when given, receives one JSON line per request.
    pub async fn bind(
        listen: SocketAddr,
        mut venue: Venue,
        record: Option<File>,
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
                venue: Mutex::new(venue),
                record: record.map(|f| Mutex::new(BufWriter::new(f))),
                limits,
            }),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = Router::new()
            .fallback(handle)
            .with_state(self.shared.clone());
        let result = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<Peer>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        if let Some(r) = &self.shared.record {
            let mut w = r.lock().unwrap_or_else(PoisonError::into_inner);
            w.flush()?;
        }
        result
    }
}

fn json_response(status: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
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

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: HttpRequest<Body>,
) -> Response {
    let (parts, body) = req.into_parts();
    let limit = shared.limits.max_body_bytes;
    let read = tokio::time::timeout(
        Duration::from_millis(shared.limits.read_timeout_ms),
        axum::body::to_bytes(body, limit),
    )
    .await;
    let body = match read {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            let e = ApiError::payload_too_large();
            return json_response(e.status, e.body());
        }
        Err(_) => return dropped(),
    };
    let api_key = parts
        .headers
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok());
    let client = peer.0.ip().to_string();
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
        let mut venue = shared.venue.lock().unwrap_or_else(PoisonError::into_inner);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| venue.handle(now, &request)))
    };
    let Ok(reply) = reply else {
        let e = ApiError::unknown_endpoint();
        return json_response(500, e.body());
    };
    if let (Some(r), Some(line)) = (&shared.record, &reply.record) {
        let mut w = r.lock().unwrap_or_else(PoisonError::into_inner);
        let ok = writeln!(w, "{line}").and_then(|()| w.flush());
        if let Err(e) = ok {
            eprintln!("venue: --record: {e}");
        }
    }
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

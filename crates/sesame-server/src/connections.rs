//! The HTTP listener: one hyper connection per accepted socket, with the
//! timeouts, the connection cap and the bounded shutdown of `[http]`
//! (issue 15 part 1, review H1/M4).
//!
//! - The request head must arrive within `header_timeout` (hyper's own timer,
//!   which also runs while a keep-alive connection waits for its next request).
//! - A connection with no request in progress is dropped after `idle_timeout`.
//! - At most `max_connections` connections are served at once (never more than
//!   the open-file limit allows). When all are taken, accepting waits
//!   (back-pressure: new clients queue in the kernel's backlog) and the
//!   connections that have been idle for [`SHED_AFTER`] are closed to make room,
//!   as nginx reuses idle keep-alive connections, so that one client holding
//!   sockets cannot shut everybody else out until its sockets time out.
//! - An accept error is logged; running out of file descriptors (or any error
//!   that is not about the one connection) backs off (100 ms, doubling to
//!   1 s) instead of spinning; out of descriptors, it also asks idle
//!   connections to close.
//! - On shutdown the listener is closed, idle connections are closed at once,
//!   requests in flight get `shutdown_grace` to finish, and whatever is left
//!   is then dropped.
//!
//! The request body limits and the body-read deadline are a middleware on the
//! router ([`limit_body`]), so that [`crate::server::build`]'s router has them
//! whoever serves it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// The largest body of the login and consent forms: 8 KiB, ample for a
/// username, a password and the hidden fields (L3).
pub const LOGIN_BODY_LIMIT: usize = 8 * 1024;

/// The largest request body on every other route: 64 KiB, the provider
/// endpoints' own limit.
pub const BODY_LIMIT: usize = 64 * 1024;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// How long a connection must have had no request in progress before it is
/// closed to make room when every connection slot is taken.
pub const SHED_AFTER: Duration = Duration::from_millis(500);

/// File descriptors kept back from the connection cap, for the database
/// pool, the metrics listener, log files and the like.
pub const FD_MARGIN: u64 = 128;

/// The listener's limits, from `[http]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The request head must be complete within this time.
    pub header_timeout: Duration,
    /// A connection with no request in progress is closed after this time.
    pub idle_timeout: Duration,
    /// At most this many connections at once.
    pub max_connections: usize,
    /// On shutdown, requests in flight get this long to finish.
    pub shutdown_grace: Duration,
    /// The `listener` label of the connection metrics (`public`, `metrics`).
    pub listener: &'static str,
}

/// Raises the soft open-file limit (`RLIMIT_NOFILE`) to the hard limit, and
/// returns the soft limit now in force (`None` where it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).ok();
    match rlimit::increase_nofile_limit(1 << 20) {
        Ok(now) => {
            if let Some((soft, hard)) = before
                && now > soft
            {
                tracing::info!(from = soft, to = now, hard, "raised the open-file limit");
            }
            Some(now)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            before.map(|(soft, _)| soft)
        }
    }
}

/// The connection cap in force: `configured`, but never more than the
/// open-file limit less [`FD_MARGIN`] (and at least 1).
pub fn effective_max_connections(configured: usize, fd_limit: Option<u64>) -> usize {
    let by_fds = fd_limit.map_or(usize::MAX, |l| {
        usize::try_from(l.saturating_sub(FD_MARGIN)).unwrap_or(usize::MAX)
    });
    configured.min(by_fds).max(1)
}

/// What a connection's task and its requests share: whether a request is in
/// progress, and since when none has been.
#[derive(Debug)]
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `start` when the connection last became idle.
    idle_since: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long the connection has been idle, or `None` while a request is
    /// in progress.
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = self.idle_since.load(Ordering::Acquire);
        Some(Duration::from_millis(self.now_ms().saturating_sub(since)))
    }
}

/// Held from the request's arrival until its response body is dropped.
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Busy {
    fn enter(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.idle_since.store(self.0.now_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection busy until it is written.
struct BusyBody {
    body: Body,
    _busy: Busy,
}

impl HttpBody for BusyBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Serves `router` on `listener` with `limits` until `shutdown` resolves,
/// then drains as described in the module docs.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let (shed, shedding) = watch::channel(0u64);
    let mut connections = JoinSet::new();
    let mut backoff = Duration::ZERO;
    let mut full_logged: Option<Instant> = None;
    let mut waits = 0u64;
    tokio::pin!(shutdown);
    'accept: loop {
        while connections.try_join_next().is_some() {}
        let permit = if let Ok(p) = Arc::clone(&slots).try_acquire_owned() {
            p
        } else {
            waits += 1;
            if full_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    waits,
                    "connection limit reached: new connections wait, idle ones are closed"
                );
                full_logged = Some(Instant::now());
                waits = 0;
            }
            loop {
                shed.send_modify(|n| *n += 1);
                tokio::select! {
                    p = Arc::clone(&slots).acquire_owned() => match p {
                        Ok(p) => break p,
                        Err(_) => break 'accept,
                    },
                    () = tokio::time::sleep(SHED_AFTER / 2) => {}
                    () = &mut shutdown => break 'accept,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff = Duration::ZERO;
                    a
                }
                Err(e) => {
                    if one_connection(&e) {
                        // That client went away before it was accepted.
                        tracing::debug!(error = %e, "accept failed");
                        continue;
                    }
                    backoff = (backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(1));
                    if out_of_descriptors(&e) {
                        tracing::error!(error = %e, open = connections.len(), pause_ms = backoff.as_millis(), "accept failed: out of file descriptors");
                        shed.send_modify(|n| *n += 1);
                    } else {
                        tracing::error!(error = %e, pause_ms = backoff.as_millis(), "accept failed");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = &mut shutdown => break 'accept,
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (builder, router) = (Arc::clone(&builder), router.clone());
        let (stopping, shedding) = (stopping.clone(), shedding.clone());
        let open = Open::new(permit, limits.listener);
        connections.spawn(async move {
            connection(&builder, stream, peer, router, limits, stopping, shedding).await;
            drop(open);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    tracing::info!(
        open = connections.len(),
        grace_seconds = limits.shutdown_grace.as_secs(),
        "stopped accepting; closing idle connections, letting requests in flight finish"
    );
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "shutdown grace period over: dropping the connections left"
        );
        connections.shutdown().await;
    }
}

/// A connection slot, counted in the `sesame_http_connections` gauge.
struct Open {
    _permit: tokio::sync::OwnedSemaphorePermit,
    listener: &'static str,
}

impl Open {
    fn new(permit: tokio::sync::OwnedSemaphorePermit, listener: &'static str) -> Self {
        metrics::gauge!("sesame_http_connections", "listener" => listener).increment(1.0);
        Self {
            _permit: permit,
            listener,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("sesame_http_connections", "listener" => self.listener).decrement(1.0);
    }
}

/// An accept error about one connection only (Linux reports some of the new
/// socket's errors at accept): retry at once.
fn one_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
            | std::io::ErrorKind::WouldBlock
    ) || matches!(e.raw_os_error(), Some(libc::EPROTO | libc::EPERM))
}

fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

async fn connection(
    builder: &hyper::server::conn::http1::Builder,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    mut shedding: watch::Receiver<u64>,
) {
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let busy = Busy::enter(&activity);
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = match router.oneshot(request).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|body| BusyBody { body, _busy: busy }))
            }
        })
    };
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut closing = false;
    let mut shed_open = true;
    let idle_check: Sleep = tokio::time::sleep(limits.idle_timeout);
    tokio::pin!(idle_check);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stopping.changed(), if !closing => {
                // Closes an idle connection now; one with a request in
                // progress after its response. (`Err`: the server is gone.)
                let _ = changed;
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            changed = shedding.changed(), if shed_open => {
                if changed.is_err() {
                    // The accept loop is gone; `stopping` handles the rest.
                    shed_open = false;
                    continue;
                }
                if activity.idle_for().is_some_and(|d| d >= SHED_AFTER) {
                    tracing::debug!(%peer, "closing an idle connection to make room");
                    metrics::counter!("sesame_http_connections_shed_total", "listener" => limits.listener).increment(1);
                    return;
                }
            }
            () = &mut idle_check => {
                match activity.idle_for() {
                    Some(idle) if idle >= limits.idle_timeout => {
                        tracing::debug!(%peer, "idle timeout");
                        return;
                    }
                    Some(idle) => idle_check.as_mut().reset(Instant::now() + (limits.idle_timeout - idle)),
                    None => idle_check.as_mut().reset(Instant::now() + limits.idle_timeout),
                }
            }
        }
    }
}

/// The body limits and the body-read deadline, for [`limit_body`].
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    /// The largest body on the form routes (`/login`, `/consent`).
    pub form_limit: usize,
    /// The largest body on every other route.
    pub limit: usize,
    /// The whole body must arrive within this time.
    pub timeout: Duration,
}

/// Middleware: refuses a declared `Content-Length` over the route's limit
/// with 413, and makes the body fail (and so the request, with 413 or 400)
/// when it grows past the limit or is still incomplete after the timeout.
pub async fn limit_body(State(rules): State<BodyRules>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let limit = if path == "/login" || path == sesame_op::paths::CONSENT {
        rules.form_limit
    } else {
        rules.limit
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    }
    let request = request.map(|body| {
        Body::new(DeadlineBody {
            body: http_body_util::Limited::new(body, limit),
            deadline: Box::pin(tokio::time::sleep(rules.timeout)),
        })
    });
    next.run(request).await
}

/// A request body that must be complete by a deadline.
struct DeadlineBody {
    body: http_body_util::Limited<Body>,
    deadline: Pin<Box<Sleep>>,
}

/// The request body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body timeout")]
pub struct BodyTimeout;

impl HttpBody for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::debug!("request body timeout");
                Poll::Ready(Some(Err(Box::new(BodyTimeout))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_under_the_open_file_limit() {
        assert_eq!(effective_max_connections(10_000, Some(1024)), 896);
        assert_eq!(effective_max_connections(50, Some(1024)), 50);
        assert_eq!(effective_max_connections(10_000, Some(1_048_576)), 10_000);
        assert_eq!(effective_max_connections(10_000, None), 10_000);
        assert_eq!(effective_max_connections(10_000, Some(100)), 1);
    }

    #[test]
    fn running_out_of_descriptors_is_recognised() {
        for errno in [libc::EMFILE, libc::ENFILE] {
            assert!(out_of_descriptors(&std::io::Error::from_raw_os_error(
                errno
            )));
        }
        assert!(!out_of_descriptors(&std::io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
        assert!(one_connection(&std::io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
        assert!(!one_connection(&std::io::Error::from_raw_os_error(
            libc::EMFILE
        )));
    }
}

//! The HTTP server: an accept loop of our own on hyper, so that no client can hold the
//! node hostage (issue 7, item 5), with HTTPS built in (issue 8).
//!
//! - A request's headers must arrive within `http_header_timeout` (counted from the
//!   accept for a connection's first request, from the first byte for later ones), its
//!   body within `http_body_timeout` of the headers; a connection with no traffic for
//!   `http_idle_timeout` is closed. A timeout closes the connection without an answer.
//!   Upgraded WebSockets are exempt: they have their own pings and `ws_timeout`.
//! - Over TLS the handshake happens in the connection's own task and must finish
//!   within `http_header_timeout` of the accept (so a client that never completes one
//!   holds its slot no longer than one that never sends headers); the first request's
//!   headers are due by the same deadline. Answers carry `Strict-Transport-Security`.
//! - At most `max_connections` connections are open at once (WebSockets included),
//!   kept below the file limit, and `max_connections_per_address` from one client
//!   address (IPv6: one /64), counted over all listeners (HTTPS and its redirect port).
//!   A connection over a cap gets a minimal `503` with `Connection: close`, written
//!   without waiting (best effort; nothing on a TLS listener, where plain text would be
//!   noise), and is closed at once: never queued.
//! - On shutdown the listeners close, idle connections close, requests in flight may
//!   finish; whatever is still open after `shutdown_grace` is closed by force.

mod conn;
mod redirect;

pub use conn::BodyDeadline;
pub use redirect::redirect_app;

use crate::config::Config;
use crate::metrics::HttpCounters;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, header};
use conn::{AnsweredBody, ArrivingBody, Expired, Timeouts, Track, TrackedIo};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// File descriptors kept free of connections (database pool, media socket, log, files):
/// a tenth of the limit, at least this many.
const FILE_RESERVE_MIN: u64 = 64;
/// Pause after an accept failed for want of resources (EMFILE, ENFILE), so as not to spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one warning about refused connections or accept errors per this period.
const WARN_EVERY: Duration = Duration::from_secs(10);

const REFUSED_BODY: &str = "too many connections; retry later\n";

/// HSTS on every HTTPS answer: a year, this host only (other services under the same
/// domain are not ours to move to HTTPS). Browsers ignore it while the certificate
/// is not trusted (a self-signed one they were told to accept), so it cannot lock
/// anyone out of a first visit.
const HSTS: &str = "max-age=31536000";

/// The limits of [`serve`], from the settings.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    /// None: as many as the file limit allows (see [`connection_cap`]).
    pub max_connections: Option<usize>,
    /// 0: no per-address cap.
    pub max_connections_per_address: usize,
    pub shutdown_grace: Duration,
}

impl HttpLimits {
    pub fn from_config(config: &Config) -> HttpLimits {
        HttpLimits {
            header_timeout: config.http_header_timeout,
            body_timeout: config.http_body_timeout,
            idle_timeout: config.http_idle_timeout,
            max_connections: config.max_connections,
            max_connections_per_address: config.max_connections_per_address,
            shutdown_grace: config.shutdown_grace,
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns `(before, now)`.
pub fn raise_file_limit() -> (u64, u64) {
    let before = match rlimit::Resource::NOFILE.get() {
        Ok((soft, _)) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the file limit (RLIMIT_NOFILE)");
            return (1024, 1024);
        }
    };
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => (before, now.max(before)),
        Err(e) => {
            tracing::warn!(error = %e, before, "cannot raise the file limit (RLIMIT_NOFILE)");
            (before, before)
        }
    }
}

/// The cap on open connections: the setting, but never more than the file limit less
/// a reserve for the node's other descriptors.
pub fn connection_cap(setting: Option<usize>, file_limit: u64) -> usize {
    let reserve = (file_limit / 10).max(FILE_RESERVE_MIN);
    let fit = file_limit
        .saturating_sub(reserve)
        .max(file_limit / 2)
        .max(1);
    let fit = usize::try_from(fit).unwrap_or(usize::MAX);
    setting.map_or(fit, |s| s.min(fit))
}

/// One listener and what it serves.
pub struct Endpoint {
    pub listener: TcpListener,
    pub app: Router,
    /// Some: HTTPS on this listener.
    pub tls: Option<TlsAcceptor>,
}

/// Serves `app` on `listener` (plain HTTP) until `shutdown` resolves; see [`serve_all`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    counters: Arc<HttpCounters>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let endpoint = Endpoint {
        listener,
        app,
        tls: None,
    };
    serve_all(vec![endpoint], limits, counters, shutdown).await
}

/// Serves every endpoint until `shutdown` resolves, then drains within
/// `limits.shutdown_grace` and returns. The caps count the connections of all of them.
/// Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve_all(
    endpoints: Vec<Endpoint>,
    limits: HttpLimits,
    counters: Arc<HttpCounters>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (before, file_limit) = raise_file_limit();
    let cap = connection_cap(limits.max_connections, file_limit);
    if limits.max_connections.is_some_and(|m| m > cap) {
        tracing::warn!(
            setting = limits.max_connections,
            cap,
            file_limit,
            "max_connections lowered to fit under the file limit"
        );
    }
    tracing::info!(
        file_limit,
        raised_from = before,
        max_connections = cap,
        max_connections_per_address = limits.max_connections_per_address,
        "file limit (RLIMIT_NOFILE) and connection caps"
    );
    counters.max.set(i64::try_from(cap).unwrap_or(i64::MAX));
    let registry = Arc::new(Registry {
        total_cap: cap,
        address_cap: limits.max_connections_per_address,
        counters: counters.clone(),
        open: Mutex::new(Open::default()),
    });
    let timeouts = Timeouts {
        header: limits.header_timeout,
        body: limits.body_timeout,
        idle: limits.idle_timeout,
    };
    let stop = CancellationToken::new();
    let loops = endpoints.into_iter().map(|endpoint| {
        accept_loop(
            endpoint,
            registry.clone(),
            timeouts,
            counters.clone(),
            stop.clone(),
            limits.shutdown_grace,
        )
    });
    let trigger = async {
        shutdown.await;
        stop.cancel();
    };
    let ((), _) = tokio::join!(trigger, futures_util::future::join_all(loops));
    Ok(())
}

/// Accepts on one listener until `stop`, then drains its connections.
async fn accept_loop(
    endpoint: Endpoint,
    registry: Arc<Registry>,
    timeouts: Timeouts,
    counters: Arc<HttpCounters>,
    stop: CancellationToken,
    grace: Duration,
) {
    let Endpoint { listener, app, tls } = endpoint;
    let mut builder = http1::Builder::new();
    // hyper's own header timer also runs between requests; ours tells the two apart.
    builder.header_read_timeout(None).keep_alive(true);
    let serving = Arc::new(Serving {
        builder,
        app,
        tls,
        counters: counters.clone(),
        stop: stop.clone(),
        header_timeout: timeouts.header,
    });
    let mut conns = JoinSet::new();
    let mut warned: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match registry.admit(peer.ip()) {
                    Ok(slot) => {
                        let track = Arc::new(Track::new(timeouts));
                        let io = TrackedIo { stream, track: track.clone(), _slot: slot };
                        conns.spawn(connection(serving.clone(), io, peer, track));
                    }
                    Err(why) => {
                        tracing::debug!(%peer, why, "connection refused");
                        if warn_due(&mut warned) {
                            tracing::warn!(%peer, why, "refusing connections: a connection cap is reached");
                        }
                        if serving.tls.is_none() {
                            refuse(&stream);
                        }
                    }
                },
                Err(e) if is_per_connection(&e) => {}
                Err(e) => {
                    counters.accept_errors.inc();
                    if warn_due(&mut warned) {
                        tracing::warn!(error = %e, "cannot accept connections; retrying");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    // New connections are refused by the kernel from here on, not queued.
    drop(listener);
    let deadline = Instant::now() + grace;
    let drained = tokio::time::timeout_at(deadline, async {
        while conns.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        let n = conns.len();
        tracing::warn!(
            connections = n,
            "closing connections still open at the end of shutdown_grace"
        );
        for _ in 0..n {
            counters.forced_closes.inc();
        }
        conns.shutdown().await;
    }
}

/// What every connection of one listener shares.
struct Serving {
    builder: http1::Builder,
    app: Router,
    tls: Option<TlsAcceptor>,
    counters: Arc<HttpCounters>,
    stop: CancellationToken,
    header_timeout: Duration,
}

/// One connection: the TLS handshake if any (within the header timeout), then HTTP.
async fn connection(serving: Arc<Serving>, io: TrackedIo, peer: SocketAddr, track: Arc<Track>) {
    let Some(acceptor) = serving.tls.clone() else {
        return http(&serving, io, peer, track, false).await;
    };
    let handshake = tokio::time::timeout(serving.header_timeout, acceptor.accept(io));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                serving.counters.header_timeouts.inc();
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = serving.stop.cancelled() => return,
    };
    http(&serving, stream, peer, track, true).await;
}

/// HTTP on one connection, until it ends, is upgraded (the WebSocket then owns the
/// socket), times out, or is dropped by force at shutdown.
async fn http<I>(serving: &Serving, io: I, peer: SocketAddr, track: Arc<Track>, secure: bool)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let track = track.clone();
        let app = serving.app.clone();
        hyper::service::service_fn(move |req| handle(app.clone(), req, peer, track.clone(), secure))
    };
    let conn = serving
        .builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = pin!(conn);
    let mut stopping = false;
    let counters = &serving.counters;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                }
                return;
            }
            why = track.expired() => {
                match why {
                    Expired::Header => counters.header_timeouts.inc(),
                    Expired::Body => counters.body_timeouts.inc(),
                    Expired::Idle => counters.idle_timeouts.inc(),
                }
                tracing::debug!(%peer, ?why, "HTTP connection timed out");
                return;
            }
            () = serving.stop.cancelled(), if !stopping => {
                stopping = true;
                // Idle connections close now; a request in flight may finish.
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn handle(
    app: Router,
    mut req: hyper::Request<Incoming>,
    peer: SocketAddr,
    track: Arc<Track>,
    secure: bool,
) -> Result<hyper::Response<AnsweredBody>, Infallible> {
    let guard = track.request_started(!req.body().is_end_stream());
    req.extensions_mut().insert(ConnectInfo(peer));
    req.extensions_mut().insert(BodyDeadline(track.clone()));
    let req = req.map(|body| {
        axum::body::Body::new(ArrivingBody {
            inner: body,
            track: Some(track),
        })
    });
    let mut response = match app.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if secure {
        response
            .headers_mut()
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(HSTS));
    }
    Ok(response.map(|inner| AnsweredBody {
        inner,
        _guard: guard,
    }))
}

fn refuse(stream: &TcpStream) {
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{REFUSED_BODY}",
        REFUSED_BODY.len()
    );
    // Never waits: a client whose buffer is full simply sees the close.
    let _ = stream.try_write(response.as_bytes());
}

/// Errors about one connection that the peer ended before it was accepted.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

fn warn_due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|t| now.duration_since(t) < WARN_EVERY) {
        return false;
    }
    *last = Some(now);
    true
}

/// The key of the per-address cap: an IPv4 address, or an IPv6 /64 (one subscriber's
/// allocation, so one client cannot dodge the cap by rotating addresses).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Open connections, in total and per address.
struct Registry {
    total_cap: usize,
    address_cap: usize,
    counters: Arc<HttpCounters>,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let key = address_key(ip);
        let mut open = self.lock();
        if open.total >= self.total_cap {
            self.counters.refused_total_cap.inc();
            return Err("total");
        }
        let here = open.by_address.entry(key).or_insert(0);
        if self.address_cap > 0 && *here >= self.address_cap {
            self.counters.refused_address_cap.inc();
            return Err("address");
        }
        *here += 1;
        open.total += 1;
        self.counters.open.inc();
        Ok(Slot {
            registry: self.clone(),
            key,
        })
    }
}

/// One admitted connection; freed when the socket is dropped (for a WebSocket, when
/// the WebSocket ends).
struct Slot {
    registry: Arc<Registry>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.registry.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_address.remove(&self.key);
            }
        }
        self.registry.counters.open.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_a_reserve_under_the_file_limit() {
        assert_eq!(connection_cap(None, 1024), 922);
        assert_eq!(connection_cap(Some(100), 1024), 100);
        assert_eq!(connection_cap(Some(5000), 1024), 922);
        assert_eq!(connection_cap(None, 100), 50);
        assert_eq!(connection_cap(None, 0), 1);
        assert_eq!(connection_cap(None, 1 << 20), (1 << 20) - (1 << 20) / 10);
    }

    #[test]
    fn addresses_are_keyed_per_ipv4_and_per_ipv6_64() {
        let key = |s: &str| address_key(s.parse().unwrap()).to_string();
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::");
    }
}

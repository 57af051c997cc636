//! One connection's timeouts: what it is doing (waiting for headers, receiving a
//! body, answering, idle) and so which deadline is in force, fed by the socket's
//! traffic and by the request and response bodies.

use super::Slot;
use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    pub header: Duration,
    pub body: Duration,
    pub idle: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expired {
    Header,
    Body,
    Idle,
}

/// What a connection is doing, to tell which timeout applies.
pub(super) struct Track {
    timeouts: Timeouts,
    phase: Mutex<Phase>,
    /// Woken when a deadline may have moved earlier.
    changed: Notify,
}

struct Phase {
    accepted: Instant,
    last_io: Instant,
    /// Requests whose headers arrived.
    requests: u64,
    /// Requests not yet answered in full.
    busy: usize,
    /// First byte of the next request's headers, while none is in flight.
    head_since: Option<Instant>,
    /// When the body of the request in flight must have arrived.
    body_until: Option<Instant>,
}

impl Track {
    pub(super) fn new(timeouts: Timeouts) -> Track {
        let now = Instant::now();
        Track {
            timeouts,
            phase: Mutex::new(Phase {
                accepted: now,
                last_io: now,
                requests: 0,
                busy: 0,
                head_since: None,
                body_until: None,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_read(&self) {
        let now = Instant::now();
        let mut p = self.lock();
        p.last_io = now;
        if p.busy == 0 && p.head_since.is_none() {
            p.head_since = Some(now);
            drop(p);
            self.changed.notify_one();
        }
    }

    fn on_write(&self) {
        self.lock().last_io = Instant::now();
    }

    pub(super) fn request_started(self: &Arc<Self>, body_arriving: bool) -> RequestGuard {
        let now = Instant::now();
        {
            let mut p = self.lock();
            p.requests += 1;
            p.busy += 1;
            p.head_since = None;
            p.body_until = body_arriving.then(|| now + self.timeouts.body);
        }
        self.changed.notify_one();
        RequestGuard(self.clone())
    }

    fn body_finished(&self) {
        self.lock().body_until = None;
    }

    /// The earliest deadline in force and which timeout it is.
    fn deadline(&self) -> (Instant, Expired) {
        let t = self.timeouts;
        let p = self.lock();
        let mut best = (p.last_io + t.idle, Expired::Idle);
        let mut consider = |at: Instant, why| {
            if at < best.0 {
                best = (at, why);
            }
        };
        if p.busy == 0 {
            if p.requests == 0 {
                consider(p.accepted + t.header, Expired::Header);
            }
            if let Some(since) = p.head_since {
                consider(since + t.header, Expired::Header);
            }
        }
        if let Some(until) = p.body_until {
            consider(until, Expired::Body);
        }
        best
    }

    /// Resolves when a deadline passes.
    pub(super) async fn expired(&self) -> Expired {
        loop {
            let (at, _) = self.deadline();
            tokio::select! {
                () = tokio::time::sleep_until(at) => {
                    let (at, why) = self.deadline();
                    if at <= Instant::now() {
                        return why;
                    }
                }
                () = self.changed.notified() => {}
            }
        }
    }
}

/// Handed to handlers (a request extension) that take long bodies on purpose, file
/// uploads, to move the request's body deadline; the idle timeout still applies.
#[derive(Clone)]
pub struct BodyDeadline(pub(super) Arc<Track>);

impl BodyDeadline {
    /// The body may now take `allowed` from this moment (if it is still arriving).
    pub fn extend(&self, allowed: Duration) {
        {
            let mut p = self.0.lock();
            if p.body_until.is_some() {
                p.body_until = Some(Instant::now() + allowed);
            }
        }
        self.0.changed.notify_one();
    }
}

/// Held from a request's headers until its answer has been sent in full.
pub(super) struct RequestGuard(Arc<Track>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        {
            let mut p = self.0.lock();
            p.busy = p.busy.saturating_sub(1);
            // Idle time counts from the end of the answer.
            p.last_io = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

/// The socket, noting its traffic for the timeouts, and holding the connection's slot.
pub(super) struct TrackedIo {
    pub stream: TcpStream,
    pub track: Arc<Track>,
    pub _slot: Slot,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.track.on_read();
        }
        result
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.track.on_write();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.track.on_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A request body; tells the connection when it has arrived (or is no longer wanted),
/// which ends the body deadline.
pub(super) struct ArrivingBody {
    pub inner: Incoming,
    pub track: Option<Arc<Track>>,
}

impl ArrivingBody {
    fn finished(&mut self) {
        if let Some(track) = self.track.take() {
            track.body_finished();
        }
    }
}

impl Body for ArrivingBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(result, Poll::Ready(None | Some(Err(_)))) || this.inner.is_end_stream() {
            this.finished();
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ArrivingBody {
    fn drop(&mut self) {
        self.finished();
    }
}

/// A response body; ends the request (for the idle timeout) when hyper drops it.
pub(super) struct AnsweredBody {
    pub inner: axum::body::Body,
    pub _guard: RequestGuard,
}

impl Body for AnsweredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_timeout_in_force_follows_the_connection() {
        let t = Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        };
        let track = Arc::new(Track::new(t));
        let start = Instant::now();
        assert_eq!(track.deadline(), (start + t.header, Expired::Header));
        let guard = track.request_started(true);
        assert_eq!(track.deadline(), (start + t.body, Expired::Body));
        track.body_finished();
        assert_eq!(track.deadline(), (start + t.idle, Expired::Idle));
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(guard);
        let answered = Instant::now();
        assert_eq!(track.deadline(), (answered + t.idle, Expired::Idle));
        tokio::time::advance(Duration::from_secs(1)).await;
        track.on_read();
        assert_eq!(
            track.deadline(),
            (
                answered + Duration::from_secs(1) + t.header,
                Expired::Header
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_wakes_when_a_deadline_moves_earlier() {
        let t = Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        };
        let track = Arc::new(Track::new(t));
        let _guard = track.request_started(false);
        drop(_guard);
        let start = Instant::now();
        let waiter = {
            let track = track.clone();
            tokio::spawn(async move { (track.expired().await, Instant::now()) })
        };
        tokio::time::advance(Duration::from_secs(1)).await;
        track.on_read();
        let (why, at) = waiter.await.unwrap();
        assert_eq!(why, Expired::Header);
        assert!(at - start < Duration::from_secs(12), "{:?}", at - start);
    }
}

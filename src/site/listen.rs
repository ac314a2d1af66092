//! How the site's HTTP(S) server holds its connections, so that slow or idle
//! clients cannot pin it (issue 8):
//!
//! - a connection must finish its TLS handshake, and its first request's
//!   header, within `header_timeout_ms`; every later request header too (for
//!   HTTP/1 that also closes a keep-alive connection idle between requests);
//! - a connection on which no byte moves either way for `idle_timeout_ms` is
//!   closed ([`Guarded`]: HTTP/2, a client that stops reading an answer);
//! - at most `max_connections` at once ([`ConnLimit`]): one more is closed as
//!   soon as it is accepted. Closing at once rather than waiting: a waiting
//!   connection still holds its socket, and the limit is there to bound
//!   exactly that; a client sees the close at once and retries with its
//!   backoff, while clients already connected keep being served.
//!
//! And whether to serve at all ([`check_plain_http`]): plain HTTP on an
//! address that is not loopback sends passwords and tokens in clear text,
//! so the site refuses it unless `allow_plain_http` says so explicitly
//! (then it warns); HTTPS is fine on any address.

use std::future::{Ready, ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::config::ConnectionLimits;

/// Whether the site may serve on `addr`: HTTPS anywhere, plain HTTP on a
/// loopback address, or plain HTTP elsewhere only when `allow_plain_http`
/// (logged as a warning). The error names the way out.
pub(crate) fn check_plain_http(
    addr: SocketAddr,
    https: bool,
    allow_plain_http: bool,
) -> Result<(), String> {
    if https || addr.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    if allow_plain_http {
        tracing::warn!(
            %addr,
            "serving plain HTTP on an address that is not loopback (allow_plain_http): \
             passwords and session tokens cross the network in clear text"
        );
        return Ok(());
    }
    Err(format!(
        "refusing to serve plain HTTP on {addr}, which is not a loopback address: passwords \
         and session tokens would cross the network in clear text. Serve HTTPS (--tls-cert and \
         --tls-key), listen on loopback (127.0.0.1), or accept the risk explicitly with \
         --allow-plain-http (config: [site] allow_plain_http = true)"
    ))
}

/// Sets the header and first-request timeouts on a server.
pub(crate) fn bound<A: axum_server::Address, Acc>(
    mut server: axum_server::Server<A, Acc>,
    limits: &ConnectionLimits,
) -> axum_server::Server<A, Acc> {
    let header_timeout = Duration::from_millis(limits.header_timeout_ms);
    // axum-server installs hyper's timer, so the timeout takes effect.
    server
        .http_builder()
        .http1()
        .header_read_timeout(header_timeout);
    // Also bounds hyper's guess of HTTP/1 or HTTP/2, which has no timer.
    server.first_request_timeout(header_timeout)
}

/// The acceptor that counts connections: past the limit it refuses the
/// connection (it is dropped, so closed, at once); below it, the stream holds
/// its permit until it is dropped.
#[derive(Clone)]
pub(crate) struct ConnLimit {
    permits: Arc<Semaphore>,
    max: usize,
    idle: Duration,
}

impl ConnLimit {
    pub(crate) fn new(limits: &ConnectionLimits) -> Self {
        // More than the semaphore can count means no limit in practice.
        let max = limits.max_connections.min(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            idle: Duration::from_millis(limits.idle_timeout_ms),
        }
    }

    /// The connections that hold a place now.
    pub(crate) fn open(&self) -> usize {
        self.max.saturating_sub(self.permits.available_permits())
    }
}

impl<I, S> Accept<I, S> for ConnLimit {
    type Stream = Guarded<I>;
    type Service = S;
    type Future = Ready<io::Result<(Guarded<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        ready(match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Ok((Guarded::new(stream, permit, self.idle), service)),
            Err(_) => {
                tracing::debug!("connection limit reached: closing a new connection");
                Err(io::Error::other("the connection limit is reached"))
            }
        })
    }
}

/// A connection's stream: holds its place under the limit, and fails with
/// `TimedOut` once no byte has moved either way for the idle time.
pub struct Guarded<I> {
    inner: I,
    _permit: Option<OwnedSemaphorePermit>,
    idle: Duration,
    last_moved: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<I> Guarded<I> {
    fn new(inner: I, permit: OwnedSemaphorePermit, idle: Duration) -> Self {
        Self::with_idle(inner, Some(permit), idle)
    }

    fn with_idle(inner: I, permit: Option<OwnedSemaphorePermit>, idle: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            _permit: permit,
            idle,
            last_moved: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
        }
    }

    fn moved(&mut self, n: usize) {
        if n > 0 {
            // The timer is moved only when it fires: a byte costs no timer work.
            self.last_moved = Instant::now();
        }
    }

    /// Ready (an error) once the connection has been idle too long; else
    /// registers the waker for that moment.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last_moved + self.idle;
            if deadline <= Instant::now() {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection was idle too long",
                ));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Guarded<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.moved(buf.filled().len().saturating_sub(before));
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Guarded<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if let Ok(n) = &result {
                    this.moved(*n);
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if let Ok(n) = &result {
                    this.moved(*n);
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const IDLE: Duration = Duration::from_secs(5);

    #[test]
    fn plain_http_off_loopback_needs_the_flag() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        for a in [
            "127.0.0.1:8080",
            "127.3.2.1:0",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert_eq!(check_plain_http(addr(a), false, false), Ok(()), "{a}");
        }
        for a in [
            "0.0.0.0:8080",
            "192.0.2.7:8080",
            "[::]:8080",
            "[fd00::2]:80",
        ] {
            let err = check_plain_http(addr(a), false, false).unwrap_err();
            assert!(
                err.contains("--allow-plain-http") && err.contains("allow_plain_http = true"),
                "{a}: {err}"
            );
            assert!(err.contains(a), "{a}: {err}");
            // Allowed explicitly, or over TLS: served.
            assert_eq!(check_plain_http(addr(a), false, true), Ok(()), "{a}");
            assert_eq!(check_plain_http(addr(a), true, false), Ok(()), "{a}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_fails_after_the_idle_time() {
        let (_peer, ours) = tokio::io::duplex(64);
        let mut conn = Guarded::with_idle(ours, None, IDLE);
        let started = Instant::now();
        let mut buf = [0u8; 8];
        let err = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_either_way_keep_it_open() {
        let (mut peer, ours) = tokio::io::duplex(1024);
        let mut conn = Guarded::with_idle(ours, None, IDLE);
        let started = Instant::now();
        let mut buf = [0u8; 8];
        // The peer writes every 3 s (less than the idle time) for 15 s; the
        // connection answers; every read succeeds.
        for _ in 0..5 {
            let write = async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                peer.write_all(b"ping").await.unwrap();
            };
            let (_, n) = tokio::join!(write, conn.read(&mut buf));
            assert_eq!(n.unwrap(), 4);
            conn.write_all(b"pong").await.unwrap();
            peer.read_exact(&mut buf[..4]).await.unwrap();
        }
        assert_eq!(started.elapsed(), Duration::from_secs(15));
        // Then silence: it fails 5 s after the last byte moved.
        let err = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(20));
    }

    #[tokio::test]
    async fn past_the_limit_a_connection_is_refused_and_a_closed_one_frees_its_place() {
        let limit = ConnLimit::new(&ConnectionLimits {
            max_connections: 2,
            ..ConnectionLimits::default()
        });
        let (a, b, c) = (
            limit.accept((), ()).await,
            limit.accept((), ()).await,
            limit.accept((), ()).await,
        );
        assert!(a.is_ok() && b.is_ok());
        assert!(c.is_err(), "the third connection is refused");
        assert_eq!(limit.open(), 2);
        drop(a);
        assert_eq!(limit.open(), 1);
        assert!(limit.accept((), ()).await.is_ok(), "a freed place is taken");
    }
}

//! The live event stream with resume: a long-lived task that keeps a
//! Server-Sent Events connection to the site, forwards every event exactly
//! once and in order, and reconnects with `Last-Event-ID` after any break.
//!
//! `run()` loops around `run_once()`: connect, read until the link ends,
//! report "link down", wait (exponential backoff with jitter), retry. Every
//! await races the stop signal in a biased `select!`, so dropping the
//! [`LiveHandle`] stops the task at once. A 401 ends it for good.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::sse::{SseEvent, SseParser};
use super::{Client, error_chain};
use crate::backoff::{Backoff, Jitter};
use crate::domain::{ErrorKind, Event, Seq};

/// What the live stream reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveUpdate {
    /// A new event; its `seq` is greater than every one before.
    Event(Event),
    /// The stream is (again) connected.
    LinkUp,
    /// The stream broke or could not connect; the next try is in
    /// `retry_in_ms`.
    LinkDown { reason: String, retry_in_ms: u64 },
    /// The site no longer accepts the session; the task has ended.
    Unauthenticated,
}

/// Timing of the live stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOptions {
    /// A link with no bytes (not even a heartbeat) for this long is dead.
    /// The site sends a heartbeat every 2 s. Default: 6000.
    pub idle_timeout_ms: u64,
    /// The first retry waits about this long. Default: 250.
    pub backoff_start_ms: u64,
    /// Retries wait at most this long. Default: 5000.
    pub backoff_max_ms: u64,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            idle_timeout_ms: 6_000,
            backoff_start_ms: 250,
            backoff_max_ms: 5_000,
        }
    }
}

impl LiveOptions {
    /// The reconnect policy: doubling from `backoff_start_ms` to
    /// `backoff_max_ms`, with equal jitter so that many clients do not
    /// retry in step.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.backoff_start_ms, self.backoff_max_ms, Jitter::Equal)
    }
}

/// The running live stream. Dropping it stops the task without waiting.
pub struct LiveHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Seq>>,
}

impl LiveHandle {
    /// Asks the task to stop; it does at its next await.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the task and waits for it; returns the last sequence number it
    /// forwarded (or was started after).
    pub async fn join(mut self) -> Option<Seq> {
        self.stop();
        match self.task.take() {
            Some(task) => task.await.ok(),
            None => None,
        }
    }

    /// Whether the task has ended (stopped, unauthenticated, or receiver gone).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl Drop for LiveHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Starts the live stream on the current tokio runtime, resuming after
/// `after_seq` (a snapshot's `seq`), with default timing. Updates go to `tx`;
/// the task waits when `tx` is full and ends when its receiver is dropped.
pub fn spawn(client: Client, after_seq: Seq, tx: mpsc::Sender<LiveUpdate>) -> LiveHandle {
    spawn_with(client, after_seq, tx, LiveOptions::default())
}

/// [`spawn`] with explicit timing.
pub fn spawn_with(
    client: Client,
    after_seq: Seq,
    tx: mpsc::Sender<LiveUpdate>,
    options: LiveOptions,
) -> LiveHandle {
    let (stop_tx, stop_rx) = watch::channel(false);
    let live = Live {
        client,
        last_seq: after_seq,
        tx,
        stop: stop_rx,
        options,
        attempt: 0,
    };
    LiveHandle {
        stop: stop_tx,
        task: Some(tokio::spawn(live.run())),
    }
}

/// Why one connection ended.
enum End {
    /// Stop was asked for, or nobody listens any more.
    Stopped,
    /// The site refused the session.
    Unauthenticated,
    /// The link broke or could not be made.
    Lost(String),
}

struct Live {
    client: Client,
    /// The last sequence number forwarded (or started after).
    last_seq: Seq,
    tx: mpsc::Sender<LiveUpdate>,
    stop: watch::Receiver<bool>,
    options: LiveOptions,
    /// Failed tries since bytes last came through.
    attempt: u32,
}

/// Resolves once stop is asked for or the handle is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender (the handle) is gone: stop as well.
    let _ = stop.wait_for(|s| *s).await;
}

impl Live {
    async fn run(mut self) -> Seq {
        loop {
            match self.run_once().await {
                End::Stopped => break,
                End::Unauthenticated => {
                    tracing::info!("live event stream: the site refused the session");
                    self.send(LiveUpdate::Unauthenticated).await;
                    break;
                }
                End::Lost(reason) => {
                    self.attempt = self.attempt.saturating_add(1);
                    let retry_in_ms =
                        self.options.backoff().delay_for(self.attempt).as_millis() as u64;
                    tracing::info!(
                        attempt = self.attempt,
                        retry_in_ms,
                        last_seq = self.last_seq,
                        "live event stream down: {reason}"
                    );
                    let update = LiveUpdate::LinkDown {
                        reason,
                        retry_in_ms,
                    };
                    if !self.send(update).await {
                        break;
                    }
                    let sleep = tokio::time::sleep(Duration::from_millis(retry_in_ms));
                    tokio::select! {
                        biased;
                        () = stopped(&mut self.stop) => break,
                        () = sleep => {}
                    }
                }
            }
        }
        tracing::debug!(last_seq = self.last_seq, "live event stream stopped");
        self.last_seq
    }

    /// Sends one update, racing stop. False when stopped or nobody listens.
    async fn send(&mut self, update: LiveUpdate) -> bool {
        tokio::select! {
            biased;
            () = stopped(&mut self.stop) => false,
            sent = self.tx.send(update) => sent.is_ok(),
        }
    }

    /// One connection: connect, read and forward until it ends.
    async fn run_once(&mut self) -> End {
        let idle = Duration::from_millis(self.options.idle_timeout_ms);
        let connect = tokio::time::timeout(idle, self.client.open_event_stream(self.last_seq));
        let resp = tokio::select! {
            biased;
            () = stopped(&mut self.stop) => return End::Stopped,
            r = connect => r,
        };
        let resp = match resp {
            Err(_) => {
                return End::Lost(format!(
                    "no answer from the site within {} ms",
                    self.options.idle_timeout_ms
                ));
            }
            Ok(Err(e)) if e.kind() == ErrorKind::Unauthenticated => return End::Unauthenticated,
            Ok(Err(e)) => return End::Lost(error_chain(&e)),
            Ok(Ok(resp)) => resp,
        };
        if !self.send(LiveUpdate::LinkUp).await {
            return End::Stopped;
        }
        tracing::debug!(last_seq = self.last_seq, "live event stream connected");

        let mut body = resp.bytes_stream();
        let mut parser = SseParser::new();
        let mut parsed: Vec<SseEvent> = Vec::new();
        loop {
            let next = tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return End::Stopped,
                n = tokio::time::timeout(idle, body.next()) => n,
            };
            let chunk = match next {
                Err(_) => {
                    return End::Lost(format!(
                        "no data from the site for {} ms",
                        self.options.idle_timeout_ms
                    ));
                }
                Ok(None) => return End::Lost("the site closed the event stream".into()),
                Ok(Some(Err(e))) => {
                    return End::Lost(format!("the event stream broke: {}", error_chain(&e)));
                }
                Ok(Some(Ok(chunk))) => {
                    // Bytes flow: the link works, so the next break retries
                    // quickly again. (Not on connect alone: a site that
                    // accepts and hangs up at once must see the backoff grow.)
                    self.attempt = 0;
                    chunk
                }
            };
            if let Err(e) = parser.feed(&chunk, &mut parsed) {
                return End::Lost(format!("unreadable event stream: {e}"));
            }
            for sse in parsed.drain(..) {
                match serde_json::from_str::<Event>(&sse.data) {
                    Ok(event) => {
                        if event.seq <= self.last_seq {
                            tracing::trace!(seq = event.seq, "dropped an event already seen");
                            continue;
                        }
                        let seq = event.seq;
                        if !self.send(LiveUpdate::Event(event)).await {
                            return End::Stopped;
                        }
                        self.last_seq = seq;
                    }
                    Err(e) => {
                        // An event this client cannot read (e.g. a newer
                        // type): skip it, but resume after it.
                        tracing::warn!(
                            event_type = %sse.event_type,
                            "skipped an unreadable event: {e}"
                        );
                        if let Ok(id) = sse.last_event_id.parse::<Seq>() {
                            self.last_seq = self.last_seq.max(id);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use bytes::Bytes;

    use super::*;
    use crate::client::ClientConfig;
    use crate::domain::EventKind;

    fn event(seq: Seq) -> Event {
        Event {
            seq,
            time: "2026-11-22T10:00:00Z".parse().unwrap(),
            kind: EventKind::TestFlood { n: seq },
        }
    }

    fn sse_bytes(e: &Event, crlf: bool) -> String {
        let nl = if crlf { "\r\n" } else { "\n" };
        let json = serde_json::to_string(e).unwrap();
        format!(
            "id: {}{nl}event: {}{nl}data: {json}{nl}{nl}",
            e.seq,
            e.kind.type_name()
        )
    }

    fn fast() -> LiveOptions {
        LiveOptions {
            idle_timeout_ms: 2_000,
            backoff_start_ms: 1,
            backoff_max_ms: 4,
        }
    }

    #[derive(Default)]
    struct Flaky {
        total: Seq,
        /// Connections served so far.
        connections: usize,
        /// Every Last-Event-ID the client sent, in order.
        resumes: Vec<Seq>,
    }

    /// Serves events after Last-Event-ID, but breaks every connection after
    /// a few events, sometimes in the middle of one, repeats an old event
    /// first, and mixes heartbeats and line endings.
    async fn flaky_stream(
        axum::extract::State(st): axum::extract::State<Arc<Mutex<Flaky>>>,
        headers: HeaderMap,
    ) -> Response {
        let last: Seq = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (total, n) = {
            let mut s = st.lock().unwrap();
            s.connections += 1;
            s.resumes.push(last);
            (s.total, s.connections)
        };
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer tok") {
            return (StatusCode::UNAUTHORIZED, "").into_response();
        }
        let mut text = String::from(": hb\n\n");
        if last > 0 {
            // A duplicate the client must drop.
            text.push_str(&sse_bytes(&event(last), false));
        }
        let per_connection = 1 + (n % 7) as Seq;
        let end = (last + per_connection).min(total);
        for seq in last + 1..=end {
            text.push_str(&sse_bytes(&event(seq), seq % 2 == 0));
            text.push_str(": hb\n");
        }
        if end < total && n % 3 == 0 {
            // Cut the next event in half: it must not be delivered.
            let next = sse_bytes(&event(end + 1), false);
            text.push_str(&next[..next.len() / 2]);
        }
        // Send in small pieces to split lines across chunks.
        let pieces: Vec<Result<Bytes, std::io::Error>> = text
            .into_bytes()
            .chunks(13)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(futures_util::stream::iter(pieces)))
            .unwrap()
    }

    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    fn client(base_url: String) -> Client {
        Client::new(&ClientConfig {
            base_url,
            ca_cert: None,
            allow_plain_http: false,
        })
        .unwrap()
        .with_token("tok")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resumes_through_many_breaks_without_loss_or_duplicate() {
        let state = Arc::new(Mutex::new(Flaky {
            total: 300,
            ..Default::default()
        }));
        let router = axum::Router::new()
            .route("/api/v1/events/stream", get(flaky_stream))
            .with_state(state.clone());
        let base = serve(router).await;
        // A small channel: the task must wait, not drop, when it is full.
        let (tx, mut rx) = mpsc::channel(4);
        let handle = spawn_with(client(base), 0, tx, fast());
        let mut seqs = Vec::new();
        let (mut ups, mut downs) = (0, 0);
        while seqs.len() < 300 {
            let u = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("live stream stalled")
                .expect("live task ended early");
            match u {
                LiveUpdate::Event(e) => seqs.push(e.seq),
                LiveUpdate::LinkUp => ups += 1,
                LiveUpdate::LinkDown { retry_in_ms, .. } => {
                    assert!(retry_in_ms <= 4);
                    downs += 1;
                }
                LiveUpdate::Unauthenticated => panic!("unexpected 401"),
            }
        }
        assert_eq!(seqs, (1..=300).collect::<Vec<_>>());
        assert!(ups > 50 && downs > 50, "ups {ups} downs {downs}");
        let last = handle.join().await;
        assert_eq!(last, Some(300));
        // Each reconnect resumed exactly after the last event delivered.
        let resumes = state.lock().unwrap().resumes.clone();
        assert_eq!(resumes[0], 0);
        assert!(resumes.windows(2).all(|w| w[0] <= w[1]), "{resumes:?}");
    }

    #[tokio::test]
    async fn silent_link_is_declared_dead_then_stop_is_prompt() {
        async fn silent() -> Response {
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(futures_util::stream::pending::<
                    Result<Bytes, std::io::Error>,
                >()))
                .unwrap()
        }
        let base = serve(axum::Router::new().route("/api/v1/events/stream", get(silent))).await;
        let (tx, mut rx) = mpsc::channel(16);
        let options = LiveOptions {
            idle_timeout_ms: 150,
            backoff_start_ms: 10_000,
            backoff_max_ms: 10_000,
        };
        let handle = spawn_with(client(base), 5, tx, options);
        assert_eq!(rx.recv().await, Some(LiveUpdate::LinkUp));
        match rx.recv().await {
            Some(LiveUpdate::LinkDown {
                reason,
                retry_in_ms,
            }) => {
                assert!(reason.contains("no data"), "{reason}");
                assert!((5_000..=10_000).contains(&retry_in_ms));
            }
            other => panic!("expected link down, got {other:?}"),
        }
        // Stopping during the 5-10 s backoff returns at once.
        let stopped = tokio::time::timeout(Duration::from_secs(2), handle.join()).await;
        assert_eq!(stopped.expect("stop was not prompt"), Some(5));
    }

    #[tokio::test]
    async fn unauthorized_ends_the_task() {
        let state = Arc::new(Mutex::new(Flaky::default()));
        let router = axum::Router::new()
            .route("/api/v1/events/stream", get(flaky_stream))
            .with_state(state);
        let base = serve(router).await;
        let c = Client::new(&ClientConfig {
            base_url: base,
            ca_cert: None,
            allow_plain_http: false,
        })
        .unwrap()
        .with_token("expired");
        let (tx, mut rx) = mpsc::channel(16);
        let handle = spawn_with(c, 0, tx, fast());
        assert_eq!(rx.recv().await, Some(LiveUpdate::Unauthenticated));
        assert_eq!(rx.recv().await, None, "the task must end after a 401");
        assert!(handle.is_finished());
    }

    #[tokio::test]
    async fn unreachable_site_reports_link_down_with_growing_backoff() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let (tx, mut rx) = mpsc::channel(16);
        let options = LiveOptions {
            idle_timeout_ms: 1_000,
            backoff_start_ms: 8,
            backoff_max_ms: 32,
        };
        let _handle = spawn_with(client(format!("http://127.0.0.1:{port}")), 0, tx, options);
        let mut waits = Vec::new();
        for _ in 0..4 {
            match rx.recv().await {
                Some(LiveUpdate::LinkDown { retry_in_ms, .. }) => waits.push(retry_in_ms),
                other => panic!("expected link down, got {other:?}"),
            }
        }
        assert!((4..=8).contains(&waits[0]), "{waits:?}");
        assert!((8..=16).contains(&waits[1]), "{waits:?}");
        assert!((16..=32).contains(&waits[2]), "{waits:?}");
        assert!((16..=32).contains(&waits[3]), "{waits:?}");
    }

    #[tokio::test]
    async fn a_site_that_hangs_up_at_once_sees_the_backoff_grow() {
        async fn hang_up() -> Response {
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::empty())
                .unwrap()
        }
        let base = serve(axum::Router::new().route("/api/v1/events/stream", get(hang_up))).await;
        let (tx, mut rx) = mpsc::channel(16);
        let options = LiveOptions {
            idle_timeout_ms: 1_000,
            backoff_start_ms: 8,
            backoff_max_ms: 64,
        };
        let _handle = spawn_with(client(base), 0, tx, options);
        let mut waits = Vec::new();
        while waits.len() < 4 {
            match rx.recv().await {
                Some(LiveUpdate::LinkUp) => {}
                Some(LiveUpdate::LinkDown {
                    retry_in_ms,
                    reason,
                }) => {
                    assert!(reason.contains("closed"), "{reason}");
                    waits.push(retry_in_ms);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!((4..=8).contains(&waits[0]), "{waits:?}");
        assert!((32..=64).contains(&waits[3]), "{waits:?}");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = LiveOptions::default().backoff();
        let got: Vec<u64> = (1..=7).map(|a| b.base_ms_for(a)).collect();
        assert_eq!(got, vec![250, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(b.jitter, Jitter::Equal);
    }

    /// A hostile site's endless line (no line end, ever) and endless event
    /// (data lines that never dispatch): the link is dropped as unreadable
    /// once the parser's limit is reached, not read into memory forever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_endless_line_or_event_drops_the_link() {
        async fn endless(body: &'static [u8]) -> Response {
            let chunk = Bytes::from(body.repeat(64 * 1024 / body.len()));
            let s =
                futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(s))
                .unwrap()
        }
        for (path, want) in [("/line", "longer than"), ("/event", "data longer than")] {
            let router = axum::Router::new().route(
                "/api/v1/events/stream",
                get(move || {
                    endless(if path == "/line" {
                        b"a"
                    } else {
                        b"data: aaaaaaa\n"
                    })
                }),
            );
            let base = serve(router).await;
            let (tx, mut rx) = mpsc::channel(16);
            let handle = spawn_with(client(base), 0, tx, fast());
            let reason = loop {
                let u = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                    .await
                    .expect("an update within 20 s")
                    .expect("the task runs");
                if let LiveUpdate::LinkDown { reason, .. } = u {
                    break reason;
                }
            };
            assert!(reason.contains(want), "{path}: {reason}");
            handle.join().await;
        }
    }
}

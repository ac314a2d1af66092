//! One player: an `rtspsrc` pipeline to a one-slot mailbox, and the
//! supervisor thread that owns it.
//!
//! Pipeline (the part after `rtspsrc` is added when its video pad appears,
//! because the codec is only known then):
//!
//! ```text
//! rtspsrc location=URL protocols=tcp latency=0 drop-on-latency=true
//!         add-reference-timestamp-meta=true [user-id=… user-pw=…]
//!   ! rtph264depay ! h264parse ! avdec_h264 max-threads=1      (or the H.265 trio)
//!   ! videoconvertscale           (passes I420 through untouched; converts other formats)
//!   ! appsink caps=video/x-raw,format=I420,pixel-aspect-ratio=1/1
//!             max-buffers=1 drop=true sync=false emit-signals=false
//! ```
//!
//! The appsink's callback halves the picture (2×2 box filter on the YUV
//! planes) while it still covers the tile, then converts it to RGBA with
//! SIMD (see [`super::convert`]): a sixth of what GStreamer's scaler and
//! converter cost for the same tile. The renderer scales the rest (under
//! 2×) when it draws. A tile's new size therefore takes effect at the next
//! frame, with no renegotiation.
//!
//! The decoder chain is built by hand rather than through `decodebin3`: the
//! player needs probes around the decoder (decode time, source fps), one
//! decoder thread (`max-threads=1`: threading bought no speed here and cost
//! 10% more CPU), and errors it can name (missing element, unsupported
//! codec). It still takes a hardware decoder (`Hardware` in its class) when
//! the registry ranks one above `avdec_*`, as `decodebin3` would; on a
//! GPU-less machine that is `avdec_h264`/`avdec_h265`.
//!
//! Capture times: `rtspsrc add-reference-timestamp-meta=true` puts a
//! `timestamp/x-ntp` meta on buffers once the first RTCP sender report has
//! arrived (about 1.6 s after PLAY on the demo server); the meta survives
//! depay, parse, decode, scale and convert to the appsink. A PTS → NTP map
//! taken after the depayloader covers decoders that drop metas.
//!
//! The supervisor is a plain thread per player: it blocks on one channel that
//! carries the pipeline's bus messages (forwarded by a sync handler that only
//! sends), the element errors found while linking, and the handle's commands;
//! a 100 ms receive timeout is its clock for stats and retries, and it also
//! wakes at the instant a playing stream would turn stalled. A
//! thread needs no glib main loop (eframe runs none) and no async runtime,
//! and the blocking state changes of `rtspsrc` (connect, TEARDOWN) happen on
//! it or on a short-lived teardown thread, never on the UI thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::convert::{self, Colorimetry, I420, Matrix, Plane};
use super::stats::Counters;
use super::time::utc_from_ntp;
use super::{Credentials, Frame, TileStats, TileStatus, Transport, VideoError, package_of};

pub use crate::backoff::Backoff;

/// What the player plays, fixed for its life (a new URL is a new player).
#[derive(Clone)]
pub(crate) struct PlayerConfig {
    /// Used in thread names and logs.
    pub camera: String,
    /// Without credentials.
    pub url: String,
    pub transport: Transport,
    pub credentials: Option<Credentials>,
    pub latency_ms: u32,
    pub stall_ms: u64,
    /// Forced decoder factory, `None` for automatic.
    pub decoder: Option<String>,
    pub repaint: Arc<dyn Fn() + Send + Sync>,
    /// The CA that signs an `rtsps://` relay's certificate.
    pub ca_file: Option<std::path::PathBuf>,
}

/// The newest frame and whether anyone took it.
#[derive(Default)]
struct Mailbox {
    frame: Option<Arc<Frame>>,
    taken: bool,
}

/// State shared by the handle, the supervisor and the streaming threads.
struct Shared {
    mailbox: Mutex<Mailbox>,
    /// The status, and the pipeline generation whose frames count. Frames
    /// of an older pipeline (being torn down) are ignored.
    status: Mutex<(TileStatus, u64)>,
    stats: Mutex<TileStats>,
    counters: Counters,
    repaint: Arc<dyn Fn() + Send + Sync>,
    /// The tile's size in pixels (`width << 32 | height`): pictures are
    /// halved while they still cover it.
    target: AtomicU64,
}

fn pack_size(size: [u32; 2]) -> u64 {
    (u64::from(size[0]) << 32) | u64::from(size[1])
}

fn unpack_size(v: u64) -> [u32; 2] {
    // The halves of a u64: the casts keep exactly 32 bits each.
    [(v >> 32) as u32, (v & 0xffff_ffff) as u32]
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind:
    // keep using it rather than spreading the panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn set_status(&self, status: TileStatus) {
        let mut s = lock(&self.status);
        if s.0 != status {
            s.0 = status;
            drop(s);
            (self.repaint)();
        }
    }

    /// Bumps the generation and sets the status in one step, so that a
    /// frame of the old pipeline cannot overwrite it.
    fn new_generation(&self, status: TileStatus) -> u64 {
        let mut s = lock(&self.status);
        s.1 += 1;
        s.0 = status;
        let generation = s.1;
        drop(s);
        (self.repaint)();
        generation
    }

    /// Called on the appsink's streaming thread with a finished frame.
    fn deliver(&self, generation: u64, mut frame: Frame) {
        {
            let mut s = lock(&self.status);
            if s.1 != generation {
                return;
            }
            if s.0 != TileStatus::Playing {
                s.0 = TileStatus::Playing;
            }
        }
        frame.number = FRAME_NUMBER.fetch_add(1, Ordering::Relaxed) + 1;
        frame.arrived = Instant::now();
        let frame = Arc::new(frame);
        let replaced_untaken = {
            let mut m = lock(&self.mailbox);
            let untaken = m.frame.is_some() && !m.taken;
            m.frame = Some(frame);
            m.taken = false;
            untaken
        };
        self.counters.delivered(replaced_untaken);
        (self.repaint)();
    }
}

/// Frame numbers: increasing per player and unique in the process, so a
/// tile that switches players never sees a number twice.
static FRAME_NUMBER: AtomicU64 = AtomicU64::new(0);

/// The next process-wide frame number.
pub(super) fn next_frame_number() -> u64 {
    FRAME_NUMBER.fetch_add(1, Ordering::Relaxed) + 1
}

/// Messages to the supervisor.
enum Msg {
    /// A bus message of pipeline `generation`.
    Bus(u64, gst::Message),
    /// An error found while building the chain on `rtspsrc`'s pad.
    Failed(u64, VideoError),
    /// The handle was dropped.
    Stop,
}

/// A running player. Dropping it stops the pipeline on the supervisor
/// thread; the caller never waits.
pub(crate) struct Player {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
    size: [u32; 2],
}

impl Player {
    /// Starts the supervisor thread, which builds and plays the pipeline.
    /// Returns at once.
    pub fn start(cfg: PlayerConfig, size: [u32; 2]) -> Player {
        let shared = Arc::new(Shared {
            mailbox: Mutex::new(Mailbox::default()),
            status: Mutex::new((TileStatus::Connecting, 0)),
            stats: Mutex::new(TileStats::default()),
            counters: Counters::default(),
            repaint: cfg.repaint.clone(),
            target: AtomicU64::new(pack_size(size)),
        });
        let (tx, rx) = mpsc::channel();
        let sup = Supervisor {
            cfg,
            shared: shared.clone(),
            tx: tx.clone(),
            rx,
            backoff: Backoff::default(),
            stats_at: Instant::now(),
            stats_snapshot: shared.counters.snapshot(),
        };
        let name = format!("video {}", sup.cfg.camera);
        let spawned = std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .spawn(move || sup.run());
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a video supervisor thread");
            shared.set_status(TileStatus::Error(VideoError::Other(format!(
                "cannot start a thread: {e}"
            ))));
        }
        Player { shared, tx, size }
    }

    /// The newest frame; marks it as taken.
    pub fn take_frame(&self) -> Option<Arc<Frame>> {
        let mut m = lock(&self.shared.mailbox);
        m.taken = true;
        m.frame.clone()
    }

    /// Whether a frame has arrived yet.
    pub fn has_frame(&self) -> bool {
        lock(&self.shared.mailbox).frame.is_some()
    }

    pub fn status(&self) -> TileStatus {
        lock(&self.shared.status).0.clone()
    }

    pub fn stats(&self) -> TileStats {
        lock(&self.shared.stats).clone()
    }

    /// The tile size asked for last.
    pub fn size(&self) -> [u32; 2] {
        self.size
    }

    /// Changes the tile size; the next frame is converted for it (no
    /// restart, no renegotiation).
    pub fn resize(&mut self, size: [u32; 2]) {
        if size != self.size {
            self.size = size;
            self.shared.target.store(pack_size(size), Ordering::Relaxed);
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

/// The running pipeline and what the supervisor needs of it.
struct Running {
    pipeline: gst::Pipeline,
    generation: u64,
    started: Instant,
    /// Frames delivered when this pipeline started.
    delivered_at_start: u64,
}

/// What the supervisor does next.
enum Phase {
    Running(Running),
    /// Waiting to retry at `at`. While the camera's port refuses
    /// connections, a TCP probe at `probe_at` (then every second) retries
    /// at once when the port opens, so a returning camera plays within about
    /// a second whatever the backoff.
    Waiting {
        at: Instant,
        probe_at: Option<Instant>,
    },
    /// A failure retrying cannot cure (or not soon): retry at the instant if any.
    Failed(Option<Instant>),
}

/// How a failure is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// With the exponential backoff, shown as reconnecting.
    Backoff,
    /// Every 30 s, shown as an error meanwhile (404, 401).
    Slow,
    /// Never (missing element, unsupported codec).
    Never,
}

/// A stalled stream is restarted after this many `stall_ms` without a frame.
const RESTART_AFTER_STALLS: u64 = 2;
/// A pipeline that has given no frame this long after starting is restarted.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Retry interval for 404 and 401.
const SLOW_RETRY: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_millis(100);
/// How often a refusing camera's port is probed while waiting.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// The reason shown when the camera's port refuses connections.
const REFUSED: &str = "connection refused";

struct Supervisor {
    cfg: PlayerConfig,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    backoff: Backoff,
    stats_at: Instant,
    stats_snapshot: super::stats::Snapshot,
}

impl Supervisor {
    fn run(mut self) {
        if let Err(e) = gst::init() {
            self.shared
                .set_status(TileStatus::Error(VideoError::Other(format!(
                    "GStreamer cannot start: {e}"
                ))));
            // Wait for the handle to go; nothing else to do.
            while !matches!(self.rx.recv(), Ok(Msg::Stop) | Err(_)) {}
            return;
        }
        let mut phase = self.start_pipeline();
        let mut next_tick = Instant::now() + TICK;
        loop {
            // Ticks run on time even while messages keep arriving.
            let now = Instant::now();
            if now >= next_tick {
                phase = self.on_tick(phase);
                self.update_stats();
                next_tick = now + TICK;
            }
            // A playing stream is also checked the moment it would turn
            // stalled, so that "no frame for 3 s" shows at 3 s, not up to a
            // tick later.
            let stall_at = self.stall_deadline(&phase);
            if stall_at.is_some_and(|at| now >= at) {
                phase = self.on_tick(phase);
                continue;
            }
            let wake = stall_at.map_or(next_tick, |at| at.min(next_tick));
            let timeout = wake.saturating_duration_since(now);
            let msg = match self.rx.recv_timeout(timeout) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => Msg::Stop,
            };
            phase = match msg {
                Msg::Stop => {
                    if let Phase::Running(r) = phase {
                        // The generation bump makes late frames void.
                        let _ = self.shared.new_generation(TileStatus::Idle);
                        stop_pipeline(&r.pipeline);
                    }
                    tracing::debug!(camera = %self.cfg.camera, "player stopped");
                    return;
                }
                Msg::Bus(generation, m) => match phase {
                    Phase::Running(r) if r.generation == generation => self.on_bus(r, &m),
                    other => other,
                },
                Msg::Failed(generation, e) => match phase {
                    Phase::Running(r) if r.generation == generation => {
                        let retry = retry_of(&e);
                        self.fail(r, e, retry)
                    }
                    other => other,
                },
            };
        }
    }

    /// When a playing stream turns stalled if no frame comes before.
    fn stall_deadline(&self, phase: &Phase) -> Option<Instant> {
        let Phase::Running(r) = phase else {
            return None;
        };
        if self.shared.counters.delivered_frames() <= r.delivered_at_start
            || lock(&self.shared.status).0 != TileStatus::Playing
        {
            return None;
        }
        let last = self.shared.counters.last_frame_at()?;
        Some(last + Duration::from_millis(self.cfg.stall_ms))
    }

    fn on_tick(&mut self, phase: Phase) -> Phase {
        let now = Instant::now();
        match phase {
            Phase::Running(r) => {
                let delivered = self.shared.counters.delivered_frames();
                if delivered > r.delivered_at_start {
                    self.backoff.reset();
                    let last = self.shared.counters.last_frame_at().unwrap_or(r.started);
                    let quiet = now.saturating_duration_since(last);
                    let stall = Duration::from_millis(self.cfg.stall_ms);
                    if quiet >= stall * RESTART_AFTER_STALLS as u32 {
                        let reason = format!("no frames for {} s", quiet.as_secs());
                        return self.fail(r, VideoError::Unreachable(reason), Retry::Backoff);
                    }
                    if quiet >= stall {
                        let mut s = lock(&self.shared.status);
                        if s.0 == TileStatus::Playing {
                            s.0 = TileStatus::Stalled {
                                since: last + stall,
                            };
                            drop(s);
                            tracing::info!(camera = %self.cfg.camera, "stream stalled");
                            (self.shared.repaint)();
                        }
                    }
                } else if now.saturating_duration_since(r.started) >= FIRST_FRAME_TIMEOUT {
                    let reason = format!("no picture within {} s", FIRST_FRAME_TIMEOUT.as_secs());
                    return self.fail(r, VideoError::Unreachable(reason), Retry::Backoff);
                }
                Phase::Running(r)
            }
            Phase::Waiting { at, .. } | Phase::Failed(Some(at)) if now >= at => {
                self.start_pipeline()
            }
            Phase::Waiting {
                at,
                probe_at: Some(p),
            } if now >= p => {
                if port_open(&self.cfg.url) {
                    tracing::info!(camera = %self.cfg.camera, "camera port open again; reconnecting now");
                    self.start_pipeline()
                } else {
                    Phase::Waiting {
                        at,
                        probe_at: Some(now + PROBE_EVERY),
                    }
                }
            }
            other => other,
        }
    }

    fn on_bus(&mut self, r: Running, msg: &gst::Message) -> Phase {
        use gst::MessageView;
        match msg.view() {
            MessageView::Error(err) => {
                let e = err.error();
                let details = err.debug().map(|d| d.to_string()).unwrap_or_default();
                let source = err.src().map(|s| s.name().to_string()).unwrap_or_default();
                tracing::debug!(camera = %self.cfg.camera, %source, error = %e, %details, "pipeline error");
                let (mut ve, retry) = classify(&e, &details, &self.cfg.url);
                if details.contains("Failed to connect") {
                    // rtspsrc says only "Generic error": find out why ourselves.
                    ve = VideoError::Unreachable(diagnose_connect(&self.cfg.url));
                }
                self.fail(r, ve, retry)
            }
            MessageView::Eos(_) => self.fail(
                r,
                VideoError::Unreachable("the camera ended the stream".into()),
                Retry::Backoff,
            ),
            MessageView::Warning(w) => {
                tracing::debug!(camera = %self.cfg.camera, warning = %w.error(), "pipeline warning");
                Phase::Running(r)
            }
            MessageView::Qos(_) => {
                self.shared.counters.qos_drop();
                Phase::Running(r)
            }
            _ => Phase::Running(r),
        }
    }

    /// Tears the pipeline down (on a separate thread) and decides when to try again.
    fn fail(&mut self, r: Running, e: VideoError, retry: Retry) -> Phase {
        let now = Instant::now();
        let phase = match retry {
            Retry::Backoff => {
                let delay = self.backoff.next_delay();
                let retry_at = now + delay;
                let reason = match &e {
                    VideoError::Unreachable(why) => why.clone(),
                    other => other.to_string(),
                };
                tracing::info!(camera = %self.cfg.camera, attempt = self.backoff.attempt(), delay_ms = delay.as_millis() as u64, %reason, "reconnecting");
                let refused = reason == REFUSED;
                let _ = self.shared.new_generation(TileStatus::Reconnecting {
                    attempt: self.backoff.attempt(),
                    retry_at,
                    reason,
                });
                Phase::Waiting {
                    at: retry_at,
                    probe_at: refused.then(|| now + PROBE_EVERY),
                }
            }
            Retry::Slow => {
                tracing::warn!(camera = %self.cfg.camera, error = %e, "camera refused the stream; retrying every 30 s");
                let _ = self.shared.new_generation(TileStatus::Error(e));
                Phase::Failed(Some(now + SLOW_RETRY))
            }
            Retry::Never => {
                tracing::warn!(camera = %self.cfg.camera, error = %e, "cannot play");
                let _ = self.shared.new_generation(TileStatus::Error(e));
                Phase::Failed(None)
            }
        };
        let pipeline = r.pipeline;
        let spawned = std::thread::Builder::new()
            .name("video teardown".into())
            .spawn({
                let pipeline = pipeline.clone();
                move || stop_pipeline(&pipeline)
            });
        if spawned.is_err() {
            stop_pipeline(&pipeline);
        }
        phase
    }

    /// Builds and starts a pipeline; on failure decides the retry.
    fn start_pipeline(&mut self) -> Phase {
        // Keep an error shown while retrying it slowly; otherwise connecting.
        let keep = matches!(lock(&self.shared.status).0, TileStatus::Error(_));
        let status = if keep {
            lock(&self.shared.status).0.clone()
        } else {
            TileStatus::Connecting
        };
        let generation = self.shared.new_generation(status);
        match build_pipeline(&self.cfg, generation, &self.shared, &self.tx) {
            Ok(r) => {
                if r.pipeline.set_state(gst::State::Playing).is_err() {
                    // The bus carries the reason; it arrives as an Error message.
                    tracing::debug!(camera = %self.cfg.camera, "pipeline refused to play");
                }
                Phase::Running(r)
            }
            Err(e) => {
                let retry = retry_of(&e);
                tracing::warn!(camera = %self.cfg.camera, error = %e, "cannot build the pipeline");
                match retry {
                    Retry::Never => {
                        self.shared.set_status(TileStatus::Error(e));
                        Phase::Failed(None)
                    }
                    Retry::Slow => {
                        self.shared.set_status(TileStatus::Error(e));
                        Phase::Failed(Some(Instant::now() + SLOW_RETRY))
                    }
                    Retry::Backoff => {
                        let delay = self.backoff.next_delay();
                        let retry_at = Instant::now() + delay;
                        self.shared.set_status(TileStatus::Reconnecting {
                            attempt: self.backoff.attempt(),
                            retry_at,
                            reason: e.to_string(),
                        });
                        Phase::Waiting {
                            at: retry_at,
                            probe_at: None,
                        }
                    }
                }
            }
        }
    }

    /// Turns counters into rates about once a second.
    fn update_stats(&mut self) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.stats_at);
        if elapsed < Duration::from_secs(1) {
            return;
        }
        let snap = self.shared.counters.snapshot();
        let secs = elapsed.as_secs_f32();
        let prev = &self.stats_snapshot;
        let decoded = snap.decoded.saturating_sub(prev.decoded);
        let decode_ns = snap.decode_ns.saturating_sub(prev.decode_ns);
        let timed = snap.decode_timed.saturating_sub(prev.decode_timed);
        let mut stats = lock(&self.shared.stats);
        stats.delivered_fps = snap.delivered.saturating_sub(prev.delivered) as f32 / secs;
        stats.source_fps = decoded as f32 / secs;
        stats.bitrate_kbps = snap.bytes.saturating_sub(prev.bytes) as f32 * 8.0 / 1000.0 / secs;
        if timed > 0 {
            stats.decode_ms = decode_ns as f32 / timed as f32 / 1e6;
        }
        stats.dropped_frames = snap.dropped;
        drop(stats);
        let shown = lock(&self.shared.mailbox)
            .frame
            .as_ref()
            .map(|f| (f.width, f.height));
        if let Some((w, h)) = shown {
            let mut stats = lock(&self.shared.stats);
            stats.width = w;
            stats.height = h;
        }
        self.stats_snapshot = snap;
        self.stats_at = now;
    }
}

/// Null state, logging a failure. Blocking: call off the UI thread.
fn stop_pipeline(pipeline: &gst::Pipeline) {
    if let Some(bus) = pipeline.bus() {
        bus.unset_sync_handler();
    }
    if pipeline.set_state(gst::State::Null).is_err() {
        tracing::debug!("pipeline did not stop cleanly");
    }
}

fn retry_of(e: &VideoError) -> Retry {
    match e {
        VideoError::NotFound(_) | VideoError::Unauthorized => Retry::Slow,
        VideoError::MissingElement { .. } | VideoError::UnsupportedCodec(_) => Retry::Never,
        VideoError::Unreachable(_) | VideoError::Other(_) => Retry::Backoff,
    }
}

/// The path of an RTSP URL (no host, no credentials), for messages.
fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.to_owned()
}

/// `host:port` of an RTSP URL (default port 554), without credentials.
fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.is_empty() {
        return None;
    }
    let has_port = match authority.rfind(']') {
        Some(close) => authority[close..].contains(':'),
        None => authority.contains(':'),
    };
    Some(if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:554")
    })
}

/// Why a TCP connection to the camera fails, in a few words: `rtspsrc`
/// reports only "Failed to connect. (Generic error)". Blocks up to 2 s:
/// call on the supervisor thread.
fn diagnose_connect(url: &str) -> String {
    use std::net::{TcpStream, ToSocketAddrs};
    let Some(hp) = host_port(url) else {
        return "invalid camera address".to_owned();
    };
    let addrs: Vec<_> = match hp.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => return "cannot resolve the camera's host name".to_owned(),
    };
    let Some(addr) = addrs.first() else {
        return "cannot resolve the camera's host name".to_owned();
    };
    match TcpStream::connect_timeout(addr, Duration::from_secs(2)) {
        Ok(_) => "cannot connect".to_owned(),
        Err(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => REFUSED.to_owned(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                "connection timed out".to_owned()
            }
            std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                "camera unreachable on the network".to_owned()
            }
            _ => format!("cannot connect: {e}"),
        },
    }
}

/// Whether the camera's RTSP port accepts a TCP connection now (300 ms at
/// most).
fn port_open(url: &str) -> bool {
    use std::net::{TcpStream, ToSocketAddrs};
    host_port(url)
        .and_then(|hp| hp.to_socket_addrs().ok())
        .and_then(|mut a| a.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok())
}

/// Maps a GStreamer error to what a tile shows and how to retry.
fn classify(e: &gst::glib::Error, debug: &str, url: &str) -> (VideoError, Retry) {
    let lower = debug.to_ascii_lowercase();
    if e.matches(gst::ResourceError::NotFound) {
        return (VideoError::NotFound(url_path(url)), Retry::Slow);
    }
    if e.matches(gst::ResourceError::NotAuthorized) || lower.contains("unauthorized") {
        return (VideoError::Unauthorized, Retry::Slow);
    }
    if e.matches(gst::CoreError::MissingPlugin) {
        return (
            VideoError::MissingElement {
                element: "decoder".into(),
                package: "gstreamer1.0-libav".into(),
            },
            Retry::Never,
        );
    }
    if lower.contains("not-negotiated")
        || e.matches(gst::StreamError::CodecNotFound)
        || e.matches(gst::StreamError::WrongType)
        || e.matches(gst::StreamError::Format)
    {
        return (
            VideoError::UnsupportedCodec(format!("{e} ({})", last_line(debug))),
            Retry::Never,
        );
    }
    let reason = if lower.contains("connection refused") {
        REFUSED.to_owned()
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "timed out".to_owned()
    } else if lower.contains("could not resolve") || lower.contains("resolve") {
        "cannot resolve the camera's host name".to_owned()
    } else if e.matches(gst::ResourceError::Read) || e.matches(gst::ResourceError::Write) {
        "connection lost".to_owned()
    } else {
        e.message().trim_end_matches('.').to_owned()
    };
    (VideoError::Unreachable(reason), Retry::Backoff)
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("").trim()
}

/// What the appsink takes: I420 in square pixels, at the stream's size.
pub(super) fn sink_caps() -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build()
}

pub(super) fn make(factory: &str, name: &str) -> Result<gst::Element, VideoError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| VideoError::MissingElement {
            element: factory.to_owned(),
            package: package_of(factory),
        })
}

/// The RTP encodings the player decodes and the elements for each.
fn codec_elements(
    encoding: &str,
) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    match encoding.to_ascii_uppercase().as_str() {
        "H264" => Some(("rtph264depay", "h264parse", "avdec_h264", "video/x-h264")),
        "H265" => Some(("rtph265depay", "h265parse", "avdec_h265", "video/x-h265")),
        _ => None,
    }
}

/// The decoder to use for `media` (e.g. `video/x-h264`): a hardware decoder
/// when the registry ranks one above the software one, else `software`.
/// Decided once per codec.
fn pick_decoder(media: &'static str, software: &'static str) -> String {
    static CHOICES: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());
    let mut choices = lock(&CHOICES);
    if let Some((_, d)) = choices.iter().find(|(m, _)| *m == media) {
        return d.clone();
    }
    let caps = gst::Caps::builder(media).build();
    let mut best: Option<(gst::Rank, String)> = None;
    let list = gst::ElementFactory::factories_with_type(
        gst::ElementFactoryType::DECODER | gst::ElementFactoryType::MEDIA_VIDEO,
        gst::Rank::MARGINAL,
    );
    for f in list.iter() {
        if !f.klass().contains("Hardware") || !f.can_sink_any_caps(&caps) {
            continue;
        }
        let rank = f.rank();
        if best.as_ref().is_none_or(|(r, _)| rank > *r) {
            best = Some((rank, f.name().to_string()));
        }
    }
    let soft_rank = gst::ElementFactory::find(software).map(|f| f.rank());
    let choice = match (best, soft_rank) {
        (Some((hw, name)), Some(sw)) if hw > sw => name,
        (Some((_, name)), None) => name,
        _ => software.to_owned(),
    };
    tracing::info!(%media, decoder = %choice, "video decoder chosen");
    choices.push((media, choice.clone()));
    choice
}

/// Builds the pipeline up to `rtspsrc` plus the static tail; the depay,
/// parse and decode elements are added when the video pad appears.
fn build_pipeline(
    cfg: &PlayerConfig,
    generation: u64,
    shared: &Arc<Shared>,
    tx: &mpsc::Sender<Msg>,
) -> Result<Running, VideoError> {
    let pipeline = gst::Pipeline::with_name(&format!("player-{}", cfg.camera));
    let mut src = gst::ElementFactory::make("rtspsrc")
        .name("src")
        .property("location", cfg.url.as_str())
        .property("latency", cfg.latency_ms)
        .property("drop-on-latency", true)
        .property("add-reference-timestamp-meta", true)
        // Microseconds: give up on a silent TCP peer after 5 s.
        .property("tcp-timeout", 5_000_000u64)
        .property_from_str(
            "protocols",
            match cfg.transport {
                Transport::Tcp => "tcp",
                Transport::Udp => "udp",
            },
        );
    if let Some(c) = &cfg.credentials {
        src = src
            .property("user-id", c.user.as_str())
            .property("user-pw", c.password.as_str());
    }
    let src = src.build().map_err(|_| VideoError::MissingElement {
        element: "rtspsrc".into(),
        package: package_of("rtspsrc"),
    })?;
    // RTSPS: the site's certificate is checked against the CA the client
    // was given (else the system's).
    if cfg.url.starts_with("rtsps://")
        && let Some(ca) = &cfg.ca_file
    {
        use gstreamer_rtsp_server::gio;
        let database = gio::TlsFileDatabase::new(ca).map_err(|e| {
            VideoError::Other(format!("the site's CA certificate {}: {e}", ca.display()))
        })?;
        src.set_property("tls-database", database.upcast::<gio::TlsDatabase>());
    }
    // Passes a decoder's I420 through untouched (no copy, no work); only a
    // decoder that gives another format, or non-square pixels, makes it work.
    let scale = make("videoconvertscale", "scale")?;
    let appsink = gst_app::AppSink::builder()
        .name("sink")
        .caps(&sink_caps())
        .max_buffers(1)
        .drop(true)
        .sync(false)
        .enable_last_sample(false)
        .build();
    if gst::ElementFactory::find("appsink").is_none() {
        return Err(VideoError::MissingElement {
            element: "appsink".into(),
            package: package_of("appsink"),
        });
    }
    pipeline
        .add_many([&src, &scale, appsink.upcast_ref()])
        .map_err(|e| VideoError::Other(format!("cannot assemble the pipeline: {e}")))?;
    gst::Element::link_many([&scale, appsink.upcast_ref()])
        .map_err(|e| VideoError::Other(format!("cannot link the scaler: {e}")))?;

    // Tell the decoder the appsink reads padded frames (through their video
    // meta): without it `avdec_*` cannot hand over the frames it decoded into
    // and copies each one into a pool of unpadded buffers.
    if let Some(pad) = appsink.static_pad("sink") {
        pad.add_probe(gst::PadProbeType::QUERY_DOWNSTREAM, |_, info| {
            if let Some(gst::PadProbeData::Query(q)) = &mut info.data
                && let gst::QueryViewMut::Allocation(a) = q.view_mut()
            {
                a.add_allocation_meta::<gst_video::VideoMeta>(None);
            }
            gst::PadProbeReturn::Ok
        });
    }

    // Capture times: from the frame's own meta when it survives decoding,
    // else from the PTS → NTP map filled before the depayloader.
    let ntp_by_pts: Arc<Mutex<VecDeque<(gst::ClockTime, u64)>>> = Arc::default();
    install_appsink(&appsink, generation, shared, ntp_by_pts.clone());

    // Only the first video stream; audio and others are not set up at all.
    src.connect("select-stream", false, |args| {
        let keep = args
            .get(2)
            .and_then(|v| v.get::<gst::Caps>().ok())
            .and_then(|c| {
                c.structure(0)
                    .and_then(|s| s.get::<&str>("media").ok().map(|m| m == "video"))
            })
            .unwrap_or(true);
        Some(keep.to_value())
    });

    let linked = Arc::new(Mutex::new(false));
    let pipeline_weak = pipeline.downgrade();
    let scale_weak = scale.downgrade();
    let pad_tx = tx.clone();
    let decoder_override = cfg.decoder.clone();
    let shared_pad = shared.clone();
    src.connect_pad_added(move |_, pad| {
        let (Some(pipeline), Some(scale)) = (pipeline_weak.upgrade(), scale_weak.upgrade()) else {
            return;
        };
        let mut done = lock(&linked);
        let result = link_video_pad(
            &pipeline,
            pad,
            &scale,
            *done,
            decoder_override.as_deref(),
            &shared_pad,
            &ntp_by_pts,
        );
        match result {
            Ok(true) => *done = true,
            Ok(false) => {}
            Err(e) => {
                let _ = pad_tx.send(Msg::Failed(generation, e));
            }
        }
    });

    let bus = pipeline
        .bus()
        .ok_or_else(|| VideoError::Other("pipeline has no bus".into()))?;
    let tx = tx.clone();
    bus.set_sync_handler(move |_, msg| {
        use gst::MessageView;
        // Forward only what the supervisor uses; never touch state here.
        if matches!(
            msg.view(),
            MessageView::Error(_)
                | MessageView::Eos(_)
                | MessageView::Warning(_)
                | MessageView::Qos(_)
        ) {
            let _ = tx.send(Msg::Bus(generation, msg.clone()));
        }
        gst::BusSyncReply::Drop
    });

    Ok(Running {
        pipeline,
        generation,
        started: Instant::now(),
        delivered_at_start: shared.counters.delivered_frames(),
    })
}

/// Adds depay ! parse ! decoder for a new `rtspsrc` pad and links it to the
/// scaler. `Ok(false)` when the pad is not ours to play (already linked or
/// not video): it goes to a fakesink so it does not stop the source.
fn link_video_pad(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    scale: &gst::Element,
    already_linked: bool,
    decoder_override: Option<&str>,
    shared: &Arc<Shared>,
    ntp_by_pts: &Arc<Mutex<VecDeque<(gst::ClockTime, u64)>>>,
) -> Result<bool, VideoError> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let s = caps
        .structure(0)
        .ok_or_else(|| VideoError::Other("stream without caps".into()))?;
    let media = s.get::<&str>("media").unwrap_or("");
    let encoding = s.get::<&str>("encoding-name").unwrap_or("").to_owned();
    if media != "video" || already_linked {
        let sink = make("fakesink", &format!("discard-{}", pad.name()))?;
        sink.set_property("sync", false);
        pipeline
            .add(&sink)
            .map_err(|e| VideoError::Other(format!("{e}")))?;
        let _ = sink.sync_state_with_parent();
        if let Some(sinkpad) = sink.static_pad("sink") {
            let _ = pad.link(&sinkpad);
        }
        return Ok(false);
    }
    let Some((depay_name, parse_name, software, media_type)) = codec_elements(&encoding) else {
        return Err(VideoError::UnsupportedCodec(format!(
            "{} (only H.264 and H.265 are supported)",
            if encoding.is_empty() {
                "unknown"
            } else {
                &encoding
            }
        )));
    };
    let decoder_name = match decoder_override {
        Some(d) => d.to_owned(),
        None => pick_decoder(media_type, software),
    };
    let depay = make(depay_name, "depay")?;
    let parse = make(parse_name, "parse")?;
    let decoder = make(&decoder_name, "decoder")?;
    if decoder.has_property("max-threads") {
        // One thread a stream: threading gave no speed-up here and cost 10% more CPU.
        decoder.set_property_from_str("max-threads", "1");
    }
    let elems = [&depay, &parse, &decoder];
    pipeline
        .add_many(elems)
        .map_err(|e| VideoError::Other(format!("cannot assemble the decoder: {e}")))?;
    gst::Element::link_many([&depay, &parse, &decoder, scale]).map_err(|_| {
        VideoError::UnsupportedCodec(format!("{decoder_name} cannot take {media_type}"))
    })?;
    install_probes(&depay, &decoder, shared, ntp_by_pts);
    for e in elems {
        e.sync_state_with_parent()
            .map_err(|e| VideoError::Other(format!("cannot start the decoder: {e}")))?;
    }
    let sinkpad = depay
        .static_pad("sink")
        .ok_or_else(|| VideoError::Other("depayloader without sink pad".into()))?;
    pad.link(&sinkpad)
        .map_err(|e| VideoError::UnsupportedCodec(format!("{encoding}: {e:?}")))?;
    Ok(true)
}

/// The NTP capture time (ns since 1900) of a buffer, if it carries one.
fn ntp_of(buffer: &gst::BufferRef) -> Option<u64> {
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| {
            m.reference()
                .structure(0)
                .is_some_and(|s| s.name() == "timestamp/x-ntp")
        })
        .map(|m| m.timestamp().nseconds())
}

const PTS_MAP_LEN: usize = 64;

/// Byte counting before the depayloader, the PTS → NTP map after it, and
/// decode timing around the decoder.
fn install_probes(
    depay: &gst::Element,
    decoder: &gst::Element,
    shared: &Arc<Shared>,
    ntp_by_pts: &Arc<Mutex<VecDeque<(gst::ClockTime, u64)>>>,
) {
    if let Some(pad) = depay.static_pad("sink") {
        let shared = shared.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                let bytes = match &info.data {
                    Some(gst::PadProbeData::Buffer(b)) => b.size(),
                    Some(gst::PadProbeData::BufferList(l)) => l.calculate_size(),
                    _ => 0,
                };
                shared.counters.add_bytes(bytes as u64);
                gst::PadProbeReturn::Ok
            },
        );
    }
    if let Some(pad) = depay.static_pad("src") {
        let map = ntp_by_pts.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer()
                && let (Some(pts), Some(ntp)) = (b.pts(), ntp_of(b))
            {
                let mut m = lock(&map);
                if m.back().is_none_or(|(p, _)| *p != pts) {
                    if m.len() >= PTS_MAP_LEN {
                        m.pop_front();
                    }
                    m.push_back((pts, ntp));
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    let in_flight: Arc<Mutex<VecDeque<(gst::ClockTime, Instant)>>> = Arc::default();
    if let Some(pad) = decoder.static_pad("sink") {
        let in_flight = in_flight.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
                let mut q = lock(&in_flight);
                if q.back().is_none_or(|(p, _)| *p != pts) {
                    if q.len() >= PTS_MAP_LEN {
                        q.pop_front();
                    }
                    q.push_back((pts, Instant::now()));
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    if let Some(pad) = decoder.static_pad("src") {
        let shared = shared.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let pts = info.buffer().and_then(|b| b.pts());
            let mut spent = None;
            if let Some(pts) = pts {
                let mut q = lock(&in_flight);
                while let Some((p, at)) = q.front().copied() {
                    if p > pts {
                        break;
                    }
                    q.pop_front();
                    if p == pts {
                        spent = Some(at.elapsed());
                    }
                }
            }
            shared.counters.decoded(spent);
            gst::PadProbeReturn::Ok
        });
    }
}

/// The appsink callback: the I420 picture, halved for the tile and
/// converted to packed RGBA, into the mailbox.
fn install_appsink(
    appsink: &gst_app::AppSink,
    generation: u64,
    shared: &Arc<Shared>,
    ntp_by_pts: Arc<Mutex<VecDeque<(gst::ClockTime, u64)>>>,
) {
    let shared = Arc::downgrade(shared);
    let mut scratch = convert::Scratch::default();
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let Ok(sample) = sink.pull_sample() else {
                    return Err(gst::FlowError::Flushing);
                };
                let Some(shared) = shared.upgrade() else {
                    return Err(gst::FlowError::Flushing);
                };
                let target = unpack_size(shared.target.load(Ordering::Relaxed));
                match frame_of(&sample, target, &ntp_by_pts, &mut scratch) {
                    Some(frame) => shared.deliver(generation, frame),
                    None => tracing::debug!("dropped a frame that could not be mapped"),
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// The stream's colour encoding, as its caps say (or as is usual for its size).
fn colorimetry_of(info: &gst_video::VideoInfo) -> Colorimetry {
    use gst_video::{VideoColorMatrix as M, VideoColorRange as R};
    let fallback = Colorimetry::default_for(info.width(), info.height());
    let c = info.colorimetry();
    Colorimetry {
        matrix: match c.matrix() {
            M::Bt601 | M::Fcc => Matrix::Bt601,
            M::Bt709 => Matrix::Bt709,
            M::Bt2020 => Matrix::Bt2020,
            M::Smpte240m => Matrix::Smpte240,
            _ => fallback.matrix,
        },
        limited: match c.range() {
            R::Range0_255 => false,
            R::Range16_235 => true,
            _ => fallback.limited,
        },
    }
}

/// The packed RGBA of a sample for a tile of `target`, with its capture time.
pub(super) fn frame_of(
    sample: &gst::Sample,
    target: [u32; 2],
    ntp_by_pts: &Mutex<VecDeque<(gst::ClockTime, u64)>>,
    scratch: &mut convert::Scratch,
) -> Option<Frame> {
    let buffer = sample.buffer()?;
    let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    if info.format() != gst_video::VideoFormat::I420 {
        return None;
    }
    let vframe = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).ok()?;
    let strides = vframe.plane_stride();
    let plane = |i: u32| -> Option<Plane<'_>> {
        Some(Plane {
            data: vframe.plane_data(i).ok()?,
            stride: usize::try_from(*strides.get(i as usize)?).ok()?,
        })
    };
    let picture = I420 {
        width: info.width(),
        height: info.height(),
        y: plane(0)?,
        u: plane(1)?,
        v: plane(2)?,
    };
    let (width, height, rgba) = convert::to_rgba(&picture, colorimetry_of(&info), target, scratch)?;
    let ntp = ntp_of(buffer).or_else(|| {
        let pts = buffer.pts()?;
        lock(ntp_by_pts)
            .iter()
            .rev()
            .find(|(p, _)| *p == pts)
            .map(|(_, n)| *n)
    });
    Some(Frame {
        width,
        height,
        rgba: bytes::Bytes::from(rgba),
        number: 0,
        capture_time: ntp.and_then(utc_from_ntp),
        arrived: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_of_urls() {
        assert_eq!(
            host_port("rtsp://10.0.0.1:8554/a").as_deref(),
            Some("10.0.0.1:8554")
        );
        assert_eq!(
            host_port("rtsp://cam.local/a").as_deref(),
            Some("cam.local:554")
        );
        assert_eq!(host_port("rtsp://u:p@cam/a").as_deref(), Some("cam:554"));
        assert_eq!(host_port("rtsp://[::1]/a").as_deref(), Some("[::1]:554"));
        assert_eq!(host_port("rtsp://[::1]:9/a").as_deref(), Some("[::1]:9"));
        assert_eq!(host_port("rtsp:///a"), None);
    }

    #[test]
    fn a_closed_port_is_diagnosed_as_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        assert_eq!(
            diagnose_connect(&format!("rtsp://127.0.0.1:{port}/x")),
            "connection refused"
        );
    }

    #[test]
    fn url_paths_carry_no_host() {
        assert_eq!(url_path("rtsp://10.0.0.1:554/cam/main"), "/cam/main");
        assert_eq!(url_path("rtsp://host"), "/");
    }

    #[test]
    fn errors_map_to_tile_states() {
        let nf = gst::glib::Error::new(gst::ResourceError::NotFound, "Not found");
        assert_eq!(
            classify(&nf, "", "rtsp://h/x"),
            (VideoError::NotFound("/x".into()), Retry::Slow)
        );
        let auth = gst::glib::Error::new(gst::ResourceError::NotAuthorized, "Unauthorized");
        assert_eq!(
            classify(&auth, "", "rtsp://h/x").0,
            VideoError::Unauthorized
        );
        let refused = gst::glib::Error::new(gst::ResourceError::OpenReadWrite, "Could not open");
        let (e, r) = classify(
            &refused,
            "Failed to connect. (Could not connect to 127.0.0.1: Connection refused)",
            "rtsp://h/x",
        );
        assert_eq!(e, VideoError::Unreachable("connection refused".into()));
        assert_eq!(r, Retry::Backoff);
        let neg = gst::glib::Error::new(gst::StreamError::Failed, "Internal data stream error.");
        let (e, r) = classify(
            &neg,
            "streaming stopped, reason not-negotiated (-4)",
            "rtsp://h/x",
        );
        assert!(matches!(e, VideoError::UnsupportedCodec(_)));
        assert_eq!(r, Retry::Never);
    }

    /// One sample of `videotestsrc` in the given caps.
    fn test_sample(pattern: &str, caps: &str) -> gst::Sample {
        gst::init().expect("gst init");
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc pattern={pattern} num-buffers=1 ! videoconvert ! {caps} ! appsink name=sink"
        ))
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .expect("appsink");
        pipeline.set_state(gst::State::Playing).expect("plays");
        let sample = sink
            .try_pull_sample(gst::ClockTime::from_seconds(5))
            .expect("a sample");
        let _ = pipeline.set_state(gst::State::Null);
        sample
    }

    /// The player's conversion agrees with GStreamer's `videoconvert` on
    /// real pictures, in both colour matrices, and its halving keeps them.
    #[test]
    fn frames_match_gstreamers_own_conversion() {
        let no_ntp = Mutex::new(VecDeque::new());
        let mut scratch = convert::Scratch::default();
        for (pattern, (w, h), colorimetry) in [
            ("smpte", (64, 48), "bt601"),
            ("smpte", (64, 48), "bt709"),
            ("pinwheel", (96, 64), "bt709"),
        ] {
            let i420 = test_sample(
                pattern,
                &format!("video/x-raw,format=I420,width={w},height={h},colorimetry={colorimetry}"),
            );
            let want = test_sample(
                pattern,
                &format!(
                    "video/x-raw,format=I420,width={w},height={h},colorimetry={colorimetry} \
                     ! videoconvert ! video/x-raw,format=RGBA"
                ),
            );
            let frame = frame_of(&i420, [w, h], &no_ntp, &mut scratch).expect("a frame");
            assert_eq!((frame.width, frame.height), (w, h));
            let buffer = want.buffer().expect("buffer");
            let map = buffer.map_readable().expect("readable");
            let want = map.as_slice();
            assert_eq!(want.len(), frame.rgba.len(), "{pattern} {colorimetry}");
            let mut total = 0u64;
            for (a, b) in frame.rgba.iter().zip(want) {
                total += u64::from(a.abs_diff(*b));
            }
            let mean = total as f64 / frame.rgba.len() as f64;
            assert!(
                mean < 2.0,
                "{pattern} {colorimetry}: mean difference {mean:.2} per channel"
            );

            // Halved for a tile a quarter the size: half in each dimension.
            let half = frame_of(&i420, [w / 2, h / 2], &no_ntp, &mut scratch).expect("a frame");
            assert_eq!((half.width, half.height), (w / 2, h / 2));
        }
        // Not I420: refused, not misread.
        let rgba = test_sample("smpte", "video/x-raw,format=RGBA,width=16,height=16");
        assert!(frame_of(&rgba, [16, 16], &no_ntp, &mut scratch).is_none());
    }
}

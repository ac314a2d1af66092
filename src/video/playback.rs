//! Recorded video: one tile's playback of a camera's finished segments,
//! fetched from the site over HTTP with the session's token.
//!
//! Pipeline, one per segment:
//!
//! ```text
//! souphttpsrc location=…/recordings/segments/ID extra-headers="Authorization: Bearer …"
//!   ! decodebin (qtdemux ! h264parse ! avdec_h264, or H.265)
//!   ! videoconvertscale ! appsink caps=I420,pixel-aspect-ratio=1/1
//!             max-buffers=2 drop=false sync=false
//! ```
//!
//! Time is not GStreamer's: the tiles of a view share one playback clock
//! in the UI (a position that moves at a rate), and every UI frame each
//! tile shows its newest decoded frame whose capture time is at or before
//! that position ([`PlaybackPlayer::frame_at`]). A player thread decodes a
//! few frames ahead of the position and stops (the appsink does not drop,
//! so the pipeline waits) until the UI takes them; tiles therefore cannot
//! drift apart by more than a frame while their decoders keep up, and a
//! seek re-syncs them by construction. A frame's capture time is its
//! segment's start (wall clock, from the camera's RTCP or the site's
//! receive time, as the index says) plus its presentation time in the file.
//!
//! Seeks: `exact` ones are accurate (the decoder runs from the key frame
//! before and drops frames until the target); the others (while the
//! operator drags the timeline) snap to the key frame before and hold after
//! one frame, so a drag shows a picture per step at the cost of one key
//! frame. At 4× and faster only key frames are decoded (trick mode key
//! units, and a probe that drops delta frames before the decoder). The
//! next segment is opened and prerolled a few seconds before the current
//! one ends, so its first frame is decoded before it is due.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::player::{frame_of, make, sink_caps};
use super::{Credentials, Frame, TileStatus, VideoError};
use crate::domain::{SegmentRef, Timestamp};

/// Frames decoded ahead of the position.
const AHEAD: usize = 6;
/// The next segment is opened this long before the current one ends.
const PREROLL: chrono::TimeDelta = chrono::TimeDelta::seconds(3);
/// A frame this close after the position already counts as due (rounding
/// of times in the file and the index).
const DUE_SLACK: chrono::TimeDelta = chrono::TimeDelta::milliseconds(2);
/// Playing this far ahead of the newest decoded frame (the decoder cannot
/// keep up) makes the player seek to the position instead.
const BEHIND: chrono::TimeDelta = chrono::TimeDelta::seconds(2);
/// From 4× up only key frames are decoded.
pub const KEY_FRAMES_ONLY_FROM: f64 = 4.0;
/// How long a segment may take to open (HTTP, moov, first frame).
const OPEN_TIMEOUT: Duration = Duration::from_secs(8);
/// A failed segment is tried again after this.
const RETRY: Duration = Duration::from_secs(2);

/// What the UI wants of a playback tile, every frame.
#[derive(Clone)]
pub struct PlaybackWant {
    /// The camera's finished segments, in time order.
    pub segments: Arc<[SegmentRef]>,
    /// The playback clock's position now.
    pub position: Timestamp,
    /// Playback speed (1.0 = real time); for the key-frames-only switch.
    pub rate: f64,
    /// A new number asks for a seek to `position`.
    pub seek: u64,
    /// The seek lands on the exact frame (a click, a release, a frame
    /// step); otherwise on the key frame before (dragging).
    pub exact: bool,
}

impl std::fmt::Debug for PlaybackWant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaybackWant")
            .field("segments", &self.segments.len())
            .field("position", &self.position)
            .field("rate", &self.rate)
            .field("seek", &self.seek)
            .field("exact", &self.exact)
            .finish()
    }
}

/// Fixed for a player's life.
#[derive(Clone)]
pub(crate) struct PlaybackConfig {
    pub camera: String,
    /// The session: its token goes in `Authorization: Bearer`.
    pub credentials: Option<Credentials>,
    pub repaint: Arc<dyn Fn() + Send + Sync>,
}

#[derive(Default)]
struct Queue {
    /// Decoded, not yet due; capture times ascending.
    ahead: VecDeque<Arc<Frame>>,
    /// The frame on screen.
    shown: Option<Arc<Frame>>,
}

struct Shared {
    want: Mutex<Option<PlaybackWant>>,
    queue: Mutex<Queue>,
    status: Mutex<TileStatus>,
    /// Request → first frame of the newest seek, µs (0: none yet).
    seek_us: AtomicU64,
    decoded: AtomicU64,
    /// Drop delta frames before the decoder.
    key_only: Arc<AtomicBool>,
    /// Tile size, `w << 32 | h`.
    target: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

enum Msg {
    Wake,
    Stop,
}

/// One tile's playback. Dropping it stops its thread and pipelines.
pub(crate) struct PlaybackPlayer {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
    last_seek: Option<u64>,
    last_segments: Option<Arc<[SegmentRef]>>,
    last_key_only: bool,
}

impl PlaybackPlayer {
    /// Starts the player's thread; nothing is fetched before the first
    /// [`PlaybackPlayer::update`].
    pub fn start(cfg: PlaybackConfig, size: [u32; 2]) -> PlaybackPlayer {
        let shared = Arc::new(Shared {
            want: Mutex::new(None),
            queue: Mutex::new(Queue::default()),
            status: Mutex::new(TileStatus::Connecting),
            seek_us: AtomicU64::new(0),
            decoded: AtomicU64::new(0),
            key_only: Arc::new(AtomicBool::new(false)),
            target: AtomicU64::new(pack(size)),
        });
        let (tx, rx) = mpsc::channel();
        let worker = Worker {
            cfg: cfg.clone(),
            shared: shared.clone(),
            rx,
            current: None,
            next: None,
            done_seek: None,
            retry_at: None,
            seek_started: None,
            newest: None,
            skip_before: None,
            scratch: super::convert::Scratch::default(),
            seeked_with: None,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("playback {}", cfg.camera))
            .spawn(move || worker.run());
        if let Err(e) = spawned {
            *lock(&shared.status) = TileStatus::Error(VideoError::Other(format!(
                "cannot start a playback thread: {e}"
            )));
        }
        PlaybackPlayer {
            shared,
            tx,
            last_seek: None,
            last_segments: None,
            last_key_only: false,
        }
    }

    /// The UI's wish this frame. Wakes the thread only when something it
    /// acts on changed (a seek, the segment list, the key-frame switch).
    pub fn update(&mut self, want: &PlaybackWant) {
        let key_only = want.rate >= KEY_FRAMES_ONLY_FROM;
        let wake = self.last_seek != Some(want.seek)
            || self
                .last_segments
                .as_ref()
                .is_none_or(|s| !Arc::ptr_eq(s, &want.segments))
            || self.last_key_only != key_only;
        if self.last_seek != Some(want.seek) {
            // The old position's frames are of no use any more.
            lock(&self.shared.queue).ahead.clear();
        }
        *lock(&self.shared.want) = Some(want.clone());
        self.last_seek = Some(want.seek);
        self.last_segments = Some(want.segments.clone());
        self.last_key_only = key_only;
        if wake {
            let _ = self.tx.send(Msg::Wake);
        }
    }

    /// The newest frame due at `position` (or the one shown before, while
    /// none is). Taking frames makes room: the thread decodes on.
    pub fn frame_at(&self, position: Timestamp) -> Option<Arc<Frame>> {
        let mut q = lock(&self.shared.queue);
        let due = position + DUE_SLACK;
        let mut took = false;
        while q
            .ahead
            .front()
            .is_some_and(|f| f.capture_time.is_some_and(|t| t <= due))
        {
            q.shown = q.ahead.pop_front();
            took = true;
        }
        let shown = q.shown.clone();
        drop(q);
        if took {
            let _ = self.tx.send(Msg::Wake);
        }
        shown
    }

    pub fn status(&self) -> TileStatus {
        lock(&self.shared.status).clone()
    }

    /// Request → first frame of the newest seek, ms.
    pub fn seek_ms(&self) -> Option<f32> {
        let us = self.shared.seek_us.load(Ordering::Relaxed);
        (us > 0).then(|| us as f32 / 1000.0)
    }

    pub fn resize(&self, size: [u32; 2]) {
        self.shared.target.store(pack(size), Ordering::Relaxed);
    }
}

impl Drop for PlaybackPlayer {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

fn pack(size: [u32; 2]) -> u64 {
    (u64::from(size[0]) << 32) | u64::from(size[1])
}

fn unpack(v: u64) -> [u32; 2] {
    [(v >> 32) as u32, (v & 0xffff_ffff) as u32]
}

/// One open segment.
struct Open {
    segment: SegmentRef,
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    /// A drag's seek: one frame, then wait for the next wish.
    hold: bool,
}

impl Drop for Open {
    fn drop(&mut self) {
        let pipeline = self.pipeline.clone();
        // Null blocks on the HTTP source: never on the player's thread.
        let stop = move || {
            let _ = pipeline.set_state(gst::State::Null);
        };
        if std::thread::Builder::new()
            .name("playback teardown".into())
            .spawn(stop.clone())
            .is_err()
        {
            stop();
        }
    }
}

struct Worker {
    cfg: PlaybackConfig,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Msg>,
    current: Option<Open>,
    next: Option<Open>,
    done_seek: Option<(u64, bool)>,
    retry_at: Option<Instant>,
    seek_started: Option<Instant>,
    /// Capture time of the newest frame decoded.
    newest: Option<Timestamp>,
    /// An exact seek's position: decoded frames that end before it are
    /// dropped unconverted.
    skip_before: Option<Timestamp>,
    scratch: super::convert::Scratch,
    /// The segment list of the last seek.
    seeked_with: Option<Arc<[SegmentRef]>>,
}

impl Worker {
    fn run(mut self) {
        if let Err(e) = gst::init() {
            self.set_status(TileStatus::Error(VideoError::Other(format!(
                "GStreamer cannot start: {e}"
            ))));
            while !matches!(self.rx.recv(), Ok(Msg::Stop) | Err(_)) {}
            return;
        }
        loop {
            let timeout = if self.wants_frames() {
                Duration::ZERO
            } else {
                Duration::from_millis(50)
            };
            match self.rx.recv_timeout(timeout) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Msg::Wake) | Err(RecvTimeoutError::Timeout) => {}
            }
            while let Ok(m) = self.rx.try_recv() {
                if matches!(m, Msg::Stop) {
                    return;
                }
            }
            let Some(want) = lock(&self.shared.want).clone() else {
                continue;
            };
            self.step(&want);
        }
    }

    fn set_status(&self, status: TileStatus) {
        let mut s = lock(&self.shared.status);
        if *s != status {
            *s = status;
            drop(s);
            (self.cfg.repaint)();
        }
    }

    fn wants_frames(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| !c.hold && lock(&self.shared.queue).ahead.len() < AHEAD)
    }

    fn step(&mut self, want: &PlaybackWant) {
        let key_only = want.rate >= KEY_FRAMES_ONLY_FROM;
        let behind = self.current.as_ref().is_some_and(|c| !c.hold)
            && self.newest.is_some_and(|n| want.position - n > BEHIND)
            && lock(&self.shared.queue).ahead.is_empty();
        let retry = self.retry_at.is_some_and(|at| Instant::now() >= at);
        // Nothing open (no recording was known there, or it ended) and the
        // list of segments changed since: try again with the new one.
        let new_list = self.current.is_none()
            && self.retry_at.is_none()
            && self
                .seeked_with
                .as_ref()
                .is_none_or(|s| !Arc::ptr_eq(s, &want.segments));
        if self.done_seek.map(|(s, _)| s) != Some(want.seek)
            || self.done_seek.is_some_and(|(_, k)| k != key_only)
            || behind
            || retry
            || new_list
        {
            self.retry_at = None;
            self.seek(want, key_only);
        }
        if let Some(e) = self.bus_error() {
            self.fail(e);
            return;
        }
        self.pull(want);
    }

    /// Positions the player at `want.position`.
    fn seek(&mut self, want: &PlaybackWant, key_only: bool) {
        self.done_seek = Some((want.seek, key_only));
        self.seeked_with = Some(want.segments.clone());
        self.seek_started = Some(Instant::now());
        self.newest = None;
        self.shared.key_only.store(key_only, Ordering::Relaxed);
        lock(&self.shared.queue).ahead.clear();
        let segments = &want.segments;
        // The segment holding the position, or the first after it (a gap).
        let Some(index) = segments.iter().position(|s| want.position < s.end) else {
            self.current = None;
            self.next = None;
            self.set_status(TileStatus::Idle);
            return;
        };
        let segment = &segments[index];
        let offset = (want.position - segment.start).max(chrono::TimeDelta::zero());
        let reuse = |o: &Option<Open>| o.as_ref().is_some_and(|o| o.segment.id == segment.id);
        if !reuse(&self.current) {
            if reuse(&self.next) {
                self.current = self.next.take();
            } else {
                self.current = None;
                self.set_status(TileStatus::Connecting);
                match self.open(segment) {
                    Ok(o) => self.current = Some(o),
                    Err(e) => {
                        self.fail(e);
                        return;
                    }
                }
            }
        }
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        // Always to the key frame before: an exact seek then skips the
        // frames before the position itself (see `pull`), which keeps every
        // frame's own time (an accurate seek would clip the first one).
        let mut flags =
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE;
        if key_only {
            flags |= gst::SeekFlags::TRICKMODE | gst::SeekFlags::TRICKMODE_KEY_UNITS;
        }
        let at = gst::ClockTime::from_nseconds(
            u64::try_from(offset.num_nanoseconds().unwrap_or(0)).unwrap_or(0),
        );
        cur.hold = false;
        self.skip_before = want.exact.then_some(want.position);
        if let Err(e) = cur.pipeline.seek_simple(flags, at) {
            tracing::debug!(camera = %self.cfg.camera, error = %e, "seek refused; reopening");
            // A pipeline that will not seek is opened afresh.
            self.current = None;
            match self.open(segment) {
                Ok(o) => {
                    let _ = o.pipeline.seek_simple(flags, at);
                    self.current = Some(o);
                }
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
        if let Some(cur) = &self.current {
            let _ = cur.pipeline.set_state(gst::State::Playing);
        }
        self.next = self.next.take().filter(|n| {
            segments
                .get(index + 1)
                .is_some_and(|s| s.id == n.segment.id)
        });
    }

    /// Opens a segment, prerolled (PAUSED with its first frame decoded).
    fn open(&self, segment: &SegmentRef) -> Result<Open, VideoError> {
        let pipeline =
            gst::Pipeline::with_name(&format!("playback-{}-{}", self.cfg.camera, segment.id));
        let src = make("souphttpsrc", "src")?;
        src.set_property("location", segment.url.as_str());
        if let Some(c) = &self.cfg.credentials {
            let headers = gst::Structure::builder("extra-headers")
                .field("Authorization", format!("Bearer {}", c.password))
                .build();
            src.set_property("extra-headers", &headers);
        }
        src.set_property("timeout", 10u32);
        let decode = make("decodebin", "decode")?;
        let scale = make("videoconvertscale", "scale")?;
        let sink = gst_app::AppSink::builder()
            .name("sink")
            .caps(&sink_caps())
            .max_buffers(2)
            .drop(false)
            .sync(false)
            .enable_last_sample(false)
            .build();
        pipeline
            .add_many([&src, &decode, &scale, sink.upcast_ref()])
            .map_err(|e| VideoError::Other(format!("cannot assemble playback: {e}")))?;
        src.link(&decode)
            .map_err(|e| VideoError::Other(format!("cannot link the HTTP source: {e}")))?;
        scale
            .link(&sink)
            .map_err(|e| VideoError::Other(format!("cannot link the sink: {e}")))?;
        let scale_weak = scale.downgrade();
        decode.connect_pad_added(move |_, pad| {
            let Some(scale) = scale_weak.upgrade() else {
                return;
            };
            let is_video = pad
                .current_caps()
                .unwrap_or_else(|| pad.query_caps(None))
                .structure(0)
                .is_some_and(|s| s.name().starts_with("video/"));
            if let (true, Some(sinkpad)) = (is_video, scale.static_pad("sink"))
                && !sinkpad.is_linked()
            {
                let _ = pad.link(&sinkpad);
            }
        });
        // Key frames only: drop delta frames before they reach the decoder.
        let key_only = self.shared.key_only.clone();
        decode.downcast_ref::<gst::Bin>().map(|bin| {
            bin.connect_deep_element_added(move |_, _, element| {
                let is_decoder = element
                    .factory()
                    .is_some_and(|f| f.klass().contains("Decoder"));
                let Some(pad) = is_decoder.then(|| element.static_pad("sink")).flatten() else {
                    return;
                };
                let key_only = key_only.clone();
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                    let delta = info
                        .buffer()
                        .is_some_and(|b| b.flags().contains(gst::BufferFlags::DELTA_UNIT));
                    if delta && key_only.load(Ordering::Relaxed) {
                        gst::PadProbeReturn::Drop
                    } else {
                        gst::PadProbeReturn::Ok
                    }
                });
            })
        });
        let _ = pipeline.set_state(gst::State::Paused);
        let (result, _, _) = pipeline.state(gst::ClockTime::from_nseconds(
            u64::try_from(OPEN_TIMEOUT.as_nanos()).unwrap_or(u64::MAX),
        ));
        let open = Open {
            segment: segment.clone(),
            pipeline,
            sink,
            hold: false,
        };
        match result {
            Ok(_) => Ok(open),
            Err(_) => Err(self.pipeline_error(&open.pipeline).unwrap_or_else(|| {
                VideoError::Unreachable(format!(
                    "recording {} did not open within {} s",
                    segment.id,
                    OPEN_TIMEOUT.as_secs()
                ))
            })),
        }
    }

    fn pipeline_error(&self, pipeline: &gst::Pipeline) -> Option<VideoError> {
        let msg = pipeline.bus()?.pop_filtered(&[gst::MessageType::Error])?;
        let gst::MessageView::Error(err) = msg.view() else {
            return None;
        };
        let text = err.error().to_string();
        let details = err.debug().map(|d| d.to_string()).unwrap_or_default();
        tracing::debug!(camera = %self.cfg.camera, error = %text, %details, "playback error");
        Some(classify(&text, &details))
    }

    fn bus_error(&self) -> Option<VideoError> {
        self.current
            .as_ref()
            .and_then(|c| self.pipeline_error(&c.pipeline))
    }

    fn fail(&mut self, e: VideoError) {
        tracing::info!(camera = %self.cfg.camera, error = %e, "playback failed; trying again");
        self.current = None;
        self.next = None;
        self.retry_at = Some(Instant::now() + RETRY);
        self.set_status(TileStatus::Error(e));
    }

    /// Pulls one frame when there is room for it.
    fn pull(&mut self, want: &PlaybackWant) {
        if !self.wants_frames() {
            self.preroll_next(want);
            return;
        }
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        let sample = cur.sink.try_pull_sample(gst::ClockTime::from_mseconds(20));
        let Some(sample) = sample else {
            if cur.sink.is_eos() {
                self.advance(want);
            }
            return;
        };
        let target = unpack(self.shared.target.load(Ordering::Relaxed));
        let period = frame_period_of(&sample);
        let pts = sample.buffer().and_then(|b| true_pts(b, period));
        let start = cur.segment.start;
        let time = pts.map(|p| start + chrono::TimeDelta::nanoseconds(p.nseconds() as i64));
        if let (Some(skip), Some(t)) = (self.skip_before, time) {
            let period =
                chrono::TimeDelta::nanoseconds(period.map_or(40_000_000, |p| p.nseconds() as i64));
            if t + period <= skip {
                // Decoded on the way from the key frame: not shown.
                self.shared.decoded.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.skip_before = None;
        }
        let no_ntp = Mutex::new(VecDeque::new());
        let Some(mut frame) = frame_of(&sample, target, &no_ntp, &mut self.scratch) else {
            return;
        };
        frame.capture_time = time;
        frame.number = super::player::next_frame_number();
        frame.arrived = Instant::now();
        // A drag's seek shows one frame and waits for the next.
        if !want.exact {
            cur.hold = true;
        }
        self.shared.decoded.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = time {
            self.newest = Some(t);
        }
        if let Some(started) = self.seek_started.take() {
            let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.shared.seek_us.store(us.max(1), Ordering::Relaxed);
        }
        lock(&self.shared.queue).ahead.push_back(Arc::new(frame));
        self.set_status(TileStatus::Playing);
        (self.cfg.repaint)();
        self.preroll_next(want);
    }

    /// Opens the segment after the current one once the current one is
    /// close to its end.
    fn preroll_next(&mut self, want: &PlaybackWant) {
        let (Some(cur), None) = (&self.current, &self.next) else {
            return;
        };
        if self.newest.is_none_or(|n| n < cur.segment.end - PREROLL) {
            return;
        }
        let Some(next) = want
            .segments
            .iter()
            .find(|s| {
                s.start >= cur.segment.end - chrono::TimeDelta::milliseconds(500)
                    && s.id != cur.segment.id
            })
            .cloned()
        else {
            return;
        };
        match self.open(&next) {
            Ok(o) => {
                let _ = o.pipeline.set_state(gst::State::Playing);
                self.next = Some(o);
            }
            Err(e) => {
                tracing::debug!(camera = %self.cfg.camera, error = %e, "could not preroll the next segment")
            }
        }
    }

    /// The current segment ended: on to the next (prerolled) one.
    fn advance(&mut self, want: &PlaybackWant) {
        if self.next.is_none() {
            self.preroll_next(want);
        }
        match self.next.take() {
            Some(n) => {
                tracing::debug!(camera = %self.cfg.camera, segment = n.segment.id, "next segment");
                self.current = Some(n);
            }
            None => {
                // The end of what is recorded: keep the last frame.
                self.current = None;
            }
        }
    }
}

/// The stream's frame period, from its caps (none for a variable rate).
fn frame_period_of(sample: &gst::Sample) -> Option<gst::ClockTime> {
    let caps = sample.caps()?;
    let rate = caps.structure(0)?.get::<gst::Fraction>("framerate").ok()?;
    let (n, d) = (
        u64::try_from(rate.numer()).ok()?,
        u64::try_from(rate.denom()).ok()?,
    );
    (n > 0).then(|| gst::ClockTime::from_nseconds(1_000_000_000 * d / n))
}

/// When a frame starts in its file. An accurate seek lands inside a frame:
/// the decoder clips that frame to the seek's start (its PTS moves up to
/// the target and its duration shrinks), so a frame shorter than the
/// period is given back its start: its end minus a period.
fn true_pts(buffer: &gst::BufferRef, period: Option<gst::ClockTime>) -> Option<gst::ClockTime> {
    let pts = buffer.pts()?;
    match (buffer.duration(), period) {
        (Some(d), Some(p)) if d + gst::ClockTime::from_mseconds(1) < p => {
            Some((pts + d).saturating_sub(p))
        }
        _ => Some(pts),
    }
}

/// A playback pipeline's error as a tile shows it.
fn classify(text: &str, debug: &str) -> VideoError {
    let all = format!("{text} {debug}");
    if all.contains("Unauthorized") || all.contains("401") || all.contains("Forbidden") {
        VideoError::Unauthorized
    } else if all.contains("Not Found") || all.contains("404") {
        VideoError::NotFound("recording".into())
    } else if all.contains("Could not connect") || all.contains("Connection refused") {
        VideoError::Unreachable("the site cannot be reached".into())
    } else {
        VideoError::Other(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_map_to_tile_states() {
        assert_eq!(
            classify("Unauthorized", "souphttpsrc: 401"),
            VideoError::Unauthorized
        );
        assert!(matches!(
            classify("Not Found", "404"),
            VideoError::NotFound(_)
        ));
        assert!(matches!(
            classify("Could not connect to server", ""),
            VideoError::Unreachable(_)
        ));
        assert!(matches!(classify("odd", ""), VideoError::Other(_)));
    }

    #[test]
    fn sizes_pack_and_unpack() {
        assert_eq!(unpack(pack([1920, 1080])), [1920, 1080]);
        assert_eq!(unpack(pack([0, u32::MAX])), [0, u32::MAX]);
    }
}

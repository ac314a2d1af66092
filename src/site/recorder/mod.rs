//! The recorder: writes one camera stream to disk as MP4 segments of about
//! a minute, without decoding or transcoding, and indexes each segment in
//! the store (`store::recordings`).
//!
//! Pipeline, one per (camera, stream):
//! `appsrc ! h264parse|h265parse ! splitmuxsink (mp4mux, filesink)` (the
//! parser put in at the first access unit, whose caps name the codec). The ingest hands
//! over access units with [`Recorder::push`]; the appsrc queue is bounded
//! and a push never waits: when it is full the frame is dropped, counted,
//! and the recorder skips to the next key frame.
//!
//! Crash safety (measured, see the field notes): splitmuxsink with
//! `async-finalize=true`; each mp4mux with `fragment-duration=1000` and
//! `fragment-mode=first-moov-then-finalise`, each filesink unbuffered. A
//! file being written is `<root>/<camera>/<stream>/<YYYY-MM-DD>/<UTC start>.mp4.writing`
//! with an index row in state `writing`; when splitmuxsink closes it, the
//! recorder's thread reads it back (`qtdemux ! parsebin`, no decoding: the
//! duration and key frames), hashes it, renames it to `….mp4` and marks the
//! row `done`. After a crash, [`recover`] turns whatever is left `writing`
//! into an ordinary MP4 and indexes it.
//!
//! Time: see [`wallclock`]; a segment's start is the UTC time of its first
//! frame, its end the start plus the file's duration, so consecutive
//! segments meet exactly.
//!
//! Threads: `push` runs on the ingest's thread (a lock held for a few
//! field updates, then `appsrc` push); splitmuxsink's callbacks run on its
//! streaming threads and only name files and pass notes on a channel; one
//! thread per recorder (`rec-<camera>-<stream>`) reads the bus, finishes
//! segments and does every store write (blocking, on that thread, never on
//! a tokio worker), and takes the pipeline down.

pub mod media;
mod recover;
pub mod retention;
pub mod wallclock;

#[cfg(test)]
mod tests;

pub use recover::{RecoveryReport, recover};
pub use retention::{
    RetentionPolicy, RetentionReport, StorageStatus, make_room, retention_pass, storage_status,
};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use self::wallclock::WallClock;
use crate::domain::{CameraId, ClockSource, ErrorKind, StreamKind, Timestamp};
use crate::site::env::Clock;
use crate::site::store::recordings::{self, Finished, NewSegment};
use crate::site::store::{Store, StoreError};

/// The suffix of a segment file being written.
pub const WRITING_SUFFIX: &str = ".writing";

/// How long `stop` waits for the last segment to be finished.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long reading back a finished segment may take (a minute of 1080p is
/// read in well under a second).
const SCAN_TIMEOUT: Duration = Duration::from_secs(30);

/// Every element the recorder uses, with the Debian package that has it.
const ELEMENTS: &[(&str, &str)] = &[
    ("appsrc", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
    ("splitmuxsink", "gstreamer1.0-plugins-good"),
    ("mp4mux", "gstreamer1.0-plugins-good"),
    ("qtdemux", "gstreamer1.0-plugins-good"),
    ("filesink", "libgstreamer1.0-0"),
    ("filesrc", "libgstreamer1.0-0"),
];

/// Why the recorder cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// A GStreamer plugin is not installed; `package` is the Debian package.
    #[error("GStreamer element {element:?} is missing (install {package})")]
    MissingElement { element: String, package: String },
    #[error("invalid recorder setting: {0}")]
    InvalidInput(String),
    #[error("recording pipeline: {0}")]
    Pipeline(String),
    /// A file could not be read back, remuxed or played.
    #[error("recording: {0}")]
    Media(String),
    #[error("{source}: {}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("recordings index: {0}")]
    Store(#[from] StoreError),
}

impl RecorderError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RecorderError::InvalidInput(_) => ErrorKind::InvalidInput,
            RecorderError::MissingElement { .. } | RecorderError::Io { .. } => {
                ErrorKind::Unavailable
            }
            RecorderError::Store(e) => e.kind(),
            RecorderError::Pipeline(_) | RecorderError::Media(_) => ErrorKind::Internal,
        }
    }
}

/// Checks that every element the recorder needs is installed.
pub fn check_elements() -> Result<(), RecorderError> {
    gst::init().map_err(|e| RecorderError::Pipeline(format!("GStreamer: {e}")))?;
    for (element, package) in ELEMENTS {
        if gst::ElementFactory::find(element).is_none() {
            return Err(RecorderError::MissingElement {
                element: (*element).to_owned(),
                package: (*package).to_owned(),
            });
        }
    }
    Ok(())
}

/// What one recorder writes.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// The recordings folder (segments go under `<camera>/<stream>/`).
    pub dir: PathBuf,
    pub camera: CameraId,
    pub stream: StreamKind,
    /// About how long a segment is; a split waits for the next key frame.
    pub segment: Duration,
    /// How many access units may wait in the recorder before pushes are
    /// dropped (256 by default: 8 s at 30 fps).
    pub queue_frames: u64,
}

impl RecorderConfig {
    /// A minute's segments and the default queue.
    pub fn new(dir: impl Into<PathBuf>, camera: CameraId, stream: StreamKind) -> RecorderConfig {
        RecorderConfig {
            dir: dir.into(),
            camera,
            stream,
            segment: Duration::from_secs(60),
            queue_frames: 256,
        }
    }
}

/// A camera id as a folder name: letters, digits, `-`, `_` and `.`, not
/// starting with a dot.
fn check_folder_name(id: &str) -> Result<(), RecorderError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RecorderError::InvalidInput(format!(
            "camera id {id:?} cannot name a recordings folder"
        )))
    }
}

/// The name of a segment file starting at `start`: `YYYYMMDDTHHMMSS.mmmZ.mp4`.
pub fn segment_file_name(start: Timestamp) -> String {
    format!("{}.mp4", start.format("%Y%m%dT%H%M%S%.3fZ"))
}

/// The start time a segment file's name gives (see [`segment_file_name`]).
pub fn start_from_file_name(name: &str) -> Option<Timestamp> {
    let stem = name.strip_suffix(WRITING_SUFFIX).unwrap_or(name);
    let stem = stem.strip_suffix(".mp4")?;
    let t = chrono::NaiveDateTime::parse_from_str(stem, "%Y%m%dT%H%M%S%.3fZ").ok()?;
    Some(t.and_utc())
}

/// A path under the recordings folder as the index keeps it.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Counters of one recorder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Access units handed to the pipeline.
    pub pushed: u64,
    /// Access units dropped: the queue was full, or waiting for a key frame
    /// after a drop, or no PTS.
    pub dropped: u64,
    /// Segments finished and indexed `done`.
    pub segments_done: u64,
    /// The longest time from a segment's close to its `done` row
    /// (read back, hashed, renamed, indexed), in microseconds.
    pub max_finalise_us: u64,
    /// The pipeline failed (a GStreamer error: disk full, caps it cannot
    /// mux): the recorder is dead, and its owner should start a new one.
    pub failed: bool,
}

/// What splitmuxsink's callbacks tell the recorder's thread.
#[derive(Debug)]
struct Opened {
    location: PathBuf,
    pts: gst::ClockTime,
    start: Timestamp,
    clock: ClockSource,
    rtcp_at: Option<i64>,
}

struct Shared {
    cfg: RecorderConfig,
    clock: Arc<dyn Clock>,
    wall: Mutex<WallClock>,
    /// True until the first key frame, and after a drop until the next.
    want_key: AtomicBool,
    pushed: AtomicU64,
    dropped: AtomicU64,
    segments_done: AtomicU64,
    max_finalise_us: AtomicU64,
    /// Set by `stop`/drop: finish and take the pipeline down.
    stopping: AtomicBool,
    /// Set by tests: take the pipeline down without finishing anything.
    abandon: AtomicBool,
    /// The pipeline posted an error.
    failed: AtomicBool,
    /// Until the first access unit: the pipeline and the splitmuxsink the
    /// parser goes between.
    unlinked: Mutex<Option<(gst::Pipeline, gst::Element)>>,
    /// Keeps timestamps increasing when the camera's go back.
    rebase: Mutex<Rebase>,
}

/// A camera whose timestamps jump back (a restart, a looping test source)
/// would stop the muxer ("timestamping error"): its frames are moved
/// after the last one written, one frame period on.
#[derive(Debug, Default, Clone, Copy)]
struct Rebase {
    offset: gst::ClockTime,
    last: Option<gst::ClockTime>,
    step: Option<gst::ClockTime>,
}

impl Rebase {
    /// The timestamp to write for `pts`.
    fn map(&mut self, pts: gst::ClockTime) -> gst::ClockTime {
        let mut out = pts + self.offset;
        if let Some(last) = self.last {
            if out <= last {
                let step = self.step.unwrap_or(gst::ClockTime::from_mseconds(40));
                let back = last.saturating_sub(out);
                self.offset = (last + step).saturating_sub(pts);
                out = pts + self.offset;
                tracing::info!(
                    back_ms = back.mseconds(),
                    "camera timestamps went back; recording continues after the last frame"
                );
            } else {
                self.step = Some(out - last);
            }
        }
        self.last = Some(out);
        out
    }
}

/// The parser for a stream's caps: H.265 or H.264.
fn parser_for(caps: Option<&gst::CapsRef>) -> &'static str {
    let h265 = caps
        .and_then(|c| c.structure(0))
        .is_some_and(|s| s.name() == "video/x-h265");
    if h265 { "h265parse" } else { "h264parse" }
}

/// Records one camera stream (see the module docs).
pub struct Recorder {
    shared: Arc<Shared>,
    appsrc: gst_app::AppSrc,
    thread: Option<JoinHandle<()>>,
    done_rx: mpsc::Receiver<()>,
}

/// Pushes access units into a [`Recorder`] ([`Recorder::pusher`]).
#[derive(Clone)]
pub struct Pusher {
    shared: Arc<Shared>,
    appsrc: gst_app::AppSrc,
}

impl Pusher {
    /// Puts the parser the first sample's codec needs between the source
    /// and the muxer (once); the reason when it cannot.
    fn link_parser(&self, sample: &gst::Sample) -> Option<String> {
        let mut unlinked = self.shared.unlinked.lock().ok()?;
        let (pipeline, split) = unlinked.take()?;
        let name = parser_for(sample.caps());
        let parse = match gst::ElementFactory::make(name).build() {
            Ok(p) => p,
            Err(e) => return Some(format!("{name}: {e}")),
        };
        if let Err(e) = pipeline.add(&parse) {
            return Some(format!("cannot add {name}: {e}"));
        }
        if let Err(e) = gst::Element::link_many([self.appsrc.upcast_ref(), &parse, &split]) {
            return Some(format!("cannot link {name}: {e}"));
        }
        if let Err(e) = parse.sync_state_with_parent() {
            return Some(format!("cannot start {name}: {e}"));
        }
        tracing::debug!(camera = %self.shared.cfg.camera, parser = name, "recording");
        None
    }

    /// As [`Recorder::push`].
    pub fn push(&self, sample: &gst::Sample) {
        let sh = &self.shared;
        let Some(buffer) = sample.buffer() else {
            return;
        };
        let Some(pts) = buffer.pts() else {
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Ok(mut rebase) = sh.rebase.lock() else {
            return;
        };
        let pts = rebase.map(pts);
        drop(rebase);
        if let Some(e) = self.link_parser(sample) {
            tracing::warn!(camera = %sh.cfg.camera, "cannot record: {e}");
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let ntp = wallclock::ntp_of(buffer);
        if let Ok(mut w) = sh.wall.lock() {
            w.observe(pts, ntp, sh.clock.now());
        }
        let key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        if sh.want_key.load(Ordering::Relaxed) && !key {
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.appsrc.current_level_buffers() >= sh.cfg.queue_frames {
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            sh.want_key.store(true, Ordering::Relaxed);
            return;
        }
        sh.want_key.store(false, Ordering::Relaxed);
        let pushed = if buffer.pts() == Some(pts) {
            self.appsrc.push_sample(sample)
        } else {
            let mut moved = buffer.copy();
            {
                let b = moved.make_mut();
                b.set_pts(pts);
                b.set_dts(pts);
            }
            let sample = gst::Sample::builder()
                .buffer(&moved)
                .caps_if_some(sample.caps_owned().as_ref())
                .build();
            self.appsrc.push_sample(&sample)
        };
        match pushed {
            Ok(_) => {
                sh.pushed.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                sh.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("camera", &self.shared.cfg.camera)
            .field("stream", &self.shared.cfg.stream)
            .finish()
    }
}

impl Recorder {
    /// Starts writing `cfg.dir/<camera>/<stream>/...` segments of about
    /// `cfg.segment`, indexed in `index`; wall-clock fallback from `clock`.
    pub fn start(
        cfg: RecorderConfig,
        index: Arc<Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Recorder, RecorderError> {
        check_elements()?;
        check_folder_name(cfg.camera.as_str())?;
        if cfg.segment < Duration::from_millis(100) {
            return Err(RecorderError::InvalidInput(format!(
                "segment length {:?} is too short",
                cfg.segment
            )));
        }
        let folder = cfg.dir.join(cfg.camera.as_str()).join(cfg.stream.as_str());
        std::fs::create_dir_all(&folder).map_err(|source| RecorderError::Io {
            path: folder.clone(),
            source,
        })?;
        let pipe_err =
            |what: &str, e: &dyn std::fmt::Display| RecorderError::Pipeline(format!("{what}: {e}"));
        let pipeline = gst::Pipeline::with_name(&format!(
            "rec-{}-{}",
            cfg.camera.as_str(),
            cfg.stream.as_str()
        ));
        let appsrc = gst_app::AppSrc::builder()
            .name("src")
            .format(gst::Format::Time)
            .is_live(true)
            .max_bytes(0)
            .build();
        let split = gst::ElementFactory::make("splitmuxsink")
            .property("async-finalize", true)
            .property("muxer-factory", "mp4mux")
            .property("sink-factory", "filesink")
            .property("max-size-time", cfg.segment.as_nanos() as u64)
            .property("send-keyframe-requests", false)
            .property(
                "location",
                folder
                    .join(format!("unnamed-%05d.mp4{WRITING_SUFFIX}"))
                    .to_string_lossy()
                    .as_ref(),
            )
            .build()
            .map_err(|e| pipe_err("splitmuxsink", &e))?;
        pipeline
            .add_many([appsrc.upcast_ref(), &split])
            .map_err(|e| pipe_err("cannot add elements", &e))?;
        // The parser (H.264 or H.265) is put between them at the first
        // access unit, whose caps say the codec.

        let shared = Arc::new(Shared {
            cfg,
            clock,
            wall: Mutex::new(WallClock::default()),
            want_key: AtomicBool::new(true),
            pushed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            segments_done: AtomicU64::new(0),
            max_finalise_us: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            abandon: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            unlinked: Mutex::new(Some((pipeline.clone(), split.clone()))),
            rebase: Mutex::new(Rebase::default()),
        });

        split.connect("muxer-added", false, |args| {
            if let Some(Ok(muxer)) = args.get(1).map(|v| v.get::<gst::Element>()) {
                if muxer.find_property("fragment-duration").is_some() {
                    muxer.set_property("fragment-duration", 1000u32);
                }
                if muxer.find_property("fragment-mode").is_some() {
                    muxer.set_property_from_str("fragment-mode", "first-moov-then-finalise");
                }
            }
            None
        });
        split.connect("sink-added", false, |args| {
            if let Some(Ok(sink)) = args.get(1).map(|v| v.get::<gst::Element>())
                && sink.find_property("buffer-mode").is_some()
            {
                sink.set_property_from_str("buffer-mode", "unbuffered");
            }
            None
        });
        let (opened_tx, opened_rx) = mpsc::channel::<Opened>();
        let opened_tx = Mutex::new(opened_tx);
        let sh = Arc::clone(&shared);
        let folder2 = folder.clone();
        split.connect("format-location-full", false, move |args| {
            let sample = args.get(2).and_then(|v| v.get::<gst::Sample>().ok());
            let pts = sample
                .as_ref()
                .and_then(|s| s.buffer())
                .and_then(|b| b.pts())
                .unwrap_or(gst::ClockTime::ZERO);
            let (rtcp_at, mapped) = match sh.wall.lock() {
                Ok(w) => {
                    let at = w.rtcp_offset_us();
                    (at, w.utc_of(pts, at))
                }
                Err(_) => (None, None),
            };
            let (start, clock) = mapped.unwrap_or((sh.clock.now(), ClockSource::Receive));
            let day = folder2.join(start.format("%Y-%m-%d").to_string());
            if let Err(e) = std::fs::create_dir_all(&day) {
                tracing::warn!("cannot create the recordings folder {}: {e}", day.display());
                return None;
            }
            let mut location = day.join(format!("{}{WRITING_SUFFIX}", segment_file_name(start)));
            let mut n = 1;
            while location.exists() {
                n += 1;
                location = day.join(format!(
                    "{}-{n}.mp4{WRITING_SUFFIX}",
                    start.format("%Y%m%dT%H%M%S%.3fZ")
                ));
            }
            let text = location.to_string_lossy().into_owned();
            if let Ok(tx) = opened_tx.lock() {
                let _ = tx.send(Opened {
                    location,
                    pts,
                    start,
                    clock,
                    rtcp_at,
                });
            }
            Some(text.to_value())
        });

        let bus = pipeline
            .bus()
            .ok_or_else(|| RecorderError::Pipeline("the pipeline has no bus".into()))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| pipe_err("cannot start", &e))?;

        let (done_tx, done_rx) = mpsc::channel();
        let sh = Arc::clone(&shared);
        let own = pipeline.clone();
        let name = format!("rec-{}-{}", sh.cfg.camera.as_str(), sh.cfg.stream.as_str());
        let thread = std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .spawn(move || {
                let mut worker = Worker {
                    shared: sh,
                    index,
                    open: HashMap::new(),
                    opened_rx,
                };
                worker.run(&bus);
                let _ = pipeline.set_state(gst::State::Null);
                let _ = done_tx.send(());
            });
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                let _ = own.set_state(gst::State::Null);
                return Err(RecorderError::Pipeline(format!(
                    "cannot start the recorder thread: {e}"
                )));
            }
        };
        Ok(Recorder {
            shared,
            appsrc,
            thread: Some(thread),
            done_rx,
        })
    }

    /// One H.264 access unit from the ingest (caps `video/x-h264`,
    /// `stream-format` avc or byte-stream, `alignment=au`; PTS the ingest's
    /// running time; perhaps a `timestamp/x-ntp` reference timestamp). Never
    /// waits: when the queue is full the frame is dropped and counted, and
    /// frames are dropped up to the next key frame.
    pub fn push(&self, sample: &gst::Sample) {
        self.pusher().push(sample);
    }

    /// A handle that pushes into this recorder from another place (the
    /// ingest's tap), while the recorder itself is kept to be stopped.
    pub fn pusher(&self) -> Pusher {
        Pusher {
            shared: Arc::clone(&self.shared),
            appsrc: self.appsrc.clone(),
        }
    }
    /// The recorder's counters.
    pub fn stats(&self) -> RecorderStats {
        self.shared.stats()
    }

    /// Ends the current segment cleanly (end of stream), waits (at most
    /// 10 s) until it is finished and indexed, and takes the pipeline down.
    pub fn stop(mut self) -> RecorderStats {
        self.shared.stopping.store(true, Ordering::Relaxed);
        let _ = self.appsrc.end_of_stream();
        if self
            .done_rx
            .recv_timeout(STOP_TIMEOUT + Duration::from_secs(2))
            .is_err()
        {
            tracing::warn!(
                camera = %self.shared.cfg.camera,
                "the recorder did not stop in time"
            );
        } else if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared.stats()
    }

    /// Takes the pipeline down without ending the segment, as a crash
    /// would: the file being written stays `writing` (tests of [`recover`]).
    #[cfg(test)]
    fn abandon(mut self) {
        self.shared.abandon.store(true, Ordering::Relaxed);
        let _ = self.done_rx.recv_timeout(STOP_TIMEOUT);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Recorder {
    /// Ends the stream and lets the recorder's thread finish the last
    /// segment on its own; does not wait.
    fn drop(&mut self) {
        if !self.shared.stopping.swap(true, Ordering::Relaxed) {
            let _ = self.appsrc.end_of_stream();
        }
    }
}

impl Shared {
    fn stats(&self) -> RecorderStats {
        RecorderStats {
            pushed: self.pushed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            segments_done: self.segments_done.load(Ordering::Relaxed),
            max_finalise_us: self.max_finalise_us.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// A segment the recorder's thread knows is open.
struct OpenSegment {
    id: Option<i64>,
    pts: gst::ClockTime,
    rtcp_at: Option<i64>,
}

/// The recorder's own thread.
struct Worker {
    shared: Arc<Shared>,
    index: Arc<Store>,
    open: HashMap<PathBuf, OpenSegment>,
    opened_rx: mpsc::Receiver<Opened>,
}

impl Worker {
    fn run(&mut self, bus: &gst::Bus) {
        let mut deadline: Option<Instant> = None;
        let mut eos = false;
        loop {
            if self.shared.abandon.load(Ordering::Relaxed) {
                return;
            }
            if deadline.is_none() && self.shared.stopping.load(Ordering::Relaxed) {
                deadline = Some(Instant::now() + STOP_TIMEOUT);
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                tracing::warn!(
                    camera = %self.shared.cfg.camera,
                    open = self.open.len(),
                    "the recorder stopped before its last segment was finished; recovery will finish it"
                );
                return;
            }
            self.take_opened();
            if eos && self.open.is_empty() {
                return;
            }
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
                continue;
            };
            match msg.view() {
                gst::MessageView::Eos(_) => eos = true,
                gst::MessageView::Error(e) => {
                    self.shared.failed.store(true, Ordering::Relaxed);
                    tracing::error!(
                        camera = %self.shared.cfg.camera,
                        stream = self.shared.cfg.stream.as_str(),
                        "recording failed: {:#}",
                        e.error()
                    );
                    return;
                }
                gst::MessageView::Element(el) => {
                    if let Some(s) = el.structure()
                        && s.name() == "splitmuxsink-fragment-closed"
                        && let Ok(location) = s.get::<String>("location")
                    {
                        self.take_opened();
                        self.closed(Path::new(&location));
                    }
                }
                _ => {}
            }
        }
    }

    /// Indexes the segments splitmuxsink has opened since the last look.
    fn take_opened(&mut self) {
        while let Ok(o) = self.opened_rx.try_recv() {
            let root = &self.shared.cfg.dir;
            let row = NewSegment {
                camera: self.shared.cfg.camera.clone(),
                stream: self.shared.cfg.stream,
                start: o.start,
                path: relative(root, &o.location),
                clock: o.clock,
            };
            let id = match self
                .index
                .write_blocking(move |c| recordings::insert_writing(c, &row))
            {
                Ok(id) => Some(id),
                Err(e) => {
                    tracing::error!("cannot index a new segment {}: {e:#}", o.location.display());
                    None
                }
            };
            self.open.insert(
                o.location,
                OpenSegment {
                    id,
                    pts: o.pts,
                    rtcp_at: o.rtcp_at,
                },
            );
        }
    }

    /// Finishes a segment splitmuxsink has closed.
    fn closed(&mut self, location: &Path) {
        let began = Instant::now();
        let Some(open) = self.open.remove(location) else {
            tracing::warn!(
                "splitmuxsink closed a segment it never opened: {}",
                location.display()
            );
            return;
        };
        let wall = match self.shared.wall.lock() {
            Ok(w) => w.clone(),
            Err(_) => return,
        };
        let Some((start, clock)) = wall.utc_of(open.pts, open.rtcp_at) else {
            return;
        };
        let root = self.shared.cfg.dir.clone();
        match finish_file(&root, location, start, clock) {
            Ok(finished) => {
                let result = match open.id {
                    Some(id) => self
                        .index
                        .write_blocking(move |c| recordings::finish(c, id, &finished)),
                    None => {
                        let camera = self.shared.cfg.camera.clone();
                        let stream = self.shared.cfg.stream;
                        self.index.write_blocking(move |c| {
                            let id = recordings::insert_writing(
                                c,
                                &NewSegment {
                                    camera,
                                    stream,
                                    start: finished.start,
                                    path: finished.path.clone(),
                                    clock: finished.clock,
                                },
                            )?;
                            recordings::finish(c, id, &finished)
                        })
                    }
                };
                match result {
                    Ok(_) => {
                        self.shared.segments_done.fetch_add(1, Ordering::Relaxed);
                        let us = began.elapsed().as_micros() as u64;
                        self.shared.max_finalise_us.fetch_max(us, Ordering::Relaxed);
                    }
                    Err(e) => tracing::error!(
                        "cannot index the finished segment {}: {e:#}",
                        location.display()
                    ),
                }
            }
            Err(e) => tracing::error!("{e:#}; recovery will retry at the next start"),
        }
    }
}

/// Reads back, hashes and renames a finished `….mp4.writing` file; what
/// the index should say of it. `start` is its first frame's UTC time.
fn finish_file(
    root: &Path,
    location: &Path,
    start: Timestamp,
    clock: ClockSource,
) -> Result<Finished, RecorderError> {
    let facts = media::scan(location, SCAN_TIMEOUT)?;
    let (sha256, bytes) = media::sha256_file(location)?;
    let done = done_path(location);
    std::fs::rename(location, &done).map_err(|source| RecorderError::Io {
        path: location.to_owned(),
        source,
    })?;
    let end =
        start + chrono::TimeDelta::from_std(facts.duration).unwrap_or(chrono::TimeDelta::zero());
    Ok(Finished {
        path: relative(root, &done),
        start,
        end,
        bytes,
        sha256,
        key_frames_us: facts.key_frames_us,
        clock,
    })
}

/// `x.mp4.writing` → `x.mp4`.
fn done_path(location: &Path) -> PathBuf {
    let s = location.to_string_lossy();
    PathBuf::from(s.strip_suffix(WRITING_SUFFIX).unwrap_or(&s).to_owned())
}

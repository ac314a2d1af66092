//! The video engine's place in the app: it lives on the UI side, wakes the
//! window through a [`RepaintPacer`] (a new frame repaints, but never faster
//! than the fastest stream on screen), and is started only when the
//! GStreamer elements it needs are there. Also the renderer choice and the
//! optional per-tile stats log for benchmarks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use crate::ui::video_tile::FrameSummary;
use crate::video::{EngineOptions, VideoEngine};
use crate::viewer::{StreamChoice, TileSource};

/// `wgpu` or `glow`: the renderer to use instead of the default.
pub const RENDERER_ENV: &str = "WATCHDESK_RENDERER";
/// The view the window opens with, e.g. `cameras:4x4` (see
/// [`CamerasView::parse_start`](crate::viewer::CamerasView::parse_start)).
pub const START_VIEW_ENV: &str = "WATCHDESK_START_VIEW";
/// A file the window writes its per-tile stats to, every second and at exit.
pub const TILE_STATS_ENV: &str = "WATCHDESK_TILE_STATS";
/// Without a stream on screen, new frames repaint at most this often.
const DEFAULT_FRAME_INTERVAL: Duration = Duration::from_millis(40);
/// How often the tile stats file is rewritten.
const STATS_PERIOD: Duration = Duration::from_secs(1);

/// The renderer when none is asked for. Measured under Xvfb on a 2-core
/// machine without a GPU (see the `live` bench): glow on llvmpipe costs a
/// fraction of wgpu on lavapipe per repaint.
pub const DEFAULT_RENDERER: eframe::Renderer = eframe::Renderer::Glow;

/// The renderer named by `name` (`wgpu` or `glow`), or the default when
/// none; an unknown name is refused.
pub fn renderer_from_name(name: Option<&str>) -> Result<eframe::Renderer, String> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(DEFAULT_RENDERER),
        Some(n) => n
            .parse::<eframe::Renderer>()
            .map_err(|_| format!("{RENDERER_ENV}={n:?}: use wgpu or glow")),
    }
}

/// The renderer from [`RENDERER_ENV`]; an unknown value falls back to the
/// default with a warning.
pub fn renderer_from_env() -> eframe::Renderer {
    let value = std::env::var(RENDERER_ENV).ok();
    renderer_from_name(value.as_deref()).unwrap_or_else(|e| {
        tracing::warn!("{e}; using {DEFAULT_RENDERER}");
        DEFAULT_RENDERER
    })
}

/// Turns "a frame arrived" (called from GStreamer threads, up to hundreds of
/// times a second) into at most one repaint request per frame interval of
/// the fastest stream on screen. The shell reports each frame it begins.
pub struct RepaintPacer {
    ctx: egui::Context,
    epoch: Instant,
    frame_began_us: AtomicU64,
    min_interval_us: AtomicU64,
    /// A repaint is already asked for since the last frame began.
    pending: AtomicBool,
    arrivals: AtomicU64,
}

impl RepaintPacer {
    /// A pacer waking `ctx`.
    pub fn new(ctx: egui::Context) -> Self {
        Self {
            ctx,
            epoch: Instant::now(),
            frame_began_us: AtomicU64::new(0),
            min_interval_us: AtomicU64::new(micros(DEFAULT_FRAME_INTERVAL)),
            pending: AtomicBool::new(false),
            arrivals: AtomicU64::new(0),
        }
    }

    /// A frame (or a state change) is there for some tile.
    pub fn frame_arrived(&self) {
        self.arrivals.fetch_add(1, Ordering::Relaxed);
        if self.pending.swap(true, Ordering::AcqRel) {
            return; // the coming repaint will pick it up
        }
        let now = micros(self.epoch.elapsed());
        let due = self.frame_began_us.load(Ordering::Acquire)
            + self.min_interval_us.load(Ordering::Relaxed);
        if now >= due {
            self.ctx.request_repaint();
        } else {
            self.ctx
                .request_repaint_after(Duration::from_micros(due - now));
        }
    }

    /// The shell begins a frame: what arrived before now is taken by it.
    pub fn frame_begins(&self) {
        let now = micros(self.epoch.elapsed());
        self.frame_began_us.store(now, Ordering::Release);
        self.pending.store(false, Ordering::Release);
    }

    /// The shortest frame interval among the streams on screen (None: the
    /// default, 40 ms).
    pub fn set_min_interval(&self, interval: Option<Duration>) {
        let us = micros(interval.unwrap_or(DEFAULT_FRAME_INTERVAL));
        self.min_interval_us.store(us, Ordering::Relaxed);
    }

    /// How many arrivals were reported in all.
    pub fn arrivals(&self) -> u64 {
        self.arrivals.load(Ordering::Relaxed)
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What video the window has: the engine and its pacer, or why there is
/// none.
pub struct VideoSetup {
    pub source: Option<Box<dyn TileSource>>,
    pub pacer: Option<Arc<RepaintPacer>>,
    /// Why there is no video, one line each.
    pub problems: Vec<String>,
}

/// Checks the GStreamer elements and starts the engine, waking `ctx`.
pub fn start_video(ctx: &egui::Context, ca_file: Option<PathBuf>) -> VideoSetup {
    let missing = crate::video::check_elements();
    if !missing.is_empty() {
        let problems: Vec<String> = missing.iter().map(|e| e.overlay_text()).collect();
        for p in &problems {
            tracing::error!("video: {p}");
        }
        return VideoSetup {
            source: None,
            pacer: None,
            problems,
        };
    }
    let pacer = Arc::new(RepaintPacer::new(ctx.clone()));
    let waker = pacer.clone();
    let mut opts = EngineOptions::new(Arc::new(move || {
        waker.frame_arrived();
    }));
    opts.ca_file = ca_file;
    let engine = VideoEngine::new(opts);
    VideoSetup {
        source: Some(Box::new(engine)),
        pacer: Some(pacer),
        problems: Vec::new(),
    }
}

/// One tile in the stats file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TileRecord {
    pub key: String,
    pub camera: String,
    pub stream: &'static str,
    pub status: String,
    /// Distinct frames put on screen (texture uploads).
    pub frames_shown: u64,
    /// Frames put on screen per second since the first one.
    pub shown_fps: f64,
    pub delivered_fps: f32,
    pub source_fps: f32,
    pub decode_ms: f32,
    pub dropped_frames: u64,
    pub bitrate_kbps: f32,
    pub width: u32,
    pub height: u32,
    pub latency_ms: Option<f32>,
    /// From the tile's first appearance to its first frame on screen.
    pub first_frame_ms: Option<u64>,
    /// From the tile's first appearance to its first picture on screen: the
    /// camera's still, or a frame.
    pub first_picture_ms: Option<u64>,
}

/// The stats file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TileStatsReport {
    pub uptime_ms: u64,
    pub renderer: String,
    /// Frames the window rendered.
    pub ui_frames: u64,
    /// Passes of the UI code (a frame may take two).
    pub ui_passes: u64,
    /// Tiles on screen at the last frame.
    pub tiles_on_screen: usize,
    /// Capture → on screen over the last frames shown (see [`ScreenLatency`]).
    pub screen_latency: ScreenLatency,
    pub tiles: Vec<TileRecord>,
}

/// Capture → on screen, from the frames the window showed: for each frame
/// put on a tile, the time from its capture (RTP/NTP) to the start of the
/// window's next frame, which eframe begins only after the previous one
/// was painted and swapped (under Mesa's software renderer most of the
/// rasterising happens in the swap). An upper bound: it also counts any
/// wait before the next frame starts; in a busy wall that is under a frame
/// interval. Over the last [`SCREEN_SAMPLES`] frames shown.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ScreenLatency {
    pub samples: usize,
    pub median_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// How many recent frames [`ScreenLatency`] covers.
const SCREEN_SAMPLES: usize = 3_000;

struct TileTrack {
    first_drawn: Instant,
    first_frame: Option<Instant>,
    first_picture: Option<Instant>,
    shown_total: u64,
    last_shown: u64,
    on_screen: bool,
    record: TileRecord,
}

/// Writes per-tile stats to the file named by [`TILE_STATS_ENV`]: every
/// second from a thread of its own (the UI only hands over a summary), and
/// once more when dropped.
pub struct TileStatsLog {
    path: PathBuf,
    renderer: String,
    started: Instant,
    ui_frames: u64,
    ui_passes: u64,
    tiles: HashMap<String, TileTrack>,
    tiles_on_screen: usize,
    last_sent: Instant,
    tx: SyncSender<TileStatsReport>,
    /// Capture times of frames first shown in UI frame `.0`, waiting for
    /// the next UI frame to start.
    pending: Vec<(u64, chrono::DateTime<chrono::Utc>)>,
    /// Capture → next UI frame, ms, newest last.
    screen_ms: std::collections::VecDeque<f64>,
}

impl TileStatsLog {
    /// A log writing to the file named by [`TILE_STATS_ENV`], if set.
    pub fn from_env(renderer: &str) -> Option<TileStatsLog> {
        let path = PathBuf::from(std::env::var_os(TILE_STATS_ENV)?);
        TileStatsLog::new(path, renderer)
    }

    /// A log writing to `path`; None if its writer thread cannot start.
    pub fn new(path: PathBuf, renderer: &str) -> Option<TileStatsLog> {
        let (tx, rx) = sync_channel::<TileStatsReport>(2);
        let file = path.clone();
        let spawned = std::thread::Builder::new()
            .name("watchdesk-tilestats".into())
            .spawn(move || {
                while let Ok(mut report) = rx.recv() {
                    while let Ok(newer) = rx.try_recv() {
                        report = newer;
                    }
                    write_report(&file, &report);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("tile stats: cannot start: {e}");
            return None;
        }
        let now = Instant::now();
        Some(TileStatsLog {
            path,
            renderer: renderer.to_owned(),
            started: now,
            ui_frames: 0,
            ui_passes: 0,
            tiles: HashMap::new(),
            tiles_on_screen: 0,
            last_sent: now,
            tx,
            pending: Vec::new(),
            screen_ms: std::collections::VecDeque::with_capacity(SCREEN_SAMPLES),
        })
    }

    /// Notes what a pass of the UI showed; `frames` is the count of frames
    /// rendered so far, `wall` the time the pass began.
    pub fn frame(
        &mut self,
        summary: &FrameSummary,
        now: Instant,
        wall: chrono::DateTime<chrono::Utc>,
        frames: u64,
    ) {
        self.ui_passes += 1;
        self.ui_frames = frames;
        self.tiles_on_screen = summary.tiles.len();
        // Frames shown in an earlier UI frame are on screen by now.
        let screen_ms = &mut self.screen_ms;
        self.pending.retain(|(nr, capture)| {
            if *nr >= frames {
                return true;
            }
            let ms = (wall - *capture).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3;
            if screen_ms.len() == SCREEN_SAMPLES {
                screen_ms.pop_front();
            }
            screen_ms.push_back(ms);
            false
        });
        for t in self.tiles.values_mut() {
            t.on_screen = false;
        }
        for tile in &summary.tiles {
            let track = self
                .tiles
                .entry(tile.key.clone())
                .or_insert_with(|| TileTrack {
                    first_drawn: now,
                    first_frame: None,
                    first_picture: None,
                    shown_total: 0,
                    last_shown: 0,
                    on_screen: true,
                    record: empty_record(&tile.key),
                });
            track.on_screen = true;
            // The texture's count restarts when a tile comes back.
            let fresh = if tile.frames_shown >= track.last_shown {
                tile.frames_shown - track.last_shown
            } else {
                tile.frames_shown
            };
            track.last_shown = tile.frames_shown;
            track.shown_total += fresh;
            if let (true, Some(capture)) = (fresh > 0, tile.capture_time) {
                self.pending.push((frames, capture));
            }
            if track.first_frame.is_none() && track.shown_total > 0 {
                track.first_frame = Some(now);
            }
            if track.first_picture.is_none() && tile.picture {
                track.first_picture = Some(now);
            }
            let r = &mut track.record;
            r.camera = tile.camera.to_string();
            r.stream = match tile.stream {
                StreamChoice::Main => "main",
                StreamChoice::Sub => "sub",
            };
            r.status = tile.status.clone();
            r.frames_shown = track.shown_total;
            r.shown_fps = match track.first_frame {
                Some(first) if track.shown_total > 1 => {
                    let secs = now.duration_since(first).as_secs_f64();
                    if secs > 0.0 {
                        (track.shown_total - 1) as f64 / secs
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            };
            let s = &tile.stats;
            r.delivered_fps = s.delivered_fps;
            r.source_fps = s.source_fps;
            r.decode_ms = s.decode_ms;
            r.dropped_frames = s.dropped_frames;
            r.bitrate_kbps = s.bitrate_kbps;
            r.width = s.width;
            r.height = s.height;
            r.latency_ms = s.latency_ms;
            let since_drawn = |at: Instant| {
                u64::try_from(at.duration_since(track.first_drawn).as_millis()).unwrap_or(u64::MAX)
            };
            r.first_frame_ms = track.first_frame.map(since_drawn);
            r.first_picture_ms = track.first_picture.map(since_drawn);
        }
        if now.duration_since(self.last_sent) >= STATS_PERIOD {
            self.last_sent = now;
            match self.tx.try_send(self.report(now)) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => {
                    tracing::warn!("tile stats: its writer has stopped");
                }
            }
        }
    }

    fn report(&self, now: Instant) -> TileStatsReport {
        let mut tiles: Vec<TileRecord> = self
            .tiles
            .values()
            .filter(|t| t.on_screen)
            .map(|t| t.record.clone())
            .collect();
        tiles.sort_by(|a, b| a.key.cmp(&b.key));
        TileStatsReport {
            uptime_ms: u64::try_from(now.duration_since(self.started).as_millis())
                .unwrap_or(u64::MAX),
            renderer: self.renderer.clone(),
            ui_frames: self.ui_frames,
            ui_passes: self.ui_passes,
            tiles_on_screen: self.tiles_on_screen,
            screen_latency: screen_latency(&self.screen_ms),
            tiles,
        }
    }
}

impl Drop for TileStatsLog {
    fn drop(&mut self) {
        // At exit: the last figures, written here so they are not lost.
        write_report(&self.path, &self.report(Instant::now()));
    }
}

fn screen_latency(samples: &std::collections::VecDeque<f64>) -> ScreenLatency {
    let mut sorted: Vec<f64> = samples.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let last = sorted.len().checked_sub(1)?;
        sorted.get(((last as f64) * q).round() as usize).copied()
    };
    ScreenLatency {
        samples: sorted.len(),
        median_ms: at(0.5),
        p95_ms: at(0.95),
    }
}

fn empty_record(key: &str) -> TileRecord {
    TileRecord {
        key: key.to_owned(),
        camera: String::new(),
        stream: "sub",
        status: String::new(),
        frames_shown: 0,
        shown_fps: 0.0,
        delivered_fps: 0.0,
        source_fps: 0.0,
        decode_ms: 0.0,
        dropped_frames: 0,
        bitrate_kbps: 0.0,
        width: 0,
        height: 0,
        latency_ms: None,
        first_frame_ms: None,
        first_picture_ms: None,
    }
}

fn write_report(path: &std::path::Path, report: &TileStatsReport) {
    let tmp = path.with_extension("tmp");
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    if std::fs::write(&tmp, json)
        .and_then(|()| std::fs::rename(&tmp, path))
        .is_err()
    {
        tracing::warn!("tile stats: cannot write its file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::video_tile::TileSummary;

    fn summary_tile(frames_shown: u64, capture: chrono::DateTime<chrono::Utc>) -> TileSummary {
        TileSummary {
            key: "cam-1".into(),
            camera: crate::domain::CameraId::new("cam-1"),
            stream: StreamChoice::Sub,
            status: "playing".into(),
            stats: crate::viewer::TileStats::default(),
            frames_shown,
            stream_fps: 25,
            capture_time: Some(capture),
            picture: true,
        }
    }

    #[test]
    fn screen_latency_counts_from_capture_to_the_next_ui_frame() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stats.json");
        let mut log = TileStatsLog::new(path.clone(), "glow").expect("stats log");
        let t0 = chrono::Utc::now();
        let now = Instant::now();
        let ms = chrono::Duration::milliseconds;
        let shown = |n, capture| FrameSummary {
            tiles: vec![summary_tile(n, capture)],
            repaint_in: None,
        };
        // UI frame 7 shows a frame captured 30 ms earlier.
        log.frame(&shown(1, t0 - ms(30)), now, t0, 7);
        // A second pass of the same UI frame: not on screen yet.
        log.frame(&shown(1, t0 - ms(30)), now, t0 + ms(5), 7);
        assert_eq!(log.report(now).screen_latency.samples, 0);
        // UI frame 8 begins 40 ms later: that frame took 70 ms to the screen.
        // It shows the same picture again (nothing new to count) ...
        log.frame(&shown(1, t0 - ms(30)), now, t0 + ms(40), 8);
        // ... then frame 9 shows a new one, counted when frame 10 begins.
        log.frame(&shown(2, t0 + ms(30)), now, t0 + ms(60), 9);
        log.frame(&shown(2, t0 + ms(30)), now, t0 + ms(100), 10);
        let latency = log.report(now).screen_latency;
        assert_eq!(latency.samples, 2, "{latency:?}");
        assert_eq!(latency.median_ms, Some(70.0), "{latency:?}");
        assert_eq!(latency.p95_ms, Some(70.0), "{latency:?}");
        drop(log);
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("stats file")).expect("json");
        assert_eq!(written["screen_latency"]["samples"], 2);
    }

    #[test]
    fn renderer_names() {
        assert_eq!(renderer_from_name(None), Ok(DEFAULT_RENDERER));
        assert_eq!(renderer_from_name(Some(" ")), Ok(DEFAULT_RENDERER));
        assert_eq!(renderer_from_name(Some("wgpu")), Ok(eframe::Renderer::Wgpu));
        assert_eq!(renderer_from_name(Some("GLOW")), Ok(eframe::Renderer::Glow));
        assert!(renderer_from_name(Some("vulkan")).is_err());
    }

    #[test]
    fn pacer_asks_once_per_frame_and_not_before_the_interval() {
        let ctx = egui::Context::default();
        let asked = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
        let log = asked.clone();
        ctx.set_request_repaint_callback(move |info| {
            log.lock().expect("test lock").push(info.delay);
        });
        let pacer = RepaintPacer::new(ctx);
        pacer.set_min_interval(Some(Duration::from_secs(3_600)));
        pacer.frame_begins();
        for _ in 0..50 {
            pacer.frame_arrived();
        }
        let delays = asked.lock().expect("test lock").clone();
        assert_eq!(pacer.arrivals(), 50);
        assert_eq!(delays.len(), 1, "one request for 50 arrivals: {delays:?}");
        assert!(delays[0] > Duration::from_secs(3_000), "{delays:?}");
        // Once the next frame begins, a new arrival asks again; with no
        // interval left to wait, at once.
        pacer.set_min_interval(Some(Duration::ZERO));
        pacer.frame_begins();
        pacer.frame_arrived();
        let delays = asked.lock().expect("test lock").clone();
        assert_eq!(delays.len(), 2);
        assert_eq!(delays[1], Duration::ZERO);
    }
}

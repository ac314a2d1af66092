//! The immediate-mode engine: the UI asks for each visible tile every frame;
//! players nobody asked for are stopped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::playback::{PlaybackConfig, PlaybackPlayer, PlaybackWant};
use super::player::{Player, PlayerConfig};
use super::{Credentials, Frame, StreamChoice, TileStats, TileStatus, Transport, choose_stream};
use crate::domain::{Camera, CameraId, StreamInfo};

/// How the engine plays streams.
#[derive(Clone)]
pub struct EngineOptions {
    /// Called (from a GStreamer or supervisor thread) when a tile has a new
    /// frame or changed state; typically `egui::Context::request_repaint`.
    pub repaint: Arc<dyn Fn() + Send + Sync>,
    /// A player nobody asked for this long is stopped (3000).
    pub idle_stop_ms: u64,
    /// No frame for this long shows the tile as stalled (3000); twice this
    /// long restarts the stream.
    pub stall_ms: u64,
    /// RTP over the RTSP TCP connection (default) or UDP.
    pub transport: Transport,
    /// Given as `user-id`/`user-pw` to every camera that has none of its
    /// own (see [`VideoEngine::set_credentials`]).
    pub credentials: Option<Credentials>,
    /// `rtspsrc` jitter buffer, ms (0; never the 2000 default).
    pub rtsp_latency_ms: u32,
    /// Forces this decoder factory (e.g. `avdec_h264`) for every stream, for
    /// tests and diagnostics; `None` picks the best one in the registry.
    pub decoder: Option<String>,
    /// A tile's new size is applied once it has been steady this long (200).
    pub resize_debounce_ms: u64,
    /// The CA that signs the site's certificate, for an `rtsps://` relay
    /// (`None`: the system's trust store).
    pub ca_file: Option<std::path::PathBuf>,
}

impl EngineOptions {
    /// The defaults, with the given repaint callback.
    pub fn new(repaint: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self {
            repaint,
            idle_stop_ms: 3000,
            stall_ms: 3000,
            transport: Transport::Tcp,
            credentials: None,
            rtsp_latency_ms: 0,
            decoder: None,
            resize_debounce_ms: 200,
            ca_file: None,
        }
    }
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("idle_stop_ms", &self.idle_stop_ms)
            .field("stall_ms", &self.stall_ms)
            .field("transport", &self.transport)
            .field("credentials", &self.credentials)
            .field("rtsp_latency_ms", &self.rtsp_latency_ms)
            .field("decoder", &self.decoder)
            .field("resize_debounce_ms", &self.resize_debounce_ms)
            .finish_non_exhaustive()
    }
}

/// One visible tile, asked for every UI frame.
#[derive(Debug, Clone, Copy)]
pub struct TileRequest<'a> {
    /// The tile's identity in the layout (e.g. `"grid:3"`).
    pub key: &'a str,
    pub camera: &'a Camera,
    /// The tile's size in physical pixels. Frames come at the stream's size
    /// halved while they still cover this (see [`super::convert`]), in
    /// square pixels: draw them letterboxed into the tile.
    pub size_px: [u32; 2],
    /// A single-camera view always plays the main stream.
    pub single_view: bool,
    /// Recorded video at a time instead of live (the main stream's
    /// recording).
    pub playback: Option<&'a PlaybackWant>,
}

/// What a tile shows now.
#[derive(Debug, Clone)]
pub struct TileView {
    /// The newest frame (or the previous stream's last frame while switching).
    pub frame: Option<Arc<Frame>>,
    pub status: TileStatus,
    /// `latency_ms` is now minus the capture time of `frame`.
    pub stats: TileStats,
    /// The stream whose frames the tile shows.
    pub stream: StreamChoice,
}

/// The size a tile of `tile_px` asks a stream of `stream_px` for: the
/// tile's, scaled down uniformly where it is larger than the stream, at
/// least 1×1. Pictures are halved while they still cover it.
pub fn frame_size(tile_px: [u32; 2], stream_px: [u32; 2]) -> [u32; 2] {
    let [mut w, mut h] = [tile_px[0].max(1) as f64, tile_px[1].max(1) as f64];
    if stream_px[0] > 0 && stream_px[1] > 0 {
        let shrink = (stream_px[0] as f64 / w)
            .min(stream_px[1] as f64 / h)
            .min(1.0);
        w *= shrink;
        h *= shrink;
    }
    // At most a few thousand: the casts cannot truncate.
    [w.round().max(1.0) as u32, h.round().max(1.0) as u32]
}

/// One player with what it plays.
struct Playing {
    player: Player,
    stream: StreamChoice,
    /// A new size waiting for the debounce.
    pending: Option<([u32; 2], Instant)>,
}

/// A tile of the layout.
struct Tile {
    camera: Camera,
    current: Playing,
    /// The other stream, starting; it replaces `current` at its first frame.
    next: Option<Playing>,
    last_asked: Instant,
}

/// A tile in playback.
struct Recorded {
    camera: CameraId,
    player: PlaybackPlayer,
    last_asked: Instant,
}

/// Plays the tiles the UI asks for. Cheap to call from the UI thread.
pub struct VideoEngine {
    opts: EngineOptions,
    tiles: Mutex<HashMap<String, Tile>>,
    /// Tiles in playback, by key (beside their live player, which stops
    /// once unasked).
    recorded: Mutex<HashMap<String, Recorded>>,
    /// Per camera, ahead of `session` and `opts.credentials`.
    credentials: Mutex<HashMap<CameraId, Credentials>>,
    /// The signed-in session's, for the site's relay: every camera.
    session: Mutex<Option<Credentials>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl VideoEngine {
    /// An engine with no players yet. GStreamer is initialised on the
    /// players' threads, not here.
    pub fn new(opts: EngineOptions) -> VideoEngine {
        VideoEngine {
            opts,
            tiles: Mutex::new(HashMap::new()),
            recorded: Mutex::new(HashMap::new()),
            credentials: Mutex::new(HashMap::new()),
            session: Mutex::new(None),
        }
    }

    /// The credentials of the signed-in session (user name, session token),
    /// which the site's relay asks of every stream. A change starts every
    /// tile again with the new ones.
    pub fn set_session_credentials(&self, credentials: Option<Credentials>) {
        let changed = {
            let mut session = lock(&self.session);
            let changed = *session != credentials;
            *session = credentials;
            changed
        };
        if changed {
            tracing::debug!("session credentials changed; restarting every tile");
            lock(&self.tiles).clear();
            lock(&self.recorded).clear();
        }
    }

    /// Gives a camera its own credentials (`None`: back to the engine's
    /// default). Its tiles start again with them, as does a tile that
    /// showed "unauthorized".
    pub fn set_credentials(&self, camera: &CameraId, credentials: Option<Credentials>) {
        let changed = {
            let mut all = lock(&self.credentials);
            let changed = all.get(camera) != credentials.as_ref();
            match credentials {
                Some(c) => all.insert(camera.clone(), c),
                None => all.remove(camera),
            };
            changed
        };
        if changed {
            tracing::debug!(%camera, "camera credentials changed; restarting its tiles");
            lock(&self.tiles).retain(|_, t| &t.camera.id != camera);
        }
    }

    fn start(&self, camera: &Camera, stream: StreamChoice, tile_px: [u32; 2]) -> Playing {
        let info = stream_info(camera, stream);
        let size = frame_size(tile_px, [info.width, info.height]);
        let credentials = lock(&self.credentials)
            .get(&camera.id)
            .cloned()
            .or_else(|| lock(&self.session).clone())
            .or_else(|| self.opts.credentials.clone());
        let cfg = PlayerConfig {
            camera: camera.id.to_string(),
            url: info.url.clone(),
            transport: self.opts.transport,
            credentials,
            latency_ms: self.opts.rtsp_latency_ms,
            stall_ms: self.opts.stall_ms.max(100),
            decoder: self.opts.decoder.clone(),
            repaint: self.opts.repaint.clone(),
            ca_file: self.opts.ca_file.clone(),
        };
        tracing::debug!(camera = %camera.id, ?stream, ?size, "starting a player");
        Playing {
            player: Player::start(cfg, size),
            stream,
            pending: None,
        }
    }

    /// Immediate mode: call every frame for every VISIBLE tile. Never blocks
    /// (beyond short locks) and never changes a pipeline's state on the
    /// caller's thread.
    pub fn tile(&self, req: &TileRequest) -> TileView {
        if let Some(want) = req.playback {
            return self.recorded_tile(req, want);
        }
        let now = Instant::now();
        let want = choose_camera_stream(req.camera, req.size_px, req.single_view);
        let mut tiles = lock(&self.tiles);

        // A tile now showing another camera (or changed URLs) starts afresh;
        // newly probed facts (size, rate) only update it.
        let stale = tiles.get(req.key).is_some_and(|t| {
            t.camera.id != req.camera.id
                || t.camera.main.url != req.camera.main.url
                || t.camera.sub.url != req.camera.sub.url
        });
        if stale {
            tiles.remove(req.key);
        } else if let Some(t) = tiles.get_mut(req.key)
            && t.camera != *req.camera
        {
            t.camera = req.camera.clone();
        }
        let tile = match tiles.get_mut(req.key) {
            Some(t) => t,
            None => {
                let current = self.start(req.camera, want, req.size_px);
                tiles.entry(req.key.to_owned()).or_insert(Tile {
                    camera: req.camera.clone(),
                    current,
                    next: None,
                    last_asked: now,
                })
            }
        };
        tile.last_asked = now;

        // Stream switch: start the other stream, keep showing this one
        // until the other has a frame.
        if tile.current.stream == want {
            tile.next = None;
        } else {
            if tile.next.as_ref().is_none_or(|n| n.stream != want) {
                tile.next = Some(self.start(req.camera, want, req.size_px));
            }
            if tile.next.as_ref().is_some_and(|n| n.player.has_frame())
                && let Some(next) = tile.next.take()
            {
                tracing::debug!(camera = %req.camera.id, stream = ?next.stream, "stream switched");
                // The old player stops on its own thread when dropped.
                tile.current = next;
            }
        }

        let debounce = Duration::from_millis(self.opts.resize_debounce_ms);
        let camera = &tile.camera;
        for p in std::iter::once(&mut tile.current).chain(tile.next.as_mut()) {
            let info = stream_info(camera, p.stream);
            let size = frame_size(req.size_px, [info.width, info.height]);
            resize_debounced(p, size, now, debounce);
        }

        let p = &tile.current;
        let mut frame = p.player.take_frame();
        if frame.is_none() {
            // Back from playback: its last frame stays until live has one.
            frame = lock(&self.recorded)
                .get(req.key)
                .and_then(|r| r.player.frame_at(chrono::DateTime::<chrono::Utc>::MIN_UTC));
        }
        let mut stats = p.player.stats();
        stats.latency_ms = frame.as_ref().and_then(|f| f.capture_time).map(|t| {
            (chrono::Utc::now() - t)
                .num_microseconds()
                .unwrap_or(i64::MAX) as f32
                / 1000.0
        });
        if let Some(f) = &frame {
            stats.width = f.width;
            stats.height = f.height;
        }
        TileView {
            frame,
            status: p.player.status(),
            stats,
            stream: p.stream,
        }
    }

    /// A tile in playback: its player follows the wish and shows the frame
    /// due at the position.
    fn recorded_tile(&self, req: &TileRequest, want: &PlaybackWant) -> TileView {
        let now = Instant::now();
        let size = frame_size(req.size_px, [req.camera.main.width, req.camera.main.height]);
        let mut all = lock(&self.recorded);
        if all.get(req.key).is_some_and(|r| r.camera != req.camera.id) {
            all.remove(req.key);
        }
        let rec = all.entry(req.key.to_owned()).or_insert_with(|| {
            tracing::debug!(camera = %req.camera.id, tile = req.key, "starting playback");
            Recorded {
                camera: req.camera.id.clone(),
                player: PlaybackPlayer::start(
                    PlaybackConfig {
                        camera: req.camera.id.to_string(),
                        credentials: lock(&self.session).clone(),
                        repaint: self.opts.repaint.clone(),
                    },
                    size,
                ),
                last_asked: now,
            }
        });
        rec.last_asked = now;
        rec.player.resize(size);
        rec.player.update(want);
        let frame = rec.player.frame_at(want.position);
        let covered = want
            .segments
            .iter()
            .any(|s| s.start <= want.position && want.position < s.end);
        let status = match rec.player.status() {
            TileStatus::Error(e) => TileStatus::Error(e),
            _ if !covered => TileStatus::NoRecording,
            TileStatus::Idle => TileStatus::NoRecording,
            s if frame.is_some() && s == TileStatus::Connecting => TileStatus::Playing,
            s => s,
        };
        let mut stats = TileStats {
            seek_ms: rec.player.seek_ms(),
            ..TileStats::default()
        };
        if let Some(f) = &frame {
            stats.width = f.width;
            stats.height = f.height;
        }
        TileView {
            frame,
            status,
            stats,
            stream: StreamChoice::Main,
        }
    }

    /// Call once per UI frame after the tiles: players nobody asked for
    /// within `idle_stop_ms` are stopped (off the UI thread).
    pub fn end_frame(&self) {
        let idle = Duration::from_millis(self.opts.idle_stop_ms);
        let now = Instant::now();
        lock(&self.recorded).retain(|_, r| now.saturating_duration_since(r.last_asked) < idle);
        let mut tiles = lock(&self.tiles);
        tiles.retain(|key, t| {
            let keep = now.saturating_duration_since(t.last_asked) < idle;
            if !keep {
                tracing::debug!(tile = %key, camera = %t.camera.id, "stopping an unwatched player");
            }
            keep
        });
    }

    /// Players running now (including ones being replaced by a stream switch).
    pub fn active_players(&self) -> usize {
        lock(&self.tiles)
            .values()
            .map(|t| 1 + usize::from(t.next.is_some()))
            .sum::<usize>()
            + lock(&self.recorded).len()
    }
}

impl Drop for VideoEngine {
    fn drop(&mut self) {
        // Each player's Drop only tells its thread to stop.
        lock(&self.tiles).clear();
        lock(&self.recorded).clear();
    }
}

/// The stream a tile plays: see [`choose_stream`]; main for a camera without
/// a sub stream of its own, and while the sub stream's size is unknown (not
/// probed yet).
pub fn choose_camera_stream(camera: &Camera, tile_px: [u32; 2], single_view: bool) -> StreamChoice {
    let sub_px = [camera.sub.width, camera.sub.height];
    if !camera.has_sub_stream() || sub_px.contains(&0) {
        return StreamChoice::Main;
    }
    choose_stream(tile_px, sub_px, single_view)
}

fn stream_info(camera: &Camera, stream: StreamChoice) -> &StreamInfo {
    match stream {
        StreamChoice::Main => &camera.main,
        StreamChoice::Sub => &camera.sub,
    }
}

/// Applies a new size once it has been asked for `debounce` without change.
fn resize_debounced(p: &mut Playing, size: [u32; 2], now: Instant, debounce: Duration) {
    if size == p.player.size() {
        p.pending = None;
        return;
    }
    match p.pending {
        Some((s, since)) if s == size => {
            if now.saturating_duration_since(since) >= debounce {
                tracing::debug!(?size, "resizing a player");
                p.player.resize(size);
                p.pending = None;
            }
        }
        _ => p.pending = Some((size, now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(main: [u32; 2], sub: Option<[u32; 2]>) -> Camera {
        let info = |url: &str, [width, height]: [u32; 2]| StreamInfo {
            url: url.to_owned(),
            width,
            height,
            ..StreamInfo::default()
        };
        Camera {
            id: CameraId::new("c"),
            name: "C".into(),
            main: info("rtsp://h/main", main),
            sub: match sub {
                Some(s) => info("rtsp://h/sub", s),
                None => info("rtsp://h/main", main),
            },
            map: None,
            state: Default::default(),
            auth_required: false,
            reason: None,
        }
    }

    #[test]
    fn a_camera_without_sub_stream_or_with_an_unprobed_one_plays_main() {
        let small = [320, 180];
        let cases = [
            (
                camera([1920, 1080], Some([704, 576])),
                small,
                StreamChoice::Sub,
            ),
            (
                camera([1920, 1080], Some([704, 576])),
                [1280, 720],
                StreamChoice::Main,
            ),
            (camera([1920, 1080], None), small, StreamChoice::Main),
            (camera([0, 0], Some([0, 0])), small, StreamChoice::Main),
            (camera([0, 0], None), small, StreamChoice::Main),
        ];
        for (cam, tile, want) in cases {
            assert_eq!(
                choose_camera_stream(&cam, tile, false),
                want,
                "{:?} {tile:?}",
                cam.sub
            );
        }
    }

    #[test]
    fn credentials_per_camera_restart_its_tiles_only_when_they_change() {
        let engine = VideoEngine::new(EngineOptions::new(Arc::new(|| {})));
        let id = CameraId::new("c");
        let c = Credentials {
            user: "u".into(),
            password: "p".into(),
        };
        engine.set_credentials(&id, Some(c.clone()));
        assert_eq!(lock(&engine.credentials).get(&id), Some(&c));
        engine.set_credentials(&id, None);
        assert!(lock(&engine.credentials).is_empty());
    }

    #[test]
    fn frame_sizes_fit_the_tile_and_never_exceed_the_stream() {
        assert_eq!(frame_size([320, 240], [640, 360]), [320, 240]);
        assert_eq!(frame_size([327, 236], [640, 360]), [327, 236]);
        assert_eq!(frame_size([0, 0], [640, 360]), [1, 1]);
        // Larger than the stream: scaled down uniformly to fit it.
        assert_eq!(frame_size([1280, 720], [640, 360]), [640, 360]);
        assert_eq!(frame_size([1920, 720], [640, 360]), [640, 240]);
        assert_eq!(frame_size([640, 366], [640, 360]), [630, 360]);
        // Unknown stream size: the tile's.
        assert_eq!(frame_size([500, 300], [0, 0]), [500, 300]);
    }
}

//! What a video tile needs to be drawn, as plain data: the [`TileSource`]
//! trait the UI asks every frame, and the frame, status and stats it gets
//! back. The UI knows only these; the shell (`app`) wires the GStreamer
//! engine (`video`) to the trait and converts its types.

use std::time::Instant;

use crate::domain::{Camera, ErrorKind};

/// Where tiles get their frames: the video engine (wired by the shell), or
/// a stand-in in tests.
pub trait TileSource {
    /// The tile's newest frame and status. Called every UI frame for every
    /// visible tile, so it must be cheap and never block.
    fn tile(&self, req: &TileRequest<'_>) -> TileView;

    /// Called once per UI frame after the tiles (and now and then while the
    /// window is hidden): sources stop what nobody asked for.
    fn end_frame(&self) {}

    /// How many streams play now.
    fn active_players(&self) -> usize {
        0
    }

    /// The signed-in session's credentials (user name and session token),
    /// which the site's relay asks of every stream; `None` once signed out.
    fn set_session_credentials(&self, _credentials: Option<crate::domain::CameraCredentials>) {}
}

/// What a tile asks for, every UI frame.
#[derive(Debug, Clone, Copy)]
pub struct TileRequest<'a> {
    /// The tile's identity in the layout (e.g. `"grid:3"`).
    pub key: &'a str,
    pub camera: &'a Camera,
    /// The tile's size in physical pixels.
    pub size_px: [u32; 2],
    /// A single-camera view always plays the main stream.
    pub single_view: bool,
    /// Recorded video at a time instead of live.
    pub playback: Option<&'a TilePlayback>,
}

/// A tile in playback: where the view's clock stands and what is recorded.
#[derive(Clone)]
pub struct TilePlayback {
    /// The camera's finished segments, in time order.
    pub segments: std::sync::Arc<[crate::domain::SegmentRef]>,
    /// The playback clock's position now.
    pub position: crate::domain::Timestamp,
    /// Playback speed, 1.0 = real time.
    pub rate: f64,
    /// A new number asks for a seek to `position`.
    pub seek: u64,
    /// The seek lands on the exact frame; otherwise on the key frame
    /// before (while dragging).
    pub exact: bool,
}

impl std::fmt::Debug for TilePlayback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TilePlayback")
            .field("segments", &self.segments.len())
            .field("position", &self.position)
            .field("rate", &self.rate)
            .field("seek", &self.seek)
            .finish_non_exhaustive()
    }
}

/// What a tile shows now.
#[derive(Debug, Clone)]
pub struct TileView {
    /// The newest frame (or the previous stream's last frame while switching).
    pub frame: Option<TileFrame>,
    pub status: TileStatus,
    /// `latency_ms` is now minus the capture time of `frame`.
    pub stats: TileStats,
    /// The stream whose frames the tile shows.
    pub stream: StreamChoice,
}

/// One decoded picture, RGBA. Cheap to clone (the pixels are shared).
#[derive(Clone)]
pub struct TileFrame {
    pub width: u32,
    pub height: u32,
    /// Tightly packed RGBA, `width * 4` bytes per row.
    pub rgba: bytes::Bytes,
    /// Unique in the process: a new number is a new picture.
    pub number: u64,
    /// When the camera captured it; `None` until known.
    pub capture_time: Option<chrono::DateTime<chrono::Utc>>,
    /// When it landed in the tile's mailbox.
    pub arrived: Instant,
}

impl std::fmt::Debug for TileFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the pixels.
        f.debug_struct("TileFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("number", &self.number)
            .field("capture_time", &self.capture_time)
            .finish_non_exhaustive()
    }
}

/// Which of a camera's streams a tile plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamChoice {
    Main,
    Sub,
}

impl StreamChoice {
    /// `main` or `sub`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamChoice::Main => "main",
            StreamChoice::Sub => "sub",
        }
    }
}

/// What a tile shows about its stream.
#[derive(Debug, Clone, PartialEq)]
pub enum TileStatus {
    /// Nothing asked yet.
    Idle,
    /// The stream is starting; no frame yet.
    Connecting,
    /// Frames arrive.
    Playing,
    /// No frame for a while; the last frame stays on screen.
    Stalled { since: Instant },
    /// The stream failed; the next try is at `retry_at`.
    Reconnecting {
        attempt: u32,
        retry_at: Instant,
        reason: String,
    },
    /// Playback at a time the camera has no recording of.
    NoRecording,
    /// A failure that retrying does not cure.
    Error(TileError),
}

/// Why a tile does not play: its kind, and the short text the tile shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileError {
    pub kind: ErrorKind,
    pub text: String,
}

/// Per-tile figures for the stats overlay.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TileStats {
    /// Frames into the mailbox per second.
    pub delivered_fps: f32,
    /// Frames out of the decoder per second.
    pub source_fps: f32,
    /// Mean time a frame spends in the decoder, ms.
    pub decode_ms: f32,
    /// Decoded frames replaced before anyone took them, plus QoS drops.
    pub dropped_frames: u64,
    /// Encoded bitrate, kbit/s.
    pub bitrate_kbps: f32,
    /// Size of the frames delivered.
    pub width: u32,
    pub height: u32,
    /// Now minus the capture time of the newest frame, ms.
    pub latency_ms: Option<f32>,
    /// Playback: from the newest seek's request to its first frame, ms.
    pub seek_ms: Option<f32>,
}

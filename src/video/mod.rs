//! Live video: GStreamer from an RTSP URL to the newest RGBA frame of a tile.
//!
//! The UI asks the [`VideoEngine`] every frame for each visible tile
//! ([`VideoEngine::tile`]); the engine starts, resizes, switches and stops
//! players behind it. Frames are never queued: each player keeps only its
//! newest frame in a one-slot mailbox and asks for a repaint.

pub mod convert;
mod engine;
mod playback;
mod player;
mod stats;
mod time;

pub use engine::{EngineOptions, TileRequest, TileView, VideoEngine, choose_camera_stream};
pub use playback::{KEY_FRAMES_ONLY_FROM, PlaybackWant};
pub use player::Backoff;
pub use time::{utc_from_ntp, utc_from_ntp64};

use crate::domain::ErrorKind;

/// One decoded picture, scaled to the tile's size, RGBA.
#[derive(Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// Tightly packed RGBA, `width * 4` bytes per row.
    pub rgba: bytes::Bytes,
    /// Increasing per player and unique in the process (a new number is a
    /// new picture, also across a stream switch).
    pub number: u64,
    /// When the camera captured it (RTP/NTP via RTCP sender reports); `None`
    /// until known.
    pub capture_time: Option<chrono::DateTime<chrono::Utc>>,
    /// When it landed in the mailbox.
    pub arrived: std::time::Instant,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("number", &self.number)
            .field("capture_time", &self.capture_time)
            .finish_non_exhaustive()
    }
}

/// How RTP travels from the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// RTP interleaved in the RTSP TCP connection: works through firewalls and NAT.
    #[default]
    Tcp,
    /// RTP over UDP: lowest overhead on a clean LAN.
    Udp,
}

/// Which of a camera's streams a tile plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamChoice {
    Main,
    Sub,
}

/// Sub when the tile is no larger than the sub stream in both dimensions and
/// it is not a single-camera view; main otherwise.
pub fn choose_stream(tile_px: [u32; 2], sub_px: [u32; 2], single_view: bool) -> StreamChoice {
    if !single_view && tile_px[0] <= sub_px[0] && tile_px[1] <= sub_px[1] {
        StreamChoice::Sub
    } else {
        StreamChoice::Main
    }
}

/// What a tile shows about its stream.
#[derive(Debug, Clone, PartialEq)]
pub enum TileStatus {
    /// Nothing asked yet.
    Idle,
    /// The pipeline is starting; no frame yet.
    Connecting,
    /// Frames arrive.
    Playing,
    /// No frame for `stall_ms`; the last frame stays on screen.
    Stalled { since: std::time::Instant },
    /// The stream failed; the next try is at `retry_at`.
    Reconnecting {
        attempt: u32,
        retry_at: std::time::Instant,
        reason: String,
    },
    /// Playback at a time the camera has no recording of.
    NoRecording,
    /// A failure that retrying does not cure (until the tile is asked again later).
    Error(VideoError),
}

/// Why a tile does not play.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VideoError {
    /// The camera answered 404 for the stream (the message names the stream path).
    #[error("stream not found: {0}")]
    NotFound(String),
    /// The camera refused the credentials (or none were given).
    #[error("the camera refused the credentials")]
    Unauthorized,
    /// The camera could not be reached.
    #[error("camera unreachable: {0}")]
    Unreachable(String),
    /// A GStreamer element is not installed.
    #[error("GStreamer element {element} is missing (install {package})")]
    MissingElement { element: String, package: String },
    /// The stream's codec or format cannot be decoded here.
    #[error("unsupported codec: {0}")]
    UnsupportedCodec(String),
    /// Anything else GStreamer reported.
    #[error("video error: {0}")]
    Other(String),
}

impl VideoError {
    /// The kind the UI reacts to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            VideoError::NotFound(_) => ErrorKind::NotFound,
            VideoError::Unauthorized => ErrorKind::Unauthenticated,
            VideoError::Unreachable(_) => ErrorKind::Unavailable,
            VideoError::MissingElement { .. } | VideoError::UnsupportedCodec(_) => {
                ErrorKind::Internal
            }
            VideoError::Other(_) => ErrorKind::Internal,
        }
    }

    /// The short text a tile shows over its last frame (or a black tile).
    pub fn overlay_text(&self) -> String {
        match self {
            VideoError::NotFound(_) => "stream not found on the camera".to_owned(),
            VideoError::Unauthorized => {
                "unauthorized: the camera refused the credentials".to_owned()
            }
            VideoError::Unreachable(why) => format!("camera unreachable: {why}"),
            VideoError::MissingElement { element, package } => {
                format!("missing GStreamer element {element}: install {package}")
            }
            VideoError::UnsupportedCodec(what) => format!("cannot decode this stream: {what}"),
            VideoError::Other(what) => format!("video error: {what}"),
        }
    }
}

/// Per-tile figures for the stats overlay.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TileStats {
    /// Frames into the mailbox per second.
    pub delivered_fps: f32,
    /// Frames out of the decoder per second.
    pub source_fps: f32,
    /// Mean time a frame spends in the decoder (buffer in → picture out), ms.
    pub decode_ms: f32,
    /// Decoded frames replaced before anyone took them, plus QoS drops.
    pub dropped_frames: u64,
    /// Encoded bitrate before the depayloader, kbit/s.
    pub bitrate_kbps: f32,
    /// Size of the frames delivered (the tile's size).
    pub width: u32,
    pub height: u32,
    /// Now minus the capture time of the newest frame, ms.
    pub latency_ms: Option<f32>,
    /// Playback: from the newest seek's request to its first frame, ms.
    pub seek_ms: Option<f32>,
}

/// RTSP credentials, given to `rtspsrc` as `user-id`/`user-pw`, never put in
/// a URL or a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl From<crate::domain::CameraCredentials> for Credentials {
    fn from(c: crate::domain::CameraCredentials) -> Self {
        Credentials {
            user: c.username,
            password: c.password,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Every element the engine needs, with the Debian package that carries it.
pub const REQUIRED_ELEMENTS: [(&str, &str); 14] = [
    ("souphttpsrc", "gstreamer1.0-plugins-good"),
    ("qtdemux", "gstreamer1.0-plugins-good"),
    ("decodebin", "gstreamer1.0-plugins-base"),
    ("rtspsrc", "gstreamer1.0-plugins-good"),
    ("rtph264depay", "gstreamer1.0-plugins-good"),
    ("rtph265depay", "gstreamer1.0-plugins-good"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
    ("h265parse", "gstreamer1.0-plugins-bad"),
    ("avdec_h264", "gstreamer1.0-libav"),
    ("avdec_h265", "gstreamer1.0-libav"),
    ("videoconvertscale", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("capsfilter", "libgstreamer1.0-0"),
    ("fakesink", "libgstreamer1.0-0"),
];

/// The Debian package that carries a known element, or a generic hint.
pub fn package_of(element: &str) -> String {
    REQUIRED_ELEMENTS
        .iter()
        .find(|(e, _)| *e == element)
        .map(|(_, p)| (*p).to_owned())
        .unwrap_or_else(|| "the GStreamer plugin package that provides it".to_owned())
}

/// Checks every element the engine needs; returns one
/// [`VideoError::MissingElement`] per missing element (empty when all are
/// there). Initialises GStreamer; if that fails, every element is reported.
pub fn check_elements() -> Vec<VideoError> {
    let ready = gstreamer::init().is_ok();
    REQUIRED_ELEMENTS
        .iter()
        .filter(|(element, _)| !ready || gstreamer::ElementFactory::find(element).is_none())
        .map(|(element, package)| VideoError::MissingElement {
            element: (*element).to_owned(),
            package: (*package).to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_stream_table() {
        let sub = [640, 360];
        let cases = [
            ([320, 180], false, StreamChoice::Sub),
            ([640, 360], false, StreamChoice::Sub),
            ([641, 360], false, StreamChoice::Main),
            ([640, 361], false, StreamChoice::Main),
            ([480, 270], true, StreamChoice::Main),
            ([1920, 1080], false, StreamChoice::Main),
            ([1, 1], false, StreamChoice::Sub),
            ([0, 0], false, StreamChoice::Sub),
            ([700, 100], false, StreamChoice::Main),
        ];
        for (tile, single, want) in cases {
            assert_eq!(
                choose_stream(tile, sub, single),
                want,
                "tile {tile:?} single {single}"
            );
        }
    }

    #[test]
    fn credentials_debug_hides_password() {
        let c = Credentials {
            user: "u".into(),
            password: "s3cret".into(),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"));
        assert!(shown.contains("\"u\""));
    }

    #[test]
    fn error_kinds_and_overlays() {
        assert_eq!(VideoError::Unauthorized.kind(), ErrorKind::Unauthenticated);
        assert_eq!(
            VideoError::NotFound("/x".into()).kind(),
            ErrorKind::NotFound
        );
        let e = VideoError::MissingElement {
            element: "avdec_h264".into(),
            package: package_of("avdec_h264"),
        };
        assert!(e.overlay_text().contains("gstreamer1.0-libav"));
    }
}

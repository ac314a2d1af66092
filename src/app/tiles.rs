//! The shell wires the video engine to the UI: [`VideoEngine`] serves as
//! the viewer's [`TileSource`], its types turned into the viewer's plain
//! ones (a frame's pixels are shared, not copied).

use crate::video::{self, VideoEngine, VideoError};
use crate::viewer::{
    TileError, TileFrame, TileRequest, TileSource, TileStats, TileStatus, TileView,
};

impl TileSource for VideoEngine {
    fn tile(&self, req: &TileRequest<'_>) -> TileView {
        let want = req.playback.map(|p| video::PlaybackWant {
            segments: p.segments.clone(),
            position: p.position,
            rate: p.rate,
            seek: p.seek,
            exact: p.exact,
        });
        let view = VideoEngine::tile(
            self,
            &video::TileRequest {
                key: req.key,
                camera: req.camera,
                size_px: req.size_px,
                single_view: req.single_view,
                playback: want.as_ref(),
            },
        );
        tile_view(view)
    }

    fn end_frame(&self) {
        VideoEngine::end_frame(self);
    }

    fn active_players(&self) -> usize {
        VideoEngine::active_players(self)
    }

    fn set_session_credentials(&self, credentials: Option<crate::domain::CameraCredentials>) {
        VideoEngine::set_session_credentials(self, credentials.map(Into::into));
    }
}

/// The engine's view of a tile as the UI takes it.
pub fn tile_view(view: video::TileView) -> TileView {
    TileView {
        frame: view.frame.map(|f| tile_frame(&f)),
        status: tile_status(view.status),
        stats: tile_stats(view.stats),
        stream: stream_choice(view.stream),
    }
}

fn tile_frame(f: &video::Frame) -> TileFrame {
    TileFrame {
        width: f.width,
        height: f.height,
        rgba: f.rgba.clone(),
        number: f.number,
        capture_time: f.capture_time,
        arrived: f.arrived,
    }
}

/// The engine's stream choice as the UI names it.
pub fn stream_choice(s: video::StreamChoice) -> crate::viewer::StreamChoice {
    match s {
        video::StreamChoice::Main => crate::viewer::StreamChoice::Main,
        video::StreamChoice::Sub => crate::viewer::StreamChoice::Sub,
    }
}

fn tile_status(s: video::TileStatus) -> TileStatus {
    match s {
        video::TileStatus::Idle => TileStatus::Idle,
        video::TileStatus::Connecting => TileStatus::Connecting,
        video::TileStatus::Playing => TileStatus::Playing,
        video::TileStatus::NoRecording => TileStatus::NoRecording,
        video::TileStatus::Stalled { since } => TileStatus::Stalled { since },
        video::TileStatus::Reconnecting {
            attempt,
            retry_at,
            reason,
        } => TileStatus::Reconnecting {
            attempt,
            retry_at,
            reason,
        },
        video::TileStatus::Error(e) => TileStatus::Error(tile_error(&e)),
    }
}

/// A video error as a tile shows it: its kind and its overlay text.
pub fn tile_error(e: &VideoError) -> TileError {
    TileError {
        kind: e.kind(),
        text: e.overlay_text(),
    }
}

fn tile_stats(s: video::TileStats) -> TileStats {
    TileStats {
        delivered_fps: s.delivered_fps,
        source_fps: s.source_fps,
        decode_ms: s.decode_ms,
        dropped_frames: s.dropped_frames,
        bitrate_kbps: s.bitrate_kbps,
        width: s.width,
        height: s.height,
        latency_ms: s.latency_ms,
        seek_ms: s.seek_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorKind;

    #[test]
    fn engine_views_become_tile_views() {
        let at = std::time::Instant::now();
        let frame = std::sync::Arc::new(video::Frame {
            width: 2,
            height: 1,
            rgba: bytes::Bytes::from(vec![7; 8]),
            number: 42,
            capture_time: None,
            arrived: at,
        });
        let view = tile_view(video::TileView {
            frame: Some(frame.clone()),
            status: video::TileStatus::Error(VideoError::Unauthorized),
            stats: video::TileStats {
                width: 2,
                height: 1,
                latency_ms: Some(12.5),
                ..Default::default()
            },
            stream: video::StreamChoice::Sub,
        });
        let shown = view.frame.expect("frame");
        assert_eq!((shown.width, shown.height, shown.number), (2, 1, 42));
        assert_eq!(shown.arrived, at);
        assert_eq!(
            shown.rgba.as_ptr(),
            frame.rgba.as_ptr(),
            "pixels shared, not copied"
        );
        assert_eq!(
            view.status,
            TileStatus::Error(TileError {
                kind: ErrorKind::Unauthenticated,
                text: "unauthorized: the camera refused the credentials".into(),
            })
        );
        assert_eq!(view.stats.latency_ms, Some(12.5));
        assert_eq!(view.stream, crate::viewer::StreamChoice::Sub);
        let r = tile_status(video::TileStatus::Reconnecting {
            attempt: 3,
            retry_at: at,
            reason: "refused".into(),
        });
        assert_eq!(
            r,
            TileStatus::Reconnecting {
                attempt: 3,
                retry_at: at,
                reason: "refused".into()
            }
        );
    }
}

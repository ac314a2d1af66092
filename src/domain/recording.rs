//! Recordings: a camera stream is recorded as a run of MP4 segments (about a
//! minute each), indexed by wall-clock time. These are the nouns the site's
//! recorder writes and the coverage call will answer with.

use serde::{Deserialize, Serialize};

use super::{CameraId, Timestamp};

/// Which of a camera's streams: the main (full size, recorded) or the sub
/// (small, for tiles).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    Main,
    Sub,
}

impl StreamKind {
    /// The wire name, also the folder name under a camera's recordings.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Main => "main",
            StreamKind::Sub => "sub",
        }
    }

    /// Reads a wire name.
    pub fn parse(s: &str) -> Option<StreamKind> {
        match s {
            "main" => Some(StreamKind::Main),
            "sub" => Some(StreamKind::Sub),
            _ => None,
        }
    }
}

/// Where a segment's wall-clock times come from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ClockSource {
    /// The camera's own clock, from its RTCP sender reports (NTP): the
    /// capture time.
    Rtcp,
    /// The site's clock when the frames arrived (the camera sent no sender
    /// report): capture time plus network and camera latency.
    Receive,
}

impl ClockSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::Rtcp => "rtcp",
            ClockSource::Receive => "receive",
        }
    }

    pub fn parse(s: &str) -> Option<ClockSource> {
        match s {
            "rtcp" => Some(ClockSource::Rtcp),
            "receive" => Some(ClockSource::Receive),
            _ => None,
        }
    }
}

/// Whether a segment is finished.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SegmentState {
    /// Being written (or left so by a crash, until the site's start-up
    /// recovery finishes it): its end, size and hash are not known yet.
    Writing,
    /// A finished, ordinary MP4 that plays on its own.
    Done,
}

impl SegmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentState::Writing => "writing",
            SegmentState::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<SegmentState> {
        match s {
            "writing" => Some(SegmentState::Writing),
            "done" => Some(SegmentState::Done),
            _ => None,
        }
    }
}

/// One recorded file of a camera stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Segment {
    /// The index's row id.
    pub id: i64,
    pub camera: CameraId,
    pub stream: StreamKind,
    /// The wall-clock time of its first frame.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// The wall-clock time its last frame ends (`start` while writing).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// The file, relative to the recordings folder, `/`-separated.
    pub path: String,
    /// The file's size (0 while writing).
    pub bytes: u64,
    /// SHA-256 of the finished file, lowercase hex (empty while writing).
    pub sha256: String,
    /// When each key frame starts, in microseconds from `start`.
    pub key_frames_us: Vec<i64>,
    pub clock: ClockSource,
    pub state: SegmentState,
}

/// A finished segment as a client plays it: its time span and the address
/// it is fetched from (the site's `/api/v1/recordings/segments/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRef {
    pub id: i64,
    /// The wall-clock time of its first frame.
    pub start: Timestamp,
    /// The wall-clock time its last frame ends.
    pub end: Timestamp,
    pub url: String,
}

/// A stretch of time with no recording between two segments (or between an
/// end of the asked range and the nearest segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Gap {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
}

/// What is recorded of a camera stream in a time range: the finished
/// segments overlapping it, in order, and the gaps between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coverage {
    pub segments: Vec<Segment>,
    pub gaps: Vec<Gap>,
}

/// A hold on the recordings of some cameras in a time range: retention never
/// deletes a segment that overlaps a lock until the lock's `until` has
/// passed (a lock without one holds until it is removed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvidenceLock {
    pub id: String,
    pub cameras: Vec<CameraId>,
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Who placed it.
    pub by: String,
    pub reason: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
}

impl EvidenceLock {
    /// Whether the lock still protects `camera`'s recordings between `start`
    /// and `end` at `now`.
    pub fn protects(
        &self,
        camera: &CameraId,
        start: Timestamp,
        end: Timestamp,
        now: Timestamp,
    ) -> bool {
        self.until.is_none_or(|u| now < u)
            && self.cameras.contains(camera)
            && start <= self.end
            && self.start <= end
    }
}

/// A named moment in the recordings of some cameras: a time range, a
/// title, a note, its author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bookmark {
    pub id: String,
    pub cameras: Vec<CameraId>,
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    pub title: String,
    pub note: String,
    /// Who placed it.
    pub by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for s in [StreamKind::Main, StreamKind::Sub] {
            assert_eq!(StreamKind::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        for c in [ClockSource::Rtcp, ClockSource::Receive] {
            assert_eq!(ClockSource::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::json!(c.as_str())
            );
        }
        for st in [SegmentState::Writing, SegmentState::Done] {
            assert_eq!(SegmentState::parse(st.as_str()), Some(st));
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                serde_json::json!(st.as_str())
            );
        }
        assert_eq!(StreamKind::parse("Main"), None);
    }

    #[test]
    fn a_lock_protects_overlapping_recordings_of_its_cameras_until_it_expires() {
        let t = |s: i64| chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let lock = EvidenceLock {
            id: "l1".into(),
            cameras: vec![CameraId::new("cam-1")],
            start: t(100),
            end: t(200),
            by: "investigator".into(),
            reason: "case 7".into(),
            until: Some(t(1000)),
        };
        let cam = CameraId::new("cam-1");
        assert!(lock.protects(&cam, t(150), t(160), t(0)));
        assert!(
            lock.protects(&cam, t(50), t(100), t(0)),
            "touching its start"
        );
        assert!(
            lock.protects(&cam, t(200), t(260), t(0)),
            "touching its end"
        );
        assert!(!lock.protects(&cam, t(201), t(260), t(0)));
        assert!(!lock.protects(&CameraId::new("cam-2"), t(150), t(160), t(0)));
        assert!(!lock.protects(&cam, t(150), t(160), t(1000)), "expired");
        let forever = EvidenceLock {
            until: None,
            ..lock
        };
        assert!(forever.protects(&cam, t(150), t(160), t(1_000_000)));
    }
}

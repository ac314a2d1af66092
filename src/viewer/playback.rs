//! Playback as plain data: a view's [`Playback`] (one clock for all its
//! tiles, the timeline's range) and the site's [`Recordings`] the timeline
//! draws (coverage per camera, door events as marks, bookmarks).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::TimeDelta;

use crate::domain::{Bookmark, CameraId, DoorId, Event, EventKind, SegmentRef, Timestamp};

/// The speeds offered, slowest first. From
/// [`KEY_FRAMES_FROM`](Playback::KEY_FRAMES_FROM) on only key frames show.
pub const RATES: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

/// The narrowest and widest timeline spans.
pub const MIN_SPAN: TimeDelta = TimeDelta::seconds(10);
pub const MAX_SPAN: TimeDelta = TimeDelta::weeks(2);

/// How far before an event its playback starts.
pub const BEFORE_EVENT: TimeDelta = TimeDelta::seconds(5);

/// Playback this close to now, past the end of what is recorded, goes on
/// live (the segment being written is not served).
pub const LIVE_WITHIN: TimeDelta = TimeDelta::seconds(90);

/// One view's playback: a clock that all its linked tiles follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Playback {
    /// The position at `anchor`.
    anchor_pos: Timestamp,
    anchor: Instant,
    rate: f64,
    paused: bool,
    /// Bumped for every seek; tiles re-sync on it.
    seek: u64,
    /// The newest seek lands on the exact frame (not a drag's key frame).
    exact: bool,
    /// Tiles (by key) that stay live while the others play back.
    pub unlinked: BTreeSet<String>,
    /// The timeline's visible range.
    pub from: Timestamp,
    pub to: Timestamp,
    /// The recordings last asked for: range, when, which cameras.
    pub asked: Option<(Timestamp, Timestamp, Instant, Vec<CameraId>)>,
    /// The clock has shown recorded video since it started: running past
    /// the end of the recordings then means catching up with live.
    pub was_covered: bool,
    /// The clock is held at a moment whose segment is still being written
    /// (an event a few seconds ago): it runs once the segment is there.
    pub waiting: bool,
}

impl Eq for Playback {}

impl Playback {
    /// Speeds from here on show key frames only.
    pub const KEY_FRAMES_FROM: f64 = 4.0;

    /// Playback from `at`, playing at 1×, with the timeline showing the
    /// ten minutes around it.
    pub fn start(at: Timestamp, now: Instant) -> Playback {
        Playback {
            anchor_pos: at,
            anchor: now,
            rate: 1.0,
            paused: false,
            seek: 1,
            exact: true,
            unlinked: BTreeSet::new(),
            from: at - TimeDelta::minutes(5),
            to: at + TimeDelta::minutes(5),
            asked: None,
            was_covered: false,
            waiting: false,
        }
    }

    /// The range to read recordings for, when they should be read (again):
    /// never read, the cameras changed, the timeline left what was read,
    /// or `every` passed. Twice the visible span, at most 31 days.
    pub fn recordings_to_read(
        &self,
        cameras: &[CameraId],
        now: Instant,
        every: std::time::Duration,
    ) -> Option<(Timestamp, Timestamp)> {
        let stale = match &self.asked {
            None => true,
            Some((a, b, at, which)) => {
                which.as_slice() != cameras
                    || self.from < *a
                    || self.to > *b
                    || now.saturating_duration_since(*at) >= every
            }
        };
        if !stale {
            return None;
        }
        let span = (self.to - self.from).min(TimeDelta::days(10));
        Some((self.from - span / 2, self.to + span / 2))
    }

    /// Notes that `from`..`to` was asked for `cameras`.
    pub fn asked_for(
        &mut self,
        from: Timestamp,
        to: Timestamp,
        cameras: Vec<CameraId>,
        now: Instant,
    ) {
        self.asked = Some((from, to, now, cameras));
    }

    /// Where the clock stands at `now`.
    pub fn position(&self, now: Instant) -> Timestamp {
        if self.paused {
            return self.anchor_pos;
        }
        let elapsed = now.saturating_duration_since(self.anchor);
        let ns = elapsed.as_nanos() as f64 * self.rate;
        self.anchor_pos + TimeDelta::nanoseconds(ns as i64)
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    pub fn seek_number(&self) -> u64 {
        self.seek
    }

    pub fn exact(&self) -> bool {
        self.exact
    }

    /// Jumps to `at`: `exact` for a click, a release, a step; not while
    /// dragging (key frames only, fast). The timeline follows when `at`
    /// leaves it.
    pub fn seek_to(&mut self, at: Timestamp, exact: bool, now: Instant) {
        self.anchor_pos = at;
        self.anchor = now;
        self.seek += 1;
        self.exact = exact;
        self.keep_in_view(at);
    }

    /// A new speed, from the position now (no seek: frames go on).
    pub fn set_rate(&mut self, rate: f64, now: Instant) {
        self.anchor_pos = self.position(now);
        self.anchor = now;
        self.rate = rate.clamp(RATES[0], RATES[RATES.len() - 1]);
    }

    pub fn set_paused(&mut self, paused: bool, now: Instant) {
        self.anchor_pos = self.position(now);
        self.anchor = now;
        self.paused = paused;
    }

    /// One frame of `period` forward (`frames > 0`) or back; pauses.
    pub fn step(&mut self, frames: i32, period: TimeDelta, now: Instant) {
        let at = self.position(now) + period * frames;
        self.paused = true;
        self.seek_to(at, true, now);
    }

    /// The timeline zoomed by `factor` (< 1 zooms in) around `center`.
    pub fn zoom(&mut self, factor: f64, center: Timestamp) {
        let span = (self.to - self.from).num_milliseconds() as f64;
        let new_span = (span * factor).clamp(
            MIN_SPAN.num_milliseconds() as f64,
            MAX_SPAN.num_milliseconds() as f64,
        );
        let left = (center - self.from).num_milliseconds() as f64 / span.max(1.0);
        let from = center - TimeDelta::milliseconds((new_span * left) as i64);
        self.from = from;
        self.to = from + TimeDelta::milliseconds(new_span as i64);
    }

    /// The timeline moved by `delta` (positive: later).
    pub fn pan(&mut self, delta: TimeDelta) {
        self.from += delta;
        self.to += delta;
    }

    /// Keeps `at` on the timeline, moving it by whole spans' fractions.
    pub fn keep_in_view(&mut self, at: Timestamp) {
        let span = self.to - self.from;
        if at < self.from || at > self.to {
            self.from = at - span / 2;
            self.to = self.from + span;
        }
    }

    /// Whether playback should hand over to live at `now_wall`: playing
    /// forward, past the end of every linked camera's recordings, and
    /// within [`LIVE_WITHIN`] of now.
    pub fn reaches_live(
        &self,
        position: Timestamp,
        recorded_end: Option<Timestamp>,
        now_wall: Timestamp,
    ) -> bool {
        self.was_covered
            && !self.paused
            && self.rate >= 1.0
            && recorded_end.is_none_or(|end| position >= end)
            && now_wall - position <= LIVE_WITHIN
    }
}

/// The kind of a door event on the timeline; its lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MarkKind {
    Granted,
    Denied,
    Forced,
    Held,
}

impl MarkKind {
    pub const ALL: [MarkKind; 4] = [
        MarkKind::Granted,
        MarkKind::Denied,
        MarkKind::Forced,
        MarkKind::Held,
    ];

    /// The lane's name.
    pub fn label(self) -> &'static str {
        match self {
            MarkKind::Granted => "Granted",
            MarkKind::Denied => "Denied",
            MarkKind::Forced => "Forced",
            MarkKind::Held => "Held open",
        }
    }

    /// The event's mark, if it is a door event the timeline shows.
    pub fn of(kind: &EventKind) -> Option<(MarkKind, &DoorId)> {
        match kind {
            EventKind::AccessGranted { door, .. } => Some((MarkKind::Granted, door)),
            EventKind::AccessDenied { door, .. } => Some((MarkKind::Denied, door)),
            EventKind::DoorForcedOpen { door } => Some((MarkKind::Forced, door)),
            EventKind::DoorHeldOpen { door } => Some((MarkKind::Held, door)),
            _ => None,
        }
    }
}

/// A door event on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorMark {
    pub at: Timestamp,
    pub door: DoorId,
    pub kind: MarkKind,
}

impl DoorMark {
    /// The mark of an event, if the timeline shows its kind.
    pub fn of(event: &Event) -> Option<DoorMark> {
        MarkKind::of(&event.kind).map(|(kind, door)| DoorMark {
            at: event.time,
            door: door.clone(),
            kind,
        })
    }
}

/// What the site has recorded around the views in playback, as last read.
#[derive(Debug, Clone)]
pub struct Recordings {
    /// Finished segments per camera, in time order.
    pub coverage: HashMap<CameraId, Arc<[SegmentRef]>>,
    /// Door events, in time order.
    pub marks: Vec<DoorMark>,
    pub bookmarks: Vec<Bookmark>,
    /// The range read last.
    pub loaded: Option<(Timestamp, Timestamp)>,
    /// When it was asked (wall clock), so it is asked again now and then.
    pub asked: Option<(Timestamp, Timestamp, Instant)>,
    /// Why the last read failed, if it did.
    pub error: Option<String>,
    /// The one empty list handed out for a camera without recordings (the
    /// same each frame, so players see no change).
    empty: Arc<[SegmentRef]>,
}

impl Default for Recordings {
    fn default() -> Self {
        Recordings {
            coverage: HashMap::new(),
            marks: Vec::new(),
            bookmarks: Vec::new(),
            loaded: None,
            asked: None,
            error: None,
            empty: Arc::from(Vec::new()),
        }
    }
}

impl Recordings {
    /// A camera's segments (empty when none are known).
    pub fn segments(&self, camera: &CameraId) -> Arc<[SegmentRef]> {
        self.coverage
            .get(camera)
            .cloned()
            .unwrap_or_else(|| self.empty.clone())
    }

    /// The newest recorded instant of these cameras.
    pub fn end_of<'a>(&self, cameras: impl IntoIterator<Item = &'a CameraId>) -> Option<Timestamp> {
        cameras
            .into_iter()
            .filter_map(|c| self.coverage.get(c).and_then(|s| s.last()).map(|s| s.end))
            .max()
    }

    /// The marks of `doors` between `from` and `to` (a slice of the
    /// sorted list, found by binary search).
    pub fn marks_between(&self, from: Timestamp, to: Timestamp) -> &[DoorMark] {
        let a = self.marks.partition_point(|m| m.at < from);
        let b = self.marks.partition_point(|m| m.at <= to);
        &self.marks[a..b.max(a)]
    }

    /// Replaces what is known with a fresh read of `from`..`to`.
    pub fn replace(
        &mut self,
        from: Timestamp,
        to: Timestamp,
        coverage: Vec<(CameraId, Vec<SegmentRef>)>,
        mut marks: Vec<DoorMark>,
        bookmarks: Vec<Bookmark>,
    ) {
        self.coverage = coverage
            .into_iter()
            .map(|(c, mut s)| {
                s.sort_by_key(|s| s.start);
                (c, Arc::from(s))
            })
            .collect();
        marks.sort_by_key(|m| m.at);
        self.marks = marks;
        self.bookmarks = bookmarks;
        self.loaded = Some((from, to));
        self.error = None;
    }

    /// A live door event joins the marks when it falls in the loaded range.
    pub fn add_live(&mut self, event: &Event) {
        let Some(mark) = DoorMark::of(event) else {
            return;
        };
        if self
            .loaded
            .is_some_and(|(from, to)| mark.at >= from && mark.at <= to + LIVE_WITHIN)
        {
            let at = self.marks.partition_point(|m| m.at <= mark.at);
            self.marks.insert(at, mark);
        }
    }

    /// Whether `from`..`to` should be read (again): not read yet, not
    /// covered, or read more than `every` ago.
    pub fn needs(
        &self,
        from: Timestamp,
        to: Timestamp,
        now: Instant,
        every: std::time::Duration,
    ) -> bool {
        match self.asked {
            None => true,
            Some((a, b, at)) => from < a || to > b || now.saturating_duration_since(at) >= every,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;
    use std::time::Duration;

    fn t(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_clock_moves_at_its_rate_and_stops_when_paused() {
        let t0 = Instant::now();
        let mut p = Playback::start(t(0), t0);
        assert_eq!(p.position(t0 + Duration::from_secs(2)), t(2));
        p.set_rate(4.0, t0 + Duration::from_secs(2));
        assert_eq!(p.position(t0 + Duration::from_secs(3)), t(6));
        p.set_paused(true, t0 + Duration::from_secs(3));
        assert_eq!(p.position(t0 + Duration::from_secs(30)), t(6));
        p.set_paused(false, t0 + Duration::from_secs(30));
        assert_eq!(p.position(t0 + Duration::from_secs(31)), t(10));
        p.set_rate(100.0, t0);
        assert_eq!(p.rate(), 16.0, "clamped to the fastest speed offered");
    }

    #[test]
    fn seeks_count_and_steps_pause_on_exact_frames() {
        let t0 = Instant::now();
        let mut p = Playback::start(t(0), t0);
        let first = p.seek_number();
        p.seek_to(t(100), false, t0);
        assert_eq!(p.seek_number(), first + 1);
        assert!(!p.exact());
        assert!(p.from <= t(100) && t(100) <= p.to, "the timeline follows");
        p.step(-1, TimeDelta::milliseconds(40), t0);
        assert!(p.paused() && p.exact());
        assert_eq!(
            p.position(t0 + Duration::from_secs(5)),
            t(100) - TimeDelta::milliseconds(40)
        );
    }

    #[test]
    fn zoom_keeps_the_center_and_stays_within_bounds() {
        let mut p = Playback::start(t(0), Instant::now());
        p.zoom(0.5, t(0));
        assert_eq!(p.to - p.from, TimeDelta::minutes(5));
        assert_eq!(p.from, t(-150));
        for _ in 0..40 {
            p.zoom(0.5, t(0));
        }
        assert_eq!(p.to - p.from, MIN_SPAN);
        for _ in 0..80 {
            p.zoom(2.0, t(0));
        }
        assert_eq!(p.to - p.from, MAX_SPAN);
    }

    #[test]
    fn playback_hands_over_to_live_only_near_now_past_the_recordings() {
        let mut p = Playback::start(t(0), Instant::now());
        assert!(
            !p.reaches_live(t(100), Some(t(90)), t(150)),
            "not before it has shown recorded video"
        );
        p.was_covered = true;
        assert!(p.reaches_live(t(100), Some(t(90)), t(150)));
        assert!(
            !p.reaches_live(t(80), Some(t(90)), t(150)),
            "still recorded"
        );
        assert!(!p.reaches_live(t(100), Some(t(90)), t(500)), "far from now");
        let mut slow = p.clone();
        slow.set_rate(0.5, Instant::now());
        assert!(!slow.reaches_live(t(100), Some(t(90)), t(150)));
    }

    #[test]
    fn marks_are_found_by_range_and_live_ones_join_in_order() {
        let mut r = Recordings::default();
        let mark = |s, kind| DoorMark {
            at: t(s),
            door: DoorId::new("d"),
            kind,
        };
        r.replace(
            t(0),
            t(100),
            vec![],
            vec![mark(50, MarkKind::Denied), mark(10, MarkKind::Granted)],
            vec![],
        );
        assert_eq!(r.marks_between(t(0), t(20)).len(), 1);
        assert_eq!(r.marks_between(t(10), t(50)).len(), 2);
        assert_eq!(r.marks_between(t(60), t(70)).len(), 0);
        let event = Event {
            seq: 1,
            time: t(30),
            kind: EventKind::DoorForcedOpen {
                door: DoorId::new("d"),
            },
        };
        r.add_live(&event);
        let kinds: Vec<_> = r.marks.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [MarkKind::Granted, MarkKind::Forced, MarkKind::Denied]
        );
    }
}

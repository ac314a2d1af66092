//! The timeline under a view in playback: a ruler in the site's zone, the
//! recording coverage of each camera (gaps show as empty track), the doors'
//! events in lanes by kind (granted, denied, forced, held open), the
//! bookmarks, now, and the playback cursor with its time and zone.
//!
//! Drag to scrub (the view follows on key frames while dragging, one exact
//! seek on release), click to jump, click a door event to play from a few
//! seconds before it, scroll to zoom (seconds to weeks) around the pointer,
//! drag with the right button or shift-scroll to pan.
//!
//! Drawing costs what is in sight, not what is loaded: segments and marks
//! are sorted, found by binary search, and merged per pixel column, so a
//! week of one-minute segments and 100,000 events draw as a few hundred
//! shapes.

use std::collections::HashSet;

use chrono::{Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Ui, pos2, vec2};

use super::theme;
use crate::domain::{Bookmark, DoorId, SegmentRef, Timestamp};
use crate::viewer::playback::{BEFORE_EVENT, DoorMark, MarkKind};

/// One camera's coverage row.
pub struct TimelineLane<'a> {
    pub name: &'a str,
    pub segments: &'a [SegmentRef],
}

/// What the timeline draws.
pub struct TimelineInput<'a> {
    pub from: Timestamp,
    pub to: Timestamp,
    pub position: Timestamp,
    pub now: Timestamp,
    pub tz: Tz,
    pub lanes: &'a [TimelineLane<'a>],
    /// Door events, sorted by time (any range: the timeline slices them).
    pub marks: &'a [DoorMark],
    /// Only these doors' events show; all when `None`.
    pub doors: Option<&'a HashSet<DoorId>>,
    pub bookmarks: &'a [Bookmark],
}

/// What the operator did on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum TimelineAction {
    /// Play from `at`: `exact` on a click or a release, not while dragging.
    Seek { at: Timestamp, exact: bool },
    /// Zoom by `factor` (< 1 is in) around `center`.
    Zoom { factor: f64, center: Timestamp },
    /// Move the visible range by this much (positive: later).
    Pan(TimeDelta),
}

/// The timeline's height for `lanes` camera rows.
pub fn timeline_height(lanes: usize) -> f32 {
    RULER_H + coverage_h(lanes) + MarkKind::ALL.len() as f32 * MARK_H + BOOKMARK_H + 6.0
}

const RULER_H: f32 = 18.0;
const MARK_H: f32 = 9.0;
const BOOKMARK_H: f32 = 10.0;
const LABEL_W: f32 = 96.0;
/// Camera rows are this tall, and all of them together at most
/// [`COVERAGE_MAX_H`].
const COVERAGE_ROW_H: f32 = 8.0;
const COVERAGE_MAX_H: f32 = 40.0;

fn coverage_h(lanes: usize) -> f32 {
    (lanes.max(1) as f32 * COVERAGE_ROW_H).min(COVERAGE_MAX_H)
}

/// The colour of a door event's lane.
pub fn mark_color(kind: MarkKind) -> Color32 {
    match kind {
        MarkKind::Granted => theme::GRANTED,
        MarkKind::Denied => theme::DENIED,
        MarkKind::Forced => theme::ALARM,
        MarkKind::Held => theme::WARNING,
    }
}

/// Maps times to x and back over a track.
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis {
    pub from: Timestamp,
    pub to: Timestamp,
    pub left: f32,
    pub right: f32,
}

impl TimeAxis {
    fn span_ms(&self) -> f64 {
        ((self.to - self.from).num_milliseconds() as f64).max(1.0)
    }

    pub fn x_of(&self, t: Timestamp) -> f32 {
        let f = (t - self.from).num_milliseconds() as f64 / self.span_ms();
        self.left + (f as f32) * (self.right - self.left)
    }

    pub fn time_at(&self, x: f32) -> Timestamp {
        let f = f64::from((x - self.left) / (self.right - self.left).max(1.0));
        self.from + TimeDelta::milliseconds((f * self.span_ms()).round() as i64)
    }
}

/// Tick intervals, shortest first.
const TICKS: [TimeDelta; 20] = [
    TimeDelta::seconds(1),
    TimeDelta::seconds(2),
    TimeDelta::seconds(5),
    TimeDelta::seconds(10),
    TimeDelta::seconds(15),
    TimeDelta::seconds(30),
    TimeDelta::minutes(1),
    TimeDelta::minutes(2),
    TimeDelta::minutes(5),
    TimeDelta::minutes(10),
    TimeDelta::minutes(15),
    TimeDelta::minutes(30),
    TimeDelta::hours(1),
    TimeDelta::hours(2),
    TimeDelta::hours(3),
    TimeDelta::hours(6),
    TimeDelta::hours(12),
    TimeDelta::days(1),
    TimeDelta::days(2),
    TimeDelta::weeks(1),
];

/// The ticks of a ruler: the shortest interval at least `min_px` apart,
/// aligned on the zone's local time; each with its label.
pub fn ruler_ticks(axis: &TimeAxis, tz: Tz, min_px: f32) -> Vec<(Timestamp, String)> {
    let width = (axis.right - axis.left).max(1.0);
    let span = axis.span_ms();
    let step = TICKS
        .iter()
        .copied()
        .find(|s| s.num_milliseconds() as f64 / span * f64::from(width) >= f64::from(min_px))
        .unwrap_or(TimeDelta::weeks(1));
    let offset_ms = i64::from(
        tz.offset_from_utc_datetime(&axis.from.naive_utc())
            .fix()
            .local_minus_utc(),
    ) * 1000;
    let step_ms = step.num_milliseconds();
    let local_from = axis.from.timestamp_millis() + offset_ms;
    let mut local = local_from.div_euclid(step_ms) * step_ms;
    if local < local_from {
        local += step_ms;
    }
    let format = if step < TimeDelta::minutes(1) {
        "%H:%M:%S"
    } else if step < TimeDelta::days(1) {
        "%H:%M"
    } else {
        "%a %d %b"
    };
    let mut out = Vec::new();
    while out.len() < 200 {
        let Some(t) = chrono::DateTime::from_timestamp_millis(local - offset_ms) else {
            break;
        };
        if t > axis.to {
            break;
        }
        let shown = t.with_timezone(&tz);
        // Midnight on a sub-day ruler names the day.
        let label =
            if step < TimeDelta::days(1) && shown.format("%H:%M:%S").to_string() == "00:00:00" {
                shown.format("%a %d %b").to_string()
            } else {
                shown.format(format).to_string()
            };
        out.push((t, label));
        local += step_ms;
    }
    out
}

/// Spans of `segments` in sight, as x ranges merged where they touch
/// within a pixel.
pub fn coverage_spans(axis: &TimeAxis, segments: &[SegmentRef]) -> Vec<(f32, f32)> {
    let first = segments.partition_point(|s| s.end < axis.from);
    let mut spans: Vec<(f32, f32)> = Vec::new();
    for s in &segments[first..] {
        if s.start > axis.to {
            break;
        }
        let a = axis.x_of(s.start).max(axis.left);
        let b = axis.x_of(s.end).min(axis.right);
        match spans.last_mut() {
            Some(last) if a - last.1 <= 1.0 => last.1 = last.1.max(b),
            _ => spans.push((a, b)),
        }
    }
    spans
}

/// The timeline; what the operator did with it.
pub fn timeline_ui(ui: &mut Ui, input: &TimelineInput<'_>) -> Vec<TimelineAction> {
    let mut actions = Vec::new();
    let height = timeline_height(input.lanes.len());
    let (rect, response) =
        ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, theme::TILE_EMPTY);
    let axis = TimeAxis {
        from: input.from,
        to: input.to,
        left: rect.left() + LABEL_W,
        right: rect.right() - 6.0,
    };
    let track = Rect::from_x_y_ranges(axis.left..=axis.right, rect.y_range());
    let small = FontId::proportional(10.0);

    // Ruler.
    let ruler = Rect::from_min_max(rect.min, pos2(rect.right(), rect.top() + RULER_H));
    for (t, label) in ruler_ticks(&axis, input.tz, 90.0) {
        let x = axis.x_of(t);
        painter.line_segment(
            [pos2(x, ruler.bottom() - 5.0), pos2(x, rect.bottom())],
            Stroke::new(1.0, theme::CARD_STROKE),
        );
        painter.text(
            pos2(x + 3.0, ruler.top() + 2.0),
            Align2::LEFT_TOP,
            label,
            small.clone(),
            theme::MUTED,
        );
    }
    let zone = input
        .position
        .with_timezone(&input.tz)
        .format("%Z")
        .to_string();
    painter.text(
        pos2(rect.left() + 6.0, ruler.top() + 2.0),
        Align2::LEFT_TOP,
        format!("Time ({zone})"),
        small.clone(),
        theme::MUTED,
    );

    // Coverage, one row per camera.
    let mut y = ruler.bottom();
    let mut spans_drawn = 0;
    let row_h = coverage_h(input.lanes.len()) / input.lanes.len().max(1) as f32;
    for lane in input.lanes {
        let row = Rect::from_x_y_ranges(axis.left..=axis.right, y + 1.0..=y + row_h - 1.0);
        painter.rect_filled(row, 0.0, theme::TILE_BG);
        let spans = coverage_spans(&axis, lane.segments);
        spans_drawn += spans.len();
        for (a, b) in spans {
            painter.rect_filled(
                Rect::from_x_y_ranges(a..=b.max(a + 1.0), row.y_range()),
                0.0,
                theme::INFO,
            );
        }
        if row_h >= 8.0 {
            painter.text(
                pos2(rect.left() + 6.0, row.center().y),
                Align2::LEFT_CENTER,
                lane.name,
                small.clone(),
                theme::MUTED,
            );
        }
        y += row_h;
    }
    if input.lanes.is_empty() {
        y += coverage_h(0);
    }

    // Door events: lanes by kind, one mark per pixel column and lane.
    let first = input.marks.partition_point(|m| m.at < input.from);
    let last = input.marks.partition_point(|m| m.at <= input.to);
    let in_sight = &input.marks[first..last.max(first)];
    let marks_top = y;
    let lane_top = move |kind: MarkKind| {
        let i = MarkKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        marks_top + i as f32 * MARK_H
    };
    for kind in MarkKind::ALL {
        painter.text(
            pos2(rect.left() + 6.0, lane_top(kind) + MARK_H / 2.0),
            Align2::LEFT_CENTER,
            kind.label(),
            small.clone(),
            mark_color(kind),
        );
    }
    let mut last_col = [i32::MIN; 4];
    let mut marks_shown = 0;
    for m in in_sight {
        if input.doors.is_some_and(|d| !d.contains(&m.door)) {
            continue;
        }
        marks_shown += 1;
        let i = MarkKind::ALL.iter().position(|k| *k == m.kind).unwrap_or(0);
        let x = axis.x_of(m.at);
        let col = x as i32;
        if last_col[i] == col {
            continue;
        }
        last_col[i] = col;
        let top = lane_top(m.kind) + 1.0;
        painter.rect_filled(
            Rect::from_min_size(pos2(x - 1.0, top), vec2(2.5, MARK_H - 2.0)),
            0.0,
            mark_color(m.kind),
        );
    }
    y += MarkKind::ALL.len() as f32 * MARK_H;

    // Bookmarks: a flag at the start, a line over the range.
    painter.text(
        pos2(rect.left() + 6.0, y + BOOKMARK_H / 2.0),
        Align2::LEFT_CENTER,
        "Bookmarks",
        small.clone(),
        theme::MUTED,
    );
    let mut hovered_bookmark = None;
    let mut bookmarks_shown = 0;
    let pointer = response.hover_pos();
    for b in input.bookmarks {
        if b.end < input.from || b.start > input.to {
            continue;
        }
        bookmarks_shown += 1;
        let a = axis.x_of(b.start).max(axis.left);
        let e = axis.x_of(b.end).min(axis.right);
        let mid = y + BOOKMARK_H / 2.0;
        painter.line_segment(
            [pos2(a, mid), pos2(e.max(a + 1.0), mid)],
            Stroke::new(2.0, theme::PENDING),
        );
        painter.add(egui::Shape::convex_polygon(
            vec![
                pos2(a, y + 1.0),
                pos2(a + 7.0, mid),
                pos2(a, y + BOOKMARK_H - 1.0),
            ],
            theme::PENDING,
            Stroke::NONE,
        ));
        if pointer.is_some_and(|p| {
            (p.y - mid).abs() <= BOOKMARK_H / 2.0 && p.x >= a - 3.0 && p.x <= e.max(a + 8.0)
        }) {
            hovered_bookmark = Some(b);
        }
    }

    // Now, and the cursor with its time.
    if input.now >= input.from && input.now <= input.to {
        let x = axis.x_of(input.now);
        painter.line_segment(
            [pos2(x, ruler.bottom()), pos2(x, rect.bottom())],
            Stroke::new(1.0, theme::LOCKED),
        );
    }
    if input.position >= input.from && input.position <= input.to {
        let x = axis.x_of(input.position);
        painter.line_segment(
            [pos2(x, rect.top()), pos2(x, rect.bottom())],
            Stroke::new(2.0, theme::OVERLAY_TEXT),
        );
    }

    // What the pointer is over.
    if let Some(p) = pointer.filter(|p| track.contains(*p)) {
        let at = axis.time_at(p.x);
        let text = match hovered_bookmark {
            Some(b) if !b.note.is_empty() => format!("{} · {}\n{}", b.title, b.by, b.note),
            Some(b) => format!("{} · {}", b.title, b.by),
            None => at
                .with_timezone(&input.tz)
                .format("%a %d %b %H:%M:%S %Z")
                .to_string(),
        };
        painter.line_segment(
            [pos2(p.x, ruler.bottom()), pos2(p.x, rect.bottom())],
            Stroke::new(1.0, theme::TILE_HOVER),
        );
        response.clone().on_hover_text_at_pointer(text);
    }

    // For assistive technology (and tests): what the timeline shows.
    let summary = format!(
        "timeline: {} cameras, {spans_drawn} recorded spans, {marks_shown} door events, {bookmarks_shown} bookmarks, at {}",
        input.lanes.len(),
        input
            .position
            .with_timezone(&input.tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Slider, true, &summary));

    // Input.
    let mark_under = |p: Pos2| -> Option<Timestamp> {
        let lanes_top = lane_top(MarkKind::Granted);
        if p.y < lanes_top || p.y > lanes_top + MarkKind::ALL.len() as f32 * MARK_H {
            return None;
        }
        let i = ((p.y - lanes_top) / MARK_H) as usize;
        let kind = *MarkKind::ALL.get(i)?;
        let window = TimeDelta::milliseconds(
            (4.0 / (axis.right - axis.left).max(1.0) * axis.span_ms() as f32) as i64,
        );
        let at = axis.time_at(p.x);
        let a = input.marks.partition_point(|m| m.at < at - window);
        input.marks[a..]
            .iter()
            .take_while(|m| m.at <= at + window)
            .filter(|m| m.kind == kind && input.doors.is_none_or(|d| d.contains(&m.door)))
            .min_by_key(|m| (m.at - at).num_milliseconds().abs())
            .map(|m| m.at)
    };
    if response.clicked() {
        if let Some(p) = response
            .interact_pointer_pos()
            .filter(|p| track.contains(*p))
        {
            let at = mark_under(p).map_or_else(|| axis.time_at(p.x), |m| m - BEFORE_EVENT);
            actions.push(TimelineAction::Seek { at, exact: true });
        }
    } else if response.dragged_by(egui::PointerButton::Primary) {
        if let Some(p) = response.interact_pointer_pos() {
            let x = p.x.clamp(axis.left, axis.right);
            actions.push(TimelineAction::Seek {
                at: axis.time_at(x),
                exact: false,
            });
        }
    } else if response.drag_stopped_by(egui::PointerButton::Primary)
        && let Some(p) = response.interact_pointer_pos()
    {
        let x = p.x.clamp(axis.left, axis.right);
        actions.push(TimelineAction::Seek {
            at: axis.time_at(x),
            exact: true,
        });
    }
    if response.dragged_by(egui::PointerButton::Secondary) {
        let dx = response.drag_delta().x;
        if dx != 0.0 {
            let ms = -f64::from(dx) / f64::from((axis.right - axis.left).max(1.0)) * axis.span_ms();
            actions.push(TimelineAction::Pan(TimeDelta::milliseconds(ms as i64)));
        }
    }
    if response.hovered() {
        let (scroll, shift) = ui.input(|i| (i.smooth_scroll_delta, i.modifiers.shift));
        if shift || scroll.x != 0.0 {
            let d = if scroll.x != 0.0 { scroll.x } else { scroll.y };
            if d != 0.0 {
                let ms =
                    -f64::from(d) / f64::from((axis.right - axis.left).max(1.0)) * axis.span_ms();
                actions.push(TimelineAction::Pan(TimeDelta::milliseconds(ms as i64)));
            }
        } else if scroll.y != 0.0 {
            let center = pointer.map_or(input.position, |p| axis.time_at(p.x));
            let factor = (-f64::from(scroll.y) / 200.0).exp();
            actions.push(TimelineAction::Zoom { factor, center });
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;

    fn t(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn axis(from: i64, to: i64) -> TimeAxis {
        TimeAxis {
            from: t(from),
            to: t(to),
            left: 100.0,
            right: 1100.0,
        }
    }

    #[test]
    fn the_axis_maps_time_to_x_and_back() {
        let a = axis(0, 1000);
        assert_eq!(a.x_of(t(0)), 100.0);
        assert_eq!(a.x_of(t(500)), 600.0);
        for x in [100.0, 333.0, 1099.0] {
            let back = a.x_of(a.time_at(x));
            assert!((back - x).abs() < 0.01, "{x} → {back}");
        }
    }

    #[test]
    fn ticks_suit_the_zoom_from_seconds_to_weeks_and_align_on_local_time() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let minute = ruler_ticks(&axis(0, 60), berlin, 90.0);
        assert!(minute.len() >= 5 && minute.len() <= 12, "{minute:?}");
        assert!(minute.iter().all(|(t, _)| t.timestamp() % 5 == 0));
        let week = ruler_ticks(&axis(0, 7 * 86_400), berlin, 90.0);
        assert!(week.len() >= 3 && week.len() <= 12, "{week:?}");
        // Day ticks fall on local midnight, named by their day.
        for (t, label) in &week {
            assert_eq!(
                t.with_timezone(&berlin).format("%H:%M").to_string(),
                "00:00"
            );
            assert!(label.len() >= 9, "{label}");
        }
    }

    #[test]
    fn coverage_merges_touching_segments_and_keeps_gaps() {
        let seg = |id, a, b| SegmentRef {
            id,
            start: t(a),
            end: t(b),
            url: String::new(),
        };
        // A week of minute segments with one hour missing.
        let mut segments = Vec::new();
        for m in 0..(7 * 24 * 60) {
            if (600..660).contains(&m) {
                continue;
            }
            segments.push(seg(m, m * 60, m * 60 + 60));
        }
        let spans = coverage_spans(&axis(0, 7 * 86_400), &segments);
        assert_eq!(spans.len(), 2, "one gap: {spans:?}");
        let zoomed = coverage_spans(&axis(590 * 60, 670 * 60), &segments);
        assert_eq!(zoomed.len(), 2);
        assert!(
            zoomed[0].1 < zoomed[1].0 - 500.0,
            "the hour shows: {zoomed:?}"
        );
    }
}

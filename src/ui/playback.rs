//! A view in playback: the strip under its tiles (transport controls and
//! the timeline), the reading of the recordings it shows, and the hand-over
//! to live when playback catches up with now.
//!
//! Keys while the view is in playback (and no text field has the
//! keyboard): Space plays or pauses, `,` and `.` step a frame back and
//! forward, `L` goes live.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use egui::{Key, Modifiers, RichText, Ui};

use super::theme;
use super::timeline::{TimelineAction, TimelineInput, TimelineLane, timeline_height, timeline_ui};
use crate::domain::{CameraId, DoorId};
use crate::viewer::playback::RATES;
use crate::viewer::{AppState, CamerasView, Command, CommandSender, Playback};

/// The transport bar's height.
const TRANSPORT_H: f32 = 28.0;
/// Coverage is read again this often while a view plays back (new
/// segments finish every minute).
pub const RELOAD_EVERY: Duration = Duration::from_secs(20);
/// While the clock waits for a segment still being written, the
/// recordings are read again this often.
pub const WAITING_RELOAD: Duration = Duration::from_secs(3);

/// Where "Playback" starts: this long before now (the newest finished
/// segment ends up to a segment's length ago).
pub const START_BEFORE_NOW: TimeDelta = TimeDelta::minutes(2);

/// The strip's height for `cameras` camera rows.
pub fn strip_height(cameras: usize) -> f32 {
    TRANSPORT_H + timeline_height(cameras) + 8.0
}

/// The cameras on screen in `view`, in tile order, each once.
pub fn shown_cameras(state: &AppState, view: &CamerasView) -> Vec<CameraId> {
    if let Some(id) = view
        .single
        .as_ref()
        .filter(|id| state.site().camera(id).is_some())
    {
        return vec![id.clone()];
    }
    let ids: Vec<&CameraId> = state.site().cameras().iter().map(|c| &c.id).collect();
    let layout = view.layout();
    let tiles = layout.tile_count();
    let first = super::cameras::page_start(view.first, tiles, ids.len());
    let mut out: Vec<CameraId> = Vec::new();
    for cell in super::cameras::grid_cells(&ids, tiles, first, view.fill, &view.assigned)
        .into_iter()
        .flatten()
    {
        let id = ids[cell.camera];
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// The doors these cameras see.
pub fn doors_of(state: &AppState, cameras: &[CameraId]) -> Vec<DoorId> {
    state
        .site()
        .doors()
        .iter()
        .filter(|d| d.door.cameras.iter().any(|c| cameras.contains(c)))
        .map(|d| d.door.id.clone())
        .collect()
}

/// Puts `view` into playback from `at`.
pub fn start_playback(view: &mut CamerasView, at: crate::domain::Timestamp, now: Instant) {
    view.playback = Some(Playback::start(at, now));
}

/// The transport bar and the timeline under a view in playback; reads the
/// recordings it needs, and returns the view to live when playback reaches
/// now (or the operator asks).
pub fn playback_strip_ui(
    ui: &mut Ui,
    state: &AppState,
    view: &mut CamerasView,
    shown: &[CameraId],
    instant: Instant,
    commands: &CommandSender,
) {
    let Some(pb) = view.playback.as_mut() else {
        return;
    };
    let site_now = state.site_now();
    // Read what the timeline shows, now and then.
    if let Some((from, to)) = pb.recordings_to_read(shown, instant, RELOAD_EVERY) {
        let to = to.min(from + TimeDelta::days(31));
        commands.send(Command::LoadRecordings {
            cameras: shown.to_vec(),
            doors: doors_of(state, shown),
            from,
            to,
        });
        pb.asked_for(from, to, shown.to_vec(), instant);
    }
    let position = pb.position(instant);
    let recordings = &state.recordings;
    let linked: Vec<&CameraId> = shown
        .iter()
        .filter(|c| !pb.unlinked.contains(c.as_str()))
        .collect();
    let covered = linked.iter().any(|c| {
        recordings
            .segments(c)
            .iter()
            .any(|s| s.start <= position && position < s.end)
    });
    let end = recordings.end_of(linked.iter().copied());
    if covered {
        pb.was_covered = true;
        if pb.waiting {
            // The segment is there: the held clock runs again.
            pb.waiting = false;
            pb.set_paused(false, instant);
            pb.seek_to(position, true, instant);
        }
    }
    if recordings.loaded.is_some() && pb.reaches_live(position, end, site_now) {
        tracing::debug!("playback reached the present: live");
        view.playback = None;
        return;
    }
    // A moment of the last minute (an event just now): its segment is
    // still being written. Hold the clock there until it is served.
    let recent = site_now - position <= crate::viewer::playback::LIVE_WITHIN;
    if recordings.loaded.is_some()
        && !covered
        && !pb.was_covered
        && recent
        && end.is_none_or(|e| position >= e)
        && !pb.paused()
    {
        pb.waiting = true;
        pb.set_paused(true, instant);
    }
    // While it waits, the recordings are read again soon.
    if pb.waiting
        && pb
            .asked
            .as_ref()
            .is_some_and(|(_, _, at, _)| instant.saturating_duration_since(*at) >= WAITING_RELOAD)
    {
        pb.asked = None;
    }
    let frame_period = shown
        .first()
        .and_then(|c| state.site().camera(c))
        .map(|c| c.main.fps)
        .filter(|f| *f > 0)
        .map_or(TimeDelta::milliseconds(40), |f| {
            TimeDelta::microseconds(1_000_000 / i64::from(f))
        });
    let mut go_live = false;

    // Keys.
    if !ui.ctx().text_edit_focused() {
        let (space, back, forward, live) = ui.input_mut(|i| {
            (
                i.consume_key(Modifiers::NONE, Key::Space),
                i.consume_key(Modifiers::NONE, Key::Comma),
                i.consume_key(Modifiers::NONE, Key::Period),
                i.consume_key(Modifiers::NONE, Key::L),
            )
        });
        if space {
            let paused = pb.paused();
            pb.set_paused(!paused, instant);
        }
        if back {
            pb.step(-1, frame_period, instant);
        }
        if forward {
            pb.step(1, frame_period, instant);
        }
        go_live |= live;
    }

    // Transport.
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.set_min_height(TRANSPORT_H - 4.0);
        if ui
            .button("Frame -1")
            .on_hover_text("One frame back (,)")
            .clicked()
        {
            pb.step(-1, frame_period, instant);
        }
        let play = if pb.paused() { "Play" } else { "Pause" };
        if ui
            .button(play)
            .on_hover_text("Play or pause (Space)")
            .clicked()
        {
            let paused = pb.paused();
            pb.set_paused(!paused, instant);
        }
        if ui
            .button("Frame +1")
            .on_hover_text("One frame forward (.)")
            .clicked()
        {
            pb.step(1, frame_period, instant);
        }
        ui.separator();
        for rate in RATES {
            let label = rate_label(rate);
            let tip = if rate >= Playback::KEY_FRAMES_FROM {
                "key frames only: this fast, every frame cannot be decoded"
            } else {
                "every frame"
            };
            if ui
                .selectable_label((pb.rate() - rate).abs() < 1e-9, label)
                .on_hover_text(tip)
                .clicked()
            {
                // Crossing 4× the players seek again themselves (key
                // frames only, or every frame).
                pb.set_rate(rate, instant);
            }
        }
        ui.separator();
        bookmark_ui(ui, pb.position(instant), shown, commands);
        ui.separator();
        let tz = state.time_zone();
        let shown_at = pb.position(instant).with_timezone(&tz);
        ui.label(
            RichText::new(shown_at.format("%a %d %b %Y  %H:%M:%S%.3f %Z").to_string())
                .monospace()
                .strong(),
        );
        let behind = site_now - pb.position(instant);
        ui.label(RichText::new(format!("{} behind live", human_span(behind))).color(theme::MUTED));
        if pb.waiting {
            ui.label(
                RichText::new(
                    "the recording of this moment is being finished; it plays in a moment",
                )
                .color(theme::PENDING),
            );
        }
        if let Some(error) = &recordings.error {
            ui.label(RichText::new(format!("recordings: {error}")).color(theme::FAILED));
        }
    });

    // Timeline.
    let names: Vec<String> = shown
        .iter()
        .map(|id| {
            state
                .site()
                .camera(id)
                .map_or_else(|| id.to_string(), |c| c.name.clone())
        })
        .collect();
    let segments: Vec<_> = shown.iter().map(|c| recordings.segments(c)).collect();
    let lanes: Vec<TimelineLane<'_>> = names
        .iter()
        .zip(&segments)
        .map(|(name, segments)| TimelineLane { name, segments })
        .collect();
    let doors: HashSet<DoorId> = doors_of(state, shown).into_iter().collect();
    let input = TimelineInput {
        from: pb.from,
        to: pb.to,
        position: pb.position(instant),
        now: site_now,
        tz: state.time_zone(),
        lanes: &lanes,
        marks: &recordings.marks,
        doors: Some(&doors),
        bookmarks: &recordings.bookmarks,
    };
    for action in timeline_ui(ui, &input) {
        match action {
            TimelineAction::Seek { at, exact } => pb.seek_to(at, exact, instant),
            TimelineAction::Zoom { factor, center } => pb.zoom(factor, center),
            TimelineAction::Pan(delta) => pb.pan(delta),
        }
    }
    if go_live {
        view.playback = None;
    } else {
        // The clock moves: the next frame is due.
        ui.ctx().request_repaint_after(Duration::from_millis(40));
    }
}

/// How much a bookmark placed from the transport bar covers each side of
/// the position.
pub const BOOKMARK_AROUND: TimeDelta = TimeDelta::seconds(5);

/// "Bookmark…": a title and a note for the moment shown (5 s each side),
/// of the cameras on screen.
fn bookmark_ui(
    ui: &mut Ui,
    at: crate::domain::Timestamp,
    cameras: &[CameraId],
    commands: &CommandSender,
) {
    let id = ui.scope_id().with("bookmark form");
    let mut form: Option<(String, String, crate::domain::Timestamp)> =
        ui.data_mut(|d| d.get_temp(id)).unwrap_or_default();
    if ui
        .button("Bookmark…")
        .on_hover_text("Mark this moment of these cameras, with a title and a note")
        .clicked()
    {
        form = Some((String::new(), String::new(), at));
    }
    let mut close = false;
    if let Some((title, note, when)) = form.as_mut() {
        egui::Window::new("Bookmark")
            .collapsible(false)
            .resizable(false)
            .show(ui.ctx(), |ui| {
                ui.label(format!(
                    "{} cameras, 5 s each side of the moment shown",
                    cameras.len()
                ));
                let label = ui.label("Bookmark title");
                ui.text_edit_singleline(title).labelled_by(label.id);
                let label = ui.label("Bookmark note (optional)");
                ui.text_edit_multiline(note).labelled_by(label.id);
                ui.horizontal(|ui| {
                    let ok = !title.trim().is_empty();
                    if ui
                        .add_enabled(ok, egui::Button::new("Place bookmark"))
                        .on_disabled_hover_text("give it a title")
                        .clicked()
                    {
                        commands.send(Command::AddBookmark {
                            cameras: cameras.to_vec(),
                            from: *when - BOOKMARK_AROUND,
                            to: *when + BOOKMARK_AROUND,
                            title: title.trim().to_owned(),
                            note: note.trim().to_owned(),
                        });
                        close = true;
                    }
                    if ui.button("Cancel").clicked() {
                        close = true;
                    }
                });
            });
    }
    if close {
        form = None;
    }
    ui.data_mut(|d| d.insert_temp(id, form));
}

/// The width of a list row's "Play 5 s before" button.
const ROW_PLAY_W: f32 = 96.0;

/// A list row's "Play 5 s before": where its button is (or would be), and
/// whether it was clicked.
pub struct RowPlay {
    pub rect: egui::Rect,
    pub clicked: bool,
}

/// The "Play 5 s before" button of an event row `row` in a list: at the
/// right end of the row's visible width (a long row is clipped at the
/// panel's edge), drawn only while the pointer is over the row (it would
/// hide the row's words). The pointer is found by geometry alone, so the
/// button's own tooltip cannot make the row "not hovered". `label` names
/// it for assistive technology.
pub fn row_play_ui(
    ui: &mut Ui,
    row: egui::Rect,
    salt: impl std::hash::Hash + std::fmt::Debug,
    label: Option<String>,
) -> RowPlay {
    let r = egui::Rect::from_min_max(row.min, egui::pos2(ui.clip_rect().right(), row.bottom()));
    let rect = egui::Rect::from_min_size(
        egui::pos2(r.right() - ROW_PLAY_W, r.top()),
        egui::vec2(ROW_PLAY_W, r.height()),
    );
    let over = ui
        .input(|i| i.pointer.hover_pos())
        .is_some_and(|p| r.contains(p) && ui.clip_rect().contains(p));
    if !over {
        return RowPlay {
            rect,
            clicked: false,
        };
    }
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .id_salt(salt)
            .max_rect(rect)
            .layout(egui::Layout::right_to_left(egui::Align::Center)),
    );
    let play = child.small_button("Play 5 s before");
    if let Some(label) = label {
        play.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    }
    RowPlay {
        rect,
        clicked: play.clicked(),
    }
}

/// Playing `door`'s cameras from a few seconds before an event at `at`.
pub fn play_before(door: &DoorId, at: crate::domain::Timestamp) -> Command {
    Command::PlayDoorFrom {
        door: door.clone(),
        at: at - crate::viewer::playback::BEFORE_EVENT,
    }
}

/// `0.25×`, `1×`, `16×`.
pub fn rate_label(rate: f64) -> String {
    format!("{rate}×")
}

/// `3 s`, `4 min`, `2 h 5 min`, `3 d`.
pub fn human_span(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_an_operator_reads_them() {
        assert_eq!(rate_label(0.25), "0.25×");
        assert_eq!(rate_label(16.0), "16×");
        assert_eq!(human_span(TimeDelta::seconds(42)), "42 s");
        assert_eq!(human_span(TimeDelta::seconds(7_500)), "2 h 5 min");
        assert_eq!(human_span(TimeDelta::days(3)), "3 d 0 h");
    }
}

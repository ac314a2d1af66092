//! One video tile: the newest frame of a camera's stream through a texture
//! of its own, letterboxed to the tile, with its overlays (camera name, the
//! frame's capture time in the site's zone, the stream's status, and the
//! optional stats). While the stream connects with no frame yet, the
//! camera's still picture stands in.
//!
//! Drawing only: frames come from a
//! [`TileSource`](crate::viewer::TileSource) (the video engine, or a
//! stand-in in tests), and a frame is uploaded to its texture only when it
//! is a new one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use egui::text::{LayoutJob, TextWrapping};
use egui::{
    Align2, Color32, ColorImage, FontId, Pos2, Rect, Response, Sense, Stroke, StrokeKind,
    TextureHandle, TextureId, TextureOptions, Ui, Vec2, pos2, vec2,
};

use super::{format, theme};
use crate::domain::{Camera, CameraId, Timestamp};
use crate::viewer::{StillImage, StreamChoice, TileFrame, TileStats, TileStatus, TileView};

/// A frame captured further behind now than this gets the red marker.
pub const LATE_AFTER_MS: i64 = 2_000;
/// Space between a tile's edge and its overlays, in points.
const INSET: f32 = 4.0;

/// The clocks a tile reads: the site's time (capture times are in it) and
/// the monotonic clock (stall and retry countdowns).
#[derive(Debug, Clone, Copy)]
pub struct TileClock {
    pub site_now: Timestamp,
    pub instant: Instant,
    pub tz: Tz,
}

/// What one drawn tile showed this frame (for the repaint pacing and the
/// stats log).
#[derive(Debug, Clone)]
pub struct TileSummary {
    pub key: String,
    pub camera: CameraId,
    pub stream: StreamChoice,
    /// The overlay's status word, e.g. `playing`, `connecting`.
    pub status: String,
    pub stats: TileStats,
    /// Distinct frames this tile has put on screen since it appeared.
    pub frames_shown: u64,
    /// The frame rate of the stream it plays, as the camera announces it.
    pub stream_fps: u32,
    /// When the camera captured the frame on screen, if known.
    pub capture_time: Option<chrono::DateTime<chrono::Utc>>,
    /// A picture (a frame, or the camera's still) is on the tile.
    pub picture: bool,
}

/// What the tiles need from the next frames: when to repaint for a
/// countdown, and how often at most (the fastest source on screen).
#[derive(Debug, Clone, Default)]
pub struct FrameSummary {
    pub tiles: Vec<TileSummary>,
    /// The soonest a shown text changes by the clock alone (a countdown, a
    /// capture time turning late).
    pub repaint_in: Option<Duration>,
}

impl FrameSummary {
    /// The shortest frame interval among the streams on screen.
    pub fn min_frame_interval(&self) -> Option<Duration> {
        self.tiles
            .iter()
            .filter(|t| t.stream_fps > 0)
            .map(|t| Duration::from_secs_f64(1.0 / f64::from(t.stream_fps)))
            .min()
    }

    fn repaint_within(&mut self, wait: Duration) {
        self.repaint_in = Some(self.repaint_in.map_or(wait, |w| w.min(wait)));
    }
}

struct Uploaded {
    /// The number of the frame in the texture (unique in the process, also
    /// across stream switches), so that a frame is never uploaded twice.
    /// Not the frame itself: holding it would keep a second picture per tile
    /// alive once the mailbox has a newer one.
    number: u64,
    handle: TextureHandle,
    shown: u64,
}

/// The tiles' textures, one per tile key, owned by the app. A texture is
/// replaced (`TextureHandle::set`) only when its tile has a new frame; the
/// textures of tiles not drawn in a frame are freed at its end.
#[derive(Default)]
pub struct TileTextures {
    tiles: HashMap<String, Uploaded>,
    stills: HashMap<CameraId, (Arc<StillImage>, TextureHandle)>,
    drawn: HashSet<String>,
    uploads: u64,
    summary: FrameSummary,
}

impl TileTextures {
    /// Call before drawing the tiles of a frame.
    pub fn begin_frame(&mut self) {
        self.drawn.clear();
        self.summary = FrameSummary::default();
    }

    /// Call after drawing the tiles of a frame: frees the textures of tiles
    /// that were not drawn, and returns what the tiles need.
    pub fn end_frame(&mut self) -> &FrameSummary {
        let drawn = &self.drawn;
        self.tiles.retain(|key, _| drawn.contains(key));
        &self.summary
    }

    /// How many frame uploads happened in all (each a new frame).
    pub fn uploads(&self) -> u64 {
        self.uploads
    }

    /// How many tile textures are alive.
    pub fn live_textures(&self) -> usize {
        self.tiles.len()
    }

    /// The texture showing `frame` for tile `key`, uploading it only when it
    /// is not the frame already there. None when the frame's buffer does not
    /// match its size.
    fn frame_texture(
        &mut self,
        ctx: &egui::Context,
        key: &str,
        frame: &TileFrame,
    ) -> Option<(TextureId, u64)> {
        self.drawn.insert(key.to_owned());
        if let Some(up) = self.tiles.get_mut(key) {
            if up.number == frame.number {
                return Some((up.handle.id(), up.shown));
            }
            let image = color_image(frame.width, frame.height, &frame.rgba)?;
            up.handle.set(image, TextureOptions::LINEAR);
            up.number = frame.number;
            up.shown += 1;
            self.uploads += 1;
            return Some((up.handle.id(), up.shown));
        }
        let image = color_image(frame.width, frame.height, &frame.rgba)?;
        let handle = ctx.load_texture(format!("tile {key}"), image, TextureOptions::LINEAR);
        let id = handle.id();
        self.tiles.insert(
            key.to_owned(),
            Uploaded {
                number: frame.number,
                handle,
                shown: 1,
            },
        );
        self.uploads += 1;
        Some((id, 1))
    }

    /// The texture of a camera's still, uploaded once per picture.
    fn still_texture(
        &mut self,
        ctx: &egui::Context,
        camera: &CameraId,
        still: &Arc<StillImage>,
    ) -> Option<TextureId> {
        if let Some((have, handle)) = self.stills.get(camera)
            && Arc::ptr_eq(have, still)
        {
            return Some(handle.id());
        }
        let image = color_image(still.width, still.height, &still.rgba)?;
        let handle = ctx.load_texture(format!("still {camera}"), image, TextureOptions::LINEAR);
        let id = handle.id();
        self.stills.insert(camera.clone(), (still.clone(), handle));
        Some(id)
    }
}

/// An opaque RGBA buffer as an egui image; None when the sizes disagree.
fn color_image(width: u32, height: u32, rgba: &[u8]) -> Option<ColorImage> {
    let (w, h) = (usize::try_from(width).ok()?, usize::try_from(height).ok()?);
    if w == 0 || h == 0 || w.checked_mul(h)?.checked_mul(4)? != rgba.len() {
        return None;
    }
    // Video is opaque: premultiplied and straight alpha are the same, and
    // this is a plain copy.
    Some(ColorImage::from_rgba_premultiplied([w, h], rgba))
}

/// The largest rectangle of `aspect` (width / height) centred in `outer`.
pub fn letterbox(outer: Rect, aspect: f32) -> Rect {
    if !(aspect.is_finite() && aspect > 0.0) || outer.width() <= 0.0 || outer.height() <= 0.0 {
        return outer;
    }
    let width = outer.width().min(outer.height() * aspect);
    Rect::from_center_size(outer.center(), vec2(width, width / aspect))
}

/// The parts of `outer` that `inner` (centred in it) leaves uncovered: up to
/// two bars, above and below or left and right.
pub fn letterbox_bars(outer: Rect, inner: Rect) -> Vec<Rect> {
    let mut bars = Vec::with_capacity(2);
    let mut push = |r: Rect| {
        if r.width() > 0.0 && r.height() > 0.0 {
            bars.push(r);
        }
    };
    if inner.height() < outer.height() {
        push(Rect::from_min_max(
            outer.min,
            pos2(outer.max.x, inner.min.y),
        ));
        push(Rect::from_min_max(
            pos2(outer.min.x, inner.max.y),
            outer.max,
        ));
    } else {
        push(Rect::from_min_max(
            outer.min,
            pos2(inner.min.x, outer.max.y),
        ));
        push(Rect::from_min_max(
            pos2(inner.max.x, outer.min.y),
            outer.max,
        ));
    }
    bars
}

/// The width / height of a camera's picture: its main stream's, else its
/// sub stream's, else 16:9 (not probed yet).
pub fn camera_aspect(camera: &Camera) -> f32 {
    [&camera.main, &camera.sub]
        .into_iter()
        .find(|s| s.width > 0 && s.height > 0)
        .map_or(16.0 / 9.0, |s| s.width as f32 / s.height as f32)
}

/// The pixel size to ask the engine for: the letterboxed picture inside
/// `rect`, in physical pixels.
pub fn tile_request_px(rect: Rect, aspect: f32, pixels_per_point: f32) -> [u32; 2] {
    let size = letterbox(rect, aspect).size() * pixels_per_point;
    let px = |v: f32| {
        if v.is_finite() && v >= 2.0 {
            v.round().min(16_384.0) as u32
        } else {
            2
        }
    };
    [px(size.x), px(size.y)]
}

/// How serious an overlay text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Error,
}

/// A status overlay: its text, how it reads, and when it changes by the
/// clock alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOverlay {
    pub text: String,
    pub severity: Severity,
    pub changes_in: Option<Duration>,
}

/// What the tile says about its stream; None while it plays. `last_frame`
/// is when the frame on screen arrived.
pub fn status_overlay(
    status: &TileStatus,
    last_frame: Option<Instant>,
    now: Instant,
) -> Option<StatusOverlay> {
    let info = |text: String, changes_in: Option<Duration>| StatusOverlay {
        text,
        severity: Severity::Info,
        changes_in,
    };
    match status {
        TileStatus::Playing => None,
        // Plain text, no spinner: an animation would repaint every frame.
        TileStatus::Idle | TileStatus::Connecting => Some(info("connecting…".into(), None)),
        TileStatus::NoRecording => Some(info("no recording at this time".into(), None)),
        TileStatus::Stalled { since } => {
            let from = last_frame.map_or(*since, |f| f.min(*since));
            let gone = now.saturating_duration_since(from);
            Some(info(
                format!("no video for {} s", gone.as_secs()),
                Some(to_next_second(gone)),
            ))
        }
        TileStatus::Reconnecting {
            attempt,
            retry_at,
            reason,
        } => {
            let left = retry_at.saturating_duration_since(now);
            let head = if left.is_zero() {
                format!("reconnecting (attempt {attempt})…")
            } else {
                let secs = left.as_millis().div_ceil(1000);
                format!("reconnecting: retry in {secs} s")
            };
            let changes_in = (!left.is_zero()).then(|| {
                let into = Duration::from_nanos((left.as_nanos() % 1_000_000_000) as u64);
                if into.is_zero() {
                    Duration::from_secs(1)
                } else {
                    into
                }
            });
            let text = if reason.is_empty() {
                head
            } else {
                format!("{head}\n{reason}")
            };
            Some(info(text, changes_in))
        }
        TileStatus::Error(e) => Some(StatusOverlay {
            text: e.text.clone(),
            severity: Severity::Error,
            changes_in: None,
        }),
    }
}

/// The word for a status, for the stats log and accessibility.
pub fn status_word(status: &TileStatus) -> &'static str {
    match status {
        TileStatus::Idle => "idle",
        TileStatus::Connecting => "connecting",
        TileStatus::Playing => "playing",
        TileStatus::NoRecording => "no recording",
        TileStatus::Stalled { .. } => "stalled",
        TileStatus::Reconnecting { .. } => "reconnecting",
        TileStatus::Error(_) => "error",
    }
}

fn to_next_second(elapsed: Duration) -> Duration {
    let into = Duration::from_nanos((elapsed.as_nanos() % 1_000_000_000) as u64);
    Duration::from_secs(1)
        .saturating_sub(into)
        .max(Duration::from_millis(10))
}

/// The capture-time overlay: `10:42:07 CET`, whether it is late (more than
/// [`LATE_AFTER_MS`] behind `now`), and when it would turn late.
pub fn capture_overlay(
    capture: Timestamp,
    now: Timestamp,
    tz: Tz,
) -> (String, bool, Option<Duration>) {
    let behind_ms = (now - capture).num_milliseconds();
    let late = behind_ms > LATE_AFTER_MS;
    let turns_late = (!late).then(|| {
        let ms = u64::try_from(LATE_AFTER_MS - behind_ms + 50).unwrap_or(0);
        Duration::from_millis(ms)
    });
    (format::site_time(capture, tz), late, turns_late)
}

/// The stats overlay's text.
pub fn stats_text(stats: &TileStats, stream: StreamChoice) -> String {
    let stream = match stream {
        StreamChoice::Main => "main",
        StreamChoice::Sub => "sub",
    };
    let latency = stats.latency_ms.map_or_else(
        || "latency ?".to_owned(),
        |ms| format!("latency {ms:.0} ms"),
    );
    format!(
        "{:.1}/{:.1} fps · decode {:.1} ms\ndropped {} · {:.0} kbit/s\n{}×{} {stream} · {latency}",
        stats.delivered_fps,
        stats.source_fps,
        stats.decode_ms,
        stats.dropped_frames,
        stats.bitrate_kbps,
        stats.width,
        stats.height,
    )
}

/// The stream's facts for the stats overlay: codec, size and rate as the
/// site knows them, and whether they were probed.
pub fn stream_facts(camera: &Camera, stream: StreamChoice) -> String {
    let info = match stream {
        StreamChoice::Main => &camera.main,
        StreamChoice::Sub => &camera.sub,
    };
    let fps = if info.fps_exact > 0.0 {
        info.fps_exact
    } else {
        f64::from(info.fps)
    };
    let codec = if info.codec.is_empty() {
        "codec ?"
    } else {
        info.codec.as_str()
    };
    let source = if info.probed { "probed" } else { "configured" };
    format!(
        "{codec} {}×{} @ {fps:.2} fps ({source})",
        info.width, info.height
    )
}

/// What to draw in one tile.
pub struct TileInput<'a> {
    pub key: &'a str,
    pub camera: &'a Camera,
    pub view: &'a TileView,
    pub still: Option<&'a Arc<StillImage>>,
    pub show_stats: bool,
    /// Recorded video: the time shown is the recording's, with its date,
    /// never "late".
    pub recorded: bool,
}

/// Draws one tile into `rect`: the newest frame (or the still while none
/// has come), letterboxed, and its overlays. The response senses clicks
/// (a double-click opens the single-camera view).
pub fn video_tile_ui(
    ui: &mut Ui,
    rect: Rect,
    tile: &TileInput<'_>,
    textures: &mut TileTextures,
    clock: &TileClock,
) -> Response {
    let TileInput {
        key,
        camera,
        view,
        still,
        show_stats,
        recorded,
    } = *tile;
    let response = ui.interact(rect, egui::Id::unique(("video tile", key)), Sense::click());
    let painter = ui.painter_at(rect);

    let mut frames_shown = 0;
    let picture = match &view.frame {
        Some(frame) => textures
            .frame_texture(ui.ctx(), key, frame)
            .map(|(id, shown)| {
                frames_shown = shown;
                (id, frame.width, frame.height)
            }),
        None => still.and_then(|s| {
            textures
                .still_texture(ui.ctx(), &camera.id, s)
                .map(|id| (id, s.width, s.height))
        }),
    };
    let has_picture = picture.is_some();
    match picture {
        Some((id, width, height)) => {
            let shown = letterbox(rect, width as f32 / height.max(1) as f32);
            // Black only where the picture is not: each pixel filled twice
            // costs twice under software rendering.
            for bar in letterbox_bars(rect, shown) {
                painter.rect_filled(bar, 0.0, theme::TILE_BG);
            }
            let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
            painter.image(id, shown, uv, Color32::WHITE);
        }
        None => {
            painter.rect_filled(rect, 0.0, theme::TILE_BG);
        }
    }

    let max_text_w = (rect.width() - 2.0 * INSET).max(8.0);
    // The camera's name, top left.
    let name = overlay_galley(ui, &camera.name, FontId::proportional(13.0), max_text_w, 1);
    let name_rect = boxed_text(&painter, rect.left_top() + vec2(INSET, INSET), name);

    // The capture time of the picture on screen, bottom left.
    let mut summary_wait: Option<Duration> = None;
    if let Some(capture) = view.frame.as_ref().and_then(|f| f.capture_time) {
        let (text, late, turns_late) = if recorded {
            let at = capture.with_timezone(&clock.tz);
            (
                at.format("PLAYBACK %d %b %H:%M:%S%.3f %Z").to_string(),
                false,
                None,
            )
        } else {
            capture_overlay(capture, clock.site_now, clock.tz)
        };
        summary_wait = turns_late;
        let galley = overlay_galley(ui, &text, FontId::monospace(12.0), max_text_w - 14.0, 1);
        let h = galley.size().y + 4.0;
        let mut at = pos2(rect.left() + INSET, rect.bottom() - INSET - h);
        if late {
            let dot = pos2(at.x + 5.0, at.y + h / 2.0);
            painter.circle_filled(dot, 5.0, theme::VIDEO_LATE);
            at.x += 14.0;
        }
        boxed_text(&painter, at, galley);
    }

    // The stream's status, centred.
    let last_frame = view.frame.as_ref().map(|f| f.arrived);
    let overlay = status_overlay(&view.status, last_frame, clock.instant);
    if let Some(o) = &overlay {
        let color = match o.severity {
            Severity::Info => theme::OVERLAY_TEXT,
            Severity::Error => theme::VIDEO_ERROR,
        };
        let galley = ui.painter().layout(
            o.text.clone(),
            FontId::proportional(14.0),
            color,
            (rect.width() - 4.0 * INSET).max(8.0),
        );
        let at = Align2::CENTER_CENTER
            .anchor_size(rect.center(), galley.size())
            .min;
        boxed_text(&painter, at, galley);
        if let Some(wait) = o.changes_in {
            summary_wait = Some(summary_wait.map_or(wait, |w| w.min(wait)));
        }
    }

    // The stats, under the name.
    let stats = show_stats.then(|| {
        format!(
            "{}\n{}",
            stats_text(&view.stats, view.stream),
            stream_facts(camera, view.stream)
        )
    });
    if let Some(text) = &stats {
        let galley = overlay_galley(ui, text, FontId::monospace(11.0), max_text_w, 4);
        boxed_text(
            &painter,
            pos2(name_rect.left(), name_rect.bottom() + 2.0),
            galley,
        );
    }

    if response.hovered() {
        painter.rect_stroke(
            rect.shrink(0.5),
            0.0,
            Stroke::new(1.0, theme::TILE_HOVER),
            StrokeKind::Inside,
        );
    }

    let word = overlay
        .as_ref()
        .map_or_else(|| status_word(&view.status).to_owned(), |o| o.text.clone());
    let mut label = format!("camera {}: {}", camera.name, word.replace('\n', "; "));
    if let Some(text) = &stats {
        label.push_str("; stats: ");
        label.push_str(&text.replace('\n', " · "));
    }
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &label));

    if let Some(wait) = summary_wait {
        textures.summary.repaint_within(wait);
    }
    let stream_fps = match view.stream {
        StreamChoice::Main => camera.main.fps,
        StreamChoice::Sub => camera.sub.fps,
    };
    textures.summary.tiles.push(TileSummary {
        key: key.to_owned(),
        camera: camera.id.clone(),
        stream: view.stream,
        status: status_word(&view.status).to_owned(),
        stats: view.stats.clone(),
        frames_shown,
        stream_fps,
        capture_time: if frames_shown > 0 {
            view.frame.as_ref().and_then(|f| f.capture_time)
        } else {
            None
        },
        picture: has_picture,
    });
    response
}

/// One or a few lines of overlay text, cut with `…` where too long.
fn overlay_galley(
    ui: &Ui,
    text: &str,
    font: FontId,
    max_width: f32,
    max_rows: usize,
) -> Arc<egui::Galley> {
    let mut job = LayoutJob::simple(text.to_owned(), font, theme::OVERLAY_TEXT, max_width);
    job.wrap = TextWrapping {
        max_rows,
        break_anywhere: true,
        ..TextWrapping::truncate_at_width(max_width)
    };
    ui.painter().layout_job(job)
}

/// Paints `galley` at `at` on a dark box; returns the box.
fn boxed_text(painter: &egui::Painter, at: Pos2, galley: Arc<egui::Galley>) -> Rect {
    let pad = Vec2::new(3.0, 2.0);
    let rect = Rect::from_min_size(at, galley.size() + 2.0 * pad);
    painter.rect_filled(rect, 2.0, theme::OVERLAY_BG);
    painter.galley(at + pad, galley, theme::OVERLAY_TEXT);
    rect
}

/// Draws an empty grid cell.
pub fn empty_tile_ui(ui: &Ui, rect: Rect) {
    ui.painter().rect_filled(rect, 0.0, theme::TILE_EMPTY);
    ui.painter().text(
        rect.center(),
        Align2::CENTER_CENTER,
        "no camera",
        FontId::proportional(13.0),
        theme::MUTED,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorKind;
    use crate::viewer::TileError;

    #[test]
    fn letterbox_keeps_the_aspect_and_centres() {
        let outer = Rect::from_min_size(pos2(0.0, 0.0), vec2(400.0, 400.0));
        let r = letterbox(outer, 16.0 / 9.0);
        assert!((r.width() - 400.0).abs() < 0.01);
        assert!((r.height() - 225.0).abs() < 0.01);
        assert!((r.center().y - 200.0).abs() < 0.01);
        let tall = Rect::from_min_size(pos2(10.0, 0.0), vec2(1000.0, 90.0));
        let r = letterbox(tall, 16.0 / 9.0);
        assert!((r.height() - 90.0).abs() < 0.01);
        assert!((r.width() - 160.0).abs() < 0.01);
        assert!((r.center().x - 510.0).abs() < 0.01);
        assert_eq!(letterbox(outer, f32::NAN), outer);
        assert_eq!(letterbox(outer, 0.0), outer);
    }

    #[test]
    fn bars_cover_what_the_picture_leaves() {
        let outer = Rect::from_min_size(pos2(0.0, 0.0), vec2(400.0, 400.0));
        let inner = letterbox(outer, 16.0 / 9.0);
        let bars = letterbox_bars(outer, inner);
        assert_eq!(bars.len(), 2);
        let area: f32 = bars.iter().map(|b| b.area()).sum::<f32>() + inner.area();
        assert!((area - outer.area()).abs() < 0.5, "{area}");
        assert!(bars.iter().all(|b| !b.intersects(inner.shrink(0.01))));
        let wide = Rect::from_min_size(pos2(0.0, 0.0), vec2(1000.0, 90.0));
        let bars = letterbox_bars(wide, letterbox(wide, 16.0 / 9.0));
        assert_eq!(bars.len(), 2);
        assert!(bars.iter().all(|b| (b.height() - 90.0).abs() < 0.01));
        assert!(letterbox_bars(outer, outer).is_empty());
    }

    #[test]
    fn request_px_is_the_letterboxed_picture_in_pixels() {
        let rect = Rect::from_min_size(pos2(0.0, 0.0), vec2(300.0, 200.0));
        assert_eq!(tile_request_px(rect, 16.0 / 9.0, 1.0), [300, 169]);
        assert_eq!(tile_request_px(rect, 16.0 / 9.0, 2.0), [600, 338]);
        let none = Rect::from_min_size(pos2(0.0, 0.0), vec2(0.0, 0.0));
        assert_eq!(tile_request_px(none, 16.0 / 9.0, 1.0), [2, 2]);
    }

    #[test]
    fn status_overlay_table() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(status_overlay(&TileStatus::Playing, Some(t0), at(10)), None);
        let c = status_overlay(&TileStatus::Connecting, None, t0).expect("connecting");
        assert_eq!(c.text, "connecting…");
        assert_eq!(c.changes_in, None, "no animation, no repaint");
        // Stalled: counted from the last frame on screen.
        let s = status_overlay(
            &TileStatus::Stalled { since: at(3_000) },
            Some(t0),
            at(4_250),
        )
        .expect("stalled");
        assert_eq!(s.text, "no video for 4 s");
        assert_eq!(s.changes_in, Some(Duration::from_millis(750)));
        // Reconnecting: a countdown, rounded up, with the reason.
        let r = TileStatus::Reconnecting {
            attempt: 2,
            retry_at: at(5_000),
            reason: "connection refused".into(),
        };
        let o = status_overlay(&r, Some(t0), at(2_600)).expect("reconnecting");
        assert_eq!(o.text, "reconnecting: retry in 3 s\nconnection refused");
        assert_eq!(o.changes_in, Some(Duration::from_millis(400)));
        let o = status_overlay(&r, Some(t0), at(6_000)).expect("reconnecting");
        assert_eq!(o.text, "reconnecting (attempt 2)…\nconnection refused");
        assert_eq!(o.changes_in, None);
        // Errors read as the engine words them.
        let unauthorized = TileError {
            kind: ErrorKind::Unauthenticated,
            text: "camera refused the credentials".into(),
        };
        let e = status_overlay(&TileStatus::Error(unauthorized), None, t0).expect("error");
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.text, "camera refused the credentials");
    }

    #[test]
    fn capture_time_turns_red_after_two_seconds() {
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let capture: Timestamp = "2026-11-22T09:42:07Z".parse().expect("time");
        let (text, late, turns) = capture_overlay(
            capture,
            capture + chrono::Duration::milliseconds(500),
            berlin,
        );
        assert_eq!(text, "10:42:07 CET");
        assert!(!late);
        assert_eq!(turns, Some(Duration::from_millis(1_550)));
        let (_, late, turns) = capture_overlay(
            capture,
            capture + chrono::Duration::milliseconds(2_001),
            berlin,
        );
        assert!(late);
        assert_eq!(turns, None);
    }

    #[test]
    fn stats_text_names_every_figure() {
        let stats = TileStats {
            delivered_fps: 24.96,
            source_fps: 25.0,
            decode_ms: 0.84,
            dropped_frames: 3,
            bitrate_kbps: 512.4,
            width: 640,
            height: 360,
            latency_ms: Some(35.2),
            seek_ms: None,
        };
        assert_eq!(
            stats_text(&stats, StreamChoice::Sub),
            "25.0/25.0 fps · decode 0.8 ms\ndropped 3 · 512 kbit/s\n640×360 sub · latency 35 ms"
        );
        let unknown = TileStats::default();
        assert!(stats_text(&unknown, StreamChoice::Main).ends_with("main · latency ?"));
    }

    #[test]
    fn color_image_checks_the_buffer() {
        assert!(color_image(2, 2, &[255; 16]).is_some());
        assert!(color_image(2, 2, &[255; 15]).is_none());
        assert!(color_image(0, 2, &[]).is_none());
    }
}

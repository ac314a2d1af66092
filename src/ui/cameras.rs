//! The "Cameras" view: the site's cameras live in a layout of tiles filling
//! the central area (1×1, 2×2, 3×3, 4×4, or large tiles plus small: 1+5,
//! 1+7, 2+8; picked on the toolbar or with the keys 1–7), paged when there
//! are more cameras than tiles; a camera dragged from the camera tree onto a
//! tile stays there in place of the paged one. A double-click on a tile
//! opens it alone (main stream), and Escape or "Back to grid" returns. Tiles
//! are asked for only while shown, so the players of hidden tiles stop.
//! Under the pointer a tile shows a toolbar in its top-right corner:
//! Snapshot (the frame to a PNG, written by the worker), Stats (this tile's
//! overlay) and Close (a placed camera goes back to the paged one; a paged
//! one leaves the view until the page or layout changes).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use egui::{
    Align, Key, Layout, Modifiers, Rect, RichText, Sense, Stroke, StrokeKind, Ui, pos2, vec2,
};

use super::theme;
use super::video_tile::{
    TileClock, TileInput, TileTextures, camera_aspect, empty_tile_ui, tile_request_px,
    video_tile_ui,
};
use crate::domain::{Camera, CameraId, CameraState, ErrorKind};
use crate::viewer::{
    AppState, CamerasView, Command, CommandSender, SnapshotFrame, StreamChoice, TileError,
    TilePlayback, TileRequest, TileSource, TileStatus, TileView, ViewLayout,
};

/// The keys that pick the layouts of [`ViewLayout::ALL`], in order.
const LAYOUT_KEYS: [Key; 7] = [
    Key::Num1,
    Key::Num2,
    Key::Num3,
    Key::Num4,
    Key::Num5,
    Key::Num6,
    Key::Num7,
];

/// Space between tiles, in points.
const GAP: f32 = 2.0;

/// Where the tiles' frames come from.
pub enum VideoFeed<'a> {
    /// The video engine (or a stand-in).
    Live(&'a dyn TileSource),
    /// No video: why, one line each (e.g. a missing GStreamer element and the
    /// package that has it).
    Unavailable(&'a [String]),
}

/// What the camera view needs besides the state.
pub struct VideoUi<'a> {
    pub feed: VideoFeed<'a>,
    pub textures: &'a mut TileTextures,
    pub instant: Instant,
    /// Added to every tile key of the grid: a detached window's grid keeps
    /// players and textures of its own (empty for the docked view).
    pub key_suffix: String,
}

/// One cell of the grid: the camera in it and its tile key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub camera: usize,
    pub key: String,
}

/// The cells of a layout of `tiles` tiles over the cameras `ids`, from
/// camera `first`; None for an empty cell. A tile's key is its camera's id
/// (so a camera keeps its player when the layout changes, and its picture
/// when it goes to or from the single view); a repeat in fill mode adds
/// `#n`. A camera `assigned` to a tile (dropped there) takes the place of
/// the paged one, keyed `id@tile`; one the site no longer has is ignored.
pub fn grid_cells(
    ids: &[&CameraId],
    tiles: usize,
    first: usize,
    fill: bool,
    assigned: &BTreeMap<usize, CameraId>,
) -> Vec<Option<Cell>> {
    let n = ids.len();
    (0..tiles)
        .map(|i| {
            if let Some(camera) = assigned
                .get(&i)
                .and_then(|id| ids.iter().position(|c| *c == id))
            {
                return Some(Cell {
                    camera,
                    key: format!("{}@{i}", ids[camera]),
                });
            }
            let index = first + i;
            if n == 0 || (!fill && index >= n) {
                return None;
            }
            let camera = index % n;
            let round = index / n;
            let key = if round == 0 {
                ids[camera].to_string()
            } else {
                format!("{}#{round}", ids[camera])
            };
            Some(Cell { camera, key })
        })
        .collect()
}

/// The first camera of the page that shows camera `first` with `tiles`
/// tiles a page over `cameras` cameras (0 when they all fit).
pub fn page_start(first: usize, tiles: usize, cameras: usize) -> usize {
    if tiles == 0 || cameras <= tiles {
        return 0;
    }
    (first.min(cameras - 1) / tiles) * tiles
}

/// The rectangles of `layout`'s tiles filling `area`, in its tile order
/// (the large tiles first), [`GAP`] apart.
pub fn tile_rects(layout: ViewLayout, area: Rect) -> Vec<Rect> {
    let n = layout.cells() as f32;
    let w = ((area.width() - GAP * (n - 1.0)) / n).max(1.0);
    let h = ((area.height() - GAP * (n - 1.0)) / n).max(1.0);
    layout
        .tiles()
        .iter()
        .map(|t| {
            let span = t.span as f32;
            let min = pos2(
                area.left() + t.col as f32 * (w + GAP),
                area.top() + t.row as f32 * (h + GAP),
            );
            Rect::from_min_size(
                min,
                vec2(span * w + (span - 1.0) * GAP, span * h + (span - 1.0) * GAP),
            )
        })
        .collect()
}

/// The camera view; with `menu`, its toolbar has the Views menu (the
/// docked view has it, a detached window does not).
pub fn cameras_ui(
    ui: &mut Ui,
    state: &AppState,
    view: &mut CamerasView,
    video: &mut VideoUi<'_>,
    commands: &CommandSender,
    menu: Option<&mut super::views::ViewsMenu<'_>>,
) {
    if let Some(id) = &view.single
        && state.site().camera(id).is_none()
    {
        view.single = None;
    }
    if view.single.is_some() && ui.input(|i| i.key_pressed(Key::Escape)) {
        view.single = None;
    }
    layout_keys(ui, view);
    toolbar_ui(ui, state, view, menu);
    ui.add_space(4.0);

    let source = match &video.feed {
        VideoFeed::Live(source) => *source,
        VideoFeed::Unavailable(why) => {
            diagnostics_ui(ui, why);
            return;
        }
    };
    if state.site().cameras().is_empty() {
        ui.label(RichText::new("This site has no cameras").color(theme::MUTED));
        return;
    }
    // The cameras on screen matter only to a view in playback (its strip).
    let shown = view
        .playback
        .is_some()
        .then(|| super::playback::shown_cameras(state, view));
    let strip = shown
        .as_ref()
        .map_or(0.0, |s| super::playback::strip_height(s.len()));
    let avail = ui.available_size();
    let (area, _) =
        ui.allocate_exact_size(vec2(avail.x, (avail.y - strip).max(60.0)), Sense::hover());
    if let Some(shown) = &shown {
        // Before the tiles: a seek on the timeline shows this frame.
        super::playback::playback_strip_ui(ui, state, view, shown, video.instant, commands);
    }
    let clock = TileClock {
        site_now: state.site_now(),
        instant: video.instant,
        tz: state.time_zone(),
    };
    let ppp = ui.ctx().pixels_per_point();

    if let Some(camera) = view.single.as_ref().and_then(|id| state.site().camera(id)) {
        let key = camera.id.to_string();
        let tile = tile_ui(
            ui, area, &key, camera, true, source, state, view, video, &clock, ppp,
        );
        match tile.action {
            Some(TileAction::Close) => view.single = None,
            Some(TileAction::Snapshot(command)) => commands.send(command),
            Some(TileAction::Link(key)) => toggle_link(view, key),
            None => {}
        }
        if tile.response.double_clicked() {
            view.single = None;
        }
        return;
    }

    let ids: Vec<&CameraId> = state.site().cameras().iter().map(|c| &c.id).collect();
    let layout = view.layout();
    let tiles = layout.tile_count();
    view.first = page_start(view.first, tiles, state.site().cameras().len());
    let cells = grid_cells(&ids, tiles, view.first, view.fill, &view.assigned);
    let page = format!("{}:{}:{}", view.first, layout.label(), view.fill);
    let closed_id = ui.scope_id().with("closed tiles");
    let mut closed = ui.data_mut(|d| d.get_temp::<ClosedTiles>(closed_id).unwrap_or_default());
    if closed.page != page {
        closed = ClosedTiles {
            page,
            tiles: BTreeSet::new(),
        };
    }
    let mut open = None;
    let mut link = None;
    let mut dropped = None;
    let mut unpin = None;
    for (index, (cell, rect)) in cells.iter().zip(tile_rects(layout, area)).enumerate() {
        let pinned = view.assigned.contains_key(&index);
        let cell = if !pinned && closed.tiles.contains(&index) {
            &None
        } else {
            cell
        };
        let response = match cell {
            None => {
                empty_tile_ui(ui, rect);
                ui.interact(
                    rect,
                    ui.scope_id().with(("empty tile", index)),
                    Sense::hover(),
                )
            }
            Some(cell) => {
                let camera = &state.site().cameras()[cell.camera];
                // The tile's size picks the stream (a 1×1 tile plays main).
                let tile = tile_ui(
                    ui, rect, &cell.key, camera, false, source, state, view, video, &clock, ppp,
                );
                let response = tile.response;
                if response.double_clicked() {
                    open = Some(camera.id.clone());
                }
                match tile.action {
                    Some(TileAction::Close) if pinned => unpin = Some(index),
                    Some(TileAction::Close) => {
                        closed.tiles.insert(index);
                    }
                    Some(TileAction::Snapshot(command)) => commands.send(command),
                    Some(TileAction::Link(key)) => link = Some(key),
                    None => {}
                }
                if pinned {
                    pinned_badge_ui(ui, rect, tile.toolbar);
                    response.context_menu(|ui| {
                        if ui.button("Back to the paged camera").clicked() {
                            unpin = Some(index);
                            ui.close();
                        }
                    });
                }
                response
            }
        };
        // A camera dragged from the camera tree: the tile it is over is
        // outlined, and the one it is dropped on takes it.
        if response.dnd_hover_payload::<CameraId>().is_some() {
            ui.painter()
                .rect_stroke(rect, 0.0, Stroke::new(3.0, theme::INFO), StrokeKind::Inside);
        }
        if let Some(camera) = response.dnd_release_payload::<CameraId>() {
            dropped = Some((index, (*camera).clone()));
        }
    }
    if let Some(key) = link {
        toggle_link(view, key);
    }
    if let Some((index, camera)) = dropped {
        closed.tiles.remove(&index);
        drop_camera(view, index, camera);
    }
    ui.data_mut(|d| d.insert_temp(closed_id, closed));
    if let Some(index) = unpin {
        view.unassign(index);
    }
    if open.is_some() {
        view.single = open;
    }
}

/// Takes a tile off the view's playback clock (it goes live), or back on.
fn toggle_link(view: &mut CamerasView, key: String) {
    if let Some(pb) = view.playback.as_mut()
        && !pb.unlinked.remove(&key)
    {
        pb.unlinked.insert(key);
    }
}

/// What a camera dropped on tile `index` does: it stays there, in place of
/// the paged camera. The drop handler calls this, and tests call it too.
pub fn drop_camera(view: &mut CamerasView, index: usize, camera: CameraId) -> bool {
    view.assign(index, camera)
}

/// The tiles closed from the hover toolbar, for one page of one layout
/// (egui's memory: it lasts while the window does, never saved).
#[derive(Debug, Clone, Default)]
struct ClosedTiles {
    /// The page they were closed on: first camera, layout, fill.
    page: String,
    tiles: BTreeSet<usize>,
}

/// What a tile's hover toolbar asked for this frame.
enum TileAction {
    Snapshot(Command),
    Close,
    /// In playback: link this tile (by key) to the view's clock, or unlink
    /// it (it goes live).
    Link(String),
}

/// A drawn tile: its response, the toolbar's action, whether the toolbar
/// shows.
struct DrawnTile {
    response: egui::Response,
    action: Option<TileAction>,
    toolbar: bool,
}

/// The height of the hover toolbar, in points.
const TOOLBAR_H: f32 = 22.0;

/// The mark of a tile whose camera was placed there by hand (under the
/// hover toolbar while that shows).
fn pinned_badge_ui(ui: &Ui, rect: Rect, below_toolbar: bool) {
    let text = "placed";
    let font = egui::FontId::proportional(11.0);
    let galley = ui
        .painter()
        .layout_no_wrap(text.to_owned(), font, theme::OVERLAY_TEXT);
    let top = if below_toolbar { TOOLBAR_H + 8.0 } else { 4.0 };
    let at = pos2(rect.right() - galley.size().x - 8.0, rect.top() + top);
    let bg = Rect::from_min_size(at - vec2(3.0, 1.0), galley.size() + vec2(6.0, 2.0));
    ui.painter().rect_filled(bg, 2.0, theme::OVERLAY_BG);
    ui.painter().galley(at, galley, theme::OVERLAY_TEXT);
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
fn tile_ui(
    ui: &mut Ui,
    rect: Rect,
    key: &str,
    camera: &Camera,
    single_view: bool,
    source: &dyn TileSource,
    state: &AppState,
    view: &CamerasView,
    video: &mut VideoUi<'_>,
    clock: &TileClock,
    ppp: f32,
) -> DrawnTile {
    let size_px = tile_request_px(rect, camera_aspect(camera), ppp);
    let linked = view.playback.as_ref().map(|pb| !pb.unlinked.contains(key));
    let playback = view
        .playback
        .as_ref()
        .filter(|pb| !pb.unlinked.contains(key))
        .map(|pb| TilePlayback {
            segments: state.recordings.segments(&camera.id),
            position: pb.position(video.instant),
            rate: pb.rate(),
            seek: pb.seek_number(),
            exact: pb.exact(),
        });
    let base_key = key;
    let suffixed;
    let key = if video.key_suffix.is_empty() {
        key
    } else {
        suffixed = format!("{key}{}", video.key_suffix);
        suffixed.as_str()
    };
    let tile_view = camera_tile_view(
        source,
        &TileRequest {
            key,
            camera,
            size_px,
            single_view,
            playback: playback.as_ref(),
        },
    );
    let stats_id = egui::Id::unique("tiles with stats");
    let mut with_stats =
        ui.data_mut(|d| d.get_temp::<HashSet<String>>(stats_id).unwrap_or_default());
    let input = TileInput {
        key,
        camera,
        view: &tile_view,
        still: state.site().stills().get(&camera.id),
        show_stats: view.show_stats || with_stats.contains(key),
        recorded: playback.is_some(),
    };
    let response = video_tile_ui(ui, rect, &input, video.textures, clock)
        .on_hover_text(format!("{}: double-click to open it alone", camera.name));
    // The toolbar shows while the pointer is over the tile (its buttons
    // included), never while a camera is being dragged onto tiles.
    let toolbar = ui.rect_contains_pointer(rect)
        && !egui::DragAndDrop::has_any_payload(ui.ctx())
        && rect.width() >= 120.0
        && rect.height() >= 2.0 * TOOLBAR_H;
    let mut action = None;
    if toolbar {
        let picked = tile_toolbar_ui(
            ui,
            rect,
            key,
            input.show_stats,
            tile_view.frame.is_some(),
            linked,
        );
        match picked {
            Some(ToolbarButton::Link) => action = Some(TileAction::Link(base_key.to_owned())),
            Some(ToolbarButton::Stats) => {
                if !with_stats.remove(key) {
                    with_stats.insert(key.to_owned());
                }
                ui.data_mut(|d| d.insert_temp(stats_id, with_stats));
            }
            Some(ToolbarButton::Close) => action = Some(TileAction::Close),
            Some(ToolbarButton::Snapshot) => {
                action = tile_view.frame.as_ref().map(|frame| {
                    let stamp = clock
                        .site_now
                        .with_timezone(&clock.tz)
                        .format("%Y%m%d-%H%M%S")
                        .to_string();
                    TileAction::Snapshot(Command::SaveSnapshot {
                        camera: camera.name.clone(),
                        stamp,
                        frame: SnapshotFrame {
                            width: frame.width,
                            height: frame.height,
                            rgba: frame.rgba.clone(),
                        },
                    })
                });
            }
            None => {}
        }
    }
    DrawnTile {
        response,
        action,
        toolbar,
    }
}

/// A button of the tile toolbar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToolbarButton {
    Snapshot,
    Stats,
    Close,
    Link,
}

/// The hover toolbar in the tile's top-right corner; the button clicked.
fn tile_toolbar_ui(
    ui: &mut Ui,
    rect: Rect,
    key: &str,
    stats_on: bool,
    has_frame: bool,
    linked: Option<bool>,
) -> Option<ToolbarButton> {
    let bar = Rect::from_min_max(
        pos2(rect.left() + 4.0, rect.top() + 4.0),
        pos2(rect.right() - 4.0, rect.top() + 4.0 + TOOLBAR_H),
    );
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .id_salt(("tile toolbar", key))
            .max_rect(bar)
            .layout(Layout::right_to_left(Align::Center)),
    );
    let mut picked = None;
    egui::Frame::new()
        .fill(theme::OVERLAY_BG)
        .corner_radius(3.0)
        .inner_margin(2.0)
        .show(&mut child, |ui| {
            ui.spacing_mut().item_spacing.x = 2.0;
            let button = |text: &str| {
                egui::Button::new(RichText::new(text).size(11.0).color(theme::OVERLAY_TEXT))
                    .small()
                    .frame(false)
            };
            if ui
                .add(button("Close tile"))
                .on_hover_text("Close this tile")
                .clicked()
            {
                picked = Some(ToolbarButton::Close);
            }
            if let Some(linked) = linked {
                let (text, tip) = if linked {
                    (
                        "Unlink",
                        "Take this tile off the view's clock: it goes live",
                    )
                } else {
                    ("Link", "Play this tile back on the view's clock again")
                };
                if ui.add(button(text)).on_hover_text(tip).clicked() {
                    picked = Some(ToolbarButton::Link);
                }
            }
            let stats_tip = if stats_on {
                "Hide this tile's stream figures"
            } else {
                "Show this tile's stream figures"
            };
            if ui
                .add(button("Tile stats").selected(stats_on))
                .on_hover_text(stats_tip)
                .clicked()
            {
                picked = Some(ToolbarButton::Stats);
            }
            if ui
                .add_enabled(has_frame, button("Snapshot"))
                .on_hover_text("Save the picture shown as a PNG")
                .on_disabled_hover_text("No picture yet")
                .clicked()
            {
                picked = Some(ToolbarButton::Snapshot);
            }
        });
    picked
}

/// One camera's live tile anywhere outside the grid (the request pop): the
/// same player, overlays and still as a grid tile, under its own `key`.
pub fn camera_tile_ui(
    ui: &mut Ui,
    size: egui::Vec2,
    key: &str,
    camera: &Camera,
    state: &AppState,
    video: &mut VideoUi<'_>,
) -> egui::Response {
    camera_tile_frame_ui(ui, size, key, camera, state, video).0
}

/// [`camera_tile_ui`], and the frame it shows (to take a photo from).
pub fn camera_tile_frame_ui(
    ui: &mut Ui,
    size: egui::Vec2,
    key: &str,
    camera: &Camera,
    state: &AppState,
    video: &mut VideoUi<'_>,
) -> (egui::Response, Option<crate::viewer::TileFrame>) {
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    let VideoFeed::Live(source) = video.feed else {
        ui.painter().rect_filled(rect, 2.0, theme::TILE_EMPTY);
        return (response, None);
    };
    let clock = TileClock {
        site_now: state.site_now(),
        instant: video.instant,
        tz: state.time_zone(),
    };
    let size_px = tile_request_px(rect, camera_aspect(camera), ui.ctx().pixels_per_point());
    let tile_view = camera_tile_view(
        source,
        &TileRequest {
            key,
            camera,
            size_px,
            single_view: false,
            playback: None,
        },
    );
    let input = TileInput {
        key,
        camera,
        view: &tile_view,
        still: state.site().stills().get(&camera.id),
        show_stats: false,
        recorded: false,
    };
    (
        video_tile_ui(ui, rect, &input, video.textures, &clock),
        tile_view.frame.clone(),
    )
}

/// A tile's view: what the engine plays, or, for a camera the site cannot
/// reach (its state from the snapshot and the `camera.*` events), what the
/// site says, without trying to play it; its player stops by itself when
/// no longer asked for, and starts again once the camera is back.
fn camera_tile_view(source: &dyn TileSource, request: &TileRequest<'_>) -> TileView {
    let camera = request.camera;
    if camera.state.playable() {
        return source.tile(request);
    }
    let what = match camera.state {
        CameraState::Unauthorized => "the camera refused the site's credentials",
        CameraState::Unsupported => "the camera's codec is not supported",
        CameraState::Preparing => "demo camera being prepared",
        _ => "the site cannot reach this camera",
    };
    let text = match (&camera.reason, camera.state) {
        (Some(reason), CameraState::Preparing) => reason.clone(),
        (Some(reason), _) => format!("{what}: {reason}"),
        (None, _) => what.to_owned(),
    };
    TileView {
        frame: None,
        status: TileStatus::Error(TileError {
            kind: ErrorKind::Unavailable,
            text,
        }),
        stats: Default::default(),
        stream: StreamChoice::Sub,
    }
}

fn toolbar_ui(
    ui: &mut Ui,
    state: &AppState,
    view: &mut CamerasView,
    menu: Option<&mut super::views::ViewsMenu<'_>>,
) {
    // Wrapped: in a narrow pane the toolbar takes two lines rather than
    // drawing its buttons over each other.
    ui.horizontal_wrapped(|ui| {
        if let Some(menu) = menu {
            super::views::views_toolbar_ui(ui, state, view, menu);
            ui.separator();
        }
        if let Some(camera) = view.single.as_ref().and_then(|id| state.site().camera(id)) {
            let name = camera.name.clone();
            if ui
                .button("Back to grid")
                .on_hover_text("Escape does the same")
                .clicked()
            {
                view.single = None;
            }
            ui.label(RichText::new(name).strong());
        } else {
            let current = view.layout();
            for (n, layout) in ViewLayout::ALL.into_iter().enumerate() {
                if ui
                    .selectable_label(current == layout, layout.label())
                    .on_hover_text(format!(
                        "key {} (when no text field has the keyboard)",
                        n + 1
                    ))
                    .clicked()
                {
                    view.set_layout(layout);
                }
            }
            let n = state.site().cameras().len();
            let tiles = current.tile_count();
            if n > tiles && !view.fill {
                ui.separator();
                let last = (view.first + tiles).min(n);
                if ui
                    .add_enabled(view.first > 0, egui::Button::new("Previous"))
                    .on_hover_text("previous cameras")
                    .clicked()
                {
                    view.first = view.first.saturating_sub(tiles);
                }
                ui.label(format!("cameras {}–{last} of {n}", view.first + 1));
                if ui
                    .add_enabled(last < n, egui::Button::new("Next"))
                    .on_hover_text("next cameras")
                    .clicked()
                {
                    view.first += tiles;
                }
            }
        }
        ui.separator();
        if view.playback.is_some() {
            if ui
                .button(RichText::new("Live").color(theme::LOCKED))
                .on_hover_text("Back to live video (L)")
                .clicked()
            {
                view.playback = None;
            }
        } else if ui
            .button("Playback")
            .on_hover_text("Play these cameras' recordings back, all on one clock")
            .clicked()
        {
            super::playback::start_playback(
                view,
                state.site_now() - super::playback::START_BEFORE_NOW,
                Instant::now(),
            );
        }
        ui.separator();
        ui.toggle_value(&mut view.show_stats, "Stats")
            .on_hover_text("fps, decode time, drops, bitrate, size and latency per tile");
    });
}

/// The keys 1–7 pick the layouts of the toolbar, in its order, unless a
/// text field has the keyboard.
fn layout_keys(ui: &Ui, view: &mut CamerasView) {
    if ui.ctx().text_edit_focused() {
        return;
    }
    let picked = ui.input_mut(|i| {
        LAYOUT_KEYS
            .iter()
            .position(|key| i.consume_key(Modifiers::NONE, *key))
    });
    if let Some(n) = picked {
        view.set_layout(ViewLayout::ALL[n]);
    }
}

fn diagnostics_ui(ui: &mut Ui, why: &[String]) {
    ui.label(
        RichText::new("Video cannot play on this computer")
            .strong()
            .color(theme::FAILED),
    );
    for line in why {
        ui.label(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_page_and_fill() {
        let ids: Vec<CameraId> = ["a", "b", "c", "d", "e"].map(CameraId::new).to_vec();
        let refs: Vec<&CameraId> = ids.iter().collect();
        let keys = |cells: Vec<Option<Cell>>| -> Vec<String> {
            cells
                .into_iter()
                .map(|c| c.map_or_else(|| "-".to_owned(), |c| c.key))
                .collect()
        };
        let none = BTreeMap::new();
        assert_eq!(
            keys(grid_cells(&refs, 4, 0, false, &none)),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            keys(grid_cells(&refs, 4, 4, false, &none)),
            ["e", "-", "-", "-"]
        );
        assert_eq!(
            keys(grid_cells(&refs, 9, 0, true, &none)),
            ["a", "b", "c", "d", "e", "a#1", "b#1", "c#1", "d#1"]
        );
        assert_eq!(
            keys(grid_cells(&[], 4, 0, true, &none)),
            ["-", "-", "-", "-"]
        );
        // Placed cameras win over the paged ones, even on an empty cell; a
        // camera the site lost gives the tile back.
        let placed = BTreeMap::from([
            (1, CameraId::new("e")),
            (3, CameraId::new("a")),
            (0, CameraId::new("gone")),
        ]);
        assert_eq!(
            keys(grid_cells(&refs, 4, 4, false, &placed)),
            ["e", "e@1", "-", "a@3"]
        );
    }

    #[test]
    fn pages_start_on_a_page() {
        assert_eq!(page_start(4, 9, 5), 0, "all fit");
        assert_eq!(page_start(4, 4, 9), 4);
        assert_eq!(page_start(5, 4, 9), 4);
        assert_eq!(page_start(12, 4, 9), 8, "past the end");
        assert_eq!(page_start(8, 1, 9), 8);
        assert_eq!(page_start(3, 0, 9), 0);
    }

    #[test]
    fn grid_rects_fill_the_area() {
        let area = Rect::from_min_size(pos2(10.0, 20.0), vec2(402.0, 202.0));
        let rects = tile_rects(ViewLayout::Grid(2), area);
        assert_eq!(rects.len(), 4);
        assert_eq!(
            rects[0],
            Rect::from_min_size(pos2(10.0, 20.0), vec2(200.0, 100.0))
        );
        assert_eq!(rects[3].max, area.max);
    }

    #[test]
    fn large_and_small_tiles_fill_the_area() {
        use crate::viewer::MixedLayout;
        // 3 cells of 100 and 2 gaps of 2 each way.
        let area = Rect::from_min_size(pos2(0.0, 0.0), vec2(304.0, 304.0));
        let r = tile_rects(ViewLayout::Mixed(MixedLayout::OnePlusFive), area);
        assert_eq!(r.len(), 6);
        assert_eq!(r[0], Rect::from_min_max(pos2(0.0, 0.0), pos2(202.0, 202.0)));
        assert_eq!(
            r[1],
            Rect::from_min_max(pos2(204.0, 0.0), pos2(304.0, 100.0))
        );
        assert_eq!(r[5].max, area.max);
        // 4 cells of 100 and 3 gaps of 2 each way.
        let area = Rect::from_min_size(pos2(10.0, 10.0), vec2(406.0, 406.0));
        let r = tile_rects(ViewLayout::Mixed(MixedLayout::OnePlusSeven), area);
        assert_eq!(r.len(), 8);
        assert_eq!(r[0].size(), vec2(304.0, 304.0));
        assert!(r[1..].iter().all(|t| t.size() == vec2(100.0, 100.0)));
        let r = tile_rects(ViewLayout::Mixed(MixedLayout::TwoPlusEight), area);
        assert_eq!(r.len(), 10);
        assert_eq!(r[0].size(), vec2(202.0, 202.0));
        assert_eq!(r[1].min, pos2(214.0, 10.0));
        assert_eq!(r[9].max, area.max);
        // No two tiles overlap, and every one lies inside the area.
        for layout in ViewLayout::ALL {
            let r = tile_rects(layout, area);
            for (i, a) in r.iter().enumerate() {
                assert!(area.contains_rect(*a), "{layout:?}");
                for b in &r[i + 1..] {
                    assert!(!a.intersects(b.shrink(0.5)), "{layout:?} {a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn a_dropped_camera_stays_on_its_tile() {
        let mut view = CamerasView::default();
        assert!(drop_camera(&mut view, 2, CameraId::new("b")));
        assert_eq!(view.assigned.get(&2), Some(&CameraId::new("b")));
        assert!(!drop_camera(&mut view, 4, CameraId::new("b")), "2×2 has 4");
    }
}

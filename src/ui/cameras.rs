//! The "Cameras" view: the site's cameras live in a grid of 1×1, 2×2, 3×3 or
//! 4×4 tiles filling the central area, paged when there are more cameras
//! than tiles; a double-click on a tile opens it alone (main stream), and
//! Escape or "Back to grid" returns. Tiles are asked for only while shown,
//! so the players of hidden tiles stop.

use std::time::Instant;

use egui::{Align, Key, Layout, Rect, RichText, Sense, Ui, pos2, vec2};

use super::theme;
use super::video_tile::{
    TileClock, TileInput, TileTextures, camera_aspect, empty_tile_ui, tile_request_px,
    video_tile_ui,
};
use crate::domain::{Camera, CameraId};
use crate::viewer::{AppState, CamerasView, GRID_SIDES, TileRequest, TileSource};

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
}

/// One cell of the grid: the camera in it and its tile key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub camera: usize,
    pub key: String,
}

/// The cells of a grid of `side`×`side` over `cameras` cameras, from camera
/// `first`; None for an empty cell. A tile's key is its camera's id (so a
/// camera keeps its player when the layout changes, and its picture when it
/// goes to or from the single view); a repeat in fill mode adds `#n`.
pub fn grid_cells(ids: &[&CameraId], side: usize, first: usize, fill: bool) -> Vec<Option<Cell>> {
    let n = ids.len();
    let tiles = side * side;
    (0..tiles)
        .map(|i| {
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

/// The rectangles of a `side`×`side` grid filling `area`.
pub fn grid_rects(area: Rect, side: usize) -> Vec<Rect> {
    let side = side.max(1);
    let n = side as f32;
    let w = ((area.width() - GAP * (n - 1.0)) / n).max(1.0);
    let h = ((area.height() - GAP * (n - 1.0)) / n).max(1.0);
    (0..side * side)
        .map(|i| {
            let (col, row) = ((i % side) as f32, (i / side) as f32);
            let min = pos2(area.left() + col * (w + GAP), area.top() + row * (h + GAP));
            Rect::from_min_size(min, vec2(w, h))
        })
        .collect()
}

/// The camera view.
pub fn cameras_ui(ui: &mut Ui, state: &AppState, view: &mut CamerasView, video: &mut VideoUi<'_>) {
    if let Some(id) = &view.single
        && state.site().camera(id).is_none()
    {
        view.single = None;
    }
    if view.single.is_some() && ui.input(|i| i.key_pressed(Key::Escape)) {
        view.single = None;
    }
    toolbar_ui(ui, state, view);
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
    let (area, _) = ui.allocate_exact_size(ui.available_size(), Sense::hover());
    let clock = TileClock {
        site_now: state.site_now(),
        instant: video.instant,
        tz: state.time_zone(),
    };
    let ppp = ui.ctx().pixels_per_point();

    if let Some(camera) = view.single.as_ref().and_then(|id| state.site().camera(id)) {
        let key = camera.id.to_string();
        if tile_ui(
            ui, area, &key, camera, true, source, state, view, video, &clock, ppp,
        )
        .double_clicked()
        {
            view.single = None;
        }
        return;
    }

    let ids: Vec<&CameraId> = state.site().cameras().iter().map(|c| &c.id).collect();
    view.first = page_start(
        view.first,
        view.side * view.side,
        state.site().cameras().len(),
    );
    let cells = grid_cells(&ids, view.side, view.first, view.fill);
    let mut open = None;
    for (cell, rect) in cells.iter().zip(grid_rects(area, view.side)) {
        let Some(cell) = cell else {
            empty_tile_ui(ui, rect);
            continue;
        };
        let camera = &state.site().cameras()[cell.camera];
        // The tile's size picks the stream (a 1×1 tile plays main).
        let response = tile_ui(
            ui, rect, &cell.key, camera, false, source, state, view, video, &clock, ppp,
        );
        if response.double_clicked() {
            open = Some(camera.id.clone());
        }
    }
    if open.is_some() {
        view.single = open;
    }
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
) -> egui::Response {
    let size_px = tile_request_px(rect, camera_aspect(camera), ppp);
    let tile_view = source.tile(&TileRequest {
        key,
        camera,
        size_px,
        single_view,
    });
    let input = TileInput {
        key,
        camera,
        view: &tile_view,
        still: state.site().stills().get(&camera.id),
        show_stats: view.show_stats,
    };
    video_tile_ui(ui, rect, &input, video.textures, clock)
        .on_hover_text(format!("{}: double-click to open it alone", camera.name))
}

fn toolbar_ui(ui: &mut Ui, state: &AppState, view: &mut CamerasView) {
    ui.horizontal(|ui| {
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
            for side in GRID_SIDES {
                let label = format!("{side}×{side}");
                if ui.selectable_label(view.side == side, label).clicked() {
                    view.side = side;
                }
            }
            let n = state.site().cameras().len();
            let tiles = view.side * view.side;
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
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            ui.toggle_value(&mut view.show_stats, "Stats")
                .on_hover_text("fps, decode time, drops, bitrate, size and latency per tile");
        });
    });
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
        assert_eq!(keys(grid_cells(&refs, 2, 0, false)), ["a", "b", "c", "d"]);
        assert_eq!(keys(grid_cells(&refs, 2, 4, false)), ["e", "-", "-", "-"]);
        assert_eq!(
            keys(grid_cells(&refs, 3, 0, true)),
            ["a", "b", "c", "d", "e", "a#1", "b#1", "c#1", "d#1"]
        );
        assert_eq!(keys(grid_cells(&[], 2, 0, true)), ["-", "-", "-", "-"]);
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
        let rects = grid_rects(area, 2);
        assert_eq!(rects.len(), 4);
        assert_eq!(
            rects[0],
            Rect::from_min_size(pos2(10.0, 20.0), vec2(200.0, 100.0))
        );
        assert_eq!(rects[3].max, area.max);
    }
}

//! The docked panels: the layout shown ([`Workspace::dock`], an
//! `egui_tiles` tree of [`Pane`]s) below the top bar. Panels move by their
//! tab, tab together, resize at their seams, close with the tab's ×
//! (hidden, keeping their place) and reopen from the top bar's Panels menu.
//! Open access requests are not part of the layout: they pop in front of
//! it (`ui::request_pop`).

use egui::{Frame, Margin, Response, ScrollArea, Ui, WidgetText};
use egui_tiles::{Behavior, SimplificationOptions, Tile, TileId, Tiles, UiResponse};

use super::cameras::{self, VideoUi};
use super::{access_monitor, camera_tree, doors, events, map};
use crate::viewer::{
    AppState, CamerasView, CommandSender, DetachedView, DoorsPanel, MainView, MapView, NamedView,
    Pane, Workspace,
};

/// The in-memory states of the panels that keep one.
pub struct Panels<'a> {
    pub doors: &'a mut DoorsPanel,
    pub map: &'a mut MapView,
}

/// The panels of the layout shown, in the space left in `ui`.
pub fn dock_ui(
    ui: &mut Ui,
    state: &AppState,
    workspace: &mut Workspace,
    panels: Panels<'_>,
    commands: &CommandSender,
    video: &mut VideoUi<'_>,
) {
    // Open access requests are not in the layout: they pop in front of it
    // (`request_pop`).
    let active = workspace.dock_mut().name.clone();
    let Workspace {
        docks,
        main,
        cameras,
        views,
        detached,
        ..
    } = workspace;
    let Some(dock) = docks.iter_mut().find(|d| d.name == active) else {
        return;
    };
    let mut behavior = DockBehavior {
        state,
        commands,
        cameras,
        views,
        detached,
        doors: panels.doors,
        map: panels.map,
        video,
        main,
        to_close: Vec::new(),
    };
    dock.tree.ui(&mut behavior, ui);
    // Hidden once the frame is laid out: egui_tiles expects the tiles it
    // began a frame with to last the frame.
    for tile in behavior.to_close {
        dock.tree.tiles.set_visible(tile, false);
    }
}

/// How each pane draws, and what its tab does.
struct DockBehavior<'a, 'v> {
    state: &'a AppState,
    commands: &'a CommandSender,
    cameras: &'a mut CamerasView,
    views: &'a mut Vec<NamedView>,
    detached: &'a mut Vec<DetachedView>,
    doors: &'a mut DoorsPanel,
    map: &'a mut MapView,
    video: &'a mut VideoUi<'v>,
    main: &'a mut MainView,
    /// The tabs closed this frame.
    to_close: Vec<TileId>,
}

/// The space between a panel's edge and its content, in points.
const PANE_MARGIN: i8 = 4;

impl DockBehavior<'_, '_> {
    fn pane_content_ui(&mut self, ui: &mut Ui, pane: Pane) {
        match pane {
            Pane::Cameras => {
                let mut menu = super::views::ViewsMenu {
                    views: self.views,
                    detached: self.detached,
                    commands: self.commands,
                };
                cameras::cameras_ui(
                    ui,
                    self.state,
                    self.cameras,
                    self.video,
                    self.commands,
                    Some(&mut menu),
                );
            }
            Pane::Doors => {
                ScrollArea::vertical()
                    .id_salt("doors_and_requests")
                    .show(ui, |ui| {
                        doors::doors_ui(ui, self.state, self.doors, self.commands)
                    });
            }
            Pane::Events => events::events_ui(ui, self.state, self.commands),
            Pane::Map => map::map_ui(ui, self.state, self.map, self.commands),
            Pane::AccessMonitor => {
                access_monitor::access_monitor_ui(ui, self.state, self.commands);
            }
            Pane::CameraTree => camera_tree::camera_tree_ui(ui, self.state, self.commands),
            Pane::Cardholders => {
                super::cardholders::cardholders_video_ui(
                    ui,
                    self.state,
                    self.commands,
                    Some(self.video),
                );
            }
        }
    }
}

impl Behavior<Pane> for DockBehavior<'_, '_> {
    fn pane_ui(&mut self, ui: &mut Ui, _tile_id: TileId, pane: &mut Pane) -> UiResponse {
        // A little air between a panel's content and its neighbours; no
        // fill (the window is cleared to the panel colour already).
        Frame::new()
            .inner_margin(Margin::same(PANE_MARGIN))
            .show(ui, |ui| {
                self.pane_content_ui(ui, *pane);
            });
        UiResponse::None
    }

    fn tab_title_for_pane(&mut self, pane: &Pane) -> WidgetText {
        pane.title().into()
    }

    fn is_tab_closable(&self, _tiles: &Tiles<Pane>, _tile_id: TileId) -> bool {
        true
    }

    /// A closed panel is hidden, not removed: it reopens where it was.
    fn on_tab_close(&mut self, _tiles: &mut Tiles<Pane>, tile_id: TileId) -> bool {
        self.to_close.push(tile_id);
        false
    }

    /// Bringing the doors or the cameras to the front makes it the main
    /// view (the one the window opens on next time).
    fn on_tab_button(
        &mut self,
        tiles: &mut Tiles<Pane>,
        tile_id: TileId,
        button_response: Response,
    ) -> Response {
        if button_response.clicked() {
            match tiles.get(tile_id) {
                Some(Tile::Pane(Pane::Doors)) => *self.main = MainView::Doors,
                Some(Tile::Pane(Pane::Cameras)) => *self.main = MainView::Cameras,
                _ => {}
            }
        }
        button_response
    }

    /// Every panel has a tab: it is the handle to move it by and where it
    /// closes.
    fn simplification_options(&self) -> SimplificationOptions {
        SimplificationOptions {
            all_panes_must_have_tabs: true,
            ..SimplificationOptions::default()
        }
    }

    /// No second drawing of a dragged panel (the cameras would ask for
    /// their video twice).
    fn preview_dragged_panes(&self) -> bool {
        false
    }
}

//! How the operator arranged the window, and what of it survives a restart.
//!
//! [`Workspace`] is persisted (the shell saves it through eframe's storage
//! and loads it at start): the main view, the cameras' layout, the named
//! docked layouts ([`Dock`]: an `egui_tiles` tree of [`Pane`]s each) and
//! the active one, and the sites signed in to before (address and last user
//! name, never a password or token). It is `#[serde(default)]` and carries a
//! `version`, so an older or partial workspace loads with defaults for what
//! it lacks; a saved tree that does not hold together is replaced by its
//! preset. [`ViewState`] is what the UI may change: the workspace, and the
//! sign-in form, which is never saved.

use std::collections::{BTreeMap, HashSet};

use egui_tiles::{Container, Linear, LinearDir, Tile, TileId, Tiles, Tree};
use serde::{Deserialize, Serialize};

use crate::domain::CameraId;

/// The main area's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MainView {
    /// Access requests and the door list.
    #[default]
    Doors,
    /// The camera grid.
    Cameras,
}

impl MainView {
    /// The panel that shows this view.
    pub fn pane(self) -> Pane {
        match self {
            MainView::Doors => Pane::Doors,
            MainView::Cameras => Pane::Cameras,
        }
    }
}

/// A panel of the docked workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Pane {
    /// The camera grid.
    Cameras,
    /// The door list (with the open access requests above it).
    Doors,
    /// The site's recent events.
    Events,
    /// The floor plans.
    Map,
    /// The live feed of access events.
    AccessMonitor,
    /// The site's cameras by floor, filterable; dragged onto a tile.
    CameraTree,
    /// Cardholder search and details.
    Cardholders,
}

impl Pane {
    /// Every panel, in the order the Panels menu lists them.
    pub const ALL: [Pane; 7] = [
        Pane::Cameras,
        Pane::Doors,
        Pane::Events,
        Pane::Map,
        Pane::AccessMonitor,
        Pane::CameraTree,
        Pane::Cardholders,
    ];

    /// The panel's name on its tab and in the Panels menu.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Cameras => "Cameras",
            Pane::Doors => "Doors",
            Pane::Events => "Events",
            Pane::Map => "Floor map",
            Pane::AccessMonitor => "Access monitor",
            Pane::CameraTree => "Camera tree",
            Pane::Cardholders => "Cardholders",
        }
    }
}

/// The named layout for watching (cameras large).
pub const OPERATIONS: &str = "Operations";
/// The named layout for looking back (events large).
pub const INVESTIGATION: &str = "Investigation";
/// The named layouts every workspace has, the first the default.
pub const PRESET_DOCKS: [&str; 2] = [OPERATIONS, INVESTIGATION];

/// A named arrangement of the panels: which are open, where, how large,
/// which tab is in front. Each keeps its own tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dock {
    pub name: String,
    pub tree: Tree<Pane>,
}

impl Dock {
    /// The preset layout called `name`, if there is one.
    pub fn preset(name: &str) -> Option<Dock> {
        let tree = match name {
            OPERATIONS => operations_tree(),
            INVESTIGATION => investigation_tree(),
            _ => return None,
        };
        Some(Dock {
            name: name.to_owned(),
            tree,
        })
    }

    /// The tile of `pane`, if the tree has it (open or closed).
    fn tile_of(&self, pane: Pane) -> Option<TileId> {
        self.tree.tiles.find_pane(&pane)
    }

    /// Whether `pane` is open (it may be behind another tab).
    pub fn is_open(&self, pane: Pane) -> bool {
        self.tile_of(pane)
            .is_some_and(|t| self.tree.tiles.is_visible(t))
    }

    /// Whether `pane` is on screen: open and its tab in front.
    pub fn is_showing(&self, pane: Pane) -> bool {
        self.tile_of(pane)
            .is_some_and(|t| self.tree.active_tiles().contains(&t))
    }

    /// Closes `pane`; it keeps its place for when it is opened again.
    pub fn close(&mut self, pane: Pane) {
        if let Some(tile) = self.tile_of(pane) {
            self.tree.tiles.set_visible(tile, false);
        }
    }

    /// Opens `pane` (where it was, or beside the rest when the tree never
    /// had it) and brings its tab to the front.
    pub fn open(&mut self, pane: Pane) {
        let tile = match self.tile_of(pane) {
            Some(tile) => tile,
            None => self.insert(pane),
        };
        // A pane and every container above it are visible again.
        let mut at = Some(tile);
        while let Some(t) = at {
            self.tree.tiles.set_visible(t, true);
            at = self.tree.tiles.parent_of(t);
        }
        self.bring_to_front(pane);
    }

    /// Makes `pane`'s tab the front one, if it is open.
    pub fn bring_to_front(&mut self, pane: Pane) {
        if !self.is_open(pane) {
            return;
        }
        self.tree
            .make_active(|_, tile| matches!(tile, Tile::Pane(p) if *p == pane));
    }

    /// Adds `pane` in tabs of its own at the right of the root.
    fn insert(&mut self, pane: Pane) -> TileId {
        let tiles = &mut self.tree.tiles;
        let new = tiles.insert_pane(pane);
        let tabs = tiles.insert_tab_tile(vec![new]);
        match self.tree.root {
            Some(root) => match tiles.get_mut(root) {
                Some(Tile::Container(Container::Linear(linear)))
                    if linear.dir == LinearDir::Horizontal =>
                {
                    linear.add_child(tabs);
                }
                _ => {
                    let row = tiles.insert_horizontal_tile(vec![root, tabs]);
                    self.tree.root = Some(row);
                }
            },
            None => self.tree.root = Some(tabs),
        }
        new
    }

    /// Puts a saved share that is no size (not finite, not above zero)
    /// back to an even one.
    fn repair_shares(&mut self) {
        for tile in self.tree.tiles.tiles_mut() {
            if let Tile::Container(Container::Linear(linear)) = tile {
                let bad: Vec<TileId> = linear
                    .shares
                    .iter()
                    .filter(|(_, s)| !(s.is_finite() && **s > 0.0))
                    .map(|(id, _)| *id)
                    .collect();
                for id in bad {
                    linear.shares.set_share(id, 1.0);
                }
            }
        }
    }

    /// Whether the tree holds together: a root, every child there, no tile
    /// twice, no pane twice. A saved tree is checked before it is used.
    fn is_sane(&self) -> bool {
        let tiles = &self.tree.tiles;
        let Some(root) = self.tree.root else {
            return false;
        };
        let mut seen = HashSet::new();
        let mut panes = HashSet::new();
        let mut todo = vec![root];
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                return false;
            }
            match tiles.get(id) {
                None => return false,
                Some(Tile::Pane(pane)) => {
                    if !panes.insert(*pane) {
                        return false;
                    }
                }
                Some(Tile::Container(c)) => todo.extend(c.children().copied()),
            }
        }
        true
    }
}

/// Tabs holding `panes`, the first in front.
fn tabs(tiles: &mut Tiles<Pane>, panes: &[Pane]) -> TileId {
    let ids = panes.iter().map(|p| tiles.insert_pane(*p)).collect();
    tiles.insert_tab_tile(ids)
}

/// Cameras large (the doors and the map behind it as tabs, so the door
/// view shows no video), events (the camera tree behind them) and the
/// access monitor beside.
fn operations_tree() -> Tree<Pane> {
    let mut tiles = Tiles::default();
    let main = tabs(&mut tiles, &[Pane::Doors, Pane::Cameras, Pane::Map]);
    let events = tabs(&mut tiles, &[Pane::Events, Pane::CameraTree]);
    let monitor = tabs(&mut tiles, &[Pane::AccessMonitor]);
    let side = tiles.insert_container(Linear::new_binary(
        LinearDir::Vertical,
        [events, monitor],
        0.6,
    ));
    let root = tiles.insert_container(Linear::new_binary(
        LinearDir::Horizontal,
        [main, side],
        0.65,
    ));
    Tree::new(egui::Id::unique("dock-operations"), root, tiles)
}

/// Events large, cameras smaller above the doors and the map.
fn investigation_tree() -> Tree<Pane> {
    let mut tiles = Tiles::default();
    let cameras = tabs(&mut tiles, &[Pane::Cameras]);
    let doors = tabs(&mut tiles, &[Pane::Doors, Pane::Map, Pane::CameraTree]);
    let left = tiles.insert_container(Linear::new_binary(
        LinearDir::Vertical,
        [cameras, doors],
        0.5,
    ));
    let events = tabs(
        &mut tiles,
        &[Pane::Events, Pane::AccessMonitor, Pane::Cardholders],
    );
    let root = tiles.insert_container(Linear::new_binary(
        LinearDir::Horizontal,
        [left, events],
        0.35,
    ));
    Tree::new(egui::Id::unique("dock-investigation"), root, tiles)
}

/// The persisted arrangement of the window. See the module doc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Workspace {
    /// The shape this was saved in; [`Workspace::CURRENT`] once loaded.
    pub version: u32,
    /// The view last brought to the front (doors or cameras); the window
    /// opens on it at the next start.
    pub main: MainView,
    /// The cameras view's layout and cameras.
    pub cameras: CamerasView,
    /// The named layouts of docked panels (at least the presets).
    pub docks: Vec<Dock>,
    /// The name of the layout shown.
    pub active_dock: String,
    /// Sites signed in to, the most recent first, at most [`KNOWN_SITES`].
    pub sites: Vec<KnownSite>,
    /// Everything drawn larger, to be read from 2 m.
    pub large_text: bool,
    /// Camera views saved on this workstation, by name.
    pub views: Vec<super::NamedView>,
    /// Camera views open in windows of their own.
    pub detached: Vec<super::DetachedView>,
}

/// The workspace with its docks left out: what is read when the docks
/// cannot be (a later build's panel this one does not know, a damaged
/// tree), so the rest still comes back. [`Workspace::from`] gives it the
/// preset docks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WorkspaceSansDocks {
    pub version: u32,
    pub main: MainView,
    pub cameras: CamerasView,
    pub active_dock: String,
    pub sites: Vec<KnownSite>,
    pub large_text: bool,
    pub views: Vec<super::NamedView>,
    pub detached: Vec<super::DetachedView>,
}

impl From<WorkspaceSansDocks> for Workspace {
    fn from(w: WorkspaceSansDocks) -> Self {
        Workspace {
            version: w.version,
            main: w.main,
            cameras: w.cameras,
            active_dock: w.active_dock,
            sites: w.sites,
            large_text: w.large_text,
            views: w.views,
            detached: w.detached,
            ..Workspace::default()
        }
    }
}

/// How many known sites the workspace remembers.
pub const KNOWN_SITES: usize = 8;

/// A site signed in to before: where, and as whom (never a password or a
/// token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct KnownSite {
    pub address: String,
    pub last_username: String,
}

impl Default for Workspace {
    fn default() -> Self {
        Self {
            version: Self::CURRENT,
            main: MainView::default(),
            cameras: CamerasView::default(),
            docks: preset_docks(),
            active_dock: OPERATIONS.to_owned(),
            sites: Vec::new(),
            large_text: false,
            views: Vec::new(),
            detached: Vec::new(),
        }
    }
}

fn preset_docks() -> Vec<Dock> {
    PRESET_DOCKS
        .iter()
        .filter_map(|n| Dock::preset(n))
        .collect()
}

impl Workspace {
    /// The shape this build writes. Version 0 is what the client saved
    /// before there was a workspace: nothing, or any subset of the fields;
    /// version 1 had a fixed layout (the event list's width in `panels`,
    /// dropped now); version 2 adds the named docked layouts; version 3
    /// the private named views and the detached windows.
    pub const CURRENT: u32 = 3;

    /// A loaded workspace made current and sane: what an older or newer
    /// shape lacks is defaulted by serde; here values out of range are put
    /// back in it, a tree that does not hold together is replaced by its
    /// preset, and the saved main view is brought to the front.
    pub fn upgraded(mut self) -> Self {
        // Versions 0 and 1 had no field this one needs to carry over: the
        // docks take their presets, the main view picks the front tab.
        self.version = Self::CURRENT;
        if !GRID_SIDES.contains(&self.cameras.side) {
            self.cameras.side = CamerasView::default().side;
        }
        let mut names = HashSet::new();
        self.docks
            .retain(|d| !d.name.trim().is_empty() && names.insert(d.name.clone()));
        for dock in &mut self.docks {
            if !dock.is_sane() {
                *dock = Dock::preset(&dock.name).unwrap_or_else(|| Dock {
                    name: dock.name.clone(),
                    tree: operations_tree(),
                });
            }
            dock.repair_shares();
            // Tile ids made from here on must not meet the saved ones.
            dock.tree.tiles.recompute_next_tile_id();
        }
        for name in PRESET_DOCKS {
            if !self.docks.iter().any(|d| d.name == name)
                && let Some(preset) = Dock::preset(name)
            {
                self.docks.push(preset);
            }
        }
        if !self.docks.iter().any(|d| d.name == self.active_dock) {
            self.active_dock = OPERATIONS.to_owned();
        }
        let main = self.main.pane();
        self.dock_mut().bring_to_front(main);
        self.sites.retain(|s| !s.address.trim().is_empty());
        self.sites.truncate(KNOWN_SITES);
        let mut names = HashSet::new();
        self.views.retain(|v| {
            super::views::view_name(&v.name).as_deref() == Some(v.name.as_str())
                && names.insert(v.name.clone())
        });
        super::views::repair_detached(&mut self.detached);
        self
    }

    /// The layout shown.
    pub fn dock(&self) -> &Dock {
        static FALLBACK: std::sync::OnceLock<Dock> = std::sync::OnceLock::new();
        self.docks
            .iter()
            .find(|d| d.name == self.active_dock)
            .or_else(|| self.docks.first())
            .unwrap_or_else(|| {
                FALLBACK.get_or_init(|| Dock {
                    name: OPERATIONS.to_owned(),
                    tree: operations_tree(),
                })
            })
    }

    /// The layout shown, to change.
    pub fn dock_mut(&mut self) -> &mut Dock {
        if self.docks.is_empty() {
            self.docks = preset_docks();
        }
        let at = self
            .docks
            .iter()
            .position(|d| d.name == self.active_dock)
            .unwrap_or(0);
        &mut self.docks[at]
    }

    /// Shows the layout called `name`; false when there is none.
    pub fn switch_dock(&mut self, name: &str) -> bool {
        if self.docks.iter().any(|d| d.name == name) {
            self.active_dock = name.to_owned();
            true
        } else {
            false
        }
    }

    /// Opens `pane` in the layout shown and brings it to the front; the
    /// doors and the cameras become the main view.
    pub fn focus(&mut self, pane: Pane) {
        self.dock_mut().open(pane);
        match pane {
            Pane::Doors => self.main = MainView::Doors,
            Pane::Cameras => self.main = MainView::Cameras,
            _ => {}
        }
    }

    /// Notes a sign-in to `address` as `username`: the site moves to the
    /// front of the known sites.
    pub fn signed_in(&mut self, address: &str, username: &str) {
        self.sites.retain(|s| s.address != address);
        self.sites.insert(
            0,
            KnownSite {
                address: address.to_owned(),
                last_username: username.to_owned(),
            },
        );
        self.sites.truncate(KNOWN_SITES);
    }

    /// The user name last used at `address`, if any.
    pub fn last_username(&self, address: &str) -> Option<&str> {
        self.sites
            .iter()
            .find(|s| s.address == address)
            .map(|s| s.last_username.as_str())
            .filter(|u| !u.is_empty())
    }

    /// Applies a start view given on the command line, such as `doors`,
    /// `cameras` or `cameras:4x4:fill`; it wins over the saved view (its
    /// panel is opened and brought to the front). False when the text is
    /// not understood (nothing changes then).
    pub fn apply_start_view(&mut self, text: &str) -> bool {
        if text.trim() == "doors" {
            self.focus(Pane::Doors);
            return true;
        }
        match CamerasView::parse_start(text) {
            Some(cameras) => {
                self.cameras = cameras;
                self.focus(Pane::Cameras);
                true
            }
            None => false,
        }
    }
}

/// What the UI may change: the persisted workspace, and the sign-in form's
/// text (never saved).
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    pub workspace: Workspace,
    pub form: SignInForm,
    /// The doors panel's filter and selection (not persisted).
    pub doors: super::DoorsPanel,
    /// The map panel's floor, zoom and centre (not persisted).
    pub map: super::MapView,
}

/// The sign-in form's text.
#[derive(Clone, Default)]
pub struct SignInForm {
    pub username: String,
    /// Cleared as soon as it is sent.
    pub password: String,
}

impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("SignInForm")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ViewState {
    /// The view for `state` over a loaded `workspace`: the demo site's form
    /// is prefilled, another site's with the user name last used there.
    pub fn new(state: &super::AppState, workspace: Workspace) -> Self {
        let username = if state.site().demo {
            "operator".to_owned()
        } else {
            workspace
                .last_username(&state.site().address)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            workspace,
            form: SignInForm {
                username,
                password: String::new(),
            },
            doors: super::DoorsPanel::default(),
            map: super::MapView::default(),
        }
    }
}

/// The grid sizes offered (tiles a side).
pub const GRID_SIDES: [usize; 4] = [1, 2, 3, 4];

/// The layouts of large tiles plus small ones (saved in
/// [`CamerasView::mixed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MixedLayout {
    /// One large tile (2×2 cells of a 3×3 grid) and five small.
    OnePlusFive,
    /// One large tile (3×3 cells of a 4×4 grid) and seven small.
    OnePlusSeven,
    /// Two large tiles (2×2 cells each, the top half of a 4×4 grid) and
    /// eight small.
    TwoPlusEight,
}

/// A layout of the camera view: a square grid or large tiles plus small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewLayout {
    /// `side`×`side` equal tiles (one of [`GRID_SIDES`]).
    Grid(usize),
    Mixed(MixedLayout),
}

/// One tile of a layout, in cells of its square grid: column, row, and the
/// cells it spans each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileCells {
    pub col: usize,
    pub row: usize,
    pub span: usize,
}

impl ViewLayout {
    /// Every layout, in the toolbar's order; the n-th (from 1) is also the
    /// key that picks it.
    pub const ALL: [ViewLayout; 7] = [
        ViewLayout::Grid(1),
        ViewLayout::Grid(2),
        ViewLayout::Grid(3),
        ViewLayout::Grid(4),
        ViewLayout::Mixed(MixedLayout::OnePlusFive),
        ViewLayout::Mixed(MixedLayout::OnePlusSeven),
        ViewLayout::Mixed(MixedLayout::TwoPlusEight),
    ];

    /// Its name on the toolbar.
    pub fn label(self) -> String {
        match self {
            ViewLayout::Grid(side) => format!("{side}×{side}"),
            ViewLayout::Mixed(MixedLayout::OnePlusFive) => "1+5".into(),
            ViewLayout::Mixed(MixedLayout::OnePlusSeven) => "1+7".into(),
            ViewLayout::Mixed(MixedLayout::TwoPlusEight) => "2+8".into(),
        }
    }

    /// Cells a side of the square grid its tiles are cut from.
    pub fn cells(self) -> usize {
        match self {
            ViewLayout::Grid(side) => side.max(1),
            ViewLayout::Mixed(MixedLayout::OnePlusFive) => 3,
            ViewLayout::Mixed(MixedLayout::OnePlusSeven | MixedLayout::TwoPlusEight) => 4,
        }
    }

    /// Its tiles in reading order, the large first: where each sits in
    /// the grid of [`ViewLayout::cells`] a side.
    pub fn tiles(self) -> Vec<TileCells> {
        let one = |col, row| TileCells { col, row, span: 1 };
        let n = self.cells();
        match self {
            ViewLayout::Grid(_) => (0..n * n).map(|i| one(i % n, i / n)).collect(),
            ViewLayout::Mixed(MixedLayout::OnePlusFive | MixedLayout::OnePlusSeven) => {
                // The large tile top left, the small ones down the right
                // side, then along the bottom.
                let big = n - 1;
                let mut t = vec![TileCells {
                    col: 0,
                    row: 0,
                    span: big,
                }];
                t.extend((0..big).map(|row| one(big, row)));
                t.extend((0..n).map(|col| one(col, big)));
                t
            }
            ViewLayout::Mixed(MixedLayout::TwoPlusEight) => {
                let mut t = vec![
                    TileCells {
                        col: 0,
                        row: 0,
                        span: 2,
                    },
                    TileCells {
                        col: 2,
                        row: 0,
                        span: 2,
                    },
                ];
                t.extend((0..8).map(|i| one(i % 4, 2 + i / 4)));
                t
            }
        }
    }

    /// How many tiles it has.
    pub fn tile_count(self) -> usize {
        match self {
            ViewLayout::Grid(side) => side * side,
            ViewLayout::Mixed(MixedLayout::OnePlusFive) => 6,
            ViewLayout::Mixed(MixedLayout::OnePlusSeven) => 8,
            ViewLayout::Mixed(MixedLayout::TwoPlusEight) => 10,
        }
    }
}

/// How the camera view is laid out (kept by the view, not the site).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CamerasView {
    /// Tiles a side: 1 to 4 (the layout unless `mixed` names another).
    pub side: usize,
    /// A layout of large tiles plus small, in place of the square grid.
    pub mixed: Option<MixedLayout>,
    /// Cameras dropped on tiles: by tile index in the layout, each in
    /// place of the camera the paging puts there.
    pub assigned: BTreeMap<usize, CameraId>,
    /// The index of the camera in the first tile (paging).
    pub first: usize,
    /// The camera shown alone, if any.
    pub single: Option<CameraId>,
    /// Whether the stats overlay shows.
    pub show_stats: bool,
    /// Repeat the cameras to fill every tile (a wall test with few cameras).
    pub fill: bool,
    /// Recorded video on one clock instead of live (never saved: a view
    /// opens live).
    #[serde(skip)]
    pub playback: Option<super::Playback>,
}

impl Default for CamerasView {
    fn default() -> Self {
        Self {
            side: 2,
            mixed: None,
            assigned: BTreeMap::new(),
            first: 0,
            single: None,
            show_stats: false,
            fill: false,
            playback: None,
        }
    }
}

impl CamerasView {
    /// The layout shown.
    pub fn layout(&self) -> ViewLayout {
        match self.mixed {
            Some(mixed) => ViewLayout::Mixed(mixed),
            None => ViewLayout::Grid(self.side),
        }
    }

    /// Shows `layout` (a square grid of a size not offered is ignored).
    pub fn set_layout(&mut self, layout: ViewLayout) {
        match layout {
            ViewLayout::Grid(side) if GRID_SIDES.contains(&side) => {
                self.side = side;
                self.mixed = None;
            }
            ViewLayout::Grid(_) => {}
            ViewLayout::Mixed(mixed) => self.mixed = Some(mixed),
        }
    }

    /// Puts `camera` in tile `index` of the layout (a camera dropped
    /// there), in place of the paged one; back to the grid if a single
    /// camera was shown. Out of the layout's tiles, nothing changes.
    pub fn assign(&mut self, index: usize, camera: CameraId) -> bool {
        if index >= self.layout().tile_count() {
            return false;
        }
        self.assigned.insert(index, camera);
        self.single = None;
        true
    }

    /// Gives tile `index` back to the paged camera.
    pub fn unassign(&mut self, index: usize) {
        self.assigned.remove(&index);
    }

    /// Reads a start view such as `cameras`, `cameras:3x3` or
    /// `cameras:4x4:fill`. None when the text names another view or is not
    /// understood.
    pub fn parse_start(text: &str) -> Option<CamerasView> {
        let mut parts = text.trim().split(':');
        if parts.next()? != "cameras" {
            return None;
        }
        let mut view = CamerasView::default();
        for part in parts {
            match part {
                "fill" => view.fill = true,
                "stats" => view.show_stats = true,
                mixed if ViewLayout::ALL.iter().any(|l| l.label() == mixed) => {
                    if let Some(layout) = ViewLayout::ALL.iter().find(|l| l.label() == mixed) {
                        view.set_layout(*layout);
                    }
                }
                grid => {
                    let (a, b) = grid.split_once(['x', '×'])?;
                    let (a, b) = (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?);
                    if a != b || !GRID_SIDES.contains(&a) {
                        return None;
                    }
                    view.side = a;
                }
            }
        }
        Some(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_views_parse() {
        let v = CamerasView::parse_start("cameras:4x4").expect("4x4");
        assert_eq!((v.side, v.fill, v.show_stats), (4, false, false));
        let v = CamerasView::parse_start("cameras:3×3:fill:stats").expect("3x3");
        assert_eq!((v.side, v.fill, v.show_stats), (3, true, true));
        assert_eq!(
            CamerasView::parse_start("cameras"),
            Some(CamerasView::default())
        );
        for bad in ["doors", "cameras:5x5", "cameras:2x3", "cameras:axb", ""] {
            assert_eq!(CamerasView::parse_start(bad), None, "{bad}");
        }
    }

    #[test]
    fn layouts_cut_their_grid_without_overlap() {
        for layout in ViewLayout::ALL {
            let n = layout.cells();
            let tiles = layout.tiles();
            assert_eq!(tiles.len(), layout.tile_count(), "{layout:?}");
            // Every cell of the grid is covered exactly once.
            let mut covered = vec![0; n * n];
            for t in &tiles {
                assert!(
                    t.col + t.span <= n && t.row + t.span <= n,
                    "{layout:?} {t:?}"
                );
                for r in t.row..t.row + t.span {
                    for c in t.col..t.col + t.span {
                        covered[r * n + c] += 1;
                    }
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "{layout:?}: {covered:?}");
        }
        let big = |l: ViewLayout| l.tiles().iter().filter(|t| t.span > 1).count();
        assert_eq!(big(ViewLayout::Mixed(MixedLayout::OnePlusFive)), 1);
        assert_eq!(big(ViewLayout::Mixed(MixedLayout::OnePlusSeven)), 1);
        assert_eq!(big(ViewLayout::Mixed(MixedLayout::TwoPlusEight)), 2);
        let labels: Vec<String> = ViewLayout::ALL.iter().map(|l| l.label()).collect();
        assert_eq!(labels, ["1×1", "2×2", "3×3", "4×4", "1+5", "1+7", "2+8"]);
    }

    #[test]
    fn a_layout_is_set_and_a_camera_assigned() {
        let mut v = CamerasView::default();
        v.set_layout(ViewLayout::Mixed(MixedLayout::OnePlusSeven));
        assert_eq!(v.layout(), ViewLayout::Mixed(MixedLayout::OnePlusSeven));
        v.set_layout(ViewLayout::Grid(5));
        assert_eq!(
            v.layout(),
            ViewLayout::Mixed(MixedLayout::OnePlusSeven),
            "not offered"
        );
        v.single = Some(CameraId::new("cam-0"));
        assert!(v.assign(7, CameraId::new("cam-2")));
        assert_eq!(v.single, None, "back to the grid");
        assert!(!v.assign(8, CameraId::new("cam-2")), "1+7 has 8 tiles");
        v.set_layout(ViewLayout::Grid(3));
        assert_eq!((v.side, v.mixed), (3, None));
        assert_eq!(v.assigned.get(&7), Some(&CameraId::new("cam-2")));
        v.unassign(7);
        assert!(v.assigned.is_empty());
        let v = CamerasView::parse_start("cameras:2+8").expect("2+8");
        assert_eq!(v.layout(), ViewLayout::Mixed(MixedLayout::TwoPlusEight));
    }

    #[test]
    fn nothing_saved_is_the_default_workspace() {
        // Version 0: the client saved nothing, or only some of the fields.
        let none: Workspace = serde_json::from_str("{}").expect("empty");
        assert_eq!(none.upgraded(), Workspace::default());
        let old: Workspace = serde_json::from_str(
            r#"{"main": "Cameras", "cameras": {"side": 3}, "colour": "blue"}"#,
        )
        .expect("older shape");
        let old = old.upgraded();
        assert_eq!(old.version, Workspace::CURRENT);
        assert_eq!(old.main, MainView::Cameras);
        assert_eq!(old.cameras.side, 3);
        assert_eq!(old.cameras.first, 0, "missing fields take their default");
        let names: Vec<&str> = old.docks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, PRESET_DOCKS, "the presets");
        assert_eq!(old.active_dock, OPERATIONS);
        assert!(
            old.dock().is_showing(Pane::Cameras),
            "the main view in front"
        );
        assert!(!old.dock().is_showing(Pane::Doors));
        assert!(old.sites.is_empty());
    }

    #[test]
    fn a_saved_workspace_round_trips() {
        let mut w = Workspace {
            cameras: CamerasView {
                side: 4,
                first: 16,
                single: Some(CameraId::new("cam-3")),
                show_stats: true,
                fill: true,
                mixed: Some(MixedLayout::TwoPlusEight),
                assigned: BTreeMap::from([(9, CameraId::new("cam-1"))]),
                playback: None,
            },
            ..Workspace::default()
        };
        w.focus(Pane::Cameras);
        w.switch_dock(INVESTIGATION);
        w.dock_mut().close(Pane::Map);
        w.signed_in("https://a.example", "ada");
        w.signed_in("https://b.example", "bob");
        w.signed_in("https://a.example", "alan");
        let text = serde_json::to_string(&w).expect("save");
        let back: Workspace = serde_json::from_str(&text).expect("load");
        assert_eq!(back.clone().upgraded(), w);
        assert_eq!(back.last_username("https://a.example"), Some("alan"));
        assert_eq!(back.sites.len(), 2, "one entry a site, newest first");
        assert_eq!(back.sites[0].address, "https://a.example");
        assert!(
            !text.contains("password") && !text.contains("token"),
            "{text}"
        );
    }

    #[test]
    fn values_out_of_range_are_put_back() {
        let w: Workspace = serde_json::from_str(
            r#"{"version": 1, "cameras": {"side": 7}, "panels": {"events_width": -3.0},
                "sites": [{"address": ""}]}"#,
        )
        .expect("load");
        let w = w.upgraded();
        assert_eq!(w.cameras.side, 2);
        assert!(w.sites.is_empty());
        let mut many = Workspace::default();
        for i in 0..20 {
            many.signed_in(&format!("https://s{i}.example"), "u");
        }
        assert_eq!(many.sites.len(), KNOWN_SITES);
        assert_eq!(many.sites[0].address, "https://s19.example");
    }

    #[test]
    fn a_start_view_wins_over_the_saved_one() {
        let saved = Workspace {
            main: MainView::Cameras,
            cameras: CamerasView {
                side: 3,
                ..CamerasView::default()
            },
            ..Workspace::default()
        };
        let mut w = saved.clone();
        assert!(w.apply_start_view("doors"));
        assert_eq!(w.main, MainView::Doors);
        assert_eq!(w.cameras.side, 3, "the layout stays for later");
        let mut w = saved.clone();
        assert!(w.apply_start_view("cameras:4x4:fill"));
        assert_eq!(
            (w.main, w.cameras.side, w.cameras.fill),
            (MainView::Cameras, 4, true)
        );
        assert!(w.dock().is_showing(Pane::Cameras), "the cameras in front");
        let mut w = saved.clone();
        assert!(!w.apply_start_view("maps"));
        assert_eq!(w, saved);
        // A closed panel named on the command line opens, in front.
        let mut w = saved.clone();
        w.switch_dock(INVESTIGATION);
        w.dock_mut().close(Pane::Doors);
        assert!(w.apply_start_view("doors"));
        assert!(w.dock().is_showing(Pane::Doors));
        assert_eq!(w.active_dock, INVESTIGATION, "in the layout it opened on");
    }

    #[test]
    fn panels_close_reopen_and_each_layout_keeps_its_own() {
        let mut w = Workspace::default();
        assert!(w.dock().is_showing(Pane::Doors), "the door view first");
        assert!(!w.dock().is_showing(Pane::Cameras), "behind the doors");
        w.dock_mut().close(Pane::Events);
        assert!(!w.dock().is_open(Pane::Events));
        assert!(!w.dock().is_showing(Pane::Events));
        assert!(w.switch_dock(INVESTIGATION));
        assert!(w.dock().is_open(Pane::Events), "a layout of its own");
        assert!(!w.switch_dock("Elsewhere"));
        assert_eq!(w.active_dock, INVESTIGATION);
        assert!(w.switch_dock(OPERATIONS));
        assert!(!w.dock().is_open(Pane::Events), "still closed here");
        w.focus(Pane::Events);
        assert!(w.dock().is_showing(Pane::Events), "back where it was");
        w.focus(Pane::Cameras);
        assert_eq!(w.main, MainView::Cameras);
        assert!(w.dock().is_showing(Pane::Cameras));
        assert!(!w.dock().is_showing(Pane::Doors));
        // A pane the tree lost comes back beside the rest.
        let tile = w.dock().tree.tiles.find_pane(&Pane::Map).expect("map");
        w.dock_mut().tree.remove_recursively(tile);
        assert!(!w.dock().is_open(Pane::Map));
        w.focus(Pane::Map);
        assert!(w.dock().is_showing(Pane::Map));
        assert!(w.dock().is_sane());
    }

    #[test]
    fn a_broken_tree_is_replaced_by_its_preset() {
        let mut w = Workspace::default();
        let dock = w.dock_mut();
        let root = dock.tree.root.expect("root");
        // A container naming a tile that is not there.
        dock.tree.tiles.remove(root);
        dock.tree.tiles.insert(
            root,
            Tile::Container(Container::new_tabs(vec![TileId::from_u64(999)])),
        );
        assert!(!w.dock().is_sane());
        w.active_dock = "Nowhere".into();
        let w = w.upgraded();
        assert_eq!(w.active_dock, OPERATIONS);
        assert_eq!(w.dock(), &Dock::preset(OPERATIONS).expect("preset"));
        // Two panes of a kind are not sane either.
        let mut dock = Dock::preset(INVESTIGATION).expect("preset");
        let extra = dock.tree.tiles.insert_pane(Pane::Doors);
        if let Some(Tile::Container(c)) = dock.tree.root.and_then(|r| dock.tree.tiles.get_mut(r)) {
            c.add_child(extra);
        }
        assert!(!dock.is_sane());
        // A share of no size is made even.
        let mut w = Workspace::default();
        let root = w.dock().tree.root.expect("root");
        if let Some(Tile::Container(Container::Linear(l))) = w.dock_mut().tree.tiles.get_mut(root) {
            let first = l.children[0];
            l.shares.set_share(first, f32::NAN);
        }
        let w = w.upgraded();
        let Some(Tile::Container(Container::Linear(l))) = w.dock().tree.tiles.get(root) else {
            panic!("the root is a row");
        };
        assert!(l.shares.iter().all(|(_, s)| s.is_finite() && *s > 0.0));
    }

    #[test]
    fn the_form_never_shows_its_password() {
        let form = SignInForm {
            username: "operator".into(),
            password: "demo-operator".into(),
        };
        let text = format!("{form:?}");
        assert!(
            text.contains("\"operator\"") && !text.contains("demo-operator"),
            "{text}"
        );
    }
}

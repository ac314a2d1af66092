//! Named camera views: private ones kept in the workspace (this
//! workstation), shared ones read from the site; and the views detached
//! into windows of their own. Pure state: the UI draws it, the shell opens
//! the windows, `app::persist` saves it with the workspace.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::workspace::{CamerasView, GRID_SIDES, MixedLayout, ViewLayout};
use crate::domain::{CameraId, MAX_VIEW_NAME, MAX_VIEW_TILES, SharedView, SharedViewBody};

/// A view saved on this workstation: a layout and the cameras placed on
/// its tiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NamedView {
    pub name: String,
    /// Tiles a side of a square grid (unless `mixed`).
    pub side: usize,
    pub mixed: Option<MixedLayout>,
    /// Cameras by tile index.
    pub assigned: BTreeMap<usize, CameraId>,
}

impl Default for NamedView {
    fn default() -> Self {
        Self {
            name: String::new(),
            side: 2,
            mixed: None,
            assigned: BTreeMap::new(),
        }
    }
}

/// A view's name trimmed, if it is 1 to 64 characters.
pub fn view_name(text: &str) -> Option<String> {
    let name = text.trim();
    (!name.is_empty() && name.chars().count() <= MAX_VIEW_NAME).then(|| name.to_owned())
}

impl NamedView {
    /// The live view's layout and placed cameras under `name`.
    pub fn of(name: &str, live: &CamerasView) -> NamedView {
        NamedView {
            name: name.to_owned(),
            side: live.side,
            mixed: live.mixed,
            assigned: live.assigned.clone(),
        }
    }

    /// The layout it keeps.
    pub fn layout(&self) -> ViewLayout {
        match self.mixed {
            Some(m) => ViewLayout::Mixed(m),
            None if GRID_SIDES.contains(&self.side) => ViewLayout::Grid(self.side),
            None => ViewLayout::Grid(2),
        }
    }

    /// Loads it into `live`: its layout and cameras, from the first page,
    /// out of a single camera.
    pub fn load_into(&self, live: &mut CamerasView) {
        live.set_layout(self.layout());
        let tiles = self.layout().tile_count();
        live.assigned = self
            .assigned
            .iter()
            .filter(|(i, _)| **i < tiles)
            .map(|(i, c)| (*i, c.clone()))
            .collect();
        live.first = 0;
        live.single = None;
    }

    /// The wire form, to publish on the site.
    pub fn to_shared(&self) -> SharedViewBody {
        let tiles = self.layout().tile_count().min(MAX_VIEW_TILES);
        let last = self
            .assigned
            .keys()
            .filter(|i| **i < tiles)
            .max()
            .map_or(0, |i| i + 1);
        SharedViewBody {
            name: self.name.clone(),
            layout: wire_layout(self.layout()),
            cameras: (0..last).map(|i| self.assigned.get(&i).cloned()).collect(),
        }
    }

    /// A shared view as a named one; None when its layout is not known
    /// to this build.
    pub fn from_shared(view: &SharedView) -> Option<NamedView> {
        let layout = layout_of_wire(&view.layout)?;
        let mut named = NamedView {
            name: view.name.clone(),
            ..NamedView::default()
        };
        let mut live = CamerasView::default();
        live.set_layout(layout);
        named.side = live.side;
        named.mixed = live.mixed;
        named.assigned = view
            .cameras
            .iter()
            .enumerate()
            .take(layout.tile_count())
            .filter_map(|(i, c)| Some((i, c.clone()?)))
            .collect();
        Some(named)
    }
}

/// A layout's wire name (`2x2`, `1+5`).
pub fn wire_layout(layout: ViewLayout) -> String {
    layout.label().replace('×', "x")
}

/// The layout of a wire name.
pub fn layout_of_wire(text: &str) -> Option<ViewLayout> {
    ViewLayout::ALL
        .into_iter()
        .find(|l| wire_layout(*l) == text)
}

/// What saving a private view did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Saved under a new name.
    Saved,
    /// A view of that name was replaced.
    Replaced,
    /// The name is empty or longer than 64 characters.
    BadName,
}

/// Saves `live` as `name` among `views` (kept by name). One of the same
/// name is replaced only with `overwrite`; without it nothing changes and
/// the answer is None: the UI asks, then saves again with `overwrite`.
pub fn save_view(
    views: &mut Vec<NamedView>,
    name: &str,
    live: &CamerasView,
    overwrite: bool,
) -> Option<SaveOutcome> {
    let Some(name) = view_name(name) else {
        return Some(SaveOutcome::BadName);
    };
    let view = NamedView::of(&name, live);
    match views.iter_mut().find(|v| v.name == name) {
        Some(_) if !overwrite => None,
        Some(old) => {
            *old = view;
            Some(SaveOutcome::Replaced)
        }
        None => {
            views.push(view);
            views.sort_by_key(|v| v.name.to_lowercase());
            Some(SaveOutcome::Saved)
        }
    }
}

/// Whether `views` has one called `name` (trimmed).
pub fn has_view(views: &[NamedView], name: &str) -> bool {
    view_name(name).is_some_and(|n| views.iter().any(|v| v.name == n))
}

/// Deletes the view called `name`; false when there was none.
pub fn delete_view(views: &mut Vec<NamedView>, name: &str) -> bool {
    let before = views.len();
    views.retain(|v| v.name != name);
    views.len() != before
}

/// A view shown in a window of its own (on another monitor): its own
/// layout and cameras, its title, and where the window was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetachedView {
    /// Unique among the detached windows; the window's id is made from it.
    pub id: u64,
    pub title: String,
    /// The window's own camera view.
    pub view: CamerasView,
    /// Where the window was (outer top-left, points), if known.
    pub pos: Option<[f32; 2]>,
    /// The window's inner size (points), if known.
    pub size: Option<[f32; 2]>,
}

impl Default for DetachedView {
    fn default() -> Self {
        Self {
            id: 0,
            title: "Cameras".into(),
            view: CamerasView::default(),
            pos: None,
            size: None,
        }
    }
}

/// At most this many detached windows.
pub const MAX_DETACHED: usize = 8;

/// Opens `view` in a new window titled `title`; its id, or None when
/// [`MAX_DETACHED`] are open.
pub fn detach(detached: &mut Vec<DetachedView>, title: &str, view: &CamerasView) -> Option<u64> {
    if detached.len() >= MAX_DETACHED {
        return None;
    }
    let id = detached.iter().map(|d| d.id + 1).max().unwrap_or(1);
    let mut view = view.clone();
    view.single = None;
    detached.push(DetachedView {
        id,
        title: view_name(title).unwrap_or_else(|| "Cameras".into()),
        view,
        pos: None,
        size: None,
    });
    Some(id)
}

/// Closes the window `id` (it is not opened at the next start).
pub fn close_detached(detached: &mut Vec<DetachedView>, id: u64) -> bool {
    let before = detached.len();
    detached.retain(|d| d.id != id);
    detached.len() != before
}

/// Puts loaded detached windows in order: unique ids, at most
/// [`MAX_DETACHED`], sizes that are finite and positive.
pub fn repair_detached(detached: &mut Vec<DetachedView>) {
    let mut seen = std::collections::HashSet::new();
    detached.retain(|d| d.id != 0 && seen.insert(d.id));
    detached.truncate(MAX_DETACHED);
    for d in detached.iter_mut() {
        let ok = |v: &Option<[f32; 2]>| v.is_some_and(|[a, b]| a.is_finite() && b.is_finite());
        if !ok(&d.pos) {
            d.pos = None;
        }
        if !ok(&d.size) || d.size.is_some_and(|[w, h]| w < 100.0 || h < 100.0) {
            d.size = None;
        }
        if !GRID_SIDES.contains(&d.view.side) {
            d.view.side = 2;
        }
        if d.title.trim().is_empty() {
            d.title = "Cameras".into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(side: usize, placed: &[(usize, &str)]) -> CamerasView {
        let mut v = CamerasView {
            side,
            ..CamerasView::default()
        };
        for (i, c) in placed {
            v.assign(*i, CameraId::new(*c));
        }
        v
    }

    #[test]
    fn named_views_save_load_overwrite_and_delete() {
        let mut views = Vec::new();
        let a = live(3, &[(0, "cam-1"), (4, "cam-2")]);
        assert_eq!(
            save_view(&mut views, "  Lobby  ", &a, false),
            Some(SaveOutcome::Saved)
        );
        assert_eq!(views[0].name, "Lobby", "trimmed");
        assert!(has_view(&views, "Lobby "));
        // Same name: asks first, then replaces.
        let b = live(2, &[(1, "cam-3")]);
        assert_eq!(save_view(&mut views, "Lobby", &b, false), None);
        assert_eq!(views[0], NamedView::of("Lobby", &a), "not replaced unasked");
        assert_eq!(
            save_view(&mut views, "Lobby", &b, true),
            Some(SaveOutcome::Replaced)
        );
        assert_eq!(views.len(), 1);
        for bad in ["", "   ", &"x".repeat(65)] {
            assert_eq!(
                save_view(&mut views, bad, &a, true),
                Some(SaveOutcome::BadName)
            );
        }
        assert_eq!(
            save_view(&mut views, &"y".repeat(64), &a, false),
            Some(SaveOutcome::Saved)
        );
        // Loading puts its layout and cameras in the live view.
        let mut now = live(4, &[(9, "cam-9")]);
        now.first = 8;
        now.single = Some(CameraId::new("cam-9"));
        views
            .iter()
            .find(|v| v.name == "Lobby")
            .unwrap()
            .load_into(&mut now);
        assert_eq!(now.layout(), ViewLayout::Grid(2));
        assert_eq!(now.assigned, b.assigned);
        assert_eq!((now.first, now.single.clone()), (0, None));
        assert!(delete_view(&mut views, "Lobby"));
        assert!(!delete_view(&mut views, "Lobby"));
        assert_eq!(views.len(), 1);
    }

    #[test]
    fn a_view_goes_to_the_wire_and_back() {
        let mut v = live(2, &[(0, "cam-1"), (2, "cam-3")]);
        v.set_layout(ViewLayout::Mixed(MixedLayout::OnePlusFive));
        let named = NamedView::of("Car park", &v);
        let body = named.to_shared();
        assert_eq!(body.layout, "1+5");
        assert_eq!(
            body.cameras,
            vec![
                Some(CameraId::new("cam-1")),
                None,
                Some(CameraId::new("cam-3"))
            ]
        );
        assert!(body.check().is_ok());
        let shared = SharedView {
            id: crate::domain::ViewId::new("car-park"),
            name: body.name.clone(),
            layout: body.layout.clone(),
            cameras: body.cameras.clone(),
            by: "supervisor".into(),
            updated_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        };
        let back = NamedView::from_shared(&shared).unwrap();
        assert_eq!(back.layout(), named.layout());
        assert_eq!(back.assigned, named.assigned);
        for l in ViewLayout::ALL {
            assert_eq!(layout_of_wire(&wire_layout(l)), Some(l));
            assert!(
                crate::domain::VIEW_LAYOUTS
                    .iter()
                    .any(|(w, n)| *w == wire_layout(l) && *n == l.tile_count()),
                "{l:?} known to the site"
            );
        }
        let mut odd = shared;
        odd.layout = "9x9".into();
        assert_eq!(NamedView::from_shared(&odd), None);
    }

    #[test]
    fn detached_windows_open_close_and_repair() {
        let mut d = Vec::new();
        let v = live(3, &[(1, "cam-2")]);
        let a = detach(&mut d, "Lobby", &v).unwrap();
        let b = detach(&mut d, "", &v).unwrap();
        assert_ne!(a, b);
        assert_eq!(d[1].title, "Cameras");
        assert_eq!(d[0].view, v);
        assert!(close_detached(&mut d, a));
        assert!(!close_detached(&mut d, a));
        assert_eq!(d.len(), 1);
        // A fresh id never repeats an open one.
        let c = detach(&mut d, "Gate", &v).unwrap();
        assert!(c != b);
        while detach(&mut d, "more", &v).is_some() {}
        assert_eq!(d.len(), MAX_DETACHED);
        // What a damaged save holds is put right.
        let mut loaded = vec![
            DetachedView {
                id: 4,
                pos: Some([f32::NAN, 0.0]),
                size: Some([10.0, 10.0]),
                ..DetachedView::default()
            },
            DetachedView {
                id: 4,
                ..DetachedView::default()
            },
            DetachedView {
                id: 0,
                ..DetachedView::default()
            },
        ];
        repair_detached(&mut loaded);
        assert_eq!(loaded.len(), 1);
        assert_eq!((loaded[0].pos, loaded[0].size), (None, None));
    }
}

//! The floor map's view: which floor shows, and how the plan sits in the
//! panel (zoom and pan), with the transform between plan pixels and screen
//! points. Plain data, no egui: the UI converts to its own types.
//!
//! The view is kept as the plan point at the panel's centre and a zoom
//! relative to "fit" (the whole plan in the panel), so a resized panel keeps
//! showing the same place and "fit on open" is `zoom = 1` at the plan's
//! centre.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::domain::{FloorMap, MapId, MapPlacements, Placement};

/// The closest zoom out, relative to fit.
pub const MIN_ZOOM: f32 = 0.25;
/// The closest zoom in, relative to fit.
pub const MAX_ZOOM: f32 = 32.0;
/// A camera's field of view when its placement gives none, in degrees.
pub const DEFAULT_FOV_DEG: f32 = 60.0;

/// A point: plan pixels or screen points, by context.
pub type Point = [f32; 2];

/// A rectangle on screen: its top-left corner and its size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    pub min: Point,
    pub size: [f32; 2],
}

impl Viewport {
    fn center(&self) -> Point {
        [
            self.min[0] + self.size[0] / 2.0,
            self.min[1] + self.size[1] / 2.0,
        ]
    }
}

/// Plan pixels to screen points: `screen = offset + plan * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapTransform {
    /// Screen points per plan pixel.
    pub scale: f32,
    /// Where the plan's origin (its top-left corner) lands on screen.
    pub offset: Point,
}

impl MapTransform {
    pub fn screen_from_plan(&self, p: Point) -> Point {
        [
            self.offset[0] + p[0] * self.scale,
            self.offset[1] + p[1] * self.scale,
        ]
    }

    pub fn plan_from_screen(&self, s: Point) -> Point {
        [
            (s[0] - self.offset[0]) / self.scale,
            (s[1] - self.offset[1]) / self.scale,
        ]
    }
}

/// The map panel's state: in memory only for now (what would persist: the
/// selected floor, perhaps zoom and centre per floor).
#[derive(Debug, Clone, PartialEq)]
pub struct MapView {
    /// The floor shown; none: the site's first.
    pub floor: Option<MapId>,
    /// Relative to fit: 1 shows the whole plan.
    pub zoom: f32,
    /// The plan point at the panel's centre, in plan pixels; none: the
    /// plan's centre (fit on open).
    pub center: Option<Point>,
    /// The edit in progress (an admin placing doors and cameras), if any.
    pub edit: Option<MapEdit>,
}

impl Default for MapView {
    fn default() -> Self {
        Self {
            floor: None,
            zoom: 1.0,
            center: None,
            edit: None,
        }
    }
}

/// What a placement places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placed {
    Door,
    Camera,
}

/// The outcome of a save of the map editor, as the worker reports it
/// (`save` is the number [`MapEdit::begin_save`] gave the save).
#[derive(Debug, Clone, PartialEq)]
pub struct MapSaved {
    pub save: u64,
    pub result: Result<(), String>,
}

/// The map editor's edit of one floor: the placements as they will be
/// sent (the whole list), whether they differ from the site's, and the
/// save in flight or its failure. Plain data; the UI drags, this moves.
#[derive(Debug, Clone, PartialEq)]
pub struct MapEdit {
    pub map: MapId,
    /// The plan's size in plan pixels: placements stay inside it.
    pub plan: [f32; 2],
    pub doors: Vec<Placement>,
    pub cameras: Vec<Placement>,
    /// Changed since it was started (or last saved).
    pub dirty: bool,
    /// The save in flight, by its number.
    pub saving: Option<u64>,
    /// Why the last save failed; the edits are kept.
    pub error: Option<String>,
}

/// Numbers saves, so a late answer to an older one is not taken for this one.
static SAVES: AtomicU64 = AtomicU64::new(1);

impl MapEdit {
    /// An edit of `map` as the site has it.
    pub fn start(map: &FloorMap) -> Self {
        Self {
            map: map.id.clone(),
            plan: [map.width as f32, map.height as f32],
            doors: map.doors.clone(),
            cameras: map.cameras.clone(),
            dirty: false,
            saving: None,
            error: None,
        }
    }

    fn list(&self, kind: Placed) -> &Vec<Placement> {
        match kind {
            Placed::Door => &self.doors,
            Placed::Camera => &self.cameras,
        }
    }

    fn list_mut(&mut self, kind: Placed) -> &mut Vec<Placement> {
        match kind {
            Placed::Door => &mut self.doors,
            Placed::Camera => &mut self.cameras,
        }
    }

    /// `at` kept on the plan (a non-number goes to the origin).
    pub fn clamp(&self, at: Point) -> Point {
        let c = |v: f32, max: f32| {
            if v.is_finite() {
                v.clamp(0.0, max)
            } else {
                0.0
            }
        };
        [c(at[0], self.plan[0]), c(at[1], self.plan[1])]
    }

    /// Where `id` is placed on this floor, if it is.
    pub fn placement(&self, kind: Placed, id: &str) -> Option<&Placement> {
        self.list(kind).iter().find(|p| p.id == id)
    }

    /// Moves `id` to `at` (plan pixels, clamped to the plan). False when it
    /// is not on this floor.
    pub fn move_to(&mut self, kind: Placed, id: &str, at: Point) -> bool {
        let at = self.clamp(at);
        let Some(p) = self.list_mut(kind).iter_mut().find(|p| p.id == id) else {
            return false;
        };
        if [p.x, p.y] != at {
            [p.x, p.y] = at;
            self.dirty = true;
        }
        true
    }

    /// Places `id`, not yet on this floor, at `at` (clamped); a camera
    /// looks up with the default field of view. Already placed: moved.
    pub fn place(&mut self, kind: Placed, id: &str, at: Point) {
        if self.move_to(kind, id, at) {
            return;
        }
        let [x, y] = self.clamp(at);
        let direction_deg = (kind == Placed::Camera).then_some(0.0);
        self.list_mut(kind).push(Placement {
            id: id.to_owned(),
            x,
            y,
            direction_deg,
            fov_deg: None,
        });
        self.dirty = true;
    }

    /// Takes `id` off this floor.
    pub fn remove(&mut self, kind: Placed, id: &str) {
        let list = self.list_mut(kind);
        let before = list.len();
        list.retain(|p| p.id != id);
        if list.len() != before {
            self.dirty = true;
        }
    }

    /// Turns camera `id` to look at `towards` (plan pixels); a point on
    /// the camera itself changes nothing.
    pub fn turn_towards(&mut self, id: &str, towards: Point) {
        let Some(p) = self.placement(Placed::Camera, id) else {
            return;
        };
        let (dx, dy) = (towards[0] - p.x, towards[1] - p.y);
        if !(dx.is_finite() && dy.is_finite()) || dx.hypot(dy) < 1e-3 {
            return;
        }
        // Clockwise from the plan's up; plan y grows downwards.
        self.set_direction(id, dx.atan2(-dy).to_degrees());
    }

    /// Sets camera `id`'s direction, normalised to 0..360.
    pub fn set_direction(&mut self, id: &str, deg: f32) {
        if !deg.is_finite() {
            return;
        }
        let mut d = deg.rem_euclid(360.0);
        if d >= 360.0 {
            d = 0.0;
        }
        if let Some(p) = self.cameras.iter_mut().find(|p| p.id == id)
            && p.direction_deg != Some(d)
        {
            p.direction_deg = Some(d);
            self.dirty = true;
        }
    }

    /// Of `ids` (the site's doors or cameras), those on no floor: neither
    /// in this edit nor on `maps` other than this one.
    pub fn unplaced<'a>(
        &self,
        kind: Placed,
        ids: impl IntoIterator<Item = &'a str>,
        maps: &[FloorMap],
    ) -> Vec<&'a str> {
        let elsewhere = |id: &str| {
            maps.iter().filter(|m| m.id != self.map).any(|m| {
                let list = match kind {
                    Placed::Door => &m.doors,
                    Placed::Camera => &m.cameras,
                };
                list.iter().any(|p| p.id == id)
            })
        };
        ids.into_iter()
            .filter(|id| self.placement(kind, id).is_none() && !elsewhere(id))
            .collect()
    }

    /// The body of the save, each figure to a tenth of a plan pixel or
    /// degree, so the file written reads as a hand-written one
    /// (`y = 284.1`, not `y = 284.06796`).
    pub fn body(&self) -> MapPlacements {
        let tenth = |v: f32| (v * 10.0).round() / 10.0;
        let round = |list: &[Placement]| {
            list.iter()
                .map(|p| Placement {
                    id: p.id.clone(),
                    x: tenth(p.x),
                    y: tenth(p.y),
                    direction_deg: p.direction_deg.map(tenth),
                    fov_deg: p.fov_deg.map(tenth),
                })
                .collect()
        };
        MapPlacements {
            doors: round(&self.doors),
            cameras: round(&self.cameras),
        }
    }

    /// Marks a save as sent; its number, for [`MapEdit::finish_save`].
    pub fn begin_save(&mut self) -> u64 {
        let n = SAVES.fetch_add(1, Ordering::Relaxed);
        self.saving = Some(n);
        self.error = None;
        n
    }

    /// Takes the outcome of a save: true when this edit's save succeeded
    /// (the edit is done); a failure keeps the edits with its reason; an
    /// answer to another save changes nothing.
    pub fn finish_save(&mut self, outcome: &MapSaved) -> bool {
        if self.saving != Some(outcome.save) {
            return false;
        }
        self.saving = None;
        match &outcome.result {
            Ok(()) => {
                self.dirty = false;
                true
            }
            Err(message) => {
                self.error = Some(message.clone());
                false
            }
        }
    }
}

/// The scale at which a `plan` (width, height in pixels) just fits `viewport`.
fn fit_scale(viewport: &Viewport, plan: [f32; 2]) -> f32 {
    let sx = viewport.size[0] / plan[0].max(1.0);
    let sy = viewport.size[1] / plan[1].max(1.0);
    let s = sx.min(sy);
    if s.is_finite() && s > 0.0 { s } else { 1.0 }
}

impl MapView {
    /// Shows `floor`, fitted.
    pub fn select_floor(&mut self, floor: MapId) {
        self.floor = Some(floor);
        self.fit();
    }

    /// The whole plan, centred.
    pub fn fit(&mut self) {
        self.zoom = 1.0;
        self.center = None;
    }

    /// The transform for a plan of `plan` pixels drawn in `viewport`.
    pub fn transform(&self, viewport: &Viewport, plan: [f32; 2]) -> MapTransform {
        let scale = fit_scale(viewport, plan) * self.zoom.clamp(MIN_ZOOM, MAX_ZOOM);
        let center = self.center.unwrap_or([plan[0] / 2.0, plan[1] / 2.0]);
        let vc = viewport.center();
        MapTransform {
            scale,
            offset: [vc[0] - center[0] * scale, vc[1] - center[1] * scale],
        }
    }

    /// Moves the plan by `delta` screen points (a drag).
    pub fn pan(&mut self, viewport: &Viewport, plan: [f32; 2], delta: [f32; 2]) {
        let t = self.transform(viewport, plan);
        let vc = viewport.center();
        let c = t.plan_from_screen([vc[0] - delta[0], vc[1] - delta[1]]);
        // The centre stays on the plan, so the plan cannot be lost.
        self.center = Some([c[0].clamp(0.0, plan[0]), c[1].clamp(0.0, plan[1])]);
    }

    /// Zooms by `factor` keeping the plan point under `at` (a screen point)
    /// where it is.
    pub fn zoom_at(&mut self, viewport: &Viewport, plan: [f32; 2], at: Point, factor: f32) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let before = self.transform(viewport, plan);
        let anchor = before.plan_from_screen(at);
        self.zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let scale = fit_scale(viewport, plan) * self.zoom;
        let vc = viewport.center();
        // The centre such that `anchor` lands on `at` again.
        self.center = Some([
            anchor[0] + (vc[0] - at[0]) / scale,
            anchor[1] + (vc[1] - at[1]) / scale,
        ]);
    }
}

/// The field-of-view wedge of a camera at `at` looking `direction_deg`
/// (clockwise from the plan's up) with `fov_deg`, `radius` plan pixels
/// long: the apex then points along the arc, in plan pixels.
pub fn fov_wedge(at: Point, direction_deg: f32, fov_deg: f32, radius: f32) -> Vec<Point> {
    let fov = fov_deg.clamp(1.0, 360.0);
    let steps = ((fov / 10.0).ceil() as usize).max(2);
    let start = direction_deg - fov / 2.0;
    let mut points = vec![at];
    for i in 0..=steps {
        let a = (start + fov * i as f32 / steps as f32).to_radians();
        points.push([at[0] + radius * a.sin(), at[1] - radius * a.cos()]);
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Point, b: Point, tol: f32) -> bool {
        (a[0] - b[0]).abs() <= tol && (a[1] - b[1]).abs() <= tol
    }

    const VIEWPORTS: [Viewport; 3] = [
        Viewport {
            min: [0.0, 0.0],
            size: [800.0, 600.0],
        },
        Viewport {
            min: [310.5, 42.0],
            size: [300.0, 900.0],
        },
        Viewport {
            min: [-20.0, 5.0],
            size: [1920.0, 200.0],
        },
    ];
    const PLANS: [[f32; 2]; 4] = [[1200.0, 800.0], [100.0, 3000.0], [4000.0, 50.0], [1.0, 1.0]];

    #[test]
    fn round_trips_at_every_zoom_and_shape() {
        for vp in VIEWPORTS {
            for plan in PLANS {
                for zoom in [MIN_ZOOM, 0.5, 1.0, 3.7, MAX_ZOOM] {
                    let view = MapView {
                        zoom,
                        center: Some([plan[0] * 0.3, plan[1] * 0.8]),
                        ..MapView::default()
                    };
                    let t = view.transform(&vp, plan);
                    for p in [[0.0, 0.0], plan, [plan[0] * 0.25, plan[1] * 0.75]] {
                        let back = t.plan_from_screen(t.screen_from_plan(p));
                        let tol = 1e-3 * plan[0].max(plan[1]);
                        assert!(
                            close(back, p, tol),
                            "{p:?} -> {back:?} ({vp:?} {plan:?} {zoom})"
                        );
                    }
                    for s in [vp.min, [vp.min[0] + vp.size[0], vp.min[1] + vp.size[1]]] {
                        let back = t.screen_from_plan(t.plan_from_screen(s));
                        assert!(close(back, s, 1e-2), "{s:?} -> {back:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn fit_shows_the_whole_plan_centred() {
        for vp in VIEWPORTS {
            for plan in PLANS {
                let t = MapView::default().transform(&vp, plan);
                let a = t.screen_from_plan([0.0, 0.0]);
                let b = t.screen_from_plan(plan);
                let end = [vp.min[0] + vp.size[0], vp.min[1] + vp.size[1]];
                assert!(
                    a[0] >= vp.min[0] - 0.01 && a[1] >= vp.min[1] - 0.01,
                    "{a:?}"
                );
                assert!(b[0] <= end[0] + 0.01 && b[1] <= end[1] + 0.01, "{b:?}");
                // One side touches both edges: fitted, not just inside.
                let touches_x = (a[0] - vp.min[0]).abs() < 0.01 && (b[0] - end[0]).abs() < 0.01;
                let touches_y = (a[1] - vp.min[1]).abs() < 0.01 && (b[1] - end[1]).abs() < 0.01;
                assert!(touches_x || touches_y, "{vp:?} {plan:?}: {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn zoom_keeps_the_point_under_the_pointer_and_clamps() {
        let vp = VIEWPORTS[0];
        let plan = PLANS[0];
        let mut view = MapView::default();
        let at = [200.0, 450.0];
        let under = view.transform(&vp, plan).plan_from_screen(at);
        view.zoom_at(&vp, plan, at, 2.5);
        assert!((view.zoom - 2.5).abs() < 1e-6);
        let still = view.transform(&vp, plan).plan_from_screen(at);
        assert!(close(under, still, 1e-3), "{under:?} {still:?}");
        for _ in 0..40 {
            view.zoom_at(&vp, plan, at, 2.0);
        }
        assert_eq!(view.zoom, MAX_ZOOM);
        for _ in 0..40 {
            view.zoom_at(&vp, plan, at, 0.5);
        }
        assert_eq!(view.zoom, MIN_ZOOM);
        view.zoom_at(&vp, plan, at, f32::NAN);
        view.zoom_at(&vp, plan, at, 0.0);
        assert_eq!(view.zoom, MIN_ZOOM);
        view.fit();
        assert_eq!(view, MapView::default());
    }

    #[test]
    fn pan_moves_the_plan_with_the_pointer_and_keeps_it_in_sight() {
        let vp = VIEWPORTS[0];
        let plan = PLANS[0];
        let mut view = MapView {
            zoom: 4.0,
            ..MapView::default()
        };
        let p = [600.0, 400.0];
        let before = view.transform(&vp, plan).screen_from_plan(p);
        view.pan(&vp, plan, [30.0, -12.0]);
        let after = view.transform(&vp, plan).screen_from_plan(p);
        assert!(close(after, [before[0] + 30.0, before[1] - 12.0], 1e-3));
        view.pan(&vp, plan, [1e9, 1e9]);
        assert_eq!(view.center, Some([0.0, 0.0]));
    }

    #[test]
    fn degenerate_viewports_give_a_usable_transform() {
        let vp = Viewport {
            min: [0.0, 0.0],
            size: [0.0, 0.0],
        };
        let t = MapView::default().transform(&vp, [0.0, 0.0]);
        assert!(t.scale.is_finite() && t.scale > 0.0);
        let back = t.plan_from_screen(t.screen_from_plan([3.0, 4.0]));
        assert!(close(back, [3.0, 4.0], 1e-4));
    }

    #[test]
    fn fov_wedge_points_where_the_camera_looks() {
        // Looking right (90°): the arc's middle is right of the camera.
        let w = fov_wedge([100.0, 100.0], 90.0, 60.0, 50.0);
        assert_eq!(w[0], [100.0, 100.0]);
        let mid = w[1 + (w.len() - 1) / 2];
        assert!(close(mid, [150.0, 100.0], 5.0), "{mid:?}");
        // Looking up (0°): plan y grows downwards.
        let w = fov_wedge([100.0, 100.0], 0.0, 20.0, 50.0);
        assert!(w[1..].iter().all(|p| p[1] < 60.0), "{w:?}");
    }
    fn floor() -> FloorMap {
        let at = |id: &str, x, y| Placement {
            id: id.into(),
            x,
            y,
            direction_deg: None,
            fov_deg: None,
        };
        FloorMap {
            id: MapId::new("f1"),
            name: "F1".into(),
            image: "f1.png".into(),
            width: 200,
            height: 100,
            doors: vec![at("d1", 10.0, 10.0)],
            cameras: vec![at("c1", 50.0, 50.0)],
        }
    }

    #[test]
    fn edit_moves_clamps_and_marks_dirty() {
        let mut e = MapEdit::start(&floor());
        assert!(!e.dirty);
        assert!(e.move_to(Placed::Door, "d1", [10.0, 10.0]));
        assert!(!e.dirty, "no move, nothing to save");
        assert!(e.move_to(Placed::Door, "d1", [500.0, -3.0]));
        assert_eq!(
            e.placement(Placed::Door, "d1").map(|p| [p.x, p.y]),
            Some([200.0, 0.0])
        );
        assert!(e.dirty);
        assert!(!e.move_to(Placed::Door, "c1", [1.0, 1.0]), "c1 is a camera");
        e.move_to(Placed::Camera, "c1", [f32::NAN, 40.0]);
        assert_eq!(
            e.placement(Placed::Camera, "c1").map(|p| [p.x, p.y]),
            Some([0.0, 40.0])
        );
        assert_eq!(e.body().doors[0].x, 200.0);
        e.move_to(Placed::Door, "d1", [84.06796, 12.34]);
        e.set_direction("c1", 33.333);
        let body = e.body();
        assert_eq!([body.doors[0].x, body.doors[0].y], [84.1, 12.3]);
        assert_eq!(body.cameras[0].direction_deg, Some(33.3));
        assert_eq!(
            e.placement(Placed::Door, "d1").map(|p| p.x),
            Some(84.06796),
            "the edit itself keeps the exact place"
        );
    }

    #[test]
    fn edit_turns_a_camera_towards_a_point() {
        let mut e = MapEdit::start(&floor());
        let dir = |e: &MapEdit| {
            e.placement(Placed::Camera, "c1")
                .and_then(|p| p.direction_deg)
        };
        for (towards, want) in [
            ([50.0, 0.0], 0.0),
            ([100.0, 50.0], 90.0),
            ([50.0, 90.0], 180.0),
            ([0.0, 50.0], 270.0),
            ([100.0, 0.0], 45.0),
        ] {
            e.turn_towards("c1", towards);
            let got = dir(&e).expect("a direction");
            assert!((got - want).abs() < 1e-3, "{towards:?}: {got} != {want}");
        }
        assert!(e.dirty);
        e.turn_towards("c1", [50.0, 50.0]);
        assert!(
            (dir(&e).expect("kept") - 45.0).abs() < 1e-3,
            "on itself: unchanged"
        );
        e.set_direction("c1", -90.0);
        assert_eq!(dir(&e), Some(270.0));
        e.set_direction("c1", 720.0);
        assert_eq!(dir(&e), Some(0.0));
        e.set_direction("c1", f32::INFINITY);
        assert_eq!(dir(&e), Some(0.0));
    }

    #[test]
    fn edit_places_what_no_floor_has() {
        let mut other = floor();
        other.id = MapId::new("f2");
        other.doors[0].id = "d2".into();
        other.cameras.clear();
        let maps = [floor(), other];
        let mut e = MapEdit::start(&maps[0]);
        let doors = ["d1", "d2", "d3"];
        assert_eq!(e.unplaced(Placed::Door, doors, &maps), ["d3"]);
        assert_eq!(e.unplaced(Placed::Camera, ["c1", "c2"], &maps), ["c2"]);
        e.place(Placed::Door, "d3", [300.0, 20.0]);
        assert!(e.dirty);
        assert_eq!(
            e.placement(Placed::Door, "d3").map(|p| [p.x, p.y]),
            Some([200.0, 20.0])
        );
        assert!(e.unplaced(Placed::Door, doors, &maps).is_empty());
        e.place(Placed::Camera, "c2", [5.0, 5.0]);
        assert_eq!(
            e.placement(Placed::Camera, "c2")
                .and_then(|p| p.direction_deg),
            Some(0.0)
        );
        // Placing what is there moves it, never a second copy.
        e.place(Placed::Door, "d3", [1.0, 2.0]);
        assert_eq!(e.doors.iter().filter(|p| p.id == "d3").count(), 1);
        e.remove(Placed::Door, "d3");
        assert_eq!(e.unplaced(Placed::Door, doors, &maps), ["d3"]);
    }

    #[test]
    fn a_save_finishes_only_with_its_own_answer() {
        let mut e = MapEdit::start(&floor());
        e.move_to(Placed::Door, "d1", [20.0, 20.0]);
        let n = e.begin_save();
        let other = MapSaved {
            save: n + 1000,
            result: Ok(()),
        };
        assert!(!e.finish_save(&other));
        assert_eq!(e.saving, Some(n));
        let failed = MapSaved {
            save: n,
            result: Err("no".into()),
        };
        assert!(!e.finish_save(&failed));
        assert_eq!(
            (e.saving, e.error.as_deref(), e.dirty),
            (None, Some("no"), true)
        );
        assert_eq!(
            e.placement(Placed::Door, "d1").map(|p| p.x),
            Some(20.0),
            "edits kept"
        );
        let n = e.begin_save();
        assert_eq!(e.error, None);
        assert!(e.finish_save(&MapSaved {
            save: n,
            result: Ok(())
        }));
        assert!(!e.dirty);
    }
}

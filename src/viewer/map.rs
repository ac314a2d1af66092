//! The floor map's view: which floor shows, and how the plan sits in the
//! panel (zoom and pan), with the transform between plan pixels and screen
//! points. Plain data, no egui: the UI converts to its own types.
//!
//! The view is kept as the plan point at the panel's centre and a zoom
//! relative to "fit" (the whole plan in the panel), so a resized panel keeps
//! showing the same place and "fit on open" is `zoom = 1` at the plan's
//! centre.

use crate::domain::MapId;

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
}

impl Default for MapView {
    fn default() -> Self {
        Self {
            floor: None,
            zoom: 1.0,
            center: None,
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
                        floor: None,
                        zoom,
                        center: Some([plan[0] * 0.3, plan[1] * 0.8]),
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
}

//! How the operator arranged the window: which view is shown and how the
//! cameras are laid out. The UI changes it directly (it is the view's own
//! state, not the site's).

use crate::domain::CameraId;

/// The main area's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MainView {
    /// Access requests and the door list.
    #[default]
    Doors,
    /// The camera grid.
    Cameras,
}

/// What only the view keeps: the sign-in form's text, which view is shown,
/// and how the cameras are laid out.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    pub username: String,
    /// Cleared as soon as it is sent.
    pub password: String,
    pub main: MainView,
    pub cameras: CamerasView,
}

impl ViewState {
    /// The view for `state`: the demo site's form is prefilled.
    pub fn new(state: &super::AppState) -> Self {
        Self {
            username: if state.demo {
                "operator".into()
            } else {
                String::new()
            },
            password: String::new(),
            main: MainView::default(),
            cameras: CamerasView::default(),
        }
    }
}

/// The grid sizes offered (tiles a side).
pub const GRID_SIDES: [usize; 4] = [1, 2, 3, 4];

/// How the camera view is laid out (kept by the view, not the site).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CamerasView {
    /// Tiles a side: 1 to 4.
    pub side: usize,
    /// The index of the camera in the first tile (paging).
    pub first: usize,
    /// The camera shown alone, if any.
    pub single: Option<CameraId>,
    /// Whether the stats overlay shows.
    pub show_stats: bool,
    /// Repeat the cameras to fill every tile (a wall test with few cameras).
    pub fill: bool,
}

impl Default for CamerasView {
    fn default() -> Self {
        Self {
            side: 2,
            first: 0,
            single: None,
            show_stats: false,
            fill: false,
        }
    }
}

impl CamerasView {
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
}

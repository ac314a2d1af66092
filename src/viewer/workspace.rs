//! How the operator arranged the window, and what of it survives a restart.
//!
//! [`Workspace`] is persisted (the shell saves it through eframe's storage
//! and loads it at start): the main view, the cameras' layout, panel sizes
//! and the sites signed in to before (address and last user name, never a
//! password or token). It is `#[serde(default)]` and carries a `version`, so
//! an older or partial workspace loads with defaults for what it lacks.
//! [`ViewState`] is what the UI may change: the workspace, and the sign-in
//! form, which is never saved.

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

/// The persisted arrangement of the window. See the module doc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Workspace {
    /// The shape this was saved in; [`Workspace::CURRENT`] once loaded.
    pub version: u32,
    /// The view the window shows, and opens on at the next start.
    pub main: MainView,
    /// The cameras view's layout and cameras.
    pub cameras: CamerasView,
    pub panels: Panels,
    /// Sites signed in to, the most recent first, at most [`KNOWN_SITES`].
    pub sites: Vec<KnownSite>,
}

/// How many known sites the workspace remembers.
pub const KNOWN_SITES: usize = 8;

/// Panel sizes, in points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Panels {
    /// The width of the event list on the right.
    pub events_width: f32,
}

impl Default for Panels {
    fn default() -> Self {
        Self {
            events_width: DEFAULT_EVENTS_WIDTH,
        }
    }
}

/// The event list's width when none is saved.
pub const DEFAULT_EVENTS_WIDTH: f32 = 480.0;

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
            panels: Panels::default(),
            sites: Vec::new(),
        }
    }
}

impl Workspace {
    /// The shape this build writes. Version 0 is what the client saved
    /// before there was a workspace: nothing, or any subset of the fields.
    pub const CURRENT: u32 = 1;

    /// A loaded workspace made current and sane: what an older or newer
    /// shape lacks is defaulted by serde; here values out of range are put
    /// back in it.
    pub fn upgraded(mut self) -> Self {
        // Version 0 had no fields this one does not: nothing to carry over.
        self.version = Self::CURRENT;
        if !GRID_SIDES.contains(&self.cameras.side) {
            self.cameras.side = CamerasView::default().side;
        }
        let w = self.panels.events_width;
        if !(w.is_finite() && (MIN_EVENTS_WIDTH..=MAX_EVENTS_WIDTH).contains(&w)) {
            self.panels.events_width = DEFAULT_EVENTS_WIDTH;
        }
        self.sites.retain(|s| !s.address.trim().is_empty());
        self.sites.truncate(KNOWN_SITES);
        self
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
    /// `cameras` or `cameras:4x4:fill`; it wins over the saved view. False
    /// when the text is not understood (nothing changes then).
    pub fn apply_start_view(&mut self, text: &str) -> bool {
        if text.trim() == "doors" {
            self.main = MainView::Doors;
            return true;
        }
        match CamerasView::parse_start(text) {
            Some(cameras) => {
                self.main = MainView::Cameras;
                self.cameras = cameras;
                true
            }
            None => false,
        }
    }
}

/// The narrowest and widest event list a saved width may ask for.
const MIN_EVENTS_WIDTH: f32 = 120.0;
const MAX_EVENTS_WIDTH: f32 = 4_000.0;

/// What the UI may change: the persisted workspace, and the sign-in form's
/// text (never saved).
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    pub workspace: Workspace,
    pub form: SignInForm,
    /// The doors panel's filter and selection (not persisted).
    pub doors: super::DoorsPanel,
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
        }
    }
}

/// The grid sizes offered (tiles a side).
pub const GRID_SIDES: [usize; 4] = [1, 2, 3, 4];

/// How the camera view is laid out (kept by the view, not the site).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
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
        assert_eq!(old.panels.events_width, DEFAULT_EVENTS_WIDTH);
        assert!(old.sites.is_empty());
    }

    #[test]
    fn a_saved_workspace_round_trips() {
        let mut w = Workspace {
            main: MainView::Cameras,
            cameras: CamerasView {
                side: 4,
                first: 16,
                single: Some(CameraId::new("cam-3")),
                show_stats: true,
                fill: true,
            },
            panels: Panels {
                events_width: 360.0,
            },
            ..Workspace::default()
        };
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
        assert_eq!(w.panels.events_width, DEFAULT_EVENTS_WIDTH);
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
        let mut w = saved.clone();
        assert!(!w.apply_start_view("maps"));
        assert_eq!(w, saved);
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

//! The workspace in eframe's storage (RON under [`WORKSPACE_KEY`], in the
//! file eframe keeps for the app): loaded once when the window opens, saved
//! by eframe at exit and every 30 s.

use crate::viewer::{Workspace, WorkspaceSansDocks};

/// The storage key of the workspace.
pub const WORKSPACE_KEY: &str = "workspace";

/// The saved workspace, upgraded to the current shape; when its docks
/// cannot be read (a later build's panel, a damaged tree), the rest of it
/// with the preset docks; the default when there is no storage, nothing
/// saved, or what is saved cannot be read at all.
pub fn load_workspace(storage: Option<&dyn eframe::Storage>) -> Workspace {
    storage
        .and_then(|s| {
            eframe::get_value::<Workspace>(s, WORKSPACE_KEY).or_else(|| {
                eframe::get_value::<WorkspaceSansDocks>(s, WORKSPACE_KEY).map(Workspace::from)
            })
        })
        .unwrap_or_default()
        .upgraded()
}

/// Saves `workspace` for the next start.
pub fn save_workspace(storage: &mut dyn eframe::Storage, workspace: &Workspace) {
    eframe::set_value(storage, WORKSPACE_KEY, workspace);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use eframe::Storage as _;

    use super::*;
    use crate::domain::CameraId;
    use crate::viewer::{CamerasView, MainView, OPERATIONS, Pane};

    #[derive(Default)]
    struct Memory(HashMap<String, String>);

    impl eframe::Storage for Memory {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    #[test]
    fn the_workspace_round_trips_through_eframe_storage() {
        assert_eq!(load_workspace(None), Workspace::default());
        let mut storage = Memory::default();
        assert_eq!(load_workspace(Some(&storage)), Workspace::default());
        let mut w = Workspace {
            cameras: CamerasView {
                side: 3,
                ..CamerasView::default()
            },
            ..Workspace::default()
        };
        w.focus(Pane::Cameras);
        w.dock_mut().close(Pane::Events);
        w.signed_in("https://site.example", "ada");
        // Private views and detached windows come back too.
        let mut live = CamerasView::default();
        live.assign(1, CameraId::new("cam-2"));
        crate::viewer::views::save_view(&mut w.views, "Lobby", &live, false);
        crate::viewer::views::detach(&mut w.detached, "Gate", &live);
        w.detached[0].pos = Some([1920.0, 0.0]);
        w.detached[0].size = Some([800.0, 600.0]);
        save_workspace(&mut storage, &w);
        let back = load_workspace(Some(&storage));
        assert_eq!(back.views.len(), 1);
        assert_eq!(back.detached.len(), 1);
        assert_eq!(back, w);
        // A window closed is not there at the next start.
        let id = w.detached[0].id;
        crate::viewer::views::close_detached(&mut w.detached, id);
        save_workspace(&mut storage, &w);
        assert!(load_workspace(Some(&storage)).detached.is_empty());
    }

    #[test]
    fn an_older_or_broken_workspace_loads() {
        let mut storage = Memory::default();
        // Version 0 (RON, as eframe writes it): only some fields.
        storage.set_string(WORKSPACE_KEY, "(main: Cameras)".into());
        let w = load_workspace(Some(&storage));
        assert_eq!(w.version, Workspace::CURRENT);
        assert_eq!(w.main, MainView::Cameras);
        assert_eq!(w.cameras, CamerasView::default());
        storage.set_string(WORKSPACE_KEY, "(main: Elsewhere".into());
        assert_eq!(load_workspace(Some(&storage)), Workspace::default());
    }

    /// What version 1 wrote (RON, as eframe stores it), word for word.
    const VERSION_1: &str = r#"(version:1,main:Cameras,cameras:(side:3,first:9,single:Some("cam-2"),show_stats:true,fill:false),panels:(events_width:360.0),sites:[(address:"https://site.example",last_username:"ada")])"#;

    #[test]
    fn a_version_1_workspace_loads_into_docks() {
        let mut storage = Memory::default();
        storage.set_string(WORKSPACE_KEY, VERSION_1.into());
        let w = load_workspace(Some(&storage));
        assert_eq!(w.version, Workspace::CURRENT);
        assert_eq!(w.main, MainView::Cameras);
        assert_eq!(
            w.cameras,
            CamerasView {
                side: 3,
                first: 9,
                single: Some(CameraId::new("cam-2")),
                show_stats: true,
                fill: false,
                ..CamerasView::default()
            }
        );
        assert_eq!(w.last_username("https://site.example"), Some("ada"));
        // Saved before there were named views or detached windows.
        assert!(w.views.is_empty() && w.detached.is_empty());
        assert_eq!(w.active_dock, OPERATIONS);
        assert!(w.dock().is_showing(Pane::Cameras), "opens on its main view");
        // (The cardholders are in the Investigation layout only.)
        for pane in Pane::ALL.into_iter().filter(|p| *p != Pane::Cardholders) {
            assert!(w.dock().is_open(pane), "{pane:?} open");
        }
        // What it writes now reads back the same, without the old width.
        save_workspace(&mut storage, &w);
        let text = storage.get_string(WORKSPACE_KEY).expect("saved");
        assert!(!text.contains("events_width"), "{text}");
        assert_eq!(load_workspace(Some(&storage)), w);
    }

    #[test]
    fn docks_that_cannot_be_read_leave_the_rest() {
        let mut storage = Memory::default();
        // A later build's panel in a layout this build cannot read.
        let later = VERSION_1.replace(
            "panels:(events_width:360.0)",
            r#"docks:[(name:"Operations",tree:(root:Some((1)),tiles:(tiles:{(1):Pane(Alarms)})))],active_dock:"Investigation""#,
        );
        storage.set_string(WORKSPACE_KEY, later);
        let w = load_workspace(Some(&storage));
        assert_eq!(w.cameras.side, 3, "the cameras layout kept");
        assert_eq!(w.last_username("https://site.example"), Some("ada"));
        assert_eq!(w.active_dock, crate::viewer::INVESTIGATION);
        assert_eq!(w.docks, Workspace::default().docks, "the preset docks");
    }
}

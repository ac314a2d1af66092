//! The workspace in eframe's storage (RON under [`WORKSPACE_KEY`], in the
//! file eframe keeps for the app): loaded once when the window opens, saved
//! by eframe at exit and every 30 s.

use crate::viewer::Workspace;

/// The storage key of the workspace.
pub const WORKSPACE_KEY: &str = "workspace";

/// The saved workspace, upgraded to the current shape; the default when
/// there is no storage, nothing saved, or what is saved cannot be read.
pub fn load_workspace(storage: Option<&dyn eframe::Storage>) -> Workspace {
    storage
        .and_then(|s| eframe::get_value::<Workspace>(s, WORKSPACE_KEY))
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
    use crate::viewer::{CamerasView, MainView};

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
            main: MainView::Cameras,
            cameras: CamerasView {
                side: 3,
                ..CamerasView::default()
            },
            ..Workspace::default()
        };
        w.signed_in("https://site.example", "ada");
        save_workspace(&mut storage, &w);
        assert_eq!(load_workspace(Some(&storage)), w);
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
}

//! The viewer context, in the spirit of rerun's `re_viewer_context`: what
//! the UI reads and how it asks for things, as plain data with no I/O.
//! The state ([`AppState`], changed only by [`AppState::apply`]: one
//! [`SiteMirror`] per site and the runtime-only [`Runtime`]), the view's
//! own arrangement ([`ViewState`]: the persisted [`Workspace`] and the
//! sign-in form), the commands the UI sends
//! ([`Command`] through a [`CommandSender`]), the events that change the
//! state ([`AppEvent`]), and the [`TileSource`] trait a video tile draws
//! from. `ui` depends on this room and `domain` only; the shell (`app`)
//! wires the worker and the video engine to it.

mod command;
mod doors_panel;
mod event;
pub mod map;
mod mirror;
mod people;
pub mod photos;
pub mod playback;
mod state;
mod tile;
pub mod views;
mod workspace;

pub use command::{
    Badge, Command, CommandReceiver, CommandSender, PlacementList, SnapshotFrame, command_channel,
};
pub use doors_panel::{DoorFilter, DoorsPanel, GroupCommand};
pub use event::{AppEvent, StillImage};
pub use map::MapView;
pub use mirror::{
    COMMAND_DEADLINE_MS, CommandPhase, CommandView, DoorView, EVENT_LIST_LEN, Keyed, NO_ANSWER,
    SiteKey, SiteMirror,
};
pub use people::{
    BadgesOutcome, BadgesRefused, CARD_EVENTS_LEN, CARDHOLDER_EVENTS_LEN, CardholderCard,
    CredentialChange, OpenCardholder, People, SEARCH_RESULTS_LEN, SaveState, SearchResults,
};
pub use playback::{DoorMark, MarkKind, Playback, Recordings};
pub use state::{
    ACCESS_FEED_LEN, AppState, EventRate, Link, NOTICE_MS, Notice, NoticeLevel, RATE_WINDOW_SECS,
    RESOLVED_SHOWN_MS, Reach, ResolvedRequest, Runtime, SignInPhase, may_command_door,
    may_decide_requests, may_view_recordings,
};
pub use tile::{
    StreamChoice, TileError, TileFrame, TilePlayback, TileRequest, TileSource, TileStats,
    TileStatus, TileView,
};
pub use views::{DetachedView, NamedView};
pub use workspace::{
    CamerasView, Dock, GRID_SIDES, INVESTIGATION, KNOWN_SITES, KnownSite, MainView, MixedLayout,
    OPERATIONS, PRESET_DOCKS, Pane, SignInForm, TileCells, ViewLayout, ViewState, Workspace,
    WorkspaceSansDocks,
};

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The `crate::ROOM` paths that `code` uses, outside comments (also in
    /// grouped imports such as `use crate::{app, domain}`).
    fn rooms_used(code: &str, rooms: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let group = rest
                    .strip_prefix('{')
                    .map_or(rest, |g| g.split('}').next().unwrap_or(g));
                for room in rooms {
                    let uses = group
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .take(if rest.starts_with('{') { usize::MAX } else { 1 })
                        .any(|word| word == *room);
                    if uses {
                        found.push(format!("line {}: crate::{room}", n + 1));
                    }
                }
            }
        }
        found
    }

    /// Every `.rs` file under `src/<dir>`, with its text.
    fn sources(dir: &str) -> Vec<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
        let mut out = Vec::new();
        let mut todo = vec![root];
        while let Some(dir) = todo.pop() {
            for entry in std::fs::read_dir(&dir).expect("source folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    todo.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("source file");
                    out.push((path.display().to_string(), text));
                }
            }
        }
        assert!(!out.is_empty(), "no sources under src/{dir}");
        out
    }

    #[test]
    fn the_checker_sees_imports() {
        // Written so that this file does not name the rooms itself.
        let rooms = ["app", "video"];
        let c = "crate";
        let used = |code: String| rooms_used(&code, &rooms).len();
        assert_eq!(used(format!("use {c}::app::AppState;")), 1);
        assert_eq!(used(format!("use {c}::{{domain, video}};")), 1);
        assert_eq!(used(format!("x = {c}::video::Frame::default();")), 1);
        assert_eq!(used(format!("use {c}::viewer::AppState; // {c}::app")), 0);
        assert_eq!(
            used(format!("use {c}::videos::X; use {c}::domain::app;")),
            0
        );
    }

    /// `ui` draws from the viewer context and `domain` only: never the
    /// shell, the network, the site or GStreamer.
    #[test]
    fn ui_uses_neither_the_shell_nor_the_video_engine() {
        for (file, code) in sources("ui") {
            let found = rooms_used(&code, &["app", "video", "client", "site", "config"]);
            assert!(found.is_empty(), "{file} uses {found:?}");
        }
    }

    /// The viewer context knows no UI, shell, network or GStreamer.
    #[test]
    fn viewer_uses_only_domain() {
        for (file, code) in sources("viewer") {
            let found = rooms_used(&code, &["ui", "app", "video", "client", "site", "config"]);
            assert!(found.is_empty(), "{file} uses {found:?}");
        }
    }
}

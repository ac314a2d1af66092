//! The docked workspace, driven through AccessKit with egui_kittest: panels
//! moved by their tab, closed and reopened, named layouts switched from the
//! top bar, and all of it back after a restart.

use std::collections::HashMap;

use egui::accesskit::Role as AkRole;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use egui_tiles::{Container, Tile};
use tokio::sync::mpsc;

use watchdesk::app::{App, AppEvent, AppState, Command};
use watchdesk::domain::{
    AccessRequest, Door, DoorId, DoorStatus, DoorWithStatus, FailMode, RequestId, Role, Session,
    SiteInfo, Snapshot, Timestamp,
};
use watchdesk::viewer::{Dock, INVESTIGATION, OPERATIONS, Pane};

fn t(secs: i64) -> Timestamp {
    chrono::DateTime::from_timestamp(1_795_341_600 + secs, 0).expect("valid time")
}

fn state() -> AppState {
    let mut s = AppState::new(t(0), "http://site.example", true);
    s.apply(AppEvent::SignedIn(Session {
        token: "tok".into(),
        username: "operator".into(),
        role: Role::Operator,
        expires: t(3600),
    }));
    s.apply(AppEvent::Snapshot(Box::new(Snapshot {
        seq: 1,
        site: SiteInfo {
            name: "Harbour Works".into(),
            time_zone: "Europe/Berlin".into(),
            demo: true,
        },
        cameras: vec![],
        doors: vec![DoorWithStatus {
            door: Door {
                id: DoorId::new("door-lobby"),
                name: "Lobby main entrance".into(),
                zone: "perimeter".into(),
                map: None,
                fail_mode: FailMode::FailSafe,
                access_time_ms: 5000,
                held_open_threshold_ms: 20000,
                cameras: vec![],
            },
            status: DoorStatus::locked_closed(),
            changed: None,
        }],
        access_points: vec![],
        maps: vec![],
        open_requests: vec![AccessRequest {
            id: RequestId::new("req-1"),
            door: DoorId::new("door-lobby"),
            access_point: None,
            cardholder: None,
            credential: None,
            reason: "visitor".into(),
            visitor_name: Some("Ada Lovelace".into()),
            created: t(-10),
            expires: t(600),
        }],
    })));
    s
}

/// eframe's storage in memory, shared by two runs of the window.
#[derive(Clone, Default)]
struct Storage(std::rc::Rc<std::cell::RefCell<HashMap<String, String>>>);

impl eframe::Storage for Storage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.borrow().get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.borrow_mut().insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.borrow_mut().remove(key);
    }
    fn flush(&mut self) {}
}

struct Rig {
    harness: Harness<'static, App>,
    _commands: mpsc::Receiver<Command>,
    _events: mpsc::Sender<AppEvent>,
}

/// A window opened as the program opens it, over `storage`.
fn rig_over(storage: &Storage) -> Rig {
    let (command_tx, commands) = mpsc::channel(16);
    let (events, event_rx) = mpsc::channel(16);
    let storage: &'static Storage = Box::leak(Box::new(storage.clone()));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |cc| {
            cc.storage = Some(storage);
            let mut app = App::new_for_test(state(), command_tx, event_rx);
            assert!(app.open_workspace(cc.storage, None));
            app
        });
    harness.run();
    Rig {
        harness,
        _commands: commands,
        _events: events,
    }
}

fn dock(r: &Rig) -> &Dock {
    r.harness.state().view().workspace.dock()
}

/// The tab of a panel (a button; the panel may have a heading of the same
/// name).
fn tab<'a>(h: &'a Harness<'static, App>, pane: Pane) -> egui_kittest::Node<'a> {
    h.get_by_role_and_label(AkRole::Button, pane.title())
}

fn has_tab(h: &Harness<'static, App>, pane: Pane) -> bool {
    h.query_by_role_and_label(AkRole::Button, pane.title())
        .is_some()
}

/// The tabs container `pane` sits in.
fn tabs_of(dock: &Dock, pane: Pane) -> egui_tiles::TileId {
    let tiles = &dock.tree.tiles;
    let tile = tiles.find_pane(&pane).expect("pane in the tree");
    let parent = tiles.parent_of(tile).expect("pane has a parent");
    assert!(
        matches!(tiles.get(parent), Some(Tile::Container(Container::Tabs(_)))),
        "{pane:?} sits in tabs"
    );
    parent
}

/// Drags a tab by the pointer, a few frames a step, as a hand would.
fn drag(h: &mut Harness<'static, App>, from: egui::Pos2, to: egui::Pos2) {
    h.hover_at(from);
    h.step();
    h.drag_at(from);
    h.step();
    for i in 1..=10 {
        h.hover_at(from + (to - from) * (i as f32 / 10.0));
        h.step();
    }
    h.step();
    h.drop_at(to);
    h.run();
}

#[test]
fn panels_move_close_reopen_and_the_layouts_survive_a_restart() {
    use eframe::App as _;
    let storage = Storage::default();
    let mut r = rig_over(&storage);
    let h = &mut r.harness;

    // Operations first: every panel has its tab; the door view in front.
    assert_eq!(h.state().view().workspace.active_dock, OPERATIONS);
    // (The cardholders are in the Investigation layout; here they open
    // from the Panels menu.)
    for pane in Pane::ALL.into_iter().filter(|p| *p != Pane::Cardholders) {
        assert!(has_tab(h, pane), "{pane:?} has a tab");
    }
    assert!(!has_tab(h, Pane::Cardholders));
    assert!(h.query_by_label("Operations").is_some());
    assert!(h.query_by_label("Investigation").is_some());

    // Move: the access monitor's tab dropped on the doors' tab joins their
    // tabs.
    assert_ne!(
        tabs_of(dock(&r), Pane::AccessMonitor),
        tabs_of(dock(&r), Pane::Doors)
    );
    let h = &mut r.harness;
    let from = tab(h, Pane::AccessMonitor).rect().center();
    let to = tab(h, Pane::Doors).rect().center();
    drag(h, from, to);
    assert_eq!(
        tabs_of(dock(&r), Pane::AccessMonitor),
        tabs_of(dock(&r), Pane::Doors),
        "moved next to the doors"
    );

    // Close: the events' tab's × hides the panel.
    let h = &mut r.harness;
    let events_tab = tab(h, Pane::Events).rect();
    let close = h
        .get_all_by_role_and_label(AkRole::Button, "Close")
        .find(|b| events_tab.contains(b.rect().center()))
        .expect("the events tab has a close button");
    close.click();
    h.run();
    assert!(!has_tab(h, Pane::Events), "closed");
    assert!(!dock(&r).is_open(Pane::Events));

    // Reopen from the Panels menu: back where it was.
    let h = &mut r.harness;
    h.get_by_label("Panels").click();
    h.run();
    h.get_by_role_and_label(AkRole::CheckBox, "Events").click();
    h.run();
    h.key_press(egui::Key::Escape);
    h.run();
    assert!(has_tab(h, Pane::Events), "reopened");
    assert!(dock(&r).is_showing(Pane::Events));

    // Close the doors: the open request stays in sight, above the panels.
    let h = &mut r.harness;
    let doors_tab = tab(h, Pane::Doors).rect();
    h.get_all_by_role_and_label(AkRole::Button, "Close")
        .find(|b| doors_tab.contains(b.rect().center()))
        .expect("the doors tab has a close button")
        .click();
    h.run();
    assert!(!dock(&r).is_open(Pane::Doors));
    let h = &r.harness;
    assert!(h.query_by_label("door Lobby main entrance").is_none());
    assert!(
        h.query_by_label("request req-1").is_some(),
        "still in sight"
    );
    let operations = dock(&r).clone();

    // Switch to Investigation: a layout of its own, the doors open there.
    let h = &mut r.harness;
    h.get_by_label("Investigation").click();
    h.run();
    assert_eq!(h.state().view().workspace.active_dock, INVESTIGATION);
    assert!(dock(&r).is_open(Pane::Doors));
    assert_ne!(
        tabs_of(dock(&r), Pane::AccessMonitor),
        tabs_of(dock(&r), Pane::Doors)
    );
    let h = &r.harness;
    assert!(h.query_by_label("door Lobby main entrance").is_some());
    assert_eq!(
        h.query_all_by_label("request req-1").count(),
        1,
        "the request once, over the doors"
    );
    let investigation = dock(&r).clone();

    // The window closes (eframe saves) and opens again.
    r.harness.state_mut().save(&mut storage.clone());
    drop(r);
    let mut r = rig_over(&storage);
    assert_eq!(
        r.harness.state().view().workspace.active_dock,
        INVESTIGATION
    );
    assert_eq!(dock(&r), &investigation, "Investigation as it was");
    r.harness.get_by_label("Operations").click();
    r.harness.run();
    assert_eq!(dock(&r), &operations, "Operations as it was left");
    assert!(!has_tab(&r.harness, Pane::Doors), "the doors still closed");
    assert_eq!(
        tabs_of(dock(&r), Pane::AccessMonitor),
        tabs_of(dock(&r), Pane::Doors),
        "the access monitor stayed where it was moved"
    );
}

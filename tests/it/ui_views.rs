//! The camera view's layouts and the camera tree, driven through AccessKit
//! with egui_kittest: the real `App`, over the real demo site through the
//! real worker, or over a site state the test sets; a stand-in tile source
//! records which tiles the grid asks for (no GStreamer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui::accesskit::Role as AkRole;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use tokio::sync::mpsc;

use watchdesk::app::worker::{self, EventSink, SiteSource, WorkerConfig};
use watchdesk::app::{App, AppEvent, AppState, Command};
use watchdesk::domain::{
    Camera, CameraId, CameraState, FloorMap, MapId, Role, Session, SiteInfo, Snapshot, StreamInfo,
    Timestamp,
};
use watchdesk::viewer::{
    MixedLayout, Pane, StreamChoice, TileRequest, TileSource, TileStats, TileStatus, TileView,
    ViewLayout,
};

fn t(secs: i64) -> Timestamp {
    // 2026-11-22T10:00:00Z
    chrono::DateTime::from_timestamp(1_795_341_600 + secs, 0).expect("valid time")
}

/// Camera `i`: cameras 0–2 on the ground floor, 3 on the first floor, the
/// rest on none; all online (the tree's test takes camera 4 offline).
fn camera(i: usize) -> Camera {
    let id = format!("cam-{i}");
    let stream = |kind: &str| StreamInfo {
        url: format!("rtsp://127.0.0.1:8554/{id}/{kind}"),
        width: 640,
        height: 360,
        fps: 25,
        codec: "h264".into(),
        ..Default::default()
    };
    Camera {
        id: CameraId::new(&id),
        name: format!("Camera {i}"),
        main: stream("main"),
        sub: stream("sub"),
        map: match i {
            0..=2 => Some(MapId::new("ground")),
            3 => Some(MapId::new("first")),
            _ => None,
        },
        state: CameraState::Online,
        auth_required: false,
        reason: None,
    }
}

fn floor(id: &str, name: &str) -> FloorMap {
    FloorMap {
        id: MapId::new(id),
        name: name.into(),
        image: format!("{id}.png"),
        width: 100,
        height: 100,
        doors: vec![],
        cameras: vec![],
    }
}

fn state(cameras: usize) -> AppState {
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
        cameras: (0..cameras).map(camera).collect(),
        doors: vec![],
        access_points: vec![],
        maps: vec![
            floor("ground", "Ground floor"),
            floor("first", "First floor"),
        ],
        open_requests: vec![],
    })));
    s
}

/// Records the keys and sizes of the tiles asked for.
#[derive(Default)]
struct Fake {
    asked: Mutex<Vec<(String, [u32; 2])>>,
}

struct Shared(Arc<Fake>);

impl TileSource for Shared {
    fn tile(&self, req: &TileRequest<'_>) -> TileView {
        self.0
            .asked
            .lock()
            .expect("lock")
            .push((req.key.to_owned(), req.size_px));
        TileView {
            frame: None,
            status: TileStatus::Connecting,
            stats: TileStats::default(),
            stream: StreamChoice::Sub,
        }
    }
}

struct Rig {
    harness: Harness<'static, App>,
    fake: Arc<Fake>,
    _commands: mpsc::Receiver<Command>,
    _events: mpsc::Sender<AppEvent>,
}

fn rig(cameras: usize) -> Rig {
    rig_with(cameras, None)
}

/// The window over `cameras` cameras; over `saved` (eframe's storage) when
/// given, as the program opens it.
fn rig_with(cameras: usize, saved: Option<Storage>) -> Rig {
    let (command_tx, commands) = mpsc::channel(16);
    let (events, event_rx) = mpsc::channel(16);
    let fake = Arc::new(Fake::default());
    let source = Shared(fake.clone());
    let storage: Option<&'static Storage> = saved.map(|s| &*Box::leak(Box::new(s)));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |cc| {
            let mut app = App::new_for_test(state(cameras), command_tx, event_rx);
            app.set_tile_source(Box::new(source));
            if let Some(storage) = storage {
                cc.storage = Some(storage);
                assert!(app.open_workspace(cc.storage, None));
            }
            app
        });
    harness.run();
    Rig {
        harness,
        fake,
        _commands: commands,
        _events: events,
    }
}

/// eframe's storage in memory.
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

fn tab(r: &mut Rig, pane: Pane) {
    r.harness
        .get_by_role_and_label(AkRole::Button, pane.title())
        .click();
    r.harness.run();
}

/// Settles the UI, then draws one more frame and returns the tiles it
/// asked for (key, size), sorted by key.
fn next_frame(r: &mut Rig) -> Vec<(String, [u32; 2])> {
    r.harness.run();
    std::mem::take(&mut *r.fake.asked.lock().expect("lock"));
    r.harness.step();
    let mut asked = std::mem::take(&mut *r.fake.asked.lock().expect("lock"));
    asked.sort();
    asked.dedup();
    asked
}

fn keys(asked: &[(String, [u32; 2])]) -> Vec<String> {
    asked.iter().map(|(k, _)| k.clone()).collect()
}

fn layout(r: &Rig) -> ViewLayout {
    r.harness.state().view().workspace.cameras.layout()
}

#[test]
fn layouts_switch_from_the_toolbar_and_the_keyboard() {
    let mut r = rig(12);
    tab(&mut r, Pane::Cameras);
    assert_eq!(keys(&next_frame(&mut r)).len(), 4, "2×2 first");

    // 1+5: one large tile and five small, the large one the first camera.
    r.harness.get_by_label("1+5").click();
    let asked = next_frame(&mut r);
    assert_eq!(layout(&r), ViewLayout::Mixed(MixedLayout::OnePlusFive));
    assert_eq!(asked.len(), 6, "{asked:?}");
    let width = |key: &str| asked.iter().find(|(k, _)| k == key).expect(key).1[0];
    assert!(
        width("cam-0") > width("cam-1") * 3 / 2,
        "the first tile is the large one: {asked:?}"
    );
    assert!(r.harness.query_by_label("cameras 1–6 of 12").is_some());

    // The keys 7, 6, 3 and 1 (no text field has the keyboard).
    r.harness.key_press(egui::Key::Num7);
    let asked = next_frame(&mut r);
    assert_eq!(layout(&r), ViewLayout::Mixed(MixedLayout::TwoPlusEight));
    assert_eq!(asked.len(), 10);
    let width = |key: &str| asked.iter().find(|(k, _)| k == key).expect(key).1[0];
    assert!(width("cam-1") > width("cam-2") * 3 / 2, "two large tiles");
    r.harness.key_press(egui::Key::Num6);
    assert_eq!(next_frame(&mut r).len(), 8, "1+7");
    r.harness.key_press(egui::Key::Num3);
    assert_eq!(next_frame(&mut r).len(), 9, "3×3");
    assert_eq!(layout(&r), ViewLayout::Grid(3));
    r.harness.key_press(egui::Key::Num1);
    assert_eq!(keys(&next_frame(&mut r)), ["cam-0"], "1×1");

    // While a text field has the keyboard, a digit is text, not a layout.
    tab(&mut r, Pane::CameraTree);
    r.harness
        .get_by_role_and_label(AkRole::TextInput, "Find a camera")
        .focus();
    r.harness.run();
    r.harness.key_press(egui::Key::Num4);
    r.harness.run();
    assert_eq!(layout(&r), ViewLayout::Grid(1), "unchanged");
}

/// Drags with the pointer from `from` to `to`, a few frames a step, as a
/// hand would.
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
fn a_camera_dragged_from_the_tree_stays_on_its_tile() {
    let mut r = rig(8);
    tab(&mut r, Pane::Cameras);
    tab(&mut r, Pane::CameraTree);
    assert_eq!(
        keys(&next_frame(&mut r)),
        ["cam-0", "cam-1", "cam-2", "cam-3"]
    );

    // Camera 6 (on no floor) onto the tile of camera 1.
    let from = r.harness.get_by_label("Camera 6").rect().center();
    let to = r
        .harness
        .get_by_label_contains("camera Camera 1:")
        .rect()
        .center();
    drag(&mut r.harness, from, to);
    assert_eq!(
        r.harness.state().view().workspace.cameras.assigned.get(&1),
        Some(&CameraId::new("cam-6")),
        "placed on the second tile"
    );
    assert_eq!(
        keys(&next_frame(&mut r)),
        ["cam-0", "cam-2", "cam-3", "cam-6@1"],
        "in place of camera 1"
    );
    assert!(
        r.harness
            .query_by_label_contains("camera Camera 6:")
            .is_some()
    );
    assert!(
        r.harness
            .query_by_label_contains("camera Camera 1:")
            .is_none()
    );

    // It stays there through a page and a layout change.
    r.harness.get_by_label("Next").click();
    assert_eq!(
        keys(&next_frame(&mut r)),
        ["cam-4", "cam-6", "cam-6@1", "cam-7"]
    );
    r.harness.key_press(egui::Key::Num5);
    let asked = keys(&next_frame(&mut r));
    assert!(asked.contains(&"cam-6@1".to_owned()), "{asked:?}");

    // The tile's menu gives it back to the paged camera.
    r.harness
        .get_by_label_contains("camera Camera 6:")
        .click_secondary();
    r.harness.run();
    r.harness.get_by_label("Back to the paged camera").click();
    let asked = keys(&next_frame(&mut r));
    assert!(!asked.contains(&"cam-6@1".to_owned()), "{asked:?}");
    assert!(
        r.harness
            .state()
            .view()
            .workspace
            .cameras
            .assigned
            .is_empty()
    );
}

#[test]
fn the_tree_groups_by_floor_filters_and_shows_a_camera() {
    let mut r = rig(6);
    // The site loses camera 4.
    r._events
        .try_send(AppEvent::Live(watchdesk::domain::Event {
            seq: 2,
            time: t(2),
            kind: watchdesk::domain::EventKind::CameraOffline {
                camera: CameraId::new("cam-4"),
                stream: "main".into(),
                reason: "connection refused".into(),
            },
        }))
        .expect("event");
    r.harness.run();
    tab(&mut r, Pane::CameraTree);
    let h = &mut r.harness;
    for group in ["Ground floor (3)", "First floor (1)", "No floor (2)"] {
        assert!(h.query_by_label(group).is_some(), "{group}");
    }
    assert!(
        h.query_by_label("unreachable").is_some(),
        "camera 4's state"
    );

    h.get_by_role_and_label(AkRole::TextInput, "Find a camera")
        .focus();
    h.run();
    h.get_by_role_and_label(AkRole::TextInput, "Find a camera")
        .type_text("cam-3");
    h.run();
    assert!(h.query_by_label("Camera 3").is_some());
    for gone in ["Camera 0", "Camera 4", "Ground floor (3)", "No floor (2)"] {
        assert!(h.query_by_label(gone).is_none(), "{gone} filtered out");
    }
    assert!(h.query_by_label("First floor (1)").is_some());

    // A click shows the camera alone in the camera view.
    h.get_by_label("Camera 3").click();
    h.run();
    assert_eq!(
        h.state().view().workspace.cameras.single,
        Some(CameraId::new("cam-3"))
    );
    assert!(h.state().view().workspace.dock().is_showing(Pane::Cameras));
}

#[test]
fn a_saved_workspace_without_layouts_or_placed_cameras_loads() {
    // What this build wrote before mixed layouts and placed cameras (RON,
    // as eframe stores it), with the docks left out.
    let storage = Storage::default();
    storage.0.borrow_mut().insert(
        "workspace".into(),
        r#"(version:2,main:Cameras,cameras:(side:3,first:0,single:None,show_stats:false,fill:false),active_dock:"Operations",sites:[])"#.into(),
    );
    let mut r = rig_with(10, Some(storage));
    let w = &r.harness.state().view().workspace;
    assert_eq!(w.cameras.layout(), ViewLayout::Grid(3));
    assert!(w.cameras.assigned.is_empty());
    assert_eq!(next_frame(&mut r).len(), 9, "a 3×3 on screen");
}

/// Steps the window until `done` holds of the app, under a deadline.
fn step_until(h: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_site_layouts_switch_and_a_camera_dragged_onto_a_tile_stays() {
    let site = crate::common::start_site().await;
    let (commands, command_rx) = mpsc::channel::<Command>(8);
    let (event_tx, events) = mpsc::channel(256);
    let worker = tokio::spawn(worker::run(
        WorkerConfig {
            site: SiteSource::Remote {
                base_url: site.handle.base_url(),
            },
            ca_cert: None,
            allow_plain_http: false,
            auto_sign_in: Some(("operator".into(), "demo-operator".into())),
        },
        command_rx,
        EventSink::new(event_tx, Arc::new(|| {})),
    ));
    let state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    let fake = Arc::new(Fake::default());
    let source = Shared(fake.clone());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |_cc| {
            let mut app = App::new_for_test(state, commands, events);
            app.set_tile_source(Box::new(source));
            app
        });
    step_until(&mut h, "the site's cameras and floors", |app| {
        app.state().runtime.session.is_some()
            && app.state().site().cameras().len() == 9
            && app.state().site().maps().len() == 2
    });
    let mut r = Rig {
        harness: h,
        fake,
        _commands: mpsc::channel(1).1,
        _events: mpsc::channel(1).0,
    };
    tab(&mut r, Pane::Cameras);
    tab(&mut r, Pane::CameraTree);
    // The demo site's floors, by their names on the plans.
    for group in ["Ground floor (4)", "Level 2 (4)", "No floor (1)"] {
        assert!(r.harness.query_by_label(group).is_some(), "{group}");
    }

    // 1+7 from the keyboard, then 1+5 from the toolbar.
    r.harness.key_press(egui::Key::Num6);
    assert_eq!(next_frame(&mut r).len(), 8, "1+7");
    r.harness.get_by_label("1+5").click();
    let asked = keys(&next_frame(&mut r));
    assert_eq!(layout(&r), ViewLayout::Mixed(MixedLayout::OnePlusFive));
    assert_eq!(asked.len(), 6);
    assert!(!asked.contains(&"cam-lab".to_owned()), "{asked:?}");

    // The lab's airlock onto the large tile.
    let from = r.harness.get_by_label("Lab airlock").rect().center();
    let to = r
        .harness
        .get_by_label_contains("camera Lobby entrance:")
        .rect()
        .center();
    drag(&mut r.harness, from, to);
    let asked = keys(&next_frame(&mut r));
    assert!(asked.contains(&"cam-lab@0".to_owned()), "{asked:?}");
    assert!(!asked.contains(&"cam-lobby".to_owned()), "{asked:?}");
    assert!(
        r.harness
            .query_by_label_contains("camera Lab airlock:")
            .is_some()
    );
    worker.abort();
}

/// The real window signed in as `user` to `site` through the real worker.
fn signed_in_app(
    site: &crate::common::TestSite,
    user: &str,
) -> (Harness<'static, App>, tokio::task::JoinHandle<()>) {
    let (commands, command_rx) = mpsc::channel::<Command>(8);
    let (event_tx, events) = mpsc::channel(256);
    let worker = tokio::spawn(worker::run(
        WorkerConfig {
            site: SiteSource::Remote {
                base_url: site.handle.base_url(),
            },
            ca_cert: None,
            allow_plain_http: false,
            auto_sign_in: Some((user.into(), format!("demo-{user}"))),
        },
        command_rx,
        EventSink::new(event_tx, Arc::new(|| {})),
    ));
    let state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    let source = Shared(Arc::new(Fake::default()));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |_cc| {
            let mut app = App::new_for_test(state, commands, events);
            app.set_tile_source(Box::new(source));
            app
        });
    step_until(&mut h, "signed in with the site's cameras", |app| {
        app.state().runtime.session.is_some() && app.state().site().cameras().len() == 9
    });
    h.get_by_role_and_label(AkRole::Button, Pane::Cameras.title())
        .click();
    h.run();
    (h, worker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_view_published_by_supervisor_appears_at_operator() {
    let site = crate::common::start_site().await;
    let (mut sup, sup_worker) = signed_in_app(&site, "supervisor");
    let (mut op, op_worker) = signed_in_app(&site, "operator");

    // The supervisor picks 3×3 and publishes it from the Views menu.
    sup.get_by_label("3×3").click();
    sup.run();
    sup.get_by_role_and_label(AkRole::Button, "Views").click();
    sup.run();
    let field = (AkRole::TextInput, "Publish current view…");
    sup.get_by_role_and_label(field.0, field.1).focus();
    sup.get_by_role_and_label(field.0, field.1)
        .type_text("Night shift");
    sup.run();
    sup.get_by_label("Publish view").click();
    sup.run();
    step_until(
        &mut sup,
        "the published view back at the supervisor",
        |app| {
            app.state()
                .shared_views()
                .iter()
                .any(|v| v.name == "Night shift" && v.layout == "3x3")
        },
    );

    // The operator's window learns of it from the event stream.
    step_until(&mut op, "the shared view at the operator", |app| {
        app.state()
            .shared_views()
            .iter()
            .any(|v| v.name == "Night shift")
    });
    assert_eq!(
        op.state().view().workspace.cameras.layout(),
        ViewLayout::Grid(2),
        "not loaded unasked"
    );
    op.get_by_role_and_label(AkRole::Button, "Views").click();
    op.run();
    // The operator may load it, not publish or delete.
    assert!(
        op.get_by_label("Publish view")
            .accesskit_node()
            .is_disabled()
    );
    assert!(
        op.get_by_label("Delete shared view Night shift")
            .accesskit_node()
            .is_disabled()
    );
    op.get_by_label("Load shared view Night shift").click();
    op.run();
    assert_eq!(
        op.state().view().workspace.cameras.layout(),
        ViewLayout::Grid(3)
    );
    // And in a window of its own.
    op.get_by_role_and_label(AkRole::Button, "Views").click();
    op.run();
    op.get_by_label("Open shared view Night shift in a new window")
        .click();
    op.run();
    let detached = &op.state().view().workspace.detached;
    assert_eq!(detached.len(), 1);
    assert_eq!(
        (detached[0].title.as_str(), detached[0].view.layout()),
        ("Night shift", ViewLayout::Grid(3))
    );
    sup_worker.abort();
    op_worker.abort();
}

fn type_view_name(r: &mut Rig, name: &str) {
    let field = (AkRole::TextInput, "Save as…");
    r.harness.get_by_role_and_label(field.0, field.1).focus();
    r.harness
        .get_by_role_and_label(field.0, field.1)
        .type_text(name);
    r.harness.run();
}

fn open_views_menu(r: &mut Rig) {
    if r.harness.query_by_label("Save view").is_none() {
        r.harness
            .get_by_role_and_label(AkRole::Button, "Views")
            .click();
        r.harness.run();
    }
}

#[test]
fn private_views_save_replace_on_a_yes_load_delete_and_detach() {
    let mut r = rig(9);
    tab(&mut r, Pane::Cameras);
    r.harness.get_by_label("3×3").click();
    r.harness.run();
    open_views_menu(&mut r);
    type_view_name(&mut r, "  Lobby ");
    r.harness.get_by_label("Save view").click();
    r.harness.run();
    let views = |r: &Rig| r.harness.state().view().workspace.views.clone();
    assert_eq!(views(&r).len(), 1);
    assert_eq!(views(&r)[0].name, "Lobby");
    assert_eq!(views(&r)[0].layout(), ViewLayout::Grid(3));

    // The same name again, from 1+5: asked first; Cancel keeps the old.
    r.harness.key_press(egui::Key::Escape);
    r.harness.run();
    r.harness.get_by_label("1+5").click();
    r.harness.run();
    open_views_menu(&mut r);
    type_view_name(&mut r, "Lobby");
    r.harness.get_by_label("Save view").click();
    r.harness.run();
    assert!(r.harness.query_by_label("Replace “Lobby”?").is_some());
    r.harness.get_by_label("Cancel").click();
    r.harness.run();
    assert_eq!(views(&r)[0].layout(), ViewLayout::Grid(3), "kept");
    r.harness.get_by_label("Save view").click();
    r.harness.run();
    r.harness.get_by_label("Replace").click();
    r.harness.run();
    assert_eq!(views(&r).len(), 1);
    assert_eq!(
        views(&r)[0].layout(),
        ViewLayout::Mixed(MixedLayout::OnePlusFive)
    );

    // Load it from 2×2; open it in a window; delete it.
    r.harness.key_press(egui::Key::Escape);
    r.harness.run();
    r.harness.get_by_label("2×2").click();
    r.harness.run();
    open_views_menu(&mut r);
    r.harness.get_by_label("Load view Lobby").click();
    r.harness.run();
    assert_eq!(layout(&r), ViewLayout::Mixed(MixedLayout::OnePlusFive));
    open_views_menu(&mut r);
    r.harness
        .get_by_label("Open view Lobby in a new window")
        .click();
    r.harness.run();
    let detached = &r.harness.state().view().workspace.detached;
    assert_eq!(detached.len(), 1);
    assert_eq!(detached[0].title, "Lobby");
    assert_eq!(
        detached[0].view.layout(),
        ViewLayout::Mixed(MixedLayout::OnePlusFive)
    );
    // Drawn (here in a window inside the test's: kittest has no native
    // viewports) by the grid's code, under tile keys of its own.
    let asked = keys(&next_frame(&mut r));
    assert_eq!(
        asked.iter().filter(|k| k.ends_with("@w1")).count(),
        6,
        "{asked:?}"
    );
    r.harness.get_by_label("Close window").click();
    r.harness.run();
    assert!(r.harness.state().view().workspace.detached.is_empty());
    assert!(r.harness.query_by_label("Close window").is_none());
    open_views_menu(&mut r);
    r.harness.get_by_label("Delete view Lobby").click();
    r.harness.run();
    assert!(views(&r).is_empty());
}

//! The camera view, driven through AccessKit with egui_kittest: no network,
//! no GStreamer. A stand-in tile source records what the grid asks for and
//! hands out frames the test controls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tokio::sync::mpsc;

use watchdesk::app::{App, AppEvent, AppState, Command, StillImage, tile_error};
use watchdesk::domain::{
    Camera, CameraId, Role, Session, SiteInfo, Snapshot, StreamInfo, Timestamp,
};
use watchdesk::video::VideoError;
use watchdesk::viewer::MainView;
use watchdesk::viewer::{
    StreamChoice, TileFrame, TileRequest, TileSource, TileStats, TileStatus, TileView,
};

fn t(secs: i64) -> Timestamp {
    // 2026-11-22T10:00:00Z
    chrono::DateTime::from_timestamp(1_795_341_600 + secs, 0).expect("valid time")
}

fn camera(i: usize) -> Camera {
    let id = format!("cam-{i}");
    let stream = |kind: &str, width, height| StreamInfo {
        url: format!("rtsp://127.0.0.1:8554/{id}/{kind}"),
        width,
        height,
        fps: 25,
        codec: "h264".into(),
        ..Default::default()
    };
    Camera {
        id: CameraId::new(&id),
        name: format!("Camera {i}"),
        main: stream("main", 1280, 720),
        sub: stream("sub", 640, 360),
        map: None,
        state: Default::default(),
        auth_required: false,
        reason: None,
    }
}

/// What the stand-in was asked: key, size, single view.
type Asked = Vec<(String, [u32; 2], bool)>;
/// Per camera id: the frame and status to hand out.
type Script = HashMap<String, (Option<TileFrame>, TileStatus)>;

#[derive(Default)]
struct Fake {
    asked: Mutex<Asked>,
    tiles: Mutex<Script>,
}

impl Fake {
    fn set(&self, camera: &str, frame: Option<TileFrame>, status: TileStatus) {
        self.tiles
            .lock()
            .expect("lock")
            .insert(camera.to_owned(), (frame, status));
    }

    fn take_asked(&self) -> Asked {
        std::mem::take(&mut *self.asked.lock().expect("lock"))
    }
}

struct Shared(Arc<Fake>);

impl TileSource for Shared {
    fn tile(&self, req: &TileRequest<'_>) -> TileView {
        self.0
            .asked
            .lock()
            .expect("lock")
            .push((req.key.to_owned(), req.size_px, req.single_view));
        let (frame, status) = self
            .0
            .tiles
            .lock()
            .expect("lock")
            .get(req.camera.id.as_str())
            .cloned()
            .unwrap_or((None, TileStatus::Connecting));
        TileView {
            frame,
            status,
            stats: TileStats::default(),
            stream: if req.single_view {
                StreamChoice::Main
            } else {
                StreamChoice::Sub
            },
        }
    }
}

fn frame(number: u64, capture: Timestamp) -> TileFrame {
    let (width, height) = (32, 18);
    TileFrame {
        width,
        height,
        rgba: bytes::Bytes::from(vec![200; (width * height * 4) as usize]),
        number,
        capture_time: Some(capture),
        arrived: Instant::now(),
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
        maps: vec![],
        open_requests: vec![],
    })));
    s
}

struct Rig {
    harness: Harness<'static, App>,
    fake: Arc<Fake>,
    _commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<AppEvent>,
}

fn rig(cameras: usize, with_video: bool) -> Rig {
    let (command_tx, commands) = mpsc::channel(16);
    let (events, event_rx) = mpsc::channel(16);
    let fake = Arc::new(Fake::default());
    let mut app = App::new_for_test(state(cameras), command_tx, event_rx);
    if with_video {
        app.set_tile_source(Box::new(Shared(fake.clone())));
    }
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        // Short steps, so two clicks make a double-click.
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |_cc| app);
    harness.run();
    Rig {
        harness,
        fake,
        _commands: commands,
        events,
    }
}

fn open_cameras(r: &mut Rig) {
    r.harness.get_by_label("Cameras").click();
    r.harness.run();
}

/// Settles the UI, then draws one more frame and returns what it asked for.
fn next_frame(r: &mut Rig) -> Asked {
    r.harness.run();
    r.fake.take_asked();
    r.harness.step();
    r.fake.take_asked()
}

fn keys(asked: &Asked) -> Vec<String> {
    let mut k: Vec<String> = asked.iter().map(|(k, _, _)| k.clone()).collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn grid_asks_only_for_visible_tiles_and_switches_layouts() {
    let mut r = rig(5, true);
    // The door view asks for no video at all.
    assert!(r.fake.take_asked().is_empty());

    open_cameras(&mut r);
    let asked = r.fake.take_asked();
    assert_eq!(
        keys(&asked),
        ["cam-0", "cam-1", "cam-2", "cam-3"],
        "2×2 first"
    );
    // Small tiles, not the single view; the size is the letterboxed picture.
    for (_, size, single) in &asked {
        assert!(!single);
        assert!(size[0] > 100 && size[0] < 700, "{size:?}");
        let aspect = size[0] as f32 / size[1] as f32;
        assert!((aspect - 16.0 / 9.0).abs() < 0.02, "{size:?}");
    }
    assert!(r.harness.query_by_label("cameras 1–4 of 5").is_some());
    assert!(
        r.harness
            .query_by_label_contains("camera Camera 0: connecting")
            .is_some()
    );

    // Next page: the fifth camera and three empty cells.
    r.harness.get_by_label("Next").click();
    assert_eq!(keys(&next_frame(&mut r)), ["cam-4"]);

    r.harness.get_by_label("3×3").click();
    let asked = next_frame(&mut r);
    assert_eq!(keys(&asked).len(), 5, "all five cameras in a 3×3");

    r.harness.get_by_label("4×4").click();
    let small = next_frame(&mut r);
    assert_eq!(keys(&small).len(), 5);
    assert!(
        small[0].1[0] < asked[0].1[0],
        "4×4 tiles are smaller than 3×3"
    );

    // Back to the doors: nothing is asked for any more.
    r.harness.get_by_label("Doors").click();
    assert!(
        next_frame(&mut r).is_empty(),
        "hidden tiles are not asked for"
    );
}

#[test]
fn a_frame_is_uploaded_once_and_overlays_tell_the_status() {
    let mut r = rig(4, true);
    let f1 = frame(1, t(0));
    r.fake.set("cam-0", Some(f1.clone()), TileStatus::Playing);
    r.fake.set(
        "cam-1",
        Some(frame(7, t(-5))),
        TileStatus::Stalled {
            since: Instant::now(),
        },
    );
    r.fake.set(
        "cam-2",
        None,
        // As the shell hands over the engine's error.
        TileStatus::Error(tile_error(&VideoError::MissingElement {
            element: "avdec_h264".into(),
            package: "gstreamer1.0-libav".into(),
        })),
    );
    open_cameras(&mut r);
    assert_eq!(
        r.harness.state().texture_uploads(),
        2,
        "two tiles have frames"
    );
    // More frames drawn with nothing new: no upload.
    for _ in 0..5 {
        r.harness.step();
    }
    assert_eq!(r.harness.state().texture_uploads(), 2);
    // A new frame: one upload.
    r.fake
        .set("cam-0", Some(frame(2, t(0))), TileStatus::Playing);
    r.harness.step();
    assert_eq!(r.harness.state().texture_uploads(), 3);

    let h = &r.harness;
    assert!(h.query_by_label("camera Camera 0: playing").is_some());
    assert!(
        h.query_by_label_contains("camera Camera 1: no video for")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("camera Camera 2: missing GStreamer element avdec_h264")
            .is_some()
    );
    assert!(h.query_by_label("camera Camera 3: connecting…").is_some());
}

#[test]
fn double_click_opens_one_camera_and_escape_returns() {
    let mut r = rig(4, true);
    open_cameras(&mut r);
    // Half a second after the last click, so the next two are a double-click.
    r.harness.run_steps(30);
    r.fake.take_asked();
    let tile = r.harness.get_by_label_contains("camera Camera 2:");
    tile.click();
    tile.click();
    r.harness.run();
    assert!(r.harness.query_by_label("Back to grid").is_some());
    let asked = next_frame(&mut r);
    assert_eq!(keys(&asked), ["cam-2"], "only the one camera plays");
    assert!(
        asked
            .iter()
            .all(|(_, size, single)| *single && size[0] > 700)
    );

    r.harness.key_press(egui::Key::Escape);
    r.harness.run();
    assert!(r.harness.query_by_label("Back to grid").is_none());
    assert_eq!(keys(&next_frame(&mut r)).len(), 4, "the grid again");

    // And with the button.
    r.harness.run_steps(30);
    let tile = r.harness.get_by_label_contains("camera Camera 0:");
    tile.click();
    tile.click();
    r.harness.run();
    r.harness.get_by_label("Back to grid").click();
    r.harness.run();
    assert!(r.harness.query_by_label("2×2").is_some());
}

#[test]
fn the_still_stands_in_until_the_first_frame() {
    let mut r = rig(1, true);
    r.events
        .try_send(AppEvent::CameraStill {
            camera: CameraId::new("cam-0"),
            image: Arc::new(StillImage {
                width: 4,
                height: 2,
                rgba: bytes::Bytes::from(vec![90; 32]),
            }),
        })
        .expect("room");
    r.harness.run();
    assert!(
        r.harness
            .state()
            .state()
            .site()
            .stills()
            .contains_key(&CameraId::new("cam-0"))
    );
    open_cameras(&mut r);
    // The still is no frame: no frame upload, the tile says it connects.
    assert_eq!(r.harness.state().texture_uploads(), 0);
    assert!(
        r.harness
            .query_by_label("camera Camera 0: connecting…")
            .is_some()
    );
    r.fake
        .set("cam-0", Some(frame(1, t(0))), TileStatus::Playing);
    r.harness.step();
    assert_eq!(r.harness.state().texture_uploads(), 1);
}

#[test]
fn without_video_the_view_says_why() {
    let mut r = rig(2, false);
    open_cameras(&mut r);
    assert!(
        r.harness
            .query_by_label("Video cannot play on this computer")
            .is_some()
    );
    assert!(
        r.harness
            .query_by_label("The video engine is not running")
            .is_some()
    );
}

/// eframe's storage in memory, shared by the runs of a test (as the file
/// eframe keeps is shared by two starts of the program).
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

/// A window opened as the program opens it: over `storage`, with the
/// command line's start view if any.
fn rig_over(cameras: usize, storage: &Storage, start_view: Option<&'static str>) -> Rig {
    let (command_tx, commands) = mpsc::channel(16);
    let (events, event_rx) = mpsc::channel(16);
    let fake = Arc::new(Fake::default());
    let source = Shared(fake.clone());
    // The creation context borrows the storage for the harness's life.
    let storage: &'static Storage = Box::leak(Box::new(storage.clone()));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| {
            cc.storage = Some(storage);
            let mut app = App::new_for_test(state(cameras), command_tx, event_rx);
            app.set_tile_source(Box::new(source));
            assert!(app.open_workspace(cc.storage, start_view));
            app
        });
    harness.run();
    Rig {
        harness,
        fake,
        _commands: commands,
        events,
    }
}

#[test]
fn the_workspace_survives_a_restart_and_the_command_line_wins() {
    use eframe::App as _;
    let storage = Storage::default();

    // First run: nothing saved, the door view; the operator opens the
    // cameras in 3×3 with stats, and the window closes (eframe saves).
    let mut r = rig_over(10, &storage, None);
    assert!(r.fake.take_asked().is_empty(), "opens on the doors");
    open_cameras(&mut r);
    r.harness.get_by_label("3×3").click();
    r.harness.get_by_label("Stats").click();
    r.harness.run();
    assert_eq!(keys(&next_frame(&mut r)).len(), 9);
    assert!(!r.harness.state().persist_egui_memory());
    let dock = r.harness.state().view().workspace.dock().clone();
    r.harness.state_mut().save(&mut storage.clone());
    drop(r);

    // Second run: it opens where it was left, with no click.
    let mut r = rig_over(10, &storage, None);
    let asked = next_frame(&mut r);
    assert_eq!(
        keys(&asked),
        (0..9).map(|i| format!("cam-{i}")).collect::<Vec<_>>(),
        "3×3 again"
    );
    let workspace = &r.harness.state().view().workspace;
    assert_eq!(workspace.main, MainView::Cameras);
    assert_eq!(
        (workspace.cameras.side, workspace.cameras.show_stats),
        (3, true)
    );
    assert_eq!(
        workspace.dock(),
        &dock,
        "the panels open as they were, the cameras in front"
    );
    drop(r);

    // A start view on the command line wins over the saved one ...
    let mut r = rig_over(10, &storage, Some("doors"));
    assert!(next_frame(&mut r).is_empty(), "the doors, no video");
    assert_eq!(r.harness.state().view().workspace.main, MainView::Doors);
    drop(r);
    let mut r = rig_over(10, &storage, Some("cameras:4x4"));
    assert_eq!(keys(&next_frame(&mut r)).len(), 10, "4×4 over 10 cameras");
    drop(r);
    // ... for that run only: nothing was saved since, so the saved view stays.
    let r = rig_over(10, &storage, None);
    assert_eq!(r.harness.state().view().workspace.cameras.side, 3);
}

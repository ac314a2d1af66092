//! The tile's hover toolbar, driven through AccessKit with egui_kittest: no
//! network, no GStreamer; a stand-in tile source hands out one frame per
//! camera, and the commands the window sends are read from its channel.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::time::Instant;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tokio::sync::mpsc;

use watchdesk::app::{App, AppEvent, AppState, Command};
use watchdesk::domain::{
    Camera, CameraId, CredentialState, Role, Session, SiteInfo, Snapshot, StreamInfo, Timestamp,
};
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

/// Every tile plays one 32×18 frame, with stats a test can recognise.
struct Playing;

impl TileSource for Playing {
    fn tile(&self, req: &TileRequest<'_>) -> TileView {
        let (width, height) = (32, 18);
        TileView {
            frame: Some(TileFrame {
                width,
                height,
                rgba: bytes::Bytes::from(vec![90; (width * height * 4) as usize]),
                number: 1,
                capture_time: Some(t(0)),
                arrived: Instant::now(),
            }),
            status: TileStatus::Playing,
            stats: TileStats {
                delivered_fps: 24.5,
                source_fps: 25.0,
                decode_ms: 1.25,
                dropped_frames: 7,
                bitrate_kbps: 900.0,
                width,
                height,
                latency_ms: Some(80.0),
                seek_ms: None,
            },
            stream: if req.single_view {
                StreamChoice::Main
            } else {
                StreamChoice::Sub
            },
        }
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

fn rig(cameras: usize) -> (Harness<'static, App>, mpsc::Receiver<Command>) {
    let (command_tx, commands) = mpsc::channel(16);
    let (_events, event_rx) = mpsc::channel(16);
    let mut app = App::new_for_test(state(cameras), command_tx, event_rx);
    app.set_tile_source(Box::new(Playing));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |_cc| app);
    harness.run();
    harness.get_by_label("Cameras").click();
    harness.run_steps(10);
    (harness, commands)
}

#[test]
fn the_hover_toolbar_closes_a_tile_and_shows_its_stats() {
    let (mut h, _commands) = rig(4);
    // No toolbar until the pointer is over a tile.
    assert!(h.query_by_label("Close tile").is_none());
    h.get_by_label_contains("camera Camera 1:").hover();
    h.run_steps(10);
    assert!(h.query_by_label("Snapshot").is_some());
    assert!(h.query_by_label("Tile stats").is_some());
    h.get_by_label("Close tile").click();
    h.run_steps(10);
    assert!(
        h.query_by_label_contains("camera Camera 1:").is_none(),
        "the closed tile is empty"
    );
    assert!(h.query_by_label_contains("camera Camera 0:").is_some());

    // Stats: only on the tile asked, with the figures and the stream facts.
    assert!(h.query_by_label_contains("stats:").is_none());
    h.get_by_label_contains("camera Camera 2:").hover();
    h.run_steps(10);
    h.get_by_label("Tile stats").click();
    h.run_steps(10);
    let with_stats = h.get_by_label_contains("stats:");
    let label = format!("{with_stats:?}");
    assert!(
        label.contains("camera Camera 2:")
            && label.contains("stats: 24.5/25.0 fps")
            && label.contains("dropped 7")
            && label.contains("h264 640×360"),
        "{label}"
    );

    // The next page brings the closed tile's camera back with the paging.
    h.get_by_label("3×3").click();
    h.run_steps(10);
    assert!(h.query_by_label_contains("camera Camera 1:").is_some());
}

/// A tile source that counts who asks for which camera.
struct Counting(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl TileSource for Counting {
    fn tile(&self, req: &TileRequest<'_>) -> TileView {
        self.0.lock().unwrap().push(req.camera.id.to_string());
        Playing.tile(req)
    }
}

#[test]
fn a_camera_the_site_lost_says_so_on_its_tile_and_is_not_played_until_back() {
    use watchdesk::domain::{Event, EventKind};
    let (command_tx, _commands) = mpsc::channel(16);
    let (events, event_rx) = mpsc::channel(16);
    let mut app = App::new_for_test(state(4), command_tx, event_rx);
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    app.set_tile_source(Box::new(Counting(asked.clone())));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |_cc| app);
    h.run();
    h.get_by_label("Cameras").click();
    h.run_steps(5);
    let live = |seq, kind| {
        AppEvent::Live(Event {
            seq,
            time: t(seq as i64),
            kind,
        })
    };
    events
        .try_send(live(
            2,
            EventKind::CameraOffline {
                camera: CameraId::new("cam-1"),
                stream: "main".into(),
                reason: "no frame for 5 s".into(),
            },
        ))
        .unwrap();
    h.run_steps(5);
    asked.lock().unwrap().clear();
    h.run_steps(5);
    let label = format!("{:?}", h.get_by_label_contains("camera Camera 1:"));
    assert!(
        label.contains("the site cannot reach this camera: no frame for 5 s"),
        "{label}"
    );
    let asked_now = asked.lock().unwrap().clone();
    assert!(!asked_now.contains(&"cam-1".to_owned()), "{asked_now:?}");
    assert!(
        asked_now.contains(&"cam-0".to_owned()),
        "the others play on"
    );
    // The event list says it too, in words.
    assert!(
        h.query_by_label_contains("Camera offline · Camera 1 · no frame for 5 s")
            .is_some()
    );

    events
        .try_send(live(
            3,
            EventKind::CameraOnline {
                camera: CameraId::new("cam-1"),
                stream: "main".into(),
            },
        ))
        .unwrap();
    h.run_steps(5);
    asked.lock().unwrap().clear();
    h.run_steps(5);
    assert!(
        asked.lock().unwrap().contains(&"cam-1".to_owned()),
        "played again"
    );
    let label = format!("{:?}", h.get_by_label_contains("camera Camera 1:"));
    assert!(!label.contains("cannot reach"), "{label}");
}

#[test]
fn snapshot_sends_the_frame_to_the_worker() {
    let (mut h, mut commands) = rig(2);
    h.get_by_label_contains("camera Camera 0:").hover();
    h.run_steps(10);
    h.get_by_label("Snapshot").click();
    h.run_steps(10);
    let sent = std::iter::from_fn(|| commands.try_recv().ok())
        .find(|c| matches!(c, Command::SaveSnapshot { .. }));
    let Some(Command::SaveSnapshot {
        camera,
        stamp,
        frame,
    }) = sent
    else {
        panic!("no snapshot sent");
    };
    assert_eq!(camera, "Camera 0");
    // Site time in the site's zone: 10:00 UTC is 11:00 in Berlin.
    assert_eq!(stamp, "20261122-110000");
    assert_eq!(
        (frame.width, frame.height, frame.rgba.len()),
        (32, 18, 32 * 18 * 4)
    );
}

// ---- the cardholder's card in the request pop ------------------------------------------

struct Pop {
    state: AppState,
    commands: watchdesk::viewer::CommandSender,
    textures: watchdesk::ui::video_tile::TileTextures,
}

fn pop_harness(state: AppState) -> (Harness<'static, Pop>, watchdesk::viewer::CommandReceiver) {
    use watchdesk::ui::cameras::{VideoFeed, VideoUi};
    let (commands, rx) = watchdesk::viewer::command_channel();
    let harness = Harness::builder()
        .with_size(egui::vec2(900.0, 800.0))
        .build_ui_state(
            |ui, p: &mut Pop| {
                let mut video = VideoUi {
                    feed: VideoFeed::Unavailable(&[]),
                    textures: &mut p.textures,
                    instant: Instant::now(),
                    key_suffix: String::new(),
                };
                watchdesk::ui::request_pop::request_pop_ui(
                    ui.ctx(),
                    &p.state,
                    &p.commands,
                    &mut video,
                );
            },
            Pop {
                state,
                commands,
                textures: Default::default(),
            },
        );
    (harness, rx)
}

/// A badge request on the real demo site, through the real worker: the pop
/// asks for the person's card once, and shows their name, department and
/// the presented badge's state; a disabled badge shows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pop_shows_the_cardholder_card_of_a_badge_request() {
    use crate::common::start_site;
    use crate::worker_rig::Worker;
    use watchdesk::domain::{CardholderId, CredentialId, DoorId};

    let site = start_site().await;
    let mut worker = Worker::start(&site, Role::Operator);
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    worker
        .until(&mut state, "the session and the link", |s| {
            s.runtime.session.is_some() && s.link_up()
        })
        .await;
    let request = site
        .handle
        .core()
        .open_request(
            &DoorId::new("door-server"),
            None,
            Some(CredentialId::new("100107")),
            "outside schedule".into(),
            None,
        )
        .expect("request opens");
    worker
        .until(&mut state, "the request", |s| s.site().has_open_requests())
        .await;

    let (mut h, rx) = pop_harness(state);
    h.run();
    let asked: Vec<Command> = std::iter::from_fn(|| rx.try_recv()).collect();
    let ben = CardholderId::new("ch-002");
    assert_eq!(asked, vec![Command::LoadCardholderCard(ben.clone())]);
    for c in asked {
        worker.send(c).await;
    }
    worker
        .until(&mut h.state_mut().state, "the card", |s| {
            s.people.card(&ben).is_some()
        })
        .await;
    h.run();
    let card_label = format!("card of {}", request.id);
    let card = h.get_by_label(&card_label);
    card.get_by_label("Ben Okafor");
    card.get_by_label("Facilities");
    card.get_by_label("Badge 100107: active");
    assert!(
        std::iter::from_fn(|| rx.try_recv()).next().is_none(),
        "asked once"
    );

    // A supervisor disables the badge elsewhere: the card shows it.
    let supervisor = site.token(Role::Supervisor).await;
    let r = site
        .put(
            &supervisor,
            "/api/v1/credentials/100107",
            serde_json::json!({"state": "disabled"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    worker
        .until(&mut h.state_mut().state, "the badge disabled", |s| {
            s.people
                .card(&ben)
                .and_then(|c| c.cardholder.as_ref())
                .is_some_and(|c| {
                    c.credentials
                        .iter()
                        .any(|b| b.id.as_str() == "100107" && b.state == CredentialState::Disabled)
                })
        })
        .await;
    h.run();
    h.get_by_label(&card_label)
        .get_by_label("Badge 100107: disabled");
}

// ---- a cardholder's photo from a live tile ----------------------------------------------

struct Form {
    state: AppState,
    commands: watchdesk::viewer::CommandSender,
    textures: watchdesk::ui::video_tile::TileTextures,
}

/// A supervisor edits a cardholder on the real demo site, picks a camera,
/// sees its live tile (a stand-in source) and takes the photo: the worker
/// crops, scales, encodes and uploads it, and the cardholder's photo read
/// back is the portrait of that frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_taken_from_a_live_tile_becomes_the_cardholders_photo() {
    use crate::common::start_site;
    use crate::worker_rig::Worker;
    use watchdesk::domain::CardholderId;
    use watchdesk::ui::cameras::{VideoFeed, VideoUi};
    use watchdesk::ui::cardholders::cardholders_video_ui;

    let site = start_site().await;
    let mut worker = Worker::start(&site, Role::Supervisor);
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    worker
        .until(&mut state, "the session and the link", |s| {
            s.runtime.session.is_some() && s.link_up()
        })
        .await;
    // The test site runs without cameras: the mirror gets one to pick
    // (the stand-in source plays it).
    if state.site().cameras().is_empty() {
        state.apply(AppEvent::Snapshot(Box::new(Snapshot {
            seq: state.site().last_seq().unwrap_or(0),
            site: SiteInfo {
                name: "Test".into(),
                time_zone: "UTC".into(),
                demo: false,
            },
            cameras: vec![camera(0)],
            doors: vec![],
            access_points: vec![],
            maps: vec![],
            open_requests: vec![],
        })));
    }
    let camera_name = state.site().cameras()[0].name.clone();
    let ben = CardholderId::new("ch-002");
    state.apply(AppEvent::CardholderOpening(ben.clone()));
    worker.send(Command::OpenCardholder(ben.clone())).await;
    worker
        .until(&mut state, "Ben's card", |s| {
            s.people
                .open
                .as_ref()
                .is_some_and(|o| o.cardholder.is_some() && o.photo.is_some())
        })
        .await;
    let before = state.people.open.as_ref().unwrap().photo.clone().unwrap();

    let (commands, rx) = watchdesk::viewer::command_channel();
    let mut h = Harness::builder()
        .with_size(egui::vec2(900.0, 900.0))
        .build_ui_state(
            move |ui, p: &mut Form| {
                let source = Playing;
                let mut video = VideoUi {
                    feed: VideoFeed::Live(&source),
                    textures: &mut p.textures,
                    instant: Instant::now(),
                    key_suffix: String::new(),
                };
                cardholders_video_ui(ui, &p.state, &p.commands, Some(&mut video));
            },
            Form {
                state,
                commands,
                textures: Default::default(),
            },
        );
    h.run_steps(3);
    h.get_by_label("Edit Ben Okafor").click();
    h.run_steps(3);
    assert!(
        h.query_by_label("Take photo").is_none(),
        "no camera picked yet"
    );
    h.get_by_label("Camera for the photo").click();
    h.run_steps(3);
    h.get_by_label(&camera_name).click();
    h.run_steps(3);
    h.get_by_label("Take photo").click();
    h.run_steps(3);
    let sent: Vec<Command> = std::iter::from_fn(|| rx.try_recv())
        .filter(|c| matches!(c, Command::UploadCardholderPhoto { .. }))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    for c in sent {
        worker.send(c).await;
    }
    // The stand-in's 32×18 frame, cropped to a centred 3:4 portrait: 13×18.
    worker
        .until(&mut h.state_mut().state, "the new photo", |s| {
            s.people
                .open
                .as_ref()
                .and_then(|o| o.photo.as_ref())
                .is_some_and(|p| {
                    !std::sync::Arc::ptr_eq(p, &before) && (p.width, p.height) == (13, 18)
                })
        })
        .await;
    let r = site
        .get(
            &site.token(Role::Operator).await,
            "/api/v1/cardholders/ch-002/photo",
        )
        .await;
    assert_eq!(r.headers()["content-type"], "image/jpeg");
}

// ---- badges added and removed in the edit form ------------------------------------------

struct Panel {
    state: AppState,
    commands: watchdesk::viewer::CommandSender,
}

/// Sends every command the panel queued to the worker (the shell's part);
/// how many there were.
async fn forward_all(
    rx: &watchdesk::viewer::CommandReceiver,
    worker: &crate::worker_rig::Worker,
) -> usize {
    let queued: Vec<Command> = std::iter::from_fn(|| rx.try_recv()).collect();
    let n = queued.len();
    for c in queued {
        worker.send(c).await;
    }
    n
}

fn has_badge(s: &AppState, badge: &str) -> bool {
    s.people
        .open
        .as_ref()
        .and_then(|o| o.cardholder.as_ref())
        .is_some_and(|c| c.credentials.iter().any(|b| b.id.as_str() == badge))
}

/// A supervisor adds a badge to Ben on the real demo site, is told clearly
/// that Ada's badge is hers (409), and removes the new badge after
/// confirming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badges_are_added_refused_when_someone_elses_and_removed_after_confirming() {
    use crate::common::start_site;
    use crate::worker_rig::Worker;
    use watchdesk::domain::CardholderId;
    use watchdesk::ui::cardholders::cardholders_ui;

    let site = start_site().await;
    let mut worker = Worker::start(&site, Role::Supervisor);
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    worker
        .until(&mut state, "the session and the link", |s| {
            s.runtime.session.is_some() && s.link_up()
        })
        .await;
    let ben = CardholderId::new("ch-002");
    state.apply(AppEvent::CardholderOpening(ben.clone()));
    worker.send(Command::OpenCardholder(ben.clone())).await;
    worker
        .until(&mut state, "Ben", |s| has_badge(s, "100107"))
        .await;

    let (commands, rx) = watchdesk::viewer::command_channel();
    let mut h = Harness::builder()
        .with_size(egui::vec2(900.0, 900.0))
        .build_ui_state(
            |ui, p: &mut Panel| cardholders_ui(ui, &p.state, &p.commands),
            Panel { state, commands },
        );
    h.run_steps(3);
    h.get_by_label("Edit Ben Okafor").click();
    h.run_steps(3);
    forward_all(&rx, &worker).await;

    // Add a new badge.
    h.get_by_label("New badge").click();
    h.run_steps(2);
    h.get_by_label("New badge").type_text("900555");
    h.run_steps(2);
    h.get_by_label("Add badge").click();
    h.run_steps(2);
    assert!(h.query_by_label("saving badges…").is_some());
    assert_eq!(forward_all(&rx, &worker).await, 1);
    worker
        .until(
            &mut h.state_mut().state,
            "the new badge, and the answer",
            |s| has_badge(s, "900555") && s.people.badges.is_some(),
        )
        .await;
    h.run_steps(3);
    assert!(h.query_by_label("900555 (active)").is_some());
    assert!(h.query_by_label("saving badges…").is_none());

    // Ada's badge: refused, and said so.
    h.get_by_label("New badge").click();
    h.get_by_label("New badge").type_text("100100");
    h.run_steps(2);
    h.get_by_label("Add badge").click();
    h.run_steps(2);
    forward_all(&rx, &worker).await;
    worker
        .until(&mut h.state_mut().state, "the refusal", |s| {
            s.people
                .badges
                .as_ref()
                .is_some_and(|o| o.refused.is_some())
        })
        .await;
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("Not saved: that badge belongs to someone else")
            .is_some()
    );
    assert!(!has_badge(&h.state().state, "100100"));

    // Remove the new one: asked first, then gone.
    h.get_by_label("Remove badge 900555").click();
    h.run_steps(2);
    assert_eq!(
        forward_all(&rx, &worker).await,
        0,
        "nothing before the confirmation"
    );
    assert!(
        h.query_by_label("Remove badge 900555 from Ben Okafor?")
            .is_some()
    );
    h.get_by_label("Yes, remove it").click();
    h.run_steps(2);
    assert_eq!(forward_all(&rx, &worker).await, 1);
    worker
        .until(&mut h.state_mut().state, "the badge removed", |s| {
            !has_badge(s, "900555") && has_badge(s, "100107")
        })
        .await;
    h.run_steps(3);
    assert!(h.query_by_label("900555 (active)").is_none());
}

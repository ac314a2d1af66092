//! The tile's hover toolbar, driven through AccessKit with egui_kittest: no
//! network, no GStreamer; a stand-in tile source hands out one frame per
//! camera, and the commands the window sends are read from its channel.

use std::time::Instant;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tokio::sync::mpsc;

use watchdesk::app::{App, AppEvent, AppState, Command};
use watchdesk::domain::{
    Camera, CameraId, Role, Session, SiteInfo, Snapshot, StreamInfo, Timestamp,
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

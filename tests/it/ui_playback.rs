//! Playback in the window, driven through AccessKit with egui_kittest: no
//! network, no GStreamer. A stand-in tile source notes what each tile
//! asks for (live, or recorded at which time); the recordings come in as
//! the worker would send them.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::{Arc, Mutex};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tokio::sync::mpsc;

use watchdesk::app::{App, AppEvent, AppState, Command};
use watchdesk::domain::{
    Camera, CameraId, Door, DoorId, DoorStatus, DoorWithStatus, Event, EventKind, FailMode, Role,
    SegmentRef, Session, SiteInfo, Snapshot, StreamInfo, Timestamp,
};
use watchdesk::viewer::{
    DoorMark, MarkKind, StreamChoice, TileRequest, TileSource, TileStats, TileStatus, TileView,
};

fn t(secs: i64) -> Timestamp {
    // 2026-11-22T10:00:00Z
    chrono::DateTime::from_timestamp(1_795_341_600 + secs, 0).expect("valid time")
}

fn camera(i: usize) -> Camera {
    let id = format!("cam-{i}");
    let stream = |kind: &str| StreamInfo {
        url: format!("rtsp://127.0.0.1:8554/{id}/{kind}"),
        width: 1280,
        height: 720,
        fps: 25,
        codec: "h264".into(),
        ..Default::default()
    };
    Camera {
        id: CameraId::new(&id),
        name: format!("Camera {i}"),
        main: stream("main"),
        sub: stream("sub"),
        map: None,
        state: Default::default(),
        auth_required: false,
        reason: None,
    }
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
        cameras: (0..4).map(camera).collect(),
        doors: vec![DoorWithStatus {
            door: Door {
                id: DoorId::new("door-lobby"),
                name: "Lobby main entrance".into(),
                zone: "public".into(),
                map: None,
                fail_mode: FailMode::FailSafe,
                access_time_ms: 5000,
                held_open_threshold_ms: 20000,
                cameras: vec![CameraId::new("cam-0"), CameraId::new("cam-1")],
            },
            status: DoorStatus::locked_closed(),
            changed: None,
        }],
        access_points: vec![],
        maps: vec![],
        open_requests: vec![],
    })));
    s
}

/// What each tile key asked for last: `None` live, `Some(position)` in
/// playback.
type Asked = Arc<Mutex<Vec<(String, Option<Timestamp>)>>>;

struct Noting(Asked);

impl TileSource for Noting {
    fn tile(&self, req: &TileRequest<'_>) -> TileView {
        self.0
            .lock()
            .unwrap()
            .push((req.key.to_owned(), req.playback.map(|p| p.position)));
        TileView {
            frame: None,
            status: TileStatus::Connecting,
            stats: TileStats::default(),
            stream: StreamChoice::Main,
        }
    }
}

fn last_asked(asked: &Asked, key: &str) -> Option<Option<Timestamp>> {
    asked
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, p)| *p)
}

fn segments(camera: &str, from: i64, to: i64) -> (CameraId, Vec<SegmentRef>) {
    let list = (from..to)
        .step_by(60)
        .enumerate()
        .map(|(i, s)| SegmentRef {
            id: i as i64,
            start: t(s),
            end: t(s + 60),
            url: format!("http://site.example/api/v1/recordings/segments/{i}"),
        })
        .collect();
    (CameraId::new(camera), list)
}

#[test]
fn a_view_plays_back_with_a_timeline_and_an_access_event_plays_from_before_it() {
    let (command_tx, mut commands) = mpsc::channel(64);
    let (events, event_rx) = mpsc::channel(64);
    let mut app = App::new_for_test(state(), command_tx, event_rx);
    let asked: Asked = Arc::new(Mutex::new(Vec::new()));
    app.set_tile_source(Box::new(Noting(asked.clone())));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |_cc| app);
    h.run();
    h.get_by_label("Cameras").click();
    h.run_steps(5);
    assert_eq!(last_asked(&asked, "cam-0"), Some(None), "live first");
    assert!(h.query_by_label_contains("timeline:").is_none());

    // Live → playback: every tile on one clock, two minutes back.
    h.get_by_label("Playback").click();
    h.run_steps(5);
    let at = last_asked(&asked, "cam-0")
        .unwrap()
        .expect("cam-0 plays back");
    let at1 = last_asked(&asked, "cam-1")
        .unwrap()
        .expect("cam-1 plays back");
    assert!(
        (at - at1).num_milliseconds().abs() < 100,
        "one clock: {at} {at1}"
    );
    // The site's clock reads t(0) here.
    assert!(
        (t(0) - at - chrono::TimeDelta::minutes(2))
            .num_seconds()
            .abs()
            < 5,
        "from two minutes ago: {at}"
    );
    // The window asks the worker for what the timeline shows.
    let load = std::iter::from_fn(|| commands.try_recv().ok())
        .find(|c| matches!(c, Command::LoadRecordings { .. }))
        .expect("the recordings are asked for");
    let Command::LoadRecordings {
        cameras,
        doors,
        from,
        to,
    } = load
    else {
        unreachable!()
    };
    assert_eq!(cameras.len(), 4);
    assert_eq!(doors, [DoorId::new("door-lobby")]);
    assert!(from < at && at < to);

    // Coverage with a gap, and door events in their lanes.
    let base = (at - t(0)).num_seconds();
    let mut cam0 = segments("cam-0", base - 600, base - 300);
    cam0.1.extend(segments("cam-0", base - 240, base + 30).1);
    let mark = |s: i64, kind| DoorMark {
        at: t(base + s),
        door: DoorId::new("door-lobby"),
        kind,
    };
    events
        .try_send(AppEvent::Recordings {
            from,
            to,
            coverage: vec![cam0, segments("cam-1", base - 600, base + 30)],
            marks: vec![
                mark(-100, MarkKind::Granted),
                mark(-50, MarkKind::Forced),
                mark(-20, MarkKind::Denied),
            ],
            bookmarks: vec![],
        })
        .unwrap();
    h.run_steps(5);
    let timeline = format!("{:?}", h.get_by_label_contains("timeline:"));
    assert!(
        timeline.contains("4 cameras, 3 recorded spans, 3 door events, 0 bookmarks"),
        "cam-0 in two spans (the gap), cam-1 in one; three door events: {timeline}"
    );

    // A bookmark of the moment shown, for the cameras on screen.
    h.get_by_label("Bookmark…").click();
    h.run_steps(3);
    let title = (egui::accesskit::Role::TextInput, "Bookmark title");
    h.get_by_role_and_label(title.0, title.1).focus();
    h.run();
    h.get_by_role_and_label(title.0, title.1)
        .type_text("Tailgating at the lobby");
    h.run_steps(3);
    h.get_by_label("Place bookmark").click();
    h.run_steps(3);
    let placed = std::iter::from_fn(|| commands.try_recv().ok())
        .find_map(|c| match c {
            Command::AddBookmark {
                cameras,
                from,
                to,
                title,
                ..
            } => Some((cameras, from, to, title)),
            _ => None,
        })
        .expect("the bookmark goes to the worker");
    assert_eq!(placed.0.len(), 4);
    assert_eq!(placed.3, "Tailgating at the lobby");
    assert_eq!(placed.2 - placed.1, chrono::TimeDelta::seconds(10));
    events
        .try_send(AppEvent::BookmarkPlaced(watchdesk::domain::Bookmark {
            id: "b-1".into(),
            cameras: placed.0.clone(),
            start: placed.1,
            end: placed.2,
            title: placed.3.clone(),
            note: String::new(),
            by: "operator".into(),
            created: t(0),
        }))
        .unwrap();
    h.run_steps(5);
    assert!(
        format!("{:?}", h.get_by_label_contains("timeline:")).contains("1 bookmarks"),
        "the timeline shows it"
    );

    // Unlink a tile: it goes live while the others play on.
    h.get_by_label_contains("camera Camera 2:").hover();
    h.run_steps(5);
    h.get_by_label("Unlink").click();
    h.run_steps(5);
    assert_eq!(last_asked(&asked, "cam-2"), Some(None), "unlinked: live");
    assert!(last_asked(&asked, "cam-0").unwrap().is_some());

    // Back to live.
    h.get_by_label("Live").click();
    h.run_steps(5);
    assert_eq!(last_asked(&asked, "cam-0"), Some(None));
    assert!(h.query_by_label_contains("timeline:").is_none());

    // From the access monitor: the door's cameras play from 5 s before.
    let when = t(base - 50);
    events
        .try_send(AppEvent::Live(Event {
            seq: 2,
            time: when,
            kind: EventKind::AccessGranted {
                door: DoorId::new("door-lobby"),
                access_point: None,
                cardholder: None,
                credential: None,
            },
        }))
        .unwrap();
    h.run_steps(5);
    // The play button shows under the pointer.
    assert!(h.query_by_label_contains("play Access granted").is_none());
    h.get_by_label_contains("access event Access granted")
        .hover();
    h.run_steps(3);
    h.get_by_label_contains("play Access granted").click();
    h.run_steps(5);
    let from_event = last_asked(&asked, "cam-0").unwrap().expect("plays back");
    let before = (when - from_event).num_milliseconds();
    assert!(
        (4_900..5_500).contains(&before),
        "from 5 s before the event: {before} ms"
    );

    // An event seconds ago: its segment is still being written. The clock
    // waits at 5 s before it (saying so) rather than going live.
    h.get_by_label("Live").click();
    h.run_steps(3);
    let recent = t(-20);
    events
        .try_send(AppEvent::Live(Event {
            seq: 3,
            time: recent,
            kind: EventKind::AccessDenied {
                door: DoorId::new("door-lobby"),
                access_point: None,
                cardholder: None,
                credential: None,
                reason: watchdesk::domain::DenyReason::UnknownCard,
            },
        }))
        .unwrap();
    h.run_steps(5);
    h.get_by_label_contains("access event Access denied")
        .hover();
    h.run_steps(3);
    h.get_by_label_contains("play Access denied").click();
    h.run_steps(10);
    assert!(
        h.query_by_label_contains("being finished").is_some(),
        "the wait is said"
    );
    let held = last_asked(&asked, "cam-0")
        .unwrap()
        .expect("still in playback");
    // Frame after frame for 300 ms, the position stays where it is.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
    while std::time::Instant::now() < until {
        h.run_steps(1);
        assert_eq!(
            last_asked(&asked, "cam-0").unwrap(),
            Some(held),
            "the clock holds"
        );
    }
    assert!(
        (held - (recent - chrono::TimeDelta::seconds(5))).num_milliseconds() < 100,
        "held at 5 s before the event: {held}"
    );
    // The segment arrives: the clock runs from there.
    events
        .try_send(AppEvent::Recordings {
            from: recent - chrono::TimeDelta::minutes(5),
            to: recent + chrono::TimeDelta::minutes(5),
            coverage: vec![segments("cam-0", -200, 0)],
            marks: vec![],
            bookmarks: vec![],
        })
        .unwrap();
    h.run_steps(5);
    assert!(h.query_by_label_contains("being finished").is_none());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        h.run_steps(1);
        let running = last_asked(&asked, "cam-0").unwrap().expect("plays back");
        if running > held {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the clock runs: still {running} after 5 s"
        );
    }
}

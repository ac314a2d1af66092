#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The access monitor and the status bar, drawn with egui_kittest over a
//! state fed by the real worker from the real site: badges presented at
//! real readers, decided by the site, read back over the live stream.

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use tokio::sync::mpsc;
use watchdesk::app::App;
use watchdesk::app::worker::{self, EventSink, SiteSource, WorkerConfig};
use watchdesk::domain::{
    AccessPointId, CardholderId, CredentialId, DenyReason, DoorId, Event, EventKind, Role, Session,
    SiteTime, Timestamp,
};
use watchdesk::ui::{access_monitor::access_monitor_ui, status_bar::status_bar_ui};
use watchdesk::viewer::photos::{THUMB_SIDE_PX, Thumb};
use watchdesk::viewer::{ACCESS_FEED_LEN, AppEvent, AppState, Command, command_channel};

use crate::common;
use crate::worker_rig::Worker;

/// Feeds the worker's events into a state until `done` says so.
async fn until(
    events: &mut mpsc::Receiver<AppEvent>,
    state: &mut AppState,
    what: &str,
    mut done: impl FnMut(&AppState) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(state) {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("worker events");
        state.apply(event);
        state.apply(AppEvent::Tick {
            now: chrono::Utc::now(),
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_monitor_shows_real_decisions_in_words_and_opens_the_doors_cameras() {
    let site = common::start_site().await;
    let (_commands, command_rx) = mpsc::channel::<Command>(8);
    let (event_tx, mut events) = mpsc::channel(256);
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
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    until(&mut events, &mut state, "the link and the names", |s| {
        s.link_up()
            && s.site()
                .cardholder_name(&CardholderId::new("ch-002"))
                .is_some()
            && s.site().clock_offset_ms.is_some()
    })
    .await;

    // Ben Okafor (all areas, all day) and Lena Vogel's lost badge.
    let core = site.handle.core();
    assert!(core.present_credential_now(
        &AccessPointId::new("ap-lobby-in"),
        &CredentialId::new("100107")
    ));
    assert!(!core.present_credential_now(
        &AccessPointId::new("ap-dock-in"),
        &CredentialId::new("100177")
    ));
    until(&mut events, &mut state, "both decisions", |s| {
        s.access_events().len() >= 2
    })
    .await;
    worker.abort();

    let (sender, outbox) = command_channel();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(900.0, 500.0))
        .build_ui_state(
            move |ui, state: &mut AppState| {
                egui::Panel::bottom("status").show(ui, |ui| status_bar_ui(ui, state));
                access_monitor_ui(ui, state, &sender);
            },
            state,
        );
    harness.run();

    // In an operator's words, never the wire's.
    let granted = "Access granted · Ben Okafor";
    let denied = "Access denied · card disabled · Lena Vogel";
    harness.get_by_label(granted);
    harness.get_by_label(denied);
    harness.get_by_label("Lobby main entrance");
    harness.get_by_label("Loading dock roller door");
    for wire in ["access.granted", "access.denied"] {
        assert!(harness.query_by_label_contains(wire).is_none(), "{wire}");
    }
    // Newest first: the denial was presented second.
    let rows: Vec<String> = harness
        .query_all_by_label_contains("access event ")
        .filter_map(|n| n.accesskit_node().label())
        .collect();
    assert_eq!(
        rows,
        [
            format!("access event {denied} at Loading dock roller door"),
            format!("access event {granted} at Lobby main entrance"),
        ]
    );

    // The status bar: site, user and role, link, rate, clock offset.
    harness.get_by_label("operator · operator");
    harness.get_by_label("live");
    assert!(harness.query_by_label_contains("events/s").is_some());
    assert!(harness.query_by_label_contains("site clock ").is_some());

    // A click on the granted event shows the lobby's cameras.
    harness
        .get_by_label(&format!("access event {granted} at Lobby main entrance"))
        .click();
    harness.run();
    // (Without a shell nothing marks the photos asked for: each frame
    // asks again; those are not what this test is about.)
    let sent: Vec<Command> = std::iter::from_fn(|| outbox.try_recv())
        .filter(|c| !matches!(c, Command::WantPhotos(_)))
        .collect();
    assert_eq!(sent, [Command::ShowDoorCameras(DoorId::new("door-lobby"))]);
}

/// A badge swipe by someone with a photo: the row's photo slot says "no
/// photo yet" and asks for it once (the shell's dedup), the real worker
/// fetches and shrinks it from the real site, and the slot then is the
/// photo. An unknown card's row shows a silhouette and asks for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swipe_shows_the_cardholders_photo_in_the_row_once_it_came() {
    let site = common::start_site().await;
    let mut worker = Worker::start(&site, Role::Operator);
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    let ben = CardholderId::new("ch-002");
    worker
        .until(&mut state, "the link and the names", |s| {
            s.link_up() && s.site().cardholder_name(&ben).is_some()
        })
        .await;
    let core = site.handle.core();
    assert!(core.present_credential_now(
        &AccessPointId::new("ap-lobby-in"),
        &CredentialId::new("100107")
    ));
    assert!(!core.present_credential_now(
        &AccessPointId::new("ap-dock-in"),
        &CredentialId::new("no-such-card")
    ));
    worker
        .until(&mut state, "both decisions", |s| {
            s.access_events().len() >= 2
        })
        .await;

    let (sender, outbox) = command_channel();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(900.0, 500.0))
        .build_ui_state(
            move |ui, state: &mut AppState| access_monitor_ui(ui, state, &sender),
            state,
        );
    harness.run();
    harness.get_by_label("no photo yet");
    harness.get_by_label("no photo: unknown person");
    assert!(harness.query_by_label("photo of Ben Okafor").is_none());

    // What the shell does: forwards only what was not asked for yet.
    let mut asked = Vec::new();
    for command in std::iter::from_fn(|| outbox.try_recv()) {
        if let Command::WantPhotos(ids) = command {
            asked.extend(harness.state_mut().people.thumbs.ask(ids));
        }
    }
    assert_eq!(
        asked,
        std::slice::from_ref(&ben),
        "once, and only the known person"
    );
    harness.run();
    assert!(
        std::iter::from_fn(|| outbox.try_recv()).all(|c| !matches!(c, Command::WantPhotos(_))),
        "loading: not asked again"
    );
    harness.get_by_label("no photo yet");
    worker.send(Command::WantPhotos(asked)).await;
    worker
        .until(harness.state_mut(), "the photo", |s| {
            !matches!(s.people.thumbs.get(&ben), Thumb::Loading)
        })
        .await;
    match harness.state().people.thumbs.get(&ben) {
        Thumb::Ready { image, .. } => assert!(
            image.is_consistent() && image.width.max(image.height) <= THUMB_SIDE_PX,
            "shrunk in the worker: {image:?}"
        ),
        other => panic!("no photo came: {other:?}"),
    }
    harness.run();
    harness.get_by_label("photo of Ben Okafor");
    assert!(harness.query_by_label("no photo yet").is_none());
    harness.get_by_label("no photo: unknown person");
}

fn t(secs: i64) -> Timestamp {
    // 2026-11-22T10:00:00Z
    chrono::DateTime::from_timestamp(1_795_341_600 + secs, 0).expect("valid time")
}

fn signed_in() -> AppState {
    let mut s = AppState::new(t(0), "http://site.example", false);
    s.apply(AppEvent::SignedIn(Session {
        token: "tok".into(),
        username: "op-jansen".into(),
        role: Role::Operator,
        expires: t(3600),
    }));
    s
}

fn denied(seq: u64) -> AppEvent {
    AppEvent::Live(Event {
        seq,
        time: t(seq as i64 / 100),
        kind: EventKind::AccessDenied {
            door: DoorId::new("door-lobby"),
            access_point: None,
            cardholder: None,
            credential: None,
            reason: DenyReason::UnknownCard,
        },
    })
}

/// Draws the access monitor over `state` in a harness.
fn monitor(state: AppState) -> Harness<'static, AppState> {
    let (sender, _outbox) = command_channel();
    Harness::builder()
        .with_size(egui::vec2(900.0, 500.0))
        .build_ui_state(
            move |ui, state: &mut AppState| access_monitor_ui(ui, state, &sender),
            state,
        )
}

/// Ten thousand entries lay out only the rows in sight, and a frame costs
/// about what it does with twenty.
#[test]
fn ten_thousand_access_events_draw_only_the_rows_in_sight() {
    let frame_ms = |n: u64| {
        let mut state = signed_in();
        for seq in 1..=n {
            state.apply(denied(seq));
        }
        assert_eq!(
            state.access_events().len(),
            (n as usize).min(ACCESS_FEED_LEN)
        );
        let mut h = monitor(state);
        h.run();
        let rows = h.query_all_by_label_contains("access event ").count();
        assert!(
            (10..=40).contains(&rows),
            "{rows} rows laid out for {n} events"
        );
        let started = std::time::Instant::now();
        for _ in 0..20 {
            h.step();
        }
        started.elapsed().as_secs_f64() * 1000.0 / 20.0
    };
    let small = frame_ms(20);
    let large = frame_ms(ACCESS_FEED_LEN as u64 + 50);
    println!("access monitor frame: {small:.2} ms with 20 events, {large:.2} ms with 10,000");
}

/// The status bar warns when the site's clock is off by more than 2 s.
#[test]
fn the_status_bar_warns_of_a_site_clock_off_by_more_than_two_seconds() {
    let bar = |offset_ms: i64| {
        let mut state = signed_in();
        let local = t(0);
        state.apply(AppEvent::SiteClock {
            site: SiteTime {
                now: local + chrono::TimeDelta::milliseconds(offset_ms),
                time_zone: "Europe/Berlin".into(),
            },
            local,
        });
        let mut h = Harness::builder()
            .with_size(egui::vec2(900.0, 40.0))
            .build_ui_state(|ui, state: &mut AppState| status_bar_ui(ui, state), state);
        h.run();
        h
    };
    let fine = bar(1_500);
    fine.get_by_label("site clock +1.5 s");
    assert!(fine.query_by_label_contains("! site clock").is_none());
    fine.get_by_label("op-jansen · operator");
    fine.get_by_label("0.0 events/s");
    let behind = bar(-2_100);
    behind.get_by_label("! site clock -2.1 s");
    let ahead = bar(185_000);
    ahead.get_by_label("! site clock +3 min 05 s");
    let unmeasured = {
        let mut h = Harness::builder()
            .with_size(egui::vec2(900.0, 40.0))
            .build_ui_state(
                |ui, state: &mut AppState| status_bar_ui(ui, state),
                signed_in(),
            );
        h.run();
        h
    };
    unmeasured.get_by_label("site clock not measured");
}

/// The same through the window's shell: the access monitor in the
/// "Operations" dock asks for Ben Okafor's photo, the shell forwards it once
/// however many frames draw the row, the real worker answers, and the row
/// shows the photo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_asks_for_a_photo_once_and_shows_it_when_it_came() {
    let site = common::start_site().await;
    let mut worker = Worker::start(&site, Role::Operator);
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    let ben = CardholderId::new("ch-002");
    worker
        .until(&mut state, "the link and the names", |s| {
            s.link_up() && s.site().cardholder_name(&ben).is_some()
        })
        .await;
    assert!(site.handle.core().present_credential_now(
        &AccessPointId::new("ap-lobby-in"),
        &CredentialId::new("100107")
    ));
    worker
        .until(&mut state, "the decision", |s| {
            !s.access_events().is_empty()
        })
        .await;

    let (to_worker, mut from_app) = mpsc::channel::<Command>(64);
    let (to_app, from_worker) = mpsc::channel::<AppEvent>(256);
    let app = App::new_for_test(state, to_worker, from_worker);
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_cc| app);
    for _ in 0..3 {
        harness.run();
    }
    harness.get_by_label("no photo yet");
    let mut asked = Vec::new();
    while let Ok(command) = from_app.try_recv() {
        if let Command::WantPhotos(ids) = &command {
            asked.extend(ids.iter().cloned());
            worker.send(command).await;
        }
    }
    assert_eq!(asked, std::slice::from_ref(&ben), "asked for once");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while harness.query_by_label("photo of Ben Okafor").is_none() {
        let event = tokio::time::timeout_at(deadline, worker.events.recv())
            .await
            .expect("the photo in time")
            .expect("worker events");
        to_app.send(event).await.expect("the window listens");
        harness.run();
    }
    assert!(harness.query_by_label("no photo yet").is_none());
    while let Ok(command) = from_app.try_recv() {
        assert!(
            !matches!(command, Command::WantPhotos(_)),
            "not asked again: {command:?}"
        );
    }
}

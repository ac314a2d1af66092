//! The floor map panel, driven through AccessKit with egui_kittest, on the
//! state of the real demo site as the real worker delivers it (its snapshot,
//! its plan pictures, its live events): a door's click opens its menu, a camera's
//! click asks for it in the view, and a door changed at the site shows the
//! same on the map and in the doors panel.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use serde_json::json;

use watchdesk::app::{AppEvent, AppState, Command, CommandPhase, command_channel};
use watchdesk::domain::{CameraId, DoorAction, DoorId, DoorState, MapId, Role};
use watchdesk::ui::{doors, map};
use watchdesk::viewer::{CommandReceiver, CommandSender, MapView};

use crate::common::{TestSite, start_site};
use crate::worker_rig::Worker;

/// Signed in as `role`, with the site's state and both plans' pictures, as
/// the worker delivers them.
async fn site_state(site: &TestSite, role: Role) -> (AppState, Worker) {
    let mut worker = Worker::start(site, role);
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    worker
        .until(&mut state, "the snapshot and the plans", |s| {
            s.runtime.session.is_some()
                && s.site().maps().len() == 2
                && s.site()
                    .maps()
                    .iter()
                    .all(|m| s.site().map_image(&m.id).is_some())
        })
        .await;
    (state, worker)
}

struct Panel {
    state: AppState,
    view: MapView,
    commands: CommandSender,
}

/// The map, beside the doors panel with `with_doors` (both reading the
/// same state).
fn harness(state: AppState, with_doors: bool) -> (Harness<'static, Panel>, CommandReceiver) {
    let (commands, rx) = command_channel();
    let panel = Panel {
        state,
        view: MapView::default(),
        commands,
    };
    let harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 800.0))
        // Short steps, so two clicks make a double-click.
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(
            move |ui, p: &mut Panel| {
                if with_doors {
                    ui.columns(2, |cols| {
                        doors::doors_ui(
                            &mut cols[0],
                            &p.state,
                            &mut Default::default(),
                            &p.commands,
                        );
                        map::map_ui(&mut cols[1], &p.state, &mut p.view, &p.commands);
                    });
                } else {
                    map::map_ui(ui, &p.state, &mut p.view, &p.commands);
                }
            },
            panel,
        );
    (harness, rx)
}

fn drain(rx: &CommandReceiver) -> Vec<Command> {
    std::iter::from_fn(|| rx.try_recv()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_click_on_a_door_opens_its_menu() {
    let site = start_site().await;
    let (state, mut worker) = site_state(&site, Role::Operator).await;
    let (mut h, rx) = harness(state, false);
    h.run();
    assert_eq!(
        h.state().view.floor,
        Some(MapId::new("floor1")),
        "the first floor opens"
    );
    // The plan names are the floor switcher.
    assert!(h.query_by_label("Ground floor").is_some());
    assert!(h.query_by_label("Level 2").is_some());
    let lobby = "map door Lobby main entrance: locked";
    h.get_by_label(lobby).click();
    h.run();
    for item in ["Lock", "Unlock", "Access", "Show camera Lobby entrance"] {
        assert!(h.query_by_label(item).is_some(), "menu has {item}");
    }
    h.get_by_label("Unlock").click();
    h.run();
    let sent = drain(&rx);
    assert!(
        matches!(
            sent.as_slice(),
            [Command::Door { door, action: DoorAction::Unlock, .. }] if *door == DoorId::new("door-lobby")
        ),
        "{sent:?}"
    );
    // Sent as the shell sends it: pending, then confirmed by the door, and
    // the menu says so.
    let Some(Command::Door {
        door,
        action,
        idempotency_key,
    }) = sent.into_iter().next()
    else {
        unreachable!("checked above")
    };
    h.state_mut().state.apply(AppEvent::CommandSent {
        door: door.clone(),
        action,
        key: idempotency_key.clone(),
    });
    worker
        .commands
        .send(Command::Door {
            door: door.clone(),
            action,
            idempotency_key,
        })
        .await
        .expect("worker takes commands");
    worker
        .until(&mut h.state_mut().state, "the unlock confirmed", |s| {
            s.site()
                .door(&door)
                .and_then(|d| d.last_command.as_ref())
                .is_some_and(|c| c.phase == CommandPhase::Confirmed)
        })
        .await;
    h.run();
    h.get_by_label("map door Lobby main entrance: unlocked")
        .click();
    h.run();
    assert!(h.query_by_label("unlock: confirmed").is_some());
    h.key_press(egui::Key::Escape);
    h.run();
    // A camera's click asks for it in the view.
    h.get_by_label("map camera East exit corridor").click();
    h.run();
    let sent = drain(&rx);
    assert_eq!(
        sent,
        [Command::ShowCamera {
            camera: CameraId::new("cam-east")
        }]
    );
    // The other floor, fitted: its doors, not the first floor's.
    h.get_by_label("Level 2").click();
    h.run();
    let mut fitted = MapView::default();
    fitted.select_floor(MapId::new("floor2"));
    assert_eq!(h.state().view, fitted);
    assert!(
        h.query_by_label_contains("map door Stairwell level 2")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("map door Lobby main entrance")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_the_menu_with_its_commands_disabled() {
    let site = start_site().await;
    let (state, _) = site_state(&site, Role::Viewer).await;
    let (mut h, rx) = harness(state, false);
    h.run();
    h.get_by_label("map door Lobby main entrance: locked")
        .click();
    h.run();
    let unlock = h.get_by_label("Unlock");
    assert!(
        unlock.accesskit_node().is_disabled(),
        "a viewer may not unlock"
    );
    unlock.click();
    h.run();
    assert!(
        drain(&rx)
            .iter()
            .all(|c| !matches!(c, Command::Door { .. }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doors_cameras_are_one_double_click_or_one_menu_item_away() {
    let site = start_site().await;
    let (state, _) = site_state(&site, Role::Viewer).await;
    let (mut h, rx) = harness(state, false);
    h.run();
    let lobby = "map door Lobby main entrance: locked";
    h.get_by_label(lobby).click();
    h.run();
    // The lobby door has two cameras: both at once, or one of them.
    h.get_by_label("Show all 2 cameras").click();
    h.run();
    assert_eq!(
        drain(&rx),
        [Command::ShowDoorCameras(DoorId::new("door-lobby"))]
    );
    // Half a second after the last click, so the next two are a double-click.
    h.run_steps(30);
    let door = h.get_by_label(lobby);
    door.click();
    door.click();
    h.run();
    let sent = drain(&rx);
    assert!(
        sent.contains(&Command::ShowDoorCameras(DoorId::new("door-lobby"))),
        "a double-click shows the door's cameras: {sent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_door_shows_on_the_map_and_in_the_doors_panel() {
    let site = start_site().await;
    let (state, mut worker) = site_state(&site, Role::Operator).await;
    let (mut h, _rx) = harness(state, true);
    h.run();
    let east = "East emergency exit";
    assert!(
        h.query_by_label(&format!("map door {east}: locked"))
            .is_some()
    );

    site.fault("doors/door-east", json!({"position": "open"}))
        .await;
    // The live stream brings the change, as in the window.
    let door = DoorId::new("door-east");
    worker
        .until(&mut h.state_mut().state, "the forced door", |s| {
            s.site().door(&door).map(|d| s.door_state(d)) == Some(DoorState::Forced)
        })
        .await;
    h.run();
    assert!(
        h.query_by_label(&format!("map door {east}: FORCED"))
            .is_some(),
        "the map shows the forced door"
    );
    let row_label = format!("door {east}");
    let row = h.get_by_label(&row_label);
    assert!(
        row.query_by_label("FORCED").is_some(),
        "so does the doors panel"
    );
    site.fault("doors/door-east", json!({"position": "closed"}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_zooms_at_the_pointer_pans_with_a_drag_and_fits_again() {
    let site = start_site().await;
    let (state, _) = site_state(&site, Role::Operator).await;
    let (mut h, _rx) = harness(state, false);
    h.run();
    // An empty spot of the plan (no icon under it).
    let at = egui::pos2(500.0, 450.0);
    h.hover_at(at);
    h.event(egui::Event::Zoom(2.0));
    h.run();
    let zoomed = h.state().view.clone();
    assert!((zoomed.zoom - 2.0).abs() < 1e-3, "{zoomed:?}");
    let center = zoomed.center.expect("zoomed away from the plan's centre");

    h.drag_at(at);
    h.run();
    h.hover_at(at + egui::vec2(80.0, 0.0));
    h.run();
    h.drop_at(at + egui::vec2(80.0, 0.0));
    h.run();
    let panned = h.state().view.center.expect("a centre");
    assert!(
        panned[0] < center[0],
        "dragged right, the centre moves left on the plan: {center:?} -> {panned:?}"
    );
    assert!((panned[1] - center[1]).abs() < 1e-3);

    h.get_by_label("Fit").click();
    h.run();
    let mut fitted = MapView::default();
    fitted.select_floor(MapId::new("floor1"));
    assert_eq!(h.state().view, fitted);
}

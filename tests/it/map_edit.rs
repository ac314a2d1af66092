#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The map editor's route, `PUT /api/v1/maps/{id}/placements`, against the
//! real server over a copy of the demo maps (never the repository's):
//! role-checked, checked, audited, `map.changed`, the file rewritten so it
//! reads back as the hand-written ones do, and a folder that cannot be
//! written answers 503 and changes nothing.

use crate::common;

use std::time::Duration;

use common::{api_error, start_site};
use serde_json::{Value, json};
use watchdesk::domain::{MapId, Role};

/// floor1's placements as the site serves them, as a request body.
async fn placements(site: &common::TestSite, token: &str) -> Value {
    let snap: Value = site
        .get(token, "/api/v1/snapshot")
        .await
        .json()
        .await
        .unwrap();
    let map = snap["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "floor1")
        .unwrap()
        .clone();
    json!({"doors": map["doors"], "cameras": map["cameras"]})
}

fn lobby_at(body: &Value) -> (f64, f64) {
    let d = body["doors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "door-lobby")
        .unwrap();
    (d["x"].as_f64().unwrap(), d["y"].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_places_a_door_others_are_refused_and_the_file_reads_back() {
    let site = start_site().await;
    let admin = site.token(Role::Admin).await;
    let path = "/api/v1/maps/floor1/placements";
    let mut body = placements(&site, &admin).await;
    body["doors"][0] = json!({"id": "door-lobby", "x": 333.5, "y": 444.25});
    body["cameras"][0]["direction_deg"] = json!(-90.0);

    for role in [Role::Operator, Role::Supervisor, Role::Viewer] {
        let token = site.token(role).await;
        let r = site.put(&token, path, body.clone()).await;
        assert_eq!(r.status(), 403, "{role}");
    }
    assert_eq!(lobby_at(&placements(&site, &admin).await), (280.0, 760.0));

    // Bad input: 400 naming what is wrong; an unknown map 404.
    let mut unknown = body.clone();
    unknown["doors"][0]["id"] = json!("door-nowhere");
    let mut outside = body.clone();
    outside["doors"][0]["x"] = json!(1200.5);
    let mut twice = body.clone();
    twice["doors"][1] = body["doors"][0].clone();
    let mut fov = body.clone();
    fov["cameras"][0]["fov_deg"] = json!(0.5);
    for (bad, want) in [
        (unknown, "door-nowhere"),
        (outside, "outside the plan"),
        (twice, "twice"),
        (fov, "fov_deg"),
    ] {
        let r = site.put(&admin, path, bad).await;
        assert_eq!(r.status(), 400);
        let (_, _, message) = api_error(r).await;
        assert!(message.contains(want), "{message} lacks {want}");
    }
    let r = site
        .put(&admin, "/api/v1/maps/floor9/placements", body.clone())
        .await;
    assert_eq!(r.status(), 404);

    let r = site.put(&admin, path, body.clone()).await;
    assert_eq!(r.status(), 200);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["cameras"][0]["direction_deg"], json!(270.0));
    assert_eq!(lobby_at(&placements(&site, &admin).await), (333.5, 444.25));

    // `map.changed`, by the admin.
    let changed = site
        .wait_event(&admin, "type=map.changed", Duration::from_secs(2), |e| {
            e["map"] == "floor1"
        })
        .await;
    assert_eq!(changed["by"], "admin");

    // Audited: the refusals and the change.
    let r = site
        .get(&admin, "/api/v1/audit?action=map.edit&limit=100")
        .await;
    let page: Value = r.json().await.unwrap();
    let outcomes: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {}", a["user"], a["outcome"]))
        .collect();
    for want in [
        "operator\" \"denied",
        "supervisor\" \"denied",
        "admin\" \"pending",
    ] {
        assert!(
            outcomes.iter().any(|o| o.contains(want)),
            "{want}: {outcomes:?}"
        );
    }
    assert!(
        outcomes
            .iter()
            .any(|o| o.starts_with("\"admin\"") && o.ends_with(": ok\"")),
        "{outcomes:?}"
    );

    // The file was written back and reads as the hand-written ones do.
    let dir = site.handle.core().config().maps_dir.clone();
    assert!(dir.starts_with(std::env::temp_dir()) || !dir.starts_with(common::repo()));
    let maps = watchdesk::config::map_writer::map_file(&dir, &MapId::new("floor1")).unwrap();
    let text = std::fs::read_to_string(&maps).unwrap();
    assert!(text.starts_with("# Ground floor"), "comments kept: {text}");
    let read = watchdesk::config::load_maps(&dir).unwrap();
    let floor1 = read.iter().find(|m| m.id.as_str() == "floor1").unwrap();
    let lobby = floor1.doors.iter().find(|d| d.id == "door-lobby").unwrap();
    assert_eq!((lobby.x, lobby.y), (333.5, 444.25));
    assert_eq!(floor1.cameras[0].direction_deg, Some(270.0));
    assert_eq!(
        serde_json::to_value(&floor1.doors).unwrap(),
        stored["doors"],
        "the file holds what the site serves"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maps_folder_that_cannot_be_written_answers_503_and_changes_nothing() {
    let site = start_site().await;
    let admin = site.token(Role::Admin).await;
    let mut body = placements(&site, &admin).await;
    body["doors"][0] = json!({"id": "door-lobby", "x": 10.0, "y": 10.0});
    // The folder goes away under the site (root ignores file modes, so a
    // read-only folder would not do here).
    let dir = site.handle.core().config().maps_dir.clone();
    std::fs::remove_dir_all(&dir).unwrap();
    let r = site
        .put(&admin, "/api/v1/maps/floor1/placements", body)
        .await;
    assert_eq!(r.status(), 503);
    let (_, kind, message) = api_error(r).await;
    assert_eq!(kind, "unavailable");
    assert!(message.contains("floor1"), "{message}");
    assert_eq!(lobby_at(&placements(&site, &admin).await), (280.0, 760.0));
    let r = site.get(&admin, "/api/v1/events?type=map.changed").await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
}

// ---- the editor in the map panel, over the real worker ----------------------

mod panel {
    use egui::Rect;
    use egui_kittest::Harness;
    use egui_kittest::kittest::{NodeT, Queryable};

    use watchdesk::domain::{MapId, Role};
    use watchdesk::ui::map;
    use watchdesk::viewer::map::Placed;
    use watchdesk::viewer::{AppState, Command, CommandSender, MapView, command_channel};

    use crate::common::start_site;
    use crate::worker_rig::Worker;

    /// A place as a save sends it: to a tenth of a plan pixel.
    fn tenth(v: f32) -> f32 {
        (v * 10.0).round() / 10.0
    }

    struct Panel {
        state: AppState,
        view: MapView,
        commands: CommandSender,
    }

    async fn signed_in(site: &crate::common::TestSite, role: Role) -> (AppState, Worker) {
        let mut worker = Worker::start(site, role);
        let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
        worker
            .until(&mut state, "the maps", |s| {
                s.runtime.session.is_some() && s.site().maps().len() == 2
            })
            .await;
        (state, worker)
    }

    fn lobby(state: &AppState) -> Option<(f32, f32)> {
        let floor = state.site().map(&MapId::new("floor1"))?;
        let p = floor.doors.iter().find(|p| p.id == "door-lobby")?;
        Some((p.x, p.y))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_admin_drags_a_door_saves_and_every_client_shows_it() {
        let site = start_site().await;
        let (state, mut worker) = signed_in(&site, Role::Admin).await;
        let (mut other_state, mut other) = signed_in(&site, Role::Operator).await;
        let (commands, rx) = command_channel();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1000.0, 700.0))
            .build_ui_state(
                |ui, p: &mut Panel| map::map_ui(ui, &p.state, &mut p.view, &p.commands),
                Panel {
                    state,
                    view: MapView::default(),
                    commands,
                },
            );
        h.run();
        h.get_by_label("Edit").click();
        h.run();
        assert!(h.state().view.edit.is_some(), "edit mode");
        let icon: Rect = h
            .get_by_label("map door Lobby main entrance: locked")
            .rect();
        let from = icon.center();
        let to = from + egui::vec2(-60.0, -80.0);
        h.drag_at(from);
        h.run();
        h.hover_at(from + egui::vec2(-30.0, -40.0));
        h.run();
        h.hover_at(to);
        h.run();
        h.drop_at(to);
        h.run();
        let edit = h.state().view.edit.clone().expect("still editing");
        // What is saved: to a tenth of a plan pixel.
        let moved = edit
            .placement(Placed::Door, "door-lobby")
            .map(|p| (tenth(p.x), tenth(p.y)))
            .expect("placed");
        assert!(edit.dirty);
        assert!(
            moved.0 < 280.0 && moved.1 < 760.0,
            "moved up left: {moved:?}"
        );

        h.get_by_label("Save").click();
        h.run();
        let sent: Vec<Command> = std::iter::from_fn(|| rx.try_recv()).collect();
        let [save @ Command::SaveMapPlacements { .. }] = sent.as_slice() else {
            panic!("one save: {sent:?}");
        };
        assert!(h.query_by_label("Saving…").is_some(), "pending shows");
        worker.send(save.clone()).await;
        worker
            .until(&mut h.state_mut().state, "the save's answer", |s| {
                s.runtime.map_saved.is_some()
            })
            .await;
        h.run();
        assert!(h.state().view.edit.is_none(), "saved: edit mode ends");
        assert_eq!(lobby(&h.state().state), Some(moved));
        // The site has it, and so does another client, through map.changed.
        let snap = site.handle.core().snapshot();
        let floor1 = snap
            .maps
            .iter()
            .find(|m| m.id.as_str() == "floor1")
            .unwrap();
        let at = floor1.doors.iter().find(|p| p.id == "door-lobby").unwrap();
        assert_eq!((at.x, at.y), moved);
        other
            .until(&mut other_state, "the other client's map", |s| {
                lobby(s) == Some(moved)
            })
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn edit_is_disabled_with_the_reason_for_an_operator() {
        let site = start_site().await;
        let (state, _worker) = signed_in(&site, Role::Operator).await;
        let (commands, _rx) = command_channel();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1000.0, 700.0))
            .build_ui_state(
                |ui, p: &mut Panel| map::map_ui(ui, &p.state, &mut p.view, &p.commands),
                Panel {
                    state,
                    view: MapView::default(),
                    commands,
                },
            );
        h.run();
        let edit = h.get_by_label("Edit");
        assert!(edit.accesskit_node().is_disabled());
        edit.click();
        h.run();
        assert!(h.state().view.edit.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_save_keeps_the_edits_and_says_why() {
        let site = start_site().await;
        let (state, mut worker) = signed_in(&site, Role::Admin).await;
        let (commands, rx) = command_channel();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1000.0, 700.0))
            .build_ui_state(
                |ui, p: &mut Panel| map::map_ui(ui, &p.state, &mut p.view, &p.commands),
                Panel {
                    state,
                    view: MapView::default(),
                    commands,
                },
            );
        h.run();
        h.get_by_label("Edit").click();
        h.run();
        let from = h
            .get_by_label("map door Lobby main entrance: locked")
            .rect()
            .center();
        h.drag_at(from);
        h.run();
        h.hover_at(from + egui::vec2(40.0, -40.0));
        h.run();
        h.drop_at(from + egui::vec2(40.0, -40.0));
        h.run();
        // The maps folder goes away: the site cannot write the file.
        std::fs::remove_dir_all(&site.handle.core().config().maps_dir).unwrap();
        h.get_by_label("Save").click();
        h.run();
        let save = rx.try_recv().expect("a save");
        worker.send(save).await;
        worker
            .until(&mut h.state_mut().state, "the refusal", |s| {
                s.runtime.map_saved.is_some()
            })
            .await;
        h.run();
        let edit = h.state().view.edit.clone().expect("the edits are kept");
        assert!(edit.dirty && edit.error.is_some(), "{edit:?}");
        assert!(h.query_by_label_contains("Not saved: ").is_some());
        assert_eq!(lobby(&h.state().state), Some((280.0, 760.0)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_door_on_no_floor_is_dragged_on_and_a_camera_turned() {
        let site = start_site().await;
        // The lobby door taken off every floor first.
        let admin = site.token(Role::Admin).await;
        let mut body = super::placements(&site, &admin).await;
        body["doors"]
            .as_array_mut()
            .unwrap()
            .retain(|d| d["id"] != "door-lobby");
        let r = site
            .put(&admin, "/api/v1/maps/floor1/placements", body)
            .await;
        assert_eq!(r.status(), 200);
        let (state, mut worker) = signed_in(&site, Role::Admin).await;
        assert_eq!(lobby(&state), None);
        let (commands, rx) = command_channel();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1000.0, 700.0))
            .build_ui_state(
                |ui, p: &mut Panel| map::map_ui(ui, &p.state, &mut p.view, &p.commands),
                Panel {
                    state,
                    view: MapView::default(),
                    commands,
                },
            );
        h.run();
        h.get_by_label("Edit").click();
        h.run();
        // From the list of what no floor has, onto the plan.
        let from = h.get_by_label("door Lobby main entrance").rect().center();
        let to = egui::pos2(500.0, 400.0);
        h.drag_at(from);
        h.run();
        for step in [0.3, 0.6, 1.0] {
            h.hover_at(from + (to - from) * step);
            h.run();
        }
        // Released where it hovers (the pointer stays: a drop needs it).
        h.event(egui::Event::PointerButton {
            pos: to,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: egui::Modifiers::NONE,
        });
        h.run();
        h.run();
        let edit = h.state().view.edit.clone().expect("editing");
        let placed = edit
            .placement(Placed::Door, "door-lobby")
            .map(|p| (tenth(p.x), tenth(p.y)))
            .expect("dropped onto the plan");
        assert!(
            h.query_by_label("door Lobby main entrance").is_none(),
            "off the list"
        );

        // The lobby camera (117°) turned by its handle, a quarter turn on.
        let direction = |h: &Harness<'_, Panel>| {
            h.state()
                .view
                .edit
                .as_ref()
                .and_then(|e| e.placement(Placed::Camera, "cam-lobby"))
                .and_then(|p| p.direction_deg)
                .expect("a direction")
        };
        let handle = h.get_by_label("turn camera Lobby entrance").rect().center();
        let camera = h.get_by_label("map camera Lobby entrance").rect().center();
        let arm = handle - camera;
        // Clockwise on screen (y down): (x, y) -> (-y, x).
        let target = camera + egui::vec2(-arm.y, arm.x);
        h.drag_at(handle);
        h.run();
        for step in [0.5, 1.0] {
            h.hover_at(handle + (target - handle) * step);
            h.run();
        }
        h.drop_at(target);
        h.run();
        let turned = direction(&h);
        assert!((turned - 207.0).abs() < 3.0, "117 + 90: {turned}");

        h.get_by_label("Save").click();
        h.run();
        let save = rx.try_recv().expect("a save");
        worker.send(save).await;
        worker
            .until(&mut h.state_mut().state, "the save", |s| {
                s.runtime.map_saved.is_some()
            })
            .await;
        h.run();
        assert!(h.state().view.edit.is_none());
        let snap = site.handle.core().snapshot();
        let floor1 = snap
            .maps
            .iter()
            .find(|m| m.id.as_str() == "floor1")
            .unwrap();
        let door = floor1.doors.iter().find(|p| p.id == "door-lobby").unwrap();
        assert_eq!((door.x, door.y), placed);
        let cam = floor1.cameras.iter().find(|p| p.id == "cam-lobby").unwrap();
        assert!(
            (cam.direction_deg.unwrap() - turned).abs() <= 0.05 + 1e-3,
            "saved to a tenth of a degree"
        );
    }
}

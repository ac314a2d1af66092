#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The real window (`App`) fed by the real worker, signed in to a real
//! demo site (its simulated door controller, its request flow): what an
//! operator does with the mouse and keyboard, and what the doors answer.
//! No event is made up here; every state on screen came from the site.

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::accesskit::Role as AkRole;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use serde_json::json;
use tokio::sync::mpsc;
use watchdesk::app::App;
use watchdesk::app::worker::{self, EventSink, SiteSource, WorkerConfig};
use watchdesk::domain::{DoorId, DoorState, Role};
use watchdesk::viewer::{AppState, Command, Pane};

use crate::common::{TestSite, start_site_with};

/// The window signed in to `site` as `role` (its demo password), with the
/// doors panel at the front; the worker's task goes with it.
struct Window {
    harness: Harness<'static, App>,
    worker: tokio::task::JoinHandle<()>,
}

impl Drop for Window {
    fn drop(&mut self) {
        self.worker.abort();
    }
}

fn open(site: &TestSite, role: Role) -> Window {
    let (commands, command_rx) = mpsc::channel::<Command>(16);
    let (event_tx, events) = mpsc::channel(1024);
    let worker = tokio::spawn(worker::run(
        WorkerConfig {
            site: SiteSource::Remote {
                base_url: site.handle.base_url(),
            },
            ca_cert: None,
            allow_plain_http: false,
            auto_sign_in: Some((role.as_str().into(), format!("demo-{role}"))),
        },
        command_rx,
        EventSink::new(event_tx, Arc::new(|| {})),
    ));
    let state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    let harness = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |_cc| App::new_for_test(state, commands, events));
    let mut w = Window { harness, worker };
    step_until(&mut w, "signed in with the site's doors", |s| {
        s.runtime.session.is_some() && s.link_up() && s.site().doors().len() == 8
    });
    if w.harness.query_by_label("door Server room").is_none() {
        w.harness
            .get_by_role_and_label(AkRole::Button, Pane::Doors.title())
            .click();
    }
    w.harness.run_steps(10);
    w
}

/// Steps the window (the real clock runs) until `done` holds of its state,
/// under a deadline.
fn step_until(w: &mut Window, what: &str, done: impl Fn(&AppState) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(w.harness.state().state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        w.harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    w.harness.step();
}

/// Steps the window until `done` holds of what it shows, under a deadline.
fn see_until(w: &mut Window, what: &str, done: impl Fn(&Harness<'static, App>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        w.harness.step();
        if done(&w.harness) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn row_shows(h: &Harness<'static, App>, door_name: &str, text: &str) -> bool {
    h.query_by_label(&format!("door {door_name}"))
        .is_some_and(|row| row.query_by_label(text).is_some())
}

fn door_state(w: &Window, id: &str) -> Option<DoorState> {
    let s = w.harness.state().state();
    s.site().door(&DoorId::new(id)).map(|d| s.door_state(d))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_site_an_unlock_goes_pending_then_confirmed() {
    // A lock that takes 1.5 s to move, as a slow strike does: long enough
    // to see the command wait for the door.
    let site = start_site_with(|c| {
        c.controller.command_latency_ms = 1500;
        c.command_timeout_ms = 10_000;
    })
    .await;
    let mut w = open(&site, Role::Operator);
    assert!(row_shows(&w.harness, "Server room", "locked"));
    w.harness
        .get_by_label("door Server room")
        .get_by_label("Unlock")
        .click();
    see_until(&mut w, "the site to take the command", |h| {
        row_shows(h, "Server room", "unlock: pending…")
    });
    // Pending is not done: the door is still locked on screen.
    assert!(row_shows(&w.harness, "Server room", "locked"));
    assert_eq!(door_state(&w, "door-server"), Some(DoorState::Locked));
    see_until(&mut w, "the door to confirm", |h| {
        row_shows(h, "Server room", "unlock: confirmed")
    });
    assert!(row_shows(&w.harness, "Server room", "unlocked"));
    assert_eq!(door_state(&w, "door-server"), Some(DoorState::Unlocked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_site_a_command_to_an_offline_door_fails_visibly() {
    let site = start_site_with(|c| c.command_timeout_ms = 10_000).await;
    let mut w = open(&site, Role::Operator);
    let r = site.fault("controller", json!({"online": false})).await;
    assert_eq!(r.status(), 204);
    see_until(&mut w, "the doors to go UNKNOWN", |h| {
        row_shows(h, "Lab airlock", "UNKNOWN")
    });
    w.harness
        .get_by_label("door Lab airlock")
        .get_by_label("Unlock")
        .click();
    see_until(&mut w, "the command to fail", |h| {
        h.query_by_label("door Lab airlock")
            .and_then(|row| row.query_by_label_contains("unlock: failed ("))
            .is_some()
    });
    // Never shown as done, never as locked.
    assert!(!row_shows(&w.harness, "Lab airlock", "unlock: confirmed"));
    assert!(row_shows(&w.harness, "Lab airlock", "UNKNOWN"));
    // The controller comes back: the door shows its true state again.
    let r = site.fault("controller", json!({"online": true})).await;
    assert_eq!(r.status(), 204);
    see_until(&mut w, "the door's state to come back", |h| {
        row_shows(h, "Lab airlock", "locked")
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_site_a_request_pops_alt_g_grants_and_the_door_relocks() {
    // The lobby door's access time short, so the relock comes soon.
    let site = start_site_with(|c| {
        c.request_timeout_secs = 60;
        for d in &mut c.doors {
            if d.id.as_str() == "door-lobby" {
                d.access_time_ms = 1500;
            }
        }
    })
    .await;
    let mut w = open(&site, Role::Operator);
    let id = site.open_request("door-lobby");
    see_until(&mut w, "the request to pop", |h| {
        h.query_by_label(&format!("request {id}")).is_some()
    });
    w.harness
        .get_by_label(&format!("request {id}"))
        .get_by_label("Pat Visitor");
    // Alt+G answers the oldest request, from anywhere in the window.
    w.harness
        .key_press_modifiers(egui::Modifiers::ALT, egui::Key::G);
    see_until(&mut w, "the grant's outcome on the request", |h| {
        h.query_by_label(&format!("answered {id}"))
            .is_some_and(|row| row.query_by_label("Granted by operator").is_some())
    });
    step_until(&mut w, "the door to open its lock", |s| {
        let door = s.site().door(&DoorId::new("door-lobby")).unwrap();
        s.door_state(door) == DoorState::Accessed
    });
    step_until(&mut w, "the door to relock", |s| {
        let door = s.site().door(&DoorId::new("door-lobby")).unwrap();
        s.door_state(door) == DoorState::Locked
    });
    assert!(row_shows(&w.harness, "Lobby main entrance", "locked"));
    // What the site recorded: the grant, by the operator.
    let token = site.token(Role::Supervisor).await;
    let granted = site
        .events(&token, "type=access_request.resolved")
        .await
        .into_iter()
        .find(|e| e["request"] == id.as_str())
        .expect("the resolution is in the event log");
    assert_eq!(granted["outcome"], "granted");
    assert_eq!(granted["by"], "operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_site_a_role_sees_what_it_may_not_do_disabled_with_why() {
    let site = start_site_with(|_| {}).await;
    let w = open(&site, Role::Viewer);
    let row = w.harness.get_by_label("door Server room");
    for command in ["Lock", "Unlock", "Lockdown", "Release"] {
        assert!(
            row.get_by_label(command).accesskit_node().is_disabled(),
            "a viewer's {command} is enabled"
        );
    }
    // Why, in the tooltip.
    let mut w = w;
    w.harness
        .get_by_label("door Server room")
        .get_by_label("Unlock")
        .hover();
    see_until(&mut w, "the viewer's tooltip", |h| {
        h.query_by_label("your role (viewer) may not command doors")
            .is_some()
    });
    drop(w);
    let mut w = open(&site, Role::Operator);
    let row = w.harness.get_by_label("door Server room");
    assert!(!row.get_by_label("Unlock").accesskit_node().is_disabled());
    assert!(row.get_by_label("Lockdown").accesskit_node().is_disabled());
    // The reason is in the tooltip of the disabled control.
    w.harness
        .get_by_label("door Server room")
        .get_by_label("Lockdown")
        .hover();
    see_until(&mut w, "the tooltip", |h| {
        h.query_by_label("only a supervisor or admin may lockdown; you are operator")
            .is_some()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_site_a_map_click_on_a_door_opens_its_menu_and_both_panels_agree() {
    let site = start_site_with(|_| {}).await;
    let mut w = open(&site, Role::Operator);
    w.harness
        .get_by_role_and_label(AkRole::Button, Pane::Map.title())
        .click();
    w.harness.run_steps(10);
    w.harness
        .get_by_label("map door Lobby main entrance: locked")
        .click();
    w.harness.run_steps(10);
    for item in ["Lock", "Unlock", "Access", "Show camera Lobby entrance"] {
        assert!(w.harness.query_by_label(item).is_some(), "menu has {item}");
    }
    w.harness.get_by_label("Unlock").click();
    see_until(&mut w, "the map to show the door unlocked", |h| {
        h.query_by_label("map door Lobby main entrance: unlocked")
            .is_some()
    });
    w.harness
        .get_by_role_and_label(AkRole::Button, Pane::Doors.title())
        .click();
    w.harness.run_steps(10);
    assert!(row_shows(&w.harness, "Lobby main entrance", "unlocked"));
    assert!(row_shows(
        &w.harness,
        "Lobby main entrance",
        "unlock: confirmed"
    ));
    // An exit forced at the door itself: both panels show it.
    site.fault("doors/door-east", json!({"position": "open"}))
        .await;
    see_until(&mut w, "the forced door in the doors panel", |h| {
        row_shows(h, "East emergency exit", "FORCED")
    });
    w.harness
        .get_by_role_and_label(AkRole::Button, Pane::Map.title())
        .click();
    w.harness.run_steps(10);
    assert!(
        w.harness
            .query_by_label("map door East emergency exit: FORCED")
            .is_some()
    );
}

/// Switches the window to the Investigation workspace, with the
/// cardholders panel at the front, and opens `name` found by a search.
fn open_cardholder(w: &mut Window, query: &str, row_starts: &str) {
    w.harness.get_by_label("Investigation").click();
    w.harness.run_steps(10);
    w.harness
        .get_by_role_and_label(AkRole::Button, Pane::Cardholders.title())
        .click();
    w.harness.run_steps(10);
    w.harness
        .get_by_role_and_label(AkRole::TextInput, "Find a cardholder")
        .focus();
    w.harness.run_steps(10);
    w.harness
        .get_by_role_and_label(AkRole::TextInput, "Find a cardholder")
        .type_text(query);
    see_until(w, "the site's search answer", |h| {
        h.query_all_by_label_contains(row_starts).next().is_some()
    });
    w.harness.get_by_label_contains(row_starts).click();
    see_until(w, "the cardholder's details", |h| {
        h.query_all_by_label_contains("Edit ").next().is_some()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_site_a_cardholder_edit_at_one_window_shows_at_another() {
    let site = start_site_with(|_| {}).await;
    let mut supervisor = open(&site, Role::Supervisor);
    let mut operator = open(&site, Role::Operator);
    open_cardholder(&mut supervisor, "Okafor", "Ben Okafor · Facilities");
    open_cardholder(&mut operator, "Okafor", "Ben Okafor · Facilities");
    // The operator may look, not change.
    assert!(
        operator
            .harness
            .get_by_label("Edit Ben Okafor")
            .accesskit_node()
            .is_disabled()
    );
    supervisor.harness.get_by_label("Edit Ben Okafor").click();
    supervisor.harness.run_steps(10);
    let department = supervisor
        .harness
        .get_by_role_and_label(AkRole::TextInput, "Department");
    department.focus();
    supervisor.harness.run_steps(10);
    supervisor
        .harness
        .get_by_role_and_label(AkRole::TextInput, "Department")
        .type_text(" North");
    supervisor.harness.run_steps(10);
    supervisor.harness.get_by_label("Save cardholder").click();
    see_until(&mut supervisor, "the edit stored", |h| {
        h.query_by_label("Save cardholder").is_none()
            && h.query_all_by_label_contains("Facilities North")
                .next()
                .is_some()
    });
    // The other window shows it without anyone touching it.
    step_until(&mut operator, "the edit at the other window", |s| {
        s.people
            .open
            .as_ref()
            .and_then(|o| o.cardholder.as_ref())
            .is_some_and(|c| c.department == "Facilities North")
    });
    assert!(
        operator
            .harness
            .query_all_by_label_contains("Facilities North")
            .next()
            .is_some()
    );
    // Audited, by the supervisor.
    let token = site.token(Role::Admin).await;
    let audit = site.audit(&token, "action=cardholder.update").await;
    assert!(
        audit
            .iter()
            .any(|e| e["user"] == "supervisor" && e["target"] == "ch-002"),
        "{audit:?}"
    );
}

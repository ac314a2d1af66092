//! The operator window, driven through AccessKit with egui_kittest: no
//! network, no GPU. The state comes from a hand-made snapshot; commands land
//! in a channel the test reads; site events go in through the same channel
//! the worker would use.

use egui::accesskit::Role as AkRole;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use tokio::sync::mpsc;

use watchdesk::app::{App, AppEvent, AppState, Command, CommandPhase};
use watchdesk::domain::{
    AccessRequest, CommandId, CommandInfo, CommandState, Door, DoorAction, DoorId, DoorMode,
    DoorStatus, DoorWithStatus, Event, EventKind, FailMode, RequestId, Role, Session, SiteInfo,
    Snapshot, Timestamp,
};

fn t(secs: i64) -> Timestamp {
    // 2026-11-22T10:00:00Z
    chrono::DateTime::from_timestamp(1_795_341_600 + secs, 0).expect("valid time")
}

fn door(id: &str, name: &str, zone: &str, fail_mode: FailMode) -> DoorWithStatus {
    DoorWithStatus {
        door: Door {
            id: DoorId::new(id),
            name: name.into(),
            zone: zone.into(),
            map: None,
            fail_mode,
            access_time_ms: 5000,
            held_open_threshold_ms: 20000,
            cameras: vec![],
        },
        status: DoorStatus::locked_closed(),
        changed: None,
    }
}

fn snapshot(demo: bool) -> Snapshot {
    let mut lab = door(
        "door-lab",
        "Lab airlock",
        "restricted",
        FailMode::FailSecure,
    );
    lab.status.mode = DoorMode::Unlocked;
    Snapshot {
        seq: 100,
        site: SiteInfo {
            name: "Harbour Works".into(),
            time_zone: "Europe/Berlin".into(),
            demo,
        },
        cameras: vec![],
        doors: vec![
            door(
                "door-server",
                "Server room",
                "restricted",
                FailMode::FailSecure,
            ),
            door(
                "door-lobby",
                "Lobby main entrance",
                "perimeter",
                FailMode::FailSafe,
            ),
            lab,
        ],
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
            expires: t(50),
        }],
    }
}

fn state(role: Role, demo: bool) -> AppState {
    let mut s = AppState::new(t(0), "http://site.example", demo);
    s.apply(AppEvent::SignedIn(Session {
        token: "tok".into(),
        username: role.as_str().into(),
        role,
        expires: t(3600),
    }));
    s.apply(AppEvent::Snapshot(Box::new(snapshot(demo))));
    s
}

struct Rig {
    harness: Harness<'static, App>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<AppEvent>,
}

fn rig(role: Role, demo: bool) -> Rig {
    let (command_tx, commands) = mpsc::channel(16);
    let (events, event_rx) = mpsc::channel(16);
    let app = App::new_for_test(state(role, demo), command_tx, event_rx);
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_cc| app);
    harness.run();
    Rig {
        harness,
        commands,
        events,
    }
}

/// The text of the state chip in a door's row.
fn has_in_row(h: &Harness<'_, App>, door_name: &str, text: &str) -> bool {
    h.get_by_label(&format!("door {door_name}"))
        .query_by_label(text)
        .is_some()
}

#[test]
fn doors_and_their_states_show() {
    let r = rig(Role::Operator, false);
    let h = &r.harness;
    for name in ["Server room", "Lobby main entrance", "Lab airlock"] {
        let label = format!("door {name}");
        let row = h.get_by_label(&label);
        assert!(
            row.query_by_label(name).is_some(),
            "door {name} has no name"
        );
    }
    assert!(has_in_row(h, "Server room", "locked"));
    assert!(has_in_row(h, "Lab airlock", "unlocked"));
    assert!(has_in_row(
        h,
        "Lobby main entrance",
        "perimeter · fail-safe"
    ));
    assert!(has_in_row(h, "Server room", "restricted · fail-secure"));
    assert!(
        h.query_by_label_contains("DEMO SITE").is_none(),
        "not a demo site"
    );
    assert!(
        h.query_by_label_contains("Connection to the site lost")
            .is_none()
    );
    // The access request with its visitor and time left.
    let req = h.get_by_label("request req-1");
    assert!(req.query_by_label("Ada Lovelace").is_some());
    assert!(req.query_by_label("50 s left").is_some());
    // The site time, in the site's zone, with the zone's name.
    assert!(h.query_by_label("11:00 CET").is_some());
}

#[test]
fn unlock_sends_the_command_and_shows_pending_then_confirmed() {
    let mut r = rig(Role::Operator, false);
    r.harness
        .get_by_label("door Server room")
        .get_by_label("Unlock")
        .click();
    r.harness.run();

    let sent = r.commands.try_recv().expect("a command was sent");
    let Command::Door {
        door,
        action,
        idempotency_key,
    } = sent
    else {
        panic!("expected a door command, got {sent:?}");
    };
    assert_eq!(door, DoorId::new("door-server"));
    assert_eq!(action, DoorAction::Unlock);
    assert!(r.commands.try_recv().is_err(), "exactly one command");
    assert!(has_in_row(&r.harness, "Server room", "unlock: sending…"));
    assert!(has_in_row(&r.harness, "Server room", "locked"));

    // The site accepts it.
    r.events
        .try_send(AppEvent::CommandAccepted {
            key: idempotency_key,
            info: CommandInfo {
                id: CommandId::new("cmd-7"),
                door: door.clone(),
                action,
                state: CommandState::Pending,
                reason: None,
            },
        })
        .expect("event channel has room");
    r.harness.run();
    assert!(has_in_row(&r.harness, "Server room", "unlock: pending…"));

    // The door reports its new state; the command completes.
    let unlocked = DoorStatus {
        mode: DoorMode::Unlocked,
        ..DoorStatus::locked_closed()
    };
    for (seq, kind) in [
        (
            101,
            EventKind::DoorStateChanged {
                door: door.clone(),
                status: unlocked,
            },
        ),
        (
            102,
            EventKind::CommandCompleted {
                command: CommandId::new("cmd-7"),
                door: door.clone(),
                action,
                by: "operator".into(),
            },
        ),
    ] {
        r.events
            .try_send(AppEvent::Live(Event {
                seq,
                time: t(1),
                kind,
            }))
            .expect("event channel has room");
    }
    r.harness.run();
    assert!(has_in_row(&r.harness, "Server room", "unlock: confirmed"));
    assert!(has_in_row(&r.harness, "Server room", "unlocked"));
    let state = r.harness.state().state();
    let door_view = state
        .door(&state.site().keyed(DoorId::new("door-server")))
        .and_then(|d| d.last_command.clone())
        .expect("last command");
    assert_eq!(door_view.phase, CommandPhase::Confirmed);
    // The events show in the list, in the site's zone, in an operator's
    // words: never their wire names.
    assert!(r.harness.query_by_label("Door unlocked").is_some());
    assert!(r.harness.query_by_label("Unlocked by operator").is_some());
    assert!(r.harness.query_by_label("door.state_changed").is_none());
    assert!(r.harness.query_by_label("command.completed").is_none());
    assert!(r.harness.query_all_by_label("11:00:01 CET").count() >= 2);
}

#[test]
fn unanswered_command_fails_after_the_deadline() {
    let mut r = rig(Role::Operator, false);
    r.harness
        .get_by_label("door Lab airlock")
        .get_by_label("Lock")
        .click();
    r.harness.run();
    let Ok(Command::Door {
        idempotency_key, ..
    }) = r.commands.try_recv()
    else {
        panic!("expected a door command");
    };
    r.events
        .try_send(AppEvent::CommandAccepted {
            key: idempotency_key,
            info: CommandInfo {
                id: CommandId::new("cmd-8"),
                door: DoorId::new("door-lab"),
                action: DoorAction::Lock,
                state: CommandState::Pending,
                reason: None,
            },
        })
        .expect("room");
    r.harness.run();
    assert!(has_in_row(&r.harness, "Lab airlock", "lock: pending…"));
    r.harness.state_mut().set_clock(|| t(11));
    r.harness.run();
    assert!(has_in_row(
        &r.harness,
        "Lab airlock",
        "lock: failed (no answer from the site)"
    ));
}

#[test]
fn link_down_shows_unknown_and_the_banner_and_disables_commands() {
    let mut r = rig(Role::Operator, false);
    r.events
        .try_send(AppEvent::LinkDown {
            reason: "the site closed the event stream".into(),
            retry_in_ms: 250,
        })
        .expect("room");
    r.events
        .try_send(AppEvent::LinkDown {
            reason: "connection refused".into(),
            retry_in_ms: 500,
        })
        .expect("room");
    r.harness.run();
    let h = &r.harness;
    assert!(
        h.query_by_label(
            "Connection to the site lost — reconnecting (attempt 2); door states unknown"
        )
        .is_some()
    );
    assert_eq!(h.query_all_by_label("UNKNOWN").count(), 3);
    for name in ["Server room", "Lobby main entrance", "Lab airlock"] {
        assert!(has_in_row(h, name, "UNKNOWN"), "{name}");
        assert!(
            !has_in_row(h, name, "locked"),
            "{name} shows a cached state"
        );
    }
    let unlock = h.get_by_label("door Server room").get_by_label("Unlock");
    assert!(unlock.accesskit_node().is_disabled());
    let grant = h.get_by_label("request req-1").get_by_label("Grant");
    assert!(grant.accesskit_node().is_disabled());

    // Back up: states and controls return, the banner goes.
    r.events.try_send(AppEvent::LinkUp).expect("room");
    r.harness.run();
    let h = &r.harness;
    assert!(
        h.query_by_label_contains("Connection to the site lost")
            .is_none()
    );
    assert!(has_in_row(h, "Server room", "locked"));
    let unlock = h.get_by_label("door Server room").get_by_label("Unlock");
    assert!(!unlock.accesskit_node().is_disabled());
}

#[test]
fn demo_site_is_marked() {
    let r = rig(Role::Operator, true);
    assert!(r.harness.query_by_label("DEMO SITE").is_some());
}

#[test]
fn lockdown_only_for_supervisors() {
    let r = rig(Role::Operator, false);
    let row = r.harness.get_by_label("door Server room");
    assert!(row.get_by_label("Lockdown").accesskit_node().is_disabled());
    assert!(row.get_by_label("Release").accesskit_node().is_disabled());
    assert!(!row.get_by_label("Lock").accesskit_node().is_disabled());

    let mut r = rig(Role::Supervisor, false);
    r.harness
        .get_by_label("door Server room")
        .get_by_label("Lockdown")
        .click();
    r.harness.run();
    assert!(matches!(
        r.commands.try_recv(),
        Ok(Command::Door {
            action: DoorAction::Lockdown,
            ..
        })
    ));

    let r = rig(Role::Viewer, false);
    let row = r.harness.get_by_label("door Server room");
    assert!(row.get_by_label("Unlock").accesskit_node().is_disabled());
}

#[test]
fn grant_sends_the_decision() {
    let mut r = rig(Role::Operator, false);
    r.harness
        .get_by_label("request req-1")
        .get_by_label("Grant")
        .click();
    r.harness.run();
    assert_eq!(
        r.commands.try_recv().ok(),
        Some(Command::Grant {
            request: RequestId::new("req-1"),
            reason: None
        })
    );
    // The site resolves it: it leaves the list.
    r.events
        .try_send(AppEvent::Live(Event {
            seq: 101,
            time: t(2),
            kind: EventKind::AccessRequestResolved {
                request: RequestId::new("req-1"),
                door: DoorId::new("door-lobby"),
                outcome: watchdesk::domain::RequestOutcome::Granted,
                by: Some("operator".into()),
                reason: None,
            },
        }))
        .expect("room");
    r.harness.run();
    assert!(r.harness.query_by_label("request req-1").is_none());
}

#[test]
fn sign_in_form_sends_the_credentials_and_sign_out_works() {
    let (command_tx, mut commands) = mpsc::channel(16);
    let (_events, event_rx) = mpsc::channel::<AppEvent>(16);
    let app = App::new_for_test(
        AppState::new(t(0), "https://site.example", false),
        command_tx,
        event_rx,
    );
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1000.0, 700.0))
        .build_eframe(move |_cc| app);
    harness.run();
    assert!(
        harness
            .get_by_role_and_label(AkRole::Button, "Sign in")
            .accesskit_node()
            .is_disabled()
    );
    for (role, label, text) in [
        (AkRole::TextInput, "User name", "operator"),
        (AkRole::PasswordInput, "Password", "demo-operator"),
    ] {
        harness.get_by_role_and_label(role, label).focus();
        harness.run();
        harness.get_by_role_and_label(role, label).type_text(text);
        harness.run();
    }
    harness
        .get_by_role_and_label(AkRole::Button, "Sign in")
        .click();
    harness.run();
    let sent = commands.try_recv().expect("sign-in sent");
    assert_eq!(
        sent,
        Command::SignIn {
            username: "operator".into(),
            password: "demo-operator".into()
        }
    );

    let mut r = rig(Role::Operator, false);
    r.harness.get_by_label("Sign out").click();
    r.harness.run();
    assert_eq!(r.commands.try_recv().ok(), Some(Command::SignOut));
}

#[test]
fn the_workspace_remembers_the_site_and_user_but_never_the_password() {
    use eframe::App as _;
    let mut r = rig(Role::Operator, false);
    r.events
        .try_send(AppEvent::SignedIn(Session {
            token: "secret-token".into(),
            username: "ada".into(),
            role: Role::Operator,
            expires: t(3600),
        }))
        .expect("room");
    r.harness.run();
    let workspace = &r.harness.state().view().workspace;
    assert_eq!(workspace.last_username("http://site.example"), Some("ada"));

    // What eframe would write holds the address and the name, no secret.
    struct Text(String);
    impl eframe::Storage for Text {
        fn get_string(&self, _: &str) -> Option<String> {
            Some(self.0.clone())
        }
        fn set_string(&mut self, _: &str, value: String) {
            self.0 = value;
        }
        fn remove_string(&mut self, _: &str) {}
        fn flush(&mut self) {}
    }
    let mut saved = Text(String::new());
    r.harness.state_mut().save(&mut saved);
    assert!(
        saved.0.contains("site.example") && saved.0.contains("ada"),
        "{}",
        saved.0
    );
    assert!(
        !saved.0.contains("secret-token") && !saved.0.contains("tok"),
        "{}",
        saved.0
    );

    // The next start prefills the form with that name.
    let (command_tx, _commands) = mpsc::channel(16);
    let (_events, event_rx) = mpsc::channel(16);
    let mut app = App::new_for_test(
        AppState::new(t(0), "http://site.example", false),
        command_tx,
        event_rx,
    );
    assert!(app.open_workspace(Some(&saved), None));
    assert_eq!(app.view().form.username, "ada");
    assert!(app.view().form.password.is_empty());
}

#[test]
fn open_requests_stay_in_sight_over_the_cameras() {
    let mut r = rig(Role::Operator, false);
    r.harness.get_by_label("Cameras").click();
    r.harness.run();
    assert!(r.harness.query_by_label("Access requests (1)").is_some());
    assert!(r.harness.query_by_label("Ada Lovelace").is_some());
}

#[test]
fn the_door_filter_narrows_the_list_and_a_group_lockdown_is_confirmed_first() {
    let mut r = rig(Role::Supervisor, false);
    // The zone filter keeps the restricted doors only.
    r.harness
        .get_by_role_and_label(AkRole::ComboBox, "Zone")
        .click();
    r.harness.run();
    r.harness.get_by_label("restricted").click();
    r.harness.run();
    assert!(
        r.harness
            .query_by_label("door Lobby main entrance")
            .is_none()
    );
    assert!(r.harness.query_by_label("door Server room").is_some());
    assert!(r.harness.query_by_label("door Lab airlock").is_some());

    // Both selected, a lockdown asks first; nothing is sent until confirmed.
    for name in ["Server room", "Lab airlock"] {
        r.harness.get_by_label(&format!("select {name}")).click();
        r.harness.run();
    }
    r.harness.get_by_label("2 selected:");
    let lockdowns = r.harness.get_all_by_label("Lockdown").count();
    assert_eq!(lockdowns, 3, "one per row and one for the selection");
    r.harness
        .get_all_by_label("Lockdown")
        .next()
        .unwrap()
        .click();
    r.harness.run();
    r.harness.get_by_label("Lock down 2 doors?");
    assert!(r.commands.try_recv().is_err(), "sent before confirmation");
    r.harness.get_by_label("Confirm").click();
    r.harness.run();
    let mut sent = Vec::new();
    while let Ok(Command::Door { door, action, .. }) = r.commands.try_recv() {
        assert_eq!(action, DoorAction::Lockdown);
        sent.push(door);
    }
    assert_eq!(
        sent,
        vec![DoorId::new("door-server"), DoorId::new("door-lab")]
    );
    assert!(r.harness.query_by_label("Lock down 2 doors?").is_none());
}

#[test]
fn an_access_request_pops_over_any_layout_and_alt_g_grants_the_oldest() {
    let mut r = rig(Role::Operator, false);
    // In front of the panels, with its keys named.
    r.harness.get_by_label("request req-1");
    r.harness
        .get_by_label("Alt+G grants, Alt+D denies the oldest request");
    r.harness
        .key_press_modifiers(egui::Modifiers::ALT, egui::Key::G);
    r.harness.run();
    assert_eq!(
        r.commands.try_recv().ok(),
        Some(Command::Grant {
            request: RequestId::new("req-1"),
            reason: None
        })
    );
    // A viewer may not answer: the keys do nothing.
    let mut v = rig(Role::Viewer, false);
    v.harness
        .key_press_modifiers(egui::Modifiers::ALT, egui::Key::D);
    v.harness.run();
    assert!(v.commands.try_recv().is_err(), "a viewer's Alt+D answered");
}

#[test]
fn larger_text_draws_everything_larger_and_back() {
    let mut r = rig(Role::Operator, false);
    // Sizes are in points: larger text is more pixels per point.
    let before = r.harness.ctx.pixels_per_point();
    r.harness.get_by_label("Larger text").click();
    r.harness.run();
    assert!((r.harness.ctx.zoom_factor() - 1.4).abs() < 1e-3);
    let after = r.harness.ctx.pixels_per_point();
    assert!((after / before - 1.4).abs() < 1e-3, "{before} → {after}");
    r.harness.get_by_label("Larger text").click();
    r.harness.run();
    assert!((r.harness.ctx.zoom_factor() - 1.0).abs() < 1e-3);
}

#[test]
fn a_session_the_site_ends_asks_again_in_place_and_keeps_the_view() {
    let mut r = rig(Role::Operator, false);
    r.events
        .try_send(AppEvent::SessionEnded {
            message: "The session has ended; sign in again".into(),
        })
        .expect("room");
    r.harness.run();
    // The doors are still there, unknown, with nothing to press.
    assert!(has_in_row(&r.harness, "Server room", "UNKNOWN"));
    assert!(
        r.harness
            .get_by_label("door Server room")
            .get_by_label("Lock")
            .accesskit_node()
            .is_disabled()
    );
    r.harness.get_by_label("Sign in again");
    r.harness
        .get_by_label("The session has ended; sign in again");
    for (role, label, text) in [
        (AkRole::TextInput, "User name", "operator"),
        (AkRole::PasswordInput, "Password", "demo-operator"),
    ] {
        r.harness.get_by_role_and_label(role, label).focus();
        r.harness.run();
        r.harness.get_by_role_and_label(role, label).type_text(text);
        r.harness.run();
    }
    r.harness
        .get_by_role_and_label(AkRole::Button, "Sign in")
        .click();
    r.harness.run();
    assert_eq!(
        r.commands.try_recv().ok(),
        Some(Command::SignIn {
            username: "operator".into(),
            password: "demo-operator".into()
        })
    );
}

#[test]
fn a_request_answered_with_a_reason_shows_its_outcome_before_it_goes() {
    let mut r = rig(Role::Operator, false);
    r.harness.get_by_label("request req-1");
    assert!(
        r.harness.query_by_label("unknown person").is_none(),
        "a visitor has a name"
    );
    let field = r
        .harness
        .get_by_label("request req-1")
        .get_by_role_and_label(AkRole::TextInput, "Reason (optional)");
    field.focus();
    r.harness.run();
    r.harness
        .get_by_label("request req-1")
        .get_by_role_and_label(AkRole::TextInput, "Reason (optional)")
        .type_text("expected delivery");
    r.harness.run();
    r.harness
        .get_by_label("request req-1")
        .get_by_label("Deny")
        .click();
    r.harness.run();
    assert_eq!(
        r.commands.try_recv().ok(),
        Some(Command::Deny {
            request: RequestId::new("req-1"),
            reason: Some("expected delivery".into())
        })
    );
    r.events
        .try_send(AppEvent::Live(Event {
            seq: 101,
            time: t(2),
            kind: EventKind::AccessRequestResolved {
                request: RequestId::new("req-1"),
                door: DoorId::new("door-lobby"),
                outcome: watchdesk::domain::RequestOutcome::Denied,
                by: Some("operator".into()),
                reason: Some("expected delivery".into()),
            },
        }))
        .expect("room");
    r.harness.run();
    assert!(r.harness.query_by_label("request req-1").is_none());
    let answered = r.harness.get_by_label("answered req-1");
    answered.get_by_label("Denied by operator");
    // Gone once its moment has passed.
    r.events
        .try_send(AppEvent::Tick {
            now: t(0) + chrono::Duration::milliseconds(watchdesk::viewer::RESOLVED_SHOWN_MS + 1000),
        })
        .expect("room");
    r.harness.run();
    assert!(r.harness.query_by_label("answered req-1").is_none());
}

#[test]
fn a_request_from_a_known_badge_names_it_and_opens_the_cardholder() {
    let mut r = rig(Role::Operator, false);
    r.events
        .try_send(AppEvent::Live(Event {
            seq: 101,
            time: t(1),
            kind: EventKind::AccessRequestOpened {
                request: AccessRequest {
                    id: RequestId::new("req-2"),
                    door: DoorId::new("door-server"),
                    access_point: None,
                    cardholder: Some(watchdesk::domain::CardholderId::new("ch-002")),
                    credential: Some(watchdesk::domain::CredentialId::new("100107")),
                    reason: "outside schedule".into(),
                    visitor_name: None,
                    created: t(1),
                    expires: t(61),
                },
            },
        }))
        .expect("room");
    r.harness.run();
    let row = r.harness.get_by_label("request req-2");
    row.get_by_label("badge 100107");
    row.get_by_label("Cardholder").click();
    r.harness.run();
    // The pop asked for the person's card as it popped; then the click.
    let ben = watchdesk::domain::CardholderId::new("ch-002");
    assert_eq!(
        std::iter::from_fn(|| r.commands.try_recv().ok())
            .filter(|c| !matches!(c, Command::WantPhotos(_)))
            .take(2)
            .collect::<Vec<_>>(),
        vec![
            Command::LoadCardholderCard(ben.clone()),
            Command::OpenCardholder(ben)
        ]
    );
}

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The cardholders panel, driven through AccessKit with egui_kittest, on
//! states fed by the real worker from the real demo site: a supervisor
//! searches (answered by the site), opens a cardholder (photo, badges,
//! recent events), disables a badge and sees it go pending, then disabled;
//! an operator watching the same cardholder sees the change through the
//! event stream, and finds the toggle disabled with its reason; an edit and
//! a new cardholder at one client show at the other.

use egui::accesskit::Role as AkRole;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use tokio::sync::mpsc;
use watchdesk::domain::{CardholderId, CredentialId, CredentialState, Role};
use watchdesk::ui::cardholders::cardholders_ui;
use watchdesk::viewer::{
    AppEvent, AppState, Command, CommandReceiver, CommandSender, SaveState, SearchResults,
    command_channel,
};

use crate::common::{TestSite, start_site};
use crate::worker_rig::Worker;

/// What the shell does with a command the UI queued.
trait Forward {
    async fn forward(&self, state: &mut AppState, command: Command);
}

impl Forward for Worker {
    /// Sends a command the UI queued, noting it in `state` as the shell does.
    async fn forward(&self, state: &mut AppState, command: Command) {
        match &command {
            Command::OpenCardholder(id) => state.apply(AppEvent::CardholderOpening(id.clone())),
            Command::SaveCardholder { .. } => state.apply(AppEvent::CardholderSaving),
            Command::SetCredential {
                credential,
                state: s,
                ..
            } => state.apply(AppEvent::CredentialSent {
                credential: credential.clone(),
                state: *s,
            }),
            _ => {}
        }
        self.send(command).await;
    }
}

async fn signed_in(site: &TestSite, role: Role) -> (AppState, Worker) {
    let mut worker = Worker::start(site, role);
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    worker
        .until(&mut state, "the session and the link", |s| {
            s.runtime.session.is_some() && s.link_up()
        })
        .await;
    (state, worker)
}

struct Panel {
    state: AppState,
    commands: CommandSender,
}

fn harness(state: AppState) -> (Harness<'static, Panel>, CommandReceiver) {
    let (commands, rx) = command_channel();
    let harness = Harness::builder()
        .with_size(egui::vec2(900.0, 800.0))
        .build_ui_state(
            |ui, p: &mut Panel| cardholders_ui(ui, &p.state, &p.commands),
            Panel { state, commands },
        );
    (harness, rx)
}

fn drain(rx: &CommandReceiver) -> Vec<Command> {
    std::iter::from_fn(|| rx.try_recv()).collect()
}

const BEN: &str = "ch-002";
const BADGE: &str = "100107";

fn badge_state(s: &AppState) -> Option<CredentialState> {
    let open = s.people.open.as_ref()?;
    let c = open.cardholder.as_ref()?;
    c.credentials
        .iter()
        .find(|b| b.id == CredentialId::new(BADGE))
        .map(|b| b.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_disables_a_badge_and_an_operator_sees_it() {
    let site = start_site().await;
    let (state, mut sup) = signed_in(&site, Role::Supervisor).await;
    // The operator watches Ben Okafor at another client.
    let (mut op_state, mut op) = signed_in(&site, Role::Operator).await;
    op.forward(
        &mut op_state,
        Command::OpenCardholder(CardholderId::new(BEN)),
    )
    .await;
    op.until(&mut op_state, "Ben at the operator's", |s| {
        badge_state(s) == Some(CredentialState::Active)
    })
    .await;

    let (mut h, rx) = harness(state);
    h.run();
    // The panel asks the site for everyone first.
    assert_eq!(
        drain(&rx),
        [Command::SearchCardholders { q: String::new() }]
    );

    // Typing is asked for once it rests, not at once.
    let search = (AkRole::TextInput, "Find a cardholder");
    h.get_by_role_and_label(search.0, search.1).focus();
    h.get_by_role_and_label(search.0, search.1)
        .type_text("Okafor");
    h.step();
    assert!(drain(&rx).is_empty(), "asked before the typing rested");
    h.run();
    let sent = drain(&rx);
    assert_eq!(sent, [Command::SearchCardholders { q: "Okafor".into() }]);
    for c in sent {
        sup.forward(&mut h.state_mut().state, c).await;
    }
    sup.until(&mut h.state_mut().state, "the site's answer", |s| {
        matches!(&s.people.results, SearchResults::Found { q, cardholders }
            if q == "Okafor" && cardholders.len() == 1)
    })
    .await;
    h.run();
    h.get_by_label_contains("Ben Okafor · Facilities").click();
    h.run();
    let sent = drain(&rx);
    assert_eq!(sent, [Command::OpenCardholder(CardholderId::new(BEN))]);
    for c in sent {
        sup.forward(&mut h.state_mut().state, c).await;
    }
    sup.until(&mut h.state_mut().state, "Ben, his photo and events", |s| {
        s.people
            .open
            .as_ref()
            .is_some_and(|o| o.cardholder.is_some() && o.photo.is_some() && o.events.is_some())
    })
    .await;
    h.run();
    assert!(h.query_by_label("cardholder photo").is_some());
    assert!(h.query_by_label("active").is_some());
    let disable = format!("Disable badge {BADGE}");
    assert!(!h.get_by_label(&disable).accesskit_node().is_disabled());
    h.get_by_label(&disable).click();
    h.run();
    let sent = drain(&rx);
    assert_eq!(
        sent,
        [Command::SetCredential {
            cardholder: CardholderId::new(BEN),
            credential: CredentialId::new(BADGE),
            state: CredentialState::Disabled,
        }]
    );
    for c in sent {
        sup.forward(&mut h.state_mut().state, c).await;
    }
    // Pending until the site shows it: the button waits meanwhile.
    h.run();
    assert!(h.query_by_label("disabling…").is_some());
    assert!(h.get_by_label(&disable).accesskit_node().is_disabled());
    sup.until(&mut h.state_mut().state, "the badge disabled", |s| {
        badge_state(s) == Some(CredentialState::Disabled)
            && s.people.change(&CredentialId::new(BADGE)).is_none()
    })
    .await;
    h.run();
    assert!(h.query_by_label("disabled").is_some());
    assert!(h.query_by_label("disabling…").is_none());
    assert!(h.query_by_label(&format!("Enable badge {BADGE}")).is_some());

    // At the operator's: through the event stream, then read again.
    op.until(&mut op_state, "the change at the operator's", |s| {
        badge_state(s) == Some(CredentialState::Disabled)
    })
    .await;
    let (mut oh, orx) = harness(op_state);
    oh.run();
    let enable = format!("Enable badge {BADGE}");
    assert!(
        oh.get_by_label(&enable).accesskit_node().is_disabled(),
        "an operator may not"
    );
    oh.get_by_label(&enable).hover();
    oh.run();
    assert!(
        oh.query_by_label_contains("only a supervisor or admin may change cardholders and badges")
            .is_some(),
        "the reason shows on hover"
    );
    let sent = drain(&orx);
    assert!(
        !sent
            .iter()
            .any(|c| matches!(c, Command::SetCredential { .. })),
        "{sent:?}"
    );
}

/// A name in the access monitor opens the cardholder; the rest of the row
/// still shows the door's cameras.
#[test]
fn a_name_in_the_access_monitor_opens_the_cardholder() {
    use watchdesk::domain::{DoorId, Event, EventKind, Session};
    use watchdesk::ui::access_monitor::access_monitor_ui;
    let now = chrono::DateTime::from_timestamp(1_795_341_600, 0).unwrap();
    let mut state = AppState::new(now, "http://site.example", false);
    state.apply(AppEvent::SignedIn(Session {
        token: String::new(),
        username: "operator".into(),
        role: Role::Operator,
        expires: now + chrono::Duration::hours(1),
    }));
    state.apply(AppEvent::Cardholders(vec![(
        CardholderId::new(BEN),
        "Ben Okafor".into(),
    )]));
    state.apply(AppEvent::Live(Event {
        seq: 1,
        time: now,
        kind: EventKind::AccessGranted {
            door: DoorId::new("door-lobby"),
            access_point: None,
            cardholder: Some(CardholderId::new(BEN)),
            credential: Some(CredentialId::new(BADGE)),
        },
    }));
    let (commands, rx) = command_channel();
    let mut h = Harness::builder()
        .with_size(egui::vec2(900.0, 300.0))
        .build_ui_state(
            move |ui, s: &mut AppState| access_monitor_ui(ui, s, &commands),
            state,
        );
    h.run();
    h.get_by_label("open cardholder Ben Okafor").click();
    h.run();
    // (The row's photo slot asks for the photo every frame here: no shell.)
    assert_eq!(
        drain(&rx)
            .into_iter()
            .filter(|c| !matches!(c, Command::WantPhotos(_)))
            .collect::<Vec<_>>(),
        [Command::OpenCardholder(CardholderId::new(BEN))]
    );
}

/// In the whole window (Operations, which has no cardholders tab): a name
/// clicked in the access monitor brings the cardholders panel up and asks
/// the worker for that cardholder; a change seen on the event stream has
/// the shell read it again.
#[test]
fn the_window_opens_the_cardholder_from_the_monitor_and_reads_it_again_on_a_change() {
    use watchdesk::app::App;
    use watchdesk::domain::{
        Cardholder, Credential, DoorId, Event, EventKind, Session, SiteInfo, Snapshot,
    };
    use watchdesk::viewer::Pane;
    let now = chrono::DateTime::from_timestamp(1_795_341_600, 0).unwrap();
    let mut state = AppState::new(now, "http://site.example", false);
    state.apply(AppEvent::SignedIn(Session {
        token: String::new(),
        username: "operator".into(),
        role: Role::Operator,
        expires: now + chrono::Duration::hours(1),
    }));
    state.apply(AppEvent::Snapshot(Box::new(Snapshot {
        seq: 0,
        site: SiteInfo {
            name: "Test".into(),
            time_zone: "UTC".into(),
            demo: false,
        },
        cameras: vec![],
        doors: vec![],
        access_points: vec![],
        maps: vec![],
        open_requests: vec![],
    })));
    state.apply(AppEvent::Cardholders(vec![(
        CardholderId::new(BEN),
        "Ben Okafor".into(),
    )]));
    let granted = |seq| Event {
        seq,
        time: now,
        kind: EventKind::AccessGranted {
            door: DoorId::new("door-lobby"),
            access_point: None,
            cardholder: Some(CardholderId::new(BEN)),
            credential: Some(CredentialId::new(BADGE)),
        },
    };
    state.apply(AppEvent::Live(granted(1)));
    let (command_tx, mut commands) = mpsc::channel(16);
    let (events, event_rx) = mpsc::channel(16);
    let app = App::new_for_test(state, command_tx, event_rx);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_cc| app);
    h.run();
    assert!(!h.state().view().workspace.dock().is_open(Pane::Cardholders));
    h.get_by_label("open cardholder Ben Okafor").click();
    h.run();
    assert!(
        h.state()
            .view()
            .workspace
            .dock()
            .is_showing(Pane::Cardholders)
    );
    let mut sent = Vec::new();
    while let Ok(c) = commands.try_recv() {
        sent.push(c);
    }
    assert!(
        sent.contains(&Command::OpenCardholder(CardholderId::new(BEN))),
        "{sent:?}"
    );
    let ben = Cardholder {
        id: CardholderId::new(BEN),
        name: "Ben Okafor".into(),
        department: "Facilities".into(),
        has_photo: false,
        credentials: vec![Credential {
            id: CredentialId::new(BADGE),
            state: CredentialState::Active,
            valid_until: None,
        }],
    };
    events.try_send(AppEvent::CardholderLoaded(ben)).unwrap();
    h.run();
    let disable = format!("Disable badge {BADGE}");
    assert!(h.get_by_label(&disable).accesskit_node().is_disabled());
    // Disabled at another client: the stream says so, the shell reads again.
    events
        .try_send(AppEvent::Live(Event {
            seq: 2,
            time: now,
            kind: EventKind::CredentialChanged {
                credential: CredentialId::new(BADGE),
                cardholder: CardholderId::new(BEN),
                state: CredentialState::Disabled,
                by: "supervisor".into(),
            },
        }))
        .unwrap();
    h.run();
    assert!(h.query_by_label(&format!("Enable badge {BADGE}")).is_some());
    let mut sent = Vec::new();
    while let Ok(c) = commands.try_recv() {
        sent.push(c);
    }
    assert!(
        sent.contains(&Command::RefreshCardholder(CardholderId::new(BEN))),
        "{sent:?}"
    );
}

/// Types `text` into the text field labelled `label`.
fn type_into(h: &mut Harness<'static, Panel>, label: &str, text: &str) {
    h.get_by_role_and_label(AkRole::TextInput, label).focus();
    h.run();
    h.get_by_role_and_label(AkRole::TextInput, label)
        .type_text(text);
    h.run();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cardholder_edited_and_created_at_one_client_shows_at_another() {
    let site = start_site().await;
    let (mut state, mut sup) = signed_in(&site, Role::Supervisor).await;
    let (mut op_state, mut op) = signed_in(&site, Role::Operator).await;
    for (s, w) in [(&mut state, &mut sup), (&mut op_state, &mut op)] {
        w.forward(s, Command::OpenCardholder(CardholderId::new(BEN)))
            .await;
        w.until(s, "Ben", |s| badge_state(s).is_some()).await;
    }
    let (mut h, rx) = harness(state);
    h.run();
    drain(&rx);
    h.get_by_label("Edit Ben Okafor").click();
    h.run();
    type_into(&mut h, "Department", " North");
    h.get_by_label("Save cardholder").click();
    h.run();
    let sent = drain(&rx);
    assert_eq!(
        sent,
        [Command::SaveCardholder {
            id: CardholderId::new(BEN),
            create: false,
            name: "Ben Okafor".into(),
            department: "Facilities North".into(),
            schedule: String::new(),
        }]
    );
    for c in sent {
        sup.forward(&mut h.state_mut().state, c).await;
    }
    h.run();
    assert!(h.query_by_label("saving…").is_some());
    let department = |s: &AppState| {
        s.people
            .open
            .as_ref()
            .and_then(|o| o.cardholder.as_ref())
            .map(|c| c.department.clone())
    };
    // Stored (the site's answer, which may come after the event stream's
    // `cardholder.changed` and the reading it causes).
    sup.until(&mut h.state_mut().state, "the edit stored", |s| {
        department(s).as_deref() == Some("Facilities North")
            && s.people.save == Some(SaveState::Saved(CardholderId::new(BEN)))
    })
    .await;
    h.run();
    assert!(
        h.query_by_label("Save cardholder").is_none(),
        "the form closes"
    );
    // The other client reads it again on `cardholder.changed`.
    op.until(&mut op_state, "the edit at the operator's", |s| {
        department(s).as_deref() == Some("Facilities North")
    })
    .await;

    // A new cardholder.
    h.get_by_label("New cardholder").click();
    h.run();
    type_into(&mut h, "Cardholder id", "ch-900");
    type_into(&mut h, "Name", "Dana Test");
    type_into(&mut h, "Department", "QA");
    type_into(&mut h, "Schedule", "office");
    h.get_by_label("Save cardholder").click();
    h.run();
    let sent = drain(&rx);
    assert_eq!(sent.len(), 1, "{sent:?}");
    for c in sent {
        sup.forward(&mut h.state_mut().state, c).await;
    }
    sup.until(&mut h.state_mut().state, "the new cardholder open", |s| {
        s.people
            .open
            .as_ref()
            .and_then(|o| o.cardholder.as_ref())
            .is_some_and(|c| c.id == CardholderId::new("ch-900") && c.name == "Dana Test")
            && s.people.save == Some(SaveState::Saved(CardholderId::new("ch-900")))
    })
    .await;
    h.run();
    assert!(
        h.query_by_label("Save cardholder").is_none(),
        "the form closes"
    );
    assert!(h.query_by_label("Dana Test").is_some());

    // The operator may do neither.
    let (mut oh, _orx) = harness(op_state);
    oh.run();
    assert!(
        oh.get_by_label("New cardholder")
            .accesskit_node()
            .is_disabled()
    );
    assert!(
        oh.get_by_label("Edit Ben Okafor")
            .accesskit_node()
            .is_disabled()
    );
}

//! Tests of the facade: the services together, as the API drives them.

use super::*;
use crate::domain::{
    CardholderId, CommandState, Credential, CredentialState, DenyReason, DoorAction, DoorCommand,
    DoorMode, ErrorKind, Event, RequestId, RequestOutcome, Role,
};
use crate::site::audit::AuditQuery;
use crate::site::drivers::Drivers;
use crate::site::env::{Clock, RealClock, SimulatedClock};
use crate::site::events::{BROADCAST_CAPACITY, StreamItem};
use crate::site::store::EventQuery;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

fn test_config() -> SiteConfig {
    let mut c =
        SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml")).unwrap();
    c.video.demo_cameras = false;
    c.traffic.enabled = false;
    c.controller.command_latency_ms = 20;
    c
}

type Started = (Arc<SiteCore>, Arc<SimulatedController>, Vec<JoinHandle<()>>);

fn core_with(dir: &Path, cfg: SiteConfig) -> Started {
    core_on(dir, cfg, Arc::new(RealClock))
}

fn core_on(dir: &Path, cfg: SiteConfig, clock: Arc<dyn Clock>) -> Started {
    let store = Arc::new(Store::open_in(dir).unwrap());
    let sim = SimulatedController::new(&cfg.doors, &cfg.controller);
    let env = SiteEnv::with_clock(clock, store, Drivers::simulated(sim.clone()));
    let core = SiteCore::new(cfg, env).unwrap();
    let bg = core.start_background();
    (core, sim, bg)
}

fn operator() -> Actor {
    Actor {
        username: "operator".into(),
        role: Some(Role::Operator),
        source: "127.0.0.1".into(),
    }
}

/// Waits (up to 5 s of real time) until `cond` holds.
async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn request_expires_exactly_at_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config();
    cfg.request_timeout_secs = 30;
    let clock = SimulatedClock::new(chrono::Utc::now());
    let (core, _sim, _bg) = core_on(dir.path(), cfg, Arc::new(clock.clone()));
    let opened_at = clock.now();
    let req = core
        .open_request(
            &DoorId::new("door-lobby"),
            None,
            None,
            "visitor".into(),
            None,
        )
        .unwrap();
    assert_eq!(req.created, opened_at);
    assert_eq!(req.expires, opened_at + chrono::Duration::seconds(30));
    let due = clock.instant_at(req.expires);
    wait_for("the expiry task to sleep until the deadline", || {
        clock.deadlines().contains(&due)
    })
    .await;
    let mut rx = core.events().stream(None);

    clock.advance(Duration::from_millis(29_999));
    clock.settle().await;
    // Even asked directly, a millisecond early it is still open.
    core.requests().expire_due();
    assert_eq!(core.requests().open_requests(), vec![req.clone()]);

    clock.advance(Duration::from_millis(1));
    let seen = read_until(&mut rx, |e| matches!(&e.kind, EventKind::AccessRequestResolved { request, .. } if *request == req.id)).await;
    let resolved = seen.last().unwrap();
    assert_eq!(resolved.time, opened_at + chrono::Duration::seconds(30));
    let EventKind::AccessRequestResolved { outcome, by, .. } = &resolved.kind else {
        unreachable!()
    };
    assert_eq!((*outcome, by.clone()), (RequestOutcome::Expired, None));
    assert!(core.requests().open_requests().is_empty());
    let audit = core
        .audit_trail()
        .search(&AuditQuery {
            action: Some("access_request.expire".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(
        (
            audit.items[0].user.as_str(),
            audit.items[0].outcome.as_str()
        ),
        ("system", "expired")
    );
    assert_eq!(audit.items[0].target, req.id.as_str());
    // A late answer finds it closed.
    assert_eq!(
        core.requests()
            .answer(&operator(), &req.id, true, None)
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    core.shutdown();
}

#[tokio::test]
async fn command_times_out_exactly_on_the_site_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config();
    cfg.command_timeout_ms = 300;
    let clock = SimulatedClock::new(chrono::Utc::now());
    let (core, sim, _bg) = core_on(dir.path(), cfg, Arc::new(clock.clone()));
    let mut rx = core.events().stream(None);
    sim.set_online(false);
    let door = DoorId::new("door-lobby");
    let sent = clock.instant();
    let cmd = core
        .doors()
        .command(
            &operator(),
            &door,
            &DoorCommand {
                action: DoorAction::Unlock,
                idempotency_key: "t".into(),
            },
        )
        .unwrap();
    let due = sent + Duration::from_millis(300);
    wait_for("the command to sleep until its timeout", || {
        clock.deadlines().contains(&due)
    })
    .await;
    clock.advance(Duration::from_millis(299));
    clock.settle().await;
    assert_eq!(
        core.doors().get_command(&cmd.id).unwrap().state,
        CommandState::Pending
    );
    clock.advance(Duration::from_millis(1));
    let seen = read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::CommandFailed { command, .. } if *command == cmd.id),
    )
    .await;
    let EventKind::CommandFailed { reason, by, .. } = &seen.last().unwrap().kind else {
        unreachable!()
    };
    assert_eq!(reason, "the door did not confirm within 300 ms");
    assert_eq!(by, "operator");
    let info = core.doors().get_command(&cmd.id).unwrap();
    assert_eq!(info.state, CommandState::Failed);
    let audit = core
        .audit_trail()
        .search(&AuditQuery {
            action: Some("door.command".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    // Written pending before the driver was told, completed by a new entry.
    assert_eq!(audit.items[1].outcome, "pending");
    assert_eq!(
        audit.items[0].outcome,
        format!("entry {}: timeout", audit.items[1].id)
    );
    core.shutdown();
}

#[tokio::test]
async fn access_uses_the_site_clock_for_schedule_and_expiry() {
    use chrono::TimeZone;
    let dir = tempfile::tempdir().unwrap();
    // 2026-06-10 22:30 in Berlin: past every office schedule.
    let late = chrono::Utc
        .with_ymd_and_hms(2026, 6, 10, 20, 30, 0)
        .unwrap();
    let clock = SimulatedClock::new(late);
    let (core, _sim, _bg) = core_on(dir.path(), test_config(), Arc::new(clock.clone()));
    let lobby = AccessPointId::new("ap-lobby-in");
    // Ada's badge: the office schedule, 06 to 20 site time, valid to the end of 2028.
    let badge = CredentialId::new("100100");
    let last_denial = |core: &SiteCore| {
        let page = core
            .events()
            .search(&EventQuery {
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        match &page.items[0].kind {
            EventKind::AccessDenied { reason, .. } => Some(*reason),
            _ => None,
        }
    };
    assert!(!core.present_credential_now(&lobby, &badge));
    assert_eq!(last_denial(&core), Some(DenyReason::OutsideSchedule));
    // 10:00 the next morning, site time.
    clock.advance(Duration::from_secs(11 * 3600 + 30 * 60));
    assert!(core.present_credential_now(&lobby, &badge));
    // 2029-01-01 noon: past the badge's validity.
    let to_2029 = chrono::Utc.with_ymd_and_hms(2029, 1, 1, 11, 0, 0).unwrap() - clock.now();
    clock.advance(to_2029.to_std().unwrap());
    assert!(!core.present_credential_now(&lobby, &badge));
    assert_eq!(last_denial(&core), Some(DenyReason::CardExpired));
    core.shutdown();
}

/// Reads events from a stream until `until` matches one; returns all read.
async fn read_until(
    rx: &mut mpsc::Receiver<StreamItem>,
    until: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let item = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; saw {seen:#?}"))
            .expect("stream ended");
        if let StreamItem::Event(e) = item {
            let done = until(&e);
            seen.push(*e);
            if done {
                return seen;
            }
        }
    }
}

// Paused tokio time: the controller's latency and the sleep below run on
// it, so the sleep ends only once every other task is idle.
#[tokio::test(start_paused = true)]
async fn idempotent_command_actuates_once_and_reports_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _sim, _bg) = core_with(dir.path(), test_config());
    let mut rx = core.events().stream(None);
    let door = DoorId::new("door-lobby");
    let cmd = DoorCommand {
        action: DoorAction::Unlock,
        idempotency_key: "k-1".into(),
    };
    let first = core.doors().command(&operator(), &door, &cmd).unwrap();
    assert_eq!(first.state, CommandState::Pending);
    let again = core.doors().command(&operator(), &door, &cmd).unwrap();
    assert_eq!(again.id, first.id);
    let clash = DoorCommand {
        action: DoorAction::Lock,
        idempotency_key: "k-1".into(),
    };
    assert_eq!(
        core.doors()
            .command(&operator(), &door, &clash)
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    let other_door = core
        .doors()
        .command(&operator(), &DoorId::new("door-dock"), &cmd)
        .unwrap_err();
    assert_eq!(other_door.kind(), ErrorKind::Conflict);
    let unknown = core
        .doors()
        .command(&operator(), &DoorId::new("nope"), &cmd)
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::NotFound);

    let seen = read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::CommandCompleted { command, .. } if *command == first.id),
    )
    .await;
    let changed = seen
        .iter()
        .position(|e| matches!(&e.kind, EventKind::DoorStateChanged { door: d, status } if *d == door && status.mode == DoorMode::Unlocked));
    assert!(
        changed.is_some(),
        "door.state_changed before command.completed: {seen:#?}"
    );
    for w in seen.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "stream has a gap or duplicate");
    }
    // The same key after completion: the first command, completed; no second actuation.
    let third = core.doors().command(&operator(), &door, &cmd).unwrap();
    assert_eq!(
        (third.id.clone(), third.state),
        (first.id.clone(), CommandState::Completed)
    );
    assert_eq!(
        core.doors().get_command(&first.id).unwrap().state,
        CommandState::Completed
    );
    // Let any second actuation (there must be none) run to its end.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let completed = core
        .events()
        .search(&EventQuery {
            type_name: Some("command.completed".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(completed.items.len(), 1);
    let audit = core
        .audit_trail()
        .search(&AuditQuery {
            action: Some("door.command".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.items.len(), 2, "one pending entry, one completion");
    assert_eq!(audit.items[1].outcome, "pending");
    assert_eq!(
        audit.items[0].outcome,
        format!("entry {}: ok", audit.items[1].id)
    );
    assert_eq!(audit.items[0].target, "door-lobby:unlock");
    core.shutdown();
}

#[tokio::test]
async fn offline_and_refused_commands_fail_with_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config();
    cfg.command_timeout_ms = 300;
    let (core, sim, _bg) = core_with(dir.path(), cfg);
    let mut rx = core.events().stream(None);
    let door = DoorId::new("door-server");
    let lockdown = core
        .doors()
        .command(
            &operator(),
            &door,
            &DoorCommand {
                action: DoorAction::Lockdown,
                idempotency_key: "a".into(),
            },
        )
        .unwrap();
    read_until(&mut rx, |e| matches!(&e.kind, EventKind::CommandCompleted { command, .. } if *command == lockdown.id)).await;
    let unlock = core
        .doors()
        .command(
            &operator(),
            &door,
            &DoorCommand {
                action: DoorAction::Unlock,
                idempotency_key: "b".into(),
            },
        )
        .unwrap();
    let seen = read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::CommandFailed { command, .. } if *command == unlock.id),
    )
    .await;
    let EventKind::CommandFailed { reason, .. } = &seen.last().unwrap().kind else {
        unreachable!()
    };
    assert!(reason.contains("locked down"), "{reason}");

    sim.set_online(false);
    let seen = read_until(&mut rx, |e| matches!(&e.kind, EventKind::DoorStateChanged { door: d, status } if *d == door && !status.online)).await;
    assert!(!seen.is_empty());
    let release = core
        .doors()
        .command(
            &operator(),
            &door,
            &DoorCommand {
                action: DoorAction::ReleaseLockdown,
                idempotency_key: "c".into(),
            },
        )
        .unwrap();
    let seen = read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::CommandFailed { command, .. } if *command == release.id),
    )
    .await;
    let EventKind::CommandFailed { reason, .. } = &seen.last().unwrap().kind else {
        unreachable!()
    };
    assert_eq!(reason, "the door did not confirm within 300 ms");
    let info = core.doors().get_command(&release.id).unwrap();
    assert_eq!(info.state, CommandState::Failed);
    assert_eq!(
        info.reason.as_deref(),
        Some("the door did not confirm within 300 ms")
    );
    core.shutdown();
}

#[tokio::test]
async fn access_decisions_follow_card_door_and_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _sim, _bg) = core_with(dir.path(), test_config());
    let ap = AccessPointId::new("ap-server-in");
    let denied_for = |core: &SiteCore, badge: &str| -> Option<DenyReason> {
        let granted = core.present_credential_now(&ap, &CredentialId::new(badge));
        let page = core
            .events()
            .search(&EventQuery {
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        match &page.items[0].kind {
            EventKind::AccessGranted { .. } => {
                assert!(granted);
                None
            }
            EventKind::AccessDenied { reason, .. } => {
                assert!(!granted);
                Some(*reason)
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(denied_for(&core, "100107"), None);
    assert_eq!(denied_for(&core, "999999"), Some(DenyReason::UnknownCard));
    assert_eq!(denied_for(&core, "100135"), Some(DenyReason::CardExpired));
    assert_eq!(
        denied_for(&core, "100121"),
        Some(DenyReason::OutsideSchedule)
    );
    let admin = Actor {
        username: "admin".into(),
        role: Some(Role::Admin),
        source: "127.0.0.1".into(),
    };
    let c = core
        .people()
        .set_credential(
            &admin,
            &CredentialId::new("100107"),
            CredentialState::Disabled,
        )
        .unwrap();
    assert_eq!(c.state, CredentialState::Disabled);
    assert_eq!(denied_for(&core, "100107"), Some(DenyReason::CardDisabled));
    let ch = core
        .people()
        .cardholder(&CardholderId::new("ch-002"))
        .unwrap();
    assert_eq!(ch.credentials[0].state, CredentialState::Disabled);
    assert_eq!(core.people().cardholders("okafor").len(), 1);
    assert_eq!(core.people().cardholders("100107").len(), 1);
    assert_eq!(
        core.people().cardholders("").len(),
        core.config().cardholders.len()
    );

    let mut rx = core.events().stream(None);
    let cmd = core
        .doors()
        .command(
            &admin,
            &DoorId::new("door-server"),
            &DoorCommand {
                action: DoorAction::Lockdown,
                idempotency_key: "ld".into(),
            },
        )
        .unwrap();
    read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::CommandCompleted { command, .. } if *command == cmd.id),
    )
    .await;
    assert_eq!(denied_for(&core, "100114"), Some(DenyReason::LockedDown));
    core.shutdown();

    // The disabled badge stays disabled after a restart.
    drop(core);
    let (core, _sim, _bg) = core_with(dir.path(), test_config());
    assert_eq!(denied_for(&core, "100107"), Some(DenyReason::CardDisabled));
    core.shutdown();
}

#[tokio::test]
async fn requests_are_granted_denied_or_expire_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config();
    cfg.request_timeout_secs = 1;
    let clock = SimulatedClock::new(chrono::Utc::now());
    let (core, _sim, _bg) = core_on(dir.path(), cfg, Arc::new(clock.clone()));
    let mut rx = core.events().stream(None);
    let door = DoorId::new("door-lobby");
    let a = core
        .open_request(
            &door,
            None,
            Some(CredentialId::new("100107")),
            "intercom".into(),
            None,
        )
        .unwrap();
    assert_eq!(a.cardholder, Some(CardholderId::new("ch-002")));
    let b = core
        .open_request(
            &door,
            None,
            None,
            "visitor".into(),
            Some("Vera Visitor".into()),
        )
        .unwrap();
    let c = core
        .open_request(&door, None, None, "visitor".into(), None)
        .unwrap();
    assert_eq!(core.requests().open_requests().len(), 3);
    assert_eq!(core.snapshot().open_requests.len(), 3);
    assert_eq!(
        core.requests()
            .answer(&operator(), &a.id, true, None)
            .unwrap(),
        RequestOutcome::Granted
    );
    assert_eq!(
        core.requests()
            .answer(&operator(), &b.id, false, Some("no appointment".into()))
            .unwrap(),
        RequestOutcome::Denied
    );
    assert_eq!(
        core.requests()
            .answer(&operator(), &a.id, false, None)
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        core.requests()
            .answer(&operator(), &RequestId::new("nope"), true, None)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    // The grant opens the door momentarily.
    read_until(&mut rx, |e| {
        matches!(
            &e.kind,
            EventKind::CommandCompleted {
                action: DoorAction::Access,
                ..
            }
        )
    })
    .await;
    // Nobody answers c: it expires, audited by `system`.
    clock.advance(Duration::from_secs(1));
    let seen = read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::AccessRequestResolved { request, .. } if *request == c.id),
    )
    .await;
    let EventKind::AccessRequestResolved { outcome, by, .. } = &seen.last().unwrap().kind else {
        unreachable!()
    };
    assert_eq!((*outcome, by.clone()), (RequestOutcome::Expired, None));
    assert!(core.requests().open_requests().is_empty());
    let audit = core
        .audit_trail()
        .search(&AuditQuery {
            user: Some("system".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(audit.items[0].outcome, "expired");
    assert!(core.audit_trail().verify().unwrap().ok);
    core.shutdown();
}

#[tokio::test]
async fn seq_continues_after_reopen_and_stream_replays() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (core, _sim, bg) = core_with(dir.path(), test_config());
        for n in 1..=5 {
            core.events().append(EventKind::TestFlood { n }).unwrap();
        }
        assert_eq!(core.events().last_seq(), 5);
        core.shutdown();
        bg.into_iter().for_each(|t| t.abort());
    }
    let (core, _sim, _bg) = core_with(dir.path(), test_config());
    assert_eq!(core.events().last_seq(), 5);
    let e = core.events().append(EventKind::TestFlood { n: 6 }).unwrap();
    assert_eq!(e.seq, 6);
    // A stream from seq 2 replays 3..=6 and then goes live.
    let mut rx = core.events().stream(Some(2));
    let seen = read_until(&mut rx, |e| e.seq == 6).await;
    assert_eq!(
        seen.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 4, 5, 6]
    );
    core.events().append(EventKind::TestFlood { n: 7 }).unwrap();
    let seen = read_until(&mut rx, |e| e.seq == 7).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(core.events().seqs().unwrap(), (1..=7).collect::<Vec<_>>());
    // Dropping streams ends them.
    core.events().drop_streams();
    let end = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(item) = rx.recv().await {
            assert!(matches!(item, StreamItem::Heartbeat), "unexpected {item:?}");
        }
    })
    .await;
    assert!(end.is_ok(), "stream did not end after drop_streams");
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_with_slow_reader_has_no_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _sim, _bg) = core_with(dir.path(), test_config());
    let start = core.events().last_seq();
    let mut rx = core.events().stream(Some(start));
    // More than the broadcast buffer, while the reader dawdles: it lags and refills from the store.
    let count = (BROADCAST_CAPACITY as u64) * 2;
    core.flood(100_000, count).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut next = start + 1;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while next <= start + count {
        let item = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("timed out")
            .expect("ended");
        if let StreamItem::Event(e) = item {
            assert_eq!(e.seq, next, "gap or duplicate");
            next += 1;
        }
    }
    core.shutdown();
}

#[tokio::test]
async fn idle_stream_sends_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(chrono::Utc::now());
    let (core, _sim, _bg) = core_on(dir.path(), test_config(), Arc::new(clock.clone()));
    let opened = clock.instant();
    let mut rx = core.events().stream(None);
    let beat = opened + Duration::from_millis(HEARTBEAT_MS);
    wait_for("the stream to sleep until its heartbeat", || {
        clock.deadlines().contains(&beat)
    })
    .await;
    clock.advance(Duration::from_millis(HEARTBEAT_MS - 1));
    clock.settle().await;
    assert!(rx.try_recv().is_err(), "a heartbeat came early");
    clock.advance(Duration::from_millis(1));
    let item = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no heartbeat")
        .expect("stream ended");
    assert_eq!(item, StreamItem::Heartbeat);
    // The next one is a period later.
    wait_for("the next heartbeat's sleep", || {
        clock
            .deadlines()
            .contains(&(beat + Duration::from_millis(HEARTBEAT_MS)))
    })
    .await;
    core.shutdown();
    let end = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
    assert!(matches!(end, Ok(None)), "stream did not end at shutdown");
}

#[tokio::test]
async fn each_door_is_mirrored_and_commanded_through_its_own_driver() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = test_config();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    let first = SimulatedController::new(&cfg.doors, &cfg.controller);
    let second = SimulatedController::new(&cfg.doors, &cfg.controller);
    let dock = DoorId::new("door-dock");
    let mut drivers = Drivers::simulated(Arc::clone(&first));
    let second_dyn: Arc<dyn crate::site::controller::DoorController> = second.clone();
    drivers.register("second", second_dyn);
    drivers.bind(dock.clone(), "second").unwrap();
    let env = SiteEnv::new(store, drivers);
    let core = SiteCore::new(cfg, env).unwrap();
    let _bg = core.start_background();
    let mut rx = core.events().stream(None);
    let cmd = core
        .doors()
        .command(
            &operator(),
            &dock,
            &DoorCommand {
                action: DoorAction::Unlock,
                idempotency_key: "dock".into(),
            },
        )
        .unwrap();
    read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::CommandCompleted { command, .. } if *command == cmd.id),
    )
    .await;
    assert_eq!(
        second.status(&dock).map(|s| s.mode),
        Some(DoorMode::Unlocked)
    );
    assert_eq!(first.status(&dock).map(|s| s.mode), Some(DoorMode::Locked));
    // The first driver no longer speaks for the dock door: its news is ignored.
    first.open(&dock);
    second.open(&dock);
    let seen = read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::DoorStateChanged { door, .. } if *door == dock),
    )
    .await;
    let EventKind::DoorStateChanged { status, .. } = &seen.last().unwrap().kind else {
        unreachable!()
    };
    assert_eq!(status.mode, DoorMode::Unlocked, "the second driver's door");
    // The first driver's forced-open alarm for the dock door is not logged;
    // one for a door it drives (sent after it, so handled after it) is.
    let lobby = DoorId::new("door-lobby");
    first.open(&lobby);
    read_until(
        &mut rx,
        |e| matches!(&e.kind, EventKind::DoorForcedOpen { door } if *door == lobby),
    )
    .await;
    let forced = core
        .events()
        .search(&EventQuery {
            type_name: Some("door.forced_open".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    let doors: Vec<String> = forced
        .items
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DoorForcedOpen { door } => Some(door.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(doors, ["door-lobby"]);
    core.shutdown();
}

#[tokio::test]
async fn a_created_then_edited_cardholder_changes_the_next_decision_and_survives_a_restart() {
    use crate::site::people::CardholderEdit;
    let dir = tempfile::tempdir().unwrap();
    let ap = AccessPointId::new("ap-server-in");
    let badge = CredentialId::new("900001");
    let id = CardholderId::new("ch-new");
    let last_denial = |core: &SiteCore| -> Option<DenyReason> {
        let granted = core.present_credential_now(&ap, &badge);
        let page = core
            .events()
            .search(&EventQuery {
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        match &page.items[0].kind {
            EventKind::AccessGranted { cardholder, .. } => {
                assert!(granted);
                assert_eq!(cardholder.as_ref(), Some(&id));
                None
            }
            EventKind::AccessDenied { reason, .. } => {
                assert!(!granted);
                Some(*reason)
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    let supervisor = Actor {
        username: "supervisor".into(),
        role: Some(Role::Supervisor),
        source: "127.0.0.1".into(),
    };
    let card = |state, valid_until| Credential {
        id: badge.clone(),
        state,
        valid_until,
    };
    {
        let (core, _sim, _bg) = core_with(dir.path(), test_config());
        assert_eq!(last_denial(&core), Some(DenyReason::UnknownCard));
        let created = core
            .people()
            .create_cardholder(
                &supervisor,
                &id,
                CardholderEdit {
                    name: Some("  New Person ".into()),
                    department: Some("IT".into()),
                    schedule: Some("all-areas".into()),
                    credentials: Some(vec![card(CredentialState::Active, None)]),
                },
            )
            .unwrap();
        assert_eq!(created.name, "New Person");
        assert!(!created.has_photo);
        assert_eq!(last_denial(&core), None);

        // The schedule: the office one does not open the server room.
        let edit = |e: CardholderEdit| core.people().update_cardholder(&supervisor, &id, e);
        edit(CardholderEdit {
            schedule: Some("office".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(last_denial(&core), Some(DenyReason::OutsideSchedule));
        edit(CardholderEdit {
            schedule: Some("all-areas".into()),
            credentials: Some(vec![card(
                CredentialState::Active,
                Some(core.time().now - chrono::Duration::hours(1)),
            )]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(last_denial(&core), Some(DenyReason::CardExpired));
        let edited = edit(CardholderEdit {
            name: Some("Renamed".into()),
            credentials: Some(vec![card(CredentialState::Disabled, None)]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(edited.name, "Renamed");
        assert_eq!(edited.department, "IT", "a field left out is kept");
        assert_eq!(last_denial(&core), Some(DenyReason::CardDisabled));

        // Each change is one `cardholder.changed` by its author.
        let changes = core
            .events()
            .search(&EventQuery {
                type_name: Some("cardholder.changed".into()),
                cardholder: Some("ch-new".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(changes.items.len(), 4);
        assert!(changes.items.iter().all(|e| matches!(
            &e.kind,
            EventKind::CardholderChanged { cardholder, by } if cardholder == &id && by == "supervisor"
        )));
        core.shutdown();
    }
    let (core, _sim, _bg) = core_with(dir.path(), test_config());
    let ch = core.people().cardholder(&id).unwrap();
    assert_eq!(ch.name, "Renamed");
    assert_eq!(ch.credentials, vec![card(CredentialState::Disabled, None)]);
    assert_eq!(last_denial(&core), Some(DenyReason::CardDisabled));
    core.people()
        .set_credential(&supervisor, &badge, CredentialState::Active)
        .unwrap();
    assert_eq!(last_denial(&core), None);
    core.shutdown();
}

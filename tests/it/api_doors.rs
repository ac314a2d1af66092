#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Door commands end to end: confirmed by the door, failed on an offline
//! controller within the timeout (and the door shown UNKNOWN, never locked),
//! and an idempotency key that never actuates twice.

use crate::common;

use std::time::{Duration, Instant};

use common::{api_error, start_site};
use serde_json::{Value, json};
use watchdesk::domain::{DoorState, DoorWithStatus, Role, Snapshot};

async fn snapshot(site: &common::TestSite, token: &str) -> Snapshot {
    let r = site.get(token, "/api/v1/snapshot").await;
    assert_eq!(r.status(), 200);
    r.json().await.expect("snapshot parses as the domain type")
}

/// Waits until the snapshot shows `id` in `state`.
async fn wait_state(site: &common::TestSite, token: &str, id: &str, state: DoorState) {
    common::eventually(
        &format!("{id} {state:?}"),
        Duration::from_secs(5),
        || async {
            let s = snapshot(site, token).await;
            (door(&s, id).status.state(true) == state).then_some(())
        },
    )
    .await;
}

fn door<'a>(s: &'a Snapshot, id: &str) -> &'a DoorWithStatus {
    s.doors
        .iter()
        .find(|d| d.door.id.as_str() == id)
        .expect("door in snapshot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_to_an_online_door_ends_confirmed_by_the_door() {
    let site = start_site().await;
    let token = site.token(Role::Operator).await;
    let before = snapshot(&site, &token).await;
    assert_eq!(
        door(&before, "door-office").status.state(true),
        DoorState::Locked
    );

    let r = site
        .post(
            &token,
            "/api/v1/doors/door-office/commands",
            json!({"action": "unlock", "idempotency_key": "k-unlock-1"}),
        )
        .await;
    assert_eq!(r.status(), 202, "a command is a request: 202");
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["state"], "pending");
    let id = info["id"].as_str().unwrap().to_owned();

    let done = site
        .wait_event(&token, "door=door-office", Duration::from_secs(5), |e| {
            e["type"] == "command.completed" && e["command"] == id.as_str()
        })
        .await;
    assert_eq!(done["action"], "unlock");
    assert_eq!(done["by"], "operator");
    // The door's own report came first, and says unlocked.
    let changed = site
        .wait_event(
            &token,
            "door=door-office&type=door.state_changed",
            Duration::from_secs(1),
            |e| e["status"]["mode"] == "unlocked",
        )
        .await;
    assert!(
        changed["seq"].as_u64() < done["seq"].as_u64(),
        "door report precedes completion"
    );

    let r = site.get(&token, &format!("/api/v1/commands/{id}")).await;
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["state"], "completed");
    let after = snapshot(&site, &token).await;
    assert_eq!(
        door(&after, "door-office").status.state(true),
        DoorState::Unlocked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_to_an_offline_door_fails_within_its_timeout_and_the_door_is_unknown() {
    let site = start_site().await;
    let token = site.token(Role::Operator).await;
    site.fault("controller", json!({"online": false})).await;

    // The site hears of the outage through the controller's event channel:
    // give it a moment. Then every door is unknown, never locked.
    let heard_by = Instant::now() + Duration::from_secs(3);
    let s = loop {
        let s = snapshot(&site, &token).await;
        if s.doors.iter().all(|d| !d.status.online) || Instant::now() > heard_by {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for d in &s.doors {
        assert!(!d.status.online, "door {} still online", d.door.id);
        assert_eq!(d.status.state(true), DoorState::Unknown);
    }

    let sent = Instant::now();
    let r = site
        .post(
            &token,
            "/api/v1/doors/door-lobby/commands",
            json!({"action": "lock", "idempotency_key": "k-offline"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = site
        .wait_event(
            &token,
            "door=door-lobby&type=command.failed",
            Duration::from_secs(4),
            |e| e["command"] == id.as_str(),
        )
        .await;
    let took = sent.elapsed();
    // command_timeout_ms is 1000 in the test config.
    assert!(
        took >= Duration::from_millis(950),
        "failed before its timeout: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "failed too late: {took:?}"
    );
    assert!(
        failed["reason"].as_str().unwrap_or("").contains("1000"),
        "reason names the timeout: {failed}"
    );
    let info: Value = site
        .get(&token, &format!("/api/v1/commands/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["state"], "failed");

    // Back online: the true state returns.
    site.fault("controller", json!({"online": true})).await;
    wait_state(&site, &token, "door-lobby", DoorState::Locked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_three_times_actuates_once() {
    let site = start_site().await;
    let token = site.token(Role::Operator).await;
    let body = json!({"action": "unlock", "idempotency_key": "retry-me"});
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = site
            .post(&token, "/api/v1/doors/door-stair2/commands", body.clone())
            .await;
        assert_eq!(r.status(), 202);
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(
        ids.iter().all(|i| i == &ids[0]),
        "same key, same command: {ids:?}"
    );
    // The one command completes; a second actuation would be a second
    // command id (checked above) and a second completion (checked below).
    site.wait_event(
        &token,
        "door=door-stair2&type=command.completed",
        Duration::from_secs(5),
        |e| e["command"] == ids[0].as_str(),
    )
    .await;
    let events = site.events(&token, "door=door-stair2").await;
    let completed = events
        .iter()
        .filter(|e| e["type"] == "command.completed")
        .count();
    let changes = events
        .iter()
        .filter(|e| e["type"] == "door.state_changed")
        .count();
    assert_eq!((completed, changes), (1, 1), "one actuation: {events:#?}");

    // The same key for something else is a conflict, not a second command.
    let r = site
        .post(
            &token,
            "/api/v1/doors/door-stair2/commands",
            json!({"action": "lock", "idempotency_key": "retry-me"}),
        )
        .await;
    let (status, kind, _) = api_error(r).await;
    assert_eq!((status, kind.as_str()), (409, "conflict"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockdown_refuses_unlock_until_released() {
    let site = start_site().await;
    let sup = site.token(Role::Supervisor).await;
    let r = site
        .post(
            &sup,
            "/api/v1/doors/door-server/commands",
            json!({"action": "lockdown", "idempotency_key": "ld-1"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    site.wait_event(
        &sup,
        "door=door-server&type=command.completed",
        Duration::from_secs(3),
        |_| true,
    )
    .await;

    let r = site
        .post(
            &sup,
            "/api/v1/doors/door-server/commands",
            json!({"action": "unlock", "idempotency_key": "ld-2"}),
        )
        .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = site
        .wait_event(
            &sup,
            "door=door-server&type=command.failed",
            Duration::from_secs(3),
            |e| e["command"] == id.as_str(),
        )
        .await;
    assert!(
        failed["reason"].as_str().unwrap().contains("locked down"),
        "{failed}"
    );

    let r = site
        .post(
            &sup,
            "/api/v1/doors/door-server/commands",
            json!({"action": "release_lockdown", "idempotency_key": "ld-3"}),
        )
        .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    site.wait_event(
        &sup,
        "door=door-server&type=command.completed",
        Duration::from_secs(3),
        |e| e["command"] == id.as_str(),
    )
    .await;
    let s = snapshot(&site, &sup).await;
    assert_eq!(
        door(&s, "door-server").status.state(true),
        DoorState::Locked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_door_raises_its_alarm_event() {
    let site = start_site().await;
    let token = site.token(Role::Operator).await;
    site.fault("doors/door-east", json!({"position": "open"}))
        .await;
    site.wait_event(
        &token,
        "door=door-east&type=door.forced_open",
        Duration::from_secs(2),
        |_| true,
    )
    .await;
    let s = snapshot(&site, &token).await;
    assert_eq!(door(&s, "door-east").status.state(true), DoorState::Forced);
    site.fault("doors/door-east", json!({"position": "closed"}))
        .await;
    wait_state(&site, &token, "door-east", DoorState::Locked).await;
}

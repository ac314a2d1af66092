#![allow(clippy::unwrap_used, reason = "test helpers")]
//! Operator-aided passage (grant, deny, expiry), access decisions for
//! badges, credential enable/disable, and the hash-chained audit trail.

use crate::common;

use std::time::Duration;

use common::{api_error, start_site_with};
use serde_json::{Value, json};
use watchdesk::domain::{AccessPointId, CredentialId, Role};

fn short_access(c: &mut watchdesk::config::SiteConfig) {
    for d in &mut c.doors {
        d.access_time_ms = 400;
    }
}

/// A badge presented at a reader: the site decides.
fn badge(site: &common::TestSite, ap: &str, badge: &str) -> bool {
    site.handle
        .core()
        .present_credential_now(&AccessPointId::new(ap), &CredentialId::new(badge))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_request_accesses_the_door_then_relocks_and_is_audited() {
    let site = start_site_with(short_access).await;
    let op = site.token(Role::Operator).await;
    let id = site.open_request("door-lobby");

    let open: Vec<Value> = site
        .get(&op, "/api/v1/access-requests")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        open.iter().any(|r| r["id"] == id.as_str()),
        "the request is listed as open"
    );

    let r = site
        .post(
            &op,
            &format!("/api/v1/access-requests/{id}/grant"),
            json!({"reason": "expected courier"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "granted");

    let resolved = site
        .wait_event(
            &op,
            "door=door-lobby&type=access_request.resolved",
            Duration::from_secs(2),
            |e| e["request"] == id.as_str(),
        )
        .await;
    assert_eq!(
        (resolved["outcome"].as_str(), resolved["by"].as_str()),
        (Some("granted"), Some("operator"))
    );
    site.wait_event(
        &op,
        "door=door-lobby&type=door.state_changed",
        Duration::from_secs(2),
        |e| e["status"]["mode"] == "accessed",
    )
    .await;
    // Relocked after the door's access time (400 ms here).
    let relocked = site
        .wait_event(
            &op,
            "door=door-lobby&type=door.state_changed",
            Duration::from_secs(3),
            |e| e["status"]["mode"] == "locked",
        )
        .await;
    assert!(relocked["seq"].as_u64() > resolved["seq"].as_u64());

    // Answered twice: a conflict.
    let (status, kind, _) = api_error(
        site.post(
            &op,
            &format!("/api/v1/access-requests/{id}/deny"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (409, "conflict"));
    let open: Vec<Value> = site
        .get(&op, "/api/v1/access-requests")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !open.iter().any(|r| r["id"] == id.as_str()),
        "no longer open"
    );

    let sup = site.token(Role::Supervisor).await;
    let entries = site.audit(&sup, "action=access_request.grant").await;
    let e = entries
        .iter()
        .find(|e| e["target"].as_str().unwrap_or("").contains(&id))
        .expect("grant audited");
    assert_eq!(
        (e["user"].as_str(), e["role"].as_str()),
        (Some("operator"), Some("operator"))
    );
    assert!(
        e["source"].as_str().unwrap_or("").contains("127.0.0.1"),
        "from where: {e}"
    );
    assert!(!e["outcome"].as_str().unwrap_or("").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_request_keeps_the_door_locked() {
    let site = start_site_with(short_access).await;
    let op = site.token(Role::Operator).await;
    let id = site.open_request("door-dock");
    let r = site
        .post(
            &op,
            &format!("/api/v1/access-requests/{id}/deny"),
            json!({"reason": "not on the list"}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "denied");
    site.wait_event(
        &op,
        "door=door-dock&type=access_request.resolved",
        Duration::from_secs(5),
        |e| e["outcome"] == "denied",
    )
    .await;
    // A grant would have unlocked within the access time (400 ms): watch
    // the door for twice that, failing at the first move.
    let watch = tokio::time::Instant::now() + Duration::from_millis(800);
    while tokio::time::Instant::now() < watch {
        let events = site
            .events(&op, "door=door-dock&type=door.state_changed")
            .await;
        assert!(
            events.is_empty(),
            "a denial never moves the lock: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sup = site.token(Role::Supervisor).await;
    assert!(
        !site
            .audit(&sup, "action=access_request.deny")
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_expires_denied_and_is_audited() {
    let site = start_site_with(short_access).await;
    let op = site.token(Role::Operator).await;
    let id = site.open_request("door-reception");
    // request_timeout_secs is 2 in the test config.
    let e = site
        .wait_event(
            &op,
            "type=access_request.resolved",
            Duration::from_secs(5),
            |e| e["request"] == id.as_str(),
        )
        .await;
    assert_eq!(e["outcome"], "expired");
    assert!(e["by"].is_null());
    let (status, _, _) = api_error(
        site.post(
            &op,
            &format!("/api/v1/access-requests/{id}/grant"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "an expired request cannot be granted");
    let sup = site.token(Role::Supervisor).await;
    let entries = site.audit(&sup, "user=system").await;
    assert!(
        entries
            .iter()
            .any(|e| e["target"].as_str().unwrap_or("").contains(&id)),
        "expiry audited by system: {entries:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badges_are_decided_by_the_site_and_a_disabled_badge_is_refused() {
    let site = start_site_with(short_access).await;
    let sup = site.token(Role::Supervisor).await;
    // ch-001 (office schedule 06-20) at the lobby: granted unless it is night in Berlin.
    let hour = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%H")
        .to_string()
        .parse::<u32>()
        .unwrap();
    assert_eq!(
        badge(&site, "ap-lobby-in", "100100"),
        (6..20).contains(&hour),
        "office hours decide"
    );
    // An unknown badge.
    assert!(!badge(&site, "ap-lobby-in", "999999"), "unknown badge");
    // ch-006's badge expired in 2025.
    assert!(!badge(&site, "ap-lobby-in", "100135"), "expired badge");
    let denied = site.events(&sup, "type=access.denied").await;
    let reasons: Vec<&str> = denied.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(
        reasons.contains(&"unknown_card") && reasons.contains(&"card_expired"),
        "{reasons:?}"
    );

    // Disable ch-002's badge (all-areas, any hour): refused from then on.
    assert!(
        badge(&site, "ap-server-in", "100107"),
        "an all-areas badge opens the server room"
    );
    let r = site
        .put(
            &sup,
            "/api/v1/credentials/100107",
            json!({"state": "disabled"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "disabled");
    assert!(
        !badge(&site, "ap-server-in", "100107"),
        "a disabled badge is refused"
    );
    let last = site
        .events(&sup, "type=access.denied&credential=100107")
        .await;
    assert_eq!(last.last().unwrap()["reason"], "card_disabled");
    let ch: Value = site
        .get(&sup, "/api/v1/cardholders/ch-002")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ch["credentials"][0]["state"], "disabled");
    let entries = site.audit(&sup, "action=credential.disable").await;
    assert!(
        entries
            .iter()
            .any(|e| e["target"].as_str().unwrap_or("").contains("100107")
                && e["user"] == "supervisor"),
        "{entries:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_chain_verifies_and_a_changed_row_breaks_it() {
    let site = start_site_with(short_access).await;
    let op = site.token(Role::Operator).await;
    for i in 0..3 {
        site.post(
            &op,
            "/api/v1/doors/door-office/commands",
            json!({"action": "access", "idempotency_key": format!("a{i}")}),
        )
        .await;
    }
    let id = site.open_request("door-lobby");
    site.post(
        &op,
        &format!("/api/v1/access-requests/{id}/deny"),
        json!({}),
    )
    .await;
    // Every command's completion entry is written once its outcome is known.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let sup = site.token(Role::Supervisor).await;
    loop {
        let done = site
            .audit(&sup, "action=door.command")
            .await
            .iter()
            .filter(|e| e["outcome"].as_str().unwrap_or("").starts_with("entry "))
            .count();
        if done == 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{done} of 3 commands completed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let admin = site.token(Role::Admin).await;
    let v: Value = site
        .get(&admin, "/api/v1/audit/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let n = v["entries"].as_u64().unwrap();
    assert!(n >= 6, "sign-ins, commands, a denial: {n}");

    // Someone edits the database behind the server's back.
    let db = rusqlite::Connection::open(site.handle.sqlite_path()).unwrap();
    let changed = db
        .execute("UPDATE audit SET outcome = outcome || ' (edited)' WHERE id = (SELECT MIN(id) + 2 FROM audit)", [])
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let v: Value = site
        .get(&admin, "/api/v1/audit/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["first_bad"].as_u64().is_some(), "{v}");
}

/// Entries of the trail straight from the database, oldest first.
fn stored_audit(site: &common::TestSite) -> Vec<(i64, String, String, String)> {
    let db = rusqlite::Connection::open(site.handle.sqlite_path()).unwrap();
    let mut stmt = db
        .prepare("SELECT id, action, target, outcome FROM audit ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_row_deleted_is_detected_and_no_longer_chained_onto() {
    let site = start_site_with(short_access).await;
    let admin = site.token(Role::Admin).await;
    let _ = site.token(Role::Operator).await;
    let verify = || async {
        site.get(&admin, "/api/v1/audit/verify")
            .await
            .json::<Value>()
            .await
            .unwrap()
    };
    let v = verify().await;
    assert_eq!(v["ok"], true, "{v}");
    let n = v["entries"].as_u64().unwrap();
    let db = rusqlite::Connection::open(site.handle.sqlite_path()).unwrap();
    db.execute(
        "DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)",
        [],
    )
    .unwrap();
    let v = verify().await;
    assert_eq!(
        (
            v["ok"].as_bool(),
            v["entries"].as_u64(),
            v["first_bad"].as_u64()
        ),
        (Some(false), Some(n - 1), Some(n)),
        "{v}"
    );
    // A world-changing call now refuses to chain onto the damaged head.
    let op = site.token(Role::Operator).await;
    let (status, kind, msg) = api_error(
        site.post(
            &op,
            "/api/v1/doors/door-lobby/commands",
            json!({"action": "unlock", "idempotency_key": "after-delete"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (503, "unavailable"), "{msg}");
    assert!(msg.contains("audit"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_audit_write_refuses_commands_and_answers() {
    let site = start_site_with(|c| {
        short_access(c);
        c.request_timeout_secs = 600;
    })
    .await;
    let op = site.token(Role::Operator).await;
    let admin = site.token(Role::Admin).await;
    let sup = site.token(Role::Supervisor).await;
    let id = site.open_request("door-dock");
    let db = rusqlite::Connection::open(site.handle.sqlite_path()).unwrap();
    db.execute_batch(
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit
         BEGIN SELECT RAISE(ABORT, 'audit disk gone'); END;",
    )
    .unwrap();
    let before = stored_audit(&site);

    let command = json!({"action": "unlock", "idempotency_key": "while-down"});
    let (status, kind, msg) = api_error(
        site.post(&op, "/api/v1/doors/door-lobby/commands", command.clone())
            .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (503, "unavailable"), "{msg}");
    assert!(msg.contains("audit"), "{msg}");
    // Refused before anything was recorded or sent: no command row.
    let commands: i64 = db
        .query_row("SELECT count(*) FROM commands", [], |r| r.get(0))
        .unwrap();
    assert_eq!(commands, 0);

    let (status, kind, msg) = api_error(
        site.post(
            &op,
            &format!("/api/v1/access-requests/{id}/grant"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (503, "unavailable"), "{msg}");
    let open: Vec<Value> = site
        .get(&op, "/api/v1/access-requests")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        open.iter().any(|r| r["id"] == id.as_str()),
        "the request is still open"
    );
    // A badge change too: refused, the badge as it was.
    let (status, kind, msg) = api_error(
        site.put(
            &sup,
            "/api/v1/credentials/100107",
            json!({"state": "disabled"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (503, "unavailable"), "{msg}");
    let ch: Value = site
        .get(&sup, "/api/v1/cardholders/ch-002")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ch["credentials"][0]["state"], "active");
    assert_eq!(stored_audit(&site), before);

    // Back up: the same key now starts a new command, audited pending
    // before its completion.
    db.execute_batch("DROP TRIGGER audit_down").unwrap();
    let r = site
        .post(&op, "/api/v1/doors/door-lobby/commands", command)
        .await;
    assert_eq!(r.status(), 202);
    let cmd: Value = r.json().await.unwrap();
    site.wait_event(
        &op,
        "door=door-lobby&type=command.completed",
        Duration::from_secs(3),
        |e| e["command"] == cmd["id"],
    )
    .await;
    let r = site
        .post(
            &op,
            &format!("/api/v1/access-requests/{id}/grant"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let entries = loop {
        let entries: Vec<(i64, String, String, String)> = stored_audit(&site)
            .into_iter()
            .filter(|e| e.1 != "session.sign_in")
            .collect();
        // unlock: pending + ok; grant: pending + granted; the grant's
        // access command: pending + its outcome.
        if entries.len() == 6 {
            break entries;
        }
        assert!(tokio::time::Instant::now() < deadline, "{entries:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let unlock = &entries[0];
    assert_eq!(
        (unlock.1.as_str(), unlock.2.as_str(), unlock.3.as_str()),
        ("door.command", "door-lobby:unlock", "pending")
    );
    let grant = entries
        .iter()
        .find(|e| e.1 == "access_request.grant" && e.3 == "pending")
        .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.3 == format!("entry {}: ok", unlock.0)),
        "{entries:#?}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e.3 == format!("entry {}: granted", grant.0)),
        "{entries:#?}"
    );
    let v: Value = site
        .get(&admin, "/api/v1/audit/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_call_audits_a_bounded_path_id() {
    let site = start_site_with(short_access).await;
    let viewer = site.token(Role::Viewer).await;
    // As long a path as a URI can be (under 64 KiB): the refusal is
    // audited, cut.
    let long = "r".repeat(60_000);
    let r = site
        .post(
            &viewer,
            &format!("/api/v1/access-requests/{long}/grant"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 403);
    // 1 MB, on a raw connection (no client builds such a URI): refused by
    // the server before any handler, so no row either.
    let huge = "r".repeat(1 << 20);
    let addr = site
        .handle
        .base_url()
        .trim_start_matches("http://")
        .to_owned();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /api/v1/access-requests/{huge}/deny HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {viewer}\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        // The server may close while the request is still being written.
        let _ = tcp.write_all(head.as_bytes()).await;
        let mut buf = vec![0u8; 64];
        let n = tcp.read(&mut buf).await.unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .expect("the server answers or closes");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );
    let stored = stored_audit(&site);
    let denied: Vec<_> = stored.iter().filter(|e| e.3 == "denied").collect();
    assert!(!denied.is_empty(), "{stored:#?}");
    for (_, action, target, outcome) in &stored {
        assert!(
            target.chars().count() <= 256,
            "{action}: {} chars",
            target.len()
        );
        assert!(outcome.chars().count() <= 256);
    }
    let cut = denied
        .iter()
        .find(|e| e.1 == "access_request.grant")
        .expect("the refusal is audited");
    assert_eq!(cut.2.chars().count(), 256);
    assert!(
        cut.2.starts_with("rrrr") && cut.2.ends_with('…'),
        "{}",
        cut.2
    );
    let admin = site.token(Role::Admin).await;
    let v: Value = site
        .get(&admin, "/api/v1/audit/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
}

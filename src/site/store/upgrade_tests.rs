//! Stores written by earlier builds open, upgraded, with every row readable.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::migrations::{SCHEMA_VERSION, user_version};
use super::*;
use crate::domain::{AuditVerification, CredentialState, RequestOutcome, Role};
use crate::site::audit;

fn fixture_copy(dir: &Path) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1.sqlite");
    let dst = dir.join("site.sqlite");
    std::fs::copy(src, &dst).unwrap();
    dst
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn schema_of(path: &Path) -> Vec<(String, String)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn version_1_store_opens_upgraded_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(dir.path());
    // The audit times as version 1 wrote (and hashed) them.
    let v1_audit_times: Vec<String> = {
        let conn = Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 1);
        let mut stmt = conn.prepare("SELECT time FROM audit ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(v1_audit_times.len(), 3);

    let store = Store::open(&path).unwrap();
    assert_eq!(store.with_reader(user_version).unwrap(), SCHEMA_VERSION);

    // Events, with their times to the microsecond.
    assert_eq!(store.last_seq().unwrap(), 3);
    let events = store.events_after(0, 3, 10).unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.seq, e.time, e.kind.type_name()))
            .collect::<Vec<_>>(),
        vec![
            (1, t("2026-11-22T09:59:58.123456Z"), "door.forced_open"),
            (2, t("2026-11-22T10:00:00Z"), "access.granted"),
            (3, t("2026-11-22T10:00:01.000001Z"), "credential.changed"),
        ]
    );
    let in_range = store
        .search_events(&EventQuery {
            from: Some(t("2026-11-22T09:59:58.123456Z")),
            to: Some(t("2026-11-22T10:00:00Z")),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        in_range.items.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![2, 1]
    );

    // The old chain verified, so the rows were re-chained under the key
    // beside the store: the chain verifies with it, and with no other.
    let key_path = dir.path().join(audit::KEY_FILE);
    assert_eq!(std::fs::read(&key_path).unwrap().len(), audit::KEY_LEN);
    assert!(!dir.path().join("audit.key.new").exists());
    let other = audit::AuditKey::generate();
    let with_other = store.with_reader(|c| audit::verify(c, &other)).unwrap();
    assert_eq!((with_other.ok, with_other.first_bad), (false, Some(1)));
    assert_eq!(
        audit::verify_store(&store).unwrap(),
        AuditVerification {
            ok: true,
            entries: 3,
            first_bad: None
        }
    );
    assert_eq!(
        audit::verify_audit_file(&path).unwrap(),
        AuditVerification {
            ok: true,
            entries: 3,
            first_bad: None
        }
    );
    let trail = audit::search(
        &store,
        &audit::AuditQuery {
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    let mut times: Vec<(u64, String)> = trail
        .items
        .iter()
        .map(|e| (e.id, time_text(e.time)))
        .collect();
    times.sort();
    assert_eq!(
        times.into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
        v1_audit_times
    );
    assert_eq!(trail.items[2].user, "operator");
    assert_eq!(trail.items[0].role, None);

    // The session.
    let s = store
        .session("5e55107e5e55107e5e55107e5e55107e5e55107e5e55107e5e55107e5e55107e")
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.username.as_str(), s.role, s.expires, s.revoked),
        (
            "operator",
            Role::Operator,
            t("2026-11-22T18:00:00.5Z"),
            false
        )
    );

    // Commands, with their creation times.
    let done = store.command(&CommandId::new("cmd-1")).unwrap().unwrap();
    assert_eq!(done.info.state, CommandState::Completed);
    assert_eq!(done.created, t("2026-11-22T10:00:02.25Z"));
    assert_eq!(done.idempotency_key, "key-1");

    // The credential state.
    assert_eq!(
        store.credential_states().unwrap(),
        vec![(CredentialId::new("100107"), CredentialState::Disabled)]
    );

    // Requests: one open, one granted.
    let open = store.open_requests().unwrap();
    assert_eq!(
        open.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["req-open"]
    );
    assert_eq!(open[0].created, t("2026-11-22T10:01:00Z"));
    let done = store.request(&RequestId::new("req-done")).unwrap().unwrap();
    assert_eq!(done.outcome, Some(RequestOutcome::Granted));
    assert_eq!(done.request.created, t("2026-11-22T10:00:30Z"));

    // The people tables are there, empty.
    assert!(store.cardholders().unwrap().is_empty());

    // Stale commands fail as before: the pending one, with its time.
    let stale = store.fail_stale_commands("restarted").unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].info.id, CommandId::new("cmd-2"));
    assert_eq!(stale[0].created, t("2026-11-22T10:00:02.25Z"));

    // New rows go on after the old ones, and the chain with them.
    audit::append(
        &store,
        &audit::AuditRecord {
            user: "admin".into(),
            role: Some(Role::Admin),
            action: "session.sign_in".into(),
            target: "".into(),
            source: "127.0.0.1".into(),
            outcome: "ok".into(),
        },
        chrono::Utc::now(),
    )
    .unwrap();
    assert_eq!(audit::verify_store(&store).unwrap().entries, 4);
    assert!(audit::verify_store(&store).unwrap().ok);
    drop(store);

    // Opening again changes nothing.
    let before = schema_of(&path);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.last_seq().unwrap(), 3);
    drop(store);
    assert_eq!(schema_of(&path), before);
}

#[test]
fn upgraded_and_fresh_stores_have_one_schema() {
    let dir = tempfile::tempdir().unwrap();
    let old = fixture_copy(dir.path());
    drop(Store::open(&old).unwrap());
    let fresh = dir.path().join("fresh.sqlite");
    drop(Store::open(&fresh).unwrap());
    assert_eq!(schema_of(&old), schema_of(&fresh));
    let conn = Connection::open(&fresh).unwrap();
    assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
}

#[test]
fn newer_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.sqlite");
    drop(Store::open(&path).unwrap());
    let newer = SCHEMA_VERSION + 1;
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, known } if found == newer && known == SCHEMA_VERSION),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("version {newer}")), "{msg}");
    assert!(msg.contains(&format!("up to {SCHEMA_VERSION}")), "{msg}");
    assert!(
        !msg.contains("corrupt") && !msg.contains("cannot be read"),
        "{msg}"
    );
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn).unwrap(), newer);
}

#[test]
fn verify_audit_does_not_pass_an_unkeyed_version_1_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(dir.path());
    // Its unkeyed chain is intact, but anyone could have recomputed it.
    let err = audit::verify_audit_file(&path).unwrap_err().to_string();
    assert!(err.contains("not chained under a key"), "{err}");
    // Read-only: still version 1, and no key made.
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn).unwrap(), 1);
    assert!(!dir.path().join(audit::KEY_FILE).exists());
}

#[test]
fn a_broken_old_chain_is_kept_and_reported_not_blessed() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(dir.path());
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE audit SET outcome = 'denied' WHERE id = 2", [])
        .unwrap();
    let store = Store::open(&path).unwrap();
    let v = audit::verify_store(&store).unwrap();
    assert_eq!(
        v,
        AuditVerification {
            ok: false,
            entries: 3,
            first_bad: Some(2)
        }
    );
    // The rows are all there, the edited one as found.
    let trail = audit::search(
        &store,
        &audit::AuditQuery {
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(trail.items.len(), 3);
    assert_eq!(trail.items[1].outcome, "denied");
    // New entries chain on; the finding stays, here and from the file.
    audit::append(
        &store,
        &audit::AuditRecord {
            user: "admin".into(),
            role: Some(Role::Admin),
            action: "session.sign_in".into(),
            target: "".into(),
            source: "127.0.0.1".into(),
            outcome: "ok".into(),
        },
        chrono::Utc::now(),
    )
    .unwrap();
    let v = audit::verify_store(&store).unwrap();
    assert_eq!((v.ok, v.entries, v.first_bad), (false, 4, Some(2)));
    assert_eq!(audit::verify_audit_file(&path).unwrap(), v);
    // Clearing the finding in the head is seen (its MAC needs the key).
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE audit_head SET unverified_from = 0", [])
        .unwrap();
    assert!(!audit::verify_store(&store).unwrap().ok);
}

#[test]
fn a_failed_step_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(dir.path());
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE commands SET created = 'yesterday' WHERE id = 'cmd-2'",
            [],
        )
        .unwrap();
    let before = schema_of(&path);
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::Migration { to: 2, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("version 2") && msg.contains("commands.created") && msg.contains("yesterday"),
        "{msg}"
    );
    assert_eq!(schema_of(&path), before);
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn).unwrap(), 1);
    let created: String = conn
        .query_row("SELECT created FROM commands WHERE id = 'cmd-1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(created, "2026-11-22T10:00:02.250000Z");
    // No audit key was left behind, so a retry after the fix upgrades.
    assert!(!dir.path().join(audit::KEY_FILE).exists());
    assert!(!dir.path().join("audit.key.new").exists());
    drop(conn);
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE commands SET created = '2026-11-22T10:00:02.250000Z' WHERE id = 'cmd-2'",
            [],
        )
        .unwrap();
    let store = Store::open(&path).unwrap();
    assert!(audit::verify_store(&store).unwrap().ok);
}

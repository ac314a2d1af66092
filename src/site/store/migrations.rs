//! The store's schema as an ordered list of steps, each from version `N` to
//! `N + 1`. SQLite's `user_version` is the version; each step runs in one
//! (immediate) transaction with the bump of `user_version`, so a store is
//! always at a whole version. A fresh store runs every step from 0.
//!
//! A step, once released, is never edited: a change is a new step at the end.

use rusqlite::types::Value;
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::{Result, StoreError, parse_time_text, time_us};

/// One step of the schema.
pub(super) struct Migration {
    /// The version the store has after this step.
    pub to: i64,
    /// What the step does, for errors and logs.
    pub what: &'static str,
    pub apply: fn(&Transaction<'_>) -> Result<()>,
}

/// Every step, in order: `MIGRATIONS[i].to == i + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        to: 1,
        what: "events, audit, sessions, commands, credential states, access requests",
        apply: v1_initial,
    },
    Migration {
        to: 2,
        what: "every time as integer microseconds since 1970 (UTC)",
        apply: v2_times_as_microseconds,
    },
    Migration {
        to: 3,
        what: "cardholders and their credentials",
        apply: super::people::v3_people,
    },
    Migration {
        to: 4,
        what: "the audit chain keyed (HMAC-SHA256 under the key beside the store), its head anchored",
        apply: v4_keyed_audit,
    },
    Migration {
        to: 5,
        what: "idempotency keys per scope; when each session was last used",
        apply: v5_key_scopes_and_session_use,
    },
    Migration {
        to: 6,
        what: "shared camera views",
        apply: super::views::v6_shared_views,
    },
    Migration {
        to: 7,
        what: "the recordings index (segments) and evidence locks",
        apply: super::recordings::v7_recordings,
    },
    Migration {
        to: 8,
        what: "bookmarks",
        apply: super::bookmarks::v8_bookmarks,
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The store's schema version.
pub(super) fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the store at `conn` to [`SCHEMA_VERSION`]; returns the version it
/// had. A store newer than this build is refused and left as it is.
pub(super) fn migrate(conn: &mut Connection) -> Result<i64> {
    let found = user_version(conn)?;
    check_known(found)?;
    for m in MIGRATIONS.iter().skip(found.max(0) as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated since the first look.
        let now = user_version(&tx)?;
        check_known(now)?;
        if now >= m.to {
            continue;
        }
        (m.apply)(&tx).map_err(|e| StoreError::Migration {
            to: m.to,
            what: m.what,
            source: Box::new(e),
        })?;
        tx.pragma_update(None, "user_version", m.to)?;
        tx.commit()?;
    }
    Ok(found)
}

fn check_known(found: i64) -> Result<()> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found < 0 {
        return Err(StoreError::Corrupt(format!("schema version {found}")));
    }
    Ok(())
}

/// Version 1: the schema as first released (times partly as RFC 3339 text).
fn v1_initial(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    type TEXT NOT NULL,
    door TEXT,
    cardholder TEXT,
    credential TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_door ON events(door, seq) WHERE door IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_cardholder ON events(cardholder, seq) WHERE cardholder IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_credential ON events(credential, seq) WHERE credential IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_type ON events(type, seq);
CREATE INDEX IF NOT EXISTS events_time ON events(time_us);

CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    source TEXT NOT NULL,
    outcome TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_user ON audit(user, id);
CREATE INDEX IF NOT EXISTS audit_action ON audit(action, id);
CREATE INDEX IF NOT EXISTS audit_time ON audit(time);

CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    expires_us INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    door TEXT NOT NULL,
    action TEXT NOT NULL,
    user TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    created TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS credential_states (
    credential TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    changed TEXT NOT NULL,
    by TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS access_requests (
    id TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    created TEXT NOT NULL,
    outcome TEXT,
    resolved_by TEXT,
    reason TEXT,
    resolved TEXT
);
",
    )?;
    Ok(())
}

/// Version 2: the RFC 3339 text times (`audit.time`, `commands.created`,
/// `credential_states.changed`, `access_requests.created` and `.resolved`)
/// become integer microseconds (`*_us`), like `events.time_us` and
/// `sessions.expires_us` already were. Each table is rebuilt (SQLite cannot
/// change a column's type); a text that is not a time fails the step.
fn v2_times_as_microseconds(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "
CREATE TABLE audit_v2 (
    id INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    user TEXT NOT NULL,
    role TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    source TEXT NOT NULL,
    outcome TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_v2 (id, time_us, user, role, action, target, source, outcome, prev_hash, hash)
    SELECT id, 0, user, role, action, target, source, outcome, prev_hash, hash FROM audit;

CREATE TABLE commands_v2 (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    door TEXT NOT NULL,
    action TEXT NOT NULL,
    user TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    created_us INTEGER NOT NULL
);
INSERT INTO commands_v2 (id, idempotency_key, door, action, user, state, reason, created_us)
    SELECT id, idempotency_key, door, action, user, state, reason, 0 FROM commands;

CREATE TABLE credential_states_v2 (
    credential TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    changed_us INTEGER NOT NULL,
    by TEXT NOT NULL
);
INSERT INTO credential_states_v2 (credential, state, changed_us, by)
    SELECT credential, state, 0, by FROM credential_states;

CREATE TABLE access_requests_v2 (
    id TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    outcome TEXT,
    resolved_by TEXT,
    reason TEXT,
    resolved_us INTEGER
);
INSERT INTO access_requests_v2 (id, request, created_us, outcome, resolved_by, reason, resolved_us)
    SELECT id, request, 0, outcome, resolved_by, reason, NULL FROM access_requests;
",
    )?;
    copy_times(tx, "audit", "id", "time", "time_us")?;
    copy_times(tx, "commands", "id", "created", "created_us")?;
    copy_times(
        tx,
        "credential_states",
        "credential",
        "changed",
        "changed_us",
    )?;
    copy_times(tx, "access_requests", "id", "created", "created_us")?;
    copy_times(tx, "access_requests", "id", "resolved", "resolved_us")?;
    tx.execute_batch(
        "
DROP TABLE audit;
ALTER TABLE audit_v2 RENAME TO audit;
CREATE INDEX audit_user ON audit(user, id);
CREATE INDEX audit_action ON audit(action, id);
CREATE INDEX audit_time ON audit(time_us);

DROP TABLE commands;
ALTER TABLE commands_v2 RENAME TO commands;
CREATE INDEX commands_state ON commands(state);

DROP TABLE credential_states;
ALTER TABLE credential_states_v2 RENAME TO credential_states;

DROP TABLE access_requests;
ALTER TABLE access_requests_v2 RENAME TO access_requests;
CREATE INDEX access_requests_open ON access_requests(created_us, id) WHERE outcome IS NULL;
",
    )?;
    Ok(())
}

/// Sets `{table}_v2.{to}` from the RFC 3339 text in `{table}.{from}`, row by
/// row (matched on `key`); a NULL stays NULL.
fn copy_times(tx: &Transaction<'_>, table: &str, key: &str, from: &str, to: &str) -> Result<()> {
    let mut read = tx.prepare(&format!(
        "SELECT {key}, {from} FROM {table} WHERE {from} IS NOT NULL"
    ))?;
    let mut write = tx.prepare(&format!("UPDATE {table}_v2 SET {to} = ?2 WHERE {key} = ?1"))?;
    let mut rows = read.query([])?;
    while let Some(r) = rows.next()? {
        let k: Value = r.get(0)?;
        let text: String = r.get(1)?;
        let t = parse_time_text(&text).map_err(|_| {
            StoreError::Corrupt(format!(
                "{table}.{from} of row {k:?} is not an RFC 3339 time: {text:?}"
            ))
        })?;
        write.execute(params![k, time_us(t)])?;
    }
    Ok(())
}

/// Version 4: the audit chain under the site's key. Adds `audit_head`, checks
/// the old unkeyed chain, then re-chains every row under the key beside the
/// store (which [`super::Store::open`] made sure of) and writes the head. When
/// the old chain does not verify, the rows are kept and re-chained too (so
/// nothing changes them unseen from now on), and the head records the first
/// bad one: verification reports it for ever instead of blessing it.
fn v4_keyed_audit(tx: &Transaction<'_>) -> Result<()> {
    use crate::site::audit;
    tx.execute_batch(
        "
CREATE TABLE audit_head (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    entries INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    last_mac TEXT NOT NULL,
    unverified_from INTEGER NOT NULL,
    mac TEXT NOT NULL
);
",
    )?;
    let old = audit::verify_unkeyed(tx)?;
    if let Some(bad) = old.first_bad {
        tracing::warn!(
            first_bad = bad,
            entries = old.entries,
            "the audit trail's old chain is broken; its rows are kept, re-chained under the key, and reported unverified from entry {bad}"
        );
    }
    let sqlite = tx
        .path()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| StoreError::Audit("the keyed audit chain needs a store on disk".into()))?;
    let key = audit::AuditKey::for_upgrade(std::path::Path::new(sqlite))?;
    audit::rechain(tx, &key, old.first_bad)
}

/// Version 5 (issue 8, keys and sessions): a command's idempotency key is
/// unique per `scope` (`user:<name>` for a client's command, `site` for a
/// key the site makes itself, such as `access-request:<id>`), no longer
/// across the site, so no client can claim a key the site will use. A
/// command made before keeps its key under its user's scope. Sessions get
/// `last_used_us` (for the idle timeout), set to the time of the upgrade,
/// and an index by user (for revocation).
pub(super) fn v5_key_scopes_and_session_use(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "
CREATE TABLE commands_v5 (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    door TEXT NOT NULL,
    action TEXT NOT NULL,
    user TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    created_us INTEGER NOT NULL,
    UNIQUE (scope, idempotency_key)
);
INSERT INTO commands_v5 (id, scope, idempotency_key, door, action, user, state, reason, created_us)
    SELECT id, 'user:' || user, idempotency_key, door, action, user, state, reason, created_us
    FROM commands;
DROP TABLE commands;
ALTER TABLE commands_v5 RENAME TO commands;
CREATE INDEX commands_state ON commands(state);
CREATE INDEX commands_created ON commands(created_us);

ALTER TABLE sessions ADD COLUMN last_used_us INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_used_us = CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER);
CREATE INDEX sessions_user ON sessions(username);
",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;

    /// A store at version 4, with a command and a session as versions 3 and
    /// 4 wrote them. Step 4 (the keyed audit chain) needs a store on disk and
    /// touches only the audit tables, so this store skips it.
    fn store_at_v4() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        for m in &MIGRATIONS[..3] {
            let tx = conn.transaction().unwrap();
            (m.apply)(&tx).unwrap();
            tx.pragma_update(None, "user_version", m.to).unwrap();
            tx.commit().unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute_batch(
            "INSERT INTO commands (id, idempotency_key, door, action, user, state, reason, created_us)
                 VALUES ('c1', 'access-request:r1', 'door-lobby', 'lock', 'operator', 'completed', NULL, 5);
             INSERT INTO sessions (token_sha256, username, role, expires_us, revoked)
                 VALUES ('t1', 'viewer', 'viewer', 9, 0);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn v5_scopes_old_keys_to_their_user_and_stamps_sessions_with_the_upgrade_time() {
        let mut conn = store_at_v4();
        let before = time_us(chrono::Utc::now());
        assert_eq!(migrate(&mut conn).unwrap(), 4);
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let (scope, key): (String, String) = conn
            .query_row(
                "SELECT scope, idempotency_key FROM commands WHERE id = 'c1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (scope.as_str(), key.as_str()),
            ("user:operator", "access-request:r1")
        );
        // The site's own scope is free for that key now; the user's is not.
        let insert = "INSERT INTO commands
             (id, scope, idempotency_key, door, action, user, state, reason, created_us)
             VALUES (?1, ?2, 'access-request:r1', 'door-lobby', 'access', 'operator', 'pending', NULL, 6)";
        conn.execute(insert, params!["c2", "site"]).unwrap();
        assert!(
            conn.execute(insert, params!["c3", "user:operator"])
                .is_err()
        );
        let used: i64 = conn
            .query_row(
                "SELECT last_used_us FROM sessions WHERE token_sha256 = 't1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let after = time_us(chrono::Utc::now());
        // julianday() is good to about a millisecond.
        assert!(
            (before - 1000..=after + 1000).contains(&used),
            "{before} {used} {after}"
        );
    }

    #[test]
    fn v6_adds_shared_views_to_a_v5_store() {
        let mut conn = store_at_v4();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let view = crate::domain::SharedView {
            id: crate::domain::ViewId::new("lobby"),
            name: "Lobby".into(),
            layout: "2x2".into(),
            cameras: vec![Some(crate::domain::CameraId::new("cam-1")), None],
            by: "supervisor".into(),
            updated_at: chrono::DateTime::from_timestamp(1_795_341_600, 0).unwrap(),
        };
        assert!(super::super::views::put_shared_view(&mut conn, &view, 1).unwrap());
        let mut other = view.clone();
        other.id = crate::domain::ViewId::new("other");
        assert!(
            !super::super::views::put_shared_view(&mut conn, &other, 1).unwrap(),
            "past the limit"
        );
        let mut renamed = view.clone();
        renamed.name = "Lobby, east".into();
        assert!(super::super::views::put_shared_view(&mut conn, &renamed, 1).unwrap());
        assert_eq!(
            super::super::views::shared_views(&conn).unwrap(),
            vec![renamed]
        );
        assert!(super::super::views::delete_shared_view(&mut conn, &view.id).unwrap());
        assert!(!super::super::views::delete_shared_view(&mut conn, &view.id).unwrap());
        assert!(super::super::views::shared_views(&conn).unwrap().is_empty());
    }

    #[test]
    fn v7_adds_the_recordings_index_to_a_v6_store() {
        use super::super::recordings;
        use crate::domain::{CameraId, ClockSource, StreamKind};
        let mut conn = store_at_v4();
        // Up to 6 only, as a store of the previous release.
        for m in &MIGRATIONS[4..6] {
            let tx = conn.transaction().unwrap();
            (m.apply)(&tx).unwrap();
            tx.pragma_update(None, "user_version", m.to).unwrap();
            tx.commit().unwrap();
        }
        assert_eq!(user_version(&conn).unwrap(), 6);
        assert_eq!(migrate(&mut conn).unwrap(), 6);
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let start = chrono::DateTime::from_timestamp(1_795_341_600, 0).unwrap();
        let id = recordings::insert_writing(
            &conn,
            &recordings::NewSegment {
                camera: CameraId::new("cam-1"),
                stream: StreamKind::Main,
                start,
                path: "cam-1/main/a.mp4.writing".into(),
                clock: ClockSource::Receive,
            },
        )
        .unwrap();
        let w = recordings::writing(&conn).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].id, w[0].start, w[0].end), (id, start, start));
        assert!(recordings::locks(&conn).unwrap().is_empty());
    }
}

//! The store's schema as an ordered list of steps, each from version `N` to
//! `N + 1`. SQLite's `user_version` is the version; each step runs in one
//! (immediate) transaction with the bump of `user_version`, so a store is
//! always at a whole version. A fresh store runs every step from 0.
//!
//! A step, once released, is never edited: a change is a new step at the end.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{Result, StoreError};

/// One step of the schema.
pub(super) struct Migration {
    /// The version the store has after this step.
    pub to: i64,
    /// What the step does, for errors and logs.
    pub what: &'static str,
    pub apply: fn(&Transaction<'_>) -> Result<()>,
}

/// Every step, in order: `MIGRATIONS[i].to == i + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[Migration {
    to: 1,
    what: "events, audit, sessions, commands, credential states, access requests",
    apply: v1_initial,
}];

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

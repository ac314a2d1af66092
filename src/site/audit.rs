//! The audit trail: who did what to what, when, from where, and how it
//! ended. Each entry carries the hash of the one before, so a changed or
//! removed row breaks the chain: `hash = sha256_hex(prev_hash + "\x1f" +
//! id, time, user, role, action, target, source, outcome joined by "\x1f")`,
//! and the first entry's `prev_hash` is 64 zeros.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use sha2::{Digest, Sha256};

use crate::domain::{AuditEntry, AuditVerification, Page, Role, Timestamp};

use super::SiteError;
use super::auth::Principal;
use super::env::Clock;
use super::error::CoreError;
use super::store::{
    Store, StoreError, audit_hashed_time, audit_time_column, time_from_us, time_text, time_us,
};

/// Every audit action name, written once; the API, the services and the
/// tests use these.
pub mod actions {
    pub const DOOR_COMMAND: &str = "door.command";
    pub const REQUEST_GRANT: &str = "access_request.grant";
    pub const REQUEST_DENY: &str = "access_request.deny";
    pub const REQUEST_EXPIRE: &str = "access_request.expire";
    pub const CREDENTIAL_ENABLE: &str = "credential.enable";
    pub const CREDENTIAL_DISABLE: &str = "credential.disable";
    pub const CARDHOLDER_CREATE: &str = "cardholder.create";
    pub const CARDHOLDER_UPDATE: &str = "cardholder.update";
    pub const SIGN_IN: &str = "session.sign_in";
    pub const SIGN_OUT: &str = "session.sign_out";
    /// A user name or address backed off after failed sign-ins.
    pub const SIGN_IN_BACKOFF: &str = "session.sign_in_backoff";
    pub const SESSION_REVOKE: &str = "session.revoke";
    pub const FAULT_INJECTION: &str = "fault.inject";
}

/// Who does something, and from where (the peer IP), for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub username: String,
    pub role: Option<Role>,
    pub source: String,
}

impl Actor {
    /// A signed-in user acting from `source`.
    pub fn user(p: &Principal, source: impl Into<String>) -> Actor {
        Actor {
            username: p.username.clone(),
            role: Some(p.role),
            source: source.into(),
        }
    }

    /// The site itself (expiries, restarts).
    pub fn system() -> Actor {
        Actor {
            username: "system".into(),
            role: None,
            source: "site".into(),
        }
    }
}

/// The audit service: writes entries stamped by the site's clock, searches
/// and verifies the chain.
pub struct AuditTrail {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
}

impl AuditTrail {
    pub fn new(store: Arc<Store>, clock: Arc<dyn Clock>) -> AuditTrail {
        AuditTrail { store, clock }
    }

    /// Writes an entry; a failure is logged here (the action already
    /// happened) and the entry is `None`.
    pub fn record(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Option<AuditEntry> {
        let rec = AuditRecord {
            user: actor.username.clone(),
            role: actor.role,
            action: action.to_owned(),
            target: target.to_owned(),
            source: actor.source.clone(),
            outcome: outcome.to_owned(),
        };
        match append(&self.store, &rec, self.clock.now()) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(action, "cannot write the audit trail: {e:#}");
                None
            }
        }
    }

    /// Searches the trail.
    pub fn search(&self, q: &AuditQuery) -> Result<Page<AuditEntry>, CoreError> {
        Ok(search(&self.store, q)?)
    }

    /// Recomputes the chain.
    pub fn verify(&self) -> Result<AuditVerification, CoreError> {
        Ok(verify_store(&self.store)?)
    }
}

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const SEP: &str = "\x1f";

/// One thing to audit. `user` is the name given (also for a failed
/// sign-in), `source` the peer address.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub user: String,
    pub role: Option<Role>,
    pub action: String,
    pub target: String,
    pub source: String,
    pub outcome: String,
}

/// Filters of an audit search. `limit` is the page size.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub action: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only entries with a smaller id (the next page).
    pub before: Option<u64>,
    pub limit: usize,
}

/// The chained hash of one entry.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per hashed field, in hash order"
)]
pub fn entry_hash(
    prev_hash: &str,
    id: u64,
    time: &str,
    user: &str,
    role: &str,
    action: &str,
    target: &str,
    source: &str,
    outcome: &str,
) -> String {
    let id = id.to_string();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    for field in [
        id.as_str(),
        time,
        user,
        role,
        action,
        target,
        source,
        outcome,
    ] {
        h.update(SEP.as_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

fn role_text(role: Option<Role>) -> &'static str {
    role.map(Role::as_str).unwrap_or("")
}

/// Appends one entry, chained to the last, and returns it.
/// `now` is the entry's time, from the site's clock.
pub fn append(store: &Store, rec: &AuditRecord, now: Timestamp) -> Result<AuditEntry, StoreError> {
    let time = time_text(now);
    let rec = rec.clone();
    store.write_blocking(move |conn| {
        let tx = conn.transaction()?;
        let last: Option<(i64, String)> = tx
            .prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (id, prev_hash) = match last {
            Some((id, hash)) => (id.max(0) as u64 + 1, hash),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let role = role_text(rec.role);
        let hash = entry_hash(
            &prev_hash,
            id,
            &time,
            &rec.user,
            role,
            &rec.action,
            &rec.target,
            &rec.source,
            &rec.outcome,
        );
        tx.prepare_cached(
            "INSERT INTO audit (id, time_us, user, role, action, target, source, outcome, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            id as i64,
            time_us(now),
            rec.user,
            rec.role.map(Role::as_str),
            rec.action,
            rec.target,
            rec.source,
            rec.outcome,
            prev_hash,
            hash
        ])?;
        tx.commit()?;
        Ok(AuditEntry {
            id,
            time: now,
            user: rec.user.clone(),
            role: rec.role,
            action: rec.action.clone(),
            target: rec.target.clone(),
            source: rec.source.clone(),
            outcome: rec.outcome.clone(),
            prev_hash,
            hash,
        })
    })
}

/// Recomputes the whole chain on `conn`.
pub fn verify(conn: &Connection) -> Result<AuditVerification, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, {}, user, role, action, target, source, outcome, prev_hash, hash
         FROM audit ORDER BY id",
        audit_time_column(conn)?
    ))?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut entries = 0u64;
    let mut first_bad = None;
    while let Some(r) = rows.next()? {
        entries += 1;
        if first_bad.is_some() {
            continue;
        }
        let id: i64 = r.get(0)?;
        let role: Option<String> = r.get(3)?;
        let prev_hash: String = r.get(8)?;
        let hash: String = r.get(9)?;
        let computed = entry_hash(
            &prev_hash,
            id.max(0) as u64,
            &audit_hashed_time(r.get_ref(1)?),
            &r.get::<_, String>(2)?,
            role.as_deref().unwrap_or(""),
            &r.get::<_, String>(4)?,
            &r.get::<_, String>(5)?,
            &r.get::<_, String>(6)?,
            &r.get::<_, String>(7)?,
        );
        if prev_hash != expected_prev || computed != hash {
            first_bad = Some(id.max(0) as u64);
        }
        expected_prev = hash;
    }
    Ok(AuditVerification {
        ok: first_bad.is_none(),
        entries,
        first_bad,
    })
}

/// Recomputes the chain of a live store.
pub fn verify_store(store: &Store) -> Result<AuditVerification, StoreError> {
    store.read_blocking(verify)
}

/// Verifies the audit trail of a site's SQLite file, opened read-only (for
/// `watchdesk site verify-audit`).
pub fn verify_audit_file(sqlite_path: &Path) -> Result<AuditVerification, SiteError> {
    if !sqlite_path.is_file() {
        return Err(SiteError::NoDatabase(sqlite_path.to_owned()));
    }
    let at = |source: StoreError| SiteError::Database {
        path: sqlite_path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(sqlite_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| at(e.into()))?;
    verify(&conn).map_err(at)
}

/// Searches the trail, newest first; `next_before` is set when more match.
pub fn search(store: &Store, q: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
    let mut sql = String::from(
        "SELECT id, time_us, user, role, action, target, source, outcome, prev_hash, hash
         FROM audit WHERE 1=1",
    );
    let mut args: Vec<Value> = Vec::new();
    if let Some(u) = &q.user {
        sql.push_str(" AND user = ?");
        args.push(Value::Text(u.clone()));
    }
    if let Some(a) = &q.action {
        sql.push_str(" AND action = ?");
        args.push(Value::Text(a.clone()));
    }
    if let Some(f) = q.from {
        sql.push_str(" AND time_us >= ?");
        args.push(Value::Integer(time_us(f)));
    }
    if let Some(t) = q.to {
        sql.push_str(" AND time_us <= ?");
        args.push(Value::Integer(time_us(t)));
    }
    if let Some(b) = q.before {
        sql.push_str(" AND id < ?");
        args.push(Value::Integer(b.min(i64::MAX as u64) as i64));
    }
    let limit = q.limit.max(1);
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(Value::Integer(limit as i64 + 1));
    store.read_blocking(move |conn| {
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        let mut items = Vec::new();
        let mut more = false;
        while let Some(r) = rows.next()? {
            if items.len() == limit {
                more = true;
                break;
            }
            let role: Option<String> = r.get(3)?;
            let role = match role.as_deref() {
                None | Some("") => None,
                Some(s) => Some(
                    s.parse::<Role>()
                        .map_err(|e| StoreError::Corrupt(format!("audit role: {e}")))?,
                ),
            };
            items.push(AuditEntry {
                id: r.get::<_, i64>(0)?.max(0) as u64,
                time: time_from_us(r.get(1)?)?,
                user: r.get(2)?,
                role,
                action: r.get(4)?,
                target: r.get(5)?,
                source: r.get(6)?,
                outcome: r.get(7)?,
                prev_hash: r.get(8)?,
                hash: r.get(9)?,
            });
        }
        let next_before = if more {
            items.last().map(|e: &AuditEntry| e.id)
        } else {
            None
        };
        Ok(Page { items, next_before })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn rec(user: &str, action: &str, outcome: &str) -> AuditRecord {
        AuditRecord {
            user: user.into(),
            role: Some(Role::Operator),
            action: action.into(),
            target: "door-lobby".into(),
            source: "127.0.0.1".into(),
            outcome: outcome.into(),
        }
    }

    #[test]
    fn chain_verifies_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let empty = verify_store(&store).unwrap();
        assert_eq!(
            empty,
            AuditVerification {
                ok: true,
                entries: 0,
                first_bad: None
            }
        );

        let first = append(
            &store,
            &rec("operator", "door.command", "completed"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(first.prev_hash, GENESIS_HASH);
        let second = append(
            &store,
            &rec("ghost", "session.sign_in", "denied"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(second.prev_hash, first.hash);
        for i in 0..5 {
            append(
                &store,
                &rec("operator", "credential.disable", &format!("ok {i}")),
                Utc::now(),
            )
            .unwrap();
        }
        let ok = verify_store(&store).unwrap();
        assert_eq!(
            ok,
            AuditVerification {
                ok: true,
                entries: 7,
                first_bad: None
            }
        );
        assert_eq!(verify_audit_file(store.path()).unwrap(), ok);

        // Someone edits row 4 behind the server's back.
        let conn = Connection::open(store.path()).unwrap();
        conn.execute("UPDATE audit SET outcome = 'denied' WHERE id = 4", [])
            .unwrap();
        let bad = verify_store(&store).unwrap();
        assert_eq!(
            bad,
            AuditVerification {
                ok: false,
                entries: 7,
                first_bad: Some(4)
            }
        );

        // Re-hashing the edited row still breaks at the next one.
        let (prev, time_us): (String, i64) = conn
            .query_row(
                "SELECT prev_hash, time_us FROM audit WHERE id = 4",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let time = time_text(time_from_us(time_us).unwrap());
        let forged = entry_hash(
            &prev,
            4,
            &time,
            "operator",
            "operator",
            "credential.disable",
            "door-lobby",
            "127.0.0.1",
            "denied",
        );
        conn.execute("UPDATE audit SET hash = ?1 WHERE id = 4", [forged])
            .unwrap();
        assert_eq!(verify_store(&store).unwrap().first_bad, Some(5));

        // A removed row breaks the chain too.
        let dir2 = tempfile::tempdir().unwrap();
        let store2 = Store::open_in(dir2.path()).unwrap();
        for i in 0..3 {
            append(&store2, &rec("a", "x", &i.to_string()), Utc::now()).unwrap();
        }
        Connection::open(store2.path())
            .unwrap()
            .execute("DELETE FROM audit WHERE id = 2", [])
            .unwrap();
        assert_eq!(verify_store(&store2).unwrap().first_bad, Some(3));
    }

    #[test]
    fn search_filters_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        for i in 0..7 {
            let user = if i % 2 == 0 { "operator" } else { "admin" };
            append(&store, &rec(user, "door.command", "completed"), Utc::now()).unwrap();
        }
        append(&store, &rec("admin", "session.sign_out", "ok"), Utc::now()).unwrap();
        let mut q = AuditQuery {
            user: Some("operator".into()),
            limit: 3,
            ..Default::default()
        };
        let p1 = search(&store, &q).unwrap();
        assert_eq!(
            p1.items.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![7, 5, 3]
        );
        assert_eq!(p1.next_before, Some(3));
        q.before = p1.next_before;
        let p2 = search(&store, &q).unwrap();
        assert_eq!(p2.items.iter().map(|e| e.id).collect::<Vec<_>>(), vec![1]);
        assert_eq!(p2.next_before, None);
        let by_action = search(
            &store,
            &AuditQuery {
                action: Some("session.sign_out".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(by_action.items.len(), 1);
        assert_eq!(by_action.items[0].role, Some(Role::Operator));
    }

    #[test]
    fn verify_audit_file_names_a_missing_file() {
        let err = verify_audit_file(Path::new("/nonexistent/site.sqlite")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/site.sqlite"));
    }

    #[test]
    fn trail_stamps_entries_with_the_site_clock() {
        use crate::site::env::SimulatedClock;
        use chrono::TimeZone;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let clock = SimulatedClock::new(t);
        let trail = AuditTrail::new(store, Arc::new(clock.clone()));
        let e = trail
            .record(
                &Actor::system(),
                actions::REQUEST_EXPIRE,
                "req-1",
                "expired",
            )
            .unwrap();
        assert_eq!(e.time, t);
        assert_eq!((e.user.as_str(), e.source.as_str()), ("system", "site"));
        clock.advance(std::time::Duration::from_secs(60));
        let e2 = trail
            .record(
                &Actor::system(),
                actions::REQUEST_EXPIRE,
                "req-2",
                "expired",
            )
            .unwrap();
        assert_eq!(e2.time, t + chrono::Duration::seconds(60));
        assert_eq!(e2.prev_hash, e.hash);
        let page = trail
            .search(&AuditQuery {
                user: Some("system".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert!(trail.verify().unwrap().ok);
    }
}

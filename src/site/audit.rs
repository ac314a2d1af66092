//! The audit trail: who did what to what, when, from where, and how it
//! ended, as a keyed chain that the database alone cannot rewrite.
//!
//! - Each entry's `hash` is an HMAC-SHA256, under the site's audit key, of a
//!   tag naming the encoding, the previous entry's `hash`, and the entry's
//!   fields, each written as its length (u64, big-endian) and its bytes
//!   ([`entry_mac`]): no byte a user can type joins or splits fields. The
//!   first entry's `prev_hash` is [`GENESIS_HASH`].
//! - The key ([`AuditKey`]) is 32 random bytes in `audit.key` beside the
//!   SQLite file (mode 0600), never in it: whoever can write the database but
//!   not read the key cannot recompute the chain.
//! - The one row of `audit_head` (how many entries, the last id and MAC, the
//!   first entry an upgrade could not vouch for) carries a MAC of its own and
//!   is written in the same transaction as every append, so removing the
//!   newest rows is seen too. An append checks the head first and refuses to
//!   chain onto a head that does not match (it would launder the damage).
//! - Every audited string is cut to [`MAX_FIELD_CHARS`] here, in one place.
//! - A world-changing action writes its entry BEFORE it acts ([`AuditTrail::
//!   try_record`], or [`AuditTrail::writer`] inside the action's own store
//!   transaction) and is refused when that fails; the entry's completion is a
//!   new row ([`AuditTrail::complete`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use sha2::{Digest, Sha256};

use crate::domain::{AuditEntry, AuditVerification, Page, Role, Timestamp};

use super::SiteError;
use super::auth::Principal;
use super::env::Clock;
use super::error::CoreError;
use super::store::{Store, StoreError, audit_hashed_time, time_from_us, time_us};

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
    pub const VIEW_PUBLISH: &str = "view.publish";
    pub const VIEW_DELETE: &str = "view.delete";
    /// A floor map's placements replaced (the map editor).
    pub const MAP_EDIT: &str = "map.edit";
    pub const RECORDING_VIEW: &str = "recording.view";
    /// A relay request with credentials the site refused (at most once a
    /// minute per claimed user name).
    pub const RELAY_REFUSED: &str = "relay.refused";
    pub const EVIDENCE_LOCK: &str = "evidence.lock";
    pub const EVIDENCE_UNLOCK: &str = "evidence.unlock";
    pub const BOOKMARK_CREATE: &str = "bookmark.create";
    /// A cardholder's photo uploaded.
    pub const CARDHOLDER_PHOTO: &str = "cardholder.photo";
}

/// The outcome of an entry written before its action.
pub const PENDING: &str = "pending";

/// The longest audited string, in characters; a longer one keeps its first
/// characters and ends with [`CUT_MARK`], [`MAX_FIELD_CHARS`] in all.
pub const MAX_FIELD_CHARS: usize = 256;
/// The end of a string that was cut.
pub const CUT_MARK: char = '…';

/// The file beside the store that holds the audit key.
pub const KEY_FILE: &str = "audit.key";
/// The audit key's length in bytes.
pub const KEY_LEN: usize = 32;

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

// ---- the key -------------------------------------------------------------------------

/// The site's audit key: 32 random bytes, kept in [`KEY_FILE`] beside the
/// store. Never printed: its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct AuditKey([u8; KEY_LEN]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    /// A key of these bytes (tests; a key from elsewhere).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> AuditKey {
        AuditKey(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> AuditKey {
        AuditKey(rand::random())
    }

    /// Where the key of the store at `sqlite_path` lives.
    pub fn path_beside(sqlite_path: &Path) -> PathBuf {
        sqlite_path.with_file_name(KEY_FILE)
    }

    /// Reads a key file: exactly [`KEY_LEN`] bytes, readable by its owner
    /// only.
    pub fn load(path: &Path) -> Result<AuditKey, StoreError> {
        let bad = |reason: String| StoreError::AuditKey {
            path: path.to_owned(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| bad(format!("cannot be read: {e}")))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(bad(format!(
                    "is readable by others (mode {:o}); make it 0600",
                    mode & 0o777
                )));
            }
        }
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            bad(format!(
                "holds {} bytes, not the {KEY_LEN} of an audit key",
                bytes.len()
            ))
        })?;
        Ok(AuditKey(key))
    }

    /// Writes a fresh key to `path` (which must not exist yet), mode 0600.
    pub fn create(path: &Path) -> Result<AuditKey, StoreError> {
        let key = AuditKey::generate();
        let bad = |e: std::io::Error| StoreError::AuditKey {
            path: path.to_owned(),
            reason: format!("cannot be created: {e}"),
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(path).map_err(bad)?;
        file.write_all(&key.0).map_err(bad)?;
        file.sync_all().map_err(bad)?;
        tracing::info!(path = %path.display(), "created the site's audit key; back it up with the data folder");
        Ok(key)
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The key of the store at `sqlite_path`, before it is migrated (for
/// [`Store::open`]): loaded from beside it; or, for a store whose trail is
/// not chained under a key yet, a fresh key written to [`KEY_FILE`]`.new`,
/// which the upgrade uses and [`Store::open`] renames into place once the
/// upgrade committed (or removes when it failed, so a retry starts clean).
/// Refused: a keyed trail without its key, and a key beside a store whose
/// trail is unkeyed again (an older copy put back).
pub(crate) fn key_for_store(
    conn: &Connection,
    sqlite_path: &Path,
) -> Result<(AuditKey, Option<NewKey>), StoreError> {
    let path = AuditKey::path_beside(sqlite_path);
    let new = new_key_path(&path);
    let keyed = table_exists(conn, "audit_head")?;
    let rows: i64 = if table_exists(conn, "audit")? {
        conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?
    } else {
        0
    };
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    if exists(&path) {
        if !keyed && rows > 0 {
            return Err(StoreError::AuditKey {
                path,
                reason: "exists, but the store's audit trail is not chained under a key: the \
                         store was replaced by or rolled back to an older copy"
                    .into(),
            });
        }
        return Ok((AuditKey::load(&path)?, None));
    }
    if keyed {
        if exists(&new) {
            // The upgrade committed, the rename did not happen.
            let key = AuditKey::load(&new)?;
            NewKey { new, path }.commit()?;
            return Ok((key, None));
        }
        return Err(StoreError::AuditKey {
            path,
            reason: "is missing, and the store's audit trail is chained under it: restore it \
                     from the backup of the data folder"
                .into(),
        });
    }
    if exists(&new) {
        std::fs::remove_file(&new).map_err(|e| StoreError::AuditKey {
            path: new.clone(),
            reason: format!("is left from a failed upgrade and cannot be removed: {e}"),
        })?;
    }
    let key = AuditKey::create(&new)?;
    Ok((key, Some(NewKey { new, path })))
}

fn new_key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// A key written for an upgrade, not yet in its place.
#[derive(Debug)]
pub(crate) struct NewKey {
    new: PathBuf,
    path: PathBuf,
}

impl NewKey {
    /// Puts the key in its place (the upgrade committed).
    pub(crate) fn commit(self) -> Result<(), StoreError> {
        std::fs::rename(&self.new, &self.path).map_err(|e| StoreError::AuditKey {
            path: self.path.clone(),
            reason: format!(
                "cannot be moved into place from {}: {e}",
                self.new.display()
            ),
        })
    }

    /// Removes the key (the upgrade failed).
    pub(crate) fn discard(self) {
        if let Err(e) = std::fs::remove_file(&self.new) {
            tracing::warn!(path = %self.new.display(), "cannot remove an unused audit key: {e}");
        }
    }
}

impl AuditKey {
    /// The key an upgrade to the keyed chain re-chains under: the one
    /// [`key_for_store`] just wrote beside the store at `sqlite_path`.
    pub(crate) fn for_upgrade(sqlite_path: &Path) -> Result<AuditKey, StoreError> {
        let path = AuditKey::path_beside(sqlite_path);
        let new = new_key_path(&path);
        if std::fs::symlink_metadata(&new).is_ok() {
            AuditKey::load(&new)
        } else {
            AuditKey::load(&path)
        }
    }
}

// ---- the chain ----------------------------------------------------------------------------

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The tag in front of every entry MAC: names the encoding.
const ENTRY_TAG: &[u8] = b"watchdesk audit entry v1";
/// The tag in front of the head's MAC.
const HEAD_TAG: &[u8] = b"watchdesk audit head v1";

fn put(mac: &mut Hmac<Sha256>, field: &[u8]) {
    mac.update(&(field.len() as u64).to_be_bytes());
    mac.update(field);
}

/// The fields of an entry in MAC order (after `prev_hash`, id and time).
pub struct MacFields<'a> {
    pub user: &'a [u8],
    pub role: &'a [u8],
    pub action: &'a [u8],
    pub target: &'a [u8],
    pub source: &'a [u8],
    pub outcome: &'a [u8],
}

/// The chained MAC of one entry: HMAC-SHA256 under `key` of the tag,
/// `prev_hash`, id, time (µs) and the fields, each length-prefixed; hex.
pub fn entry_mac(key: &AuditKey, prev_hash: &[u8], id: i64, time_us: i64, f: &MacFields) -> String {
    let mut mac = key.mac();
    put(&mut mac, ENTRY_TAG);
    put(&mut mac, prev_hash);
    put(&mut mac, &id.to_be_bytes());
    put(&mut mac, &time_us.to_be_bytes());
    for field in [f.user, f.role, f.action, f.target, f.source, f.outcome] {
        put(&mut mac, field);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The head's MAC over what it claims.
fn head_mac(key: &AuditKey, h: &Head) -> String {
    let mut mac = key.mac();
    put(&mut mac, HEAD_TAG);
    put(&mut mac, &h.entries.to_be_bytes());
    put(&mut mac, &h.last_id.to_be_bytes());
    put(&mut mac, h.last_mac.as_bytes());
    put(&mut mac, &h.unverified_from.to_be_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The chain's anchor: the one row of `audit_head`.
#[derive(Debug, Clone, PartialEq)]
struct Head {
    entries: i64,
    last_id: i64,
    last_mac: String,
    /// The first entry the upgrade to the keyed chain found broken in the
    /// old chain (0: none); verification reports it for ever.
    unverified_from: i64,
}

fn read_head(conn: &Connection) -> Result<Option<(Head, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT entries, last_id, last_mac, unverified_from, mac FROM audit_head WHERE one = 1",
            [],
            |r| {
                Ok((
                    Head {
                        entries: r.get(0)?,
                        last_id: r.get(1)?,
                        last_mac: r.get(2)?,
                        unverified_from: r.get(3)?,
                    },
                    r.get(4)?,
                ))
            },
        )
        .optional()?)
}

fn write_head(conn: &Connection, key: &AuditKey, h: &Head) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_head (one, entries, last_id, last_mac, unverified_from, mac)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(one) DO UPDATE SET entries = ?1, last_id = ?2, last_mac = ?3,
             unverified_from = ?4, mac = ?5",
    )?
    .execute(params![
        h.entries,
        h.last_id,
        h.last_mac,
        h.unverified_from,
        head_mac(key, h)
    ])?;
    Ok(())
}

/// A text as its bytes (NULL as none, a number as its digits).
fn bytes_of(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Null => Vec::new(),
        ValueRef::Integer(i) => i.to_string().into_bytes(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Text(t) | ValueRef::Blob(t) => t.to_vec(),
    }
}

/// One stored row, as the MAC sees it.
struct StoredRow {
    id: i64,
    /// `None` when the stored time is not an integer (tampered).
    time_us: Option<i64>,
    /// user, role, action, target, source, outcome.
    fields: [Vec<u8>; 6],
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl StoredRow {
    const SELECT: &'static str = "SELECT id, time_us, user, role, action, target, source, \
                                  outcome, prev_hash, hash FROM audit ORDER BY id";

    fn read(r: &rusqlite::Row<'_>) -> Result<StoredRow, StoreError> {
        let time_us = match r.get_ref(1)? {
            ValueRef::Integer(us) => Some(us),
            _ => None,
        };
        Ok(StoredRow {
            id: r.get(0)?,
            time_us,
            fields: [2usize, 3, 4, 5, 6, 7].map(|i| r.get_ref(i).map(bytes_of).unwrap_or_default()),
            prev_hash: r.get_ref(8).map(bytes_of)?,
            hash: r.get_ref(9).map(bytes_of)?,
        })
    }

    fn mac(&self, key: &AuditKey, prev_hash: &[u8]) -> Option<String> {
        let [user, role, action, target, source, outcome] = &self.fields;
        Some(entry_mac(
            key,
            prev_hash,
            self.id,
            self.time_us?,
            &MacFields {
                user,
                role,
                action,
                target,
                source,
                outcome,
            },
        ))
    }
}

/// Cuts `s` to [`MAX_FIELD_CHARS`] characters, the last one [`CUT_MARK`].
pub fn bounded(s: &str) -> String {
    match s.char_indices().nth(MAX_FIELD_CHARS) {
        None => s.to_owned(),
        Some(_) => {
            let mut cut: String = s.chars().take(MAX_FIELD_CHARS - 1).collect();
            cut.push(CUT_MARK);
            cut
        }
    }
}

/// One thing to audit. `user` is the name given (also for a failed
/// sign-in), `source` the peer address. Every string is cut to
/// [`MAX_FIELD_CHARS`] when written.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub user: String,
    pub role: Option<Role>,
    pub action: String,
    pub target: String,
    pub source: String,
    pub outcome: String,
}

impl AuditRecord {
    fn new(actor: &Actor, action: &str, target: &str, outcome: &str) -> AuditRecord {
        AuditRecord {
            user: actor.username.clone(),
            role: actor.role,
            action: action.to_owned(),
            target: target.to_owned(),
            source: actor.source.clone(),
            outcome: outcome.to_owned(),
        }
    }

    fn bounded(&self) -> AuditRecord {
        AuditRecord {
            user: bounded(&self.user),
            role: self.role,
            action: bounded(&self.action),
            target: bounded(&self.target),
            source: bounded(&self.source),
            outcome: bounded(&self.outcome),
        }
    }
}

/// Appends one entry on `conn` (inside the caller's transaction, when it
/// has one), chained to the head, and moves the head; returns the entry.
/// Refuses (an error) when the head is missing or does not match its MAC or
/// the newest row.
pub fn append_on(
    conn: &Connection,
    key: &AuditKey,
    rec: &AuditRecord,
    now: Timestamp,
) -> Result<AuditEntry, StoreError> {
    let rec = rec.bounded();
    let (head, stored_mac) = read_head(conn)?.ok_or_else(|| {
        StoreError::Audit("the audit head is missing: verify the audit trail".into())
    })?;
    let last: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let last = last.unwrap_or((0, GENESIS_HASH.to_owned()));
    if stored_mac != head_mac(key, &head) || last != (head.last_id, head.last_mac.clone()) {
        return Err(StoreError::Audit(
            "the audit head does not match the trail (rows removed or edited): verify the audit trail"
                .into(),
        ));
    }
    let id = head.last_id + 1;
    let role = rec.role.map(Role::as_str);
    let t_us = time_us(now);
    let hash = entry_mac(
        key,
        head.last_mac.as_bytes(),
        id,
        t_us,
        &MacFields {
            user: rec.user.as_bytes(),
            role: role.unwrap_or("").as_bytes(),
            action: rec.action.as_bytes(),
            target: rec.target.as_bytes(),
            source: rec.source.as_bytes(),
            outcome: rec.outcome.as_bytes(),
        },
    );
    conn.prepare_cached(
        "INSERT INTO audit (id, time_us, user, role, action, target, source, outcome, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        id,
        t_us,
        rec.user,
        role,
        rec.action,
        rec.target,
        rec.source,
        rec.outcome,
        head.last_mac,
        hash
    ])?;
    write_head(
        conn,
        key,
        &Head {
            entries: head.entries + 1,
            last_id: id,
            last_mac: hash.clone(),
            unverified_from: head.unverified_from,
        },
    )?;
    Ok(AuditEntry {
        id: id.max(0) as u64,
        time: now,
        user: rec.user,
        role: rec.role,
        action: rec.action,
        target: rec.target,
        source: rec.source,
        outcome: rec.outcome,
        prev_hash: head.last_mac,
        hash,
    })
}

/// Appends one entry in a transaction of its own, under the store's key.
/// `now` is the entry's time, from the site's clock.
pub fn append(store: &Store, rec: &AuditRecord, now: Timestamp) -> Result<AuditEntry, StoreError> {
    let rec = rec.clone();
    let key = store.audit_key().clone();
    store.write_blocking(move |conn| {
        let tx = conn.transaction()?;
        let entry = append_on(&tx, &key, &rec, now)?;
        tx.commit()?;
        Ok(entry)
    })
}

/// Re-chains every row under `key` from the genesis and writes the head
/// (for the upgrade to the keyed chain, inside its transaction).
/// `unverified_from` is the first row the old chain did not vouch for.
pub(crate) fn rechain(
    conn: &Connection,
    key: &AuditKey,
    unverified_from: Option<u64>,
) -> Result<(), StoreError> {
    let rows: Vec<StoredRow> = {
        let mut stmt = conn.prepare(StoredRow::SELECT)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(StoredRow::read(r)?);
        }
        out
    };
    let mut update = conn.prepare("UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1")?;
    let mut prev = GENESIS_HASH.to_owned();
    for row in &rows {
        let hash = row.mac(key, prev.as_bytes()).ok_or_else(|| {
            StoreError::Corrupt(format!("audit row {} has no integer time", row.id))
        })?;
        update.execute(params![row.id, prev, hash])?;
        prev = hash;
    }
    write_head(
        conn,
        key,
        &Head {
            entries: rows.len() as i64,
            last_id: rows.last().map_or(0, |r| r.id),
            last_mac: prev,
            unverified_from: unverified_from.map_or(0, |i| i.min(i64::MAX as u64) as i64),
        },
    )
}

/// The old, unkeyed chain (schema versions 1 to 3):
/// `sha256_hex(prev_hash + "\x1f" + id, time, user, role, action, target,
/// source, outcome joined by "\x1f")`. Only the upgrade reads it.
pub(crate) fn verify_unkeyed(conn: &Connection) -> Result<AuditVerification, StoreError> {
    let time_column = if conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? < 2
    {
        "time"
    } else {
        "time_us"
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT id, {time_column}, user, role, action, target, source, outcome, prev_hash, hash
         FROM audit ORDER BY id"
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
        let prev_hash = String::from_utf8_lossy(&bytes_of(r.get_ref(8)?)).into_owned();
        let hash = String::from_utf8_lossy(&bytes_of(r.get_ref(9)?)).into_owned();
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        let fields = [
            id.to_string().into_bytes(),
            audit_hashed_time(r.get_ref(1)?).into_bytes(),
            bytes_of(r.get_ref(2)?),
            bytes_of(r.get_ref(3)?),
            bytes_of(r.get_ref(4)?),
            bytes_of(r.get_ref(5)?),
            bytes_of(r.get_ref(6)?),
            bytes_of(r.get_ref(7)?),
        ];
        for field in &fields {
            h.update(b"\x1f");
            h.update(field);
        }
        if prev_hash != expected_prev || hex::encode(h.finalize()) != hash {
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

fn not_keyed() -> StoreError {
    StoreError::Audit(
        "this store's audit trail is not chained under a key (a store of an older schema, which \
         the site upgrades when it opens it, or one whose audit head was removed)"
            .into(),
    )
}

/// Recomputes the whole keyed chain on `conn` under `key`, and checks the
/// head against the newest row. A store without a head (not upgraded to the
/// keyed chain, or its head removed) is an error, never a pass.
pub fn verify(conn: &Connection, key: &AuditKey) -> Result<AuditVerification, StoreError> {
    if !table_exists(conn, "audit_head")? {
        return Err(not_keyed());
    }
    let mut stmt = conn.prepare(StoredRow::SELECT)?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS_HASH.as_bytes().to_vec();
    let mut entries = 0u64;
    let mut last_id = 0i64;
    let mut first_bad: Option<u64> = None;
    while let Some(r) = rows.next()? {
        let row = StoredRow::read(r)?;
        entries += 1;
        last_id = row.id;
        if first_bad.is_none() {
            let good = row.prev_hash == expected_prev
                && row
                    .mac(key, &expected_prev)
                    .is_some_and(|m| m.as_bytes() == row.hash.as_slice());
            if !good {
                first_bad = Some(row.id.max(0) as u64);
            }
        }
        expected_prev = row.hash;
    }
    let head_bad = match read_head(conn)? {
        None => true,
        Some((head, mac)) => {
            if head.unverified_from > 0 {
                let from = head.unverified_from as u64;
                first_bad = Some(first_bad.map_or(from, |b| b.min(from)));
            }
            mac != head_mac(key, &head)
                || head.entries != entries as i64
                || head.last_id != last_id
                || head.last_mac.as_bytes() != expected_prev.as_slice()
        }
    };
    if head_bad {
        // The newest row is what the head vouches for: the one after the
        // last row when rows were removed from the end.
        let at = (last_id.max(0) as u64).saturating_add(1);
        first_bad = Some(first_bad.map_or(at, |b| b.min(at)));
    }
    Ok(AuditVerification {
        ok: first_bad.is_none(),
        entries,
        first_bad,
    })
}

/// Recomputes the chain of a live store under its key.
pub fn verify_store(store: &Store) -> Result<AuditVerification, StoreError> {
    let key = store.audit_key().clone();
    store.read_blocking(move |conn| verify(conn, &key))
}

/// Verifies the audit trail of a site's SQLite file, opened read-only,
/// under the key beside it (for `watchdesk site verify-audit`).
pub fn verify_audit_file(sqlite_path: &Path) -> Result<AuditVerification, SiteError> {
    verify_audit_file_with_key(sqlite_path, &AuditKey::path_beside(sqlite_path))
}

/// [`verify_audit_file`] with the key read from `key_path`.
pub fn verify_audit_file_with_key(
    sqlite_path: &Path,
    key_path: &Path,
) -> Result<AuditVerification, SiteError> {
    if !sqlite_path.is_file() {
        return Err(SiteError::NoDatabase(sqlite_path.to_owned()));
    }
    let at = |source: StoreError| SiteError::Database {
        path: sqlite_path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(sqlite_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| at(e.into()))?;
    if !table_exists(&conn, "audit_head").map_err(at)? {
        return Err(at(not_keyed()));
    }
    let key = AuditKey::load(key_path).map_err(at)?;
    verify(&conn, &key).map_err(at)
}

// ---- the service -------------------------------------------------------------------------

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

    /// Writes an entry, best effort, for what needs no refusal (a refused
    /// call, a sign-in, an outcome that already happened): a failure is
    /// logged here and the entry is `None`.
    pub fn record(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Option<AuditEntry> {
        match self.try_record(actor, action, target, outcome) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(action, "cannot write the audit trail: {e:#}");
                None
            }
        }
    }

    /// Writes an entry before a world-changing action; an error (503
    /// `unavailable`) means the caller must not act.
    pub fn try_record(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Result<AuditEntry, CoreError> {
        let rec = AuditRecord::new(actor, action, target, outcome);
        append(&self.store, &rec, self.clock.now())
            .map_err(|e| CoreError::Store(StoreError::AuditWrite(Box::new(e))))
    }

    /// The write of an entry, to run inside the transaction of the change it
    /// audits (both or neither); its error is [`StoreError::AuditWrite`].
    pub fn writer(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> impl FnOnce(&Connection) -> Result<AuditEntry, StoreError> + Send + 'static {
        let rec = AuditRecord::new(actor, action, target, outcome);
        let key = self.store.audit_key().clone();
        let now = self.clock.now();
        move |conn| {
            append_on(conn, &key, &rec, now).map_err(|e| StoreError::AuditWrite(Box::new(e)))
        }
    }

    /// Completes the entry `pending` (written before the action) with how
    /// the action ended, as a new entry: `entry N: RESULT`. Best effort: the
    /// action already happened.
    pub fn complete(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        pending: u64,
        result: &str,
    ) -> Option<AuditEntry> {
        self.record(actor, action, target, &format!("entry {pending}: {result}"))
    }

    /// Searches the trail.
    pub fn search(&self, q: &AuditQuery) -> Result<Page<AuditEntry>, CoreError> {
        Ok(search(&self.store, q)?)
    }

    /// Recomputes the chain under the key.
    pub fn verify(&self) -> Result<AuditVerification, CoreError> {
        Ok(verify_store(&self.store)?)
    }
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

    /// A store with `n` entries of varied fields.
    fn store_with(n: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        for i in 0..n {
            let mut r = rec(
                if i % 2 == 0 { "operator" } else { "admin" },
                "door.command",
                &format!("ok {i}"),
            );
            if i == 1 {
                r.role = None;
            }
            append(&store, &r, Utc::now()).unwrap();
        }
        (dir, store)
    }

    fn verify_path(store: &Store) -> AuditVerification {
        verify_audit_file(store.path()).unwrap()
    }

    const OK3: AuditVerification = AuditVerification {
        ok: true,
        entries: 3,
        first_bad: None,
    };

    #[test]
    fn chain_verifies_under_the_key_and_links_entries() {
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
        let first = append(&store, &rec("operator", "door.command", "ok"), Utc::now()).unwrap();
        assert_eq!(first.prev_hash, GENESIS_HASH);
        let second = append(
            &store,
            &rec("ghost", "session.sign_in", "denied"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(second.prev_hash, first.hash);
        assert_eq!((first.id, second.id), (1, 2));
        let ok = verify_store(&store).unwrap();
        assert_eq!(
            ok,
            AuditVerification {
                ok: true,
                entries: 2,
                first_bad: None
            }
        );
        assert_eq!(verify_path(&store), ok);
    }

    #[test]
    fn editing_any_field_of_any_row_is_detected() {
        let (_dir, store) = store_with(3);
        assert_eq!(verify_store(&store).unwrap(), OK3);
        let key = store.audit_key().clone();
        let mut conn = Connection::open(store.path()).unwrap();
        let columns = [
            ("time_us", "time_us + 1"),
            ("user", "user || 'x'"),
            (
                "role",
                "CASE WHEN role IS NULL THEN 'admin' ELSE 'viewer' END",
            ),
            ("action", "action || 'x'"),
            ("target", "target || 'x'"),
            ("source", "source || 'x'"),
            ("outcome", "outcome || 'x'"),
            (
                "prev_hash",
                "iif(substr(prev_hash, 1, 1) = 'f', 'e', 'f') || substr(prev_hash, 2)",
            ),
            (
                "hash",
                "iif(substr(hash, 1, 1) = 'f', 'e', 'f') || substr(hash, 2)",
            ),
        ];
        for id in 1..=3i64 {
            for (column, edit) in columns {
                let tx = conn.transaction().unwrap();
                let changed = tx
                    .execute(
                        &format!("UPDATE audit SET {column} = {edit} WHERE id = ?1"),
                        [id],
                    )
                    .unwrap();
                assert_eq!(changed, 1);
                let v = verify(&tx, &key).unwrap();
                assert!(!v.ok, "an edit of {column} in row {id} passed");
                assert_eq!(v.first_bad, Some(id as u64), "{column} in row {id}");
                tx.rollback().unwrap();
            }
        }
        assert_eq!(verify(&conn, &key).unwrap(), OK3);
    }

    #[test]
    fn deleting_the_newest_rows_is_detected() {
        let (_dir, store) = store_with(3);
        let conn = Connection::open(store.path()).unwrap();
        conn.execute("DELETE FROM audit WHERE id = 3", []).unwrap();
        assert_eq!(
            verify_store(&store).unwrap(),
            AuditVerification {
                ok: false,
                entries: 2,
                first_bad: Some(3)
            }
        );
        // Moving the head back by hand does not help: its MAC needs the key.
        let (last_mac,): (String,) = conn
            .query_row("SELECT hash FROM audit WHERE id = 2", [], |r| {
                Ok((r.get(0)?,))
            })
            .unwrap();
        conn.execute(
            "UPDATE audit_head SET entries = 2, last_id = 2, last_mac = ?1",
            [last_mac],
        )
        .unwrap();
        assert_eq!(verify_store(&store).unwrap().first_bad, Some(3));
        // Nor does removing the head.
        conn.execute("DELETE FROM audit_head", []).unwrap();
        assert_eq!(verify_store(&store).unwrap().first_bad, Some(3));
        // And the site refuses to chain onto a head that does not match.
        let err = append(&store, &rec("a", "x", "y"), Utc::now()).unwrap_err();
        assert!(err.to_string().contains("audit head"), "{err}");

        // A row deleted in the middle breaks the chain there.
        let (_dir2, store2) = store_with(3);
        Connection::open(store2.path())
            .unwrap()
            .execute("DELETE FROM audit WHERE id = 2", [])
            .unwrap();
        assert_eq!(verify_store(&store2).unwrap().first_bad, Some(3));
        // An emptied trail too.
        let (_dir3, store3) = store_with(3);
        Connection::open(store3.path())
            .unwrap()
            .execute("DELETE FROM audit", [])
            .unwrap();
        assert_eq!(verify_store(&store3).unwrap().first_bad, Some(1));
    }

    /// Rewrites every row's chain value with `mac(prev, row)`, and the head
    /// with `head`, as someone with write access to the database would.
    fn forge(
        conn: &Connection,
        mac: impl Fn(&[u8], &StoredRow) -> String,
        head: impl Fn(&Head) -> String,
    ) {
        let rows: Vec<StoredRow> = {
            let mut stmt = conn.prepare(StoredRow::SELECT).unwrap();
            let mut rows = stmt.query([]).unwrap();
            let mut out = Vec::new();
            while let Some(r) = rows.next().unwrap() {
                out.push(StoredRow::read(r).unwrap());
            }
            out
        };
        let mut prev = GENESIS_HASH.to_owned();
        for row in &rows {
            let h = mac(prev.as_bytes(), row);
            conn.execute(
                "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
                params![row.id, prev, h],
            )
            .unwrap();
            prev = h;
        }
        let h = Head {
            entries: rows.len() as i64,
            last_id: rows.last().unwrap().id,
            last_mac: prev,
            unverified_from: 0,
        };
        conn.execute(
            "UPDATE audit_head SET entries = ?1, last_id = ?2, last_mac = ?3, mac = ?4",
            params![h.entries, h.last_id, h.last_mac, head(&h)],
        )
        .unwrap();
    }

    #[test]
    fn a_chain_recomputed_without_the_key_does_not_verify() {
        // Edit a row, then recompute the whole chain and head...
        let edit = |store: &Store| {
            let conn = Connection::open(store.path()).unwrap();
            conn.execute("UPDATE audit SET outcome = 'denied' WHERE id = 2", [])
                .unwrap();
            conn
        };
        // ...under another key: every row is bad from the first.
        let (_d1, store) = store_with(3);
        let conn = edit(&store);
        let other = AuditKey::generate();
        forge(
            &conn,
            |prev, row| row.mac(&other, prev).unwrap(),
            |h| head_mac(&other, h),
        );
        assert_eq!(
            verify_store(&store).unwrap(),
            AuditVerification {
                ok: false,
                entries: 3,
                first_bad: Some(1)
            }
        );
        // ...and the same with the key known to be right, as a control.
        let key = store.audit_key().clone();
        forge(
            &conn,
            |prev, row| row.mac(&key, prev).unwrap(),
            |h| head_mac(&key, h),
        );
        assert_eq!(verify_store(&store).unwrap(), OK3);

        // ...with plain SHA-256 of the same encoding.
        let (_d2, store) = store_with(3);
        let conn = edit(&store);
        let sha = |parts: &[&[u8]]| {
            let mut h = Sha256::new();
            for p in parts {
                h.update((p.len() as u64).to_be_bytes());
                h.update(p);
            }
            hex::encode(h.finalize())
        };
        forge(
            &conn,
            |prev, row| {
                let mut parts: Vec<&[u8]> = vec![ENTRY_TAG, prev];
                let (id, t) = (row.id.to_be_bytes(), row.time_us.unwrap().to_be_bytes());
                parts.push(&id);
                parts.push(&t);
                parts.extend(row.fields.iter().map(Vec::as_slice));
                sha(&parts)
            },
            |h| sha(&[HEAD_TAG, h.last_mac.as_bytes()]),
        );
        assert_eq!(verify_store(&store).unwrap().first_bad, Some(1));

        // ...with the old unkeyed chain (and no head, as before version 4).
        let (_d3, store) = store_with(3);
        let conn = edit(&store);
        forge(
            &conn,
            |prev, row| {
                let mut h = Sha256::new();
                h.update(prev);
                let time =
                    crate::site::store::time_text(time_from_us(row.time_us.unwrap()).unwrap());
                for f in [row.id.to_string().as_bytes(), time.as_bytes()]
                    .into_iter()
                    .chain(row.fields.iter().map(Vec::as_slice))
                {
                    h.update(b"\x1f");
                    h.update(f);
                }
                hex::encode(h.finalize())
            },
            |_| String::new(),
        );
        assert!(
            verify_unkeyed(&conn).unwrap().ok,
            "the forgery is a good old chain"
        );
        assert_eq!(verify_store(&store).unwrap().first_bad, Some(1));
        conn.execute("DROP TABLE audit_head", []).unwrap();
        let err = verify_store(&store).unwrap_err();
        assert!(err.to_string().contains("not chained under a key"), "{err}");
    }

    #[test]
    fn moving_a_character_between_fields_is_detected() {
        let key = AuditKey::generate();
        let f = |user: &'static str, role: &'static str| MacFields {
            user: user.as_bytes(),
            role: role.as_bytes(),
            action: b"a",
            target: b"t",
            source: b"s",
            outcome: b"o",
        };
        assert_ne!(
            entry_mac(&key, b"p", 1, 0, &f("ab", "c")),
            entry_mac(&key, b"p", 1, 0, &f("a", "bc"))
        );
        // The old separator inside user text no longer fakes a boundary.
        assert_ne!(
            entry_mac(&key, b"p", 1, 0, &f("a\x1fb", "")),
            entry_mac(&key, b"p", 1, 0, &f("a", "b"))
        );
        // In the store: the last character of each field moved to the next.
        let (_dir, store) = store_with(3);
        let mut conn = Connection::open(store.path()).unwrap();
        let key = store.audit_key().clone();
        let pairs = [
            ("user", "role"),
            ("action", "target"),
            ("target", "source"),
            ("source", "outcome"),
        ];
        for (a, b) in pairs {
            let tx = conn.transaction().unwrap();
            tx.execute(
                &format!(
                    "UPDATE audit SET {a} = substr({a}, 1, length({a}) - 1),
                         {b} = substr({a}, length({a})) || coalesce({b}, '') WHERE id = 2"
                ),
                [],
            )
            .unwrap();
            assert_eq!(verify(&tx, &key).unwrap().first_bad, Some(2), "{a}/{b}");
            tx.rollback().unwrap();
        }
    }

    #[test]
    fn audited_strings_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 2, 3, 4, 5).unwrap();
        let clock = crate::site::env::SimulatedClock::new(t);
        let trail = AuditTrail::new(Arc::clone(&store), Arc::new(clock));
        let huge = "é".repeat(1 << 20);
        let actor = Actor {
            username: huge.clone(),
            role: None,
            source: huge.clone(),
        };
        let e = trail.record(&actor, &huge, &huge, &huge).unwrap();
        for field in [&e.user, &e.action, &e.target, &e.source, &e.outcome] {
            assert_eq!(field.chars().count(), MAX_FIELD_CHARS);
            assert!(field.ends_with(CUT_MARK));
            assert!(field.starts_with("éé"));
        }
        let stored = trail
            .search(&AuditQuery {
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(stored.items, vec![e]);
        assert!(trail.verify().unwrap().ok);
        assert_eq!(bounded("short"), "short");
        let exact = "x".repeat(MAX_FIELD_CHARS);
        assert_eq!(bounded(&exact), exact);
    }

    #[test]
    fn the_key_is_a_private_file_beside_the_store() {
        let (dir, store) = store_with(1);
        let path = dir.path().join(KEY_FILE);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), KEY_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{:?}", store.audit_key()), "AuditKey(..)");
        assert!(!format!("{store:?}").contains(&hex::encode(&bytes)));
        drop(store);
        // Reopened: the same key, the chain still good.
        let store = Store::open_in(dir.path()).unwrap();
        assert!(verify_store(&store).unwrap().ok);
        drop(store);

        // A short key is refused, naming the file.
        std::fs::write(&path, &bytes[..16]).unwrap();
        let err = Store::open_in(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("audit.key") && err.contains("16 bytes"),
            "{err}"
        );
        // A missing key of a keyed trail is refused, not replaced.
        std::fs::remove_file(&path).unwrap();
        let err = Store::open_in(dir.path()).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
        assert!(!path.exists());
        let err = verify_audit_file(&dir.path().join("site.sqlite")).unwrap_err();
        assert!(err.to_string().contains("audit.key"), "{err}");
        // The file can be given explicitly.
        let elsewhere = dir.path().join("backup.key");
        std::fs::write(&elsewhere, &bytes).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let loose = std::fs::Permissions::from_mode(0o644);
            std::fs::set_permissions(&elsewhere, loose).unwrap();
            let err = verify_audit_file_with_key(&dir.path().join("site.sqlite"), &elsewhere)
                .unwrap_err();
            assert!(err.to_string().contains("readable by others"), "{err}");
            std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(
            verify_audit_file_with_key(&dir.path().join("site.sqlite"), &elsewhere)
                .unwrap()
                .ok
        );
        // A key beside a store whose trail is unkeyed again is refused.
        std::fs::copy(&elsewhere, &path).unwrap();
        let conn = Connection::open(dir.path().join("site.sqlite")).unwrap();
        conn.execute_batch("DROP TABLE audit_head; PRAGMA user_version = 3;")
            .unwrap();
        drop(conn);
        let err = Store::open_in(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not chained under a key"), "{err}");
    }

    #[test]
    fn a_failed_audit_write_is_an_unavailable_error() {
        let (_dir, store) = store_with(1);
        let store = Arc::new(store);
        Connection::open(store.path())
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit
                 BEGIN SELECT RAISE(ABORT, 'audit disk gone'); END;",
            )
            .unwrap();
        let trail = AuditTrail::new(Arc::clone(&store), Arc::new(crate::site::env::RealClock));
        let err = trail
            .try_record(&Actor::system(), "x", "y", PENDING)
            .unwrap_err();
        assert_eq!(err.kind(), crate::domain::ErrorKind::Unavailable);
        assert!(err.to_string().contains("audit disk gone"), "{err}");
        assert!(trail.record(&Actor::system(), "x", "y", "z").is_none());
        assert_eq!(verify_store(&store).unwrap().entries, 1);
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
            .complete(
                &Actor::system(),
                actions::REQUEST_EXPIRE,
                "req-2",
                e.id,
                "ok",
            )
            .unwrap();
        assert_eq!(e2.time, t + chrono::Duration::seconds(60));
        assert_eq!(e2.prev_hash, e.hash);
        assert_eq!(e2.outcome, format!("entry {}: ok", e.id));
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

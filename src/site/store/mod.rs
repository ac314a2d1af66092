//! The site's SQLite store (`data_dir/site.sqlite`, WAL): the event log, the
//! audit trail, sessions, door commands, credential state overrides, access
//! requests, and cardholders with their credentials.
//!
//! Threads: all SQLite work runs on two threads of the store's own, never on
//! an async worker: `store-writer` owns the one writing connection and
//! `store-reader` a read-only one (WAL lets it read while the writer writes).
//! Each takes jobs from a channel, one at a time, in order; a job holds no
//! lock but its connection's. A write that returned is seen by every later
//! read.
//!
//! Two ways in:
//! - the sync methods (`insert_events`, `session`, ...) send the job and
//!   BLOCK the calling thread until it is done. They keep the signatures the
//!   site was written against. New code must not call them from async code:
//!   use the `_async` variants, or [`Store::write`] / [`Store::read`] with
//!   a closure, which wait without blocking the runtime.
//! - [`Store::with_writer`] / [`Store::with_reader`] lend the connection to
//!   the CALLING thread (between two jobs) for closures that borrow from the
//!   caller and so cannot be sent; for compatibility only.
//!
//! A job must not call back into its `Store` (it would wait on itself). The
//! store cannot free a caller from a lock it holds while it waits: callers
//! that hold a lock should use the async variants after releasing it.
//!
//! Schema: versioned migrations (`store/migrations.rs`), `user_version` as the
//! version; every time is integer microseconds since 1970 UTC ([`time_us`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod bookmarks;
mod migrations;
mod ops;
mod people;
pub mod recordings;
#[cfg(test)]
mod upgrade_tests;
mod views;
mod worker;

pub use self::worker::Pending;
use self::worker::Worker;

pub use self::people::Person;

use crate::site::audit::AuditKey;

use crate::domain::{
    AccessRequest, Cardholder, CardholderId, CommandId, CommandInfo, CommandState, CredentialId,
    CredentialState, ErrorKind, Event, Page, RequestId, RequestOutcome, Role, Seq, Timestamp,
};

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored row cannot be read: {0}")]
    Corrupt(String),
    #[error(
        "the store has schema version {found}, newer than this build, which knows versions up to \
         {known}: open it with a newer watchdesk"
    )]
    TooNew { found: i64, known: i64 },
    #[error("{0} already exists or is taken")]
    Conflict(String),
    #[error("no such {0}")]
    NotFound(String),
    #[error("the store's {0} thread dropped the job (it panicked, or the store is closing)")]
    Gone(&'static str),
    #[error("cannot start the store's {role} thread: {source}")]
    Thread {
        role: &'static str,
        source: std::io::Error,
    },
    #[error("upgrading the store to schema version {to} ({what}): {source}")]
    Migration {
        to: i64,
        what: &'static str,
        source: Box<StoreError>,
    },
    #[error("the audit key {}: {reason}", .path.display())]
    AuditKey { path: PathBuf, reason: String },
    #[error("audit trail: {0}")]
    Audit(String),
    /// The audit entry of a world-changing action could not be written, so
    /// the action was not done.
    #[error("the audit trail cannot be written, so nothing was done: {0}")]
    AuditWrite(Box<StoreError>),
}

impl StoreError {
    /// The kind of failure, for the API's answer.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::AuditWrite(_) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

type Result<T> = std::result::Result<T, StoreError>;

pub use self::migrations::SCHEMA_VERSION;

/// A time as text: RFC 3339, microseconds, `Z`. The store keeps times as
/// [`time_us`]; this text is what the old audit hash chain covered (so it
/// must never change: the upgrade to the keyed chain checks it), and what
/// version 1 stores held.
pub fn time_text(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A time as the store keeps it: integer microseconds since 1970 (UTC).
pub fn time_us(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

/// Reads a time kept by [`time_us`].
pub fn time_from_us(us: i64) -> Result<Timestamp> {
    DateTime::<Utc>::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Corrupt(format!("time {us} µs is out of range")))
}

/// Parses a time written by [`time_text`].
pub fn parse_time_text(s: &str) -> Result<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

/// The text the old (unkeyed, before schema 4) audit hash chain covered for
/// a stored audit time of either encoding: [`time_text`] of the
/// microseconds, or the version-1 text as written. Anything else comes back
/// as it is, so the chain breaks there. Only the upgrade to schema 4 reads it.
pub fn audit_hashed_time(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Integer(us) => match time_from_us(us) {
            Ok(t) => time_text(t),
            Err(_) => us.to_string(),
        },
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Blob(b) => hex::encode(b),
        ValueRef::Null => String::new(),
    }
}

/// The wire name of a unit-like enum (`"lock"`, `"disabled"`...).
pub(crate) fn enum_text<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn enum_parse<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::Corrupt(format!("{s:?}: {e}")))
}

/// Filters of an event search. `limit` is the page size.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub door: Option<String>,
    pub cardholder: Option<String>,
    pub credential: Option<String>,
    pub type_name: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only events with a smaller seq (the next page).
    pub before: Option<Seq>,
    pub limit: usize,
}

/// A stored session, found by the sha256 of its token.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub username: String,
    pub role: Role,
    pub expires: Timestamp,
    pub revoked: bool,
    /// When the session was last used (written at most every so often).
    pub last_used: Timestamp,
}

/// How long an idempotency key holds: a reuse within it answers with the
/// first command, a reuse after it is a new command (site clock).
pub const IDEMPOTENCY_KEY_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The idempotency-key scope of the keys the site makes itself (such as
/// `access-request:<id>`), apart from every client's.
pub const SITE_KEY_SCOPE: &str = "site";

/// The idempotency-key scope of a user's commands.
pub fn user_key_scope(username: &str) -> String {
    format!("user:{username}")
}

/// A stored door command.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRow {
    pub info: CommandInfo,
    /// Where its key is unique: [`user_key_scope`] or [`SITE_KEY_SCOPE`].
    pub scope: String,
    pub idempotency_key: String,
    pub user: String,
    pub created: Timestamp,
}

/// What inserting a command did.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandInsert {
    /// A new command: actuate it.
    Inserted,
    /// The idempotency key was used before, by this command.
    Existing(CommandRow),
}

/// A stored access request and how it ended, if it has.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub request: AccessRequest,
    pub outcome: Option<RequestOutcome>,
}

/// The SQLite store. Cheap to share behind an `Arc`; dropping the last one
/// lets queued jobs finish and closes the connections.
pub struct Store {
    path: PathBuf,
    /// The audit chain's key, from beside the SQLite file.
    audit_key: AuditKey,
    writer: Worker,
    reader: Worker,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_millis(5000))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating when missing) `data_dir/site.sqlite`.
    pub fn open_in(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_owned(),
            source,
        })?;
        Store::open(&data_dir.join("site.sqlite"))
    }

    /// Opens (creating when missing) the store at `path`, upgrading an older
    /// schema; a store newer than this build is refused ([`StoreError::TooNew`]).
    /// The audit key is read from beside it (created for a store whose audit
    /// trail is not keyed yet; see [`crate::site::audit`]).
    pub fn open(path: &Path) -> Result<Store> {
        let mut writer = open_connection(path)?;
        let (audit_key, new_key) = crate::site::audit::key_for_store(&writer, path)?;
        let migrated = migrations::migrate(&mut writer);
        match (migrated, new_key) {
            (Ok(_), Some(new_key)) => new_key.commit()?,
            (Ok(_), None) => {}
            (Err(e), new_key) => {
                if let Some(new_key) = new_key {
                    new_key.discard();
                }
                return Err(e);
            }
        }
        let reader = open_connection(path)?;
        reader.pragma_update(None, "query_only", true)?;
        Ok(Store {
            path: path.to_owned(),
            audit_key,
            writer: Worker::spawn("writer", writer)?,
            reader: Worker::spawn("reader", reader)?,
        })
    }

    /// The SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The audit chain's key.
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    /// Runs `f` on the writer thread, which no other write interleaves
    /// (e.g. the audit trail's chained append, which reads then writes); the
    /// task waits without blocking the runtime.
    pub async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.writer.call(f).await
    }

    /// Runs `f` on the reader thread (read-only connection).
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.reader.call(move |c| f(c)).await
    }

    /// [`Store::write`] that blocks the calling thread until done (for sync
    /// code; never from async code).
    pub fn write_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.writer.blocking(f)
    }

    /// [`Store::read`] that blocks the calling thread until done.
    pub fn read_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.reader.blocking(move |c| f(c))
    }

    /// Runs `f` with the writer connection on the CALLING thread, between two
    /// jobs of the writer thread. Compatibility for closures that borrow:
    /// new code uses [`Store::write`] or [`Store::write_blocking`].
    pub fn with_writer<R>(&self, f: impl FnOnce(&mut Connection) -> Result<R>) -> Result<R> {
        self.writer.lend(f)
    }

    /// Runs `f` with the reader connection on the CALLING thread (see
    /// [`Store::with_writer`]).
    pub fn with_reader<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        self.reader.lend(|c| f(c))
    }

    // ---- events ---------------------------------------------------------

    /// The highest stored seq, 0 when the log is empty.
    pub fn last_seq(&self) -> Result<Seq> {
        self.writer.blocking(|c| ops::last_seq(c))
    }

    /// [`Store::last_seq`] for async code.
    pub async fn last_seq_async(&self) -> Result<Seq> {
        self.writer.call(|c| ops::last_seq(c)).await
    }

    /// Stores events (already numbered) in one transaction.
    pub fn insert_events(&self, events: &[Event]) -> Result<()> {
        let rows = ops::event_rows(events)?;
        self.writer.blocking(move |c| ops::insert_events(c, &rows))
    }

    /// Queues `events` for the writer thread and returns at once. Once they
    /// are committed (or refused), `then(stored)` runs on the writer thread,
    /// in queue order: the event log broadcasts from there, so broadcast
    /// order is store order and nothing is broadcast before it is stored.
    pub fn queue_events(
        &self,
        events: &[Event],
        then: impl FnOnce(bool) + Send + 'static,
    ) -> Result<Pending<()>> {
        let rows = ops::event_rows(events)?;
        self.writer.queue(move |c| {
            let r = ops::insert_events(c, &rows);
            then(r.is_ok());
            r
        })
    }

    /// [`Store::insert_events`] for async code.
    pub async fn insert_events_async(&self, events: &[Event]) -> Result<()> {
        let rows = ops::event_rows(events)?;
        self.writer
            .call(move |c| ops::insert_events(c, &rows))
            .await
    }

    /// Events with `after < seq <= upto`, oldest first, at most `limit`.
    pub fn events_after(&self, after: Seq, upto: Seq, limit: usize) -> Result<Vec<Event>> {
        self.reader
            .blocking(move |c| ops::events_after(c, after, upto, limit))
    }

    /// [`Store::events_after`] for async code.
    pub async fn events_after_async(
        &self,
        after: Seq,
        upto: Seq,
        limit: usize,
    ) -> Result<Vec<Event>> {
        self.reader
            .call(move |c| ops::events_after(c, after, upto, limit))
            .await
    }

    /// Every seq in the log, in order.
    pub fn event_seqs(&self) -> Result<Vec<Seq>> {
        self.reader.blocking(|c| ops::event_seqs(c))
    }

    /// Searches the log, newest first. `next_before` is set when more match.
    pub fn search_events(&self, q: &EventQuery) -> Result<Page<Event>> {
        let q = q.clone();
        self.reader.blocking(move |c| ops::search_events(c, &q))
    }

    /// [`Store::search_events`] for async code.
    pub async fn search_events_async(&self, q: EventQuery) -> Result<Page<Event>> {
        self.reader.call(move |c| ops::search_events(c, &q)).await
    }

    // ---- sessions -------------------------------------------------------

    /// Stores a new session under the sha256 (hex) of its token, used `now`.
    pub fn insert_session(
        &self,
        token_sha256: &str,
        username: &str,
        role: Role,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        let (token, user) = (token_sha256.to_owned(), username.to_owned());
        self.writer
            .blocking(move |c| ops::insert_session(c, &token, &user, role, expires, now))
    }

    /// The session stored under this token hash, if any.
    pub fn session(&self, token_sha256: &str) -> Result<Option<SessionRow>> {
        let token = token_sha256.to_owned();
        self.reader.blocking(move |c| ops::session(c, &token))
    }

    /// Records that a session was used at `at`.
    pub fn touch_session(&self, token_sha256: &str, at: Timestamp) -> Result<()> {
        let token = token_sha256.to_owned();
        self.writer
            .blocking(move |c| ops::touch_session(c, &token, at))
    }

    /// Revokes a session. True when one was live.
    pub fn revoke_session(&self, token_sha256: &str) -> Result<bool> {
        let token = token_sha256.to_owned();
        self.writer
            .blocking(move |c| ops::revoke_session(c, &token))
    }

    /// Revokes every live session of `username` (of every user when
    /// `None`), except the one whose token hash is `except`; returns how
    /// many.
    pub fn revoke_sessions(&self, username: Option<&str>, except: Option<&str>) -> Result<usize> {
        let (user, except) = (username.map(str::to_owned), except.map(str::to_owned));
        self.writer
            .blocking(move |c| ops::revoke_sessions(c, user.as_deref(), except.as_deref()))
    }

    /// Forgets sessions that are revoked, expired by `now`, or last used at
    /// or before `idle_since`; returns how many.
    pub fn purge_sessions(&self, now: Timestamp, idle_since: Timestamp) -> Result<usize> {
        self.writer
            .blocking(move |c| ops::purge_sessions(c, now, idle_since))
    }

    // ---- commands -------------------------------------------------------

    /// Records a new pending command, unless its idempotency key was used
    /// in its scope within [`IDEMPOTENCY_KEY_TTL`] before `row.created`:
    /// then answers with that earlier command.
    pub fn insert_command(&self, row: &CommandRow) -> Result<CommandInsert> {
        let row = row.clone();
        let key_since = row
            .created
            .checked_sub_signed(IDEMPOTENCY_KEY_TTL)
            .unwrap_or(Timestamp::MIN_UTC);
        self.writer
            .blocking(move |c| ops::insert_command(c, &row, key_since))
    }

    /// Forgets the finished commands made before `before` (with them their
    /// idempotency keys); returns how many.
    pub fn purge_commands(&self, before: Timestamp) -> Result<usize> {
        self.writer
            .blocking(move |c| ops::purge_commands(c, before))
    }

    /// [`Store::insert_command`] and, for a new command, its audit entry
    /// (`audit`, e.g. [`crate::site::audit::AuditTrail::writer`]) in one
    /// transaction: when the entry cannot be written, the command is not
    /// recorded either.
    pub fn insert_command_audited<A: Send + 'static>(
        &self,
        row: &CommandRow,
        audit: impl FnOnce(&Connection) -> Result<A> + Send + 'static,
    ) -> Result<(CommandInsert, Option<A>)> {
        let row = row.clone();
        let key_since = row
            .created
            .checked_sub_signed(IDEMPOTENCY_KEY_TTL)
            .unwrap_or(Timestamp::MIN_UTC);
        self.writer.blocking(move |c| {
            let tx = c.transaction()?;
            let inserted = ops::insert_command(&tx, &row, key_since)?;
            let entry = match inserted {
                CommandInsert::Inserted => Some(audit(&tx)?),
                CommandInsert::Existing(_) => None,
            };
            tx.commit()?;
            Ok((inserted, entry))
        })
    }

    /// A command by id.
    pub fn command(&self, id: &CommandId) -> Result<Option<CommandRow>> {
        let id = id.clone();
        self.reader.blocking(move |c| ops::command(c, &id))
    }

    /// Records how a command ended.
    pub fn finish_command(
        &self,
        id: &CommandId,
        state: CommandState,
        reason: Option<&str>,
    ) -> Result<()> {
        let (id, reason) = (id.clone(), reason.map(str::to_owned));
        self.writer
            .blocking(move |c| ops::finish_command(c, &id, state, reason.as_deref()))
    }

    /// Marks commands left pending by an earlier run as failed; returns them.
    pub fn fail_stale_commands(&self, reason: &str) -> Result<Vec<CommandRow>> {
        let reason = reason.to_owned();
        self.writer
            .blocking(move |c| ops::fail_stale_commands(c, &reason))
    }

    // ---- credentials ----------------------------------------------------

    /// Remembers a credential's state, so it survives a restart.
    pub fn set_credential_state(
        &self,
        id: &CredentialId,
        state: CredentialState,
        by: &str,
        at: Timestamp,
    ) -> Result<()> {
        let (id, by) = (id.clone(), by.to_owned());
        self.writer
            .blocking(move |c| ops::set_credential_state(c, &id, state, &by, at))
    }

    /// Every stored credential state override.
    pub fn credential_states(&self) -> Result<Vec<(CredentialId, CredentialState)>> {
        self.reader.blocking(|c| ops::credential_states(c))
    }

    // ---- access requests ------------------------------------------------

    /// Stores a newly opened request.
    pub fn insert_request(&self, request: &AccessRequest) -> Result<()> {
        let request = request.clone();
        self.writer
            .blocking(move |c| ops::insert_request(c, &request))
    }

    /// Records how a request ended.
    pub fn resolve_request(
        &self,
        id: &RequestId,
        outcome: RequestOutcome,
        by: Option<&str>,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        let (id, by, reason) = (id.clone(), by.map(str::to_owned), reason.map(str::to_owned));
        self.writer.blocking(move |c| {
            ops::resolve_request(c, &id, outcome, by.as_deref(), reason.as_deref(), at)
        })
    }

    /// A request by id, open or resolved.
    pub fn request(&self, id: &RequestId) -> Result<Option<RequestRow>> {
        let id = id.clone();
        self.reader.blocking(move |c| ops::request(c, &id))
    }

    /// Requests not yet answered, oldest first.
    pub fn open_requests(&self) -> Result<Vec<AccessRequest>> {
        self.reader.blocking(|c| ops::open_requests(c))
    }

    // ---- people ---------------------------------------------------------

    /// Every stored cardholder with their credentials, by name.
    pub fn cardholders(&self) -> Result<Vec<Cardholder>> {
        self.reader.blocking(|c| people::list(c))
    }

    /// [`Store::cardholders`] for async code.
    pub async fn cardholders_async(&self) -> Result<Vec<Cardholder>> {
        self.reader.call(|c| people::list(c)).await
    }

    /// One stored cardholder with their credentials.
    pub fn cardholder(&self, id: &CardholderId) -> Result<Option<Cardholder>> {
        let id = id.clone();
        self.reader.blocking(move |c| people::get(c, &id))
    }

    /// [`Store::cardholder`] for async code.
    pub async fn cardholder_async(&self, id: CardholderId) -> Result<Option<Cardholder>> {
        self.reader.call(move |c| people::get(c, &id)).await
    }

    /// Stores a new cardholder with their credentials. An id already stored,
    /// or a credential held by someone else, is [`StoreError::Conflict`].
    pub fn insert_cardholder(&self, cardholder: &Cardholder) -> Result<()> {
        let ch = cardholder.clone();
        self.writer.blocking(move |c| people::insert(c, &ch))
    }

    /// [`Store::insert_cardholder`] for async code.
    pub async fn insert_cardholder_async(&self, cardholder: Cardholder) -> Result<()> {
        self.writer
            .call(move |c| people::insert(c, &cardholder))
            .await
    }

    /// Replaces a stored cardholder's name, department, photo flag and
    /// credentials (in the order given). A missing one is
    /// [`StoreError::NotFound`].
    pub fn update_cardholder(&self, cardholder: &Cardholder) -> Result<()> {
        let ch = cardholder.clone();
        self.writer.blocking(move |c| people::update(c, &ch))
    }

    /// [`Store::update_cardholder`] for async code.
    pub async fn update_cardholder_async(&self, cardholder: Cardholder) -> Result<()> {
        self.writer
            .call(move |c| people::update(c, &cardholder))
            .await
    }

    /// Stores the cardholders (from config) not stored yet, by id; returns
    /// how many. Stored ones are kept as they are: they may have been edited.
    pub fn seed_people(&self, people: &[Cardholder]) -> Result<usize> {
        let list = people.to_vec();
        self.writer.blocking(move |c| people::seed(c, &list))
    }

    /// [`Store::seed_people`] for async code.
    pub async fn seed_people_async(&self, people: Vec<Cardholder>) -> Result<usize> {
        self.writer.call(move |c| people::seed(c, &people)).await
    }

    /// Every stored person (cardholder, credentials, schedule), by name.
    pub fn people(&self) -> Result<Vec<Person>> {
        self.reader.blocking(|c| people::list_people(c))
    }

    /// One stored person.
    pub fn person(&self, id: &CardholderId) -> Result<Option<Person>> {
        let id = id.clone();
        self.reader.blocking(move |c| people::get_person(c, &id))
    }

    /// Stores a new person in one transaction. An id already stored, or a
    /// credential held by someone else, is [`StoreError::Conflict`].
    pub fn insert_person(&self, person: &Person) -> Result<()> {
        let p = person.clone();
        self.writer.blocking(move |c| people::insert_person(c, &p))
    }

    /// Replaces a stored person's fields, credentials and schedule in one
    /// transaction. A missing one is [`StoreError::NotFound`].
    pub fn update_person(&self, person: &Person) -> Result<()> {
        let p = person.clone();
        self.writer.blocking(move |c| people::update_person(c, &p))
    }

    /// Stores the people (from config) not stored yet, by id, with their
    /// schedules; returns how many. Stored ones are kept as they are.
    pub fn seed_people_with_schedules(&self, people: &[Person]) -> Result<usize> {
        let list = people.to_vec();
        self.writer.blocking(move |c| people::seed_people(c, &list))
    }

    /// Sets a held credential's state (and who changed it, when) in one
    /// transaction; returns its holder. One nobody holds is
    /// [`StoreError::NotFound`].
    pub fn set_held_credential_state(
        &self,
        id: &CredentialId,
        state: CredentialState,
        by: &str,
        at: Timestamp,
    ) -> Result<CardholderId> {
        let (id, by) = (id.clone(), by.to_owned());
        self.writer
            .blocking(move |c| people::set_held_credential_state(c, &id, state, &by, at))
    }

    /// The name of the schedule a stored cardholder's cards follow, if set.
    pub fn cardholder_schedule(&self, id: &CardholderId) -> Result<Option<String>> {
        let id = id.clone();
        self.reader.blocking(move |c| people::schedule(c, &id))
    }

    /// Sets (or clears) the schedule a stored cardholder's cards follow.
    pub fn set_cardholder_schedule(&self, id: &CardholderId, schedule: Option<&str>) -> Result<()> {
        let (id, schedule) = (id.clone(), schedule.map(str::to_owned));
        self.writer
            .blocking(move |c| people::set_schedule(c, &id, schedule.as_deref()))
    }

    // ---- shared views ---------------------------------------------------

    /// Every shared camera view.
    pub async fn shared_views_async(&self) -> Result<Vec<crate::domain::SharedView>> {
        self.read(views::shared_views).await
    }

    /// Creates or replaces a shared view; false when it is new and `limit`
    /// views are stored already.
    pub fn put_shared_view(&self, view: &crate::domain::SharedView, limit: usize) -> Result<bool> {
        let v = view.clone();
        self.writer
            .blocking(move |c| views::put_shared_view(c, &v, limit))
    }

    /// Deletes a shared view; false when there was none.
    pub fn delete_shared_view(&self, id: &crate::domain::ViewId) -> Result<bool> {
        let id = id.clone();
        self.writer
            .blocking(move |c| views::delete_shared_view(c, &id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DoorAction, DoorId};
    use crate::domain::{EventKind, RequestId};

    fn ev(seq: Seq, kind: EventKind) -> Event {
        Event {
            seq,
            time: Utc::now(),
            kind,
        }
    }

    fn forced(door: &str) -> EventKind {
        EventKind::DoorForcedOpen {
            door: DoorId::new(door),
        }
    }

    #[test]
    fn events_append_search_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        assert_eq!(store.last_seq().unwrap(), 0);
        let mut events = Vec::new();
        for seq in 1..=25 {
            let door = if seq % 2 == 0 { "d-even" } else { "d-odd" };
            events.push(ev(seq, forced(door)));
        }
        events.push(ev(26, EventKind::TestFlood { n: 1 }));
        store.insert_events(&events).unwrap();
        assert_eq!(store.last_seq().unwrap(), 26);
        assert_eq!(store.event_seqs().unwrap(), (1..=26).collect::<Vec<_>>());

        // Page through one door's events, newest first.
        let mut q = EventQuery {
            door: Some("d-even".into()),
            limit: 5,
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = store.search_events(&q).unwrap();
            assert!(page.items.len() <= 5);
            seen.extend(page.items.iter().map(|e| e.seq));
            match page.next_before {
                Some(b) => q.before = Some(b),
                None => break,
            }
        }
        assert_eq!(seen, (1..=12).rev().map(|i| i * 2).collect::<Vec<_>>());

        let flood = store
            .search_events(&EventQuery {
                type_name: Some("test.flood".into()),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(flood.items.len(), 1);
        assert_eq!(flood.items[0], events[25]);
        assert_eq!(flood.next_before, None);

        let replay = store.events_after(20, 24, 100).unwrap();
        assert_eq!(
            replay.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![21, 22, 23, 24]
        );
        assert_eq!(store.events_after(0, 26, 3).unwrap().len(), 3);
    }

    #[test]
    fn time_range_filters_events() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let events: Vec<Event> = (1..=10)
            .map(|i| Event {
                seq: i,
                time: t0 + chrono::Duration::minutes(i as i64),
                kind: forced("d"),
            })
            .collect();
        store.insert_events(&events).unwrap();
        let page = store
            .search_events(&EventQuery {
                from: Some(t0 + chrono::Duration::minutes(3)),
                to: Some(t0 + chrono::Duration::minutes(5)),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            page.items.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![5, 4, 3]
        );
    }

    #[test]
    fn seq_and_state_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_in(dir.path()).unwrap();
            store
                .insert_events(&[ev(1, forced("a")), ev(2, forced("b"))])
                .unwrap();
            store
                .set_credential_state(
                    &CredentialId::new("b-1"),
                    CredentialState::Disabled,
                    "admin",
                    Utc::now(),
                )
                .unwrap();
        }
        let store = Store::open_in(dir.path()).unwrap();
        assert_eq!(store.last_seq().unwrap(), 2);
        assert_eq!(
            store.credential_states().unwrap(),
            vec![(CredentialId::new("b-1"), CredentialState::Disabled)]
        );
    }

    #[test]
    fn command_idempotency_key_is_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let row = CommandRow {
            info: CommandInfo {
                id: CommandId::new("c1"),
                door: DoorId::new("d"),
                action: DoorAction::Unlock,
                state: CommandState::Pending,
                reason: None,
            },
            scope: user_key_scope("operator"),
            idempotency_key: "k1".into(),
            user: "operator".into(),
            created: Utc::now(),
        };
        assert_eq!(store.insert_command(&row).unwrap(), CommandInsert::Inserted);
        let again = CommandRow {
            info: CommandInfo {
                id: CommandId::new("c2"),
                ..row.info.clone()
            },
            ..row.clone()
        };
        match store.insert_command(&again).unwrap() {
            CommandInsert::Existing(first) => assert_eq!(first.info.id, CommandId::new("c1")),
            other => panic!("expected the first command, got {other:?}"),
        }
        store
            .finish_command(&CommandId::new("c1"), CommandState::Completed, None)
            .unwrap();
        let got = store.command(&CommandId::new("c1")).unwrap().unwrap();
        assert_eq!(got.info.state, CommandState::Completed);
        assert!(store.command(&CommandId::new("c2")).unwrap().is_none());
    }

    #[test]
    fn command_keys_are_unique_per_scope_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let t0 = Utc::now();
        let row = |id: &str, scope: &str, at: Timestamp| CommandRow {
            info: CommandInfo {
                id: CommandId::new(id),
                door: DoorId::new("d"),
                action: DoorAction::Access,
                state: CommandState::Pending,
                reason: None,
            },
            scope: scope.to_owned(),
            idempotency_key: "access-request:r1".into(),
            user: "operator".into(),
            created: at,
        };
        let op = user_key_scope("operator");
        let first = row("c1", &op, t0);
        assert_eq!(
            store.insert_command(&first).unwrap(),
            CommandInsert::Inserted
        );
        // The same key in another scope (another user, the site) is another command.
        for (id, scope) in [
            ("c2", user_key_scope("admin")),
            ("c3", SITE_KEY_SCOPE.into()),
        ] {
            assert_eq!(
                store.insert_command(&row(id, &scope, t0)).unwrap(),
                CommandInsert::Inserted,
                "{scope}"
            );
        }
        // Within the key's life the first answers; still pending, even after it.
        let just_before = t0 + IDEMPOTENCY_KEY_TTL - chrono::TimeDelta::microseconds(1);
        let late = t0 + IDEMPOTENCY_KEY_TTL + chrono::TimeDelta::seconds(1);
        for (id, at) in [("c4", just_before), ("c5", late)] {
            match store.insert_command(&row(id, &op, at)).unwrap() {
                CommandInsert::Existing(f) => assert_eq!(f.info.id, first.info.id, "{id}"),
                other => panic!("{id}: expected the first command, got {other:?}"),
            }
        }
        // Finished and past its life: the key is free, the old command forgotten.
        store
            .finish_command(&first.info.id, CommandState::Completed, None)
            .unwrap();
        assert_eq!(
            store.insert_command(&row("c6", &op, late)).unwrap(),
            CommandInsert::Inserted
        );
        assert!(store.command(&first.info.id).unwrap().is_none());
        // The purge forgets finished commands made before the cut only.
        for id in ["c2", "c3"] {
            store
                .finish_command(&CommandId::new(id), CommandState::Failed, Some("x"))
                .unwrap();
        }
        assert_eq!(store.purge_commands(t0).unwrap(), 0);
        let cut = t0 + chrono::TimeDelta::microseconds(1);
        assert_eq!(store.purge_commands(cut).unwrap(), 2);
        assert!(store.command(&CommandId::new("c6")).unwrap().is_some());
    }

    #[test]
    fn sessions_are_revoked_by_user_or_all_and_purged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        // Whole microseconds, as stored.
        let t0 = time_from_us(time_us(Utc::now())).unwrap();
        let hour = chrono::TimeDelta::hours(1);
        for (token, user, used) in [
            ("a1", "alice", t0),
            ("a2", "alice", t0),
            ("b1", "bob", t0),
            ("m1", "admin", t0),
            ("idle", "carol", t0 - hour),
        ] {
            store
                .insert_session(token, user, Role::Operator, t0 + hour, used)
                .unwrap();
        }
        assert_eq!(store.session("a1").unwrap().unwrap().last_used, t0);
        let later = t0 + chrono::TimeDelta::seconds(90);
        store.touch_session("a1", later).unwrap();
        // Never backwards.
        store.touch_session("a1", t0).unwrap();
        assert_eq!(store.session("a1").unwrap().unwrap().last_used, later);

        assert_eq!(store.revoke_sessions(Some("alice"), None).unwrap(), 2);
        assert_eq!(store.revoke_sessions(Some("alice"), None).unwrap(), 0);
        assert!(!store.session("b1").unwrap().unwrap().revoked);
        // Everyone but the caller's own session.
        assert_eq!(store.revoke_sessions(None, Some("m1")).unwrap(), 2);
        assert!(!store.session("m1").unwrap().unwrap().revoked);
        assert!(store.session("b1").unwrap().unwrap().revoked);
        // Revoked ones, expired ones and idle ones go; m1 stays.
        let idle_since = t0 - chrono::TimeDelta::minutes(30);
        assert_eq!(store.purge_sessions(t0, idle_since).unwrap(), 4);
        assert!(store.session("m1").unwrap().is_some());
        assert_eq!(store.purge_sessions(t0 + hour, idle_since).unwrap(), 1);
        assert!(store.session("m1").unwrap().is_none());
    }

    #[test]
    fn sessions_and_requests_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let exp = Utc::now() + chrono::Duration::hours(1);
        store
            .insert_session("abc", "operator", Role::Operator, exp, Utc::now())
            .unwrap();
        let s = store.session("abc").unwrap().unwrap();
        assert_eq!(
            (s.username.as_str(), s.role, s.revoked),
            ("operator", Role::Operator, false)
        );
        assert!(store.revoke_session("abc").unwrap());
        assert!(!store.revoke_session("abc").unwrap());
        assert!(store.session("abc").unwrap().unwrap().revoked);
        assert!(store.session("nope").unwrap().is_none());

        let req = AccessRequest {
            id: RequestId::new("r1"),
            door: DoorId::new("d"),
            access_point: None,
            cardholder: None,
            credential: None,
            reason: "intercom".into(),
            visitor_name: Some("Visitor".into()),
            created: Utc::now(),
            expires: Utc::now(),
        };
        store.insert_request(&req).unwrap();
        assert_eq!(store.open_requests().unwrap(), vec![req.clone()]);
        store
            .resolve_request(
                &req.id,
                RequestOutcome::Denied,
                Some("operator"),
                None,
                Utc::now(),
            )
            .unwrap();
        assert!(store.open_requests().unwrap().is_empty());
        let row = store.request(&req.id).unwrap().unwrap();
        assert_eq!(row.outcome, Some(RequestOutcome::Denied));
    }

    #[test]
    fn sql_runs_on_the_store_threads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        fn name(n: Option<&str>) -> Option<String> {
            n.map(str::to_owned)
        }
        assert_eq!(
            store
                .write_blocking(|_| Ok(name(std::thread::current().name())))
                .unwrap()
                .as_deref(),
            Some("store-writer")
        );
        assert_eq!(
            store
                .read_blocking(|_| Ok(name(std::thread::current().name())))
                .unwrap()
                .as_deref(),
            Some("store-reader")
        );
        // The reader cannot write.
        assert!(
            store
                .read_blocking(|c| Ok(c.execute("DELETE FROM events", [])?))
                .is_err()
        );
    }

    #[test]
    fn a_panicking_job_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let err = store
            .write_blocking(|_| -> Result<()> { panic!("a job that panics") })
            .unwrap_err();
        assert!(matches!(err, StoreError::Gone("writer")), "{err:?}");
        store.insert_events(&[ev(1, forced("a"))]).unwrap();
        assert_eq!(store.last_seq().unwrap(), 1);
    }

    /// On a one-thread runtime, an async store call must leave the runtime
    /// free: the job below finishes only when another task has run.
    #[tokio::test(flavor = "current_thread")]
    async fn async_calls_leave_the_runtime_free() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open_in(dir.path()).unwrap());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let s = store.clone();
        let job = tokio::spawn(async move {
            s.write(move |_| Ok(rx.recv_timeout(Duration::from_secs(10)).is_ok()))
                .await
        });
        tokio::spawn(async move { tx.send(()) });
        assert!(job.await.unwrap().unwrap(), "the other task never ran");

        // The typed async variants.
        store
            .insert_events_async(&[ev(1, forced("a")), ev(2, forced("b"))])
            .await
            .unwrap();
        assert_eq!(store.last_seq_async().await.unwrap(), 2);
        assert_eq!(store.events_after_async(0, 2, 10).await.unwrap().len(), 2);
        let page = store
            .search_events_async(EventQuery {
                door: Some("b".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            page.items.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![2]
        );
        let n = store
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))?))
            .await
            .unwrap();
        assert_eq!(n, 2);
    }
}

/// `cargo test --lib site::store::cost -- --ignored --nocapture`: the time
/// for 10,000 `insert_events` calls of one event each, through the writer
/// thread (sync and async), and on the calling thread under a lock as before
/// the writer thread (`with_writer`, the same SQL), rounds interleaved.
#[cfg(test)]
mod cost {
    use super::*;
    use crate::domain::EventKind;

    const N: u64 = 10_000;

    fn event(seq: Seq) -> Event {
        Event {
            seq,
            time: Utc::now(),
            kind: EventKind::TestFlood { n: seq },
        }
    }

    fn report(what: &str, el: std::time::Duration) {
        println!(
            "store cost: {N} insert_events of one event, {what}: {:.1} ms total, {:.1} µs each",
            el.as_secs_f64() * 1e3,
            el.as_secs_f64() * 1e6 / N as f64
        );
    }

    #[test]
    #[ignore = "a measurement, not a check; run by hand"]
    fn insert_events_one_at_a_time() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for round in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_in(dir.path()).unwrap();
            let t0 = std::time::Instant::now();
            for seq in 1..=N {
                store
                    .with_writer(|c| ops::insert_events(c, &ops::event_rows(&[event(seq)])?))
                    .unwrap();
            }
            report(
                &format!("round {round}, calling thread under a lock (before)"),
                t0.elapsed(),
            );
            assert_eq!(store.last_seq().unwrap(), N);

            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_in(dir.path()).unwrap();
            let t0 = std::time::Instant::now();
            for seq in 1..=N {
                store.insert_events(&[event(seq)]).unwrap();
            }
            report(
                &format!("round {round}, writer thread, sync (after)"),
                t0.elapsed(),
            );
            assert_eq!(store.last_seq().unwrap(), N);

            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_in(dir.path()).unwrap();
            let t0 = std::time::Instant::now();
            rt.block_on(async {
                for seq in 1..=N {
                    store.insert_events_async(&[event(seq)]).await.unwrap();
                }
            });
            report(
                &format!("round {round}, writer thread, async (after)"),
                t0.elapsed(),
            );
            assert_eq!(store.last_seq().unwrap(), N);
        }
    }
}

//! The SQL of the store's tables (all but the people's), one function per
//! statement or transaction, run on the store's threads by [`super::Store`].

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde::de::DeserializeOwned;

use super::{
    CommandInsert, CommandRow, EventQuery, RequestRow, Result, SessionRow, StoreError, enum_parse,
    enum_text, time_from_us, time_us,
};
use crate::domain::{
    AccessRequest, CommandId, CommandInfo, CommandState, CredentialId, CredentialState, DoorAction,
    DoorId, Event, Page, RequestId, RequestOutcome, Role, Seq, Timestamp,
};

// ---- events ---------------------------------------------------------

/// The highest stored seq, 0 when the log is empty.
pub(super) fn last_seq(conn: &Connection) -> Result<Seq> {
    let seq: Option<i64> = conn.query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))?;
    Ok(seq.unwrap_or(0).max(0) as Seq)
}

/// An event as the `events` table holds it, made on the caller's thread
/// (the JSON work stays off the writer thread).
pub(super) struct EventRow {
    seq: i64,
    time_us: i64,
    type_name: &'static str,
    door: Option<String>,
    cardholder: Option<String>,
    credential: Option<String>,
    body: String,
}

/// The rows of `events`.
pub(super) fn event_rows(events: &[Event]) -> Result<Vec<EventRow>> {
    events
        .iter()
        .map(|e| {
            Ok(EventRow {
                seq: e.seq as i64,
                time_us: time_us(e.time),
                type_name: e.kind.type_name(),
                door: e.kind.door().map(|d| d.as_str().to_owned()),
                cardholder: e.kind.cardholder().map(|c| c.as_str().to_owned()),
                credential: e.kind.credential().map(|c| c.as_str().to_owned()),
                body: serde_json::to_string(e)
                    .map_err(|err| StoreError::Corrupt(format!("event {}: {err}", e.seq)))?,
            })
        })
        .collect()
}

/// Stores events (already numbered) in one transaction.
pub(super) fn insert_events(conn: &mut Connection, rows: &[EventRow]) -> Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO events (seq, time_us, type, door, cardholder, credential, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for e in rows {
            stmt.execute(params![
                e.seq,
                e.time_us,
                e.type_name,
                e.door,
                e.cardholder,
                e.credential,
                e.body,
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Events with `after < seq <= upto`, oldest first, at most `limit`.
pub(super) fn events_after(
    conn: &Connection,
    after: Seq,
    upto: Seq,
    limit: usize,
) -> Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT body FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            after.min(i64::MAX as u64) as i64,
            upto.min(i64::MAX as u64) as i64,
            limit as i64
        ],
        |r| r.get::<_, String>(0),
    )?;
    let mut out = Vec::new();
    for body in rows {
        out.push(parse_event(&body?)?);
    }
    Ok(out)
}

/// Every seq in the log, in order.
pub(super) fn event_seqs(conn: &Connection) -> Result<Vec<Seq>> {
    let mut stmt = conn.prepare_cached("SELECT seq FROM events ORDER BY seq")?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    let mut out = Vec::new();
    for s in rows {
        out.push(s?.max(0) as Seq);
    }
    Ok(out)
}

/// Searches the log, newest first. `next_before` is set when more match.
pub(super) fn search_events(conn: &Connection, q: &EventQuery) -> Result<Page<Event>> {
    let mut sql = String::from("SELECT seq, body FROM events WHERE 1=1");
    let mut args: Vec<Value> = Vec::new();
    let mut push = |clause: &str, v: Value| {
        sql.push_str(clause);
        args.push(v);
    };
    if let Some(d) = &q.door {
        push(" AND door = ?", Value::Text(d.clone()));
    }
    if let Some(c) = &q.cardholder {
        push(" AND cardholder = ?", Value::Text(c.clone()));
    }
    if let Some(c) = &q.credential {
        push(" AND credential = ?", Value::Text(c.clone()));
    }
    if let Some(t) = &q.type_name {
        push(" AND type = ?", Value::Text(t.clone()));
    }
    if let Some(f) = q.from {
        push(" AND time_us >= ?", Value::Integer(time_us(f)));
    }
    if let Some(t) = q.to {
        push(" AND time_us <= ?", Value::Integer(time_us(t)));
    }
    if let Some(b) = q.before {
        push(
            " AND seq < ?",
            Value::Integer(b.min(i64::MAX as u64) as i64),
        );
    }
    let limit = q.limit.max(1);
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    args.push(Value::Integer(limit as i64 + 1));

    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut items = Vec::new();
    let mut more = false;
    for row in rows {
        let (_, body) = row?;
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(parse_event(&body)?);
    }
    let next_before = if more {
        items.last().map(|e: &Event| e.seq)
    } else {
        None
    };
    Ok(Page { items, next_before })
}

// ---- sessions -------------------------------------------------------

/// Stores a new session under the sha256 (hex) of its token, used `now`.
pub(super) fn insert_session(
    conn: &Connection,
    token_sha256: &str,
    username: &str,
    role: Role,
    expires: Timestamp,
    now: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sessions (token_sha256, username, role, expires_us, revoked, last_used_us)
         VALUES (?1, ?2, ?3, ?4, 0, ?5)",
    )?
    .execute(params![
        token_sha256,
        username,
        role.as_str(),
        time_us(expires),
        time_us(now)
    ])?;
    Ok(())
}

/// The session stored under this token hash, if any.
pub(super) fn session(conn: &Connection, token_sha256: &str) -> Result<Option<SessionRow>> {
    let row = conn
        .prepare_cached(
            "SELECT username, role, expires_us, revoked, last_used_us
             FROM sessions WHERE token_sha256 = ?1",
        )?
        .query_row(params![token_sha256], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    let Some((username, role, expires_us, revoked, last_used_us)) = row else {
        return Ok(None);
    };
    let role = role
        .parse::<Role>()
        .map_err(|e| StoreError::Corrupt(format!("session role: {e}")))?;
    Ok(Some(SessionRow {
        username,
        role,
        expires: time_from_us(expires_us)?,
        revoked: revoked != 0,
        last_used: time_from_us(last_used_us)?,
    }))
}

/// Records that a session was used at `at`.
pub(super) fn touch_session(conn: &Connection, token_sha256: &str, at: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "UPDATE sessions SET last_used_us = MAX(last_used_us, ?2) WHERE token_sha256 = ?1",
    )?
    .execute(params![token_sha256, time_us(at)])?;
    Ok(())
}

/// Revokes a session. True when one was live.
pub(super) fn revoke_session(conn: &Connection, token_sha256: &str) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE sessions SET revoked = 1 WHERE token_sha256 = ?1 AND revoked = 0")?
        .execute(params![token_sha256])?;
    Ok(n > 0)
}

/// Revokes every live session of `username` (every user's when `None`),
/// except the one under `except`; returns how many.
pub(super) fn revoke_sessions(
    conn: &Connection,
    username: Option<&str>,
    except: Option<&str>,
) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE sessions SET revoked = 1
             WHERE revoked = 0 AND (?1 IS NULL OR username = ?1)
               AND (?2 IS NULL OR token_sha256 != ?2)",
        )?
        .execute(params![username, except])?)
}

/// Forgets sessions that are revoked, expired by `now`, or last used at or
/// before `idle_since`.
pub(super) fn purge_sessions(
    conn: &Connection,
    now: Timestamp,
    idle_since: Timestamp,
) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE revoked != 0 OR expires_us <= ?1 OR last_used_us <= ?2",
        params![time_us(now), time_us(idle_since)],
    )?)
}

// ---- commands -------------------------------------------------------

/// Records a new pending command, unless its idempotency key was used in
/// its scope since `key_since`: then answers with that earlier command. An
/// older command under the key (finished) is forgotten: the key is free.
pub(super) fn insert_command(
    conn: &Connection,
    row: &CommandRow,
    key_since: Timestamp,
) -> Result<CommandInsert> {
    conn.prepare_cached(
        "DELETE FROM commands
         WHERE scope = ?1 AND idempotency_key = ?2 AND created_us < ?3 AND state != ?4",
    )?
    .execute(params![
        row.scope,
        row.idempotency_key,
        time_us(key_since),
        enum_text(&CommandState::Pending)
    ])?;
    let n = conn
        .prepare_cached(
            "INSERT INTO commands
                 (id, scope, idempotency_key, door, action, user, state, reason, created_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(scope, idempotency_key) DO NOTHING",
        )?
        .execute(params![
            row.info.id.as_str(),
            row.scope,
            row.idempotency_key,
            row.info.door.as_str(),
            enum_text(&row.info.action),
            row.user,
            enum_text(&row.info.state),
            row.info.reason,
            time_us(row.created),
        ])?;
    if n == 1 {
        return Ok(CommandInsert::Inserted);
    }
    let existing = conn
        .prepare_cached(&format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE scope = ?1 AND idempotency_key = ?2"
        ))?
        .query_row(params![row.scope, row.idempotency_key], command_from_row)
        .optional()?
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt("command insert conflicted on a missing row".into()))?;
    Ok(CommandInsert::Existing(existing))
}

/// Forgets finished commands made before `before` (their keys are free).
pub(super) fn purge_commands(conn: &Connection, before: Timestamp) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM commands WHERE created_us < ?1 AND state != ?2",
        params![time_us(before), enum_text(&CommandState::Pending)],
    )?)
}

/// A command by id.
pub(super) fn command(conn: &Connection, id: &CommandId) -> Result<Option<CommandRow>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE id = ?1"
        ))?
        .query_row(params![id.as_str()], command_from_row)
        .optional()?;
    row.transpose()
}

/// Records how a command ended.
pub(super) fn finish_command(
    conn: &Connection,
    id: &CommandId,
    state: CommandState,
    reason: Option<&str>,
) -> Result<()> {
    conn.prepare_cached("UPDATE commands SET state = ?2, reason = ?3 WHERE id = ?1")?
        .execute(params![id.as_str(), enum_text(&state), reason])?;
    Ok(())
}

/// Marks commands left pending by an earlier run as failed; returns them.
pub(super) fn fail_stale_commands(conn: &Connection, reason: &str) -> Result<Vec<CommandRow>> {
    let pending = enum_text(&CommandState::Pending);
    let mut stale = Vec::new();
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE state = ?1"
        ))?;
        let rows = stmt.query_map(params![pending], command_from_row)?;
        for r in rows {
            stale.push(r??);
        }
    }
    conn.execute(
        "UPDATE commands SET state = ?1, reason = ?2 WHERE state = ?3",
        params![enum_text(&CommandState::Failed), reason, pending],
    )?;
    Ok(stale)
}

// ---- credentials ----------------------------------------------------

/// Remembers a credential's state, so it survives a restart.
pub(super) fn set_credential_state(
    conn: &Connection,
    id: &CredentialId,
    state: CredentialState,
    by: &str,
    at: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO credential_states (credential, state, changed_us, by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(credential) DO UPDATE SET state = excluded.state,
             changed_us = excluded.changed_us, by = excluded.by",
    )?
    .execute(params![id.as_str(), enum_text(&state), time_us(at), by])?;
    Ok(())
}

/// Every stored credential state override.
pub(super) fn credential_states(conn: &Connection) -> Result<Vec<(CredentialId, CredentialState)>> {
    let mut stmt = conn.prepare("SELECT credential, state FROM credential_states")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, state) = row?;
        out.push((CredentialId::new(id), enum_parse(&state)?));
    }
    Ok(out)
}

// ---- access requests ------------------------------------------------

/// Stores a newly opened request.
pub(super) fn insert_request(conn: &Connection, request: &AccessRequest) -> Result<()> {
    let json = serde_json::to_string(request)
        .map_err(|e| StoreError::Corrupt(format!("request {}: {e}", request.id)))?;
    conn.prepare_cached(
        "INSERT INTO access_requests (id, request, created_us) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![request.id.as_str(), json, time_us(request.created)])?;
    Ok(())
}

/// Records how a request ended.
pub(super) fn resolve_request(
    conn: &Connection,
    id: &RequestId,
    outcome: RequestOutcome,
    by: Option<&str>,
    reason: Option<&str>,
    at: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE access_requests SET outcome = ?2, resolved_by = ?3, reason = ?4, resolved_us = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        id.as_str(),
        enum_text(&outcome),
        by,
        reason,
        time_us(at)
    ])?;
    Ok(())
}

/// A request by id, open or resolved.
pub(super) fn request(conn: &Connection, id: &RequestId) -> Result<Option<RequestRow>> {
    let row = conn
        .prepare_cached("SELECT request, outcome FROM access_requests WHERE id = ?1")?
        .query_row(params![id.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()?;
    let Some((json, outcome)) = row else {
        return Ok(None);
    };
    Ok(Some(RequestRow {
        request: parse_json(&json)?,
        outcome: outcome.as_deref().map(enum_parse).transpose()?,
    }))
}

/// Requests not yet answered, oldest first.
pub(super) fn open_requests(conn: &Connection) -> Result<Vec<AccessRequest>> {
    let mut stmt = conn.prepare(
        "SELECT request FROM access_requests WHERE outcome IS NULL ORDER BY created_us, id",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(parse_json(&json?)?);
    }
    Ok(out)
}

fn parse_event(body: &str) -> Result<Event> {
    parse_json(body)
}

fn parse_json<T: DeserializeOwned>(body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

type RowResult<T> = rusqlite::Result<Result<T>>;

/// The columns [`command_from_row`] reads, in its order.
const COMMAND_COLUMNS: &str =
    "id, scope, idempotency_key, door, action, user, state, reason, created_us";

fn command_from_row(r: &rusqlite::Row<'_>) -> RowResult<CommandRow> {
    let id: String = r.get(0)?;
    let scope: String = r.get(1)?;
    let key: String = r.get(2)?;
    let door: String = r.get(3)?;
    let action: String = r.get(4)?;
    let user: String = r.get(5)?;
    let state: String = r.get(6)?;
    let reason: Option<String> = r.get(7)?;
    let created: i64 = r.get(8)?;
    Ok((|| {
        Ok(CommandRow {
            info: CommandInfo {
                id: CommandId::new(id),
                door: DoorId::new(door),
                action: enum_parse::<DoorAction>(&action)?,
                state: enum_parse::<CommandState>(&state)?,
                reason,
            },
            scope,
            idempotency_key: key,
            user,
            created: time_from_us(created)?,
        })
    })())
}

//! Evidence locks: a hold on the recordings of some cameras over a time
//! range, with who placed it, why, and until when (none: until removed).
//! Retention never deletes a segment a live lock covers
//! ([`super::recorder::retention_pass`]). Placing one is audited, refusals
//! too.

use std::sync::Arc;

use super::audit::{Actor, AuditTrail};
use super::error::CoreError;
use super::store::{Store, recordings};
use crate::config::SiteConfig;
use crate::domain::{CameraId, EvidenceLock, Timestamp};

/// At most this many cameras in one lock.
pub const MAX_LOCK_CAMERAS: usize = 64;
/// At most this many locks on a site.
pub const MAX_LOCKS: usize = 10_000;
/// A reason is 1 to this many characters.
pub const MAX_REASON_CHARS: usize = 500;

/// What a caller asks to lock.
#[derive(Debug, Clone)]
pub struct NewLock {
    pub cameras: Vec<CameraId>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: String,
    pub until: Option<Timestamp>,
}

/// The checks of a new lock, at `now`: known cameras, once each; a range
/// that ends after it starts; a reason; an `until` in the future.
pub fn check(cfg: &SiteConfig, new: &NewLock, now: Timestamp) -> Result<(), CoreError> {
    let bad = |m: String| Err(CoreError::InvalidInput(m));
    check_cameras_and_range(cfg, &new.cameras, new.start, new.end)?;
    let reason = new.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return bad(format!("reason: 1 to {MAX_REASON_CHARS} characters"));
    }
    if new.until.is_some_and(|u| u <= now) {
        return bad("until must be in the future".into());
    }
    Ok(())
}

/// 1 to [`MAX_LOCK_CAMERAS`] known cameras, once each, and a range that
/// ends after it starts (locks and bookmarks alike).
pub fn check_cameras_and_range(
    cfg: &SiteConfig,
    cameras: &[CameraId],
    start: Timestamp,
    end: Timestamp,
) -> Result<(), CoreError> {
    let bad = |m: String| Err(CoreError::InvalidInput(m));
    if cameras.is_empty() || cameras.len() > MAX_LOCK_CAMERAS {
        return bad(format!("cameras: 1 to {MAX_LOCK_CAMERAS}"));
    }
    for (i, c) in cameras.iter().enumerate() {
        if cfg.cameras.iter().all(|k| &k.id != c) {
            return bad(format!("cameras: no camera {c:?}"));
        }
        if cameras[..i].contains(c) {
            return bad(format!("cameras: {c:?} twice"));
        }
    }
    if end <= start {
        return bad("end must be after start".into());
    }
    Ok(())
}

/// Places a lock for `actor`; audited (`evidence.lock`), refusals too.
/// Blocking (the store): call it off the async threads.
pub fn place(
    cfg: &SiteConfig,
    store: &Arc<Store>,
    audit: &AuditTrail,
    actor: &Actor,
    new: NewLock,
    now: Timestamp,
) -> Result<EvidenceLock, CoreError> {
    let target = format!(
        "{}:{}..{}",
        new.cameras
            .iter()
            .map(CameraId::as_str)
            .collect::<Vec<_>>()
            .join(","),
        new.start.to_rfc3339(),
        new.end.to_rfc3339()
    );
    let result = check(cfg, &new, now).and_then(|()| {
        let lock = EvidenceLock {
            id: uuid::Uuid::new_v4().to_string(),
            cameras: new.cameras,
            start: new.start,
            end: new.end,
            by: actor.username.clone(),
            reason: new.reason.trim().to_owned(),
            until: new.until,
        };
        let stored = lock.clone();
        store
            .write_blocking(move |c| {
                let n: i64 =
                    c.query_row("SELECT COUNT(*) FROM evidence_locks", [], |r| r.get(0))?;
                if usize::try_from(n).unwrap_or(usize::MAX) >= MAX_LOCKS {
                    return Ok(false);
                }
                recordings::put_lock(c, &stored)?;
                Ok(true)
            })?
            .then_some(lock)
            .ok_or_else(|| CoreError::Conflict(format!("the site holds {MAX_LOCKS} locks already")))
    });
    let outcome = match &result {
        Ok(lock) => format!("ok: {}", lock.id),
        Err(e) => format!("refused: {e}"),
    };
    audit.record(
        actor,
        super::audit::actions::EVIDENCE_LOCK,
        &target,
        &outcome,
    );
    result
}

/// Removes the lock `id` for `actor` (retention may then delete what it
/// held); audited (`evidence.unlock`), a lock that is not there too.
pub fn remove(store: &Store, audit: &AuditTrail, actor: &Actor, id: &str) -> Result<(), CoreError> {
    let target: String = id.chars().take(64).collect();
    let owned = id.to_owned();
    let result = store
        .write_blocking(move |c| recordings::delete_lock(c, &owned))
        .map_err(CoreError::from)
        .and_then(|found| {
            if found {
                Ok(())
            } else {
                Err(CoreError::NotFound(format!("no evidence lock {target:?}")))
            }
        });
    let outcome = match &result {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("refused: {e}"),
    };
    audit.record(actor, super::audit::actions::EVIDENCE_UNLOCK, id, &outcome);
    result
}

/// Every lock, by id.
pub fn list(store: &Store) -> Result<Vec<EvidenceLock>, CoreError> {
    Ok(store.read_blocking(recordings::locks)?)
}

//! Bookmarks: a named moment in the recordings of some cameras (a time
//! range, a title, a note, its author), placed by anyone who may play
//! recordings, found by words, camera and time. Placing one is audited
//! (`bookmark.create`, refusals too) and announced (`bookmark.added`) so
//! every client's timeline shows it.

use std::sync::Arc;

use super::audit::{Actor, AuditTrail};
use super::error::CoreError;
use super::events::EventLog;
use super::evidence::check_cameras_and_range;
use super::store::Store;
use super::store::bookmarks::{self, BookmarkQuery};
use crate::config::SiteConfig;
use crate::domain::{Bookmark, CameraId, EventKind, Timestamp};

/// At most this many bookmarks on a site.
pub const MAX_BOOKMARKS: usize = 100_000;
pub const MAX_TITLE_CHARS: usize = 120;
pub const MAX_NOTE_CHARS: usize = 2_000;
/// At most this many answers to one search.
pub const MAX_ANSWERS: usize = 500;

/// What a caller asks to bookmark.
#[derive(Debug, Clone)]
pub struct NewBookmark {
    pub cameras: Vec<CameraId>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub title: String,
    pub note: String,
}

fn check(cfg: &SiteConfig, new: &NewBookmark) -> Result<(), CoreError> {
    check_cameras_and_range(cfg, &new.cameras, new.start, new.end)?;
    let title = new.title.trim().chars().count();
    if title == 0 || title > MAX_TITLE_CHARS {
        return Err(CoreError::InvalidInput(format!(
            "title: 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    if new.note.chars().count() > MAX_NOTE_CHARS {
        return Err(CoreError::InvalidInput(format!(
            "note: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(())
}

/// Places a bookmark for `actor` at `now`; audited, announced. Blocking
/// (the store): call it off the async threads.
pub fn place(
    cfg: &SiteConfig,
    store: &Arc<Store>,
    log: &EventLog,
    audit: &AuditTrail,
    actor: &Actor,
    new: NewBookmark,
    now: Timestamp,
) -> Result<Bookmark, CoreError> {
    let target: String = new.title.trim().chars().take(64).collect();
    let result = check(cfg, &new).and_then(|()| {
        let bookmark = Bookmark {
            id: uuid::Uuid::new_v4().to_string(),
            cameras: new.cameras,
            start: new.start,
            end: new.end,
            title: new.title.trim().to_owned(),
            note: new.note,
            by: actor.username.clone(),
            created: now,
        };
        let (_, placed) = log.commit(|| {
            let stored = bookmark.clone();
            let written =
                store.write_blocking(move |c| bookmarks::insert(c, &stored, MAX_BOOKMARKS))?;
            if !written {
                return Err(CoreError::Conflict(format!(
                    "the site holds {MAX_BOOKMARKS} bookmarks already"
                )));
            }
            let kind = EventKind::BookmarkAdded {
                bookmark: bookmark.id.clone(),
                title: bookmark.title.clone(),
                by: bookmark.by.clone(),
            };
            Ok((vec![kind], bookmark))
        })?;
        Ok(placed)
    });
    let outcome = match &result {
        Ok(b) => format!("ok: {}", b.id),
        Err(e) => format!("refused: {e}"),
    };
    audit.record(
        actor,
        super::audit::actions::BOOKMARK_CREATE,
        &target,
        &outcome,
    );
    result
}

/// The bookmarks that match `q` (its limit at most [`MAX_ANSWERS`]).
pub fn search(store: &Store, mut q: BookmarkQuery) -> Result<Vec<Bookmark>, CoreError> {
    q.limit = q.limit.clamp(1, MAX_ANSWERS);
    Ok(store.read_blocking(move |c| bookmarks::search(c, &q))?)
}

//! Bookmarks (schema version 8): the store side of `site::bookmarks`. A
//! bookmark's cameras are kept as a JSON array; the site checks them before
//! it writes.

use rusqlite::{Connection, Transaction, params};

use super::{Result, StoreError, time_from_us, time_us};
use crate::domain::{Bookmark, CameraId, Timestamp};

/// The step to schema version 8.
pub(super) fn v8_bookmarks(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "
CREATE TABLE bookmarks (
    id TEXT PRIMARY KEY,
    cameras TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    title TEXT NOT NULL,
    note TEXT NOT NULL,
    by TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE INDEX bookmarks_by_start ON bookmarks (start_us);
",
    )?;
    Ok(())
}

/// Writes a new bookmark; false (nothing written) when `limit` are stored.
pub fn insert(conn: &Connection, b: &Bookmark, limit: usize) -> Result<bool> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM bookmarks", [], |r| r.get(0))?;
    if usize::try_from(n).unwrap_or(usize::MAX) >= limit {
        return Ok(false);
    }
    let cameras = serde_json::to_string(&b.cameras)
        .map_err(|e| StoreError::Corrupt(format!("bookmark cameras: {e}")))?;
    conn.execute(
        "INSERT INTO bookmarks (id, cameras, start_us, end_us, title, note, by, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            b.id,
            cameras,
            time_us(b.start),
            time_us(b.end),
            b.title,
            b.note,
            b.by,
            time_us(b.created)
        ],
    )?;
    Ok(true)
}

/// What a search asks: words in the title or note, a camera, an overlap
/// with a time range; by start time, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct BookmarkQuery {
    pub text: Option<String>,
    pub camera: Option<CameraId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: usize,
}

/// The bookmarks that match `q`, by start time.
pub fn search(conn: &Connection, q: &BookmarkQuery) -> Result<Vec<Bookmark>> {
    let like = q.text.as_ref().map(|t| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let mut stmt = conn.prepare(
        "SELECT id, cameras, start_us, end_us, title, note, by, created_us FROM bookmarks
         WHERE (?1 IS NULL OR title LIKE ?1 ESCAPE '\\' OR note LIKE ?1 ESCAPE '\\')
           AND (?2 IS NULL OR end_us >= ?2)
           AND (?3 IS NULL OR start_us <= ?3)
         ORDER BY start_us, id",
    )?;
    let rows = stmt.query_map(params![like, q.from.map(time_us), q.to.map(time_us)], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, i64>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, cameras, start, end, title, note, by, created) = row?;
        let cameras: Vec<CameraId> = serde_json::from_str(&cameras)
            .map_err(|e| StoreError::Corrupt(format!("bookmark {id}: cameras: {e}")))?;
        if q.camera.as_ref().is_some_and(|c| !cameras.contains(c)) {
            continue;
        }
        out.push(Bookmark {
            id,
            cameras,
            start: time_from_us(start)?,
            end: time_from_us(end)?,
            title,
            note,
            by,
            created: time_from_us(created)?,
        });
        if out.len() >= q.limit {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;

    #[test]
    fn bookmarks_are_found_by_words_camera_and_time_and_bounded() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        v8_bookmarks(&tx).unwrap();
        tx.commit().unwrap();
        let t = |s: i64| chrono::DateTime::from_timestamp(1_795_341_600 + s, 0).unwrap();
        let mark = |id: &str, cam: &str, at: i64, title: &str| Bookmark {
            id: id.into(),
            cameras: vec![CameraId::new(cam)],
            start: t(at),
            end: t(at + 10),
            title: title.into(),
            note: "50% sure".into(),
            by: "operator".into(),
            created: t(1000),
        };
        assert!(insert(&conn, &mark("a", "cam-1", 0, "Tailgating at the lobby"), 3).unwrap());
        assert!(insert(&conn, &mark("b", "cam-2", 100, "Forced server room"), 3).unwrap());
        assert!(insert(&conn, &mark("c", "cam-1", 200, "Delivery"), 3).unwrap());
        assert!(!insert(&conn, &mark("d", "cam-1", 300, "One too many"), 3).unwrap());
        let ids = |q: BookmarkQuery| {
            search(&conn, &BookmarkQuery { limit: 10, ..q })
                .unwrap()
                .into_iter()
                .map(|b| b.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(BookmarkQuery::default()), ["a", "b", "c"]);
        let text = |s: &str| BookmarkQuery {
            text: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(ids(text("lobby")), ["a"]);
        assert_eq!(ids(text("FORCED")), ["b"], "case-insensitive");
        assert_eq!(
            ids(text("0%")),
            ["a", "b", "c"],
            "a % is a character, not a wildcard"
        );
        assert!(ids(text("%x")).is_empty());
        let cam = BookmarkQuery {
            camera: Some(CameraId::new("cam-1")),
            ..Default::default()
        };
        assert_eq!(ids(cam), ["a", "c"]);
        let range = BookmarkQuery {
            from: Some(t(105)),
            to: Some(t(250)),
            ..Default::default()
        };
        assert_eq!(ids(range), ["b", "c"]);
        assert_eq!(
            search(
                &conn,
                &BookmarkQuery {
                    limit: 1,
                    ..Default::default()
                }
            )
            .unwrap()
            .len(),
            1
        );
    }
}

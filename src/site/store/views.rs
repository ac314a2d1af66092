//! Shared camera views (schema version 6): the store side of
//! `site::views`. A view's tiles are kept as a JSON array of camera ids
//! (null for a paged tile); the site checks them before it writes.

use rusqlite::{Connection, Transaction, params};

use super::{Result, StoreError, time_from_us, time_us};
use crate::domain::{CameraId, SharedView, ViewId};

/// The step to schema version 6.
pub(super) fn v6_shared_views(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "
CREATE TABLE shared_views (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    layout TEXT NOT NULL,
    cameras TEXT NOT NULL,
    by TEXT NOT NULL,
    updated_us INTEGER NOT NULL
);
",
    )?;
    Ok(())
}

/// Every shared view, by name then id.
pub(super) fn shared_views(conn: &Connection) -> Result<Vec<SharedView>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, layout, cameras, by, updated_us FROM shared_views ORDER BY name, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, layout, cameras, by, updated_us) = row?;
        let cameras: Vec<Option<CameraId>> = serde_json::from_str(&cameras)
            .map_err(|e| StoreError::Corrupt(format!("shared view {id}: cameras: {e}")))?;
        out.push(SharedView {
            id: ViewId::new(id),
            name,
            layout,
            cameras,
            by,
            updated_at: time_from_us(updated_us)?,
        });
    }
    Ok(out)
}

/// Writes `view` in place of the one with its id; false when there was
/// none and `limit` are stored already (nothing is written then).
pub(super) fn put_shared_view(
    conn: &mut Connection,
    view: &SharedView,
    limit: usize,
) -> Result<bool> {
    let tx = conn.transaction()?;
    let exists: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM shared_views WHERE id = ?1)",
        params![view.id.as_str()],
        |r| r.get(0),
    )?;
    let count: i64 = tx.query_row("SELECT COUNT(*) FROM shared_views", [], |r| r.get(0))?;
    if !exists && count as usize >= limit {
        return Ok(false);
    }
    let cameras = serde_json::to_string(&view.cameras)
        .map_err(|e| StoreError::Corrupt(format!("shared view cameras: {e}")))?;
    tx.execute(
        "INSERT INTO shared_views (id, name, layout, cameras, by, updated_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET name = ?2, layout = ?3, cameras = ?4, by = ?5, updated_us = ?6",
        params![
            view.id.as_str(),
            view.name,
            view.layout,
            cameras,
            view.by,
            time_us(view.updated_at)
        ],
    )?;
    tx.commit()?;
    Ok(true)
}

/// Deletes the view `id`; false when there was none.
pub(super) fn delete_shared_view(conn: &mut Connection, id: &ViewId) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM shared_views WHERE id = ?1",
        params![id.as_str()],
    )? > 0)
}

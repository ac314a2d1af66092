//! Shared camera views: a supervisor publishes a view (a layout and the
//! camera of each tile) under an id, every client lists and loads it. Each
//! change is audited (written before it happens) and announced on the
//! event stream (`view.published`, `view.removed`), so every connected
//! client reads the list again at once. At most
//! [`MAX_SHARED_VIEWS`](crate::domain::MAX_SHARED_VIEWS) views.

use super::audit::{Actor, PENDING, actions};
use super::core::SiteCore;
use super::error::CoreError;
use crate::domain::{EventKind, MAX_SHARED_VIEWS, SharedView, SharedViewBody, ViewId};

/// A view id: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn check_view_id(id: &str) -> Result<(), CoreError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(CoreError::InvalidInput(
            "id: 1 to 64 letters, digits, '-', '_' or '.'".into(),
        ))
    }
}

/// Writes the audit row before `change`, its outcome after.
fn audited<T>(
    core: &SiteCore,
    actor: &Actor,
    action: &str,
    id: &str,
    change: impl FnOnce() -> Result<T, CoreError>,
) -> Result<T, CoreError> {
    let trail = core.audit_trail();
    let pending = trail.try_record(actor, action, id, PENDING)?;
    let result = change();
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("failed: {e}"),
    };
    trail.complete(actor, action, id, pending.id, &outcome);
    result
}

/// Creates or replaces the view `id` (blocking: call it off the runtime).
/// A body that is not right, or a camera the site does not have, is
/// invalid input; a new view past the limit is a conflict.
pub fn publish(
    core: &SiteCore,
    actor: &Actor,
    id: &str,
    body: SharedViewBody,
) -> Result<SharedView, CoreError> {
    check_view_id(id)?;
    let name = body.check().map_err(CoreError::InvalidInput)?;
    let cameras = core.cameras().cameras();
    if let Some(unknown) = body
        .cameras
        .iter()
        .flatten()
        .find(|c| !cameras.iter().any(|k| &k.id == *c))
    {
        return Err(CoreError::InvalidInput(format!(
            "cameras: the site has no camera {unknown:?}"
        )));
    }
    let view = SharedView {
        id: ViewId::new(id),
        name,
        layout: body.layout,
        cameras: body.cameras,
        by: actor.username.clone(),
        updated_at: core.env().clock.now(),
    };
    audited(core, actor, actions::VIEW_PUBLISH, id, || {
        let (_, view) = core.events().commit(|| {
            if !core.store().put_shared_view(&view, MAX_SHARED_VIEWS)? {
                return Err(CoreError::Conflict(format!(
                    "the site keeps at most {MAX_SHARED_VIEWS} shared views"
                )));
            }
            let kind = EventKind::ViewPublished {
                view: view.id.clone(),
                name: view.name.clone(),
            };
            Ok((vec![kind], view))
        })?;
        Ok(view)
    })
}

/// Deletes the view `id` (blocking: call it off the runtime); not found
/// when there is none.
pub fn delete(core: &SiteCore, actor: &Actor, id: &str) -> Result<(), CoreError> {
    check_view_id(id)?;
    let view = ViewId::new(id);
    audited(core, actor, actions::VIEW_DELETE, id, || {
        core.events().commit(|| {
            if !core.store().delete_shared_view(&view)? {
                return Err(CoreError::NotFound(format!("no shared view {id:?}")));
            }
            Ok((vec![EventKind::ViewRemoved { view: view.clone() }], ()))
        })?;
        Ok(())
    })
}

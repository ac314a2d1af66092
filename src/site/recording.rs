//! Recording on the site, wired: at start a recovery pass finishes every
//! segment a crash left in the writing state, then each camera's main
//! stream is recorded from its ingest (a tap on the stream's fan-out: the
//! access units the relay gets, never decoded, never transcoded); a task
//! runs retention every minute and raises `storage.low` when the disk's
//! free space falls under the threshold (once, until it recovers), then
//! deletes the oldest unlocked segments of every camera until there is
//! room again.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::core::SiteCore;
use super::media::{Media, StreamName};
use super::recorder::{
    Recorder, RecorderConfig, RetentionPolicy, make_room, recover, retention_pass, storage_status,
};
use crate::domain::{EventKind, StreamKind};

/// How often retention and the free-space check run.
pub const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// The running recorders.
#[derive(Default)]
pub struct Recorders {
    all: Mutex<Vec<Recorder>>,
    root: Mutex<Option<PathBuf>>,
}

impl Recorders {
    /// The recordings folder, once recording runs.
    pub fn root(&self) -> Option<PathBuf> {
        self.root
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many streams are being recorded.
    pub fn len(&self) -> usize {
        self.all
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends every recorder's last segment (each waits at most 10 s) on a
    /// thread of its own: the caller does not block.
    pub fn stop(&self) {
        let all = std::mem::take(&mut *self.all.lock().unwrap_or_else(PoisonError::into_inner));
        if all.is_empty() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("recorders-stop".into())
            .spawn(move || {
                for r in all {
                    r.stop();
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot stop the recorders on a thread: {e}");
        }
    }
}

/// Starts recording every camera's main stream from `media` (when the
/// site's `[recording]` says so), after a recovery pass; returns the
/// retention task. Blocking (the recovery pass reads and remuxes files):
/// call it from a blocking context.
pub fn start(
    core: &Arc<SiteCore>,
    media: &Arc<Media>,
    data_dir: &std::path::Path,
) -> Option<JoinHandle<()>> {
    let cfg = &core.config().recording;
    if !cfg.enabled {
        return None;
    }
    let root = cfg.dir_in(data_dir);
    if let Err(e) = std::fs::create_dir_all(&root) {
        tracing::error!(root = %root.display(), "no recording: cannot create the folder: {e}");
        return None;
    }
    match recover(&root, core.store()) {
        Ok(report) => {
            if !report.recovered.is_empty()
                || !report.discarded.is_empty()
                || !report.failed.is_empty()
            {
                tracing::info!(
                    recovered = report.recovered.len(),
                    discarded = report.discarded.len(),
                    failed = report.failed.len(),
                    "recovered the segments a stop left unfinished"
                );
            }
        }
        Err(e) => tracing::error!("recording recovery failed: {e}"),
    }
    let recorders = core.recorders();
    *recorders
        .root
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(root.clone());
    let streams = core.config().cameras.iter().flat_map(|camera| {
        // The sub stream too where the camera's own limits ask for it and
        // it has one of its own.
        let has_sub = match &camera.source {
            crate::config::CameraSource::Demo { .. } => true,
            crate::config::CameraSource::Rtsp { sub_url, .. } => sub_url.is_some(),
        };
        let sub = (has_sub && cfg.keep_for(&camera.id).record_sub)
            .then_some((StreamKind::Sub, StreamName::Sub));
        std::iter::once((StreamKind::Main, StreamName::Main))
            .chain(sub)
            .map(move |(kind, name)| (camera, kind, name))
    });
    for (camera, kind, name) in streams {
        let mut rc = RecorderConfig::new(&root, camera.id.clone(), kind);
        rc.segment = Duration::from_secs(u64::from(cfg.segment_secs));
        match Recorder::start(rc, Arc::clone(core.store()), Arc::clone(&core.env().clock)) {
            Ok(recorder) => {
                let shared = recorder.pusher();
                media.tap(
                    &camera.id,
                    name,
                    Arc::new(move |sample| shared.push(sample)),
                );
                recorders
                    .all
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(recorder);
            }
            Err(e) => tracing::error!(camera = %camera.id, "cannot record: {e}"),
        }
    }
    tracing::info!(root = %root.display(), streams = recorders.len(), "recording");
    Some(spawn_retention(Arc::downgrade(core), root))
}

/// Every [`RETENTION_EVERY`] of the site's clock: retention, then the
/// free-space check.
fn spawn_retention(core: std::sync::Weak<SiteCore>, root: PathBuf) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut low = false;
        loop {
            let Some(c) = core.upgrade() else {
                return;
            };
            let clock = Arc::clone(&c.env().clock);
            let policy = RetentionPolicy::from_config(&c.config().recording);
            let threshold = c.config().recording.low_free_bytes();
            let (store, at, now) = (Arc::clone(c.store()), root.clone(), clock.now());
            drop(c);
            let pass = tokio::task::spawn_blocking(move || {
                let report = retention_pass(&store, &at, &policy, now);
                let status = storage_status(&at, threshold);
                // Low whatever the budgets say: the oldest go, every camera
                // together, until a tenth of the threshold above it.
                if let Ok(s) = &status
                    && s.low
                {
                    let need = threshold.saturating_sub(s.free_bytes) + threshold / 10;
                    match make_room(&store, &at, need, now) {
                        Ok(r) => tracing::warn!(
                            deleted = r.deleted.len(),
                            freed = r.bytes_freed,
                            kept_for_locks = r.kept_for_locks,
                            "recordings disk low: made room"
                        ),
                        Err(e) => tracing::error!("cannot make room on the recordings disk: {e}"),
                    }
                }
                (report, status)
            })
            .await;
            match pass {
                Ok((report, status)) => {
                    match report {
                        Ok(r) if !r.deleted.is_empty() => tracing::info!(
                            deleted = r.deleted.len(),
                            freed = r.bytes_freed,
                            kept_for_locks = r.kept_for_locks,
                            "retention"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::error!("retention failed: {e}"),
                    }
                    if let Ok(s) = status {
                        if s.low
                            && !low
                            && let Some(c) = core.upgrade()
                        {
                            let kind = EventKind::StorageLow {
                                free_bytes: s.free_bytes,
                                total_bytes: s.total_bytes,
                            };
                            if let Err(e) = c.events().commit(|| Ok((vec![kind], ()))) {
                                tracing::error!("cannot log storage low: {e}");
                            }
                        }
                        low = s.low;
                    }
                }
                Err(e) => tracing::error!("retention task: {e}"),
            }
            clock.sleep(RETENTION_EVERY).await;
        }
    })
}

//! Start-up recovery: every segment a crash left `writing` (an index row in
//! that state, or a `….mp4.writing` file) is remuxed into an ordinary MP4,
//! read back, hashed and indexed `done`; one with nothing playable in it is
//! deleted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{RecorderError, WRITING_SUFFIX, done_path, media, relative, start_from_file_name};
use crate::domain::{CameraId, ClockSource, Segment, StreamKind};
use crate::site::store::Store;
use crate::site::store::recordings::{self, Finished, NewSegment};

/// How long remuxing one left-over segment may take (a minute of 1080p
/// remuxes in well under a second).
const REMUX_TIMEOUT: Duration = Duration::from_secs(60);

/// What [`recover`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecoveryReport {
    /// Segments finished and indexed `done`.
    pub recovered: Vec<Segment>,
    /// Paths (relative to the recordings folder) with nothing playable,
    /// deleted with their rows.
    pub discarded: Vec<String>,
    /// Paths that could not be dealt with, and why (left as they are).
    pub failed: Vec<(String, String)>,
}

/// Finishes every segment left `writing` under `root` (see the module
/// docs). Blocking: run it before the recorders start, off any async
/// worker.
pub fn recover(root: &Path, index: &Store) -> Result<RecoveryReport, RecorderError> {
    super::check_elements()?;
    let rows = index.read_blocking(recordings::writing)?;
    // Relative `.writing` path → its row, if any.
    let mut left: BTreeMap<String, Option<Segment>> = BTreeMap::new();
    for row in rows {
        left.insert(row.path.clone(), Some(row));
    }
    let mut files = Vec::new();
    find_writing_files(root, &mut files);
    for f in files {
        left.entry(relative(root, &f)).or_insert(None);
    }
    let mut report = RecoveryReport::default();
    for (rel, row) in left {
        match recover_one(root, index, &rel, row.as_ref()) {
            Ok(Some(segment)) => report.recovered.push(segment),
            Ok(None) => report.discarded.push(rel),
            Err(e) => {
                tracing::error!("cannot recover the segment {rel}: {e:#}");
                report.failed.push((rel, format!("{e:#}")));
            }
        }
    }
    Ok(report)
}

fn find_writing_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => find_writing_files(&path, out),
            Ok(t) if t.is_file() && path.to_string_lossy().ends_with(WRITING_SUFFIX) => {
                out.push(path);
            }
            _ => {}
        }
    }
}

/// Camera and stream from `<camera>/<stream>/...`.
fn owner_of(rel: &str) -> Option<(CameraId, StreamKind)> {
    let mut parts = rel.split('/');
    let camera = parts.next()?;
    let stream = StreamKind::parse(parts.next()?)?;
    Some((CameraId::new(camera), stream))
}

fn recover_one(
    root: &Path,
    index: &Store,
    rel: &str,
    row: Option<&Segment>,
) -> Result<Option<Segment>, RecorderError> {
    let writing = root.join(rel);
    let done = done_path(&writing);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RecorderError::Io { path, source }
    };
    let remove_row = |index: &Store| -> Result<(), RecorderError> {
        if let Some(id) = row.map(|r| r.id) {
            index.write_blocking(move |c| recordings::delete(c, id))?;
        }
        Ok(())
    };
    if writing.exists() {
        // Remux into a temporary file, then put it in place.
        let tmp = PathBuf::from(format!("{}.remux", done.to_string_lossy()));
        let remuxed = media::remux(&writing, &tmp, REMUX_TIMEOUT)
            .and_then(|()| media::scan(&tmp, REMUX_TIMEOUT).map(|_| ()));
        if let Err(e) = remuxed {
            tracing::warn!("nothing playable in {rel}, deleting it: {e:#}");
            let _ = std::fs::remove_file(&tmp);
            std::fs::remove_file(&writing).map_err(io(&writing))?;
            remove_row(index)?;
            return Ok(None);
        }
        std::fs::rename(&tmp, &done).map_err(io(&tmp))?;
        std::fs::remove_file(&writing).map_err(io(&writing))?;
    } else if !done.exists() {
        // A row whose file never got a byte.
        remove_row(index)?;
        return Ok(None);
    }
    // `done` holds an ordinary MP4 now (remuxed, or finished and renamed
    // before the crash let the index know).
    let facts = media::scan(&done, REMUX_TIMEOUT)?;
    let (sha256, bytes) = media::sha256_file(&done)?;
    let file_name = done
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let start = match row {
        Some(r) => r.start,
        None => start_from_file_name(&file_name)
            .ok_or_else(|| RecorderError::Media(format!("no start time in the file name {rel}")))?,
    };
    let clock = row.map_or(ClockSource::Receive, |r| r.clock);
    let finished = Finished {
        path: relative(root, &done),
        start,
        end: start + chrono::TimeDelta::from_std(facts.duration).unwrap_or_default(),
        bytes,
        sha256,
        key_frames_us: facts.key_frames_us,
        clock,
    };
    let target = match row {
        Some(r) => Ok(r.id),
        None => {
            let (camera, stream) = owner_of(rel).ok_or_else(|| {
                RecorderError::Media(format!("{rel} is not under <camera>/<stream>/"))
            })?;
            Err(NewSegment {
                camera,
                stream,
                start,
                path: rel.to_owned(),
                clock,
            })
        }
    };
    let path = finished.path.clone();
    let segment = index.write_blocking(move |c| {
        let id = match target {
            Ok(id) => id,
            Err(new) => recordings::insert_writing(c, &new)?,
        };
        recordings::finish(c, id, &finished)?;
        recordings::by_path(c, &path)
    })?;
    segment
        .map(Some)
        .ok_or_else(|| RecorderError::Media(format!("{rel} vanished from the index")))
}

#[cfg(test)]
pub(super) fn find_writing_files_for_tests(dir: &Path, out: &mut Vec<PathBuf>) {
    find_writing_files(dir, out);
}

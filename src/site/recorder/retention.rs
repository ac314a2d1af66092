//! Retention: per camera, at most so many days and/or so many bytes of
//! finished segments; the oldest go first, and never one that overlaps an
//! evidence lock still in force. And the free-space check that tells the
//! site its recordings disk is running low.

use std::collections::HashMap;
use std::path::Path;

use super::RecorderError;
use crate::config::{RecordingConfig, RecordingKeep};
use crate::domain::{CameraId, Segment, Timestamp};
use crate::site::store::Store;
use crate::site::store::recordings;

/// How many of a camera's oldest segments one pass looks at (a pass that
/// reaches the limit leaves the rest to the next pass).
const PASS_LIMIT: usize = 10_000;

/// How much of one camera to keep. `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keep {
    pub max_days: Option<u32>,
    pub max_bytes: Option<u64>,
}

/// How much to keep of every camera, with exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub default: Keep,
    pub cameras: HashMap<CameraId, Keep>,
}

impl RetentionPolicy {
    /// The policy of `[recording]`.
    pub fn from_config(cfg: &RecordingConfig) -> RetentionPolicy {
        let keep = |k: RecordingKeep| Keep {
            max_days: k.max_days,
            max_bytes: k.max_bytes(),
        };
        RetentionPolicy {
            default: keep(RecordingKeep {
                max_days: cfg.max_days,
                max_gib: cfg.max_gib,
                record_sub: false,
            }),
            cameras: cfg
                .cameras
                .iter()
                .map(|(id, k)| (id.clone(), keep(*k)))
                .collect(),
        }
    }

    pub fn for_camera(&self, camera: &CameraId) -> Keep {
        self.cameras.get(camera).copied().unwrap_or(self.default)
    }
}

/// What a retention pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionReport {
    /// Segments deleted (files and rows), oldest first per camera.
    pub deleted: Vec<Segment>,
    pub bytes_freed: u64,
    /// Segments past their camera's limits kept for an evidence lock.
    pub kept_for_locks: usize,
}

/// Deletes, per camera, the oldest finished segments past `policy` at
/// `now`, skipping any an evidence lock protects. Blocking (store and file
/// work): run it on a thread of its own or `spawn_blocking`.
pub fn retention_pass(
    store: &Store,
    root: &Path,
    policy: &RetentionPolicy,
    now: Timestamp,
) -> Result<RetentionReport, RecorderError> {
    let (locks, cameras) =
        store.read_blocking(|c| Ok((recordings::locks(c)?, recordings::bytes_by_camera(c)?)))?;
    let mut report = RetentionReport::default();
    for (camera, mut total) in cameras {
        let keep = policy.for_camera(&camera);
        if keep.max_days.is_none() && keep.max_bytes.is_none() {
            continue;
        }
        let oldest_kept = keep
            .max_days
            .map(|d| now - chrono::TimeDelta::days(i64::from(d)));
        let cam = camera.clone();
        let segments =
            store.read_blocking(move |c| recordings::oldest_done(c, &cam, PASS_LIMIT))?;
        for s in segments {
            let too_old = oldest_kept.is_some_and(|t| s.end < t);
            let too_big = keep.max_bytes.is_some_and(|max| total > max);
            if !too_old && !too_big {
                break;
            }
            if locks
                .iter()
                .any(|l| l.protects(&camera, s.start, s.end, now))
            {
                report.kept_for_locks += 1;
                continue;
            }
            delete_segment(store, root, &s)?;
            total = total.saturating_sub(s.bytes);
            report.bytes_freed += s.bytes;
            report.deleted.push(s);
        }
    }
    Ok(report)
}

/// Deletes a finished segment's file (gone already is fine) and its row.
fn delete_segment(store: &Store, root: &Path, s: &Segment) -> Result<(), RecorderError> {
    let file = root.join(&s.path);
    match std::fs::remove_file(&file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(RecorderError::Io { path: file, source }),
    }
    let id = s.id;
    store.write_blocking(move |c| recordings::delete(c, id))?;
    Ok(())
}

/// When the disk runs low whatever the per-camera limits say: deletes the
/// site's oldest finished segments, every camera together, until `need`
/// bytes are freed (or none is left that no live lock covers).
pub fn make_room(
    store: &Store,
    root: &Path,
    need: u64,
    now: Timestamp,
) -> Result<RetentionReport, RecorderError> {
    let locks = store.read_blocking(recordings::locks)?;
    let segments = store.read_blocking(|c| recordings::oldest_done_all(c, PASS_LIMIT))?;
    let mut report = RetentionReport::default();
    for s in segments {
        if report.bytes_freed >= need {
            break;
        }
        if locks
            .iter()
            .any(|l| l.protects(&s.camera, s.start, s.end, now))
        {
            report.kept_for_locks += 1;
            continue;
        }
        delete_segment(store, root, &s)?;
        report.bytes_freed += s.bytes;
        report.deleted.push(s);
    }
    Ok(report)
}

/// The recordings disk's space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageStatus {
    /// Bytes an unprivileged writer may still use.
    pub free_bytes: u64,
    pub total_bytes: u64,
    /// `free_bytes` is under the threshold given: the caller raises its
    /// "storage low" event.
    pub low: bool,
}

/// The free space of the file system that holds `root`; `low` when under
/// `low_below_bytes`.
pub fn storage_status(root: &Path, low_below_bytes: u64) -> Result<StorageStatus, RecorderError> {
    let st = rustix::fs::statvfs(root).map_err(|e| RecorderError::Io {
        path: root.to_owned(),
        source: e.into(),
    })?;
    let free_bytes = st.f_bavail.saturating_mul(st.f_frsize);
    let total_bytes = st.f_blocks.saturating_mul(st.f_frsize);
    Ok(StorageStatus {
        free_bytes,
        total_bytes,
        low: free_bytes < low_below_bytes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;
    use crate::domain::{ClockSource, EvidenceLock, StreamKind};
    use crate::site::env::{Clock, SimulatedClock};
    use crate::site::store::recordings::{Finished, NewSegment};

    /// A store with `n` one-hour segments of `cam`, 1000 bytes each, the
    /// first starting at `t0`, each with a file under `root`.
    fn seed(store: &Store, root: &Path, cam: &str, t0: Timestamp, n: i64) {
        for i in 0..n {
            let start = t0 + chrono::TimeDelta::hours(i);
            let path = format!("{cam}/main/{i}.mp4");
            std::fs::create_dir_all(root.join(cam).join("main")).unwrap();
            std::fs::write(root.join(&path), [0u8; 10]).unwrap();
            let camera = CameraId::new(cam);
            store
                .write_blocking(move |c| {
                    let id = recordings::insert_writing(
                        c,
                        &NewSegment {
                            camera,
                            stream: StreamKind::Main,
                            start,
                            path: format!("{path}.writing"),
                            clock: ClockSource::Rtcp,
                        },
                    )?;
                    recordings::finish(
                        c,
                        id,
                        &Finished {
                            path,
                            start,
                            end: start + chrono::TimeDelta::hours(1),
                            bytes: 1000,
                            sha256: String::new(),
                            key_frames_us: vec![0],
                            clock: ClockSource::Rtcp,
                        },
                    )
                })
                .unwrap();
        }
    }

    #[test]
    fn a_low_disk_frees_the_oldest_of_every_camera_but_never_a_locked_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rec");
        let store = Store::open_in(&dir.path().join("data")).unwrap();
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        seed(&store, &root, "cam-a", t0, 4);
        seed(
            &store,
            &root,
            "cam-b",
            t0 + chrono::TimeDelta::minutes(30),
            4,
        );
        let lock = EvidenceLock {
            id: "l".into(),
            cameras: vec![CameraId::new("cam-a")],
            start: t0,
            end: t0 + chrono::TimeDelta::minutes(5),
            by: "investigator".into(),
            reason: "case".into(),
            until: None,
        };
        store
            .write_blocking(move |c| recordings::put_lock(c, &lock))
            .unwrap();
        let now = t0 + chrono::TimeDelta::hours(10);
        // 2,500 bytes: three segments of 1,000, oldest first across cameras,
        // cam-a's first hour kept for its lock.
        let r = make_room(&store, &root, 2500, now).unwrap();
        let gone: Vec<&str> = r.deleted.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            gone,
            ["cam-b/main/0.mp4", "cam-a/main/1.mp4", "cam-b/main/1.mp4"]
        );
        assert_eq!((r.bytes_freed, r.kept_for_locks), (3000, 1));
        assert!(root.join("cam-a/main/0.mp4").exists());
        assert!(!root.join("cam-b/main/0.mp4").exists());
        assert_eq!(hours_left(&store, "cam-a").len(), 3);
        assert_eq!(hours_left(&store, "cam-b").len(), 2);
    }

    fn hours_left(store: &Store, cam: &str) -> Vec<String> {
        let cam = CameraId::new(cam);
        store
            .read_blocking(move |c| recordings::oldest_done(c, &cam, 1000))
            .unwrap()
            .into_iter()
            .map(|s| s.path)
            .collect()
    }

    #[test]
    fn retention_deletes_the_oldest_past_days_or_bytes_but_never_under_a_live_lock() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rec");
        let store = Store::open_in(&dir.path().join("data")).unwrap();
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = SimulatedClock::new(t0);
        // 48 hours of cam-a and cam-b, 10 of cam-c.
        seed(&store, &root, "cam-a", t0, 48);
        seed(&store, &root, "cam-b", t0, 48);
        seed(&store, &root, "cam-c", t0, 10);
        clock.advance(std::time::Duration::from_secs(48 * 3600));
        // A lock on cam-a's hours 2..3 until 72 h, an expired one on hour 5.
        let lock = |id: &str, h0: i64, h1: i64, until_h: i64| EvidenceLock {
            id: id.into(),
            cameras: vec![CameraId::new("cam-a")],
            start: t0 + chrono::TimeDelta::hours(h0) + chrono::TimeDelta::minutes(10),
            end: t0 + chrono::TimeDelta::hours(h1) + chrono::TimeDelta::minutes(10),
            by: "investigator".into(),
            reason: "case".into(),
            until: Some(t0 + chrono::TimeDelta::hours(until_h)),
        };
        let (l1, l2) = (lock("l1", 2, 3, 72), lock("l2", 5, 5, 40));
        store
            .write_blocking(move |c| {
                recordings::put_lock(c, &l1)?;
                recordings::put_lock(c, &l2)
            })
            .unwrap();
        let policy = RetentionPolicy {
            // A day of everything...
            default: Keep {
                max_days: Some(1),
                max_bytes: None,
            },
            // ...but cam-b: 5 segments' bytes, and cam-c: no limit.
            cameras: HashMap::from([
                (
                    CameraId::new("cam-b"),
                    Keep {
                        max_days: None,
                        max_bytes: Some(5000),
                    },
                ),
                (CameraId::new("cam-c"), Keep::default()),
            ]),
        };
        let report = retention_pass(&store, &root, &policy, clock.now()).unwrap();
        // cam-a: hours 0..=22 end before 24 h (now - 1 day); 2 and 3 are locked.
        let a = hours_left(&store, "cam-a");
        assert_eq!(a.len(), 48 - 23 + 2, "{a:?}");
        assert_eq!(
            &a[..3],
            ["cam-a/main/2.mp4", "cam-a/main/3.mp4", "cam-a/main/23.mp4"]
        );
        assert!(!root.join("cam-a/main/0.mp4").exists());
        assert!(root.join("cam-a/main/2.mp4").exists());
        assert!(!root.join("cam-a/main/5.mp4").exists(), "its lock expired");
        // cam-b: the newest 5.
        let b = hours_left(&store, "cam-b");
        assert_eq!(b.first().map(String::as_str), Some("cam-b/main/43.mp4"));
        assert_eq!(b.len(), 5);
        assert_eq!(hours_left(&store, "cam-c").len(), 10);
        assert_eq!(report.kept_for_locks, 2);
        assert_eq!(report.deleted.len(), 21 + 43);
        assert_eq!(report.bytes_freed, 64 * 1000);

        // Once the lock expires, the next pass takes its segments too.
        clock.advance(std::time::Duration::from_secs(24 * 3600));
        let report = retention_pass(&store, &root, &policy, clock.now()).unwrap();
        assert_eq!(report.kept_for_locks, 0);
        assert!(report.deleted.iter().any(|s| s.path == "cam-a/main/2.mp4"));
        assert_eq!(hours_left(&store, "cam-a"), ["cam-a/main/47.mp4"]);
    }

    #[test]
    fn the_policy_comes_from_the_recording_section() {
        let cfg = RecordingConfig {
            max_days: Some(30),
            cameras: std::collections::BTreeMap::from([(
                CameraId::new("cam-1"),
                RecordingKeep {
                    max_days: None,
                    max_gib: Some(1.0),
                    record_sub: false,
                },
            )]),
            ..RecordingConfig::default()
        };
        let p = RetentionPolicy::from_config(&cfg);
        assert_eq!(
            p.for_camera(&CameraId::new("cam-2")),
            Keep {
                max_days: Some(30),
                max_bytes: None
            }
        );
        assert_eq!(
            p.for_camera(&CameraId::new("cam-1")),
            Keep {
                max_days: None,
                max_bytes: Some(1 << 30)
            }
        );
    }

    #[test]
    fn storage_status_reads_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let s = storage_status(dir.path(), 0).unwrap();
        assert!(s.total_bytes > 0 && s.free_bytes <= s.total_bytes);
        assert!(!s.low);
        assert!(storage_status(dir.path(), u64::MAX).unwrap().low);
        assert!(storage_status(&dir.path().join("missing"), 0).is_err());
    }
}

//! The recordings index (schema version 7): one row per recorded segment
//! (`segments`) and the evidence locks that keep segments from retention
//! (`evidence_locks`). Times are integer microseconds since 1970 (UTC) like
//! the rest of the store; a segment's key-frame times are a JSON array of
//! microseconds from its start; a lock's cameras a JSON array of ids.
//!
//! Functions take a connection: callers run them on the store's threads
//! with [`super::Store::write_blocking`] / [`super::Store::read_blocking`]
//! (or the async `write` / `read`).

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{Result, StoreError, time_from_us, time_us};
use crate::domain::{
    CameraId, ClockSource, Coverage, EvidenceLock, Gap, Segment, SegmentState, StreamKind,
    Timestamp,
};

/// The step to schema version 7.
pub(super) fn v7_recordings(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "
CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    camera TEXT NOT NULL,
    stream TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    path TEXT NOT NULL UNIQUE,
    bytes INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL DEFAULT '',
    key_frames TEXT NOT NULL DEFAULT '[]',
    clock TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX segments_by_time ON segments (camera, stream, start_us);
CREATE INDEX segments_writing ON segments (state) WHERE state = 'writing';
CREATE TABLE evidence_locks (
    id TEXT PRIMARY KEY,
    cameras TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL,
    until_us INTEGER
);
",
    )?;
    Ok(())
}

/// A segment the recorder has opened.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSegment {
    pub camera: CameraId,
    pub stream: StreamKind,
    /// The best wall-clock time of its first frame known when it opened.
    pub start: Timestamp,
    /// Relative to the recordings folder.
    pub path: String,
    pub clock: ClockSource,
}

/// What a finished segment turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The finished file (it is renamed when it is finished).
    pub path: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub bytes: u64,
    pub sha256: String,
    pub key_frames_us: Vec<i64>,
    pub clock: ClockSource,
}

const COLUMNS: &str =
    "id, camera, stream, start_us, end_us, path, bytes, sha256, key_frames, clock, state";

fn segment_from_row(r: &Row<'_>) -> rusqlite::Result<RawSegment> {
    Ok(RawSegment {
        id: r.get(0)?,
        camera: r.get(1)?,
        stream: r.get(2)?,
        start_us: r.get(3)?,
        end_us: r.get(4)?,
        path: r.get(5)?,
        bytes: r.get(6)?,
        sha256: r.get(7)?,
        key_frames: r.get(8)?,
        clock: r.get(9)?,
        state: r.get(10)?,
    })
}

struct RawSegment {
    id: i64,
    camera: String,
    stream: String,
    start_us: i64,
    end_us: i64,
    path: String,
    bytes: i64,
    sha256: String,
    key_frames: String,
    clock: String,
    state: String,
}

impl RawSegment {
    fn into_segment(self) -> Result<Segment> {
        let id = self.id;
        let bad = |what: &str, v: &str| StoreError::Corrupt(format!("segment {id}: {what} {v:?}"));
        Ok(Segment {
            id,
            stream: StreamKind::parse(&self.stream).ok_or_else(|| bad("stream", &self.stream))?,
            clock: ClockSource::parse(&self.clock).ok_or_else(|| bad("clock", &self.clock))?,
            state: SegmentState::parse(&self.state).ok_or_else(|| bad("state", &self.state))?,
            key_frames_us: serde_json::from_str(&self.key_frames)
                .map_err(|e| bad("key frames", &e.to_string()))?,
            camera: CameraId::new(self.camera),
            start: time_from_us(self.start_us)?,
            end: time_from_us(self.end_us)?,
            path: self.path,
            bytes: u64::try_from(self.bytes).unwrap_or(0),
            sha256: self.sha256,
        })
    }
}

fn collect(rows: impl Iterator<Item = rusqlite::Result<RawSegment>>) -> Result<Vec<Segment>> {
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.into_segment()?);
    }
    Ok(out)
}

/// Indexes a segment being written; returns its id.
pub fn insert_writing(conn: &Connection, s: &NewSegment) -> Result<i64> {
    let start = time_us(s.start);
    conn.execute(
        "INSERT INTO segments (camera, stream, start_us, end_us, path, clock, state)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, 'writing')",
        params![
            s.camera.as_str(),
            s.stream.as_str(),
            start,
            s.path,
            s.clock.as_str()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Marks segment `id` done with what it turned out to be; false when there
/// is no such segment.
pub fn finish(conn: &Connection, id: i64, f: &Finished) -> Result<bool> {
    let key_frames = serde_json::to_string(&f.key_frames_us)
        .map_err(|e| StoreError::Corrupt(format!("key frames: {e}")))?;
    Ok(conn.execute(
        "UPDATE segments SET path = ?2, start_us = ?3, end_us = ?4, bytes = ?5, sha256 = ?6,
             key_frames = ?7, clock = ?8, state = 'done'
         WHERE id = ?1",
        params![
            id,
            f.path,
            time_us(f.start),
            time_us(f.end),
            i64::try_from(f.bytes).unwrap_or(i64::MAX),
            f.sha256,
            key_frames,
            f.clock.as_str()
        ],
    )? > 0)
}

/// The segment stored at `path` (relative to the recordings folder).
pub fn by_path(conn: &Connection, path: &str) -> Result<Option<Segment>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM segments WHERE path = ?1"),
        params![path],
        segment_from_row,
    )
    .optional()?
    .map(RawSegment::into_segment)
    .transpose()
}

/// The segment with row id `id`.
pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Segment>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM segments WHERE id = ?1"),
        params![id],
        segment_from_row,
    )
    .optional()?
    .map(RawSegment::into_segment)
    .transpose()
}

/// Every segment still in the `writing` state, oldest first.
pub fn writing(conn: &Connection) -> Result<Vec<Segment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM segments WHERE state = 'writing' ORDER BY start_us, id"
    ))?;
    let rows = stmt.query_map([], segment_from_row)?;
    collect(rows)
}

/// The finished segments of `camera`'s `stream` that overlap `from..=to`,
/// by start time.
pub fn overlapping(
    conn: &Connection,
    camera: &CameraId,
    stream: StreamKind,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Segment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM segments
         WHERE camera = ?1 AND stream = ?2 AND state = 'done' AND start_us <= ?4 AND end_us >= ?3
         ORDER BY start_us, id"
    ))?;
    let rows = stmt.query_map(
        params![camera.as_str(), stream.as_str(), time_us(from), time_us(to)],
        segment_from_row,
    )?;
    collect(rows)
}

/// What is recorded of `camera`'s `stream` in `from..=to`: the segments and
/// the gaps between them (and at either end). Two segments closer than
/// `tolerance` (about a frame) leave no gap.
pub fn coverage(
    conn: &Connection,
    camera: &CameraId,
    stream: StreamKind,
    from: Timestamp,
    to: Timestamp,
    tolerance: chrono::TimeDelta,
) -> Result<Coverage> {
    let segments = overlapping(conn, camera, stream, from, to)?;
    let gaps = gaps(&segments, from, to, tolerance);
    Ok(Coverage { segments, gaps })
}

/// The gaps in `from..=to` that `segments` (by start time) leave, ignoring
/// any shorter than `tolerance`.
pub fn gaps(
    segments: &[Segment],
    from: Timestamp,
    to: Timestamp,
    tolerance: chrono::TimeDelta,
) -> Vec<Gap> {
    let mut out = Vec::new();
    let mut covered_to = from;
    for s in segments {
        if s.start - covered_to > tolerance {
            out.push(Gap {
                start: covered_to,
                end: s.start.min(to),
            });
        }
        covered_to = covered_to.max(s.end);
        if covered_to >= to {
            break;
        }
    }
    if to - covered_to > tolerance {
        out.push(Gap {
            start: covered_to,
            end: to,
        });
    }
    out
}

/// Up to `limit` finished segments of `camera` (every stream), oldest first.
pub fn oldest_done(conn: &Connection, camera: &CameraId, limit: usize) -> Result<Vec<Segment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM segments WHERE camera = ?1 AND state = 'done'
         ORDER BY start_us, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(
        params![camera.as_str(), i64::try_from(limit).unwrap_or(i64::MAX)],
        segment_from_row,
    )?;
    collect(rows)
}

/// Up to `limit` finished segments of every camera, oldest first.
pub fn oldest_done_all(conn: &Connection, limit: usize) -> Result<Vec<Segment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM segments WHERE state = 'done' ORDER BY start_us, id LIMIT ?1"
    ))?;
    let rows = stmt.query_map(
        params![i64::try_from(limit).unwrap_or(i64::MAX)],
        segment_from_row,
    )?;
    collect(rows)
}

/// Removes segment `id` from the index; false when there was none. The file
/// is the caller's to delete.
pub fn delete(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM segments WHERE id = ?1", params![id])? > 0)
}

/// Removes the `n` oldest finished segments of `camera`'s `stream` from the
/// index and returns them (their files are the caller's to delete). It does
/// not look at evidence locks: retention does.
pub fn delete_oldest(
    conn: &mut Connection,
    camera: &CameraId,
    stream: StreamKind,
    n: usize,
) -> Result<Vec<Segment>> {
    let tx = conn.transaction()?;
    let doomed = {
        let mut stmt = tx.prepare(&format!(
            "SELECT {COLUMNS} FROM segments WHERE camera = ?1 AND stream = ?2 AND state = 'done'
             ORDER BY start_us, id LIMIT ?3"
        ))?;
        let rows = stmt.query_map(
            params![
                camera.as_str(),
                stream.as_str(),
                i64::try_from(n).unwrap_or(i64::MAX)
            ],
            segment_from_row,
        )?;
        collect(rows)?
    };
    for s in &doomed {
        tx.execute("DELETE FROM segments WHERE id = ?1", params![s.id])?;
    }
    tx.commit()?;
    Ok(doomed)
}

/// Every camera with segments, with the bytes of its finished segments.
pub fn bytes_by_camera(conn: &Connection) -> Result<Vec<(CameraId, u64)>> {
    let mut stmt = conn.prepare(
        "SELECT camera, SUM(CASE WHEN state = 'done' THEN bytes ELSE 0 END)
         FROM segments GROUP BY camera ORDER BY camera",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (camera, bytes) = row?;
        out.push((CameraId::new(camera), u64::try_from(bytes).unwrap_or(0)));
    }
    Ok(out)
}

/// Writes `lock` in place of the one with its id.
pub fn put_lock(conn: &Connection, lock: &EvidenceLock) -> Result<()> {
    let cameras = serde_json::to_string(&lock.cameras)
        .map_err(|e| StoreError::Corrupt(format!("lock cameras: {e}")))?;
    conn.execute(
        "INSERT INTO evidence_locks (id, cameras, start_us, end_us, by, reason, until_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET cameras = ?2, start_us = ?3, end_us = ?4, by = ?5,
             reason = ?6, until_us = ?7",
        params![
            lock.id,
            cameras,
            time_us(lock.start),
            time_us(lock.end),
            lock.by,
            lock.reason,
            lock.until.map(time_us)
        ],
    )?;
    Ok(())
}

/// Removes the lock `id`; false when there was none.
pub fn delete_lock(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM evidence_locks WHERE id = ?1", params![id])? > 0)
}

/// Every evidence lock, by id.
pub fn locks(conn: &Connection) -> Result<Vec<EvidenceLock>> {
    let mut stmt = conn.prepare(
        "SELECT id, cameras, start_us, end_us, by, reason, until_us FROM evidence_locks ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<i64>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, cameras, start_us, end_us, by, reason, until_us) = row?;
        let cameras = serde_json::from_str(&cameras)
            .map_err(|e| StoreError::Corrupt(format!("evidence lock {id}: cameras: {e}")))?;
        out.push(EvidenceLock {
            id,
            cameras,
            start: time_from_us(start_us)?,
            end: time_from_us(end_us)?,
            by,
            reason,
            until: until_us.map(time_from_us).transpose()?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;

    fn t(ms: i64) -> Timestamp {
        chrono::DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        let tx = c.transaction().unwrap();
        v7_recordings(&tx).unwrap();
        tx.commit().unwrap();
        c
    }

    fn done(c: &Connection, cam: &str, stream: StreamKind, from_ms: i64, to_ms: i64) -> i64 {
        let path = format!("{cam}/{}/{from_ms}.mp4", stream.as_str());
        let id = insert_writing(
            c,
            &NewSegment {
                camera: CameraId::new(cam),
                stream,
                start: t(from_ms),
                path: format!("{path}.writing"),
                clock: ClockSource::Receive,
            },
        )
        .unwrap();
        assert!(
            finish(
                c,
                id,
                &Finished {
                    path,
                    start: t(from_ms),
                    end: t(to_ms),
                    bytes: 1000,
                    sha256: "ab".into(),
                    key_frames_us: vec![0, 1_000_000],
                    clock: ClockSource::Rtcp,
                },
            )
            .unwrap()
        );
        id
    }

    #[test]
    fn segments_are_found_by_overlap_in_order_with_the_gaps_between() {
        let c = conn();
        let main = StreamKind::Main;
        done(&c, "cam-1", main, 2000, 4000);
        done(&c, "cam-1", main, 0, 2000);
        done(&c, "cam-1", main, 4010, 6000); // 10 ms later: no gap
        done(&c, "cam-1", main, 9000, 10_000); // a 3 s gap
        done(&c, "cam-1", StreamKind::Sub, 6000, 9000);
        done(&c, "cam-2", main, 6000, 9000);
        let writing = insert_writing(
            &c,
            &NewSegment {
                camera: CameraId::new("cam-1"),
                stream: main,
                start: t(10_000),
                path: "cam-1/main/open.mp4.writing".into(),
                clock: ClockSource::Receive,
            },
        )
        .unwrap();
        let cam = CameraId::new("cam-1");
        let found = overlapping(&c, &cam, main, t(1000), t(5000)).unwrap();
        let starts: Vec<_> = found.iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![t(0), t(2000), t(4010)]);
        assert_eq!(found[0].key_frames_us, vec![0, 1_000_000]);
        assert_eq!(found[0].clock, ClockSource::Rtcp);
        assert_eq!(found[0].state, SegmentState::Done);
        assert_eq!(found[0].path, "cam-1/main/0.mp4");

        let tol = chrono::TimeDelta::milliseconds(50);
        let cov = coverage(&c, &cam, main, t(-1000), t(12_000), tol).unwrap();
        assert_eq!(cov.segments.len(), 4);
        assert_eq!(
            cov.gaps,
            vec![
                Gap {
                    start: t(-1000),
                    end: t(0)
                },
                Gap {
                    start: t(6000),
                    end: t(9000)
                },
                Gap {
                    start: t(10_000),
                    end: t(12_000)
                },
            ]
        );
        assert!(
            coverage(&c, &cam, main, t(500), t(5500), tol)
                .unwrap()
                .gaps
                .is_empty()
        );

        let w = writing_rows(&c);
        assert_eq!(w, vec![writing]);
        assert_eq!(
            by_path(&c, "cam-1/main/open.mp4.writing")
                .unwrap()
                .unwrap()
                .state,
            SegmentState::Writing
        );
    }

    fn writing_rows(c: &Connection) -> Vec<i64> {
        writing(c).unwrap().iter().map(|s| s.id).collect()
    }

    #[test]
    fn delete_oldest_takes_finished_segments_of_one_stream_oldest_first() {
        let mut c = conn();
        let main = StreamKind::Main;
        done(&c, "cam-1", main, 2000, 4000);
        done(&c, "cam-1", main, 0, 2000);
        done(&c, "cam-1", StreamKind::Sub, 0, 2000);
        let cam = CameraId::new("cam-1");
        let gone = delete_oldest(&mut c, &cam, main, 1).unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].start, t(0));
        assert_eq!(gone[0].stream, main);
        let left = oldest_done(&c, &cam, 10).unwrap();
        assert_eq!(left.len(), 2);
        assert_eq!(bytes_by_camera(&c).unwrap(), vec![(cam.clone(), 2000)]);
        assert!(delete(&c, left[0].id).unwrap());
        assert!(!delete(&c, left[0].id).unwrap());
    }

    #[test]
    fn evidence_locks_round_trip() {
        let c = conn();
        let lock = EvidenceLock {
            id: "case-7".into(),
            cameras: vec![CameraId::new("cam-1"), CameraId::new("cam-2")],
            start: t(0),
            end: t(1000),
            by: "investigator".into(),
            reason: "theft".into(),
            until: Some(t(99_000)),
        };
        put_lock(&c, &lock).unwrap();
        let open = EvidenceLock {
            id: "case-8".into(),
            until: None,
            ..lock.clone()
        };
        put_lock(&c, &open).unwrap();
        assert_eq!(locks(&c).unwrap(), vec![lock, open]);
    }
}

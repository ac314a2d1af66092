//! What the recorder learns from a finished file, and the remux that
//! finishes a file a crash left: each a short GStreamer pipeline that reads
//! the file without decoding it.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use sha2::{Digest, Sha256};

use super::RecorderError;

/// What a finished MP4 holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// From its first frame's start to its last frame's end.
    pub duration: Duration,
    /// When each key frame starts, in microseconds from the first frame.
    pub key_frames_us: Vec<i64>,
    pub frames: u64,
}

fn failed(what: &str, path: &Path, e: impl std::fmt::Display) -> RecorderError {
    RecorderError::Media(format!("{what} {}: {e}", path.display()))
}

/// Reads `path` through `qtdemux ! parsebin` (H.264 or H.265, no decoding) to its end and
/// returns its duration and key frames; an error when it does not play to
/// its end within `timeout`.
pub fn scan(path: &Path, timeout: Duration) -> Result<FileFacts, RecorderError> {
    let pipeline = gst::parse::launch(
        "filesrc name=src ! qtdemux ! parsebin ! appsink name=sink sync=false max-buffers=64",
    )
    .map_err(|e| failed("cannot build a reader for", path, e))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| failed("cannot build a reader for", path, "not a pipeline"))?;
    let result = scan_with(&pipeline, path, timeout);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn scan_with(
    pipeline: &gst::Pipeline,
    path: &Path,
    timeout: Duration,
) -> Result<FileFacts, RecorderError> {
    let src = pipeline
        .by_name("src")
        .ok_or_else(|| failed("no filesrc reading", path, "?"))?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| failed("no appsink reading", path, "?"))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| failed("cannot read", path, e))?;
    let deadline = Instant::now() + timeout;
    let mut first: Option<gst::ClockTime> = None;
    let mut end = gst::ClockTime::ZERO;
    let mut keys = Vec::new();
    let mut frames = 0u64;
    let mut last_step = gst::ClockTime::ZERO;
    let mut last_pts: Option<gst::ClockTime> = None;
    let bus = pipeline
        .bus()
        .ok_or_else(|| failed("no bus reading", path, "?"))?;
    loop {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
            && let gst::MessageView::Error(e) = msg.view()
        {
            return Err(failed("cannot play", path, e.error()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(failed("timed out reading", path, format!("{timeout:?}")));
        }
        let wait = gst::ClockTime::from_mseconds(left.as_millis().min(200) as u64);
        let Some(sample) = sink.try_pull_sample(wait) else {
            if sink.is_eos() {
                break;
            }
            continue;
        };
        let Some(buf) = sample.buffer() else { continue };
        let Some(pts) = buf.pts() else { continue };
        frames += 1;
        let start = *first.get_or_insert(pts);
        if let Some(prev) = last_pts
            && pts > prev
        {
            last_step = pts - prev;
        }
        last_pts = Some(pts);
        let dur = buf.duration().unwrap_or(last_step);
        end = end.max(pts + dur);
        if !buf.flags().contains(gst::BufferFlags::DELTA_UNIT) {
            keys.push(i64::try_from(pts.saturating_sub(start).useconds()).unwrap_or(i64::MAX));
        }
    }
    if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
        && let gst::MessageView::Error(e) = msg.view()
    {
        return Err(failed("cannot play", path, e.error()));
    }
    let Some(first) = first else {
        return Err(failed("no frames in", path, "empty"));
    };
    keys.sort_unstable();
    Ok(FileFacts {
        duration: Duration::from_nanos(end.saturating_sub(first).nseconds()),
        key_frames_us: keys,
        frames,
    })
}

/// Rewrites `from` (an MP4 a crash left: fragmented, perhaps cut short) as
/// an ordinary MP4 at `to`, without re-encoding.
pub fn remux(from: &Path, to: &Path, timeout: Duration) -> Result<(), RecorderError> {
    let pipeline = gst::parse::launch(
        "filesrc name=src ! qtdemux ! parsebin ! mp4mux ! filesink name=sink sync=false",
    )
    .map_err(|e| failed("cannot build a remux of", from, e))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| failed("cannot build a remux of", from, "not a pipeline"))?;
    let result = (|| {
        let src = pipeline
            .by_name("src")
            .ok_or_else(|| failed("no filesrc remuxing", from, "?"))?;
        src.set_property("location", from.to_string_lossy().as_ref());
        let sink = pipeline
            .by_name("sink")
            .ok_or_else(|| failed("no filesink remuxing", from, "?"))?;
        sink.set_property("location", to.to_string_lossy().as_ref());
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| failed("cannot remux", from, e))?;
        let bus = pipeline
            .bus()
            .ok_or_else(|| failed("no bus remuxing", from, "?"))?;
        let timeout_ct = gst::ClockTime::from_mseconds(timeout.as_millis() as u64);
        match bus.timed_pop_filtered(
            timeout_ct,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) {
            Some(msg) => match msg.view() {
                gst::MessageView::Eos(_) => Ok(()),
                gst::MessageView::Error(e) => Err(failed("cannot remux", from, e.error())),
                _ => Err(failed("cannot remux", from, "unexpected message")),
            },
            None => Err(failed("timed out remuxing", from, format!("{timeout:?}"))),
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// The SHA-256 of a file, lowercase hex, and its size.
pub fn sha256_file(path: &Path) -> Result<(String, u64), RecorderError> {
    let io = |source| RecorderError::Io {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

//! The recorder against real GStreamer: x264-encoded test video in, MP4
//! files and index rows out.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::wallclock::{NTP_CAPS_NAME, NTP_UNIX_OFFSET_SECS};
use super::*;
use crate::domain::{Segment, SegmentState};
use crate::site::env::SimulatedClock;

const FRAME: Duration = Duration::from_nanos(1_000_000_000 / 30);

/// `frames` access units of 30 fps test video with a 1 s GOP, as the
/// ingest would hand them over (PTS from 0).
fn encode(frames: u32, width: u32, height: u32, kbps: u32) -> Vec<gst::Sample> {
    encode_pattern(frames, width, height, kbps, "ball", "avc")
}

/// [`encode`] of a videotestsrc pattern (`snow` fills the bit rate).
fn encode_pattern(
    frames: u32,
    width: u32,
    height: u32,
    kbps: u32,
    pattern: &str,
    stream_format: &str,
) -> Vec<gst::Sample> {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc is-live=false num-buffers={frames} pattern={pattern} ! \
         video/x-raw,width={width},height={height},framerate=30/1 ! \
         x264enc key-int-max=30 tune=zerolatency speed-preset=ultrafast bitrate={kbps} ! \
         h264parse ! video/x-h264,stream-format={stream_format},alignment=au ! \
         appsink name=sink sync=false max-buffers=0"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match sink.try_pull_sample(gst::ClockTime::from_mseconds(500)) {
            Some(s) => out.push(s),
            None if sink.is_eos() => break,
            None => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(
        out.len(),
        frames as usize,
        "the encoder gave too few frames"
    );
    out
}

/// `sample` with a `timestamp/x-ntp` meta: `base` (UTC) + its PTS after
/// `pts0` (x264enc starts at 1000 h).
fn with_ntp(sample: &gst::Sample, base: Timestamp, pts0: gst::ClockTime) -> gst::Sample {
    let mut buf = sample.buffer().unwrap().copy();
    let pts = buf.pts().unwrap() - pts0;
    let ntp_ns =
        (base.timestamp_micros() as u64 + NTP_UNIX_OFFSET_SECS * 1_000_000) * 1000 + pts.nseconds();
    gst::ReferenceTimestampMeta::add(
        buf.get_mut().unwrap(),
        &gst::Caps::new_empty_simple(NTP_CAPS_NAME),
        gst::ClockTime::from_nseconds(ntp_ns),
        None,
    );
    gst::Sample::builder()
        .buffer(&buf)
        .caps(&sample.caps_owned().unwrap())
        .build()
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn setup() -> (tempfile::TempDir, Arc<Store>, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(&dir.path().join("data")).unwrap());
    let root = dir.path().join("recordings");
    (dir, store, root)
}

fn config(root: &Path, segment: Duration) -> RecorderConfig {
    RecorderConfig {
        segment,
        queue_frames: 10_000,
        ..RecorderConfig::new(root, CameraId::new("cam-lobby"), StreamKind::Main)
    }
}

fn all_segments(store: &Store) -> Vec<Segment> {
    store
        .read_blocking(|c| {
            recordings::overlapping(
                c,
                &CameraId::new("cam-lobby"),
                StreamKind::Main,
                t("2000-01-01T00:00:00Z"),
                t("2100-01-01T00:00:00Z"),
            )
        })
        .unwrap()
}

/// Plays `path` through `qtdemux ! h264parse ! fakesink` (a pipeline of
/// its own, not the recorder's reader): its duration, once it reached the
/// end without an error.
fn plays(path: &Path) -> Duration {
    let p = gst::parse::launch("filesrc name=src ! qtdemux ! h264parse ! fakesink sync=false")
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    p.by_name("src")
        .unwrap()
        .set_property("location", path.to_str().unwrap());
    let bus = p.bus().unwrap();
    p.set_state(gst::State::Paused).unwrap();
    let ready = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(10),
        &[gst::MessageType::AsyncDone, gst::MessageType::Error],
    );
    assert!(
        matches!(
            ready.as_ref().map(|m| m.view()),
            Some(gst::MessageView::AsyncDone(_))
        ),
        "{} does not preroll: {ready:?}",
        path.display()
    );
    let duration = p.query_duration::<gst::ClockTime>().unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let end = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(10),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    assert!(
        matches!(
            end.as_ref().map(|m| m.view()),
            Some(gst::MessageView::Eos(_))
        ),
        "{} does not play to its end: {end:?}",
        path.display()
    );
    p.set_state(gst::State::Null).unwrap();
    Duration::from_nanos(duration.nseconds())
}

/// The top-level MP4 boxes of a file.
fn boxes(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned());
        if size < 8 {
            break;
        }
        at += size;
    }
    out
}

fn close(a: chrono::TimeDelta, b: chrono::TimeDelta, within: Duration) -> bool {
    (a - b).abs().to_std().unwrap() <= within
}

/// Checks what every finished segment must be: a file that plays, as long
/// as its index says, hashed, with key frames; consecutive ones meet.
fn check_segments(root: &Path, segments: &[Segment]) {
    for s in segments {
        assert_eq!(s.state, SegmentState::Done);
        assert!(s.path.ends_with(".mp4"), "{}", s.path);
        let file = root.join(&s.path);
        let (sha, bytes) = media::sha256_file(&file).unwrap();
        assert_eq!((sha.as_str(), bytes), (s.sha256.as_str(), s.bytes));
        let played = plays(&file);
        assert!(
            close(
                chrono::TimeDelta::from_std(played).unwrap(),
                s.end - s.start,
                FRAME
            ),
            "{}: plays {played:?}, indexed {:?}",
            s.path,
            s.end - s.start
        );
        assert_eq!(s.key_frames_us.first(), Some(&0), "{}", s.path);
        let b = boxes(&file);
        assert!(
            b.contains(&"moov".to_owned()) && !b.contains(&"moof".to_owned()),
            "{}: {b:?}",
            s.path
        );
    }
    for w in segments.windows(2) {
        let gap = w[1].start - w[0].end;
        assert!(
            gap.abs().to_std().unwrap() <= FRAME,
            "{} ends {}, {} starts {}",
            w[0].path,
            w[0].end,
            w[1].path,
            w[1].start
        );
    }
}

#[test]
fn records_playable_contiguous_segments_timed_by_rtcp() {
    let samples = encode(150, 320, 240, 500);
    let (_dir, store, root) = setup();
    let receive = t("2031-05-04T10:00:00Z");
    let clock = Arc::new(SimulatedClock::new(receive));
    let rec = Recorder::start(
        config(&root, Duration::from_secs(1)),
        Arc::clone(&store),
        clock,
    )
    .unwrap();
    // The first sender report arrives at 1.1 s: frames before carry no NTP time.
    let camera_time = t("2031-05-04T09:59:58.250Z");
    let pts0 = samples[0].buffer().unwrap().pts().unwrap();
    for (i, s) in samples.iter().enumerate() {
        if i < 33 {
            rec.push(s);
        } else {
            rec.push(&with_ntp(s, camera_time, pts0));
        }
    }
    let began = Instant::now();
    let stats = rec.stop();
    let stop_ms = began.elapsed().as_millis();
    assert_eq!((stats.pushed, stats.dropped, stats.failed), (150, 0, false));
    let segments = all_segments(&store);
    assert!(segments.len() >= 4, "{segments:#?}");
    assert_eq!(stats.segments_done, segments.len() as u64);
    check_segments(&root, &segments);
    // Extrapolated back from the first report: frame 0 is the camera's base.
    assert_eq!(segments[0].start, camera_time);
    assert!(segments.iter().all(|s| s.clock == ClockSource::Rtcp));
    let total = segments.last().unwrap().end - segments[0].start;
    assert!(
        close(total, chrono::TimeDelta::seconds(5), FRAME),
        "{total:?}"
    );
    // Named by the best time known when it opened (the camera's, once its
    // first report has come through, else the arrival), in a folder per day;
    // the index has the exact start.
    assert!(
        segments[0].path.starts_with("cam-lobby/main/2031-05-04/"),
        "{}",
        segments[0].path
    );
    let named = start_from_file_name(segments[0].path.rsplit('/').next().unwrap()).unwrap();
    assert!(named == camera_time || named == receive, "{named}");
    // Nothing is left being written.
    assert!(store.read_blocking(recordings::writing).unwrap().is_empty());
    eprintln!(
        "recorder: {} segments, stop took {stop_ms} ms, longest finalise {} µs",
        segments.len(),
        stats.max_finalise_us
    );
}

#[test]
fn a_stream_without_sender_reports_is_timed_by_receive_time() {
    // Byte-stream this time (what some cameras' depayloaders give).
    let samples = encode_pattern(45, 320, 240, 500, "ball", "byte-stream");
    let (_dir, store, root) = setup();
    let receive = t("2031-05-04T10:00:00.5Z");
    let clock = Arc::new(SimulatedClock::new(receive));
    let rec = Recorder::start(
        config(&root, Duration::from_secs(1)),
        Arc::clone(&store),
        clock,
    )
    .unwrap();
    for s in &samples {
        rec.push(s);
    }
    rec.stop();
    let segments = all_segments(&store);
    assert!(segments.len() >= 2, "{segments:#?}");
    check_segments(&root, &segments);
    assert_eq!(segments[0].start, receive);
    assert!(segments.iter().all(|s| s.clock == ClockSource::Receive));
}

#[test]
fn a_push_never_waits_and_a_full_queue_drops_to_the_next_key_frame() {
    let samples = encode(90, 320, 240, 500);
    let (_dir, store, root) = setup();
    let clock = Arc::new(SimulatedClock::new(t("2031-05-04T10:00:00Z")));
    let mut cfg = config(&root, Duration::from_secs(1));
    cfg.queue_frames = 0;
    let rec = Recorder::start(cfg, Arc::clone(&store), clock).unwrap();
    // Starting mid-GOP: frames before the first key frame are dropped.
    for s in &samples[5..] {
        rec.push(s);
    }
    let stats = rec.stop();
    assert_eq!(stats.pushed, 0);
    assert_eq!(stats.dropped, 85);
    assert!(all_segments(&store).is_empty());
    assert!(matches!(
        Recorder::start(
            RecorderConfig::new(&root, CameraId::new("../etc"), StreamKind::Main),
            store,
            Arc::new(SimulatedClock::new(t("2031-05-04T10:00:00Z")))
        ),
        Err(RecorderError::InvalidInput(_))
    ));
}

/// Waits (at most 10 s) until the recorder has taken every frame and the
/// file being written stops growing.
fn wait_until_written(rec: &Recorder, root: &Path) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (None, 0u64);
    let mut steady = 0;
    loop {
        assert!(Instant::now() < deadline, "the segment was never written");
        let mut files = Vec::new();
        super::recover::find_writing_files_for_tests(root, &mut files);
        let size = files
            .first()
            .and_then(|f| std::fs::metadata(f).ok())
            .map_or(0, |m| m.len());
        let drained = rec.appsrc.current_level_buffers() == 0;
        if drained && size > 0 && last == (files.first().cloned(), size) {
            steady += 1;
            if steady >= 5 {
                return files.remove(0);
            }
        } else {
            steady = 0;
        }
        last = (files.first().cloned(), size);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn recovery_finishes_the_segment_a_crash_left_writing() {
    let written = 3.5;
    let samples = encode(105, 320, 240, 500);
    let (_dir, store, root) = setup();
    let clock = Arc::new(SimulatedClock::new(t("2031-05-04T10:00:00Z")));
    let rec = Recorder::start(
        config(&root, Duration::from_secs(10)),
        Arc::clone(&store),
        clock,
    )
    .unwrap();
    for s in &samples {
        rec.push(s);
    }
    let file = wait_until_written(&rec, &root);
    // kill -9: no end of stream; the file stays as the unbuffered sink left it.
    rec.abandon();
    assert!(file.to_string_lossy().ends_with(".mp4.writing"));
    let left = store.read_blocking(recordings::writing).unwrap();
    assert_eq!(left.len(), 1);
    assert!(all_segments(&store).is_empty());
    // And a row whose file never got a byte.
    store
        .write_blocking(|c| {
            recordings::insert_writing(
                c,
                &NewSegment {
                    camera: CameraId::new("cam-lobby"),
                    stream: StreamKind::Main,
                    start: t("2031-05-04T11:00:00Z"),
                    path: "cam-lobby/main/2031-05-04/20310504T110000.000Z.mp4.writing".into(),
                    clock: ClockSource::Receive,
                },
            )
        })
        .unwrap();

    let began = Instant::now();
    let report = recover(&root, &store).unwrap();
    let recover_ms = began.elapsed().as_millis();
    assert!(report.failed.is_empty(), "{report:#?}");
    assert_eq!(
        report.discarded,
        ["cam-lobby/main/2031-05-04/20310504T110000.000Z.mp4.writing"]
    );
    assert_eq!(report.recovered.len(), 1);
    let segments = all_segments(&store);
    assert_eq!(segments, report.recovered);
    check_segments(&root, &segments);
    let s = &segments[0];
    assert_eq!(s.start, t("2031-05-04T10:00:00Z"));
    assert!(!file.exists());
    // An ordinary MP4 now, not a fragmented one.
    assert!(!boxes(&root.join(&s.path)).contains(&"moof".to_owned()));
    let kept = (s.end - s.start).to_std().unwrap().as_secs_f64();
    assert!(kept >= written - 1.0 - 1.0, "kept {kept} s of {written} s");
    assert!(store.read_blocking(recordings::writing).unwrap().is_empty());
    // A second run finds nothing to do.
    assert_eq!(recover(&root, &store).unwrap(), RecoveryReport::default());
    eprintln!("recovery: kept {kept:.3} s of {written} s written, took {recover_ms} ms");
}

/// Process CPU time (user + system) so far, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 (utime, stime), counted from the state (field 3).
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// The figures: CPU per camera for 10 s of 1080p30 at 4 Mbit/s, bytes per
/// camera-hour, segment finalise time. `cargo test --lib recording_cost -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run by hand"]
fn recording_cost_1080p() {
    let samples = encode_pattern(300, 1920, 1080, 4000, "snow", "avc");
    let input: usize = samples.iter().map(|s| s.buffer().unwrap().size()).sum();
    let (_dir, store, root) = setup();
    let clock = Arc::new(SimulatedClock::new(t("2031-05-04T10:00:00Z")));
    let cpu0 = cpu_time();
    let wall0 = Instant::now();
    let rec = Recorder::start(
        config(&root, Duration::from_secs(2)),
        Arc::clone(&store),
        clock,
    )
    .unwrap();
    for s in &samples {
        rec.push(s);
    }
    let stop0 = Instant::now();
    let stats = rec.stop();
    let stop_ms = stop0.elapsed().as_millis();
    let cpu = cpu_time() - cpu0;
    let wall = wall0.elapsed();
    let segments = all_segments(&store);
    check_segments(&root, &segments);
    let bytes: u64 = segments.iter().map(|s| s.bytes).sum();
    let secs = (segments.last().unwrap().end - segments[0].start)
        .to_std()
        .unwrap()
        .as_secs_f64();
    println!(
        "{{\"recorded_s\":{secs:.3},\"segments\":{},\"cpu_ms\":{},\"cpu_percent_of_realtime\":{:.2},\
         \"wall_ms\":{},\"stop_ms\":{stop_ms},\"max_finalise_ms\":{:.1},\"bytes\":{bytes},\
         \"input_bytes\":{input},\"container_overhead_percent\":{:.2},\"gb_per_camera_hour\":{:.3}}}",
        segments.len(),
        cpu.as_millis(),
        cpu.as_secs_f64() / secs * 100.0,
        wall.as_millis(),
        stats.max_finalise_us as f64 / 1000.0,
        (bytes as f64 / input as f64 - 1.0) * 100.0,
        bytes as f64 / secs * 3600.0 / 1e9
    );
}

#[test]
fn timestamps_that_go_back_continue_after_the_last_frame() {
    let ms = gst::ClockTime::from_mseconds;
    let mut r = super::Rebase::default();
    assert_eq!(r.map(ms(1000)), ms(1000));
    assert_eq!(r.map(ms(1040)), ms(1040));
    assert_eq!(r.map(ms(1080)), ms(1080));
    // The camera restarts at zero: one frame period after the last.
    assert_eq!(r.map(ms(0)), ms(1120));
    assert_eq!(r.map(ms(40)), ms(1160));
    // A repeated timestamp moves on too.
    assert_eq!(r.map(ms(40)), ms(1200));
}

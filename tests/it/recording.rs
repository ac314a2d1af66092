#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Recording end to end on the real site: the live demo camera (the clock)
//! is ingested once, its main stream recorded in 2 s segments, listed by
//! the coverage call, and each finished segment served over HTTP as an
//! ordinary MP4 with byte ranges and its SHA-256 as ETag; the file plays
//! and lasts what the index says. Roles and bad input are refused.

use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use serde_json::Value;
use sha2::Digest;
use watchdesk::config::CameraSource;
use watchdesk::domain::{Coverage, Role};

use crate::common::{TestSite, eventually, start_site_with};

async fn recording_site() -> TestSite {
    start_site_with(|c| {
        c.video.demo_cameras = true;
        c.video.latency_camera = true;
        c.video.main_width = 320;
        c.video.main_height = 180;
        c.video.sub_width = 160;
        c.video.sub_height = 90;
        c.cameras
            .retain(|c| matches!(&c.source, CameraSource::Demo { scene } if scene == "clock"));
        c.recording.enabled = true;
        c.recording.segment_secs = 2;
        // Its sub stream too.
        c.recording.cameras.insert(
            watchdesk::domain::CameraId::new("cam-clock"),
            watchdesk::config::RecordingKeep {
                record_sub: true,
                ..Default::default()
            },
        );
    })
    .await
}

fn range_of_the_last_hour() -> String {
    let now = chrono::Utc::now();
    let from =
        (now - chrono::TimeDelta::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to =
        (now + chrono::TimeDelta::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!("from={from}&to={to}")
}

/// The file's duration as `qtdemux` reads it, after it plays to its end.
fn plays_to_the_end(path: &std::path::Path) -> Duration {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! qtdemux ! h264parse ! fakesink sync=false",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS or an error within 10 s");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("the segment does not play: {} {:?}", e.error(), e.debug());
    }
    let duration = pipeline.query_duration::<gst::ClockTime>().unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    Duration::from_nanos(duration.nseconds())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_records_a_camera_and_serves_its_segments_with_ranges() {
    let site = recording_site().await;
    let token = site.token(Role::Operator).await;
    let range = range_of_the_last_hour();
    let path = format!("/api/v1/recordings/cam-clock?{range}");
    let coverage: Coverage =
        eventually("two finished segments", Duration::from_secs(40), || async {
            let r = site.get(&token, &path).await;
            assert_eq!(r.status(), 200, "coverage");
            let c: Coverage = r.json().await.unwrap();
            (c.segments.len() >= 2).then_some(c)
        })
        .await;
    let sub_path = format!("{path}&stream=sub");
    let sub: Coverage = eventually("a sub stream segment", Duration::from_secs(20), || async {
        let c: Coverage = site.get(&token, &sub_path).await.json().await.unwrap();
        (!c.segments.is_empty()).then_some(c)
    })
    .await;
    let rate = |s: &watchdesk::domain::Segment| {
        s.bytes as f64 / (s.end - s.start).num_milliseconds().max(1) as f64
    };
    assert!(
        rate(&sub.segments[0]) < rate(&coverage.segments[1]),
        "the sub stream is the smaller one: {:.1} vs {:.1} bytes/ms",
        rate(&sub.segments[0]),
        rate(&coverage.segments[1])
    );
    let (a, b) = (&coverage.segments[0], &coverage.segments[1]);
    assert!(
        a.end <= b.start + chrono::TimeDelta::milliseconds(100),
        "{a:?} {b:?}"
    );
    assert!(
        (b.start - a.end).num_milliseconds().abs() < 100,
        "consecutive segments leave no gap: {} ms",
        (b.start - a.end).num_milliseconds()
    );
    assert!(!a.key_frames_us.is_empty() && a.key_frames_us[0] == 0);

    // The whole file: its bytes, its SHA-256 as ETag, and it plays.
    let url = format!("/api/v1/recordings/segments/{}", a.id);
    let r = site.get(&token, &url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", a.sha256));
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len() as u64, a.bytes);
    assert_eq!(hex::encode(sha2::Sha256::digest(&body)), a.sha256);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.mp4");
    std::fs::write(&file, &body).unwrap();
    let played = tokio::task::spawn_blocking(move || plays_to_the_end(&file))
        .await
        .unwrap();
    let indexed = (a.end - a.start).to_std().unwrap();
    let diff = played.as_secs_f64() - indexed.as_secs_f64();
    assert!(diff.abs() < 0.1, "plays {played:?}, indexed {indexed:?}");

    // A byte range, an unchanged copy, a range past the end.
    let ranged = site
        .http
        .get(site.url(&url))
        .bearer_auth(&token)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.unwrap(), body.slice(100..200));
    let unchanged = site
        .http
        .get(site.url(&url))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    let past = site
        .http
        .get(site.url(&url))
        .bearer_auth(&token)
        .header("range", format!("bytes={}-", a.bytes + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);

    // Refusals: a role without recordings, bad input, unknown things.
    let viewer = site.token(Role::Viewer).await;
    assert_eq!(site.get(&viewer, &path).await.status(), 403);
    assert_eq!(site.get(&viewer, &url).await.status(), 403);
    for bad in [
        "/api/v1/recordings/cam-clock?from=yesterday&to=today".to_owned(),
        format!("/api/v1/recordings/cam-clock?{range}&stream=third"),
        "/api/v1/recordings/cam-clock?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z".into(),
        "/api/v1/recordings/segments/abc".into(),
    ] {
        assert_eq!(site.get(&token, &bad).await.status(), 400, "{bad}");
    }
    assert_eq!(
        site.get(&token, &format!("/api/v1/recordings/cam-nope?{range}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        site.get(&token, "/api/v1/recordings/segments/999999")
            .await
            .status(),
        404
    );
    // An evidence lock: placed by an investigator, refused to an operator,
    // checked, listed, audited.
    let investigator = site.token(Role::Investigator).await;
    let lock = serde_json::json!({
        "cameras": ["cam-clock"],
        "start": a.start.to_rfc3339(),
        "end": b.end.to_rfc3339(),
        "reason": "door forced, case 2026-118",
    });
    let r = site
        .post(&investigator, "/api/v1/evidence-locks", lock.clone())
        .await;
    assert_eq!(r.status(), 200);
    let placed: Value = r.json().await.unwrap();
    assert_eq!(placed["by"], "investigator");
    assert_eq!(
        site.post(&token, "/api/v1/evidence-locks", lock.clone())
            .await
            .status(),
        403,
        "an operator may not lock evidence"
    );
    for (field, value) in [
        ("cameras", serde_json::json!(["cam-nope"])),
        ("cameras", serde_json::json!([])),
        ("end", serde_json::json!(a.start.to_rfc3339())),
        ("reason", serde_json::json!("  ")),
        ("until", serde_json::json!("2020-01-01T00:00:00Z")),
    ] {
        let mut bad = lock.clone();
        bad[field] = value;
        let r = site
            .post(&investigator, "/api/v1/evidence-locks", bad)
            .await;
        assert_eq!(r.status(), 400, "{field}");
    }
    let locks: Vec<Value> = site
        .get(&token, "/api/v1/evidence-locks")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0]["id"], placed["id"]);
    // Removed by an investigator, refused to the operator, gone after.
    let unlock = format!("/api/v1/evidence-locks/{}", placed["id"].as_str().unwrap());
    let delete = |t: &str| {
        site.http
            .delete(site.url(&unlock))
            .bearer_auth(t.to_owned())
            .send()
    };
    assert_eq!(delete(&token).await.unwrap().status(), 403);
    assert_eq!(delete(&investigator).await.unwrap().status(), 204);
    assert_eq!(delete(&investigator).await.unwrap().status(), 404);
    let locks: Vec<Value> = site
        .get(&token, "/api/v1/evidence-locks")
        .await
        .json()
        .await
        .unwrap();
    assert!(locks.is_empty());
    // A bookmark: placed by the operator, found by words, camera and time,
    // announced, refused to a viewer and to a blank title.
    let mark = serde_json::json!({
        "cameras": ["cam-clock"],
        "start": a.start.to_rfc3339(),
        "end": a.end.to_rfc3339(),
        "title": "Tailgating at the clock",
        "note": "two people, one badge",
    });
    let r = site.post(&token, "/api/v1/bookmarks", mark.clone()).await;
    assert_eq!(r.status(), 200);
    let placed: Value = r.json().await.unwrap();
    assert_eq!(placed["by"], "operator");
    assert_eq!(
        site.post(&viewer, "/api/v1/bookmarks", mark.clone())
            .await
            .status(),
        403
    );
    let mut blank = mark.clone();
    blank["title"] = serde_json::json!(" ");
    assert_eq!(
        site.post(&token, "/api/v1/bookmarks", blank).await.status(),
        400
    );
    let find = |q: String| {
        let (site, token) = (&site, &token);
        async move {
            let found: Vec<Value> = site
                .get(token, &format!("/api/v1/bookmarks?{q}"))
                .await
                .json()
                .await
                .unwrap();
            found.len()
        }
    };
    assert_eq!(find("q=TAILGATING".into()).await, 1);
    assert_eq!(find("q=nothing-like-it".into()).await, 0);
    assert_eq!(find("camera=cam-clock".into()).await, 1);
    assert_eq!(find("camera=cam-lobby".into()).await, 0);
    let later =
        (b.end + chrono::TimeDelta::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(find(format!("from={later}")).await, 0);
    site.wait_event(&token, "type=bookmark.added", Duration::from_secs(5), |e| {
        e["bookmark"] == placed["id"]
    })
    .await;
    // Audited.
    let admin = site.token(Role::Admin).await;
    let locked = site.audit(&admin, "action=evidence.lock").await;
    assert_eq!(locked.len(), 7, "the lock and its six refusals: {locked:?}");
    let audit: Vec<Value> = site.audit(&admin, "action=recording.view").await;
    assert!(!audit.is_empty(), "coverage reads are audited");
    site.handle.shutdown().await;
}

/// The demo site's files in `dir`, its scenes tiny and short (a fast first
/// encode), its segments 4 s.
fn small_demo_copy(dir: &std::path::Path) -> std::path::PathBuf {
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for sub in ["config", "maps", "assets/photos"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(repo.join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    let site = dir.join("config/site.toml");
    let mut text = std::fs::read_to_string(&site).unwrap();
    for (from, to) in [
        ("scene_seconds = 10", "scene_seconds = 2"),
        ("main_width = 1280", "main_width = 320"),
        ("main_height = 720", "main_height = 180"),
        ("sub_width = 640", "sub_width = 160"),
        ("sub_height = 360", "sub_height = 90"),
        ("segment_secs = 60", "segment_secs = 4"),
    ] {
        assert!(text.contains(from), "site.toml changed shape: {from}");
        text = text.replace(from, to);
    }
    std::fs::write(&site, text).unwrap();
    site
}

/// The real site as a process of its own, for a real `kill -9`.
struct SiteProcess {
    child: std::process::Child,
    base: String,
}

impl SiteProcess {
    fn start(config: &std::path::Path, data: &std::path::Path) -> SiteProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_watchdesk"))
            .args(["site", "--embedded", "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix(watchdesk::site::EMBEDDED_READY)
            .unwrap_or_else(|| panic!("not the ready line: {line:?}"))
            .to_owned();
        SiteProcess { child, base }
    }
}

impl Drop for SiteProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"username": "operator", "password": "demo-operator"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn coverage(http: &reqwest::Client, base: &str, token: &str) -> Coverage {
    http.get(format!(
        "{base}/api/v1/recordings/cam-clock?{}",
        range_of_the_last_hour()
    ))
    .bearer_auth(token)
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_loses_at_most_a_key_frame_interval_and_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_demo_copy(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let site = SiteProcess::start(&config, &data);
    let token = sign_in(&http, &site.base).await;
    eventually("recording runs", Duration::from_secs(90), || async {
        (coverage(&http, &site.base, &token).await.segments.len() >= 2).then_some(())
    })
    .await;
    // Into the next segment, then the process dies without a word.
    let before = coverage(&http, &site.base, &token).await;
    let last_done = before.segments.last().unwrap().end;
    eventually(
        "3 s into the next segment",
        Duration::from_secs(10),
        || async {
            (chrono::Utc::now() > last_done + chrono::TimeDelta::milliseconds(3000)).then_some(())
        },
    )
    .await;
    let mut site = site;
    let killed_at = chrono::Utc::now();
    site.child.kill().unwrap(); // SIGKILL
    site.child.wait().unwrap();
    drop(site);

    // The next start finishes the segment the kill cut short.
    let again = SiteProcess::start(&config, &data);
    let token = sign_in(&http, &again.base).await;
    let after = coverage(&http, &again.base, &token).await;
    let recovered = after
        .segments
        .iter()
        .filter(|s| s.start < killed_at)
        .max_by_key(|s| s.end)
        .expect("segments before the kill");
    let lost = killed_at - recovered.end;
    eprintln!(
        "kill -9: {} ms before the kill lost (segment {} recovered, {} before)",
        lost.num_milliseconds(),
        recovered.id,
        before.segments.len()
    );
    assert!(recovered.end > last_done, "the cut segment is indexed");
    // The bound: a key-frame interval (1 s here) and a second, plus 250 ms
    // for the way from the camera's capture to the disk and the kill itself.
    assert!(
        lost <= chrono::TimeDelta::milliseconds(2000 + 250),
        "lost {} ms: more than a key-frame interval (1 s) and a second",
        lost.num_milliseconds()
    );
    // And it plays.
    let body = http
        .get(format!(
            "{}/api/v1/recordings/segments/{}",
            again.base, recovered.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(hex::encode(sha2::Sha256::digest(&body)), recovered.sha256);
    let file = dir.path().join("recovered.mp4");
    std::fs::write(&file, &body).unwrap();
    let played = tokio::task::spawn_blocking(move || plays_to_the_end(&file))
        .await
        .unwrap();
    let indexed = (recovered.end - recovered.start).to_std().unwrap();
    assert!(
        (played.as_secs_f64() - indexed.as_secs_f64()).abs() < 0.1,
        "plays {played:?}, indexed {indexed:?}"
    );
}

/// The frame a playback tile shows for time `t`, once it is there.
async fn frame_for(
    engine: &watchdesk::video::VideoEngine,
    camera: &watchdesk::domain::Camera,
    want: &watchdesk::video::PlaybackWant,
    after: u64,
) -> std::sync::Arc<watchdesk::video::Frame> {
    let slack = chrono::TimeDelta::seconds(2);
    eventually(
        &format!("a frame for {}", want.position),
        Duration::from_secs(15),
        || async {
            let view = engine.tile(&watchdesk::video::TileRequest {
                key: "playback",
                camera,
                size_px: [320, 180],
                single_view: true,
                playback: Some(want),
            });
            view.frame.filter(|f| {
                f.number > after
                    && f.capture_time
                        .is_some_and(|c| (c - want.position).abs() < slack)
            })
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_over_http_shows_the_frame_captured_at_the_asked_time() {
    use watchdesk::domain::{SegmentRef, timecode};
    use watchdesk::video::{Credentials, EngineOptions, PlaybackWant, VideoEngine};
    let site = recording_site().await;
    let token = site.token(Role::Operator).await;
    let path = format!("/api/v1/recordings/cam-clock?{}", range_of_the_last_hour());
    let coverage: Coverage = eventually(
        "four finished segments",
        Duration::from_secs(40),
        || async {
            let c: Coverage = site.get(&token, &path).await.json().await.unwrap();
            (c.segments.len() >= 4).then_some(c)
        },
    )
    .await;
    let segments: std::sync::Arc<[SegmentRef]> = coverage
        .segments
        .iter()
        .map(|s| SegmentRef {
            id: s.id,
            start: s.start,
            end: s.end,
            url: site.url(&format!("/api/v1/recordings/segments/{}", s.id)),
        })
        .collect();
    let snapshot: watchdesk::domain::Snapshot = site
        .get(&token, "/api/v1/snapshot")
        .await
        .json()
        .await
        .unwrap();
    let camera = snapshot
        .cameras
        .into_iter()
        .find(|c| c.id.as_str() == "cam-clock")
        .unwrap();
    let engine = VideoEngine::new(EngineOptions::new(std::sync::Arc::new(|| {})));
    engine.set_session_credentials(Some(Credentials {
        user: "operator".into(),
        password: token.clone(),
    }));
    let period = chrono::TimeDelta::milliseconds(1000 / 25);
    let ms = chrono::TimeDelta::milliseconds;
    // Inside a segment, early in one, and just after a boundary; then back
    // into an earlier one (a seek backwards into another file). The first
    // segment is left out: its frames before the camera's first sender
    // report have extrapolated times (up to 83 ms off measured here).
    let times = [
        segments[2].start + ms(700),
        segments[3].start + ms(1300),
        segments[3].start + ms(20),
        segments[1].start + ms(500),
    ];
    let mut last = 0;
    for (n, t) in times.into_iter().enumerate() {
        let want = PlaybackWant {
            segments: segments.clone(),
            position: t,
            rate: 1.0,
            seek: n as u64 + 1,
            exact: true,
        };
        let frame = frame_for(&engine, &camera, &want, last).await;
        last = frame.number;
        let shown = frame.capture_time.unwrap();
        let burned = timecode::read_rgba(&frame.rgba, frame.width, frame.height)
            .expect("the clock camera's time code reads back");
        let burned = chrono::DateTime::from_timestamp_millis(burned as i64).unwrap();
        // The picture is the one captured at T: the camera's own burned-in
        // time is within one frame period before T (give or take the
        // index's precision: RTCP times, ±2 ms measured, 10 ms allowed).
        assert!(
            burned <= t + ms(10) && burned > t - period - ms(10),
            "seek {n}: asked {t}, the picture was captured at {burned} ({} ms off)",
            (t - burned).num_milliseconds()
        );
        assert!(
            (shown - burned).abs() <= ms(10),
            "seek {n}: the index says {shown}, the picture says {burned}"
        );
    }
    // A tile asked before the recordings are known starts once they are.
    let t = segments[2].start + ms(300);
    let mut want = PlaybackWant {
        segments: std::sync::Arc::from(Vec::new()),
        position: t,
        rate: 1.0,
        seek: 50,
        exact: true,
    };
    for _ in 0..20 {
        let v = engine.tile(&watchdesk::video::TileRequest {
            key: "early",
            camera: &camera,
            size_px: [320, 180],
            single_view: true,
            playback: Some(&want),
        });
        assert_eq!(v.status, watchdesk::video::TileStatus::NoRecording);
        std::thread::sleep(Duration::from_millis(10));
    }
    want.segments = segments.clone();
    let mut early = want.clone();
    early.position = t;
    let _ = eventually("the early tile plays", Duration::from_secs(15), || async {
        let v = engine.tile(&watchdesk::video::TileRequest {
            key: "early",
            camera: &camera,
            size_px: [320, 180],
            single_view: true,
            playback: Some(&early),
        });
        v.frame
            .filter(|f| f.capture_time.is_some_and(|c| (c - t).abs() < ms(100)))
    })
    .await;

    // A drag's seek lands on the key frame at or before the position.
    let t = segments[1].start + ms(1500);
    let want = PlaybackWant {
        segments: segments.clone(),
        position: t,
        rate: 1.0,
        seek: 100,
        exact: false,
    };
    let frame = frame_for(&engine, &camera, &want, last).await;
    let shown = frame.capture_time.unwrap();
    assert!(
        shown <= t && shown > t - chrono::TimeDelta::seconds(1) - ms(2),
        "a key frame within a GOP before {t}: {shown}"
    );

    // At 8× only key frames are decoded: every frame shown while the
    // clock runs through two segments starts a GOP (a key frame a second,
    // each segment starting on one).
    let from = segments[1].start + ms(100);
    let t0 = std::time::Instant::now();
    let mut shown = std::collections::BTreeSet::new();
    while t0.elapsed() < Duration::from_millis(500) {
        let position = from + chrono::TimeDelta::from_std(t0.elapsed() * 8).unwrap();
        let fast = PlaybackWant {
            segments: segments.clone(),
            position,
            rate: 8.0,
            seek: 200,
            exact: true,
        };
        let v = engine.tile(&watchdesk::video::TileRequest {
            key: "fast",
            camera: &camera,
            size_px: [320, 180],
            single_view: true,
            playback: Some(&fast),
        });
        if let Some(c) = v.frame.and_then(|f| f.capture_time) {
            shown.insert(c);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(shown.len() >= 2, "frames at 8×: {shown:?}");
    for c in &shown {
        let segment = segments
            .iter()
            .find(|s| s.start <= *c && *c < s.end)
            .expect("a frame of a segment");
        let into = (*c - segment.start).num_milliseconds() % 1000;
        assert!(
            !(20..980).contains(&into),
            "a delta frame at 8×: {c}, {into} ms into its second"
        );
    }
}

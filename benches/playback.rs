//! `cargo bench --bench playback`: recorded video on this machine, in one
//! run. The real site runs in this process with four 1920×1080 demo
//! cameras (25 fps, a key frame a second; one of them live-encoded with its
//! capture time burned in), recorded in 10 s segments; the video engine
//! plays them back over HTTP as the client does.
//!
//! Figures: playback start (request → first frame), exact seeks (request →
//! the frame at the new time), scrubbing (frames shown per second while a
//! drag moves the position 0.5 s every 33 ms), the spread between four
//! tiles on one clock after 60 s of playback and after 10 seeks, the
//! timeline's frame time with a week of coverage and 100,000 door events,
//! and recording's CPU per camera and bytes per camera-hour. The relay's
//! added latency and CPU are the live bench's phase G
//! (`LIVE_BENCH_ONLY=relay cargo bench --bench live`).
//!
//! Prints a table, then one JSON line with every figure.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use watchdesk::config::CameraSource;
use watchdesk::domain::{Camera, Coverage, SegmentRef, Timestamp};
use watchdesk::video::{Credentials, EngineOptions, PlaybackWant, TileRequest, VideoEngine};

type BenchResult<T> = Result<T, String>;

const TILE_PX: [u32; 2] = [960, 540];
const PERIOD_MS: i64 = 40;

fn main() {
    if let Err(e) = run() {
        eprintln!("playback bench failed: {e}");
        std::process::exit(1);
    }
}

struct Site {
    handle: watchdesk::site::SiteHandle,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
    token: String,
}

impl Site {
    async fn coverage(&self, camera: &str) -> BenchResult<Vec<SegmentRef>> {
        let now = chrono::Utc::now();
        let from = (now - chrono::TimeDelta::hours(1)).to_rfc3339();
        let to = (now + chrono::TimeDelta::minutes(1)).to_rfc3339();
        let url = format!("{}/api/v1/recordings/{camera}", self.handle.base_url());
        let c: Coverage = self
            .http
            .get(url)
            .query(&[("from", from), ("to", to), ("key_frames", "false".into())])
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(c.segments
            .iter()
            .map(|s| SegmentRef {
                id: s.id,
                start: s.start,
                end: s.end,
                url: format!(
                    "{}/api/v1/recordings/segments/{}",
                    self.handle.base_url(),
                    s.id
                ),
            })
            .collect())
    }
}

async fn start_site() -> BenchResult<Site> {
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cfg = watchdesk::config::SiteConfig::load(&repo.join("config/site.toml"))
        .map_err(|e| e.to_string())?;
    cfg.traffic.enabled = false;
    cfg.video.demo_cameras = true;
    cfg.video.latency_camera = true;
    cfg.video.main_width = 1920;
    cfg.video.main_height = 1080;
    cfg.video.sub_width = 640;
    cfg.video.sub_height = 360;
    let mut scenes = 0;
    cfg.cameras.retain(|c| match &c.source {
        CameraSource::Demo { scene } if scene == "clock" => true,
        CameraSource::Demo { .. } => {
            scenes += 1;
            scenes <= 3
        }
        _ => false,
    });
    cfg.recording.enabled = true;
    cfg.recording.segment_secs = 10;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    cfg.maps_dir = repo.join("maps");
    let handle = watchdesk::site::start(watchdesk::site::SiteOptions {
        config: cfg,
        listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        data_dir: dir.path().to_owned(),
        fault_injection: false,
        tls: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let v: serde_json::Value = http
        .post(format!("{}/api/v1/auth/sign-in", handle.base_url()))
        .json(&serde_json::json!({"username": "operator", "password": "demo-operator"}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let token = v["token"].as_str().ok_or("no token")?.to_owned();
    Ok(Site {
        handle,
        _dir: dir,
        http,
        token,
    })
}

/// Polls `tile` until a frame newer than `after` whose capture time is
/// within a frame of `at` is shown; its arrival, or None after 10 s.
fn wait_frame(
    engine: &VideoEngine,
    key: &str,
    camera: &Camera,
    want: &PlaybackWant,
    after: u64,
    started: Instant,
) -> Option<(Duration, u64, Timestamp)> {
    let slack = chrono::TimeDelta::milliseconds(PERIOD_MS + 10);
    while started.elapsed() < Duration::from_secs(10) {
        let v = engine.tile(&TileRequest {
            key,
            camera,
            size_px: TILE_PX,
            single_view: false,
            playback: Some(want),
        });
        if let Some(f) = v.frame
            && f.number > after
            && let Some(c) = f.capture_time
            && (c - want.position).abs() <= slack
        {
            return Some((started.elapsed(), f.number, c));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (
        common::percentile(&v, 0.50),
        common::percentile(&v, 0.95),
        v.last().copied().unwrap_or(0.0),
    )
}

/// CPU ticks of this process's threads whose names start with one of
/// `prefixes`.
fn thread_ticks(prefixes: &[&str]) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| prefixes.iter().any(|p| c.starts_with(p)))
        })
        .filter_map(|t| common::cpu_ticks(&t.path().join("stat").to_string_lossy()))
        .sum()
}

fn run() -> BenchResult<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    println!("starting the site (four 1080p cameras; scenes encode once)…");
    let site = rt.block_on(start_site())?;
    let cameras: Vec<Camera> = {
        let snap: watchdesk::domain::Snapshot = rt
            .block_on(async {
                site.http
                    .get(format!("{}/api/v1/snapshot", site.handle.base_url()))
                    .bearer_auth(&site.token)
                    .send()
                    .await?
                    .json()
                    .await
            })
            .map_err(|e| e.to_string())?;
        snap.cameras
    };
    let ids: Vec<String> = cameras.iter().map(|c| c.id.to_string()).collect();
    // Recording CPU from here: the recorders' threads and their muxers.
    let rec_prefixes = ["rec-", "muxer", "splitmux"];
    let rec_ticks0 = thread_ticks(&rec_prefixes);
    let rec_t0 = Instant::now();
    println!("waiting for 30 s of recordings of {} cameras…", ids.len());
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut segments: Vec<Arc<[SegmentRef]>>;
    loop {
        segments = ids
            .iter()
            .map(|id| rt.block_on(site.coverage(id)).map(Arc::from))
            .collect::<BenchResult<_>>()?;
        if segments.iter().all(|s| s.len() >= 3) {
            break;
        }
        if Instant::now() > deadline {
            return Err("no recordings within 5 min".into());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let engine = VideoEngine::new(EngineOptions::new(Arc::new(|| {})));
    engine.set_session_credentials(Some(Credentials {
        user: "operator".into(),
        password: site.token.clone(),
    }));
    let clock = &cameras[ids.iter().position(|i| i == "cam-clock").unwrap_or(0)];
    let clock_segments = segments[ids.iter().position(|i| i == "cam-clock").unwrap_or(0)].clone();
    let span_start = clock_segments[1].start;
    let span_end = clock_segments[clock_segments.len() - 1].end - chrono::TimeDelta::seconds(1);
    let span_ms = (span_end - span_start).num_milliseconds().max(1);
    let mut rng_state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random_time = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        span_start + chrono::TimeDelta::milliseconds((rng_state % span_ms as u64) as i64)
    };

    // Start: a fresh tile each time.
    let mut starts = Vec::new();
    for i in 0..6 {
        let want = PlaybackWant {
            segments: clock_segments.clone(),
            position: random_time(),
            rate: 1.0,
            seek: 1,
            exact: true,
        };
        let t0 = Instant::now();
        let key = format!("start-{i}");
        let got = wait_frame(&engine, &key, clock, &want, 0, t0).ok_or("no first frame")?;
        starts.push(ms(got.0));
        engine.end_frame();
    }
    // Seeks: one tile, exact seeks to random times across the segments.
    let mut seeks = Vec::new();
    let mut last = 0;
    for n in 0..24u64 {
        let want = PlaybackWant {
            segments: clock_segments.clone(),
            position: random_time(),
            rate: 1.0,
            seek: 100 + n,
            exact: true,
        };
        let t0 = Instant::now();
        let (d, number, _) =
            wait_frame(&engine, "seek", clock, &want, last, t0).ok_or("a seek gave no frame")?;
        last = number;
        if n >= 4 {
            seeks.push(ms(d));
        }
    }
    // Scrub: the drag moves 0.5 s every 33 ms for 5 s.
    let scrub_start = span_start;
    let mut shown = std::collections::HashSet::new();
    let t0 = Instant::now();
    let mut step = 0u64;
    while t0.elapsed() < Duration::from_secs(5) {
        let want = PlaybackWant {
            segments: clock_segments.clone(),
            position: scrub_start + chrono::TimeDelta::milliseconds(500 * step as i64 % span_ms),
            rate: 1.0,
            seek: 1000 + step,
            exact: false,
        };
        let until = Instant::now() + Duration::from_millis(33);
        while Instant::now() < until {
            let v = engine.tile(&TileRequest {
                key: "scrub",
                camera: clock,
                size_px: TILE_PX,
                single_view: false,
                playback: Some(&want),
            });
            if let Some(f) = v.frame {
                shown.insert(f.number);
            }
            std::thread::sleep(Duration::from_millis(4));
        }
        step += 1;
    }
    let scrub_fps = shown.len() as f64 / t0.elapsed().as_secs_f64();
    engine.end_frame();

    // Four tiles on one clock for 60 s from the oldest recording, the
    // segment lists read again every 5 s (new ones finish meanwhile).
    let play_secs: u64 = std::env::var("PLAYBACK_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let p0 = segments
        .iter()
        .map(|s| s[0].start)
        .max()
        .unwrap_or(span_start)
        + chrono::TimeDelta::seconds(1);
    let mut spreads = Vec::new();
    let mut last_read = Instant::now();
    let t0 = Instant::now();
    let drift_cpu0 = common::cpu_ticks("/proc/self/stat").unwrap_or(0);
    while t0.elapsed() < Duration::from_secs(play_secs) {
        if last_read.elapsed() > Duration::from_secs(5) {
            for (i, id) in ids.iter().enumerate() {
                if let Ok(s) = rt.block_on(site.coverage(id)) {
                    segments[i] = Arc::from(s);
                }
            }
            last_read = Instant::now();
        }
        let position = p0 + chrono::TimeDelta::from_std(t0.elapsed()).unwrap_or_default();
        let spread = spread_at(&engine, &cameras, &segments, position, 1);
        if t0.elapsed() > Duration::from_secs(5)
            && let Some(s) = spread
        {
            spreads.push(s);
        }
        std::thread::sleep(Duration::from_millis(16));
    }
    let play_cpu = common::cpu_ticks("/proc/self/stat").unwrap_or(0) - drift_cpu0;
    let play_cpu_pct =
        play_cpu as f64 / common::clock_ticks_per_second() / t0.elapsed().as_secs_f64() * 100.0;
    let rec_cpu = thread_ticks(&rec_prefixes) - rec_ticks0;
    let rec_cpu_pct =
        rec_cpu as f64 / common::clock_ticks_per_second() / rec_t0.elapsed().as_secs_f64() * 100.0
            / ids.len() as f64;
    let end_spread = spreads.iter().rev().take(60).copied().fold(0.0, f64::max);
    let (spread_med, spread_p95, spread_max) = stats(spreads.clone());
    // Ten seeks, each followed by 2 s of playback.
    let mut seek_spreads = Vec::new();
    for n in 0..10u64 {
        let at = p0 + chrono::TimeDelta::seconds((n as i64 * 7) % 25);
        let t1 = Instant::now();
        let mut worst: f64 = 0.0;
        while t1.elapsed() < Duration::from_secs(2) {
            let position = at + chrono::TimeDelta::from_std(t1.elapsed()).unwrap_or_default();
            if let Some(s) = spread_at(&engine, &cameras, &segments, position, 10_000 + n)
                && t1.elapsed() > Duration::from_millis(1500)
            {
                worst = worst.max(s);
            }
            std::thread::sleep(Duration::from_millis(16));
        }
        seek_spreads.push(worst);
    }
    let after_seeks = seek_spreads.iter().copied().fold(0.0, f64::max);

    // Bytes per camera-hour, main streams as recorded.
    let all = rt.block_on(async {
        let mut bytes = 0u64;
        let mut secs = 0.0;
        for id in &ids {
            let now = chrono::Utc::now();
            let url = format!("{}/api/v1/recordings/{id}", site.handle.base_url());
            let c: Coverage = site
                .http
                .get(url)
                .query(&[
                    ("from", (now - chrono::TimeDelta::hours(1)).to_rfc3339()),
                    ("to", now.to_rfc3339()),
                ])
                .bearer_auth(&site.token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            for s in c.segments {
                bytes += s.bytes;
                secs += (s.end - s.start).num_milliseconds() as f64 / 1000.0;
            }
        }
        Some((bytes, secs))
    });
    let (bytes, secs) = all.unwrap_or((0, 1.0));
    let gb_per_camera_hour = bytes as f64 / secs.max(1.0) * 3600.0 / 1e9;

    // The timeline: a week of one-minute segments for four cameras and
    // 100,000 door events.
    let (tl_med, tl_p99, tl_max) = timeline_frames();

    let (start_med, start_p95, start_max) = stats(starts);
    let (seek_med, seek_p95, seek_max) = stats(seeks);
    println!();
    println!("| figure | measured | target |");
    println!("|---|---|---|");
    println!(
        "| playback start (request → first frame), 1080p | median {start_med:.0} ms, p95 {start_p95:.0} ms, max {start_max:.0} ms | ≤ 500 ms |"
    );
    println!(
        "| exact seek (request → frame at the new time), 1080p, 1 s GOP | median {seek_med:.0} ms, p95 {seek_p95:.0} ms, max {seek_max:.0} ms | median ≤ 150, p95 ≤ 250 ms |"
    );
    println!("| scrub: frames shown while dragging | {scrub_fps:.1} /s | — |");
    println!(
        "| 4 tiles on one clock, spread over {play_secs} s | median {spread_med:.1} ms, p95 {spread_p95:.1} ms, max {spread_max:.1} ms; last second {end_spread:.1} ms | ≤ one frame (40 ms) |"
    );
    println!(
        "| 4 tiles, worst spread 1.5–2 s after each of 10 seeks | {after_seeks:.1} ms | ≤ one frame (40 ms) |"
    );
    println!(
        "| timeline frame, a week × 4 cameras + 100,000 door events | median {tl_med:.2} ms, p99 {tl_p99:.2} ms, max {tl_max:.2} ms | p99 ≤ 16 ms |"
    );
    println!("| playback of 4 × 1080p at 1×, this process | {play_cpu_pct:.0} % of a core | — |");
    println!(
        "| recording CPU per camera (1080p main, no decoding) | {rec_cpu_pct:.2} % of a core | — |"
    );
    println!("| disk per camera-hour (1080p main) | {gb_per_camera_hour:.2} GB | — |");
    println!(
        "{}",
        serde_json::json!({
            "start_ms": {"median": start_med, "p95": start_p95, "max": start_max},
            "seek_ms": {"median": seek_med, "p95": seek_p95, "max": seek_max},
            "scrub_fps": scrub_fps,
            "spread_ms": {"median": spread_med, "p95": spread_p95, "max": spread_max, "last_second": end_spread, "after_10_seeks": after_seeks},
            "timeline_ms": {"median": tl_med, "p99": tl_p99, "max": tl_max},
            "playback_cpu_pct": play_cpu_pct,
            "recording_cpu_pct_per_camera": rec_cpu_pct,
            "gb_per_camera_hour": gb_per_camera_hour,
        })
    );
    drop(engine);
    rt.block_on(site.handle.shutdown());
    Ok(())
}

/// Asks every tile for `position` and returns the spread of the capture
/// times they show, ms (None until all four show a frame near it).
fn spread_at(
    engine: &VideoEngine,
    cameras: &[Camera],
    segments: &[Arc<[SegmentRef]>],
    position: Timestamp,
    seek: u64,
) -> Option<f64> {
    let mut times = Vec::new();
    for (i, camera) in cameras.iter().enumerate() {
        let want = PlaybackWant {
            segments: segments[i].clone(),
            position,
            rate: 1.0,
            seek,
            exact: true,
        };
        let v = engine.tile(&TileRequest {
            key: &format!("sync-{i}"),
            camera,
            size_px: TILE_PX,
            single_view: false,
            playback: Some(&want),
        });
        let c = v.frame.and_then(|f| f.capture_time)?;
        if (position - c).num_milliseconds() > 500 {
            return None;
        }
        times.push(c);
    }
    let min = times.iter().min()?;
    let max = times.iter().max()?;
    Some((*max - *min).num_microseconds().unwrap_or(0) as f64 / 1000.0)
}

/// Frame times of the timeline alone (layout, painting and tessellation),
/// ms: median, p99, max over 300 frames while the cursor moves.
fn timeline_frames() -> (f64, f64, f64) {
    use watchdesk::ui::timeline::{TimelineInput, TimelineLane, timeline_ui};
    use watchdesk::viewer::{DoorMark, MarkKind};
    let t0 = chrono::Utc::now() - chrono::TimeDelta::weeks(1);
    let lanes: Vec<(String, Vec<SegmentRef>)> = (0..4)
        .map(|c| {
            let segs = (0..7 * 24 * 60)
                .filter(|m| (m / 90) % 17 != 3) // some gaps
                .map(|m| SegmentRef {
                    id: m,
                    start: t0 + chrono::TimeDelta::minutes(m),
                    end: t0 + chrono::TimeDelta::minutes(m + 1),
                    url: String::new(),
                })
                .collect();
            (format!("Camera {c}"), segs)
        })
        .collect();
    let marks: Vec<DoorMark> = (0..100_000i64)
        .map(|i| DoorMark {
            at: t0 + chrono::TimeDelta::milliseconds(i * 6_048),
            door: watchdesk::domain::DoorId::new(format!("door-{}", i % 7)),
            kind: MarkKind::ALL[(i % 4) as usize],
        })
        .collect();
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap_or(chrono_tz::UTC);
    let ctx = egui::Context::default();
    let mut times = Vec::new();
    for frame in 0..330 {
        let position = t0 + chrono::TimeDelta::minutes(frame * 30);
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1600.0, 200.0),
            )),
            ..Default::default()
        };
        let started = Instant::now();
        let output = ctx.run_ui(input, |ui| {
            let lanes: Vec<TimelineLane<'_>> = lanes
                .iter()
                .map(|(name, segments)| TimelineLane { name, segments })
                .collect();
            let timeline = TimelineInput {
                from: t0,
                to: t0 + chrono::TimeDelta::weeks(1),
                position,
                now: t0 + chrono::TimeDelta::weeks(1),
                tz,
                lanes: &lanes,
                marks: &marks,
                doors: None,
                bookmarks: &[],
            };
            let _ = timeline_ui(ui, &timeline);
        });
        let meshes = ctx.tessellate(output.shapes, output.pixels_per_point);
        std::hint::black_box(meshes);
        if frame >= 30 {
            times.push(ms(started.elapsed()));
        }
    }
    times.sort_by(f64::total_cmp);
    (
        common::percentile(&times, 0.50),
        common::percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0),
    )
}

//! `cargo bench --bench live`: the live video engine and the whole app, on
//! this machine, in one run. The demo site's cameras serve from a child
//! process (this program again, with `--serve-cameras`), so that this
//! process's CPU is the engine's alone.
//!
//! Phases: (A) the engine, headless: 16 sub streams (8 cameras × 2 tiles) at
//! 480×270 for 30 s, polled at 30 Hz like a UI would; (B) the same streams
//! through `gst-launch-1.0` decode-only (the physical limit), and with
//! scaling and RGBA conversion (the pipeline floor); (C) a 2×2 of main
//! streams at 1280×720; (D) capture → mailbox latency on the live-encoded
//! clock camera; (E) time to first frame, stall detection and recovery;
//! (F) the real `watchdesk` under Xvfb: 2×2 and 4×4 views with each
//! renderer, and idle; the app's own process, with its demo site (its child
//! process) reported apart.
//!
//! Prints a table, then one JSON line with every figure. `LIVE_BENCH_SECS`
//! shortens or lengthens the measured windows (default 30).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use watchdesk::config::SiteConfig;
use watchdesk::domain::{Camera, CameraId};
use watchdesk::video::{
    EngineOptions, Frame, TileRequest, TileStats, TileStatus, TileView, VideoEngine,
};

/// The live-encoded camera with its capture time in RTCP.
const CLOCK_CAMERA: &str = "cam-clock";
const SUB_TILE_PX: [u32; 2] = [480, 270];
const MAIN_TILE_PX: [u32; 2] = [1280, 720];
/// The "UI" polls the tiles this often.
const POLL: Duration = Duration::from_millis(33);

type BenchResult<T> = Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-cameras") {
        let config = args.get(i + 1).cloned().unwrap_or_default();
        let data = args.get(i + 2).cloned().unwrap_or_default();
        let relay = args.iter().any(|a| a == "--relay");
        if let Err(e) = serve_cameras(Path::new(&config), Path::new(&data), relay) {
            eprintln!("camera server: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run() {
        eprintln!("live bench failed: {e}");
        std::process::exit(1);
    }
}

// ---- the camera server child ------------------------------------------------

/// Serves the demo cameras; prints `RTSP <base>`; obeys `stall ID`,
/// `unstall ID` on stdin; ends at end of input.
/// The relay's stand-in sign-in in the bench: one fixed token.
const RELAY_USER: &str = "bench";
const RELAY_TOKEN: &str = "bench-relay-token";

struct BenchGate;

impl watchdesk::site::media::RelayGate for BenchGate {
    fn admit(&self, user: &str, token: &str) -> Option<String> {
        (user == RELAY_USER && token == RELAY_TOKEN).then(|| "bench".to_owned())
    }
    fn still_live(&self, _key: &str) -> bool {
        true
    }
}

fn serve_cameras(config: &Path, data_dir: &Path, relay: bool) -> BenchResult<()> {
    let cfg = SiteConfig::load(config).map_err(|e| format!("{e}"))?;
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{e}"))?;
    let cams =
        watchdesk::site::cameras::DemoCameras::start(&cfg, data_dir).map_err(|e| format!("{e}"))?;
    // With `--relay`, the site's relay too, ingesting every demo camera from
    // the server above exactly as the site does.
    let _media = if relay {
        use watchdesk::site::media::{Media, Source, StreamName};
        let mounts: Vec<(CameraId, bool)> =
            cfg.cameras.iter().map(|c| (c.id.clone(), true)).collect();
        let media = Media::start(
            "127.0.0.1",
            0,
            &mounts,
            Arc::new(BenchGate),
            Arc::new(|_: &CameraId, _, _| {}),
            None,
        )
        .map_err(|e| format!("{e}"))?;
        for (id, _) in &mounts {
            let source = |s: StreamName| Source {
                url: format!("{}/{id}/{}", cams.rtsp_base(), s.as_str()),
                credentials: None,
            };
            media.ingest(id, source(StreamName::Main), Some(source(StreamName::Sub)));
        }
        println!("RELAY rtsp://127.0.0.1:{}", media.port());
        Some(media)
    } else {
        None
    };
    println!("RTSP {}", cams.rtsp_base());
    std::io::stdout().flush().map_err(|e| format!("{e}"))?;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("stall"), Some(id)) => {
                cams.set_stalled(&CameraId::new(id), true);
            }
            (Some("unstall"), Some(id)) => {
                cams.set_stalled(&CameraId::new(id), false);
            }
            _ => {}
        }
    }
    Ok(())
}

struct CameraServer {
    child: Child,
    stdin: ChildStdin,
    base: String,
    /// The relay's base URL, when it runs one.
    relay: Option<String>,
}

impl CameraServer {
    fn start(config: &Path, data_dir: &Path) -> BenchResult<CameraServer> {
        Self::start_with(config, data_dir, false)
    }

    fn start_with(config: &Path, data_dir: &Path, relay: bool) -> BenchResult<CameraServer> {
        let exe = std::env::current_exe().map_err(|e| format!("{e}"))?;
        let mut child = Command::new(exe)
            .arg("--serve-cameras")
            .arg(config)
            .arg(data_dir)
            .args(relay.then_some("--relay"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the camera server: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        // The first run encodes the scenes: this can take a few minutes.
        let mut stdout = BufReader::new(stdout);
        stdout.read_line(&mut line).map_err(|e| format!("{e}"))?;
        let relay_base = if relay {
            let base = line
                .trim()
                .strip_prefix("RELAY ")
                .ok_or_else(|| format!("camera server said {line:?}"))?
                .to_owned();
            line.clear();
            stdout.read_line(&mut line).map_err(|e| format!("{e}"))?;
            Some(base)
        } else {
            None
        };
        let base = line
            .trim()
            .strip_prefix("RTSP ")
            .ok_or_else(|| format!("camera server said {line:?}"))?
            .to_owned();
        Ok(CameraServer {
            child,
            stdin,
            base,
            relay: relay_base,
        })
    }

    fn command(&mut self, line: &str) {
        let _ = writeln!(self.stdin, "{line}");
        let _ = self.stdin.flush();
    }
}

impl Drop for CameraServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- /proc ------------------------------------------------------------------

fn process_cpu(pid: u32) -> u64 {
    common::cpu_ticks(&format!("/proc/{pid}/stat")).unwrap_or(0)
}

/// CPU ticks per thread: (tid, name) → ticks.
fn thread_cpu(pid: u32) -> HashMap<(u32, String), u64> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        if let Some(t) = common::cpu_ticks(&format!("/proc/{pid}/task/{tid}/stat")) {
            out.insert((tid, comm), t);
        }
    }
    out
}

fn rss_mb(pid: u32) -> f64 {
    common::rss_mb(&format!("/proc/{pid}/status"))
}

/// The demo site the app started as its child (`site --embedded`), if any.
fn embedded_site_of(pid: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let child = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse::<u32>()
                .ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let embedded = cmdline.split(|b| *b == 0).any(|a| a == b"--embedded");
            (ppid == pid && embedded).then_some(child)
        })
}

// ---- statistics -------------------------------------------------------------

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn round(v: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (v * k).round() / k
}

// ---- the engine, polled like a UI -------------------------------------------

/// One tile as the "UI" sees it.
struct Tracked {
    key: String,
    camera: Camera,
    size_px: [u32; 2],
    single_view: bool,
    asked_at: Option<Instant>,
    first_frame: Option<Duration>,
    last: Option<Arc<Frame>>,
    /// New frames seen in the measured window.
    seen: u64,
    last_view: Option<TileView>,
}

impl Tracked {
    fn new(key: String, camera: &Camera, size_px: [u32; 2], single_view: bool) -> Self {
        Tracked {
            key,
            camera: camera.clone(),
            size_px,
            single_view,
            asked_at: None,
            first_frame: None,
            last: None,
            seen: 0,
            last_view: None,
        }
    }

    fn stats(&self) -> TileStats {
        self.last_view
            .as_ref()
            .map(|v| v.stats.clone())
            .unwrap_or_default()
    }
}

struct Poller {
    engine: VideoEngine,
    repaints: Arc<AtomicU64>,
    /// The longest `tile()` call, and all of them (µs).
    tile_call_us: Vec<f64>,
}

impl Poller {
    /// A poller whose engine signs in to the bench's relay.
    fn relayed() -> Poller {
        let p = Poller::new();
        p.engine
            .set_session_credentials(Some(watchdesk::video::Credentials {
                user: RELAY_USER.into(),
                password: RELAY_TOKEN.into(),
            }));
        p
    }

    fn new() -> Poller {
        let repaints = Arc::new(AtomicU64::new(0));
        let count = repaints.clone();
        let engine = VideoEngine::new(EngineOptions::new(Arc::new(move || {
            count.fetch_add(1, Ordering::Relaxed);
        })));
        Poller {
            engine,
            repaints,
            tile_call_us: Vec::new(),
        }
    }

    /// Asks for every tile once (one UI frame). Returns the new frames.
    fn frame(&mut self, tiles: &mut [Tracked]) -> Vec<(usize, Arc<Frame>)> {
        let mut fresh = Vec::new();
        for (i, t) in tiles.iter_mut().enumerate() {
            let now = Instant::now();
            let asked = *t.asked_at.get_or_insert(now);
            let view = self.engine.tile(&TileRequest {
                key: &t.key,
                camera: &t.camera,
                size_px: t.size_px,
                single_view: t.single_view,
                playback: None,
            });
            self.tile_call_us.push(now.elapsed().as_secs_f64() * 1e6);
            if let Some(f) = &view.frame {
                let new = t.last.as_ref().is_none_or(|l| !Arc::ptr_eq(l, f));
                if new {
                    if t.first_frame.is_none() {
                        t.first_frame = Some(f.arrived.saturating_duration_since(asked));
                    }
                    t.seen += 1;
                    t.last = Some(f.clone());
                    fresh.push((i, f.clone()));
                }
            }
            t.last_view = Some(view);
        }
        self.engine.end_frame();
        fresh
    }

    /// Polls for `dur` at the UI rate.
    fn run_for(&mut self, tiles: &mut [Tracked], dur: Duration) {
        let end = Instant::now() + dur;
        while Instant::now() < end {
            let next = Instant::now() + POLL;
            self.frame(tiles);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }

    /// Polls until every tile has a frame, or `limit`.
    fn until_all_play(&mut self, tiles: &mut [Tracked], limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let next = Instant::now() + POLL;
            self.frame(tiles);
            if tiles.iter().all(|t| t.first_frame.is_some()) {
                return true;
            }
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        false
    }
}

/// Engine CPU and per-tile figures over a measured window.
struct EngineRun {
    cpu_s: f64,
    wall_s: f64,
    streams: usize,
    rss_mb: f64,
    tiles: Vec<Value>,
    min_delivered_ratio: f64,
    min_seen_ratio: f64,
    dropped: u64,
    ttff_ms: Vec<f64>,
    repaints_per_s: f64,
    tile_call_p99_us: f64,
    tile_call_max_us: f64,
}

fn measure_engine(
    tiles: &mut [Tracked],
    warm_limit: Duration,
    window: Duration,
    ticks: f64,
) -> BenchResult<EngineRun> {
    let mut p = Poller::new();
    let all = p.until_all_play(tiles, warm_limit);
    if !all {
        let silent: Vec<&str> = tiles
            .iter()
            .filter(|t| t.first_frame.is_none())
            .map(|t| t.key.as_str())
            .collect();
        eprintln!("warning: no frame yet from {silent:?}");
    }
    // Settle a second, then measure.
    p.run_for(tiles, Duration::from_secs(1));
    for t in tiles.iter_mut() {
        t.seen = 0;
    }
    p.tile_call_us.clear();
    let pid = std::process::id();
    let cpu0 = process_cpu(pid);
    let rep0 = p.repaints.load(Ordering::Relaxed);
    let t0 = Instant::now();
    p.run_for(tiles, window);
    let wall_s = t0.elapsed().as_secs_f64();
    let cpu_s = (process_cpu(pid) - cpu0) as f64 / ticks;
    let repaints = p.repaints.load(Ordering::Relaxed) - rep0;
    let rss = rss_mb(pid);
    let calls = sorted(std::mem::take(&mut p.tile_call_us));
    let mut rows = Vec::new();
    let mut min_delivered: f64 = f64::INFINITY;
    let mut min_seen: f64 = f64::INFINITY;
    let mut dropped = 0;
    for t in tiles.iter() {
        let s = t.stats();
        let fps = t.camera.sub.fps.max(1);
        let stream_fps = match t.last_view.as_ref().map(|v| v.stream) {
            Some(watchdesk::video::StreamChoice::Main) => t.camera.main.fps.max(1),
            _ => fps,
        };
        let seen_fps = t.seen as f64 / wall_s;
        let delivered_ratio = f64::from(s.delivered_fps) / f64::from(stream_fps);
        min_delivered = min_delivered.min(delivered_ratio);
        min_seen = min_seen.min(seen_fps / f64::from(stream_fps));
        dropped += s.dropped_frames;
        rows.push(json!({
            "key": t.key,
            "status": t.last_view.as_ref().map(|v| format!("{:?}", v.status)).unwrap_or_default(),
            "delivered_fps": round(f64::from(s.delivered_fps), 2),
            "source_fps": round(f64::from(s.source_fps), 2),
            "stream_fps": stream_fps,
            "polled_new_frames_fps": round(seen_fps, 2),
            "dropped_frames": s.dropped_frames,
            "decode_ms": round(f64::from(s.decode_ms), 2),
            "kbps": round(f64::from(s.bitrate_kbps), 0),
            "frame_px": [s.width, s.height],
            "latency_ms": s.latency_ms.map(|l| round(f64::from(l), 1)),
            "first_frame_ms": t.first_frame.map(|d| round(d.as_secs_f64() * 1e3, 0)),
        }));
    }
    let ttff_ms = tiles
        .iter()
        .filter_map(|t| t.first_frame)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    drop(p);
    // Players stop on their own threads: give them a moment.
    std::thread::sleep(Duration::from_millis(1500));
    Ok(EngineRun {
        cpu_s,
        wall_s,
        streams: tiles.len(),
        rss_mb: rss,
        tiles: rows,
        min_delivered_ratio: min_delivered,
        min_seen_ratio: min_seen,
        dropped,
        ttff_ms,
        repaints_per_s: repaints as f64 / wall_s,
        tile_call_p99_us: common::percentile(&calls, 0.99),
        tile_call_max_us: calls.last().copied().unwrap_or(f64::NAN),
    })
}

// ---- gst-launch -------------------------------------------------------------

struct GstRun {
    cpu_s: f64,
    wall_s: f64,
    rss_mb: f64,
}

fn gst_launch(
    urls: &[String],
    tail: &str,
    warm: Duration,
    window: Duration,
    ticks: f64,
) -> BenchResult<GstRun> {
    let mut args: Vec<String> = Vec::new();
    for url in urls {
        let chain = format!(
            "rtspsrc location={url} latency=0 protocols=tcp ! rtph264depay ! h264parse ! avdec_h264 max-threads=1 ! {tail}"
        );
        args.extend(chain.split_whitespace().map(str::to_owned));
    }
    let mut child = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("gst-launch-1.0: {e}"))?;
    let pid = child.id();
    std::thread::sleep(warm);
    let cpu0 = process_cpu(pid);
    let t0 = Instant::now();
    std::thread::sleep(window);
    let cpu1 = process_cpu(pid);
    let wall_s = t0.elapsed().as_secs_f64();
    let rss = rss_mb(pid);
    let alive = child.try_wait().map_err(|e| format!("{e}"))?.is_none();
    let _ = child.kill();
    let _ = child.wait();
    if !alive || cpu1 == 0 {
        return Err("gst-launch-1.0 ended early".into());
    }
    Ok(GstRun {
        cpu_s: (cpu1 - cpu0) as f64 / ticks,
        wall_s,
        rss_mb: rss,
    })
}

// ---- latency, first frame, stall --------------------------------------------

/// Capture → mailbox on the clock camera's main stream, in ms.
fn measure_latency(camera: &Camera, window: Duration) -> Vec<f64> {
    measure_latency_with(Poller::new(), camera, window)
}

fn measure_latency_with(mut p: Poller, camera: &Camera, window: Duration) -> Vec<f64> {
    let mut tiles = vec![Tracked::new("latency".into(), camera, MAIN_TILE_PX, true)];
    p.until_all_play(&mut tiles, Duration::from_secs(10));
    // Let the RTCP sender reports give capture times.
    p.run_for(&mut tiles, Duration::from_secs(2));
    let mut samples = Vec::new();
    let end = Instant::now() + window;
    while Instant::now() < end {
        for (_, f) in p.frame(&mut tiles) {
            let Some(capture) = f.capture_time else {
                continue;
            };
            let now_utc = chrono::Utc::now();
            let since_arrival = f.arrived.elapsed();
            let arrived_utc =
                now_utc - chrono::Duration::from_std(since_arrival).unwrap_or_default();
            let ms = (arrived_utc - capture).num_microseconds().unwrap_or(0) as f64 / 1e3;
            samples.push(ms);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    samples
}

/// (G) The site's relay against a direct connection, on a camera server
/// that also runs the relay (ingesting every demo stream once, as the site
/// does): the clock camera's capture → mailbox latency direct and relayed,
/// alternated in halves; the server's CPU with the ingests alone, then a
/// "4×4 wall" (8 cameras × 2 sub tiles, 16 RTSP sessions on 8 shared relay
/// medias) served to one client and to two.
fn measure_relay(
    config: &Path,
    data_dir: &Path,
    cfg: &SiteConfig,
    window: Duration,
    ticks: f64,
) -> BenchResult<Value> {
    let server = CameraServer::start_with(config, data_dir, true)?;
    let relay = server
        .relay
        .clone()
        .ok_or("the camera server runs no relay")?;
    let pid = server.child.id();
    let direct = cfg.cameras_with_urls(Some(&server.base));
    let relayed = cfg.cameras_with_urls(Some(&relay));
    let clock = |cams: &[Camera]| {
        cams.iter()
            .find(|c| c.id.as_str() == CLOCK_CAMERA)
            .cloned()
            .ok_or("no clock camera")
    };
    let (clock_direct, clock_relayed) = (clock(&direct)?, clock(&relayed)?);
    let half = window / 2;
    let mut lat_direct = Vec::new();
    let mut lat_relayed = Vec::new();
    for _ in 0..2 {
        lat_direct.extend(measure_latency(&clock_direct, half));
        lat_relayed.extend(measure_latency_with(
            Poller::relayed(),
            &clock_relayed,
            half,
        ));
    }
    let (lat_direct, lat_relayed) = (sorted(lat_direct), sorted(lat_relayed));

    let cpu_pct = |poll: &mut dyn FnMut()| {
        let c0 = process_cpu(pid);
        let t0 = Instant::now();
        while t0.elapsed() < window {
            let next = Instant::now() + POLL;
            poll();
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        (process_cpu(pid) - c0) as f64 / ticks / t0.elapsed().as_secs_f64() * 100.0
    };
    let idle_pct = cpu_pct(&mut || {});
    let wall = |cams: &[Camera], client: usize| -> Vec<Tracked> {
        cams.iter()
            .filter(|c| c.id.as_str() != CLOCK_CAMERA)
            .take(8)
            .flat_map(|c| (0..2).map(move |k| (c, k)))
            .map(|(c, k)| Tracked::new(format!("{}#{client}.{k}", c.id), c, SUB_TILE_PX, false))
            .collect()
    };
    let mut one = Poller::relayed();
    let mut one_tiles = wall(&relayed, 1);
    if !one.until_all_play(&mut one_tiles, Duration::from_secs(15)) {
        return Err("the relayed wall did not play within 15 s".into());
    }
    for t in &mut one_tiles {
        t.seen = 0;
    }
    let one_pct = cpu_pct(&mut || {
        one.frame(&mut one_tiles);
    });
    let one_fps = one_tiles.iter().map(|t| t.seen as f64).sum::<f64>()
        / (one_tiles.len() as f64 * window.as_secs_f64());
    let mut two = Poller::relayed();
    let mut two_tiles = wall(&relayed, 2);
    if !two.until_all_play(&mut two_tiles, Duration::from_secs(15)) {
        return Err("the second client's wall did not play within 15 s".into());
    }
    for t in one_tiles.iter_mut().chain(two_tiles.iter_mut()) {
        t.seen = 0;
    }
    let two_pct = cpu_pct(&mut || {
        one.frame(&mut one_tiles);
        two.frame(&mut two_tiles);
    });
    let two_min_fps = one_tiles
        .iter()
        .chain(two_tiles.iter())
        .map(|t| t.seen as f64 / window.as_secs_f64())
        .fold(f64::INFINITY, f64::min);
    drop(server);
    let med = |v: &[f64]| common::percentile(v, 0.5);
    let ingested = cfg.cameras.len() * 2;
    Ok(json!({
        "latency_direct_ms_median": round(med(&lat_direct), 1),
        "latency_direct_ms_p95": round(common::percentile(&lat_direct, 0.95), 1),
        "latency_relayed_ms_median": round(med(&lat_relayed), 1),
        "latency_relayed_ms_p95": round(common::percentile(&lat_relayed, 0.95), 1),
        "added_latency_ms_median": round(med(&lat_relayed) - med(&lat_direct), 1),
        "target_added_latency_ms_median": 5.0,
        "samples": [lat_direct.len(), lat_relayed.len()],
        "ingested_streams": ingested,
        "server_cpu_pct_ingest_only": round(idle_pct, 1),
        "server_cpu_pct_wall_one_client": round(one_pct, 1),
        "server_cpu_pct_wall_two_clients": round(two_pct, 1),
        "relay_cpu_pct_per_relayed_session": round((two_pct - idle_pct) / 32.0, 2),
        "wall_sessions": [16, 32],
        "wall_polled_fps_mean_one_client": round(one_fps, 1),
        "wall_polled_fps_min_two_clients": round(two_min_fps, 1),
    }))
}

/// Time to first frame of single fresh tiles, one after another.
fn measure_first_frames(cameras: &[Camera]) -> Vec<f64> {
    let mut p = Poller::new();
    let mut out = Vec::new();
    for (i, cam) in cameras.iter().enumerate() {
        let mut tiles = vec![Tracked::new(format!("ttff-{i}"), cam, SUB_TILE_PX, false)];
        if p.until_all_play(&mut tiles, Duration::from_secs(10))
            && let Some(d) = tiles[0].first_frame
        {
            out.push(d.as_secs_f64() * 1e3);
        }
    }
    out
}

/// Stall detection and recovery on one camera, in ms: (detected, recovered).
/// Stall detection after the stall command and after the last frame that
/// arrived (the definition counts from that frame), and recovery.
struct StallFigures {
    after_command_ms: Option<f64>,
    after_last_frame_ms: Option<f64>,
    recovered_ms: Option<f64>,
}

fn measure_stall(server: &mut CameraServer, camera: &Camera) -> StallFigures {
    let mut p = Poller::new();
    let mut tiles = vec![Tracked::new("stall".into(), camera, SUB_TILE_PX, false)];
    p.until_all_play(&mut tiles, Duration::from_secs(10));
    p.run_for(&mut tiles, Duration::from_secs(2));
    server.command(&format!("stall {}", camera.id));
    let t0 = Instant::now();
    let mut detected = None;
    let mut after_last = None;
    while t0.elapsed() < Duration::from_secs(10) {
        p.frame(&mut tiles);
        if matches!(
            tiles[0].last_view.as_ref().map(|v| &v.status),
            Some(TileStatus::Stalled { .. })
        ) {
            let now = Instant::now();
            detected = Some(now.duration_since(t0).as_secs_f64() * 1e3);
            after_last = tiles[0]
                .last
                .as_ref()
                .map(|f| now.saturating_duration_since(f.arrived).as_secs_f64() * 1e3);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    p.run_for(&mut tiles, Duration::from_millis(500));
    let before = tiles[0].last.as_ref().map(|f| f.number);
    server.command(&format!("unstall {}", camera.id));
    let t1 = Instant::now();
    let mut recovered = None;
    while t1.elapsed() < Duration::from_secs(15) {
        p.frame(&mut tiles);
        let playing = matches!(
            tiles[0].last_view.as_ref().map(|v| &v.status),
            Some(TileStatus::Playing)
        );
        let newer = tiles[0].last.as_ref().map(|f| f.number) != before;
        if playing && newer {
            recovered = Some(t1.elapsed().as_secs_f64() * 1e3);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    StallFigures {
        after_command_ms: detected,
        after_last_frame_ms: after_last,
        recovered_ms: recovered,
    }
}

// ---- the whole app under Xvfb -----------------------------------------------

struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> BenchResult<Xvfb> {
        let n = 100 + std::process::id() % 400;
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .arg(&display)
            .args(["-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("Xvfb: {e}"))?;
        std::thread::sleep(Duration::from_millis(1500));
        Ok(Xvfb { child, display })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of the demo site's config for the app runs: no demo traffic (no
/// events to repaint for), no live-encoded clock camera (its encoder would
/// run in the app's process), so a 4×4 filled wall is the same 16 sub
/// streams as phase A.
fn bench_site_config(manifest: &Path, out: &Path) -> BenchResult<PathBuf> {
    let config_dir = manifest.join("config");
    let text = std::fs::read_to_string(config_dir.join("site.toml")).map_err(|e| format!("{e}"))?;
    let mut doc: toml::Table = text.parse().map_err(|e| format!("site.toml: {e}"))?;
    let site = doc
        .get_mut("site")
        .and_then(|v| v.as_table_mut())
        .ok_or("site.toml has no [site]")?;
    for key in ["users_file", "cardholders_file", "maps_dir", "photos_dir"] {
        if let Some(rel) = site.get(key).and_then(|v| v.as_str()) {
            let abs = config_dir.join(rel);
            site.insert(key.into(), toml::Value::String(abs.display().to_string()));
        }
    }
    if let Some(t) = doc.get_mut("traffic").and_then(|v| v.as_table_mut()) {
        t.insert("enabled".into(), toml::Value::Boolean(false));
    }
    if let Some(v) = doc.get_mut("video").and_then(|v| v.as_table_mut()) {
        v.insert("latency_camera".into(), toml::Value::Boolean(false));
    }
    if let Some(cams) = doc.get_mut("camera").and_then(|v| v.as_array_mut()) {
        cams.retain(|c| c.get("id").and_then(|v| v.as_str()) != Some(CLOCK_CAMERA));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{e}"))?;
    let path = out.join("site-bench.toml");
    let text = toml::to_string(&doc).map_err(|e| format!("{e}"))?;
    std::fs::write(&path, text).map_err(|e| format!("{e}"))?;
    Ok(path)
}

struct AppRun {
    label: String,
    renderer: String,
    total_cpu_pct: f64,
    ui_thread_pct: f64,
    raster_pct: f64,
    other_pct: f64,
    ui_frames_per_s: f64,
    cpu_ms_per_repaint: f64,
    rss_start_mb: f64,
    rss_end_mb: f64,
    /// The demo site's own process (the app's child), CPU % and RSS at the end.
    site_cpu_pct: f64,
    site_rss_mb: f64,
    tiles: Vec<Value>,
    min_shown_fps: f64,
    min_delivered_fps: f64,
    threads_top: Vec<Value>,
    /// The app's own capture → next UI frame figures (see `ScreenLatency`).
    screen_latency: Value,
    /// Worst tile: from its first appearance to its first picture (still
    /// or frame), and to its first frame, ms.
    worst_first_picture_ms: Option<f64>,
    worst_first_frame_ms: Option<f64>,
}

fn is_raster_thread(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("llvmpipe") || n.starts_with("lavapipe") || n.starts_with("lp:")
}

#[expect(clippy::too_many_arguments, reason = "a bench helper")]
fn run_app(
    bin: &Path,
    xvfb: &Xvfb,
    config: &Path,
    data_home: &Path,
    view: &str,
    renderer: &str,
    window: Duration,
    ticks: f64,
) -> BenchResult<AppRun> {
    let runtime_dir = data_home.join(format!("runtime-{}", std::process::id()));
    std::fs::create_dir_all(&runtime_dir).map_err(|e| format!("{e}"))?;
    let stats_file = data_home.join(format!(
        "tile-stats-{renderer}-{}.json",
        view.replace(':', "_")
    ));
    let _ = std::fs::remove_file(&stats_file);
    let mut child = Command::new(bin)
        .arg("--demo-config")
        .arg(config)
        .env("DISPLAY", &xvfb.display)
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("XDG_DATA_HOME", data_home)
        .env("WATCHDESK_START_VIEW", view)
        .env("WATCHDESK_RENDERER", renderer)
        .env("WATCHDESK_TILE_STATS", &stats_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let pid = child.id();
    let expect_tiles = view.starts_with("cameras");
    // Wait for the view: every tile playing (or, idle, the window drawn).
    let start = Instant::now();
    loop {
        if let Some(report) = read_json(&stats_file) {
            let tiles = report["tiles"].as_array().cloned().unwrap_or_default();
            let playing = !tiles.is_empty()
                && tiles
                    .iter()
                    .all(|t| t["status"] == "playing" && t["frames_shown"].as_u64() > Some(0));
            if (expect_tiles && playing)
                || (!expect_tiles && report["ui_frames"].as_u64() > Some(0))
            {
                break;
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("app {view} {renderer}: no picture within 60 s"));
        }
        if child.try_wait().map_err(|e| format!("{e}"))?.is_some() {
            return Err(format!("app {view} {renderer}: exited early"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(if expect_tiles { 3 } else { 5 }));
    let before = read_json(&stats_file).unwrap_or(Value::Null);
    let rss_start = rss_mb(pid);
    let site_pid = embedded_site_of(pid);
    let site_cpu0 = site_pid.map_or(0, process_cpu);
    let threads0 = thread_cpu(pid);
    let cpu0 = process_cpu(pid);
    let t0 = Instant::now();
    std::thread::sleep(window);
    // The stats file is written every second: wait for a fresh one.
    std::thread::sleep(Duration::from_millis(1100));
    let cpu1 = process_cpu(pid);
    let threads1 = thread_cpu(pid);
    let site_cpu1 = site_pid.map_or(0, process_cpu);
    let wall = t0.elapsed().as_secs_f64();
    let rss_end = rss_mb(pid);
    let site_rss = site_pid.map_or(0.0, rss_mb);
    let after = read_json(&stats_file).unwrap_or(Value::Null);
    let _ = child.kill();
    let _ = child.wait();

    let pct = |ticks_used: u64| ticks_used as f64 / ticks / wall * 100.0;
    let mut ui = 0;
    let mut raster = 0;
    let mut other = 0;
    let mut per_name: HashMap<String, u64> = HashMap::new();
    for (key, t1) in &threads1 {
        let used = t1 - threads0.get(key).copied().unwrap_or(0);
        let (tid, name) = key;
        if *tid == pid {
            ui += used;
        } else if is_raster_thread(name) {
            raster += used;
        } else {
            other += used;
        }
        let group: String = name
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_owned();
        *per_name.entry(group).or_default() += used;
    }
    let mut top: Vec<(String, u64)> = per_name.into_iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    let threads_top = top
        .iter()
        .take(8)
        .map(|(n, t)| json!({"threads": n, "cpu_pct": round(pct(*t), 1)}))
        .collect();

    let frames = after["ui_frames"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(before["ui_frames"].as_u64().unwrap_or(0));
    let ui_frames_per_s = frames as f64 / wall;
    let render_s = (ui + raster) as f64 / ticks;
    let cpu_ms_per_repaint = if frames > 0 {
        render_s * 1e3 / frames as f64
    } else {
        f64::NAN
    };
    // Shown fps per tile over the window, from the frame counters.
    let mut tiles = Vec::new();
    let mut min_shown = f64::INFINITY;
    let mut min_delivered = f64::INFINITY;
    let before_tiles: HashMap<String, u64> = before["tiles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| Some((t["key"].as_str()?.to_owned(), t["frames_shown"].as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    for t in after["tiles"].as_array().cloned().unwrap_or_default() {
        let key = t["key"].as_str().unwrap_or("").to_owned();
        let shown = t["frames_shown"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(before_tiles.get(&key).copied().unwrap_or(0));
        let shown_fps = shown as f64 / wall;
        let delivered = t["delivered_fps"].as_f64().unwrap_or(0.0);
        min_shown = min_shown.min(shown_fps);
        min_delivered = min_delivered.min(delivered);
        tiles.push(json!({
            "key": key,
            "status": t["status"],
            "shown_fps": round(shown_fps, 2),
            "delivered_fps": round(delivered, 2),
            "source_fps": t["source_fps"],
            "dropped_frames": t["dropped_frames"],
            "frame_px": [t["width"], t["height"]],
            "first_frame_ms": t["first_frame_ms"],
            "first_picture_ms": t["first_picture_ms"],
        }));
    }
    let worst = |key: &str| {
        tiles
            .iter()
            .filter_map(|t| t[key].as_f64())
            .reduce(f64::max)
    };
    let worst_first_picture_ms = worst("first_picture_ms");
    let worst_first_frame_ms = worst("first_frame_ms");
    Ok(AppRun {
        worst_first_picture_ms,
        worst_first_frame_ms,
        label: view.to_owned(),
        renderer: renderer.to_owned(),
        screen_latency: after["screen_latency"].clone(),
        site_cpu_pct: pct(site_cpu1.saturating_sub(site_cpu0)),
        site_rss_mb: site_rss,
        total_cpu_pct: pct(cpu1 - cpu0),
        ui_thread_pct: pct(ui),
        raster_pct: pct(raster),
        other_pct: pct(other),
        ui_frames_per_s,
        cpu_ms_per_repaint,
        rss_start_mb: rss_start,
        rss_end_mb: rss_end,
        tiles,
        min_shown_fps: if min_shown.is_finite() {
            min_shown
        } else {
            0.0
        },
        min_delivered_fps: if min_delivered.is_finite() {
            min_delivered
        } else {
            0.0
        },
        threads_top,
    })
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn app_json(r: &AppRun) -> Value {
    json!({
        "view": r.label,
        "renderer": r.renderer,
        "total_cpu_pct": round(r.total_cpu_pct, 1),
        "ui_thread_pct": round(r.ui_thread_pct, 1),
        "rasterizer_pct": round(r.raster_pct, 1),
        "renderer_share_pct": round(r.ui_thread_pct + r.raster_pct, 1),
        "engine_pct": round(r.other_pct, 1),
        "site_process_cpu_pct": round(r.site_cpu_pct, 1),
        "site_process_rss_mb": round(r.site_rss_mb, 0),
        "ui_frames_per_s": round(r.ui_frames_per_s, 2),
        "cpu_ms_per_repaint": round(r.cpu_ms_per_repaint, 1),
        "rss_start_mb": round(r.rss_start_mb, 0),
        "rss_end_mb": round(r.rss_end_mb, 0),
        "min_shown_fps": round(r.min_shown_fps, 2),
        "min_delivered_fps": round(r.min_delivered_fps, 2),
        "screen_latency": r.screen_latency,
        "worst_first_picture_ms": r.worst_first_picture_ms,
        "worst_first_frame_ms": r.worst_first_frame_ms,
        "tiles": r.tiles,
        "threads": r.threads_top,
    })
}

// ---- the run ----------------------------------------------------------------

fn run() -> BenchResult<()> {
    let secs: u64 = std::env::var("LIVE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let window = Duration::from_secs(secs);
    let ticks = common::clock_ticks_per_second();
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bench_data = manifest.join("target/bench-data");
    let data_dir = bench_data.join("watchdesk/demo");
    let config_path = manifest.join("config/site.toml");
    let cfg = SiteConfig::load(&config_path).map_err(|e| format!("{e}"))?;
    gstreamer::init().map_err(|e| format!("GStreamer: {e}"))?;
    let missing = watchdesk::video::check_elements();
    if !missing.is_empty() {
        return Err(format!("missing GStreamer elements: {missing:?}"));
    }

    if std::env::var("LIVE_BENCH_ONLY").as_deref() == Ok("relay") {
        eprintln!("live bench: (G) only: the relay against direct, {secs} s windows…");
        let g = measure_relay(&config_path, &data_dir, &cfg, window, ticks)?;
        println!(
            "{}",
            serde_json::to_string(&json!({"relay": g})).map_err(|e| format!("{e}"))?
        );
        return Ok(());
    }
    eprintln!("live bench: starting the demo cameras (the first run encodes the scenes)…");
    let mut server = CameraServer::start(&config_path, &data_dir)?;
    let cameras = cfg.cameras_with_urls(Some(&server.base));
    let scene_cams: Vec<Camera> = cameras
        .iter()
        .filter(|c| c.id.as_str() != CLOCK_CAMERA)
        .cloned()
        .collect();
    let clock_cam = cameras
        .iter()
        .find(|c| c.id.as_str() == CLOCK_CAMERA)
        .cloned()
        .ok_or("the demo site has no clock camera")?;
    if scene_cams.len() < 8 {
        return Err(format!("need 8 scene cameras, have {}", scene_cams.len()));
    }
    let eight = &scene_cams[..8];
    let mut out = serde_json::Map::new();
    out.insert(
        "machine".into(),
        json!({
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "window_s": secs,
        }),
    );

    // (A) The engine, 16 sub streams at 480×270.
    eprintln!("live bench: (A) engine, 16 sub streams at 480×270, {secs} s…");
    let mut tiles: Vec<Tracked> = eight
        .iter()
        .flat_map(|c| (0..2).map(move |k| (c, k)))
        .map(|(c, k)| Tracked::new(format!("{}#{k}", c.id), c, SUB_TILE_PX, false))
        .collect();
    let server_cpu0 = process_cpu(server.child.id());
    let t_server = Instant::now();
    let a = measure_engine(&mut tiles, Duration::from_secs(15), window, ticks)?;
    let server_cpu_pct = (process_cpu(server.child.id()) - server_cpu0) as f64
        / ticks
        / t_server.elapsed().as_secs_f64()
        * 100.0;
    let a_per_stream = a.cpu_s / (a.streams as f64 * a.wall_s);

    // (B) gst-launch on the same streams.
    let sub_urls: Vec<String> = eight
        .iter()
        .flat_map(|c| [c.sub.url.clone(), c.sub.url.clone()])
        .collect();
    eprintln!("live bench: (B) gst-launch decode-only, 16 streams, {secs} s…");
    let b = gst_launch(
        &sub_urls,
        "fakesink sync=false",
        Duration::from_secs(4),
        window,
        ticks,
    )?;
    let b_per_stream = b.cpu_s / (sub_urls.len() as f64 * b.wall_s);
    eprintln!("live bench: (B') gst-launch decode + scale + RGBA 480×272, {secs} s…");
    let b2 = gst_launch(
        &sub_urls,
        "videoconvertscale ! video/x-raw,format=RGBA,width=480,height=272 ! fakesink sync=false",
        Duration::from_secs(4),
        window,
        ticks,
    )?;
    let b2_per_stream = b2.cpu_s / (sub_urls.len() as f64 * b2.wall_s);

    // (C) 2×2 of main streams at 1280×720.
    eprintln!("live bench: (C) engine, 2×2 main streams at 1280×720, {secs} s…");
    let mut mains: Vec<Tracked> = eight[..4]
        .iter()
        .map(|c| Tracked::new(format!("{}/main", c.id), c, MAIN_TILE_PX, false))
        .collect();
    let c = measure_engine(&mut mains, Duration::from_secs(15), window, ticks)?;

    // (D) Latency.
    eprintln!("live bench: (D) latency on the clock camera, {secs} s…");
    let lat = sorted(measure_latency(&clock_cam, window));

    // (E) First frame, stall, recovery.
    eprintln!("live bench: (E) first frame, stall and recovery…");
    let ttff_single = sorted(measure_first_frames(&eight[..5]));
    let stall = measure_stall(&mut server, &eight[5]);
    drop(server);

    // (G) The relay.
    eprintln!("live bench: (G) the relay against direct, {secs} s windows…");
    let g = measure_relay(&config_path, &data_dir, &cfg, window, ticks)?;
    out.insert("relay".into(), g);

    let ttff_a = sorted(a.ttff_ms.clone());
    out.insert(
        "engine_16_sub".into(),
        json!({
            "streams": a.streams,
            "tile_px": SUB_TILE_PX,
            "cpu_s_per_stream_s": round(a_per_stream, 5),
            "cpu_pct_total": round(a.cpu_s / a.wall_s * 100.0, 1),
            "rss_mb": round(a.rss_mb, 0),
            "min_delivered_over_source": round(a.min_delivered_ratio, 3),
            "min_polled_over_source": round(a.min_seen_ratio, 3),
            "dropped_frames": a.dropped,
            "first_frame_ms_median": round(common::percentile(&ttff_a, 0.5), 0),
            "first_frame_ms_max": round(common::percentile(&ttff_a, 1.0), 0),
            "repaint_calls_per_s": round(a.repaints_per_s, 1),
            "tile_call_p99_us": round(a.tile_call_p99_us, 1),
            "tile_call_max_us": round(a.tile_call_max_us, 1),
            "camera_server_cpu_pct": round(server_cpu_pct, 1),
            "tiles": a.tiles,
        }),
    );
    out.insert(
        "gst_decode_only_16_sub".into(),
        json!({
            "cpu_s_per_stream_s": round(b_per_stream, 5),
            "cpu_pct_total": round(b.cpu_s / b.wall_s * 100.0, 1),
            "rss_mb": round(b.rss_mb, 0),
        }),
    );
    out.insert(
        "gst_scale_rgba_16_sub".into(),
        json!({
            "cpu_s_per_stream_s": round(b2_per_stream, 5),
            "cpu_pct_total": round(b2.cpu_s / b2.wall_s * 100.0, 1),
            "rss_mb": round(b2.rss_mb, 0),
        }),
    );
    let ratio = a_per_stream / b_per_stream;
    out.insert("engine_over_decode_only".into(), json!(round(ratio, 3)));
    out.insert(
        "engine_over_scale_rgba".into(),
        json!(round(a_per_stream / b2_per_stream, 3)),
    );
    out.insert(
        "engine_2x2_main".into(),
        json!({
            "tile_px": MAIN_TILE_PX,
            "cpu_pct_total": round(c.cpu_s / c.wall_s * 100.0, 1),
            "rss_mb": round(c.rss_mb, 0),
            "min_delivered_over_source": round(c.min_delivered_ratio, 3),
            "min_polled_over_source": round(c.min_seen_ratio, 3),
            "dropped_frames": c.dropped,
            "tiles": c.tiles,
        }),
    );
    // The clock camera stamps the start of each frame's period; the frame
    // exists one period later (its source reports that latency).
    let period_ms = 1_000.0 / f64::from(clock_cam.main.fps.max(1));
    let lat_median = common::percentile(&lat, 0.5);
    out.insert(
        "latency_clock_main".into(),
        json!({
            "samples": lat.len(),
            "capture_to_mailbox_ms_median": round(lat_median, 1),
            "capture_to_mailbox_ms_p95": round(common::percentile(&lat, 0.95), 1),
            "frame_period_ms": round(period_ms, 1),
            "frame_complete_to_mailbox_ms_median": round(lat_median - period_ms, 1),
        }),
    );
    out.insert(
        "first_frame".into(),
        json!({
            "single_tile_ms": ttff_single.iter().map(|v| round(*v, 0)).collect::<Vec<_>>(),
            "single_tile_ms_median": round(common::percentile(&ttff_single, 0.5), 0),
            "stall_detected_after_command_ms": stall.after_command_ms.map(|v| round(v, 0)),
            "stall_detected_after_last_frame_ms": stall.after_last_frame_ms.map(|v| round(v, 0)),
            "recovered_ms": stall.recovered_ms.map(|v| round(v, 0)),
        }),
    );

    // (F) The whole app under Xvfb.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_watchdesk"));
    let app_runs: Vec<AppRun> = if std::env::var_os("LIVE_BENCH_NO_APP").is_some() {
        eprintln!("live bench: (F) skipped (LIVE_BENCH_NO_APP)");
        Vec::new()
    } else {
        match Xvfb::start() {
            Err(e) => {
                eprintln!("live bench: (F) skipped: {e}");
                Vec::new()
            }
            Ok(xvfb) => {
                let config = bench_site_config(&manifest, &bench_data)?;
                let mut runs = Vec::new();
                let plan = [
                    ("doors", "glow"),
                    ("cameras:2x2", "glow"),
                    ("cameras:4x4:fill", "glow"),
                    ("cameras:2x2", "wgpu"),
                    ("cameras:4x4:fill", "wgpu"),
                ];
                for (view, renderer) in plan {
                    eprintln!("live bench: (F) app, {view}, {renderer}, {secs} s…");
                    match run_app(
                        &bin,
                        &xvfb,
                        &config,
                        &bench_data,
                        view,
                        renderer,
                        window,
                        ticks,
                    ) {
                        Ok(r) => runs.push(r),
                        Err(e) => eprintln!("live bench: (F) {view} {renderer}: {e}"),
                    }
                }
                runs
            }
        }
    };
    out.insert(
        "app".into(),
        Value::Array(app_runs.iter().map(app_json).collect()),
    );

    // ---- the table ----
    println!();
    println!(
        "live bench ({secs} s windows, {} CPUs)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!("{:<58} {:>12} {:>10}", "figure", "value", "target");
    let row = |name: &str, value: String, target: &str| {
        println!("{name:<58} {value:>12} {target:>10}");
    };
    row(
        "A engine 16×sub 480×270: CPU s per stream-second",
        format!("{a_per_stream:.4}"),
        "",
    );
    row(
        "B gst-launch decode-only: CPU s per stream-second",
        format!("{b_per_stream:.4}"),
        "",
    );
    row(
        "B' gst-launch decode+scale+RGBA: CPU s per stream-s",
        format!("{b2_per_stream:.4}"),
        "",
    );
    row(
        "A/B engine over decode-only",
        format!("{ratio:.2}"),
        "≤ 1.3",
    );
    row(
        "A/B' engine over decode+scale+RGBA",
        format!("{:.2}", a_per_stream / b2_per_stream),
        "",
    );
    row(
        "A engine CPU, % of one core",
        format!("{:.1}", a.cpu_s / a.wall_s * 100.0),
        "",
    );
    row(
        "A worst tile delivered / source fps",
        format!("{:.3}", a.min_delivered_ratio),
        "≥ 0.95",
    );
    row(
        "A worst tile new frames polled at 30 Hz / source",
        format!("{:.3}", a.min_seen_ratio),
        "",
    );
    row(
        "A dropped frames (replaced before taken), all tiles",
        format!("{}", a.dropped),
        "",
    );
    row(
        "A RSS of the engine process, MB",
        format!("{:.0}", a.rss_mb),
        "",
    );
    row(
        "A first frame, median / max ms (16 at once)",
        format!(
            "{:.0} / {:.0}",
            common::percentile(&ttff_a, 0.5),
            common::percentile(&ttff_a, 1.0)
        ),
        "≤ 1000",
    );
    row(
        "A tile() call p99 / max, µs",
        format!("{:.0} / {:.0}", a.tile_call_p99_us, a.tile_call_max_us),
        "",
    );
    row("B RSS of gst-launch, MB", format!("{:.0}", b.rss_mb), "");
    row(
        "C engine 2×2 main 1280×720: worst delivered / source",
        format!("{:.3}", c.min_delivered_ratio),
        "≥ 0.95",
    );
    row(
        "C engine CPU, % of one core",
        format!("{:.1}", c.cpu_s / c.wall_s * 100.0),
        "",
    );
    row("C RSS, MB", format!("{:.0}", c.rss_mb), "");
    row(
        "D capture → mailbox latency median ms",
        format!("{:.1}", common::percentile(&lat, 0.5)),
        "≤ 40",
    );
    row(
        "D capture → mailbox latency p95 ms",
        format!("{:.1}", common::percentile(&lat, 0.95)),
        "",
    );
    row(
        "D of which the camera's frame period, ms",
        format!("{period_ms:.1}"),
        "",
    );
    row(
        "D frame complete → mailbox, median ms",
        format!("{:.1}", lat_median - period_ms),
        "",
    );
    row(
        "E first frame, single tile, median ms",
        format!("{:.0}", common::percentile(&ttff_single, 0.5)),
        "≤ 1000",
    );
    row(
        "E stall shown after the stall command, ms",
        stall
            .after_command_ms
            .map_or("-".into(), |v| format!("{v:.0}")),
        "≤ 3000",
    );
    row(
        "E stall shown after the last frame, ms",
        stall
            .after_last_frame_ms
            .map_or("-".into(), |v| format!("{v:.0}")),
        "3000 + poll",
    );
    row(
        "E playing again after, ms",
        stall.recovered_ms.map_or("-".into(), |v| format!("{v:.0}")),
        "≤ 2000",
    );
    for r in &app_runs {
        let name = format!("F app {} {}", r.label, r.renderer);
        row(
            &format!("{name}: total CPU %"),
            format!("{:.1}", r.total_cpu_pct),
            if r.label == "doors" { "≤ 2" } else { "" },
        );
        if r.label != "doors" {
            row(
                &format!("{name}: renderer share % (UI + raster)"),
                format!("{:.1}", r.ui_thread_pct + r.raster_pct),
                "",
            );
            row(
                &format!("{name}: engine and the rest %"),
                format!("{:.1}", r.other_pct),
                "",
            );
            row(
                &format!("{name}: repaints/s, CPU ms each"),
                format!("{:.1}, {:.0}", r.ui_frames_per_s, r.cpu_ms_per_repaint),
                "",
            );
            row(
                &format!("{name}: worst tile shown / delivered fps"),
                format!("{:.1} / {:.1}", r.min_shown_fps, r.min_delivered_fps),
                "",
            );
            let opt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
            row(
                &format!("{name}: first picture (still or frame) / first frame, worst tile ms"),
                format!(
                    "{} / {}",
                    opt(r.worst_first_picture_ms),
                    opt(r.worst_first_frame_ms)
                ),
                "≤ 200 / ≤ 1000",
            );
            let ms = |k: &str| {
                r.screen_latency[k]
                    .as_f64()
                    .map_or("-".into(), |v| format!("{v:.0}"))
            };
            row(
                &format!("{name}: capture → screen median / p95 ms"),
                format!("{} / {}", ms("median_ms"), ms("p95_ms")),
                "≤ 100",
            );
        }
        row(
            &format!("{name}: RSS start → end MB"),
            format!("{:.0} → {:.0}", r.rss_start_mb, r.rss_end_mb),
            "< 300",
        );
        row(
            &format!("{name}: demo site process CPU %, RSS MB"),
            format!("{:.1}, {:.0}", r.site_cpu_pct, r.site_rss_mb),
            "",
        );
    }
    println!();
    println!("{}", Value::Object(out));
    Ok(())
}

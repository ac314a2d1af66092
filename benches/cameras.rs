//! What the demo cameras cost the site server: one-time encode, then CPU and
//! memory while serving all 16 streams (8 cameras × main + sub) to clients in
//! separate processes (`gst-launch-1.0`), so this process's CPU time is the
//! server's alone; then the live latency camera with one client.
//!
//! `cargo bench --bench cameras`. The last line printed is one JSON object.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use watchdesk::config::{CameraSource, SiteConfig};
use watchdesk::site::cameras::DemoCameras;

const SERVE_SECONDS: u64 = 20;
const LATENCY_SECONDS: u64 = 10;
const IDLE_SECONDS: u64 = 5;

/// A `gst-launch-1.0` client that counts the frames it receives.
struct Client {
    child: Child,
    frames: Arc<AtomicU64>,
}

impl Client {
    fn open(url: &str, tcp: bool) -> Client {
        let mut cmd = Command::new("gst-launch-1.0");
        cmd.arg("-v")
            .arg("rtspsrc")
            .arg(format!("location={url}"))
            .arg("latency=0");
        if tcp {
            cmd.arg("protocols=tcp");
        }
        cmd.args([
            "!",
            "rtph264depay",
            "!",
            "fakesink",
            "silent=false",
            "sync=false",
        ]);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gst-launch-1.0 (gstreamer1.0-tools) runs");
        let frames = Arc::new(AtomicU64::new(0));
        let out = child.stdout.take().expect("stdout");
        let f = frames.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if line.contains("chain") {
                    f.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Client { child, frames }
    }

    fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGINT first (gst-launch sends TEARDOWN), then kill.
    fn close(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process's CPU time (user + system, all threads).
fn cpu_time() -> Duration {
    let ticks = common::cpu_ticks("/proc/self/stat").unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / common::clock_ticks_per_second())
}

fn rss_mib() -> f64 {
    common::rss_mb("/proc/self/status")
}

/// CPU of this process over `seconds`, as percent of one core.
fn measure(seconds: u64) -> f64 {
    let (c0, t0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let (c1, t1) = (cpu_time(), Instant::now());
    100.0 * (c1 - c0).as_secs_f64() / (t1 - t0).as_secs_f64()
}

/// Opens every stream, lets them settle, measures, and closes them. Returns
/// (cpu %, rss MiB, fewest frames any stream delivered while measured).
fn serve_all(base: &str, ids: &[String], tcp: bool) -> (f64, f64, u64) {
    let mut clients: Vec<Client> = ids
        .iter()
        .flat_map(|id| ["main", "sub"].map(|p| format!("{base}/{id}/{p}")))
        .map(|url| Client::open(&url, tcp))
        .collect();
    std::thread::sleep(Duration::from_secs(4));
    let before: Vec<u64> = clients.iter().map(Client::frames).collect();
    let cpu = measure(SERVE_SECONDS);
    let rss = rss_mib();
    let fewest = clients
        .iter()
        .zip(&before)
        .map(|(c, b)| c.frames() - b)
        .min()
        .unwrap_or(0);
    let alive = clients
        .iter_mut()
        .map(Client::running)
        .filter(|r| *r)
        .count();
    assert_eq!(alive, clients.len(), "a client died");
    for c in clients {
        c.close();
    }
    (cpu, rss, fewest)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = SiteConfig::load(&root.join("config/site.toml")).expect("config/site.toml");
    let data = root.join("target/bench-data");
    let v = cfg.video.clone();

    let t = Instant::now();
    let cams = DemoCameras::start(&cfg, &data).expect("demo cameras start");
    let start_seconds = t.elapsed().as_secs_f64();
    let encoded = cams.encoded_scenes();
    if encoded > 0 {
        println!(
            "one-time encode of {encoded} scenes ({}x{} + {}x{}, {} s at {} fps): {start_seconds:.1} s",
            v.main_width, v.main_height, v.sub_width, v.sub_height, v.scene_seconds, v.fps
        );
    } else {
        println!(
            "scenes from the cache in {}: start took {start_seconds:.2} s",
            data.display()
        );
    }
    let base = cams.rtsp_base();
    let scene_ids: Vec<String> = cfg
        .cameras
        .iter()
        .filter(|c| matches!(&c.source, CameraSource::Demo { scene } if scene != "clock"))
        .map(|c| c.id.to_string())
        .collect();
    let clock_id = cfg
        .cameras
        .iter()
        .find(|c| matches!(&c.source, CameraSource::Demo { scene } if scene == "clock"))
        .map(|c| c.id.to_string());

    let idle = measure(IDLE_SECONDS);
    println!(
        "idle (no clients): {idle:.2}% of one core, RSS {:.0} MiB",
        rss_mib()
    );

    let streams = scene_ids.len() * 2;
    let (udp_cpu, udp_rss, udp_fewest) = serve_all(&base, &scene_ids, false);
    println!(
        "{streams} streams over UDP for {SERVE_SECONDS} s: {udp_cpu:.2}% of one core, RSS {udp_rss:.0} MiB, \
         fewest frames on a stream {udp_fewest}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let (tcp_cpu, tcp_rss, tcp_fewest) = serve_all(&base, &scene_ids, true);
    println!(
        "{streams} streams over TCP for {SERVE_SECONDS} s: {tcp_cpu:.2}% of one core, RSS {tcp_rss:.0} MiB, \
         fewest frames on a stream {tcp_fewest}"
    );
    std::thread::sleep(Duration::from_secs(2));

    let mut latency_cpu = None;
    if let Some(id) = &clock_id {
        let client = Client::open(&format!("{base}/{id}/main"), false);
        std::thread::sleep(Duration::from_secs(3));
        let f0 = client.frames();
        let cpu = measure(LATENCY_SECONDS);
        let frames = client.frames() - f0;
        println!(
            "latency camera ({}x{} live x264) with one client: {cpu:.2}% of one core, {frames} frames in {LATENCY_SECONDS} s",
            v.main_width, v.main_height
        );
        client.close();
        latency_cpu = Some(cpu);
    }
    drop(cams);

    let round = |x: f64| (x * 100.0).round() / 100.0;
    let json = serde_json::json!({
        "streams": streams,
        "seconds": SERVE_SECONDS,
        "main": format!("{}x{}", v.main_width, v.main_height),
        "sub": format!("{}x{}", v.sub_width, v.sub_height),
        "fps": v.fps,
        "start_seconds": round(start_seconds),
        "scenes_encoded_now": encoded,
        "idle_cpu_percent_of_core": round(idle),
        "server_cpu_percent_of_core": round(udp_cpu),
        "server_cpu_percent_of_core_tcp": round(tcp_cpu),
        "rss_mib": round(udp_rss.max(tcp_rss)),
        "fewest_frames_per_stream": udp_fewest.min(tcp_fewest),
        "latency_camera_cpu_percent_of_core": latency_cpu.map(round),
        "target_cpu_percent_of_core": 10.0,
    });
    println!("{json}");
}

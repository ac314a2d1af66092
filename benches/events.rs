//! `cargo bench --bench events`: how many events per second the site server
//! sustains to 10 streaming clients.
//!
//! The real server (in-process, loopback HTTP, SQLite file in a temp dir) and
//! 10 real clients (`client::live`, SSE with resume). Each stage floods the
//! event log at a target rate for a few seconds through the fault-injection
//! route; a stage is sustained when the server appended at ≥ 95% of the
//! target and every client received every event with p99 delivery latency
//! under 1 s. The last printed line is a JSON object of the figures.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc};
use watchdesk::client::live::{LiveOptions, LiveUpdate, spawn_with};
use watchdesk::client::{Client, ClientConfig};
use watchdesk::config::SiteConfig;
use watchdesk::site::SiteOptions;

const CLIENTS: usize = 10;
const STAGE_SECS: u64 = 4;
const RATES: [u64; 6] = [250, 500, 1000, 2000, 4000, 8000];

#[derive(Default)]
struct ClientStats {
    last_seq: AtomicU64,
    received: AtomicU64,
    latencies_ms: Mutex<Vec<f64>>,
}

fn cpu_seconds() -> f64 {
    common::cpu_ticks("/proc/self/stat").unwrap_or(0) as f64 / common::clock_ticks_per_second()
}

fn rss_mb() -> f64 {
    common::rss_mb("/proc/self/status")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench());
}

async fn bench() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = SiteConfig::load(&repo.join("config/site.toml")).expect("demo config");
    config.video.demo_cameras = false;
    config.traffic.enabled = false;
    let dir = tempfile::tempdir().expect("temp dir");
    let site = watchdesk::site::start(SiteOptions {
        config,
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_owned(),
        fault_injection: true,
        tls: None,
    })
    .await
    .expect("site starts");
    let base = site.base_url();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    let mut stats = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..CLIENTS {
        let mut c = Client::new(&ClientConfig {
            base_url: base.clone(),
            ca_cert: None,
            allow_plain_http: false,
        })
        .expect("client");
        c.sign_in("viewer", "demo-viewer").await.expect("sign in");
        let (tx, mut rx) = mpsc::channel(8192);
        let h = spawn_with(c, site.last_seq(), tx, LiveOptions::default());
        let s = Arc::new(ClientStats::default());
        let s2 = s.clone();
        tokio::spawn(async move {
            while let Some(u) = rx.recv().await {
                if let LiveUpdate::Event(e) = u {
                    let lat = (chrono::Utc::now() - e.time)
                        .num_microseconds()
                        .unwrap_or(0) as f64
                        / 1000.0;
                    s2.latencies_ms.lock().await.push(lat);
                    s2.received.fetch_add(1, Ordering::Relaxed);
                    s2.last_seq.store(e.seq, Ordering::Relaxed);
                }
            }
        });
        stats.push(s);
        handles.push(h);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    println!(
        "events bench: {CLIENTS} streaming clients, {STAGE_SECS} s per stage, server and clients in one process"
    );
    println!(
        "{:>8} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8} {:>9}",
        "target/s", "appended/s", "delivered", "p50 ms", "p99 ms", "max ms", "cpu %", "sustained"
    );
    let mut best = 0u64;
    let mut rows = Vec::new();
    for rate in RATES {
        for s in &stats {
            s.latencies_ms.lock().await.clear();
            s.received.store(0, Ordering::Relaxed);
        }
        let count = rate * STAGE_SECS;
        let start_seq = site.last_seq();
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/fault/flood"))
            .json(&serde_json::json!({"rate_per_sec": rate, "count": count}))
            .send()
            .await
            .expect("flood");
        assert!(r.status().is_success(), "flood refused: {}", r.status());
        // Wait for the server to append them all (or give up at 3× the stage).
        let target = start_seq + count;
        while site.last_seq() < target && t0.elapsed() < Duration::from_secs(STAGE_SECS * 3) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let append_secs = t0.elapsed().as_secs_f64();
        let appended = site.last_seq() - start_seq;
        // Then for every client to have it all (or 5 s more).
        let end = site.last_seq();
        let t1 = Instant::now();
        while stats
            .iter()
            .any(|s| s.last_seq.load(Ordering::Relaxed) < end)
            && t1.elapsed() < Duration::from_secs(5)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let cpu = (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
        let delivered: u64 = stats
            .iter()
            .map(|s| s.received.load(Ordering::Relaxed))
            .sum();
        let mut lats = Vec::new();
        for s in &stats {
            lats.extend(s.latencies_ms.lock().await.iter().copied());
        }
        lats.sort_by(f64::total_cmp);
        let (p50, p99, max) = (
            common::percentile(&lats, 0.5),
            common::percentile(&lats, 0.99),
            lats.last().copied().unwrap_or(f64::NAN),
        );
        let appended_rate = appended as f64 / append_secs.max(STAGE_SECS as f64 * 0.5);
        let all = delivered == appended * CLIENTS as u64;
        let ok = appended == count && appended_rate >= rate as f64 * 0.95 && all && p99 < 1000.0;
        if ok {
            best = rate;
        }
        println!(
            "{rate:>8} {appended_rate:>10.0} {:>9.1}% {p50:>9.1} {p99:>9.1} {max:>9.1} {cpu:>8.0} {:>9}",
            delivered as f64 / (appended.max(1) * CLIENTS as u64) as f64 * 100.0,
            if ok { "yes" } else { "no" }
        );
        rows.push(serde_json::json!({
            "target_per_sec": rate, "appended_per_sec": appended_rate.round(), "delivered_percent": delivered as f64 / (appended.max(1) * CLIENTS as u64) as f64 * 100.0,
            "p50_ms": p50, "p99_ms": p99, "max_ms": max, "cpu_percent": cpu.round(), "sustained": ok,
        }));
        if !ok && !all {
            break;
        }
    }
    let rss = rss_mb();
    drop(handles);
    site.shutdown().await;
    println!(
        "{}",
        serde_json::json!({
            "bench": "events", "clients": CLIENTS, "stage_secs": STAGE_SECS,
            "sustained_events_per_sec": best, "rss_mb": rss.round(), "stages": rows,
        })
    );
}

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Sign-in under a flood: 300 parallel wrong passwords from one address
//! against the real site (in this process, on `127.0.0.1:0`). Every answer is
//! 401 or 429, a real user from another address gets in within 2 s, and the
//! process grows by less than 300 MB (each argon2 check holds about 19 MiB).
//!
//! A test binary of its own (not a module of `tests/it`): it measures the
//! process's memory and a sign-in's time, so no other test may run beside it.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "it/common.rs"]
#[expect(dead_code, reason = "this binary uses a part of the shared fixtures")]
mod common;

use common::start_site;
use serde_json::json;
use watchdesk::domain::Role;

/// Parallel wrong sign-ins.
const FLOOD: usize = 300;
/// The most the process may grow under the flood.
const MAX_GROWTH_BYTES: u64 = 300 * 1024 * 1024;

/// This process's resident memory, from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// The highest RSS seen, sampled on a thread of its own until dropped.
struct PeakRss {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakRss {
    fn start() -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_bytes()));
        let thread = std::thread::spawn({
            let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
            move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        PeakRss {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.peak.load(Ordering::Relaxed).max(rss_bytes())
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_flood_stays_bounded_and_a_real_user_gets_in() {
    let site = start_site().await;
    // Warm up: argon2's first check and the session store, as an idle site
    // that has served a sign-in.
    site.token(Role::Admin).await;
    let before = rss_bytes();
    let sampler = PeakRss::start();

    // The guesser, from another loopback address than the real user.
    let attacker = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let url = site.url("/api/v1/auth/sign-in");
    let flood_started = Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..FLOOD {
        let (client, url) = (attacker.clone(), url.clone());
        flood.spawn(async move {
            let r = client
                .post(url)
                .json(&json!({"username": "viewer", "password": format!("guess-{i}")}))
                .send()
                .await
                .unwrap();
            let retry_after = r
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            (r.status().as_u16(), retry_after)
        });
    }
    // The flood is under way once its first answer is back.
    let mut answers = vec![flood.join_next().await.unwrap().unwrap()];

    let real_started = Instant::now();
    let r = site
        .http
        .post(&url)
        .json(&json!({"username": "operator", "password": "demo-operator"}))
        .send()
        .await
        .unwrap();
    let real_status = r.status().as_u16();
    let real_took = real_started.elapsed();

    while let Some(a) = flood.join_next().await {
        answers.push(a.unwrap());
    }
    let flood_took = flood_started.elapsed();
    let peak = sampler.finish();
    let growth = peak.saturating_sub(before);
    let refused = answers.iter().filter(|(s, _)| *s == 401).count();
    let throttled = answers.iter().filter(|(s, _)| *s == 429).count();
    println!(
        "sign-in flood of {FLOOD}: RSS before {:.1} MB, peak {:.1} MB, growth {:.1} MB; \
         {refused} answered 401, {throttled} answered 429, in {:.2} s; \
         the real user's sign-in: {real_status} in {} ms",
        mb(before),
        mb(peak),
        mb(growth),
        flood_took.as_secs_f64(),
        real_took.as_millis()
    );

    for (status, retry_after) in &answers {
        assert!(
            *status == 401 || *status == 429,
            "a wrong password answers 401 or 429, not {status}"
        );
        if *status == 429 {
            assert!(
                retry_after.is_some_and(|s| s >= 1),
                "a 429 says when to try again"
            );
        }
    }
    assert!(throttled > 0, "a flood is throttled");
    assert_eq!(real_status, 200, "the real user signs in during the flood");
    assert!(
        real_took < Duration::from_secs(2),
        "the real user's sign-in took {real_took:?}"
    );
    assert!(
        growth < MAX_GROWTH_BYTES,
        "the flood grew the site by {:.1} MB",
        mb(growth)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_declares_the_sign_in_429_and_its_retry_after() {
    let site = start_site().await;
    let doc: serde_json::Value = site
        .http
        .get(site.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = &doc["paths"]["/api/v1/auth/sign-in"]["post"]["responses"]["429"];
    assert!(answer.is_object(), "429 documented: {answer}");
    assert!(
        answer["headers"]["Retry-After"].is_object(),
        "Retry-After documented: {answer}"
    );
}

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The live stream through the real client: snapshot + stream with no gap and
//! no duplicate while events flow, and 50 forced disconnects during a flood of
//! 200 events/s that lose nothing.

use crate::common;

use std::time::Duration;

use common::start_site;
use serde_json::json;
use tokio::sync::mpsc;
use watchdesk::client::live::{LiveOptions, LiveUpdate, spawn_with};
use watchdesk::client::{Client, ClientConfig};
use watchdesk::domain::Seq;

async fn client(site: &common::TestSite) -> Client {
    let mut c = Client::new(&ClientConfig {
        base_url: site.handle.base_url(),
        ca_cert: None,
        allow_plain_http: false,
    })
    .unwrap();
    c.sign_in("operator", "demo-operator").await.unwrap();
    c
}

fn quick() -> LiveOptions {
    LiveOptions {
        idle_timeout_ms: 6_000,
        backoff_start_ms: 20,
        backoff_max_ms: 200,
    }
}

/// Collects events until the client has seen `until` (or `timeout` passes).
async fn collect_until(
    rx: &mut mpsc::Receiver<LiveUpdate>,
    seqs: &mut Vec<Seq>,
    downs: &mut usize,
    until: Seq,
    timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    while seqs.last().copied().unwrap_or(0) < until {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(LiveUpdate::Event(e))) => seqs.push(e.seq),
            Ok(Some(LiveUpdate::LinkDown { .. })) => *downs += 1,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_stream_has_no_gap_and_no_duplicate_while_events_flow() {
    let site = start_site().await;
    let c = client(&site).await;
    site.fault("flood", json!({"rate_per_sec": 200, "count": 600}))
        .await;
    common::eventually(
        "the flood is under way",
        Duration::from_secs(10),
        || async { (site.handle.last_seq() >= 100).then_some(()) },
    )
    .await;

    // Mid-flood: the snapshot says where it stands, the stream goes on from there.
    let snap = c.snapshot().await.unwrap();
    assert!(snap.seq > 0, "the flood has started");
    let (tx, mut rx) = mpsc::channel(1024);
    let live = spawn_with(c.clone(), snap.seq, tx, quick());

    // Wait for the flood to end, then for the client to catch up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut last = 0;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = site.handle.last_seq();
        if now == last && now >= 600 {
            break;
        }
        last = now;
    }
    let end = site.handle.last_seq();
    let (mut seqs, mut downs) = (Vec::new(), 0);
    collect_until(&mut rx, &mut seqs, &mut downs, end, Duration::from_secs(10)).await;
    drop(live);

    let expected: Vec<Seq> = site
        .handle
        .event_seqs()
        .into_iter()
        .filter(|s| *s > snap.seq)
        .collect();
    assert!(
        expected.len() >= 100,
        "events flowed after the snapshot: {}",
        expected.len()
    );
    assert_eq!(
        seqs, expected,
        "the client saw exactly the server's log after the snapshot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_forced_disconnects_during_a_flood_lose_nothing() {
    let site = start_site().await;
    let c = client(&site).await;
    let (tx, mut rx) = mpsc::channel(4096);
    let live = spawn_with(c.clone(), 0, tx, quick());

    site.fault("flood", json!({"rate_per_sec": 200, "count": 4000}))
        .await;
    let (mut seqs, mut ups, mut downs) = (Vec::<Seq>::new(), 0usize, 0usize);
    let mut drops = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    // Drop every connection 50 times, each time once the client is back and has
    // received some events over the new connection.
    while drops < 50 && tokio::time::Instant::now() < deadline {
        let ups_before = ups;
        let mut events_since_up = 0;
        while (ups == ups_before || events_since_up < 3) && tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                Ok(Some(LiveUpdate::Event(e))) => {
                    seqs.push(e.seq);
                    if ups > ups_before {
                        events_since_up += 1;
                    }
                }
                Ok(Some(LiveUpdate::LinkUp)) => ups += 1,
                Ok(Some(LiveUpdate::LinkDown { .. })) => downs += 1,
                Ok(Some(LiveUpdate::Unauthenticated)) => panic!("session lost"),
                Ok(None) | Err(_) => break,
            }
        }
        site.fault("drop-streams", json!({})).await;
        drops += 1;
    }
    assert_eq!(drops, 50, "50 disconnects forced");

    // Let the flood finish and the client catch up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while site.handle.last_seq() < 4000 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let end = site.handle.last_seq();
    collect_until(&mut rx, &mut seqs, &mut downs, end, Duration::from_secs(15)).await;
    drop(live);

    assert!(downs >= 50, "the client noticed every disconnect: {downs}");
    let server = site.handle.event_seqs();
    assert!(server.len() >= 4000, "{}", server.len());
    assert_eq!(seqs.len(), server.len(), "nothing lost, nothing twice");
    assert_eq!(
        seqs, server,
        "the client's sequence list equals the server's log"
    );
}

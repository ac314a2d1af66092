#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The site's relay end to end: the real site ingests its live demo camera
//! (the clock, encoded live: no scene to encode first) once, and re-serves
//! it from its own RTSP server. A real GStreamer client (`rtspsrc`) is
//! refused without a session, with a wrong one and with a revoked one, is
//! served with a valid one, and loses its stream within seconds of the
//! session's end. A camera that stops sending is reported offline, then
//! back, in the event log, and its stream answers 503 at once meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use serde_json::json;
use watchdesk::config::CameraSource;
use watchdesk::domain::{CameraState, Role, Snapshot};
use watchdesk::site::media::{Status, StreamName};

use crate::common::{TestSite, eventually, start_site_with};

/// A site whose only camera is the live clock, small and fast.
async fn clock_site() -> TestSite {
    start_site_with(|c| {
        c.video.demo_cameras = true;
        c.video.latency_camera = true;
        c.video.main_width = 320;
        c.video.main_height = 180;
        c.video.sub_width = 160;
        c.video.sub_height = 90;
        c.cameras
            .retain(|c| matches!(&c.source, CameraSource::Demo { scene } if scene == "clock"));
    })
    .await
}

async fn snapshot(site: &TestSite, token: &str) -> Snapshot {
    site.get(token, "/api/v1/snapshot")
        .await
        .json()
        .await
        .unwrap()
}

/// A client pulling one relayed stream.
struct Pull {
    pipeline: gst::Pipeline,
    frames: Arc<AtomicU64>,
}

impl Pull {
    fn start(url: &str, credentials: Option<(&str, &str)>) -> Pull {
        gst::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let src = gst::ElementFactory::make("rtspsrc")
            .property("location", url)
            .property("latency", 0u32)
            .property_from_str("protocols", "tcp")
            .build()
            .unwrap();
        if let Some((user, password)) = credentials {
            src.set_property("user-id", user);
            src.set_property("user-pw", password);
        }
        let depay = gst::ElementFactory::make("rtph264depay").build().unwrap();
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .build()
            .unwrap();
        pipeline.add_many([&src, &depay, &sink]).unwrap();
        depay.link(&sink).unwrap();
        let depay_weak = depay.downgrade();
        src.connect_pad_added(move |_, pad| {
            if let Some(depay) = depay_weak.upgrade() {
                let _ = pad.link(&depay.static_pad("sink").unwrap());
            }
        });
        let frames = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&frames);
        sink.static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                counted.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        pipeline.set_state(gst::State::Playing).unwrap();
        Pull { pipeline, frames }
    }

    fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// The error or end the pipeline posts within `timeout`, as text.
    fn ended(&self, timeout: Duration) -> Option<String> {
        let bus = self.pipeline.bus().unwrap();
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(u64::try_from(timeout.as_nanos()).unwrap()),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        )?;
        Some(match msg.view() {
            gst::MessageView::Error(e) => format!("{} ({:?})", e.error(), e.debug()),
            _ => "end of stream".into(),
        })
    }
}

impl Drop for Pull {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_serves_a_live_session_and_refuses_or_closes_every_other() {
    let site = clock_site().await;
    let token = site.token(Role::Operator).await;
    let relay_port = site.handle.core().cameras().relay_port().expect("a relay");
    let snap = eventually(
        "the clock camera online",
        Duration::from_secs(30),
        || async {
            let snap = snapshot(&site, &token).await;
            (snap.cameras[0].state == CameraState::Online).then_some(snap)
        },
    )
    .await;
    // The sub stream's ingest, too, has its first frame.
    let cams = site.handle.core().cameras();
    eventually("the sub stream flows", Duration::from_secs(30), || async {
        (cams.stream_status(&snap.cameras[0].id, StreamName::Sub) == Some(Status::Online))
            .then_some(())
    })
    .await;
    let url = snap.cameras[0].sub.url.clone();
    assert_eq!(
        url,
        format!("rtsp://127.0.0.1:{relay_port}/cam-clock/sub"),
        "the snapshot gives the relay's URL"
    );

    let refused = |credentials: Option<(String, String)>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let pull = Pull::start(
                &url,
                credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
            );
            let why = pull.ended(Duration::from_secs(10));
            (why, pull.frames())
        })
    };
    for (what, credentials) in [
        ("no session", None),
        (
            "a wrong token",
            Some(("operator".into(), "not-a-token".into())),
        ),
        ("another user's name", Some(("admin".into(), token.clone()))),
    ] {
        let (why, frames) = refused(credentials).await.unwrap();
        let why = why.unwrap_or_else(|| panic!("{what}: still playing after 10 s"));
        assert!(why.contains("Unauthorized"), "{what}: {why}");
        assert_eq!(frames, 0, "{what}: no frame");
    }
    // Refused credentials are audited, once a minute per claimed name
    // however often the client retried; a request without any is not (every
    // RTSP client asks without them first).
    let supervisor = site.token(Role::Supervisor).await;
    let refusals = site.audit(&supervisor, "action=relay.refused").await;
    let by = |user: &str| {
        refusals
            .iter()
            .filter(|e| e["actor"]["username"] == user || e["user"] == user)
            .count()
    };
    assert_eq!(by("operator"), 1, "the wrong token: {refusals:?}");
    assert_eq!(by("admin"), 1, "another user's session: {refusals:?}");
    assert_eq!(refusals.len(), 2, "{refusals:?}");

    // A live session plays, until it signs out.
    let played = {
        let (url, token) = (url.clone(), token.clone());
        tokio::task::spawn_blocking(move || {
            let pull = Pull::start(&url, Some(("operator", &token)));
            let deadline = Instant::now() + Duration::from_secs(15);
            while pull.frames() < 25 {
                assert!(Instant::now() < deadline, "25 frames within 15 s");
                if let Some(why) = pull.ended(Duration::from_millis(50)) {
                    panic!("ended while signed in: {why}");
                }
            }
            pull
        })
        .await
        .unwrap()
    };
    let r = site.post(&token, "/api/v1/auth/sign-out", json!({})).await;
    assert!(r.status().is_success(), "sign-out: {}", r.status());
    let signed_out = Instant::now();
    let (ended, after) = tokio::task::spawn_blocking(move || {
        let ended = played.ended(Duration::from_secs(10));
        (ended, signed_out.elapsed())
    })
    .await
    .unwrap();
    assert!(
        ended.is_some(),
        "the stream of a signed-out session still plays after 10 s"
    );
    eprintln!(
        "a signed-out session's stream closed {:.2} s after the sign-out",
        after.as_secs_f64()
    );
    assert!(
        after < Duration::from_secs(6),
        "closed within seconds: {after:?}"
    );

    // The revoked token is refused from now on.
    let (why, _) = refused(Some(("operator".into(), token.clone())))
        .await
        .unwrap();
    assert!(
        why.is_some_and(|w| w.contains("Unauthorized")),
        "a revoked token is refused"
    );
    site.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_stops_sending_is_reported_offline_once_then_back() {
    let site = clock_site().await;
    let token = site.token(Role::Operator).await;
    let token_for_pull = token.clone();
    eventually(
        "the clock camera online",
        Duration::from_secs(30),
        || async {
            (snapshot(&site, &token).await.cameras[0].state == CameraState::Online).then_some(())
        },
    )
    .await;
    let r = site
        .fault("cameras/cam-clock", json!({"stalled": true}))
        .await;
    assert!(r.status().is_success(), "stall: {}", r.status());
    let offline = site
        .wait_event(
            &token,
            "type=camera.offline",
            Duration::from_secs(20),
            |e| e["camera"] == "cam-clock",
        )
        .await;
    assert!(
        offline["reason"].as_str().unwrap().contains("no frame"),
        "{offline}"
    );
    let snap = snapshot(&site, &token).await;
    assert_eq!(snap.cameras[0].state, CameraState::Unreachable);
    assert!(
        snap.cameras[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no frame"))
    );
    // A stream with nothing to give answers at once, not after the 20 s a
    // media waits for its first frame.
    let url = snap.cameras[0].sub.url.clone();
    let (why, after) = tokio::task::spawn_blocking(move || {
        let asked = Instant::now();
        let pull = Pull::start(&url, Some(("operator", &token_for_pull)));
        (pull.ended(Duration::from_secs(15)), asked.elapsed())
    })
    .await
    .unwrap();
    let why = why.expect("refused");
    assert!(why.contains("Unavailable"), "{why}");
    assert!(after < Duration::from_secs(3), "answered in {after:?}");
    let r = site
        .fault("cameras/cam-clock", json!({"stalled": false}))
        .await;
    assert!(r.status().is_success());
    site.wait_event(&token, "type=camera.online", Duration::from_secs(40), |e| {
        e["camera"] == "cam-clock"
    })
    .await;
    // Once per outage and stream, however many tries it took.
    let offline = site.events(&token, "type=camera.offline").await;
    let per_stream = |s: &str| offline.iter().filter(|e| e["stream"] == s).count();
    assert!(
        per_stream("main") <= 1 && per_stream("sub") <= 1,
        "{offline:?}"
    );
    site.handle.shutdown().await;
}

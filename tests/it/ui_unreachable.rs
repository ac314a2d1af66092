#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The real `App` and the real worker pointed at an address nothing listens
//! on: the sign-in screen says it cannot reach the site, with the address,
//! the reason, the last and next try and "Retry now"; a site that starts
//! there is reached by Retry before the next automatic try is due.

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tokio::sync::mpsc;

use watchdesk::app::App;
use watchdesk::app::worker::{self, EventSink, SiteSource, WorkerConfig};
use watchdesk::site::SiteOptions;
use watchdesk::viewer::{AppState, Command, Reach};

use crate::common;

/// Runs the window until `done` holds, 20 s at most.
async fn until(h: &mut Harness<'_, App>, what: &str, done: impl Fn(&Harness<'_, App>) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        h.run();
        if done(h) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_not_reached_at_the_start_says_so_and_retry_reaches_it() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let (command_tx, command_rx) = mpsc::channel::<Command>(16);
    let (event_tx, event_rx) = mpsc::channel(256);
    let worker = tokio::spawn(worker::run(
        WorkerConfig {
            site: SiteSource::Remote {
                base_url: url.clone(),
            },
            ca_cert: None,
            allow_plain_http: false,
            auto_sign_in: None,
        },
        command_rx,
        EventSink::new(event_tx, Arc::new(|| {})),
    ));
    let mut app = App::new_for_test(
        AppState::new(chrono::Utc::now(), url.clone(), false),
        command_tx,
        event_rx,
    );
    app.set_clock(chrono::Utc::now);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 700.0))
        .build_eframe(move |_cc| app);
    let heading = format!("Cannot reach the site at {url}");
    until(&mut h, "the unreachable state", |h| {
        h.query_by_label(&heading).is_some()
    })
    .await;
    assert!(h.query_by_label("Retry now").is_some());
    assert!(h.query_by_label_contains("Last try ").is_some());
    assert!(
        h.query_by_label_contains("refused").is_some()
            || h.query_by_label_contains("error").is_some()
    );

    // Wait for a try whose next one is at least 2 s away, so that a reach
    // before it can only be Retry's doing.
    until(&mut h, "a longer wait", |h| {
        matches!(&h.state().state().runtime.reach,
            Reach::Unreachable { at, retry_at, .. } if *retry_at - *at >= chrono::Duration::seconds(2))
    })
    .await;
    let Reach::Unreachable { retry_at, .. } = h.state().state().runtime.reach.clone() else {
        unreachable!("checked above")
    };

    // The site starts on that port.
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config();
    config.maps_dir = common::copy_dir(&config.maps_dir, &dir.path().join("maps"));
    let _site = watchdesk::site::start(SiteOptions {
        config,
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        data_dir: dir.path().to_owned(),
        fault_injection: false,
        tls: None,
    })
    .await
    .expect("the site starts on the freed port");

    h.get_by_label("Retry now").click();
    until(&mut h, "the site reached", |h| {
        h.query_by_label(&heading).is_none() && h.state().state().runtime.reach == Reach::Unknown
    })
    .await;
    assert!(
        chrono::Utc::now() < retry_at,
        "reached by Retry, before the automatic try at {retry_at}"
    );
    assert!(h.query_by_label("Retry now").is_none());
    worker.abort();
}

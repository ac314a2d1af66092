#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! A role without the search right gets no replay from the live stream, so
//! its client reads the site's state again after every (re)connection: a door
//! that changed while the link was down shows its true state afterwards.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use watchdesk::app::worker::{self, EventSink, SiteSource, WorkerConfig};
use watchdesk::domain::{DoorId, DoorPosition};
use watchdesk::viewer::{AppEvent, AppState, Command};

use crate::common;

/// Feeds the worker's events into a state until `done` says so.
async fn until(
    events: &mut mpsc::Receiver<AppEvent>,
    state: &mut AppState,
    what: &str,
    mut done: impl FnMut(&AppEvent, &AppState) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("worker events");
        let stop = {
            let seen = event.clone();
            state.apply(event);
            done(&seen, state)
        };
        if stop {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_the_state_again_after_the_link_comes_back() {
    let site = common::start_site().await;
    let (_commands, command_rx) = mpsc::channel::<Command>(8);
    let (event_tx, mut events) = mpsc::channel(256);
    let worker = tokio::spawn(worker::run(
        WorkerConfig {
            site: SiteSource::Remote {
                base_url: site.handle.base_url(),
            },
            ca_cert: None,
            allow_plain_http: false,
            auto_sign_in: Some(("viewer".into(), "demo-viewer".into())),
        },
        command_rx,
        EventSink::new(event_tx, Arc::new(|| {})),
    ));
    let mut state = AppState::new(chrono::Utc::now(), site.handle.base_url(), false);
    until(&mut events, &mut state, "the first link", |e, _| {
        matches!(e, AppEvent::LinkUp)
    })
    .await;

    // The link drops; while the client is away a door opens.
    site.fault("drop-streams", json!({})).await;
    site.fault("doors/door-east", json!({"position": "open"}))
        .await;
    let mut resynced = false;
    until(
        &mut events,
        &mut state,
        "a snapshot after the reconnection",
        |e, _| {
            if matches!(e, AppEvent::LinkDown { .. }) {
                resynced = false;
            }
            if matches!(e, AppEvent::Snapshot(_)) {
                resynced = true;
            }
            resynced && matches!(e, AppEvent::LinkUp)
        },
    )
    .await;
    // Whether the door's event came before or after the reconnection, the
    // state shows the door open.
    let door = DoorId::new("door-east");
    let open = |s: &AppState| {
        s.site()
            .door(&door)
            .is_some_and(|d| d.status.position == DoorPosition::Open)
    };
    if !open(&state) {
        until(&mut events, &mut state, "the door open", |_, s| open(s)).await;
    }
    worker.abort();
}

//! An optional window probe for end-to-end tests and benchmarks: with
//! `WATCHDESK_PROBE=path` set, the window reports what it shows (frames
//! drawn, link, the state word of every door, events listed) to a JSON file.
//! The UI thread only hands a small summary to a channel; a thread of the
//! probe's own writes the file, so the UI never does I/O.

use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use crate::viewer::AppState;

/// The environment variable that turns the probe on.
pub const PROBE_ENV: &str = "WATCHDESK_PROBE";

/// What the window showed at one frame.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProbeReport {
    pub frames: u64,
    pub link_up: bool,
    pub demo: bool,
    pub signed_in: bool,
    pub last_seq: Option<u64>,
    pub events_listed: usize,
    /// Door id and the word the door list shows.
    pub doors: Vec<(String, String)>,
    /// How many times a door's shown word changed, seen frame by frame.
    pub door_changes: u64,
}

pub struct Probe {
    tx: SyncSender<ProbeReport>,
    frames: u64,
    door_changes: u64,
    last: Option<ProbeReport>,
}

impl Probe {
    /// A probe writing to the file named by `WATCHDESK_PROBE`, if set.
    pub fn from_env() -> Option<Probe> {
        let path = PathBuf::from(std::env::var_os(PROBE_ENV)?);
        let (tx, rx) = sync_channel::<ProbeReport>(4);
        let spawned = std::thread::Builder::new()
            .name("watchdesk-probe".into())
            .spawn(move || {
                while let Ok(mut report) = rx.recv() {
                    // Only the newest matters.
                    while let Ok(newer) = rx.try_recv() {
                        report = newer;
                    }
                    let tmp = path.with_extension("tmp");
                    let json = serde_json::to_vec_pretty(&report).unwrap_or_default();
                    if std::fs::write(&tmp, json)
                        .and_then(|()| std::fs::rename(&tmp, &path))
                        .is_err()
                    {
                        tracing::warn!("probe: cannot write its file");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("probe: cannot start: {e}");
            return None;
        }
        Some(Probe {
            tx,
            frames: 0,
            door_changes: 0,
            last: None,
        })
    }

    /// Call once per drawn frame.
    pub fn frame(&mut self, state: &AppState) {
        self.frames += 1;
        let link_up = state.link_up();
        let doors: Vec<(String, String)> = state
            .site()
            .doors()
            .iter()
            .map(|d| {
                (
                    d.door.id.to_string(),
                    d.status.state(link_up).label().to_owned(),
                )
            })
            .collect();
        if let Some(last) = &self.last {
            self.door_changes += doors
                .iter()
                .zip(&last.doors)
                .filter(|(a, b)| a != b)
                .count() as u64;
        }
        let report = ProbeReport {
            frames: self.frames,
            link_up,
            demo: state.site().demo,
            signed_in: state.runtime.session.is_some(),
            last_seq: state.site().last_seq(),
            events_listed: state.site().events().len(),
            doors,
            door_changes: self.door_changes,
        };
        match self.tx.try_send(report.clone()) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => tracing::warn!("probe: its writer has stopped"),
        }
        self.last = Some(report);
    }
}

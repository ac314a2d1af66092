#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The real client worker, signed in to a test site, for UI tests that draw
//! a panel over the state the worker delivers, as the window does.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use watchdesk::app::worker::{self, EventSink, SiteSource, WorkerConfig};
use watchdesk::domain::Role;
use watchdesk::viewer::{AppEvent, AppState, Command};

use crate::common::TestSite;

/// The real worker, signed in as a role with its demo password.
pub struct Worker {
    pub events: mpsc::Receiver<AppEvent>,
    task: tokio::task::JoinHandle<()>,
    pub commands: mpsc::Sender<Command>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Worker {
    pub fn start(site: &TestSite, role: Role) -> Self {
        let (commands, command_rx) = mpsc::channel::<Command>(8);
        let (event_tx, events) = mpsc::channel(256);
        let task = tokio::spawn(worker::run(
            WorkerConfig {
                site: SiteSource::Remote {
                    base_url: site.handle.base_url(),
                },
                ca_cert: None,
                allow_plain_http: false,
                auto_sign_in: Some((role.as_str().into(), format!("demo-{role}"))),
            },
            command_rx,
            EventSink::new(event_tx, Arc::new(|| {})),
        ));
        Self {
            events,
            task,
            commands,
        }
    }

    /// Applies the worker's events to `state` until `done` holds (20 s at
    /// most); a cardholder the state says is due to be read again is asked
    /// for, as the shell does.
    pub async fn until(
        &mut self,
        state: &mut AppState,
        what: &str,
        done: impl Fn(&AppState) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !done(state) {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("worker events");
            state.apply(event);
            if let Some(id) = state.people.take_refresh() {
                self.send(Command::RefreshCardholder(id)).await;
            }
        }
    }

    /// Sends a command to the worker.
    pub async fn send(&self, command: Command) {
        self.commands.send(command).await.expect("worker listens");
    }
}

//! The worker: a task on the tokio runtime that does every piece of I/O the
//! UI asks for. It takes [`Command`]s from a bounded channel and answers with
//! [`AppEvent`]s over another, waking the UI after each.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::demo_site::DemoSite;
use crate::backoff::{Backoff, Jitter};
use crate::client::dispatch::{DispatchOptions, send_door_command};
use crate::client::live::{self, LiveHandle, LiveUpdate};
use crate::client::{Client, ClientConfig, ClientError, error_chain};
use crate::domain::{self, CameraId, Decision, ErrorKind, MapId, Permission, RequestId, Role, Seq};
use crate::viewer::{AppEvent, Command, NoticeLevel, StillImage};

/// How often the site's clock is read again.
pub const SITE_CLOCK_PERIOD_MS: u64 = 60_000;
/// How many times the first snapshot is tried.
const SNAPSHOT_ATTEMPTS: u32 = 3;

/// Wakes the UI (e.g. `egui::Context::request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The worker's way back to the UI: a bounded channel and a waker.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<AppEvent>,
    wake: Waker,
}

impl EventSink {
    /// A sink over `tx` that calls `wake` after every send.
    pub fn new(tx: mpsc::Sender<AppEvent>, wake: Waker) -> Self {
        Self { tx, wake }
    }

    /// Sends one event and wakes the UI. False when the UI is gone.
    pub async fn send(&self, event: AppEvent) -> bool {
        let ok = self.tx.send(event).await.is_ok();
        (self.wake)();
        ok
    }
}

/// Where the worker finds its site.
pub enum SiteSource {
    /// A site somewhere, at this address.
    Remote { base_url: String },
    /// The demo site, started as a child process: `exe site --embedded`.
    Demo {
        exe: PathBuf,
        config_file: PathBuf,
        data_dir: PathBuf,
    },
}

/// What the worker needs to start.
pub struct WorkerConfig {
    pub site: SiteSource,
    pub ca_cert: Option<PathBuf>,
    /// Accept `http://` to a site that is not on loopback.
    pub allow_plain_http: bool,
    /// Sign in with these as soon as the site is there (the demo's operator).
    pub auto_sign_in: Option<(String, String)>,
}

/// The session's background tasks; dropping them stops them.
#[derive(Default)]
struct SessionTasks {
    live: Option<LiveHandle>,
    tasks: Vec<JoinHandle<()>>,
}

impl SessionTasks {
    fn stop(&mut self) {
        if let Some(live) = self.live.take() {
            live.stop();
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SessionTasks {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the worker until the command channel closes (the UI is gone). Must
/// run inside a tokio runtime; it does not need to be `Send`.
pub async fn run(config: WorkerConfig, mut commands: mpsc::Receiver<Command>, sink: EventSink) {
    let mut site_handle = None;
    let base_url = match config.site {
        SiteSource::Remote { base_url } => base_url,
        SiteSource::Demo {
            exe,
            config_file,
            data_dir,
        } => {
            sink.send(AppEvent::Starting {
                message: "Starting the demo site…".into(),
            })
            .await;
            match start_demo_site(&exe, &config_file, &data_dir).await {
                Ok(site) => {
                    let url = site.base_url().to_owned();
                    site_handle = Some(site);
                    url
                }
                Err(message) => {
                    tracing::error!("the demo site did not start: {message}");
                    sink.send(AppEvent::StartFailed { message }).await;
                    // Keep answering until the UI closes.
                    while commands.recv().await.is_some() {}
                    return;
                }
            }
        }
    };
    let client = match Client::new(&ClientConfig {
        base_url,
        ca_cert: config.ca_cert,
        allow_plain_http: config.allow_plain_http,
    }) {
        Ok(c) => c,
        Err(e) => {
            sink.send(AppEvent::StartFailed {
                message: error_chain(&e),
            })
            .await;
            while commands.recv().await.is_some() {}
            return;
        }
    };

    let mut worker = Worker {
        client,
        sink: sink.clone(),
        session: SessionTasks::default(),
        role: None,
        searches: Arc::new(AtomicU64::new(0)),
        probe: None,
        thumbs: Arc::new(tokio::sync::Semaphore::new(THUMB_FETCHES)),
    };
    worker.probe();
    if let Some((username, password)) = config.auto_sign_in {
        worker.sign_in(&username, &password).await;
    }
    while let Some(command) = commands.recv().await {
        worker.handle(command).await;
    }
    if let Some(probe) = worker.probe.take() {
        probe.abort();
    }
    worker.session.stop();
    if worker.client.is_signed_in() {
        let mut client = worker.client.clone();
        let bye = tokio::time::timeout(Duration::from_secs(2), client.sign_out()).await;
        if let Ok(Err(e)) = bye {
            tracing::debug!("sign-out on exit failed: {}", error_chain(&e));
        }
    }
    if let Some(site) = site_handle {
        tracing::info!("stopping the demo site");
        site.stop().await;
    }
}

async fn start_demo_site(
    exe: &std::path::Path,
    config_file: &std::path::Path,
    data_dir: &std::path::Path,
) -> Result<DemoSite, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create the data folder: {e}: {}", data_dir.display()))?;
    DemoSite::start(exe, config_file, data_dir).await
}

struct Worker {
    /// Holds the session token once signed in.
    client: Client,
    sink: EventSink,
    session: SessionTasks,
    /// The signed-in role (what may be asked of the site).
    role: Option<Role>,
    /// The number of the latest cardholder search: an older one's answer
    /// is dropped, so answers never arrive out of order.
    searches: Arc<AtomicU64>,
    /// Tries to reach the site at the start until it answers.
    probe: Option<JoinHandle<()>>,
    /// Bounds the small photos fetched at once.
    thumbs: Arc<tokio::sync::Semaphore>,
}

impl Worker {
    async fn handle(&mut self, command: Command) {
        match command {
            Command::RetryConnect => self.probe(),
            Command::SaveMapPlacements {
                map,
                placements,
                save,
            } => {
                let (client, sink) = (self.client.clone(), self.sink.clone());
                self.spawn(async move {
                    let result = match client.set_map_placements(&map, &placements.0).await {
                        Ok(stored) => {
                            sink.send(AppEvent::Maps(vec![stored])).await;
                            Ok(())
                        }
                        Err(e) => {
                            tracing::info!(%map, "map placements not saved: {}", error_chain(&e));
                            session_end_check(&sink, &e).await;
                            Err(error_chain(&e))
                        }
                    };
                    let saved = crate::viewer::map::MapSaved { save, result };
                    sink.send(AppEvent::MapSaved(saved)).await;
                });
            }
            Command::SignIn { username, password } => self.sign_in(&username, &password).await,
            Command::SignOut => {
                self.session.stop();
                self.role = None;
                if let Err(e) = self.client.sign_out().await {
                    tracing::info!("sign-out: {}", error_chain(&e));
                }
                self.sink.send(AppEvent::SignedOut).await;
            }
            Command::Door {
                door,
                action,
                idempotency_key,
            } => {
                let client = self.client.clone();
                let sink = self.sink.clone();
                self.session.tasks.push(tokio::spawn(async move {
                    let result = send_door_command(
                        &client,
                        &door,
                        action,
                        &idempotency_key,
                        DispatchOptions::default(),
                    )
                    .await;
                    let event = match result {
                        Ok(info) => AppEvent::CommandAccepted {
                            key: idempotency_key,
                            info,
                        },
                        Err(e) => {
                            tracing::warn!(%door, ?action, "door command failed: {}", error_chain(&e));
                            session_end_check(&sink, &e).await;
                            AppEvent::CommandRejected {
                                key: idempotency_key,
                                kind: e.kind(),
                                message: error_chain(&e),
                            }
                        }
                    };
                    sink.send(event).await;
                }));
                self.session.tasks.retain(|t| !t.is_finished());
            }
            Command::Grant { request, reason } => self.decide(request, true, reason),
            Command::Deny { request, reason } => self.decide(request, false, reason),
            // View changes, applied by the shell.
            Command::ShowDoorCameras(_)
            | Command::ShowCamera { .. }
            | Command::PlayDoorFrom { .. } => {}
            Command::SearchCardholders { q } => {
                let n = self.searches.fetch_add(1, Ordering::SeqCst) + 1;
                let task = search_cardholders(
                    self.client.clone(),
                    self.sink.clone(),
                    q,
                    n,
                    self.searches.clone(),
                );
                self.spawn(task);
            }
            Command::OpenCardholder(id) => {
                let events = self.may_search_events();
                let task =
                    load_cardholder(self.client.clone(), self.sink.clone(), id, true, events);
                self.spawn(task);
            }
            Command::RefreshCardholder(id) => {
                let events = self.may_search_events();
                let task =
                    load_cardholder(self.client.clone(), self.sink.clone(), id, false, events);
                self.spawn(task);
            }
            Command::SaveCardholder {
                id,
                create,
                name,
                department,
                schedule,
            } => {
                let events = self.may_search_events();
                let (client, sink) = (self.client.clone(), self.sink.clone());
                self.spawn(async move {
                    let result = if create {
                        let new = crate::client::NewCardholder {
                            id: id.as_str().to_owned(),
                            name,
                            department,
                            schedule,
                        };
                        client.create_cardholder(&new).await
                    } else {
                        let edit = crate::client::CardholderEdit {
                            name: Some(name),
                            department: Some(department),
                            schedule: (!schedule.is_empty()).then_some(schedule),
                            credentials: None,
                        };
                        client.update_cardholder(&id, &edit).await
                    };
                    match result {
                        Ok(c) => {
                            let id = c.id.clone();
                            if sink.send(AppEvent::CardholderSaved(c)).await {
                                load_cardholder(client, sink, id, true, events).await;
                            }
                        }
                        Err(e) => {
                            tracing::info!(%id, create, "cardholder not saved: {}", error_chain(&e));
                            session_end_check(&sink, &e).await;
                            let message = error_chain(&e);
                            sink.send(AppEvent::CardholderSaveFailed { message }).await;
                        }
                    }
                });
            }
            Command::SetCredential {
                cardholder,
                credential,
                state,
            } => {
                let task = set_credential(
                    self.client.clone(),
                    self.sink.clone(),
                    cardholder,
                    credential,
                    state,
                );
                self.spawn(task);
            }
            Command::PublishView { id, body } => {
                let (client, sink) = (self.client.clone(), self.sink.clone());
                self.spawn(async move {
                    // The site's `view.published` makes every client (this
                    // one too) read the list again.
                    if let Err(e) = client.publish_view(&id, &body).await {
                        view_change_failed(&sink, "not published", &e).await;
                    }
                });
            }
            Command::DeleteView(id) => {
                let (client, sink) = (self.client.clone(), self.sink.clone());
                self.spawn(async move {
                    if let Err(e) = client.delete_view(&id).await {
                        view_change_failed(&sink, "not deleted", &e).await;
                    }
                });
            }
            Command::SaveSnapshot {
                camera,
                stamp,
                frame,
            } => {
                let sink = self.sink.clone();
                let dir = super::snapshot::snapshot_dir();
                self.spawn(async move {
                    let event = super::snapshot::take_snapshot(dir, camera, stamp, frame).await;
                    sink.send(event).await;
                });
            }
            Command::LoadCardholderCard(id) => {
                let events = self.may_search_events();
                let task = load_card(self.client.clone(), self.sink.clone(), id, events);
                self.spawn(task);
            }
            Command::SetBadges {
                cardholder,
                badges,
                nonce,
            } => {
                let task = set_badges(
                    self.client.clone(),
                    self.sink.clone(),
                    cardholder,
                    badges,
                    nonce,
                );
                self.spawn(task);
            }
            Command::UploadCardholderPhoto { id, frame } => {
                let events = self.may_search_events();
                let task = upload_photo(self.client.clone(), self.sink.clone(), id, frame, events);
                self.spawn(task);
            }
            Command::LoadRecordings {
                cameras,
                doors,
                from,
                to,
            } => {
                let events = self.may_search_events();
                let task = load_recordings(
                    self.client.clone(),
                    self.sink.clone(),
                    RecordingsAsk {
                        cameras,
                        doors: if events { doors } else { Vec::new() },
                        from,
                        to,
                    },
                );
                self.spawn(task);
            }
            Command::AddBookmark {
                cameras,
                from,
                to,
                title,
                note,
            } => {
                let (client, sink) = (self.client.clone(), self.sink.clone());
                self.spawn(async move {
                    let placed = client.add_bookmark(&cameras, from, to, &title, &note).await;
                    let (level, text) = match placed {
                        Ok(b) => {
                            let text = format!("Bookmark placed · {}", b.title);
                            sink.send(AppEvent::BookmarkPlaced(b)).await;
                            (crate::viewer::NoticeLevel::Info, text)
                        }
                        Err(e) => {
                            session_end_check(&sink, &e).await;
                            (
                                crate::viewer::NoticeLevel::Error,
                                format!("Bookmark not placed: {}", error_chain(&e)),
                            )
                        }
                    };
                    sink.send(AppEvent::Notice { level, text }).await;
                });
            }
            Command::WantPhotos(ids) => {
                let may = self
                    .role
                    .is_some_and(|r| domain::allowed(r, Permission::ViewCardholders));
                for id in ids {
                    let task = load_thumb(
                        self.client.clone(),
                        self.sink.clone(),
                        id,
                        may.then(|| self.thumbs.clone()),
                    );
                    self.spawn(task);
                }
            }
        }
    }

    /// (Re)starts the first-connect probe: tries the site at once, then
    /// with the backoff, until it answers.
    fn probe(&mut self) {
        if let Some(old) = self.probe.take() {
            old.abort();
        }
        self.probe = Some(tokio::spawn(probe_site(
            self.client.clone(),
            self.sink.clone(),
        )));
    }

    fn may_search_events(&self) -> bool {
        self.role
            .is_some_and(|r| domain::allowed(r, Permission::SearchEvents))
    }

    fn spawn(&mut self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.session.tasks.push(tokio::spawn(task));
        self.session.tasks.retain(|t| !t.is_finished());
    }

    fn decide(&mut self, request: RequestId, grant: bool, reason: Option<String>) {
        let task = decide(
            self.client.clone(),
            self.sink.clone(),
            request,
            grant,
            reason,
        );
        self.session.tasks.push(tokio::spawn(task));
        self.session.tasks.retain(|t| !t.is_finished());
    }

    async fn sign_in(&mut self, username: &str, password: &str) {
        self.session.stop();
        self.sink
            .send(AppEvent::SignInStarted {
                username: username.to_owned(),
            })
            .await;
        let session = match self.client.sign_in(username, password).await {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(username, "sign-in failed: {}", error_chain(&e));
                self.sink
                    .send(AppEvent::SignInFailed {
                        kind: e.kind(),
                        message: error_chain(&e),
                    })
                    .await;
                return;
            }
        };
        tracing::info!(username, role = %session.role, "signed in");
        // The site's video relay asks every stream for the session: the
        // shell hands these to the video engine; the state never keeps them.
        self.sink
            .send(AppEvent::RelayCredentials(
                crate::domain::CameraCredentials {
                    username: session.username.clone(),
                    password: session.token.clone(),
                },
            ))
            .await;
        // The token stays in the worker's client; the UI never needs it.
        let session = crate::domain::Session {
            token: String::new(),
            ..session
        };
        let role = session.role;
        self.role = Some(role);
        self.sink.send(AppEvent::SignedIn(session)).await;
        self.start_session(role).await;
    }

    /// Snapshot, then the live stream from its seq, then names and clock.
    async fn start_session(&mut self, role: Role) {
        let backoff = Backoff::new(500, 5_000, Jitter::Spread);
        let mut attempt = 1;
        let snapshot = loop {
            match self.client.snapshot().await {
                Ok(s) => break s,
                Err(e) if e.is_transient() && attempt < SNAPSHOT_ATTEMPTS => {
                    tracing::warn!(attempt, "snapshot failed, retrying: {}", error_chain(&e));
                    tokio::time::sleep(backoff.delay_for(attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::warn!("snapshot failed: {}", error_chain(&e));
                    self.sink
                        .send(AppEvent::SignInFailed {
                            kind: e.kind(),
                            message: format!("cannot load the site's state: {}", error_chain(&e)),
                        })
                        .await;
                    return;
                }
            }
        };
        let seq: Seq = snapshot.seq;
        let cameras: Vec<CameraId> = snapshot.cameras.iter().map(|c| c.id.clone()).collect();
        let maps: Vec<MapId> = snapshot.maps.iter().map(|m| m.id.clone()).collect();
        self.sink.send(AppEvent::Snapshot(Box::new(snapshot))).await;
        self.session.tasks.push(tokio::spawn(load_shared_views(
            self.client.clone(),
            self.sink.clone(),
        )));
        self.session.tasks.push(tokio::spawn(load_stills(
            self.client.clone(),
            cameras,
            self.sink.clone(),
        )));
        self.session.tasks.push(tokio::spawn(load_map_images(
            self.client.clone(),
            maps,
            self.sink.clone(),
        )));

        let (live_tx, live_rx) = mpsc::channel(256);
        self.session.live = Some(live::spawn(self.client.clone(), seq, live_tx));
        self.session.tasks.push(tokio::spawn(forward_live(
            live_rx,
            self.sink.clone(),
            self.client.clone(),
            // The site replays missed events only to roles that may
            // search the log; the others read the state again instead.
            (!domain::allowed(role, Permission::SearchEvents)).then(|| self.client.clone()),
        )));
        self.session.tasks.push(tokio::spawn(load_names(
            self.client.clone(),
            self.sink.clone(),
        )));
        self.session.tasks.push(tokio::spawn(watch_clock(
            self.client.clone(),
            self.sink.clone(),
        )));
    }
}

/// Tries to reach the site until it answers (any HTTP answer counts):
/// `Connecting` before each try, `Unreachable` with the reason and the next
/// try's time after a failure, `Reachable` at the end.
async fn probe_site(client: Client, sink: EventSink) {
    let backoff = Backoff::new(1_000, 30_000, Jitter::Spread);
    let mut attempt = 1;
    loop {
        if !sink
            .send(AppEvent::Connecting {
                at: chrono::Utc::now(),
            })
            .await
        {
            return;
        }
        match client.probe().await {
            Ok(()) => {
                sink.send(AppEvent::Reachable).await;
                return;
            }
            Err(e) => {
                let delay = backoff.delay_for(attempt);
                let at = chrono::Utc::now();
                let retry_at = at + chrono::Duration::from_std(delay).unwrap_or_default();
                tracing::info!(attempt, "the site cannot be reached: {}", error_chain(&e));
                let event = AppEvent::Unreachable {
                    reason: error_chain(&e),
                    at,
                    retry_at,
                };
                if !sink.send(event).await {
                    return;
                }
                tokio::time::sleep(delay).await;
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// Reports a lost session once, when an error says so.
async fn session_end_check(sink: &EventSink, e: &ClientError) {
    if e.kind() == ErrorKind::Unauthenticated {
        sink.send(AppEvent::SessionEnded {
            message: "The session has ended; sign in again".into(),
        })
        .await;
    }
}

/// Passes the live stream's updates on. With `resync`, each (re)connection
/// is followed by a fresh snapshot: the stream then starts from "now" with no
/// replay, so the snapshot covers what happened while the link was down;
/// events it already holds are ignored by their seq.
/// A `view.*` event (or a resync) reads the shared views again, in order.
/// A `map.changed` reads the maps again, so every client shows where
/// things are now.
async fn forward_live(
    mut rx: mpsc::Receiver<LiveUpdate>,
    sink: EventSink,
    client: Client,
    resync: Option<Client>,
) {
    while let Some(update) = rx.recv().await {
        let event = match update {
            LiveUpdate::Event(e) if matches!(e.kind, domain::EventKind::MapChanged { .. }) => {
                if !sink.send(AppEvent::Live(e)).await {
                    return;
                }
                match client.snapshot().await {
                    Ok(snapshot) => AppEvent::Maps(snapshot.maps),
                    Err(e) => {
                        tracing::warn!("cannot read the maps again: {}", error_chain(&e));
                        continue;
                    }
                }
            }
            LiveUpdate::Event(e) => {
                let views = e.kind.type_name().starts_with("view.");
                if !sink.send(AppEvent::Live(e)).await {
                    return;
                }
                if views {
                    load_shared_views(client.clone(), sink.clone()).await;
                }
                continue;
            }
            LiveUpdate::LinkUp => {
                if let Some(client) = &resync {
                    load_shared_views(client.clone(), sink.clone()).await;
                    match client.snapshot().await {
                        Ok(snapshot) => {
                            if !sink.send(AppEvent::Snapshot(Box::new(snapshot))).await {
                                return;
                            }
                        }
                        Err(e) => tracing::warn!(
                            "cannot read the site's state after reconnecting: {}",
                            error_chain(&e)
                        ),
                    }
                }
                AppEvent::LinkUp
            }
            LiveUpdate::LinkDown {
                reason,
                retry_in_ms,
            } => AppEvent::LinkDown {
                reason,
                retry_in_ms,
            },
            LiveUpdate::Unauthenticated => AppEvent::SessionEnded {
                message: "The session has ended; sign in again".into(),
            },
        };
        if !sink.send(event).await {
            return;
        }
    }
}

/// The largest still picture accepted, in pixels a side.
const STILL_MAX_SIDE_PX: u32 = 4_096;

/// Stills fetched at the same time.
const STILL_FETCHES_AT_ONCE: usize = 4;

/// How long the stills are tried again while the site's cameras start
/// (the demo site encodes its scenes on the first run).
const STILLS_RETRY_MS: u64 = 600_000;

/// Fetches each camera's still once and decodes it on a blocking thread, so
/// a tile can show it while its stream connects; a few at once. A camera
/// without a still (e.g. a live-only one) is skipped quietly. While no
/// camera has a still (the site's cameras are still starting) it tries
/// again with a backoff from 100 ms;
/// once stills come, it reads the cameras again, since their stream
/// addresses may have been unknown when the first snapshot was taken.
async fn load_stills(client: Client, cameras: Vec<CameraId>, sink: EventSink) {
    use futures_util::StreamExt;
    let started = tokio::time::Instant::now();
    let mut backoff = Backoff::new(100, 10_000, Jitter::Spread);
    let mut pending = cameras;
    let mut loaded = 0_usize;
    loop {
        let mut unavailable = Vec::new();
        // A few at once, each shown as soon as it is decoded.
        let mut fetches = futures_util::stream::iter(pending.into_iter().map(|camera| {
            let client = client.clone();
            async move {
                let outcome = load_still(&client, &camera).await;
                (camera, outcome)
            }
        }))
        .buffer_unordered(STILL_FETCHES_AT_ONCE);
        while let Some((camera, outcome)) = fetches.next().await {
            match outcome {
                StillOutcome::Loaded(image) => {
                    loaded += 1;
                    let event = AppEvent::CameraStill { camera, image };
                    if !sink.send(event).await {
                        return;
                    }
                }
                StillOutcome::Unavailable => unavailable.push(camera),
                StillOutcome::Failed => {}
            }
        }
        if loaded > 0 {
            break;
        }
        if unavailable.is_empty() {
            return; // no camera has a still
        }
        // The demo cameras are being prepared: show how far.
        if let Ok(snapshot) = client.snapshot().await
            && snapshot
                .cameras
                .iter()
                .any(|c| c.state == crate::domain::CameraState::Preparing)
            && !sink.send(AppEvent::Cameras(snapshot.cameras)).await
        {
            return;
        }
        if started.elapsed() > Duration::from_millis(STILLS_RETRY_MS) {
            tracing::info!("no camera stills; giving up");
            return;
        }
        tokio::time::sleep(backoff.next_delay()).await;
        pending = unavailable;
    }
    // Stills are served, so the cameras are up: read their addresses again,
    // and again while a real camera's streams are still being probed.
    let mut backoff = Backoff::new(500, 10_000, Jitter::Spread);
    loop {
        match client.snapshot().await {
            Ok(snapshot) => {
                let probing = snapshot.cameras.iter().any(|c| {
                    matches!(
                        c.state,
                        crate::domain::CameraState::Probing | crate::domain::CameraState::Preparing
                    )
                });
                if !sink.send(AppEvent::Cameras(snapshot.cameras)).await || !probing {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!("cannot read the cameras again: {}", error_chain(&e));
                return;
            }
        }
        if started.elapsed() > Duration::from_millis(STILLS_RETRY_MS) {
            return;
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

enum StillOutcome {
    Loaded(Arc<StillImage>),
    /// The site has none now (e.g. its cameras are starting).
    Unavailable,
    Failed,
}

async fn load_still(client: &Client, camera: &CameraId) -> StillOutcome {
    let jpeg = match client.camera_still(camera).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::debug!(%camera, "no still: {}", error_chain(&e));
            return if e.kind() == ErrorKind::Unavailable {
                StillOutcome::Unavailable
            } else {
                StillOutcome::Failed
            };
        }
    };
    match tokio::task::spawn_blocking(move || decode_still(&jpeg)).await {
        Ok(Ok(image)) => StillOutcome::Loaded(Arc::new(image)),
        Ok(Err(e)) => {
            tracing::debug!(%camera, "still not decodable: {e}");
            StillOutcome::Failed
        }
        Err(e) => {
            tracing::warn!(%camera, "still decoder failed: {e}");
            StillOutcome::Failed
        }
    }
}

/// The largest floor plan picture accepted, in pixels a side.
const MAP_MAX_SIDE_PX: u32 = 8_192;

/// Fetches each floor plan's picture once, decodes it on a blocking thread
/// and hands it to the UI. A plan that cannot be had is logged and left
/// out: the map then draws its icons on a blank plan.
async fn load_map_images(client: Client, maps: Vec<MapId>, sink: EventSink) {
    for map in maps {
        let bytes = match client.map_image(&map).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(%map, "no plan picture: {}", error_chain(&e));
                continue;
            }
        };
        let decoded =
            tokio::task::spawn_blocking(move || decode_image(&bytes, MAP_MAX_SIDE_PX)).await;
        match decoded {
            Ok(Ok(image)) => {
                let event = AppEvent::MapImage {
                    map,
                    image: Arc::new(image),
                };
                if !sink.send(event).await {
                    return;
                }
            }
            Ok(Err(e)) => tracing::warn!(%map, "plan picture not decodable: {e}"),
            Err(e) => tracing::warn!(%map, "plan decoder failed: {e}"),
        }
    }
}

/// Decodes a JPEG or PNG into RGBA, refusing absurd sizes.
pub fn decode_still(bytes: &[u8]) -> Result<StillImage, image::ImageError> {
    decode_image(bytes, STILL_MAX_SIDE_PX)
}

/// Decodes a JPEG or PNG into RGBA, refusing pictures over `max_side` a side.
pub fn decode_image(bytes: &[u8], max_side: u32) -> Result<StillImage, image::ImageError> {
    decode_scaled(bytes, max_side, None)
}

/// Decodes a JPEG or PNG (at most `max_side` a side) and, with `fit`,
/// shrinks it to fit a square of that side, keeping its shape.
fn decode_scaled(
    bytes: &[u8],
    max_side: u32,
    fit: Option<u32>,
) -> Result<StillImage, image::ImageError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(max_side);
    limits.max_image_height = Some(max_side);
    reader.limits(limits);
    let mut picture = reader.decode()?;
    if let Some(side) = fit
        && (picture.width() > side || picture.height() > side)
    {
        picture = picture.thumbnail(side, side);
    }
    let rgba = picture.into_rgba8();
    let (width, height) = rgba.dimensions();
    Ok(StillImage {
        width,
        height,
        rgba: bytes::Bytes::from(rgba.into_raw()),
    })
}

/// Reads the site's shared views and hands them to the UI.
async fn load_shared_views(client: Client, sink: EventSink) {
    match client.shared_views().await {
        Ok(views) => {
            sink.send(AppEvent::SharedViews(views)).await;
        }
        Err(e) => tracing::info!("no shared views: {}", error_chain(&e)),
    }
}

/// Tells the operator a view change did not happen.
async fn view_change_failed(sink: &EventSink, what: &str, e: &ClientError) {
    tracing::info!("shared view {what}: {}", error_chain(e));
    session_end_check(sink, e).await;
    let text = format!("Shared view {what}: {}", error_chain(e));
    sink.send(AppEvent::Notice {
        level: crate::viewer::NoticeLevel::Error,
        text,
    })
    .await;
}

async fn load_names(client: Client, sink: EventSink) {
    match client.cardholders("").await {
        Ok(list) => {
            let names = list.into_iter().map(|c| (c.id, c.name)).collect();
            sink.send(AppEvent::Cardholders(names)).await;
        }
        // Some roles may not list people; the event list then shows ids.
        Err(e) => tracing::debug!("no cardholder names: {}", error_chain(&e)),
    }
}

/// The largest cardholder photo accepted, in pixels a side.
const PHOTO_MAX_SIDE_PX: u32 = 2_048;

/// Asks the site for the cardholders matching `q`; the answer is dropped
/// when a newer search (`latest`) was asked for meanwhile.
/// What the timeline asks the site for.
struct RecordingsAsk {
    cameras: Vec<CameraId>,
    doors: Vec<domain::DoorId>,
    from: domain::Timestamp,
    to: domain::Timestamp,
}

/// The most events one door's lane reads per ask.
const MARKS_PER_DOOR: u32 = 1000;

/// Reads the cameras' coverage, the doors' events and the bookmarks of a
/// time range, and answers with one `AppEvent::Recordings`.
async fn load_recordings(client: Client, sink: EventSink, ask: RecordingsAsk) {
    let (from, to) = (ask.from, ask.to);
    let mut coverage = Vec::with_capacity(ask.cameras.len());
    for camera in ask.cameras {
        match client.coverage(&camera, from, to).await {
            Ok(c) => {
                let segments = c
                    .segments
                    .into_iter()
                    .map(|s| domain::SegmentRef {
                        id: s.id,
                        start: s.start,
                        end: s.end,
                        url: client.segment_url(s.id),
                    })
                    .collect();
                coverage.push((camera, segments));
            }
            Err(e) => {
                tracing::info!(%camera, "cannot read the recordings: {}", error_chain(&e));
                session_end_check(&sink, &e).await;
                sink.send(AppEvent::RecordingsFailed {
                    message: error_chain(&e),
                })
                .await;
                return;
            }
        }
    }
    let mut marks = Vec::new();
    for door in ask.doors {
        let query = crate::client::EventQuery {
            door: Some(door.clone()),
            from: Some(from),
            to: Some(to),
            limit: Some(MARKS_PER_DOOR),
            ..Default::default()
        };
        match client.events(&query).await {
            Ok(page) => marks.extend(page.items.iter().filter_map(crate::viewer::DoorMark::of)),
            Err(e) => tracing::info!(%door, "cannot read the door's events: {}", error_chain(&e)),
        }
    }
    let bookmarks = client.bookmarks(from, to).await.unwrap_or_else(|e| {
        tracing::info!("cannot read the bookmarks: {}", error_chain(&e));
        Vec::new()
    });
    sink.send(AppEvent::Recordings {
        from,
        to,
        coverage,
        marks,
        bookmarks,
    })
    .await;
}

async fn search_cardholders(
    client: Client,
    sink: EventSink,
    q: String,
    n: u64,
    latest: Arc<AtomicU64>,
) {
    let result = client.cardholders(&q).await.map_err(|e| {
        tracing::info!(q, "cardholder search failed: {}", error_chain(&e));
        error_chain(&e)
    });
    if latest.load(Ordering::SeqCst) == n {
        sink.send(AppEvent::CardholderSearch { q, result }).await;
    }
}

/// Reads a cardholder, then (with `photo`) its photo, decoded on a
/// blocking thread, and (with `events`) its recent events.
async fn load_cardholder(
    client: Client,
    sink: EventSink,
    id: domain::CardholderId,
    photo: bool,
    events: bool,
) {
    let cardholder = match client.cardholder(&id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(%id, "cannot read the cardholder: {}", error_chain(&e));
            session_end_check(&sink, &e).await;
            let message = error_chain(&e);
            sink.send(AppEvent::CardholderFailed { id, message }).await;
            return;
        }
    };
    let has_photo = cardholder.has_photo;
    if !sink.send(AppEvent::CardholderLoaded(cardholder)).await {
        return;
    }
    if events {
        let query = crate::client::EventQuery {
            cardholder: Some(id.clone()),
            limit: Some(crate::viewer::CARDHOLDER_EVENTS_LEN),
            ..Default::default()
        };
        match client.events(&query).await {
            Ok(page) => {
                let id = id.clone();
                sink.send(AppEvent::CardholderEvents {
                    id,
                    events: page.items,
                })
                .await;
            }
            Err(e) => tracing::info!(%id, "no recent events: {}", error_chain(&e)),
        }
    }
    if photo && has_photo {
        let bytes = match client.cardholder_photo(&id).await {
            Ok(b) => b,
            Err(e) => {
                tracing::info!(%id, "no photo: {}", error_chain(&e));
                return;
            }
        };
        match tokio::task::spawn_blocking(move || decode_image(&bytes, PHOTO_MAX_SIDE_PX)).await {
            Ok(Ok(image)) => {
                let image = Arc::new(image);
                sink.send(AppEvent::CardholderPhoto { id, image }).await;
            }
            Ok(Err(e)) => tracing::info!(%id, "photo not decodable: {e}"),
            Err(e) => tracing::warn!(%id, "photo decoder failed: {e}"),
        }
    }
}

/// Replaces a cardholder's badges (the whole list, as the site takes it);
/// the outcome, with the cardholder as stored, back under `nonce`.
async fn set_badges(
    client: Client,
    sink: EventSink,
    cardholder: domain::CardholderId,
    badges: Vec<crate::viewer::Badge>,
    nonce: String,
) {
    let edit = crate::client::CardholderEdit {
        credentials: Some(
            badges
                .into_iter()
                .map(|b| domain::Credential {
                    id: b.id,
                    state: b.state,
                    valid_until: b.valid_until,
                })
                .collect(),
        ),
        ..Default::default()
    };
    let outcome = match client.update_cardholder(&cardholder, &edit).await {
        Ok(c) => crate::viewer::BadgesOutcome {
            nonce,
            cardholder: Some(c),
            refused: None,
        },
        Err(e) => {
            tracing::info!(%cardholder, "badges not saved: {}", error_chain(&e));
            session_end_check(&sink, &e).await;
            crate::viewer::BadgesOutcome {
                nonce,
                cardholder: None,
                refused: Some(crate::viewer::BadgesRefused {
                    conflict: e.kind() == domain::ErrorKind::Conflict,
                    message: error_chain(&e),
                }),
            }
        }
    };
    sink.send(AppEvent::BadgesSaved(Box::new(outcome))).await;
}

/// Makes a camera frame a cardholder's photo: portrait, scaled, JPEG on a
/// blocking thread; uploaded; the cardholder read again with the new photo.
async fn upload_photo(
    client: Client,
    sink: EventSink,
    id: domain::CardholderId,
    frame: crate::viewer::SnapshotFrame,
    events: bool,
) {
    let notice = |level, text: String| AppEvent::Notice { level, text };
    let jpeg =
        match tokio::task::spawn_blocking(move || super::snapshot::portrait_jpeg(&frame)).await {
            Ok(Ok(jpeg)) => jpeg,
            Ok(Err(why)) => {
                sink.send(notice(
                    NoticeLevel::Error,
                    format!("Photo not taken: {why}"),
                ))
                .await;
                return;
            }
            Err(e) => {
                sink.send(notice(NoticeLevel::Error, format!("Photo not taken: {e}")))
                    .await;
                return;
            }
        };
    match client.upload_cardholder_photo(&id, jpeg).await {
        Ok(c) => {
            let text = format!("Photo saved for {}", c.name);
            if sink.send(notice(NoticeLevel::Info, text)).await {
                load_cardholder(client, sink, id, true, events).await;
            }
        }
        Err(e) => {
            tracing::info!(%id, "photo not uploaded: {}", error_chain(&e));
            session_end_check(&sink, &e).await;
            let text = format!("Photo not saved: {}", error_chain(&e));
            sink.send(notice(NoticeLevel::Error, text)).await;
        }
    }
}

/// Small photos fetched at once.
const THUMB_FETCHES: usize = 4;

/// Reads a cardholder's photo for a row (at most [`THUMB_FETCHES`] at
/// once, through `limit`), decodes and shrinks it on a blocking thread, and
/// answers `AppEvent::Thumb`. Without `limit` the role may not see people:
/// the answer is Missing at once.
async fn load_thumb(
    client: Client,
    sink: EventSink,
    id: domain::CardholderId,
    limit: Option<Arc<tokio::sync::Semaphore>>,
) {
    use crate::viewer::photos::{THUMB_SIDE_PX, ThumbResult};
    let result = match limit {
        None => ThumbResult::Missing,
        Some(limit) => {
            let Ok(_permit) = limit.acquire_owned().await else {
                return;
            };
            match client.cardholder_photo(&id).await {
                Ok(bytes) => {
                    let decoded = tokio::task::spawn_blocking(move || {
                        decode_scaled(&bytes, PHOTO_MAX_SIDE_PX, Some(THUMB_SIDE_PX))
                    })
                    .await;
                    match decoded {
                        Ok(Ok(image)) => ThumbResult::Ready(Arc::new(image)),
                        Ok(Err(e)) => {
                            tracing::info!(%id, "photo not decodable: {e}");
                            ThumbResult::Missing
                        }
                        Err(e) => {
                            tracing::warn!(%id, "photo decoder failed: {e}");
                            ThumbResult::Failed
                        }
                    }
                }
                Err(e) => match e.kind() {
                    ErrorKind::NotFound | ErrorKind::PermissionDenied => ThumbResult::Missing,
                    _ => {
                        tracing::debug!(%id, "no photo: {}", error_chain(&e));
                        session_end_check(&sink, &e).await;
                        ThumbResult::Failed
                    }
                },
            }
        }
    };
    sink.send(AppEvent::Thumb { id, result }).await;
}

/// Reads a request's cardholder card: the cardholder, its photo (decoded
/// on a blocking thread) and (with `events`) its last few events; one
/// event to the UI with all of it.
async fn load_card(client: Client, sink: EventSink, id: domain::CardholderId, events: bool) {
    let mut card = crate::viewer::CardholderCard {
        id: id.clone(),
        cardholder: None,
        photo: None,
        events: None,
        failed: None,
    };
    match client.cardholder(&id).await {
        Ok(c) => card.cardholder = Some(c),
        Err(e) => {
            tracing::info!(%id, "cannot read the card: {}", error_chain(&e));
            session_end_check(&sink, &e).await;
            card.failed = Some(error_chain(&e));
            sink.send(AppEvent::CardholderCard(Box::new(card))).await;
            return;
        }
    }
    if events {
        let query = crate::client::EventQuery {
            cardholder: Some(id.clone()),
            limit: Some(crate::viewer::CARD_EVENTS_LEN),
            ..Default::default()
        };
        match client.events(&query).await {
            Ok(page) => card.events = Some(page.items),
            Err(e) => tracing::info!(%id, "no recent events: {}", error_chain(&e)),
        }
    }
    if card.cardholder.as_ref().is_some_and(|c| c.has_photo) {
        match client.cardholder_photo(&id).await {
            Ok(bytes) => {
                match tokio::task::spawn_blocking(move || decode_image(&bytes, PHOTO_MAX_SIDE_PX))
                    .await
                {
                    Ok(Ok(image)) => card.photo = Some(Arc::new(image)),
                    Ok(Err(e)) => tracing::info!(%id, "photo not decodable: {e}"),
                    Err(e) => tracing::warn!(%id, "photo decoder failed: {e}"),
                }
            }
            Err(e) => tracing::info!(%id, "no photo: {}", error_chain(&e)),
        }
    }
    sink.send(AppEvent::CardholderCard(Box::new(card))).await;
}

/// Enables or disables a badge, then reads its cardholder again (so the
/// change shows even while the live link is down).
async fn set_credential(
    client: Client,
    sink: EventSink,
    cardholder: domain::CardholderId,
    credential: domain::CredentialId,
    state: domain::CredentialState,
) {
    let update = domain::CredentialUpdate { state };
    match client.update_credential(&credential, &update).await {
        Ok(()) => match client.cardholder(&cardholder).await {
            Ok(c) => {
                sink.send(AppEvent::CardholderLoaded(c)).await;
            }
            Err(e) => tracing::info!(%cardholder, "cannot read it again: {}", error_chain(&e)),
        },
        Err(e) => {
            tracing::warn!(%credential, ?state, "credential change failed: {}", error_chain(&e));
            session_end_check(&sink, &e).await;
            let message = error_chain(&e);
            sink.send(AppEvent::CredentialFailed {
                credential,
                message,
            })
            .await;
        }
    }
}

async fn watch_clock(client: Client, sink: EventSink) {
    loop {
        let before = chrono::Utc::now();
        match client.time().await {
            Ok(site) => {
                let after = chrono::Utc::now();
                // The site read its clock about halfway through the call.
                let local = before + (after - before) / 2;
                if !sink.send(AppEvent::SiteClock { site, local }).await {
                    return;
                }
            }
            Err(e) => tracing::debug!("cannot read the site's clock: {}", error_chain(&e)),
        }
        tokio::time::sleep(Duration::from_millis(SITE_CLOCK_PERIOD_MS)).await;
    }
}

async fn decide(
    client: Client,
    sink: EventSink,
    request: RequestId,
    grant: bool,
    reason: Option<String>,
) {
    let decision = Decision { reason };
    let result = if grant {
        client.grant(&request, &decision).await
    } else {
        client.deny(&request, &decision).await
    };
    match result {
        Ok(()) => {
            let text = if grant {
                "Access granted"
            } else {
                "Access denied"
            };
            sink.send(AppEvent::Notice {
                level: NoticeLevel::Info,
                text: text.into(),
            })
            .await;
        }
        Err(e) => {
            tracing::warn!(%request, grant, "access decision failed: {}", error_chain(&e));
            session_end_check(&sink, &e).await;
            sink.send(AppEvent::DecisionFailed {
                request,
                kind: e.kind(),
                message: error_chain(&e),
            })
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};

    use super::*;
    use crate::domain::{
        CommandId, CommandInfo, CommandState, DoorAction, DoorCommand, DoorId, Role, Session,
        SignIn, SiteInfo, SiteTime, Snapshot,
    };

    async fn sign_in(axum::Json(body): axum::Json<SignIn>) -> Response {
        if body.password != "demo-operator" {
            let err = r#"{"kind":"unauthenticated","message":"wrong password"}"#;
            return (axum::http::StatusCode::UNAUTHORIZED, err).into_response();
        }
        axum::Json(Session {
            token: "secret-token".into(),
            username: body.username,
            role: Role::Operator,
            expires: "2030-01-01T00:00:00Z".parse().unwrap(),
        })
        .into_response()
    }

    async fn snapshot() -> axum::Json<Snapshot> {
        axum::Json(Snapshot {
            seq: 41,
            site: SiteInfo {
                name: "Mock".into(),
                time_zone: "UTC".into(),
                demo: false,
            },
            cameras: vec![],
            doors: vec![],
            access_points: vec![],
            maps: vec![],
            open_requests: vec![],
        })
    }

    async fn stream() -> Response {
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(axum::body::Body::from(": hb\n\n"))
            .unwrap()
    }

    async fn command(
        axum::extract::Path(door): axum::extract::Path<String>,
        axum::Json(cmd): axum::Json<DoorCommand>,
    ) -> Response {
        let info = CommandInfo {
            id: CommandId::new(format!("cmd-{}", cmd.idempotency_key)),
            door: DoorId::new(door),
            action: cmd.action,
            state: CommandState::Pending,
            reason: None,
        };
        (axum::http::StatusCode::ACCEPTED, axum::Json(info)).into_response()
    }

    async fn time() -> axum::Json<SiteTime> {
        axum::Json(SiteTime {
            now: chrono::Utc::now(),
            time_zone: "UTC".into(),
        })
    }

    /// The next event, past the first-connect probe's (they come when
    /// they come, between the others).
    async fn next(rx: &mut mpsc::Receiver<AppEvent>, what: &str) -> AppEvent {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("worker alive");
            if !matches!(
                event,
                AppEvent::Connecting { .. } | AppEvent::Reachable | AppEvent::Unreachable { .. }
            ) {
                return event;
            }
        }
    }

    #[test]
    fn stills_decode_to_rgba_and_garbage_is_refused() {
        let mut img = image::RgbImage::new(64, 36);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([u8::try_from(x * 4).unwrap(), 100, 200]);
        }
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .unwrap();
        let still = decode_still(&jpeg).unwrap();
        assert_eq!((still.width, still.height), (64, 36));
        assert!(still.is_consistent());
        // Opaque, and the gradient survived.
        assert!(still.rgba.chunks_exact(4).all(|p| p[3] == 255));
        assert!(still.rgba[4 * 60] > still.rgba[0] + 100);
        assert!(decode_still(b"not an image").is_err());
        assert!(decode_still(&jpeg[..jpeg.len() / 3]).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signs_in_loads_streams_commands_and_signs_out() {
        let router = axum::Router::new()
            .route("/api/v1/auth/sign-in", post(sign_in))
            .route(
                "/api/v1/auth/sign-out",
                post(|| async { axum::http::StatusCode::NO_CONTENT }),
            )
            .route("/api/v1/snapshot", get(snapshot))
            .route("/api/v1/events/stream", get(stream))
            .route("/api/v1/doors/{id}/commands", post(command))
            .route("/api/v1/time", get(time));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });

        let wakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = wakes.clone();
        let (event_tx, mut events) = mpsc::channel(64);
        let sink = EventSink::new(
            event_tx,
            Arc::new(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
        );
        let (commands, command_rx) = mpsc::channel(8);
        let config = WorkerConfig {
            site: SiteSource::Remote {
                base_url: format!("http://{addr}"),
            },
            ca_cert: None,
            allow_plain_http: false,
            auto_sign_in: None,
        };
        let worker = tokio::spawn(run(config, command_rx, sink));

        commands
            .send(Command::SignIn {
                username: "operator".into(),
                password: "wrong".into(),
            })
            .await
            .unwrap();
        assert!(matches!(
            next(&mut events, "started").await,
            AppEvent::SignInStarted { .. }
        ));
        match next(&mut events, "failure").await {
            AppEvent::SignInFailed { kind, .. } => assert_eq!(kind, ErrorKind::Unauthenticated),
            other => panic!("expected a failed sign-in, got {other:?}"),
        }

        commands
            .send(Command::SignIn {
                username: "operator".into(),
                password: "demo-operator".into(),
            })
            .await
            .unwrap();
        assert!(matches!(
            next(&mut events, "started").await,
            AppEvent::SignInStarted { .. }
        ));
        match next(&mut events, "relay credentials").await {
            AppEvent::RelayCredentials(c) => {
                assert_eq!(c.username, "operator");
                assert!(!c.password.is_empty(), "the relay takes the session token");
                assert!(
                    !format!("{c:?}").contains(&c.password),
                    "never in Debug output"
                );
            }
            other => panic!("expected the relay credentials, got {other:?}"),
        }
        match next(&mut events, "session").await {
            AppEvent::SignedIn(s) => {
                assert_eq!(s.role, Role::Operator);
                assert!(s.token.is_empty(), "the token must stay in the worker");
            }
            other => panic!("expected a session, got {other:?}"),
        }
        match next(&mut events, "snapshot").await {
            AppEvent::Snapshot(s) => assert_eq!(s.seq, 41),
            other => panic!("expected the snapshot, got {other:?}"),
        }

        commands
            .send(Command::Door {
                door: DoorId::new("door-lab"),
                action: DoorAction::Unlock,
                idempotency_key: "k-1".into(),
            })
            .await
            .unwrap();
        let mut accepted = None;
        let mut link_up = false;
        while accepted.is_none() || !link_up {
            match next(&mut events, "acceptance and link").await {
                AppEvent::CommandAccepted { key, info } => accepted = Some((key, info)),
                AppEvent::LinkUp => link_up = true,
                AppEvent::LinkDown { .. } | AppEvent::SiteClock { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let (key, info) = accepted.unwrap();
        assert_eq!(key, "k-1");
        assert_eq!(info.id, CommandId::new("cmd-k-1"));

        commands.send(Command::SignOut).await.unwrap();
        loop {
            if next(&mut events, "sign-out").await == AppEvent::SignedOut {
                break;
            }
        }
        drop(commands);
        tokio::time::timeout(Duration::from_secs(5), worker)
            .await
            .expect("the worker ends when the UI is gone")
            .unwrap();
        assert!(wakes.load(std::sync::atomic::Ordering::Relaxed) >= 6);
    }
}

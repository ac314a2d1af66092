//! The eframe shell: drains the worker's events into `AppState` in
//! `logic()`, draws in `ui()`, and forwards the UI's commands to the worker.
//! It never awaits and never does I/O, and asks for a repaint only when
//! something changed or a deadline (or the one-second clock) comes up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::video::{RepaintPacer, TileStatsLog, VideoSetup};
use crate::domain::{ErrorKind, Timestamp};
use crate::ui;
use crate::ui::cameras::{VideoFeed, VideoUi};
use crate::ui::video_tile::TileTextures;
use crate::viewer::{
    AppEvent, AppState, Command, CommandReceiver, CommandSender, NoticeLevel, TileSource,
    ViewState, Workspace, command_channel,
};

/// The most worker events applied in one frame; the rest wait a frame, so
/// a flood cannot freeze the UI.
const MAX_EVENTS_PER_FRAME: usize = 5_000;

/// Gives the current time; swapped for a fixed one in tests.
pub type Clock = Box<dyn Fn() -> Timestamp>;

/// The Watchdesk window.
pub struct App {
    state: AppState,
    view: ViewState,
    outbox: CommandSender,
    outbox_rx: CommandReceiver,
    to_worker: mpsc::Sender<Command>,
    from_worker: mpsc::Receiver<AppEvent>,
    clock: Clock,
    probe: Option<super::probe::Probe>,
    video: Video,
}

/// The window's video: where tiles get frames, their textures, and the
/// pacing of repaints for new frames.
struct Video {
    source: Option<Box<dyn TileSource>>,
    pacer: Option<Arc<RepaintPacer>>,
    /// Why there is no video, one line each.
    problems: Vec<String>,
    textures: TileTextures,
    stats: Option<TileStatsLog>,
    /// Whether `ui()` ran since the last `logic()`: when it did not, the
    /// window is hidden and no tile was asked for.
    ui_ran: bool,
}

/// A player nobody asks for stops after this long (the engine's default);
/// the window wakes once more then so it can.
const IDLE_STOP_MS: u64 = 3_000;

impl App {
    /// A window over `state`, sending commands to `to_worker` and applying
    /// events from `from_worker`.
    pub fn new(
        state: AppState,
        to_worker: mpsc::Sender<Command>,
        from_worker: mpsc::Receiver<AppEvent>,
    ) -> Self {
        let (outbox, outbox_rx) = command_channel();
        let view = ViewState::new(&state, Workspace::default());
        Self {
            state,
            view,
            outbox,
            outbox_rx,
            to_worker,
            from_worker,
            clock: Box::new(chrono::Utc::now),
            probe: super::probe::Probe::from_env(),
            video: Video {
                source: None,
                pacer: None,
                problems: vec!["The video engine is not running".into()],
                textures: TileTextures::default(),
                stats: None,
                ui_ran: false,
            },
        }
    }

    /// Gives the window its video (see [`super::video::start_video`]).
    pub fn set_video(&mut self, setup: VideoSetup) {
        self.video.source = setup.source;
        self.video.pacer = setup.pacer;
        self.video.problems = setup.problems;
    }

    /// Gives the window a stand-in for the video engine (tests).
    pub fn set_tile_source(&mut self, source: Box<dyn TileSource>) {
        self.video.source = Some(source);
        self.video.problems.clear();
    }

    /// Writes per-tile stats to the file named by `WATCHDESK_TILE_STATS`.
    pub fn log_tile_stats(&mut self, renderer: &str) {
        self.video.stats = TileStatsLog::from_env(renderer);
    }

    /// Loads the workspace saved by an earlier run (`cc.storage`): the view
    /// and layout the window opens on, panel sizes, the user name last used
    /// at this site. A `start_view` from the command line (`doors`,
    /// `cameras:4x4`, ...) wins over the saved view; false when it is not
    /// understood. Call before [`App::prefill_username`], which wins too.
    pub fn open_workspace(
        &mut self,
        storage: Option<&dyn eframe::Storage>,
        start_view: Option<&str>,
    ) -> bool {
        self.view = ViewState::new(&self.state, super::persist::load_workspace(storage));
        start_view.is_none_or(|text| self.view.workspace.apply_start_view(text))
    }

    /// The view's own state (the workspace, the sign-in form).
    pub fn view(&self) -> &ViewState {
        &self.view
    }

    /// How many frames went to tile textures in all (each a new frame).
    pub fn texture_uploads(&self) -> u64 {
        self.video.textures.uploads()
    }

    /// A window with no network behind it, for tests: `state` is shown as
    /// is, commands land in `to_worker`, and the clock stands still at
    /// `state.runtime.now` until [`App::set_clock`].
    pub fn new_for_test(
        state: AppState,
        to_worker: mpsc::Sender<Command>,
        from_worker: mpsc::Receiver<AppEvent>,
    ) -> Self {
        let now = state.runtime.now;
        let mut app = Self::new(state, to_worker, from_worker);
        app.clock = Box::new(move || now);
        app
    }

    /// Replaces the clock.
    pub fn set_clock(&mut self, clock: impl Fn() -> Timestamp + 'static) {
        self.clock = Box::new(clock);
    }

    /// Prefills the sign-in form's user name.
    pub fn prefill_username(&mut self, username: &str) {
        self.view.form.username = username.to_owned();
    }

    /// The state as the window sees it.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Applies one event directly (tests, and the shell itself).
    pub fn apply(&mut self, event: AppEvent) {
        self.state.apply(event);
    }

    /// Forwards what the UI queued this frame to the worker. Door commands
    /// show as pending at once.
    fn forward_commands(&mut self, ctx: &egui::Context) {
        let mut any = false;
        while let Some(command) = self.outbox_rx.try_recv() {
            any = true;
            // A view change: the worker never sees it. The cameras come to
            // the front of the layout shown.
            if let Command::ShowDoorCameras(door) = &command {
                if self.state.show_door_cameras(door, &mut self.view.workspace) {
                    self.view.workspace.focus(crate::viewer::Pane::Cameras);
                }
                continue;
            }
            // Small photos: only those not asked for yet go on, marked
            // loading, so no frame asks twice; one that cannot be sent is
            // asked for again by a later frame, without a notice.
            if let Command::WantPhotos(ids) = command {
                let fresh = self.state.people.thumbs.ask(ids);
                if !fresh.is_empty()
                    && let Err(e) = self.to_worker.try_send(Command::WantPhotos(fresh.clone()))
                {
                    tracing::debug!("photos not asked for: {e}");
                    self.state.people.thumbs.not_sent(&fresh);
                }
                continue;
            }
            if let Command::PlayDoorFrom { door, at } = &command {
                if self.state.show_door_cameras(door, &mut self.view.workspace) {
                    self.view.workspace.cameras.playback =
                        Some(crate::viewer::Playback::start(*at, Instant::now()));
                    self.view.workspace.focus(crate::viewer::Pane::Cameras);
                }
                continue;
            }
            if let Command::ShowCamera { camera } = &command {
                self.view.workspace.cameras.single = Some(camera.clone());
                self.view.workspace.focus(crate::viewer::Pane::Cameras);
                continue;
            }
            match &command {
                Command::OpenCardholder(id) => {
                    self.state.apply(AppEvent::CardholderOpening(id.clone()));
                    self.view.workspace.focus(crate::viewer::Pane::Cardholders);
                }
                Command::SaveCardholder { .. } => self.state.apply(AppEvent::CardholderSaving),
                Command::SetCredential {
                    credential, state, ..
                } => self.state.apply(AppEvent::CredentialSent {
                    credential: credential.clone(),
                    state: *state,
                }),
                _ => {}
            }
            let credential = match &command {
                Command::SetCredential { credential, .. } => Some(credential.clone()),
                _ => None,
            };
            let saving = matches!(command, Command::SaveCardholder { .. });
            let door_key = match &command {
                Command::Door {
                    door,
                    action,
                    idempotency_key,
                } => {
                    self.state.apply(AppEvent::CommandSent {
                        door: door.clone(),
                        action: *action,
                        key: idempotency_key.clone(),
                    });
                    Some(idempotency_key.clone())
                }
                _ => None,
            };
            let refusal = match self.to_worker.try_send(command) {
                Ok(()) => None,
                Err(TrySendError::Full(_)) => Some("the client is busy; try again"),
                Err(TrySendError::Closed(_)) => Some("the client has stopped"),
            };
            if let Some(message) = refusal {
                tracing::warn!("command not sent: {message}");
                match (door_key, credential) {
                    (Some(key), _) => self.state.apply(AppEvent::CommandRejected {
                        key,
                        kind: ErrorKind::Unavailable,
                        message: message.into(),
                    }),
                    (None, Some(credential)) => self.state.apply(AppEvent::CredentialFailed {
                        credential,
                        message: message.into(),
                    }),
                    (None, None) if saving => self.state.apply(AppEvent::CardholderSaveFailed {
                        message: message.into(),
                    }),
                    (None, None) => self.state.apply(AppEvent::Notice {
                        level: NoticeLevel::Error,
                        text: format!("Not sent: {message}"),
                    }),
                }
            }
        }
        if any {
            ctx.request_repaint();
        }
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if let Some(pacer) = &self.video.pacer {
            pacer.frame_begins();
        }
        if let Some(source) = &self.video.source {
            if !self.video.ui_ran {
                // Hidden: no tile was asked for; let the engine stop them.
                source.end_frame();
            }
            if source.active_players() > 0 {
                ctx.request_repaint_after(Duration::from_millis(IDLE_STOP_MS + 100));
            }
        }
        self.video.ui_ran = false;
        let now = (self.clock)();
        self.state.apply(AppEvent::Tick { now });
        let mut applied = 0;
        while applied < MAX_EVENTS_PER_FRAME {
            match self.from_worker.try_recv() {
                Ok(event) => {
                    // The relay asks every stream for the session's
                    // credentials: tiles start (again) with the new ones.
                    if let AppEvent::RelayCredentials(credentials) = &event
                        && let Some(source) = &self.video.source
                    {
                        source.set_session_credentials(Some(credentials.clone()));
                    }
                    if let AppEvent::SignedIn(session) = &event
                        && !self.state.site().demo
                    {
                        self.view
                            .workspace
                            .signed_in(&self.state.site().address, &session.username);
                    }
                    self.state.apply(event);
                    applied += 1;
                }
                Err(_) => break,
            }
        }
        if applied == MAX_EVENTS_PER_FRAME {
            ctx.request_repaint();
        }
        // The open cardholder changed at the site (here or elsewhere).
        if let Some(id) = self.state.people.take_refresh()
            && let Err(e) = self.to_worker.try_send(Command::RefreshCardholder(id))
        {
            tracing::warn!("cardholder refresh not sent: {e}");
        }
        if let Some(deadline) = self.state.next_deadline() {
            let wait_ms = (deadline - now).num_milliseconds().max(0);
            let wait_ms = u64::try_from(wait_ms).unwrap_or(0);
            ctx.request_repaint_after(Duration::from_millis(wait_ms));
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        super::persist::save_workspace(storage, &self.view.workspace);
    }

    /// The workspace holds what should survive a restart; egui's own memory
    /// (scroll offsets, panel sizes it would restore behind the workspace's
    /// back) is not saved.
    fn persist_egui_memory(&self) -> bool {
        false
    }

    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        crate::ui::theme::clear_color(visuals)
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let instant = Instant::now();
        let wall = chrono::Utc::now();
        let video = &mut self.video;
        video.ui_ran = true;
        video.textures.begin_frame();
        let feed = match &video.source {
            Some(source) => VideoFeed::Live(source.as_ref()),
            None => VideoFeed::Unavailable(&video.problems),
        };
        let mut video_ui = VideoUi {
            feed,
            textures: &mut video.textures,
            instant,
            key_suffix: String::new(),
        };
        ui::root_ui(ui, &self.state, &mut self.view, &self.outbox, &mut video_ui);
        if self.state.runtime.session.is_some() {
            detached_ui(
                ui.ctx(),
                &self.state,
                &mut self.view.workspace.detached,
                &mut video_ui,
                &self.outbox,
            );
        }
        let summary = video.textures.end_frame();
        if let Some(source) = &video.source {
            source.end_frame();
        }
        if let Some(pacer) = &video.pacer {
            pacer.set_min_interval(summary.min_frame_interval());
        }
        if let Some(wait) = summary.repaint_in {
            ui.ctx().request_repaint_after(wait);
        }
        if let Some(stats) = &mut video.stats {
            stats.frame(summary, instant, wall, ui.ctx().cumulative_frame_nr());
        }
        if let Some(probe) = &mut self.probe {
            probe.frame(&self.state);
        }
        self.forward_commands(ui.ctx());
        if let Some(wait_ms) = clock_wait_ms(&self.state) {
            ui.ctx()
                .request_repaint_after(Duration::from_millis(wait_ms));
        }
    }
}

/// The views detached into windows of their own: each an immediate egui
/// viewport (a native window; a window inside this one where the backend
/// has no viewports, as under test) with its own layout toolbar, drawn by
/// the camera view's code under tile keys of its own. Where it is and its
/// size are noted in the workspace; closing it removes it.
fn detached_ui(
    ctx: &egui::Context,
    state: &AppState,
    detached: &mut Vec<crate::viewer::DetachedView>,
    video: &mut VideoUi<'_>,
    commands: &CommandSender,
) {
    let mut closed = Vec::new();
    for d in detached.iter_mut() {
        let id = egui::ViewportId::from_hash_of(("detached view", d.id));
        // The builder of its first frame this run, so a window the operator
        // moves is not put back where it was saved.
        let builder = ctx.data_mut(|data| {
            data.get_temp_mut_or_insert_with(egui::Id::unique(("detached builder", d.id)), || {
                let mut b = egui::ViewportBuilder::default()
                    .with_title(format!("Watchdesk · {}", d.title))
                    .with_inner_size(d.size.unwrap_or([960.0, 600.0]));
                if let Some(pos) = d.pos {
                    b = b.with_position(pos);
                }
                b
            })
            .clone()
        });
        let close = ctx.show_viewport_immediate(id, builder, |ui, class| {
            let mut close = false;
            egui::Frame::new()
                .inner_margin(egui::Margin::same(6))
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(egui::RichText::new(&d.title).strong());
                        close = ui.button("Close window").clicked();
                    });
                    video.key_suffix = format!("@w{}", d.id);
                    ui::cameras::cameras_ui(ui, state, &mut d.view, video, commands, None);
                    video.key_suffix.clear();
                });
            if class == egui::ViewportClass::Immediate {
                ui.ctx().input(|i| {
                    let vp = i.viewport();
                    if let Some(r) = vp.outer_rect {
                        d.pos = Some([r.min.x, r.min.y]);
                    }
                    if let Some(r) = vp.inner_rect {
                        d.size = Some([r.width(), r.height()]);
                    }
                    close |= vp.close_requested();
                });
            }
            close
        });
        if close {
            closed.push(d.id);
        }
    }
    for id in closed {
        crate::viewer::views::close_detached(detached, id);
    }
}

/// How long until what the window shows goes stale by the clock alone: a
/// second while an access request counts down, else the next minute of the
/// site clock (shown as `HH:MM`). None when signed out. A repaint costs
/// 0.2-0.35 s of CPU under software rendering, so the clock alone must not
/// repaint every second.
pub fn clock_wait_ms(state: &AppState) -> Option<u64> {
    state.runtime.session.as_ref()?;
    if state.site().has_open_requests() {
        return Some(1_000);
    }
    let into_minute_ms = state.site_now().timestamp_millis().rem_euclid(60_000);
    // A little after the minute turns, so the new minute is sure to show.
    u64::try_from(60_000 - into_minute_ms + 20).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, Session};

    fn at(ms: i64) -> AppState {
        let now = chrono::DateTime::from_timestamp_millis(1_795_341_600_000 + ms).expect("time");
        AppState::new(now, "http://site", false)
    }

    #[test]
    fn clock_wait_table() {
        let session = Session {
            token: String::new(),
            username: "operator".into(),
            role: Role::Operator,
            expires: chrono::DateTime::from_timestamp(2_000_000_000, 0).expect("time"),
        };
        assert_eq!(clock_wait_ms(&at(0)), None, "signed out: no ticking");
        let mut s = at(15_500);
        s.apply(AppEvent::SignedIn(session.clone()));
        assert_eq!(clock_wait_ms(&s), Some(44_520));
        let mut s = at(59_990);
        s.apply(AppEvent::SignedIn(session));
        assert_eq!(clock_wait_ms(&s), Some(30));
        // A request counting down: every second.
        s.apply(AppEvent::Live(crate::domain::Event {
            seq: 1,
            time: s.runtime.now,
            kind: crate::domain::EventKind::AccessRequestOpened {
                request: crate::domain::AccessRequest {
                    id: "r1".into(),
                    door: "d1".into(),
                    access_point: None,
                    cardholder: None,
                    credential: None,
                    reason: "intercom".into(),
                    visitor_name: None,
                    created: s.runtime.now,
                    expires: s.runtime.now,
                },
            },
        }));
        assert_eq!(clock_wait_ms(&s), Some(1_000));
    }
}

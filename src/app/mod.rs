//! The shell: the eframe [`App`], [`AppState`] (plain data, `apply(event)`),
//! the command and event channels, the worker task, and [`run`], which wires
//! them together (and starts the demo site when no site is given).

pub mod demo_site;
pub mod persist;
pub mod probe;
mod shell;
pub mod snapshot;
mod tiles;
pub mod video;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::viewer::{
    AppEvent, AppState, COMMAND_DEADLINE_MS, Command, CommandPhase, CommandReceiver, CommandSender,
    CommandView, DoorView, EVENT_LIST_LEN, Link, NO_ANSWER, NOTICE_MS, Notice, NoticeLevel,
    SignInPhase, StillImage, command_channel, may_command_door, may_decide_requests,
};
pub use shell::{App, Clock};
pub use tiles::{tile_error, tile_view};

use crate::client::{ClientError, error_chain};
use crate::config::{ConfigError, SiteConfig};
use crate::domain::ErrorKind;

/// How many commands may wait for the worker.
pub const COMMAND_CHANNEL_LEN: usize = 64;
/// How many events may wait for the UI.
pub const EVENT_CHANNEL_LEN: usize = 4_096;

/// How long the exit waits for the worker to sign out and stop the demo site.
const SHUTDOWN_WAIT_MS: u64 = 8_000;

/// The demo site's operator, signed in automatically (documented demo
/// credentials, not a secret).
const DEMO_USER: (&str, &str) = ("operator", "demo-operator");

/// How the client is started (from the command line).
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The site's address, e.g. `https://site.example:8443`. None starts the
    /// demo site as a child process and signs in to it.
    pub site: Option<String>,
    /// An extra trusted CA certificate (PEM) for the site.
    pub ca_cert: Option<PathBuf>,
    /// Accept `http://` to a site that is not on loopback (`--allow-plain-http`).
    pub allow_plain_http: bool,
    /// Prefills the sign-in form.
    pub username: Option<String>,
    /// The demo site's `site.toml`; found next to the program when none.
    pub demo_config: Option<PathBuf>,
    /// The view to open on (e.g. `doors`, `cameras:4x4`), over the saved
    /// one; else [`video::START_VIEW_ENV`].
    pub start_view: Option<String>,
}

/// Why the client could not run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("no demo site configuration found (config/site.toml); looked at: {searched}")]
    NoDemoConfig { searched: String },
    #[error("demo site configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("no folder for the demo site's data: {0}")]
    DataDir(String),
    #[error("the window failed: {0}")]
    Window(String),
}

impl AppError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::Runtime(_) | AppError::DataDir(_) | AppError::Window(_) => {
                ErrorKind::Internal
            }
            AppError::NoDemoConfig { .. } => ErrorKind::NotFound,
            AppError::Config(e) => e.kind(),
            AppError::Client(e) => e.kind(),
        }
    }
}

/// Runs the operator client until its window closes. Builds the tokio
/// runtime (2 workers); with no `site`, starts the demo site as a child
/// process on loopback and signs in as its operator.
pub fn run(opts: ClientOptions) -> Result<(), AppError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("watchdesk-io")
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;

    let (site, demo, site_url, auto_sign_in) = match &opts.site {
        Some(url) => (
            worker::SiteSource::Remote {
                base_url: url.clone(),
            },
            false,
            url.clone(),
            None,
        ),
        None => {
            let file = find_demo_config(opts.demo_config.as_deref())?;
            tracing::info!(config = %file.display(), "starting the demo site");
            // Checked here so that a broken config says so before a window opens.
            SiteConfig::load(&file)?;
            let data_dir = demo_data_dir()?;
            let exe = std::env::current_exe().map_err(AppError::Runtime)?;
            (
                worker::SiteSource::Demo {
                    exe,
                    config_file: file,
                    data_dir,
                },
                true,
                "demo site (local)".to_owned(),
                Some((DEMO_USER.0.to_owned(), DEMO_USER.1.to_owned())),
            )
        }
    };
    // Fail early on a bad address or CA file, before a window opens.
    if let worker::SiteSource::Remote { base_url } = &site {
        crate::client::Client::new(&crate::client::ClientConfig {
            base_url: base_url.clone(),
            ca_cert: opts.ca_cert.clone(),
            allow_plain_http: opts.allow_plain_http,
        })?;
    }

    let (command_tx, command_rx) = tokio::sync::mpsc::channel(COMMAND_CHANNEL_LEN);
    let (event_tx, event_rx) = tokio::sync::mpsc::channel(EVENT_CHANNEL_LEN);
    let mut state = AppState::new(chrono::Utc::now(), site_url, demo);
    if demo {
        state.apply(AppEvent::Starting {
            message: "Starting the demo site…".into(),
        });
    }
    let worker_config = worker::WorkerConfig {
        site,
        ca_cert: opts.ca_cert.clone(),
        allow_plain_http: opts.allow_plain_http,
        auto_sign_in,
    };
    let username = opts.username.clone();
    let video_ca = opts.ca_cert.clone();

    // The egui context exists only once the window does; the worker waits
    // for it to wake the UI.
    let ctx_slot: Arc<std::sync::OnceLock<egui::Context>> = Arc::default();
    let waker_slot = ctx_slot.clone();
    let waker: worker::Waker = Arc::new(move || {
        if let Some(ctx) = waker_slot.get() {
            ctx.request_repaint();
        }
    });
    let sink = worker::EventSink::new(event_tx, waker);
    let handle = runtime.handle().clone();
    // The worker owns the demo site, whose future need not be `Send`: run it
    // on its own thread, driven by the runtime.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("watchdesk-worker".into())
        .spawn(move || {
            handle.block_on(worker::run(worker_config, command_rx, sink));
            let _ = done_tx.send(());
        })
        .map_err(AppError::Runtime)?;

    let renderer = video::renderer_from_env();
    let start_view = opts
        .start_view
        .clone()
        .or_else(|| std::env::var(video::START_VIEW_ENV).ok());
    tracing::info!(%renderer, "opening the window");
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Watchdesk")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 500.0]),
        renderer,
        ..Default::default()
    };
    let result = eframe::run_native(
        "watchdesk",
        native,
        Box::new(move |cc| {
            crate::ui::theme::install(&cc.egui_ctx);
            let _ = ctx_slot.set(cc.egui_ctx.clone());
            let mut app = App::new(state, command_tx, event_rx);
            // The saved workspace; the command line wins over it.
            if !app.open_workspace(cc.storage, start_view.as_deref()) {
                tracing::warn!(
                    "start view {start_view:?} not understood (e.g. cameras:3x3, cameras:4x4:fill, doors)"
                );
            }
            if let Some(user) = username {
                app.prefill_username(&user);
            }
            app.set_video(video::start_video(&cc.egui_ctx, video_ca.clone()));
            app.log_tile_stats(&renderer.to_string());
            Ok(Box::new(app))
        }),
    );
    // The window is gone and with it the command sender: the worker signs
    // out, stops the demo site and ends. Wait for that, but not forever.
    if done_rx
        .recv_timeout(std::time::Duration::from_millis(SHUTDOWN_WAIT_MS))
        .is_err()
    {
        tracing::warn!("the worker did not finish within {SHUTDOWN_WAIT_MS} ms");
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result.map_err(|e| AppError::Window(error_chain(&e)))
}

/// The demo site's `site.toml`: the given one, else `config/site.toml` in
/// the current folder, beside the program or in a folder above it, or in
/// the source tree this was built from.
pub fn find_demo_config(given: Option<&Path>) -> Result<PathBuf, AppError> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd.join("config/site.toml"));
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            candidates.push(dir.join("config/site.toml"));
        }
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"));
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let searched = candidates
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(AppError::NoDemoConfig { searched })
}

/// `$XDG_DATA_HOME/watchdesk/demo`, else `~/.local/share/watchdesk/demo`.
pub fn demo_data_dir() -> Result<PathBuf, AppError> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local/share"),
            None => {
                return Err(AppError::DataDir(
                    "neither XDG_DATA_HOME nor HOME is set".into(),
                ));
            }
        },
    };
    Ok(base.join("watchdesk").join("demo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_found_from_the_source_tree() {
        let found = find_demo_config(None).unwrap();
        assert!(found.ends_with("config/site.toml"));
        assert!(found.is_file());
        let given = find_demo_config(Some(Path::new("/x/site.toml"))).unwrap();
        assert_eq!(given, Path::new("/x/site.toml"));
    }

    #[test]
    fn demo_config_loads() {
        let cfg = SiteConfig::load(&find_demo_config(None).unwrap()).unwrap();
        assert!(cfg.site.demo);
    }
}

//! The reference site server: HTTP API v1, event log with sequence numbers,
//! SQLite store, door controller drivers (simulated first), demo traffic,
//! demo RTSP cameras. Small services (`events`, `doors`, `people`,
//! `requests`, `sessions`, `audit`, `camera_slot`, the pure `access`
//! decision) sit behind the [`core::SiteCore`] facade and get their clock,
//! store, drivers and shutdown from a [`env::SiteEnv`]. It uses `domain` and
//! `config`, and could move to its own crate without touching `client`.

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bookmarks;
pub mod camera_slot;
pub mod cameras;
pub mod controller;
pub mod core;
pub mod doors;
pub mod drivers;
pub mod env;
pub mod error;
pub mod events;
pub mod evidence;
mod fault;
pub mod generate;
mod listen;
pub mod maps;
pub mod media;
pub mod people;
pub mod recorder;
pub mod recording;
pub mod requests;
pub mod sessions;
pub mod store;
pub mod stream_cap;
pub mod traffic;
pub mod views;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::config::SiteConfig;
use crate::domain::{AuditVerification, ErrorKind, Seq};

use self::controller::SimulatedController;
use self::core::SiteCore;
use self::drivers::Drivers;
use self::env::SiteEnv;
use self::store::Store;

/// Certificate and key (PEM files) for serving HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How to run a site server.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    pub config: SiteConfig,
    /// `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// Where the SQLite file and the cached demo scenes live.
    pub data_dir: PathBuf,
    /// Enables `/api/v1/fault/*`, answered only to loopback peers.
    pub fault_injection: bool,
    /// Serve HTTPS with these; plain HTTP when none.
    pub tls: Option<TlsFiles>,
}

/// A running site server. Dropping it (or calling [`SiteHandle::shutdown`])
/// stops the server, its traffic and its cameras.
pub struct SiteHandle {
    addr: SocketAddr,
    https: bool,
    core: Arc<SiteCore>,
    server: axum_server::Handle<SocketAddr>,
    conn_limit: listen::ConnLimit,
    server_task: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
    traffic: Option<traffic::TrafficHandle>,
}

impl SiteHandle {
    /// The address the HTTP API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (or https), without a trailing slash. An
    /// unspecified listen address (`0.0.0.0`) is given as loopback.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("{scheme}://{addr}")
    }

    /// The connections the server holds now (each counts against
    /// `max_connections` until it is closed).
    pub fn open_connections(&self) -> usize {
        self.conn_limit.open()
    }

    /// The newest event seq.
    pub fn last_seq(&self) -> Seq {
        self.core.events().last_seq()
    }

    /// Every seq in the stored log, in order (empty if the store fails).
    pub fn event_seqs(&self) -> Vec<Seq> {
        self.core.events().seqs().unwrap_or_else(|e| {
            tracing::error!("cannot read the event log: {e:#}");
            Vec::new()
        })
    }

    /// The site's SQLite file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.core.store().path().to_owned()
    }

    /// The site core (for tests and benches that drive it directly).
    pub fn core(&self) -> &Arc<SiteCore> {
        &self.core
    }

    /// Stops everything and waits (up to 2 s) for the server to let go of
    /// its port.
    pub async fn shutdown(mut self) {
        self.stop();
        // The camera connections close in the background: wait (a little)
        // until they have, so that whoever stops the cameras next never
        // closes a connection the site is still reading.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.core.cameras().media_settled() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(task) = self.server_task.take()
            && tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
        {
            tracing::warn!("the site server did not stop within 2 s");
        }
    }

    fn stop(&mut self) {
        self.server.shutdown();
        self.core.shutdown();
        self.traffic = None;
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SiteHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("no site database at {}", .0.display())]
    NoDatabase(PathBuf),
    #[error("{}: {source}", .path.display())]
    Database {
        path: PathBuf,
        source: store::StoreError,
    },
    #[error(transparent)]
    Core(#[from] error::CoreError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Other(String),
}

impl SiteError {
    /// The kind of the failure; a wrapped error keeps its own.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SiteError::Listen { .. } => ErrorKind::Unavailable,
            SiteError::Tls(_) | SiteError::Invalid(_) => ErrorKind::InvalidInput,
            SiteError::NoDatabase(_) => ErrorKind::NotFound,
            SiteError::Store(e) | SiteError::Database { source: e, .. } => e.kind(),
            SiteError::Core(e) => e.kind(),
            SiteError::Auth(e) => e.kind(),
            SiteError::Other(_) => ErrorKind::Internal,
        }
    }
}

/// A port free on 127.0.0.1 right now (the OS picks it).
fn free_loopback_port() -> Result<u16, SiteError> {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    std::net::TcpListener::bind(addr)
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| SiteError::Listen { addr, source })
}

/// Starts a site server on the current tokio runtime: opens the store,
/// starts the simulated controller, the demo traffic (when enabled), the
/// demo cameras (when enabled, in the background) and the HTTP(S) server.
/// Returns as soon as the port is bound.
pub async fn start(opts: SiteOptions) -> Result<SiteHandle, SiteError> {
    let SiteOptions {
        config,
        listen,
        data_dir,
        fault_injection,
        tls,
    } = opts;
    listen::check_plain_http(listen, tls.is_some(), config.allow_plain_http)
        .map_err(SiteError::Invalid)?;
    let mut config = config;
    if config.video.demo_cameras && config.video.rtsp_port == 0 {
        // Fix the RTSP port now, so the snapshot's camera URLs are right from
        // the first call, while the scenes are still being encoded.
        config.video.rtsp_port = free_loopback_port()?;
    }
    let store = Arc::new(Store::open_in(&data_dir)?);
    let clock: Arc<dyn env::Clock> = Arc::new(env::RealClock);
    let sim =
        SimulatedController::with_clock(&config.doors, &config.controller, Arc::clone(&clock));
    let env = SiteEnv::with_clock(clock, store, Drivers::simulated(Arc::clone(&sim)));
    let core = SiteCore::new(config, env)?;
    let cfg = core.config();

    let listener = std::net::TcpListener::bind(listen).map_err(|source| SiteError::Listen {
        addr: listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| SiteError::Listen {
        addr: listen,
        source,
    })?;
    let app = api::router(Arc::clone(&core), fault_injection)
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = axum_server::Handle::new();
    let https = tls.is_some();
    let relay_tls = tls.clone();
    let listen_err = |source| SiteError::Listen {
        addr: listen,
        source,
    };
    let limits = cfg.connections;
    let conn_limit = listen::ConnLimit::new(&limits);
    let server_task = match tls {
        None => {
            let srv = axum_server::from_tcp(listener)
                .map_err(listen_err)?
                .acceptor(conn_limit.clone())
                .handle(server.clone());
            let srv = listen::bound(srv, &limits);
            tokio::spawn(async move {
                if let Err(e) = srv.serve(app).await {
                    tracing::error!("site server stopped: {e}");
                }
            })
        }
        Some(files) => {
            // Another part of the process may have installed it already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rustls_cfg =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|e| {
                        SiteError::Tls(format!(
                            "cannot load {} / {}: {e}",
                            files.cert.display(),
                            files.key.display()
                        ))
                    })?;
            let header_timeout = Duration::from_millis(limits.header_timeout_ms);
            let srv = axum_server::tls_rustls::from_tcp_rustls(listener, rustls_cfg)
                .map_err(listen_err)?
                .map(|tls| {
                    tls.handshake_timeout(header_timeout)
                        .acceptor(conn_limit.clone())
                })
                .handle(server.clone());
            let srv = listen::bound(srv, &limits);
            tokio::spawn(async move {
                if let Err(e) = srv.serve(app).await {
                    tracing::error!("site server stopped: {e}");
                }
            })
        }
    };

    let media = start_media(&core, addr.ip(), relay_tls.as_ref());
    let mut tasks = core.start_background();
    if let Some(media) = media {
        let (c, dir) = (Arc::clone(&core), data_dir.clone());
        match tokio::task::spawn_blocking(move || recording::start(&c, &media, &dir)).await {
            Ok(Some(task)) => tasks.push(task),
            Ok(None) => {}
            Err(e) => tracing::error!("recording did not start: {e}"),
        }
    }
    let traffic = cfg.traffic.enabled.then(|| {
        let sink: Arc<dyn traffic::TrafficSink> = core.clone();
        traffic::start(sink, Arc::clone(&sim), cfg, Arc::clone(&core.env().clock))
    });
    if cfg.video.demo_cameras {
        // A thread of its own, not `spawn_blocking`: the first encode takes
        // minutes and must not hold up the runtime's shutdown.
        core.cameras().starting();
        let core2 = Arc::clone(&core);
        let dir = data_dir.clone();
        let spawned = std::thread::Builder::new()
            .name("demo-cameras-start".into())
            .spawn(move || {
                let slot = core2.cameras();
                let result = cameras::DemoCameras::start_with_progress(
                    core2.config(),
                    &dir,
                    &|ready, total| slot.preparing(ready, total),
                );
                core2.cameras().started(result);
            });
        if let Err(e) = spawned {
            core.cameras()
                .started(Err(cameras::CameraError::Failed(format!(
                    "cannot start a thread: {e}"
                ))));
        }
    }
    let handle = SiteHandle {
        addr,
        https,
        core,
        server,
        conn_limit,
        server_task: Some(server_task),
        tasks,
        traffic,
    };
    tracing::info!(url = %handle.base_url(), data_dir = %data_dir.display(), "site server listening");
    Ok(handle)
}

/// The relay's gate: a live session whose role may see the site.
struct SessionGate {
    core: std::sync::Weak<SiteCore>,
    /// When each claimed user name's last refusal was audited.
    audited: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// A refusal of the same user name is audited at most this often.
const RELAY_REFUSAL_AUDIT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl SessionGate {
    /// Audits a refused relay sign-in, at most once a minute per claimed
    /// user name (a client retries every few seconds).
    fn refused(&self, core: &SiteCore, user: &str, why: &str) {
        let now = std::time::Instant::now();
        let mut audited = self.audited.lock().unwrap_or_else(|e| e.into_inner());
        if audited
            .get(user)
            .is_some_and(|at| now.duration_since(*at) < RELAY_REFUSAL_AUDIT_EVERY)
        {
            return;
        }
        if audited.len() >= 1000 {
            audited.retain(|_, at| now.duration_since(*at) < RELAY_REFUSAL_AUDIT_EVERY);
        }
        if audited.len() >= 1000 {
            return;
        }
        audited.insert(user.to_owned(), now);
        drop(audited);
        let name: String = user.chars().take(64).collect();
        core.audit_trail().record(
            &audit::Actor {
                username: name,
                role: None,
                source: "relay".into(),
            },
            audit::actions::RELAY_REFUSED,
            "video relay",
            &format!("refused: {why}"),
        );
    }
}

impl media::RelayGate for SessionGate {
    fn admit(&self, user: &str, token: &str) -> Option<String> {
        let core = self.core.upgrade()?;
        let p = match core.sessions().authenticate(token) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(user, "relay refused a session: {e}");
                self.refused(&core, user, "no live session with this token");
                return None;
            }
        };
        let ok = p.username == user
            && crate::domain::allowed(p.role, crate::domain::Permission::ViewSite);
        if !ok {
            tracing::debug!(user, session_user = %p.username, "relay refused another user's session");
            self.refused(&core, user, "the session is another user's");
        }
        ok.then(|| p.token_sha256.clone())
    }

    fn still_live(&self, key: &str) -> bool {
        self.core
            .upgrade()
            .is_some_and(|core| core.sessions().is_live(key))
    }
}

/// Starts the relay on the address the API listens on, and the ingest of
/// every camera; each stream's outage and return go to the event log. A
/// relay that cannot start leaves the site running without video.
fn start_media(
    core: &Arc<SiteCore>,
    ip: std::net::IpAddr,
    tls: Option<&TlsFiles>,
) -> Option<Arc<media::Media>> {
    let weak = Arc::downgrade(core);
    let report: media::Report = Arc::new(move |camera, stream, change| {
        let Some(core) = weak.upgrade() else {
            return;
        };
        let kind = match change {
            media::Change::Online => crate::domain::EventKind::CameraOnline {
                camera: camera.clone(),
                stream: stream.as_str().to_owned(),
            },
            media::Change::Offline(reason) => crate::domain::EventKind::CameraOffline {
                camera: camera.clone(),
                stream: stream.as_str().to_owned(),
                reason,
            },
        };
        if let Err(e) = core.events().commit(|| Ok((vec![kind], ()))) {
            tracing::error!(%camera, "cannot log a camera's state: {e}");
        }
    });
    let gate = Arc::new(SessionGate {
        core: Arc::downgrade(core),
        audited: std::sync::Mutex::new(std::collections::HashMap::new()),
    });
    let cfg = core.config();
    match media::Media::start(
        &ip.to_string(),
        cfg.video.relay_port,
        &camera_slot::CameraSlot::relay_mounts(cfg),
        gate,
        report,
        tls.map(|t| (t.cert.as_path(), t.key.as_path())),
    ) {
        Ok(m) => {
            core.cameras().attach_media(Arc::clone(&m));
            Some(m)
        }
        Err(e) => {
            tracing::error!("no video relay: {e}");
            None
        }
    }
}

/// Runs a site server until Ctrl-C, on a runtime of its own (for
/// `watchdesk site`).
pub fn run_headless(opts: SiteOptions) -> Result<(), SiteError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| SiteError::Other(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let handle = start(opts).await?;
        tracing::info!("site server at {} (Ctrl-C stops it)", handle.base_url());
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot wait for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
        tracing::info!("stopping the site server");
        handle.shutdown().await;
        Ok(())
    })
}

/// The line a site started with `--embedded` prints on standard output once
/// it answers, followed by its base URL.
pub const EMBEDDED_READY: &str = "watchdesk-site-ready ";

/// Runs the site for a client that started it as its child process
/// (`watchdesk site --embedded`): prints [`EMBEDDED_READY`] and the base URL
/// on standard output once the API answers, and stops when standard input
/// closes (the client closed it, or died), on Ctrl-C or on SIGTERM.
pub fn run_embedded(opts: SiteOptions) -> Result<(), SiteError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SiteError::Other(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let handle = start(opts).await?;
        let mut out = tokio::io::stdout();
        let line = format!("{EMBEDDED_READY}{}\n", handle.base_url());
        if let Err(e) = async {
            out.write_all(line.as_bytes()).await?;
            out.flush().await
        }
        .await
        {
            return Err(SiteError::Other(format!(
                "cannot tell the client where the site is: {e}"
            )));
        }
        let parent_gone = async {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            // Anything the client writes is ignored; end of input is the signal.
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        };
        let terminated = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = parent_gone => tracing::info!("the client closed the site's input; stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping the site"),
            () = terminated => tracing::info!("terminated; stopping the site"),
        }
        handle.shutdown().await;
        Ok(())
    })
}

/// Reads one password line from `input` and hashes it (for `watchdesk site
/// hash-password`, which prints the result).
pub fn hash_password_line(mut input: impl BufRead) -> Result<String, SiteError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| SiteError::Other(format!("cannot read the password: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(SiteError::Invalid("the password is empty".into()));
    }
    Ok(auth::hash_password(password)?)
}

/// Verifies the audit trail kept in `data_dir/site.sqlite` (for `watchdesk
/// site verify-audit --data-dir DIR`).
pub fn verify_audit_dir(data_dir: &Path) -> Result<AuditVerification, SiteError> {
    audit::verify_audit_file(&data_dir.join("site.sqlite"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        ApiError, AuditVerification, CommandInfo, CommandState, Event, EventKind, Page, Session,
        Snapshot,
    };
    use futures_util::StreamExt;
    use reqwest::StatusCode;
    use serde_json::json;

    fn test_options(dir: &Path, fault_injection: bool) -> SiteOptions {
        let mut config =
            SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
                .unwrap();
        config.video.demo_cameras = false;
        config.traffic.enabled = false;
        config.controller.command_latency_ms = 20;
        SiteOptions {
            config,
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.to_owned(),
            fault_injection,
            tls: None,
        }
    }

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    async fn sign_in(c: &reqwest::Client, base: &str, user: &str) -> String {
        let res = c
            .post(format!("{base}/api/v1/auth/sign-in"))
            .json(&json!({"username": user, "password": format!("demo-{user}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Session>().await.unwrap().token
    }

    async fn expect_error(res: reqwest::Response, status: StatusCode, kind: &str) -> String {
        assert_eq!(res.status(), status, "{:?}", res.url().path());
        let e: ApiError = res.json().await.unwrap();
        assert_eq!(e.kind, kind, "{}", e.message);
        e.message
    }

    /// A minimal SSE reader: yields (id, event, data) and counts heartbeats.
    struct Sse {
        body: std::pin::Pin<
            Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>,
        >,
        buf: String,
        heartbeats: usize,
    }

    impl Sse {
        async fn open(c: &reqwest::Client, base: &str, token: &str, last_id: Option<u64>) -> Sse {
            let mut req = c
                .get(format!("{base}/api/v1/events/stream"))
                .bearer_auth(token);
            if let Some(id) = last_id {
                req = req.header("Last-Event-ID", id.to_string());
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/event-stream")
            );
            Sse {
                body: Box::pin(res.bytes_stream()),
                buf: String::new(),
                heartbeats: 0,
            }
        }

        /// The next event, or None when the stream ends.
        async fn next(&mut self) -> Option<(u64, String, Event)> {
            loop {
                if let Some(pos) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..pos + 2).collect();
                    let (mut id, mut name, mut data) = (None, None, None);
                    for line in block.lines() {
                        if line == ": hb" {
                            self.heartbeats += 1;
                        } else if let Some(v) = line.strip_prefix("id: ") {
                            id = Some(v.parse::<u64>().unwrap());
                        } else if let Some(v) = line.strip_prefix("event: ") {
                            name = Some(v.to_owned());
                        } else if let Some(v) = line.strip_prefix("data: ") {
                            data = Some(serde_json::from_str::<Event>(v).unwrap());
                        }
                    }
                    if let (Some(id), Some(name), Some(data)) = (id, name, data) {
                        return Some((id, name, data));
                    }
                    continue;
                }
                let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                    .await
                    .expect("no SSE data for 10 s")?;
                self.buf
                    .push_str(std::str::from_utf8(&chunk.ok()?).unwrap());
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_api_contract() {
        let dir = tempfile::tempdir().unwrap();
        let site = start(test_options(dir.path(), true)).await.unwrap();
        let base = site.base_url();
        assert!(base.starts_with("http://127.0.0.1:"));
        let c = client();

        // Open routes and errors as ApiError.
        let doc = c
            .get(format!("{base}/api/v1/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(doc.status(), StatusCode::OK);
        assert!(doc.json::<serde_json::Value>().await.unwrap()["paths"].is_object());
        expect_error(
            c.get(format!("{base}/api/v1/snapshot"))
                .send()
                .await
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        expect_error(
            c.get(format!("{base}/api/v1/snapshot"))
                .bearer_auth("f".repeat(64))
                .send()
                .await
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        expect_error(
            c.get(format!("{base}/api/v1/nothing-here"))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_error(
            c.delete(format!("{base}/api/v1/snapshot"))
                .send()
                .await
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_input",
        )
        .await;
        let wrong = c
            .post(format!("{base}/api/v1/auth/sign-in"))
            .json(&json!({"username": "operator", "password": "guess"}))
            .send()
            .await
            .unwrap();
        let m1 = expect_error(wrong, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let ghost = c
            .post(format!("{base}/api/v1/auth/sign-in"))
            .json(&json!({"username": "ghost", "password": "guess"}))
            .send()
            .await
            .unwrap();
        let m2 = expect_error(ghost, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        assert_eq!(
            m1, m2,
            "a failed sign-in must not say whether the user exists"
        );

        let op = sign_in(&c, &base, "operator").await;
        let viewer = sign_in(&c, &base, "viewer").await;
        let sup = sign_in(&c, &base, "supervisor").await;
        let inv = sign_in(&c, &base, "investigator").await;
        let s: Session = c
            .get(format!("{base}/api/v1/auth/session"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!((s.token.as_str(), s.username.as_str()), ("", "operator"));

        let snap: Snapshot = c
            .get(format!("{base}/api/v1/snapshot"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(snap.doors.len(), 8);
        assert!(snap.doors.iter().all(|d| d.status.online));
        assert_eq!(snap.cameras.len(), site.core().config().cameras.len());

        // Bad bodies and queries.
        let url = format!("{base}/api/v1/doors/door-lobby/commands");
        let bad = c
            .post(&url)
            .bearer_auth(&op)
            .header("content-type", "application/json")
            .body("{\"action\":")
            .send()
            .await
            .unwrap();
        expect_error(bad, StatusCode::BAD_REQUEST, "invalid_input").await;
        let bad = c
            .post(&url)
            .bearer_auth(&op)
            .json(&json!({"action": "fly", "idempotency_key": "x"}))
            .send()
            .await
            .unwrap();
        assert!(
            expect_error(bad, StatusCode::BAD_REQUEST, "invalid_input")
                .await
                .contains("action")
        );
        let big = c
            .post(&url)
            .bearer_auth(&op)
            .header("content-type", "application/json")
            .body(vec![b' '; 70 * 1024])
            .send()
            .await
            .unwrap();
        expect_error(big, StatusCode::PAYLOAD_TOO_LARGE, "invalid_input").await;
        let bad = c
            .get(format!("{base}/api/v1/events?limit=lots"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap();
        assert!(
            expect_error(bad, StatusCode::BAD_REQUEST, "invalid_input")
                .await
                .contains("limit")
        );
        let bad = c
            .get(format!("{base}/api/v1/events?from=yesterday"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap();
        assert!(
            expect_error(bad, StatusCode::BAD_REQUEST, "invalid_input")
                .await
                .contains("from")
        );
        let bad = c
            .get(format!("{base}/api/v1/events?type=door.exploded"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap();
        expect_error(bad, StatusCode::BAD_REQUEST, "invalid_input").await;

        // Roles.
        let lockdown = c
            .post(&url)
            .bearer_auth(&op)
            .json(&json!({"action": "lockdown", "idempotency_key": "ld-1"}))
            .send()
            .await
            .unwrap();
        expect_error(lockdown, StatusCode::FORBIDDEN, "permission_denied").await;
        expect_error(
            c.get(format!("{base}/api/v1/events"))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
        expect_error(
            c.get(format!("{base}/api/v1/audit"))
                .bearer_auth(&op)
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
        let unknown_door = c
            .post(format!("{base}/api/v1/doors/door-nowhere/commands"))
            .bearer_auth(&op)
            .json(&json!({"action": "unlock", "idempotency_key": "u-0"}))
            .send()
            .await
            .unwrap();
        assert!(
            expect_error(unknown_door, StatusCode::NOT_FOUND, "not_found")
                .await
                .contains("door-nowhere")
        );

        // A command, seen on the stream that starts at the snapshot.
        let snap: Snapshot = c
            .get(format!("{base}/api/v1/snapshot"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut sse = Sse::open(&c, &base, &op, Some(snap.seq)).await;
        let res = c
            .post(&url)
            .bearer_auth(&op)
            .json(&json!({"action": "unlock", "idempotency_key": "u-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        let cmd: CommandInfo = res.json().await.unwrap();
        assert_eq!(cmd.state, CommandState::Pending);
        let mut expect_seq = snap.seq + 1;
        let mut saw_state_change = false;
        loop {
            let (id, name, event) = sse.next().await.expect("stream ended");
            assert_eq!(id, expect_seq, "gap or duplicate");
            assert_eq!(event.seq, id);
            assert_eq!(name, event.kind.type_name());
            expect_seq += 1;
            match event.kind {
                EventKind::DoorStateChanged { .. } => saw_state_change = true,
                EventKind::CommandCompleted { command, .. } if command == cmd.id => break,
                _ => {}
            }
        }
        assert!(saw_state_change);
        let done: CommandInfo = c
            .get(format!("{base}/api/v1/commands/{}", cmd.id))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(done.state, CommandState::Completed);
        let repeat = c
            .post(&url)
            .bearer_auth(&op)
            .json(&json!({"action": "unlock", "idempotency_key": "u-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(repeat.status(), StatusCode::ACCEPTED);
        assert_eq!(repeat.json::<CommandInfo>().await.unwrap().id, cmd.id);
        let clash = c
            .post(&url)
            .bearer_auth(&op)
            .json(&json!({"action": "lock", "idempotency_key": "u-1"}))
            .send()
            .await
            .unwrap();
        expect_error(clash, StatusCode::CONFLICT, "conflict").await;

        // Search.
        let page: Page<Event> = c
            .get(format!("{base}/api/v1/events?door=door-lobby&limit=1"))
            .bearer_auth(&inv)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(page.next_before.is_some());

        // Cardholders, photos, maps, time, stills.
        let chs: Vec<crate::domain::Cardholder> = c
            .get(format!("{base}/api/v1/cardholders?q=okafor"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(chs.len(), 1);
        let photo = c
            .get(format!("{base}/api/v1/cardholders/ch-002/photo"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap();
        assert_eq!(photo.headers()["content-type"], "image/png");
        assert!(photo.bytes().await.unwrap().starts_with(b"\x89PNG"));
        expect_error(
            c.get(format!("{base}/api/v1/cardholders/ch-999"))
                .bearer_auth(&op)
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_error(
            c.get(format!("{base}/api/v1/cardholders"))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
        let plan = c
            .get(format!("{base}/api/v1/maps/floor1/image"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(plan.status(), StatusCode::OK);
        assert!(plan.bytes().await.unwrap().starts_with(b"\x89PNG"));
        let t: crate::domain::SiteTime = c
            .get(format!("{base}/api/v1/time"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(t.time_zone, "Europe/Berlin");
        expect_error(
            c.get(format!("{base}/api/v1/cameras/cam-lobby/still.jpg"))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap(),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        )
        .await;
        expect_error(
            c.get(format!("{base}/api/v1/cameras/cam-nope/still.jpg"))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;

        // Credentials.
        let cred_url = format!("{base}/api/v1/credentials/100107");
        expect_error(
            c.put(&cred_url)
                .bearer_auth(&op)
                .json(&json!({"state": "disabled"}))
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
        let cred: crate::domain::Credential = c
            .put(&cred_url)
            .bearer_auth(&sup)
            .json(&json!({"state": "disabled"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(cred.state, crate::domain::CredentialState::Disabled);

        // Access requests over HTTP.
        let req = site
            .core()
            .open_request(
                &crate::domain::DoorId::new("door-lobby"),
                None,
                None,
                "intercom".into(),
                Some("V".into()),
            )
            .unwrap();
        let open: Vec<crate::domain::AccessRequest> = c
            .get(format!("{base}/api/v1/access-requests"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(open.len(), 1);
        expect_error(
            c.post(format!("{base}/api/v1/access-requests/{}/grant", req.id))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
        let granted = c
            .post(format!("{base}/api/v1/access-requests/{}/grant", req.id))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap();
        assert_eq!(granted.status(), StatusCode::OK);
        assert_eq!(
            granted.json::<serde_json::Value>().await.unwrap(),
            json!({"outcome": "granted"})
        );
        let again = c
            .post(format!("{base}/api/v1/access-requests/{}/deny", req.id))
            .bearer_auth(&op)
            .json(&json!({"reason": "late"}))
            .send()
            .await
            .unwrap();
        expect_error(again, StatusCode::CONFLICT, "conflict").await;
        expect_error(
            c.post(format!("{base}/api/v1/access-requests/req-nope/deny"))
                .bearer_auth(&op)
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;

        // Audit: failed sign-ins and refusals are in it; the chain holds.
        let audit: Page<crate::domain::AuditEntry> = c
            .get(format!(
                "{base}/api/v1/audit?action=session.sign_in&limit=1000"
            ))
            .bearer_auth(&inv)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            audit
                .items
                .iter()
                .any(|e| e.user == "ghost" && e.outcome == "denied" && e.source == "127.0.0.1")
        );
        let refusals: Page<crate::domain::AuditEntry> = c
            .get(format!(
                "{base}/api/v1/audit?user=operator&action=door.command"
            ))
            .bearer_auth(&inv)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            refusals
                .items
                .iter()
                .any(|e| e.outcome == "denied" && e.target == "door-lobby:lockdown")
        );
        let v: AuditVerification = c
            .get(format!("{base}/api/v1/audit/verify"))
            .bearer_auth(&sup)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(v.ok && v.entries > 5, "{v:?}");

        // Fault injection: drop-streams ends the open stream.
        let dropped = c
            .post(format!("{base}/api/v1/fault/drop-streams"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(dropped.status(), StatusCode::NO_CONTENT);
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while sse.next().await.is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "the stream did not end");

        // Sign-out revokes.
        assert_eq!(
            c.post(format!("{base}/api/v1/auth/sign-out"))
                .bearer_auth(&op)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NO_CONTENT
        );
        expect_error(
            c.get(format!("{base}/api/v1/auth/session"))
                .bearer_auth(&op)
                .send()
                .await
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        let path = site.sqlite_path();
        site.shutdown().await;
        assert!(verify_audit_dir(dir.path()).unwrap().ok);
        assert_eq!(path, dir.path().join("site.sqlite"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_route_is_routed_and_fault_routes_are_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let site = start(test_options(dir.path(), true)).await.unwrap();
        let base = site.base_url();
        let c = client();
        // What an unrouted request answers: the mark the loop looks for.
        let res = c
            .get(format!("{base}/api/v1/certainly-not-a-route"))
            .send()
            .await
            .unwrap();
        let e = expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
        assert!(e.starts_with("no route "), "{e}");
        for (method, path) in api::routes() {
            let url = format!("{base}{}", path.replace("{id}", "x"));
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let res = c
                .request(method.clone(), &url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .unwrap();
            let status = res.status();
            if status == StatusCode::NOT_FOUND {
                let e: ApiError = res.json().await.unwrap();
                assert!(
                    !e.message.starts_with("no route "),
                    "{method} {path} is not routed: {}",
                    e.message
                );
            }
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
        drop(site);

        // Without the flag the fault routes do not exist.
        let dir = tempfile::tempdir().unwrap();
        let site = start(test_options(dir.path(), false)).await.unwrap();
        let res = c
            .post(format!("{}/api/v1/fault/flood", site.base_url()))
            .json(&json!({"rate_per_sec": 10, "count": 1}))
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshot_then_stream_under_flood_has_no_gap() {
        let dir = tempfile::tempdir().unwrap();
        let site = start(test_options(dir.path(), true)).await.unwrap();
        let base = site.base_url();
        let c = client();
        // Resuming replays the log: a role with the search right (a viewer
        // gets live events only).
        let token = sign_in(&c, &base, "operator").await;
        let res = c
            .post(format!("{base}/api/v1/fault/flood"))
            .json(&json!({"rate_per_sec": 2000, "count": 3000}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        // Take the snapshot once the flood is under way.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while site.last_seq() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the flood did not start"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let snap: Snapshot = c
            .get(format!("{base}/api/v1/snapshot"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(snap.seq > 0);
        // Two readers: one from the snapshot, one reconnecting half way.
        let mut a = Sse::open(&c, &base, &token, Some(snap.seq)).await;
        let mut next = snap.seq + 1;
        let last = 3000;
        while next <= last {
            let (id, _, _) = a.next().await.expect("stream ended");
            assert_eq!(id, next);
            next += 1;
            if id == 2000 {
                let mut b = Sse::open(&c, &base, &token, Some(1500)).await;
                for want in 1501..=1600 {
                    assert_eq!(b.next().await.unwrap().0, want);
                }
            }
        }
        assert_eq!(site.last_seq(), 3000);
        assert_eq!(site.event_seqs(), (1..=3000).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_https_with_given_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output();
        let out =
            made.expect("openssl (installed by scripts/install-deps.sh) makes a test certificate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut opts = test_options(&dir.path().join("data"), false);
        opts.tls = Some(TlsFiles {
            cert: cert.clone(),
            key,
        });
        let site = start(opts).await.unwrap();
        assert!(site.base_url().starts_with("https://127.0.0.1:"));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pem = std::fs::read(&cert).unwrap();
        let c = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .build()
            .unwrap();
        let token = sign_in(&c, &site.base_url(), "viewer").await;
        let res = c
            .get(format!("{}/api/v1/snapshot", site.base_url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[test]
    fn site_errors_keep_their_kind() {
        use crate::site::drivers::DriverError;
        let unavailable: SiteError = core::CoreError::from(DriverError::NoSimulator).into();
        assert_eq!(unavailable.kind(), ErrorKind::Unavailable);
        let denied: SiteError = auth::AuthError::BadCredentials.into();
        assert_eq!(denied.kind(), ErrorKind::Unauthenticated);
        let missing = verify_audit_dir(Path::new("/nonexistent-watchdesk-dir")).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert!(missing.to_string().contains("/nonexistent-watchdesk-dir"));
        let empty = hash_password_line(&b"\n"[..]).unwrap_err();
        assert_eq!(empty.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn hash_password_line_reads_one_line() {
        let h = hash_password_line(&b"s3cret\n"[..]).unwrap();
        assert!(auth::verify_password("s3cret", &h));
        assert!(hash_password_line(&b"\n"[..]).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_traffic_reaches_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = test_options(dir.path(), false);
        opts.config.traffic.enabled = true;
        opts.config.traffic.badges_per_minute = 1200.0;
        let site = start(opts).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let kinds = loop {
            let page = site
                .core()
                .events()
                .search(&store::EventQuery {
                    limit: 1000,
                    ..Default::default()
                })
                .unwrap();
            let kinds: std::collections::BTreeSet<&str> =
                page.items.iter().map(|e| e.kind.type_name()).collect();
            if kinds.contains("access.granted") || tokio::time::Instant::now() > deadline {
                break kinds.into_iter().map(str::to_owned).collect::<Vec<_>>();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            kinds.iter().any(|k| k == "access.granted"),
            "traffic produced only {kinds:?}"
        );
        assert!(site.core().audit_trail().verify().unwrap().ok);
    }
}

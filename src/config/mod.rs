//! Parses and validates the site's plain files (`config/*.toml`, `maps/*.toml`)
//! into domain types. Every error names the file, the line and the key.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::{
    AccessPoint, AccessPointId, Camera, CameraCredentials, CameraId, CameraState, Cardholder,
    CardholderId, Credential, CredentialId, CredentialState, Direction, Door, DoorId, ErrorKind,
    FailMode, FloorMap, MapId, Placement, Role, SiteInfo, StreamInfo,
};

pub mod map_writer;
mod recording;

pub use recording::{RecordingConfig, RecordingKeep};

/// A config or map file that cannot be used: where, and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {key}: {message}")]
    Invalid {
        file: PathBuf,
        /// 1-based; 0 when the problem is the file as a whole.
        line: usize,
        key: String,
        message: String,
    },
}

impl ConfigError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }

    fn invalid(
        file: &Path,
        text: &str,
        needle: &str,
        key: &str,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            file: file.to_owned(),
            line: line_of(text, needle),
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// The 1-based line of the first occurrence of `needle`, or 0.
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|pos| text[..pos].lines().count().max(1) + usize::from(text[..pos].ends_with('\n')))
        .map(|l| l.max(1))
        .unwrap_or(0)
}

/// Reads a TOML file into `T`, with serde's complaint turned into file, line, key.
fn parse_toml<T: serde::de::DeserializeOwned>(file: &Path) -> Result<(T, String), ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_owned(),
        source,
    })?;
    let value = toml::from_str::<T>(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(0);
        let key = e
            .span()
            .map(|span| key_at(&text, span.start))
            .unwrap_or_default();
        ConfigError::Invalid {
            file: file.to_owned(),
            line,
            key,
            message: e.message().to_owned(),
        }
    })?;
    Ok((value, text))
}

/// The key named on the line that holds byte `pos`, or the table header above it.
fn key_at(text: &str, pos: usize) -> String {
    let start = text[..pos.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("").trim();
    if let Some((k, _)) = line.split_once('=') {
        return k.trim().to_owned();
    }
    line.trim_matches(|c| c == '[' || c == ']').to_owned()
}

// ---- the files as written -----------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    site: SiteSection,
    #[serde(default)]
    controller: ControllerConfig,
    #[serde(default)]
    traffic: TrafficConfig,
    #[serde(default)]
    video: VideoConfig,
    #[serde(default)]
    recording: RecordingConfig,
    #[serde(default, rename = "camera")]
    cameras: Vec<CameraFile>,
    #[serde(default, rename = "door")]
    doors: Vec<DoorFile>,
    #[serde(default, rename = "access_point")]
    access_points: Vec<AccessPointFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteSection {
    name: String,
    /// IANA time zone name.
    time_zone: String,
    /// Marks the built-in demo site. Default: false.
    #[serde(default)]
    demo: bool,
    /// Relative to this file.
    users_file: PathBuf,
    /// Relative to this file.
    cardholders_file: PathBuf,
    /// Folder of floor plans (`*.toml` + images), relative to this file.
    maps_dir: PathBuf,
    /// Folder of cardholder photos, relative to this file.
    photos_dir: PathBuf,
    /// Sessions expire after this long. Default: 8 hours.
    #[serde(default = "default_session_ttl")]
    session_ttl_secs: u64,
    /// A door command not confirmed by then has failed. Default: 3000 ms.
    #[serde(default = "default_command_timeout")]
    command_timeout_ms: u64,
    /// An unanswered access request is denied after this long. Default: 60 s.
    #[serde(default = "default_request_timeout")]
    request_timeout_secs: u64,
    /// See [`ConnectionLimits::header_timeout_ms`]. Default: 10000 ms.
    #[serde(default = "default_header_timeout")]
    header_timeout_ms: u64,
    /// See [`ConnectionLimits::idle_timeout_ms`]. Default: 60000 ms.
    #[serde(default = "default_idle_timeout")]
    idle_timeout_ms: u64,
    /// See [`ConnectionLimits::max_connections`]. Default: 512.
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    /// A session not used for this long ends. Default: 30 minutes.
    #[serde(default = "default_session_idle")]
    session_idle_secs: u64,
    /// Serve plain HTTP on an address that is not loopback. Default: false.
    #[serde(default)]
    allow_plain_http: bool,
}

fn default_session_ttl() -> u64 {
    8 * 3600
}
fn default_command_timeout() -> u64 {
    3000
}
fn default_request_timeout() -> u64 {
    60
}
fn default_header_timeout() -> u64 {
    10_000
}
fn default_idle_timeout() -> u64 {
    60_000
}
fn default_max_connections() -> usize {
    512
}
fn default_session_idle() -> u64 {
    30 * 60
}

/// The shortest idle timeout of a session: its use is written at most
/// every 15 s to a minute, so a shorter one would end sessions in use.
pub const MIN_SESSION_IDLE_SECS: u64 = 60;

/// How the site's HTTP(S) server bounds its connections (`[site]` keys), so
/// slow or idle clients cannot pin it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection must complete its TLS handshake and each request's
    /// header within this long; an HTTP/1 connection idle between requests
    /// is closed after it too.
    pub header_timeout_ms: u64,
    /// A connection on which no byte moves either way for this long is
    /// closed (HTTP/2, a client that stops reading). Longer than the live
    /// stream's 2 s heartbeat, so an open live stream is never idle.
    pub idle_timeout_ms: u64,
    /// Connections served at once; one more is closed as soon as it is
    /// accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout_ms: default_header_timeout(),
            idle_timeout_ms: default_idle_timeout(),
            max_connections: default_max_connections(),
        }
    }
}

/// The shortest `idle_timeout_ms`: a live stream's heartbeats (every 2 s)
/// must keep it open with room to spare.
const MIN_IDLE_TIMEOUT_MS: u64 = 5000;

/// The simulated door controller's behaviour.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    /// `simulated` (the only driver so far).
    pub driver: String,
    /// How long the simulated controller takes to actuate a lock.
    pub command_latency_ms: u64,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            driver: "simulated".into(),
            command_latency_ms: 150,
        }
    }
}

/// The demo traffic generator: people badging, visitors, forced doors.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficConfig {
    pub enabled: bool,
    /// The same seed gives the same sequence of actions.
    pub seed: u64,
    /// Badge presentations per minute across the site.
    pub badges_per_minute: f64,
    /// Out of 100 badge presentations, how many are visitors asking an operator.
    pub request_percent: u32,
    /// Out of 100, how many doors are forced open (or held open) instead.
    pub alarm_percent: u32,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            seed: 1,
            badges_per_minute: 20.0,
            request_percent: 5,
            alarm_percent: 3,
        }
    }
}

/// The demo cameras' RTSP server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoConfig {
    /// Serve the demo cameras (`scene = ...`) from an in-process RTSP server.
    pub demo_cameras: bool,
    /// 0 picks a free port.
    pub rtsp_port: u16,
    /// Length of each cached scene loop.
    pub scene_seconds: u32,
    pub main_width: u32,
    pub main_height: u32,
    pub sub_width: u32,
    pub sub_height: u32,
    pub fps: u32,
    /// Key frame every this many seconds.
    pub gop_seconds: u32,
    /// Also serve a live-encoded camera with its capture time burned in.
    pub latency_camera: bool,
    /// The site's relay (its own RTSP server, which clients take every
    /// camera stream from, signed in); 0 picks a free port.
    pub relay_port: u16,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            demo_cameras: true,
            rtsp_port: 0,
            scene_seconds: 10,
            main_width: 1280,
            main_height: 720,
            sub_width: 640,
            sub_height: 360,
            fps: 25,
            gop_seconds: 1,
            latency_camera: true,
            relay_port: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraFile {
    id: String,
    name: String,
    #[serde(default)]
    map: Option<String>,
    /// A demo scene (served by the site's RTSP server) ...
    #[serde(default)]
    scene: Option<String>,
    /// ... or a real camera's streams (no credentials in them).
    #[serde(default)]
    main_url: Option<String>,
    /// Optional: a camera with one stream plays it at every tile size.
    #[serde(default)]
    sub_url: Option<String>,
    /// The user the site (and, until the site relays video, its clients)
    /// opens the streams as.
    #[serde(default)]
    username: Option<String>,
    /// A file holding the password (one trailing newline is dropped),
    /// relative to this file ...
    #[serde(default)]
    password_file: Option<PathBuf>,
    /// ... or the name of an environment variable holding it.
    #[serde(default)]
    password_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoorFile {
    id: String,
    name: String,
    zone: String,
    #[serde(default)]
    map: Option<String>,
    fail_mode: FailMode,
    #[serde(default = "default_access_time")]
    access_time_ms: u64,
    #[serde(default = "default_held_open")]
    held_open_threshold_ms: u64,
    #[serde(default)]
    cameras: Vec<String>,
}

fn default_access_time() -> u64 {
    5000
}
fn default_held_open() -> u64 {
    30_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessPointFile {
    id: String,
    name: String,
    door: String,
    direction: Direction,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default, rename = "user")]
    users: Vec<UserConfig>,
}

/// A user who may sign in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub role: Role,
    /// An argon2 PHC string from `watchdesk site hash-password`.
    pub password_hash: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardholdersFile {
    #[serde(default, rename = "schedule")]
    schedules: Vec<ScheduleConfig>,
    #[serde(default, rename = "cardholder")]
    cardholders: Vec<CardholderFile>,
}

/// Where and when a cardholder's cards open doors.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub id: String,
    /// Door zones this schedule opens.
    pub zones: Vec<String>,
    /// Hour of the day (site time) from which it applies, 0–23.
    pub from_hour: u32,
    /// Hour of the day (site time) until which it applies, 1–24.
    pub to_hour: u32,
}

impl ScheduleConfig {
    /// Whether this schedule opens a door of `zone` at `hour` (site time).
    pub fn allows(&self, zone: &str, hour: u32) -> bool {
        self.zones.iter().any(|z| z == zone) && self.from_hour <= hour && hour < self.to_hour
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardholderFile {
    id: String,
    name: String,
    department: String,
    schedule: String,
    #[serde(default)]
    photo: Option<String>,
    #[serde(default, rename = "credential")]
    credentials: Vec<CredentialFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    id: String,
    #[serde(default = "default_active")]
    state: CredentialState,
    #[serde(default)]
    valid_until: Option<DateTime<Utc>>,
}

fn default_active() -> CredentialState {
    CredentialState::Active
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    id: String,
    name: String,
    image: String,
    width: u32,
    height: u32,
    #[serde(default, rename = "door")]
    doors: Vec<PlacementFile>,
    #[serde(default, rename = "camera")]
    cameras: Vec<PlacementFile>,
}

/// A `[[door]]` or `[[camera]]` of a map file: documented in `maps/README.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlacementFile {
    id: String,
    x: f32,
    y: f32,
    direction_deg: Option<f32>,
    fov_deg: Option<f32>,
}

impl From<PlacementFile> for Placement {
    fn from(p: PlacementFile) -> Self {
        Placement {
            id: p.id,
            x: p.x,
            y: p.y,
            direction_deg: p.direction_deg,
            fov_deg: p.fov_deg,
        }
    }
}

// ---- the site as loaded -------------------------------------------------

/// A camera as configured: either a demo scene or a real camera's URLs.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    pub id: CameraId,
    pub name: String,
    pub map: Option<MapId>,
    pub source: CameraSource,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CameraSource {
    /// Served by the site's demo RTSP server; the scene names a look
    /// (`ball`, `smpte`, `snow`, `gradient`, `pinwheel`, …).
    Demo { scene: String },
    /// A real camera: its streams (`sub_url` `None` when it has one) and
    /// the credentials they need, if any.
    Rtsp {
        main_url: String,
        sub_url: Option<String>,
        credentials: Option<CameraCredentials>,
    },
}

/// A cardholder with the schedule their cards follow.
#[derive(Debug, Clone, PartialEq)]
pub struct CardholderConfig {
    pub cardholder: Cardholder,
    pub schedule: String,
    /// Absolute path of the photo file, when there is one.
    pub photo: Option<PathBuf>,
}

/// Everything a site server needs from its files, validated.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// The `site.toml` this came from.
    pub file: PathBuf,
    pub site: SiteInfo,
    pub session_ttl_secs: u64,
    /// A session not used for this long ends (every authenticated call and
    /// every open live stream counts as use).
    pub session_idle_secs: u64,
    /// Serve plain HTTP on an address that is not loopback (`[site]`
    /// `allow_plain_http`, or `watchdesk site --allow-plain-http`). Without
    /// it the site refuses to start there; TLS on any address is fine.
    pub allow_plain_http: bool,
    pub command_timeout_ms: u64,
    pub request_timeout_secs: u64,
    pub connections: ConnectionLimits,
    pub controller: ControllerConfig,
    pub traffic: TrafficConfig,
    pub video: VideoConfig,
    /// `[recording]`: the recorder's folder, segment length, retention.
    pub recording: RecordingConfig,
    pub cameras: Vec<CameraConfig>,
    pub doors: Vec<Door>,
    pub access_points: Vec<AccessPoint>,
    pub maps: Vec<FloorMap>,
    /// Folder the map images are in.
    pub maps_dir: PathBuf,
    pub users: Vec<UserConfig>,
    pub schedules: Vec<ScheduleConfig>,
    pub cardholders: Vec<CardholderConfig>,
}

impl SiteConfig {
    /// Loads `site.toml` and every file it names, and checks that every
    /// reference points at something that exists.
    pub fn load(site_toml: &Path) -> Result<SiteConfig, ConfigError> {
        Self::load_with_env(site_toml, &|name| std::env::var(name).ok())
    }

    /// [`SiteConfig::load`], reading environment variables (a camera's
    /// `password_env`) through `env` rather than the process environment.
    pub fn load_with_env(
        site_toml: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SiteConfig, ConfigError> {
        let (file, text): (SiteFile, String) = parse_toml(site_toml)?;
        let base = site_toml.parent().unwrap_or(Path::new("."));
        let s = &file.site;

        if s.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::invalid(
                site_toml,
                &text,
                "time_zone",
                "site.time_zone",
                format!(
                    "{:?} is not an IANA time zone name (e.g. Europe/Berlin)",
                    s.time_zone
                ),
            ));
        }

        for (bad, needle, key, message) in [
            (
                s.header_timeout_ms == 0,
                "header_timeout_ms",
                "site.header_timeout_ms",
                "must be at least 1".to_owned(),
            ),
            (
                s.idle_timeout_ms < MIN_IDLE_TIMEOUT_MS,
                "idle_timeout_ms",
                "site.idle_timeout_ms",
                format!(
                    "must be at least {MIN_IDLE_TIMEOUT_MS} (live streams send a heartbeat every 2 s)"
                ),
            ),
            (
                s.max_connections == 0,
                "max_connections",
                "site.max_connections",
                "must be at least 1".to_owned(),
            ),
            (
                s.session_idle_secs < MIN_SESSION_IDLE_SECS,
                "session_idle_secs",
                "site.session_idle_secs",
                format!("must be at least {MIN_SESSION_IDLE_SECS}"),
            ),
        ] {
            if bad {
                return Err(ConfigError::invalid(site_toml, &text, needle, key, message));
            }
        }

        let maps_dir = clean_join(base, &s.maps_dir);
        let maps = load_maps(&maps_dir)?;
        let map_ids: HashSet<&str> = maps.iter().map(|m| m.id.as_str()).collect();

        let mut cameras = Vec::new();
        let mut seen = HashSet::new();
        for c in &file.cameras {
            let at = format!("id = \"{}\"", c.id);
            if !seen.insert(c.id.clone()) {
                return Err(ConfigError::invalid(
                    site_toml,
                    &text,
                    &at,
                    "camera.id",
                    format!("duplicate camera id {:?}", c.id),
                ));
            }
            if let Some(m) = &c.map
                && !map_ids.contains(m.as_str())
            {
                return Err(ConfigError::invalid(
                    site_toml,
                    &text,
                    &at,
                    "camera.map",
                    format!("camera {:?} names unknown map {m:?}", c.id),
                ));
            }
            let has_auth =
                c.username.is_some() || c.password_file.is_some() || c.password_env.is_some();
            let source = match (&c.scene, &c.main_url, &c.sub_url) {
                (Some(scene), None, None) if !has_auth => CameraSource::Demo {
                    scene: scene.clone(),
                },
                (None, Some(main), sub) => {
                    for (url, key) in [
                        (Some(main), "camera.main_url"),
                        (sub.as_ref(), "camera.sub_url"),
                    ] {
                        let Some(url) = url else { continue };
                        check_rtsp_url(url).map_err(|m| {
                            // The message, never the URL: it may hold a password.
                            ConfigError::Invalid {
                                file: site_toml.to_owned(),
                                line: line_after(&text, &at, key.trim_start_matches("camera.")),
                                key: key.to_owned(),
                                message: format!("camera {:?}: {m}", c.id),
                            }
                        })?;
                    }
                    CameraSource::Rtsp {
                        main_url: main.clone(),
                        sub_url: sub.clone(),
                        credentials: camera_credentials(c, site_toml, &text, &at, base, env)?,
                    }
                }
                (Some(_), None, None) => {
                    return Err(ConfigError::Invalid {
                        file: site_toml.to_owned(),
                        line: line_after(&text, &at, "username").max(line_after(
                            &text,
                            &at,
                            "password_",
                        )),
                        key: "camera.username".into(),
                        message: format!(
                            "camera {:?} is a demo scene: it takes no credentials",
                            c.id
                        ),
                    });
                }
                _ => {
                    return Err(ConfigError::invalid(
                        site_toml,
                        &text,
                        &at,
                        "camera.scene",
                        format!(
                            "camera {:?} needs either `scene` (demo) or `main_url` (and optionally `sub_url`)",
                            c.id
                        ),
                    ));
                }
            };
            cameras.push(CameraConfig {
                id: CameraId::new(&c.id),
                name: c.name.clone(),
                map: c.map.as_deref().map(MapId::new),
                source,
            });
        }

        let mut doors = Vec::new();
        let mut seen = HashSet::new();
        for d in &file.doors {
            let at = format!("id = \"{}\"", d.id);
            if !seen.insert(d.id.clone()) {
                return Err(ConfigError::invalid(
                    site_toml,
                    &text,
                    &at,
                    "door.id",
                    format!("duplicate door id {:?}", d.id),
                ));
            }
            if let Some(m) = &d.map
                && !map_ids.contains(m.as_str())
            {
                return Err(ConfigError::invalid(
                    site_toml,
                    &text,
                    &at,
                    "door.map",
                    format!("door {:?} names unknown map {m:?}", d.id),
                ));
            }
            for c in &d.cameras {
                if !cameras.iter().any(|cam| cam.id.as_str() == c) {
                    return Err(ConfigError::invalid(
                        site_toml,
                        &text,
                        &at,
                        "door.cameras",
                        format!("door {:?} names unknown camera {c:?}", d.id),
                    ));
                }
            }
            if d.access_time_ms == 0 || d.held_open_threshold_ms == 0 {
                return Err(ConfigError::invalid(
                    site_toml,
                    &text,
                    &at,
                    "door.access_time_ms",
                    "access and held-open times must be above 0",
                ));
            }
            doors.push(Door {
                id: DoorId::new(&d.id),
                name: d.name.clone(),
                zone: d.zone.clone(),
                map: d.map.as_deref().map(MapId::new),
                fail_mode: d.fail_mode,
                access_time_ms: d.access_time_ms,
                held_open_threshold_ms: d.held_open_threshold_ms,
                cameras: d
                    .cameras
                    .iter()
                    .map(|c| CameraId::new(c.as_str()))
                    .collect(),
            });
        }

        let mut access_points = Vec::new();
        for ap in &file.access_points {
            let at = format!("id = \"{}\"", ap.id);
            if !doors.iter().any(|d| d.id.as_str() == ap.door) {
                return Err(ConfigError::invalid(
                    site_toml,
                    &text,
                    &at,
                    "access_point.door",
                    format!("access point {:?} names unknown door {:?}", ap.id, ap.door),
                ));
            }
            access_points.push(AccessPoint {
                id: AccessPointId::new(&ap.id),
                name: ap.name.clone(),
                door: DoorId::new(&ap.door),
                direction: ap.direction,
            });
        }

        for m in &maps {
            let map_file = maps_dir.join(format!("{}.toml", m.id));
            let map_text = std::fs::read_to_string(&map_file).unwrap_or_default();
            for p in &m.doors {
                if !doors.iter().any(|d| d.id.as_str() == p.id) {
                    return Err(ConfigError::invalid(
                        &map_file,
                        &map_text,
                        &format!("\"{}\"", p.id),
                        "door.id",
                        format!("map places unknown door {:?}", p.id),
                    ));
                }
            }
            for p in &m.cameras {
                if !cameras.iter().any(|c| c.id.as_str() == p.id) {
                    return Err(ConfigError::invalid(
                        &map_file,
                        &map_text,
                        &format!("\"{}\"", p.id),
                        "camera.id",
                        format!("map places unknown camera {:?}", p.id),
                    ));
                }
            }
        }

        let users_path = clean_join(base, &s.users_file);
        let (users_file, users_text): (UsersFile, String) = parse_toml(&users_path)?;
        let mut names = HashSet::new();
        for u in &users_file.users {
            if !names.insert(u.name.clone()) {
                return Err(ConfigError::invalid(
                    &users_path,
                    &users_text,
                    &format!("name = \"{}\"", u.name),
                    "user.name",
                    format!("duplicate user {:?}", u.name),
                ));
            }
            if !u.password_hash.starts_with("$argon2") {
                return Err(ConfigError::invalid(
                    &users_path,
                    &users_text,
                    &format!("name = \"{}\"", u.name),
                    "user.password_hash",
                    "not an argon2 hash; make one with `watchdesk site hash-password`",
                ));
            }
        }

        let photos_dir = clean_join(base, &s.photos_dir);
        let ch_path = clean_join(base, &s.cardholders_file);
        let (ch_file, ch_text): (CardholdersFile, String) = parse_toml(&ch_path)?;
        let mut cardholders = Vec::new();
        let mut badge_ids = HashSet::new();
        for ch in &ch_file.cardholders {
            let at = format!("id = \"{}\"", ch.id);
            if !ch_file.schedules.iter().any(|s| s.id == ch.schedule) {
                return Err(ConfigError::invalid(
                    &ch_path,
                    &ch_text,
                    &at,
                    "cardholder.schedule",
                    format!(
                        "cardholder {:?} names unknown schedule {:?}",
                        ch.id, ch.schedule
                    ),
                ));
            }
            for c in &ch.credentials {
                if !badge_ids.insert(c.id.clone()) {
                    return Err(ConfigError::invalid(
                        &ch_path,
                        &ch_text,
                        &format!("id = \"{}\"", c.id),
                        "credential.id",
                        format!("badge {:?} is given twice", c.id),
                    ));
                }
            }
            let photo = ch.photo.as_ref().map(|p| photos_dir.join(p));
            cardholders.push(CardholderConfig {
                cardholder: Cardholder {
                    id: CardholderId::new(&ch.id),
                    name: ch.name.clone(),
                    department: ch.department.clone(),
                    has_photo: photo.as_ref().is_some_and(|p| p.exists()),
                    credentials: ch
                        .credentials
                        .iter()
                        .map(|c| Credential {
                            id: CredentialId::new(&c.id),
                            state: c.state,
                            valid_until: c.valid_until,
                        })
                        .collect(),
                },
                schedule: ch.schedule.clone(),
                photo,
            });
        }
        for sch in &ch_file.schedules {
            if sch.from_hour > 23 || sch.to_hour > 24 || sch.from_hour >= sch.to_hour {
                return Err(ConfigError::invalid(
                    &ch_path,
                    &ch_text,
                    &format!("id = \"{}\"", sch.id),
                    "schedule.from_hour",
                    "hours must satisfy 0 <= from_hour < to_hour <= 24",
                ));
            }
        }

        file.recording.check(site_toml, &text, &cameras)?;

        if file.controller.driver != "simulated" {
            return Err(ConfigError::invalid(
                site_toml,
                &text,
                "driver",
                "controller.driver",
                format!(
                    "unknown driver {:?} (only \"simulated\" so far)",
                    file.controller.driver
                ),
            ));
        }

        Ok(SiteConfig {
            file: site_toml.to_owned(),
            site: SiteInfo {
                name: s.name.clone(),
                time_zone: s.time_zone.clone(),
                demo: s.demo,
            },
            session_ttl_secs: s.session_ttl_secs,
            session_idle_secs: s.session_idle_secs,
            allow_plain_http: s.allow_plain_http,
            command_timeout_ms: s.command_timeout_ms,
            request_timeout_secs: s.request_timeout_secs,
            connections: ConnectionLimits {
                header_timeout_ms: s.header_timeout_ms,
                idle_timeout_ms: s.idle_timeout_ms,
                max_connections: s.max_connections,
            },
            controller: file.controller.clone(),
            traffic: file.traffic.clone(),
            video: file.video.clone(),
            recording: file.recording.clone(),
            cameras,
            doors,
            access_points,
            maps,
            maps_dir,
            users: users_file.users,
            schedules: ch_file.schedules,
            cardholders,
        })
    }

    /// The cameras as the snapshot serves them, given the URLs the demo RTSP
    /// server answers on (`rtsp://127.0.0.1:PORT`), when it runs. A demo
    /// camera's stream facts are its video settings; a real camera's are
    /// unknown here (`probed: false`, state `Probing`): the site's probes
    /// fill them in.
    pub fn cameras_with_urls(&self, demo_rtsp_base: Option<&str>) -> Vec<Camera> {
        let v = &self.video;
        self.cameras
            .iter()
            .map(|c| {
                let (main, sub, state, auth_required) = match &c.source {
                    CameraSource::Demo { .. } => {
                        let base = demo_rtsp_base.unwrap_or("rtsp://127.0.0.1:8554");
                        let demo = |url: String, width, height| {
                            let mut s = StreamInfo {
                                url,
                                width,
                                height,
                                codec: "h264".into(),
                                probed: true,
                                ..StreamInfo::default()
                            };
                            s.set_frame_rate(v.fps, 1);
                            s
                        };
                        (
                            demo(format!("{base}/{}/main", c.id), v.main_width, v.main_height),
                            demo(format!("{base}/{}/sub", c.id), v.sub_width, v.sub_height),
                            CameraState::Online,
                            false,
                        )
                    }
                    CameraSource::Rtsp {
                        main_url,
                        sub_url,
                        credentials,
                    } => {
                        let unknown = |url: &String| StreamInfo {
                            url: url.clone(),
                            probed: false,
                            ..StreamInfo::default()
                        };
                        (
                            unknown(main_url),
                            unknown(sub_url.as_ref().unwrap_or(main_url)),
                            CameraState::Probing,
                            credentials.is_some(),
                        )
                    }
                };
                Camera {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    main,
                    sub,
                    map: c.map.clone(),
                    state,
                    auth_required,
                    reason: None,
                }
            })
            .collect()
    }

    /// A camera's credentials; `None` for an unknown camera or one that
    /// needs none.
    pub fn camera_credentials(&self, id: &CameraId) -> Option<&CameraCredentials> {
        self.cameras
            .iter()
            .find(|c| &c.id == id)
            .and_then(|c| match &c.source {
                CameraSource::Rtsp { credentials, .. } => credentials.as_ref(),
                CameraSource::Demo { .. } => None,
            })
    }

    pub fn door(&self, id: &DoorId) -> Option<&Door> {
        self.doors.iter().find(|d| &d.id == id)
    }

    pub fn schedule(&self, id: &str) -> Option<&ScheduleConfig> {
        self.schedules.iter().find(|s| s.id == id)
    }

    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.site.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// `base.join(rel)` with `.` and `..` resolved lexically, so error messages
/// name `maps/floor1.toml`, not `config/../maps/floor1.toml`.
fn clean_join(base: &Path, rel: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The 1-based line of the first `needle` after the first `anchor`, or of
/// the anchor when the needle does not follow it (0 when neither is there).
fn line_after(text: &str, anchor: &str, needle: &str) -> usize {
    let Some(start) = text.find(anchor) else {
        return line_of(text, needle);
    };
    match text[start..].find(needle) {
        Some(off) => text[..start + off].matches('\n').count() + 1,
        None => text[..start].matches('\n').count() + 1,
    }
}

/// A real camera's credentials: `username` with a password from
/// `password_file` or `password_env` (not both), or none of these. Errors
/// name the key, never the password.
fn camera_credentials(
    c: &CameraFile,
    site_toml: &Path,
    text: &str,
    at: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<CameraCredentials>, ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        file: site_toml.to_owned(),
        line: line_after(text, at, key),
        key: format!("camera.{key}"),
        message: format!("camera {:?}: {message}", c.id),
    };
    let password = match (&c.password_file, &c.password_env) {
        (Some(_), Some(_)) => {
            return Err(fail(
                "password_env",
                "give the password as `password_file` or `password_env`, not both".into(),
            ));
        }
        (Some(rel), None) => {
            let path = clean_join(base, rel);
            let content = std::fs::read_to_string(&path).map_err(|e| {
                fail(
                    "password_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let pw = content.strip_suffix('\n').unwrap_or(&content);
            Some(pw.strip_suffix('\r').unwrap_or(pw).to_owned())
        }
        (None, Some(name)) => Some(env(name).ok_or_else(|| {
            fail(
                "password_env",
                format!("the environment variable {name:?} is not set"),
            )
        })?),
        (None, None) => None,
    };
    match (&c.username, password) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(fail(
            "username",
            "a username needs `password_file` or `password_env`".into(),
        )),
        (None, Some(_)) => Err(fail(
            if c.password_file.is_some() {
                "password_file"
            } else {
                "password_env"
            },
            "a password needs a `username`".into(),
        )),
        (Some(user), Some(password)) => {
            if user.is_empty() {
                return Err(fail("username", "the username is empty".into()));
            }
            if password.is_empty() {
                let key = if c.password_file.is_some() {
                    "password_file"
                } else {
                    "password_env"
                };
                return Err(fail(key, "the password is empty".into()));
            }
            Ok(Some(CameraCredentials {
                username: user.clone(),
                password,
            }))
        }
    }
}

/// RTSP URLs carry no credentials: those go to the player separately.
fn check_rtsp_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("rtsp://")
        .or_else(|| url.strip_prefix("rtsps://"))
        .ok_or_else(|| "a camera URL must start with rtsp:// or rtsps://".to_owned())?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(
            "put no credentials in a camera URL; give them as `username` and `password_file` or `password_env`"
                .into(),
        );
    }
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    let secret_in_query = query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        name.contains("pass") || name == "pwd"
    });
    if secret_in_query {
        return Err(
            "put no password in a camera URL's query; give it as `password_file` or `password_env`"
                .into(),
        );
    }
    Ok(())
}

/// Loads every `*.toml` in the maps folder, in file-name order.
pub fn load_maps(dir: &Path) -> Result<Vec<FloorMap>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ConfigError::Read {
        file: dir.to_owned(),
        source,
    })?;
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") {
            files.insert(p.to_string_lossy().into_owned(), p);
        }
    }
    let mut maps = Vec::new();
    for path in files.into_values() {
        let (m, text): (MapFile, String) = parse_toml(&path)?;
        if !dir.join(&m.image).exists() {
            return Err(ConfigError::invalid(
                &path,
                &text,
                "image",
                "image",
                format!("plan image {:?} not found beside the map file", m.image),
            ));
        }
        for p in m.doors.iter().chain(&m.cameras) {
            // `contains` is false for NaN, which TOML can spell (`nan`).
            let on_plan =
                (0.0..=m.width as f32).contains(&p.x) && (0.0..=m.height as f32).contains(&p.y);
            if !on_plan {
                return Err(ConfigError::invalid(
                    &path,
                    &text,
                    &format!("\"{}\"", p.id),
                    "x",
                    format!(
                        "{:?} is placed outside the plan ({}×{})",
                        p.id, m.width, m.height
                    ),
                ));
            }
            if p.direction_deg
                .is_some_and(|d| !(-360.0..=360.0).contains(&d))
            {
                return Err(ConfigError::invalid(
                    &path,
                    &text,
                    &format!("\"{}\"", p.id),
                    "direction_deg",
                    format!("{:?}: direction_deg must be between -360 and 360", p.id),
                ));
            }
            if p.fov_deg.is_some_and(|f| !(f > 0.0 && f <= 360.0)) {
                return Err(ConfigError::invalid(
                    &path,
                    &text,
                    &format!("\"{}\"", p.id),
                    "fov_deg",
                    format!("{:?}: fov_deg must be above 0 and at most 360", p.id),
                ));
            }
        }
        maps.push(FloorMap {
            id: MapId::new(&m.id),
            name: m.name,
            image: m.image,
            width: m.width,
            height: m.height,
            doors: m.doors.into_iter().map(Placement::from).collect(),
            cameras: m.cameras.into_iter().map(Placement::from).collect(),
        });
    }
    Ok(maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_join_resolves_dots() {
        assert_eq!(
            clean_join(Path::new("/a/config"), Path::new("../maps")),
            PathBuf::from("/a/maps")
        );
        assert_eq!(
            clean_join(Path::new("config"), Path::new("./users.toml")),
            PathBuf::from("config/users.toml")
        );
        assert_eq!(
            clean_join(Path::new(""), Path::new("../x")),
            PathBuf::from("../x")
        );
    }

    #[test]
    fn line_of_finds_lines() {
        let t = "a = 1\nb = 2\nc = 3\n";
        assert_eq!(line_of(t, "a ="), 1);
        assert_eq!(line_of(t, "b ="), 2);
        assert_eq!(line_of(t, "c ="), 3);
        assert_eq!(line_of(t, "zz"), 0);
    }

    #[test]
    fn rtsp_urls_without_credentials_only() {
        assert!(check_rtsp_url("rtsp://10.0.0.5:554/stream1").is_ok());
        assert!(check_rtsp_url("rtsp://10.0.0.5/cam?channel=1&subtype=0").is_ok());
        assert!(check_rtsp_url("rtsp://admin:pw@10.0.0.5/stream1").is_err());
        assert!(check_rtsp_url("rtsp://admin@10.0.0.5/stream1").is_err());
        assert!(check_rtsp_url("rtsp://10.0.0.5/s?user=a&password=b").is_err());
        assert!(check_rtsp_url("rtsp://10.0.0.5/s?pwd=b").is_err());
        assert!(check_rtsp_url("http://x").is_err());
    }

    /// A minimal site folder with `cameras` as the `[[camera]]` tables and
    /// `files` written beside `site.toml`.
    fn site_with(cameras: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("maps")).expect("maps");
        std::fs::create_dir_all(root.join("photos")).expect("photos");
        std::fs::write(root.join("users.toml"), "").expect("users");
        std::fs::write(root.join("cardholders.toml"), "").expect("cardholders");
        for (name, content) in files {
            std::fs::write(root.join(name), content).expect("file");
        }
        let site = root.join("site.toml");
        let text = format!(
            "[site]\nname = \"T\"\ntime_zone = \"UTC\"\nusers_file = \"users.toml\"\n\
             cardholders_file = \"cardholders.toml\"\nmaps_dir = \"maps\"\nphotos_dir = \"photos\"\n\n{cameras}"
        );
        std::fs::write(&site, text).expect("site.toml");
        (dir, site)
    }

    fn env_of(name: &str) -> Option<String> {
        (name == "CAM_PW").then(|| "from env".to_owned())
    }

    fn load_cams(cameras: &str, files: &[(&str, &str)]) -> Result<SiteConfig, ConfigError> {
        let (_dir, site) = site_with(cameras, files);
        SiteConfig::load_with_env(&site, &env_of)
    }

    /// file name, line, key and message of an `Invalid` error.
    fn invalid(r: Result<SiteConfig, ConfigError>) -> (String, usize, String, String) {
        match r {
            Err(ConfigError::Invalid {
                file,
                line,
                key,
                message,
            }) => (
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                line,
                key,
                message,
            ),
            Err(other) => panic!("not an Invalid error: {other}"),
            Ok(_) => panic!("loaded"),
        }
    }

    const REAL: &str =
        "[[camera]]\nid = \"gate\"\nname = \"Gate\"\nmain_url = \"rtsp://10.0.0.5/main\"\n";

    #[test]
    fn connection_limits_default_and_their_mistakes_name_line_and_key() {
        // No keys: the defaults.
        let cfg = load_cams("", &[]).expect("loads");
        assert_eq!(cfg.connections, ConnectionLimits::default());
        assert_eq!(cfg.connections.header_timeout_ms, 10_000);
        assert_eq!(cfg.connections.max_connections, 512);
        assert_eq!(cfg.session_idle_secs, 30 * 60);
        assert!(!cfg.allow_plain_http);
        // Set: taken as written (the lines land in `[site]`, the last table).
        let set = "header_timeout_ms = 1500\nidle_timeout_ms = 9000\nmax_connections = 64\n";
        let cfg = load_cams(set, &[]).expect("loads");
        assert_eq!(
            cfg.connections,
            ConnectionLimits {
                header_timeout_ms: 1500,
                idle_timeout_ms: 9000,
                max_connections: 64,
            }
        );
        let set = "session_idle_secs = 600\nallow_plain_http = true\n";
        let cfg = load_cams(set, &[]).expect("loads");
        assert_eq!((cfg.session_idle_secs, cfg.allow_plain_http), (600, true));
        // (line, key, words in the message); [site] takes lines 1-7, a blank line 8.
        let cases = [
            (
                "header_timeout_ms = 0\n",
                9,
                "site.header_timeout_ms",
                "at least 1",
            ),
            (
                "idle_timeout_ms = 2000\n",
                9,
                "site.idle_timeout_ms",
                "heartbeat",
            ),
            (
                "max_connections = 0\n",
                9,
                "site.max_connections",
                "at least 1",
            ),
            (
                "session_idle_secs = 59\n",
                9,
                "site.session_idle_secs",
                "at least 60",
            ),
        ];
        for (text, line, key, words) in cases {
            let (file, l, k, m) = invalid(load_cams(text, &[]));
            assert_eq!(
                (file.as_str(), l, k.as_str()),
                ("site.toml", line, key),
                "{text}"
            );
            assert!(m.contains(words), "{text}: {m}");
        }
    }

    /// A map with the camera `gate` placed by `placement` (its keys after `id`).
    fn map_with(placement: &str) -> String {
        format!(
            "id = \"f\"\nname = \"F\"\nimage = \"f.png\"\nwidth = 100\nheight = 50\n\n\
             [[camera]]\nid = \"gate\"\n{placement}"
        )
    }

    #[test]
    fn camera_placements_read_their_view_and_its_mistakes_name_line_and_key() {
        let load = |placement: &str| {
            let map = map_with(placement);
            load_cams(REAL, &[("maps/f.toml", &map), ("maps/f.png", "")])
        };
        let cfg =
            load("x = 10.0\ny = 20.0\ndirection_deg = 90.0\nfov_deg = 45.0\n").expect("loads");
        let p = &cfg.maps[0].cameras[0];
        assert_eq!((p.direction_deg, p.fov_deg), (Some(90.0), Some(45.0)));
        let cfg = load("x = 10.0\ny = 20.0\n").expect("loads");
        let p = &cfg.maps[0].cameras[0];
        assert_eq!((p.direction_deg, p.fov_deg), (None, None));

        let (file, line, key, message) = invalid(load("x = 1.0\ny = 1.0\nfov_deg = 0.0\n"));
        assert_eq!(
            (file.as_str(), line, key.as_str()),
            ("f.toml", 8, "fov_deg")
        );
        assert!(message.contains("fov_deg must be above 0"), "{message}");
        let (_, line, key, _) = invalid(load("x = 1.0\ny = 1.0\ndirection_deg = nan\n"));
        assert_eq!((line, key.as_str()), (8, "direction_deg"));
        // A misspelt key is refused, not ignored.
        let (file, line, key, message) = invalid(load("x = 1.0\ny = 1.0\nangle = 3.0\n"));
        assert_eq!((file.as_str(), line), ("f.toml", 11), "{key}: {message}");
        assert!(message.contains("unknown field `angle`"), "{message}");
    }

    #[test]
    fn a_real_camera_takes_its_password_from_a_file() {
        let cams = format!("{REAL}username = \"viewer\"\npassword_file = \"gate.pw\"\n");
        let cfg = load_cams(&cams, &[("gate.pw", "p@ss:w/rd\n")]).expect("loads");
        let id = CameraId::new("gate");
        let creds = cfg.camera_credentials(&id).expect("credentials");
        assert_eq!(creds.username, "viewer");
        assert_eq!(creds.password, "p@ss:w/rd", "one trailing newline dropped");
        // Only the newline: spaces are part of a password.
        let cfg = load_cams(&cams, &[("gate.pw", " a b \r\n")]).expect("loads");
        assert_eq!(
            cfg.camera_credentials(&id).expect("creds").password,
            " a b "
        );
        // Nowhere in Debug output, nor in the snapshot's cameras.
        let cfg = load_cams(&cams, &[("gate.pw", "s3cret-pw\n")]).expect("loads");
        assert!(!format!("{cfg:?}").contains("s3cret-pw"));
        let shown = serde_json::to_string(&cfg.cameras_with_urls(None)).expect("json");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        let cam = &cfg.cameras_with_urls(None)[0];
        assert!(cam.auth_required);
        assert_eq!(cam.state, CameraState::Probing);
        assert!(!cam.main.probed);
        assert_eq!((cam.main.width, cam.main.height, cam.main.fps), (0, 0, 0));
    }

    #[test]
    fn a_real_camera_takes_its_password_from_the_environment() {
        let cams = format!("{REAL}username = \"viewer\"\npassword_env = \"CAM_PW\"\n");
        let cfg = load_cams(&cams, &[]).expect("loads");
        let creds = cfg
            .camera_credentials(&CameraId::new("gate"))
            .expect("credentials");
        assert_eq!(creds.password, "from env");
    }

    #[test]
    fn a_camera_without_credentials_or_sub_stream_plays_main_everywhere() {
        let cfg = load_cams(REAL, &[]).expect("loads");
        assert!(cfg.camera_credentials(&CameraId::new("gate")).is_none());
        let cam = &cfg.cameras_with_urls(None)[0];
        assert!(!cam.auth_required);
        assert!(!cam.has_sub_stream());
        assert_eq!(cam.sub.url, cam.main.url);
        let with_sub = format!("{REAL}sub_url = \"rtsp://10.0.0.5/sub\"\n");
        let cfg = load_cams(&with_sub, &[]).expect("loads");
        assert!(cfg.cameras_with_urls(None)[0].has_sub_stream());
    }

    #[test]
    fn camera_credential_mistakes_name_file_line_and_key() {
        let pw = [("gate.pw", "secret-in-file\n")];
        // (extra lines after REAL, files, line, key, words in the message)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], usize, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (
                "username = \"u\"\npassword_file = \"gate.pw\"\npassword_env = \"CAM_PW\"\n",
                &pw,
                15,
                "camera.password_env",
                "not both",
            ),
            ("username = \"u\"\n", &[], 13, "camera.username", "needs"),
            (
                "password_env = \"CAM_PW\"\n",
                &[],
                13,
                "camera.password_env",
                "needs a `username`",
            ),
            (
                "username = \"u\"\npassword_env = \"NOPE\"\n",
                &[],
                14,
                "camera.password_env",
                "\"NOPE\" is not set",
            ),
            (
                "username = \"u\"\npassword_file = \"missing.pw\"\n",
                &[],
                14,
                "camera.password_file",
                "cannot read",
            ),
            (
                "username = \"u\"\npassword_file = \"empty.pw\"\n",
                &[("empty.pw", "\n")],
                14,
                "camera.password_file",
                "empty",
            ),
            (
                "sub_url = \"rtsp://u:hunter2@10.0.0.5/sub\"\n",
                &[],
                13,
                "camera.sub_url",
                "no credentials",
            ),
        ];
        for (extra, files, line, key, words) in cases {
            let text = format!("{REAL}{extra}");
            let (file, got_line, got_key, message) = invalid(load_cams(&text, files));
            assert_eq!(file, "site.toml", "{extra}");
            assert_eq!(
                (got_line, got_key.as_str()),
                (line, key),
                "{extra}: {message}"
            );
            assert!(message.contains(words), "{extra}: {message}");
            assert!(
                !message.contains("secret-in-file") && !message.contains("hunter2"),
                "{message}"
            );
        }
        // A password in the main URL is refused, and not repeated.
        let text = "[[camera]]\nid = \"gate\"\nname = \"Gate\"\nmain_url = \"rtsp://admin:hunter2@10.0.0.5/main\"\n";
        let (_, line, key, message) = invalid(load_cams(text, &[]));
        assert_eq!((line, key.as_str()), (12, "camera.main_url"));
        assert!(!message.contains("hunter2"), "{message}");
        // Unknown keys are refused (e.g. a plain `password`).
        let text = format!("{REAL}password = \"x\"\n");
        let (_, line, _, message) = invalid(load_cams(&text, &[]));
        assert_eq!(line, 13, "{message}");
        // A demo scene takes no credentials.
        let text = "[[camera]]\nid = \"d\"\nname = \"D\"\nscene = \"ball\"\nusername = \"u\"\n";
        let (_, line, key, _) = invalid(load_cams(text, &[]));
        assert_eq!((line, key.as_str()), (13, "camera.username"));
    }

    #[test]
    fn schedule_allows_zone_and_hours() {
        let s = ScheduleConfig {
            id: "office".into(),
            zones: vec!["office".into()],
            from_hour: 7,
            to_hour: 19,
        };
        assert!(s.allows("office", 7));
        assert!(s.allows("office", 18));
        assert!(!s.allows("office", 19));
        assert!(!s.allows("server", 10));
    }
}

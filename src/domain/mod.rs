//! The nouns of Watchdesk. These serde types are also the wire format of the
//! site API v1, so a change here is a change of the contract. No I/O here.

mod door;
mod ids;
mod recording;
mod redact;
mod roles;
pub mod timecode;

pub use door::{
    DoorAction, DoorAlarm, DoorInput, DoorMode, DoorPosition, DoorRefusal, DoorState, DoorStatus,
    FailMode,
};
pub use ids::{
    AccessPointId, CameraId, CardholderId, CommandId, CredentialId, DoorId, MapId, RequestId,
    ViewId,
};
pub use recording::{
    Bookmark, ClockSource, Coverage, EvidenceLock, Gap, Segment, SegmentRef, SegmentState,
    StreamKind,
};
pub use redact::{REDACTED, Redaction};
pub use roles::{Permission, allowed, matrix};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The site-wide event sequence number. Strictly increasing, never reused.
pub type Seq = u64;

/// A point in time. Every time on the wire is UTC (RFC 3339); the UI shows it
/// in the site's time zone and says which zone.
pub type Timestamp = DateTime<Utc>;

/// What a signed-in user may do is decided by their role, on the server.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Supervisor,
    Investigator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Operator,
        Role::Supervisor,
        Role::Investigator,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Supervisor => "supervisor",
            Role::Investigator => "investigator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?} (expected one of viewer, operator, supervisor, investigator, admin)"))
    }
}

/// The site as a whole: its name and the time zone every time is shown in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteInfo {
    pub name: String,
    /// IANA name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// True for the built-in demo site: the UI marks it clearly.
    pub demo: bool,
}

/// One encoded stream a camera offers, with the facts probed from it (a
/// demo camera's are known from its settings). Until a real camera's stream
/// has been probed, `probed` is false and `width`, `height`, `fps` and
/// `fps_exact` are 0 and `codec` is empty: a client then picks the main
/// stream and a 16:9 frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamInfo {
    /// An RTSP URL without credentials.
    pub url: String,
    pub width: u32,
    pub height: u32,
    /// Frames per second, rounded up (12.5 fps is 13), so that pacing by it
    /// never falls behind the stream; see `fps_exact`.
    pub fps: u32,
    /// `h264` or `h265`.
    pub codec: String,
    /// Frames per second as the stream states it (12.5 for 25/2).
    #[serde(default)]
    pub fps_exact: f64,
    /// Whether the facts above come from the stream (or the demo's settings).
    #[serde(default = "yes")]
    pub probed: bool,
}

fn yes() -> bool {
    true
}

impl StreamInfo {
    /// Sets `fps_exact` and `fps` (rounded up) from a frame rate fraction;
    /// 0 when it is unknown (`den` 0 or `num` 0).
    pub fn set_frame_rate(&mut self, num: u32, den: u32) {
        if num == 0 || den == 0 {
            self.fps_exact = 0.0;
            self.fps = 0;
            return;
        }
        self.fps_exact = f64::from(num) / f64::from(den);
        self.fps = num.div_ceil(den);
    }
}

/// What the site knows of a camera's streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// Its streams answer (a demo camera is always online).
    #[default]
    Online,
    /// Not probed yet.
    Probing,
    /// The camera refused the site's credentials (or asked for some).
    Unauthorized,
    /// The camera (or a stream path) cannot be reached or read.
    Unreachable,
    /// A stream in a codec other than H.264 or H.265.
    Unsupported,
    /// A demo camera whose scene the site is still encoding (first run).
    Preparing,
}

impl CameraState {
    /// The state a failure to reach a camera leaves, from its words.
    pub fn from_failure(reason: &str) -> CameraState {
        if reason.to_ascii_lowercase().contains("unauthorized") {
            CameraState::Unauthorized
        } else {
            CameraState::Unreachable
        }
    }

    /// Whether a client should try to play it.
    pub fn playable(self) -> bool {
        matches!(self, CameraState::Online | CameraState::Probing)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Camera {
    pub id: CameraId,
    pub name: String,
    /// Full resolution, for big tiles and single-camera views.
    pub main: StreamInfo,
    /// Low resolution, for grids. A camera with one stream gives the main
    /// stream here too (the same URL): see [`Camera::has_sub_stream`].
    pub sub: StreamInfo,
    /// The map this camera is placed on, if any.
    pub map: Option<MapId>,
    #[serde(default)]
    pub state: CameraState,
    /// The camera's streams need credentials of their own (false once the
    /// site relays video: the relay takes the session's).
    #[serde(default)]
    pub auth_required: bool,
    /// Why it is not online, in a few words (the site's last failure to
    /// reach it), when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Camera {
    /// Whether the camera has a sub stream of its own.
    pub fn has_sub_stream(&self) -> bool {
        self.sub.url != self.main.url
    }
}

/// A camera's RTSP credentials, as `GET /api/v1/cameras/{id}/credentials`
/// answers them; never in a URL, a log or Debug output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CameraCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for CameraCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Door {
    pub id: DoorId,
    pub name: String,
    /// Lockdown groups doors by zone.
    pub zone: String,
    pub map: Option<MapId>,
    pub fail_mode: FailMode,
    /// How long a momentary access (a grant) keeps the door unlocked.
    pub access_time_ms: u64,
    /// An open door past this long raises a held-open alarm.
    pub held_open_threshold_ms: u64,
    /// Cameras that see this door, most useful first.
    pub cameras: Vec<CameraId>,
}

/// A door and its state as the site knows it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoorWithStatus {
    #[serde(flatten)]
    pub door: Door,
    pub status: DoorStatus,
    /// When its status last changed, by the site's clock; absent when it has
    /// not changed since the site started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub changed: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

/// A reader at a door where credentials are presented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessPoint {
    pub id: AccessPointId,
    pub name: String,
    pub door: DoorId,
    pub direction: Direction,
}

/// Where a door or camera sits on a floor plan, in plan pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Placement {
    pub id: String,
    pub x: f32,
    pub y: f32,
    /// A camera's viewing direction, degrees clockwise from the plan's up
    /// (0 = up, 90 = right); none: the map draws no field of view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction_deg: Option<f32>,
    /// A camera's horizontal field of view in degrees (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov_deg: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FloorMap {
    pub id: MapId,
    pub name: String,
    /// File name of the plan image inside the site's maps folder; served at
    /// `/api/v1/maps/{id}/image`.
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub doors: Vec<Placement>,
    pub cameras: Vec<Placement>,
}

/// The body of `PUT /api/v1/maps/{id}/placements`: the map's whole placement
/// list, replacing what it had.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MapPlacements {
    pub doors: Vec<Placement>,
    pub cameras: Vec<Placement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    Active,
    Disabled,
}

/// A badge (card number) held by a cardholder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Credential {
    pub id: CredentialId,
    pub state: CredentialState,
    /// After this the card is expired and refused.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cardholder {
    pub id: CardholderId,
    pub name: String,
    pub department: String,
    /// Whether a photo is served at `/api/v1/cardholders/{id}/photo`.
    pub has_photo: bool,
    pub credentials: Vec<Credential>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    UnknownCard,
    CardDisabled,
    CardExpired,
    /// The cardholder's schedule does not cover this door's zone at this hour.
    OutsideSchedule,
    LockedDown,
}

impl DenyReason {
    pub fn label(self) -> &'static str {
        match self {
            DenyReason::UnknownCard => "unknown card",
            DenyReason::CardDisabled => "card disabled",
            DenyReason::CardExpired => "card expired",
            DenyReason::OutsideSchedule => "outside schedule",
            DenyReason::LockedDown => "door locked down",
        }
    }
}

/// A person at a door asks an operator for access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessRequest {
    pub id: RequestId,
    pub door: DoorId,
    pub access_point: Option<AccessPointId>,
    /// Known when a card was presented.
    pub cardholder: Option<CardholderId>,
    pub credential: Option<CredentialId>,
    /// Why it came to an operator: `intercom`, `unknown card`, `visitor`.
    pub reason: String,
    /// What the person said their name was (visitors, intercom).
    pub visitor_name: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    /// Unanswered by then, it is denied.
    #[schema(value_type = String, format = DateTime)]
    pub expires: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    Granted,
    Denied,
    Expired,
}

/// Every event the site emits, in one log, one sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    #[schema(value_type = u64)]
    pub seq: Seq,
    #[schema(value_type = String, format = DateTime)]
    pub time: Timestamp,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Declares [`EventKind`] from one list: each variant with its wire name,
/// which serde writes as the `type` field, [`EventKind::type_name`] returns and
/// [`EventKind::TYPES`] lists (the event search's `type` filter, the OpenAPI
/// document). A name is written once, here.
macro_rules! event_kinds {
    ($($wire:tt => $(#[$doc:meta])* $variant:ident { $($body:tt)* },)*) => {
        /// The body of an event. On the wire the tag is the `type` field, e.g.
        /// `{"type":"door.state_changed", ...}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(tag = "type")]
        pub enum EventKind {
            $($(#[$doc])* #[serde(rename = $wire)] $variant { $($body)* },)*
        }

        impl EventKind {
            /// Every event type's wire name, in declaration order.
            pub const TYPES: &'static [&'static str] = &[$($wire),*];

            /// The wire name of this kind, as used in the `type` field and in
            /// the event search's `type` filter.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(EventKind::$variant { .. } => $wire,)*
                }
            }
        }
    };
}

event_kinds! {
    "door.state_changed" => DoorStateChanged { door: DoorId, status: DoorStatus },
    "door.forced_open" => DoorForcedOpen { door: DoorId },
    "door.held_open" => DoorHeldOpen { door: DoorId },
    "access.granted" => AccessGranted {
        door: DoorId,
        access_point: Option<AccessPointId>,
        cardholder: Option<CardholderId>,
        credential: Option<CredentialId>,
    },
    "access.denied" => AccessDenied {
        door: DoorId,
        access_point: Option<AccessPointId>,
        cardholder: Option<CardholderId>,
        credential: Option<CredentialId>,
        reason: DenyReason,
    },
    "access_request.opened" => AccessRequestOpened { request: AccessRequest },
    "access_request.resolved" => AccessRequestResolved {
        request: RequestId,
        door: DoorId,
        outcome: RequestOutcome,
        /// Who answered; none when it expired.
        by: Option<String>,
        reason: Option<String>,
    },
    "command.completed" => CommandCompleted {
        command: CommandId,
        door: DoorId,
        action: DoorAction,
        by: String,
    },
    "command.failed" => CommandFailed {
        command: CommandId,
        door: DoorId,
        action: DoorAction,
        by: String,
        reason: String,
    },
    "credential.changed" => CredentialChanged {
        credential: CredentialId,
        cardholder: CardholderId,
        state: CredentialState,
        by: String,
    },
    "cardholder.changed" =>
        /// A cardholder was created or edited (name, department, schedule,
        /// credentials); fetch it again for what it is now.
        CardholderChanged { cardholder: CardholderId, by: String },
    "test.flood" =>
        /// Synthetic traffic for tests and benchmarks (fault injection only).
        TestFlood { n: u64 },
    "view.published" =>
        /// A shared view was published (created or replaced).
        ViewPublished { view: ViewId, name: String },
    "view.removed" =>
        /// A shared view was deleted.
        ViewRemoved { view: ViewId },
    "map.changed" =>
        /// A floor map's placements were edited; read the snapshot again for
        /// where things are now.
        MapChanged { map: MapId, by: String },
    "camera.offline" =>
        /// The site lost a camera stream (or never reached it); it keeps
        /// trying. Once per outage.
        CameraOffline { camera: CameraId, stream: String, reason: String },
    "camera.online" =>
        /// A camera stream the site had lost flows again.
        CameraOnline { camera: CameraId, stream: String },
    "storage.low" =>
        /// The recordings disk's free space fell under the site's threshold
        /// (once, until it is above again).
        StorageLow { free_bytes: u64, total_bytes: u64 },
    "bookmark.added" =>
        /// Someone bookmarked a moment of the recordings.
        BookmarkAdded { bookmark: String, title: String, by: String },
}

impl EventKind {
    /// The door this event is about, if any.
    pub fn door(&self) -> Option<&DoorId> {
        match self {
            EventKind::DoorStateChanged { door, .. }
            | EventKind::DoorForcedOpen { door }
            | EventKind::DoorHeldOpen { door }
            | EventKind::AccessGranted { door, .. }
            | EventKind::AccessDenied { door, .. }
            | EventKind::AccessRequestResolved { door, .. }
            | EventKind::CommandCompleted { door, .. }
            | EventKind::CommandFailed { door, .. } => Some(door),
            EventKind::AccessRequestOpened { request } => Some(&request.door),
            EventKind::CredentialChanged { .. }
            | EventKind::CardholderChanged { .. }
            | EventKind::TestFlood { .. }
            | EventKind::ViewPublished { .. }
            | EventKind::ViewRemoved { .. }
            | EventKind::MapChanged { .. }
            | EventKind::CameraOffline { .. }
            | EventKind::CameraOnline { .. }
            | EventKind::StorageLow { .. }
            | EventKind::BookmarkAdded { .. } => None,
        }
    }

    /// The cardholder this event is about, if any.
    pub fn cardholder(&self) -> Option<&CardholderId> {
        match self {
            EventKind::AccessGranted { cardholder, .. }
            | EventKind::AccessDenied { cardholder, .. } => cardholder.as_ref(),
            EventKind::AccessRequestOpened { request } => request.cardholder.as_ref(),
            EventKind::CredentialChanged { cardholder, .. }
            | EventKind::CardholderChanged { cardholder, .. } => Some(cardholder),
            _ => None,
        }
    }

    /// The credential this event is about, if any.
    pub fn credential(&self) -> Option<&CredentialId> {
        match self {
            EventKind::AccessGranted { credential, .. }
            | EventKind::AccessDenied { credential, .. } => credential.as_ref(),
            EventKind::AccessRequestOpened { request } => request.credential.as_ref(),
            EventKind::CredentialChanged { credential, .. } => Some(credential),
            _ => None,
        }
    }
}

// ---- requests and answers of the site API -------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Session {
    pub token: String,
    pub username: String,
    pub role: Role,
    #[schema(value_type = String, format = DateTime)]
    pub expires: Timestamp,
}

/// The current state of the site, valid at event `seq`: a client that then
/// streams from `seq` sees every later change exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Snapshot {
    #[schema(value_type = u64)]
    pub seq: Seq,
    pub site: SiteInfo,
    pub cameras: Vec<Camera>,
    pub doors: Vec<DoorWithStatus>,
    pub access_points: Vec<AccessPoint>,
    pub maps: Vec<FloorMap>,
    pub open_requests: Vec<AccessRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoorCommand {
    pub action: DoorAction,
    /// The same key sent again answers with the first command, never
    /// actuates twice.
    pub idempotency_key: String,
}

/// A fresh idempotency key for a [`DoorCommand`] (a random UUID v4): one
/// per operator action, sent again unchanged on every retry of it.
pub fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    Pending,
    Completed,
    Failed,
}

/// Answer to a door command (202) and to `GET /commands/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommandInfo {
    pub id: CommandId,
    pub door: DoorId,
    pub action: DoorAction,
    pub state: CommandState,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CredentialUpdate {
    pub state: CredentialState,
}

/// A page of results, newest first. Ask for the next with `before=next_before`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_before: Option<u64>,
}

/// One line of the audit trail: who did what to what, when, from where, and
/// how it ended. Each entry carries the hash of the one before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: u64,
    #[schema(value_type = String, format = DateTime)]
    pub time: Timestamp,
    pub user: String,
    pub role: Option<Role>,
    pub action: String,
    pub target: String,
    pub source: String,
    pub outcome: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditVerification {
    pub ok: bool,
    pub entries: u64,
    /// The first entry whose hash does not match, when not ok.
    pub first_bad: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteTime {
    #[schema(value_type = String, format = DateTime)]
    pub now: Timestamp,
    pub time_zone: String,
}

/// The body of every 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiError {
    /// One of `unauthenticated`, `permission_denied`, `not_found`,
    /// `unavailable`, `invalid_input`, `conflict`, `internal`.
    pub kind: String,
    pub message: String,
}

/// A time range, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeRange {
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
}

impl TimeRange {
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && t <= self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_wire_format_has_type_tag_and_round_trips() {
        let e = Event {
            seq: 7,
            time: "2026-11-22T10:00:00Z".parse().unwrap(),
            kind: EventKind::DoorForcedOpen {
                door: DoorId::new("d1"),
            },
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "door.forced_open");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["door"], "d1");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn type_name_matches_serde_tag() {
        let kinds = vec![
            EventKind::DoorHeldOpen {
                door: DoorId::new("d"),
            },
            EventKind::TestFlood { n: 1 },
            EventKind::CommandFailed {
                command: CommandId::new("c"),
                door: DoorId::new("d"),
                action: DoorAction::Lock,
                by: "operator".into(),
                reason: "offline".into(),
            },
        ];
        for k in kinds {
            let v = serde_json::to_value(&k).unwrap();
            assert_eq!(v["type"], k.type_name());
        }
    }

    #[test]
    fn event_types_are_listed_once_each() {
        let mut seen = std::collections::BTreeSet::new();
        for t in EventKind::TYPES {
            assert!(seen.insert(*t), "{t} listed twice");
        }
        assert!(EventKind::TYPES.contains(&EventKind::TestFlood { n: 0 }.type_name()));
        assert!(
            EventKind::TYPES.contains(
                &EventKind::DoorStateChanged {
                    door: DoorId::new("d"),
                    status: DoorStatus::locked_closed(),
                }
                .type_name()
            )
        );
    }

    #[test]
    fn role_parses_and_rejects() {
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().unwrap_err().contains("unknown role"));
    }
}

/// What kind of failure an error is, so callers (and the UI) react to the
/// kind: a sign-in prompt, a reconnecting banner, a disabled control, a toast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Unauthenticated,
    PermissionDenied,
    NotFound,
    Unavailable,
    InvalidInput,
    Conflict,
    /// Too many requests (sign-in throttling): retry after a wait.
    RateLimited,
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Internal => "internal",
        }
    }
}

// ---- shared views -------------------------------------------------------

/// The layouts a view may have, by wire name, with their tile counts (the
/// client's `ViewLayout` labels, `×` written `x`).
pub const VIEW_LAYOUTS: [(&str, usize); 7] = [
    ("1x1", 1),
    ("2x2", 4),
    ("3x3", 9),
    ("4x4", 16),
    ("1+5", 6),
    ("1+7", 8),
    ("2+8", 10),
];
/// At most this many shared views on a site.
pub const MAX_SHARED_VIEWS: usize = 200;
/// A view's name: 1 to this many characters (trimmed).
pub const MAX_VIEW_NAME: usize = 64;
/// At most this many tiles in a view.
pub const MAX_VIEW_TILES: usize = 25;

/// A camera view shared on the site: a supervisor publishes it, every
/// operator can load it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SharedView {
    pub id: ViewId,
    pub name: String,
    /// One of [`VIEW_LAYOUTS`]' names.
    pub layout: String,
    /// The camera of each tile in order, none for a paged tile.
    pub cameras: Vec<Option<CameraId>>,
    /// Who published it last.
    pub by: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// The body of `PUT /views/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedViewBody {
    pub name: String,
    pub layout: String,
    pub cameras: Vec<Option<CameraId>>,
}

impl SharedViewBody {
    /// What is wrong with it (camera ids aside, which the site checks), or
    /// the trimmed name.
    pub fn check(&self) -> Result<String, String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_VIEW_NAME {
            return Err(format!("name: 1 to {MAX_VIEW_NAME} characters"));
        }
        let Some((_, tiles)) = VIEW_LAYOUTS.iter().find(|(l, _)| *l == self.layout) else {
            return Err(format!("layout: one of {:?}", VIEW_LAYOUTS.map(|l| l.0)));
        };
        if self.cameras.len() > (*tiles).min(MAX_VIEW_TILES) {
            return Err(format!("cameras: at most {tiles} for {}", self.layout));
        }
        Ok(name.to_owned())
    }
}

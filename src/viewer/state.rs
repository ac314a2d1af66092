//! `AppState`: what the client knows, as plain data. It changes only through
//! [`AppState::apply`]; it does no I/O and never reads the clock (time comes
//! in with [`AppEvent::Tick`]). The UI reads it; table tests drive it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::domain::{
    self, AccessRequest, Camera, CameraId, CardholderId, CommandId, CommandInfo, CommandState,
    Door, DoorAction, DoorId, DoorState, DoorStatus, ErrorKind, Event, EventKind, Permission,
    RequestId, Role, Seq, Session, SiteInfo, SiteTime, Snapshot, Timestamp,
};

/// How many live events the list keeps.
pub const EVENT_LIST_LEN: usize = 500;
/// A command the site accepted but did not settle within this long has
/// failed, as far as the operator is told.
pub const COMMAND_DEADLINE_MS: i64 = 10_000;
/// The text of that failure.
pub const NO_ANSWER: &str = "no answer from the site";
/// How long a notice stays up.
pub const NOTICE_MS: i64 = 8_000;
/// How many notices show at once.
const NOTICE_LEN: usize = 4;
/// How many command outcomes that arrived before their acceptance are kept.
const EARLY_OUTCOME_LEN: usize = 256;

/// Everything that changes the client's state.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// The current time (the client's clock). Expires deadlines.
    Tick {
        now: Timestamp,
    },
    /// Something is being prepared, e.g. the demo site starting.
    Starting {
        message: String,
    },
    /// The site could not be set up at all (e.g. the demo site failed).
    StartFailed {
        message: String,
    },
    /// A sign-in is under way.
    SignInStarted {
        username: String,
    },
    SignedIn(Session),
    SignInFailed {
        kind: ErrorKind,
        message: String,
    },
    /// The site's state at a sequence number: replaces what was known.
    Snapshot(Box<Snapshot>),
    /// One live event.
    Live(Event),
    /// The live stream is connected.
    LinkUp,
    /// The live stream broke; the next try is in `retry_in_ms`.
    LinkDown {
        reason: String,
        retry_in_ms: u64,
    },
    /// The site no longer accepts the session.
    SessionEnded {
        message: String,
    },
    SignedOut,
    /// The operator asked for a door command; `key` is its idempotency key.
    CommandSent {
        door: DoorId,
        action: DoorAction,
        key: String,
    },
    /// The site accepted the command with this key.
    CommandAccepted {
        key: String,
        info: CommandInfo,
    },
    /// The site refused the command, or it could not be delivered.
    CommandRejected {
        key: String,
        kind: ErrorKind,
        message: String,
    },
    /// An access decision the site refused or that could not be delivered.
    DecisionFailed {
        request: RequestId,
        kind: ErrorKind,
        message: String,
    },
    /// Names of cardholders, for the event list.
    Cardholders(Vec<(CardholderId, String)>),
    /// The site's clock, read at local time `local`.
    SiteClock {
        site: SiteTime,
        local: Timestamp,
    },
    /// Something for the operator to know, e.g. a failed call.
    Notice {
        level: NoticeLevel,
        text: String,
    },
    /// The site's cameras, read again (their stream addresses may have
    /// changed, e.g. once the demo site's cameras are up).
    Cameras(Vec<Camera>),
    /// A camera's still picture, decoded off the UI thread: a tile shows it
    /// while its stream connects.
    CameraStill {
        camera: CameraId,
        image: Arc<StillImage>,
    },
}

/// A decoded picture (tightly packed RGBA, `width * 4` bytes a row).
#[derive(Clone, PartialEq, Eq)]
pub struct StillImage {
    pub width: u32,
    pub height: u32,
    pub rgba: bytes::Bytes,
}

impl StillImage {
    /// Whether the pixel buffer matches the size.
    pub fn is_consistent(&self) -> bool {
        let want = u64::from(self.width) * u64::from(self.height) * 4;
        self.width > 0 && self.height > 0 && want == self.rgba.len() as u64
    }
}

impl std::fmt::Debug for StillImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the pixels.
        f.debug_struct("StillImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.rgba.len())
            .finish()
    }
}

/// The stage of a door command, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandPhase {
    /// Sent to the site, no answer yet.
    Sending,
    /// Accepted by the site, waiting for the door.
    Pending,
    /// The door did it.
    Confirmed,
    /// It did not happen, and why.
    Failed(String),
}

/// The last command sent to a door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandView {
    pub action: DoorAction,
    /// The idempotency key: our own name for it until the site names it.
    pub key: String,
    /// The site's id, once accepted.
    pub id: Option<CommandId>,
    pub phase: CommandPhase,
    pub sent_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
}

/// A door, its last known status, and its last command.
#[derive(Debug, Clone, PartialEq)]
pub struct DoorView {
    pub door: Door,
    pub status: DoorStatus,
    pub last_command: Option<CommandView>,
}

/// The live link to the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not connected and not trying (signed out, or starting).
    Idle,
    Up,
    /// Lost; `attempt` counts the failed tries since it was last up.
    Down {
        attempt: u32,
        reason: String,
        retry_in_ms: u64,
    },
}

/// Where sign-in stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInPhase {
    Idle,
    InProgress { username: String },
    Failed { message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Error,
}

/// A short message for the operator, shown for [`NOTICE_MS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: NoticeLevel,
    pub text: String,
    pub at: Timestamp,
}

/// The outcome of a command, as reported by its event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Completed,
    Failed(String),
}

/// What the client knows. See the module doc.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The client's clock at the last tick.
    pub now: Timestamp,
    /// Site clock minus client clock, when measured.
    pub clock_offset_ms: Option<i64>,
    /// Set while something is being prepared, e.g. the demo site.
    pub starting: Option<String>,
    /// Set when the site could not be set up.
    pub fatal: Option<String>,
    pub sign_in: SignInPhase,
    pub session: Option<Session>,
    /// The site, from the last snapshot (kept after sign-out for its name).
    pub site: Option<SiteInfo>,
    /// Whether this is the built-in demo site, known before any snapshot.
    pub demo: bool,
    /// The address of the site, for the sign-in form.
    pub site_url: String,
    pub doors: Vec<DoorView>,
    /// The site's cameras, in the site's order.
    pub cameras: Vec<Camera>,
    /// The still picture of each camera that has one.
    pub stills: HashMap<CameraId, Arc<StillImage>>,
    pub open_requests: Vec<AccessRequest>,
    /// Newest first, at most [`EVENT_LIST_LEN`].
    pub events: VecDeque<Event>,
    /// The last event sequence number applied (the snapshot's, then the
    /// stream's).
    pub last_seq: Option<Seq>,
    pub link: Link,
    pub cardholder_names: HashMap<CardholderId, String>,
    /// Newest last.
    pub notices: Vec<Notice>,
    early_outcomes: VecDeque<(CommandId, Outcome)>,
}

impl AppState {
    /// An empty state at time `now`.
    pub fn new(now: Timestamp, site_url: impl Into<String>, demo: bool) -> Self {
        Self {
            now,
            clock_offset_ms: None,
            starting: None,
            fatal: None,
            sign_in: SignInPhase::Idle,
            session: None,
            site: None,
            demo,
            site_url: site_url.into(),
            doors: Vec::new(),
            cameras: Vec::new(),
            stills: HashMap::new(),
            open_requests: Vec::new(),
            events: VecDeque::new(),
            last_seq: None,
            link: Link::Idle,
            cardholder_names: HashMap::new(),
            notices: Vec::new(),
            early_outcomes: VecDeque::new(),
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, event: AppEvent) {
        match event {
            AppEvent::Tick { now } => self.tick(now),
            AppEvent::Starting { message } => self.starting = Some(message),
            AppEvent::StartFailed { message } => {
                self.starting = None;
                self.fatal = Some(message);
            }
            AppEvent::SignInStarted { username } => {
                self.starting = None;
                self.sign_in = SignInPhase::InProgress { username };
            }
            AppEvent::SignedIn(session) => {
                self.sign_in = SignInPhase::Idle;
                self.session = Some(session);
            }
            AppEvent::SignInFailed { kind, message } => {
                self.starting = None;
                self.session = None;
                self.sign_in = SignInPhase::Failed {
                    message: sign_in_message(kind, &message),
                };
            }
            AppEvent::Snapshot(snapshot) => self.apply_snapshot(*snapshot),
            AppEvent::Live(event) => self.apply_live(event),
            AppEvent::LinkUp => self.link = Link::Up,
            AppEvent::LinkDown {
                reason,
                retry_in_ms,
            } => {
                let attempt = match &self.link {
                    Link::Down { attempt, .. } => attempt.saturating_add(1),
                    Link::Up | Link::Idle => 1,
                };
                self.link = Link::Down {
                    attempt,
                    reason,
                    retry_in_ms,
                };
            }
            AppEvent::SessionEnded { message } => {
                self.clear_session();
                self.sign_in = SignInPhase::Failed { message };
            }
            AppEvent::SignedOut => {
                self.clear_session();
                self.sign_in = SignInPhase::Idle;
            }
            AppEvent::CommandSent { door, action, key } => {
                let now = self.now;
                if let Some(d) = self.door_mut(&door) {
                    d.last_command = Some(CommandView {
                        action,
                        key,
                        id: None,
                        phase: CommandPhase::Sending,
                        sent_at: now,
                        accepted_at: None,
                    });
                }
            }
            AppEvent::CommandAccepted { key, info } => self.command_accepted(&key, info),
            AppEvent::CommandRejected { key, kind, message } => {
                let text = rejection_message(kind, &message);
                if let Some(cmd) = self.command_by_key_mut(&key) {
                    cmd.phase = CommandPhase::Failed(text);
                }
            }
            AppEvent::DecisionFailed {
                request,
                kind,
                message,
            } => {
                let door = self
                    .open_requests
                    .iter()
                    .find(|r| r.id == request)
                    .map(|r| self.door_name(&r.door).to_owned());
                let what = door.map_or_else(
                    || "the access request".to_owned(),
                    |d| format!("the access request at {d}"),
                );
                let text = format!(
                    "Could not answer {what}: {}",
                    rejection_message(kind, &message)
                );
                self.notice(NoticeLevel::Error, text);
            }
            AppEvent::Cardholders(names) => self.cardholder_names.extend(names),
            AppEvent::SiteClock { site, local } => {
                self.clock_offset_ms = Some((site.now - local).num_milliseconds());
            }
            AppEvent::Notice { level, text } => self.notice(level, text),
            AppEvent::Cameras(cameras) => {
                if self.session.is_some() {
                    self.set_cameras(cameras);
                }
            }
            AppEvent::CameraStill { camera, image } => {
                if image.is_consistent() && self.camera(&camera).is_some() {
                    self.stills.insert(camera, image);
                }
            }
        }
    }

    fn tick(&mut self, now: Timestamp) {
        self.now = now;
        for d in &mut self.doors {
            if let Some(cmd) = &mut d.last_command
                && cmd.phase == CommandPhase::Pending
                && let Some(accepted) = cmd.accepted_at
                && (now - accepted).num_milliseconds() >= COMMAND_DEADLINE_MS
            {
                cmd.phase = CommandPhase::Failed(NO_ANSWER.to_owned());
            }
        }
        self.notices
            .retain(|n| (now - n.at).num_milliseconds() < NOTICE_MS);
    }

    /// The next moment a tick would change something (a command deadline or
    /// a notice going away), so the shell can wake up then and not before.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let commands = self.doors.iter().filter_map(|d| {
            let cmd = d.last_command.as_ref()?;
            if cmd.phase != CommandPhase::Pending {
                return None;
            }
            Some(cmd.accepted_at? + chrono::Duration::milliseconds(COMMAND_DEADLINE_MS))
        });
        let notices = self
            .notices
            .iter()
            .map(|n| n.at + chrono::Duration::milliseconds(NOTICE_MS));
        commands.chain(notices).min()
    }

    fn clear_session(&mut self) {
        self.session = None;
        self.doors.clear();
        self.cameras.clear();
        self.stills.clear();
        self.open_requests.clear();
        self.events.clear();
        self.last_seq = None;
        self.link = Link::Idle;
        self.cardholder_names.clear();
        self.early_outcomes.clear();
    }

    fn apply_snapshot(&mut self, snapshot: Snapshot) {
        let mut old: HashMap<DoorId, Option<CommandView>> = self
            .doors
            .drain(..)
            .map(|d| (d.door.id, d.last_command))
            .collect();
        self.doors = snapshot
            .doors
            .into_iter()
            .map(|d| DoorView {
                last_command: old.remove(&d.door.id).flatten(),
                door: d.door,
                status: d.status,
            })
            .collect();
        self.set_cameras(snapshot.cameras);
        self.demo = snapshot.site.demo;
        self.site = Some(snapshot.site);
        self.open_requests = snapshot.open_requests;
        // Events after the snapshot will come again on the stream.
        self.events.retain(|e| e.seq <= snapshot.seq);
        self.last_seq = Some(snapshot.seq);
        // A fresh snapshot is the truth now.
        self.link = Link::Up;
        self.starting = None;
    }

    fn set_cameras(&mut self, cameras: Vec<Camera>) {
        self.cameras = cameras;
        let cameras = &self.cameras;
        self.stills
            .retain(|id, _| cameras.iter().any(|c| &c.id == id));
    }

    fn apply_live(&mut self, event: Event) {
        if self.last_seq.is_some_and(|last| event.seq <= last) {
            return; // seen already
        }
        self.last_seq = Some(event.seq);
        match &event.kind {
            EventKind::DoorStateChanged { door, status } => {
                let status = *status;
                if let Some(d) = self.door_mut(door) {
                    d.status = status;
                }
            }
            EventKind::CommandCompleted { command, .. } => {
                self.command_outcome(command, Outcome::Completed);
            }
            EventKind::CommandFailed {
                command, reason, ..
            } => {
                self.command_outcome(command, Outcome::Failed(reason.clone()));
            }
            EventKind::AccessRequestOpened { request }
                if !self.open_requests.iter().any(|r| r.id == request.id) =>
            {
                self.open_requests.push(request.clone());
            }
            EventKind::AccessRequestResolved { request, .. } => {
                self.open_requests.retain(|r| &r.id != request);
            }
            _ => {}
        }
        self.events.push_front(event);
        self.events.truncate(EVENT_LIST_LEN);
    }

    fn command_accepted(&mut self, key: &str, info: CommandInfo) {
        let now = self.now;
        let early = self
            .early_outcomes
            .iter()
            .position(|(id, _)| *id == info.id)
            .and_then(|i| self.early_outcomes.remove(i))
            .map(|(_, outcome)| outcome);
        let Some(cmd) = self.command_by_key_mut(key) else {
            return; // superseded by a newer command to the door
        };
        cmd.id = Some(info.id);
        cmd.accepted_at = Some(now);
        cmd.phase = match (early, info.state) {
            (Some(Outcome::Completed), _) | (None, CommandState::Completed) => {
                CommandPhase::Confirmed
            }
            (Some(Outcome::Failed(reason)), _) => CommandPhase::Failed(reason),
            (None, CommandState::Failed) => {
                CommandPhase::Failed(info.reason.unwrap_or_else(|| "the door refused".into()))
            }
            (None, CommandState::Pending) => CommandPhase::Pending,
        };
    }

    fn command_outcome(&mut self, id: &CommandId, outcome: Outcome) {
        let cmd = self
            .doors
            .iter_mut()
            .filter_map(|d| d.last_command.as_mut())
            .find(|c| c.id.as_ref() == Some(id));
        match cmd {
            // The site's word wins, even after our own deadline passed.
            Some(cmd) => {
                cmd.phase = match outcome {
                    Outcome::Completed => CommandPhase::Confirmed,
                    Outcome::Failed(reason) => CommandPhase::Failed(reason),
                };
            }
            None => {
                // Perhaps ours, with the 202 still on its way.
                self.early_outcomes.push_back((id.clone(), outcome));
                if self.early_outcomes.len() > EARLY_OUTCOME_LEN {
                    self.early_outcomes.pop_front();
                }
            }
        }
    }

    fn notice(&mut self, level: NoticeLevel, text: String) {
        self.notices.push(Notice {
            level,
            text,
            at: self.now,
        });
        if self.notices.len() > NOTICE_LEN {
            self.notices.remove(0);
        }
    }

    fn door_mut(&mut self, id: &DoorId) -> Option<&mut DoorView> {
        self.doors.iter_mut().find(|d| &d.door.id == id)
    }

    fn command_by_key_mut(&mut self, key: &str) -> Option<&mut CommandView> {
        self.doors
            .iter_mut()
            .filter_map(|d| d.last_command.as_mut())
            .find(|c| c.key == key)
    }

    // ---- questions the UI asks ---------------------------------------------

    /// Whether the live link is up.
    pub fn link_up(&self) -> bool {
        self.link == Link::Up
    }

    /// The signed-in user's role.
    pub fn role(&self) -> Option<Role> {
        self.session.as_ref().map(|s| s.role)
    }

    /// A door by id.
    pub fn door(&self, id: &DoorId) -> Option<&DoorView> {
        self.doors.iter().find(|d| &d.door.id == id)
    }

    /// What a door shows: UNKNOWN while the link is down, never a cached lock.
    pub fn door_state(&self, door: &DoorView) -> DoorState {
        door.status.state(self.link_up())
    }

    /// A camera by id.
    pub fn camera(&self, id: &CameraId) -> Option<&Camera> {
        self.cameras.iter().find(|c| &c.id == id)
    }

    /// A door's name, or its id when it is not known.
    pub fn door_name<'a>(&'a self, id: &'a DoorId) -> &'a str {
        self.door(id).map_or(id.as_str(), |d| d.door.name.as_str())
    }

    /// A cardholder's name, when known.
    pub fn cardholder_name(&self, id: &CardholderId) -> Option<&str> {
        self.cardholder_names.get(id).map(String::as_str)
    }

    /// The site's time now, as well as the client can tell.
    pub fn site_now(&self) -> Timestamp {
        self.now + chrono::Duration::milliseconds(self.clock_offset_ms.unwrap_or(0))
    }

    /// The site's time zone (UTC when unknown or unreadable).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.site
            .as_ref()
            .and_then(|s| s.time_zone.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }

    /// Why `action` cannot be sent now, or None when it can.
    pub fn door_action_blocked(&self, action: DoorAction) -> Option<String> {
        let role = match self.role() {
            None => return Some("not signed in".into()),
            Some(role) => role,
        };
        if !may_command_door(role, action) {
            return Some(
                if matches!(action, DoorAction::Lockdown | DoorAction::ReleaseLockdown) {
                    format!(
                        "only a supervisor or admin may {}; you are {role}",
                        action.label()
                    )
                } else {
                    format!("your role ({role}) may not command doors")
                },
            );
        }
        if !self.link_up() {
            return Some("the link to the site is down; door states are unknown".into());
        }
        None
    }

    /// Why access requests cannot be answered now, or None when they can.
    pub fn decision_blocked(&self) -> Option<String> {
        let role = match self.role() {
            None => return Some("not signed in".into()),
            Some(role) => role,
        };
        if !may_decide_requests(role) {
            return Some(format!("your role ({role}) may not answer access requests"));
        }
        if !self.link_up() {
            return Some("the link to the site is down".into());
        }
        None
    }
}

/// Whether `role` may send `action` to a door (the site decides; the client
/// mirrors it to disable what would be refused).
pub fn may_command_door(role: Role, action: DoorAction) -> bool {
    domain::allowed(role, Permission::for_door_action(action))
}

/// Whether `role` may grant or deny access requests.
pub fn may_decide_requests(role: Role) -> bool {
    domain::allowed(role, Permission::AnswerRequests)
}

fn sign_in_message(kind: ErrorKind, message: &str) -> String {
    match kind {
        ErrorKind::Unauthenticated => "Wrong user name or password".into(),
        ErrorKind::Unavailable => format!("Cannot reach the site: {message}"),
        _ => message.to_owned(),
    }
}

fn rejection_message(kind: ErrorKind, message: &str) -> String {
    match kind {
        ErrorKind::PermissionDenied => format!("not allowed: {message}"),
        ErrorKind::Unavailable => format!("not delivered: {message}"),
        ErrorKind::Unauthenticated => "the session has ended; sign in again".into(),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DoorMode, DoorWithStatus, FailMode, RequestOutcome};

    fn t(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap()
    }

    fn door(id: &str, name: &str) -> DoorWithStatus {
        DoorWithStatus {
            door: Door {
                id: DoorId::new(id),
                name: name.into(),
                zone: "office".into(),
                map: None,
                fail_mode: FailMode::FailSecure,
                access_time_ms: 5000,
                held_open_threshold_ms: 20000,
                cameras: vec![],
            },
            status: DoorStatus::locked_closed(),
        }
    }

    fn request(id: &str, door: &str) -> AccessRequest {
        AccessRequest {
            id: RequestId::new(id),
            door: DoorId::new(door),
            access_point: None,
            cardholder: None,
            credential: None,
            reason: "visitor".into(),
            visitor_name: Some("Ada".into()),
            created: t(0),
            expires: t(60),
        }
    }

    fn snapshot(seq: Seq) -> Snapshot {
        Snapshot {
            seq,
            site: SiteInfo {
                name: "Test site".into(),
                time_zone: "Europe/Berlin".into(),
                demo: true,
            },
            cameras: vec![],
            doors: vec![door("d1", "Server room"), door("d2", "Lobby")],
            access_points: vec![],
            maps: vec![],
            open_requests: vec![request("r1", "d1")],
        }
    }

    fn session(role: Role) -> Session {
        Session {
            token: "tok".into(),
            username: role.as_str().into(),
            role,
            expires: t(3600),
        }
    }

    fn live(seq: Seq, kind: EventKind) -> AppEvent {
        AppEvent::Live(Event {
            seq,
            time: t(seq as i64),
            kind,
        })
    }

    fn unlocked() -> DoorStatus {
        DoorStatus {
            mode: DoorMode::Unlocked,
            ..DoorStatus::locked_closed()
        }
    }

    fn info(id: &str, state: CommandState) -> CommandInfo {
        CommandInfo {
            id: CommandId::new(id),
            door: DoorId::new("d1"),
            action: DoorAction::Unlock,
            state,
            reason: None,
        }
    }

    fn sent(key: &str) -> AppEvent {
        AppEvent::CommandSent {
            door: DoorId::new("d1"),
            action: DoorAction::Unlock,
            key: key.into(),
        }
    }

    fn completed(seq: Seq, id: &str) -> AppEvent {
        live(
            seq,
            EventKind::CommandCompleted {
                command: CommandId::new(id),
                door: DoorId::new("d1"),
                action: DoorAction::Unlock,
                by: "operator".into(),
            },
        )
    }

    fn failed(seq: Seq, id: &str, reason: &str) -> AppEvent {
        live(
            seq,
            EventKind::CommandFailed {
                command: CommandId::new(id),
                door: DoorId::new("d1"),
                action: DoorAction::Unlock,
                by: "operator".into(),
                reason: reason.into(),
            },
        )
    }

    fn signed_in(role: Role) -> AppState {
        let mut s = AppState::new(t(0), "http://site", false);
        s.apply(AppEvent::SignedIn(session(role)));
        s.apply(AppEvent::Snapshot(Box::new(snapshot(10))));
        s
    }

    fn phase(s: &AppState) -> Option<CommandPhase> {
        s.door(&DoorId::new("d1"))
            .and_then(|d| d.last_command.as_ref())
            .map(|c| c.phase.clone())
    }

    fn shown(s: &AppState, id: &str) -> DoorState {
        s.door_state(s.door(&DoorId::new(id)).unwrap())
    }

    /// Each row: the events applied after sign-in + snapshot, then what the
    /// first door's last command and shown state must be.
    #[test]
    fn command_lifecycle_table() {
        let failed_no_answer = Some(CommandPhase::Failed(NO_ANSWER.into()));
        let rows: Vec<(&str, Vec<AppEvent>, Option<CommandPhase>, DoorState)> = vec![
            ("nothing sent", vec![], None, DoorState::Locked),
            (
                "sent",
                vec![sent("k")],
                Some(CommandPhase::Sending),
                DoorState::Locked,
            ),
            (
                "accepted",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                ],
                Some(CommandPhase::Pending),
                DoorState::Locked,
            ),
            (
                "completed and door changed",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    live(
                        11,
                        EventKind::DoorStateChanged {
                            door: DoorId::new("d1"),
                            status: unlocked(),
                        },
                    ),
                    completed(12, "c1"),
                ],
                Some(CommandPhase::Confirmed),
                DoorState::Unlocked,
            ),
            (
                "outcome before the 202",
                vec![
                    sent("k"),
                    completed(11, "c1"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                ],
                Some(CommandPhase::Confirmed),
                DoorState::Locked,
            ),
            (
                "failed by the site",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    failed(11, "c1", "door offline"),
                ],
                Some(CommandPhase::Failed("door offline".into())),
                DoorState::Locked,
            ),
            (
                "rejected",
                vec![
                    sent("k"),
                    AppEvent::CommandRejected {
                        key: "k".into(),
                        kind: ErrorKind::PermissionDenied,
                        message: "viewer".into(),
                    },
                ],
                Some(CommandPhase::Failed("not allowed: viewer".into())),
                DoorState::Locked,
            ),
            (
                "no answer within the deadline",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    AppEvent::Tick { now: t(9) },
                    AppEvent::Tick { now: t(10) },
                ],
                failed_no_answer.clone(),
                DoorState::Locked,
            ),
            (
                "just before the deadline",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    AppEvent::Tick { now: t(9) },
                ],
                Some(CommandPhase::Pending),
                DoorState::Locked,
            ),
            (
                "an outcome for another command changes nothing",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    completed(11, "c9"),
                ],
                Some(CommandPhase::Pending),
                DoorState::Locked,
            ),
            (
                "a newer command supersedes the old one",
                vec![
                    sent("k1"),
                    sent("k2"),
                    AppEvent::CommandAccepted {
                        key: "k1".into(),
                        info: info("c1", CommandState::Pending),
                    },
                ],
                Some(CommandPhase::Sending),
                DoorState::Locked,
            ),
            (
                "a retried request answers an already completed command",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Completed),
                    },
                ],
                Some(CommandPhase::Confirmed),
                DoorState::Locked,
            ),
            (
                "link down: unknown, never the cached lock",
                vec![AppEvent::LinkDown {
                    reason: "eof".into(),
                    retry_in_ms: 250,
                }],
                None,
                DoorState::Unknown,
            ),
            (
                "link back up",
                vec![
                    AppEvent::LinkDown {
                        reason: "eof".into(),
                        retry_in_ms: 250,
                    },
                    AppEvent::LinkUp,
                ],
                None,
                DoorState::Locked,
            ),
            (
                "duplicate event ignored",
                vec![
                    live(
                        11,
                        EventKind::DoorStateChanged {
                            door: DoorId::new("d1"),
                            status: unlocked(),
                        },
                    ),
                    live(
                        11,
                        EventKind::DoorStateChanged {
                            door: DoorId::new("d1"),
                            status: DoorStatus::locked_closed(),
                        },
                    ),
                ],
                None,
                DoorState::Unlocked,
            ),
            (
                "event older than the snapshot ignored",
                vec![live(
                    9,
                    EventKind::DoorStateChanged {
                        door: DoorId::new("d1"),
                        status: unlocked(),
                    },
                )],
                None,
                DoorState::Locked,
            ),
        ];
        for (name, events, want_phase, want_state) in rows {
            let mut s = signed_in(Role::Operator);
            for e in events {
                s.apply(e);
            }
            assert_eq!(phase(&s), want_phase, "{name}: phase");
            assert_eq!(shown(&s, "d1"), want_state, "{name}: state");
        }
    }

    #[test]
    fn late_outcome_after_deadline_wins() {
        let mut s = signed_in(Role::Operator);
        s.apply(sent("k"));
        s.apply(AppEvent::CommandAccepted {
            key: "k".into(),
            info: info("c1", CommandState::Pending),
        });
        s.apply(AppEvent::Tick { now: t(11) });
        assert_eq!(phase(&s), Some(CommandPhase::Failed(NO_ANSWER.into())));
        s.apply(completed(11, "c1"));
        assert_eq!(phase(&s), Some(CommandPhase::Confirmed));
    }

    #[test]
    fn deadline_is_reported_for_waking_up() {
        let mut s = signed_in(Role::Operator);
        assert_eq!(s.next_deadline(), None);
        s.apply(AppEvent::Tick { now: t(3) });
        s.apply(sent("k"));
        assert_eq!(s.next_deadline(), None, "no deadline before acceptance");
        s.apply(AppEvent::CommandAccepted {
            key: "k".into(),
            info: info("c1", CommandState::Pending),
        });
        assert_eq!(s.next_deadline(), Some(t(13)));
    }

    #[test]
    fn access_requests_table() {
        let resolved = |seq, id: &str| {
            live(
                seq,
                EventKind::AccessRequestResolved {
                    request: RequestId::new(id),
                    door: DoorId::new("d1"),
                    outcome: RequestOutcome::Granted,
                    by: Some("operator".into()),
                    reason: None,
                },
            )
        };
        let opened = |seq, id: &str| {
            live(
                seq,
                EventKind::AccessRequestOpened {
                    request: request(id, "d2"),
                },
            )
        };
        let rows: Vec<(&str, Vec<AppEvent>, Vec<&str>)> = vec![
            ("from the snapshot", vec![], vec!["r1"]),
            ("opened", vec![opened(11, "r2")], vec!["r1", "r2"]),
            (
                "opened twice",
                vec![opened(11, "r2"), opened(12, "r2")],
                vec!["r1", "r2"],
            ),
            ("resolved", vec![resolved(11, "r1")], vec![]),
            (
                "opened then resolved",
                vec![opened(11, "r2"), resolved(12, "r2")],
                vec!["r1"],
            ),
            ("unknown resolved", vec![resolved(11, "r9")], vec!["r1"]),
        ];
        for (name, events, want) in rows {
            let mut s = signed_in(Role::Operator);
            for e in events {
                s.apply(e);
            }
            let ids: Vec<&str> = s.open_requests.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, want, "{name}");
        }
    }

    #[test]
    fn link_down_counts_attempts_and_up_resets() {
        let mut s = signed_in(Role::Operator);
        for n in 1..=3 {
            s.apply(AppEvent::LinkDown {
                reason: "refused".into(),
                retry_in_ms: 500,
            });
            assert!(matches!(s.link, Link::Down { attempt, .. } if attempt == n));
        }
        s.apply(AppEvent::LinkUp);
        s.apply(AppEvent::LinkDown {
            reason: "eof".into(),
            retry_in_ms: 250,
        });
        assert!(matches!(s.link, Link::Down { attempt: 1, .. }));
    }

    #[test]
    fn event_list_keeps_the_newest_500_newest_first() {
        let mut s = signed_in(Role::Operator);
        for seq in 11..=700 {
            s.apply(live(seq, EventKind::TestFlood { n: seq }));
        }
        assert_eq!(s.events.len(), EVENT_LIST_LEN);
        assert_eq!(s.events.front().map(|e| e.seq), Some(700));
        assert_eq!(s.events.back().map(|e| e.seq), Some(201));
        assert_eq!(s.last_seq, Some(700));
    }

    fn camera(id: &str) -> Camera {
        let stream = |kind: &str, width, height| crate::domain::StreamInfo {
            url: format!("rtsp://127.0.0.1:8554/{id}/{kind}"),
            width,
            height,
            fps: 25,
            codec: "h264".into(),
        };
        Camera {
            id: CameraId::new(id),
            name: format!("Camera {id}"),
            main: stream("main", 1280, 720),
            sub: stream("sub", 640, 360),
            map: None,
        }
    }

    fn still(width: u32, height: u32, len: usize) -> Arc<StillImage> {
        Arc::new(StillImage {
            width,
            height,
            rgba: bytes::Bytes::from(vec![255; len]),
        })
    }

    #[test]
    fn cameras_and_their_stills() {
        let mut s = AppState::new(t(0), "http://site", true);
        s.apply(AppEvent::SignedIn(session(Role::Operator)));
        let mut snap = snapshot(10);
        snap.cameras = vec![camera("c1"), camera("c2")];
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        assert_eq!(s.cameras.len(), 2);
        assert_eq!(
            s.camera(&CameraId::new("c2")).map(|c| c.name.as_str()),
            Some("Camera c2")
        );

        // A still is kept for a known camera with a consistent buffer only.
        s.apply(AppEvent::CameraStill {
            camera: CameraId::new("c1"),
            image: still(2, 2, 16),
        });
        s.apply(AppEvent::CameraStill {
            camera: CameraId::new("c2"),
            image: still(2, 2, 15),
        });
        s.apply(AppEvent::CameraStill {
            camera: CameraId::new("nope"),
            image: still(2, 2, 16),
        });
        assert_eq!(s.stills.len(), 1);
        assert!(s.stills.contains_key(&CameraId::new("c1")));
        assert!(
            !format!("{:?}", s.stills).contains("255"),
            "no pixels in Debug"
        );

        // The cameras read again: new addresses, c1 gone with its still.
        let mut moved = camera("c2");
        moved.main.url = "rtsp://127.0.0.1:40000/c2/main".into();
        s.apply(AppEvent::Cameras(vec![moved.clone()]));
        assert_eq!(s.cameras, vec![moved]);
        assert!(s.stills.is_empty());

        // Signed out: no cameras, and a late reading does not bring them back.
        s.apply(AppEvent::SignedOut);
        assert!(s.cameras.is_empty());
        s.apply(AppEvent::Cameras(vec![camera("c1")]));
        assert!(s.cameras.is_empty());
    }

    #[test]
    fn snapshot_replaces_state_and_keeps_last_commands() {
        let mut s = signed_in(Role::Operator);
        s.apply(sent("k"));
        s.apply(live(11, EventKind::TestFlood { n: 1 }));
        s.apply(live(12, EventKind::TestFlood { n: 2 }));
        let mut snap = snapshot(11);
        snap.doors[0].status = unlocked();
        snap.open_requests.clear();
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        assert_eq!(shown(&s, "d1"), DoorState::Unlocked);
        assert_eq!(phase(&s), Some(CommandPhase::Sending));
        assert!(s.open_requests.is_empty());
        // Event 12 is after the snapshot: it will come again on the stream.
        assert_eq!(s.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![11]);
        s.apply(live(12, EventKind::TestFlood { n: 2 }));
        assert_eq!(s.events.len(), 2);
    }

    #[test]
    fn rights_table() {
        use DoorAction::*;
        let rows = [
            (Role::Viewer, Unlock, false),
            (Role::Investigator, Lock, false),
            (Role::Operator, Unlock, true),
            (Role::Operator, Access, true),
            (Role::Operator, Lockdown, false),
            (Role::Operator, ReleaseLockdown, false),
            (Role::Supervisor, Lockdown, true),
            (Role::Admin, ReleaseLockdown, true),
        ];
        for (role, action, want) in rows {
            let s = signed_in(role);
            assert_eq!(
                s.door_action_blocked(action).is_none(),
                want,
                "{role} {action:?}"
            );
        }
        let mut s = signed_in(Role::Supervisor);
        s.apply(AppEvent::LinkDown {
            reason: "x".into(),
            retry_in_ms: 1,
        });
        assert!(s.door_action_blocked(Lock).unwrap().contains("link"));
        assert!(s.decision_blocked().unwrap().contains("link"));
        assert!(signed_in(Role::Viewer).decision_blocked().is_some());
        assert!(signed_in(Role::Operator).decision_blocked().is_none());
    }

    #[test]
    fn sign_in_and_out() {
        let mut s = AppState::new(t(0), "http://site", false);
        s.apply(AppEvent::SignInStarted {
            username: "operator".into(),
        });
        assert!(matches!(s.sign_in, SignInPhase::InProgress { .. }));
        s.apply(AppEvent::SignInFailed {
            kind: ErrorKind::Unauthenticated,
            message: "bad".into(),
        });
        assert_eq!(
            s.sign_in,
            SignInPhase::Failed {
                message: "Wrong user name or password".into()
            }
        );
        let mut s = signed_in(Role::Operator);
        s.apply(AppEvent::SessionEnded {
            message: "session expired".into(),
        });
        assert!(s.session.is_none() && s.doors.is_empty() && s.link == Link::Idle);
        assert!(s.site.is_some(), "the site's name stays");
        let mut s = signed_in(Role::Operator);
        s.apply(AppEvent::SignedOut);
        assert!(s.session.is_none() && s.events.is_empty());
        assert_eq!(s.sign_in, SignInPhase::Idle);
    }

    #[test]
    fn clock_offset_and_site_time() {
        let mut s = signed_in(Role::Operator);
        s.apply(AppEvent::SiteClock {
            site: SiteTime {
                now: t(5),
                time_zone: "Europe/Berlin".into(),
            },
            local: t(3),
        });
        assert_eq!(s.clock_offset_ms, Some(2000));
        s.apply(AppEvent::Tick { now: t(10) });
        assert_eq!(s.site_now(), t(12));
        assert_eq!(s.time_zone(), chrono_tz::Europe::Berlin);
    }

    #[test]
    fn notices_expire_and_are_capped() {
        let mut s = signed_in(Role::Operator);
        for i in 0..6 {
            s.apply(AppEvent::Notice {
                level: NoticeLevel::Info,
                text: format!("n{i}"),
            });
        }
        assert_eq!(s.notices.len(), NOTICE_LEN);
        assert_eq!(s.notices.last().map(|n| n.text.as_str()), Some("n5"));
        assert_eq!(s.next_deadline(), Some(t(8)));
        s.apply(AppEvent::Tick { now: t(8) });
        assert!(s.notices.is_empty());
    }

    #[test]
    fn decision_failure_names_the_door() {
        let mut s = signed_in(Role::Operator);
        s.apply(AppEvent::DecisionFailed {
            request: RequestId::new("r1"),
            kind: ErrorKind::Conflict,
            message: "already answered".into(),
        });
        let text = &s.notices[0].text;
        assert!(
            text.contains("Server room") && text.contains("already answered"),
            "{text}"
        );
    }
}

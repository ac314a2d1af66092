//! [`SiteMirror`]: what the client knows of one site, from its snapshot and
//! live events, in keyed maps, so that each event is applied in constant
//! time (a door's state, a command's outcome, a request opened or resolved
//! is one lookup, never a scan). Ids that leave the mirror carry their
//! site: [`Keyed`]. No I/O, no clock: times come in as arguments.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::domain::{
    AccessRequest, Camera, CameraId, CardholderId, CommandId, CommandInfo, CommandState, Door,
    DoorAction, DoorId, DoorStatus, Event, EventKind, FloorMap, MapId, RequestId, Seq, SiteInfo,
    Snapshot, Timestamp,
};

use super::event::StillImage;

/// How many live events the list keeps.
pub const EVENT_LIST_LEN: usize = 500;
/// A command the site accepted but did not settle within this long has
/// failed, as far as the operator is told.
pub const COMMAND_DEADLINE_MS: i64 = 10_000;
/// The text of that failure.
pub const NO_ANSWER: &str = "no answer from the site";
/// How many command outcomes that arrived before their acceptance are kept.
const EARLY_OUTCOME_LEN: usize = 256;

/// Which site something belongs to: the site's address as the client was
/// given it (the demo site has its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteKey(String);

impl SiteKey {
    pub fn new(address: impl Into<String>) -> Self {
        Self(address.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A site's own id (of a door, a camera, a request, a command) together
/// with its site: unique across every site the client holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Keyed<T> {
    pub site: SiteKey,
    pub id: T,
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
    /// When its state last changed, by the site's clock, as far as this
    /// client has seen (a snapshot does not say).
    pub changed: Option<Timestamp>,
}

/// The outcome of a command, as reported by its event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Completed,
    Failed(String),
}

/// One site as the client knows it. See the module doc.
#[derive(Debug, Clone)]
pub struct SiteMirror {
    key: SiteKey,
    /// The address of the site, for the sign-in form.
    pub address: String,
    /// Whether this is the built-in demo site, known before any snapshot.
    pub demo: bool,
    /// The site, from the last snapshot (kept after sign-out for its name).
    pub info: Option<SiteInfo>,
    /// Site clock minus client clock, when measured.
    pub clock_offset_ms: Option<i64>,
    /// In the site's order; `door_index` finds one by id.
    doors: Vec<DoorView>,
    door_index: HashMap<DoorId, usize>,
    /// In the site's order; `camera_index` finds one by id.
    cameras: Vec<Camera>,
    camera_index: HashMap<CameraId, usize>,
    stills: HashMap<CameraId, Arc<StillImage>>,
    /// The floor plans, in the site's order, and their pictures once loaded.
    maps: Vec<FloorMap>,
    map_images: HashMap<MapId, Arc<StillImage>>,
    /// Open requests by arrival (the snapshot's order, then the stream's).
    requests: BTreeMap<u64, AccessRequest>,
    request_index: HashMap<RequestId, u64>,
    next_request: u64,
    /// The door of each door's last command, by idempotency key and (once
    /// accepted) by the site's command id.
    commands_by_key: HashMap<String, DoorId>,
    commands_by_id: HashMap<CommandId, DoorId>,
    /// Newest first, at most [`EVENT_LIST_LEN`].
    events: VecDeque<Event>,
    /// The last event sequence number applied (the snapshot's, then the
    /// stream's).
    last_seq: Option<Seq>,
    cardholder_names: HashMap<CardholderId, String>,
    /// Outcomes of commands not (yet) known as ours: their 202 may still be
    /// on its way. Bounded, so a scan is constant time.
    early_outcomes: VecDeque<(CommandId, Outcome)>,
}

impl SiteMirror {
    /// A site at `address`, nothing known of it yet.
    pub fn new(key: SiteKey, address: impl Into<String>, demo: bool) -> Self {
        Self {
            key,
            address: address.into(),
            demo,
            info: None,
            clock_offset_ms: None,
            doors: Vec::new(),
            door_index: HashMap::new(),
            cameras: Vec::new(),
            camera_index: HashMap::new(),
            stills: HashMap::new(),
            maps: Vec::new(),
            map_images: HashMap::new(),
            requests: BTreeMap::new(),
            request_index: HashMap::new(),
            next_request: 0,
            commands_by_key: HashMap::new(),
            commands_by_id: HashMap::new(),
            events: VecDeque::new(),
            last_seq: None,
            cardholder_names: HashMap::new(),
            early_outcomes: VecDeque::new(),
        }
    }

    /// Which site this is.
    pub fn key(&self) -> &SiteKey {
        &self.key
    }

    /// `id` of this site, with the site.
    pub fn keyed<T>(&self, id: T) -> Keyed<T> {
        Keyed {
            site: self.key.clone(),
            id,
        }
    }

    // ---- what the UI reads -------------------------------------------------

    /// The doors, in the site's order.
    pub fn doors(&self) -> &[DoorView] {
        &self.doors
    }

    /// A door by id.
    pub fn door(&self, id: &DoorId) -> Option<&DoorView> {
        self.door_index.get(id).and_then(|&i| self.doors.get(i))
    }

    /// A door's name, or its id when it is not known.
    pub fn door_name<'a>(&'a self, id: &'a DoorId) -> &'a str {
        self.door(id).map_or(id.as_str(), |d| d.door.name.as_str())
    }

    /// The cameras, in the site's order.
    pub fn cameras(&self) -> &[Camera] {
        &self.cameras
    }

    /// A camera by id.
    pub fn camera(&self, id: &CameraId) -> Option<&Camera> {
        self.camera_index.get(id).and_then(|&i| self.cameras.get(i))
    }

    /// The still picture of each camera that has one.
    pub fn stills(&self) -> &HashMap<CameraId, Arc<StillImage>> {
        &self.stills
    }

    /// The floor plans, in the site's order.
    pub fn maps(&self) -> &[FloorMap] {
        &self.maps
    }

    /// A floor plan by id.
    pub fn map(&self, id: &MapId) -> Option<&FloorMap> {
        self.maps.iter().find(|m| &m.id == id)
    }

    /// A floor plan's picture, once loaded.
    pub fn map_image(&self, id: &MapId) -> Option<&Arc<StillImage>> {
        self.map_images.get(id)
    }

    /// The open access requests, oldest first.
    pub fn open_requests(&self) -> std::collections::btree_map::Values<'_, u64, AccessRequest> {
        self.requests.values()
    }

    /// Whether any access request waits for an answer.
    pub fn has_open_requests(&self) -> bool {
        !self.requests.is_empty()
    }

    /// An open access request by id.
    pub fn open_request(&self, id: &RequestId) -> Option<&AccessRequest> {
        self.request_index
            .get(id)
            .and_then(|n| self.requests.get(n))
    }

    /// The live events, newest first, at most [`EVENT_LIST_LEN`].
    pub fn events(&self) -> &VecDeque<Event> {
        &self.events
    }

    /// The last event sequence number applied.
    pub fn last_seq(&self) -> Option<Seq> {
        self.last_seq
    }

    /// A cardholder's name, when known.
    pub fn cardholder_name(&self, id: &CardholderId) -> Option<&str> {
        self.cardholder_names.get(id).map(String::as_str)
    }

    /// The site's time zone (UTC when unknown or unreadable).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.info
            .as_ref()
            .and_then(|s| s.time_zone.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }

    // ---- what changes it ---------------------------------------------------

    /// The site's state at a sequence number replaces what was known; each
    /// door keeps its last command.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) {
        let mut old: HashMap<DoorId, (Option<CommandView>, DoorStatus, Option<Timestamp>)> = self
            .doors
            .drain(..)
            .map(|d| (d.door.id, (d.last_command, d.status, d.changed)))
            .collect();
        self.doors = snapshot
            .doors
            .into_iter()
            .map(|d| {
                let (last_command, status, changed) =
                    old.remove(&d.door.id).unwrap_or((None, d.status, None));
                DoorView {
                    last_command,
                    // The site's word when it gives one; else what this
                    // client saw, unless the state moved while it was away.
                    changed: d
                        .changed
                        .or(if status == d.status { changed } else { None }),
                    door: d.door,
                    status: d.status,
                }
            })
            .collect();
        self.reindex_doors();
        self.set_cameras(snapshot.cameras);
        self.maps = snapshot.maps;
        let maps = &self.maps;
        self.map_images
            .retain(|id, _| maps.iter().any(|m| &m.id == id));
        self.demo = snapshot.site.demo;
        self.info = Some(snapshot.site);
        self.requests.clear();
        self.request_index.clear();
        for request in snapshot.open_requests {
            self.open(request);
        }
        // Events after the snapshot will come again on the stream.
        self.events.retain(|e| e.seq <= snapshot.seq);
        self.last_seq = Some(snapshot.seq);
    }

    /// One live event, in constant time. False when it was seen already
    /// (at or before the last sequence number).
    pub fn apply(&mut self, event: Event) -> bool {
        if self.last_seq.is_some_and(|last| event.seq <= last) {
            return false;
        }
        self.last_seq = Some(event.seq);
        match &event.kind {
            EventKind::DoorStateChanged { door, status } => {
                let time = event.time;
                if let Some(d) = self.door_mut(door) {
                    d.status = *status;
                    d.changed = Some(time);
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
                if !self.request_index.contains_key(&request.id) =>
            {
                self.open(request.clone());
            }
            EventKind::AccessRequestResolved { request, .. } => {
                if let Some(n) = self.request_index.remove(request) {
                    self.requests.remove(&n);
                }
            }
            // A camera's state is its main stream's (a camera with one
            // stream reports only that one).
            EventKind::CameraOffline {
                camera,
                stream,
                reason,
            } if stream == "main" => {
                if let Some(c) = self.camera_mut(camera) {
                    c.state = crate::domain::CameraState::from_failure(reason);
                    c.reason = Some(reason.clone());
                }
            }
            EventKind::CameraOnline { camera, stream } if stream == "main" => {
                if let Some(c) = self.camera_mut(camera) {
                    c.state = crate::domain::CameraState::Online;
                    c.reason = None;
                }
            }
            _ => {}
        }
        self.events.push_front(event);
        self.events.truncate(EVENT_LIST_LEN);
        true
    }

    fn camera_mut(&mut self, id: &CameraId) -> Option<&mut Camera> {
        let i = *self.camera_index.get(id)?;
        self.cameras.get_mut(i)
    }

    /// The site's cameras, read again: stills of cameras gone go too.
    pub fn set_cameras(&mut self, cameras: Vec<Camera>) {
        self.cameras = cameras;
        self.camera_index = self
            .cameras
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let index = &self.camera_index;
        self.stills.retain(|id, _| index.contains_key(id));
    }

    /// A camera's still; kept for a known camera with a consistent picture.
    pub fn set_still(&mut self, camera: CameraId, image: Arc<StillImage>) {
        if image.is_consistent() && self.camera_index.contains_key(&camera) {
            self.stills.insert(camera, image);
        }
    }

    /// A floor plan as the site has it now (its placements edited); a plan
    /// not known is ignored (a snapshot brings new plans).
    pub fn set_map(&mut self, map: FloorMap) {
        if let Some(slot) = self.maps.iter_mut().find(|m| m.id == map.id) {
            *slot = map;
        }
    }

    /// A floor plan's picture; kept for a known plan with a consistent picture.
    pub fn set_map_image(&mut self, map: MapId, image: Arc<StillImage>) {
        if image.is_consistent() && self.maps.iter().any(|m| m.id == map) {
            self.map_images.insert(map, image);
        }
    }

    /// Names of cardholders, for the event list.
    pub fn add_cardholders(&mut self, names: Vec<(CardholderId, String)>) {
        self.cardholder_names.extend(names);
    }

    /// The operator sent `action` to `door` at `now` under `key`: it is the
    /// door's last command now, superseding the one before.
    pub fn command_sent(&mut self, door: &DoorId, action: DoorAction, key: String, now: Timestamp) {
        let Some(&i) = self.door_index.get(door) else {
            return;
        };
        if let Some(old) = self.doors[i].last_command.take() {
            self.forget_command(&old);
        }
        self.commands_by_key.insert(key.clone(), door.clone());
        self.doors[i].last_command = Some(CommandView {
            action,
            key,
            id: None,
            phase: CommandPhase::Sending,
            sent_at: now,
            accepted_at: None,
        });
    }

    /// The site accepted the command with `key` at `now`.
    pub fn command_accepted(&mut self, key: &str, info: CommandInfo, now: Timestamp) {
        let early = self
            .early_outcomes
            .iter()
            .position(|(id, _)| *id == info.id)
            .and_then(|i| self.early_outcomes.remove(i))
            .map(|(_, outcome)| outcome);
        let Some(door) = self.commands_by_key.get(key).cloned() else {
            return; // superseded by a newer command to the door
        };
        let Some(cmd) = self.command_mut(&door, |c| c.key == key) else {
            return;
        };
        cmd.id = Some(info.id.clone());
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
        self.commands_by_id.insert(info.id, door);
    }

    /// The command with `key` failed before the site took it.
    pub fn command_rejected(&mut self, key: &str, text: String) {
        let Some(door) = self.commands_by_key.get(key).cloned() else {
            return;
        };
        if let Some(cmd) = self.command_mut(&door, |c| c.key == key) {
            cmd.phase = CommandPhase::Failed(text);
        }
    }

    /// The time is `now`: accepted commands past their deadline failed.
    pub fn tick(&mut self, now: Timestamp) {
        let doors: Vec<DoorId> = self.commands_by_id.values().cloned().collect();
        for door in doors {
            if let Some(cmd) = self.command_mut(&door, |c| c.phase == CommandPhase::Pending)
                && let Some(accepted) = cmd.accepted_at
                && (now - accepted).num_milliseconds() >= COMMAND_DEADLINE_MS
            {
                cmd.phase = CommandPhase::Failed(NO_ANSWER.to_owned());
            }
        }
    }

    /// The next command deadline, if a command waits for its door.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.commands_by_id
            .values()
            .filter_map(|door| {
                let cmd = self.door(door)?.last_command.as_ref()?;
                if cmd.phase != CommandPhase::Pending {
                    return None;
                }
                Some(super::state::saturating_add_ms(
                    cmd.accepted_at?,
                    COMMAND_DEADLINE_MS,
                ))
            })
            .min()
    }

    /// Signed out: everything but the site's name, address and clock goes.
    pub fn clear(&mut self) {
        self.doors.clear();
        self.door_index.clear();
        self.cameras.clear();
        self.camera_index.clear();
        self.stills.clear();
        self.maps.clear();
        self.map_images.clear();
        self.requests.clear();
        self.request_index.clear();
        self.commands_by_key.clear();
        self.commands_by_id.clear();
        self.events.clear();
        self.last_seq = None;
        self.cardholder_names.clear();
        self.early_outcomes.clear();
    }

    // ---- inside --------------------------------------------------------------

    fn door_mut(&mut self, id: &DoorId) -> Option<&mut DoorView> {
        let i = *self.door_index.get(id)?;
        self.doors.get_mut(i)
    }

    /// The last command of `door`, if `is` it.
    fn command_mut(
        &mut self,
        door: &DoorId,
        is: impl Fn(&CommandView) -> bool,
    ) -> Option<&mut CommandView> {
        self.door_mut(door)?.last_command.as_mut().filter(|c| is(c))
    }

    fn forget_command(&mut self, cmd: &CommandView) {
        self.commands_by_key.remove(&cmd.key);
        if let Some(id) = &cmd.id {
            self.commands_by_id.remove(id);
        }
    }

    fn reindex_doors(&mut self) {
        self.door_index = self
            .doors
            .iter()
            .enumerate()
            .map(|(i, d)| (d.door.id.clone(), i))
            .collect();
        self.commands_by_key.clear();
        self.commands_by_id.clear();
        for d in &self.doors {
            if let Some(cmd) = &d.last_command {
                self.commands_by_key
                    .insert(cmd.key.clone(), d.door.id.clone());
                if let Some(id) = &cmd.id {
                    self.commands_by_id.insert(id.clone(), d.door.id.clone());
                }
            }
        }
    }

    fn open(&mut self, request: AccessRequest) {
        let n = self.next_request;
        self.next_request += 1;
        self.request_index.insert(request.id.clone(), n);
        self.requests.insert(n, request);
    }

    fn command_outcome(&mut self, id: &CommandId, outcome: Outcome) {
        let door = self.commands_by_id.get(id).cloned();
        let cmd = door.and_then(|door| self.command_mut(&door, |c| c.id.as_ref() == Some(id)));
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
}

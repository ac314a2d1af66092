//! The site's core logic: the one event log (numbered, stored, broadcast in
//! seq order), the door status mirror, access decisions and requests, door
//! commands with idempotency and timeouts, credentials, and the live event
//! stream with replay. The HTTP layer (`api`) checks permissions and calls in.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{Timelike, Utc};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::{Notify, broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::SiteConfig;
use crate::domain::{
    AccessPointId, AccessRequest, AuditEntry, AuditVerification, Camera, Cardholder, CardholderId,
    CommandId, CommandInfo, CommandState, Credential, CredentialId, CredentialState, DenyReason,
    DoorAction, DoorAlarm, DoorCommand, DoorId, DoorMode, DoorPosition, DoorStatus, DoorWithStatus,
    ErrorKind, Event, EventKind, MapId, Page, RequestId, RequestOutcome, Role, Seq, Session,
    SiteTime, Snapshot,
};

use super::audit::{self, AuditQuery, AuditRecord};
use super::auth::{Auth, AuthError, Principal};
use super::cameras::DemoCameras;
use super::controller::{ControllerEvent, DoorController, SimulatedController};
use super::store::{CommandInsert, CommandRow, EventQuery, Store, StoreError};
use super::traffic::TrafficSink;

/// Live event broadcast capacity; a subscriber further behind refills from
/// the store.
const BROADCAST_CAPACITY: usize = 4096;
/// Events read from the store per replay batch.
const REPLAY_BATCH: usize = 500;
/// How often a live stream sends its `: hb` comment.
pub const HEARTBEAT_MS: u64 = 2000;
/// How often open access requests are checked for expiry.
const EXPIRY_TICK_MS: u64 = 200;
/// Longest accepted idempotency key.
const MAX_KEY_LEN: usize = 200;

/// Why a core call failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl CoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::NotFound(_) => ErrorKind::NotFound,
            CoreError::Conflict(_) => ErrorKind::Conflict,
            CoreError::InvalidInput(_) => ErrorKind::InvalidInput,
            CoreError::Unavailable(_) => ErrorKind::Unavailable,
            CoreError::Auth(e) => e.kind(),
            CoreError::Store(e) => e.kind(),
        }
    }
}

/// Who does something, and from where (the peer IP), for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub username: String,
    pub role: Option<Role>,
    pub source: String,
}

impl Actor {
    /// A signed-in user acting from `source`.
    pub fn user(p: &Principal, source: impl Into<String>) -> Actor {
        Actor {
            username: p.username.clone(),
            role: Some(p.role),
            source: source.into(),
        }
    }

    /// The site itself (expiries, restarts).
    pub fn system() -> Actor {
        Actor {
            username: "system".into(),
            role: None,
            source: "site".into(),
        }
    }
}

/// What a live stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Event(Box<Event>),
    Heartbeat,
}

/// The demo cameras as far as they got.
enum CameraSlot {
    Off,
    Starting,
    Running {
        cams: Box<DemoCameras>,
        base: String,
    },
    Failed,
}

/// Everything that changes together with the event log, under one lock:
/// a snapshot read under it is exactly the state at `last_seq`.
struct Live {
    last_seq: Seq,
    doors: HashMap<DoorId, DoorStatus>,
    /// Open requests, oldest first.
    open_requests: Vec<AccessRequest>,
    credential_states: HashMap<CredentialId, CredentialState>,
}

/// The site core. Shared as `Arc<SiteCore>` by the API, the background
/// tasks and the traffic generator.
pub struct SiteCore {
    cfg: Arc<SiteConfig>,
    store: Arc<Store>,
    auth: Auth,
    controller: Arc<dyn DoorController>,
    sim: Option<Arc<SimulatedController>>,
    live: Mutex<Live>,
    events: broadcast::Sender<Event>,
    /// Pinged after every change of the door mirror.
    mirror_changed: Notify,
    /// Credential id → (cardholder index, credential index) in `cfg.cardholders`.
    credentials: HashMap<CredentialId, (usize, usize)>,
    cameras: Mutex<CameraSlot>,
    /// The real cameras' stream facts and stills.
    probes: super::cameras::Probes,
    /// Bumped to close every open live stream.
    stream_generation: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    /// Background tasks started on demand (floods); aborted at shutdown.
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unknown_status() -> DoorStatus {
    DoorStatus {
        online: false,
        ..DoorStatus::locked_closed()
    }
}

impl SiteCore {
    /// Builds the core over an opened store and a controller; loads the
    /// state kept from earlier runs (credential overrides, open requests,
    /// the last seq) and fails commands an earlier run left pending.
    pub fn new(
        cfg: SiteConfig,
        store: Arc<Store>,
        controller: Arc<dyn DoorController>,
        sim: Option<Arc<SimulatedController>>,
    ) -> Result<Arc<SiteCore>, CoreError> {
        let cfg = Arc::new(cfg);
        let last_seq = store.last_seq()?;
        let credential_states = store.credential_states()?.into_iter().collect();
        let open_requests = store.open_requests()?;
        let doors = controller.statuses().into_iter().collect();
        let mut credentials = HashMap::new();
        for (ci, ch) in cfg.cardholders.iter().enumerate() {
            for (ki, c) in ch.cardholder.credentials.iter().enumerate() {
                credentials.insert(c.id.clone(), (ci, ki));
            }
        }
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let probes = super::cameras::Probes::start(&cfg);
        let core = Arc::new(SiteCore {
            auth: Auth::new(&cfg, Arc::clone(&store)),
            cfg,
            store,
            controller,
            sim,
            live: Mutex::new(Live {
                last_seq,
                doors,
                open_requests,
                credential_states,
            }),
            events,
            mirror_changed: Notify::new(),
            credentials,
            cameras: Mutex::new(CameraSlot::Off),
            probes,
            stream_generation: watch::channel(0).0,
            shutdown: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
        });
        let reason = "the site restarted before the door confirmed";
        for stale in core.store.fail_stale_commands(reason)? {
            tracing::warn!(command = %stale.info.id, door = %stale.info.door, "command left pending by an earlier run marked failed");
            core.append(EventKind::CommandFailed {
                command: stale.info.id,
                door: stale.info.door,
                action: stale.info.action,
                by: stale.user,
                reason: reason.into(),
            })?;
        }
        Ok(core)
    }

    /// The site's configuration.
    pub fn config(&self) -> &SiteConfig {
        &self.cfg
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The simulated controller, when the site drives one (fault injection).
    pub fn simulated_controller(&self) -> Option<&Arc<SimulatedController>> {
        self.sim.as_ref()
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        lock(&self.live)
    }

    // ---- the event log -------------------------------------------------

    /// Numbers, stores and broadcasts events, in one critical section so the
    /// broadcast order is the seq order. Call with the live state locked.
    fn append_locked(
        &self,
        live: &mut Live,
        kinds: Vec<EventKind>,
    ) -> Result<Vec<Event>, CoreError> {
        let time = Utc::now();
        let events: Vec<Event> = kinds
            .into_iter()
            .zip(live.last_seq + 1..)
            .map(|(kind, seq)| Event { seq, time, kind })
            .collect();
        if events.is_empty() {
            return Ok(events);
        }
        self.store.insert_events(&events)?;
        live.last_seq += events.len() as u64;
        for e in &events {
            // No receiver is fine: nobody is streaming.
            let _ = self.events.send(e.clone());
        }
        Ok(events)
    }

    /// Appends one event to the log.
    pub fn append(&self, kind: EventKind) -> Result<Event, CoreError> {
        let mut live = self.live();
        let mut events = self.append_locked(&mut live, vec![kind])?;
        events
            .pop()
            .ok_or_else(|| CoreError::Store(StoreError::Corrupt("append stored nothing".into())))
    }

    /// Appends several events in one transaction; returns the last seq.
    pub fn append_batch(&self, kinds: Vec<EventKind>) -> Result<Seq, CoreError> {
        let mut live = self.live();
        self.append_locked(&mut live, kinds)?;
        Ok(live.last_seq)
    }

    /// The newest seq.
    pub fn last_seq(&self) -> Seq {
        self.live().last_seq
    }

    /// Every seq in the stored log, in order.
    pub fn event_seqs(&self) -> Result<Vec<Seq>, CoreError> {
        Ok(self.store.event_seqs()?)
    }

    /// Searches the stored log.
    pub fn search_events(&self, q: &EventQuery) -> Result<Page<Event>, CoreError> {
        Ok(self.store.search_events(q)?)
    }

    /// The state of the site, valid at its `seq`.
    pub fn snapshot(&self) -> Snapshot {
        let cameras = self.cameras();
        let live = self.live();
        Snapshot {
            seq: live.last_seq,
            site: self.cfg.site.clone(),
            cameras,
            doors: self
                .cfg
                .doors
                .iter()
                .map(|d| DoorWithStatus {
                    door: d.clone(),
                    status: live
                        .doors
                        .get(&d.id)
                        .copied()
                        .unwrap_or_else(unknown_status),
                })
                .collect(),
            access_points: self.cfg.access_points.clone(),
            maps: self.cfg.maps.clone(),
            open_requests: live.open_requests.clone(),
        }
    }

    /// A live stream of events after `after` (or from now): the missed ones
    /// from the store, then live ones, each exactly once and in order, with
    /// a heartbeat every [`HEARTBEAT_MS`]. It ends when the client goes, on
    /// [`SiteCore::drop_streams`], or at shutdown.
    pub fn stream(self: &Arc<Self>, after: Option<Seq>) -> mpsc::Receiver<StreamItem> {
        let (tx, rx) = mpsc::channel(64);
        let (live_rx, head) = {
            let live = self.live();
            (self.events.subscribe(), live.last_seq)
        };
        let mut s = Streamer {
            core: Arc::clone(self),
            tx,
            last: after.unwrap_or(head),
            drop_rx: self.stream_generation.subscribe(),
            shutdown_rx: self.shutdown.subscribe(),
        };
        tokio::spawn(async move { s.run(live_rx, head).await });
        rx
    }

    /// Closes every open live stream at once (clients must reconnect).
    pub fn drop_streams(&self) {
        self.stream_generation.send_modify(|g| *g += 1);
    }

    // ---- doors -----------------------------------------------------------

    /// Mirrors a door's reported status; a change becomes
    /// `door.state_changed`.
    fn apply_status(&self, door: &DoorId, status: DoorStatus) {
        if self.cfg.door(door).is_none() {
            tracing::warn!(%door, "controller reported a door the site does not know");
            return;
        }
        {
            let mut live = self.live();
            if live.doors.get(door) == Some(&status) {
                return;
            }
            live.doors.insert(door.clone(), status);
            let kind = EventKind::DoorStateChanged {
                door: door.clone(),
                status,
            };
            if let Err(e) = self.append_locked(&mut live, vec![kind]) {
                tracing::error!(%door, "cannot log a door state change: {e:#}");
            }
        }
        self.mirror_changed.notify_waiters();
    }

    fn door_status(&self, door: &DoorId) -> Option<DoorStatus> {
        self.live().doors.get(door).copied()
    }

    /// Waits (briefly) until the mirror shows `status` for `door`, so that a
    /// command's `door.state_changed` comes before its `command.completed`.
    async fn await_mirror(&self, door: &DoorId, status: DoorStatus) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(250);
        loop {
            let notified = self.mirror_changed.notified();
            if self.door_status(door) == Some(status) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// Sends a door command. Answers at once with the command pending (or,
    /// for a repeated idempotency key, with the first command); the outcome
    /// follows as `command.completed` / `command.failed`.
    pub fn command(
        self: &Arc<Self>,
        actor: &Actor,
        door: &DoorId,
        cmd: &DoorCommand,
    ) -> Result<CommandInfo, CoreError> {
        if self.cfg.door(door).is_none() {
            return Err(CoreError::NotFound(format!(
                "no door {door:?} on this site"
            )));
        }
        let key = cmd.idempotency_key.trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(CoreError::InvalidInput(format!(
                "idempotency_key must be 1 to {MAX_KEY_LEN} characters"
            )));
        }
        self.start_command(actor, door, cmd.action, key, true)
    }

    fn start_command(
        self: &Arc<Self>,
        actor: &Actor,
        door: &DoorId,
        action: DoorAction,
        key: &str,
        audited: bool,
    ) -> Result<CommandInfo, CoreError> {
        let row = CommandRow {
            info: CommandInfo {
                id: CommandId::new(uuid::Uuid::new_v4().to_string()),
                door: door.clone(),
                action,
                state: CommandState::Pending,
                reason: None,
            },
            idempotency_key: key.to_owned(),
            user: actor.username.clone(),
            created: Utc::now(),
        };
        match self.store.insert_command(&row)? {
            CommandInsert::Existing(first) => {
                if &first.info.door == door && first.info.action == action {
                    Ok(first.info)
                } else {
                    Err(CoreError::Conflict(format!(
                        "idempotency key {key:?} was already used to {} {}",
                        first.info.action.label(),
                        first.info.door
                    )))
                }
            }
            CommandInsert::Inserted => {
                let core = Arc::clone(self);
                let info = row.info.clone();
                let actor = actor.clone();
                tokio::spawn(async move { core.run_command(info, actor, audited).await });
                Ok(row.info)
            }
        }
    }

    async fn run_command(self: Arc<Self>, info: CommandInfo, actor: Actor, audited: bool) {
        let timeout_ms = self.cfg.command_timeout_ms;
        let answer = tokio::time::timeout(
            Duration::from_millis(timeout_ms),
            self.controller.command(&info.door, info.action),
        )
        .await;
        let failure = match answer {
            Ok(Ok(status)) => {
                self.await_mirror(&info.door, status).await;
                None
            }
            Ok(Err(refused)) => Some(refused.to_string()),
            Err(_) => Some(format!("the door did not confirm within {timeout_ms} ms")),
        };
        let state = if failure.is_some() {
            CommandState::Failed
        } else {
            CommandState::Completed
        };
        if let Err(e) = self
            .store
            .finish_command(&info.id, state, failure.as_deref())
        {
            tracing::error!(command = %info.id, "cannot record a command's outcome: {e:#}");
        }
        let kind = match &failure {
            None => EventKind::CommandCompleted {
                command: info.id.clone(),
                door: info.door.clone(),
                action: info.action,
                by: actor.username.clone(),
            },
            Some(reason) => EventKind::CommandFailed {
                command: info.id.clone(),
                door: info.door.clone(),
                action: info.action,
                by: actor.username.clone(),
                reason: reason.clone(),
            },
        };
        if let Err(e) = self.append(kind) {
            tracing::error!(command = %info.id, "cannot log a command's outcome: {e:#}");
        }
        if audited {
            let outcome = match &failure {
                None => "completed".to_owned(),
                Some(reason) => format!("failed: {reason}"),
            };
            self.audit(
                &actor,
                "door.command",
                &command_target(&info.door, info.action),
                &outcome,
            );
        }
    }

    /// A command by id.
    pub fn get_command(&self, id: &CommandId) -> Result<CommandInfo, CoreError> {
        self.store
            .command(id)?
            .map(|r| r.info)
            .ok_or_else(|| CoreError::NotFound(format!("no command {id:?}")))
    }

    // ---- access ----------------------------------------------------------

    fn credential_state(&self, live: &Live, id: &CredentialId) -> Option<CredentialState> {
        let &(ci, ki) = self.credentials.get(id)?;
        let configured = self
            .cfg
            .cardholders
            .get(ci)?
            .cardholder
            .credentials
            .get(ki)?
            .state;
        Some(
            live.credential_states
                .get(id)
                .copied()
                .unwrap_or(configured),
        )
    }

    /// Decides a badge presented at a reader, logs `access.granted` or
    /// `access.denied`, and on a grant sends the door a momentary access
    /// (not audited: no user asked for it). True when granted.
    pub fn present_credential_now(&self, ap: &AccessPointId, badge: &CredentialId) -> bool {
        let Some(point) = self.cfg.access_points.iter().find(|p| &p.id == ap) else {
            tracing::warn!(%ap, "badge at an unknown reader");
            return false;
        };
        let door = point.door.clone();
        let Some(door_cfg) = self.cfg.door(&door) else {
            return false;
        };
        let holder = self
            .credentials
            .get(badge)
            .and_then(|&(ci, ki)| self.cfg.cardholders.get(ci).map(|ch| (ch, ki)));
        let now = Utc::now();
        let hour = now.with_timezone(&self.cfg.time_zone()).hour();
        let mut live = self.live();
        let denial = match holder {
            None => Some(DenyReason::UnknownCard),
            Some((ch, ki)) => {
                let cred = ch.cardholder.credentials.get(ki);
                let state = self.credential_state(&live, badge);
                if state != Some(CredentialState::Active) {
                    Some(DenyReason::CardDisabled)
                } else if cred
                    .and_then(|c| c.valid_until)
                    .is_some_and(|until| until < now)
                {
                    Some(DenyReason::CardExpired)
                } else if live
                    .doors
                    .get(&door)
                    .is_some_and(|s| s.mode == DoorMode::LockedDown)
                {
                    Some(DenyReason::LockedDown)
                } else if !self
                    .cfg
                    .schedule(&ch.schedule)
                    .is_some_and(|s| s.allows(&door_cfg.zone, hour))
                {
                    Some(DenyReason::OutsideSchedule)
                } else {
                    None
                }
            }
        };
        let cardholder = holder.map(|(ch, _)| ch.cardholder.id.clone());
        let kind = match denial {
            Some(reason) => EventKind::AccessDenied {
                door: door.clone(),
                access_point: Some(ap.clone()),
                cardholder,
                credential: Some(badge.clone()),
                reason,
            },
            None => EventKind::AccessGranted {
                door: door.clone(),
                access_point: Some(ap.clone()),
                cardholder,
                credential: Some(badge.clone()),
            },
        };
        if let Err(e) = self.append_locked(&mut live, vec![kind]) {
            tracing::error!(%door, "cannot log an access decision: {e:#}");
            return false;
        }
        drop(live);
        if denial.is_some() {
            return false;
        }
        let fut = self.controller.command(&door, DoorAction::Access);
        let timeout = Duration::from_millis(self.cfg.command_timeout_ms);
        tokio::spawn(async move {
            match tokio::time::timeout(timeout, fut).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::info!(%door, "granted access not carried out: {e}"),
                Err(_) => tracing::info!(%door, "granted access not confirmed in time"),
            }
        });
        true
    }

    /// Opens an access request for an operator to answer.
    pub fn open_request(
        &self,
        door: &DoorId,
        access_point: Option<AccessPointId>,
        credential: Option<CredentialId>,
        reason: String,
        visitor_name: Option<String>,
    ) -> Result<AccessRequest, CoreError> {
        if self.cfg.door(door).is_none() {
            return Err(CoreError::NotFound(format!(
                "no door {door:?} on this site"
            )));
        }
        let cardholder = credential
            .as_ref()
            .and_then(|c| self.credentials.get(c))
            .and_then(|&(ci, _)| self.cfg.cardholders.get(ci))
            .map(|ch| ch.cardholder.id.clone());
        let created = Utc::now();
        let request = AccessRequest {
            id: RequestId::new(format!("req-{}", uuid::Uuid::new_v4().simple())),
            door: door.clone(),
            access_point,
            cardholder,
            credential,
            reason,
            visitor_name,
            created,
            expires: super::auth::time_after(created, self.cfg.request_timeout_secs),
        };
        let mut live = self.live();
        self.store.insert_request(&request)?;
        live.open_requests.push(request.clone());
        self.append_locked(
            &mut live,
            vec![EventKind::AccessRequestOpened {
                request: request.clone(),
            }],
        )?;
        Ok(request)
    }

    /// The requests waiting for an answer, oldest first.
    pub fn open_requests(&self) -> Vec<AccessRequest> {
        self.live().open_requests.clone()
    }

    /// Closes an open request; `None` when it is not open (any more).
    fn resolve_request(
        &self,
        id: &RequestId,
        outcome: RequestOutcome,
        by: Option<&str>,
        reason: Option<String>,
    ) -> Result<Option<AccessRequest>, CoreError> {
        let mut live = self.live();
        let Some(pos) = live.open_requests.iter().position(|r| &r.id == id) else {
            return Ok(None);
        };
        let now = Utc::now();
        self.store
            .resolve_request(id, outcome, by, reason.as_deref(), now)?;
        let request = live.open_requests.remove(pos);
        self.append_locked(
            &mut live,
            vec![EventKind::AccessRequestResolved {
                request: id.clone(),
                door: request.door.clone(),
                outcome,
                by: by.map(str::to_owned),
                reason,
            }],
        )?;
        Ok(Some(request))
    }

    /// Grants or denies an open request. A grant gives the door a momentary
    /// access. Both are audited.
    pub fn answer_request(
        self: &Arc<Self>,
        actor: &Actor,
        id: &RequestId,
        grant: bool,
        reason: Option<String>,
    ) -> Result<RequestOutcome, CoreError> {
        self.expire_requests();
        let outcome = if grant {
            RequestOutcome::Granted
        } else {
            RequestOutcome::Denied
        };
        let action = if grant {
            "access_request.grant"
        } else {
            "access_request.deny"
        };
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let Some(request) = self.resolve_request(id, outcome, Some(&actor.username), reason)?
        else {
            return match self.store.request(id)? {
                None => Err(CoreError::NotFound(format!("no access request {id:?}"))),
                Some(row) => Err(CoreError::Conflict(format!(
                    "access request {id:?} is already {}",
                    row.outcome.map(outcome_text).unwrap_or("resolved")
                ))),
            };
        };
        self.audit(actor, action, id.as_str(), outcome_text(outcome));
        if grant {
            let key = format!("access-request:{id}");
            if let Err(e) = self.start_command(actor, &request.door, DoorAction::Access, &key, true)
            {
                tracing::error!(request = %id, "cannot open the door for a granted request: {e:#}");
            }
        }
        Ok(outcome)
    }

    /// Denies (as `expired`) every open request past its time.
    pub fn expire_requests(&self) {
        let now = Utc::now();
        let due: Vec<RequestId> = self
            .live()
            .open_requests
            .iter()
            .filter(|r| r.expires <= now)
            .map(|r| r.id.clone())
            .collect();
        for id in due {
            match self.resolve_request(&id, RequestOutcome::Expired, None, None) {
                Ok(Some(_)) => {
                    self.audit(
                        &Actor::system(),
                        "access_request.expire",
                        id.as_str(),
                        "expired",
                    );
                }
                Ok(None) => {}
                Err(e) => tracing::error!(request = %id, "cannot expire an access request: {e:#}"),
            }
        }
    }

    // ---- cardholders and credentials ------------------------------------

    fn cardholder_now(&self, live: &Live, idx: usize) -> Option<Cardholder> {
        let mut ch = self.cfg.cardholders.get(idx)?.cardholder.clone();
        for c in &mut ch.credentials {
            if let Some(s) = live.credential_states.get(&c.id) {
                c.state = *s;
            }
        }
        Some(ch)
    }

    /// Cardholders whose name, department or a badge contains `q` (any
    /// case); all for an empty `q`.
    pub fn cardholders(&self, q: &str) -> Vec<Cardholder> {
        let q = q.trim().to_lowercase();
        let live = self.live();
        (0..self.cfg.cardholders.len())
            .filter_map(|i| self.cardholder_now(&live, i))
            .filter(|ch| {
                q.is_empty()
                    || ch.name.to_lowercase().contains(&q)
                    || ch.department.to_lowercase().contains(&q)
                    || ch
                        .credentials
                        .iter()
                        .any(|c| c.id.as_str().to_lowercase().contains(&q))
            })
            .collect()
    }

    /// One cardholder.
    pub fn cardholder(&self, id: &CardholderId) -> Result<Cardholder, CoreError> {
        let idx = self
            .cfg
            .cardholders
            .iter()
            .position(|c| &c.cardholder.id == id)
            .ok_or_else(|| CoreError::NotFound(format!("no cardholder {id:?}")))?;
        let live = self.live();
        self.cardholder_now(&live, idx)
            .ok_or_else(|| CoreError::NotFound(format!("no cardholder {id:?}")))
    }

    /// The photo file of a cardholder.
    pub fn photo_path(&self, id: &CardholderId) -> Result<PathBuf, CoreError> {
        let ch = self
            .cfg
            .cardholders
            .iter()
            .find(|c| &c.cardholder.id == id)
            .ok_or_else(|| CoreError::NotFound(format!("no cardholder {id:?}")))?;
        ch.photo
            .clone()
            .filter(|p| p.is_file())
            .ok_or_else(|| CoreError::NotFound(format!("cardholder {id:?} has no photo")))
    }

    /// Enables or disables a badge: `credential.changed`, audited; the next
    /// access decision sees it.
    pub fn set_credential(
        &self,
        actor: &Actor,
        id: &CredentialId,
        state: CredentialState,
    ) -> Result<Credential, CoreError> {
        let &(ci, ki) = self
            .credentials
            .get(id)
            .ok_or_else(|| CoreError::NotFound(format!("no credential {id:?}")))?;
        let Some(holder) = self.cfg.cardholders.get(ci) else {
            return Err(CoreError::NotFound(format!("no credential {id:?}")));
        };
        let Some(mut credential) = holder.cardholder.credentials.get(ki).cloned() else {
            return Err(CoreError::NotFound(format!("no credential {id:?}")));
        };
        {
            let mut live = self.live();
            self.store
                .set_credential_state(id, state, &actor.username, Utc::now())?;
            live.credential_states.insert(id.clone(), state);
            self.append_locked(
                &mut live,
                vec![EventKind::CredentialChanged {
                    credential: id.clone(),
                    cardholder: holder.cardholder.id.clone(),
                    state,
                    by: actor.username.clone(),
                }],
            )?;
        }
        let action = match state {
            CredentialState::Active => "credential.enable",
            CredentialState::Disabled => "credential.disable",
        };
        self.audit(actor, action, id.as_str(), "ok");
        credential.state = state;
        Ok(credential)
    }

    // ---- sessions ----------------------------------------------------------

    /// Signs in; audited either way (a failure under the name given).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        source: &str,
    ) -> Result<Session, CoreError> {
        let result = self.auth.sign_in(username, password).await;
        let name: String = username.chars().take(128).collect();
        let (role, outcome) = match &result {
            Ok(s) => (Some(s.role), "ok"),
            Err(_) => (None, "denied"),
        };
        let actor = Actor {
            username: name.clone(),
            role,
            source: source.to_owned(),
        };
        self.audit(&actor, "session.sign_in", &name, outcome);
        Ok(result?)
    }

    /// The session of a bearer token.
    pub fn authenticate(&self, token: &str) -> Result<Principal, CoreError> {
        Ok(self.auth.authenticate(token)?)
    }

    /// Ends a session; audited.
    pub fn sign_out(&self, p: &Principal, source: &str) -> Result<(), CoreError> {
        self.auth.sign_out(p)?;
        self.audit(
            &Actor::user(p, source),
            "session.sign_out",
            &p.username,
            "ok",
        );
        Ok(())
    }

    // ---- audit -------------------------------------------------------------

    /// Writes an audit entry; a failure is logged (the action already
    /// happened).
    pub fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Option<AuditEntry> {
        let rec = AuditRecord {
            user: actor.username.clone(),
            role: actor.role,
            action: action.to_owned(),
            target: target.to_owned(),
            source: actor.source.clone(),
            outcome: outcome.to_owned(),
        };
        match audit::append(&self.store, &rec) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(action, "cannot write the audit trail: {e:#}");
                None
            }
        }
    }

    /// Searches the audit trail.
    pub fn search_audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>, CoreError> {
        Ok(audit::search(&self.store, q)?)
    }

    /// Recomputes the audit chain.
    pub fn verify_audit(&self) -> Result<AuditVerification, CoreError> {
        Ok(audit::verify_store(&self.store)?)
    }

    // ---- cameras, maps, time -------------------------------------------------

    /// The cameras with the URLs they answer on now.
    pub fn cameras(&self) -> Vec<Camera> {
        let base = match &*lock(&self.cameras) {
            CameraSlot::Running { base, .. } => Some(base.clone()),
            _ if self.cfg.video.rtsp_port != 0 => {
                Some(format!("rtsp://127.0.0.1:{}", self.cfg.video.rtsp_port))
            }
            _ => None,
        };
        let mut cameras = self.cfg.cameras_with_urls(base.as_deref());
        self.probes.fill(&mut cameras);
        cameras
    }

    /// A real camera's credentials, for a signed-in client until the site
    /// relays video; NotFound when the camera has none.
    pub fn camera_credentials(
        &self,
        id: &crate::domain::CameraId,
    ) -> Result<crate::domain::CameraCredentials, CoreError> {
        self.cfg
            .camera_credentials(id)
            .cloned()
            .ok_or_else(|| CoreError::NotFound(format!("camera {id:?} has no credentials")))
    }

    /// Marks the demo cameras as being started.
    pub fn cameras_starting(&self) {
        *lock(&self.cameras) = CameraSlot::Starting;
    }

    /// Hands over the started demo cameras (or their failure). After
    /// shutdown they are stopped at once.
    pub fn cameras_started(&self, result: Result<DemoCameras, super::cameras::CameraError>) {
        match result {
            Ok(cams) => {
                if *self.shutdown.borrow() {
                    drop(cams);
                    return;
                }
                let base = cams.rtsp_base();
                tracing::info!(rtsp = %base, "demo cameras serving");
                *lock(&self.cameras) = CameraSlot::Running {
                    cams: Box::new(cams),
                    base,
                };
            }
            Err(e) => {
                tracing::warn!("demo cameras unavailable: {e:#}");
                *lock(&self.cameras) = CameraSlot::Failed;
            }
        }
    }

    /// The newest still of a camera.
    pub fn camera_still(&self, id: &crate::domain::CameraId) -> Result<Vec<u8>, CoreError> {
        if !self.cfg.cameras.iter().any(|c| &c.id == id) {
            return Err(CoreError::NotFound(format!("no camera {id:?}")));
        }
        if let Some(still) = self.probes.still(id) {
            return still.map_err(CoreError::Unavailable);
        }
        match &*lock(&self.cameras) {
            CameraSlot::Running { cams, .. } => cams
                .still_jpeg(id)
                .ok_or_else(|| CoreError::Unavailable(format!("no still of camera {id:?} yet"))),
            CameraSlot::Starting => Err(CoreError::Unavailable(
                "the demo cameras are still starting".into(),
            )),
            CameraSlot::Off | CameraSlot::Failed => Err(CoreError::Unavailable(format!(
                "no stills are served for camera {id:?}"
            ))),
        }
    }

    /// Fault injection: stalls (or releases) a demo camera.
    pub fn set_camera_stalled(
        &self,
        id: &crate::domain::CameraId,
        stalled: bool,
    ) -> Result<(), CoreError> {
        if !self.cfg.cameras.iter().any(|c| &c.id == id) {
            return Err(CoreError::NotFound(format!("no camera {id:?}")));
        }
        match &*lock(&self.cameras) {
            CameraSlot::Running { cams, .. } => {
                if cams.set_stalled(id, stalled) {
                    Ok(())
                } else {
                    Err(CoreError::NotFound(format!(
                        "camera {id:?} is not a demo camera"
                    )))
                }
            }
            _ => Err(CoreError::Unavailable(
                "the demo cameras are not running".into(),
            )),
        }
    }

    /// A floor plan's image file.
    pub fn map_image_path(&self, id: &MapId) -> Result<PathBuf, CoreError> {
        let map = self
            .cfg
            .maps
            .iter()
            .find(|m| &m.id == id)
            .ok_or_else(|| CoreError::NotFound(format!("no map {id:?}")))?;
        Ok(self.cfg.maps_dir.join(&map.image))
    }

    /// The site's clock and zone.
    pub fn time(&self) -> SiteTime {
        SiteTime {
            now: Utc::now(),
            time_zone: self.cfg.site.time_zone.clone(),
        }
    }

    // ---- fault injection ------------------------------------------------------

    fn sim(&self) -> Result<&Arc<SimulatedController>, CoreError> {
        self.sim
            .as_ref()
            .ok_or_else(|| CoreError::Unavailable("this site has no simulated controller".into()))
    }

    /// Takes the simulated controller offline or back.
    pub fn set_controller_online(&self, online: bool) -> Result<(), CoreError> {
        self.sim()?.set_online(online);
        Ok(())
    }

    /// Opens or closes a door leaf on the simulated controller.
    pub fn set_door_position(
        &self,
        door: &DoorId,
        position: DoorPosition,
    ) -> Result<(), CoreError> {
        if self.cfg.door(door).is_none() {
            return Err(CoreError::NotFound(format!(
                "no door {door:?} on this site"
            )));
        }
        let sim = self.sim()?;
        match position {
            DoorPosition::Open => sim.open(door),
            DoorPosition::Closed => sim.close(door),
        }
        Ok(())
    }

    /// Appends `count` `test.flood` events at `rate_per_sec` in the
    /// background.
    pub fn flood(self: &Arc<Self>, rate_per_sec: u32, count: u64) -> Result<(), CoreError> {
        if rate_per_sec == 0 {
            return Err(CoreError::InvalidInput(
                "rate_per_sec must be above 0".into(),
            ));
        }
        let core = Arc::clone(self);
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut sent = 0u64;
            while sent < count {
                tick.tick().await;
                let due = (start.elapsed().as_secs_f64() * f64::from(rate_per_sec)) as u64;
                let due = due.min(count);
                if due <= sent {
                    continue;
                }
                let kinds = (sent + 1..=due)
                    .map(|n| EventKind::TestFlood { n })
                    .collect();
                if let Err(e) = core.append_batch(kinds) {
                    tracing::error!("flood: {e:#}");
                    return;
                }
                sent = due;
            }
        });
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        Ok(())
    }

    // ---- lifecycle ----------------------------------------------------------------

    /// Starts the background work: mirroring the controller, expiring
    /// requests. The caller aborts the handles at shutdown.
    pub fn start_background(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let mut rx = self.controller.subscribe();
        // Whatever changed between `new` and the subscription.
        for (door, status) in self.controller.statuses() {
            self.apply_status(&door, status);
        }
        let core = Arc::clone(self);
        let mut shutdown = self.shutdown.subscribe();
        let listener = tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    biased;
                    _ = shutdown.wait_for(|s| *s) => return,
                    msg = rx.recv() => msg,
                };
                match msg {
                    Ok(ControllerEvent::Status { door, status }) => {
                        core.apply_status(&door, status)
                    }
                    Ok(ControllerEvent::Alarm { door, alarm }) => {
                        let kind = match alarm {
                            DoorAlarm::ForcedOpen => EventKind::DoorForcedOpen { door },
                            DoorAlarm::HeldOpen => EventKind::DoorHeldOpen { door },
                        };
                        if let Err(e) = core.append(kind) {
                            tracing::error!("cannot log a door alarm: {e:#}");
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "controller events lagged; resyncing door states"
                        );
                        for (door, status) in core.controller.statuses() {
                            core.apply_status(&door, status);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let core = Arc::clone(self);
        let mut shutdown = self.shutdown.subscribe();
        let expiry = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(EXPIRY_TICK_MS));
            loop {
                tokio::select! {
                    biased;
                    _ = shutdown.wait_for(|s| *s) => return,
                    _ = tick.tick() => core.expire_requests(),
                };
            }
        });
        vec![listener, expiry]
    }

    /// Stops streams, floods and cameras; does not block.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        self.probes.stop();
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        let slot = std::mem::replace(&mut *lock(&self.cameras), CameraSlot::Off);
        if let CameraSlot::Running { cams, .. } = slot {
            // Stopping the RTSP server joins its thread: not on this one.
            std::thread::spawn(move || drop(cams));
        }
    }

    /// Whether [`SiteCore::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// The audit target of a door command: `door-id:action`.
pub fn command_target(door: &DoorId, action: DoorAction) -> String {
    format!("{door}:{}", crate::site::store::enum_text(&action))
}

fn outcome_text(o: RequestOutcome) -> &'static str {
    match o {
        RequestOutcome::Granted => "granted",
        RequestOutcome::Denied => "denied",
        RequestOutcome::Expired => "expired",
    }
}

/// One live stream's pump.
struct Streamer {
    core: Arc<SiteCore>,
    tx: mpsc::Sender<StreamItem>,
    /// The last seq sent (or the start point).
    last: Seq,
    drop_rx: watch::Receiver<u64>,
    shutdown_rx: watch::Receiver<bool>,
}

impl Streamer {
    async fn run(&mut self, mut live_rx: broadcast::Receiver<Event>, head: Seq) {
        self.drop_rx.mark_unchanged();
        if !self.replay(head).await {
            return;
        }
        let mut heartbeat = tokio::time::interval(Duration::from_millis(HEARTBEAT_MS));
        heartbeat.tick().await;
        loop {
            let msg = tokio::select! {
                biased;
                _ = self.drop_rx.changed() => return,
                _ = self.shutdown_rx.wait_for(|s| *s) => return,
                _ = heartbeat.tick() => None,
                msg = live_rx.recv() => Some(msg),
            };
            let Some(msg) = msg else {
                if !self.send(StreamItem::Heartbeat).await {
                    return;
                }
                continue;
            };
            match msg {
                Ok(event) => {
                    if event.seq <= self.last {
                        continue;
                    }
                    if event.seq != self.last + 1 {
                        // Cannot happen (broadcast order is seq order); refill to be safe.
                        if !self.replay(event.seq - 1).await {
                            return;
                        }
                    }
                    let seq = event.seq;
                    if !self.send(StreamItem::Event(Box::new(event))).await {
                        return;
                    }
                    self.last = seq;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let head = self.core.last_seq();
                    if !self.replay(head).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Sends the stored events after `self.last` up to `upto`. False when
    /// the stream should end.
    async fn replay(&mut self, upto: Seq) -> bool {
        while self.last < upto {
            let batch = match self.core.store.events_after(self.last, upto, REPLAY_BATCH) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!("live stream cannot read the log: {e:#}");
                    return false;
                }
            };
            let Some(last) = batch.last().map(|e| e.seq) else {
                return true;
            };
            for event in batch {
                if !self.send(StreamItem::Event(Box::new(event))).await {
                    return false;
                }
            }
            self.last = last;
        }
        true
    }

    async fn send(&mut self, item: StreamItem) -> bool {
        tokio::select! {
            biased;
            _ = self.drop_rx.changed() => false,
            _ = self.shutdown_rx.wait_for(|s| *s) => false,
            sent = self.tx.send(item) => sent.is_ok(),
        }
    }
}

impl TrafficSink for SiteCore {
    fn present_credential(
        &self,
        ap: &AccessPointId,
        badge: &CredentialId,
    ) -> BoxFuture<'static, bool> {
        let granted = self.present_credential_now(ap, badge);
        futures_util::future::ready(granted).boxed()
    }

    fn request_access(
        &self,
        door: &DoorId,
        ap: Option<AccessPointId>,
        credential: Option<CredentialId>,
        reason: String,
        visitor_name: Option<String>,
    ) {
        if let Err(e) = self.open_request(door, ap, credential, reason, visitor_name) {
            tracing::warn!(%door, "cannot open an access request: {e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DoorCommand;
    use std::path::Path;

    fn test_config() -> SiteConfig {
        let mut c =
            SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
                .unwrap();
        c.video.demo_cameras = false;
        c.traffic.enabled = false;
        c.controller.command_latency_ms = 20;
        c
    }

    fn core_with(
        dir: &Path,
        cfg: SiteConfig,
    ) -> (Arc<SiteCore>, Arc<SimulatedController>, Vec<JoinHandle<()>>) {
        let store = Arc::new(Store::open_in(dir).unwrap());
        let sim = SimulatedController::new(&cfg.doors, &cfg.controller);
        let ctl: Arc<dyn DoorController> = sim.clone();
        let core = SiteCore::new(cfg, store, ctl, Some(sim.clone())).unwrap();
        let bg = core.start_background();
        (core, sim, bg)
    }

    fn operator() -> Actor {
        Actor {
            username: "operator".into(),
            role: Some(Role::Operator),
            source: "127.0.0.1".into(),
        }
    }

    /// Reads events from a stream until `until` matches one; returns all read.
    async fn read_until(
        rx: &mut mpsc::Receiver<StreamItem>,
        until: impl Fn(&Event) -> bool,
    ) -> Vec<Event> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let item = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out; saw {seen:#?}"))
                .expect("stream ended");
            if let StreamItem::Event(e) = item {
                let done = until(&e);
                seen.push(*e);
                if done {
                    return seen;
                }
            }
        }
    }

    #[tokio::test]
    async fn idempotent_command_actuates_once_and_reports_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (core, _sim, _bg) = core_with(dir.path(), test_config());
        let mut rx = core.stream(None);
        let door = DoorId::new("door-lobby");
        let cmd = DoorCommand {
            action: DoorAction::Unlock,
            idempotency_key: "k-1".into(),
        };
        let first = core.command(&operator(), &door, &cmd).unwrap();
        assert_eq!(first.state, CommandState::Pending);
        let again = core.command(&operator(), &door, &cmd).unwrap();
        assert_eq!(again.id, first.id);
        let clash = DoorCommand {
            action: DoorAction::Lock,
            idempotency_key: "k-1".into(),
        };
        assert_eq!(
            core.command(&operator(), &door, &clash).unwrap_err().kind(),
            ErrorKind::Conflict
        );
        let other_door = core
            .command(&operator(), &DoorId::new("door-dock"), &cmd)
            .unwrap_err();
        assert_eq!(other_door.kind(), ErrorKind::Conflict);
        let unknown = core
            .command(&operator(), &DoorId::new("nope"), &cmd)
            .unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::NotFound);

        let seen = read_until(&mut rx, |e| matches!(&e.kind, EventKind::CommandCompleted { command, .. } if *command == first.id)).await;
        let changed = seen
            .iter()
            .position(|e| matches!(&e.kind, EventKind::DoorStateChanged { door: d, status } if *d == door && status.mode == DoorMode::Unlocked));
        assert!(
            changed.is_some(),
            "door.state_changed before command.completed: {seen:#?}"
        );
        for w in seen.windows(2) {
            assert_eq!(w[1].seq, w[0].seq + 1, "stream has a gap or duplicate");
        }
        // The same key after completion: the first command, completed; no second actuation.
        let third = core.command(&operator(), &door, &cmd).unwrap();
        assert_eq!(
            (third.id.clone(), third.state),
            (first.id.clone(), CommandState::Completed)
        );
        assert_eq!(
            core.get_command(&first.id).unwrap().state,
            CommandState::Completed
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let completed = core
            .search_events(&EventQuery {
                type_name: Some("command.completed".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(completed.items.len(), 1);
        let audit = core
            .search_audit(&AuditQuery {
                action: Some("door.command".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.items.len(), 1);
        assert_eq!(audit.items[0].outcome, "completed");
        assert_eq!(audit.items[0].target, "door-lobby:unlock");
        core.shutdown();
    }

    #[tokio::test]
    async fn offline_and_refused_commands_fail_with_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = test_config();
        cfg.command_timeout_ms = 300;
        let (core, sim, _bg) = core_with(dir.path(), cfg);
        let mut rx = core.stream(None);
        let door = DoorId::new("door-server");
        let lockdown = core
            .command(
                &operator(),
                &door,
                &DoorCommand {
                    action: DoorAction::Lockdown,
                    idempotency_key: "a".into(),
                },
            )
            .unwrap();
        read_until(&mut rx, |e| matches!(&e.kind, EventKind::CommandCompleted { command, .. } if *command == lockdown.id)).await;
        let unlock = core
            .command(
                &operator(),
                &door,
                &DoorCommand {
                    action: DoorAction::Unlock,
                    idempotency_key: "b".into(),
                },
            )
            .unwrap();
        let seen = read_until(&mut rx, |e| matches!(&e.kind, EventKind::CommandFailed { command, .. } if *command == unlock.id)).await;
        let EventKind::CommandFailed { reason, .. } = &seen.last().unwrap().kind else {
            unreachable!()
        };
        assert!(reason.contains("locked down"), "{reason}");

        sim.set_online(false);
        let seen = read_until(&mut rx, |e| matches!(&e.kind, EventKind::DoorStateChanged { door: d, status } if *d == door && !status.online)).await;
        assert!(!seen.is_empty());
        let release = core
            .command(
                &operator(),
                &door,
                &DoorCommand {
                    action: DoorAction::ReleaseLockdown,
                    idempotency_key: "c".into(),
                },
            )
            .unwrap();
        let seen = read_until(&mut rx, |e| matches!(&e.kind, EventKind::CommandFailed { command, .. } if *command == release.id)).await;
        let EventKind::CommandFailed { reason, .. } = &seen.last().unwrap().kind else {
            unreachable!()
        };
        assert_eq!(reason, "the door did not confirm within 300 ms");
        let info = core.get_command(&release.id).unwrap();
        assert_eq!(info.state, CommandState::Failed);
        assert_eq!(
            info.reason.as_deref(),
            Some("the door did not confirm within 300 ms")
        );
        core.shutdown();
    }

    #[tokio::test]
    async fn access_decisions_follow_card_door_and_schedule() {
        let dir = tempfile::tempdir().unwrap();
        let (core, _sim, _bg) = core_with(dir.path(), test_config());
        let ap = AccessPointId::new("ap-server-in");
        let denied_for = |core: &SiteCore, badge: &str| -> Option<DenyReason> {
            let granted = core.present_credential_now(&ap, &CredentialId::new(badge));
            let page = core
                .search_events(&EventQuery {
                    limit: 1,
                    ..Default::default()
                })
                .unwrap();
            match &page.items[0].kind {
                EventKind::AccessGranted { .. } => {
                    assert!(granted);
                    None
                }
                EventKind::AccessDenied { reason, .. } => {
                    assert!(!granted);
                    Some(*reason)
                }
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(denied_for(&core, "100107"), None);
        assert_eq!(denied_for(&core, "999999"), Some(DenyReason::UnknownCard));
        assert_eq!(denied_for(&core, "100135"), Some(DenyReason::CardExpired));
        assert_eq!(
            denied_for(&core, "100121"),
            Some(DenyReason::OutsideSchedule)
        );
        let admin = Actor {
            username: "admin".into(),
            role: Some(Role::Admin),
            source: "127.0.0.1".into(),
        };
        let c = core
            .set_credential(
                &admin,
                &CredentialId::new("100107"),
                CredentialState::Disabled,
            )
            .unwrap();
        assert_eq!(c.state, CredentialState::Disabled);
        assert_eq!(denied_for(&core, "100107"), Some(DenyReason::CardDisabled));
        let ch = core.cardholder(&CardholderId::new("ch-002")).unwrap();
        assert_eq!(ch.credentials[0].state, CredentialState::Disabled);
        assert_eq!(core.cardholders("okafor").len(), 1);
        assert_eq!(core.cardholders("100107").len(), 1);
        assert_eq!(core.cardholders("").len(), core.config().cardholders.len());

        let mut rx = core.stream(None);
        let cmd = core
            .command(
                &admin,
                &DoorId::new("door-server"),
                &DoorCommand {
                    action: DoorAction::Lockdown,
                    idempotency_key: "ld".into(),
                },
            )
            .unwrap();
        read_until(&mut rx, |e| matches!(&e.kind, EventKind::CommandCompleted { command, .. } if *command == cmd.id)).await;
        assert_eq!(denied_for(&core, "100114"), Some(DenyReason::LockedDown));
        core.shutdown();

        // The disabled badge stays disabled after a restart.
        drop(core);
        let (core, _sim, _bg) = core_with(dir.path(), test_config());
        assert_eq!(denied_for(&core, "100107"), Some(DenyReason::CardDisabled));
        core.shutdown();
    }

    #[tokio::test]
    async fn requests_are_granted_denied_or_expire_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = test_config();
        cfg.request_timeout_secs = 1;
        let (core, _sim, _bg) = core_with(dir.path(), cfg);
        let mut rx = core.stream(None);
        let door = DoorId::new("door-lobby");
        let a = core
            .open_request(
                &door,
                None,
                Some(CredentialId::new("100107")),
                "intercom".into(),
                None,
            )
            .unwrap();
        assert_eq!(a.cardholder, Some(CardholderId::new("ch-002")));
        let b = core
            .open_request(
                &door,
                None,
                None,
                "visitor".into(),
                Some("Vera Visitor".into()),
            )
            .unwrap();
        let c = core
            .open_request(&door, None, None, "visitor".into(), None)
            .unwrap();
        assert_eq!(core.open_requests().len(), 3);
        assert_eq!(core.snapshot().open_requests.len(), 3);
        assert_eq!(
            core.answer_request(&operator(), &a.id, true, None).unwrap(),
            RequestOutcome::Granted
        );
        assert_eq!(
            core.answer_request(&operator(), &b.id, false, Some("no appointment".into()))
                .unwrap(),
            RequestOutcome::Denied
        );
        assert_eq!(
            core.answer_request(&operator(), &a.id, false, None)
                .unwrap_err()
                .kind(),
            ErrorKind::Conflict
        );
        assert_eq!(
            core.answer_request(&operator(), &RequestId::new("nope"), true, None)
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        // The grant opens the door momentarily.
        read_until(&mut rx, |e| {
            matches!(
                &e.kind,
                EventKind::CommandCompleted {
                    action: DoorAction::Access,
                    ..
                }
            )
        })
        .await;
        // Nobody answers c: it expires, audited by `system`.
        let seen = read_until(&mut rx, |e| matches!(&e.kind, EventKind::AccessRequestResolved { request, .. } if *request == c.id)).await;
        let EventKind::AccessRequestResolved { outcome, by, .. } = &seen.last().unwrap().kind
        else {
            unreachable!()
        };
        assert_eq!((*outcome, by.clone()), (RequestOutcome::Expired, None));
        assert!(core.open_requests().is_empty());
        let audit = core
            .search_audit(&AuditQuery {
                user: Some("system".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.items.len(), 1);
        assert_eq!(audit.items[0].outcome, "expired");
        assert!(core.verify_audit().unwrap().ok);
        core.shutdown();
    }

    #[tokio::test]
    async fn seq_continues_after_reopen_and_stream_replays() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (core, _sim, bg) = core_with(dir.path(), test_config());
            for n in 1..=5 {
                core.append(EventKind::TestFlood { n }).unwrap();
            }
            assert_eq!(core.last_seq(), 5);
            core.shutdown();
            bg.into_iter().for_each(|t| t.abort());
        }
        let (core, _sim, _bg) = core_with(dir.path(), test_config());
        assert_eq!(core.last_seq(), 5);
        let e = core.append(EventKind::TestFlood { n: 6 }).unwrap();
        assert_eq!(e.seq, 6);
        // A stream from seq 2 replays 3..=6 and then goes live.
        let mut rx = core.stream(Some(2));
        let seen = read_until(&mut rx, |e| e.seq == 6).await;
        assert_eq!(
            seen.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![3, 4, 5, 6]
        );
        core.append(EventKind::TestFlood { n: 7 }).unwrap();
        let seen = read_until(&mut rx, |e| e.seq == 7).await;
        assert_eq!(seen.len(), 1);
        assert_eq!(core.event_seqs().unwrap(), (1..=7).collect::<Vec<_>>());
        // Dropping streams ends them.
        core.drop_streams();
        let end = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(item) = rx.recv().await {
                assert!(matches!(item, StreamItem::Heartbeat), "unexpected {item:?}");
            }
        })
        .await;
        assert!(end.is_ok(), "stream did not end after drop_streams");
        core.shutdown();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flood_with_slow_reader_has_no_gap_or_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let (core, _sim, _bg) = core_with(dir.path(), test_config());
        let start = core.last_seq();
        let mut rx = core.stream(Some(start));
        // More than the broadcast buffer, while the reader dawdles: it lags and refills from the store.
        let count = (BROADCAST_CAPACITY as u64) * 2;
        core.flood(100_000, count).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut next = start + 1;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while next <= start + count {
            let item = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("timed out")
                .expect("ended");
            if let StreamItem::Event(e) = item {
                assert_eq!(e.seq, next, "gap or duplicate");
                next += 1;
            }
        }
        core.shutdown();
    }

    #[tokio::test]
    async fn idle_stream_sends_heartbeats() {
        let dir = tempfile::tempdir().unwrap();
        let (core, _sim, _bg) = core_with(dir.path(), test_config());
        let mut rx = core.stream(None);
        let started = tokio::time::Instant::now();
        let item = tokio::time::timeout(Duration::from_millis(HEARTBEAT_MS + 1000), rx.recv())
            .await
            .expect("no heartbeat")
            .expect("stream ended");
        assert_eq!(item, StreamItem::Heartbeat);
        assert!(started.elapsed() >= Duration::from_millis(HEARTBEAT_MS - 100));
        core.shutdown();
        let end = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        assert!(matches!(end, Ok(None)), "stream did not end at shutdown");
    }
}

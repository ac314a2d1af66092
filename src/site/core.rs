//! The site's facade: holds the services together for the HTTP layer
//! (`api`), which checks permissions and calls in. Each job lives in its own
//! service: the event log ([`super::events`]), doors and commands
//! ([`super::doors`]), people ([`super::people`]), access requests
//! ([`super::requests`]), the access decision ([`super::access`], pure),
//! sessions ([`super::sessions`] over [`super::auth`]), the audit trail ([`super::audit`]), cameras
//! ([`super::camera_slot`]) and door drivers ([`super::drivers`]). Time,
//! store, drivers and shutdown come in through [`SiteEnv`]; the background
//! tasks start in one place, [`SiteCore::start_background`].

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::SiteConfig;
use crate::domain::{
    AccessPointId, AccessRequest, AuditEntry, AuditVerification, Camera, Cardholder, CardholderId,
    CommandId, CommandInfo, Credential, CredentialId, CredentialState, DoorCommand, DoorId,
    DoorPosition, Event, EventKind, MapId, Page, RequestId, RequestOutcome, Seq, Session, SiteTime,
    Snapshot,
};

use super::access::{self, AccessInput};
use super::audit::{AuditQuery, AuditTrail};
use super::auth::{Auth, Principal};
use super::camera_slot::CameraSlot;
use super::cameras::{CameraError, DemoCameras};
use super::controller::SimulatedController;
use super::doors::Doors;
use super::env::SiteEnv;
use super::events::EventLog;
use super::people::People;
use super::requests::Requests;
use super::sessions::Sessions;
use super::store::{EventQuery, Store};
use super::traffic::TrafficSink;

pub use super::audit::Actor;
pub use super::doors::command_target;
pub use super::error::CoreError;
pub use super::events::{HEARTBEAT_MS, StreamItem};

/// The site facade. Shared as `Arc<SiteCore>` by the API, the background
/// tasks and the traffic generator.
pub struct SiteCore {
    cfg: Arc<SiteConfig>,
    /// The clock, store, drivers and shutdown signal.
    env: SiteEnv,
    sessions: Sessions,
    log: Arc<EventLog>,
    audit: Arc<AuditTrail>,
    doors: Arc<Doors>,
    people: Arc<People>,
    requests: Arc<Requests>,
    cameras: CameraSlot,
}

impl SiteCore {
    /// Builds the services over their environment (an opened store, the
    /// door drivers, the clock); they load the state kept from earlier runs
    /// (credential overrides, open requests, the last seq), and commands an
    /// earlier run left pending are failed.
    pub fn new(cfg: SiteConfig, env: SiteEnv) -> Result<Arc<SiteCore>, CoreError> {
        let cfg = Arc::new(cfg);
        let log = Arc::new(EventLog::open(&env)?);
        let audit = Arc::new(AuditTrail::new(
            Arc::clone(&env.store),
            Arc::clone(&env.clock),
        ));
        let people = Arc::new(People::new(
            Arc::clone(&cfg),
            env.clone(),
            Arc::clone(&log),
            Arc::clone(&audit),
        )?);
        let doors = Arc::new(Doors::new(
            Arc::clone(&cfg),
            env.clone(),
            Arc::clone(&log),
            Arc::clone(&audit),
        ));
        let requests = Arc::new(Requests::new(
            Arc::clone(&cfg),
            env.clone(),
            Arc::clone(&log),
            Arc::clone(&audit),
            Arc::clone(&people),
            Arc::clone(&doors),
        )?);
        doors.fail_stale_commands()?;
        Ok(Arc::new(SiteCore {
            sessions: Sessions::new(
                Auth::new(&cfg, Arc::clone(&env.store), Arc::clone(&env.clock)),
                Arc::clone(&audit),
            ),
            cameras: CameraSlot::new(Arc::clone(&cfg), env.shutdown.clone()),
            cfg,
            env,
            log,
            audit,
            doors,
            people,
            requests,
        }))
    }

    /// The site's configuration.
    pub fn config(&self) -> &SiteConfig {
        &self.cfg
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.env.store
    }

    /// The environment: clock, store, drivers, shutdown.
    pub fn env(&self) -> &SiteEnv {
        &self.env
    }

    /// The simulated controller, when the site drives one (fault injection).
    pub fn simulated_controller(&self) -> Option<&Arc<SimulatedController>> {
        self.env.drivers.simulator().ok()
    }

    // ---- the event log -------------------------------------------------

    /// Appends one event to the log.
    pub fn append(&self, kind: EventKind) -> Result<Event, CoreError> {
        self.log.append(kind)
    }

    /// Appends several events in one transaction; returns the last seq.
    pub fn append_batch(&self, kinds: Vec<EventKind>) -> Result<Seq, CoreError> {
        self.log.append_batch(kinds)
    }

    /// The newest seq.
    pub fn last_seq(&self) -> Seq {
        self.log.last_seq()
    }

    /// Every seq in the stored log, in order.
    pub fn event_seqs(&self) -> Result<Vec<Seq>, CoreError> {
        Ok(self.log.seqs()?)
    }

    /// Searches the stored log.
    pub fn search_events(&self, q: &EventQuery) -> Result<Page<Event>, CoreError> {
        Ok(self.log.search(q)?)
    }

    /// The state of the site, valid at its `seq`.
    pub fn snapshot(&self) -> Snapshot {
        let cameras = self.cameras.cameras();
        let (seq, doors, open_requests) = self
            .log
            .read_at(|seq| (seq, self.doors.with_status(), self.requests.open_requests()));
        Snapshot {
            seq,
            site: self.cfg.site.clone(),
            cameras,
            doors,
            access_points: self.cfg.access_points.clone(),
            maps: self.cfg.maps.clone(),
            open_requests,
        }
    }

    /// A live stream of events after `after` (or from now); see
    /// [`EventLog::stream`].
    pub fn stream(&self, after: Option<Seq>) -> mpsc::Receiver<StreamItem> {
        self.log.stream(after)
    }

    /// Closes every open live stream at once (clients must reconnect).
    pub fn drop_streams(&self) {
        self.log.drop_streams();
    }

    // ---- doors -----------------------------------------------------------

    /// Sends a door command; see [`Doors::command`].
    pub fn command(
        &self,
        actor: &Actor,
        door: &DoorId,
        cmd: &DoorCommand,
    ) -> Result<CommandInfo, CoreError> {
        self.doors.command(actor, door, cmd)
    }

    /// A command by id.
    pub fn get_command(&self, id: &CommandId) -> Result<CommandInfo, CoreError> {
        self.doors.get_command(id)
    }

    // ---- access ----------------------------------------------------------

    /// Decides a badge presented at a reader ([`access::decide`] on the
    /// facts of people and doors, at the site's time), logs `access.granted`
    /// or `access.denied`, and on a grant sends the door a momentary access
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
        let tz = self.cfg.time_zone();
        let decided = self.log.commit(|| {
            let at = self.env.clock.now().with_timezone(&tz);
            let facts = self.people.credential_facts(badge);
            let cardholder = facts.as_ref().map(|(id, _)| id.clone());
            let denial = access::decide(&AccessInput {
                credential: facts.map(|(_, f)| f),
                door_zone: &door_cfg.zone,
                door_mode: self.doors.mode(&door),
                at,
            })
            .denial();
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
            Ok((vec![kind], denial.is_none()))
        });
        match decided {
            Err(e) => {
                tracing::error!(%door, "cannot log an access decision: {e:#}");
                false
            }
            Ok((_, false)) => false,
            Ok((_, true)) => {
                self.doors.momentary_access(&door);
                true
            }
        }
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
        self.requests
            .open_request(door, access_point, credential, reason, visitor_name)
    }

    /// The requests waiting for an answer, oldest first.
    pub fn open_requests(&self) -> Vec<AccessRequest> {
        self.requests.open_requests()
    }

    /// Grants or denies an open request; see [`Requests::answer`].
    pub fn answer_request(
        &self,
        actor: &Actor,
        id: &RequestId,
        grant: bool,
        reason: Option<String>,
    ) -> Result<RequestOutcome, CoreError> {
        self.requests.answer(actor, id, grant, reason)
    }

    /// Denies (as `expired`) every open request past its time.
    pub fn expire_requests(&self) {
        self.requests.expire_due();
    }

    // ---- cardholders and credentials ------------------------------------

    /// Cardholders whose name, department or a badge contains `q`.
    pub fn cardholders(&self, q: &str) -> Vec<Cardholder> {
        self.people.cardholders(q)
    }

    /// One cardholder.
    pub fn cardholder(&self, id: &CardholderId) -> Result<Cardholder, CoreError> {
        self.people.cardholder(id)
    }

    /// The photo file of a cardholder.
    pub fn photo_path(&self, id: &CardholderId) -> Result<PathBuf, CoreError> {
        self.people.photo_path(id)
    }

    /// Enables or disables a badge; see [`People::set_credential`].
    pub fn set_credential(
        &self,
        actor: &Actor,
        id: &CredentialId,
        state: CredentialState,
    ) -> Result<Credential, CoreError> {
        self.people.set_credential(actor, id, state)
    }

    // ---- sessions ----------------------------------------------------------

    /// Signs in; audited either way (a failure under the name given).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        source: &str,
    ) -> Result<Session, CoreError> {
        self.sessions.sign_in(username, password, source).await
    }

    /// The session of a bearer token.
    pub fn authenticate(&self, token: &str) -> Result<Principal, CoreError> {
        self.sessions.authenticate(token)
    }

    /// Ends a session; audited.
    pub fn sign_out(&self, p: &Principal, source: &str) -> Result<(), CoreError> {
        self.sessions.sign_out(p, source)
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
        self.audit.record(actor, action, target, outcome)
    }

    /// Searches the audit trail.
    pub fn search_audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>, CoreError> {
        Ok(self.audit.search(q)?)
    }

    /// Recomputes the audit chain.
    pub fn verify_audit(&self) -> Result<AuditVerification, CoreError> {
        Ok(self.audit.verify()?)
    }

    // ---- cameras, maps, time -------------------------------------------------

    /// The cameras with the URLs they answer on now.
    pub fn cameras(&self) -> Vec<Camera> {
        self.cameras.cameras()
    }

    /// Marks the demo cameras as being started.
    pub fn cameras_starting(&self) {
        self.cameras.starting();
    }

    /// Hands over the started demo cameras (or their failure). After
    /// shutdown they are stopped at once.
    pub fn cameras_started(&self, result: Result<DemoCameras, CameraError>) {
        self.cameras.started(result);
    }

    /// The newest still of a camera.
    pub fn camera_still(&self, id: &crate::domain::CameraId) -> Result<Vec<u8>, CoreError> {
        self.cameras.still(id)
    }

    /// Fault injection: stalls (or releases) a demo camera.
    pub fn set_camera_stalled(
        &self,
        id: &crate::domain::CameraId,
        stalled: bool,
    ) -> Result<(), CoreError> {
        self.cameras.set_stalled(id, stalled)
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
            now: self.env.clock.now(),
            time_zone: self.cfg.site.time_zone.clone(),
        }
    }

    // ---- fault injection ------------------------------------------------------

    fn sim(&self) -> Result<&Arc<SimulatedController>, CoreError> {
        Ok(self.env.drivers.simulator()?)
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
    pub fn flood(&self, rate_per_sec: u32, count: u64) -> Result<(), CoreError> {
        if rate_per_sec == 0 {
            return Err(CoreError::InvalidInput(
                "rate_per_sec must be above 0".into(),
            ));
        }
        self.log.flood(rate_per_sec, count);
        Ok(())
    }

    // ---- lifecycle ----------------------------------------------------------------

    /// Starts the background work, all of it here: one listener per door
    /// driver (mirror and alarms) and request expiry. The caller aborts the
    /// handles at shutdown.
    pub fn start_background(&self) -> Vec<JoinHandle<()>> {
        let mut tasks: Vec<JoinHandle<()>> = self
            .env
            .drivers
            .subscribe()
            .into_iter()
            .map(|(driver, rx)| self.doors.listen(driver, rx))
            .collect();
        // Whatever changed between `new` and the subscription.
        self.doors.resync();
        tasks.push(self.requests.run_expiry());
        tasks
    }

    /// Stops streams, floods, commands under way and cameras; does not
    /// block.
    pub fn shutdown(&self) {
        self.env.shutdown.trigger();
        self.env.tasks.abort_all();
        self.cameras.stop();
    }

    /// Whether [`SiteCore::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.env.shutdown.is_triggered()
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
    use crate::domain::{
        CommandState, DenyReason, DoorAction, DoorCommand, DoorMode, ErrorKind, Role,
    };
    use crate::site::drivers::Drivers;
    use crate::site::env::{Clock, RealClock, SimulatedClock};
    use crate::site::events::{BROADCAST_CAPACITY, StreamItem};
    use std::path::Path;
    use std::time::Duration;

    fn test_config() -> SiteConfig {
        let mut c =
            SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
                .unwrap();
        c.video.demo_cameras = false;
        c.traffic.enabled = false;
        c.controller.command_latency_ms = 20;
        c
    }

    type Started = (Arc<SiteCore>, Arc<SimulatedController>, Vec<JoinHandle<()>>);

    fn core_with(dir: &Path, cfg: SiteConfig) -> Started {
        core_on(dir, cfg, Arc::new(RealClock))
    }

    fn core_on(dir: &Path, cfg: SiteConfig, clock: Arc<dyn Clock>) -> Started {
        let store = Arc::new(Store::open_in(dir).unwrap());
        let sim = SimulatedController::new(&cfg.doors, &cfg.controller);
        let env = SiteEnv::with_clock(clock, store, Drivers::simulated(sim.clone()));
        let core = SiteCore::new(cfg, env).unwrap();
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

    /// Waits (up to 5 s of real time) until `cond` holds.
    async fn wait_for(what: &str, cond: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn request_expires_exactly_at_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = test_config();
        cfg.request_timeout_secs = 30;
        let clock = SimulatedClock::new(chrono::Utc::now());
        let (core, _sim, _bg) = core_on(dir.path(), cfg, Arc::new(clock.clone()));
        let opened_at = clock.now();
        let req = core
            .open_request(
                &DoorId::new("door-lobby"),
                None,
                None,
                "visitor".into(),
                None,
            )
            .unwrap();
        assert_eq!(req.created, opened_at);
        assert_eq!(req.expires, opened_at + chrono::Duration::seconds(30));
        let due = clock.instant_at(req.expires);
        wait_for("the expiry task to sleep until the deadline", || {
            clock.deadlines().contains(&due)
        })
        .await;
        let mut rx = core.stream(None);

        clock.advance(Duration::from_millis(29_999));
        clock.settle().await;
        // Even asked directly, a millisecond early it is still open.
        core.expire_requests();
        assert_eq!(core.open_requests(), vec![req.clone()]);

        clock.advance(Duration::from_millis(1));
        let seen = read_until(&mut rx, |e| matches!(&e.kind, EventKind::AccessRequestResolved { request, .. } if *request == req.id)).await;
        let resolved = seen.last().unwrap();
        assert_eq!(resolved.time, opened_at + chrono::Duration::seconds(30));
        let EventKind::AccessRequestResolved { outcome, by, .. } = &resolved.kind else {
            unreachable!()
        };
        assert_eq!((*outcome, by.clone()), (RequestOutcome::Expired, None));
        assert!(core.open_requests().is_empty());
        let audit = core
            .search_audit(&AuditQuery {
                action: Some("access_request.expire".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.items.len(), 1);
        assert_eq!(
            (
                audit.items[0].user.as_str(),
                audit.items[0].outcome.as_str()
            ),
            ("system", "expired")
        );
        assert_eq!(audit.items[0].target, req.id.as_str());
        // A late answer finds it closed.
        assert_eq!(
            core.answer_request(&operator(), &req.id, true, None)
                .unwrap_err()
                .kind(),
            ErrorKind::Conflict
        );
        core.shutdown();
    }

    #[tokio::test]
    async fn command_times_out_exactly_on_the_site_clock() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = test_config();
        cfg.command_timeout_ms = 300;
        let clock = SimulatedClock::new(chrono::Utc::now());
        let (core, sim, _bg) = core_on(dir.path(), cfg, Arc::new(clock.clone()));
        let mut rx = core.stream(None);
        sim.set_online(false);
        let door = DoorId::new("door-lobby");
        let sent = clock.instant();
        let cmd = core
            .command(
                &operator(),
                &door,
                &DoorCommand {
                    action: DoorAction::Unlock,
                    idempotency_key: "t".into(),
                },
            )
            .unwrap();
        let due = sent + Duration::from_millis(300);
        wait_for("the command to sleep until its timeout", || {
            clock.deadlines().contains(&due)
        })
        .await;
        clock.advance(Duration::from_millis(299));
        clock.settle().await;
        assert_eq!(
            core.get_command(&cmd.id).unwrap().state,
            CommandState::Pending
        );
        clock.advance(Duration::from_millis(1));
        let seen = read_until(
            &mut rx,
            |e| matches!(&e.kind, EventKind::CommandFailed { command, .. } if *command == cmd.id),
        )
        .await;
        let EventKind::CommandFailed { reason, by, .. } = &seen.last().unwrap().kind else {
            unreachable!()
        };
        assert_eq!(reason, "the door did not confirm within 300 ms");
        assert_eq!(by, "operator");
        let info = core.get_command(&cmd.id).unwrap();
        assert_eq!(info.state, CommandState::Failed);
        let audit = core
            .search_audit(&AuditQuery {
                action: Some("door.command".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            audit.items[0].outcome,
            "failed: the door did not confirm within 300 ms"
        );
        core.shutdown();
    }

    #[tokio::test]
    async fn access_uses_the_site_clock_for_schedule_and_expiry() {
        use chrono::TimeZone;
        let dir = tempfile::tempdir().unwrap();
        // 2026-06-10 22:30 in Berlin: past every office schedule.
        let late = chrono::Utc
            .with_ymd_and_hms(2026, 6, 10, 20, 30, 0)
            .unwrap();
        let clock = SimulatedClock::new(late);
        let (core, _sim, _bg) = core_on(dir.path(), test_config(), Arc::new(clock.clone()));
        let lobby = AccessPointId::new("ap-lobby-in");
        // Ada's badge: the office schedule, 06 to 20 site time, valid to the end of 2028.
        let badge = CredentialId::new("100100");
        let last_denial = |core: &SiteCore| {
            let page = core
                .search_events(&EventQuery {
                    limit: 1,
                    ..Default::default()
                })
                .unwrap();
            match &page.items[0].kind {
                EventKind::AccessDenied { reason, .. } => Some(*reason),
                _ => None,
            }
        };
        assert!(!core.present_credential_now(&lobby, &badge));
        assert_eq!(last_denial(&core), Some(DenyReason::OutsideSchedule));
        // 10:00 the next morning, site time.
        clock.advance(Duration::from_secs(11 * 3600 + 30 * 60));
        assert!(core.present_credential_now(&lobby, &badge));
        // 2029-01-01 noon: past the badge's validity.
        let to_2029 = chrono::Utc.with_ymd_and_hms(2029, 1, 1, 11, 0, 0).unwrap() - clock.now();
        clock.advance(to_2029.to_std().unwrap());
        assert!(!core.present_credential_now(&lobby, &badge));
        assert_eq!(last_denial(&core), Some(DenyReason::CardExpired));
        core.shutdown();
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

    // Paused tokio time: the controller's latency and the sleep below run on
    // it, so the sleep ends only once every other task is idle.
    #[tokio::test(start_paused = true)]
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
        // Let any second actuation (there must be none) run to its end.
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
        let clock = SimulatedClock::new(chrono::Utc::now());
        let (core, _sim, _bg) = core_on(dir.path(), cfg, Arc::new(clock.clone()));
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
        clock.advance(Duration::from_secs(1));
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
        let clock = SimulatedClock::new(chrono::Utc::now());
        let (core, _sim, _bg) = core_on(dir.path(), test_config(), Arc::new(clock.clone()));
        let opened = clock.instant();
        let mut rx = core.stream(None);
        let beat = opened + Duration::from_millis(HEARTBEAT_MS);
        wait_for("the stream to sleep until its heartbeat", || {
            clock.deadlines().contains(&beat)
        })
        .await;
        clock.advance(Duration::from_millis(HEARTBEAT_MS - 1));
        clock.settle().await;
        assert!(rx.try_recv().is_err(), "a heartbeat came early");
        clock.advance(Duration::from_millis(1));
        let item = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no heartbeat")
            .expect("stream ended");
        assert_eq!(item, StreamItem::Heartbeat);
        // The next one is a period later.
        wait_for("the next heartbeat's sleep", || {
            clock
                .deadlines()
                .contains(&(beat + Duration::from_millis(HEARTBEAT_MS)))
        })
        .await;
        core.shutdown();
        let end = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        assert!(matches!(end, Ok(None)), "stream did not end at shutdown");
    }
}

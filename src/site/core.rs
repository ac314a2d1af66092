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

    /// A real camera's credentials, for a signed-in client until the site
    /// relays video; NotFound when the camera has none.
    pub fn camera_credentials(
        &self,
        id: &crate::domain::CameraId,
    ) -> Result<crate::domain::CameraCredentials, CoreError> {
        self.cameras.credentials(id)
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
#[path = "core_tests.rs"]
mod tests;

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
use tokio::task::JoinHandle;

use crate::config::SiteConfig;
use crate::domain::{
    AccessPointId, AccessRequest, AuditEntry, CredentialId, DoorId, DoorPosition, EventKind, MapId,
    SiteTime, Snapshot,
};

use super::access::{self, AccessInput};
use super::audit::AuditTrail;
use super::auth::Auth;
use super::camera_slot::CameraSlot;
use super::controller::SimulatedController;
use super::doors::Doors;
use super::env::SiteEnv;
use super::events::EventLog;
use super::maps::Maps;
use super::people::People;
use super::requests::Requests;
use super::sessions::Sessions;
use super::store::Store;
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
    maps: Maps,
    recorders: super::recording::Recorders,
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
            maps: Maps::new(&cfg, Arc::clone(&log), Arc::clone(&audit)),
            recorders: super::recording::Recorders::default(),
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

    // ---- the services ----------------------------------------------------

    /// The event log: append, search, live streams.
    pub fn events(&self) -> &Arc<EventLog> {
        &self.log
    }

    /// Doors: the mirror and door commands.
    pub fn doors(&self) -> &Arc<Doors> {
        &self.doors
    }

    /// Cardholders and credentials.
    pub fn people(&self) -> &Arc<People> {
        &self.people
    }

    /// Access requests.
    pub fn requests(&self) -> &Arc<Requests> {
        &self.requests
    }

    /// Sign-in, sessions, sign-out.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The audit trail.
    pub fn audit_trail(&self) -> &Arc<AuditTrail> {
        &self.audit
    }

    /// The floor maps and their placements.
    pub fn maps(&self) -> &Maps {
        &self.maps
    }

    /// Camera URLs, stills, credentials; the demo cameras.
    pub fn cameras(&self) -> &CameraSlot {
        &self.cameras
    }

    /// The recorders of the camera streams, once recording runs.
    pub fn recorders(&self) -> &super::recording::Recorders {
        &self.recorders
    }

    // ---- across services ----------------------------------------------------

    /// The state of the site, valid at its `seq`.
    pub fn snapshot(&self) -> Snapshot {
        let cameras = self.cameras.cameras();
        let (seq, doors, open_requests, maps) = self.log.read_at(|seq| {
            (
                seq,
                self.doors.with_status(),
                self.requests.open_requests(),
                self.maps.list(),
            )
        });
        Snapshot {
            seq,
            site: self.cfg.site.clone(),
            cameras,
            doors,
            access_points: self.cfg.access_points.clone(),
            maps,
            open_requests,
        }
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

    /// A floor plan's image file.
    pub fn map_image_path(&self, id: &MapId) -> Result<PathBuf, CoreError> {
        let map = self
            .maps
            .get(id)
            .ok_or_else(|| CoreError::NotFound(format!("no map {id:?}")))?;
        Ok(self.maps.dir().join(&map.image))
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
        tasks.push(self.sessions.run_purge());
        tasks
    }

    /// Stops streams, floods, commands under way and cameras; does not
    /// block.
    pub fn shutdown(&self) {
        self.env.shutdown.trigger();
        self.env.tasks.abort_all();
        self.cameras.stop();
        self.recorders.stop();
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

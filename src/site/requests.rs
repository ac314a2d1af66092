//! Access requests: a person at a door asks, an operator grants or denies,
//! and nobody answering lets the request expire (as denied, by `system`)
//! at its deadline on the site's clock.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::SiteConfig;
use crate::domain::{
    AccessPointId, AccessRequest, CredentialId, DoorAction, DoorId, EventKind, RequestId,
    RequestOutcome,
};

use super::audit::{Actor, AuditTrail, PENDING, actions};
use super::doors::Doors;
use super::env::SiteEnv;
use super::error::CoreError;
use super::events::EventLog;
use super::people::People;

/// The longest the expiry task sleeps before it looks at the wall clock
/// again.
const MAX_EXPIRY_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// The word for an outcome, in the audit trail and messages.
pub fn outcome_text(o: RequestOutcome) -> &'static str {
    match o {
        RequestOutcome::Granted => "granted",
        RequestOutcome::Denied => "denied",
        RequestOutcome::Expired => "expired",
    }
}

/// The access requests service.
pub struct Requests {
    cfg: Arc<SiteConfig>,
    env: SiteEnv,
    log: Arc<EventLog>,
    audit: Arc<AuditTrail>,
    people: Arc<People>,
    doors: Arc<Doors>,
    /// Open requests, oldest first; changed only inside a log commit.
    open: Mutex<Vec<AccessRequest>>,
    /// Pinged when a request opens, so expiry looks at its deadline.
    opened: Notify,
}

impl Requests {
    /// The service, with the requests an earlier run left open.
    pub fn new(
        cfg: Arc<SiteConfig>,
        env: SiteEnv,
        log: Arc<EventLog>,
        audit: Arc<AuditTrail>,
        people: Arc<People>,
        doors: Arc<Doors>,
    ) -> Result<Requests, CoreError> {
        let open = env.store.open_requests()?;
        Ok(Requests {
            cfg,
            env,
            log,
            audit,
            people,
            doors,
            open: Mutex::new(open),
            opened: Notify::new(),
        })
    }

    fn open_list(&self) -> MutexGuard<'_, Vec<AccessRequest>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
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
        let cardholder = credential.as_ref().and_then(|c| self.people.holder_of(c));
        let created = self.env.clock.now();
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
        self.log.commit(|| {
            self.env.store.insert_request(&request)?;
            self.open_list().push(request.clone());
            let kind = EventKind::AccessRequestOpened {
                request: request.clone(),
            };
            Ok((vec![kind], ()))
        })?;
        self.opened.notify_one();
        Ok(request)
    }

    /// The requests waiting for an answer, oldest first.
    pub fn open_requests(&self) -> Vec<AccessRequest> {
        self.open_list().clone()
    }

    /// Closes an open request; `None` when it is not open (any more).
    fn resolve(
        &self,
        id: &RequestId,
        outcome: RequestOutcome,
        by: Option<&str>,
        reason: Option<String>,
    ) -> Result<Option<AccessRequest>, CoreError> {
        let (_, request) = self.log.commit(|| {
            let mut open = self.open_list();
            let Some(pos) = open.iter().position(|r| &r.id == id) else {
                return Ok((vec![], None));
            };
            self.env.store.resolve_request(
                id,
                outcome,
                by,
                reason.as_deref(),
                self.env.clock.now(),
            )?;
            let request = open.remove(pos);
            let kind = EventKind::AccessRequestResolved {
                request: id.clone(),
                door: request.door.clone(),
                outcome,
                by: by.map(str::to_owned),
                reason,
            };
            Ok((vec![kind], Some(request)))
        })?;
        Ok(request)
    }

    /// Grants or denies an open request. A grant gives the door a momentary
    /// access. The answer is audited before it is acted on (outcome
    /// `pending`; when that entry cannot be written the answer is refused,
    /// 503, and nothing changes), then completed with a new entry; the
    /// grant's door command is audited as a command of its own.
    pub fn answer(
        &self,
        actor: &Actor,
        id: &RequestId,
        grant: bool,
        reason: Option<String>,
    ) -> Result<RequestOutcome, CoreError> {
        self.expire_due();
        let (outcome, action) = if grant {
            (RequestOutcome::Granted, actions::REQUEST_GRANT)
        } else {
            (RequestOutcome::Denied, actions::REQUEST_DENY)
        };
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let not_open = || -> CoreError {
            match self.env.store.request(id) {
                Err(e) => e.into(),
                Ok(None) => CoreError::NotFound(format!("no access request {id:?}")),
                Ok(Some(row)) => CoreError::Conflict(format!(
                    "access request {id:?} is already {}",
                    row.outcome.map(outcome_text).unwrap_or("resolved")
                )),
            }
        };
        if !self.open_list().iter().any(|r| &r.id == id) {
            return Err(not_open());
        }
        let pending = self.audit.try_record(actor, action, id.as_str(), PENDING)?;
        let complete = |result: &str| {
            self.audit
                .complete(actor, action, id.as_str(), pending.id, result);
        };
        let request = match self.resolve(id, outcome, Some(&actor.username), reason) {
            Ok(Some(request)) => request,
            Ok(None) => {
                let e = not_open();
                complete(&format!("failed: {e}"));
                return Err(e);
            }
            Err(e) => {
                complete(&format!("failed: {e}"));
                return Err(e);
            }
        };
        complete(outcome_text(outcome));
        if grant {
            let key = format!("access-request:{id}");
            if let Err(e) =
                self.doors
                    .start_command(actor, &request.door, DoorAction::Access, &key, true)
            {
                tracing::error!(request = %id, "cannot open the door for a granted request: {e:#}");
            }
        }
        Ok(outcome)
    }

    /// Denies (as `expired`, by `system`, audited) every open request whose
    /// deadline has come on the site's clock.
    pub fn expire_due(&self) {
        let now = self.env.clock.now();
        let due: Vec<RequestId> = self
            .open_list()
            .iter()
            .filter(|r| r.expires <= now)
            .map(|r| r.id.clone())
            .collect();
        for id in due {
            match self.resolve(&id, RequestOutcome::Expired, None, None) {
                Ok(Some(_)) => {
                    self.audit.record(
                        &Actor::system(),
                        actions::REQUEST_EXPIRE,
                        id.as_str(),
                        "expired",
                    );
                }
                Ok(None) => {}
                Err(e) => tracing::error!(request = %id, "cannot expire an access request: {e:#}"),
            }
        }
    }

    /// Expires requests at their deadlines until shutdown: sleeps on the
    /// site's clock until the earliest is due (or a request opens), then
    /// expires what is due. The facade starts it.
    pub fn run_expiry(self: &Arc<Self>) -> JoinHandle<()> {
        let requests = Arc::clone(self);
        let mut shutdown = self.env.shutdown.subscribe();
        tokio::spawn(async move {
            loop {
                let clock = &requests.env.clock;
                let earliest = requests.open_list().iter().map(|r| r.expires).min();
                // Looks again at least every MAX_EXPIRY_SLEEP, so a step of
                // the wall clock is noticed.
                let due = match earliest {
                    Some(at) => clock
                        .sleep_until(clock.instant_at(at).min(clock.instant() + MAX_EXPIRY_SLEEP)),
                    None => Box::pin(std::future::pending()),
                };
                tokio::select! {
                    biased;
                    _ = shutdown.wait_for(|s| *s) => return,
                    () = due => requests.expire_due(),
                    () = requests.opened.notified() => {}
                };
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorKind;
    use crate::site::drivers::Drivers;
    use crate::site::env::{Clock, SimulatedClock};
    use crate::site::store::Store;
    use std::path::Path;
    use std::time::Duration;

    #[tokio::test]
    async fn a_far_deadline_is_looked_at_again_within_the_cap() {
        let f = fixture(3600);
        let _task = f.requests.run_expiry();
        let req = open(&f.requests);
        let cap = f.clock.instant() + MAX_EXPIRY_SLEEP;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !f.clock.deadlines().contains(&cap) {
            assert!(tokio::time::Instant::now() < deadline, "expiry never slept");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        f.clock.advance(MAX_EXPIRY_SLEEP);
        f.clock.settle().await;
        assert_eq!(f.requests.open_requests(), vec![req]);
        f.requests.env.shutdown.trigger();
    }

    struct Fixture {
        requests: Arc<Requests>,
        clock: SimulatedClock,
        _dir: tempfile::TempDir,
    }

    /// Requests on a simulated clock, with no door drivers (a grant's door
    /// command fails, which these tests do not look at).
    fn fixture(timeout_secs: u64) -> Fixture {
        let mut cfg =
            SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
                .unwrap();
        cfg.request_timeout_secs = timeout_secs;
        let cfg = Arc::new(cfg);
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let clock = SimulatedClock::new(chrono::Utc::now());
        let env = SiteEnv::with_clock(Arc::new(clock.clone()), store, Drivers::new());
        let log = Arc::new(EventLog::open(&env).unwrap());
        let audit = Arc::new(AuditTrail::new(
            Arc::clone(&env.store),
            Arc::clone(&env.clock),
        ));
        let people = Arc::new(
            People::new(
                Arc::clone(&cfg),
                env.clone(),
                Arc::clone(&log),
                Arc::clone(&audit),
            )
            .unwrap(),
        );
        let doors = Arc::new(Doors::new(
            Arc::clone(&cfg),
            env.clone(),
            Arc::clone(&log),
            Arc::clone(&audit),
        ));
        let requests = Arc::new(Requests::new(cfg, env, log, audit, people, doors).unwrap());
        Fixture {
            requests,
            clock,
            _dir: dir,
        }
    }

    fn open(r: &Requests) -> AccessRequest {
        r.open_request(
            &DoorId::new("door-lobby"),
            None,
            None,
            "visitor".into(),
            None,
        )
        .unwrap()
    }

    fn expired_audits(r: &Requests) -> usize {
        r.audit
            .search(&crate::site::audit::AuditQuery {
                user: Some("system".into()),
                action: Some(actions::REQUEST_EXPIRE.into()),
                limit: 100,
                ..Default::default()
            })
            .unwrap()
            .items
            .len()
    }

    #[tokio::test]
    async fn expiry_table() {
        // (timeout, advance in ms, still open after)
        let cases = [
            (10, 0, true),
            (10, 9_999, true),
            (10, 10_000, false),
            (10, 10_001, false),
            (0, 0, false),
            (3600, 3_599_999, true),
            (3600, 3_600_000, false),
        ];
        for (timeout, advance_ms, open_after) in cases {
            let f = fixture(timeout);
            let req = open(&f.requests);
            f.clock.advance(Duration::from_millis(advance_ms));
            f.requests.expire_due();
            assert_eq!(
                f.requests.open_requests().len() == 1,
                open_after,
                "timeout {timeout} s, {advance_ms} ms later"
            );
            assert_eq!(expired_audits(&f.requests), usize::from(!open_after));
            let row = f.requests.env.store.request(&req.id).unwrap().unwrap();
            let want = (!open_after).then_some(RequestOutcome::Expired);
            assert_eq!(row.outcome, want);
        }
    }

    #[tokio::test]
    async fn the_expiry_task_wakes_at_the_earliest_deadline() {
        let f = fixture(10);
        let _task = f.requests.run_expiry();
        let first = open(&f.requests);
        f.clock.advance(Duration::from_secs(4));
        let second = open(&f.requests);
        let wait_for_deadline = |at| {
            let due = f.clock.instant_at(at);
            let clock = f.clock.clone();
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                while !clock.deadlines().contains(&due) {
                    assert!(tokio::time::Instant::now() < deadline, "expiry never slept");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        };
        wait_for_deadline(first.expires).await;
        f.clock.advance(Duration::from_millis(5_999));
        f.clock.settle().await;
        assert_eq!(f.requests.open_requests().len(), 2);
        f.clock.advance(Duration::from_millis(1));
        // The first goes; the task then sleeps until the second's deadline.
        wait_for_deadline(second.expires).await;
        assert_eq!(f.requests.open_requests(), vec![second.clone()]);
        f.clock.advance(Duration::from_secs(4));
        f.clock.settle().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !f.requests.open_requests().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "second never expired"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(expired_audits(&f.requests), 2);
        f.requests.env.shutdown.trigger();
    }

    #[tokio::test]
    async fn answers_once_and_never_after_expiry() {
        let f = fixture(10);
        let a = open(&f.requests);
        let b = open(&f.requests);
        let c = open(&f.requests);
        let op = Actor {
            username: "operator".into(),
            role: None,
            source: "test".into(),
        };
        assert_eq!(
            f.requests
                .answer(&op, &a.id, false, Some("  ".into()))
                .unwrap(),
            RequestOutcome::Denied
        );
        assert_eq!(
            f.requests
                .answer(&op, &a.id, true, None)
                .unwrap_err()
                .kind(),
            ErrorKind::Conflict
        );
        assert_eq!(
            f.requests
                .answer(&op, &RequestId::new("nope"), true, None)
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            f.requests.answer(&op, &b.id, true, None).unwrap(),
            RequestOutcome::Granted
        );
        // An answer at the deadline comes too late: expiry runs first.
        f.clock.advance(Duration::from_secs(10));
        let late = f.requests.answer(&op, &c.id, true, None).unwrap_err();
        assert_eq!(late.kind(), ErrorKind::Conflict);
        assert!(late.to_string().contains("expired"), "{late}");
        assert!(f.requests.open_requests().is_empty());
        assert_eq!(f.requests.env.clock.now(), c.expires);
    }
}

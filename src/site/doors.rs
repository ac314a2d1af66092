//! Doors: the mirror of what each door's driver reports, and door commands
//! (idempotency key, driver, timeout on the site's clock, outcome as
//! events and audit).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

use crate::config::SiteConfig;
use crate::domain::{
    CommandId, CommandInfo, CommandState, DoorAction, DoorAlarm, DoorCommand, DoorId, DoorMode,
    DoorStatus, EventKind,
};

use super::audit::{Actor, AuditTrail, PENDING, actions};
use super::controller::ControllerEvent;
use super::env::SiteEnv;
use super::error::CoreError;
use super::events::EventLog;
use super::store::{CommandInsert, CommandRow, SITE_KEY_SCOPE, user_key_scope};

/// Longest accepted idempotency key.
const MAX_KEY_LEN: usize = 200;
/// How long a command waits for the door mirror to show its outcome.
const MIRROR_WAIT_MS: u64 = 250;

/// The audit target of a door command: `door-id:action`.
pub fn command_target(door: &DoorId, action: DoorAction) -> String {
    format!("{door}:{}", crate::site::store::enum_text(&action))
}

/// A door nobody has reported yet.
pub fn unknown_status() -> DoorStatus {
    DoorStatus {
        online: false,
        ..DoorStatus::locked_closed()
    }
}

/// The doors service.
pub struct Doors {
    cfg: Arc<SiteConfig>,
    env: SiteEnv,
    log: Arc<EventLog>,
    audit: Arc<AuditTrail>,
    /// The last status each door's driver reported; changed only inside a
    /// log commit.
    mirror: Mutex<HashMap<DoorId, DoorStatus>>,
    /// When each door's mirrored status last changed (written under the
    /// mirror's lock, so a snapshot sees both together).
    changed: Mutex<HashMap<DoorId, crate::domain::Timestamp>>,
    /// Pinged after every change of the mirror.
    mirror_changed: Notify,
}

impl Doors {
    /// The service, its mirror filled from the drivers' current statuses.
    pub fn new(
        cfg: Arc<SiteConfig>,
        env: SiteEnv,
        log: Arc<EventLog>,
        audit: Arc<AuditTrail>,
    ) -> Doors {
        let mirror = env.drivers.statuses().into_iter().collect();
        Doors {
            cfg,
            env,
            log,
            audit,
            mirror: Mutex::new(mirror),
            changed: Mutex::new(HashMap::new()),
            mirror_changed: Notify::new(),
        }
    }

    fn mirror(&self) -> MutexGuard<'_, HashMap<DoorId, DoorStatus>> {
        self.mirror.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A door's mirrored status.
    pub fn status(&self, door: &DoorId) -> Option<DoorStatus> {
        self.mirror().get(door).copied()
    }

    /// A door's mirrored mode.
    pub fn mode(&self, door: &DoorId) -> Option<DoorMode> {
        self.status(door).map(|s| s.mode)
    }

    /// Mirrors a door's reported status; a change becomes
    /// `door.state_changed`.
    pub fn apply_status(&self, door: &DoorId, status: DoorStatus) {
        if self.cfg.door(door).is_none() {
            tracing::warn!(%door, "controller reported a door the site does not know");
            return;
        }
        let committed = self.log.commit(|| {
            let mut mirror = self.mirror();
            if mirror.get(door) == Some(&status) {
                return Ok((vec![], false));
            }
            mirror.insert(door.clone(), status);
            self.changed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(door.clone(), self.env.clock.now());
            let kind = EventKind::DoorStateChanged {
                door: door.clone(),
                status,
            };
            Ok((vec![kind], true))
        });
        match committed {
            Ok((_, false)) => return,
            Ok((_, true)) => {}
            Err(e) => tracing::error!(%door, "cannot log a door state change: {e:#}"),
        }
        self.mirror_changed.notify_waiters();
    }

    /// Logs a door alarm a driver raised.
    pub fn alarm(&self, door: DoorId, alarm: DoorAlarm) {
        let kind = match alarm {
            DoorAlarm::ForcedOpen => EventKind::DoorForcedOpen { door },
            DoorAlarm::HeldOpen => EventKind::DoorHeldOpen { door },
        };
        if let Err(e) = self.log.append(kind) {
            tracing::error!("cannot log a door alarm: {e:#}");
        }
    }

    /// Mirrors every bound door's status as its driver reports it now.
    pub fn resync(&self) {
        for (door, status) in self.env.drivers.statuses() {
            self.apply_status(&door, status);
        }
    }

    /// Waits (briefly, on the site's clock) until the mirror shows `status`
    /// for `door`, so that a command's `door.state_changed` comes before its
    /// `command.completed`.
    async fn await_mirror(&self, door: &DoorId, status: DoorStatus) {
        let mut deadline = self.env.clock.sleep(Duration::from_millis(MIRROR_WAIT_MS));
        loop {
            let notified = self.mirror_changed.notified();
            if self.status(door) == Some(status) {
                return;
            }
            tokio::select! {
                () = &mut deadline => return,
                () = notified => {}
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
        // A door no driver drives cannot be commanded: unavailable (503).
        self.env.drivers.for_door(door)?;
        // A client's key is unique among its user's keys only, so no client
        // can claim a key the site makes (such as `access-request:<id>`).
        let scope = user_key_scope(&actor.username);
        self.start_in_scope(actor, door, cmd.action, &scope, key, true)
    }

    /// Records a command under an idempotency key the site made (scope
    /// [`SITE_KEY_SCOPE`]) and starts it (or answers with the first command
    /// of that key). An `audited` command writes its audit entry (outcome
    /// `pending`) in the same transaction as the command, before the driver
    /// hears of it: when the entry cannot be written, nothing is recorded or
    /// sent and the answer is 503.
    pub fn start_command(
        self: &Arc<Self>,
        actor: &Actor,
        door: &DoorId,
        action: DoorAction,
        key: &str,
        audited: bool,
    ) -> Result<CommandInfo, CoreError> {
        self.start_in_scope(actor, door, action, SITE_KEY_SCOPE, key, audited)
    }

    fn start_in_scope(
        self: &Arc<Self>,
        actor: &Actor,
        door: &DoorId,
        action: DoorAction,
        scope: &str,
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
            scope: scope.to_owned(),
            idempotency_key: key.to_owned(),
            user: actor.username.clone(),
            created: self.env.clock.now(),
        };
        let (inserted, pending) = if audited {
            let (inserted, entry) = self.env.store.insert_command_audited(
                &row,
                self.audit.writer(
                    actor,
                    actions::DOOR_COMMAND,
                    &command_target(door, action),
                    PENDING,
                ),
            )?;
            (inserted, entry.map(|e| e.id))
        } else {
            (self.env.store.insert_command(&row)?, None)
        };
        match inserted {
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
                let doors = Arc::clone(self);
                let info = row.info.clone();
                let actor = actor.clone();
                self.env
                    .tasks
                    .spawn(async move { doors.run_command(info, actor, pending).await });
                Ok(row.info)
            }
        }
    }

    /// Carries a command out; `pending` is its audit entry, completed here
    /// with a new entry (`ok`, `failed: …` or `timeout`).
    async fn run_command(self: Arc<Self>, info: CommandInfo, actor: Actor, pending: Option<u64>) {
        let timeout_ms = self.cfg.command_timeout_ms;
        let mut timed_out = false;
        let failure = match self.env.drivers.for_door(&info.door) {
            Err(e) => Some(e.to_string()),
            Ok(driver) => {
                let answer = tokio::select! {
                    answer = driver.command(&info.door, info.action) => Some(answer),
                    () = self.env.clock.sleep(Duration::from_millis(timeout_ms)) => None,
                };
                match answer {
                    Some(Ok(status)) => {
                        self.await_mirror(&info.door, status).await;
                        None
                    }
                    Some(Err(refused)) => Some(refused.to_string()),
                    None => {
                        timed_out = true;
                        Some(format!("the door did not confirm within {timeout_ms} ms"))
                    }
                }
            }
        };
        let state = if failure.is_some() {
            CommandState::Failed
        } else {
            CommandState::Completed
        };
        if let Err(e) = self
            .env
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
        if let Err(e) = self.log.append(kind) {
            tracing::error!(command = %info.id, "cannot log a command's outcome: {e:#}");
        }
        if let Some(pending) = pending {
            let result = match &failure {
                None => "ok".to_owned(),
                Some(_) if timed_out => "timeout".to_owned(),
                Some(reason) => format!("failed: {reason}"),
            };
            self.audit.complete(
                &actor,
                actions::DOOR_COMMAND,
                &command_target(&info.door, info.action),
                pending,
                &result,
            );
        }
    }

    /// Gives a door a momentary access for a granted badge (no user asked:
    /// not audited, no command record); the outcome is only logged.
    pub fn momentary_access(&self, door: &DoorId) {
        let fut = match self.env.drivers.for_door(door) {
            Ok(driver) => driver.command(door, DoorAction::Access),
            Err(e) => {
                tracing::info!(%door, "granted access not carried out: {e}");
                return;
            }
        };
        let timeout = self
            .env
            .clock
            .sleep(Duration::from_millis(self.cfg.command_timeout_ms));
        let door = door.clone();
        self.env.tasks.spawn(async move {
            tokio::select! {
                answer = fut => if let Err(e) = answer {
                    tracing::info!(%door, "granted access not carried out: {e}");
                },
                () = timeout => tracing::info!(%door, "granted access not confirmed in time"),
            }
        });
    }

    /// A command by id.
    pub fn get_command(&self, id: &CommandId) -> Result<CommandInfo, CoreError> {
        self.env
            .store
            .command(id)?
            .map(|r| r.info)
            .ok_or_else(|| CoreError::NotFound(format!("no command {id:?}")))
    }

    /// Fails the commands an earlier run left pending (`command.failed`).
    pub fn fail_stale_commands(&self) -> Result<(), CoreError> {
        let reason = "the site restarted before the door confirmed";
        for stale in self.env.store.fail_stale_commands(reason)? {
            tracing::warn!(command = %stale.info.id, door = %stale.info.door, "command left pending by an earlier run marked failed");
            self.log.append(EventKind::CommandFailed {
                command: stale.info.id,
                door: stale.info.door,
                action: stale.info.action,
                by: stale.user,
                reason: reason.into(),
            })?;
        }
        Ok(())
    }

    /// Mirrors one driver's door statuses and logs its alarms until
    /// shutdown (the facade starts it).
    pub fn listen(
        self: &Arc<Self>,
        driver: String,
        mut rx: broadcast::Receiver<ControllerEvent>,
    ) -> JoinHandle<()> {
        let doors = Arc::clone(self);
        let mut shutdown = self.env.shutdown.subscribe();
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    biased;
                    _ = shutdown.wait_for(|s| *s) => return,
                    msg = rx.recv() => msg,
                };
                match msg {
                    Ok(ControllerEvent::Status { door, status }) => {
                        if doors.env.drivers.drives(&driver, &door) {
                            doors.apply_status(&door, status);
                        }
                    }
                    Ok(ControllerEvent::Alarm { door, alarm }) => {
                        if doors.env.drivers.drives(&driver, &door) {
                            doors.alarm(door, alarm);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            driver,
                            "controller events lagged; resyncing door states"
                        );
                        doors.resync();
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }

    /// Every configured door with its mirrored status (unknown when none
    /// was reported); call inside [`EventLog::read_at`] for a snapshot.
    pub fn with_status(&self) -> Vec<crate::domain::DoorWithStatus> {
        let mirror = self.mirror();
        let changed = self.changed.lock().unwrap_or_else(PoisonError::into_inner);
        self.cfg
            .doors
            .iter()
            .map(|d| crate::domain::DoorWithStatus {
                door: d.clone(),
                status: mirror.get(&d.id).copied().unwrap_or_else(unknown_status),
                changed: changed.get(&d.id).copied(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorKind;
    use crate::site::controller::SimulatedController;
    use crate::site::drivers::Drivers;
    use crate::site::env::{Clock, SimulatedClock};
    use crate::site::store::Store;
    use std::path::Path;

    struct Fixture {
        doors: Arc<Doors>,
        log: Arc<EventLog>,
        clock: SimulatedClock,
        _dir: tempfile::TempDir,
    }

    fn fixture(bind: bool) -> Fixture {
        fixture_with(|_, cfg| {
            let sim = SimulatedController::new(&cfg.doors, &cfg.controller);
            if bind {
                Drivers::simulated(sim)
            } else {
                Drivers::new()
            }
        })
    }

    fn fixture_with(drivers: impl FnOnce(&Arc<Store>, &SiteConfig) -> Drivers) -> Fixture {
        let mut cfg =
            SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
                .unwrap();
        cfg.controller.command_latency_ms = 20;
        cfg.command_timeout_ms = 1000;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let drivers = drivers(&store, &cfg);
        let clock = SimulatedClock::new(chrono::Utc::now());
        let env = SiteEnv::with_clock(Arc::new(clock.clone()), store, drivers);
        let log = Arc::new(EventLog::open(&env).unwrap());
        let audit = Arc::new(AuditTrail::new(
            Arc::clone(&env.store),
            Arc::clone(&env.clock),
        ));
        let doors = Arc::new(Doors::new(Arc::new(cfg), env, Arc::clone(&log), audit));
        Fixture {
            doors,
            log,
            clock,
            _dir: dir,
        }
    }

    fn op() -> Actor {
        Actor {
            username: "operator".into(),
            role: None,
            source: "test".into(),
        }
    }

    #[tokio::test]
    async fn mirror_logs_changes_only() {
        let f = fixture(true);
        let door = DoorId::new("door-lobby");
        let st = f.doors.status(&door).unwrap();
        let seq = f.log.last_seq();
        let changed = |f: &Fixture| {
            f.doors
                .with_status()
                .into_iter()
                .find(|d| d.door.id == door)
                .and_then(|d| d.changed)
        };
        f.doors.apply_status(&door, st);
        assert_eq!(f.log.last_seq(), seq, "an unchanged status is not an event");
        assert_eq!(changed(&f), None, "no change since the start");
        let open = DoorStatus {
            mode: DoorMode::Unlocked,
            ..st
        };
        f.clock.advance(std::time::Duration::from_secs(3));
        f.doors.apply_status(&door, open);
        assert_eq!(f.log.last_seq(), seq + 1);
        assert_eq!(f.doors.mode(&door), Some(DoorMode::Unlocked));
        assert_eq!(
            changed(&f),
            Some(Clock::now(&f.clock)),
            "the snapshot says when"
        );
        f.doors.apply_status(&DoorId::new("nope"), open);
        assert_eq!(f.log.last_seq(), seq + 1, "an unknown door is ignored");
    }

    #[tokio::test]
    async fn command_validation_and_idempotency() {
        let f = fixture(true);
        let door = DoorId::new("door-lobby");
        let cmd = |key: &str, action| DoorCommand {
            action,
            idempotency_key: key.into(),
        };
        let e = f
            .doors
            .command(&op(), &DoorId::new("nope"), &cmd("a", DoorAction::Unlock))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = f
            .doors
            .command(&op(), &door, &cmd("  ", DoorAction::Unlock))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let long = "k".repeat(MAX_KEY_LEN + 1);
        let e = f
            .doors
            .command(&op(), &door, &cmd(&long, DoorAction::Unlock))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let first = f
            .doors
            .command(&op(), &door, &cmd("k", DoorAction::Unlock))
            .unwrap();
        let again = f
            .doors
            .command(&op(), &door, &cmd(" k ", DoorAction::Unlock))
            .unwrap();
        assert_eq!(again.id, first.id);
        let e = f
            .doors
            .command(&op(), &door, &cmd("k", DoorAction::Lock))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict);
    }

    #[tokio::test]
    async fn a_door_without_a_driver_is_unavailable() {
        let f = fixture(false);
        let door = DoorId::new("door-lobby");
        let e = f
            .doors
            .command(
                &op(),
                &door,
                &DoorCommand {
                    action: DoorAction::Unlock,
                    idempotency_key: "x".into(),
                },
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(
            crate::site::api::status_of(e.kind()),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        let failure = crate::site::api::ApiFailure::from(e);
        assert_eq!(failure.error.kind, "unavailable");
        assert!(failure.error.message.contains("door-lobby"), "{failure:?}");
        // A grant's command (no up-front check) fails at once, without
        // waiting for a timeout.
        let info = f
            .doors
            .start_command(&op(), &door, DoorAction::Access, "grant", true)
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let failed = loop {
            let got = f.doors.get_command(&info.id).unwrap();
            if got.state != CommandState::Pending {
                break got;
            }
            assert!(tokio::time::Instant::now() < deadline, "still pending");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        assert_eq!(failed.state, CommandState::Failed);
        assert!(
            failed
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("bound to no controller driver")),
            "{failed:?}"
        );
        assert_eq!(f.clock.sleepers(), 0);
    }

    /// A driver that never answers, and notes, when it is told of a
    /// command, whether the audit trail already holds its pending entry.
    struct Silent {
        store: Arc<Store>,
        told: Arc<Mutex<Vec<bool>>>,
        events: broadcast::Sender<ControllerEvent>,
    }

    impl crate::site::controller::DoorController for Silent {
        fn statuses(&self) -> Vec<(DoorId, DoorStatus)> {
            vec![(DoorId::new("door-lobby"), DoorStatus::locked_closed())]
        }

        fn command(
            &self,
            _door: &DoorId,
            _action: DoorAction,
        ) -> futures_util::future::BoxFuture<
            'static,
            Result<DoorStatus, crate::site::controller::ControllerError>,
        > {
            let pending = crate::site::audit::search(
                &self.store,
                &crate::site::audit::AuditQuery {
                    action: Some(actions::DOOR_COMMAND.into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .unwrap()
            .items
            .iter()
            .any(|e| e.outcome == PENDING && e.target == "door-lobby:unlock");
            self.told.lock().unwrap().push(pending);
            Box::pin(std::future::pending())
        }

        fn subscribe(&self) -> broadcast::Receiver<ControllerEvent> {
            self.events.subscribe()
        }
    }

    fn silent_fixture() -> (Fixture, Arc<Mutex<Vec<bool>>>) {
        let told = Arc::new(Mutex::new(Vec::new()));
        let t = Arc::clone(&told);
        let f = fixture_with(move |store, _| {
            let mut d = Drivers::new();
            d.register(
                "silent",
                Arc::new(Silent {
                    store: Arc::clone(store),
                    told: t,
                    events: broadcast::channel(4).0,
                }),
            );
            d.bind(DoorId::new("door-lobby"), "silent").unwrap();
            d
        });
        (f, told)
    }

    fn door_audit(f: &Fixture) -> Vec<crate::domain::AuditEntry> {
        crate::site::audit::search(
            &f.doors.env.store,
            &crate::site::audit::AuditQuery {
                action: Some(actions::DOOR_COMMAND.into()),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap()
        .items
    }

    #[tokio::test]
    async fn a_command_is_audited_pending_before_the_driver_hears_of_it() {
        let (f, told) = silent_fixture();
        let door = DoorId::new("door-lobby");
        let cmd = DoorCommand {
            action: DoorAction::Unlock,
            idempotency_key: "k".into(),
        };
        let info = f.doors.command(&op(), &door, &cmd).unwrap();
        assert_eq!(info.state, CommandState::Pending);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while told.lock().unwrap().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the driver was never told"
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(
            *told.lock().unwrap(),
            vec![true],
            "the pending entry came first"
        );
        // The driver never answers: the pending entry is all there is.
        let pending = door_audit(&f);
        assert_eq!(
            pending
                .iter()
                .map(|e| e.outcome.as_str())
                .collect::<Vec<_>>(),
            vec![PENDING]
        );
        // The timeout completes it with a new entry that names it.
        while f.clock.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        f.clock.advance(Duration::from_millis(1000));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let done = loop {
            let entries = door_audit(&f);
            if entries.len() == 2 {
                break entries;
            }
            assert!(tokio::time::Instant::now() < deadline, "{entries:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        assert_eq!(done[0].outcome, format!("entry {}: timeout", pending[0].id));
        assert_eq!(done[1], pending[0]);
        assert_eq!(
            f.doors.get_command(&info.id).unwrap().state,
            CommandState::Failed
        );
    }

    #[tokio::test]
    async fn a_command_whose_audit_entry_cannot_be_written_is_refused() {
        let (f, told) = silent_fixture();
        let conn = rusqlite::Connection::open(f.doors.env.store.path()).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit
             BEGIN SELECT RAISE(ABORT, 'audit disk gone'); END;",
        )
        .unwrap();
        let door = DoorId::new("door-lobby");
        let cmd = DoorCommand {
            action: DoorAction::Unlock,
            idempotency_key: "k".into(),
        };
        let e = f.doors.command(&op(), &door, &cmd).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(e.to_string().contains("audit disk gone"), "{e}");
        // Nothing recorded, so nothing to start and no driver told.
        let commands: i64 = conn
            .query_row("SELECT count(*) FROM commands", [], |r| r.get(0))
            .unwrap();
        assert_eq!(commands, 0);
        assert_eq!(f.doors.env.tasks.running(), 0);
        assert!(told.lock().unwrap().is_empty());
        // Once it can be written, the same key is a new command.
        conn.execute_batch("DROP TRIGGER audit_down").unwrap();
        let info = f.doors.command(&op(), &door, &cmd).unwrap();
        assert_eq!(info.state, CommandState::Pending);
        assert_eq!(door_audit(&f).len(), 1);
    }

    #[test]
    fn command_target_names_door_and_action() {
        assert_eq!(
            command_target(&DoorId::new("door-lobby"), DoorAction::ReleaseLockdown),
            "door-lobby:release_lockdown"
        );
    }
}

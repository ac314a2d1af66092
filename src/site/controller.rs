//! Door controllers: the trait the site talks to, and the simulated driver
//! (an ONVIF Profile C driver comes later).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::broadcast;

use crate::config::ControllerConfig;
use crate::domain::{
    Door, DoorAction, DoorAlarm, DoorId, DoorInput, DoorMode, DoorPosition, DoorRefusal,
    DoorStatus, ErrorKind,
};
use crate::site::env::{Clock, RealClock};

/// What a controller reports on its own: a door's new status, or an alarm.
#[derive(Debug, Clone, PartialEq)]
pub enum ControllerEvent {
    Status { door: DoorId, status: DoorStatus },
    Alarm { door: DoorId, alarm: DoorAlarm },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControllerError {
    #[error("no such door on this controller")]
    UnknownDoor,
    #[error(transparent)]
    Refused(#[from] DoorRefusal),
}

impl ControllerError {
    /// How the site answers a command that failed this way.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ControllerError::UnknownDoor => ErrorKind::NotFound,
            ControllerError::Refused(DoorRefusal::Offline) => ErrorKind::Unavailable,
            ControllerError::Refused(_) => ErrorKind::Conflict,
        }
    }
}

/// A door controller. Commands are requests: the returned future resolves
/// when the door reports the new status. A controller that cannot be reached
/// never answers; the caller races the future against its command timeout.
pub trait DoorController: Send + Sync + 'static {
    /// The current status of every door this controller drives.
    fn statuses(&self) -> Vec<(DoorId, DoorStatus)>;

    /// Actuates a door. Resolves with the status the door reports after
    /// carrying the command out, or why it refused.
    fn command(
        &self,
        door: &DoorId,
        action: DoorAction,
    ) -> BoxFuture<'static, Result<DoorStatus, ControllerError>>;

    /// Every status change and alarm from now on, in order.
    fn subscribe(&self) -> broadcast::Receiver<ControllerEvent>;
}

/// A controller that simulates its doors in memory: locks with a command
/// latency, momentary access that relocks after the door's access time,
/// forced-open and held-open alarms, and an online switch for fault
/// injection.
pub struct SimulatedController {
    inner: Arc<Inner>,
}

/// What the controller and its timers share. Timers hold it weakly, so a
/// dropped controller lets its timers end without acting.
struct Inner {
    command_latency: Duration,
    state: Mutex<State>,
    events: broadcast::Sender<ControllerEvent>,
    runtime: tokio::runtime::Handle,
    /// Latency, access time and held-open thresholds run on it.
    clock: Arc<dyn Clock>,
}

struct State {
    online: bool,
    /// Counts the times the controller went offline: a command sent before
    /// an outage is lost even if the controller is back when it would land.
    outages: u64,
    /// In config order.
    doors: Vec<SimDoor>,
}

struct SimDoor {
    id: DoorId,
    access_time: Duration,
    held_open_threshold: Duration,
    status: DoorStatus,
    /// Bumped by every accepted command: an access timer only relocks the
    /// access that started it.
    access_generation: u64,
    /// Bumped by every opening: a held-open timer only acts on the opening
    /// that started it.
    opening_generation: u64,
}

impl State {
    fn door_mut(&mut self, id: &DoorId) -> Option<&mut SimDoor> {
        self.doors.iter_mut().find(|d| &d.id == id)
    }

    fn door(&self, id: &DoorId) -> Option<&SimDoor> {
        self.doors.iter().find(|d| &d.id == id)
    }
}

/// Broadcast capacity: a slow subscriber lags (and is told so) rather than
/// slowing the doors.
const EVENT_CAPACITY: usize = 4096;

impl SimulatedController {
    /// Starts the simulation with every door locked, closed and online; its
    /// timers run on the current tokio runtime.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub fn new(doors: &[Door], cfg: &ControllerConfig) -> Arc<Self> {
        Self::with_clock(doors, cfg, Arc::new(RealClock))
    }

    /// [`SimulatedController::new`] with its timers (command latency,
    /// access time, held-open threshold) on `clock`.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub fn with_clock(doors: &[Door], cfg: &ControllerConfig, clock: Arc<dyn Clock>) -> Arc<Self> {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let doors = doors
            .iter()
            .map(|d| SimDoor {
                id: d.id.clone(),
                access_time: Duration::from_millis(d.access_time_ms),
                held_open_threshold: Duration::from_millis(d.held_open_threshold_ms),
                status: DoorStatus::locked_closed(),
                access_generation: 0,
                opening_generation: 0,
            })
            .collect();
        Arc::new(Self {
            inner: Arc::new(Inner {
                command_latency: Duration::from_millis(cfg.command_latency_ms),
                state: Mutex::new(State {
                    online: true,
                    outages: 0,
                    doors,
                }),
                events,
                runtime: tokio::runtime::Handle::current(),
                clock,
            }),
        })
    }

    /// Takes every door's controller offline (or back online). Emits the
    /// status of every door either way: offline ones show as unknown.
    pub fn set_online(&self, online: bool) {
        let mut st = self.inner.lock();
        if st.online == online {
            return;
        }
        st.online = online;
        if !online {
            st.outages += 1;
        }
        tracing::info!(online, "simulated door controller");
        for d in &mut st.doors {
            if let Ok((status, _)) = d.status.apply(DoorInput::Online(online)) {
                d.status = status;
            }
            // Sent directly: going offline is the last thing anyone hears.
            let _ = self.inner.events.send(ControllerEvent::Status {
                door: d.id.clone(),
                status: d.status,
            });
        }
    }

    /// Whether the controller can be reached.
    pub fn is_online(&self) -> bool {
        self.inner.lock().online
    }

    /// The simulated truth of one door (what the door physically is, even
    /// while nobody can hear the controller).
    pub fn status(&self, door: &DoorId) -> Option<DoorStatus> {
        self.inner.lock().door(door).map(|d| d.status)
    }

    /// The door leaf opens (a person pushes it). Opening a locked door
    /// raises a forced-open alarm; a door left open past its threshold
    /// raises a held-open alarm. While offline the door still opens, but
    /// nothing is reported until the controller is back.
    pub fn open(&self, door: &DoorId) {
        let mut st = self.inner.lock();
        let online = st.online;
        let Some(d) = st.door_mut(door) else {
            tracing::warn!(%door, "open: no such door on the simulated controller");
            return;
        };
        let was_open = d.status.position == DoorPosition::Open;
        let Ok((status, alarms)) = d.status.apply(DoorInput::Opened) else {
            return;
        };
        let changed = status != d.status;
        d.status = status;
        if !was_open {
            d.opening_generation += 1;
            self.inner.start_held_open_timer(
                door.clone(),
                d.opening_generation,
                d.held_open_threshold,
            );
        }
        if online && changed {
            self.inner.report(door, status, alarms);
        }
    }

    /// The door leaf closes. A momentary access ends with it.
    pub fn close(&self, door: &DoorId) {
        if !self.inner.sense(door, DoorInput::Closed, |_| true) {
            tracing::warn!(%door, "close: no such door on the simulated controller");
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave a DoorStatus half written: keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a door's new status, then its alarms. Called with the state
    /// locked, so events leave in the order the doors changed.
    fn report(&self, door: &DoorId, status: DoorStatus, alarms: Vec<DoorAlarm>) {
        // No subscriber is not an error: nobody is listening yet.
        let _ = self.events.send(ControllerEvent::Status {
            door: door.clone(),
            status,
        });
        for alarm in alarms {
            let _ = self.events.send(ControllerEvent::Alarm {
                door: door.clone(),
                alarm,
            });
        }
    }

    /// Applies a sensor or timer input when `still_due` holds for the door;
    /// reports a change while online. False when the door is unknown.
    fn sense(
        &self,
        door: &DoorId,
        input: DoorInput,
        still_due: impl FnOnce(&SimDoor) -> bool,
    ) -> bool {
        let mut st = self.lock();
        let online = st.online;
        let Some(d) = st.door_mut(door) else {
            return false;
        };
        if !still_due(d) {
            return true;
        }
        if let Ok((status, alarms)) = d.status.apply(input)
            && status != d.status
        {
            d.status = status;
            if online {
                self.report(door, status, alarms);
            }
        }
        true
    }

    /// Carries out a command that reached the controller. `None` when the
    /// controller was unreachable at some point since it was sent: the
    /// answer never comes.
    fn execute(
        self: &Arc<Self>,
        door: &DoorId,
        action: DoorAction,
        outages_when_sent: u64,
    ) -> Option<Result<DoorStatus, ControllerError>> {
        let mut st = self.lock();
        if !st.online || st.outages != outages_when_sent {
            return None;
        }
        let Some(d) = st.door_mut(door) else {
            return Some(Err(ControllerError::UnknownDoor));
        };
        let (status, alarms) = match d.status.apply(DoorInput::Command(action)) {
            Ok(applied) => applied,
            Err(refusal) => return Some(Err(refusal.into())),
        };
        d.status = status;
        d.access_generation += 1;
        if action == DoorAction::Access && status.mode == DoorMode::Accessed {
            self.start_access_timer(door.clone(), d.access_generation, d.access_time);
        }
        tracing::debug!(%door, action = action.label(), "simulated door command done");
        self.report(door, status, alarms);
        Some(Ok(status))
    }

    fn start_access_timer(self: &Arc<Self>, door: DoorId, generation: u64, after: Duration) {
        let inner = Arc::downgrade(self);
        let elapsed = self.clock.sleep(after);
        self.runtime.spawn(async move {
            elapsed.await;
            if let Some(inner) = inner.upgrade() {
                inner.sense(&door, DoorInput::AccessTimeElapsed, |d| {
                    d.access_generation == generation
                });
            }
        });
    }

    fn start_held_open_timer(self: &Arc<Self>, door: DoorId, generation: u64, after: Duration) {
        let inner = Arc::downgrade(self);
        let elapsed = self.clock.sleep(after);
        self.runtime.spawn(async move {
            elapsed.await;
            if let Some(inner) = inner.upgrade() {
                inner.sense(&door, DoorInput::HeldOpenTimeElapsed, |d| {
                    d.opening_generation == generation && d.status.position == DoorPosition::Open
                });
            }
        });
    }
}

impl DoorController for SimulatedController {
    fn statuses(&self) -> Vec<(DoorId, DoorStatus)> {
        self.inner
            .lock()
            .doors
            .iter()
            .map(|d| (d.id.clone(), d.status))
            .collect()
    }

    fn command(
        &self,
        door: &DoorId,
        action: DoorAction,
    ) -> BoxFuture<'static, Result<DoorStatus, ControllerError>> {
        let (known, online, outages) = {
            let st = self.inner.lock();
            (st.door(door).is_some(), st.online, st.outages)
        };
        if !known {
            return Box::pin(std::future::ready(Err(ControllerError::UnknownDoor)));
        }
        let inner = Arc::clone(&self.inner);
        let door = door.clone();
        Box::pin(async move {
            if !online {
                // Nobody hears the command: no answer, ever. `pending` holds
                // no waker and no task; the caller's timeout drops it.
                return std::future::pending().await;
            }
            inner.clock.sleep(inner.command_latency).await;
            match inner.execute(&door, action, outages) {
                Some(answer) => answer,
                None => std::future::pending().await,
            }
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<ControllerEvent> {
        self.inner.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DoorState, FailMode};
    use futures_util::FutureExt;
    use tokio::sync::broadcast::error::TryRecvError;
    use tokio::time::{Instant, sleep, timeout};

    const LATENCY_MS: u64 = 150;
    const ACCESS_MS: u64 = 5000;
    const HELD_MS: u64 = 20_000;

    fn door(id: &str) -> Door {
        Door {
            id: DoorId::new(id),
            name: id.to_owned(),
            zone: "office".into(),
            map: None,
            fail_mode: FailMode::FailSecure,
            access_time_ms: ACCESS_MS,
            held_open_threshold_ms: HELD_MS,
            cameras: vec![],
        }
    }

    fn controller() -> Arc<SimulatedController> {
        let cfg = ControllerConfig {
            driver: "simulated".into(),
            command_latency_ms: LATENCY_MS,
        };
        SimulatedController::new(&[door("d1"), door("d2")], &cfg)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn drain(rx: &mut broadcast::Receiver<ControllerEvent>) -> Vec<ControllerEvent> {
        let mut out = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(ev) => out.push(ev),
                Err(TryRecvError::Empty) => return out,
                Err(e) => panic!("receiver: {e}"),
            }
        }
    }

    fn alarms(events: &[ControllerEvent]) -> Vec<DoorAlarm> {
        events
            .iter()
            .filter_map(|e| match e {
                ControllerEvent::Alarm { alarm, .. } => Some(*alarm),
                ControllerEvent::Status { .. } => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn starts_locked_closed_online_in_config_order() {
        let c = controller();
        let s = c.statuses();
        assert_eq!(
            s.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
            ["d1", "d2"]
        );
        assert!(s.iter().all(|(_, st)| *st == DoorStatus::locked_closed()));
        assert!(c.is_online());
    }

    #[tokio::test(start_paused = true)]
    async fn command_answers_after_latency_then_reports_status() {
        let c = controller();
        let d1 = DoorId::new("d1");
        let mut rx = c.subscribe();
        // Not done a millisecond early.
        let early = timeout(ms(LATENCY_MS - 1), c.command(&d1, DoorAction::Unlock)).await;
        assert!(early.is_err(), "answered before the latency");
        assert_eq!(c.status(&d1).map(|s| s.mode), Some(DoorMode::Locked));
        assert!(drain(&mut rx).is_empty());

        let t0 = Instant::now();
        let status = c.command(&d1, DoorAction::Unlock).await.expect("unlock");
        assert_eq!(t0.elapsed(), ms(LATENCY_MS));
        assert_eq!(status.mode, DoorMode::Unlocked);
        assert_eq!(
            drain(&mut rx),
            vec![ControllerEvent::Status {
                door: d1.clone(),
                status
            }]
        );
        assert_eq!(
            c.status(&DoorId::new("d2")),
            Some(DoorStatus::locked_closed())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_door_fails_at_once() {
        let c = controller();
        let answer = c
            .command(&DoorId::new("nope"), DoorAction::Unlock)
            .now_or_never()
            .expect("answered at once");
        assert_eq!(answer, Err(ControllerError::UnknownDoor));
        assert_eq!(ControllerError::UnknownDoor.kind(), ErrorKind::NotFound);
    }

    #[tokio::test(start_paused = true)]
    async fn access_relocks_after_access_time_and_a_second_access_restarts_it() {
        let c = controller();
        let d1 = DoorId::new("d1");
        let mut rx = c.subscribe();
        let s = c.command(&d1, DoorAction::Access).await.expect("access");
        assert_eq!(s.mode, DoorMode::Accessed);
        sleep(ms(ACCESS_MS - 1)).await;
        assert_eq!(c.status(&d1).map(|s| s.mode), Some(DoorMode::Accessed));
        sleep(ms(2)).await;
        assert_eq!(c.status(&d1).map(|s| s.mode), Some(DoorMode::Locked));
        let ev = drain(&mut rx);
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert_eq!(
            ev[1],
            ControllerEvent::Status {
                door: d1.clone(),
                status: DoorStatus::locked_closed()
            }
        );

        // Second grant 3 s into the first: relocks ACCESS_MS after the second.
        c.command(&d1, DoorAction::Access).await.expect("access 1");
        sleep(ms(3000)).await;
        c.command(&d1, DoorAction::Access).await.expect("access 2");
        let second = Instant::now();
        sleep(ms(ACCESS_MS - 100)).await;
        assert_eq!(
            c.status(&d1).map(|s| s.mode),
            Some(DoorMode::Accessed),
            "the first access's timer relocked a renewed access"
        );
        sleep(ms(200)).await;
        assert_eq!(c.status(&d1).map(|s| s.mode), Some(DoorMode::Locked));
        assert!(second.elapsed() >= ms(ACCESS_MS));
    }

    #[tokio::test(start_paused = true)]
    async fn opening_a_locked_door_is_forced_and_clears_on_close() {
        let c = controller();
        let d1 = DoorId::new("d1");
        let mut rx = c.subscribe();
        c.open(&d1);
        let ev = drain(&mut rx);
        let ControllerEvent::Status { status, .. } = &ev[0] else {
            panic!("status first: {ev:?}");
        };
        assert!(status.forced);
        assert_eq!(status.state(true), DoorState::Forced);
        assert_eq!(
            ev[1],
            ControllerEvent::Alarm {
                door: d1.clone(),
                alarm: DoorAlarm::ForcedOpen
            }
        );
        c.close(&d1);
        let ev = drain(&mut rx);
        assert_eq!(
            ev,
            vec![ControllerEvent::Status {
                door: d1.clone(),
                status: DoorStatus::locked_closed()
            }]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn granted_passage_raises_no_alarm_and_relocks_on_close() {
        let c = controller();
        let d1 = DoorId::new("d1");
        let mut rx = c.subscribe();
        c.command(&d1, DoorAction::Access).await.expect("access");
        sleep(ms(800)).await;
        c.open(&d1);
        sleep(ms(3000)).await;
        c.close(&d1);
        sleep(ms(HELD_MS * 2)).await;
        let ev = drain(&mut rx);
        assert!(alarms(&ev).is_empty(), "{ev:?}");
        assert_eq!(c.status(&d1), Some(DoorStatus::locked_closed()));
    }

    #[tokio::test(start_paused = true)]
    async fn held_open_alarm_after_threshold_only() {
        let c = controller();
        let d1 = DoorId::new("d1");
        let mut rx = c.subscribe();
        c.command(&d1, DoorAction::Access).await.expect("access");
        c.open(&d1);
        sleep(ms(HELD_MS - 1)).await;
        assert!(alarms(&drain(&mut rx)).is_empty());
        sleep(ms(2)).await;
        let ev = drain(&mut rx);
        assert_eq!(alarms(&ev), vec![DoorAlarm::HeldOpen]);
        assert_eq!(
            c.status(&d1).map(|s| s.state(true)),
            Some(DoorState::HeldOpen)
        );
        c.close(&d1);
        assert_eq!(c.status(&d1), Some(DoorStatus::locked_closed()));

        // Closed before the threshold, then reopened: the first opening's
        // timer must not count the second opening's time.
        c.command(&d1, DoorAction::Access).await.expect("access");
        c.open(&d1);
        sleep(ms(HELD_MS - 5000)).await;
        c.close(&d1);
        c.command(&d1, DoorAction::Access).await.expect("access");
        c.open(&d1);
        let reopened = Instant::now();
        sleep(ms(5000 + 1000)).await; // past the first opening's threshold
        assert!(
            alarms(&drain(&mut rx)).is_empty(),
            "a stale held-open timer fired"
        );
        c.close(&d1);
        sleep(ms(HELD_MS * 2)).await;
        assert!(alarms(&drain(&mut rx)).is_empty(), "alarm after close");
        assert!(reopened.elapsed() > ms(HELD_MS));
    }

    #[tokio::test(start_paused = true)]
    async fn offline_controller_never_answers_and_shows_unknown() {
        let c = controller();
        let d1 = DoorId::new("d1");
        let mut rx = c.subscribe();
        c.set_online(false);
        let ev = drain(&mut rx);
        assert_eq!(ev.len(), 2);
        for e in &ev {
            let ControllerEvent::Status { status, .. } = e else {
                panic!("{e:?}");
            };
            assert!(!status.online);
            assert_eq!(status.state(true), DoorState::Unknown);
        }
        assert!(c.statuses().iter().all(|(_, s)| !s.online));

        let answer = timeout(ms(LATENCY_MS * 10), c.command(&d1, DoorAction::Unlock)).await;
        assert!(
            answer.is_err(),
            "an offline controller answered: {answer:?}"
        );

        // A command sent while offline stays unanswered after the controller
        // is back, and is never carried out.
        let mut lost = c.command(&d1, DoorAction::Unlock);
        assert!(timeout(ms(LATENCY_MS * 2), &mut lost).await.is_err());
        // The door is forced while nobody hears the controller.
        c.open(&d1);
        assert!(drain(&mut rx).is_empty(), "offline controller was heard");
        // Sent while offline, the controller back before it would land.
        let mut quick = c.command(&d1, DoorAction::Unlock);
        c.set_online(true);
        assert!(timeout(ms(LATENCY_MS * 10), &mut lost).await.is_err());
        assert!(timeout(ms(LATENCY_MS * 10), &mut quick).await.is_err());
        assert_eq!(c.status(&d1).map(|s| s.mode), Some(DoorMode::Locked));
        // Back online: every door's current truth is reported.
        let ev = drain(&mut rx);
        assert_eq!(ev.len(), 2, "{ev:?}");
        let ControllerEvent::Status { status, .. } = &ev[0] else {
            panic!("{ev:?}");
        };
        assert!(status.online && status.forced);
        // Commands work again.
        let s = c.command(&d1, DoorAction::Unlock).await.expect("unlock");
        assert_eq!(s.mode, DoorMode::Unlocked);
    }

    #[tokio::test(start_paused = true)]
    async fn command_in_flight_when_controller_drops_is_lost() {
        let c = controller();
        let d1 = DoorId::new("d1");
        let mut fut = c.command(&d1, DoorAction::Unlock);
        assert!(timeout(ms(50), &mut fut).await.is_err());
        c.set_online(false);
        c.set_online(true);
        assert!(timeout(ms(LATENCY_MS * 10), &mut fut).await.is_err());
        assert_eq!(c.status(&d1).map(|s| s.mode), Some(DoorMode::Locked));
    }

    #[tokio::test(start_paused = true)]
    async fn lockdown_refuses_unlock_until_released() {
        let c = controller();
        let d1 = DoorId::new("d1");
        let s = c
            .command(&d1, DoorAction::Lockdown)
            .await
            .expect("lockdown");
        assert_eq!(s.mode, DoorMode::LockedDown);
        let refused = c.command(&d1, DoorAction::Unlock).await;
        assert_eq!(
            refused,
            Err(ControllerError::Refused(DoorRefusal::LockedDown))
        );
        assert_eq!(refused.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
        assert_eq!(c.status(&d1).map(|s| s.mode), Some(DoorMode::LockedDown));
        c.command(&d1, DoorAction::ReleaseLockdown)
            .await
            .expect("release");
        let s = c.command(&d1, DoorAction::Unlock).await.expect("unlock");
        assert_eq!(s.mode, DoorMode::Unlocked);
    }

    #[tokio::test]
    async fn timers_run_on_the_given_clock() {
        use crate::site::env::SimulatedClock;
        let clock = SimulatedClock::new(chrono::Utc::now());
        let cfg = ControllerConfig {
            driver: "simulated".into(),
            command_latency_ms: LATENCY_MS,
        };
        let c = SimulatedController::with_clock(&[door("d1")], &cfg, Arc::new(clock.clone()));
        let d1 = DoorId::new("d1");
        let mut rx = c.subscribe();
        // The command lands after exactly its latency of the clock.
        let mut cmd = c.command(&d1, DoorAction::Access);
        assert!((&mut cmd).now_or_never().is_none());
        clock.advance(ms(LATENCY_MS - 1));
        assert!((&mut cmd).now_or_never().is_none());
        clock.advance(ms(1));
        let st = cmd.await.unwrap();
        assert_eq!(st.mode, DoorMode::Accessed);
        drain(&mut rx);
        // Opened and left open: held-open exactly at the threshold (the
        // access time, shorter, relocks on the way without an alarm).
        c.open(&d1);
        clock.advance(ms(HELD_MS - 1));
        clock.settle().await;
        assert!(alarms(&drain(&mut rx)).is_empty());
        assert_eq!(c.status(&d1).map(|s| s.position), Some(DoorPosition::Open));
        clock.advance(ms(1));
        clock.settle().await;
        assert_eq!(alarms(&drain(&mut rx)), vec![DoorAlarm::HeldOpen]);
        assert_eq!(
            c.status(&d1).map(|s| s.state(true)),
            Some(DoorState::HeldOpen)
        );
        assert_eq!(clock.sleepers(), 0, "every timer has run");
    }
}

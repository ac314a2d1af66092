//! What the site's services are given instead of reaching for globals: the
//! clock, the store, the shutdown signal and the door drivers. Tests build a
//! [`SiteEnv`] on a [`SimulatedClock`] and move time by hand, so expiry,
//! timeouts and heartbeats are tested in microseconds, without sleeps.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::domain::Timestamp;

use super::drivers::Drivers;
use super::store::Store;

/// Wall time (UTC) and monotonic time, and sleeping on the latter.
pub trait Clock: Send + Sync + 'static {
    /// The wall-clock time, UTC.
    fn now(&self) -> Timestamp;

    /// The monotonic time, for deadlines.
    fn instant(&self) -> Instant;

    /// Resolves once [`Clock::instant`] reaches `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;

    /// Resolves after `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleep_until(self.instant() + duration)
    }

    /// The monotonic instant at which the wall clock shows `at` (now, for a
    /// time already past).
    fn instant_at(&self, at: Timestamp) -> Instant {
        let ahead = (at - self.now()).to_std().unwrap_or_default();
        self.instant() + ahead
    }
}

/// The real clock: `Utc::now()` and tokio's timer (so tokio's paused time
/// in tests moves it too).
#[derive(Debug, Default, Clone, Copy)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }

    fn instant(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
}

/// A clock that moves only when told to ([`SimulatedClock::advance`]); every
/// sleeper whose deadline has passed wakes. Cloning shares the clock.
#[derive(Clone)]
pub struct SimulatedClock {
    inner: Arc<SimInner>,
}

struct SimInner {
    /// The monotonic origin: `instant()` is this plus the time advanced.
    origin: Instant,
    /// The wall time at the origin.
    start: Timestamp,
    /// Time advanced so far; every change wakes the sleepers to look.
    elapsed: watch::Sender<Duration>,
    sleepers: Mutex<Sleepers>,
}

#[derive(Default)]
struct Sleepers {
    next_id: u64,
    /// Sleeper id → its deadline (as time since the origin).
    deadlines: BTreeMap<u64, Duration>,
}

impl SimInner {
    fn sleepers(&self) -> MutexGuard<'_, Sleepers> {
        self.sleepers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn elapsed(&self) -> Duration {
        *self.elapsed.borrow()
    }
}

/// Removes a sleeper from the books when its sleep ends or is dropped.
struct SleeperEntry {
    inner: Arc<SimInner>,
    id: u64,
}

impl Drop for SleeperEntry {
    fn drop(&mut self) {
        self.inner.sleepers().deadlines.remove(&self.id);
    }
}

impl SimulatedClock {
    /// A clock showing `start`, standing still.
    pub fn new(start: Timestamp) -> SimulatedClock {
        SimulatedClock {
            inner: Arc::new(SimInner {
                origin: Instant::now(),
                start,
                elapsed: watch::channel(Duration::ZERO).0,
                sleepers: Mutex::new(Sleepers::default()),
            }),
        }
    }

    /// Moves both clocks forward by `by` and wakes every sleeper that is
    /// due.
    pub fn advance(&self, by: Duration) {
        self.inner.elapsed.send_modify(|e| *e += by);
    }

    /// How many sleeps are under way.
    pub fn sleepers(&self) -> usize {
        self.inner.sleepers().deadlines.len()
    }

    /// How many sleeps are due but have not yet been seen to end (their task
    /// has not run since).
    pub fn due_sleepers(&self) -> usize {
        let elapsed = self.inner.elapsed();
        self.inner
            .sleepers()
            .deadlines
            .values()
            .filter(|d| **d <= elapsed)
            .count()
    }

    /// Every deadline slept until now, earliest first.
    pub fn deadlines(&self) -> Vec<Instant> {
        let mut d: Vec<Instant> = self
            .inner
            .sleepers()
            .deadlines
            .values()
            .map(|d| self.inner.origin + *d)
            .collect();
        d.sort();
        d
    }

    /// The earliest deadline anyone sleeps until.
    pub fn next_deadline(&self) -> Option<Instant> {
        let first = self.inner.sleepers().deadlines.values().min().copied();
        first.map(|d| self.inner.origin + d)
    }

    /// Lets the runtime run until every due sleeper has woken (its task ran
    /// past the sleep), or gives up after many turns.
    pub async fn settle(&self) {
        for _ in 0..10_000 {
            if self.due_sleepers() == 0 {
                return;
            }
            tokio::task::yield_now().await;
        }
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> Timestamp {
        let elapsed = chrono::Duration::from_std(self.inner.elapsed()).unwrap_or_default();
        self.inner.start + elapsed
    }

    fn instant(&self) -> Instant {
        self.inner.origin + self.inner.elapsed()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        let due = deadline.saturating_duration_since(self.inner.origin);
        let id = {
            let mut s = self.inner.sleepers();
            let id = s.next_id;
            s.next_id += 1;
            s.deadlines.insert(id, due);
            id
        };
        let entry = SleeperEntry {
            inner: Arc::clone(&self.inner),
            id,
        };
        let mut elapsed = self.inner.elapsed.subscribe();
        Box::pin(async move {
            let _entry = entry;
            loop {
                if *elapsed.borrow_and_update() >= due {
                    return;
                }
                if elapsed.changed().await.is_err() {
                    // The sender lives as long as `_entry`: cannot happen.
                    return std::future::pending().await;
                }
            }
        })
    }
}

/// The site-wide stop signal: set once, seen by every task.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl Shutdown {
    /// Signals every task to stop.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`Shutdown::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// A receiver to `wait_for(|s| *s)` on.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }

    /// Resolves once the site shuts down.
    pub fn wait(&self) -> BoxFuture<'static, ()> {
        let mut rx = self.subscribe();
        Box::pin(async move {
            // An error means the sender is gone: that is a shutdown too.
            let _ = rx.wait_for(|s| *s).await;
        })
    }
}

/// The site's short-lived tasks (a command waiting for its door, a live
/// stream, a flood): every service spawns through it, and shutdown aborts
/// what is still running, so nothing writes after the site stopped.
#[derive(Clone, Default)]
pub struct Tasks {
    running: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Tasks {
    /// Spawns `task` on the current tokio runtime, tracked.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task).abort_handle();
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.retain(|t| !t.is_finished());
        running.push(handle);
    }

    /// How many tracked tasks have not finished.
    pub fn running(&self) -> usize {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.iter().filter(|t| !t.is_finished()).count()
    }

    /// Aborts every tracked task.
    pub fn abort_all(&self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for t in running.drain(..) {
            t.abort();
        }
    }
}

/// What the site's services are given: the clock, the store, the shutdown
/// signal, the door drivers and the task set.
#[derive(Clone)]
pub struct SiteEnv {
    pub clock: Arc<dyn Clock>,
    pub store: Arc<Store>,
    pub shutdown: Shutdown,
    pub drivers: Arc<Drivers>,
    pub tasks: Tasks,
}

impl SiteEnv {
    /// An environment on the real clock.
    pub fn new(store: Arc<Store>, drivers: Drivers) -> SiteEnv {
        SiteEnv::with_clock(Arc::new(RealClock), store, drivers)
    }

    /// An environment on the given clock (a [`SimulatedClock`] in tests).
    pub fn with_clock(clock: Arc<dyn Clock>, store: Arc<Store>, drivers: Drivers) -> SiteEnv {
        SiteEnv {
            clock,
            store,
            shutdown: Shutdown::default(),
            drivers: Arc::new(drivers),
            tasks: Tasks::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use futures_util::FutureExt;

    fn t0() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap()
    }

    #[test]
    fn simulated_clock_moves_only_when_advanced() {
        let c = SimulatedClock::new(t0());
        let i0 = c.instant();
        assert_eq!(c.now(), t0());
        assert_eq!(c.instant(), i0);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now(), t0() + chrono::Duration::milliseconds(1500));
        assert_eq!(c.instant(), i0 + Duration::from_millis(1500));
        let at = t0() + chrono::Duration::seconds(10);
        assert_eq!(c.instant_at(at), i0 + Duration::from_secs(10));
        // A time in the past is now.
        assert_eq!(c.instant_at(t0()), c.instant());
    }

    #[test]
    fn sleeper_wakes_exactly_at_its_deadline() {
        let c = SimulatedClock::new(t0());
        let mut sleep = c.sleep(Duration::from_millis(100));
        assert_eq!(c.sleepers(), 1);
        assert_eq!(
            c.next_deadline(),
            Some(c.instant() + Duration::from_millis(100))
        );
        assert!((&mut sleep).now_or_never().is_none());
        assert_eq!(c.deadlines(), [c.instant() + Duration::from_millis(100)]);
        c.advance(Duration::from_millis(99));
        assert_eq!(c.due_sleepers(), 0);
        assert!((&mut sleep).now_or_never().is_none());
        c.advance(Duration::from_millis(1));
        assert_eq!(c.due_sleepers(), 1);
        assert!((&mut sleep).now_or_never().is_some());
        assert_eq!(c.sleepers(), 0, "a finished sleep leaves the books");
    }

    #[test]
    fn dropped_sleep_leaves_the_books_and_past_deadline_is_ready() {
        let c = SimulatedClock::new(t0());
        let sleep = c.sleep(Duration::from_secs(1));
        assert_eq!(c.sleepers(), 1);
        drop(sleep);
        assert_eq!(c.sleepers(), 0);
        let past = c.instant();
        c.advance(Duration::from_secs(1));
        assert!(c.sleep_until(past).now_or_never().is_some());
        assert!(c.sleep(Duration::ZERO).now_or_never().is_some());
    }

    #[tokio::test]
    async fn advance_wakes_a_sleeping_task() {
        let c = SimulatedClock::new(t0());
        let c2 = c.clone();
        let task = tokio::spawn(async move {
            c2.sleep(Duration::from_secs(3600)).await;
            c2.now()
        });
        // Wait until the task sleeps, then move an hour on.
        while c.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        c.advance(Duration::from_secs(3600));
        let woke_at = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the sleeper did not wake")
            .unwrap();
        assert_eq!(woke_at, t0() + chrono::Duration::hours(1));
    }

    #[tokio::test(start_paused = true)]
    async fn real_clock_follows_tokio_time() {
        let c = RealClock;
        let i0 = c.instant();
        c.sleep(Duration::from_secs(5)).await;
        assert!(c.instant() >= i0 + Duration::from_secs(5));
    }

    #[tokio::test]
    async fn tasks_are_tracked_and_aborted() {
        let tasks = Tasks::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        tasks.spawn(async {});
        assert!(tasks.running() >= 1);
        tasks.abort_all();
        // The aborted task dropped its sender.
        let ended = tokio::time::timeout(Duration::from_secs(5), rx).await;
        assert!(matches!(ended, Ok(Err(_))), "the task was not aborted");
        assert_eq!(tasks.running(), 0);
    }

    #[test]
    fn shutdown_is_seen_by_every_clone() {
        let s = Shutdown::default();
        let s2 = s.clone();
        let wait = s2.wait();
        assert!(!s2.is_triggered());
        s.trigger();
        assert!(s2.is_triggered());
        assert!(wait.now_or_never().is_some());
    }
}

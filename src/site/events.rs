//! The event log: one site-wide sequence, stored, broadcast in seq order,
//! and streamed to clients with replay from the store.
//!
//! The log's lock is the site's commit point. A service changes its own
//! state only inside [`EventLog::commit`], and the snapshot reads every
//! service inside [`EventLog::read_at`]: the snapshot is exactly the state at
//! its seq. Lock order: the log, then a service's own lock, never the other
//! way round.
//!
//! No SQLite work happens under the lock: a commit numbers its events and
//! queues them for the store's writer thread, then lets go of the lock and
//! waits. The writer stores each batch in queue (so seq) order and only then
//! broadcasts it, from its own thread: broadcast order is seq order, and no
//! client sees an event that is not stored. [`EventLog::settled`] waits until
//! every seq up to a number is stored (a snapshot is answered only then).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

use crate::domain::{Event, EventKind, Page, Seq};

use super::env::{Clock, Shutdown, SiteEnv, Tasks};
use super::error::CoreError;
use super::store::{EventQuery, Pending, Store, StoreError};
use super::stream_cap::StreamCap;

/// Live event broadcast capacity; a subscriber further behind refills from
/// the store.
pub(crate) const BROADCAST_CAPACITY: usize = 4096;
/// Events read from the store per replay batch.
const REPLAY_BATCH: usize = 500;
/// How often a live stream sends its `: hb` comment.
pub const HEARTBEAT_MS: u64 = 2000;
/// How often a flood appends its due events.
const FLOOD_TICK_MS: u64 = 5;

/// What a live stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Event(Box<Event>),
    Heartbeat,
}

/// The event log service.
pub struct EventLog {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
    tasks: Tasks,
    /// The newest seq handed out; held while a change is committed.
    head: Mutex<Seq>,
    /// Every seq up to this one is stored (or was refused by the store).
    settled: watch::Sender<Seq>,
    events: broadcast::Sender<Event>,
    /// Bumped to close every open live stream.
    stream_generation: watch::Sender<u64>,
    /// Live streams open per session.
    stream_cap: StreamCap,
}

impl EventLog {
    /// The log over the env's store, continuing its sequence.
    pub fn open(env: &SiteEnv) -> Result<EventLog, StoreError> {
        let head = env.store.last_seq()?;
        Ok(EventLog {
            store: Arc::clone(&env.store),
            clock: Arc::clone(&env.clock),
            shutdown: env.shutdown.clone(),
            tasks: env.tasks.clone(),
            head: Mutex::new(head),
            settled: watch::channel(head).0,
            events: broadcast::channel(BROADCAST_CAPACITY).0,
            stream_generation: watch::channel(0).0,
            stream_cap: StreamCap::default(),
        })
    }

    /// How many live streams each session holds (the API takes a place
    /// before it opens one).
    pub fn stream_cap(&self) -> &StreamCap {
        &self.stream_cap
    }

    fn head(&self) -> MutexGuard<'_, Seq> {
        self.head.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `change` and appends the events it returns: numbered under the
    /// lock (so a snapshot never sees the change without its events), queued
    /// for the store, then stored and broadcast in seq order by the store's
    /// writer thread. Returns once they are stored.
    pub fn commit<R>(
        &self,
        change: impl FnOnce() -> Result<(Vec<EventKind>, R), CoreError>,
    ) -> Result<(Vec<Event>, R), CoreError> {
        let (events, r, pending) = {
            let mut head = self.head();
            let (kinds, r) = change()?;
            let events = self.number(&head, kinds);
            let Some(pending) = self.queue(&mut head, &events)? else {
                return Ok((events, r));
            };
            (events, r, pending)
        };
        pending.wait()?;
        Ok((events, r))
    }

    /// Appends one event.
    pub fn append(&self, kind: EventKind) -> Result<Event, CoreError> {
        let (mut events, ()) = self.commit(|| Ok((vec![kind], ())))?;
        events
            .pop()
            .ok_or_else(|| CoreError::Store(StoreError::Corrupt("append stored nothing".into())))
    }

    /// Appends several events in one transaction; returns the last seq.
    pub fn append_batch(&self, kinds: Vec<EventKind>) -> Result<Seq, CoreError> {
        let (last, pending) = {
            let mut head = self.head();
            let events = self.number(&head, kinds);
            let pending = self.queue(&mut head, &events)?;
            (*head, pending)
        };
        if let Some(p) = pending {
            p.wait()?;
        }
        Ok(last)
    }

    /// Stamps `kinds` with the next seqs and the site's time.
    fn number(&self, head: &Seq, kinds: Vec<EventKind>) -> Vec<Event> {
        let time = self.clock.now();
        kinds
            .into_iter()
            .zip(*head + 1..)
            .map(|(kind, seq)| Event { seq, time, kind })
            .collect()
    }

    /// Queues numbered events for the store (under the lock, so in seq
    /// order) and moves the head past them. The writer thread broadcasts them
    /// once stored and marks their seqs settled, stored or not (a refused
    /// batch leaves a hole in the stored log, never a reused seq).
    fn queue(&self, head: &mut Seq, events: &[Event]) -> Result<Option<Pending<()>>, CoreError> {
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(None);
        };
        let live = self.events.clone();
        let settle = Settle {
            settled: self.settled.clone(),
            last,
        };
        let to_send = events.to_vec();
        let pending = self.store.queue_events(events, move |stored| {
            if stored {
                for e in to_send {
                    // No receiver is fine: nobody is streaming.
                    let _ = live.send(e);
                }
            } else {
                tracing::error!(last, "events not stored; they are not broadcast");
            }
            drop(settle);
        })?;
        *head = last;
        Ok(Some(pending))
    }

    /// Waits until every event up to `seq` is stored (or refused).
    pub async fn settled(&self, seq: Seq) {
        let mut rx = self.settled.subscribe();
        let _ = rx.wait_for(|s| *s >= seq).await;
    }

    /// Reads other services' state with no change committed meanwhile:
    /// `read` sees exactly the state at the seq it is given.
    pub fn read_at<R>(&self, read: impl FnOnce(Seq) -> R) -> R {
        let head = self.head();
        read(*head)
    }

    /// The newest stored seq.
    pub fn last_seq(&self) -> Seq {
        *self.settled.borrow()
    }

    /// Every seq in the stored log, in order.
    pub fn seqs(&self) -> Result<Vec<Seq>, CoreError> {
        Ok(self.store.event_seqs()?)
    }

    /// Searches the stored log.
    pub fn search(&self, q: &EventQuery) -> Result<Page<Event>, CoreError> {
        Ok(self.store.search_events(q)?)
    }

    /// A live stream of events after `after` (or from now): the missed ones
    /// from the store, then live ones, each exactly once and in order, with
    /// a heartbeat every [`HEARTBEAT_MS`] of the site's clock. It ends when
    /// the client goes, on [`EventLog::drop_streams`], or at shutdown.
    pub fn stream(self: &Arc<Self>, after: Option<Seq>) -> mpsc::Receiver<StreamItem> {
        let (tx, rx) = mpsc::channel(64);
        let (live_rx, head) = {
            let head = self.head();
            (self.events.subscribe(), *head)
        };
        let mut s = Streamer {
            log: Arc::clone(self),
            tx,
            last: after.unwrap_or(head),
            drop_rx: self.stream_generation.subscribe(),
            shutdown_rx: self.shutdown.subscribe(),
        };
        self.tasks.spawn(async move { s.run(live_rx, head).await });
        rx
    }

    /// Closes every open live stream at once (clients must reconnect).
    pub fn drop_streams(&self) {
        self.stream_generation.send_modify(|g| *g += 1);
    }

    /// Appends `count` `test.flood` events at `rate_per_sec` of the site's
    /// clock, in the background.
    pub fn flood(self: &Arc<Self>, rate_per_sec: u32, count: u64) {
        let log = Arc::clone(self);
        self.tasks.spawn(log.run_flood(rate_per_sec, count));
    }

    async fn run_flood(self: Arc<Self>, rate_per_sec: u32, count: u64) {
        let clock = Arc::clone(&self.clock);
        let start = clock.instant();
        let mut sent = 0u64;
        while sent < count {
            clock.sleep(Duration::from_millis(FLOOD_TICK_MS)).await;
            let elapsed = clock.instant().saturating_duration_since(start);
            let due = (elapsed.as_secs_f64() * f64::from(rate_per_sec)) as u64;
            let due = due.min(count);
            if due <= sent {
                continue;
            }
            let kinds = (sent + 1..=due)
                .map(|n| EventKind::TestFlood { n })
                .collect();
            if let Err(e) = self.append_batch(kinds) {
                tracing::error!("flood: {e:#}");
                return;
            }
            sent = due;
        }
    }
}

/// Marks a queued batch's seqs settled when dropped: after the writer ran it,
/// or if the job never ran (a panic, the store gone), so waiters never hang.
struct Settle {
    settled: watch::Sender<Seq>,
    last: Seq,
}

impl Drop for Settle {
    fn drop(&mut self) {
        let last = self.last;
        self.settled.send_if_modified(|s| {
            let newer = *s < last;
            if newer {
                *s = last;
            }
            newer
        });
    }
}

/// One live stream's pump.
struct Streamer {
    log: Arc<EventLog>,
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
        let clock = Arc::clone(&self.log.clock);
        let period = Duration::from_millis(HEARTBEAT_MS);
        let mut next_beat = clock.instant() + period;
        let mut heartbeat = clock.sleep_until(next_beat);
        loop {
            let msg = tokio::select! {
                biased;
                _ = self.drop_rx.changed() => return,
                _ = self.shutdown_rx.wait_for(|s| *s) => return,
                () = &mut heartbeat => None,
                msg = live_rx.recv() => Some(msg),
            };
            let Some(msg) = msg else {
                // Like a tokio interval that bursts: every missed beat is sent.
                next_beat += period;
                heartbeat = clock.sleep_until(next_beat);
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
                    let head = self.log.last_seq();
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
            let batch = match self.log.store.events_after(self.last, upto, REPLAY_BATCH) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::drivers::Drivers;
    use crate::site::env::SimulatedClock;
    use chrono::TimeZone;

    fn log_in(dir: &std::path::Path, clock: &SimulatedClock) -> Arc<EventLog> {
        let store = Arc::new(Store::open_in(dir).unwrap());
        let env = SiteEnv::with_clock(Arc::new(clock.clone()), store, Drivers::new());
        Arc::new(EventLog::open(&env).unwrap())
    }

    fn t0() -> crate::domain::Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap()
    }

    #[test]
    fn a_commit_lets_go_of_the_log_while_the_store_writes_and_broadcasts_once_stored() {
        let dir = tempfile::tempdir().unwrap();
        let clock = SimulatedClock::new(t0());
        let log = log_in(dir.path(), &clock);
        let mut live = log.events.subscribe();
        // Stall the writer thread: it runs one job at a time.
        let (stalled_tx, stalled_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let store = Arc::clone(&log.store);
        let staller = std::thread::spawn(move || {
            store.write_blocking(move |_| {
                stalled_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok(())
            })
        });
        stalled_rx.recv().unwrap();
        let appender = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || log.append(EventKind::TestFlood { n: 1 }))
        };
        // The change is numbered at once and the lock let go: a snapshot
        // reads the new head while the store has not written it. (Read on
        // another thread: under a held lock it would block, not fail.)
        let (head_tx, head_rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                while log.read_at(|seq| seq) != 1 {
                    std::thread::yield_now();
                }
                let _ = head_tx.send(());
            });
        }
        let read = head_rx.recv_timeout(Duration::from_secs(5));
        if read.is_err() {
            release_tx.send(()).unwrap();
            panic!("the commit kept the log locked while the store wrote");
        }
        assert_eq!(log.last_seq(), 0, "not stored yet");
        assert!(matches!(
            live.try_recv(),
            Err(broadcast::error::TryRecvError::Empty)
        ));
        assert!(
            !appender.is_finished(),
            "append returned before its event was stored"
        );
        release_tx.send(()).unwrap();
        staller.join().unwrap().unwrap();
        let event = appender.join().unwrap().unwrap();
        assert_eq!(event.seq, 1);
        // Returned means stored, broadcast and settled.
        assert_eq!(log.last_seq(), 1);
        assert_eq!(live.try_recv().unwrap().seq, 1);
        assert_eq!(log.seqs().unwrap(), vec![1]);
    }

    #[test]
    fn commit_numbers_stamps_and_keeps_the_change_with_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let clock = SimulatedClock::new(t0());
        let log = log_in(dir.path(), &clock);
        let (events, answer) = log
            .commit(|| {
                Ok((
                    vec![EventKind::TestFlood { n: 1 }, EventKind::TestFlood { n: 2 }],
                    "done",
                ))
            })
            .unwrap();
        assert_eq!(answer, "done");
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert!(events.iter().all(|e| e.time == t0()));
        clock.advance(Duration::from_secs(5));
        let e = log.append(EventKind::TestFlood { n: 3 }).unwrap();
        assert_eq!((e.seq, e.time), (3, t0() + chrono::Duration::seconds(5)));
        // A change that fails appends nothing.
        let failed = log.commit::<()>(|| Err(CoreError::Conflict("no".into())));
        assert!(failed.is_err());
        // Nothing to append changes nothing.
        let (none, ()) = log.commit(|| Ok((vec![], ()))).unwrap();
        assert!(none.is_empty());
        assert_eq!(log.last_seq(), 3);
        assert_eq!(log.read_at(|seq| seq), 3);
        assert_eq!(
            log.append_batch(vec![EventKind::TestFlood { n: 4 }])
                .unwrap(),
            4
        );
        assert_eq!(log.seqs().unwrap(), [1, 2, 3, 4]);
        drop(log);
        // The sequence continues after a reopen.
        let log = log_in(dir.path(), &clock);
        assert_eq!(log.append(EventKind::TestFlood { n: 5 }).unwrap().seq, 5);
    }

    async fn next(rx: &mut mpsc::Receiver<StreamItem>) -> StreamItem {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("timed out")
            .expect("ended")
    }

    #[tokio::test]
    async fn stream_replays_then_goes_live_and_beats_on_the_site_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = SimulatedClock::new(t0());
        let log = log_in(dir.path(), &clock);
        for n in 1..=3 {
            log.append(EventKind::TestFlood { n }).unwrap();
        }
        let mut rx = log.stream(Some(1));
        for want in 2..=3 {
            let StreamItem::Event(e) = next(&mut rx).await else {
                panic!("a heartbeat before the replay ended")
            };
            assert_eq!(e.seq, want);
        }
        log.append(EventKind::TestFlood { n: 4 }).unwrap();
        assert!(matches!(next(&mut rx).await, StreamItem::Event(e) if e.seq == 4));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while clock.sleepers() == 0 {
            assert!(tokio::time::Instant::now() < deadline);
            tokio::task::yield_now().await;
        }
        clock.advance(Duration::from_millis(HEARTBEAT_MS));
        assert_eq!(next(&mut rx).await, StreamItem::Heartbeat);
        log.drop_streams();
        let end = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(matches!(end, Ok(None)), "the stream did not end");
    }
}

//! One thread that feeds every watched scene stream: on a shared frame grid
//! (one wake-up per frame interval for all streams), it pushes each stream's
//! next access unit into its `appsrc` with a fresh timestamp, the running
//! time at the push. A stream nobody watches is not in the list; a stalled
//! camera's streams keep their sessions but get no frames.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::scenes::Stream;

/// The shared frame grid: tick `k` is due at `epoch + k * frame`, and shows
/// loop position `k mod loop_frames`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub epoch: Instant,
    pub frame: Duration,
}

impl Grid {
    /// The tick that is due at `at` (the last one not after it).
    pub fn tick_at(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch).as_nanos();
        let frame = self.frame.as_nanos().max(1);
        u64::try_from(since / frame).unwrap_or(u64::MAX)
    }

    fn due(&self, tick: u64) -> Instant {
        let ns = u64::try_from(self.frame.as_nanos()).unwrap_or(u64::MAX);
        self.epoch + Duration::from_nanos(ns.saturating_mul(tick))
    }
}

enum Phase {
    /// Not playing yet (or again): start at a key frame once it plays.
    Waiting,
    Running {
        next: usize,
        last_pts: gst::ClockTime,
    },
}

struct Feed {
    src: glib::WeakRef<gst_app::AppSrc>,
    stream: Arc<Stream>,
    stalled: Arc<AtomicBool>,
    phase: Phase,
    /// Seen playing once: going back to READY/NULL means the media is gone.
    played: bool,
}

#[derive(Default)]
struct State {
    feeds: Vec<Feed>,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    grid: Grid,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Registers new `appsrc`s with the feeder; cheap to clone into signal
/// handlers.
#[derive(Clone)]
pub(super) struct FeederHandle(Arc<Shared>);

impl FeederHandle {
    /// Feeds `src` with `stream` from now on, until its media goes away.
    pub fn register(&self, src: &gst_app::AppSrc, stream: Arc<Stream>, stalled: Arc<AtomicBool>) {
        let mut st = self.0.lock();
        if st.shutdown {
            return;
        }
        st.feeds.push(Feed {
            src: src.downgrade(),
            stream,
            stalled,
            phase: Phase::Waiting,
            played: false,
        });
        drop(st);
        self.0.wake.notify_all();
    }

    /// Number of streams registered (watched or about to be).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().feeds.len()
    }
}

/// The feeder thread; dropping it stops the thread.
pub(super) struct Feeder {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Feeder {
    pub fn start(grid: Grid) -> std::io::Result<Feeder> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            grid,
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("demo-cam-feeder".into())
            .spawn(move || run(&s))?;
        Ok(Feeder {
            shared,
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> FeederHandle {
        FeederHandle(self.shared.clone())
    }

    /// Re-checks stall flags now rather than at the next tick.
    pub fn wake(&self) {
        self.shared.wake.notify_all();
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        {
            let mut st = self.shared.lock();
            st.shutdown = true;
            st.feeds.clear();
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared) {
    let grid = shared.grid;
    let mut tick = grid.tick_at(Instant::now()) + 1;
    let mut st = shared.lock();
    loop {
        if st.shutdown {
            return;
        }
        if st.feeds.is_empty() {
            st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            tick = tick.max(grid.tick_at(Instant::now()) + 1);
            continue;
        }
        let now = Instant::now();
        let due = grid.due(tick);
        if now < due {
            st = shared
                .wake
                .wait_timeout(st, due - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
            continue;
        }
        st.feeds.retain_mut(|f| step(f, tick));
        // Late (the machine was busy): go on with the next frame at the
        // next tick rather than bursting to catch up.
        tick = (tick + 1).max(grid.tick_at(Instant::now()) + 1);
    }
}

/// Feeds one stream for `tick`; false when the stream is gone.
fn step(f: &mut Feed, tick: u64) -> bool {
    let Some(src) = f.src.upgrade() else {
        return false;
    };
    let state = src.current_state();
    if state != gst::State::Playing {
        if f.played && state <= gst::State::Ready {
            return false;
        }
        f.phase = Phase::Waiting;
        return true;
    }
    f.played = true;
    if f.stalled.load(Ordering::Relaxed) {
        f.phase = Phase::Waiting;
        return true;
    }
    let Some(now) = src.current_running_time() else {
        return true;
    };
    let (index, pts, discont) = match f.phase {
        Phase::Waiting => (f.stream.keyframe_at_or_before(tick), now, true),
        Phase::Running { next, last_pts } => {
            // Strictly increasing even if the clock reads the same twice.
            let min = last_pts + gst::ClockTime::from_mseconds(1);
            (next, now.max(min), false)
        }
    };
    let Some(frame) = f.stream.frames.get(index) else {
        return false;
    };
    let mut buffer = frame.copy();
    {
        let b = buffer.make_mut();
        b.set_pts(pts);
        b.set_dts(pts);
        b.set_duration(None);
        if discont {
            b.set_flags(gst::BufferFlags::DISCONT);
        } else {
            b.unset_flags(gst::BufferFlags::DISCONT);
        }
    }
    match src.push_buffer(buffer) {
        Ok(_) => {
            let next = (index + 1) % f.stream.frames.len().max(1);
            f.phase = Phase::Running {
                next,
                last_pts: pts,
            };
            true
        }
        Err(gst::FlowError::Flushing) => {
            f.phase = Phase::Waiting;
            true
        }
        Err(e) => {
            tracing::debug!(error = ?e, "demo camera stream ended");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_ticks() {
        let epoch = Instant::now();
        let g = Grid {
            epoch,
            frame: Duration::from_millis(40),
        };
        assert_eq!(g.tick_at(epoch), 0);
        assert_eq!(g.tick_at(epoch + Duration::from_millis(39)), 0);
        assert_eq!(g.tick_at(epoch + Duration::from_millis(40)), 1);
        assert_eq!(g.due(25), epoch + Duration::from_secs(1));
    }

    #[test]
    fn dead_sources_are_dropped_and_shutdown_joins() {
        gst::init().expect("gstreamer");
        let feeder = Feeder::start(Grid {
            epoch: Instant::now(),
            frame: Duration::from_millis(10),
        })
        .expect("thread");
        let h = feeder.handle();
        let src = gst_app::AppSrc::builder().build();
        let stream = Arc::new(Stream {
            caps: gst::Caps::new_empty(),
            frames: vec![gst::Buffer::new()],
            keyframes: vec![0],
        });
        h.register(&src, stream, Arc::new(AtomicBool::new(false)));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(h.len(), 1, "a source that is not playing yet is kept");
        drop(src);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(h.len(), 0, "a freed source is forgotten");
        drop(feeder);
    }
}

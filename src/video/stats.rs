//! Per-player counters, written from streaming threads, turned into rates by
//! the supervisor about once a second.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Monotonic counters of one player (over all its pipelines).
#[derive(Default)]
pub(crate) struct Counters {
    delivered: AtomicU64,
    dropped: AtomicU64,
    decoded: AtomicU64,
    decode_ns: AtomicU64,
    decode_timed: AtomicU64,
    bytes: AtomicU64,
    last_frame_at: Mutex<Option<Instant>>,
}

/// The counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub delivered: u64,
    pub dropped: u64,
    pub decoded: u64,
    pub decode_ns: u64,
    pub decode_timed: u64,
    pub bytes: u64,
}

impl Counters {
    /// A frame went into the mailbox; `replaced_untaken` when it replaced one
    /// that nobody took (a frame decoded for nothing).
    pub fn delivered(&self, replaced_untaken: bool) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        if replaced_untaken {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        *self.last_frame_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// A QoS message: a frame dropped in the pipeline.
    pub fn qos_drop(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// A frame left the decoder, after `spent` in it when known.
    pub fn decoded(&self, spent: Option<Duration>) {
        self.decoded.fetch_add(1, Ordering::Relaxed);
        if let Some(d) = spent {
            let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            self.decode_ns.fetch_add(ns, Ordering::Relaxed);
            self.decode_timed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Encoded bytes arrived (RTP, before the depayloader).
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn delivered_frames(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn last_frame_at(&self) -> Option<Instant> {
        *self.last_frame_at.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            decoded: self.decoded.load(Ordering::Relaxed),
            decode_ns: self.decode_ns.load(Ordering::Relaxed),
            decode_timed: self.decode_timed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up() {
        let c = Counters::default();
        assert_eq!(c.last_frame_at(), None);
        c.delivered(false);
        c.delivered(true);
        c.qos_drop();
        c.decoded(Some(Duration::from_millis(2)));
        c.decoded(None);
        c.add_bytes(1500);
        let s = c.snapshot();
        assert_eq!((s.delivered, s.dropped, s.decoded), (2, 2, 2));
        assert_eq!((s.decode_ns, s.decode_timed, s.bytes), (2_000_000, 1, 1500));
        assert!(c.last_frame_at().is_some());
    }
}

//! One ingested stream handed to everyone who takes it: the relay's
//! `appsrc`s (one per shared media, so one per stream however many clients
//! watch) and, later, the recorder.
//!
//! Time: a relay media runs on the realtime system clock, so `base_time +
//! PTS` is Unix time. Each access unit is stamped with its capture time
//! (the camera's RTCP/NTP time from `rtspsrc add-reference-timestamp-meta`
//! when it has one, else the time it arrived) minus the media's base time,
//! and the media's `rtpbin` maps RTP time to that capture time
//! (`rtcp-sync-send-time=false`), so a client's RTCP-derived capture times
//! are the camera's own, not the relay's.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// Takes every access unit of a stream, on the ingest's streaming thread.
pub type Tap = Arc<dyn Fn(&gst::Sample) + Send + Sync>;
/// Told a stream's codec.
type OnCodec = Box<dyn Fn(&'static str) + Send + Sync>;

/// One relay media's `appsrc`, and where it stands.
struct Outlet {
    src: glib::WeakRef<gst_app::AppSrc>,
    /// A new outlet starts at a key frame, never mid-GOP.
    waiting_key: bool,
    last_pts: Option<gst::ClockTime>,
    caps_set: bool,
}

/// The takers of one stream.
#[derive(Default)]
pub struct Fanout {
    outlets: Mutex<Vec<Outlet>>,
    /// The stream's caps as the ingest last gave them.
    caps: Mutex<Option<gst::Caps>>,
    /// Everything else that takes every access unit (the recorder).
    taps: Mutex<Vec<Tap>>,
    /// Told the stream's codec (`h264`, `h265`) when it is first known or
    /// changes: the relay's payloader follows it.
    on_codec: Mutex<Option<OnCodec>>,
    /// When the last access unit came.
    last: Mutex<Option<std::time::Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Fanout {
    pub fn new() -> Arc<Fanout> {
        Arc::new(Fanout::default())
    }

    /// A relay media's `appsrc` takes this stream from its next key frame.
    pub fn register(&self, src: &gst_app::AppSrc) {
        if let Some(caps) = lock(&self.caps).clone() {
            src.set_caps(Some(&caps));
        }
        lock(&self.outlets).push(Outlet {
            src: src.downgrade(),
            waiting_key: true,
            last_pts: None,
            caps_set: false,
        });
    }

    /// Something else that takes every access unit, on the ingest's
    /// streaming thread (it must not block).
    pub fn tap(&self, f: Tap) {
        lock(&self.taps).push(f);
    }

    /// Calls `f` with the stream's codec when it is first known or changes.
    pub fn on_codec(&self, f: OnCodec) {
        *lock(&self.on_codec) = Some(f);
    }

    /// How many relay medias take this stream now.
    pub fn outlets(&self) -> usize {
        lock(&self.outlets).len()
    }

    /// Whether an access unit came within `within`.
    pub fn flowing(&self, within: std::time::Duration) -> bool {
        lock(&self.last).is_some_and(|t| t.elapsed() <= within)
    }

    /// One access unit from the ingest.
    pub fn push(&self, sample: &gst::Sample) {
        *lock(&self.last) = Some(std::time::Instant::now());
        for tap in lock(&self.taps).iter() {
            tap(sample);
        }
        let Some(buffer) = sample.buffer() else {
            return;
        };
        if let Some(caps) = sample.caps() {
            let mut known = lock(&self.caps);
            if known.as_ref().is_none_or(|k| k.as_ref() != caps) {
                let was = known.as_ref().and_then(|k| codec(k));
                *known = Some(caps.to_owned());
                drop(known);
                if let Some(now) = codec(caps)
                    && was != Some(now)
                    && let Some(f) = &*lock(&self.on_codec)
                {
                    f(now);
                }
            }
        }
        let caps = lock(&self.caps).clone();
        let key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        let capture_unix_ns = capture_unix_ns(buffer);
        let mut outlets = lock(&self.outlets);
        outlets.retain_mut(|o| {
            let Some(src) = o.src.upgrade() else {
                return false;
            };
            if o.waiting_key && !key {
                return true;
            }
            // Not playing yet: nothing to stamp against; wait for the next
            // key frame once it plays.
            let Some(base) = src.base_time() else {
                o.waiting_key = true;
                return true;
            };
            if !o.caps_set {
                if let Some(caps) = &caps {
                    src.set_caps(Some(caps));
                }
                o.caps_set = true;
            }
            let running =
                gst::ClockTime::from_nseconds(capture_unix_ns.saturating_sub(base.nseconds()));
            // Never backwards, whatever the camera's clock does.
            let pts = match o.last_pts {
                Some(last) if running <= last => last + gst::ClockTime::from_nseconds(1),
                _ => running,
            };
            let mut out = buffer.copy();
            {
                let out = out.make_mut();
                out.set_pts(pts);
                out.set_dts(gst::ClockTime::NONE);
            }
            if src.push_buffer(out).is_err() {
                // Flushing or stopped: the media is going away.
                return false;
            }
            o.waiting_key = false;
            o.last_pts = Some(pts);
            true
        });
    }
}

/// `h264` or `h265` from a stream's caps.
pub fn codec(caps: &gst::CapsRef) -> Option<&'static str> {
    match caps.structure(0)?.name().as_str() {
        "video/x-h264" => Some("h264"),
        "video/x-h265" => Some("h265"),
        _ => None,
    }
}

/// A buffer's capture time as Unix nanoseconds: its NTP reference timestamp
/// when the camera sent RTCP, else now.
pub fn capture_unix_ns(buffer: &gst::BufferRef) -> u64 {
    let ntp = gst::Caps::builder("timestamp/x-ntp").build();
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| m.reference().can_intersect(&ntp))
        .map(|m| {
            m.timestamp()
                .nseconds()
                .saturating_sub(NTP_UNIX_OFFSET_S * 1_000_000_000)
        })
        .unwrap_or_else(now_unix_ns)
}

fn now_unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(0))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_time_comes_from_the_ntp_meta_or_now() {
        gst::init().unwrap();
        let mut buffer = gst::Buffer::new();
        let before = now_unix_ns();
        assert!(capture_unix_ns(buffer.as_ref()) >= before, "no meta: now");
        let ntp = gst::Caps::builder("timestamp/x-ntp").build();
        let unix_ns = 1_800_000_000_123_000_000_u64;
        gst::ReferenceTimestampMeta::add(
            buffer.get_mut().unwrap(),
            &ntp,
            gst::ClockTime::from_nseconds(unix_ns + NTP_UNIX_OFFSET_S * 1_000_000_000),
            gst::ClockTime::NONE,
        );
        assert_eq!(capture_unix_ns(buffer.as_ref()), unix_ns);
    }
}

//! Wall-clock time of recorded frames. A frame's PTS is the ingest
//! pipeline's running time; its UTC time comes from the camera's RTCP
//! sender reports when `rtspsrc add-reference-timestamp-meta=true` put a
//! `timestamp/x-ntp` [`gst::ReferenceTimestampMeta`] on it, and from the
//! site's clock when the frame arrived otherwise. Both are kept as an
//! offset (UTC − PTS, in microseconds), so any PTS maps to UTC: frames before
//! the first sender report are extrapolated back from the first offset.

use gstreamer as gst;

use crate::domain::{ClockSource, Timestamp};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// The reference-timestamp caps rtspsrc uses for RTCP (NTP) time.
pub const NTP_CAPS_NAME: &str = "timestamp/x-ntp";

/// The NTP time a buffer carries, if any.
pub fn ntp_of(buffer: &gst::BufferRef) -> Option<gst::ClockTime> {
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| {
            m.reference()
                .structure(0)
                .is_some_and(|s| s.name() == NTP_CAPS_NAME)
        })
        .map(|m| m.timestamp())
}

/// Microseconds since 1970 of an NTP time (nanoseconds since 1900); none
/// before 1970.
pub fn unix_us_from_ntp(ntp: gst::ClockTime) -> Option<i64> {
    let us = ntp
        .useconds()
        .checked_sub(NTP_UNIX_OFFSET_SECS * 1_000_000)?;
    i64::try_from(us).ok()
}

fn pts_us(pts: gst::ClockTime) -> i64 {
    i64::try_from(pts.useconds()).unwrap_or(i64::MAX)
}

/// How PTS maps to UTC for one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WallClock {
    /// From the first frame that carried NTP time.
    first_rtcp_us: Option<i64>,
    /// From the newest frame that carried NTP time.
    latest_rtcp_us: Option<i64>,
    /// From the first frame's arrival.
    receive_us: Option<i64>,
}

impl WallClock {
    /// Notes a frame: its PTS, the NTP time it carried (if any) and when it
    /// arrived.
    pub fn observe(&mut self, pts: gst::ClockTime, ntp: Option<gst::ClockTime>, now: Timestamp) {
        let pts = pts_us(pts);
        if let Some(utc) = ntp.and_then(unix_us_from_ntp) {
            let offset = utc - pts;
            self.first_rtcp_us.get_or_insert(offset);
            self.latest_rtcp_us = Some(offset);
        }
        if self.receive_us.is_none() {
            self.receive_us = Some(now.timestamp_micros() - pts);
        }
    }

    /// The newest RTCP offset (what a segment opened now should use).
    pub fn rtcp_offset_us(&self) -> Option<i64> {
        self.latest_rtcp_us
    }

    /// The offset to use for a frame: `rtcp_at` (the RTCP offset known when
    /// its segment opened), else the first RTCP offset (extrapolated back),
    /// else the receive-time offset.
    pub fn offset_us(&self, rtcp_at: Option<i64>) -> Option<(i64, ClockSource)> {
        match rtcp_at.or(self.first_rtcp_us) {
            Some(o) => Some((o, ClockSource::Rtcp)),
            None => self.receive_us.map(|o| (o, ClockSource::Receive)),
        }
    }

    /// The UTC time of `pts` (see [`WallClock::offset_us`]).
    pub fn utc_of(
        &self,
        pts: gst::ClockTime,
        rtcp_at: Option<i64>,
    ) -> Option<(Timestamp, ClockSource)> {
        let (offset, source) = self.offset_us(rtcp_at)?;
        let t = chrono::DateTime::from_timestamp_micros(pts_us(pts).saturating_add(offset))?;
        Some((t, source))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;

    fn ntp_of_unix_us(us: u64) -> gst::ClockTime {
        gst::ClockTime::from_useconds(us + NTP_UNIX_OFFSET_SECS * 1_000_000)
    }

    #[test]
    fn frames_map_to_rtcp_time_extrapolated_back_or_else_to_receive_time() {
        let base_us: u64 = 1_800_000_000_000_000;
        let arrival = chrono::DateTime::from_timestamp_micros(base_us as i64 + 250_000).unwrap();
        let ms = gst::ClockTime::from_mseconds;
        let mut w = WallClock::default();
        assert_eq!(w.utc_of(ms(0), None), None);
        // Frames without NTP time: receive time.
        w.observe(ms(1000), None, arrival);
        let (t, src) = w.utc_of(ms(1500), None).unwrap();
        assert_eq!(src, ClockSource::Receive);
        assert_eq!(t.timestamp_micros(), base_us as i64 + 750_000);
        // The first sender report: every frame, earlier ones too, maps to it.
        w.observe(ms(2000), Some(ntp_of_unix_us(base_us + 2_000_000)), arrival);
        let (t, src) = w.utc_of(ms(0), None).unwrap();
        assert_eq!(src, ClockSource::Rtcp);
        assert_eq!(t.timestamp_micros(), base_us as i64);
        // A later report 3 ms off: a segment opened after it uses it.
        w.observe(ms(9000), Some(ntp_of_unix_us(base_us + 9_003_000)), arrival);
        let at = w.rtcp_offset_us();
        let (t, _) = w.utc_of(ms(9000), at).unwrap();
        assert_eq!(t.timestamp_micros(), base_us as i64 + 9_003_000);
        let (t, _) = w.utc_of(ms(9000), None).unwrap();
        assert_eq!(t.timestamp_micros(), base_us as i64 + 9_000_000);
    }

    #[test]
    fn ntp_meta_is_read_from_a_buffer() {
        gst::init().unwrap();
        let mut buf = gst::Buffer::new();
        assert_eq!(ntp_of(&buf), None);
        let ts = ntp_of_unix_us(1_800_000_000_000_000);
        {
            let b = buf.get_mut().unwrap();
            gst::ReferenceTimestampMeta::add(
                b,
                &gst::Caps::new_empty_simple("timestamp/x-unix"),
                gst::ClockTime::from_seconds(1),
                None,
            );
            gst::ReferenceTimestampMeta::add(
                b,
                &gst::Caps::new_empty_simple(NTP_CAPS_NAME),
                ts,
                None,
            );
        }
        assert_eq!(ntp_of(&buf), Some(ts));
        assert_eq!(unix_us_from_ntp(ts), Some(1_800_000_000_000_000));
        assert_eq!(unix_us_from_ntp(gst::ClockTime::from_seconds(5)), None);
    }
}

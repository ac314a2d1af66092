//! Capture times: NTP (1900 epoch) to UTC.

use chrono::{DateTime, Utc};

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// UTC time of an NTP time given in nanoseconds since 1900-01-01, the unit of
/// GStreamer's `timestamp/x-ntp` reference timestamp meta. `None` for a time
/// before 1970 (a sender without a real clock) or out of range.
pub fn utc_from_ntp(ntp_ns: u64) -> Option<DateTime<Utc>> {
    let unix_ns = ntp_ns.checked_sub(NTP_UNIX_OFFSET_S * 1_000_000_000)?;
    let secs = i64::try_from(unix_ns / 1_000_000_000).ok()?;
    let nanos = u32::try_from(unix_ns % 1_000_000_000).ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// UTC time of a 64-bit NTP timestamp as on the wire (32.32 fixed point
/// seconds since 1900-01-01).
pub fn utc_from_ntp64(ntp: u64) -> Option<DateTime<Utc>> {
    let secs = ntp >> 32;
    let frac = ntp & 0xffff_ffff;
    let nanos = (frac * 1_000_000_000) >> 32;
    utc_from_ntp(secs.checked_mul(1_000_000_000)?.checked_add(nanos)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_and_known_dates() {
        let epoch = utc_from_ntp(NTP_UNIX_OFFSET_S * 1_000_000_000).expect("in range");
        assert_eq!(epoch.timestamp(), 0);
        // 2024-01-01T00:00:00.250Z
        let ns = (NTP_UNIX_OFFSET_S + 1_704_067_200) * 1_000_000_000 + 250_000_000;
        let t = utc_from_ntp(ns).expect("in range");
        assert_eq!(t.to_rfc3339(), "2024-01-01T00:00:00.250+00:00");
        assert_eq!(utc_from_ntp(5), None, "before 1970");
    }

    #[test]
    fn wire_format_fraction() {
        // Half a second in 32.32 fixed point.
        let ntp = ((NTP_UNIX_OFFSET_S + 10) << 32) | 0x8000_0000;
        let t = utc_from_ntp64(ntp).expect("in range");
        assert_eq!(t.timestamp(), 10);
        assert_eq!(t.timestamp_subsec_millis(), 500);
    }
}

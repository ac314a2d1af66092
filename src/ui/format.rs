//! How times and durations read: always in the site's time zone, always
//! with the zone's abbreviation.

use chrono_tz::Tz;

use crate::domain::Timestamp;

/// `10:42:07 CET`.
pub fn site_time(time: Timestamp, tz: Tz) -> String {
    time.with_timezone(&tz).format("%H:%M:%S %Z").to_string()
}

/// `10:42 CET`: the top bar's clock, which changes once a minute.
pub fn site_clock(time: Timestamp, tz: Tz) -> String {
    time.with_timezone(&tz).format("%H:%M %Z").to_string()
}

/// `2026-11-22 10:42:07 CET`.
pub fn site_date_time(time: Timestamp, tz: Tz) -> String {
    time.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `45 s left`, `2 min 05 s left`, or `expired`.
pub fn time_left(until: Timestamp, now: Timestamp) -> String {
    let secs = (until - now).num_seconds();
    if secs <= 0 {
        "expired".into()
    } else if secs < 60 {
        format!("{secs} s left")
    } else {
        format!("{} min {:02} s left", secs / 60, secs % 60)
    }
}

/// The site's clock against this workstation's: `+0.3 s`, `-2.5 s`,
/// `+3 min 05 s`, `+26 h 03 min` (site ahead is positive).
pub fn clock_offset(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    let abs = ms.unsigned_abs();
    if abs < 60_000 {
        format!("{sign}{}.{} s", abs / 1000, abs % 1000 / 100)
    } else if abs < 3_600_000 {
        format!("{sign}{} min {:02} s", abs / 60_000, abs % 60_000 / 1000)
    } else {
        format!(
            "{sign}{} h {:02} min",
            abs / 3_600_000,
            abs % 3_600_000 / 60_000
        )
    }
}

/// `12.3 events/s`.
pub fn event_rate(per_second: f64) -> String {
    format!("{per_second:.1} events/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn times_say_their_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(site_time(t("2026-11-22T09:42:07Z"), berlin), "10:42:07 CET");
        assert_eq!(
            site_time(t("2026-07-01T09:42:07Z"), berlin),
            "11:42:07 CEST"
        );
        assert_eq!(
            site_date_time(t("2026-11-22T23:30:00Z"), berlin),
            "2026-11-23 00:30:00 CET"
        );
        assert_eq!(
            site_time(t("2026-11-22T09:42:07Z"), chrono_tz::UTC),
            "09:42:07 UTC"
        );
        assert_eq!(site_clock(t("2026-11-22T09:42:07Z"), berlin), "10:42 CET");
    }

    #[test]
    fn time_left_table() {
        let now = t("2026-11-22T10:00:00Z");
        let rows = [
            ("2026-11-22T10:00:45Z", "45 s left"),
            ("2026-11-22T10:02:05Z", "2 min 05 s left"),
            ("2026-11-22T10:00:00Z", "expired"),
            ("2026-11-22T09:59:00Z", "expired"),
        ];
        for (until, want) in rows {
            assert_eq!(time_left(t(until), now), want, "{until}");
        }
    }

    #[test]
    fn clock_offsets_read_with_their_sign() {
        let rows = [
            (0, "+0.0 s"),
            (340, "+0.3 s"),
            (-2_500, "-2.5 s"),
            (59_999, "+59.9 s"),
            (185_000, "+3 min 05 s"),
            (-93_780_000, "-26 h 03 min"),
            (i64::MIN, "-2562047788015 h 12 min"),
        ];
        for (ms, want) in rows {
            assert_eq!(clock_offset(ms), want, "{ms}");
        }
        assert_eq!(event_rate(12.34), "12.3 events/s");
    }
}

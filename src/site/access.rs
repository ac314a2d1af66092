//! The access decision: a pure function of the presented credential (its
//! state, validity and schedule), the door (its zone and mode) and the time
//! in the site's zone. No locks, no store, no I/O: the caller gathers the
//! facts, asks [`decide`], then logs and actuates.

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::config::ScheduleConfig;
use crate::domain::{CredentialState, DenyReason, DoorMode};

/// What is known about a presented badge that belongs to a cardholder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CredentialFacts<'a> {
    /// The state now (configured, or as changed since).
    pub state: CredentialState,
    /// The end of its validity, if it has one.
    pub valid_until: Option<DateTime<Utc>>,
    /// The cardholder's schedule; `None` when the schedule is unknown.
    pub schedule: Option<&'a ScheduleConfig>,
}

/// Everything an access decision depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccessInput<'a> {
    /// `None` for a badge no cardholder holds.
    pub credential: Option<CredentialFacts<'a>>,
    /// The zone of the door the reader opens.
    pub door_zone: &'a str,
    /// The door's mode as mirrored; `None` when not known yet.
    pub door_mode: Option<DoorMode>,
    /// The time of the presentation, in the site's zone.
    pub at: DateTime<Tz>,
}

/// The outcome of a presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessDecision {
    Granted,
    Denied(DenyReason),
}

impl AccessDecision {
    /// The reason of a denial.
    pub fn denial(self) -> Option<DenyReason> {
        match self {
            AccessDecision::Granted => None,
            AccessDecision::Denied(r) => Some(r),
        }
    }
}

/// Decides a presentation. The checks run in this order and the first that
/// fails names the denial: unknown card, card not active, card expired
/// (strictly after `valid_until`), door locked down, schedule (the door's
/// zone at the site-local hour, `from_hour <= hour < to_hour`).
pub fn decide(input: &AccessInput<'_>) -> AccessDecision {
    use AccessDecision::{Denied, Granted};
    let Some(cred) = input.credential else {
        return Denied(DenyReason::UnknownCard);
    };
    if cred.state != CredentialState::Active {
        return Denied(DenyReason::CardDisabled);
    }
    let now = input.at.with_timezone(&Utc);
    if cred.valid_until.is_some_and(|until| until < now) {
        return Denied(DenyReason::CardExpired);
    }
    if input.door_mode == Some(DoorMode::LockedDown) {
        return Denied(DenyReason::LockedDown);
    }
    let hour = input.at.hour();
    if !cred
        .schedule
        .is_some_and(|s| s.allows(input.door_zone, hour))
    {
        return Denied(DenyReason::OutsideSchedule);
    }
    Granted
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccessDecision::{Denied, Granted};
    use DenyReason::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    fn schedule(zones: &[&str], from_hour: u32, to_hour: u32) -> ScheduleConfig {
        ScheduleConfig {
            id: "s".into(),
            zones: zones.iter().map(|z| (*z).to_owned()).collect(),
            from_hour,
            to_hour,
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn berlin(at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&Berlin)
    }

    struct Case {
        name: &'static str,
        state: Option<CredentialState>,
        valid_until: Option<DateTime<Utc>>,
        schedule: Option<ScheduleConfig>,
        zone: &'static str,
        mode: Option<DoorMode>,
        at: DateTime<Utc>,
        want: AccessDecision,
    }

    fn office() -> Option<ScheduleConfig> {
        Some(schedule(&["office"], 7, 19))
    }

    fn always() -> Option<ScheduleConfig> {
        Some(schedule(&["office", "restricted"], 0, 24))
    }

    /// Noon in Berlin (summer), a weekday.
    fn noon() -> DateTime<Utc> {
        utc(2026, 6, 10, 10, 0)
    }

    fn case(name: &'static str) -> Case {
        Case {
            name,
            state: Some(CredentialState::Active),
            valid_until: None,
            schedule: office(),
            zone: "office",
            mode: Some(DoorMode::Locked),
            at: noon(),
            want: Granted,
        }
    }

    #[test]
    fn decisions() {
        let cases = [
            case("active card, in schedule"),
            Case {
                state: None,
                want: Denied(UnknownCard),
                ..case("unknown badge")
            },
            Case {
                state: None,
                mode: Some(DoorMode::LockedDown),
                want: Denied(UnknownCard),
                ..case("unknown badge at a locked-down door: unknown first")
            },
            Case {
                state: Some(CredentialState::Disabled),
                want: Denied(CardDisabled),
                ..case("disabled card")
            },
            Case {
                state: Some(CredentialState::Disabled),
                valid_until: Some(noon() - chrono::Duration::days(1)),
                mode: Some(DoorMode::LockedDown),
                want: Denied(CardDisabled),
                ..case("disabled and expired at a locked-down door: disabled first")
            },
            Case {
                valid_until: Some(noon() - chrono::Duration::seconds(1)),
                want: Denied(CardExpired),
                ..case("expired a second ago")
            },
            Case {
                valid_until: Some(noon()),
                ..case("valid until this very instant: still valid")
            },
            Case {
                valid_until: Some(noon() + chrono::Duration::days(30)),
                ..case("valid for a month")
            },
            Case {
                valid_until: Some(noon() - chrono::Duration::days(1)),
                mode: Some(DoorMode::LockedDown),
                want: Denied(CardExpired),
                ..case("expired at a locked-down door: expired first")
            },
            Case {
                mode: Some(DoorMode::LockedDown),
                want: Denied(LockedDown),
                ..case("door in lockdown")
            },
            Case {
                mode: Some(DoorMode::LockedDown),
                at: utc(2026, 6, 10, 22, 0),
                want: Denied(LockedDown),
                ..case("lockdown is named before the schedule")
            },
            Case {
                mode: Some(DoorMode::Unlocked),
                ..case("unlocked door: the decision is the same")
            },
            Case {
                mode: None,
                ..case("door mode not known yet")
            },
            Case {
                zone: "restricted",
                want: Denied(OutsideSchedule),
                ..case("zone not in the schedule")
            },
            Case {
                schedule: None,
                want: Denied(OutsideSchedule),
                ..case("schedule unknown")
            },
            Case {
                at: utc(2026, 6, 10, 4, 59),
                want: Denied(OutsideSchedule),
                ..case("06:59 local, before from_hour")
            },
            Case {
                at: utc(2026, 6, 10, 5, 0),
                ..case("07:00 local, from_hour is included")
            },
            Case {
                at: utc(2026, 6, 10, 16, 59),
                ..case("18:59 local, last minute")
            },
            Case {
                at: utc(2026, 6, 10, 17, 0),
                want: Denied(OutsideSchedule),
                ..case("19:00 local, to_hour is excluded")
            },
            Case {
                schedule: always(),
                zone: "restricted",
                at: utc(2026, 6, 10, 21, 59),
                ..case("23:59 local on a 0-24 schedule")
            },
            Case {
                schedule: always(),
                zone: "restricted",
                at: utc(2026, 6, 10, 22, 0),
                ..case("00:00 local (22:00 UTC the day before) on a 0-24 schedule")
            },
            Case {
                schedule: Some(schedule(&["office"], 0, 6)),
                at: utc(2026, 6, 10, 23, 30),
                ..case("01:30 local the next day: the site's hour, not UTC's")
            },
            Case {
                schedule: Some(schedule(&["office"], 22, 24)),
                at: utc(2026, 6, 10, 21, 30),
                ..case("23:30 local (21:30 UTC) on a 22-24 schedule")
            },
            Case {
                schedule: Some(schedule(&["office"], 22, 24)),
                at: utc(2026, 6, 10, 19, 30),
                want: Denied(OutsideSchedule),
                ..case("21:30 local on a 22-24 schedule")
            },
            Case {
                schedule: Some(schedule(&["office"], 3, 4)),
                at: utc(2026, 3, 29, 0, 59),
                want: Denied(OutsideSchedule),
                ..case("DST spring: 01:59 CET, before the jump")
            },
            Case {
                schedule: Some(schedule(&["office"], 3, 4)),
                at: utc(2026, 3, 29, 1, 0),
                ..case("DST spring: 03:00 CEST, right after the jump (02:xx never happens)")
            },
            Case {
                schedule: Some(schedule(&["office"], 2, 3)),
                at: utc(2026, 10, 25, 0, 30),
                ..case("DST autumn: 02:30 CEST, the first 02:30")
            },
            Case {
                schedule: Some(schedule(&["office"], 2, 3)),
                at: utc(2026, 10, 25, 1, 30),
                ..case("DST autumn: 02:30 CET, the second 02:30")
            },
            Case {
                schedule: Some(schedule(&["office"], 2, 3)),
                at: utc(2026, 10, 25, 2, 0),
                want: Denied(OutsideSchedule),
                ..case("DST autumn: 03:00 CET")
            },
        ];
        for c in cases {
            let schedule = c.schedule.as_ref();
            let credential = c.state.map(|state| CredentialFacts {
                state,
                valid_until: c.valid_until,
                schedule,
            });
            let input = AccessInput {
                credential,
                door_zone: c.zone,
                door_mode: c.mode,
                at: berlin(c.at),
            };
            assert_eq!(decide(&input), c.want, "{}", c.name);
        }
    }

    #[test]
    fn denial_names_the_reason() {
        assert_eq!(Granted.denial(), None);
        assert_eq!(Denied(CardExpired).denial(), Some(CardExpired));
    }
}

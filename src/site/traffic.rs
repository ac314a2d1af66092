//! The demo traffic generator: cardholders badge at doors (granted, or
//! denied for an expired card, a schedule, an unknown card), visitors ask an
//! operator for access, and now and then a door is forced or held open.
//!
//! What happens is decided by [`next_action`] (pure, seeded); when and how
//! the people act on the doors is played by tasks tied to the
//! [`TrafficHandle`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{ScheduleConfig, SiteConfig};
use crate::domain::{AccessPointId, CredentialId, CredentialState, DoorId, DoorMode, DoorPosition};
use crate::site::controller::SimulatedController;
use crate::site::env::Clock;

/// Where the generated traffic goes: the site core.
pub trait TrafficSink: Send + Sync + 'static {
    /// A badge presented at a reader. The site decides and, on a grant, momentarily unlocks the door. Resolves true when granted.
    fn present_credential(
        &self,
        ap: &AccessPointId,
        badge: &CredentialId,
    ) -> BoxFuture<'static, bool>;
    /// A person at a door asks an operator for access (intercom, visitor, unknown card).
    fn request_access(
        &self,
        door: &DoorId,
        ap: Option<AccessPointId>,
        credential: Option<CredentialId>,
        reason: String,
        visitor_name: Option<String>,
    );
}

/// A running generator. Dropping it stops the generator and every passage
/// it has under way.
pub struct TrafficHandle {
    task: JoinHandle<()>,
}

impl Drop for TrafficHandle {
    fn drop(&mut self) {
        // The task owns the JoinSet of passages: dropping it aborts them too.
        self.task.abort();
    }
}

/// Starts generating traffic on the current tokio runtime, from
/// `cfg.traffic` (seed, rates), the readers, doors and cardholders. It does
/// not look at `cfg.traffic.enabled`: the caller decides whether to start it.
///
/// # Panics
/// When called outside a tokio runtime.
pub fn start(
    sink: Arc<dyn TrafficSink>,
    sim: Arc<SimulatedController>,
    cfg: &SiteConfig,
    clock: Arc<dyn Clock>,
) -> TrafficHandle {
    let tz = cfg.time_zone();
    let now = clock.now();
    let hour_clock = Arc::clone(&clock);
    spawn_generator(sink, sim, cfg, now, clock, move || {
        hour_clock.now().with_timezone(&tz).hour()
    })
}

/// [`start`] with the time fixed for the plan (card expiry) and the site
/// hour given by `site_hour` (schedules).
fn spawn_generator(
    sink: Arc<dyn TrafficSink>,
    sim: Arc<SimulatedController>,
    cfg: &SiteConfig,
    now: DateTime<Utc>,
    clock: Arc<dyn Clock>,
    site_hour: impl Fn() -> u32 + Send + 'static,
) -> TrafficHandle {
    let plan = Plan::new(cfg, now);
    let seed = cfg.traffic.seed;
    let task = tokio::spawn(async move {
        let Some(mean_interval_s) = plan.mean_interval_s else {
            tracing::info!("demo traffic: badges_per_minute is 0, nothing to play");
            return;
        };
        if plan.readers.is_empty() && plan.doors.is_empty() {
            tracing::info!("demo traffic: no doors, nothing to play");
            return;
        }
        tracing::info!(seed, readers = plan.readers.len(), "demo traffic started");
        let mut rng = StdRng::seed_from_u64(seed);
        let mut passages = JoinSet::new();
        loop {
            clock.sleep(next_interval(&mut rng, mean_interval_s)).await;
            while let Some(done) = passages.try_join_next() {
                if let Err(e) = done {
                    tracing::warn!("demo traffic passage ended badly: {e}");
                }
            }
            let Some(action) = next_action(&mut rng, &plan, site_hour()) else {
                continue;
            };
            tracing::debug!(?action, "demo traffic");
            passages.spawn(perform(
                action,
                Arc::clone(&sink),
                Arc::clone(&sim),
                Arc::clone(&clock),
            ));
        }
    });
    TrafficHandle { task }
}

/// Plays one action out against the site and the simulated doors.
async fn perform(
    action: Action,
    sink: Arc<dyn TrafficSink>,
    sim: Arc<SimulatedController>,
    clock: Arc<dyn Clock>,
) {
    match action {
        Action::Badge(b) => {
            if !sink.present_credential(&b.ap, &b.credential).await {
                return;
            }
            clock.sleep(Duration::from_millis(b.open_after_ms)).await;
            // The person pulls the door only if it really released; someone
            // else may also be passing already.
            let released = sim.status(&b.door).is_some_and(|s| {
                matches!(s.mode, DoorMode::Accessed | DoorMode::Unlocked)
                    && s.position == DoorPosition::Closed
            });
            if !released {
                return;
            }
            sim.open(&b.door);
            let close_after_ms = if b.hold_open {
                b.held_close_after_ms
            } else {
                b.close_after_ms
            };
            clock.sleep(Duration::from_millis(close_after_ms)).await;
            sim.close(&b.door);
        }
        Action::Request(r) => sink.request_access(
            &r.door,
            r.ap,
            r.credential,
            r.reason.label().to_owned(),
            r.visitor_name,
        ),
        Action::Force {
            door,
            close_after_ms,
        } => {
            let locked_shut = sim.status(&door).is_some_and(|s| {
                matches!(s.mode, DoorMode::Locked | DoorMode::LockedDown)
                    && s.position == DoorPosition::Closed
            });
            if !locked_shut {
                return;
            }
            sim.open(&door);
            clock.sleep(Duration::from_millis(close_after_ms)).await;
            sim.close(&door);
        }
    }
}

// ---- pure decisions -----------------------------------------------------

/// Of badge actions, the share that are meant to be refused.
const DENIED_SHARE: f64 = 0.10;
/// Of granted passages, the share where the door is held open.
const HELD_OPEN_SHARE: f64 = 1.0 / 25.0;
/// An interval is never longer than this many mean intervals.
const MAX_INTERVAL_MEANS: f64 = 20.0;

const VISITOR_NAMES: [&str; 12] = [
    "Maria Schmidt",
    "Tom Baker (courier)",
    "Yusuf Demir",
    "Anna Kowalska",
    "Lukas Weber (lift service)",
    "Sarah O'Neill",
    "Pierre Laurent",
    "Mei Chen",
    "Carlos Mendes (catering)",
    "Hannah Fischer",
    "Noah Williams",
    "Aiko Suzuki",
];

/// A reader and what the plan needs of its door.
#[derive(Debug, Clone)]
struct Reader {
    ap: AccessPointId,
    door: DoorId,
    zone: String,
    held_open_threshold_ms: u64,
}

/// A badge that is active and unexpired, with its holder's schedule.
#[derive(Debug, Clone)]
struct ValidBadge {
    credential: CredentialId,
    /// `None` when the schedule id names nothing: it opens no door.
    schedule: Option<ScheduleConfig>,
}

impl ValidBadge {
    fn opens(&self, zone: &str, hour: u32) -> bool {
        self.schedule.as_ref().is_some_and(|s| s.allows(zone, hour))
    }
}

/// What the generator can draw from, built once from the config.
#[derive(Debug, Clone)]
struct Plan {
    readers: Vec<Reader>,
    doors: Vec<DoorId>,
    valid: Vec<ValidBadge>,
    expired: Vec<CredentialId>,
    disabled: Vec<CredentialId>,
    /// Every badge number in the config, to make up unknown ones.
    known: HashSet<String>,
    request_percent: u32,
    alarm_percent: u32,
    /// `None` when no badges are to be presented at all.
    mean_interval_s: Option<f64>,
}

impl Plan {
    /// `now` decides which badges have expired.
    fn new(cfg: &SiteConfig, now: DateTime<Utc>) -> Self {
        let readers = cfg
            .access_points
            .iter()
            .filter_map(|ap| {
                let door = cfg.door(&ap.door)?;
                Some(Reader {
                    ap: ap.id.clone(),
                    door: door.id.clone(),
                    zone: door.zone.clone(),
                    held_open_threshold_ms: door.held_open_threshold_ms,
                })
            })
            .collect();
        let mut valid = Vec::new();
        let mut expired = Vec::new();
        let mut disabled = Vec::new();
        let mut known = HashSet::new();
        for ch in &cfg.cardholders {
            for cred in &ch.cardholder.credentials {
                known.insert(cred.id.as_str().to_owned());
                if cred.state == CredentialState::Disabled {
                    disabled.push(cred.id.clone());
                } else if cred.valid_until.is_some_and(|t| t <= now) {
                    expired.push(cred.id.clone());
                } else {
                    valid.push(ValidBadge {
                        credential: cred.id.clone(),
                        schedule: cfg.schedule(&ch.schedule).cloned(),
                    });
                }
            }
        }
        let t = &cfg.traffic;
        let request_percent = t.request_percent.min(100);
        Plan {
            readers,
            doors: cfg.doors.iter().map(|d| d.id.clone()).collect(),
            valid,
            expired,
            disabled,
            known,
            request_percent,
            alarm_percent: t.alarm_percent.min(100 - request_percent),
            mean_interval_s: (t.badges_per_minute.is_finite() && t.badges_per_minute > 0.0)
                .then(|| 60.0 / t.badges_per_minute),
        }
    }

    /// A badge number that is in no cardholder's record.
    fn unknown_badge(&self, rng: &mut StdRng) -> CredentialId {
        for _ in 0..16 {
            let n = rng.random_range(900_000..1_000_000u32).to_string();
            if !self.known.contains(&n) {
                return CredentialId::new(n);
            }
        }
        // Longer than every known number, so unknown by construction.
        let longest = self.known.iter().map(String::len).max().unwrap_or(0);
        CredentialId::new("9".repeat(longest + 1))
    }
}

/// The time until the next action: exponential, averaging `mean_s`.
fn next_interval(rng: &mut StdRng, mean_s: f64) -> Duration {
    let u: f64 = rng.random(); // [0, 1)
    let s = (-mean_s * (1.0 - u).ln()).min(mean_s * MAX_INTERVAL_MEANS);
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

/// Why a badge action is expected to be granted or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BadgeCase {
    /// Active, unexpired, and the holder's schedule opens the door now.
    Valid,
    Expired,
    Disabled,
    /// Valid badge, but its schedule does not open this door at this hour.
    OutsideSchedule,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct BadgeAction {
    ap: AccessPointId,
    door: DoorId,
    credential: CredentialId,
    case: BadgeCase,
    /// After a grant, the person opens the door this much later.
    open_after_ms: u64,
    /// ... and it closes this much after opening.
    close_after_ms: u64,
    /// The person holds the door open past its threshold instead ...
    hold_open: bool,
    /// ... and it closes this much after opening.
    held_close_after_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RequestReason {
    Visitor,
    Intercom,
    UnknownCard,
    /// A cardholder whose badge does not open this door now asks anyway:
    /// the operator sees who it is (their card) and decides.
    OutsideSchedule,
}

impl RequestReason {
    fn label(self) -> &'static str {
        match self {
            RequestReason::Visitor => "visitor",
            RequestReason::Intercom => "intercom",
            RequestReason::UnknownCard => "unknown card",
            RequestReason::OutsideSchedule => "outside schedule",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RequestAction {
    door: DoorId,
    ap: Option<AccessPointId>,
    credential: Option<CredentialId>,
    reason: RequestReason,
    visitor_name: Option<String>,
}

/// One thing that happens at the site.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Badge(BadgeAction),
    Request(RequestAction),
    /// A door is pushed open without a grant, closed this much later.
    Force {
        door: DoorId,
        close_after_ms: u64,
    },
}

/// Draws the next action; `site_hour` (0–23) decides whose schedule opens
/// which door. `None` when the config offers nothing to do.
fn next_action(rng: &mut StdRng, plan: &Plan, site_hour: u32) -> Option<Action> {
    let roll = rng.random_range(0..100u32);
    if roll < plan.request_percent {
        request(rng, plan, site_hour)
    } else if roll < plan.request_percent + plan.alarm_percent {
        let door = plan.doors.choose(rng)?.clone();
        Some(Action::Force {
            door,
            close_after_ms: rng.random_range(3000..=8000),
        })
    } else if rng.random_bool(DENIED_SHARE) {
        denied_badge(rng, plan, site_hour)
    } else {
        valid_badge(rng, plan, site_hour).or_else(|| denied_badge(rng, plan, site_hour))
    }
}

fn request(rng: &mut StdRng, plan: &Plan, hour: u32) -> Option<Action> {
    let reason = match rng.random_range(0..100u32) {
        0..40 => RequestReason::Visitor,
        40..70 => RequestReason::Intercom,
        70..85 => RequestReason::UnknownCard,
        _ => RequestReason::OutsideSchedule,
    };
    let name = VISITOR_NAMES.choose(rng).map(|n| (*n).to_owned());
    let action = match (reason, plan.readers.choose(rng)) {
        (RequestReason::Intercom, _) | (_, None) => RequestAction {
            door: plan.doors.choose(rng)?.clone(),
            ap: None,
            credential: None,
            reason: RequestReason::Intercom,
            visitor_name: name,
        },
        (RequestReason::Visitor, Some(r)) => RequestAction {
            door: r.door.clone(),
            ap: Some(r.ap.clone()),
            credential: None,
            reason,
            visitor_name: name,
        },
        (RequestReason::OutsideSchedule, Some(r)) => {
            // A known badge at a reader it does not open now (any hour's
            // schedule that leaves this zone out); an unknown card when
            // every badge opens everything.
            let held: Vec<&ValidBadge> = plan
                .valid
                .iter()
                .filter(|b| !b.opens(&r.zone, hour))
                .collect();
            match held.choose(rng) {
                Some(b) => RequestAction {
                    door: r.door.clone(),
                    ap: Some(r.ap.clone()),
                    credential: Some(b.credential.clone()),
                    reason,
                    visitor_name: None,
                },
                None => RequestAction {
                    door: r.door.clone(),
                    ap: Some(r.ap.clone()),
                    credential: Some(plan.unknown_badge(rng)),
                    reason: RequestReason::UnknownCard,
                    visitor_name: None,
                },
            }
        }
        (RequestReason::UnknownCard, Some(r)) => RequestAction {
            door: r.door.clone(),
            ap: Some(r.ap.clone()),
            credential: Some(plan.unknown_badge(rng)),
            reason,
            visitor_name: None,
        },
    };
    Some(Action::Request(action))
}

fn badge(rng: &mut StdRng, reader: &Reader, credential: CredentialId, case: BadgeCase) -> Action {
    Action::Badge(BadgeAction {
        ap: reader.ap.clone(),
        door: reader.door.clone(),
        credential,
        case,
        open_after_ms: rng.random_range(500..=1500),
        close_after_ms: rng.random_range(2000..=5000),
        hold_open: rng.random_bool(HELD_OPEN_SHARE),
        held_close_after_ms: reader.held_open_threshold_ms + rng.random_range(3000..=10_000),
    })
}

/// A badge whose holder's schedule opens a random reader's door now; another
/// reader when nobody's opens that one.
fn valid_badge(rng: &mut StdRng, plan: &Plan, hour: u32) -> Option<Action> {
    let reader = plan.readers.choose(rng)?;
    let here: Vec<&ValidBadge> = plan
        .valid
        .iter()
        .filter(|b| b.opens(&reader.zone, hour))
        .collect();
    if let Some(b) = here.choose(rng) {
        return Some(badge(rng, reader, b.credential.clone(), BadgeCase::Valid));
    }
    let pairs: Vec<(&Reader, &ValidBadge)> = plan
        .readers
        .iter()
        .flat_map(|r| plan.valid.iter().map(move |b| (r, b)))
        .filter(|(r, b)| b.opens(&r.zone, hour))
        .collect();
    let (reader, b) = pairs.choose(rng)?;
    Some(badge(rng, reader, b.credential.clone(), BadgeCase::Valid))
}

/// A badge the site must refuse, each reason the config makes possible
/// equally often.
fn denied_badge(rng: &mut StdRng, plan: &Plan, hour: u32) -> Option<Action> {
    let outside: Vec<(&Reader, &ValidBadge)> = plan
        .readers
        .iter()
        .flat_map(|r| plan.valid.iter().map(move |b| (r, b)))
        .filter(|(r, b)| !b.opens(&r.zone, hour))
        .collect();
    let mut cases = vec![BadgeCase::Unknown];
    if !plan.expired.is_empty() {
        cases.push(BadgeCase::Expired);
    }
    if !plan.disabled.is_empty() {
        cases.push(BadgeCase::Disabled);
    }
    if !outside.is_empty() {
        cases.push(BadgeCase::OutsideSchedule);
    }
    let case = *cases.choose(rng)?;
    let (reader, credential) = match case {
        BadgeCase::OutsideSchedule => {
            let (r, b) = outside.choose(rng)?;
            (*r, b.credential.clone())
        }
        BadgeCase::Expired => (plan.readers.choose(rng)?, plan.expired.choose(rng)?.clone()),
        BadgeCase::Disabled => (
            plan.readers.choose(rng)?,
            plan.disabled.choose(rng)?.clone(),
        ),
        BadgeCase::Unknown | BadgeCase::Valid => {
            (plan.readers.choose(rng)?, plan.unknown_badge(rng))
        }
    };
    Some(badge(rng, reader, credential, case))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::Mutex;

    use super::*;
    use crate::domain::{DoorAction, DoorAlarm};
    use crate::site::controller::{ControllerEvent, DoorController};

    fn demo_config() -> SiteConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml");
        SiteConfig::load(&path).expect("demo config loads")
    }

    fn now() -> DateTime<Utc> {
        "2026-06-01T08:00:00Z".parse().expect("a time")
    }

    fn draws(cfg: &SiteConfig, seed: u64, n: usize, hour: u32) -> Vec<Action> {
        let plan = Plan::new(cfg, now());
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| next_action(&mut rng, &plan, hour).expect("the demo site offers actions"))
            .collect()
    }

    /// Whether `n` is within `tol` (a fraction) of `expected`.
    fn near(n: usize, expected: f64, tol: f64) -> bool {
        (n as f64 - expected).abs() <= expected * tol
    }

    #[test]
    fn actions_come_in_the_configured_proportions() {
        let cfg = demo_config();
        let (req, alarm) = (cfg.traffic.request_percent, cfg.traffic.alarm_percent);
        assert!(
            req > 0 && alarm > 0,
            "the demo config has requests and alarms"
        );
        let n = 2000;
        let actions = draws(&cfg, cfg.traffic.seed, n, 10);
        let mut cases: HashMap<BadgeCase, usize> = HashMap::new();
        let mut reasons: HashMap<RequestReason, usize> = HashMap::new();
        let (mut forced, mut held, mut doors_forced) = (0, 0, HashSet::new());
        for a in &actions {
            match a {
                Action::Badge(b) => {
                    *cases.entry(b.case).or_default() += 1;
                    if b.case == BadgeCase::Valid && b.hold_open {
                        held += 1;
                    }
                    assert!((500..=1500).contains(&b.open_after_ms));
                    assert!((2000..=5000).contains(&b.close_after_ms));
                }
                Action::Request(r) => *reasons.entry(r.reason).or_default() += 1,
                Action::Force {
                    door,
                    close_after_ms,
                } => {
                    forced += 1;
                    doors_forced.insert(door.clone());
                    assert!((3000..=8000).contains(close_after_ms));
                }
            }
        }
        let requests: usize = reasons.values().sum();
        let badges: usize = cases.values().sum();
        let denied = badges - cases.get(&BadgeCase::Valid).copied().unwrap_or(0);
        let n_f = n as f64;
        assert!(
            near(requests, n_f * f64::from(req) / 100.0, 0.35),
            "requests {requests}"
        );
        assert!(
            near(forced, n_f * f64::from(alarm) / 100.0, 0.35),
            "forced {forced}"
        );
        let badge_share = f64::from(100 - req - alarm) / 100.0;
        assert!(near(badges, n_f * badge_share, 0.05), "badges {badges}");
        assert!(
            near(denied, n_f * badge_share * DENIED_SHARE, 0.3),
            "denied {denied}"
        );
        let valid = badges - denied;
        assert!(
            near(held, valid as f64 * HELD_OPEN_SHARE, 0.4),
            "held {held} of {valid}"
        );
        for case in [
            BadgeCase::Expired,
            BadgeCase::Disabled,
            BadgeCase::OutsideSchedule,
            BadgeCase::Unknown,
        ] {
            let k = cases.get(&case).copied().unwrap_or(0);
            assert!(
                k >= denied / 8,
                "{case:?} appears {k} times of {denied} denials"
            );
        }
        for reason in [
            RequestReason::Visitor,
            RequestReason::Intercom,
            RequestReason::UnknownCard,
            RequestReason::OutsideSchedule,
        ] {
            assert!(
                reasons.get(&reason).copied().unwrap_or(0) > 0,
                "{reason:?} missing"
            );
        }
        assert!(
            doors_forced.len() > cfg.doors.len() / 2,
            "forced doors: {doors_forced:?}"
        );
    }

    #[test]
    fn the_same_seed_plays_the_same_day() {
        let cfg = demo_config();
        let a = draws(&cfg, 7, 300, 10);
        assert_eq!(a, draws(&cfg, 7, 300, 10));
        assert_ne!(a, draws(&cfg, 8, 300, 10));
        let mut r1 = StdRng::seed_from_u64(7);
        let mut r2 = StdRng::seed_from_u64(7);
        let i1: Vec<Duration> = (0..50).map(|_| next_interval(&mut r1, 2.5)).collect();
        let i2: Vec<Duration> = (0..50).map(|_| next_interval(&mut r2, 2.5)).collect();
        assert_eq!(i1, i2);
    }

    #[test]
    fn intervals_average_the_configured_rate() {
        let mut rng = StdRng::seed_from_u64(3);
        let n = 5000;
        let total_s: f64 = (0..n)
            .map(|_| next_interval(&mut rng, 2.5).as_secs_f64())
            .sum();
        let mean = total_s / f64::from(n);
        assert!((2.3..2.7).contains(&mean), "mean interval {mean}");
    }

    /// Every badge case is what the config says of that badge, at that
    /// reader, at that hour (checked against the config, not the plan).
    #[test]
    fn badges_are_what_the_config_says_they_are() {
        let cfg = demo_config();
        let now = now();
        for hour in [3, 10, 21] {
            for a in draws(&cfg, 11, 1500, hour) {
                let (door, credential) = match &a {
                    Action::Badge(b) => (&b.door, &b.credential),
                    Action::Request(r) => {
                        match (&r.credential, r.reason) {
                            (Some(c), RequestReason::UnknownCard) => {
                                assert!(!in_config(&cfg, c), "{c} is a known badge");
                            }
                            (Some(c), RequestReason::OutsideSchedule) => {
                                // A known badge whose schedule leaves this
                                // door's zone out at this hour.
                                let zone = &cfg.door(&r.door).expect("door").zone;
                                let schedule = cfg
                                    .cardholders
                                    .iter()
                                    .find(|ch| ch.cardholder.credentials.iter().any(|k| &k.id == c))
                                    .and_then(|ch| cfg.schedule(&ch.schedule))
                                    .expect("a known badge with a schedule");
                                assert!(!schedule.allows(zone, hour), "{c} opens {zone} at {hour}");
                            }
                            (Some(c), reason) => panic!("{reason:?} presented {c}"),
                            (None, reason) => assert!(
                                matches!(reason, RequestReason::Visitor | RequestReason::Intercom),
                                "{reason:?} without a badge"
                            ),
                        }
                        if let Some(ap) = &r.ap {
                            assert_eq!(&reader_door(&cfg, ap), &r.door);
                        }
                        continue;
                    }
                    Action::Force { .. } => continue,
                };
                let Action::Badge(b) = &a else { continue };
                assert_eq!(&reader_door(&cfg, &b.ap), door);
                let zone = &cfg.door(door).expect("door").zone;
                let holder = cfg.cardholders.iter().find_map(|ch| {
                    let cred = ch
                        .cardholder
                        .credentials
                        .iter()
                        .find(|c| &c.id == credential)?;
                    Some((cfg.schedule(&ch.schedule).expect("schedule"), cred))
                });
                let Some((schedule, cred)) = holder else {
                    assert_eq!(
                        b.case,
                        BadgeCase::Unknown,
                        "{credential} is not in the config"
                    );
                    continue;
                };
                let active = cred.state == CredentialState::Active;
                let unexpired = cred.valid_until.is_none_or(|t| t > now);
                let opens = schedule.allows(zone, hour);
                let what = match b.case {
                    BadgeCase::Valid => active && unexpired && opens,
                    BadgeCase::Expired => !unexpired,
                    BadgeCase::Disabled => !active,
                    BadgeCase::OutsideSchedule => active && unexpired && !opens,
                    BadgeCase::Unknown => false,
                };
                assert!(
                    what,
                    "{credential} at {door} at {hour}h is not {:?}",
                    b.case
                );
            }
        }
    }

    fn in_config(cfg: &SiteConfig, badge: &CredentialId) -> bool {
        cfg.cardholders
            .iter()
            .any(|ch| ch.cardholder.credentials.iter().any(|c| &c.id == badge))
    }

    fn reader_door(cfg: &SiteConfig, ap: &AccessPointId) -> DoorId {
        cfg.access_points
            .iter()
            .find(|a| &a.id == ap)
            .map(|a| a.door.clone())
            .expect("reader in config")
    }

    #[test]
    fn nothing_to_play_without_a_rate_or_doors() {
        let mut cfg = demo_config();
        cfg.traffic.badges_per_minute = 0.0;
        assert_eq!(Plan::new(&cfg, now()).mean_interval_s, None);
        cfg.access_points.clear();
        cfg.doors.clear();
        let plan = Plan::new(&cfg, now());
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            assert_eq!(next_action(&mut rng, &plan, 10), None);
        }
    }

    /// Stands in for the site core: grants active unexpired badges by
    /// momentarily unlocking the door, and records what it saw.
    struct FakeSink {
        sim: Arc<SimulatedController>,
        doors: HashMap<AccessPointId, DoorId>,
        grantable: HashSet<CredentialId>,
        presented: Mutex<Vec<(AccessPointId, CredentialId, bool)>>,
        requests: Mutex<Vec<(DoorId, String, Option<String>)>>,
    }

    impl TrafficSink for FakeSink {
        fn present_credential(
            &self,
            ap: &AccessPointId,
            badge: &CredentialId,
        ) -> BoxFuture<'static, bool> {
            let door = self.doors.get(ap).cloned();
            let grant = door.is_some() && self.grantable.contains(badge);
            self.presented
                .lock()
                .expect("lock")
                .push((ap.clone(), badge.clone(), grant));
            let unlock = door
                .filter(|_| grant)
                .map(|d| self.sim.command(&d, DoorAction::Access));
            Box::pin(async move {
                match unlock {
                    Some(fut) => fut.await.is_ok(),
                    None => false,
                }
            })
        }

        fn request_access(
            &self,
            door: &DoorId,
            _ap: Option<AccessPointId>,
            _credential: Option<CredentialId>,
            reason: String,
            visitor_name: Option<String>,
        ) {
            self.requests
                .lock()
                .expect("lock")
                .push((door.clone(), reason, visitor_name));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn five_minutes_of_traffic_move_the_doors() {
        let mut cfg = demo_config();
        cfg.traffic.alarm_percent = 10; // enough forced doors in 5 minutes
        let sim = SimulatedController::new(&cfg.doors, &cfg.controller);
        let mut rx = sim.subscribe();
        let collected = tokio::spawn(async move {
            let mut events = Vec::new();
            while let Ok(ev) = rx.recv().await {
                events.push(ev);
            }
            events
        });
        let plan = Plan::new(&cfg, now());
        let sink = Arc::new(FakeSink {
            sim: Arc::clone(&sim),
            doors: cfg
                .access_points
                .iter()
                .map(|a| (a.id.clone(), a.door.clone()))
                .collect(),
            grantable: plan.valid.iter().map(|b| b.credential.clone()).collect(),
            presented: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
        });
        let handle = spawn_generator(
            sink.clone(),
            Arc::clone(&sim),
            &cfg,
            now(),
            Arc::new(crate::site::env::RealClock),
            || 10,
        );
        tokio::time::sleep(Duration::from_secs(300)).await;
        drop(handle);
        let presented = sink.presented.lock().expect("lock").len();
        // 24 a minute less requests and alarms: about 100 in 5 minutes.
        assert!((60..=160).contains(&presented), "{presented} presentations");
        let granted = sink
            .presented
            .lock()
            .expect("lock")
            .iter()
            .filter(|p| p.2)
            .count();
        assert!(granted > presented / 2, "{granted} of {presented} granted");
        assert!(
            !sink.requests.lock().expect("lock").is_empty(),
            "no requests"
        );

        // Stopped: nothing more is presented.
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(sink.presented.lock().expect("lock").len(), presented);

        drop(sink);
        drop(sim);
        let events = collected.await.expect("collector");
        let mut opened = HashSet::new();
        let mut closed_after_open = HashSet::new();
        let mut forced_alarms = 0;
        for ev in &events {
            match ev {
                ControllerEvent::Status { door, status } => {
                    if status.position == DoorPosition::Open {
                        opened.insert(door.clone());
                    } else if opened.contains(door) {
                        closed_after_open.insert(door.clone());
                    }
                }
                ControllerEvent::Alarm { alarm, .. } => {
                    if *alarm == DoorAlarm::ForcedOpen {
                        forced_alarms += 1;
                    }
                }
            }
        }
        assert!(opened.len() >= 4, "doors opened: {opened:?}");
        assert!(
            closed_after_open.len() >= 4,
            "doors closed: {closed_after_open:?}"
        );
        assert!(forced_alarms >= 1, "no forced door");
    }
}

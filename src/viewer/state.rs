//! `AppState`: what the client knows, as plain data, in two parts: one
//! [`SiteMirror`] per site (keyed maps of doors, cameras, requests,
//! commands, events; `sites`, one today) and the runtime-only [`Runtime`]
//! (the clock, sign-in, the session, the link, notices). The persisted part,
//! the [`Workspace`](super::Workspace), is the view's. It changes only
//! through [`AppState::apply`]; it does no I/O and never reads the clock
//! (time comes in with [`AppEvent::Tick`]). The UI reads it; table tests
//! drive it.

use std::collections::{BTreeMap, VecDeque};

use super::event::AppEvent;
use super::mirror::{DoorView, Keyed, SiteKey, SiteMirror};
use super::workspace::{MainView, Workspace};
use crate::domain::{
    self, AccessRequest, CameraId, DoorAction, DoorId, DoorState, ErrorKind, Event, EventKind,
    Permission, RequestOutcome, Role, Session, Timestamp,
};

/// How long a notice stays up.
pub const NOTICE_MS: i64 = 8_000;
/// How many notices show at once.
const NOTICE_LEN: usize = 4;
/// How many access events the access monitor keeps.
pub const ACCESS_FEED_LEN: usize = 10_000;
/// The window of the live event rate, in seconds.
pub const RATE_WINDOW_SECS: i64 = 10;

/// Live events a second over the last [`RATE_WINDOW_SECS`], counted in
/// one-second buckets: constant memory and constant time per event,
/// whatever the rate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventRate {
    /// (the second since the epoch, events in it), indexed by that second
    /// modulo the window.
    buckets: [(i64, u32); RATE_WINDOW_SECS as usize],
}

impl EventRate {
    /// Counts one event arriving at `at`.
    pub fn record(&mut self, at: Timestamp) {
        let sec = at.timestamp();
        let slot = &mut self.buckets[sec.rem_euclid(RATE_WINDOW_SECS) as usize];
        if slot.0 != sec {
            *slot = (sec, 0);
        }
        slot.1 = slot.1.saturating_add(1);
    }

    /// Events a second over the window that ends at `now` (its current
    /// second included).
    pub fn per_second(&self, now: Timestamp) -> f64 {
        let now = now.timestamp();
        let count: u64 = self
            .buckets
            .iter()
            .filter(|(sec, _)| *sec <= now && now - *sec < RATE_WINDOW_SECS)
            .map(|(_, n)| u64::from(*n))
            .sum();
        count as f64 / RATE_WINDOW_SECS as f64
    }

    /// The next second at which the rate seen at `now` changes without a
    /// new event (an old second leaves the window), if it can: the status
    /// bar wakes up then, so a rate that fell to nothing shows it.
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        let now_sec = now.timestamp();
        let counted = |&&(sec, n): &&(i64, u32)| n > 0 && sec <= now_sec;
        let oldest = self
            .buckets
            .iter()
            .filter(counted)
            .filter(|(sec, _)| now_sec - sec < RATE_WINDOW_SECS)
            .map(|(sec, _)| *sec)
            .min()?;
        chrono::DateTime::from_timestamp(oldest.saturating_add(RATE_WINDOW_SECS), 0)
    }
}

/// The live link to the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not connected and not trying (signed out, or starting).
    Idle,
    Up,
    /// Lost; `attempt` counts the failed tries since it was last up.
    Down {
        attempt: u32,
        reason: String,
        retry_in_ms: u64,
    },
}

/// Where sign-in stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInPhase {
    Idle,
    InProgress { username: String },
    Failed { message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Error,
}

/// A short message for the operator, shown for [`NOTICE_MS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: NoticeLevel,
    pub text: String,
    pub at: Timestamp,
}

/// What is known only while the client runs: never saved, never the
/// site's.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The client's clock at the last tick.
    pub now: Timestamp,
    /// Set while something is being prepared, e.g. the demo site.
    pub starting: Option<String>,
    /// Set when the site could not be set up.
    pub fatal: Option<String>,
    pub sign_in: SignInPhase,
    pub session: Option<Session>,
    pub link: Link,
    /// Newest last.
    pub notices: Vec<Notice>,
    /// Live events arriving, counted at the client's clock.
    pub event_rate: EventRate,
    /// The user whose session the site ended (expired, revoked): the
    /// workspace stays as it was, its doors unknown, behind a sign-in in
    /// place, until someone signs in again.
    pub lapsed: Option<String>,
    /// Whether the site answered at the start (before any snapshot).
    pub reach: Reach,
    /// The outcome of the map editor's last save.
    pub map_saved: Option<super::map::MapSaved>,
}

/// Whether the site could be reached at the start, before any snapshot was
/// ever loaded (a link lost after a good start is [`Link`]'s business).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Reach {
    /// Not tried yet, or the site answered.
    #[default]
    Unknown,
    /// A try is under way since `since`.
    Connecting { since: Timestamp },
    /// The last try failed: why, when, and when the next one runs.
    Unreachable {
        reason: String,
        at: Timestamp,
        retry_at: Timestamp,
    },
}

/// What the client knows. See the module doc.
#[derive(Debug, Clone)]
pub struct AppState {
    pub runtime: Runtime,
    /// Every site the client holds, one today; never empty.
    sites: BTreeMap<SiteKey, SiteMirror>,
    /// The site the window shows (and the worker talks to).
    current: SiteKey,
    /// The access events of the current site (granted, denied, requests
    /// and their outcome), newest first, at most [`ACCESS_FEED_LEN`].
    access: VecDeque<Event>,
    /// Requests answered a moment ago, still shown with their outcome.
    resolved: VecDeque<ResolvedRequest>,
    /// The cardholders panel: search results, the open cardholder.
    pub people: super::People,
    /// The current site's shared camera views, as last read.
    shared_views: Vec<crate::domain::SharedView>,
    /// What is recorded around the views in playback, as last read.
    pub recordings: super::Recordings,
}

/// How long an answered request stays in sight with its outcome.
pub const RESOLVED_SHOWN_MS: i64 = 6_000;

/// A request just answered (or expired): what the request pop shows for
/// [`RESOLVED_SHOWN_MS`] before it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRequest {
    pub request: AccessRequest,
    pub outcome: RequestOutcome,
    /// Who answered; none when it expired (or the role may not see it).
    pub by: Option<String>,
    /// Until when it is shown, by the client's clock.
    pub until: Timestamp,
}

impl AppState {
    /// An empty state at time `now`, for the site at `site_url`.
    pub fn new(now: Timestamp, site_url: impl Into<String>, demo: bool) -> Self {
        let site_url = site_url.into();
        let key = SiteKey::new(site_url.clone());
        let mirror = SiteMirror::new(key.clone(), site_url, demo);
        Self {
            runtime: Runtime {
                now,
                starting: None,
                fatal: None,
                sign_in: SignInPhase::Idle,
                session: None,
                link: Link::Idle,
                notices: Vec::new(),
                event_rate: EventRate::default(),
                lapsed: None,
                reach: Reach::Unknown,
                map_saved: None,
            },
            sites: BTreeMap::from([(key.clone(), mirror)]),
            current: key,
            access: VecDeque::new(),
            resolved: VecDeque::new(),
            people: super::People::default(),
            shared_views: Vec::new(),
            recordings: super::Recordings::default(),
        }
    }

    /// Every site the client holds, by key.
    pub fn sites(&self) -> &BTreeMap<SiteKey, SiteMirror> {
        &self.sites
    }

    /// Holds another site (at `address`) beside the current one; its key.
    /// Nothing feeds it yet: one worker talks to one site today.
    pub fn add_site(&mut self, address: impl Into<String>, demo: bool) -> SiteKey {
        let address = address.into();
        let key = SiteKey::new(address.clone());
        self.sites
            .entry(key.clone())
            .or_insert_with(|| SiteMirror::new(key.clone(), address, demo));
        key
    }

    /// The site the window shows.
    pub fn site(&self) -> &SiteMirror {
        // `current` is always a key of `sites`: set with it in `new`, and
        // sites are never removed.
        match self.sites.get(&self.current) {
            Some(site) => site,
            None => unreachable!("the current site is always held"),
        }
    }

    fn site_mut(&mut self) -> &mut SiteMirror {
        match self.sites.get_mut(&self.current) {
            Some(site) => site,
            None => unreachable!("the current site is always held"),
        }
    }

    /// Applies one event. Site events go to the current site's mirror
    /// (the only one today; with several sites they will carry their key).
    pub fn apply(&mut self, event: AppEvent) {
        let now = self.runtime.now;
        match event {
            AppEvent::Tick { now } => self.tick(now),
            AppEvent::Starting { message } => self.runtime.starting = Some(message),
            AppEvent::StartFailed { message } => {
                self.runtime.starting = None;
                self.runtime.fatal = Some(message);
            }
            AppEvent::SignInStarted { username } => {
                self.runtime.starting = None;
                self.runtime.sign_in = SignInPhase::InProgress { username };
            }
            AppEvent::SignedIn(session) => {
                // Someone else after a lapsed session: nothing of what the
                // one before could read stays in sight.
                if self
                    .runtime
                    .lapsed
                    .take()
                    .is_some_and(|user| user != session.username)
                {
                    self.access.clear();
                    self.resolved.clear();
                    self.people = super::People::default();
                    self.site_mut().clear();
                }
                self.runtime.sign_in = SignInPhase::Idle;
                self.runtime.session = Some(session);
            }
            AppEvent::SignInFailed { kind, message } => {
                self.runtime.starting = None;
                self.runtime.session = None;
                self.runtime.sign_in = SignInPhase::Failed {
                    message: sign_in_message(kind, &message),
                };
            }
            AppEvent::Snapshot(snapshot) => {
                self.site_mut().apply_snapshot(*snapshot);
                self.people.thumbs.retry_failed();
                // A fresh snapshot is the truth now.
                self.runtime.link = Link::Up;
                self.runtime.starting = None;
            }
            AppEvent::Recordings {
                from,
                to,
                coverage,
                marks,
                bookmarks,
            } => self
                .recordings
                .replace(from, to, coverage, marks, bookmarks),
            AppEvent::RecordingsFailed { message } => self.recordings.error = Some(message),
            AppEvent::BookmarkPlaced(bookmark) => {
                if self
                    .recordings
                    .bookmarks
                    .iter()
                    .all(|b| b.id != bookmark.id)
                {
                    self.recordings.bookmarks.push(bookmark);
                }
            }
            AppEvent::Live(event) => {
                self.recordings.add_live(&event);
                self.people.live(&event);
                let access = is_access(&event.kind).then(|| event.clone());
                let resolved =
                    match &event.kind {
                        EventKind::AccessRequestResolved {
                            request,
                            outcome,
                            by,
                            ..
                        } => self.site().open_request(request).cloned().map(|request| {
                            ResolvedRequest {
                                request,
                                outcome: *outcome,
                                by: by.clone().filter(|b| b != crate::domain::REDACTED),
                                until: saturating_add_ms(now, RESOLVED_SHOWN_MS),
                            }
                        }),
                        _ => None,
                    };
                if self.site_mut().apply(event) {
                    if let Some(r) = resolved {
                        self.resolved.push_back(r);
                        while self.resolved.len() > 16 {
                            self.resolved.pop_front();
                        }
                    }
                    self.runtime.event_rate.record(now);
                    if let Some(event) = access {
                        self.access.push_front(event);
                        self.access.truncate(ACCESS_FEED_LEN);
                    }
                }
            }
            AppEvent::LinkUp => self.runtime.link = Link::Up,
            AppEvent::LinkDown {
                reason,
                retry_in_ms,
            } => {
                let attempt = match &self.runtime.link {
                    Link::Down { attempt, .. } => attempt.saturating_add(1),
                    Link::Up | Link::Idle => 1,
                };
                self.runtime.link = Link::Down {
                    attempt,
                    reason,
                    retry_in_ms,
                };
            }
            AppEvent::SessionEnded { message } => {
                // The view stays; what it shows is no longer known to be
                // true (the link is down: doors read unknown, commands
                // wait for a sign-in).
                self.runtime.lapsed = self.runtime.session.take().map(|s| s.username);
                self.runtime.link = Link::Idle;
                self.runtime.event_rate = EventRate::default();
                self.runtime.sign_in = SignInPhase::Failed { message };
            }
            AppEvent::SignedOut => {
                self.clear_session();
                self.runtime.sign_in = SignInPhase::Idle;
            }
            AppEvent::CommandSent { door, action, key } => {
                self.site_mut().command_sent(&door, action, key, now);
            }
            AppEvent::CommandAccepted { key, info } => {
                self.site_mut().command_accepted(&key, info, now);
            }
            AppEvent::CommandRejected { key, kind, message } => {
                let text = rejection_message(kind, &message);
                self.site_mut().command_rejected(&key, text);
            }
            AppEvent::DecisionFailed {
                request,
                kind,
                message,
            } => {
                let site = self.site();
                let what = site.open_request(&request).map_or_else(
                    || "the access request".to_owned(),
                    |r| format!("the access request at {}", site.door_name(&r.door)),
                );
                let text = format!(
                    "Could not answer {what}: {}",
                    rejection_message(kind, &message)
                );
                self.notice(NoticeLevel::Error, text);
            }
            AppEvent::Cardholders(names) => self.site_mut().add_cardholders(names),
            AppEvent::SiteClock { site, local } => {
                self.site_mut().clock_offset_ms = Some((site.now - local).num_milliseconds());
            }
            AppEvent::Notice { level, text } => self.notice(level, text),
            // For the video engine only (the shell takes it); never kept.
            AppEvent::RelayCredentials(_) => {}
            AppEvent::Cameras(cameras) => {
                if self.runtime.session.is_some() {
                    self.site_mut().set_cameras(cameras);
                }
            }
            AppEvent::CameraStill { camera, image } => self.site_mut().set_still(camera, image),
            AppEvent::MapImage { map, image } => self.site_mut().set_map_image(map, image),
            AppEvent::Maps(maps) => {
                for map in maps {
                    self.site_mut().set_map(map);
                }
            }
            AppEvent::MapSaved(saved) => self.runtime.map_saved = Some(saved),
            AppEvent::Connecting { at } => {
                // Only before the site ever answered with its state.
                if self.site().info.is_none() {
                    self.runtime.reach = Reach::Connecting { since: at };
                }
            }
            AppEvent::Unreachable {
                reason,
                at,
                retry_at,
            } => {
                if self.site().info.is_none() {
                    self.runtime.reach = Reach::Unreachable {
                        reason,
                        at,
                        retry_at,
                    };
                }
            }
            AppEvent::Reachable => self.runtime.reach = Reach::Unknown,
            AppEvent::CardholderSearch { q, result } => self.people.search_answered(q, result),
            AppEvent::CardholderOpening(id) => self.people.opening(id),
            AppEvent::CardholderLoaded(c) => self.people.loaded(c),
            AppEvent::CardholderFailed { id, message } => self.people.load_failed(&id, message),
            AppEvent::CardholderPhoto { id, image } => self.people.photo(&id, image),
            AppEvent::CardholderEvents { id, events } => self.people.events(&id, events),
            AppEvent::CardholderCard(card) => self.people.card_loaded(*card),
            AppEvent::Thumb { id, result } => self.people.thumbs.answered(id, result),
            AppEvent::BadgesSaved(outcome) => self.people.badges_saved(*outcome),
            AppEvent::CardholderSaving => self.people.save = Some(super::SaveState::Saving),
            AppEvent::CardholderSaved(c) => self.people.saved(c),
            AppEvent::CardholderSaveFailed { message } => {
                self.people.save = Some(super::SaveState::Failed(message));
            }
            AppEvent::CredentialSent { credential, state } => {
                self.people.change_sent(credential, state);
            }
            AppEvent::CredentialFailed {
                credential,
                message,
            } => self.people.change_failed(credential, message),
            AppEvent::SharedViews(views) => {
                // Only while signed in: a late answer after sign-out is dropped.
                if self.runtime.session.is_some() {
                    self.shared_views = views;
                }
            }
        }
    }

    fn tick(&mut self, now: Timestamp) {
        self.runtime.now = now;
        for site in self.sites.values_mut() {
            site.tick(now);
        }
        self.runtime
            .notices
            .retain(|n| (now - n.at).num_milliseconds() < NOTICE_MS);
        self.resolved.retain(|r| r.until > now);
    }

    /// Requests answered a moment ago, oldest first, with their outcome.
    pub fn resolved_requests(&self) -> impl Iterator<Item = &ResolvedRequest> {
        self.resolved.iter()
    }

    /// The next moment a tick would change something (a command deadline or
    /// a notice going away), so the shell can wake up then and not before.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let commands = self.sites.values().filter_map(SiteMirror::next_deadline);
        let notices = self
            .runtime
            .notices
            .iter()
            .map(|n| saturating_add_ms(n.at, NOTICE_MS));
        let rate = self.runtime.event_rate.next_change(self.runtime.now);
        let resolved = self.resolved.iter().map(|r| r.until);
        commands.chain(notices).chain(rate).chain(resolved).min()
    }

    fn clear_session(&mut self) {
        self.runtime.session = None;
        self.runtime.lapsed = None;
        self.runtime.link = Link::Idle;
        self.runtime.event_rate = EventRate::default();
        self.access.clear();
        self.resolved.clear();
        self.people = super::People::default();
        self.shared_views.clear();
        self.site_mut().clear();
    }

    /// The current site's shared camera views, by name.
    pub fn shared_views(&self) -> &[crate::domain::SharedView] {
        &self.shared_views
    }

    fn notice(&mut self, level: NoticeLevel, text: String) {
        let notices = &mut self.runtime.notices;
        notices.push(Notice {
            level,
            text,
            at: self.runtime.now,
        });
        if notices.len() > NOTICE_LEN {
            notices.remove(0);
        }
    }

    // ---- questions the UI asks ---------------------------------------------

    /// Whether the live link is up.
    pub fn link_up(&self) -> bool {
        self.runtime.link == Link::Up
    }

    /// The signed-in user's role.
    pub fn role(&self) -> Option<Role> {
        self.runtime.session.as_ref().map(|s| s.role)
    }

    /// A door of any site the client holds.
    pub fn door(&self, id: &Keyed<DoorId>) -> Option<&DoorView> {
        self.sites.get(&id.site)?.door(&id.id)
    }

    /// What a door shows: UNKNOWN while the link is down, never a cached lock.
    pub fn door_state(&self, door: &DoorView) -> DoorState {
        door.status.state(self.link_up())
    }

    /// The site's time now, as well as the client can tell.
    pub fn site_now(&self) -> Timestamp {
        let offset = self.site().clock_offset_ms.unwrap_or(0);
        // The offset comes from the site's clock, which may say anything.
        saturating_add_ms(self.runtime.now, offset)
    }

    /// The site's time zone (UTC when unknown or unreadable).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.site().time_zone()
    }

    /// The access events (granted, denied, requests and their outcome),
    /// newest first, at most [`ACCESS_FEED_LEN`].
    pub fn access_events(&self) -> &VecDeque<Event> {
        &self.access
    }

    /// Live events a second over the last [`RATE_WINDOW_SECS`].
    pub fn event_rate(&self) -> f64 {
        self.runtime.event_rate.per_second(self.runtime.now)
    }

    /// The cameras of a door that the client knows, in the door's order.
    pub fn door_cameras(&self, door: &DoorId) -> Vec<CameraId> {
        let site = self.site();
        site.door(door)
            .map(|d| {
                d.door
                    .cameras
                    .iter()
                    .filter(|c| site.camera(c).is_some())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Shows a door's cameras in the camera view
    /// ([`Command::ShowDoorCameras`](super::Command::ShowDoorCameras)): one
    /// camera fills the view; several page the grid to the first of them
    /// with a grid big enough for them all. False (and nothing changes)
    /// when the door has no camera the client knows.
    pub fn show_door_cameras(&self, door: &DoorId, workspace: &mut Workspace) -> bool {
        let cameras = self.door_cameras(door);
        let Some(first) = cameras.first() else {
            return false;
        };
        let view = &mut workspace.cameras;
        workspace.main = MainView::Cameras;
        if cameras.len() == 1 {
            view.single = Some(first.clone());
            return true;
        }
        // The grid pages through the site's cameras in order: start at the
        // door's first camera, on a grid wide enough for the span of them.
        let order = self.site().cameras();
        let position = |id: &CameraId| order.iter().position(|c| &c.id == id);
        let start = cameras.iter().filter_map(position).min().unwrap_or(0);
        let end = cameras.iter().filter_map(position).max().unwrap_or(start);
        let span = end - start + 1;
        let Some(side) = super::GRID_SIDES.iter().copied().find(|s| s * s >= span) else {
            // Too far apart for one page: the first of them fills the view.
            view.single = Some(first.clone());
            return true;
        };
        view.single = None;
        view.fill = false;
        view.first = start;
        view.side = side;
        view.mixed = None;
        // A camera placed by hand on a tile where one of the door's
        // cameras comes would hide it: that tile goes back to the paging.
        for (i, camera) in order.iter().skip(start).take(side * side).enumerate() {
            if cameras.contains(&camera.id) {
                view.assigned.remove(&i);
            }
        }
        true
    }

    /// Why `action` cannot be sent now, or None when it can.
    pub fn door_action_blocked(&self, action: DoorAction) -> Option<String> {
        let role = match self.role() {
            None => return Some("not signed in".into()),
            Some(role) => role,
        };
        if !may_command_door(role, action) {
            return Some(
                if matches!(action, DoorAction::Lockdown | DoorAction::ReleaseLockdown) {
                    format!(
                        "only a supervisor or admin may {}; you are {role}",
                        action.label()
                    )
                } else {
                    format!("your role ({role}) may not command doors")
                },
            );
        }
        if !self.link_up() {
            return Some("the link to the site is down; door states are unknown".into());
        }
        None
    }

    /// Why access requests cannot be answered now, or None when they can.
    pub fn decision_blocked(&self) -> Option<String> {
        let role = match self.role() {
            None => return Some("not signed in".into()),
            Some(role) => role,
        };
        if !may_decide_requests(role) {
            return Some(format!("your role ({role}) may not answer access requests"));
        }
        if !self.link_up() {
            return Some("the link to the site is down".into());
        }
        None
    }
}

/// Whether an event belongs in the access feed.
fn is_access(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::AccessGranted { .. }
            | EventKind::AccessDenied { .. }
            | EventKind::AccessRequestOpened { .. }
            | EventKind::AccessRequestResolved { .. }
    )
}

/// Whether `role` may send `action` to a door (the site decides; the client
/// mirrors it to disable what would be refused).
pub fn may_command_door(role: Role, action: DoorAction) -> bool {
    domain::allowed(role, Permission::for_door_action(action))
}

/// Whether the signed-in role may play recordings back (none signed in:
/// no).
pub fn may_view_recordings(session: Option<&crate::domain::Session>) -> bool {
    session.is_some_and(|s| domain::allowed(s.role, Permission::ViewRecordings))
}

/// Whether `role` may grant or deny access requests.
pub fn may_decide_requests(role: Role) -> bool {
    domain::allowed(role, Permission::AnswerRequests)
}

fn sign_in_message(kind: ErrorKind, message: &str) -> String {
    match kind {
        ErrorKind::Unauthenticated => "Wrong user name or password".into(),
        ErrorKind::Unavailable => format!("Cannot reach the site: {message}"),
        ErrorKind::RateLimited => format!("Too many sign-ins: {message}"),
        _ => message.to_owned(),
    }
}

fn rejection_message(kind: ErrorKind, message: &str) -> String {
    match kind {
        ErrorKind::PermissionDenied => format!("not allowed: {message}"),
        ErrorKind::Unavailable => format!("not delivered: {message}"),
        ErrorKind::Unauthenticated => "the session has ended; sign in again".into(),
        _ => message.to_owned(),
    }
}

/// `at + ms`, held at the ends of chrono's range rather than panicking: the
/// site's clock (and so any time derived from it) is not trusted.
pub(crate) fn saturating_add_ms(at: Timestamp, ms: i64) -> Timestamp {
    chrono::TimeDelta::try_milliseconds(ms)
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(if ms < 0 {
            chrono::DateTime::<chrono::Utc>::MIN_UTC
        } else {
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::{
        AccessRequest, Camera, CameraId, CommandId, CommandInfo, CommandState, Door, DoorMode,
        DoorStatus, DoorWithStatus, Event, EventKind, FailMode, RequestId, RequestOutcome, Seq,
        SiteInfo, SiteTime, Snapshot,
    };
    use crate::viewer::{CommandPhase, EVENT_LIST_LEN, NO_ANSWER, StillImage};

    fn t(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap()
    }

    fn door(id: &str, name: &str) -> DoorWithStatus {
        DoorWithStatus {
            door: Door {
                id: DoorId::new(id),
                name: name.into(),
                zone: "office".into(),
                map: None,
                fail_mode: FailMode::FailSecure,
                access_time_ms: 5000,
                held_open_threshold_ms: 20000,
                cameras: vec![],
            },
            status: DoorStatus::locked_closed(),
            changed: None,
        }
    }

    fn request(id: &str, door: &str) -> AccessRequest {
        AccessRequest {
            id: RequestId::new(id),
            door: DoorId::new(door),
            access_point: None,
            cardholder: None,
            credential: None,
            reason: "visitor".into(),
            visitor_name: Some("Ada".into()),
            created: t(0),
            expires: t(60),
        }
    }

    fn snapshot(seq: Seq) -> Snapshot {
        Snapshot {
            seq,
            site: SiteInfo {
                name: "Test site".into(),
                time_zone: "Europe/Berlin".into(),
                demo: true,
            },
            cameras: vec![],
            doors: vec![door("d1", "Server room"), door("d2", "Lobby")],
            access_points: vec![],
            maps: vec![],
            open_requests: vec![request("r1", "d1")],
        }
    }

    fn session(role: Role) -> Session {
        Session {
            token: "tok".into(),
            username: role.as_str().into(),
            role,
            expires: t(3600),
        }
    }

    fn live(seq: Seq, kind: EventKind) -> AppEvent {
        AppEvent::Live(Event {
            seq,
            time: t(seq as i64),
            kind,
        })
    }

    fn unlocked() -> DoorStatus {
        DoorStatus {
            mode: DoorMode::Unlocked,
            ..DoorStatus::locked_closed()
        }
    }

    fn info(id: &str, state: CommandState) -> CommandInfo {
        CommandInfo {
            id: CommandId::new(id),
            door: DoorId::new("d1"),
            action: DoorAction::Unlock,
            state,
            reason: None,
        }
    }

    fn sent(key: &str) -> AppEvent {
        AppEvent::CommandSent {
            door: DoorId::new("d1"),
            action: DoorAction::Unlock,
            key: key.into(),
        }
    }

    fn completed(seq: Seq, id: &str) -> AppEvent {
        live(
            seq,
            EventKind::CommandCompleted {
                command: CommandId::new(id),
                door: DoorId::new("d1"),
                action: DoorAction::Unlock,
                by: "operator".into(),
            },
        )
    }

    fn failed(seq: Seq, id: &str, reason: &str) -> AppEvent {
        live(
            seq,
            EventKind::CommandFailed {
                command: CommandId::new(id),
                door: DoorId::new("d1"),
                action: DoorAction::Unlock,
                by: "operator".into(),
                reason: reason.into(),
            },
        )
    }

    fn signed_in(role: Role) -> AppState {
        let mut s = AppState::new(t(0), "http://site", false);
        s.apply(AppEvent::SignedIn(session(role)));
        s.apply(AppEvent::Snapshot(Box::new(snapshot(10))));
        s
    }

    fn phase(s: &AppState) -> Option<CommandPhase> {
        s.site()
            .door(&DoorId::new("d1"))
            .and_then(|d| d.last_command.as_ref())
            .map(|c| c.phase.clone())
    }

    fn shown(s: &AppState, id: &str) -> DoorState {
        s.door_state(s.site().door(&DoorId::new(id)).unwrap())
    }

    /// Each row: the events applied after sign-in + snapshot, then what the
    /// first door's last command and shown state must be.
    #[test]
    fn command_lifecycle_table() {
        let failed_no_answer = Some(CommandPhase::Failed(NO_ANSWER.into()));
        let rows: Vec<(&str, Vec<AppEvent>, Option<CommandPhase>, DoorState)> = vec![
            ("nothing sent", vec![], None, DoorState::Locked),
            (
                "sent",
                vec![sent("k")],
                Some(CommandPhase::Sending),
                DoorState::Locked,
            ),
            (
                "accepted",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                ],
                Some(CommandPhase::Pending),
                DoorState::Locked,
            ),
            (
                "completed and door changed",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    live(
                        11,
                        EventKind::DoorStateChanged {
                            door: DoorId::new("d1"),
                            status: unlocked(),
                        },
                    ),
                    completed(12, "c1"),
                ],
                Some(CommandPhase::Confirmed),
                DoorState::Unlocked,
            ),
            (
                "outcome before the 202",
                vec![
                    sent("k"),
                    completed(11, "c1"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                ],
                Some(CommandPhase::Confirmed),
                DoorState::Locked,
            ),
            (
                "failed by the site",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    failed(11, "c1", "door offline"),
                ],
                Some(CommandPhase::Failed("door offline".into())),
                DoorState::Locked,
            ),
            (
                "rejected",
                vec![
                    sent("k"),
                    AppEvent::CommandRejected {
                        key: "k".into(),
                        kind: ErrorKind::PermissionDenied,
                        message: "viewer".into(),
                    },
                ],
                Some(CommandPhase::Failed("not allowed: viewer".into())),
                DoorState::Locked,
            ),
            (
                "no answer within the deadline",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    AppEvent::Tick { now: t(9) },
                    AppEvent::Tick { now: t(10) },
                ],
                failed_no_answer.clone(),
                DoorState::Locked,
            ),
            (
                "just before the deadline",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    AppEvent::Tick { now: t(9) },
                ],
                Some(CommandPhase::Pending),
                DoorState::Locked,
            ),
            (
                "an outcome for another command changes nothing",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Pending),
                    },
                    completed(11, "c9"),
                ],
                Some(CommandPhase::Pending),
                DoorState::Locked,
            ),
            (
                "a newer command supersedes the old one",
                vec![
                    sent("k1"),
                    sent("k2"),
                    AppEvent::CommandAccepted {
                        key: "k1".into(),
                        info: info("c1", CommandState::Pending),
                    },
                ],
                Some(CommandPhase::Sending),
                DoorState::Locked,
            ),
            (
                "a retried request answers an already completed command",
                vec![
                    sent("k"),
                    AppEvent::CommandAccepted {
                        key: "k".into(),
                        info: info("c1", CommandState::Completed),
                    },
                ],
                Some(CommandPhase::Confirmed),
                DoorState::Locked,
            ),
            (
                "link down: unknown, never the cached lock",
                vec![AppEvent::LinkDown {
                    reason: "eof".into(),
                    retry_in_ms: 250,
                }],
                None,
                DoorState::Unknown,
            ),
            (
                "link back up",
                vec![
                    AppEvent::LinkDown {
                        reason: "eof".into(),
                        retry_in_ms: 250,
                    },
                    AppEvent::LinkUp,
                ],
                None,
                DoorState::Locked,
            ),
            (
                "duplicate event ignored",
                vec![
                    live(
                        11,
                        EventKind::DoorStateChanged {
                            door: DoorId::new("d1"),
                            status: unlocked(),
                        },
                    ),
                    live(
                        11,
                        EventKind::DoorStateChanged {
                            door: DoorId::new("d1"),
                            status: DoorStatus::locked_closed(),
                        },
                    ),
                ],
                None,
                DoorState::Unlocked,
            ),
            (
                "event older than the snapshot ignored",
                vec![live(
                    9,
                    EventKind::DoorStateChanged {
                        door: DoorId::new("d1"),
                        status: unlocked(),
                    },
                )],
                None,
                DoorState::Locked,
            ),
        ];
        for (name, events, want_phase, want_state) in rows {
            let mut s = signed_in(Role::Operator);
            for e in events {
                s.apply(e);
            }
            assert_eq!(phase(&s), want_phase, "{name}: phase");
            assert_eq!(shown(&s, "d1"), want_state, "{name}: state");
        }
    }

    #[test]
    fn late_outcome_after_deadline_wins() {
        let mut s = signed_in(Role::Operator);
        s.apply(sent("k"));
        s.apply(AppEvent::CommandAccepted {
            key: "k".into(),
            info: info("c1", CommandState::Pending),
        });
        s.apply(AppEvent::Tick { now: t(11) });
        assert_eq!(phase(&s), Some(CommandPhase::Failed(NO_ANSWER.into())));
        s.apply(completed(11, "c1"));
        assert_eq!(phase(&s), Some(CommandPhase::Confirmed));
    }

    #[test]
    fn deadline_is_reported_for_waking_up() {
        let mut s = signed_in(Role::Operator);
        assert_eq!(s.next_deadline(), None);
        s.apply(AppEvent::Tick { now: t(3) });
        s.apply(sent("k"));
        assert_eq!(s.next_deadline(), None, "no deadline before acceptance");
        s.apply(AppEvent::CommandAccepted {
            key: "k".into(),
            info: info("c1", CommandState::Pending),
        });
        assert_eq!(s.next_deadline(), Some(t(13)));
    }

    #[test]
    fn access_requests_table() {
        let resolved = |seq, id: &str| {
            live(
                seq,
                EventKind::AccessRequestResolved {
                    request: RequestId::new(id),
                    door: DoorId::new("d1"),
                    outcome: RequestOutcome::Granted,
                    by: Some("operator".into()),
                    reason: None,
                },
            )
        };
        let opened = |seq, id: &str| {
            live(
                seq,
                EventKind::AccessRequestOpened {
                    request: request(id, "d2"),
                },
            )
        };
        let rows: Vec<(&str, Vec<AppEvent>, Vec<&str>)> = vec![
            ("from the snapshot", vec![], vec!["r1"]),
            ("opened", vec![opened(11, "r2")], vec!["r1", "r2"]),
            (
                "opened twice",
                vec![opened(11, "r2"), opened(12, "r2")],
                vec!["r1", "r2"],
            ),
            ("resolved", vec![resolved(11, "r1")], vec![]),
            (
                "opened then resolved",
                vec![opened(11, "r2"), resolved(12, "r2")],
                vec!["r1"],
            ),
            ("unknown resolved", vec![resolved(11, "r9")], vec!["r1"]),
        ];
        for (name, events, want) in rows {
            let mut s = signed_in(Role::Operator);
            for e in events {
                s.apply(e);
            }
            let ids: Vec<&str> = s.site().open_requests().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, want, "{name}");
        }
    }

    #[test]
    fn link_down_counts_attempts_and_up_resets() {
        let mut s = signed_in(Role::Operator);
        for n in 1..=3 {
            s.apply(AppEvent::LinkDown {
                reason: "refused".into(),
                retry_in_ms: 500,
            });
            assert!(matches!(s.runtime.link, Link::Down { attempt, .. } if attempt == n));
        }
        s.apply(AppEvent::LinkUp);
        s.apply(AppEvent::LinkDown {
            reason: "eof".into(),
            retry_in_ms: 250,
        });
        assert!(matches!(s.runtime.link, Link::Down { attempt: 1, .. }));
    }

    #[test]
    fn event_list_keeps_the_newest_500_newest_first() {
        let mut s = signed_in(Role::Operator);
        for seq in 11..=700 {
            s.apply(live(seq, EventKind::TestFlood { n: seq }));
        }
        assert_eq!(s.site().events().len(), EVENT_LIST_LEN);
        assert_eq!(s.site().events().front().map(|e| e.seq), Some(700));
        assert_eq!(s.site().events().back().map(|e| e.seq), Some(201));
        assert_eq!(s.site().last_seq(), Some(700));
    }

    fn camera(id: &str) -> Camera {
        let stream = |kind: &str, width, height| crate::domain::StreamInfo {
            url: format!("rtsp://127.0.0.1:8554/{id}/{kind}"),
            width,
            height,
            fps: 25,
            codec: "h264".into(),
            ..Default::default()
        };
        Camera {
            id: CameraId::new(id),
            name: format!("Camera {id}"),
            main: stream("main", 1280, 720),
            sub: stream("sub", 640, 360),
            map: None,
            state: Default::default(),
            auth_required: false,
            reason: None,
        }
    }

    fn still(width: u32, height: u32, len: usize) -> Arc<StillImage> {
        Arc::new(StillImage {
            width,
            height,
            rgba: bytes::Bytes::from(vec![255; len]),
        })
    }

    #[test]
    fn cameras_and_their_stills() {
        let mut s = AppState::new(t(0), "http://site", true);
        s.apply(AppEvent::SignedIn(session(Role::Operator)));
        let mut snap = snapshot(10);
        snap.cameras = vec![camera("c1"), camera("c2")];
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        assert_eq!(s.site().cameras().len(), 2);
        assert_eq!(
            s.site()
                .camera(&CameraId::new("c2"))
                .map(|c| c.name.as_str()),
            Some("Camera c2")
        );

        // A still is kept for a known camera with a consistent buffer only.
        s.apply(AppEvent::CameraStill {
            camera: CameraId::new("c1"),
            image: still(2, 2, 16),
        });
        s.apply(AppEvent::CameraStill {
            camera: CameraId::new("c2"),
            image: still(2, 2, 15),
        });
        s.apply(AppEvent::CameraStill {
            camera: CameraId::new("nope"),
            image: still(2, 2, 16),
        });
        assert_eq!(s.site().stills().len(), 1);
        assert!(s.site().stills().contains_key(&CameraId::new("c1")));
        assert!(
            !format!("{:?}", s.site().stills()).contains("255"),
            "no pixels in Debug"
        );

        // The cameras read again: new addresses, c1 gone with its still.
        let mut moved = camera("c2");
        moved.main.url = "rtsp://127.0.0.1:40000/c2/main".into();
        s.apply(AppEvent::Cameras(vec![moved.clone()]));
        assert_eq!(s.site().cameras(), [moved]);
        assert!(s.site().stills().is_empty());

        // Signed out: no cameras, and a late reading does not bring them back.
        s.apply(AppEvent::SignedOut);
        assert!(s.site().cameras().is_empty());
        s.apply(AppEvent::Cameras(vec![camera("c1")]));
        assert!(s.site().cameras().is_empty());
    }

    fn floor(id: &str) -> crate::domain::FloorMap {
        crate::domain::FloorMap {
            id: crate::domain::MapId::new(id),
            name: format!("Floor {id}"),
            image: format!("{id}.png"),
            width: 2,
            height: 2,
            doors: vec![],
            cameras: vec![],
        }
    }

    #[test]
    fn floor_plans_and_their_pictures() {
        use crate::domain::MapId;
        let mut s = AppState::new(t(0), "http://site", true);
        s.apply(AppEvent::SignedIn(session(Role::Operator)));
        let mut snap = snapshot(10);
        snap.maps = vec![floor("f1"), floor("f2")];
        s.apply(AppEvent::Snapshot(Box::new(snap.clone())));
        assert_eq!(s.site().maps().len(), 2);
        assert!(s.site().map(&MapId::new("f2")).is_some());

        // Kept for a known plan with a consistent buffer only.
        let picture = |map: &str, len| AppEvent::MapImage {
            map: MapId::new(map),
            image: still(2, 2, len),
        };
        s.apply(picture("f1", 16));
        s.apply(picture("f2", 15));
        s.apply(picture("nope", 16));
        assert!(s.site().map_image(&MapId::new("f1")).is_some());
        assert!(s.site().map_image(&MapId::new("f2")).is_none());
        assert!(s.site().map_image(&MapId::new("nope")).is_none());

        // A new snapshot keeps the pictures of plans still there.
        snap.maps = vec![floor("f1")];
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        assert!(s.site().map_image(&MapId::new("f1")).is_some());
        snap = snapshot(11);
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        assert!(s.site().maps().is_empty());
        assert!(s.site().map_image(&MapId::new("f1")).is_none());

        // Signed out: nothing of them stays.
        let mut snap = snapshot(12);
        snap.maps = vec![floor("f1")];
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        s.apply(picture("f1", 16));
        s.apply(AppEvent::SignedOut);
        assert!(s.site().maps().is_empty());
        assert!(s.site().map_image(&MapId::new("f1")).is_none());
    }

    #[test]
    fn snapshot_replaces_state_and_keeps_last_commands() {
        let mut s = signed_in(Role::Operator);
        s.apply(sent("k"));
        s.apply(live(11, EventKind::TestFlood { n: 1 }));
        s.apply(live(12, EventKind::TestFlood { n: 2 }));
        let mut snap = snapshot(11);
        snap.doors[0].status = unlocked();
        snap.open_requests.clear();
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        assert_eq!(shown(&s, "d1"), DoorState::Unlocked);
        assert_eq!(phase(&s), Some(CommandPhase::Sending));
        assert_eq!(s.site().open_requests().len(), 0);
        // Event 12 is after the snapshot: it will come again on the stream.
        assert_eq!(
            s.site().events().iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![11]
        );
        s.apply(live(12, EventKind::TestFlood { n: 2 }));
        assert_eq!(s.site().events().len(), 2);
    }

    #[test]
    fn rights_table() {
        use DoorAction::*;
        let rows = [
            (Role::Viewer, Unlock, false),
            (Role::Investigator, Lock, false),
            (Role::Operator, Unlock, true),
            (Role::Operator, Access, true),
            (Role::Operator, Lockdown, false),
            (Role::Operator, ReleaseLockdown, false),
            (Role::Supervisor, Lockdown, true),
            (Role::Admin, ReleaseLockdown, true),
        ];
        for (role, action, want) in rows {
            let s = signed_in(role);
            assert_eq!(
                s.door_action_blocked(action).is_none(),
                want,
                "{role} {action:?}"
            );
        }
        let mut s = signed_in(Role::Supervisor);
        s.apply(AppEvent::LinkDown {
            reason: "x".into(),
            retry_in_ms: 1,
        });
        assert!(s.door_action_blocked(Lock).unwrap().contains("link"));
        assert!(s.decision_blocked().unwrap().contains("link"));
        assert!(signed_in(Role::Viewer).decision_blocked().is_some());
        assert!(signed_in(Role::Operator).decision_blocked().is_none());
    }

    #[test]
    fn sign_in_and_out() {
        let mut s = AppState::new(t(0), "http://site", false);
        s.apply(AppEvent::SignInStarted {
            username: "operator".into(),
        });
        assert!(matches!(s.runtime.sign_in, SignInPhase::InProgress { .. }));
        s.apply(AppEvent::SignInFailed {
            kind: ErrorKind::Unauthenticated,
            message: "bad".into(),
        });
        assert_eq!(
            s.runtime.sign_in,
            SignInPhase::Failed {
                message: "Wrong user name or password".into()
            }
        );
        // A session the site ends leaves the view in place, its doors
        // unknown; the same user signing in again keeps it, another user
        // does not.
        for (again, kept) in [("operator", true), ("viewer", false)] {
            let mut s = signed_in(Role::Operator);
            s.apply(AppEvent::SessionEnded {
                message: "session expired".into(),
            });
            assert!(s.runtime.session.is_none() && s.runtime.link == Link::Idle);
            assert_eq!(s.runtime.lapsed.as_deref(), Some("operator"));
            assert!(!s.site().doors().is_empty(), "the view stays");
            assert_eq!(shown(&s, "d1"), DoorState::Unknown);
            assert!(s.door_action_blocked(DoorAction::Lock).is_some());
            assert!(s.site().info.is_some(), "the site's name stays");
            let mut session = session(Role::Operator);
            session.username = again.into();
            s.apply(AppEvent::SignedIn(session));
            assert_eq!(s.runtime.lapsed, None);
            assert_eq!(!s.site().doors().is_empty(), kept, "{again}");
        }
        let mut s = signed_in(Role::Operator);
        s.apply(AppEvent::SignedOut);
        assert!(s.runtime.session.is_none() && s.site().events().is_empty());
        assert_eq!(s.runtime.sign_in, SignInPhase::Idle);
    }

    #[test]
    fn clock_offset_and_site_time() {
        let mut s = signed_in(Role::Operator);
        s.apply(AppEvent::SiteClock {
            site: SiteTime {
                now: t(5),
                time_zone: "Europe/Berlin".into(),
            },
            local: t(3),
        });
        assert_eq!(s.site().clock_offset_ms, Some(2000));
        s.apply(AppEvent::Tick { now: t(10) });
        assert_eq!(s.site_now(), t(12));
        assert_eq!(s.time_zone(), chrono_tz::Europe::Berlin);
    }

    /// A site clock at either end of chrono's range (hostile or broken) is
    /// held there: the site's time, deadlines and their text never panic.
    #[test]
    fn absurd_site_clock_saturates() {
        use chrono::{DateTime, Utc};
        for (site_now, local_later, want) in [
            (DateTime::<Utc>::MAX_UTC, t(3600), DateTime::<Utc>::MAX_UTC),
            (DateTime::<Utc>::MIN_UTC, t(-3600), DateTime::<Utc>::MIN_UTC),
        ] {
            let mut s = signed_in(Role::Operator);
            s.apply(AppEvent::SiteClock {
                site: SiteTime {
                    now: site_now,
                    time_zone: "Pacific/Kiritimati".into(),
                },
                local: t(0),
            });
            s.apply(AppEvent::Tick { now: local_later });
            assert_eq!(s.site_now(), want);
            // What `ui::format::site_date_time` does with it.
            let text = s
                .site_now()
                .with_timezone(&s.time_zone())
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string();
            assert!(!text.is_empty());
            assert!(s.next_deadline().is_none_or(|d| d >= local_later));
        }
        assert_eq!(
            saturating_add_ms(t(0), i64::MAX),
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        );
        assert_eq!(
            saturating_add_ms(t(0), i64::MIN),
            chrono::DateTime::<chrono::Utc>::MIN_UTC
        );
    }

    #[test]
    fn notices_expire_and_are_capped() {
        let mut s = signed_in(Role::Operator);
        for i in 0..6 {
            s.apply(AppEvent::Notice {
                level: NoticeLevel::Info,
                text: format!("n{i}"),
            });
        }
        assert_eq!(s.runtime.notices.len(), NOTICE_LEN);
        assert_eq!(
            s.runtime.notices.last().map(|n| n.text.as_str()),
            Some("n5")
        );
        assert_eq!(s.next_deadline(), Some(t(8)));
        s.apply(AppEvent::Tick { now: t(8) });
        assert!(s.runtime.notices.is_empty());
    }

    #[test]
    fn decision_failure_names_the_door() {
        let mut s = signed_in(Role::Operator);
        s.apply(AppEvent::DecisionFailed {
            request: RequestId::new("r1"),
            kind: ErrorKind::Conflict,
            message: "already answered".into(),
        });
        let text = &s.runtime.notices[0].text;
        assert!(
            text.contains("Server room") && text.contains("already answered"),
            "{text}"
        );
    }

    #[test]
    fn commands_are_found_by_key_and_id_across_snapshots() {
        // Accepted, then a snapshot (a reconnect), then the outcome: the
        // mirror still finds the command by its id.
        let mut s = signed_in(Role::Operator);
        s.apply(sent("k"));
        s.apply(AppEvent::CommandAccepted {
            key: "k".into(),
            info: info("c1", CommandState::Pending),
        });
        s.apply(AppEvent::Snapshot(Box::new(snapshot(20))));
        assert_eq!(phase(&s), Some(CommandPhase::Pending));
        assert_eq!(s.next_deadline(), Some(t(10)));
        s.apply(completed(21, "c1"));
        assert_eq!(phase(&s), Some(CommandPhase::Confirmed));
        // No command deadline left (the live event rate has its own).
        assert_eq!(s.site().next_deadline(), None);

        // A superseded command's outcome does not touch the newer one.
        let mut s = signed_in(Role::Operator);
        s.apply(sent("k1"));
        s.apply(AppEvent::CommandAccepted {
            key: "k1".into(),
            info: info("c1", CommandState::Pending),
        });
        s.apply(sent("k2"));
        s.apply(failed(11, "c1", "jammed"));
        assert_eq!(phase(&s), Some(CommandPhase::Sending));
        s.apply(AppEvent::CommandRejected {
            key: "k1".into(),
            kind: ErrorKind::Unavailable,
            message: "late".into(),
        });
        assert_eq!(phase(&s), Some(CommandPhase::Sending), "k1 is gone");

        // A door gone from the snapshot takes its command with it.
        let mut s = signed_in(Role::Operator);
        s.apply(sent("k"));
        let mut snap = snapshot(20);
        snap.doors.retain(|d| d.door.id.as_str() != "d1");
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        s.apply(AppEvent::CommandAccepted {
            key: "k".into(),
            info: info("c1", CommandState::Pending),
        });
        assert!(s.site().door(&DoorId::new("d1")).is_none());
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn ids_carry_their_site() {
        let mut s = signed_in(Role::Operator);
        let here = s.site().keyed(DoorId::new("d1"));
        let other = s.add_site("https://other.example", false);
        assert_eq!(s.sites().len(), 2);
        assert_ne!(here.site, other);
        assert_eq!(
            s.door(&here).map(|d| d.door.name.as_str()),
            Some("Server room")
        );
        let there = Keyed {
            site: other.clone(),
            id: DoorId::new("d1"),
        };
        assert!(
            s.door(&there).is_none(),
            "the other site knows no doors yet"
        );
        // Events still go to the site the window shows.
        s.apply(live(
            11,
            EventKind::DoorStateChanged {
                door: DoorId::new("d1"),
                status: unlocked(),
            },
        ));
        assert_eq!(shown(&s, "d1"), DoorState::Unlocked);
        assert_eq!(s.sites()[&other].last_seq(), None);
        assert_eq!(s.site().key(), &here.site);
    }

    /// The cost of one live event does not grow with the site: prints the
    /// time per door event with 10 and with 5,000 doors (run with
    /// `--ignored --nocapture`; a debug build's figures, for comparison only).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn event_cost_does_not_grow_with_the_site() {
        for doors in [10, 5_000] {
            let mut s = signed_in(Role::Operator);
            let mut snap = snapshot(10);
            snap.doors = (0..doors)
                .map(|i| door(&format!("d{i}"), &format!("Door {i}")))
                .collect();
            s.apply(AppEvent::Snapshot(Box::new(snap)));
            let n = 100_000;
            let started = std::time::Instant::now();
            for seq in 0..n {
                s.apply(live(
                    11 + seq,
                    EventKind::DoorStateChanged {
                        door: DoorId::new(format!("d{}", (seq as usize * 7919) % doors)),
                        status: unlocked(),
                    },
                ));
            }
            let per_event = started.elapsed() / n as u32;
            println!("{doors} doors: {per_event:?} per door event");
        }
    }

    fn at_ms(ms: i64) -> Timestamp {
        saturating_add_ms(t(0), ms)
    }

    #[test]
    fn event_rate_counts_the_last_ten_seconds() {
        let mut rate = EventRate::default();
        assert_eq!(rate.per_second(t(0)), 0.0);
        // 50 events a second for 12 s: the window holds the last 10.
        for ms in (0..12_000).step_by(20) {
            rate.record(at_ms(ms));
        }
        assert_eq!(rate.per_second(at_ms(11_999)), 50.0);
        // Quiet from then on: the rate falls a second at a time.
        assert_eq!(rate.per_second(t(12)), 45.0);
        assert_eq!(rate.per_second(t(16)), 25.0);
        assert_eq!(rate.per_second(t(21)), 0.0);
        assert_eq!(rate.per_second(t(500)), 0.0, "old buckets do not come back");
        // A bucket reused after the window counts only its new second.
        rate.record(t(30));
        assert_eq!(rate.per_second(t(30)), 0.1);
        // A clock that went back counts nothing from the future.
        assert_eq!(rate.per_second(t(-5)), 0.0);
        // The rate changes when the oldest counted second leaves the window.
        let mut quiet = EventRate::default();
        assert_eq!(quiet.next_change(t(5)), None);
        quiet.record(at_ms(3_500));
        quiet.record(at_ms(7_200));
        assert_eq!(quiet.next_change(t(8)), Some(t(13)));
        assert_eq!(quiet.next_change(t(13)), Some(t(17)));
        assert_eq!(quiet.next_change(t(17)), None);
        // Before the epoch works too.
        let mut early = EventRate::default();
        early.record(t(-1_790_000_005));
        assert_eq!(early.per_second(t(-1_790_000_001)), 0.1);
    }

    #[test]
    fn live_events_feed_the_rate_at_the_clients_clock_once_each() {
        let mut s = signed_in(Role::Operator);
        s.apply(AppEvent::Tick { now: t(100) });
        for seq in 11..=30 {
            s.apply(live(seq, EventKind::TestFlood { n: seq }));
        }
        // Seen already: not counted again.
        s.apply(live(30, EventKind::TestFlood { n: 30 }));
        assert_eq!(s.event_rate(), 2.0);
        assert_eq!(
            s.next_deadline(),
            Some(t(110)),
            "the shell wakes when it falls"
        );
        s.apply(AppEvent::Tick { now: t(110) });
        assert_eq!(s.event_rate(), 0.0);
        s.apply(AppEvent::SignedOut);
        s.apply(AppEvent::Tick { now: t(100) });
        assert_eq!(s.event_rate(), 0.0, "signing out forgets the rate");
    }

    fn granted(door: &str) -> EventKind {
        EventKind::AccessGranted {
            door: DoorId::new(door),
            access_point: None,
            cardholder: None,
            credential: None,
        }
    }

    #[test]
    fn the_access_feed_keeps_access_events_only_newest_first() {
        let mut s = signed_in(Role::Operator);
        s.apply(live(11, granted("d1")));
        s.apply(live(
            12,
            EventKind::DoorHeldOpen {
                door: DoorId::new("d1"),
            },
        ));
        s.apply(live(
            13,
            EventKind::AccessRequestResolved {
                request: RequestId::new("r1"),
                door: DoorId::new("d1"),
                outcome: RequestOutcome::Expired,
                by: None,
                reason: None,
            },
        ));
        s.apply(live(13, granted("d2")));
        let seqs: Vec<Seq> = s.access_events().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [13, 11], "newest first, no door alarm, no repeat");
        for seq in 14..(14 + ACCESS_FEED_LEN as Seq + 5) {
            s.apply(live(seq, granted("d2")));
        }
        assert_eq!(s.access_events().len(), ACCESS_FEED_LEN);
        assert_eq!(
            s.access_events().back().map(|e| e.seq),
            Some(19),
            "the oldest go first"
        );
        s.apply(AppEvent::SignedOut);
        assert!(s.access_events().is_empty());
    }

    #[test]
    fn a_doors_cameras_show_in_the_view() {
        let mut s = signed_in(Role::Operator);
        let mut snap = snapshot(20);
        snap.cameras = ["c1", "c2", "c3", "c4", "c5", "c6"]
            .into_iter()
            .map(camera)
            .collect();
        snap.doors[0].door.cameras = vec![CameraId::new("c2")];
        snap.doors[1].door.cameras = vec![CameraId::new("c6"), CameraId::new("c3")];
        let mut gone = door("d3", "Gone");
        gone.door.cameras = vec![CameraId::new("no-such-camera")];
        snap.doors.push(gone);
        s.apply(AppEvent::Snapshot(Box::new(snap)));

        let mut w = Workspace::default();
        assert!(s.show_door_cameras(&DoorId::new("d1"), &mut w));
        assert_eq!(w.main, MainView::Cameras);
        assert_eq!(w.cameras.single, Some(CameraId::new("c2")));

        // Two cameras, third and sixth of the site's: a 2x2 grid from c3.
        let mut w = Workspace::default();
        w.cameras.single = Some(CameraId::new("c1"));
        w.cameras.fill = true;
        assert!(s.show_door_cameras(&DoorId::new("d2"), &mut w));
        assert_eq!(w.main, MainView::Cameras);
        assert_eq!(
            (
                w.cameras.single.clone(),
                w.cameras.first,
                w.cameras.side,
                w.cameras.fill
            ),
            (None, 2, 2, false)
        );
        // A camera placed over c3's tile gives way; one on another tile stays.
        let mut w = Workspace::default();
        w.cameras.assigned.insert(0, CameraId::new("c1"));
        w.cameras.assigned.insert(1, CameraId::new("c2"));
        assert!(s.show_door_cameras(&DoorId::new("d2"), &mut w));
        assert_eq!(
            w.cameras.assigned.into_iter().collect::<Vec<_>>(),
            [(1, CameraId::new("c2"))]
        );

        // Further apart than the largest grid: the first fills the view.
        let mut snap = snapshot(30);
        snap.cameras = (1..=20).map(|i| camera(&format!("k{i}"))).collect();
        snap.doors[0].door.cameras = vec![CameraId::new("k20"), CameraId::new("k1")];
        s.apply(AppEvent::Snapshot(Box::new(snap)));
        let mut w = Workspace::default();
        assert!(s.show_door_cameras(&DoorId::new("d1"), &mut w));
        assert_eq!(w.cameras.single, Some(CameraId::new("k20")));

        // No camera the client knows, or no such door: nothing changes.
        for door in ["d3", "no-such-door"] {
            let mut w = Workspace::default();
            assert!(!s.show_door_cameras(&DoorId::new(door), &mut w), "{door}");
            assert_eq!(w, Workspace::default(), "{door}");
        }
    }

    #[test]
    fn unreachable_at_the_start_only_before_any_snapshot() {
        let mut s = AppState::new(t(0), "http://127.0.0.1:1", false);
        s.apply(AppEvent::Connecting { at: t(1) });
        assert_eq!(s.runtime.reach, Reach::Connecting { since: t(1) });
        let down = AppEvent::Unreachable {
            reason: "connection refused".into(),
            at: t(2),
            retry_at: t(4),
        };
        s.apply(down.clone());
        assert!(matches!(s.runtime.reach, Reach::Unreachable { .. }));
        s.apply(AppEvent::Reachable);
        assert_eq!(s.runtime.reach, Reach::Unknown);
        // Once the site's state was loaded, a lost site is a lost link.
        s.apply(AppEvent::Snapshot(Box::new(snapshot(10))));
        s.apply(AppEvent::Connecting { at: t(5) });
        s.apply(down);
        assert_eq!(s.runtime.reach, Reach::Unknown);
    }
}

//! The live event list, newest first, and the one place where an event
//! becomes words: [`event_title`] gives every event an icon (an
//! [`EventIcon`], painted, so no emoji font is needed), a colour for
//! its kind and a title in an operator's words ("Door forced open",
//! "Access granted · Nora Lindqvist"). Wire names such as
//! `door.state_changed` never reach the screen.

use egui::{Color32, RichText, ScrollArea, Ui};

use super::{format, theme};
use crate::domain::{
    CardholderId, DoorAction, DoorState, Event, EventKind, REDACTED, RequestOutcome,
};
use crate::viewer::AppState;

/// The height of one event row, in points.
const ROW_HEIGHT: f32 = 18.0;

/// The list of recent events. Under the pointer, a door's event offers to
/// play that door's cameras from a few seconds before it (roles that may
/// view recordings).
pub fn events_ui(ui: &mut Ui, state: &AppState, commands: &crate::viewer::CommandSender) {
    let may_play = crate::viewer::may_view_recordings(state.runtime.session.as_ref());
    ui.heading("Events");
    if state.site().events().is_empty() {
        ui.label(RichText::new("No events yet").color(theme::MUTED));
        return;
    }
    let tz = state.time_zone();
    ScrollArea::vertical()
        .id_salt("events")
        .auto_shrink([false, false])
        .show_rows(ui, ROW_HEIGHT, state.site().events().len(), |ui, rows| {
            for event in state.site().events().range(rows) {
                let row = ui.horizontal(|ui| {
                    ui.set_height(ROW_HEIGHT);
                    ui.label(RichText::new(format::site_time(event.time, tz)).monospace());
                    let (icon, color, title) = event_title(event, state);
                    icon_ui(ui, icon, color);
                    ui.label(RichText::new(title).color(color));
                    if let Some(door) = event.kind.door() {
                        ui.label(RichText::new(state.site().door_name(door)).color(theme::MUTED));
                    }
                });
                let Some(door) = event.kind.door().filter(|_| may_play) else {
                    continue;
                };
                let play = super::playback::row_play_ui(
                    ui,
                    row.response.rect,
                    ("play_event_row", event.seq),
                    None,
                );
                if play.clicked {
                    commands.send(super::playback::play_before(door, event.time));
                }
            }
        });
}

/// An event in an operator's words: its icon, the colour of its kind, and
/// its title, e.g. `(Alarm, ALARM, "Door forced open")` or
/// `(Granted, GRANTED, "Access granted · Nora Lindqvist")`. The door is not in
/// the title (lists show it beside it). A name, badge or user the role may
/// not see is left out, never shown as a placeholder.
pub fn event_title(event: &Event, state: &AppState) -> (EventIcon, Color32, String) {
    let person = |id: Option<&CardholderId>| cardholder(state, id);
    match &event.kind {
        EventKind::DoorStateChanged { status, .. } => {
            let (icon, color, text) = match status.state(true) {
                DoorState::Locked => (EventIcon::Locked, theme::LOCKED, "Door locked"),
                DoorState::Unlocked => (EventIcon::Unlocked, theme::UNLOCKED, "Door unlocked"),
                DoorState::Accessed => (
                    EventIcon::Unlocked,
                    theme::UNLOCKED,
                    "Door released for one passage",
                ),
                DoorState::LockedDown => (EventIcon::Locked, theme::LOCKED, "Door locked down"),
                DoorState::Open => (EventIcon::Open, theme::OPEN, "Door open"),
                // The alarm itself comes as its own event ("Door forced
                // open"); the state change says what the door is doing, so
                // one incident does not read as two alarms.
                DoorState::Forced => (EventIcon::Open, theme::OPEN, "Door open without access"),
                DoorState::HeldOpen => (EventIcon::Open, theme::OPEN, "Door still open"),
                DoorState::Unknown => (EventIcon::Unknown, theme::UNKNOWN, "Door offline"),
            };
            (icon, color, text.to_owned())
        }
        EventKind::DoorForcedOpen { .. } => {
            (EventIcon::Alarm, theme::ALARM, "Door forced open".into())
        }
        EventKind::DoorHeldOpen { .. } => (EventIcon::Alarm, theme::ALARM, "Door held open".into()),
        EventKind::AccessGranted { cardholder, .. } => (
            EventIcon::Granted,
            theme::GRANTED,
            join(["Access granted".into(), person(cardholder.as_ref())]),
        ),
        EventKind::AccessDenied {
            cardholder, reason, ..
        } => (
            EventIcon::Denied,
            theme::DENIED,
            join([
                "Access denied".into(),
                reason.label().into(),
                person(cardholder.as_ref()),
            ]),
        ),
        EventKind::AccessRequestOpened { request } => {
            let who = request
                .visitor_name
                .clone()
                .filter(|n| n != REDACTED)
                .unwrap_or_else(|| person(request.cardholder.as_ref()));
            (
                EventIcon::Request,
                theme::REQUEST,
                join(["Access request".into(), request.reason.clone(), who]),
            )
        }
        EventKind::AccessRequestResolved {
            outcome,
            by,
            reason,
            ..
        } => {
            let (icon, color, what) = match outcome {
                RequestOutcome::Granted => (EventIcon::Granted, theme::GRANTED, "Request granted"),
                RequestOutcome::Denied => (EventIcon::Denied, theme::DENIED, "Request denied"),
                RequestOutcome::Expired => (
                    EventIcon::Expired,
                    theme::MUTED,
                    "Request expired unanswered",
                ),
            };
            let reason = reason.clone().filter(|r| r != REDACTED).unwrap_or_default();
            (
                icon,
                color,
                join([format!("{what}{}", by_whom(by.as_deref())), reason]),
            )
        }
        EventKind::CommandCompleted { action, by, .. } => (
            action_icon(*action),
            theme::CONFIRMED,
            format!("{}{}", action_done(*action), by_whom(Some(by))),
        ),
        EventKind::CommandFailed {
            action, by, reason, ..
        } => (
            EventIcon::Denied,
            theme::FAILED,
            join([
                format!("{} failed{}", action_noun(*action), by_whom(Some(by))),
                reason.clone(),
            ]),
        ),
        EventKind::CredentialChanged {
            credential,
            cardholder,
            state: s,
            by,
        } => {
            let badge = if credential.as_str() == REDACTED {
                "Badge".to_owned()
            } else {
                format!("Badge {credential}")
            };
            let what = match s {
                crate::domain::CredentialState::Active => "enabled",
                crate::domain::CredentialState::Disabled => "disabled",
            };
            (
                EventIcon::Badge,
                theme::INFO,
                join([
                    format!("{badge} {what}{}", by_whom(Some(by))),
                    person(Some(cardholder)),
                ]),
            )
        }
        EventKind::CardholderChanged { cardholder, by } => (
            EventIcon::Person,
            theme::INFO,
            join([
                format!("Cardholder updated{}", by_whom(Some(by))),
                person(Some(cardholder)),
            ]),
        ),
        EventKind::TestFlood { n } => (EventIcon::Other, theme::MUTED, format!("Test traffic {n}")),
        EventKind::ViewPublished { name, .. } => (
            EventIcon::View,
            theme::INFO,
            join(["Shared view published".into(), name.clone()]),
        ),
        EventKind::ViewRemoved { .. } => {
            (EventIcon::View, theme::MUTED, "Shared view deleted".into())
        }
        EventKind::CameraOffline {
            camera,
            stream,
            reason,
        } => (
            EventIcon::Unknown,
            theme::FAILED,
            join([
                "Camera offline".into(),
                camera_words(state, camera, stream),
                reason.clone(),
            ]),
        ),
        EventKind::CameraOnline { camera, stream } => (
            EventIcon::View,
            theme::CONFIRMED,
            join(["Camera back".into(), camera_words(state, camera, stream)]),
        ),
        EventKind::BookmarkAdded { title, by, .. } => (
            EventIcon::View,
            theme::INFO,
            join([format!("Bookmark{}", by_whom(Some(by))), title.clone()]),
        ),
        EventKind::StorageLow {
            free_bytes,
            total_bytes,
        } => (
            EventIcon::Alarm,
            theme::WARNING,
            format!(
                "Recording storage low · {:.0} GiB free of {:.0} GiB",
                *free_bytes as f64 / GIB,
                *total_bytes as f64 / GIB
            ),
        ),
        EventKind::MapChanged { map, by } => (
            EventIcon::Map,
            theme::INFO,
            join([
                format!("Floor map edited{}", by_whom(Some(by))),
                state
                    .site()
                    .map(map)
                    .map(|m| m.name.clone())
                    .unwrap_or_default(),
            ]),
        ),
    }
}

/// Bytes in a GiB.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A camera by its name, and which stream when not the main one.
fn camera_words(state: &AppState, camera: &crate::domain::CameraId, stream: &str) -> String {
    let name = state
        .site()
        .camera(camera)
        .map_or_else(|| camera.to_string(), |c| c.name.clone());
    if stream == "main" {
        name
    } else {
        format!("{name} ({stream} stream)")
    }
}

/// The icon of an event's kind. Painted with shapes, not drawn from a
/// font: the window ships no emoji font (a missing glyph is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventIcon {
    /// Forced or held open: a warning triangle.
    Alarm,
    /// A tick.
    Granted,
    /// A cross (denied, failed).
    Denied,
    /// A closed padlock.
    Locked,
    /// An open padlock.
    Unlocked,
    /// A door leaf swung open.
    Open,
    /// Someone waiting at a door: a person and a question mark.
    Request,
    /// An hourglass.
    Expired,
    /// A head and shoulders.
    Person,
    /// A card.
    Badge,
    /// State not known: a dashed circle.
    Unknown,
    /// A dot.
    Other,
    /// A camera view: four tiles.
    View,
    /// A folded plan: a floor map changed.
    Map,
}

/// The side of an event icon, in points.
pub const ICON_SIZE: f32 = 14.0;

/// Paints `icon` in `color` in a square of [`ICON_SIZE`].
pub fn icon_ui(ui: &mut Ui, icon: EventIcon, color: Color32) -> egui::Response {
    use egui::{Pos2, Rect, Shape, Stroke, StrokeKind, pos2, vec2};
    let (rect, response) = ui.allocate_exact_size(vec2(ICON_SIZE, ICON_SIZE), egui::Sense::hover());
    let r = rect.shrink(1.5);
    let (c, w) = (r.center(), r.width().min(r.height()));
    let at = |x: f32, y: f32| pos2(r.left() + x * r.width(), r.top() + y * r.height());
    let stroke = Stroke::new(1.6, color);
    let thin = Stroke::new(1.2, color);
    let fill = |points: Vec<Pos2>| Shape::convex_polygon(points, color, Stroke::NONE);
    let padlock = |open: bool| {
        let body = Rect::from_min_max(at(0.1, 0.45), at(0.9, 1.0));
        let right = if open { 0.2 } else { 0.45 };
        vec![
            Shape::rect_filled(body, 1.5, color),
            Shape::line(
                vec![
                    at(0.25, 0.45),
                    at(0.25, 0.15),
                    at(0.5, 0.0),
                    at(0.75, 0.15),
                    at(0.75, right),
                ],
                stroke,
            ),
        ]
    };
    let shapes = match icon {
        EventIcon::Alarm => vec![
            fill(vec![at(0.5, 0.0), at(1.0, 1.0), at(0.0, 1.0)]),
            Shape::line_segment(
                [at(0.5, 0.35), at(0.5, 0.7)],
                Stroke::new(1.6, theme::ON_ALARM),
            ),
            Shape::circle_filled(at(0.5, 0.85), 0.9, theme::ON_ALARM),
        ],
        EventIcon::Granted => vec![Shape::line(
            vec![at(0.0, 0.55), at(0.35, 0.9), at(1.0, 0.1)],
            stroke,
        )],
        EventIcon::Denied => vec![
            Shape::line_segment([at(0.1, 0.1), at(0.9, 0.9)], stroke),
            Shape::line_segment([at(0.9, 0.1), at(0.1, 0.9)], stroke),
        ],
        EventIcon::Locked => padlock(false),
        EventIcon::Unlocked => padlock(true),
        EventIcon::Open => vec![
            Shape::rect_stroke(
                Rect::from_min_max(at(0.1, 0.0), at(0.9, 1.0)),
                0.0,
                Stroke::new(1.0, color),
                StrokeKind::Inside,
            ),
            fill(vec![
                at(0.1, 0.0),
                at(0.55, 0.15),
                at(0.55, 1.0),
                at(0.1, 1.0),
            ]),
        ],
        EventIcon::Request => vec![
            Shape::circle_filled(at(0.3, 0.25), w * 0.2, color),
            fill(vec![
                at(0.0, 1.0),
                at(0.1, 0.55),
                at(0.5, 0.55),
                at(0.6, 1.0),
            ]),
            Shape::line(
                vec![
                    at(0.7, 0.2),
                    at(0.8, 0.05),
                    at(1.0, 0.15),
                    at(1.0, 0.3),
                    at(0.85, 0.42),
                    at(0.85, 0.55),
                ],
                thin,
            ),
            Shape::circle_filled(at(0.85, 0.75), 1.0, color),
        ],
        EventIcon::Expired => vec![Shape::line(
            vec![
                at(0.1, 0.0),
                at(0.9, 0.0),
                at(0.1, 1.0),
                at(0.9, 1.0),
                at(0.1, 0.0),
            ],
            thin,
        )],
        EventIcon::Person => vec![
            Shape::circle_filled(at(0.5, 0.25), w * 0.22, color),
            fill(vec![
                at(0.1, 1.0),
                at(0.2, 0.55),
                at(0.8, 0.55),
                at(0.9, 1.0),
            ]),
        ],
        EventIcon::Badge => vec![
            Shape::rect_stroke(
                Rect::from_min_max(at(0.0, 0.15), at(1.0, 0.85)),
                2.0,
                thin,
                StrokeKind::Inside,
            ),
            Shape::line_segment([at(0.15, 0.4), at(0.6, 0.4)], thin),
            Shape::line_segment([at(0.15, 0.62), at(0.45, 0.62)], thin),
        ],
        EventIcon::Unknown => {
            let ring: Vec<Pos2> = (0..=24)
                .map(|i| {
                    let a = i as f32 / 24.0 * std::f32::consts::TAU;
                    c + vec2(a.cos(), a.sin()) * (w * 0.5)
                })
                .collect();
            let mut shapes = Shape::dashed_line(&ring, thin, 2.0, 2.0);
            shapes.push(Shape::circle_filled(c, 1.5, color));
            shapes
        }
        EventIcon::Other => vec![Shape::circle_filled(c, 2.0, color)],
        EventIcon::View => [(0.0, 0.0), (0.55, 0.0), (0.0, 0.55), (0.55, 0.55)]
            .into_iter()
            .map(|(x, y)| {
                Shape::rect_stroke(
                    Rect::from_min_max(at(x, y + 0.05), at(x + 0.45, y + 0.45)),
                    1.0,
                    thin,
                    StrokeKind::Inside,
                )
            })
            .collect(),
        EventIcon::Map => vec![Shape::line(
            vec![
                at(0.0, 0.15),
                at(0.33, 0.0),
                at(0.66, 0.15),
                at(1.0, 0.0),
                at(1.0, 0.85),
                at(0.66, 1.0),
                at(0.33, 0.85),
                at(0.0, 1.0),
                at(0.0, 0.15),
            ],
            thin,
        )],
    };
    if ui.is_rect_visible(rect) {
        ui.painter().extend(shapes);
    }
    response
}

/// A cardholder's name when known and shown to this role, else nothing.
fn cardholder(state: &AppState, id: Option<&CardholderId>) -> String {
    id.filter(|id| id.as_str() != REDACTED)
        .and_then(|id| state.site().cardholder_name(id))
        .filter(|name| *name != REDACTED)
        .unwrap_or_default()
        .to_owned()
}

/// The parts that are not empty, joined with ` · `.
fn join<const N: usize>(parts: [String; N]) -> String {
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `Unlocked`, as in "Unlocked by op-jansen".
fn action_done(action: DoorAction) -> &'static str {
    match action {
        DoorAction::Lock => "Locked",
        DoorAction::Unlock => "Unlocked",
        DoorAction::Access => "Released for one passage",
        DoorAction::Lockdown => "Locked down",
        DoorAction::ReleaseLockdown => "Lockdown released",
    }
}

/// `Unlock`, as in "Unlock failed".
fn action_noun(action: DoorAction) -> &'static str {
    match action {
        DoorAction::Lock => "Lock",
        DoorAction::Unlock => "Unlock",
        DoorAction::Access => "Momentary access",
        DoorAction::Lockdown => "Lockdown",
        DoorAction::ReleaseLockdown => "Lockdown release",
    }
}

fn action_icon(action: DoorAction) -> EventIcon {
    match action {
        DoorAction::Lock | DoorAction::Lockdown => EventIcon::Locked,
        DoorAction::Unlock | DoorAction::Access | DoorAction::ReleaseLockdown => {
            EventIcon::Unlocked
        }
    }
}

/// " by <user>", or nothing when there is no user or the role may not see it.
fn by_whom(by: Option<&str>) -> String {
    match by {
        Some(by) if by != REDACTED && !by.trim().is_empty() => format!(" by {by}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AccessRequest, CommandId, CredentialId, CredentialState, DenyReason, DoorId, DoorStatus,
        RequestId,
    };
    use crate::viewer::AppEvent;

    fn at(kind: EventKind) -> Event {
        Event {
            seq: 1,
            time: chrono::Utc::now(),
            kind,
        }
    }

    fn completed(by: &str) -> Event {
        at(EventKind::CommandCompleted {
            command: CommandId::new("c1"),
            door: DoorId::new("door-x"),
            action: DoorAction::Unlock,
            by: by.into(),
        })
    }

    fn state() -> AppState {
        let mut s = AppState::new(chrono::Utc::now(), "http://127.0.0.1:1", false);
        s.apply(AppEvent::Cardholders(vec![(
            CardholderId::new("ch-014"),
            "Nora Lindqvist".into(),
        )]));
        s
    }

    fn request(visitor: Option<&str>, cardholder: Option<&str>) -> AccessRequest {
        AccessRequest {
            id: RequestId::new("req_1"),
            door: DoorId::new("door-lobby"),
            access_point: None,
            cardholder: cardholder.map(CardholderId::new),
            credential: None,
            reason: "visitor".into(),
            visitor_name: visitor.map(Into::into),
            created: chrono::Utc::now(),
            expires: chrono::Utc::now(),
        }
    }

    /// At least one sample of every kind, with the title it must read as.
    fn samples() -> Vec<(EventKind, &'static str)> {
        let door = || DoorId::new("door_server");
        let nora = || Some(CardholderId::new("ch-014"));
        let mut forced = DoorStatus::locked_closed();
        forced.forced = true;
        let mut offline = DoorStatus::locked_closed();
        offline.online = false;
        vec![
            (
                EventKind::DoorStateChanged {
                    door: door(),
                    status: DoorStatus::locked_closed(),
                },
                "Door locked",
            ),
            (
                EventKind::DoorStateChanged {
                    door: door(),
                    status: forced,
                },
                "Door open without access",
            ),
            (
                EventKind::DoorStateChanged {
                    door: door(),
                    status: offline,
                },
                "Door offline",
            ),
            (
                EventKind::DoorForcedOpen { door: door() },
                "Door forced open",
            ),
            (EventKind::DoorHeldOpen { door: door() }, "Door held open"),
            (
                EventKind::AccessGranted {
                    door: door(),
                    access_point: None,
                    cardholder: nora(),
                    credential: Some(CredentialId::new("100190")),
                },
                "Access granted · Nora Lindqvist",
            ),
            (
                EventKind::AccessGranted {
                    door: door(),
                    access_point: None,
                    cardholder: None,
                    credential: None,
                },
                "Access granted",
            ),
            (
                EventKind::AccessDenied {
                    door: door(),
                    access_point: None,
                    cardholder: nora(),
                    credential: None,
                    reason: DenyReason::CardDisabled,
                },
                "Access denied · card disabled · Nora Lindqvist",
            ),
            (
                EventKind::AccessDenied {
                    door: door(),
                    access_point: None,
                    cardholder: None,
                    credential: None,
                    reason: DenyReason::UnknownCard,
                },
                "Access denied · unknown card",
            ),
            (
                EventKind::AccessRequestOpened {
                    request: request(Some("Pat Visitor"), None),
                },
                "Access request · visitor · Pat Visitor",
            ),
            (
                EventKind::AccessRequestOpened {
                    request: request(None, Some("ch-014")),
                },
                "Access request · visitor · Nora Lindqvist",
            ),
            (
                EventKind::AccessRequestResolved {
                    request: RequestId::new("req_1"),
                    door: door(),
                    outcome: RequestOutcome::Granted,
                    by: Some("op-jansen".into()),
                    reason: None,
                },
                "Request granted by op-jansen",
            ),
            (
                EventKind::AccessRequestResolved {
                    request: RequestId::new("req_1"),
                    door: door(),
                    outcome: RequestOutcome::Denied,
                    by: Some("op-jansen".into()),
                    reason: Some("no appointment".into()),
                },
                "Request denied by op-jansen · no appointment",
            ),
            (
                EventKind::AccessRequestResolved {
                    request: RequestId::new("req_1"),
                    door: door(),
                    outcome: RequestOutcome::Expired,
                    by: None,
                    reason: None,
                },
                "Request expired unanswered",
            ),
            (
                EventKind::CommandCompleted {
                    command: CommandId::new("cmd_1"),
                    door: door(),
                    action: DoorAction::Unlock,
                    by: "op-jansen".into(),
                },
                "Unlocked by op-jansen",
            ),
            (
                EventKind::CommandFailed {
                    command: CommandId::new("cmd_1"),
                    door: door(),
                    action: DoorAction::Lock,
                    by: "op-jansen".into(),
                    reason: "door offline".into(),
                },
                "Lock failed by op-jansen · door offline",
            ),
            (
                EventKind::CredentialChanged {
                    credential: CredentialId::new("100177"),
                    cardholder: CardholderId::new("ch-014"),
                    state: CredentialState::Disabled,
                    by: "admin".into(),
                },
                "Badge 100177 disabled by admin · Nora Lindqvist",
            ),
            (
                EventKind::CardholderChanged {
                    cardholder: CardholderId::new("ch-014"),
                    by: "admin".into(),
                },
                "Cardholder updated by admin · Nora Lindqvist",
            ),
            (EventKind::TestFlood { n: 3 }, "Test traffic 3"),
            (
                EventKind::ViewPublished {
                    view: crate::domain::ViewId::new("lobby"),
                    name: "Lobby and car park".into(),
                },
                "Shared view published · Lobby and car park",
            ),
            (
                EventKind::ViewRemoved {
                    view: crate::domain::ViewId::new("lobby"),
                },
                "Shared view deleted",
            ),
            (
                EventKind::MapChanged {
                    map: crate::domain::MapId::new("nowhere"),
                    by: "admin".into(),
                },
                "Floor map edited by admin",
            ),
            (
                EventKind::CameraOffline {
                    camera: crate::domain::CameraId::new("gone"),
                    stream: "sub".into(),
                    reason: "no frame for 5 s".into(),
                },
                "Camera offline · gone (sub stream) · no frame for 5 s",
            ),
            (
                EventKind::CameraOnline {
                    camera: crate::domain::CameraId::new("gone"),
                    stream: "main".into(),
                },
                "Camera back · gone",
            ),
            (
                EventKind::BookmarkAdded {
                    bookmark: "b-1".into(),
                    title: "Tailgating at the lobby".into(),
                    by: "operator".into(),
                },
                "Bookmark by operator · Tailgating at the lobby",
            ),
            (
                EventKind::StorageLow {
                    free_bytes: 3 * 1024 * 1024 * 1024,
                    total_bytes: 100 * 1024 * 1024 * 1024,
                },
                "Recording storage low · 3 GiB free of 100 GiB",
            ),
        ]
    }

    #[test]
    fn every_kind_reads_in_an_operators_words() {
        let state = state();
        let samples = samples();
        for wire in EventKind::TYPES {
            assert!(
                samples.iter().any(|(k, _)| k.type_name() == *wire),
                "no sample of {wire}"
            );
        }
        for (kind, want) in samples {
            let (icon, _, title) = event_title(&at(kind.clone()), &state);
            assert_eq!(title, want, "{}", kind.type_name());
            if !matches!(kind, EventKind::TestFlood { .. }) {
                assert_ne!(icon, EventIcon::Other, "{} has no icon", kind.type_name());
            }
            for wire in EventKind::TYPES {
                assert!(!title.contains(wire), "{title} names {wire}");
            }
            assert!(
                !title.contains('_') && !title.contains('.'),
                "{title} reads like a wire name"
            );
        }
    }

    #[test]
    fn kinds_have_their_colours() {
        let state = state();
        let colour = |kind: &EventKind| event_title(&at(kind.clone()), &state).1;
        for (kind, _) in samples() {
            let want = match &kind {
                EventKind::DoorForcedOpen { .. } | EventKind::DoorHeldOpen { .. } => theme::ALARM,
                EventKind::AccessGranted { .. } => theme::GRANTED,
                EventKind::AccessDenied { .. } => theme::DENIED,
                EventKind::CommandFailed { .. } => theme::FAILED,
                _ => continue,
            };
            assert_eq!(colour(&kind), want, "{}", kind.type_name());
        }
    }

    #[test]
    fn a_hidden_user_name_or_badge_is_left_out_not_shown_as_a_placeholder() {
        let state = state();
        let shown = event_title(&completed("jansen"), &state).2;
        assert_eq!(shown, "Unlocked by jansen");
        let hidden = event_title(&completed(REDACTED), &state).2;
        assert_eq!(hidden, "Unlocked");
        let redacted = at(EventKind::AccessDenied {
            door: DoorId::new("d"),
            access_point: None,
            cardholder: Some(CardholderId::new(REDACTED)),
            credential: Some(CredentialId::new(REDACTED)),
            reason: DenyReason::OutsideSchedule,
        });
        assert_eq!(
            event_title(&redacted, &state).2,
            "Access denied · outside schedule"
        );
        let badge = at(EventKind::CredentialChanged {
            credential: CredentialId::new(REDACTED),
            cardholder: CardholderId::new(REDACTED),
            state: CredentialState::Active,
            by: REDACTED.into(),
        });
        assert_eq!(event_title(&badge, &state).2, "Badge enabled");
        let visitor = at(EventKind::AccessRequestOpened {
            request: request(Some(REDACTED), None),
        });
        assert_eq!(event_title(&visitor, &state).2, "Access request · visitor");
    }
}

//! The live event list, newest first: time in the site's zone, type, door,
//! cardholder, and what happened.

use egui::{RichText, ScrollArea, Ui};

use super::{format, theme};
use crate::domain::{Event, EventKind, REDACTED};
use crate::viewer::AppState;

/// The height of one event row, in points.
const ROW_HEIGHT: f32 = 18.0;

/// The list of recent events.
pub fn events_ui(ui: &mut Ui, state: &AppState) {
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
                ui.horizontal(|ui| {
                    ui.set_height(ROW_HEIGHT);
                    ui.label(RichText::new(format::site_time(event.time, tz)).monospace());
                    ui.label(RichText::new(event.kind.type_name()).color(type_color(event)));
                    ui.label(event_text(state, event));
                });
            }
        });
}

fn type_color(event: &Event) -> egui::Color32 {
    match &event.kind {
        EventKind::DoorForcedOpen { .. } | EventKind::DoorHeldOpen { .. } => theme::ALARM,
        EventKind::AccessDenied { .. } | EventKind::CommandFailed { .. } => theme::FAILED,
        EventKind::AccessRequestOpened { .. } => theme::UNLOCKED,
        _ => theme::MUTED,
    }
}

/// Door, cardholder and detail of an event, e.g. `Server room · Jane Doe ·
/// card disabled`.
pub fn event_text(state: &AppState, event: &Event) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(door) = event.kind.door() {
        parts.push(state.site().door_name(door).to_owned());
    }
    if let Some(name) = event
        .kind
        .cardholder()
        .and_then(|id| state.site().cardholder_name(id))
    {
        parts.push(name.to_owned());
    }
    match &event.kind {
        EventKind::DoorStateChanged { status, .. } => {
            parts.push(status.state(true).label().to_owned());
        }
        EventKind::AccessDenied { reason, .. } => parts.push(reason.label().to_owned()),
        EventKind::AccessRequestOpened { request } => {
            parts.push(request.reason.clone());
            if let Some(name) = &request.visitor_name {
                parts.push(name.clone());
            }
        }
        EventKind::AccessRequestResolved { outcome, by, .. } => {
            let outcome = format!("{outcome:?}").to_lowercase();
            parts.push(format!("{outcome}{}", by_whom(by.as_deref())));
        }
        EventKind::CommandCompleted { action, by, .. } => {
            parts.push(format!("{}{}", action.label(), by_whom(Some(by))));
        }
        EventKind::CommandFailed {
            action, by, reason, ..
        } => parts.push(format!(
            "{}{} failed: {reason}",
            action.label(),
            by_whom(Some(by))
        )),
        EventKind::CredentialChanged {
            credential,
            state: s,
            by,
            ..
        } => {
            let badge = if credential.as_str() == REDACTED {
                "a badge".to_owned()
            } else {
                format!("badge {credential}")
            };
            parts.push(format!("{badge} {s:?}{}", by_whom(Some(by))).to_lowercase());
        }
        _ => {}
    }
    parts.join(" · ")
}

/// " by <user>", or nothing when there is no user or the role may not see it.
fn by_whom(by: Option<&str>) -> String {
    match by {
        Some(by) if by != REDACTED => format!(" by {by}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CommandId, DoorAction, DoorId};

    fn completed(by: &str) -> Event {
        Event {
            seq: 1,
            time: chrono::Utc::now(),
            kind: EventKind::CommandCompleted {
                command: CommandId::new("c1"),
                door: DoorId::new("door-x"),
                action: DoorAction::Unlock,
                by: by.into(),
            },
        }
    }

    #[test]
    fn a_hidden_user_is_left_out_not_shown_as_a_placeholder() {
        let state = AppState::new(chrono::Utc::now(), "http://127.0.0.1:1", false);
        let shown = event_text(&state, &completed("jansen"));
        assert!(shown.ends_with(" by jansen"), "{shown}");
        let hidden = event_text(&state, &completed(REDACTED));
        assert!(!hidden.contains(" by "), "{hidden}");
        assert!(!hidden.contains(REDACTED), "{hidden}");
    }
}

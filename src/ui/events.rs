//! The live event list, newest first: time in the site's zone, type, door,
//! cardholder, and what happened.

use egui::{RichText, ScrollArea, Ui};

use super::{format, theme};
use crate::domain::{Event, EventKind};
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
            parts.push(match by {
                Some(by) => format!("{outcome} by {by}"),
                None => outcome,
            });
        }
        EventKind::CommandCompleted { action, by, .. } => {
            parts.push(format!("{} by {by}", action.label()));
        }
        EventKind::CommandFailed {
            action, by, reason, ..
        } => parts.push(format!("{} by {by} failed: {reason}", action.label())),
        EventKind::CredentialChanged {
            credential,
            state: s,
            by,
            ..
        } => parts.push(format!("badge {credential} {s:?} by {by}").to_lowercase()),
        _ => {}
    }
    parts.join(" · ")
}

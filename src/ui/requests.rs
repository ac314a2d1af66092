//! Open access requests: who is at which door and why, the time left, and
//! Grant / Deny.

use egui::{Button, CornerRadius, Frame, Margin, RichText, Ui, UiBuilder};

use super::{format, theme};
use crate::domain::AccessRequest;
use crate::viewer::{AppState, Command, CommandSender};

/// The accessible name of a request's row: `request ID`.
pub fn request_row_label(request: &AccessRequest) -> String {
    format!("request {}", request.id)
}

/// The open requests, oldest first; nothing when there are none.
pub fn requests_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
    if !state.site().has_open_requests() {
        return;
    }
    ui.heading(format!(
        "Access requests ({})",
        state.site().open_requests().len()
    ));
    for request in state.site().open_requests() {
        request_row_ui(ui, state, request, commands);
    }
    ui.add_space(8.0);
}

fn request_row_ui(
    ui: &mut Ui,
    state: &AppState,
    request: &AccessRequest,
    commands: &CommandSender,
) {
    let builder = UiBuilder::new()
        .id_salt(("request", request.id.as_str()))
        .accessibility_label(request_row_label(request));
    ui.scope_builder(builder, |ui| {
        Frame::new()
            .stroke(egui::Stroke::new(1.0, theme::UNLOCKED))
            .corner_radius(CornerRadius::same(4))
            .inner_margin(Margin::same(8))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    ui.label(RichText::new(state.site().door_name(&request.door)).strong());
                    ui.label(&request.reason);
                    if let Some(who) = who(state, request) {
                        ui.label(RichText::new(who).italics());
                    }
                    ui.label(
                        RichText::new(format::time_left(request.expires, state.site_now()))
                            .color(theme::PENDING),
                    );
                });
                ui.horizontal(|ui| {
                    let blocked = state.decision_blocked();
                    let grant = ui.add_enabled(blocked.is_none(), Button::new("Grant"));
                    let deny = ui.add_enabled(blocked.is_none(), Button::new("Deny"));
                    let (grant, deny) = match &blocked {
                        Some(reason) => (
                            grant.on_disabled_hover_text(reason.as_str()),
                            deny.on_disabled_hover_text(reason.as_str()),
                        ),
                        None => (grant, deny),
                    };
                    if grant.clicked() {
                        commands.send(Command::Grant {
                            request: request.id.clone(),
                            reason: None,
                        });
                    }
                    if deny.clicked() {
                        commands.send(Command::Deny {
                            request: request.id.clone(),
                            reason: None,
                        });
                    }
                });
            });
    });
    ui.add_space(4.0);
}

/// Who is asking: the visitor's own name, else the cardholder's.
fn who(state: &AppState, request: &AccessRequest) -> Option<String> {
    if let Some(name) = &request.visitor_name {
        return Some(name.clone());
    }
    let id = request.cardholder.as_ref()?;
    Some(
        state
            .site()
            .cardholder_name(id)
            .map_or_else(|| id.to_string(), str::to_owned),
    )
}

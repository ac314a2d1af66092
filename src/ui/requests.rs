//! Open access requests: who is at which door and why, the time left, and
//! Grant / Deny.

use egui::{Button, CornerRadius, Frame, Margin, RichText, TextEdit, Ui, UiBuilder};

use super::cameras::{VideoUi, camera_tile_ui};
use super::{format, theme};
use crate::domain::{AccessRequest, RequestOutcome};
use crate::viewer::{AppState, Command, CommandSender, ResolvedRequest};

/// The accessible name of a request's row: `request ID`.
pub fn request_row_label(request: &AccessRequest) -> String {
    format!("request {}", request.id)
}

/// The open requests, oldest first, each with its door's cameras live;
/// nothing when there are none.
pub fn requests_ui(
    ui: &mut Ui,
    state: &AppState,
    commands: &CommandSender,
    video: &mut VideoUi<'_>,
) {
    if !state.site().has_open_requests() {
        return;
    }
    ui.heading(format!(
        "Access requests ({})",
        state.site().open_requests().len()
    ));
    for request in state.site().open_requests() {
        request_row_ui(ui, state, request, commands, video);
    }
    ui.add_space(8.0);
}

fn request_row_ui(
    ui: &mut Ui,
    state: &AppState,
    request: &AccessRequest,
    commands: &CommandSender,
    video: &mut VideoUi<'_>,
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
                    if let Some(badge) = &request.credential {
                        ui.label(RichText::new(format!("badge {badge}")).color(theme::MUTED));
                    }
                    // The person's card: photo, badges and their states,
                    // recent events, in the Cardholders panel.
                    if let Some(id) = &request.cardholder
                        && ui
                            .small_button("Cardholder")
                            .on_hover_text("Open this person's card in the Cardholders panel")
                            .clicked()
                    {
                        commands.send(Command::OpenCardholder(id.clone()));
                    }
                    ui.label(
                        RichText::new(format::time_left(request.expires, state.site_now()))
                            .color(theme::PENDING),
                    );
                });
                super::request_pop::cardholder_card_ui(ui, state, request, commands);
                door_cameras_ui(ui, state, request, video);
                // The operator's reason, sent with the answer (optional).
                let reason_id = ui.scope_id().with("reason");
                let mut reason: String =
                    ui.data_mut(|d| d.get_temp::<String>(reason_id).unwrap_or_default());
                let reason_label = ui.label(RichText::new("Reason (optional)").color(theme::MUTED));
                ui.add(TextEdit::singleline(&mut reason).desired_width(f32::INFINITY))
                    .labelled_by(reason_label.id);
                ui.data_mut(|d| d.insert_temp(reason_id, reason.clone()));
                let reason = Some(reason.trim().to_owned()).filter(|r| !r.is_empty());
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
                            reason: reason.clone(),
                        });
                    }
                    if deny.clicked() {
                        commands.send(Command::Deny {
                            request: request.id.clone(),
                            reason: reason.clone(),
                        });
                    }
                });
            });
    });
    ui.add_space(4.0);
}

/// The live video of the cameras that see the request's door, already
/// playing when the request pops (at most [`POP_CAMERAS`], side by side).
fn door_cameras_ui(
    ui: &mut Ui,
    state: &AppState,
    request: &AccessRequest,
    video: &mut VideoUi<'_>,
) {
    let Some(door) = state.site().door(&request.door) else {
        return;
    };
    let cameras: Vec<_> = door
        .door
        .cameras
        .iter()
        .filter_map(|id| state.site().camera(id))
        .take(POP_CAMERAS)
        .collect();
    if cameras.is_empty() {
        return;
    }
    let gap = 4.0;
    let n = cameras.len() as f32;
    // Side by side, 16:9, never taller than POP_VIDEO_HEIGHT: one camera
    // alone does not push the next request out of sight.
    let width =
        ((ui.available_width() - gap * (n - 1.0)) / n).clamp(80.0, POP_VIDEO_HEIGHT * 16.0 / 9.0);
    let size = egui::vec2(width, width * 9.0 / 16.0);
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = gap;
        for camera in cameras {
            let key = format!("request {} {}", request.id, camera.id);
            camera_tile_ui(ui, size, &key, camera, state, video).on_hover_text(&camera.name);
        }
    });
}

/// How many of a door's cameras a request shows.
pub const POP_CAMERAS: usize = 2;
/// The most height a request's video takes, in points.
pub const POP_VIDEO_HEIGHT: f32 = 118.0;

/// Who is asking: the visitor's own name, else the cardholder's, else
/// "unknown person".
fn who(state: &AppState, request: &AccessRequest) -> Option<String> {
    if let Some(name) = &request.visitor_name {
        return Some(name.clone());
    }
    let Some(id) = request.cardholder.as_ref() else {
        return Some("unknown person".into());
    };
    Some(
        state
            .site()
            .cardholder_name(id)
            .map_or_else(|| id.to_string(), str::to_owned),
    )
}

/// Requests answered a moment ago, with how they ended and the door's
/// state now (a granted door shows accessed, then locked again).
pub fn resolved_ui(ui: &mut Ui, state: &AppState) {
    for r in state.resolved_requests() {
        resolved_row_ui(ui, state, r);
    }
}

fn resolved_row_ui(ui: &mut Ui, state: &AppState, r: &ResolvedRequest) {
    let (word, color) = match r.outcome {
        RequestOutcome::Granted => ("Granted", theme::LOCKED),
        RequestOutcome::Denied => ("Denied", theme::FAILED),
        RequestOutcome::Expired => ("Expired unanswered", theme::MUTED),
    };
    let by =
        r.by.as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
    let builder = UiBuilder::new()
        .id_salt(("resolved", r.request.id.as_str()))
        .accessibility_label(format!("answered {}", r.request.id));
    ui.scope_builder(builder, |ui| {
        Frame::new()
            .stroke(egui::Stroke::new(1.0, theme::CARD_STROKE))
            .corner_radius(CornerRadius::same(4))
            .inner_margin(Margin::same(8))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    ui.label(RichText::new(state.site().door_name(&r.request.door)).strong());
                    ui.label(RichText::new(format!("{word}{by}")).color(color));
                    if let Some(door) = state.site().door(&r.request.door) {
                        theme::door_state_chip_ui(ui, state.door_state(door));
                    }
                });
            });
    });
    ui.add_space(4.0);
}

//! The door list: name, zone, fail mode, live state, the last command's
//! progress, and the commands an operator may send.

use egui::{Align, Button, CornerRadius, Frame, Layout, Margin, RichText, Ui, UiBuilder};

use super::theme;
use crate::domain::DoorAction;
use crate::viewer::{AppState, CommandPhase, CommandSender, CommandView, DoorView};

/// The buttons of a door row, in order, with their labels.
const ACTIONS: [(DoorAction, &str); 5] = [
    (DoorAction::Lock, "Lock"),
    (DoorAction::Unlock, "Unlock"),
    (DoorAction::Access, "Access"),
    (DoorAction::Lockdown, "Lockdown"),
    (DoorAction::ReleaseLockdown, "Release"),
];

/// The accessible name of a door's row: `door NAME`.
pub fn door_row_label(name: &str) -> String {
    format!("door {name}")
}

/// Every door of the site.
pub fn doors_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
    ui.heading("Doors");
    for door in state.site().doors() {
        door_row_ui(ui, state, door, commands);
    }
}

fn door_row_ui(ui: &mut Ui, state: &AppState, door: &DoorView, commands: &CommandSender) {
    let builder = UiBuilder::new()
        .id_salt(("door", door.door.id.as_str()))
        .accessibility_label(door_row_label(&door.door.name));
    ui.scope_builder(builder, |ui| {
        Frame::new()
            .stroke(egui::Stroke::new(1.0, theme::CARD_STROKE))
            .corner_radius(CornerRadius::same(4))
            .inner_margin(Margin::same(8))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    ui.label(RichText::new(&door.door.name).strong());
                    theme::door_state_chip_ui(ui, state.door_state(door));
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        // Right to left: add the buttons in reverse.
                        for (action, text) in ACTIONS.iter().rev() {
                            action_button_ui(ui, state, door, *action, text, commands);
                        }
                    });
                });
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(format!(
                            "{} · {}",
                            door.door.zone,
                            door.door.fail_mode.label()
                        ))
                        .color(theme::MUTED),
                    );
                    if let Some(cmd) = &door.last_command {
                        ui.separator();
                        last_command_ui(ui, cmd);
                    }
                });
            });
    });
    ui.add_space(4.0);
}

fn action_button_ui(
    ui: &mut Ui,
    state: &AppState,
    door: &DoorView,
    action: DoorAction,
    text: &str,
    commands: &CommandSender,
) {
    let blocked = state.door_action_blocked(action);
    let response = ui.add_enabled(blocked.is_none(), Button::new(text));
    let response = match &blocked {
        Some(reason) => response.on_disabled_hover_text(reason.as_str()),
        None => response.on_hover_text(format!("{} {}", action.label(), door.door.name)),
    };
    if response.clicked() {
        commands.door(&door.door.id, action);
    }
}

/// The last command's word: `unlock: pending…`, `unlock: confirmed`, …
pub fn last_command_text(cmd: &CommandView) -> String {
    let action = cmd.action.label();
    match &cmd.phase {
        CommandPhase::Sending => format!("{action}: sending…"),
        CommandPhase::Pending => format!("{action}: pending…"),
        CommandPhase::Confirmed => format!("{action}: confirmed"),
        CommandPhase::Failed(reason) => format!("{action}: failed ({reason})"),
    }
}

fn last_command_ui(ui: &mut Ui, cmd: &CommandView) {
    ui.label(RichText::new(last_command_text(cmd)).color(theme::command_phase_color(&cmd.phase)));
}

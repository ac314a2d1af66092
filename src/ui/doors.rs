//! The door list: a filter (name, zone, floor, state), then each door with
//! its live state, zone, fail mode, how long ago it changed and its last
//! command's progress, and the commands an operator may send, to one door or
//! to a selection (a group lockdown or release is confirmed first).

use egui::{
    Align, Button, ComboBox, CornerRadius, Frame, Layout, Margin, Modal, RichText, TextEdit, Ui,
    UiBuilder,
};

use super::theme;
use crate::domain::{DoorAction, DoorState, MapId};
use crate::viewer::{
    AppState, CommandPhase, CommandSender, CommandView, DoorView, DoorsPanel, GroupCommand,
};

/// The buttons of a door row, in order, with their labels.
const ACTIONS: [(DoorAction, &str); 5] = [
    (DoorAction::Lock, "Lock"),
    (DoorAction::Unlock, "Unlock"),
    (DoorAction::Access, "Access"),
    (DoorAction::Lockdown, "Lockdown"),
    (DoorAction::ReleaseLockdown, "Release"),
];

/// Below this width (points) a door's commands go on a line of their own.
const NARROW_ROW: f32 = 600.0;

/// The accessible name of a door's row: `door NAME`.
pub fn door_row_label(name: &str) -> String {
    format!("door {name}")
}

/// The states the filter offers, in the order an operator scans them.
const STATES: [DoorState; 8] = [
    DoorState::Forced,
    DoorState::HeldOpen,
    DoorState::Unknown,
    DoorState::LockedDown,
    DoorState::Open,
    DoorState::Unlocked,
    DoorState::Accessed,
    DoorState::Locked,
];

/// The doors of the site that pass the panel's filter.
pub fn doors_ui(ui: &mut Ui, state: &AppState, panel: &mut DoorsPanel, commands: &CommandSender) {
    ui.heading("Doors");
    filter_ui(ui, state, panel);
    let shown = panel.shown(state);
    selection_ui(ui, state, panel, &shown, commands);
    confirm_ui(ui, state, panel, commands);
    if shown.is_empty() {
        ui.label(RichText::new("No door matches the filter.").color(theme::MUTED));
    }
    // Only the rows in sight are laid out (a large site has a thousand
    // doors); the others are space of the same height, so the enclosing
    // scroll area scrolls as if they were there. Every row is as tall as
    // the last one measured.
    let height_id = egui::Id::unique("door_row_height");
    let row_height = ui.ctx().data(|d| d.get_temp::<f32>(height_id));
    let (first, end) = match row_height {
        Some(h) if h > 0.0 => rows_in_sight(ui.cursor().top(), ui.clip_rect(), h, shown.len()),
        _ => (0, shown.len()),
    };
    let h = row_height.unwrap_or(0.0);
    ui.add_space(first as f32 * h);
    for door in &shown[first..end] {
        let top = ui.cursor().top();
        door_row_ui(ui, state, panel, door, commands);
        let measured = ui.cursor().top() - top;
        if measured.is_finite() && measured > 0.0 {
            ui.ctx().data_mut(|d| d.insert_temp(height_id, measured));
        }
    }
    let h = ui.ctx().data(|d| d.get_temp::<f32>(height_id)).unwrap_or(h);
    ui.add_space((shown.len() - end) as f32 * h);
}

/// The rows `first..end` of `count` rows of height `row_height` starting at
/// `top` that `clip` shows (one more on each side, so none pops in late).
fn rows_in_sight(top: f32, clip: egui::Rect, row_height: f32, count: usize) -> (usize, usize) {
    let index = |y: f32| ((y - top) / row_height).floor().max(0.0) as usize;
    let first = index(clip.top()).saturating_sub(1).min(count);
    let end = index(clip.bottom()).saturating_add(2).clamp(first, count);
    (first, end)
}

fn filter_ui(ui: &mut Ui, state: &AppState, panel: &mut DoorsPanel) {
    let f = &mut panel.filter;
    ui.horizontal_wrapped(|ui| {
        ui.add(
            TextEdit::singleline(&mut f.text)
                .hint_text("Find a door")
                .desired_width(140.0),
        );
        ui.horizontal(|ui| {
            let combo = named_combo(ui, "Zone", "door_zone")
                .selected_text(f.zone.as_deref().unwrap_or("any"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut f.zone, None, "Any zone");
                    for zone in DoorsPanel::zones(state) {
                        let label = zone.clone();
                        ui.selectable_value(&mut f.zone, Some(zone), label);
                    }
                });
            name_combo(&combo.response, "Zone");
        });
        // The floors are listed only while the menu is open: a large site
        // has a thousand doors to gather them from.
        if state.site().doors().iter().any(|d| d.door.map.is_some()) {
            ui.horizontal(|ui| {
                let combo = named_combo(ui, "Floor", "door_floor")
                    .selected_text(f.floor.as_ref().map_or("any", MapId::as_str))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut f.floor, None, "Any floor");
                        for floor in DoorsPanel::floors(state) {
                            let label = floor.to_string();
                            ui.selectable_value(&mut f.floor, Some(floor), label);
                        }
                    });
                name_combo(&combo.response, "Floor");
            });
        }
        ui.horizontal(|ui| {
            let combo = named_combo(ui, "State", "door_state")
                .selected_text(f.state.map_or("any", DoorState::label))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut f.state, None, "Any state");
                    for s in STATES {
                        ui.selectable_value(&mut f.state, Some(s), s.label());
                    }
                });
            name_combo(&combo.response, "State");
        });
        if !f.is_empty() && ui.button("Clear filter").clicked() {
            *f = Default::default();
        }
    });
}

/// A combo box with its name on the left, as a label and as its accessible
/// name.
fn named_combo(ui: &mut Ui, name: &str, id_salt: &str) -> ComboBox<'static> {
    ui.label(RichText::new(name).color(theme::MUTED));
    ComboBox::new(id_salt, "")
}

/// Gives a combo box its accessible name (its visible label is beside it).
fn name_combo(response: &egui::Response, name: &str) {
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::accesskit::Role::ComboBox, response.enabled(), name)
    });
}

/// The commands for the selected doors. The row is always there (nothing
/// under the pointer moves when the first door is ticked), with "Select
/// the N shown": a zone's lockdown is the zone filter, this, Lockdown.
fn selection_ui(
    ui: &mut Ui,
    state: &AppState,
    panel: &mut DoorsPanel,
    shown: &[&DoorView],
    commands: &CommandSender,
) {
    const SELECTION_LABEL_WIDTH: f32 = 118.0;
    let doors = panel.selection(state);
    ui.horizontal_wrapped(|ui| {
        // The same width whatever it says, so the buttons after it never move
        // under the pointer when the first door is ticked.
        ui.scope(|ui| {
            ui.set_min_width(SELECTION_LABEL_WIDTH);
            if doors.is_empty() {
                ui.label(RichText::new("No door selected:").color(theme::MUTED));
            } else {
                ui.label(RichText::new(format!("{} selected:", doors.len())).strong());
            }
        });
        let all_shown = shown.iter().all(|d| panel.selected.contains(&d.door.id));
        if ui
            .add_enabled(
                !shown.is_empty() && !all_shown,
                Button::new(format!("Select the {} shown", shown.len())),
            )
            .clicked()
        {
            panel
                .selected
                .extend(shown.iter().map(|d| d.door.id.clone()));
        }
        for (action, text) in ACTIONS {
            let blocked = if doors.is_empty() {
                Some("select doors first (tick them, or select the doors shown)".to_owned())
            } else {
                state.door_action_blocked(action)
            };
            let response = ui.add_enabled(blocked.is_none(), Button::new(text));
            let response = match &blocked {
                Some(reason) => response.on_disabled_hover_text(reason.as_str()),
                None => response.on_hover_text(format!(
                    "{} the {} selected doors",
                    action.label(),
                    doors.len()
                )),
            };
            if response.clicked() {
                let group = GroupCommand {
                    action,
                    doors: doors.clone(),
                };
                if group.needs_confirmation() {
                    panel.confirm = Some(group);
                } else {
                    for door in &group.doors {
                        commands.door(door, action);
                    }
                }
            }
        }
        if ui
            .add_enabled(!doors.is_empty(), Button::new("Clear selection"))
            .clicked()
        {
            panel.selected.clear();
        }
    });
}

/// "Lock down 4 doors?" before a group lockdown or release goes out.
fn confirm_ui(ui: &mut Ui, state: &AppState, panel: &mut DoorsPanel, commands: &CommandSender) {
    let Some(group) = panel.confirm.clone() else {
        return;
    };
    let mut close = false;
    let modal = Modal::new(egui::Id::unique("confirm_group_command")).show(ui.ctx(), |ui| {
        let verb = match group.action {
            DoorAction::Lockdown => "Lock down",
            _ => "Release the lockdown of",
        };
        ui.heading(format!("{verb} {} doors?", group.doors.len()));
        ui.label(
            group
                .doors
                .iter()
                .map(|d| state.site().door_name(d))
                .collect::<Vec<_>>()
                .join(", "),
        );
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui.button("Confirm").clicked() {
                for door in &group.doors {
                    commands.door(door, group.action);
                }
                close = true;
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
    });
    if close || modal.should_close() {
        panel.confirm = None;
    }
}

fn door_row_ui(
    ui: &mut Ui,
    state: &AppState,
    panel: &mut DoorsPanel,
    door: &DoorView,
    commands: &CommandSender,
) {
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
                // In a narrow panel the commands take a line of their own
                // rather than covering the name.
                let narrow = ui.available_width() < NARROW_ROW;
                ui.horizontal(|ui| {
                    let mut selected = panel.selected.contains(&door.door.id);
                    let check = ui
                        .add(egui::Checkbox::without_text(&mut selected))
                        .on_hover_text("Select for a group command");
                    let label = format!("select {}", door.door.name);
                    check.widget_info(|| {
                        egui::WidgetInfo::selected(
                            egui::accesskit::Role::CheckBox,
                            true,
                            selected,
                            &label,
                        )
                    });
                    if check.changed() {
                        panel.toggle(&door.door.id);
                    }
                    ui.label(RichText::new(&door.door.name).strong());
                    theme::door_state_chip_ui(ui, state.door_state(door));
                    if !narrow {
                        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                            // Right to left: add the buttons in reverse.
                            for (action, text) in ACTIONS.iter().rev() {
                                action_button_ui(ui, state, door, *action, text, commands);
                            }
                        });
                    }
                });
                if narrow {
                    ui.horizontal(|ui| {
                        for (action, text) in ACTIONS {
                            action_button_ui(ui, state, door, action, text, commands);
                        }
                    });
                }
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(format!(
                            "{} · {}",
                            door.door.zone,
                            door.door.fail_mode.label()
                        ))
                        .color(theme::MUTED),
                    );
                    if let Some(changed) = door.changed {
                        ui.separator();
                        ui.label(
                            RichText::new(format!("changed {}", age(state.site_now(), changed)))
                                .color(theme::MUTED),
                        );
                    }
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

/// How long ago, in the largest unit that says it: `just now`, `42 s ago`,
/// `12 min ago`, `3 h ago`, `2 days ago`.
pub fn age(now: crate::domain::Timestamp, then: crate::domain::Timestamp) -> String {
    let secs = now.signed_duration_since(then).num_seconds();
    match secs {
        ..5 => "just now".into(),
        5..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Door, DoorId, DoorStatus, DoorWithStatus, FailMode, SiteInfo, Snapshot};
    use crate::viewer::{AppEvent, command_channel};
    use egui_kittest::kittest::{NodeT, Queryable};

    fn site_of(doors: usize) -> AppState {
        let mut state = AppState::new(chrono::Utc::now(), "http://site.example", true);
        state.apply(AppEvent::Snapshot(Box::new(Snapshot {
            seq: 1,
            site: SiteInfo {
                name: "Large".into(),
                time_zone: "Europe/Berlin".into(),
                demo: true,
            },
            cameras: vec![],
            doors: (0..doors)
                .map(|i| DoorWithStatus {
                    door: Door {
                        id: DoorId::new(format!("door-{i:04}")),
                        name: format!("Door {i:04}"),
                        zone: "office".into(),
                        map: None,
                        fail_mode: FailMode::FailSecure,
                        access_time_ms: 5000,
                        held_open_threshold_ms: 20000,
                        cameras: vec![],
                    },
                    status: DoorStatus::locked_closed(),
                    changed: None,
                })
                .collect(),
            access_points: vec![],
            maps: vec![],
            open_requests: vec![],
        })));
        state
    }

    /// The rows laid out, drawn in a scroll area (at its end with `at_end`).
    fn rows_drawn(doors: usize, at_end: bool) -> Vec<String> {
        let state = site_of(doors);
        let (commands, _outbox) = command_channel();
        let mut panel = DoorsPanel::default();
        let mut h = egui_kittest::Harness::builder()
            .with_size(egui::vec2(900.0, 600.0))
            .build_ui(move |ui| {
                egui::ScrollArea::vertical()
                    .stick_to_bottom(at_end)
                    .show(ui, |ui| doors_ui(ui, &state, &mut panel, &commands));
            });
        h.run();
        h.query_all_by_label_contains("door Door ")
            .filter_map(|n| n.accesskit_node().label())
            .collect()
    }

    #[test]
    fn a_thousand_doors_lay_out_only_the_rows_in_sight() {
        let few = rows_drawn(5, false);
        assert_eq!(few.len(), 5, "{few:?}");
        let top = rows_drawn(1000, false);
        assert!((3..=20).contains(&top.len()), "{} rows laid out", top.len());
        assert_eq!(top[0], "door Door 0000");
        // Scrolled to the end, the last door is there: the rows not drawn
        // still take their height.
        let end = rows_drawn(1000, true);
        assert!((3..=20).contains(&end.len()), "{} rows laid out", end.len());
        assert_eq!(end.last().map(String::as_str), Some("door Door 0999"));
    }

    #[test]
    fn rows_in_sight_cover_the_clip_and_stay_in_bounds() {
        let clip = egui::Rect::from_min_max(egui::pos2(0.0, 100.0), egui::pos2(10.0, 300.0));
        // Rows of 50 from y = 0: rows 2..6 are in sight, one more each side.
        assert_eq!(rows_in_sight(0.0, clip, 50.0, 1000), (1, 8));
        assert_eq!(rows_in_sight(0.0, clip, 50.0, 4), (1, 4));
        assert_eq!(rows_in_sight(500.0, clip, 50.0, 1000), (0, 2));
        assert_eq!(rows_in_sight(-1.0e6, clip, 50.0, 10), (10, 10));
        let endless = egui::Rect::EVERYTHING;
        assert_eq!(rows_in_sight(0.0, endless, 50.0, 10), (0, 10));
    }

    #[test]
    fn ages_read_in_the_largest_unit() {
        let now: crate::domain::Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        for (ago, want) in [
            (-30, "just now"),
            (0, "just now"),
            (42, "42 s ago"),
            (12 * 60 + 5, "12 min ago"),
            (3 * 3600, "3 h ago"),
            (2 * 86_400 + 1, "2 days ago"),
        ] {
            let then = now - chrono::Duration::seconds(ago);
            assert_eq!(age(now, then), want, "{ago} s");
        }
    }
}

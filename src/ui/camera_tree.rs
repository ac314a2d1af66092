//! The camera tree: the site's cameras grouped by floor (the map each is
//! placed on; "No floor" for the rest), filtered by a text field (name or
//! id). Each row shows the camera's state; a click shows it alone in the
//! camera view (`Command::ShowCamera`), a drag onto a tile of the camera
//! grid places it there (the payload is its [`CameraId`]; the grid takes it,
//! `ui::cameras`). The filter lives in egui's memory, never saved.

use egui::{CollapsingHeader, RichText, ScrollArea, Sense, TextEdit, Ui};

use super::theme;
use crate::domain::{Camera, CameraState};
use crate::viewer::{AppState, Command, CommandSender};

/// The group of cameras placed on no floor.
pub const NO_FLOOR: &str = "No floor";

/// The cameras matching `filter` (case-insensitive, in name or id), by
/// floor: the floors in the site's order of maps, then [`NO_FLOOR`]; a
/// camera on a map the site does not list goes there too. Empty groups are
/// left out.
pub fn camera_groups<'a>(state: &'a AppState, filter: &str) -> Vec<(&'a str, Vec<&'a Camera>)> {
    let site = state.site();
    let needle = filter.trim().to_lowercase();
    let matches = |c: &Camera| {
        needle.is_empty()
            || c.name.to_lowercase().contains(&needle)
            || c.id.as_str().to_lowercase().contains(&needle)
    };
    let maps = site.maps();
    let mut groups: Vec<(&str, Vec<&Camera>)> =
        maps.iter().map(|m| (m.name.as_str(), Vec::new())).collect();
    let mut none = Vec::new();
    for camera in site.cameras().iter().filter(|c| matches(c)) {
        let at = camera
            .map
            .as_ref()
            .and_then(|id| maps.iter().position(|m| &m.id == id));
        match at {
            Some(i) => groups[i].1.push(camera),
            None => none.push(camera),
        }
    }
    groups.push((NO_FLOOR, none));
    groups.retain(|(_, cameras)| !cameras.is_empty());
    groups
}

/// How a camera's state reads, and its colour.
fn state_text(state: CameraState) -> (&'static str, egui::Color32) {
    match state {
        CameraState::Online => ("online", theme::LINK_UP),
        CameraState::Probing => ("probing", theme::PENDING),
        CameraState::Unauthorized => ("refused the credentials", theme::FAILED),
        CameraState::Unreachable => ("unreachable", theme::FAILED),
        CameraState::Unsupported => ("unsupported codec", theme::WARNING),
        CameraState::Preparing => ("being prepared", theme::PENDING),
    }
}

/// The camera tree panel.
pub fn camera_tree_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
    let filter_id = egui::Id::unique("camera tree filter");
    let mut filter: String = ui.data(|d| d.get_temp(filter_id)).unwrap_or_default();
    ui.horizontal(|ui| {
        let label = ui.label("Find a camera");
        ui.add(
            TextEdit::singleline(&mut filter)
                .hint_text("name or id")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    });
    ui.data_mut(|d| d.insert_temp(filter_id, filter.clone()));
    ui.add_space(4.0);

    if state.site().cameras().is_empty() {
        ui.label(RichText::new("This site has no cameras").color(theme::MUTED));
        return;
    }
    let groups = camera_groups(state, &filter);
    if groups.is_empty() {
        ui.label(RichText::new("No camera matches").color(theme::MUTED));
        return;
    }
    ScrollArea::vertical()
        .id_salt("camera tree")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (floor, cameras) in groups {
                CollapsingHeader::new(format!("{floor} ({})", cameras.len()))
                    .id_salt(("camera tree floor", floor))
                    .default_open(true)
                    .show(ui, |ui| {
                        for camera in cameras {
                            camera_row_ui(ui, camera, commands);
                        }
                    });
            }
        });
}

/// One camera: its name and state; a click shows it, a drag places it.
fn camera_row_ui(ui: &mut Ui, camera: &Camera, commands: &CommandSender) {
    let (word, colour) = state_text(camera.state);
    ui.horizontal(|ui| {
        // A dot of the state's colour (painted: not every font has one).
        let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), Sense::hover());
        ui.painter().circle_filled(dot.center(), 4.0, colour);
        let response = ui
            .add(
                egui::Label::new(&camera.name)
                    .selectable(false)
                    .sense(Sense::click_and_drag()),
            )
            .on_hover_text(format!(
                "{}: {word}. Click to show it; drag it onto a tile to place it there",
                camera.name
            ));
        response.dnd_set_drag_payload(camera.id.clone());
        if response.clicked() {
            commands.send(Command::ShowCamera {
                camera: camera.id.clone(),
            });
        }
        ui.label(RichText::new(word).small().color(theme::MUTED));
    });
}

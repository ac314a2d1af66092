//! Drawing only: one file per panel, each a `fn xxx_ui(ui, &state, ...,
//! &commands)`. Uses the viewer context (`crate::viewer`) and `domain` only,
//! never the shell, the network or GStreamer (a test checks the imports).
//! No I/O, no locks, no state changes: a click becomes a
//! [`Command`](crate::viewer::Command) in the [`CommandSender`].

pub mod cameras;
pub mod doors;
pub mod events;
pub mod format;
pub mod map;
pub mod requests;
pub mod sign_in;
pub mod theme;
pub mod top_bar;
pub mod video_tile;

use egui::{CentralPanel, Color32, Frame, Margin, Panel, RichText, ScrollArea, Ui};

use crate::viewer::{AppState, CommandSender, Link, MainView, NoticeLevel, ViewState};

/// The whole window. `video` feeds the camera view's tiles.
pub fn root_ui(
    ui: &mut Ui,
    state: &AppState,
    view: &mut ViewState,
    commands: &CommandSender,
    video: &mut cameras::VideoUi<'_>,
) {
    // Panels are not filled: the window is cleared to the panel colour
    // already (`theme::clear_color`), and under software rendering every
    // filled pixel costs on each repaint.
    let style = ui.style().clone();
    let bare_bar = Frame::side_top_panel(&style).fill(Color32::TRANSPARENT);
    let bare_central = Frame::central_panel(&style).fill(Color32::TRANSPARENT);
    Panel::top("top_bar")
        .frame(bare_bar)
        .show(ui, |ui| top_bar::top_bar_ui(ui, state, commands));
    if state.runtime.session.is_some()
        && let Link::Down {
            attempt, reason, ..
        } = &state.runtime.link
    {
        Panel::top("link_banner")
            .frame(
                Frame::new()
                    .fill(theme::BANNER)
                    .inner_margin(Margin::symmetric(10, 6)),
            )
            .show(ui, |ui| top_bar::link_banner_ui(ui, *attempt, reason));
    }
    if !state.runtime.notices.is_empty() {
        Panel::bottom("notices").show(ui, |ui| notices_ui(ui, state));
    }
    if state.runtime.session.is_none() {
        CentralPanel::default().show(ui, |ui| sign_in::sign_in_ui(ui, state, view, commands));
        return;
    }
    let events = Panel::right("events")
        .frame(bare_bar)
        .resizable(true)
        .default_size(view.workspace.panels.events_width)
        .show(ui, |ui| events::events_ui(ui, state));
    // The workspace keeps the width the operator dragged it to.
    view.workspace.panels.events_width = events.response.rect.width();
    CentralPanel::default().frame(bare_central).show(ui, |ui| {
        if state.site().info.is_none() {
            ui.label("Loading the site's state…");
            return;
        }
        ui.horizontal(|ui| {
            ui.selectable_value(&mut view.workspace.main, MainView::Doors, "Doors");
            ui.selectable_value(&mut view.workspace.main, MainView::Cameras, "Cameras");
        });
        ui.separator();
        match view.workspace.main {
            MainView::Doors => {
                ScrollArea::vertical()
                    .id_salt("doors_and_requests")
                    .show(ui, |ui| {
                        requests::requests_ui(ui, state, commands);
                        doors::doors_ui(ui, state, commands);
                    });
            }
            MainView::Cameras => {
                // Access requests wait for an answer: they stay in sight.
                if state.site().has_open_requests() {
                    ScrollArea::vertical()
                        .id_salt("requests_over_cameras")
                        .max_height(ui.available_height() / 4.0)
                        .show(ui, |ui| requests::requests_ui(ui, state, commands));
                    ui.separator();
                }
                cameras::cameras_ui(ui, state, &mut view.workspace.cameras, video);
            }
        }
    });
}

/// Recent notices, newest last.
fn notices_ui(ui: &mut Ui, state: &AppState) {
    for notice in &state.runtime.notices {
        let color = match notice.level {
            NoticeLevel::Info => theme::INFO,
            NoticeLevel::Error => theme::FAILED,
        };
        ui.label(RichText::new(&notice.text).color(color));
    }
}

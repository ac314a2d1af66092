//! Drawing only: one file per panel, each a `fn xxx_ui(ui, &state, ...,
//! &commands)`. Uses the viewer context (`crate::viewer`) and `domain` only,
//! never the shell, the network or GStreamer (a test checks the imports).
//! No I/O, no locks, no state changes: a click becomes a
//! [`Command`](crate::viewer::Command) in the [`CommandSender`].

pub mod access_monitor;
pub mod camera_tree;
pub mod cameras;
pub mod cardholders;
pub mod dock;
pub mod doors;
pub mod events;
pub mod format;
pub mod map;
pub mod playback;
pub mod request_pop;
pub mod requests;
pub mod sign_in;
pub mod status_bar;
pub mod theme;
pub mod timeline;
pub mod top_bar;
pub mod video_tile;
pub mod views;

use egui::{CentralPanel, Color32, Frame, Margin, Panel, RichText, Ui};

use crate::viewer::{AppState, CommandSender, Link, NoticeLevel, ViewState};

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
    // The larger-text setting scales everything, text and controls alike.
    let zoom = theme::zoom_factor(view.workspace.large_text);
    if (ui.ctx().zoom_factor() - zoom).abs() > f32::EPSILON {
        ui.ctx().set_zoom_factor(zoom);
    }
    let style = ui.style().clone();
    let bare_bar = Frame::side_top_panel(&style).fill(Color32::TRANSPARENT);
    let bare_central = Frame::central_panel(&style).fill(Color32::TRANSPARENT);
    Panel::top("top_bar").frame(bare_bar).show(ui, |ui| {
        top_bar::top_bar_ui(ui, state, &mut view.workspace, commands);
    });
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
    if state.runtime.session.is_some() {
        Panel::bottom("status_bar")
            .frame(bare_bar)
            .show(ui, |ui| status_bar::status_bar_ui(ui, state));
    }
    if !state.runtime.notices.is_empty() {
        Panel::bottom("notices").show(ui, |ui| notices_ui(ui, state));
    }
    // A session the site ended: the workspace stays as it was (doors
    // unknown, nothing to press) behind a sign-in in place.
    let lapsed = state.runtime.session.is_none() && state.runtime.lapsed.is_some();
    if state.runtime.session.is_none() && !lapsed {
        CentralPanel::default().show(ui, |ui| sign_in::sign_in_ui(ui, state, view, commands));
        return;
    }
    if lapsed {
        egui::Modal::new(egui::Id::unique("sign_in_again")).show(ui.ctx(), |ui| {
            ui.set_width(320.0);
            sign_in::sign_in_ui(ui, state, view, commands);
        });
    }
    CentralPanel::default().frame(bare_central).show(ui, |ui| {
        if lapsed {
            ui.disable();
        }
        if state.site().info.is_none() {
            ui.label("Loading the site's state…");
            return;
        }
        let panels = dock::Panels {
            doors: &mut view.doors,
            map: &mut view.map,
        };
        dock::dock_ui(ui, state, &mut view.workspace, panels, commands, video);
    });
    // In front of every panel, whatever the layout.
    if state.site().info.is_some() && !lapsed {
        request_pop::request_pop_ui(ui.ctx(), state, commands, video);
    }
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

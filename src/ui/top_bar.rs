//! The top bar (site, DEMO SITE marker, link, site time, the named layouts
//! and the Panels menu, user, sign out) and the link-lost banner.

use egui::{Align, Layout, RichText, Ui};

use super::{format, theme};
use crate::viewer::{AppState, Command, CommandSender, Link, Pane, Workspace};

/// The bar across the top of the window.
pub fn top_bar_ui(
    ui: &mut Ui,
    state: &AppState,
    workspace: &mut Workspace,
    commands: &CommandSender,
) {
    ui.horizontal(|ui| {
        let name = state
            .site()
            .info
            .as_ref()
            .map_or("Watchdesk", |s| s.name.as_str());
        ui.label(RichText::new(name).strong().size(16.0));
        if state.site().demo {
            theme::badge_ui(ui, "DEMO SITE", theme::DEMO, theme::ON_ALARM)
                .on_hover_text("The built-in demo site: simulated doors, cameras and people");
        }
        ui.separator();
        link_status_ui(ui, state);
        if state.site().info.is_some() {
            ui.separator();
            let tz = state.time_zone();
            ui.label(RichText::new(format::site_clock(state.site_now(), tz)).monospace())
                .on_hover_text(format!("Site time ({tz})"));
        }
        if state.runtime.session.is_some() {
            ui.separator();
            layouts_ui(ui, workspace);
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if let Some(session) = &state.runtime.session {
                if ui.button("Sign out").clicked() {
                    commands.send(Command::SignOut);
                }
                ui.label(format!("{} ({})", session.username, session.role));
            }
        });
    });
}

/// The named layouts (one click shows one) and the Panels menu, which
/// reopens a closed panel or closes an open one.
fn layouts_ui(ui: &mut Ui, workspace: &mut Workspace) {
    let names: Vec<String> = workspace.docks.iter().map(|d| d.name.clone()).collect();
    for name in names {
        let active = workspace.active_dock == name;
        if ui
            .selectable_label(active, name.as_str())
            .on_hover_text("Show this layout of panels")
            .clicked()
        {
            workspace.switch_dock(&name);
        }
    }
    if ui
        .selectable_label(workspace.large_text, "Larger text")
        .on_hover_text("Draw everything larger, to be read from 2 m")
        .clicked()
    {
        workspace.large_text = !workspace.large_text;
    }
    ui.menu_button("Panels", |ui| {
        for pane in Pane::ALL {
            let mut open = workspace.dock().is_open(pane);
            if ui.checkbox(&mut open, pane.title()).changed() {
                if open {
                    workspace.focus(pane);
                } else {
                    workspace.dock_mut().close(pane);
                }
            }
        }
    });
}

fn link_status_ui(ui: &mut Ui, state: &AppState) {
    match &state.runtime.link {
        Link::Up => {
            theme::status_dot_ui(ui, theme::LINK_UP);
            ui.label(RichText::new("live").color(theme::LINK_UP));
        }
        Link::Down { reason, .. } => {
            theme::status_dot_ui(ui, theme::LINK_DOWN);
            ui.label(RichText::new("reconnecting").color(theme::LINK_DOWN))
                .on_hover_text(reason.as_str());
        }
        Link::Idle => {
            theme::status_dot_ui(ui, theme::MUTED);
            ui.label(RichText::new("not connected").color(theme::MUTED));
        }
    }
}

/// The banner shown while the live link is down.
pub fn link_banner_ui(ui: &mut Ui, attempt: u32, reason: &str) {
    ui.label(
        RichText::new(format!(
            "Connection to the site lost — reconnecting (attempt {attempt}); door states unknown"
        ))
        .color(theme::ON_ALARM)
        .strong(),
    )
    .on_hover_text(reason);
}

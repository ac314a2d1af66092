//! The top bar (site, DEMO SITE marker, link, site time, user, sign out) and
//! the link-lost banner.

use egui::{Align, Layout, RichText, Ui};

use super::{format, theme};
use crate::viewer::{AppState, Command, CommandSender, Link};

/// The bar across the top of the window.
pub fn top_bar_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
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

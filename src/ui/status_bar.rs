//! The status bar along the bottom: site, signed-in user and role, link
//! state, live event rate, and the clock offset to the site (a warning past
//! [`OFFSET_WARN_MS`]).

use egui::{RichText, Ui};

use super::{format, theme};
use crate::viewer::{AppState, Link, RATE_WINDOW_SECS};

/// Past this offset between the site's clock and this workstation's, the
/// status bar warns: times the operator compares (a camera's clock, a
/// wristwatch) no longer agree with the site's.
pub const OFFSET_WARN_MS: i64 = 2_000;

/// The bar's content, one line.
pub fn status_bar_ui(ui: &mut Ui, state: &AppState) {
    ui.horizontal(|ui| {
        let site = state.site();
        let name = site
            .info
            .as_ref()
            .map_or(site.address.as_str(), |s| s.name.as_str());
        ui.label(RichText::new(name).strong())
            .on_hover_text(format!("Site at {}", site.address));
        ui.separator();
        match &state.runtime.session {
            Some(session) => {
                ui.label(format!("{} · {}", session.username, session.role));
            }
            None => {
                ui.label(RichText::new("not signed in").color(theme::MUTED));
            }
        }
        ui.separator();
        link_ui(ui, state);
        ui.separator();
        ui.label(format::event_rate(state.event_rate()))
            .on_hover_text(format!(
                "Live events a second over the last {RATE_WINDOW_SECS} s"
            ));
        ui.separator();
        offset_ui(ui, site.clock_offset_ms);
    });
}

fn link_ui(ui: &mut Ui, state: &AppState) {
    let (color, text) = match &state.runtime.link {
        Link::Up => (theme::LINK_UP, "live".to_owned()),
        Link::Down { attempt, .. } => (theme::LINK_DOWN, format!("reconnecting ({attempt})")),
        Link::Idle => (theme::MUTED, "not connected".to_owned()),
    };
    theme::status_dot_ui(ui, color);
    let label = ui.label(RichText::new(text).color(color));
    if let Link::Down { reason, .. } = &state.runtime.link {
        label.on_hover_text(reason.as_str());
    }
}

fn offset_ui(ui: &mut Ui, offset_ms: Option<i64>) {
    let Some(ms) = offset_ms else {
        ui.label(RichText::new("site clock not measured").color(theme::MUTED));
        return;
    };
    let text = format!("site clock {}", format::clock_offset(ms));
    if ms.unsigned_abs() > OFFSET_WARN_MS.unsigned_abs() {
        let side = if ms > 0 { "ahead of" } else { "behind" };
        ui.label(RichText::new(format!("! {text}")).color(theme::WARNING))
            .on_hover_text(format!(
                "The site's clock is {} {side} this workstation's (more than {} s). \
                 Times shown are the site's; check the clocks (NTP) of both.",
                format::clock_offset(ms.saturating_abs()).trim_start_matches('+'),
                OFFSET_WARN_MS / 1000
            ));
    } else {
        ui.label(RichText::new(text).color(theme::MUTED))
            .on_hover_text("The site's clock against this workstation's");
    }
}

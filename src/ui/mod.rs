//! Drawing only: one file per panel, each a `fn xxx_ui(ui, &state, ...,
//! &commands)`. No I/O, no locks, no state changes: a click becomes a
//! [`Command`](crate::app::Command) in the [`CommandSender`].

pub mod doors;
pub mod events;
pub mod format;
pub mod requests;
pub mod sign_in;
pub mod theme;
pub mod top_bar;

use egui::{CentralPanel, Frame, Margin, Panel, RichText, ScrollArea, Ui};

use crate::app::{AppState, CommandSender, Link, NoticeLevel};

/// What only the view keeps: the sign-in form's text.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    pub username: String,
    /// Cleared as soon as it is sent.
    pub password: String,
}

impl ViewState {
    /// The view for `state`: the demo site's form is prefilled.
    pub fn new(state: &AppState) -> Self {
        Self {
            username: if state.demo {
                "operator".into()
            } else {
                String::new()
            },
            password: String::new(),
        }
    }
}

/// The whole window.
pub fn root_ui(ui: &mut Ui, state: &AppState, view: &mut ViewState, commands: &CommandSender) {
    Panel::top("top_bar").show(ui, |ui| top_bar::top_bar_ui(ui, state, commands));
    if state.session.is_some()
        && let Link::Down {
            attempt, reason, ..
        } = &state.link
    {
        Panel::top("link_banner")
            .frame(
                Frame::new()
                    .fill(theme::BANNER)
                    .inner_margin(Margin::symmetric(10, 6)),
            )
            .show(ui, |ui| top_bar::link_banner_ui(ui, *attempt, reason));
    }
    if !state.notices.is_empty() {
        Panel::bottom("notices").show(ui, |ui| notices_ui(ui, state));
    }
    if state.session.is_none() {
        CentralPanel::default().show(ui, |ui| sign_in::sign_in_ui(ui, state, view, commands));
        return;
    }
    Panel::right("events")
        .resizable(true)
        .default_size(480.0)
        .show(ui, |ui| events::events_ui(ui, state));
    CentralPanel::default().show(ui, |ui| {
        if state.site.is_none() {
            ui.label("Loading the site's state…");
            return;
        }
        ScrollArea::vertical()
            .id_salt("doors_and_requests")
            .show(ui, |ui| {
                requests::requests_ui(ui, state, commands);
                doors::doors_ui(ui, state, commands);
            });
    });
}

/// Recent notices, newest last.
fn notices_ui(ui: &mut Ui, state: &AppState) {
    for notice in &state.notices {
        let color = match notice.level {
            NoticeLevel::Info => theme::INFO,
            NoticeLevel::Error => theme::FAILED,
        };
        ui.label(RichText::new(&notice.text).color(color));
    }
}

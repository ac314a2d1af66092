//! Access requests pop in front of the workspace: a window of its own above
//! every panel (never in the layout, so nothing under the operator's pointer
//! moves when one arrives or leaves), the requests stacked oldest first.
//! Alt+G grants and Alt+D denies the oldest one.

use egui::{
    Align2, Context, Key, KeyboardShortcut, Modifiers, Order, RichText, ScrollArea, Window,
};

use super::cameras::VideoUi;
use super::{requests, theme};
use crate::viewer::{AppState, Command, CommandSender};

/// Grants the oldest open request.
pub const GRANT_KEY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::ALT, Key::G);
/// Denies the oldest open request.
pub const DENY_KEY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::ALT, Key::D);

/// The window of open requests; nothing when there are none.
pub fn request_pop_ui(
    ctx: &Context,
    state: &AppState,
    commands: &CommandSender,
    video: &mut VideoUi<'_>,
) {
    let oldest = state.site().open_requests().next();
    if oldest.is_none() && state.resolved_requests().next().is_none() {
        return;
    }
    if let Some(oldest) = oldest
        && state.decision_blocked().is_none()
    {
        let (grant, deny) = ctx.input_mut(|i| {
            (
                i.consume_shortcut(&GRANT_KEY),
                i.consume_shortcut(&DENY_KEY),
            )
        });
        if grant || deny {
            let request = oldest.id.clone();
            commands.send(if grant {
                Command::Grant {
                    request,
                    reason: None,
                }
            } else {
                Command::Deny {
                    request,
                    reason: None,
                }
            });
        }
    }
    Window::new("Access requests")
        .id(egui::Id::unique("request_pop"))
        .title_bar(false)
        .order(Order::Foreground)
        .anchor(Align2::RIGHT_TOP, [-12.0, 48.0])
        .collapsible(false)
        .resizable(false)
        .default_width(420.0)
        .show(ctx, |ui| {
            ui.set_width(420.0);
            ScrollArea::vertical().max_height(520.0).show(ui, |ui| {
                requests::requests_ui(ui, state, commands, video);
                requests::resolved_ui(ui, state);
            });
            ui.label(
                RichText::new("Alt+G grants, Alt+D denies the oldest request").color(theme::MUTED),
            );
        });
}

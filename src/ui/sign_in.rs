//! The sign-in form, and what shows before it can be used (the demo site
//! starting, or failing to).

use egui::{Align, Button, Layout, RichText, TextEdit, Ui};

use super::theme;
use crate::viewer::{AppState, Command, CommandSender, Reach, SignInPhase, ViewState};

/// The sign-in screen.
pub fn sign_in_ui(ui: &mut Ui, state: &AppState, view: &mut ViewState, commands: &CommandSender) {
    // In place over a lapsed session's workspace, no space above.
    let in_place = state.runtime.lapsed.is_some();
    ui.with_layout(Layout::top_down(Align::Center), |ui| {
        ui.add_space(if in_place { 4.0 } else { 60.0 });
        if let Some(fatal) = &state.runtime.fatal {
            ui.heading("The site could not be set up");
            ui.label(RichText::new(fatal).color(theme::FAILED));
            return;
        }
        if let Some(message) = &state.runtime.starting {
            ui.heading(message);
            return;
        }
        unreachable_ui(ui, state, commands);
        ui.heading(if in_place { "Sign in again" } else { "Sign in" });
        ui.label(RichText::new(&state.site().address).color(theme::MUTED));
        ui.add_space(12.0);
        let busy = matches!(state.runtime.sign_in, SignInPhase::InProgress { .. });

        let user_label = ui.label("User name");
        ui.add_enabled(
            !busy,
            TextEdit::singleline(&mut view.form.username).desired_width(240.0),
        )
        .labelled_by(user_label.id);
        let pass_label = ui.label("Password");
        let pass = ui
            .add_enabled(
                !busy,
                TextEdit::singleline(&mut view.form.password)
                    .password(true)
                    .desired_width(240.0),
            )
            .labelled_by(pass_label.id);
        ui.add_space(8.0);
        let ready =
            !busy && !view.form.username.trim().is_empty() && !view.form.password.is_empty();
        let clicked = ui.add_enabled(ready, Button::new("Sign in")).clicked();
        let entered = pass.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ready && (clicked || entered) {
            commands.send(Command::SignIn {
                username: view.form.username.trim().to_owned(),
                password: std::mem::take(&mut view.form.password),
            });
        }
        match &state.runtime.sign_in {
            SignInPhase::InProgress { username } => {
                ui.label(format!("Signing in as {username}…"));
            }
            SignInPhase::Failed { message } => {
                ui.label(RichText::new(message).color(theme::FAILED));
            }
            SignInPhase::Idle => {}
        }
    });
}

/// The site could not be reached at the start (no state ever loaded): the
/// address and why, the last try and the next one, and "Retry now". A link
/// lost after a good start is the link banner's business, not this.
fn unreachable_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
    if state.site().info.is_some() {
        return;
    }
    let local = |t: crate::domain::Timestamp| {
        t.with_timezone(&chrono::Local)
            .format("%H:%M:%S")
            .to_string()
    };
    match &state.runtime.reach {
        Reach::Unknown => {}
        Reach::Connecting { .. } => {
            ui.label(
                RichText::new(format!("Connecting to {}…", state.site().address))
                    .color(theme::PENDING),
            );
            ui.add_space(8.0);
        }
        Reach::Unreachable {
            reason,
            at,
            retry_at,
        } => {
            ui.heading(
                RichText::new(format!("Cannot reach the site at {}", state.site().address))
                    .color(theme::FAILED),
            );
            ui.label(RichText::new(reason).color(theme::FAILED));
            let secs = (*retry_at - state.runtime.now).num_seconds().max(0);
            ui.label(
                RichText::new(format!(
                    "Last try {} · next try at {} (in {secs} s)",
                    local(*at),
                    local(*retry_at)
                ))
                .color(theme::MUTED),
            );
            if ui
                .button("Retry now")
                .on_hover_text("Try to reach the site again now")
                .clicked()
            {
                commands.send(Command::RetryConnect);
            }
            ui.add_space(12.0);
        }
    }
}

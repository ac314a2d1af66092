//! The sign-in form, and what shows before it can be used (the demo site
//! starting, or failing to).

use egui::{Align, Button, Layout, RichText, TextEdit, Ui};

use super::theme;
use crate::viewer::{AppState, Command, CommandSender, SignInPhase, ViewState};

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

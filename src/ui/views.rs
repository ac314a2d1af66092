//! The camera toolbar's "Views" menu: save the live view under a name
//! (private, on this workstation; a name taken asks before it replaces),
//! load or delete a private view, load a view shared on the site, publish
//! the live view for everyone (roles with `PublishViews`; the others see
//! the control disabled with the reason), and open a view in a window of
//! its own. Nothing here talks to the site: publishing is a `Command`.

use egui::{Id, RichText, TextEdit, Ui};

use super::theme;
use crate::domain::{self, Permission, ViewId};
use crate::viewer::views::{self, NamedView};
use crate::viewer::{AppState, CamerasView, Command, CommandSender, DetachedView};

/// What the menu changes besides the live view.
pub struct ViewsMenu<'a> {
    /// The private views (the workspace's).
    pub views: &'a mut Vec<NamedView>,
    /// The detached windows (the workspace's).
    pub detached: &'a mut Vec<DetachedView>,
    pub commands: &'a CommandSender,
}

/// The menu's text fields (egui's memory, never saved).
#[derive(Clone, Default)]
struct Form {
    save_name: String,
    /// A save that would replace the view of this name, awaiting a yes.
    confirm: Option<String>,
    publish_name: String,
}

/// Why the signed-in role may not publish or delete shared views, or None.
pub fn publish_blocked(state: &AppState) -> Option<String> {
    match state.role() {
        Some(r) if domain::allowed(r, Permission::PublishViews) => None,
        Some(r) => Some(format!(
            "only a supervisor or admin may {}; you are {r}",
            Permission::PublishViews.label()
        )),
        None => Some("not signed in".to_owned()),
    }
}

/// A shared view's id made from its name: lower-case letters and digits,
/// the rest `-`, at most 64.
pub fn view_id(name: &str) -> ViewId {
    let mut id = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    let id: String = id.trim_matches('-').chars().take(64).collect();
    ViewId::new(if id.is_empty() { "view".to_owned() } else { id })
}

/// Gives a widget its accessible name (its visible text is shorter).
fn name_button(response: &egui::Response, name: &str) {
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::accesskit::Role::Button, response.enabled(), name)
    });
}

/// "Views" and "Open in new window" on the camera toolbar.
pub fn views_toolbar_ui(
    ui: &mut Ui,
    state: &AppState,
    live: &mut CamerasView,
    menu: &mut ViewsMenu<'_>,
) {
    // Open until a click outside, so a save can ask before it replaces;
    // loading a view closes it.
    let config = egui::containers::menu::MenuConfig::new()
        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
    egui::containers::menu::MenuButton::new("Views")
        .config(config)
        .ui(ui, |ui| views_menu_ui(ui, state, live, menu));
    if ui
        .button("Open in new window")
        .on_hover_text("this view in a window of its own, for another monitor")
        .clicked()
    {
        views::detach(menu.detached, "Cameras", live);
    }
}

fn views_menu_ui(ui: &mut Ui, state: &AppState, live: &mut CamerasView, menu: &mut ViewsMenu<'_>) {
    let id = Id::unique("views menu form");
    let mut form: Form = ui.data_mut(|d| d.get_temp(id)).unwrap_or_default();
    ui.set_min_width(260.0);

    // Save as…
    let label = ui.label("Save as…");
    ui.add(TextEdit::singleline(&mut form.save_name).hint_text("view name"))
        .labelled_by(label.id);
    let name = views::view_name(&form.save_name);
    match form.confirm.clone() {
        Some(taken) if name.as_deref() == Some(taken.as_str()) => {
            ui.label(RichText::new(format!("Replace “{taken}”?")).color(theme::WARNING));
            ui.horizontal(|ui| {
                if ui.button("Replace").clicked() {
                    views::save_view(menu.views, &taken, live, true);
                    form = Form::default();
                }
                if ui.button("Cancel").clicked() {
                    form.confirm = None;
                }
            });
        }
        _ => {
            form.confirm = None;
            if ui
                .add_enabled(name.is_some(), egui::Button::new("Save view"))
                .on_disabled_hover_text("a name of 1 to 64 characters")
                .clicked()
                && let Some(name) = name
            {
                match views::save_view(menu.views, &name, live, false) {
                    None => form.confirm = Some(name),
                    Some(_) => form.save_name.clear(),
                }
            }
        }
    }

    ui.separator();
    ui.label(RichText::new("Private views").strong());
    if menu.views.is_empty() {
        ui.label(RichText::new("none saved yet").color(theme::MUTED));
    }
    let mut delete = None;
    let mut window = None;
    for view in menu.views.iter() {
        ui.horizontal(|ui| {
            let load = ui.button(&view.name).on_hover_text("load it into the view");
            name_button(&load, &format!("Load view {}", view.name));
            if load.clicked() {
                view.load_into(live);
                ui.close();
            }
            let open = ui.small_button("Window");
            name_button(&open, &format!("Open view {} in a new window", view.name));
            if open.clicked() {
                window = Some(view.clone());
            }
            let del = ui.small_button("Delete");
            name_button(&del, &format!("Delete view {}", view.name));
            if del.clicked() {
                delete = Some(view.name.clone());
            }
        });
    }
    if let Some(name) = delete {
        views::delete_view(menu.views, &name);
    }
    if let Some(view) = window {
        let mut cameras = CamerasView::default();
        view.load_into(&mut cameras);
        views::detach(menu.detached, &view.name, &cameras);
    }

    ui.separator();
    ui.label(RichText::new("Shared views").strong());
    let blocked = publish_blocked(state);
    if state.shared_views().is_empty() {
        ui.label(RichText::new("none on this site").color(theme::MUTED));
    }
    for shared in state.shared_views() {
        ui.horizontal(|ui| {
            let named = NamedView::from_shared(shared);
            let load = ui
                .add_enabled(named.is_some(), egui::Button::new(&shared.name))
                .on_hover_text(format!("shared by {}", shared.by))
                .on_disabled_hover_text("a layout this version does not know");
            name_button(&load, &format!("Load shared view {}", shared.name));
            if load.clicked()
                && let Some(named) = &named
            {
                named.load_into(live);
                ui.close();
            }
            let open = ui.add_enabled(named.is_some(), egui::Button::new("Window").small());
            name_button(
                &open,
                &format!("Open shared view {} in a new window", shared.name),
            );
            if open.clicked()
                && let Some(named) = &named
            {
                let mut cameras = CamerasView::default();
                named.load_into(&mut cameras);
                views::detach(menu.detached, &named.name, &cameras);
            }
            let del = ui
                .add_enabled(blocked.is_none(), egui::Button::new("Delete").small())
                .on_disabled_hover_text(blocked.clone().unwrap_or_default());
            name_button(&del, &format!("Delete shared view {}", shared.name));
            if del.clicked() {
                menu.commands.send(Command::DeleteView(shared.id.clone()));
            }
        });
    }
    let label = ui.label("Publish current view…");
    ui.add_enabled(
        blocked.is_none(),
        TextEdit::singleline(&mut form.publish_name).hint_text("shared view name"),
    )
    .labelled_by(label.id);
    let name = views::view_name(&form.publish_name);
    let why = blocked.clone().or_else(|| {
        name.is_none()
            .then(|| "a name of 1 to 64 characters".to_owned())
    });
    if ui
        .add_enabled(why.is_none(), egui::Button::new("Publish view"))
        .on_hover_text("every operator of the site can load it")
        .on_disabled_hover_text(why.unwrap_or_default())
        .clicked()
        && let Some(name) = name
    {
        let body = NamedView::of(&name, live).to_shared();
        menu.commands.send(Command::PublishView {
            id: view_id(&name),
            body,
        });
        form.publish_name.clear();
        ui.close();
    }

    ui.separator();
    if ui.button("Open current view in a new window").clicked() {
        views::detach(menu.detached, "Cameras", live);
        ui.close();
    }
    ui.data_mut(|d| d.insert_temp(id, form));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_made_from_names() {
        assert_eq!(view_id("  Lobby & Gate 2 ").as_str(), "lobby-gate-2");
        assert_eq!(view_id("!!!").as_str(), "view");
        assert_eq!(view_id(&"a".repeat(100)).as_str().len(), 64);
        // What the site takes: letters, digits, '-', at most 64.
        let id = view_id("Ünïcode ✓ 9");
        assert!(
            id.as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{id}"
        );
    }
}

//! The cardholders panel: a search by name, department or badge (answered
//! by the site, asked ~300 ms after the typing stops), the results as a
//! virtualised list, and the open cardholder: photo, badges and their
//! states (enable or disable where the role allows, the reason in the
//! tooltip where it does not), recent events. The edit form can take the
//! photo from a live camera: a camera picked, its live tile, "Take photo"
//! sends the frame shown to the worker (cropped, scaled, encoded and
//! uploaded there).

use std::sync::Arc;

use egui::{
    Button, ColorImage, CornerRadius, RichText, ScrollArea, Sense, Stroke, StrokeKind, TextEdit,
    TextureHandle, TextureOptions, Ui, vec2,
};

use super::cameras::{VideoFeed, VideoUi, camera_tile_frame_ui};
use super::events::{event_title, icon_ui};
use super::{format, theme};
use crate::domain::{self, CameraId, Cardholder, CredentialState, Permission};
use crate::viewer::{
    AppState, Badge, Command, CommandSender, CredentialChange, OpenCardholder, SaveState,
    SearchResults, SnapshotFrame, StillImage,
};

/// How long the typing must rest before the site is asked, in seconds.
pub const SEARCH_DEBOUNCE_S: f64 = 0.3;
/// The height of one result row, in points.
const ROW_HEIGHT: f32 = 22.0;
/// The most height the result list takes, in points.
const RESULTS_HEIGHT: f32 = 220.0;
/// The side of the photo, in points.
const PHOTO: f32 = 96.0;

/// The search box's text and when it last changed (egui's memory).
#[derive(Clone, Default)]
struct SearchBox {
    text: String,
    /// When the text last changed and was not asked for yet (`input.time`).
    edited_at: Option<f64>,
    /// Whether any search was sent (the first shows everyone).
    sent_once: bool,
}

/// The width of the live preview for a photo, in points.
const PREVIEW_W: f32 = 240.0;

/// The cardholders panel, with no video (no photo from a camera).
pub fn cardholders_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
    cardholders_video_ui(ui, state, commands, None);
}

/// The cardholders panel; with `video`, the edit form can take the photo
/// from a live camera.
pub fn cardholders_video_ui(
    ui: &mut Ui,
    state: &AppState,
    commands: &CommandSender,
    video: Option<&mut VideoUi<'_>>,
) {
    ui.heading("Cardholders");
    let role = state.role();
    if !role.is_some_and(|r| domain::allowed(r, Permission::ViewCardholders)) {
        ui.label(RichText::new("Your role may not view cardholders").color(theme::MUTED));
        return;
    }
    let manage = manage_blocked(state);
    ui.horizontal(|ui| {
        search_ui(ui, state, commands);
    });
    let form_id = ui.make_persistent_id("cardholder_form");
    let mut form = ui
        .data(|d| d.get_temp::<Option<CardholderForm>>(form_id))
        .flatten();
    if form.is_none() {
        let new = ui.add_enabled(manage.is_none(), Button::new("New cardholder"));
        let new = match &manage {
            Some(reason) => new.on_disabled_hover_text(reason.as_str()),
            None => new,
        };
        if new.clicked() {
            form = Some(CardholderForm {
                create: true,
                ..CardholderForm::default()
            });
        }
    }
    if let Some(f) = &mut form
        && !form_ui(ui, state, f, commands, video)
    {
        form = None;
    }
    results_ui(ui, state, commands);
    ui.separator();
    if let Some(open) = &state.people.open
        && let Some(c) = &open.cardholder
        && form.is_none()
    {
        let edit = ui.add_enabled(manage.is_none(), Button::new(format!("Edit {}", c.name)));
        let edit = match &manage {
            Some(reason) => edit.on_disabled_hover_text(reason.as_str()),
            None => edit,
        };
        if edit.clicked() {
            form = Some(CardholderForm {
                create: false,
                id: c.id.as_str().to_owned(),
                name: c.name.clone(),
                department: c.department.clone(),
                schedule: String::new(),
                sent: false,
                ..CardholderForm::default()
            });
        }
    }
    ui.data_mut(|d| d.insert_temp(form_id, form));
    match &state.people.open {
        None => {
            ui.label(RichText::new("Pick a cardholder to see their details").color(theme::MUTED));
        }
        Some(open) => {
            ScrollArea::vertical()
                .id_salt("cardholder_details")
                .auto_shrink([false, false])
                .show(ui, |ui| details_ui(ui, state, open, commands));
        }
    }
}

/// Why the signed-in role may not change cardholders, or None.
fn manage_blocked(state: &AppState) -> Option<String> {
    match state.role() {
        Some(r) if domain::allowed(r, Permission::ManageCredentials) => None,
        Some(r) => Some(format!(
            "only a supervisor or admin may change cardholders and badges; you are {r}"
        )),
        None => Some("not signed in".to_owned()),
    }
}

/// The create or edit form (egui's memory while open).
#[derive(Clone, Default)]
struct CardholderForm {
    create: bool,
    id: String,
    name: String,
    department: String,
    /// Empty: unchanged (an edit); a schedule's id.
    schedule: String,
    /// Whether it was sent (its outcome is then the state's).
    sent: bool,
    /// The camera to take the photo from (an edit only).
    photo_camera: Option<CameraId>,
    /// The badge number to add, and whether it starts disabled.
    new_badge: String,
    new_badge_disabled: bool,
    /// The badge whose removal waits for the operator's confirmation.
    confirm_remove: Option<domain::CredentialId>,
    /// The nonce of the last change of badges sent.
    badges_sent: Option<String>,
}

/// The form; false once it is done with (saved or cancelled).
fn form_ui(
    ui: &mut Ui,
    state: &AppState,
    f: &mut CardholderForm,
    commands: &CommandSender,
    video: Option<&mut VideoUi<'_>>,
) -> bool {
    let mut keep = true;
    ui.group(|ui| {
        ui.strong(if f.create {
            "New cardholder"
        } else {
            "Edit cardholder"
        });
        let field = |ui: &mut Ui, label: &str, text: &mut String, hint: &str| {
            ui.horizontal(|ui| {
                let l = ui.label(label);
                ui.add(TextEdit::singleline(text).hint_text(hint))
                    .labelled_by(l.id);
            });
        };
        if f.create {
            field(ui, "Cardholder id", &mut f.id, "letters, digits, - _ .");
        }
        field(ui, "Name", &mut f.name, "");
        field(ui, "Department", &mut f.department, "");
        let hint = if f.create { "e.g. office" } else { "unchanged" };
        field(ui, "Schedule", &mut f.schedule, hint);
        let saving = f.sent && matches!(state.people.save, Some(SaveState::Saving));
        ui.horizontal(|ui| {
            let ready = !f.name.trim().is_empty()
                && (!f.create || (!f.id.trim().is_empty() && !f.schedule.trim().is_empty()));
            if ui
                .add_enabled(ready && !saving, Button::new("Save cardholder"))
                .clicked()
            {
                f.sent = true;
                commands.send(Command::SaveCardholder {
                    id: f.id.trim().into(),
                    create: f.create,
                    name: f.name.trim().to_owned(),
                    department: f.department.trim().to_owned(),
                    schedule: f.schedule.trim().to_owned(),
                });
            }
            if ui.button("Cancel").clicked() {
                keep = false;
            }
        });
        if !f.create {
            badges_form_ui(ui, state, f, commands);
        }
        if !f.create
            && let Some(video) = video
        {
            photo_from_camera_ui(ui, state, f, commands, video);
        }
        if f.sent {
            match &state.people.save {
                Some(SaveState::Saving) => {
                    ui.label(RichText::new("saving…").color(theme::PENDING));
                }
                Some(SaveState::Failed(message)) => {
                    ui.label(RichText::new(format!("not saved: {message}")).color(theme::FAILED));
                }
                Some(SaveState::Saved(id)) if id.as_str() == f.id.trim() => keep = false,
                _ => {}
            }
        }
    });
    keep
}

/// The badges of the cardholder edited: each with its state and a remove
/// button (confirmed first); a badge number and state to add. Each change
/// sends the whole new list; a badge someone else holds is refused (409)
/// and said so.
fn badges_form_ui(ui: &mut Ui, state: &AppState, f: &mut CardholderForm, commands: &CommandSender) {
    let Some(c) = state
        .people
        .open
        .as_ref()
        .and_then(|o| o.cardholder.as_ref())
        .filter(|c| c.id.as_str() == f.id.trim())
    else {
        return;
    };
    ui.separator();
    ui.strong("Badges");
    let outcome = state
        .people
        .badges
        .as_ref()
        .filter(|o| f.badges_sent.as_deref() == Some(o.nonce.as_str()));
    let saving = f.badges_sent.is_some() && outcome.is_none();
    let current: Vec<Badge> = c
        .credentials
        .iter()
        .map(|b| Badge {
            id: b.id.clone(),
            state: b.state,
            valid_until: b.valid_until,
        })
        .collect();
    let send = |f: &mut CardholderForm, badges: Vec<Badge>| {
        let nonce = domain::new_idempotency_key();
        f.badges_sent = Some(nonce.clone());
        commands.send(Command::SetBadges {
            cardholder: c.id.clone(),
            badges,
            nonce,
        });
    };
    for badge in &c.credentials {
        ui.horizontal(|ui| {
            let word = match badge.state {
                CredentialState::Active => "active",
                CredentialState::Disabled => "disabled",
            };
            ui.label(RichText::new(format!("{} ({word})", badge.id)).monospace());
            if f.confirm_remove.as_ref() == Some(&badge.id) {
                ui.label(
                    RichText::new(format!("Remove badge {} from {}?", badge.id, c.name))
                        .color(theme::WARNING),
                );
                if ui
                    .add_enabled(!saving, Button::new("Yes, remove it"))
                    .clicked()
                {
                    let badges = current
                        .iter()
                        .filter(|b| b.id != badge.id)
                        .cloned()
                        .collect();
                    f.confirm_remove = None;
                    send(f, badges);
                }
                if ui.button("Keep it").clicked() {
                    f.confirm_remove = None;
                }
            } else if ui
                .add_enabled(!saving, Button::new(format!("Remove badge {}", badge.id)))
                .clicked()
            {
                f.confirm_remove = Some(badge.id.clone());
            }
        });
    }
    ui.horizontal(|ui| {
        let l = ui.label("New badge");
        ui.add(
            TextEdit::singleline(&mut f.new_badge)
                .hint_text("card number")
                .desired_width(120.0),
        )
        .labelled_by(l.id);
        let shown = if f.new_badge_disabled {
            "disabled"
        } else {
            "active"
        };
        let combo = egui::ComboBox::from_id_salt("new_badge_state")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut f.new_badge_disabled, false, "active");
                ui.selectable_value(&mut f.new_badge_disabled, true, "disabled");
            });
        combo.response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::accesskit::Role::ComboBox, true, "New badge state")
        });
        let number = f.new_badge.trim().to_owned();
        let known = current.iter().any(|b| b.id.as_str() == number);
        let add = ui.add_enabled(
            !number.is_empty() && !known && !saving,
            Button::new("Add badge"),
        );
        let add = if known {
            add.on_disabled_hover_text("this cardholder holds that badge already")
        } else {
            add
        };
        if add.clicked() {
            let mut badges = current.clone();
            badges.push(Badge {
                id: number.as_str().into(),
                state: if f.new_badge_disabled {
                    CredentialState::Disabled
                } else {
                    CredentialState::Active
                },
                valid_until: None,
            });
            f.new_badge.clear();
            send(f, badges);
        }
    });
    if saving {
        ui.label(RichText::new("saving badges…").color(theme::PENDING));
    }
    if let Some(refused) = outcome.and_then(|o| o.refused.as_ref()) {
        let text = if refused.conflict {
            format!(
                "Not saved: that badge belongs to someone else ({})",
                refused.message
            )
        } else {
            format!("Badges not saved: {}", refused.message)
        };
        ui.label(RichText::new(text).color(theme::FAILED));
    }
}

/// "Take photo from camera": a camera picked from the site's, its live
/// tile, and the button that sends the frame shown to the worker.
fn photo_from_camera_ui(
    ui: &mut Ui,
    state: &AppState,
    f: &mut CardholderForm,
    commands: &CommandSender,
    video: &mut VideoUi<'_>,
) {
    ui.separator();
    let cameras = state.site().cameras();
    if f.photo_camera
        .as_ref()
        .is_some_and(|id| state.site().camera(id).is_none())
    {
        f.photo_camera = None;
    }
    ui.horizontal(|ui| {
        ui.label("Take photo from camera");
        let shown = f
            .photo_camera
            .as_ref()
            .and_then(|id| state.site().camera(id))
            .map_or("pick a camera", |c| c.name.as_str());
        let combo = egui::ComboBox::from_id_salt("photo_camera")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                for camera in cameras {
                    ui.selectable_value(&mut f.photo_camera, Some(camera.id.clone()), &camera.name);
                }
            });
        combo.response.widget_info(|| {
            egui::WidgetInfo::labeled(
                egui::accesskit::Role::ComboBox,
                true,
                "Camera for the photo",
            )
        });
    });
    let Some(camera) = f
        .photo_camera
        .as_ref()
        .and_then(|id| state.site().camera(id))
    else {
        return;
    };
    let no_video = matches!(video.feed, VideoFeed::Unavailable(_));
    let key = format!("photo {}", camera.id);
    let (_, frame) = camera_tile_frame_ui(
        ui,
        vec2(PREVIEW_W, PREVIEW_W * 9.0 / 16.0),
        &key,
        camera,
        state,
        video,
    );
    let take = ui.add_enabled(frame.is_some(), Button::new("Take photo"));
    let take = if no_video {
        take.on_disabled_hover_text("no video in this window")
    } else {
        take.on_disabled_hover_text("no picture yet")
    }
    .on_hover_text("Crop the picture shown to a portrait and make it this cardholder's photo");
    if take.clicked()
        && let Some(frame) = frame
    {
        commands.send(Command::UploadCardholderPhoto {
            id: f.id.trim().into(),
            frame: SnapshotFrame {
                width: frame.width,
                height: frame.height,
                rgba: frame.rgba,
            },
        });
    }
}

fn search_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
    // One box per session: a new sign-in asks for everyone again.
    let session = state
        .runtime
        .session
        .as_ref()
        .map(|s| (s.username.clone(), s.expires));
    let id = ui.make_persistent_id(("cardholder_search", session));
    let mut search = ui.data(|d| d.get_temp::<SearchBox>(id)).unwrap_or_default();
    let now = ui.input(|i| i.time);
    let label = ui.label("Find a cardholder");
    let edit = ui
        .add(
            TextEdit::singleline(&mut search.text)
                .hint_text("name, department or badge")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    if edit.changed() {
        search.edited_at = Some(now);
    }
    let due = match search.edited_at {
        Some(at) => {
            let waited = now - at;
            if waited < SEARCH_DEBOUNCE_S {
                ui.ctx()
                    .request_repaint_after_secs((SEARCH_DEBOUNCE_S - waited) as f32);
                false
            } else {
                true
            }
        }
        None => !search.sent_once,
    };
    if due {
        commands.send(Command::SearchCardholders {
            q: search.text.trim().to_owned(),
        });
        search.edited_at = None;
        search.sent_once = true;
    }
    ui.data_mut(|d| d.insert_temp(id, search));
}

fn results_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
    let cardholders: &[Cardholder] = match &state.people.results {
        SearchResults::None => {
            ui.label(RichText::new("Searching…").color(theme::MUTED));
            return;
        }
        SearchResults::Failed { message, .. } => {
            ui.label(RichText::new(format!("The search failed: {message}")).color(theme::FAILED));
            return;
        }
        SearchResults::Found { cardholders, .. } => cardholders,
    };
    ui.label(RichText::new(format!("{} found", cardholders.len())).color(theme::MUTED));
    if cardholders.is_empty() {
        return;
    }
    let open = state.people.open.as_ref().map(|o| &o.id);
    ScrollArea::vertical()
        .id_salt("cardholder_results")
        .max_height(RESULTS_HEIGHT)
        .auto_shrink([false, true])
        .show_rows(ui, ROW_HEIGHT, cardholders.len(), |ui, rows| {
            for c in &cardholders[rows] {
                let badges = c
                    .credentials
                    .iter()
                    .map(|b| b.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let text = format!("{} · {} · {badges}", c.name, c.department);
                // Left-aligned: the text, then a growing gap to the edge.
                let row = ui.add(
                    Button::selectable(open == Some(&c.id), (text, egui::Atom::grow()))
                        .min_size(vec2(ui.available_width(), ROW_HEIGHT)),
                );
                if row.clicked() {
                    commands.send(Command::OpenCardholder(c.id.clone()));
                }
            }
        });
}

fn details_ui(ui: &mut Ui, state: &AppState, open: &OpenCardholder, commands: &CommandSender) {
    let Some(c) = &open.cardholder else {
        match &open.failed {
            Some(message) => ui.label(
                RichText::new(format!("Cannot read this cardholder: {message}"))
                    .color(theme::FAILED),
            ),
            None => ui.label(RichText::new("Loading…").color(theme::MUTED)),
        };
        return;
    };
    ui.horizontal(|ui| {
        photo_ui(ui, open);
        ui.vertical(|ui| {
            ui.heading(&c.name);
            ui.label(RichText::new(&c.department).color(theme::MUTED));
            if let Some(message) = &open.failed {
                ui.label(
                    RichText::new(format!("Could not read it again: {message}"))
                        .color(theme::FAILED),
                );
            }
        });
    });
    ui.add_space(6.0);
    ui.strong("Badges");
    if c.credentials.is_empty() {
        ui.label(RichText::new("No badges").color(theme::MUTED));
    }
    let blocked = manage_blocked(state);
    let tz = state.time_zone();
    for badge in &c.credentials {
        ui.horizontal(|ui| {
            let (word, color) = match badge.state {
                CredentialState::Active => ("active", theme::GRANTED),
                CredentialState::Disabled => ("disabled", theme::DENIED),
            };
            ui.label(RichText::new(format!("Badge {}", badge.id)).monospace());
            ui.label(RichText::new(word).color(color));
            if let Some(until) = badge.valid_until {
                ui.label(
                    RichText::new(format!("valid until {}", format::site_date_time(until, tz)))
                        .color(theme::MUTED),
                );
            }
            let change = state.people.change(&badge.id);
            let (verb, wanted) = match badge.state {
                CredentialState::Active => ("Disable", CredentialState::Disabled),
                CredentialState::Disabled => ("Enable", CredentialState::Active),
            };
            let pending = matches!(change, Some(CredentialChange::Pending(_)));
            let enabled = blocked.is_none() && !pending;
            let response =
                ui.add_enabled(enabled, Button::new(format!("{verb} badge {}", badge.id)));
            let response = match (&blocked, pending) {
                (Some(reason), _) => response.on_disabled_hover_text(reason.as_str()),
                (None, true) => response.on_disabled_hover_text("waiting for the site"),
                (None, false) => response,
            };
            if response.clicked() {
                commands.send(Command::SetCredential {
                    cardholder: c.id.clone(),
                    credential: badge.id.clone(),
                    state: wanted,
                });
            }
            match change {
                Some(CredentialChange::Pending(w)) => {
                    let what = match w {
                        CredentialState::Active => "enabling…",
                        CredentialState::Disabled => "disabling…",
                    };
                    ui.label(RichText::new(what).color(theme::PENDING));
                }
                Some(CredentialChange::Failed { message, .. }) => {
                    ui.label(RichText::new(format!("failed: {message}")).color(theme::FAILED));
                }
                None => {}
            }
        });
    }
    ui.add_space(6.0);
    ui.strong("Recent events");
    if !state
        .role()
        .is_some_and(|r| domain::allowed(r, Permission::SearchEvents))
    {
        ui.label(RichText::new("Your role may not search events").color(theme::MUTED));
        return;
    }
    match &open.events {
        None => {
            ui.label(RichText::new("Loading…").color(theme::MUTED));
        }
        Some(events) if events.is_empty() => {
            ui.label(RichText::new("No recent events").color(theme::MUTED));
        }
        Some(events) => {
            let site = state.site();
            for event in events {
                let (icon, color, title) = event_title(event, state);
                ui.horizontal(|ui| {
                    ui.label(RichText::new(format::site_time(event.time, tz)).monospace());
                    icon_ui(ui, icon, color);
                    ui.label(RichText::new(title).color(color));
                    if let Some(door) = event.kind.door() {
                        ui.label(RichText::new(site.door_name(door)).color(theme::MUTED));
                    }
                });
            }
        }
    }
}

/// The photo, uploaded as a texture once per picture; a frame while there
/// is none.
fn photo_ui(ui: &mut Ui, open: &OpenCardholder) {
    let texture = open
        .photo
        .as_ref()
        .and_then(|image| photo_texture(ui.ctx(), "cardholder_photo", image));
    match texture {
        Some(handle) => {
            let size = handle.size_vec2();
            let scale = (PHOTO / size.x.max(size.y)).min(1.0);
            ui.add(egui::Image::new(&handle).fit_to_exact_size(size * scale))
                .widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::Image, true, "cardholder photo")
                });
        }
        None => {
            let (slot, _) = ui.allocate_exact_size(vec2(PHOTO, PHOTO), Sense::hover());
            ui.painter().rect_stroke(
                slot,
                CornerRadius::same(4),
                Stroke::new(1.0, theme::PHOTO_FRAME),
                StrokeKind::Inside,
            );
        }
    }
}

#[derive(Clone)]
struct PhotoTexture {
    image: Arc<StillImage>,
    handle: TextureHandle,
}

/// A photo's texture under `key` (one per place it shows), uploaded again
/// only for another picture.
pub(super) fn photo_texture(
    ctx: &egui::Context,
    key: &str,
    image: &Arc<StillImage>,
) -> Option<TextureHandle> {
    let key = egui::Id::unique(("cardholder photo", key));
    if let Some(have) = ctx.data(|d| d.get_temp::<PhotoTexture>(key))
        && Arc::ptr_eq(&have.image, image)
    {
        return Some(have.handle);
    }
    if !image.is_consistent() {
        return None;
    }
    let size = [image.width as usize, image.height as usize];
    let pixels = ColorImage::from_rgba_unmultiplied(size, &image.rgba);
    let handle = ctx.load_texture("cardholder photo", pixels, TextureOptions::LINEAR);
    ctx.data_mut(|d| {
        d.insert_temp(
            key,
            PhotoTexture {
                image: image.clone(),
                handle: handle.clone(),
            },
        );
    });
    Some(handle)
}

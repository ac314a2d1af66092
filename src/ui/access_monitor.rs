//! The access monitor: a live feed of access events only (granted, denied,
//! requests and their outcome), newest first: time in the site's zone, the
//! cardholder's photo, the event in an operator's words, the door.
//! Virtualised: only the rows in sight are laid out, so ten thousand
//! entries cost what twenty do; only they ask for photos
//! (`Command::WantPhotos`, once a frame, for those the cache lacks). A
//! photo is uploaded as a texture once per person and picture version.
//! Clicking an event shows that door's cameras.

use std::collections::HashMap;

use egui::{
    Align2, ColorImage, CornerRadius, FontId, Rect, RichText, ScrollArea, Sense, Stroke,
    StrokeKind, TextureHandle, TextureOptions, Ui, vec2,
};

use super::events::{event_title, icon_ui};
use super::{format, theme};
use crate::domain::CardholderId;
use crate::viewer::photos::{THUMBS_LEN, Thumb, Thumbs};
use crate::viewer::{AppState, Command, CommandSender};

/// The height of one row, in points.
const ROW_HEIGHT: f32 = 24.0;
/// The side of the photo slot.
const PHOTO: f32 = 20.0;
/// The side of the photo in the slot's tooltip.
const PHOTO_LARGE: f32 = 64.0;

/// The photos' textures, by person: the picture version each was made
/// from. Kept in egui's memory between frames (taken out for the frame, so
/// no lock is held while a texture is made).
#[derive(Clone, Default)]
struct Textures(HashMap<CardholderId, (u64, TextureHandle)>);

/// The access monitor panel.
pub fn access_monitor_ui(ui: &mut Ui, state: &AppState, commands: &CommandSender) {
    let events = state.access_events();
    ui.horizontal(|ui| {
        ui.heading("Access monitor");
        ui.label(RichText::new(format!("{} events", events.len())).color(theme::MUTED));
    });
    if events.is_empty() {
        ui.label(RichText::new("No access events yet").color(theme::MUTED));
        return;
    }
    let tz = state.time_zone();
    let site = state.site();
    let may_play = crate::viewer::may_view_recordings(state.runtime.session.as_ref());
    let textures_id = egui::Id::unique("access monitor photos");
    let mut textures: Textures = ui
        .data_mut(|d| d.remove_temp(textures_id))
        .unwrap_or_default();
    let mut wanted: Vec<CardholderId> = Vec::new();
    ScrollArea::vertical()
        .id_salt("access_monitor")
        .auto_shrink([false, false])
        .show_rows(ui, ROW_HEIGHT, events.len(), |ui, rows| {
            for event in events.range(rows) {
                let (icon, color, title) = event_title(event, state);
                let door = event.kind.door();
                let door_name = door.map_or("", |d| site.door_name(d));
                let row = ui.horizontal(|ui| {
                    ui.set_height(ROW_HEIGHT);
                    ui.label(RichText::new(format::site_time(event.time, tz)).monospace());
                    let cardholder = event.kind.cardholder();
                    let name = cardholder.and_then(|c| site.cardholder_name(c));
                    photo_slot(
                        ui,
                        &state.people.thumbs,
                        &mut textures,
                        cardholder,
                        name,
                        &mut wanted,
                    );
                    icon_ui(ui, icon, color);
                    let title_rect = ui.label(RichText::new(&title).color(color)).rect;
                    if !door_name.is_empty() {
                        ui.label(RichText::new(door_name).color(theme::MUTED));
                    }
                    title_rect
                });
                let title_rect = row.inner;
                let Some(door) = door else { continue };
                let label = format!("access event {} at {door_name}", title);
                let click = ui
                    .interact(
                        row.response.rect,
                        ui.scope_id().with(("access_event", event.seq)),
                        Sense::click(),
                    )
                    .on_hover_text(format!("Show the cameras of {door_name}"));
                click.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
                // Play the door's cameras from a few seconds before it.
                let play = if may_play {
                    super::playback::row_play_ui(
                        ui,
                        row.response.rect,
                        ("play_event", event.seq),
                        Some(format!("play {title} at {door_name} from before")),
                    )
                } else {
                    super::playback::RowPlay {
                        rect: egui::Rect::NOTHING,
                        clicked: false,
                    }
                };
                if play.clicked {
                    commands.send(super::playback::play_before(door, event.time));
                }
                if may_play {
                    click.context_menu(|ui| {
                        if ui.button("Play 5 s before").clicked() {
                            commands.send(super::playback::play_before(door, event.time));
                            ui.close();
                        }
                    });
                }
                if click.clicked() && !play.clicked {
                    // The row's click where the button is drawn is the
                    // button's, whichever of the two egui gave it to.
                    let on_play = ui
                        .input(|i| i.pointer.interact_pos())
                        .is_some_and(|p| play.rect.contains(p));
                    if on_play {
                        commands.send(super::playback::play_before(door, event.time));
                    } else {
                        commands.send(Command::ShowDoorCameras(door.clone()));
                    }
                }
                // The words (with the name) open the cardholder; above the
                // row's own click, so they take it.
                if let Some(cardholder) = event.kind.cardholder()
                    && let Some(name) = site.cardholder_name(cardholder)
                    && title.ends_with(name)
                {
                    // Only the name at the end of the words.
                    let width = ui
                        .painter()
                        .layout_no_wrap(
                            name.to_owned(),
                            egui::TextStyle::Body.resolve(ui.style()),
                            color,
                        )
                        .size()
                        .x;
                    let mut name_rect = title_rect;
                    name_rect.min.x = (name_rect.max.x - width).max(name_rect.min.x);
                    let open = ui
                        .interact(
                            name_rect,
                            ui.scope_id().with(("access_event_name", event.seq)),
                            Sense::click(),
                        )
                        .on_hover_text(format!("Open the cardholder {name}"));
                    open.widget_info(|| {
                        egui::WidgetInfo::labeled(
                            egui::Role::Link,
                            true,
                            format!("open cardholder {name}"),
                        )
                    });
                    if open.clicked() {
                        commands.send(Command::OpenCardholder(cardholder.clone()));
                    }
                }
            }
        });
    if !wanted.is_empty() {
        commands.send(Command::WantPhotos(wanted));
    }
    // Textures of people the cache let go of go too.
    if textures.0.len() > THUMBS_LEN {
        let thumbs = &state.people.thumbs;
        textures
            .0
            .retain(|id, (version, _)| thumbs.version(id) == Some(*version));
    }
    ui.data_mut(|d| d.insert_temp(textures_id, textures));
}

/// The row's photo slot: the person's photo once it came; their initials
/// while it has not (or when there is none); a silhouette for an unknown
/// person. A photo the cache lacks joins `wanted` (once).
fn photo_slot(
    ui: &mut Ui,
    thumbs: &Thumbs,
    textures: &mut Textures,
    cardholder: Option<&CardholderId>,
    name: Option<&str>,
    wanted: &mut Vec<CardholderId>,
) {
    let (slot, response) = ui.allocate_exact_size(vec2(PHOTO, PHOTO), Sense::hover());
    let painter = ui.painter();
    let Some(id) = cardholder else {
        silhouette(painter, slot);
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, true, "no photo: unknown person")
        });
        return;
    };
    let shown = name.unwrap_or(id.as_str());
    let thumb = thumbs.get(id);
    let texture = match thumb {
        Thumb::Ready { image, version } => match textures.0.get(id) {
            Some((v, handle)) if v == version => Some(handle.clone()),
            _ if image.is_consistent() => {
                let size = [image.width as usize, image.height as usize];
                let pixels = ColorImage::from_rgba_unmultiplied(size, &image.rgba);
                let handle = ui.ctx().load_texture(
                    format!("photo {}", id.as_str()),
                    pixels,
                    TextureOptions::LINEAR,
                );
                textures.0.insert(id.clone(), (*version, handle.clone()));
                Some(handle)
            }
            _ => None,
        },
        _ => None,
    };
    let Some(texture) = texture else {
        if *thumb == Thumb::Wanted && !wanted.contains(id) {
            wanted.push(id.clone());
        }
        initials(painter, slot, shown);
        let label = match thumb {
            Thumb::Wanted | Thumb::Loading => "no photo yet",
            _ => "no photo",
        };
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, label));
        return;
    };
    let size = fit(texture.size_vec2(), PHOTO);
    egui::Image::new((texture.id(), size))
        .corner_radius(CornerRadius::same(3))
        .paint_at(ui, Rect::from_center_size(slot.center(), size));
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Image, true, format!("photo of {shown}"))
    });
    response.on_hover_ui(|ui| {
        ui.image((texture.id(), fit(texture.size_vec2(), PHOTO_LARGE)));
        ui.label(shown);
    });
}

/// `size` scaled to fit a square of `side`, keeping its shape.
fn fit(size: egui::Vec2, side: f32) -> egui::Vec2 {
    let longest = size.x.max(size.y).max(1.0);
    size * (side / longest)
}

/// An empty frame with the person's initials.
fn initials(painter: &egui::Painter, slot: Rect, name: &str) {
    painter.rect_stroke(
        slot,
        CornerRadius::same(3),
        Stroke::new(1.0, theme::PHOTO_FRAME),
        StrokeKind::Inside,
    );
    let letters: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    painter.text(
        slot.center(),
        Align2::CENTER_CENTER,
        letters,
        FontId::proportional(PHOTO * 0.45),
        theme::MUTED,
    );
}

/// A frame with a head and shoulders: someone the site does not know.
fn silhouette(painter: &egui::Painter, slot: Rect) {
    painter.rect_stroke(
        slot,
        CornerRadius::same(3),
        Stroke::new(1.0, theme::PHOTO_FRAME),
        StrokeKind::Inside,
    );
    let c = slot.center();
    let s = slot.width();
    painter.circle_filled(c - vec2(0.0, s * 0.14), s * 0.17, theme::PHOTO_FRAME);
    let shoulders = Rect::from_center_size(c + vec2(0.0, s * 0.3), vec2(s * 0.6, s * 0.3));
    painter.rect_filled(
        shoulders.intersect(slot.shrink(1.0)),
        CornerRadius {
            nw: 6,
            ne: 6,
            sw: 0,
            se: 0,
        },
        theme::PHOTO_FRAME,
    );
}

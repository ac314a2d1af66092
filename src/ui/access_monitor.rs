//! The access monitor: a live feed of access events only (granted, denied,
//! requests and their outcome), newest first: time in the site's zone, the
//! cardholder's photo slot, the event in an operator's words, the door.
//! Virtualised: only the rows in sight are laid out, so ten thousand
//! entries cost what twenty do. Clicking an event shows that door's
//! cameras.

use egui::{CornerRadius, RichText, ScrollArea, Sense, Stroke, StrokeKind, Ui, vec2};

use super::events::{event_title, icon_ui};
use super::{format, theme};
use crate::viewer::{AppState, Command, CommandSender};

/// The height of one row, in points.
const ROW_HEIGHT: f32 = 24.0;
/// The side of the photo slot.
const PHOTO: f32 = 20.0;

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
                    // Room for the cardholder's photo: the client has none
                    // yet; the frame keeps the columns where they will be.
                    let (slot, _) = ui.allocate_exact_size(vec2(PHOTO, PHOTO), Sense::hover());
                    ui.painter().rect_stroke(
                        slot,
                        CornerRadius::same(3),
                        Stroke::new(1.0, theme::PHOTO_FRAME),
                        StrokeKind::Inside,
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
                if click.clicked() {
                    commands.send(Command::ShowDoorCameras(door.clone()));
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
}

//! Access requests pop in front of the workspace: a window of its own above
//! every panel (never in the layout, so nothing under the operator's pointer
//! moves when one arrives or leaves), the requests stacked oldest first.
//! Alt+G grants and Alt+D denies the oldest one. Each request shows the
//! card of the person at the door (photo, name, department, the presented
//! badge's state, their last few events), read by the worker when the
//! request pops and cached in the viewer, or "unknown person".

use std::collections::HashSet;

use egui::{
    Align2, Context, Key, KeyboardShortcut, Modifiers, Order, RichText, ScrollArea, Sense, Stroke,
    StrokeKind, Ui, UiBuilder, Window, vec2,
};

use super::cameras::VideoUi;
use super::events::{event_title, icon_ui};
use super::{format, requests, theme};
use crate::domain::{self, AccessRequest, CardholderId, CredentialState, Permission};
use crate::viewer::{AppState, CardholderCard, Command, CommandSender};

/// The side of the photo on a request's card, in points.
const CARD_PHOTO: f32 = 64.0;

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
            // As tall as the window allows (room for the top and status
            // bars and the hint below); more requests scroll.
            let room = (ctx.content_rect().height() - 140.0).max(240.0);
            ScrollArea::vertical().max_height(room).show(ui, |ui| {
                requests::requests_ui(ui, state, commands, video);
                requests::resolved_ui(ui, state);
            });
            ui.label(
                RichText::new("Alt+G grants, Alt+D denies the oldest request").color(theme::MUTED),
            );
        });
}

/// The accessible name of a request's card: `card of ID`.
pub fn card_label(request: &AccessRequest) -> String {
    format!("card of {}", request.id)
}

/// The card of the person at the request's door: photo, name, department,
/// the presented badge's state and their last few events; nothing when no
/// cardholder is known (the row says "unknown person", or the visitor's name).
/// The card is asked of the worker once per person (and again after the
/// person changed at the site).
pub fn cardholder_card_ui(
    ui: &mut Ui,
    state: &AppState,
    request: &AccessRequest,
    commands: &CommandSender,
) {
    let builder = UiBuilder::new()
        .id_salt(("card", request.id.as_str()))
        .accessibility_label(card_label(request));
    ui.scope_builder(builder, |ui| {
        // No cardholder: the row already says "unknown person" (or the
        // visitor's own name).
        let Some(id) = &request.cardholder else {
            return;
        };
        if !state
            .role()
            .is_some_and(|r| domain::allowed(r, Permission::ViewCardholders))
        {
            return;
        }
        match state.people.card(id) {
            None => {
                ask_for_card(ui, state, id, commands);
                ui.label(RichText::new("Reading the card…").color(theme::MUTED));
            }
            Some(card) => card_ui(ui, state, request, card),
        }
    });
}

/// Sends `LoadCardholderCard` once per person and cards epoch (egui's
/// memory), so a card that cannot be read is not asked for every frame.
fn ask_for_card(ui: &Ui, state: &AppState, id: &CardholderId, commands: &CommandSender) {
    let asked_id = egui::Id::unique("cards asked");
    let key = (id.clone(), state.people.cards_epoch);
    let mut asked: HashSet<(CardholderId, u64)> =
        ui.data_mut(|d| d.get_temp(asked_id).unwrap_or_default());
    if asked.insert(key) {
        commands.send(Command::LoadCardholderCard(id.clone()));
        ui.data_mut(|d| d.insert_temp(asked_id, asked));
    }
}

fn card_ui(ui: &mut Ui, state: &AppState, request: &AccessRequest, card: &CardholderCard) {
    let Some(c) = &card.cardholder else {
        let why = card.failed.as_deref().unwrap_or("unknown");
        ui.label(RichText::new(format!("Cannot read the card: {why}")).color(theme::FAILED));
        return;
    };
    ui.horizontal(|ui| {
        let texture = card
            .photo
            .as_ref()
            .and_then(|p| super::cardholders::photo_texture(ui.ctx(), c.id.as_str(), p));
        match texture {
            Some(handle) => {
                let size = handle.size_vec2();
                let scale = (CARD_PHOTO / size.x.max(size.y)).min(1.0);
                ui.add(egui::Image::new(&handle).fit_to_exact_size(size * scale))
                    .widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Image, true, "cardholder photo")
                    });
            }
            None => {
                let (slot, _) =
                    ui.allocate_exact_size(vec2(CARD_PHOTO, CARD_PHOTO), Sense::hover());
                ui.painter().rect_stroke(
                    slot,
                    4.0,
                    Stroke::new(1.0, theme::PHOTO_FRAME),
                    StrokeKind::Inside,
                );
            }
        }
        ui.vertical(|ui| {
            ui.label(RichText::new(&c.name).strong());
            if !c.department.is_empty() {
                ui.label(RichText::new(&c.department).color(theme::MUTED));
            }
            if let Some(badge) = &request.credential {
                let (text, color) = match c.credentials.iter().find(|b| &b.id == badge) {
                    Some(b) => match b.state {
                        CredentialState::Active => {
                            (format!("Badge {badge}: active"), theme::GRANTED)
                        }
                        CredentialState::Disabled => {
                            (format!("Badge {badge}: disabled"), theme::DENIED)
                        }
                    },
                    None => (
                        format!("Badge {badge}: not this person's any more"),
                        theme::WARNING,
                    ),
                };
                ui.label(RichText::new(text).color(color));
            }
            let tz = state.time_zone();
            match &card.events {
                None => {}
                Some(events) if events.is_empty() => {
                    ui.label(RichText::new("No recent events").color(theme::MUTED));
                }
                Some(events) => {
                    for event in events.iter().take(crate::viewer::CARD_EVENTS_LEN as usize) {
                        let (icon, color, title) = event_title(event, state);
                        ui.horizontal(|ui| {
                            ui.label(
                                RichText::new(format::site_time(event.time, tz))
                                    .monospace()
                                    .color(theme::MUTED),
                            );
                            icon_ui(ui, icon, color);
                            ui.label(RichText::new(title).color(color));
                            if let Some(door) = event.kind.door() {
                                ui.label(
                                    RichText::new(state.site().door_name(door)).color(theme::MUTED),
                                );
                            }
                        });
                    }
                }
            }
        });
    });
}

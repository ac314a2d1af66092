//! Design tokens: every colour the UI uses comes from here, and the small
//! widgets that carry them (state chips, badges).

use egui::{Color32, CornerRadius, Frame, Margin, RichText, Stroke, Ui};

use crate::domain::DoorState;
use crate::viewer::CommandPhase;

/// Access granted (a badge or an answered request).
pub const GRANTED: Color32 = LOCKED;
/// Access denied.
pub const DENIED: Color32 = ALARM;
/// An access request waiting for an operator.
pub const REQUEST: Color32 = UNLOCKED;
/// Something the operator should look at, short of an alarm (e.g. the
/// clock offset to the site).
pub const WARNING: Color32 = Color32::from_rgb(0xf5, 0x9e, 0x0b);
/// The empty frame where a cardholder's photo goes.
pub const PHOTO_FRAME: Color32 = CARD_STROKE;
/// Door locked (or locked down): safe.
pub const LOCKED: Color32 = Color32::from_rgb(0x2e, 0x9e, 0x5b);
/// Door unlocked or momentarily accessed: attention.
pub const UNLOCKED: Color32 = Color32::from_rgb(0xe0, 0xa1, 0x1b);
/// Door leaf open (legitimately).
pub const OPEN: Color32 = Color32::from_rgb(0x3b, 0x82, 0xf6);
/// Forced or held open: alarm.
pub const ALARM: Color32 = Color32::from_rgb(0xdc, 0x2f, 0x2f);
/// State not known.
pub const UNKNOWN: Color32 = Color32::from_rgb(0x8a, 0x8f, 0x98);
/// Text on a coloured fill.
pub const ON_FILL: Color32 = Color32::from_rgb(0x10, 0x12, 0x16);
/// Text on the alarm fill and the banners.
pub const ON_ALARM: Color32 = Color32::WHITE;
/// Secondary text.
pub const MUTED: Color32 = Color32::from_rgb(0x9a, 0xa0, 0xa8);
/// A command waiting for the site or the door.
pub const PENDING: Color32 = Color32::from_rgb(0xc8, 0xb4, 0x5a);
/// A command the door confirmed.
pub const CONFIRMED: Color32 = LOCKED;
/// A command that failed.
pub const FAILED: Color32 = ALARM;
/// The DEMO SITE marker.
pub const DEMO: Color32 = Color32::from_rgb(0x8b, 0x5c, 0xf6);
/// The link-lost banner.
pub const BANNER: Color32 = Color32::from_rgb(0xb4, 0x23, 0x18);
/// Link up.
pub const LINK_UP: Color32 = LOCKED;
/// Link down.
pub const LINK_DOWN: Color32 = ALARM;
/// Outline of a door or request card (outlined, not filled: a fill costs
/// a third more per frame under software rendering).
pub const CARD_STROKE: Color32 = Color32::from_rgb(0x3a, 0x3f, 0x47);
/// Info notice.
pub const INFO: Color32 = OPEN;
/// Behind a video picture (letterbox bars, a tile without a picture).
pub const TILE_BG: Color32 = Color32::BLACK;
/// A grid cell with no camera in it.
pub const TILE_EMPTY: Color32 = Color32::from_rgb(0x16, 0x18, 0x1c);
/// The outline of the tile under the pointer.
pub const TILE_HOVER: Color32 = Color32::from_rgb(0x6b, 0x72, 0x80);
/// Behind text drawn over video, so it reads on any picture.
pub const OVERLAY_BG: Color32 = Color32::from_black_alpha(170);
/// Text drawn over video.
pub const OVERLAY_TEXT: Color32 = Color32::WHITE;
/// The marker of a picture whose capture time is late.
pub const VIDEO_LATE: Color32 = ALARM;
/// A tile's error text.
pub const VIDEO_ERROR: Color32 = Color32::from_rgb(0xff, 0x8a, 0x80);

/// Sets the look once at start-up: dark, for a control room.
pub fn install(ctx: &egui::Context) {
    ctx.set_theme(egui::ThemePreference::Dark);
}

/// The colour the window is cleared to before each frame: the panels'
/// colour, so the panels need not be filled again.
pub fn clear_color(visuals: &egui::Visuals) -> [f32; 4] {
    visuals.panel_fill.to_normalized_gamma_f32()
}

/// The colour of a door state.
pub fn door_state_color(state: DoorState) -> Color32 {
    match state {
        DoorState::Locked | DoorState::LockedDown => LOCKED,
        DoorState::Unlocked | DoorState::Accessed => UNLOCKED,
        DoorState::Open => OPEN,
        DoorState::Forced | DoorState::HeldOpen => ALARM,
        DoorState::Unknown => UNKNOWN,
    }
}

/// The colour of a command's phase.
pub fn command_phase_color(phase: &CommandPhase) -> Color32 {
    match phase {
        CommandPhase::Sending | CommandPhase::Pending => PENDING,
        CommandPhase::Confirmed => CONFIRMED,
        CommandPhase::Failed(_) => FAILED,
    }
}

/// A filled chip with the door's state word. An unknown state is not
/// filled but outlined with dashes, so it never reads as a colour of a
/// known state.
pub fn door_state_chip_ui(ui: &mut Ui, state: DoorState) -> egui::Response {
    let color = door_state_color(state);
    let unknown = state == DoorState::Unknown;
    let text_color = match state {
        DoorState::Forced | DoorState::HeldOpen => ON_ALARM,
        DoorState::Unknown => UNKNOWN,
        _ => ON_FILL,
    };
    let frame = Frame::new()
        .fill(if unknown { Color32::TRANSPARENT } else { color })
        .corner_radius(CornerRadius::same(4))
        .inner_margin(Margin::symmetric(8, 2));
    let response = frame
        .show(ui, |ui| {
            ui.label(RichText::new(state.label()).color(text_color).strong())
        })
        .response;
    if unknown {
        let r = response.rect.shrink(0.5);
        let outline = [
            r.left_top(),
            r.right_top(),
            r.right_bottom(),
            r.left_bottom(),
            r.left_top(),
        ];
        ui.painter().extend(egui::Shape::dashed_line(
            &outline,
            Stroke::new(1.5, UNKNOWN),
            4.0,
            3.0,
        ));
    }
    response
}

/// A small filled badge, e.g. DEMO SITE.
pub fn badge_ui(ui: &mut Ui, text: &str, fill: Color32, text_color: Color32) -> egui::Response {
    Frame::new()
        .fill(fill)
        .corner_radius(CornerRadius::same(3))
        .inner_margin(Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(text).color(text_color).strong())
        })
        .response
}

/// A small filled dot, e.g. the link state.
pub fn status_dot_ui(ui: &mut Ui, color: Color32) {
    let size = egui::vec2(10.0, 10.0);
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 4.0, color);
}

// ---- the floor map --------------------------------------------------------

/// Behind the plan, where the panel shows no plan.
pub const MAP_BG: Color32 = Color32::from_rgb(0x12, 0x14, 0x18);
/// The plan's outline while its picture loads (or when it has none).
pub const MAP_PLAN_OUTLINE: Color32 = CARD_STROKE;
/// A camera icon.
pub const MAP_CAMERA: Color32 = Color32::from_rgb(0x5e, 0xc4, 0xd6);
/// A camera's field of view: see-through, so the plan reads under it.
pub const MAP_FOV: Color32 = Color32::from_rgba_premultiplied(0x17, 0x31, 0x36, 0x40);
/// The edge of a camera's field of view.
pub const MAP_FOV_EDGE: Color32 = Color32::from_rgba_premultiplied(0x2f, 0x62, 0x6b, 0x80);
/// The ring around a map icon, so it stands out on any plan.
pub const MAP_ICON_RING: Color32 = Color32::from_rgb(0x10, 0x12, 0x16);
/// The "off" half of a flashing alarm door.
pub const MAP_ALARM_DIM: Color32 = Color32::from_rgb(0x5a, 0x16, 0x16);
/// A name beside a map icon.
pub const MAP_LABEL: Color32 = Color32::from_rgb(0xe6, 0xe8, 0xeb);
/// Behind a name beside a map icon.
pub const MAP_LABEL_BG: Color32 = OVERLAY_BG;

/// How much larger everything is drawn with the larger-text setting on.
pub const LARGE_TEXT_ZOOM: f32 = 1.4;

/// The zoom factor for the larger-text setting.
pub fn zoom_factor(large_text: bool) -> f32 {
    if large_text { LARGE_TEXT_ZOOM } else { 1.0 }
}

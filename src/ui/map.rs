//! The floor map: the site's plans with pan (drag) and zoom (scroll or
//! pinch, at the pointer), fitted on open, a floor switcher, door icons
//! coloured by the state the doors panel reads (forced and held-open doors
//! flash; an unknown state is a grey ring, never a colour of a known one),
//! cameras with their field of view. A door's tooltip says its state; a
//! click opens its menu (lock, unlock, access, its cameras). A camera's
//! click shows it in the video view.
//!
//! Edit mode (a role with `EditMaps`): doors and cameras drag to new places
//! (clamped to the plan), a camera turns by the handle at the end of its
//! field of view, what no floor has is dragged on from a list above the plan;
//! Save sends the whole list to the site, Cancel drops it. The edit lives in
//! `viewer::map::MapEdit`.

use std::sync::Arc;
use std::time::Duration;

use egui::{
    Align2, Color32, ColorImage, FontId, Id, Popup, Pos2, Rect, Sense, Shape, Stroke,
    TextureHandle, TextureOptions, Ui, Vec2, WidgetInfo, pos2, vec2,
};

use super::theme;
use crate::domain::{DoorAction, DoorId, DoorState, FloorMap, Permission, Placement};
use crate::viewer::map::{DEFAULT_FOV_DEG, MapEdit, MapTransform, Placed, Viewport, fov_wedge};
use crate::viewer::{
    AppState, Command, CommandSender, DoorView, MapView, PlacementList, StillImage,
};

/// The door commands of a door's menu, in order.
const DOOR_ACTIONS: [(DoorAction, &str); 3] = [
    (DoorAction::Lock, "Lock"),
    (DoorAction::Unlock, "Unlock"),
    (DoorAction::Access, "Access"),
];
/// A door icon's radius, in screen points (the same at every zoom).
const DOOR_RADIUS: f32 = 9.0;
/// A camera icon's half size, in screen points.
const CAMERA_HALF: Vec2 = vec2(8.0, 6.0);
/// How far a field of view reaches, in plan pixels.
const FOV_REACH_PLAN_PX: f32 = 140.0;
/// The radius of a camera's turn handle, in screen points.
const HANDLE_RADIUS: f32 = 5.0;
/// A flashing door's half period.
const FLASH_MS: u64 = 500;

/// The accessible name of a door's icon on the map: `map door NAME: STATE`.
pub fn map_door_label(name: &str, state: DoorState) -> String {
    format!("map door {name}: {}", state.label())
}

/// The accessible name of a camera's icon on the map.
pub fn map_camera_label(name: &str) -> String {
    format!("map camera {name}")
}

/// The map panel.
pub fn map_ui(ui: &mut Ui, state: &AppState, view: &mut MapView, commands: &CommandSender) {
    let site = state.site();
    let Some(first) = site.maps().first() else {
        ui.label("This site has no floor plans.");
        return;
    };
    let mut floor = view
        .floor
        .as_ref()
        .and_then(|id| site.map(id))
        .unwrap_or(first);
    // An edit stays on its floor until it is saved or cancelled.
    if let Some(m) = view.edit.as_ref().and_then(|e| site.map(&e.map)) {
        floor = m;
    } else {
        view.edit = None;
    }
    if let (Some(edit), Some(saved)) = (view.edit.as_mut(), &state.runtime.map_saved)
        && edit.finish_save(saved)
    {
        view.edit = None;
    }
    ui.horizontal(|ui| {
        let editing = view.edit.is_some();
        for m in site.maps() {
            let response = ui.add_enabled(
                !editing || m.id == floor.id,
                egui::Button::selectable(m.id == floor.id, &m.name),
            );
            let response =
                response.on_disabled_hover_text("Save or cancel the edit of this floor first");
            if response.clicked() && m.id != floor.id {
                view.select_floor(m.id.clone());
                floor = m;
            }
        }
        ui.separator();
        if ui
            .button("Fit")
            .on_hover_text("Show the whole plan")
            .clicked()
        {
            view.fit();
        }
        ui.separator();
        edit_bar_ui(ui, state, view, floor, commands);
    });
    if view.floor.as_ref() != Some(&floor.id) {
        // Opened (or the floor went away): the site's first, fitted.
        view.select_floor(floor.id.clone());
    }

    if let Some(edit) = &view.edit {
        unplaced_ui(ui, state, edit);
    }
    let (rect, canvas) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
    let viewport = Viewport {
        min: [rect.min.x, rect.min.y],
        size: [rect.width(), rect.height()],
    };
    let plan = [floor.width as f32, floor.height as f32];
    if canvas.dragged() {
        let d = canvas.drag_delta();
        view.pan(&viewport, plan, [d.x, d.y]);
    }
    if canvas.hovered()
        && let Some(at) = canvas.hover_pos()
    {
        let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = pinch * (scroll / 200.0).exp();
        if factor != 1.0 {
            view.zoom_at(&viewport, plan, [at.x, at.y], factor);
        }
    }
    let t = view.transform(&viewport, plan);
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, theme::MAP_BG);
    let plan_rect = Rect::from_min_max(
        pos(t.screen_from_plan([0.0, 0.0])),
        pos(t.screen_from_plan(plan)),
    );
    match site.map_image(&floor.id).and_then(|image| {
        let key = ui.make_persistent_id(("map plan texture", floor.id.as_str()));
        plan_texture(ui.ctx(), key, floor, image)
    }) {
        Some(texture) => {
            let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
            painter.image(texture.id(), plan_rect, uv, Color32::WHITE);
        }
        None => {
            painter.rect_stroke(
                plan_rect,
                0.0,
                Stroke::new(1.0, theme::MAP_PLAN_OUTLINE),
                egui::StrokeKind::Inside,
            );
        }
    }

    if let Some(edit) = view.edit.as_mut() {
        if let Some(dropped) = canvas.dnd_release_payload::<(Placed, String)>()
            && let Some(at) = ui.ctx().pointer_interact_pos()
        {
            let (kind, id) = &*dropped;
            edit.place(*kind, id, t.plan_from_screen([at.x, at.y]));
        }
        edit_placements_ui(ui, state, edit, &t);
        return;
    }
    for p in &floor.cameras {
        camera_ui(ui, state, floor, p, &t, commands);
    }
    let mut flashing = false;
    for p in &floor.doors {
        let Some(door) = site.door(&DoorId::new(&p.id)) else {
            continue;
        };
        flashing |= door_ui(ui, state, floor, door, p, &t, commands);
    }
    if flashing {
        ui.ctx()
            .request_repaint_after(Duration::from_millis(FLASH_MS));
    }
}

/// Edit, Save, Cancel and how the save goes. Edit shows for a role with
/// `EditMaps`; for the others it is disabled with the reason.
fn edit_bar_ui(
    ui: &mut Ui,
    state: &AppState,
    view: &mut MapView,
    floor: &FloorMap,
    commands: &CommandSender,
) {
    let Some(edit) = view.edit.as_mut() else {
        let may = state
            .role()
            .is_some_and(|r| crate::domain::allowed(r, Permission::EditMaps));
        let response = ui.add_enabled(may, egui::Button::new("Edit"));
        let response = match state.role() {
            Some(role) if !may => response.on_disabled_hover_text(format!(
                "The {role} role may not {}",
                Permission::EditMaps.label()
            )),
            None => response.on_disabled_hover_text("Sign in to edit floor maps"),
            Some(_) => response.on_hover_text("Place doors and cameras on this floor by dragging"),
        };
        if response.clicked() {
            view.edit = Some(MapEdit::start(floor));
        }
        return;
    };
    let saving = edit.saving.is_some();
    let save = ui
        .add_enabled(edit.dirty && !saving, egui::Button::new("Save"))
        .on_hover_text("Send these placements to the site")
        .on_disabled_hover_text(if saving {
            "Saving…"
        } else {
            "Nothing has moved yet"
        });
    if save.clicked() {
        let n = edit.begin_save();
        commands.send(Command::SaveMapPlacements {
            map: edit.map.clone(),
            placements: PlacementList(edit.body()),
            save: n,
        });
    }
    let cancel = ui
        .add_enabled(!saving, egui::Button::new("Cancel"))
        .on_hover_text("Drop these edits");
    if saving {
        ui.label(egui::RichText::new("Saving…").color(theme::PENDING));
    } else if let Some(error) = &edit.error {
        ui.label(egui::RichText::new(format!("Not saved: {error}")).color(theme::FAILED));
    } else if edit.dirty {
        ui.label(egui::RichText::new("Edited, not saved").color(theme::MUTED));
    } else {
        ui.label(egui::RichText::new("Drag doors and cameras").color(theme::MUTED));
    }
    if cancel.clicked() {
        view.edit = None;
    }
}

/// The site's doors and cameras on no floor: dragged from here onto the plan.
fn unplaced_ui(ui: &mut Ui, state: &AppState, edit: &MapEdit) {
    let site = state.site();
    let doors = edit.unplaced(
        Placed::Door,
        site.doors().iter().map(|d| d.door.id.as_str()),
        site.maps(),
    );
    let cameras = edit.unplaced(
        Placed::Camera,
        site.cameras().iter().map(|c| c.id.as_str()),
        site.maps(),
    );
    ui.horizontal_wrapped(|ui| {
        if doors.is_empty() && cameras.is_empty() {
            ui.label(
                egui::RichText::new("Every door and camera is on a floor").color(theme::MUTED),
            );
            return;
        }
        ui.label("Not on any floor (drag onto the plan):");
        for (kind, id) in doors
            .into_iter()
            .map(|d| (Placed::Door, d))
            .chain(cameras.into_iter().map(|c| (Placed::Camera, c)))
        {
            let name = match kind {
                Placed::Door => site.door_name(&DoorId::new(id)).to_owned(),
                Placed::Camera => site
                    .camera(&id.into())
                    .map_or(id.to_owned(), |c| c.name.clone()),
            };
            let what = if kind == Placed::Door {
                "door"
            } else {
                "camera"
            };
            let drag_id = ui.make_persistent_id(("map unplaced", id, what));
            ui.dnd_drag_source(drag_id, (kind, id.to_owned()), |ui| {
                ui.add(egui::Button::new(format!("{what} {name}")).sense(Sense::hover()))
            });
        }
    });
}

/// The edit's placements: icons that drag, and a handle at the end of each
/// camera's field of view that turns it.
fn edit_placements_ui(ui: &mut Ui, state: &AppState, edit: &mut MapEdit, t: &MapTransform) {
    let painter = ui.painter_at(ui.clip_rect());
    let site = state.site();
    let cameras: Vec<Placement> = edit.cameras.clone();
    for p in &cameras {
        let name = site
            .camera(&p.id.as_str().into())
            .map_or(p.id.clone(), |c| c.name.clone());
        let at = t.screen_from_plan([p.x, p.y]);
        let direction = p.direction_deg.unwrap_or(0.0);
        let fov = p.fov_deg.unwrap_or(DEFAULT_FOV_DEG);
        let stroke = Stroke::new(1.0, theme::MAP_FOV_EDGE);
        if fov < 180.0 {
            let wedge = fov_wedge([p.x, p.y], direction, fov, FOV_REACH_PLAN_PX)
                .into_iter()
                .map(|q| pos(t.screen_from_plan(q)))
                .collect();
            painter.add(Shape::convex_polygon(wedge, theme::MAP_FOV, stroke));
        } else {
            painter.circle(pos(at), FOV_REACH_PLAN_PX * t.scale, theme::MAP_FOV, stroke);
        }
        // The turn handle, where the view's middle ends.
        let a = direction.to_radians();
        let tip = [
            p.x + FOV_REACH_PLAN_PX * a.sin(),
            p.y - FOV_REACH_PLAN_PX * a.cos(),
        ];
        let tip_screen = pos(t.screen_from_plan(tip));
        let handle_id = ui.make_persistent_id(("map turn", edit.map.as_str(), p.id.as_str()));
        let handle = ui.interact(
            Rect::from_center_size(tip_screen, Vec2::splat(HANDLE_RADIUS * 2.0)),
            handle_id,
            Sense::drag(),
        );
        handle.widget_info(|| {
            WidgetInfo::labeled(egui::Role::Button, true, format!("turn camera {name}"))
        });
        painter.circle(
            tip_screen,
            HANDLE_RADIUS,
            theme::MAP_CAMERA,
            Stroke::new(1.5, theme::MAP_ICON_RING),
        );
        // Towards the pointer itself: the handle moves as the camera turns.
        if handle.dragged()
            && let Some(to) = handle.interact_pointer_pos()
        {
            edit.turn_towards(&p.id, t.plan_from_screen([to.x, to.y]));
        }
        let icon = Rect::from_center_size(pos(at), CAMERA_HALF * 2.0);
        let id = ui.make_persistent_id(("map camera", edit.map.as_str(), p.id.as_str()));
        let response = ui.interact(icon, id, Sense::drag());
        response
            .widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, map_camera_label(&name)));
        painter.rect(
            icon,
            2.0,
            theme::MAP_CAMERA,
            Stroke::new(1.5, theme::MAP_ICON_RING),
            egui::StrokeKind::Outside,
        );
        if response.dragged() {
            let to = pos(at) + response.drag_delta();
            edit.move_to(Placed::Camera, &p.id, t.plan_from_screen([to.x, to.y]));
        }
    }
    let doors: Vec<Placement> = edit.doors.clone();
    for p in &doors {
        let at = pos(t.screen_from_plan([p.x, p.y]));
        let (name, door_state) = match site.door(&DoorId::new(&p.id)) {
            Some(d) => (d.door.name.clone(), state.door_state(d)),
            None => (p.id.clone(), DoorState::Unknown),
        };
        let id = ui.make_persistent_id(("map door", edit.map.as_str(), p.id.as_str()));
        let icon = Rect::from_center_size(at, Vec2::splat(DOOR_RADIUS * 2.0));
        let response = ui.interact(icon, id, Sense::drag());
        let label = map_door_label(&name, door_state);
        response.widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, &label));
        let fill = if door_state == DoorState::Unknown {
            theme::UNKNOWN
        } else {
            theme::door_state_color(door_state)
        };
        painter.circle(
            at,
            DOOR_RADIUS,
            fill,
            Stroke::new(2.0, theme::MAP_ICON_RING),
        );
        let galley = painter.layout_no_wrap(name, FontId::proportional(11.0), theme::MAP_LABEL);
        let text_rect = door_label_rect(ui, at, galley.size());
        painter.rect_filled(text_rect.expand(2.0), 2.0, theme::MAP_LABEL_BG);
        painter.galley(text_rect.min, galley, theme::MAP_LABEL);
        if response.dragged() {
            let to = at + response.drag_delta();
            edit.move_to(Placed::Door, &p.id, t.plan_from_screen([to.x, to.y]));
        }
    }
}

/// Where a door's name goes: right of its icon, or left of it where the
/// panel ends.
fn door_label_rect(ui: &Ui, at: Pos2, size: Vec2) -> Rect {
    let right = Align2::LEFT_CENTER.anchor_size(at + vec2(DOOR_RADIUS + 4.0, 0.0), size);
    if right.right() > ui.clip_rect().right() {
        Align2::RIGHT_CENTER.anchor_size(at - vec2(DOOR_RADIUS + 4.0, 0.0), size)
    } else {
        right
    }
}

fn pos(p: [f32; 2]) -> Pos2 {
    pos2(p[0], p[1])
}

/// A camera's field of view, its icon and its click.
fn camera_ui(
    ui: &mut Ui,
    state: &AppState,
    floor: &FloorMap,
    p: &Placement,
    t: &MapTransform,
    commands: &CommandSender,
) {
    let painter = ui.painter_at(ui.clip_rect());
    let at = t.screen_from_plan([p.x, p.y]);
    if let Some(direction) = p.direction_deg {
        let fov = p.fov_deg.unwrap_or(DEFAULT_FOV_DEG);
        let stroke = Stroke::new(1.0, theme::MAP_FOV_EDGE);
        if fov < 180.0 {
            let wedge = fov_wedge([p.x, p.y], direction, fov, FOV_REACH_PLAN_PX)
                .into_iter()
                .map(|q| pos(t.screen_from_plan(q)))
                .collect();
            painter.add(Shape::convex_polygon(wedge, theme::MAP_FOV, stroke));
        } else {
            // Wider than a half circle: not convex; a disc reads the same.
            painter.circle(pos(at), FOV_REACH_PLAN_PX * t.scale, theme::MAP_FOV, stroke);
        }
    }
    let icon = Rect::from_center_size(pos(at), CAMERA_HALF * 2.0);
    let name = state
        .site()
        .camera(&p.id.as_str().into())
        .map_or(p.id.as_str(), |c| c.name.as_str());
    let id = ui.make_persistent_id(("map camera", floor.id.as_str(), p.id.as_str()));
    let response = ui.interact(icon, id, Sense::click());
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, map_camera_label(name)));
    painter.rect(
        icon,
        2.0,
        theme::MAP_CAMERA,
        Stroke::new(1.5, theme::MAP_ICON_RING),
        egui::StrokeKind::Outside,
    );
    let response = response.on_hover_text(format!("{name}: click to show it in the view"));
    if response.clicked() {
        commands.send(Command::ShowCamera {
            camera: p.id.as_str().into(),
        });
    }
}

/// A door's icon, tooltip and menu. True when it flashes.
fn door_ui(
    ui: &mut Ui,
    state: &AppState,
    floor: &FloorMap,
    door: &DoorView,
    p: &Placement,
    t: &MapTransform,
    commands: &CommandSender,
) -> bool {
    let door_state = state.door_state(door);
    let at = pos(t.screen_from_plan([p.x, p.y]));
    let id = ui.make_persistent_id(("map door", floor.id.as_str(), p.id.as_str()));
    let icon = Rect::from_center_size(at, Vec2::splat(DOOR_RADIUS * 2.0));
    let response = ui.interact(icon, id, Sense::click());
    let label = map_door_label(&door.door.name, door_state);
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, &label));

    let flashes = matches!(door_state, DoorState::Forced | DoorState::HeldOpen);
    let painter = ui.painter_at(ui.clip_rect());
    let ring = Stroke::new(2.0, theme::MAP_ICON_RING);
    if door_state == DoorState::Unknown {
        // Not a colour of any known state: a grey ring, hollow.
        painter.circle_stroke(at, DOOR_RADIUS, Stroke::new(2.5, theme::UNKNOWN));
    } else {
        let half_periods = (ui.input(|i| i.time) * 1000.0 / FLASH_MS as f64) as u64;
        let lit = !flashes || half_periods.is_multiple_of(2);
        let fill = if lit {
            theme::door_state_color(door_state)
        } else {
            theme::MAP_ALARM_DIM
        };
        painter.circle(at, DOOR_RADIUS, fill, ring);
    }
    let galley = painter.layout_no_wrap(
        door.door.name.clone(),
        FontId::proportional(11.0),
        theme::MAP_LABEL,
    );
    let text_rect = door_label_rect(ui, at, galley.size());
    painter.rect_filled(text_rect.expand(2.0), 2.0, theme::MAP_LABEL_BG);
    painter.galley(text_rect.min, galley, theme::MAP_LABEL);

    if response.double_clicked() && !door.door.cameras.is_empty() {
        // The quickest way from a flashing door to its pictures.
        commands.send(Command::ShowDoorCameras(door.door.id.clone()));
    }
    let response = response.on_hover_text(format!(
        "{}: {} (click: commands; double-click: its cameras)",
        door.door.name,
        door_state.label()
    ));
    Popup::menu(&response)
        .id(id.with("menu"))
        .show(|ui| door_menu_ui(ui, state, door, door_state, commands));
    flashes
}

/// What a door's click offers: its commands (disabled with the reason when
/// the role may not) and its cameras.
fn door_menu_ui(
    ui: &mut Ui,
    state: &AppState,
    door: &DoorView,
    door_state: DoorState,
    commands: &CommandSender,
) {
    ui.label(egui::RichText::new(&door.door.name).strong());
    theme::door_state_chip_ui(ui, door_state);
    // The last command's progress, as the doors panel shows it.
    if let Some(cmd) = &door.last_command {
        ui.label(
            egui::RichText::new(super::doors::last_command_text(cmd))
                .color(theme::command_phase_color(&cmd.phase)),
        );
    }
    ui.separator();
    for (action, text) in DOOR_ACTIONS {
        let blocked = state.door_action_blocked(action);
        let response = ui.add_enabled(blocked.is_none(), egui::Button::new(text));
        let response = match &blocked {
            Some(reason) => response.on_disabled_hover_text(reason.as_str()),
            None => response.on_hover_text(format!("{} {}", action.label(), door.door.name)),
        };
        if response.clicked() {
            commands.door(&door.door.id, action);
            ui.close();
        }
    }
    ui.separator();
    if door.door.cameras.is_empty() {
        ui.add_enabled(false, egui::Button::new("Show cameras"))
            .on_disabled_hover_text("No camera sees this door");
    }
    if door.door.cameras.len() > 1 {
        let n = door.door.cameras.len();
        if ui.button(format!("Show all {n} cameras")).clicked() {
            commands.send(Command::ShowDoorCameras(door.door.id.clone()));
            ui.close();
        }
    }
    for camera in &door.door.cameras {
        let name = state
            .site()
            .camera(camera)
            .map_or(camera.as_str(), |c| c.name.as_str());
        if ui.button(format!("Show camera {name}")).clicked() {
            commands.send(Command::ShowCamera {
                camera: camera.clone(),
            });
            ui.close();
        }
    }
}

/// A plan's picture as a texture, uploaded once per picture (kept in the
/// context's memory, keyed by the plan).
#[derive(Clone)]
struct PlanTexture {
    image: Arc<StillImage>,
    handle: TextureHandle,
}

fn plan_texture(
    ctx: &egui::Context,
    key: Id,
    floor: &FloorMap,
    image: &Arc<StillImage>,
) -> Option<TextureHandle> {
    if let Some(have) = ctx.data(|d| d.get_temp::<PlanTexture>(key))
        && Arc::ptr_eq(&have.image, image)
    {
        return Some(have.handle);
    }
    if !image.is_consistent() {
        return None;
    }
    let size = [image.width as usize, image.height as usize];
    let pixels = ColorImage::from_rgba_unmultiplied(size, &image.rgba);
    let handle = ctx.load_texture(format!("plan {}", floor.id), pixels, TextureOptions::LINEAR);
    ctx.data_mut(|d| {
        d.insert_temp(
            key,
            PlanTexture {
                image: image.clone(),
                handle: handle.clone(),
            },
        )
    });
    Some(handle)
}

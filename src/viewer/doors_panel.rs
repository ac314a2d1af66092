//! The doors panel's own state: what it filters by, which doors are
//! selected, and a group command waiting for the operator's confirmation.
//! In memory only (a filter is for the moment, not for the next shift).

use std::collections::BTreeSet;

use crate::domain::{DoorAction, DoorId, DoorState, MapId};

use super::{AppState, DoorView};

/// What the door list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DoorFilter {
    /// Part of the name, zone or id, any case.
    pub text: String,
    pub zone: Option<String>,
    pub floor: Option<MapId>,
    pub state: Option<DoorState>,
}

impl DoorFilter {
    /// Whether `door`, in state `state`, passes the filter.
    pub fn matches(&self, door: &DoorView, state: DoorState) -> bool {
        self.matches_text(&self.needle(), door, state)
    }

    /// The text to find, lower-cased: once per list, not once per door.
    fn needle(&self) -> String {
        self.text.trim().to_lowercase()
    }

    fn matches_text(&self, text: &str, door: &DoorView, state: DoorState) -> bool {
        let d = &door.door;
        (text.is_empty()
            || d.name.to_lowercase().contains(text)
            || d.zone.to_lowercase().contains(text)
            || d.id.as_str().to_lowercase().contains(text))
            && self.zone.as_ref().is_none_or(|z| &d.zone == z)
            && self
                .floor
                .as_ref()
                .is_none_or(|f| d.map.as_ref() == Some(f))
            && self.state.is_none_or(|s| s == state)
    }

    pub fn is_empty(&self) -> bool {
        *self == DoorFilter::default()
    }
}

/// A command for several doors, shown to the operator before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCommand {
    pub action: DoorAction,
    pub doors: Vec<DoorId>,
}

impl GroupCommand {
    /// Lockdown and its release of more than one door are confirmed first;
    /// other group commands go at once.
    pub fn needs_confirmation(&self) -> bool {
        self.doors.len() > 1
            && matches!(
                self.action,
                DoorAction::Lockdown | DoorAction::ReleaseLockdown
            )
    }
}

/// The doors panel's state.
#[derive(Debug, Clone, Default)]
pub struct DoorsPanel {
    pub filter: DoorFilter,
    pub selected: BTreeSet<DoorId>,
    /// A group command waiting for "Confirm" or "Cancel".
    pub confirm: Option<GroupCommand>,
}

impl DoorsPanel {
    /// The doors the filter lets through, in the site's order.
    pub fn shown<'a>(&self, state: &'a AppState) -> Vec<&'a DoorView> {
        let needle = self.filter.needle();
        state
            .site()
            .doors()
            .iter()
            .filter(|d| self.filter.matches_text(&needle, d, state.door_state(d)))
            .collect()
    }

    /// The selected doors that still exist, in the site's order.
    pub fn selection(&self, state: &AppState) -> Vec<DoorId> {
        if self.selected.is_empty() {
            return Vec::new();
        }
        state
            .site()
            .doors()
            .iter()
            .filter(|d| self.selected.contains(&d.door.id))
            .map(|d| d.door.id.clone())
            .collect()
    }

    /// Every zone of the site, sorted, once each.
    pub fn zones(state: &AppState) -> Vec<String> {
        let zones: BTreeSet<&str> = state
            .site()
            .doors()
            .iter()
            .map(|d| d.door.zone.as_str())
            .collect();
        zones.into_iter().map(str::to_owned).collect()
    }

    /// Every floor plan a door is on, sorted, once each.
    pub fn floors(state: &AppState) -> Vec<MapId> {
        let floors: BTreeSet<&MapId> = state
            .site()
            .doors()
            .iter()
            .filter_map(|d| d.door.map.as_ref())
            .collect();
        floors.into_iter().cloned().collect()
    }

    /// Toggles a door in the selection.
    pub fn toggle(&mut self, id: &DoorId) {
        if !self.selected.remove(id) {
            self.selected.insert(id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Door, DoorStatus, FailMode};

    fn door(id: &str, name: &str, zone: &str, map: Option<&str>) -> DoorView {
        DoorView {
            door: Door {
                id: DoorId::new(id),
                name: name.into(),
                zone: zone.into(),
                map: map.map(MapId::new),
                fail_mode: FailMode::FailSecure,
                access_time_ms: 5000,
                held_open_threshold_ms: 30_000,
                cameras: Vec::new(),
            },
            status: DoorStatus::locked_closed(),
            last_command: None,
            changed: None,
        }
    }

    #[test]
    fn the_filter_matches_text_zone_floor_and_state() {
        let lobby = door("door-lobby", "Main lobby", "public", Some("floor1"));
        let server = door("door-server", "Server room", "secure", Some("floor2"));
        let all = DoorFilter::default();
        assert!(all.is_empty());
        assert!(all.matches(&lobby, DoorState::Locked));

        let text = DoorFilter {
            text: "  LOBBY ".into(),
            ..Default::default()
        };
        assert!(text.matches(&lobby, DoorState::Locked));
        assert!(!text.matches(&server, DoorState::Locked));
        // The zone and the id match the text too.
        let by_zone = DoorFilter {
            text: "secure".into(),
            ..Default::default()
        };
        assert!(by_zone.matches(&server, DoorState::Locked));

        let zone = DoorFilter {
            zone: Some("public".into()),
            ..Default::default()
        };
        assert!(
            zone.matches(&lobby, DoorState::Locked) && !zone.matches(&server, DoorState::Locked)
        );
        let floor = DoorFilter {
            floor: Some(MapId::new("floor2")),
            ..Default::default()
        };
        assert!(
            !floor.matches(&lobby, DoorState::Locked) && floor.matches(&server, DoorState::Locked)
        );
        let forced = DoorFilter {
            state: Some(DoorState::Forced),
            ..Default::default()
        };
        assert!(forced.matches(&lobby, DoorState::Forced));
        assert!(!forced.matches(&lobby, DoorState::Unknown));
    }

    #[test]
    fn only_a_group_lockdown_or_release_asks_first() {
        let two = vec![DoorId::new("a"), DoorId::new("b")];
        for (action, doors, ask) in [
            (DoorAction::Lockdown, two.clone(), true),
            (DoorAction::ReleaseLockdown, two.clone(), true),
            (DoorAction::Lockdown, vec![DoorId::new("a")], false),
            (DoorAction::Unlock, two.clone(), false),
            (DoorAction::Lock, two, false),
        ] {
            let g = GroupCommand { action, doors };
            assert_eq!(g.needs_confirmation(), ask, "{g:?}");
        }
    }

    /// A door's `changed` is the time of its last state event; a snapshot
    /// gives the site's time when it has one, else keeps the known one while
    /// the state is the same and forgets it when the state moved unseen.
    #[test]
    fn a_door_remembers_when_its_state_changed() {
        use crate::domain::{DoorMode, Event, EventKind, SiteInfo, Snapshot};
        use crate::viewer::AppEvent;
        let t = |s: i64| chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let snapshot = |seq, mode, changed| {
            let mut d = door("d1", "Server room", "secure", None);
            d.status.mode = mode;
            AppEvent::Snapshot(Box::new(Snapshot {
                seq,
                site: SiteInfo {
                    name: "s".into(),
                    time_zone: "UTC".into(),
                    demo: false,
                },
                cameras: vec![],
                doors: vec![crate::domain::DoorWithStatus {
                    door: d.door,
                    status: d.status,
                    changed,
                }],
                access_points: vec![],
                maps: vec![],
                open_requests: vec![],
            }))
        };
        let changed = |s: &AppState| s.site().doors()[0].changed;
        let mut s = AppState::new(t(0), "http://127.0.0.1:1", false);
        s.apply(snapshot(1, DoorMode::Locked, None));
        assert_eq!(changed(&s), None, "this snapshot does not say when");
        let mut status = DoorStatus::locked_closed();
        status.mode = DoorMode::Unlocked;
        s.apply(AppEvent::Live(Event {
            seq: 2,
            time: t(5),
            kind: EventKind::DoorStateChanged {
                door: DoorId::new("d1"),
                status,
            },
        }));
        assert_eq!(changed(&s), Some(t(5)));
        s.apply(snapshot(2, DoorMode::Unlocked, None));
        assert_eq!(changed(&s), Some(t(5)), "the same state, the same time");
        s.apply(snapshot(3, DoorMode::Locked, None));
        assert_eq!(changed(&s), None, "it moved while unseen");
        s.apply(snapshot(4, DoorMode::Unlocked, Some(t(7))));
        assert_eq!(changed(&s), Some(t(7)), "the site says when");
    }

    #[test]
    fn toggling_selects_and_deselects() {
        let mut p = DoorsPanel::default();
        let id = DoorId::new("door-lobby");
        p.toggle(&id);
        assert!(p.selected.contains(&id));
        p.toggle(&id);
        assert!(p.selected.is_empty());
    }
}

//! The floor maps: their placements as the site serves them in the snapshot,
//! and the map editor's write (`PUT /api/v1/maps/{id}/placements`): checked,
//! audited, written back to the placement file the site read at start
//! (comments kept, atomic), then changed in memory inside the event log's
//! commit with `map.changed`, so a snapshot at a seq is the maps at it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use crate::config::SiteConfig;
use crate::config::map_writer;
use crate::domain::{EventKind, FloorMap, MapId, MapPlacements, Placement};

use super::audit::{Actor, AuditTrail, PENDING, actions};
use super::error::CoreError;
use super::events::EventLog;

/// The most placements one map may hold (doors and cameras together).
pub const MAX_PLACEMENTS: usize = 2000;

/// The floor maps service.
pub struct Maps {
    dir: PathBuf,
    maps: RwLock<Vec<FloorMap>>,
    doors: HashSet<String>,
    cameras: HashSet<String>,
    /// One edit at a time writes files.
    writing: Mutex<()>,
    log: Arc<EventLog>,
    audit: Arc<AuditTrail>,
}

impl Maps {
    pub fn new(cfg: &SiteConfig, log: Arc<EventLog>, audit: Arc<AuditTrail>) -> Maps {
        Maps {
            dir: cfg.maps_dir.clone(),
            maps: RwLock::new(cfg.maps.clone()),
            doors: cfg.doors.iter().map(|d| d.id.as_str().to_owned()).collect(),
            cameras: cfg
                .cameras
                .iter()
                .map(|c| c.id.as_str().to_owned())
                .collect(),
            writing: Mutex::new(()),
            log,
            audit,
        }
    }

    /// Every map, in the order the site read them.
    pub fn list(&self) -> Vec<FloorMap> {
        self.maps.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// One map.
    pub fn get(&self, id: &MapId) -> Option<FloorMap> {
        self.maps
            .read()
            .ok()
            .and_then(|m| m.iter().find(|m| &m.id == id).cloned())
    }

    /// The folder the maps were read from.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Replaces map `id`'s placements with `body`: checked (400 naming what
    /// is wrong, nothing written), audited before it is acted on, written to
    /// the placement file (503 when it cannot be, nothing changed), then
    /// `map.changed`. Directions come back normalised to 0..360.
    pub fn set_placements(
        &self,
        actor: &Actor,
        id: &MapId,
        body: MapPlacements,
    ) -> Result<FloorMap, CoreError> {
        let mut map = self
            .get(id)
            .ok_or_else(|| CoreError::NotFound(format!("no map {id:?}")))?;
        let (doors, cameras) = check(&map, body, &self.doors, &self.cameras)?;
        map.doors = doors;
        map.cameras = cameras;
        let pending = self
            .audit
            .try_record(actor, actions::MAP_EDIT, id.as_str(), PENDING)?;
        let result = self.write(actor, map);
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        self.audit
            .complete(actor, actions::MAP_EDIT, id.as_str(), pending.id, &outcome);
        result
    }

    fn write(&self, actor: &Actor, map: FloorMap) -> Result<FloorMap, CoreError> {
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let file = map_writer::map_file(&self.dir, &map.id).ok_or_else(|| {
            CoreError::Unavailable(format!(
                "the placement file of map {:?} is no longer in {}",
                map.id.as_str(),
                self.dir.display()
            ))
        })?;
        map_writer::write_placements(&file, &map).map_err(|e| {
            CoreError::Unavailable(format!(
                "cannot write the placement file {}: {e}; nothing was changed",
                file.display()
            ))
        })?;
        let (_, map) = self.log.commit(|| {
            let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = maps.iter_mut().find(|m| m.id == map.id) {
                *slot = map.clone();
            }
            let kind = EventKind::MapChanged {
                map: map.id.clone(),
                by: actor.username.clone(),
            };
            Ok((vec![kind], map))
        })?;
        Ok(map)
    }
}

fn invalid(msg: String) -> CoreError {
    CoreError::InvalidInput(msg)
}

/// Checks a placement list against `map` and the site's ids; returns it
/// with directions normalised to 0..360.
fn check(
    map: &FloorMap,
    body: MapPlacements,
    doors: &HashSet<String>,
    cameras: &HashSet<String>,
) -> Result<(Vec<Placement>, Vec<Placement>), CoreError> {
    let count = body.doors.len() + body.cameras.len();
    if count > MAX_PLACEMENTS {
        return Err(invalid(format!(
            "placements: {count} given, at most {MAX_PLACEMENTS}"
        )));
    }
    let one = |list: Vec<Placement>, what: &str, known: &HashSet<String>| {
        let mut seen = HashSet::new();
        list.into_iter()
            .map(|mut p| {
                let name: String = p.id.chars().take(64).collect();
                if !known.contains(&p.id) {
                    return Err(invalid(format!("{what}s: no {what} {name:?} in the site")));
                }
                if !seen.insert(p.id.clone()) {
                    return Err(invalid(format!("{what}s: {name:?} is placed twice")));
                }
                let on_plan = (0.0..=map.width as f32).contains(&p.x)
                    && (0.0..=map.height as f32).contains(&p.y);
                if !on_plan {
                    return Err(invalid(format!(
                        "{what}s: {name:?} is outside the plan ({}×{})",
                        map.width, map.height
                    )));
                }
                if let Some(d) = p.direction_deg {
                    if !d.is_finite() {
                        return Err(invalid(format!(
                            "{what}s: {name:?}: direction_deg is not a number"
                        )));
                    }
                    // -0.0 and 360 both read as 0.
                    let n = d.rem_euclid(360.0);
                    p.direction_deg = Some(if n >= 360.0 { 0.0 } else { n + 0.0 });
                }
                if p.fov_deg.is_some_and(|f| !(1.0..=360.0).contains(&f)) {
                    return Err(invalid(format!(
                        "{what}s: {name:?}: fov_deg must be from 1 to 360"
                    )));
                }
                Ok(p)
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok((
        one(body.doors, "door", doors)?,
        one(body.cameras, "camera", cameras)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> FloorMap {
        FloorMap {
            id: MapId::new("f"),
            name: "F".into(),
            image: "f.png".into(),
            width: 100,
            height: 50,
            doors: vec![],
            cameras: vec![],
        }
    }

    fn at(id: &str, x: f32, y: f32) -> Placement {
        Placement {
            id: id.into(),
            x,
            y,
            direction_deg: None,
            fov_deg: None,
        }
    }

    fn ids(list: &[&str]) -> HashSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn placements_are_checked() {
        let (d, c) = (ids(&["d1", "d2"]), ids(&["c1"]));
        let body =
            |doors: Vec<Placement>, cameras: Vec<Placement>| MapPlacements { doors, cameras };
        let ok = check(
            &map(),
            body(vec![at("d1", 0.0, 50.0)], vec![at("c1", 100.0, 0.0)]),
            &d,
            &c,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let mut turned = at("c1", 1.0, 1.0);
        turned.direction_deg = Some(-90.0);
        turned.fov_deg = Some(360.0);
        let (_, cams) = check(&map(), body(vec![], vec![turned]), &d, &c).expect("ok");
        assert_eq!(cams[0].direction_deg, Some(270.0));
        let mut full = at("c1", 1.0, 1.0);
        full.direction_deg = Some(720.0);
        let (_, cams) = check(&map(), body(vec![], vec![full]), &d, &c).expect("ok");
        assert_eq!(cams[0].direction_deg, Some(0.0));
        let bad = |doors, cameras, want: &str| {
            let e = check(&map(), body(doors, cameras), &d, &c).expect_err(want);
            assert!(e.to_string().contains(want), "{e} lacks {want}");
        };
        bad(vec![at("d9", 1.0, 1.0)], vec![], "no door");
        bad(vec![], vec![at("d1", 1.0, 1.0)], "no camera");
        bad(
            vec![at("d1", 1.0, 1.0), at("d1", 2.0, 2.0)],
            vec![],
            "twice",
        );
        bad(vec![at("d1", 101.0, 1.0)], vec![], "outside");
        bad(vec![at("d1", 1.0, -0.5)], vec![], "outside");
        bad(vec![at("d1", f32::NAN, 1.0)], vec![], "outside");
        let mut p = at("c1", 1.0, 1.0);
        p.direction_deg = Some(f32::INFINITY);
        bad(vec![], vec![p], "direction_deg");
        for f in [0.5, 361.0, f32::NAN] {
            let mut p = at("c1", 1.0, 1.0);
            p.fov_deg = Some(f);
            bad(vec![], vec![p], "fov_deg");
        }
        let many = (0..=MAX_PLACEMENTS).map(|_| at("d1", 1.0, 1.0)).collect();
        bad(many, vec![], "at most");
    }
}

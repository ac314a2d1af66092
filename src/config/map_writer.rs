//! Writes a floor map's placements back to its placement file (the map
//! editor, `PUT /api/v1/maps/{id}/placements`). The file keeps its comments
//! and its top-level keys (`id`, `name`, `image`, `width`, `height`): only
//! the `[[door]]` and `[[camera]]` tables are replaced. A file that cannot be
//! read or parsed any more is written afresh from the map, under a fixed
//! header. The write is atomic: a temporary file beside it, fsync, rename.

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use crate::domain::{FloorMap, MapId, Placement};

/// The header of a placement file written afresh.
const HEADER: &str = "# Written by the Watchdesk site's map editor. The format: maps/README.md.\n";

/// The placement file of map `id` in `dir`: `<id>.toml` when it holds that
/// id, else the first `*.toml` (in name order, as the site reads them)
/// whose `id` is `id`.
pub fn map_file(dir: &Path, id: &MapId) -> Option<PathBuf> {
    let holds = |p: &Path| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| t.parse::<DocumentMut>().ok())
            .is_some_and(|d| d.get("id").and_then(Item::as_str) == Some(id.as_str()))
    };
    let direct = dir.join(format!("{id}.toml"));
    if holds(&direct) {
        return Some(direct);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files.into_iter().find(|p| holds(p))
}

/// An `f32` as the shortest decimal that reads back as it (`0.1`, not
/// `0.10000000149011612`).
fn float(x: f32) -> f64 {
    format!("{x}").parse().unwrap_or(f64::from(x))
}

fn tables(placements: &[Placement]) -> ArrayOfTables {
    let mut all = ArrayOfTables::new();
    for p in placements {
        let mut t = Table::new();
        t["id"] = value(p.id.as_str());
        t["x"] = value(float(p.x));
        t["y"] = value(float(p.y));
        if let Some(d) = p.direction_deg {
            t["direction_deg"] = value(float(d));
        }
        if let Some(f) = p.fov_deg {
            t["fov_deg"] = value(float(f));
        }
        all.push(t);
    }
    all
}

/// The text of `map`'s placement file, edited from `old` (the file as it
/// is) where that parses, else written afresh.
pub fn placement_text(old: Option<&str>, map: &FloorMap) -> String {
    let (mut doc, header) = match old.and_then(|t| t.parse::<DocumentMut>().ok()) {
        Some(doc) => (doc, ""),
        None => {
            let mut doc = DocumentMut::new();
            doc["id"] = value(map.id.as_str());
            doc["name"] = value(map.name.as_str());
            doc["image"] = value(map.image.as_str());
            doc["width"] = value(i64::from(map.width));
            doc["height"] = value(i64::from(map.height));
            (doc, HEADER)
        }
    };
    doc.remove("door");
    doc.remove("camera");
    if !map.doors.is_empty() {
        doc.insert("door", Item::ArrayOfTables(tables(&map.doors)));
    }
    if !map.cameras.is_empty() {
        doc.insert("camera", Item::ArrayOfTables(tables(&map.cameras)));
    }
    format!("{header}{doc}")
}

/// Writes `map`'s placements to `path` atomically (a temporary file in the
/// same folder, fsync, rename, fsync of the folder). On an error the file
/// is as it was.
pub fn write_placements(path: &Path, map: &FloorMap) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path).ok();
    let text = placement_text(old.as_deref(), map);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable once the folder is; a folder that cannot be
    // opened for that (some file systems) still has the new file.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_maps() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("maps")
    }

    /// A copy of the demo maps folder, never the repository's own.
    fn copy_maps() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().expect("tempdir");
        for e in std::fs::read_dir(demo_maps()).expect("maps").flatten() {
            std::fs::copy(e.path(), tmp.path().join(e.file_name())).expect("copy");
        }
        tmp
    }

    #[test]
    fn written_files_read_back_as_hand_written_ones() {
        let dir = copy_maps();
        let before = super::super::load_maps(dir.path()).expect("demo maps");
        let mut map = before[0].clone();
        map.doors[0].x = 0.1;
        map.doors[0].y = 799.5;
        map.doors.pop();
        map.cameras[0].direction_deg = Some(359.9);
        map.cameras[0].fov_deg = Some(1.0);
        map.cameras.push(Placement {
            id: "cam-new".into(),
            x: 12.25,
            y: 0.0,
            direction_deg: None,
            fov_deg: None,
        });
        let path = map_file(dir.path(), &map.id).expect("its file");
        let old = std::fs::read_to_string(&path).expect("read");
        write_placements(&path, &map).expect("write");
        let after = super::super::load_maps(dir.path()).expect("still valid");
        assert_eq!(after[0], map, "write -> parse gives the same placements");
        assert_eq!(after[1..], before[1..], "other floors untouched");
        let text = std::fs::read_to_string(&path).expect("read");
        // The comments and the header keys stay.
        let first_comment = old.lines().next().expect("a comment");
        assert!(first_comment.starts_with('#'));
        assert!(text.starts_with(first_comment), "{text}");
        assert!(text.contains("name = \"Ground floor\""), "{text}");
        assert!(text.contains("x = 0.1\n"), "shortest decimal: {text}");
        // No temporary file left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn an_unreadable_file_is_written_afresh_and_still_parses() {
        let dir = copy_maps();
        let maps = super::super::load_maps(dir.path()).expect("demo maps");
        let path = map_file(dir.path(), &maps[1].id).expect("its file");
        let text = placement_text(Some("this is = = not toml"), &maps[1]);
        assert!(text.starts_with(HEADER));
        std::fs::write(&path, text).expect("write");
        let again = super::super::load_maps(dir.path()).expect("parses");
        assert_eq!(again[1], maps[1]);
    }

    #[test]
    fn a_missing_folder_is_an_error_and_writes_nothing() {
        let dir = copy_maps();
        let maps = super::super::load_maps(dir.path()).expect("demo maps");
        let gone = dir.path().join("gone").join("floor1.toml");
        assert!(write_placements(&gone, &maps[0]).is_err());
        assert!(!gone.exists());
    }
}

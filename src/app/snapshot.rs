//! A tile's frame saved as a PNG: the folder it goes to, a file name that
//! never overwrites, and the encoding. Runs on the worker, the encoding and
//! the write in `spawn_blocking`, never on the UI thread.

use std::path::{Path, PathBuf};

use crate::viewer::{AppEvent, NoticeLevel, SnapshotFrame};

/// What the worker does with `Command::SaveSnapshot`: encodes and writes on
/// the blocking pool, and answers with the notice the operator sees.
pub async fn take_snapshot(
    dir: Option<PathBuf>,
    camera: String,
    stamp: String,
    frame: SnapshotFrame,
) -> AppEvent {
    let Some(dir) = dir else {
        return AppEvent::Notice {
            level: NoticeLevel::Error,
            text: "Snapshot not saved: no folder for pictures (HOME is not set)".into(),
        };
    };
    let result =
        tokio::task::spawn_blocking(move || save_snapshot(&dir, &camera, &stamp, &frame)).await;
    match result {
        Ok(Ok(path)) => AppEvent::Notice {
            level: NoticeLevel::Info,
            text: format!("Snapshot saved: {}", path.display()),
        },
        Ok(Err(why)) => AppEvent::Notice {
            level: NoticeLevel::Error,
            text: format!("Snapshot not saved: {why}"),
        },
        Err(e) => AppEvent::Notice {
            level: NoticeLevel::Error,
            text: format!("Snapshot not saved: {e}"),
        },
    }
}

/// Where snapshots go: `$XDG_PICTURES_DIR/Watchdesk` when set, else
/// `~/Pictures/Watchdesk`, else `$XDG_DATA_HOME/watchdesk/snapshots`.
pub fn snapshot_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("XDG_PICTURES_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p).join("Watchdesk"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(home).join("Pictures").join("Watchdesk"));
    }
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(|d| PathBuf::from(d).join("watchdesk").join("snapshots"))
}

/// A camera's name as a file name's part: letters, digits, `-` and `_`
/// kept, anything else `_`, at most 64 characters.
pub fn file_stem(camera: &str) -> String {
    let stem: String = camera
        .chars()
        .take(64)
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        "camera".into()
    } else {
        stem
    }
}

/// Encodes `frame` as PNG and writes it to `dir` as
/// `<camera>-<stamp>.png` (or `…-2.png`, `…-3.png` when taken: never
/// overwrites). Blocking: call it in `spawn_blocking`.
pub fn save_snapshot(
    dir: &Path,
    camera: &str,
    stamp: &str,
    frame: &SnapshotFrame,
) -> Result<PathBuf, String> {
    let want = u64::from(frame.width) * u64::from(frame.height) * 4;
    if frame.width == 0 || frame.height == 0 || want != frame.rgba.len() as u64 {
        return Err("the frame is empty or damaged".into());
    }
    let image = image::RgbaImage::from_raw(frame.width, frame.height, frame.rgba.to_vec())
        .ok_or_else(|| "the frame is empty or damaged".to_owned())?;
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stem = format!("{}-{}", file_stem(camera), file_stem(stamp));
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{stem}.png")
        } else {
            format!("{stem}-{n}.png")
        };
        let path = dir.join(name);
        // `create_new` fails when the file exists: never overwrite.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                use std::io::Write;
                return file
                    .write_all(&png)
                    .and_then(|()| file.sync_all())
                    .map(|()| path.clone())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
        }
    }
    Err(format!(
        "too many snapshots named {stem} in {}",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: u32, height: u32) -> SnapshotFrame {
        let mut rgba = Vec::with_capacity((width * height * 4) as usize);
        for i in 0..width * height {
            rgba.extend_from_slice(&[(i % 251) as u8, 40, 200, 255]);
        }
        SnapshotFrame {
            width,
            height,
            rgba: rgba.into(),
        }
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_stem("Lobby / east"), "Lobby___east");
        assert_eq!(file_stem("../x"), "___x");
        assert_eq!(file_stem(""), "camera");
    }

    #[tokio::test]
    async fn the_worker_writes_a_png_of_the_frame_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut paths = Vec::new();
        for _ in 0..2 {
            let event = take_snapshot(
                Some(dir.path().join("shots")),
                "Lobby east".into(),
                "20261122-110000".into(),
                frame(64, 36),
            )
            .await;
            let AppEvent::Notice {
                level: NoticeLevel::Info,
                text,
            } = event
            else {
                panic!("not saved: {event:?}");
            };
            let path = PathBuf::from(text.strip_prefix("Snapshot saved: ").expect(&text));
            let png = image::open(&path).expect("a PNG");
            assert_eq!((png.width(), png.height()), (64, 36));
            assert_eq!(png.to_rgba8().into_raw(), frame(64, 36).rgba.to_vec());
            paths.push(path);
        }
        assert!(
            paths[0].ends_with("Lobby_east-20261122-110000.png"),
            "{paths:?}"
        );
        assert!(
            paths[1].ends_with("Lobby_east-20261122-110000-2.png"),
            "{paths:?}"
        );
    }

    #[test]
    fn a_damaged_frame_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut f = frame(4, 4);
        f.rgba = f.rgba.slice(0..10);
        assert!(save_snapshot(dir.path(), "Lobby", "20261122-110000", &f).is_err());
        assert_eq!(
            std::fs::read_dir(dir.path()).map(|d| d.count()).ok(),
            Some(0)
        );
    }
}

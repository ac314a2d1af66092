//! A tile's frame saved as a PNG: the folder it goes to, a file name that
//! never overwrites, and the encoding; and a frame made a cardholder's
//! photo (a centred 3:4 portrait, at most [`PHOTO_HEIGHT`] pixels high,
//! JPEG). Runs on the worker, the encoding and the write in
//! `spawn_blocking`, never on the UI thread.

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

/// The most pixels high of a photo taken from a camera.
pub const PHOTO_HEIGHT: u32 = 480;

/// The centred 3:4 (portrait) part of a `width`×`height` picture:
/// `(x, y, w, h)`; None for an empty picture.
pub fn portrait_crop(width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
    if width == 0 || height == 0 {
        return None;
    }
    let (w, h) = if u64::from(width) * 4 > u64::from(height) * 3 {
        // Wider than 3:4: the full height, a centred strip of it.
        (((u64::from(height) * 3) / 4).max(1) as u32, height)
    } else {
        (width, ((u64::from(width) * 4) / 3).max(1) as u32)
    };
    Some(((width - w) / 2, (height - h) / 2, w, h))
}

/// The size a `w`×`h` crop is scaled to: at most [`PHOTO_HEIGHT`] high,
/// never enlarged, the aspect kept.
pub fn photo_size(w: u32, h: u32) -> (u32, u32) {
    if h <= PHOTO_HEIGHT {
        return (w, h);
    }
    let scaled = (u64::from(w) * u64::from(PHOTO_HEIGHT) + u64::from(h) / 2) / u64::from(h);
    ((scaled as u32).max(1), PHOTO_HEIGHT)
}

/// A frame made a cardholder's photo: cropped to a centred portrait, scaled
/// to at most [`PHOTO_HEIGHT`] high, JPEG-encoded. Blocking (CPU).
pub fn portrait_jpeg(frame: &SnapshotFrame) -> Result<Vec<u8>, String> {
    let want = u64::from(frame.width) * u64::from(frame.height) * 4;
    if want != frame.rgba.len() as u64 {
        return Err("the frame is empty or damaged".into());
    }
    let (x, y, w, h) =
        portrait_crop(frame.width, frame.height).ok_or("the frame is empty or damaged")?;
    let image = image::RgbaImage::from_raw(frame.width, frame.height, frame.rgba.to_vec())
        .ok_or("the frame is empty or damaged")?;
    let cropped = image::imageops::crop_imm(&image, x, y, w, h).to_image();
    let (sw, sh) = photo_size(w, h);
    let scaled = if (sw, sh) == (w, h) {
        cropped
    } else {
        image::imageops::resize(&cropped, sw, sh, image::imageops::FilterType::Triangle)
    };
    let rgb = image::DynamicImage::ImageRgba8(scaled).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
        .encode_image(&rgb)
        .map_err(|e| format!("cannot encode the JPEG: {e}"))?;
    Ok(out)
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
    fn the_portrait_is_centred_and_three_by_four() {
        // A wide frame: the full height, a centred strip.
        assert_eq!(portrait_crop(1280, 720), Some((370, 0, 540, 720)));
        // A tall one: the full width, a centred band.
        assert_eq!(portrait_crop(300, 1000), Some((0, 300, 300, 400)));
        // Already 3:4.
        assert_eq!(portrait_crop(480, 640), Some((0, 0, 480, 640)));
        // Tiny and empty ones.
        assert_eq!(portrait_crop(1, 1), Some((0, 0, 1, 1)));
        assert_eq!(portrait_crop(0, 10), None);
        for (w, h) in [(640, 360), (1920, 1080), (333, 777), (7, 3)] {
            let (x, y, cw, ch) = portrait_crop(w, h).unwrap();
            assert!(x + cw <= w && y + ch <= h, "{w}×{h}");
            let aspect = cw as f64 / ch as f64;
            assert!(
                (aspect - 0.75).abs() < 0.05 || cw.min(ch) < 4,
                "{w}×{h}: {aspect}"
            );
        }
    }

    #[test]
    fn the_photo_is_at_most_480_high_and_never_enlarged() {
        assert_eq!(photo_size(540, 720), (360, 480));
        assert_eq!(photo_size(1080, 1440), (360, 480));
        assert_eq!(photo_size(240, 320), (240, 320));
        assert_eq!(photo_size(3, 4000), (1, 480));
    }

    #[test]
    fn a_frame_becomes_a_portrait_jpeg() {
        // 1280×720, left half black, right half white: the centred crop
        // holds both.
        let (w, h) = (1280u32, 720u32);
        let mut rgba = Vec::with_capacity((w * h * 4) as usize);
        for _y in 0..h {
            for x in 0..w {
                let v = if x < w / 2 { 0 } else { 255 };
                rgba.extend_from_slice(&[v, v, v, 255]);
            }
        }
        let jpeg = portrait_jpeg(&SnapshotFrame {
            width: w,
            height: h,
            rgba: rgba.into(),
        })
        .unwrap();
        let photo = image::load_from_memory(&jpeg).unwrap().to_luma8();
        assert_eq!(photo.dimensions(), (360, 480));
        assert!(photo.get_pixel(10, 240).0[0] < 40);
        assert!(photo.get_pixel(350, 240).0[0] > 215);
        let mut damaged = frame(4, 4);
        damaged.rgba = damaged.rgba.slice(0..8);
        assert!(portrait_jpeg(&damaged).is_err());
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

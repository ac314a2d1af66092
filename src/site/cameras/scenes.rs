//! Demo scenes: what each scene looks like, the one-time encode into
//! `data_dir/scenes` (written to a temp name, then renamed), and loading the
//! cached files back into access units and stills.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::CameraError;
use crate::config::VideoConfig;

/// Bump when a recipe changes so that older cache files are not reused.
const RECIPE_VERSION: u32 = 2;

/// How a scene looks: a `videotestsrc` pattern, whether it scrolls
/// sideways, and whether a ball moves over it (for patterns that are still).
struct Recipe {
    source: &'static str,
    scroll: bool,
    ball: bool,
}

fn recipe(scene: &str) -> Recipe {
    let (source, scroll, ball) = match scene {
        "ball" => ("pattern=ball", false, false),
        "pinwheel" => ("pattern=pinwheel", true, false),
        "spokes" => ("pattern=spokes", true, false),
        "smpte" => ("pattern=smpte", true, false),
        "bars" => ("pattern=smpte75", true, false),
        "colors" => ("pattern=colors", true, false),
        "checkers" => ("pattern=checkers-8", true, false),
        "circular" => ("pattern=circular", true, false),
        "zone" | "zone-plate" => ("pattern=zone-plate kx2=20 ky2=20 kt=1", false, false),
        "gamut" => ("pattern=gamut", false, true),
        "gradient" => ("pattern=gradient", false, true),
        "snow" => ("pattern=snow", false, false),
        other => {
            tracing::warn!(
                scene = other,
                "unknown demo scene, showing a moving ball instead"
            );
            ("pattern=ball", false, false)
        }
    };
    Recipe {
        source,
        scroll,
        ball,
    }
}

/// One stream of a scene, in memory: its access units in decode order.
pub(super) struct Stream {
    /// `video/x-h264, stream-format=byte-stream, alignment=au, ...`
    pub caps: gst::Caps,
    pub frames: Vec<gst::Buffer>,
    /// Indices into `frames` of the key frames, ascending; never empty.
    pub keyframes: Vec<usize>,
}

impl Stream {
    /// The last key frame at or before `frame` (modulo the loop).
    pub fn keyframe_at_or_before(&self, frame: u64) -> usize {
        let len = self.frames.len().max(1) as u64;
        let pos = usize::try_from(frame % len).unwrap_or(0);
        let n = self.keyframes.partition_point(|&k| k <= pos);
        self.keyframes
            .get(n.saturating_sub(1))
            .copied()
            .unwrap_or(0)
    }
}

/// A scene as served: main and sub stream, and one sub-size JPEG per second.
pub(super) struct Scene {
    pub main: Arc<Stream>,
    pub sub: Arc<Stream>,
    pub stills: Arc<Vec<Vec<u8>>>,
}

/// The cache file names of one scene (main, sub, stills folder).
struct CachePaths {
    main: PathBuf,
    sub: PathBuf,
    stills: PathBuf,
}

impl CachePaths {
    fn new(dir: &Path, scene: &str, label: &str, v: &VideoConfig) -> CachePaths {
        let safe: String = scene
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let tag = fnv1a(&format!("{RECIPE_VERSION}|{scene}|{label}"));
        let stem = |w: u32, h: u32| {
            format!(
                "{safe}-{w}x{h}-{}fps-{}g-{}s-{tag:08x}",
                v.fps, v.gop_seconds, v.scene_seconds
            )
        };
        let sub = stem(v.sub_width, v.sub_height);
        CachePaths {
            main: dir.join(format!("{}.h264", stem(v.main_width, v.main_height))),
            sub: dir.join(format!("{sub}.h264")),
            stills: dir.join(format!("{sub}.stills")),
        }
    }

    fn all_present(&self) -> bool {
        self.main.is_file() && self.sub.is_file() && self.stills.is_dir()
    }
}

/// A short, stable hash for cache names (std's hasher is not stable across
/// releases).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Bitrate in kbit/s for a size: about 2 Mbit/s at 1280×720, 0.5 at 640×360.
fn bitrate_kbps(width: u32, height: u32) -> u32 {
    let pixels = u64::from(width) * u64::from(height);
    let kbps = pixels * 2000 / (1280 * 720);
    u32::try_from(kbps.clamp(64, 20_000)).unwrap_or(2000)
}

/// Loads a scene from the cache, encoding it first when it is not there
/// (or when the cached files cannot be read back). Returns the scene and
/// whether it was encoded now.
pub(super) fn load_or_encode(
    dir: &Path,
    scene: &str,
    label: &str,
    v: &VideoConfig,
) -> Result<(Scene, bool), CameraError> {
    let paths = CachePaths::new(dir, scene, label, v);
    if paths.all_present() {
        match load(&paths) {
            Ok(s) => return Ok((s, false)),
            Err(e) => {
                tracing::warn!(scene, error = %e, "cached scene unreadable, encoding it again");
            }
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| CameraError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    remove_stale_temps(dir);
    let started = Instant::now();
    encode(&paths, scene, label, v)?;
    tracing::info!(
        scene,
        seconds = started.elapsed().as_secs_f64(),
        "encoded demo scene"
    );
    Ok((load(&paths)?, true))
}

fn encode(
    paths: &CachePaths,
    scene: &str,
    label: &str,
    v: &VideoConfig,
) -> Result<(), CameraError> {
    // Unique per encode, so that two servers (or tests) sharing a data
    // folder never write into each other's files.
    static ENCODES: AtomicU64 = AtomicU64::new(0);
    let n = ENCODES.fetch_add(1, Ordering::Relaxed);
    let tmp = |p: &Path| {
        let mut s = p.as_os_str().to_owned();
        s.push(format!(".tmp-{}-{n}", std::process::id()));
        PathBuf::from(s)
    };
    let (main_tmp, sub_tmp, stills_tmp) = (tmp(&paths.main), tmp(&paths.sub), tmp(&paths.stills));
    let _ = std::fs::remove_dir_all(&stills_tmp);
    std::fs::create_dir_all(&stills_tmp)
        .map_err(|e| CameraError::Failed(format!("cannot create {}: {e}", stills_tmp.display())))?;

    let r = recipe(scene);
    let fps = v.fps.max(1);
    let frames = u64::from(v.scene_seconds.max(1)) * u64::from(fps);
    let gop = (v.gop_seconds.max(1) * fps).max(1);
    let (mw, mh, sw, sh) = (v.main_width, v.main_height, v.sub_width, v.sub_height);
    let raw = |w: u32, h: u32| format!("video/x-raw,width={w},height={h},framerate={fps}/1");
    let scroll = if r.scroll {
        format!(" horizontal-speed={}", (mw / 320).max(1))
    } else {
        String::new()
    };
    let source = if r.ball {
        // The ball branch first, so that the chain below continues from the
        // label overlay.
        format!(
            "videotestsrc pattern=ball background-color=0x00000000 foreground-color=0xffffcc00 \
             num-buffers={frames} ! capsfilter name=ballcaps caps=video/x-raw,format=AYUV,width={mw},height={mh},framerate={fps}/1 ! mix. \
             videotestsrc {src} num-buffers={frames} ! {main} ! compositor name=mix background=black \
             ! {main} ! textoverlay name=label",
            main = raw(mw, mh),
            src = r.source
        )
    } else {
        format!(
            "videotestsrc {src}{scroll} num-buffers={frames} ! {main} ! textoverlay name=label",
            src = r.source,
            main = raw(mw, mh)
        )
    };
    let x264 = |w: u32, h: u32| {
        format!(
            "x264enc bitrate={} key-int-max={gop} bframes=0 speed-preset=veryfast rc-lookahead=10 \
             option-string=scenecut=0 byte-stream=true ! video/x-h264,stream-format=byte-stream \
             ! h264parse config-interval=-1",
            bitrate_kbps(w, h)
        )
    };
    let launch = format!(
        "{source} valignment=top halignment=left shaded-background=true font-desc=\"Sans Bold 14\" \
         ! tee name=t \
         t. ! queue ! videoconvert ! {xmain} ! filesink name=main_sink async=false \
         t. ! queue ! videoscale ! videoconvert ! {sub} ! tee name=s \
         s. ! queue ! {xsub} ! filesink name=sub_sink async=false \
         s. ! queue ! videorate drop-only=true ! video/x-raw,framerate=1/1 ! jpegenc quality=85 \
         ! multifilesink name=stills_sink async=false",
        xmain = x264(mw, mh),
        sub = raw(sw, sh),
        xsub = x264(sw, sh),
    );
    let pipeline = gst::parse::launch(&launch)
        .map_err(|e| CameraError::Failed(format!("scene {scene:?}: cannot build encoder: {e}")))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| CameraError::Failed("encoder is not a pipeline".into()))?;
    let set = |name: &str, prop: &str, value: &str| -> Result<(), CameraError> {
        let e = pipeline
            .by_name(name)
            .ok_or_else(|| CameraError::Failed(format!("encoder lacks {name}")))?;
        e.set_property(prop, value);
        Ok(())
    };
    set("label", "text", label)?;
    // The ball's branch was linked first, so it would be drawn underneath.
    if let Some(pad) = pipeline
        .by_name("ballcaps")
        .and_then(|c| c.static_pad("src"))
        .and_then(|p| p.peer())
        && pad
            .find_property("zorder")
            .is_some_and(|p| p.value_type() == u32::static_type())
    {
        pad.set_property("zorder", 10u32);
    }
    set("main_sink", "location", &path_str(&main_tmp)?)?;
    set("sub_sink", "location", &path_str(&sub_tmp)?)?;
    set(
        "stills_sink",
        "location",
        &path_str(&stills_tmp.join("%03d.jpg"))?,
    )?;

    // Generous: a 720p frame takes a few milliseconds here.
    let result = run_to_eos(&pipeline, Duration::from_secs(60 + frames / 2));
    let _ = pipeline.set_state(gst::State::Null);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&main_tmp);
        let _ = std::fs::remove_file(&sub_tmp);
        let _ = std::fs::remove_dir_all(&stills_tmp);
        return Err(CameraError::Failed(format!(
            "scene {scene:?}: encoding failed: {e}"
        )));
    }

    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| {
            CameraError::Failed(format!(
                "cannot move {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })
    };
    // The main file goes last: it is what marks the scene as cached.
    let _ = std::fs::remove_dir_all(&paths.stills);
    if std::fs::rename(&stills_tmp, &paths.stills).is_err() && paths.stills.is_dir() {
        // Another encoder of the same scene got there first: theirs is as good.
        let _ = std::fs::remove_dir_all(&stills_tmp);
    } else if stills_tmp.exists() {
        rename(&stills_tmp, &paths.stills)?;
    }
    rename(&sub_tmp, &paths.sub)?;
    rename(&main_tmp, &paths.main)?;
    Ok(())
}

/// Removes temp files and folders that an encode which crashed left behind
/// (older than an hour, so that a running encode is never touched).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if stale && e.file_name().to_string_lossy().contains(".tmp-") {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

fn path_str(p: &Path) -> Result<String, CameraError> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| CameraError::Failed(format!("path is not UTF-8: {}", p.display())))
}

/// Plays `pipeline` until end-of-stream, an error or the timeout.
fn run_to_eos(pipeline: &gst::Pipeline, timeout: Duration) -> Result<(), String> {
    let bus = pipeline.bus().ok_or("pipeline has no bus")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("cannot start: {e}"))?;
    let timeout_ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_nseconds(timeout_ns),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(err)) => Err(format!(
            "{} ({})",
            err.error(),
            err.debug().map(|d| d.to_string()).unwrap_or_default()
        )),
        _ => Err(format!("no end of stream within {} s", timeout.as_secs())),
    }
}

fn load(paths: &CachePaths) -> Result<Scene, CameraError> {
    Ok(Scene {
        main: Arc::new(load_stream(&paths.main)?),
        sub: Arc::new(load_stream(&paths.sub)?),
        stills: Arc::new(load_stills(&paths.stills)?),
    })
}

/// Splits a cached H.264 byte-stream file into access units.
fn load_stream(path: &Path) -> Result<Stream, CameraError> {
    let fail = |m: String| CameraError::Failed(format!("{}: {m}", path.display()));
    let pipeline = gst::parse::launch(
        "filesrc name=src ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au \
         ! appsink name=sink sync=false",
    )
    .map_err(|e| fail(e.to_string()))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| fail("not a pipeline".into()))?;
    let src = pipeline
        .by_name("src")
        .ok_or_else(|| fail("no filesrc".into()))?;
    src.set_property("location", path_str(path)?);
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| fail("no appsink".into()))?;
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        let mut caps = None;
        let mut frames = Vec::new();
        let mut keyframes = Vec::new();
        while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
            if caps.is_none() {
                caps = sample.caps_owned();
            }
            let Some(buffer) = sample.buffer_owned() else {
                continue;
            };
            if !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
                keyframes.push(frames.len());
            }
            frames.push(buffer);
        }
        if let Some(bus) = pipeline.bus()
            && let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
            && let gst::MessageView::Error(err) = msg.view()
        {
            return Err(fail(err.error().to_string()));
        }
        if !sink.is_eos() {
            return Err(fail("reading stalled".into()));
        }
        let caps = caps.ok_or_else(|| fail("no caps".into()))?;
        if keyframes.first() != Some(&0) {
            return Err(fail("does not start with a key frame".into()));
        }
        Ok(Stream {
            caps,
            frames,
            keyframes,
        })
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Reads the per-second stills (`000.jpg`, `001.jpg`, ...) in order.
fn load_stills(dir: &Path) -> Result<Vec<Vec<u8>>, CameraError> {
    let fail = |m: String| CameraError::Failed(format!("{}: {m}", dir.display()));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(e.to_string()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    files.sort();
    let mut stills = Vec::with_capacity(files.len());
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| fail(e.to_string()))?;
        if !bytes.starts_with(&[0xff, 0xd8]) {
            return Err(fail(format!("{} is not a JPEG", f.display())));
        }
        stills.push(bytes);
    }
    if stills.is_empty() {
        return Err(fail("no stills".into()));
    }
    Ok(stills)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_carry_the_settings_and_stay_in_the_folder() {
        let v = VideoConfig::default();
        let p = CachePaths::new(Path::new("/d"), "../ev il", "Lobby", &v);
        let name = p.main.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            name.starts_with("___ev_il-1280x720-25fps-1g-10s-"),
            "{name}"
        );
        assert!(name.ends_with(".h264"));
        assert_eq!(p.main.parent(), Some(Path::new("/d")));
        let other = CachePaths::new(Path::new("/d"), "../ev il", "Dock", &v);
        assert_ne!(p.main, other.main, "the label is part of the name");
    }

    #[test]
    fn bitrates_follow_the_brief() {
        assert_eq!(bitrate_kbps(1280, 720), 2000);
        assert_eq!(bitrate_kbps(640, 360), 500);
        assert_eq!(bitrate_kbps(16, 16), 64);
    }

    #[test]
    fn keyframe_lookup_wraps_the_loop() {
        let s = Stream {
            caps: gst::Caps::new_empty(),
            frames: Vec::new(),
            keyframes: vec![0, 25, 50],
        };
        // No frames: always frame 0.
        assert_eq!(s.keyframe_at_or_before(7), 0);
        let s = Stream {
            frames: (0..75).map(|_| gst::Buffer::new()).collect(),
            ..s
        };
        assert_eq!(s.keyframe_at_or_before(0), 0);
        assert_eq!(s.keyframe_at_or_before(24), 0);
        assert_eq!(s.keyframe_at_or_before(25), 25);
        assert_eq!(s.keyframe_at_or_before(74), 50);
        assert_eq!(s.keyframe_at_or_before(75 + 30), 25);
    }
}

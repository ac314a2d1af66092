//! Cameras on the site. Real cameras are probed for their stream facts and
//! stills ([`probe`]). The demo cameras: an in-process RTSP server (gst-rtsp-server on loopback)
//! that serves each demo scene as a main and a sub stream, encoded once and
//! looped with fresh timestamps, plus one live-encoded latency camera; and
//! the latest still of each camera as a JPEG.
//!
//! Cost: a scene is encoded once into `data_dir/scenes` and kept in memory
//! as access units; serving pushes them into a shared `appsrc ! rtph264pay`
//! media per stream (one pipeline for all clients of a stream, none when
//! nobody watches) from a single feeder thread that wakes once per frame
//! interval for all streams.
//!
//! Time: every pipeline runs on a realtime system clock and each frame's
//! timestamp is the running time at which it is sent (cached scenes) or
//! captured (the live camera, whose `rtpbin` is told to map RTP time to
//! capture rather than send time), so RTCP sender reports map RTP time to
//! the wall clock (NTP) and a client's
//! `rtspsrc add-reference-timestamp-meta=true` yields each frame's capture
//! time.

mod feeder;
mod probe;
mod scenes;

pub use probe::{ProbeError, Probes, StreamFacts, probe_stream, rate_from_pts};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

use self::feeder::{Feeder, FeederHandle, Grid};
use self::scenes::Stream;
use crate::config::{CameraSource, SiteConfig, VideoConfig};
use crate::domain::{CameraId, ErrorKind};

/// Why the demo cameras cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// A GStreamer plugin is not installed; `package` is the Debian package.
    #[error("GStreamer element {element:?} is missing (install {package})")]
    MissingElement { element: String, package: String },
    /// Anything else: bad video settings, encode or server failure.
    #[error("demo cameras: {0}")]
    Failed(String),
}

impl CameraError {
    /// Always `Unavailable`: the site works on without its demo cameras.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Unavailable
    }
}

/// RTP packet size. The server only listens on loopback (MTU 64 KiB), so
/// packets larger than Ethernet's 1400 are safe, and fewer packets cost both
/// server and client less; 8000 stays under what ffmpeg-based players take
/// (8192).
const RTP_MTU: u32 = 8000;

/// Loopback UDP ports for RTP and RTCP over UDP (taken in pairs; a port in
/// use is skipped).
const UDP_PORTS: (u16, u16) = (41000, 48999);

/// Every element the demo cameras use, with the Debian package that has it.
const ELEMENTS: &[(&str, &str)] = &[
    ("videotestsrc", "gstreamer1.0-plugins-base"),
    ("videoconvert", "gstreamer1.0-plugins-base"),
    ("videoscale", "gstreamer1.0-plugins-base"),
    ("videorate", "gstreamer1.0-plugins-base"),
    ("compositor", "gstreamer1.0-plugins-base"),
    ("appsrc", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("textoverlay", "gstreamer1.0-plugins-base (pango)"),
    ("x264enc", "gstreamer1.0-plugins-ugly"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
    ("rtph264pay", "gstreamer1.0-plugins-good"),
    ("rtpbin", "gstreamer1.0-plugins-good"),
    ("jpegenc", "gstreamer1.0-plugins-good"),
    ("multifilesink", "gstreamer1.0-plugins-good"),
    ("filesrc", "libgstreamer1.0-0"),
    ("filesink", "libgstreamer1.0-0"),
    ("tee", "libgstreamer1.0-0"),
    ("queue", "libgstreamer1.0-0"),
];

fn check_elements() -> Result<(), CameraError> {
    for (element, package) in ELEMENTS {
        if gst::ElementFactory::find(element).is_none() {
            return Err(CameraError::MissingElement {
                element: (*element).to_owned(),
                package: (*package).to_owned(),
            });
        }
    }
    Ok(())
}

fn check_video(v: &VideoConfig) -> Result<(), CameraError> {
    let sizes = [v.main_width, v.main_height, v.sub_width, v.sub_height];
    if sizes
        .iter()
        .any(|&s| !(16..=7680).contains(&s) || s % 2 != 0)
    {
        return Err(CameraError::Failed(format!(
            "video sizes must be even and 16..7680 pixels: main {}x{}, sub {}x{}",
            v.main_width, v.main_height, v.sub_width, v.sub_height
        )));
    }
    if !(1..=120).contains(&v.fps) || !(1..=60).contains(&v.gop_seconds) {
        return Err(CameraError::Failed(format!(
            "fps must be 1..120 and gop_seconds 1..60 (fps {}, gop_seconds {})",
            v.fps, v.gop_seconds
        )));
    }
    if !(1..=600).contains(&v.scene_seconds) {
        return Err(CameraError::Failed(format!(
            "scene_seconds must be 1..600, not {}",
            v.scene_seconds
        )));
    }
    Ok(())
}

/// One served camera: its stall switch and, for a cached scene, its stills.
struct Cam {
    stalled: Arc<AtomicBool>,
    /// The frame tick at which it stalled: its still freezes there too.
    stalled_tick: AtomicU64,
    stills: Option<Arc<Vec<Vec<u8>>>>,
}

/// The running demo RTSP server. Dropping it stops the server.
pub struct DemoCameras {
    base: String,
    cameras: HashMap<CameraId, Cam>,
    grid: Grid,
    fps: u64,
    loop_frames: u64,
    encoded: usize,
    server: rtsp::RTSPServer,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    server_source: Option<glib::SourceId>,
    cleanup_source: glib::Source,
    thread: Option<JoinHandle<()>>,
    feeder: Feeder,
}

impl DemoCameras {
    /// Encodes missing scenes into `data_dir/scenes` (once), then serves every
    /// camera of `cfg` whose source is a demo scene on 127.0.0.1 (whatever
    /// `video.demo_cameras` says: the caller decides whether to start).
    /// Blocks for the encode the first time (about 90 s for the demo site on
    /// 2 cores), otherwise well under a second.
    pub fn start(cfg: &SiteConfig, data_dir: &Path) -> Result<DemoCameras, CameraError> {
        Self::start_with_progress(cfg, data_dir, &|_, _| {})
    }

    /// As [`DemoCameras::start`], telling `progress(ready, total)` as each
    /// camera's scene is loaded or encoded.
    pub fn start_with_progress(
        cfg: &SiteConfig,
        data_dir: &Path,
        progress: &dyn Fn(usize, usize),
    ) -> Result<DemoCameras, CameraError> {
        gst::init().map_err(|e| CameraError::Failed(format!("GStreamer: {e}")))?;
        check_elements()?;
        let v = &cfg.video;
        check_video(v)?;

        // Encode or load every cached scene first: nothing listens until the
        // cameras can be served.
        let scenes_dir = data_dir.join("scenes");
        let mut served = Vec::new();
        let mut encoded = 0;
        let total = cfg
            .cameras
            .iter()
            .filter(|c| matches!(c.source, CameraSource::Demo { .. }))
            .count();
        progress(0, total);
        for c in &cfg.cameras {
            let CameraSource::Demo { scene } = &c.source else {
                continue;
            };
            if v.latency_camera && scene == "clock" {
                served.push((c, None));
            } else {
                let (s, fresh) = scenes::load_or_encode(&scenes_dir, scene, &c.name, v)?;
                encoded += usize::from(fresh);
                served.push((c, Some(s)));
            }
            progress(served.len(), total);
        }

        let fps = v.fps;
        let grid = Grid {
            epoch: Instant::now(),
            frame: Duration::from_nanos(1_000_000_000 / u64::from(fps)),
        };
        let feeder = Feeder::start(grid)
            .map_err(|e| CameraError::Failed(format!("cannot start the feeder thread: {e}")))?;
        let clock: gst::Clock = glib::Object::builder::<gst::SystemClock>()
            .property("clock-type", gst::ClockType::Realtime)
            .build()
            .upcast();

        // UDP transports send from (and take RTCP on) loopback ports only,
        // not the wildcard address gst-rtsp-server binds by default.
        let udp_ports = rtsp::RTSPAddressPool::new();
        udp_ports
            .add_range("127.0.0.1", "127.0.0.1", UDP_PORTS.0, UDP_PORTS.1, 0)
            .map_err(|e| CameraError::Failed(format!("UDP port range: {e}")))?;
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&v.rtsp_port.to_string());
        let mounts = server
            .mount_points()
            .ok_or_else(|| CameraError::Failed("RTSP server has no mount points".into()))?;
        let mut cameras = HashMap::new();
        for (c, scene) in served {
            let stalled = Arc::new(AtomicBool::new(false));
            let id = c.id.as_str();
            match scene {
                Some(s) => {
                    for (path, stream) in [("main", &s.main), ("sub", &s.sub)] {
                        let f = scene_factory(&feeder.handle(), stream.clone(), stalled.clone());
                        f.set_clock(Some(&clock));
                        f.set_address_pool(Some(&udp_ports));
                        mounts.add_factory(&format!("/{id}/{path}"), f);
                    }
                    cameras.insert(
                        c.id.clone(),
                        Cam {
                            stalled,
                            stalled_tick: AtomicU64::new(0),
                            stills: Some(s.stills),
                        },
                    );
                }
                None => {
                    for (path, w, h) in [
                        ("main", v.main_width, v.main_height),
                        ("sub", v.sub_width, v.sub_height),
                    ] {
                        let f = live_factory(
                            &c.name,
                            w,
                            h,
                            fps,
                            cfg.time_zone(),
                            &clock,
                            stalled.clone(),
                        );
                        f.set_address_pool(Some(&udp_ports));
                        mounts.add_factory(&format!("/{id}/{path}"), f);
                    }
                    cameras.insert(
                        c.id.clone(),
                        Cam {
                            stalled,
                            stalled_tick: AtomicU64::new(0),
                            stills: None,
                        },
                    );
                }
            }
        }

        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let server_source = server.attach(Some(&context)).map_err(|e| {
            CameraError::Failed(format!("cannot listen on 127.0.0.1:{}: {e}", v.rtsp_port))
        })?;
        let port = server.bound_port();
        if port <= 0 {
            return Err(CameraError::Failed("RTSP server bound no port".into()));
        }
        // Sessions of clients that vanished without TEARDOWN time out here.
        let pool = server.session_pool();
        let cleanup_source = glib::timeout_source_new(
            Duration::from_secs(2),
            Some("demo-rtsp-session-cleanup"),
            glib::Priority::DEFAULT,
            move || {
                if let Some(p) = &pool {
                    p.cleanup();
                }
                glib::ControlFlow::Continue
            },
        );
        cleanup_source.attach(Some(&context));
        let (ctx, ml) = (context.clone(), main_loop.clone());
        let thread = std::thread::Builder::new()
            .name("demo-rtsp".into())
            .spawn(move || {
                if ctx.with_thread_default(|| ml.run()).is_err() {
                    tracing::error!("demo RTSP main context is owned by another thread");
                }
            })
            .map_err(|e| CameraError::Failed(format!("cannot start the RTSP thread: {e}")))?;

        let base = format!("rtsp://127.0.0.1:{port}");
        tracing::info!(%base, cameras = cameras.len(), encoded, "demo cameras serving");
        Ok(DemoCameras {
            base,
            cameras,
            grid,
            fps: u64::from(fps),
            loop_frames: u64::from(v.scene_seconds) * u64::from(fps),
            encoded,
            server,
            context,
            main_loop,
            server_source: Some(server_source),
            cleanup_source,
            thread: Some(thread),
            feeder,
        })
    }

    /// `rtsp://127.0.0.1:PORT`: a camera's streams are `{base}/{id}/main` and
    /// `{base}/{id}/sub`.
    pub fn rtsp_base(&self) -> String {
        self.base.clone()
    }

    /// How many scenes `start` had to encode (0 when all came from the cache).
    pub fn encoded_scenes(&self) -> usize {
        self.encoded
    }

    /// The newest frame of a camera as a JPEG (sub size): the cached still of
    /// the current second of its scene loop (of the second it stalled at,
    /// while stalled). `None` for unknown cameras and the live latency
    /// camera.
    pub fn still_jpeg(&self, camera: &CameraId) -> Option<Vec<u8>> {
        let cam = self.cameras.get(camera)?;
        let stills = cam.stills.as_ref()?;
        let tick = if cam.stalled.load(Ordering::Relaxed) {
            cam.stalled_tick.load(Ordering::Relaxed)
        } else {
            self.grid.tick_at(Instant::now())
        };
        let frame = tick % self.loop_frames.max(1);
        let second = usize::try_from(frame / self.fps.max(1)).unwrap_or(0);
        stills
            .get(second.min(stills.len().saturating_sub(1)))
            .cloned()
    }

    /// Fault injection: a stalled camera keeps its connections but sends no
    /// frames until released; then it starts again at a key frame with fresh
    /// timestamps. False for an unknown camera.
    pub fn set_stalled(&self, camera: &CameraId, stalled: bool) -> bool {
        let Some(cam) = self.cameras.get(camera) else {
            return false;
        };
        if stalled {
            let now = self.grid.tick_at(Instant::now());
            if !cam.stalled.load(Ordering::Relaxed) {
                cam.stalled_tick.store(now, Ordering::Relaxed);
            }
        }
        if cam.stalled.swap(stalled, Ordering::Relaxed) != stalled {
            tracing::info!(camera = %camera, stalled, "demo camera stall changed");
        }
        self.feeder.wake();
        true
    }
}

impl Drop for DemoCameras {
    fn drop(&mut self) {
        // Everything the server's loop owns is undone on the loop's own
        // thread: closing a client from here raced the loop's read on its
        // connection (once, a flood of `GLib-GIO-CRITICAL
        // g_pollable_input_stream_read_nonblocking` at a test's teardown).
        // Closing every client and session first stops the shared media
        // (their pipelines go to NULL) before the loop ends.
        let server = self.server.clone();
        let cleanup = self.cleanup_source.clone();
        let context = self.context.clone();
        let mut server_source = self.server_source.take();
        let main_loop = self.main_loop.clone();
        let stop = glib::idle_source_new(Some("demo-rtsp-stop"), glib::Priority::HIGH, move || {
            let _ = server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            if let Some(pool) = server.session_pool() {
                let _ = pool.filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            }
            cleanup.destroy();
            if let Some(id) = server_source.take()
                && let Some(source) = context.find_source_by_id(&id)
            {
                source.destroy();
            }
            // Quit from inside the loop: a quit() before the thread
            // entered run() would be lost.
            main_loop.quit();
            glib::ControlFlow::Break
        });
        stop.attach(Some(&self.context));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A shared media factory that serves `stream` from an `appsrc` the feeder
/// fills.
fn scene_factory(
    feeder: &FeederHandle,
    stream: Arc<Stream>,
    stalled: Arc<AtomicBool>,
) -> rtsp::RTSPMediaFactory {
    let factory = rtsp::RTSPMediaFactory::new();
    // No parser here: the cached access units are already parsed, with
    // SPS/PPS before every key frame, and rtph264pay takes them as they are.
    factory.set_launch(&format!(
        "( appsrc name=src is-live=true format=time do-timestamp=false min-latency=0 \
         ! rtph264pay name=pay0 pt=96 config-interval=-1 mtu={RTP_MTU} )"
    ));
    factory.set_shared(true);
    let feeder = feeder.clone();
    factory.connect_media_configure(move |_, media| {
        let Ok(bin) = media.element().downcast::<gst::Bin>() else {
            tracing::error!("demo camera media is not a bin");
            return;
        };
        stamp_capture_time(&bin);
        let Some(src) = bin
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        else {
            tracing::error!("demo camera media has no appsrc");
            return;
        };
        src.set_caps(Some(&stream.caps));
        // Frames queued while no client plays yet: keep at most one second.
        src.set_max_time(gst::ClockTime::SECOND);
        src.set_max_bytes(0);
        src.set_leaky_type(gst_app::AppLeakyType::Downstream);
        feeder.register(&src, stream.clone(), stalled.clone());
    });
    factory
}

/// A shared media factory for the latency camera: live-encoded, with the
/// capture time (site time, milliseconds) burned in; it encodes only while
/// someone watches.
fn live_factory(
    name: &str,
    width: u32,
    height: u32,
    fps: u32,
    tz: chrono_tz::Tz,
    clock: &gst::Clock,
    stalled: Arc<AtomicBool>,
) -> rtsp::RTSPMediaFactory {
    let factory = rtsp::RTSPMediaFactory::new();
    let kbps = (u64::from(width) * u64::from(height) * 2000 / (1280 * 720)).clamp(64, 20_000);
    factory.set_launch(&format!(
        "( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width={width},height={height},framerate={fps}/1 \
         ! textoverlay name=label valignment=top halignment=left font-desc=\"Sans Bold 14\" shaded-background=true \
         ! textoverlay name=clock valignment=center halignment=center font-desc=\"Monospace Bold 32\" shaded-background=true \
         ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bframes=0 bitrate={kbps} \
         ! rtph264pay name=pay0 pt=96 config-interval=-1 mtu={RTP_MTU} )"
    ));
    factory.set_shared(true);
    factory.set_clock(Some(clock));
    let name = name.to_owned();
    let clock = clock.clone();
    factory.connect_media_configure(move |_, media| {
        let Ok(bin) = media.element().downcast::<gst::Bin>() else {
            return;
        };
        if let Some(label) = bin.by_name("label") {
            label.set_property("text", &name);
        }
        stamp_capture_time(&bin);
        let Some(overlay) = bin.by_name("clock") else {
            tracing::error!("latency camera media has no clock overlay");
            return;
        };
        let Some(pad) = overlay.static_pad("video_sink") else {
            return;
        };
        let weak = overlay.downgrade();
        let clock = clock.clone();
        let stalled = stalled.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if stalled.load(Ordering::Relaxed) {
                // Handled, not Drop: GStreamer 1.22 logs a critical when a
                // Rust probe drops a buffer (the binding already released it).
                return gst::PadProbeReturn::Handled;
            }
            let (Some(overlay), Some(pts)) = (weak.upgrade(), info.buffer().and_then(|b| b.pts()))
            else {
                return gst::PadProbeReturn::Ok;
            };
            // On the realtime clock, base time + running time is the capture
            // time as Unix time: exactly what RTCP reports for this frame.
            let unix_ns = match overlay.base_time() {
                Some(base) if overlay.clock().as_ref() == Some(&clock) => (base + pts).nseconds(),
                _ => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(0))
                    .unwrap_or(0),
            };
            overlay.set_property("text", format_capture_time(unix_ns, tz));
            // The same time, machine-readable: tests and benches read it
            // back from the pixels a client shows.
            if let (Some(caps), Some(gst::PadProbeData::Buffer(buffer))) =
                (pad.current_caps(), info.data.as_mut())
            {
                burn_time_code(buffer.make_mut(), &caps, unix_ns / 1_000_000);
            }
            gst::PadProbeReturn::Ok
        });
    });
    factory
}

/// Burns `unix_ms` into an I420 picture as a [`crate::domain::timecode`]
/// strip, its chroma grey.
fn burn_time_code(buffer: &mut gst::BufferRef, caps: &gst::Caps, unix_ms: u64) {
    use crate::domain::timecode;
    let Ok(info) = gstreamer_video::VideoInfo::from_caps(caps) else {
        return;
    };
    if info.format() != gstreamer_video::VideoFormat::I420 {
        return;
    }
    let (width, height) = (info.width(), info.height());
    let Ok(mut frame) = gstreamer_video::VideoFrameRef::from_buffer_ref_writable(buffer, &info)
    else {
        return;
    };
    let strides: Vec<usize> = info
        .stride()
        .iter()
        .map(|s| usize::try_from(*s).unwrap_or(0))
        .collect();
    if let Ok(y) = frame.plane_data_mut(0) {
        timecode::burn_luma(y, strides[0], width, height, unix_ms);
    }
    let block = (width / timecode::BLOCKS).max(1) as usize;
    let strip_w = block * (timecode::BITS as usize + 4) / 2;
    let rows = timecode::rows(width, height);
    for plane in [1, 2] {
        let Ok(data) = frame.plane_data_mut(plane) else {
            continue;
        };
        for row in rows.start / 2..rows.end.div_ceil(2) {
            let from = row as usize * strides[plane as usize];
            if let Some(cells) = data.get_mut(from..from + strip_w) {
                cells.fill(128);
            }
        }
    }
}

/// Makes a demo camera behave like a real one: its RTCP sender reports map
/// RTP time to the frame's capture time, and it sends each frame as soon as
/// it has it. By default `rtpbin` maps RTP time to the time a packet is due
/// out (`rtcp-sync-send-time=true`: capture + the pipeline's latency,
/// x264's included, extrapolated from the last packet sent), which leaves
/// the camera's own delay out of every capture time a client computes and
/// skews the scene cameras' by up to a frame; and the media's sinks may hold
/// packets to the clock. Capture time is the start of the frame's period
/// for the live camera (`videotestsrc` pushes a frame one period after its
/// timestamp, as a camera reads a frame out after exposing it) and the push
/// for the looped scenes.
pub(crate) fn stamp_capture_time(media_bin: &gst::Bin) {
    fn set(element: &gst::Element) {
        match element.factory().map(|f| f.name()) {
            Some(name) if name == "rtpbin" => {
                element.set_property("rtcp-sync-send-time", false);
            }
            Some(name) if name == "multiudpsink" || name == "appsink" => {
                element.set_property("sync", false);
            }
            _ => {}
        }
    }
    let Some(pipeline) = media_bin
        .parent()
        .and_then(|p| p.downcast::<gst::Bin>().ok())
    else {
        tracing::warn!("demo camera media has no pipeline; capture times will be send times");
        return;
    };
    pipeline.connect_element_added(|_, element| set(element));
    for element in pipeline.children() {
        set(&element);
    }
}

/// `HH:MM:SS.mmm TZ` in the site's time zone.
fn format_capture_time(unix_ns: u64, tz: chrono_tz::Tz) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(i64::try_from(unix_ns).unwrap_or(0));
    t.with_timezone(&tz).format("%H:%M:%S%.3f %Z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_time_is_site_time_with_milliseconds() {
        // 2026-01-02 03:04:05.678 UTC is 04:04:05.678 in Berlin (CET).
        let ns = 1_767_323_045_678_000_000;
        assert_eq!(
            format_capture_time(ns, chrono_tz::Europe::Berlin),
            "04:04:05.678 CET"
        );
    }

    #[test]
    fn odd_video_settings_are_refused() {
        let mut v = VideoConfig::default();
        assert!(check_video(&v).is_ok());
        v.fps = 0;
        assert!(check_video(&v).is_err());
        v = VideoConfig::default();
        v.main_width = 1281;
        assert!(check_video(&v).is_err());
    }
}

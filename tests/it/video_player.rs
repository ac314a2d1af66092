//! The live video engine end to end: real GStreamer, a real in-process RTSP
//! server (gst-rtsp-server on a loopback port), real `rtspsrc` players.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::rtsp_fixture::RunningServer;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use watchdesk::domain::{Camera, CameraId, StreamInfo};
use watchdesk::video::{
    self, Credentials, EngineOptions, StreamChoice, TileRequest, TileStatus, TileView, VideoEngine,
    VideoError,
};

const W: u32 = 320;
const H: u32 = 240;
const FPS: u32 = 15;

/// An RTSP server on 127.0.0.1 serving `/test` (320×240 H.264), `/small`
/// (160×120 H.264) and `/mjpeg` (an unsupported codec), live-encoded.
struct Server {
    gates: Gates,
    running: RunningServer,
}

/// The `valve`s of the served media, to freeze them.
type Gates = Arc<Mutex<Vec<glib::WeakRef<gst::Element>>>>;

fn h264_factory(w: u32, h: u32, gates: &Gates) -> rtsp::RTSPMediaFactory {
    let f = rtsp::RTSPMediaFactory::new();
    f.set_launch(&format!(
        "( videotestsrc is-live=true ! video/x-raw,width={w},height={h},framerate={FPS}/1 \
         ! valve name=gate ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 \
         bframes=0 bitrate=300 ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    ));
    f.set_shared(true);
    let gates = gates.clone();
    f.connect_media_configure(move |_, media| {
        if let Some(gate) = media
            .element()
            .downcast::<gst::Bin>()
            .ok()
            .and_then(|b| b.by_name("gate"))
        {
            gates.lock().expect("gates lock").push(gate.downgrade());
        }
    });
    f
}

impl Server {
    /// Serves on `port` (0: any free port). With `auth`, every path needs
    /// those basic credentials.
    fn start(port: u16, auth: Option<(&str, &str)>) -> Server {
        gst::init().expect("GStreamer init");
        let gates = Gates::default();
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let mounts = server.mount_points().expect("mount points");
        let test = h264_factory(W, H, &gates);
        let small = h264_factory(W / 2, H / 2, &gates);
        let mjpeg = rtsp::RTSPMediaFactory::new();
        mjpeg.set_launch(
            "( videotestsrc is-live=true ! video/x-raw,format=I420,width=160,height=120,framerate=5/1 \
             ! jpegenc ! rtpjpegpay name=pay0 pt=26 )",
        );
        if let Some((user, pass)) = auth {
            let a = rtsp::RTSPAuth::new();
            let token = rtsp::RTSPToken::builder()
                .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
                .build();
            a.add_basic(&rtsp::RTSPAuth::make_basic(user, pass), &token);
            server.set_auth(Some(&a));
            let role = gst::Structure::builder("user")
                .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                .build();
            for f in [&test, &small, &mjpeg] {
                f.add_role_from_structure(&role);
            }
        }
        mounts.add_factory("/test", test);
        mounts.add_factory("/small", small);
        mounts.add_factory("/mjpeg", mjpeg);
        Server {
            gates,
            running: RunningServer::run(server),
        }
    }

    fn url(&self, path: &str) -> String {
        self.running.url(path)
    }

    /// A frozen camera keeps its connections but sends no pictures.
    fn freeze(&self, frozen: bool) {
        for gate in self
            .gates
            .lock()
            .expect("gates lock")
            .iter()
            .filter_map(|g| g.upgrade())
        {
            gate.set_property("drop", frozen);
        }
    }
}

fn camera(main_url: &str, main: [u32; 2], sub_url: &str, sub: [u32; 2]) -> Camera {
    let info = |url: &str, [width, height]: [u32; 2]| StreamInfo {
        url: url.to_owned(),
        width,
        height,
        fps: FPS,
        codec: "h264".into(),
        ..Default::default()
    };
    Camera {
        id: CameraId::new("cam-test"),
        name: "Test camera".into(),
        main: info(main_url, main),
        sub: info(sub_url, sub),
        map: None,
        state: Default::default(),
        auth_required: false,
        reason: None,
    }
}

fn options() -> EngineOptions {
    // RUST_LOG=watchdesk=debug shows the engine's decisions.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let mut o = EngineOptions::new(Arc::new(|| {}));
    o.stall_ms = 1000;
    o.resize_debounce_ms = 50;
    o
}

/// Drives an engine the way the UI does (a tile call every 10 ms) and
/// records the slowest `tile()` call.
struct Ui {
    engine: VideoEngine,
    slowest: Duration,
}

impl Ui {
    fn new(opts: EngineOptions) -> Ui {
        Ui {
            engine: VideoEngine::new(opts),
            slowest: Duration::ZERO,
        }
    }

    fn view(&mut self, cam: &Camera, size_px: [u32; 2], single_view: bool) -> TileView {
        let t = Instant::now();
        let v = self.engine.tile(&TileRequest {
            key: "tile-1",
            camera: cam,
            size_px,
            single_view,
            playback: None,
        });
        self.engine.end_frame();
        self.slowest = self.slowest.max(t.elapsed());
        v
    }

    /// Asks for the tile until `done` holds; panics with the statuses seen
    /// after `timeout`.
    fn until(
        &mut self,
        cam: &Camera,
        size_px: [u32; 2],
        single_view: bool,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut(&TileView) -> bool,
    ) -> TileView {
        let start = Instant::now();
        let mut seen: Vec<String> = Vec::new();
        loop {
            let v = self.view(cam, size_px, single_view);
            let name = status_name(&v.status);
            if seen.last() != Some(&name) {
                seen.push(name);
            }
            if done(&v) {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "{what}: not reached within {timeout:?}; statuses seen: {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn assert_responsive(&self) {
        assert!(
            self.slowest < Duration::from_millis(50),
            "tile() took {:?} at worst",
            self.slowest
        );
    }
}

fn status_name(s: &TileStatus) -> String {
    match s {
        TileStatus::Reconnecting {
            attempt, reason, ..
        } => format!("Reconnecting({attempt}, {reason})"),
        TileStatus::Stalled { .. } => "Stalled".into(),
        other => format!("{other:?}"),
    }
}

fn is_playing_with_frame(v: &TileView) -> bool {
    v.status == TileStatus::Playing && v.frame.is_some()
}

#[test]
fn every_needed_element_is_installed() {
    let missing = video::check_elements();
    assert!(missing.is_empty(), "missing: {missing:?}");
}

#[test]
fn decodes_rgba_frames_halved_to_the_tile_and_resizes_without_restart() {
    let server = Server::start(0, None);
    let url = server.url("/test");
    let cam = camera(&url, [W, H], &url, [W, H]);
    let mut ui = Ui::new(options());

    // A tile half the stream's size gets the picture halved once.
    let started = Instant::now();
    let v = ui.until(
        &cam,
        [W / 2, H / 2],
        false,
        Duration::from_secs(10),
        "first frame",
        |v| v.frame.is_some(),
    );
    let first_frame = started.elapsed();
    let f = v.frame.expect("frame");
    assert_eq!((f.width, f.height), (W / 2, H / 2));
    assert_eq!(f.rgba.len(), (W / 2 * H / 2 * 4) as usize);
    let first_px = &f.rgba[..4];
    assert!(
        f.rgba.chunks_exact(4).any(|px| px != first_px),
        "the picture is one flat colour"
    );
    assert!(
        f.rgba.chunks_exact(4).all(|px| px[3] == 255),
        "alpha not opaque"
    );
    // videotestsrc's first bar (top left) is white, its second yellow.
    let px = |x: u32, y: u32| {
        let i = ((y * f.width + x) * 4) as usize;
        [f.rgba[i], f.rgba[i + 1], f.rgba[i + 2]]
    };
    let white = px(2, 2);
    let yellow = px(f.width / 7 + 2, 2);
    assert!(white.iter().all(|&c| c > 200), "white bar: {white:?}");
    assert!(
        yellow[0] > 200 && yellow[1] > 200 && yellow[2] < 60,
        "yellow bar: {yellow:?}"
    );
    assert_eq!(v.status, TileStatus::Playing);

    // A second of playing: stats and capture times.
    let v = ui.until(
        &cam,
        [W / 2, H / 2],
        false,
        Duration::from_secs(5),
        "stats",
        |v| v.stats.source_fps > 0.0 && v.stats.bitrate_kbps > 0.0,
    );
    let number_before = v.frame.as_ref().map_or(0, |f| f.number);
    let capture = v.frame.as_ref().and_then(|f| f.capture_time);
    eprintln!(
        "first frame after {first_frame:?}; stats {:?}; capture time {capture:?}",
        v.stats
    );
    assert!(
        v.stats.decode_ms > 0.0,
        "decode time measured: {:?}",
        v.stats
    );
    assert_eq!((v.stats.width, v.stats.height), (W / 2, H / 2));

    // Resize smaller: same player, halved twice, numbers keep rising.
    let v = ui.until(
        &cam,
        [W / 4, H / 4],
        false,
        Duration::from_secs(5),
        "smaller frame",
        |v| v.frame.as_ref().is_some_and(|f| f.width == W / 4),
    );
    let f = v.frame.expect("frame");
    assert_eq!(
        (f.width, f.height, f.rgba.len()),
        (W / 4, H / 4, (W / 4 * H / 4 * 4) as usize)
    );
    assert!(
        f.number > number_before,
        "{} after {number_before}",
        f.number
    );
    // Larger than half the stream: the whole picture (the renderer scales
    // the last step).
    let v = ui.until(
        &cam,
        [W / 2 + 40, H / 2 + 30],
        false,
        Duration::from_secs(5),
        "larger frame",
        |v| v.frame.as_ref().is_some_and(|f| f.width == W),
    );
    let f = v.frame.expect("frame");
    assert_eq!((f.width, f.height), (W, H));
    assert_eq!(v.status, TileStatus::Playing);
    assert_eq!(ui.engine.active_players(), 1);
    ui.assert_responsive();

    // RTP over UDP plays as well.
    let mut opts = options();
    opts.transport = video::Transport::Udp;
    let mut udp = Ui::new(opts);
    let v = udp.until(
        &cam,
        [W / 2, H / 2],
        false,
        Duration::from_secs(10),
        "udp",
        is_playing_with_frame,
    );
    assert_eq!(
        v.frame.map(|f| f.rgba.len()),
        Some((W / 2 * H / 2 * 4) as usize)
    );
    udp.assert_responsive();
}

#[test]
fn a_stalled_then_stopped_camera_reconnects_when_it_returns() {
    let server = Server::start(0, None);
    let port = server.running.port;
    let url = server.url("/test");
    let cam = camera(&url, [W, H], &url, [W, H]);
    let mut ui = Ui::new(options());
    let size = [160, 128];
    let v = ui.until(
        &cam,
        size,
        false,
        Duration::from_secs(10),
        "playing",
        is_playing_with_frame,
    );
    let number_before = v.frame.as_ref().map_or(0, |f| f.number);

    // The camera hangs: connection open, no pictures.
    server.freeze(true);
    let v = ui.until(&cam, size, false, Duration::from_secs(3), "stalled", |v| {
        matches!(v.status, TileStatus::Stalled { .. })
    });
    assert!(v.frame.is_some(), "the last frame stays on a stalled tile");

    // Then it goes away altogether.
    drop(server);
    let v = ui.until(
        &cam,
        size,
        false,
        Duration::from_secs(5),
        "reconnecting",
        |v| matches!(v.status, TileStatus::Reconnecting { .. }),
    );
    let TileStatus::Reconnecting {
        attempt, retry_at, ..
    } = &v.status
    else {
        unreachable!()
    };
    assert!(*attempt >= 1);
    assert!(*retry_at > Instant::now() - Duration::from_secs(1));
    assert!(v.frame.is_some(), "the last frame stays while reconnecting");
    // While it is away, connecting fails and says why.
    ui.until(&cam, size, false, Duration::from_secs(8), "refused", |v| {
        matches!(&v.status, TileStatus::Reconnecting { reason, .. } if reason.contains("refused"))
    });

    // It comes back on the same port: the tile plays again by itself.
    let server = Server::start(port, None);
    let back = Instant::now();
    ui.until(
        &cam,
        size,
        false,
        Duration::from_secs(15),
        "playing again",
        |v| is_playing_with_frame(v) && v.frame.as_ref().is_some_and(|f| f.number > number_before),
    );
    eprintln!(
        "playing again {:?} after the camera returned",
        back.elapsed()
    );
    assert_eq!(ui.engine.active_players(), 1);
    ui.assert_responsive();
    drop(server);
}

#[test]
fn failures_show_their_error_without_freezing_the_ui() {
    let server = Server::start(0, None);
    let secured = Server::start(0, Some(("admin", "right")));
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let wait = Duration::from_secs(10);
    let size = [160, 128];

    // Unknown path.
    let mut ui = Ui::new(options());
    let url = server.url("/nope");
    let cam = camera(&url, [W, H], &url, [W, H]);
    let v = ui.until(&cam, size, false, wait, "not found", |v| {
        matches!(v.status, TileStatus::Error(_))
    });
    assert!(
        matches!(&v.status, TileStatus::Error(VideoError::NotFound(p)) if p == "/nope"),
        "{:?}",
        v.status
    );

    // Refused connection: keeps retrying, saying why.
    let url = format!("rtsp://127.0.0.1:{closed_port}/test");
    let cam = camera(&url, [W, H], &url, [W, H]);
    let v = ui.until(&cam, size, false, wait, "refused", |v| {
        matches!(v.status, TileStatus::Reconnecting { .. })
    });
    let TileStatus::Reconnecting { reason, .. } = &v.status else {
        unreachable!()
    };
    assert!(reason.contains("refused"), "{reason}");
    ui.until(&cam, size, false, wait, "second attempt", |v| {
        matches!(v.status, TileStatus::Reconnecting { attempt: 2.., .. })
    });

    // Unsupported codec (MJPEG).
    let url = server.url("/mjpeg");
    let cam = camera(&url, [W, H], &url, [W, H]);
    let v = ui.until(&cam, size, false, wait, "unsupported", |v| {
        matches!(v.status, TileStatus::Error(_))
    });
    assert!(
        matches!(
            &v.status,
            TileStatus::Error(VideoError::UnsupportedCodec(_))
        ),
        "{:?}",
        v.status
    );

    // A missing decoder element.
    let mut opts = options();
    opts.decoder = Some("nosuchdecoder".into());
    let mut broken = Ui::new(opts);
    let url = server.url("/test");
    let cam = camera(&url, [W, H], &url, [W, H]);
    let v = broken.until(&cam, size, false, wait, "missing element", |v| {
        matches!(v.status, TileStatus::Error(_))
    });
    assert!(
        matches!(&v.status, TileStatus::Error(VideoError::MissingElement { element, .. }) if element == "nosuchdecoder"),
        "{:?}",
        v.status
    );
    broken.assert_responsive();

    // Wrong credentials, then the right ones.
    let url = secured.url("/test");
    let cam = camera(&url, [W, H], &url, [W, H]);
    for (password, want_ok) in [("wrong", false), ("right", true)] {
        let mut opts = options();
        opts.credentials = Some(Credentials {
            user: "admin".into(),
            password: password.into(),
        });
        let mut ui2 = Ui::new(opts);
        let v = ui2.until(&cam, size, false, wait, password, |v| {
            matches!(v.status, TileStatus::Error(_)) || is_playing_with_frame(v)
        });
        if want_ok {
            assert!(is_playing_with_frame(&v), "{:?}", v.status);
        } else {
            assert_eq!(v.status, TileStatus::Error(VideoError::Unauthorized));
        }
        ui2.assert_responsive();
    }
    ui.assert_responsive();
}

#[test]
fn switches_streams_by_tile_size_keeping_the_last_frame() {
    let server = Server::start(0, None);
    let cam = camera(
        &server.url("/test"),
        [W, H],
        &server.url("/small"),
        [W / 2, H / 2],
    );
    let mut ui = Ui::new(options());
    // A small grid tile plays the sub stream.
    let v = ui.until(
        &cam,
        [160, 112],
        false,
        Duration::from_secs(10),
        "sub",
        is_playing_with_frame,
    );
    assert_eq!(v.stream, StreamChoice::Sub);
    // A single view plays the main one; the sub's frame stays until then.
    let mut switched = None;
    ui.until(
        &cam,
        [160, 112],
        true,
        Duration::from_secs(10),
        "main",
        |v| {
            assert!(v.frame.is_some(), "no frame while switching");
            if v.stream == StreamChoice::Main {
                switched = Some(v.clone());
            }
            switched.is_some()
        },
    );
    let v = ui.view(&cam, [160, 112], true);
    assert_eq!(v.stream, StreamChoice::Main);
    assert_eq!(ui.engine.active_players(), 1, "the sub player is stopped");

    // A tile nobody asks for stops.
    let mut opts = options();
    opts.idle_stop_ms = 100;
    let mut idle = Ui::new(opts);
    idle.until(
        &cam,
        [160, 112],
        false,
        Duration::from_secs(10),
        "playing",
        is_playing_with_frame,
    );
    // Not drawn any more: its player stops once idle for 100 ms.
    let t0 = Instant::now();
    loop {
        idle.engine.end_frame();
        if idle.engine.active_players() == 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "an undrawn player still runs after {:?}",
            t0.elapsed()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(90),
        "stopped before its idle time: {:?}",
        t0.elapsed()
    );
    ui.assert_responsive();
}

/// Capture times come from RTCP sender reports (NTP) on the demo's
/// live-encoded clock camera; prints the capture → mailbox latency.
#[test]
fn capture_times_from_the_demo_clock_camera() {
    use watchdesk::config::SiteConfig;
    use watchdesk::site::cameras::DemoCameras;

    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml");
    let mut cfg = SiteConfig::load(&site).expect("config/site.toml loads");
    cfg.video.rtsp_port = 0;
    cfg.video.latency_camera = true;
    cfg.cameras.retain(|c| c.id.as_str() == "cam-clock");
    assert_eq!(cfg.cameras.len(), 1, "the demo site has the clock camera");
    let data = tempfile::tempdir().expect("temp dir");
    let cams = DemoCameras::start(&cfg, data.path()).expect("demo cameras");
    let base = cams.rtsp_base();
    let v = &cfg.video;
    let cam = camera(
        &format!("{base}/cam-clock/main"),
        [v.main_width, v.main_height],
        &format!("{base}/cam-clock/sub"),
        [v.sub_width, v.sub_height],
    );
    let size = [v.main_width, v.main_height];
    let mut ui = Ui::new(options());
    let start = Instant::now();
    let mut first_capture = None;
    let mut last_number = 0;
    let mut latencies_ms = Vec::new();
    let mut last_capture = None;
    while start.elapsed() < Duration::from_secs(12) && latencies_ms.len() < 100 {
        let view = ui.view(&cam, size, true);
        if let Some(f) = &view.frame
            && f.number != last_number
        {
            last_number = f.number;
            if let Some(t) = f.capture_time {
                first_capture.get_or_insert(start.elapsed());
                // Wall clock when the frame landed in the mailbox.
                let landed = chrono::Utc::now()
                    - chrono::Duration::from_std(f.arrived.elapsed()).expect("small");
                latencies_ms.push((landed - t).num_microseconds().expect("small") as f64 / 1e3);
                assert!(last_capture <= Some(t), "capture times go back");
                last_capture = Some(t);
                assert_eq!(view.stats.width, v.main_width);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let first_capture = first_capture.expect("no capture time (RTCP SR → NTP) within 12 s");
    latencies_ms.sort_by(f64::total_cmp);
    let median = latencies_ms[latencies_ms.len() / 2];
    let p95 = latencies_ms[latencies_ms.len() * 95 / 100];
    eprintln!(
        "clock camera {}x{}: first capture time after {first_capture:?}; capture → mailbox \
         latency over {} frames: median {median:.1} ms, p95 {p95:.1} ms, min {:.1} ms",
        v.main_width,
        v.main_height,
        latencies_ms.len(),
        latencies_ms[0]
    );
    assert!(
        latencies_ms.len() >= 20,
        "{} frames with a capture time",
        latencies_ms.len()
    );
    assert!(
        latencies_ms[0] > -50.0,
        "capture after arrival: clocks disagree"
    );
    // Capture time is when the frame's period began (RTCP maps RTP time to
    // capture, not send, time): no frame can land sooner than one period
    // after it. Send-time stamps would read a few ms here.
    let period_ms = 1_000.0 / f64::from(v.fps.max(1));
    assert!(
        median >= period_ms,
        "median latency {median:.1} ms is under one frame period ({period_ms:.1} ms): \
         the camera stamps send time, not capture time"
    );
    assert!(median < 500.0, "median latency {median} ms");
    ui.assert_responsive();
}

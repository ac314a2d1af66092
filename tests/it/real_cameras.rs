#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Real cameras end to end: an RTSP server in the test (gst-rtsp-server on
//! loopback) serves streams encoded ONCE (cached under the target's temp
//! folder) and looped: an H.265 main stream at 1920×1080 and 25 fps, an
//! H.264 sub stream at 704×576 and 12 fps, and, from a second server behind
//! Digest authentication, an H.264 stream whose password holds `@`, `:` and
//! `/`. The real site, configured by a site.toml naming these cameras
//! (passwords through `password_file` and `password_env`), probes them; the
//! snapshot must carry each stream's true codec, size and rate, stills must
//! come back, the video engine must play each with its true size, aspect and
//! rate, and a wrong password must show "unauthorized".

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::rtsp_fixture::RunningServer;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use watchdesk::app::worker::{self, EventSink, SiteSource, WorkerConfig};
use watchdesk::app::{AppEvent, Command};
use watchdesk::config::SiteConfig;
use watchdesk::domain::{Camera, CameraState, Role, Snapshot};
use watchdesk::video::{
    EngineOptions, StreamChoice, TileRequest, TileStatus, TileView, VideoEngine,
};

/// The Digest password: `@`, `:` and `/` are what URL-embedded credentials
/// get wrong.
const PASSWORD: &str = "p@ss:w/rd";
const USER: &str = "cam-user";
const PASSWORD_ENV: &str = "WATCHDESK_TEST_CAM_PW";

/// One test stream: how it is encoded, and its true facts.
struct Recipe {
    name: &'static str,
    codec: &'static str,
    width: u32,
    height: u32,
    fps: u32,
    seconds: u32,
    kbps: u32,
}

const MAIN: Recipe = Recipe {
    name: "main",
    codec: "h265",
    width: 1920,
    height: 1080,
    fps: 25,
    seconds: 3,
    kbps: 800,
};
const SUB: Recipe = Recipe {
    name: "sub",
    codec: "h264",
    width: 704,
    height: 576,
    fps: 12,
    seconds: 3,
    kbps: 300,
};
const AUTH: Recipe = Recipe {
    name: "auth",
    codec: "h264",
    width: 640,
    height: 360,
    fps: 25,
    seconds: 3,
    kbps: 300,
};

impl Recipe {
    fn path(&self) -> PathBuf {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "real-cameras-{}-{}-{}x{}-{}fps-{}s.{}",
            self.name, self.codec, self.width, self.height, self.fps, self.seconds, self.codec
        ))
    }

    /// Encodes the stream once into the cache (a temp name, then renamed).
    fn encoded(&self) -> PathBuf {
        let path = self.path();
        if path.is_file() {
            return path;
        }
        let (w, h, fps) = (self.width, self.height, self.fps);
        let encoder = match self.codec {
            "h265" => format!(
                "x265enc speed-preset=ultrafast tune=zerolatency bitrate={} key-int-max={fps} \
                 ! video/x-h265,stream-format=byte-stream ! h265parse config-interval=-1",
                self.kbps
            ),
            _ => format!(
                "x264enc speed-preset=ultrafast tune=zerolatency bitrate={} key-int-max={fps} \
                 bframes=0 byte-stream=true ! video/x-h264,stream-format=byte-stream \
                 ! h264parse config-interval=-1",
                self.kbps
            ),
        };
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let launch = format!(
            "videotestsrc pattern=ball num-buffers={} ! video/x-raw,width={w},height={h},framerate={fps}/1 \
             ! videoconvert ! {encoder} ! filesink location={}",
            self.seconds * fps,
            tmp.display()
        );
        let started = Instant::now();
        let pipeline = gst::parse::launch(&launch).expect("encoder pipeline");
        let bus = pipeline.bus().expect("bus");
        pipeline.set_state(gst::State::Playing).expect("encode");
        let msg = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(120),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
            .expect("encode finishes within 120 s");
        pipeline.set_state(gst::State::Null).expect("stop encoder");
        assert!(
            matches!(msg.view(), gst::MessageView::Eos(_)),
            "encode {}: {msg:?}",
            self.name
        );
        std::fs::rename(&tmp, &path).expect("cache the stream");
        eprintln!(
            "encoded the {} stream once in {:.1} s",
            self.name,
            started.elapsed().as_secs_f64()
        );
        path
    }

    /// The stream's access units and caps, read from the cache.
    fn access_units(&self) -> Arc<Stream> {
        let path = self.encoded();
        let launch = format!(
            "filesrc location={} ! {codec}parse ! video/x-{codec},stream-format=byte-stream,alignment=au \
             ! appsink name=sink sync=false",
            path.display(),
            codec = self.codec
        );
        let pipeline = gst::parse::launch(&launch)
            .expect("reader")
            .downcast::<gst::Pipeline>()
            .expect("pipeline");
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .expect("appsink");
        pipeline.set_state(gst::State::Playing).expect("read");
        let mut caps = None;
        let mut frames = Vec::new();
        while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
            caps = caps.or_else(|| sample.caps_owned());
            frames.push(sample.buffer_owned().expect("buffer"));
        }
        pipeline.set_state(gst::State::Null).expect("stop reader");
        assert!(sink.is_eos(), "read {} to the end", self.name);
        assert_eq!(
            frames.len() as u32,
            self.seconds * self.fps,
            "{}",
            self.name
        );
        Arc::new(Stream {
            caps: caps.expect("caps"),
            frames,
            fps: self.fps,
            codec: self.codec,
        })
    }
}

struct Stream {
    caps: gst::Caps,
    frames: Vec<gst::Buffer>,
    fps: u32,
    codec: &'static str,
}

/// A media factory that loops `stream` in real time from an `appsrc`: each
/// client's media (not shared) starts at the first (key) frame once it
/// plays, on a thread of its own that ends with the media.
fn looped_factory(stream: Arc<Stream>) -> rtsp::RTSPMediaFactory {
    let factory = rtsp::RTSPMediaFactory::new();
    let pay = if stream.codec == "h265" {
        "rtph265pay"
    } else {
        "rtph264pay"
    };
    factory.set_launch(&format!(
        "( appsrc name=src is-live=true format=time do-timestamp=true min-latency=0 \
         ! {pay} name=pay0 pt=96 config-interval=-1 )"
    ));
    factory.connect_media_configure(move |_, media| {
        let src = media
            .element()
            .downcast::<gst::Bin>()
            .ok()
            .and_then(|b| b.by_name("src"))
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .expect("appsrc");
        src.set_caps(Some(&stream.caps));
        let weak = src.downgrade();
        let stream = stream.clone();
        std::thread::spawn(move || feed(&weak, &stream));
    });
    factory
}

/// Pushes the stream's frames at its rate, looping, while the media plays.
fn feed(src: &glib::WeakRef<gst_app::AppSrc>, stream: &Stream) {
    let frame = Duration::from_secs(1) / stream.fps;
    let mut played = false;
    let mut next = 0usize;
    let mut due = Instant::now();
    loop {
        let Some(src) = src.upgrade() else {
            return;
        };
        if src.current_state() != gst::State::Playing {
            if played {
                return;
            }
            drop(src);
            std::thread::sleep(Duration::from_millis(5));
            due = Instant::now();
            continue;
        }
        played = true;
        let buffer = stream.frames[next % stream.frames.len()].copy();
        if src.push_buffer(buffer).is_err() {
            return;
        }
        drop(src);
        next += 1;
        due += frame;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// An RTSP server on 127.0.0.1 with its own main loop thread.
struct Server {
    running: RunningServer,
}

impl Server {
    /// Serves `mounts`; with `digest`, every path needs those credentials
    /// (Digest only).
    fn start(mounts: Vec<(&str, rtsp::RTSPMediaFactory)>, digest: Option<(&str, &str)>) -> Server {
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service("0");
        let points = server.mount_points().expect("mount points");
        if let Some((user, pass)) = digest {
            let auth = rtsp::RTSPAuth::new();
            auth.set_supported_methods(rtsp::gst_rtsp::RTSPAuthMethod::Digest);
            let token = rtsp::RTSPToken::builder()
                .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
                .build();
            auth.add_digest(user, pass, &token);
            server.set_auth(Some(&auth));
            let role = gst::Structure::builder("user")
                .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                .build();
            for (_, f) in &mounts {
                f.add_role_from_structure(&role);
            }
        }
        for (path, f) in mounts {
            points.add_factory(path, f);
        }
        Server {
            running: RunningServer::run(server),
        }
    }

    fn url(&self, path: &str) -> String {
        self.running.url(path)
    }
}

/// The site.toml of the test: four cameras over the two servers.
fn write_site(dir: &Path, open: &Server, secured: &Server) -> PathBuf {
    let repo = common::repo();
    std::fs::create_dir_all(dir.join("maps")).unwrap();
    std::fs::write(dir.join("auth.pw"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(dir.join("wrong.pw"), "not-the-password\n").unwrap();
    let text = format!(
        r#"[site]
name = "Real cameras"
time_zone = "UTC"
users_file = "{users}"
cardholders_file = "{cardholders}"
maps_dir = "maps"
photos_dir = "maps"

[video]
demo_cameras = false

[recording]
enabled = true
segment_secs = 2

[[camera]]
id = "cam-gate"
name = "Gate"
main_url = "{main}"
sub_url = "{sub}"

[[camera]]
id = "cam-vault"
name = "Vault"
main_url = "{auth}"
username = "{USER}"
password_file = "auth.pw"

[[camera]]
id = "cam-dock"
name = "Dock"
main_url = "{auth}"
username = "{USER}"
password_env = "{PASSWORD_ENV}"

[[camera]]
id = "cam-wrong"
name = "Wrong password"
main_url = "{auth}"
username = "{USER}"
password_file = "wrong.pw"
"#,
        users = repo.join("config/users.toml").display(),
        cardholders = repo.join("config/cardholders.toml").display(),
        main = open.url("/main"),
        sub = open.url("/sub"),
        auth = secured.url("/auth"),
    );
    let site = dir.join("site.toml");
    std::fs::write(&site, text).unwrap();
    site
}

fn camera<'a>(snap: &'a Snapshot, id: &str) -> &'a Camera {
    snap.cameras
        .iter()
        .find(|c| c.id.as_str() == id)
        .unwrap_or_else(|| panic!("no camera {id} in the snapshot"))
}

fn assert_facts(what: &str, s: &watchdesk::domain::StreamInfo, r: &Recipe) {
    assert!(s.probed, "{what}: not probed: {s:?}");
    assert_eq!(
        (s.codec.as_str(), s.width, s.height, s.fps),
        (r.codec, r.width, r.height, r.fps),
        "{what}"
    );
    assert!(
        (s.fps_exact - f64::from(r.fps)).abs() < 1e-6,
        "{what}: {}",
        s.fps_exact
    );
}

/// Asks for a tile every 10 ms (as the UI does) until `done` holds.
fn tile_until(
    engine: &VideoEngine,
    cam: &Camera,
    size_px: [u32; 2],
    single_view: bool,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&TileView) -> bool,
) -> TileView {
    let start = Instant::now();
    loop {
        let v = engine.tile(&TileRequest {
            key: what,
            camera: cam,
            size_px,
            single_view,
            playback: None,
        });
        engine.end_frame();
        if done(&v) {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "{what}: not reached within {timeout:?}; last {:?} {:?}",
            v.status,
            v.stats
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Plays a camera's stream in a tile of its own size and checks the frame's
/// size and aspect, and the decoded rate (within 20%: the machine is shared).
fn assert_plays(
    engine: &VideoEngine,
    cam: &Camera,
    r: &Recipe,
    single_view: bool,
    want: StreamChoice,
) {
    let size = [r.width, r.height];
    let what = format!("{} {}", cam.id, r.name);
    let v = tile_until(
        engine,
        cam,
        size,
        single_view,
        Duration::from_secs(30),
        &what,
        |v| {
            v.status == TileStatus::Playing
                && v.frame.is_some()
                && (v.stats.source_fps - r.fps as f32).abs() <= 0.2 * r.fps as f32
        },
    );
    assert_eq!(v.stream, want, "{what}");
    let frame = v.frame.expect("frame");
    assert_eq!(
        (frame.width, frame.height),
        (r.width, r.height),
        "{what}: true size"
    );
    let aspect = frame.width as f32 / frame.height as f32;
    assert!(
        (aspect - r.width as f32 / r.height as f32).abs() < 0.01,
        "{what}: aspect {aspect}"
    );
    eprintln!(
        "{what}: {}x{} at {:.1} fps decoded, {:.1} delivered, decode {:.1} ms",
        frame.width, frame.height, v.stats.source_fps, v.stats.delivered_fps, v.stats.decode_ms
    );
}

#[test]
fn three_streams_probed_stilled_and_played_with_their_true_facts() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    gst::init().expect("GStreamer");
    let open = Server::start(
        vec![
            ("/main", looped_factory(MAIN.access_units())),
            ("/sub", looped_factory(SUB.access_units())),
        ],
        None,
    );
    let secured = Server::start(
        vec![("/auth", looped_factory(AUTH.access_units()))],
        Some((USER, PASSWORD)),
    );
    let dir = tempfile::tempdir().unwrap();
    let site_toml = write_site(dir.path(), &open, &secured);
    let env = |name: &str| (name == PASSWORD_ENV).then(|| PASSWORD.to_owned());
    let cfg = SiteConfig::load_with_env(&site_toml, &env).expect("site.toml loads");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (snap, snap_text, stills, creds_route, relay_port, client_cameras) = rt.block_on(async {
        let site = common::start_site_with(move |c| *c = cfg).await;
        // The client's worker, started with the site: it fetches the
        // credentials of the cameras that need them before it hands over the
        // snapshot, and reads the cameras again until none is being probed.
        let started = Instant::now();
        let (_commands, command_rx) = tokio::sync::mpsc::channel::<Command>(8);
        let (event_tx, mut events) = tokio::sync::mpsc::channel(256);
        let worker = worker::run(
            WorkerConfig {
                site: SiteSource::Remote {
                    base_url: site.handle.base_url(),
                },
                ca_cert: None,
                allow_plain_http: false,
                auto_sign_in: Some(("viewer".into(), "demo-viewer".into())),
            },
            command_rx,
            EventSink::new(event_tx, Arc::new(|| {})),
        );
        let collect = async {
            let mut reads = 0;
            loop {
                let cameras = match events.recv().await.expect("worker events") {
                    AppEvent::Snapshot(s) => s.cameras,
                    AppEvent::Cameras(c) => c,
                    _ => continue,
                };
                if cameras.iter().all(|c| c.state != CameraState::Probing) {
                    let how = if reads == 0 {
                        "with the snapshot"
                    } else {
                        "on a later read"
                    };
                    eprintln!("the client got the probed facts {how}");
                    return cameras;
                }
                reads += 1;
            }
        };
        let client_cameras = tokio::select! {
            () = worker => panic!("the worker ended"),
            f = tokio::time::timeout(Duration::from_secs(60), collect) => {
                f.expect("the client has every camera probed within 60 s")
            }
        };
        eprintln!(
            "the client has every camera probed {:.2} s after the site started",
            started.elapsed().as_secs_f64()
        );
        let token = site.token(Role::Viewer).await;
        // The probes run at site start: wait for every camera to settle.
        let started = Instant::now();
        let deadline = started + Duration::from_secs(60);
        let (snap, text) = loop {
            let text = site
                .get(&token, "/api/v1/snapshot")
                .await
                .text()
                .await
                .unwrap();
            let snap: Snapshot = serde_json::from_str(&text).unwrap();
            if snap.cameras.iter().all(|c| c.state != CameraState::Probing) {
                eprintln!(
                    "every camera probed {:.2} s after sign-in",
                    started.elapsed().as_secs_f64()
                );
                break (snap, text);
            }
            assert!(
                Instant::now() < deadline,
                "cameras still probing after 60 s: {:?}",
                snap.cameras
                    .iter()
                    .map(|c| (&c.id, c.state))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut stills = Vec::new();
        for id in ["cam-gate", "cam-vault", "cam-wrong"] {
            let r = site
                .get(&token, &format!("/api/v1/cameras/{id}/still.jpg"))
                .await;
            let status = r.status().as_u16();
            stills.push((id, status, r.bytes().await.unwrap().to_vec()));
        }
        // A camera's credentials never leave the site: no route gives them.
        let creds_route = site
            .get(&token, "/api/v1/cameras/cam-vault/credentials")
            .await
            .status()
            .as_u16();
        let relay_port = site.handle.core().cameras().relay_port().expect("a relay");
        // Played through the relay, signed in as the viewer.
        let engine = VideoEngine::new(EngineOptions::new(Arc::new(|| {})));
        engine.set_session_credentials(Some(watchdesk::video::Credentials {
            user: "viewer".into(),
            password: token.clone(),
        }));
        let played = tokio::task::spawn_blocking({
            let snap = snap.clone();
            move || {
                let gate = camera(&snap, "cam-gate");
                assert_plays(&engine, gate, &MAIN, true, StreamChoice::Main);
                assert_plays(&engine, gate, &SUB, false, StreamChoice::Sub);
                for id in ["cam-vault", "cam-dock"] {
                    assert_plays(&engine, camera(&snap, id), &AUTH, false, StreamChoice::Main);
                }
            }
        })
        .await;
        // Recorded too, from the site's one ingest: the Digest camera's
        // main stream, its password nowhere in what the site answers.
        let operator = site.token(Role::Operator).await;
        let now = chrono::Utc::now();
        let stamp =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let path = format!(
            "/api/v1/recordings/cam-vault?from={}&to={}",
            stamp(now - chrono::TimeDelta::hours(1)),
            stamp(now + chrono::TimeDelta::minutes(1))
        );
        let recorded = common::eventually(
            "a finished segment of the Digest camera",
            Duration::from_secs(30),
            || async {
                let text = site.get(&operator, &path).await.text().await.unwrap();
                let c: watchdesk::domain::Coverage = serde_json::from_str(&text).unwrap();
                c.segments
                    .first()
                    .filter(|s| s.bytes > 0 && s.end > s.start)
                    .map(|s| (text.clone(), s.id))
            },
        )
        .await;
        assert!(!recorded.0.contains(PASSWORD), "a password in the coverage");
        let file = site
            .get(
                &operator,
                &format!("/api/v1/recordings/segments/{}", recorded.1),
            )
            .await;
        assert_eq!(file.status(), 200, "the Digest camera's segment is served");
        // The H.265 camera is recorded as well.
        let h265 = path.replace("cam-vault", "cam-gate");
        common::eventually(
            "a finished H.265 segment",
            Duration::from_secs(30),
            || async {
                let c: watchdesk::domain::Coverage =
                    site.get(&operator, &h265).await.json().await.unwrap();
                (!c.segments.is_empty()).then_some(())
            },
        )
        .await;
        site.handle.shutdown().await;
        if let Err(e) = played {
            std::panic::resume_unwind(e.into_panic());
        }
        (snap, text, stills, creds_route, relay_port, client_cameras)
    });

    // The snapshot: true facts, states, only the relay's URLs, and never a
    // password.
    let gate = camera(&snap, "cam-gate");
    assert_eq!(gate.state, CameraState::Online);
    assert!(gate.has_sub_stream() && !gate.auth_required);
    assert_facts("gate main", &gate.main, &MAIN);
    assert_facts("gate sub", &gate.sub, &SUB);
    for id in ["cam-vault", "cam-dock"] {
        let c = camera(&snap, id);
        assert_eq!(c.state, CameraState::Online, "{id}");
        assert!(!c.auth_required && !c.has_sub_stream(), "{id}");
        assert_facts(id, &c.main, &AUTH);
        assert_facts(id, &c.sub, &AUTH);
    }
    let wrong = camera(&snap, "cam-wrong");
    assert_eq!(wrong.state, CameraState::Unauthorized);
    assert!(!wrong.main.probed);
    assert!(!snap_text.contains(PASSWORD), "a password in the snapshot");
    for c in &snap.cameras {
        for url in [&c.main.url, &c.sub.url] {
            assert!(
                url.starts_with(&format!("rtsp://127.0.0.1:{relay_port}/{}/", c.id)),
                "{url}: a camera's own address in the snapshot"
            );
        }
    }
    assert_eq!(
        creds_route, 404,
        "no route hands out a camera's credentials"
    );

    // Stills: from the sub stream when there is one.
    for (id, status, jpeg) in &stills {
        if *id == "cam-wrong" {
            assert_eq!(*status, 503, "{id}: no still without access");
            continue;
        }
        assert_eq!(*status, 200, "{id}");
        let img = image::load_from_memory(jpeg).expect("a JPEG still");
        let want = if *id == "cam-gate" { &SUB } else { &AUTH };
        assert_eq!(
            (img.width(), img.height()),
            (want.width, want.height),
            "{id}"
        );
    }

    // The client's worker ends with the site's facts.
    assert_eq!(client_cameras, snap.cameras);
}

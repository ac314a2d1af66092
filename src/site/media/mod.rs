//! Site media: the site is the only thing that talks to cameras, as a
//! commercial recording server is. Each camera stream (main and sub) is
//! opened once, by the site, with the camera's credentials
//! ([`ingest::Ingest`]); every access unit goes to the stream's
//! [`fanout::Fanout`], and from there to the site's own RTSP server, the
//! relay: one shared media per stream (`appsrc ! rtph264pay`, no
//! transcoding) however many clients watch, behind the session sign-in of
//! [`auth::RelayAuth`]. Clients get the relay's URLs in the snapshot, never
//! a camera's.
//!
//! Threads: one glib main loop ("site-media") runs the relay server, every
//! ingest's bus watch, watchdog and retry timer, and the sweep that closes
//! the streams of ended sessions; the access units themselves move on each
//! ingest's streaming thread.

pub mod auth;
pub mod fanout;
pub mod ingest;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

use self::auth::RelayAuth;
pub use self::auth::RelayGate;
use self::fanout::Fanout;
use self::ingest::Ingest;
pub use self::ingest::{Change, Source, Status, StreamName};
use crate::domain::CameraId;

/// RTP packet size of the relay (as the demo cameras: fewer, larger packets
/// cost both ends less; 8000 stays under what ffmpeg-based players take).
const RTP_MTU: u32 = 8000;
/// How often the relay looks for clients whose session has ended.
pub const SWEEP: Duration = Duration::from_secs(2);

/// What an ingest reports, with its camera and stream.
pub type Report = Arc<dyn Fn(&CameraId, StreamName, Change) + Send + Sync>;

/// Why the media service cannot start.
#[derive(Debug, thiserror::Error)]
#[error("site media: {0}")]
pub struct MediaError(pub String);

struct Stream {
    fanout: Arc<Fanout>,
    ingest: Option<Arc<Ingest>>,
}

/// The relay and the ingests.
pub struct Media {
    host: String,
    port: u16,
    /// RTSPS (the site's certificate) rather than RTSP.
    tls: bool,
    report: Report,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    server: rtsp::RTSPServer,
    server_source: Mutex<Option<glib::SourceId>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    streams: Mutex<HashMap<(CameraId, StreamName), Stream>>,
    /// Ingest pipelines on their way to NULL.
    busy: Arc<std::sync::atomic::AtomicUsize>,
    /// Set when the media thread's loop has ended.
    loop_done: Arc<std::sync::atomic::AtomicBool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Media {
    /// Starts the relay on `host:port` (0 picks a free port) with a mount
    /// for each camera's main and sub streams (`cameras`: each id and whether
    /// it has a sub stream of its own; without, the sub mount serves the
    /// main stream); nothing is ingested until [`Media::ingest`].
    pub fn start(
        host: &str,
        port: u16,
        cameras: &[(CameraId, bool)],
        gate: Arc<dyn RelayGate>,
        report: Report,
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> Result<Arc<Media>, MediaError> {
        gst::init().map_err(|e| MediaError(format!("GStreamer: {e}")))?;
        for element in [
            "rtspsrc",
            "rtph264depay",
            "h264parse",
            "rtph264pay",
            "appsrc",
        ] {
            if gst::ElementFactory::find(element).is_none() {
                return Err(MediaError(format!(
                    "GStreamer element {element} is missing"
                )));
            }
        }
        let clock: gst::Clock = glib::Object::builder::<gst::SystemClock>()
            .property("clock-type", gst::ClockType::Realtime)
            .build()
            .upcast();
        let server = rtsp::RTSPServer::new();
        server.set_address(host);
        server.set_service(&port.to_string());
        let mounts = server
            .mount_points()
            .ok_or_else(|| MediaError("the relay has no mount points".into()))?;
        let mut streams = HashMap::new();
        for (camera, has_sub) in cameras {
            let main = Fanout::new();
            let sub = if *has_sub {
                Fanout::new()
            } else {
                Arc::clone(&main)
            };
            for (stream, fanout) in [(StreamName::Main, main), (StreamName::Sub, sub)] {
                let factory = relay_factory(&fanout, &clock);
                // A media built after this serves the codec the camera sends.
                let weak = factory.downgrade();
                fanout.on_codec(Box::new(move |codec| {
                    if let Some(f) = weak.upgrade() {
                        f.set_launch(&relay_launch(codec));
                    }
                }));
                mounts.add_factory(&format!("/{}/{}", camera, stream.as_str()), factory);
                streams.insert(
                    (camera.clone(), stream),
                    Stream {
                        fanout,
                        ingest: None,
                    },
                );
            }
        }
        let paths: HashMap<String, Arc<Fanout>> = streams
            .iter()
            .map(|((camera, stream), s)| {
                (
                    format!("/{camera}/{}", stream.as_str()),
                    Arc::clone(&s.fanout),
                )
            })
            .collect();
        // A SETUP names the stream's control path below the mount
        // (`/cam-lobby/sub/stream=0`): the mount is the first two segments.
        let available: auth::Available = Arc::new(move |path| {
            let mount: String = path
                .split('/')
                .filter(|s| !s.is_empty())
                .take(2)
                .fold(String::new(), |m, s| m + "/" + s);
            paths.get(&mount).is_some_and(|f| f.flowing(ingest::STALL))
        });
        let auth = RelayAuth::new(gate, available);
        // With the site's certificate the relay speaks RTSPS only: the
        // session token in each request never crosses the network in clear.
        if let Some((cert, key)) = tls {
            let certificate = rtsp::gio::TlsCertificate::from_files(cert, key)
                .map_err(|e| MediaError(format!("the relay's TLS certificate: {e}")))?;
            auth.set_tls_certificate(Some(&certificate));
        }
        server.set_auth(Some(&auth));
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let server_source = server
            .attach(Some(&context))
            .map_err(|e| MediaError(format!("the relay cannot listen on {host}:{port}: {e}")))?;
        let bound = u16::try_from(server.bound_port())
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| MediaError("the relay bound no port".into()))?;
        // Sessions of clients gone without TEARDOWN time out, and the
        // clients of ended sign-in sessions are closed.
        let pool = server.session_pool();
        let weak_server = server.downgrade();
        glib::timeout_source_new(
            SWEEP,
            Some("relay-sweep"),
            glib::Priority::DEFAULT,
            move || {
                if let Some(p) = &pool {
                    p.cleanup();
                }
                let Some(server) = weak_server.upgrade() else {
                    return glib::ControlFlow::Break;
                };
                let closed = auth.sweep(&server);
                if closed > 0 {
                    tracing::info!(closed, "relay closed the streams of ended sessions");
                }
                glib::ControlFlow::Continue
            },
        )
        .attach(Some(&context));
        let (ctx, ml) = (context.clone(), main_loop.clone());
        let loop_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = Arc::clone(&loop_done);
        let thread = std::thread::Builder::new()
            .name("site-media".into())
            .spawn(move || {
                if ctx.with_thread_default(|| ml.run()).is_err() {
                    tracing::error!("the site media context is owned by another thread");
                }
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            })
            .map_err(|e| MediaError(format!("cannot start the media thread: {e}")))?;
        tracing::info!(host, port = bound, streams = streams.len(), "relay serving");
        Ok(Arc::new(Media {
            host: host.to_owned(),
            port: bound,
            tls: tls.is_some(),
            report,
            context,
            main_loop,
            server,
            server_source: Mutex::new(Some(server_source)),
            thread: Mutex::new(Some(thread)),
            streams: Mutex::new(streams),
            busy: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            loop_done,
        }))
    }

    /// The relay's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the relay listens on every address (so its URLs must name
    /// the host a client reached the site by).
    pub fn listens_everywhere(&self) -> bool {
        self.host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
    }

    /// The relay URL of a camera stream, with `host` as the client reached
    /// the site (the relay's own address when `None`).
    pub fn url(&self, host: Option<&str>, camera: &CameraId, stream: StreamName) -> String {
        let host = host.unwrap_or(&self.host);
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let scheme = if self.tls { "rtsps" } else { "rtsp" };
        format!(
            "{scheme}://{host}:{}/{camera}/{}",
            self.port,
            stream.as_str()
        )
    }

    /// Starts ingesting a camera: its main stream from `main`, its sub
    /// stream from `sub` (a camera started with one stream serves its main
    /// stream on both mounts). A camera already ingested is left as it is.
    pub fn ingest(&self, camera: &CameraId, main: Source, sub: Option<Source>) {
        let mut streams = lock(&self.streams);
        let key = |s| (camera.clone(), s);
        let Some(main_stream) = streams.get(&key(StreamName::Main)) else {
            tracing::warn!(%camera, "no relay mount for this camera");
            return;
        };
        if main_stream.ingest.is_some() {
            return;
        }
        let start = |stream, source, fanout: &Arc<Fanout>| {
            Ingest::start(
                camera.clone(),
                stream,
                source,
                Arc::clone(fanout),
                self.context.clone(),
                Arc::clone(&self.report),
                Arc::clone(&self.busy),
            )
        };
        let main_ingest = start(StreamName::Main, main, &main_stream.fanout);
        let one_stream = streams
            .get(&key(StreamName::Sub))
            .is_some_and(|s| Arc::ptr_eq(&s.fanout, &main_stream.fanout));
        let sub_ingest = match (sub, one_stream) {
            (Some(source), false) => streams
                .get(&key(StreamName::Sub))
                .map(|s| start(StreamName::Sub, source, &s.fanout)),
            _ => Some(Arc::clone(&main_ingest)),
        };
        if let Some(s) = streams.get_mut(&key(StreamName::Main)) {
            s.ingest = Some(main_ingest);
        }
        if let Some(s) = streams.get_mut(&key(StreamName::Sub)) {
            s.ingest = sub_ingest;
        }
    }

    /// A camera stream's state: `None` when it is not ingested.
    pub fn status(&self, camera: &CameraId, stream: StreamName) -> Option<Status> {
        lock(&self.streams)
            .get(&(camera.clone(), stream))
            .and_then(|s| s.ingest.as_ref())
            .map(|i| i.status())
    }

    /// Access units a camera stream's ingest took since it started.
    pub fn frames(&self, camera: &CameraId, stream: StreamName) -> u64 {
        lock(&self.streams)
            .get(&(camera.clone(), stream))
            .and_then(|s| s.ingest.as_ref())
            .map_or(0, |i| i.frames())
    }

    /// Something that takes every access unit of a stream (the recorder).
    pub fn tap(&self, camera: &CameraId, stream: StreamName, f: fanout::Tap) -> bool {
        match lock(&self.streams).get(&(camera.clone(), stream)) {
            Some(s) => {
                s.fanout.tap(f);
                true
            }
            None => false,
        }
    }

    /// Whether everything [`Media::stop`] set going has ended: the relay's
    /// loop, and every ingest pipeline at NULL (its connection to the
    /// camera closed).
    pub fn settled(&self) -> bool {
        self.loop_done.load(std::sync::atomic::Ordering::SeqCst)
            && self.busy.load(std::sync::atomic::Ordering::SeqCst) == 0
    }

    /// Stops every ingest and the relay, without blocking on the network.
    pub fn stop(&self) {
        for s in lock(&self.streams).values() {
            if let Some(i) = &s.ingest {
                i.stop();
            }
        }
        let server = self.server.clone();
        let context = self.context.clone();
        let mut server_source = lock(&self.server_source).take();
        let main_loop = self.main_loop.clone();
        // As the demo cameras: undo what the loop owns on the loop's thread.
        let stop = glib::idle_source_new(Some("relay-stop"), glib::Priority::HIGH, move || {
            let _ = server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            if let Some(pool) = server.session_pool() {
                let _ = pool.filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            }
            if let Some(id) = server_source.take()
                && let Some(source) = context.find_source_by_id(&id)
            {
                source.destroy();
            }
            main_loop.quit();
            glib::ControlFlow::Break
        });
        stop.attach(Some(&self.context));
        if let Some(t) = lock(&self.thread).take() {
            // Joined elsewhere: stopping must not block the caller.
            std::thread::spawn(move || {
                let _ = t.join();
            });
        }
    }
}

impl Drop for Media {
    fn drop(&mut self) {
        if lock(&self.thread).is_some() {
            self.stop();
        }
    }
}

/// The relay media of a stream in `codec` (`h264` or `h265`).
fn relay_launch(codec: &str) -> String {
    format!(
        "( appsrc name=src is-live=true format=time do-timestamp=false min-latency=0 \
         ! rtp{codec}pay name=pay0 pt=96 config-interval=-1 mtu={RTP_MTU} )"
    )
}

/// A shared media that serves what `fanout` gets, stamped with capture
/// times (see [`fanout`]).
fn relay_factory(fanout: &Arc<Fanout>, clock: &gst::Clock) -> rtsp::RTSPMediaFactory {
    let factory = rtsp::RTSPMediaFactory::new();
    factory.set_launch(&relay_launch("h264"));
    factory.set_shared(true);
    factory.set_clock(Some(clock));
    let fanout = Arc::clone(fanout);
    factory.connect_media_configure(move |_, media| {
        let Ok(bin) = media.element().downcast::<gst::Bin>() else {
            tracing::error!("relay media is not a bin");
            return;
        };
        super::cameras::stamp_capture_time(&bin);
        let Some(src) = bin
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        else {
            tracing::error!("relay media has no appsrc");
            return;
        };
        // At most a second queued while the first client is not playing.
        src.set_max_time(gst::ClockTime::SECOND);
        src.set_max_bytes(0);
        src.set_leaky_type(gst_app::AppLeakyType::Downstream);
        fanout.register(&src);
    });
    factory
}

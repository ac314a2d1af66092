//! One camera stream, opened once by the site: `rtspsrc` (with the
//! camera's credentials, which stay here) `! rtph264depay ! (whole access
//! units) ! h264parse ! appsink` (H.265 alike), every access unit handed to the stream's [`Fanout`]. No
//! decoding, no transcoding.
//!
//! A stream that fails (an error, the end of the stream, or no frame for
//! [`STALL`]) is torn down and opened again after a backoff of 1 s doubling
//! to 30 s; the first failure after it ran and the first frame after a
//! failure are reported ([`Change`]), so the event log says
//! `camera.offline` / `camera.online` once per outage, not once per try.
//! Everything but the streaming thread's hand-over runs on the media main
//! context (one glib thread for the relay and every ingest).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::fanout::Fanout;
use crate::domain::{CameraCredentials, CameraId};

/// No frame for this long while running: the stream is treated as lost.
pub const STALL: Duration = Duration::from_secs(5);
/// The first try waits this long for its first frame.
const FIRST_FRAME: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Which of a camera's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamName {
    Main,
    Sub,
}

impl StreamName {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamName::Main => "main",
            StreamName::Sub => "sub",
        }
    }
}

/// What an ingest reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Frames flow (the first time, or again after an outage).
    Online,
    /// Lost, or never reached: why, in a few words.
    Offline(String),
}

/// Where a stream comes from.
#[derive(Clone)]
pub struct Source {
    pub url: String,
    pub credentials: Option<CameraCredentials>,
}

/// Where a stream stands now.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Not one frame yet.
    Connecting,
    Online,
    Offline(String),
}

type Report = Arc<dyn Fn(&CameraId, StreamName, Change) + Send + Sync>;

struct State {
    pipeline: Option<gst::Pipeline>,
    /// Bumped per pipeline: messages and timers of an older one are stale.
    generation: u64,
    status: Status,
    /// Whether the outage now going on was reported.
    reported_offline: bool,
    failures: u32,
    stopped: bool,
}

/// One ingested stream.
pub struct Ingest {
    camera: CameraId,
    stream: StreamName,
    source: Source,
    fanout: Arc<Fanout>,
    context: glib::MainContext,
    report: Report,
    state: Mutex<State>,
    /// Milliseconds since `epoch` of the last frame (0: none yet).
    last_frame_ms: AtomicU64,
    epoch: Instant,
    frames: AtomicU64,
    /// Pipelines of this media service on their way to NULL.
    busy: Arc<AtomicUsize>,
}

impl Ingest {
    /// Opens the stream on `context`'s thread; reconnects by itself until
    /// [`Ingest::stop`].
    pub fn start(
        camera: CameraId,
        stream: StreamName,
        source: Source,
        fanout: Arc<Fanout>,
        context: glib::MainContext,
        report: Report,
        busy: Arc<AtomicUsize>,
    ) -> Arc<Ingest> {
        let ingest = Arc::new(Ingest {
            camera,
            stream,
            source,
            fanout,
            context,
            report,
            state: Mutex::new(State {
                pipeline: None,
                generation: 0,
                status: Status::Connecting,
                reported_offline: false,
                failures: 0,
                stopped: false,
            }),
            last_frame_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            frames: AtomicU64::new(0),
            busy,
        });
        let me = Arc::clone(&ingest);
        ingest.context.invoke(move || me.open());
        ingest
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn status(&self) -> Status {
        self.state().status.clone()
    }

    /// Access units taken since the start.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    pub fn camera(&self) -> &CameraId {
        &self.camera
    }

    pub fn stream(&self) -> StreamName {
        self.stream
    }

    /// Tears the stream down for good (without waiting for it).
    pub fn stop(&self) {
        let pipeline = {
            let mut st = self.state();
            st.stopped = true;
            st.generation += 1;
            st.pipeline.take()
        };
        if let Some(p) = pipeline {
            stop_pipeline(p, &self.busy);
        }
    }

    /// Builds and plays a fresh pipeline (on the media context).
    fn open(self: Arc<Self>) {
        let generation = {
            let mut st = self.state();
            if st.stopped {
                return;
            }
            st.generation += 1;
            st.generation
        };
        self.last_frame_ms.store(0, Ordering::Relaxed);
        let pipeline = match self.build(generation) {
            Ok(p) => p,
            Err(e) => {
                self.failed(generation, e);
                return;
            }
        };
        {
            let mut st = self.state();
            if st.stopped || st.generation != generation {
                drop(st);
                stop_pipeline(pipeline, &self.busy);
                return;
            }
            st.pipeline = Some(pipeline.clone());
        }
        if pipeline.set_state(gst::State::Playing).is_err() {
            self.failed(generation, "the stream cannot start".into());
            return;
        }
        // The watchdog: a stream that sends nothing is as lost as one that
        // errs.
        let me = Arc::clone(&self);
        let started = Instant::now();
        glib::timeout_source_new(
            Duration::from_secs(1),
            Some("ingest-watchdog"),
            glib::Priority::DEFAULT,
            move || {
                if me.state().generation != generation {
                    return glib::ControlFlow::Break;
                }
                let last = me.last_frame_ms.load(Ordering::Relaxed);
                let now = me.epoch.elapsed();
                let silent = if last == 0 {
                    (now.saturating_sub(started.duration_since(me.epoch)) > FIRST_FRAME)
                        .then(|| format!("no frame in {} s", FIRST_FRAME.as_secs()))
                } else {
                    (now.saturating_sub(Duration::from_millis(last)) > STALL)
                        .then(|| format!("no frame for {} s", STALL.as_secs()))
                };
                match silent {
                    Some(reason) => {
                        Arc::clone(&me).failed(generation, reason);
                        glib::ControlFlow::Break
                    }
                    None => glib::ControlFlow::Continue,
                }
            },
        )
        .attach(Some(&self.context));
    }

    fn build(self: &Arc<Self>, generation: u64) -> Result<gst::Pipeline, String> {
        let make = |name: &str| {
            gst::ElementFactory::make(name)
                .build()
                .map_err(|_| format!("GStreamer element {name} is missing"))
        };
        let pipeline = gst::Pipeline::new();
        let src = gst::ElementFactory::make("rtspsrc")
            .property("location", self.source.url.as_str())
            .property("latency", 0u32)
            .property("add-reference-timestamp-meta", true)
            // Timestamps from RTP alone, not smoothed against arrival: the
            // recordings keep the camera's own frame spacing.
            .property_from_str("buffer-mode", "none")
            .property_from_str("protocols", "tcp")
            // Past the watchdog's [`STALL`], which says it better.
            .property("tcp-timeout", 10_000_000u64)
            .build()
            .map_err(|_| "GStreamer element rtspsrc is missing".to_owned())?;
        if let Some(c) = &self.source.credentials {
            src.set_property("user-id", c.username.as_str());
            src.set_property("user-pw", c.password.as_str());
        }
        let sink = gst_app::AppSink::builder()
            .caps(&{
                // Whole access units in the MP4 form (the recorder's), which
                // the payloaders take as they are. (GStreamer 1.22's
                // h264parse, turning a depayloader's single NAL units of a
                // multi-slice stream into byte-stream access units, loses
                // slices: measured here on the live demo camera.)
                let mut caps = gst::Caps::builder("video/x-h264")
                    .field("stream-format", "avc")
                    .field("alignment", "au")
                    .build();
                caps.merge(
                    gst::Caps::builder("video/x-h265")
                        .field("stream-format", "hvc1")
                        .field("alignment", "au")
                        .build(),
                );
                caps
            })
            .sync(false)
            .max_buffers(30)
            .drop(true)
            .build();
        pipeline
            .add_many([&src, sink.upcast_ref()])
            .map_err(|e| format!("cannot build the stream: {e}"))?;
        // The depayloader and parser follow the codec the camera announces.
        let pipeline_weak = pipeline.downgrade();
        let sink_weak = sink.downgrade();
        src.connect_pad_added(move |_, pad| {
            let (Some(pipeline), Some(sink)) = (pipeline_weak.upgrade(), sink_weak.upgrade())
            else {
                return;
            };
            let Some(codec) = pad.current_caps().and_then(|caps| {
                caps.structure(0).and_then(|s| {
                    (s.get::<&str>("media").ok() == Some("video"))
                        .then(|| s.get::<String>("encoding-name").ok())
                        .flatten()
                })
            }) else {
                return;
            };
            let (depay, parse, media_type) = match codec.as_str() {
                "H264" => ("rtph264depay", "h264parse", "video/x-h264"),
                "H265" => ("rtph265depay", "h265parse", "video/x-h265"),
                other => {
                    tracing::warn!(
                        codec = other,
                        "a camera stream in a codec the relay does not carry"
                    );
                    return;
                }
            };
            if sink.static_pad("sink").is_some_and(|p| p.is_linked()) {
                return;
            }
            let chain = (|| -> Result<(), String> {
                let depay = make(depay)?;
                let parse = gst::ElementFactory::make(parse)
                    .property("config-interval", -1i32)
                    .build()
                    .map_err(|_| format!("GStreamer element {parse} is missing"))?;
                // The depayloader gathers whole access units itself.
                let au = gst::ElementFactory::make("capsfilter")
                    .property(
                        "caps",
                        gst::Caps::builder(media_type)
                            .field("alignment", "au")
                            .build(),
                    )
                    .build()
                    .map_err(|_| "GStreamer element capsfilter is missing".to_owned())?;
                pipeline
                    .add_many([&depay, &au, &parse])
                    .map_err(|e| e.to_string())?;
                gst::Element::link_many([&depay, &au, &parse, sink.upcast_ref()])
                    .map_err(|e| e.to_string())?;
                for e in [&depay, &au, &parse] {
                    e.sync_state_with_parent().map_err(|e| e.to_string())?;
                }
                let sinkpad = depay
                    .static_pad("sink")
                    .ok_or("depayloader without a sink")?;
                pad.link(&sinkpad).map_err(|e| format!("{e:?}"))?;
                Ok(())
            })();
            if let Err(e) = chain {
                tracing::warn!("cannot take a camera's video: {e}");
            }
        });
        let me = Arc::downgrade(self);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let Some(me) = me.upgrade() else {
                        return Err(gst::FlowError::Flushing);
                    };
                    me.frame(generation, &sample);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        let bus = pipeline.bus().ok_or("the stream has no bus")?;
        let me = Arc::downgrade(self);
        let watch = bus.create_watch(
            Some("ingest-bus"),
            glib::Priority::DEFAULT,
            move |_, msg| {
                let Some(me) = me.upgrade() else {
                    return glib::ControlFlow::Break;
                };
                if me.state().generation != generation {
                    return glib::ControlFlow::Break;
                }
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        me.failed(
                            generation,
                            e.error().message().trim_end_matches('.').to_owned(),
                        );
                        glib::ControlFlow::Break
                    }
                    gst::MessageView::Eos(_) => {
                        me.failed(generation, "the camera ended the stream".into());
                        glib::ControlFlow::Break
                    }
                    _ => glib::ControlFlow::Continue,
                }
            },
        );
        watch.attach(Some(&self.context));
        Ok(pipeline)
    }

    /// One access unit, on the streaming thread.
    fn frame(&self, generation: u64, sample: &gst::Sample) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let first = self.last_frame_ms.swap(ms, Ordering::Relaxed) == 0;
        self.frames.fetch_add(1, Ordering::Relaxed);
        if first {
            let report = {
                let mut st = self.state();
                if st.generation != generation {
                    return;
                }
                st.status = Status::Online;
                st.failures = 0;
                std::mem::take(&mut st.reported_offline)
            };
            // A first start is not news; coming back after an outage is.
            if report {
                tracing::info!(camera = %self.camera, stream = self.stream.as_str(), "camera stream back");
                (self.report)(&self.camera, self.stream, Change::Online);
            }
        }
        self.fanout.push(sample);
    }

    /// The pipeline of `generation` failed: tear it down, report the outage
    /// once, and try again after the backoff.
    fn failed(self: Arc<Self>, generation: u64, reason: String) {
        let (pipeline, report, delay) = {
            let mut st = self.state();
            if st.generation != generation || st.stopped {
                return;
            }
            st.generation += 1;
            st.status = Status::Offline(reason.clone());
            st.failures = st.failures.saturating_add(1);
            let report = !st.reported_offline;
            st.reported_offline = true;
            let delay = BACKOFF_MIN
                .saturating_mul(1 << (st.failures - 1).min(5))
                .min(BACKOFF_MAX);
            (st.pipeline.take(), report, delay)
        };
        if let Some(p) = pipeline {
            stop_pipeline(p, &self.busy);
        }
        tracing::warn!(
            camera = %self.camera,
            stream = self.stream.as_str(),
            retry_s = delay.as_secs(),
            "camera stream lost: {reason}"
        );
        if report {
            (self.report)(&self.camera, self.stream, Change::Offline(reason));
        }
        let me = Arc::clone(&self);
        glib::timeout_source_new(
            delay,
            Some("ingest-retry"),
            glib::Priority::DEFAULT,
            move || {
                Arc::clone(&me).open();
                glib::ControlFlow::Break
            },
        )
        .attach(Some(&self.context));
    }
}

/// To NULL off the caller's thread: `rtspsrc`'s TEARDOWN can wait on the
/// network.
fn stop_pipeline(pipeline: gst::Pipeline, busy: &Arc<AtomicUsize>) {
    busy.fetch_add(1, Ordering::SeqCst);
    let busy = Arc::clone(busy);
    pipeline.call_async(move |p| {
        let _ = p.set_state(gst::State::Null);
        busy.fetch_sub(1, Ordering::SeqCst);
    });
}

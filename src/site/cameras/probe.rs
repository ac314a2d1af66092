//! Real cameras: what their streams are, probed from the streams.
//!
//! One plain thread per real camera (never the async runtime: `rtspsrc`
//! blocks in its state changes) opens each of its streams with `rtspsrc`
//! (TCP, the camera's credentials as `user-id`/`user-pw`), reads the codec
//! from the RTP caps of DESCRIBE/SETUP, the size and frame rate from the
//! parser's first caps, decodes ONE frame and keeps it as a JPEG still (of
//! the sub stream when there is one: smaller), then closes the stream. A
//! probe that fails is tried again with [`Backoff`] (1 s doubling to a
//! minute); a probe that worked is refreshed every [`REFRESH`], which also
//! refreshes the still. The facts go into the snapshot's cameras through
//! [`Probes::fill`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::backoff::Backoff;
use crate::config::{CameraSource, SiteConfig};
use crate::domain::{Camera, CameraCredentials, CameraId, CameraState, StreamInfo};

/// A probe that worked is done again after this long (fresh still, fresh facts).
pub const REFRESH: Duration = Duration::from_secs(60);
/// One stream's probe gives up after this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Without a frame rate in the stream's caps, it is measured over this
/// many frames' timestamps.
const RATE_FRAMES: usize = 8;

/// What a stream is, as probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFacts {
    /// `h264` or `h265`.
    pub codec: &'static str,
    pub width: u32,
    pub height: u32,
    /// Frame rate as a fraction; 0/1 when neither the caps nor the
    /// timestamps told.
    pub fps_num: u32,
    pub fps_den: u32,
}

impl StreamFacts {
    fn apply(&self, s: &mut StreamInfo) {
        s.codec = self.codec.to_owned();
        s.width = self.width;
        s.height = self.height;
        s.set_frame_rate(self.fps_num, self.fps_den);
        s.probed = true;
    }
}

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("the camera refused the credentials")]
    Unauthorized,
    #[error("stream not found on the camera")]
    NotFound,
    #[error("camera unreachable: {0}")]
    Unreachable(String),
    #[error("unsupported stream: {0}")]
    Unsupported(String),
    #[error("probe stopped")]
    Stopped,
}

impl ProbeError {
    fn state(&self) -> CameraState {
        match self {
            ProbeError::Unauthorized => CameraState::Unauthorized,
            ProbeError::Unsupported(_) => CameraState::Unsupported,
            ProbeError::NotFound | ProbeError::Unreachable(_) | ProbeError::Stopped => {
                CameraState::Unreachable
            }
        }
    }
}

/// What is known of one camera.
#[derive(Debug, Clone)]
struct Probed {
    main: Option<StreamFacts>,
    sub: Option<StreamFacts>,
    state: CameraState,
    still: Option<Arc<Vec<u8>>>,
}

impl Default for Probed {
    fn default() -> Self {
        Self {
            main: None,
            sub: None,
            state: CameraState::Probing,
            still: None,
        }
    }
}

struct Shared {
    cameras: Mutex<HashMap<CameraId, Probed>>,
    stopped: Mutex<bool>,
    wake: Condvar,
    /// Read by probes in flight, without the lock.
    stop_flag: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Waits `d` or until stopped; true when stopped.
    fn wait(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopped = lock(&self.stopped);
        while !*stopped {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        true
    }
}

/// The probes of a site's real cameras. Dropping it (or [`Probes::stop`])
/// tells their threads to stop, without waiting for them.
pub struct Probes {
    shared: Arc<Shared>,
}

/// One real camera, as its probe thread needs it.
struct Target {
    id: CameraId,
    main_url: String,
    sub_url: Option<String>,
    credentials: Option<CameraCredentials>,
}

impl Probes {
    /// Starts a probe thread for every real (RTSP) camera of `cfg`; none for
    /// demo cameras.
    pub fn start(cfg: &SiteConfig) -> Probes {
        let shared = Arc::new(Shared {
            cameras: Mutex::new(HashMap::new()),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            stop_flag: AtomicBool::new(false),
        });
        for c in &cfg.cameras {
            let CameraSource::Rtsp {
                main_url,
                sub_url,
                credentials,
            } = &c.source
            else {
                continue;
            };
            lock(&shared.cameras).insert(c.id.clone(), Probed::default());
            let target = Target {
                id: c.id.clone(),
                main_url: main_url.clone(),
                sub_url: sub_url.clone(),
                credentials: credentials.clone(),
            };
            let s = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("probe {}", c.id).chars().take(15).collect())
                .spawn(move || run(&s, &target));
            if let Err(e) = spawned {
                tracing::error!(camera = %c.id, "cannot start a camera probe thread: {e}");
                if let Some(p) = lock(&shared.cameras).get_mut(&c.id) {
                    p.state = CameraState::Unreachable;
                }
            }
        }
        Probes { shared }
    }

    /// Puts what is known into the snapshot's cameras (real ones only).
    pub fn fill(&self, cameras: &mut [Camera]) {
        let probed = lock(&self.shared.cameras);
        for cam in cameras {
            let Some(p) = probed.get(&cam.id) else {
                continue;
            };
            cam.state = p.state;
            if let Some(f) = &p.main {
                f.apply(&mut cam.main);
            }
            if let Some(f) = p
                .sub
                .as_ref()
                .or(p.main.as_ref().filter(|_| !cam.has_sub_stream()))
            {
                f.apply(&mut cam.sub);
            }
        }
    }

    /// A real camera's newest still: `None` for a camera this does not
    /// probe; `Some(Err(why))` while there is none.
    pub fn still(&self, id: &CameraId) -> Option<Result<Vec<u8>, String>> {
        let probed = lock(&self.shared.cameras);
        let p = probed.get(id)?;
        Some(match (&p.still, p.state) {
            (Some(jpeg), _) => Ok(jpeg.as_ref().clone()),
            (None, CameraState::Probing) => Err(format!("camera {id:?} is being probed")),
            (None, CameraState::Unauthorized) => {
                Err(format!("camera {id:?} refused the site's credentials"))
            }
            (None, _) => Err(format!("camera {id:?} cannot be read now")),
        })
    }

    /// Tells every probe to stop; does not wait.
    pub fn stop(&self) {
        self.shared.stop_flag.store(true, Ordering::Relaxed);
        *lock(&self.shared.stopped) = true;
        self.shared.wake.notify_all();
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A camera's probe thread: probe, publish, wait (refresh or backoff).
fn run(shared: &Shared, t: &Target) {
    if let Err(e) = gst::init() {
        tracing::error!(camera = %t.id, "GStreamer cannot start: {e}");
        if let Some(p) = lock(&shared.cameras).get_mut(&t.id) {
            p.state = CameraState::Unreachable;
        }
        return;
    }
    let mut backoff = Backoff::default();
    backoff.initial_ms = 1_000;
    backoff.max_ms = 60_000;
    loop {
        let result = probe_camera(t, &shared.stop_flag);
        if shared.stop_flag.load(Ordering::Relaxed) {
            return;
        }
        let wait = {
            let mut cams = lock(&shared.cameras);
            let Some(p) = cams.get_mut(&t.id) else {
                return;
            };
            match result {
                Ok((main, sub, still)) => {
                    if p.state != CameraState::Online {
                        tracing::info!(camera = %t.id, codec = main.codec, width = main.width, height = main.height, fps_num = main.fps_num, fps_den = main.fps_den, "camera probed");
                    }
                    *p = Probed {
                        main: Some(main),
                        sub,
                        state: CameraState::Online,
                        still: still.map(Arc::new),
                    };
                    backoff.reset();
                    REFRESH
                }
                Err(e) => {
                    // Facts and still of an earlier probe stay: the camera
                    // is likely the same when it comes back.
                    p.state = e.state();
                    let delay = backoff.next_delay();
                    tracing::info!(camera = %t.id, attempt = backoff.attempt(), retry_in_ms = delay.as_millis() as u64, "camera probe failed: {e}");
                    delay
                }
            }
        };
        if shared.wait(wait) {
            return;
        }
    }
}

type CameraFacts = (StreamFacts, Option<StreamFacts>, Option<Vec<u8>>);

/// Probes the main stream, then the sub stream if any; the still comes from
/// the sub stream when there is one.
fn probe_camera(t: &Target, stop: &AtomicBool) -> Result<CameraFacts, ProbeError> {
    let creds = t.credentials.as_ref();
    let (main, main_still) = probe_stream(&t.main_url, creds, t.sub_url.is_none(), stop)?;
    let Some(sub_url) = &t.sub_url else {
        return Ok((main, None, main_still));
    };
    let (sub, sub_still) = probe_stream(sub_url, creds, true, stop)?;
    Ok((main, Some(sub), sub_still))
}

/// What the pad-added handler found.
#[derive(Default)]
struct Linked {
    codec: Option<&'static str>,
    failure: Option<ProbeError>,
}

/// Opens one stream, reads its facts and (with `want_still`) one decoded
/// frame as a JPEG; closes it again. Blocks up to [`PROBE_TIMEOUT`].
pub fn probe_stream(
    url: &str,
    credentials: Option<&CameraCredentials>,
    want_still: bool,
    stop: &AtomicBool,
) -> Result<(StreamFacts, Option<Vec<u8>>), ProbeError> {
    let pipeline = gst::Pipeline::with_name("camera-probe");
    let mut src = gst::ElementFactory::make("rtspsrc")
        .property("location", url)
        .property("latency", 0u32)
        .property("tcp-timeout", 5_000_000u64)
        .property_from_str("protocols", "tcp");
    if let Some(c) = credentials {
        src = src
            .property("user-id", c.username.as_str())
            .property("user-pw", c.password.as_str());
    }
    let src = src
        .build()
        .map_err(|_| ProbeError::Unsupported("GStreamer element rtspsrc is missing".into()))?;
    let sink = gst_app::AppSink::builder()
        .max_buffers(1)
        .drop(true)
        .sync(false)
        .enable_last_sample(false)
        .build();
    pipeline
        .add_many([&src, sink.upcast_ref()])
        .map_err(|e| ProbeError::Unreachable(format!("cannot assemble a probe: {e}")))?;

    src.connect("select-stream", false, |args| {
        let video = args
            .get(2)
            .and_then(|v| v.get::<gst::Caps>().ok())
            .and_then(|c| {
                c.structure(0)
                    .and_then(|s| s.get::<&str>("media").ok().map(|m| m == "video"))
            })
            .unwrap_or(true);
        Some(video.to_value())
    });

    let linked = Arc::new(Mutex::new(Linked::default()));
    let pts_seen: Arc<Mutex<Vec<gst::ClockTime>>> = Arc::default();
    let parser_caps: Arc<Mutex<Option<gst::Caps>>> = Arc::default();
    {
        let pipeline_weak = pipeline.downgrade();
        let sink_weak = sink.downgrade();
        let linked = Arc::clone(&linked);
        let pts_seen = Arc::clone(&pts_seen);
        let parser_caps = Arc::clone(&parser_caps);
        src.connect_pad_added(move |_, pad| {
            let (Some(pipeline), Some(sink)) = (pipeline_weak.upgrade(), sink_weak.upgrade())
            else {
                return;
            };
            let mut l = lock(&linked);
            if l.codec.is_some() || l.failure.is_some() {
                return;
            }
            match link_stream(&pipeline, pad, &sink, want_still, &pts_seen, &parser_caps) {
                Ok(codec) => l.codec = Some(codec),
                Err(e) => l.failure = Some(e),
            }
        });
    }

    let result = (|| {
        let bus = pipeline
            .bus()
            .ok_or_else(|| ProbeError::Unreachable("probe has no bus".into()))?;
        // A refused state change reports its reason on the bus.
        let _ = pipeline.set_state(gst::State::Playing);
        let deadline = Instant::now() + PROBE_TIMEOUT;
        let mut still: Option<Vec<u8>> = None;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(ProbeError::Stopped);
            }
            if let Some(e) = lock(&linked).failure.clone() {
                return Err(e);
            }
            if let Some(msg) = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(20),
                &[gst::MessageType::Error, gst::MessageType::Eos],
            ) {
                return Err(match msg.view() {
                    gst::MessageView::Error(err) => classify(&err.error(), err.debug().as_deref()),
                    _ => ProbeError::Unreachable("the camera ended the stream".into()),
                });
            }
            // Without a still wanted, the appsink takes the encoded stream
            // (dropping all but the newest): pulling only paces the loop.
            if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(30))
                && want_still
                && still.is_none()
                && let Some(buffer) = sample.buffer()
                && let Ok(map) = buffer.map_readable()
            {
                still = Some(map.as_slice().to_vec());
            }
            let caps = lock(&parser_caps).clone();
            let codec = lock(&linked).codec;
            if let (Some(codec), Some(caps)) = (codec, caps)
                && (!want_still || still.is_some())
            {
                let pts = lock(&pts_seen).clone();
                let rate_known = caps_rate(&caps).is_some() || pts.len() >= RATE_FRAMES;
                if rate_known || Instant::now() >= deadline {
                    let facts = facts_from(codec, &caps, &pts)?;
                    return Ok((facts, still));
                }
            }
            if Instant::now() >= deadline {
                return Err(ProbeError::Unreachable(format!(
                    "no picture within {} s",
                    PROBE_TIMEOUT.as_secs()
                )));
            }
        }
    })();
    if pipeline.set_state(gst::State::Null).is_err() {
        tracing::debug!("camera probe did not stop cleanly");
    }
    result
}

/// Links `rtspsrc`'s new pad to depayloader, parser and (for a still)
/// decoder and JPEG encoder, into `sink`. Returns the codec.
fn link_stream(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    sink: &gst_app::AppSink,
    want_still: bool,
    pts_seen: &Arc<Mutex<Vec<gst::ClockTime>>>,
    parser_caps: &Arc<Mutex<Option<gst::Caps>>>,
) -> Result<&'static str, ProbeError> {
    let caps = pad
        .current_caps()
        .ok_or_else(|| ProbeError::Unsupported("a stream without caps".into()))?;
    let s = caps
        .structure(0)
        .ok_or_else(|| ProbeError::Unsupported("a stream without caps".into()))?;
    if s.get::<&str>("media").ok() != Some("video") {
        return Err(ProbeError::Unsupported("not a video stream".into()));
    }
    let encoding = s
        .get::<&str>("encoding-name")
        .unwrap_or("")
        .to_ascii_uppercase();
    let (codec, depay, parse, decode) = match encoding.as_str() {
        "H264" => ("h264", "rtph264depay", "h264parse", "avdec_h264"),
        "H265" => ("h265", "rtph265depay", "h265parse", "avdec_h265"),
        other => {
            return Err(ProbeError::Unsupported(format!(
                "{other} (only H.264 and H.265)"
            )));
        }
    };
    let make = |name: &str| {
        gst::ElementFactory::make(name)
            .build()
            .map_err(|_| ProbeError::Unsupported(format!("GStreamer element {name} is missing")))
    };
    let mut chain = vec![make(depay)?, make(parse)?];
    if want_still {
        chain.push(
            gst::ElementFactory::make(decode)
                .property("max-threads", 1i32)
                .build()
                .map_err(|_| {
                    ProbeError::Unsupported(format!("GStreamer element {decode} is missing"))
                })?,
        );
        chain.push(make("videoconvert")?);
        chain.push(
            gst::ElementFactory::make("jpegenc")
                .property("quality", 85i32)
                .build()
                .map_err(|_| {
                    ProbeError::Unsupported("GStreamer element jpegenc is missing".into())
                })?,
        );
    }
    pipeline
        .add_many(&chain)
        .map_err(|e| ProbeError::Unreachable(format!("cannot assemble a probe: {e}")))?;
    let mut linked: Vec<&gst::Element> = chain.iter().collect();
    linked.push(sink.upcast_ref());
    gst::Element::link_many(linked)
        .map_err(|e| ProbeError::Unreachable(format!("cannot link a probe: {e}")))?;
    if let Some(parser_src) = chain.get(1).and_then(|p| p.static_pad("src")) {
        let pts_seen = Arc::clone(pts_seen);
        let parser_caps = Arc::clone(parser_caps);
        parser_src.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                match &info.data {
                    Some(gst::PadProbeData::Buffer(b)) => {
                        if let Some(pts) = b.pts() {
                            let mut seen = lock(&pts_seen);
                            if seen.len() < RATE_FRAMES {
                                seen.push(pts);
                            }
                        }
                    }
                    Some(gst::PadProbeData::Event(e)) => {
                        if let gst::EventView::Caps(c) = e.view() {
                            *lock(&parser_caps) = Some(c.caps_owned());
                        }
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
    for e in &chain {
        e.sync_state_with_parent()
            .map_err(|e| ProbeError::Unreachable(format!("cannot start a probe: {e}")))?;
    }
    let sink_pad = chain
        .first()
        .and_then(|d| d.static_pad("sink"))
        .ok_or_else(|| ProbeError::Unreachable("depayloader without a sink pad".into()))?;
    pad.link(&sink_pad)
        .map_err(|e| ProbeError::Unreachable(format!("cannot link the stream: {e:?}")))?;
    Ok(codec)
}

/// A known (non-zero) frame rate from caps.
fn caps_rate(caps: &gst::Caps) -> Option<(u32, u32)> {
    let f = caps.structure(0)?.get::<gst::Fraction>("framerate").ok()?;
    let (num, den) = (
        u32::try_from(f.numer()).ok()?,
        u32::try_from(f.denom()).ok()?,
    );
    (num > 0 && den > 0).then_some((num, den))
}

fn facts_from(
    codec: &'static str,
    caps: &gst::Caps,
    pts: &[gst::ClockTime],
) -> Result<StreamFacts, ProbeError> {
    let s = caps
        .structure(0)
        .ok_or_else(|| ProbeError::Unsupported("parser gave empty caps".into()))?;
    let dim = |name: &str| {
        s.get::<i32>(name)
            .ok()
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| ProbeError::Unsupported(format!("the stream states no {name}")))
    };
    let (fps_num, fps_den) = caps_rate(caps)
        .or_else(|| rate_from_pts(pts))
        .unwrap_or((0, 1));
    Ok(StreamFacts {
        codec,
        width: dim("width")?,
        height: dim("height")?,
        fps_num,
        fps_den,
    })
}

/// A frame rate from frame timestamps (median interval), as a fraction:
/// whole rates (and halves, as 12.5 = 25/2) snapped, others to 1/1000 fps.
pub fn rate_from_pts(pts: &[gst::ClockTime]) -> Option<(u32, u32)> {
    let mut sorted: Vec<u64> = pts.iter().map(|t| t.nseconds()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut deltas: Vec<u64> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
    if deltas.is_empty() {
        return None;
    }
    deltas.sort_unstable();
    let median = deltas[deltas.len() / 2];
    if median == 0 {
        return None;
    }
    let fps = 1e9 / median as f64;
    for den in [1_u32, 2] {
        let n = (fps * f64::from(den)).round();
        if n >= 1.0 && (fps * f64::from(den) - n).abs() < 0.0005 * n {
            return Some((n as u32, den));
        }
    }
    Some(((fps * 1000.0).round() as u32, 1000))
}

/// What a GStreamer error means for a probe.
fn classify(e: &gst::glib::Error, debug: Option<&str>) -> ProbeError {
    let lower = debug.unwrap_or("").to_ascii_lowercase();
    if e.matches(gst::ResourceError::NotAuthorized) || lower.contains("unauthorized") {
        ProbeError::Unauthorized
    } else if e.matches(gst::ResourceError::NotFound) || lower.contains("not found") {
        ProbeError::NotFound
    } else {
        ProbeError::Unreachable(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(interval_ns: u64, n: u64) -> Vec<gst::ClockTime> {
        (0..n)
            .map(|i| gst::ClockTime::from_nseconds(1_000_000 + i * interval_ns))
            .collect()
    }

    #[test]
    fn frame_rates_from_timestamps() {
        assert_eq!(rate_from_pts(&pts(40_000_000, 8)), Some((25, 1)));
        assert_eq!(rate_from_pts(&pts(83_333_333, 8)), Some((12, 1)));
        assert_eq!(rate_from_pts(&pts(80_000_000, 8)), Some((25, 2)));
        assert_eq!(rate_from_pts(&pts(33_366_700, 8)), Some((29_970, 1000)));
        assert_eq!(rate_from_pts(&pts(40_000_000, 1)), None);
        assert_eq!(rate_from_pts(&[]), None);
    }

    #[test]
    fn facts_fill_stream_info_with_exact_and_rounded_rates() {
        let mut s = StreamInfo::default();
        StreamFacts {
            codec: "h265",
            width: 1920,
            height: 1080,
            fps_num: 25,
            fps_den: 2,
        }
        .apply(&mut s);
        assert_eq!((s.codec.as_str(), s.width, s.height), ("h265", 1920, 1080));
        assert!((s.fps_exact - 12.5).abs() < 1e-9);
        assert_eq!(s.fps, 13, "rounded up");
        assert!(s.probed);
        s.set_frame_rate(12, 1);
        assert_eq!(s.fps, 12);
    }

    #[test]
    fn facts_from_caps_keep_the_exact_rate_and_fall_back_to_timestamps() {
        gst::init().expect("gstreamer");
        let caps = |rate: Option<gst::Fraction>| {
            let mut b = gst::Caps::builder("video/x-h264")
                .field("width", 704i32)
                .field("height", 576i32);
            if let Some(r) = rate {
                b = b.field("framerate", r);
            }
            b.build()
        };
        let f = facts_from("h264", &caps(Some(gst::Fraction::new(25, 2))), &[]).expect("facts");
        assert_eq!((f.width, f.height, f.fps_num, f.fps_den), (704, 576, 25, 2));
        // 0/1 in the caps: measured from the timestamps.
        let f = facts_from(
            "h264",
            &caps(Some(gst::Fraction::new(0, 1))),
            &pts(83_333_333, 8),
        )
        .expect("facts");
        assert_eq!((f.fps_num, f.fps_den), (12, 1));
        // Neither: unknown (0), not a guess.
        let f = facts_from("h264", &caps(None), &[]).expect("facts");
        assert_eq!((f.fps_num, f.fps_den), (0, 1));
        let none = gst::Caps::builder("video/x-h264").build();
        assert!(matches!(
            facts_from("h264", &none, &[]),
            Err(ProbeError::Unsupported(_))
        ));
    }

    fn probes_with(entries: Vec<(&str, Probed)>) -> Probes {
        let probes = Probes {
            shared: Arc::new(Shared {
                cameras: Mutex::new(HashMap::new()),
                stopped: Mutex::new(false),
                wake: Condvar::new(),
                stop_flag: AtomicBool::new(false),
            }),
        };
        for (id, p) in entries {
            lock(&probes.shared.cameras).insert(CameraId::new(id), p);
        }
        probes
    }

    fn cam(id: &str, sub_url: &str) -> Camera {
        let info = |url: &str| StreamInfo {
            url: url.to_owned(),
            probed: false,
            ..StreamInfo::default()
        };
        Camera {
            id: CameraId::new(id),
            name: id.into(),
            main: info("rtsp://h/main"),
            sub: info(sub_url),
            map: None,
            state: CameraState::Probing,
            auth_required: false,
            reason: None,
        }
    }

    #[test]
    fn the_snapshot_gets_what_was_probed_and_stills_say_why_not() {
        let main = StreamFacts {
            codec: "h265",
            width: 1920,
            height: 1080,
            fps_num: 25,
            fps_den: 1,
        };
        let sub = StreamFacts {
            codec: "h264",
            width: 704,
            height: 576,
            fps_num: 12,
            fps_den: 1,
        };
        let probes = probes_with(vec![
            (
                "two",
                Probed {
                    main: Some(main),
                    sub: Some(sub),
                    state: CameraState::Online,
                    still: Some(Arc::new(vec![0xff, 0xd8])),
                },
            ),
            (
                "one",
                Probed {
                    main: Some(main),
                    sub: None,
                    state: CameraState::Online,
                    still: None,
                },
            ),
            (
                "locked",
                Probed {
                    state: CameraState::Unauthorized,
                    ..Probed::default()
                },
            ),
            ("new", Probed::default()),
        ]);
        let mut cams = vec![
            cam("two", "rtsp://h/sub"),
            cam("one", "rtsp://h/main"),
            cam("locked", "rtsp://h/main"),
            cam("demo", "rtsp://h/sub"),
        ];
        probes.fill(&mut cams);
        assert_eq!(
            (cams[0].main.codec.as_str(), cams[0].main.width),
            ("h265", 1920)
        );
        assert_eq!((cams[0].sub.codec.as_str(), cams[0].sub.fps), ("h264", 12));
        assert_eq!(cams[0].state, CameraState::Online);
        // One stream: the sub is the main, facts included.
        assert_eq!((cams[1].sub.width, cams[1].sub.probed), (1920, true));
        assert_eq!(cams[2].state, CameraState::Unauthorized);
        assert!(!cams[2].main.probed);
        // A camera the probes do not know (a demo one) is left alone.
        assert_eq!(cams[3].state, CameraState::Probing);

        assert_eq!(
            probes.still(&CameraId::new("two")),
            Some(Ok(vec![0xff, 0xd8]))
        );
        assert!(
            probes
                .still(&CameraId::new("one"))
                .is_some_and(|r| r.is_err())
        );
        let locked = probes.still(&CameraId::new("locked"));
        assert!(
            locked
                .as_ref()
                .is_some_and(|r| r.as_ref().is_err_and(|e| e.contains("credentials"))),
            "{locked:?}"
        );
        assert!(
            probes
                .still(&CameraId::new("new"))
                .is_some_and(|r| r.is_err())
        );
        assert_eq!(probes.still(&CameraId::new("demo")), None);
    }

    #[test]
    fn stopping_wakes_a_waiting_probe() {
        let probes = probes_with(Vec::new());
        let shared = Arc::clone(&probes.shared);
        let waiter = std::thread::spawn(move || shared.wait(Duration::from_secs(600)));
        probes.stop();
        assert!(waiter.join().expect("waiter"), "woken as stopped");
        assert!(
            probes.shared.wait(Duration::from_secs(600)),
            "stays stopped"
        );
    }

    #[test]
    fn errors_map_to_camera_states() {
        let auth = gst::glib::Error::new(gst::ResourceError::NotAuthorized, "Unauthorized");
        assert_eq!(classify(&auth, None), ProbeError::Unauthorized);
        assert_eq!(ProbeError::Unauthorized.state(), CameraState::Unauthorized);
        let gone = gst::glib::Error::new(gst::ResourceError::OpenRead, "Could not open");
        assert!(matches!(classify(&gone, None), ProbeError::Unreachable(_)));
        assert_eq!(
            ProbeError::Unsupported("MJPEG".into()).state(),
            CameraState::Unsupported
        );
    }
}

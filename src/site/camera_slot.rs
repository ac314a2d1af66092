//! The site's cameras as the API sees them: their URLs, probed stream facts,
//! stills and credentials, and the demo cameras as far as they got (moved
//! as one block from the old core; the camera pipelines and probes
//! themselves live in [`super::cameras`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::config::{CameraSource, SiteConfig};
use crate::domain::{Camera, CameraId, CameraState};

use super::cameras::{CameraError, DemoCameras, Probes};
use super::env::Shutdown;
use super::error::CoreError;
use super::media::{Media, Source, Status, StreamName};

/// The demo cameras as far as they got.
enum Slot {
    Off,
    /// Loading or encoding the scenes: how many cameras are ready, of how
    /// many.
    Starting {
        ready: usize,
        total: usize,
    },
    Running {
        cams: Box<DemoCameras>,
        base: String,
    },
    Failed,
}

/// The cameras service.
pub struct CameraSlot {
    cfg: Arc<SiteConfig>,
    shutdown: Shutdown,
    slot: Mutex<Slot>,
    /// The real cameras' stream facts and stills.
    probes: Probes,
    /// The relay and the ingests, once the site has started them.
    media: Mutex<Option<Arc<Media>>>,
    /// The relay after [`CameraSlot::stop`], until it has settled.
    stopped: Mutex<Option<Arc<Media>>>,
}

impl CameraSlot {
    /// The service; starts probing the real cameras.
    pub fn new(cfg: Arc<SiteConfig>, shutdown: Shutdown) -> CameraSlot {
        let probes = Probes::start(&cfg);
        CameraSlot {
            cfg,
            shutdown,
            slot: Mutex::new(Slot::Off),
            probes,
            media: Mutex::new(None),
            stopped: Mutex::new(None),
        }
    }

    fn media(&self) -> Option<Arc<Media>> {
        self.media
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Hands over the relay: from now on clients get its URLs, and every
    /// real camera is ingested at once (the demo cameras once they serve).
    pub fn attach_media(&self, media: Arc<Media>) {
        for c in &self.cfg.cameras {
            if let CameraSource::Rtsp {
                main_url,
                sub_url,
                credentials,
            } = &c.source
            {
                let source = |url: &String| Source {
                    url: url.clone(),
                    credentials: credentials.clone(),
                };
                media.ingest(&c.id, source(main_url), sub_url.as_ref().map(source));
            }
        }
        if let Slot::Running { base, .. } = &*self.slot() {
            ingest_demo(&self.cfg, &media, base);
        }
        *self.media.lock().unwrap_or_else(PoisonError::into_inner) = Some(media);
    }

    /// Each camera's main and sub stream: whether the relay has one for it
    /// (a camera with one stream serves it on both).
    pub fn relay_mounts(cfg: &SiteConfig) -> Vec<(CameraId, bool)> {
        cfg.cameras
            .iter()
            .map(|c| {
                let has_sub = match &c.source {
                    CameraSource::Demo { .. } => true,
                    CameraSource::Rtsp { sub_url, .. } => sub_url.is_some(),
                };
                (c.id.clone(), has_sub)
            })
            .collect()
    }

    /// Whether the stopped relay and its ingests have let go of every
    /// connection (true when there was none).
    pub fn media_settled(&self) -> bool {
        self.stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_none_or(|m| m.settled())
    }

    /// Where a camera stream's ingest stands (`None` without a relay or
    /// before the camera is ingested).
    pub fn stream_status(&self, camera: &CameraId, stream: StreamName) -> Option<Status> {
        self.media()?.status(camera, stream)
    }

    /// The relay's port, once it runs.
    pub fn relay_port(&self) -> Option<u16> {
        self.media().map(|m| m.port())
    }

    /// Rewrites the relay URLs of `cameras` to the host a client reached the
    /// site by, when the relay listens on every address (`0.0.0.0`, `::`).
    pub fn rehost(&self, cameras: &mut [Camera], host: Option<&str>) {
        let (Some(media), Some(host)) = (self.media(), host) else {
            return;
        };
        if !media.listens_everywhere() {
            return;
        }
        for c in cameras {
            let one = !c.has_sub_stream();
            c.main.url = media.url(Some(host), &c.id, StreamName::Main);
            c.sub.url = if one {
                c.main.url.clone()
            } else {
                media.url(Some(host), &c.id, StreamName::Sub)
            };
        }
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cameras with the URLs they answer on now.
    pub fn cameras(&self) -> Vec<Camera> {
        let base = match &*self.slot() {
            Slot::Running { base, .. } => Some(base.clone()),
            _ if self.cfg.video.rtsp_port != 0 => {
                Some(format!("rtsp://127.0.0.1:{}", self.cfg.video.rtsp_port))
            }
            _ => None,
        };
        let preparing = match &*self.slot() {
            Slot::Starting { ready, total } => Some((*ready, *total)),
            _ => None,
        };
        let mut cameras = self.cfg.cameras_with_urls(base.as_deref());
        self.probes.fill(&mut cameras);
        if let Some((ready, total)) = preparing {
            // A newcomer's first sight: say what is happening.
            for (c, cfg) in cameras.iter_mut().zip(&self.cfg.cameras) {
                if matches!(cfg.source, CameraSource::Demo { .. }) {
                    c.state = CameraState::Preparing;
                    c.reason = Some(format!(
                        "demo cameras being prepared, {ready} of {total} ready"
                    ));
                }
            }
        }
        if let Some(media) = self.media() {
            // Clients take video from the relay only, signed in: never a
            // camera's URL, never its credentials.
            for c in &mut cameras {
                let one = !c.has_sub_stream();
                c.main.url = media.url(None, &c.id, StreamName::Main);
                c.sub.url = if one {
                    c.main.url.clone()
                } else {
                    media.url(None, &c.id, StreamName::Sub)
                };
                c.auth_required = false;
                match media.status(&c.id, StreamName::Main) {
                    // Probing says its stream facts are still to come.
                    Some(Status::Online) if c.state != CameraState::Probing => {
                        c.state = CameraState::Online;
                    }
                    Some(Status::Offline(reason)) if c.state != CameraState::Unsupported => {
                        c.state = CameraState::from_failure(&reason);
                        c.reason = Some(reason);
                    }
                    _ => {}
                }
            }
        }
        cameras
    }

    /// Marks the demo cameras as being started.
    pub fn starting(&self) {
        *self.slot() = Slot::Starting { ready: 0, total: 0 };
    }

    /// How far the demo cameras' scenes are: `ready` of `total`.
    pub fn preparing(&self, ready: usize, total: usize) {
        let mut slot = self.slot();
        if let Slot::Starting { .. } = &*slot {
            *slot = Slot::Starting { ready, total };
        }
    }

    /// Hands over the started demo cameras (or their failure). After
    /// shutdown they are stopped at once.
    pub fn started(&self, result: Result<DemoCameras, CameraError>) {
        match result {
            Ok(cams) => {
                if self.shutdown.is_triggered() {
                    drop(cams);
                    return;
                }
                let base = cams.rtsp_base();
                tracing::info!(rtsp = %base, "demo cameras serving");
                if let Some(media) = self.media() {
                    ingest_demo(&self.cfg, &media, &base);
                }
                *self.slot() = Slot::Running {
                    cams: Box::new(cams),
                    base,
                };
            }
            Err(e) => {
                tracing::warn!("demo cameras unavailable: {e:#}");
                *self.slot() = Slot::Failed;
            }
        }
    }

    /// The newest still of a camera.
    pub fn still(&self, id: &CameraId) -> Result<Vec<u8>, CoreError> {
        if !self.cfg.cameras.iter().any(|c| &c.id == id) {
            return Err(CoreError::NotFound(format!("no camera {id:?}")));
        }
        if let Some(still) = self.probes.still(id) {
            return still.map_err(CoreError::Unavailable);
        }
        match &*self.slot() {
            Slot::Running { cams, .. } => cams
                .still_jpeg(id)
                .ok_or_else(|| CoreError::Unavailable(format!("no still of camera {id:?} yet"))),
            Slot::Starting { .. } => Err(CoreError::Unavailable(
                "the demo cameras are still starting".into(),
            )),
            Slot::Off | Slot::Failed => Err(CoreError::Unavailable(format!(
                "no stills are served for camera {id:?}"
            ))),
        }
    }

    /// Fault injection: stalls (or releases) a demo camera.
    pub fn set_stalled(&self, id: &CameraId, stalled: bool) -> Result<(), CoreError> {
        if !self.cfg.cameras.iter().any(|c| &c.id == id) {
            return Err(CoreError::NotFound(format!("no camera {id:?}")));
        }
        match &*self.slot() {
            Slot::Running { cams, .. } => {
                if cams.set_stalled(id, stalled) {
                    Ok(())
                } else {
                    Err(CoreError::NotFound(format!(
                        "camera {id:?} is not a demo camera"
                    )))
                }
            }
            _ => Err(CoreError::Unavailable(
                "the demo cameras are not running".into(),
            )),
        }
    }

    /// Stops the probes, the relay and its ingests, and the demo cameras
    /// without blocking the caller.
    pub fn stop(&self) {
        self.probes.stop();
        if let Some(media) = self
            .media
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            media.stop();
            *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = Some(media);
        }
        let slot = std::mem::replace(&mut *self.slot(), Slot::Off);
        if let Slot::Running { cams, .. } = slot {
            // Stopping the RTSP server joins its thread: not on this one.
            std::thread::spawn(move || drop(cams));
        }
    }
}

/// The site ingests each demo camera from its own demo RTSP server at
/// `base`, as it would a real one.
fn ingest_demo(cfg: &SiteConfig, media: &Media, base: &str) {
    for c in &cfg.cameras {
        if let CameraSource::Demo { .. } = &c.source {
            let source = |stream: StreamName| Source {
                url: format!("{base}/{}/{}", c.id, stream.as_str()),
                credentials: None,
            };
            media.ingest(
                &c.id,
                source(StreamName::Main),
                Some(source(StreamName::Sub)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorKind;
    use std::path::Path;

    #[test]
    fn stills_answer_by_state() {
        let mut cfg =
            SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
                .unwrap();
        cfg.video.rtsp_port = 0;
        let cams = CameraSlot::new(Arc::new(cfg), Shutdown::default());
        let id = cams.cfg.cameras[0].id.clone();
        assert_eq!(
            cams.still(&CameraId::new("cam-nope")).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(cams.still(&id).unwrap_err().kind(), ErrorKind::Unavailable);
        cams.starting();
        let e = cams.still(&id).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.to_string().contains("starting"), "{e}");
        cams.started(Err(CameraError::Failed("test".into())));
        assert_eq!(cams.still(&id).unwrap_err().kind(), ErrorKind::Unavailable);
        assert_eq!(
            cams.set_stalled(&id, true).unwrap_err().kind(),
            ErrorKind::Unavailable
        );
        assert_eq!(cams.cameras().len(), cams.cfg.cameras.len());
        cams.stop();
    }
}

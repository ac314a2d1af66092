//! The site's cameras as the API sees them: their URLs, probed stream facts,
//! stills and credentials, and the demo cameras as far as they got (moved
//! as one block from the old core; the camera pipelines and probes
//! themselves live in [`super::cameras`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::config::SiteConfig;
use crate::domain::{Camera, CameraCredentials, CameraId};

use super::cameras::{CameraError, DemoCameras, Probes};
use super::env::Shutdown;
use super::error::CoreError;

/// The demo cameras as far as they got.
enum Slot {
    Off,
    Starting,
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
        let mut cameras = self.cfg.cameras_with_urls(base.as_deref());
        self.probes.fill(&mut cameras);
        cameras
    }

    /// A real camera's credentials, for a signed-in client until the site
    /// relays video; NotFound when the camera has none.
    pub fn credentials(&self, id: &CameraId) -> Result<CameraCredentials, CoreError> {
        self.cfg
            .camera_credentials(id)
            .cloned()
            .ok_or_else(|| CoreError::NotFound(format!("camera {id:?} has no credentials")))
    }

    /// Marks the demo cameras as being started.
    pub fn starting(&self) {
        *self.slot() = Slot::Starting;
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
            Slot::Starting => Err(CoreError::Unavailable(
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

    /// Stops the probes and the demo cameras without blocking the caller.
    pub fn stop(&self) {
        self.probes.stop();
        let slot = std::mem::replace(&mut *self.slot(), Slot::Off);
        if let Slot::Running { cams, .. } = slot {
            // Stopping the RTSP server joins its thread: not on this one.
            std::thread::spawn(move || drop(cams));
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

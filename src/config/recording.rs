//! `[recording]` in `site.toml`: where the site records, how long its
//! segments are, how much it keeps, and when its disk counts as low.
//!
//! ```toml
//! [recording]
//! enabled = true
//! dir = "recordings"        # under the data folder unless absolute
//! segment_secs = 60
//! max_days = 30             # every camera; leave out for no limit
//! max_gib = 200             # per camera; leave out for no limit
//! low_free_gib = 5
//!
//! [recording.cameras.cam-lobby]   # a camera's own limits
//! max_days = 90
//! record_sub = true               # its sub stream too
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{CameraConfig, ConfigError};
use crate::domain::CameraId;

/// A camera's own limits (either left out: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingKeep {
    pub max_days: Option<u32>,
    pub max_gib: Option<f64>,
    /// Record the camera's sub stream too (as it comes, beside the main).
    pub record_sub: bool,
}

/// `[recording]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Record every camera's main stream. Default: false.
    pub enabled: bool,
    /// The recordings folder; a relative one is under the data folder.
    /// Default: `recordings`.
    pub dir: PathBuf,
    /// About how long a segment is, 2 to 600 s (a split waits for a key
    /// frame). Default: 60.
    pub segment_secs: u32,
    /// Keep at most this many days of each camera. Default: no limit.
    pub max_days: Option<u32>,
    /// Keep at most this many GiB of each camera. Default: no limit.
    pub max_gib: Option<f64>,
    /// Free space under this many GiB is "storage low". Default: 5.
    pub low_free_gib: f64,
    /// Limits of single cameras, in place of `max_days` / `max_gib`.
    pub cameras: BTreeMap<CameraId, RecordingKeep>,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dir: PathBuf::from("recordings"),
            segment_secs: 60,
            max_days: None,
            max_gib: None,
            low_free_gib: 5.0,
            cameras: BTreeMap::new(),
        }
    }
}

/// Bytes in a GiB.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

impl RecordingKeep {
    /// `max_gib` in bytes.
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_gib.map(|g| (g * GIB) as u64)
    }
}

impl RecordingConfig {
    /// `low_free_gib` in bytes.
    pub fn low_free_bytes(&self) -> u64 {
        (self.low_free_gib * GIB) as u64
    }

    /// The recordings folder for a site whose data folder is `data_dir`.
    pub fn dir_in(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.dir)
    }

    /// The limits that hold for `camera`.
    pub fn keep_for(&self, camera: &CameraId) -> RecordingKeep {
        self.cameras.get(camera).copied().unwrap_or(RecordingKeep {
            max_days: self.max_days,
            max_gib: self.max_gib,
            record_sub: false,
        })
    }

    /// Checks the section against the site's cameras (`file` and `text`
    /// name where an error is).
    pub(super) fn check(
        &self,
        file: &Path,
        text: &str,
        cameras: &[CameraConfig],
    ) -> Result<(), ConfigError> {
        if !(2..=600).contains(&self.segment_secs) {
            return Err(ConfigError::invalid(
                file,
                text,
                "segment_secs",
                "recording.segment_secs",
                format!("{} is not between 2 and 600", self.segment_secs),
            ));
        }
        let gib_ok = |g: Option<f64>| g.is_none_or(|g| g.is_finite() && g > 0.0);
        if !gib_ok(self.max_gib) || !gib_ok(Some(self.low_free_gib).filter(|g| *g != 0.0)) {
            return Err(ConfigError::invalid(
                file,
                text,
                "gib",
                "recording.max_gib",
                "sizes must be positive numbers of GiB",
            ));
        }
        for (id, keep) in &self.cameras {
            if !cameras.iter().any(|c| &c.id == id) {
                return Err(ConfigError::invalid(
                    file,
                    text,
                    id.as_str(),
                    &format!("recording.cameras.{id}"),
                    "no camera has this id",
                ));
            }
            if !gib_ok(keep.max_gib) {
                return Err(ConfigError::invalid(
                    file,
                    text,
                    id.as_str(),
                    &format!("recording.cameras.{id}.max_gib"),
                    "sizes must be positive numbers of GiB",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;

    #[derive(Deserialize)]
    struct File {
        recording: RecordingConfig,
    }

    fn parse(text: &str) -> RecordingConfig {
        toml::from_str::<File>(text).unwrap().recording
    }

    fn camera(id: &str) -> CameraConfig {
        CameraConfig {
            id: CameraId::new(id),
            name: id.into(),
            map: None,
            source: super::super::CameraSource::Demo {
                scene: "lobby".into(),
            },
        }
    }

    #[test]
    fn the_section_reads_with_defaults_and_per_camera_limits() {
        let c = parse("[recording]\n");
        assert_eq!(c, RecordingConfig::default());
        let c = parse(
            "[recording]\nenabled = true\nmax_days = 30\nmax_gib = 1.5\n\
             [recording.cameras.cam-lobby]\nmax_days = 90\nrecord_sub = true\n",
        );
        assert!(c.enabled);
        let lobby = CameraId::new("cam-lobby");
        assert_eq!(
            c.keep_for(&lobby),
            RecordingKeep {
                max_days: Some(90),
                max_gib: None,
                record_sub: true,
            }
        );
        assert_eq!(
            c.keep_for(&CameraId::new("cam-other")),
            RecordingKeep {
                max_days: Some(30),
                max_gib: Some(1.5),
                record_sub: false,
            }
        );
        assert_eq!(
            c.keep_for(&CameraId::new("x")).max_bytes(),
            Some(1_610_612_736)
        );
        assert_eq!(c.low_free_bytes(), 5 * 1024 * 1024 * 1024);
        assert_eq!(
            c.dir_in(Path::new("/var/lib/w")),
            Path::new("/var/lib/w/recordings")
        );
        c.check(Path::new("site.toml"), "", &[camera("cam-lobby")])
            .unwrap();
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |text: &str| {
            let c = parse(text);
            match c.check(Path::new("site.toml"), text, &[camera("cam-lobby")]) {
                Err(ConfigError::Invalid { key, line, .. }) => (key, line),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            key("[recording]\nsegment_secs = 1\n"),
            ("recording.segment_secs".into(), 2)
        );
        assert_eq!(
            key("[recording]\nmax_gib = -1\n"),
            ("recording.max_gib".into(), 2)
        );
        assert_eq!(
            key("[recording]\n[recording.cameras.cam-nope]\nmax_days = 1\n"),
            ("recording.cameras.cam-nope".into(), 2)
        );
        assert!(toml::from_str::<File>("[recording]\nkeep = 1\n").is_err());
    }
}

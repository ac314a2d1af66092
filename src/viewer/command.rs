//! What the UI asks for: typed [`Command`]s. The UI puts them into a
//! [`CommandSender`]; the shell drains it once a frame, notes what the
//! operator asked for in `AppState`, and forwards each command over a
//! bounded channel to the worker task that does the I/O.

use std::sync::mpsc;

use crate::domain::{
    CameraId, CardholderId, CredentialId, CredentialState, DoorAction, DoorId, MapId,
    MapPlacements, RequestId,
};

/// A request from the operator to the worker.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    SignIn {
        username: String,
        password: String,
    },
    SignOut,
    /// A door command; `idempotency_key` is fresh per click and is reused
    /// for every retry of the same request.
    Door {
        door: DoorId,
        action: DoorAction,
        idempotency_key: String,
    },
    Grant {
        request: RequestId,
        reason: Option<String>,
    },
    Deny {
        request: RequestId,
        reason: Option<String>,
    },
    /// Show this door's cameras in the camera view. A view change only:
    /// the shell applies it ([`AppState::show_door_cameras`](super::AppState::show_door_cameras))
    /// and never sends it to the worker.
    ShowDoorCameras(DoorId),
    /// Play this door's cameras back from `at` (a few seconds before one
    /// of its events): the shell shows them and starts playback; the worker
    /// never sees it.
    PlayDoorFrom {
        door: DoorId,
        at: crate::domain::Timestamp,
    },
    /// Show this camera in the video view (the shell does it; the worker
    /// never sees it).
    ShowCamera {
        camera: CameraId,
    },
    /// Ask the site for the cardholders matching `q` (name, department or
    /// badge; all when empty).
    SearchCardholders {
        q: String,
    },
    /// Open a cardholder in the cardholders panel (the shell brings the
    /// panel to the front; the worker reads it, its photo and events).
    OpenCardholder(CardholderId),
    /// Read the open cardholder again (it changed at the site).
    RefreshCardholder(CardholderId),
    /// Create a cardholder (`create`) or change one: the name and
    /// department given; the schedule when not empty.
    SaveCardholder {
        id: CardholderId,
        create: bool,
        name: String,
        department: String,
        schedule: String,
    },
    /// Enable or disable a badge of `cardholder`.
    SetCredential {
        cardholder: CardholderId,
        credential: CredentialId,
        state: CredentialState,
    },
    /// Publish (create or replace) a shared view on the site.
    PublishView {
        id: crate::domain::ViewId,
        body: crate::domain::SharedViewBody,
    },
    /// Delete a shared view on the site.
    DeleteView(crate::domain::ViewId),
    /// Replace floor map `map`'s placements (the map editor); the answer
    /// comes back as `AppEvent::MapSaved` with `save`.
    SaveMapPlacements {
        map: MapId,
        placements: PlacementList,
        save: u64,
    },
    /// Try to reach the site now (it could not be reached at the start).
    RetryConnect,
    /// Save a tile's frame as a PNG (the worker encodes and writes it off
    /// the UI thread, then answers with a notice). `stamp` is the site's
    /// local time, `yyyymmdd-hhmmss`.
    SaveSnapshot {
        camera: String,
        stamp: String,
        frame: SnapshotFrame,
    },
    /// Read the card (cardholder, photo, last few events) of the person
    /// at a door, for the request pop.
    LoadCardholderCard(CardholderId),
    /// Make a camera frame a cardholder's photo: the worker crops it to a
    /// centred portrait, scales and encodes it off the UI thread, uploads
    /// it, and answers with a notice.
    UploadCardholderPhoto {
        id: CardholderId,
        frame: SnapshotFrame,
    },
    /// Replace a cardholder's badges with `badges` (a badge added or
    /// removed); the outcome comes back under `nonce`.
    SetBadges {
        cardholder: CardholderId,
        badges: Vec<Badge>,
        nonce: String,
    },
    /// Read what is recorded between `from` and `to`: the cameras'
    /// coverage, the doors' events (the timeline's marks) and the
    /// bookmarks; answered with `AppEvent::Recordings`.
    LoadRecordings {
        cameras: Vec<CameraId>,
        doors: Vec<crate::domain::DoorId>,
        from: crate::domain::Timestamp,
        to: crate::domain::Timestamp,
    },
    /// Bookmark `from`..`to` of these cameras' recordings; answered with
    /// `AppEvent::BookmarkPlaced` and a notice.
    AddBookmark {
        cameras: Vec<CameraId>,
        from: crate::domain::Timestamp,
        to: crate::domain::Timestamp,
        title: String,
        note: String,
    },
    /// Small photos of these people, for rows in sight that lack them
    /// (the shell forwards only those not asked for yet, and marks them
    /// loading; the worker answers each with `AppEvent::Thumb`).
    WantPhotos(Vec<CardholderId>),
}

/// A badge as the edit form sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub id: CredentialId,
    pub state: CredentialState,
    pub valid_until: Option<crate::domain::Timestamp>,
}

/// The pixels of a snapshot: tightly packed RGBA, shared, never copied.
#[derive(Clone, PartialEq, Eq)]
pub struct SnapshotFrame {
    pub width: u32,
    pub height: u32,
    pub rgba: bytes::Bytes,
}

impl std::fmt::Debug for SnapshotFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the pixels.
        f.debug_struct("SnapshotFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

/// A map's placement list in a command. Placements from the editor are
/// finite (clamped), so equality is an equivalence here.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementList(pub MapPlacements);

impl Eq for PlacementList {}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never print a password.
            Command::SignIn { username, .. } => f
                .debug_struct("SignIn")
                .field("username", username)
                .finish_non_exhaustive(),
            Command::SignOut => f.write_str("SignOut"),
            Command::Door {
                door,
                action,
                idempotency_key,
            } => f
                .debug_struct("Door")
                .field("door", door)
                .field("action", action)
                .field("idempotency_key", idempotency_key)
                .finish(),
            Command::Grant { request, reason } => f
                .debug_struct("Grant")
                .field("request", request)
                .field("reason", reason)
                .finish(),
            Command::Deny { request, reason } => f
                .debug_struct("Deny")
                .field("request", request)
                .field("reason", reason)
                .finish(),
            Command::ShowDoorCameras(door) => f.debug_tuple("ShowDoorCameras").field(door).finish(),
            Command::PlayDoorFrom { door, at } => f
                .debug_struct("PlayDoorFrom")
                .field("door", door)
                .field("at", at)
                .finish(),
            Command::ShowCamera { camera } => f
                .debug_struct("ShowCamera")
                .field("camera", camera)
                .finish(),
            Command::SearchCardholders { q } => {
                f.debug_struct("SearchCardholders").field("q", q).finish()
            }
            Command::OpenCardholder(id) => f.debug_tuple("OpenCardholder").field(id).finish(),
            Command::AddBookmark {
                cameras,
                from,
                to,
                title,
                ..
            } => f
                .debug_struct("AddBookmark")
                .field("cameras", cameras)
                .field("from", from)
                .field("to", to)
                .field("title", title)
                .finish_non_exhaustive(),
            Command::LoadRecordings {
                cameras,
                doors,
                from,
                to,
            } => f
                .debug_struct("LoadRecordings")
                .field("cameras", cameras)
                .field("doors", doors)
                .field("from", from)
                .field("to", to)
                .finish(),
            Command::RefreshCardholder(id) => f.debug_tuple("RefreshCardholder").field(id).finish(),
            Command::SaveCardholder {
                id,
                create,
                name,
                department,
                schedule,
            } => f
                .debug_struct("SaveCardholder")
                .field("id", id)
                .field("create", create)
                .field("name", name)
                .field("department", department)
                .field("schedule", schedule)
                .finish(),
            Command::SetCredential {
                cardholder,
                credential,
                state,
            } => f
                .debug_struct("SetCredential")
                .field("cardholder", cardholder)
                .field("credential", credential)
                .field("state", state)
                .finish(),
            Command::PublishView { id, body } => f
                .debug_struct("PublishView")
                .field("id", id)
                .field("body", body)
                .finish(),
            Command::DeleteView(id) => f.debug_tuple("DeleteView").field(id).finish(),
            Command::SaveMapPlacements {
                map,
                placements,
                save,
            } => f
                .debug_struct("SaveMapPlacements")
                .field("map", map)
                .field("doors", &placements.0.doors.len())
                .field("cameras", &placements.0.cameras.len())
                .field("save", save)
                .finish(),
            Command::RetryConnect => f.write_str("RetryConnect"),
            Command::SaveSnapshot {
                camera,
                stamp,
                frame,
            } => f
                .debug_struct("SaveSnapshot")
                .field("camera", camera)
                .field("stamp", stamp)
                .field("frame", frame)
                .finish(),
            Command::LoadCardholderCard(id) => {
                f.debug_tuple("LoadCardholderCard").field(id).finish()
            }
            Command::SetBadges {
                cardholder,
                badges,
                nonce,
            } => f
                .debug_struct("SetBadges")
                .field("cardholder", cardholder)
                .field("badges", badges)
                .field("nonce", nonce)
                .finish(),
            Command::UploadCardholderPhoto { id, frame } => f
                .debug_struct("UploadCardholderPhoto")
                .field("id", id)
                .field("frame", frame)
                .finish(),
            Command::WantPhotos(ids) => f.debug_tuple("WantPhotos").field(ids).finish(),
        }
    }
}

/// The UI's outbox of commands. Cheap to use from drawing code: sending
/// never blocks and never fails (the shell reports a full or closed worker
/// channel in the state).
#[derive(Debug)]
pub struct CommandSender {
    tx: mpsc::Sender<Command>,
}

/// The shell's side of [`CommandSender`].
#[derive(Debug)]
pub struct CommandReceiver {
    rx: mpsc::Receiver<Command>,
}

/// A connected outbox pair.
pub fn command_channel() -> (CommandSender, CommandReceiver) {
    let (tx, rx) = mpsc::channel();
    (CommandSender { tx }, CommandReceiver { rx })
}

impl CommandSender {
    /// Queues a command for the shell.
    pub fn send(&self, command: Command) {
        // The receiver lives in the shell as long as the UI does.
        let _ = self.tx.send(command);
    }

    /// Queues a door command with a fresh idempotency key.
    pub fn door(&self, door: &DoorId, action: DoorAction) {
        self.send(Command::Door {
            door: door.clone(),
            action,
            idempotency_key: crate::domain::new_idempotency_key(),
        });
    }
}

impl CommandReceiver {
    /// The next queued command, if any.
    pub fn try_recv(&self) -> Option<Command> {
        self.rx.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let c = Command::SignIn {
            username: "operator".into(),
            password: "demo-operator".into(),
        };
        let text = format!("{c:?}");
        assert!(
            text.contains("operator") && !text.contains("demo-operator"),
            "{text}"
        );
    }

    #[test]
    fn door_commands_get_fresh_keys() {
        let (tx, rx) = command_channel();
        tx.door(&"d1".into(), DoorAction::Unlock);
        tx.door(&"d1".into(), DoorAction::Unlock);
        let keys: Vec<String> = std::iter::from_fn(|| rx.try_recv())
            .map(|c| match c {
                Command::Door {
                    idempotency_key, ..
                } => idempotency_key,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
    }
}

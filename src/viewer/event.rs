//! [`AppEvent`]: everything that changes the client's state, from the
//! worker (the site's answers and live events), the shell (the clock, what
//! the operator asked for) and the start-up.

use std::sync::Arc;

use crate::domain::{
    Camera, CameraId, Cardholder, CardholderId, CommandInfo, CredentialId, CredentialState,
    DoorAction, DoorId, ErrorKind, Event, MapId, RequestId, Session, SiteTime, Snapshot, Timestamp,
};

use super::state::NoticeLevel;

/// Everything that changes the client's state.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// What is recorded between `from` and `to` (see
    /// `Command::LoadRecordings`).
    Recordings {
        from: Timestamp,
        to: Timestamp,
        coverage: Vec<(CameraId, Vec<crate::domain::SegmentRef>)>,
        marks: Vec<super::playback::DoorMark>,
        bookmarks: Vec<crate::domain::Bookmark>,
    },
    /// A bookmark the operator placed, as the site stored it.
    BookmarkPlaced(crate::domain::Bookmark),
    /// The recordings could not be read.
    RecordingsFailed {
        message: String,
    },
    /// The current time (the client's clock). Expires deadlines.
    Tick {
        now: Timestamp,
    },
    /// Something is being prepared, e.g. the demo site starting.
    Starting {
        message: String,
    },
    /// The site could not be set up at all (e.g. the demo site failed).
    StartFailed {
        message: String,
    },
    /// A sign-in is under way.
    SignInStarted {
        username: String,
    },
    SignedIn(Session),
    SignInFailed {
        kind: ErrorKind,
        message: String,
    },
    /// The site's state at a sequence number: replaces what was known.
    Snapshot(Box<Snapshot>),
    /// One live event.
    Live(Event),
    /// The live stream is connected.
    LinkUp,
    /// The live stream broke; the next try is in `retry_in_ms`.
    LinkDown {
        reason: String,
        retry_in_ms: u64,
    },
    /// The site no longer accepts the session.
    SessionEnded {
        message: String,
    },
    SignedOut,
    /// The operator asked for a door command; `key` is its idempotency key.
    CommandSent {
        door: DoorId,
        action: DoorAction,
        key: String,
    },
    /// The site accepted the command with this key.
    CommandAccepted {
        key: String,
        info: CommandInfo,
    },
    /// The site refused the command, or it could not be delivered.
    CommandRejected {
        key: String,
        kind: ErrorKind,
        message: String,
    },
    /// An access decision the site refused or that could not be delivered.
    DecisionFailed {
        request: RequestId,
        kind: ErrorKind,
        message: String,
    },
    /// Names of cardholders, for the event list.
    Cardholders(Vec<(CardholderId, String)>),
    /// The site's clock, read at local time `local`.
    SiteClock {
        site: SiteTime,
        local: Timestamp,
    },
    /// Something for the operator to know, e.g. a failed call.
    Notice {
        level: NoticeLevel,
        text: String,
    },
    /// The signed-in session's credentials for the site's video relay (user
    /// name, session token): the shell hands them to the video engine; the
    /// state never keeps them, and their Debug output hides the token.
    RelayCredentials(crate::domain::CameraCredentials),
    /// The site's cameras, read again (their stream addresses may have
    /// changed, e.g. once the demo site's cameras are up).
    Cameras(Vec<Camera>),
    /// A camera's still picture, decoded off the UI thread: a tile shows it
    /// while its stream connects.
    CameraStill {
        camera: CameraId,
        image: Arc<StillImage>,
    },
    /// A floor plan's picture, decoded off the UI thread.
    MapImage {
        map: MapId,
        image: Arc<StillImage>,
    },
    /// The site's answer to a cardholder search for `q`.
    CardholderSearch {
        q: String,
        result: Result<Vec<Cardholder>, String>,
    },
    /// The operator opened a cardholder (the shell, before the worker asks).
    CardholderOpening(CardholderId),
    /// A cardholder as the site has it now.
    CardholderLoaded(Cardholder),
    /// A cardholder could not be read.
    CardholderFailed {
        id: CardholderId,
        message: String,
    },
    /// A cardholder's photo, decoded off the UI thread.
    CardholderPhoto {
        id: CardholderId,
        image: Arc<StillImage>,
    },
    /// A cardholder's recent events, newest first.
    CardholderEvents {
        id: CardholderId,
        events: Vec<Event>,
    },
    /// A cardholder create or edit was sent (the shell).
    CardholderSaving,
    /// The site stored a cardholder create or edit: it is opened.
    CardholderSaved(Cardholder),
    /// The site refused a create or edit, or it never got there.
    CardholderSaveFailed {
        message: String,
    },
    /// A credential change was sent (the shell, as it forwards it).
    CredentialSent {
        credential: CredentialId,
        state: CredentialState,
    },
    /// The site refused a credential change, or it never got there.
    CredentialFailed {
        credential: CredentialId,
        message: String,
    },
    /// The site's shared camera views, read after the snapshot and again
    /// on each `view.*` event.
    SharedViews(Vec<crate::domain::SharedView>),
    /// Floor maps as the site has them now (after `map.changed`, or a save).
    Maps(Vec<crate::domain::FloorMap>),
    /// The outcome of a map editor's save.
    MapSaved(super::map::MapSaved),
    /// The worker is trying to reach the site (at the start, or on retry).
    Connecting {
        at: Timestamp,
    },
    /// The site could not be reached at the start: why, and when the
    /// worker tries again on its own.
    Unreachable {
        reason: String,
        at: Timestamp,
        retry_at: Timestamp,
    },
    /// The site answered: it can be signed in to.
    Reachable,
    /// A request's cardholder card was read (or could not be).
    CardholderCard(Box<super::people::CardholderCard>),
    /// A change of a cardholder's badges was stored or refused.
    BadgesSaved(Box<super::people::BadgesOutcome>),
    /// A cardholder's small photo, decoded and downscaled off the UI
    /// thread (or why there is none).
    Thumb {
        id: CardholderId,
        result: super::photos::ThumbResult,
    },
}

/// A decoded picture (tightly packed RGBA, `width * 4` bytes a row).
#[derive(Clone, PartialEq, Eq)]
pub struct StillImage {
    pub width: u32,
    pub height: u32,
    pub rgba: bytes::Bytes,
}

impl StillImage {
    /// Whether the pixel buffer matches the size.
    pub fn is_consistent(&self) -> bool {
        let want = u64::from(self.width) * u64::from(self.height) * 4;
        self.width > 0 && self.height > 0 && want == self.rgba.len() as u64
    }
}

impl std::fmt::Debug for StillImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the pixels.
        f.debug_struct("StillImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.rgba.len())
            .finish()
    }
}

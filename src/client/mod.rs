//! The site API from the client's side: typed REST calls ([`Client`]), the
//! live event stream with resume ([`live`]), door command dispatch
//! ([`dispatch`]) and the Server-Sent Events parser ([`sse`]). No UI here.

pub mod dispatch;
pub mod live;
pub mod sse;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::{
    AccessRequest, ApiError, AuditEntry, AuditVerification, CameraId, Cardholder, CardholderId,
    CommandId, CommandInfo, CredentialId, CredentialUpdate, Decision, DoorCommand, DoorId,
    ErrorKind, Event, MapId, Page, RequestId, Seq, Session, SignIn, SiteTime, Snapshot, Timestamp,
};

/// How long one REST call may take, connect to last byte.
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// How long connecting to the site may take.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// How long an idle connection stays in the pool (under the site's header timeout).
const POOL_IDLE_MS: u64 = 5_000;
/// The largest JSON answer read from the site, in bytes; a larger one is
/// [`ClientError::TooLarge`], read no further.
pub const MAX_JSON_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The largest picture (photo, still, floor plan) read from the site, in bytes.
pub const MAX_IMAGE_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A failed call to the site. Never carries the session token.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The site could not be reached, or the link broke or timed out.
    #[error("cannot reach the site: {0}")]
    Network(#[source] reqwest::Error),
    /// The site answered with an error.
    #[error("the site refused ({status}): {message}")]
    Api {
        status: u16,
        /// The `kind` of the site's `ApiError`, when it sent one.
        api_kind: Option<String>,
        message: String,
    },
    /// The site's answer was not what the API promises.
    #[error("unexpected answer from the site: {0}")]
    Decode(String),
    /// The site's answer was larger than the client reads; it was not read
    /// to its end.
    #[error("the site's answer is larger than {limit_bytes} bytes")]
    TooLarge { limit_bytes: usize },
    /// A call that needs a session was made without one.
    #[error("not signed in")]
    NotSignedIn,
    /// The site address is unusable.
    #[error("bad site address: {reason}: {url}")]
    BadUrl { reason: String, url: String },
    /// The extra trusted CA certificate could not be used.
    #[error("cannot use CA certificate: {reason}: {path}")]
    CaCert { reason: String, path: PathBuf },
    /// The HTTP client could not be set up.
    #[error("cannot set up HTTP: {0}")]
    Setup(#[source] reqwest::Error),
}

impl ClientError {
    /// What kind of failure this is, so the caller and the UI react to it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Network(_) => ErrorKind::Unavailable,
            ClientError::Api {
                status, api_kind, ..
            } => kind_of_status(*status, api_kind.as_deref()),
            ClientError::Decode(_) | ClientError::TooLarge { .. } | ClientError::Setup(_) => {
                ErrorKind::Internal
            }
            ClientError::NotSignedIn => ErrorKind::Unauthenticated,
            ClientError::BadUrl { .. } | ClientError::CaCert { .. } => ErrorKind::InvalidInput,
        }
    }

    /// Whether sending the same request again may succeed: the link failed
    /// or the site said it is unavailable for now.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Network(_) => true,
            ClientError::Api { status, .. } => matches!(status, 408 | 429 | 502 | 503 | 504),
            _ => false,
        }
    }
}

/// An error and its sources, joined with `: `, for logs and the UI.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Maps an HTTP status (and the site's own error kind, for statuses the
/// table does not fix) to an [`ErrorKind`].
pub fn kind_of_status(status: u16, api_kind: Option<&str>) -> ErrorKind {
    match status {
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        400 | 413 | 422 => ErrorKind::InvalidInput,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimited,
        408 | 500..=599 => ErrorKind::Unavailable,
        _ => match api_kind {
            Some("unauthenticated") => ErrorKind::Unauthenticated,
            Some("permission_denied") => ErrorKind::PermissionDenied,
            Some("not_found") => ErrorKind::NotFound,
            Some("unavailable") => ErrorKind::Unavailable,
            Some("invalid_input") => ErrorKind::InvalidInput,
            Some("conflict") => ErrorKind::Conflict,
            Some("rate_limited") => ErrorKind::RateLimited,
            _ => ErrorKind::Internal,
        },
    }
}

/// Filters of the event search (`GET /api/v1/events`). Empty fields are
/// left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub door: Option<DoorId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cardholder: Option<CardholderId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialId>,
    /// An event type name, e.g. `door.forced_open`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// A page's `next_before`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
}

/// A new cardholder (`POST /api/v1/cardholders`), with no badges yet.
#[derive(Debug, Clone, Serialize)]
pub struct NewCardholder {
    pub id: String,
    pub name: String,
    pub department: String,
    /// The id of one of the site's schedules.
    pub schedule: String,
}

/// An edit of a cardholder (`PUT /api/v1/cardholders/{id}`): the fields
/// given replace what is stored.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CardholderEdit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The whole new list of badges, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<crate::domain::Credential>>,
}

/// Filters of the audit trail (`GET /api/v1/audit`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
}

/// Where the site is and how to trust it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` or `https://host:port`, without credentials.
    pub base_url: String,
    /// An extra trusted CA certificate (PEM), for sites with their own CA.
    pub ca_cert: Option<PathBuf>,
    /// Accept an `http://` address whose host is not loopback (the client's
    /// `--allow-plain-http`): the password and the session token then cross
    /// the network in clear text. Without it such an address is refused.
    pub allow_plain_http: bool,
}

/// A typed client of the site API v1. Cheap to clone; clones share the
/// connection pool. Holds the session token after [`Client::sign_in`] and
/// sends it only in the `Authorization` header.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Without a trailing slash.
    base_url: Arc<str>,
    token: Option<Arc<str>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("signed_in", &self.token.is_some())
            .finish()
    }
}

/// Installs rustls' `ring` crypto provider for the process, which reqwest
/// (built with `rustls-no-provider`) needs before any client is built.
/// [`Client::new`] calls it; call it yourself before building a bare
/// `reqwest::Client`. Calling it again does nothing.
pub fn install_crypto_provider() {
    // A second install is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// A client of the site at `config.base_url`.
    pub fn new(config: &ClientConfig) -> Result<Client, ClientError> {
        install_crypto_provider();

        let base_url = check_base_url(&config.base_url, config.allow_plain_http)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            // Under the site's header timeout (default 10 s), which also closes
            // a connection idle between requests: a pooled connection is let go
            // before the site closes it, so no request races that close.
            .pool_idle_timeout(Duration::from_millis(POOL_IDLE_MS))
            .user_agent(concat!("watchdesk/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        if let Some(path) = &config.ca_cert {
            builder = builder.tls_certs_merge(read_ca_certs(path)?);
        }
        let http = builder.build().map_err(ClientError::Setup)?;
        Ok(Client {
            http,
            base_url: base_url.into(),
            token: None,
        })
    }

    /// The site address, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// This client with the given session token.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// Whether a session token is held.
    pub fn is_signed_in(&self) -> bool {
        self.token.is_some()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, ClientError> {
        let token = self.token.as_deref().ok_or(ClientError::NotSignedIn)?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ClientError::Decode("the session token is not a valid header".into()))?;
        value.set_sensitive(true);
        Ok(self
            .http
            .request(method, self.url(path))
            .header(AUTHORIZATION, value))
    }

    /// A REST call with the default timeout.
    fn call(&self, method: Method, path: &str) -> Result<RequestBuilder, ClientError> {
        Ok(self
            .request(method, path)?
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS)))
    }

    // ---- sessions ----------------------------------------------------------

    /// Signs in and keeps the session's token in this client.
    pub async fn sign_in(
        &mut self,
        username: &str,
        password: &str,
    ) -> Result<Session, ClientError> {
        let body = SignIn {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        let resp = self
            .http
            .post(self.url("/api/v1/auth/sign-in"))
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .json(&body)
            .send()
            .await
            .map_err(ClientError::Network)?;
        let session: Session = json_of(resp).await?;
        self.token = Some(session.token.as_str().into());
        Ok(session)
    }

    /// Ends the session on the site and forgets the token.
    pub async fn sign_out(&mut self) -> Result<(), ClientError> {
        let result = self
            .call(Method::POST, "/api/v1/auth/sign-out")?
            .send()
            .await;
        self.token = None;
        empty_of(result.map_err(ClientError::Network)?).await
    }

    /// The session this client's token belongs to.
    pub async fn session(&self) -> Result<Session, ClientError> {
        self.get_json("/api/v1/auth/session").await
    }

    // ---- state and events --------------------------------------------------

    /// The site's state and the event sequence it is valid at.
    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        self.get_json("/api/v1/snapshot").await
    }

    /// Searches the event log, newest first.
    pub async fn events(&self, query: &EventQuery) -> Result<Page<Event>, ClientError> {
        let resp = self
            .call(Method::GET, "/api/v1/events")?
            .query(query)
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// What is recorded of `camera`'s main stream between `from` and `to`
    /// (at most 31 days), without key-frame times.
    pub async fn coverage(
        &self,
        camera: &CameraId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<crate::domain::Coverage, ClientError> {
        let resp = self
            .call(Method::GET, &format!("/api/v1/recordings/{camera}"))?
            .query(&[
                ("from", from.to_rfc3339()),
                ("to", to.to_rfc3339()),
                ("key_frames", "false".to_owned()),
            ])
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// The address a finished segment is fetched from (with the session's
    /// token as `Authorization: Bearer`).
    pub fn segment_url(&self, id: i64) -> String {
        format!("{}/api/v1/recordings/segments/{id}", self.base_url())
    }

    /// The bookmarks overlapping `from`..`to` (at most 500).
    pub async fn bookmarks(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<crate::domain::Bookmark>, ClientError> {
        let resp = self
            .call(Method::GET, "/api/v1/bookmarks")?
            .query(&[
                ("from", from.to_rfc3339()),
                ("to", to.to_rfc3339()),
                ("limit", "500".to_owned()),
            ])
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// Bookmarks a moment of `cameras`' recordings; the site answers the
    /// bookmark with its id and author.
    pub async fn add_bookmark(
        &self,
        cameras: &[CameraId],
        from: Timestamp,
        to: Timestamp,
        title: &str,
        note: &str,
    ) -> Result<crate::domain::Bookmark, ClientError> {
        let resp = self
            .call(Method::POST, "/api/v1/bookmarks")?
            .json(&serde_json::json!({
                "cameras": cameras,
                "start": from.to_rfc3339(),
                "end": to.to_rfc3339(),
                "title": title,
                "note": note,
            }))
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// Opens the live event stream, resuming after `last_seq`. The answer's
    /// body is the raw `text/event-stream`; [`live`] reads it.
    pub async fn open_event_stream(&self, last_seq: Seq) -> Result<reqwest::Response, ClientError> {
        let resp = self
            .request(Method::GET, "/api/v1/events/stream")?
            .header("Last-Event-ID", last_seq.to_string())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(ClientError::Network)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(error_of(resp).await)
        }
    }

    /// The site's clock and time zone.
    pub async fn time(&self) -> Result<SiteTime, ClientError> {
        self.get_json("/api/v1/time").await
    }

    // ---- doors and requests ------------------------------------------------

    /// Asks a door to act. The answer (202) only says the site accepted the
    /// command; its outcome arrives as events.
    pub async fn door_command(
        &self,
        door: &DoorId,
        command: &DoorCommand,
    ) -> Result<CommandInfo, ClientError> {
        let path = format!("/api/v1/doors/{}/commands", segment(door.as_str()));
        let resp = self
            .call(Method::POST, &path)?
            .json(command)
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// Where a command stands now.
    pub async fn command(&self, id: &CommandId) -> Result<CommandInfo, ClientError> {
        self.get_json(&format!("/api/v1/commands/{}", segment(id.as_str())))
            .await
    }

    /// The open access requests.
    pub async fn access_requests(&self) -> Result<Vec<AccessRequest>, ClientError> {
        self.get_json("/api/v1/access-requests").await
    }

    /// Grants an access request: the door unlocks for its access time.
    pub async fn grant(&self, request: &RequestId, decision: &Decision) -> Result<(), ClientError> {
        self.decide(request, "grant", decision).await
    }

    /// Denies an access request.
    pub async fn deny(&self, request: &RequestId, decision: &Decision) -> Result<(), ClientError> {
        self.decide(request, "deny", decision).await
    }

    async fn decide(
        &self,
        request: &RequestId,
        verb: &str,
        decision: &Decision,
    ) -> Result<(), ClientError> {
        let path = format!(
            "/api/v1/access-requests/{}/{verb}",
            segment(request.as_str())
        );
        let resp = self
            .call(Method::POST, &path)?
            .json(decision)
            .send()
            .await
            .map_err(ClientError::Network)?;
        empty_of(resp).await
    }

    // ---- people ------------------------------------------------------------

    /// Cardholders whose name, department or badge matches `q` (all when
    /// empty).
    pub async fn cardholders(&self, q: &str) -> Result<Vec<Cardholder>, ClientError> {
        let resp = self
            .call(Method::GET, "/api/v1/cardholders")?
            .query(&[("q", q)])
            .send()
            .await
            .map_err(ClientError::Network)?;
        // The list comes bare or as a page; accept both.
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum List {
            Bare(Vec<Cardholder>),
            Paged(Page<Cardholder>),
        }
        Ok(match json_of::<List>(resp).await? {
            List::Bare(v) => v,
            List::Paged(p) => p.items,
        })
    }

    /// One cardholder.
    pub async fn cardholder(&self, id: &CardholderId) -> Result<Cardholder, ClientError> {
        self.get_json(&format!("/api/v1/cardholders/{}", segment(id.as_str())))
            .await
    }

    /// A cardholder's photo (PNG bytes).
    pub async fn cardholder_photo(&self, id: &CardholderId) -> Result<Bytes, ClientError> {
        self.get_bytes(&format!(
            "/api/v1/cardholders/{}/photo",
            segment(id.as_str())
        ))
        .await
    }

    /// Enables or disables a badge.
    pub async fn update_credential(
        &self,
        id: &CredentialId,
        update: &CredentialUpdate,
    ) -> Result<(), ClientError> {
        let path = format!("/api/v1/credentials/{}", segment(id.as_str()));
        let resp = self
            .call(Method::PUT, &path)?
            .json(update)
            .send()
            .await
            .map_err(ClientError::Network)?;
        empty_of(resp).await
    }

    /// Creates a cardholder (`POST /cardholders`); answers it as stored.
    pub async fn create_cardholder(&self, new: &NewCardholder) -> Result<Cardholder, ClientError> {
        let resp = self
            .call(Method::POST, "/api/v1/cardholders")?
            .json(new)
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// Changes the fields given of a cardholder (`PUT /cardholders/{id}`);
    /// answers it as stored.
    pub async fn update_cardholder(
        &self,
        id: &CardholderId,
        edit: &CardholderEdit,
    ) -> Result<Cardholder, ClientError> {
        let path = format!("/api/v1/cardholders/{}", segment(id.as_str()));
        let resp = self
            .call(Method::PUT, &path)?
            .json(edit)
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// Uploads a cardholder's photo (`PUT /cardholders/{id}/photo`, a JPEG);
    /// answers the cardholder as stored.
    pub async fn upload_cardholder_photo(
        &self,
        id: &CardholderId,
        jpeg: Vec<u8>,
    ) -> Result<Cardholder, ClientError> {
        let path = format!("/api/v1/cardholders/{}/photo", segment(id.as_str()));
        let resp = self
            .call(Method::PUT, &path)?
            .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
            .body(jpeg)
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    // ---- audit, pictures ---------------------------------------------------

    /// The audit trail, newest first.
    pub async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, ClientError> {
        let resp = self
            .call(Method::GET, "/api/v1/audit")?
            .query(query)
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// Checks the audit trail's hash chain on the site.
    pub async fn audit_verify(&self) -> Result<AuditVerification, ClientError> {
        self.get_json("/api/v1/audit/verify").await
    }

    /// A still image (JPEG bytes) of a camera.
    pub async fn camera_still(&self, id: &CameraId) -> Result<Bytes, ClientError> {
        self.get_bytes(&format!(
            "/api/v1/cameras/{}/still.jpg",
            segment(id.as_str())
        ))
        .await
    }

    /// A floor plan's image bytes.
    pub async fn map_image(&self, id: &MapId) -> Result<Bytes, ClientError> {
        self.get_bytes(&format!("/api/v1/maps/{}/image", segment(id.as_str())))
            .await
    }

    // ---- shared views ------------------------------------------------------

    /// The site's shared camera views.
    pub async fn shared_views(&self) -> Result<Vec<crate::domain::SharedView>, ClientError> {
        self.get_json("/api/v1/views").await
    }

    /// Publishes (creates or replaces) the shared view `id`.
    pub async fn publish_view(
        &self,
        id: &crate::domain::ViewId,
        body: &crate::domain::SharedViewBody,
    ) -> Result<crate::domain::SharedView, ClientError> {
        let path = format!("/api/v1/views/{}", segment(id.as_str()));
        let resp = self
            .call(Method::PUT, &path)?
            .json(body)
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    /// Deletes the shared view `id`.
    pub async fn delete_view(&self, id: &crate::domain::ViewId) -> Result<(), ClientError> {
        let path = format!("/api/v1/views/{}", segment(id.as_str()));
        let resp = self
            .call(Method::DELETE, &path)?
            .send()
            .await
            .map_err(ClientError::Network)?;
        empty_of(resp).await
    }

    /// Whether the site answers at all, signed in or not: any HTTP answer
    /// is one (an unsigned call answers 401); a network error is not.
    pub async fn probe(&self) -> Result<(), ClientError> {
        self.http
            .get(self.url("/api/v1/time"))
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .send()
            .await
            .map(|_| ())
            .map_err(ClientError::Network)
    }

    /// Replaces a floor map's placements (the map editor); the map as the
    /// site stored it.
    pub async fn set_map_placements(
        &self,
        id: &MapId,
        placements: &crate::domain::MapPlacements,
    ) -> Result<crate::domain::FloorMap, ClientError> {
        let path = format!("/api/v1/maps/{}/placements", segment(id.as_str()));
        let resp = self
            .call(Method::PUT, &path)?
            .json(placements)
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let resp = self
            .call(Method::GET, path)?
            .send()
            .await
            .map_err(ClientError::Network)?;
        json_of(resp).await
    }

    async fn get_bytes(&self, path: &str) -> Result<Bytes, ClientError> {
        let resp = self
            .call(Method::GET, path)?
            .send()
            .await
            .map_err(ClientError::Network)?;
        if !resp.status().is_success() {
            return Err(error_of(resp).await);
        }
        read_capped(resp, MAX_IMAGE_BODY_BYTES).await
    }
}

/// The base URL, checked and without a trailing slash.
fn check_base_url(url: &str, allow_plain_http: bool) -> Result<String, ClientError> {
    let bad = |reason: &str| ClientError::BadUrl {
        reason: reason.to_owned(),
        // Never echo anything that could be a password.
        url: redact_userinfo(url),
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("put no credentials in the site address"));
    }
    if parsed.host_str().is_none() {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("no query or fragment allowed"));
    }
    if parsed.scheme() == "http" && !allow_plain_http && !is_loopback_host(&parsed) {
        return Err(bad(
            "plain http:// to a site that is not on this machine would send the password and \
             the session in clear text: use https://, or pass --allow-plain-http to accept that",
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Whether the address's host is this machine: `localhost` or a loopback
/// address.
fn is_loopback_host(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // An IPv6 host comes in brackets.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

fn read_ca_certs(path: &Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let pem = std::fs::read(path).map_err(|e| ClientError::CaCert {
        reason: e.to_string(),
        path: path.to_owned(),
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClientError::CaCert {
        reason: e.to_string(),
        path: path.to_owned(),
    })?;
    if certs.is_empty() {
        return Err(ClientError::CaCert {
            reason: "no certificate in the file".into(),
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Percent-encodes an id for use as one path segment.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The most of an error body we read, in bytes.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Reads a body of at most `limit` bytes, chunk by chunk: a longer one (by
/// its `Content-Length` or by what arrives) is [`ClientError::TooLarge`], and
/// no more of it is read, so a hostile site cannot make the client hold more.
async fn read_capped(resp: reqwest::Response, limit: usize) -> Result<Bytes, ClientError> {
    let too_large = ClientError::TooLarge { limit_bytes: limit };
    let declared = resp.content_length().unwrap_or(0);
    if declared > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(too_large);
    }
    let mut resp = resp;
    // Trust a declared length only as far as the limit.
    let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(limit));
    while let Some(chunk) = resp.chunk().await.map_err(ClientError::Network)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// Reads at most `limit` bytes of a body and drops the rest unread (an error
/// answer is only shown, so a cut one is still of use).
async fn read_prefix(mut resp: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// Turns a non-success answer into a [`ClientError::Api`].
async fn error_of(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let body = read_prefix(resp, MAX_ERROR_BODY_BYTES).await;
    match serde_json::from_slice::<ApiError>(&body) {
        Ok(api) => ClientError::Api {
            status: status.as_u16(),
            api_kind: Some(api.kind),
            message: api.message,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            api_kind: None,
            message: status
                .canonical_reason()
                .unwrap_or("unexpected status")
                .to_owned(),
        },
    }
}

async fn json_of<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
    if !resp.status().is_success() {
        return Err(error_of(resp).await);
    }
    let body = read_capped(resp, MAX_JSON_BODY_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Decode(format!("{e:#}")))
}

async fn empty_of(resp: reqwest::Response) -> Result<(), ClientError> {
    if resp.status().is_success() || resp.status() == StatusCode::NO_CONTENT {
        Ok(())
    } else {
        Err(error_of(resp).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        let table = [
            (401, None, ErrorKind::Unauthenticated),
            (403, None, ErrorKind::PermissionDenied),
            (404, None, ErrorKind::NotFound),
            (400, None, ErrorKind::InvalidInput),
            (413, None, ErrorKind::InvalidInput),
            (422, None, ErrorKind::InvalidInput),
            (409, None, ErrorKind::Conflict),
            (429, None, ErrorKind::RateLimited),
            (418, Some("rate_limited"), ErrorKind::RateLimited),
            (500, None, ErrorKind::Unavailable),
            (503, Some("internal"), ErrorKind::Unavailable),
            (418, Some("conflict"), ErrorKind::Conflict),
            (418, None, ErrorKind::Internal),
        ];
        for (status, kind, want) in table {
            assert_eq!(kind_of_status(status, kind), want, "status {status}");
        }
    }

    #[test]
    fn base_url_is_checked_and_normalised() {
        let ok = check_base_url("http://127.0.0.1:8080/", false).unwrap();
        assert_eq!(ok, "http://127.0.0.1:8080");
        let err = check_base_url("https://user:secret@site.example", false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(check_base_url("ftp://site", false).is_err());
        assert!(check_base_url("not a url", false).is_err());
    }

    #[test]
    fn plain_http_to_a_remote_site_needs_the_flag() {
        for local in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://localhost:8080/",
            "http://LOCALHOST",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]:8080",
        ] {
            assert!(check_base_url(local, false).is_ok(), "{local}");
        }
        for remote in [
            "http://192.0.2.7:8080",
            "http://site.example",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "http://[fd00::2]:8080",
            "http://0.0.0.0:8080",
        ] {
            let err = check_base_url(remote, false).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{remote}");
            assert!(
                err.to_string().contains("--allow-plain-http"),
                "{remote}: {err}"
            );
            assert!(
                check_base_url(remote, true).is_ok(),
                "{remote} with the flag"
            );
            let tls = remote.replacen("http://", "https://", 1);
            assert!(check_base_url(&tls, false).is_ok(), "{tls}");
        }
        // Through Client::new too.
        let err = Client::new(&ClientConfig {
            base_url: "http://192.0.2.7:8080".into(),
            ca_cert: None,
            allow_plain_http: false,
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn ids_are_escaped_as_one_segment() {
        assert_eq!(segment("door-lobby_1.a~"), "door-lobby_1.a~");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(segment("../x"), "..%2Fx");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = Client::new(&ClientConfig {
            base_url: "http://127.0.0.1:1".into(),
            ca_cert: None,
            allow_plain_http: false,
        })
        .unwrap()
        .with_token("s3cr3t-token");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn missing_ca_file_is_invalid_input() {
        let err = Client::new(&ClientConfig {
            base_url: "https://127.0.0.1:1".into(),
            ca_cert: Some("/nonexistent/ca.pem".into()),
            allow_plain_http: false,
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn unreachable_site_is_unavailable() {
        // Bind then drop to get a port nobody listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let c = Client::new(&ClientConfig {
            base_url: format!("http://127.0.0.1:{port}"),
            ca_cert: None,
            allow_plain_http: false,
        })
        .unwrap()
        .with_token("t");
        let err = c.snapshot().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn api_errors_and_bearer_header_over_real_http() {
        use axum::http::HeaderMap;
        use axum::routing::{get, post};
        async fn snapshot(headers: HeaderMap) -> (axum::http::StatusCode, String) {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if auth == "Bearer good" {
                (
                    axum::http::StatusCode::FORBIDDEN,
                    r#"{"kind":"permission_denied","message":"viewers may not"}"#.into(),
                )
            } else {
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    r#"{"kind":"unauthenticated","message":"sign in"}"#.into(),
                )
            }
        }
        async fn sign_in(axum::Json(body): axum::Json<SignIn>) -> axum::response::Response {
            use axum::response::IntoResponse;
            if body.password == "demo-operator" {
                axum::Json(Session {
                    token: "good".into(),
                    username: body.username,
                    role: crate::domain::Role::Operator,
                    expires: "2030-01-01T00:00:00Z".parse().unwrap(),
                })
                .into_response()
            } else {
                (axum::http::StatusCode::UNAUTHORIZED, "nope").into_response()
            }
        }
        let app = axum::Router::new()
            .route("/api/v1/snapshot", get(snapshot))
            .route("/api/v1/auth/sign-in", post(sign_in));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let mut c = Client::new(&ClientConfig {
            base_url: format!("http://{addr}"),
            ca_cert: None,
            allow_plain_http: false,
        })
        .unwrap();
        assert_eq!(
            c.snapshot().await.unwrap_err().kind(),
            ErrorKind::Unauthenticated
        );
        let bad = c.sign_in("operator", "wrong").await.unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::Unauthenticated);
        assert!(!c.is_signed_in());
        let s = c.sign_in("operator", "demo-operator").await.unwrap();
        assert_eq!(s.role, crate::domain::Role::Operator);
        let err = c.snapshot().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("viewers may not"), "{err}");
    }

    /// A hostile site: a 100 MB answer (declared and not), one that never
    /// ends, a 100 MB error body, and clocks at the ends of chrono's range.
    /// The client answers with errors, reads no more than its caps, and
    /// never panics.
    #[tokio::test]
    async fn a_hostile_site_gets_errors_not_panics_or_oom() {
        use axum::body::Body;
        use axum::http::{StatusCode as Http, header};
        use axum::response::{IntoResponse, Response};
        use axum::routing::get;
        use futures_util::{StreamExt, stream};
        use std::convert::Infallible;

        const CHUNK: usize = 64 * 1024;
        const HUNDRED_MB: usize = 100 * 1024 * 1024;
        fn spaces(n: Option<usize>) -> Body {
            let chunk = Bytes::from(vec![b' '; CHUNK]);
            let s = stream::repeat_with(move || Ok::<_, Infallible>(chunk.clone()));
            match n {
                Some(n) => Body::from_stream(s.take(n / CHUNK)),
                None => Body::from_stream(s),
            }
        }
        async fn declared() -> Response {
            Response::builder()
                .header(header::CONTENT_LENGTH, HUNDRED_MB)
                .header(header::CONTENT_TYPE, "application/json")
                .body(spaces(Some(HUNDRED_MB)))
                .unwrap()
        }
        async fn undeclared() -> Response {
            Response::new(spaces(Some(HUNDRED_MB)))
        }
        async fn endless() -> Response {
            Response::new(spaces(None))
        }
        async fn endless_error() -> Response {
            (Http::INTERNAL_SERVER_ERROR, spaces(None)).into_response()
        }
        async fn time_max() -> &'static str {
            r#"{"now":"+262142-12-31T23:59:59Z","time_zone":"Europe/Berlin"}"#
        }
        async fn time_min() -> &'static str {
            r#"{"now":"-262143-01-01T00:00:00Z","time_zone":"Nowhere/Land"}"#
        }
        async fn time_past_max() -> &'static str {
            r#"{"now":"+262143-01-01T00:00:00Z","time_zone":"UTC"}"#
        }
        let app = axum::Router::new()
            .route("/api/v1/snapshot", get(declared))
            .route("/api/v1/audit/verify", get(undeclared))
            .route("/api/v1/access-requests", get(endless))
            .route("/api/v1/maps/{id}/image", get(endless))
            .route("/api/v1/cameras/{id}/still.jpg", get(declared))
            .route("/api/v1/auth/session", get(endless_error))
            .route("/api/v1/time", get(time_max))
            .route("/api/v1/time-min", get(time_min))
            .route("/api/v1/time-past", get(time_past_max));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let c = Client::new(&ClientConfig {
            base_url: format!("http://{addr}"),
            ca_cert: None,
            allow_plain_http: false,
        })
        .unwrap()
        .with_token("t");

        let too_large = |r: Result<(), ClientError>, limit: usize, what: &str| match r {
            Err(ClientError::TooLarge { limit_bytes }) => {
                assert_eq!(limit_bytes, limit, "{what}");
            }
            other => panic!("{what}: {other:?}"),
        };
        too_large(
            c.snapshot().await.map(drop),
            MAX_JSON_BODY_BYTES,
            "declared 100 MB",
        );
        too_large(
            c.audit_verify().await.map(drop),
            MAX_JSON_BODY_BYTES,
            "undeclared 100 MB",
        );
        too_large(
            c.access_requests().await.map(drop),
            MAX_JSON_BODY_BYTES,
            "endless JSON",
        );
        too_large(
            c.map_image(&MapId::new("m")).await.map(drop),
            MAX_IMAGE_BODY_BYTES,
            "endless image",
        );
        too_large(
            c.camera_still(&CameraId::new("c")).await.map(drop),
            MAX_IMAGE_BODY_BYTES,
            "declared 100 MB image",
        );
        let err = c.session().await.unwrap_err();
        assert!(
            matches!(err, ClientError::Api { status: 500, .. }),
            "{err:?}"
        );
        assert_eq!(
            ClientError::TooLarge { limit_bytes: 1 }.kind(),
            ErrorKind::Internal
        );

        // Clocks at and past the ends of chrono's range: a value or an
        // error, never a panic; what the client derives from one saturates.
        let site = c.time().await;
        if let Ok(t) = &site {
            let local = chrono::Utc::now();
            let _ = (t.now - local).num_milliseconds();
        }
        for path in ["/api/v1/time-min", "/api/v1/time-past"] {
            let r: Result<SiteTime, _> = c.get_json(path).await;
            if let Err(e) = r {
                assert!(matches!(e, ClientError::Decode(_)), "{path}: {e:?}");
            }
        }
    }
}

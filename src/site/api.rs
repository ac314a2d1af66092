//! HTTP API v1 (axum 0.8): JSON in and out, bearer-token sessions, the role
//! matrix checked on every call, every error as [`ApiError`] with its status.
//! Each handler carries its OpenAPI description (`#[utoipa::path]`); the
//! router and the document served at `/api/v1/openapi.json` are built from
//! the same list ([`api_routes`]), so they cannot drift apart.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::sse::{self, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{
    ApiError, CameraId, CardholderId, CommandId, CredentialId, CredentialUpdate, Decision,
    DoorCommand, DoorId, ErrorKind, EventKind, MapId, Page, Permission, Redaction, RequestId,
    RequestOutcome, Seq, Session, SignIn, Timestamp,
};

use super::audit::{AuditQuery, actions};
use super::auth::Principal;
use super::core::{Actor, CoreError, SiteCore, StreamItem, command_target};
use super::fault;
use super::sessions::Revoke;
use super::store::EventQuery;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Default and largest page sizes of the searches.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1000;

/// Every route of the API as (method, path template), read from the
/// generated OpenAPI document: the router and the document come from the
/// same `routes!` list, so a route cannot be served undocumented.
pub fn routes() -> Vec<(String, String)> {
    let doc = openapi_document();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            if op.is_some() {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

/// Every route with its handler and its documentation, from one list.
fn api_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(session))
        .routes(routes!(revoke_sessions))
        .routes(routes!(snapshot))
        .routes(routes!(event_stream))
        .routes(routes!(search_events))
        .routes(routes!(door_command))
        .routes(routes!(get_command))
        .routes(routes!(access_requests))
        .routes(routes!(grant_request))
        .routes(routes!(deny_request))
        .routes(routes!(cardholders, create_cardholder))
        .routes(routes!(cardholder, update_cardholder))
        .routes(routes!(cardholder_photo))
        .routes(routes!(update_credential))
        .routes(routes!(search_audit))
        .routes(routes!(verify_audit))
        .routes(routes!(camera_still))
        .routes(routes!(map_image))
        .routes(routes!(site_time))
        .routes(routes!(openapi))
        .routes(routes!(recording_coverage))
        .routes(routes!(recording_segment))
        .routes(routes!(evidence_locks, place_evidence_lock))
        .routes(routes!(remove_evidence_lock))
        .routes(routes!(bookmarks, place_bookmark))
        .routes(routes!(shared_views))
        .routes(routes!(publish_view, delete_view))
        .routes(routes!(set_map_placements))
        .merge(fault::routes())
        .routes(photo_upload_route())
}

/// The OpenAPI document served at `/api/v1/openapi.json`, generated from
/// the routes and the domain types.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

/// The document as JSON, built once.
fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        openapi_document().to_json().unwrap_or_else(|e| {
            tracing::error!("cannot encode the OpenAPI document: {e}");
            String::from("{}")
        })
    })
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Watchdesk site API",
        version = "1.0.0",
        description = "The contract between the Watchdesk client and a site server. JSON everywhere; every 4xx/5xx answer is an ApiError. Bodies over 64 KiB answer 413. Generated from the server's routes and types."
    ),
    modifiers(&BearerAuth),
    // Every error answer's body (the error groups refer to it by name).
    components(schemas(crate::domain::ApiError)),
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "sign-in and sessions"),
        (name = "site", description = "the site's state, stills, maps and clock"),
        (name = "events", description = "the event log and the live stream"),
        (name = "doors", description = "door commands"),
        (name = "access", description = "operator-aided passage"),
        (name = "cardholders", description = "people and their badges"),
        (name = "audit", description = "the audit trail"),
        (name = "meta", description = "this document"),
        (name = "fault", description = "fault injection (tests and demos only)"),
    )
)]
struct ApiDoc;

/// Declares the error answers of the OpenAPI document, each once: a route
/// lists the groups it can give (`responses((status = 200, ..), SignedIn,
/// NotFound)`), each answering an [`ApiError`] body. Empty enums: they are
/// names for the document, never values.
macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => [$($status:literal: $text:literal),+];)*) => {$(
        $(#[$doc])*
        pub(crate) enum $name {}

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                std::collections::BTreeMap::from([$(error_response($status, $text)),+])
            }
        }
    )*};
}

error_responses! {
    /// Every signed-in route: no session, or a role without the permission.
    SignedIn => [
        "401": "not signed in, or the session expired",
        "403": "the caller's role lacks the permission"
    ];
    /// A signed-in route every role may call.
    Unauthenticated => ["401": "not signed in, or the session expired"];
    BadInput => ["400": "invalid input: the message names the field"];
    NotFound => ["404": "no such item"];
    Conflict => ["409": "conflicts with the current state"];
    TooLarge => ["413": "the body is over 64 KiB"];
    Unavailable => ["503": "unavailable right now"];
}

fn error_response(
    status: &str,
    text: &str,
) -> (
    String,
    utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ApiError")))
        .build();
    let response = ResponseBuilder::new()
        .description(text)
        .content("application/json", body)
        .build();
    (status.to_owned(), response.into())
}

/// Declares the bearer-token scheme every signed-in route uses.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub core: Arc<SiteCore>,
    /// `/api/v1/fault/*` answers (to loopback peers) only when set.
    pub fault_injection: bool,
}

/// Builds the API router. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the peer address
/// goes into the audit trail and guards fault injection.
pub fn router(core: Arc<SiteCore>, fault_injection: bool) -> Router {
    let state = ApiState {
        core,
        fault_injection,
    };
    let (router, _) = api_routes().split_for_parts();
    router
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(ensure_api_error))
        .with_state(state)
}

// ---- errors ---------------------------------------------------------------

/// An error answer: a status and an [`ApiError`] body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub error: ApiError,
}

impl ApiFailure {
    /// An answer of `kind` with its usual status.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiFailure {
            status: status_of(kind),
            error: ApiError {
                kind: kind.as_str().to_owned(),
                message: message.into(),
            },
        }
    }

    /// A 400 `invalid_input`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// A 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

/// The HTTP status of an error kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.error)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so this connection cannot
            // carry another request: say so, or a pooling client reuses it
            // and its next request dies with a broken pipe.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

impl From<CoreError> for ApiFailure {
    fn from(e: CoreError) -> Self {
        let kind = e.kind();
        if kind == ErrorKind::Internal {
            tracing::error!("internal error: {e:#}");
            return ApiFailure::new(kind, "internal error (the site log has the details)");
        }
        ApiFailure::new(kind, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiFailure>;

async fn unknown_route(method: Method, uri: Uri) -> ApiFailure {
    ApiFailure::not_found(format!("no route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiFailure {
    ApiFailure::invalid(format!("{method} is not allowed on {}", uri.path()))
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// Any error answer that is not already an [`ApiError`] (from a layer or
/// the framework) becomes one.
async fn ensure_api_error(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let kind = match status {
        StatusCode::UNAUTHORIZED => ErrorKind::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorKind::PermissionDenied,
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::CONFLICT => ErrorKind::Conflict,
        StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
        s if s.is_server_error() => ErrorKind::Internal,
        _ => ErrorKind::InvalidInput,
    };
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    ApiFailure::new(kind, message)
        .with_status(status)
        .into_response()
}

// ---- extractors -------------------------------------------------------------

/// The peer's IP address as text, for the audit trail.
pub fn peer_ip(parts_ext: &axum::http::Extensions) -> Option<SocketAddr> {
    parts_ext.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0)
}

fn source_of(ext: &axum::http::Extensions) -> String {
    peer_ip(ext)
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The peer's IP address as text.
pub struct Peer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(source_of(&parts.extensions)))
    }
}

/// A signed-in caller (from `Authorization: Bearer TOKEN`) and their
/// address.
pub struct Caller {
    pub principal: Principal,
    pub source: String,
}

impl Caller {
    fn actor(&self) -> Actor {
        Actor::user(&self.principal, self.source.clone())
    }

    /// What the caller's role may read of people and users.
    fn redaction(&self) -> Redaction {
        Redaction::for_role(self.principal.role)
    }

    /// 403 unless the caller's role has `permission`.
    fn require(&self, permission: Permission) -> ApiResult<()> {
        self.principal
            .require(permission)
            .map_err(|e| ApiFailure::new(e.kind(), e.to_string()))
    }

    /// Like [`Caller::require`] for a call that would change the world: a
    /// refusal is audited.
    fn require_audited(
        &self,
        core: &SiteCore,
        permission: Permission,
        action: &str,
        target: &str,
    ) -> ApiResult<()> {
        let r = self.require(permission);
        if r.is_err() {
            core.audit(&self.actor(), action, target, "denied");
        }
        r
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiFailure;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(ApiFailure::new(
                    ErrorKind::Unauthenticated,
                    "sign in first: send Authorization: Bearer TOKEN",
                ));
            }
        };
        let principal = state.core.sessions().authenticate(token)?;
        Ok(Caller {
            principal,
            source: source_of(&parts.extensions),
        })
    }
}

fn json_rejection(rej: JsonRejection) -> ApiFailure {
    if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiFailure::invalid(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let text = match &rej {
        JsonRejection::JsonDataError(e) => format!("invalid body: {}", e.body_text()),
        JsonRejection::JsonSyntaxError(e) => format!("malformed JSON body: {}", e.body_text()),
        other => format!("invalid body: {}", other.body_text()),
    };
    ApiFailure::invalid(text)
}

/// Reads a body (within the size limit), with a 413 for a larger one.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> ApiResult<(HeaderMap, Bytes)> {
    let headers = req.headers().clone();
    let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiFailure::invalid(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            ApiFailure::invalid(format!("cannot read the body: {}", rej.body_text()))
        }
    })?;
    Ok((headers, bytes))
}

/// A JSON body; every rejection is an [`ApiError`] (400, or 413 when too
/// large). A missing `Content-Type` is accepted; a wrong one is not.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (headers, bytes) = read_body(req, state).await?;
        if let Some(ct) = headers.get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            let mime = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if mime != "application/json" && !mime.ends_with("+json") {
                return Err(ApiFailure::invalid(format!(
                    "expected Content-Type: application/json, got {ct:?}"
                )));
            }
        }
        Json::<T>::from_bytes(&bytes)
            .map(|Json(v)| ApiJson(v))
            .map_err(json_rejection)
    }
}

/// A JSON body that may also be empty (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (_, bytes) = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        Json::<T>::from_bytes(&bytes)
            .map(|Json(v)| OptionalJson(v))
            .map_err(json_rejection)
    }
}

/// A query string; a rejection is a 400 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rej: QueryRejection| {
                ApiFailure::invalid(format!("invalid query: {}", rej.body_text()))
            })
    }
}

/// One path parameter (`{id}`).
pub struct ApiPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApiPath {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|rej: PathRejection| {
                ApiFailure::invalid(format!("invalid path: {}", rej.body_text()))
            })
    }
}

fn parse_time(name: &str, value: Option<&str>) -> ApiResult<Option<Timestamp>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    // A `+` in an unencoded query string arrives as a space.
    let fixed = v.replace(' ', "+");
    DateTime::parse_from_rfc3339(&fixed)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|e| {
            ApiFailure::invalid(format!(
                "{name}: {v:?} is not an RFC 3339 time like 2026-11-22T10:00:00Z ({e})"
            ))
        })
}

fn page_size(limit: Option<usize>) -> ApiResult<usize> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(0) => Err(ApiFailure::invalid(format!(
            "limit: must be 1 to {MAX_PAGE}"
        ))),
        Some(n) => Ok(n.min(MAX_PAGE)),
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

// ---- auth ---------------------------------------------------------------------

#[utoipa::path(
    post,
    path = "/api/v1/auth/sign-in",
    tag = "auth",
    summary = "Sign in",
    description = "A failed sign-in is audited and answers 401 without saying whether the user exists. After 5 failures of one user name or from one address, each further failure makes that name and that address wait (1 s, doubling to 5 min; audited): meanwhile sign-in answers 429 without checking the password. A few passwords are checked at once; a sign-in that waits over 1 s for its turn answers 429 too.",
    request_body = SignIn,
    responses(
        (status = 200, description = "signed in", body = Session),
        Unauthenticated,
        BadInput,
        TooLarge,
        (
            status = 429,
            description = "too many failed sign-ins of this user name or from this address, or too many at once",
            body = crate::domain::ApiError,
            headers(("Retry-After" = u64, description = "seconds to wait before trying again")),
        ),
    ),
    security(()),
)]
async fn sign_in(
    State(st): State<ApiState>,
    Peer(source): Peer,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Json<Session>, Response> {
    match st
        .core
        .sessions()
        .sign_in(&body.username, &body.password, &source)
        .await
    {
        Ok(session) => Ok(Json(session)),
        Err(e) => {
            let retry_after = match &e {
                CoreError::Auth(super::auth::AuthError::Throttled {
                    retry_after_secs, ..
                }) => Some(*retry_after_secs),
                _ => None,
            };
            let mut res = ApiFailure::from(e).into_response();
            if let Some(secs) = retry_after {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Err(res)
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/sign-out",
    tag = "auth",
    summary = "Sign out (revokes the session)",
    responses(
        (status = 204, description = "signed out"),
        Unauthenticated,
    ),
)]
async fn sign_out(State(st): State<ApiState>, caller: Caller) -> ApiResult<StatusCode> {
    st.core
        .sessions()
        .sign_out(&caller.principal, &caller.source)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/session",
    tag = "auth",
    summary = "The caller's session (token field empty)",
    responses(
        (status = 200, description = "the session", body = Session),
        Unauthenticated,
    ),
)]
async fn session(caller: Caller) -> Json<Session> {
    let p = caller.principal;
    Json(Session {
        token: String::new(),
        username: p.username,
        role: p.role,
        expires: p.expires,
    })
}

/// Whose sessions to revoke: exactly one of `user` and `all`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RevokeSessions {
    /// Every session of this user.
    user: Option<String>,
    /// `true`: every session of every user (but the caller's own).
    all: Option<bool>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct RevokedBody {
    /// How many live sessions were revoked.
    revoked: usize,
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/revoke",
    tag = "auth",
    summary = "Revoke one user's sessions, or everyone's",
    description = "Body: `{\"user\": \"name\"}` or `{\"all\": true}`. The caller's own session is never revoked here (sign out to end it), so an admin who revokes everyone stays signed in. A revoked session's calls answer 401 and its live streams end within seconds. Audited, refusals too. Needs the `ManageSessions` permission.",
    request_body = RevokeSessions,
    responses(
        (status = 200, description = "how many sessions were revoked", body = RevokedBody),
        SignedIn,
        BadInput,
        TooLarge,
    ),
)]
async fn revoke_sessions(
    State(st): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<RevokeSessions>,
) -> ApiResult<Response> {
    let what = match (body.user, body.all) {
        (Some(user), None) => Some(Revoke::User(user)),
        (None, Some(true)) => Some(Revoke::All),
        _ => None,
    };
    let target = match &what {
        Some(Revoke::User(u)) => format!("user:{}", u.chars().take(128).collect::<String>()),
        _ => "all".to_owned(),
    };
    caller.require_audited(
        &st.core,
        Permission::ManageSessions,
        actions::SESSION_REVOKE,
        &target,
    )?;
    let what = match what {
        Some(Revoke::User(u)) if u.is_empty() || u.len() > 128 => {
            return Err(ApiFailure::invalid("user must be 1 to 128 bytes"));
        }
        Some(w) => w,
        None => {
            return Err(ApiFailure::invalid(
                "send either {\"user\": \"name\"} or {\"all\": true}",
            ));
        }
    };
    let revoked = st
        .core
        .sessions()
        .revoke(&caller.principal, &caller.source, &what)?;
    Ok(Json(RevokedBody { revoked }).into_response())
}

// ---- site state and events -----------------------------------------------------

#[utoipa::path(
    get,
    path = "/api/v1/snapshot",
    tag = "site",
    summary = "Current state of the site, valid at `seq`",
    description = "Needs the `ViewSite` permission.",
    responses(
        (status = 200, description = "the snapshot", body = crate::domain::Snapshot),
        SignedIn,
    ),
)]
async fn snapshot(
    State(st): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require(Permission::ViewSite)?;
    let mut snapshot = st.core.snapshot();
    // The relay's URLs name the host this client reached the site by.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok());
    st.core
        .cameras()
        .rehost(&mut snapshot.cameras, host.as_ref().map(|a| a.host()));
    // Answered once every event up to its seq is stored: a client never
    // holds a state the log could lose.
    st.core.events().settled(snapshot.seq).await;
    Ok(Json(caller.redaction().snapshot(snapshot)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    #[param(value_type = Option<u64>)]
    after: Option<Seq>,
}

#[utoipa::path(
    get,
    path = "/api/v1/events/stream",
    tag = "events",
    summary = "Live events (Server-Sent Events)",
    description = "Replays missed events (after `Last-Event-ID` or `after`) from the store, then live ones; never a gap, never a duplicate. Each SSE `id` is the event's `seq`, its `event` the type, its data an `Event`. A replay is a search of the log: a role without the `SearchEvents` permission gets live events only, from the moment it connects; its `Last-Event-ID` and `after` are checked, then ignored (not refused: a browser's EventSource and the client resend `Last-Event-ID` on every reconnect, and a 403 there would cut such a role off the live stream). The stream ends with its session: at once when it is revoked, else within 5 s of its expiry or idle timeout; an open stream counts as use of its session. Needs the `ViewSite` permission.",
    params(StreamQuery, ("Last-Event-ID" = Option<u64>, Header, description = "resume after this sequence number")),
    responses(
        (status = 200, description = "an endless `text/event-stream` of `Event`s and `: hb` heartbeats", content_type = "text/event-stream", body = crate::domain::Event),
        SignedIn,
        BadInput,
        (status = 429, description = "this session already holds as many live streams as it may", body = crate::domain::ApiError),
    ),
)]
async fn event_stream(
    State(st): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<sse::Event, Infallible>>>> {
    caller.require(Permission::ViewSite)?;
    // Held by the stream: its place under the per-session cap is given back when it ends.
    let slot = st
        .core
        .events()
        .stream_cap()
        .take(&caller.principal.token_sha256)
        .map_err(|e| ApiFailure::new(e.kind(), e.to_string()))?;
    let last_id = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?").trim())
        .filter(|v| !v.is_empty());
    let after = match last_id {
        Some(v) => Some(v.parse::<Seq>().map_err(|_| {
            ApiFailure::invalid(format!(
                "Last-Event-ID: {v:?} is not an event sequence number"
            ))
        })?),
        None => q.after,
    };
    // The replay is a search of the log: without that right, live only.
    let after = after.filter(|_| caller.require(Permission::SearchEvents).is_ok());
    let rx = st.core.events().stream(after);
    let redaction = caller.redaction();
    // The stream ends with its session (revoked, expired, idle).
    let ended = st.core.sessions().ended(&caller.principal);
    let stream = ReceiverStream::new(rx).take_until(ended).map(move |item| {
        Ok(match item {
            StreamItem::Heartbeat => sse::Event::default().comment("hb"),
            StreamItem::Event(e) => {
                let e = redaction.event(*e);
                let base = sse::Event::default()
                    .id(e.seq.to_string())
                    .event(e.kind.type_name());
                match base.json_data(&e) {
                    Ok(ev) => ev,
                    Err(err) => {
                        tracing::error!(seq = e.seq, "cannot encode an event: {err}");
                        sse::Event::default().comment("encode error")
                    }
                }
            }
        })
    });
    Ok(Sse::new(slot.hold(stream)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventSearch {
    door: Option<String>,
    cardholder: Option<String>,
    credential: Option<String>,
    #[serde(rename = "type")]
    type_name: Option<String>,
    #[param(format = DateTime)]
    from: Option<String>,
    #[param(format = DateTime)]
    to: Option<String>,
    /// Page size; larger than the largest page gives the largest page.
    #[param(minimum = 1)]
    limit: Option<usize>,
    #[param(value_type = Option<u64>)]
    before: Option<Seq>,
}

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    summary = "Search the event log, newest first",
    description = "Needs the `SearchEvents` permission.",
    params(EventSearch),
    responses(
        (status = 200, description = "a page of events", body = crate::domain::Page<crate::domain::Event>),
        SignedIn,
        BadInput,
    ),
)]
async fn search_events(
    State(st): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventSearch>,
) -> ApiResult<Response> {
    caller.require(Permission::SearchEvents)?;
    let type_name = non_empty(q.type_name);
    if let Some(t) = &type_name
        && !EventKind::TYPES.contains(&t.as_str())
    {
        return Err(ApiFailure::invalid(format!(
            "type: unknown event type {t:?} (one of {})",
            EventKind::TYPES.join(", ")
        )));
    }
    let query = EventQuery {
        door: non_empty(q.door),
        cardholder: non_empty(q.cardholder),
        credential: non_empty(q.credential),
        type_name,
        from: parse_time("from", q.from.as_deref())?,
        to: parse_time("to", q.to.as_deref())?,
        before: q.before,
        limit: page_size(q.limit)?,
    };
    let events = Arc::clone(st.core.events());
    let page = tokio::task::spawn_blocking(move || events.search(&query))
        .await
        .map_err(|e| ApiFailure::new(ErrorKind::Internal, format!("search task: {e}")))??;
    let redaction = caller.redaction();
    let page = Page {
        items: page.items.into_iter().map(|e| redaction.event(e)).collect(),
        ..page
    };
    Ok(Json(page).into_response())
}

// ---- doors and commands ------------------------------------------------------------

#[utoipa::path(
    post,
    path = "/api/v1/doors/{id}/commands",
    tag = "doors",
    summary = "Send a door command",
    description = "Answers 202 with the command pending; the outcome arrives as `command.completed` or `command.failed` and the door's own `door.state_changed`. Audited as `pending` before the door is told; when the audit trail cannot be written it answers 503 and does nothing. Needs the `CommandDoor` permission (`Lockdown` for lockdown and release_lockdown).",
    params(("id" = String, Path, description = "door id")),
    request_body = DoorCommand,
    responses(
        (status = 202, description = "accepted, pending", body = crate::domain::CommandInfo),
        SignedIn,
        BadInput,
        NotFound,
        Conflict,
        TooLarge,
        Unavailable,
    ),
)]
async fn door_command(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(cmd): ApiJson<DoorCommand>,
) -> ApiResult<Response> {
    let door = DoorId::new(id);
    let permission = Permission::for_door_action(cmd.action);
    caller.require_audited(
        &st.core,
        permission,
        actions::DOOR_COMMAND,
        &command_target(&door, cmd.action),
    )?;
    let info = st.core.doors().command(&caller.actor(), &door, &cmd)?;
    Ok((StatusCode::ACCEPTED, Json(info)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/commands/{id}",
    tag = "doors",
    summary = "A command and its state",
    description = "Needs the `CommandDoor` permission.",
    params(("id" = String, Path, description = "command id")),
    responses(
        (status = 200, description = "the command", body = crate::domain::CommandInfo),
        SignedIn,
        NotFound,
    ),
)]
async fn get_command(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> ApiResult<Response> {
    caller.require(Permission::CommandDoor)?;
    Ok(Json(st.core.doors().get_command(&CommandId::new(id))?).into_response())
}

// ---- access requests ---------------------------------------------------------------

#[utoipa::path(
    get,
    path = "/api/v1/access-requests",
    tag = "access",
    summary = "Open access requests",
    description = "Needs the `ViewSite` permission.",
    responses(
        (status = 200, description = "open requests, oldest first", body = Vec<crate::domain::AccessRequest>),
        SignedIn,
    ),
)]
async fn access_requests(State(st): State<ApiState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Permission::ViewSite)?;
    let redaction = caller.redaction();
    let open: Vec<_> = st
        .core
        .requests()
        .open_requests()
        .into_iter()
        .map(|r| redaction.request(r))
        .collect();
    Ok(Json(open).into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct OutcomeBody {
    outcome: RequestOutcome,
}

async fn answer(
    st: ApiState,
    caller: Caller,
    id: String,
    grant: bool,
    decision: Decision,
) -> ApiResult<Response> {
    let action = if grant {
        actions::REQUEST_GRANT
    } else {
        actions::REQUEST_DENY
    };
    caller.require_audited(&st.core, Permission::AnswerRequests, action, &id)?;
    let outcome =
        st.core
            .requests()
            .answer(&caller.actor(), &RequestId::new(id), grant, decision.reason)?;
    Ok(Json(OutcomeBody { outcome }).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/access-requests/{id}/grant",
    tag = "access",
    summary = "Grant an open access request",
    description = "A grant momentarily unlocks the door. Audited before it is acted on; when the audit trail cannot be written it answers 503 and changes nothing. Needs the `AnswerRequests` permission.",
    params(("id" = String, Path, description = "request id")),
    request_body(content = Option<Decision>, description = "an optional reason; the body may be empty"),
    responses(
        (status = 200, description = "the outcome", body = OutcomeBody),
        SignedIn,
        BadInput,
        NotFound,
        Conflict,
        TooLarge,
        Unavailable,
    ),
)]
async fn grant_request(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    OptionalJson(d): OptionalJson<Decision>,
) -> ApiResult<Response> {
    answer(st, caller, id, true, d).await
}

#[utoipa::path(
    post,
    path = "/api/v1/access-requests/{id}/deny",
    tag = "access",
    summary = "Deny an open access request",
    description = "The door stays locked. Audited before it is acted on; when the audit trail cannot be written it answers 503 and changes nothing. Needs the `AnswerRequests` permission.",
    params(("id" = String, Path, description = "request id")),
    request_body(content = Option<Decision>, description = "an optional reason; the body may be empty"),
    responses(
        (status = 200, description = "the outcome", body = OutcomeBody),
        SignedIn,
        BadInput,
        NotFound,
        Conflict,
        TooLarge,
        Unavailable,
    ),
)]
async fn deny_request(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    OptionalJson(d): OptionalJson<Decision>,
) -> ApiResult<Response> {
    answer(st, caller, id, false, d).await
}

// ---- cardholders and credentials ---------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CardholderSearch {
    q: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/cardholders",
    tag = "cardholders",
    summary = "Find cardholders",
    description = "Needs the `ViewCardholders` permission.",
    params(CardholderSearch),
    responses(
        (status = 200, description = "matching cardholders", body = Vec<crate::domain::Cardholder>),
        SignedIn,
        BadInput,
    ),
)]
async fn cardholders(
    State(st): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CardholderSearch>,
) -> ApiResult<Response> {
    caller.require(Permission::ViewCardholders)?;
    Ok(Json(st.core.people().cardholders(q.q.as_deref().unwrap_or(""))).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/cardholders/{id}",
    tag = "cardholders",
    summary = "One cardholder",
    description = "Needs the `ViewCardholders` permission.",
    params(("id" = String, Path, description = "cardholder id")),
    responses(
        (status = 200, description = "the cardholder", body = crate::domain::Cardholder),
        SignedIn,
        NotFound,
    ),
)]
async fn cardholder(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> ApiResult<Response> {
    caller.require(Permission::ViewCardholders)?;
    Ok(Json(st.core.people().cardholder(&CardholderId::new(id))?).into_response())
}

/// A badge as a create or an edit of a cardholder gives it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CredentialInput {
    /// The badge (card number): ASCII letters, digits, `-`, `_`, `.`.
    id: String,
    /// `active` when left out.
    #[serde(default)]
    state: Option<crate::domain::CredentialState>,
    /// After this the card is expired and refused.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    valid_until: Option<Timestamp>,
}

fn credentials_from(input: Vec<CredentialInput>) -> Vec<crate::domain::Credential> {
    input
        .into_iter()
        .map(|c| crate::domain::Credential {
            id: CredentialId::new(c.id),
            state: c.state.unwrap_or(crate::domain::CredentialState::Active),
            valid_until: c.valid_until,
        })
        .collect()
}

/// A new cardholder.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewCardholder {
    /// ASCII letters, digits, `-`, `_`, `.`; at most 64.
    id: String,
    /// At most 120 characters.
    name: String,
    #[serde(default)]
    department: String,
    /// The id of one of the site's schedules.
    schedule: String,
    /// At most 16; none held by someone else.
    #[serde(default)]
    credentials: Vec<CredentialInput>,
}

/// An edit of a cardholder: the fields given replace what is stored;
/// `credentials`, when given, is the whole new list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CardholderUpdate {
    name: Option<String>,
    department: Option<String>,
    schedule: Option<String>,
    credentials: Option<Vec<CredentialInput>>,
}

/// Runs a people change (store writes under the log's commit) off the
/// async workers.
async fn people_change<R: Send + 'static>(
    st: &ApiState,
    change: impl FnOnce(&super::people::People) -> Result<R, CoreError> + Send + 'static,
) -> ApiResult<R> {
    let people = Arc::clone(st.core.people());
    Ok(tokio::task::spawn_blocking(move || change(&people))
        .await
        .map_err(|e| ApiFailure::new(ErrorKind::Internal, format!("people task: {e}")))??)
}

#[utoipa::path(
    post,
    path = "/api/v1/cardholders",
    tag = "cardholders",
    summary = "Create a cardholder",
    description = "Emits `cardholder.changed`; audited (refusals too); the next access decision sees the badges. Needs the `ManageCredentials` permission. A field that is not right answers 400 naming it; an id already taken, or a badge someone else holds, answers 409.",
    request_body = NewCardholder,
    responses(
        (status = 201, description = "the cardholder as stored", body = crate::domain::Cardholder),
        SignedIn,
        BadInput,
        Conflict,
        TooLarge,
    ),
)]
async fn create_cardholder(
    State(st): State<ApiState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewCardholder>,
) -> ApiResult<Response> {
    caller.require_audited(
        &st.core,
        Permission::ManageCredentials,
        actions::CARDHOLDER_CREATE,
        &new.id,
    )?;
    let actor = caller.actor();
    let id = CardholderId::new(new.id);
    let edit = super::people::CardholderEdit {
        name: Some(new.name),
        department: Some(new.department),
        schedule: Some(new.schedule),
        credentials: Some(credentials_from(new.credentials)),
    };
    let created = people_change(&st, move |p| p.create_cardholder(&actor, &id, edit)).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/cardholders/{id}",
    tag = "cardholders",
    summary = "Edit a cardholder",
    description = "Changes the fields given (name, department, schedule, the whole list of credentials). Emits `cardholder.changed`; audited (refusals too); the next access decision sees it. Needs the `ManageCredentials` permission. A field that is not right answers 400 naming it; a badge someone else holds answers 409.",
    params(("id" = String, Path, description = "cardholder id")),
    request_body = CardholderUpdate,
    responses(
        (status = 200, description = "the cardholder as stored", body = crate::domain::Cardholder),
        SignedIn,
        BadInput,
        NotFound,
        Conflict,
        TooLarge,
    ),
)]
async fn update_cardholder(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(update): ApiJson<CardholderUpdate>,
) -> ApiResult<Response> {
    caller.require_audited(
        &st.core,
        Permission::ManageCredentials,
        actions::CARDHOLDER_UPDATE,
        &id,
    )?;
    let actor = caller.actor();
    let id = CardholderId::new(id);
    let edit = super::people::CardholderEdit {
        name: update.name,
        department: update.department,
        schedule: update.schedule,
        credentials: update.credentials.map(credentials_from),
    };
    let updated = people_change(&st, move |p| p.update_cardholder(&actor, &id, edit)).await?;
    Ok(Json(updated).into_response())
}

fn image_type(path: &std::path::Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "image/png",
    }
}

async fn file_response(path: std::path::PathBuf, what: &str) -> ApiResult<Response> {
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::warn!(path = %path.display(), "cannot read {what}: {e}");
        ApiFailure::new(ErrorKind::Unavailable, format!("the {what} cannot be read"))
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, image_type(&path)),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/cardholders/{id}/photo",
    tag = "cardholders",
    summary = "A cardholder's photo",
    description = "Needs the `ViewCardholders` permission.",
    params(("id" = String, Path, description = "cardholder id")),
    responses(
        (status = 200, description = "JPEG or PNG", content_type = "image/jpeg"),
        SignedIn,
        NotFound,
    ),
)]
async fn cardholder_photo(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> ApiResult<Response> {
    caller.require(Permission::ViewCardholders)?;
    let path = st.core.people().photo_path(&CardholderId::new(id))?;
    file_response(path, "photo").await
}

/// The photo upload, with its own body limit (the rest keep 64 KiB).
fn photo_upload_route() -> utoipa_axum::router::UtoipaMethodRouter<ApiState> {
    let (schemas, paths, method_router) = routes!(upload_cardholder_photo);
    (
        schemas,
        paths,
        method_router.layer(DefaultBodyLimit::max(super::people::MAX_PHOTO_BYTES)),
    )
}

#[utoipa::path(
    put,
    path = "/api/v1/cardholders/{id}/photo",
    tag = "cardholders",
    summary = "Upload a cardholder's photo",
    description = "The body is the picture, `Content-Type: image/jpeg` or `image/png`, at most 2 MiB and 4096×4096 pixels. It is decoded, re-encoded as JPEG and stored in the site's data folder, and served from then on in place of a configured photo. Emits `cardholder.changed`; audited (refusals too). Needs the `ManageCredentials` permission. Another content type or a picture that does not decode answers 400; a body over 2 MiB answers 413.",
    params(("id" = String, Path, description = "cardholder id")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "a JPEG or PNG picture"),
    responses(
        (status = 200, description = "the cardholder, `has_photo` set", body = crate::domain::Cardholder),
        SignedIn,
        BadInput,
        NotFound,
        TooLarge,
    ),
)]
async fn upload_cardholder_photo(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require_audited(
        &st.core,
        Permission::ManageCredentials,
        actions::CARDHOLDER_PHOTO,
        &id,
    )?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if !matches!(content_type.as_deref(), Some("image/jpeg" | "image/png")) {
        return Err(ApiFailure::new(
            ErrorKind::InvalidInput,
            "the body must be a picture: Content-Type image/jpeg or image/png".to_owned(),
        ));
    }
    let jpeg = tokio::task::spawn_blocking(move || super::people::normalize_photo(&body))
        .await
        .map_err(|e| ApiFailure::new(ErrorKind::Internal, format!("photo task: {e}")))??;
    let actor = caller.actor();
    let id = CardholderId::new(id);
    let updated = people_change(&st, move |p| p.set_photo(&actor, &id, &jpeg)).await?;
    Ok(Json(updated).into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/credentials/{id}",
    tag = "cardholders",
    summary = "Enable or disable a badge",
    description = "Emits `credential.changed`; audited; the next access decision sees it. Needs the `ManageCredentials` permission.",
    params(("id" = String, Path, description = "credential (badge) id")),
    request_body = CredentialUpdate,
    responses(
        (status = 200, description = "the credential", body = crate::domain::Credential),
        SignedIn,
        BadInput,
        NotFound,
        TooLarge,
    ),
)]
async fn update_credential(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(update): ApiJson<CredentialUpdate>,
) -> ApiResult<Response> {
    let action = match update.state {
        crate::domain::CredentialState::Active => actions::CREDENTIAL_ENABLE,
        crate::domain::CredentialState::Disabled => actions::CREDENTIAL_DISABLE,
    };
    caller.require_audited(&st.core, Permission::ManageCredentials, action, &id)?;
    let actor = caller.actor();
    let id = CredentialId::new(id);
    let credential =
        people_change(&st, move |p| p.set_credential(&actor, &id, update.state)).await?;
    Ok(Json(credential).into_response())
}

// ---- audit -------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditSearch {
    user: Option<String>,
    action: Option<String>,
    #[param(format = DateTime)]
    from: Option<String>,
    #[param(format = DateTime)]
    to: Option<String>,
    /// Page size; larger than the largest page gives the largest page.
    #[param(minimum = 1)]
    limit: Option<usize>,
    before: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    summary = "Search the audit trail, newest first",
    description = "Needs the `ViewAudit` permission.",
    params(AuditSearch),
    responses(
        (status = 200, description = "a page of audit entries", body = crate::domain::Page<crate::domain::AuditEntry>),
        SignedIn,
        BadInput,
    ),
)]
async fn search_audit(
    State(st): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditSearch>,
) -> ApiResult<Response> {
    caller.require(Permission::ViewAudit)?;
    let query = AuditQuery {
        user: non_empty(q.user),
        action: non_empty(q.action),
        from: parse_time("from", q.from.as_deref())?,
        to: parse_time("to", q.to.as_deref())?,
        before: q.before,
        limit: page_size(q.limit)?,
    };
    Ok(Json(st.core.audit_trail().search(&query)?).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    summary = "Recompute the audit hash chain",
    description = "Needs the `ViewAudit` permission.",
    responses(
        (status = 200, description = "the verification", body = crate::domain::AuditVerification),
        SignedIn,
    ),
)]
async fn verify_audit(State(st): State<ApiState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Permission::ViewAudit)?;
    let trail = Arc::clone(st.core.audit_trail());
    let v = tokio::task::spawn_blocking(move || trail.verify())
        .await
        .map_err(|e| ApiFailure::new(ErrorKind::Internal, format!("verify task: {e}")))??;
    Ok(Json(v).into_response())
}

// ---- cameras, maps, time -------------------------------------------------------------

#[utoipa::path(
    get,
    path = "/api/v1/cameras/{id}/still.jpg",
    tag = "site",
    summary = "A camera's latest still",
    description = "Needs the `ViewSite` permission.",
    params(("id" = String, Path, description = "camera id")),
    responses(
        (status = 200, description = "JPEG", content_type = "image/jpeg"),
        SignedIn,
        NotFound,
        Unavailable,
    ),
)]
async fn camera_still(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> ApiResult<Response> {
    caller.require(Permission::ViewSite)?;
    let jpeg = st.core.cameras().still(&CameraId::new(id))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        jpeg,
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/maps/{id}/image",
    tag = "site",
    summary = "A floor plan image",
    description = "Needs the `ViewSite` permission.",
    params(("id" = String, Path, description = "map id")),
    responses(
        (status = 200, description = "PNG or JPEG", content_type = "image/png"),
        SignedIn,
        NotFound,
    ),
)]
async fn map_image(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> ApiResult<Response> {
    caller.require(Permission::ViewSite)?;
    let path = st.core.map_image_path(&MapId::new(id))?;
    file_response(path, "map image").await
}

#[utoipa::path(
    put,
    path = "/api/v1/maps/{id}/placements",
    tag = "site",
    summary = "Place doors and cameras on a floor map",
    description = "Replaces the map's whole placement list (the map editor). Every id must be a door or camera of the site, once per list, inside the plan's width and height; angles finite, `direction_deg` is stored normalised to 0..360, `fov_deg` from 1 to 360; at most 2000 placements. Written back to the map's placement file (comments kept, atomically); when that file cannot be written it answers 503 and changes nothing. Emits `map.changed`; audited (refusals too). Needs the `EditMaps` permission.",
    params(("id" = String, Path, description = "map id")),
    request_body = crate::domain::MapPlacements,
    responses(
        (status = 200, description = "the map as stored", body = crate::domain::FloorMap),
        SignedIn,
        BadInput,
        NotFound,
        TooLarge,
        Unavailable,
    ),
)]
async fn set_map_placements(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<crate::domain::MapPlacements>,
) -> ApiResult<Response> {
    caller.require_audited(&st.core, Permission::EditMaps, actions::MAP_EDIT, &id)?;
    // A file write and its fsync: off the async workers.
    let (core, actor) = (Arc::clone(&st.core), caller.actor());
    let map = tokio::task::spawn_blocking(move || {
        core.maps().set_placements(&actor, &MapId::new(id), body)
    })
    .await
    .map_err(|e| ApiFailure::new(ErrorKind::Internal, format!("map task: {e}")))??;
    Ok(Json(map).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/time",
    tag = "site",
    summary = "The site's clock and time zone",
    description = "Needs the `ViewSite` permission.",
    responses(
        (status = 200, description = "the site time", body = crate::domain::SiteTime),
        SignedIn,
    ),
)]
async fn site_time(State(st): State<ApiState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Permission::ViewSite)?;
    Ok(Json(st.core.time()).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    summary = "This document",
    description = "Generated from the routes and types of the code.",
    responses(
        (status = 200, description = "OpenAPI document", content_type = "application/json"),
    ),
    security(()),
)]
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

// ---- recordings -----------------------------------------------------------------

/// Runs store or file work on the blocking pool; `what` names it in the
/// error of a task that did not finish.
async fn off_thread<R: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<R, CoreError> + Send + 'static,
) -> Result<R, CoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Unavailable(format!("{what}: {e}")))?
}

/// The longest span one coverage call covers.
const MAX_COVERAGE_DAYS: i64 = 31;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CoverageQuery {
    /// Start of the range, RFC 3339 (e.g. `2026-12-07T10:00:00Z`).
    from: String,
    /// End of the range, RFC 3339; at most 31 days after `from`.
    to: String,
    /// `main` (default) or `sub`.
    stream: Option<String>,
    /// `false` leaves each segment's key-frame times out (a timeline over
    /// days needs only the spans); default `true`.
    key_frames: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/api/v1/recordings/{camera}",
    tag = "recordings",
    summary = "What is recorded of a camera in a time range",
    description = "The finished segments of the camera's stream that overlap `from`..`to` (start, end, bytes, SHA-256, key-frame times, clock source) and the gaps between them; the segment being written is not listed (the last minute plays from the live relay). Audited (`recording.view`). Needs the `ViewRecordings` permission.",
    params(("camera" = String, Path, description = "camera id"), CoverageQuery),
    responses(
        (status = 200, description = "segments and gaps", body = crate::domain::Coverage),
        SignedIn,
        BadInput,
        NotFound,
    ),
)]
async fn recording_coverage(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(camera): ApiPath,
    ApiQuery(q): ApiQuery<CoverageQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::ViewRecordings)?;
    let camera = CameraId::new(camera);
    if st.core.config().cameras.iter().all(|c| c.id != camera) {
        return Err(CoreError::NotFound(format!("no camera {camera:?}")).into());
    }
    let (from, to) = (rfc3339("from", &q.from)?, rfc3339("to", &q.to)?);
    if to <= from || to - from > chrono::TimeDelta::days(MAX_COVERAGE_DAYS) {
        return Err(CoreError::InvalidInput(format!(
            "to must be after from, by at most {MAX_COVERAGE_DAYS} days"
        ))
        .into());
    }
    let stream = match q.stream.as_deref() {
        None | Some("main") => crate::domain::StreamKind::Main,
        Some("sub") => crate::domain::StreamKind::Sub,
        Some(other) => {
            return Err(CoreError::InvalidInput(format!(
                "stream must be main or sub, not {other:?}"
            ))
            .into());
        }
    };
    let store = Arc::clone(st.core.store());
    let cam = camera.clone();
    let mut coverage = off_thread("coverage", move || {
        Ok(store.read_blocking(move |c| {
            super::store::recordings::coverage(
                c,
                &cam,
                stream,
                from,
                to,
                chrono::TimeDelta::milliseconds(100),
            )
        })?)
    })
    .await?;
    if q.key_frames == Some(false) {
        for s in &mut coverage.segments {
            s.key_frames_us = Vec::new();
        }
    }
    st.core.audit_trail().record(
        &caller.actor(),
        super::audit::actions::RECORDING_VIEW,
        &format!("{camera}:{}..{}", from.to_rfc3339(), to.to_rfc3339()),
        &format!("ok: {} segments", coverage.segments.len()),
    );
    Ok(Json(coverage).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/recordings/segments/{id}",
    tag = "recordings",
    summary = "A finished segment, as an MP4 file",
    description = "The whole file (200) or a byte range of it (`Range`, answered 206 with that part; 416 past its end), with its SHA-256 as a strong `ETag` (`If-None-Match` answers 304) and `Last-Modified`. A segment still being written answers 404: a fragmented file cannot be seeked over HTTP, so the last minute plays from the live relay. Needs the `ViewRecordings` permission.",
    params(("id" = i64, Path, description = "the segment's id, from the coverage")),
    responses(
        (status = 200, description = "the MP4 file (206 for a byte range)", content_type = "video/mp4"),
        (status = 304, description = "not modified"),
        SignedIn,
        BadInput,
        NotFound,
    ),
)]
async fn recording_segment(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    req: Request,
) -> ApiResult<Response> {
    caller.require(Permission::ViewRecordings)?;
    let id: i64 = id
        .parse()
        .map_err(|_| CoreError::InvalidInput(format!("segment id {id:?} is not a number")))?;
    let Some(root) = st.core.recorders().root() else {
        return Err(CoreError::NotFound("this site does not record".into()).into());
    };
    let store = Arc::clone(st.core.store());
    let segment = off_thread("segment", move || {
        Ok(store.read_blocking(move |c| super::store::recordings::by_id(c, id))?)
    })
    .await?
    .filter(|s| s.state == crate::domain::SegmentState::Done)
    .ok_or_else(|| CoreError::NotFound(format!("no finished segment {id}")))?;
    // The index names files under the recordings folder, never outside it.
    let relative = std::path::Path::new(&segment.path);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(CoreError::NotFound(format!("no finished segment {id}")).into());
    }
    let etag = format!("\"{}\"", segment.sha256);
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let served = tower_http::services::ServeFile::new_with_mime(
        root.join(relative),
        &"video/mp4"
            .parse()
            .map_err(|_| CoreError::Unavailable("mime".into()))?,
    )
    .try_call(req)
    .await
    .map_err(|e| CoreError::Unavailable(format!("cannot read segment {id}: {e}")))?;
    let mut response = served.map(axum::body::Body::new);
    if response.status().is_success() {
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        // A finished segment never changes.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=86400, immutable"),
        );
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/evidence-locks",
    tag = "recordings",
    summary = "Every evidence lock",
    description = "The holds on recordings: cameras, time range, who, why, until when (none: until removed). Retention never deletes a segment a live lock covers. Needs the `ViewRecordings` permission.",
    responses(
        (status = 200, description = "the locks", body = Vec<crate::domain::EvidenceLock>),
        SignedIn,
    ),
)]
async fn evidence_locks(State(st): State<ApiState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Permission::ViewRecordings)?;
    let store = Arc::clone(st.core.store());
    let locks = off_thread("locks", move || super::evidence::list(&store)).await?;
    Ok(Json(locks).into_response())
}

/// A new evidence lock.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewLockBody {
    /// 1 to 64 known camera ids, once each.
    #[schema(value_type = Vec<String>)]
    cameras: Vec<CameraId>,
    /// RFC 3339.
    start: String,
    /// RFC 3339, after `start`.
    end: String,
    /// Why, 1 to 500 characters.
    reason: String,
    /// RFC 3339, in the future; none: until removed.
    until: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/evidence-locks",
    tag = "recordings",
    summary = "Lock the recordings of cameras over a time range",
    description = "Retention keeps every segment the lock covers until `until` (or for good). Answers the lock with its new id; audited (`evidence.lock`, refusals too); 400 naming what is wrong; 409 past 10,000 locks. Needs the `LockEvidence` permission.",
    request_body = NewLockBody,
    responses(
        (status = 200, description = "the lock placed", body = crate::domain::EvidenceLock),
        SignedIn,
        BadInput,
        Conflict,
        TooLarge,
    ),
)]
async fn place_evidence_lock(
    State(st): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewLockBody>,
) -> ApiResult<Response> {
    caller.require_audited(
        &st.core,
        Permission::LockEvidence,
        super::audit::actions::EVIDENCE_LOCK,
        &body
            .cameras
            .iter()
            .map(CameraId::as_str)
            .collect::<Vec<_>>()
            .join(","),
    )?;
    let new = super::evidence::NewLock {
        cameras: body.cameras,
        start: rfc3339("start", &body.start)?,
        end: rfc3339("end", &body.end)?,
        reason: body.reason,
        until: body
            .until
            .as_deref()
            .map(|u| rfc3339("until", u))
            .transpose()?,
    };
    let core = Arc::clone(&st.core);
    let actor = caller.actor();
    let lock = off_thread("lock", move || {
        let now = core.env().clock.now();
        super::evidence::place(
            core.config(),
            core.store(),
            core.audit_trail(),
            &actor,
            new,
            now,
        )
    })
    .await?;
    Ok(Json(lock).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/evidence-locks/{id}",
    tag = "recordings",
    summary = "Remove an evidence lock",
    description = "Retention may then delete what it held. Audited (`evidence.unlock`, refusals too); 404 for a lock that is not there. Needs the `LockEvidence` permission.",
    params(("id" = String, Path, description = "the lock's id")),
    responses(
        (status = 204, description = "removed"),
        SignedIn,
        NotFound,
    ),
)]
async fn remove_evidence_lock(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> ApiResult<Response> {
    caller.require_audited(
        &st.core,
        Permission::LockEvidence,
        super::audit::actions::EVIDENCE_UNLOCK,
        &id.chars().take(64).collect::<String>(),
    )?;
    let core = Arc::clone(&st.core);
    let actor = caller.actor();
    off_thread("unlock", move || {
        super::evidence::remove(core.store(), core.audit_trail(), &actor, &id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct BookmarkSearch {
    /// Words in the title or note (case-insensitive).
    q: Option<String>,
    /// Only bookmarks of this camera.
    camera: Option<String>,
    /// RFC 3339: bookmarks that end at or after this.
    from: Option<String>,
    /// RFC 3339: bookmarks that start at or before this.
    to: Option<String>,
    /// At most this many (1–500, default 100).
    limit: Option<usize>,
}

fn rfc3339(what: &str, v: &str) -> Result<crate::domain::Timestamp, CoreError> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| CoreError::InvalidInput(format!("{what}: not an RFC 3339 time: {e}")))
}

#[utoipa::path(
    get,
    path = "/api/v1/bookmarks",
    tag = "recordings",
    summary = "Find bookmarks",
    description = "By words in the title or note, camera and time range, by start time. Needs the `ViewRecordings` permission.",
    params(BookmarkSearch),
    responses(
        (status = 200, description = "the bookmarks found", body = Vec<crate::domain::Bookmark>),
        SignedIn,
        BadInput,
    ),
)]
async fn bookmarks(
    State(st): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BookmarkSearch>,
) -> ApiResult<Response> {
    caller.require(Permission::ViewRecordings)?;
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(CoreError::InvalidInput("q: at most 200 characters".into()).into());
    }
    let query = super::store::bookmarks::BookmarkQuery {
        text: q.q.filter(|t| !t.trim().is_empty()),
        camera: q.camera.map(CameraId::new),
        from: q.from.as_deref().map(|v| rfc3339("from", v)).transpose()?,
        to: q.to.as_deref().map(|v| rfc3339("to", v)).transpose()?,
        limit: q.limit.unwrap_or(100),
    };
    let store = Arc::clone(st.core.store());
    let found = off_thread("bookmarks", move || super::bookmarks::search(&store, query)).await?;
    Ok(Json(found).into_response())
}

/// A new bookmark.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewBookmarkBody {
    /// 1 to 64 known camera ids, once each.
    #[schema(value_type = Vec<String>)]
    cameras: Vec<CameraId>,
    /// RFC 3339.
    start: String,
    /// RFC 3339, after `start`.
    end: String,
    /// 1 to 120 characters.
    title: String,
    /// At most 2,000 characters.
    #[serde(default)]
    note: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/bookmarks",
    tag = "recordings",
    summary = "Bookmark a moment of the recordings",
    description = "Answers the bookmark with its id and author; emits `bookmark.added`; audited (`bookmark.create`, refusals too); 400 naming what is wrong; 409 past 100,000 bookmarks. Needs the `ViewRecordings` permission.",
    request_body = NewBookmarkBody,
    responses(
        (status = 200, description = "the bookmark placed", body = crate::domain::Bookmark),
        SignedIn,
        BadInput,
        Conflict,
        TooLarge,
    ),
)]
async fn place_bookmark(
    State(st): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewBookmarkBody>,
) -> ApiResult<Response> {
    let target: String = body.title.chars().take(64).collect();
    caller.require_audited(
        &st.core,
        Permission::ViewRecordings,
        super::audit::actions::BOOKMARK_CREATE,
        &target,
    )?;
    let new = super::bookmarks::NewBookmark {
        cameras: body.cameras,
        start: rfc3339("start", &body.start)?,
        end: rfc3339("end", &body.end)?,
        title: body.title,
        note: body.note,
    };
    let core = Arc::clone(&st.core);
    let actor = caller.actor();
    let placed = off_thread("bookmark", move || {
        let now = core.env().clock.now();
        super::bookmarks::place(
            core.config(),
            core.store(),
            core.events(),
            core.audit_trail(),
            &actor,
            new,
            now,
        )
    })
    .await?;
    Ok(Json(placed).into_response())
}

// ---- shared views ----------------------------------------------------------------

#[utoipa::path(
    get,
    path = "/api/v1/views",
    tag = "site",
    summary = "The site's shared camera views",
    description = "Every view a supervisor published, by name. Who published it (`by`) is shown to roles with `SearchEvents`. Needs the `ViewSite` permission.",
    responses(
        (status = 200, description = "the shared views", body = Vec<crate::domain::SharedView>),
        SignedIn,
    ),
)]
async fn shared_views(State(st): State<ApiState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Permission::ViewSite)?;
    let views = st
        .core
        .store()
        .shared_views_async()
        .await
        .map_err(CoreError::from)?;
    let r = caller.redaction();
    let views: Vec<_> = views.into_iter().map(|v| r.shared_view(v)).collect();
    Ok(Json(views).into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/views/{id}",
    tag = "site",
    summary = "Publish a shared view",
    description = "Creates or replaces the view `id` (1 to 64 letters, digits, `-`, `_`, `.`): a name (1 to 64 characters), a layout (`1x1`, `2x2`, `3x3`, `4x4`, `1+5`, `1+7`, `2+8`) and the camera of each tile in order (null for a paged tile; at most the layout's tiles, at most 25). A camera the site does not have answers 400; a new view past 200 answers 409. Emits `view.published`; audited (refusals too). Needs the `PublishViews` permission.",
    params(("id" = String, Path, description = "view id")),
    request_body = crate::domain::SharedViewBody,
    responses(
        (status = 200, description = "the view as stored", body = crate::domain::SharedView),
        SignedIn,
        BadInput,
        Conflict,
        TooLarge,
    ),
)]
async fn publish_view(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<crate::domain::SharedViewBody>,
) -> ApiResult<Response> {
    caller.require_audited(
        &st.core,
        Permission::PublishViews,
        actions::VIEW_PUBLISH,
        &id,
    )?;
    let (core, actor) = (Arc::clone(&st.core), caller.actor());
    let view = tokio::task::spawn_blocking(move || super::views::publish(&core, &actor, &id, body))
        .await
        .map_err(|e| ApiFailure::new(ErrorKind::Internal, format!("views task: {e}")))??;
    Ok(Json(caller.redaction().shared_view(view)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/views/{id}",
    tag = "site",
    summary = "Delete a shared view",
    description = "Emits `view.removed`; audited (refusals too). Needs the `PublishViews` permission.",
    params(("id" = String, Path, description = "view id")),
    responses(
        (status = 204, description = "deleted"),
        SignedIn,
        BadInput,
        NotFound,
    ),
)]
async fn delete_view(
    State(st): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath,
) -> ApiResult<Response> {
    caller.require_audited(
        &st.core,
        Permission::PublishViews,
        actions::VIEW_DELETE,
        &id,
    )?;
    let (core, actor) = (Arc::clone(&st.core), caller.actor());
    tokio::task::spawn_blocking(move || super::views::delete(&core, &actor, &id))
        .await
        .map_err(|e| ApiFailure::new(ErrorKind::Internal, format!("views task: {e}")))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_route_is_documented_once_with_its_guard() {
        let doc: serde_json::Value = serde_json::from_str(openapi_json()).expect("document parses");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let routes = routes();
        let unique: BTreeSet<_> = routes.iter().collect();
        assert_eq!(unique.len(), routes.len(), "a route is listed twice");
        assert!(routes.len() >= 26, "routes went missing: {routes:?}");
        let permissions: Vec<String> = crate::domain::Permission::ALL
            .iter()
            .map(|p| format!("{p:?}"))
            .collect();
        for (m, p) in &routes {
            let op = &doc["paths"][p.as_str()][m.to_lowercase()];
            assert!(op["responses"].is_object(), "{m} {p} has no responses");
            assert!(op["summary"].is_string(), "{m} {p} has no summary");
            let tags: Vec<&str> = op["tags"]
                .as_array()
                .unwrap_or_else(|| panic!("{m} {p} has no tags"))
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            let fault = p.starts_with("/api/v1/fault/");
            assert_eq!(fault, tags.contains(&"fault"), "{m} {p} tags");
            // Open routes declare an empty requirement; the rest inherit bearer.
            let open = fault || p == "/api/v1/auth/sign-in" || p == "/api/v1/openapi.json";
            let declared_open = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            assert_eq!(open, declared_open, "{m} {p} security");
            if !open {
                assert!(op["responses"]["401"].is_object(), "{m} {p} lacks its 401");
            }
            if p.contains("{id}") {
                let params = op["parameters"].as_array();
                assert!(
                    params.is_some_and(|ps| ps
                        .iter()
                        .any(|x| x["name"] == "id" && x["in"] == "path")),
                    "{m} {p} lacks the id parameter"
                );
            }
            // A permission named in the text is one the role matrix knows.
            let text = op["description"].as_str().unwrap_or("");
            if let Some(rest) = text.split("Needs the `").nth(1) {
                let name = rest.split('`').next().unwrap_or("");
                assert!(
                    permissions.iter().any(|p| p == name),
                    "{m} {p} names {name:?}"
                );
            }
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn the_document_describes_the_wire_types() {
        let doc: serde_json::Value = serde_json::from_str(openapi_json()).unwrap();
        let schemas = &doc["components"]["schemas"];
        for name in [
            "Snapshot",
            "Event",
            "EventKind",
            "DoorStatus",
            "ApiError",
            "Session",
        ] {
            assert!(schemas[name].is_object(), "schema {name} missing");
        }
        // Every reference resolves.
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        match (k.as_str(), x.as_str()) {
                            ("$ref", Some(r)) => out.push(r.to_owned()),
                            _ => refs(x, out),
                        }
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 50, "few references: {}", all.len());
        for r in &all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
            assert!(schemas[name].is_object(), "dangling reference {r}");
        }
        // The event types in the document are the ones the code declares.
        let text = schemas["EventKind"].to_string();
        for t in EventKind::TYPES {
            assert!(
                text.contains(&format!("\"{t}\"")),
                "{t} not in the EventKind schema"
            );
        }
    }

    #[test]
    fn times_and_limits_are_checked() {
        assert_eq!(
            parse_time("from", Some("2026-11-22T10:00:00+01:00"))
                .unwrap()
                .unwrap()
                .to_rfc3339(),
            "2026-11-22T09:00:00+00:00"
        );
        assert!(
            parse_time("from", Some("2026-11-22T10:00:00 01:00"))
                .unwrap()
                .is_some()
        );
        let e = parse_time("to", Some("yesterday")).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.error.message.starts_with("to:"));
        assert_eq!(parse_time("from", Some("")).unwrap(), None);
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(Some(5000)).unwrap(), MAX_PAGE);
        assert!(page_size(Some(0)).is_err());
    }
}

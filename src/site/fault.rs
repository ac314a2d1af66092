//! Fault injection for tests and demos: `/api/v1/fault/*`. Answered only
//! when the site runs with `fault_injection`, only to loopback peers and
//! only under a loopback `Host` (`localhost`, `127.0.0.1`, `[::1]`, any
//! port: a page served elsewhere cannot reach them by DNS rebinding); to
//! anyone else these routes do not exist (404). Every call must say
//! `Content-Type: application/json` (400 otherwise), so a browser page
//! cannot send one without a CORS preflight, which the site never grants.
//! No sign-in needed; every call is audited (`fault.inject`, user
//! `fault-injection`, the peer's address).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{CameraId, DoorId, DoorPosition};

use super::api::{
    ApiFailure, ApiJson, ApiPath, ApiState, BadInput, NotFound, Unavailable, peer_ip,
};
use super::audit::{Actor, actions};

/// Longest path id written to the audit trail.
const MAX_AUDITED_ID: usize = 128;

/// The fault routes, each guarded by [`FaultAccess`].
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(controller))
        .routes(routes!(drop_streams))
        .routes(routes!(camera))
        .routes(routes!(flood))
        .routes(routes!(door))
}

/// Lets a request through only with fault injection on, from loopback,
/// under a loopback `Host`; otherwise the route answers as if it did not
/// exist. Then a JSON `Content-Type` is required. Holds the caller, for the
/// audit trail.
pub(crate) struct FaultAccess {
    actor: Actor,
}

impl FromRequestParts<ApiState> for FaultAccess {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, st: &ApiState) -> Result<Self, Self::Rejection> {
        let peer = peer_ip(&parts.extensions);
        let loopback = peer.is_some_and(|a| a.ip().to_canonical().is_loopback());
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        if !(st.fault_injection && loopback && host.is_some_and(is_loopback_host)) {
            return Err(ApiFailure::not_found(format!(
                "no route {} {}",
                parts.method,
                parts.uri.path()
            )));
        }
        if !is_json(&parts.headers) {
            return Err(ApiFailure::invalid(
                "fault injection needs Content-Type: application/json",
            ));
        }
        Ok(FaultAccess {
            actor: Actor {
                username: "fault-injection".into(),
                role: None,
                source: peer.map_or("unknown".into(), |a| a.ip().to_string()),
            },
        })
    }
}

impl FaultAccess {
    /// Audits the call: what it did to what, and how it went.
    fn audit<T>(&self, st: &ApiState, target: &str, result: &Result<T, ApiFailure>) {
        let outcome = match result {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("failed: {}", e.status),
        };
        st.core
            .audit(&self.actor, actions::FAULT_INJECTION, target, &outcome);
    }
}

/// A path id as the audit trail gets it: bounded.
fn audited_id(id: &str) -> String {
    id.chars().take(MAX_AUDITED_ID).collect()
}

/// Whether a `Host` header names loopback: `localhost`, an IPv4 loopback
/// address or `[::1]`, each with or without a port.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6] or [v6]:port
        match rest.split_once(']') {
            Some((v6, tail)) if tail.is_empty() || is_port(tail.strip_prefix(':')) => v6,
            _ => return false,
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) if is_port(Some(port)) => name,
            Some(_) => return false,
            None => host,
        }
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn is_port(p: Option<&str>) -> bool {
    p.is_some_and(|p| p.parse::<u16>().is_ok())
}

/// Whether the request says its body is JSON (`application/json`, any
/// parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Online {
    online: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/fault/controller",
    tag = "fault",
    summary = "Take the door controller offline or back",
    description = "Fault injection: only when the site runs with fault injection, only to loopback peers under a loopback Host (otherwise 404), only with Content-Type: application/json (otherwise 400). No sign-in. Audited.",
    request_body = Online,
    responses(
        (status = 204, description = "done"),
        BadInput,
        NotFound,
    ),
    security(()),
)]
async fn controller(
    access: FaultAccess,
    State(st): State<ApiState>,
    ApiJson(body): ApiJson<Online>,
) -> Result<StatusCode, ApiFailure> {
    let result = st
        .core
        .set_controller_online(body.online)
        .map_err(ApiFailure::from);
    access.audit(&st, &format!("controller:online={}", body.online), &result);
    result?;
    tracing::info!(online = body.online, "fault injection: controller");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/fault/drop-streams",
    tag = "fault",
    summary = "Close every open live stream",
    description = "Fault injection: only when the site runs with fault injection, only to loopback peers under a loopback Host (otherwise 404), only with Content-Type: application/json (otherwise 400). No sign-in. Audited.",
    responses(
        (status = 204, description = "done"),
        BadInput,
        NotFound,
    ),
    security(()),
)]
async fn drop_streams(access: FaultAccess, State(st): State<ApiState>) -> StatusCode {
    tracing::info!("fault injection: dropping every live stream");
    st.core.events().drop_streams();
    access.audit(&st, "drop-streams", &Ok::<(), ApiFailure>(()));
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Stalled {
    stalled: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/fault/cameras/{id}",
    tag = "fault",
    summary = "Stall or release a demo camera",
    description = "Fault injection: only when the site runs with fault injection, only to loopback peers under a loopback Host (otherwise 404), only with Content-Type: application/json (otherwise 400). No sign-in. Audited.",
    params(("id" = String, Path, description = "camera id")),
    request_body = Stalled,
    responses(
        (status = 204, description = "done"),
        BadInput,
        NotFound,
        Unavailable,
    ),
    security(()),
)]
async fn camera(
    access: FaultAccess,
    State(st): State<ApiState>,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<Stalled>,
) -> Result<StatusCode, ApiFailure> {
    let target = format!("camera:{}:stalled={}", audited_id(&id), body.stalled);
    let result = st
        .core
        .cameras()
        .set_stalled(&CameraId::new(id), body.stalled)
        .map_err(ApiFailure::from);
    access.audit(&st, &target, &result);
    result?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Flood {
    rate_per_sec: u32,
    count: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/fault/flood",
    tag = "fault",
    summary = "Append `test.flood` events at a rate, in the background",
    description = "Fault injection: only when the site runs with fault injection, only to loopback peers under a loopback Host (otherwise 404), only with Content-Type: application/json (otherwise 400). No sign-in. Audited.",
    request_body = Flood,
    responses(
        (status = 202, description = "started"),
        BadInput,
        NotFound,
    ),
    security(()),
)]
async fn flood(
    access: FaultAccess,
    State(st): State<ApiState>,
    ApiJson(body): ApiJson<Flood>,
) -> Result<StatusCode, ApiFailure> {
    let result = st
        .core
        .flood(body.rate_per_sec, body.count)
        .map_err(ApiFailure::from);
    let target = format!("flood:{}/s:{}", body.rate_per_sec, body.count);
    access.audit(&st, &target, &result);
    result?;
    tracing::info!(
        rate_per_sec = body.rate_per_sec,
        count = body.count,
        "fault injection: flood"
    );
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Position {
    position: DoorPosition,
}

#[utoipa::path(
    post,
    path = "/api/v1/fault/doors/{id}",
    tag = "fault",
    summary = "Open or close a door leaf on the simulated controller",
    description = "Fault injection: only when the site runs with fault injection, only to loopback peers under a loopback Host (otherwise 404), only with Content-Type: application/json (otherwise 400). No sign-in. Audited.",
    params(("id" = String, Path, description = "door id")),
    request_body = Position,
    responses(
        (status = 204, description = "done"),
        BadInput,
        NotFound,
    ),
    security(()),
)]
async fn door(
    access: FaultAccess,
    State(st): State<ApiState>,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<Position>,
) -> Result<StatusCode, ApiFailure> {
    let target = format!(
        "door:{}:{}",
        audited_id(&id),
        crate::site::store::enum_text(&body.position)
    );
    let result = st
        .core
        .set_door_position(&DoorId::new(id), body.position)
        .map_err(ApiFailure::from);
    access.audit(&st, &target, &result);
    result?;
    Ok(StatusCode::NO_CONTENT)
}

//! Fault injection for tests and demos: `/api/v1/fault/*`. Answered only
//! when the site runs with `fault_injection` and only to loopback peers;
//! to anyone else these routes do not exist (404). No sign-in needed.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{CameraId, DoorId, DoorPosition};

use super::api::{
    ApiFailure, ApiJson, ApiPath, ApiState, BadInput, NotFound, Unavailable, peer_ip,
};

/// The fault routes, each guarded by [`FaultAccess`].
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(controller))
        .routes(routes!(drop_streams))
        .routes(routes!(camera))
        .routes(routes!(flood))
        .routes(routes!(door))
}

/// Lets a request through only with fault injection on and from loopback;
/// otherwise the route answers as if it did not exist.
pub(crate) struct FaultAccess;

impl FromRequestParts<ApiState> for FaultAccess {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, st: &ApiState) -> Result<Self, Self::Rejection> {
        let loopback = peer_ip(&parts.extensions).is_some_and(|a| a.ip().is_loopback());
        if st.fault_injection && loopback {
            Ok(FaultAccess)
        } else {
            Err(ApiFailure::not_found(format!(
                "no route {} {}",
                parts.method,
                parts.uri.path()
            )))
        }
    }
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
    description = "Fault injection: only when the site runs with fault injection and only to loopback peers (otherwise 404). No sign-in.",
    request_body = Online,
    responses(
        (status = 204, description = "done"),
        BadInput,
        NotFound,
    ),
    security(()),
)]
async fn controller(
    _: FaultAccess,
    State(st): State<ApiState>,
    ApiJson(body): ApiJson<Online>,
) -> Result<StatusCode, ApiFailure> {
    st.core.set_controller_online(body.online)?;
    tracing::info!(online = body.online, "fault injection: controller");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/fault/drop-streams",
    tag = "fault",
    summary = "Close every open live stream",
    description = "Fault injection: only when the site runs with fault injection and only to loopback peers (otherwise 404). No sign-in.",
    responses(
        (status = 204, description = "done"),
        NotFound,
    ),
    security(()),
)]
async fn drop_streams(_: FaultAccess, State(st): State<ApiState>) -> StatusCode {
    tracing::info!("fault injection: dropping every live stream");
    st.core.events().drop_streams();
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
    description = "Fault injection: only when the site runs with fault injection and only to loopback peers (otherwise 404). No sign-in.",
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
    _: FaultAccess,
    State(st): State<ApiState>,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<Stalled>,
) -> Result<StatusCode, ApiFailure> {
    st.core
        .cameras()
        .set_stalled(&CameraId::new(id), body.stalled)?;
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
    description = "Fault injection: only when the site runs with fault injection and only to loopback peers (otherwise 404). No sign-in.",
    request_body = Flood,
    responses(
        (status = 202, description = "started"),
        BadInput,
        NotFound,
    ),
    security(()),
)]
async fn flood(
    _: FaultAccess,
    State(st): State<ApiState>,
    ApiJson(body): ApiJson<Flood>,
) -> Result<StatusCode, ApiFailure> {
    st.core.flood(body.rate_per_sec, body.count)?;
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
    description = "Fault injection: only when the site runs with fault injection and only to loopback peers (otherwise 404). No sign-in.",
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
    _: FaultAccess,
    State(st): State<ApiState>,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<Position>,
) -> Result<StatusCode, ApiFailure> {
    st.core.set_door_position(&DoorId::new(id), body.position)?;
    Ok(StatusCode::NO_CONTENT)
}

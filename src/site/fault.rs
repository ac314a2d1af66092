//! Fault injection for tests and demos: `/api/v1/fault/*`. Answered only
//! when the site runs with `fault_injection` and only to loopback peers;
//! to anyone else these routes do not exist (404). No sign-in needed.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;

use crate::domain::{CameraId, DoorId, DoorPosition};

use super::api::{ApiFailure, ApiJson, ApiPath, ApiState, peer_ip};

/// The fault routes, guarded.
pub(crate) fn router(state: ApiState) -> Router<ApiState> {
    Router::new()
        .route("/api/v1/fault/controller", post(controller))
        .route("/api/v1/fault/drop-streams", post(drop_streams))
        .route("/api/v1/fault/cameras/{id}", post(camera))
        .route("/api/v1/fault/flood", post(flood))
        .route("/api/v1/fault/doors/{id}", post(door))
        .route_layer(middleware::from_fn_with_state(state, guard))
}

/// Lets a request through only with fault injection on and from loopback.
async fn guard(State(st): State<ApiState>, req: Request, next: Next) -> Response {
    let loopback = peer_ip(req.extensions()).is_some_and(|a| a.ip().is_loopback());
    if st.fault_injection && loopback {
        next.run(req).await
    } else {
        ApiFailure::not_found(format!("no route {} {}", req.method(), req.uri().path()))
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Online {
    online: bool,
}

async fn controller(
    State(st): State<ApiState>,
    ApiJson(body): ApiJson<Online>,
) -> Result<StatusCode, ApiFailure> {
    st.core.set_controller_online(body.online)?;
    tracing::info!(online = body.online, "fault injection: controller");
    Ok(StatusCode::NO_CONTENT)
}

async fn drop_streams(State(st): State<ApiState>) -> StatusCode {
    tracing::info!("fault injection: dropping every live stream");
    st.core.drop_streams();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stalled {
    stalled: bool,
}

async fn camera(
    State(st): State<ApiState>,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<Stalled>,
) -> Result<StatusCode, ApiFailure> {
    st.core
        .set_camera_stalled(&CameraId::new(id), body.stalled)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Flood {
    rate_per_sec: u32,
    count: u64,
}

async fn flood(
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    position: DoorPosition,
}

async fn door(
    State(st): State<ApiState>,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<Position>,
) -> Result<StatusCode, ApiFailure> {
    st.core.set_door_position(&DoorId::new(id), body.position)?;
    Ok(StatusCode::NO_CONTENT)
}

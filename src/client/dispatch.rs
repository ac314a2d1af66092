//! Door command dispatch: send a command with a fresh idempotency key and
//! retry the POST with the same key after a network error, so a retried
//! request never actuates a door twice. The answer says only whether the
//! site accepted the command; its outcome arrives later as events.

use super::{Client, ClientError, error_chain};
use crate::backoff::{Backoff, Jitter};
use crate::domain::{CommandInfo, DoorAction, DoorCommand, DoorId};

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchOptions {
    /// Tries in all, the first included. Default: 3.
    pub attempts: u32,
    /// Wait before the second try; it doubles each time (the one
    /// [`Backoff`] policy). Default: 300.
    pub retry_delay_ms: u64,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            attempts: 3,
            retry_delay_ms: 300,
        }
    }
}

pub use crate::domain::new_idempotency_key;

/// Sends `action` to `door` with `idempotency_key`, retrying on a network
/// error or a "try again" status with the same key. Ok is the site's
/// acceptance (202, state pending), Err its refusal or the last failure.
pub async fn send_door_command(
    client: &Client,
    door: &DoorId,
    action: DoorAction,
    idempotency_key: &str,
    options: DispatchOptions,
) -> Result<CommandInfo, ClientError> {
    let command = DoorCommand {
        action,
        idempotency_key: idempotency_key.to_owned(),
    };
    let attempts = options.attempts.max(1);
    let backoff = Backoff::new(options.retry_delay_ms, u64::MAX, Jitter::None);
    let mut attempt = 1;
    loop {
        match client.door_command(door, &command).await {
            Ok(info) => {
                tracing::debug!(%door, ?action, command = %info.id, attempt, "door command accepted");
                return Ok(info);
            }
            Err(e) if e.is_transient() && attempt < attempts => {
                let wait = backoff.delay_for(attempt);
                tracing::warn!(
                    %door,
                    ?action,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "door command not delivered, retrying with the same key: {}",
                    error_chain(&e)
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;

    use super::*;
    use crate::client::ClientConfig;
    use crate::domain::{CommandId, CommandState, ErrorKind};

    #[derive(Default)]
    struct Site {
        /// Requests seen: (door, key).
        requests: Vec<(String, String)>,
        /// Commands created, by idempotency key.
        by_key: HashMap<String, CommandInfo>,
        /// Answer this many requests with 503 after recording them.
        fail_next: usize,
        actuations: usize,
    }

    async fn command(
        State(site): State<Arc<Mutex<Site>>>,
        Path(door): Path<String>,
        axum::Json(cmd): axum::Json<DoorCommand>,
    ) -> Response {
        let mut s = site.lock().unwrap();
        s.requests.push((door.clone(), cmd.idempotency_key.clone()));
        let n = s.by_key.len();
        let known = s.by_key.contains_key(&cmd.idempotency_key);
        if !known {
            s.actuations += 1;
        }
        let info = s
            .by_key
            .entry(cmd.idempotency_key.clone())
            .or_insert_with(|| CommandInfo {
                id: CommandId::new(format!("cmd-{n}")),
                door: DoorId::new(door.clone()),
                action: cmd.action,
                state: CommandState::Pending,
                reason: None,
            })
            .clone();
        if door == "door-forbidden" {
            return (
                StatusCode::FORBIDDEN,
                r#"{"kind":"permission_denied","message":"no right"}"#,
            )
                .into_response();
        }
        if s.fail_next > 0 {
            // The site acted but the answer is lost on the way.
            s.fail_next -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "").into_response();
        }
        (StatusCode::ACCEPTED, axum::Json(info)).into_response()
    }

    async fn site(fail_next: usize) -> (Client, Arc<Mutex<Site>>) {
        let state = Arc::new(Mutex::new(Site {
            fail_next,
            ..Default::default()
        }));
        let router = axum::Router::new()
            .route("/api/v1/doors/{id}/commands", post(command))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let client = Client::new(&ClientConfig {
            base_url: format!("http://{addr}"),
            ca_cert: None,
            allow_plain_http: false,
        })
        .unwrap()
        .with_token("tok");
        (client, state)
    }

    fn quick() -> DispatchOptions {
        DispatchOptions {
            attempts: 3,
            retry_delay_ms: 5,
        }
    }

    #[tokio::test]
    async fn retries_reuse_the_key_and_actuate_once() {
        let (client, site) = site(2).await;
        let key = new_idempotency_key();
        let info = send_door_command(
            &client,
            &"door-lab".into(),
            DoorAction::Unlock,
            &key,
            quick(),
        )
        .await
        .unwrap();
        assert_eq!(info.state, CommandState::Pending);
        assert_eq!(info.action, DoorAction::Unlock);
        let s = site.lock().unwrap();
        assert_eq!(s.requests.len(), 3);
        assert!(s.requests.iter().all(|(d, k)| d == "door-lab" && k == &key));
        assert_eq!(s.actuations, 1);
    }

    #[tokio::test]
    async fn gives_up_after_the_last_attempt() {
        let (client, site) = site(5).await;
        let key = new_idempotency_key();
        let err = send_door_command(&client, &"door-lab".into(), DoorAction::Lock, &key, quick())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(site.lock().unwrap().requests.len(), 3);
    }

    #[tokio::test]
    async fn refusal_is_not_retried() {
        let (client, site) = site(0).await;
        let key = new_idempotency_key();
        let err = send_door_command(
            &client,
            &"door-forbidden".into(),
            DoorAction::Lockdown,
            &key,
            quick(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert_eq!(site.lock().unwrap().requests.len(), 1);
    }

    #[test]
    fn keys_are_fresh_uuids() {
        let a = new_idempotency_key();
        let b = new_idempotency_key();
        assert_ne!(a, b);
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}

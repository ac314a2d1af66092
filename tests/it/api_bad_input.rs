#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Bad input gets a 4xx with a clear message, and nothing panics: malformed
//! JSON, wrong types, unknown ids, oversized bodies, bad query values.

use crate::common;

use common::{api_error, start_site};
use serde_json::json;
use watchdesk::domain::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_mistyped_bodies_are_refused_clearly() {
    let site = start_site().await;
    let token = site.token(Role::Operator).await;
    let raw = |path: &str, body: &'static str| {
        site.http
            .post(site.url(path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let (status, kind, message) = api_error(
        raw("/api/v1/auth/sign-in", "{\"username\": \"operator\", ")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, kind.as_str()), (400, "invalid_input"));
    assert!(message.to_lowercase().contains("json"), "{message}");

    let (status, kind, message) = api_error(
        raw(
            "/api/v1/auth/sign-in",
            "{\"username\": 5, \"password\": true}",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, kind.as_str()), (400, "invalid_input"));
    assert!(
        message.contains("username") || message.contains("string"),
        "names what is wrong: {message}"
    );

    let (status, kind, message) = api_error(
        raw(
            "/api/v1/doors/door-lobby/commands",
            "{\"action\": \"explode\", \"idempotency_key\": \"x\"}",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, kind.as_str()), (400, "invalid_input"));
    assert!(
        message.contains("explode") || message.contains("action"),
        "{message}"
    );

    let (status, kind, _) = api_error(
        raw(
            "/api/v1/doors/door-lobby/commands",
            "{\"action\": \"lock\"}",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, kind.as_str()),
        (400, "invalid_input"),
        "a missing idempotency key is refused"
    );

    let r = site
        .http
        .post(site.url("/api/v1/doors/door-lobby/commands"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("{\"action\": \"lock\", \"idempotency_key\": \"wrong-content-type\"}")
        .send()
        .await
        .unwrap();
    let (status, kind, _) = api_error(r).await;
    assert!((400..500).contains(&status), "wrong content type: {status}");
    assert_eq!(kind, "invalid_input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_404_and_say_which() {
    let site = start_site().await;
    let admin = site.token(Role::Admin).await;
    let cases = [
        (
            "POST",
            "/api/v1/doors/door-nowhere/commands",
            "door-nowhere",
        ),
        ("GET", "/api/v1/commands/no-such-command", "no-such-command"),
        ("GET", "/api/v1/cardholders/ch-999", "ch-999"),
        ("GET", "/api/v1/cardholders/ch-999/photo", "ch-999"),
        (
            "GET",
            "/api/v1/cameras/cam-nowhere/still.jpg",
            "cam-nowhere",
        ),
        ("GET", "/api/v1/maps/floor9/image", "floor9"),
        ("POST", "/api/v1/access-requests/req-none/grant", "req-none"),
        ("PUT", "/api/v1/credentials/000000", "000000"),
    ];
    for (method, path, id) in cases {
        let r = match method {
            "GET" => site.get(&admin, path).await,
            "PUT" => site.put(&admin, path, json!({"state": "disabled"})).await,
            _ => {
                site.post(
                    &admin,
                    path,
                    json!({"action": "lock", "idempotency_key": "k"}),
                )
                .await
            }
        };
        let (status, kind, message) = api_error(r).await;
        assert_eq!(
            (status, kind.as_str()),
            (404, "not_found"),
            "{method} {path}"
        );
        assert!(
            message.contains(id),
            "{method} {path}: message {message:?} should name {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let site = start_site().await;
    let token = site.token(Role::Operator).await;
    let big = json!({"action": "lock", "idempotency_key": "x".repeat(200 * 1024)});
    let r = site
        .post(&token, "/api/v1/doors/door-lobby/commands", big)
        .await;
    // The unread rest of the body makes the connection unusable: the answer
    // must say so, or a pooling client's next request dies on it.
    assert_eq!(
        r.headers().get("connection").and_then(|v| v.to_str().ok()),
        Some("close")
    );
    let (status, _, message) = api_error(r).await;
    assert_eq!(status, 413);
    assert!(!message.is_empty());
    // The server still answers afterwards.
    assert_eq!(site.get(&token, "/api/v1/time").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_values_are_400() {
    let site = start_site().await;
    let token = site.token(Role::Investigator).await;
    for q in [
        "from=yesterday",
        "limit=lots",
        "before=-3",
        "limit=0",
        "type=door.exploded",
        "colour=blue",
        "to=2026-13-45T00:00:00Z",
    ] {
        let (status, kind, message) =
            api_error(site.get(&token, &format!("/api/v1/events?{q}")).await).await;
        assert_eq!(
            (status, kind.as_str()),
            (400, "invalid_input"),
            "{q}: {message}"
        );
        assert!(!message.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_takes_the_server_down() {
    let site = start_site().await;
    let token = site.token(Role::Admin).await;
    let bodies: [&[u8]; 6] = [
        b"",
        b"null",
        b"[]",
        b"\xff\xfe\x00",
        b"{\"a\":",
        b"{\"action\":{\"nested\":[1,2,3]},\"idempotency_key\":7}",
    ];
    for path in [
        "/api/v1/auth/sign-in",
        "/api/v1/doors/door-lobby/commands",
        "/api/v1/access-requests/x/deny",
    ] {
        for body in bodies {
            let r = site
                .http
                .post(site.url(path))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.to_vec())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!((400..500).contains(&status), "{path} {body:?}: {status}");
        }
    }
    assert_eq!(site.get(&token, "/api/v1/time").await.status(), 200);
}

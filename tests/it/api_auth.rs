#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Sign-in, sessions, the role matrix as the server enforces it, and the
//! OpenAPI document against the live routes.

use crate::common;

use common::{api_error, start_site, start_site_with};
use serde_json::{Value, json};
use watchdesk::domain::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_session_sign_out() {
    let site = start_site().await;
    let token = site.token(Role::Operator).await;
    assert_eq!(token.len(), 64, "a 32-byte hex token");

    let r = site.get(&token, "/api/v1/auth/session").await;
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["username"], "operator");
    assert_eq!(s["role"], "operator");
    assert_eq!(s["token"], "", "the session call never echoes the token");

    let r = site.post(&token, "/api/v1/auth/sign-out", json!({})).await;
    assert_eq!(r.status(), 204);
    let (status, kind, _) = api_error(site.get(&token, "/api/v1/snapshot").await).await;
    assert_eq!(
        (status, kind.as_str()),
        (401, "unauthenticated"),
        "a revoked token is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_unknown_user_and_no_token_are_refused_alike() {
    let site = start_site().await;
    let mut messages = Vec::new();
    for (user, pw) in [("operator", "wrong"), ("nobody", "demo-operator")] {
        let r = site
            .http
            .post(site.url("/api/v1/auth/sign-in"))
            .json(&json!({"username": user, "password": pw}))
            .send()
            .await
            .unwrap();
        let (status, kind, message) = api_error(r).await;
        assert_eq!((status, kind.as_str()), (401, "unauthenticated"));
        messages.push(message);
    }
    assert_eq!(
        messages[0], messages[1],
        "the answer must not tell whether a user exists"
    );

    let r = site
        .http
        .get(site.url("/api/v1/snapshot"))
        .send()
        .await
        .unwrap();
    let (status, kind, _) = api_error(r).await;
    assert_eq!((status, kind.as_str()), (401, "unauthenticated"));
    let r = site
        .http
        .get(site.url("/api/v1/snapshot"))
        .bearer_auth("0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "an invented token is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire() {
    let site = start_site_with(|c| c.session_ttl_secs = 1).await;
    let token = site.token(Role::Viewer).await;
    let signed_in = std::time::Instant::now();
    assert_eq!(site.get(&token, "/api/v1/snapshot").await.status(), 200);
    // Refused once the TTL is over, not before, and not much later.
    common::eventually(
        "the session ends",
        std::time::Duration::from_secs(5),
        || async { (site.get(&token, "/api/v1/snapshot").await.status() == 401).then_some(()) },
    )
    .await;
    let lived = signed_in.elapsed();
    assert!(
        lived >= std::time::Duration::from_millis(900),
        "ended after {lived:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_in_the_openapi_document_is_served() {
    let site = start_site().await;
    let r = site
        .http
        .get(site.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the OpenAPI document is public");
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3."),
        "an OpenAPI 3 document"
    );
    let paths = doc["paths"].as_object().expect("paths");

    let token = site.token(Role::Admin).await;
    // What the server says for a route it does not have.
    let (status, kind, no_route) =
        api_error(site.get(&token, "/api/v1/definitely-not-a-route").await).await;
    assert_eq!(
        (status, kind.as_str()),
        (404, "not_found"),
        "unknown routes answer ApiError JSON"
    );
    // The mark of an unrouted request (its message names the path, so the
    // loop compares the prefix, not the whole message).
    let no_route = no_route
        .strip_suffix("GET /api/v1/definitely-not-a-route")
        .unwrap_or_else(|| panic!("the unknown route is not named: {no_route:?}"))
        .to_owned();
    assert_eq!(no_route, "no route ");

    let mut routes = 0;
    for (template, ops) in paths {
        let path = template.replace(
            "{id}",
            match template.as_str() {
                t if t.starts_with("/api/v1/doors/") || t.starts_with("/api/v1/fault/doors/") => {
                    "door-lobby"
                }
                t if t.starts_with("/api/v1/cameras/")
                    || t.starts_with("/api/v1/fault/cameras/") =>
                {
                    "cam-lobby"
                }
                t if t.starts_with("/api/v1/cardholders/") => "ch-001",
                t if t.starts_with("/api/v1/credentials/") => "100100",
                t if t.starts_with("/api/v1/maps/") => "floor1",
                _ => "x",
            },
        );
        let path = path.replace("{camera}", "cam-lobby");
        assert!(!path.contains('{'), "unfilled parameter in {template}");
        for method in ops.as_object().expect("operations").keys() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // Signing out would end the token this loop uses.
            let tok = if template.ends_with("/sign-out") {
                site.token(Role::Viewer).await
            } else {
                token.clone()
            };
            let mut req = site.http.request(m, site.url(&path)).bearer_auth(&tok);
            if method != "get" {
                req = req.json(&json!({}));
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(
                status, 405,
                "{method} {template}: method not allowed: documented but not served"
            );
            if status == 404 {
                let v: Value = serde_json::from_str(&body).unwrap_or_default();
                let message = v["message"].as_str().unwrap_or("");
                assert!(
                    !message.starts_with(&no_route),
                    "{method} {template} is documented but not served: {message}"
                );
            }
            routes += 1;
        }
    }
    assert!(routes >= 20, "only {routes} operations documented");
}

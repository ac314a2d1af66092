#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Every route × every role, against the one role matrix: the routes and the
//! permission each needs come from the served OpenAPI document (its
//! "Needs the `X` permission" text and its `security`), the answer a role
//! gets from `watchdesk::domain::allowed`. And the live stream's replay is a
//! search: a role without `SearchEvents` gets live events only.

use crate::common;

use std::time::Duration;

use common::{Sse, TestSite, api_error, start_site, start_site_with};
use serde_json::{Value, json};
use watchdesk::domain::{DoorAction, Permission, Role, allowed};

/// What a route asks of its caller, read from the document.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Guard {
    /// `security: [{}]`: anyone, no token.
    Open,
    /// Bearer, no permission named: any signed-in role.
    SignedIn,
    /// Bearer and this permission of the role matrix.
    Needs(Permission),
}

/// One call of the matrix: a route, the body variant, what it needs and
/// the status an allowed caller gets.
#[derive(Debug, Clone)]
struct Case {
    method: String,
    template: String,
    /// For the door command route: the action sent.
    action: Option<DoorAction>,
    guard: Guard,
    success: u16,
    /// The documented media type of the success answer, if it has a body.
    content_type: Option<String>,
}

fn permission_named(name: &str) -> Permission {
    Permission::ALL
        .into_iter()
        .find(|p| format!("{p:?}") == name)
        .unwrap_or_else(|| panic!("the document names an unknown permission {name:?}"))
}

/// Every (method, path) of the document, with its guard and success status.
fn cases(doc: &Value) -> Vec<Case> {
    let mut out = Vec::new();
    for (template, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let open = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            let text = op["description"].as_str().unwrap_or("");
            let named = text
                .split("Needs the `")
                .nth(1)
                .map(|rest| permission_named(rest.split('`').next().unwrap_or("")));
            let guard = match (open, named) {
                (true, None) => Guard::Open,
                (true, Some(p)) => panic!("{method} {template} is open yet needs {p:?}"),
                (false, None) => Guard::SignedIn,
                (false, Some(p)) => Guard::Needs(p),
            };
            let ok: Vec<u16> = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .filter_map(|k| k.parse::<u16>().ok())
                .filter(|s| (200..300).contains(s))
                .collect();
            assert_eq!(ok.len(), 1, "{method} {template}: one success status");
            let content_type = op["responses"][ok[0].to_string()]["content"]
                .as_object()
                .and_then(|c| c.keys().next().cloned());
            let case = Case {
                method: method.to_uppercase(),
                template: template.clone(),
                action: None,
                guard,
                success: ok[0],
                content_type,
            };
            if template == "/api/v1/doors/{id}/commands" {
                // One route, two permissions: the action decides, as the
                // role matrix says (`Permission::for_door_action`).
                for action in [DoorAction::Lock, DoorAction::Lockdown] {
                    let need = Permission::for_door_action(action);
                    assert!(
                        text.contains(&format!("`{need:?}`")),
                        "{template}: the text does not name {need:?}"
                    );
                    out.push(Case {
                        action: Some(action),
                        guard: Guard::Needs(need),
                        ..case.clone()
                    });
                }
            } else {
                out.push(case);
            }
        }
    }
    out
}

/// Real ids from the demo config, and state made before the matrix runs.
struct Fixture {
    command_id: String,
}

/// Sends one case as `who` (None: no token). Valid bodies and real ids, so
/// an allowed caller gets the route's real answer.
async fn call(
    site: &TestSite,
    fx: &Fixture,
    case: &Case,
    who: Option<Role>,
    token: Option<&str>,
    n: usize,
) -> reqwest::Response {
    let tag = who.map_or("anon".to_owned(), |r| r.to_string());
    let (path, body): (String, Option<Value>) = match (case.method.as_str(), case.template.as_str())
    {
        ("POST", "/api/v1/auth/sign-in") => (
            case.template.clone(),
            Some(json!({"username": "viewer", "password": "demo-viewer"})),
        ),
        ("POST", "/api/v1/auth/sign-out") => (case.template.clone(), Some(json!({}))),
        // Nobody has that name: the matrix's own sessions live on.
        ("POST", "/api/v1/sessions/revoke") => {
            (case.template.clone(), Some(json!({"user": "nobody-here"})))
        }
        ("POST", "/api/v1/doors/{id}/commands") => {
            let (door, action) = match case.action {
                Some(DoorAction::Lockdown) => ("door-lab", "lockdown"),
                _ => ("door-office", "lock"),
            };
            (
                format!("/api/v1/doors/{door}/commands"),
                Some(json!({"action": action, "idempotency_key": format!("roles-{tag}-{n}")})),
            )
        }
        ("GET", "/api/v1/commands/{id}") => (format!("/api/v1/commands/{}", fx.command_id), None),
        ("POST", t) if t.starts_with("/api/v1/access-requests/{id}/") => (
            t.replace("{id}", &site.open_request("door-lobby")),
            Some(json!({"reason": "role matrix"})),
        ),
        ("POST", "/api/v1/cardholders") => (
            case.template.clone(),
            Some(json!({
                "id": format!("ch-roles-{tag}"),
                "name": "Rolf Matrix",
                "department": "Testing",
                "schedule": "all-areas",
                "credentials": [{"id": format!("99{n:04}")}],
            })),
        ),
        ("PUT", "/api/v1/cardholders/{id}") => (
            "/api/v1/cardholders/ch-001".into(),
            Some(json!({"department": "Testing"})),
        ),
        ("PUT", "/api/v1/cardholders/{id}/photo") => {
            ("/api/v1/cardholders/ch-001/photo".into(), None)
        }
        ("GET", t) if t.starts_with("/api/v1/cardholders/{id}") => {
            (t.replace("{id}", "ch-001"), None)
        }
        ("PUT", "/api/v1/credentials/{id}") => (
            "/api/v1/credentials/100100".into(),
            Some(json!({"state": "active"})),
        ),
        ("GET", t) if t.starts_with("/api/v1/cameras/{id}/") => {
            (t.replace("{id}", "cam-lobby"), None)
        }
        ("POST", "/api/v1/bookmarks") => (
            case.template.clone(),
            Some(json!({
                "cameras": ["cam-lobby"],
                "start": "2026-12-01T10:00:00Z",
                "end": "2026-12-01T10:00:30Z",
                "title": "role matrix",
            })),
        ),
        ("POST", "/api/v1/evidence-locks") => (
            case.template.clone(),
            Some(json!({
                "cameras": ["cam-lobby"],
                "start": "2026-12-01T10:00:00Z",
                "end": "2026-12-01T10:05:00Z",
                "reason": "role matrix",
            })),
        ),
        ("GET", "/api/v1/recordings/{camera}") => (
            "/api/v1/recordings/cam-lobby?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z".into(),
            None,
        ),
        ("GET", "/api/v1/recordings/segments/{id}") => {
            ("/api/v1/recordings/segments/1".into(), None)
        }
        ("GET", "/api/v1/maps/{id}/image") => ("/api/v1/maps/floor1/image".into(), None),
        // The test site's maps are a copy: emptying a floor there is fine.
        ("PUT", "/api/v1/maps/{id}/placements") => (
            "/api/v1/maps/floor2/placements".into(),
            Some(json!({"doors": [], "cameras": []})),
        ),
        ("POST", "/api/v1/fault/controller") => {
            (case.template.clone(), Some(json!({"online": true})))
        }
        ("POST", "/api/v1/fault/drop-streams") => (case.template.clone(), Some(json!({}))),
        ("POST", "/api/v1/fault/flood") => (
            case.template.clone(),
            Some(json!({"rate_per_sec": 1000, "count": 1})),
        ),
        ("POST", "/api/v1/fault/doors/{id}") => (
            "/api/v1/fault/doors/door-east".into(),
            Some(json!({"position": "closed"})),
        ),
        ("POST", "/api/v1/fault/cameras/{id}") => (
            "/api/v1/fault/cameras/cam-lobby".into(),
            Some(json!({"stalled": false})),
        ),
        ("PUT", "/api/v1/views/{id}") => (
            format!("/api/v1/views/roles-{tag}-{n}"),
            Some(json!({"name": "Role matrix", "layout": "2x2", "cameras": []})),
        ),
        ("DELETE", "/api/v1/views/{id}") => {
            // A view to delete, where the role may publish one.
            let path = format!("/api/v1/views/roles-del-{tag}-{n}");
            if let Some(t) = token {
                let body = json!({"name": "To delete", "layout": "1x1", "cameras": []});
                site.put(t, &path, body).await;
            }
            (path, None)
        }
        ("DELETE", "/api/v1/evidence-locks/{id}") => {
            // A lock to remove, where the role may place one.
            let mut id = "no-such-lock".to_owned();
            if let Some(t) = token {
                let body = json!({
                    "cameras": ["cam-lobby"],
                    "start": "2026-12-01T10:00:00Z",
                    "end": "2026-12-01T10:05:00Z",
                    "reason": "to remove",
                });
                let r = site.post(t, "/api/v1/evidence-locks", body).await;
                if r.status() == 200 {
                    let v: Value = r.json().await.unwrap();
                    id = v["id"].as_str().unwrap().to_owned();
                }
            }
            (format!("/api/v1/evidence-locks/{id}"), None)
        }
        ("GET", t) if !t.contains('{') => (t.to_owned(), None),
        (m, t) => panic!("{m} {t} is new: give the role matrix test a request for it"),
    };
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut req = site
        .http
        .request(method, site.url(&path))
        .timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    } else if case.method == "PUT" && case.template.ends_with("/photo") {
        // A picture, not JSON: a 2×2 PNG.
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(2, 2))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        req = req.header("content-type", "image/png").body(png);
    }
    req.send().await.unwrap()
}

/// The answer an allowed caller gets where the demo site without cameras
/// cannot give the route's success: (method, template, status, why).
/// Both are past the guard: a refusal there would be 401/403.
const NO_SUCCESS_HERE: &[(&str, &str, u16, &str)] = &[
    (
        "GET",
        "/api/v1/cameras/{id}/still.jpg",
        503,
        "the site runs without demo cameras, so no stills (documented: 503)",
    ),
    (
        "POST",
        "/api/v1/fault/cameras/{id}",
        503,
        "no demo camera runs to stall (documented: 503)",
    ),
    (
        "GET",
        "/api/v1/recordings/segments/{id}",
        404,
        "nothing is recorded without cameras, so no segment 1 (documented: 404)",
    ),
];

/// What an allowed caller gets: the documented success, or the exception.
fn real_status(case: &Case) -> u16 {
    NO_SUCCESS_HERE
        .iter()
        .find(|(m, t, _, _)| *m == case.method && *t == case.template)
        .map_or(case.success, |(_, _, s, _)| *s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_role_as_the_matrix_says() {
    let site = start_site_with(|c| c.request_timeout_secs = 60).await;
    let r = site
        .http
        .get(site.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    let cases = cases(&doc);
    let routes = watchdesk::site::api::routes();
    for (m, p) in &routes {
        assert!(
            cases.iter().any(|c| &c.method == m && &c.template == p),
            "{m} {p} is served but not in the matrix"
        );
    }
    assert_eq!(cases.len(), routes.len() + 1, "the door route counts twice");

    let admin = site.token(Role::Admin).await;
    let r = site
        .post(
            &admin,
            "/api/v1/doors/door-reception/commands",
            json!({"action": "unlock", "idempotency_key": "roles-fixture"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let command_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .expect("command id")
        .to_owned();
    let fx = Fixture { command_id };

    let mut tokens = Vec::new();
    for role in Role::ALL {
        tokens.push((role, site.token(role).await));
    }
    let mut checked = 0;
    let mut n = 0;
    for case in &cases {
        let what = format!(
            "{} {}{}",
            case.method,
            case.template,
            case.action.map(|a| format!(" ({a:?})")).unwrap_or_default()
        );
        // No token.
        n += 1;
        let r = call(&site, &fx, case, None, None, n).await;
        if case.guard == Guard::Open {
            assert_eq!(r.status().as_u16(), real_status(case), "anonymous {what}");
        } else {
            let (status, kind, _) = api_error(r).await;
            assert_eq!((status, kind.as_str()), (401, "unauthenticated"), "{what}");
        }
        checked += 1;
        for (role, token) in &tokens {
            n += 1;
            // Signing out ends the token it uses: a throwaway one.
            let throwaway;
            let token = if case.template.ends_with("/sign-out") {
                throwaway = site.token(*role).await;
                &throwaway
            } else {
                token
            };
            let r = call(&site, &fx, case, Some(*role), Some(token), n).await;
            let may = match case.guard {
                Guard::Open | Guard::SignedIn => true,
                Guard::Needs(p) => allowed(*role, p),
            };
            if may {
                let want = real_status(case);
                let status = r.status().as_u16();
                if let (true, Some(ct)) = (status == case.success, &case.content_type) {
                    let got = r
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    // The type, not the subtype: photos and maps are
                    // documented as one image type and may be the other.
                    let top = ct.split('/').next().unwrap_or("");
                    assert!(
                        got.starts_with(&format!("{top}/")),
                        "{role} on {what}: {got}, documented {ct}"
                    );
                }
                let body = if status == want {
                    String::new()
                } else {
                    r.text().await.unwrap_or_default()
                };
                assert_eq!(status, want, "{role} on {what}: {body}");
            } else {
                let (status, kind, message) = api_error(r).await;
                assert_eq!(
                    (status, kind.as_str()),
                    (403, "permission_denied"),
                    "{role} on {what}: {message}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len() * (Role::ALL.len() + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_gets_no_replay_from_the_stream_an_operator_does() {
    let site = start_site().await;
    let viewer = site.token(Role::Viewer).await;
    let operator = site.token(Role::Operator).await;
    site.fault("flood", json!({"rate_per_sec": 1000, "count": 20}))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while site.events(&operator, "type=test.flood").await.len() < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flood did not land"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let head = site.handle.last_seq();
    assert!(head >= 20, "events exist before the streams open");

    // A viewer asks for everything, by header and by query: live only.
    let mut by_header = Sse::open(&site, &viewer, "", Some("0")).await;
    let mut by_query = Sse::open(&site, &viewer, "?after=0", None).await;
    // A malformed id is still refused, as for every role.
    let r = site
        .http
        .get(site.url("/api/v1/events/stream"))
        .bearer_auth(&viewer)
        .header("Last-Event-ID", "zero")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(r).await.0, 400);
    // An operator with the same header gets the history.
    let mut op = Sse::open(&site, &operator, "", Some("0")).await;

    // A new event after the streams opened.
    site.fault("doors/door-east", json!({"position": "open"}))
        .await;
    let (first, _) = by_header.next().await;
    assert!(
        first > head,
        "a viewer's Last-Event-ID: 0 replayed event {first} (head was {head})"
    );
    let (first_q, _) = by_query.next().await;
    assert!(
        first_q > head,
        "a viewer's ?after=0 replayed event {first_q} (head was {head})"
    );
    let mut seen = Vec::new();
    while seen.last().is_none_or(|&s| s <= head) {
        seen.push(op.next().await.0);
    }
    assert_eq!(
        seen,
        (1..=head + 1).collect::<Vec<_>>(),
        "the operator's replay then the new event"
    );
    assert_eq!(first, head + 1);
    assert_eq!(first_q, head + 1);
}

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Keys and sessions, transport (issue 8): idempotency keys per user (a
//! client cannot pre-claim the key of a grant), admin revocation (audited,
//! the live stream ends), fault routes (JSON only, loopback `Host` only,
//! audited), and off loopback: plain HTTP needs the flag, demo users are
//! refused, fault routes do not exist.

use crate::common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::{api_error, start_site_with, test_config};
use futures_util::StreamExt;
use serde_json::{Value, json};
use watchdesk::domain::Role;
use watchdesk::site::audit::AuditQuery;
use watchdesk::site::{SiteError, SiteOptions};

fn short_access(c: &mut watchdesk::config::SiteConfig) {
    for d in &mut c.doors {
        d.access_time_ms = 400;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_pre_claim_the_key_of_a_grant() {
    let site = start_site_with(short_access).await;
    let op = site.token(Role::Operator).await;
    let id = site.open_request("door-lobby");
    // The operator claims the key the grant will use, for another action.
    let key = format!("access-request:{id}");
    let r = site
        .post(
            &op,
            "/api/v1/doors/door-lobby/commands",
            json!({"action": "lock", "idempotency_key": key}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let claimed = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    site.wait_event(
        &op,
        "door=door-lobby&type=command.completed",
        Duration::from_secs(3),
        |e| e["command"] == claimed.as_str(),
    )
    .await;

    let r = site
        .post(
            &op,
            &format!("/api/v1/access-requests/{id}/grant"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let resolved = site
        .wait_event(
            &op,
            "door=door-lobby&type=access_request.resolved",
            Duration::from_secs(3),
            |e| e["request"] == id.as_str(),
        )
        .await;
    // The grant opens the door all the same: its own command, under the
    // site's key.
    let access = site
        .wait_event(
            &op,
            "door=door-lobby&type=command.completed",
            Duration::from_secs(3),
            |e| e["action"] == "access" && e["seq"].as_u64() > resolved["seq"].as_u64(),
        )
        .await;
    assert_ne!(access["command"], claimed.as_str());
    site.wait_event(
        &op,
        "door=door-lobby&type=door.state_changed",
        Duration::from_secs(3),
        |e| e["status"]["mode"] == "accessed" && e["seq"].as_u64() > resolved["seq"].as_u64(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_of_two_users_is_two_commands_and_a_repeat_is_the_first() {
    let site = start_site_with(|_| {}).await;
    let op = site.token(Role::Operator).await;
    let sup = site.token(Role::Supervisor).await;
    let send = |token: String| {
        let site = &site;
        async move {
            let r = site
                .post(
                    &token,
                    "/api/v1/doors/door-office/commands",
                    json!({"action": "unlock", "idempotency_key": "shared-key"}),
                )
                .await;
            assert_eq!(r.status(), 202);
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let a = send(op.clone()).await;
    let a_again = send(op.clone()).await;
    let b = send(sup.clone()).await;
    assert_eq!(
        a, a_again,
        "a repeat of one user's key is the first command"
    );
    assert_ne!(a, b, "another user's same key is a command of its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revokes_sessions_audited_and_a_live_stream_ends() {
    let site = start_site_with(|_| {}).await;
    let admin = site.token(Role::Admin).await;
    let op = site.token(Role::Operator).await;
    let op2 = site.token(Role::Operator).await;
    let viewer = site.token(Role::Viewer).await;
    let sup = site.token(Role::Supervisor).await;

    // Only an admin may; a refusal is audited.
    let (status, kind, _) = api_error(
        site.post(&sup, "/api/v1/sessions/revoke", json!({"all": true}))
            .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (403, "permission_denied"));
    // Neither or both: a 400.
    for body in [
        json!({}),
        json!({"all": false}),
        json!({"user": "operator", "all": true}),
        json!({"user": ""}),
    ] {
        let r = site
            .post(&admin, "/api/v1/sessions/revoke", body.clone())
            .await;
        assert_eq!(r.status(), 400, "{body}");
    }

    // The operator's live stream is open.
    let stream = site
        .http
        .get(site.url("/api/v1/events/stream"))
        .bearer_auth(&op)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut body = stream.bytes_stream();

    let r = site
        .post(
            &admin,
            "/api/v1/sessions/revoke",
            json!({"user": "operator"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["revoked"], 2);
    for t in [&op, &op2] {
        let (status, kind, _) = api_error(site.get(t, "/api/v1/snapshot").await).await;
        assert_eq!((status, kind.as_str()), (401, "unauthenticated"));
    }
    assert_eq!(site.get(&viewer, "/api/v1/snapshot").await.status(), 200);
    // The stream ends: at once on the revocation (else at its 5 s re-check).
    let ended = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the revoked session's live stream is still open"
    );

    // Everyone's, but the admin's own session stays.
    let admin2 = site.token(Role::Admin).await;
    let r = site
        .post(&admin, "/api/v1/sessions/revoke", json!({"all": true}))
        .await;
    assert_eq!(r.status(), 200);
    // viewer, supervisor and the admin's second session.
    assert_eq!(r.json::<Value>().await.unwrap()["revoked"], 3);
    for t in [&viewer, &sup, &admin2] {
        assert_eq!(site.get(t, "/api/v1/snapshot").await.status(), 401);
    }
    assert_eq!(site.get(&admin, "/api/v1/snapshot").await.status(), 200);

    let rows = site.audit(&admin, "action=session.revoke").await;
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .rev()
        .map(|e| {
            (
                e["user"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("supervisor", "all", "denied"),
            ("admin", "user:operator", "ok: 2 revoked"),
            ("admin", "all", "ok: 3 revoked"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_routes_need_json_and_a_loopback_host_and_are_audited() {
    let site = start_site_with(|_| {}).await;
    let url = site.url("/api/v1/fault/controller");
    let body = r#"{"online": true}"#;
    // No Content-Type (what a browser page may send without asking): 400.
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = site.http.post(&url).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let (status, kind, _) = api_error(req.send().await.unwrap()).await;
        assert_eq!((status, kind.as_str()), (400, "invalid_input"), "{ct:?}");
    }
    // A Host that is not loopback (DNS rebinding): the route does not exist.
    for host in [
        "evil.example",
        "evil.example:80",
        "192.0.2.1",
        "127.0.0.1.evil.example",
    ] {
        let r = site
            .http
            .post(&url)
            .header("host", host)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, kind, _) = api_error(r).await;
        assert_eq!((status, kind.as_str()), (404, "not_found"), "{host}");
    }
    // Loopback names, any port, JSON: served, and audited.
    let port = site.handle.addr().port();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "[::1]".to_owned(),
        "LocalHost".to_owned(),
    ] {
        let r = site
            .http
            .post(&url)
            .header("host", &host)
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{host}");
    }
    let r = site
        .http
        .post(site.url("/api/v1/fault/doors/no-such-door"))
        .json(&json!({"position": "open"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let admin = site.token(Role::Admin).await;
    let rows = site.audit(&admin, "action=fault.inject").await;
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(
        rows.iter()
            .all(|e| e["user"] == "fault-injection" && e["source"] == "127.0.0.1")
    );
    assert_eq!(rows[0]["target"], "door:no-such-door:open");
    assert!(rows[0]["outcome"].as_str().unwrap().starts_with("failed"));
    assert!(
        rows[1..]
            .iter()
            .all(|e| e["target"] == "controller:online=true" && e["outcome"] == "ok")
    );
}

/// An address of this machine that is not loopback, if it has one: the
/// source address of a route out (a UDP "connection" sends nothing).
fn non_loopback_ip() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

async fn start_on(
    ip: IpAddr,
    allow: bool,
    dir: &std::path::Path,
) -> Result<watchdesk::site::SiteHandle, SiteError> {
    let mut config = test_config();
    config.allow_plain_http = allow;
    watchdesk::site::start(SiteOptions {
        config,
        listen: SocketAddr::new(ip, 0),
        data_dir: dir.to_owned(),
        fault_injection: true,
        tls: None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_plain_http_needs_the_flag_demo_users_and_faults_are_refused() {
    // Plain HTTP on every address: refused with the flag named.
    let dir = tempfile::tempdir().unwrap();
    let unspecified: IpAddr = "0.0.0.0".parse().unwrap();
    let err = start_on(unspecified, false, dir.path())
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        matches!(err, SiteError::Invalid(_)) && text.contains("--allow-plain-http"),
        "{text}"
    );

    let Some(ip) = non_loopback_ip() else {
        eprintln!("SKIPPED the off-loopback half: this machine has no address but loopback");
        return;
    };
    let err = start_on(ip, false, dir.path())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("allow_plain_http = true"), "{err}");

    let handle = start_on(ip, true, dir.path())
        .await
        .expect("starts with the flag");
    let base = handle.base_url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap();
    let sign_in = |user: &str, password: &str| {
        let req = http
            .post(format!("{base}/api/v1/auth/sign-in"))
            .json(&json!({"username": user, "password": password}));
        async move { api_error(req.send().await.unwrap()).await }
    };
    // A demo user with the right password gets what a wrong password gets.
    let wrong = sign_in("viewer", "not-the-password").await;
    let demo = sign_in("admin", "demo-admin").await;
    assert_eq!((demo.0, demo.1.as_str()), (401, "unauthenticated"));
    assert_eq!((demo.0, &demo.1, &demo.2), (wrong.0, &wrong.1, &wrong.2));
    // Fault routes do not exist for a peer that is not loopback.
    let r = http
        .post(format!("{base}/api/v1/fault/controller"))
        .json(&json!({"online": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let page = handle
        .core()
        .audit_trail()
        .search(&AuditQuery {
            action: Some("session.sign_in".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    let demo_row = page
        .items
        .iter()
        .find(|e| e.user == "admin")
        .expect("the refused demo sign-in is audited");
    assert_eq!(demo_row.source, ip.to_string());
    assert!(
        demo_row.outcome.starts_with("denied") && demo_row.outcome.contains("demo user"),
        "{}",
        demo_row.outcome
    );
    assert!(
        handle
            .core()
            .audit_trail()
            .search(&AuditQuery {
                action: Some("fault.inject".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .items
            .is_empty(),
        "a refused fault call changes nothing"
    );
}

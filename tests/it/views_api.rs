#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Shared views on the site: `GET /views` for every role, `PUT` and
//! `DELETE /views/{id}` for the roles that may publish, audited, each
//! change announced on the live stream.

use crate::common;

use common::{Sse, api_error, start_site};
use serde_json::{Value, json};
use watchdesk::domain::Role;

fn lobby() -> Value {
    json!({"name": "  Lobby and gate ", "layout": "2x2", "cameras": ["cam-lobby", null]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_publishes_and_deletes_a_view_every_role_reads_it() {
    let site = start_site().await;
    let sup = site.token(Role::Supervisor).await;
    let op = site.token(Role::Operator).await;
    let viewer = site.token(Role::Viewer).await;
    let mut live = Sse::open(&site, &op, "", None).await;

    let r = site.put(&sup, "/api/v1/views/lobby", lobby()).await;
    assert_eq!(r.status(), 200);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["name"], "Lobby and gate", "trimmed");
    assert_eq!(stored["by"], "supervisor");
    // Every connected client hears of it.
    let e = loop {
        let e = live.next_event().await;
        if e.name == "view.published" {
            break e;
        }
    };
    assert_eq!(e.data["view"], "lobby", "{}", e.data);
    assert_eq!(e.data["name"], "Lobby and gate");

    // Every role reads it; who published it only where the matrix lets.
    for (token, by) in [(&op, "supervisor"), (&viewer, watchdesk::domain::REDACTED)] {
        let list: Value = site.get(token, "/api/v1/views").await.json().await.unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["cameras"], json!(["cam-lobby", null]));
        assert_eq!(list[0]["by"], by);
    }
    let audit = site.audit(&sup, "action=view.publish").await;
    assert!(
        audit
            .iter()
            .any(|a| a["target"] == "lobby" && a["user"] == "supervisor"),
        "{audit:#?}"
    );

    // Replace, then delete.
    let mut body = lobby();
    body["layout"] = json!("1+5");
    assert_eq!(
        site.put(&sup, "/api/v1/views/lobby", body).await.status(),
        200
    );
    let list: Value = site.get(&op, "/api/v1/views").await.json().await.unwrap();
    assert_eq!(list[0]["layout"], "1+5");
    let r = site
        .http
        .delete(site.url("/api/v1/views/lobby"))
        .bearer_auth(&sup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let e = loop {
        let e = live.next_event().await;
        if e.name == "view.removed" {
            break e;
        }
    };
    assert_eq!(e.data["view"], "lobby");
    let list: Value = site.get(&op, "/api/v1/views").await.json().await.unwrap();
    assert_eq!(list, json!([]));
    assert!(!site.audit(&sup, "action=view.delete").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_may_not_publish_and_bad_views_are_refused() {
    let site = start_site().await;
    let sup = site.token(Role::Supervisor).await;
    let op = site.token(Role::Operator).await;

    let r = site.put(&op, "/api/v1/views/lobby", lobby()).await;
    assert_eq!(api_error(r).await.0, 403);
    let refused = site.audit(&sup, "action=view.publish").await;
    assert!(
        refused
            .iter()
            .any(|a| a["user"] == "operator" && a["outcome"] == "denied"),
        "the refusal is audited: {refused:#?}"
    );
    let r = site
        .http
        .delete(site.url("/api/v1/views/lobby"))
        .bearer_auth(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    for (id, body, why) in [
        (
            "lobby",
            json!({"name": "x", "layout": "2x2", "cameras": ["cam-nowhere"]}),
            "cam-nowhere",
        ),
        (
            "lobby",
            json!({"name": "x", "layout": "5x5", "cameras": []}),
            "layout",
        ),
        (
            "lobby",
            json!({"name": "  ", "layout": "2x2", "cameras": []}),
            "name",
        ),
        (
            "lobby",
            json!({"name": "x".repeat(65), "layout": "2x2", "cameras": []}),
            "name",
        ),
        (
            "lobby",
            json!({"name": "x", "layout": "2x2", "cameras": [null, null, null, null, null]}),
            "cameras",
        ),
        (
            "a%20b",
            json!({"name": "x", "layout": "2x2", "cameras": []}),
            "id",
        ),
    ] {
        let r = site.put(&sup, &format!("/api/v1/views/{id}"), body).await;
        let (status, _, message) = api_error(r).await;
        assert_eq!(status, 400, "{message}");
        assert!(message.contains(why), "{message} names {why}");
    }
    let list: Value = site.get(&op, "/api/v1/views").await.json().await.unwrap();
    assert_eq!(list, json!([]), "nothing stored");

    // At most 200 views.
    for n in 0..watchdesk::domain::MAX_SHARED_VIEWS {
        let body = json!({"name": format!("v{n}"), "layout": "1x1", "cameras": []});
        let r = site.put(&sup, &format!("/api/v1/views/v{n}"), body).await;
        assert_eq!(r.status(), 200);
    }
    let body = json!({"name": "one more", "layout": "1x1", "cameras": []});
    let r = site.put(&sup, "/api/v1/views/more", body.clone()).await;
    assert_eq!(api_error(r).await.0, 409);
    // Replacing one is still fine.
    let r = site.put(&sup, "/api/v1/views/v0", body).await;
    assert_eq!(r.status(), 200);
}

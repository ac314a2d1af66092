#![allow(clippy::unwrap_used, reason = "test helpers")]
//! People over the API: creating and editing cardholders, role-checked,
//! audited and logged, against the real server.

use crate::common;

use std::time::Duration;

use common::{api_error, start_site};
use serde_json::{Value, json};
use watchdesk::domain::{AccessPointId, CredentialId, Role};

async fn audit_outcomes(
    site: &common::TestSite,
    token: &str,
    action: &str,
) -> Vec<(String, String)> {
    let r = site
        .get(token, &format!("/api/v1/audit?action={action}&limit=100"))
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    // A change is audited `pending`, then completed by `entry N: OUTCOME`:
    // the outcomes, without the pending entries.
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] != "pending")
        .map(|a| {
            let outcome = a["outcome"].as_str().unwrap_or_default();
            let outcome = outcome
                .strip_prefix("entry ")
                .and_then(|rest| rest.split_once(": "))
                .map_or(outcome, |(_, o)| o);
            (
                a["user"].as_str().unwrap_or_default().to_owned(),
                outcome.to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_creates_and_edits_a_cardholder_others_are_refused() {
    let site = start_site().await;
    let supervisor = site.token(Role::Supervisor).await;
    let new = json!({
        "id": "ch-e2e",
        "name": "Edie Endtoend",
        "department": "Testing",
        "schedule": "all-areas",
        "credentials": [{"id": "900100"}],
    });

    // Not signed in: 401; operator and viewer: 403, audited.
    let r = site
        .http
        .post(site.url("/api/v1/cardholders"))
        .json(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(r).await.0, 401);
    let r = site
        .http
        .put(site.url("/api/v1/cardholders/ch-001"))
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(r).await.0, 401);
    for role in [Role::Operator, Role::Viewer] {
        let token = site.token(role).await;
        let (status, kind, _) =
            api_error(site.post(&token, "/api/v1/cardholders", new.clone()).await).await;
        assert_eq!(
            (status, kind.as_str()),
            (403, "permission_denied"),
            "{role}"
        );
        let r = site
            .put(&token, "/api/v1/cardholders/ch-001", json!({"name": "X"}))
            .await;
        assert_eq!(api_error(r).await.0, 403, "{role}");
    }

    // The supervisor creates: 201, and it is listed.
    let r = site
        .post(&supervisor, "/api/v1/cardholders", new.clone())
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["name"], "Edie Endtoend");
    assert_eq!(created["credentials"][0]["state"], "active");
    let listed: Value = site
        .get(&supervisor, "/api/v1/cardholders?q=endtoend")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], "ch-e2e");
    let ap = AccessPointId::new("ap-server-in");
    let badge = CredentialId::new("900100");
    assert!(site.handle.core().present_credential_now(&ap, &badge));

    // Refused input: a 400 naming the field, 409 for what is taken.
    let r = site
        .post(&supervisor, "/api/v1/cardholders", new.clone())
        .await;
    assert_eq!(api_error(r).await.0, 409, "the id is taken");
    let mut thief = new.clone();
    thief["id"] = json!("ch-thief");
    thief["credentials"] = json!([{"id": "100107"}]);
    let (status, _, message) =
        api_error(site.post(&supervisor, "/api/v1/cardholders", thief).await).await;
    assert_eq!(status, 409, "{message}");
    assert!(
        message.contains("100107") && message.contains("ch-002"),
        "{message}"
    );
    for (body, field) in [
        (json!({"name": " "}), "name"),
        (json!({"schedule": "nowhere"}), "schedule"),
        (json!({"credentials": [{"id": ""}]}), "credentials[0].id"),
    ] {
        let (status, kind, message) = api_error(
            site.put(&supervisor, "/api/v1/cardholders/ch-e2e", body)
                .await,
        )
        .await;
        assert_eq!((status, kind.as_str()), (400, "invalid_input"), "{message}");
        assert!(message.starts_with(&format!("{field}:")), "{message}");
    }
    let r = site
        .put(
            &supervisor,
            "/api/v1/cardholders/ch-none",
            json!({"name": "X"}),
        )
        .await;
    assert_eq!(api_error(r).await.0, 404);

    // The supervisor edits: 200, visible, and the next decision follows.
    let r = site
        .put(
            &supervisor,
            "/api/v1/cardholders/ch-e2e",
            json!({"name": "Edie Edited", "schedule": "office",
                   "credentials": [{"id": "900100", "state": "disabled"}, {"id": "900101"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["department"], "Testing", "a field left out is kept");
    let one: Value = site
        .get(&supervisor, "/api/v1/cardholders/ch-e2e")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "Edie Edited");
    assert_eq!(one["credentials"].as_array().unwrap().len(), 2);
    assert!(!site.handle.core().present_credential_now(&ap, &badge));

    // In the event log (waited for under a deadline) ...
    let changes = |e: &Value| e["type"] == "cardholder.changed" && e["cardholder"] == "ch-e2e";
    site.wait_event(
        &supervisor,
        "type=cardholder.changed&cardholder=ch-e2e",
        Duration::from_secs(5),
        changes,
    )
    .await;
    let logged = site
        .events(&supervisor, "type=cardholder.changed&cardholder=ch-e2e")
        .await;
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert!(logged.iter().all(|e| e["by"] == "supervisor"), "{logged:?}");

    // ... and in the audit trail, refusals included.
    let creates = audit_outcomes(&site, &supervisor, "cardholder.create").await;
    let ok = |who: &str| {
        creates
            .iter()
            .filter(|(u, o)| u == who && o == "ok")
            .count()
    };
    assert_eq!(ok("supervisor"), 1, "{creates:?}");
    for who in ["operator", "viewer"] {
        assert!(
            creates.iter().any(|(u, o)| u == who && o == "denied"),
            "{creates:?}"
        );
    }
    assert!(
        creates
            .iter()
            .any(|(u, o)| u == "supervisor" && o.starts_with("failed: ")),
        "{creates:?}"
    );
    let updates = audit_outcomes(&site, &supervisor, "cardholder.update").await;
    assert_eq!(
        updates
            .iter()
            .filter(|(u, o)| u == "supervisor" && o == "ok")
            .count(),
        1,
        "{updates:?}"
    );
    assert_eq!(
        updates.iter().filter(|(_, o)| o == "denied").count(),
        2,
        "{updates:?}"
    );
}

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! People and users reach only the roles that may see them
//! (`domain::Redaction`): a viewer's live stream, snapshot and open
//! requests carry no cardholder, badge, visitor or user name; an operator's
//! carry them all.

use serde_json::Value;
use watchdesk::domain::{AccessPointId, CredentialId, DoorId, REDACTED, Role};

use crate::common::{self, Sse};

const VISITOR: &str = "Pat Visitor";
const BADGE: &str = "100100";

/// Reads the stream until an event whose type `pick` takes.
async fn until(sse: &mut Sse, pick: impl Fn(&str) -> bool) -> Value {
    loop {
        let e = sse.next_event().await;
        if pick(&e.name) {
            return e.data;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_no_names_or_badges_an_operator_does() {
    let site = common::start_site().await;
    let viewer = site.token(Role::Viewer).await;
    let operator = site.token(Role::Operator).await;
    let mut v = Sse::open(&site, &viewer, "", None).await;
    let mut o = Sse::open(&site, &operator, "", None).await;

    // A known badge at a reader (granted in office hours, denied outside
    // them: either names the badge), then a visitor asking at a door.
    let core = site.handle.core();
    core.present_credential_now(
        &AccessPointId::new("ap-lobby-in"),
        &CredentialId::new(BADGE),
    );
    let request = core
        .open_request(
            &DoorId::new("door-lobby"),
            None,
            Some(CredentialId::new(BADGE)),
            "visitor".into(),
            Some(VISITOR.into()),
        )
        .unwrap();

    for kind in ["access.", "access_request.opened"] {
        let pick = |name: &str| name.starts_with(kind);
        let seen_by_operator = until(&mut o, pick).await.to_string();
        let seen_by_viewer = until(&mut v, pick).await.to_string();
        assert!(seen_by_operator.contains(BADGE), "{seen_by_operator}");
        assert!(!seen_by_viewer.contains(BADGE), "{seen_by_viewer}");
        assert!(
            !seen_by_viewer.contains("ch-"),
            "a cardholder id: {seen_by_viewer}"
        );
        if kind == "access_request.opened" {
            assert!(seen_by_operator.contains(VISITOR));
            assert!(!seen_by_viewer.contains(VISITOR), "{seen_by_viewer}");
        }
    }

    // The operator answers: the viewer sees the outcome, not who gave it.
    let r = site
        .post(
            &operator,
            &format!("/api/v1/access-requests/{}/deny", request.id),
            serde_json::json!({"reason": "Pat is not expected"}),
        )
        .await;
    assert!(r.status().is_success(), "deny: {}", r.status());
    let by_operator = until(&mut o, |n| n == "access_request.resolved").await;
    let by_viewer = until(&mut v, |n| n == "access_request.resolved").await;
    assert_eq!(by_operator["by"], "operator");
    assert_eq!(by_viewer["outcome"], by_operator["outcome"]);
    assert_eq!(by_viewer["by"], REDACTED);
    assert!(by_viewer["reason"].is_null(), "{by_viewer}");

    // The snapshot and the open-request list read the same way.
    let second = core
        .open_request(
            &DoorId::new("door-dock"),
            None,
            None,
            "visitor".into(),
            Some(VISITOR.into()),
        )
        .unwrap();
    for (token, shows) in [(&viewer, false), (&operator, true)] {
        let snap = site
            .get(token, "/api/v1/snapshot")
            .await
            .text()
            .await
            .unwrap();
        let list = site
            .get(token, "/api/v1/access-requests")
            .await
            .text()
            .await
            .unwrap();
        for body in [snap, list] {
            assert!(body.contains(second.id.as_str()), "the request is listed");
            assert_eq!(body.contains(VISITOR), shows, "{body}");
        }
    }
}

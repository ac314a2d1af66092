#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The map editor's route, `PUT /api/v1/maps/{id}/placements`, against the
//! real server over a copy of the demo maps (never the repository's):
//! role-checked, checked, audited, `map.changed`, the file rewritten so it
//! reads back as the hand-written ones do, and a folder that cannot be
//! written answers 503 and changes nothing.

use crate::common;

use std::time::Duration;

use common::{api_error, start_site};
use serde_json::{Value, json};
use watchdesk::domain::{MapId, Role};

/// floor1's placements as the site serves them, as a request body.
async fn placements(site: &common::TestSite, token: &str) -> Value {
    let snap: Value = site
        .get(token, "/api/v1/snapshot")
        .await
        .json()
        .await
        .unwrap();
    let map = snap["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "floor1")
        .unwrap()
        .clone();
    json!({"doors": map["doors"], "cameras": map["cameras"]})
}

fn lobby_at(body: &Value) -> (f64, f64) {
    let d = body["doors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "door-lobby")
        .unwrap();
    (d["x"].as_f64().unwrap(), d["y"].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_places_a_door_others_are_refused_and_the_file_reads_back() {
    let site = start_site().await;
    let admin = site.token(Role::Admin).await;
    let path = "/api/v1/maps/floor1/placements";
    let mut body = placements(&site, &admin).await;
    body["doors"][0] = json!({"id": "door-lobby", "x": 333.5, "y": 444.25});
    body["cameras"][0]["direction_deg"] = json!(-90.0);

    for role in [Role::Operator, Role::Supervisor, Role::Viewer] {
        let token = site.token(role).await;
        let r = site.put(&token, path, body.clone()).await;
        assert_eq!(r.status(), 403, "{role}");
    }
    assert_eq!(lobby_at(&placements(&site, &admin).await), (280.0, 760.0));

    // Bad input: 400 naming what is wrong; an unknown map 404.
    let mut unknown = body.clone();
    unknown["doors"][0]["id"] = json!("door-nowhere");
    let mut outside = body.clone();
    outside["doors"][0]["x"] = json!(1200.5);
    let mut twice = body.clone();
    twice["doors"][1] = body["doors"][0].clone();
    let mut fov = body.clone();
    fov["cameras"][0]["fov_deg"] = json!(0.5);
    for (bad, want) in [
        (unknown, "door-nowhere"),
        (outside, "outside the plan"),
        (twice, "twice"),
        (fov, "fov_deg"),
    ] {
        let r = site.put(&admin, path, bad).await;
        assert_eq!(r.status(), 400);
        let (_, _, message) = api_error(r).await;
        assert!(message.contains(want), "{message} lacks {want}");
    }
    let r = site
        .put(&admin, "/api/v1/maps/floor9/placements", body.clone())
        .await;
    assert_eq!(r.status(), 404);

    let r = site.put(&admin, path, body.clone()).await;
    assert_eq!(r.status(), 200);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["cameras"][0]["direction_deg"], json!(270.0));
    assert_eq!(lobby_at(&placements(&site, &admin).await), (333.5, 444.25));

    // `map.changed`, by the admin.
    let changed = site
        .wait_event(&admin, "type=map.changed", Duration::from_secs(2), |e| {
            e["map"] == "floor1"
        })
        .await;
    assert_eq!(changed["by"], "admin");

    // Audited: the refusals and the change.
    let r = site
        .get(&admin, "/api/v1/audit?action=map.edit&limit=100")
        .await;
    let page: Value = r.json().await.unwrap();
    let outcomes: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {}", a["user"], a["outcome"]))
        .collect();
    for want in [
        "operator\" \"denied",
        "supervisor\" \"denied",
        "admin\" \"pending",
    ] {
        assert!(
            outcomes.iter().any(|o| o.contains(want)),
            "{want}: {outcomes:?}"
        );
    }
    assert!(
        outcomes
            .iter()
            .any(|o| o.starts_with("\"admin\"") && o.ends_with(": ok\"")),
        "{outcomes:?}"
    );

    // The file was written back and reads as the hand-written ones do.
    let dir = site.handle.core().config().maps_dir.clone();
    assert!(dir.starts_with(std::env::temp_dir()) || !dir.starts_with(common::repo()));
    let maps = watchdesk::config::map_writer::map_file(&dir, &MapId::new("floor1")).unwrap();
    let text = std::fs::read_to_string(&maps).unwrap();
    assert!(text.starts_with("# Ground floor"), "comments kept: {text}");
    let read = watchdesk::config::load_maps(&dir).unwrap();
    let floor1 = read.iter().find(|m| m.id.as_str() == "floor1").unwrap();
    let lobby = floor1.doors.iter().find(|d| d.id == "door-lobby").unwrap();
    assert_eq!((lobby.x, lobby.y), (333.5, 444.25));
    assert_eq!(floor1.cameras[0].direction_deg, Some(270.0));
    assert_eq!(
        serde_json::to_value(&floor1.doors).unwrap(),
        stored["doors"],
        "the file holds what the site serves"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maps_folder_that_cannot_be_written_answers_503_and_changes_nothing() {
    let site = start_site().await;
    let admin = site.token(Role::Admin).await;
    let mut body = placements(&site, &admin).await;
    body["doors"][0] = json!({"id": "door-lobby", "x": 10.0, "y": 10.0});
    // The folder goes away under the site (root ignores file modes, so a
    // read-only folder would not do here).
    let dir = site.handle.core().config().maps_dir.clone();
    std::fs::remove_dir_all(&dir).unwrap();
    let r = site
        .put(&admin, "/api/v1/maps/floor1/placements", body)
        .await;
    assert_eq!(r.status(), 503);
    let (_, kind, message) = api_error(r).await;
    assert_eq!(kind, "unavailable");
    assert!(message.contains("floor1"), "{message}");
    assert_eq!(lobby_at(&placements(&site, &admin).await), (280.0, 760.0));
    let r = site.get(&admin, "/api/v1/events?type=map.changed").await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
}

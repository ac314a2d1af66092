#![allow(clippy::unwrap_used, reason = "test helpers")]
//! `PUT /api/v1/cardholders/{id}/photo` against the real server: role
//! checked, audited, validated (decoded, bounded), stored, served by the
//! photo route from then on, and announced with `cardholder.changed`.

use crate::common;

use std::time::Duration;

use common::{api_error, start_site};
use serde_json::Value;
use watchdesk::domain::Role;

/// A `width`×`height` picture encoded as `format`, every pixel `rgb`.
fn picture(width: u32, height: u32, rgb: [u8; 3], format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), format)
        .unwrap();
    out
}

async fn upload(
    site: &common::TestSite,
    token: &str,
    id: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    site.http
        .put(site.url(&format!("/api/v1/cardholders/{id}/photo")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_uploads_a_photo_others_are_refused_bad_ones_too() {
    let site = start_site().await;
    let supervisor = site.token(Role::Supervisor).await;
    let operator = site.token(Role::Operator).await;
    let png = picture(60, 80, [200, 30, 30], image::ImageFormat::Png);

    // The operator may not: 403, audited as denied.
    let (status, kind, _) =
        api_error(upload(&site, &operator, "ch-001", "image/png", png.clone()).await).await;
    assert_eq!((status, kind.as_str()), (403, "permission_denied"));

    // Not a picture, a wrong type, an unknown person: 400, 400, 404.
    let (status, _, message) = api_error(
        upload(
            &site,
            &supervisor,
            "ch-001",
            "image/png",
            b"not a png".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{message}");
    let (status, _, _) =
        api_error(upload(&site, &supervisor, "ch-001", "text/plain", png.clone()).await).await;
    assert_eq!(status, 400);
    let (status, _, _) =
        api_error(upload(&site, &supervisor, "ch-nobody", "image/png", png.clone()).await).await;
    assert_eq!(status, 404);
    // Over 4096 pixels a side: 400 (a flat PNG that small in bytes).
    let wide = picture(4097, 2, [0, 0, 0], image::ImageFormat::Png);
    let (status, _, message) =
        api_error(upload(&site, &supervisor, "ch-001", "image/png", wide).await).await;
    assert_eq!(status, 400, "{message}");
    // Over 2 MiB: 413 (and the 64 KiB of the other routes do not apply).
    let (status, _, _) = api_error(
        upload(
            &site,
            &supervisor,
            "ch-001",
            "image/jpeg",
            vec![0xff; 2 * 1024 * 1024 + 1],
        )
        .await,
    )
    .await;
    assert_eq!(status, 413);

    // A real upload (larger than 64 KiB): 200, has_photo, served from now on.
    let big_jpeg = {
        // Noise does not compress: well over 64 KiB.
        let img = image::RgbImage::from_fn(400, 300, |x, y| {
            image::Rgb([(x * 7 + y * 13) as u8, (x * y) as u8, (x ^ y) as u8])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    assert!(big_jpeg.len() > 64 * 1024, "{}", big_jpeg.len());
    let r = upload(&site, &supervisor, "ch-001", "image/png", big_jpeg).await;
    assert_eq!(r.status(), 200);
    let ch: Value = r.json().await.unwrap();
    assert_eq!(ch["has_photo"], true);
    let r = upload(&site, &supervisor, "ch-001", "image/png", png).await;
    assert_eq!(r.status(), 200);

    let r = site
        .get(&operator, "/api/v1/cardholders/ch-001/photo")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let served = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((served.width(), served.height()), (60, 80));
    let p = served.to_rgb8().get_pixel(30, 40).0;
    assert!(
        p[0] > 170 && p[1] < 70 && p[2] < 70,
        "the red picture: {p:?}"
    );

    // Announced to every client, and audited: the refusal and both uploads.
    site.wait_event(
        &supervisor,
        "type=cardholder.changed&cardholder=ch-001",
        Duration::from_secs(5),
        |e| e["by"] == "supervisor",
    )
    .await;
    let rows = site.audit(&supervisor, "action=cardholder.photo").await;
    let outcomes: Vec<(&str, &str)> = rows
        .iter()
        .map(|a| {
            (
                a["user"].as_str().unwrap_or_default(),
                a["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(outcomes.contains(&("operator", "denied")), "{outcomes:?}");
    let ok = outcomes
        .iter()
        .filter(|(u, o)| *u == "supervisor" && o.ends_with(": ok"))
        .count();
    assert_eq!(ok, 2, "{outcomes:?}");
}

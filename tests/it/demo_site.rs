#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The demo site as the client starts it: the real `watchdesk` binary as a
//! child process (`site --embedded`), answering sign-in on the address it
//! announced, gone when asked to stop; a broken config says file and line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use watchdesk::app::demo_site::DemoSite;

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_watchdesk"))
}

/// A copy of the demo site's files in `dir`, without cameras or traffic (a
/// fast start), with `edit` applied to site.toml's text.
fn demo_copy(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for sub in ["config", "maps", "assets/photos"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(repo.join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    let site = dir.join("config/site.toml");
    let text = std::fs::read_to_string(&site).unwrap();
    let text = text.replace("demo_cameras = true", "demo_cameras = false");
    assert!(
        text.contains("demo_cameras = false"),
        "site.toml changed shape"
    );
    std::fs::write(&site, edit(text)).unwrap();
    site
}

#[tokio::test]
async fn the_demo_site_runs_as_a_child_and_stops_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_copy(dir.path(), |t| t);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    let site = DemoSite::start(&exe(), &config, &data).await.unwrap();
    let base = site.base_url().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"username": "operator", "password": "demo-operator"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign-in on the announced address");
    assert!(
        data.join("site.sqlite").exists(),
        "the site keeps its database in the given data folder"
    );

    site.stop().await;
    let gone = http
        .get(format!("{base}/api/v1/time"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        gone.as_ref().is_err_and(|e| e.is_connect()),
        "the site still answers after stop: {gone:?}"
    );
}

#[tokio::test]
async fn a_broken_demo_config_says_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_copy(dir.path(), |t| {
        t.replacen(
            "command_timeout_ms = ",
            "command_timeout_ms = \"soon\" #",
            1,
        )
    });
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("\"soon\""))
        .expect("the broken line")
        + 1;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    let err = match DemoSite::start(&exe(), &config, &data).await {
        Ok(site) => {
            site.stop().await;
            panic!("a broken config started a site");
        }
        Err(e) => e,
    };
    assert!(err.contains("site.toml"), "names the file: {err}");
    assert!(
        err.contains(&format!(":{line}")),
        "names line {line}: {err}"
    );
}

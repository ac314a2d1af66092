#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The site over HTTPS (rustls, a given certificate and key) and the
//! client trusting a given CA: signs in with it, refuses the site without it.

use std::process::Command;

use watchdesk::client::{Client, ClientConfig};
use watchdesk::domain::ErrorKind;
use watchdesk::site::{SiteOptions, TlsFiles};
use watchdesk::video::{Credentials, EngineOptions, TileRequest, VideoEngine};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_trusts_a_given_ca_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_key, ca, key, csr, cert, ext) = (
        dir.path().join("ca.key"),
        dir.path().join("ca.pem"),
        dir.path().join("site.key"),
        dir.path().join("site.csr"),
        dir.path().join("site.pem"),
        dir.path().join("ext.cnf"),
    );
    let openssl = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs (scripts/install-deps.sh installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let s = |v: &str| std::ffi::OsString::from(v);
    // A site CA, and a site certificate it signs.
    openssl(&[
        &s("req"),
        &s("-x509"),
        &s("-newkey"),
        &s("rsa:2048"),
        &s("-nodes"),
        &s("-days"),
        &s("1"),
        &s("-subj"),
        &s("/CN=Watchdesk test CA"),
        &s("-keyout"),
        ca_key.as_os_str(),
        &s("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        &s("req"),
        &s("-newkey"),
        &s("rsa:2048"),
        &s("-nodes"),
        &s("-subj"),
        &s("/CN=localhost"),
        &s("-keyout"),
        key.as_os_str(),
        &s("-out"),
        csr.as_os_str(),
    ]);
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        &s("x509"),
        &s("-req"),
        &s("-in"),
        csr.as_os_str(),
        &s("-CA"),
        ca.as_os_str(),
        &s("-CAkey"),
        ca_key.as_os_str(),
        &s("-CAcreateserial"),
        &s("-days"),
        &s("1"),
        &s("-extfile"),
        ext.as_os_str(),
        &s("-out"),
        cert.as_os_str(),
    ]);

    let mut config = watchdesk::config::SiteConfig::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"),
    )
    .unwrap();
    // One live camera: its relayed stream is RTSPS with the site's
    // certificate.
    config.video.demo_cameras = true;
    config.video.latency_camera = true;
    config.video.main_width = 320;
    config.video.main_height = 180;
    config.video.sub_width = 160;
    config.video.sub_height = 90;
    config.cameras.retain(|c| c.id.as_str() == "cam-clock");
    config.recording.enabled = false;
    config.traffic.enabled = false;
    config.connections.header_timeout_ms = 1000;
    let site = watchdesk::site::start(SiteOptions {
        config,
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        fault_injection: false,
        tls: Some(TlsFiles { cert, key }),
    })
    .await
    .unwrap();
    let url = site.base_url();
    assert!(url.starts_with("https://"), "{url}");

    // Slow clients cannot pin the TLS server either: handshakes that stall
    // (silent, or after half a record header) are closed within the header
    // timeout, while the client below is served.
    let mut stalled = crate::connections::stalled(site.addr(), 50, &[]).await;
    stalled.extend(crate::connections::stalled(site.addr(), 50, &[0x16, 0x03]).await);
    let opened = tokio::time::Instant::now();
    let closing = tokio::spawn(crate::connections::wait_closed(
        stalled,
        opened,
        opened + std::time::Duration::from_secs(5),
    ));

    let mut trusting = Client::new(&ClientConfig {
        base_url: url.clone(),
        ca_cert: Some(ca.clone()),
        allow_plain_http: false,
    })
    .unwrap();
    let session = trusting
        .sign_in("investigator", "demo-investigator")
        .await
        .unwrap();
    assert_eq!(session.username, "investigator");
    let snapshot = trusting.snapshot().await.unwrap();
    assert!(!snapshot.doors.is_empty());
    // The relay speaks RTSPS: the session token never crosses in clear. A
    // client given the CA plays it; one without it does not.
    let camera = snapshot.cameras[0].clone();
    assert!(
        camera.main.url.starts_with("rtsps://127.0.0.1:"),
        "{}",
        camera.main.url
    );
    let token = session.token.clone();
    let plays = |ca: Option<std::path::PathBuf>| {
        let (camera, token) = (camera.clone(), token.clone());
        tokio::task::spawn_blocking(move || {
            let mut opts = EngineOptions::new(std::sync::Arc::new(|| {}));
            opts.ca_file = ca;
            let engine = VideoEngine::new(opts);
            engine.set_session_credentials(Some(Credentials {
                user: "investigator".into(),
                password: token,
            }));
            let until = std::time::Instant::now() + std::time::Duration::from_secs(12);
            let mut last = String::new();
            while std::time::Instant::now() < until {
                let v = engine.tile(&TileRequest {
                    key: "tls",
                    camera: &camera,
                    size_px: [320, 180],
                    single_view: true,
                    playback: None,
                });
                if v.frame.is_some() {
                    return Ok(());
                }
                last = format!("{:?}", v.status);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(last)
        })
    };
    let with_ca = plays(Some(ca.clone())).await.unwrap();
    assert!(
        with_ca.is_ok(),
        "RTSPS with the site's CA plays: {with_ca:?}"
    );
    let without = plays(None).await.unwrap();
    assert!(without.is_err(), "an unknown certificate is refused");
    let closed = closing.await.unwrap();
    let held = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(held, 0, "stalled TLS handshakes still held after 5 s");

    let mut stranger = Client::new(&ClientConfig {
        base_url: url,
        ca_cert: None,
        allow_plain_http: false,
    })
    .unwrap();
    let err = stranger
        .sign_in("investigator", "demo-investigator")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    site.shutdown().await;
}

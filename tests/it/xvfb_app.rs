#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The real window under Xvfb: `watchdesk` with no site opens on the demo
//! site, signs in, and shows doors changing state and events flowing. The
//! app's probe (`WATCHDESK_PROBE`) reports what the window drew; a
//! screenshot of the screen must not be blank. The demo site is the app's
//! child process and goes when the app is killed.
//!
//! Needs a display. `scripts/test.sh` (and so CI) starts Xvfb and sets
//! `WATCHDESK_REQUIRE_DISPLAY=1`, which turns a missing display into a
//! failure instead of a skip.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn display() -> Option<String> {
    let d = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty());
    if d.is_none() && std::env::var("WATCHDESK_REQUIRE_DISPLAY").is_ok_and(|v| v == "1") {
        panic!("WATCHDESK_REQUIRE_DISPLAY=1 but DISPLAY is not set");
    }
    d
}

fn read_probe(path: &std::path::Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

#[test]
fn the_window_opens_on_the_demo_site_with_doors_changing_and_events_flowing() {
    let Some(display) = display() else {
        eprintln!("skipped: no DISPLAY (scripts/test.sh runs this under Xvfb)");
        return;
    };
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();

    // The demo site, busier and without cameras (this test is about doors
    // and events; the cameras have their own).
    for sub in ["config", "maps", "assets/photos"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(repo.join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    let site = dir.path().join("config/site.toml");
    let text = std::fs::read_to_string(&site).unwrap();
    let text = text
        .replace("badges_per_minute = 24.0", "badges_per_minute = 150.0")
        .replace("demo_cameras = true", "demo_cameras = false");
    std::fs::write(&site, text).unwrap();

    let probe = dir.path().join("probe.json");
    let runtime_dir = dir.path().join("xdg");
    std::fs::create_dir_all(&runtime_dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let child = Command::new(env!("CARGO_BIN_EXE_watchdesk"))
        .arg("--demo-config")
        .arg(&site)
        .env("DISPLAY", &display)
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("WATCHDESK_PROBE", &probe)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("watchdesk starts");
    let mut child = Kill(child);

    // Signed in to the demo site, link up, doors listed.
    let t0 = Instant::now();
    let first = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("watchdesk exited early: {status}");
        }
        if let Some(p) = read_probe(&probe)
            && p["signed_in"] == true
            && p["link_up"] == true
            && p["doors"].as_array().is_some_and(|d| d.len() >= 8)
        {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the window did not come up signed in: {:?}",
            read_probe(&probe)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(first["demo"], true, "the demo site is marked as such");

    // Then, over some seconds, doors change state and events keep coming.
    let deadline = Instant::now() + Duration::from_secs(45);
    let last = loop {
        let p = read_probe(&probe).unwrap_or(Value::Null);
        let events_grew = p["last_seq"].as_u64() > first["last_seq"].as_u64().map(|s| s + 10);
        let doors_changed = p["door_changes"].as_u64().unwrap_or(0) >= 3;
        if events_grew && doors_changed && p["events_listed"].as_u64().unwrap_or(0) >= 10 {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "no doors changing or events flowing on screen: first {first}, now {p}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        last["frames"].as_u64().unwrap() > first["frames"].as_u64().unwrap(),
        "the window redraws"
    );

    // What a person would see: a screenshot that is not blank.
    let shot = repo.join("target/xvfb-app.png");
    let status = Command::new("import")
        .args(["-window", "root"])
        .arg(&shot)
        .env("DISPLAY", &display)
        .status()
        .expect("imagemagick import runs");
    assert!(status.success());
    let img = image::open(&shot).unwrap().to_rgba8();
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels().step_by(97) {
        colours.insert(p.0);
    }
    assert!(
        colours.len() > 20,
        "the screen looks blank: {} colours",
        colours.len()
    );
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "watchdesk is still running"
    );

    // The demo site runs as the app's child process, and goes when the app
    // dies, even killed outright.
    let sites = embedded_sites_of(child.0.id());
    assert_eq!(sites.len(), 1, "one demo site child: {sites:?}");
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let gone_by = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{}", sites[0])).exists() {
        assert!(
            Instant::now() < gone_by,
            "the demo site outlived the app by 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Processes whose parent is `pid` and whose command line is a site run
/// with `--embedded`.
fn embedded_sites_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The fields after the command name in parentheses: state, ppid, ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let embedded = cmdline.split(|b| *b == 0).any(|a| a == b"--embedded");
        if ppid == Some(pid) && embedded {
            out.push(child);
        }
    }
    out
}

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! A broken config or map file is refused with its file, line and key, and
//! the demo site's own files load.

use std::fs;
use std::path::{Path, PathBuf};

use watchdesk::config::{ConfigError, SiteConfig};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the demo site's files in a temp dir, to break.
fn copy_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["config", "maps"] {
        fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in fs::read_dir(repo().join(sub)).unwrap() {
            let p = e.unwrap().path();
            fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    fs::create_dir_all(dir.path().join("assets/photos")).unwrap();
    dir
}

fn edit(path: &Path, from: &str, to: &str) -> usize {
    let text = fs::read_to_string(path).unwrap();
    let at = text
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} not in {}", path.display()));
    let line = text[..at].matches('\n').count() + 1;
    fs::write(path, text.replacen(from, to, 1)).unwrap();
    line
}

fn invalid(err: ConfigError) -> (PathBuf, usize, String, String) {
    match err {
        ConfigError::Invalid {
            file,
            line,
            key,
            message,
        } => (file, line, key, message),
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn the_demo_site_loads() {
    let cfg = SiteConfig::load(&repo().join("config/site.toml")).unwrap();
    assert!(cfg.cameras.len() >= 8, "at least 8 cameras");
    assert!(cfg.doors.len() >= 8, "at least 8 doors");
    assert_eq!(cfg.maps.len(), 2, "two floor plans");
    assert!(cfg.cardholders.len() >= 20, "at least 20 cardholders");
    assert!(
        cfg.cardholders.iter().all(|c| c.cardholder.has_photo),
        "every demo cardholder has a photo"
    );
    for d in &cfg.doors {
        assert!(
            (1..=3).contains(&d.cameras.len()),
            "door {} maps 1-3 cameras",
            d.id
        );
    }
    let roles: Vec<_> = cfg.users.iter().map(|u| u.role).collect();
    for r in watchdesk::domain::Role::ALL {
        assert!(roles.contains(&r), "a demo user for role {r}");
    }
}

#[test]
fn unknown_camera_in_a_door_names_file_line_key() {
    let dir = copy_site();
    let site = dir.path().join("config/site.toml");
    let line = edit(
        &site,
        "cameras = [\"cam-server\", \"cam-stair2\"]",
        "cameras = [\"cam-server\", \"cam-nowhere\"]",
    );
    let (file, got_line, key, message) = invalid(SiteConfig::load(&site).unwrap_err());
    assert_eq!(file, site);
    assert_eq!(key, "door.cameras");
    assert!(message.contains("cam-nowhere"), "{message}");
    // The line of the door's id, a few lines above the cameras key.
    assert!(
        got_line > 0 && got_line <= line && line - got_line < 10,
        "line {got_line} vs {line}"
    );
}

#[test]
fn syntax_error_names_its_line() {
    let dir = copy_site();
    let site = dir.path().join("config/site.toml");
    let line = edit(
        &site,
        "command_latency_ms = 150",
        "command_latency_ms = = 150",
    );
    let err = SiteConfig::load(&site).unwrap_err();
    let shown = err.to_string();
    let (file, got_line, _key, _message) = invalid(err);
    assert_eq!(file, site);
    assert_eq!(got_line, line, "{shown}");
    assert!(shown.contains("site.toml:"), "{shown}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let dir = copy_site();
    let site = dir.path().join("config/site.toml");
    let line = edit(
        &site,
        "access_time_ms = 8000",
        "access_time_ms = \"eight seconds\"",
    );
    let (_, got_line, key, message) = invalid(SiteConfig::load(&site).unwrap_err());
    assert_eq!(got_line, line);
    assert_eq!(key, "access_time_ms");
    assert!(
        message.contains("integer") || message.contains("u64"),
        "{message}"
    );
}

#[test]
fn unknown_key_is_refused() {
    let dir = copy_site();
    let site = dir.path().join("config/site.toml");
    let line = edit(
        &site,
        "fail_mode = \"fail_secure\"\naccess_time_ms = 8000",
        "fail_mode = \"fail_secure\"\naccess_tiem_ms = 8000",
    );
    let (_, got_line, key, message) = invalid(SiteConfig::load(&site).unwrap_err());
    assert_eq!(got_line, line + 1);
    assert_eq!(key, "access_tiem_ms");
    assert!(message.contains("unknown field"), "{message}");
}

#[test]
fn map_placing_an_unknown_door_names_the_map_file() {
    let dir = copy_site();
    let map = dir.path().join("maps/floor2.toml");
    let line = edit(&map, "id = \"door-lab\"", "id = \"door-basement\"");
    let (file, got_line, key, message) =
        invalid(SiteConfig::load(&dir.path().join("config/site.toml")).unwrap_err());
    assert_eq!(file, map);
    assert_eq!(got_line, line);
    assert_eq!(key, "door.id");
    assert!(message.contains("door-basement"), "{message}");
}

#[test]
fn map_position_outside_the_plan_is_refused() {
    let dir = copy_site();
    let map = dir.path().join("maps/floor1.toml");
    edit(&map, "x = 1100.0\ny = 360.0", "x = 9100.0\ny = 360.0");
    let (file, _, _, message) =
        invalid(SiteConfig::load(&dir.path().join("config/site.toml")).unwrap_err());
    assert_eq!(file, map);
    assert!(message.contains("outside the plan"), "{message}");
}

#[test]
fn bad_time_zone_and_credentials_in_urls_are_refused() {
    let dir = copy_site();
    let site = dir.path().join("config/site.toml");
    let want = edit(&site, "Europe/Berlin", "Europe/Atlantis");
    let (_, line, key, _) = invalid(SiteConfig::load(&site).unwrap_err());
    assert_eq!((line, key.as_str()), (want, "site.time_zone"));

    let dir = copy_site();
    let site = dir.path().join("config/site.toml");
    edit(
        &site,
        "scene = \"bars\"",
        "main_url = \"rtsp://admin:secret@10.1.2.3/live\"",
    );
    let err = SiteConfig::load(&site).unwrap_err();
    // The error says what is wrong without repeating the password.
    assert!(!err.to_string().contains("secret"), "{err}");
    let (_, _, _, message) = invalid(err);
    assert!(message.contains("no credentials"), "{message}");
}

#[test]
fn a_missing_file_says_which() {
    let dir = copy_site();
    fs::remove_file(dir.path().join("config/users.toml")).unwrap();
    let err = SiteConfig::load(&dir.path().join("config/site.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("users.toml"), "{err}");
}

#[test]
fn a_plain_password_instead_of_a_hash_is_refused() {
    let dir = copy_site();
    let users = dir.path().join("config/users.toml");
    let text = fs::read_to_string(&users).unwrap();
    let start = text.find("password_hash = \"").unwrap();
    let end = text[start..].find('\n').unwrap() + start;
    fs::write(
        &users,
        format!(
            "{}password_hash = \"hunter2\"{}",
            &text[..start],
            &text[end..]
        ),
    )
    .unwrap();
    let (file, _, key, _) =
        invalid(SiteConfig::load(&dir.path().join("config/site.toml")).unwrap_err());
    assert_eq!(file, users);
    assert_eq!(key, "user.password_hash");
}

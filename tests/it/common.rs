#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Shared fixtures for the end-to-end tests: the real site server on
//! `127.0.0.1:0` with a fresh SQLite file, and a plain HTTP client.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use watchdesk::config::SiteConfig;
use watchdesk::domain::Role;
use watchdesk::site::{SiteHandle, SiteOptions};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo site's config with what a fast test wants: no cameras, no
/// random traffic, short timeouts.
pub fn test_config() -> SiteConfig {
    let mut cfg = SiteConfig::load(&repo().join("config/site.toml")).expect("demo config loads");
    cfg.video.demo_cameras = false;
    cfg.traffic.enabled = false;
    cfg.command_timeout_ms = 1000;
    cfg.request_timeout_secs = 2;
    cfg.controller.command_latency_ms = 50;
    cfg
}

/// Copies the files of `from` into a new folder `to`; returns `to`.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> PathBuf {
    std::fs::create_dir_all(to).expect("create the copy");
    for e in std::fs::read_dir(from).expect("read the folder").flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy a file");
        }
    }
    to.to_owned()
}

pub struct TestSite {
    pub handle: SiteHandle,
    /// The site's data folder, removed when the test's site goes.
    #[expect(dead_code, reason = "held for its Drop")]
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub async fn start_site() -> TestSite {
    start_site_with(|_| {}).await
}

pub async fn start_site_with(edit: impl FnOnce(&mut SiteConfig)) -> TestSite {
    let mut config = test_config();
    let dir = tempfile::tempdir().expect("temp dir");
    // The map editor writes placement files back: never to the repository's.
    config.maps_dir = copy_dir(&config.maps_dir, &dir.path().join("maps"));
    edit(&mut config);
    let handle = watchdesk::site::start(SiteOptions {
        config,
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_owned(),
        fault_injection: true,
        tls: None,
    })
    .await
    .expect("site starts");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        // Under the site's header timeout (10 s), which also closes idle
        // keep-alive connections: a request never races that close.
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .expect("http client");
    TestSite { handle, dir, http }
}

impl TestSite {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.handle.base_url(), path)
    }

    /// Signs in as the demo user of that role and returns the token.
    pub async fn token(&self, role: Role) -> String {
        let r = self
            .http
            .post(self.url("/api/v1/auth/sign-in"))
            .json(
                &serde_json::json!({"username": role.as_str(), "password": format!("demo-{role}")}),
            )
            .send()
            .await
            .expect("sign-in request");
        assert_eq!(r.status(), 200, "sign-in as {role}");
        let v: Value = r.json().await.expect("session json");
        v["token"].as_str().expect("token").to_owned()
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("PUT")
    }

    /// A fault-injection call (loopback only, no sign-in).
    pub async fn fault(&self, path: &str, body: Value) -> reqwest::Response {
        let r = self
            .http
            .post(self.url(&format!("/api/v1/fault/{path}")))
            .json(&body)
            .send()
            .await
            .expect("fault call");
        assert!(r.status().is_success(), "fault {path}: {}", r.status());
        r
    }

    /// Events of the log (newest first from the API) returned oldest first.
    pub async fn events(&self, token: &str, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut path = format!("/api/v1/events?limit=1000&{query}");
            if let Some(b) = before {
                path.push_str(&format!("&before={b}"));
            }
            let r = self.get(token, &path).await;
            assert_eq!(r.status(), 200, "event search {path}");
            let page: Value = r.json().await.expect("page");
            let items = page["items"].as_array().cloned().unwrap_or_default();
            all.extend(items);
            match page["next_before"].as_u64() {
                Some(b) => before = Some(b),
                None => break,
            }
        }
        all.reverse();
        all
    }

    /// Polls the event log until `pred` holds for some event, or panics after `timeout`.
    pub async fn wait_event(
        &self,
        token: &str,
        query: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self
                .events(token, query)
                .await
                .into_iter()
                .find(|e| pred(e))
            {
                return e;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("no matching event for {query:?} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The body of an error answer: `{kind, message}`.
pub async fn api_error(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {text:?}"));
    (
        status,
        v["kind"].as_str().unwrap_or("").to_owned(),
        v["message"].as_str().unwrap_or("").to_owned(),
    )
}

/// One event off the live stream: its SSE id, event type and data.
pub struct SseEvent {
    pub id: u64,
    pub name: String,
    pub data: Value,
}

/// A minimal reader of `/api/v1/events/stream`, heartbeats skipped.
pub struct Sse {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl Sse {
    /// Opens the stream as `token`, with an optional `Last-Event-ID`.
    pub async fn open(site: &TestSite, token: &str, query: &str, last_id: Option<&str>) -> Sse {
        let mut req = site
            .http
            .get(site.url(&format!("/api/v1/events/stream{query}")))
            .bearer_auth(token)
            .timeout(Duration::from_secs(60));
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        Sse {
            body: Box::pin(r.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event's (id, type).
    pub async fn next(&mut self) -> (u64, String) {
        let e = self.next_event().await;
        (e.id, e.name)
    }

    /// The next event, waiting at most 10 s for data.
    pub async fn next_event(&mut self) -> SseEvent {
        use futures_util::StreamExt;
        loop {
            if let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let (mut id, mut name, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse::<u64>().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        name = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if let (Some(id), Some(name)) = (id, name) {
                    let data = serde_json::from_str(&data).expect("event data is JSON");
                    return SseEvent { id, name, data };
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .expect("no SSE data for 10 s")
                .expect("the stream ended")
                .unwrap();
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// Polls `check` every 20 ms until it gives `Some`, or panics after
/// `timeout` naming `what`: a test waits for the state it needs, never a
/// fixed time.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TestSite {
    /// A visitor asks for access at `door` (what an intercom does): the id
    /// of the new open request.
    pub fn open_request(&self, door: &str) -> String {
        self.handle
            .core()
            .open_request(
                &watchdesk::domain::DoorId::new(door),
                None,
                None,
                "visitor".into(),
                Some("Pat Visitor".into()),
            )
            .expect("request opens")
            .id
            .to_string()
    }

    /// Audit entries matching `query`, newest first (one page of 1,000).
    pub async fn audit(&self, token: &str, query: &str) -> Vec<Value> {
        let r = self
            .get(token, &format!("/api/v1/audit?limit=1000&{query}"))
            .await;
        assert_eq!(r.status(), 200, "audit search {query}");
        r.json::<Value>().await.unwrap()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

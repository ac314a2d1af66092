//! The demo site as the client's child process (`watchdesk site
//! --embedded`, the same binary): one command still runs the whole product,
//! while the site's memory (the scenes it loops, the one-time encode of
//! them on a first run, which the allocator keeps) and its threads stay out
//! of the client's process, and a site that fails takes the client down no
//! more than a remote one would.
//!
//! The child prints [`EMBEDDED_READY`] and its address once it answers; it
//! stops when its standard input closes, so it also goes when the client
//! dies. Its log lines are passed on to the client's standard error.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::site::EMBEDDED_READY;

/// How long the site may take to answer (it opens its database and starts
/// its cameras; scenes are encoded in the background).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping site may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Log lines kept to explain a site that did not start.
const KEPT_LINES: usize = 8;

/// A running demo site.
pub struct DemoSite {
    child: Child,
    stdin: Option<ChildStdin>,
    base_url: String,
}

impl DemoSite {
    /// Starts `exe site --embedded` on `config_file` with `data_dir` on a free
    /// loopback port, and waits until it answers.
    pub async fn start(exe: &Path, config_file: &Path, data_dir: &Path) -> Result<Self, String> {
        let mut child = Command::new(exe)
            .arg("site")
            .arg("--embedded")
            .arg("--config")
            .arg(config_file)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the demo site ({}): {e}", exe.display()))?;
        let stdin = child.stdin.take();
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err("the demo site's output is not connected".into());
        };
        let kept = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_LINES)));
        tokio::spawn(pass_on(stderr, kept.clone()));
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(url) = line.strip_prefix(EMBEDDED_READY) {
                            return Some(url.trim().to_owned());
                        }
                        eprintln!("{line}");
                    }
                    Ok(None) | Err(_) => return None,
                }
            }
        })
        .await;
        let base_url = match ready {
            Ok(Some(url)) => url,
            Ok(None) => {
                let status = child.wait().await.ok();
                // Let the last lines of its error output arrive.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(explain("the demo site stopped", status, &kept));
            }
            Err(_) => {
                let _ = child.kill().await;
                return Err(explain(
                    &format!(
                        "the demo site did not answer within {} s",
                        START_TIMEOUT.as_secs()
                    ),
                    None,
                    &kept,
                ));
            }
        };
        tokio::spawn(pass_on(lines.into_inner(), kept));
        Ok(DemoSite {
            child,
            stdin,
            base_url,
        })
    }

    /// The site's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Asks the site to stop (closes its input) and waits for it; kills it
    /// if it takes longer than [`STOP_TIMEOUT`].
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => tracing::debug!("the demo site stopped"),
            Ok(Ok(status)) => tracing::warn!("the demo site stopped: {status}"),
            Ok(Err(e)) => tracing::warn!("the demo site: {e}"),
            Err(_) => {
                tracing::warn!(
                    "the demo site did not stop within {} s; killing it",
                    STOP_TIMEOUT.as_secs()
                );
                let _ = self.child.kill().await;
            }
        }
    }
}

/// Copies the child's output lines to our standard error, keeping the last
/// few.
async fn pass_on(out: impl AsyncRead + Unpin, kept: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(out).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{line}");
        let mut k = kept.lock().unwrap_or_else(|e| e.into_inner());
        if k.len() == KEPT_LINES {
            k.pop_front();
        }
        k.push_back(line);
    }
}

fn explain(
    what: &str,
    status: Option<std::process::ExitStatus>,
    kept: &Mutex<VecDeque<String>>,
) -> String {
    let kept = kept.lock().unwrap_or_else(|e| e.into_inner());
    let mut message = what.to_owned();
    if let Some(s) = status {
        message.push_str(&format!(" ({s})"));
    }
    // The site's own error line says why; its log lines before it do not.
    if let Some(last) = kept
        .iter()
        .rev()
        .find(|l| l.starts_with("error"))
        .or(kept.back())
    {
        message.push_str(": ");
        message.push_str(last.trim());
    }
    message
}

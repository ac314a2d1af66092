//! Who may take a relayed stream: a signed-in session, given as RTSP Basic
//! credentials (the user name and the session token as the password), so the
//! secret rides in a header, never in a URL or a log. A custom `RTSPAuth`
//! (gst-rtsp-server's hook) checks it on every request that reaches a
//! stream; without a live session the relay answers 401. The clients it let
//! in are remembered with their session, and [`RelayAuth::sweep`] closes
//! those whose session has ended (revoked, expired, signed out).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use base64::Engine;
use gstreamer::glib;
use gstreamer::glib::subclass::prelude::*;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::gst_rtsp::{RTSPHeaderField, RTSPStatusCode};
use gstreamer_rtsp_server::prelude::*;
use gstreamer_rtsp_server::subclass::prelude::*;

/// The site's answer to "may this session watch video".
pub trait RelayGate: Send + Sync + 'static {
    /// The session of `user` with `token`, when it lives and may watch:
    /// a key to check it again by (never the token itself).
    fn admit(&self, user: &str, token: &str) -> Option<String>;
    /// Whether the session `key` still lives.
    fn still_live(&self, key: &str) -> bool;
}

/// Whether the stream at a relay path (`/cam-lobby/sub`) has frames to
/// give now: a stream without answers 503 at once, not after the 20 s a
/// media waits for its first caps.
pub type Available = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The realm of the relay's `WWW-Authenticate`.
const REALM: &str = "Watchdesk";

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct RelayAuth {
        pub gate: OnceLock<Arc<dyn RelayGate>>,
        pub available: OnceLock<Available>,
        /// The clients let in, with their session key.
        pub clients: Mutex<Vec<(glib::WeakRef<rtsp::RTSPClient>, String)>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for RelayAuth {
        const NAME: &'static str = "WatchdeskRelayAuth";
        type Type = super::RelayAuth;
        type ParentType = rtsp::RTSPAuth;
    }

    impl ObjectImpl for RelayAuth {}

    impl RelayAuth {
        /// The session key of the request's Basic credentials, if admitted.
        fn admitted(&self, ctx: &rtsp::RTSPContext) -> Option<String> {
            let gate = self.gate.get()?;
            let request = ctx.request()?;
            let credentials = request.parse_auth_credentials();
            let Some(basic) = credentials
                .iter()
                .find(|c| c.scheme() == gstreamer_rtsp_server::gst_rtsp::RTSPAuthMethod::Basic)
            else {
                tracing::debug!(
                    schemes = credentials.len(),
                    "relay request without Basic credentials"
                );
                return None;
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic.authorization()?.as_bytes())
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, token) = decoded.split_once(':')?;
            gate.admit(user, token)
        }

        fn remember(&self, ctx: &rtsp::RTSPContext, key: String) {
            let Some(client) = ctx.client() else {
                return;
            };
            let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            clients.retain(|(c, _)| c.upgrade().is_some());
            if !clients
                .iter()
                .any(|(c, _)| c.upgrade().is_some_and(|c| &c == client))
            {
                clients.push((client.downgrade(), key));
            }
        }

        /// Whether the request's stream has frames to give.
        fn stream_available(&self, ctx: &rtsp::RTSPContext) -> bool {
            let (Some(available), Some(uri)) = (self.available.get(), ctx.uri()) else {
                return true;
            };
            let request_uri = uri.request_uri();
            let path = request_uri
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                .unwrap_or("");
            available(path)
        }

        fn unavailable(ctx: &rtsp::RTSPContext) {
            if let (Some(response), Some(client)) = (ctx.response(), ctx.client()) {
                response.init_response(RTSPStatusCode::ServiceUnavailable, ctx.request());
                client.send_message(response, ctx.session());
            }
        }

        fn refuse(ctx: &rtsp::RTSPContext) {
            if let (Some(response), Some(client)) = (ctx.response(), ctx.client()) {
                response.init_response(RTSPStatusCode::Unauthorized, ctx.request());
                response.add_header(
                    RTSPHeaderField::WwwAuthenticate,
                    &format!("Basic realm=\"{REALM}\""),
                );
                client.send_message(response, ctx.session());
            }
        }
    }

    impl RTSPAuthImpl for RelayAuth {
        fn authenticate(&self, ctx: &rtsp::RTSPContext) -> bool {
            match self.admitted(ctx) {
                Some(key) => {
                    let mut token = rtsp::RTSPToken::new_empty();
                    if let Some(t) = token.get_mut() {
                        t.structure_mut().set("session", key.as_str());
                    }
                    ctx.set_token(token);
                    self.remember(ctx, key);
                    true
                }
                None => false,
            }
        }

        fn check(&self, ctx: &rtsp::RTSPContext, check: &glib::GString) -> bool {
            // A new connection: the base class puts the relay's TLS
            // certificate on it (RTSPS), when it has one.
            if check.as_str() == "auth.check.connect" {
                return self.parent_check(ctx, check);
            }
            // Every request that reaches a stream (DESCRIBE, SETUP, PLAY…)
            // names its media factory; the rest (OPTIONS) need nothing.
            if !check.starts_with("auth.check.media.factory") {
                return true;
            }
            if !self.authenticate(ctx) {
                Self::refuse(ctx);
                return false;
            }
            // Only a new media waits for frames; one that plays has them.
            if check.as_str() == "auth.check.media.factory.construct" && !self.stream_available(ctx)
            {
                Self::unavailable(ctx);
                return false;
            }
            true
        }
    }
}

glib::wrapper! {
    /// The relay's `RTSPAuth`.
    pub struct RelayAuth(ObjectSubclass<imp::RelayAuth>) @extends rtsp::RTSPAuth;
}

impl RelayAuth {
    pub fn new(gate: Arc<dyn RelayGate>, available: Available) -> RelayAuth {
        let auth: RelayAuth = glib::Object::new();
        let _ = auth.imp().gate.set(gate);
        let _ = auth.imp().available.set(available);
        auth
    }

    /// Closes every client whose session has ended; returns how many.
    /// Call on the relay's main context.
    pub fn sweep(&self, server: &rtsp::RTSPServer) -> usize {
        let Some(gate) = self.imp().gate.get() else {
            return 0;
        };
        let dead: Vec<rtsp::RTSPClient> = {
            let mut clients = self
                .imp()
                .clients
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            clients.retain(|(c, _)| c.upgrade().is_some());
            let mut dead = Vec::new();
            clients.retain(|(c, key)| {
                if gate.still_live(key) {
                    true
                } else {
                    dead.extend(c.upgrade());
                    false
                }
            });
            dead
        };
        if dead.is_empty() {
            return 0;
        }
        let n = dead.len();
        let _ = server.client_filter(Some(&mut |_, client| {
            if dead.contains(client) {
                rtsp::RTSPFilterResult::Remove
            } else {
                rtsp::RTSPFilterResult::Keep
            }
        }));
        n
    }
}

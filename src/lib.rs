//! Watchdesk: an operator client for live video, access control and alarm
//! handling, and the reference site server it talks to.
//!
//! The rooms (see `ARCHITECTURE.md`): `domain` (the nouns, no I/O), `config`
//! (the site's files), `backoff` (the one retry policy), `site` (the reference
//! server), `client` (the site API from the client's side), `video`
//! (GStreamer), `viewer` (the state, commands and tile source the UI reads),
//! `app` (the shell that wires them), `ui` (drawing).

pub mod app;
pub mod backoff;
pub mod client;
pub mod config;
pub mod domain;
pub mod site;
pub mod ui;
pub mod video;
pub mod viewer;

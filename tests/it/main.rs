//! The end-to-end tests, one binary: the real site server on 127.0.0.1:0,
//! real SQLite, real GStreamer, the real window. One binary instead of one per
//! file, so a change to the library links the tests once, not fourteen times.

mod api_auth;
mod api_bad_input;
mod api_doors;
mod api_people;
mod api_requests_audit;
mod api_roles;
mod api_schema;
mod common;
mod config_errors;
mod connections;
mod demo_cameras;
mod demo_site;
mod https;
mod live_resume;
mod map_edit;
mod photo_api;
mod real_cameras;
mod recording;
mod redaction;
mod relay;
mod rtsp_fixture;
mod sessions_transport;
mod ui_app;
mod ui_cameras;
mod ui_demo;
mod ui_map;
mod ui_monitor;
mod ui_people;
mod ui_playback;
mod ui_tile;
mod ui_unreachable;
mod ui_views;
mod ui_workspace;
mod video_player;
mod viewer_resync;
mod views_api;
mod worker_rig;
mod xvfb_app;

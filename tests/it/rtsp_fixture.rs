#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! An in-process RTSP server for the tests, running on a glib main loop of
//! its own thread; dropping it closes its clients and sessions, then stops
//! the loop.

use std::thread::JoinHandle;

use gstreamer::glib;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

pub struct RunningServer {
    pub port: u16,
    server: rtsp::RTSPServer,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    source: Option<glib::SourceId>,
    thread: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Attaches `server` (mounts already added) and runs it.
    pub fn run(server: rtsp::RTSPServer) -> RunningServer {
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let source = server.attach(Some(&context)).expect("RTSP server listens");
        let port = u16::try_from(server.bound_port()).expect("bound port");
        let (ctx, ml) = (context.clone(), main_loop.clone());
        let thread = std::thread::spawn(move || {
            ctx.with_thread_default(|| ml.run())
                .expect("main context free");
        });
        RunningServer {
            port,
            server,
            context,
            main_loop,
            source: Some(source),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // Undone on the loop's own thread, as `DemoCameras` does: closing a
        // client from this thread races the loop's read on its connection,
        // and the loser spins on a closed stream (a flood of
        // `GLib-GIO-CRITICAL g_pollable_input_stream_read_nonblocking` for the
        // rest of the test process).
        let server = self.server.clone();
        let context = self.context.clone();
        let main_loop = self.main_loop.clone();
        let mut source = self.source.take();
        let stop =
            glib::idle_source_new(Some("fixture-rtsp-stop"), glib::Priority::HIGH, move || {
                let _ = server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
                if let Some(pool) = server.session_pool() {
                    let _ = pool.filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
                }
                if let Some(id) = source.take()
                    && let Some(s) = context.find_source_by_id(&id)
                {
                    s.destroy();
                }
                // Quit from inside the loop: a quit() before the thread entered
                // run() would be lost.
                main_loop.quit();
                glib::ControlFlow::Break
            });
        stop.attach(Some(&self.context));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

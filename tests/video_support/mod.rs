//! Helpers for the video tests: short H.264 clips made with gst-launch-1.0, and an in-process
//! RTSP server (gst-rtsp-server) that can be stopped and restarted on the same port.
#![allow(dead_code)]

use boomgate::config::CameraSettings;
use boomgate::metrics::Metrics;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Encodes `frames` frames of a moving-ball test pattern to an H.264 MP4. `faststart` puts the
/// index at the front (so a truncated copy still has it).
pub fn make_clip(
    dir: &Path,
    name: &str,
    width: u32,
    height: u32,
    fps: u32,
    frames: u32,
    faststart: bool,
) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(format!(
            "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,width={width},height={height},framerate={fps}/1 \
             ! x264enc speed-preset=ultrafast key-int-max={fps} ! h264parse ! mp4mux faststart={faststart} ! filesink"
        )
        .split_whitespace())
        .arg(format!("location={}", out.display()))
        .status()
        .expect("gst-launch-1.0 runs");
    assert!(status.success(), "clip generation failed for {name}");
    out
}

/// A camera config for `url` with the test's id.
pub fn camera(id: &str, url: &str) -> CameraSettings {
    CameraSettings {
        id: id.into(),
        url: url.into(),
        ..CameraSettings::default()
    }
}

/// Fresh stats for a camera.
pub fn stats(id: &str) -> Arc<boomgate::metrics::CameraStats> {
    Metrics::new().camera(id)
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; returns whether it held. Used to
/// wait for a state, not to assert a duration.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An RTSP server on 127.0.0.1:`port` serving a live 320×240 25 fps H.264 test pattern at `/cam`.
pub struct RtspServer {
    server: rtsp::RTSPServer,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    source: Option<glib::SourceId>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RtspServer {
    pub fn start(port: u16, credentials: Option<(&str, &str)>) -> RtspServer {
        gst::init().unwrap();
        let context = glib::MainContext::new();
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(
            "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! rtph264pay name=pay0 pt=96 )",
        );
        factory.set_shared(true);
        if let Some((user, password)) = credentials {
            let auth = rtsp::RTSPAuth::new();
            let token = rtsp::RTSPToken::builder()
                .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
                .build();
            auth.add_basic(rtsp::RTSPAuth::make_basic(user, password).as_str(), &token);
            server.set_auth(Some(&auth));
            factory.add_role_from_structure(
                &gst::Structure::builder("viewer")
                    .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                    .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                    .build(),
            );
        }
        server.mount_points().unwrap().add_factory("/cam", factory);
        let source = server
            .attach(Some(&context))
            .expect("RTSP server binds its port");
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let run_loop = main_loop.clone();
        let run_context = context.clone();
        let thread = std::thread::spawn(move || {
            run_context.with_thread_default(|| run_loop.run()).unwrap();
        });
        RtspServer {
            server,
            context,
            main_loop,
            source: Some(source),
            thread: Some(thread),
        }
    }

    /// Closes the listening socket and every client connection.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(source) = self
            .source
            .take()
            .and_then(|id| self.context.find_source_by_id(&id))
        {
            source.destroy();
        }
        self.server
            .client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#!/usr/bin/python3
"""Lab host camera: serves one H.264 MP4 clip over RTSP at its real speed, once (a client that
connects after a car was shown gets an empty black lane), and reports on stdout (JSON lines)
when the first frame showing each vehicle's plate leaves the server — the "glass" time of the
glass-to-relay latency.

    rtsp_server.py --port 8554 --clip clip.mp4 --truth clip.json
Stream: rtsp://<host>:<port>/cam. Uses GStreamer's RTSP server through PyGObject (Debian:
python3-gi, gir1.2-gst-rtsp-server-1.0).
"""
import argparse
import json
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def first_plate_times(truth):
    """Stream time (ns) of the first frame of each vehicle pass: a plate that appears, or appears
    again after more than 2 s out of view."""
    fps = truth["fps"]
    last, out = {}, []
    for i, boxes in enumerate(truth["boxes"]):
        for *_, text in boxes:
            if text not in last or i - last[text] > 2 * fps:
                out.append((int(i * 1e9 / fps), text))
            last[text] = i
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--truth", required=True)
    args = ap.parse_args()
    with open(args.truth) as f:
        marks = first_plate_times(json.load(f))
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("0.0.0.0")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{args.clip}" ! qtdemux ! h264parse ! '
        "rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(False)
    # The clip plays once: a board that reconnects later gets an empty black lane, not the same
    # cars again.
    idle = ("( videotestsrc pattern=black is-live=true ! video/x-raw,width=640,height=360,"
            "framerate=5/1 ! x264enc tune=zerolatency speed-preset=ultrafast ! "
            "rtph264pay name=pay0 pt=96 config-interval=1 )")

    def emit(obj):
        print(json.dumps(obj), flush=True)

    shown = []  # non-empty once a car was shown: the factory serves the empty lane from then

    def on_configure(factory, media):
        emit({"event": "client", "t": time.time()})
        if shown:
            return  # the empty lane: its (live) timestamps would pass for plate frames
        pending = list(marks)
        pay = media.get_element().get_by_name("pay0")

        def probe(_pad, info):
            buf = info.get_buffer()
            while pending and buf.pts != Gst.CLOCK_TIME_NONE and buf.pts >= pending[0][0]:
                # Once a car has been shown, later clients get the empty lane; a client that
                # dropped before that (a failed first attempt) still gets the whole clip.
                factory.set_launch(idle)
                shown.append(True)
                pts, text = pending.pop(0)
                emit({"event": "first_plate_frame", "plate": text, "pts_ms": pts // 1_000_000,
                      "t": time.time()})
            return Gst.PadProbeReturn.OK

        pay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)

    factory.connect("media-configure", on_configure)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"rtsp_server: cannot listen on port {args.port}")
    emit({"event": "listening", "port": args.port, "t": time.time()})
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()

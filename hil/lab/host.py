"""The lab host's side of a HIL run: scenario clips, the RTSP camera, the MQTT broker, the relay
watcher, and the board's HTTP API."""
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HIL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(HIL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clip(name, plates, cache, wait_s=8, gap_s=6, width=960, height=540, fps=10):
    """A generated scenario clip with known plates ("TEXT:style,..."), cached by its arguments.
    960x540 keeps plate crops large enough for the OCR after the detector's downscale; smaller
    clips gave misreads on the emulated board. `gap_s` of empty lane comes first too: the
    board needs a moment to (re)connect to the camera. Returns (mp4 path, truth dict)."""
    args = ["--width", str(width), "--height", str(height), "--fps", str(fps), "--plates", plates,
            "--wait-s", str(wait_s), "--gap-s", str(gap_s), "--seed", "7"]
    key = hashlib.sha256(" ".join(args).encode()).hexdigest()[:10]
    os.makedirs(cache, exist_ok=True)
    mp4 = os.path.join(cache, f"{name}-{key}.mp4")
    truth = os.path.join(cache, f"{name}-{key}.json")
    if not (os.path.exists(mp4) and os.path.exists(truth)):
        py = os.path.join(os.environ.get("BOOMGATE_CACHE", os.path.join(REPO, ".cache")),
                          "venv-tools", "bin", "python")
        subprocess.run([py if os.path.exists(py) else sys.executable,
                        os.path.join(REPO, "scripts", "clips", "make_clip.py"),
                        "--out", mp4 + ".tmp.mp4", "--truth", truth, *args],
                       check=True, stdout=subprocess.DEVNULL)
        os.replace(mp4 + ".tmp.mp4", mp4)
    with open(truth) as f:
        return mp4, json.load(f)


class Broker:
    """mosquitto on the lab host, and a subscriber that records every event the board delivers."""

    def __init__(self, work, port, site):
        self.work, self.port, self.topic = work, port, f"boomgate/{site}/event"
        self.conf = os.path.join(work, "mosquitto.conf")
        with open(self.conf, "w") as f:
            # Persistence keeps the recorder's session (and QoS 1 messages queued for it)
            # across a broker outage.
            f.write(f"listener {port} 0.0.0.0\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {work}/\n")
        self.events_file = os.path.join(work, "mqtt-events.jsonl")
        open(self.events_file, "w").close()
        self.broker = None
        self.sub = None

    def start(self):
        self.broker = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=subprocess.DEVNULL,
                                       stderr=open(os.path.join(self.work, "mosquitto.log"), "a"))
        time.sleep(0.5)
        # A persistent session (-c, fixed id): QoS 1 messages published while the subscriber was
        # away are not lost; the subscriber reconnects by itself when the broker comes back.
        self.sub = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-q", "1", "-c",
             "-i", "hil-recorder", "-t", self.topic],
            stdout=open(self.events_file, "a"), stderr=subprocess.DEVNULL)

    def stop(self):
        for p in (self.sub, self.broker):
            if p and p.poll() is None:
                p.terminate()
                p.wait(10)
        self.sub = self.broker = None

    def event_ids(self):
        ids = set()
        with open(self.events_file) as f:
            for line in f:
                try:
                    ids.add(json.loads(line)["event_id"])
                except (ValueError, KeyError):
                    pass
        return ids


class Camera:
    """The RTSP camera: lab/rtsp_server.py serving one clip; stop() is a camera outage."""

    def __init__(self, work, port):
        self.work, self.port = work, port
        self.proc = None
        self.marks = []
        self.lock = threading.Lock()

    def play(self, mp4, truth_path):
        self.stop()
        self.marks = []
        # Debian's python3 has PyGObject and the RTSP server typelib.
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HIL, "lab", "rtsp_server.py"), "--port",
             str(self.port), "--clip", mp4, "--truth", truth_path],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.work, "rtsp.log"), "a"), text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.marks.append(msg)

    def plate_frames(self):
        """(host time, plate) of each first plate frame sent so far."""
        with self.lock:
            return [(m["t"], m["plate"]) for m in self.marks if m["event"] == "first_plate_frame"]

    def clients(self):
        """Host times at which the board opened a stream."""
        with self.lock:
            return [m["t"] for m in self.marks if m["event"] == "client"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class UdpRelayWatcher:
    """Relay edges reported by the board's observer (QEMU: gpiolib's debugfs view of the PL061
    line, polled in the guest) as UDP datagrams; each is timestamped on arrival here."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.edges = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            data, _ = self.sock.recvfrom(256)
            now = time.time()
            parts = data.decode(errors="replace").split()
            if len(parts) >= 2:
                with self.lock:
                    self.edges.append((now, parts[1]))

    def states(self, since=0.0):
        with self.lock:
            return [(t, s) for t, s in self.edges if t >= since]

    def rising(self, since=0.0):
        prev, out = None, []
        for t, s in self.states(since):
            if s == "hi" and prev != "hi":
                out.append(t)
            prev = s
        return out


class GpioRelayWatcher:
    """Bench: the relay output looped back to a GPIO input of the lab host; edges from the GPIO
    character device (gpiod 2.x Python bindings), timestamped by the kernel."""

    def __init__(self, chip, line, active_low=False):
        import gpiod  # only needed on a bench lab host
        from gpiod.line import Bias, Direction, Edge

        self.edges = []
        self.lock = threading.Lock()
        settings = gpiod.LineSettings(direction=Direction.INPUT, edge_detection=Edge.BOTH,
                                      bias=Bias.PULL_DOWN, active_low=active_low)
        self.req = gpiod.request_lines(chip, consumer="hil-relay-watcher", config={line: settings})
        self.offset = time.time() - time.monotonic()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        from gpiod.edge_event import EdgeEvent

        while True:
            for ev in self.req.read_edge_events():
                t = ev.timestamp_ns / 1e9 + self.offset  # CLOCK_MONOTONIC -> wall time
                state = "hi" if ev.event_type == EdgeEvent.Type.RISING_EDGE else "lo"
                with self.lock:
                    self.edges.append((t, state))

    states = UdpRelayWatcher.states
    rising = UdpRelayWatcher.rising


class BoardApi:
    """The board's HTTP API (through QEMU's port forward, or the bench board's address)."""

    def __init__(self, base):
        self.base = base

    def get(self, path, timeout=10):
        with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
            return json.loads(r.read().decode())

    def counters(self, names=("frames_decoded_total", "frames_analysed_total",
                              "frames_dropped_total", "plate_reads_total", "detect_seconds_sum",
                              "detect_seconds_count", "ocr_seconds_sum", "ocr_seconds_count")):
        """The board's Prometheus counters of interest, summed over labels; {} if unreachable.
        Says after a missed read whether the board decoded, analysed and read anything."""
        try:
            with urllib.request.urlopen(self.base + "/metrics", timeout=10) as r:
                text = r.read().decode()
        except (OSError, urllib.error.URLError):
            return {}
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            name = name.split("{")[0].removeprefix("boomgate_")
            if name in names:
                try:
                    out[name] = out.get(name, 0.0) + float(value.split()[0])
                except (ValueError, IndexError):
                    pass
        return out

    def events(self):
        out, before = [], None
        while True:
            page = self.get("/api/events?limit=500" + (f"&before={before}" if before else ""))
            out += page["events"]
            before = page.get("next_before")
            if not before:
                return out

    def events_or_empty(self):
        try:
            return self.events()
        except (OSError, urllib.error.URLError, ValueError):
            return []


def wait_until(what, cond, timeout, every=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s: {what}")

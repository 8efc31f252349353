"""pytest + labgrid fixtures of the HIL harness: the board (labgrid target, strategy, shell), the
lab host (camera, broker, relay watcher, the board's API) and the report.

Run through hil/run.sh, which prepares the board and passes --lg-env.
"""
import os
import statistics
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab"))
import host  # noqa: E402

RESULTS = []  # (scenario, outcome, seconds, notes)
MEASURES = {}  # name -> list of values
NOTES = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        name = report.nodeid.split("::")[-1]
        RESULTS.append((name, report.outcome, report.duration, NOTES.pop(name, "")))


def pytest_sessionfinish(session):
    out = os.environ.get("LG_HIL_OUT")
    if not out:
        return
    os.makedirs(out, exist_ok=True)
    lines = ["# boomgate HIL report", "",
             f"Board: {os.environ.get('LG_HIL_BOARD', '?')}, "
             f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "| scenario | result | time | notes |", "|---|---|---|---|"]
    for name, outcome, secs, notes in RESULTS:
        lines.append(f"| {name} | {outcome} | {secs:.0f} s | {notes} |")
    lines += ["", "## Measured", "", "| measure | n | p50 | p95 | max |", "|---|---|---|---|---|"]
    for name, values in MEASURES.items():
        if values:
            v = sorted(values)
            p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
            lines.append(f"| {name} | {len(v)} | {statistics.median(v):.0f} | {p95:.0f} | {v[-1]:.0f} |")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


class Report:
    """What a scenario measured, for the markdown report."""

    def __init__(self, name):
        self.name = name

    def measure(self, what, value):
        MEASURES.setdefault(what, []).append(value)

    def note(self, text):
        NOTES[self.name] = (NOTES.get(self.name, "") + " " + text).strip()


@pytest.fixture
def report(request):
    return Report(request.node.name)


class Lab:
    def __init__(self, target):
        cfg = target.env.config
        opt = lambda name, default=None: cfg.get_target_option(target.name, name, default)  # noqa: E731
        self.board = opt("board")
        self.work = os.environ["LG_HIL_WORK"]
        self.clips = os.environ.get("LG_HIL_CLIPS", os.path.join(self.work, "clips"))
        self.site = "hil"
        self.broker = host.Broker(self.work, int(os.environ["LG_MQTT_PORT"]), self.site)
        self.camera = host.Camera(self.work, int(os.environ["LG_RTSP_PORT"]))
        if self.board == "qemu":
            self.relay = host.UdpRelayWatcher(int(os.environ["LG_RELAY_PORT"]))
        else:
            self.relay = host.GpioRelayWatcher(opt("relay_watch_chip"), int(opt("relay_watch_line")))
        self.api = host.BoardApi(opt("api"))

    def clip(self, name, plates, **kw):
        mp4, truth = host.clip(name, plates, self.clips, **kw)
        return mp4, mp4[:-4] + ".json", truth

    def play(self, name, plates, **kw):
        """Serve a scenario clip; returns (host time it started, truth)."""
        mp4, truth_path, truth = self.clip(name, plates, **kw)
        t = time.time()
        self.camera.play(mp4, truth_path)
        return t, truth


@pytest.fixture(scope="session")
def lab(target):
    lab = Lab(target)
    lab.broker.start()
    yield lab
    lab.camera.stop()
    lab.broker.stop()


@pytest.fixture(scope="session")
def strategy(target):
    return target.get_driver("Strategy")


@pytest.fixture
def shell(strategy, target):
    strategy.transition("shell")
    return target.get_driver("ShellDriver")


@pytest.fixture(autouse=True)
def journal_on_failure(request, target):
    """A failed scenario leaves the board's side of the story next to the report: the daemon's
    journal since the scenario started, in out/hil/journal-<scenario>.txt."""
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 5))
    yield
    rep = getattr(request.node, "rep_call", None)
    out = os.environ.get("LG_HIL_OUT")
    if not (rep and rep.failed and out):
        return
    path = os.path.join(out, f"journal-{request.node.name}.txt")
    try:
        shell = target.get_driver("ShellDriver")
        # The board's clock is UTC (no RTC offset in the image), like this timestamp.
        lines, _, _ = shell.run(f"journalctl --no-pager -o short-precise -u boomgate "
                                f"--since '{since}' | tail -n 400", timeout=60)
        text = "\n".join(lines)
    except Exception as e:  # the board may be down; say so rather than hide the failure
        text = f"journal not available: {e}"
    with open(path, "w") as f:
        f.write(text + "\n")

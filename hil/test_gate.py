"""The gate scenarios, run in this order against one board (QEMU or a bench Pi 4).

Each scenario serves its own generated clip (known plates) from the lab host's RTSP server and
judges the board by what a site would notice: relay edges seen by the lab's watcher, events in
the board's API, events delivered to the lab's MQTT broker.
"""
import time

from host import wait_until

BOOT_TIMEOUT = 600
READ_TIMEOUT = 300  # emulated (TCG) inference is slow; a real Pi 4 needs a fraction of this
ALLOWED = {"QRS5678", "RIO3B45", "ABC1234", "BRA2E19", "7KTR481"}


def active(shell):
    out, _, _ = shell.run("systemctl --no-pager show -p ActiveState -p SubState boomgate")
    return "ActiveState=active" in out and "SubState=running" in out


def vehicle(event):
    """The plate of the car an event is about: the allow-list entry it matched (a read one OCR
    confusion away still opens the gate for that car), else the plate as read."""
    entry = event["decision"].get("matched_entry")
    return entry["plate"] if entry else event["plate"]


def new_events(lab, known, plates=None, count=1, timeout=READ_TIMEOUT):
    """Waits until `count` events not in `known` (of `plates`, if given) are stored. On a
    timeout the error says what the board did meanwhile: the events it did store (a misread
    shows there) and how its frame, detection and OCR counters moved (a stall shows there)."""
    before = lab.api.counters()

    def fresh():
        evs = [e for e in lab.api.events_or_empty() if e["event_id"] not in known]
        if plates is not None:
            evs = [e for e in evs if vehicle(e) in plates]
        return evs if len(evs) >= count else None
    try:
        return wait_until(f"{count} new event(s) of {plates or 'any plate'}", fresh, timeout)
    except AssertionError as e:
        other = [(ev["plate"], round(ev.get("confidence") or 0, 2), ev["decision"]["action"])
                 for ev in lab.api.events_or_empty() if ev["event_id"] not in known]
        after = lab.api.counters()
        moved = {k: round(after[k] - before.get(k, 0.0), 1) for k in after}
        raise AssertionError(f"{e}; events stored meanwhile (plate, confidence, action): {other}; "
                             f"board counters moved by {moved}") from None


def ids(lab):
    return {e["event_id"] for e in lab.api.events()}


def glass_to_relay(lab, since, plates, report):
    """Glass-to-relay latency per allowed vehicle: from the camera sending the first frame that
    shows its plate to the relay's rising edge seen by the lab's watcher."""
    edges = lab.relay.rising(since)
    out = []
    for t_glass, plate in lab.camera.plate_frames():
        if t_glass < since or plate not in plates:
            continue
        later = [t for t in edges if t >= t_glass]
        if later:
            ms = (later[0] - t_glass) * 1000.0
            out.append(ms)
            report.measure("glass-to-relay ms", ms)
    return out


def test_boot_to_ready(strategy, shell, lab, report):
    wait_until("boomgate.service active (READY=1)", lambda: active(shell), BOOT_TIMEOUT, every=3)
    report.measure("power-on to READY s", time.time() - strategy.powered_on_at)
    out, _, _ = shell.run("gpioinfo gpiochip0")
    assert any("output" in l and "boomgate" in l for l in out), f"relay line not held: {out}"
    states = lab.relay.states()
    assert states and all(s != "hi" for _, s in states), f"relay active during boot: {states[-5:]}"
    report.note(f"READY {time.time() - strategy.powered_on_at:.0f} s after power-on")


def test_allowed_plates_open_the_barrier(shell, lab, report):
    known = ids(lab)
    plates = ["QRS5678", "RIO3B45", "ABC1234"]
    since, _ = lab.play("allowed", "QRS5678:br-old,RIO3B45:br-mercosul,ABC1234:br-old")
    events = new_events(lab, known, set(plates), count=3)
    time.sleep(3)
    lab.camera.stop()
    for e in events:
        assert e["decision"]["action"] == "open", e["decision"]
        assert e["relay"]["outcome"] == "pulsed", e["relay"]
    assert len(lab.relay.rising(since)) == 3, lab.relay.states(since)
    lat = glass_to_relay(lab, since, set(plates), report)
    assert len(lat) == 3, lat
    report.note("glass-to-relay " + ", ".join(f"{v:.0f} ms" for v in lat))


def test_denied_plate_does_not_open(shell, lab, report):
    known = ids(lab)
    since, _ = lab.play("denied", "KLM2T08:br-mercosul")
    (event,) = new_events(lab, known, {"KLM2T08"})
    time.sleep(3)
    lab.camera.stop()
    assert event["decision"]["action"] == "deny" and event["decision"]["reason"] == "not_listed"
    assert lab.relay.rising(since) == [], lab.relay.states(since)


def test_same_car_twice_within_cooldown_opens_once(shell, lab, report):
    known = ids(lab)
    # 14 s of empty lane between the passes: longer than the board's max_gap_ms (10 s), so the
    # second pass is a new vehicle to the tracker, and well inside the 60 s plate cooldown.
    since, _ = lab.play("twice", "BRA2E19:br-mercosul,BRA2E19:br-mercosul", gap_s=14)
    events = new_events(lab, known, {"BRA2E19"}, count=2)
    time.sleep(3)
    lab.camera.stop()
    actions = sorted((e["decision"]["action"], e["decision"]["reason"]) for e in events)
    assert [a for a, _ in actions].count("open") == 1, actions
    assert any(r == "cooldown" for _, r in actions), actions
    assert len(lab.relay.rising(since)) == 1, lab.relay.states(since)
    glass_to_relay(lab, since, {"BRA2E19"}, report)


def test_broker_outage_and_recovery(shell, lab, report):
    known = ids(lab)
    lab.broker.stop()
    try:
        since, _ = lab.play("broker", "7KTR481:us")
        (event,) = new_events(lab, known, {"7KTR481"})
        lab.camera.stop()
        assert len(lab.relay.rising(since)) == 1, "the gate works while the broker is down"
        assert event["event_id"] not in lab.broker.event_ids()
    finally:
        t = time.time()
        lab.broker.start()  # the later scenarios need it, whatever happened here
    everything = ids(lab)
    wait_until("every stored event delivered after the broker came back",
               lambda: everything <= lab.broker.event_ids(), 180)
    report.note(f"{len(everything)} events delivered {time.time() - t:.0f} s after the broker returned")


def test_camera_loss_and_return(shell, lab, report):
    known = ids(lab)
    lab.play("camera-a", "KLM2T08:br-mercosul")
    new_events(lab, known, {"KLM2T08"})
    lab.camera.stop()

    def camera_state():
        cams = lab.api.get("/api/status").get("cameras", [])
        return cams[0].get("state") if cams else None
    wait_until("the camera shows the outage", lambda: camera_state() not in (None, "streaming"), 60)
    report.note(f"state during the outage: {camera_state()}")
    time.sleep(10)
    known = ids(lab)
    t_back, _ = lab.play("camera-b", "KLM2T08:br-mercosul")
    try:
        new_events(lab, known, {"KLM2T08"}, timeout=READ_TIMEOUT)
    except AssertionError:
        report.note(f"board streams opened {[round(t - t_back, 1) for t in lab.camera.clients()]} s "
                    f"after the camera returned; plate frames sent at "
                    f"{[(round(t - t_back, 1), p) for t, p in lab.camera.plate_frames()]} s")
        raise
    t_read = time.time()
    lab.camera.stop()
    streams = lab.camera.clients()
    assert streams, "the board never reconnected to the camera"
    back_s = streams[0] - t_back
    report.note(f"stream back {back_s:.1f} s and first read {t_read - t_back:.0f} s after the "
                "camera returned")
    report.measure("camera return to stream s", back_s)
    report.measure("camera return to first read s", t_read - t_back)
    assert back_s <= 30, f"the board took {back_s:.0f} s to stream again"
    # The clip starts with gap_s (6 s) of empty lane, so this includes the car's arrival.
    assert t_read - t_back <= 30, f"reads resumed {t_read - t_back:.0f} s after the camera returned"


def test_data_partition_almost_full(shell, lab, report):
    out, _, _ = shell.run("df -B1 --output=avail /var/lib/boomgate | tail -n1")
    avail = int(out[-1])
    out, _, _ = shell.run("du -sb /var/lib/boomgate/media | cut -f1")
    media = int(out[-1])
    before = lab.api.events()
    assert media > 0 and before, "earlier scenarios stored events with images"
    # Leave free space short of min_free_mb (64 MiB) by half of what the stored images take:
    # retention must delete about the older half of the events.
    filler = avail - 64 * 1024 * 1024 + media // 2
    assert filler > 0, (avail, media)
    shell.run(f"fallocate -l {filler} /var/lib/boomgate/filler")
    try:
        known = {e["event_id"] for e in before}
        since, _ = lab.play("full", "RIO3B45:br-mercosul")
        (event,) = new_events(lab, known, {"RIO3B45"})
        lab.camera.stop()
        assert event["decision"]["action"] == "open", event["decision"]
        assert len(lab.relay.rising(since)) == 1, "the gate keeps working with a full disk"
        time.sleep(8)  # the next free-space check after a stored event
        out, _, _ = shell.run("df -B1 --output=avail /var/lib/boomgate | tail -n1")
        after = lab.api.events()
        gone = known - {e["event_id"] for e in after}
        report.note(f"retention deleted {len(gone)} old events; free {int(out[-1]) // 2**20} MiB")
        assert gone, "retention deleted old events"
        # Back to min_free_mb, less what the database and journal wrote after retention ran.
        assert int(out[-1]) >= 63 * 1024 * 1024, "free space back near min_free_mb"
        assert event["event_id"] in {e["event_id"] for e in after}, "the new event is kept"
    finally:
        shell.run("rm -f /var/lib/boomgate/filler")


def test_power_cut_during_traffic(strategy, target, lab, report):
    shell = target.get_driver("ShellDriver")
    known = ids(lab)
    lab.play("power", "QRS5678:br-old,ABC1234:br-old")
    new_events(lab, known, {"QRS5678", "ABC1234"})
    stored = ids(lab)
    t_cut = time.time()
    strategy.transition("off")  # QEMU: the VM is killed; bench: the PDU cuts the power
    lab.camera.stop()
    strategy.transition("shell")
    wait_until("boomgate.service active after the power cut", lambda: active(shell), BOOT_TIMEOUT, every=3)
    report.note(f"back {time.time() - t_cut:.0f} s after the cut")
    report.measure("power-on to READY s", time.time() - strategy.powered_on_at)
    states = lab.relay.states(t_cut)
    assert states and all(s != "hi" for _, s in states), f"relay active after power-on: {states}"
    assert stored <= ids(lab), "every event stored before the cut is still there"
    wait_until("every stored event delivered after the power cut",
               lambda: stored <= lab.broker.event_ids(), 180)

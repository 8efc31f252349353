"""The QEMU board of the HIL harness: copies of the qemu image's disks, prepared for the lab.

Test-only changes go into the copy of the root filesystem with debugfs (no mounts): the lab
config (camera = the lab's RTSP server, broker = the lab's mosquitto, relay = PL061 line 5),
autologin on the serial console (labgrid's shell, without bracketed paste), and the relay observer, which reads the line
from gpiolib's debugfs view and sends every state to the lab host by UDP (and repeats it every
second, so a datagram lost while the network comes up does no harm).

    python3 hil/lab/qemu_board.py IMAGE_DIR WORK   (ports from LG_MQTT_PORT, LG_RTSP_PORT, LG_RELAY_PORT)
"""
import os
import shutil
import sys

HIL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(HIL), "tests", "system"))
from qemu_system_test import make_data_disk, prepare_root  # noqa: E402

RELAY_LINE = 5  # line 3 is the gpio-keys power button
HOST = "10.0.2.2"  # the lab host as QEMU's user network shows it to the guest
# Allowed plates of the scenarios; anything else is denied (not listed).
ALLOWED = ["QRS5678", "RIO3B45", "ABC1234", "BRA2E19", "7KTR481"]
MIN_FREE_MB = 64


def board_config(mqtt_port, rtsp_port):
    return f"""# boomgate config of the HIL QEMU board (hil/lab/qemu_board.py)
[site]
id = "hil"
name = "HIL QEMU board"

[[cameras]]
id = "lane"
url = "rtsp://{HOST}:{rtsp_port}/cam"
rtsp_transport = "tcp"
relay = "gate"
reconnect_max_s = 2
# Emulated (TCG) decoding is slow: a wider margin than the 15 s default before a silent stream
# is reconnected. One frame's analysis can take tens of seconds there: not a stuck daemon.
frame_timeout_s = 30
analysis_timeout_s = 300

# Emulated (TCG) inference analyses a frame every second or more: keep tracks open across
# such gaps, or no track ever collects the reads it needs.
[tracker]
max_gap_ms = 10000

[access]
import_csv = "/var/lib/boomgate/hil/allowlist.csv"
plate_cooldown_s = 60

[[relays]]
id = "gate"
driver = "gpio"
chip = "gpiochip0"
line = {RELAY_LINE}
pulse_ms = 800
max_pulse_ms = 3000
cooldown_ms = 1000

[storage]
data_dir = "/var/lib/boomgate"
max_disk_mb = 0
min_free_mb = {MIN_FREE_MB}

[http]
listen = "0.0.0.0:8080"

[mqtt]
enabled = true
url = "mqtt://{HOST}:{mqtt_port}"
client_id = "boomgate-hil"
status_interval_s = 10
"""


OBSERVER = r"""#!/bin/bash
# HIL relay observer: the relay line as gpiolib sees it (debugfs), sent to the lab host by UDP.
line="$1"; host="$2"; port="$3"; prev=""; last=0
while :; do
  state=released; base=""
  while IFS= read -r l; do
    case "$l" in
      gpiochip0:*) base="${l#*GPIOs }"; base="${base%%-*}" ;;
      *" gpio-$(( ${base:-0} + line )) "*)
        case "$l" in *" out hi"*) state=hi ;; *" out lo"*) state=lo ;; *) state=other ;; esac ;;
    esac
  done < /sys/kernel/debug/gpio
  now=$SECONDS
  if [ "$state" != "$prev" ] || [ "$now" != "$last" ]; then
    read -r up _ < /proc/uptime
    echo "$up $state" 2>/dev/null > "/dev/udp/$host/$port"
    prev="$state"; last=$now
  fi
  sleep 0.02
done
"""


def prepare(image_dir, work, mqtt_port, rtsp_port, relay_port):
    os.makedirs(work, exist_ok=True)
    for f in ("vmlinuz", "initrd.img"):
        shutil.copy(os.path.join(image_dir, f), os.path.join(work, f))
    unit = f"""[Unit]
Description=HIL relay observer
After=sys-kernel-debug.mount
Before=boomgate.service

[Service]
ExecStart=/usr/local/bin/relay-observer {RELAY_LINE} {HOST} {relay_port}

[Install]
WantedBy=multi-user.target
"""
    # Bracketed-paste escapes around the prompt would hide it from labgrid's ShellDriver.
    inputrc = ("inputrc", "set enable-bracketed-paste off\n", "/root/.inputrc")
    _, uid, gid = prepare_root(image_dir, work, board_config(mqtt_port, rtsp_port),
                               "relay-observer", OBSERVER, unit, extra=[inputrc])
    tree = os.path.join(work, "data-tree")
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(os.path.join(tree, "hil"))
    with open(os.path.join(tree, "hil", "allowlist.csv"), "w") as f:
        f.write("plate,list,label,valid_from,valid_until,schedule,relays\n")
        for p in ALLOWED:
            f.write(f"{p},allow,HIL,,,,\n")
    make_data_disk(work, tree, uid, gid, "256M")


if __name__ == "__main__":
    prepare(sys.argv[1], sys.argv[2], int(os.environ["LG_MQTT_PORT"]),
            int(os.environ["LG_RTSP_PORT"]), int(os.environ["LG_RELAY_PORT"]))

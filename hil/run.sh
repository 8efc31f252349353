#!/usr/bin/env bash
# Run the HIL gate scenarios against a board.
#
#   hil/run.sh qemu [PYTEST_ARGS...]    the qemu image (sudo scripts/build-image.sh qemu first)
#   hil/run.sh rpi4 [PYTEST_ARGS...]    a bench Raspberry Pi 4 (hil/README.md)
#
# Results: out/hil/junit.xml and out/hil/report.md (scenarios, glass-to-relay latency p50/p95/max).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${BOOMGATE_CACHE:-$REPO/.cache}"
BOARD="${1:?usage: hil/run.sh qemu|rpi4 [pytest args]}"
shift
[ -f "$REPO/hil/env/$BOARD.yaml" ] || { echo "hil: no environment hil/env/$BOARD.yaml" >&2; exit 2; }

# labgrid and pytest from PyPI, on Debian's python3 so that PyGObject (python3-gi) is visible.
VENV="$CACHE/venv-hil"
if ! cmp -s "$REPO/hil/requirements.txt" "$VENV/.requirements" 2>/dev/null; then
  echo "[hil] creating $VENV" >&2
  rm -rf "$VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/hil/requirements.txt"
  cp "$REPO/hil/requirements.txt" "$VENV/.requirements"
fi

OUT="$REPO/out/hil"
rm -rf "$OUT"
mkdir -p "$OUT"
export LG_HIL_OUT="$OUT" LG_HIL_BOARD="$BOARD" LG_HIL_CLIPS="$CACHE/hil-clips"
export LG_HIL_WORK="$OUT/work"
mkdir -p "$LG_HIL_WORK"
read -r LG_HTTP_PORT LG_MQTT_PORT LG_RTSP_PORT LG_RELAY_PORT < <(/usr/bin/python3 - <<'PY'
import socket
socks = []
for kind in (socket.SOCK_STREAM,) * 3 + (socket.SOCK_DGRAM,):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*[s.getsockname()[1] for s in socks])
PY
)
export LG_HTTP_PORT LG_MQTT_PORT LG_RTSP_PORT LG_RELAY_PORT
if [ "$BOARD" = qemu ]; then
  IMAGE="$REPO/out/image-qemu"
  [ -f "$IMAGE/root.ext4" ] || { echo "hil: $IMAGE is missing: sudo scripts/build-image.sh qemu" >&2; exit 1; }
  /usr/bin/python3 "$REPO/hil/lab/qemu_board.py" "$IMAGE" "$LG_HIL_WORK"
fi
# An interrupted run must not leave its VM behind (labgrid stops it only on a clean exit).
trap 'pkill -f -- "-kernel $LG_HIL_WORK/vmlinuz" 2>/dev/null || true' EXIT
cd "$REPO/hil"
set +e
"$VENV/bin/python" -m pytest -p no:cacheprovider --lg-env "env/$BOARD.yaml" \
  --junitxml="$OUT/junit.xml" -v test_gate.py "$@"
rc=$?
set -e
[ -f "$OUT/report.md" ] && cat "$OUT/report.md"
# A failed scenario's board journal goes to the log too: CI keeps only what was printed.
for j in "$OUT"/journal-*.txt; do
  [ -f "$j" ] || continue
  echo "=== $(basename "$j") (last 80 lines)"
  tail -n 80 "$j"
done
if [ "$rc" -eq 0 ]; then rm -rf "$LG_HIL_WORK"; fi
exit "$rc"

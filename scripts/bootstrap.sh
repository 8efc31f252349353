#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian/Ubuntu machine: installs what is missing and nothing else.
#
#   scripts/bootstrap.sh            everything the daemon needs to build and run the demo
#   scripts/bootstrap.sh --test     also what the test suite needs (broker, browser, image tools)
#
# Downloads only from Debian/Ubuntu archives, PyPI and crates.io. Slow downloads (the LiteRT wheel,
# Python venvs) are cached under $BOOMGATE_CACHE (default: <repo>/.cache, git-ignored); the cache
# speeds things up but is never required.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${BOOMGATE_CACHE:-$REPO/.cache}"
LITERT_VERSION="$(cat "$REPO/scripts/litert-version")"
WANT_TEST=0
for arg in "$@"; do
  case "$arg" in
    --test) WANT_TEST=1 ;;
    *) echo "bootstrap: unknown argument '$arg' (expected --test)" >&2; exit 2 ;;
  esac
done

log() { printf '[bootstrap] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- Debian packages -------------------------------------------------------------------------
RUNTIME_PKGS=(
  build-essential pkg-config curl ca-certificates unzip python3 python3-venv python3-pip
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-rtsp
  fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf fonts-urw-base35
)
TEST_PKGS=(
  libgstrtspserver-1.0-dev mosquitto mosquitto-clients openssl
  chromium chromium-driver
  # aarch64 cross build, packages, image and its QEMU system test
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static binfmt-support qemu-system-arm
  mmdebstrap arch-test uidmap e2fsprogs dosfstools mtools fdisk cpio kmod bmap-tools file
  # HIL lab host: the RTSP camera (GStreamer's RTSP server through PyGObject)
  python3-gi gir1.2-gst-rtsp-server-1.0
)
missing=()
wanted=("${RUNTIME_PKGS[@]}")
if [ "$WANT_TEST" = 1 ]; then wanted+=("${TEST_PKGS[@]}"); fi
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "Debian packages: all present"
fi
# Tests start their own brokers on free ports; a system broker on 1883 is not wanted.
if [ "$WANT_TEST" = 1 ] && command -v systemctl >/dev/null && systemctl is-active -q mosquitto 2>/dev/null; then
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi

# --- Rust ------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    log "installing the Rust toolchain from Debian (cargo, rustc)"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q cargo rustc
  fi
fi

# --- Python tools (plate renderer, clip generator, model checks) ------------------------------
TOOLS_VENV="$CACHE/venv-tools"
if ! "$TOOLS_VENV/bin/python" -c 'import numpy, PIL' 2>/dev/null \
   || ! cmp -s "$REPO/scripts/requirements-tools.txt" "$TOOLS_VENV/.requirements"; then
  log "creating $TOOLS_VENV"
  rm -rf "$TOOLS_VENV"
  python3 -m venv "$TOOLS_VENV"
  "$TOOLS_VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/scripts/requirements-tools.txt"
  cp "$REPO/scripts/requirements-tools.txt" "$TOOLS_VENV/.requirements"
fi

# --- LiteRT runtime library from the pinned ai-edge-litert wheel -----------------------------
"$REPO/scripts/fetch-litert.sh" "$(uname -m)" "$REPO/.litert"

log "ready (cache: $CACHE)"

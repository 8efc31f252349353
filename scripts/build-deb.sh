#!/usr/bin/env bash
# Build the boomgate Debian package for one architecture with dpkg-deb.
#
#   scripts/build-deb.sh amd64|arm64 [--version V] [--no-build]   -> out/boomgate_V_ARCH.deb
#
# amd64 packages target/release/boomgate (built here unless --no-build); arm64 packages
# target/aarch64-unknown-linux-gnu/release/boomgate (scripts/build-aarch64.sh). --version
# overrides the crate version (the package tests build a newer one to test upgrades).
#
# Layout: /usr/bin/boomgate, /lib/systemd/system/boomgate.service, /etc/boomgate/boomgate.toml
# (conffile), /usr/share/boomgate/models, /usr/share/boomgate/demo, /usr/lib/boomgate/libLiteRt.so,
# a udev rule giving the gpio group the GPIO character devices, and maintainer scripts that create
# the boomgate user (in the gpio and video groups) and enable the service.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARCH="${1:?usage: build-deb.sh amd64|arm64 [--version V] [--no-build]}"
shift
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n1)"
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --version) VERSION="${2:?--version needs a value}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "build-deb: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
log() { printf '[build-deb] %s\n' "$*" >&2; }

case "$ARCH" in
  amd64)
    BIN="$REPO/target/release/boomgate"; LITERT_ARCH=x86_64; LITERT_DIR="$REPO/.litert"; STRIP=strip
    [ "$BUILD" = 1 ] && (cd "$REPO" && cargo build --locked --release --bin boomgate)
    ;;
  arm64)
    BIN="$REPO/target/aarch64-unknown-linux-gnu/release/boomgate"; LITERT_ARCH=aarch64
    LITERT_DIR="$REPO/.litert-aarch64"; STRIP=aarch64-linux-gnu-strip
    [ "$BUILD" = 1 ] && "$REPO/scripts/build-aarch64.sh"
    ;;
  *) echo "build-deb: unsupported architecture '$ARCH' (amd64 | arm64)" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "build-deb: $BIN is missing; build it first" >&2; exit 1; }
"$REPO/scripts/fetch-litert.sh" "$LITERT_ARCH" "$LITERT_DIR"

OUT="$REPO/out"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$OUT"
P="$STAGE/pkg"
install -d "$P/DEBIAN" "$P/usr/bin" "$P/lib/systemd/system" "$P/etc/boomgate" \
  "$P/usr/share/boomgate/models" "$P/usr/share/boomgate/demo" "$P/usr/lib/boomgate" \
  "$P/usr/lib/udev/rules.d" "$P/usr/share/doc/boomgate"
install -m 0755 "$BIN" "$P/usr/bin/boomgate"
# The release profile keeps line tables for local profiling; the package ships without them.
"$STRIP" --strip-debug "$P/usr/bin/boomgate"
install -m 0644 "$REPO/systemd/boomgate.service" "$P/lib/systemd/system/boomgate.service"
install -m 0644 "$REPO/packaging/deb/boomgate.toml" "$P/etc/boomgate/boomgate.toml"
install -m 0644 "$REPO/packaging/deb/60-boomgate-gpio.rules" "$P/usr/lib/udev/rules.d/60-boomgate-gpio.rules"
# Only the models the daemon loads: each sidecar and the .tflite it names.
for sidecar in "$REPO"/models/*.json; do
  model="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model_file"])' "$sidecar")"
  install -m 0644 "$sidecar" "$P/usr/share/boomgate/models/"
  install -m 0644 "$REPO/models/$model" "$P/usr/share/boomgate/models/"
done
install -m 0644 "$REPO/models/README.md" "$P/usr/share/doc/boomgate/MODELS.md"
install -m 0644 "$REPO"/assets/demo/demo-gate.mp4 "$REPO"/assets/demo/allowlist.csv "$P/usr/share/boomgate/demo/"
install -m 0644 "$LITERT_DIR/libLiteRt.so" "$LITERT_DIR/VERSION" "$P/usr/lib/boomgate/"
install -m 0644 "$REPO/README.md" "$REPO/boomgate.example.toml" "$P/usr/share/doc/boomgate/"
cat > "$P/usr/share/doc/boomgate/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: boomgate

Files: *
License: MIT

Files: usr/lib/boomgate/libLiteRt.so
Comment: from the ai-edge-litert $(cat "$REPO/scripts/litert-version") wheel on PyPI
License: Apache-2.0
EOF
for s in postinst prerm postrm; do install -m 0755 "$REPO/packaging/deb/$s" "$P/DEBIAN/$s"; done
echo /etc/boomgate/boomgate.toml > "$P/DEBIAN/conffiles"
size_kb="$(du -sk "$P" | cut -f1)"
cat > "$P/DEBIAN/control" <<EOF
Package: boomgate
Version: $VERSION
Architecture: $ARCH
Maintainer: boomgate developers <boomgate@localhost>
Installed-Size: $size_kb
Section: misc
Priority: optional
Depends: libc6 (>= 2.31), libgcc-s1, adduser, init-system-helpers, systemd,
 libglib2.0-0, libgstreamer1.0-0 (>= 1.22), libgstreamer-plugins-base1.0-0 (>= 1.22),
 gstreamer1.0-plugins-base, gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad,
 gstreamer1.0-libav
Recommends: gpiod
Description: licence-plate gate controller
 Reads licence plates from a camera with LiteRT models, opens the barrier for
 allowed vehicles by pulsing a GPIO relay, keeps every event in SQLite and
 delivers events over MQTT; serves a status page on port 8080.
EOF
deb="$OUT/boomgate_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$P" "$deb" >/dev/null
log "built $deb ($(du -h "$deb" | cut -f1))"

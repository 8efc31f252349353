#!/usr/bin/env bash
# Cross-build boomgate for aarch64-unknown-linux-gnu (Raspberry Pi 4/5, Jetson, the qemu image)
# on an x86_64 Debian/Ubuntu machine, without Docker.
#
#   scripts/build-aarch64.sh            release binary: target/aarch64-unknown-linux-gnu/release/boomgate
#   scripts/build-aarch64.sh --test     also run the unit tests and the LiteRT inference tests
#                                       (shipped models, aarch64 LiteRT) under qemu-aarch64
#
# Toolchain: rustup's aarch64 target and Debian's gcc-aarch64-linux-gnu. The arm64 GStreamer -dev
# packages are not installed into the host's dpkg (libgstreamer-plugins-base1.0-dev is not
# Multi-Arch: same, so its arm64 build would remove the host's); they are unpacked by mmdebstrap
# (variant extract: no maintainer scripts, no emulation) into a sysroot under $BOOMGATE_CACHE, and
# pkg-config and the linker are pointed at it. The sysroot is rebuilt when missing (about a minute).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${BOOMGATE_CACHE:-$REPO/.cache}"
TARGET=aarch64-unknown-linux-gnu
RUN_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --test) RUN_TESTS=1 ;;
    *) echo "build-aarch64: unknown argument '$arg' (expected --test)" >&2; exit 2 ;;
  esac
done
log() { printf '[build-aarch64] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- host tools --------------------------------------------------------------------------------
need=()
for p in gcc-aarch64-linux-gnu mmdebstrap arch-test uidmap qemu-user-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  log "adding rustup target $TARGET"
  rustup target add "$TARGET"
fi

# --- arm64 sysroot -----------------------------------------------------------------------------
SYSROOT_PKGS="libc6-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev"
# Unit tests under qemu-aarch64 load GStreamer's own plugins from the sysroot.
SYSROOT_PKGS+=" gstreamer1.0-plugins-base gstreamer1.0-plugins-good"
key="$(printf '%s\n' bookworm $SYSROOT_PKGS | sha256sum | cut -c1-12)"
SYSROOT="$CACHE/sysroot-arm64-$key"
if [ ! -f "$SYSROOT/.complete" ]; then
  log "unpacking the arm64 sysroot into $SYSROOT"
  rm -rf "$SYSROOT" "$SYSROOT.tmp"
  mkdir -p "$CACHE"
  mmdebstrap --mode=unshare --format=directory --architectures=arm64 --variant=extract \
    --include="$(echo $SYSROOT_PKGS | tr ' ' ',')" bookworm "$SYSROOT.tmp" \
    "http://deb.debian.org/debian bookworm main" \
    "http://deb.debian.org/debian bookworm-updates main" \
    "http://deb.debian.org/debian-security bookworm-security main"
  touch "$SYSROOT.tmp/.complete"
  mv "$SYSROOT.tmp" "$SYSROOT"
fi

# --- cross settings ----------------------------------------------------------------------------
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_SYSROOT_DIR="$SYSROOT"
export PKG_CONFIG_LIBDIR="$SYSROOT/usr/lib/aarch64-linux-gnu/pkgconfig:$SYSROOT/usr/share/pkgconfig"
export PKG_CONFIG_PATH=""
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# --sysroot makes the linker find libc and the GStreamer libraries' own dependencies (glib, orc)
# in the sysroot; the binary itself keeps the standard interpreter and library paths.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=--sysroot=$SYSROOT"
# qemu-aarch64 -L resolves the interpreter and every library path inside the sysroot first.
# The emulated CPU is the Raspberry Pi 4's (no LSE atomics, no dot product): what the prebuilt
# LiteRT library must run on. (QEMU 7.2's default "max" CPU makes LiteRT's int8 kernels find
# nothing.)
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -cpu cortex-a72 -L $SYSROOT"

cd "$REPO"
log "building release binary for $TARGET"
cargo build --locked --release --target "$TARGET" --bin boomgate
file_out="$(file -b "target/$TARGET/release/boomgate" 2>/dev/null || true)"
log "built target/$TARGET/release/boomgate ${file_out:+($file_out)}"

if [ "$RUN_TESTS" = 1 ]; then
  # The aarch64 LiteRT library, for the inference unit tests.
  "$REPO/scripts/fetch-litert.sh" aarch64 "$REPO/.litert-aarch64"
  log "running the unit tests and the LiteRT inference tests under qemu-aarch64 (Cortex-A72)"
  BOOMGATE_LITERT_LIB="$REPO/.litert-aarch64/libLiteRt.so" \
  GST_PLUGIN_SYSTEM_PATH="$SYSROOT/usr/lib/aarch64-linux-gnu/gstreamer-1.0" \
  GST_REGISTRY_FORK=no GST_REGISTRY="$REPO/target/$TARGET/gst-registry.bin" \
    cargo test --locked --release --target "$TARGET" --lib --test inference_runtime --test inference_models
fi

#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite: unit and integration tests against
# real GStreamer, LiteRT, SQLite, mosquitto and HTTP, including the slow ones that `cargo test`
# skips for daily work (marked #[ignore]: browser, long clips, system tests); then the appliance:
# the aarch64 cross build and its unit tests under qemu-aarch64, the arm64 and amd64 packages
# (install, upgrade, purge), the qemu and rpi4 images, the QEMU system test, and the HIL gate
# scenarios (hil/) on the QEMU board.
#
#   scripts/test.sh               everything (what CI runs)
#   scripts/test.sh --no-image    skip the appliance part
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WITH_IMAGE=1
for arg in "$@"; do
  case "$arg" in
    --no-image) WITH_IMAGE=0 ;;
    *) echo "test.sh: unknown argument '$arg' (expected --no-image)" >&2; exit 2 ;;
  esac
done
"$REPO/scripts/bootstrap.sh" --test
cd "$REPO"
export PATH="$HOME/.cargo/bin:$PATH"
export BOOMGATE_CACHE="${BOOMGATE_CACHE:-$REPO/.cache}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo --preserve-env=BOOMGATE_CACHE,PATH"; fi
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

base_pid=""
if [ "$WITH_IMAGE" = 1 ]; then
  # The image's base root filesystems take minutes when not cached (arm64 packages are configured
  # under emulation, mostly on one core): build them while cargo compiles.
  mkdir -p target
  ( $SUDO scripts/image/base-rootfs.sh arm64 && $SUDO scripts/image/base-rootfs.sh amd64 ) \
    > target/base-rootfs.log 2>&1 &
  base_pid=$!
fi

step "build"
cargo build --locked --all-targets
step "tests (all tiers)"
cargo test --locked --no-fail-fast -- --include-ignored

if [ "$WITH_IMAGE" = 1 ]; then
  step "aarch64: cross build, unit tests under qemu-aarch64"
  scripts/build-aarch64.sh --test
  step "packages: arm64 and amd64"
  scripts/build-deb.sh arm64 --no-build
  scripts/build-deb.sh amd64
  step "base root filesystems"
  if ! wait "$base_pid"; then cat target/base-rootfs.log; exit 1; fi
  tail -n 3 target/base-rootfs.log
  step "packages: install, upgrade, purge (chroot)"
  $SUDO tests/system/deb_lifecycle_test.sh amd64
  $SUDO tests/system/deb_lifecycle_test.sh arm64
  step "images: rpi4 (structure) and qemu"
  $SUDO scripts/build-image.sh rpi4
  tests/system/rpi4_image_check.sh out/image-rpi4/boomgate-rpi4.img
  $SUDO scripts/build-image.sh qemu
  step "QEMU system test"
  python3 tests/system/qemu_system_test.py
  step "HIL scenarios on the QEMU board"
  hil/run.sh qemu
fi
step "done"

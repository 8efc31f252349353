#!/usr/bin/env bash
# Print the path of the cached Debian bookworm base root filesystem (a tarball) for ARCH, building
# it first when missing: mmdebstrap (unshare mode) with the packages in scripts/image/packages.txt.
# For arm64 the packages are configured under qemu-user binfmt emulation (minutes, hence the
# cache). The cache key is a hash of the package list; the cache is never required.
#   base-rootfs.sh arm64|amd64
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${BOOMGATE_CACHE:-$REPO/.cache}"
ARCH="${1:?usage: base-rootfs.sh arm64|amd64}"
PKGS="$(sed 's/#.*//' "$REPO/scripts/image/packages.txt" | xargs)"
key="$(printf '%s\n' "bookworm $ARCH apt" "$PKGS" | sha256sum | cut -c1-12)"
BASE="$CACHE/image/base-$ARCH-$key.tar"
ensure_binfmt() {
  # Foreign packages are configured through the qemu-user binfmt handler (flag F: usable inside
  # the chroot); a container may need binfmt_misc mounted first.
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  fi
  if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$1" ]; then
    update-binfmts --enable "qemu-$1" >/dev/null 2>&1 || true
  fi
  if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$1" ]; then
    echo "[base-rootfs] the qemu-$1 binfmt handler is not registered (needs qemu-user-static and binfmt-support, and root to mount binfmt_misc)" >&2
    exit 1
  fi
}
case "$ARCH" in
  arm64) [ "$(uname -m)" = aarch64 ] || ensure_binfmt aarch64 ;;
  amd64) [ "$(uname -m)" = x86_64 ] || ensure_binfmt x86_64 ;;
esac
if [ ! -f "$BASE" ]; then
  echo "[base-rootfs] building $BASE (mmdebstrap, $ARCH)" >&2
  mkdir -p "$CACHE/image"
  rm -f "$CACHE/image/base-$ARCH-"*.tar "$CACHE/image/base-$ARCH-"*.tar.tmp
  t0=$(date +%s)
  mmdebstrap --mode=unshare --format=tar --architectures="$ARCH" --variant=apt --include="${PKGS// /,}" \
    bookworm "$BASE.tmp" \
    "http://deb.debian.org/debian bookworm main" \
    "http://deb.debian.org/debian bookworm-updates main" \
    "http://deb.debian.org/debian-security bookworm-security main" >&2
  mv "$BASE.tmp" "$BASE"
  echo "[base-rootfs] built in $(( $(date +%s) - t0 )) s" >&2
fi
echo "$BASE"

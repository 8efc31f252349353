#!/usr/bin/env bash
# Install, upgrade, disable-survives-upgrade, purge and reinstall of the boomgate .deb in a chroot
# of the image's base root filesystem (Debian bookworm; arm64 runs under qemu-user binfmt).
#
#   tests/system/deb_lifecycle_test.sh arm64|amd64 [DEB]
#
# DEB defaults to out/boomgate_VERSION_ARCH.deb. An "older" package (VERSION~old, same files) is
# built to upgrade from. Inside the chroot the packaged binary also checks the shipped config and
# reads a plate from a still image with the packaged models and LiteRT library. Needs root.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARCH="${1:?usage: deb_lifecycle_test.sh arm64|amd64 [DEB]}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n1)"
DEB="${2:-$REPO/out/boomgate_${VERSION}_${ARCH}.deb}"
[ -f "$DEB" ] || { echo "deb-test: $DEB is missing (scripts/build-deb.sh $ARCH)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "deb-test: run as root (chroot)" >&2; exit 1; }
fails=0
ok() { echo "[deb-test $ARCH] ok: $*"; }
bad() { echo "[deb-test $ARCH] FAIL: $*"; fails=$((fails + 1)); }
expect() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

BASE="$("$REPO/scripts/image/base-rootfs.sh" "$ARCH")"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/boomgate-debtest.XXXXXX")"
R="$work/root"
trap 'umount "$R/proc" "$R/sys" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$R"
tar -C "$R" --numeric-owner -xpf "$BASE"
# LiteRT's CPU backend (cpuinfo) reads /proc/cpuinfo and /sys/devices/system/cpu.
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
# arm64 runs under qemu-user: emulate the Raspberry Pi 4's CPU. (QEMU 7.2's default "max" CPU,
# with SVE and the newer int8 extensions, makes LiteRT's int8 kernels find no plates at all.)
export QEMU_CPU=cortex-a72
in_root() { chroot "$R" "$@"; }

# The older package: the same files, a lower version.
old_stage="$work/old"
dpkg-deb -R "$DEB" "$old_stage"
sed -i "s/^Version: .*/Version: ${VERSION}~old/" "$old_stage/DEBIAN/control"
dpkg-deb --root-owner-group --build "$old_stage" "$work/old.deb" >/dev/null
cp "$DEB" "$R/tmp/new.deb"
cp "$work/old.deb" "$R/tmp/old.deb"
cp "$REPO/tests/fixtures/plates/scene_9494SV.jpg" "$R/tmp/scene.jpg"

echo "[deb-test $ARCH] install ${VERSION}~old"
in_root dpkg -i /tmp/old.deb
expect "version ${VERSION}~old installed" [ "$(in_root dpkg-query -W -f='${Version}' boomgate)" = "${VERSION}~old" ]
expect "system user boomgate exists" in_root getent passwd boomgate
groups_of="$(in_root id -nG boomgate)"
expect "boomgate is in the gpio and video groups ($groups_of)" \
  bash -c "grep -qw gpio <<<'$groups_of' && grep -qw video <<<'$groups_of'"
expect "boomgate.service enabled" in_root systemctl is-enabled --quiet boomgate.service
expect "config is root:boomgate 0640" [ "$(in_root stat -c '%U:%G %a' /etc/boomgate/boomgate.toml)" = "root:boomgate 640" ]
expect "data folder owned by boomgate" [ "$(in_root stat -c '%U %a' /var/lib/boomgate)" = "boomgate 750" ]
expect "models installed" test -f "$R/usr/share/boomgate/models/plate-detector.json" -a -f "$R/usr/share/boomgate/models/plate-ocr.tflite"
expect "LiteRT library installed" test -f "$R/usr/lib/boomgate/libLiteRt.so"
expect "udev rule installed" test -f "$R/usr/lib/udev/rules.d/60-boomgate-gpio.rules"

echo "# edited by the installer" >> "$R/etc/boomgate/boomgate.toml"
echo "[deb-test $ARCH] upgrade to $VERSION"
in_root dpkg -i --force-confdef --force-confold /tmp/new.deb
expect "version $VERSION installed" [ "$(in_root dpkg-query -W -f='${Version}' boomgate)" = "$VERSION" ]
expect "the installer's config edit survived the upgrade" grep -q "edited by the installer" "$R/etc/boomgate/boomgate.toml"
expect "still enabled after the upgrade" in_root systemctl is-enabled --quiet boomgate.service
out="$(in_root /usr/bin/boomgate --version 2>&1 || true)"
litert="$(cat "$REPO/scripts/litert-version")"
if grep -q "LiteRT: $litert" <<<"$out"; then
  ok "boomgate --version finds the packaged LiteRT $litert: $(echo "$out" | tr '\n' ' ')"
else
  bad "boomgate --version: $out"
fi
expect "the shipped config passes check-config" in_root /usr/bin/boomgate check-config /etc/boomgate/boomgate.toml
read_json="$(in_root /usr/bin/boomgate recognize --json /tmp/scene.jpg 2>&1 || true)"
if grep -q '"text":"9494SV"' <<<"${read_json// /}"; then
  ok "the packaged models and LiteRT read 9494SV from a still"
else
  bad "recognize with the packaged models: $read_json"
fi

echo "[deb-test $ARCH] disable, then reinstall: the operator's choice stays"
in_root systemctl disable --quiet boomgate.service
in_root dpkg -i /tmp/new.deb
expect "still disabled after reinstalling" bash -c "! chroot '$R' systemctl is-enabled --quiet boomgate.service"
in_root systemctl enable --quiet boomgate.service

echo "[deb-test $ARCH] purge"
echo "stored" > "$R/var/lib/boomgate/events.db"
in_root dpkg --purge boomgate
expect "binary removed" test ! -e "$R/usr/bin/boomgate"
expect "config removed" test ! -e "$R/etc/boomgate"
expect "data removed" test ! -e "$R/var/lib/boomgate"
expect "user removed" bash -c "! chroot '$R' getent passwd boomgate"
expect "no enable symlink left" test ! -e "$R/etc/systemd/system/multi-user.target.wants/boomgate.service"

echo "[deb-test $ARCH] install again after purge"
in_root dpkg -i /tmp/new.deb
expect "fresh install after purge" in_root systemctl is-enabled --quiet boomgate.service
expect "fresh config after purge" bash -c "! grep -q 'edited by the installer' '$R/etc/boomgate/boomgate.toml'"

if [ "$fails" -gt 0 ]; then
  echo "[deb-test $ARCH] $fails check(s) failed"
  exit 1
fi
echo "[deb-test $ARCH] PASS"

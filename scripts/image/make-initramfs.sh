#!/usr/bin/env bash
# Build a small initramfs on the host (no emulation, no initramfs-tools): a static arm64 busybox,
# the kernel modules needed to reach the root filesystem (with their dependencies, from
# modules.dep), and an /init that loads them, waits for root= (a device, LABEL= or UUID=), mounts
# it and switches to systemd.
#
#   make-initramfs.sh KTREE KVER OUT.cpio.gz MODULE...
# KTREE is an unpacked linux-image-arm64 + busybox-static tree (depmod is run on it here).
set -euo pipefail
KTREE="${1:?usage: make-initramfs.sh KTREE KVER OUT MODULE...}"
KVER="${2:?}"
OUT="${3:?}"
shift 3
DEPMOD="$(command -v depmod || echo /sbin/depmod)"
MODDIR="$KTREE/lib/modules/$KVER"
[ -f "$MODDIR/modules.dep" ] || "$DEPMOD" -b "$KTREE" "$KVER"

# Resolve names (dashes and underscores are the same to the kernel) to paths, dependencies first.
declare -A seen=()
order=()
path_of() {
  local want="${1//-/_}"
  awk -F: -v w="$want" '{ n=$1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); if (n == w) { print $1; exit } }' "$MODDIR/modules.dep"
}
add() {
  local rel="$1"
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  local deps
  deps="$(awk -F: -v r="$rel" '$1 == r { print $2; exit }' "$MODDIR/modules.dep")"
  for d in $deps; do add "$d"; done
  order+=("$rel")
}
for name in "$@"; do
  rel="$(path_of "$name")"
  if [ -z "$rel" ]; then
    if grep -qE "/${name//_/[-_]}\.ko" "$MODDIR/modules.builtin" 2>/dev/null; then continue; fi
    echo "make-initramfs: module '$name' not found in $MODDIR" >&2; exit 1
  fi
  add "$rel"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,root,etc,lib/modules}
cp "$KTREE/bin/busybox" "$work/bin/busybox"
for rel in "${order[@]}"; do
  mkdir -p "$work/lib/modules/$(dirname "$rel")"
  cp "$MODDIR/$rel" "$work/lib/modules/$rel"
  echo "$rel" >> "$work/etc/modules"
done
touch "$work/etc/modules"
cat > "$work/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null || echo "initramfs: could not load $m"; done < /etc/modules
root=""; mode=ro; fstype=ext4; init=/sbin/init
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="${arg#root=}" ;;
    rootfstype=*) fstype="${arg#rootfstype=}" ;;
    init=*) init="${arg#init=}" ;;
    rw) mode=rw ;;
    ro) mode=ro ;;
  esac
done
tries=0
while :; do
  case "$root" in
    LABEL=*|UUID=*) dev="$(findfs "$root" 2>/dev/null)" ;;
    *) dev="$root" ;;
  esac
  [ -n "$dev" ] && [ -b "$dev" ] && break
  tries=$((tries + 1))
  if [ "$tries" -gt 300 ]; then
    echo "initramfs: root device '$root' did not appear in 30 s"; exec sh
  fi
  sleep 0.1
done
mount -t "$fstype" -o "$mode" "$dev" /root || { echo "initramfs: cannot mount $dev"; exec sh; }
umount /proc /sys
mount --move /dev /root/dev
exec switch_root /root "$init"
INIT
chmod 0755 "$work/init"
(cd "$work" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -9n) > "$OUT"
echo "[make-initramfs] $OUT: ${#order[@]} modules ($(du -h "$OUT" | cut -f1))" >&2

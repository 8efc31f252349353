#!/usr/bin/env bash
# Build the boomgate Debian bookworm arm64 image.
#
#   sudo scripts/build-image.sh qemu   -> out/image-qemu/{root.ext4,data.ext4,vmlinuz,initrd.img,cmdline.txt}
#   sudo scripts/build-image.sh rpi4   -> out/image-rpi4/boomgate-rpi4.img (+ .bmap)
#
# Options: --deb FILE (default out/boomgate_VERSION_arm64.deb, built when missing).
#
# How: mmdebstrap (unshare mode, packages configured under qemu-user binfmt emulation) makes the
# base root filesystem from scripts/image/packages.txt; it is cached under $BOOMGATE_CACHE/image
# by a hash of that list, so a warm build skips it. The kernel, the Pi firmware and a static
# busybox are only unpacked (mmdebstrap --variant=extract: no emulation, no update-initramfs);
# scripts/image/make-initramfs.sh builds a small initramfs on the host. The boomgate .deb is
# installed with dpkg in a chroot, the overlay in scripts/image/overlay is added, and `mke2fs -d`
# turns the tree into ext4 images; the rpi4 disk is assembled with sfdisk, mkfs.vfat and mtools.
# No loop devices and no mounts. Needs root (file ownership in the images, chroot).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${BOOMGATE_CACHE:-$REPO/.cache}"
TARGET="${1:?usage: build-image.sh qemu|rpi4 [--deb FILE]}"
shift
case "$TARGET" in qemu|rpi4) ;; *) echo "build-image: unknown target '$TARGET' (qemu | rpi4)" >&2; exit 2 ;; esac
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n1)"
DEB="$REPO/out/boomgate_${VERSION}_arm64.deb"
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) DEB="${2:?--deb needs a file}"; shift 2 ;;
    *) echo "build-image: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
log() { printf '[build-image] %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { echo "build-image: run as root (sudo): the image's files must be owned by root and the package's user" >&2; exit 1; }
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s"; }

# --- host tools --------------------------------------------------------------------------------
need=()
for p in mmdebstrap arch-test uidmap qemu-user-static binfmt-support e2fsprogs dosfstools mtools fdisk cpio kmod bmap-tools; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
MIRRORS=(
  "http://deb.debian.org/debian bookworm main non-free-firmware"
  "http://deb.debian.org/debian bookworm-updates main non-free-firmware"
  "http://deb.debian.org/debian-security bookworm-security main non-free-firmware"
)
mkdir -p "$CACHE/image"

# --- base root filesystem (cached) -------------------------------------------------------------
BASE="$("$REPO/scripts/image/base-rootfs.sh" arm64)"

# --- kernel, firmware, busybox (unpacked only, cached) -----------------------------------------
KPKGS="linux-image-arm64 busybox-static raspi-firmware"
kernel_key="$(printf '%s\n' "bookworm arm64 extract" "$KPKGS" | sha256sum | cut -c1-12)"
KTREE="$CACHE/image/kernel-arm64-$kernel_key"
if [ ! -f "$KTREE/.complete" ]; then
  log "unpacking the arm64 kernel, Pi firmware and busybox"
  rm -rf "$KTREE" "$KTREE.tmp"
  mmdebstrap --mode=unshare --format=directory --architectures=arm64 --variant=extract --include="${KPKGS// /,}" \
    --components=main,non-free-firmware bookworm "$KTREE.tmp" "${MIRRORS[@]}"
  touch "$KTREE.tmp/.complete"
  mv "$KTREE.tmp" "$KTREE"
fi
KVER="$(ls "$KTREE/lib/modules" | sort -V | tail -n1)"
[ -n "$KVER" ] || { echo "build-image: no kernel modules in $KTREE" >&2; exit 1; }

# --- the boomgate package ----------------------------------------------------------------------
if [ ! -f "$DEB" ]; then
  log "building $DEB"
  "$REPO/scripts/build-deb.sh" arm64
fi

# --- root filesystem tree ----------------------------------------------------------------------
OUT="$REPO/out/image-$TARGET"
rm -rf "$OUT"
mkdir -p "$OUT"
STAGE="$(mktemp -d "${TMPDIR:-/var/tmp}/boomgate-image.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/root"
mkdir -p "$ROOT"
tar -C "$ROOT" --numeric-owner -xpf "$BASE"
# Modules for what udev loads in the running system (virtio NIC and RNG in QEMU; everything on a Pi).
mkdir -p "$ROOT/lib/modules"
cp -a "$KTREE/lib/modules/$KVER" "$ROOT/lib/modules/"
depmod -b "$ROOT" "$KVER"

cp "$DEB" "$ROOT/tmp/boomgate.deb"
chroot "$ROOT" dpkg -i /tmp/boomgate.deb
rm "$ROOT/tmp/boomgate.deb"
cp -a "$REPO/scripts/image/overlay/." "$ROOT/"
chroot "$ROOT" systemctl enable --quiet boomgate-firstboot.service systemd-networkd.service \
  systemd-resolved.service
chroot "$ROOT" systemctl is-enabled --quiet boomgate.service \
  || { echo "build-image: the boomgate package did not enable boomgate.service" >&2; exit 1; }
echo boomgate > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tboomgate\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"
ln -sf /run/systemd/resolve/stub-resolv.conf "$ROOT/etc/resolv.conf"
# Each board makes its own identity at first boot.
rm -f "$ROOT"/etc/ssh/ssh_host_*
: > "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
BOOMGATE_UID="$(awk -F: '$1 == "boomgate" { print $3 }' "$ROOT/etc/passwd")"
BOOMGATE_GID="$(awk -F: '$1 == "boomgate" { print $4 }' "$ROOT/etc/passwd")"
[ -n "$BOOMGATE_UID" ] || { echo "build-image: the package did not create the boomgate user" >&2; exit 1; }
case "$TARGET" in
  qemu)
    ROOTDEV="LABEL=boomgate-root"
    cat > "$ROOT/etc/fstab" <<EOF
# boomgate image (qemu): root and the writable data partition, found by label.
LABEL=boomgate-root  /                  ext4  defaults,noatime          0 1
LABEL=boomgate-data  /var/lib/boomgate  ext4  defaults,noatime,commit=5 0 2
EOF
    ;;
  rpi4)
    ROOTDEV="LABEL=boomgate-root"
    cat > "$ROOT/etc/fstab" <<EOF
# boomgate image (Raspberry Pi 4): boot (firmware, kernel), root, and the writable data partition.
LABEL=boomgate-root  /                  ext4  defaults,noatime          0 1
LABEL=boomgate-data  /var/lib/boomgate  ext4  defaults,noatime,commit=5 0 2
LABEL=BGBOOT         /boot/firmware     vfat  defaults,noatime,nofail   0 2
EOF
    mkdir -p "$ROOT/boot/firmware"
    ;;
esac

# --- initramfs ---------------------------------------------------------------------------------
if [ "$TARGET" = qemu ]; then
  INITRD_MODULES=(virtio_mmio virtio_blk ext4 crc32c_generic)
else
  INITRD_MODULES=(sdhci_iproc bcm2835 ext4 crc32c_generic)
fi
"$REPO/scripts/image/make-initramfs.sh" "$KTREE" "$KVER" "$STAGE/initrd.img" "${INITRD_MODULES[@]}"

# --- filesystems -------------------------------------------------------------------------------
root_mb=$(( $(du -sm "$ROOT" | cut -f1) * 5 / 4 + 256 ))
data_mb=${BOOMGATE_DATA_MB:-1024}
log "making root.ext4 (${root_mb} MiB) and data.ext4 (${data_mb} MiB)"
mke2fs -q -F -t ext4 -L boomgate-root -d "$ROOT" -E root_owner=0:0 "$STAGE/root.ext4" "${root_mb}M"
mkdir -p "$STAGE/data"
mke2fs -q -F -t ext4 -L boomgate-data -d "$STAGE/data" -E "root_owner=$BOOMGATE_UID:$BOOMGATE_GID" \
  "$STAGE/data.ext4" "${data_mb}M"
CMDLINE="root=$ROOTDEV rootfstype=ext4 ro rootwait"

case "$TARGET" in
  qemu)
    mv "$STAGE/root.ext4" "$STAGE/data.ext4" "$STAGE/initrd.img" "$OUT/"
    cp "$KTREE/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
    echo "$CMDLINE console=ttyAMA0" > "$OUT/cmdline.txt"
    ;;
  rpi4)
    BOOT="$STAGE/boot.vfat"
    boot_mb=256
    mkfs.vfat -C -F 32 -n BGBOOT "$BOOT" $(( boot_mb * 1024 )) >/dev/null
    FW="$KTREE/usr/lib/raspi-firmware"
    DTBS="$KTREE/usr/lib/linux-image-$KVER/broadcom"
    mcopy -i "$BOOT" "$FW/start4.elf" "$FW/fixup4.dat" "$FW/start4x.elf" "$FW/fixup4x.dat" ::/
    mcopy -i "$BOOT" "$DTBS"/bcm2711-rpi-4-b.dtb "$DTBS"/bcm2711-rpi-400.dtb "$DTBS"/bcm2711-rpi-cm4-io.dtb ::/
    mcopy -i "$BOOT" "$KTREE/boot/vmlinuz-$KVER" ::/vmlinuz
    mcopy -i "$BOOT" "$STAGE/initrd.img" ::/initrd.img
    mcopy -i "$BOOT" "$REPO/scripts/image/config.txt" ::/config.txt
    echo "console=ttyS1,115200 console=tty0 $CMDLINE fsck.repair=yes net.ifnames=0" > "$STAGE/cmdline.txt"
    mcopy -i "$BOOT" "$STAGE/cmdline.txt" ::/cmdline.txt
    # Partition table: boot (FAT32, LBA), root, data; 4 MiB aligned.
    IMG="$OUT/boomgate-rpi4.img"
    root_sz=$(( $(stat -c %s "$STAGE/root.ext4") / 512 ))
    data_sz=$(( $(stat -c %s "$STAGE/data.ext4") / 512 ))
    boot_start=8192; boot_sz=$(( boot_mb * 2048 ))
    root_start=$(( boot_start + boot_sz ))
    data_start=$(( (root_start + root_sz + 8191) / 8192 * 8192 ))
    total=$(( data_start + data_sz + 8192 ))
    truncate -s $(( total * 512 )) "$IMG"
    sfdisk -q "$IMG" <<EOF
label: dos
label-id: 0xb0039a7e
start=$boot_start, size=$boot_sz, type=c, bootable
start=$root_start, size=$root_sz, type=83
start=$data_start, size=$data_sz, type=83
EOF
    dd if="$BOOT" of="$IMG" bs=512 seek=$boot_start conv=notrunc,sparse status=none
    dd if="$STAGE/root.ext4" of="$IMG" bs=512 seek=$root_start conv=notrunc,sparse status=none
    dd if="$STAGE/data.ext4" of="$IMG" bs=512 seek=$data_start conv=notrunc,sparse status=none
    bmaptool -q create -o "$IMG.bmap" "$IMG"
    ;;
esac
log "image ready in $OUT ($(elapsed)): $(ls "$OUT" | tr '\n' ' ')"

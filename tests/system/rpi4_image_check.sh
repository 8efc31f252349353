#!/usr/bin/env bash
# Structural check of the Raspberry Pi 4 image (booting it needs the board): partition table,
# boot partition files and firmware config, the initramfs, and the root and data filesystems.
# No mounts: mtools reads the FAT partition, debugfs the ext4 ones.
#
#   tests/system/rpi4_image_check.sh out/image-rpi4/boomgate-rpi4.img
set -euo pipefail
IMG="${1:?usage: rpi4_image_check.sh IMAGE}"
[ -f "$IMG" ] || { echo "rpi4-check: $IMG is missing (scripts/build-image.sh rpi4)" >&2; exit 1; }
fails=0
ok() { echo "[rpi4-check] ok: $*"; }
bad() { echo "[rpi4-check] FAIL: $*"; fails=$((fails + 1)); }
expect() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Partition table: boot (FAT32 LBA, bootable), root and data (Linux), in that order.
sfdisk --json "$IMG" > "$work/pt.json"
read -r -a parts < <(python3 - "$work/pt.json" <<'PY'
import json, sys
pt = json.load(open(sys.argv[1]))["partitiontable"]
p = pt["partitions"]
ok = pt["label"] == "dos" and len(p) == 3 and p[0]["type"] == "c" and p[0].get("bootable") \
    and p[1]["type"] == "83" and p[2]["type"] == "83" and p[0]["start"] % 8192 == 0
print(int(ok), *[f"{x['start']}:{x['size']}" for x in p])
PY
)
expect "MBR with boot (FAT32, bootable, 4 MiB aligned), root and data partitions" [ "${parts[0]}" = 1 ]
extract() { # extract N OUT
  local se="${parts[$1]}"
  dd if="$IMG" of="$2" bs=512 skip="${se%%:*}" count="${se##*:}" status=none
}
extract 1 "$work/boot.vfat"
extract 2 "$work/root.ext4"
extract 3 "$work/data.ext4"

# Boot partition.
export MTOOLS_SKIP_CHECK=1
listing="$(mdir -b -i "$work/boot.vfat" ::/ | sed 's|^::/||')"
for f in start4.elf fixup4.dat bcm2711-rpi-4-b.dtb vmlinuz initrd.img config.txt cmdline.txt; do
  expect "boot partition has $f" grep -qx "$f" <<<"$listing"
done
expect "boot partition label BGBOOT" bash -c "mlabel -s -i '$work/boot.vfat' :: | grep -q BGBOOT"
mtype -i "$work/boot.vfat" ::/config.txt > "$work/config.txt"
mtype -i "$work/boot.vfat" ::/cmdline.txt > "$work/cmdline.txt"
expect "config.txt: 64-bit kernel, vmlinuz + initrd" bash -c "grep -qx 'arm_64bit=1' '$work/config.txt' && grep -qx 'kernel=vmlinuz' '$work/config.txt' && grep -qx 'initramfs initrd.img followkernel' '$work/config.txt'"
expect "config.txt: relay pin GPIO17 is an output driven low from power-on" grep -qx 'gpio=17=op,dl' "$work/config.txt"
expect "cmdline.txt: root by label, serial console" bash -c "grep -q 'root=LABEL=boomgate-root' '$work/cmdline.txt' && grep -q 'console=ttyS1,115200' '$work/cmdline.txt'"
mcopy -i "$work/boot.vfat" ::/initrd.img "$work/initrd.img"
mcopy -i "$work/boot.vfat" ::/vmlinuz "$work/vmlinuz"
initrd_files="$(zcat "$work/initrd.img" | cpio -it --quiet)"
expect "initramfs has /init, busybox and the SD card driver (sdhci-iproc), ext4" bash -c \
  "grep -qx init <<<'$initrd_files' && grep -qx bin/busybox <<<'$initrd_files' && grep -q 'sdhci-iproc.ko' <<<'$initrd_files' && grep -q '/ext4.ko' <<<'$initrd_files'"
expect "kernel is an arm64 Image" bash -c "file -b '$work/vmlinuz' | grep -qi 'ARM64\|aarch64'"

# Root filesystem.
dfs() { debugfs -R "$1" "$2" 2>/dev/null; }
expect "root filesystem label boomgate-root" [ "$(e2label "$work/root.ext4")" = boomgate-root ]
dfs "cat /usr/bin/boomgate" "$work/root.ext4" > "$work/boomgate.bin"
expect "/usr/bin/boomgate is an aarch64 executable" bash -c "file -b '$work/boomgate.bin' | grep -q 'ARM aarch64'"
dfs "cat /etc/fstab" "$work/root.ext4" > "$work/fstab"
expect "fstab mounts the data partition on /var/lib/boomgate and boot on /boot/firmware" bash -c \
  "grep -q '^LABEL=boomgate-data  */var/lib/boomgate' '$work/fstab' && grep -q '^LABEL=BGBOOT  */boot/firmware' '$work/fstab'"
expect "boomgate.service enabled" bash -c "debugfs -R 'stat /etc/systemd/system/multi-user.target.wants/boomgate.service' '$work/root.ext4' 2>/dev/null | grep -q 'Type: symlink'"
expect "default config installed" bash -c "debugfs -R 'stat /etc/boomgate/boomgate.toml' '$work/root.ext4' 2>/dev/null | grep -q 'Type: regular'"
kver="$(dfs "ls -p /usr/lib/modules" "$work/root.ext4" | awk -F/ 'NF > 5 && $6 ~ /arm64/ { print $6 }' | head -n1)"
expect "kernel modules for the Pi present ($kver)" bash -c "debugfs -R 'stat /usr/lib/modules/$kver/kernel/drivers/mmc/host/sdhci-iproc.ko' '$work/root.ext4' 2>/dev/null | grep -q 'Type: regular'"
expect "no SSH host keys baked into the image" bash -c "! debugfs -R 'ls /etc/ssh' '$work/root.ext4' 2>/dev/null | grep -q ssh_host_"
expect "machine-id empty (made at first boot)" [ "$(dfs 'cat /etc/machine-id' "$work/root.ext4" | wc -c)" = 0 ]
uid="$(dfs "cat /etc/passwd" "$work/root.ext4" | awk -F: '$1 == "boomgate" { print $3 }')"

# Data partition.
expect "data filesystem label boomgate-data" [ "$(e2label "$work/data.ext4")" = boomgate-data ]
owner="$(debugfs -R 'stat /' "$work/data.ext4" 2>/dev/null | sed -n 's/.*User: *\([0-9]*\).*/\1/p' | head -n1)"
expect "data partition root owned by the boomgate user (uid $uid)" [ -n "$uid" -a "$owner" = "$uid" ]

if [ "$fails" -gt 0 ]; then echo "[rpi4-check] $fails check(s) failed"; exit 1; fi
echo "[rpi4-check] PASS"

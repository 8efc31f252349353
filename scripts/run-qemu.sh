#!/usr/bin/env bash
# Boot the qemu image (scripts/build-image.sh qemu) interactively: serial console on this
# terminal (Ctrl-A X quits), status page on http://127.0.0.1:8080/, SSH on port 2222.
# Changes persist in out/image-qemu/{root,data}.ext4.
#   scripts/run-qemu.sh [IMAGE_DIR]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$REPO/out/image-qemu}"
for f in vmlinuz initrd.img root.ext4 data.ext4 cmdline.txt; do
  [ -f "$DIR/$f" ] || { echo "run-qemu: $DIR/$f is missing: sudo scripts/build-image.sh qemu" >&2; exit 1; }
done
exec qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048 -nographic \
  -kernel "$DIR/vmlinuz" -initrd "$DIR/initrd.img" -append "$(cat "$DIR/cmdline.txt")" \
  -drive "if=none,id=root,format=raw,file=$DIR/root.ext4" -device virtio-blk-device,drive=root \
  -drive "if=none,id=data,format=raw,file=$DIR/data.ext4" -device virtio-blk-device,drive=data \
  -netdev user,id=net0,hostfwd=tcp:127.0.0.1:8080-:8080,hostfwd=tcp:127.0.0.1:2222-:22 \
  -device virtio-net-device,netdev=net0 -device virtio-rng-device

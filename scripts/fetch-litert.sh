#!/usr/bin/env bash
# Fetch libLiteRt.so for ARCH (x86_64 | aarch64) from the pinned ai-edge-litert wheel on PyPI and
# install it as DEST/libLiteRt.so. The wheel is a zip; only the one library is taken from it.
#   scripts/fetch-litert.sh ARCH DEST
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${BOOMGATE_CACHE:-$REPO/.cache}"
ARCH="${1:?usage: fetch-litert.sh ARCH DEST}"
DEST="${2:?usage: fetch-litert.sh ARCH DEST}"
VERSION="$(cat "$REPO/scripts/litert-version")"
case "$ARCH" in
  x86_64|amd64) PLAT=manylinux_2_27_x86_64; ARCH=x86_64 ;;
  aarch64|arm64) PLAT=manylinux_2_27_aarch64; ARCH=aarch64 ;;
  *) echo "fetch-litert: no ai-edge-litert wheel for architecture '$ARCH'" >&2; exit 2 ;;
esac
if [ -f "$DEST/libLiteRt.so" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$VERSION-$ARCH" ]; then
  exit 0
fi
WHEELS="$CACHE/wheels"
mkdir -p "$WHEELS" "$DEST"
wheel="$(ls "$WHEELS"/ai_edge_litert-"$VERSION"-*-"$PLAT".whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
  echo "[fetch-litert] downloading ai-edge-litert==$VERSION ($PLAT) from PyPI" >&2
  # The wheel is cp3XX-tagged; the library inside does not depend on Python, so any tag will do.
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform "$PLAT" --python-version 3.11 --implementation cp \
    "ai-edge-litert==$VERSION" -d "$WHEELS"
  wheel="$(ls "$WHEELS"/ai_edge_litert-"$VERSION"-*-"$PLAT".whl | head -n1)"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unzip -q -o "$wheel" 'ai_edge_litert/libLiteRt.so' -d "$tmp"
install -m 0644 "$tmp/ai_edge_litert/libLiteRt.so" "$DEST/libLiteRt.so"
echo "$VERSION-$ARCH" > "$DEST/VERSION"
echo "[fetch-litert] installed $DEST/libLiteRt.so (ai-edge-litert $VERSION, $ARCH)" >&2

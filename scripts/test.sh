#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite: unit and integration tests against
# real GStreamer, LiteRT, SQLite, mosquitto and HTTP, including the slow ones that `cargo test`
# skips for daily work (marked #[ignore]: browser, long clips, system tests).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/bootstrap.sh" --test
cd "$REPO"
export PATH="$HOME/.cargo/bin:$PATH"
export BOOMGATE_CACHE="${BOOMGATE_CACHE:-$REPO/.cache}"
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "build"
cargo build --locked --all-targets
step "tests (all tiers)"
cargo test --locked --no-fail-fast -- --include-ignored
step "done"

#!/usr/bin/env bash
# Installs what is missing, then runs the daemon on its built-in demo: the bundled clip looped,
# simulated relay, SQLite in ./boomgate-data (the status page is not built yet).
# Extra arguments go to `boomgate run` (e.g. --config FILE).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/bootstrap.sh"
cd "$REPO"
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked
exec "$REPO/target/release/boomgate" run "$@"

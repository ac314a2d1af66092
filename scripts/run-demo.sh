#!/usr/bin/env bash
# Installs what is needed, builds Watchdesk and runs it on the embedded demo
# site. With no display (a server, a container) it runs under a private Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo build --quiet
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run-demo: no display found; running under Xvfb (DISPLAY set below)"
  source ./scripts/xvfb.sh
  start_xvfb
  echo "run-demo: DISPLAY=$DISPLAY"
fi
exec ./target/debug/watchdesk "$@"

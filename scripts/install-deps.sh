#!/usr/bin/env bash
# Installs what Watchdesk needs on a fresh Debian 12 machine: the GStreamer
# development files and plugins, the RTSP server library, Xvfb and the tools
# the end-to-end checks use. Idempotent and quiet: a second run installs
# nothing and prints one line.
set -euo pipefail

packages=(
  pkg-config build-essential
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-tools
  libsqlite3-dev libssl-dev openssl
  xvfb xauth mesa-vulkan-drivers libgl1-mesa-dri libxkbcommon-x11-0
  imagemagick xdotool x11-utils fonts-dejavu-core
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo not found; install Rust 1.95 or newer (rustup) and run again" >&2
  exit 1
fi

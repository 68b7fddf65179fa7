#!/usr/bin/env bash
# browser.sh: Debian's chromium and chromium-driver for the dashboard's browser test, from apt when
# missing (root or sudo). Nothing is downloaded at test time; the test finds them on the PATH.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "chromium and chromium-driver are missing; install them (apt) or run as root" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing chromium and chromium-driver (apt) for the dashboard's browser test"
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null

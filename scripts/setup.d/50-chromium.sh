#!/usr/bin/env bash
# Debian 12's chromium for the web UI's browser tests (ui/ and chromedp).
# Fast when already installed.
set -euo pipefail
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium

#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver for the browser tests (tests/app), only when missing.
# A test tool's own browser download (playwright install, puppeteer) does not work on a closed network; the
# Debian packages do. Needs root (or sudo) and the Debian package registry.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (a parallel test session) instead of failing on the lock.
for _ in $(seq 1 120); do
  if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null; then
    exit 0
  fi
  sleep 5
done
echo "install_chromium: could not install chromium and chromium-driver" >&2
exit 1

#!/usr/bin/env bash
# Makes Debian's headless Chromium and its WebDriver available (chromium, chromium-driver), as
# `nnopt lab`'s browser tests (tests/integration/lab_browser.rs) need. Installs them when
# missing (as root, or through sudo); a no-op when present.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  echo "setup-browser: chromium and chromedriver present" >&2
  exit 0
fi
command -v apt-get >/dev/null \
  || { echo "setup-browser: error: /usr/bin/chromium or /usr/bin/chromedriver is missing and this is not a Debian/Ubuntu system; install Chromium and its chromedriver there" >&2; exit 1; }
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "setup-browser: installing chromium and chromium-driver" >&2
$sudo apt-get update -qq >&2 || true
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2 \
  || { echo "setup-browser: error: could not install chromium chromium-driver; run: sudo apt-get install chromium chromium-driver" >&2; exit 1; }
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] \
  || { echo "setup-browser: error: the packages did not provide /usr/bin/chromium and /usr/bin/chromedriver" >&2; exit 1; }

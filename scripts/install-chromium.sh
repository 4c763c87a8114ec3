#!/usr/bin/env bash
# Installs Debian's chromium for the timeline's browser test (history/timeline).
# Does nothing when a chromium is already there. Without root or without apt it
# says why and exits 0: the browser test then skips with the same reason.
set -uo pipefail
for c in chromium chromium-browser google-chrome; do
  if command -v "$c" >/dev/null 2>&1; then
    echo "install-chromium: $("$c" --version 2>/dev/null || echo "$c") already installed"
    exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium: not root, cannot apt-get install chromium; the browser test will skip"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get on this machine; the browser test will skip"
  exit 0
fi
echo "install-chromium: apt-get install chromium (about a minute)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >/tmp/install-chromium.log 2>&1; then
  echo "install-chromium: apt-get failed (see /tmp/install-chromium.log); the browser test will skip"
  tail -5 /tmp/install-chromium.log
  exit 0
fi
echo "install-chromium: $(chromium --version)"

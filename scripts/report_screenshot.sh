#!/usr/bin/env bash
# Render a seiflow campaign report (the HTML that `seiflow report` writes) to a PNG with headless Chromium.
#   bash scripts/report_screenshot.sh REPORT.html [OUT.png] [WIDTH,HEIGHT]     (defaults: REPORT.png, 1200,3000)
# Prints the PNG's path. Chromium: Debian package `chromium` (scripts/install-system.sh installs it).
# Exit codes: 0 ok, 1 Chromium failed, 2 bad input or no Chromium.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 REPORT.html [OUT.png] [WIDTH,HEIGHT] (no such file: ${1:-})" >&2
  exit 2
fi
html=$(realpath "$1")
out=$(realpath -m "${2:-${1%.html}.png}")
size=${3:-1200,3000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "chromium not found: install it with: sudo bash scripts/install-system.sh" >&2
  exit 2
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No network, no sync, no updates: the report is one self-contained file.
if ! timeout 180 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile/user" --screenshot="$out" --window-size="$size" "file://$html" \
    >"$profile/log" 2>&1; then
  echo "chromium failed on $html:" >&2
  grep -v dbus "$profile/log" | tail -5 >&2
  exit 1
fi
if [ ! -s "$out" ]; then
  echo "chromium wrote no screenshot for $html:" >&2
  grep -v dbus "$profile/log" | tail -5 >&2
  exit 1
fi
echo "$out"

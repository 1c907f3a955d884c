#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (driven by playwright-core, which is
# told to use it: no browser download). Installs it with apt-get when missing.
# Usage: scripts/chromium.sh ensure     Environment: CHROMIUM_PATH (/usr/bin/chromium).
set -euo pipefail
# shellcheck source=scripts/debian-package.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian-package.sh"

case "${1:-ensure}" in
  ensure) ensure_debian_package chromium "" "${CHROMIUM_PATH:-/usr/bin/chromium}" ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac

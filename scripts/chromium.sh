#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (driven by playwright-core, which is
# told to use it: no browser download). Installs it with apt-get when missing.
# Usage: scripts/chromium.sh ensure     Environment: CHROMIUM_PATH (/usr/bin/chromium).
set -euo pipefail

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
log() { echo "chromium.sh: $*"; }

case "${1:-ensure}" in
  ensure)
    [[ -x "$CHROMIUM" ]] && exit 0
    command -v apt-get >/dev/null 2>&1 || { log "$CHROMIUM is missing and apt-get is not available: install Chromium or set CHROMIUM_PATH" >&2; exit 1; }
    sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
    log "installing chromium with apt-get ..."
    "${sudo[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [[ -x "$CHROMIUM" ]] || { log "chromium installed but $CHROMIUM is missing" >&2; exit 1; }
    log "$("$CHROMIUM" --version 2>/dev/null || echo installed)"
    ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac

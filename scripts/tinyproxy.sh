#!/usr/bin/env bash
# Debian's tinyproxy for the tests of callbacks through an HTTP CONNECT proxy
# (CALLBACK_PROXY_URL). Installs it with apt-get when missing; the tests start their own
# instances (test/helpers/tinyproxy.ts: own config, a free port, a log of CONNECT targets).
# Usage: scripts/tinyproxy.sh ensure     Environment: TINYPROXY_PATH (/usr/bin/tinyproxy).
set -euo pipefail

TINYPROXY="${TINYPROXY_PATH:-/usr/bin/tinyproxy}"
log() { echo "tinyproxy.sh: $*"; }

case "${1:-ensure}" in
  ensure)
    [[ -x "$TINYPROXY" ]] && exit 0
    command -v apt-get >/dev/null 2>&1 || { log "$TINYPROXY is missing and apt-get is not available: install tinyproxy or set TINYPROXY_PATH" >&2; exit 1; }
    sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
    log "installing tinyproxy with apt-get ..."
    "${sudo[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends tinyproxy >/dev/null
    # The package's own service (port 8888) is not wanted: the tests start their own.
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      "${sudo[@]}" systemctl disable --now tinyproxy >/dev/null 2>&1 || true
    fi
    [[ -x "$TINYPROXY" ]] || { log "tinyproxy installed but $TINYPROXY is missing" >&2; exit 1; }
    log "$("$TINYPROXY" -v 2>/dev/null || echo installed)"
    ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Debian's prometheus package, for the checks of deploy/prometheus (promtool check rules,
# promtool test rules, promtool check metrics) and the test that runs a real Prometheus
# against a real service (test/deploy/prometheus-alerts.test.ts). Installs it with apt-get
# when missing; the tests start their own Prometheus (own config, data dir and free port).
# Usage: scripts/prometheus.sh ensure
# Environment: PROMETHEUS_PATH (/usr/bin/prometheus), PROMTOOL_PATH (/usr/bin/promtool).
set -euo pipefail

PROMETHEUS="${PROMETHEUS_PATH:-/usr/bin/prometheus}"
PROMTOOL="${PROMTOOL_PATH:-/usr/bin/promtool}"
log() { echo "prometheus.sh: $*"; }

case "${1:-ensure}" in
  ensure)
    [[ -x "$PROMETHEUS" && -x "$PROMTOOL" ]] && exit 0
    command -v apt-get >/dev/null 2>&1 || { log "$PROMETHEUS or $PROMTOOL is missing and apt-get is not available: install prometheus or set PROMETHEUS_PATH and PROMTOOL_PATH" >&2; exit 1; }
    sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
    log "installing prometheus with apt-get ..."
    "${sudo[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The package's own service (port 9090, scraping itself) is not wanted: the tests start their own.
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
    [[ -x "$PROMETHEUS" && -x "$PROMTOOL" ]] || { log "prometheus installed but $PROMETHEUS or $PROMTOOL is missing" >&2; exit 1; }
    log "$("$PROMETHEUS" --version 2>/dev/null | head -n 1 || echo installed)"
    ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac

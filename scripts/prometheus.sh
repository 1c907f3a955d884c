#!/usr/bin/env bash
# Debian's prometheus package, for the checks of deploy/prometheus (promtool check rules,
# promtool test rules, promtool check metrics) and the test that runs a real Prometheus
# against a real service (test/deploy/prometheus-alerts.test.ts). Installs it with apt-get
# when missing; the tests start their own Prometheus (own config, data dir and free port),
# so the package's own service (port 9090) is disabled.
# Usage: scripts/prometheus.sh ensure
# Environment: PROMETHEUS_PATH (/usr/bin/prometheus), PROMTOOL_PATH (/usr/bin/promtool).
set -euo pipefail
# shellcheck source=scripts/debian-package.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian-package.sh"

case "${1:-ensure}" in
  ensure) ensure_debian_package prometheus prometheus "${PROMETHEUS_PATH:-/usr/bin/prometheus}" "${PROMTOOL_PATH:-/usr/bin/promtool}" ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac

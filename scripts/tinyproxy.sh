#!/usr/bin/env bash
# Debian's tinyproxy for the tests of callbacks through an HTTP CONNECT proxy
# (CALLBACK_PROXY_URL). Installs it with apt-get when missing; the tests start their own
# instances (test/helpers/tinyproxy.ts: own config, a free port, a log of CONNECT targets),
# so the package's own service (port 8888) is disabled.
# Usage: scripts/tinyproxy.sh ensure     Environment: TINYPROXY_PATH (/usr/bin/tinyproxy).
set -euo pipefail
# shellcheck source=scripts/debian-package.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian-package.sh"

case "${1:-ensure}" in
  ensure) ensure_debian_package tinyproxy tinyproxy "${TINYPROXY_PATH:-/usr/bin/tinyproxy}" ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac

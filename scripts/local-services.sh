#!/usr/bin/env bash
# Sourced by test.sh and quickstart.sh: installs the project's dependencies (Node 24
# included) when missing, puts them on PATH, and makes sure Redis and the Kafka broker run
# and Debian's tinyproxy (proxy tests) and prometheus (promtool and a real Prometheus for
# test/deploy) are installed (and, with CHROMIUM=1, that Debian's Chromium is installed for
# the dashboard's browser test).
[[ -x node_modules/.bin/node ]] || npm ci --no-audit --no-fund
export PATH="$PWD/node_modules/.bin:$PATH"

bash scripts/redis.sh ensure
bash scripts/kafka.sh start
bash scripts/tinyproxy.sh ensure
bash scripts/prometheus.sh ensure
[[ "${CHROMIUM:-0}" != 1 ]] || bash scripts/chromium.sh ensure

#!/usr/bin/env bash
# `npm run quickstart`: the whole system on this machine, on local defaults. Installs what
# is missing, starts Redis and a single-node Kafka broker, then runs the demo: a local
# receiver, the service itself (`npm start`), and three sample results whose
# notifications arrive at the receiver. Ctrl-C stops it; `-- --once` exits after the samples.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/local-services.sh
source scripts/local-services.sh
exec node scripts/demo.ts "$@"

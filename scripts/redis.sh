#!/usr/bin/env bash
# Local Redis for tests, CI and fault-injection tests.
#
# Usage: scripts/redis.sh ensure|start|stop|status|install
#   ensure/start: do nothing if Redis answers PONG; otherwise install
#                 redis-server (apt) if missing, start it daemonized and wait.
#   install:      only install redis-server/redis-cli (apt) when missing; used by
#                 redis-cluster.sh, redis-sentinel.sh and redis-tls.sh.
#   stop:         SHUTDOWN NOSAVE (idempotent).
#   status:       exit 0 if Redis answers PONG, else 1.
# Environment: REDIS_PORT (6379), REDIS_START_TIMEOUT (20 s).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
HOST=127.0.0.1
PORT="${REDIS_PORT:-6379}"
START_TIMEOUT="${REDIS_START_TIMEOUT:-20}"
DATA_DIR=/var/lib/redis
LOG_DIR=/var/log/redis
LOG_FILE="$LOG_DIR/ci.log"
FALLBACK_DIR="$ROOT/.redis"

log() { echo "redis.sh: $*"; }
err() { echo "redis.sh: $*" >&2; }

pong() {
  command -v redis-cli >/dev/null 2>&1 || return 1
  [[ "$(timeout 3 redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" == PONG ]]
}

INSTALLED=0

install_redis() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  INSTALLED=1
  command -v apt-get >/dev/null 2>&1 || { err "redis-server is missing and apt-get is not available"; exit 1; }
  local sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  log "installing redis-server with apt-get ..."
  local out
  if ! out="$("${sudo[@]}" apt-get update 2>&1)"; then
    echo "$out" >&2
    err "apt-get update failed"
    exit 1
  fi
  if ! out="$(DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q redis-server 2>&1)"; then
    echo "$out" >&2
    err "apt-get install redis-server failed"
    exit 1
  fi
}

# Launch a daemonized redis-server with the given working dir and log file.
launch() {
  local dir=$1 logfile=$2
  redis-server --daemonize yes --bind "$HOST" -::1 --port "$PORT" \
    --save "" --appendonly no --dir "$dir" --logfile "$logfile" >/dev/null 2>&1
}

wait_pong() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    pong && return 0
    sleep 0.1
  done
  return 1
}

do_ensure() {
  if pong; then
    return 0
  fi
  install_redis
  # the Debian package may start its own service on install
  if [[ "$INSTALLED" == 1 ]] && wait_pong 3; then
    log "Redis answers on $HOST:$PORT"
    return 0
  fi

  local dir=$DATA_DIR logfile=$LOG_FILE
  if ! { mkdir -p "$DATA_DIR" "$LOG_DIR" && touch "$LOG_FILE" && [[ -w "$DATA_DIR" ]]; } 2>/dev/null; then
    mkdir -p "$FALLBACK_DIR"
    dir=$FALLBACK_DIR
    logfile="$FALLBACK_DIR/redis.log"
  fi
  if ! launch "$dir" "$logfile" || ! wait_pong "$START_TIMEOUT"; then
    if [[ "$logfile" != "$FALLBACK_DIR/redis.log" ]]; then
      # e.g. the system paths are unusable for the redis user: use the repo
      mkdir -p "$FALLBACK_DIR"
      dir=$FALLBACK_DIR
      logfile="$FALLBACK_DIR/redis.log"
      if launch "$dir" "$logfile" && wait_pong "$START_TIMEOUT"; then
        log "Redis started on $HOST:$PORT (log: $logfile)"
        return 0
      fi
    fi
    err "Redis did not answer on $HOST:$PORT within ${START_TIMEOUT}s"
    [[ -s "$logfile" ]] && tail -n 20 "$logfile" >&2
    exit 1
  fi
  log "Redis started on $HOST:$PORT (log: $logfile)"
}

do_stop() {
  if ! pong; then
    log "not running on $HOST:$PORT"
    return 0
  fi
  # SHUTDOWN closes the connection, so redis-cli reports an error: ignore it
  timeout 10 redis-cli -h "$HOST" -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  local deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    if ! pong; then
      log "stopped"
      return 0
    fi
    sleep 0.1
  done
  err "Redis on $HOST:$PORT still answers after SHUTDOWN NOSAVE"
  exit 1
}

case "${1:-}" in
  ensure | start) do_ensure ;;
  stop) do_stop ;;
  status) pong ;;
  install) install_redis ;;
  *)
    echo "usage: $0 ensure|start|stop|status|install" >&2
    exit 2
    ;;
esac

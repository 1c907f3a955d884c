#!/usr/bin/env bash
# Local standalone Redis that speaks only TLS and has an ACL user, for testing
# rediss://user:password@host:port URLs with REDIS_TLS_CA_FILE. Everything lives in
# <repo>/.redis-tls (gitignored): a throw-away CA and server certificate made with
# openssl (EC P-256, valid 7 days, SAN IP:127.0.0.1 and DNS:localhost), the
# passwords (mode 600), redis.conf (passwords only as SHA-256), log and pid file.
#
# Users: "default" is off; "svc" (the service) may run every command except the
#   @dangerous ones (FLUSHALL, KEYS, CONFIG, DEBUG, SHUTDOWN, ...) plus INFO, which
#   the ioredis ready check needs, on all keys and channels; "admin" (this script
#   only) may run everything. Clients need no certificate (tls-auth-clients no).
#
# Usage: scripts/redis-tls.sh start|stop|status|env
#   start:  make the CA, certificate and passwords if missing, start, wait for an
#           authenticated TLS PING. Idempotent.
#   stop:   SHUTDOWN NOSAVE, then delete keys, certificates, passwords and config
#           (the next start makes new ones; the log is kept).
#   status: exit 0 if svc's TLS PING answers.
#   env:    REDIS_URL=rediss://svc:<password>@127.0.0.1:6392 and REDIS_TLS_CA_FILE=...
#
# Environment: REDIS_TLS_PORT (6392; 6390 is faults.ts's Redis, 6391 durability.test.ts's), REDIS_TLS_START_TIMEOUT (20 s).
set -euo pipefail

NAME=redis-tls.sh
# shellcheck source=scripts/redis-local-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/redis-local-common.sh"

BASE_DIR="$ROOT/.redis-tls"
PORT="${REDIS_TLS_PORT:-6392}"
START_TIMEOUT="${REDIS_TLS_START_TIMEOUT:-20}"
check_ports "$PORT"
CA="$BASE_DIR/ca.crt"
PIDFILE="$BASE_DIR/redis.pid"

pid_of() { our_pid "$BASE_DIR" "$PIDFILE"; }

# redis-cli over TLS as USER (svc or admin), extra args are the command.
tls_cli() {
  local user=$1
  shift
  timeout 5 redis-cli --tls --cacert "$CA" -h "$HOST" -p "$PORT" \
    --user "$user" --pass "$(<"$BASE_DIR/$user.password")" --no-auth-warning "$@" 2>/dev/null
}

make_secrets() {
  local d=$BASE_DIR
  [[ -s "$d/ca.crt" && -s "$d/server.crt" && -s "$d/server.key" && -s "$d/svc.password" && -s "$d/admin.password" ]] &&
    openssl x509 -checkend 3600 -noout -in "$d/server.crt" >/dev/null 2>&1 && return 0
  log "making a test CA, server certificate and passwords in $d"
  (
    umask 077
    local out
    out="$(
      openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$d/ca.key" -out "$d/ca.crt" -days 7 -subj "/CN=notification-service test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>&1 &&
        openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
          -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>&1 &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
          -out "$d/server.crt" -days 7 -extfile <(printf '%s\n' \
            "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth") 2>&1
    )" || {
      echo "$out" >&2
      exit 1
    }
    openssl rand -hex 24 >"$d/svc.password"
    openssl rand -hex 24 >"$d/admin.password"
    rm -f "$d/server.csr" "$d/ca.srl"
  ) || die "openssl failed"
  chmod 644 "$d/ca.crt"
}

sha256() { printf '%s' "$(<"$1")" | sha256sum | cut -c1-64; }

do_start() {
  ensure_redis_binaries
  command -v openssl >/dev/null 2>&1 || die "openssl not found"
  lock
  if pid_of >/dev/null && [[ "$(tls_cli svc ping)" == PONG ]]; then
    log "already running on $HOST:$PORT (TLS)"
    return 0
  fi
  port_open "$PORT" && die "port $PORT is in use by a process that is not ours"
  local t0
  t0="$(now_ms)"
  make_secrets
  {
    echo "bind $HOST"
    echo "port 0"
    echo "tls-port $PORT"
    echo "tls-cert-file \"$BASE_DIR/server.crt\""
    echo "tls-key-file \"$BASE_DIR/server.key\""
    echo "tls-ca-cert-file \"$BASE_DIR/ca.crt\""
    echo "tls-auth-clients no"
    echo 'tls-protocols "TLSv1.2 TLSv1.3"'
    echo "daemonize yes"
    echo "dir \"$BASE_DIR\""
    echo "pidfile \"$PIDFILE\""
    echo "logfile \"$BASE_DIR/redis.log\""
    echo 'save ""'
    echo "appendonly no"
    echo "user default off"
    echo "user svc on #$(sha256 "$BASE_DIR/svc.password") ~* &* +@all -@dangerous +info"
    echo "user admin on #$(sha256 "$BASE_DIR/admin.password") ~* &* +@all"
  } >"$BASE_DIR/redis.conf"
  chmod 600 "$BASE_DIR/redis.conf"
  redis-server "$BASE_DIR/redis.conf" 9>&- >/dev/null 2>&1 || die "redis-server did not start (see $BASE_DIR/redis.log)"
  local deadline=$((SECONDS + START_TIMEOUT))
  until [[ "$(tls_cli svc ping)" == PONG ]]; do
    ((SECONDS < deadline)) || {
      tail -n 20 "$BASE_DIR/redis.log" >&2 || true
      die "no TLS PING answer on $HOST:$PORT within ${START_TIMEOUT}s"
    }
    sleep 0.05
  done
  log "TLS Redis on $HOST:$PORT, user svc ($(($(now_ms) - t0)) ms)"
}

do_stop() {
  lock
  if pid_of >/dev/null; then
    tls_cli admin shutdown nosave now >/dev/null || true
    # if that failed: stop_ours's plain-text SHUTDOWN fails too and it escalates to signals
    stop_ours "$BASE_DIR" "$PIDFILE" "$PORT"
  fi
  rm -f "$PIDFILE" "$BASE_DIR"/{ca.key,ca.crt,ca.srl,server.key,server.crt,server.csr,svc.password,admin.password,redis.conf,dump.rdb}
  log "stopped"
}

do_status() {
  local pid
  pid="$(pid_of)" || {
    echo "down"
    return 1
  }
  [[ "$(tls_cli svc ping)" == PONG ]] || {
    echo "pid $pid does not answer an authenticated TLS PING"
    return 1
  }
  echo "$HOST:$PORT pid $pid rss $(rss_kib "$pid") KiB, TLS, user svc: PONG"
}

do_env() {
  [[ -s "$BASE_DIR/svc.password" ]] || die "not started (no password yet)"
  echo "REDIS_URL=rediss://svc:$(<"$BASE_DIR/svc.password")@$HOST:$PORT"
  echo "REDIS_TLS_CA_FILE=$CA"
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env) do_env ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac

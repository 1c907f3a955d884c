#!/usr/bin/env bash
# Local Redis Sentinel setup for integration and failover tests: one master, two
# replicas and three sentinels watching master name "notifications" (quorum 2).
# Everything lives in <repo>/.redis-sentinel (gitignored):
#   .redis-sentinel/<port>/redis.conf       data node (Sentinel rewrites replicaof here)
#   .redis-sentinel/s<port>/sentinel.conf   sentinel (Sentinel rewrites its state here)
#   .../redis.log, sentinel.log, *.pid
# Sentinels run as `redis-server sentinel.conf --sentinel` (the same binary Debian's
# redis-sentinel package links to; that package is not needed and would start a
# system sentinel on 26379).
#
# Usage: scripts/redis-sentinel.sh start|stop|status|kill-master|restart-replica|env
#   start:       start whatever process of ours is not running and wait until all
#                sentinels agree on the master and see two healthy replicas and the
#                two other sentinels. Idempotent; after kill-master it restarts the
#                old master as a replica of the current one.
#   stop:        SHUTDOWN sentinels, then data nodes; their config files are deleted
#                so the next start is fresh (logs are kept).
#   status:      one line per process; exit 0 only if healthy.
#   kill-master: ask a sentinel for the master, kill -9 it, wait until a sentinel
#                names a new one; prints "old=PORT new=PORT failover_ms=N".
#   restart-replica: stop one replica, print its port, start it again as a replica of
#                the current master and wait until healthy (the soak's nemesis).
#   env:         REDIS_SENTINELS=... and REDIS_SENTINEL_MASTER=notifications
#
# Environment: REDIS_SENTINEL_DATA_BASE_PORT (7101; data nodes BASE..BASE+2),
#   REDIS_SENTINEL_BASE_PORT (27101; sentinels BASE..BASE+2),
#   REDIS_SENTINEL_MASTER (notifications), REDIS_SENTINEL_DOWN_AFTER (2000 ms),
#   REDIS_SENTINEL_FAILOVER_TIMEOUT (10000 ms), REDIS_SENTINEL_START_TIMEOUT (30 s).
# No persistence, as in redis-cluster.sh (see there).
set -euo pipefail

NAME=redis-sentinel.sh
# shellcheck source=scripts/redis-local-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/redis-local-common.sh"

BASE_DIR="$ROOT/.redis-sentinel"
DATA_BASE="${REDIS_SENTINEL_DATA_BASE_PORT:-7101}"
SENT_BASE="${REDIS_SENTINEL_BASE_PORT:-27101}"
MASTER_NAME="${REDIS_SENTINEL_MASTER:-notifications}"
DOWN_AFTER="${REDIS_SENTINEL_DOWN_AFTER:-2000}"
FAILOVER_MS="${REDIS_SENTINEL_FAILOVER_TIMEOUT:-10000}"
START_TIMEOUT="${REDIS_SENTINEL_START_TIMEOUT:-30}"
[[ "$DATA_BASE" =~ ^[0-9]+$ && "$SENT_BASE" =~ ^[0-9]+$ ]] || die "base ports must be numbers"
[[ "$MASTER_NAME" =~ ^[A-Za-z0-9._-]+$ ]] || die "bad master name '$MASTER_NAME'"
DATA_PORTS=("$DATA_BASE" $((DATA_BASE + 1)) $((DATA_BASE + 2)))
SENT_PORTS=("$SENT_BASE" $((SENT_BASE + 1)) $((SENT_BASE + 2)))
check_ports "${DATA_PORTS[@]}" "${SENT_PORTS[@]}"

data_dir() { echo "$BASE_DIR/$1"; }
sent_dir() { echo "$BASE_DIR/s$1"; }
data_pid() { our_pid "$(data_dir "$1")" "$(data_dir "$1")/redis.pid"; }
sent_pid() { our_pid "$(sent_dir "$1")" "$(sent_dir "$1")/sentinel.pid"; }

# Print the value of FIELD from the flat key/value reply of SENTINEL MASTER/REPLICAS.
kv() { awk -v k="$1" 'NR % 2 == 1 { key = $0; next } key == k { print; exit }'; }

# The master's port as named by the first live sentinel of ours (empty if none).
sentinel_master() {
  local s out
  for s in "${SENT_PORTS[@]}"; do
    sent_pid "$s" >/dev/null || continue
    out="$(rcli "$s" sentinel get-master-addr-by-name "$MASTER_NAME" | sed -n 2p)" || continue
    [[ "$out" =~ ^[0-9]+$ ]] && {
      echo "$out"
      return 0
    }
  done
}

free_or_die() {
  port_open "$1" && die "port $1 is in use by a process that is not ours"
  return 0
}

launch_data() {
  local port=$1 master=$2 dir
  dir="$(data_dir "$port")"
  mkdir -p "$dir"
  free_or_die "$port"
  {
    echo "bind $HOST"
    echo "port $port"
    echo "daemonize yes"
    echo "dir \"$dir\""
    echo "pidfile \"$dir/redis.pid\""
    echo "logfile \"$dir/redis.log\""
    echo 'save ""'
    echo "appendonly no"
    echo "repl-diskless-sync-delay 0"
    [[ "$port" == "$master" ]] || echo "replicaof $HOST $master"
  } >"$dir/redis.conf"
  redis-server "$dir/redis.conf" 9>&- >/dev/null 2>&1 || die "redis-server on $port did not start (see $dir/redis.log)"
}

# A stable 40-hex sentinel id for a port.
sentinel_id() { printf 'sentinel %s %s' "$MASTER_NAME" "$1" | sha1sum | cut -c1-40; }

launch_sentinel() {
  local port=$1 master=$2 fresh=$3 dir
  dir="$(sent_dir "$port")"
  mkdir -p "$dir"
  free_or_die "$port"
  if ((fresh)) || [[ ! -s "$dir/sentinel.conf" ]]; then
    {
      echo "bind $HOST"
      echo "port $port"
      echo "daemonize yes"
      echo "dir \"$dir\""
      echo "pidfile \"$dir/sentinel.pid\""
      echo "logfile \"$dir/sentinel.log\""
      echo "sentinel monitor $MASTER_NAME $HOST $master 2"
      echo "sentinel down-after-milliseconds $MASTER_NAME $DOWN_AFTER"
      echo "sentinel failover-timeout $MASTER_NAME $FAILOVER_MS"
      echo "sentinel parallel-syncs $MASTER_NAME 1"
      # fixed ids, and each sentinel told about the others: no wait for hello discovery
      echo "sentinel myid $(sentinel_id "$port")"
      local o
      for o in "${SENT_PORTS[@]}"; do
        [[ "$o" == "$port" ]] || echo "sentinel known-sentinel $MASTER_NAME $HOST $o $(sentinel_id "$o")"
      done
    } >"$dir/sentinel.conf"
  fi
  redis-server "$dir/sentinel.conf" --sentinel 9>&- >/dev/null 2>&1 ||
    die "sentinel on $port did not start (see $dir/sentinel.log)"
}

wait_pong() {
  # A replica loading its master's snapshot answers LOADING until it is in memory: alive, and
  # given the start timeout for that; anything else must answer within 10 s.
  local port=$1 t0=$SECONDS answer
  while :; do
    answer="$(rcli "$port" ping)"
    [[ "$answer" == PONG ]] && return 0
    if [[ "$answer" == LOADING* ]]; then
      ((SECONDS - t0 < START_TIMEOUT)) || die "port $port still loading its data after ${START_TIMEOUT}s"
    else
      ((SECONDS - t0 < 10)) || die "port $port does not answer PING"
    fi
    sleep 0.05
  done
}

# Prints nothing when healthy, else why.
health_problem() {
  local p s master="" m out
  for p in "${DATA_PORTS[@]}"; do
    data_pid "$p" >/dev/null || {
      echo "data node $p is not running"
      return 0
    }
  done
  for s in "${SENT_PORTS[@]}"; do
    sent_pid "$s" >/dev/null || {
      echo "sentinel $s is not running"
      return 0
    }
    m="$(rcli "$s" sentinel get-master-addr-by-name "$MASTER_NAME" | sed -n 2p)"
    [[ -n "$m" ]] || {
      echo "sentinel $s does not know $MASTER_NAME"
      return 0
    }
    [[ -z "$master" || "$m" == "$master" ]] || {
      echo "sentinels disagree on the master ($master, $m)"
      return 0
    }
    master=$m
    out="$(rcli "$s" sentinel master "$MASTER_NAME")"
    [[ "$(kv flags <<<"$out")" == master ]] || {
      echo "sentinel $s: master flags $(kv flags <<<"$out")"
      return 0
    }
    [[ "$(kv num-other-sentinels <<<"$out")" == 2 ]] || {
      echo "sentinel $s sees $(kv num-other-sentinels <<<"$out") other sentinels"
      return 0
    }
    # healthy replicas: flags exactly "slave" and link to the master up
    local ok
    ok="$(rcli "$s" sentinel replicas "$MASTER_NAME" | awk '
      $0 == "flags" { getline; f = $0 } $0 == "master-link-status" { getline; if (f == "slave" && $0 == "ok") n++ }
      END { print n + 0 }')"
    [[ "$ok" == 2 ]] || {
      echo "sentinel $s sees $ok healthy replicas"
      return 0
    }
  done
  [[ "$(info_field "$master" replication role)" == master ]] || echo "$master is not a master"
}

do_start() {
  ensure_redis_binaries
  lock
  local t0 master p s started=0 fresh_sentinels=1
  t0="$(now_ms)"
  for s in "${SENT_PORTS[@]}"; do sent_pid "$s" >/dev/null && fresh_sentinels=0; done
  master="$(sentinel_master)"
  if [[ -z "$master" ]]; then
    for p in "${DATA_PORTS[@]}"; do
      if data_pid "$p" >/dev/null && [[ "$(info_field "$p" replication role)" == master ]]; then
        [[ -z "$master" ]] || die "both $master and $p are masters (a fresh setup: $0 stop && $0 start)"
        master=$p
      fi
    done
  fi
  master="${master:-${DATA_PORTS[0]}}"
  for p in "$master" "${DATA_PORTS[@]}"; do
    data_pid "$p" >/dev/null && continue
    launch_data "$p" "$master"
    wait_pong "$p"
    started=$((started + 1))
  done
  # replicas synced before the sentinels start: their first INFO of the master lists both
  local deadline=$((SECONDS + START_TIMEOUT))
  for p in "${DATA_PORTS[@]}"; do
    [[ "$p" == "$master" ]] && continue
    until [[ "$(info_field "$p" replication master_link_status)" == up ]]; do
      ((SECONDS < deadline)) || die "replica $p did not sync with $master"
      sleep 0.05
    done
  done
  for s in "${SENT_PORTS[@]}"; do
    sent_pid "$s" >/dev/null && continue
    launch_sentinel "$s" "$master" "$fresh_sentinels"
    wait_pong "$s"
    started=$((started + 1))
  done
  local why
  while :; do
    why="$(health_problem)"
    [[ -z "$why" ]] && break
    ((SECONDS < deadline)) || die "not healthy after ${START_TIMEOUT}s: $why"
    sleep 0.1
  done
  log "master $MASTER_NAME on $HOST:$master, sentinels on ${SENT_PORTS[*]} ($started process(es) started, $(($(now_ms) - t0)) ms)"
}

do_stop() {
  lock
  local p s dir
  for s in "${SENT_PORTS[@]}"; do
    dir="$(sent_dir "$s")"
    [[ -d "$dir" ]] || continue
    stop_ours "$dir" "$dir/sentinel.pid" "$s"
    rm -f "$dir/sentinel.conf"
  done
  for p in "${DATA_PORTS[@]}"; do
    dir="$(data_dir "$p")"
    [[ -d "$dir" ]] || continue
    stop_ours "$dir" "$dir/redis.pid" "$p"
    rm -f "$dir/redis.conf" "$dir/dump.rdb"
  done
  log "stopped"
}

do_status() {
  local p s pid why
  for p in "${DATA_PORTS[@]}"; do
    if pid="$(data_pid "$p")"; then
      printf '%s:%s  pid %-7s %-8s rss %5d KiB\n' "$HOST" "$p" "$pid" "$(info_field "$p" replication role)" "$(rss_kib "$pid")"
    else
      printf '%s:%s  down\n' "$HOST" "$p"
    fi
  done
  for s in "${SENT_PORTS[@]}"; do
    if pid="$(sent_pid "$s")"; then
      printf '%s:%s pid %-7s sentinel rss %5d KiB  master=%s\n' "$HOST" "$s" "$pid" "$(rss_kib "$pid")" \
        "$(rcli "$s" sentinel get-master-addr-by-name "$MASTER_NAME" | paste -sd:)"
    else
      printf '%s:%s down\n' "$HOST" "$s"
    fi
  done
  why="$(health_problem)"
  if [[ -n "$why" ]]; then
    echo "unhealthy: $why"
    return 1
  fi
  echo "healthy"
}

do_kill_master() {
  local old pid t0 s m
  old="$(sentinel_master)"
  [[ -n "$old" ]] || die "no sentinel of ours knows $MASTER_NAME (start first)"
  pid="$(data_pid "$old")" || die "master $old is not running or not ours"
  kill -KILL "$pid"
  t0="$(now_ms)"
  log "killed master $old (pid $pid)"
  local deadline=$((SECONDS + START_TIMEOUT + FAILOVER_MS / 1000))
  while ((SECONDS < deadline)); do
    for s in "${SENT_PORTS[@]}"; do
      m="$(rcli "$s" sentinel get-master-addr-by-name "$MASTER_NAME" | sed -n 2p)" || continue
      if [[ "$m" =~ ^[0-9]+$ && "$m" != "$old" ]]; then
        local ms=$(($(now_ms) - t0))
        log "sentinel $s names $m as master, $ms ms after the kill"
        echo "old=$old new=$m failover_ms=$ms"
        return 0
      fi
    done
    sleep 0.05
  done
  die "no sentinel named a new master within the timeout"
}

# Stop one replica (the first found), then start it again (as a replica of the current
# master) and wait until healthy.
do_restart_replica() {
  stop_first_replica data_dir data_pid "${DATA_PORTS[@]}"
  do_start
}

do_env() {
  local list=() s
  for s in "${SENT_PORTS[@]}"; do list+=("$HOST:$s"); done
  (
    IFS=,
    echo "REDIS_SENTINELS=${list[*]}"
  )
  echo "REDIS_SENTINEL_MASTER=$MASTER_NAME"
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  kill-master) do_kill_master ;;
  restart-replica) do_restart_replica ;;
  env) do_env ;;
  *)
    echo "usage: $0 start|stop|status|kill-master|restart-replica|env" >&2
    exit 2
    ;;
esac

# shellcheck shell=bash
# Sourced by redis-cluster.sh, redis-sentinel.sh and redis-tls.sh: helpers for
# throw-away local Redis processes that live under one directory of the repo.
#
# A process counts as ours only when its pid file names a live redis-server whose
# working directory is the node's own directory under that tree (redis-server
# chdirs to --dir), so a stale pid file or a reused pid can never make us signal
# someone else's process, and the shared Redis on 6379 is never touched.
#
# The sourcing script sets NAME (for messages) and BASE_DIR before calling these.

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # used by the sourcing scripts
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
HOST=127.0.0.1

log() { echo "$NAME: $*" >&2; }
err() { echo "$NAME: $*" >&2; }
die() {
  err "$*"
  exit 1
}

# redis-server/redis-cli, installed with apt by redis.sh when missing.
ensure_redis_binaries() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  bash "$SCRIPT_DIR/redis.sh" install
}

# Refuse ports that are not ours to use (6379 belongs to the shared Redis).
check_ports() {
  local p
  for p in "$@"; do
    if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then die "bad port '$p'"; fi
    ((p != 6379)) || die "port 6379 is the shared Redis: choose another base port"
  done
}

# Exclusive lock for commands that change state; released on exit. Launched
# servers get fd 9 closed so that a daemon never holds it.
lock() {
  mkdir -p "$BASE_DIR"
  exec 9>"$BASE_DIR/.lock"
  flock 9
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" >/dev/null 2>&1
}

# redis-cli against a local port with a short timeout; extra args are the command.
rcli() {
  local port=$1
  shift
  timeout 5 redis-cli -h "$HOST" -p "$port" "$@" 2>/dev/null
}

# One field of INFO (e.g. info_field 7001 replication role); empty if unknown.
info_field() {
  local out
  out="$(rcli "$1" info "$2")" || return 0
  awk -F: -v k="$3" '$1 == k { sub(/\r$/, "", $2); print $2; exit }' <<<"$out"
}

# pid of our live redis-server for a node dir and pid file, or nothing (status 1).
our_pid() {
  local dir=$1 pidfile=$2 pid cwd comm
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  [[ "$comm" == redis-server* || "$comm" == redis-sentinel* ]] || return 1
  cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || return 1
  [[ "$cwd" == "$(cd "$dir" 2>/dev/null && pwd -P)" ]] || return 1
  echo "$pid"
}

# A live process, not a zombie: daemonized servers are reparented to pid 1, which in
# some containers reaps only every second or two.
alive() {
  local state
  state="$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# Resident set size of a pid in KiB (0 if gone).
rss_kib() {
  awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# Stop our server in dir: SHUTDOWN NOSAVE, then SIGTERM, then SIGKILL; only ever
# the pid that our_pid vouches for.
stop_ours() {
  local dir=$1 pidfile=$2 port=$3 pid i
  pid="$(our_pid "$dir" "$pidfile")" || {
    rm -f "$pidfile"
    return 0
  }
  # NOW: a master would otherwise wait up to shutdown-timeout (10 s) for lagging replicas
  rcli "$port" shutdown nosave now >/dev/null || true
  for i in 1 2 3; do
    for _ in {1..50}; do
      alive "$pid" || break 2
      sleep 0.1
    done
    case $i in
      1) kill -TERM "$pid" 2>/dev/null || true ;;
      2) kill -KILL "$pid" 2>/dev/null || true ;;
    esac
  done
  alive "$pid" && die "pid $pid (port $port) did not exit"
  rm -f "$pidfile"
}

# Seconds since the epoch with milliseconds (for failover timings).
now_ms() { date +%s%3N; }

# stop_first_replica DIR_FN PID_FN PORT...: SHUTDOWN the first of PORTs that runs as a replica
# of ours (DIR_FN PORT: its dir, PID_FN PORT: its pid) and print its port; the caller starts
# it again (the soak's nemesis: restart-replica).
stop_first_replica() {
  local dir_fn=$1 pid_fn=$2 p dir
  shift 2
  for p in "$@"; do
    "$pid_fn" "$p" >/dev/null || continue
    [[ "$(info_field "$p" replication role)" == slave ]] || continue
    dir="$("$dir_fn" "$p")"
    (
      lock
      stop_ours "$dir" "$dir/redis.pid" "$p"
    )
    echo "$p"
    log "stopped replica $p; starting it again"
    return 0
  done
  die "no replica of ours is running"
}

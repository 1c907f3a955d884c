#!/usr/bin/env bash
# Local six-node Redis Cluster (three masters, three replicas) for integration and
# failover tests. Everything lives in <repo>/.redis-cluster (gitignored):
#   .redis-cluster/<port>/nodes.conf   cluster state, written by redis-server
#   .redis-cluster/<port>/redis.log    node log
#   .redis-cluster/<port>/redis.pid
#
# Usage: scripts/redis-cluster.sh start|stop|status|kill-master-of KEY|restart-replica|env
#   start:          start whatever node of ours is not running (a fresh cluster is
#                   created with redis-cli --cluster create), then wait until every
#                   node reports cluster_state:ok and every master has an online
#                   replica. Idempotent; after kill-master-of it restarts the killed
#                   node, which rejoins as a replica.
#   stop:           SHUTDOWN NOSAVE our nodes and delete their nodes.conf, so the
#                   next start creates a new cluster.
#   status:         one line per node; exit 0 only if the cluster is healthy.
#   kill-master-of: kill -9 the master that owns KEY's slot, print its port on
#                   stdout, then wait until a replica has taken the slot over
#                   (--no-wait: return at once).
#   restart-replica: stop one replica (SHUTDOWN), print its port, start it again and
#                   wait until the cluster is healthy (the soak's nemesis).
#   env:            REDIS_CLUSTER_NODES=127.0.0.1:7001,...
#
# Environment: REDIS_CLUSTER_BASE_PORT (7001; nodes use BASE..BASE+5 and the
#   cluster bus BASE+10000..), REDIS_CLUSTER_NODE_TIMEOUT (2000 ms),
#   REDIS_CLUSTER_START_TIMEOUT (30 s), REDIS_CLUSTER_FAILOVER_TIMEOUT (30 s).
#
# No persistence (--save "" --appendonly no): the data is throw-away, and RDB/AOF
# would only cost time and leave state behind. The consequence, as in production
# without persistence: a master that restarts before its replica was promoted comes
# back empty and its replica resyncs to empty. kill-master-of therefore waits for
# the failover by default before returning.
set -euo pipefail

NAME=redis-cluster.sh
# shellcheck source=scripts/redis-local-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/redis-local-common.sh"

BASE_DIR="$ROOT/.redis-cluster"
BASE_PORT="${REDIS_CLUSTER_BASE_PORT:-7001}"
NODE_TIMEOUT="${REDIS_CLUSTER_NODE_TIMEOUT:-2000}"
START_TIMEOUT="${REDIS_CLUSTER_START_TIMEOUT:-30}"
FAILOVER_TIMEOUT="${REDIS_CLUSTER_FAILOVER_TIMEOUT:-30}"
[[ "$BASE_PORT" =~ ^[0-9]+$ ]] || die "REDIS_CLUSTER_BASE_PORT must be a number"
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((BASE_PORT + i))); done
check_ports "${PORTS[@]}"
for p in "${PORTS[@]}"; do check_ports $((p + 10000)); done

node_dir() { echo "$BASE_DIR/$1"; }
pid_of() { our_pid "$(node_dir "$1")" "$(node_dir "$1")/redis.pid"; }

launch() {
  local port=$1 dir
  dir="$(node_dir "$port")"
  mkdir -p "$dir"
  if port_open "$port" || port_open $((port + 10000)); then
    die "port $port or its bus port $((port + 10000)) is in use by a process that is not ours"
  fi
  redis-server --daemonize yes --bind "$HOST" --port "$port" \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$NODE_TIMEOUT" \
    --repl-diskless-sync-delay 0 --save "" --appendonly no 9>&- >/dev/null 2>&1 ||
    die "redis-server on $port did not start (see $dir/redis.log)"
}

wait_pong() {
  # A replica loading its master's snapshot answers LOADING until it is in memory: alive, and
  # given the start timeout for that; anything else must answer within 10 s.
  local port=$1 t0=$SECONDS answer
  while :; do
    answer="$(rcli "$port" ping)"
    [[ "$answer" == PONG ]] && return 0
    if [[ "$answer" == LOADING* ]]; then
      ((SECONDS - t0 < START_TIMEOUT)) || die "node $port still loading its data after ${START_TIMEOUT}s (see $(node_dir "$port")/redis.log)"
    else
      ((SECONDS - t0 < 10)) || die "node $port does not answer PING (see $(node_dir "$port")/redis.log)"
    fi
    sleep 0.05
  done
}

# Prints nothing and succeeds when the cluster is healthy, else prints why.
health_problem() {
  local p state nodes
  for p in "${PORTS[@]}"; do
    pid_of "$p" >/dev/null || {
      echo "node $p is not running"
      return 0
    }
    state="$(info_field_cluster "$p")"
    [[ "$state" == "ok 16384 6" ]] || {
      echo "node $p: cluster_state/slots_ok/known_nodes = ${state:-?}"
      return 0
    }
  done
  nodes="$(rcli "${PORTS[0]}" cluster nodes)" || {
    echo "CLUSTER NODES failed"
    return 0
  }
  # 3 masters with slots, each with a connected replica whose link is up
  local masters=0 m mport
  while read -r m mport; do
    masters=$((masters + 1))
    # the master's view: its replica is online
    [[ "$(rcli "$mport" info replication | tr -d '\r' | grep -c '^slave[0-9]*:.*state=online')" -ge 1 ]] || {
      echo "master $mport has no online replica"
      return 0
    }
    # the replica's view: master_link_status:up
    local r
    r="$(awk -v id="$m" '$4 == id && $3 ~ /slave/ && $3 !~ /fail/ { split($2, a, "[:@]"); print a[2] }' <<<"$nodes" | head -n1)"
    [[ -n "$r" && "$(info_field "$r" replication master_link_status)" == up ]] || {
      echo "replica of master $mport is not linked"
      return 0
    }
  done < <(awk '$3 ~ /master/ && $3 !~ /fail/ && NF >= 9 { split($2, a, "[:@]"); print $1, a[2] }' <<<"$nodes")
  ((masters == 3)) || echo "$masters masters with slots, expected 3"
}

info_field_cluster() {
  local out
  out="$(rcli "$1" cluster info)" || return 0
  tr -d '\r' <<<"$out" | awk -F: '
    $1 == "cluster_state" { s = $2 } $1 == "cluster_slots_ok" { o = $2 } $1 == "cluster_known_nodes" { k = $2 }
    END { print s, o, k }'
}

do_start() {
  ensure_redis_binaries
  lock
  local t0 p started=0 assigned=0
  t0="$(now_ms)"
  for p in "${PORTS[@]}"; do
    if ! pid_of "$p" >/dev/null; then
      launch "$p"
      started=$((started + 1))
    fi
  done
  for p in "${PORTS[@]}"; do wait_pong "$p"; done
  for p in "${PORTS[@]}"; do
    local a
    a="$(rcli "$p" cluster info | tr -d '\r' | awk -F: '$1 == "cluster_slots_assigned" { print $2 }')"
    assigned=$((assigned + ${a:-0}))
  done
  if ((assigned == 0)); then
    local addrs=()
    for p in "${PORTS[@]}"; do addrs+=("$HOST:$p"); done
    log "creating the cluster on ${PORTS[0]}..${PORTS[5]}"
    local out
    out="$(redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes 2>&1)" || {
      echo "$out" >&2
      die "redis-cli --cluster create failed"
    }
  fi
  local deadline=$((SECONDS + START_TIMEOUT)) why
  while :; do
    why="$(health_problem)"
    [[ -z "$why" ]] && break
    ((SECONDS < deadline)) || die "cluster not healthy after ${START_TIMEOUT}s: $why (a fresh one: $0 stop && $0 start)"
    sleep 0.1
  done
  log "cluster ok on $HOST:${PORTS[0]}..${PORTS[5]} ($started node(s) started, $(($(now_ms) - t0)) ms)"
}

do_stop() {
  lock
  local p dir
  for p in "${PORTS[@]}"; do
    dir="$(node_dir "$p")"
    [[ -d "$dir" ]] || continue
    stop_ours "$dir" "$dir/redis.pid" "$p"
    rm -f "$dir/nodes.conf" "$dir/dump.rdb"
  done
  log "stopped"
}

do_status() {
  local p pid role why
  for p in "${PORTS[@]}"; do
    if pid="$(pid_of "$p")"; then
      role="$(info_field "$p" replication role)"
      printf '%s:%s  pid %-7s %-6s rss %5d KiB  %s\n' "$HOST" "$p" "$pid" "${role:-?}" "$(rss_kib "$pid")" \
        "$(info_field_cluster "$p" | awk '{ print "state=" $1, "slots_ok=" $2, "known_nodes=" $3 }')"
    else
      printf '%s:%s  down\n' "$HOST" "$p"
    fi
  done
  why="$(health_problem)"
  if [[ -n "$why" ]]; then
    echo "unhealthy: $why"
    return 1
  fi
  echo "healthy"
}

# Port of the master (not failed) that owns a slot, as seen by any live node.
owner_of_slot() {
  local slot=$1 p nodes
  for p in "${PORTS[@]}"; do
    nodes="$(rcli "$p" cluster nodes)" || continue
    awk -v s="$slot" '$3 ~ /master/ && $3 !~ /fail/ {
      for (i = 9; i <= NF; i++) {
        if ($i ~ /^\[/) continue
        n = split($i, r, "-"); lo = r[1]; hi = (n > 1 ? r[2] : r[1])
        if (s + 0 >= lo + 0 && s + 0 <= hi + 0) { split($2, a, "[:@]"); print a[2]; exit }
      }
    }' <<<"$nodes"
    return 0
  done
  return 1
}

do_kill_master_of() {
  local key=${1:-} wait=1
  [[ -n "$key" ]] || die "usage: $0 kill-master-of KEY [--no-wait]"
  [[ "${2:-}" == --no-wait ]] && wait=0
  local slot port pid p=""
  for p in "${PORTS[@]}"; do
    slot="$(rcli "$p" cluster keyslot "$key")" && [[ "$slot" =~ ^[0-9]+$ ]] && break
  done
  [[ "${slot:-}" =~ ^[0-9]+$ ]] || die "no node answers CLUSTER KEYSLOT"
  port="$(owner_of_slot "$slot")"
  [[ -n "$port" ]] || die "no live master owns slot $slot"
  pid="$(pid_of "$port")" || die "the master of slot $slot on $port is not ours"
  kill -KILL "$pid"
  local t0
  t0="$(now_ms)"
  echo "$port"
  log "killed master $port (pid $pid) owning slot $slot of '$key'"
  ((wait)) || return 0
  local deadline=$((SECONDS + FAILOVER_TIMEOUT)) new
  while ((SECONDS < deadline)); do
    new="$(owner_of_slot "$slot")" || true
    if [[ -n "$new" && "$new" != "$port" && "$(info_field_cluster "$new" | cut -d' ' -f1)" == ok ]]; then
      log "slot $slot now served by $new, $(($(now_ms) - t0)) ms after the kill"
      return 0
    fi
    sleep 0.05
  done
  die "no replica took slot $slot over within ${FAILOVER_TIMEOUT}s"
}

# Stop one replica (the first found), then start it again and wait until the cluster is
# healthy: it rejoins from its nodes.conf and resyncs from its master.
do_restart_replica() {
  stop_first_replica node_dir pid_of "${PORTS[@]}"
  do_start
}

do_env() {
  local list=() p
  for p in "${PORTS[@]}"; do list+=("$HOST:$p"); done
  (
    IFS=,
    echo "REDIS_CLUSTER_NODES=${list[*]}"
  )
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  kill-master-of) do_kill_master_of "${2:-}" "${3:-}" ;;
  restart-replica) do_restart_replica ;;
  env) do_env ;;
  *)
    echo "usage: $0 start|stop|status|kill-master-of KEY [--no-wait]|restart-replica|env" >&2
    exit 2
    ;;
esac

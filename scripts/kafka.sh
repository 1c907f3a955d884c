#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for tests,
# CI and the quick start. Everything lives in <repo>/.kafka (gitignored):
#   .kafka/libs/              runtime jars, copied by Maven from kafka/pom.xml
#   .kafka/server.properties  written on every start
#   .kafka/data/              log.dirs + metadata log (formatted once)
#   .kafka/logs/server.log    broker log (log4j2), .kafka/logs/stdout.log (JVM)
#   .kafka/kafka.pid
#
# Usage: scripts/kafka.sh fetch|start|stop|status|reset|kill|run CLASS [ARGS...]
#   run: runs a Kafka CLI class with the fetched jars, e.g.
#        scripts/kafka.sh run org.apache.kafka.tools.TopicCommand \
#          --bootstrap-server 127.0.0.1:9092 --create --topic t --partitions 3
#
# Environment:
#   KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_START_TIMEOUT (60 s),
#   KAFKA_STOP_TIMEOUT (30 s), KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS (replace the
#   defaults), KAFKA_TOOLS_OPTS (JVM options for `run`), KAFKA_CDS (1; 0 = no
#   class-data-sharing archive), KAFKA_CLUSTER_ID (used only when formatting),
#   MAVEN_ARGS (extra arguments for the Maven fetch).
#   KAFKA_DIR (<repo>/.kafka): the state directory, for a second broker beside the
#   usual one, e.g. KAFKA_DIR=/tmp/k KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093.
#   KAFKA_LIBS (<KAFKA_DIR>/libs): the jars; pointing it at another checkout's
#   current libs uses them as they are: nothing is fetched or written there (its
#   class-data archive is mapped if present, none is made).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
# shellcheck source=scripts/kafka-common.sh
source "$SCRIPT_DIR/kafka-common.sh"
POM="$ROOT/kafka/pom.xml"
KDIR="$KAFKA_DIR"
# Jars of another state directory: read only.
LIBS_SHARED=0
[[ "$LIBS" != "$KDIR/libs" ]] && LIBS_SHARED=1
DATA="$KDIR/data"
LOGS="$KDIR/logs"
PROPS="$KDIR/server.properties"
PIDFILE="$KDIR/kafka.pid"
LOG4J_SERVER="$KDIR/log4j2-server.properties"
LOCKFILE="$KDIR/.lock"

PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
# defaults: BROKER_JVM_OPTS in kafka-common.sh (C1 only: for throughput
# benchmarks set KAFKA_JVM_OPTS without -XX:TieredStopAtLevel=1)
JVM_OPTS="${KAFKA_JVM_OPTS:-$BROKER_JVM_OPTS}"
# AppCDS: the first broker run dumps its loaded classes into an archive when it
# is stopped cleanly; later starts map it (~1.5 s faster, ~40 MB less RSS).
# KAFKA_CDS=0 turns this off.
CDS="${KAFKA_CDS:-1}"
# A fixed, valid cluster id (base64url of 16 bytes) keeps formatting Java-free
# and deterministic; override with KAFKA_CLUSTER_ID.
CLUSTER_ID="${KAFKA_CLUSTER_ID:-bm90aWZpY2F0aW9uLXN2Yw}"

log() { echo "kafka.sh: $*"; }
err() { echo "kafka.sh: $*" >&2; }

# Take an exclusive lock for commands that change state; released on exit.
# The broker JVM is started with this fd closed so it never holds the lock.
lock() { lock_on "$LOCKFILE"; }

# ---------------------------------------------------------------- probing ---

broker_answers() { api_versions_ok "$PORT"; }

# ---------------------------------------------------------------- process ---

# PID of the broker started from this checkout, or empty.
broker_pid() { broker_pid_of "$PIDFILE" "$PROPS"; }

show_log_tail() { log_tails "$LOGS"; }

# ------------------------------------------------------------------ fetch ---

libs_current() {
  [[ -f "$LIBS/.pom-sha256" ]] &&
    [[ "$(cat "$LIBS/.pom-sha256")" == "$(sha256sum "$POM" | cut -d' ' -f1)" ]]
}

do_fetch() {
  libs_current && return 0
  if [[ "$LIBS_SHARED" == 1 ]]; then
    err "KAFKA_LIBS=$LIBS is missing or not current for $POM; run 'scripts/kafka.sh fetch' where it belongs"
    exit 1
  fi
  need mvn "install Maven, e.g. apt-get install -y maven"
  need java "install a JDK >= 17"
  local tmp="$KDIR/libs.tmp" mlog="$KDIR/fetch.log"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  log "fetching Kafka jars with Maven (kafka/pom.xml) ..."
  # shellcheck disable=SC2086
  if ! mvn -B -q -f "$POM" ${MAVEN_ARGS:-} dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mlog" 2>&1; then
    cat "$mlog" >&2
    err "Maven could not fetch the Kafka jars"
    rm -rf "$tmp"
    exit 1
  fi
  if ! ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1; then
    cat "$mlog" >&2
    err "Maven ran but no kafka_2.13 jar was copied"
    exit 1
  fi
  sha256sum "$POM" | cut -d' ' -f1 >"$tmp/.pom-sha256"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  rm -f "$mlog"
}

# ------------------------------------------------------------------ start ---

write_config() {
  mkdir -p "$DATA" "$LOGS"
  cat >"$PROPS" <<EOF
# Written by scripts/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CPORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA

# single node
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true

# small and fast
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.segment.bytes=67108864
log.retention.hours=24
file.delete.delay.ms=1000
# after a kill -9 the restarted broker must wait for its old session to expire
# (default 9 s) before it can register again
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
EOF

  write_server_log4j "$LOG4J_SERVER" "$LOGS"
  write_tools_log4j
}

format_if_needed() {
  [[ -f "$DATA/meta.properties" ]] && return 0
  local out
  if ! out="$(tools_java kafka.tools.StorageTool format --standalone -t "$CLUSTER_ID" -c "$PROPS" 2>&1)"; then
    echo "$out" >&2
    err "formatting $DATA failed"
    exit 1
  fi
}

do_start() {
  lock
  if broker_answers; then
    log "a Kafka broker already answers on $HOST:$PORT; nothing to do"
    return 0
  fi
  if port_open "$PORT"; then
    err "$HOST:$PORT is in use by something that does not speak Kafka"
    exit 1
  fi
  local old
  old="$(broker_pid)"
  if [[ -n "$old" ]]; then
    log "broker process $old exists but does not answer; stopping it first"
    stop_broker "$old"
  fi
  if port_open "$CPORT"; then
    err "controller port $HOST:$CPORT is already in use"
    exit 1
  fi
  do_fetch
  need java "install a JDK >= 17"
  write_config
  format_if_needed

  CDS_OPTS=()
  if [[ "$CDS" == 1 && "$LIBS_SHARED" == 1 ]]; then
    cds_options "$LIBS" 0 # map another checkout's archive if it has one; never write there
  elif [[ "$CDS" == 1 ]]; then
    rm -f "$LIBS"/*.jsa.tmp
    cds_options "$LIBS"
  fi

  local t0=$SECONDS pid
  # shellcheck disable=SC2086
  launch_broker "$PROPS" "$LOG4J_SERVER" "$LOGS" $HEAP_OPTS $JVM_OPTS "${CDS_OPTS[@]}"
  pid=$LAUNCHED_PID
  echo "$pid" >"$PIDFILE"

  local deadline=$((SECONDS + START_TIMEOUT)) stage=port
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      err "broker process $pid exited during startup"
      rm -f "$PIDFILE"
      show_log_tail
      exit 1
    fi
    case $stage in
      port) port_open "$PORT" && stage=api ;;
      api) api_versions_ok "$PORT" && stage=list ;;
      list)
        if timeout 30 "${TOOLS_JAVA[@]}" org.apache.kafka.tools.TopicCommand \
            --bootstrap-server "$HOST:$PORT" --list >/dev/null 2>&1; then
          log "Kafka broker ready on $HOST:$PORT (pid $pid, $((SECONDS - t0)) s)"
          return 0
        fi
        ;;
    esac
    sleep 0.3
  done
  err "broker did not become ready within ${START_TIMEOUT}s (stage: $stage)"
  show_log_tail
  stop_broker "$pid" || true
  rm -f "$PIDFILE"
  exit 1
}

# ------------------------------------------------------------------- stop ---

# SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT; keeps a class archive dumped
# at a clean exit, drops one a SIGKILL may have cut short.
stop_broker() {
  local rc=0
  stop_pid "$1" "$STOP_TIMEOUT" || rc=$?
  case $rc in
    0) [[ "$LIBS_SHARED" == 1 ]] || cds_adopt "$LIBS" ;;
    3) [[ "$LIBS_SHARED" == 1 ]] || rm -f "$LIBS"/*.jsa.tmp; rc=0 ;;
  esac
  return "$rc"
}

do_stop() {
  lock
  local pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PIDFILE"
    if broker_answers; then
      log "a broker answers on $HOST:$PORT but was not started from $ROOT; left alone"
    else
      log "not running"
    fi
    return 0
  fi
  stop_broker "$pid"
  rm -f "$PIDFILE"
  log "stopped (pid $pid)"
}

do_kill() {
  local pid i
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    log "not running"
    rm -f "$PIDFILE"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  rm -f "$PIDFILE"
  [[ "$LIBS_SHARED" == 1 ]] || rm -f "$LIBS"/*.jsa.tmp
  log "killed (pid $pid)"
}

do_reset() {
  do_stop
  rm -rf "$DATA"
  log "deleted $DATA"
}

do_status() {
  if broker_answers; then
    log "running on $HOST:$PORT${1:+ (pid $(broker_pid))}"
    return 0
  fi
  log "not answering on $HOST:$PORT"
  return 1
}

do_run() {
  [[ $# -ge 1 ]] || { err "usage: kafka.sh run CLASS [ARGS...]"; exit 2; }
  if ! libs_current; then (lock; do_fetch); fi
  [[ -f "$LOG4J_TOOLS" ]] || write_tools_log4j
  tools_java "$@"
}

case "${1:-}" in
  fetch) lock; do_fetch ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status x ;;
  reset) do_reset ;;
  kill) do_kill ;;
  run) shift; do_run "$@" ;;
  *)
    echo "usage: $0 fetch|start|stop|status|reset|kill|run CLASS [ARGS...]" >&2
    exit 2
    ;;
esac

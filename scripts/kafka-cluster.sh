#!/usr/bin/env bash
# Local three-broker Apache Kafka cluster (KRaft) with a SASL_SSL client
# listener, for integration tests, fault tests and benchmarks. No Docker: three
# JVMs on 127.0.0.1, using the jars of scripts/kafka.sh (<repo>/.kafka/libs).
#
# Usage: scripts/kafka-cluster.sh COMMAND
#   start              start the brokers that are not running (idempotent), wait
#                      until all three serve SASL_SSL requests; formats storage
#                      and makes the CA/certificates on first use
#   stop               SIGTERM all three, SIGKILL after KAFKA_CLUSTER_STOP_TIMEOUT
#   status             one line per broker; exit 0 only if all three answer
#   kill-broker N      kill -9 broker N (1..3), for fault tests
#   start-broker N     start broker N again and wait until it serves requests
#   leader TOPIC PART  print the id (1..3) of the broker leading TOPIC/PART
#   env                print the service's connection settings (KAFKA_*=...)
#   reset              stop, then delete data, logs and TLS material
#
# Each broker is combined broker+controller (node.id N, a static KRaft quorum
# of three voters), its own JVM (-Xms128m -Xmx256m, SerialGC, C1 only, AppCDS).
# Listeners of broker N (1..3), all on 127.0.0.1, ports = base + N - 1:
#   CLIENT      SASL_SSL  19092..19094  SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
#   MTLS        SSL       19392..19394  TLS only, client certificate required
#   INTERNAL    PLAINTEXT 19292..19294  inter-broker replication
#   CONTROLLER  PLAINTEXT 19192..19194  KRaft quorum
# INTERNAL and CONTROLLER are plaintext on purpose: they are loopback only,
# TLS there would roughly double the CPU cost of replication on a small box
# without testing anything the service sees, and a plaintext listener lets
# the script probe each broker without starting a JVM (ApiVersions in bash).
# Anyone on this machine can use them without credentials: test use only.
# There is no authorizer: every authenticated user may do everything.
#
# Users (test-only secrets, created at format time / in the listener's JAAS):
#   svc   / svc-test-secret     the service (KAFKA_SASL_USERNAME in `env`)
#   admin / admin-test-secret   the CLI tools (.kafka-cluster/client.properties)
# Both exist for SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN. Changing them here
# takes effect for SCRAM only after `reset` (SCRAM users live in the metadata).
#
# Topic defaults are those of a durable production cluster: replication 3,
# min.insync.replicas 2 (acks=all survives one broker down), internal topics
# replicated 3 times, no unclean leader election. auto.create.topics.enable is
# false, as with scripts/kafka.sh: the service creates its topics itself
# (src/kafka/topics.ts), so a test that forgets one should fail rather than get
# a silently auto-created topic; KAFKA_CLUSTER_AUTO_CREATE=true turns it on.
#
# Files, all under <repo>/.kafka-cluster/ (gitignored):
#   tls/ca.pem, ca.key          the test CA (clients trust ca.pem)
#   tls/server.pem, server.key  broker certificate (SAN IP:127.0.0.1,
#                               DNS:localhost), shared by the three brokers
#   tls/server-keystore.pem     key + chain, the brokers' PEM keystore
#   tls/client.pem, client.key  client certificate (CN=svc) signed by the CA,
#   tls/client-keystore.pem     and both in one file, for mutual TLS
#   tls/untrusted-ca.pem        a self-signed certificate unrelated to the CA,
#                               for "wrong CA" tests
#   client.properties           SASL_SSL + SCRAM-SHA-512 as admin, for CLI tools
#   client-mtls.properties      SSL with the client certificate (MTLS ports)
#   broker-N/server.properties  written on every start; broker-N/data (log.dirs
#                               and metadata), broker-N/logs/{server,stdout}.log,
#                               broker-N/broker.pid
#   cds/                        AppCDS archive dumped by broker 1's first clean stop
# CLI example:
#   bash scripts/kafka.sh run org.apache.kafka.tools.TopicCommand \
#     --bootstrap-server 127.0.0.1:19092 \
#     --command-config .kafka-cluster/client.properties --list
#
# Environment:
#   KAFKA_CLUSTER_DIR (<repo>/.kafka-cluster): the state directory, for a second
#   cluster beside the tests' one (the soak: .soak/kafka-cluster, other ports).
#   KAFKA_CLUSTER_PORT (19092), KAFKA_CLUSTER_CONTROLLER_PORT (19192),
#   KAFKA_CLUSTER_INTERNAL_PORT (19292), KAFKA_CLUSTER_SSL_PORT (19392): base
#   ports, broker N uses base + N - 1; 9092/9093 (scripts/kafka.sh) are refused.
#   KAFKA_CLUSTER_START_TIMEOUT (120 s), KAFKA_CLUSTER_STOP_TIMEOUT (30 s),
#   KAFKA_CLUSTER_HEAP_OPTS (-Xms128m -Xmx256m), KAFKA_CLUSTER_JVM_OPTS
#   (replace the defaults of kafka-common.sh), KAFKA_CLUSTER_CDS (1; 0 = no
#   class archive), KAFKA_CLUSTER_AUTO_CREATE (false), KAFKA_CLUSTER_ID (used
#   only when formatting), KAFKA_TOOLS_OPTS (JVM options of the CLI tools).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
# shellcheck source=scripts/kafka-common.sh
source "$SCRIPT_DIR/kafka-common.sh"

CDIR="${KAFKA_CLUSTER_DIR:-$ROOT/.kafka-cluster}"
TLS="$CDIR/tls"
CDS_DIR="$CDIR/cds"
CLIENT_PROPS="$CDIR/client.properties"
LOCKFILE="$CDIR/.lock"
BROKERS=(1 2 3)

SASL_BASE="${KAFKA_CLUSTER_PORT:-19092}"
CONTROLLER_BASE="${KAFKA_CLUSTER_CONTROLLER_PORT:-19192}"
INTERNAL_BASE="${KAFKA_CLUSTER_INTERNAL_PORT:-19292}"
SSL_BASE="${KAFKA_CLUSTER_SSL_PORT:-19392}"
START_TIMEOUT="${KAFKA_CLUSTER_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_CLUSTER_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_CLUSTER_HEAP_OPTS:--Xms128m -Xmx256m}"
JVM_OPTS="${KAFKA_CLUSTER_JVM_OPTS:-$BROKER_JVM_OPTS}"
CDS="${KAFKA_CLUSTER_CDS:-1}"
AUTO_CREATE="${KAFKA_CLUSTER_AUTO_CREATE:-false}"
CLUSTER_ID="${KAFKA_CLUSTER_ID:-a2Fma2EtY2x1c3Rlci0zYg}"

SVC_USER="svc"
SVC_PASSWORD=svc-test-secret
ADMIN_USER="admin"
ADMIN_PASSWORD=admin-test-secret

log() { echo "kafka-cluster.sh: $*"; }
err() { echo "kafka-cluster.sh: $*" >&2; }

lock() { lock_on "$LOCKFILE"; }

sasl_port() { echo $((SASL_BASE + $1 - 1)); }
controller_port() { echo $((CONTROLLER_BASE + $1 - 1)); }
internal_port() { echo $((INTERNAL_BASE + $1 - 1)); }
ssl_port() { echo $((SSL_BASE + $1 - 1)); }
bdir() { echo "$CDIR/broker-$1"; }
props() { echo "$CDIR/broker-$1/server.properties"; }
pidfile() { echo "$CDIR/broker-$1/broker.pid"; }
pid_of() { broker_pid_of "$(pidfile "$1")" "$(props "$1")"; }
bootstrap() {
  local n out=()
  for n in "${BROKERS[@]}"; do out+=("$HOST:$(sasl_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

# The internal PLAINTEXT listener answers the Java-free ApiVersions probe.
answers() { api_versions_ok "$(internal_port "$1")"; }

check_broker_id() {
  [[ "${1:-}" =~ ^[1-3]$ ]] || { err "broker id must be 1, 2 or 3 (got '${1:-}')"; exit 2; }
}

check_ports() {
  local n p
  for n in "${BROKERS[@]}"; do
    for p in "$(sasl_port "$n")" "$(controller_port "$n")" "$(internal_port "$n")" "$(ssl_port "$n")"; do
      if [[ "$p" == 9092 || "$p" == 9093 ]]; then
        err "port $p belongs to scripts/kafka.sh's broker; choose other KAFKA_CLUSTER_*_PORT bases"
        exit 2
      fi
    done
  done
}

show_log_tail() { log_tails "$(bdir "$1")/logs"; }

# -------------------------------------------------------------------- TLS ---

# sign NAME SUBJECT EXTENSIONS: key NAME.key and certificate NAME.pem signed by the CA.
sign() {
  openssl req -new -newkey rsa:2048 -nodes -keyout "$TLS/$1.key" -subj "$2" \
    -out "$TLS/$1.csr" 2>/dev/null
  printf '%s\n' "$3" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" \
    >"$TLS/$1.ext"
  openssl x509 -req -in "$TLS/$1.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
    -CAcreateserial -CAserial "$TLS/ca.srl" -days 3650 -sha256 \
    -extfile "$TLS/$1.ext" -out "$TLS/$1.pem" 2>/dev/null
  rm -f "$TLS/$1.csr" "$TLS/$1.ext"
}

make_tls() {
  [[ -s "$TLS/server-keystore.pem" && -s "$TLS/client-keystore.pem" ]] && return 0
  need openssl "apt-get install -y openssl"
  log "making a test CA and certificates in $TLS"
  rm -rf "$TLS"
  mkdir -p "$TLS"
  chmod 700 "$TLS"
  local ca_ext=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 -subj "/CN=kafka-cluster test CA" \
    "${ca_ext[@]}" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" 2>/dev/null
  sign server "/CN=localhost" \
    $'subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth'
  sign client "/CN=$SVC_USER" \
    $'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth'
  # Kafka's PEM keystore: an unencrypted PKCS#8 key followed by the chain.
  cat "$TLS/server.key" "$TLS/server.pem" "$TLS/ca.pem" >"$TLS/server-keystore.pem"
  cat "$TLS/client.key" "$TLS/client.pem" "$TLS/ca.pem" >"$TLS/client-keystore.pem"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 -subj "/CN=untrusted test CA" \
    "${ca_ext[@]}" -keyout "$TLS/untrusted-ca.key" -out "$TLS/untrusted-ca.pem" 2>/dev/null
}

# ----------------------------------------------------------------- config ---

write_client_props() {
  cat >"$CLIENT_PROPS" <<EOF
# Written by scripts/kafka-cluster.sh: SASL_SSL for Kafka's CLI tools.
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$ADMIN_USER" password="$ADMIN_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem
EOF
  cat >"$CDIR/client-mtls.properties" <<EOF
# Written by scripts/kafka-cluster.sh: TLS with a client certificate (MTLS listener).
security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem
ssl.keystore.type=PEM
ssl.keystore.location=$TLS/client-keystore.pem
EOF
}

write_broker_config() {
  local n=$1 dir voters="" v
  dir="$(bdir "$n")"
  mkdir -p "$dir/data" "$dir/logs"
  for v in "${BROKERS[@]}"; do voters+="${voters:+,}$v@$HOST:$(controller_port "$v")"; done
  local plain_users="user_$SVC_USER=\"$SVC_PASSWORD\" user_$ADMIN_USER=\"$ADMIN_PASSWORD\""
  cat >"$(props "$n")" <<EOF
# Written by scripts/kafka-cluster.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=CLIENT://$HOST:$(sasl_port "$n"),MTLS://$HOST:$(ssl_port "$n"),INTERNAL://$HOST:$(internal_port "$n"),CONTROLLER://$HOST:$(controller_port "$n")
advertised.listeners=CLIENT://$HOST:$(sasl_port "$n"),MTLS://$HOST:$(ssl_port "$n"),INTERNAL://$HOST:$(internal_port "$n")
listener.security.protocol.map=CLIENT:SASL_SSL,MTLS:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
log.dirs=$dir/data

# TLS (CLIENT and MTLS listeners): PEM key store and trust store
ssl.keystore.type=PEM
ssl.keystore.location=$TLS/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem
listener.name.mtls.ssl.client.auth=required

# SASL on CLIENT: SCRAM users are in the cluster metadata (created at format
# time), PLAIN users are listed here
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required $plain_users;

# durable defaults
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=$AUTO_CREATE
delete.topic.enable=true

# small: three brokers share two cores
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
log.segment.bytes=16777216
log.index.size.max.bytes=1048576
log.retention.hours=24
file.delete.delay.ms=1000
# a killed broker is noticed (leaders moved) after 3 s, and a restarted one
# need not wait long for its old session to expire
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
# No controlled shutdown: with it, a broker stopping after the other two have
# left waits up to 5 minutes for a controller quorum that is gone, so the cluster stop
# hung. Without it a SIGTERMed broker still flushes and closes its logs
# cleanly; its leaderships move when its session expires (3 s), as for a crash.
controlled.shutdown.enable=false
EOF
  write_server_log4j "$dir/log4j2.properties" "$dir/logs"
}

# Formats every broker's storage that has no meta.properties yet, in parallel;
# SCRAM users are written into the bootstrap metadata here.
format_if_needed() {
  local n pids=() failed=0 scram=() user pw mech
  for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
    for user in "$SVC_USER:$SVC_PASSWORD" "$ADMIN_USER:$ADMIN_PASSWORD"; do
      pw=${user#*:}
      scram+=(--add-scram "$mech=[name=${user%%:*},password=$pw]")
    done
  done
  for n in "${BROKERS[@]}"; do
    [[ -f "$(bdir "$n")/data/meta.properties" ]] && continue
    tools_java kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$(props "$n")" "${scram[@]}" \
      >"$(bdir "$n")/logs/format.log" 2>&1 &
    pids+=("$!:$n")
  done
  for n in "${pids[@]}"; do
    if ! wait "${n%%:*}"; then
      cat "$(bdir "${n#*:}")/logs/format.log" >&2
      err "formatting broker ${n#*:} failed"
      failed=1
    fi
  done
  ((failed == 0)) || exit 1
}

# ---------------------------------------------------------------- start -----

prepare() {
  bash "$SCRIPT_DIR/kafka.sh" fetch
  need java "install a JDK >= 17"
  [[ -f "$LOG4J_TOOLS" ]] || write_tools_log4j
  mkdir -p "$CDIR"
  make_tls
  write_client_props
  local n
  for n in "${BROKERS[@]}"; do write_broker_config "$n"; done
  format_if_needed
}

# Starts broker N unless it runs already; no waiting.
launch() {
  local n=$1 pid p
  pid="$(pid_of "$n")"
  if [[ -n "$pid" ]]; then
    answers "$n" && return 0
    log "broker $n (pid $pid) exists but does not answer; leaving it to come up"
    return 0
  fi
  for p in "$(sasl_port "$n")" "$(controller_port "$n")" "$(internal_port "$n")" "$(ssl_port "$n")"; do
    if port_open "$p"; then
      err "port $HOST:$p (broker $n) is already in use by another process"
      exit 1
    fi
  done
  CDS_OPTS=()
  # only broker 1 dumps the shared class archive; all three map it
  if [[ "$CDS" == 1 ]]; then cds_options "$CDS_DIR" "$([[ $n == 1 ]] && echo 1 || echo 0)"; fi
  local dir
  dir="$(bdir "$n")"
  # shellcheck disable=SC2086
  launch_broker "$(props "$n")" "$dir/log4j2.properties" "$dir/logs" \
    $HEAP_OPTS $JVM_OPTS "${CDS_OPTS[@]}"
  echo "$LAUNCHED_PID" >"$(pidfile "$n")"
}

# Broker ids that Metadata over SASL_SSL reports as serving (unfenced), asking
# the brokers in $@; proves TLS + SCRAM work end to end.
serving_ids() {
  local n servers=()
  for n in "$@"; do servers+=("$HOST:$(sasl_port "$n")"); done
  timeout 30 "${TOOLS_JAVA[@]}" org.apache.kafka.tools.BrokerApiVersionsCommand \
    --bootstrap-server "$(IFS=,; echo "${servers[*]}")" --command-config "$CLIENT_PROPS" 2>/dev/null |
    sed -n 's/^[0-9.]*:[0-9]* (id: \([0-9]*\) .*/\1/p' | sort -u | tr '\n' ' ' || true
}

# wait_ready N...: until each broker answers and SASL_SSL metadata lists it.
wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) n pid ids
  local -a pending=("$@")
  while ((SECONDS < deadline)); do
    pending=()
    for n in "$@"; do
      pid="$(pid_of "$n")"
      if [[ -z "$pid" ]]; then
        err "broker $n exited during startup"
        show_log_tail "$n"
        return 1
      fi
      answers "$n" || pending+=("$n")
    done
    if ((${#pending[@]} == 0)); then
      ids=" $(serving_ids "$@")"
      pending=()
      for n in "$@"; do [[ "$ids" == *" $n "* ]] || pending+=("$n"); done
      ((${#pending[@]} == 0)) && return 0
    fi
    sleep 0.5
  done
  err "broker(s) ${pending[*]} not ready within ${START_TIMEOUT}s"
  for n in "${pending[@]}"; do show_log_tail "$n"; done
  return 1
}

do_start() {
  check_ports
  lock
  local t0=$SECONDS n
  local -a todo=()
  for n in "${BROKERS[@]}"; do
    if [[ -z "$(pid_of "$n")" ]] || ! answers "$n"; then todo+=("$n"); fi
  done
  if ((${#todo[@]} == 0)); then
    log "all three brokers already answer ($(bootstrap)); nothing to do"
    return 0
  fi
  prepare
  for n in "${todo[@]}"; do launch "$n"; done
  if ! wait_ready "${BROKERS[@]}"; then
    err "start failed; the brokers are left running for inspection (stop with: $0 stop)"
    exit 1
  fi
  log "cluster ready on $(bootstrap) (SASL_SSL; started broker(s) ${todo[*]}; $((SECONDS - t0)) s)"
}

do_start_broker() {
  check_broker_id "${1:-}"
  check_ports
  lock
  local t0=$SECONDS
  if [[ -n "$(pid_of "$1")" ]] && answers "$1"; then
    log "broker $1 already answers; nothing to do"
    return 0
  fi
  prepare
  launch "$1"
  wait_ready "$1" || exit 1
  log "broker $1 ready on $HOST:$(sasl_port "$1") (pid $(pid_of "$1"), $((SECONDS - t0)) s)"
}

# ------------------------------------------------------------------- stop ---

do_stop() {
  lock
  local n pid stopped=() rc
  # SIGTERM to all at once (no controlled shutdown, see the broker config)
  for n in "${BROKERS[@]}"; do
    pid="$(pid_of "$n")"
    [[ -n "$pid" ]] || continue
    kill -TERM "$pid" 2>/dev/null || true
    stopped+=("$n:$pid")
  done
  for n in "${stopped[@]}"; do
    rc=0
    stop_pid "${n#*:}" "$STOP_TIMEOUT" || rc=$?
    if [[ "${n%%:*}" == 1 ]]; then
      case $rc in
        0) cds_adopt "$CDS_DIR" ;;
        *) rm -f "$CDS_DIR"/*.jsa.tmp ;;
      esac
    fi
    ((rc == 1)) && { err "broker ${n%%:*} (pid ${n#*:}) could not be stopped"; exit 1; }
    rm -f "$(pidfile "${n%%:*}")"
  done
  if ((${#stopped[@]} == 0)); then
    log "not running"
  else
    log "stopped broker(s) ${stopped[*]%%:*}"
  fi
}

do_kill_broker() {
  check_broker_id "${1:-}"
  lock
  local pid i
  pid="$(pid_of "$1")"
  if [[ -z "$pid" ]]; then
    log "broker $1 is not running"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  rm -f "$(pidfile "$1")"
  [[ "$1" == 1 ]] && rm -f "$CDS_DIR"/*.jsa.tmp
  log "killed broker $1 (pid $pid)"
}

do_reset() {
  do_stop
  rm -rf "${CDIR:?}"/broker-* "$TLS" "$CDIR"/client*.properties
  log "deleted brokers' data and logs, TLS material and client properties in $CDIR"
}

# ---------------------------------------------------------------- queries ---

do_status() {
  local n pid up=0
  for n in "${BROKERS[@]}"; do
    pid="$(pid_of "$n")"
    if answers "$n"; then
      up=$((up + 1))
      log "broker $n: running (pid ${pid:-?}), SASL_SSL $HOST:$(sasl_port "$n"), SSL $HOST:$(ssl_port "$n")"
    elif [[ -n "$pid" ]]; then
      log "broker $n: process $pid is not answering"
    else
      log "broker $n: not running"
    fi
  done
  ((up == ${#BROKERS[@]}))
}

do_leader() {
  [[ $# -eq 2 && "$2" =~ ^[0-9]+$ ]] || { err "usage: $0 leader TOPIC PARTITION"; exit 2; }
  [[ -f "$CLIENT_PROPS" ]] || { err "no $CLIENT_PROPS: start the cluster first"; exit 1; }
  local out leader
  out="$(timeout 60 "${TOOLS_JAVA[@]}" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$(bootstrap)" --command-config "$CLIENT_PROPS" \
    --describe --topic "$1" 2>&1)" || { echo "$out" >&2; err "cannot describe topic $1"; exit 1; }
  leader="$(awk -v p="$2" '{
      for (i = 1; i < NF; i++) {
        if ($i == "Partition:") part = $(i + 1)
        if ($i == "Leader:") lead = $(i + 1)
      }
      if (part == p && lead != "") { print lead; exit }
    }' <<<"$out")"
  if [[ ! "$leader" =~ ^[1-3]$ ]]; then
    err "topic $1 partition $2: no leader${leader:+ (leader: $leader)}"
    exit 1
  fi
  echo "$leader"
}

do_env() {
  cat <<EOF
KAFKA_BOOTSTRAP_SERVERS=$(bootstrap)
KAFKA_SECURITY_PROTOCOL=SASL_SSL
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
KAFKA_SASL_USERNAME=$SVC_USER
KAFKA_SASL_PASSWORD=$SVC_PASSWORD
KAFKA_SSL_CA_FILE=$TLS/ca.pem
EOF
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  kill-broker) do_kill_broker "${2:-}" ;;
  start-broker) do_start_broker "${2:-}" ;;
  leader) shift; do_leader "$@" ;;
  env) do_env ;;
  reset) do_reset ;;
  *)
    echo "usage: $0 start|stop|status|kill-broker N|start-broker N|leader TOPIC PARTITION|env|reset" >&2
    exit 2
    ;;
esac

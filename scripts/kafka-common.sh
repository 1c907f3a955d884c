# shellcheck shell=bash
# Shared by scripts/kafka.sh (one broker) and scripts/kafka-cluster.sh (three):
# sourced, never run. The caller sets ROOT (the repository) and defines log/err.
# Defines where the jars live (fetched by `scripts/kafka.sh fetch` into
# <repo>/.kafka/libs), the JVM command line for Kafka's CLI classes, the broker
# log4j2 file, process helpers and the AppCDS archive helpers.

# KAFKA_DIR and KAFKA_LIBS move a second single broker's state and jars (scripts/kafka.sh).
KAFKA_DIR="${KAFKA_DIR:-$ROOT/.kafka}"
LIBS="${KAFKA_LIBS:-$KAFKA_DIR/libs}"
LOG4J_TOOLS="$KAFKA_DIR/log4j2-tools.properties"
HOST=127.0.0.1

# Default JVM options of a broker besides the heap. C1 only
# (TieredStopAtLevel=1) starts ~1 s faster and is plenty for tests; for
# throughput benchmarks pass options without it.
# shellcheck disable=SC2034 # used by the sourcing scripts
BROKER_JVM_OPTS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:MaxDirectMemorySize=128m -XX:ReservedCodeCacheSize=64m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"

need() {
  command -v "$1" >/dev/null 2>&1 || { err "'$1' not found on PATH${2:+ ($2)}"; exit 1; }
}

alive() { kill -0 "$1" 2>/dev/null; }

# lock_on FILE: exclusive lock (fd 9) for commands that change state; released
# on exit. Brokers are started with fd 9 closed so they never hold it.
lock_on() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  flock 9
}

# log_tails LOGDIR: the last lines of LOGDIR/server.log and stdout.log, on stderr.
log_tails() {
  local f
  for f in "$1/server.log" "$1/stdout.log"; do
    if [[ -s "$f" ]]; then
      err "---- last lines of $f ----"
      tail -n 40 "$f" >&2
    fi
  done
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" >/dev/null 2>&1
}

# Java-free Kafka check on a PLAINTEXT listener: send an ApiVersions v0 request
# (api_key 18, correlation id 0x4b414641, client id "probe") and expect the same
# correlation id back with error_code 0. A broker only answers once it serves
# requests.
api_versions_ok() {
  local out
  out="$(timeout 3 bash -c '
    exec 3<>/dev/tcp/'"$HOST"'/'"$1"' || exit 1
    printf "\x00\x00\x00\x0f\x00\x12\x00\x00\x4b\x41\x46\x41\x00\x05probe" >&3
    head -c 10 <&3' 2>/dev/null | LC_ALL=C od -An -tx1 | tr -d ' \n')" || true
  [[ "${#out}" -eq 20 && "${out:8:12}" == "4b4146410000" ]]
}

# broker_pid_of PIDFILE PROPS: PID of the kafka.Kafka JVM started with PROPS,
# or empty. Trusts the pid file only if that process really is kafka.Kafka
# with PROPS; else asks pgrep for a command line ending in "kafka.Kafka PROPS"
# (a bash loop over /proc takes seconds on a loaded machine).
broker_pid_of() {
  local pidfile=$1 props=$2 pid cmd
  if [[ -f "$pidfile" ]]; then
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]]; then
      cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)"
      if [[ "$cmd" == *" kafka.Kafka $props "* ]]; then echo "$pid"; return 0; fi
    fi
  fi
  # shellcheck disable=SC2001,SC2016 # a regex-escaped path; $ is literal
  pgrep -f -- "kafka\.Kafka $(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$props")\$" | head -n 1 || true
}

# launch_broker PROPS LOG4J LOGDIR [JVM OPTION...]: starts `kafka.Kafka PROPS`
# detached (own session, lock fd 9 closed, output appended to
# LOGDIR/stdout.log) in PROPS's directory; sets LAUNCHED_PID.
launch_broker() {
  local props=$1 log4j=$2 logs=$3
  shift 3
  (
    cd "$(dirname "$props")" || exit 1
    exec setsid nohup java "$@" "-Dlog4j2.configurationFile=$log4j" \
      "-Dkafka.logs.dir=$logs" -cp "$LIBS/*" kafka.Kafka "$props" \
      >>"$logs/stdout.log" 2>&1 </dev/null 9>&-
  ) &
  # shellcheck disable=SC2034 # read by the caller
  LAUNCHED_PID=$!
}

# stop_pid PID TIMEOUT: SIGTERM, then SIGKILL after TIMEOUT seconds.
# Returns 0 if the process exited on SIGTERM, 3 if it needed SIGKILL, 1 if it
# survived even that.
stop_pid() {
  local pid=$1 timeout_s=$2 i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout_s * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  err "process $pid did not stop within ${timeout_s}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || return 3
    sleep 0.1
  done
  err "process $pid survived SIGKILL"
  return 1
}

# Command line for Kafka CLI classes: small JVM, logs WARN to stderr.
# shellcheck disable=SC2206
TOOLS_JAVA=(java ${KAFKA_TOOLS_OPTS:--Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
  "-Dlog4j2.configurationFile=$LOG4J_TOOLS" -cp "$LIBS/*")
tools_java() { "${TOOLS_JAVA[@]}" "$@"; }

write_tools_log4j() {
  mkdir -p "$KAFKA_DIR"
  cat >"$LOG4J_TOOLS" <<'EOF'
# CLI tools: warnings and errors on stderr.
status = warn
name = kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# write_server_log4j FILE LOGDIR: broker logging to LOGDIR/server.log only.
write_server_log4j() {
  cat >"$1" <<EOF
# Broker logging: file only, nothing on the console.
status = warn
name = kafka-server
# Kafka logs while shutting down; log4j's own hook would stop logging first.
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $2/server.log
appender.file.filePattern = $2/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
# very chatty at INFO
logger.cfg.name = org.apache.kafka.common.config.AbstractConfig
logger.cfg.level = WARN
logger.kcfg.name = kafka.server.KafkaConfig
logger.kcfg.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.storage.name = org.apache.kafka.storage.internals.log
logger.storage.level = WARN
logger.unifiedlog.name = kafka.log.UnifiedLog
logger.unifiedlog.level = WARN
logger.logmanager.name = kafka.log.LogManager
logger.logmanager.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser
logger.appinfo.level = WARN
EOF
}

# ----------------------------------------------------------------- AppCDS ---
# A broker JVM that finds no archive dumps its loaded classes into one when it
# is stopped cleanly; later starts map it (~1.5 s faster, ~40 MB less RSS, and
# JVMs mapping the same archive share those pages). The archive is specific to
# the jars and to the JVM build, hence the hash in its name.

# cds_options DIR [DUMP]: fills the array CDS_OPTS to map DIR's archive, or,
# when there is none and DUMP is 1 (the default), to dump one at exit.
cds_options() {
  local dir=$1 dump=${2:-1} jsa
  # `java -version` takes ~0.5 s: once per script run
  [[ -n "${CDS_JVM_HASH:-}" ]] || CDS_JVM_HASH="$(java -version 2>&1 | sha256sum | cut -c1-12)"
  jsa="$dir/kafka-$CDS_JVM_HASH.jsa"
  CDS_OPTS=()
  if [[ -s "$jsa" ]]; then
    CDS_OPTS=("-XX:SharedArchiveFile=$jsa")
  elif [[ "$dump" == 1 ]]; then
    mkdir -p "$dir"
    rm -f "$dir"/*.jsa "$dir"/*.jsa.tmp
    CDS_OPTS=("-XX:ArchiveClassesAtExit=$jsa.tmp")
  else
    return 0
  fi
  CDS_OPTS+=(-Xlog:cds=off -Xlog:cds+dynamic=off)
}

# After a clean exit, an archive dumped at exit is complete: keep it.
cds_adopt() {
  local tmp
  for tmp in "$1"/*.jsa.tmp; do
    [[ -s "$tmp" ]] && mv -f "$tmp" "${tmp%.tmp}"
  done
  return 0
}

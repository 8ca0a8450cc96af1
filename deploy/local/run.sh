#!/usr/bin/env bash
# Starts the whole local stack: Redis, MariaDB and RabbitMQ (installed and started when missing),
# the devstack Kafka broker on 127.0.0.1:9092, and the three services on the demo pipeline
# (examples/payments.yaml), each in the background with its log under .local/.
#
#   deploy/local/run.sh              build if needed, start everything, wait until every service is ready
#   deploy/local/run.sh add SERVICE  start one more instance of ingest, enrich or aggregate on the next
#                                    free port (8090, 8091, ...); it joins the stage's consumer group
#                                    (fused: `add fused`, one more fused process on the next three free ports)
#   deploy/local/run.sh stop         stop every service instance and the broker (the servers keep running)
#   deploy/local/run.sh status       show what runs
#   deploy/local/run.sh reset        stop the pipeline's services and remove what Tributary keeps for
#                                    it: its topics and consumer groups on the local broker, its
#                                    aggregation state and histories in Redis and SQL (reference data
#                                    stays); the next start is a first start. Needed before running
#                                    the pipeline in the other shape (services or fused) or on the
#                                    other store
#
# Environment: PIPELINE (default examples/payments.yaml; the demo reference data is loaded for that
# pipeline only, or with DEMO_DATA=1 for a variant of it), STACK (a name for a second pipeline's
# services, so their pid and log files do not clash: .local/STACK-ingest.log, ...), PORT_BASE (8080:
# ingest on it, enrich and aggregate on the next two), TRIBUTARY_CONTROL_START_PAUSED=true (the
# services start paused: load reference data, then POST /control/resume?scope=cluster),
# TRIBUTARY_CONTROL_TOKEN (default: a random token kept in .local/control-token), KAFKA_PORT (9092),
# SKIP_BUILD=1, JAVA_OPTS (default -Xmx1g), and any TRIBUTARY_* setting, which every service reads
# (e.g. TRIBUTARY_KAFKA_PARTITIONS=4 for new topics). deploy/local/cascade.sh starts two pipelines.
# TRIBUTARY_MODE=fused runs the same pipeline as one fused process (.local/fused.pid) instead of three
# services: every stage in one JVM, the buses between them in memory, each stage's API on its usual port.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
STATE="$ROOT/.local"
PIPELINE=${PIPELINE:-examples/payments.yaml}
KAFKA_PORT=${KAFKA_PORT:-9092}
PORT_BASE=${PORT_BASE:-8080}
PREFIX=${STACK:+$STACK-}
SERVICES=("ingest:$PORT_BASE" "enrich:$((PORT_BASE + 1))" "aggregate:$((PORT_BASE + 2))")
DEPLOY_MODE=${TRIBUTARY_MODE:-services}
case "$DEPLOY_MODE" in services|fused) ;; *) echo "TRIBUTARY_MODE must be services or fused, got '$DEPLOY_MODE'" >&2; exit 64 ;; esac
mkdir -p "$STATE"

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_all() {
  for pidfile in "$STATE"/*.pid; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    [ "$name" = kafka ] && continue
    stop_one "$name"
  done
  stop_one kafka
}

stop_one() {
  local name=$1
  if pid_alive "$STATE/$name.pid"; then
    kill "$(cat "$STATE/$name.pid")" 2>/dev/null || true
    for _ in $(seq 1 60); do pid_alive "$STATE/$name.pid" || break; sleep 0.5; done
    pid_alive "$STATE/$name.pid" && kill -9 "$(cat "$STATE/$name.pid")" 2>/dev/null || true
    echo "stopped $name"
  fi
  rm -f "$STATE/$name.pid"
}

status() {
  for pidfile in "$STATE"/*.pid; do
    [ -e "$pidfile" ] || { echo "nothing runs"; return; }
    name=$(basename "$pidfile" .pid)
    if pid_alive "$pidfile"; then echo "$name: running (pid $(cat "$pidfile"))"; else echo "$name: stopped"; fi
  done
}

MODE=${1:-start}
case "$MODE" in
  stop) stop_all; exit 0 ;;
  status) status; exit 0 ;;
  start|add|reset) ;;
  *) echo "usage: $0 [start|add SERVICE|stop|status|reset]" >&2; exit 64 ;;
esac

if [ -z "${TRIBUTARY_CONTROL_TOKEN:-}" ]; then
  if [ ! -s "$STATE/control-token" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$STATE/control-token")
  fi
  TRIBUTARY_CONTROL_TOKEN=$(cat "$STATE/control-token")
fi
export TRIBUTARY_CONTROL_TOKEN
export TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
export TRIBUTARY_CLUSTER_ENABLED=${TRIBUTARY_CLUSTER_ENABLED:-true}

wait_port() { # host port seconds what pidfile
  for _ in $(seq 1 $(( $3 * 4 ))); do
    port_open "$1" "$2" && return 0
    pid_alive "$5" || { echo "$4 exited" >&2; return 1; }
    sleep 0.25
  done
  echo "$4 did not listen on $1:$2 within $3 s" >&2; return 1
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

start_service() { # service instance-name port
  TRIBUTARY_HTTP_PORT=$3 nohup java ${JAVA_OPTS:--Xmx1g} -jar "$1-service/target/$1-service.jar" \
    --pipeline "$PIPELINE" > "$STATE/$2.log" 2>&1 &
  echo $! > "$STATE/$2.pid"
}

start_fused() { # instance-name port (ingest; enrich and aggregate on the next two)
  TRIBUTARY_HTTP_PORT=$2 TRIBUTARY_FUSED_ENRICH_HTTP_PORT=$(($2 + 1)) TRIBUTARY_FUSED_AGGREGATE_HTTP_PORT=$(($2 + 2)) \
    nohup java ${JAVA_OPTS:--Xmx1g} -cp aggregate-service/target/aggregate-service.jar io.tributary.fused.Main \
    --pipeline "$PIPELINE" > "$STATE/$1.log" 2>&1 &
  echo $! > "$STATE/$1.pid"
}

wait_ready() { # instance-name port
  for _ in $(seq 1 240); do
    if ! pid_alive "$STATE/$1.pid"; then echo "$1 exited; its log:" >&2; tail -20 "$STATE/$1.log" >&2; exit 1; fi
    if curl -fs "http://127.0.0.1:$2/health/ready" > /dev/null 2>&1; then
      echo "$1: ready on http://127.0.0.1:$2 (log .local/$1.log)"; return
    fi
    sleep 0.5
  done
  echo "$1 not ready after 120 s: $(curl -s "http://127.0.0.1:$2/health/ready")" >&2; exit 1
}

if [ "$MODE" = add ]; then
  service=${2:-}
  case "$service" in ingest|enrich|aggregate|fused) ;; *) echo "usage: $0 add ingest|enrich|aggregate|fused" >&2; exit 64 ;; esac
  pid_alive "$STATE/kafka.pid" || { echo "the stack is not running: start it with $0" >&2; exit 1; }
  port=$((PORT_BASE + 10))
  if [ "$service" = fused ]; then
    while port_open 127.0.0.1 $port || port_open 127.0.0.1 $((port + 1)) || port_open 127.0.0.1 $((port + 2)) \
      || [ -e "$STATE/${PREFIX}fused-$port.pid" ]; do port=$((port + 3)); done
    start_fused "${PREFIX}fused-$port" "$port"
    wait_ready "${PREFIX}fused-$port" $((port + 2))
    exit 0
  fi
  while port_open 127.0.0.1 $port || [ -e "$STATE/$PREFIX$service-$port.pid" ]; do port=$((port + 1)); done
  start_service "$service" "$PREFIX$service-$port" "$port"
  wait_ready "$PREFIX$service-$port" "$port"
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  bash deploy/local/services.sh
else
  echo "not root: assuming Redis, MariaDB and RabbitMQ already run (sudo bash deploy/local/services.sh starts them)"
fi

build() {
  echo "building (mvn -q -DskipTests install; output in .local/build.log)..."
  # Maven prints terminal reset codes even when quiet: its output goes to the log, shown on failure.
  mvn -q -B -ntp -DskipTests install > "$STATE/build.log" 2>&1 || { sed 's/\x1b\[[0-9;]*m//g' "$STATE/build.log" >&2; exit 1; }
}

if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f aggregate-service/target/aggregate-service.jar ]; then
  build
fi

start_kafka() {
  if pid_alive "$STATE/kafka.pid"; then
    echo "kafka: already running on 127.0.0.1:$KAFKA_PORT"
    return
  fi
  KAFKA_PORT=$KAFKA_PORT KAFKA_DATA_DIR="$STATE/kafka" nohup java -cp devstack/target/devstack.jar:devstack/broker/target/devstack-broker.jar \
    io.tributary.devstack.KafkaBrokerMain > "$STATE/kafka.log" 2>&1 &
  echo $! > "$STATE/kafka.pid"
  wait_port 127.0.0.1 "$KAFKA_PORT" 90 "kafka" "$STATE/kafka.pid" || { tail -20 "$STATE/kafka.log"; exit 1; }
  echo "kafka: started on 127.0.0.1:$KAFKA_PORT (log .local/kafka.log)"
}
start_kafka

if [ "$MODE" = reset ]; then
  # Only this stack's services: another pipeline's (STACK=...) keep running on the broker.
  for pidfile in "$STATE"/*.pid; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    if [[ $name =~ ^${PREFIX}(ingest|enrich|aggregate|fused)(-[0-9]+)?$ ]]; then stop_one "$name"; fi
  done
  java -cp aggregate-service/target/aggregate-service.jar io.tributary.reset.Main --pipeline "$PIPELINE"
  echo "start it again with: deploy/local/run.sh (TRIBUTARY_MODE=fused for one fused process)"
  exit 0
fi

# One shape at a time: the other shape's processes hold the ports (whose answers would pass for this
# shape's readiness) and the pipeline's state.
if [ "$DEPLOY_MODE" = fused ]; then other=(ingest enrich aggregate); else other=(fused); fi
for name in "${other[@]}"; do
  if pid_alive "$STATE/$PREFIX$name.pid"; then
    echo "the stack already runs $PREFIX$name (the other shape): stop it first with $0 stop" \
      "(and $0 reset before starting the pipeline in another shape)" >&2
    exit 1
  fi
done

if [ "$DEPLOY_MODE" = fused ]; then
  if pid_alive "$STATE/${PREFIX}fused.pid"; then echo "${PREFIX}fused: already running"; else start_fused "${PREFIX}fused" "$PORT_BASE"; fi
  for entry in "${SERVICES[@]}"; do
    wait_ready "${PREFIX}fused" "${entry##*:}"
  done
else
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}; port=${entry##*:}
    if pid_alive "$STATE/$PREFIX$name.pid"; then echo "$PREFIX$name: already running"; continue; fi
    start_service "$name" "$PREFIX$name" "$port"
  done

  for entry in "${SERVICES[@]}"; do
    wait_ready "$PREFIX${entry%%:*}" "${entry##*:}"
  done
fi

# The demo's reference data fits only the demo pipeline's look-ups (merchant, blocked_cards).
if [ "${DEMO_DATA:-0}" = 1 ] || [ "$(cd "$(dirname "$PIPELINE")" && pwd)/$(basename "$PIPELINE")" = "$ROOT/examples/payments.yaml" ]; then
  bash deploy/local/demo-data.sh
else
  echo "pipeline $PIPELINE is not the demo: no demo reference data loaded; load yours with POST /reference/<lookup> on :$((PORT_BASE + 1))"
fi

cat <<MSG

Tributary is up on pipeline $PIPELINE.
  control token:   export TOKEN=\$(cat .local/control-token)   (or the TRIBUTARY_CONTROL_TOKEN you set)
  one more instance of a stage: deploy/local/run.sh add aggregate
  stop everything: deploy/local/run.sh stop
MSG

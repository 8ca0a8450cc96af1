#!/usr/bin/env bash
# Starts the whole local stack: Redis, MariaDB and RabbitMQ (installed and started when missing),
# the devstack Kafka broker on 127.0.0.1:9092, and the three services on the demo pipeline
# (examples/payments.yaml), each in the background with its log under .local/.
#
#   deploy/local/run.sh          build if needed, start everything, wait until every service is ready
#   deploy/local/run.sh stop     stop the services and the broker (the local servers keep running)
#   deploy/local/run.sh status   show what runs
#
# Environment: PIPELINE (default examples/payments.yaml), TRIBUTARY_CONTROL_TOKEN (default: a random
# token kept in .local/control-token), KAFKA_PORT (9092), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
STATE="$ROOT/.local"
PIPELINE=${PIPELINE:-examples/payments.yaml}
KAFKA_PORT=${KAFKA_PORT:-9092}
SERVICES=(ingest:8080 enrich:8081 aggregate:8082)
mkdir -p "$STATE"

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_all() {
  for entry in "${SERVICES[@]}" kafka:0; do
    name=${entry%%:*}
    if pid_alive "$STATE/$name.pid"; then
      kill "$(cat "$STATE/$name.pid")" 2>/dev/null || true
      for _ in $(seq 1 60); do pid_alive "$STATE/$name.pid" || break; sleep 0.5; done
      pid_alive "$STATE/$name.pid" && kill -9 "$(cat "$STATE/$name.pid")" 2>/dev/null || true
      echo "stopped $name"
    fi
    rm -f "$STATE/$name.pid"
  done
}

status() {
  for entry in kafka:0 "${SERVICES[@]}"; do
    name=${entry%%:*}
    if pid_alive "$STATE/$name.pid"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-start}" in
  stop) stop_all; exit 0 ;;
  status) status; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 64 ;;
esac

if [ "$(id -u)" = 0 ]; then
  bash deploy/local/services.sh
else
  echo "not root: assuming Redis, MariaDB and RabbitMQ already run (sudo bash deploy/local/services.sh starts them)"
fi

if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f aggregate-service/target/aggregate-service.jar ]; then
  echo "building (mvn -q -DskipTests install)..."
  mvn -q -B -ntp -DskipTests install
fi

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
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    pid_alive "$5" || { echo "$4 exited" >&2; return 1; }
    sleep 0.25
  done
  echo "$4 did not listen on $1:$2 within $3 s" >&2; return 1
}

if pid_alive "$STATE/kafka.pid"; then
  echo "kafka: already running on 127.0.0.1:$KAFKA_PORT"
else
  KAFKA_PORT=$KAFKA_PORT KAFKA_DATA_DIR="$STATE/kafka" nohup java -cp devstack/target/devstack.jar:devstack/broker/target/devstack-broker.jar \
    io.tributary.devstack.KafkaBrokerMain > "$STATE/kafka.log" 2>&1 &
  echo $! > "$STATE/kafka.pid"
  wait_port 127.0.0.1 "$KAFKA_PORT" 90 "kafka" "$STATE/kafka.pid" || { tail -20 "$STATE/kafka.log"; exit 1; }
  echo "kafka: started on 127.0.0.1:$KAFKA_PORT (log .local/kafka.log)"
fi

for entry in "${SERVICES[@]}"; do
  name=${entry%%:*}; port=${entry##*:}
  if pid_alive "$STATE/$name.pid"; then echo "$name-service: already running"; continue; fi
  TRIBUTARY_HTTP_PORT=$port nohup java ${JAVA_OPTS:--Xmx1g} -jar "$name-service/target/$name-service.jar" \
    --pipeline "$PIPELINE" > "$STATE/$name.log" 2>&1 &
  echo $! > "$STATE/$name.pid"
done

for entry in "${SERVICES[@]}"; do
  name=${entry%%:*}; port=${entry##*:}
  ready=0
  for _ in $(seq 1 240); do
    if ! pid_alive "$STATE/$name.pid"; then echo "$name-service exited; its log:" >&2; tail -20 "$STATE/$name.log" >&2; exit 1; fi
    if curl -fs "http://127.0.0.1:$port/health/ready" > /dev/null 2>&1; then ready=1; break; fi
    sleep 0.5
  done
  [ $ready = 1 ] || { echo "$name-service not ready after 120 s: $(curl -s "http://127.0.0.1:$port/health/ready")" >&2; exit 1; }
  echo "$name-service: ready on http://127.0.0.1:$port (log .local/$name.log)"
done

if [ -x deploy/local/demo-data.sh ]; then
  bash deploy/local/demo-data.sh
fi

cat <<MSG

Tributary is up on pipeline $PIPELINE.
  control token:   export TOKEN=\$(cat .local/control-token)   (or the TRIBUTARY_CONTROL_TOKEN you set)
  stop everything: deploy/local/run.sh stop
MSG

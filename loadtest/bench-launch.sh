#!/usr/bin/env bash
# The shared benchmark's launcher for deployment modes other than the three services
# (../shared/bench/README.md, "What the harness relies on in the product"). Run in the checkout:
#
#   loadtest/bench-launch.sh fused start PIPELINE    start one fused process (all stages, buses in memory), paused;
#                                                    returns once its reference API answers. pid: .local/fused.pid
#   loadtest/bench-launch.sh fused resume PIPELINE   start consuming the chain's source
#   loadtest/bench-launch.sh fused stop PIPELINE     stop it (SIGTERM, then SIGKILL after 30 s)
#
# Environment: as for the services (TRIBUTARY_* settings, TRIBUTARY_CONTROL_TOKEN), JAVA_OPTS (default -Xmx1g),
# BENCH_PORT_INGEST / BENCH_PORT_ENRICH / BENCH_PORT_AGGREGATE (default 8080 / 8081 / 8082): the ports the
# fused process serves each stage's API on.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.local
MODE=${1:?usage: bench-launch.sh MODE start|resume|stop PIPELINE}
ACTION=${2:?usage: bench-launch.sh MODE start|resume|stop PIPELINE}
PIPELINE=${3:?usage: bench-launch.sh MODE start|resume|stop PIPELINE}
[ "$MODE" = fused ] || { echo "bench-launch.sh: unknown mode '$MODE' (fused)" >&2; exit 64; }
INGEST_PORT=${BENCH_PORT_INGEST:-8080}
ENRICH_PORT=${BENCH_PORT_ENRICH:-8081}
AGGREGATE_PORT=${BENCH_PORT_AGGREGATE:-8082}
PID_FILE=$STATE/fused.pid
mkdir -p "$STATE"

alive() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }
token() {
  if [ -n "${TRIBUTARY_CONTROL_TOKEN:-}" ]; then echo "$TRIBUTARY_CONTROL_TOKEN"; else cat "$STATE/control-token"; fi
}

case "$ACTION" in
  start)
    alive && { echo "bench-launch.sh: a fused process runs already (pid $(cat "$PID_FILE"))" >&2; exit 1; }
    [ -f aggregate-service/target/aggregate-service.jar ] || mvn -q -B -ntp -DskipTests install >&2
    # shellcheck disable=SC2086
    TRIBUTARY_CONTROL_START_PAUSED=true TRIBUTARY_HTTP_PORT=$INGEST_PORT TRIBUTARY_FUSED_ENRICH_HTTP_PORT=$ENRICH_PORT \
      TRIBUTARY_FUSED_AGGREGATE_HTTP_PORT=$AGGREGATE_PORT \
      nohup java ${JAVA_OPTS:--Xmx1g} -cp aggregate-service/target/aggregate-service.jar io.tributary.fused.Main --pipeline "$PIPELINE" \
      > "$STATE/fused.log" 2>&1 &
    echo $! > "$PID_FILE"
    for _ in $(seq 1 1200); do
      curl -fs -o /dev/null "http://127.0.0.1:$ENRICH_PORT/health/ready" && exit 0
      alive || { echo "bench-launch.sh: the fused process exited; see $STATE/fused.log" >&2; tail -20 "$STATE/fused.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "bench-launch.sh: the fused process was not ready within 120 s; see $STATE/fused.log" >&2
    exit 1
    ;;
  resume)
    curl -fsS -X POST -H "Authorization: Bearer $(token)" "http://127.0.0.1:$INGEST_PORT/control/resume" > /dev/null
    ;;
  stop)
    if alive; then
      pid=$(cat "$PID_FILE")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    ;;
  *) echo "bench-launch.sh: unknown action '$ACTION' (start, resume, stop)" >&2; exit 64 ;;
esac

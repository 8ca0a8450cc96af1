#!/usr/bin/env bash
# Enrich alone and aggregate alone on a backlog, against the running local stack (deploy/local/run.sh).
#
#   loadtest/stage-bench.sh [EVENTS]     default 1,000,000 demo events
#
# Pauses enrich and aggregate, writes EVENTS demo payments straight to the ingested topic, then
# resumes enrich alone and times it until its events-in counter has grown by EVENTS, then resumes
# aggregate alone and times it the same way. The stages' store is the pipeline's (`store:` in its
# YAML), so the same script measures Redis and SQL. Prints one line per stage.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-1000000}
TOKEN=${TRIBUTARY_CONTROL_TOKEN:-$(cat .local/control-token)}
ENRICH=${ENRICH_URL:-http://127.0.0.1:8081}
AGGREGATE=${AGGREGATE_URL:-http://127.0.0.1:8082}
PIPELINE_NAME=${PIPELINE_NAME:-payments}

control() { # url action
  curl -fsS -X POST -H "Authorization: Bearer $TOKEN" "$1/control/$2?scope=cluster" > /dev/null
}

events_in() { # url
  curl -fsS "$1/metrics" | awk -v p="pipeline=\"$PIPELINE_NAME\"" \
    '/^tributary_events_in_total\{/ && index($0, p) { sum += $NF } END { printf "%d\n", sum }'
}

drain() { # stage url
  local before start now done
  before=$(events_in "$2")
  start=$(date +%s.%N)
  control "$2" resume
  while :; do
    done=$(( $(events_in "$2") - before ))
    [ "$done" -ge "$EVENTS" ] && break
    sleep 0.2
  done
  now=$(date +%s.%N)
  awk -v s="$1" -v n="$EVENTS" -v t="$(echo "$now - $start" | bc)" \
    'BEGIN { printf "%s alone: %d events in %.1f s = %.0f events/s\n", s, n, t, n / t }'
}

control "$ENRICH" pause
control "$AGGREGATE" pause
java -cp 'loadtest/target/loadtest.jar:loadtest/target/lib/*' io.tributary.loadtest.PipelineBenchmark \
  --events "$EVENTS" --mode kafka --until sent --merchants "${MERCHANTS:-1000000}" > .local/stage-bench-send.log
tail -1 .local/stage-bench-send.log
drain enrich "$ENRICH"
drain aggregate "$AGGREGATE"

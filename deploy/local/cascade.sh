#!/usr/bin/env bash
# Starts two pipelines in a row: the demo (examples/payments.yaml, on 8080-8082) and the risk pipeline
# (examples/risk.yaml, on 8180-8182), which reads the demo's window updates from Kafka.
#
#   deploy/local/cascade.sh                  build if needed, start both, wait until every service is ready
#   BUS=rabbitmq deploy/local/cascade.sh     the demo's stages talk over RabbitMQ streams instead of Kafka
#   deploy/local/run.sh stop                 stops both
#
# Other settings as for run.sh (TRIBUTARY_*, JAVA_OPTS, SKIP_BUILD).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .local
PAYMENTS=examples/payments.yaml
if [ "${BUS:-kafka}" = rabbitmq ]; then
  PAYMENTS=.local/payments-over-rabbitmq.yaml
  sed -e 's#^  ingested: kafka:\([^ ]*\).*#  ingested: rabbitmq:\1#' -e 's#^  enriched: kafka:\([^ ]*\).*#  enriched: rabbitmq:\1#' \
    examples/payments.yaml > "$PAYMENTS"
fi
DEMO_DATA=1 PIPELINE=$PAYMENTS deploy/local/run.sh
STACK=risk PORT_BASE=8180 PIPELINE=examples/risk.yaml SKIP_BUILD=1 deploy/local/run.sh
cat <<MSG

Both pipelines are up. Post payments to the demo, then read the risk pipeline's daily peaks:
  curl -s localhost:8182/aggregates/daily_peaks/spend_by_card%7CC1
MSG

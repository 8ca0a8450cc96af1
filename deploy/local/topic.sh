#!/usr/bin/env bash
# Prints the committed records of a topic of the local stack (read_committed, as the stages read):
# key, headers and value, one per line.
#   deploy/local/topic.sh events.enriched            everything so far, then exits after 5 s of silence
#   deploy/local/topic.sh events.dlq --max-messages 10
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: $0 TOPIC [kafka console consumer options]" >&2; exit 64; }
topic=$1; shift
classpath=$(cat devstack/broker/target/classes/io/tributary/devstack/broker.classpath)
exec java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$classpath" org.apache.kafka.tools.consumer.ConsoleConsumer \
  --bootstrap-server "127.0.0.1:${KAFKA_PORT:-9092}" --topic "$topic" --from-beginning --timeout-ms 5000 \
  --consumer-property isolation.level=read_committed \
  --formatter-property print.key=true --formatter-property print.headers=true --formatter-property key.separator=' | ' "$@" 2>/dev/null

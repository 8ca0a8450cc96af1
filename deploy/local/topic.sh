#!/usr/bin/env bash
# Prints the committed records of a topic of the local stack (read_committed, as the stages read):
# key | headers | value, one per line, and exits once it read everything committed so far.
#   deploy/local/topic.sh events.enriched
#   deploy/local/topic.sh events.dlq --max-messages 10
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: $0 TOPIC [--max-messages N]" >&2; exit 64; }
topic=$1; shift
classpath=$(cat devstack/broker/target/classes/io/tributary/devstack/broker.classpath)
exec java -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "devstack/target/devstack.jar:$classpath" \
  io.tributary.devstack.TopicDump "127.0.0.1:${KAFKA_PORT:-9092}" "$topic" "$@"

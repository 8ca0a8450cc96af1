package io.tributary.common.input;

import java.util.Map;

/**
 * One record of an input bus, converted at the edge: what a stage's logic sees of a Kafka record or
 * a RabbitMQ message. The shard is the unit of ordering and ownership (a Kafka partition, a RabbitMQ
 * stream of a partitioned bus); the position is the record's place in it, and the next record's
 * position is greater.
 *
 * @param timestamp when ingest accepted the event (epoch millis), or -1 when the bus does not say
 * @param headers the record's {@code tributary-*} headers, usually none
 */
public record InputRecord(String key, byte[] value, Map<String, String> headers, long timestamp, int shard, long position) {

  public InputRecord {
    value = value == null ? new byte[0] : value;
  }
}

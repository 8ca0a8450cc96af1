package io.tributary.common.bus;

import io.tributary.common.pipeline.BusRef;
import java.util.Map;

/**
 * One message for a bus: the Kafka topic or RabbitMQ exchange named by {@code bus}; {@code key} is
 * the Kafka record key or the RabbitMQ routing key. {@code timestamp} is the Kafka record timestamp
 * in epoch milliseconds, or -1 for the time of sending: ingest stamps each event with the time it
 * accepted it, and the later stages keep that stamp.
 */
public record BusMessage(BusRef bus, String key, byte[] value, Map<String, String> headers, long timestamp) {

  public BusMessage(BusRef bus, String key, byte[] value, Map<String, String> headers) {
    this(bus, key, value, headers, -1);
  }
}

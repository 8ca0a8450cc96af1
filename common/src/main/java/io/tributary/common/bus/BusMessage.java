package io.tributary.common.bus;

import io.tributary.common.pipeline.BusRef;
import java.util.Map;

/**
 * One message for a bus: the Kafka topic or RabbitMQ exchange named by {@code bus}; {@code key} is
 * the Kafka record key or the RabbitMQ routing key.
 */
public record BusMessage(BusRef bus, String key, byte[] value, Map<String, String> headers) {
}

package io.tributary.common.pipeline;

import java.util.Collection;

/** A message bus endpoint: {@code kafka:TOPIC} or {@code rabbitmq:EXCHANGE-or-QUEUE}. */
public record BusRef(Kind kind, String target) {

  public enum Kind { KAFKA, RABBITMQ }

  public boolean isKafka() {
    return kind == Kind.KAFKA;
  }

  /** Whether any of {@code buses} is on RabbitMQ: the stage then needs a RabbitMQ connection. */
  public static boolean anyRabbitMq(Collection<BusRef> buses) {
    return buses.stream().anyMatch(b -> b.kind == Kind.RABBITMQ);
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase(java.util.Locale.ROOT) + ":" + target;
  }
}

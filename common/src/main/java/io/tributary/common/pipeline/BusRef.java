package io.tributary.common.pipeline;

/** A message bus endpoint: {@code kafka:TOPIC} or {@code rabbitmq:EXCHANGE-or-QUEUE}. */
public record BusRef(Kind kind, String target) {

  public enum Kind { KAFKA, RABBITMQ }

  public boolean isKafka() {
    return kind == Kind.KAFKA;
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase(java.util.Locale.ROOT) + ":" + target;
  }
}

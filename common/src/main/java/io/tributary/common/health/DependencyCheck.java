package io.tributary.common.health;

import io.vertx.core.Future;

/** One dependency of a service (Kafka, Redis, a SQL database, RabbitMQ) and how to ask whether it answers. */
public interface DependencyCheck {

  /** The name that /health/ready reports, e.g. {@code redis}. */
  String name();

  /** Succeeds when the dependency answers; fails with the reason otherwise. Must not block. */
  Future<Void> check();
}

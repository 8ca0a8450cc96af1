package io.tributary.common.health;

import io.vertx.core.Future;
import java.util.function.BooleanSupplier;

/** One dependency of a service (Kafka, Redis, a SQL database, RabbitMQ) and how to ask whether it answers. */
public interface DependencyCheck {

  /** The name that /health/ready reports, e.g. {@code redis}. */
  String name();

  /** Succeeds when the dependency answers; fails with the reason otherwise. Must not block. */
  Future<Void> check();

  /** A check of a condition this process knows without asking anyone: up while {@code holds}, else down with {@code reason}. */
  static DependencyCheck of(String name, BooleanSupplier holds, String reason) {
    return new DependencyCheck() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public Future<Void> check() {
        return holds.getAsBoolean() ? Future.succeededFuture() : Future.failedFuture(reason);
      }
    };
  }
}

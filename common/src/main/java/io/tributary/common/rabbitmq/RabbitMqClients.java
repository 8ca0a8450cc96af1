package io.tributary.common.rabbitmq;

import io.tributary.common.config.Secret;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.health.DependencyCheck;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.rabbitmq.RabbitMQOptions;

/** RabbitMQ clients that keep reconnecting, so a broker outage shows as not-ready instead of a crash. */
public final class RabbitMqClients {

  private RabbitMqClients() {
  }

  public static RabbitMQClient create(Vertx vertx, ServiceConfig config) {
    return RabbitMQClient.create(vertx, options(config).setAutomaticRecoveryEnabled(true).setReconnectAttempts(Integer.MAX_VALUE)
        .setReconnectInterval(1000));
  }

  /** A client that does not reconnect: its owner opens a new one where it wants to continue. */
  public static RabbitMQClient createUnrecovered(Vertx vertx, ServiceConfig config) {
    return RabbitMQClient.create(vertx, options(config).setAutomaticRecoveryEnabled(false).setReconnectAttempts(0));
  }

  private static RabbitMQOptions options(ServiceConfig config) {
    RabbitMQOptions options = new RabbitMQOptions()
        .setUri(config.get("rabbitmq.uri"))
        .setUser(config.get("rabbitmq.user"))
        .setConnectionTimeout(3000);
    Secret password = config.secret("RABBITMQ_PASSWORD");
    options.setPassword(password.isPresent() ? password.reveal() : "guest");
    return options;
  }

  public static DependencyCheck check(RabbitMQClient client) {
    return new DependencyCheck() {
      @Override
      public String name() {
        return "rabbitmq";
      }

      @Override
      public Future<Void> check() {
        return client.isConnected() && client.isOpenChannel()
            ? Future.succeededFuture()
            : Future.failedFuture("not connected to RabbitMQ");
      }
    };
  }
}

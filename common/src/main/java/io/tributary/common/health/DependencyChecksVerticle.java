package io.tributary.common.health;

import io.tributary.common.ServiceContext;
import io.tributary.common.kafka.KafkaCheck;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.rabbitmq.RabbitMqClients;
import io.tributary.common.redis.RedisClients;
import io.tributary.common.sql.SqlClients;
import io.tributary.common.sql.SqlPool;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.redis.client.Redis;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the small clients that /health/ready uses to ask each dependency whether it answers, and
 * registers one check per dependency. Starting never waits for a dependency: one that is down at
 * start-up makes the service not ready, and the clients keep reconnecting with backoff.
 */
public final class DependencyChecksVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(DependencyChecksVerticle.class);

  private static final long GAUGE_PERIOD_MS = 5000;

  private final ServiceContext service;
  private final Set<Dependency> dependencies;
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private Redis redis;
  private RabbitMQClient rabbit;
  private SqlPool sql;

  public DependencyChecksVerticle(ServiceContext service, Set<Dependency> dependencies) {
    this.service = service;
    this.dependencies = dependencies;
  }

  @Override
  public Future<?> start() {
    // The readiness gauge follows the dependencies between probes too.
    vertx.setPeriodic(0, GAUGE_PERIOD_MS, id -> service.readiness().evaluate());
    if (dependencies.contains(Dependency.KAFKA)) {
      return vertx.executeBlocking(() -> Admin.create(new HashMap<>(
              KafkaSettings.admin(service.config(), service.instanceId() + "-health"))))
          .onSuccess(admin -> {
            closeables.add(admin);
            service.readiness().register(new KafkaCheck(context, admin));
          })
          .compose(admin -> startOthers());
    }
    return startOthers();
  }

  private Future<?> startOthers() {
    if (dependencies.contains(Dependency.REDIS)) {
      redis = RedisClients.create(vertx, service.config());
      service.readiness().register(RedisClients.check(redis));
    }
    if (dependencies.contains(Dependency.SQL)) {
      sql = SqlClients.create(vertx, service.config());
      service.readiness().register(SqlClients.check(sql));
    }
    if (dependencies.contains(Dependency.RABBITMQ)) {
      rabbit = RabbitMqClients.create(vertx, service.config());
      rabbit.start().onFailure(e -> LOG.warn("RabbitMQ not reachable yet, retrying in the background: {}", e.getMessage()));
      service.readiness().register(RabbitMqClients.check(rabbit));
    }
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    if (redis != null) {
      redis.close();
    }
    if (sql != null) {
      sql.close();
    }
    Future<Void> rabbitStopped = rabbit == null ? Future.succeededFuture() : rabbit.stop().recover(e -> Future.succeededFuture());
    return rabbitStopped.compose(v -> vertx.executeBlocking(() -> {
      for (AutoCloseable c : closeables) {
        c.close();
      }
      return null;
    }));
  }
}

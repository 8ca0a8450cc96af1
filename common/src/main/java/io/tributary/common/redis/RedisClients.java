package io.tributary.common.redis;

import io.tributary.common.config.Secret;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.health.DependencyCheck;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;

/**
 * Pooled Redis clients. The pooled client opens a new connection when one breaks, which is what
 * carries the services across a Redis restart (vertx-redis-client#375: a single connection does not
 * always report that it closed).
 */
public final class RedisClients {

  private RedisClients() {
  }

  public static Redis create(Vertx vertx, ServiceConfig config) {
    RedisOptions options = new RedisOptions()
        .setConnectionString(config.get("redis.uri"))
        .setMaxPoolSize(config.getInt("redis.maxPoolSize"))
        .setMaxPoolWaiting(config.getInt("redis.maxWaitingHandlers"))
        .setMaxWaitingHandlers(config.getInt("redis.maxWaitingHandlers"))
        .setPoolRecycleTimeout(15_000);
    Secret password = config.secret("REDIS_PASSWORD");
    if (password.isPresent()) {
      options.setPassword(password.reveal());
    }
    return Redis.createClient(vertx, options);
  }

  public static DependencyCheck check(Redis redis) {
    return new DependencyCheck() {
      @Override
      public String name() {
        return "redis";
      }

      @Override
      public Future<Void> check() {
        return redis.send(Request.cmd(Command.PING)).mapEmpty();
      }
    };
  }
}

package io.tributary.common.redis;

import io.tributary.common.config.Secret;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.health.DependencyCheck;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Pooled Redis clients. {@code rediss://} connects over TLS, trusting the JVM's CAs or the PEM file
 * {@code redis.tlsCaFile}, with the host name verified unless {@code redis.tlsVerifyHostname} is
 * false; {@code redis.user} with the secret {@code REDIS_PASSWORD} logs in as an ACL user. The pooled client opens a new connection when one breaks, which is what
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
    if (!config.get("redis.user").isBlank()) {
      options.setUser(config.get("redis.user"));
    }
    Secret password = config.secret("REDIS_PASSWORD");
    if (password.isPresent()) {
      options.setPassword(password.reveal());
    }
    if (config.get("redis.uri").startsWith("rediss://")) {
      // The pool refuses a rediss:// endpoint unless its client options say TLS too.
      NetClientOptions tls = new NetClientOptions().setSsl(true)
          .setHostnameVerificationAlgorithm(config.getBoolean("redis.tlsVerifyHostname") ? "HTTPS" : "");
      String caFile = config.get("redis.tlsCaFile");
      if (!caFile.isBlank()) {
        if (!Files.isReadable(Path.of(caFile))) {
          throw new ServiceConfig.ConfigException("redis.tlsCaFile (" + ServiceConfig.envName("redis.tlsCaFile")
              + ") names " + caFile + ", which cannot be read");
        }
        tls.setTrustOptions(new PemTrustOptions().addCertPath(caFile));
      }
      options.setNetClientOptions(tls);
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

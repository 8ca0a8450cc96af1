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

  /**
   * Unlinks every key matching the SCAN {@code pattern}, a page of keys per round trip; answers how
   * many. For starting a pipeline over, never on a hot path: SCAN walks the whole key space.
   */
  public static Future<Long> unlinkMatching(Redis redis, String pattern) {
    return unlinkMatching(redis, pattern, "0", 0);
  }

  private static Future<Long> unlinkMatching(Redis redis, String pattern, String cursor, long unlinked) {
    return redis.send(Request.cmd(Command.SCAN).arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(1000)).compose(page -> {
      String next = page.get(0).toString();
      Request unlink = Request.cmd(Command.UNLINK);
      page.get(1).forEach(key -> unlink.arg(key.toString()));
      Future<Long> done = page.get(1).size() == 0 ? Future.succeededFuture(0L) : redis.send(unlink).map(r -> r.toLong());
      return done.compose(n -> "0".equals(next) ? Future.succeededFuture(unlinked + n) : unlinkMatching(redis, pattern, next, unlinked + n));
    });
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

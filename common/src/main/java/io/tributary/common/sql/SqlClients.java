package io.tributary.common.sql;

import io.tributary.common.config.Secret;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.health.DependencyCheck;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.jdbcclient.JDBCConnectOptions;
import io.vertx.jdbcclient.JDBCPool;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;

/**
 * Pooled SQL clients through the Vert.x JDBC client with MariaDB Connector/J, which speaks the MySQL
 * protocol to SingleStore and MariaDB alike (SingleStore's own driver refuses MariaDB). JDBC calls run
 * on the pool's worker threads, never on an event loop.
 */
public final class SqlClients {

  private SqlClients() {
  }

  /** A pool for {@code sql.url}; refuses, with a clear message, a configuration that names no SQL server. */
  public static SqlPool create(Vertx vertx, ServiceConfig config) {
    if (config.get("sql.url").isBlank() || !config.get("sql.url").startsWith("jdbc:")) {
      throw new ServiceConfig.ConfigException("the pipeline keeps state or reference data in SQL (store: sql), so sql.url "
          + "(TRIBUTARY_SQL_URL) must be a JDBC URL such as jdbc:mariadb://host:3306/tributary, got '" + config.get("sql.url") + "'");
    }
    JDBCConnectOptions connect = new JDBCConnectOptions()
        .setJdbcUrl(readCommitted(config.get("sql.url")))
        .setUser(config.get("sql.user"));
    Secret password = config.secret("SQL_PASSWORD");
    if (password.isPresent()) {
      connect.setPassword(password.reveal());
    }
    PoolOptions options = new PoolOptions().setMaxSize(config.getInt("sql.maxPoolSize"));
    return new SqlPool(() -> JDBCPool.pool(vertx, connect, options));
  }

  /**
   * READ COMMITTED, as SingleStore runs: the batch transactions lock their partition's position row,
   * which is all the fencing needs, and no gap locks make two partitions' batches (or a purge) wait on
   * or deadlock with each other, as MariaDB's default REPEATABLE READ did under load.
   */
  static String readCommitted(String url) {
    if (url.contains("transactionIsolation=")) {
      return url;
    }
    return url + (url.contains("?") ? "&" : "?") + "transactionIsolation=READ-COMMITTED";
  }

  public static DependencyCheck check(SqlPool sql) {
    return new DependencyCheck() {
      @Override
      public String name() {
        return "sql";
      }

      @Override
      public Future<Void> check() {
        Pool pool = sql.get();
        return sql.guard(pool, pool.query("SELECT 1").execute()).mapEmpty();
      }
    };
  }
}

package io.tributary.common.sql;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A JDBC pool that is replaced when its connections break. The Vert.x JDBC pool keeps a connection
 * whose server went away and hands it out again ("Connection is closed") until it is closed, so a
 * restarted database would never be used again; here the first call that fails for a lost connection
 * closes the pool and the next calls get a new one, which connects afresh.
 */
public final class SqlPool {

  private static final Logger LOG = LoggerFactory.getLogger(SqlPool.class);

  private final Supplier<Pool> factory;
  private volatile Pool pool;
  private volatile boolean closed;

  SqlPool(Supplier<Pool> factory) {
    this.factory = factory;
    this.pool = factory.get();
  }

  /** The pool to run a call on now. */
  public Pool get() {
    return pool;
  }

  /** Passes {@code call}'s outcome on; a failure for a lost connection replaces the pool it ran on first. */
  public <T> Future<T> guard(Pool used, Future<T> call) {
    return call.onFailure(e -> {
      if (lostConnection(e)) {
        replace(used, e);
      }
    });
  }

  private synchronized void replace(Pool broken, Throwable cause) {
    if (closed || pool != broken) {
      return;
    }
    LOG.warn("the SQL connections were lost ({}); connecting afresh", cause.getMessage());
    pool = factory.get();
    broken.close();
  }

  static boolean lostConnection(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof SQLNonTransientConnectionException || t instanceof SQLTransientConnectionException
          || t instanceof SQLRecoverableException) {
        return true;
      }
    }
    return false;
  }

  public Future<Void> close() {
    closed = true;
    return pool.close();
  }
}

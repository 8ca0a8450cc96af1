package io.tributary.common.state;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.redis.RedisClients;
import io.tributary.common.sql.SqlClients;
import io.vertx.core.Vertx;

/** The one place where a pipeline's {@code store} becomes a state store, with its client from the service's config. */
public final class StateStores {

  private StateStores() {
  }

  public static StateStore create(Vertx vertx, ServiceConfig config, Pipeline pipeline) {
    return switch (pipeline.store()) {
      case REDIS -> new RedisStateStore(RedisClients.create(vertx, config), pipeline.name(), pipeline.schema().keyField(),
          pipeline.schema().maxAhead(), pipeline.aggregations());
      case SQL -> new SqlStateStore(vertx, SqlClients.create(vertx, config), config.get("sql.dialect"), pipeline.name(),
          pipeline.schema().keyField(), pipeline.schema().maxAhead(), pipeline.aggregations());
    };
  }
}

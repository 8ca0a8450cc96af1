package io.tributary.enrich;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.pipeline.History;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.Store;
import io.tributary.common.redis.RedisClients;
import io.tributary.common.sql.SqlClients;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where each history's {@code store} becomes a history store: a client is made only
 * for the stores the pipeline's histories use, and every batch of a history goes to its own store.
 */
final class HistoryStores implements HistoryStore {

  private final Map<Store, HistoryStore> stores = new EnumMap<>(Store.class);
  private final List<HistoryPlan> plans = new ArrayList<>();

  HistoryStores(Vertx vertx, ServiceConfig config, Pipeline pipeline) {
    for (History history : pipeline.histories()) {
      plans.add(new HistoryPlan(history, pipeline.schema()));
      stores.computeIfAbsent(history.store(), kind -> switch (kind) {
        case REDIS -> new RedisHistoryStore(RedisClients.create(vertx, config), pipeline.name());
        case SQL -> new SqlHistoryStore(SqlClients.create(vertx, config), config.get("sql.dialect"), pipeline.name());
      });
    }
  }

  /** One plan per history, in the pipeline's order. */
  List<HistoryPlan> plans() {
    return plans;
  }

  @Override
  public Future<Void> init() {
    List<Future<Void>> ready = new ArrayList<>();
    stores.values().forEach(s -> ready.add(s.init()));
    for (HistoryPlan plan : plans) {
      if (stores.get(plan.history().store()) instanceof SqlHistoryStore sql) {
        ready.add(sql.init(plan));
      }
    }
    return Future.all(ready).mapEmpty();
  }

  @Override
  public Future<List<String>> record(HistoryPlan plan, int shard, List<HistoryEvent> events) {
    return stores.get(plan.history().store()).record(plan, shard, events);
  }

  @Override
  public Future<Void> close() {
    return Future.all(stores.values().stream().map(HistoryStore::close).toList()).mapEmpty();
  }
}

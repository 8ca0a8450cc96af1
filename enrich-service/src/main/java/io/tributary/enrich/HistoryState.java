package io.tributary.enrich;

import io.tributary.common.pipeline.History;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.Store;
import io.tributary.common.sql.SqlPool;
import io.vertx.core.Future;
import io.vertx.redis.client.Redis;
import java.util.ArrayList;
import java.util.List;

/** What the enrich stage keeps per pipeline besides reference data: its histories, in the store each one names. */
public final class HistoryState {

  private HistoryState() {
  }

  /**
   * Removes the pipeline's histories from both stores (starting over): a pipeline that switched
   * stores may have left histories in the other. A null client skips its store. Answers a line for
   * each thing removed.
   */
  public static Future<List<String>> remove(Pipeline pipeline, Redis redis, SqlPool sql, String dialect) {
    List<String> removed = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    if (redis != null) {
      chain = chain.compose(v -> RedisHistoryStore.remove(redis, pipeline.name()).map(n -> {
        if (n > 0) {
          removed.add(n + " Redis keys of histories");
        }
        return null;
      }));
    }
    if (sql != null) {
      List<History> histories = new ArrayList<>(pipeline.histories());
      chain = chain.compose(v -> SqlHistoryStore.remove(sql, dialect, pipeline.name(), histories).map(removed::addAll).mapEmpty());
    }
    return chain.map(v -> removed);
  }

  /** Whether any history of the pipeline lives in {@code store}. */
  public static boolean uses(Pipeline pipeline, Store store) {
    return pipeline.histories().stream().anyMatch(h -> h.store() == store);
  }
}

package io.tributary.enrich;

import io.tributary.common.pipeline.History;
import io.vertx.core.Future;
import java.util.List;

/**
 * Where a pipeline's histories keep their events: Redis or SQL ({@link HistoryStores} chooses). One
 * call per shard and batch stores the events not stored before and answers every event's features
 * (the JSON array {@link HistoryPlan} reads): computed from the key's events stored before it when
 * it is first stored, and the stored answer for an id stored before, so a replay or a retry gets
 * the same features.
 */
public interface HistoryStore {

  Future<Void> init();

  /** The features of {@code events} (one shard's, in input order), one JSON array text each, in the same order. */
  Future<List<String>> record(HistoryPlan plan, int shard, List<HistoryEvent> events);

  Future<Void> close();
}

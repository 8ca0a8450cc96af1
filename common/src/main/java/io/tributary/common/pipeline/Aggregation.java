package io.tributary.common.pipeline;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A rolling aggregation: events grouped by {@code groupBy} fields (event or looked-up fields) into
 * event-time windows, each window holding {@code measures}. Windows accept events up to
 * {@code allowedLateness} after they close (in stream time) and are kept for {@code retention}.
 */
public record Aggregation(
    String name,
    List<String> groupBy,
    WindowSpec window,
    Duration allowedLateness,
    Duration retention,
    Map<String, Measure> measures) {

  public Aggregation {
    groupBy = List.copyOf(groupBy);
    measures = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(measures));
  }

  /** Whether it groups by the entity key alone, so that each group lives in one partition of the input. */
  public boolean groupsByKey(String keyField) {
    return groupBy.size() == 1 && groupBy.get(0).equals(keyField);
  }
}

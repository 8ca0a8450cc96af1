package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import java.util.Map;

/**
 * One window of one group as the query API and the update records show it: its measure values,
 * merged over every partition that holds a partial of it, and its version, the event count, which
 * grows with every change.
 */
public record WindowState(String aggregation, String group, long start, long end, Map<String, Object> measures, long version) {

  public static WindowState of(Aggregation aggregation, String group, long start, WindowValue value, Map<String, Long> distinct) {
    return new WindowState(aggregation.name(), group, start, start + aggregation.window().size().toMillis(),
        value.measures(aggregation, distinct), value.count());
  }
}

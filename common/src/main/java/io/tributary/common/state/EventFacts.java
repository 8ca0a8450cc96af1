package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import java.util.List;
import java.util.Map;

/**
 * What the aggregation stage needs of one event: its id, event time, the field values it groups and
 * measures by, its offset, and its group key in each aggregation (in the pipeline's order; null where
 * a groupBy value is absent), computed once.
 */
public record EventFacts(String id, long time, Map<String, String> values, long offset, String[] groups) {

  public static EventFacts of(String id, long time, Map<String, String> values, long offset, List<Aggregation> aggregations) {
    String[] groups = new String[aggregations.size()];
    for (int i = 0; i < groups.length; i++) {
      groups[i] = BatchPlan.group(aggregations.get(i), values);
    }
    return new EventFacts(id, time, values, offset, groups);
  }
}

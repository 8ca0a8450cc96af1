package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Measure;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The change one batch makes to one window of one group: the events' value, to be added to the
 * stored one, and the values each distinct measure saw. Deltas of many events merge here before one
 * store call applies them.
 */
public final class WindowDelta {

  private final Aggregation aggregation;
  private final WindowKey key;
  private final WindowValue value;
  private final Map<String, List<String>> distinct = new HashMap<>();

  public WindowDelta(Aggregation aggregation, long start, String group) {
    this.aggregation = aggregation;
    this.key = new WindowKey(aggregation.name(), start, group);
    this.value = WindowValue.empty(aggregation);
  }

  /** Folds one event in. */
  public void add(Map<String, String> values) {
    value.add(aggregation, values);
    for (Measure m : aggregation.measures().values()) {
      if (m.function() == Measure.Function.DISTINCT) {
        String v = values.get(m.field());
        if (v != null) {
          distinct.computeIfAbsent(m.name(), k -> new ArrayList<>()).add(v);
        }
      }
    }
  }

  public Aggregation aggregation() {
    return aggregation;
  }

  public WindowKey key() {
    return key;
  }

  public long start() {
    return key.start();
  }

  public String group() {
    return key.group();
  }

  public long count() {
    return value.count();
  }

  /** The batch's own value of the window, before the stored value is added. */
  public WindowValue value() {
    return value;
  }

  /** Values seen per distinct measure, by measure name. */
  public Map<String, List<String>> distinct() {
    return distinct;
  }
}

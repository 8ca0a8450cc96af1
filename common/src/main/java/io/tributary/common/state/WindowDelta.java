package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Measure;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The change one batch makes to one window of one group: counts and sums to add, extremes to fold
 * in, distinct values to add. Deltas of many events merge here before one store call applies them.
 * Field names are the stored ones: {@code count} (which is also the window's version: every change
 * adds events), {@code sum:<measure>}, {@code n:<measure>} (values counted, kept only when some event
 * may lack one), {@code min:<measure>}, {@code max:<measure>}.
 */
public final class WindowDelta {

  private final Aggregation aggregation;
  private final long start;
  private final String group;
  private long count;
  private final Map<String, Double> sums = new LinkedHashMap<>();
  private final Map<String, Long> counts = new LinkedHashMap<>();
  private final Map<String, Double> mins = new HashMap<>();
  private final Map<String, Double> maxs = new HashMap<>();
  private final Map<String, List<String>> distinct = new HashMap<>();

  /** Measures over a required numeric field: every event has a value, so their value count is the event count. */
  private final java.util.Set<String> countsEqualEvents;

  public WindowDelta(Aggregation aggregation, long start, String group, java.util.Set<String> countsEqualEvents) {
    this.aggregation = aggregation;
    this.countsEqualEvents = countsEqualEvents;
    this.start = start;
    this.group = group;
  }

  /** Folds one event in. */
  public void add(Map<String, String> values) {
    for (Measure m : aggregation.measures().values()) {
      switch (m.function()) {
        case COUNT -> count++;
        case DISTINCT -> {
          String v = values.get(m.field());
          if (v != null) {
            distinct.computeIfAbsent(m.name(), k -> new ArrayList<>()).add(v);
          }
        }
        default -> {
          Double v = number(values.get(m.field()));
          if (v != null) {
            switch (m.function()) {
              case SUM, AVG -> {
                sums.merge(m.name(), v, Double::sum);
                if (!countsEqualEvents.contains(m.name())) {
                  counts.merge(m.name(), 1L, Long::sum);
                }
              }
              case MIN -> mins.merge(m.name(), v, Math::min);
              case MAX -> maxs.merge(m.name(), v, Math::max);
              default -> throw new IllegalStateException(m.function().name());
            }
          }
        }
      }
    }
  }

  public Aggregation aggregation() {
    return aggregation;
  }

  public long start() {
    return start;
  }

  public String group() {
    return group;
  }

  public long count() {
    return count;
  }

  public Map<String, Double> sums() {
    return sums;
  }

  public Map<String, Long> counts() {
    return counts;
  }

  public Map<String, Double> mins() {
    return mins;
  }

  public Map<String, Double> maxs() {
    return maxs;
  }

  public Map<String, List<String>> distinct() {
    return distinct;
  }

  static Double number(String text) {
    if (text == null) {
      return null;
    }
    try {
      double d = Double.parseDouble(text);
      return Double.isFinite(d) ? d : null;
    } catch (NumberFormatException e) {
      return null;
    }
  }
}

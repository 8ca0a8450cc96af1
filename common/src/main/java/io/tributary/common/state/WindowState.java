package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Measure;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One window of one group as stored: the raw fields of the store (one partition's partial, or several
 * merged) turned into measure values. Merging partials is exact for count, sum, min, max and avg;
 * distinct counts come from the store's HyperLogLogs, merged register by register. The version is the
 * event count, which grows with every change.
 */
public record WindowState(String aggregation, String group, long start, long end, Map<String, Object> measures, long version) {

  /** Merges the stored partials of one window (one per partition holding it) and its distinct counts. */
  public static WindowState merge(Aggregation aggregation, String group, long start, List<Map<String, String>> partials,
      Map<String, Long> distinct) {
    long count = 0;
    long version = 0;
    Map<String, Double> sums = new LinkedHashMap<>();
    Map<String, Long> ns = new LinkedHashMap<>();
    Map<String, Double> mins = new LinkedHashMap<>();
    Map<String, Double> maxs = new LinkedHashMap<>();
    for (Map<String, String> partial : partials) {
      long partialCount = parseLong(partial.get("count"));
      count += partialCount;
      version += partialCount;
      for (Measure m : aggregation.measures().values()) {
        String name = m.name();
        switch (m.function()) {
          case SUM, AVG -> {
            Double s = WindowDelta.number(partial.get("sum:" + name));
            if (s != null) {
              sums.merge(name, s, Double::sum);
              String n = partial.get("n:" + name);
              ns.merge(name, n == null ? partialCount : parseLong(n), Long::sum);
            }
          }
          case MIN -> {
            Double v = WindowDelta.number(partial.get("min:" + name));
            if (v != null) {
              mins.merge(name, v, Math::min);
            }
          }
          case MAX -> {
            Double v = WindowDelta.number(partial.get("max:" + name));
            if (v != null) {
              maxs.merge(name, v, Math::max);
            }
          }
          default -> {
          }
        }
      }
    }
    Map<String, Object> measures = new LinkedHashMap<>();
    for (Measure m : aggregation.measures().values()) {
      String name = m.name();
      measures.put(name, switch (m.function()) {
        case COUNT -> count;
        case SUM -> sums.getOrDefault(name, 0.0);
        case AVG -> ns.getOrDefault(name, 0L) == 0 ? null : sums.get(name) / ns.get(name);
        case MIN -> mins.get(name);
        case MAX -> maxs.get(name);
        case DISTINCT -> distinct.getOrDefault(name, 0L);
      });
    }
    return new WindowState(aggregation.name(), group, start, start + aggregation.window().size().toMillis(), measures, version);
  }

  private static long parseLong(String text) {
    if (text == null) {
      return 0;
    }
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      Double d = WindowDelta.number(text);
      return d == null ? 0 : d.longValue();
    }
  }
}

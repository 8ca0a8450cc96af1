package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one batch of one partition does to the state, decided in order of offsets from the
 * partition's stored position: events already applied (by id) are skipped, the stream time advances
 * event by event, each event goes to every window of every aggregation that is still open, and an
 * event that fits no open window of some aggregation is late. The result is applied by the store in
 * one atomic step, together with the new position, so replaying a batch gives the same plan.
 */
public final class BatchPlan {

  /** An event that was too late for at least one aggregation. */
  public record Late(EventFacts event, List<String> aggregations) {
  }

  private final Map<String, WindowDelta> deltas = new LinkedHashMap<>();
  private final Map<Long, List<String>> newIds = new HashMap<>();
  private final List<Late> late = new ArrayList<>();
  private final long startStreamTime;
  private long streamTime;
  private int applied;
  private int duplicates;

  private BatchPlan(long streamTime) {
    this.startStreamTime = streamTime;
    this.streamTime = streamTime;
  }

  /** The time bucket a de-duplication record of this event time lives in. */
  public static long dedupBucket(long time) {
    return Math.floorDiv(time, DEDUP_BUCKET_MILLIS) * DEDUP_BUCKET_MILLIS;
  }

  public static final long DEDUP_BUCKET_MILLIS = 3_600_000L;

  /**
   * @param seen ids of this batch that the store has applied before
   */
  public static BatchPlan of(List<Aggregation> aggregations, Position from, List<EventFacts> events, Set<String> seen) {
    return of(aggregations, Set.of(), from, events, seen);
  }

  /**
   * @param requiredNumeric fields every event carries as a number (required numeric schema fields);
   *     measures over them need no count of values of their own
   */
  public static BatchPlan of(List<Aggregation> aggregations, Set<String> requiredNumeric, Position from, List<EventFacts> events,
      Set<String> seen) {
    Map<String, Set<String>> countsEqualEvents = new HashMap<>();
    for (Aggregation a : aggregations) {
      Set<String> measures = new java.util.HashSet<>();
      a.measures().values().stream().filter(m -> m.field() != null && requiredNumeric.contains(m.field()))
          .forEach(m -> measures.add(m.name()));
      countsEqualEvents.put(a.name(), measures);
    }
    BatchPlan plan = new BatchPlan(from.streamTime());
    java.util.HashSet<String> inBatch = new java.util.HashSet<>();
    for (EventFacts event : events) {
      if (seen.contains(event.id()) || !inBatch.add(event.id())) {
        plan.duplicates++;
        continue;
      }
      plan.streamTime = Math.max(plan.streamTime, event.time());
      List<String> lateFor = null;
      boolean any = false;
      for (Aggregation aggregation : aggregations) {
        String group = group(aggregation, event.values());
        if (group == null) {
          continue;
        }
        boolean fitted = false;
        for (long start : Windows.starts(aggregation.window(), event.time())) {
          if (Windows.open(start, aggregation.window(), aggregation.allowedLateness().toMillis(), plan.streamTime)) {
            plan.deltas.computeIfAbsent(aggregation.name() + '\u0000' + start + '\u0000' + group,
                k -> new WindowDelta(aggregation, start, group, countsEqualEvents.get(aggregation.name()))).add(event.values());
            fitted = true;
          }
        }
        if (fitted) {
          any = true;
        } else {
          if (lateFor == null) {
            lateFor = new ArrayList<>();
          }
          lateFor.add(aggregation.name());
        }
      }
      if (lateFor != null) {
        plan.late.add(new Late(event, lateFor));
      }
      if (any) {
        plan.applied++;
        plan.newIds.computeIfAbsent(dedupBucket(event.time()), b -> new ArrayList<>()).add(event.id());
      }
    }
    return plan;
  }

  /** The group key of an event: its groupBy values joined by {@code |}, or null when one is absent. */
  public static String group(Aggregation aggregation, Map<String, String> values) {
    if (aggregation.groupBy().size() == 1) {
      return values.get(aggregation.groupBy().get(0));
    }
    StringBuilder key = new StringBuilder();
    for (String field : aggregation.groupBy()) {
      String v = values.get(field);
      if (v == null) {
        return null;
      }
      if (!key.isEmpty()) {
        key.append('|');
      }
      key.append(v);
    }
    return key.toString();
  }

  public List<WindowDelta> deltas() {
    return new ArrayList<>(deltas.values());
  }

  /** Ids of the events this batch applies, by de-duplication bucket. */
  public Map<Long, List<String>> newIds() {
    return newIds;
  }

  public List<Late> late() {
    return late;
  }

  public long streamTime() {
    return streamTime;
  }

  public long startStreamTime() {
    return startStreamTime;
  }

  public int applied() {
    return applied;
  }

  public int duplicates() {
    return duplicates;
  }
}

package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one batch of one partition does to the state, decided in order of offsets from the
 * partition's stored position: events decided before (by id) are skipped; an event whose time lies
 * too far ahead of the wall clock is refused as from the future and never moves stream time; the
 * stream time advances event by event; each event goes to every window of every aggregation that is
 * still open, and an event that fits no open window of some aggregation is late for it. Every event
 * decided here (applied, late or from the future) has its id recorded, so a replay or a client's
 * retry of it is skipped and it is dead-lettered at most once. The store applies the result in one
 * atomic step, together with the new position, so replaying a batch gives the same plan.
 */
public final class BatchPlan {

  public static final long DEDUP_BUCKET_MILLIS = 3_600_000L;

  /** An event that was too late for at least one aggregation. */
  public record Late(EventFacts event, List<String> aggregations) {
  }

  private final Map<WindowKey, WindowDelta> deltas = new LinkedHashMap<>();
  private final Map<Long, List<String>> newIds = new HashMap<>();
  private final List<Late> late = new ArrayList<>();
  private final List<EventFacts> future = new ArrayList<>();
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

  /**
   * @param seen ids of this batch that the store has decided before
   * @param nowMillis the wall clock
   * @param maxAheadMillis how far ahead of the wall clock an event time may lie
   */
  public static BatchPlan of(List<Aggregation> aggregations, Position from, List<EventFacts> events, Set<String> seen,
      long nowMillis, long maxAheadMillis) {
    BatchPlan plan = new BatchPlan(from.streamTime());
    Set<String> inBatch = new HashSet<>();
    for (EventFacts event : events) {
      if (seen.contains(event.id()) || !inBatch.add(event.id())) {
        plan.duplicates++;
        continue;
      }
      plan.newIds.computeIfAbsent(dedupBucket(event.time()), b -> new ArrayList<>()).add(event.id());
      if (event.time() > nowMillis && event.time() - nowMillis > maxAheadMillis) {
        plan.future.add(event);
        continue;
      }
      plan.streamTime = Math.max(plan.streamTime, event.time());
      List<String> lateFor = null;
      boolean any = false;
      for (int a = 0; a < aggregations.size(); a++) {
        Aggregation aggregation = aggregations.get(a);
        String group = event.groups()[a];
        if (group == null) {
          continue;
        }
        boolean fitted = false;
        for (long start : Windows.starts(aggregation.window(), event.time())) {
          if (Windows.open(start, aggregation.window(), aggregation.allowedLateness().toMillis(), plan.streamTime)) {
            plan.deltas.computeIfAbsent(new WindowKey(aggregation.name(), start, group),
                k -> new WindowDelta(aggregation, start, group)).add(event.values());
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

  /** The windows the batch changes, in the order the events first touched them. */
  public List<WindowDelta> deltas() {
    return new ArrayList<>(deltas.values());
  }

  /** Ids of every event this batch decides (applied, late or from the future), by de-duplication bucket. */
  public Map<Long, List<String>> newIds() {
    return newIds;
  }

  public List<Late> late() {
    return late;
  }

  /** Events refused because their time lies too far ahead of the wall clock. */
  public List<EventFacts> future() {
    return future;
  }

  public long streamTime() {
    return streamTime;
  }

  public long startStreamTime() {
    return startStreamTime;
  }

  /** Events that went into at least one window. */
  public int applied() {
    return applied;
  }

  public int duplicates() {
    return duplicates;
  }
}

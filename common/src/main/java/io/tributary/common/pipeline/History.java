package io.tributary.common.pipeline;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An event history (the StateDB writer and reader): the {@code keep} fields of every event that
 * passes the look-ups, stored under the values of the {@code by} fields for {@code retention} of event
 * time, and the {@code features} each event gets from the stored events of its key that lie strictly
 * before it (event time, ties by id). {@code by} includes the entity key, so one key's events all
 * live in one partition and are stored in the order they arrived. With {@code matches}, enrich emits
 * one event per stored match instead of one per event.
 */
public record History(
    String name,
    List<String> by,
    Store store,
    List<String> keep,
    Duration retention,
    Map<String, Feature> features,
    Matches matches) {

  /** How many buckets of partial measures a feature window is split into: the exact edges scan at most two. */
  public static final int BUCKETS_PER_WINDOW = 60;

  public History {
    by = List.copyOf(by);
    keep = List.copyOf(keep);
    features = Collections.unmodifiableMap(new LinkedHashMap<>(features));
  }

  /** A value added to each event under the history's name. */
  public sealed interface Feature {
    String name();
  }

  /** A measure over the stored events of the key whose time lies in {@code [time - last, time)}. */
  public record Over(String name, Measure measure, Duration last) implements Feature {
  }

  /** The {@code field} values of the key's latest {@code count} stored events, newest first. */
  public record Latest(String name, String field, int count) implements Feature {
  }

  /** One output event per stored event of the key in {@code [time - last, time)}, the newest {@code limit} of them. */
  public record Matches(Duration last, int limit) {
  }

  /** The feature windows, each once, in the order features first name them. */
  public List<Duration> windows() {
    List<Duration> windows = new ArrayList<>();
    for (Feature f : features.values()) {
      if (f instanceof Over over && !windows.contains(over.last())) {
        windows.add(over.last());
      }
    }
    return windows;
  }

  /** The width of one bucket of partial measures of a window, in milliseconds. */
  public static long bucketWidth(Duration window) {
    return Math.max(1, window.toMillis() / BUCKETS_PER_WINDOW);
  }

  /** The field a look-up adds, e.g. {@code card.spend_1h}. */
  public String qualified(String feature) {
    return name + "." + feature;
  }
}

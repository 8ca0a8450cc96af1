package io.tributary.common.pipeline;

import java.time.Duration;
import java.util.List;

/**
 * An enrichment step. A {@link Kind#RECORD} look-up reads the reference record whose key is the
 * event's {@code by} field and adds {@code fields} under the look-up's name
 * ({@code merchant.category}); a {@link Kind#SET} look-up tests membership of an allow- or
 * block-list and applies {@code action} to members.
 */
public record Lookup(
    String name,
    Kind kind,
    Store store,
    String by,
    List<String> fields,
    OnMissing onMissing,
    SetAction action,
    NearCache cache,
    String table) {

  public Lookup {
    fields = List.copyOf(fields);
  }

  public enum Kind { RECORD, SET }

  /** What a record look-up does when no reference record exists for the event. */
  public enum OnMissing { PASS, DROP, DLQ }

  /** What a set look-up does with an event whose key is in the set. */
  public enum SetAction { DROP, FLAG, DLQ }

  /** An optional in-process cache of reference records in front of the store. */
  public record NearCache(int maxEntries, Duration ttl) {
  }

  public boolean isSet() {
    return kind == Kind.SET;
  }

  /** The event field that a looked-up field lands in, e.g. {@code merchant.category}. */
  public String qualified(String field) {
    return name + "." + field;
  }
}

package io.tributary.enrich;

import io.tributary.common.event.JsonText;
import io.tributary.common.pipeline.Lookup;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies a pipeline's look-ups to one event, given what the store returned: record look-ups add
 * their fields under the look-up's name ({@code "merchant":{"category":...}}), set look-ups add a
 * boolean flag or drop or dead-letter members; {@code onMissing} decides for absent records. Look-ups
 * apply in the order of the pipeline file; the first that drops or dead-letters the event decides.
 */
public final class Enricher {

  /** What the store knows, for the keys of one batch. */
  public interface Found {
    /** The record's fields, or null when there is no record for {@code key}. */
    Map<String, String> record(Lookup lookup, String key);

    boolean member(Lookup lookup, String key);
  }

  private final List<Lookup> lookups;
  private final Set<String> byFields = new LinkedHashSet<>();
  private final Set<String> addedNames = new LinkedHashSet<>();

  public Enricher(List<Lookup> lookups) {
    this.lookups = List.copyOf(lookups);
    for (Lookup l : lookups) {
      byFields.add(l.by());
      if (!l.isSet() || l.action() == Lookup.SetAction.FLAG) {
        addedNames.add(l.name());
      }
    }
  }

  public List<Lookup> lookups() {
    return lookups;
  }

  /** The event fields whose values the look-ups key on. */
  public Set<String> byFields() {
    return byFields;
  }

  /** The field names enrichment adds; an event that already has one is rewritten rather than appended to. */
  public Set<String> addedNames() {
    return addedNames;
  }

  public Decision decide(Map<String, String> byValues, Found found) {
    StringBuilder appended = new StringBuilder();
    for (Lookup lookup : lookups) {
      String key = byValues.get(lookup.by());
      if (lookup.isSet()) {
        boolean member = key != null && found.member(lookup, key);
        if (member && lookup.action() == Lookup.SetAction.DROP) {
          return new Decision.Drop(lookup.name() + ": " + lookup.by() + "=" + key + " is listed");
        }
        if (member && lookup.action() == Lookup.SetAction.DLQ) {
          return new Decision.DeadLetter("look-up '" + lookup.name() + "': " + lookup.by() + "=" + key + " is listed");
        }
        if (lookup.action() == Lookup.SetAction.FLAG) {
          separate(appended);
          JsonText.appendString(appended, lookup.name());
          appended.append(':').append(member);
        }
        continue;
      }
      Map<String, String> record = key == null ? null : found.record(lookup, key);
      if (record == null) {
        switch (lookup.onMissing()) {
          case DROP -> {
            return new Decision.Drop(lookup.name() + ": no record for " + lookup.by() + "=" + key);
          }
          case DLQ -> {
            return new Decision.DeadLetter("look-up '" + lookup.name() + "': no record for " + lookup.by() + "=" + key);
          }
          default -> {
            continue;
          }
        }
      }
      separate(appended);
      JsonText.appendString(appended, lookup.name());
      appended.append(":{");
      boolean first = true;
      for (String field : lookup.fields()) {
        String value = record.get(field);
        if (value != null) {
          if (!first) {
            appended.append(',');
          }
          JsonText.appendString(appended, field);
          appended.append(':');
          JsonText.appendString(appended, value);
          first = false;
        }
      }
      appended.append('}');
    }
    return new Decision.Emit(appended.toString());
  }

  private static void separate(StringBuilder out) {
    if (!out.isEmpty()) {
      out.append(',');
    }
  }
}

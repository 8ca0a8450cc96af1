package io.tributary.common.console;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the console shows of the dead letters read back: the newest {@code limit} whose reason holds
 * the filter (ignoring case), and every reason among all read, most frequent first, to filter by.
 */
public final class DeadLetterPage {

  private DeadLetterPage() {
  }

  /** @param newestFirst the dead letters read, newest first */
  public static JsonObject of(String bus, List<JsonObject> newestFirst, int limit, String reasonFilter) {
    String filter = reasonFilter == null ? "" : reasonFilter.trim().toLowerCase(Locale.ROOT);
    JsonArray shown = new JsonArray();
    Map<String, Integer> reasons = new LinkedHashMap<>();
    for (JsonObject deadLetter : newestFirst) {
      String reason = deadLetter.getString("reason", "");
      reasons.merge(reason, 1, Integer::sum);
      if (shown.size() < limit && reason.toLowerCase(Locale.ROOT).contains(filter)) {
        shown.add(deadLetter);
      }
    }
    JsonArray byCount = new JsonArray();
    reasons.entrySet().stream()
        .sorted(Map.Entry.<String, Integer>comparingByValue(Comparator.reverseOrder()).thenComparing(Map.Entry.comparingByKey()))
        .forEach(e -> byCount.add(new JsonObject().put("reason", e.getKey()).put("count", e.getValue())));
    return new JsonObject().put("bus", bus).put("scanned", newestFirst.size()).put("deadLetters", shown).put("reasons", byCount);
  }
}

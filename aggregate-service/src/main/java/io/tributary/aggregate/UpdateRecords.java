package io.tributary.aggregate;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.event.EventHeaders;
import io.tributary.common.event.JsonText;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Measure;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.state.StateStore;
import io.tributary.common.state.WindowKey;
import io.tributary.common.state.WindowState;
import io.vertx.core.Future;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntSupplier;

/**
 * Turns relayed entries into records for the buses: their messages, and one update per window
 * they changed, carrying the window's value over every partition and its version (the event count).
 * A window of the entity key lives in one partition, so the entry's own value is the whole value; a
 * window of any other group has a partial per partition, so its value is read from the store, merged,
 * after the entry was applied. Either way the version only grows with the events a window holds, and
 * a consumer that keeps the highest version of each window holds its final value once the input is
 * drained. Changes of one window within the relayed entries are coalesced into one update.
 */
final class UpdateRecords {

  private final Map<String, Aggregation> aggregations = new LinkedHashMap<>();
  private final String keyField;
  private final BusRef updates;
  private final StateStore store;
  private final IntSupplier partitions;

  UpdateRecords(Pipeline pipeline, StateStore store, IntSupplier partitions) {
    pipeline.aggregations().forEach(a -> aggregations.put(a.name(), a));
    this.keyField = pipeline.schema().keyField();
    this.updates = pipeline.buses().updates();
    this.store = store;
    this.partitions = partitions;
  }

  Future<List<BusMessage>> of(List<RelayEntry> entries) {
    Map<WindowKey, WindowState> latest = new LinkedHashMap<>();
    Map<String, Set<WindowKey>> toMerge = new LinkedHashMap<>();
    Map<WindowKey, Long> accepted = new HashMap<>();
    List<BusMessage> messages = new ArrayList<>();
    for (RelayEntry entry : entries) {
      int distinctAt = 0;
      for (RelayEntry.Change change : entry.windows()) {
        Aggregation aggregation = aggregations.get(change.key().aggregation());
        Map<String, Long> distinct = new HashMap<>();
        for (Measure m : aggregation.measures().values()) {
          if (m.function() == Measure.Function.DISTINCT) {
            distinct.put(m.name(), distinctAt < entry.distinct().size() ? entry.distinct().get(distinctAt) : 0L);
            distinctAt++;
          }
        }
        if (aggregation.groupsByKey(keyField)) {
          latest.remove(change.key());
          latest.put(change.key(), WindowState.of(aggregation, change.key().group(), change.key().start(), change.value(), distinct));
        } else {
          toMerge.computeIfAbsent(aggregation.name(), a -> new LinkedHashSet<>()).add(change.key());
        }
        if (entry.accepted() >= 0) {
          accepted.merge(change.key(), entry.accepted(), Math::min);
        }
      }
      messages.addAll(entry.messages());
    }
    List<Future<Map<WindowKey, WindowState>>> reads = new ArrayList<>();
    toMerge.forEach((name, keys) -> reads.add(store.merged(aggregations.get(name), keys, partitions.getAsInt())));
    return Future.all(reads).map(done -> {
      List<BusMessage> out = new ArrayList<>(latest.size() + messages.size());
      latest.forEach((key, state) -> out.add(update(state, accepted.get(key))));
      for (Future<Map<WindowKey, WindowState>> read : reads) {
        read.result().forEach((key, state) -> out.add(update(state, accepted.get(key))));
      }
      out.addAll(messages);
      return out;
    });
  }

  /** The update record of a window, its JSON written directly (one per changed window: the stage's hottest output). */
  private BusMessage update(WindowState w, Long accepted) {
    StringBuilder json = new StringBuilder(128 + 24 * w.measures().size()).append("{\"id\":");
    // The same window state always gets the same id, so a pipeline reading these updates de-duplicates them.
    JsonText.appendString(json, w.aggregation() + "|" + w.group() + "|" + w.start() + "|" + w.version());
    json.append(",\"aggregation\":");
    JsonText.appendString(json, w.aggregation());
    json.append(",\"group\":");
    JsonText.appendString(json, w.group());
    json.append(",\"windowStart\":").append(w.start()).append(",\"windowEnd\":").append(w.end())
        .append(",\"version\":").append(w.version()).append(",\"measures\":{");
    boolean first = true;
    for (Map.Entry<String, Object> m : w.measures().entrySet()) {
      if (!first) {
        json.append(',');
      }
      first = false;
      JsonText.appendString(json, m.getKey());
      json.append(':').append(m.getValue());
    }
    json.append("}}");
    Map<String, String> headers = Map.of("tributary-window", Long.toString(w.start()),
        EventHeaders.ACCEPTED, accepted == null ? "" : Long.toString(accepted));
    return new BusMessage(updates, w.aggregation() + "|" + w.group(), json.toString().getBytes(StandardCharsets.UTF_8), headers);
  }

}

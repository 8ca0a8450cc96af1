package io.tributary.common.console;

import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Durations;
import io.tributary.common.pipeline.History;
import io.tributary.common.pipeline.Lookup;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.WindowSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Locale;

/** The pipeline as the console draws it: its stages' sources, buses, look-ups, histories and aggregations. */
public final class PipelineView {

  private PipelineView() {
  }

  public static JsonObject of(Pipeline pipeline) {
    JsonArray sources = new JsonArray();
    pipeline.sources().forEach(source -> sources.add(source.toString()));
    JsonObject buses = new JsonObject()
        .put("ingested", bus(pipeline.buses().ingested()))
        .put("enriched", bus(pipeline.buses().enriched()))
        .put("updates", bus(pipeline.buses().updates()))
        .put("deadLetter", bus(pipeline.buses().deadLetter()));
    JsonArray lookups = new JsonArray();
    for (Lookup lookup : pipeline.lookups()) {
      JsonObject view = new JsonObject()
          .put("name", lookup.name())
          .put("kind", lower(lookup.kind()))
          .put("store", lower(lookup.store()))
          .put("by", lookup.by());
      if (lookup.isSet()) {
        view.put("action", lower(lookup.action()));
      } else {
        view.put("fields", new JsonArray(lookup.fields())).put("onMissing", lower(lookup.onMissing()));
      }
      lookups.add(view);
    }
    JsonArray histories = new JsonArray();
    for (History history : pipeline.histories()) {
      histories.add(new JsonObject()
          .put("name", history.name())
          .put("by", new JsonArray(history.by()))
          .put("store", lower(history.store()))
          .put("retention", Durations.format(history.retention()))
          .put("features", new JsonArray(history.features().keySet().stream().toList())));
    }
    JsonArray aggregations = new JsonArray();
    for (Aggregation aggregation : pipeline.aggregations()) {
      aggregations.add(new JsonObject()
          .put("name", aggregation.name())
          .put("groupBy", new JsonArray(aggregation.groupBy()))
          .put("window", window(aggregation.window()))
          .put("retention", Durations.format(aggregation.retention()))
          .put("measures", new JsonArray(aggregation.measures().keySet().stream().toList())));
    }
    return new JsonObject()
        .put("pipeline", pipeline.name())
        .put("store", lower(pipeline.store()))
        .put("sources", sources)
        .put("buses", buses)
        .put("lookups", lookups)
        .put("histories", histories)
        .put("aggregations", aggregations);
  }

  private static String window(WindowSpec window) {
    return window.isTumbling() ? "tumbling " + Durations.format(window.size())
        : "hopping " + Durations.format(window.size()) + " every " + Durations.format(window.advance());
  }

  private static String bus(BusRef bus) {
    return bus == null ? null : bus.toString();
  }

  private static String lower(Enum<?> value) {
    return value == null ? null : value.name().toLowerCase(Locale.ROOT);
  }
}

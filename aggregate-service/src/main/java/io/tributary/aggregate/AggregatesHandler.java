package io.tributary.aggregate;

import io.tributary.common.event.EventValidator;
import io.tributary.common.http.Responses;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.state.StateStore;
import io.tributary.common.state.WindowState;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * The query API: {@code GET /aggregates/{aggregation}/{group}?from=&to=} (windows overlapping the
 * range, newest first) and {@code GET /aggregates/{aggregation}?top=N&by=measure} (the current window).
 * Partials of every partition are merged on read.
 */
final class AggregatesHandler {

  private final Pipeline pipeline;
  private final StateStore store;
  private final IntSupplier partitions;

  AggregatesHandler(Pipeline pipeline, StateStore store, IntSupplier partitions) {
    this.pipeline = pipeline;
    this.store = store;
    this.partitions = partitions;
  }

  void windows(RoutingContext ctx) {
    Aggregation aggregation = aggregation(ctx);
    if (aggregation == null) {
      return;
    }
    Long from = time(ctx, "from", Long.MIN_VALUE / 4);
    Long to = from == null ? null : time(ctx, "to", Long.MAX_VALUE / 4);
    if (to == null) {
      return;
    }
    String group = ctx.pathParam("group");
    store.windows(aggregation, group, from, to, partitions.getAsInt()).onComplete(ar -> {
      if (ar.failed()) {
        storeDown(ctx, ar.cause());
        return;
      }
      JsonArray windows = new JsonArray();
      ar.result().forEach(w -> windows.add(window(w)));
      Responses.json(ctx, 200, new JsonObject().put("aggregation", aggregation.name()).put("group", group).put("windows", windows));
    });
  }

  void top(RoutingContext ctx) {
    Aggregation aggregation = aggregation(ctx);
    if (aggregation == null) {
      return;
    }
    int n;
    try {
      n = Integer.parseInt(ctx.request().getParam("top", "10"));
    } catch (NumberFormatException e) {
      n = -1;
    }
    if (n < 1 || n > 10_000) {
      Responses.error(ctx, 400, "top must be a whole number from 1 to 10000");
      return;
    }
    String by = ctx.request().getParam("by", aggregation.measures().keySet().iterator().next());
    if (!aggregation.measures().containsKey(by)) {
      Responses.error(ctx, 400, "by must name a measure of " + aggregation.name() + ": " + aggregation.measures().keySet());
      return;
    }
    int limit = n;
    store.currentWindow(aggregation, partitions.getAsInt()).onComplete(ar -> {
      if (ar.failed()) {
        storeDown(ctx, ar.cause());
        return;
      }
      List<WindowState> groups = ar.result().stream()
          .sorted(Comparator.comparing((WindowState w) -> number(w.measures().get(by)), Comparator.nullsLast(Comparator.reverseOrder()))
              .thenComparing(WindowState::group))
          .limit(limit).toList();
      JsonObject body = new JsonObject().put("aggregation", aggregation.name()).put("by", by);
      if (!ar.result().isEmpty()) {
        WindowState any = ar.result().get(0);
        body.put("window", new JsonObject().put("start", any.start()).put("end", any.end())
            .put("startTime", Instant.ofEpochMilli(any.start()).toString()).put("endTime", Instant.ofEpochMilli(any.end()).toString()));
      }
      JsonArray top = new JsonArray();
      groups.forEach(w -> top.add(new JsonObject().put("group", w.group())
          .put("measures", new JsonObject(new LinkedHashMap<>(w.measures()))).put("version", w.version())));
      Responses.json(ctx, 200, body.put("top", top));
    });
  }

  private static Double number(Object value) {
    return value instanceof Number n ? n.doubleValue() : null;
  }

  private static JsonObject window(WindowState w) {
    return new JsonObject()
        .put("start", w.start())
        .put("end", w.end())
        .put("startTime", Instant.ofEpochMilli(w.start()).toString())
        .put("endTime", Instant.ofEpochMilli(w.end()).toString())
        .put("measures", new JsonObject(new LinkedHashMap<>(w.measures())))
        .put("version", w.version());
  }

  private Aggregation aggregation(RoutingContext ctx) {
    String name = ctx.pathParam("aggregation");
    Aggregation aggregation = pipeline.aggregation(name).orElse(null);
    if (aggregation == null) {
      Responses.error(ctx, 404, "no aggregation named '" + name + "'; this pipeline has "
          + pipeline.aggregations().stream().map(Aggregation::name).toList());
    }
    return aggregation;
  }

  /** Epoch millis or ISO-8601, within the events' time bound; null (after answering 400) when neither. */
  private static Long time(RoutingContext ctx, String name, long fallback) {
    String text = ctx.request().getParam(name);
    if (text == null || text.isBlank()) {
      return fallback;
    }
    Long millis;
    try {
      millis = Long.parseLong(text);
    } catch (NumberFormatException notMillis) {
      try {
        millis = Instant.parse(text).toEpochMilli();
      } catch (DateTimeParseException | ArithmeticException e) {
        millis = null;
      }
    }
    if (millis == null || Math.abs(millis) > EventValidator.TIME_BOUND_MILLIS) {
      Responses.error(ctx, 400, name + " must be epoch milliseconds or ISO-8601 within ±" + EventValidator.TIME_BOUND_MILLIS + " ms, got '"
          + (text.length() > 64 ? text.substring(0, 64) + "..." : text) + "'");
      return null;
    }
    return millis;
  }

  private static void storeDown(RoutingContext ctx, Throwable cause) {
    Responses.unavailable(ctx, 5, "the state store did not answer: " + cause.getMessage());
  }
}

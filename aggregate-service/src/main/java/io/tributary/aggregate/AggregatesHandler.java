package io.tributary.aggregate;

import io.tributary.common.event.EventValidator;
import io.tributary.common.http.Answer;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.state.StateStore;
import io.tributary.common.state.WindowState;
import io.vertx.core.Future;
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
    Answer.send(ctx, windows(ctx.pathParam("aggregation"), ctx.pathParam("group"), ctx.request().getParam("from"),
        ctx.request().getParam("to")));
  }

  void top(RoutingContext ctx) {
    Answer.send(ctx, top(ctx.pathParam("aggregation"), ctx.request().getParam("top", "10"), ctx.request().getParam("by")));
  }

  /**
   * The same queries asked over the control cluster by another stage's console: {@code query} is
   * {@code windows} (with {@code group}, {@code from}, {@code to}) or {@code top} (with {@code top}, {@code by}).
   */
  Future<JsonObject> answer(JsonObject request) {
    String aggregation = request.getString("aggregation", "");
    Future<Answer> answer = switch (request.getString("query", "")) {
      case "windows" -> windows(aggregation, request.getString("group", ""), request.getString("from"), request.getString("to"));
      case "top" -> top(aggregation, request.getString("top", "10"), request.getString("by"));
      default -> Future.succeededFuture(Answer.error(400, "query must be windows or top"));
    };
    return answer.map(Answer::toJson);
  }

  /** Never fails: a refusal or a store that does not answer is an {@link Answer} too. */
  Future<Answer> windows(String aggregationName, String group, String fromText, String toText) {
    Aggregation aggregation = pipeline.aggregation(aggregationName).orElse(null);
    if (aggregation == null) {
      return Future.succeededFuture(noSuchAggregation(aggregationName));
    }
    long from;
    long to;
    try {
      from = time("from", fromText, Long.MIN_VALUE / 4);
      to = time("to", toText, Long.MAX_VALUE / 4);
    } catch (IllegalArgumentException e) {
      return Future.succeededFuture(Answer.error(400, e.getMessage()));
    }
    return store.windows(aggregation, group, from, to, partitions.getAsInt()).map(found -> {
      JsonArray windows = new JsonArray();
      found.forEach(w -> windows.add(window(w)));
      return Answer.ok(new JsonObject().put("aggregation", aggregation.name()).put("group", group).put("windows", windows));
    }).otherwise(AggregatesHandler::storeDown);
  }

  /** Never fails: a refusal or a store that does not answer is an {@link Answer} too. */
  Future<Answer> top(String aggregationName, String topText, String byText) {
    Aggregation aggregation = pipeline.aggregation(aggregationName).orElse(null);
    if (aggregation == null) {
      return Future.succeededFuture(noSuchAggregation(aggregationName));
    }
    int n;
    try {
      n = Integer.parseInt(topText);
    } catch (NumberFormatException e) {
      n = -1;
    }
    if (n < 1 || n > 10_000) {
      return Future.succeededFuture(Answer.error(400, "top must be a whole number from 1 to 10000"));
    }
    String by = byText == null ? aggregation.measures().keySet().iterator().next() : byText;
    if (!aggregation.measures().containsKey(by)) {
      return Future.succeededFuture(Answer.error(400, "by must name a measure of " + aggregation.name() + ": " + aggregation.measures().keySet()));
    }
    int limit = n;
    return store.currentWindow(aggregation, partitions.getAsInt()).map(current -> {
      List<WindowState> groups = current.stream()
          .sorted(Comparator.comparing((WindowState w) -> number(w.measures().get(by)), Comparator.nullsLast(Comparator.reverseOrder()))
              .thenComparing(WindowState::group))
          .limit(limit).toList();
      JsonObject body = new JsonObject().put("aggregation", aggregation.name()).put("by", by);
      if (!current.isEmpty()) {
        WindowState any = current.get(0);
        body.put("window", new JsonObject().put("start", any.start()).put("end", any.end())
            .put("startTime", Instant.ofEpochMilli(any.start()).toString()).put("endTime", Instant.ofEpochMilli(any.end()).toString()));
      }
      JsonArray top = new JsonArray();
      groups.forEach(w -> top.add(new JsonObject().put("group", w.group())
          .put("measures", new JsonObject(new LinkedHashMap<>(w.measures()))).put("version", w.version())));
      return Answer.ok(body.put("top", top));
    }).otherwise(AggregatesHandler::storeDown);
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

  private Answer noSuchAggregation(String name) {
    return Answer.error(404, "no aggregation named '" + name + "'; this pipeline has "
        + pipeline.aggregations().stream().map(Aggregation::name).toList());
  }

  /** Epoch millis or ISO-8601, within the events' time bound; the fallback when absent. */
  private static long time(String name, String text, long fallback) {
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
      throw new IllegalArgumentException(name + " must be epoch milliseconds or ISO-8601 within ±" + EventValidator.TIME_BOUND_MILLIS
          + " ms, got '" + (text.length() > 64 ? text.substring(0, 64) + "..." : text) + "'");
    }
    return millis;
  }

  private static Answer storeDown(Throwable cause) {
    return Answer.unavailable(5, "the state store did not answer: " + cause.getMessage());
  }
}

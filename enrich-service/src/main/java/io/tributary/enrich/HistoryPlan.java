package io.tributary.enrich;

import io.tributary.common.event.JsonText;
import io.tributary.common.pipeline.FieldSpec;
import io.tributary.common.pipeline.History;
import io.tributary.common.pipeline.Measure;
import io.tributary.common.pipeline.Schema;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What one history needs per event, worked out once: the kept fields and which of them are numeric,
 * the feature windows with the fields each measures, and how the stores' answer (a JSON array: the
 * feature values in declaration order, then the matches when the history emits them, each
 * {@code [id, time, kept values...]}) becomes the fields added to an event.
 */
public final class HistoryPlan {

  /** A stored event that matched, for the one-to-many output. */
  public record Match(String id, long time, List<Object> values) {
  }

  /** One window of measures: its length, bucket width and the kept fields it sums and counts distinct values of. */
  public record Window(Duration last, long width, List<Integer> numericFields, List<Integer> distinctFields) {
  }

  private final History history;
  private final List<String> fields;
  private final boolean[] numeric;
  private final List<Window> windows = new ArrayList<>();
  private final String redisPlan;

  public HistoryPlan(History history, Schema schema) {
    this.history = history;
    this.fields = history.keep();
    this.numeric = new boolean[fields.size()];
    for (int i = 0; i < fields.size(); i++) {
      FieldSpec spec = schema.field(fields.get(i));
      numeric[i] = spec != null && spec.type().isNumeric();
    }
    for (Duration last : history.windows()) {
      List<Integer> sums = new ArrayList<>();
      List<Integer> distinct = new ArrayList<>();
      for (History.Feature f : history.features().values()) {
        if (f instanceof History.Over over && over.last().equals(last) && over.measure().field() != null) {
          List<Integer> target = over.measure().function() == Measure.Function.DISTINCT ? distinct : sums;
          int index = fields.indexOf(over.measure().field());
          if (!target.contains(index)) {
            target.add(index);
          }
        }
      }
      windows.add(new Window(last, History.bucketWidth(last), sums, distinct));
    }
    this.redisPlan = buildRedisPlan();
  }

  public History history() {
    return history;
  }

  /** The kept fields, in the order of {@link HistoryEvent#values()}: event fields and looked-up fields ({@code merchant.category}). */
  public List<String> fields() {
    return fields;
  }

  public boolean numeric(int field) {
    return numeric[field];
  }

  public List<Window> windows() {
    return windows;
  }

  public int window(Duration last) {
    return history.windows().indexOf(last);
  }

  /**
   * The history key of an event from the values of its {@code by} fields, or null when one is absent
   * (the event is then neither stored nor given features). Several fields make a JSON array, so no
   * value can make two keys equal.
   */
  public String key(Map<String, String> values) {
    if (history.by().size() == 1) {
      return values.get(history.by().get(0));
    }
    JsonArray key = new JsonArray();
    for (String field : history.by()) {
      String v = values.get(field);
      if (v == null) {
        return null;
      }
      key.add(v);
    }
    return key.encode();
  }

  /** The plan the Redis function reads (history.lua). */
  public String redisPlan() {
    return redisPlan;
  }

  /** Lua counts from 1, so every index in the plan does. */
  private String buildRedisPlan() {
    JsonArray w = new JsonArray();
    for (Window window : windows) {
      w.add(new JsonArray().add(window.last().toMillis()).add(window.width())
          .add(new JsonArray(window.numericFields().stream().map(i -> (Object) (i + 1)).toList()))
          .add(new JsonArray(window.distinctFields().stream().map(i -> (Object) (i + 1)).toList())));
    }
    JsonArray m = new JsonArray();
    JsonArray l = new JsonArray();
    JsonArray order = new JsonArray();
    for (History.Feature f : history.features().values()) {
      if (f instanceof History.Over over) {
        Measure measure = over.measure();
        m.add(new JsonArray().add(measure.function().yamlName()).add(window(over.last()) + 1)
            .add(measure.field() == null ? 0 : fields.indexOf(measure.field()) + 1));
        order.add(new JsonArray().add("m").add(m.size()));
      } else if (f instanceof History.Latest latest) {
        l.add(new JsonArray().add(fields.indexOf(latest.field()) + 1).add(latest.count()));
        order.add(new JsonArray().add("l").add(l.size()));
      }
    }
    JsonArray num = new JsonArray();
    for (boolean n : numeric) {
      num.add(n ? 1 : 0);
    }
    JsonObject plan = new JsonObject().put("w", w).put("m", m).put("l", l).put("o", order).put("num", num)
        .put("r", history.retention().toMillis()).put("ttl", history.retention().toMillis());
    if (history.matches() != null) {
      plan.put("x", new JsonArray().add(history.matches().last().toMillis()).add(history.matches().limit()));
    }
    return plan.encode();
  }

  /** The features as the object added to the event, {@code "card":{"spend_1h":12.5,...}}, with {@code match} when given. */
  public String appended(JsonArray answer, Match match) {
    JsonObject added = new JsonObject();
    int i = 0;
    for (History.Feature f : history.features().values()) {
      added.put(f.name(), answer.getValue(i++));
    }
    if (match != null) {
      JsonObject m = new JsonObject().put("id", match.id()).put("time", match.time());
      for (int f = 0; f < fields.size(); f++) {
        m.put(fields.get(f), match.values().get(f));
      }
      added.put("match", m);
    }
    StringBuilder out = new StringBuilder();
    JsonText.appendString(out, history.name());
    return out.append(':').append(added.encode()).toString();
  }

  /** The matches of an answer, newest first (empty unless the history emits matches). */
  public List<Match> matches(JsonArray answer) {
    if (history.matches() == null) {
      return List.of();
    }
    JsonArray list = answer.getJsonArray(history.features().size());
    List<Match> matches = new ArrayList<>(list.size());
    for (int i = 0; i < list.size(); i++) {
      JsonArray m = list.getJsonArray(i);
      matches.add(new Match(m.getString(0), m.getLong(1), new ArrayList<>(m.getList().subList(2, m.size()))));
    }
    return matches;
  }
}

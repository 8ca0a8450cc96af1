package io.tributary.enrich;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tributary.common.StageMetrics;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.tributary.common.bus.DeadLetters;
import io.tributary.common.event.EventScanner;
import io.tributary.common.event.EventValidator;
import io.tributary.common.pipeline.History;
import io.tributary.common.input.InputBatch;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputRecord;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Lookup;
import io.tributary.common.pipeline.Pipeline;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Enriches one poll batch: scan each event for the fields the look-ups and histories need, resolve
 * every look-up of the batch in one store round trip, decide per event, store the emitted events in
 * each history and add their features (one store call per history and shard, in poll order), and
 * publish the batch (enriched events and dead letters together) with the batch's input commit (on
 * Kafka, in one transaction with its offsets), so each event is enriched, dropped or dead-lettered
 * exactly once. A history with {@code matches} emits one event per match.
 */
public final class EnrichProcessor implements InputBus.Processor {

  private static final long STORE_TIMEOUT_SECONDS = 10;
  /** Longer than a look-up's: a SQL history aggregates its windows in the database, a batch's work at once. */
  private static final long HISTORY_TIMEOUT_SECONDS = 60;

  private final Enricher enricher;
  private final LookupResolver resolver;
  private final HistoryStore histories;
  private final List<HistoryPlan> plans;
  private final BusPublisher publisher;
  private final DeadLetters deadLetters;
  private final BusRef enriched;
  private final StageMetrics metrics;
  private final Timer historyLatency;
  private final String idField;
  private final String timeField;
  /** The event fields a scan reads: look-up keys, history keys and kept fields, id and time. */
  private final Set<String> scanned = new LinkedHashSet<>();
  private final Set<String> addedNames = new LinkedHashSet<>();

  /**
   * Completes once the previous batch handed its output to the publisher, and fails if it failed:
   * batches in flight at once store their histories and publish in poll order, and none publishes
   * after one that failed.
   */
  private Future<Void> previousHandedOver = Future.succeededFuture();
  /** Batches in flight; when none is, a new batch starts a fresh chain (the loop re-reads after a failure only then). */
  private int pending;

  public EnrichProcessor(Pipeline pipeline, LookupResolver resolver, HistoryStore histories, List<HistoryPlan> plans,
      BusPublisher publisher, StageMetrics metrics, MeterRegistry registry) {
    this.enricher = new Enricher(pipeline.lookups());
    this.resolver = resolver;
    this.histories = histories;
    this.plans = List.copyOf(plans);
    this.publisher = publisher;
    this.deadLetters = new DeadLetters(pipeline.name(), "enrich", pipeline.buses().deadLetter());
    this.enriched = pipeline.buses().enriched();
    this.metrics = metrics;
    this.idField = pipeline.schema().idField();
    this.timeField = pipeline.schema().timeField();
    this.historyLatency = Timer.builder("tributary.history.latency").description("Round trip of one batch of one shard to a history store")
        .tags("pipeline", pipeline.name()).publishPercentileHistogram().register(registry);
    scanned.addAll(enricher.byFields());
    addedNames.addAll(enricher.addedNames());
    if (!plans.isEmpty()) {
      scanned.add(idField);
      if (timeField != null) {
        scanned.add(timeField);
      }
    }
    for (HistoryPlan plan : plans) {
      addedNames.add(plan.history().name());
      scanned.addAll(plan.history().by());
      for (String field : plan.fields()) {
        if (pipeline.schema().field(field) != null) {
          scanned.add(field);
        }
      }
    }
  }

  private record Scanned(InputRecord record, EventScanner.Scan scan) {
  }

  /** An event to emit, with what enrichment adds to it; {@code answers} holds each history's features once stored. */
  private static final class Emitted {
    final Scanned event;
    final String appended;
    final JsonArray[] answers;

    Emitted(Scanned event, String appended, int histories) {
      this.event = event;
      this.appended = appended;
      this.answers = new JsonArray[histories];
    }
  }

  @Override
  public Future<Map<Integer, Long>> process(InputBatch records) {
    long start = System.nanoTime();
    long now = System.currentTimeMillis();
    List<Scanned> events = new ArrayList<>(records.count());
    List<BusMessage> out = new ArrayList<>(records.count());
    Map<Lookup, Set<String>> wanted = new HashMap<>();
    int unreadable = 0;
    for (InputRecord record : records) {
      byte[] value = record.value();
      try {
        EventScanner.Scan scan = EventScanner.scan(value, scanned, addedNames);
        events.add(new Scanned(record, scan));
        for (Lookup lookup : enricher.lookups()) {
          String key = scan.values().get(lookup.by());
          if (key != null) {
            wanted.computeIfAbsent(lookup, l -> new HashSet<>()).add(key);
          }
        }
      } catch (EventScanner.NotAnObject e) {
        out.add(deadLetters.message(record.key(), e.getMessage(), records.source(), value, now));
        unreadable++;
      }
    }
    int notEvents = unreadable;
    metrics.in(records.count());
    metrics.batch(records.count());
    Future<Void> turn = pending == 0 ? Future.succeededFuture() : previousHandedOver;
    Promise<Void> handedOver = Promise.promise();
    previousHandedOver = handedOver.future();
    pending++;
    int[] counts = new int[3];
    // A bounded wait: a Redis connection that dies mid-request may never answer (vertx-redis-client#375).
    Future<Map<Integer, Long>> done = resolver.resolve(wanted).timeout(STORE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .compose(found -> turn.map(v -> found))
        .compose(found -> {
          List<Emitted> emitted = new ArrayList<>(events.size());
          int dead = notEvents;
          int dropped = 0;
          for (Scanned event : events) {
            Decision decision = enricher.decide(event.scan().values(), found);
            if (decision instanceof Decision.Emit emit) {
              emitted.add(new Emitted(event, emit.appended(), plans.size()));
            } else if (decision instanceof Decision.DeadLetter refused) {
              out.add(deadLetters.message(event.record().key(), refused.reason(), records.source(), event.record().value(), now));
              dead++;
            } else {
              dropped++;
            }
          }
          counts[1] = dead;
          counts[2] = dropped;
          return remember(emitted, found).map(v -> emitted);
        })
        .onFailure(handedOver::tryFail).compose(emitted -> {
          for (Emitted e : emitted) {
            counts[0] += messages(e, out);
          }
          Future<Void> acknowledged = publisher.publish(out, records.commit());
          handedOver.tryComplete();
          return acknowledged.map(v -> {
            // Counted once the transaction landed, so a retried batch is not counted twice.
            metrics.out(counts[0]);
            metrics.deadLettered(counts[1]);
            metrics.dropped(counts[2]);
            metrics.processingLatency().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
            return Map.<Integer, Long>of();
          });
        });
    done.onComplete(ar -> pending--);
    return done;
  }

  /** Stores the emitted events in every history, one call per history and shard, and keeps each event's features. */
  private Future<Void> remember(List<Emitted> emitted, Enricher.Found found) {
    if (plans.isEmpty() || emitted.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Future<Void>> calls = new ArrayList<>();
    for (int h = 0; h < plans.size(); h++) {
      HistoryPlan plan = plans.get(h);
      int index = h;
      Map<Integer, List<Emitted>> byShard = new LinkedHashMap<>();
      Map<Integer, List<HistoryEvent>> eventsByShard = new LinkedHashMap<>();
      for (Emitted e : emitted) {
        HistoryEvent event = historyEvent(plan, e.event, found);
        if (event != null) {
          byShard.computeIfAbsent(e.event.record().shard(), s -> new ArrayList<>()).add(e);
          eventsByShard.computeIfAbsent(e.event.record().shard(), s -> new ArrayList<>()).add(event);
        }
      }
      eventsByShard.forEach((shard, list) -> {
        long start = System.nanoTime();
        calls.add(histories.record(plan, shard, list).timeout(HISTORY_TIMEOUT_SECONDS, TimeUnit.SECONDS).map(answers -> {
          historyLatency.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
          List<Emitted> owners = byShard.get(shard);
          for (int i = 0; i < owners.size(); i++) {
            owners.get(i).answers[index] = new JsonArray(answers.get(i));
          }
          return null;
        }));
      });
    }
    return Future.all(calls).mapEmpty();
  }

  /** The event as the history keeps it, or null when it lacks a key field, its id or its time. */
  private HistoryEvent historyEvent(HistoryPlan plan, Scanned event, Enricher.Found found) {
    Map<String, String> values = event.scan().values();
    String key = plan.key(values);
    String id = values.get(idField);
    Long time = timeField == null ? Long.valueOf(event.record().timestamp()) : EventValidator.parseTime(values.get(timeField));
    if (key == null || id == null || time == null) {
      return null;
    }
    List<String> kept = new ArrayList<>(plan.fields().size());
    for (String field : plan.fields()) {
      kept.add(values.containsKey(field) || !field.contains(".") ? values.get(field) : lookedUp(field, values, found));
    }
    return new HistoryEvent(id, key, time, event.record().position(), kept);
  }

  private String lookedUp(String qualified, Map<String, String> values, Enricher.Found found) {
    int dot = qualified.indexOf('.');
    String name = qualified.substring(0, dot);
    for (Lookup lookup : enricher.lookups()) {
      if (lookup.name().equals(name)) {
        String key = values.get(lookup.by());
        Map<String, String> record = key == null ? null : found.record(lookup, key);
        return record == null ? null : record.get(qualified.substring(dot + 1));
      }
    }
    return null;
  }

  /** Adds the event's output messages: one, or with a history that emits matches, one per match. */
  private int messages(Emitted e, List<BusMessage> out) {
    StringBuilder appended = new StringBuilder(e.appended);
    List<HistoryPlan.Match> matches = null;
    int matching = -1;
    for (int h = 0; h < plans.size(); h++) {
      if (e.answers[h] == null) {
        continue;
      }
      if (plans.get(h).history().matches() != null) {
        matches = plans.get(h).matches(e.answers[h]);
        matching = h;
        continue;
      }
      separate(appended);
      appended.append(plans.get(h).appended(e.answers[h], null));
    }
    InputRecord record = e.event.record();
    if (matches == null || matches.isEmpty()) {
      if (matching >= 0) {
        separate(appended);
        appended.append(plans.get(matching).appended(e.answers[matching], null));
      }
      out.add(new BusMessage(enriched, record.key(), enrichedValue(e.event, appended.toString(), null), record.headers(), record.timestamp()));
      return 1;
    }
    for (HistoryPlan.Match match : matches) {
      StringBuilder withMatch = new StringBuilder(appended);
      separate(withMatch);
      withMatch.append(plans.get(matching).appended(e.answers[matching], match));
      String id = e.event.scan().values().get(idField) + "#" + match.id();
      out.add(new BusMessage(enriched, record.key(), enrichedValue(e.event, withMatch.toString(), id), record.headers(), record.timestamp()));
    }
    return matches.size();
  }

  private static void separate(StringBuilder out) {
    if (!out.isEmpty()) {
      out.append(',');
    }
  }

  /**
   * Appends to the original bytes; only an event that already carries an added name, or whose id a
   * match output replaces, is decoded and rewritten.
   */
  private byte[] enrichedValue(Scanned event, String appended, String newId) {
    byte[] value = event.record().value();
    if (!event.scan().reservedTaken() && newId == null) {
      return EventScanner.append(value, appended);
    }
    JsonObject json = new JsonObject(new String(value, StandardCharsets.UTF_8));
    addedNames.forEach(json::remove);
    if (newId != null) {
      json.put(idField, newId);
    }
    return EventScanner.append(json.toBuffer().getBytes(), appended);
  }
}

package io.tributary.enrich;

import io.tributary.common.StageMetrics;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.tributary.common.bus.DeadLetters;
import io.tributary.common.event.EventScanner;
import io.tributary.common.input.InputBatch;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputRecord;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Lookup;
import io.tributary.common.pipeline.Pipeline;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Enriches one poll batch: scan each event for the fields the look-ups key on, resolve every look-up
 * of the batch in one store round trip, decide per event, and publish the batch (enriched events and
 * dead letters together) with the batch's input commit (on Kafka, in one transaction with its offsets),
 * so each event is enriched, dropped or dead-lettered exactly once.
 */
public final class EnrichProcessor implements InputBus.Processor {

  private final Enricher enricher;
  private final LookupResolver resolver;
  private final BusPublisher publisher;
  private final DeadLetters deadLetters;
  private final BusRef enriched;
  private final StageMetrics metrics;

  public EnrichProcessor(Pipeline pipeline, LookupResolver resolver, BusPublisher publisher, StageMetrics metrics) {
    this.enricher = new Enricher(pipeline.lookups());
    this.resolver = resolver;
    this.publisher = publisher;
    this.deadLetters = new DeadLetters(pipeline.name(), "enrich", pipeline.buses().deadLetter());
    this.enriched = pipeline.buses().enriched();
    this.metrics = metrics;
  }

  /**
   * Completes once the previous batch handed its output to the publisher, and fails if it failed:
   * batches in flight at once publish in poll order, and none publishes after one that failed.
   */
  private static final long STORE_TIMEOUT_SECONDS = 10;

  private Future<Void> previousHandedOver = Future.succeededFuture();
  /** Batches in flight; when none is, a new batch starts a fresh chain (the loop re-reads after a failure only then). */
  private int pending;

  private record Scanned(InputRecord record, EventScanner.Scan scan) {
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
        EventScanner.Scan scan = EventScanner.scan(value, enricher.byFields(), enricher.addedNames());
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
    // A bounded wait: a Redis connection that dies mid-request may never answer (vertx-redis-client#375).
    Future<Map<Integer, Long>> done = resolver.resolve(wanted).timeout(STORE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .compose(found -> turn.map(v -> found))
        .onFailure(handedOver::tryFail).compose(found -> {
      int emitted = 0;
      int dead = notEvents;
      int dropped = 0;
      for (Scanned event : events) {
        Decision decision = enricher.decide(event.scan().values(), found);
        if (decision instanceof Decision.Emit emit) {
          out.add(new BusMessage(enriched, event.record().key(), enrichedValue(event, emit.appended()), event.record().headers(),
              event.record().timestamp()));
          emitted++;
        } else if (decision instanceof Decision.DeadLetter refused) {
          out.add(deadLetters.message(event.record().key(), refused.reason(), records.source(), event.record().value(), now));
          dead++;
        } else {
          dropped++;
        }
      }
      int sent = emitted;
      int deadLettered = dead;
      int droppedCount = dropped;
      Future<Void> acknowledged = publisher.publish(out, records.commit());
      handedOver.tryComplete();
      return acknowledged.map(v -> {
        // Counted once the transaction landed, so a retried batch is not counted twice.
        metrics.out(sent);
        metrics.deadLettered(deadLettered);
        metrics.dropped(droppedCount);
        metrics.processingLatency().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        return Map.<Integer, Long>of();
      });
    });
    done.onComplete(ar -> pending--);
    return done;
  }

  /** Appends to the original bytes; only an event that already carries an added name is decoded and rewritten. */
  private byte[] enrichedValue(Scanned event, String appended) {
    byte[] value = event.record().value();
    if (!event.scan().reservedTaken()) {
      return EventScanner.append(value, appended);
    }
    JsonObject json = new JsonObject(new String(value, StandardCharsets.UTF_8));
    enricher.addedNames().forEach(json::remove);
    return EventScanner.append(json.toBuffer().getBytes(), appended);
  }
}

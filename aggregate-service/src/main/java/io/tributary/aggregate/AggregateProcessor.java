package io.tributary.aggregate;

import io.tributary.common.StageMetrics;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.tributary.common.bus.DeadLetters;
import io.tributary.common.event.EventHeaders;
import io.tributary.common.event.EventScanner;
import io.tributary.common.kafka.ConsumerLoop;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Measure;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.state.BatchPlan;
import io.tributary.common.state.EventFacts;
import io.tributary.common.state.Position;
import io.tributary.common.state.StateStore;
import io.tributary.common.state.WindowState;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies each poll batch to the state store, partition by partition, exactly once. For every
 * partition it holds the position it continues from: the stored one it sought to on assignment, or
 * the end of its own previous batch. A batch is applied only if the store still stands at that
 * position (fencing); otherwise nothing changes and the partition is sought back to the stored
 * position. Late events are dead-lettered before the state changes, and an update per changed window
 * is published after.
 */
final class AggregateProcessor implements ConsumerLoop.Processor, ConsumerLoop.Rebalance {

  private static final Logger LOG = LoggerFactory.getLogger(AggregateProcessor.class);
  private static final long STORE_TIMEOUT_SECONDS = 10;

  private final List<Aggregation> aggregations;
  private final StateStore store;
  private final BusPublisher publisher;
  private final DeadLetters deadLetters;
  private final BusRef updates;
  private final StageMetrics metrics;
  private final String timeField;
  private final String idField;
  private final Set<String> paths = new LinkedHashSet<>();
  private final Set<String> requiredNumeric = new java.util.HashSet<>();
  private final Map<Integer, Position> positions = new ConcurrentHashMap<>();
  private Future<Void> updatesInFlight = Future.succeededFuture();

  AggregateProcessor(Pipeline pipeline, StateStore store, BusPublisher publisher, StageMetrics metrics) {
    this.aggregations = pipeline.aggregations();
    this.store = store;
    this.publisher = publisher;
    this.deadLetters = new DeadLetters(pipeline.name(), "aggregate", pipeline.buses().deadLetter());
    this.updates = pipeline.buses().updates();
    this.metrics = metrics;
    this.timeField = pipeline.schema().timeField();
    this.idField = pipeline.schema().idField();
    for (Aggregation a : aggregations) {
      paths.addAll(a.groupBy());
      a.measures().values().stream().map(Measure::field).filter(f -> f != null).forEach(paths::add);
    }
    pipeline.schema().fields().values().stream().filter(f -> f.required() && f.type().isNumeric())
        .forEach(f -> requiredNumeric.add(f.name()));
    paths.add(idField);
    if (timeField != null) {
      paths.add(timeField);
    }
  }

  // ---- rebalance (consumer thread) ---------------------------------------------------------

  @Override
  public Map<TopicPartition, Long> assigned(Collection<TopicPartition> partitions) {
    Map<TopicPartition, Long> seeks = new HashMap<>();
    for (TopicPartition tp : partitions) {
      try {
        Position stored = store.position(tp.partition()).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        positions.put(tp.partition(), stored);
        seeks.put(tp, stored.isNone() ? 0L : stored.nextOffset());
      } catch (Exception e) {
        // The first batch of this partition reads the stored position instead (see process).
        positions.remove(tp.partition());
        LOG.warn("cannot read the stored position of {} yet ({}); will at its first batch", tp, e.getMessage());
      }
    }
    LOG.info("resuming from stored positions {}", seeks);
    return seeks;
  }

  @Override
  public void revoked(Collection<TopicPartition> partitions) {
    partitions.forEach(tp -> positions.remove(tp.partition()));
  }

  // ---- batches (event loop) ----------------------------------------------------------------

  @Override
  public Future<Map<TopicPartition, Long>> process(ConsumerRecords<String, byte[]> records) {
    long start = System.nanoTime();
    metrics.in(records.count());
    metrics.batch(records.count());
    Map<TopicPartition, Long> seeks = new ConcurrentHashMap<>();
    List<BusMessage> updateMessages = new ArrayList<>();
    List<Future<Void>> partitions = new ArrayList<>();
    for (TopicPartition tp : records.partitions()) {
      partitions.add(processPartition(tp, records.records(tp), seeks, updateMessages));
    }
    return Future.all(partitions).compose(done -> {
      // The state is applied; its updates go out while the next batch is read. At most one batch of
      // updates is outstanding, so memory stays bounded and updates keep their order.
      Future<Void> previous = updatesInFlight;
      updatesInFlight = previous.transform(ignored -> publisher.publish(updateMessages)
          .onFailure(e -> LOG.warn("{} window updates not published: {}", updateMessages.size(), e.getMessage())));
      metrics.processingLatency().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      return previous.transform(ignored -> Future.succeededFuture((Map<TopicPartition, Long>) seeks));
    });
  }

  private Future<Void> processPartition(TopicPartition tp, List<ConsumerRecord<String, byte[]>> records,
      Map<TopicPartition, Long> seeks, List<BusMessage> updateMessages) {
    int partition = tp.partition();
    Position expected = positions.get(partition);
    if (expected == null) {
      return store.position(partition).map(stored -> {
        positions.put(partition, stored);
        seeks.put(tp, stored.isNone() ? 0L : stored.nextOffset());
        return null;
      });
    }
    long now = System.currentTimeMillis();
    List<EventFacts> facts = new ArrayList<>(records.size());
    List<BusMessage> dead = new ArrayList<>();
    for (ConsumerRecord<String, byte[]> record : records) {
      EventFacts f = facts(record);
      if (f == null) {
        dead.add(deadLetters.message(record.key(), "not an event: no id, time or JSON body", "kafka:" + record.topic(),
            record.value() == null ? new byte[0] : record.value(), now));
      } else {
        facts.add(f);
      }
    }
    long nextOffset = records.get(records.size() - 1).offset() + 1;
    Map<Long, List<String>> candidates = new HashMap<>();
    facts.forEach(f -> candidates.computeIfAbsent(BatchPlan.dedupBucket(f.time()), b -> new ArrayList<>()).add(f.id()));
    // Bounded waits: a Redis connection that dies mid-request may never answer (vertx-redis-client#375);
    // an apply that times out but ran anyway is caught by the position check of the retry.
    return store.seen(partition, candidates).timeout(STORE_TIMEOUT_SECONDS, TimeUnit.SECONDS).compose(seen -> {
      BatchPlan plan = BatchPlan.of(aggregations, requiredNumeric, expected, facts, seen);
      Map<Long, ConsumerRecord<String, byte[]>> byOffset = new HashMap<>();
      if (!plan.late().isEmpty()) {
        records.forEach(r -> byOffset.put(r.offset(), r));
      }
      for (BatchPlan.Late late : plan.late()) {
        ConsumerRecord<String, byte[]> record = byOffset.get(late.event().offset());
        dead.add(deadLetters.message(record.key(), "late: event time " + late.event().time() + " is past the allowed lateness of "
            + late.aggregations() + " at stream time " + plan.streamTime(), "kafka:" + record.topic(), record.value(), now));
      }
      long applyStart = System.nanoTime();
      return publisher.publish(dead)
          .compose(v -> store.apply(partition, expected, nextOffset, plan).timeout(STORE_TIMEOUT_SECONDS, TimeUnit.SECONDS))
          .map(applied -> {
            metrics.storeLatency().record(System.nanoTime() - applyStart, TimeUnit.NANOSECONDS);
            if (applied instanceof StateStore.Conflict conflict) {
              Position stored = conflict.stored();
              LOG.warn("partition {} moved to {} by another owner; not applying, seeking there", tp, stored.nextOffset());
              positions.put(partition, stored);
              seeks.put(tp, stored.isNone() ? 0L : stored.nextOffset());
              return null;
            }
            positions.put(partition, new Position(nextOffset, plan.streamTime()));
            metrics.out(plan.applied());
            metrics.duplicates(plan.duplicates());
            metrics.deadLettered(dead.size());
            String oldestAccepted = oldestAccepted(records);
            for (WindowState w : ((StateStore.Ok) applied).changed()) {
              synchronized (updateMessages) {
                updateMessages.add(update(w, partition, oldestAccepted));
              }
            }
            return null;
          });
    });
  }

  private EventFacts facts(ConsumerRecord<String, byte[]> record) {
    if (record.value() == null) {
      return null;
    }
    Map<String, String> values;
    try {
      values = EventScanner.values(record.value(), paths);
    } catch (EventScanner.NotAnObject e) {
      return null;
    }
    String id = header(record, EventHeaders.ID);
    if (id == null) {
      id = values.get(idField);
    }
    String time = header(record, EventHeaders.TIME);
    if (time == null && timeField != null) {
      time = values.get(timeField);
    }
    if (id == null || time == null) {
      return null;
    }
    try {
      return new EventFacts(id, Long.parseLong(time), values, record.offset());
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** When ingest accepted the oldest event of the batch: the start of the end-to-end latency its updates report. */
  private static String oldestAccepted(List<ConsumerRecord<String, byte[]>> records) {
    long oldest = Long.MAX_VALUE;
    for (ConsumerRecord<String, byte[]> record : records) {
      String accepted = header(record, EventHeaders.ACCEPTED);
      if (accepted != null) {
        try {
          oldest = Math.min(oldest, Long.parseLong(accepted));
        } catch (NumberFormatException ignored) {
          // a producer other than ingest wrote a bad header; it only affects latency reporting
        }
      }
    }
    return oldest == Long.MAX_VALUE ? "" : Long.toString(oldest);
  }

  private BusMessage update(WindowState w, int partition, String oldestAccepted) {
    JsonObject body = new JsonObject()
        .put("aggregation", w.aggregation())
        .put("group", w.group())
        .put("windowStart", w.start())
        .put("windowEnd", w.end())
        .put("partition", partition)
        .put("version", w.version())
        .put("measures", new JsonObject(new java.util.LinkedHashMap<>(w.measures())));
    return new BusMessage(updates, w.aggregation() + "|" + w.group(), body.toBuffer().getBytes(),
        Map.of("tributary-window", Long.toString(w.start()), "tributary-partition", Integer.toString(partition),
            EventHeaders.ACCEPTED, oldestAccepted));
  }

  private static String header(ConsumerRecord<String, byte[]> record, String name) {
    Header header = record.headers().lastHeader(name);
    return header == null || header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8);
  }
}

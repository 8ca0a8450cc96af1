package io.tributary.aggregate;

import io.tributary.common.StageMetrics;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.DeadLetters;
import io.tributary.common.event.EventScanner;
import io.tributary.common.event.EventValidator;
import io.tributary.common.input.InputBatch;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputRecord;
import io.tributary.common.logging.LogFields;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Measure;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.state.BatchPlan;
import io.tributary.common.state.BatchWrite;
import io.tributary.common.state.EventFacts;
import io.tributary.common.state.Position;
import io.tributary.common.state.StateStore;
import io.tributary.common.state.WindowDelta;
import io.tributary.common.state.WindowKey;
import io.tributary.common.state.WindowValue;
import io.tributary.common.state.Windows;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies each poll batch to the state store, partition by partition, exactly once. For every
 * partition it holds the position it continues from: the stored one it sought to on assignment, or
 * the end of its own previous batch. A batch is planned against the windows' whole values (cached, or
 * read with the ids it must skip in one round trip), then applied only if the store still stands at
 * that position (fencing); otherwise nothing changes and the partition is sought back to the stored
 * position. The same atomic call appends the batch's outbox entry (window updates, dead letters),
 * which the {@link OutboxRelay} publishes afterwards.
 *
 * <p>Several batches may be in flight: a partition's batches run one after the other (each plans
 * against the state the one before left), different partitions' at the same time. When a batch asks
 * for a partition to be re-read from the stored position, the batches of that partition read before
 * the seek took effect are skipped (their records come again after it), known by their lower seek
 * count ({@link InputBatch#seeks}).
 */
final class AggregateProcessor implements InputBus.Processor, InputBus.Rebalance {

  private static final Logger LOG = LoggerFactory.getLogger(AggregateProcessor.class);
  private static final long STORE_TIMEOUT_SECONDS = 10;
  private static final long REBALANCE_TIMEOUT_SECONDS = 30;

  private final List<Aggregation> aggregations;
  private final StateStore store;
  private final DeadLetters deadLetters;
  private final StageMetrics metrics;
  private final WindowCache cache;
  private final OutboxRelay relay;
  private final OutboxCodec codec;
  private final Context context;
  private final int maxRelayBacklog;
  private final String timeField;
  private final String idField;
  private final long maxAheadMillis;
  private final Set<String> paths = new LinkedHashSet<>();
  /** Written on the event loop, read on the consumer thread at assignment. */
  private final Map<Integer, Position> positions = new ConcurrentHashMap<>();
  /** The last batch's work per partition (event loop): the next one of that partition starts after it. */
  private final Map<Integer, Tail> lastOfPartition = new HashMap<>();
  /** Per partition, the lowest seek count of a batch that may be applied: batches read before a seek this processor asked for are stale. */
  private final Map<Integer, Long> freshFrom = new HashMap<>();

  AggregateProcessor(Pipeline pipeline, StateStore store, OutboxRelay relay, OutboxCodec codec, WindowCache cache,
      int maxRelayBacklog, Context context, StageMetrics metrics) {
    this.aggregations = pipeline.aggregations();
    this.store = store;
    this.relay = relay;
    this.codec = codec;
    this.cache = cache;
    this.maxRelayBacklog = maxRelayBacklog;
    this.context = context;
    this.deadLetters = new DeadLetters(pipeline.name(), "aggregate", pipeline.buses().deadLetter());
    this.metrics = metrics;
    this.timeField = pipeline.schema().timeField();
    this.idField = pipeline.schema().idField();
    this.maxAheadMillis = pipeline.schema().maxAhead().toMillis();
    for (Aggregation a : aggregations) {
      paths.addAll(a.groupBy());
      a.measures().values().stream().map(Measure::field).filter(f -> f != null).forEach(paths::add);
    }
    paths.add(idField);
    if (timeField != null) {
      paths.add(timeField);
    }
  }

  // ---- rebalance (input thread) ------------------------------------------------------------

  @Override
  public Map<Integer, Long> assigned(Collection<Integer> numbers) {
    Map<Integer, Long> seeks = new HashMap<>();
    for (int partition : numbers) {
      try {
        Position stored = store.position(partition).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        positions.put(partition, stored);
        seeks.put(partition, stored.isNone() ? 0L : stored.nextOffset());
      } catch (Exception e) {
        // The first batch of this partition reads the stored position instead (see processPartition).
        positions.remove(partition);
        LogFields.forPartition(partition, () -> LOG.warn("cannot read the stored position of partition {} yet ({}); will at its first batch",
            partition, e.getMessage()));
      }
    }
    onContext(() -> {
      numbers.forEach(p -> {
        Position stored = positions.get(p);
        if (stored != null) {
          cache.reset(p, stored.streamTime());
        } else {
          cache.drop(p);
        }
      });
      relay.assign(numbers);
      return Future.succeededFuture();
    });
    LOG.info("resuming from stored positions {}", seeks);
    return seeks;
  }

  @Override
  public void revoked(Collection<Integer> numbers) {
    numbers.forEach(positions::remove);
    // The next owner must find this instance's relay of these partitions settled.
    CompletableFuture<Void> released = onContext(() -> {
      numbers.forEach(cache::drop);
      numbers.forEach(lastOfPartition::remove);
      return relay.release(numbers);
    });
    try {
      released.get(REBALANCE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("the relay of partitions {} did not settle within {} s: {}", numbers, REBALANCE_TIMEOUT_SECONDS, e.getMessage());
    }
  }

  private CompletableFuture<Void> onContext(Supplier<Future<Void>> work) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    context.runOnContext(v -> work.get().onComplete(ar -> {
      if (ar.succeeded()) {
        done.complete(null);
      } else {
        done.completeExceptionally(ar.cause());
      }
    }));
    return done;
  }

  // ---- batches (event loop) ----------------------------------------------------------------

  @Override
  public Future<Map<Integer, Long>> process(InputBatch records) {
    long start = System.nanoTime();
    metrics.in(records.count());
    metrics.batch(records.count());
    Map<Integer, Long> seeks = new ConcurrentHashMap<>();
    List<Future<Void>> partitions = new ArrayList<>();
    for (int partition : records.shards()) {
      long seekCount = records.seeks(partition);
      Tail previous = lastOfPartition.get(partition);
      Future<Void> work = (previous == null ? Future.<Void>succeededFuture() : previous.work()).transform(before -> {
        // A failed batch fails the later ones of its partition read before the rewind (they are read
        // again); the rewind moved the partition, so the batches read after it have a higher seek count.
        if (before.failed() && seekCount <= previous.seekCount()) {
          return Future.failedFuture(before.cause());
        }
        return seekCount < freshFrom.getOrDefault(partition, 0L) ? Future.succeededFuture()
            : processPartition(partition, seekCount, records, seeks);
      });
      lastOfPartition.put(partition, new Tail(work, seekCount));
      partitions.add(work);
    }
    return Future.all(partitions)
        // Backpressure: while the relay is behind (a bus is slow or away), read no further.
        .compose(done -> relay.whenBelow(maxRelayBacklog))
        .map(done -> {
          metrics.processingLatency().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
          return (Map<Integer, Long>) seeks;
        });
  }

  private record Tail(Future<Void> work, long seekCount) {
  }

  /**
   * One partition's records of a poll, scanned: what the store must be asked before the batch can be
   * planned. Its messages start with what the stages before this one in a fused process carried.
   */
  private static final class Batch {
    final List<InputRecord> records;
    final String source;
    final List<EventFacts> facts;
    /** The record each fact was read from, by identity: positions need not be unique in a fused chain's hand-off. */
    final Map<EventFacts, InputRecord> recordOf = new IdentityHashMap<>();
    /** What the batch sends besides window updates: the carried messages, then this stage's dead letters. */
    final List<BusMessage> messages;
    final int carried;
    final Map<Long, List<String>> candidates = new HashMap<>();
    final Map<WindowKey, WindowValue> known = new HashMap<>();
    final Set<WindowKey> toRead = new HashSet<>();
    final long nextOffset;
    final long now;

    Batch(List<InputRecord> records, String source, long nextOffset, List<BusMessage> carried, long now) {
      this.records = records;
      this.source = source;
      this.facts = new ArrayList<>(records.size());
      this.messages = new ArrayList<>(carried);
      this.carried = carried.size();
      this.nextOffset = nextOffset;
      this.now = now;
    }
  }

  private Future<Void> processPartition(int partition, long seekCount, InputBatch polled, Map<Integer, Long> seeks) {
    Position expected = positions.get(partition);
    if (expected == null) {
      return store.position(partition).map(stored -> {
        positions.put(partition, stored);
        cache.reset(partition, stored.streamTime());
        seekTo(partition, stored, seekCount, seeks);
        return null;
      });
    }
    long end = polled.end(partition);
    if (end < 0 || !expected.isNone() && end <= expected.nextOffset()) {
      // Applied already: polled before a seek took effect.
      return Future.succeededFuture();
    }
    if (!expected.isNone() && polled.spanned(partition) && polled.start(partition) < expected.nextOffset()) {
      // A hand-off partly applied: its records cannot be told apart by position, so it is read again from the stored one.
      seekTo(partition, expected, seekCount, seeks);
      return Future.succeededFuture();
    }
    List<InputRecord> records = expected.isNone() ? polled.records(partition)
        : polled.records(partition).stream().filter(r -> r.position() >= expected.nextOffset()).toList();
    Batch batch = scan(partition, polled.source(), records, end, polled.carried(partition));
    // Bounded waits: a Redis connection that dies mid-request may never answer (vertx-redis-client#375);
    // an apply that times out but ran anyway is caught by the position check of the retry.
    return store.read(partition, batch.candidates, batch.toRead).timeout(STORE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .compose(stored -> apply(partition, seekCount, expected, batch, stored, seeks))
        .onFailure(e -> cache.reset(partition, expected.streamTime()));
  }

  /** Reads each record's facts, and sorts the windows they touch into cached, known empty and to be read. */
  private Batch scan(int partition, String source, List<InputRecord> records, long nextOffset, List<BusMessage> carried) {
    Batch batch = new Batch(records, source, nextOffset, carried, System.currentTimeMillis());
    for (InputRecord record : records) {
      EventFacts f = facts(record);
      if (f == null) {
        batch.messages.add(deadLetters.message(record.key(), "not an event: no id, time or JSON body", source, record.value(), batch.now));
        continue;
      }
      batch.facts.add(f);
      batch.recordOf.put(f, record);
      batch.candidates.computeIfAbsent(BatchPlan.dedupBucket(f.time()), b -> new ArrayList<>()).add(f.id());
      for (int i = 0; i < aggregations.size(); i++) {
        if (f.groups()[i] != null) {
          sortWindows(partition, aggregations.get(i), f.groups()[i], f.time(), batch);
        }
      }
    }
    return batch;
  }

  private void sortWindows(int partition, Aggregation aggregation, String group, long time, Batch batch) {
    for (long windowStart : Windows.starts(aggregation.window(), time)) {
      WindowKey key = new WindowKey(aggregation.name(), windowStart, group);
      if (batch.known.containsKey(key) || batch.toRead.contains(key)) {
        continue;
      }
      WindowValue cached = cache.get(partition, key);
      if (cached != null) {
        batch.known.put(key, cached);
      } else if (cache.knownEmpty(partition, key)) {
        batch.known.put(key, WindowValue.empty(aggregation));
      } else {
        batch.toRead.add(key);
      }
    }
  }

  /** Plans the batch against the windows' whole values and applies it, with its outbox entry, in one store call. */
  private Future<Void> apply(int partition, long seekCount, Position expected, Batch batch, StateStore.Stored stored,
      Map<Integer, Long> seeks) {
    batch.known.putAll(stored.windows());
    BatchPlan plan = BatchPlan.of(aggregations, expected, batch.facts, stored.seen(), batch.now, maxAheadMillis);
    batch.messages.addAll(refused(plan, batch));
    List<WindowDelta> deltas = plan.deltas();
    List<RelayEntry.Change> changes = new ArrayList<>(deltas.size());
    List<BatchWrite.Window> writes = new ArrayList<>(deltas.size());
    for (WindowDelta delta : deltas) {
      WindowValue before = batch.known.get(delta.key());
      WindowValue after = before == null ? delta.value() : before.plus(delta.value());
      changes.add(new RelayEntry.Change(delta.key(), after));
      writes.add(new BatchWrite.Window(delta.aggregation(), delta.key(), after, delta.distinct()));
    }
    RelayEntry entry = new RelayEntry(partition, batch.nextOffset, changes, batch.messages, oldestAccepted(batch.records), List.of());
    BatchWrite write = new BatchWrite(batch.nextOffset, plan.streamTime(), plan.newIds(), writes, codec.encode(entry),
        relay.relayedUpTo(partition));
    long applyStart = System.nanoTime();
    return store.apply(partition, expected, write).timeout(STORE_TIMEOUT_SECONDS, TimeUnit.SECONDS).map(applied -> {
      metrics.storeLatency().record(System.nanoTime() - applyStart, TimeUnit.NANOSECONDS);
      if (applied instanceof StateStore.Conflict conflict) {
        moved(partition, seekCount, conflict.stored(), seeks);
      } else {
        applied(partition, batch, plan, entry, write, ((StateStore.Ok) applied).distinct());
      }
      return null;
    });
  }

  /**
   * The store stands elsewhere: another owner applied, or an earlier apply of this instance landed
   * though its answer was lost. Either way the outbox may hold entries the relay has not seen.
   */
  private void moved(int partition, long seekCount, Position stored, Map<Integer, Long> seeks) {
    LogFields.forPartition(partition, () -> LOG.warn(
        "partition {} stands at {} in the store, not where this instance continued from; not applying, seeking there",
        partition, stored.nextOffset()));
    positions.put(partition, stored);
    cache.reset(partition, stored.streamTime());
    seekTo(partition, stored, seekCount, seeks);
    relay.resync(partition);
  }

  /** Asks for the partition to be re-read from the stored position; its batches read before that are skipped. */
  private void seekTo(int partition, Position stored, long seekCount, Map<Integer, Long> seeks) {
    seeks.put(partition, stored.isNone() ? 0L : stored.nextOffset());
    freshFrom.merge(partition, seekCount + 1, Math::max);
  }

  private void applied(int partition, Batch batch, BatchPlan plan, RelayEntry entry, BatchWrite write, List<Long> distinct) {
    positions.put(partition, new Position(batch.nextOffset, plan.streamTime()));
    for (RelayEntry.Change c : entry.windows()) {
      cache.put(partition, c.key(), c.value());
    }
    metrics.out(plan.applied());
    metrics.duplicates(plan.duplicates());
    metrics.deadLettered(batch.messages.size() - batch.carried);
    metrics.late(plan.late().size());
    metrics.future(plan.future().size());
    if (write.outboxEntry() != null) {
      relay.submit(entry.withDistinct(distinct));
    }
  }

  /** Dead letters for the events the plan refused: late for some aggregation, or from the future. */
  private List<BusMessage> refused(BatchPlan plan, Batch batch) {
    if (plan.late().isEmpty() && plan.future().isEmpty()) {
      return List.of();
    }
    long now = batch.now;
    List<BusMessage> out = new ArrayList<>();
    for (BatchPlan.Late late : plan.late()) {
      InputRecord record = batch.recordOf.get(late.event());
      out.add(deadLetters.message(record.key(), "late: event time " + late.event().time() + " is past the allowed lateness of "
          + late.aggregations() + " at stream time " + plan.streamTime(), batch.source, record.value(), now));
    }
    for (EventFacts future : plan.future()) {
      InputRecord record = batch.recordOf.get(future);
      out.add(deadLetters.message(record.key(), EventValidator.futureError(timeField, future.time(), now, maxAheadMillis),
          batch.source, record.value(), now));
    }
    return out;
  }

  /**
   * The id, time and measured values of a record, from one scan of its JSON; the time is the record
   * timestamp (when ingest accepted it) for a pipeline without a time field. Null when it is not an event.
   */
  private EventFacts facts(InputRecord record) {
    Map<String, String> values;
    try {
      values = EventScanner.values(record.value(), paths);
    } catch (EventScanner.NotAnObject e) {
      return null;
    }
    String id = values.get(idField);
    Long time = timeField == null ? Long.valueOf(record.timestamp()) : EventValidator.parseTime(values.get(timeField));
    if (id == null || time == null) {
      return null;
    }
    return EventFacts.of(id, time, values, record.position(), aggregations);
  }

  /** When ingest accepted the oldest event of the batch (its record timestamp): the start of the end-to-end latency its updates report. */
  private static long oldestAccepted(List<InputRecord> records) {
    long oldest = Long.MAX_VALUE;
    for (InputRecord record : records) {
      if (record.timestamp() >= 0) {
        oldest = Math.min(oldest, record.timestamp());
      }
    }
    return oldest == Long.MAX_VALUE ? -1 : oldest;
  }



}

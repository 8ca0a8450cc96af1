package io.tributary.common.kafka;

import io.tributary.common.StageControl;
import io.tributary.common.StageMetrics;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one Kafka consumer on its own thread and hands each poll's records, as one batch, to a
 * processor on the verticle's context; the next poll waits until that batch is done, which is the
 * backpressure. Because the rebalance callbacks run inside {@code poll} on this same thread, no batch
 * is ever in flight when partitions are revoked: Kafka's revoke-before-assign order holds.
 * <ul>
 *   <li>Pause keeps polling with every assigned partition paused, so it never triggers a rebalance
 *       (vertx-kafka-client#179).</li>
 *   <li>{@link CommitMode#TRANSACTIONAL}: the processor commits each batch's offsets in the same Kafka
 *       transaction as its outputs ({@link #consumed}); on revoke and on stop every batch in flight
 *       settles first (confluentinc/parallel-consumer#365). {@link CommitMode#EXTERNAL}: the processor
 *       keeps positions in its own store and says where to start on assignment.</li>
 *   <li>A failed batch is retried after a backoff that grows to 10 s, so nothing is skipped: its
 *       partitions are sought back to the offsets committed with the last transaction that landed
 *       (TRANSACTIONAL; the commit of the failed one may have landed after all), or to the batch's
 *       first records (EXTERNAL). The loop's epoch then grows, so outputs of batches polled before the
 *       rewind are refused by the publisher.</li>
 * </ul>
 */
public final class ConsumerLoop {

  private static final Logger LOG = LoggerFactory.getLogger(ConsumerLoop.class);
  private static final long BATCH_TIMEOUT_SECONDS = 30;

  public enum CommitMode { TRANSACTIONAL, EXTERNAL }

  /** Processes one poll's records on the verticle's context. */
  public interface Processor {
    /**
     * Completes when the batch is fully handled; may name partitions to re-read from a position (for
     * example after a fencing conflict). Fails to have the batch retried. {@code consumed} holds the
     * offsets to commit with the batch's outputs (in {@link CommitMode#TRANSACTIONAL}).
     */
    Future<Map<TopicPartition, Long>> process(ConsumerRecords<String, byte[]> records, ConsumedOffsets consumed);
  }

  /** Rebalance hooks, called on the consumer thread (blocking is allowed there). */
  public interface Rebalance {
    /** Where to start each newly assigned partition; partitions left out start at the committed offset. */
    default Map<TopicPartition, Long> assigned(Collection<TopicPartition> partitions) {
      return Map.of();
    }

    default void revoked(Collection<TopicPartition> partitions) {
    }
  }

  private final String name;
  private final Map<String, String> config;
  private final List<String> topics;
  private final Context context;
  private final Processor processor;
  private final Rebalance rebalance;
  private final CommitMode commitMode;
  private final StageControl control;
  private final StageMetrics metrics;
  private final int maxInFlight;
  private final java.util.ArrayDeque<InFlight> inFlight = new java.util.ArrayDeque<>();
  private final Promise<Void> stopped = Promise.promise();
  private volatile boolean stopping;
  private volatile List<String> assignedView = List.of();
  private KafkaConsumer<String, byte[]> consumer;
  private Thread thread;
  private boolean consumerPaused;
  private boolean inRebalance;
  /** The wait before re-reading after a failed batch; doubles per failure in a row. */
  private long backoffMs;
  private Map<TopicPartition, Long> endOffsets = Map.of();
  private long endOffsetsAt;
  private volatile ConsumerGroupMetadata groupMetadata;
  /** Grows at every rewind; outputs carry the epoch they were polled in (see {@link ConsumedOffsets}). */
  private long epoch;

  /** The consumer group's metadata as of the last poll, for transactional offset commits outside a batch; null before the first. */
  public ConsumerGroupMetadata groupMetadata() {
    return groupMetadata;
  }

  /** A batch handed to the processor whose outcome is not settled yet. */
  private record InFlight(ConsumerRecords<String, byte[]> records, CompletableFuture<Map<TopicPartition, Long>> result) {
  }

  /**
   * @param maxInFlight how many batches may be processing at once (1 for {@link CommitMode#EXTERNAL});
   *     batches settle, and offsets commit, strictly in poll order
   */
  public ConsumerLoop(String name, Map<String, String> config, List<String> topics, Context context, Processor processor,
      Rebalance rebalance, CommitMode commitMode, int maxInFlight, StageControl control, StageMetrics metrics) {
    this.name = name;
    this.config = config;
    this.topics = topics;
    this.context = context;
    this.processor = processor;
    this.rebalance = rebalance;
    this.commitMode = commitMode;
    this.maxInFlight = commitMode == CommitMode.EXTERNAL ? 1 : Math.max(1, maxInFlight);
    this.control = control;
    this.metrics = metrics;
  }

  public void start() {
    thread = new Thread(this::run, "consumer-" + name);
    thread.setDaemon(true);
    thread.start();
  }

  /** Stops polling, commits what was processed, leaves the group; completes on the caller's context. */
  public Future<Void> stop() {
    stopping = true;
    KafkaConsumer<String, byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
    if (thread == null) {
      return Future.succeededFuture();
    }
    return stopped.future();
  }

  /** The partitions this instance holds, as {@code topic-partition}. */
  public JsonArray assignedPartitions() {
    return new JsonArray(assignedView);
  }

  private void run() {
    try {
      consumer = new KafkaConsumer<>(new HashMap<>(config));
      consumer.subscribe(topics, new Listener());
      while (!stopping) {
        applyPauseState();
        ConsumerRecords<String, byte[]> records;
        try {
          records = consumer.poll(Duration.ofMillis(200));
          groupMetadata = consumer.groupMetadata();
        } catch (WakeupException wakeup) {
          break;
        } catch (org.apache.kafka.common.KafkaException e) {
          // A rebalance hook failed or the client hit a retriable error: keep the loop, and the group, alive.
          LOG.warn("{}: poll failed ({}); polling again", name, rootMessage(e));
          sleepPolling(1000);
          continue;
        }
        updateLag();
        if (!settle(records) || records.isEmpty()) {
          // A failed batch was rewound, these records with it: they are polled again in order.
          continue;
        }
        if (control.isPaused()) {
          // Paused while this poll was in flight: leave its records for after the resume.
          firstOffsets(List.of(records)).forEach(consumer::seek);
          continue;
        }
        inFlight.add(new InFlight(records, handOver(records)));
        settle(ConsumerRecords.empty());
      }
      drainAll();
    } catch (Exception e) {
      LOG.error("{}: consumer loop ended unexpectedly", name, e);
    } finally {
      closeConsumer();
      context.runOnContext(v -> stopped.tryComplete());
    }
  }

  private CompletableFuture<Map<TopicPartition, Long>> handOver(ConsumerRecords<String, byte[]> records) {
    CompletableFuture<Map<TopicPartition, Long>> result = new CompletableFuture<>();
    ConsumedOffsets consumed = consumed(records);
    context.runOnContext(v -> {
      Future<Map<TopicPartition, Long>> f;
      try {
        f = processor.process(records, consumed);
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      f.onComplete(ar -> {
        if (ar.succeeded()) {
          result.complete(ar.result() == null ? Map.of() : ar.result());
        } else {
          result.completeExceptionally(ar.cause());
        }
      });
    });
    return result;
  }

  /**
   * Settles batches in poll order: the finished ones at the head, and, while {@code maxInFlight} are
   * processing, the oldest (blocking). When one failed, it and every batch after it, including the
   * records just polled and not handed over yet, are rewound; returns false then.
   */
  private boolean settle(ConsumerRecords<String, byte[]> polled) {
    while (!inFlight.isEmpty() && (inFlight.peek().result().isDone() || inFlight.size() >= maxInFlight)) {
      InFlight head = inFlight.poll();
      try {
        Map<TopicPartition, Long> seeks = head.result().get(BATCH_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        seeks.forEach(consumer::seek);
        backoffMs = 0;
      } catch (Exception e) {
        backoffMs = backoffMs == 0 ? 250 : Math.min(backoffMs * 2, 10_000);
        LOG.warn("{}: batch of {} records failed ({}); re-reading it in {} ms", name, head.records().count(),
            rootMessage(e), backoffMs);
        // Later batches did not publish (processors chain each batch on the one before), so read them again too.
        List<ConsumerRecords<String, byte[]>> unsettled = new ArrayList<>();
        unsettled.add(head.records());
        while (!inFlight.isEmpty()) {
          InFlight later = inFlight.poll();
          awaitQuietly(later.result());
          unsettled.add(later.records());
        }
        unsettled.add(polled);
        rewind(unsettled);
        if (!inRebalance) {
          sleepPolling(backoffMs);
        }
        return false;
      }
    }
    return true;
  }

  /** Settles every batch in flight: before a commit on revoke or stop. */
  private void drainAll() {
    while (!inFlight.isEmpty()) {
      settle(ConsumerRecords.empty());
      if (!inFlight.isEmpty()) {
        awaitQuietly(inFlight.peek().result());
      }
    }
  }

  private static void awaitQuietly(CompletableFuture<?> future) {
    try {
      future.get(BATCH_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // its records are read again
    }
  }

  /** The offsets to commit after these records, as of this poll's group generation and the loop's epoch. */
  private ConsumedOffsets consumed(ConsumerRecords<String, byte[]> records) {
    Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
    for (TopicPartition tp : records.partitions()) {
      List<ConsumerRecord<String, byte[]>> list = records.records(tp);
      next.put(tp, new OffsetAndMetadata(list.get(list.size() - 1).offset() + 1));
    }
    return new ConsumedOffsets(next, groupMetadata, epoch);
  }

  /**
   * Seeks each partition of these batches back to where their records must be read again: in
   * TRANSACTIONAL mode the offset committed with the last transaction that landed, else (or when the
   * broker cannot say) the lowest offset the partition has in these batches. The lowest, not the
   * first batch's: a batch re-read after one failure may itself fail behind a newer one.
   */
  private void rewind(List<ConsumerRecords<String, byte[]>> batches) {
    Map<TopicPartition, Long> first = firstOffsets(batches);
    if (commitMode == CommitMode.TRANSACTIONAL && !first.isEmpty()) {
      try {
        // read_committed: the broker answers once no transaction with offsets for these partitions is pending.
        consumer.committed(first.keySet(), Duration.ofSeconds(10)).forEach((tp, committed) -> {
          if (committed != null) {
            first.put(tp, committed.offset());
          }
        });
      } catch (RuntimeException e) {
        LOG.warn("{}: committed offsets unavailable ({}); re-reading from the failed batches' first records", name, e.getMessage());
      }
    }
    first.forEach(consumer::seek);
    epoch++;
  }

  /** The lowest offset each still-assigned partition has in these batches. */
  private Map<TopicPartition, Long> firstOffsets(List<ConsumerRecords<String, byte[]>> batches) {
    Map<TopicPartition, Long> first = new HashMap<>();
    for (ConsumerRecords<String, byte[]> records : batches) {
      for (TopicPartition tp : records.partitions()) {
        first.merge(tp, records.records(tp).get(0).offset(), Math::min);
      }
    }
    first.keySet().retainAll(consumer.assignment());
    return first;
  }

  /** Waits out a backoff without leaving the group: partitions paused, poll still called. */
  private void sleepPolling(long millis) {
    Set<TopicPartition> assignment = consumer.assignment();
    consumer.pause(assignment);
    long until = System.currentTimeMillis() + millis;
    try {
      while (!stopping && System.currentTimeMillis() < until) {
        consumer.poll(Duration.ofMillis(Math.min(200, Math.max(1, until - System.currentTimeMillis()))));
      }
    } catch (WakeupException wakeup) {
      stopping = true;
    }
    if (!control.isPaused()) {
      consumer.resume(consumer.assignment());
    }
    consumerPaused = control.isPaused();
  }

  private void applyPauseState() {
    boolean wanted = control.isPaused();
    if (wanted != consumerPaused) {
      if (wanted) {
        consumer.pause(consumer.assignment());
      } else {
        consumer.resume(consumer.assignment());
      }
      consumerPaused = wanted;
      LOG.info("{}: consumption {}", name, wanted ? "paused (still polling, no rebalance)" : "resumed");
    }
  }

  private void updateLag() {
    long lag = 0;
    List<TopicPartition> unknown = new ArrayList<>();
    Set<TopicPartition> paused = consumer.paused();
    for (TopicPartition tp : consumer.assignment()) {
      OptionalLong partitionLag = paused.contains(tp) ? OptionalLong.empty() : consumer.currentLag(tp);
      if (partitionLag.isPresent()) {
        lag += partitionLag.getAsLong();
      } else {
        unknown.add(tp);
      }
    }
    metrics.lag(lag + lagFromEndOffsets(unknown));
  }

  /**
   * The client knows the lag only of partitions it fetches: it has none yet for new ones, and for
   * paused ones, where a backlog builds up, it keeps the last lag it fetched. For those, ask the
   * broker for the end offsets, at most every two seconds.
   */
  private long lagFromEndOffsets(List<TopicPartition> partitions) {
    if (partitions.isEmpty()) {
      return 0;
    }
    long now = System.currentTimeMillis();
    if (now - endOffsetsAt >= 2000) {
      endOffsetsAt = now;
      try {
        endOffsets = consumer.endOffsets(partitions, Duration.ofSeconds(2));
      } catch (RuntimeException e) {
        LOG.debug("{}: end offsets unavailable: {}", name, e.getMessage());
      }
    }
    long lag = 0;
    for (TopicPartition tp : partitions) {
      Long end = endOffsets.get(tp);
      if (end != null) {
        try {
          lag += Math.max(0, end - consumer.position(tp, Duration.ofSeconds(2)));
        } catch (RuntimeException e) {
          LOG.debug("{}: no position for {} yet: {}", name, tp, e.getMessage());
        }
      }
    }
    return lag;
  }

  private void closeConsumer() {
    if (consumer != null) {
      try {
        consumer.close(Duration.ofSeconds(10));
      } catch (RuntimeException e) {
        LOG.warn("{}: closing consumer: {}", name, e.getMessage());
      }
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }

  private final class Listener implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      // Every batch in flight settles (its transaction commits or fails) before the partitions move.
      inRebalance = true;
      try {
        drainAll();
      } finally {
        inRebalance = false;
      }
      rebalance.revoked(partitions);
      groupMetadata = consumer.groupMetadata();
      refreshView();
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      rebalance.revoked(partitions);
      groupMetadata = consumer.groupMetadata();
      refreshView();
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      groupMetadata = consumer.groupMetadata();
      if (!partitions.isEmpty()) {
        rebalance.assigned(partitions).forEach(consumer::seek);
        if (consumerPaused) {
          consumer.pause(partitions);
        }
        LOG.info("{}: assigned {}", name, partitions);
      }
      refreshView();
    }

    private void refreshView() {
      assignedView = consumer.assignment().stream().map(TopicPartition::toString).sorted().toList();
    }
  }
}

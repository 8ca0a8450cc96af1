package io.tributary.common.kafka;

import io.tributary.common.StageControl;
import io.tributary.common.StageMetrics;
import io.tributary.common.input.InFlightBatches;
import io.tributary.common.input.InputBatch;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputCommit;
import io.tributary.common.input.InputRecord;
import io.tributary.common.input.ShardReader;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka adapter of {@link InputBus}: runs one Kafka consumer on its own thread and hands each
 * poll's records, converted to {@link InputRecord}s (shard = partition), as one batch to a processor
 * on the verticle's context; the next poll waits on the batches in flight ({@link InFlightBatches}),
 * which is the backpressure. Because the rebalance callbacks run inside {@code poll} on this same thread, no batch
 * is ever in flight when partitions are revoked: Kafka's revoke-before-assign order holds.
 * <ul>
 *   <li>Pause keeps polling with every assigned partition paused, so it never triggers a rebalance
 *       (vertx-kafka-client#179).</li>
 *   <li>{@link Commit#WITH_OUTPUTS}: the processor commits each batch's offsets in the same Kafka
 *       transaction as its outputs (the batch's {@link InputBatch#commit()}); on revoke and on stop every batch in flight
 *       settles first (confluentinc/parallel-consumer#365). {@link Commit#BY_STAGE}: the processor
 *       keeps positions in its own store and says where to start on assignment.</li>
 *   <li>A failed batch is retried after a backoff that grows to 10 s, so nothing is skipped: its
 *       partitions are sought back to the offsets committed with the last transaction that landed
 *       (WITH_OUTPUTS; the commit of the failed one may have landed after all), or to the batch's
 *       lowest positions (BY_STAGE). The epoch then grows, so outputs of batches polled before the
 *       rewind are refused by the publisher.</li>
 * </ul>
 * With a {@link ShardReader}, the records come from another bus (the streams of a RabbitMQ super
 * stream): the consumer subscribes to a positions topic with one empty partition per shard, so the
 * group assigns the shards, and its offsets there are the shards' committed positions; the same
 * rules hold.
 */
public final class KafkaInput implements InputBus {

  private static final Logger LOG = LoggerFactory.getLogger(KafkaInput.class);
  /** Shards of the second and later topics of a multi-topic input (ingest's sources) start at multiples of this. */
  private static final int SHARDS_PER_TOPIC = 1 << 16;


  private final String name;
  private final Map<String, String> config;
  private final List<String> topics;
  private final Context context;
  private final Processor processor;
  private final Rebalance rebalance;
  private final Commit commitMode;
  private final StageControl control;
  private final StageMetrics metrics;
  private KafkaClientMeters.Binding consumerMeters = () -> { };
  private final InFlightBatches inFlight;
  /** Per shard, how many times its position was moved (consumer thread only): stamped on each batch. */
  private final Map<Integer, Long> seeks = new HashMap<>();
  private final String source;
  private final Admin admin;
  private final ShardReader reader;
  private final int maxRecords;
  private final Promise<Void> stopped = Promise.promise();
  private volatile boolean stopping;
  private volatile List<String> assignedView = List.of();
  private KafkaConsumer<String, byte[]> consumer;
  private Thread thread;
  private boolean consumerPaused;
  private boolean inRebalance;
  /** In {@link #sleepPolling}: partitions assigned meanwhile are paused too, or that poll would read them and drop the records. */
  private boolean backingOff;
  private Map<TopicPartition, Long> endOffsets = Map.of();
  private long endOffsetsAt;
  private volatile ConsumerGroupMetadata groupMetadata;

  @Override
  public Future<InputCommit> commitOf(Map<Integer, Long> positions) {
    ConsumerGroupMetadata group = groupMetadata;
    if (group == null) {
      return Future.failedFuture("the consumer has not joined its group yet");
    }
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    positions.forEach((shard, position) -> offsets.put(partition(shard), new OffsetAndMetadata(position)));
    return Future.succeededFuture(ConsumedOffsets.unordered(offsets, group));
  }

  /** The group's committed offsets; requireStable: the broker answers once no transaction with offsets for them is pending. */
  @Override
  public Future<Map<Integer, Long>> committed(Collection<Integer> shards) {
    if (admin == null) {
      return Future.failedFuture(new IllegalStateException(name + " reads no committed offsets (no admin client)"));
    }
    String group = config.get("group.id");
    List<TopicPartition> tps = shards.stream().map(this::partition).toList();
    return KafkaFutures.toFuture(context, admin
            .listConsumerGroupOffsets(Map.of(group, new ListConsumerGroupOffsetsSpec().topicPartitions(tps)),
                new ListConsumerGroupOffsetsOptions().requireStable(true))
            .partitionsToOffsetAndMetadata(group))
        .compose(committed -> {
          Map<Integer, Long> out = new HashMap<>();
          for (TopicPartition tp : tps) {
            // Absent: the broker answered with an error for it (UNSTABLE_OFFSET_COMMIT while a transaction
            // commits), which the admin client does not retry. Present but null: no offset committed yet.
            if (!committed.containsKey(tp)) {
              return Future.failedFuture("the committed offset of " + tp + " is not stable yet");
            }
            OffsetAndMetadata offset = committed.get(tp);
            out.put(shard(tp), offset == null ? -1L : offset.offset());
          }
          return Future.succeededFuture(out);
        });
  }

  /**
   * @param admin reads the group's committed offsets for {@link #committed}; null for an input that never asks
   * @param maxInFlight how many batches may be processing at once; batches settle, and offsets
   *     commit, strictly in poll order
   */
  public KafkaInput(String name, Map<String, String> config, List<String> topics, Admin admin, Context context, Processor processor,
      Rebalance rebalance, Commit commitMode, int maxInFlight, StageControl control, StageMetrics metrics) {
    this(name, config, topics, "kafka:" + String.join(",", topics), null, admin, context, processor, rebalance, commitMode, maxInFlight,
        control, metrics);
  }

  /**
   * An input whose records {@code reader} reads, shard {@code i} standing for partition {@code i} of
   * {@code positionsTopic}; {@code source} names the bus for dead letters.
   */
  public static KafkaInput reading(ShardReader reader, String source, String name, Map<String, String> config, String positionsTopic,
      Admin admin, Context context, Processor processor, Rebalance rebalance, Commit commitMode, int maxInFlight, StageControl control,
      StageMetrics metrics) {
    return new KafkaInput(name, config, List.of(positionsTopic), source, reader, admin, context, processor, rebalance, commitMode,
        maxInFlight, control, metrics);
  }

  private KafkaInput(String name, Map<String, String> config, List<String> topics, String source, ShardReader reader, Admin admin,
      Context context, Processor processor, Rebalance rebalance, Commit commitMode, int maxInFlight, StageControl control,
      StageMetrics metrics) {
    this.admin = admin;
    this.name = name;
    this.config = config;
    this.topics = topics;
    this.source = source;
    this.reader = reader;
    this.maxRecords = Integer.parseInt(config.getOrDefault("max.poll.records", "500"));
    this.context = context;
    this.processor = processor;
    this.rebalance = rebalance;
    this.commitMode = commitMode;
    this.inFlight = new InFlightBatches(maxInFlight);
    this.control = control;
    this.metrics = metrics;
  }

  @Override
  public void start() {
    thread = new Thread(this::run, "consumer-" + name);
    thread.setDaemon(true);
    thread.start();
  }

  @Override
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
  @Override
  public JsonArray assignedShards() {
    return new JsonArray(assignedView);
  }

  private void run() {
    try {
      consumer = new KafkaConsumer<>(new HashMap<>(config));
      consumerMeters = metrics.kafkaClients().bind(consumer);
      consumer.subscribe(topics, new Listener());
      while (!stopping) {
        applyPauseState();
        ConsumerRecords<String, byte[]> records;
        try {
          // With a reader the topic is empty: poll only keeps the membership, and the reader waits for records.
          records = consumer.poll(Duration.ofMillis(reader == null ? 200 : 5));
          groupMetadata = consumer.groupMetadata();
        } catch (WakeupException wakeup) {
          break;
        } catch (org.apache.kafka.common.KafkaException e) {
          // A rebalance hook failed or the client hit a retriable error: keep the loop, and the group, alive.
          LOG.warn("{}: poll failed ({}); polling again", name, rootMessage(e));
          sleepPolling(1000);
          continue;
        }
        InputBatch batch;
        if (reader == null) {
          updateLag();
          batch = convert(records);
        } else {
          batch = convertRead();
        }
        if (!settle(batch) || batch.isEmpty()) {
          // A failed batch was rewound, these records with it: they are polled again in order.
          continue;
        }
        if (control.isPaused()) {
          // Paused while this poll was in flight: leave its records for after the resume.
          seek(batch.firstPositions());
          continue;
        }
        inFlight.add(batch, handOver(batch));
        settle(InputBatch.of(source, List.of(), null));
      }
      drainAll();
    } catch (Exception e) {
      LOG.error("{}: consumer loop ended unexpectedly", name, e);
    } finally {
      closeConsumer();
      context.runOnContext(v -> stopped.tryComplete());
    }
  }

  /** The poll's records as neutral records, with the offsets a transactional publisher commits after them. */
  private InputBatch convert(ConsumerRecords<String, byte[]> records) {
    if (records.isEmpty()) {
      return InputBatch.of(source, List.of(), null);
    }
    Map<Integer, List<InputRecord>> byShard = new LinkedHashMap<>();
    for (TopicPartition tp : records.partitions()) {
      List<ConsumerRecord<String, byte[]>> list = records.records(tp);
      int shard = shard(tp);
      List<InputRecord> converted = new ArrayList<>(list.size());
      for (ConsumerRecord<String, byte[]> r : list) {
        converted.add(new InputRecord(r.key(), r.value(), headers(r), r.timestamp(), shard, r.offset()));
      }
      byShard.put(shard, converted);
    }
    return batchOf(byShard);
  }

  /** What the reader has read, unless paused: a paused input takes nothing, so the reader's credit runs out. */
  private InputBatch convertRead() {
    if (consumerPaused || control.isPaused()) {
      sleepQuietly(50);
      return InputBatch.of(source, List.of(), null);
    }
    List<InputRecord> read;
    try {
      read = reader.take(maxRecords, 200);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stopping = true;
      return InputBatch.of(source, List.of(), null);
    }
    if (read.isEmpty()) {
      return InputBatch.of(source, List.of(), null);
    }
    Map<Integer, List<InputRecord>> byShard = new LinkedHashMap<>();
    for (InputRecord r : read) {
      byShard.computeIfAbsent(r.shard(), s -> new ArrayList<>()).add(r);
    }
    return batchOf(byShard);
  }

  private InputBatch batchOf(Map<Integer, List<InputRecord>> byShard) {
    Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
    byShard.forEach((shard, list) -> next.put(partition(shard), new OffsetAndMetadata(list.get(list.size() - 1).position() + 1)));
    Map<Integer, Long> seekCounts = new HashMap<>();
    byShard.keySet().forEach(shard -> seekCounts.put(shard, seeks.getOrDefault(shard, 0L)));
    return new InputBatch(source, byShard, new ConsumedOffsets(next, groupMetadata, inFlight.epoch()), seekCounts);
  }

  /** The record's {@code tributary-*} headers (ingest's records carry none). */
  private static Map<String, String> headers(ConsumerRecord<String, byte[]> record) {
    Header[] all = record.headers().toArray();
    if (all.length == 0) {
      return Map.of();
    }
    Map<String, String> headers = new HashMap<>(4);
    for (Header header : all) {
      if (header.key().startsWith("tributary-") && header.value() != null) {
        headers.put(header.key(), new String(header.value(), java.nio.charset.StandardCharsets.UTF_8));
      }
    }
    return headers;
  }

  private int shard(TopicPartition tp) {
    int topic = topics.size() == 1 ? 0 : topics.indexOf(tp.topic());
    return topic * SHARDS_PER_TOPIC + tp.partition();
  }

  private TopicPartition partition(int shard) {
    return new TopicPartition(topics.get(shard / SHARDS_PER_TOPIC), shard % SHARDS_PER_TOPIC);
  }

  private void seek(Map<Integer, Long> positions) {
    Set<TopicPartition> assignment = consumer.assignment();
    positions.forEach((shard, position) -> {
      TopicPartition tp = partition(shard);
      if (assignment.contains(tp)) {
        moveTo(shard, position);
      }
    });
  }

  private void moveTo(int shard, long position) {
    if (reader == null) {
      consumer.seek(partition(shard), position);
    } else {
      reader.open(shard, position);
    }
    seeks.merge(shard, 1L, Long::sum);
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private CompletableFuture<Map<Integer, Long>> handOver(InputBatch batch) {
    CompletableFuture<Map<Integer, Long>> result = new CompletableFuture<>();
    context.runOnContext(v -> {
      Future<Map<Integer, Long>> f;
      try {
        f = processor.process(batch);
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

  /** Settles batches by {@link InFlightBatches}' rules; false when a failure rewound them, the records just polled with them. */
  private boolean settle(InputBatch polled) {
    InFlightBatches.Settled settled = inFlight.settle(polled);
    return apply(settled);
  }

  /** Settles every batch in flight: before a commit on revoke or stop. */
  private void drainAll() {
    apply(inFlight.drain());
  }

  private boolean apply(InFlightBatches.Settled settled) {
    if (!settled.rewound()) {
      seek(settled.seeks());
      return true;
    }
    LOG.warn("{}: batch of {} records failed ({}); re-reading it in {} ms", name, settled.failedRecords(),
        rootMessage(settled.failure()), inFlight.backoffMs());
    rewind(settled.rewind());
    if (!inRebalance) {
      sleepPolling(inFlight.backoffMs());
    }
    return false;
  }

  /**
   * Seeks each partition back to where its records must be read again: with WITH_OUTPUTS the
   * offset committed with the last transaction that landed (the commit of the failed one may have
   * landed after all), else (or when the broker cannot say) the lowest position of the rewound batches.
   */
  private void rewind(Map<Integer, Long> lowest) {
    Map<Integer, Long> positions = new HashMap<>(lowest);
    positions.keySet().removeIf(shard -> !consumer.assignment().contains(partition(shard)));
    if (commitMode == Commit.WITH_OUTPUTS && !positions.isEmpty()) {
      try {
        Set<TopicPartition> tps = new java.util.HashSet<>();
        positions.keySet().forEach(shard -> tps.add(partition(shard)));
        // read_committed: the broker answers once no transaction with offsets for these partitions is pending.
        consumer.committed(tps, Duration.ofSeconds(10)).forEach((tp, committed) -> {
          if (committed != null) {
            positions.put(shard(tp), committed.offset());
          }
        });
      } catch (RuntimeException e) {
        LOG.warn("{}: committed offsets unavailable ({}); re-reading from the failed batches' first records", name, e.getMessage());
      }
    }
    seek(positions);
  }

  /**
   * Waits out a backoff without leaving the group: partitions paused, poll still called. A partition
   * assigned by a rebalance during the wait is paused as it comes ({@link Listener}), and should a
   * poll return records all the same, their partitions are sought back to the first of them: a poll
   * here hands nothing over, so whatever it returned must be read again.
   */
  private void sleepPolling(long millis) {
    backingOff = true;
    consumer.pause(consumer.assignment());
    long until = System.currentTimeMillis() + millis;
    try {
      while (!stopping && System.currentTimeMillis() < until) {
        long wait = Math.min(200, Math.max(1, until - System.currentTimeMillis()));
        ConsumerRecords<String, byte[]> unread = consumer.poll(Duration.ofMillis(wait));
        for (TopicPartition tp : unread.partitions()) {
          consumer.seek(tp, unread.records(tp).get(0).offset());
          consumer.pause(List.of(tp));
        }
      }
    } catch (WakeupException wakeup) {
      stopping = true;
    } finally {
      backingOff = false;
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
    if (reader != null) {
      reader.closeAll();
    }
    if (consumer != null) {
      try {
        consumer.close(Duration.ofSeconds(10));
      } catch (RuntimeException e) {
        LOG.warn("{}: closing consumer: {}", name, e.getMessage());
      }
      consumerMeters.close();
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
      closeRead(partitions);
      rebalance.revoked(shards(partitions));
      groupMetadata = consumer.groupMetadata();
      refreshView();
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      closeRead(partitions);
      rebalance.revoked(shards(partitions));
      groupMetadata = consumer.groupMetadata();
      refreshView();
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      groupMetadata = consumer.groupMetadata();
      if (!partitions.isEmpty()) {
        Map<Integer, Long> start = new HashMap<>(rebalance.assigned(shards(partitions)));
        if (reader != null) {
          // The reader starts each shard the stage did not place at the group's committed position, or at the first record.
          Map<TopicPartition, OffsetAndMetadata> committed = committedOf(partitions);
          for (TopicPartition tp : partitions) {
            OffsetAndMetadata offset = committed.get(tp);
            start.putIfAbsent(shard(tp), offset == null ? 0L : offset.offset());
          }
        }
        start.forEach(KafkaInput.this::moveTo);
        if (consumerPaused || backingOff) {
          consumer.pause(partitions);
        }
        LOG.info("{}: assigned {}", name, partitions);
      }
      refreshView();
    }

    private List<Integer> shards(Collection<TopicPartition> partitions) {
      return partitions.stream().map(KafkaInput.this::shard).toList();
    }

    /** The group's committed offsets, once no transaction committing them is pending; retried until it answers. */
    private Map<TopicPartition, OffsetAndMetadata> committedOf(Collection<TopicPartition> partitions) {
      while (true) {
        try {
          return consumer.committed(Set.copyOf(partitions), Duration.ofSeconds(10));
        } catch (WakeupException e) {
          throw e;
        } catch (RuntimeException e) {
          if (stopping) {
            throw e;
          }
          LOG.warn("{}: committed positions of {} unavailable ({}); asking again", name, partitions, e.getMessage());
        }
      }
    }

    private void closeRead(Collection<TopicPartition> partitions) {
      if (reader != null) {
        reader.close(shards(partitions));
      }
    }

    private void refreshView() {
      assignedView = consumer.assignment().stream()
          .map(tp -> reader == null ? tp.toString() : reader.name(shard(tp))).sorted().toList();
    }
  }
}

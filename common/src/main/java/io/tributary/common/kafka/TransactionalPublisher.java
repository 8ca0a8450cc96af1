package io.tributary.common.kafka;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.tributary.common.input.InputCommit;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes every batch inside a Kafka transaction, with the input offsets it was made from when it
 * has them, so that a consumer reading {@code read_committed} sees each output exactly once across
 * crashes, retries and rebalances (Kafka Streams' exactly_once_v2, KIP-447). One producer per
 * instance; its transactional id is stable across restarts of the instance, so a replacement aborts
 * what a killed one left open at once instead of after the transaction timeout.
 *
 * <p>Batches queue while a transaction commits and the next transaction takes all of them (group
 * commit): one commit per round trip at any load. Everything runs on one sender thread, never on an
 * event loop; each batch's future completes on its caller's context. A failed transaction fails
 * every batch in it; a batch of a consumer loop whose earlier batch failed is refused until the loop
 * has rewound (see {@link ConsumedOffsets#epoch()}). After an unknown outcome (a commit that timed
 * out) the producer is replaced; the caller re-reads its committed offsets to learn what landed.
 */
public final class TransactionalPublisher implements BusPublisher {

  private static final Logger LOG = LoggerFactory.getLogger(TransactionalPublisher.class);
  private static final int MAX_RECORDS_PER_TRANSACTION = 50_000;

  private final Map<String, String> config;
  private final String name;
  private final BlockingQueue<Unit> queue = new LinkedBlockingQueue<>();
  private final Map<String, Long> failedEpochs = new ConcurrentHashMap<>();
  private final Thread sender;
  private final Promise<Void> stopped = Promise.promise();
  private volatile boolean closing;
  private final AtomicLong committed = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong records = new AtomicLong();
  private KafkaProducer<String, byte[]> producer;
  /** Whether the producer has its transactional id (read by the readiness check on the event loop). */
  private volatile boolean producerReady;
  private volatile KafkaClientMeters meters = KafkaClientMeters.NONE;
  private KafkaClientMeters.Binding producerMeters = () -> { };
  private long failedInitAt;

  /** One caller's batch: its messages, the offsets to commit with them (or null), and where to complete it. */
  private record Unit(List<BusMessage> messages, ConsumedOffsets consumed, Promise<Void> promise, Context context) {
    void complete(Throwable error) {
      Runnable done = () -> {
        if (error == null) {
          promise.tryComplete();
        } else {
          promise.tryFail(error);
        }
      };
      if (context == null) {
        done.run();
      } else {
        context.runOnContext(v -> done.run());
      }
    }
  }

  /** Thrown for a batch refused because an earlier batch of the same input failed. */
  public static final class EarlierBatchFailed extends KafkaException {
    EarlierBatchFailed(String group) {
      super("an earlier batch of " + group + " failed; refusing the batches polled after it until the consumer rewinds");
    }
  }

  /** @param producerConfig producer settings including {@code transactional.id} */
  public TransactionalPublisher(Map<String, String> producerConfig, String name) {
    this.config = new HashMap<>(producerConfig);
    this.name = name;
    this.sender = new Thread(this::run, "kafka-transactions-" + name);
    sender.setDaemon(true);
    sender.start();
  }

  /** Meters each producer this publisher makes, from the next one on. */
  public void meterClientsWith(KafkaClientMeters clientMeters) {
    this.meters = clientMeters;
  }

  @Override
  public Future<Void> publish(List<BusMessage> messages) {
    return publish(messages, null);
  }

  @Override
  public Future<Void> publish(List<BusMessage> messages, InputCommit commit) {
    if (messages.isEmpty() && commit == null) {
      return Future.succeededFuture();
    }
    if (commit != null && !(commit instanceof ConsumedOffsets)) {
      return Future.failedFuture(new IllegalArgumentException("a Kafka transaction cannot commit " + commit.getClass().getSimpleName()));
    }
    ConsumedOffsets consumed = (ConsumedOffsets) commit;
    if (closing) {
      return Future.failedFuture(new IllegalStateException("publisher closed"));
    }
    Promise<Void> promise = Promise.promise();
    queue.add(new Unit(messages, consumed, promise, Vertx.currentContext()));
    return promise.future();
  }

  private void run() {
    try {
      while (!closing || !queue.isEmpty()) {
        Unit first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          startWhileIdle();
          continue;
        }
        List<Unit> units = new ArrayList<>();
        int records = 0;
        for (Unit u = first; u != null; u = records < MAX_RECORDS_PER_TRANSACTION ? queue.poll() : null) {
          if (refused(u)) {
            continue;
          }
          units.add(u);
          records += u.messages().size();
        }
        if (!units.isEmpty()) {
          transact(units);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      Unit left;
      while ((left = queue.poll()) != null) {
        left.complete(new IllegalStateException("publisher closed"));
      }
      closeProducer(Duration.ofSeconds(10));
      stopped.tryComplete();
    }
  }

  /**
   * Starts the producer before the first batch needs it: initTransactions() takes seconds on a broker
   * that makes its transaction log first, and fences the previous owner of the transactional id
   * (aborting what it left open) at once rather than at this instance's first batch. A failure is
   * retried at the next idle moment, a second later at the earliest; a batch that comes meanwhile
   * tries again itself.
   */
  private void startWhileIdle() {
    if (producer != null || closing || System.currentTimeMillis() - failedInitAt < 1000) {
      return;
    }
    try {
      ensureProducer();
    } catch (KafkaException e) {
      LOG.debug("{}: the transactional producer cannot start yet: {}", name, e.getMessage());
    }
  }

  /** Whether the producer runs with its transactional id, so a batch is written without first waiting for it. */
  public boolean ready() {
    return producerReady;
  }

  private boolean refused(Unit unit) {
    if (unit.consumed() == null || !unit.consumed().ordered()) {
      return false;
    }
    Long failed = failedEpochs.get(unit.consumed().group().groupId());
    if (failed != null && unit.consumed().epoch() <= failed) {
      unit.complete(new EarlierBatchFailed(unit.consumed().group().groupId()));
      return true;
    }
    return false;
  }

  private void transact(List<Unit> units) {
    try {
      ensureProducer();
    } catch (KafkaException e) {
      LOG.warn("{}: cannot start a transactional producer ({}); failing {} batches", name, e.getMessage(), units.size());
      fail(units, e);
      return;
    }
    try {
      producer.beginTransaction();
      AtomicReference<Exception> sendError = new AtomicReference<>();
      Callback failed = (metadata, error) -> {
        if (error != null) {
          sendError.compareAndSet(null, error);
        }
      };
      for (Unit unit : units) {
        for (BusMessage message : unit.messages()) {
          producer.send(record(message), failed);
          // A send that cannot reach Kafka fails at once, after max.block.ms: the rest would each wait as long.
          if (sendError.get() != null) {
            throw sendError.get() instanceof KafkaException k ? k : new KafkaException(sendError.get());
          }
        }
      }
      for (Map.Entry<ConsumerGroupMetadata, Map<TopicPartition, OffsetAndMetadata>> group : offsetsByGroup(units).entrySet()) {
        producer.sendOffsetsToTransaction(group.getValue(), group.getKey());
      }
      producer.commitTransaction();
      committed.incrementAndGet();
      units.forEach(u -> {
        records.addAndGet(u.messages().size());
        u.complete(null);
      });
    } catch (ProducerFencedException | InvalidProducerEpochException | OutOfOrderSequenceException | AuthorizationException
             | UnsupportedVersionException | TimeoutException e) {
      // The producer cannot go on (fenced, or the outcome of the commit is unknown): replace it.
      LOG.warn("{}: transaction of {} batches failed ({}: {}); replacing the producer", name, units.size(),
          e.getClass().getSimpleName(), e.getMessage());
      closeProducer(Duration.ZERO);
      fail(units, e);
    } catch (KafkaException | IllegalStateException e) {
      LOG.warn("{}: transaction of {} batches aborted ({}: {})", name, units.size(), e.getClass().getSimpleName(), e.getMessage());
      try {
        producer.abortTransaction();
      } catch (RuntimeException abortFailed) {
        closeProducer(Duration.ZERO);
      }
      fail(units, e);
    }
  }

  /** The offsets of all units, per consumer group: the highest per partition, with the newest group metadata. */
  private static Map<ConsumerGroupMetadata, Map<TopicPartition, OffsetAndMetadata>> offsetsByGroup(List<Unit> units) {
    Map<String, ConsumerGroupMetadata> newest = new LinkedHashMap<>();
    Map<String, Map<TopicPartition, OffsetAndMetadata>> offsets = new LinkedHashMap<>();
    for (Unit unit : units) {
      ConsumedOffsets consumed = unit.consumed();
      if (consumed == null) {
        continue;
      }
      String group = consumed.group().groupId();
      newest.put(group, consumed.group());
      Map<TopicPartition, OffsetAndMetadata> forGroup = offsets.computeIfAbsent(group, g -> new HashMap<>());
      consumed.offsets().forEach((tp, offset) -> forGroup.merge(tp, offset, (a, b) -> a.offset() >= b.offset() ? a : b));
    }
    Map<ConsumerGroupMetadata, Map<TopicPartition, OffsetAndMetadata>> out = new LinkedHashMap<>();
    offsets.forEach((group, forGroup) -> out.put(newest.get(group), forGroup));
    return out;
  }

  /** Transactions committed so far. */
  public long committedTransactions() {
    return committed.get();
  }

  /** Transactions aborted or failed so far. */
  public long failedTransactions() {
    return failed.get();
  }

  /** Records published in committed transactions so far. */
  public long publishedRecords() {
    return records.get();
  }

  private void fail(List<Unit> units, Exception cause) {
    failed.incrementAndGet();
    for (Unit unit : units) {
      if (unit.consumed() != null && unit.consumed().ordered()) {
        failedEpochs.merge(unit.consumed().group().groupId(), unit.consumed().epoch(), Math::max);
      }
      unit.complete(cause);
    }
  }

  private void ensureProducer() {
    if (producer != null) {
      return;
    }
    // While Kafka is away every attempt blocks for max.block.ms; do not retry faster than once a second.
    long sinceFailure = System.currentTimeMillis() - failedInitAt;
    if (sinceFailure < 1000) {
      throw new KafkaException("the transactional producer failed to start " + sinceFailure + " ms ago");
    }
    KafkaProducer<String, byte[]> created = new KafkaProducer<>(new HashMap<>(config));
    try {
      created.initTransactions();
    } catch (RuntimeException e) {
      failedInitAt = System.currentTimeMillis();
      created.close(Duration.ZERO);
      throw e instanceof KafkaException k ? k : new KafkaException(e);
    }
    producer = created;
    producerReady = true;
    producerMeters = meters.bind(created);
    LOG.info("{}: transactional producer {} ready", name, config.get("transactional.id"));
  }

  private void closeProducer(Duration timeout) {
    if (producer != null) {
      try {
        producer.close(timeout);
      } catch (RuntimeException e) {
        LOG.debug("{}: closing the producer: {}", name, e.getMessage());
      }
      producer = null;
      producerReady = false;
      producerMeters.close();
    }
  }

  private static ProducerRecord<String, byte[]> record(BusMessage message) {
    List<Header> headers = null;
    if (!message.headers().isEmpty()) {
      headers = new ArrayList<>(message.headers().size());
      for (Map.Entry<String, String> h : message.headers().entrySet()) {
        headers.add(new RecordHeader(h.getKey(), h.getValue().getBytes(StandardCharsets.UTF_8)));
      }
    }
    return new ProducerRecord<>(message.bus().target(), null, message.timestamp() < 0 ? null : message.timestamp(),
        message.key(), message.value(), headers);
  }

  /** Commits what is queued, then closes the producer; completes on the caller's context. */
  @Override
  public Future<Void> close() {
    closing = true;
    Context context = Vertx.currentContext();
    Promise<Void> done = Promise.promise();
    stopped.future().onComplete(ar -> {
      if (context == null) {
        done.complete();
      } else {
        context.runOnContext(v -> done.complete());
      }
    });
    return done.future();
  }
}

package io.tributary.common.kafka;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/**
 * Publishes batches through one idempotent producer ({@code acks=all}). {@code KafkaProducer.send}
 * can block (waiting for metadata, or for buffer space when Kafka is slow), so a batch is handed to a
 * dedicated sender thread as one task, never sent from the event loop; the batch's future completes
 * on the caller's context once, when the last acknowledgement arrives. The producer's bounded buffer
 * and the callers' own in-flight limits keep memory bounded.
 */
public final class KafkaPublisher implements BusPublisher {

  private final KafkaProducer<String, byte[]> producer;
  private final ExecutorService sender;

  public KafkaPublisher(Map<String, String> producerConfig, String name) {
    this.producer = new KafkaProducer<>(new java.util.HashMap<>(producerConfig));
    this.sender = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "kafka-sender-" + name);
      t.setDaemon(true);
      return t;
    });
  }

  @Override
  public Future<Void> publish(List<BusMessage> messages) {
    Context context = io.vertx.core.Vertx.currentContext();
    if (messages.isEmpty()) {
      return Future.succeededFuture();
    }
    Promise<Void> promise = Promise.promise();
    AtomicInteger remaining = new AtomicInteger(messages.size());
    AtomicReference<Throwable> firstError = new AtomicReference<>();
    Runnable done = () -> {
      Throwable error = firstError.get();
      Runnable complete = () -> {
        if (error == null) {
          promise.complete();
        } else {
          promise.fail(error);
        }
      };
      if (context != null) {
        context.runOnContext(v -> complete.run());
      } else {
        complete.run();
      }
    };
    try {
      sender.execute(() -> {
        for (int i = 0; i < messages.size(); i++) {
          if (firstError.get() != null) {
            // send() already failed for this batch (no metadata: Kafka is away). Each further call
            // would block for max.block.ms, so fail the rest of the batch at once.
            if (remaining.addAndGet(-(messages.size() - i)) == 0) {
              done.run();
            }
            return;
          }
          try {
            producer.send(record(messages.get(i)), (metadata, error) -> {
              if (error != null) {
                firstError.compareAndSet(null, error);
              }
              if (remaining.decrementAndGet() == 0) {
                done.run();
              }
            });
          } catch (RuntimeException e) {
            firstError.compareAndSet(null, e);
            if (remaining.decrementAndGet() == 0) {
              done.run();
            }
          }
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException closed) {
      return Future.failedFuture(new IllegalStateException("publisher closed"));
    }
    return promise.future();
  }

  private static ProducerRecord<String, byte[]> record(BusMessage message) {
    List<Header> headers = new ArrayList<>(message.headers().size());
    message.headers().forEach((k, v) -> headers.add(new RecordHeader(k, v.getBytes(StandardCharsets.UTF_8))));
    return new ProducerRecord<>(message.bus().target(), null, message.key(), message.value(), headers);
  }

  /** Sends what is buffered, waits up to 10 s for it, then closes. */
  @Override
  public Future<Void> close() {
    Promise<Void> promise = Promise.promise();
    Thread closer = new Thread(() -> {
      try {
        sender.shutdown();
        sender.awaitTermination(10, TimeUnit.SECONDS);
        producer.close(java.time.Duration.ofSeconds(10));
        promise.complete();
      } catch (Exception e) {
        promise.fail(e);
      }
    }, "kafka-publisher-close");
    closer.start();
    return promise.future();
  }
}

package io.tributary.common.rabbitmq;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.event.EventHeaders;
import io.tributary.common.input.InputRecord;
import io.tributary.common.input.ShardReader;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.QueueOptions;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.rabbitmq.RabbitMQConsumer;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the streams of a {@link SuperStream} over AMQP 0-9-1: one connection and consumer per shard,
 * started at an offset ({@code x-stream-offset}), each message's offset its position. A shard's
 * consumer has at most {@code rabbitmq.prefetch} messages unacknowledged, and a message is acknowledged
 * when the input takes it, so what waits here is bounded by the prefetch per shard: the broker stops
 * delivering to an input that stops taking. Acknowledging a stream message only returns credit; the
 * committed position is kept by the input. A lost connection is opened again after the last message
 * received, not recovered by the client, which would start again at the first offset asked for.
 */
public final class StreamShardReader implements ShardReader {

  private static final Logger LOG = LoggerFactory.getLogger(StreamShardReader.class);
  private static final long WATCH_MS = 1000;
  private static final int QUEUE_PER_PREFETCH = 16;

  private final Vertx vertx;
  private final Context context;
  private final ServiceConfig config;
  private final SuperStream stream;
  private final int prefetch;
  private final Map<Integer, Shard> shards = new ConcurrentHashMap<>();
  /** Bounded by the credit: every shard has at most {@code prefetch} messages here. */
  private final LinkedBlockingQueue<Delivery> delivered = new LinkedBlockingQueue<>();

  private record Delivery(Shard shard, RabbitMQClient client, long tag, InputRecord record) {
  }

  public StreamShardReader(Vertx vertx, Context context, ServiceConfig config, SuperStream stream) {
    this.vertx = vertx;
    this.context = context;
    this.config = config;
    this.stream = stream;
    this.prefetch = config.getInt("rabbitmq.prefetch");
  }

  @Override
  public void open(int shard, long position) {
    Shard opened = new Shard(shard, position);
    Shard old = shards.put(shard, opened);
    if (old != null) {
      old.close();
    }
    context.runOnContext(v -> opened.connect(500));
  }

  @Override
  public void close(Collection<Integer> numbers) {
    for (int number : numbers) {
      Shard shard = shards.remove(number);
      if (shard != null) {
        shard.close();
      }
    }
  }

  @Override
  public void closeAll() {
    close(List.copyOf(shards.keySet()));
  }

  @Override
  public String name(int shard) {
    return stream.stream(shard);
  }

  @Override
  public List<InputRecord> take(int max, long waitMs) throws InterruptedException {
    Delivery first = delivered.poll(waitMs, TimeUnit.MILLISECONDS);
    if (first == null) {
      return List.of();
    }
    List<Delivery> taken = new ArrayList<>(Math.min(max, 1024));
    taken.add(first);
    delivered.drainTo(taken, max - 1);
    List<InputRecord> records = new ArrayList<>(taken.size());
    Map<RabbitMQClient, Long> lastTags = new LinkedHashMap<>();
    for (Delivery d : taken) {
      if (shards.get(d.shard().number) == d.shard()) {
        records.add(d.record());
        lastTags.put(d.client(), d.tag());
      }
    }
    // One multiple-ack per connection, returning the credit of everything taken from it; sent from the
    // reader's context like the consumers' own acks, so a channel sees them in order.
    context.runOnContext(v -> lastTags.forEach(StreamShardReader::ack));
    return records;
  }

  /** One shard's consumer; its fields other than {@code closed} are used on the reader's context only. */
  private final class Shard {
    final int number;
    /** The position after the last message received: where a new connection starts. */
    long next;
    /** Whether the current connection delivered a message at {@code next} yet: after that, offsets must follow on. */
    boolean following;
    volatile boolean closed;
    RabbitMQClient client;
    RabbitMQConsumer consumer;
    long watch = -1;

    Shard(int number, long from) {
      this.number = number;
      this.next = from;
    }

    void connect(long backoffMs) {
      if (closed) {
        return;
      }
      RabbitMQClient created = RabbitMqClients.createUnrecovered(vertx, config);
      client = created;
      created.start()
          .compose(v -> stream.declare(created))
          .compose(v -> created.basicQos(prefetch))
          .compose(v -> {
            // A stream delivers whole chunks, so a consumer can get more than its prefetch at once; the
            // client drops what does not fit its queue, which the offset check in received() catches.
            QueueOptions options = new QueueOptions().setAutoAck(false).setMaxInternalQueueSize(prefetch * QUEUE_PER_PREFETCH);
            options.setConsumerArguments(Map.of(SuperStream.OFFSET_HEADER, next));
            return created.basicConsumer(stream.stream(number), options);
          })
          .onSuccess(c -> {
            if (closed) {
              stop(created, c);
              return;
            }
            consumer = c;
            following = false;
            c.handler(m -> received(created, m));
            watch = vertx.setPeriodic(WATCH_MS, t -> {
              if (!closed && (!created.isConnected() || !created.isOpenChannel() || c.isCancelled())) {
                LOG.warn("{}: connection lost; reading again from offset {}", stream.stream(number), next);
                reconnect(created, c);
              }
            });
            LOG.info("reading {} from offset {}", stream.stream(number), next);
          })
          .onFailure(e -> {
            LOG.warn("{}: cannot read yet ({}); retrying in {} ms", stream.stream(number), e.getMessage(), backoffMs);
            stop(created, null);
            vertx.setTimer(backoffMs, t -> connect(Math.min(backoffMs * 2, 10_000)));
          });
    }

    private void reconnect(RabbitMQClient old, RabbitMQConsumer c) {
      vertx.cancelTimer(watch);
      consumer = null;
      connect(500);
      stop(old, c);
    }

    private void received(RabbitMQClient from, RabbitMQMessage message) {
      long offset = offset(message);
      if (closed || from != client || offset < next) {
        // A stream delivers from the start of the chunk holding the offset asked for: skip what comes before it.
        ack(from, message.envelope().getDeliveryTag());
        return;
      }
      if (following && offset > next) {
        // Offsets of a stream follow on: a gap is a message the client dropped. Read again from it.
        LOG.warn("{}: offset {} delivered after {}; reading again from {}", stream.stream(number), offset, next - 1, next);
        reconnect(from, consumer);
        return;
      }
      if (!following && offset > next && next > 0) {
        LOG.warn("{}: offsets {} to {} are gone from the stream (past its retention); reading on from {}", stream.stream(number), next,
            offset - 1, offset);
      }
      following = true;
      next = offset + 1;
      delivered.add(new Delivery(this, from, message.envelope().getDeliveryTag(), record(message, offset)));
    }

    private InputRecord record(RabbitMQMessage message, long offset) {
      Map<String, Object> amqp = message.properties().getHeaders();
      String key = null;
      long accepted = -1;
      Map<String, String> headers = Map.of();
      if (amqp != null) {
        headers = new HashMap<>(4);
        for (Map.Entry<String, Object> h : amqp.entrySet()) {
          if (h.getValue() == null || !h.getKey().startsWith("tributary-")) {
            continue;
          }
          String value = h.getValue().toString();
          switch (h.getKey()) {
            case EventHeaders.KEY -> key = value;
            case EventHeaders.ACCEPTED -> accepted = parseLong(value);
            default -> headers.put(h.getKey(), value);
          }
        }
      }
      return new InputRecord(key, message.body().getBytes(), headers, accepted, number, offset);
    }

    void close() {
      closed = true;
      context.runOnContext(v -> {
        vertx.cancelTimer(watch);
        stop(client, consumer);
      });
    }

    private void stop(RabbitMQClient c, RabbitMQConsumer consumer) {
      if (c == null) {
        return;
      }
      Future<Void> cancelled;
      try {
        cancelled = consumer == null || consumer.isCancelled() || !c.isOpenChannel() ? Future.succeededFuture() : consumer.cancel();
      } catch (RuntimeException e) {
        // the channel closed under it
        cancelled = Future.succeededFuture();
      }
      cancelled.recover(e -> Future.succeededFuture()).compose(v -> c.stop()).onFailure(e -> LOG.debug("closing: {}", e.getMessage()));
    }
  }

  /** Acknowledges every message up to {@code tag} of the client's channel; on a closed channel there is nothing to return. */
  private static void ack(RabbitMQClient client, long tag) {
    try {
      client.basicAck(tag, true).onFailure(e -> LOG.debug("ack on a closed channel: {}", e.getMessage()));
    } catch (RuntimeException e) {
      LOG.debug("ack on a closed channel: {}", e.getMessage());
    }
  }

  private static long offset(RabbitMQMessage message) {
    Map<String, Object> headers = message.properties().getHeaders();
    Object offset = headers == null ? null : headers.get(SuperStream.OFFSET_HEADER);
    if (offset instanceof Number n) {
      return n.longValue();
    }
    throw new IllegalStateException("a message without " + SuperStream.OFFSET_HEADER + ": the queue is not a stream");
  }

  private static long parseLong(String text) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}

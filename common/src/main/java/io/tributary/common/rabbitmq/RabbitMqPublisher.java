package io.tributary.common.rabbitmq;

import com.rabbitmq.client.AMQP;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.tributary.common.event.EventHeaders;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.rabbitmq.RabbitMQClient;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Publishes persistent messages to RabbitMQ with publisher confirms: a batch succeeds only once the
 * broker confirmed every message. A batch is sent whole and then waits once for the channel's
 * confirms; the client's {@code RabbitMQPublisher} sends one message per round trip to its worker
 * (about 1,000 messages/s here, docs/BENCHMARKS.md round 6). A bus between stages is a {@link SuperStream}: the routing key is the
 * partition, the entity key and acceptance time travel in headers. Any other bus is a durable topic
 * exchange whose routing key is the entity key. Exchanges and streams are declared when first used.
 */
public final class RabbitMqPublisher implements BusPublisher {

  private static final long CONFIRM_TIMEOUT_MS = 10_000;

  private final Context context;
  private final RabbitMQClient client;
  private final Map<String, SuperStream> streams;
  private final Set<String> declared = new HashSet<>();
  /** Completes once the last batch's messages were handed to the client (or it failed before): the next batch goes after. */
  private Future<Void> lastQueued = Future.succeededFuture();

  /** @param streams the super streams among the buses, by exchange name */
  /** @param context where every batch is sent from: the client orders channel calls per calling context */
  public RabbitMqPublisher(Context context, RabbitMQClient client, Map<String, SuperStream> streams) {
    this.context = context;
    this.client = client;
    this.streams = Map.copyOf(streams);
  }

  /**
   * Batches go out in the order of the calls: each is sent from this publisher's context once the
   * one before was handed to the client, which runs channel calls as ordered blocking tasks of the
   * calling context. Without that, two batches' sends interleave: the callbacks of two calls to the
   * client need not run in the order of the calls (seen as events of one key out of order). A batch's
   * wait for confirms overlaps the next batch's sends. Confirm mode is selected first every time: a
   * channel the client re-created after an error is not in it.
   */
  @Override
  public Future<Void> publish(List<BusMessage> messages) {
    if (messages.isEmpty()) {
      return Future.succeededFuture();
    }
    // Always through the context's task queue, even from it: a direct call would overtake batches queued before it.
    Promise<Void> sent = Promise.promise();
    context.runOnContext(v -> send(messages).onComplete(sent));
    return sent.future();
  }

  private Future<Void> send(List<BusMessage> messages) {
    Promise<Void> queued = Promise.promise();
    Future<Void> turn = lastQueued;
    lastQueued = queued.future();
    Future<Void> confirmed = turn.transform(before -> declare(messages))
        .compose(v -> client.confirmSelect())
        .compose(v -> {
          List<Future<Void>> sent = new ArrayList<>(messages.size());
          for (BusMessage message : messages) {
            sent.add(send(message));
          }
          queued.tryComplete();
          return Future.all(sent);
        })
        .compose(v -> client.waitForConfirms(CONFIRM_TIMEOUT_MS));
    confirmed.onFailure(e -> queued.tryComplete());
    return confirmed;
  }

  private Future<Void> declare(List<BusMessage> messages) {
    List<String> missing = messages.stream().map(m -> m.bus().target()).distinct().filter(e -> !declared.contains(e)).toList();
    return Future.all(missing.stream().map(e -> {
      SuperStream stream = streams.get(e);
      Future<Void> done = stream != null ? stream.declare(client) : client.exchangeDeclare(e, "topic", true, false);
      return done.onSuccess(v -> declared.add(e));
    }).toList()).mapEmpty();
  }

  private Future<Void> send(BusMessage message) {
    Map<String, Object> headers = new HashMap<>(message.headers());
    SuperStream stream = streams.get(message.bus().target());
    String routingKey;
    if (stream != null) {
      routingKey = stream.routingKey(message.key());
      if (message.key() != null) {
        headers.put(EventHeaders.KEY, message.key());
      }
      headers.put(EventHeaders.ACCEPTED, String.valueOf(message.timestamp() >= 0 ? message.timestamp() : System.currentTimeMillis()));
    } else {
      routingKey = message.key() == null ? "" : message.key();
    }
    AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
        .deliveryMode(2)
        .contentType("application/json")
        .headers(headers)
        .messageId(message.headers().get(EventHeaders.ID))
        .build();
    return client.basicPublish(message.bus().target(), routingKey, props, Buffer.buffer(message.value()));
  }

  @Override
  public Future<Void> close() {
    return Future.succeededFuture();
  }
}

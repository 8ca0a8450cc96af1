package io.tributary.common.rabbitmq;

import com.rabbitmq.client.AMQP;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.tributary.common.event.EventHeaders;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.rabbitmq.RabbitMQPublisher;
import io.vertx.rabbitmq.RabbitMQPublisherOptions;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Publishes persistent messages to RabbitMQ with publisher confirms: a batch succeeds only once the
 * broker confirmed every message. A bus between stages is a {@link SuperStream}: the routing key is the
 * partition, the entity key and acceptance time travel in headers. Any other bus is a durable topic
 * exchange whose routing key is the entity key. Exchanges and streams are declared when first used.
 */
public final class RabbitMqPublisher implements BusPublisher {

  private final RabbitMQClient client;
  private final RabbitMQPublisher publisher;
  private final Map<String, SuperStream> streams;
  private final Set<String> declared = new HashSet<>();

  /** @param streams the super streams among the buses, by exchange name */
  public RabbitMqPublisher(Vertx vertx, RabbitMQClient client, Map<String, SuperStream> streams) {
    this.client = client;
    this.streams = Map.copyOf(streams);
    this.publisher = RabbitMQPublisher.create(vertx, client, new RabbitMQPublisherOptions()
        .setReconnectAttempts(Integer.MAX_VALUE).setReconnectInterval(1000).setMaxInternalQueueSize(100_000));
  }

  @Override
  public Future<Void> publish(List<BusMessage> messages) {
    return declare(messages).compose(v -> Future.all(messages.stream().map(this::send).toList()).mapEmpty());
  }

  private Future<Void> declare(List<BusMessage> messages) {
    List<String> missing = messages.stream().map(m -> m.bus().target()).distinct().filter(e -> !declared.contains(e)).toList();
    return Future.all(missing.stream().map(e -> {
      SuperStream stream = streams.get(e);
      Future<Void> done = stream != null ? stream.declare(client) : client.exchangeDeclare(e, "topic", true, false);
      return done.onSuccess(v -> declared.add(e));
    }).toList()).mapEmpty();
  }

  private Future<Long> send(BusMessage message) {
    Map<String, Object> headers = new HashMap<>(message.headers());
    SuperStream stream = streams.get(message.bus().target());
    String routingKey;
    if (stream != null) {
      routingKey = stream.routingKey(message.key());
      if (message.key() != null) {
        headers.put(SuperStream.KEY_HEADER, message.key());
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
    return publisher.publishConfirm(message.bus().target(), routingKey, props, Buffer.buffer(message.value()));
  }

  @Override
  public Future<Void> close() {
    return publisher.stop();
  }
}

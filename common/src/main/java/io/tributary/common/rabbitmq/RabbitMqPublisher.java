package io.tributary.common.rabbitmq;

import com.rabbitmq.client.AMQP;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.rabbitmq.RabbitMQPublisher;
import io.vertx.rabbitmq.RabbitMQPublisherOptions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Publishes persistent messages to RabbitMQ exchanges with publisher confirms: a batch succeeds only
 * once the broker confirmed every message. The exchange is a durable topic exchange, declared when
 * first used; the routing key is the entity key.
 */
public final class RabbitMqPublisher implements BusPublisher {

  private final RabbitMQClient client;
  private final RabbitMQPublisher publisher;
  private final java.util.Set<String> declared = new java.util.HashSet<>();

  public RabbitMqPublisher(Vertx vertx, RabbitMQClient client) {
    this.client = client;
    this.publisher = RabbitMQPublisher.create(vertx, client, new RabbitMQPublisherOptions()
        .setReconnectAttempts(Integer.MAX_VALUE).setReconnectInterval(1000).setMaxInternalQueueSize(100_000));
  }

  @Override
  public Future<Void> publish(List<BusMessage> messages) {
    return declare(messages).compose(v -> Future.all(messages.stream().map(this::send).toList()).mapEmpty());
  }

  private Future<Void> declare(List<BusMessage> messages) {
    List<String> missing = messages.stream().map(m -> m.bus().target()).distinct().filter(e -> !declared.contains(e)).toList();
    return Future.all(missing.stream().map(e -> client.exchangeDeclare(e, "topic", true, false).onSuccess(v -> declared.add(e))).toList())
        .mapEmpty();
  }

  private Future<Long> send(BusMessage message) {
    Map<String, Object> headers = new HashMap<>(message.headers());
    AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
        .deliveryMode(2)
        .contentType("application/json")
        .headers(headers)
        .messageId(message.headers().get(io.tributary.common.event.EventHeaders.ID))
        .build();
    return publisher.publishConfirm(message.bus().target(), message.key() == null ? "" : message.key(), props,
        Buffer.buffer(message.value()));
  }

  @Override
  public Future<Void> close() {
    return publisher.stop();
  }
}

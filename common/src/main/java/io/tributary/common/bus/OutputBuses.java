package io.tributary.common.bus;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.kafka.KafkaPublisher;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.rabbitmq.RabbitMqClients;
import io.tributary.common.rabbitmq.RabbitMqPublisher;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.RabbitMQClient;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The buses a stage writes to, behind one {@link BusPublisher}: a batch is split by bus kind and
 * succeeds when every part is acknowledged. Clients exist only for the kinds the stage writes.
 */
public final class OutputBuses implements BusPublisher {

  private final Map<BusRef.Kind, BusPublisher> publishers = new EnumMap<>(BusRef.Kind.class);
  private RabbitMQClient rabbit;

  private OutputBuses() {
  }

  public static Future<OutputBuses> create(Vertx vertx, ServiceConfig config, String clientId, Collection<BusRef> buses) {
    OutputBuses out = new OutputBuses();
    Future<Void> ready = Future.succeededFuture();
    if (buses.stream().anyMatch(BusRef::isKafka)) {
      ready = vertx.executeBlocking(() -> new KafkaPublisher(KafkaSettings.producer(config, clientId), clientId))
          .map(p -> {
            out.publishers.put(BusRef.Kind.KAFKA, p);
            return null;
          });
    }
    if (buses.stream().anyMatch(b -> b.kind() == BusRef.Kind.RABBITMQ)) {
      out.rabbit = RabbitMqClients.create(vertx, config);
      out.publishers.put(BusRef.Kind.RABBITMQ, new RabbitMqPublisher(vertx, out.rabbit));
      ready = ready.compose(v -> out.rabbit.start().recover(e -> Future.succeededFuture()));
    }
    return ready.map(v -> out);
  }

  @Override
  public Future<Void> publish(List<BusMessage> messages) {
    if (publishers.size() == 1) {
      return publishers.values().iterator().next().publish(messages);
    }
    Map<BusRef.Kind, List<BusMessage>> byKind = new EnumMap<>(BusRef.Kind.class);
    for (BusMessage m : messages) {
      byKind.computeIfAbsent(m.bus().kind(), k -> new ArrayList<>()).add(m);
    }
    return Future.all(byKind.entrySet().stream().map(e -> publishers.get(e.getKey()).publish(e.getValue())).toList()).mapEmpty();
  }

  @Override
  public Future<Void> close() {
    Future<Void> closed = Future.all(publishers.values().stream().map(BusPublisher::close).toList()).mapEmpty();
    return rabbit == null ? closed : closed.compose(v -> rabbit.stop());
  }
}

package io.tributary.common.rabbitmq;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.state.Partitions;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.rabbitmq.RabbitMQClient;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A bus between two stages on RabbitMQ: a partitioned stream in the layout of RabbitMQ's super streams.
 * A durable direct exchange {@code NAME} routes partition {@code i} (routing key {@code "i"}) to the
 * stream queue {@code NAME-i}; an entity key goes to the partition Kafka's default partitioner gives it,
 * so a key has the same partition number on both buses. Streams keep their messages (up to
 * {@code rabbitmq.streamMaxAge}) and give each an offset, which is the record's position.
 *
 * <p>The Kafka topic {@link #positionsTopic} has one partition per stream and holds no records: the
 * consumer group of the reading stage subscribes to it, so Kafka's group protocol assigns the streams
 * to instances, and the group's committed offsets on it are the committed stream offsets.
 */
public record SuperStream(String name, int partitions, String maxAge) {

  /** The offset RabbitMQ gives each message of a stream, on delivery. */
  static final String OFFSET_HEADER = "x-stream-offset";

  public static SuperStream of(BusRef bus, int partitions, String maxAge) {
    if (bus.kind() != BusRef.Kind.RABBITMQ) {
      throw new IllegalArgumentException(bus + " is not a RabbitMQ bus");
    }
    return new SuperStream(bus.target(), partitions, maxAge);
  }

  /** The super streams of a pipeline: its buses between stages that are on RabbitMQ, by exchange name. */
  public static Map<String, SuperStream> ofPipeline(Pipeline pipeline, ServiceConfig config) {
    Map<String, SuperStream> streams = new HashMap<>();
    for (BusRef bus : List.of(pipeline.buses().ingested(), pipeline.buses().enriched())) {
      if (bus.kind() == BusRef.Kind.RABBITMQ) {
        streams.put(bus.target(), of(bus, config));
      }
    }
    return streams;
  }

  public static SuperStream of(BusRef bus, ServiceConfig config) {
    return of(bus, config.getInt("kafka.partitions"), config.get("rabbitmq.streamMaxAge"));
  }

  /** The Kafka topic whose partitions stand for the streams of {@code bus} in its readers' consumer group. */
  public static String positionsTopic(BusRef bus) {
    return bus.target() + ".positions";
  }

  public String stream(int partition) {
    return name + "-" + partition;
  }

  /** The routing key of an entity key: its partition number. */
  public String routingKey(String key) {
    return String.valueOf(key == null ? 0 : Partitions.of(key, partitions));
  }

  /**
   * Declares the exchange, the streams and their bindings; idempotent. A stream declared before with
   * other arguments (another max age) makes the broker refuse, with its reason in the failure.
   */
  public Future<Void> declare(RabbitMQClient client) {
    return client.exchangeDeclare(name, "direct", true, false).compose(v -> {
      List<Future<Void>> streams = new ArrayList<>(partitions);
      for (int p = 0; p < partitions; p++) {
        String stream = stream(p);
        String key = String.valueOf(p);
        streams.add(client.queueDeclare(stream, true, false, false,
                new JsonObject().put("x-queue-type", "stream").put("x-max-age", maxAge))
            .compose(ok -> client.queueBind(stream, name, key)));
      }
      return Future.all(streams).mapEmpty();
    });
  }
}

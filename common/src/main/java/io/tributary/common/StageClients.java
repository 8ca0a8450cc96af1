package io.tributary.common;

import io.tributary.common.bus.OutputBuses;
import io.tributary.common.fused.Fusion;
import io.tributary.common.fused.InProcessBus;
import io.tributary.common.input.InputBuses;
import io.tributary.common.kafka.KafkaClientMeters;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.kafka.Topics;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.rabbitmq.SuperStream;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;

/**
 * The clients every stage creates at start and closes at stop: the publisher of its output buses,
 * and a Kafka admin that creates the topics it reads and writes (in the background, with backoff),
 * including the positions topic of a super stream it reads.
 */
public final class StageClients {

  private final Vertx vertx;
  private final OutputBuses buses;
  private final Admin admin;
  private final KafkaClientMeters.Binding adminMeters;
  private final Topics topics;

  private StageClients(Vertx vertx, OutputBuses buses, Admin admin, KafkaClientMeters.Binding adminMeters, Topics topics) {
    this.vertx = vertx;
    this.buses = buses;
    this.admin = admin;
    this.adminMeters = adminMeters;
    this.topics = topics;
  }

  /**
   * Creates the clients; the Kafka topics among {@code inputs} and {@code outputs} are made to exist.
   * A bus a fused process keeps in memory needs neither, unless the pipeline names it an output: the
   * last stage writes it then. A stage in the middle of a fused chain hands all it makes to the next
   * stage and publishes nothing itself; the last stage commits the chain's source positions to the
   * source's group.
   */
  public static Future<StageClients> start(Vertx vertx, ServiceContext service, List<BusRef> inputs, List<BusRef> outputs) {
    Fusion fusion = service.fusion();
    List<BusRef> read = inputs;
    // A stage never hands on to the bus it reads, though the last stage may write that bus (an output kept in memory).
    InProcessBus next = fusion.output(outputs.stream().filter(b -> !read.contains(b)).toList());
    boolean middle = inputs.stream().anyMatch(fusion::inMemory) && next != null;
    // A stage reading the chain reads its source, in effect: the topic whose partitions are its shards.
    inputs = inputs.stream().map(fusion::shardsOf).distinct().toList();
    outputs = middle ? List.of() : outputs.stream().filter(b -> !fusion.inMemory(b) || fusion.writtenToo().contains(b)).toList();
    Map<String, SuperStream> streams = SuperStream.ofPipeline(service.pipeline(), service.config());
    // A super stream's readers keep their group's positions on a Kafka topic of its own.
    List<String> inputTopics = inputs.stream()
        .filter(b -> b.isKafka() || streams.containsKey(b.target()))
        .map(InputBuses::shardsTopic).toList();
    List<String> kafkaTopics = Stream.concat(inputTopics.stream(), outputs.stream().filter(BusRef::isKafka).map(BusRef::target))
        .distinct().toList();
    boolean kafkaInput = !middle && !inputTopics.isEmpty();
    return OutputBuses.create(vertx, service.config(), service.instanceId(), service.transactionalId(), kafkaInput, outputs, streams, next)
        .onSuccess(buses -> {
          buses.registerMetrics(service.registry(), service.stage(), service.pipeline().name(), service.metrics().kafkaClients());
          buses.checks().forEach(service.readiness()::register);
        })
        .compose(buses -> vertx.executeBlocking(() -> Admin.create(new HashMap<>(
                KafkaSettings.admin(service.config(), service.instanceId() + "-admin"))))
            .map(admin -> new StageClients(vertx, buses, admin, service.metrics().kafkaClients().bind(admin),
                new Topics(vertx, admin, service.config()).ensure(kafkaTopics))));
  }

  public OutputBuses buses() {
    return buses;
  }

  /** The Kafka admin client, for reads such as committed offsets. */
  public Admin admin() {
    return admin;
  }

  public Topics topics() {
    return topics;
  }

  /** Flushes and closes the publisher, then the admin. */
  public Future<Void> close() {
    topics.stop();
    return buses.close().compose(v -> vertx.executeBlocking(() -> {
      adminMeters.close();
      admin.close(Duration.ofSeconds(5));
      return null;
    }));
  }
}

package io.tributary.common.input;

import io.tributary.common.ServiceContext;
import io.tributary.common.StageClients;
import io.tributary.common.fused.ChainHead;
import io.tributary.common.fused.Fusion;
import io.tributary.common.kafka.KafkaInput;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.rabbitmq.StreamShardReader;
import io.tributary.common.rabbitmq.SuperStream;
import io.vertx.core.Context;
import java.util.List;
import java.util.Map;

/** Chooses a stage's input adapter from the bus the pipeline names: the one place that knows the kinds. */
public final class InputBuses {

  private InputBuses() {
  }

  /**
   * The input of {@code stage}, read by the consumer group {@code group}: a Kafka topic, or a RabbitMQ
   * {@link SuperStream} whose shards the group assigns through its positions topic. In a fused process
   * ({@link Fusion}) a bus kept in memory is read from the stage before; the chain's source is read in
   * the pipeline's fused group, its positions kept by the last stage, each shard's batch handed down
   * the chain from {@code processor}.
   */
  public static InputBus create(ServiceContext service, StageClients clients, Context context, String stage, BusRef bus, String group,
      InputBus.Processor processor, InputBus.Rebalance rebalance, InputBus.Commit commit) {
    Fusion fusion = service.fusion();
    if (fusion.inMemory(bus)) {
      return fusion.readBy(bus, context, processor, rebalance, commit);
    }
    if (fusion.isFused() && bus.equals(fusion.source()) && stage.equals(fusion.headStage())) {
      ChainHead head = fusion.head(processor);
      InputBus input = adapter(service, clients, context, stage, bus, service.pipeline().consumerGroup("fused"), head, head,
          InputBus.Commit.BY_STAGE);
      fusion.headReads(input);
      return input;
    }
    return adapter(service, clients, context, stage, bus, group, processor, rebalance, commit);
  }

  private static InputBus adapter(ServiceContext service, StageClients clients, Context context, String stage, BusRef bus, String group,
      InputBus.Processor processor, InputBus.Rebalance rebalance, InputBus.Commit commit) {
    Map<String, String> consumer = KafkaSettings.consumer(service.config(), service.instanceId(), group);
    int maxInFlight = service.config().getInt("kafka.maxInFlightBatches");
    return switch (bus.kind()) {
      case KAFKA -> new KafkaInput(stage, consumer, List.of(bus.target()), clients.admin(), context, processor, rebalance, commit,
          maxInFlight, service.control(), service.metrics());
      case RABBITMQ -> KafkaInput.reading(new StreamShardReader(context.owner(), context, service.config(), SuperStream.of(bus, service.config())),
          bus.toString(), stage, consumer, SuperStream.positionsTopic(bus), clients.admin(), context, processor, rebalance, commit,
          maxInFlight, service.control(), service.metrics());
    };
  }

  /** The Kafka topic whose partitions are the input's shards: the topic itself, or a super stream's positions topic. */
  public static String shardsTopic(BusRef bus) {
    return bus.isKafka() ? bus.target() : SuperStream.positionsTopic(bus);
  }
}

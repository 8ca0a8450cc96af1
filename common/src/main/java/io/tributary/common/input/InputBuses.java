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
   * ({@link Fusion}) a bus kept in memory is read from the stage before, and the chain's source as
   * {@link #chainHead} reads it.
   */
  public static InputBus create(ServiceContext service, StageClients clients, Context context, String stage, BusRef bus, String group,
      InputBus.Processor processor, InputBus.Rebalance rebalance, InputBus.Commit commit) {
    Fusion fusion = service.fusion();
    if (fusion.inMemory(bus)) {
      return fusion.readBy(bus, context, processor, rebalance, commit);
    }
    if (fusion.isFused() && bus.equals(fusion.source()) && stage.equals(fusion.headStage())) {
      return chainHead(service, clients, context, processor);
    }
    return adapter(service, clients, context, stage, bus, group, processor, rebalance, commit);
  }

  /**
   * The input of a fused chain, read by the head stage: the chain's source in the pipeline's fused
   * group, whose positions the last stage keeps and commits, each shard's batch handed to {@code first}.
   */
  public static InputBus chainHead(ServiceContext service, StageClients clients, Context context, InputBus.Processor first) {
    Fusion fusion = service.fusion();
    ChainHead head = fusion.head(first);
    InputBus input = adapter(service, clients, context, fusion.headStage(), fusion.source(), service.pipeline().consumerGroup("fused"),
        head, head, InputBus.Commit.BY_STAGE);
    fusion.headReads(input);
    return input;
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

package io.tributary.common.input;

import io.tributary.common.ServiceContext;
import io.tributary.common.StageClients;
import io.tributary.common.kafka.KafkaInput;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.pipeline.BusRef;
import io.vertx.core.Context;
import java.util.List;

/** Chooses a stage's input adapter from the bus the pipeline names: the one place that knows the kinds. */
public final class InputBuses {

  private InputBuses() {
  }

  /**
   * The input of {@code stage}, read by the consumer group {@code group}.
   *
   * @throws IllegalArgumentException when the bus kind cannot feed this stage
   */
  public static InputBus create(ServiceContext service, StageClients clients, Context context, String stage, BusRef bus, String group,
      InputBus.Processor processor, InputBus.Rebalance rebalance, InputBus.Commit commit) {
    return switch (bus.kind()) {
      case KAFKA -> new KafkaInput(stage, KafkaSettings.consumer(service.config(), service.instanceId(), group), List.of(bus.target()),
          clients.admin(), context, processor, rebalance, commit, service.config().getInt("kafka.maxInFlightBatches"),
          service.control(), service.metrics());
      case RABBITMQ -> throw new IllegalArgumentException(stage + " reads its input from Kafka only; the bus is " + bus);
    };
  }
}

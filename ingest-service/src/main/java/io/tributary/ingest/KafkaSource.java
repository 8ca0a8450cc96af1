package io.tributary.ingest;

import io.tributary.common.ServiceContext;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputRecord;
import io.tributary.common.kafka.KafkaInput;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.pipeline.BusRef;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads events from Kafka topics named in the pipeline's {@code sources}; the offsets are committed in
 * the same transaction as what came of the events, so each is ingested (or dead-lettered) exactly once.
 */
final class KafkaSource {

  private final InputBus input;

  KafkaSource(ServiceContext service, Context context, List<BusRef> topics, EventIntake intake) {
    String group = service.pipeline().consumerGroup("ingest");
    Map<String, String> config = KafkaSettings.consumer(service.config(), service.instanceId() + "-source", group);
    this.input = new KafkaInput("ingest-source", config, topics.stream().map(BusRef::target).toList(), null, context,
        intakeOf(intake), new InputBus.Rebalance() { }, InputBus.Commit.WITH_OUTPUTS, service.config().getInt("kafka.maxInFlightBatches"),
        service.control(), service.metrics());
  }

  /** A source topic's batch through the intake, one event per record, its commit going with the intake's outputs. */
  static InputBus.Processor intakeOf(EventIntake intake) {
    return batch -> {
      List<RawEvent> events = new ArrayList<>(batch.count());
      for (InputRecord record : batch) {
        events.add(RequestBodies.single(record.value()));
      }
      return intake.accept(events, "kafka", batch.commit()).map(outcome -> Map.<Integer, Long>of());
    };
  }

  void start() {
    input.start();
  }

  Future<Void> stop() {
    return input.stop();
  }
}

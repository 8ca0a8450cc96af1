package io.tributary.ingest;

import io.tributary.common.ServiceContext;
import io.tributary.common.kafka.ConsumerLoop;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.pipeline.BusRef;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Reads events from Kafka topics named in the pipeline's {@code sources}; the offsets are committed in
 * the same transaction as what came of the events, so each is ingested (or dead-lettered) exactly once.
 */
final class KafkaSource {

  private final ConsumerLoop loop;

  KafkaSource(ServiceContext service, Context context, List<BusRef> topics, EventIntake intake) {
    String group = service.pipeline().consumerGroup("ingest");
    Map<String, String> config = KafkaSettings.consumer(service.config(), service.instanceId() + "-source", group);
    this.loop = new ConsumerLoop("ingest-source", config, topics.stream().map(BusRef::target).toList(), context,
        (records, consumed) -> {
          List<RawEvent> events = new ArrayList<>(records.count());
          for (ConsumerRecord<String, byte[]> record : records) {
            events.add(RequestBodies.single(record.value() == null ? new byte[0] : record.value()));
          }
          return intake.accept(events, "kafka", consumed).map(outcome -> Map.<TopicPartition, Long>of());
        },
        new ConsumerLoop.Rebalance() { }, ConsumerLoop.CommitMode.TRANSACTIONAL, service.config().getInt("kafka.maxInFlightBatches"),
        service.control(), service.metrics());
  }

  void start() {
    loop.start();
  }

  Future<Void> stop() {
    return loop.stop();
  }
}

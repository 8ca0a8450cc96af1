package io.tributary.common.bus;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.fused.Handoff;
import io.tributary.common.fused.InProcessBus;
import io.tributary.common.health.DependencyCheck;
import io.tributary.common.input.InputCommit;
import io.tributary.common.kafka.KafkaClientMeters;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.kafka.TransactionalPublisher;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.rabbitmq.RabbitMqClients;
import io.tributary.common.rabbitmq.RabbitMqPublisher;
import io.tributary.common.rabbitmq.SuperStream;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.RabbitMQClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The buses a stage writes to, behind one {@link BusPublisher}. Kafka output goes through one
 * transactional producer, together with the Kafka input offsets it was made from; RabbitMQ output is
 * confirmed first, so a batch whose Kafka part then fails is republished (at least once on RabbitMQ,
 * see docs/operations.md). Clients exist only for the kinds the stage uses. In a fused process, what a
 * stage makes of a batch of the chain ({@link Handoff}) goes to the next stage in memory instead.
 */
public final class OutputBuses implements BusPublisher {

  private TransactionalPublisher kafka;
  private RabbitMqPublisher rabbitPublisher;
  private RabbitMQClient rabbit;
  private InProcessBus next;

  private OutputBuses() {
  }

  /**
   * @param kafkaInput whether the stage commits input positions to Kafka (it reads Kafka or a super
   *     stream): they are committed through the transactional producer even when no output is on Kafka
   * @param transactionalId the producer's transactional id, stable across restarts of this instance
   * @param streams the RabbitMQ buses that are super streams (between stages), by exchange name
   * @param next the in-memory bus to the next stage of a fused chain, or null
   */
  public static Future<OutputBuses> create(Vertx vertx, ServiceConfig config, String clientId, String transactionalId,
      boolean kafkaInput, List<BusRef> buses, Map<String, SuperStream> streams, InProcessBus next) {
    OutputBuses out = new OutputBuses();
    out.next = next;
    if (kafkaInput || buses.stream().anyMatch(BusRef::isKafka)) {
      out.kafka = new TransactionalPublisher(KafkaSettings.transactionalProducer(config, clientId, transactionalId), clientId);
    }
    Future<Void> ready = Future.succeededFuture();
    if (buses.stream().anyMatch(b -> b.kind() == BusRef.Kind.RABBITMQ)) {
      out.rabbit = RabbitMqClients.create(vertx, config);
      out.rabbitPublisher = new RabbitMqPublisher(vertx.getOrCreateContext(), out.rabbit, streams);
      ready = out.rabbit.start().recover(e -> Future.succeededFuture());
    }
    return ready.map(v -> out);
  }

  /**
   * What must hold before the stage takes traffic: its transactional producer started (a fresh
   * broker takes seconds to make its transaction log, and requests would meanwhile wait or get 503).
   */
  public List<DependencyCheck> checks() {
    if (kafka == null) {
      return List.of();
    }
    TransactionalPublisher producer = kafka;
    return List.of(DependencyCheck.of("kafka producer", producer::ready, "the transactional producer is not started yet"));
  }

  /** Counters of the Kafka transactions: how many committed and failed, and the records they carried. */
  public void registerMetrics(MeterRegistry registry, String stage, String pipeline, KafkaClientMeters clientMeters) {
    if (kafka == null) {
      return;
    }
    kafka.meterClientsWith(clientMeters);
    FunctionCounter.builder("tributary.kafka.transactions", kafka, TransactionalPublisher::committedTransactions)
        .description("Kafka transactions of this stage's outputs").tags("stage", stage, "pipeline", pipeline, "outcome", "committed")
        .register(registry);
    FunctionCounter.builder("tributary.kafka.transactions", kafka, TransactionalPublisher::failedTransactions)
        .description("Kafka transactions of this stage's outputs").tags("stage", stage, "pipeline", pipeline, "outcome", "failed")
        .register(registry);
    FunctionCounter.builder("tributary.kafka.transaction.records", kafka, TransactionalPublisher::publishedRecords)
        .description("Records published in committed Kafka transactions").tags("stage", stage, "pipeline", pipeline)
        .register(registry);
  }

  @Override
  public Future<Void> publish(List<BusMessage> messages) {
    return publish(messages, null);
  }

  @Override
  public Future<Void> publish(List<BusMessage> messages, InputCommit consumed) {
    if (consumed instanceof Handoff handoff) {
      return next == null ? Future.failedFuture(new IllegalStateException("a batch of a fused chain reached a stage with no next stage"))
          : next.publish(messages, handoff);
    }
    List<BusMessage> toKafka = new ArrayList<>(messages.size());
    List<BusMessage> toRabbit = new ArrayList<>();
    for (BusMessage m : messages) {
      (m.bus().isKafka() ? toKafka : toRabbit).add(m);
    }
    Future<Void> rabbitDone = toRabbit.isEmpty() ? Future.succeededFuture() : rabbitPublisher.publish(toRabbit);
    if (toKafka.isEmpty() && consumed == null) {
      return rabbitDone;
    }
    return rabbitDone.compose(v -> kafka.publish(toKafka, consumed));
  }

  @Override
  public Future<Void> close() {
    Future<Void> kafkaClosed = kafka == null ? Future.succeededFuture() : kafka.close();
    Future<Void> rabbitClosed = rabbitPublisher == null ? Future.succeededFuture()
        : rabbitPublisher.close().compose(v -> rabbit.stop());
    return Future.all(kafkaClosed, rabbitClosed).mapEmpty();
  }
}

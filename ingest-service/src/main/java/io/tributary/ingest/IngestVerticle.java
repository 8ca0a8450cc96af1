package io.tributary.ingest;

import io.tributary.common.ServiceContext;
import io.tributary.common.StageClients;
import io.tributary.common.fused.Fusion;
import io.tributary.common.http.ServiceHttpServer;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputBuses;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * The ingest stage: the HTTP intake and the configured Kafka and RabbitMQ sources, all feeding one
 * {@link EventIntake}. Start order is clients, topics (in the background), sources, HTTP; stop order
 * is the reverse, so intake ends before the producer flushes and closes. At the head of a fused chain
 * the Kafka source is the chain's input, and HTTP intake appends to that source ({@link EventIntake#door}).
 */
public final class IngestVerticle extends VerticleBase {

  private final ServiceContext service;
  private final ServiceHttpServer http;
  private StageClients clients;
  private KafkaSource kafkaSource;
  /** In a fused process that reads a Kafka source: the chain's input, whose batches start here. */
  private InputBus chain;
  private final List<RabbitMqSource> rabbitSources = new ArrayList<>();

  public IngestVerticle(ServiceContext service) {
    this.service = service;
    this.http = new ServiceHttpServer(service);
  }

  @Override
  public Future<?> start() {
    Pipeline pipeline = service.pipeline();
    Fusion fusion = service.fusion();
    boolean headOfChain = fusion.isFused() && fusion.headStage().equals(service.stage());
    List<BusRef> outputs = new ArrayList<>(List.of(pipeline.buses().ingested(), pipeline.buses().deadLetter()));
    if (headOfChain) {
      outputs.add(fusion.source());
    }
    return StageClients.start(vertx, service, pipeline.sources(), outputs)
        .compose(created -> {
          clients = created;
          service.readiness().register(clients.topics().check());
          EventIntake intake = new EventIntake(pipeline, clients.buses(), service.metrics());
          service.control().addStatus(() -> new JsonObject().put("counters", service.metrics().counters()));
          EventIntake door = intake;
          if (headOfChain) {
            chain = InputBuses.chainHead(service, clients, context, KafkaSource.intakeOf(intake));
            chain.start();
            door = EventIntake.door(pipeline, fusion.source(), clients.buses(), service.metrics());
          } else {
            startSources(intake);
          }
          EventsHandler events = new EventsHandler(service, door);
          return http.start(vertx, router -> {
            // Two routes: admission runs before any byte of the body is buffered.
            router.post("/events").handler(events.admission());
            router.post("/events").handler(http.base().boundedBody()).handler(http.base().decodedBody()).handler(events::handle);
          });
        });
  }

  private void startSources(EventIntake intake) {
    List<BusRef> kafkaSources = service.pipeline().sources().stream().filter(BusRef::isKafka).toList();
    if (!kafkaSources.isEmpty()) {
      kafkaSource = new KafkaSource(service, context, kafkaSources, intake);
      kafkaSource.start();
    }
    service.pipeline().sources().stream().filter(s -> s.kind() == BusRef.Kind.RABBITMQ).forEach(source -> {
      RabbitMqSource rabbit = new RabbitMqSource(vertx, service, source.target(), intake);
      rabbit.start();
      rabbitSources.add(rabbit);
    });
  }

  @Override
  public Future<?> stop() {
    return http.stop()
        .compose(v -> kafkaSource == null ? Future.succeededFuture() : kafkaSource.stop())
        .compose(v -> chain == null ? Future.succeededFuture() : chain.stop())
        .compose(v -> Future.all(rabbitSources.stream().map(RabbitMqSource::stop).toList()))
        .compose(v -> clients == null ? Future.succeededFuture() : clients.close());
  }
}

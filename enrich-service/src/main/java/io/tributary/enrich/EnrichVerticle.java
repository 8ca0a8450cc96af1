package io.tributary.enrich;

import io.tributary.common.ServiceContext;
import io.tributary.common.bus.OutputBuses;
import io.tributary.common.http.ServiceHttpServer;
import io.tributary.common.kafka.ConsumerLoop;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.kafka.Topics;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.redis.RedisClients;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Redis;
import java.util.List;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;

/**
 * The enrich stage: consumes the ingested topic in the pipeline's enrich group, enriches each poll
 * batch with one store round trip, publishes to the enriched bus and commits after the publish is
 * acknowledged. Also serves reference data management.
 */
public final class EnrichVerticle extends VerticleBase {

  private final ServiceContext service;
  private final ServiceHttpServer http;
  private Redis redis;
  private OutputBuses buses;
  private Admin admin;
  private Topics topics;
  private ConsumerLoop consumer;

  public EnrichVerticle(ServiceContext service) {
    this.service = service;
    this.http = new ServiceHttpServer(service);
  }

  @Override
  public Future<?> start() {
    BusRef input = service.pipeline().buses().ingested();
    if (!input.isKafka()) {
      return Future.failedFuture("enrich reads its input from Kafka; buses.ingested is " + input);
    }
    redis = RedisClients.create(vertx, service.config());
    ReferenceStore store = new ReferenceStore(redis, new ReferenceKeys(service.pipeline().name()));
    LookupResolver resolver = new LookupResolver(store, service.pipeline().lookups(), service.registry(), service.pipeline().name());
    List<BusRef> outputs = List.of(service.pipeline().buses().enriched(), service.pipeline().buses().deadLetter());
    return OutputBuses.create(vertx, service.config(), service.instanceId(), outputs)
        .compose(created -> {
          buses = created;
          return vertx.executeBlocking(() -> Admin.create(new java.util.HashMap<>(
              KafkaSettings.admin(service.config(), service.instanceId() + "-admin"))));
        })
        .compose(created -> {
          admin = created;
          topics = new Topics(vertx, admin, service.config()).ensure(
              Stream.concat(Stream.of(input), outputs.stream()).filter(BusRef::isKafka).map(BusRef::target).distinct().toList());
          service.readiness().register(topics.check());
          consumer = new ConsumerLoop("enrich",
              KafkaSettings.consumer(service.config(), service.instanceId(), service.pipeline().consumerGroup("enrich")),
              List.of(input.target()), context, new EnrichProcessor(service.pipeline(), resolver, buses, service.metrics()),
              new ConsumerLoop.Rebalance() { }, ConsumerLoop.CommitMode.KAFKA,
              service.config().getInt("kafka.maxInFlightBatches"), service.control(), service.metrics());
          service.control().addStatus(() -> new JsonObject()
              .put("assignedPartitions", consumer.assignedPartitions())
              .put("counters", service.metrics().counters()));
          consumer.start();
          ReferenceHandler reference = new ReferenceHandler(service.pipeline(), store, resolver);
          return http.start(vertx, router -> {
            router.route("/reference/*").handler(http.base().auth());
            router.post("/reference/:lookup").handler(reference::bulkLoad);
            router.put("/reference/:lookup/:key").handler(http.base().boundedBody()).handler(reference::put);
            router.get("/reference/:lookup/:key").handler(reference::get);
            router.delete("/reference/:lookup/:key").handler(reference::delete);
          });
        });
  }

  @Override
  public Future<?> stop() {
    if (topics != null) {
      topics.stop();
    }
    return http.stop()
        .compose(v -> consumer == null ? Future.succeededFuture() : consumer.stop())
        .compose(v -> buses == null ? Future.succeededFuture() : buses.close())
        .compose(v -> {
          redis.close();
          return admin == null ? Future.succeededFuture() : vertx.executeBlocking(() -> {
            admin.close(java.time.Duration.ofSeconds(5));
            return null;
          });
        });
  }
}

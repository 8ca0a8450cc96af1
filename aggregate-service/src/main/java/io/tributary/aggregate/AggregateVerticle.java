package io.tributary.aggregate;

import io.tributary.common.ServiceContext;
import io.tributary.common.StageClients;
import io.tributary.common.http.ServiceHttpServer;
import io.tributary.common.kafka.ConsumerLoop;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.redis.RedisClients;
import io.tributary.common.state.RedisStateStore;
import io.tributary.common.state.StateStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregate stage: consumes the enriched topic and applies each batch to the state store exactly
 * once (positions live in the store, not in Kafka), publishes window updates, and serves queries.
 */
public final class AggregateVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(AggregateVerticle.class);

  private final ServiceContext service;
  private final ServiceHttpServer http;
  private StateStore store;
  private StageClients clients;
  private ConsumerLoop consumer;
  private volatile int partitions;

  public AggregateVerticle(ServiceContext service) {
    this.service = service;
    this.http = new ServiceHttpServer(service);
    this.partitions = service.config().getInt("kafka.partitions");
  }

  @Override
  public Future<?> start() {
    BusRef input = service.pipeline().buses().enriched();
    if (!input.isKafka()) {
      return Future.failedFuture("aggregate reads its input from Kafka; buses.enriched is " + input);
    }
    store = new RedisStateStore(RedisClients.create(vertx, service.config()), service.pipeline().name(),
        service.pipeline().schema().keyField(),
        service.pipeline().aggregations());
    List<BusRef> outputs = List.of(service.pipeline().buses().updates(), service.pipeline().buses().deadLetter());
    return StageClients.start(vertx, service, List.of(input), outputs)
        .compose(created -> {
          clients = created;
          service.readiness().register(clients.topics().check());
          clients.topics().partitions(input.target()).onSuccess(n -> partitions = n);
          initStore(500);
          AggregateProcessor processor = new AggregateProcessor(service.pipeline(), store, clients.buses(), service.metrics());
          consumer = new ConsumerLoop("aggregate",
              KafkaSettings.consumer(service.config(), service.instanceId(), service.pipeline().consumerGroup("aggregate")),
              List.of(input.target()), context, processor, processor, ConsumerLoop.CommitMode.EXTERNAL, 1,
              service.control(), service.metrics());
          service.control().addStatus(() -> new JsonObject()
              .put("assignedPartitions", consumer.assignedPartitions())
              .put("counters", service.metrics().counters()));
          consumer.start();
          AggregatesHandler queries = new AggregatesHandler(service.pipeline(), store, () -> partitions);
          return http.start(vertx, router -> {
            router.get("/aggregates/:aggregation/:group").handler(queries::windows);
            router.get("/aggregates/:aggregation").handler(queries::top);
          });
        });
  }

  /** Loads the Redis function; Redis may be down at start, so this retries until it succeeds. */
  private void initStore(long backoffMs) {
    store.init().onFailure(e -> {
      LOG.warn("cannot load the state-store function yet ({}); retrying in {} ms", e.getMessage(), backoffMs);
      vertx.setTimer(backoffMs, t -> initStore(Math.min(backoffMs * 2, 10_000)));
    });
  }

  @Override
  public Future<?> stop() {
    return http.stop()
        .compose(v -> consumer == null ? Future.succeededFuture() : consumer.stop())
        .compose(v -> clients == null ? Future.succeededFuture() : clients.close())
        .compose(v -> store.close());
  }
}

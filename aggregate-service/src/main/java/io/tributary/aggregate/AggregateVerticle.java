package io.tributary.aggregate;

import io.tributary.common.ServiceContext;
import io.tributary.common.StageClients;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.console.Console;
import io.tributary.common.health.DependencyCheck;
import io.tributary.common.http.ServiceHttpServer;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputBuses;
import io.tributary.common.launch.ServiceLauncher;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.state.StateStore;
import io.tributary.common.state.StateStores;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregate stage: consumes the enriched topic and applies each batch to the state store exactly
 * once (positions live in the store, not in Kafka), relays each batch's window updates and dead
 * letters from the store's outbox to the buses exactly once (the relayed position is the input's
 * committed position, on Kafka the group's offset written in the same transaction), and serves queries.
 */
public final class AggregateVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(AggregateVerticle.class);

  private final ServiceContext service;
  private final ServiceHttpServer http;
  private StateStore store;
  private StageClients clients;
  private InputBus consumer;
  private OutboxRelay relay;
  private volatile int partitions;

  public AggregateVerticle(ServiceContext service) {
    this.service = service;
    this.http = new ServiceHttpServer(service);
    this.partitions = service.config().getInt("kafka.partitions");
  }

  @Override
  public Future<?> start() {
    Pipeline pipeline = service.pipeline();
    BusRef input = pipeline.buses().enriched();
    store = StateStores.create(vertx, service.config(), pipeline);
    List<BusRef> outputs = new ArrayList<>(List.of(pipeline.buses().updates(), pipeline.buses().deadLetter()));
    outputs.addAll(service.fusion().writtenToo());
    String group = pipeline.consumerGroup("aggregate");
    return StageClients.start(vertx, service, List.of(input), outputs)
        .compose(created -> {
          clients = created;
          service.readiness().register(clients.topics().check());
          clients.topics().partitions(InputBuses.shardsTopic(service.fusion().shardsOf(input))).onSuccess(n -> partitions = n);
          Future<Void> storeReady = prepareStore(500);
          service.readiness().register(DependencyCheck.of("state store prepared", storeReady::succeeded,
              "the Redis function or SQL tables are not in place, or the store's shape not claimed, yet"));
          OutboxCodec codec = new OutboxCodec(pipeline.aggregations(), pipeline.buses().deadLetter(), outputs);
          UpdateRecords updates = new UpdateRecords(pipeline, store, () -> partitions);
          relay = new OutboxRelay(vertx,
              this::publish,
              numbers -> consumer.committed(numbers),
              (partition, after) -> store.outbox(partition, after)
                  .map(entries -> entries.stream().map(e -> codec.decode(partition, e)).toList()),
              updates::of);
          AggregateProcessor processor = new AggregateProcessor(pipeline, store, relay, codec,
              new WindowCache(service.config().getInt("aggregate.cacheWindows")),
              service.config().getInt("aggregate.maxRelayBacklog"), context, service.metrics());
          // Nothing is applied before the store is known to keep this shape's state (or none).
          InputBus.Processor gated = batch -> storeReady.succeeded() ? processor.process(batch)
              : storeReady.compose(v -> processor.process(batch));
          consumer = InputBuses.create(service, clients, context, "aggregate", input, group, gated, processor,
              InputBus.Commit.BY_STAGE);
          service.control().addStatus(() -> new JsonObject()
              .put("assignedPartitions", consumer.assignedShards())
              .put("counters", service.metrics().counters())
              .put("relay", new JsonObject().put("pending", relay.pending()).put("relayedEntries", relay.relayedEntries())));
          consumer.start();
          AggregatesHandler queries = new AggregatesHandler(pipeline, store, () -> partitions);
          service.cluster().serve(Console.AGGREGATES, queries::answer);
          return http.start(vertx, router -> {
            router.get("/aggregates/:aggregation/:group").handler(queries::windows);
            router.get("/aggregates/:aggregation").handler(queries::top);
          });
        });
  }

  /** Publishes relayed records and commits each partition's relayed position as the input's committed position, together. */
  private Future<Void> publish(List<BusMessage> records, Map<Integer, Long> relayed) {
    return consumer.commitOf(relayed).compose(commit -> clients.buses().publish(records, commit));
  }

  /**
   * Prepares the store (the Redis function, the SQL tables) and claims its state for this process's
   * shape. The store may be down at start, so this retries until it succeeds; a store that keeps the
   * state of the other shape stops the process instead (exit 2), before any batch is applied.
   */
  private Future<Void> prepareStore(long firstBackoffMs) {
    String shape = service.fusion().isFused() ? "fused" : "services";
    Promise<Void> ready = Promise.promise();
    prepareStore(shape, firstBackoffMs, ready);
    return ready.future();
  }

  private void prepareStore(String shape, long backoffMs, Promise<Void> ready) {
    store.init().compose(v -> store.claimShape(shape)).onComplete(ar -> {
      if (ar.succeeded() && ar.result().equals(shape)) {
        ready.complete();
      } else if (ar.succeeded()) {
        ServiceLauncher.refuse(shapeConflict(service.pipeline().name(), ar.result(), shape));
      } else {
        LOG.warn("cannot prepare the state store yet ({}); retrying in {} ms", ar.cause().getMessage(), backoffMs);
        vertx.setTimer(backoffMs, t -> prepareStore(shape, Math.min(backoffMs * 2, 10_000), ready));
      }
    });
  }

  private static String shapeConflict(String pipeline, String recorded, String wanted) {
    return "pipeline '" + pipeline + "' keeps its state " + describe(recorded) + " (recorded in its store), and this process runs it "
        + describe(wanted) + ": the two shapes store positions of different logs, so their state must not mix. Run it " + describe(recorded)
        + " again, give the pipeline a new name, or remove its state first: on the local stack `deploy/local/run.sh reset`, "
        + "elsewhere the reset tool (docs/operations.md, \"Starting over\")";
  }

  private static String describe(String shape) {
    return switch (shape) {
      case "services" -> "as three services";
      case "fused" -> "as fused processes";
      default -> "in the shape '" + shape + "'";
    };
  }

  @Override
  public Future<?> stop() {
    return http.stop()
        .compose(v -> consumer == null ? Future.succeededFuture() : consumer.stop())
        .compose(v -> relay == null ? Future.succeededFuture() : relay.close())
        .compose(v -> clients == null ? Future.succeededFuture() : clients.close())
        .compose(v -> store.close());
  }
}

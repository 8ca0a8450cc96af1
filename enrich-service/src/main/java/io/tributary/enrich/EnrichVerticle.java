package io.tributary.enrich;

import io.tributary.common.ServiceContext;
import io.tributary.common.StageClients;
import io.tributary.common.http.ServiceHttpServer;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputBuses;
import io.tributary.common.pipeline.BusRef;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The enrich stage: consumes the ingested topic in the pipeline's enrich group, enriches each poll
 * batch with one store round trip, and publishes to the enriched bus in a transaction that commits
 * the batch's offsets too. Also serves reference data management.
 */
public final class EnrichVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(EnrichVerticle.class);

  private final ServiceContext service;
  private final ServiceHttpServer http;
  private ReferenceStore store;
  private HistoryStores histories;
  private StageClients clients;
  private InputBus consumer;

  public EnrichVerticle(ServiceContext service) {
    this.service = service;
    this.http = new ServiceHttpServer(service);
  }

  @Override
  public Future<?> start() {
    BusRef input = service.pipeline().buses().ingested();
    store = new ReferenceStores(vertx, service.config(), service.pipeline());
    histories = new HistoryStores(vertx, service.config(), service.pipeline());
    initStore(500);
    LookupResolver resolver = new LookupResolver(store, service.pipeline().lookups(), service.registry(), service.pipeline().name());
    List<BusRef> outputs = List.of(service.pipeline().buses().enriched(), service.pipeline().buses().deadLetter());
    return StageClients.start(vertx, service, List.of(input), outputs)
        .compose(created -> {
          clients = created;
          service.readiness().register(clients.topics().check());
          consumer = InputBuses.create(service, clients, context, "enrich", input, service.pipeline().consumerGroup("enrich"),
              new EnrichProcessor(service.pipeline(), resolver, histories, histories.plans(), clients.buses(), service.metrics(),
                  service.registry()),
              new InputBus.Rebalance() { }, InputBus.Commit.WITH_OUTPUTS);
          service.control().addStatus(() -> new JsonObject()
              .put("assignedPartitions", consumer.assignedShards())
              .put("counters", service.metrics().counters()));
          consumer.start();
          ReferenceHandler reference = new ReferenceHandler(service.pipeline(), store, resolver);
          return http.start(vertx, router -> {
            router.route("/reference/*").handler(http.base().auth());
            router.post("/reference/:lookup").handler(reference::bulkLoad);
            router.put("/reference/:lookup/:key").handler(http.base().boundedBody()).handler(http.base().decodedBody()).handler(reference::put);
            router.get("/reference/:lookup/:key").handler(reference::get);
            router.delete("/reference/:lookup/:key").handler(reference::delete);
          });
        });
  }

  /**
   * Prepares the reference and history stores (SQL tables, the Redis function); a store may be down
   * at start, so this retries until it succeeds.
   */
  private void initStore(long backoffMs) {
    Future.all(store.init(), histories.init()).onFailure(e -> {
      LOG.warn("cannot prepare the reference and history stores yet ({}); retrying in {} ms", e.getMessage(), backoffMs);
      vertx.setTimer(backoffMs, t -> initStore(Math.min(backoffMs * 2, 10_000)));
    });
  }

  @Override
  public Future<?> stop() {
    return http.stop()
        .compose(v -> consumer == null ? Future.succeededFuture() : consumer.stop())
        .compose(v -> clients == null ? Future.succeededFuture() : clients.close())
        .onComplete(v -> Future.all(store.close(), histories.close()));
  }
}

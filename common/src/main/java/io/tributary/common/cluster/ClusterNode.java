package io.tributary.common.cluster;

import io.tributary.common.StageControl;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This instance as a member of the control cluster. Every node answers on its own event-bus address,
 * so /cluster can ask each member for its stage and status, and a cluster-wide pause reaches each
 * member of the same pipeline and stage and reports what each did. Only control travels here: no
 * event data depends on the event bus (split brains leave stale subscriptions, eclipse-vertx/vert.x#5202).
 *
 * <p>The control cluster runs on a Vert.x instance of its own, joined in the background once the
 * stage serves ({@link #join}): joining Hazelcast takes seconds, and the stage does not wait for it.
 * Until then this node answers alone.
 */
public final class ClusterNode {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterNode.class);
  private static final long REQUEST_TIMEOUT_MS = 2000;

  private final String localId;
  private final String stage;
  private final String pipeline;
  private final StageControl control;
  private final Supplier<JsonObject> identity;
  private volatile Vertx vertx;
  private volatile ClusterManager clusterManager;
  private volatile boolean closed;
  private MessageConsumer<JsonObject> consumer;

  public ClusterNode(String localId, String stage, String pipeline, StageControl control, Supplier<JsonObject> identity) {
    this.localId = localId;
    this.stage = stage;
    this.pipeline = pipeline;
    this.control = control;
    this.identity = identity;
  }

  public boolean isClustered() {
    return clusterManager != null;
  }

  public String nodeId() {
    ClusterManager manager = clusterManager;
    return manager == null ? localId : manager.getNodeId();
  }

  /** Joins the control cluster with a clustered Vert.x of its own; completes once this node answers on it. */
  public Future<Void> join(Future<Vertx> clustered, ClusterManager manager) {
    return clustered.compose(v -> {
      if (closed) {
        return v.close();
      }
      consumer = v.eventBus().consumer(address(manager.getNodeId()), message -> message.reply(handle(message.body())));
      return consumer.completion().onSuccess(done -> {
        vertx = v;
        clusterManager = manager;
        LOG.info("joined the control cluster as {} ({} members)", manager.getNodeId(), manager.getNodes().size());
      });
    }).onFailure(e -> LOG.warn("cannot join the control cluster; /cluster and ?scope=cluster answer for this instance only: {}",
        e.getMessage()));
  }

  private JsonObject handle(JsonObject request) {
    String action = request.getString("action", "status");
    boolean sameStage = stage.equals(request.getString("stage")) && pipeline.equals(request.getString("pipeline"));
    JsonObject reply = localStatus();
    if ("pause".equals(action) || "resume".equals(action)) {
      if (sameStage) {
        reply.put("changed", "pause".equals(action) ? control.pause() : control.resume());
        reply.put("state", control.isPaused() ? "paused" : "running");
      } else {
        reply.put("skipped", "other stage or pipeline");
      }
    }
    return reply;
  }

  /** Leaves the control cluster. */
  public Future<Void> stop() {
    closed = true;
    Vertx v = vertx;
    return v == null ? Future.succeededFuture() : v.close();
  }

  /** Stage, pipeline, version, state and the stage's own details (partitions, lag, counters). */
  public JsonObject localStatus() {
    return identity.get().put("nodeId", nodeId()).mergeIn(control.status(), true);
  }

  public Future<JsonArray> members() {
    return askAll(new JsonObject().put("action", "status"));
  }

  /** Pause or resume every instance of this pipeline's stage; the answer lists each member's outcome. */
  public Future<JsonArray> broadcast(String action) {
    return askAll(new JsonObject().put("action", action).put("stage", stage).put("pipeline", pipeline));
  }

  private Future<JsonArray> askAll(JsonObject request) {
    Vertx v = vertx;
    ClusterManager manager = clusterManager;
    if (v == null || manager == null) {
      return Future.succeededFuture(new JsonArray().add(handle(request)));
    }
    List<String> nodes = manager.getNodes();
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(REQUEST_TIMEOUT_MS);
    List<Future<JsonObject>> replies = nodes.stream()
        .map(node -> v.eventBus().<JsonObject>request(address(node), request, options)
            .map(m -> m.body())
            .otherwise(e -> new JsonObject().put("nodeId", node).put("state", "unreachable").put("error", e.getMessage())))
        .toList();
    return Future.join(replies).map(done -> {
      JsonArray out = new JsonArray();
      replies.forEach(f -> out.add(f.result()));
      return out;
    });
  }

  private static String address(String node) {
    return "tributary.node." + node;
  }
}

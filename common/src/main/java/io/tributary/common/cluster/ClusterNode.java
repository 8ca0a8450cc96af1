package io.tributary.common.cluster;

import io.tributary.common.ServiceContext;
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

/**
 * This instance as a member of the control cluster. Every node answers on its own event-bus address,
 * so /cluster can ask each member for its stage and status, and a cluster-wide pause reaches each
 * member of the same pipeline and stage and reports what each did. Only control travels here: no
 * event data depends on the event bus (split brains leave stale subscriptions, eclipse-vertx/vert.x#5202).
 */
public final class ClusterNode {

  private static final long REQUEST_TIMEOUT_MS = 2000;

  private final Vertx vertx;
  private final ClusterManager clusterManager;
  private final String nodeId;
  private final String stage;
  private final String pipeline;
  private final StageControl control;
  private final Supplier<JsonObject> identity;
  private MessageConsumer<JsonObject> consumer;

  public ClusterNode(Vertx vertx, ClusterManager clusterManager, String localId, String stage, String pipeline,
      StageControl control, Supplier<JsonObject> identity) {
    this.vertx = vertx;
    this.clusterManager = clusterManager;
    this.nodeId = clusterManager == null ? localId : clusterManager.getNodeId();
    this.stage = stage;
    this.pipeline = pipeline;
    this.control = control;
    this.identity = identity;
  }

  public boolean isClustered() {
    return clusterManager != null;
  }

  public String nodeId() {
    return nodeId;
  }

  public Future<Void> start() {
    consumer = vertx.eventBus().consumer(address(nodeId), message -> {
      JsonObject request = message.body();
      String action = request.getString("action", "status");
      boolean sameStage = stage.equals(request.getString("stage")) && pipeline.equals(request.getString("pipeline"));
      JsonObject reply = localStatus();
      if (("pause".equals(action) || "resume".equals(action))) {
        if (sameStage) {
          reply.put("changed", "pause".equals(action) ? control.pause() : control.resume());
          reply.put("state", control.isPaused() ? "paused" : "running");
        } else {
          reply.put("skipped", "other stage or pipeline");
        }
      }
      message.reply(reply);
    });
    return consumer.completion();
  }

  public Future<Void> stop() {
    return consumer == null ? Future.succeededFuture() : consumer.unregister();
  }

  /** Stage, pipeline, version, state and the stage's own details (partitions, lag, counters). */
  public JsonObject localStatus() {
    return identity.get().put("nodeId", nodeId).mergeIn(control.status(), true);
  }

  public Future<JsonArray> members() {
    return askAll(new JsonObject().put("action", "status"));
  }

  /** Pause or resume every instance of this pipeline's stage; the answer lists each member's outcome. */
  public Future<JsonArray> broadcast(String action) {
    return askAll(new JsonObject().put("action", action).put("stage", stage).put("pipeline", pipeline));
  }

  private Future<JsonArray> askAll(JsonObject request) {
    List<String> nodes = clusterManager == null ? List.of(nodeId) : clusterManager.getNodes();
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(REQUEST_TIMEOUT_MS);
    List<Future<JsonObject>> replies = nodes.stream()
        .map(node -> vertx.eventBus().<JsonObject>request(address(node), request, options)
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

package io.tributary.common.cluster;

import io.tributary.common.StageControl;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This instance as a member of the control cluster. Every node answers on its own event-bus address,
 * so /cluster can ask each member for its stage and status, and a cluster-wide pause reaches each
 * member of the same pipeline and stage and reports what each did; one member can be paused by its
 * id, and a stage can answer questions for the other stages' consoles ({@link #serve}, {@link #askStage}).
 * Only control and console reads travel here: no event data depends on the event bus (split brains
 * leave stale subscriptions, eclipse-vertx/vert.x#5202).
 *
 * <p>The control cluster runs on a Vert.x instance of its own, joined in the background once the
 * stage serves ({@link #join}): joining Hazelcast takes seconds, and the stage does not wait for it.
 * Until then this node answers alone.
 */
public final class ClusterNode {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterNode.class);
  private static final long REQUEST_TIMEOUT_MS = 2000;

  private final String localId;
  /** The stages this member runs: one, or all of a fused chain. */
  private final Set<String> stages;
  /** In a fused process, each stage's own control, for its status; empty otherwise. */
  private final Map<String, StageControl> parts;
  private final String pipeline;
  private final StageControl control;
  private final Supplier<JsonObject> identity;
  private volatile Vertx vertx;
  private volatile ClusterManager clusterManager;
  private volatile boolean closed;
  private volatile JsonArray lastMembers = new JsonArray();
  private MessageConsumer<JsonObject> consumer;
  private final Map<String, Function<JsonObject, Future<JsonObject>>> services = new ConcurrentHashMap<>();

  public ClusterNode(String localId, String stage, String pipeline, StageControl control, Supplier<JsonObject> identity) {
    this(localId, Set.of(stage), Map.of(), pipeline, control, identity);
  }

  /**
   * A member that runs several stages in one process (fused): paused and resumed as one, listed as
   * one member per stage, each with its own status ({@code parts}, in chain order).
   */
  public ClusterNode(String localId, Map<String, StageControl> parts, String pipeline, StageControl control,
      Supplier<JsonObject> identity) {
    this(localId, parts.keySet(), parts, pipeline, control, identity);
  }

  private ClusterNode(String localId, Set<String> stages, Map<String, StageControl> parts, String pipeline, StageControl control,
      Supplier<JsonObject> identity) {
    this.localId = localId;
    this.stages = Set.copyOf(stages);
    this.parts = new LinkedHashMap<>(parts);
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
      consumer = v.eventBus().consumer(address(manager.getNodeId()), message -> handle(message.body()).onComplete(ar -> {
        if (ar.succeeded()) {
          message.reply(ar.result());
        } else {
          message.fail(500, String.valueOf(ar.cause().getMessage()));
        }
      }));
      return consumer.completion().onSuccess(done -> {
        vertx = v;
        clusterManager = manager;
        LOG.info("joined the control cluster as {} ({} members)", manager.getNodeId(), manager.getNodes().size());
      });
    }).onFailure(e -> LOG.warn("cannot join the control cluster; /cluster and ?scope=cluster answer for this instance only: {}",
        e.getMessage()));
  }

  /**
   * Answers questions of {@code action} for the other members (a console asking the aggregate stage
   * for its windows): the request is the JSON a caller of {@link #askStage} sent.
   */
  public void serve(String action, Function<JsonObject, Future<JsonObject>> handler) {
    services.put(action, handler);
  }

  private Future<JsonObject> handle(JsonObject request) {
    String action = request.getString("action", "status");
    Function<JsonObject, Future<JsonObject>> service = services.get(action);
    if (service != null) {
      return service.apply(request);
    }
    JsonObject reply = localStatus();
    if ("status".equals(action)) {
      return Future.succeededFuture(reply);
    }
    if (!"pause".equals(action) && !"resume".equals(action)) {
      return Future.failedFuture("the " + String.join("+", new TreeSet<>(stages)) + " stage does not answer '" + action + "' (yet)");
    }
    boolean addressed = pipeline.equals(request.getString("pipeline"))
        && (runs(request.getString("stage")) || nodeId().equals(request.getString("member")));
    if (addressed) {
      reply.put("changed", "pause".equals(action) ? control.pause() : control.resume());
      reply.put("state", control.isPaused() ? "paused" : "running");
    } else {
      reply.put("skipped", "other stage or pipeline");
    }
    return Future.succeededFuture(reply);
  }

  /** Whether this member runs {@code stage}; a request addressed to a member names no stage. */
  private boolean runs(String stage) {
    return stage != null && stages.contains(stage);
  }

  /** Leaves the control cluster. */
  public Future<Void> stop() {
    closed = true;
    Vertx v = vertx;
    return v == null ? Future.succeededFuture() : v.close();
  }

  /** Stage, pipeline, version, state and the stage's own details (partitions, lag, counters). */
  public JsonObject localStatus() {
    JsonObject status = identity.get().put("nodeId", nodeId()).mergeIn(control.status(), true);
    if (!parts.isEmpty()) {
      JsonArray each = new JsonArray();
      parts.forEach((stage, part) -> each.add(identity.get().put("stage", stage).put("nodeId", nodeId()).mergeIn(part.status(), true)));
      status.put("parts", each);
    }
    return status;
  }

  /** Every member's status; a fused member is listed once per stage it runs. */
  public Future<JsonArray> members() {
    return askAll(new JsonObject().put("action", "status")).map(ClusterNode::perStage).onSuccess(list -> lastMembers = list);
  }

  private static JsonArray perStage(JsonArray replies) {
    JsonArray out = new JsonArray();
    for (Object reply : replies) {
      JsonArray parts = ((JsonObject) reply).getJsonArray("parts");
      if (parts == null) {
        out.add(reply);
      } else {
        parts.forEach(out::add);
      }
    }
    return out;
  }

  /** Pause or resume every instance of this pipeline's {@code targetStage}; the answer lists each member's outcome. */
  public Future<JsonArray> broadcast(String action, String targetStage) {
    return askAll(new JsonObject().put("action", action).put("stage", targetStage).put("pipeline", pipeline));
  }

  /** Pause or resume one member of this pipeline, of any stage, by its node id. */
  public Future<JsonObject> control(String action, String member) {
    JsonObject request = new JsonObject().put("action", action).put("member", member).put("pipeline", pipeline);
    return ask(member, request);
  }

  /**
   * Asks one member of this pipeline's {@code targetStage}: this node when it is one, else the first
   * reachable member the last listing found (listing the cluster again when it knows none).
   */
  public Future<JsonObject> askStage(String targetStage, JsonObject request) {
    if (runs(targetStage)) {
      return handle(request);
    }
    if (vertx == null) {
      return Future.failedFuture("no " + targetStage + " instance: this instance is not in a control cluster");
    }
    String known = memberOf(targetStage, lastMembers);
    Future<String> member = known != null ? Future.succeededFuture(known) : members().map(list -> memberOf(targetStage, list));
    return member.compose(node -> node == null
        ? Future.failedFuture("no " + targetStage + " instance of pipeline '" + pipeline + "' is reachable in the control cluster")
        : ask(node, request));
  }

  private String memberOf(String targetStage, JsonArray members) {
    ClusterManager manager = clusterManager;
    for (Object m : members) {
      JsonObject member = (JsonObject) m;
      if (targetStage.equals(member.getString("stage")) && pipeline.equals(member.getString("pipeline"))
          && manager != null && manager.getNodes().contains(member.getString("nodeId"))) {
        return member.getString("nodeId");
      }
    }
    return null;
  }

  private Future<JsonObject> ask(String node, JsonObject request) {
    Vertx v = vertx;
    if (v == null || node.equals(nodeId())) {
      return node.equals(nodeId()) ? handle(request) : Future.failedFuture("no member " + node + ": not in a control cluster");
    }
    return v.eventBus().<JsonObject>request(address(node), request, new DeliveryOptions().setSendTimeout(REQUEST_TIMEOUT_MS))
        .map(m -> m.body());
  }

  private Future<JsonArray> askAll(JsonObject request) {
    Vertx v = vertx;
    ClusterManager manager = clusterManager;
    if (v == null || manager == null) {
      return handle(request).map(reply -> new JsonArray().add(reply));
    }
    List<String> nodes = manager.getNodes();
    List<Future<JsonObject>> replies = nodes.stream()
        .map(node -> ask(node, request)
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

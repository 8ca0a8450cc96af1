package io.tributary.common.console;

import io.tributary.common.cluster.ClusterNode;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The console's live feed, as server-sent events: every second a {@code snapshot} of every member of
 * the control cluster (stage, state, partitions, counters, lag), from which the page draws rates.
 * One timer serves all open pages and runs only while one is open; a page that does not keep up
 * misses snapshots rather than queueing them, and past {@link #MAX_CLIENTS} a page is refused.
 */
final class ConsoleStream {

  static final int MAX_CLIENTS = 32;
  private static final long PERIOD_MS = 1000;

  private final Vertx vertx;
  private final ClusterNode cluster;
  private final Set<HttpServerResponse> clients = ConcurrentHashMap.newKeySet();
  private long timer = -1;
  /** A listing of the cluster is under way: its answer completes on the cluster's own Vert.x, another thread. */
  private final AtomicBoolean sending = new AtomicBoolean();
  private volatile String lastEvent = "";

  ConsoleStream(Vertx vertx, ClusterNode cluster) {
    this.vertx = vertx;
    this.cluster = cluster;
  }

  void open(RoutingContext ctx) {
    if (clients.size() >= MAX_CLIENTS) {
      ctx.response().setStatusCode(503).putHeader("Retry-After", "10").putHeader("Content-Type", "application/json")
          .end(new JsonObject().put("error", "too many open consoles on this instance (" + MAX_CLIENTS + ")").encode());
      return;
    }
    HttpServerResponse response = ctx.response()
        .setChunked(true)
        .putHeader("Content-Type", "text/event-stream")
        .putHeader("Cache-Control", "no-store")
        .putHeader("X-Accel-Buffering", "no");
    // The browser reconnects after 2 s when the stream breaks; the last snapshot, if any, at once.
    response.write("retry: 2000\n\n" + lastEvent);
    clients.add(response);
    response.closeHandler(v -> clients.remove(response));
    response.exceptionHandler(e -> clients.remove(response));
    synchronized (this) {
      if (timer < 0) {
        timer = vertx.setPeriodic(1, PERIOD_MS, id -> tick());
      }
    }
  }

  private void tick() {
    if (clients.isEmpty()) {
      synchronized (this) {
        vertx.cancelTimer(timer);
        timer = -1;
      }
      return;
    }
    if (!sending.compareAndSet(false, true)) {
      return;
    }
    cluster.members().onComplete(ar -> {
      sending.set(false);
      JsonObject snapshot = new JsonObject()
          .put("time", System.currentTimeMillis())
          .put("clustered", cluster.isClustered())
          .put("self", cluster.nodeId());
      if (ar.succeeded()) {
        snapshot.put("members", ar.result());
      } else {
        snapshot.put("error", "cannot list the cluster: " + ar.cause().getMessage());
      }
      String event = "event: snapshot\ndata: " + snapshot.encode() + "\n\n";
      lastEvent = event;
      for (HttpServerResponse client : clients) {
        if (client.closed() || client.ended()) {
          clients.remove(client);
        } else if (!client.writeQueueFull()) {
          client.write(event);
        }
      }
    });
  }

  void close() {
    synchronized (this) {
      if (timer >= 0) {
        vertx.cancelTimer(timer);
        timer = -1;
      }
    }
    clients.forEach(client -> {
      if (!client.closed() && !client.ended()) {
        client.end();
      }
    });
    clients.clear();
  }
}

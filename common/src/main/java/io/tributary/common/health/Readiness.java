package io.tributary.common.health;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The dependencies a service needs to do its work. Checks run in parallel, each bounded by a
 * timeout, so a hung dependency turns /health/ready into a 503 rather than a hung probe.
 */
public final class Readiness {

  private static final long CHECK_TIMEOUT_MS = 2000;

  private final List<DependencyCheck> checks = new CopyOnWriteArrayList<>();
  private final Consumer<Boolean> onEvaluated;
  private volatile boolean draining;

  /** {@code onEvaluated} hears each answer's verdict (the readiness gauge). */
  public Readiness(Consumer<Boolean> onEvaluated) {
    this.onEvaluated = onEvaluated;
  }

  /**
   * From now on the service answers not ready, whatever its dependencies say: it is shutting down,
   * and load balancers and the Kubernetes endpoints take it out before it stops serving.
   */
  public void drain() {
    draining = true;
    onEvaluated.accept(false);
  }

  public boolean draining() {
    return draining;
  }

  public Readiness register(DependencyCheck check) {
    checks.add(check);
    return this;
  }

  public List<DependencyCheck> checks() {
    return List.copyOf(checks);
  }

  /**
   * Completes with {"status": "UP"|"DOWN", "checks": {...}, "down": [...]}, and "draining": true
   * once {@link #drain()} was called; never fails.
   */
  public Future<JsonObject> evaluate() {
    List<DependencyCheck> current = checks();
    List<Future<JsonObject>> results = current.stream().map(Readiness::run).toList();
    return Future.join(results).transform(ignored -> {
      JsonObject details = new JsonObject();
      JsonArray down = new JsonArray();
      for (int i = 0; i < current.size(); i++) {
        JsonObject result = results.get(i).result();
        details.put(current.get(i).name(), result);
        if (!"UP".equals(result.getString("status"))) {
          down.add(current.get(i).name());
        }
      }
      boolean ready = down.isEmpty() && !draining;
      onEvaluated.accept(ready);
      JsonObject answer = new JsonObject()
          .put("status", ready ? "UP" : "DOWN")
          .put("checks", details)
          .put("down", down);
      if (draining) {
        answer.put("draining", true);
      }
      return Future.succeededFuture(answer);
    });
  }

  private static Future<JsonObject> run(DependencyCheck check) {
    long start = System.nanoTime();
    Future<Void> outcome;
    try {
      outcome = check.check();
    } catch (RuntimeException e) {
      outcome = Future.failedFuture(e);
    }
    return outcome.timeout(CHECK_TIMEOUT_MS, TimeUnit.MILLISECONDS).transform(ar -> {
      JsonObject result = new JsonObject()
          .put("status", ar.succeeded() ? "UP" : "DOWN")
          .put("latencyMs", (System.nanoTime() - start) / 1_000_000);
      if (ar.failed()) {
        result.put("error", String.valueOf(ar.cause().getMessage()));
      }
      return Future.succeededFuture(result);
    });
  }
}

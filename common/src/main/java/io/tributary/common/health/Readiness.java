package io.tributary.common.health;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The dependencies a service needs to do its work. Checks run in parallel, each bounded by a
 * timeout, so a hung dependency turns /health/ready into a 503 rather than a hung probe.
 */
public final class Readiness {

  private static final long CHECK_TIMEOUT_MS = 2000;

  private final List<DependencyCheck> checks = new CopyOnWriteArrayList<>();

  public Readiness register(DependencyCheck check) {
    checks.add(check);
    return this;
  }

  public List<DependencyCheck> checks() {
    return List.copyOf(checks);
  }

  /** Completes with {"status": "UP"|"DOWN", "checks": {...}, "down": [...]}; never fails. */
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
      return Future.succeededFuture(new JsonObject()
          .put("status", down.isEmpty() ? "UP" : "DOWN")
          .put("checks", details)
          .put("down", down));
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

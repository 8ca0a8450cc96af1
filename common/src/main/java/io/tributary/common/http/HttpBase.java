package io.tributary.common.http;

import io.tributary.common.ServiceContext;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routes every service shares: health, metrics, control and cluster. A service mounts its own
 * routes on the router this returns, guarding data-changing ones with {@link #auth()}.
 */
public final class HttpBase {

  private static final Logger LOG = LoggerFactory.getLogger(HttpBase.class);
  private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final ServiceContext service;
  private final BearerAuth auth;

  public HttpBase(ServiceContext service) {
    this.service = service;
    this.auth = new BearerAuth(service.config().secret("CONTROL_TOKEN"));
  }

  public BearerAuth auth() {
    return auth;
  }

  /** A body handler bounded by {@code http.bodyLimitBytes}; over it the request gets a 413. */
  public BodyHandler boundedBody() {
    return BodyHandler.create(false).setBodyLimit(service.config().getLong("http.bodyLimitBytes"));
  }

  public Router router(Vertx vertx) {
    Router router = Router.router(vertx);
    router.get("/health/live").handler(ctx -> Responses.json(ctx, 200, new JsonObject().put("status", "UP")));
    router.get("/health/ready").handler(this::ready);
    router.get("/metrics").handler(this::metrics);
    router.route("/control/*").handler(auth);
    router.get("/control/status").handler(this::status);
    router.post("/control/pause").handler(ctx -> control(ctx, "pause"));
    router.post("/control/resume").handler(ctx -> control(ctx, "resume"));
    router.get("/cluster").handler(this::cluster);
    router.route().failureHandler(this::failure);
    return router;
  }

  private void ready(RoutingContext ctx) {
    service.readiness().evaluate().onComplete(ar -> {
      JsonObject result = ar.result();
      Responses.json(ctx, "UP".equals(result.getString("status")) ? 200 : 503, result);
    });
  }

  private void metrics(RoutingContext ctx) {
    ctx.response().putHeader("Content-Type", PROMETHEUS_TEXT).end(service.registry().scrape());
  }

  private void status(RoutingContext ctx) {
    Responses.json(ctx, 200, service.cluster().localStatus());
  }

  private void control(RoutingContext ctx, String action) {
    if ("cluster".equals(ctx.request().getParam("scope"))) {
      service.cluster().broadcast(action).onComplete(ar -> {
        if (ar.succeeded()) {
          Responses.json(ctx, 200, new JsonObject().put("scope", "cluster").put("action", action).put("members", ar.result()));
        } else {
          Responses.error(ctx, 502, "cluster " + action + " failed: " + ar.cause().getMessage());
        }
      });
      return;
    }
    boolean changed = "pause".equals(action) ? service.control().pause() : service.control().resume();
    LOG.info("{} {} on this instance (changed: {})", action, service.stage(), changed);
    Responses.json(ctx, 200, service.cluster().localStatus().put("changed", changed));
  }

  private void cluster(RoutingContext ctx) {
    service.cluster().members().onComplete(ar -> {
      if (ar.succeeded()) {
        Responses.json(ctx, 200, new JsonObject()
            .put("clustered", service.cluster().isClustered())
            .put("self", service.cluster().nodeId())
            .put("members", ar.result()));
      } else {
        Responses.error(ctx, 502, "cannot list the cluster: " + ar.cause().getMessage());
      }
    });
  }

  private void failure(RoutingContext ctx) {
    int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
    if (status == 413) {
      Responses.error(ctx, 413, "request body over the limit of " + service.config().get("http.bodyLimitBytes") + " bytes");
      return;
    }
    if (status >= 500) {
      LOG.error("request {} {} failed", ctx.request().method(), ctx.request().path(), ctx.failure());
    }
    Responses.error(ctx, status, status >= 500 ? "internal error" : String.valueOf(
        ctx.failure() == null ? "request failed" : ctx.failure().getMessage()));
  }
}

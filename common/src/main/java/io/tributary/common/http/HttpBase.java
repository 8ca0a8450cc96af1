package io.tributary.common.http;

import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.tributary.common.ServiceContext;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routes every service shares: health, metrics, control and cluster. A service mounts its own
 * routes on the router this returns, guarding data-changing ones with {@link #auth()}.
 */
public final class HttpBase {

  private static final Logger LOG = LoggerFactory.getLogger(HttpBase.class);
  private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
  private static final String DECODED_BODY = "tributary.decodedBody";
  private static final List<String> STAGES = List.of("ingest", "enrich", "aggregate");

  private final ServiceContext service;
  private final BearerAuth auth;

  public HttpBase(ServiceContext service) {
    this.service = service;
    this.auth = new BearerAuth(service.config().secret("CONTROL_TOKEN"));
  }

  public BearerAuth auth() {
    return auth;
  }

  /** A body handler bounded by {@code http.bodyLimitBytes}; over it the request gets a 413. Follow it with {@link #decodedBody()}. */
  public BodyHandler boundedBody() {
    return BodyHandler.create(false).setBodyLimit(service.config().getLong("http.bodyLimitBytes"));
  }

  /**
   * Decodes a body sent with a Content-Encoding ({@link ContentDecoding}) for {@link #body}, within the
   * same limit once decoded; answers 400, 413 or 415 with the reason when it cannot.
   */
  public Handler<RoutingContext> decodedBody() {
    long limit = service.config().getLong("http.bodyLimitBytes");
    return ctx -> {
      try {
        ctx.put(DECODED_BODY, ContentDecoding.decode(ctx.request().getHeader(HttpHeaders.CONTENT_ENCODING), ctx.body().buffer(), limit));
      } catch (ContentDecoding.Refused e) {
        Responses.error(ctx, e.status(), e.getMessage());
        return;
      }
      ctx.next();
    };
  }

  /** The request body after {@link #decodedBody()}: null when the request had none. */
  public static Buffer body(RoutingContext ctx) {
    return ctx.get(DECODED_BODY);
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
    router.errorHandler(404, ctx -> Responses.error(ctx, 404, "no such path: " + ctx.request().method() + " " + shortened(ctx.request().path())));
    router.errorHandler(405, ctx -> {
      String allowed = String.join(", ", allowedMethods(router, ctx.normalizedPath()));
      ctx.response().putHeader(HttpHeaders.ALLOW, allowed);
      Responses.error(ctx, 405, ctx.request().method() + " is not allowed on " + shortened(ctx.request().path()) + "; allowed: " + allowed);
    });
    return router;
  }

  /** The methods the router's routes take on this path (templates such as {@code /aggregates/:aggregation}). */
  static Set<String> allowedMethods(Router router, String path) {
    Set<String> methods = new TreeSet<>();
    for (Route route : router.getRoutes()) {
      if (route.methods() != null && route.getPath() != null && matches(route.getPath(), path)) {
        route.methods().forEach(m -> methods.add(m.name()));
      }
    }
    return methods;
  }

  private static boolean matches(String template, String path) {
    String regex = Arrays.stream(template.split("/", -1))
        .map(segment -> segment.startsWith(":") ? "[^/]+" : segment.equals("*") ? ".*" : Pattern.quote(segment))
        .collect(Collectors.joining("/"));
    return path != null && Pattern.matches(regex, path);
  }

  /**
   * A request the HTTP codec could not parse (a request line or headers over the limits, bad syntax):
   * the JSON error every other refusal has, then the connection closes, as the codec requires.
   */
  static void invalidRequest(HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    int status;
    String reason;
    if (cause instanceof TooLongHttpLineException) {
      status = 414;
      reason = "the request line is longer than " + HttpServerOptions.DEFAULT_MAX_INITIAL_LINE_LENGTH + " bytes: shorten the URI";
    } else if (cause instanceof TooLongHttpHeaderException) {
      status = 431;
      reason = "the request headers are larger than " + HttpServerOptions.DEFAULT_MAX_HEADER_SIZE + " bytes";
    } else {
      status = 400;
      reason = "not a valid HTTP request: " + (cause == null ? "unreadable" : shortened(String.valueOf(cause.getMessage())));
    }
    request.response().setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .putHeader(HttpHeaders.CONNECTION, "close")
        .end(new JsonObject().put("error", reason).encode())
        .onComplete(v -> request.connection().close());
  }

  private static String shortened(String text) {
    return text.length() > 100 ? text.substring(0, 100) + "..." : text;
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

  /** The member's status with this stage's own details: in a fused process, the stage this port serves. */
  private void status(RoutingContext ctx) {
    Responses.json(ctx, 200, service.cluster().localStatus().mergeIn(service.control().status(), true).put("stage", service.stage()));
  }

  /**
   * This instance; with {@code ?member=NODE} one member of the pipeline, any stage; with
   * {@code ?scope=cluster} every instance of this stage, or of {@code &stage=}.
   */
  private void control(RoutingContext ctx, String action) {
    String member = ctx.request().getParam("member");
    if (member != null) {
      service.cluster().control(action, member).onComplete(ar -> {
        if (ar.succeeded()) {
          Responses.json(ctx, 200, ar.result());
        } else {
          Responses.error(ctx, 502, action + " of member " + shortened(member) + " failed: " + ar.cause().getMessage());
        }
      });
      return;
    }
    if ("cluster".equals(ctx.request().getParam("scope"))) {
      String named = ctx.request().getParam("stage");
      String stage = named == null ? service.stage() : named;
      if (named != null && !STAGES.contains(named)) {
        Responses.error(ctx, 400, "stage must be one of " + STAGES + ", got '" + shortened(stage) + "'");
        return;
      }
      service.cluster().broadcast(action, stage).onComplete(ar -> {
        if (ar.succeeded()) {
          Responses.json(ctx, 200, new JsonObject().put("scope", "cluster").put("stage", stage).put("action", action)
              .put("members", ar.result()));
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

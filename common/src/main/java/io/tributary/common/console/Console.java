package io.tributary.common.console;

import io.tributary.common.ServiceContext;
import io.tributary.common.http.Answer;
import io.tributary.common.http.Responses;
import io.tributary.common.kafka.KafkaDeadLetterReader;
import io.tributary.common.pipeline.BusRef;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * The live console every service serves at {@code /console/}: a page (plain modules bundled in the
 * jar, no network needed) and the reads it makes. The pipeline as declared, a server-sent stream of
 * every member's state and counters, the newest dead letters, and the aggregate stage's windows,
 * asked over the control cluster when this service is another stage. Pause and resume go through the
 * token-guarded {@code /control} endpoints.
 */
public final class Console {

  /** The control-cluster action the aggregate stage answers console queries on. */
  public static final String AGGREGATES = "aggregates";

  /** Dead letters read back per browse: the page shows the newest of them and filters among them. */
  static final int SCANNED_DEAD_LETTERS = 500;
  private static final int MAX_SHOWN_DEAD_LETTERS = 500;

  private final ServiceContext service;
  private final ConsoleStream stream;
  private final DeadLetterReader deadLetters;

  public Console(Vertx vertx, ServiceContext service) {
    this.service = service;
    this.stream = new ConsoleStream(vertx, service.cluster());
    this.deadLetters = deadLetterReader(vertx, service);
  }

  /** The one place that picks how dead letters are read back: Kafka topics are; RabbitMQ streams are not (yet). */
  private static DeadLetterReader deadLetterReader(Vertx vertx, ServiceContext service) {
    BusRef bus = service.pipeline().buses().deadLetter();
    return bus.isKafka() ? new KafkaDeadLetterReader(vertx, service.config(), service.instanceId() + "-console", bus.target()) : null;
  }

  public void mount(Router router) {
    // The route of /console also matches /console/: only the path without the slash is sent to the page.
    router.get("/console").handler(ctx -> {
      if (ctx.request().path().endsWith("/")) {
        ctx.next();
      } else {
        ctx.redirect("/console/");
      }
    });
    router.get("/console/api/pipeline").handler(this::pipeline);
    router.get("/console/api/stream").handler(stream::open);
    router.get("/console/api/dead-letters").handler(this::deadLetters);
    router.get("/console/api/aggregates/:aggregation").handler(ctx -> aggregates(ctx, new JsonObject()
        .put("query", "top")
        .put("top", ctx.request().getParam("top", "10"))
        .put("by", ctx.request().getParam("by"))));
    router.get("/console/api/aggregates/:aggregation/:group").handler(ctx -> aggregates(ctx, new JsonObject()
        .put("query", "windows")
        .put("group", ctx.pathParam("group"))
        .put("from", ctx.request().getParam("from"))
        .put("to", ctx.request().getParam("to"))));
    router.get("/console/*").handler(StaticHandler.create("console").setCachingEnabled(false));
  }

  private void pipeline(RoutingContext ctx) {
    Responses.json(ctx, 200, PipelineView.of(service.pipeline())
        .put("stage", service.stage())
        .put("instance", service.instanceId())
        .put("nodeId", service.cluster().nodeId())
        .put("version", ServiceContext.VERSION));
  }

  private void deadLetters(RoutingContext ctx) {
    BusRef bus = service.pipeline().buses().deadLetter();
    if (deadLetters == null) {
      Responses.error(ctx, 501, "the console reads dead letters back from Kafka only; this pipeline's dead-letter bus is " + bus
          + ": read its streams with a RabbitMQ stream client");
      return;
    }
    int limit;
    try {
      limit = Integer.parseInt(ctx.request().getParam("limit", "50"));
    } catch (NumberFormatException e) {
      limit = -1;
    }
    if (limit < 1 || limit > MAX_SHOWN_DEAD_LETTERS) {
      Responses.error(ctx, 400, "limit must be a whole number from 1 to " + MAX_SHOWN_DEAD_LETTERS);
      return;
    }
    int shown = limit;
    String reason = ctx.request().getParam("reason");
    deadLetters.latest(SCANNED_DEAD_LETTERS).onComplete(ar -> {
      if (ar.succeeded()) {
        Responses.json(ctx, 200, DeadLetterPage.of(bus.toString(), ar.result(), shown, reason));
      } else {
        Responses.unavailable(ctx, 5, "cannot read the dead letters from " + bus + ": " + ar.cause().getMessage());
      }
    });
  }

  private void aggregates(RoutingContext ctx, JsonObject query) {
    query.put("action", AGGREGATES).put("aggregation", ctx.pathParam("aggregation"));
    Answer.send(ctx, service.cluster().askStage("aggregate", query).map(Answer::fromJson)
        .otherwise(e -> Answer.unavailable(5, "no answer from the aggregate stage: " + e.getMessage())));
  }

  public Future<Void> close() {
    stream.close();
    return deadLetters == null ? Future.succeededFuture() : deadLetters.close();
  }
}

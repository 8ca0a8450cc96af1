package io.tributary.ingest;

import io.tributary.common.ServiceContext;
import io.tributary.common.http.HttpBase;
import io.tributary.common.http.Responses;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /events}: one JSON event, a JSON array, or NDJSON. Answers 202 only after Kafka
 * acknowledged every accepted event (and every dead letter); 400 when nothing in the body is valid;
 * 415 for another content type; 503 with Retry-After when paused, saturated, or when the bus did not
 * acknowledge, in which case the client retries with the same event ids and nothing is double counted.
 */
final class EventsHandler {

  private static final Logger LOG = LoggerFactory.getLogger(EventsHandler.class);

  private final ServiceContext service;
  private final EventIntake intake;
  private final int maxInFlight;
  private final AtomicInteger inFlight = new AtomicInteger();

  EventsHandler(ServiceContext service, EventIntake intake) {
    this.service = service;
    this.intake = intake;
    this.maxInFlight = service.config().getInt("http.maxInFlightRequests");
  }

  /** Runs before the body is read: refuse early what would be refused anyway, so no body is buffered for it. */
  Handler<RoutingContext> admission() {
    return ctx -> {
      if (service.control().isPaused()) {
        Responses.unavailable(ctx, 5, "ingest is paused; resume it with POST /control/resume");
      } else if (bodyKind(ctx) == null) {
        Responses.error(ctx, 415, "unsupported content type '" + ctx.request().getHeader("Content-Type")
            + "'; send application/json (an event or an array) or application/x-ndjson");
      } else if (inFlight.incrementAndGet() > maxInFlight) {
        inFlight.decrementAndGet();
        Responses.unavailable(ctx, 1, "too many requests in flight (" + maxInFlight + "); retry shortly");
      } else {
        ctx.addEndHandler(v -> inFlight.decrementAndGet());
        ctx.next();
      }
    };
  }

  void handle(RoutingContext ctx) {
    List<RawEvent> events;
    try {
      events = "ndjson".equals(bodyKind(ctx)) ? RequestBodies.ndjson(HttpBase.body(ctx)) : RequestBodies.json(HttpBase.body(ctx));
    } catch (RequestBodies.MalformedBody e) {
      Responses.error(ctx, 400, e.getMessage());
      return;
    }
    if (events.isEmpty()) {
      Responses.error(ctx, 400, "the body holds no event");
      return;
    }
    intake.accept(events, "http").onComplete(ar -> {
      if (ar.failed()) {
        LOG.warn("{} events not acknowledged by the bus: {}", events.size(), ar.cause().getMessage());
        Responses.unavailable(ctx, 5, "the bus did not acknowledge the events (" + ar.cause().getMessage()
            + "); none of this request counts as accepted: retry it with the same event ids");
        return;
      }
      EventIntake.Outcome outcome = ar.result();
      JsonArray rejected = new JsonArray();
      outcome.rejected().forEach(r -> rejected.add(r.toJson()));
      JsonObject body = new JsonObject().put("accepted", outcome.accepted()).put("rejected", rejected);
      if (outcome.accepted() == 0) {
        body.put("error", "no event of the body is valid; each one's reason is under 'rejected'");
      }
      Responses.json(ctx, outcome.accepted() == 0 ? 400 : 202, body);
    });
  }

  private static String bodyKind(RoutingContext ctx) {
    String type = ctx.request().getHeader("Content-Type");
    if (type == null) {
      return null;
    }
    String mime = type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    return switch (mime) {
      case "application/json" -> "json";
      case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines" -> "ndjson";
      default -> null;
    };
  }
}

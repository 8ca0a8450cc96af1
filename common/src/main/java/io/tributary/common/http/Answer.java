package io.tributary.common.http;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * An HTTP answer as a value: a status, a JSON body and, for a 503, when to try again. A query answered
 * here or by another member of the control cluster travels as {@link #toJson()}.
 */
public record Answer(int status, JsonObject body, int retryAfterSeconds) {

  public static Answer ok(JsonObject body) {
    return new Answer(200, body, 0);
  }

  public static Answer error(int status, String message) {
    return new Answer(status, new JsonObject().put("error", message), 0);
  }

  public static Answer unavailable(int retryAfterSeconds, String message) {
    return new Answer(503, new JsonObject().put("error", message), retryAfterSeconds);
  }

  /** Sends the answer a query completes with; one that failed all the same is a 500. */
  public static void send(RoutingContext ctx, Future<Answer> answer) {
    answer.otherwise(e -> error(500, "internal error: " + e.getMessage())).onSuccess(a -> a.send(ctx));
  }

  public Future<Void> send(RoutingContext ctx) {
    if (retryAfterSeconds > 0) {
      ctx.response().putHeader("Retry-After", String.valueOf(retryAfterSeconds));
    }
    return Responses.json(ctx, status, body);
  }

  public JsonObject toJson() {
    return new JsonObject().put("status", status).put("body", body).put("retryAfter", retryAfterSeconds);
  }

  public static Answer fromJson(JsonObject json) {
    return new Answer(json.getInteger("status", 502), json.getJsonObject("body", new JsonObject()), json.getInteger("retryAfter", 0));
  }
}

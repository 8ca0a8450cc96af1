package io.tributary.common.http;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** Small helpers for JSON answers. */
public final class Responses {

  private Responses() {
  }

  public static Future<Void> json(RoutingContext ctx, int status, Object body) {
    return ctx.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(body instanceof JsonObject json ? json.encode() : io.vertx.core.json.Json.encode(body));
  }

  public static Future<Void> error(RoutingContext ctx, int status, String message) {
    return json(ctx, status, new JsonObject().put("error", message));
  }

  /** 503 with {@code Retry-After}: the client may send the same request again later. */
  public static Future<Void> unavailable(RoutingContext ctx, int retryAfterSeconds, String message) {
    ctx.response().putHeader("Retry-After", String.valueOf(retryAfterSeconds));
    return error(ctx, 503, message);
  }
}

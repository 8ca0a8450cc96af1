package io.tributary.common.http;

import io.tributary.common.config.Secret;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** Guards control and data-changing routes with {@code Authorization: Bearer <token>}. */
public final class BearerAuth implements Handler<RoutingContext> {

  private static final String PREFIX = "Bearer ";
  private final Secret token;

  public BearerAuth(Secret token) {
    this.token = token;
  }

  @Override
  public void handle(RoutingContext ctx) {
    String header = ctx.request().getHeader("Authorization");
    String presented = header != null && header.regionMatches(true, 0, PREFIX, 0, PREFIX.length())
        ? header.substring(PREFIX.length()).trim()
        : null;
    if (token.matches(presented)) {
      ctx.next();
      return;
    }
    ctx.response()
        .setStatusCode(401)
        .putHeader("WWW-Authenticate", "Bearer realm=\"tributary\"")
        .putHeader("Content-Type", "application/json")
        .end(new JsonObject().put("error", token.isPresent()
            ? "missing or wrong bearer token"
            : "no control token is configured on this instance (TRIBUTARY_CONTROL_TOKEN or TRIBUTARY_CONTROL_TOKEN_FILE)").encode());
  }
}

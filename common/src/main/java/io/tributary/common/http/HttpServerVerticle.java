package io.tributary.common.http;

import io.tributary.common.ServiceContext;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * Serves the shared routes plus the stage's own. Stopped first on shutdown (it is deployed last), it
 * stops taking new requests and lets the ones in flight finish within the shutdown grace.
 */
public final class HttpServerVerticle extends VerticleBase {

  private final ServiceContext service;
  private final BiConsumer<Router, HttpBase> stageRoutes;
  private HttpServer server;

  /** {@code stageRoutes} mounts the stage's routes; the {@link HttpBase} offers auth and body limits. */
  public HttpServerVerticle(ServiceContext service, BiConsumer<Router, HttpBase> stageRoutes) {
    this.service = service;
    this.stageRoutes = stageRoutes;
  }

  @Override
  public Future<?> start() {
    HttpBase base = new HttpBase(service);
    Router router = base.router(vertx);
    stageRoutes.accept(router, base);
    HttpServerOptions options = new HttpServerOptions()
        .setHost(service.config().get("http.host"))
        .setPort(service.config().getInt("http.port"))
        .setCompressionSupported(true)
        .setDecompressionSupported(true);
    return vertx.createHttpServer(options).requestHandler(router).listen().onSuccess(s -> server = s);
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.shutdown(service.config().getLong("shutdown.graceSeconds"), TimeUnit.SECONDS);
  }

  public int actualPort() {
    return server == null ? -1 : server.actualPort();
  }
}

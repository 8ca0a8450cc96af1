package io.tributary.common.http;

import io.tributary.common.ServiceContext;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;

/** Serves only the shared routes: health, metrics, control and cluster. */
public final class BaseHttpVerticle extends VerticleBase {

  private final ServiceHttpServer server;

  public BaseHttpVerticle(ServiceContext service) {
    this.server = new ServiceHttpServer(service);
  }

  @Override
  public Future<?> start() {
    return server.start(vertx, router -> { });
  }

  @Override
  public Future<?> stop() {
    return server.stop();
  }
}

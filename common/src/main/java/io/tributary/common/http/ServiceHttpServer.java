package io.tributary.common.http;

import io.tributary.common.ServiceContext;
import io.tributary.common.console.Console;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A stage's HTTP server: the shared routes of {@link HttpBase}, the {@link Console}, plus the stage's own. A stage verticle
 * starts it last and stops it first, so on shutdown intake ends before the clients close; requests
 * in flight get the shutdown grace to finish.
 */
public final class ServiceHttpServer {

  private final ServiceContext service;
  private final HttpBase base;
  private HttpServer server;
  private Console console;

  public ServiceHttpServer(ServiceContext service) {
    this.service = service;
    this.base = new HttpBase(service);
  }

  /** Offers auth and bounded bodies to the stage's route definitions. */
  public HttpBase base() {
    return base;
  }

  public Future<HttpServer> start(Vertx vertx, Consumer<Router> stageRoutes) {
    Router router = base.router(vertx);
    console = new Console(vertx, service);
    console.mount(router);
    stageRoutes.accept(router);
    HttpServerOptions options = new HttpServerOptions()
        .setHost(service.config().get("http.host"))
        .setPort(service.config().getInt("http.port"))
        .setCompressionSupported(true);
    // Request bodies are decoded by the routes that read them (ContentDecoding), so one that does not
    // decode gets an answer; a request the codec cannot parse gets the same JSON error as the rest.
    return vertx.createHttpServer(options).invalidRequestHandler(HttpBase::invalidRequest).requestHandler(router).listen()
        .onSuccess(s -> server = s);
  }

  public Future<Void> stop() {
    // The console's event streams never end by themselves: closed first, so the shutdown does not wait for them.
    Future<Void> consoleClosed = console == null ? Future.succeededFuture() : console.close();
    return consoleClosed.eventually(() -> server == null ? Future.succeededFuture()
        : server.shutdown(service.config().getLong("shutdown.graceSeconds"), TimeUnit.SECONDS));
  }
}

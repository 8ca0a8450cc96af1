package io.tributary.common.testing;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.launch.ServiceLauncher;
import io.tributary.common.pipeline.Pipeline;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Starts stages in-process on free ports with settings given as environment variables, and talks HTTP to them. */
public final class Harness {

  public static final String TOKEN = "it-token";
  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private Harness() {
  }

  /** A running stage and its port. */
  public record Service(ServiceLauncher.Running running, int port) implements AutoCloseable {
    public String url(String path) {
      return "http://127.0.0.1:" + port + path;
    }

    @Override
    public void close() throws Exception {
      running.close().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
  }

  public static Service start(ServiceLauncher.Stage stage, Pipeline pipeline, Map<String, String> env) throws Exception {
    int port = freePort();
    Map<String, String> all = new HashMap<>(Map.of(
        "TRIBUTARY_HTTP_PORT", String.valueOf(port),
        "TRIBUTARY_HTTP_HOST", "127.0.0.1",
        "TRIBUTARY_CONTROL_TOKEN", TOKEN,
        "TRIBUTARY_SHUTDOWN_GRACE_SECONDS", "5"));
    all.putAll(env);
    ServiceConfig config = ServiceConfig.load(stage.name(), null, all);
    ServiceLauncher.Running running = ServiceLauncher.start(stage, config, pipeline)
        .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    Service service = new Service(running, port);
    await(stage.name() + " ready", Duration.ofSeconds(60), () -> {
      try {
        return send(HttpRequest.newBuilder(URI.create(service.url("/health/ready"))).GET()).statusCode() == 200;
      } catch (Exception e) {
        return false;
      }
    });
    return service;
  }

  public static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    return CLIENT.send(request.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
  }

  public static HttpResponse<String> post(String url, String contentType, String body) throws Exception {
    return send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  public static HttpRequest.Builder authorized(String url) {
    return HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + TOKEN);
  }

  public static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(100);
    }
  }

  public static int freePort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** The repository's root: the first folder above the working directory that holds examples/payments.yaml. */
  public static Path projectRoot() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("examples/payments.yaml"))) {
      dir = dir.getParent();
    }
    if (dir == null) {
      throw new IllegalStateException("no examples/payments.yaml above " + Path.of("").toAbsolutePath());
    }
    return dir;
  }

  /**
   * The demo pipeline (examples/payments.yaml, found above the working directory) under another
   * name, with topics of its own: a test's run leaves nothing another run would find.
   */
  public static String demoPipeline(String name) throws IOException {
    String yaml = Files.readString(projectRoot().resolve("examples/payments.yaml"))
        .replaceFirst("(?m)^pipeline: payments\\b", "pipeline: " + name)
        .replace("kafka:events.ingested", "kafka:" + name + ".ingested")
        .replace("kafka:events.enriched", "kafka:" + name + ".enriched")
        .replace("kafka:aggregates.updates", "kafka:" + name + ".updates")
        .replace("kafka:events.dlq", "kafka:" + name + ".dlq");
    for (String part : List.of("pipeline: " + name, name + ".ingested", name + ".enriched", name + ".updates", name + ".dlq", "store: redis")) {
      if (!yaml.contains(part)) {
        throw new IllegalStateException("examples/payments.yaml changed: the renamed demo lacks '" + part + "'");
      }
    }
    return yaml;
  }
}

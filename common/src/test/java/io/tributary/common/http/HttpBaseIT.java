package io.tributary.common.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.health.Dependency;
import io.tributary.common.launch.ServiceLauncher;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.RedisServer;
import io.vertx.core.json.JsonObject;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The shared HTTP surface against a real Kafka and a Redis of the test's own. */
@ExtendWith(DevStackExtension.class)
class HttpBaseIT {

  private static final String TOKEN = "test-token-123";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final Pipeline PIPELINE = PipelineParser.parse(Path.of("..", "examples", "payments.yaml"));
  private static RedisServer redis;
  private static ServiceLauncher.Running service;
  private static int port;

  @BeforeAll
  static void start(DevStack stack) throws Exception {
    redis = RedisServer.create(false).start();
    port = freePort();
    service = ServiceLauncher.start(stage(), config(stack, port, Map.of()), PIPELINE)
        .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    if (service != null) {
      service.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    redis.close();
  }

  @Test
  void liveAndReadyAnswerWithJson() throws Exception {
    assertThat(get("/health/live").statusCode()).isEqualTo(200);
    HttpResponse<String> ready = awaitStatus("/health/ready", 200);
    JsonObject body = new JsonObject(ready.body());
    assertThat(body.getString("status")).isEqualTo("UP");
    assertThat(body.getJsonObject("checks").fieldNames()).containsExactlyInAnyOrder("kafka", "redis");
  }

  @Test
  void metricsArePrometheusTextWithJvmAndStageMetrics() throws Exception {
    get("/health/live");
    HttpResponse<String> metrics = get("/metrics");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
    assertThat(metrics.body())
        .contains("# TYPE jvm_memory_used_bytes gauge")
        .contains("jvm_gc_")
        .contains("tributary_events_in_total{pipeline=\"payments\",stage=\"test\"}")
        .contains("tributary_processing_latency_seconds_bucket")
        .contains("vertx_http_server_requests_total");
  }

  @Test
  void controlNeedsTheBearerToken() throws Exception {
    assertThat(post("/control/pause", null).statusCode()).isEqualTo(401);
    assertThat(post("/control/pause", "wrong").statusCode()).isEqualTo(401);
    assertThat(get("/control/status").statusCode()).isEqualTo(401);

    HttpResponse<String> paused = post("/control/pause", TOKEN);
    assertThat(paused.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(paused.body()).getString("state")).isEqualTo("paused");
    assertThat(service.context().control().isPaused()).isTrue();

    HttpResponse<String> status = send(HttpRequest.newBuilder(uri("/control/status")).header("Authorization", "Bearer " + TOKEN).GET());
    JsonObject body = new JsonObject(status.body());
    assertThat(body.getString("state")).isEqualTo("paused");
    assertThat(body.getString("pipeline")).isEqualTo("payments");
    assertThat(body.getString("stage")).isEqualTo("test");
    assertThat(body.getString("version")).isNotBlank();

    assertThat(new JsonObject(post("/control/resume", TOKEN).body()).getString("state")).isEqualTo("running");
    assertThat(service.context().control().isPaused()).isFalse();
  }

  @Test
  void readinessNamesRedisWhileItIsDownAndRecovers() throws Exception {
    awaitStatus("/health/ready", 200);
    redis.kill();
    try {
      HttpResponse<String> down = awaitStatus("/health/ready", 503);
      JsonObject body = new JsonObject(down.body());
      assertThat(body.getJsonArray("down").getList()).containsExactly("redis");
      assertThat(body.getJsonObject("checks").getJsonObject("kafka").getString("status")).isEqualTo("UP");
    } finally {
      redis.start();
    }
    awaitStatus("/health/ready", 200);
  }

  @Test
  void clusterWidePauseReachesEveryInstanceOfTheStage(DevStack stack) throws Exception {
    int portA = freePort();
    int portB = freePort();
    Map<String, String> clustered = Map.of("TRIBUTARY_CLUSTER_ENABLED", "true", "TRIBUTARY_CLUSTER_PORT", String.valueOf(freePort()));
    ServiceLauncher.Running a = ServiceLauncher.start(stage(), config(stack, portA, clustered), PIPELINE)
        .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    ServiceLauncher.Running b = ServiceLauncher.start(stage(), config(stack, portB, clustered), PIPELINE)
        .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    try {
      // The control cluster is joined in the background after the service is ready (10-20 s alone, longer on a busy machine).
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      JsonObject members;
      do {
        members = new JsonObject(send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + portA + "/cluster")).GET()).body());
      } while (members.getJsonArray("members").size() < 2 && System.nanoTime() < deadline && sleep());
      assertThat(members.getBoolean("clustered")).isTrue();
      assertThat(members.getJsonArray("members")).hasSize(2);

      // A member listed by the cluster manager may not have its control address registered on the
      // event bus yet: the answer then names it unreachable, and the pause is sent again.
      HttpResponse<String> paused;
      do {
        paused = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + portA + "/control/pause?scope=cluster"))
            .header("Authorization", "Bearer " + TOKEN).POST(HttpRequest.BodyPublishers.noBody()));
        assertThat(paused.statusCode()).isEqualTo(200);
      } while (paused.body().contains("\"unreachable\"") && System.nanoTime() < deadline && sleep());
      assertThat(new JsonObject(paused.body()).getJsonArray("members")).as(paused.body()).hasSize(2);
      assertThat(paused.body()).doesNotContain("\"unreachable\"");
      assertThat(a.context().control().isPaused()).isTrue();
      assertThat(b.context().control().isPaused()).isTrue();
    } finally {
      b.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      a.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static ServiceLauncher.Stage stage() {
    return new ServiceLauncher.Stage("test", p -> Set.of(Dependency.KAFKA, Dependency.REDIS),
        ctx -> List.of(new BaseHttpVerticle(ctx)));
  }

  private static ServiceConfig config(DevStack stack, int httpPort, Map<String, String> extra) {
    Map<String, String> env = new HashMap<>(Map.of(
        "TRIBUTARY_HTTP_PORT", String.valueOf(httpPort),
        "TRIBUTARY_HTTP_HOST", "127.0.0.1",
        "TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", stack.kafkaBootstrapServers(),
        "TRIBUTARY_REDIS_URI", redis.uri(),
        "TRIBUTARY_CONTROL_TOKEN", TOKEN));
    env.putAll(extra);
    return ServiceConfig.load("test", null, env);
  }

  private static HttpResponse<String> awaitStatus(String path, int status) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    HttpResponse<String> response = get(path);
    while (response.statusCode() != status && System.nanoTime() < deadline) {
      Thread.sleep(200);
      response = get(path);
    }
    assertThat(response.statusCode()).as(path + " " + response.body()).isEqualTo(status);
    return response;
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return send(HttpRequest.newBuilder(uri(path)).GET());
  }

  private static HttpResponse<String> post(String path, String token) throws Exception {
    HttpRequest.Builder builder = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.noBody());
    if (token != null) {
      builder.header("Authorization", "Bearer " + token);
    }
    return send(builder);
  }

  private static HttpResponse<String> send(HttpRequest.Builder builder) throws Exception {
    return HTTP.send(builder.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  private static boolean sleep() throws InterruptedException {
    Thread.sleep(200);
    return true;
  }

  static int freePort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}

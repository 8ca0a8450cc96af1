package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.testing.Harness;
import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.ServiceProcess;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The live console against the three services of the demo pipeline, each its own JVM, joined in one
 * control cluster. First its reads over HTTP (the pipeline, dead letters read back from Kafka, the
 * aggregate stage's windows asked from ingest through the cluster, pausing a member of another
 * stage by id); then the page in Debian's Chromium driven by Playwright
 * ({@code src/test/console/console-check.mjs}), which saves its screenshots under
 * {@code target/console/}.
 */
@ExtendWith(DevStackExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleIT {

  private static final String NAME = "console" + UUID.randomUUID().toString().substring(0, 8);
  private static final Duration READY = Duration.ofSeconds(90);
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

  private static final List<ServiceProcess> services = new ArrayList<>();
  private static ServiceProcess ingest;
  private static ServiceProcess enrich;
  private static ServiceProcess aggregate;

  @BeforeAll
  static void start(DevStack stack) throws Exception {
    Path pipeline = Files.createTempFile(NAME, ".yaml");
    Files.writeString(pipeline, Harness.demoPipeline(NAME));
    int clusterPort = Harness.freePort();
    Map<String, String> env = new HashMap<>(Map.of(
        "TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", stack.kafkaBootstrapServers(),
        "TRIBUTARY_REDIS_URI", stack.redisUri(),
        "TRIBUTARY_CONTROL_TOKEN", Harness.TOKEN,
        "TRIBUTARY_HTTP_HOST", "127.0.0.1",
        "TRIBUTARY_KAFKA_PARTITIONS", "2",
        "TRIBUTARY_SHUTDOWN_GRACE_SECONDS", "5",
        "TRIBUTARY_CLUSTER_ENABLED", "true",
        "TRIBUTARY_CLUSTER_PORT", String.valueOf(clusterPort),
        "TRIBUTARY_CLUSTER_MEMBERS", "127.0.0.1:" + clusterPort + ",127.0.0.1:" + (clusterPort + 1) + ",127.0.0.1:" + (clusterPort + 2)));
    Path logs = Path.of("target", "console-logs");
    Files.createDirectories(logs);
    for (String stage : List.of("ingest", "enrich", "aggregate")) {
      ServiceProcess service = new ServiceProcess("io.tributary." + stage + ".Main", List.of("--pipeline", pipeline.toString()), env,
          Harness.freePort(), logs.resolve(NAME + "-" + stage + ".log"));
      services.add(service);
      service.start(READY);
    }
    ingest = services.get(0);
    enrich = services.get(1);
    aggregate = services.get(2);
    HttpResponse<String> merchant = Harness.send(Harness.authorized(enrich.url("/reference/merchant/M1"))
        .header("Content-Type", "application/json")
        .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"Cafe Lumiere\",\"category\":\"food\",\"country\":\"FR\",\"risk\":\"low\"}")));
    assertThat(merchant.statusCode()).as(merchant.body()).isEqualTo(200);
    // The control cluster is joined in the background after the services are ready.
    Harness.await("three members in the control cluster", Duration.ofSeconds(120), () -> {
      try {
        JsonObject cluster = get(ingest, "/cluster");
        return cluster.getJsonArray("members").stream().map(JsonObject.class::cast)
            .filter(m -> NAME.equals(m.getString("pipeline"))).count() == 3;
      } catch (Exception e) {
        return false;
      }
    });
  }

  @AfterAll
  static void stop() {
    services.forEach(ServiceProcess::close);
  }

  @Test
  @Order(1)
  void theConsoleReadsThePipelineDeadLettersAndAggregatesFromAnyService() throws Exception {
    JsonObject pipeline = get(enrich, "/console/api/pipeline");
    assertThat(pipeline.getString("pipeline")).isEqualTo(NAME);
    assertThat(pipeline.getString("stage")).isEqualTo("enrich");
    assertThat(pipeline.getJsonObject("buses").getString("deadLetter")).isEqualTo("kafka:" + NAME + ".dlq");
    assertThat(pipeline.getJsonArray("aggregations").stream().map(a -> ((JsonObject) a).getString("name")).toList())
        .containsExactly("spend_by_card", "spend_by_category");

    String bad = "bad-" + UUID.randomUUID();
    HttpResponse<String> posted = Harness.post(ingest.url("/events"), "application/x-ndjson",
        "{\"txn_id\":\"" + bad + "\",\"card_id\":\"C1\",\"merchant_id\":\"M1\",\"amount\":\"lots\"}\n"
            + "{\"txn_id\":\"api-1\",\"card_id\":\"CAPI\",\"merchant_id\":\"M1\",\"amount\":7.25}\n");
    assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);

    AtomicReference<JsonObject> letters = new AtomicReference<>();
    Harness.await("the dead letter read back by the aggregate service's console", Duration.ofSeconds(30), () -> {
      try {
        letters.set(get(aggregate, "/console/api/dead-letters?limit=10&reason=" + URLEncoder.encode("AMOUNT", StandardCharsets.UTF_8)));
        return letters.get().getJsonArray("deadLetters").stream().anyMatch(d -> ((JsonObject) d).getString("input").contains(bad));
      } catch (Exception e) {
        return false;
      }
    });
    JsonObject letter = letters.get().getJsonArray("deadLetters").stream().map(JsonObject.class::cast)
        .filter(d -> d.getString("input").contains(bad)).findFirst().orElseThrow();
    assertThat(letter.getString("stage")).isEqualTo("ingest");
    assertThat(letter.getString("reason")).contains("amount").contains("number");
    assertThat(letters.get().getJsonArray("reasons").stream().map(r -> ((JsonObject) r).getString("reason")))
        .contains(letter.getString("reason"));
    JsonObject none = get(aggregate, "/console/api/dead-letters?reason=no-such-reason-anywhere");
    assertThat(none.getJsonArray("deadLetters")).isEmpty();
    assertThat(status(aggregate, "/console/api/dead-letters?limit=0")).isEqualTo(400);

    // Ingest holds no aggregation state: it asks the aggregate stage over the control cluster, and
    // gets what the aggregate service answers itself.
    Harness.await("card CAPI aggregated", Duration.ofSeconds(60), () -> {
      try {
        return get(aggregate, "/aggregates/spend_by_card/CAPI").getJsonArray("windows").size() == 1;
      } catch (Exception e) {
        return false;
      }
    });
    JsonObject direct = get(aggregate, "/aggregates/spend_by_card/CAPI");
    JsonObject viaIngest = get(ingest, "/console/api/aggregates/spend_by_card/CAPI");
    assertThat(viaIngest).isEqualTo(direct);
    JsonObject top = get(ingest, "/console/api/aggregates/spend_by_card?top=1000&by=total");
    assertThat(top.getJsonArray("top").stream().map(t -> ((JsonObject) t).getString("group"))).contains("CAPI");
    assertThat(status(ingest, "/console/api/aggregates/no_such_aggregation?top=3")).isEqualTo(404);
    assertThat(status(ingest, "/console/api/aggregates/spend_by_card?top=0")).isEqualTo(400);

    // Pausing one member of another stage by its id: refused without the token, done with it.
    String enrichNode = get(enrich, "/console/api/pipeline").getString("nodeId");
    HttpResponse<String> refused = Harness.send(HttpRequest.newBuilder(URI.create(ingest.url("/control/pause?member=" + enrichNode)))
        .POST(HttpRequest.BodyPublishers.noBody()));
    assertThat(refused.statusCode()).isEqualTo(401);
    HttpResponse<String> paused = Harness.send(Harness.authorized(ingest.url("/control/pause?member=" + enrichNode))
        .POST(HttpRequest.BodyPublishers.noBody()));
    assertThat(paused.statusCode()).as(paused.body()).isEqualTo(200);
    assertThat(new JsonObject(paused.body()).getString("state")).isEqualTo("paused");
    assertThat(controlState(enrich)).isEqualTo("paused");
    assertThat(controlState(ingest)).isEqualTo("running");
    HttpResponse<String> resumed = Harness.send(Harness.authorized(ingest.url("/control/resume?scope=cluster&stage=enrich"))
        .POST(HttpRequest.BodyPublishers.noBody()));
    assertThat(resumed.statusCode()).as(resumed.body()).isEqualTo(200);
    assertThat(controlState(enrich)).isEqualTo("running");
  }

  @Test
  @Order(2)
  void theConsolePageInChromiumShowsThePipelineLiveAndPausesAStage() throws Exception {
    assertThat(CHROMIUM).as("Debian's chromium (sudo bash deploy/local/services.sh installs it)").exists();
    Path scripts = Harness.projectRoot().resolve("aggregate-service/src/test/console");
    Path out = Path.of("target", "console").toAbsolutePath();
    Files.createDirectories(out);
    if (!Files.exists(scripts.resolve("node_modules/playwright-core"))) {
      run(scripts, Duration.ofMinutes(5), "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error");
    }
    String output = run(scripts, Duration.ofMinutes(8), "node", "console-check.mjs", "--console", ingest.url("/console/"),
        "--ingest", ingest.url(""), "--token", Harness.TOKEN, "--out", out.toString());
    assertThat(output).contains("ok: ");
    assertThat(out.resolve("console.png")).exists();
  }

  private static String run(Path dir, Duration timeout, String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    StringBuilder output = new StringBuilder();
    Thread reader = new Thread(() -> {
      try {
        output.append(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        output.append(e);
      }
    });
    reader.start();
    boolean finished = process.waitFor(timeout.toSeconds(), TimeUnit.SECONDS);
    if (!finished) {
      process.destroyForcibly();
    }
    reader.join(10_000);
    assertThat(finished).as(String.join(" ", command) + " finished within " + timeout + ":\n" + output).isTrue();
    assertThat(process.exitValue()).as(String.join(" ", command) + ":\n" + output).isZero();
    return output.toString();
  }

  private static String controlState(ServiceProcess service) throws Exception {
    HttpResponse<String> status = Harness.send(Harness.authorized(service.url("/control/status")).GET());
    return new JsonObject(status.body()).getString("state");
  }

  private static JsonObject get(ServiceProcess service, String path) throws Exception {
    HttpResponse<String> r = Harness.send(HttpRequest.newBuilder(URI.create(service.url(path))).GET());
    assertThat(r.statusCode()).as("GET " + path + ": " + r.body()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  private static int status(ServiceProcess service, String path) throws Exception {
    return Harness.send(HttpRequest.newBuilder(URI.create(service.url(path))).GET()).statusCode();
  }
}

package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.testing.Harness;
import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.ServiceProcess;
import io.tributary.devstack.TopicProbe;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
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
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The README's curl walkthrough, request for request, on the demo pipeline (under a name and topics
 * of this run) as three services, then as one fused process: both print the same. Between the two,
 * what a user switching shapes meets: the fused process refuses the services' state and names the
 * way out, the reset tool removes that state, and the walkthrough's events then count as new ones.
 */
@ExtendWith(DevStackExtension.class)
class WalkthroughIT {

  private static final Duration READY = Duration.ofSeconds(120);
  private static final Duration OUTPUT = Duration.ofSeconds(60);
  /** What differs between two runs of the same requests: arrival times, window bounds, and ids made of them. */
  private static final Set<String> TIMES = Set.of("ts", "start", "end", "windowStart", "windowEnd", "from", "to", "startTime", "endTime", "id", "rejectedAt");

  private final String name = "walk_" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);
  private final List<ServiceProcess> running = new ArrayList<>();
  private DevStack devstack;
  private Path pipeline;
  private Path logs;
  private Map<String, String> env;

  @AfterEach
  void stop() {
    running.forEach(ServiceProcess::close);
    if (devstack != null) {
      devstack.deleteRedisKeys(devstack.redisUri(), "tributary:" + name + ":*");
    }
  }

  @Test
  void theWalkthroughPrintsTheSameAsThreeServicesAndFusedAndASwitchOfShapeNeedsAReset(DevStack stack) throws Exception {
    devstack = stack;
    pipeline = Files.createTempFile(name, ".yaml");
    Files.writeString(pipeline, Harness.demoPipeline(name));
    logs = Path.of("target", "walkthrough-logs");
    Files.createDirectories(logs);
    env = Map.of(
        "TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", stack.kafkaBootstrapServers(),
        "TRIBUTARY_REDIS_URI", stack.redisUri(),
        "TRIBUTARY_SQL_URL", stack.jdbcUrl(),
        "TRIBUTARY_CONTROL_TOKEN", Harness.TOKEN,
        "TRIBUTARY_HTTP_HOST", "127.0.0.1",
        "TRIBUTARY_KAFKA_PARTITIONS", "2",
        "TRIBUTARY_SHUTDOWN_GRACE_SECONDS", "5");

    List<ServiceProcess> services = startServices();
    // Ready means able to work at once: the transactional producer started, the store prepared and its shape claimed.
    JsonObject ingestReady = new JsonObject(get(services.get(0), "/health/ready").substring(4));
    assertThat(ingestReady.getJsonObject("checks").getJsonObject("kafka producer").getString("status")).isEqualTo("UP");
    JsonObject aggregateReady = new JsonObject(get(services.get(2), "/health/ready").substring(4));
    assertThat(aggregateReady.getJsonObject("checks").getJsonObject("state store prepared").getString("status")).isEqualTo("UP");
    Printed asServices = walkthrough(services.get(0), services.get(1), services.get(2));
    services.forEach(ServiceProcess::close);

    ServiceProcess[] fused = fused();
    assertRefused(fused[0], name + "-fused.log", "keeps its state as three services");

    String reset = reset();
    assertThat(reset).contains("removed Kafka topic " + name + ".enriched").contains("removed Kafka topic " + name + ".ingested")
        .contains("removed Kafka consumer group tributary." + name + ".aggregate").contains("Redis keys of aggregation state")
        .contains("Redis keys of histories").doesNotContain("failed");

    running.add(fused[0].start(READY));
    Printed asFused = walkthrough(fused[0], fused[1], fused[2]);
    assertThat(asFused).isEqualTo(asServices);

    fused[0].close();
    assertRefused(service("aggregate", "-again"), name + "-aggregate-again.log", "keeps its state as fused processes");
  }

  /** The process exits 2, before or after it serves, with the reason and the way out in its log. */
  private void assertRefused(ServiceProcess process, String logFile, String reason) throws Exception {
    running.add(process);
    try {
      process.startLive(READY);
    } catch (IllegalStateException exitedBeforeServing) {
      assertThat(exitedBeforeServing).hasMessageContaining("exited with 2");
    }
    Harness.await(logFile + " to exit", Duration.ofSeconds(60), () -> !process.isAlive());
    assertThat(process.exitValue()).as("exit code of " + logFile).isEqualTo(2);
    assertThat(log(logFile)).contains(reason).contains("deploy/local/run.sh reset");
  }

  /** What the walkthrough prints, with what differs between two runs of it (times, window bounds) left out. */
  record Printed(String posted, String postedT4, List<String> enriched, List<String> deadLetters, Object cardWindows,
                 Object foodWindows, Map<String, List<Object>> newestUpdates) {
  }

  private Printed walkthrough(ServiceProcess ingest, ServiceProcess enrich, ServiceProcess aggregate) throws Exception {
    assertThat(send(Harness.authorized(enrich.url("/reference/merchant/M1")).header("Content-Type", "application/json")
        .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"Cafe Lumiere\",\"category\":\"food\",\"country\":\"FR\",\"risk\":\"low\"}"))))
        .startsWith("200 ");
    assertThat(send(Harness.authorized(enrich.url("/reference/blocked_cards/C666")).PUT(HttpRequest.BodyPublishers.noBody())))
        .startsWith("200 ");
    assertThat(send(Harness.authorized(enrich.url("/reference/merchant")).header("Content-Type", "text/csv")
        .POST(HttpRequest.BodyPublishers.ofString("key,name,category,country,risk\nM2,Book Nook,books,DE,low\nM3,Fuel Stop,fuel,FR,high\n"))))
        .isEqualTo("200 {\"loaded\":2,\"rejected\":0,\"errors\":[],\"lookup\":\"merchant\"}");

    String posted = send(HttpRequest.newBuilder(java.net.URI.create(ingest.url("/events"))).header("Content-Type", "application/x-ndjson")
        .POST(HttpRequest.BodyPublishers.ofString(String.join("\n",
            "{\"txn_id\":\"t1\",\"card_id\":\"C1\",\"merchant_id\":\"M1\",\"amount\":12.5}",
            "{\"txn_id\":\"t2\",\"card_id\":\"C666\",\"merchant_id\":\"M2\",\"amount\":40}",
            "{\"txn_id\":\"t3\",\"card_id\":\"C2\",\"merchant_id\":\"M3\",\"amount\":\"lots\"}") + "\n")));
    assertThat(posted).isEqualTo("202 {\"accepted\":2,\"rejected\":[{\"index\":2,\"error\":\"field 'amount' must be a number, got string \\\"lots\\\"\"}]}");
    // The history step: t4 must see t1, so it is sent once t1 is out of enrich.
    List<TopicProbe.Message> first = TopicProbe.read(devstack.kafkaBootstrapServers(), name + ".enriched", OUTPUT, list -> list.size() >= 1);
    assertThat(first).as("t1 on the enriched topic").isNotEmpty();
    String postedT4 = send(HttpRequest.newBuilder(java.net.URI.create(ingest.url("/events"))).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"txn_id\":\"t4\",\"card_id\":\"C1\",\"merchant_id\":\"M2\",\"amount\":40}")));
    assertThat(postedT4).isEqualTo("202 {\"accepted\":1,\"rejected\":[]}");

    List<TopicProbe.Message> enriched = TopicProbe.readToEnd(devstack.kafkaBootstrapServers(), name + ".enriched", OUTPUT,
        list -> list.size() >= 2);
    List<String> enrichedPrinted = enriched.stream().map(m -> m.key() + " " + new TreeMap<>(headersWithoutTimes(m.headers())) + " "
        + normalize(new JsonObject(m.value()))).toList();
    assertThat(enrichedPrinted).as("t1 and t4, t2's card blocked, t3 refused").hasSize(2);
    JsonObject t4 = new JsonObject(enriched.get(1).value());
    assertThat(t4.getString("txn_id")).isEqualTo("t4");
    assertThat(t4.getJsonObject("card").encode()).as("t4's history: t1 alone")
        .isEqualTo("{\"count_1h\":1,\"spend_1h\":12.5,\"spend_24h\":12.5,\"last_merchants\":[\"M1\"]}");
    assertThat(t4.getJsonObject("merchant").getString("name")).isEqualTo("Book Nook");

    List<TopicProbe.Message> dead = TopicProbe.readToEnd(devstack.kafkaBootstrapServers(), name + ".dlq", OUTPUT, list -> list.size() >= 1);
    List<String> deadPrinted = dead.stream().map(m -> String.valueOf(normalize(new JsonObject(m.value())))).toList();

    Harness.await("C1's windows to count t1 and t4", OUTPUT, () -> get(aggregate, "/aggregates/spend_by_card/C1").contains("\"count\":2"));
    JsonObject card = new JsonObject(get(aggregate, "/aggregates/spend_by_card/C1").substring(4));
    JsonObject food = new JsonObject(get(aggregate, "/aggregates/spend_by_category/food").substring(4));

    Map<String, List<Object>> newest = new TreeMap<>();
    Map<String, JsonObject> highest = new HashMap<>();
    List<TopicProbe.Message> updates = TopicProbe.readToEnd(devstack.kafkaBootstrapServers(), name + ".updates", OUTPUT, list -> {
      list.forEach(m -> {
        JsonObject u = new JsonObject(m.value());
        highest.merge(u.getString("aggregation") + "|" + u.getString("group") + "|" + u.getLong("windowStart"), u,
            (a, b) -> a.getLong("version") >= b.getLong("version") ? a : b);
      });
      return highest.values().stream().anyMatch(u -> u.getString("group").equals("C1") && u.getLong("version") == 2);
    });
    assertThat(updates).isNotEmpty();
    highest.values().forEach(u -> newest.computeIfAbsent(u.getString("aggregation") + "|" + u.getString("group"), k -> new ArrayList<>())
        .add(normalize(u)));
    newest.values().forEach(list -> list.sort((a, b) -> a.toString().compareTo(b.toString())));
    return new Printed(posted, postedT4, enrichedPrinted, deadPrinted, normalize(card), normalize(food), newest);
  }

  // ---- processes --------------------------------------------------------------------------------

  private List<ServiceProcess> startServices() throws Exception {
    List<ServiceProcess> services = new ArrayList<>();
    for (String stage : List.of("ingest", "enrich", "aggregate")) {
      ServiceProcess service = service(stage, "");
      running.add(service);
      services.add(service.start(READY));
    }
    return services;
  }

  private ServiceProcess service(String stage, String logSuffix) throws Exception {
    return new ServiceProcess("io.tributary." + stage + ".Main", List.of("--pipeline", pipeline.toString()), env, Harness.freePort(),
        logs.resolve(name + "-" + stage + logSuffix + ".log"));
  }

  /** The fused process, as its three ports (ingest's first). */
  private ServiceProcess[] fused() throws Exception {
    int enrichPort = Harness.freePort();
    int aggregatePort = Harness.freePort();
    Map<String, String> ports = new HashMap<>(env);
    ports.put("TRIBUTARY_FUSED_ENRICH_HTTP_PORT", String.valueOf(enrichPort));
    ports.put("TRIBUTARY_FUSED_AGGREGATE_HTTP_PORT", String.valueOf(aggregatePort));
    ServiceProcess process = new ServiceProcess("io.tributary.fused.Main", List.of("--pipeline", pipeline.toString()), ports,
        Harness.freePort(), logs.resolve(name + "-fused.log"));
    return new ServiceProcess[] {process, process.onPort(enrichPort), process.onPort(aggregatePort)};
  }

  /** Runs the reset tool as a user would, in a JVM of its own; answers what it printed. */
  private String reset() throws Exception {
    ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "io.tributary.reset.Main", "--pipeline", pipeline.toString())
        .redirectErrorStream(true);
    builder.environment().putAll(env);
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as("reset exit code; it printed:\n" + output).isZero();
    return output;
  }

  private String log(String file) throws Exception {
    return Files.readString(logs.resolve(file));
  }

  // ---- HTTP and normalising ---------------------------------------------------------------------

  private static String send(HttpRequest.Builder request) throws Exception {
    HttpResponse<String> response = Harness.send(request);
    return response.statusCode() + " " + response.body();
  }

  private static String get(ServiceProcess service, String path) {
    try {
      return send(HttpRequest.newBuilder(java.net.URI.create(service.url(path))).GET());
    } catch (Exception e) {
      return "000 " + e;
    }
  }

  private static Map<String, String> headersWithoutTimes(Map<String, String> headers) {
    Map<String, String> kept = new HashMap<>(headers);
    kept.replaceAll((k, v) -> k.contains("time") || k.contains("accepted") ? "<time>" : v);
    return kept;
  }

  /** A JSON value with the keys of {@link #TIMES} left out at every level. */
  private static Object normalize(Object json) {
    if (json instanceof JsonObject object) {
      TreeMap<String, Object> kept = new TreeMap<>();
      object.forEach(e -> {
        if (!TIMES.contains(e.getKey())) {
          kept.put(e.getKey(), normalize(e.getValue()));
        }
      });
      return kept;
    }
    if (json instanceof JsonArray array) {
      List<Object> kept = new ArrayList<>();
      array.forEach(v -> kept.add(normalize(v)));
      return kept;
    }
    if (json instanceof String text && text.startsWith("{")) {
      try {
        return normalize(new JsonObject(text));
      } catch (RuntimeException notJson) {
        return text;
      }
    }
    return json;
  }
}

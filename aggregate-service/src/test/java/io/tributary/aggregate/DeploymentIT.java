package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.testing.Harness;
import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.ServiceProcess;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.yaml.snakeyaml.Yaml;

/**
 * What the deployment artifacts rely on, checked against the three services running as their own
 * JVMs: every metric the Grafana dashboard and the alert rules query is one the services export
 * (readiness, ingest's latency and the Kafka clients' own metrics among them); SIGTERM turns
 * readiness down while the service keeps serving for the drain time; and deploy/verify/verify.sh
 * (Kubernetes and KEDA schemas, promtool, docker-compose) passes.
 */
@ExtendWith(DevStackExtension.class)
class DeploymentIT {

  private static final String NAME = "deploy" + UUID.randomUUID().toString().substring(0, 8);
  private static final Duration READY = Duration.ofSeconds(90);
  /** A metric name in a PromQL expression: the prefixes the services export. */
  private static final Pattern METRIC = Pattern.compile("\\b((?:tributary|jvm|kafka|process|vertx|system)_[a-z0-9_]+)\\b");

  private static Path root;
  private static Path pipeline;
  private static Map<String, String> env;
  private static final List<ServiceProcess> services = new ArrayList<>();

  @BeforeAll
  static void start(DevStack stack) throws Exception {
    root = Harness.projectRoot();
    pipeline = Files.createTempFile(NAME, ".yaml");
    Files.writeString(pipeline, Harness.demoPipeline(NAME));
    env = new HashMap<>(Map.of(
        "TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", stack.kafkaBootstrapServers(),
        "TRIBUTARY_REDIS_URI", stack.redisUri(),
        "TRIBUTARY_CONTROL_TOKEN", Harness.TOKEN,
        "TRIBUTARY_HTTP_HOST", "127.0.0.1",
        "TRIBUTARY_KAFKA_PARTITIONS", "2",
        "TRIBUTARY_SHUTDOWN_GRACE_SECONDS", "5"));
  }

  @AfterAll
  static void stop() {
    services.forEach(ServiceProcess::close);
  }

  private static ServiceProcess service(String stage, Map<String, String> extra) throws Exception {
    Path logs = Path.of("target", "deployment-logs");
    Files.createDirectories(logs);
    Map<String, String> all = new HashMap<>(env);
    all.putAll(extra);
    ServiceProcess service = new ServiceProcess("io.tributary." + stage + ".Main", List.of("--pipeline", pipeline.toString()), all,
        Harness.freePort(), logs.resolve(NAME + "-" + stage + "-" + services.size() + ".log"));
    services.add(service);
    return service;
  }

  @Test
  void theDashboardAndTheAlertsQueryOnlyMetricsTheServicesExport() throws Exception {
    ServiceProcess ingest = service("ingest", Map.of()).start(READY);
    ServiceProcess enrich = service("enrich", Map.of()).start(READY);
    ServiceProcess aggregate = service("aggregate", Map.of()).start(READY);
    HttpResponse<String> posted = Harness.post(ingest.url("/events"), "application/json",
        "{\"txn_id\":\"d1\",\"card_id\":\"C1\",\"merchant_id\":\"M1\",\"amount\":3.5}");
    assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);
    Harness.await("the event aggregated", Duration.ofSeconds(60), () -> {
      try {
        return Harness.send(HttpRequest.newBuilder(URI.create(aggregate.url("/aggregates/spend_by_card/C1"))).GET()).statusCode() == 200;
      } catch (Exception e) {
        return false;
      }
    });

    Map<String, String> scrapes = new HashMap<>();
    Set<String> exported = new TreeSet<>();
    for (ServiceProcess service : List.of(ingest, enrich, aggregate)) {
      // The readiness gauge is set every 5 s; wait for it rather than for a fixed time.
      Harness.await("tributary_ready 1 on " + service.url("/"), Duration.ofSeconds(20), () -> scrape(service).contains("tributary_ready{")
          && sample(scrape(service), "tributary_ready") == 1.0);
      String text = scrape(service);
      scrapes.put(service.url("/"), text);
      for (String line : text.split("\n")) {
        if (!line.startsWith("#") && !line.isBlank()) {
          exported.add(line.split("[{ ]", 2)[0]);
        }
      }
    }
    assertThat(sample(scrapes.get(ingest.url("/")), "tributary_processing_latency_seconds_count"))
        .as("ingest records its processing latency").isGreaterThanOrEqualTo(1.0);
    assertThat(exported).as("the Kafka clients' own metrics")
        .anyMatch(name -> name.startsWith("kafka_producer_"))
        .anyMatch(name -> name.startsWith("kafka_consumer_"));

    Set<String> queried = new TreeSet<>();
    for (String expr : dashboardQueries()) {
      queried.addAll(metricNames(expr));
    }
    int fromDashboard = queried.size();
    for (String expr : alertExpressions()) {
      queried.addAll(metricNames(expr));
    }
    assertThat(fromDashboard).as("metrics the dashboard queries").isGreaterThanOrEqualTo(5);
    assertThat(queried).as("metrics the dashboard and alerts query").contains("tributary_ready");
    assertThat(exported).as("exported metrics").containsAll(queried);
  }

  @Test
  void sigtermTurnsReadinessDownFirstAndKeepsServingForTheDrainTime() throws Exception {
    ServiceProcess ingest = service("ingest", Map.of("TRIBUTARY_SHUTDOWN_DRAIN_SECONDS", "4")).start(READY);
    ingest.terminate();
    long signalled = System.nanoTime();
    Harness.await("readiness down after SIGTERM", Duration.ofSeconds(3), () -> ingest.status("/health/ready") == 503);
    HttpResponse<String> ready = Harness.send(HttpRequest.newBuilder(URI.create(ingest.url("/health/ready"))).GET());
    assertThat(new JsonObject(ready.body()).getBoolean("draining")).as(ready.body()).isTrue();
    assertThat(sample(scrape(ingest), "tributary_ready")).isEqualTo(0.0);
    assertThat(ingest.status("/health/live")).isEqualTo(200);
    HttpResponse<String> posted = Harness.post(ingest.url("/events"), "application/json",
        "{\"txn_id\":\"drain1\",\"card_id\":\"C2\",\"merchant_id\":\"M1\",\"amount\":1}");
    assertThat(posted.statusCode()).as("accepted while draining: %s", posted.body()).isEqualTo(202);
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled)).as("all of that within the drain time").isLessThan(4000);
    Harness.await("ingest exits after drain and grace", Duration.ofSeconds(20), () -> !ingest.isAlive());
  }

  @Test
  void theDeploymentArtifactsPassTheirChecks() throws Exception {
    Process verify = new ProcessBuilder("bash", root.resolve("deploy/verify/verify.sh").toString()).directory(root.toFile())
        .redirectErrorStream(true).start();
    String output = new String(verify.getInputStream().readAllBytes());
    assertThat(verify.waitFor(300, TimeUnit.SECONDS)).as("verify.sh finished").isTrue();
    assertThat(verify.exitValue()).as("deploy/verify/verify.sh:\n" + output).isZero();
    assertThat(output).contains("ok: ");
  }

  private static List<String> dashboardQueries() throws Exception {
    JsonObject dashboard = new JsonObject(Files.readString(root.resolve("deploy/grafana/tributary-dashboard.json")));
    List<String> exprs = new ArrayList<>();
    collectPanels(dashboard.getJsonArray("panels", new JsonArray()), exprs);
    JsonObject templating = dashboard.getJsonObject("templating", new JsonObject());
    for (Object variable : templating.getJsonArray("list", new JsonArray())) {
      Object query = ((JsonObject) variable).getValue("query");
      if (query instanceof String text) {
        exprs.add(text);
      } else if (query instanceof JsonObject object && object.getString("query") != null) {
        exprs.add(object.getString("query"));
      }
    }
    return exprs;
  }

  private static void collectPanels(JsonArray panels, List<String> exprs) {
    for (Object p : panels) {
      JsonObject panel = (JsonObject) p;
      for (Object t : panel.getJsonArray("targets", new JsonArray())) {
        String expr = ((JsonObject) t).getString("expr");
        if (expr != null) {
          exprs.add(expr);
        }
      }
      collectPanels(panel.getJsonArray("panels", new JsonArray()), exprs);
    }
  }

  @SuppressWarnings("unchecked")
  private static List<String> alertExpressions() throws Exception {
    List<String> exprs = new ArrayList<>();
    for (Object document : new Yaml().loadAll(Files.readString(root.resolve("deploy/k8s/prometheus-rules.yaml")))) {
      Map<String, Object> rule = (Map<String, Object>) document;
      if (rule == null || !"PrometheusRule".equals(rule.get("kind"))) {
        continue;
      }
      for (Object group : (List<Object>) ((Map<String, Object>) rule.get("spec")).get("groups")) {
        for (Object r : (List<Object>) ((Map<String, Object>) group).get("rules")) {
          exprs.add(String.valueOf(((Map<String, Object>) r).get("expr")));
        }
      }
    }
    assertThat(exprs).as("alert expressions in deploy/k8s/prometheus-rules.yaml").isNotEmpty();
    return exprs;
  }

  private static Set<String> metricNames(String expr) {
    Set<String> names = new TreeSet<>();
    Matcher m = METRIC.matcher(expr);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  private static String scrape(ServiceProcess service) {
    try {
      return Harness.send(HttpRequest.newBuilder(URI.create(service.url("/metrics"))).GET()).body();
    } catch (Exception e) {
      return "";
    }
  }

  /** The sum of a metric's samples in a scrape. */
  private static double sample(String scrape, String metric) {
    double sum = 0;
    for (String line : scrape.split("\n")) {
      if (line.startsWith(metric + "{") || line.startsWith(metric + " ")) {
        String[] parts = line.trim().split(" ");
        sum += Double.parseDouble(parts[parts.length - 1]);
      }
    }
    return sum;
  }
}

package io.tributary.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.ServiceProcess;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Keeps the load tools from rotting: the three services run from their jars on the demo pipeline,
 * one Gatling simulation runs briefly against ingest, and the pipeline benchmark pushes a small N
 * through every stage and checks the aggregates, over HTTP and straight onto the topic.
 */
@ExtendWith(DevStackExtension.class)
class LoadSmokeIT {

  private static final String TOKEN = "smoke-token";

  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  /** The demo pipeline under names of this run, so no earlier run's topics or state are found. */
  private static Path demoPipeline(String pipeline, String topics) throws Exception {
    String yaml = Files.readString(ROOT.resolve("examples/payments.yaml"))
        .replace("pipeline: payments", "pipeline: " + pipeline)
        .replace("kafka:events.ingested", "kafka:" + topics + ".ingested")
        .replace("kafka:events.enriched", "kafka:" + topics + ".enriched")
        .replace("kafka:aggregates.updates", "kafka:" + topics + ".updates")
        .replace("kafka:events.dlq", "kafka:" + topics + ".dlq");
    Path file = Files.createTempFile(pipeline, ".yaml");
    Files.writeString(file, yaml);
    return file;
  }

  private static Map<String, String> env(DevStack devstack) {
    return Map.of(
        "TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", devstack.kafkaBootstrapServers(),
        "TRIBUTARY_REDIS_URI", devstack.redisUri(),
        "TRIBUTARY_CONTROL_TOKEN", TOKEN,
        "TRIBUTARY_HTTP_HOST", "127.0.0.1");
  }

  /** The pipeline benchmark's run of {@code events} over {@code mode}, verified against its ground truth. */
  private static boolean benchmark(DevStack devstack, String mode, int events, String ingest, String enrich, String aggregate,
      String topics, String pipeline) throws Exception {
    return PipelineBenchmark.run(new String[] {
        "--events", String.valueOf(events), "--mode", mode, "--batch", "500", "--cards", "500", "--merchants", "1000",
        "--ingest", ingest, "--enrich", enrich, "--aggregate", aggregate,
        "--bootstrap", devstack.kafkaBootstrapServers(), "--ingested", topics + ".ingested", "--updates", topics + ".updates",
        "--pipeline", pipeline, "--sample", "200", "--timeout", "120"});
  }

  /**
   * The demo pipeline file as it is, run as one fused process instead of three services: the one
   * setting changed is the process launched. Over HTTP and onto the ingested topic, every aggregate
   * equals the benchmark's ground truth.
   */
  @Test
  void theDemoPipelineRunsFusedWithTheSameFile(DevStack devstack) throws Exception {
    String suffix = Long.toString(System.nanoTime() % 1_000_000_000L, 36);
    String pipeline = "fused_" + suffix;
    Path file = demoPipeline(pipeline, pipeline);
    Path logs = Files.createDirectories(Path.of("target", "smoke-logs"));
    int enrichPort = freePort();
    int aggregatePort = freePort();
    Map<String, String> env = new HashMap<>(env(devstack));
    env.put("TRIBUTARY_FUSED_ENRICH_HTTP_PORT", String.valueOf(enrichPort));
    env.put("TRIBUTARY_FUSED_AGGREGATE_HTTP_PORT", String.valueOf(aggregatePort));
    ServiceProcess fused = ServiceProcess.fromJar(ROOT.resolve("aggregate-service/target/aggregate-service.jar"),
        "io.tributary.fused.Main", List.of("--pipeline", file.toString()), env, freePort(), logs.resolve("fused.log"));
    try {
      fused.start(Duration.ofSeconds(90));
      loadMerchants(fused.onPort(enrichPort));
      for (String mode : List.of("http", "kafka")) {
        assertThat(benchmark(devstack, mode, 5000, fused.url(""), fused.onPort(enrichPort).url(""), fused.onPort(aggregatePort).url(""),
            pipeline, pipeline)).as("fused, benchmark in " + mode + " mode caught up and verified").isTrue();
      }
    } finally {
      fused.close();
      devstack.deleteRedisKeys(devstack.redisUri(), "tributary:" + pipeline + ":*");
    }
  }

  @Test
  void gatlingSimulationAndPipelineBenchmarkRunAgainstTheStack(DevStack devstack) throws Exception {
    Path root = ROOT;
    Path logs = Files.createDirectories(Path.of("target", "smoke-logs"));
    String suffix = Long.toString(System.nanoTime() % 1_000_000_000L, 36);
    Path pipelineFile = demoPipeline("smoke_" + suffix, "smoke");
    Map<String, String> env = env(devstack);
    List<ServiceProcess> services = new ArrayList<>();
    try {
      for (String stage : List.of("ingest", "enrich", "aggregate")) {
        Path jar = root.resolve(stage + "-service/target/" + stage + "-service.jar");
        services.add(ServiceProcess.fromJar(jar, List.of("--pipeline", pipelineFile.toString()), env, freePort(),
            logs.resolve(stage + ".log")).start(Duration.ofSeconds(90)));
      }
      ServiceProcess ingest = services.get(0);
      ServiceProcess enrich = services.get(1);
      ServiceProcess aggregate = services.get(2);
      loadMerchants(enrich);

      System.setProperty("url", ingest.url(""));
      System.setProperty("pipeline", root.resolve("examples/payments.yaml").toString());
      System.setProperty("rate", "20");
      System.setProperty("duration", "5");
      System.setProperty("batch", "50");
      System.setProperty("maxP99Ms", "5000");
      Path results = Files.createDirectories(Path.of("target", "gatling-smoke"));
      int gatling = io.gatling.app.Gatling$.MODULE$.fromArgs(new String[] {
          "-s", IngestConstantRate.class.getName(), "-rf", results.toString()});
      assertThat(gatling).as("Gatling exit code (assertions included)").isZero();
      try (Stream<Path> reports = Files.walk(results)) {
        assertThat(reports.anyMatch(p -> p.getFileName().toString().equals("index.html"))).isTrue();
      }

      for (String mode : List.of("http", "kafka")) {
        assertThat(benchmark(devstack, mode, 5000, ingest.url(""), enrich.url(""), aggregate.url(""), "smoke", "smoke_" + suffix))
            .as("benchmark in " + mode + " mode caught up and verified").isTrue();
      }
    } finally {
      services.forEach(ServiceProcess::close);
      devstack.deleteRedisKeys(devstack.redisUri(), "tributary:smoke_" + suffix + ":*");
    }
  }

  private static void loadMerchants(ServiceProcess enrich) throws Exception {
    StringBuilder csv = new StringBuilder("key,name,category\n");
    for (int m = 0; m < 1000; m++) {
      csv.append('M').append(m).append(",Merchant ").append(m).append(',').append(PaymentGenerator.CATEGORIES[m % 20]).append('\n');
    }
    HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(enrich.url("/reference/merchant")))
        .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "text/csv")
        .POST(HttpRequest.BodyPublishers.ofString(csv.toString())).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
  }

  private static int freePort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}

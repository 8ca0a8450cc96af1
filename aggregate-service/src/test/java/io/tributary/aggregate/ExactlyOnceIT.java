package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.MariaDbServer;
import io.tributary.devstack.RedisServer;
import io.tributary.devstack.ServiceProcess;
import io.tributary.devstack.TopicProbe;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The exactly-once contract, proven end to end: a seeded stream goes through the three services,
 * each a separate JVM, while instances are SIGKILLed and Redis is restarted; every window of every
 * aggregation read back through the REST API must equal the ground truth of {@link PaymentStream}.
 */
@ExtendWith(DevStackExtension.class)
class ExactlyOnceIT {

  private static final int EVENTS = Integer.getInteger("proof.events", 100_000);
  private static final int PARTITIONS = 8;
  private static final String TOKEN = "proof-token";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final Duration READY = Duration.ofSeconds(90);

  /** The services of one pipeline; aggregates may be several. */
  private final class Stack implements AutoCloseable {
    final ServiceProcess ingest;
    final ServiceProcess enrich;
    final List<ServiceProcess> aggregates = new ArrayList<>();
    final List<ServiceProcess> all = new ArrayList<>();

    final String name;
    final DevStack devstack;
    final String store;
    final String storeUri;
    final String bus;
    /** Whether the stack runs the proof's payments pipeline (whose truth {@link PaymentStream} knows), not a pipeline of its own. */
    final boolean proofPipeline;
    private final Map<String, String> env;
    private final List<String> args;

    /**
     * {@code prefix} plus a suffix of this run, so no state of an earlier run is found in the store;
     * {@code store} is the pipeline's store ({@code redis} or {@code sql}) and {@code storeUri} its address;
     * {@code bus} the kind of the buses between the stages ({@code kafka} or {@code rabbitmq}).
     */
    Stack(DevStack devstack, String prefix, String store, String storeUri, int aggregateInstances, String bus) throws Exception {
      this(devstack, uniqueName(prefix, store, bus), null, store, storeUri, aggregateInstances, bus, Mode.SERVICES);
    }

    /** The proof's payments pipeline run in {@code mode}, its {@code instances} fused processes each running all stages. */
    Stack(DevStack devstack, String prefix, String store, String storeUri, Mode mode, int instances) throws Exception {
      this(devstack, uniqueName(prefix + "_" + mode.name().toLowerCase(Locale.ROOT), store, "kafka"), null, store, storeUri,
          instances, "kafka", mode);
    }

    Stack(DevStack devstack, String name, String yaml, String store, String storeUri, int aggregateInstances, String bus) throws Exception {
      this(devstack, name, yaml, store, storeUri, aggregateInstances, bus, Mode.SERVICES);
    }

    /**
     * A stack on the pipeline {@code yaml}, or on the proof's payments pipeline with its reference data when null.
     * Fused, {@code aggregateInstances} fused processes run and {@link #ingest} and {@link #enrich} are the first one's ports.
     */
    Stack(DevStack devstack, String name, String yaml, String store, String storeUri, int aggregateInstances, String bus, Mode mode)
        throws Exception {
      this.name = name;
      this.devstack = devstack;
      this.store = store;
      this.storeUri = storeUri;
      this.bus = bus;
      this.proofPipeline = yaml == null;
      Path pipeline = Files.createTempFile(name, ".yaml");
      Files.writeString(pipeline, yaml != null ? yaml : pipelineYaml(name, store, bus, mode == Mode.FUSED_FROM_SOURCE));
      Path logs = Path.of("target", "proof-logs");
      Files.createDirectories(logs);
      env = Map.of(
          "TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", devstack.kafkaBootstrapServers(),
          "TRIBUTARY_RABBITMQ_URI", devstack.rabbitMqUri(),
          store.equals("sql") ? "TRIBUTARY_SQL_URL" : "TRIBUTARY_REDIS_URI", storeUri,
          "TRIBUTARY_CONTROL_TOKEN", TOKEN,
          "TRIBUTARY_KAFKA_SESSION_TIMEOUT_MS", "6000",
          "TRIBUTARY_KAFKA_PARTITIONS", String.valueOf(PARTITIONS),
          "TRIBUTARY_HTTP_HOST", "127.0.0.1");
      args = List.of("--pipeline", pipeline.toString());
      if (mode == Mode.SERVICES) {
        ingest = new ServiceProcess("io.tributary.ingest.Main", args, env, freePort(), logs.resolve(name + "-ingest.log"));
        enrich = new ServiceProcess("io.tributary.enrich.Main", args, env, freePort(), logs.resolve(name + "-enrich.log"));
        all.add(ingest.start(READY));
        all.add(enrich.start(READY));
        for (int i = 0; i < aggregateInstances; i++) {
          ServiceProcess aggregate = new ServiceProcess("io.tributary.aggregate.Main", args, env, freePort(),
              logs.resolve(name + "-aggregate-" + i + ".log"));
          aggregates.add(aggregate);
          all.add(aggregate.start(READY));
        }
      } else {
        List<ServiceProcess> fused = new ArrayList<>();
        for (int i = 0; i < aggregateInstances; i++) {
          int enrichPort = freePort();
          int aggregatePort = freePort();
          Map<String, String> ports = new HashMap<>(env);
          ports.put("TRIBUTARY_FUSED_ENRICH_HTTP_PORT", String.valueOf(enrichPort));
          ports.put("TRIBUTARY_FUSED_AGGREGATE_HTTP_PORT", String.valueOf(aggregatePort));
          ServiceProcess process = new ServiceProcess("io.tributary.fused.Main", args, ports, freePort(),
              logs.resolve(name + "-fused-" + i + ".log"));
          all.add(process.start(READY));
          fused.add(process.onPort(enrichPort));
          aggregates.add(process.onPort(aggregatePort));
        }
        ingest = all.get(0);
        enrich = fused.get(0);
      }
      if (yaml == null) {
        load(enrich, "merchant", "application/x-ndjson", PaymentStream.merchantsNdjson(), PaymentStream.MERCHANTS);
        load(enrich, "blocked_cards", "text/csv", PaymentStream.blockedCsv(), 10);
      }
    }

    /** One more enrich instance of this stack, started and ready. */
    ServiceProcess addEnrich() throws Exception {
      ServiceProcess another = new ServiceProcess("io.tributary.enrich.Main", args, env, freePort(),
          Path.of("target", "proof-logs").resolve(name + "-enrich-" + all.size() + ".log"));
      all.add(another.start(READY));
      return another;
    }

    @Override
    public void close() {
      all.forEach(ServiceProcess::close);
      if (store.equals("sql")) {
        devstack.deleteSqlState(storeUri, name);
      } else {
        devstack.deleteRedisKeys(storeUri, "tributary:" + name + ":*");
      }
      if (bus.equals("rabbitmq")) {
        List<String> streams = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) {
          streams.add(name + ".ingested-" + p);
          streams.add(name + ".enriched-" + p);
        }
        devstack.deleteRabbitMq(streams, List.of(name + ".ingested", name + ".enriched"));
      }
    }
  }

  /**
   * How the stack runs: three services; fused processes reading the ingested topic that HTTP intake
   * writes; fused processes reading a Kafka source topic, ingest in the chain and HTTP intake appending to it.
   */
  enum Mode { SERVICES, FUSED, FUSED_FROM_SOURCE }

  private static String uniqueName(String prefix, String store, String bus) {
    return prefix + "_" + store + (bus.equals("kafka") ? "" : "_" + bus) + "_" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);
  }

  /** The shared store of a kind: the local Redis, or the local MariaDB standing in for SingleStore. */
  private static String storeUri(DevStack devstack, String store) {
    return store.equals("sql") ? sqlUrl(devstack.jdbcUrl()) : devstack.redisUri();
  }

  private static String sqlUrl(String jdbcUrl) {
    return jdbcUrl + (jdbcUrl.contains("?") ? "&" : "?") + "createDatabaseIfNotExist=true";
  }

  @ParameterizedTest(name = "{0} store, {1} between stages")
  @CsvSource({"redis, kafka", "sql, kafka", "redis, rabbitmq"})
  void aggregatesEqualTheGroundTruth(String store, String bus, DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(11, EVENTS, PARTITIONS, 500);
    try (Stack stack = new Stack(devstack, "proof_plain", store, storeUri(devstack, store), 1, bus)) {
      send(stack, stream, batch -> { });
      verify(devstack, stack, stack.aggregates.get(0), stream);
    }
  }

  @ParameterizedTest(name = "{0} store, {1} between stages")
  @CsvSource({"redis, kafka", "sql, kafka", "redis, rabbitmq"})
  void exactWhileAggregateIsKilledThreeTimesAndEnrichOnce(String store, String bus, DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(12, EVENTS, PARTITIONS, 500);
    int batches = stream.batches.size();
    try (Stack stack = new Stack(devstack, "proof_kills", store, storeUri(devstack, store), 1, bus)) {
      ServiceProcess aggregate = stack.aggregates.get(0);
      send(stack, stream, batch -> {
        if (batch == batches / 5 || batch == 2 * batches / 5 || batch == 3 * batches / 5) {
          aggregate.kill();
          aggregate.start(READY);
          awaitAssigned(aggregate);
        }
        if (batch == batches / 2) {
          stack.enrich.kill();
          stack.enrich.start(READY);
        }
      });
      assertThat(aggregate.starts()).isEqualTo(4);
      verify(devstack, stack, aggregate, stream);
    }
  }

  @ParameterizedTest(name = "{0} store, {1} between stages")
  @CsvSource({"redis, kafka", "sql, kafka", "redis, rabbitmq"})
  void exactWhenOneOfTwoAggregateInstancesIsKilled(String store, String bus, DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(13, EVENTS, PARTITIONS, 500);
    int batches = stream.batches.size();
    try (Stack stack = new Stack(devstack, "proof_pair", store, storeUri(devstack, store), 2, bus)) {
      send(stack, stream, batch -> {
        if (batch == batches / 3) {
          stack.aggregates.get(1).kill();
        }
      });
      verify(devstack, stack, stack.aggregates.get(0), stream);
    }
  }

  /**
   * Every event's history features on the enriched topic equal the ones computed from the stream,
   * while enrich is SIGKILLed twice mid-stream: a replayed batch gets the features it got before, and
   * a client's retry the features of its first delivery.
   */
  @ParameterizedTest(name = "{0} store, hot cards take {1} of the events, {2} of all events")
  @CsvSource({"redis, 0.3, 1", "sql, 0.03, 0.3"})
  void historyFeaturesEqualTheGroundTruthWhileEnrichIsKilledTwice(String store, double hotShare, double share, DevStack devstack)
      throws Exception {
    // The SQL store aggregates each window's rows in the database, so its cost grows with a hot card's
    // events per day (docs/operations.md, "Event history"): its stream is less skewed, and shorter, as
    // it enriches a few hundred events a second with this history on this machine's MariaDB.
    int events = (int) (EVENTS * share);
    HistoryStream stream = new HistoryStream(21, events, 500, hotShare);
    int batches = stream.batches.size();
    String name = uniqueName("proof_history", store, "kafka");
    try (Stack stack = new Stack(devstack, name, HistoryStream.pipelineYaml(name, store), store, storeUri(devstack, store), 0, "kafka")) {
      load(stack.enrich, "merchant", "application/x-ndjson", PaymentStream.merchantsNdjson(), PaymentStream.MERCHANTS);
      int accepted = 0;
      for (int b = 0; b < batches; b++) {
        if (b == batches / 3 || b == 2 * batches / 3) {
          stack.enrich.kill();
          stack.enrich.start(READY);
        }
        HttpResponse<String> response = post(stack.ingest.url("/events"), "application/x-ndjson", stream.batches.get(b), null);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        accepted += new JsonObject(response.body()).getInteger("accepted");
      }
      assertThat(accepted).isEqualTo(stream.sentIds.size());
      assertThat(stack.enrich.starts()).isEqualTo(3);
      int sent = accepted;
      List<TopicProbe.Message> enriched = TopicProbe.readToEnd(devstack.kafkaBootstrapServers(), name + ".enriched",
          Duration.ofSeconds(300), list -> list.size() >= sent);
      Map<String, Integer> outputs = new HashMap<>();
      List<String> differences = new ArrayList<>();
      for (TopicProbe.Message m : enriched) {
        JsonObject event = new JsonObject(m.value());
        String id = event.getString("txn_id");
        int copy = outputs.merge(id, 1, Integer::sum) - 1;
        List<HistoryStream.Features> copies = stream.truth.getOrDefault(id, List.of());
        HistoryStream.Features expected = copy < copies.size() ? copies.get(copy) : null;
        String difference = featureDifference(expected, event.getJsonObject("card"));
        if (difference != null && differences.size() < 20) {
          differences.add(id + " (" + event.getString("card_id") + " at " + event.getLong("ts") + "): " + difference);
        }
      }
      assertThat(differences).as("events whose features differ from the ground truth").isEmpty();
      Map<String, Integer> expectedOutputs = stream.expectedOutputs();
      List<String> miscounted = expectedOutputs.keySet().stream().filter(id -> !expectedOutputs.get(id).equals(outputs.get(id))).sorted()
          .map(id -> id + " " + outputs.getOrDefault(id, 0) + "/" + expectedOutputs.get(id)).toList();
      List<String> unsent = outputs.keySet().stream().filter(id -> !expectedOutputs.containsKey(id)).sorted().toList();
      assertThat(miscounted.subList(0, Math.min(20, miscounted.size())))
          .as("one enriched event per accepted event, retries included (%d read of %d sent, %d ids miscounted); first ids, read/expected",
              enriched.size(), sent, miscounted.size()).isEmpty();
      assertThat(unsent).as("enriched events of no accepted event").isEmpty();
      assertThat(stream.retries).isGreaterThan(events / 100);
      assertThat(stream.late).isGreaterThan(events / 50);
      assertThat(stream.clipped).as("late events whose 24 h window the retention clips").isGreaterThan(0);
      assertThat(stream.truth.values().stream().flatMap(List::stream).mapToLong(HistoryStream.Features::count1h).max().orElse(0))
          .as("a hot card's busiest hour").isGreaterThan(hotShare > 0.1 ? 50 : 5);
    }
  }

  private static String featureDifference(HistoryStream.Features expected, JsonObject card) {
    if (expected == null) {
      return "not an event of the stream, or one copy too many";
    }
    if (card == null) {
      return "no features";
    }
    List<String> out = new ArrayList<>();
    compareNumber(out, "count_1h", expected.count1h(), card.getValue("count_1h"));
    compareNumber(out, "spend_1h", expected.spend1h(), card.getValue("spend_1h"));
    compareNumber(out, "spend_24h", expected.spend24h(), card.getValue("spend_24h"));
    compareNumber(out, "largest_24h", expected.largest24h(), card.getValue("largest_24h"));
    compareNumber(out, "smallest_1h", expected.smallest1h(), card.getValue("smallest_1h"));
    compareNumber(out, "avg_24h", expected.avg24h(), card.getValue("avg_24h"));
    compareNumber(out, "merchants_24h", expected.merchants24h(), card.getValue("merchants_24h"));
    compareNumber(out, "categories_24h", expected.categories24h(), card.getValue("categories_24h"));
    JsonArray last = card.getJsonArray("last_merchants");
    if (last == null || !last.getList().equals(expected.lastMerchants())) {
      out.add("last_merchants " + last + " != " + expected.lastMerchants());
    }
    return out.isEmpty() ? null : String.join(", ", out);
  }

  private static void compareNumber(List<String> out, String name, Number expected, Object actual) {
    if (expected == null || actual == null) {
      if (expected != actual) {
        out.add(name + " " + actual + " != " + expected);
      }
      return;
    }
    double a = ((Number) actual).doubleValue();
    double e = expected.doubleValue();
    if (Math.abs(a - e) > 1e-9 * Math.max(1, Math.abs(e))) {
      out.add(name + " " + actual + " != " + expected);
    }
  }

  @ParameterizedTest(name = "fused, {1}, {0} store")
  @CsvSource({"redis, FUSED_FROM_SOURCE", "sql, FUSED"})
  void fusedAggregatesEqualTheGroundTruth(String store, Mode mode, DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(21, EVENTS, PARTITIONS, 500);
    try (Stack stack = new Stack(devstack, "proof_fused", store, storeUri(devstack, store), mode, 1)) {
      send(stack, stream, batch -> { });
      verify(devstack, stack, stack.aggregates.get(0), stream);
    }
  }

  @ParameterizedTest(name = "fused, {0}")
  @CsvSource({"FUSED_FROM_SOURCE", "FUSED"})
  void exactWhileTheFusedProcessIsKilledThreeTimes(Mode mode, DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(22, EVENTS, PARTITIONS, 500);
    int batches = stream.batches.size();
    try (Stack stack = new Stack(devstack, "proof_fused_kills", "redis", devstack.redisUri(), mode, 1)) {
      ServiceProcess fused = stack.aggregates.get(0);
      send(stack, stream, batch -> {
        if (batch == batches / 5 || batch == 2 * batches / 5 || batch == 3 * batches / 5) {
          fused.kill();
          fused.start(READY);
          awaitAssigned(fused);
        }
      });
      assertThat(fused.starts()).isEqualTo(4);
      verify(devstack, stack, fused, stream);
    }
  }

  @Test
  void exactWhenOneOfTwoFusedProcessesIsKilled(DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(23, EVENTS, PARTITIONS, 500);
    int batches = stream.batches.size();
    try (Stack stack = new Stack(devstack, "proof_fused_pair", "redis", devstack.redisUri(), Mode.FUSED_FROM_SOURCE, 2)) {
      send(stack, stream, batch -> {
        if (batch == batches / 3) {
          stack.aggregates.get(1).kill();
        }
      });
      verify(devstack, stack, stack.aggregates.get(0), stream);
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"SERVICES", "FUSED_FROM_SOURCE"})
  void exactWhenRedisRestartsMidStream(Mode mode, DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(14, EVENTS, PARTITIONS, 500);
    int batches = stream.batches.size();
    try (RedisServer redis = RedisServer.create(true).start();
         Stack stack = new Stack(devstack, "proof_restart", "redis", redis.uri(), mode, 1)) {
      send(stack, stream, batch -> {
        if (batch == batches / 3) {
          redis.kill();
        }
        if (batch == batches / 3 + 20) {
          redis.start();
        }
      });
      verify(devstack, stack, stack.aggregates.get(0), stream);
    }
  }

  /**
   * Redis goes away, so both enrich instances fail their batches and back off; meanwhile one of them
   * is SIGKILLed and the other is given its partitions while it waits. The records it reads of them
   * during that wait must be read again, not dropped with the wait's polls.
   */
  @Test
  void exactWhenAnEnrichInstanceDiesWhileTheOtherBacksOff(DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(17, EVENTS, PARTITIONS, 500);
    int batches = stream.batches.size();
    try (RedisServer redis = RedisServer.create(true).start();
         Stack stack = new Stack(devstack, "proof_backoff", "redis", redis.uri(), 1, "kafka")) {
      ServiceProcess second = stack.addEnrich();
      send(stack, stream, batch -> {
        if (batch == batches / 3) {
          redis.kill();
        }
        if (batch == batches / 3 + 10) {
          second.kill();
          // The group gives the dead instance's partitions to the survivor after the session timeout
          // (6 s here), while Redis is still away and the survivor backs off.
          Thread.sleep(12_000);
          redis.start();
        }
      });
      verify(devstack, stack, stack.aggregates.get(0), stream);
    }
  }

  @Test
  void exactWhenTheSqlStoreRestartsMidStream(DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(15, EVENTS, PARTITIONS, 500);
    int batches = stream.batches.size();
    try (MariaDbServer sql = MariaDbServer.create().start();
         Stack stack = new Stack(devstack, "proof_restart", "sql", sql.jdbcUrl("tributary_it"), 1, "kafka")) {
      send(stack, stream, batch -> {
        if (batch == batches / 3) {
          sql.kill();
        }
        if (batch == batches / 3 + 20) {
          sql.start();
        }
      });
      verify(devstack, stack, stack.aggregates.get(0), stream);
    }
  }

  /**
   * Two pipelines in a row: the payments pipeline with RabbitMQ between its stages, and the shipped
   * risk pipeline (examples/risk.yaml) reading its window updates from Kafka. The payments aggregate
   * and the risk ingest are SIGKILLed mid-stream; the risk pipeline's daily peaks must equal those of
   * the ground truth's windows.
   */
  @Test
  void exactAcrossTwoCascadedPipelinesOverRabbitMqAndKafka(DevStack devstack) throws Exception {
    PaymentStream stream = new PaymentStream(16, EVENTS, PARTITIONS, 500);
    int batches = stream.batches.size();
    String redis = devstack.redisUri();
    try (Stack payments = new Stack(devstack, "cascade_pay", "redis", redis, 1, "rabbitmq")) {
      String riskName = uniqueName("cascade_risk", "redis", "kafka");
      String riskYaml = Files.readString(Path.of("..", "examples", "risk.yaml"))
          .replace("pipeline: risk", "pipeline: " + riskName)
          .replace("kafka:aggregates.updates", "kafka:" + payments.name + ".updates")
          .replace("kafka:risk.", "kafka:" + riskName + ".");
      try (Stack risk = new Stack(devstack, riskName, riskYaml, "redis", redis, 1, "kafka")) {
        ServiceProcess aggregate = payments.aggregates.get(0);
        send(payments, stream, batch -> {
          if (batch == batches / 3) {
            aggregate.kill();
            aggregate.start(READY);
          }
          if (batch == 2 * batches / 3) {
            risk.ingest.kill();
            risk.ingest.start(READY);
          }
        });
        Map<String, TreeMap<Long, double[]>> expected = dailyPeaks(stream);
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        List<String> differences = peakDifferences(risk.aggregates.get(0), expected);
        while (!differences.isEmpty() && System.nanoTime() < deadline) {
          Thread.sleep(2000);
          differences = peakDifferences(risk.aggregates.get(0), expected);
        }
        assertThat(differences).as("daily peaks that differ from the ground truth").isEmpty();
        assertThat(expected).hasSizeGreaterThan(Math.min(900, EVENTS / 10));
      }
    }
  }

  /** Per {@code aggregation|group} and day, the largest final total and count of its windows that start that day. */
  private static Map<String, TreeMap<Long, double[]>> dailyPeaks(PaymentStream stream) {
    Map<String, TreeMap<Long, double[]>> peaks = new HashMap<>();
    stream.truth.forEach((aggregation, groups) -> groups.forEach((group, windows) -> windows.forEach((start, window) -> {
      long day = Math.floorDiv(start, Duration.ofDays(1).toMillis()) * Duration.ofDays(1).toMillis();
      double[] peak = peaks.computeIfAbsent(aggregation + "|" + group, g -> new TreeMap<>())
          .computeIfAbsent(day, d -> new double[] {Double.NEGATIVE_INFINITY, 0});
      peak[0] = Math.max(peak[0], window.total);
      peak[1] = Math.max(peak[1], window.count);
    })));
    return peaks;
  }

  /** The windows the REST API answers for a group, or null, with the reason added to {@code out}, when it does not answer 200. */
  private static JsonArray windows(ServiceProcess aggregate, String aggregation, String group, List<String> out) throws Exception {
    String url = aggregate.url("/aggregates/" + aggregation + "/" + URLEncoder.encode(group, StandardCharsets.UTF_8));
    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      out.add(url + " answered " + response.statusCode());
      return null;
    }
    return new JsonObject(response.body()).getJsonArray("windows");
  }

  private List<String> peakDifferences(ServiceProcess aggregate, Map<String, TreeMap<Long, double[]>> expected) throws Exception {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, TreeMap<Long, double[]>> group : expected.entrySet()) {
      JsonArray windows = windows(aggregate, "daily_peaks", group.getKey(), out);
      if (windows == null) {
        continue;
      }
      Map<Long, JsonObject> actual = new TreeMap<>();
      for (int i = 0; i < windows.size(); i++) {
        actual.put(windows.getJsonObject(i).getLong("start"), windows.getJsonObject(i).getJsonObject("measures"));
      }
      if (!actual.keySet().equals(group.getValue().keySet())) {
        out.add(group.getKey() + ": days " + actual.keySet() + " expected " + group.getValue().keySet());
        continue;
      }
      group.getValue().forEach((day, peak) -> {
        JsonObject m = actual.get(day);
        if (Math.abs(m.getDouble("peak_total") - peak[0]) > 1e-6 * Math.max(1, peak[0]) || m.getDouble("peak_count") != peak[1]) {
          out.add(group.getKey() + "@" + day + ": " + m.encode() + " expected peak_total " + peak[0] + ", peak_count " + peak[1]);
        }
      });
      if (out.size() > 20) {
        return out;
      }
    }
    return out;
  }

  /** Waits until the instance holds partitions, so the next kill hits it while it works. */
  private static void awaitAssigned(ServiceProcess aggregate) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      HttpResponse<String> status = HTTP.send(HttpRequest.newBuilder(URI.create(aggregate.url("/control/status")))
          .header("Authorization", "Bearer " + TOKEN).GET().build(), HttpResponse.BodyHandlers.ofString());
      if (status.statusCode() == 200 && !new JsonObject(status.body()).getJsonArray("assignedPartitions").isEmpty()) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the restarted aggregate instance got no partition within 60 s");
  }

  private interface BatchHook {
    void before(int batch) throws Exception;
  }

  private void send(Stack stack, PaymentStream stream, BatchHook hook) throws Exception {
    int accepted = 0;
    for (int b = 0; b < stream.batches.size(); b++) {
      hook.before(b);
      HttpResponse<String> response = post(stack.ingest.url("/events"), "application/x-ndjson", stream.batches.get(b), null);
      assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
      accepted += new JsonObject(response.body()).getInteger("accepted");
    }
    assertThat(accepted).isEqualTo(stream.valid + stream.retries);
  }

  private void verify(DevStack devstack, Stack stack, ServiceProcess aggregate, PaymentStream stream) throws Exception {
    String name = stack.name;
    long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
    Map<String, JsonObject> answers = new HashMap<>();
    List<String> differences = differences(aggregate, stream, answers);
    while (!differences.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(2000);
      answers.clear();
      differences = differences(aggregate, stream, answers);
    }
    assertThat(differences).as("windows that differ from the ground truth").isEmpty();
    assertThat(stream.truth.get("spend_by_card")).hasSizeGreaterThan(Math.min(900, EVENTS / 10));
    assertThat(stream.lateIds).isNotEmpty();
    verifyDeadLetters(devstack, name, stream);
    verifyUpdates(devstack, name, answers);
    if (stack.proofPipeline && stack.bus.equals("kafka")) {
      verifyEnriched(devstack, name, stream);
    }
  }

  /**
   * The enriched topic, an output of the proof's pipeline (three services write it between the stages,
   * a fused process as an output): one record per accepted copy of each event that no look-up dropped,
   * whatever was killed, each with its merchant looked up when the merchant is known.
   */
  private static void verifyEnriched(DevStack devstack, String name, PaymentStream stream) {
    int expected = stream.enrichedCopies.values().stream().mapToInt(Integer::intValue).sum();
    List<TopicProbe.Message> enriched = TopicProbe.readToEnd(devstack.kafkaBootstrapServers(), name + ".enriched",
        Duration.ofSeconds(90), list -> list.size() >= expected);
    Map<String, Integer> copies = new HashMap<>();
    List<String> unenriched = new ArrayList<>();
    for (TopicProbe.Message m : enriched) {
      JsonObject event = new JsonObject(m.value());
      copies.merge(event.getString("txn_id"), 1, Integer::sum);
      if (!event.getString("merchant_id").startsWith("MX") && (event.getJsonObject("merchant") == null) && unenriched.size() < 10) {
        unenriched.add(m.value());
      }
    }
    List<String> miscounted = new ArrayList<>();
    Set<String> ids = new HashSet<>(copies.keySet());
    ids.addAll(stream.enrichedCopies.keySet());
    ids.stream().sorted().filter(id -> !Objects.equals(copies.get(id), stream.enrichedCopies.get(id))).limit(20)
        .forEach(id -> miscounted.add(id + " " + copies.getOrDefault(id, 0) + "/" + stream.enrichedCopies.getOrDefault(id, 0)));
    assertThat(miscounted).as("enriched records per event id, read/expected, of %s read", enriched.size()).isEmpty();
    assertThat(unenriched).as("enriched records of a known merchant without its look-up").isEmpty();
  }

  /** Exactly one dead letter per rejected event and stage: every invalid event from ingest, every late one from aggregate. */
  private static void verifyDeadLetters(DevStack devstack, String name, PaymentStream stream) {
    List<String> expected = new ArrayList<>();
    stream.invalidIds.forEach(id -> expected.add("ingest/" + id));
    stream.lateIds.forEach(id -> expected.add("aggregate/" + id));
    List<TopicProbe.Message> dead = TopicProbe.readToEnd(devstack.kafkaBootstrapServers(), name + ".dlq", Duration.ofSeconds(60),
        list -> Set.copyOf(rejected(list)).containsAll(expected));
    List<String> actual = rejected(dead);
    assertThat(actual).as("dead letters by stage and event id, each once").doesNotHaveDuplicates()
        .containsExactlyInAnyOrderElementsOf(expected);
    assertThat(dead.stream().map(m -> new JsonObject(m.value()).getString("reason")))
        .anyMatch(r -> r.equals("missing required field 'ts'"))
        .anyMatch(r -> r.startsWith("event time in the future"))
        .anyMatch(r -> r.startsWith("late: "));
  }

  private static List<String> rejected(List<TopicProbe.Message> dead) {
    return dead.stream().map(m -> new JsonObject(m.value()))
        .map(j -> j.getString("stage") + "/" + new JsonObject(j.getString("input")).getString("txn_id"))
        .toList();
  }

  /**
   * The updates topic carries every window's final state: the update with the highest version of each
   * window equals what the REST API answers, no window is missing, and the versions of a window only
   * grow along the topic where one partition writes it (a window of the entity key).
   */
  private static void verifyUpdates(DevStack devstack, String name, Map<String, JsonObject> answers) {
    NewestUpdates newest = new NewestUpdates();
    List<TopicProbe.Message> all = TopicProbe.readToEnd(devstack.kafkaBootstrapServers(), name + ".updates", Duration.ofSeconds(90),
        list -> {
          newest.take(list);
          return answers.entrySet().stream().allMatch(e -> newest.highest.containsKey(e.getKey())
              && newest.highest.get(e.getKey()).getLong("version").equals(e.getValue().getLong("version")));
        });
    newest.take(all);
    assertThat(newest.outOfOrder).as("updates of a card window with a lower version after a higher one").isEmpty();
    assertThat(newest.highest.keySet()).as("windows with updates").isEqualTo(answers.keySet());
    List<String> wrong = new ArrayList<>();
    answers.forEach((window, answer) -> {
      JsonObject update = newest.highest.get(window);
      if (!update.getJsonObject("measures").equals(answer.getJsonObject("measures"))
          || !update.getLong("version").equals(answer.getLong("version"))) {
        wrong.add(window + ": update " + update.encode() + " REST " + answer.encode());
      }
    });
    assertThat(wrong).as("windows whose newest update differs from the REST answer").isEmpty();
  }

  /** The update of highest version per window, taken incrementally from what the probe has read so far. */
  private static final class NewestUpdates {
    final Map<String, JsonObject> highest = new HashMap<>();
    final Map<String, Long> lastVersion = new HashMap<>();
    final List<String> outOfOrder = new ArrayList<>();
    private int taken;

    void take(List<TopicProbe.Message> updates) {
      for (; taken < updates.size(); taken++) {
        JsonObject u = new JsonObject(updates.get(taken).value());
        String window = u.getString("aggregation") + "/" + u.getString("group") + "@" + u.getLong("windowStart");
        long version = u.getLong("version");
        Long last = lastVersion.put(window, version);
        if (last != null && version < last && u.getString("aggregation").equals("spend_by_card")) {
          outOfOrder.add(window + ": version " + version + " after " + last);
        }
        JsonObject best = highest.get(window);
        if (best == null || best.getLong("version") < version) {
          highest.put(window, u);
        }
      }
    }
  }

  private List<String> differences(ServiceProcess aggregate, PaymentStream stream, Map<String, JsonObject> answers) throws Exception {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Map<String, TreeMap<Long, PaymentStream.Expected>>> byAggregation : stream.truth.entrySet()) {
      for (Map.Entry<String, TreeMap<Long, PaymentStream.Expected>> byGroup : byAggregation.getValue().entrySet()) {
        JsonArray windows = windows(aggregate, byAggregation.getKey(), byGroup.getKey(), out);
        if (windows == null) {
          continue;
        }
        Map<Long, JsonObject> actual = new HashMap<>();
        for (int i = 0; i < windows.size(); i++) {
          JsonObject w = windows.getJsonObject(i);
          actual.put(w.getLong("start"), w.getJsonObject("measures"));
          answers.put(byAggregation.getKey() + "/" + byGroup.getKey() + "@" + w.getLong("start"), w);
        }
        compare(byAggregation.getKey(), byGroup.getKey(), byGroup.getValue(), actual, out);
        if (out.size() > 20) {
          return out;
        }
      }
    }
    return out;
  }

  private static void compare(String aggregation, String group, TreeMap<Long, PaymentStream.Expected> expected,
      Map<Long, JsonObject> actual, List<String> out) {
    if (!actual.keySet().equals(expected.keySet())) {
      out.add(aggregation + "/" + group + ": windows " + new TreeMap<>(actual).keySet() + " expected " + expected.keySet());
      return;
    }
    expected.forEach((start, e) -> {
      JsonObject m = actual.get(start);
      String where = aggregation + "/" + group + "@" + start;
      if (m.getLong("count") != e.count) {
        out.add(where + ": count " + m.getLong("count") + " expected " + e.count);
      }
      if (Math.abs(m.getDouble("total") - e.total) > 1e-6 * Math.max(1, Math.abs(e.total))) {
        out.add(where + ": total " + m.getDouble("total") + " expected " + e.total);
      }
      if (aggregation.equals("spend_by_card")) {
        if (m.getDouble("largest") != e.largest) {
          out.add(where + ": largest " + m.getDouble("largest") + " expected " + e.largest);
        }
        long distinct = m.getLong("merchants");
        if (Math.abs(distinct - e.merchants.size()) > Math.max(1, e.merchants.size() * 0.02)) {
          out.add(where + ": merchants " + distinct + " expected about " + e.merchants.size());
        }
      } else if (Math.abs(m.getDouble("mean") - e.total / e.count) > 1e-6 * Math.max(1, e.total / e.count)) {
        out.add(where + ": mean " + m.getDouble("mean") + " expected " + e.total / e.count);
      }
    });
  }

  private static void load(ServiceProcess enrich, String lookup, String type, String body, int rows) throws Exception {
    HttpResponse<String> response = post(enrich.url("/reference/" + lookup), type, body, TOKEN);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(new JsonObject(response.body()).getLong("loaded")).isEqualTo(rows);
  }

  private static HttpResponse<String> post(String url, String type, String body, String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
        .header("Content-Type", type).POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String pipelineYaml(String name, String store, String bus) {
    return pipelineYaml(name, store, bus, false);
  }

  /** With {@code fromSource}, the events come from the Kafka topic {@code <name>.raw} (HTTP intake appends to it). */
  private static String pipelineYaml(String name, String store, String bus, boolean fromSource) {
    return (fromSource ? "sources: [kafka:" + name + ".raw]\n" : "") + """
        pipeline: %1$s
        store: %2$s
        schema:
          id: txn_id
          key: card_id
          time: ts
          fields:
            card_id: string
            merchant_id: string
            amount: number
        lookups:
          - {name: merchant, by: merchant_id, fields: [name, category, country, risk], onMissing: pass}
          - {name: blocked_cards, kind: set, by: card_id, action: drop}
        aggregations:
          - name: spend_by_card
            groupBy: [card_id]
            window: {tumbling: 1h}
            allowedLateness: 10m
            retention: 7d
            measures: {count: count(), total: sum(amount), largest: max(amount), merchants: distinct(merchant_id)}
          - name: spend_by_category
            groupBy: [merchant.category]
            window: {hopping: 5m, every: 1m}
            allowedLateness: 30s
            retention: 24h
            measures: {count: count(), total: sum(amount), mean: avg(amount)}
        buses:
          ingested: %3$s:%1$s.ingested
          enriched: %3$s:%1$s.enriched
          updates: kafka:%1$s.updates
          deadLetter: kafka:%1$s.dlq
          outputs: [enriched]
        """.formatted(name, store, bus);
  }

  private static int freePort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}

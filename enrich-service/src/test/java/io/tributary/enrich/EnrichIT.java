package io.tributary.enrich;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.tributary.common.testing.Harness;
import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.RedisServer;
import io.tributary.devstack.TopicProbe;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The enrich stage with real Kafka and Redis, fed through the ingest stage's HTTP API. */
@ExtendWith(DevStackExtension.class)
class EnrichIT {

  private static final String NDJSON = "application/x-ndjson";

  private static Pipeline pipeline(String name, String lookups) {
    return pipeline(name, "redis", lookups);
  }

  private static Pipeline pipeline(String name, String store, String lookups) {
    return PipelineParser.parse("""
        pipeline: %1$s
        store: %3$s
        schema:
          id: id
          key: card
          time: ts
          fields: {card: string, shop: string, device: string, region: string, ip: string, amount: number, ts: {type: timestamp, required: false}}
        lookups:
        %2$s
        buses:
          ingested: kafka:%1$s.ingested
          enriched: kafka:%1$s.enriched
          deadLetter: kafka:%1$s.dlq
        """.formatted(name, lookups.indent(2), store), name + ".yaml");
  }

  private static Map<String, String> env(DevStack stack, String redisUri) {
    return Map.of("TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", stack.kafkaBootstrapServers(), "TRIBUTARY_REDIS_URI", redisUri);
  }

  @Test
  void everyOnMissingAndActionBranchThroughTheHttpApiAndTheTopics(DevStack stack) throws Exception {
    Pipeline p = pipeline("branches_it", """
        - {name: shop_info, by: shop, fields: [name, category], onMissing: pass, cache: {size: 100, ttl: 1s}}
        - {name: device_info, by: device, fields: [model], onMissing: drop}
        - {name: region_info, by: region, fields: [zone], onMissing: dlq}
        - {name: blocked, kind: set, by: card, action: drop}
        - {name: vip, kind: set, by: card, action: flag}
        - {name: fraud, kind: set, by: ip, action: dlq}
        """);
    try (Harness.Service ingest = Harness.start(io.tributary.ingest.Main.STAGE, p, env(stack, stack.redisUri()));
         Harness.Service enrich = Harness.start(Main.STAGE, p, env(stack, stack.redisUri()))) {
      put(enrich, "shop_info/S1", "{\"name\":\"Caf\u00e9 \\\"Z\\\"\",\"category\":\"food\",\"extra\":\"ignored\"}");
      put(enrich, "device_info/D1", "{\"model\":\"X1\"}");
      put(enrich, "region_info/R1", "{\"zone\":\"eu\"}");
      put(enrich, "blocked/C_BLOCK", "");
      put(enrich, "vip/C_VIP", "");
      put(enrich, "fraud/IP_BAD", "");
      String events = String.join("\n",
          event("e1", "C1", "S1", "D1", "R1", "IP1"),
          event("e2", "C2", "S404", "D1", "R1", "IP1"),
          event("e3", "C3", "S1", "D404", "R1", "IP1"),
          event("e4", "C4", "S1", "D1", "R404", "IP1"),
          event("e5", "C_BLOCK", "S1", "D1", "R1", "IP1"),
          event("e6", "C_VIP", "S1", "D1", "R1", "IP1"),
          event("e7", "C7", "S1", "D1", "R1", "IP_BAD"));
      assertThat(Harness.post(ingest.url("/events"), NDJSON, events).statusCode()).isEqualTo(202);

      Map<String, JsonObject> out = byId(TopicProbe.read(stack.kafkaBootstrapServers(), "branches_it.enriched", Duration.ofSeconds(60),
          list -> list.size() >= 3));
      List<TopicProbe.Message> dead = TopicProbe.read(stack.kafkaBootstrapServers(), "branches_it.dlq", Duration.ofSeconds(30),
          list -> list.size() >= 2);
      Harness.await("e3 and e5 dropped", Duration.ofSeconds(10),
          () -> counter(enrich, "dropped") >= 2);
      assertThat(out.keySet()).containsExactlyInAnyOrder("e1", "e2", "e6");
      JsonObject e1 = out.get("e1");
      assertThat(e1.getJsonObject("shop_info").getMap()).isEqualTo(Map.of("name", "Caf\u00e9 \"Z\"", "category", "food"));
      assertThat(e1.getJsonObject("device_info").getString("model")).isEqualTo("X1");
      assertThat(e1.getJsonObject("region_info").getString("zone")).isEqualTo("eu");
      assertThat(e1.getBoolean("vip")).isFalse();
      assertThat(e1.containsKey("blocked")).isFalse();
      assertThat(e1.getDouble("amount")).isEqualTo(10.0);
      assertThat(out.get("e2").containsKey("shop_info")).isFalse();
      assertThat(out.get("e6").getBoolean("vip")).isTrue();
      Map<String, String> reasons = dead.stream().map(m -> new JsonObject(m.value()))
          .collect(Collectors.toMap(j -> new JsonObject(j.getString("input")).getString("id"), j -> j.getString("reason")));
      assertThat(reasons).containsOnlyKeys("e4", "e7");
      assertThat(reasons.get("e4")).isEqualTo("look-up 'region_info': no record for region=R404");
      assertThat(reasons.get("e7")).isEqualTo("look-up 'fraud': ip=IP_BAD is listed");
      assertThat(dead.get(0).key()).isNotNull();

      assertThat(Harness.send(Harness.authorized(enrich.url("/reference/shop_info/S1")).GET()).body()).contains("\"category\":\"food\"");
      assertThat(Harness.send(Harness.authorized(enrich.url("/reference/shop_info/S9")).GET()).statusCode()).isEqualTo(404);
      assertThat(Harness.send(Harness.authorized(enrich.url("/reference/nope/S9")).GET()).statusCode()).isEqualTo(404);
      assertThat(Harness.send(HttpRequest.newBuilder(java.net.URI.create(enrich.url("/reference/shop_info/S1"))).GET()).statusCode())
          .isEqualTo(401);
      assertThat(Harness.send(Harness.authorized(enrich.url("/reference/vip/C_VIP")).DELETE()).statusCode()).isEqualTo(204);
      assertThat(Harness.send(Harness.authorized(enrich.url("/reference/vip/C_VIP")).GET()).statusCode()).isEqualTo(404);
      assertThat(enrich.running().context().registry().scrape()).contains("tributary_lookup_cache_total{lookup=\"shop_info\"");
    }
  }

  @Test
  void aHistoryWithMatchesEmitsOneEventPerStoredMatchNewestFirst(DevStack stack) throws Exception {
    // A name of this run: the history lives on in Redis, and a rerun must not find its events there.
    String name = "matches_" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);
    Pipeline p = PipelineParser.parse("""
        pipeline: %1$s
        schema:
          id: id
          key: card
          time: ts
          fields: {card: string, shop: string, amount: number}
        histories:
          - name: pairs
            keep: [shop]
            features:
              n_1h: {measure: count(), last: 1h}
            matches: {last: 1h, limit: 2}
        buses:
          ingested: kafka:%1$s.ingested
          enriched: kafka:%1$s.enriched
          deadLetter: kafka:%1$s.dlq
        """.formatted(name), name + ".yaml");
    long t0 = System.currentTimeMillis() - 3 * 3_600_000L;
    String events = String.join("\n",
        "{\"id\":\"m1\",\"card\":\"C1\",\"shop\":\"S1\",\"amount\":1,\"ts\":" + t0 + "}",
        "{\"id\":\"m2\",\"card\":\"C1\",\"shop\":\"S2\",\"amount\":2,\"ts\":" + (t0 + 60_000) + "}",
        "{\"id\":\"m3\",\"card\":\"C1\",\"shop\":\"S3\",\"amount\":3,\"ts\":" + (t0 + 120_000) + "}",
        "{\"id\":\"m4\",\"card\":\"C1\",\"shop\":\"S4\",\"amount\":4,\"ts\":" + (t0 + 180_000) + "}",
        "{\"id\":\"m5\",\"card\":\"C1\",\"shop\":\"S5\",\"amount\":5,\"ts\":" + (t0 + 2 * 3_600_000L) + "}");
    try (Harness.Service ingest = Harness.start(io.tributary.ingest.Main.STAGE, p, env(stack, stack.redisUri()));
         Harness.Service enrich = Harness.start(Main.STAGE, p, env(stack, stack.redisUri()))) {
      assertThat(Harness.post(ingest.url("/events"), NDJSON, events).statusCode()).isEqualTo(202);
      List<TopicProbe.Message> out = TopicProbe.read(stack.kafkaBootstrapServers(), name + ".enriched", Duration.ofSeconds(60),
          list -> list.size() >= 7);
      List<String> ids = out.stream().map(m -> new JsonObject(m.value()).getString("id")).toList();
      // m1 has no match (emitted once, without one), m2 one, m3 and m4 their newest two within the
      // hour, m5 none: the others are more than an hour before it.
      assertThat(ids).containsExactly("m1", "m2#m1", "m3#m2", "m3#m1", "m4#m3", "m4#m2", "m5");
      Map<String, JsonObject> byId = byId(out);
      assertThat(byId.get("m1").getJsonObject("pairs").getMap()).isEqualTo(Map.of("n_1h", 0));
      JsonObject pair = byId.get("m4#m2").getJsonObject("pairs");
      assertThat(pair.getLong("n_1h")).isEqualTo(3);
      assertThat(pair.getJsonObject("match").getMap()).isEqualTo(Map.of("id", "m2", "time", t0 + 60_000, "shop", "S2"));
      assertThat(byId.get("m4#m2").getString("shop")).as("the event itself").isEqualTo("S4");
      assertThat(byId.get("m5").getJsonObject("pairs").containsKey("match")).isFalse();
    } finally {
      stack.deleteRedisKeys(stack.redisUri(), "tributary:" + name + ":*");
    }
  }

  @Test
  void pauseStopsConsumptionWithoutARebalanceAndResumeCatchesUp(DevStack stack) throws Exception {
    Pipeline p = pipeline("pause_it", "- {name: shop_info, by: shop, fields: [name]}");
    try (Harness.Service ingest = Harness.start(io.tributary.ingest.Main.STAGE, p, env(stack, stack.redisUri()));
         Harness.Service enrich = Harness.start(Main.STAGE, p, env(stack, stack.redisUri()))) {
      Harness.await("partitions assigned", Duration.ofSeconds(30), () -> !assigned(enrich).isEmpty());
      List<String> before = assigned(enrich);
      // One event through first, so the consumer has fetched, and knows a lag, before the pause.
      assertThat(Harness.post(ingest.url("/events"), NDJSON, event("p0", "C1", "S1", "D", "R", "I")).statusCode()).isEqualTo(202);
      Harness.await("the first event enriched", Duration.ofSeconds(30), () -> counter(enrich, "in") == 1);
      Harness.send(Harness.authorized(enrich.url("/control/pause")).POST(HttpRequest.BodyPublishers.noBody()));
      assertThat(Harness.post(ingest.url("/events"), NDJSON, event("p1", "C1", "S1", "D", "R", "I")).statusCode()).isEqualTo(202);
      Thread.sleep(3000);
      assertThat(counter(enrich, "in")).isEqualTo(1);
      assertThat(assigned(enrich)).isEqualTo(before);
      // Lag counts offsets, and each ingest transaction adds a commit marker after its records: 1 event, 1 or 2 offsets.
      Harness.await("the paused backlog shows as lag", Duration.ofSeconds(10), () -> counter(enrich, "lag") >= 1);
      assertThat(counter(enrich, "lag")).isLessThanOrEqualTo(2);
      Harness.send(Harness.authorized(enrich.url("/control/resume")).POST(HttpRequest.BodyPublishers.noBody()));
      assertThat(TopicProbe.readAtLeast(stack.kafkaBootstrapServers(), "pause_it.enriched", 2, Duration.ofSeconds(30))).hasSize(2);
      assertThat(assigned(enrich)).isEqualTo(before);
    }
  }

  /** On Redis, and on SQL (a database of the test's own on the local MariaDB, dropped afterwards). */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"redis", "sql"})
  void bulkLoadsAMillionRecordsThenEnrichesAStreamThatUsesThem(String store, DevStack stack) throws Exception {
    String name = "bulk_" + store + "_it";
    Pipeline p = pipeline(name, store, """
        - {name: merchant, by: shop, fields: [name, category, country, risk], onMissing: dlq}
        - {name: blocked, kind: set, by: card, action: drop}
        """);
    int records = 1_000_000;
    String sqlUrl = stack.jdbcUrl().replaceFirst("/[^/?]*(\\?.*)?$", "/" + name + "?createDatabaseIfNotExist=true");
    Map<String, String> env = new HashMap<>(env(stack, stack.redisUri()));
    env.put("TRIBUTARY_SQL_URL", sqlUrl);
    try (Harness.Service ingest = Harness.start(io.tributary.ingest.Main.STAGE, p, env);
         Harness.Service enrich = Harness.start(Main.STAGE, p, env)) {
      HttpResponse<String> loaded = Harness.send(Harness.authorized(enrich.url("/reference/merchant"))
          .header("Content-Type", NDJSON)
          .POST(HttpRequest.BodyPublishers.ofInputStream(() -> generated(records, i -> "{\"key\":\"M" + i + "\",\"name\":\"Merchant "
              + i + "\",\"category\":\"cat-" + (i % 20) + "\",\"country\":\"" + country(i) + "\",\"risk\":" + (i % 5) + "}\n"))));
      assertThat(loaded.statusCode()).as(loaded.body()).isEqualTo(200);
      assertThat(new JsonObject(loaded.body()).getLong("loaded")).isEqualTo(records);
      assertThat(new JsonObject(loaded.body()).getLong("rejected")).isZero();

      HttpResponse<String> csv = Harness.send(Harness.authorized(enrich.url("/reference/blocked"))
          .header("Content-Type", "text/csv")
          .POST(HttpRequest.BodyPublishers.ofString("key,comment\nCB1,\"fraud, reported\"\nCB2,x\n\"broken\n")));
      JsonObject csvReport = new JsonObject(csv.body());
      assertThat(csvReport.getLong("loaded")).isEqualTo(2);
      assertThat(csvReport.getLong("rejected")).isEqualTo(1);
      assertThat(csvReport.getJsonArray("errors").getJsonObject(0).getLong("line")).isEqualTo(4);

      // A key outside M0..M999999, so the events' merchants keep the names checked below.
      HttpResponse<String> lineBreak = Harness.send(Harness.authorized(enrich.url("/reference/merchant"))
          .header("Content-Type", "text/csv")
          .POST(HttpRequest.BodyPublishers.ofString("key,name,category,country,risk\nMX7,\"Cafe\nde la Gare\",food,FR,low\n")));
      assertThat(lineBreak.statusCode()).as(lineBreak.body()).isEqualTo(200);
      assertThat(new JsonObject(lineBreak.body()).getLong("loaded")).as(lineBreak.body()).isEqualTo(1);
      HttpResponse<String> readBack = Harness.send(Harness.authorized(enrich.url("/reference/merchant/MX7")).GET());
      assertThat(readBack.statusCode()).as(readBack.body()).isEqualTo(200);
      assertThat(new JsonObject(readBack.body()).getJsonObject("fields").getMap())
          .isEqualTo(Map.of("name", "Cafe\nde la Gare", "category", "food", "country", "FR", "risk", "low"));

      Random random = new Random(7);
      int events = 20_000;
      Map<String, Integer> merchantOf = new HashMap<>();
      List<String> lines = new ArrayList<>();
      for (int e = 0; e < events; e++) {
        int m = random.nextInt(records);
        String card = e % 1000 == 0 ? "CB1" : "C" + e;
        merchantOf.put("b" + e, m);
        lines.add(event("b" + e, card, "M" + m, "D", "R", "I"));
        if (lines.size() == 1000) {
          assertThat(Harness.post(ingest.url("/events"), NDJSON, String.join("\n", lines)).statusCode()).isEqualTo(202);
          lines.clear();
        }
      }
      int expected = events - events / 1000;
      Map<String, JsonObject> out = byId(TopicProbe.readAtLeast(stack.kafkaBootstrapServers(), name + ".enriched", expected,
          Duration.ofSeconds(120)));
      assertThat(out).hasSize(expected);
      assertThat(out.keySet()).noneMatch(id -> Integer.parseInt(id.substring(1)) % 1000 == 0);
      out.entrySet().stream().filter(e -> e.getKey().hashCode() % 40 == 0).forEach(e -> {
        int m = merchantOf.get(e.getKey());
        assertThat(e.getValue().getJsonObject("merchant").getMap()).as(e.getKey()).isEqualTo(Map.of(
            "name", "Merchant " + m, "category", "cat-" + (m % 20), "country", country(m), "risk", String.valueOf(m % 5)));
      });
    } finally {
      if (store.equals("sql")) {
        stack.dropSqlDatabase(sqlUrl);
      } else {
        stack.deleteRedisKeys(stack.redisUri(), "tributary:" + name + ":*");
      }
    }
  }

  /** With one batch at a time, and with three overlapping: a failed batch and every later one are read again. */
  @ParameterizedTest(name = "{0} batches in flight")
  @ValueSource(ints = {1, 3})
  void redisStoppedAndRestartedMidStreamLosesAndSkipsNothing(int batchesInFlight, DevStack stack) throws Exception {
    String name = "redis_it_" + batchesInFlight;
    Pipeline p = pipeline(name, "- {name: merchant, by: shop, fields: [name], onMissing: dlq}");
    try (RedisServer redis = RedisServer.create(true).start();
         Harness.Service ingest = Harness.start(io.tributary.ingest.Main.STAGE, p, env(stack, redis.uri()));
         Harness.Service enrich = Harness.start(Main.STAGE, p, withInFlight(env(stack, redis.uri()), batchesInFlight))) {
      HttpResponse<String> loaded = Harness.send(Harness.authorized(enrich.url("/reference/merchant")).header("Content-Type", "text/csv")
          .POST(HttpRequest.BodyPublishers.ofInputStream(() -> generated(101, i -> i == 0 ? "key,name\n" : "M" + i + ",shop " + i + "\n"))));
      assertThat(new JsonObject(loaded.body()).getLong("loaded")).isEqualTo(100);
      int events = 30_000;
      for (int batch = 0; batch < events / 500; batch++) {
        int b = batch;
        String body = IntStream.range(0, 500).mapToObj(i -> event("r" + (b * 500 + i), "C" + i, "M" + (1 + (b * 500 + i) % 100), "D", "R", "I"))
            .collect(Collectors.joining("\n"));
        assertThat(Harness.post(ingest.url("/events"), NDJSON, body).statusCode()).isEqualTo(202);
        if (batch == 10) {
          redis.kill();
        }
        if (batch == 30) {
          Harness.await("not ready while Redis is down", Duration.ofSeconds(10),
              () -> status(enrich, "/health/ready") == 503);
          redis.start();
        }
      }
      Map<String, JsonObject> out = byId(TopicProbe.read(stack.kafkaBootstrapServers(), name + ".enriched", Duration.ofSeconds(120),
          list -> list.stream().map(m -> new JsonObject(m.value()).getString("id")).distinct().count() >= events));
      assertThat(out.size()).as("distinct events enriched").isEqualTo(events);
      assertThat(out.values()).allMatch(e -> e.getJsonObject("merchant").getString("name").equals("shop " + e.getString("shop").substring(1)));
      assertThat(TopicProbe.read(stack.kafkaBootstrapServers(), name + ".dlq", Duration.ofSeconds(2), list -> false)).isEmpty();
    }
  }

  private static long counter(Harness.Service service, String name) {
    return service.running().context().metrics().counters().getLong(name);
  }

  private static Map<String, String> withInFlight(Map<String, String> env, int batches) {
    Map<String, String> with = new HashMap<>(env);
    with.put("TRIBUTARY_KAFKA_MAX_IN_FLIGHT_BATCHES", Integer.toString(batches));
    return with;
  }

  private static String event(String id, String card, String shop, String device, String region, String ip) {
    return "{\"id\":\"" + id + "\",\"card\":\"" + card + "\",\"shop\":\"" + shop + "\",\"device\":\"" + device + "\",\"region\":\""
        + region + "\",\"ip\":\"" + ip + "\",\"amount\":10}";
  }

  private static String country(int i) {
    return new String[] {"FR", "DE", "ES", "IT"}[i % 4];
  }

  private static void put(Harness.Service enrich, String path, String body) throws Exception {
    HttpResponse<String> r = Harness.send(Harness.authorized(enrich.url("/reference/" + path))
        .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(body)));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  private static Map<String, JsonObject> byId(List<TopicProbe.Message> messages) {
    Map<String, JsonObject> out = new HashMap<>();
    messages.forEach(m -> {
      JsonObject event = new JsonObject(m.value());
      out.put(event.getString("id"), event);
    });
    return out;
  }

  @SuppressWarnings("unchecked")
  private static List<String> assigned(Harness.Service enrich) {
    return enrich.running().context().control().status().getJsonArray("assignedPartitions").getList();
  }

  private static int status(Harness.Service service, String path) {
    try {
      return Harness.send(HttpRequest.newBuilder(java.net.URI.create(service.url(path))).GET()).statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  /** A body produced row by row, never held whole in memory. */
  private static InputStream generated(int rows, Function<Integer, String> row) {
    return new InputStream() {
      private int next;
      private byte[] current = new byte[0];
      private int pos;

      @Override
      public int read() {
        if (pos == current.length) {
          if (next == rows) {
            return -1;
          }
          current = row.apply(next++).getBytes(StandardCharsets.UTF_8);
          pos = 0;
        }
        return current[pos++] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        int n = 0;
        while (n < len) {
          int c = read();
          if (c < 0) {
            return n == 0 ? -1 : n;
          }
          b[off + n++] = (byte) c;
        }
        return n;
      }
    };
  }
}

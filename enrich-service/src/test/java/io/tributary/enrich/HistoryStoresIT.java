package io.tributary.enrich;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The two history stores on the real Redis and MariaDB, on the cases the rules name: ties by id,
 * events of one batch seeing each other, late events, retries, and the retention's cut-off; and on
 * a key whose history grows from a few events (read whole) to hundreds (bucket partials and edges),
 * against features computed here from the rules.
 */
@ExtendWith(DevStackExtension.class)
class HistoryStoresIT {

  private static final long H = 3_600_000L;
  private static final long T0 = 1_780_000_000_000L;
  private static Vertx vertx;

  @BeforeAll
  static void vertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void close() {
    vertx.close();
  }

  private static Pipeline pipeline(String name, String store) {
    return PipelineParser.parse("""
        pipeline: %1$s
        store: %2$s
        schema:
          id: id
          key: card
          time: ts
          fields: {card: string, shop: string, amount: number}
        histories:
          - name: spend
            retention: 25h
            features:
              n_1h: {measure: count(), last: 1h}
              total_24h: {measure: sum(amount), last: 24h}
              shops_24h: {measure: distinct(shop), last: 24h}
              last_shops: {latest: shop, n: 3}
        """.formatted(name, store), name + ".yaml");
  }

  private record Run(HistoryStores stores, HistoryPlan plan) {
    List<JsonArray> record(HistoryEvent... events) throws Exception {
      List<String> answers = stores.record(plan, 0, List.of(events)).await(30, TimeUnit.SECONDS);
      List<JsonArray> out = new ArrayList<>();
      answers.forEach(a -> out.add(new JsonArray(a)));
      return out;
    }
  }

  private static Run run(DevStack devstack, String store) throws Exception {
    String name = "history_" + store + "_" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);
    Map<String, String> env = Map.of("TRIBUTARY_REDIS_URI", devstack.redisUri(),
        "TRIBUTARY_SQL_URL", devstack.jdbcUrl() + (devstack.jdbcUrl().contains("?") ? "&" : "?") + "createDatabaseIfNotExist=true");
    ServiceConfig config = ServiceConfig.load("enrich", null, env);
    Pipeline pipeline = pipeline(name, store);
    HistoryStores stores = new HistoryStores(vertx, config, pipeline);
    stores.init().await(30, TimeUnit.SECONDS);
    return new Run(stores, stores.plans().get(0));
  }

  private static HistoryEvent event(String id, long time, long position, String shop, double amount) {
    return new HistoryEvent(id, "c1", time, position, Arrays.asList(amount == 0 ? null : Double.toString(amount), shop));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"redis", "sql"})
  void featuresFollowTheRules(String store, DevStack devstack) throws Exception {
    Run run = run(devstack, store);
    assertThat(run.plan().fields()).containsExactly("amount", "shop");
    // Within one batch: each sees the ones before it in event time; "b" ties with "a" and comes after it by id.
    List<JsonArray> first = run.record(event("a", T0, 0, "s1", 10), event("b", T0, 1, "s2", 20), event("c", T0 + 1000, 2, "s1", 30));
    assertThat(first.get(0).encode()).isEqualTo("[0,0,0,[]]");
    assertThat(first.get(1).getLong(0)).isEqualTo(1);
    assertThat(first.get(1).getJsonArray(3).getList()).containsExactly("s1");
    assertThat(first.get(2).getLong(0)).isEqualTo(2);
    assertThat(first.get(2).getDouble(1)).isEqualTo(30.0);
    assertThat(first.get(2).getLong(2)).isEqualTo(2);
    assertThat(first.get(2).getJsonArray(3).getList()).containsExactly("s2", "s1");
    // A tie where the earlier-arriving event has the larger id: "a0" sees nothing at its own time but "a".
    List<JsonArray> tie = run.record(event("a0", T0, 3, "s3", 5));
    assertThat(tie.get(0).getLong(0)).isEqualTo(1);
    // A retry of "b", and a replay of the first batch: the features they got then.
    List<JsonArray> replay = run.record(event("b", T0, 4, "s2", 20), event("a", T0, 0, "s1", 10));
    assertThat(replay.get(0)).isEqualTo(first.get(1));
    assertThat(replay.get(1)).isEqualTo(first.get(0));
    // Two hours on: the 1 h window is empty, the 24 h window holds all four.
    List<JsonArray> later = run.record(event("d", T0 + 2 * H, 5, "s4", 1));
    assertThat(later.get(0).getLong(0)).isEqualTo(0);
    assertThat(later.get(0).getDouble(1)).isEqualTo(65.0);
    assertThat(later.get(0).getLong(2)).isEqualTo(3);
    assertThat(later.get(0).getJsonArray(3).getList()).containsExactly("s1", "s2", "s3");
    // A late event sees what arrived before it and lies before it, not "d".
    List<JsonArray> late = run.record(event("e", T0 + 30 * 60_000, 6, "s5", 2));
    assertThat(late.get(0).getLong(0)).isEqualTo(4);
    // 26 h on: the events more than 25 h behind the newest earlier event ("d") are forgotten, "d" is not.
    List<JsonArray> far = run.record(event("f", T0 + 28 * H, 7, "s6", 3));
    assertThat(far.get(0).getJsonArray(3).getList()).containsExactly("s4", "s5", "s1");
    List<JsonArray> beyond = run.record(event("g", T0 + 30 * H, 8, "s7", 4), event("e", T0 + 30 * 60_000, 9, "s5", 2));
    assertThat(beyond.get(0).getJsonArray(3).getList()).containsExactly("s6");
    assertThat(beyond.get(1).encode()).as("a retry of an event behind the cut-off is a new, forgotten event").isEqualTo("[0,0,0,[]]");
    run.stores().close().await(10, TimeUnit.SECONDS);
  }

  private record Stored(String id, long time, String shop, double amount) {
    boolean before(long t, String other) {
      return time < t || (time == t && id.compareTo(other) < 0);
    }
  }

  /** The features the rules give an event, from the events stored before it and the key's cut-off. */
  private static String expected(List<Stored> stored, Stored e, long cutoff) {
    long n1h = 0;
    double total = 0;
    Set<String> shops = new HashSet<>();
    for (Stored s : stored) {
      if (s.before(e.time(), e.id())) {
        if (s.time() >= Math.max(e.time() - H, cutoff)) {
          n1h++;
        }
        if (s.time() >= Math.max(e.time() - 24 * H, cutoff)) {
          total += s.amount();
          shops.add(s.shop());
        }
      }
    }
    List<String> last = stored.stream().filter(s -> s.time() >= cutoff && s.before(e.time(), e.id()))
        .sorted(Comparator.comparingLong(Stored::time).thenComparing(Stored::id).reversed())
        .limit(3).map(Stored::shop).toList();
    return n1h + "," + Math.round(total * 100) + "," + shops.size() + "," + last;
  }

  private static String actual(JsonArray features) {
    return features.getLong(0) + "," + Math.round(features.getDouble(1) * 100) + "," + features.getLong(2) + ","
        + features.getJsonArray(3).getList();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"redis", "sql"})
  void aGrowingHistoryKeepsFollowingTheRules(String store, DevStack devstack) throws Exception {
    Run run = run(devstack, store);
    Random random = new Random(7);
    List<Stored> stored = new ArrayList<>();
    List<Stored> quiet = new ArrayList<>();
    Map<String, String> answered = new HashMap<>();
    long newest = Long.MIN_VALUE;
    long clock = T0;
    long position = 0;
    int checked = 0;
    for (int batch = 0; batch < 90; batch++) {
      List<HistoryEvent> events = new ArrayList<>();
      List<String> expected = new ArrayList<>();
      int size = 1 + random.nextInt(20);
      for (int i = 0; i < size; i++) {
        Stored e;
        if (!stored.isEmpty() && random.nextDouble() < 0.05) {
          e = stored.get(stored.size() - 1 - random.nextInt(Math.min(20, stored.size())));
        } else {
          clock += random.nextInt(6) * 60_000L;
          long time = random.nextDouble() < 0.1 ? clock - random.nextInt(3 * 60) * 60_000L : clock;
          e = new Stored(String.format("e%05d", stored.size()) + (random.nextBoolean() ? "a" : ""), time,
              "s" + random.nextInt(40), 1 + random.nextInt(50_000) / 100.0);
        }
        long cutoff = newest == Long.MIN_VALUE ? e.time() - 25 * H : newest - 25 * H;
        String want;
        if (answered.containsKey(e.id()) && e.time() >= cutoff) {
          want = answered.get(e.id());
        } else {
          want = expected(stored, e, cutoff);
          stored.add(e);
          answered.put(e.id(), want);
          newest = Math.max(newest, e.time());
        }
        events.add(new HistoryEvent(e.id(), "hot", e.time(), position++, Arrays.asList(Double.toString(e.amount()), e.shop())));
        expected.add(want);
      }
      // A quiet key in the same batches, read whole all along.
      Stored q = new Stored("q" + batch, clock, "s" + batch % 7, batch + 0.5);
      expected.add(expected(quiet, q, quiet.isEmpty() ? q.time() - 25 * H : quiet.get(quiet.size() - 1).time() - 25 * H));
      quiet.add(q);
      events.add(new HistoryEvent(q.id(), "quiet", q.time(), position++, Arrays.asList(Double.toString(q.amount()), q.shop())));
      List<JsonArray> answers = run.record(events.toArray(HistoryEvent[]::new));
      for (int i = 0; i < expected.size(); i++) {
        assertThat(actual(answers.get(i))).as("batch %d, event %s", batch, events.get(i).id()).isEqualTo(expected.get(i));
        checked++;
      }
    }
    assertThat(checked).isGreaterThan(500);
    long last = newest;
    assertThat(stored.stream().filter(s -> s.time() > last - 24 * H).count()).as("a key well past the sparse limit").isGreaterThan(200);
    assertThat(stored.stream().filter(s -> s.time() < last - 25 * H).count()).as("and past its retention").isGreaterThan(20);
    run.stores().close().await(10, TimeUnit.SECONDS);
  }
}

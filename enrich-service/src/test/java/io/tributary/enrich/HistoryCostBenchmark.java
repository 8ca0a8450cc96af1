package io.tributary.enrich;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * What a history costs per event as a key's history grows: for each history length, a fresh key is
 * filled with that many events (spread over event time, {@code gapMs} apart), then batches of new
 * events of the key are stored and timed, each getting its 1 h and 24 h features. Not a test: run it
 * by hand against a Redis or SQL store (docs/BENCHMARKS.md has the command and the figures).
 *
 * <pre>
 * java -cp enrich-service/target/test-classes:enrich-service/target/classes:$(cat /tmp/enrich.cp) \
 *   io.tributary.enrich.HistoryCostBenchmark redis 26000 10,100,1000,10000,100000
 * </pre>
 */
public final class HistoryCostBenchmark {

  private static final int BATCH = 100;
  private static final int MEASURED_BATCHES = 30;

  private HistoryCostBenchmark() {
  }

  public static void main(String[] args) throws Exception {
    String store = args.length > 0 ? args[0] : "redis";
    long gap = args.length > 1 ? Long.parseLong(args[1]) : 26_000;
    String[] lengths = (args.length > 2 ? args[2] : "10,100,1000,10000,100000").split(",");
    Vertx vertx = Vertx.vertx();
    String name = "bench_history_" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);
    Pipeline pipeline = PipelineParser.parse("""
        pipeline: %1$s
        store: %2$s
        schema:
          id: id
          key: card
          time: ts
          fields: {card: string, amount: number}
        histories:
          - name: spend
            retention: 40d
            features:
              spend_1h: {measure: sum(amount), last: 1h}
              spend_24h: {measure: sum(amount), last: 24h}
        """.formatted(name, store), "bench.yaml");
    ServiceConfig config = ServiceConfig.load("enrich", null, System.getenv());
    HistoryStores stores = new HistoryStores(vertx, config, pipeline);
    stores.init().await(30, TimeUnit.SECONDS);
    HistoryPlan plan = stores.plans().get(0);
    System.out.printf(Locale.ROOT, "store %s, events %d ms apart, batches of %d events of one key%n", store, gap, BATCH);
    System.out.println("history length | fill, µs/event | new events, µs/event (median of " + MEASURED_BATCHES + " batches)");
    long t0 = 1_780_000_000_000L;
    for (String length : lengths) {
      int n = Integer.parseInt(length);
      String key = "k" + n;
      long position = 0;
      long fillStart = System.nanoTime();
      for (int from = 0; from < n; from += 500) {
        List<HistoryEvent> batch = new ArrayList<>();
        for (int i = from; i < Math.min(n, from + 500); i++) {
          batch.add(event(key, i, t0 + i * gap, position++));
        }
        stores.record(plan, 0, batch).await(60, TimeUnit.SECONDS);
      }
      double fill = (System.nanoTime() - fillStart) / 1e3 / Math.max(1, n);
      List<Double> perEvent = new ArrayList<>();
      int next = n;
      for (int b = 0; b < MEASURED_BATCHES; b++) {
        List<HistoryEvent> batch = new ArrayList<>();
        for (int i = 0; i < BATCH; i++, next++) {
          batch.add(event(key, next, t0 + (long) next * gap, position++));
        }
        long start = System.nanoTime();
        List<String> answers = stores.record(plan, 0, batch).await(60, TimeUnit.SECONDS);
        perEvent.add((System.nanoTime() - start) / 1e3 / BATCH);
        if (answers.size() != BATCH) {
          throw new IllegalStateException("expected " + BATCH + " answers, got " + answers.size());
        }
      }
      perEvent.sort(Double::compare);
      System.out.printf(Locale.ROOT, "%14d | %14.1f | %8.1f%n", n, fill, perEvent.get(perEvent.size() / 2));
    }
    stores.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
    System.out.println("keys left under tributary:" + name + ":* (delete with redis-cli --scan | xargs redis-cli unlink)");
  }

  private static HistoryEvent event(String key, int i, long time, long position) {
    return new HistoryEvent(key + "-" + i, key, time, position, List.of(Double.toString(1 + (i % 500))));
  }
}

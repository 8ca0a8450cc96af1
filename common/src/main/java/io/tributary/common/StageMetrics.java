package io.tributary.common;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.tributary.common.kafka.KafkaClientMeters;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The per-stage instruments every service exposes on /metrics, all tagged with the stage and the
 * pipeline so one Prometheus query covers the whole pipeline.
 */
public final class StageMetrics {

  private final Counter in;
  private final Counter out;
  private final Counter rejected;
  private final Counter dropped;
  private final Counter deadLettered;
  private final Counter duplicates;
  private final Counter late;
  private final Counter future;
  private final Timer processingLatency;
  private final Timer storeLatency;
  private final DistributionSummary batchSize;
  private final AtomicLong lag = new AtomicLong();
  private final AtomicInteger ready = new AtomicInteger();
  private final KafkaClientMeters kafkaClients;

  public StageMetrics(MeterRegistry registry, String stage, String pipeline) {
    String[] tags = {"stage", stage, "pipeline", pipeline};
    in = Counter.builder("tributary.events.in").description("Events received").tags(tags).register(registry);
    out = Counter.builder("tributary.events.out").description("Events emitted to the next bus").tags(tags).register(registry);
    rejected = Counter.builder("tributary.events.rejected").description("Events refused as invalid").tags(tags).register(registry);
    dropped = Counter.builder("tributary.events.dropped").description("Events dropped by a look-up rule").tags(tags).register(registry);
    deadLettered = Counter.builder("tributary.events.dead.lettered").description("Events written to the dead-letter bus")
        .tags(tags).register(registry);
    duplicates = Counter.builder("tributary.events.duplicates.skipped").description("Events skipped as already applied")
        .tags(tags).register(registry);
    late = Counter.builder("tributary.events.late").description("Events dead-lettered as past the allowed lateness")
        .tags(tags).register(registry);
    future = Counter.builder("tributary.events.future").description("Events dead-lettered as too far ahead of the wall clock")
        .tags(tags).register(registry);
    processingLatency = Timer.builder("tributary.processing.latency").description("Time to process one batch of events")
        .tags(tags).publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofSeconds(30)).register(registry);
    storeLatency = Timer.builder("tributary.state.store.latency").description("Round-trip time of one state-store call")
        .tags(tags).publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000))
        .maximumExpectedValue(Duration.ofSeconds(10)).register(registry);
    batchSize = DistributionSummary.builder("tributary.batch.size").description("Events per processed batch")
        .tags(tags).register(registry);
    Gauge.builder("tributary.consumer.lag", lag, AtomicLong::get)
        .description("Records behind the end of the input topic, summed over assigned partitions").tags(tags).register(registry);
    Gauge.builder("tributary.ready", ready, AtomicInteger::get)
        .description("1 while /health/ready answers UP, 0 while a dependency is down or the service drains").tags(tags)
        .register(registry);
    kafkaClients = new KafkaClientMeters(registry, Tags.of(tags));
  }

  /** Binds the Kafka clients' own metrics, tagged like this stage's. */
  public KafkaClientMeters kafkaClients() {
    return kafkaClients;
  }

  public void ready(boolean isReady) {
    ready.set(isReady ? 1 : 0);
  }

  public void in(long n) {
    in.increment(n);
  }

  public void out(long n) {
    out.increment(n);
  }

  public void rejected(long n) {
    rejected.increment(n);
  }

  public void dropped(long n) {
    dropped.increment(n);
  }

  public void deadLettered(long n) {
    deadLettered.increment(n);
  }

  public void duplicates(long n) {
    duplicates.increment(n);
  }

  public void late(long n) {
    late.increment(n);
  }

  public void future(long n) {
    future.increment(n);
  }

  public Timer processingLatency() {
    return processingLatency;
  }

  public Timer storeLatency() {
    return storeLatency;
  }

  public void batch(int size) {
    batchSize.record(size);
  }

  public void lag(long records) {
    lag.set(records);
  }

  public JsonObject counters() {
    return new JsonObject()
        .put("in", (long) in.count())
        .put("out", (long) out.count())
        .put("rejected", (long) rejected.count())
        .put("dropped", (long) dropped.count())
        .put("deadLettered", (long) deadLettered.count())
        .put("duplicatesSkipped", (long) duplicates.count())
        .put("late", (long) late.count())
        .put("future", (long) future.count())
        .put("lag", lag.get());
  }
}

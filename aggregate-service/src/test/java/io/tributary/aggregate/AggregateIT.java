package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.tributary.common.testing.Harness;
import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.TopicProbe;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The aggregate stage on its own, against real Kafka and Redis: records written straight to its
 * input (as another pipeline or producer would), so that its own event-time checks are what decides.
 */
@ExtendWith(DevStackExtension.class)
class AggregateIT {

  private static final long HOUR = 3_600_000L;

  private static Pipeline pipeline(String name) {
    return PipelineParser.parse("""
        pipeline: %1$s
        schema:
          id: id
          key: card
          time: ts
          fields: {card: string, amount: number}
        aggregations:
          - name: by_card
            groupBy: [card]
            window: {tumbling: 1h}
            allowedLateness: 10m
            retention: 1d
            measures: {count: count(), total: sum(amount)}
        buses:
          enriched: kafka:%1$s.enriched
          updates: kafka:%1$s.updates
          deadLetter: kafka:%1$s.dlq
        """.formatted(name), name + ".yaml");
  }

  private static TopicProbe.Message event(String id, long time, double amount) {
    return new TopicProbe.Message("C1", "{\"id\":\"" + id + "\",\"card\":\"C1\",\"amount\":" + amount + ",\"ts\":" + time + "}",
        Map.of(), 0, 0);
  }

  private static JsonObject status(Harness.Service aggregate) throws Exception {
    return new JsonObject(Harness.send(Harness.authorized(aggregate.url("/control/status")).GET()).body());
  }

  @Test
  void aFarFutureEventIsDeadLetteredAndDoesNotMoveStreamTimeWhileStartedPausedHoldsEverythingBack(DevStack stack) throws Exception {
    String name = "aggregate_it_" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);
    Pipeline pipeline = pipeline(name);
    long base = Math.floorDiv(System.currentTimeMillis() - 5 * HOUR, HOUR) * HOUR;
    try (Harness.Service aggregate = Harness.start(Main.STAGE, pipeline, Map.of(
        "TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", stack.kafkaBootstrapServers(),
        "TRIBUTARY_REDIS_URI", stack.redisUri(),
        "TRIBUTARY_KAFKA_PARTITIONS", "1",
        "TRIBUTARY_CONTROL_START_PAUSED", "true"))) {
      List<TopicProbe.Message> records = new ArrayList<>();
      records.add(event("e1", base + 60_000, 1));
      records.add(event("from-2099", System.currentTimeMillis() + 2 * 24 * HOUR, 1000));
      records.add(event("e2", base + 120_000, 2));
      records.add(event("e3", base + HOUR + 30 * 60_000, 4));
      records.add(event("e1", base + 60_000, 1)); // a retry of e1: skipped
      records.add(event("too-old", base - 3 * HOUR, 8)); // past its window's end + 10m at stream time base+1h30m
      records.add(event("too-old", base - 3 * HOUR, 8)); // its retry: already decided, dead-lettered once only
      TopicProbe.write(stack.kafkaBootstrapServers(), name + ".enriched", records);

      Thread.sleep(2000);
      JsonObject paused = status(aggregate);
      assertThat(paused.getString("state")).isEqualTo("paused");
      assertThat(paused.getJsonObject("counters").getLong("in")).as("nothing consumed while paused").isZero();
      Harness.send(Harness.authorized(aggregate.url("/control/resume")).POST(HttpRequest.BodyPublishers.noBody()));

      Harness.await("the events applied", Duration.ofSeconds(60), () -> {
        try {
          return status(aggregate).getJsonObject("counters").getLong("in") == records.size()
              && windows(aggregate).size() == 2;
        } catch (Exception e) {
          return false;
        }
      });
      JsonArray windows = windows(aggregate);
      // Newest first: the hour of e3, then the hour of e1 and e2, which the 2099 event would have closed.
      assertThat(windows.getJsonObject(0).getLong("start")).isEqualTo(base + HOUR);
      assertThat(windows.getJsonObject(0).getJsonObject("measures").getMap()).containsEntry("count", 1).containsEntry("total", 4.0);
      assertThat(windows.getJsonObject(1).getLong("start")).isEqualTo(base);
      assertThat(windows.getJsonObject(1).getJsonObject("measures").getMap()).containsEntry("count", 2).containsEntry("total", 3.0);

      JsonObject counters = status(aggregate).getJsonObject("counters");
      assertThat(counters.getLong("future")).isEqualTo(1);
      assertThat(counters.getLong("late")).isEqualTo(1);
      assertThat(counters.getLong("duplicatesSkipped")).isEqualTo(2);
      assertThat(counters.getLong("deadLettered")).isEqualTo(2);
      String metrics = Harness.send(HttpRequest.newBuilder(URI.create(aggregate.url("/metrics"))).GET()).body();
      assertThat(metrics).containsPattern("tributary_events_future_total\\{[^}]*stage=\"aggregate\"[^}]*} 1.0");
      assertThat(metrics).containsPattern("tributary_events_late_total\\{[^}]*stage=\"aggregate\"[^}]*} 1.0");

      List<TopicProbe.Message> dead = TopicProbe.readToEnd(stack.kafkaBootstrapServers(), name + ".dlq", Duration.ofSeconds(30),
          list -> list.size() >= 2);
      assertThat(dead).hasSize(2);
      JsonObject future = new JsonObject(dead.stream().filter(m -> m.value().contains("from-2099")).findFirst().orElseThrow().value());
      assertThat(future.getString("stage")).isEqualTo("aggregate");
      assertThat(future.getString("reason")).startsWith("event time in the future: 'ts' ");
      JsonObject late = new JsonObject(dead.stream().filter(m -> m.value().contains("too-old")).findFirst().orElseThrow().value());
      assertThat(late.getString("reason")).startsWith("late: event time " + (base - 3 * HOUR) + " is past the allowed lateness of [by_card]");

      List<TopicProbe.Message> updates = TopicProbe.readToEnd(stack.kafkaBootstrapServers(), name + ".updates", Duration.ofSeconds(30),
          list -> list.stream().anyMatch(m -> m.value().contains("\"windowStart\":" + base + ",") && m.value().contains("\"version\":2")));
      JsonObject newest = updates.stream().map(m -> new JsonObject(m.value())).filter(u -> u.getLong("windowStart") == base)
          .reduce((a, b) -> b).orElseThrow();
      assertThat(newest.getLong("version")).isEqualTo(2);
      assertThat(newest.getJsonObject("measures").getMap()).containsEntry("count", 2).containsEntry("total", 3.0);
    }
  }

  private static JsonArray windows(Harness.Service aggregate) throws Exception {
    return new JsonObject(Harness.send(HttpRequest.newBuilder(URI.create(aggregate.url("/aggregates/by_card/C1"))).GET()).body())
        .getJsonArray("windows");
  }
}

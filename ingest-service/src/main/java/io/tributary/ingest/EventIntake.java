package io.tributary.ingest;

import io.tributary.common.StageMetrics;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.bus.BusPublisher;
import io.tributary.common.bus.DeadLetters;
import io.tributary.common.event.EventValidator;
import io.tributary.common.input.InputCommit;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The one path every event takes into the pipeline, whatever its source: validate, send the valid
 * ones to the ingested bus keyed by entity key, and the invalid ones to the dead-letter bus with
 * their reason and raw input, all in one transaction. The returned future succeeds only once the
 * buses acknowledged all of them; a source acknowledges its input only then (a Kafka source commits
 * its offsets in the same transaction).
 */
public final class EventIntake {

  private final EventValidator validator;
  private final DeadLetters deadLetters;
  private final BusRef ingested;
  private final BusPublisher publisher;
  private final StageMetrics metrics;
  private final boolean countsAccepted;

  /** What became of a batch: how many were accepted, and why each rejected one was. */
  public record Outcome(int accepted, List<Rejection> rejected) {
  }

  public record Rejection(int index, String error) {
    public JsonObject toJson() {
      return new JsonObject().put("index", index).put("error", error);
    }
  }

  public EventIntake(Pipeline pipeline, BusPublisher publisher, StageMetrics metrics) {
    this(pipeline, pipeline.buses().ingested(), publisher, metrics, true);
  }

  private EventIntake(Pipeline pipeline, BusRef ingested, BusPublisher publisher, StageMetrics metrics, boolean countsAccepted) {
    this.validator = new EventValidator(pipeline.schema());
    this.deadLetters = new DeadLetters(pipeline.name(), "ingest", pipeline.buses().deadLetter());
    this.ingested = ingested;
    this.publisher = publisher;
    this.metrics = metrics;
    this.countsAccepted = countsAccepted;
  }

  /**
   * The door of a fused chain that reads {@code source}: refuses what the chain would refuse (with
   * the same reasons, dead-lettered here) and appends the valid events to the source log, the one
   * copy that makes them durable. The chain counts them in and out when it reads them; this counts
   * only what it refused.
   */
  public static EventIntake door(Pipeline pipeline, BusRef source, BusPublisher publisher, StageMetrics metrics) {
    return new EventIntake(pipeline, source, publisher, metrics, false);
  }

  public Future<Outcome> accept(List<RawEvent> events, String source) {
    return accept(events, source, null);
  }

  /**
   * @param consumed the source offsets these events were read at, committed in the same Kafka
   *     transaction as the events and dead letters (null for HTTP and RabbitMQ input)
   */
  public Future<Outcome> accept(List<RawEvent> events, String source, InputCommit consumed) {
    long start = System.nanoTime();
    long now = System.currentTimeMillis();
    List<BusMessage> messages = new ArrayList<>(events.size());
    List<Rejection> rejected = new ArrayList<>();
    int future = 0;
    for (int i = 0; i < events.size(); i++) {
      RawEvent event = events.get(i);
      String error = event.parseError();
      if (error == null) {
        EventValidator.Result result = validator.validate(event.bytes(), now);
        if (result instanceof EventValidator.Valid valid) {
          byte[] value = valid.value();
          // No headers: the id and time are in the event (the time as epoch millis), and the record
          // timestamp is when ingest accepted it, which enrich keeps (the start of end-to-end latency).
          messages.add(new BusMessage(ingested, valid.key(), value, Map.of(), now));
          continue;
        }
        EventValidator.Invalid invalid = (EventValidator.Invalid) result;
        error = invalid.error();
        if (invalid.refusal() == EventValidator.Refusal.FUTURE) {
          future++;
        }
      }
      rejected.add(new Rejection(i, error));
      messages.add(deadLetters.message(null, error, source, event.bytes(), now));
    }
    int acceptedCount = events.size() - rejected.size();
    int futureCount = future;
    if (countsAccepted) {
      metrics.in(events.size());
      metrics.batch(events.size());
    }
    return publisher.publish(messages, consumed).map(v -> {
      // Validation to the committed transaction: what a client waits for between request and 202.
      metrics.processingLatency().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      if (countsAccepted) {
        metrics.out(acceptedCount);
      }
      metrics.rejected(rejected.size());
      metrics.deadLettered(rejected.size());
      metrics.future(futureCount);
      return new Outcome(acceptedCount, rejected);
    });
  }
}

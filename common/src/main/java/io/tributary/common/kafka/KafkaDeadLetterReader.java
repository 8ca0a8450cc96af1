package io.tributary.common.kafka;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.console.DeadLetterReader;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.consumer.KafkaConsumerRecords;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The newest records of a dead-letter topic, through the Vert.x Kafka client: one consumer of no
 * group, made at the first request and kept, assigned every partition, sought to {@code count}
 * records before each partition's end and polled up to that end. Requests that come while a read of
 * the same count is under way share its answer, so open pages cost one read at a time whatever their
 * number; a browse is a handful of fetches, off the event loop inside the client.
 */
public final class KafkaDeadLetterReader implements DeadLetterReader {

  private static final Duration POLL = Duration.ofMillis(500);
  private static final int MAX_POLLS = 20;

  private final Vertx vertx;
  private final Map<String, String> settings;
  private final String topic;
  private KafkaConsumer<String, String> consumer;
  /** The read under way or last done, and its count. */
  private Future<List<JsonObject>> reading = Future.succeededFuture(List.of());
  private int readingCount = -1;

  public KafkaDeadLetterReader(Vertx vertx, ServiceConfig config, String clientId, String topic) {
    this.vertx = vertx;
    this.settings = KafkaSettings.browser(config, clientId);
    this.topic = topic;
  }

  @Override
  public synchronized Future<List<JsonObject>> latest(int count) {
    if (reading.isComplete() || count != readingCount) {
      reading = reading.transform(ignored -> read(count));
      readingCount = count;
    }
    return reading;
  }

  private Future<List<JsonObject>> read(int count) {
    if (consumer == null) {
      consumer = KafkaConsumer.create(vertx, settings);
    }
    KafkaConsumer<String, String> c = consumer;
    return c.partitionsFor(topic).compose(infos -> {
      Set<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(topic, i.getPartition())).collect(Collectors.toSet());
      if (partitions.isEmpty()) {
        return Future.succeededFuture(List.<JsonObject>of());
      }
      return c.assign(partitions)
          .compose(v -> Future.all(c.beginningOffsets(partitions), c.endOffsets(partitions)))
          .compose(offsets -> {
            Map<TopicPartition, Long> begin = offsets.resultAt(0);
            Map<TopicPartition, Long> end = offsets.resultAt(1);
            Map<Integer, Long> remaining = new HashMap<>();
            List<Future<Void>> seeks = new ArrayList<>();
            for (TopicPartition p : partitions) {
              long from = Math.max(begin.getOrDefault(p, 0L), end.getOrDefault(p, 0L) - count);
              if (from < end.getOrDefault(p, 0L)) {
                remaining.put(p.getPartition(), end.get(p));
              }
              seeks.add(c.seek(p, from));
            }
            return Future.all(seeks).compose(v -> poll(c, remaining, new ArrayList<>(), 0));
          });
    }).map(records -> records.stream()
        .sorted(Comparator.comparingLong((JsonObject r) -> r.getLong("timestamp")).reversed()
            .thenComparing(r -> r.getLong("offset"), Comparator.reverseOrder()))
        .limit(count)
        .toList());
  }

  /** Polls until every partition reached the end it had when the browse began (transaction markers included). */
  private Future<List<JsonObject>> poll(KafkaConsumer<String, String> c, Map<Integer, Long> remaining, List<JsonObject> out, int polls) {
    if (remaining.isEmpty() || polls >= MAX_POLLS) {
      return Future.succeededFuture(out);
    }
    return c.poll(POLL).compose((KafkaConsumerRecords<String, String> records) -> {
      for (int i = 0; i < records.size(); i++) {
        KafkaConsumerRecord<String, String> r = records.recordAt(i);
        Long end = remaining.get(r.partition());
        if (end != null && r.offset() < end) {
          out.add(deadLetter(r));
        }
      }
      List<Future<Long>> positions = remaining.keySet().stream().map(p -> c.position(new TopicPartition(topic, p))).toList();
      return Future.all(positions).compose(done -> {
        List<Integer> shards = List.copyOf(remaining.keySet());
        for (int i = 0; i < shards.size(); i++) {
          if (positions.get(i).result() >= remaining.get(shards.get(i))) {
            remaining.remove(shards.get(i));
          }
        }
        return poll(c, remaining, out, polls + 1);
      });
    });
  }

  private static JsonObject deadLetter(KafkaConsumerRecord<String, String> r) {
    JsonObject body;
    try {
      body = new JsonObject(r.value());
    } catch (DecodeException | NullPointerException e) {
      body = new JsonObject().put("reason", "(not a dead-letter record)").put("input", r.value());
    }
    return body.put("partition", r.partition()).put("offset", r.offset()).put("timestamp", r.timestamp());
  }

  @Override
  public synchronized Future<Void> close() {
    return consumer == null ? Future.succeededFuture() : reading.transform(v -> consumer.close());
  }
}

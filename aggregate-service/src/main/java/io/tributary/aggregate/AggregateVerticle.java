package io.tributary.aggregate;

import io.tributary.common.ServiceContext;
import io.tributary.common.StageClients;
import io.tributary.common.bus.BusMessage;
import io.tributary.common.http.ServiceHttpServer;
import io.tributary.common.kafka.ConsumedOffsets;
import io.tributary.common.kafka.ConsumerLoop;
import io.tributary.common.kafka.KafkaFutures;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.state.StateStore;
import io.tributary.common.state.StateStores;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregate stage: consumes the enriched topic and applies each batch to the state store exactly
 * once (positions live in the store, not in Kafka), relays each batch's window updates and dead
 * letters from the store's outbox to the buses exactly once (the relayed position is the consumer
 * group's committed offset, written in the same Kafka transaction), and serves queries.
 */
public final class AggregateVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(AggregateVerticle.class);

  private final ServiceContext service;
  private final ServiceHttpServer http;
  private StateStore store;
  private StageClients clients;
  private ConsumerLoop consumer;
  private OutboxRelay relay;
  private volatile int partitions;

  public AggregateVerticle(ServiceContext service) {
    this.service = service;
    this.http = new ServiceHttpServer(service);
    this.partitions = service.config().getInt("kafka.partitions");
  }

  @Override
  public Future<?> start() {
    Pipeline pipeline = service.pipeline();
    BusRef input = pipeline.buses().enriched();
    if (!input.isKafka()) {
      return Future.failedFuture("aggregate reads its input from Kafka; buses.enriched is " + input);
    }
    store = StateStores.create(vertx, service.config(), pipeline);
    List<BusRef> outputs = List.of(pipeline.buses().updates(), pipeline.buses().deadLetter());
    String group = pipeline.consumerGroup("aggregate");
    return StageClients.start(vertx, service, List.of(input), outputs)
        .compose(created -> {
          clients = created;
          service.readiness().register(clients.topics().check());
          clients.topics().partitions(input.target()).onSuccess(n -> partitions = n);
          initStore(500);
          OutboxCodec codec = new OutboxCodec(pipeline.aggregations(), pipeline.buses().deadLetter());
          UpdateRecords updates = new UpdateRecords(pipeline, store, () -> partitions);
          relay = new OutboxRelay(vertx,
              (records, relayed) -> publish(input.target(), records, relayed),
              numbers -> relayedPositions(group, input.target(), numbers),
              (partition, after) -> store.outbox(partition, after)
                  .map(entries -> entries.stream().map(e -> codec.decode(partition, e)).toList()),
              updates::of);
          AggregateProcessor processor = new AggregateProcessor(pipeline, store, relay, codec,
              new WindowCache(service.config().getInt("aggregate.cacheWindows")),
              service.config().getInt("aggregate.maxRelayBacklog"), context, service.metrics());
          consumer = new ConsumerLoop("aggregate",
              KafkaSettings.consumer(service.config(), service.instanceId(), group),
              List.of(input.target()), context, processor, processor, ConsumerLoop.CommitMode.EXTERNAL, 1,
              service.control(), service.metrics());
          service.control().addStatus(() -> new JsonObject()
              .put("assignedPartitions", consumer.assignedPartitions())
              .put("counters", service.metrics().counters())
              .put("relay", new JsonObject().put("pending", relay.pending()).put("relayedEntries", relay.relayedEntries())));
          consumer.start();
          AggregatesHandler queries = new AggregatesHandler(pipeline, store, () -> partitions);
          return http.start(vertx, router -> {
            router.get("/aggregates/:aggregation/:group").handler(queries::windows);
            router.get("/aggregates/:aggregation").handler(queries::top);
          });
        });
  }

  /** Publishes relayed records and commits each partition's relayed position as this group's offset, in one transaction. */
  private Future<Void> publish(String topic, List<BusMessage> records, Map<Integer, Long> relayed) {
    ConsumerGroupMetadata group = consumer.groupMetadata();
    if (group == null) {
      return Future.failedFuture("the consumer has not joined its group yet");
    }
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    relayed.forEach((p, position) -> offsets.put(new TopicPartition(topic, p), new OffsetAndMetadata(position)));
    return clients.buses().publish(records, ConsumedOffsets.unordered(offsets, group));
  }

  /** The committed offsets of the group: where each partition's relay stands. Waits for pending transactions (requireStable). */
  private Future<Map<Integer, Long>> relayedPositions(String group, String topic, Collection<Integer> numbers) {
    List<TopicPartition> tps = numbers.stream().map(p -> new TopicPartition(topic, p)).toList();
    return KafkaFutures.toFuture(context, clients.admin()
            .listConsumerGroupOffsets(Map.of(group, new ListConsumerGroupOffsetsSpec().topicPartitions(tps)),
                new ListConsumerGroupOffsetsOptions().requireStable(true))
            .partitionsToOffsetAndMetadata(group))
        .compose(committed -> {
          Map<Integer, Long> out = new HashMap<>();
          for (TopicPartition tp : tps) {
            // Absent: the broker answered with an error for it (UNSTABLE_OFFSET_COMMIT while a transaction
            // commits), which the admin client does not retry. Present but null: no offset committed yet.
            if (!committed.containsKey(tp)) {
              return Future.failedFuture("the committed offset of " + tp + " is not stable yet");
            }
            OffsetAndMetadata offset = committed.get(tp);
            out.put(tp.partition(), offset == null ? -1L : offset.offset());
          }
          return Future.succeededFuture(out);
        });
  }

  /** Prepares the store (the Redis function, the SQL tables); the store may be down at start, so this retries until it succeeds. */
  private void initStore(long backoffMs) {
    store.init().onFailure(e -> {
      LOG.warn("cannot prepare the state store yet ({}); retrying in {} ms", e.getMessage(), backoffMs);
      vertx.setTimer(backoffMs, t -> initStore(Math.min(backoffMs * 2, 10_000)));
    });
  }

  @Override
  public Future<?> stop() {
    return http.stop()
        .compose(v -> consumer == null ? Future.succeededFuture() : consumer.stop())
        .compose(v -> relay == null ? Future.succeededFuture() : relay.close())
        .compose(v -> clients == null ? Future.succeededFuture() : clients.close())
        .compose(v -> store.close());
  }
}

package io.tributary.common.fused;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.input.InputBatch;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputRecord;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The fused chain's hand-off without I/O: one hand-off per source partition and batch, dead letters
 * carried to the last stage, the source's positions kept, and no partition handed on twice when a
 * failed batch is read again or when a batch was read before a re-read the last stage asked for.
 */
class FusedChainTest {

  private static final String YAML = """
      pipeline: chain
      sources: [kafka:chain.raw]
      schema: {id: id, key: k, fields: {k: string}}
      aggregations:
        - {name: n, groupBy: [k], window: {tumbling: 1m}, measures: {count: count()}}
      """;

  private Pipeline pipeline = PipelineParser.parse(YAML, "chain.yaml");
  private Fusion fusion = Fusion.of(pipeline);
  private final List<InputBatch> reachedLast = new ArrayList<>();
  /** Per call of the last stage, what it answers; empty: no seek. */
  private final List<Map<Integer, Long>> lastAnswers = new ArrayList<>();
  /** The partitions whose batches fail in the last stage. */
  private final Set<Integer> failing = new HashSet<>();
  /** When set, the last stage answers only when the test completes these, in order of arrival. */
  private boolean deferred;
  private final List<Promise<Map<Integer, Long>>> unanswered = new ArrayList<>();
  private ChainHead head;

  /** Ingest's stand-in: an event per record, "bad" ones dead-lettered. Enrich's: every event on. */
  private void wire() {
    InProcessBus ingested = fusion.output(List.of(pipeline.buses().ingested()));
    InProcessBus enriched = fusion.output(List.of(pipeline.buses().enriched()));
    head = fusion.head(batch -> {
      List<BusMessage> out = new ArrayList<>();
      for (InputRecord r : batch) {
        boolean bad = new String(r.value(), StandardCharsets.UTF_8).equals("bad");
        out.add(new BusMessage(bad ? pipeline.buses().deadLetter() : pipeline.buses().ingested(), r.key(), r.value(), Map.of(), 7));
      }
      return ingested.publish(out, (Handoff) batch.commit()).map(v -> Map.of());
    });
    fusion.readBy(pipeline.buses().ingested(), null, batch -> {
      List<BusMessage> out = new ArrayList<>();
      batch.forEach(r -> out.add(new BusMessage(pipeline.buses().enriched(), r.key(), r.value(), Map.of(), r.timestamp())));
      return enriched.publish(out, (Handoff) batch.commit()).map(v -> Map.of());
    }, new InputBus.Rebalance() { }, InputBus.Commit.WITH_OUTPUTS);
    fusion.readBy(pipeline.buses().enriched(), null, batch -> {
      reachedLast.add(batch);
      int shard = batch.shards().iterator().next();
      if (failing.contains(shard)) {
        return Future.failedFuture("store down");
      }
      if (deferred) {
        Promise<Map<Integer, Long>> answer = Promise.promise();
        unanswered.add(answer);
        return answer.future();
      }
      return Future.succeededFuture(lastAnswers.isEmpty() ? Map.of() : lastAnswers.remove(0));
    }, new InputBus.Rebalance() { }, InputBus.Commit.BY_STAGE);
  }

  private static InputRecord record(int shard, long position, String value) {
    return new InputRecord("k" + position, value.getBytes(StandardCharsets.UTF_8), Map.of(), -1, shard, position);
  }

  private static InputBatch read(long seekCount, InputRecord... records) {
    InputBatch batch = InputBatch.of("kafka:chain.raw", List.of(records), null);
    Map<Integer, Long> seeks = new HashMap<>();
    batch.shards().forEach(s -> seeks.put(s, seekCount));
    return new InputBatch(batch.source(), batch.byShard(), null, seeks);
  }

  @Test
  void eachPartitionReachesTheLastStageAsOneBatchWithTheSourceEndAndTheDeadLettersBeforeIt() {
    wire();
    Future<Map<Integer, Long>> done = head.process(read(0, record(0, 10, "a"), record(0, 11, "bad"), record(1, 40, "b"),
        record(0, 12, "bad")));
    assertThat(done.succeeded()).isTrue();
    assertThat(reachedLast).hasSize(2);
    InputBatch zero = reachedLast.stream().filter(b -> b.shards().contains(0)).findFirst().orElseThrow();
    assertThat(zero.records(0)).extracting(InputRecord::key).containsExactly("k10");
    assertThat(zero.records(0)).allSatisfy(r -> assertThat(r.position()).isBetween(10L, 12L));
    assertThat(zero.end(0)).as("the source position after the batch, past its dead-lettered tail").isEqualTo(13);
    assertThat(zero.carried(0)).extracting(BusMessage::key).containsExactly("k11", "k12");
    assertThat(zero.source()).isEqualTo("kafka:chain.raw");
    InputBatch one = reachedLast.stream().filter(b -> b.shards().contains(1)).findFirst().orElseThrow();
    assertThat(one.end(1)).isEqualTo(41);
    assertThat(one.carried(1)).isEmpty();
  }

  @Test
  void anInMemoryBusNamedAnOutputIsCarriedToTheLastStageWithItsTimestampBesidesBeingHandedOn() {
    assertThat(fusion.writtenToo()).isEmpty();
    pipeline = PipelineParser.parse(YAML + "buses: {outputs: [enriched]}\n", "chain.yaml");
    fusion = Fusion.of(pipeline);
    assertThat(fusion.writtenToo()).containsExactly(pipeline.buses().enriched());
    wire();

    head.process(read(0, record(0, 10, "a"), record(0, 11, "bad"), record(0, 12, "b")));

    InputBatch last = reachedLast.get(0);
    assertThat(last.records(0)).extracting(InputRecord::key).containsExactly("k10", "k12");
    assertThat(last.carried(0)).extracting(m -> m.bus() + " " + m.key() + " " + m.timestamp())
        .containsExactly("kafka:events.dlq k11 7", "kafka:events.enriched k10 7", "kafka:events.enriched k12 7");
  }

  @Test
  void aBatchOfOnlyRefusedEventsStillMovesThePartitionOn() {
    wire();
    head.process(read(0, record(3, 5, "bad"), record(3, 6, "bad")));
    assertThat(reachedLast).hasSize(1);
    assertThat(reachedLast.get(0).records(3)).isEmpty();
    assertThat(reachedLast.get(0).end(3)).isEqualTo(7);
    assertThat(reachedLast.get(0).carried(3)).hasSize(2);
  }

  @Test
  void aFailedBatchReadAgainHandsOnOnlyThePartitionsTheChainDidNotHandle() {
    wire();
    failing.add(1);
    InputBatch polled = read(0, record(0, 0, "a"), record(0, 1, "bad"), record(1, 0, "b"));
    assertThat(head.process(polled).failed()).isTrue();
    failing.clear();
    reachedLast.clear();
    // The adapter reads the batch again from its first records, and more after them.
    assertThat(head.process(read(1, record(0, 0, "a"), record(0, 1, "bad"), record(0, 2, "c"), record(1, 0, "b"))).succeeded()).isTrue();
    InputBatch zero = reachedLast.stream().filter(b -> b.shards().contains(0)).findFirst().orElseThrow();
    assertThat(zero.records(0)).extracting(InputRecord::key).containsExactly("k2");
    assertThat(zero.carried(0)).as("partition 0's dead letter was stored with its first hand-off").isEmpty();
    InputBatch one = reachedLast.stream().filter(b -> b.shards().contains(1)).findFirst().orElseThrow();
    assertThat(one.records(1)).extracting(InputRecord::key).containsExactly("k0");
  }

  @Test
  void aReReadTheLastStageAskedForSkipsTheBatchesReadBeforeItAndStartsWhereItSaid() {
    wire();
    lastAnswers.add(Map.of(0, 3L));
    Future<Map<Integer, Long>> done = head.process(read(0, record(0, 5, "a"), record(0, 6, "b")));
    assertThat(done.result()).isEqualTo(Map.of(0, 3L));
    reachedLast.clear();
    head.process(read(0, record(0, 7, "c")));
    assertThat(reachedLast).as("read before the seek took effect").isEmpty();
    head.process(read(1, record(0, 3, "x"), record(0, 4, "y"), record(0, 5, "a")));
    assertThat(reachedLast).hasSize(1);
    assertThat(reachedLast.get(0).records(0)).extracting(InputRecord::key).containsExactly("k3", "k4", "k5");
  }

  @Test
  void aBatchAlreadyOnItsWayWhenARereadIsAskedForDoesNotCountAsHandled() {
    wire();
    deferred = true;
    Future<Map<Integer, Long>> first = head.process(read(0, record(0, 0, "a"), record(0, 1, "b")));
    Future<Map<Integer, Long>> second = head.process(read(0, record(0, 2, "c"), record(0, 3, "d")));
    assertThat(unanswered).hasSize(2);
    // The store stood elsewhere for the first; the last stage then skipped the second, read before the re-read.
    unanswered.get(0).complete(Map.of(0, 0L));
    unanswered.get(1).complete(Map.of());
    assertThat(first.result()).isEqualTo(Map.of(0, 0L));
    assertThat(second.succeeded()).isTrue();
    deferred = false;
    reachedLast.clear();
    head.process(read(1, record(0, 0, "a"), record(0, 1, "b"), record(0, 2, "c"), record(0, 3, "d")));
    assertThat(reachedLast).hasSize(1);
    assertThat(reachedLast.get(0).records(0)).as("nothing after the stored position is taken as handled").hasSize(4);
  }

  @Test
  void aFailedPartitionFailsTheBatchOnlyOnceTheOthersSettled() {
    wire();
    deferred = true;
    failing.add(1);
    Future<Map<Integer, Long>> done = head.process(read(0, record(0, 0, "a"), record(1, 0, "b")));
    assertThat(done.isComplete()).as("partition 0 is still in the chain").isFalse();
    unanswered.get(0).complete(Map.of());
    assertThat(done.failed()).isTrue();
    deferred = false;
    failing.clear();
    reachedLast.clear();
    head.process(read(1, record(0, 0, "a"), record(1, 0, "b")));
    assertThat(reachedLast).hasSize(1);
    assertThat(reachedLast.get(0).shards()).containsExactly(1);
  }

  @Test
  void aPipelineWithoutAKafkaSourceIsReadFromItsIngestedBusAndSeveralSourcesAreRefused() {
    Fusion httpFed = Fusion.of(PipelineParser.parse(YAML.replace("sources: [kafka:chain.raw]\n", ""), "http.yaml"));
    assertThat(httpFed.source().toString()).isEqualTo("kafka:events.ingested");
    assertThat(httpFed.headStage()).isEqualTo("enrich");
    assertThat(httpFed.inMemory(PipelineParser.parse(YAML, "chain.yaml").buses().enriched())).isTrue();
    assertThat(httpFed.inMemory(PipelineParser.parse(YAML, "chain.yaml").buses().ingested())).isFalse();
    assertThat(fusion.headStage()).isEqualTo("ingest");
    assertThatThrownBy(() -> Fusion.of(PipelineParser.parse(YAML.replace("[kafka:chain.raw]", "[kafka:a, kafka:b]"), "two.yaml")))
        .hasMessageContaining("reads one source log");
  }
}
